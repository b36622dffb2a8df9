"""What the demo sends the app is what Slack sends: signed as Slack signs, shaped as Slack shapes it."""

import json
import time
from datetime import date
from urllib.parse import parse_qs

from django.http import QueryDict
from slack_sdk.signature import SignatureVerifier

from approvals import block_ids as ids
from approvals.config_types import LeaveTypeConfig
from demo import slack_payloads as slack
from slackbot.modals import reject_modal, request_modal
from slackbot.payloads import parse_command_body, parse_event_body, parse_interaction_body
from slackbot.request_form import form_values

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
VACATION = LeaveTypeConfig(code="vacation", name="Vacation", emoji=":palm_tree:", allow_half_days=True)
SICK = LeaveTypeConfig(code="sick", name="Sick leave", requires_approval=False)
ALICE = slack.slack_user("U_ALICE", "alice")


def form(**fields) -> QueryDict:
    data = QueryDict(mutable=True)
    for name, value in fields.items():
        data.setlist(name.replace("_", "."), value if isinstance(value, list) else [value])
    return data


def test_it_signs_as_slack_does():
    # Slack's documented example (SLACK.md), through the demo's own header builder.
    body = (b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&"
            b"channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&"
            b"response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXa"
            b"IFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c")
    headers = slack.signed_headers(body, SECRET, timestamp=1531420618)
    assert headers == {"X-Slack-Request-Timestamp": "1531420618",
                       "X-Slack-Signature": "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"}


def test_a_fresh_signature_verifies():
    body = slack.form_body({"a": "b"})
    headers = slack.signed_headers(body, SECRET)
    assert SignatureVerifier(SECRET).is_valid(body, headers["X-Slack-Request-Timestamp"], headers["X-Slack-Signature"])


def test_the_slash_command_is_what_the_app_parses():
    fields = slack.command_fields(text="2031-03-10 vacation", user_id="U_ALICE", user_name="alice",
                                  channel_id="C_GENERAL", channel_name="general", trigger_id=slack.new_trigger_id(),
                                  response_url="http://127.0.0.1:1/response_url/x")
    command = parse_command_body(slack.form_body(fields).decode())
    assert (command.user_id, command.channel_id, command.words) == ("U_ALICE", "C_GENERAL", ["2031-03-10", "vacation"])
    assert list(fields)[:3] == ["token", "team_id", "team_domain"]


def test_the_modal_state_reads_back_as_the_app_expects():
    view = request_modal(leave_types=(VACATION, SICK))
    values, shown, errors = slack.form_state(view["blocks"], form(
        b0_0="vacation", b1_0="2031-03-10", b2_0="2031-03-12", b3_0=["end_am", "forged"], b4_0="See you\r\nsoon"))
    assert errors == {}
    assert values[ids.TYPE_BLOCK][ids.TYPE_ACTION] == {"type": "static_select", "selected_option": {
        "text": {"type": "plain_text", "text": ":palm_tree: Vacation", "emoji": True}, "value": "vacation"}}
    assert values[ids.HALF_BLOCK][ids.HALF_ACTION]["selected_options"] == [
        {"text": {"type": "plain_text", "text": "Last day: morning only", "emoji": True}, "value": "end_am"}]
    assert shown == {f"{ids.TYPE_BLOCK}/{ids.TYPE_ACTION}": "vacation", f"{ids.START_BLOCK}/{ids.START_ACTION}":
                     "2031-03-10", f"{ids.END_BLOCK}/{ids.END_ACTION}": "2031-03-12",
                     f"{ids.HALF_BLOCK}/{ids.HALF_ACTION}": ["end_am"], f"{ids.NOTE_BLOCK}/{ids.NOTE_ACTION}": "See you\nsoon"}
    read = form_values({"state": {"values": values}})  # the app's own reader
    assert (read.leave_type, read.start, read.end, read.halves, read.note) == (
        "vacation", date(2031, 3, 10), date(2031, 3, 12), ("end_am",), "See you\nsoon")


def test_required_fields_are_not_sent_empty_as_in_slacks_client():
    view = request_modal(leave_types=(VACATION,))
    values, _, errors = slack.form_state(view["blocks"], form(b0_0="forged-type"))
    assert values[ids.TYPE_BLOCK][ids.TYPE_ACTION]["selected_option"] is None  # options come from the view
    assert values[ids.START_BLOCK][ids.START_ACTION] == {"type": "datepicker", "selected_date": None}
    assert values[ids.NOTE_BLOCK][ids.NOTE_ACTION] == {"type": "plain_text_input", "value": None}
    assert set(errors) == {ids.TYPE_BLOCK, ids.START_BLOCK, ids.END_BLOCK}


def test_text_shorter_than_min_length_is_not_sent():
    view = reject_modal(private_metadata={"id": "r1"}, requester="U_ALICE", summary="")
    _, _, errors = slack.form_state(view["blocks"], form(b1_0="x"))
    assert errors == {ids.REASON_BLOCK: "Please enter at least 2 characters."}


def test_a_view_submission_is_what_the_app_parses():
    view = {**request_modal(leave_types=(VACATION,)), "id": "V1", "hash": "h1"}
    payload = slack.view_submission(user=ALICE, view=view, values={"x": {}}, trigger_id="t")
    parsed = parse_interaction_body(slack.interaction_body(payload).decode())
    assert parsed["type"] == "view_submission" and parsed["user"]["id"] == "U_ALICE"
    assert parsed["view"]["callback_id"] == ids.REQUEST_MODAL and parsed["view"]["state"] == {"values": {"x": {}}}
    assert parsed["view"]["id"] == "V1" and parsed["view"]["hash"] == "h1"


def test_a_button_click_on_a_message():
    blocks = [{"type": "actions", "block_id": ids.DECISION_BLOCK, "elements": [
        {"type": "button", "action_id": ids.APPROVE_ACTION, "style": "primary",
         "text": {"type": "plain_text", "text": "Approve"}, "value": '{"id": "r1", "user": "U_ALICE"}'}]}]
    block, element = slack.element_at(blocks, 0, 0)
    action = slack.action_of(element, block, 0, 0)
    message = {"type": "message", "ts": "1.000001", "text": "t", "blocks": blocks, "metadata": {"event_type": "x"}}
    payload = slack.message_block_actions(user=ALICE, channel_id="C_ENG_APPROVALS", channel_name="eng-approvals",
                                          message=message, message_ts="1.000001", action=action, trigger_id="t",
                                          response_url="http://r")
    parsed = parse_interaction_body(slack.interaction_body(payload).decode())
    assert parsed["container"] == {"type": "message", "message_ts": "1.000001", "channel_id": "C_ENG_APPROVALS",
                                   "is_ephemeral": False}
    assert parsed["actions"][0]["action_id"] == ids.APPROVE_ACTION
    assert parsed["actions"][0]["value"] == '{"id": "r1", "user": "U_ALICE"}'
    assert parsed["actions"][0]["block_id"] == ids.DECISION_BLOCK
    assert "metadata" not in parsed["message"]  # Slack leaves it out too (slack-sdk #1501)
    assert slack.element_at(blocks, 0, 1) is None and slack.element_at(blocks, 3, 0) is None


def test_a_change_in_a_modal_carries_the_state_and_the_new_value():
    view = {**request_modal(leave_types=(VACATION,)), "id": "V1", "hash": "h"}
    values, _, _ = slack.form_state(view["blocks"], form(b1_0="2031-03-10"))
    block, element = slack.element_at(view["blocks"], 1, 0)
    state = values[ids.START_BLOCK][ids.START_ACTION]
    payload = slack.view_block_actions(user=ALICE, view=view, values=values, trigger_id="t",
                                       action=slack.action_of(element, block, 1, 0, state))
    assert payload["container"] == {"type": "view", "view_id": "V1"}
    assert payload["actions"][0] | {"action_ts": "x"} == {"type": "datepicker", "action_id": ids.START_ACTION,
                                                         "block_id": ids.START_BLOCK, "selected_date": "2031-03-10",
                                                         "action_ts": "x"}
    assert payload["view"]["state"]["values"][ids.START_BLOCK][ids.START_ACTION]["selected_date"] == "2031-03-10"


def test_app_home_opened_is_an_event_callback_with_a_fresh_id():
    first = slack.app_home_opened(user_id="U_ALICE", channel_id="D_ALICE", view=None)
    second = slack.app_home_opened(user_id="U_ALICE", channel_id="D_ALICE", view={"id": "V9"})
    parsed = parse_event_body(json.dumps(first))
    assert parsed["type"] == "event_callback" and parsed["event"]["type"] == "app_home_opened"
    assert parsed["event"]["tab"] == "home" and parsed["event"]["user"] == "U_ALICE"
    assert first["event_id"] != second["event_id"] and second["event"]["view"] == {"id": "V9"}
    assert abs(first["event_time"] - time.time()) < 5


def test_trigger_ids_have_slacks_shape_and_are_unique():
    first, second = slack.new_trigger_id(), slack.new_trigger_id()
    assert first != second and len(first.split(".")) == 3
    assert parse_qs(slack.form_body({"trigger_id": first}).decode())["trigger_id"] == [first]


def test_command_text_is_escaped_as_slack_does_with_should_escape():
    users, channels = {"alice": "U_ALICE"}, {"general": "C_GENERAL"}
    assert slack.escape_command_text("for @alice list", users=users, channels=channels) == "for <@U_ALICE|alice> list"
    assert slack.escape_command_text("for @Alice in #general", users=users, channels=channels) == (
        "for <@U_ALICE|Alice> in <#C_GENERAL|general>")
    assert slack.escape_command_text("@nobody a<b & c>", users=users, channels=channels) == "@nobody a&lt;b &amp; c&gt;"
    assert slack.escape_command_text("mail bob@alice.example", users=users, channels=channels) == (
        "mail bob@alice.example")
