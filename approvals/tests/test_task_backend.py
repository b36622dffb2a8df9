"""Our task backend (approvals/task_backend.py) writes the row django-tasks-db would, with one INSERT.

Each test enqueues through our backend, as configured in TASKS, and where it
compares, through django-tasks-db's own `DatabaseBackend` on the same database:
the stored columns, the TaskResult, the signal, a worker running the row, and
the caller's transaction.
"""

import uuid
from datetime import timedelta

import django_tasks_db
import pytest
from django.db import IntegrityError, connection, transaction
from django.db.models.signals import post_save
from django.db.transaction import TransactionManagementError
from django.tasks import TaskResultStatus, task, task_backends
from django.tasks.signals import task_enqueued
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_tasks_db.backend import TaskResult
from django_tasks_db.management.commands.db_worker import Worker, valid_backend_name
from django_tasks_db.models import DBTaskResult, get_date_max

from approvals.task_backend import DatabaseBackend

pytestmark = pytest.mark.django_db

RAN = []  # what `record` was called with, in this process


@task
def record(*args, **kwargs):
    """A task with no Slack behind it: the worker test sees it ran."""
    RAN.append((list(args), kwargs))
    return {"recorded": len(RAN)}


ARGS = ("a", 1, 2.5, None, True, [2, (3, 4)], {"k": ("v", {"n": None})})
KWARGS = {"when": "2026-03-10", "people": ("U_ALICE", "U_BOB")}


@pytest.fixture
def ours(settings):
    """Our backend as the default one, as production configures it (a second queue for the tests)."""
    settings.TASKS = {"default": {"BACKEND": "approvals.task_backend.DatabaseBackend", "QUEUES": ["default", "other"]}}
    backend = task_backends["default"]
    assert type(backend) is DatabaseBackend
    return backend


@pytest.fixture
def upstream(ours):
    """django-tasks-db's own backend, as it would be configured in our place."""
    return django_tasks_db.DatabaseBackend("default", {"QUEUES": ["default", "other"]})


@pytest.fixture
def enqueued_signals():
    received = []

    def receiver(sender, task_result, **kwargs):
        received.append((sender, task_result))

    task_enqueued.connect(receiver, dispatch_uid="test_task_backend")
    yield received
    task_enqueued.disconnect(dispatch_uid="test_task_backend")


def raw_row(result_id: str) -> dict:
    """The row's columns as the database driver returns them: no field conversion in between."""
    meta = DBTaskResult._meta
    quote = connection.ops.quote_name
    columns = [field.column for field in meta.concrete_fields]
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {', '.join(map(quote, columns))} FROM {quote(meta.db_table)} "
                       f"WHERE {quote(meta.pk.column)} = %s",
                       [meta.pk.get_db_prep_value(uuid.UUID(result_id), connection)])
        return dict(zip(columns, cursor.fetchone(), strict=True))


def variants():
    later = timezone.now().replace(microsecond=123456) + timedelta(minutes=5)
    return {
        "plain": record,
        "priority": record.using(priority=7),
        "negative priority, other queue": record.using(priority=-3, queue_name="other"),
        "run_after": record.using(run_after=later),
        "run_after and priority": record.using(run_after=later, priority=100),
    }


VARIANTS = ["plain", "priority", "negative priority, other queue", "run_after", "run_after and priority"]


@pytest.mark.parametrize("variant", VARIANTS)
def test_the_row_is_upstreams_column_by_column(ours, upstream, variant):
    this_task = variants()[variant]
    mine = ours.enqueue(this_task, ARGS, KWARGS)
    theirs = upstream.enqueue(this_task, ARGS, KWARGS)

    ours_row, upstream_row = raw_row(mine.id), raw_row(theirs.id)
    assert ours_row.keys() == upstream_row.keys()
    different = {column for column in ours_row if ours_row[column] != upstream_row[column]}
    assert different == {"id", "enqueued_at"}

    row = DBTaskResult.objects.get(id=mine.id)
    assert row.status == TaskResultStatus.READY
    assert row.args_kwargs == {"args": ["a", 1, 2.5, None, True, [2, [3, 4]], {"k": ["v", {"n": None}]}],
                               "kwargs": {"when": "2026-03-10", "people": ["U_ALICE", "U_BOB"]}}
    assert (row.task_path, row.priority, row.queue_name, row.backend_name) == (
        "approvals.tests.test_task_backend.record", this_task.priority, this_task.queue_name, "default")
    # No run_after: upstream's pre_save receiver stores get_date_max() (the column is not nullable).
    assert row.run_after == (this_task.run_after or get_date_max())
    assert row.worker_ids == [] and row.return_value is None and row.started_at is row.finished_at is None
    assert row.exception_class_path == row.traceback == ""
    assert theirs.enqueued_at <= timezone.now() and mine.enqueued_at <= theirs.enqueued_at


def test_one_insert_the_orms_own(ours, upstream):
    with CaptureQueriesContext(connection) as mine:
        ours.enqueue(record, ARGS, KWARGS)
    with CaptureQueriesContext(connection) as theirs:
        upstream.enqueue(record, ARGS, KWARGS)
    [ours_query] = mine.captured_queries
    assert ours_query["sql"].startswith("INSERT INTO ")
    assert ours_query["sql"].split(" VALUES ")[0] == theirs.captured_queries[0]["sql"].split(" VALUES ")[0]


@pytest.mark.parametrize("variant", VARIANTS)
def test_the_task_result_is_the_one_upstream_builds_from_the_row(ours, upstream, variant):
    this_task = variants()[variant]
    result = ours.enqueue(this_task, ARGS, KWARGS)

    assert isinstance(result, TaskResult)
    row = DBTaskResult.objects.get(id=result.id)
    assert result.id == str(row.id)
    assert result.status == TaskResultStatus.READY
    assert result.args == row.args_kwargs["args"] and result.kwargs == row.args_kwargs["kwargs"]
    assert result.task is this_task  # the task given, not one imported and rebuilt
    assert result.enqueued_at == row.enqueued_at
    assert result.backend == "default" and result.errors == [] and result.worker_ids == []
    assert result.started_at is result.finished_at is result.last_attempted_at is None
    assert not result.is_finished
    # The saved instance, as `objects.create()` leaves it.
    assert result.db_result.pk == row.pk and not result.db_result._state.adding
    assert result.db_result._state.db == "default"

    # What upstream's backend reads back from the row is the same TaskResult.
    stored = upstream.get_result(result.id)
    fields = ("id", "status", "enqueued_at", "started_at", "finished_at", "last_attempted_at", "args", "kwargs",
              "backend", "errors", "worker_ids", "task")
    assert {f: getattr(result, f) for f in fields} == {f: getattr(stored, f) for f in fields}
    assert ours.get_result(result.id).task == this_task
    with pytest.raises(ValueError, match="not finished"):
        result.return_value  # noqa: B018 - as upstream's: no value before the task finishes


def test_the_task_enqueued_signal_fires_once_with_the_result(ours, enqueued_signals):
    result = record.enqueue(*ARGS, **KWARGS)  # Task.enqueue: through the configured backend, ours
    assert enqueued_signals == [(DatabaseBackend, result)]
    assert enqueued_signals[0][1] is result


def test_the_model_signals_see_what_create_would_show_them(ours, upstream):
    saved = []

    def receiver(sender, instance, created, using, **kwargs):
        saved.append((created, using, instance._state.adding, instance.run_after, instance.enqueued_at is not None))

    post_save.connect(receiver, sender=DBTaskResult, dispatch_uid="test_task_backend_post_save")
    try:
        ours.enqueue(record, ARGS, KWARGS)
        upstream.enqueue(record, ARGS, KWARGS)
    finally:
        post_save.disconnect(sender=DBTaskResult, dispatch_uid="test_task_backend_post_save")
    assert saved == [(True, "default", False, get_date_max(), True)] * 2


@pytest.mark.django_db(transaction=True)  # the worker's loop closes and reopens its connection
def test_a_worker_runs_the_row(ours):
    RAN.clear()
    due = record.enqueue("now", n=1)
    later = record.using(run_after=timezone.now() + timedelta(hours=1)).enqueue("later")
    worker = Worker(queue_names=["default"], interval=0, batch=True, backend_name="default", startup_delay=False,
                    max_tasks=None, worker_id="test-worker", excluded_queue_names=[])
    worker.run()  # django-tasks-db's own loop: every ready row, then it stops

    assert RAN == [(["now"], {"n": 1})]
    due.refresh()
    assert due.status == TaskResultStatus.SUCCESSFUL and due.return_value == {"recorded": 1}
    assert due.worker_ids == ["test-worker"]
    later.refresh()
    assert later.status == TaskResultStatus.READY  # not before its time


def test_the_worker_and_our_queue_code_take_our_backend(ours):
    assert valid_backend_name("default") == "default"  # db_worker's --backend check: isinstance
    assert isinstance(ours, django_tasks_db.DatabaseBackend)  # task_queue.prune_finished_tasks' check


@pytest.mark.django_db(transaction=True)
def test_the_row_belongs_to_the_callers_transaction(ours):
    with pytest.raises(RuntimeError), transaction.atomic():
        inside = record.enqueue("rolled back")
        assert DBTaskResult.objects.filter(id=inside.id).exists()  # written on the caller's connection
        raise RuntimeError("the caller's work failed")
    assert not DBTaskResult.objects.filter(id=inside.id).exists()

    committed = record.enqueue("committed")  # autocommit: there at once
    assert DBTaskResult.objects.filter(id=committed.id).exists()


def test_a_failed_insert_marks_the_transaction_for_rollback_as_create_does(ours, settings):
    fixed = uuid.uuid4()
    settings.TASKS = {"default": {"BACKEND": "approvals.task_backend.DatabaseBackend",
                                  "OPTIONS": {"id_function": lambda: fixed}}}
    backend = task_backends["default"]
    record.enqueue("first")
    with transaction.atomic():
        with pytest.raises(IntegrityError):
            backend.enqueue(record, ("again",), {})  # the same id
        with pytest.raises(TransactionManagementError):
            DBTaskResult.objects.count()
    assert DBTaskResult.objects.filter(id=fixed).count() == 1


def test_a_task_is_validated_once_unless_it_has_a_time(ours, monkeypatch):
    five, five_again = record.using(priority=5), record.using(priority=5)  # equal tasks, made apart
    retries = [record.using(run_after=timezone.now() + timedelta(minutes=minutes)) for minutes in (1, 2, 3)]
    checked = []
    validate_task = ours.validate_task
    monkeypatch.setattr(ours, "validate_task", lambda this_task: (checked.append(this_task), validate_task(this_task)))

    for _ in range(3):
        record.enqueue("x")
    five.enqueue("x")
    five_again.enqueue("x")
    assert checked == [record, five]

    checked.clear()
    for retry in retries:  # a retry's task: a new time each time, validated each time and never kept
        retry.enqueue("x")
    assert checked == retries
    assert len(ours._validated) == 2


@pytest.mark.django_db(transaction=True)  # a connection outside any transaction, as a request has
@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs a PostgreSQL server to drop the connection")
def test_a_connection_that_died_since_its_last_use_is_replaced_and_the_row_written(ours):
    """Without a health check before each request (CONN_HEALTH_CHECKS off), PostgreSQL restarting
    kills the kept connection: the enqueue notices, reconnects and writes its row once."""
    import psycopg

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        [pid] = cursor.fetchone()
    settings_dict = connection.settings_dict
    with psycopg.connect(host=settings_dict["HOST"] or "127.0.0.1", port=settings_dict["PORT"] or 5432,
                         user=settings_dict["USER"], dbname=settings_dict["NAME"], autocommit=True) as other:
        other.execute("SELECT pg_terminate_backend(%s)", [pid])

    result = record.enqueue("after a restart")

    assert DBTaskResult.objects.filter(id=result.id, args_kwargs__args=["after a restart"]).count() == 1
    assert DBTaskResult.objects.count() == 1


@pytest.mark.django_db(transaction=True)  # autocommit, as a request's enqueue runs
def test_an_insert_whose_answer_was_lost_after_it_committed_is_not_an_error(ours, monkeypatch):
    """The server wrote the row, then the connection dropped before its answer: the second try finds
    the row under the enqueue's own (random) id and counts it written, once, not a duplicate key."""
    from django.db import OperationalError

    real_cursor = connection.cursor
    tries = []

    class AnswerLostCursor:
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def execute(self, sql, params):
            tries.append(sql)
            with real_cursor() as cursor:
                cursor.execute(sql, params)  # committed (autocommit) ...
                self.rowcount = cursor.rowcount
            if len(tries) == 1:
                raise OperationalError("server closed the connection unexpectedly")  # ... its answer lost

    enqueued = []
    task_enqueued.connect(lambda sender, task_result, **kw: enqueued.append(task_result.id), weak=False,
                          dispatch_uid="answer-lost")
    monkeypatch.setattr(connection, "cursor", AnswerLostCursor)
    monkeypatch.setattr(connection, "is_usable", lambda: False)
    monkeypatch.setattr(connection, "close", lambda: None)
    try:
        result = record.enqueue("answer lost")
    finally:
        task_enqueued.disconnect(dispatch_uid="answer-lost")
        monkeypatch.undo()

    assert len(tries) == 2
    assert DBTaskResult.objects.filter(id=result.id, args_kwargs__args=["answer lost"]).count() == 1
    assert DBTaskResult.objects.count() == 1
    assert enqueued == [result.id]


def test_a_failed_insert_inside_a_transaction_is_not_written_again(ours, monkeypatch):
    """Inside the caller's transaction a failing INSERT is the caller's to handle: no second try."""
    from django.db import OperationalError

    calls = []

    class FailingCursor:
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def execute(self, sql, params):
            calls.append(sql)
            raise OperationalError("server closed the connection unexpectedly")

    with transaction.atomic():
        monkeypatch.setattr(connection, "cursor", FailingCursor)
        with pytest.raises(OperationalError):
            record.enqueue("inside")
        monkeypatch.undo()
    assert len(calls) == 1
