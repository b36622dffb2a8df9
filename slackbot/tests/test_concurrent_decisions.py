"""Twenty approvers decide the same request at the same moment: exactly one decision.

A real gunicorn (4 worker processes × 4 threads) serves the Slack endpoints
against the test database and the shared cache of this run (the database cache
on SQLite, Redis when CACHE_URL says so), with the immediate task backend: each
click's decision task runs inside the worker process that received it, so the
processes race for the decision lock in the shared cache. Slack is the fake
Slack over HTTP. The request itself is created in the test process.

Slack answers every call in 0.8 s, as on a bad day. That holds each click's
first read of the message open long enough for the clicks to find the request
pending and race for the lock; and losers served one by one under the lock (a
re-read and an ephemeral each) would outlast the lock's 10 s wait and be told
"another approver is deciding" instead of who decided: they must stop waiting
as soon as the decision is written (`cache_lock.acquire(..., unless=...)`).

Exactly one click wins: one chat.update, one thread reply, one DM to the
requester, one announcement (approvals only); every other clicker is told who
decided, and no request is answered with an error.
"""

import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path
from urllib.parse import urlencode

import pytest
from django.conf import settings
from django.core.cache import cache

from approvals.rules import APPROVED, REJECTED
from fake_slack.personas import ALICE, C_ENG, C_ENG_APPROVALS, C_ENG_LEADS
from approvals import block_ids as ids
from test_support.flows import (
    channel_updates,
    dms_to,
    ephemerals_to,
    install_config,
    metadata_payload,
    posted_requests,
    request_time_off,
)
from test_support.slack_requests import block_actions_payload, signature_headers, view_submission_payload
from approvals.tests.test_worker_crash import database_url

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

BASE_DIR = Path(settings.BASE_DIR)
APPROVERS = [f"U_APPROVER{n:02d}" for n in range(1, 21)]
WORKERS = 4
REASON = "Release week"
SLACK_LATENCY_SECONDS = 0.8


# --- The server -------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Web:
    """A gunicorn serving the app; its error log and access log (with worker pids) are files."""

    def __init__(self, fake_slack, logs: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.error_log = logs / "gunicorn-error.log"
        self.access_log = logs / "gunicorn-access.log"
        env = {
            **os.environ,
            "ENV_FILE": "",
            "DJANGO_SETTINGS_MODULE": "timeoff_site.settings",
            "DEBUG": "false",
            "SECURE_SSL_REDIRECT": "false",
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "SECRET_KEY": "gunicorn-test-secret-key-0123456789",
            "DATABASE_URL": database_url(),
            "CACHE_URL": os.environ.get("CACHE_URL", "dbcache://timeoff_cache"),
            "TASKS_BACKEND": "immediate",
            "SLACK_API_URL": fake_slack.api_url,
            "SLACK_BOT_TOKEN": settings.SLACK_BOT_TOKEN,
            "SLACK_SIGNING_SECRET": settings.SLACK_SIGNING_SECRET,
        }
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "timeoff_site.wsgi", "--workers", str(WORKERS), "--threads", "4",
             "--bind", f"127.0.0.1:{self.port}", "--timeout", "60", "--graceful-timeout", "5",
             "--error-logfile", str(self.error_log), "--access-logfile", str(self.access_log),
             "--access-logformat", '%(p)s "%(r)s" %(s)s'],
            cwd=BASE_DIR, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=self.error_log.open("ab"),  # Django logs to stderr: keep it with gunicorn's own log
        )

    def wait_until_ready(self, seconds: float = 20) -> None:
        """Until /healthz answers from every worker process (so clicks can spread over all of them)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"gunicorn exited with {self.process.returncode}:\n{self.log()}")
            statuses = run_together([lambda: get(self.url + "/healthz") for _ in range(2 * WORKERS)])
            if all(status == 200 for status in statuses) and len(self.pids("/healthz")) == WORKERS:
                return
            time.sleep(0.1)
        raise AssertionError(f"gunicorn workers not all answering /healthz:\n{self.log()}")

    def pids(self, path: str) -> Counter:
        """How many requests for `path` each worker process served."""
        served = Counter()
        if self.access_log.exists():
            for line in self.access_log.read_text().splitlines():
                pid, _, request = line.partition(" ")
                if f" {path}" in request:
                    served[pid] += 1
        return served

    def log(self) -> str:
        return self.error_log.read_text(errors="replace") if self.error_log.exists() else ""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


@pytest.fixture
def clean_shared_cache():
    """The database cache table is not flushed between transactional tests: start and end empty.

    (Memberships cached here would otherwise make the 20 approvers approvers in later tests.)
    """
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def web(fake_slack, clean_shared_cache, tmp_path):
    server = Web(fake_slack, tmp_path)
    try:
        server.wait_until_ready()
        yield server
    finally:
        server.stop()


# --- Sending, all at once ---------------------------------------------------------------------


def get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return 0


def run_together(calls: list) -> list:
    """Run each call in its own thread, released at the same moment by a barrier; their results in order."""
    barrier = threading.Barrier(len(calls))
    results = [None] * len(calls)

    def run(index, call):
        try:
            barrier.wait(10)
            results[index] = call()
        except Exception as exc:  # reported in the results, asserted by the caller
            results[index] = exc

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(90)
    return results


def signed_interaction(url: str, payload: dict):
    """A POST to /slack/interactions, signed over the exact bytes sent, as Slack sends it."""
    body = urlencode({"payload": json.dumps(payload)}).encode()
    headers = {"Content-Type": "application/x-www-form-urlencoded", **signature_headers(body)}
    request = urllib.request.Request(url + "/slack/interactions", data=body, headers=headers, method="POST")

    def send() -> tuple[int, bytes]:
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    return send


def click_payload(user: str, action_id: str, posted) -> dict:
    buttons = next(b for b in posted.params["blocks"] if b.get("type") == "actions")["elements"]
    value = next(b["value"] for b in buttons if b["action_id"] == action_id)
    return block_actions_payload(user_id=user, action_id=action_id, value=value, block_id=ids.DECISION_BLOCK,
                                 channel_id=posted.response["channel"], message_ts=posted.response["ts"])


# --- Setting the scene ----------------------------------------------------------------------------


def add_approvers(fake_slack) -> None:
    """Twenty more approvers: members of the approvers channel, and of the approvals channel they click in."""
    workspace = fake_slack.workspace
    for n, user in enumerate(APPROVERS, start=1):
        workspace.add_user(user, f"approver{n:02d}", real_name=f"Approver {n:02d}")
    with workspace.lock:
        workspace.channels[C_ENG_LEADS].members.update(APPROVERS)
        workspace.channels[C_ENG_APPROVALS].members.update(APPROVERS)


def a_pending_request(client, fake_slack):
    install_config()
    add_approvers(fake_slack)  # before the request: channel memberships are cached from its delivery on
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    assert metadata_payload(posted)["status"] == "pending"
    fake_slack.clear_calls()  # the receipt DM and the delivery are not part of the decision
    fake_slack.latency(SLACK_LATENCY_SECONDS)
    return posted


def told_who_decided(fake_slack, user: str) -> list[str]:
    return ephemerals_to(fake_slack, user) + dms_to(fake_slack, user)


# --- Checking the outcome ---------------------------------------------------------------------------


def assert_exactly_one_decision(fake_slack, web, posted, responses, *, clickers: dict[str, str],
                                served_before: Counter = Counter()) -> dict:
    """`clickers`: user → the status their click asked for. Returns the decision's metadata payload."""
    failures = [(user, r) for user, r in zip(clickers, responses) if not (isinstance(r, tuple) and r[0] == 200)]
    assert not failures, f"{failures}\n{web.log()}"
    assert "Traceback" not in web.log(), web.log()
    served_by = web.pids("/slack/interactions") - served_before
    assert len(served_by) >= 2, f"all clicks served by one worker process: {served_by}"

    ts = posted.response["ts"]
    [update] = [c for c in channel_updates(fake_slack) if c.params.get("ts") == ts]
    assert channel_updates(fake_slack) == [update]
    decided = metadata_payload(update)
    winner = decided["decided_by"]
    assert winner in clickers and decided["status"] == clickers[winner], decided
    if decided["status"] == REJECTED:
        assert decided["reason"] == REASON
    stored = fake_slack.workspace.message(C_ENG_APPROVALS, ts)
    assert stored.metadata["event_payload"]["status"] == decided["status"]
    assert stored.metadata["event_payload"]["decided_by"] == winner

    posts = fake_slack.calls("chat.postMessage")
    [thread_reply] = [c for c in posts if c.params.get("thread_ts")]
    assert thread_reply.params["thread_ts"] == ts and f"<@{winner}>" in thread_reply.params["text"]
    [decision_dm] = dms_to(fake_slack, ALICE)
    assert f"{decided['status']} your" in decision_dm and f"<@{winner}>" in decision_dm
    announcements = [c for c in posts if c.params.get("channel") == C_ENG]
    assert len(announcements) == (1 if decided["status"] == APPROVED else 0)

    assert told_who_decided(fake_slack, winner) == []
    for user in clickers:
        if user != winner:
            told = told_who_decided(fake_slack, user)
            assert len(told) == 1, (user, told)
            assert told[0].startswith(f"This request was already {decided['status']} by <@{winner}>"), (user, told)
    return decided


# --- The tests ----------------------------------------------------------------------------------------


def test_twenty_approvers_approving_at_once_make_one_decision(client, fake_slack, web):
    posted = a_pending_request(client, fake_slack)

    responses = run_together([signed_interaction(web.url, click_payload(user, ids.APPROVE_ACTION, posted))
                              for user in APPROVERS])

    decided = assert_exactly_one_decision(fake_slack, web, posted, responses,
                                          clickers=dict.fromkeys(APPROVERS, APPROVED))
    assert decided["status"] == APPROVED


def test_approvals_and_rejections_at_once_make_one_decision(client, fake_slack, web):
    posted = a_pending_request(client, fake_slack)
    approvers, rejecters = APPROVERS[::2], APPROVERS[1::2]

    # The rejecters press Reject first: each gets the reason modal, opened inside the click's request.
    clicks = {user: click_payload(user, ids.REJECT_ACTION, posted) for user in rejecters}
    responses = run_together([signed_interaction(web.url, payload) for payload in clicks.values()])
    assert all(r[0] == 200 for r in responses), responses
    modals = {c.params["trigger_id"]: c.params["view"] for c in fake_slack.calls("views.open")}
    assert len(modals) == len(rejecters), web.log()
    assert channel_updates(fake_slack) == []
    fake_slack.clear_calls()
    served_before = web.pids("/slack/interactions")

    # Then, at the same moment, half approve and half submit their reason.
    values = {ids.REASON_BLOCK: {ids.REASON_ACTION: {"type": "plain_text_input", "value": REASON}}}
    payloads = {user: click_payload(user, ids.APPROVE_ACTION, posted) for user in approvers}
    for n, user in enumerate(rejecters):
        view = modals[clicks[user]["trigger_id"]]
        payloads[user] = view_submission_payload(user_id=user, view=view, values=values, view_id=f"V_REJECT{n:02d}",
                                                 view_hash=f"1766000000.{n:06d}")
    responses = run_together([signed_interaction(web.url, payload) for payload in payloads.values()])

    clickers = {user: APPROVED if user in approvers else REJECTED for user in payloads}
    assert_exactly_one_decision(fake_slack, web, posted, responses, clickers=clickers, served_before=served_before)
