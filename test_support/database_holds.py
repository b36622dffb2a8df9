"""PostgreSQL holding our statements, as another session or a struggling server would.

Each helper is a context manager: inside, statements that need what it holds
wait (or are slow); on leaving, the database answers again. Each lets go by
itself after `at_most` seconds, so that a test of code that would wait for
ever fails on its clock instead of hanging the suite. They need PostgreSQL,
and a test whose own writes are committed (`django_db(transaction=True)`):
a test's open transaction holds locks the holder would wait for.
"""

import contextlib
import threading

from django.conf import settings
from django.db import connection

SAFETY_SECONDS = 10.0


@contextlib.contextmanager
def production_bounds():
    """Inside, connections are made with production's statement and lock bounds, not the suite's longer
    ones (timeoff_site/test_settings.py). This thread's connection is closed on entering and leaving,
    so that it is made again with them, unless it is inside a test's transaction (`django_db` without
    `transaction=True`): such a test sees them on the connections it makes itself."""
    options = connection.settings_dict["OPTIONS"]
    suite = options.get("options", "")
    options["options"] = suite.removesuffix(getattr(settings, "SUITE_DATABASE_BOUNDS", ""))
    if not connection.in_atomic_block:
        connection.close()
    try:
        yield
    finally:
        options["options"] = suite
        if not connection.in_atomic_block:
            connection.close()


def _own_session(*, autocommit: bool):
    """A psycopg connection of its own (another process's session), to the test database. Without
    our bounds: what holds a lock here is someone else, and bounded by nothing of ours."""
    params = connection.get_connection_params()
    params["options"] = ""  # not the web's statement_timeout and lock_timeout
    session = connection.get_new_connection(params)
    session.autocommit = autocommit
    return session


@contextlib.contextmanager
def transaction_holding(*statements: str, at_most: float = SAFETY_SECONDS):
    """Another session's transaction that ran `statements` (a `LOCK TABLE`, as a migration's `ALTER
    TABLE` takes; a `SELECT … FOR UPDATE`, as a console change or a long transaction holds) and stays
    open: until the block ends, or `at_most` seconds."""
    session = _own_session(autocommit=False)
    for statement in statements:
        session.execute(statement)
    released = threading.Lock()

    def release():
        if released.acquire(blocking=False):
            session.rollback()
            session.close()

    timer = threading.Timer(at_most, release)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()
        release()


@contextlib.contextmanager
def inserts_held(table: str, *, seconds: float = SAFETY_SECONDS):
    """Every INSERT into `table` takes `seconds` on the server (a trigger that sleeps): a server that is
    slow on the one statement a Slack request makes, with no lock anyone could see. Dropped on leaving."""
    session = _own_session(autocommit=True)
    quoted = connection.ops.quote_name(table)
    session.execute("CREATE OR REPLACE FUNCTION test_support_slow_insert() RETURNS trigger LANGUAGE plpgsql AS "
                    f"$$ BEGIN PERFORM pg_sleep({float(seconds)}); RETURN NEW; END $$")
    session.execute(f"CREATE TRIGGER test_support_slow_insert BEFORE INSERT ON {quoted} "
                    "FOR EACH ROW EXECUTE FUNCTION test_support_slow_insert()")
    try:
        yield
    finally:
        session.execute(f"DROP TRIGGER IF EXISTS test_support_slow_insert ON {quoted}")
        session.execute("DROP FUNCTION IF EXISTS test_support_slow_insert()")
        session.close()
