"""How long PostgreSQL may hold one of our statements, by kind of process.

The bounds themselves are PostgreSQL's `statement_timeout` and `lock_timeout`,
set in timeoff_site/settings.py as libpq startup options of every connection
(`options=-c statement_timeout=… -c lock_timeout=…`): the server applies them
from the connection's first packet, at no cost to any request. There, every
process gets the bounds of a process that answers Slack (DATABASE_STATEMENT_TIMEOUT,
DATABASE_LOCK_TIMEOUT): gunicorn, runserver, Socket Mode, and any command not
named below. Tight by default on purpose: a process that serves Slack and was
forgotten here would let a held lock pin its threads, which is the failure these
bounds exist for; a one-off command that meets them fails with PostgreSQL's
"canceling statement due to statement timeout" and runs again with
`DATABASE_STATEMENT_TIMEOUT=0 DATABASE_LOCK_TIMEOUT=0` in its environment.
(`import_config` runs in one transaction: cut short, it changes nothing.)

Two kinds of process differ, and this module is where:

- `migrate` (the release step) is never cut short: a release that fails halfway
  through its migrations, or one that gives up on a lock every deploy would
  wait for, is worse than a slow one. `migration_unbounded` lifts both bounds on
  the migration's own connection when Django sends `pre_migrate` (after the
  migration plan is read, before the first migration runs, for tests' databases
  too), and `migration_bounded_again` restores them on `post_migrate`. Lifted
  on the session, not in the settings: nothing else in the process, and no
  later connection, goes unbounded. While a migration waits for its lock, the
  web's statements queued behind it are cut at their own lock timeout and fail
  as on any database failure, instead of waiting with it.
- The background processes (`task_worker`, the clock `run_scheduler`,
  `run_jobs`) answer nobody within 3 s, and run the longer statements: pruning
  finished tasks, `ANALYZE` of the task table, recovery. They run inside
  `background_timeouts()`, under DATABASE_BACKGROUND_STATEMENT_TIMEOUT (for
  statements and lock waits alike), still bounded, so that a lock held for
  ever (a `psql` session left in a transaction) fails a task's attempt, which
  is retried later, or a clock's tick, tried again at the next, rather than
  stall them unseen. (The worker's own claim of the next task, cut short, ends
  the process, as a database restart does, for systemd to start it again.)
  Their connections get the bound with a `SET` when made: one round trip per
  connection, a few a minute.

What no statement bound covers: a connection whose server is gone (a failover,
a half-open TCP connection) never hears PostgreSQL cancel anything; TCP
keepalives and libpq's `tcp_user_timeout` (settings.py) close it. Nor the wait
of a COMMIT for a synchronous standby: PostgreSQL stops the statement's timer
before it commits (postgres.c, finish_xact_command).
"""

import contextlib

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.db.backends.signals import connection_created

# SQLSTATEs of a statement PostgreSQL cut short: query_canceled (statement_timeout, or a cancel
# request), lock_not_available (lock_timeout). https://www.postgresql.org/docs/current/errcodes-appendix.html
CUT_SHORT_SQLSTATES = frozenset({"57014", "55P03"})


def milliseconds(seconds: float) -> int:
    """A bound in seconds (the settings) as PostgreSQL's integer milliseconds; 0 is no bound."""
    return round(seconds * 1000)


def cut_short(exc: BaseException) -> bool:
    """Whether a database error is PostgreSQL cutting a statement short at its bound: the server
    answered, and the connection still works. (Django's error wraps the driver's as its __cause__.)"""
    return getattr(exc.__cause__, "sqlstate", None) in CUT_SHORT_SQLSTATES


def set_bounds(connection, *, statement_seconds: float, lock_seconds: float) -> None:
    """Set both bounds on this open connection's session."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('statement_timeout', %s, false), set_config('lock_timeout', %s, false)",
                       [str(milliseconds(statement_seconds)), str(milliseconds(lock_seconds))])


def reset_bounds(connection) -> None:
    """Both bounds back to the session's default: those of the connection's startup options."""
    with connection.cursor() as cursor:
        cursor.execute("RESET statement_timeout")
        cursor.execute("RESET lock_timeout")


# --- migrate: never cut short --------------------------------------------------------------------


def migration_unbounded(sender, using=DEFAULT_DB_ALIAS, **kwargs) -> None:
    """`pre_migrate` (connected for one app: Django sends it once per app): no statement or lock
    timeout on the migrating connection."""
    connection = connections[using]
    if connection.vendor == "postgresql":
        set_bounds(connection, statement_seconds=0, lock_seconds=0)


def migration_bounded_again(sender, using=DEFAULT_DB_ALIAS, **kwargs) -> None:
    """`post_migrate` (also sent by `flush`): the connection's bounds as it was opened with them."""
    connection = connections[using]
    if connection.vendor == "postgresql" and connection.connection is not None:
        reset_bounds(connection)


# --- The background processes: a longer bound --------------------------------------------------------


def _bound_for_background(sender, connection, **kwargs) -> None:
    if connection.vendor == "postgresql":
        seconds = settings.DATABASE_BACKGROUND_STATEMENT_TIMEOUT
        set_bounds(connection, statement_seconds=seconds, lock_seconds=seconds)


@contextlib.contextmanager
def background_timeouts():
    """Inside, this process's PostgreSQL connections (this thread's open one, and every one made
    meanwhile, by any thread: the worker's heartbeat and recovery threads) are bounded by
    DATABASE_BACKGROUND_STATEMENT_TIMEOUT instead of the web's bounds.

    A command's whole run is inside. On leaving (a command called from a test), this thread's open
    connection gets back the bounds it was made with, unless it is inside a transaction: one that the
    caller rolls back (a test's) takes the SET with it.
    """
    connection_created.connect(_bound_for_background, dispatch_uid="background_timeouts")
    for connection in connections.all(initialized_only=True):
        if connection.connection is not None:
            _bound_for_background(None, connection)
    try:
        yield
    finally:
        connection_created.disconnect(dispatch_uid="background_timeouts")
        for connection in connections.all(initialized_only=True):
            if connection.vendor != "postgresql" or connection.connection is None or connection.in_atomic_block:
                continue
            try:
                reset_bounds(connection)
            except DatabaseError:
                connection.close()  # a new one is made with the bounds of the settings
