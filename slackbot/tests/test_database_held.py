"""PostgreSQL holding the one statement a Slack request makes: the request still answers inside 3 s.

A warm Slack request writes one row, its task's (approvals/task_backend.py). A
migration's lock on the task table, a long transaction, a server too slow to
answer: without a bound, each request waits for as long as the database
likes, and 16 of them hold every gunicorn thread. With DATABASE_STATEMENT_TIMEOUT
and DATABASE_LOCK_TIMEOUT (timeoff_site/settings.py) PostgreSQL cuts the INSERT
short, and the request ends as any database failure already does there: a
form stays open with Slack's error and sent again goes once, an event is
answered 5xx and Slack's retry is handled once, a click answered 5xx is
clicked again and decided once. Never a page of stack trace; nothing recorded
as done.

Each request runs in this thread, on a connection made with production's
startup options, as a gunicorn thread's is; the hold is another session's
(test_support.database_holds), and lets go by itself after 10 s, so that a
request that waits for it fails on the clock instead of hanging.
"""

import time

import pytest
from django.db import connection
from django.test import Client
from django_tasks_db.models import DBTaskResult

from approvals import block_ids as ids
from fake_slack.personas import C_ENG_APPROVALS
from test_support.database_holds import inserts_held, production_bounds, transaction_holding
from test_support.flows import (ALICE, BOB, MONDAY, WEDNESDAY, channel_updates, click, install_config,
                                open_request_form, posted_requests, request_time_off, request_values,
                                submit_request)
from test_support.slack_requests import event_envelope, post_event
from test_support.task_rows import run_queued_tasks

pytestmark = pytest.mark.django_db(transaction=True)  # requests in autocommit, as in production

# Inside Slack's 3 s with room for the network: a held statement is cut at 0.8 s, a lock wait at 0.5 s.
ANSWERED_WITHIN_SECONDS = 2.0
TASK_TABLE = DBTaskResult._meta.db_table


@pytest.fixture(autouse=True)
def postgresql():
    if connection.vendor != "postgresql":
        pytest.skip("the statement and lock bounds are PostgreSQL's (CI's second run is on PostgreSQL)")
    # The requests' connection is made with production's startup options, as a web thread's is.
    with production_bounds():
        yield


def table_locked():
    """A migration altering the task table (ACCESS EXCLUSIVE: nobody reads or writes it meanwhile)."""
    return transaction_holding(f"LOCK TABLE {connection.ops.quote_name(TASK_TABLE)} IN ACCESS EXCLUSIVE MODE")


HOLDS = {
    "table-locked": table_locked,
    "server-slow": lambda: inserts_held(TASK_TABLE),  # no lock: the INSERT itself takes 10 s
}


def timed(send):
    started = time.monotonic()
    response = send()
    return response, time.monotonic() - started


def task_rows(name: str) -> int:
    return DBTaskResult.objects.filter(task_path__endswith=f".{name}").count()


def assert_answered_as_a_failure(response, elapsed):
    assert elapsed < ANSWERED_WITHIN_SECONDS, f"answered after {elapsed:.1f} s"
    assert response.status_code == 500  # Slack shows its error (a form stays open) or retries (an event)
    assert b"Traceback" not in response.content


@pytest.mark.parametrize("hold", HOLDS.values(), ids=HOLDS.keys())
def test_a_form_sent_while_the_task_table_is_held_stays_open_and_goes_once_sent_again(fake_slack, settings,
                                                                                      hold):
    install_config()
    view = open_request_form(Client(), fake_slack, ALICE)  # warms Alice's caches: the form is checked in full
    settings.TASKS = {"default": {"BACKEND": "approvals.task_backend.DatabaseBackend"}}  # rows, as in production
    values = request_values("vacation", MONDAY, WEDNESDAY)

    with hold():
        response, elapsed = timed(lambda: submit_request(Client(raise_request_exception=False), ALICE, view, values))
    assert_answered_as_a_failure(response, elapsed)
    assert task_rows("deliver_request") == 0

    # The database answers again; Alice presses Submit again, on the same form.
    again = submit_request(Client(), ALICE, view, values)
    assert again.status_code == 200 and again.content == b""  # the form closes...
    assert task_rows("deliver_request") == 1
    run_queued_tasks()
    assert len(posted_requests(fake_slack, C_ENG_APPROVALS)) == 1  # ...and the request reaches its approvers once


def test_an_app_home_open_while_the_task_table_is_locked_is_retried_by_slack_and_handled_once(fake_slack,
                                                                                              settings):
    install_config()
    settings.TASKS = {"default": {"BACKEND": "approvals.task_backend.DatabaseBackend"}}
    envelope = event_envelope({"type": "app_home_opened", "user": ALICE, "tab": "home"}, event_id="Ev_HELD")
    client = Client(raise_request_exception=False)

    with table_locked():
        response, elapsed = timed(lambda: post_event(client, envelope))
    assert_answered_as_a_failure(response, elapsed)  # Slack retries an event answered 5xx
    assert DBTaskResult.objects.count() == 0

    assert post_event(client, envelope, retry_num=1).status_code == 200  # the retry is handled...
    assert post_event(client, envelope, retry_num=2).status_code == 200  # ...once
    assert DBTaskResult.objects.count() == 1


def test_an_approval_clicked_while_the_task_table_is_locked_is_decided_once_clicked_again(fake_slack, settings):
    install_config()
    request_time_off(Client(), fake_slack, ALICE)  # posted (immediate tasks)
    [posted] = posted_requests(fake_slack, C_ENG_APPROVALS)
    settings.TASKS = {"default": {"BACKEND": "approvals.task_backend.DatabaseBackend"}}
    client = Client(raise_request_exception=False)

    with table_locked():
        response, elapsed = timed(lambda: click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted))
    assert_answered_as_a_failure(response, elapsed)  # Slack tells Bob it failed; the buttons are still there
    assert task_rows("decide_request") == 0

    assert click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted).status_code == 200
    run_queued_tasks()
    assert len(channel_updates(fake_slack)) == 1  # decided once
