from unittest import mock

import pytest
from django.db.utils import OperationalError

pytestmark = pytest.mark.django_db


def test_healthz_answers_without_services(client):
    with mock.patch("django.db.backends.utils.CursorWrapper.execute", side_effect=OperationalError):
        response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_is_ok_when_database_and_cache_answer(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_names_the_database_when_it_fails(client):
    with mock.patch("django.db.backends.utils.CursorWrapper.execute", side_effect=OperationalError("down")):
        response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["failed"]["database"] == "OperationalError"


def test_readyz_names_the_cache_when_it_fails(client):
    with mock.patch("django.core.cache.cache.set", side_effect=ConnectionError("down")):
        response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["failed"] == {"cache": "ConnectionError"}


def test_probes_are_not_redirected_to_https(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    assert client.get("/healthz").status_code == 200


def test_probes_answer_head_as_uptime_monitors_send_it(client):
    assert client.head("/healthz").status_code == 200
    assert client.head("/readyz").status_code == 200


@pytest.mark.django_db(transaction=True)  # outside a test's transaction, as a request is: the close is real
def test_readyz_takes_a_dead_kept_connection_for_what_it_is(client):
    # PostgreSQL restarted: the connection kept from before fails its first query. A new one answers.
    from django.db import connection

    if connection.vendor == "sqlite":
        pytest.skip("SQLite keeps no connection to a server that could restart (CI runs this on PostgreSQL)")
    connection.ensure_connection()  # the connection a web thread keeps between requests
    with mock.patch("django.db.backends.utils.CursorWrapper.execute",
                    side_effect=[OperationalError("server closed the connection unexpectedly"), None]):
        response = client.get("/readyz")
    assert response.status_code == 200


def test_postgresql_connections_give_up_on_a_server_that_does_not_answer():
    # Without it, a server that takes the connection and never answers holds a request for minutes.
    from timeoff_site import settings as production

    if production.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        pytest.skip("not running against PostgreSQL (CI's second run does)")
    assert 0 < production.DATABASES["default"]["OPTIONS"]["connect_timeout"] <= 5


def test_redis_commands_give_up_on_a_server_that_does_not_answer():
    from timeoff_site import settings as production

    if "redis" not in production.CACHES["default"]["BACKEND"].lower():
        pytest.skip("not running against Redis (CI's second run does)")
    options = production.CACHES["default"]["OPTIONS"]
    assert 0 < options["socket_connect_timeout"] <= 2 and 0 < options["socket_timeout"] <= 3


@pytest.mark.django_db(transaction=True)  # outside a test's transaction, as a request is
def test_readyz_says_the_database_is_not_ready_when_it_holds_even_a_trivial_query(client, settings):
    # The server is slow, or stuck: its `SELECT 1` takes longer than DATABASE_STATEMENT_TIMEOUT (here the
    # server sleeps in it). The probe answers in time, says so, and does not wait as long again on a new
    # connection: the load balancer's check would give up on it first.
    import time

    from django.db import connection
    from django.db.backends import utils

    from test_support.database_holds import production_bounds

    if connection.vendor != "postgresql":
        pytest.skip("statement_timeout is PostgreSQL's (CI's second run is on PostgreSQL)")
    real_execute = utils.CursorWrapper._execute
    probes = []

    def execute(self, sql, params, *rest):
        if sql == "SELECT 1":
            probes.append(sql)
            sql = "SELECT 1 FROM pg_sleep(5)"
        return real_execute(self, sql, params, *rest)

    with production_bounds():  # the connection made with production's startup options, as a web thread's is
        connection.ensure_connection()  # and kept from an earlier request
        with mock.patch.object(utils.CursorWrapper, "_execute", execute):
            started = time.monotonic()
            response = client.get("/readyz")
            elapsed = time.monotonic() - started
    assert response.status_code == 503
    assert response.json()["failed"] == {"database": "QueryCanceled"}
    assert len(probes) == 1  # not again on a new connection
    assert elapsed < settings.DATABASE_STATEMENT_TIMEOUT + 0.5
