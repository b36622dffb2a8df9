"""gunicorn's settings for the web process (Procfile `web:`, deploy/systemd/timeoff-web.service).

Read from the environment so each host can size itself without editing this
file. The defaults are the ones the benchmark measures (bench/run.py:
`--workers 2 --threads 8`, gthread), for a 2-core machine. Command-line flags
override anything here. gunicorn also loads this file by itself when started
from this directory.
"""

import os

wsgi_app = "timeoff_site.wsgi"

# Processes x threads: each thread serves one request at a time. Requests that call Slack inside
# (`/timeoff` opening its modal, ~100 ms) hold a thread while they wait, so threads, not cores,
# bound their rate: raise WEB_THREADS before WEB_CONCURRENCY. About one process per core.
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("WEB_THREADS", "8"))
worker_class = "gthread"
bind = f"{os.environ.get('BIND_HOST', '0.0.0.0')}:{os.environ.get('PORT', '8000')}"

# A gthread worker's main loop beats for it while its threads serve requests, so `timeout` (30 s) replaces
# a worker whose loop is stuck, not one whose request threads wait: those are bounded by the database's
# and the cache's timeouts (timeoff_site/settings.py: DATABASE_STATEMENT_TIMEOUT, CACHE_TIMEOUT, …).
# On SIGTERM (a deploy), workers finish what they serve for up to 30 s.
timeout = 30
graceful_timeout = 30
# Behind a load balancer that keeps connections open: a little longer than nothing, shorter than its idle timeout.
keepalive = 5

# The load balancer terminates TLS and sets X-Forwarded-Proto/For. Only it can reach this port
# (a firewall or a private network): trust its headers.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "*")

# Logs go to stdout/stderr (journald, the platform's log drain). No access log: Django writes one
# JSON line per request with its request id, status and duration (timeoff_site/metrics_middleware.py).
# gunicorn's would be a second line per request, not JSON, with the query string (which may hold
# anything a client typed) — and formatting it took about 7% of a Slack click's CPU.
accesslog = None
errorlog = "-"

# The heartbeat file of each worker: in memory, not on a disk that may stall (gunicorn's FAQ).
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None

# prometheus-client's multiprocess mode: every worker writes its samples under this directory
# (created here if missing; wiped only when the host restarts, see deploy/README text). The task
# workers on this host use the same directory, so one scrape of /metrics covers them all.
_metrics_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
if _metrics_dir:
    os.makedirs(_metrics_dir, exist_ok=True)


def child_exit(server, worker):
    """A worker exited: drop its live gauges from the scrape (its counters keep counting in the sum)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)

