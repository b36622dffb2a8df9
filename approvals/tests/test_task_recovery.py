"""Stuck RUNNING rows go back to the queue; finished rows are pruned."""

from datetime import timedelta

import pytest
from django.tasks import TaskResultStatus
from django.utils import timezone
from django_tasks_db import DatabaseBackend
from django_tasks_db.models import DBTaskResult

from approvals import tasks
from approvals.models import TaskHeartbeat
from approvals.task_queue import prune_finished_tasks, recover_stuck_tasks, task_heartbeat

pytestmark = pytest.mark.django_db


def make_row(status, *, started_ago=None, finished_ago=None) -> DBTaskResult:
    result = DatabaseBackend("default", {}).enqueue(tasks.tell_user, ("C_X", "U_X", "hi"), {})
    now = timezone.now()
    DBTaskResult.objects.filter(id=result.id).update(
        status=status,
        started_at=None if started_ago is None else now - timedelta(seconds=started_ago),
        finished_at=None if finished_ago is None else now - timedelta(seconds=finished_ago),
    )
    return DBTaskResult.objects.get(id=result.id)


def test_only_tasks_running_past_the_timeout_are_requeued():
    stuck = make_row(TaskResultStatus.RUNNING, started_ago=700)
    busy = make_row(TaskResultStatus.RUNNING, started_ago=5)
    assert recover_stuck_tasks(stuck_after_seconds=600) == 1
    stuck.refresh_from_db()
    busy.refresh_from_db()
    assert stuck.status == TaskResultStatus.READY and stuck.started_at is None
    assert busy.status == TaskResultStatus.RUNNING
    assert DBTaskResult.objects.ready().filter(id=stuck.id).exists()


def test_a_task_whose_worker_still_beats_for_it_is_not_requeued_however_long_it_runs():
    # A full ledger read paced by Slack's rate limits runs for longer than any timeout: requeued while
    # its worker is alive, it would run twice at once.
    long_running = make_row(TaskResultStatus.RUNNING, started_ago=3600)
    task_heartbeat(long_running.id)
    assert recover_stuck_tasks(stuck_after_seconds=600) == 0
    long_running.refresh_from_db()
    assert long_running.status == TaskResultStatus.RUNNING


def test_a_task_whose_heartbeat_stopped_is_requeued_and_its_heartbeat_forgotten():
    orphaned = make_row(TaskResultStatus.RUNNING, started_ago=3600)
    task_heartbeat(orphaned.id)
    TaskHeartbeat.objects.filter(task_id=orphaned.id).update(beat_at=timezone.now() - timedelta(seconds=700))
    assert recover_stuck_tasks(stuck_after_seconds=600) == 1
    orphaned.refresh_from_db()
    assert orphaned.status == TaskResultStatus.READY
    assert not TaskHeartbeat.objects.exists()


def test_finished_rows_are_pruned_after_their_time(settings):
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    old_success = make_row(TaskResultStatus.SUCCESSFUL, finished_ago=2 * 24 * 3600)
    new_success = make_row(TaskResultStatus.SUCCESSFUL, finished_ago=60)
    recent_failure = make_row(TaskResultStatus.FAILED, finished_ago=2 * 24 * 3600)
    ready = make_row(TaskResultStatus.READY)
    assert prune_finished_tasks() == 1
    remaining = set(DBTaskResult.objects.values_list("id", flat=True))
    assert old_success.id not in remaining
    assert {new_success.id, recent_failure.id, ready.id} <= remaining


def test_the_workers_claim_stays_an_index_step_once_the_queue_statistics_are_refreshed():
    # Planned with the statistics of an empty table, a claim reads the whole backlog and sorts it
    # (approvals/task_queue.refresh_queue_statistics): after the refresh it walks the index.
    from django.db import connection, transaction

    from approvals.task_queue import refresh_queue_statistics

    if connection.vendor != "postgresql":
        refresh_queue_statistics()  # nothing to do there, and nothing raised
        pytest.skip("PostgreSQL plans from statistics; SQLite has none to refresh")
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {DBTaskResult._meta.db_table}")  # what autovacuum saw: an empty queue
    backend = DatabaseBackend("default", {})
    for _ in range(2000):
        backend.enqueue(tasks.tell_user, ("C_X", "U_X", "hi"), {})

    refresh_queue_statistics()

    claim = DBTaskResult.objects.ready().filter(backend_name="default", queue_name__in=["default"])
    with transaction.atomic():
        plan = claim.select_for_update(skip_locked=True)[:1].explain()
    assert "Index Scan using tasks_db_new_ordering_idx" in plan and "Sort" not in plan, plan
