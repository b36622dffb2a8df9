"""Tasks as they wait in production: django-tasks-db's rows, run when a test says, as a db_worker runs them."""

from django.tasks import TaskResultStatus
from django_tasks_db.management.commands.db_worker import Worker
from django_tasks_db.models import DBTaskResult


def run_queued_tasks(named: str | None = None) -> None:
    """Run the ready task rows, oldest first, as a db_worker does (a retry's `run_after` is not waited
    for): and those they enqueue; or, with `named`, only the rows of that task waiting now."""
    worker = Worker(queue_names=["default"], interval=0, batch=True, backend_name="default", startup_delay=False,
                    max_tasks=None, worker_id="test-worker", excluded_queue_names=[])
    if named is not None:
        waiting = DBTaskResult.objects.filter(status=TaskResultStatus.READY).order_by("enqueued_at")
        for row in [row for row in waiting if row.task_path.endswith(f".{named}")]:
            row.claim(worker.worker_id)
            worker.run_task(row)
        return
    for _ in range(20):
        row = DBTaskResult.objects.filter(status=TaskResultStatus.READY).order_by("enqueued_at").first()
        if row is None:
            return
        row.claim(worker.worker_id)
        worker.run_task(row)
    raise AssertionError("tasks kept enqueueing tasks")
