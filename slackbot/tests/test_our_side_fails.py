"""When what failed is ours (the database, the cache, a lock), nobody is told that Slack failed.

A task that gives up tells the person waiting why: "Slack kept failing (…)" is
true of Slack's errors, timeouts and dropped connections, not of our database
staying locked, our cache refusing writes or a lock another process holds. Then
they hear "something went wrong on our side", without a class name. Signed
requests to our endpoints, the fake Slack, our own services failing at their seam.
"""

import pytest
from django.core.cache import caches
from django.db import OperationalError
from django.tasks.signals import task_started

from approvals import block_ids as ids
from approvals import cache_lock, change_services, directory
from test_support.flows import ALICE, dms_to, install_config, metadata_payload, posted_requests, request_time_off
from test_support.slack_requests import block_actions_payload, post_command, post_interaction

pytestmark = pytest.mark.django_db

OUR_SIDE = "something went wrong on our side"


def test_a_balance_the_database_kept_failing_is_not_blamed_on_slack(client, fake_slack, monkeypatch):
    """`/timeoff balance` on a cold cache is promised by DM; the database (SQLite locked, say) fails the
    task's read of Alice's time zone on every attempt, as long as it is retried."""
    install_config()
    request_time_off(client, fake_slack, ALICE)
    caches["default"].clear()
    backend = caches["default"]
    real_get = backend.get
    in_task = {"now": False}

    def get(key, *args, **kwargs):
        if in_task["now"] and key == directory.timezone_key(ALICE):
            raise OperationalError("database is locked")
        return real_get(key, *args, **kwargs)

    def started(sender, task_result, **kwargs):
        in_task["now"] = task_result.task.name == "send_balance"

    monkeypatch.setattr(backend, "get", get)
    task_started.connect(started)
    try:
        before = len(dms_to(fake_slack, ALICE))
        response = post_command(client, "balance", user_id=ALICE)
    finally:
        task_started.disconnect(started)

    assert "DM you" in response.json()["text"]
    [told] = dms_to(fake_slack, ALICE)[before:]
    assert told == (f"Sorry, I couldn't work out your balance: {OUR_SIDE}. Please try `/timeoff balance` again "
                    "in a few minutes.")
    assert "Slack" not in told and "Error" not in told


def test_a_withdrawal_whose_request_stays_locked_is_not_blamed_on_slack(client, fake_slack, monkeypatch):
    """Alice withdraws her request while another process holds its lock (a decision stuck mid-write, say)
    through every attempt: each attempt's wait runs out (a TimeoutError, which is not Slack's)."""
    install_config()
    request_time_off(client, fake_slack, ALICE)
    request_id = metadata_payload(posted_requests(fake_slack)[0])["id"]
    assert cache_lock.acquire(f"lock:decide:{request_id}", timeout=600, wait=0)
    monkeypatch.setattr(change_services, "DECISION_LOCK_WAIT_SECONDS", 0)  # each attempt gives up at once
    listed = post_command(client, "list", user_id=ALICE).json()
    [(block_id, value)] = [(b["block_id"], e["value"]) for b in listed["blocks"] if b["type"] == "actions"
                           for e in b["elements"] if e.get("action_id") == ids.WITHDRAW_ACTION]
    before = len(dms_to(fake_slack, ALICE))

    post_interaction(client, block_actions_payload(user_id=ALICE, action_id=ids.WITHDRAW_ACTION, value=value,
                                                   block_id=block_id, channel_id="D_X"))

    [told] = dms_to(fake_slack, ALICE)[before:]
    assert told == (f"Sorry, I could not withdraw that request: {OUR_SIDE}. It is unchanged; please try again "
                    "in a few minutes.")
    assert metadata_payload(posted_requests(fake_slack)[0])["status"] == "pending"


def test_a_delivery_our_database_kept_failing_counts_the_tries_it_was_given(client, fake_slack):
    """Our own services failing get more attempts than Slack's faults (task_queue.attempts_for): the
    requester is told how many there were, and that the fault was not Slack's."""
    import uuid

    from approvals import task_queue, tasks
    from approvals.request_services import Submission
    from test_support.flows import MONDAY, WEDNESDAY

    install_config()
    submission = Submission(id=str(uuid.uuid4()), user=ALICE, leave_type="vacation", start=MONDAY, end=WEDNESDAY,
                            start_half=None, end_half=None, note="", validated=True)

    tasks.delivery_gave_up(OperationalError("database is locked"), submission.as_task_data())

    [told] = dms_to(fake_slack, ALICE)
    assert f"{OUR_SIDE}, and I gave up after {task_queue.INFRASTRUCTURE_ATTEMPTS} tries" in told
    assert task_queue.INFRASTRUCTURE_ATTEMPTS != task_queue.MAX_ATTEMPTS


def test_a_balance_waiting_on_another_processs_ledger_read_says_so(client, fake_slack, no_backoff, monkeypatch):
    """A cold ledger is read by one process (minutes, at Slack's pace); the others wait for it. A balance
    that waited through every attempt is told that, not that Slack failed or that something broke."""
    from approvals import ledger_reader

    install_config()
    request_time_off(client, fake_slack, ALICE)
    caches["default"].clear()
    monkeypatch.setattr(ledger_reader, "COLD_WAIT_SECONDS", 0)
    assert cache_lock.acquire(ledger_reader.REFRESH_LOCK, timeout=600, wait=0)  # another process reading
    before = len(dms_to(fake_slack, ALICE))

    response = post_command(client, "balance", user_id=ALICE)

    assert "DM you" in response.json()["text"]
    [told] = dms_to(fake_slack, ALICE)[before:]
    assert told == ("Sorry, I couldn't work out your balance: reading the leave history from Slack is taking longer "
                    "than usual. Please try `/timeoff balance` again in a few minutes.")
