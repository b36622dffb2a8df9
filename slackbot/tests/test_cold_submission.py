"""A submission on a cold cache still answers with every rule that needs no ledger (DESIGN §5).

Nothing about the requester is cached (no form was opened, the cache was
emptied): the dates' order, past dates (with a day's tolerance while their time
zone is unknown) and half days are still refused under their fields at once;
only the ledger's rules (overlap, allowance, capacity) move to the task.
"""

import time
from datetime import date, timedelta

import pytest
from django.core.cache import cache

from approvals import block_ids as ids
from test_support.flows import ALICE, MONDAY, WEDNESDAY, install_config, open_request_form, request_values
from test_support.flows import posted_requests, submit_request

pytestmark = pytest.mark.django_db


def submit_cold(client, fake_slack, values):
    view = open_request_form(client, fake_slack, ALICE)
    cache.clear()
    fake_slack.clear_calls()
    return submit_request(client, ALICE, view, values)


def test_reversed_dates_are_refused_at_once(client, fake_slack):
    install_config()
    response = submit_cold(client, fake_slack, request_values("vacation", WEDNESDAY, MONDAY))
    assert response.json()["response_action"] == "errors"
    assert "is before the start" in response.json()["errors"][ids.END_BLOCK]
    assert posted_requests(fake_slack) == [] and fake_slack.calls("chat.postMessage") == []


def test_a_past_date_is_refused_at_once_with_a_days_tolerance(client, fake_slack):
    install_config()
    last_week = date.today() - timedelta(days=7)
    response = submit_cold(client, fake_slack, request_values("vacation", last_week, last_week))
    assert "can't start in the past" in response.json()["errors"][ids.START_BLOCK]


def test_half_days_of_a_type_without_them_are_refused_at_once(client, fake_slack):
    install_config()
    values = request_values("medical", MONDAY, MONDAY, halves=(ids.HALF_START_PM,))
    response = submit_cold(client, fake_slack, values)
    assert response.json()["response_action"] == "errors"


def test_a_good_request_is_accepted_and_delivered_by_its_task(client, fake_slack):
    install_config()
    response = submit_cold(client, fake_slack, request_values("vacation", MONDAY, WEDNESDAY))
    assert response.status_code == 200 and response.content == b""
    assert len(posted_requests(fake_slack)) == 1


def test_a_busy_pending_set_is_answered_within_a_second_and_the_form_can_be_sent_again(client, fake_slack):
    """On caches other than Redis the team's indexes change under the team's lock: a submission that
    finds it busy is reported after the request path's one-second wait, and nothing is lost. On Redis
    the indexes take no lock, so the same submission goes through at once."""
    from django.core.cache.backends.redis import RedisCache
    from django.core.cache import caches

    from approvals import ledger_reader
    from approvals.cache_lock import acquire, release

    install_config()
    view = open_request_form(client, fake_slack, ALICE)
    lock = ledger_reader._pending_lock("Engineering")
    token = acquire(lock, timeout=30, wait=1)
    started = time.monotonic()
    try:
        response = submit_request(client, ALICE, view, request_values("vacation", MONDAY, WEDNESDAY))
    finally:
        release(lock, token)
    assert time.monotonic() - started < 2.5
    if isinstance(caches["default"], RedisCache):
        assert response.content == b"" and len(posted_requests(fake_slack)) == 1
        return
    assert "being sent right now; press Submit again" in response.json()["errors"][ids.START_BLOCK]
    assert posted_requests(fake_slack) == []
    again = submit_request(client, ALICE, view, request_values("vacation", MONDAY, WEDNESDAY))
    assert again.content == b"" and len(posted_requests(fake_slack)) == 1
