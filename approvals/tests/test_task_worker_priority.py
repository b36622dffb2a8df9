"""`task_worker` yields the CPU to web requests on a shared host: it runs nice (10 unless told)."""

import os
import subprocess
import sys
import time

import pytest

from approvals.tests.test_worker_crash import BASE_DIR, database_url

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def niceness_of(pid: int) -> int:
    # /proc/PID/stat: the command name in parentheses may hold spaces; "nice" is the 19th field.
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return int(fields[16])


def worker_niceness(fake_slack, *options: str) -> int:
    env = {**os.environ, "ENV_FILE": "", "SECRET_KEY": "worker-test-secret-key-0123456789",
           "DATABASE_URL": database_url(), "CACHE_URL": os.environ.get("CACHE_URL", "dbcache://timeoff_cache"),
           "TASKS_BACKEND": "database", "SLACK_API_URL": fake_slack.api_url,
           "DJANGO_SETTINGS_MODULE": "timeoff_site.settings"}
    worker = subprocess.Popen(
        [sys.executable, "manage.py", "task_worker", "--no-reload", "--no-startup-delay", "--interval", "0.1",
         *options], cwd=BASE_DIR, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        started = niceness_of(worker.pid)
        deadline = time.monotonic() + 30
        # The command lowers its priority as it starts: wait until it has (or has exited).
        while niceness_of(worker.pid) == started and worker.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)  # past start-up: what it runs its tasks at
        assert worker.poll() is None, worker.stderr.read().decode()
        return niceness_of(worker.pid)
    finally:
        worker.terminate()
        worker.wait(10)


@pytest.mark.skipif(not os.path.exists("/proc/self/stat"), reason="reads a process's niceness from /proc (Linux)")
def test_the_worker_runs_at_niceness_ten_unless_told(fake_slack):
    ours = os.getpriority(os.PRIO_PROCESS, 0)
    assert worker_niceness(fake_slack) == max(ours, 10)
    if ours < 5:
        assert worker_niceness(fake_slack, "--nice", "5") == 5


def test_a_worker_started_nicer_stays_as_nice():
    # In a child process: niceness cannot be lowered again without privilege.
    code = ("import os; os.setpriority(os.PRIO_PROCESS, 0, 15);"
            "from approvals.management.commands.task_worker import lower_priority; lower_priority(10);"
            "print(os.getpriority(os.PRIO_PROCESS, 0))")
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "timeoff_site.test_settings"}
    out = subprocess.run([sys.executable, "-c", f"import django; django.setup(); {code}"], cwd=BASE_DIR, env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "15", out.stderr


def test_a_niceness_out_of_range_is_refused(fake_slack):
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "timeoff_site.test_settings"}
    out = subprocess.run([sys.executable, "manage.py", "task_worker", "--nice", "25"], cwd=BASE_DIR, env=env,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode != 0 and "--nice" in out.stderr
