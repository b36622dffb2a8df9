"""A rolling deploy: a task row this release cannot run is handed to a worker that can, not failed.

While a deploy rolls, the old and the new release's workers take rows from one
table. django-tasks-db's worker marks a row FAILED when its task does not import
(the request it carried is lost); `task_worker` checks the task and its
arguments first and puts such a row back in the queue, a little later each time,
for a worker of the release that knows it, until TASK_HANDOVER_MAX_SECONDS after
it was enqueued. A row this release knows runs as before.
"""

import logging
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.tasks import TaskResultStatus, task
from django.tasks.signals import task_started
from django.utils import timezone
from django_tasks_db.management.commands.db_worker import Worker as UpstreamWorker
from django_tasks_db.models import DBTaskResult, get_date_max
from prometheus_client import REGISTRY

from approvals import tasks
from approvals.management.commands.task_worker import Worker
from approvals.request_services import Decision, Submission
from approvals.task_queue import TaskFromAnotherRelease, task_unknown_here

pytestmark = pytest.mark.django_db

RAN = []


@task
def known_everywhere(note: str) -> str:
    """A task both releases have: it runs."""
    RAN.append(note)
    return note


@pytest.fixture(autouse=True)
def database_tasks(settings):
    settings.TASKS = {"default": {"BACKEND": "approvals.task_backend.DatabaseBackend"}}
    RAN.clear()


def row_for(task_path: str, *args, enqueued_ago: float = 0, **kwargs) -> DBTaskResult:
    """A row as another release's web process writes it."""
    row = DBTaskResult.objects.create(task_path=task_path, args_kwargs={"args": list(args), "kwargs": kwargs},
                                      backend_name="default", run_after=get_date_max())
    if enqueued_ago:
        DBTaskResult.objects.filter(id=row.id).update(enqueued_at=timezone.now() - timedelta(seconds=enqueued_ago))
    return DBTaskResult.objects.get(id=row.id)


def worker(worker_id: str = "old-worker", cls=Worker):
    return cls(queue_names=["*"], interval=0, batch=True, backend_name="default", startup_delay=False,
               max_tasks=None, worker_id=worker_id, excluded_queue_names=[])


def claim_and_run(row: DBTaskResult, worker_id: str = "old-worker", cls=Worker) -> DBTaskResult:
    """What the worker's loop does with the row it took: claim it, run it."""
    row.claim(worker_id)
    worker(worker_id, cls).run_task(row)
    return DBTaskResult.objects.get(id=row.id)


def handovers(outcome: str) -> float:
    return sum(sample.value for family in REGISTRY.collect() if family.name == "timeoff_task_handovers"
               for sample in family.samples if sample.name.endswith("_total") and sample.labels["outcome"] == outcome)


NEWER_TASK = "approvals.tasks.a_task_only_a_newer_release_has"


def test_django_tasks_db_alone_fails_such_a_row_and_loses_it():
    # What upstream's worker does today (django-tasks-db 0.13): import_string raises in run_task.
    row = claim_and_run(row_for(NEWER_TASK, "U_ALICE"), cls=UpstreamWorker)
    assert row.status == TaskResultStatus.FAILED and "ImportError" in row.exception_class_path


def test_a_row_naming_a_task_this_release_lacks_goes_back_to_the_queue_for_another_worker(caplog):
    before = handovers("handed_over")
    with caplog.at_level(logging.WARNING, logger="approvals.task_queue"):
        row = claim_and_run(row_for(NEWER_TASK, "U_ALICE"))

    assert row.status == TaskResultStatus.READY and row.started_at is None and row.finished_at is None
    assert timezone.now() < row.run_after <= timezone.now() + timedelta(seconds=6)  # soon, not at once
    assert row.worker_ids == ["old-worker"]
    assert row.exception_class_path.endswith("TaskFromAnotherRelease")  # why it waits, in the admin
    assert handovers("handed_over") == before + 1
    assert any("not run here" in record.getMessage() and NEWER_TASK in record.getMessage()
               for record in caplog.records)


def test_a_worker_of_the_release_that_knows_it_then_runs_it(monkeypatch):
    row = claim_and_run(row_for(NEWER_TASK, "from the new web"))
    DBTaskResult.objects.filter(id=row.id).update(run_after=timezone.now())  # its delay has passed
    # The new release's worker: the task is there.
    monkeypatch.setattr(tasks, "a_task_only_a_newer_release_has", known_everywhere, raising=False)

    row = claim_and_run(DBTaskResult.objects.ready().get(id=row.id), worker_id="new-worker")

    assert row.status == TaskResultStatus.SUCCESSFUL and RAN == ["from the new web"]
    assert row.exception_class_path == "" and row.traceback == ""  # the hand-over note is gone
    assert row.worker_ids == ["old-worker", "new-worker"]


def test_each_hand_over_waits_longer_up_to_a_minute():
    row = row_for(NEWER_TASK)
    delays = []
    for n in range(8):
        before = timezone.now()
        row = claim_and_run(DBTaskResult.objects.get(id=row.id), worker_id=f"old-{n}")
        delays.append(int((row.run_after - before).total_seconds()))  # the delay, and the moments it took
    assert delays == [5, 10, 20, 40, 60, 60, 60, 60]


def test_a_row_no_worker_ran_in_time_is_failed_with_an_error(settings, caplog):
    settings.TASK_HANDOVER_MAX_SECONDS = 1800
    before = handovers("failed")
    with caplog.at_level(logging.ERROR, logger="approvals.task_queue"):
        row = claim_and_run(row_for(NEWER_TASK, "U_ALICE", enqueued_ago=1801))

    assert row.status == TaskResultStatus.FAILED
    assert row.exception_class_path == f"{TaskFromAnotherRelease.__module__}.TaskFromAnotherRelease"
    assert handovers("failed") == before + 1
    assert any("no worker of a release that knows it" in record.getMessage() for record in caplog.records)


@pytest.mark.parametrize("args, kwargs", [
    (("C_X", "U_X", "hi", "tell-key", "a fifth argument"), {}),  # a new parameter
    (("C_X", "U_X"), {}),  # a parameter this release has and that one dropped
    (("C_X", "U_X", "hi"), {"urgent": True}),  # a new keyword
], ids=["more", "fewer", "keyword"])
def test_arguments_the_function_here_does_not_take_are_handed_over(args, kwargs):
    row = row_for(tasks.tell_user.module_path, *args, **kwargs)
    assert "arguments not what tell_user takes" in task_unknown_here(row)
    assert claim_and_run(row).status == TaskResultStatus.READY


def submission_data(**changes) -> dict:
    return {**Submission(id="r1", user="U_ALICE", leave_type="vacation", start=timezone.now().date(),
                         end=timezone.now().date(), start_half=None, end_half=None, note="",
                         validated=True).as_task_data(), **changes}


def test_a_payload_with_a_field_this_release_lacks_is_handed_over():
    row = row_for(tasks.deliver_request.module_path, submission_data(approver_hint="U_BOB"))
    assert "approver_hint" in task_unknown_here(row)
    assert claim_and_run(row).status == TaskResultStatus.READY


def test_a_payload_lacking_a_required_field_is_handed_over():
    decision = Decision(request_id="r1", channel="C1", ts="1.2", approver="U_BOB", status="approved").as_task_data()
    del decision["approver"]
    assert "approver" in task_unknown_here(row_for(tasks.decide_request.module_path, decision))


def test_rows_this_release_writes_are_known_to_it():
    # Every kind of row the app enqueues, as it enqueues them (retries add attempt and previous_attempt).
    data = submission_data()
    del data["submitted_at"]  # an older release's submission, without a field that has a default
    rows = [
        row_for(tasks.deliver_request.module_path, submission_data(), attempt=2, previous_attempt="x"),
        row_for(tasks.deliver_request.module_path, data),
        row_for(tasks.decide_request.module_path, Decision(request_id="r1", channel="C1", ts="1.2",
                                                           approver="U_BOB", status="approved").as_task_data()),
        row_for(tasks.tell_user.module_path, "C_X", "U_X", "hi"),
        row_for(tasks.send_balance.module_path, "U_X"),
        row_for(tasks.send_balance.module_path, "U_X", 2031),
        row_for(tasks.publish_home.module_path, "U_X", True),
        row_for(tasks.edit_request.module_path, submission_data(), "U_X"),
    ]
    assert [task_unknown_here(row) for row in rows] == [None] * len(rows)


def test_a_row_this_release_knows_runs_and_is_seen_running():
    started = []

    def receiver(sender, task_result, **kwargs):
        started.append(task_result.id)

    task_started.connect(receiver)
    try:
        row = claim_and_run(row_for(known_everywhere.module_path, "hello"))
    finally:
        task_started.disconnect(receiver)
    assert row.status == TaskResultStatus.SUCCESSFUL and RAN == ["hello"]
    assert started == [str(row.id)]  # the heartbeat thread follows it (task_worker's RunningTask)


@pytest.mark.django_db(transaction=True)  # the worker's loop closes and reopens its connection
def test_the_task_worker_command_hands_over_and_runs(monkeypatch):
    unknown = row_for(NEWER_TASK, "U_ALICE")
    known = row_for(known_everywhere.module_path, "ran by the command")
    monkeypatch.setattr("approvals.management.commands.task_worker.lower_priority", lambda niceness: None)
    loggers = [logging.getLogger(name) for name in ("django.tasks", "django_tasks_db")]
    levels = [logger.level for logger in loggers]  # the command sets them from its verbosity

    try:
        call_command("task_worker", "--batch", "--no-reload", "--no-startup-delay", "--interval", "0",
                     "--worker-id", "cmd-worker", verbosity=0)
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)

    assert DBTaskResult.objects.get(id=known.id).status == TaskResultStatus.SUCCESSFUL
    unknown = DBTaskResult.objects.get(id=unknown.id)
    assert unknown.status == TaskResultStatus.READY and unknown.worker_ids == ["cmd-worker"]
