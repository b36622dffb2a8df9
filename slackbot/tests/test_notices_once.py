"""Posts to channels and threads are made once, though Slack may make one and lose its answer.

A thread reply, an announcement or a digest carries `timeoff_notice` metadata
naming its key (a hash). After a failure that Slack may have acted on (a 5xx, a
timeout, a dropped connection), the next attempt looks in the channel or thread
for it before posting again; after one Slack did not act on, it finds nothing
and posts. (DMs sent by tasks do the same in the person's DM: test_dms_sent_once.)
"""

from dataclasses import replace

import pytest
from django.core.cache import cache

from approvals import block_ids as ids
from approvals import ledger_reader
from approvals.config_store import current_config
from approvals.notifications import NOTICE_EVENT_TYPE, notice_tag
from approvals.slack_clients import background_client
from fake_slack.personas import C_ENG, C_ENG_APPROVALS
from test_support.flows import (
    ALICE,
    BOB,
    ENGINEERING,
    click,
    dms_to,
    install_config,
    posted_requests,
    request_time_off,
    standard_config,
)
from test_support.slack_faults import answers_lost

pytestmark = pytest.mark.django_db


def thread_replies(fake_slack, posted) -> list:
    return [m for m in fake_slack.workspace.replies(C_ENG_APPROVALS, posted.response["ts"])
            if m.ts != posted.response["ts"]]


def announcements(fake_slack) -> list:
    return [m for m in fake_slack.workspace.messages(C_ENG) if "out" in m.text.lower()]


def test_a_thread_reply_slack_made_whose_answer_was_lost_is_not_posted_again(client, fake_slack, no_backoff):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    with answers_lost(fake_slack, "chat.postMessage", then_unreadable=False) as made:
        click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted)

    assert made and made[0]["thread_ts"] == posted.response["ts"]  # the thread reply, made and its answer lost
    [reply] = thread_replies(fake_slack, posted)
    assert reply.metadata == {"event_type": NOTICE_EVENT_TYPE,
                              "event_payload": {"key": notice_tag(f"thread:{reply_request_id(posted)}:approved")}}
    looked = fake_slack.calls("conversations.replies")[-1].params
    assert looked["ts"] == posted.response["ts"] and float(looked["oldest"]) > 0
    assert any("approved your" in dm for dm in dms_to(fake_slack, ALICE))  # the rest went out
    assert len(announcements(fake_slack)) == 1


def test_an_announcement_slack_made_whose_answer_was_lost_is_not_posted_again(client, fake_slack, no_backoff):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    with answers_lost(fake_slack, "chat.postMessage", then_unreadable=False, channel=C_ENG) as made:
        click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted)

    assert len(made) == 1
    [announcement] = announcements(fake_slack)
    assert announcement.metadata["event_type"] == NOTICE_EVENT_TYPE
    assert float(fake_slack.calls("conversations.history")[-1].params["oldest"]) > 0  # it looked since then
    assert len(thread_replies(fake_slack, posted)) == 1


def test_a_post_slack_did_not_make_is_made_by_the_next_attempt(client, fake_slack, no_backoff):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    fake_slack.server_error("chat.postMessage", status=503, times=1)  # the thread reply: nothing made
    click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted)

    assert len(thread_replies(fake_slack, posted)) == 1
    assert fake_slack.calls("conversations.replies")  # it looked, found nothing, and posted
    assert len(announcements(fake_slack)) == 1


def test_a_rate_limit_is_no_doubt_and_costs_no_look(client, fake_slack, no_backoff):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    fake_slack.clear_calls()
    fake_slack.rate_limit("chat.postMessage", retry_after=1, times=1)  # Slack did nothing: waited out, posted
    click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted)

    assert len(thread_replies(fake_slack, posted)) == 1
    assert not fake_slack.calls("conversations.replies")


def test_when_slack_will_not_let_us_look_the_post_is_made_rather_than_lost(client, fake_slack, no_backoff):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    fake_slack.fail("conversations.replies", "missing_scope", times=None)
    with answers_lost(fake_slack, "chat.postMessage", then_unreadable=False):
        click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted)

    assert len(thread_replies(fake_slack, posted)) == 2  # a repeat, never a silence


def test_notices_in_the_approvals_channel_are_not_ledger_entries(client, fake_slack):
    install_config(standard_config(teams=(replace(ENGINEERING, announce_channel=C_ENG_APPROVALS),)))
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted)

    top_level = fake_slack.workspace.messages(C_ENG_APPROVALS)
    assert [m.metadata["event_type"] for m in top_level] == ["timeoff_request", NOTICE_EVENT_TYPE]
    cache.clear()  # a cold ledger: read whole from the channel
    entries = ledger_reader.current_ledger(background_client(), current_config()).entries.values()
    assert [(e.user, e.status) for e in entries] == [(ALICE, "approved")]


def reply_request_id(posted) -> str:
    return posted.params["metadata"]["event_payload"]["id"]
