"""Running the app as README's "Settings", "Observability" and "Deployment" describe it.

The settings as a process reads them from its environment or ENV_FILE (each in a process of its own,
with production's settings module), the web behind a load balancer (private addresses, https from
the balancer's header, static files for a CDN), the units and examples in deploy/ read as systemd,
Prometheus and an operator read them, the clock as a process, and the alert rules evaluated by
promtool on series shaped as the app's.
"""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from gunicorn.app.wsgiapp import WSGIApplication
import yaml
from django.conf import settings as django_settings
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.urls import reverse
from prometheus_client.parser import text_string_to_metric_families

from test_support.flows import ALICE, install_config

BASE_DIR = Path(django_settings.BASE_DIR)
DEPLOY = BASE_DIR / "deploy"
ALERTS = DEPLOY / "prometheus" / "alerts.yml"
ENV_EXAMPLE = DEPLOY / "timeoff.env.example"
PYTHON = str(BASE_DIR / ".venv" / "bin" / "python") if (BASE_DIR / ".venv" / "bin" / "python").exists() \
    else sys.executable
TOKEN = "readme-metrics-token-0123456789abcdef"
SIGNING_SECRET = "0123456789abcdef0123456789abcdef"
BOT_TOKEN = "xoxb-1111-2222-readmedeploytoken"


# --- A process with production's settings ---------------------------------------------------------


def production_env(*, drop: tuple[str, ...] = (), **environ) -> dict:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/tmp"),
        "ENV_FILE": "", "DJANGO_SETTINGS_MODULE": "timeoff_site.settings",
        "SECRET_KEY": "readme-secret-key-" + "k" * 40, "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
    }
    for name in drop:
        env.pop(name, None)
    env.update(environ)
    return env


def in_production(code: str, *, drop: tuple[str, ...] = (), **environ) -> subprocess.CompletedProcess:
    """Run `code` after django.setup() in a process of its own; `settings` and a test `client` are there."""
    script = ("import json\nimport django\ndjango.setup()\nfrom django.conf import settings\n"
              "from django.test import Client\nclient = Client()\n" + textwrap.dedent(code))
    return subprocess.run([PYTHON, "-c", script], cwd=BASE_DIR, env=production_env(drop=drop, **environ),
                          capture_output=True, text=True, timeout=60)


def manage(*args: str, drop: tuple[str, ...] = (), **environ) -> subprocess.CompletedProcess:
    return subprocess.run([PYTHON, "manage.py", *args], cwd=BASE_DIR, env=production_env(drop=drop, **environ),
                          capture_output=True, text=True, timeout=60)


def printed(result: subprocess.CompletedProcess):
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def env_file_values(path: Path) -> dict[str, str]:
    """KEY=value lines of an environment file, as systemd's EnvironmentFile= reads the simple ones."""
    values = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            values[key.strip()] = value.strip()
    return values


# --- Settings: defaults and refusals ---------------------------------------------------------------


def test_a_process_without_secret_key_refuses_to_start_and_names_the_variable():
    result = manage("check", drop=("SECRET_KEY",))
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr
    assert "Traceback" not in result.stdout


def test_manage_py_check_refuses_a_deployment_without_slack_credentials_naming_each_by_its_id():
    result = manage("check", drop=("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET"))
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "slackbot.E001" in output and "SLACK_SIGNING_SECRET is not set" in output
    assert "slackbot.E003" in output and "SLACK_BOT_TOKEN is not set" in output


def test_unset_variables_take_the_defaults_the_settings_table_gives():
    values = printed(in_production("""
        db, cache = settings.DATABASES["default"], settings.CACHES["default"]
        print(json.dumps({
            "DEBUG": settings.DEBUG, "ALLOWED_HOSTS": settings.ALLOWED_HOSTS,
            "CSRF_TRUSTED_ORIGINS": settings.CSRF_TRUSTED_ORIGINS,
            "db": [db["ENGINE"], str(db["NAME"])], "cache": [cache["BACKEND"], cache["LOCATION"]],
            "SLACK_API_URL": settings.SLACK_API_URL, "SLACK_APP_TOKEN": settings.SLACK_APP_TOKEN,
            "SOCKET_MODE_THREADS": settings.SOCKET_MODE_THREADS, "DEMO": settings.DEMO,
            "tasks": settings.TASKS["default"]["BACKEND"], "LOG_LEVEL": settings.LOG_LEVEL,
            "formatter": settings.LOGGING["handlers"]["console"]["formatter"],
            "SECURE_SSL_REDIRECT": settings.SECURE_SSL_REDIRECT, "SECURE_HSTS_SECONDS": settings.SECURE_HSTS_SECONDS,
            "stuck": settings.TASK_STUCK_AFTER_SECONDS, "recovery": settings.TASK_RECOVERY_INTERVAL_SECONDS,
            "handover": settings.TASK_HANDOVER_MAX_SECONDS, "METRICS_TOKEN": settings.METRICS_TOKEN,
            "SENTRY_DSN": settings.SENTRY_DSN, "PROMETHEUS_MULTIPROC_DIR": settings.PROMETHEUS_MULTIPROC_DIR,
            "bounds": [settings.DATABASE_STATEMENT_TIMEOUT, settings.DATABASE_LOCK_TIMEOUT,
                       settings.DATABASE_BACKGROUND_STATEMENT_TIMEOUT],
            "times": [settings.REMINDER_TIME, settings.NUDGE_TIME], "PUBLIC_URL": settings.PUBLIC_URL,
        }))
    """))
    assert values["DEBUG"] is False
    assert values["ALLOWED_HOSTS"] == [] and values["CSRF_TRUSTED_ORIGINS"] == []
    assert values["db"] == ["django.db.backends.sqlite3", str(BASE_DIR / "db.sqlite3")]  # beside manage.py
    assert values["cache"][1] == "timeoff_cache" and "DatabaseCache" in values["cache"][0]
    assert values["SLACK_API_URL"] == "https://slack.com/api/" and values["SLACK_APP_TOKEN"] == ""
    assert values["SOCKET_MODE_THREADS"] == 32 and values["DEMO"] is False
    assert values["tasks"] == "approvals.task_backend.DatabaseBackend"
    assert values["LOG_LEVEL"] == "INFO" and values["formatter"] == "json"
    assert values["SECURE_SSL_REDIRECT"] is True and values["SECURE_HSTS_SECONDS"] == 365 * 24 * 3600
    assert (values["stuck"], values["recovery"], values["handover"]) == (600, 60, 3600)
    assert values["METRICS_TOKEN"] == "" and values["SENTRY_DSN"] == "" and values["PROMETHEUS_MULTIPROC_DIR"] == ""
    assert values["bounds"] == [0.8, 0.5, 60.0]
    assert values["times"] == ["15:00", "10:00"] and values["PUBLIC_URL"] == ""


def test_with_debug_on_only_this_machines_names_are_served_and_https_is_not_forced():
    values = printed(in_production("""
        answers = {host: client.get("/healthz", HTTP_HOST=host).status_code
                   for host in ("localhost", "127.0.0.1", "timeoff.example.com")}
        print(json.dumps({"hosts": settings.ALLOWED_HOSTS, "redirect": settings.SECURE_SSL_REDIRECT,
                          "hsts": settings.SECURE_HSTS_SECONDS, "answers": answers}))
    """, DEBUG="true"))
    assert values["hosts"] == ["localhost", "127.0.0.1", "[::1]"]
    assert values["redirect"] is False and values["hsts"] == 0
    assert values["answers"] == {"localhost": 200, "127.0.0.1": 200, "timeoff.example.com": 400}


def test_management_commands_read_the_settings_from_the_file_env_file_names(tmp_path):
    env_file = tmp_path / "timeoff.env"
    env_file.write_text(textwrap.dedent(f"""\
        # /etc/timeoff/timeoff.env
        SECRET_KEY=from-the-file-{"s" * 40}
        ALLOWED_HOSTS=timeoff.example.com,10.0.0.11
        METRICS_TOKEN={TOKEN}
        LOG_FORMAT=text
    """))
    values = printed(in_production("""
        print(json.dumps({"key": settings.SECRET_KEY, "hosts": settings.ALLOWED_HOSTS,
                          "token": settings.METRICS_TOKEN, "format": settings.LOG_FORMAT}))
    """, drop=("SECRET_KEY",), ENV_FILE=str(env_file)))
    assert values == {"key": "from-the-file-" + "s" * 40, "hosts": ["timeoff.example.com", "10.0.0.11"],
                      "token": TOKEN, "format": "text"}


# Django's own generator (django.core.management.utils.get_random_secret_key) draws from
# a-z, 0-9 and !@#$%^&*(-_=+): one key in fifty starts with "$".
GENERATED_KEY = "$k9x!q@w3e4r5t6y7u8i9o0p-z_x=c+v^b&n*m(a)s%d#f$g!h@j"


def test_a_secret_key_made_by_djangos_generator_is_used_exactly_as_written(tmp_path):
    env_file = tmp_path / "timeoff.env"
    env_file.write_text(f"SECRET_KEY={GENERATED_KEY}\nMETRICS_TOKEN=$metrics-{'m' * 30}\n")
    result = in_production("""
        print(json.dumps([settings.SECRET_KEY, settings.METRICS_TOKEN]))
    """, drop=("SECRET_KEY",), ENV_FILE=str(env_file))
    assert result.returncode == 0, result.stderr[-1500:]
    assert printed(result) == [GENERATED_KEY, "$metrics-" + "m" * 30]


def test_hosts_and_origins_listed_with_a_space_after_each_comma_are_all_served():
    # "comma-separated host names": how people write lists by hand, and how the load balancer's health
    # check (by private address) must still get its 200.
    values = printed(in_production("""
        answers = {host: client.get("/healthz", HTTP_HOST=host).status_code
                   for host in ("timeoff.example.com", "10.0.0.11:8000", "10.0.0.12:8000")}
        print(json.dumps({"answers": answers, "origins": settings.CSRF_TRUSTED_ORIGINS}))
    """, ALLOWED_HOSTS="timeoff.example.com, 10.0.0.11, 10.0.0.12",
        CSRF_TRUSTED_ORIGINS="https://timeoff.example.com, https://hr.example.com"))
    assert values["answers"] == {"timeoff.example.com": 200, "10.0.0.11:8000": 200, "10.0.0.12:8000": 200}
    assert values["origins"] == ["https://timeoff.example.com", "https://hr.example.com"]


# --- Behind the load balancer ------------------------------------------------------------------


def test_a_fresh_database_is_ready_for_the_load_balancers_health_check_after_migrate_alone(tmp_path):
    # README "Release": migrations create the tables and the cache table. The balancer probes each web
    # VM over plain HTTP on its private address (the Caddyfile's upstreams, the example's ALLOWED_HOSTS).
    database = f"sqlite:///{tmp_path / 'fresh.sqlite3'}"
    hosts = env_file_values(ENV_EXAMPLE)["ALLOWED_HOSTS"]
    migrated = manage("migrate", "--no-input", DATABASE_URL=database)
    assert migrated.returncode == 0, migrated.stderr[-2000:]
    upstreams = re.findall(r"(\d+\.\d+\.\d+\.\d+:\d+)", (DEPLOY / "caddy" / "Caddyfile").read_text())
    assert upstreams
    values = printed(in_production(f"""
        answers = {{}}
        for host in {upstreams!r}:
            response = client.get("/readyz", HTTP_HOST=host)
            answers[host] = [response.status_code, response.content.decode()]
        print(json.dumps(answers))
    """, DATABASE_URL=database, ALLOWED_HOSTS=hosts))
    for host, (status, body) in values.items():
        assert status == 200, (host, body)
        assert json.loads(body) == {"status": "ok"}


@pytest.mark.django_db
def test_hr_signs_in_to_the_console_through_the_load_balancer_over_https(settings, django_user_model, fake_slack):
    settings.SECURE_SSL_REDIRECT = True
    settings.ALLOWED_HOSTS = env_file_values(ENV_EXAMPLE)["ALLOWED_HOSTS"].split(",")
    settings.CSRF_TRUSTED_ORIGINS = env_file_values(ENV_EXAMPLE)["CSRF_TRUSTED_ORIGINS"].split(",")
    django_user_model.objects.create_user("hana", password="correct horse battery staple", is_staff=True)
    login = reverse("console:login")
    browser = Client(enforce_csrf_checks=True, HTTP_HOST="timeoff.example.com")

    plain = browser.get(login)  # http straight to a web VM, no balancer header: sent to https
    assert plain.status_code == 301 and plain["Location"] == f"https://timeoff.example.com{login}"

    through = {"HTTP_X_FORWARDED_PROTO": "https"}
    page = browser.get(login, **through)
    assert page.status_code == 200
    assert page["Strict-Transport-Security"].startswith("max-age=31536000")
    signed_in = browser.post(login, {"username": "hana", "password": "correct horse battery staple",
                                     "csrfmiddlewaretoken": page.cookies["csrftoken"].value},
                             HTTP_ORIGIN="https://timeoff.example.com", **through)
    assert signed_in.status_code == 302, signed_in.content[:500]
    assert "_auth_user_id" in browser.session
    assert browser.get(reverse("console:home"), **through).status_code == 200


@pytest.fixture
def collected_static(settings, tmp_path):
    settings.STATIC_ROOT = tmp_path / "staticfiles"
    call_command("collectstatic", interactive=False, verbosity=0)
    return settings.STATIC_ROOT


def test_static_files_are_served_compressed_to_browsers_that_accept_it(collected_static):
    browser = Client()  # a new handler: WhiteNoise reads what collectstatic wrote
    plain = browser.get("/static/approvals/console.css")
    assert plain.status_code == 200 and "Content-Encoding" not in plain
    compressed = browser.get("/static/approvals/console.css", HTTP_ACCEPT_ENCODING="gzip")
    assert compressed.status_code == 200
    assert compressed["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in compressed["Vary"]
    assert int(compressed["Content-Length"]) < int(plain["Content-Length"])


def test_static_files_are_cached_for_a_minute_since_their_names_carry_no_hash(collected_static):
    # README "Static files and a CDN": file names are not hashed (a page renders before collectstatic, and
    # a page from one release may fetch its CSS from a VM of the other during a rolling deploy), so
    # whitenoise says 60 s: the CDN keeps the console's CSS and JS at the edge and a release shows within
    # a minute.
    browser = Client()
    page = browser.get("/static/approvals/console.css")
    assert page.status_code == 200
    control = page["Cache-Control"]
    assert "public" in control and int(re.search(r"max-age=(\d+)", control).group(1)) == 60, control


# --- deploy/ as systemd, Prometheus and an operator read it ---------------------------------------


def unit_environment(unit: Path, environment_file: Path) -> dict[str, str]:
    """The environment systemd gives a unit's process: its Environment= lines, then its EnvironmentFile=,
    which overrides them (systemd.exec(5): "Settings from these files override settings made with
    Environment=")."""
    env: dict[str, str] = {}
    lines = unit.read_text().splitlines()
    for line in lines:
        if line.startswith("Environment="):
            for assignment in line.split("=", 1)[1].split():
                key, value = assignment.split("=", 1)
                env[key] = value
    assert any(line.startswith("EnvironmentFile=") for line in lines)
    env.update(env_file_values(environment_file))
    return env


def test_the_worker_hosts_metrics_server_runs_as_small_as_its_unit_asks(monkeypatch):
    """The shared environment file's web sizes (WEB_CONCURRENCY, WEB_THREADS) would override an
    Environment= line of the unit (systemd.exec(5)): the unit gives its sizes on gunicorn's command line,
    which wins over gunicorn.conf.py, however the environment file sizes the web hosts."""
    unit = DEPLOY / "systemd" / "timeoff-metrics.service"
    [command] = [line.split("=", 1)[1] for line in unit.read_text().splitlines() if line.startswith("ExecStart=")]
    env = unit_environment(unit, ENV_EXAMPLE)  # README step 2: the example, installed as /etc/timeoff/timeoff.env
    for name in ("WEB_CONCURRENCY", "WEB_THREADS", "PORT", "BIND_HOST", "PROMETHEUS_MULTIPROC_DIR"):
        monkeypatch.delenv(name, raising=False)
    for name, value in {**env, "WEB_CONCURRENCY": "2", "WEB_THREADS": "8"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(BASE_DIR)
    monkeypatch.setattr(sys, "argv", ["gunicorn", *command.split()[1:]])
    application = WSGIApplication("%(prog)s [OPTIONS] [APP_MODULE]")
    assert (application.cfg.workers, application.cfg.threads) == (1, 2)


def scrape_targets() -> list[str]:
    """The `timeoff` job's targets in the scrape configuration alerts.yml's header shows."""
    block, inside = [], False
    for line in ALERTS.read_text().splitlines():
        inside = inside or line.strip("# ").startswith("scrape_configs:")
        if inside and not line.startswith("#  "):
            break
        if inside:
            block.append(line[1:])
    config = yaml.safe_load(textwrap.dedent("\n".join(block)))
    [job] = [job for job in config["scrape_configs"] if job["job_name"] == "timeoff"]
    return [target for static in job["static_configs"] for target in static["targets"]]


@pytest.mark.django_db
def test_prometheus_configured_as_the_alert_file_shows_can_scrape_every_host_the_examples_allow(settings):
    # README step 3: ALLOWED_HOSTS holds "the VMs' private addresses, which Prometheus and the health
    # checks use". The example environment and the example scrape configuration must agree, or every
    # scrape is a 400 and TimeoffTargetDown pages.
    settings.ALLOWED_HOSTS = env_file_values(ENV_EXAMPLE)["ALLOWED_HOSTS"].split(",")
    settings.METRICS_TOKEN = TOKEN
    targets = scrape_targets()
    assert targets
    answers = {target: Client().get("/metrics", HTTP_HOST=target,
                                    HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code for target in targets}
    assert answers == {target: 200 for target in targets}


# --- /metrics: what a scrape shows -------------------------------------------------------------------


def scrape(client) -> dict:
    response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200, response.content
    return {(sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(response.content.decode()) for sample in family.samples}


def value(samples: dict, name: str, **labels) -> float:
    wanted = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and wanted <= ls)


@pytest.mark.django_db
def test_a_scanner_probing_paths_that_do_not_exist_adds_no_series_per_path(client, settings):
    settings.METRICS_TOKEN = TOKEN
    probes = ["/wp-login.php", "/.env", "/admin.php?id=1", "/console/../../etc/passwd", "/x" * 40,
              "/slack/not-an-endpoint"]
    before = scrape(client)
    for path in probes:
        assert client.get(path).status_code == 404
    after = scrape(client)
    endpoints = {dict(labels)["endpoint"] for (name, labels) in after if name == "timeoff_http_requests_total"}
    assert not any("wp-login" in e or ".env" in e or "passwd" in e or "not-an-endpoint" in e for e in endpoints)
    grown = value(after, "timeoff_http_requests_total", endpoint="unmatched", status="404") \
        - value(before, "timeoff_http_requests_total", endpoint="unmatched", status="404")
    assert grown == len(probes)


@pytest.mark.django_db
def test_a_task_a_worker_is_running_counts_as_running_and_does_not_age_the_queue(client, settings):
    from datetime import timedelta

    from django.utils import timezone
    from django_tasks_db.models import DBTaskResult

    from approvals import tasks
    from approvals.task_backend import DatabaseBackend

    settings.METRICS_TOKEN = TOKEN
    backend = DatabaseBackend("default", {})
    claimed = backend.enqueue(tasks.run_job, ({"job": "maintenance", "team": "", "period": "x"},), {})
    waiting = backend.enqueue(tasks.run_job, ({"job": "maintenance", "team": "", "period": "y"},), {})
    row = DBTaskResult.objects.get(id=claimed.id)
    row.claim("worker-1")
    DBTaskResult.objects.filter(id=claimed.id).update(enqueued_at=timezone.now() - timedelta(hours=1))
    DBTaskResult.objects.filter(id=waiting.id).update(enqueued_at=timezone.now() - timedelta(seconds=30))

    samples = scrape(client)
    assert value(samples, "timeoff_task_queue_depth", queue="default", status="running") == 1
    assert value(samples, "timeoff_task_queue_depth", queue="default", status="ready") == 1
    age = value(samples, "timeoff_task_queue_oldest_age_seconds", queue="default")
    assert 25 <= age < 120, age  # the waiting task's half minute, not the running one's hour


# --- The clock as a process ------------------------------------------------------------------------


def database_url() -> str:
    db = connection.settings_dict
    if db["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{db['NAME']}"
    return f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_clock_enqueues_the_jobs_due_and_stops_promptly_when_systemd_stops_it(fake_slack):
    from django_tasks_db.models import DBTaskResult

    from approvals.models import JobRun

    install_config()
    env = production_env(DATABASE_URL=database_url(), CACHE_URL=os.environ.get("CACHE_URL", "dbcache://timeoff_cache"),
                         TASKS_BACKEND="database", SLACK_API_URL=fake_slack.api_url, LOG_FORMAT="json")
    clock = subprocess.Popen([PYTHON, "manage.py", "run_scheduler"], cwd=BASE_DIR, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and not JobRun.objects.filter(job="maintenance").exists():
            time.sleep(0.1)
        assert JobRun.objects.filter(job="maintenance").exists(), "the first tick claimed nothing"
        time.sleep(0.3)
        clock.send_signal(signal.SIGTERM)  # `systemctl stop timeoff-clock` (TimeoutStopSec=30)
        started = time.monotonic()
        stdout, stderr = clock.communicate(timeout=10)
        stopped_in = time.monotonic() - started
    finally:
        if clock.poll() is None:
            clock.kill()
            clock.wait(5)
    assert clock.returncode == 0, stderr[-2000:]
    assert stopped_in < 5  # it does not sleep out its 60 s interval
    assert DBTaskResult.objects.filter(task_path__endswith=".run_job").exists()  # a worker's work now
    lines = [json.loads(line) for line in (stdout + stderr).splitlines() if line.strip()]
    messages = [line["message"] for line in lines]
    assert any(m.startswith("scheduler started") for m in messages) and "scheduler stopped" in messages
    assert ALICE not in stdout + stderr


# --- Alert rules, evaluated by promtool ------------------------------------------------------------


def promtool() -> str:
    found = shutil.which("promtool") or ("/usr/bin/promtool" if Path("/usr/bin/promtool").exists() else None)
    if found is None:
        pytest.skip("promtool is not installed (Debian: apt-get install prometheus): the rules cannot be evaluated")
    return found


def evaluate(tmp_path, series: dict[str, str], checks: list[tuple[str, str, list[dict]]]) -> subprocess.CompletedProcess:
    test = {"rule_files": [str(ALERTS)], "evaluation_interval": "1m", "tests": [{
        "interval": "1m",
        "input_series": [{"series": name, "values": values} for name, values in series.items()],
        "alert_rule_test": [{"eval_time": at, "alertname": alert, "exp_alerts": expected}
                            for alert, at, expected in checks],
    }]}
    path = tmp_path / "alerts_test.yml"
    path.write_text(yaml.safe_dump(test, sort_keys=False))
    return subprocess.run([promtool(), "test", "rules", str(path)], capture_output=True, text=True, timeout=60)


HOST = 'instance="worker-1:8000", job="timeoff"'


def test_a_host_whose_scrapes_paused_does_not_page_again_for_a_refusal_it_counted_long_before(tmp_path):
    # A worker host's counters live in /run/timeoff-metrics across restarts of its processes. Its scrape
    # fails for a quarter of an hour (METRICS_TOKEN being rotated, the metrics service restarting in a
    # loop, the network): when it answers again, an invalid_auth counted days ago is no news.
    series = f'timeoff_slack_api_errors_total{{method="chat.postMessage", error="invalid_auth", {HOST}}}'
    result = evaluate(tmp_path, {series: "3x30 _x15 3x30"}, [
        ("TimeoffSlackAuthFailing", "25m", []),  # the same count for 25 minutes: quiet
        ("TimeoffSlackAuthFailing", "50m", []),  # back after the pause, still the same count
    ])
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_queue_stalled_alert_pages_once_the_oldest_runnable_task_has_waited_past_two_minutes(tmp_path):
    ages = " ".join(str(60 * minute) for minute in range(30))  # nobody takes tasks: the oldest ages a minute a minute
    hosts = ("web-1:8000", "web-2:8000")
    series = {f'timeoff_task_queue_oldest_age_seconds{{queue="default", instance="{h}", job="timeoff"}}': ages
              for h in hosts}
    rule = next(r for g in yaml.safe_load(ALERTS.read_text())["groups"] for r in g["rules"]
                if r["alert"] == "TimeoffTaskQueueStalled")
    result = evaluate(tmp_path, series, [
        ("TimeoffTaskQueueStalled", "4m", []),  # over 2 minutes, but not for long yet
        ("TimeoffTaskQueueStalled", "10m", [{
            "exp_labels": {"queue": "default", **rule["labels"]},
            "exp_annotations": {
                "summary": "Queue default: the oldest runnable task has waited 10m 0s",
                "description": rule["annotations"]["description"]},
        }]),
    ])
    assert result.returncode == 0, result.stdout + result.stderr
