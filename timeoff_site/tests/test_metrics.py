"""`/metrics` (DESIGN §4, §9; issue 13 point 1): who may read it, and that real requests move its numbers.

Scrapes go through the URL like Prometheus's, after signed Slack requests
against the fake Slack; each test compares a scrape before with one after,
since counters live for the whole test process.
"""

import os
import re
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlencode

import pytest
from django.conf import settings as django_settings
from prometheus_client.parser import text_string_to_metric_families

from approvals import block_ids as ids
from approvals import cache_lock, metrics
from approvals.models import DeliveryProblem
from test_support.flows import (
    ALICE,
    BOB,
    click,
    install_config,
    open_request_form,
    posted_requests,
    request_time_off,
)
from test_support.slack_requests import command_fields, post_command, post_signed

TOKEN = "metrics-token-0123456789abcdef"
BASE_DIR = Path(__file__).resolve().parents[2]


def scrape(client) -> dict:
    """{(sample name, frozenset of labels): value} from one authorised scrape."""
    response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain")
    return parse(response.content.decode())


def parse(text: str) -> dict:
    return {(sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def value(samples: dict, name: str, **labels) -> float:
    """The sum of the samples named `name` whose labels include `labels` (0 when there are none)."""
    wanted = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and wanted <= ls)


def moved(before: dict, after: dict, name: str, **labels) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


@pytest.fixture
def metrics_token(settings):
    settings.METRICS_TOKEN = TOKEN


# --- Who may read it ------------------------------------------------------------------------


def test_it_answers_the_bearer_token(client, settings, metrics_token, db):
    response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200
    assert b"timeoff_http_requests_total" in response.content
    assert response["Cache-Control"].startswith("max-age=0")


@pytest.mark.parametrize("header", [None, "Bearer wrong-token", f"Basic {TOKEN}", f"Bearer {TOKEN}x", "Bearer"])
def test_it_rejects_a_missing_or_wrong_token(client, metrics_token, header):
    response = client.get("/metrics", headers={"Authorization": header} if header else {})
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert b"timeoff_" not in response.content


def test_without_a_token_it_is_never_open_in_production(client, settings):
    settings.METRICS_TOKEN = ""
    settings.DEBUG = False
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", headers={"Authorization": "Bearer "}).status_code == 404


def test_without_a_token_it_is_open_on_a_developers_machine(client, settings, db):
    settings.METRICS_TOKEN = ""
    settings.DEBUG = True
    response = client.get("/metrics")
    assert response.status_code == 200 and b"timeoff_http_requests_total" in response.content


def test_it_is_not_redirected_to_https(client, settings, metrics_token, db):
    settings.SECURE_SSL_REDIRECT = True  # Prometheus scrapes over the private network
    response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200


# --- Real requests move the numbers ---------------------------------------------------------


@pytest.mark.django_db
def test_slack_requests_are_counted_by_endpoint_kind_id_and_status(client, fake_slack, metrics_token):
    install_config()
    before = scrape(client)

    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    assert click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted).status_code == 200

    after = scrape(client)
    total, seconds = "timeoff_http_requests_total", "timeoff_http_request_duration_seconds_count"
    assert moved(before, after, total, endpoint="slack/commands", slack_kind="command",
                 slack_name="command_request", status="200") == 1
    assert moved(before, after, total, endpoint="slack/interactions", slack_kind="view_submission",
                 slack_name=ids.REQUEST_MODAL, status="200") == 1
    assert moved(before, after, total, endpoint="slack/interactions", slack_kind="block_actions",
                 slack_name=ids.APPROVE_ACTION, status="200") == 1
    assert moved(before, after, seconds, endpoint="slack/commands", slack_kind="command") == 1
    assert moved(before, after, "timeoff_http_request_duration_seconds_sum", endpoint="slack/interactions") > 0
    # Slack's calls, by method: the modal opened in the request, the post and DMs from tasks.
    assert moved(before, after, "timeoff_slack_api_calls_total", method="views.open", outcome="ok") == 1
    assert moved(before, after, "timeoff_slack_api_calls_total", method="chat.postMessage", outcome="ok") >= 2
    # The decision rewrites the request's message, and then the requester's receipt.
    assert moved(before, after, "timeoff_slack_api_calls_total", method="chat.update", outcome="ok") == 2
    assert moved(before, after, "timeoff_slack_api_duration_seconds_count", method="chat.update") == 2
    # Tasks (the immediate backend runs them in the request, with the same signals as a worker).
    assert moved(before, after, "timeoff_task_attempts_total", task="deliver_request", outcome="successful",
                 attempt="1") == 1
    assert moved(before, after, "timeoff_task_duration_seconds_count", task="deliver_request") == 1


@pytest.mark.django_db
def test_a_bad_signature_is_counted_as_a_401(client, metrics_token):
    before = scrape(client)
    body = urlencode(command_fields("", user_id=ALICE))
    response = post_signed(client, "/slack/commands", body, secret="not-the-signing-secret")
    assert response.status_code == 401
    after = scrape(client)
    assert moved(before, after, "timeoff_http_requests_total", endpoint="slack/commands", status="401",
                 slack_kind="") == 1


@pytest.mark.django_db
def test_slack_errors_and_429s_are_counted_by_method(client, fake_slack, metrics_token):
    install_config()
    before = scrape(client)
    fake_slack.rate_limit("views.open")  # the in-request client does not wait: the 429 is its answer
    post_command(client, "", user_id=ALICE)
    fake_slack.fail("chat.postMessage", "invalid_auth", times=None)
    request_time_off(client, fake_slack, ALICE)

    after = scrape(client)
    assert moved(before, after, "timeoff_slack_api_ratelimited_total", method="views.open") == 1
    assert moved(before, after, "timeoff_slack_api_errors_total", method="views.open", error="ratelimited") == 1
    assert moved(before, after, "timeoff_slack_api_calls_total", method="views.open", outcome="error") == 1
    assert moved(before, after, "timeoff_slack_api_errors_total", method="chat.postMessage",
                 error="invalid_auth") >= 1
    # The request did not reach its approvers: a delivery problem for HR, and a count to alert on.
    assert DeliveryProblem.objects.filter(error="invalid_auth").exists()
    assert moved(before, after, "timeoff_delivery_problems_total", error="invalid_auth") == 1


@pytest.mark.django_db
def test_a_retried_429_in_the_background_is_counted(client, fake_slack, metrics_token):
    install_config()
    before = scrape(client)
    fake_slack.rate_limit("chat.postMessage", retry_after=0)  # the background client waits it out
    request_time_off(client, fake_slack, ALICE)
    after = scrape(client)
    assert [call.status for call in posted_requests(fake_slack)] == [429, 200]
    assert moved(before, after, "timeoff_slack_api_ratelimited_total", method="chat.postMessage") == 1
    assert moved(before, after, "timeoff_slack_api_errors_total", method="chat.postMessage") == 0


@pytest.mark.django_db
def test_a_task_attempt_that_fails_on_a_passing_fault_counts_as_retrying(client, fake_slack, metrics_token):
    install_config()
    before = scrape(client)
    fake_slack.fail("chat.postMessage", "internal_error", times=1)  # Slack's transient error, HTTP 200
    request_time_off(client, fake_slack, ALICE)
    after = scrape(client)
    attempts = "timeoff_task_attempts_total"
    assert moved(before, after, attempts, task="deliver_request", outcome="retrying", attempt="1") == 1
    assert moved(before, after, attempts, task="deliver_request", outcome="successful", attempt="2") == 1
    assert moved(before, after, attempts, task="deliver_request", outcome="failed") == 0


@pytest.mark.django_db
def test_queue_depth_and_age_are_read_at_scrape_time(client, fake_slack, metrics_token, settings):
    install_config()
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}  # queued, no worker runs it
    request_time_off(client, fake_slack, ALICE)
    time.sleep(0.05)

    samples = scrape(client)
    assert value(samples, "timeoff_task_queue_depth", queue="default", status="ready") >= 1
    assert value(samples, "timeoff_task_queue_oldest_age_seconds", queue="default") > 0


@pytest.mark.django_db
def test_an_empty_queue_has_no_age(client, metrics_token):
    samples = scrape(client)
    assert value(samples, "timeoff_task_queue_depth") == 0
    assert not [key for key in samples if key[0] == "timeoff_task_queue_oldest_age_seconds"]


# --- Ledger reads and lock waits ------------------------------------------------------------


@pytest.mark.django_db
def test_ledger_reads_are_counted(client, fake_slack, metrics_token):
    install_config()
    before = scrape(client)
    open_request_form(client, fake_slack, ALICE)  # warms the ledger: a full read from Slack
    request_time_off(client, fake_slack, ALICE)  # the delivery finds it cached
    after = scrape(client)
    assert moved(before, after, "timeoff_ledger_pages_total") >= 1
    assert moved(before, after, "timeoff_ledger_refreshes_total", kind="full", outcome="ok") >= 1
    assert moved(before, after, "timeoff_ledger_cache_lookups_total", result="hit") >= 1


def test_ledger_hooks_count_reads_and_refusals():
    @metrics.ledger_refresh("incremental")
    def read(fail: bool):
        if fail:
            raise RuntimeError("slack is down")
        return "ledger"

    ok, error = (metrics.LEDGER_REFRESHES.labels(kind="incremental", outcome=o)._value.get() for o in ("ok", "error"))
    assert read(False) == "ledger"
    with pytest.raises(RuntimeError):
        read(True)
    metrics.ledger_cache_lookup(hit=True)
    metrics.ledger_unavailable("not_in_channel")
    assert metrics.LEDGER_REFRESHES.labels(kind="incremental", outcome="ok")._value.get() == ok + 1
    assert metrics.LEDGER_REFRESHES.labels(kind="incremental", outcome="error")._value.get() == error + 1
    assert metrics.LEDGER_UNAVAILABLE.labels(error="not_in_channel")._value.get() >= 1


@pytest.mark.django_db
def test_lock_waits_are_timed_by_kind_of_lock():
    acquire = cache_lock.acquire  # decorated by metrics.observe_lock_wait
    busy_before = metrics.LOCK_ACQUISITIONS.labels(lock="submit", outcome="busy")._value.get()
    token = acquire("lock:submit:U_ALICE", timeout=5, wait=0)
    assert token is not None
    assert acquire("lock:submit:U_ALICE", timeout=5, wait=0.1) is None  # held: waits, then gives up
    cache_lock.release("lock:submit:U_ALICE", token)
    assert metrics.LOCK_ACQUISITIONS.labels(lock="submit", outcome="busy")._value.get() == busy_before + 1
    assert metrics.LOCK_WAIT.labels(lock="submit")._sum.get() >= 0.1


@pytest.mark.parametrize("key, name", [
    ("lock:submit:U01ABC", "submit"),
    ("lock:decide:6f1c2a9e-0000-4000-8000-000000000000", "decide"),
    ("lock:team:Engineering", "team"),
    ("lock:team:support", "team"),
    ("lock:team:ledger", "team"),
    ("ledger:pending:v5:t:support:lock", "ledger:pending"),
    ("lock:ledger", "ledger"),
    ("lock:ledger:refresh", "ledger:refresh"),
    ("ledger:pending:v2:Engineering:lock", "ledger:pending"),
    ("U01:anything", "other"),
])
def test_a_lock_is_labelled_by_its_kind_never_its_holder(key, name):
    assert metrics.lock_name(key) == name


# --- Every process on the host: gunicorn workers and task workers ---------------------------


def _worker_process_counts(directory: Path, env: dict) -> None:
    """Another process (a task worker, say) writing its samples into the shared directory."""
    code = ("import django; django.setup(); from approvals import metrics; "
            "metrics.slack_call_finished('chat.postMessage', 0.2, error=None)")
    subprocess.run([sys.executable, "-c", code], env=env, cwd=BASE_DIR, check=True, timeout=60)


@pytest.mark.slow
def test_a_scrape_adds_up_every_gunicorn_worker_and_task_worker(tmp_path):
    """A real gunicorn with gunicorn.conf.py and two worker processes, plus a separate task-worker process."""
    directory = tmp_path / "metrics"
    port = _free_port()
    env = {**os.environ, "ENV_FILE": "", "DJANGO_SETTINGS_MODULE": "timeoff_site.settings", "DEBUG": "false",
           "SECRET_KEY": "metrics-test-secret-key-0123456789", "ALLOWED_HOSTS": "127.0.0.1",
           "SECURE_SSL_REDIRECT": "false", "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
           "CACHE_URL": "locmemcache://", "SLACK_BOT_TOKEN": django_settings.SLACK_BOT_TOKEN,
           "SLACK_SIGNING_SECRET": django_settings.SLACK_SIGNING_SECRET, "METRICS_TOKEN": TOKEN,
           "PROMETHEUS_MULTIPROC_DIR": str(directory), "PORT": str(port), "WEB_CONCURRENCY": "2",
           "WEB_THREADS": "4"}
    access_log = tmp_path / "access.log"
    web = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "--bind", f"127.0.0.1:{port}",
         "--access-logfile", str(access_log), "--access-logformat", '%(p)s "%(r)s" %(s)s', "timeoff_site.wsgi"],
        cwd=BASE_DIR, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        stderr=(tmp_path / "error.log").open("wb"))
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_for(base + "/healthz", web, tmp_path)
        _worker_process_counts(directory, env)
        requests = 60
        with ThreadPoolExecutor(16) as pool:
            statuses = list(pool.map(lambda _: _get(base + "/healthz")[0], range(requests)))
        assert statuses == [200] * requests
        status, body = _get(base + "/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        assert status == 200
        samples = parse(body)
        time.sleep(0.2)  # gunicorn writes the access line just after the response
        healthz = sum(1 for line in access_log.read_text().splitlines() if '"GET /healthz' in line)
        assert value(samples, "timeoff_http_requests_total", endpoint="healthz", status="200") == healthz
        assert healthz >= requests
        # The task worker's call is in the same scrape.
        assert value(samples, "timeoff_slack_api_calls_total", method="chat.postMessage", outcome="ok") == 1
        # Each web process that served a request wrote its own file; the scrape added them up.
        pids = {line.split(" ", 1)[0].strip("<>") for line in access_log.read_text().splitlines() if "/healthz" in line}
        files = {re.sub(r"\D", "", path.name) for path in directory.glob("counter_*.db")}
        assert pids <= files
    finally:
        web.terminate()
        web.wait(timeout=30)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, headers: dict | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def _wait_for(url: str, process, logs: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"gunicorn exited: {(logs / 'error.log').read_text()}")
        try:
            if _get(url)[0] == 200:
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"gunicorn did not answer: {(logs / 'error.log').read_text()}")


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_real_task_workers_attempts_reach_the_scrape(client, fake_slack, settings, tmp_path):
    """`manage.py task_worker` in its own process, writing into the directory the web's scrape reads."""
    import uuid

    from django.tasks import TaskResultStatus
    from django_tasks_db import DatabaseBackend
    from django_tasks_db.models import DBTaskResult

    from approvals import tasks
    from approvals.request_services import Submission
    from approvals.tests.test_worker_crash import start_worker, wait_for
    from test_support.flows import MONDAY, WEDNESDAY

    install_config()
    directory = tmp_path / "metrics"
    settings.METRICS_TOKEN = TOKEN
    settings.PROMETHEUS_MULTIPROC_DIR = str(directory)  # this web process serves the shared directory
    submission = Submission(id=str(uuid.uuid4()), user=ALICE, leave_type="vacation", start=MONDAY, end=WEDNESDAY,
                            start_half=None, end_half=None, note="", validated=True)
    result = DatabaseBackend("default", {}).enqueue(tasks.deliver_request, (submission.as_task_data(),), {})

    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(directory)  # start_worker passes os.environ on
    try:
        worker = start_worker(fake_slack)
    finally:
        del os.environ["PROMETHEUS_MULTIPROC_DIR"]
    try:
        done = wait_for(lambda: DBTaskResult.objects.get(id=result.id).status == TaskResultStatus.SUCCESSFUL)
        assert done, "the worker never finished the task"
    finally:
        worker.terminate()
        worker.wait(10)

    samples = scrape(client)
    assert value(samples, "timeoff_task_attempts_total", task="deliver_request", outcome="successful",
                 attempt="1") == 1
    assert value(samples, "timeoff_task_duration_seconds_count", task="deliver_request") == 1
    assert value(samples, "timeoff_slack_api_calls_total", method="chat.postMessage", outcome="ok") >= 1
    assert value(samples, "timeoff_task_queue_depth", status="ready") == 0
