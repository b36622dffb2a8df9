"""A worker killed with SIGKILL mid-delivery loses nothing and posts nothing twice.

Real `task_worker` processes, the real database backend, and the fake Slack over
HTTP. The first worker is killed while Slack is answering its post (the post
has landed, the worker never hears back); a second worker recovers the task
stuck in RUNNING and finishes the delivery without posting again.
"""

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.tasks import TaskResultStatus
from django_tasks_db import DatabaseBackend
from django_tasks_db.models import DBTaskResult

from fake_slack.personas import ALICE, C_ENG_APPROVALS
from approvals import tasks
from test_support.flows import MONDAY, WEDNESDAY, install_config
from approvals.request_services import Submission

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

BASE_DIR = Path(settings.BASE_DIR)


def database_url() -> str:
    db = connection.settings_dict
    if db["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{db['NAME']}"
    return f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def start_worker(fake_slack) -> subprocess.Popen:
    env = {
        **os.environ,
        "ENV_FILE": "",
        "SECRET_KEY": "worker-test-secret-key-0123456789",
        "DATABASE_URL": database_url(),
        "CACHE_URL": os.environ.get("CACHE_URL", "dbcache://timeoff_cache"),
        "TASKS_BACKEND": "database",
        "SLACK_API_URL": fake_slack.api_url,
        "SLACK_BOT_TOKEN": settings.SLACK_BOT_TOKEN,
        "SLACK_SIGNING_SECRET": settings.SLACK_SIGNING_SECRET,
        "TASK_STUCK_AFTER_SECONDS": "1",
        "TASK_RECOVERY_INTERVAL_SECONDS": "1",
        "DJANGO_SETTINGS_MODULE": "timeoff_site.settings",
    }
    return subprocess.Popen(
        [sys.executable, "manage.py", "task_worker", "--no-reload", "--no-startup-delay", "--interval", "0.1"],
        cwd=BASE_DIR, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )


def wait_for(condition, seconds: float = 30):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


def test_a_worker_killed_mid_delivery_posts_exactly_once(fake_slack):
    install_config()
    submission = Submission(id=str(uuid.uuid4()), user=ALICE, leave_type="vacation", start=MONDAY, end=WEDNESDAY,
                            start_half=None, end_half=None, note="", validated=True)
    backend = DatabaseBackend("default", {})
    result = backend.enqueue(tasks.deliver_request, (submission.as_task_data(),), {})
    # The post lands in Slack, then Slack is slow to answer: the worker dies waiting.
    fake_slack.delay("chat.postMessage", 5, times=1)

    first = start_worker(fake_slack)
    try:
        assert wait_for(lambda: fake_slack.workspace.messages(C_ENG_APPROVALS)), "the first worker never posted"
        os.kill(first.pid, signal.SIGKILL)
        first.wait(10)
    finally:
        if first.poll() is None:
            first.kill()
    assert DBTaskResult.objects.get(id=result.id).status == TaskResultStatus.RUNNING  # orphaned

    second = start_worker(fake_slack)
    try:
        done = wait_for(lambda: DBTaskResult.objects.get(id=result.id).status == TaskResultStatus.SUCCESSFUL)
        assert done, second.stderr.read1().decode() if second.poll() is not None else "task never finished"
    finally:
        second.terminate()
        second.wait(10)

    requests = [m for m in fake_slack.workspace.messages(C_ENG_APPROVALS) if m.metadata]
    assert len(requests) == 1
    assert requests[0].metadata["event_payload"]["id"] == submission.id
    receipts = [m for m in fake_slack.workspace.messages(ALICE)]
    assert len(receipts) == 1


def test_a_task_running_longer_than_the_stuck_timeout_is_not_run_a_second_time(fake_slack):
    # A directory refresh of a large workspace (users.list at Tier 2, Retry-After waits) or a full ledger
    # read runs for many minutes: its worker is alive, so recovery must leave it alone. Here the timeout
    # is 1 s and users.list takes 4 s; a second worker stands by, its recovery running every second.
    result = DatabaseBackend("default", {}).enqueue(tasks.refresh_slack_directory, (), {})
    fake_slack.delay("users.list", 4, times=1)

    first = start_worker(fake_slack)
    second = None
    try:
        assert wait_for(lambda: fake_slack.calls("users.list")), "the first worker never started"
        second = start_worker(fake_slack)
        done = wait_for(lambda: DBTaskResult.objects.get(id=result.id).status == TaskResultStatus.SUCCESSFUL)
        assert done, "task never finished"
        time.sleep(1.5)  # a second run, had one started, would be reading users.list by now
    finally:
        for worker in (first, second):
            if worker is not None:
                worker.terminate()
                worker.wait(10)

    assert len(fake_slack.calls("users.list")) == 1
    assert len(DBTaskResult.objects.get(id=result.id).worker_ids) == 1  # claimed once, never requeued


def test_the_task_of_a_killed_worker_goes_back_to_the_queue_once_its_heartbeat_stops(fake_slack):
    # The heartbeat is what tells a live worker from a dead one: killed mid-task, its task is taken over.
    result = DatabaseBackend("default", {}).enqueue(tasks.refresh_slack_directory, (), {})
    fake_slack.delay("users.list", 30, times=1)
    first = start_worker(fake_slack)
    try:
        assert wait_for(lambda: fake_slack.calls("users.list")), "the first worker never started"
        time.sleep(1.5)  # beats while it waits for Slack
        os.kill(first.pid, signal.SIGKILL)
        first.wait(10)
    finally:
        if first.poll() is None:
            first.kill()
    second = start_worker(fake_slack)
    try:
        done = wait_for(lambda: DBTaskResult.objects.get(id=result.id).status == TaskResultStatus.SUCCESSFUL)
        assert done, "the killed worker's task was never taken over"
    finally:
        second.terminate()
        second.wait(10)
    assert len(DBTaskResult.objects.get(id=result.id).worker_ids) == 2
