"""How long PostgreSQL may hold our statements, and who gets which bound (approvals/database_timeouts.py).

Every connection carries the web's bounds from its first packet
(DATABASE_STATEMENT_TIMEOUT, DATABASE_LOCK_TIMEOUT, as libpq startup options);
`migrate` runs without them; the background commands run under
DATABASE_BACKGROUND_STATEMENT_TIMEOUT; a dead connection is noticed by TCP in
seconds. PostgreSQL only: on SQLite each test skips and says so.
"""

import io
import json
import os
import socket
import time

import pytest
from django.apps import apps
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import OperationalError, connection, connections
from django.db.models.signals import pre_migrate

from approvals.database_timeouts import cut_short, milliseconds
from test_support.database_holds import production_bounds, transaction_holding

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def postgresql():
    if connection.vendor != "postgresql":
        pytest.skip("statement_timeout, lock_timeout and libpq's keepalives are PostgreSQL's "
                    "(CI's second run is on PostgreSQL)")
    with production_bounds():  # not the suite's longer ones (timeoff_site/test_settings.py)
        yield


@pytest.fixture
def new_connection():
    """A connection made as a web thread makes one: from the settings, nothing set on it since."""
    made = connections.create_connection("default")
    made.ensure_connection()
    yield made
    made.close()


def bounds(conn) -> tuple[int, int]:
    """The session's statement_timeout and lock_timeout, in milliseconds (0: none)."""
    with conn.cursor() as cursor:
        # pg_settings gives the number in the setting's unit (ms); SHOW would say "1min".
        cursor.execute("SELECT name, setting::int FROM pg_settings WHERE name IN ('statement_timeout', 'lock_timeout')")
        values = dict(cursor.fetchall())
    return values["statement_timeout"], values["lock_timeout"]


WEB = (milliseconds(settings.DATABASE_STATEMENT_TIMEOUT), milliseconds(settings.DATABASE_LOCK_TIMEOUT))


def test_the_web_bounds_keep_a_request_inside_slacks_3_seconds():
    # With Redis taking up to CACHE_TIMEOUT on a command and still answering (settings.py says why).
    assert 0 < settings.DATABASE_LOCK_TIMEOUT <= settings.DATABASE_STATEMENT_TIMEOUT
    assert settings.DATABASE_STATEMENT_TIMEOUT + settings.CACHES["default"].get("OPTIONS", {}).get(
        "socket_timeout", 2.0) <= 2.8


def test_every_connection_starts_with_the_web_bounds(new_connection):
    assert bounds(new_connection) == WEB == (800, 500)


def test_a_statement_held_past_its_bound_is_cut_short(new_connection):
    started = time.monotonic()
    with pytest.raises(OperationalError) as raised, new_connection.cursor() as cursor:
        cursor.execute("SELECT pg_sleep(5)")
    assert cut_short(raised.value)
    assert time.monotonic() - started < settings.DATABASE_STATEMENT_TIMEOUT + 0.5


@pytest.mark.django_db(transaction=True)  # the holder must not wait for this test's own transaction
def test_a_lock_wait_is_cut_short_sooner_and_says_so(new_connection):
    from approvals.models import Team

    table = connection.ops.quote_name(Team._meta.db_table)
    with transaction_holding(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE"):
        started = time.monotonic()
        with pytest.raises(OperationalError) as raised, new_connection.cursor() as cursor:
            cursor.execute(f"SELECT 1 FROM {table}")
        waited = time.monotonic() - started
    assert "lock timeout" in str(raised.value) and cut_short(raised.value)
    assert waited < settings.DATABASE_STATEMENT_TIMEOUT  # the lock's bound, not the statement's


@pytest.mark.skipif(not hasattr(socket, "TCP_USER_TIMEOUT"), reason="TCP_USER_TIMEOUT is Linux's")
def test_a_connection_whose_server_vanished_is_noticed_in_seconds(new_connection):
    # The kernel's defaults: probes after 2 hours idle, and 15 minutes retransmitting a query nobody
    # acknowledges. Read back from the socket libpq made.
    with socket.socket(fileno=os.dup(new_connection.connection.pgconn.socket)) as sock:
        if sock.family not in (socket.AF_INET, socket.AF_INET6):
            pytest.skip("connected over a Unix socket: no TCP to keep alive")
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 1
        idle = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE)
        interval = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL)
        count = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT)
        assert idle + interval * count <= 30
        assert 0 < sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT) <= 10_000


# --- migrate: never cut short ----------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)  # as the release step: this thread's connection, made with the bounds
def test_migrations_run_without_the_bounds_and_the_connection_gets_them_back(settings):
    """The release step's `migrate` waits as long as its migrations take: a statement longer than the
    web's bound, as a migration rewriting a table runs, finishes."""
    seen = {}

    def a_long_migration_step(sender, using, **kwargs):
        seen["bounds"] = bounds(connection)
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_sleep(%s)", [settings.DATABASE_STATEMENT_TIMEOUT + 0.4])

    # Sent for the app whose receiver lifts the bounds, after it (connected at start-up): migrations run
    # once every app has had its pre_migrate.
    approvals = apps.get_app_config("approvals")
    pre_migrate.connect(a_long_migration_step, sender=approvals, dispatch_uid="test_database_timeouts")
    try:
        call_command("migrate", verbosity=0)
    finally:
        pre_migrate.disconnect(sender=approvals, dispatch_uid="test_database_timeouts")
    assert seen["bounds"] == (0, 0)
    assert bounds(connection) == WEB


# --- The background processes -------------------------------------------------------------------------


class Stop(Exception):
    pass


BACKGROUND_COMMANDS = {
    # command and arguments, and a function it calls once its bounds are set
    "task_worker": (["task_worker", "--no-reload", "--nice", "0"],
                    "approvals.management.commands.task_worker.recover_stuck_tasks"),
    "run_scheduler": (["run_scheduler", "--once"], "approvals.management.commands.run_scheduler.jobs_run_due"),
    "run_jobs": (["run_jobs"], "approvals.management.commands.run_jobs.jobs_run_due"),
}


@pytest.mark.django_db(transaction=True)  # as the command runs: its own connection, no test transaction
@pytest.mark.parametrize("command", BACKGROUND_COMMANDS.values(), ids=BACKGROUND_COMMANDS.keys())
def test_the_background_commands_run_under_the_longer_bound(monkeypatch, settings, command):
    arguments, step = command
    settings.TASKS = {"default": {"BACKEND": "approvals.task_backend.DatabaseBackend"}}  # the worker's, as deployed
    seen = []

    def record(*args, **kwargs):
        # The thread's open connection, and one a new thread of the command would make (its heartbeat).
        made = connections.create_connection("default")
        seen.append((bounds(connection), bounds(made)))
        made.close()
        raise Stop  # enough: the worker would go on to claim tasks

    connection.ensure_connection()  # opened before the command starts, with the web's bounds
    monkeypatch.setattr(step, record)
    with pytest.raises(Stop):
        call_command(*arguments)
    background = milliseconds(settings.DATABASE_BACKGROUND_STATEMENT_TIMEOUT)
    assert seen == [((background, background), (background, background))] and background == 60_000
    assert bounds(connection) == WEB  # the web's again once the command is over (a test calls it in-process)
    made = connections.create_connection("default")
    assert bounds(made) == WEB
    made.close()


# --- A one-off command: the web's bounds, and import_config's transaction ---------------------------------


@pytest.mark.django_db(transaction=True)  # the console's transaction is another session's
def test_an_import_that_waits_on_the_console_past_its_bound_changes_nothing_and_says_so(tmp_path):
    from approvals.config_file import config_to_dict
    from approvals.models import Team
    from test_support.flows import install_config, standard_config

    install_config()
    renamed = config_to_dict(standard_config())
    renamed["teams"][0]["approvals_channel"] = "C_NEW_APPROVALS"
    path = tmp_path / "config.json"
    path.write_text(json.dumps(renamed))
    table = connection.ops.quote_name(Team._meta.db_table)

    with transaction_holding(f"SELECT * FROM {table} FOR UPDATE"):  # HR saving a team in the console
        started = time.monotonic()
        with pytest.raises(CommandError, match="the configuration was not changed"):
            call_command("import_config", str(path), "--no-input", stdout=io.StringIO())
        waited = time.monotonic() - started
    assert waited < settings.DATABASE_STATEMENT_TIMEOUT + 1
    assert Team.objects.get(name=renamed["teams"][0]["name"]).approvals_channel != "C_NEW_APPROVALS"
