"""`manage.py run_scheduler`: the clock (Procfile `clock`). Enqueues each job when it is due.

Every SCHEDULER_INTERVAL_SECONDS it asks which jobs are due now in each team's
time zone and enqueues those no clock has claimed for their period
(approvals.job_services): any number of clocks may run, each job still runs once
per team and period. A task worker does the work. SIGTERM or SIGINT stops it
after the current tick.
"""

import logging
import signal
import threading
from collections.abc import Callable
from datetime import datetime

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import close_old_connections, connection
from django.utils import timezone

from approvals.database_timeouts import background_timeouts
from approvals.job_services import job_times, jobs_run_due

logger = logging.getLogger(__name__)


def scheduler_loop(stop: threading.Event, *, interval: float, clock: Callable[[], datetime] = timezone.now) -> int:
    """Tick until `stop` is set; returns how many jobs were enqueued. A failing tick is logged, not fatal."""
    enqueued = 0
    while not stop.is_set():
        if not connection.in_atomic_block:  # never inside a caller's transaction (a test's)
            close_old_connections()  # a long-lived process: drop connections the database closed
        try:
            enqueued += len(jobs_run_due(clock()))
        except Exception:  # the database restarting must not stop the clock
            logger.exception("scheduler tick failed; trying again in %ss", interval)
        stop.wait(interval)
    return enqueued


class Command(BaseCommand):
    help = "The clock: enqueue the daily and hourly jobs when due (run any number; each job runs once)."

    def add_arguments(self, parser):
        parser.add_argument("--interval", type=float, default=None,
                            help="Seconds between ticks (default SCHEDULER_INTERVAL_SECONDS).")
        parser.add_argument("--once", action="store_true", help="One tick, then exit.")

    def handle(self, *args, **options):
        # The background bound, not the web's: a tick's queries (the task table's, for a job's task) may
        # take longer than a request's may, and a tick that fails is tried again at the next.
        with background_timeouts():
            self.schedule(*args, **options)

    def schedule(self, *args, interval=None, once=False, **options):
        try:
            job_times()
        except ValueError as exc:
            raise CommandError(f"REMINDER_TIME, NUDGE_TIME or LEDGER_EXPORT_TIME is not HH:MM: {exc}")
        interval = interval if interval is not None else settings.SCHEDULER_INTERVAL_SECONDS
        if once:
            enqueued = len(jobs_run_due(timezone.now()))
            self.stdout.write(f"{enqueued} job(s) enqueued")
            return
        if not interval >= 1:  # 0, a negative typo or nan: the clock would tick without pause
            raise CommandError(f"--interval (or SCHEDULER_INTERVAL_SECONDS) must be at least 1 second, not {interval}")
        stop = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stop.set())
        logger.info("scheduler started interval=%ss", interval)
        scheduler_loop(stop, interval=interval)
        logger.info("scheduler stopped")
