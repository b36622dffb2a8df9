"""The fake Slack is as strict as the real one where the app could trip (or stricter, where said).

Each test asserts Slack's documented behaviour (source in its docstring) by calling the fake over HTTP.
They began as an audit's probes of where the fake was laxer than Slack; the last test checks that the
app's edits stay inside chat.update's lower limit.
"""

import json
import time
import urllib.error
import urllib.request
import uuid
from datetime import date
from decimal import Decimal

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from fake_slack.personas import ALICE, BOB, C_ARCHIVED, C_ENG

PT = {"type": "plain_text", "text": "x"}
MD = {"type": "mrkdwn", "text": "x"}


@pytest.fixture
def client(fake_slack):
    return WebClient(token=fake_slack.workspace.bot_token, base_url=fake_slack.api_url, retry_handlers=[])


def error_of(call, *args, **kwargs) -> dict:
    with pytest.raises(SlackApiError) as raised:
        call(*args, **kwargs)
    return raised.value.response.data


def post_raw(url: str, body: bytes, headers: dict) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def trigger() -> str:
    return f"{int(time.time())}.4744562912.{uuid.uuid4().hex}"


# ----- chat.update ------------------------------------------------------------------------------


def test_chat_update_refuses_text_over_4000_characters(fake_slack, client):
    """docs.slack.dev/reference/methods/chat.update, errors: `msg_too_long` "Message text is too long. The
    `text` field cannot exceed 4,000 characters." (chat.postMessage's bound is ten times that.)"""
    ts = client.chat_postMessage(channel=C_ENG, text="short")["ts"]
    assert error_of(client.chat_update, channel=C_ENG, ts=ts, text="x" * 4001)["error"] == "msg_too_long"
    assert fake_slack.message(C_ENG, ts).text == "short"
    assert client.chat_update(channel=C_ENG, ts=ts, text="x" * 4000)["ok"] is True
    blocks = [{"type": "section", "text": MD}]  # with blocks, `text` is the notification fallback: same bound
    assert error_of(client.chat_update, channel=C_ENG, ts=ts, text="y" * 4001, blocks=blocks)["error"] == (
        "msg_too_long")


def test_chat_update_in_an_archived_channel_is_is_inactive(fake_slack, client):
    """docs.slack.dev/reference/methods/chat.update lists `is_inactive` ("The message cannot be edited
    within a frozen, archived or deleted channel") and no `is_archived` (that one is chat.postMessage's)."""
    ts = fake_slack.post_message(C_ARCHIVED, "posted before the channel was archived").ts
    assert error_of(client.chat_update, channel=C_ARCHIVED, ts=ts, text="edited")["error"] == "is_inactive"
    assert fake_slack.message(C_ARCHIVED, ts).text == "posted before the channel was archived"
    assert error_of(client.chat_postMessage, channel=C_ARCHIVED, text="new")["error"] == "is_archived"


def test_chat_update_wants_the_dm_id_not_the_user_id(client):
    """chat.update: "For direct messages, ensure that this value is a DM ID (starts with D) instead of a User
    ID"."""
    posted = client.chat_postMessage(channel=ALICE, text="receipt")
    assert posted["channel"].startswith("D")
    assert error_of(client.chat_update, channel=ALICE, ts=posted["ts"], text="new")["error"] == "channel_not_found"
    assert client.chat_update(channel=posted["channel"], ts=posted["ts"], text="new")["ok"] is True


# ----- chat.postMessage -------------------------------------------------------------------------------


def test_chat_post_message_over_40000_characters_is_refused_stricter_than_slack(fake_slack, client):
    """Slack truncates a text past 40,000 characters and posts it, answering ok with the warning
    `message_truncated` (api.slack.com/changelog/2018-04-truncating-really-long-messages). The fake refuses
    it with `msg_too_long` on purpose: a silently shortened message would pass unnoticed in a test."""
    assert error_of(client.chat_postMessage, channel=C_ENG, text="y" * 40001)["error"] == "msg_too_long"
    assert fake_slack.messages(C_ENG) == []
    assert client.chat_postMessage(channel=C_ENG, text="y" * 40000)["ok"] is True


@pytest.mark.parametrize("method, extra", [
    ("chat.postMessage", {}),
    ("chat.postEphemeral", {"user": ALICE}),
])
def test_more_than_100_attachments_are_refused_and_nothing_is_posted(fake_slack, client, method, extra):
    """chat.postMessage / chat.postEphemeral / chat.update: `too_many_attachments` "A maximum of 100
    attachments are allowed on a message.\""""
    arguments = {"channel": C_ENG, "text": "x", **extra}
    refused = error_of(client.api_call, method, json={**arguments, "attachments": [{"text": "a"}] * 101})
    assert refused["error"] == "too_many_attachments"
    assert fake_slack.messages(C_ENG) == [] and fake_slack.ephemerals == []
    assert client.api_call(method, json={**arguments, "attachments": [{"text": "a"}] * 100})["ok"] is True


def test_chat_update_with_more_than_100_attachments_changes_nothing(fake_slack, client):
    ts = client.chat_postMessage(channel=C_ENG, text="before")["ts"]
    refused = error_of(client.api_call, "chat.update",
                       json={"channel": C_ENG, "ts": ts, "text": "after", "attachments": [{"text": "a"}] * 101})
    assert refused["error"] == "too_many_attachments"
    assert fake_slack.message(C_ENG, ts).text == "before"


@pytest.mark.parametrize("other", [{"text": "plain"}, {"blocks": [{"type": "section", "text": MD}]}],
                         ids=["with-text", "with-blocks"])
def test_markdown_text_with_text_or_blocks_is_markdown_text_conflict(fake_slack, client, other):
    """chat.postMessage / chat.update: `markdown_text_conflict` "Markdown text cannot be used in conjunction
    with `blocks` or `text` argument.\""""
    refused = error_of(client.api_call, "chat.postMessage",
                       json={"channel": C_ENG, "markdown_text": "**bold**", **other})
    assert refused["error"] == "markdown_text_conflict"
    assert fake_slack.messages(C_ENG) == []
    ts = client.api_call("chat.postMessage", json={"channel": C_ENG, "markdown_text": "**bold**"})["ts"]
    refused = error_of(client.api_call, "chat.update",
                       json={"channel": C_ENG, "ts": ts, "markdown_text": "**new**", **other})
    assert refused["error"] == "markdown_text_conflict"


@pytest.mark.parametrize("thread_ts", ["0", "0.000000", "-1.5", "abc", "1e9", "1766000000.000100x"])
def test_a_malformed_or_non_positive_thread_ts_is_invalid_thread_ts(fake_slack, client, thread_ts):
    """Slack answers `invalid_thread_ts` ("[ERROR] 0 is not a valid thread_ts") for a thread_ts that is no
    timestamp (jenkinsci/slack-plugin#584, vercel/chat#268; chat.postMessage's reference lists neither it
    nor `thread_not_found`)."""
    assert error_of(client.chat_postMessage, channel=C_ENG, text="x", thread_ts=thread_ts)["error"] == (
        "invalid_thread_ts")
    assert fake_slack.messages(C_ENG, include_replies=True) == []


def test_a_well_formed_thread_ts_of_no_message_is_still_thread_not_found(client):
    assert error_of(client.chat_postMessage, channel=C_ENG, text="x", thread_ts="1766000000.000100")["error"] == (
        "thread_not_found")
    parent = client.chat_postMessage(channel=C_ENG, text="parent")["ts"]
    assert client.chat_postMessage(channel=C_ENG, text="reply", thread_ts=parent)["message"]["thread_ts"] == parent


# ----- Block Kit rules slack_sdk's models do not check ----------------------------------------------------


def _options(count, text=PT):
    return [{"text": {**text, "text": f"o{i}"}, "value": f"v{i}"} for i in range(count)]


def _button(confirm):
    return {"type": "actions", "elements": [{"type": "button", "action_id": "b", "text": PT, "confirm": confirm}]}


DIALOG = {"title": PT, "text": PT, "confirm": PT, "deny": PT}


@pytest.mark.parametrize("block, pointer", [
    # "A maximum of 10 options are allowed" (radio buttons, checkboxes: docs.slack.dev/reference/block-kit/block-elements)
    ({"type": "actions", "elements": [{"type": "radio_buttons", "action_id": "r", "options": _options(11)}]},
     "/blocks/0/elements/0/options"),
    ({"type": "actions", "elements": [{"type": "checkboxes", "action_id": "c", "options": _options(11)}]},
     "/blocks/0/elements/0/options"),
    # Option object: "Overflow, select, and multi-select menus can only use plain_text objects"
    ({"type": "actions", "elements": [{"type": "static_select", "action_id": "s", "placeholder": PT,
                                       "options": _options(2, MD)}]},
     "/blocks/0/elements/0/options/0/text"),
    ({"type": "actions", "elements": [{"type": "static_select", "action_id": "s", "placeholder": PT,
                                       "option_groups": [{"label": PT, "options": _options(2, MD)}]}]},
     "/blocks/0/elements/0/option_groups/0/options/0/text"),
    ({"type": "actions", "elements": [{"type": "overflow", "action_id": "o", "options": _options(2, MD)}]},
     "/blocks/0/elements/0/options/0/text"),
    # Option object: description "Maximum length for the text in this field is 75 characters."
    ({"type": "actions", "elements": [{"type": "radio_buttons", "action_id": "r", "options": [
        {"text": PT, "value": "v", "description": {"type": "plain_text", "text": "d" * 76}}]}]},
     "/blocks/0/elements/0/options/0/description/text"),
    # Input block: label "a text object that must have type of plain_text"
    ({"type": "input", "label": MD, "element": {"type": "plain_text_input", "action_id": "a"}},
     "/blocks/0/label"),
    # Confirmation dialog object: title, text, confirm and deny are each "A plain_text text object"
    (_button({**DIALOG, "title": MD}), "/blocks/0/elements/0/confirm/title"),
    (_button({**DIALOG, "text": MD}), "/blocks/0/elements/0/confirm/text"),
    (_button({**DIALOG, "confirm": MD}), "/blocks/0/elements/0/confirm/confirm"),
    (_button({**DIALOG, "deny": MD}), "/blocks/0/elements/0/confirm/deny"),
], ids=["radio-11-options", "checkboxes-11-options", "mrkdwn-select-option", "mrkdwn-select-group-option",
        "mrkdwn-overflow-option", "option-description-76", "mrkdwn-input-label", "mrkdwn-confirm-title",
        "mrkdwn-confirm-text", "mrkdwn-confirm-button", "mrkdwn-deny-button"])
def test_block_kit_rules_slack_enforces_are_invalid_blocks(fake_slack, client, block, pointer):
    refused = error_of(client.chat_postMessage, channel=C_ENG, text="x", blocks=[block])
    assert refused["error"] == "invalid_blocks"
    assert any(f"[json-pointer:{pointer}]" in e for e in refused["errors"]), refused["errors"]
    assert refused["response_metadata"]["messages"] == [f"[ERROR] {e}" for e in refused["errors"]]
    assert fake_slack.messages(C_ENG) == []


@pytest.mark.parametrize("block", [
    {"type": "actions", "elements": [{"type": "radio_buttons", "action_id": "r", "options": _options(10, MD)}]},
    {"type": "actions", "elements": [{"type": "checkboxes", "action_id": "c", "options": [
        {"text": MD, "value": "v", "description": {"type": "mrkdwn", "text": "d" * 75}}]}]},
    {"type": "actions", "elements": [{"type": "static_select", "action_id": "s", "placeholder": PT,
                                      "options": _options(2)}]},
    {"type": "input", "label": PT, "element": {"type": "plain_text_input", "action_id": "a"}},
    _button(DIALOG),
], ids=["radio-10-mrkdwn-options", "checkbox-description-75", "plain-select-options", "plain-input-label",
        "plain-confirm-dialog"])
def test_the_same_blocks_within_the_rules_are_posted(client, block):
    assert client.chat_postMessage(channel=C_ENG, text="x", blocks=[block])["ok"] is True


def test_a_modal_breaking_a_block_rule_is_invalid_arguments(client):
    modal = {"type": "modal", "title": PT, "submit": PT,
             "blocks": [{"type": "input", "label": MD, "element": {"type": "plain_text_input", "action_id": "a"}}]}
    refused = error_of(client.views_open, trigger_id=trigger(), view=modal)
    assert refused["error"] == "invalid_arguments"
    assert any("/view/blocks/0/label" in m for m in refused["response_metadata"]["messages"])


# ----- reads ------------------------------------------------------------------------------------------


def test_conversations_info_counts_members_only_when_asked(client):
    """conversations.info: include_num_members "Set to true to include the member count ... Defaults to
    false"."""
    assert "num_members" not in client.conversations_info(channel=C_ENG)["channel"]
    assert client.conversations_info(channel=C_ENG, include_num_members=True)["channel"]["num_members"] == 4
    assert "num_members" not in client.conversations_info(channel=C_ENG, include_num_members=False)["channel"]


# ----- views ----------------------------------------------------------------------------------------------


MODAL = {"type": "modal", "title": PT, "blocks": [{"type": "section", "text": MD}]}


@pytest.mark.parametrize("trigger_id", ["not-a-trigger", "trig-1", "12345.abc", "1.2.3.4", "1.2.ab-c", "1.2."])
@pytest.mark.parametrize("method", ["views_open", "views_push"])
def test_views_open_refuses_a_trigger_id_of_the_wrong_shape(fake_slack, client, method, trigger_id):
    """views.open: `invalid_trigger_id` "The trigger_id is invalid. The expected format for the trigger_id
    argument is "132456.7890123.abcdef"." (views.push takes a trigger_id too; views.update and
    views.publish take none.)"""
    assert error_of(getattr(client, method), trigger_id=trigger_id, view=MODAL)["error"] == "invalid_trigger_id"
    assert fake_slack.workspace.views == {}


def test_views_open_takes_a_trigger_id_of_slacks_shape(client):
    assert client.views_open(trigger_id="132456.7890123.abcdef", view=MODAL)["ok"] is True
    assert client.views_open(trigger_id=trigger(), view=MODAL)["ok"] is True


# ----- authentication ----------------------------------------------------------------------------------


def test_a_token_in_a_json_body_is_not_authed(fake_slack):
    """Changelog "Keeping up with the JSONs" (docs.slack.dev/changelog/2017-10-keeping-up-with-the-jsons):
    "To make use of sending JSON on write operations, you must provide your token value using an
    Authorization HTTP header.\""""
    body = json.dumps({"token": fake_slack.workspace.bot_token, "channel": C_ENG, "text": "hi"}).encode()
    status, answer = post_raw(fake_slack.api_url + "chat.postMessage", body,
                              {"Content-Type": "application/json; charset=utf-8"})
    assert json.loads(answer) == {"ok": False, "error": "not_authed"}
    assert fake_slack.messages(C_ENG) == []
    status, answer = post_raw(fake_slack.api_url + "chat.postMessage", body, {
        "Content-Type": "application/json; charset=utf-8",
        "Authorization": f"Bearer {fake_slack.workspace.bot_token}"})
    assert json.loads(answer)["ok"] is True


def test_a_token_in_the_query_string_is_ignored(fake_slack):
    """Changelog "Deprecating usage of token as a query string parameter" (api.slack.com/changelog/2020-11-
    no-more-tokens-in-querystrings-for-newly-created-apps): apps created after 2021-02-24 "must send tokens
    in the Authorization HTTP header or ... as a URL-encoded POST body parameter"."""
    url = f"{fake_slack.api_url}auth.test?token={fake_slack.workspace.bot_token}"
    with urllib.request.urlopen(url, timeout=5) as answer:
        assert json.loads(answer.read()) == {"ok": False, "error": "not_authed"}


def test_a_token_in_a_form_encoded_body_is_accepted(fake_slack):
    body = f"token={fake_slack.workspace.bot_token}&channel={C_ENG}&text=hi".encode()
    status, answer = post_raw(fake_slack.api_url + "chat.postMessage", body,
                              {"Content-Type": "application/x-www-form-urlencoded"})
    assert json.loads(answer)["ok"] is True
    assert [m.text for m in fake_slack.messages(C_ENG)] == ["hi"]


# ----- response_url ---------------------------------------------------------------------------------------


def _post_to(url: str, i: int) -> int:
    return post_raw(url, json.dumps({"text": f"update {i}"}).encode(), {"Content-Type": "application/json"})[0]


def test_a_response_url_takes_five_posts_not_six(fake_slack):
    """"You can use response_url to publish up to 5 times within 30 minutes"
    (docs.slack.dev/interactivity/handling-user-interaction). What Slack answers the sixth is undocumented:
    the fake answers 404."""
    url = fake_slack.response_url("five")
    assert [_post_to(url, i) for i in range(6)] == [200] * 5 + [404]
    assert len(fake_slack.response_url_posts) == 5
    assert _post_to(fake_slack.response_url("another"), 0) == 200  # each response_url counts its own


def test_a_response_url_expires_after_30_minutes(fake_slack):
    now = [1_900_000_000.0]
    fake_slack.response_url_clock = lambda: now[0]
    url = fake_slack.response_url("late")
    now[0] += 30 * 60
    assert _post_to(url, 0) == 200
    now[0] += 1
    assert _post_to(url, 1) == 404
    assert len(fake_slack.response_url_posts) == 1


# ----- the app inside the stricter limits ------------------------------------------------------------------


def test_the_texts_the_app_edits_messages_to_fit_chat_update(settings):
    """Every chat.update the app makes (ledger.update_request, notifications.send_receipt/receipt_update)
    carries `messages.request_message` or `messages.receipt_text`: at their longest (a 100-character type
    name of characters escaping to 5, a 50-character emoji, a 500-character reason of "&", hundreds of
    approvers) they stay within chat.update's 4,000."""
    from approvals import messages
    from approvals.config_types import LeaveTypeConfig
    from approvals.rules import APPROVED, CANCELLED, PENDING, REJECTED, LedgerEntry

    leave_type = LeaveTypeConfig(code="t", name="&" * 100, emoji=":" + "e" * 48 + ":")
    approvers = frozenset(f"U{i:010d}" for i in range(600))
    base = LedgerEntry(id="r" * 36, user="U" + "A" * 10, team="&" * 100, leave_type="t", start=date(2031, 12, 29),
                       end=date(2032, 1, 2), start_half="pm", end_half="am", days=Decimal("3"), status=PENDING)
    longest = 0
    for status in (PENDING, APPROVED, REJECTED, CANCELLED):
        entry = base if status == PENDING else LedgerEntry(**{**base.__dict__, "status": status,
                                                              "decided_by": BOB, "decided_at": 1_900_000_000,
                                                              "reason": "&" * messages.MAX_REASON_CHARS})
        text, _ = messages.request_message(entry=entry, leave_type=leave_type, note="&" * messages.MAX_NOTE_CHARS,
                                           approvers=approvers)
        longest = max(longest, len(text), len(messages.receipt_text(entry, leave_type, approvers)))
    assert 1000 < longest <= 4000  # the worst case reaches a few thousand: the bound is what matters
