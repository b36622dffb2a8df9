"""Approve / Reject on the request message, end to end against the fake Slack."""

import json
from dataclasses import replace

import pytest

from approvals.config_types import ApproverSource, MemberSource
from fake_slack.personas import C_ENG, C_ENG_APPROVALS
from approvals import block_ids as ids
from test_support.flows import (
    ALICE,
    BOB,
    DAVE,
    ENGINEERING,
    HR,
    channel_updates,
    click,
    dms_to,
    ephemerals_to,
    install_config,
    posted_requests,
    request_time_off,
    standard_config,
)
from test_support.slack_requests import post_interaction, view_submission_payload

pytestmark = pytest.mark.django_db


def current_message(fake_slack, posted):
    [message] = [m for m in fake_slack.workspace.messages(C_ENG_APPROVALS) if m.ts == posted.response["ts"]]
    return message


def test_an_approver_approves(client, fake_slack):
    install_config()
    request_time_off(client, fake_slack, ALICE, note="Ski week")
    [posted] = posted_requests(fake_slack)
    fake_slack.clear_calls()

    assert click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted).status_code == 200

    # The message was re-read from Slack with its metadata before being rewritten: once, under its lock
    # (conversations.history is Tier 3 for the whole app).
    [reread] = [call.params for call in fake_slack.calls("conversations.history")]
    assert reread["latest"] == posted.response["ts"] and reread["include_all_metadata"] in (True, "true", "1", 1)
    [update] = channel_updates(fake_slack)
    event = json.loads(update.params["metadata"]) if isinstance(update.params["metadata"], str) else \
        update.params["metadata"]
    assert event["event_payload"]["status"] == "approved"
    assert event["event_payload"]["decided_by"] == BOB
    assert isinstance(event["event_payload"]["decided_at"], int)
    assert not [b for b in update.params["blocks"] if b["type"] == "actions"]  # buttons gone
    assert "Ski week" in str(update.params["blocks"])  # the note stays on the message
    message = current_message(fake_slack, posted)
    assert message.metadata["event_payload"]["status"] == "approved"

    [thread_reply] = [c for c in fake_slack.calls("chat.postMessage") if c.params.get("thread_ts")]
    assert thread_reply.params["thread_ts"] == posted.response["ts"]
    assert f"Approved by <@{BOB}>" in thread_reply.params["text"]
    [dm] = dms_to(fake_slack, ALICE)
    assert "approved your" in dm and f"<@{BOB}>" in dm
    [announcement] = [c for c in fake_slack.calls("chat.postMessage") if c.params["channel"] == C_ENG]
    assert f"<@{ALICE}> will be out" in announcement.params["text"]
    assert "Vacation" in announcement.params["text"]


def test_an_approver_rejects_with_a_reason(client, fake_slack):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    fake_slack.clear_calls()

    assert click(client, fake_slack, DAVE, ids.REJECT_ACTION, posted).status_code == 200
    reason_modal = fake_slack.last_call("views.open").params["view"]
    assert reason_modal["callback_id"] == ids.REJECT_MODAL
    assert channel_updates(fake_slack) == []  # nothing decided until the reason is given

    values = {ids.REASON_BLOCK: {ids.REASON_ACTION: {"type": "plain_text_input", "value": "Release week"}}}
    payload = view_submission_payload(user_id=DAVE, view=reason_modal, values=values, view_id="V_REJ")
    response = post_interaction(client, payload)
    assert response.status_code == 200 and response.content == b""

    [update] = channel_updates(fake_slack)
    event = update.params["metadata"]
    event = json.loads(event) if isinstance(event, str) else event
    assert event["event_payload"]["status"] == "rejected"
    assert event["event_payload"]["reason"] == "Release week"
    [dm] = dms_to(fake_slack, ALICE)
    assert "rejected your" in dm and "Release week" in dm
    assert [c for c in fake_slack.calls("chat.postMessage") if c.params["channel"] == C_ENG] == []  # no announcement


def test_an_empty_reason_keeps_the_modal_open(client, fake_slack):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    click(client, fake_slack, BOB, ids.REJECT_ACTION, posted)
    reason_modal = fake_slack.last_call("views.open").params["view"]
    # The form names the request's dates (Alice may have two waiting), not its type (it may be private).
    assert reason_modal["blocks"][0]["text"]["text"] == (
        f"Rejecting <@{ALICE}>'s request: Mon 10 Mar 2031 – Wed 12 Mar 2031, they will be told your reason.")
    values = {ids.REASON_BLOCK: {ids.REASON_ACTION: {"type": "plain_text_input", "value": "   "}}}
    body = post_interaction(client, view_submission_payload(user_id=BOB, view=reason_modal, values=values)).json()
    assert body["response_action"] == "errors" and ids.REASON_BLOCK in body["errors"]
    assert channel_updates(fake_slack) == []


def test_a_non_approver_is_refused(client, fake_slack):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    fake_slack.clear_calls()

    click(client, fake_slack, HR, ids.APPROVE_ACTION, posted)  # HR is only a fallback approver
    [refusal] = ephemerals_to(fake_slack, HR)
    assert "not an approver for Engineering" in refusal
    assert channel_updates(fake_slack) == []
    assert current_message(fake_slack, posted).metadata["event_payload"]["status"] == "pending"


def test_a_non_approver_waiting_behind_another_decision_is_told_why_not(client, fake_slack, monkeypatch):
    # The click was let through (the cache did not know yet); its task waits for the request's lock,
    # which another decision holds, and is then told that it may not decide, not "someone is deciding".
    from approvals import request_services
    from approvals.cache_lock import acquire, release
    from approvals.slack_clients import background_client

    install_config()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    request_id = posted.params["metadata"]["event_payload"]["id"]
    monkeypatch.setattr(request_services, "DECISION_LOCK_WAIT_SECONDS", 0.2)
    token = acquire(f"lock:decide:{request_id}", timeout=30, wait=0)
    try:
        request_services.request_decide(background_client(), request_services.Decision(
            request_id=request_id, channel=C_ENG_APPROVALS, ts=posted.response["ts"], approver=HR,
            status="approved"))
    finally:
        release(f"lock:decide:{request_id}", token)

    [refusal] = ephemerals_to(fake_slack, HR)
    assert "not an approver for Engineering" in refusal
    assert current_message(fake_slack, posted).metadata["event_payload"]["status"] == "pending"


def test_a_non_approver_pressing_reject_gets_no_modal(client, fake_slack):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    fake_slack.clear_calls()
    click(client, fake_slack, HR, ids.REJECT_ACTION, posted)
    assert fake_slack.calls("views.open") == []
    assert "not an approver for Engineering" in ephemerals_to(fake_slack, HR)[0]


def test_an_approver_requesting_for_themselves(client, fake_slack):
    install_config()
    request_time_off(client, fake_slack, BOB)
    [posted] = posted_requests(fake_slack)
    assert f"<@{BOB}>" not in posted.params["text"].split("for")[-1]  # not asked to approve their own
    fake_slack.clear_calls()

    click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted)
    assert "can't decide your own request" in ephemerals_to(fake_slack, BOB)[0]
    assert channel_updates(fake_slack) == []

    click(client, fake_slack, DAVE, ids.APPROVE_ACTION, posted)
    assert current_message(fake_slack, posted).metadata["event_payload"]["decided_by"] == DAVE


def test_fallback_approvers_decide_when_nobody_else_can(client, fake_slack):
    solo = replace(ENGINEERING, members=MemberSource(users=(BOB,)), approvers=ApproverSource(users=(BOB,)))
    install_config(standard_config(teams=(solo,)))
    request_time_off(client, fake_slack, BOB)
    [posted] = posted_requests(fake_slack)
    assert f"<@{HR}>" in posted.params["text"]
    fake_slack.clear_calls()

    click(client, fake_slack, HR, ids.APPROVE_ACTION, posted)
    assert current_message(fake_slack, posted).metadata["event_payload"]["decided_by"] == HR


def test_a_request_already_decided_is_not_decided_again(client, fake_slack):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted)
    fake_slack.clear_calls()

    click(client, fake_slack, DAVE, ids.APPROVE_ACTION, posted)  # a stale message in Dave's client
    assert channel_updates(fake_slack) == []
    assert dms_to(fake_slack, ALICE) == []
    [told] = ephemerals_to(fake_slack, DAVE)
    assert f"already approved by <@{BOB}>" in told


def test_a_private_type_is_announced_without_its_type(client, fake_slack):
    install_config()
    request_time_off(client, fake_slack, ALICE, leave_type="medical", note="dentist")
    [posted] = posted_requests(fake_slack)
    click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted)
    [announcement] = [c for c in fake_slack.calls("chat.postMessage") if c.params["channel"] == C_ENG]
    text = announcement.params["text"]
    assert f"<@{ALICE}> will be out" in text
    assert "Medical" not in text and "dentist" not in text and ":hospital:" not in text


def test_a_deleted_request_tells_the_clicker(client, fake_slack):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    workspace = fake_slack.workspace
    with workspace.lock:  # an admin deletes the request message in Slack
        workspace.delete_message(workspace.find_message(C_ENG_APPROVALS, posted.response["ts"]))
    fake_slack.clear_calls()
    click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted)
    assert "no longer exists" in ephemerals_to(fake_slack, BOB)[0]
    assert channel_updates(fake_slack) == []


def test_a_malformed_button_value_is_a_client_error(client, fake_slack):
    from test_support.slack_requests import block_actions_payload

    install_config()
    payload = block_actions_payload(user_id=BOB, action_id=ids.APPROVE_ACTION, value="not json")
    assert post_interaction(client, payload).status_code == 400


def test_teams_sharing_one_approvals_channel_each_decide_their_own_requests(client, fake_slack):
    # A small company's one approvals channel for every team: the request (its metadata) says whose it is.
    from approvals.config_types import TeamConfig
    from fake_slack.personas import CAROL

    lead = "U_PLATLEAD"
    fake_slack.workspace.add_user(lead, "pat", real_name="Pat Lead")
    platform = TeamConfig(name="Platform", members=MemberSource(users=(CAROL,)), approvers=ApproverSource(users=(lead,)),
                          approvals_channel=C_ENG_APPROVALS, timezone="America/Los_Angeles")
    install_config(standard_config(teams=(ENGINEERING, platform)))
    request_time_off(client, fake_slack, ALICE)  # Engineering's: its approvers channel is cached from here on
    from test_support.flows import MONDAY, WEDNESDAY, open_request_form, request_values, submit_request

    form = open_request_form(client, fake_slack, CAROL)  # her own form: a view id of its own
    submit_request(client, CAROL, form, request_values("vacation", MONDAY, WEDNESDAY), view_id="V_CAROL")
    [posted] = [p for p in posted_requests(fake_slack) if f"<@{CAROL}>" in p.params["text"]]
    assert f"<@{lead}>" in posted.params["text"] and f"<@{BOB}>" not in posted.params["text"]

    assert click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted).status_code == 200  # Engineering's lead
    assert current_message(fake_slack, posted).metadata["event_payload"]["status"] == "pending"
    assert any("not an approver for Platform" in text for text in ephemerals_to(fake_slack, BOB))

    # Reject is checked on the request path, from the cache, before its reason form opens.
    fake_slack.clear_calls()
    assert click(client, fake_slack, lead, ids.REJECT_ACTION, posted).status_code == 200
    assert fake_slack.calls("views.open"), ephemerals_to(fake_slack, lead)  # the reason form, not a refusal
    assert click(client, fake_slack, lead, ids.APPROVE_ACTION, posted).status_code == 200
    payload = current_message(fake_slack, posted).metadata["event_payload"]
    assert (payload["status"], payload["decided_by"]) == ("approved", lead)
    assert not [text for text in ephemerals_to(fake_slack, lead) if "not an approver" in text]
