"""The fake Slack refuses what Slack's own reference pages say Slack refuses, and answers in Slack's shapes.

Each test calls the fake over HTTP through slack_sdk's WebClient, as the app does, and checks one rule
quoted in its docstring from docs.slack.dev (method pages under /reference/methods/<method>, Block Kit
pages under /reference/block-kit/...). Rules already checked in test_fake_slack.py,
test_fake_slack_strictness.py and test_fake_slack_against_slack_docs.py are not repeated here.

Where a test fails, the fake lets through something real Slack would refuse: a test of the app run
against the fake could then pass while the same code fails in a real workspace.
"""

import time
import uuid

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from fake_slack.personas import ALICE, C_ENG
from fake_slack.workspace import GRANTED_SCOPES

PT = {"type": "plain_text", "text": "x"}
MD = {"type": "mrkdwn", "text": "x"}
SECTION = {"type": "section", "text": MD}
TEXT_INPUT = {"type": "plain_text_input", "action_id": "reason"}
IMAGE = {"type": "image", "image_url": "https://example.com/beach.png", "alt_text": "a beach"}
OPTION = {"text": {"type": "plain_text", "text": "Holiday"}, "value": "holiday"}


@pytest.fixture
def client(fake_slack):
    return WebClient(token=fake_slack.workspace.bot_token, base_url=fake_slack.api_url, retry_handlers=[])


def error_of(call, *args, **kwargs) -> dict:
    with pytest.raises(SlackApiError) as raised:
        call(*args, **kwargs)
    return raised.value.response.data


def trigger() -> str:
    return f"{int(time.time())}.4744562912.{uuid.uuid4().hex}"


def modal(**fields) -> dict:
    return {"type": "modal", "title": {"type": "plain_text", "text": "Request time off"}, "blocks": [SECTION],
            **fields}


# ----- conversations.open ---------------------------------------------------------------------------------


def _people(fake_slack, count):
    ids = [f"U_PERSON{i}" for i in range(count)]
    for i, user_id in enumerate(ids):
        fake_slack.add_user(user_id, f"person{i}")
    return ids


def test_a_group_dm_with_more_than_eight_people_is_too_many_users(fake_slack, client):
    """conversations.open errors: `too_many_users` "Needs at most 8 users to open." (a group DM holds at most
    nine people: the caller and eight others)."""
    fake_slack.workspace.granted_scopes = (*GRANTED_SCOPES, "mpim:write")
    nine = _people(fake_slack, 9)
    channels_before = set(fake_slack.workspace.channels)
    assert error_of(client.conversations_open, users=",".join(nine))["error"] == "too_many_users"
    assert set(fake_slack.workspace.channels) == channels_before


def test_a_group_dm_with_eight_people_opens(fake_slack, client):
    fake_slack.workspace.granted_scopes = (*GRANTED_SCOPES, "mpim:write")
    eight = _people(fake_slack, 8)
    assert client.conversations_open(users=",".join(eight))["channel"]["id"]


def test_opening_a_dm_that_is_already_open_says_it_was_already_open(client):
    """conversations.open's documented answer for a DM already open: {"ok": true, "no_op": true,
    "already_open": true, "channel": {"id": "D069C7QFK", "is_im": true, "user": ..., ...}}."""
    first = client.conversations_open(users=ALICE).data
    again = client.conversations_open(users=ALICE, return_im=True).data
    assert again["channel"]["id"] == first["channel"]["id"]
    assert again["channel"]["user"] == ALICE
    assert again.get("already_open") is True and again.get("no_op") is True


# ----- markdown_text ------------------------------------------------------------------------------------


def test_markdown_text_over_12000_characters_is_not_posted(fake_slack, client):
    """chat.postMessage / chat.update, `markdown_text`: "Accepts message text formatted in markdown. This
    argument should not be used in conjunction with blocks or text. Limit this field to 12,000 characters."
    The fake lets it run up to chat.postMessage's 40,000 for `text`."""
    with pytest.raises(SlackApiError):
        client.api_call("chat.postMessage", json={"channel": C_ENG, "markdown_text": "a" * 12001})
    assert fake_slack.messages(C_ENG) == []


def test_markdown_text_of_12000_characters_is_posted(fake_slack, client):
    assert client.api_call("chat.postMessage", json={"channel": C_ENG, "markdown_text": "a" * 12000})["ok"] is True


def test_an_edit_to_markdown_text_over_12000_characters_changes_nothing(fake_slack, client):
    ts = client.chat_postMessage(channel=C_ENG, text="before")["ts"]
    with pytest.raises(SlackApiError):
        client.api_call("chat.update", json={"channel": C_ENG, "ts": ts, "markdown_text": "a" * 12001})
    assert fake_slack.message(C_ENG, ts).text == "before"


# ----- Block Kit: which elements go where ------------------------------------------------------------------


@pytest.mark.parametrize("block, rule", [
    # Context block: elements "An array of image elements and text objects. Maximum number of items is 10."
    ({"type": "context", "elements": [MD, {"type": "button", "action_id": "open", "text": PT}]},
     "a context block holds images and text only"),
    # Actions block, compatible elements: Button, Checkboxes, Date picker, Datetime picker, Multi-select menu,
    # Overflow menu, Radio button, Rich text input, Select menu, Time picker, Workflow buttons.
    ({"type": "actions", "elements": [TEXT_INPUT]}, "a plain-text input is not an actions element"),
    ({"type": "actions", "elements": [IMAGE]}, "an image is not an actions element"),
    # Section block, accessory: Button, Checkboxes, Date picker, Image, Multi-select, Overflow, Radio buttons,
    # Select, Time picker, Workflow button.
    ({"type": "section", "text": MD, "accessory": TEXT_INPUT}, "a plain-text input is no section accessory"),
], ids=["button-in-context", "text-input-in-actions", "image-in-actions", "text-input-as-accessory"])
def test_an_element_in_a_block_that_does_not_take_it_is_invalid_blocks(fake_slack, client, block, rule):
    refused = error_of(client.chat_postMessage, channel=C_ENG, text="x", blocks=[block])
    assert refused["error"] == "invalid_blocks", rule
    assert fake_slack.messages(C_ENG) == []


@pytest.mark.parametrize("block", [
    {"type": "context", "elements": [MD, IMAGE, PT]},
    {"type": "actions", "elements": [{"type": "datepicker", "action_id": "d"}, {"type": "button", "action_id": "b",
                                                                              "text": PT}]},
    {"type": "section", "text": MD, "accessory": IMAGE},
    {"type": "input", "label": PT, "element": TEXT_INPUT},
], ids=["context-of-text-and-image", "actions-of-datepicker-and-button", "image-accessory", "text-input-in-input"])
def test_elements_in_blocks_that_take_them_are_posted(client, block):
    assert client.chat_postMessage(channel=C_ENG, text="x", blocks=[block])["ok"] is True


# ----- Block Kit: plain text where Slack asks for it, and the text input's bounds --------------------------------


@pytest.mark.parametrize("block, rule", [
    # Date picker element, placeholder: "A plain_text only text object that defines the placeholder text".
    ({"type": "actions", "elements": [{"type": "datepicker", "action_id": "d", "placeholder": MD}]},
     "a date picker's placeholder is plain_text"),
    # Select menu element, placeholder: "A plain_text only text object that defines the placeholder text".
    ({"type": "actions", "elements": [{"type": "static_select", "action_id": "s", "placeholder": MD,
                                       "options": [OPTION]}]},
     "a select menu's placeholder is plain_text"),
    # Input block, hint: "An optional hint that appears below an input element in a lighter grey. It must be
    # a text object with a type of plain_text."
    ({"type": "input", "label": PT, "hint": MD, "element": TEXT_INPUT}, "an input's hint is plain_text"),
    # Text object, type: "The formatting to use for this text object. Can be one of plain_text or mrkdwn."
    ({"type": "section", "text": {"type": "markdown", "text": "x"}}, "a text object is plain_text or mrkdwn"),
    # Plain-text input element, min_length: "Acceptable values for this field are between 0 and 3000,
    # inclusive."; max_length: "Acceptable values for this field are between 1 and 3000, inclusive."
    ({"type": "input", "label": PT, "element": {**TEXT_INPUT, "min_length": 3001}},
     "a text input's min_length is at most 3000"),
    ({"type": "input", "label": PT, "element": {**TEXT_INPUT, "max_length": 0}},
     "a text input's max_length is at least 1"),
], ids=["mrkdwn-datepicker-placeholder", "mrkdwn-select-placeholder", "mrkdwn-input-hint", "markdown-text-object",
        "min-length-3001", "max-length-0"])
def test_block_kit_rules_of_text_and_lengths_are_invalid_blocks(fake_slack, client, block, rule):
    refused = error_of(client.chat_postMessage, channel=C_ENG, text="x", blocks=[block])
    assert refused["error"] == "invalid_blocks", rule
    assert fake_slack.messages(C_ENG) == []


@pytest.mark.parametrize("block", [
    {"type": "actions", "elements": [{"type": "datepicker", "action_id": "d", "placeholder": PT}]},
    {"type": "input", "label": PT, "hint": PT, "element": {**TEXT_INPUT, "min_length": 0, "max_length": 3000}},
    {"type": "input", "label": PT, "element": {**TEXT_INPUT, "min_length": 3000, "max_length": 3000}},
], ids=["plain-placeholder", "plain-hint-and-widest-bounds", "min-length-3000"])
def test_the_same_blocks_with_plain_text_and_bounds_in_range_are_posted(client, block):
    assert client.chat_postMessage(channel=C_ENG, text="x", blocks=[block])["ok"] is True


def test_a_modal_breaking_a_placeholder_rule_is_not_opened(fake_slack, client):
    """The same rules hold in a modal: views.open answers `invalid_arguments` with the pointer, and no view
    is opened."""
    blocks = [{"type": "input", "block_id": "start", "label": PT,
               "element": {"type": "datepicker", "action_id": "date", "placeholder": MD}}]
    refused = error_of(client.views_open, trigger_id=trigger(),
                       view=modal(submit={"type": "plain_text", "text": "Submit"}, blocks=blocks))
    assert refused["error"] == "invalid_arguments"
    assert fake_slack.workspace.views == {}


# ----- views: the view object's own fields -------------------------------------------------------------------------


@pytest.mark.parametrize("method, arguments", [
    ("views.open", lambda: {"trigger_id": trigger(), "view": modal(submitt={"type": "plain_text", "text": "Send"})}),
    ("views.publish", lambda: {"user_id": ALICE, "view": {"type": "home", "blocks": [SECTION], "callbak_id": "home"}}),
], ids=["modal-with-submitt", "home-with-callbak_id"])
def test_a_view_with_a_field_slack_does_not_know_is_invalid_arguments(fake_slack, client, method, arguments):
    """The view object's fields are listed in docs.slack.dev/reference/views (type, title, blocks, close,
    submit, private_metadata, callback_id, clear_on_close, notify_on_close, external_id, submit_disabled);
    Slack checks a view against that schema as it checks blocks, answering `invalid_arguments` with the
    pointer of what it does not know. The fake already refuses unknown fields inside blocks, not on the view
    itself: a misspelt `submit` or `callback_id` would pass in tests and fail in Slack."""
    refused = error_of(client.api_call, method, json=arguments())
    assert refused["error"] == "invalid_arguments"
    assert fake_slack.workspace.views == {}


def test_a_view_with_only_the_fields_slack_knows_is_opened(client):
    view = modal(submit={"type": "plain_text", "text": "Send"}, close={"type": "plain_text", "text": "Cancel"},
                 private_metadata="r1", callback_id="request_leave", clear_on_close=True, notify_on_close=True,
                 external_id="form-alice", blocks=[{"type": "input", "label": PT, "element": TEXT_INPUT}])
    assert client.views_open(trigger_id=trigger(), view=view)["view"]["callback_id"] == "request_leave"
