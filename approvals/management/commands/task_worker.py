"""`manage.py task_worker`: django-tasks-db's worker, plus recovery of tasks left RUNNING by a dead worker.

Its own name, so which `db_worker` runs never depends on the order of
INSTALLED_APPS; it takes every option of `db_worker`. It runs the recovery
when the worker starts and then every TASK_RECOVERY_INTERVAL_SECONDS in a
background thread, so a worker killed mid-task delays its task but never
loses it. The same thread prunes finished task rows and refreshes the task
table's statistics on PostgreSQL (`task_queue.refresh_queue_statistics`).

It runs at a lower CPU priority (`--nice`, 10 unless told otherwise): on a host
it shares with gunicorn, Slack's requests, which must be answered inside 3 s,
come first, and the queue is drained with what they leave (a burst of
requests delays deliveries by seconds, not the answers Slack waits for). On a
host of its own it changes nothing: no one competes for the CPU.

Another thread beats for the task the worker is running (`task_queue.task_heartbeat`,
a few times within TASK_STUCK_AFTER_SECONDS): recovery requeues a task only once
its heartbeat has stopped, so a task that runs for long is never started again
beside itself, and a killed worker's task is still taken over (the thread dies
with the process).

During a rolling deploy, workers of two releases take rows from the same table.
Before running a row it claimed, the worker checks that its release knows the
task and its arguments (`task_queue.task_unknown_here`); one it cannot run is put
back in the queue for a worker of the other release (`task_queue.task_hand_over`),
where django-tasks-db's own worker would mark it FAILED and lose it.
"""

import logging
import os
import threading

from django.conf import settings
from django.core.management.base import CommandError
from django.db import close_old_connections, connection
from django.tasks.signals import task_finished, task_started
from django.utils.autoreload import DJANGO_AUTORELOAD_ENV, run_with_reloader
from django_tasks_db.management.commands.db_worker import Command as DatabaseWorkerCommand
from django_tasks_db.management.commands.db_worker import Worker as DatabaseWorker
from django_tasks_db.management.commands.db_worker import logger as db_worker_logger

from approvals.database_timeouts import background_timeouts
from approvals.task_queue import (
    heartbeat_interval,
    prune_finished_tasks,
    recover_stuck_tasks,
    refresh_queue_statistics,
    task_hand_over,
    task_heartbeat,
    task_unknown_here,
)

logger = logging.getLogger(__name__)


def recover_periodically(stop: threading.Event, interval: float) -> None:
    while not stop.wait(interval):
        try:
            close_old_connections()
            recover_stuck_tasks()
            prune_finished_tasks()
            refresh_queue_statistics()
        except Exception:  # a database hiccup must not kill the recovery thread
            logger.exception("task recovery failed")
        finally:
            connection.close()


def lower_priority(niceness: int) -> None:
    """Run at least this nice (Linux: 0 is the default, 19 the lowest priority). Raising one's own
    niceness needs no privilege; a worker started nicer than asked stays as it is."""
    if niceness > os.getpriority(os.PRIO_PROCESS, 0):
        os.setpriority(os.PRIO_PROCESS, 0, niceness)  # this thread, before the others: they inherit it


class RunningTask:
    """The id of the task this worker is running, or None: set by django-tasks-db's signals, which the
    worker sends from its one thread around each task."""

    task_id: str | None = None

    def started(self, sender, task_result, **kwargs) -> None:
        self.task_id = task_result.id

    def finished(self, sender, task_result, **kwargs) -> None:
        self.task_id = None


def beat_periodically(stop: threading.Event, interval: float, running: RunningTask) -> None:
    while not stop.wait(interval):
        task_id = running.task_id
        if task_id is None:
            continue
        try:
            task_heartbeat(task_id)
        except Exception:  # the database restarting: the next beat, a few within the timeout, may pass
            logger.warning("could not record the heartbeat of task %s", task_id, exc_info=True)
        finally:
            connection.close()


class Worker(DatabaseWorker):
    """django-tasks-db's worker, which first checks that this release can run the row it claimed."""

    def run_task(self, db_task_result) -> None:
        reason = task_unknown_here(db_task_result)
        if reason is None:
            super().run_task(db_task_result)
            return
        # Not started: no task_started signal, so no heartbeat and no attempt in the metrics; the row
        # goes back to READY, to be claimed again a little later, by a worker that knows it or this one.
        self.running_task = True  # a SIGTERM meanwhile lets the hand-over finish, as it would a task
        try:
            task_hand_over(db_task_result, reason)
        finally:
            self.running_task = False


class Command(DatabaseWorkerCommand):
    help = "Run a database task worker that also requeues tasks stuck in RUNNING and prunes finished ones."

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument(
            "--nice", type=int, default=10, choices=range(0, 20), metavar="0-19",
            help="CPU niceness (default 10): web requests on the same host come first; 0 keeps the priority",
        )

    def handle(self, *args, **options):
        # The background bound, not the web's: pruning and ANALYZE may take longer than a request may.
        with background_timeouts():
            self.work(*args, **options)

    def work(self, *args, **options):
        lower_priority(options["nice"])
        recover_stuck_tasks()
        refresh_queue_statistics()
        stop = threading.Event()
        thread = threading.Thread(
            target=recover_periodically, args=(stop, settings.TASK_RECOVERY_INTERVAL_SECONDS), daemon=True,
            name="task-recovery",
        )
        thread.start()
        running = RunningTask()
        task_started.connect(running.started)
        task_finished.connect(running.finished)
        heartbeat = threading.Thread(
            target=beat_periodically, args=(stop, heartbeat_interval(settings.TASK_STUCK_AFTER_SECONDS), running),
            daemon=True, name="task-heartbeat",
        )
        heartbeat.start()
        try:
            self.run_worker(**options)
        finally:
            stop.set()
            task_started.disconnect(running.started)
            task_finished.disconnect(running.finished)

    def run_worker(self, *, verbosity, queue_name, interval, batch, backend_name, startup_delay, reload, max_tasks,
                   worker_id, exclude_queues, **options) -> None:
        """django-tasks-db's `db_worker` handle (0.13), with our Worker: upstream builds its own class
        inside `handle`, so the options are read here as it reads them."""
        self.configure_logging(verbosity)
        if reload and batch:
            db_worker_logger.warning(
                "Warning: --reload and --batch cannot be specified together. Disabling autoreload.")
            reload = False
        queue_names = queue_name.split(",")
        excluded_queue_names = exclude_queues.split(",") if exclude_queues else []
        if excluded_queue_names and "*" not in queue_names:
            raise CommandError("--exclude-queues can only be used with --queue-name=*")
        worker = Worker(queue_names=queue_names, interval=interval, batch=batch, backend_name=backend_name,
                        startup_delay=startup_delay, max_tasks=max_tasks, worker_id=worker_id,
                        excluded_queue_names=excluded_queue_names)
        if reload:
            if os.environ.get(DJANGO_AUTORELOAD_ENV) == "true":
                worker.configure_signals()  # only the child process that runs tasks
            run_with_reloader(worker.run)
        else:
            worker.configure_signals()
            worker.run()
