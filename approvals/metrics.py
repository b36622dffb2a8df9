"""The domain's Prometheus metrics: Slack API calls, tasks, the ledger, locks, delivery problems.

Served by `/metrics` (timeoff_site/metrics_view.py). Under gunicorn and the
task workers, prometheus-client runs in multiprocess mode when
`PROMETHEUS_MULTIPROC_DIR` is set in the environment (before this module is
imported): each process writes its samples to files there and a scrape adds
them up, so one scrape covers every worker process on the host. Without it,
the samples live in this process only (tests, `runserver`).

Every label has a bounded set of values (Slack method names, our task names,
Slack error codes, our lock names): a label made from user input would create a
time series per request.

The task and delivery-problem receivers are connected by `connect_receivers()`
(the site's AppConfig calls it), never by importing this module.
"""

import functools
import inspect
import logging
import sys
import time

from prometheus_client import Counter, Histogram

from approvals import observe

logger = logging.getLogger(__name__)

# Slack's round trip is ~100 ms; the in-request client gives up after 1.5 s, the background one after 15 s.
SLACK_BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 1.5, 2.5, 5.0, 10.0, 15.0, 30.0)
TASK_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
LOCK_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

# --- Slack Web API (counted by the client in approvals/slack_clients.py) -----------------------

SLACK_CALLS = Counter("timeoff_slack_api_calls_total", "Slack Web API calls, by method and outcome (ok or error).",
                      ["method", "outcome"])
SLACK_ERRORS = Counter("timeoff_slack_api_errors_total",
                       "Slack Web API calls that failed, by method and Slack's error code (or http_<status>, or "
                       "the exception's name for a connection error).", ["method", "error"])
SLACK_RATELIMITED = Counter("timeoff_slack_api_ratelimited_total",
                            "HTTP 429 answers from Slack, by method, including those the client retried.", ["method"])
SLACK_DURATION = Histogram("timeoff_slack_api_duration_seconds",
                           "Slack Web API call latency, retries and Retry-After waits included.", ["method"],
                           buckets=SLACK_BUCKETS)

# --- Tasks (django.tasks signals, connected in connect_receivers) ------------------------------

TASK_ATTEMPTS = Counter("timeoff_task_attempts_total",
                        "Task attempts by task, outcome (successful; retrying: failed on a passing fault and "
                        "enqueued its next attempt; failed: for good) and attempt number.",
                        ["task", "outcome", "attempt"])
TASK_DURATION = Histogram("timeoff_task_duration_seconds", "Task attempt duration, by task and outcome.",
                          ["task", "outcome"], buckets=TASK_BUCKETS)

# --- The ledger (hooks in approvals/ledger_reader.py) ------------------------------------------

LEDGER_PAGES = Counter("timeoff_ledger_pages_total", "conversations.history pages read for the ledger.")
LEDGER_REFRESHES = Counter("timeoff_ledger_refreshes_total",
                           "Ledger reads from Slack, by kind (full or incremental) and outcome (ok or error).",
                           ["kind", "outcome"])
LEDGER_REFRESH_DURATION = Histogram("timeoff_ledger_refresh_duration_seconds", "Ledger read duration, by kind.",
                                    ["kind"], buckets=TASK_BUCKETS)
LEDGER_CACHE = Counter("timeoff_ledger_cache_lookups_total",
                       "Ledger lookups by result: hit (the shared cache had it) or miss (read from Slack).",
                       ["result"])
LEDGER_UNAVAILABLE = Counter("timeoff_ledger_unavailable_total",
                             "Ledger reads refused for good by Slack (not_in_channel, channel_not_found, our bot "
                             "unknown), by error.", ["error"])

# --- Locks (hook in approvals/cache_lock.py) ---------------------------------------------------

LOCK_WAIT = Histogram("timeoff_lock_wait_seconds", "Time spent taking a lock in the shared cache, by lock.",
                      ["lock"], buckets=LOCK_BUCKETS)
LOCK_ACQUISITIONS = Counter("timeoff_lock_acquisitions_total",
                            "Attempts to take a lock, by lock and outcome (acquired, or busy: gave up waiting).",
                            ["lock", "outcome"])

# --- A rolling deploy: two releases sharing the cache and the task queue ------------------------

CACHE_UNREADABLE = Counter("timeoff_cache_unreadable_values_total",
                           "Cache values this release could not unpickle (another release's class, a value cut "
                           "short), read as a miss (approvals/cache_values.py); by the exception's name.", ["error"])
TASK_HANDOVERS = Counter("timeoff_task_handovers_total",
                         "Task rows this worker could not run (their task or arguments unknown to its release), by "
                         "task and outcome: handed_over (queued again for another worker) or failed (no worker "
                         "knew it in time).", ["task", "outcome"])

# --- Requests that did not reach their approvers ------------------------------------------------

DELIVERY_PROBLEMS = Counter("timeoff_delivery_problems_total",
                            "Delivery problems recorded for HR (Slack refused a post or DM for good), by error.",
                            ["error"])


# --- Slack API ----------------------------------------------------------------------------------


def slack_call_finished(method: str, seconds: float, *, error: str | None) -> None:
    method = observe.label_value(method)
    SLACK_CALLS.labels(method=method, outcome="error" if error else "ok").inc()
    SLACK_DURATION.labels(method=method).observe(seconds)
    if error:
        SLACK_ERRORS.labels(method=method, error=observe.label_value(error)).inc()


def slack_ratelimited(method: str) -> None:
    SLACK_RATELIMITED.labels(method=observe.label_value(method)).inc()


# --- Ledger hooks -------------------------------------------------------------------------------


def ledger_cache_lookup(*, hit: bool) -> None:
    LEDGER_CACHE.labels(result="hit" if hit else "miss").inc()


def ledger_refresh(kind: str):
    """Decorator for a ledger read: counts it (ok/error) and times it."""

    def decorate(function):
        @functools.wraps(function)
        def observed(*args, **kwargs):
            started = time.perf_counter()
            outcome = "error"
            try:
                result = function(*args, **kwargs)
                outcome = "ok"
                return result
            finally:
                LEDGER_REFRESHES.labels(kind=kind, outcome=outcome).inc()
                LEDGER_REFRESH_DURATION.labels(kind=kind).observe(time.perf_counter() - started)

        return observed

    return decorate


def ledger_unavailable(error: str) -> None:
    LEDGER_UNAVAILABLE.labels(error=observe.label_value(error)).inc()


# --- Lock hook ----------------------------------------------------------------------------------

# Every kind of lock the app takes (its keys: request_services, change_services, ledger_reader).
LOCK_KINDS = frozenset({"submit", "decide", "team", "ledger", "ledger:refresh", "ledger:pending"})


def lock_name(key: str) -> str:
    """`lock:submit:U01` -> `submit`, `lock:ledger:refresh` -> `ledger:refresh`: the kind of lock, not the holder.

    The kinds are listed (LOCK_KINDS), not guessed: a holder's part may be any word (a team called
    `support`), and each would be a series of its own. The longest kind the key starts with wins.
    """
    parts = key.removeprefix("lock:").split(":")
    for length in (2, 1):
        kind = ":".join(parts[:length])
        if len(parts) >= length and kind in LOCK_KINDS:
            return kind
    return "other"


def observe_lock_wait(acquire):
    """Decorator for `cache_lock.acquire`: how long taking each kind of lock waited, and whether it gave up."""

    @functools.wraps(acquire)
    def observed(key, *args, **kwargs):
        started = time.perf_counter()
        token = acquire(key, *args, **kwargs)
        name = lock_name(key)
        LOCK_WAIT.labels(lock=name).observe(time.perf_counter() - started)
        LOCK_ACQUISITIONS.labels(lock=name, outcome="acquired" if token is not None else "busy").inc()
        return token

    return observed


# --- Receivers: task attempts and delivery problems ---------------------------------------------

task_logger = logging.getLogger("approvals.tasks.attempts")
_running: dict[str, tuple] = {}  # task result id -> (context token, perf_counter at start)


def connect_receivers() -> None:
    from django.db.models.signals import post_save
    from django.tasks.signals import task_enqueued, task_finished, task_started

    from approvals.models import DeliveryProblem

    task_enqueued.connect(_task_enqueued, dispatch_uid="approvals.metrics.task_enqueued")
    task_started.connect(_task_started, dispatch_uid="approvals.metrics.task_started")
    task_finished.connect(_task_finished, dispatch_uid="approvals.metrics.task_finished")
    post_save.connect(_delivery_problem_saved, sender=DeliveryProblem,
                      dispatch_uid="approvals.metrics.delivery_problem")


def _task_enqueued(sender, task_result, **kwargs) -> None:
    observe.task_enqueued(task_result.id)


def _task_started(sender, task_result, **kwargs) -> None:
    attempt = _attempt(task_result)
    token = observe.task_started(task_result.id, task_result.task.name, attempt)
    _running[task_result.id] = (token, time.perf_counter())


def _task_finished(sender, task_result, **kwargs) -> None:
    # Sent inside the worker's `except` block on failure, so sys.exc_info() holds the exception.
    from django.tasks import TaskResultStatus

    from approvals.task_queue import MAX_ATTEMPTS, attempts_for, error_code, transient

    token, started = _running.pop(task_result.id, (None, None))
    seconds = time.perf_counter() - started if started is not None else _recorded_seconds(task_result)
    task, attempt = task_result.task.name, _attempt(task_result)
    exc = sys.exc_info()[1]
    if task_result.status == TaskResultStatus.SUCCESSFUL:
        outcome, error = "successful", None
    else:
        error = error_code(exc) if exc is not None else "unknown"
        attempts = getattr(task_result.task.func, "max_attempts", MAX_ATTEMPTS)
        retries = (exc is not None and _retries(task_result.task) and transient(exc)
                   and attempt < attempts_for(exc, attempts))
        outcome = "retrying" if retries else "failed"
    TASK_ATTEMPTS.labels(task=observe.label_value(task), outcome=outcome, attempt=str(min(attempt, 99))).inc()
    TASK_DURATION.labels(task=observe.label_value(task), outcome=outcome).observe(seconds)
    level = {"successful": logging.INFO, "retrying": logging.WARNING}.get(outcome, logging.ERROR)
    task_logger.log(level, "task attempt %s", outcome, extra={
        "event": "task_attempt", "outcome": outcome, "duration_ms": round(seconds * 1000, 1),
        **({"error": error} if error else {}),
    })
    if token is not None:
        observe.task_finished(token)


def _attempt(task_result) -> int:
    attempt = task_result.kwargs.get("attempt", 1) if isinstance(task_result.kwargs, dict) else 1
    return attempt if isinstance(attempt, int) and attempt >= 1 else 1


@functools.cache
def _retries_by_name(func) -> bool:
    return "attempt" in inspect.signature(func).parameters


def _retries(task) -> bool:
    """Whether the task re-enqueues itself on a passing fault (`task_queue.retrying_task`)."""
    try:
        return _retries_by_name(task.func)
    except (TypeError, ValueError):
        return False


def _recorded_seconds(task_result) -> float:
    if task_result.started_at and task_result.finished_at:
        return max((task_result.finished_at - task_result.started_at).total_seconds(), 0.0)
    return 0.0


def _delivery_problem_saved(sender, instance, created, **kwargs) -> None:
    if created:
        DELIVERY_PROBLEMS.labels(error=observe.label_value(instance.error)).inc()


# --- The task queue, read at scrape time ---------------------------------------------------------


class TaskQueueCollector:
    """Queue depth and the age of the oldest runnable task, per queue, read from django-tasks-db's table.

    Computed when Prometheus scrapes (a few indexed aggregate queries), not
    counted by the workers: the table is the truth, whoever enqueued or ran what.
    `ready` tasks may run now, `scheduled` ones wait for their `run_after` (a
    retry's backoff), `running` ones are claimed by a worker. A runnable task's
    age counts from when it became runnable, so a retry's deliberate delay is
    not mistaken for a stuck queue.
    """

    def describe(self):
        return list(self._families())

    def collect(self):
        from django.db import DatabaseError
        from django.db.models import Count, Min
        from django.tasks import TaskResultStatus
        from django.utils import timezone
        from django_tasks_db.models import DBTaskResult, get_date_max

        depth, oldest = self._families()
        try:
            now, never = timezone.now(), get_date_max()
            waiting_since: dict[str, object] = {}
            counts: dict[tuple[str, str], int] = {}
            ready = DBTaskResult.objects.ready()
            for rows, since in ((ready.filter(run_after=never), "enqueued_at"), (ready.exclude(run_after=never), "run_after")):
                for row in rows.values("queue_name").annotate(n=Count("id"), since=Min(since)).order_by():
                    counts[row["queue_name"], "ready"] = counts.get((row["queue_name"], "ready"), 0) + row["n"]
                    known = waiting_since.get(row["queue_name"])
                    waiting_since[row["queue_name"]] = row["since"] if known is None else min(known, row["since"])
            scheduled = DBTaskResult.objects.filter(status=TaskResultStatus.READY, run_after__gt=now).exclude(
                run_after=never)
            running = DBTaskResult.objects.running()
            for rows, status in ((scheduled, "scheduled"), (running, "running")):
                for row in rows.values("queue_name").annotate(n=Count("id")).order_by():
                    counts[row["queue_name"], status] = row["n"]
        except DatabaseError as exc:
            # The scrape still answers (with the other metrics); /readyz reports the database.
            logger.warning("task queue metrics unavailable: %s", type(exc).__name__)
            return
        for (queue, status), n in sorted(counts.items()):
            depth.add_metric([queue, status], n)
        for queue, since in sorted(waiting_since.items()):
            oldest.add_metric([queue], max((now - since).total_seconds(), 0.0))
        yield depth
        yield oldest

    @staticmethod
    def _families():
        from prometheus_client.core import GaugeMetricFamily

        return (
            GaugeMetricFamily("timeoff_task_queue_depth", "Tasks in the queue, by queue and status "
                              "(ready: may run now; scheduled: waiting for run_after; running).",
                              labels=["queue", "status"]),
            GaugeMetricFamily("timeoff_task_queue_oldest_age_seconds",
                              "Seconds the oldest runnable task has waited, by queue.", labels=["queue"]),
        )


# --- Socket Mode envelopes (slackbot/socket_mode.py), as the HTTP requests' metrics over the WebSocket ------

# Slack gives up after 3 s, as over HTTP.
ENVELOPE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 5.0, 10.0)
SOCKET_MODE_ENVELOPES = Counter("timeoff_socket_mode_envelopes_total",
                                "Socket Mode envelopes by type, Slack kind and id, and outcome (acked, not_acked, "
                                "error).", ["envelope_type", "slack_kind", "slack_name", "outcome"])
SOCKET_MODE_DURATION = Histogram("timeoff_socket_mode_envelope_duration_seconds",
                                 "Time from a Socket Mode envelope's handler start to its acknowledgement.",
                                 ["envelope_type", "slack_kind", "slack_name"], buckets=ENVELOPE_BUCKETS)


def socket_mode_envelope(envelope_type: str, slack_kind: str, slack_name: str, outcome: str, seconds: float) -> None:
    SOCKET_MODE_ENVELOPES.labels(envelope_type, slack_kind, slack_name, outcome).inc()
    SOCKET_MODE_DURATION.labels(envelope_type, slack_kind, slack_name).observe(seconds)
