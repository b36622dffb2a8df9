"""Our own infrastructure failing (the shared cache, the database), not Slack (DESIGN §4, §8).

The failing component is patched at its seam (the cache backend raising what
redis-py or the database driver raises); everything else runs for real: signed
requests through Django's test client, the fake Slack over HTTP, the tasks.
The bar: nothing lost (a request reaches its approvers or the requester is
told), nothing applied twice, Slack always answered with a success or a status
it retries.
"""

import pytest
import redis.exceptions
from django.core.cache import caches
from django.db import OperationalError
from django.tasks import TaskResultStatus
from django.test import Client

from approvals.models import DeliveryProblem
from approvals.request_services import STILL_BEING_SENT_TEXT
from approvals.rules import FIELD_START
from fake_slack.personas import C_ENG_APPROVALS
from test_support.flows import (ALICE, MONDAY, WEDNESDAY, dms_to, install_config, open_request_form, posted_requests,
                                request_time_off, request_values, submit_request)

pytestmark = pytest.mark.django_db

# What the cache raises when Redis restarts or does not answer in CACHE_TIMEOUT, and what the database
# raises when PostgreSQL restarts or SQLite stays locked (the database cache included).
INFRASTRUCTURE_FAULTS = [
    pytest.param(lambda: redis.exceptions.ConnectionError("Connection closed by server."), id="redis-restart"),
    pytest.param(lambda: redis.exceptions.TimeoutError("Timeout reading from socket"), id="redis-timeout"),
    pytest.param(lambda: OperationalError("database is locked"), id="database-locked"),
]


def fail_cache_reads_once(monkeypatch, fault, *, of: str):
    """The next read of a cache key starting with `of` raises `fault()`; the cache answers again after."""
    backend = caches["default"]
    real_get = backend.get
    left = {"faults": 1}

    def get(key, *args, **kwargs):
        if key.startswith(of) and left["faults"]:
            left["faults"] -= 1
            raise fault()
        return real_get(key, *args, **kwargs)

    monkeypatch.setattr(backend, "get", get)
    return left


# --- A task meets the cache or the database failing for a moment ---------------------------------


@pytest.mark.parametrize("key", [
    pytest.param("slack:revoked", id="at-the-access-check"),  # every task's first cache read
    pytest.param("posting:", id="in-the-delivery"),  # the delivery's own first
])
@pytest.mark.parametrize("fault", INFRASTRUCTURE_FAULTS)
def test_a_delivery_that_meets_a_passing_cache_or_database_fault_is_retried_not_refused(
        client, fake_slack, no_backoff, attempts, monkeypatch, fault, key):
    """Redis restarting (or the database locked) for a moment while a worker delivers a request is a
    passing fault, like Slack's 5xx: the task tries again and the request reaches its approvers. It must
    not end the task for good and tell the requester "did not reach your approvers" (DESIGN §8:
    transient is not permanent; README: "a task attempt fails and is retried")."""
    install_config()
    view = open_request_form(client, fake_slack, ALICE)  # warm: no other task reads the cache meanwhile
    left = fail_cache_reads_once(monkeypatch, fault, of=key)

    submit_request(client, ALICE, view, request_values("vacation", MONDAY, WEDNESDAY))

    assert left["faults"] == 0  # the fault was met
    # The immediate backend runs a retry inside the attempt that enqueued it: it finishes first.
    deliveries = sorted((attempt, status) for name, attempt, status in attempts if name == "deliver_request")
    assert deliveries == [(1, TaskResultStatus.FAILED), (2, TaskResultStatus.SUCCESSFUL)]
    assert len(posted_requests(fake_slack, C_ENG_APPROVALS)) == 1
    assert not any("did not reach" in dm for dm in dms_to(fake_slack, ALICE))
    assert not DeliveryProblem.objects.exists()


@pytest.mark.parametrize("fault", INFRASTRUCTURE_FAULTS)
def test_a_decision_written_before_a_passing_cache_fault_is_finished_not_reported_as_failed(
        client, fake_slack, no_backoff, monkeypatch, fault):
    """Bob approves; the message is rewritten, then the cache fails for a moment as the decision's mark is
    written. The approval is in the ledger: the next attempt finds it there and sends what follows it
    (Alice's DM). It must not tell Bob his approval could not be recorded ("Slack refused it") and leave
    Alice unaware (DESIGN §8: a success is never reported as a failure)."""
    from approvals import block_ids as ids
    from test_support.flows import BOB, click, ephemerals_to

    install_config()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack, C_ENG_APPROVALS)
    backend = caches["default"]
    real_set = backend.set
    left = {"faults": 1}

    def set_(key, *args, **kwargs):
        if key.startswith("decided:") and left["faults"]:
            left["faults"] -= 1
            raise fault()
        return real_set(key, *args, **kwargs)

    monkeypatch.setattr(backend, "set", set_)
    click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted)

    assert left["faults"] == 0  # the fault was met, after the rewrite
    [message] = [m for m in fake_slack.workspace.messages(C_ENG_APPROVALS) if m.metadata]
    assert message.metadata["event_payload"]["status"] == "approved"
    assert not any("could not record" in note for note in ephemerals_to(fake_slack, BOB) + dms_to(fake_slack, BOB))
    assert any("approved" in dm.lower() for dm in dms_to(fake_slack, ALICE)[1:])  # after her receipt
    assert not DeliveryProblem.objects.exists()


def test_a_request_posted_before_the_cache_stopped_taking_writes_is_not_reported_undelivered(
        client, fake_slack, no_backoff, monkeypatch):
    """The request is posted to its approvals channel; then the cache refuses writes for longer than the
    task's attempts (Redis at maxmemory with `noeviction`, as the README asks, answers every write with
    an OOM error and still answers reads). Every attempt finds the post and fails to record it; the last
    gives up. The request is in the ledger, with its buttons: Alice must not be told it "did not reach
    your approvers" (she would send it again: two requests), nor HR shown it as undelivered; what is
    lost is its follow-ups (DESIGN §8: a success is never reported as a failure)."""
    from approvals import ledger_reader

    install_config()
    view = open_request_form(client, fake_slack, ALICE)
    backend = caches["default"]
    real_set_many = backend.set_many

    def set_many(data, *args, **kwargs):
        if ledger_reader.WRITES_KEY in data:  # recording the posted request in the cached ledger
            raise redis.exceptions.OutOfMemoryError("command not allowed when used memory > 'maxmemory'.")
        return real_set_many(data, *args, **kwargs)

    monkeypatch.setattr(backend, "set_many", set_many)
    submit_request(client, ALICE, view, request_values("vacation", MONDAY, WEDNESDAY))

    assert len(posted_requests(fake_slack, C_ENG_APPROVALS)) == 1  # posted once, by the first attempt
    assert not any("did not reach" in dm for dm in dms_to(fake_slack, ALICE))
    assert not DeliveryProblem.objects.exclude(error__startswith="follow-ups").exists()


def test_a_decision_written_before_the_cache_stopped_taking_writes_is_not_reported_unrecorded(
        client, fake_slack, no_backoff, monkeypatch):
    """Bob's approval rewrites the message; then the cache refuses writes (Redis at maxmemory with
    `noeviction`) for longer than the task's attempts, so no attempt can mark the decision written. The
    approval is in the ledger: Bob must not be told it could not be recorded (he would click again on a
    message that no longer has buttons, or tell Alice it failed); HR sees its follow-ups as lost."""
    from approvals import block_ids as ids
    from test_support.flows import BOB, click, ephemerals_to

    install_config()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack, C_ENG_APPROVALS)
    backend = caches["default"]
    real_set = backend.set

    def set_(key, *args, **kwargs):
        if key.startswith("decided:"):
            raise redis.exceptions.OutOfMemoryError("command not allowed when used memory > 'maxmemory'.")
        return real_set(key, *args, **kwargs)

    monkeypatch.setattr(backend, "set", set_)
    click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted)

    [message] = [m for m in fake_slack.workspace.messages(C_ENG_APPROVALS) if m.metadata]
    assert message.metadata["event_payload"]["status"] == "approved"
    told_bob = ephemerals_to(fake_slack, BOB) + dms_to(fake_slack, BOB)
    assert not any("could not record" in note or "refused" in note for note in told_bob), told_bob
    [problem] = DeliveryProblem.objects.all()
    assert problem.error[:10] == "follow-ups"
    # The cache failed, not Slack: HR is not sent to look at Slack.
    assert problem.summary.endswith("could be sent: something went wrong on our side."), problem.summary


# --- The cache answers too late on Slack's request path -------------------------------------------


def test_a_form_whose_pending_add_timed_out_after_it_was_made_is_delivered_when_sent_again(
        client, fake_slack, no_backoff, monkeypatch):
    """Redis ran the submission's add (the form's claim, the pending entry) but its answer did not come
    within CACHE_TIMEOUT: the request answers 500, Slack shows the form's error, and the person presses
    Submit again (the same view: the same id and hash). That second submission must send the request:
    not find the first one's claim, say nothing and close the form while no task will ever deliver it."""
    from approvals import pending_indexes

    install_config()
    view = open_request_form(client, fake_slack, ALICE)  # warms Alice's caches: the form is checked in full
    real_add_if = pending_indexes.add_if
    lost = {"answers": 1}

    def add_if_answer_lost(*args, **kwargs):
        outcome = real_add_if(*args, **kwargs)  # Redis did it...
        if lost["answers"]:
            lost["answers"] -= 1
            raise redis.exceptions.TimeoutError("Timeout reading from socket")  # ...and its answer was lost
        return outcome

    monkeypatch.setattr(pending_indexes, "add_if", add_if_answer_lost)
    client.raise_request_exception = False
    values = request_values("vacation", MONDAY, WEDNESDAY)

    first = submit_request(client, ALICE, view, values)
    assert first.status_code == 500  # Slack shows "We had some trouble connecting"; the form stays open
    assert posted_requests(fake_slack, C_ENG_APPROVALS) == []

    again = submit_request(client, ALICE, view, values)  # the same form, sent again
    assert again.status_code == 200 and again.content == b""  # it closes...
    assert len(posted_requests(fake_slack, C_ENG_APPROVALS)) == 1  # ...and the request reaches its approvers


# --- The database cache (the embedded default) failing a write --------------------------------------


@pytest.fixture
def fail_database_cache_write(monkeypatch):
    """`fail_database_cache_write(key)`: the next write of that cache key to the database cache's table
    fails as SQLite fails it after waiting out another writer ("database is locked"), or PostgreSQL when
    it restarts: an OperationalError from the driver. Returns the faults still to be met."""
    from django.core.cache.backends.db import DatabaseCache
    from django.db.backends import utils

    backend = caches["default"]
    if not isinstance(backend, DatabaseCache):
        pytest.skip("the database cache only (CACHE_URL unset: the embedded default)")
    real_execute = utils.CursorWrapper._execute  # the driver's call, under Django's execute wrappers
    left = {"faults": 0, "key": None}

    def execute(self, sql, params, *ignored_wrapper_kwargs):
        if (left["faults"] and sql.lstrip().upper().startswith(("INSERT", "UPDATE")) and backend._table in sql
                and any(isinstance(p, str) and p.endswith(left["key"]) for p in params or ())):
            left["faults"] -= 1
            raise OperationalError("database is locked")
        return real_execute(self, sql, params, *ignored_wrapper_kwargs)

    monkeypatch.setattr(utils.CursorWrapper, "_execute", execute)

    def arm(key: str) -> dict:
        left.update(faults=1, key=key)
        return left

    return arm


@pytest.mark.parametrize("key", ["slack:event:Ev_UNINSTALL", "slack:revoked"])
def test_an_event_the_database_cache_could_not_record_is_retried_not_acknowledged(
        client, fake_slack, fail_database_cache_write, key):
    """`app_uninstalled` arrives while the database cache cannot write. Django's DatabaseCache swallows
    the error: `add` answers False, as if the key were taken, and `set` stores nothing. Failing the event's
    de-duplication key, the event is taken for a duplicate of itself; failing the revocation's mark, it is
    handled without effect. Either way it is answered 200, Slack never sends it again, and every task
    keeps calling Slack with the revoked token. It must be handled, or answered 5xx so Slack retries."""
    from approvals.installation import slack_access_lost
    from test_support.slack_requests import event_envelope, post_event

    left = fail_database_cache_write(key)
    client.raise_request_exception = False
    envelope = event_envelope({"type": "app_uninstalled"}, event_id="Ev_UNINSTALL")
    first = post_event(client, envelope)
    assert left["faults"] == 0  # the fault was met
    if first.status_code == 200:
        assert slack_access_lost() == "app_uninstalled"  # a 200 says it was handled
    else:
        assert first.status_code >= 500  # Slack retries...
        assert post_event(client, envelope, retry_num=1).status_code == 200
        assert slack_access_lost() == "app_uninstalled"  # ...and the retry handles it


@pytest.mark.django_db(transaction=True)  # two requests at once, each on its own connection
def test_a_form_sent_again_while_its_first_enqueue_waits_on_a_locked_database_is_not_lost(
        fake_slack, no_backoff, settings, monkeypatch):
    """SQLite (the embedded default) waits up to 20 s for another writer's lock, past Slack's 3 s: Slack
    shows the form's error and the person presses Submit again. The first submission still holds the
    form's claim, so the second is taken for a duplicate and closes the form ("on its way"); then the
    first's INSERT fails ("database is locked") and it gives the claim back, to nobody. The form closed,
    and no task will deliver the request. It must either be delivered or the form must not close."""
    import threading

    from django.db import connections
    from django.db.backends import utils
    from django_tasks_db.models import DBTaskResult

    install_config()
    client = Client()
    view = open_request_form(client, fake_slack, ALICE)  # warms Alice's caches (immediate tasks)
    settings.TASKS = {"default": {"BACKEND": "approvals.task_backend.DatabaseBackend"}}  # rows, as in production
    values = request_values("vacation", MONDAY, WEDNESDAY)
    real_execute = utils.CursorWrapper._execute
    first_waits, second_answered = threading.Event(), threading.Event()
    table = DBTaskResult._meta.db_table

    def execute(self, sql, params, *rest):
        if sql.lstrip().upper().startswith("INSERT") and table in sql and not first_waits.is_set():
            first_waits.set()
            second_answered.wait(10)  # the busy timeout, waited out while the person sends it again...
            raise OperationalError("database is locked")  # ...and then SQLite gives up
        return real_execute(self, sql, params, *rest)

    monkeypatch.setattr(utils.CursorWrapper, "_execute", execute)
    answers = {}

    def first():
        try:
            answers["first"] = submit_request(Client(raise_request_exception=False), ALICE, view, values).status_code
        finally:
            connections.close_all()

    thread = threading.Thread(target=first)
    thread.start()
    assert first_waits.wait(10)
    again = submit_request(Client(raise_request_exception=False), ALICE, view, values)
    second_answered.set()
    thread.join(10)

    assert answers["first"] == 500  # nobody hears it: Slack gave up on it at 3 s
    if again.status_code == 200 and again.content == b"":  # the form closed: the request must be on its way
        assert DBTaskResult.objects.filter(task_path__endswith=".deliver_request").exists()
    # The form stayed open, saying why; sent once more, now that the first gave its claim back, it goes.
    assert again.json()["errors"] == {FIELD_START: STILL_BEING_SENT_TEXT}
    assert not DBTaskResult.objects.exists()
    third = submit_request(Client(), ALICE, view, values)
    assert third.status_code == 200 and third.content == b""
    assert DBTaskResult.objects.filter(task_path__endswith=".deliver_request").count() == 1


def test_a_form_sent_again_closes_as_sent_once_its_first_delivery_is_queued(fake_slack, settings):
    """A double click, or Submit pressed again after Slack gave up waiting on a slow first answer: the
    first's delivery is queued, so the second closes the form and queues nothing."""
    from django_tasks_db.models import DBTaskResult

    install_config()
    client = Client()
    view = open_request_form(client, fake_slack, ALICE)
    settings.TASKS = {"default": {"BACKEND": "approvals.task_backend.DatabaseBackend"}}  # rows, as in production
    values = request_values("vacation", MONDAY, WEDNESDAY)
    first = submit_request(client, ALICE, view, values)
    again = submit_request(client, ALICE, view, values)
    assert (first.status_code, first.content, again.status_code, again.content) == (200, b"", 200, b"")
    assert DBTaskResult.objects.filter(task_path__endswith=".deliver_request").count() == 1


# --- A worker told to stop twice (a deploy, Ctrl+C under a Procfile runner) ----------------------------


def test_a_delivery_cut_short_by_a_second_stop_signal_is_queued_again_not_failed(
        fake_slack, no_backoff, settings, monkeypatch):
    """A worker asked to stop (SIGTERM) finishes its task; asked again (honcho passes the terminal's
    Ctrl+C on as a second signal; an impatient operator) django-tasks-db's worker exits at once:
    `sys.exit(1)` raises SystemExit inside the running task, which it records FAILED. Only RUNNING rows
    are recovered, and our retry catches only Exception: the request is never delivered and nobody is
    told. The cut-short attempt must be queued again (every task is idempotent)."""
    import signal
    import uuid

    from django_tasks_db.management.commands.db_worker import Worker
    from django_tasks_db.models import DBTaskResult

    from approvals import tasks
    from approvals.request_services import Submission

    install_config()
    settings.TASKS = {"default": {"BACKEND": "approvals.task_backend.DatabaseBackend"}}
    submission = Submission(id=str(uuid.uuid4()), user=ALICE, leave_type="vacation", start=MONDAY, end=WEDNESDAY,
                            start_half=None, end_half=None, note="", validated=True)
    first = tasks.deliver_request.enqueue(submission.as_task_data())
    worker = Worker(queue_names=["default"], interval=0, batch=True, backend_name="default", startup_delay=False,
                    max_tasks=None, worker_id="test-worker", excluded_queue_names=[])
    monkeypatch.setattr(worker, "reset_signals", lambda: None)  # leave pytest's own handlers alone
    backend = caches["default"]
    real_get = backend.get
    stops = {"left": 1}

    def get(key, *args, **kwargs):
        if key.startswith("posting:") and stops["left"]:  # the task is running: both signals arrive now
            stops["left"] -= 1
            worker.shutdown(signal.SIGTERM, None)  # "shutting down gracefully"
            worker.shutdown(signal.SIGINT, None)  # "terminating current task": sys.exit(1)
        return real_get(key, *args, **kwargs)

    monkeypatch.setattr(backend, "get", get)
    row = DBTaskResult.objects.get(id=first.id)
    row.claim(worker.worker_id)
    worker.run_task(row)

    assert stops["left"] == 0
    monkeypatch.setattr(backend, "get", real_get)
    waiting = DBTaskResult.objects.exclude(status__in=["SUCCESSFUL", "FAILED"])
    assert waiting.filter(task_path__endswith=".deliver_request").exists()  # queued again (or left to recovery)


# --- /timeoff while the database refuses the warm-up's task row -------------------------------------


@pytest.mark.django_db(transaction=True)  # as a request runs: no test transaction for the failed INSERT to break
def test_timeoff_whose_form_opened_is_not_answered_as_failed_when_the_warm_up_cannot_be_queued(
        client, fake_slack, settings, monkeypatch):
    """`/timeoff` opens the form (views.open succeeded: the person sees it), then queues the background
    warm-up of their caches. With the database refusing that row (locked, restarting), the command is
    answered 500 and Slack shows "/timeoff failed" over the open form. The warm-up is an optimisation
    (a cold submission is checked in its task, DESIGN §5): the command succeeded."""
    from django.db.backends import utils
    from django_tasks_db.models import DBTaskResult

    from test_support.slack_requests import post_command

    install_config()
    settings.TASKS = {"default": {"BACKEND": "approvals.task_backend.DatabaseBackend"}}
    real_execute = utils.CursorWrapper._execute
    table = DBTaskResult._meta.db_table

    def execute(self, sql, params, *rest):
        if sql.lstrip().upper().startswith("INSERT") and table in sql:
            raise OperationalError("database is locked")
        return real_execute(self, sql, params, *rest)

    monkeypatch.setattr(utils.CursorWrapper, "_execute", execute)
    client.raise_request_exception = False
    response = post_command(client, "", user_id=ALICE)

    assert len(fake_slack.calls("views.open")) == 1  # the form is open in front of Alice
    assert response.status_code == 200 and response.content == b""


# --- The cache down for longer than Slack's faults are retried ---------------------------------------


def test_a_delivery_outlasts_a_cache_outage_longer_than_six_attempts(client, fake_slack, no_backoff, attempts,
                                                                      monkeypatch):
    """Redis is down (a restart with a long load, a failover) from the moment the delivery starts until its
    eighth attempt: longer than the six attempts (about 2.5 minutes) a Slack fault gets. The delivery
    gives up on the sixth, and its give-up needs the cache too: the requester is never told and the
    request never reaches its approvers. Our own services failing must be waited out for longer."""
    from django.tasks.signals import task_started

    install_config()
    view = open_request_form(client, fake_slack, ALICE)
    backend = caches["default"]
    down = {"now": False}

    def unavailable(real):
        def call(*args, **kwargs):
            if down["now"]:
                raise redis.exceptions.ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")
            return real(*args, **kwargs)
        return call

    for method in ("get", "get_many", "set", "set_many", "add", "delete", "delete_many"):
        monkeypatch.setattr(backend, method, unavailable(getattr(backend, method)))

    def outage(sender, task_result, **kwargs):
        if task_result.task.name == "deliver_request":
            down["now"] = task_result.kwargs.get("attempt", 1) < 8  # back for the eighth attempt

    task_started.connect(outage)
    try:
        response = submit_request(client, ALICE, view, request_values("vacation", MONDAY, WEDNESDAY))
    finally:
        task_started.disconnect(outage)
        down["now"] = False

    assert response.status_code == 200
    assert len(posted_requests(fake_slack, C_ENG_APPROVALS)) == 1
    assert any("is with" in dm for dm in dms_to(fake_slack, ALICE))  # her receipt
