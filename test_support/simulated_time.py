"""Time that passes at once: tasks wait as rows, as in production, and one worker runs them in
django-tasks-db's order on a simulated clock, never one before its `run_after`.

A client waiting out Slack's Retry-After, a retry handler's backoff and a worker idling until the next
task is due move the clock on instead of sleeping. Slack's own limits in a test (the fake's rate tiers,
a fault's Retry-After) can read the same clock, so a test can tell whether a call came before Slack said
it could.
"""

import time
import types
from datetime import datetime, timedelta

from django.tasks import TaskResultStatus
from django.utils import timezone as django_timezone
from django_tasks_db.management.commands.db_worker import Worker
from django_tasks_db.models import DBTaskResult, get_date_max
from slack_sdk.http_retry import builtin_handlers
from slack_sdk.http_retry import handler as retry_handler

from approvals import job_services, ledger_reader, slack_pauses, task_queue


class Clock:
    """Real time plus what has been skipped; each sleep is recorded, with whether it happened while
    serving one of Slack's requests to us (which must never wait out a Retry-After)."""

    def __init__(self):
        self.skipped = 0.0
        self.serving_slack = False  # set by a test around one of Slack's HTTP requests to us
        self.sleeps: list[tuple[float, bool]] = []  # (seconds, while serving Slack)
        self.task = ""  # the first attempt's id of the task whose attempt is running
        self.task_name = ""  # and its name (deliver_request, decide_request, run_job, …)

    def monotonic(self) -> float:
        return time.monotonic() + self.skipped

    def time(self) -> float:
        return time.time() + self.skipped

    def now(self) -> datetime:
        return django_timezone.now() + timedelta(seconds=self.skipped)

    def sleep(self, seconds: float) -> None:
        self.sleeps.append((seconds, self.serving_slack))
        self.skipped += max(seconds, 0.0)

    def move_on(self, seconds: float) -> None:
        self.skipped += seconds

    def move_to(self, moment: datetime) -> None:
        self.skipped += max((moment - self.now()).total_seconds(), 0.0) + 0.001


def simulated_clock(monkeypatch, settings, *, ledger_reads: bool = False, jobs: bool = False) -> Clock:
    """Tasks as rows; the clients' sleeps and the retries' `run_after` on a new simulated clock, and
    (`ledger_reads`) the ledger reader's clock and pauses too, and (`jobs`) the daily jobs' claims, retries
    and "is its day over" (move the clock to each tick's instant: `Clock.move_to`)."""
    settings.TASKS = {"default": {"BACKEND": "approvals.task_backend.DatabaseBackend"}}
    clock = Clock()
    sleeper = types.SimpleNamespace(sleep=clock.sleep, time=time.time, monotonic=time.monotonic)
    monkeypatch.setattr(builtin_handlers, "time", sleeper)  # the 429 handler's wait for Retry-After
    monkeypatch.setattr(retry_handler, "time", sleeper)  # the 5xx and connection handlers' backoff
    # The app-wide pause after a 429 (its wait, and when it ends), on the same clock.
    monkeypatch.setattr(slack_pauses, "time", types.SimpleNamespace(time=clock.time, sleep=clock.sleep))
    if ledger_reads:
        monkeypatch.setattr(ledger_reader, "time", types.SimpleNamespace(time=clock.time, sleep=clock.sleep))
    timezone_now = types.SimpleNamespace(**{name: getattr(django_timezone, name) for name in dir(django_timezone)
                                            if not name.startswith("_")})
    timezone_now.now = clock.now
    monkeypatch.setattr(task_queue, "timezone", timezone_now)  # a retry's run_after
    if jobs:
        monkeypatch.setattr(job_services, "timezone", timezone_now)
    return clock


def work_through_the_queue(clock: Clock, *, until: float | None = None, limit: int = 3000) -> int:
    """One worker takes ready rows in django-tasks-db's order (priority, run_after, enqueued_at), never one
    whose run_after has not come; when none is due it idles until the first is. `until` (seconds on the
    simulated monotonic clock): stop rather than idle past it. While an attempt runs, `clock.task` names
    its task's first attempt and `clock.task_name` the task. Returns how many ran."""
    worker = Worker(queue_names=["default"], interval=0, batch=True, backend_name="default", startup_delay=False,
                    max_tasks=None, worker_id="simulated-worker", excluded_queue_names=[])
    ran = 0
    never = get_date_max()
    first_attempt: dict[str, str] = {}
    while True:
        waiting = list(DBTaskResult.objects.filter(status=TaskResultStatus.READY))
        if not waiting:
            return ran
        now = clock.now()
        due = [row for row in waiting if row.run_after >= never or row.run_after <= now]
        if not due:
            first = min(row.run_after for row in waiting)
            if until is not None and clock.monotonic() + (first - now).total_seconds() > until:
                clock.move_on(max(until - clock.monotonic(), 0.0))
                return ran
            clock.move_to(first)
            continue
        row = min(due, key=lambda r: (-r.priority, r.run_after, r.enqueued_at))
        previous = (row.args_kwargs.get("kwargs") or {}).get("previous_attempt")
        first_attempt[str(row.id)] = first_attempt.get(str(previous), str(previous)) if previous else str(row.id)
        clock.task, clock.task_name = first_attempt[str(row.id)], row.task_path.rsplit(".", 1)[-1]
        row.claim(worker.worker_id)
        try:
            worker.run_task(row)
        finally:
            clock.task = clock.task_name = ""
        ran += 1
        assert ran < limit, "tasks kept enqueueing tasks"
