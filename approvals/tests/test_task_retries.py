"""Passing faults are retried by the task itself, with backoff, up to a limit (DESIGN §8).

The background client retries a 5xx or a lost connection three times on its own
(except the post of the request itself, which the task alone retries, after
looking for it in the channel); a fault that outlasts those makes the delivery
task re-enqueue itself, later each
time (`run_after`), up to MAX_ATTEMPTS. Then it gives up, and the requester and HR
are told, as for a refused post. Every attempt is idempotent: the request is
posted once however many attempts it takes.

With the immediate backend (the tests' default) a re-enqueued attempt runs at once;
the database backend, used in production, is exercised below for `run_after`.
"""

import logging
import socket
from http.client import RemoteDisconnected
from urllib.error import URLError
import types
import uuid
from datetime import timedelta

import pytest
from django.tasks import TaskResultStatus
from django.tasks.signals import task_finished, task_started
from django.utils import timezone
from django_tasks_db import DatabaseBackend
from django_tasks_db.management.commands.db_worker import Worker
from django_tasks_db.models import DBTaskResult
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry import builtin_handlers
from slack_sdk.web import SlackResponse

from approvals.models import DeliveryProblem
from fake_slack.personas import C_ENG_APPROVALS
from approvals import task_queue, tasks
from approvals.slack_clients import BACKGROUND_MAX_RETRIES
from test_support.flows import ALICE, MONDAY, WEDNESDAY, dms_to, install_config, open_request_form
from test_support.flows import request_time_off, request_values, submit_request
from approvals.request_services import Submission

pytestmark = pytest.mark.django_db

CALLS_PER_ATTEMPT = 1 + BACKGROUND_MAX_RETRIES  # the client's own retries inside one task attempt
# Posting a request to the ledger is never re-sent by the client after a 5xx (Slack may have
# posted anyway); the task retries instead, after looking for its own post.
POSTS_PER_ATTEMPT = 1
ASKED_FOR = "Vacation, Mon 10 Mar 2031 – Wed 12 Mar 2031"


@pytest.fixture
def attempts():
    """The attempt number and outcome of every deliver_request run, in the order they finished."""
    finished = []

    def record(sender, task_result, **kwargs):
        if task_result.task.name == "deliver_request":
            finished.append((task_result.kwargs.get("attempt", 1), task_result.status))

    task_finished.connect(record)
    yield finished
    task_finished.disconnect(record)


def requests_in(fake_slack, channel=C_ENG_APPROVALS) -> list:
    return [message for message in fake_slack.workspace.messages(channel) if message.metadata]


def test_a_5xx_beyond_the_clients_retries_is_retried_by_the_task(client, fake_slack, no_backoff, attempts, caplog):
    install_config()
    # One attempt's worth of 500s: the first attempt fails, the second gets through.
    fake_slack.server_error("chat.postMessage", status=500, times=POSTS_PER_ATTEMPT)
    request_time_off(client, fake_slack, ALICE)

    assert sorted(attempts) == [(1, TaskResultStatus.FAILED), (2, TaskResultStatus.SUCCESSFUL)]  # a failed attempt says so
    assert [call.status for call in fake_slack.calls("chat.postMessage")][:POSTS_PER_ATTEMPT + 1] == \
        [500] * POSTS_PER_ATTEMPT + [200]
    [posted] = requests_in(fake_slack)  # posted once
    [receipt] = dms_to(fake_slack, ALICE)
    assert "is with" in receipt
    [retry] = [r for r in caplog.records if "retrying in" in r.getMessage()]
    assert retry.levelno == logging.WARNING and f"retrying in {task_queue.BASE_DELAY_SECONDS}s" in retry.getMessage()
    assert not DeliveryProblem.objects.exists()


def test_a_post_whose_answer_was_lost_is_not_posted_twice(client, fake_slack, no_backoff, attempts):
    """Slack posted the request but answered 500 (or the connection dropped after the post)."""
    install_config()
    view = open_request_form(client, fake_slack, ALICE)
    real_handle = fake_slack.handle
    lost = {"left": CALLS_PER_ATTEMPT}

    def answer_lost(method, params, headers):
        status, extra, body = real_handle(method, params, headers)  # the post takes effect...
        if method == "chat.postMessage" and params.get("channel") == C_ENG_APPROVALS and lost["left"]:
            lost["left"] -= 1
            return 500, extra, {"ok": False, "error": "fatal_error"}  # ... and the answer is a 500
        return status, extra, body

    fake_slack.handle = answer_lost
    try:
        submit_request(client, ALICE, view, request_values("vacation", MONDAY, WEDNESDAY))
    finally:
        del fake_slack.handle

    assert sorted(attempts) == [(1, TaskResultStatus.FAILED), (2, TaskResultStatus.SUCCESSFUL)]  # a failed attempt says so
    assert len(dms_to(fake_slack, ALICE)) == 1  # one receipt: the second attempt found the post in the ledger
    assert len(requests_in(fake_slack)) == 1


def test_a_connection_error_is_retried_by_the_task(client, fake_slack, no_backoff, attempts, settings):
    install_config()
    view = open_request_form(client, fake_slack, ALICE)  # warm caches: the task goes straight to Slack
    reachable = settings.SLACK_API_URL
    settings.SLACK_API_URL = f"http://127.0.0.1:{closed_port()}/api/"  # nothing listens: connection refused

    def network_back_for_the_second_attempt(sender, task_result, **kwargs):
        if task_result.task.name == "deliver_request" and task_result.kwargs.get("attempt") == 2:
            settings.SLACK_API_URL = reachable

    task_started.connect(network_back_for_the_second_attempt)
    try:
        submit_request(client, ALICE, view, request_values("vacation", MONDAY, WEDNESDAY))
    finally:
        task_started.disconnect(network_back_for_the_second_attempt)

    assert sorted(attempts) == [(1, TaskResultStatus.FAILED), (2, TaskResultStatus.SUCCESSFUL)]  # a failed attempt says so
    assert len(requests_in(fake_slack)) == 1


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_it_gives_up_after_max_attempts_and_tells_the_requester(client, fake_slack, no_backoff, attempts, caplog):
    install_config()
    # Every call of every attempt fails; the DM after giving up is the first call that gets through.
    fake_slack.server_error("chat.postMessage", status=500, times=task_queue.MAX_ATTEMPTS * POSTS_PER_ATTEMPT)
    request_time_off(client, fake_slack, ALICE)

    assert sorted(attempts) == [(n, TaskResultStatus.FAILED) for n in range(1, task_queue.MAX_ATTEMPTS + 1)]
    posts = [c for c in fake_slack.calls("chat.postMessage") if c.params.get("channel") == C_ENG_APPROVALS]
    assert len(posts) == task_queue.MAX_ATTEMPTS * POSTS_PER_ATTEMPT and requests_in(fake_slack) == []
    [dm] = dms_to(fake_slack, ALICE)
    assert "did not reach your approvers" in dm and f"gave up after {task_queue.MAX_ATTEMPTS} tries" in dm
    assert ASKED_FOR in dm
    problem = DeliveryProblem.objects.get()
    assert (problem.user, problem.team, problem.error) == (ALICE, "Engineering", "fatal_error")
    assert [r for r in caplog.records if "failed for good" in r.getMessage()][0].levelno == logging.ERROR


def test_giving_up_while_slack_is_still_down_is_recorded_all_the_same(client, fake_slack, no_backoff, attempts):
    install_config()
    fake_slack.server_error("chat.postMessage", status=503, times=None)  # the DM fails as well
    request_time_off(client, fake_slack, ALICE)

    assert len(attempts) == task_queue.MAX_ATTEMPTS  # no attempt beyond the limit
    assert fake_slack.workspace.messages(ALICE) == []
    assert DeliveryProblem.objects.get().error == "fatal_error"


def test_a_requester_slack_would_not_let_us_tell_at_once_is_told_once_it_is_back(client, fake_slack, no_backoff,
                                                                                attempts):
    install_config()
    # Every attempt's post fails, and so does the DM after giving up (the client's own tries included);
    # the DM's own task, which retries, gets through.
    fake_slack.server_error("chat.postMessage", status=500,
                            times=task_queue.MAX_ATTEMPTS * POSTS_PER_ATTEMPT + CALLS_PER_ATTEMPT)
    request_time_off(client, fake_slack, ALICE)

    [dm] = fake_slack.workspace.messages(ALICE)  # sent once, by the DM's own task
    assert "did not reach your approvers" in dm.text and ASKED_FOR in dm.text
    assert DeliveryProblem.objects.count() == 1


def test_a_failed_decision_is_retried_too(client, fake_slack, no_backoff):
    from approvals import block_ids as ids
    from test_support.flows import BOB, click, posted_requests

    install_config()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    fake_slack.server_error("chat.update", status=500, times=CALLS_PER_ATTEMPT)
    click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted)
    [message] = requests_in(fake_slack)
    assert message.metadata["event_payload"]["status"] == "approved"


def test_a_decision_that_fails_for_good_tells_the_approver(client, fake_slack, no_backoff):
    from approvals import block_ids as ids
    from test_support.flows import BOB, click, ephemerals_to, posted_requests

    install_config()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    fake_slack.server_error("chat.update", status=500, times=None)
    click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted)
    assert len(fake_slack.calls("chat.update")) == task_queue.MAX_ATTEMPTS * CALLS_PER_ATTEMPT
    [message] = requests_in(fake_slack)
    assert message.metadata["event_payload"]["status"] == "pending"
    [told] = ephemerals_to(fake_slack, BOB)
    assert "could not record your approval" in told and "fatal_error" in told


@pytest.mark.parametrize("error", ["cant_update_message", "message_not_found", "not_in_channel"])
def test_a_decision_slack_refuses_for_good_is_told_as_such_and_hr_sees_it(client, fake_slack, no_backoff, error):
    from approvals import block_ids as ids
    from test_support.flows import BOB, click, ephemerals_to, posted_requests

    install_config()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    fake_slack.fail("chat.update", error, times=None)
    click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted)
    assert len(fake_slack.calls("chat.update")) == 1  # not retried: no later try would work
    [told] = ephemerals_to(fake_slack, BOB)
    assert f"Slack refused it ({error})" in told and "HR has been told" in told and "kept failing" not in told
    [problem] = DeliveryProblem.objects.all()
    assert (problem.request_id, problem.user, problem.error) == (status_of(fake_slack)["id"], BOB, error)


def status_of(fake_slack) -> dict:
    [message] = requests_in(fake_slack)
    return message.metadata["event_payload"]


# --- With the database backend: the retry waits in its row --------------------------------


@pytest.fixture
def database_tasks(settings):
    """Tasks go to django-tasks-db's table, as in production (the setting_changed signal resets
    django.tasks.task_backends, so the tasks module's enqueue_later sees this backend)."""
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    from django.tasks import task_backends

    assert isinstance(task_backends["default"], DatabaseBackend)
    yield DatabaseBackend("default", {})


def run_row(row: DBTaskResult) -> DBTaskResult:
    """Run one task row the way a db_worker does, in this process."""
    worker = Worker(queue_names=["default"], interval=0, batch=True, backend_name="default", startup_delay=False,
                    max_tasks=None, worker_id="test-worker", excluded_queue_names=[])
    row.claim(worker.worker_id)
    worker.run_task(row)
    row.refresh_from_db()
    return row


def test_with_the_database_backend_a_retry_runs_later(fake_slack, no_backoff, database_tasks):
    install_config()
    submission = Submission(id=str(uuid.uuid4()), user=ALICE, leave_type="vacation", start=MONDAY, end=WEDNESDAY,
                            start_half=None, end_half=None, note="", validated=True)
    first = database_tasks.enqueue(tasks.deliver_request, (submission.as_task_data(),), {})
    fake_slack.server_error("chat.postMessage", status=500, times=2 * POSTS_PER_ATTEMPT)  # two attempts' worth

    before = timezone.now()
    failed = run_row(DBTaskResult.objects.get(id=first.id))
    assert failed.status == TaskResultStatus.FAILED  # recorded as failed, with its error...
    assert failed.exception_class_path == "slack_sdk.errors.SlackApiError" and "fatal_error" in failed.traceback
    second = DBTaskResult.objects.exclude(id=first.id).get()  # ... and the next attempt names it
    assert (second.task_path, second.args_kwargs) == (
        "approvals.tasks.deliver_request",
        {"args": [submission.as_task_data()], "kwargs": {"attempt": 2, "previous_attempt": str(first.id)}})
    assert second.status == TaskResultStatus.READY
    delay = timedelta(seconds=task_queue.BASE_DELAY_SECONDS)
    assert before + delay <= second.run_after <= timezone.now() + delay
    assert not DBTaskResult.objects.ready().filter(id=second.id).exists()  # no worker takes it yet

    # Its time comes; it fails again and waits twice as long.
    DBTaskResult.objects.filter(id=second.id).update(run_after=timezone.now())
    assert DBTaskResult.objects.ready().filter(id=second.id).exists()
    before = timezone.now()
    run_row(DBTaskResult.objects.get(id=second.id))
    third = DBTaskResult.objects.exclude(id__in=[first.id, second.id]).get()
    assert third.args_kwargs["kwargs"] == {"attempt": 3, "previous_attempt": str(second.id)}
    assert before + 2 * delay <= third.run_after <= timezone.now() + 2 * delay

    # The fault has passed: the third attempt posts the request, once.
    DBTaskResult.objects.filter(id=third.id).update(run_after=timezone.now())
    assert run_row(DBTaskResult.objects.get(id=third.id)).status == TaskResultStatus.SUCCESSFUL
    [message] = requests_in(fake_slack)
    assert message.metadata["event_payload"]["id"] == submission.id
    assert DBTaskResult.objects.count() == 3  # and no fourth attempt


def test_with_the_database_backend_the_last_attempt_enqueues_nothing(fake_slack, no_backoff, database_tasks):
    install_config()
    submission = Submission(id=str(uuid.uuid4()), user=ALICE, leave_type="vacation", start=MONDAY, end=WEDNESDAY,
                            start_half=None, end_half=None, note="", validated=True)
    last = database_tasks.enqueue(tasks.deliver_request, (submission.as_task_data(),), {"attempt": task_queue.MAX_ATTEMPTS})
    fake_slack.server_error("chat.postMessage", status=500, times=POSTS_PER_ATTEMPT)

    row = run_row(DBTaskResult.objects.get(id=last.id))
    assert row.status == TaskResultStatus.FAILED
    assert DBTaskResult.objects.count() == 1
    [dm] = dms_to(fake_slack, ALICE)
    assert "did not reach your approvers" in dm
    assert DeliveryProblem.objects.count() == 1


def test_the_next_attempt_waits_for_slacks_retry_after(fake_slack, no_backoff, database_tasks, monkeypatch):
    # A Retry-After longer than the client waits out inside a call (30 s > 10 s) is not slept in the
    # worker's thread (recorded here, were it slept): the task's next attempt is due no sooner than
    # Slack said, not in 5 s.
    slept = []
    monkeypatch.setattr(builtin_handlers, "time", types.SimpleNamespace(sleep=slept.append))
    install_config()
    submission = Submission(id=str(uuid.uuid4()), user=ALICE, leave_type="vacation", start=MONDAY, end=WEDNESDAY,
                            start_half=None, end_half=None, note="", validated=True)
    first = database_tasks.enqueue(tasks.deliver_request, (submission.as_task_data(),), {})
    fake_slack.rate_limit("chat.postMessage", retry_after=30, times=None)

    failed = run_row(DBTaskResult.objects.get(id=first.id))
    answered = timezone.now()

    assert failed.status == TaskResultStatus.FAILED and "ratelimited" in failed.traceback
    assert slept == []
    assert [call.status for call in fake_slack.calls("chat.postMessage")] == [429]
    second = DBTaskResult.objects.exclude(id=first.id).get()
    assert answered + timedelta(seconds=29) <= second.run_after <= timezone.now() + timedelta(seconds=30)
    assert requests_in(fake_slack) == []


def test_retry_after_is_read_from_a_429_only_and_kept_within_bounds():
    def limited(status, headers):
        response = SlackResponse(client=None, http_verb="POST", api_url="u", req_args={},
                                 data={"ok": False, "error": "ratelimited"}, headers=headers, status_code=status)
        return SlackApiError("limited", response)

    assert task_queue.retry_after_seconds(limited(429, {"Retry-After": "30"})) == 30
    assert task_queue.retry_after_seconds(limited(429, {"retry-after": ["7"]})) == 7
    assert task_queue.retry_after_seconds(limited(429, {"Retry-After": "86400"})) == task_queue.MAX_RETRY_AFTER_SECONDS
    assert task_queue.retry_after_seconds(limited(429, {"Retry-After": "soon"})) == 0
    assert task_queue.retry_after_seconds(limited(500, {"Retry-After": "30"})) == 0
    assert task_queue.retry_after_seconds(TimeoutError()) == 0


def test_people_are_shown_slacks_error_codes_and_plain_words_never_a_python_class_name():
    def answered(status, data):
        return SlackApiError("failed", SlackResponse(client=None, http_verb="POST", api_url="u", req_args={},
                                                     data=data, headers={}, status_code=status))

    assert task_queue.error_for_people(answered(200, {"ok": False, "error": "channel_not_found"})) == \
        "channel_not_found"
    assert task_queue.error_for_people(answered(502, {"ok": False})) == "http_502"
    for dropped in (URLError(ConnectionRefusedError(111, "Connection refused")), ConnectionResetError(),
                    RemoteDisconnected("Remote end closed connection without response")):
        assert task_queue.error_for_people(dropped) == "connection failed"
        assert task_queue.error_code(dropped) == type(dropped).__name__  # the log keeps the class
    for slow in (TimeoutError(), socket.timeout(), URLError(TimeoutError("timed out"))):
        assert task_queue.error_for_people(slow) == "no answer in time"
    assert task_queue.error_for_people(KeyError("x")) == "an internal error"


def test_our_own_faults_are_not_recorded_as_slacks():
    """HR's record of a request that did not get through (DeliveryProblem.error) uses these words: a lock
    another process held (a TimeoutError), our database or cache failing, is not Slack's timeout."""
    import redis.exceptions
    from django.db import OperationalError

    from approvals.cache_lock import LockBusy

    for ours in (LockBusy("lock x is busy"), OperationalError("database is locked"),
                 redis.exceptions.ConnectionError("refused"), redis.exceptions.TimeoutError("slow")):
        assert task_queue.error_for_people(ours) == "our database, cache or a lock failed", ours
    from approvals.ledger_reader import LedgerBusy

    assert task_queue.error_for_people(LedgerBusy("another process is reading the ledger from Slack")) == \
        "still reading the leave history from Slack"  # a wait, not a fault


def test_a_give_up_blames_slack_only_for_slacks_faults():
    import redis.exceptions
    from django.db import OperationalError

    from approvals.cache_lock import LockBusy

    def answered(status, data):
        return SlackApiError("failed", SlackResponse(client=None, http_verb="POST", api_url="u", req_args={},
                                                     data=data, headers={}, status_code=status))

    assert task_queue.failure_for_people(answered(200, {"ok": False, "error": "ratelimited"})) == \
        "Slack kept failing (ratelimited)"
    assert task_queue.failure_for_people(answered(200, {"ok": False, "error": "not_in_channel"})) == \
        "Slack refused it (not_in_channel)"
    assert task_queue.failure_for_people(URLError(ConnectionResetError())) == "Slack kept failing (connection failed)"
    assert task_queue.failure_for_people(TimeoutError("read timed out")) == "Slack kept failing (no answer in time)"
    # Ours: a lock's wait running out is a TimeoutError too, and retried as one, but Slack did not fail.
    for ours in (LockBusy("lock:decide:r1 is busy"), OperationalError("database is locked"),
                 redis.exceptions.ConnectionError("Connection refused"),
                 redis.exceptions.OutOfMemoryError("command not allowed"), KeyError("x")):
        assert task_queue.failure_for_people(ours) == "something went wrong on our side", ours
    assert task_queue.transient(LockBusy("busy"))


def test_only_a_call_to_slack_that_failed_may_have_been_made_by_slack():
    """A post whose answer was lost is looked for before it is made again (notifications.post_notice); our
    own waits running out are TimeoutErrors too, but Slack did nothing then: nothing to look for."""
    from approvals.cache_lock import LockBusy
    from approvals.ledger_reader import LedgerBusy

    assert task_queue.slack_may_have_acted(TimeoutError("read timed out"))
    assert task_queue.slack_may_have_acted(URLError(ConnectionResetError()))
    assert not task_queue.slack_may_have_acted(LockBusy("lock:decide:r1 is busy"))
    assert not task_queue.slack_may_have_acted(LedgerBusy("another process is reading the ledger from Slack"))


def test_someone_told_while_slack_fails_for_now_is_told_by_a_task_once_it_answers(fake_slack, no_backoff):
    # A give-up note (an approval that could not be recorded, say) meets the Slack that made the task give
    # up: the call and the client's own retries fail; a tell_user task sends it (here at once: the tests'
    # immediate backend) instead of the note being lost with a log line.
    from approvals.request_services import tell_person
    from approvals.slack_clients import background_client
    from fake_slack.personas import BOB

    fake_slack.server_error("chat.postEphemeral", status=500, times=1 + BACKGROUND_MAX_RETRIES)
    tell_person(background_client(), BOB, "Your approval could not be recorded.", channel=C_ENG_APPROVALS)

    told = [e.text for e in fake_slack.workspace.ephemerals if e.user == BOB]
    assert told == ["Your approval could not be recorded."]
    statuses = [call.status for call in fake_slack.calls("chat.postEphemeral")]
    assert statuses == [500] * (1 + BACKGROUND_MAX_RETRIES) + [200]


def test_a_note_to_someone_waiting_outlasts_a_longer_slack_outage_than_other_tasks(fake_slack, no_backoff):
    # Seven attempts' worth of failures: more than any other task tries (six), fewer than a note's ten.
    fake_slack.server_error("chat.postEphemeral", status=500, times=7 * (1 + BACKGROUND_MAX_RETRIES))
    from fake_slack.personas import BOB

    tasks.tell_user.enqueue(C_ENG_APPROVALS, BOB, "Your approval could not be recorded.")

    told = [e.text for e in fake_slack.workspace.ephemerals if e.user == BOB]
    assert told == ["Your approval could not be recorded."]
    assert task_queue.MAX_ATTEMPTS < 8 <= tasks.TELL_ATTEMPTS


def test_a_give_up_counts_the_attempts_made_whatever_each_fault_allowed(client, fake_slack, no_backoff, attempts,
                                                                         monkeypatch):
    """Our database failing is given ten attempts, Slack's faults six: a delivery that met the first six
    times and Slack's on the seventh gives up there, and says seven."""
    from django.db import OperationalError

    from approvals import request_services

    install_config()
    real_deliver = request_services.request_deliver
    calls = []

    def deliver(slack_client, submission):
        calls.append(submission.id)
        if len(calls) <= 6:
            raise OperationalError("database is locked")
        return real_deliver(slack_client, submission)

    monkeypatch.setattr(request_services, "request_deliver", deliver)
    fake_slack.server_error("chat.postMessage", status=500, times=POSTS_PER_ATTEMPT)
    request_time_off(client, fake_slack, ALICE)

    assert sorted(attempts) == [(n, TaskResultStatus.FAILED) for n in range(1, 8)]
    [dm] = dms_to(fake_slack, ALICE)
    assert "gave up after 7 tries" in dm
