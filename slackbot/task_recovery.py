"""Returning tasks stuck in RUNNING to the queue.

django-tasks-db marks a task RUNNING when a worker claims it; a worker killed
with SIGKILL (OOM killer, a lost host) never marks it finished, and the row
would stay RUNNING for ever. Every task of ours is idempotent, so running such
a task again is safe: put it back to READY once it has been running longer than
any task legitimately takes.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.tasks import TaskResultStatus
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

logger = logging.getLogger(__name__)


def recover_stuck_tasks(*, stuck_after_seconds: float | None = None) -> int:
    """Requeue tasks RUNNING for longer than the timeout; returns how many."""
    stuck_after = stuck_after_seconds if stuck_after_seconds is not None else settings.TASK_STUCK_AFTER_SECONDS
    cutoff = timezone.now() - timedelta(seconds=stuck_after)
    stuck = DBTaskResult.objects.filter(status=TaskResultStatus.RUNNING, started_at__lt=cutoff)
    recovered = stuck.update(status=TaskResultStatus.READY, started_at=None)
    if recovered:
        logger.warning("requeued %s task(s) stuck in RUNNING for over %ss", recovered, stuck_after)
    return recovered


def prune_finished_tasks(*, successful_after_seconds: float = 24 * 60 * 60,
                         failed_after_seconds: float = 30 * 24 * 60 * 60) -> int:
    """Delete finished task rows: a delivered request must not linger in the database (DESIGN §2).

    Successful rows go after a day; failed ones are kept for a month so HR can look into them.
    """
    now = timezone.now()
    successful = DBTaskResult.objects.filter(
        status=TaskResultStatus.SUCCESSFUL, finished_at__lt=now - timedelta(seconds=successful_after_seconds))
    failed = DBTaskResult.objects.filter(
        status=TaskResultStatus.FAILED, finished_at__lt=now - timedelta(seconds=failed_after_seconds))
    deleted = successful.delete()[0] + failed.delete()[0]
    if deleted:
        logger.info("pruned %s finished task row(s)", deleted)
    return deleted
