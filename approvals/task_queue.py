"""The task queue's own machinery: retries, recovery of stuck tasks, pruning.

django-tasks-db neither retries a failed task nor notices a worker that died
mid-task (DESIGN §8). We add both here:

- `retrying_task` makes a task that, when an attempt fails on a passing fault
  (Slack 5xx after the client's own retries, a timeout, a lost connection),
  enqueues the next attempt with a growing delay (`run_after`) and then fails:
  the attempt's row is FAILED with its error, and the next attempt's arguments
  name it (`previous_attempt`). The task function itself knows nothing of
  attempts.
- `recover_stuck_tasks` returns tasks left RUNNING by a dead worker to the
  queue (every task of ours is idempotent). A worker is taken for dead by its
  silence, not by how long its task has run: `task_worker` beats for the task it
  is running (`task_heartbeat`), so a task that legitimately runs for long (a
  full ledger read paced by Slack's rate limits) is never run twice at once.
  `prune_finished_tasks` deletes
  finished rows, so a delivered request does not linger (DESIGN §2);
  `refresh_queue_statistics` keeps PostgreSQL's plan of the worker's claim sound.
"""

import dataclasses
import functools
import inspect
import logging
import re
import time
from contextvars import ContextVar
from datetime import timedelta
from urllib.error import URLError

from django.conf import settings
from django.core.management import call_command
from django.db import DatabaseError, InterfaceError, OperationalError, connections, router
from django.db.models.functions import Now
from django.tasks import TaskResultStatus, task, task_backends
from django.utils import timezone
from django.utils.module_loading import import_string
from django_tasks_db import DatabaseBackend
from django_tasks_db.models import DBTaskResult
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from slack_sdk.errors import SlackApiError, SlackClientError, SlackRequestError

from approvals import metrics, observe
from approvals.cache_lock import LockBusy
from approvals.installation import slack_access_lost
from approvals.models import TaskHeartbeat
from approvals.slack_clients import retry_after_header

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 6
# While an `on_give_up` runs: how many attempts were made. The faults along the way decide how many
# are allowed (`attempts_for`), and the last one alone does not say how many there were.
_attempts_made: ContextVar[int | None] = ContextVar("attempts_made", default=None)
# Set while a task attempt runs, once one of its steps is done for good (a ledger write, a `once` effect):
# that attempt got further than the one before, and a passing fault after it is not counted against the
# task's attempts. A decision's follow-ups (thread reply, DMs, announcement) each meeting one passing
# fault would otherwise spend the whole budget before the announcement, though each call works when
# tried again. Bounded all the same: a task has finitely many steps.
_progress: ContextVar[bool] = ContextVar("task_progress", default=False)
BASE_DELAY_SECONDS = 5  # 5 s, 10 s, 20 s, 40 s, 80 s: about 2.5 minutes in all
MAX_RETRY_AFTER_SECONDS = 15 * 60  # a Retry-After beyond this is taken as this (a bad header must not park a task for days)
SLACK_ERROR_CODE = re.compile(r"[a-z0-9_.\-]{1,100}")  # Slack's codes: invalid_auth, not_in_channel, …
# A rate limit answered with HTTP 200 and no Retry-After: `ratelimited` on most methods, `rate_limited` on
# chat.postMessage ("Application has posted too many messages", docs.slack.dev/reference/methods/chat.postMessage).
RATE_LIMIT_ERRORS = frozenset({"ratelimited", "rate_limited"})
# `team_added_to_org`: the workspace is moving into an Enterprise Grid org, and Slack says its Web API is
# "intermittently unavailable until the transition is complete" (chat.postMessage's errors).
TRANSIENT_SLACK_ERRORS = RATE_LIMIT_ERRORS | frozenset({"internal_error", "fatal_error", "service_unavailable",
                                                        "request_timeout", "team_added_to_org"})
# Our own services failing for a moment: Redis restarting or not answering within CACHE_TIMEOUT (redis-py's
# errors are not the builtin ConnectionError/TimeoutError), PostgreSQL restarting, SQLite's "database is
# locked". The next attempt finds them answering again; a task ended for good on one would tell a requester
# that their request did not reach the approvers because our cache blinked.
INFRASTRUCTURE_FAULTS = (RedisConnectionError, RedisTimeoutError, OperationalError, InterfaceError)
# A task meeting one keeps trying for about 40 minutes (the delays go on doubling), not 2.5: a Redis or
# PostgreSQL restart, a failover, can outlast six attempts, and a task that gives up while the cache is
# still down cannot even tell the requester (its give-up needs the cache).
INFRASTRUCTURE_ATTEMPTS = 10


class ReadStillUnderWay(TimeoutError):
    """Another process is still reading from Slack what this one needs (a cold ledger takes minutes at
    Slack's rate limits). A TimeoutError, so the task that met it retries; told as what it is, neither
    Slack failing nor us (`failure_for_people`)."""


class SlackRefusal(Exception):
    """Slack's refusal for good, raised by our own code rather than slack_sdk's (the ledger's
    `LedgerUnavailable`: a channel's history refused, our bot's id unknown): told as Slack's refusal,
    with Slack's error code (`error`), as a SlackApiError's is, never as a fault of ours."""

    def __init__(self, message: str, error: str):
        super().__init__(message)
        self.error = error


# Faults of our own that are TimeoutErrors or OSErrors too, as Slack's timeouts and dropped connections
# are: never a sign that Slack did anything, nor that Slack failed.
OUR_WAITS = (LockBusy, ReadStillUnderWay)


class RetryLater(Exception):
    """Not Slack's fault, but one a later attempt may not meet (a request still being posted, say):
    the task tries again with backoff, as after a passing Slack fault."""


def transient(exc: BaseException) -> bool:
    """Faults that a later attempt may not meet."""
    if isinstance(exc, RetryLater):
        return True
    if isinstance(exc, SlackApiError):
        status = getattr(exc.response, "status_code", 200)
        return status == 429 or status >= 500 or exc.response.get("error") in TRANSIENT_SLACK_ERRORS
    return isinstance(exc, (URLError, TimeoutError, ConnectionError, SlackRequestError, OSError,
                            *INFRASTRUCTURE_FAULTS))


def progress_made() -> None:
    """A step of the running task is done for good (`_progress`); outside a task, nothing."""
    _progress.set(True)


def attempts_made(exc: BaseException, attempts: int) -> int:
    """In an `on_give_up`: how many attempts the task made; elsewhere, how many one failing this way
    is allowed (`attempts_for`)."""
    return _attempts_made.get() or attempts_for(exc, attempts)


def attempts_for(exc: BaseException, attempts: int) -> int:
    """How many attempts a task allowed `attempts` gets when it fails this way: more for our own
    services failing (INFRASTRUCTURE_ATTEMPTS) than for Slack's faults, and as many while another
    process is still reading what it needs (a cold ledger at Slack's slowest takes many minutes)."""
    if isinstance(exc, (*INFRASTRUCTURE_FAULTS, ReadStillUnderWay)):
        return max(attempts, INFRASTRUCTURE_ATTEMPTS)
    return attempts


def slack_may_have_acted(exc: BaseException) -> bool:
    """Slack may have done what a call that failed this way asked: a 5xx, `fatal_error` or
    `internal_error` ("some aspect of the operation may have succeeded", Slack's docs), a timeout or a
    dropped connection; not a 429 or a refusal."""
    if isinstance(exc, SlackApiError):
        return (getattr(exc.response, "status_code", 200) >= 500
                or exc.response.get("error") in {"fatal_error", "internal_error", "request_timeout"})
    return isinstance(exc, (SlackClientError, OSError)) and not isinstance(exc, OUR_WAITS)


def retry_after_seconds(exc: BaseException) -> int:
    """A 429's Retry-After (seconds), or 0: https://docs.slack.dev/apis/web-api/rate-limits"""
    if not isinstance(exc, SlackApiError) or getattr(exc.response, "status_code", None) != 429:
        return 0
    value = retry_after_header(getattr(exc.response, "headers", None))
    try:
        return min(max(int(value), 0), MAX_RETRY_AFTER_SECONDS)
    except (TypeError, ValueError):
        return 0


def error_code(exc: BaseException) -> str:
    """Slack's error code, the HTTP status, or the exception's name: what to log and count. A person is
    shown `error_for_people`. An answer that was not Slack's JSON (a gateway's HTML page, which slack_sdk
    quotes in its error) is its HTTP status: the page says nothing a person could use."""
    if isinstance(exc, SlackApiError):
        error = exc.response.get("error")
        if isinstance(error, str) and SLACK_ERROR_CODE.fullmatch(error):
            return error
        return f"http_{getattr(exc.response, 'status_code', '')}"
    if isinstance(exc, SlackRefusal):
        return exc.error
    return type(exc).__name__


def error_for_people(exc: BaseException) -> str:
    """`error_code` for a person (a DM, an ephemeral message, the console): Slack's error code or the HTTP
    status, worth quoting to whoever looks after the app; a fault that is not Slack's answer in plain
    words, never a Python class name ("URLError", "ConnectionResetError" mean nothing to them)."""
    if isinstance(exc, (SlackApiError, SlackRefusal)):
        return error_code(exc)
    if isinstance(exc, ReadStillUnderWay):
        return "still reading the leave history from Slack"
    if isinstance(exc, (LockBusy, *INFRASTRUCTURE_FAULTS)):  # a TimeoutError or OSError too, but ours
        return "our database, cache or a lock failed"
    if is_timeout(exc):
        return "no answer in time"
    if isinstance(exc, (SlackClientError, OSError)):  # refused, reset, cut off mid-answer
        return "connection failed"
    return "an internal error"


OUR_SIDE = "something went wrong on our side"


def failure_for_people(exc: BaseException) -> str:
    """Why a task gave up, in the words that tell the person waiting (and HR's record): "Slack kept
    failing (<error_for_people>)" for Slack's passing faults (its errors, a timeout or a dropped connection
    on the way to it), "Slack refused it (<code>)" for its refusals for good, and OUR_SIDE for our own (the
    database, the cache, a lock, a bug): it was not Slack that failed, and what did is nothing to them."""
    if isinstance(exc, SlackApiError):
        return f"Slack kept failing ({error_code(exc)})" if transient(exc) else f"Slack refused it ({error_code(exc)})"
    if isinstance(exc, SlackRefusal):
        return f"Slack refused it ({exc.error})"
    if isinstance(exc, ReadStillUnderWay):
        return "reading the leave history from Slack is taking longer than usual"
    if isinstance(exc, (SlackRequestError, OSError)) and not isinstance(exc, (*OUR_WAITS, *INFRASTRUCTURE_FAULTS)):
        return f"Slack kept failing ({error_for_people(exc)})"
    return OUR_SIDE


def is_timeout(exc: BaseException) -> bool:
    """A timeout as the clients raise it: TimeoutError, or urllib's URLError wrapping one."""
    return isinstance(exc, TimeoutError) or isinstance(getattr(exc, "reason", None), TimeoutError)


def retrying_task(*, priority: int = 0, attempts: int = MAX_ATTEMPTS, on_give_up=None, on_access_lost=None,
                  payload: str | None = None):
    """`@retrying_task()` over a plain function: a Django task that retries passing faults, `attempts`
    times in all (each delay twice the one before: six attempts take about 2.5 minutes, ten about 40).

    `on_give_up(exc, *args)` runs when the fault is not passing or the last
    attempt fails: it tells whoever waits (it must not raise; what it raises is logged).
    `on_access_lost(reason, *args)` runs instead of the task when the app was uninstalled: it
    may not call Slack, but can keep a record (what it raises is logged).
    `payload`: the import path of the dataclass whose fields the first argument (a dict) carries. The
    worker checks a row's arguments against the function and this before running it, and hands a row
    another release wrote that this one cannot read to a worker that can (`task_unknown_here`).
    """

    def decorate(function):
        @functools.wraps(function)  # the task's import path stays the function's own
        def run(context, *args, attempt: int = 1, previous_attempt: str | None = None):
            # `attempt` counts the attempts that got no further than the one before (`_progress`).
            progress = _progress.set(False)
            try:
                # Inside the retry: reading the mark is the task's first cache call, and a cache that fails
                # it for a moment is a passing fault like any other.
                lost = slack_access_lost()
                if lost is not None:
                    logger.debug("task %s skipped: Slack access revoked (%s)", this_task.name, lost)
                    if on_access_lost is not None:
                        try:
                            on_access_lost(lost, *args)
                        except Exception:
                            logger.exception("task %s could not record what it skipped", this_task.name)
                    return None
                return function(*args)
            except (SystemExit, KeyboardInterrupt):
                # The worker told to stop at once mid-task (a second SIGTERM or Ctrl+C: django-tasks-db's
                # worker then calls sys.exit inside the task). It records this attempt FAILED, which no
                # recovery looks at (only RUNNING rows are requeued): the same attempt is queued again for
                # the next worker (every task is idempotent). Not with a backend that runs it right here.
                if task_backends[this_task.backend].supports_defer:
                    following = enqueue_later(this_task, 0, *args, attempt=attempt,
                                              previous_attempt=context.task_result.id)
                    logger.warning("task %s attempt=%s cut short by the worker stopping; queued again as %s",
                                   this_task.name, attempt, following.id)
                raise
            except Exception as exc:
                progressed = _progress.get()
                if transient(exc) and (progressed or attempt < attempts_for(exc, attempts)):
                    # Slack's Retry-After says when it will answer again: not before, whatever our backoff says.
                    delay = max(BASE_DELAY_SECONDS * 2 ** (attempt - 1), retry_after_seconds(exc))
                    following = enqueue_later(this_task, delay, *args, attempt=attempt if progressed else attempt + 1,
                                              previous_attempt=context.task_result.id)
                    logger.warning("task %s attempt=%s failed (%s); retrying in %ss as %s", this_task.name, attempt,
                                   error_code(exc), delay, following.id)
                else:
                    logger.error("task %s failed for good attempt=%s error=%s", this_task.name, attempt,
                                 error_code(exc))
                    if on_give_up is not None:
                        made = _attempts_made.set(attempt)
                        try:
                            on_give_up(exc, *args)
                        except Exception:
                            logger.exception("task %s could not report giving up", this_task.name)
                        finally:
                            _attempts_made.reset(made)
                raise  # this attempt is recorded as failed, with its error
            finally:
                _progress.reset(progress)  # an immediate backend runs a task inside another's attempt

        del run.__wrapped__  # Django reads the signature: it is `run`'s, with its `context` first
        run.max_attempts = attempts  # for the metrics: whether a failed attempt is retried
        run.function, run.payload = function, payload  # what the arguments must fit (task_unknown_here)
        this_task = task(run, priority=priority, takes_context=True)
        return this_task

    return decorate


def enqueue_later(this_task, delay_seconds: float, *args, **kwargs):
    if task_backends[this_task.backend].supports_defer:
        this_task = this_task.using(run_after=timezone.now() + timedelta(seconds=delay_seconds))
    return this_task.enqueue(*args, **kwargs)


# --- A rolling deploy: rows another release wrote ----------------------------------------------
#
# While a deploy rolls, workers of the old and the new release take rows from the same table. A row
# the new release enqueued may name a task the old one does not have, or arguments its function does
# not take; django-tasks-db's worker then marks it FAILED (its `import_string` raises inside
# `run_task`), and the request it carries is lost. `task_worker` checks each row it claims first
# (`task_unknown_here`) and puts one it cannot run back in the queue (`task_hand_over`) for a worker
# that can: the other release's, which is running or about to. Symmetrically, a new worker hands back
# a row of a task the new release removed. Not for ever: a row no worker has run within
# TASK_HANDOVER_MAX_SECONDS of being enqueued is failed, with an error in the log.

HANDOVER_BASE_DELAY_SECONDS = 5  # then 10, 20, 40, 60, 60, …: another worker gets it soon, and the
HANDOVER_MAX_DELAY_SECONDS = 60  # row is not claimed every second by workers that cannot run it


class TaskFromAnotherRelease(Exception):
    """A task row no worker could run: its task or its arguments are unknown to this release, and no
    worker of a release that knows them took it in time."""


def task_unknown_here(row: DBTaskResult) -> str | None:
    """Why this release cannot run the task row (its task unknown here, or its arguments not what the task
    takes), or None when it can. Checks what can be checked without running it: the task's import path,
    its backend and queue (upstream's `row.task`), the arguments against the function's parameters and,
    for a task declaring a `payload`, the first argument's keys against that dataclass's fields.

    It cannot tell a value a field has never held before (a new status, say): a release that sends one
    must come after the release that understands it (README, "Upgrades")."""
    try:
        task = row.task  # imports the path, checks it is a Task, and validates it for its backend and queue
    except Exception as exc:
        return f"task {row.task_path} unknown here ({type(exc).__name__}: {exc})"
    try:
        args, kwargs = list(row.args_kwargs["args"]), dict(row.args_kwargs["kwargs"])
    except (KeyError, TypeError, ValueError):
        return "arguments not in the form this release writes"
    function = task.func
    try:
        inspect.signature(function).bind(*(["context"] if task.takes_context else []), *args, **kwargs)
        if getattr(function, "function", None) is not None:  # a retrying_task: what it calls with the args
            inspect.signature(function.function).bind(*args)
    except TypeError as exc:
        return f"arguments not what {task.name} takes here ({exc})"
    payload = getattr(function, "payload", None)
    if payload is not None and args:
        unknown, missing = payload_mismatch(import_string(payload), args[0])
        if unknown or missing:
            return (f"its {payload.rsplit('.', 1)[-1]} has fields unknown here {sorted(unknown)} "
                    f"or lacks required ones {sorted(missing)}")
    return None


def payload_mismatch(payload: type, data) -> tuple[set, set]:
    """The keys of `data` the dataclass `payload` has no field for, and its required fields `data` lacks."""
    if not isinstance(data, dict):
        return {"(not a dict)"}, set()
    names = {f.name for f in dataclasses.fields(payload)}
    required = {f.name for f in dataclasses.fields(payload)
                if f.init and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING}
    return set(data) - names, required - set(data)


def task_hand_over(row: DBTaskResult, reason: str, *, max_wait_seconds: float | None = None) -> bool:
    """Put a row this worker claimed but cannot run back in the queue, for a worker that can, a little
    later (each time it comes back, later still, up to a minute). True if handed over; False if it has
    waited past TASK_HANDOVER_MAX_SECONDS since it was enqueued: then it is failed, and the log says so."""
    max_wait = settings.TASK_HANDOVER_MAX_SECONDS if max_wait_seconds is None else max_wait_seconds
    now = timezone.now()
    name = row.task_path.rsplit(".", 1)[-1]
    if (now - row.enqueued_at).total_seconds() > max_wait:
        row.set_failed(TaskFromAnotherRelease(f"no worker ran it within {max_wait:.0f}s: {reason}"))
        metrics.TASK_HANDOVERS.labels(task=observe.label_value(name), outcome="failed").inc()
        logger.error("task %s id=%s failed: no worker of a release that knows it took it within %ss (%s)",
                     row.task_path, row.id, round(max_wait), reason)
        return False
    claims = max(len(row.worker_ids or ()), 1)  # each worker that claimed it, this one included
    delay = min(HANDOVER_BASE_DELAY_SECONDS * 2 ** min(claims - 1, 10), HANDOVER_MAX_DELAY_SECONDS)
    row.status, row.started_at, row.run_after = TaskResultStatus.READY, None, now + timedelta(seconds=delay)
    # Shown in the admin while it waits; the run that succeeds (or fails) writes its own.
    row.exception_class_path = f"{TaskFromAnotherRelease.__module__}.{TaskFromAnotherRelease.__qualname__}"
    row.traceback = f"Handed over by a worker that cannot run it: {reason}"
    row.save(update_fields=["status", "started_at", "run_after", "exception_class_path", "traceback"])
    metrics.TASK_HANDOVERS.labels(task=observe.label_value(name), outcome="handed_over").inc()
    logger.warning("task %s id=%s not run here, queued again for another worker in %ss: %s", row.task_path, row.id,
                   delay, reason)
    return True


HEARTBEAT_MAX_SECONDS = 30


def heartbeat_interval(stuck_after_seconds: float) -> float:
    """How often a worker beats for its running task: four times within the stuck timeout (a beat or two
    may fail while the database restarts, or be late behind a busy GIL), and at least every 30 s (a
    timeout of 0 is no reason to spin)."""
    return max(min(stuck_after_seconds / 4, HEARTBEAT_MAX_SECONDS), 0.1)


def task_heartbeat(task_id: str) -> None:
    """The task `task_id` is running and its worker is alive, now by the database's clock: the hosts that
    beat and the one that recovers may disagree by seconds, the database's clock is one."""
    TaskHeartbeat.objects.update_or_create(task_id=task_id, defaults={"beat_at": Now()})


def recover_stuck_tasks(*, stuck_after_seconds: float | None = None) -> int:
    """Requeue tasks RUNNING for longer than the timeout whose worker has not beaten for them within it
    (it died: SIGKILL, the OOM killer, a lost host); returns how many.

    `started_at` alone cannot tell: a live worker's task may run for longer than any timeout (Slack's
    Retry-After waits), and requeued it would run a second time beside itself. A task claimed by a worker
    that beats for nobody (django-tasks-db's own `db_worker`) is still requeued after the timeout.
    """
    stuck_after = stuck_after_seconds if stuck_after_seconds is not None else settings.TASK_STUCK_AFTER_SECONDS
    cutoff = timezone.now() - timedelta(seconds=stuck_after)
    silent_since = Now() - timedelta(seconds=stuck_after)
    alive = TaskHeartbeat.objects.filter(beat_at__gte=silent_since).values("task_id")
    # One UPDATE: a heartbeat written meanwhile is seen or not, never half.
    stuck = DBTaskResult.objects.filter(status=TaskResultStatus.RUNNING, started_at__lt=cutoff).exclude(id__in=alive)
    recovered = stuck.update(status=TaskResultStatus.READY, started_at=None)
    # Heartbeats of finished or requeued tasks: nobody beats for them any more.
    TaskHeartbeat.objects.filter(beat_at__lt=silent_since).delete()
    if recovered:
        logger.warning("requeued %s task(s) stuck in RUNNING for over %ss without a heartbeat", recovered,
                       stuck_after)
    return recovered


def prune_finished_tasks(*, successful_after_days: int = 1, failed_after_days: int = 30) -> int:
    """Delete finished task rows with django-tasks-db's own `prune_db_task_results`; returns how many.

    A delivered request must not linger in the database (DESIGN §2): successful
    rows go after a day; failed ones stay a month so HR can look into them.
    """
    before = DBTaskResult.objects.count()
    for alias in settings.TASKS:
        if isinstance(task_backends[alias], DatabaseBackend):
            call_command("prune_db_task_results", f"--backend={alias}", queue_name="*", min_age_days=successful_after_days,
                         failed_min_age_days=failed_after_days, verbosity=0)
    deleted = before - DBTaskResult.objects.count()  # rows enqueued meanwhile only make this smaller
    if deleted > 0:
        logger.info("pruned %s finished task row(s)", deleted)
    return max(deleted, 0)


def refresh_queue_statistics() -> None:
    """ANALYZE the task table on PostgreSQL, so that the worker's claim of the next task stays one
    step down an index however fast the queue grew.

    django-tasks-db claims with `ORDER BY priority, run_after, enqueued_at LIMIT 1 FOR UPDATE SKIP
    LOCKED`. Planned with the statistics of a nearly empty table (the queue is pruned, and that is
    when autovacuum last looked), a backlog of thousands (a Slack outage's retries, a busy morning)
    is read whole and sorted on every claim: measured, 70 ms a claim with 13,000 rows waiting,
    against 0.06 ms once analyzed. Autovacuum catches up within a minute or so; the worker runs this
    when it starts and with each recovery round, which bounds it by TASK_RECOVERY_INTERVAL_SECONDS.
    A database user that may not ANALYZE the table (not its owner) is told once in the log.
    """
    connection = connections[router.db_for_write(DBTaskResult)]
    if connection.vendor != "postgresql":
        return  # SQLite plans the claim from its index without statistics
    try:
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {connection.ops.quote_name(DBTaskResult._meta.db_table)}")
    except DatabaseError as exc:
        logger.warning("could not ANALYZE the task table (%s): the worker's claims may slow down while "
                       "the queue is long, until autovacuum analyzes it", type(exc).__name__)


def request_task_queued(task, request_id: str, *, wait: float = 0) -> bool:
    """Whether a `task` for request `request_id` (its first argument's "id") is in the task queue
    (waiting, running or run), waiting up to `wait` seconds for it to appear. True where the backend
    keeps no rows to look at (`immediate` runs a task as it is enqueued). A read of the task table,
    on the rare path of a form sent twice."""
    if not isinstance(task_backends[task.backend], DatabaseBackend):
        return True
    rows = DBTaskResult.objects.filter(task_path=task.module_path, args_kwargs__args__0__id=request_id)
    deadline = time.monotonic() + wait
    while not rows.exists():
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)
    return True
