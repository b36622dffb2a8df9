"""Slack's Retry-After holds for the whole app: a call of a method another call was just told to wait
for waits out what is left, instead of meeting the same 429."""

import threading
import time

import pytest
from django.core.cache import cache
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry import builtin_handlers

from approvals import slack_pauses
from approvals.slack_clients import background_client, in_request_client, ledger_post_client, locked_write_client

pytestmark = pytest.mark.django_db  # the pause lives in the shared cache (the database cache here)


@pytest.fixture
def clock(pause_clock):
    return pause_clock


HOME = {"type": "home", "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "Your time off"}}]}


def a_message() -> str:
    return background_client().chat_postMessage(channel="C_ENG_APPROVALS", text="a request")["ts"]


def statuses(fake_slack, method):
    return [call.status for call in fake_slack.calls(method)]


def test_a_call_waits_out_what_is_left_of_a_429_another_call_met(fake_slack, clock):
    ts = a_message()
    fake_slack.rate_limit("chat.update", retry_after=5)
    # A decision's write never sleeps under its lock: its 429 goes back to its task...
    with pytest.raises(SlackApiError):
        locked_write_client().chat_update(channel="C_ENG_APPROVALS", ts=ts, text="approved")
    clock.skipped += 2
    # ...and another task's call of the same method waits the 3 s left, then is answered.
    background_client().chat_update(channel="C_ENG_APPROVALS", ts=ts, text="receipt")
    assert clock.waits == [pytest.approx(3, abs=0.1)]
    assert statuses(fake_slack, "chat.update") == [429, 200]


def test_once_slack_answers_after_a_pause_nobody_waits_any_more(fake_slack, clock):
    fake_slack.rate_limit("chat.postMessage", retry_after=4)
    ledger_post_client().chat_postMessage(channel="C_GENERAL", text="first")  # waits its own 4 s
    [own_wait] = clock.waits
    assert own_wait >= 4
    clock.skipped -= own_wait  # as if the other process's clock had not moved: the pause is over all the same
    background_client().chat_postMessage(channel="C_GENERAL", text="second")
    assert clock.waits == [own_wait]
    assert statuses(fake_slack, "chat.postMessage") == [429, 200, 200]


def test_a_pause_holds_only_the_method_slack_named(fake_slack, clock):
    ts = a_message()
    fake_slack.rate_limit("chat.update", retry_after=5)
    with pytest.raises(SlackApiError):
        locked_write_client().chat_update(channel="C_ENG_APPROVALS", ts=ts, text="approved")
    background_client().chat_postMessage(channel="C_GENERAL", text="hello")
    assert clock.waits == []
    assert statuses(fake_slack, "chat.postMessage") == [200, 200]  # the request, then "hello" at once


def test_a_posting_pause_holds_only_the_channel_slack_named(fake_slack, clock):
    # chat.postMessage is limited per channel: a 429 in the approvals channel keeps a DM, or another
    # channel's post, from nobody.
    fake_slack.rate_limit("chat.postMessage", retry_after=5)
    with pytest.raises(SlackApiError):
        locked_write_client().chat_postMessage(channel="C_ENG_APPROVALS", text="a request")
    background_client().chat_postMessage(channel="C_GENERAL", text="out today")
    background_client().chat_postMessage(channel="U_ALICE", text="your receipt")
    assert clock.waits == []
    # The approvals channel's own next post waits what is left, though others were answered meanwhile.
    clock.skipped += 2
    background_client().chat_postMessage(channel="C_ENG_APPROVALS", text="another request")
    assert clock.waits == [pytest.approx(3, abs=0.1)]
    assert statuses(fake_slack, "chat.postMessage") == [429, 200, 200, 200]


def test_a_long_pause_is_left_to_slack_and_the_tasks_next_attempt(fake_slack, clock):
    # Holding a call for a minute would hold a worker's thread; the call's own 429 sends its task later.
    fake_slack.rate_limit("chat.postMessage", retry_after=60, times=2)
    for _ in range(2):
        with pytest.raises(SlackApiError) as raised:
            background_client().chat_postMessage(channel="C_GENERAL", text="hello")
        assert raised.value.response.status_code == 429
    assert clock.waits == []
    assert statuses(fake_slack, "chat.postMessage") == [429, 429]


def test_the_end_of_a_long_pause_is_waited_out_when_it_is_near(fake_slack, clock):
    fake_slack.rate_limit("chat.postMessage", retry_after=30)
    with pytest.raises(SlackApiError):
        background_client().chat_postMessage(channel="C_GENERAL", text="first")
    clock.skipped += 25
    background_client().chat_postMessage(channel="C_GENERAL", text="second")
    assert clock.waits == [pytest.approx(5, abs=0.1)]
    assert statuses(fake_slack, "chat.postMessage") == [429, 200]


def test_a_call_under_a_lock_never_waits_for_anothers_pause(fake_slack, clock):
    # Waiting under a decision's lock could outlast it; its 429, if any, goes back to its task.
    ts = a_message()
    fake_slack.rate_limit("chat.update", retry_after=5)
    with pytest.raises(SlackApiError):
        locked_write_client().chat_update(channel="C_ENG_APPROVALS", ts=ts, text="first")
    locked_write_client().chat_update(channel="C_ENG_APPROVALS", ts=ts, text="approved")
    assert clock.waits == []
    assert statuses(fake_slack, "chat.update") == [429, 200]


def test_a_call_inside_slacks_request_never_waits(fake_slack, clock):
    fake_slack.rate_limit("views.publish", retry_after=5)
    with pytest.raises(SlackApiError):
        locked_write_client().views_publish(user_id="U_ALICE", view=HOME)
    in_request_client().views_publish(user_id="U_ALICE", view=HOME)
    assert clock.waits == []
    assert statuses(fake_slack, "views.publish") == [429, 200]


def test_a_429_inside_slacks_request_makes_background_calls_wait(fake_slack, clock):
    fake_slack.rate_limit("views.publish", retry_after=3)
    with pytest.raises(SlackApiError):
        in_request_client().views_publish(user_id="U_ALICE", view=HOME)
    background_client().views_publish(user_id="U_ALICE", view=HOME)
    assert clock.waits == [pytest.approx(3, abs=0.1)]


def test_the_ledgers_history_reads_keep_their_own_pace(fake_slack, clock):
    # ledger_reader has its own budget and pause for conversations.history; a second one would double it.
    fake_slack.rate_limit("conversations.history", retry_after=5)
    with pytest.raises(SlackApiError):
        locked_write_client().conversations_history(channel="C_ENG_APPROVALS")
    background_client().conversations_history(channel="C_ENG_APPROVALS")
    assert clock.waits == []


def test_calls_go_on_when_the_cache_cannot_keep_the_pause(fake_slack, clock, monkeypatch):
    def down(*args, **kwargs):
        raise ConnectionError("cache down")

    monkeypatch.setattr(cache, "get", down)
    monkeypatch.setattr(cache, "set", down)
    monkeypatch.setattr(cache, "delete", down)
    fake_slack.rate_limit("chat.postMessage", retry_after=2)
    response = background_client().chat_postMessage(channel="C_GENERAL", text="hello")
    assert response["ok"] is True
    assert statuses(fake_slack, "chat.postMessage") == [429, 200]


def test_threads_meeting_one_limit_call_slack_only_once_it_is_up(fake_slack, clock, monkeypatch,
                                                                              settings):
    # Real sleeps here (short): the other threads must not call while the first waits out its 429. The
    # test database is not shared between threads: the pause is kept in a process-wide cache instead.
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    monkeypatch.setattr(slack_pauses, "time", time)
    monkeypatch.setattr(builtin_handlers, "time", time)
    fake_slack.rate_limit("chat.postMessage", retry_after=1)
    first = threading.Thread(target=lambda: background_client().chat_postMessage(channel="C_GENERAL", text="a"))
    first.start()
    deadline = time.monotonic() + 5
    while not fake_slack.calls("chat.postMessage") and time.monotonic() < deadline:
        time.sleep(0.01)
    others = [threading.Thread(target=lambda: background_client().chat_postMessage(channel="C_GENERAL", text="b"))
              for _ in range(3)]
    for thread in others:
        thread.start()
    for thread in (first, *others):
        thread.join(10)
    assert not any(thread.is_alive() for thread in (first, *others))
    calls = fake_slack.calls("chat.postMessage")
    assert [call.status for call in calls] == [429, 200, 200, 200, 200]
    # Slack said one second: no call came before it was up (the first one's retry neither).
    assert all(call.at >= calls[0].at + 0.95 for call in calls[1:])
