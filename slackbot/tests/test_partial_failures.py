"""A success is never reported as a failure (DESIGN §8).

Once the ledger holds a request or a decision, a follow-up that Slack refuses
(the bot not in the announce channel, a DM refused) is logged and shown to HR;
the approver is not told "I could not record your approval", the requester is
not told their request "did not reach your approvers".
"""

import logging

import pytest

from approvals import block_ids as ids
from approvals.models import DeliveryProblem
from fake_slack.personas import C_ENG_APPROVALS, C_NOBOT
from test_support.flows import (
    ALICE,
    BOB,
    DAVE,
    ENGINEERING,
    MEDICAL,
    SICK,
    channel_updates,
    click,
    dms_to,
    ephemerals_to,
    install_config,
    posted_requests,
    request_time_off,
    standard_config,
)
from test_support.slack_faults import answers_lost

pytestmark = pytest.mark.django_db


def announce_to_a_channel_without_the_bot():
    from dataclasses import replace

    install_config(standard_config(teams=(replace(ENGINEERING, announce_channel=C_NOBOT),)))


def status_in_the_ledger(fake_slack) -> str:
    [message] = [m for m in fake_slack.workspace.messages(C_ENG_APPROVALS) if m.metadata]
    return message.metadata["event_payload"]["status"]


def test_an_approval_whose_announcement_is_refused_is_still_an_approval(client, fake_slack, caplog):
    announce_to_a_channel_without_the_bot()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)

    click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted)

    assert status_in_the_ledger(fake_slack) == "approved"
    assert fake_slack.calls("chat.postMessage")[-1].response["error"] == "not_in_channel"  # it was tried
    told = ephemerals_to(fake_slack, BOB) + dms_to(fake_slack, BOB)
    assert not [text for text in told if "could not record" in text], told
    assert any("approved your" in text for text in dms_to(fake_slack, ALICE))  # the requester still hears
    problem = DeliveryProblem.objects.get()
    assert (problem.error, problem.channel, problem.user) == ("not_in_channel", C_NOBOT, ALICE)
    assert "approved in the ledger" in problem.summary and "announcement" in problem.summary
    assert any(r.levelno == logging.ERROR and "follow-up failed" in r.getMessage() for r in caplog.records)


def test_clicking_again_changes_nothing_and_reports_nothing_new(client, fake_slack):
    announce_to_a_channel_without_the_bot()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted)
    click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted)

    told = ephemerals_to(fake_slack, BOB) + dms_to(fake_slack, BOB)
    assert not [text for text in told if "could not record" in text], told
    assert len(channel_updates(fake_slack)) == 1
    assert len([dm for dm in dms_to(fake_slack, ALICE) if "approved your" in dm]) == 1
    assert DeliveryProblem.objects.count() == 1


def test_leave_that_needs_no_approval_is_recorded_even_when_its_announcement_is_refused(client, fake_slack):
    announce_to_a_channel_without_the_bot()
    request_time_off(client, fake_slack, ALICE, leave_type="sick")

    assert status_in_the_ledger(fake_slack) == "approved"
    dms = dms_to(fake_slack, ALICE)
    assert not [dm for dm in dms if "did not reach" in dm], dms
    assert [dm for dm in dms if dm.startswith("Recorded:")]
    [problem] = DeliveryProblem.objects.all()
    assert "announcement" in problem.summary and problem.error == "not_in_channel"


def test_a_refused_receipt_dm_does_not_undo_the_delivery(client, fake_slack):
    install_config()
    # Only the DM is refused: the request itself is posted.
    real_handle = fake_slack.handle

    def refuse_dms(method, params, headers):
        if method == "chat.postMessage" and params.get("channel") == ALICE:
            return 200, {}, {"ok": False, "error": "user_disabled"}
        return real_handle(method, params, headers)

    fake_slack.handle = refuse_dms
    try:
        request_time_off(client, fake_slack, ALICE)
    finally:
        del fake_slack.handle

    assert status_in_the_ledger(fake_slack) == "pending"
    [problem] = DeliveryProblem.objects.all()
    assert problem.error == "user_disabled" and "receipt" in problem.summary


# --- Slack acted, but its answers were lost ------------------------------------------------------


@pytest.mark.parametrize("then_unreadable", [True, False])
def test_a_request_posted_whose_answer_was_lost_is_never_called_undelivered(client, fake_slack, no_backoff,
                                                                            then_unreadable):
    install_config()
    with answers_lost(fake_slack, "chat.postMessage", then_unreadable=then_unreadable) as acted:
        request_time_off(client, fake_slack, ALICE)

    assert acted and len([m for m in fake_slack.workspace.messages(C_ENG_APPROVALS) if m.metadata]) == 1
    told = dms_to(fake_slack, ALICE)
    assert not any("did not reach your approvers" in text for text in told), told
    if then_unreadable:  # nobody could look: the requester is told to look before sending it again
        assert any("could not confirm" in text and "/timeoff list" in text for text in told), told
        assert DeliveryProblem.objects.get().error == "unconfirmed: fatal_error"
    else:  # the next attempt found it and sent the rest
        assert any("is with" in text for text in told) and not DeliveryProblem.objects.exists()


def test_a_lost_post_is_found_behind_a_busy_channel_however_short_slacks_pages(client, fake_slack, no_backoff):
    # Slack posted the request but its answer was lost; before the next attempt looks, 60 more messages
    # land in the channel, and Slack's history pages hold 15 (its cap for apps outside the Marketplace).
    # Looking at the newest few pages would miss the post and send the request a second time.
    install_config()
    fake_slack.workspace.history_page_cap = 15
    real_handle = fake_slack.handle
    acted = []

    def lost_then_busy(name, params, headers):
        status, extra, body = real_handle(name, params, headers)
        if name == "chat.postMessage" and params.get("channel") == C_ENG_APPROVALS and body.get("ok") and not acted:
            acted.append(body["ts"])
            for n in range(60):
                fake_slack.workspace.post_message(C_ENG_APPROVALS, f"chatter {n}", user=DAVE)
            return 500, extra, {"ok": False, "error": "fatal_error"}
        return status, extra, body

    fake_slack.handle = lost_then_busy
    try:
        request_time_off(client, fake_slack, ALICE)
    finally:
        del fake_slack.handle

    assert [m.ts for m in fake_slack.workspace.messages(C_ENG_APPROVALS) if m.metadata] == acted  # posted once
    assert any("is with" in text for text in dms_to(fake_slack, ALICE))
    assert not DeliveryProblem.objects.exists()


def test_a_decision_written_whose_answers_were_lost_is_never_called_unchanged(client, fake_slack, no_backoff):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    with answers_lost(fake_slack, "chat.update", then_unreadable=True, every_time=True):
        click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted)

    assert status_in_the_ledger(fake_slack) == "approved"
    [told] = ephemerals_to(fake_slack, BOB)
    assert "is unchanged" not in told and "could not confirm that your approval was recorded" in told


def test_follow_ups_slack_keeps_failing_after_a_decision_are_shown_to_hr_not_lost(client, fake_slack, no_backoff):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    fake_slack.server_error("chat.postMessage", status=500, times=None)  # the thread reply, the DM: Slack down
    click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted)

    assert status_in_the_ledger(fake_slack) == "approved"  # recorded, and never called otherwise
    assert not any("unchanged" in text or "try again" in text for text in ephemerals_to(fake_slack, BOB))
    [problem] = DeliveryProblem.objects.all()
    assert problem.error == "follow-ups: fatal_error" and problem.channel == C_ENG_APPROVALS
    assert problem.summary.startswith(f"{BOB}'s approval is in the ledger, but not all of its follow-ups")


def test_a_decision_made_whose_answer_a_retry_hid_is_never_called_unchanged(client, fake_slack, no_backoff):
    # The write is made but answered 500; the client's retry of it is answered 429 (which makes nothing),
    # so the attempt fails on a 429. The next attempt finds the approval in the message; its follow-ups
    # then fail until the task gives up: the approver must not hear that nothing happened.
    install_config()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    real_handle = fake_slack.handle
    updates = []

    def handle(method, params, headers):
        if method == "chat.postMessage" and params.get("thread_ts"):
            return 500, {}, {"ok": False, "error": "fatal_error"}
        if method == "chat.update" and params.get("channel") == C_ENG_APPROVALS:
            updates.append(params)
            if len(updates) == 2:
                return 429, {"Retry-After": "1"}, {"ok": False, "error": "ratelimited"}
            status, extra, body = real_handle(method, params, headers)
            return (500, {}, {"ok": False, "error": "fatal_error"}) if len(updates) == 1 else (status, extra, body)
        return real_handle(method, params, headers)

    fake_slack.handle = handle
    try:
        click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted)
    finally:
        del fake_slack.handle

    assert status_in_the_ledger(fake_slack) == "approved"
    told = [e.text for e in fake_slack.workspace.ephemerals if e.user == BOB]
    assert not any("unchanged" in text for text in told), told
    assert DeliveryProblem.objects.get().error == "follow-ups: fatal_error"


def test_a_retry_after_the_post_sends_the_rest_though_the_leave_type_was_retired_meanwhile(
        client, fake_slack, no_backoff, monkeypatch):
    # The post lands; the receipt DM is rate-limited past what the client waits out, so the task tries
    # again later; meanwhile HR retires the leave type. The request is in the ledger: the next attempt
    # finds it and sends the receipt, and the requester is never told it could not be sent.
    from approvals import task_queue

    install_config()
    fake_slack.rate_limit("chat.postMessage", retry_after=30, after=1)  # the post, then the receipt DM
    real_enqueue_later = task_queue.enqueue_later

    def retire_vacation_then_enqueue(*args, **kwargs):
        install_config(standard_config(leave_types=(SICK, MEDICAL)))
        return real_enqueue_later(*args, **kwargs)

    monkeypatch.setattr(task_queue, "enqueue_later", retire_vacation_then_enqueue)
    request_time_off(client, fake_slack, ALICE)

    assert status_in_the_ledger(fake_slack) == "pending"
    assert len(posted_requests(fake_slack)) == 1
    told = dms_to(fake_slack, ALICE)
    assert not any("couldn't send" in text or "no longer exists" in text for text in told), told
    assert any("is with" in text for text in told), told
