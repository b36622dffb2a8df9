"""Buttons pressed where Slack treats the message specially, sent as Slack really sends them.

- the ephemeral answer of `/timeoff list` and `/timeoff cancel`: the click's `container` says
  `is_ephemeral: true`, the payload carries a `response_url` and no `message` (or only a part of one);
  Slack keeps that list as it was sent, so the outcome must be said there (or by DM where Slack refuses);
- the receipt DM's buttons, in the DM channel, pressed after the request was decided, edited,
  withdrawn or cancelled elsewhere;
- App Home's buttons (container type "view") on a tab not yet republished.

For each: what the person sees, that nothing is changed twice, and that a `response_url` Slack no longer
honours (used five times, past its 30 minutes, or answering 500) neither loses the answer nor makes our
endpoint fail or retry without end.
"""

import json

import pytest

from approvals import block_ids as ids
from approvals.models import DeliveryProblem
from approvals.rules import APPROVED, REJECTED
from fake_slack.personas import C_ENG, C_ENG_APPROVALS
from test_support.flows import (
    ALICE,
    BOB,
    DAVE,
    HR,
    MONDAY,
    buttons_in,
    channel_updates,
    click,
    dms_to,
    install_config,
    open_app_home,
    posted_requests,
    request_status,
    request_time_off,
    request_values,
    submit_request,
)
from test_support.slack_requests import (
    block_actions_payload,
    post_command,
    post_interaction,
    view_block_actions_payload,
    view_submission_payload,
)

pytestmark = pytest.mark.django_db

LIST_TS = "1766000000.000300"  # the ephemeral list's message_ts, as Slack gives it


# --- Shared steps -------------------------------------------------------------------------------------


def listed(client, user=ALICE, word="list") -> dict:
    """`/timeoff <word>`, asked twice so that the second answer comes at once from a warm cache."""
    post_command(client, word, user_id=user)
    response = post_command(client, word, user_id=user)
    assert response.status_code == 200, response.content
    answer = response.json()
    assert answer["response_type"] == "ephemeral"
    return answer


def list_click(user, blocks, action_id, *, channel=C_ENG, response_url, message=None) -> dict:
    """A click on the ephemeral list as Slack sends it: container `is_ephemeral`, a response_url, and no
    message (or, when given, only the part of one Slack sometimes sends)."""
    block_id, value = buttons_in(blocks)[action_id]
    payload = block_actions_payload(user_id=user, action_id=action_id, value=value, block_id=block_id,
                                    channel_id=channel, message_ts=LIST_TS, response_url=response_url)
    payload["container"] = {"type": "message", "message_ts": LIST_TS, "channel_id": channel, "is_ephemeral": True}
    if message is None:
        payload.pop("message")
    else:
        payload["message"] = message
    return payload


def send(client, payload):
    response = post_interaction(client, payload)
    # Whatever becomes of the change, Slack is answered at once with an empty 200: anything else shows
    # the person Slack's own "didn't work" warning next to the button.
    assert response.status_code == 200, response.content
    assert response.content == b"", response.content
    return response


def ephemerals(fake_slack, user=ALICE, channel=None) -> list[str]:
    return [c.params["text"] for c in fake_slack.calls("chat.postEphemeral")
            if c.params.get("user") == user and (channel is None or c.params.get("channel") == channel)
            and c.response.get("ok")]


def thread_replies(fake_slack) -> list[str]:
    return [c.params["text"] for c in fake_slack.calls("chat.postMessage")
            if c.params.get("channel") == C_ENG_APPROVALS and c.params.get("thread_ts")]


def posts_to(fake_slack, channel) -> list[str]:
    return [c.params["text"] for c in fake_slack.calls("chat.postMessage")
            if c.params.get("channel") == channel and not c.params.get("thread_ts")]


def receipt_of(fake_slack, user=ALICE):
    [receipt] = [c for c in fake_slack.calls("chat.postMessage")
                 if c.params.get("channel") == user and "is with" in c.params.get("text", "")]
    return receipt


def receipt_click(user, blocks, action_id, receipt) -> dict:
    """A click on the receipt DM, as Slack sends it: the DM's "D…" channel, the whole message."""
    channel, ts = receipt.response["channel"], receipt.response["ts"]
    assert channel.startswith("D"), channel
    block_id, value = buttons_in(blocks)[action_id]
    return block_actions_payload(user_id=user, action_id=action_id, value=value, block_id=block_id,
                                 channel_id=channel, message_ts=ts,
                                 message={"type": "message", "ts": ts, "user": "U_BOT", "bot_id": "B_BOT",
                                          "text": receipt.params.get("text", ""), "blocks": blocks})


def home_click(user, home, action_id) -> dict:
    block_id, value = buttons_in(home["blocks"])[action_id]
    return view_block_actions_payload(user_id=user, action_id=action_id, value=value, block_id=block_id, view=home)


def response_url_calls(fake_slack) -> list:
    return fake_slack.calls("response_url")


def approve(client, fake_slack, approver=BOB):
    response = click(client, fake_slack, approver, ids.APPROVE_ACTION, posted_requests(fake_slack)[0])
    assert response.status_code == 200
    assert request_status(fake_slack)["status"] == APPROVED


def reject(client, fake_slack, reason="Release week"):
    message = [m for m in fake_slack.workspace.messages(C_ENG_APPROVALS) if m.metadata][0]
    value = buttons_in(message.blocks)[ids.REJECT_ACTION][1]
    post_interaction(client, block_actions_payload(user_id=BOB, action_id=ids.REJECT_ACTION, value=value,
                                                   channel_id=C_ENG_APPROVALS, message_ts=message.ts))
    form = fake_slack.last_call("views.open").params["view"]
    post_interaction(client, view_submission_payload(user_id=BOB, view=form, values={
        ids.REASON_BLOCK: {ids.REASON_ACTION: {"type": "plain_text_input", "value": reason}}}))
    assert request_status(fake_slack)["status"] == REJECTED


# --- (1) The ephemeral list, and its response_url -------------------------------------------------------


def test_withdraw_on_the_ephemeral_list_as_slack_sends_it_is_answered_there_once(client, fake_slack):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    blocks = listed(client)["blocks"]
    hook = fake_slack.response_url("list-withdraw")
    fake_slack.clear_calls()

    send(client, list_click(ALICE, blocks, ids.WITHDRAW_ACTION, response_url=hook))

    assert request_status(fake_slack)["status"] == "cancelled"
    assert len(channel_updates(fake_slack)) == 1
    said = ephemerals(fake_slack, ALICE, C_ENG) + [
        json.dumps(c.params["body"]) for c in response_url_calls(fake_slack) if c.response.get("ok")]
    assert len(said) == 1, said
    assert "Withdrawn" in said[0]
    assert len(thread_replies(fake_slack)) == 1


@pytest.mark.parametrize("spent", ["expired", "used_up", "server_error"])
def test_a_list_click_whose_response_url_no_longer_works_is_still_answered(client, fake_slack, no_backoff, spent):
    # Slack's response_url takes about five posts within thirty minutes; past that (or while it answers 500)
    # the person must still hear what became of the click, and our endpoint must not fail or keep trying.
    install_config()
    request_time_off(client, fake_slack, ALICE)
    blocks = listed(client)["blocks"]
    hook = fake_slack.response_url("list-spent")
    if spent == "expired":
        now = fake_slack.response_url_clock()
        fake_slack.response_url_clock = lambda: now + 31 * 60
    elif spent == "used_up":
        import urllib.request
        for _ in range(5):  # five earlier answers through it (Slack's own limit)
            urllib.request.urlopen(urllib.request.Request(hook, data=b'{"text":"earlier"}', method="POST",
                                                          headers={"Content-Type": "application/json"}))
    else:
        fake_slack.server_error("response_url", status=500, times=None)
    fake_slack.clear_calls()

    send(client, list_click(ALICE, blocks, ids.WITHDRAW_ACTION, response_url=hook))

    assert request_status(fake_slack)["status"] == "cancelled"
    assert len(channel_updates(fake_slack)) == 1
    told = ephemerals(fake_slack, ALICE) + dms_to(fake_slack, ALICE)
    assert [t for t in told if t.startswith(":white_check_mark: Withdrawn")], told
    assert len(response_url_calls(fake_slack)) <= 1  # no storm of posts at a URL that refuses them


def test_the_list_click_with_part_of_a_message_is_answered_on_the_list(client, fake_slack):
    # Some clients send a `message` with an ephemeral click: only its ts and text, no blocks or metadata.
    install_config()
    request_time_off(client, fake_slack, ALICE)
    blocks = listed(client)["blocks"]
    fake_slack.clear_calls()

    send(client, list_click(ALICE, blocks, ids.WITHDRAW_ACTION, response_url=fake_slack.response_url("partial"),
                            message={"type": "message", "ts": LIST_TS, "text": "Your time off: 1 pending"}))

    assert request_status(fake_slack)["status"] == "cancelled"
    [said] = ephemerals(fake_slack, ALICE, C_ENG)
    assert said.startswith(":white_check_mark: Withdrawn")
    assert dms_to(fake_slack, ALICE) == []


def test_cancel_on_the_cancel_list_typed_in_a_dm_between_two_people_is_answered_by_dm(client, fake_slack):
    # `/timeoff cancel` typed in Alice's DM with Bob: the app is not in that conversation, so Slack refuses
    # an ephemeral there; she hears it by DM from the app instead.
    install_config()
    request_time_off(client, fake_slack, ALICE)
    approve(client, fake_slack)
    blocks = listed(client, word="cancel")["blocks"]
    fake_slack.clear_calls()

    send(client, list_click(ALICE, blocks, ids.CANCEL_ACTION, channel="D0ALICEBOB",
                            response_url=fake_slack.response_url("dm-between-people")))

    assert request_status(fake_slack)["status"] == "cancelled"
    assert len(channel_updates(fake_slack)) == 1
    assert len(posts_to(fake_slack, C_ENG)) == 1  # the one correction in the announce channel
    assert [t for t in dms_to(fake_slack, ALICE) if t.startswith(":white_check_mark: Cancelled")]


def test_a_list_click_in_the_apps_own_dm_is_answered_there(client, fake_slack):
    # `/timeoff list` typed in the app's Messages tab: the ephemeral answer goes where the list is.
    install_config()
    request_time_off(client, fake_slack, ALICE)
    dm = receipt_of(fake_slack).response["channel"]
    blocks = listed(client)["blocks"]
    fake_slack.clear_calls()

    send(client, list_click(ALICE, blocks, ids.WITHDRAW_ACTION, channel=dm,
                            response_url=fake_slack.response_url("app-dm")))

    assert request_status(fake_slack)["status"] == "cancelled"
    said = ephemerals(fake_slack, ALICE, dm) + [t for t in dms_to(fake_slack, ALICE) if "Withdrawn" in t]
    assert len(said) == 1 and said[0].startswith(":white_check_mark: Withdrawn"), said


def test_withdraw_on_the_list_that_came_by_dm_on_a_cold_cache_is_answered_in_that_dm(client, fake_slack):
    # On a cold cache the list comes as an ordinary DM: Slack keeps that one as sent too, so the click is
    # answered there, not left looking like nothing happened.
    from django.core.cache import cache

    install_config()
    request_time_off(client, fake_slack, ALICE)
    cache.clear()
    fake_slack.clear_calls()
    response = post_command(client, "list", user_id=ALICE)
    assert "I'll DM you" in response.json()["text"]
    [list_dm] = [c for c in fake_slack.calls("chat.postMessage") if c.params.get("channel") == ALICE
                 and c.params.get("blocks")]
    dm, ts = list_dm.response["channel"], list_dm.response["ts"]
    block_id, value = buttons_in(list_dm.params["blocks"])[ids.WITHDRAW_ACTION]
    fake_slack.clear_calls()

    send(client, block_actions_payload(user_id=ALICE, action_id=ids.WITHDRAW_ACTION, value=value, block_id=block_id,
                                       channel_id=dm, message_ts=ts,
                                       response_url=fake_slack.response_url("cold-list"),
                                       message={"type": "message", "ts": ts, "text": list_dm.params["text"],
                                                "blocks": list_dm.params["blocks"]}))

    assert request_status(fake_slack)["status"] == "cancelled"
    said = ephemerals(fake_slack, ALICE, dm) + [t for t in dms_to(fake_slack, ALICE) if "Withdrawn" in t]
    assert len(said) == 1 and said[0].startswith(":white_check_mark: Withdrawn"), said


def test_the_same_list_pressed_again_after_its_response_url_expired_changes_nothing_twice(client, fake_slack):
    # She withdraws from the list, comes back 40 minutes later to the same (unchanged) list and presses
    # Withdraw again: the request is not written again, the approvers hear of it once, and she is not told
    # it failed.
    install_config()
    request_time_off(client, fake_slack, ALICE)
    blocks = listed(client)["blocks"]
    hook = fake_slack.response_url("list-again")
    send(client, list_click(ALICE, blocks, ids.WITHDRAW_ACTION, response_url=hook))
    assert request_status(fake_slack)["status"] == "cancelled"
    now = fake_slack.response_url_clock()
    fake_slack.response_url_clock = lambda: now + 40 * 60
    fake_slack.clear_calls()

    send(client, list_click(ALICE, blocks, ids.WITHDRAW_ACTION, response_url=hook))

    assert channel_updates(fake_slack) == []
    assert thread_replies(fake_slack) == []
    told = ephemerals(fake_slack, ALICE) + dms_to(fake_slack, ALICE)
    assert not [t for t in told if "couldn't" in t], told


def test_withdraw_on_an_old_list_after_the_approver_approved_is_refused_on_the_list(client, fake_slack):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    blocks = listed(client)["blocks"]
    approve(client, fake_slack)
    fake_slack.clear_calls()

    send(client, list_click(ALICE, blocks, ids.WITHDRAW_ACTION, response_url=fake_slack.response_url("old")))

    assert request_status(fake_slack)["status"] == APPROVED
    assert channel_updates(fake_slack) == [] and thread_replies(fake_slack) == []
    [said] = ephemerals(fake_slack, ALICE, C_ENG)
    assert said.startswith("I couldn't change that request:") and "approved" in said


def test_a_list_answer_slack_keeps_failing_with_500_still_reaches_her(client, fake_slack, no_backoff):
    # chat.postEphemeral answers 500 every time: the withdrawal is made, and she learns of it somewhere
    # (a DM, or the receipt rewritten), with a bounded number of tries.
    install_config()
    request_time_off(client, fake_slack, ALICE)
    blocks = listed(client)["blocks"]
    fake_slack.clear_calls()
    fake_slack.server_error("chat.postEphemeral", status=500, times=None)

    send(client, list_click(ALICE, blocks, ids.WITHDRAW_ACTION, response_url=fake_slack.response_url("e500")))

    assert request_status(fake_slack)["status"] == "cancelled"
    assert len(channel_updates(fake_slack)) == 1 and len(thread_replies(fake_slack)) == 1
    receipt_rewrites = [c.params["text"] for c in fake_slack.calls("chat.update")
                        if str(c.params.get("channel")).startswith("D") and c.response.get("ok")]
    told = dms_to(fake_slack, ALICE) + receipt_rewrites
    assert [t for t in told if "Withdrawn" in t or "Cancelled" in t or "withdrawn" in t], told
    # Bounded: the change is made once (its task does not run again for the note), and the note's own task
    # tries once at once and for about 40 minutes more (TELL_ATTEMPTS, each with the client's own retries of
    # a 5xx), then a DM.
    from approvals.slack_clients import BACKGROUND_MAX_RETRIES
    from approvals.tasks import TELL_ATTEMPTS
    assert len(fake_slack.calls("conversations.history")) <= 2, "the change ran again for its note"
    assert len(fake_slack.calls("chat.postEphemeral")) <= (1 + TELL_ATTEMPTS) * (1 + BACKGROUND_MAX_RETRIES), \
        len(fake_slack.calls("chat.postEphemeral"))
    fake_slack.clear_calls()
    assert fake_slack.calls("chat.postEphemeral") == []  # nothing left running that keeps trying


def test_a_list_answer_slack_keeps_failing_with_500_is_told_to_her_by_dm(client, fake_slack, no_backoff):
    # The list's answer is what she waits for after pressing a button that shows no change: when Slack
    # will not show it there at all, a DM still says it was done.
    install_config()
    request_time_off(client, fake_slack, ALICE)
    blocks = listed(client)["blocks"]
    fake_slack.clear_calls()
    fake_slack.server_error("chat.postEphemeral", status=500, times=None)

    send(client, list_click(ALICE, blocks, ids.WITHDRAW_ACTION, response_url=fake_slack.response_url("e500dm")))

    assert request_status(fake_slack)["status"] == "cancelled"
    assert [t for t in dms_to(fake_slack, ALICE) if t.startswith(":white_check_mark: Withdrawn")], \
        dms_to(fake_slack, ALICE)


# --- (2) The receipt DM after the request changed elsewhere ------------------------------------------------


def test_withdraw_on_the_receipt_after_a_rejection_changes_nothing_and_says_why_by_dm(client, fake_slack):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    receipt = receipt_of(fake_slack)
    reject(client, fake_slack)
    fake_slack.clear_calls()

    send(client, receipt_click(ALICE, receipt.params["blocks"], ids.WITHDRAW_ACTION, receipt))

    assert request_status(fake_slack)["status"] == REJECTED
    assert channel_updates(fake_slack) == [] and thread_replies(fake_slack) == []
    told = dms_to(fake_slack, ALICE) + ephemerals(fake_slack)
    assert len(told) == 1 and "rejected" in told[0] and "withdraw" in told[0], told


def test_edit_on_the_receipt_after_she_withdrew_it_from_the_list_opens_no_form(client, fake_slack):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    receipt = receipt_of(fake_slack)
    blocks = listed(client)["blocks"]
    send(client, list_click(ALICE, blocks, ids.WITHDRAW_ACTION, response_url=fake_slack.response_url("w")))
    assert request_status(fake_slack)["status"] == "cancelled"
    fake_slack.clear_calls()

    send(client, receipt_click(ALICE, receipt.params["blocks"], ids.EDIT_ACTION, receipt))

    assert fake_slack.calls("views.open") == []
    told = dms_to(fake_slack, ALICE) + ephemerals(fake_slack)
    assert len(told) == 1 and "cancelled" in told[0] and "edited" in told[0], told


def test_withdraw_on_the_receipt_after_hr_withdrew_it_is_refused_once(client, fake_slack):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    receipt = receipt_of(fake_slack)
    hr_list = listed(client, HR, f"for <@{ALICE}> list")["blocks"]
    send(client, list_click(HR, hr_list, ids.WITHDRAW_ACTION, response_url=fake_slack.response_url("hr")))
    assert (request_status(fake_slack)["status"], request_status(fake_slack)["decided_by"]) == ("cancelled", HR)
    fake_slack.clear_calls()

    send(client, receipt_click(ALICE, receipt.params["blocks"], ids.WITHDRAW_ACTION, receipt))

    assert request_status(fake_slack)["decided_by"] == HR
    assert channel_updates(fake_slack) == [] and thread_replies(fake_slack) == []
    told = dms_to(fake_slack, ALICE) + ephemerals(fake_slack)
    assert len(told) == 1 and told[0].startswith("I couldn't change that request:"), told


def test_cancel_on_the_receipt_after_she_cancelled_from_the_list_cancels_once(client, fake_slack):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    approve(client, fake_slack)
    approved_receipt = [c for c in fake_slack.calls("chat.update") if str(c.params.get("channel")).startswith("D")][-1]
    receipt = receipt_of(fake_slack)
    blocks = listed(client, word="cancel")["blocks"]
    send(client, list_click(ALICE, blocks, ids.CANCEL_ACTION, response_url=fake_slack.response_url("c")))
    assert request_status(fake_slack)["status"] == "cancelled"
    fake_slack.clear_calls()

    # Her Slack client still shows the receipt as approved, with Cancel leave.
    assert ids.CANCEL_ACTION in buttons_in(approved_receipt.params["blocks"])
    send(client, receipt_click(ALICE, approved_receipt.params["blocks"], ids.CANCEL_ACTION, receipt))

    assert channel_updates(fake_slack) == []
    assert thread_replies(fake_slack) == [] and posts_to(fake_slack, C_ENG) == []  # no second correction
    told = dms_to(fake_slack, ALICE) + ephemerals(fake_slack)
    assert not [t for t in told if t.startswith(":white_check_mark:")], told  # not told "cancelled" again


def test_withdraw_on_the_receipt_after_an_edit_withdraws_the_edited_request_once(client, fake_slack):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    receipt = receipt_of(fake_slack)
    # She edits it from the list (new last day); her receipt's old copy still carries Withdraw.
    blocks = listed(client)["blocks"]
    block_id, value = buttons_in(blocks)[ids.EDIT_ACTION]
    post_interaction(client, list_click(ALICE, blocks, ids.EDIT_ACTION, response_url=fake_slack.response_url("e")))
    form = fake_slack.last_call("views.open").params["view"]
    response = submit_request(client, ALICE, form, request_values("vacation", MONDAY, MONDAY), view_id="V_EDIT")
    assert response.status_code == 200 and response.content == b"", response.content
    assert request_status(fake_slack)["end"] == MONDAY.isoformat()
    fake_slack.clear_calls()

    send(client, receipt_click(ALICE, receipt.params["blocks"], ids.WITHDRAW_ACTION, receipt))
    send(client, receipt_click(ALICE, receipt.params["blocks"], ids.WITHDRAW_ACTION, receipt))  # a double click

    status = request_status(fake_slack)
    assert (status["status"], status["end"]) == ("cancelled", MONDAY.isoformat())
    assert len(channel_updates(fake_slack)) == 1 and len(thread_replies(fake_slack)) == 1
    assert not [t for t in dms_to(fake_slack, ALICE) if "couldn't" in t]


# --- (3) App Home on a stale tab -----------------------------------------------------------------------------


def test_edit_on_a_stale_app_home_after_approval_opens_no_form_and_says_why_by_dm(client, fake_slack):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    home = open_app_home(client, fake_slack, ALICE, "Ev_STALE_EDIT")
    approve(client, fake_slack)
    fake_slack.clear_calls()

    send(client, home_click(ALICE, home, ids.EDIT_ACTION))

    assert fake_slack.calls("views.open") == []
    [told] = dms_to(fake_slack, ALICE)
    assert "already approved" in told and "cancel" in told


def test_approve_on_a_stale_app_home_after_the_request_was_withdrawn_changes_nothing(client, fake_slack):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    home = open_app_home(client, fake_slack, BOB, "Ev_STALE_APPROVE")
    assert ids.APPROVE_ACTION in buttons_in(home["blocks"])
    receipt = receipt_of(fake_slack)
    send(client, receipt_click(ALICE, receipt.params["blocks"], ids.WITHDRAW_ACTION, receipt))
    assert request_status(fake_slack)["status"] == "cancelled"
    fake_slack.clear_calls()

    send(client, home_click(BOB, home, ids.APPROVE_ACTION))

    assert request_status(fake_slack)["status"] == "cancelled"
    assert channel_updates(fake_slack) == [] and thread_replies(fake_slack) == []
    assert posts_to(fake_slack, C_ENG) == []  # no announcement of leave that was withdrawn
    told = dms_to(fake_slack, BOB) + ephemerals(fake_slack, BOB)
    assert len(told) == 1 and "cancelled" in told[0], told
    assert dms_to(fake_slack, ALICE) == []  # she is not told of an approval


def test_reject_on_a_stale_app_home_after_another_approver_approved_asks_for_no_reason(client, fake_slack):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    home = open_app_home(client, fake_slack, BOB, "Ev_STALE_REJECT")
    approve(client, fake_slack, approver=DAVE)
    fake_slack.clear_calls()

    send(client, home_click(BOB, home, ids.REJECT_ACTION))

    assert fake_slack.calls("views.open") == []
    assert request_status(fake_slack)["status"] == APPROVED
    told = dms_to(fake_slack, BOB) + ephemerals(fake_slack, BOB)
    assert len(told) == 1 and "already approved" in told[0] and f"<@{DAVE}>" in told[0], told


def test_withdraw_pressed_twice_on_a_stale_app_home_withdraws_once_and_says_nothing_failed(client, fake_slack):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    home = open_app_home(client, fake_slack, ALICE, "Ev_STALE_TWICE")
    fake_slack.clear_calls()

    send(client, home_click(ALICE, home, ids.WITHDRAW_ACTION))
    send(client, home_click(ALICE, home, ids.WITHDRAW_ACTION))

    assert request_status(fake_slack)["status"] == "cancelled"
    assert len(channel_updates(fake_slack)) == 1 and len(thread_replies(fake_slack)) == 1
    assert not [t for t in dms_to(fake_slack, ALICE) if "couldn't" in t]
    assert fake_slack.calls("chat.postEphemeral") == []  # App Home has no channel to answer in
    published = [c for c in fake_slack.calls("views.publish") if c.params["user_id"] == ALICE]
    assert published, "her tab is republished without the withdrawn request"
    view = published[-1].params["view"]
    view = json.loads(view) if isinstance(view, str) else view
    assert ids.WITHDRAW_ACTION not in buttons_in(view["blocks"])


def test_cancel_on_a_stale_app_home_whose_request_message_was_deleted_says_so_by_dm(client, fake_slack):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    approve(client, fake_slack)
    home = open_app_home(client, fake_slack, ALICE, "Ev_STALE_DELETED")
    message = [m for m in fake_slack.workspace.messages(C_ENG_APPROVALS) if m.metadata][0]
    fake_slack.workspace.delete_message(message)
    fake_slack.clear_calls()

    send(client, home_click(ALICE, home, ids.CANCEL_ACTION))

    assert channel_updates(fake_slack) == [] and posts_to(fake_slack, C_ENG) == []
    told = dms_to(fake_slack, ALICE)
    assert len(told) == 1 and told[0].startswith("I couldn't change that request:"), told
    assert not DeliveryProblem.objects.filter(error__startswith="follow-ups").exists()
