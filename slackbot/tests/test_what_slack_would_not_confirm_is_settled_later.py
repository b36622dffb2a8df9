"""A decision, withdrawal or cancellation whose task gave up while Slack kept failing, after its rewrite was
made (or maybe made: Slack would not show the message), is looked at again while Slack recovers: what follows
it goes out once, and a person told "I could not confirm" hears how it ended.

Tasks wait as rows, on a simulated clock (test_support.simulated_time): the change's task gives up after its
attempts (about 2.5 minutes), and the look that follows keeps trying for about 40 more.
"""

import pytest

from approvals import block_ids as ids
from approvals.models import DeliveryProblem
from fake_slack.personas import ALICE, BOB, C_ENG, C_ENG_APPROVALS
from test_support.direct_messages import is_decision
from test_support.flows import (
    click,
    install_config,
    ledger_messages,
    posted_requests,
    press,
    request_status,
    request_time_off,
)
from test_support.simulated_time import work_through_the_queue

pytestmark = pytest.mark.django_db

# The change task's attempts, with their backoff (5 s, 10 s, … 80 s), and a little more: it has given up.
CHANGE_GIVES_UP_WITHIN = 170


def receipt_call(fake_slack):
    return next(call for call in fake_slack.calls("chat.postMessage")
                if call.params.get("channel") == ALICE and "is with" in str(call.params.get("text")))


def withdraw_on_the_receipt(client, fake_slack):
    receipt = receipt_call(fake_slack)
    press(client, ALICE, receipt.params["blocks"], ids.WITHDRAW_ACTION, channel=receipt.response["channel"],
          ts=receipt.response["ts"])


def thread_replies(fake_slack) -> list[str]:
    [message] = ledger_messages(fake_slack)
    return [reply.text for reply in fake_slack.workspace.replies(C_ENG_APPROVALS, message.ts)[1:]]


def dms_saying(fake_slack, user: str, words: str) -> list[str]:
    return [message.text for message in fake_slack.workspace.messages(user) if words in message.text]


def rewrites_failing_then_unreadable(fake_slack, *, made: bool):
    """The request's rewrite (chat.update in the approvals channel) fails each time (made or not), and once
    one was tried, Slack will not show the approvals channel's history any more: until the block ends."""
    real_handle = fake_slack.handle
    tried = []

    def half_down(name, params, headers):
        if name == "conversations.history" and tried:
            return 500, {}, {"ok": False, "error": "fatal_error"}
        if name == "chat.update" and params.get("channel") == C_ENG_APPROVALS:
            tried.append(params)
            if made:
                real_handle(name, params, headers)
            return 500, {}, {"ok": False, "error": "fatal_error"}
        return real_handle(name, params, headers)

    return half_down, tried


@pytest.mark.parametrize("made", [True, False], ids=["made", "not-made"])
def test_a_withdrawal_slack_would_not_confirm_is_settled_once_slack_shows_the_request(client, fake_slack, clock,
                                                                                    no_backoff, made):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    work_through_the_queue(clock)
    half_down, tried = rewrites_failing_then_unreadable(fake_slack, made=made)

    fake_slack.handle = half_down
    try:
        withdraw_on_the_receipt(client, fake_slack)
        work_through_the_queue(clock, until=clock.monotonic() + CHANGE_GIVES_UP_WITHIN)
    finally:
        del fake_slack.handle

    assert tried
    assert len(dms_saying(fake_slack, ALICE, "could not confirm that your withdrawal was recorded")) == 1
    assert thread_replies(fake_slack) == []  # nothing followed yet: Slack would not show the request

    work_through_the_queue(clock)  # Slack answers again

    if made:
        assert request_status(fake_slack)["status"] == "cancelled"
        [reply] = thread_replies(fake_slack)
        assert reply.startswith(f"Withdrawn by <@{ALICE}>"), reply
        assert len(dms_saying(fake_slack, ALICE, "was recorded after all")) == 1
        assert dms_saying(fake_slack, ALICE, "It is unchanged") == []
    else:
        assert request_status(fake_slack)["status"] == "pending"
        assert thread_replies(fake_slack) == []
        assert len(dms_saying(fake_slack, ALICE, "withdrawal was not recorded after all")) == 1
        assert dms_saying(fake_slack, ALICE, "was recorded after all") == []
    assert not DeliveryProblem.objects.exists()
    assert len(dms_saying(fake_slack, ALICE, "could not confirm")) == 1  # said once, never again


def test_a_withdrawal_made_whose_thread_reply_slack_kept_failing_gets_it_once_slack_recovers(client, fake_slack,
                                                                                          clock, no_backoff):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    work_through_the_queue(clock)
    [message] = ledger_messages(fake_slack)
    real_handle = fake_slack.handle
    refused = []

    def thread_replies_failing(name, params, headers):
        if name == "chat.postMessage" and params.get("thread_ts") == message.ts:
            refused.append(params)
            return 503, {}, {"ok": False, "error": "service_unavailable"}
        return real_handle(name, params, headers)

    fake_slack.handle = thread_replies_failing
    try:
        withdraw_on_the_receipt(client, fake_slack)
        work_through_the_queue(clock, until=clock.monotonic() + CHANGE_GIVES_UP_WITHIN)
    finally:
        del fake_slack.handle

    assert refused and request_status(fake_slack)["status"] == "cancelled"
    assert thread_replies(fake_slack) == []

    work_through_the_queue(clock)

    [reply] = thread_replies(fake_slack)
    assert reply.startswith(f"Withdrawn by <@{ALICE}>"), reply
    # She was never told anything but that it was done: no "could not confirm", no "recorded after all".
    assert dms_saying(fake_slack, ALICE, "could not") == [] and dms_saying(fake_slack, ALICE, "after all") == []
    assert not DeliveryProblem.objects.exists()


@pytest.mark.parametrize("made", [True, False], ids=["made", "not-made"])
def test_an_approval_slack_would_not_confirm_is_settled_once_slack_shows_the_request(client, fake_slack, clock,
                                                                                    no_backoff, made):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    work_through_the_queue(clock)
    [posted] = posted_requests(fake_slack)
    half_down, tried = rewrites_failing_then_unreadable(fake_slack, made=made)

    fake_slack.handle = half_down
    try:
        click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted)
        work_through_the_queue(clock, until=clock.monotonic() + CHANGE_GIVES_UP_WITHIN)
    finally:
        del fake_slack.handle

    def told_bob(words: str) -> list[str]:
        return [c.params["text"] for c in fake_slack.calls("chat.postEphemeral")
                if c.params.get("user") == BOB and words in c.params["text"]]

    assert tried
    assert len(told_bob("could not confirm that your approval was recorded")) == 1
    assert thread_replies(fake_slack) == []

    work_through_the_queue(clock)  # Slack answers again

    if made:
        assert request_status(fake_slack)["status"] == "approved"
        assert thread_replies(fake_slack) == [f"Approved by <@{BOB}>"]
        assert len([t for t in dms_saying(fake_slack, ALICE, "approved your") if is_decision(t)]) == 1
        assert len([m for m in fake_slack.workspace.messages(C_ENG) if "will be out" in m.text]) == 1
        assert len(told_bob("approval was recorded after all")) == 1
    else:
        assert request_status(fake_slack)["status"] == "pending"
        assert thread_replies(fake_slack) == []
        assert len(told_bob("approval was not recorded after all")) == 1
    assert not DeliveryProblem.objects.exists()
