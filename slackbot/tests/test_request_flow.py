"""/timeoff → modal → submission → the request in the approvals channel, end to end.

Signed, Slack-shaped requests go to our endpoints; the app talks to the fake
Slack over real HTTP; the assertions are on what crossed the wire.
"""

import pytest

from fake_slack.personas import C_ENG, C_ENG_APPROVALS, C_GENERAL, CAROL
from approvals import block_ids as ids
from test_support.flows import (
    ALICE,
    BOB,
    DAVE,
    HR,
    MONDAY,
    WEDNESDAY,
    dms_to,
    install_config,
    metadata_payload,
    open_request_form,
    posted_requests,
    request_time_off,
    request_values,
    standard_config,
    submit_request,
)
from test_support.slack_requests import block_actions_payload, post_command, post_interaction

pytestmark = pytest.mark.django_db


def test_timeoff_opens_the_request_modal(client, fake_slack):
    install_config()
    view = open_request_form(client, fake_slack, ALICE)
    assert view["callback_id"] == ids.REQUEST_MODAL
    block_ids = [block.get("block_id") for block in view["blocks"]]
    assert block_ids[:4] == [ids.TYPE_BLOCK, ids.START_BLOCK, ids.END_BLOCK, ids.HALF_BLOCK]
    assert ids.NOTE_BLOCK in block_ids and ids.PREVIEW_BLOCK in block_ids
    types = view["blocks"][0]["element"]["options"]
    assert [option["value"] for option in types] == ["vacation", "sick", "medical"]
    # Opening the form warms the requester's time zone and team memberships in the background.
    assert fake_slack.last_call("users.info").params["user"] == ALICE
    assert {call.params["channel"] for call in fake_slack.calls("conversations.members")} >= {C_ENG}


def test_timeoff_with_arguments_prefills_the_modal(client, fake_slack):
    install_config()
    view = open_request_form(client, fake_slack, ALICE, "2031-03-10 2031-03-12 vacation")
    type_block, start_block, end_block = view["blocks"][:3]
    assert type_block["element"]["initial_option"]["value"] == "vacation"
    assert start_block["element"]["initial_date"] == "2031-03-10"
    assert end_block["element"]["initial_date"] == "2031-03-12"


def test_the_preview_follows_the_dates(client, fake_slack):
    install_config()
    open_request_form(client, fake_slack, ALICE)  # warms Alice's team and time zone
    view = open_request_form(client, fake_slack, ALICE)
    opened = fake_slack.last_call("views.open").response["view"]
    state_view = {**view, "id": opened["id"], "hash": opened["hash"],
                  "state": {"values": request_values("vacation", MONDAY, WEDNESDAY)}}
    payload = block_actions_payload(user_id=ALICE, action_id=ids.END_ACTION, value="", block_id=ids.END_BLOCK)
    del payload["container"]["message_ts"]
    payload["container"] = {"type": "view", "view_id": opened["id"]}
    payload["view"] = state_view
    payload["actions"][0].update({"type": "datepicker", "selected_date": WEDNESDAY.isoformat()})
    assert post_interaction(client, payload).status_code == 200

    updated = fake_slack.last_call("views.update")
    assert updated.params["view_id"] == opened["id"]
    assert updated.response["ok"] is True
    preview = [b for b in updated.params["view"]["blocks"] if b.get("block_id") == ids.PREVIEW_BLOCK][0]
    text = preview["elements"][0]["text"]
    assert "3 working days" in text
    assert "Engineering" in text


def test_a_valid_request_reaches_the_approvers(client, fake_slack):
    install_config()
    request_time_off(client, fake_slack, ALICE, note="Family trip <!channel>")

    [posted] = posted_requests(fake_slack)
    event = metadata_payload(posted)
    assert event == {
        "v": 1, "id": event["id"], "user": ALICE, "team": "Engineering", "type": "vacation",
        "start": "2031-03-10", "end": "2031-03-12", "days": 3, "status": "pending",
    }  # keys without a value are left out: Slack takes no null in metadata
    assert "Family trip" not in str(posted.params["metadata"])  # the note never goes into metadata
    rendered = str(posted.params["blocks"])
    assert "Family trip &lt;!channel&gt;" in rendered  # shown, but cannot ping the channel
    assert f"<@{BOB}>" in posted.params["text"] and f"<@{DAVE}>" in posted.params["text"]
    buttons = [b for b in posted.params["blocks"] if b["type"] == "actions"][0]["elements"]
    assert [b["action_id"] for b in buttons] == [ids.APPROVE_ACTION, ids.REJECT_ACTION]
    # The request is now in Slack's ledger, metadata and all.
    [message] = fake_slack.workspace.messages(C_ENG_APPROVALS)
    assert message.metadata["event_payload"]["id"] == event["id"]

    [receipt] = dms_to(fake_slack, ALICE)
    assert "is with" in receipt and f"<@{BOB}>" in receipt


def test_a_first_delivery_does_not_read_the_channel_before_posting(client, fake_slack):
    # conversations.history is Tier 3 for the whole app: a delivery looks for an earlier post of its
    # request only when an earlier attempt got as far as posting (test_partial_failures: it then does).
    install_config()
    view = open_request_form(client, fake_slack, ALICE)  # warms the ledger: its reads come before
    fake_slack.clear_calls()
    submit_request(client, ALICE, view, request_values("vacation", MONDAY, WEDNESDAY))

    assert len(posted_requests(fake_slack)) == 1
    assert fake_slack.calls("conversations.history") == []


def test_half_days_count_half(client, fake_slack):
    install_config()
    request_time_off(client, fake_slack, ALICE, halves=(ids.HALF_START_PM, ids.HALF_END_AM))
    event = metadata_payload(posted_requests(fake_slack)[0])
    assert (event["start_half"], event["end_half"], event["days"]) == ("pm", "am", 2)


def test_invalid_dates_are_refused_in_the_modal(client, fake_slack):
    install_config()
    view = open_request_form(client, fake_slack, ALICE)
    response = submit_request(client, ALICE, view, request_values("vacation", WEDNESDAY, MONDAY))
    body = response.json()
    assert body["response_action"] == "errors"
    assert set(body["errors"]) == {ids.END_BLOCK}
    assert posted_requests(fake_slack) == []


def test_a_weekend_only_request_is_refused(client, fake_slack):
    from datetime import date

    install_config()
    view = open_request_form(client, fake_slack, ALICE)
    saturday, sunday = date(2031, 3, 15), date(2031, 3, 16)
    body = submit_request(client, ALICE, view, request_values("vacation", saturday, sunday)).json()
    assert body["response_action"] == "errors"
    assert "working day" in body["errors"][ids.END_BLOCK]


def test_the_same_submission_twice_posts_one_request(client, fake_slack):
    install_config()
    view = open_request_form(client, fake_slack, ALICE)
    values = request_values("vacation", MONDAY, WEDNESDAY)
    assert submit_request(client, ALICE, view, values, view_id="V_DUP", view_hash="same").status_code == 200
    assert submit_request(client, ALICE, view, values, view_id="V_DUP", view_hash="same").status_code == 200
    assert len(posted_requests(fake_slack)) == 1


def test_a_type_without_approval_is_recorded_and_announced_at_once(client, fake_slack):
    install_config()
    request_time_off(client, fake_slack, ALICE, leave_type="sick", note="flu")
    [posted] = posted_requests(fake_slack)
    event = metadata_payload(posted)
    assert event["status"] == "approved"
    assert not [b for b in posted.params["blocks"] if b["type"] == "actions"]  # nothing to decide
    [announcement] = [c for c in fake_slack.calls("chat.postMessage") if c.params["channel"] == C_ENG]
    # A private type: the team channel hears who is out, not why.
    assert f"<@{ALICE}>" in announcement.params["text"]
    assert "Sick" not in announcement.params["text"] and "flu" not in announcement.params["text"]
    [receipt] = dms_to(fake_slack, ALICE)
    assert "needs no approval" in receipt


def test_a_user_in_no_team_is_told_at_once(client, fake_slack):
    install_config()
    post_command(client, "", user_id=CAROL)  # first call warms the memberships
    response = post_command(client, "", user_id=CAROL)
    body = response.json()
    assert body["response_type"] == "ephemeral"
    assert "no team is configured for you" in body["text"]
    assert f"<@{HR}>" in body["text"]


def test_a_user_in_no_team_is_told_in_the_modal_when_the_cache_knows(client, fake_slack):
    install_config()
    view = open_request_form(client, fake_slack, CAROL)  # the form opened before HR removed her team, say
    body = submit_request(client, CAROL, view, request_values("vacation", MONDAY, WEDNESDAY)).json()
    assert body["response_action"] == "errors"
    error = body["errors"][ids.TYPE_BLOCK]
    assert "no team is configured for you" in error and "ask HR" in error
    assert "<@" not in error  # a field's error is plain text: a mention would show as its raw id
    assert posted_requests(fake_slack) == []


def test_a_user_in_no_team_with_a_cold_cache_is_told_by_dm(client, fake_slack):
    from django.core.cache import cache

    install_config()
    view = open_request_form(client, fake_slack, CAROL)
    cache.clear()  # memberships expired between opening the form and sending it
    response = submit_request(client, CAROL, view, request_values("vacation", MONDAY, WEDNESDAY))
    assert response.content == b""  # accepted: it is checked in the background
    assert posted_requests(fake_slack) == []
    [dm] = dms_to(fake_slack, CAROL)
    assert "no team is configured for you" in dm
    assert "Vacation" in dm and "10 Mar" in dm  # what they asked for, shown back


def test_a_default_team_catches_everyone_else(client, fake_slack):
    from dataclasses import replace

    from test_support.flows import ENGINEERING

    # Each team has its own approvals channel (Slack finds a request's team by it).
    catch_all = replace(ENGINEERING, name="Everyone", members=type(ENGINEERING.members)(), default=True,
                        approvals_channel=C_GENERAL)
    install_config(standard_config(teams=(ENGINEERING, catch_all)))
    request_time_off(client, fake_slack, CAROL)
    assert metadata_payload(posted_requests(fake_slack, C_GENERAL)[0])["team"] == "Everyone"


def test_someone_outside_the_requesters_policy_may_not_request(client, fake_slack):
    install_config(standard_config(requesters_users=(BOB,)))
    body = post_command(client, "", user_id=ALICE).json()
    assert body["response_type"] == "ephemeral"
    assert "not among the people who may request" in body["text"]
    assert fake_slack.calls("views.open") == []


def test_an_expired_trigger_gets_a_polite_answer(client, fake_slack):
    install_config()
    fake_slack.fail("views.open", "expired_trigger_id")
    body = post_command(client, "", user_id=ALICE).json()
    assert body["response_type"] == "ephemeral"
    assert "try `/timeoff` again" in body["text"]
