"""Tests of the fake Slack itself, through a real slack_sdk WebClient over HTTP."""

import json
import time
import urllib.request
import uuid

import pytest
from django.conf import settings
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler, ServerErrorRetryHandler

from fake_slack.personas import (
    ALICE,
    BOB,
    BOT,
    C_ARCHIVED,
    C_ENG,
    C_ENG_LEADS,
    C_GENERAL,
    C_NOBOT,
    CAROL,
    DAVE,
    HANNAH,
    S_ENG,
)

MODAL = {
    "type": "modal",
    "callback_id": "request_leave",
    "title": {"type": "plain_text", "text": "Request time off"},
    "submit": {"type": "plain_text", "text": "Submit"},
    "blocks": [
        {
            "type": "input",
            "block_id": "start",
            "label": {"type": "plain_text", "text": "First day"},
            "element": {"type": "datepicker", "action_id": "date"},
        }
    ],
}
LEDGER = {"event_type": "timeoff_request", "event_payload": {"id": "r1", "days": 2}}


@pytest.fixture
def client(fake_slack):
    return WebClient(token=fake_slack.workspace.bot_token, base_url=fake_slack.api_url, retry_handlers=[])


def error_of(call, *args, **kwargs) -> dict:
    with pytest.raises(SlackApiError) as raised:
        call(*args, **kwargs)
    return raised.value.response.data


def trigger() -> str:
    """A fresh trigger_id of Slack's shape (`<seconds>.<team number>.<hex>`): the fake refuses others."""
    return f"{int(time.time())}.4744562912.{uuid.uuid4().hex}"


# ----- the fixture -----------------------------------------------------------


def test_fixture_points_settings_at_the_fake_and_seeds_personas(fake_slack, client):
    assert settings.SLACK_API_URL == fake_slack.api_url
    assert fake_slack.api_url.startswith("http://127.0.0.1:") and fake_slack.api_url.endswith("/api/")
    auth = client.auth_test()
    assert (auth["user_id"], auth["bot_id"]) == (BOT, "B_BOT")
    assert client.users_info(user=ALICE)["user"]["tz"] == "America/Los_Angeles"
    assert client.users_lookupByEmail(email="alice@example.com")["user"]["id"] == ALICE
    assert client.usergroups_users_list(usergroup=S_ENG)["users"] == [ALICE, DAVE]
    assert set(client.conversations_members(channel=C_ENG_LEADS)["members"]) == {BOB, DAVE, BOT}
    assert {ALICE, BOB, CAROL, DAVE, HANNAH} <= set(client.conversations_members(channel=C_GENERAL)["members"])


# ----- messages and metadata ---------------------------------------------------


def test_post_and_read_back_with_and_without_all_metadata(fake_slack, client):
    posted = client.chat_postMessage(channel=C_ENG, text="Alice is off", metadata=LEDGER)
    assert posted["channel"] == C_ENG and posted["message"]["metadata"] == LEDGER

    plain = client.conversations_history(channel=C_ENG)["messages"][0]
    assert plain["ts"] == posted["ts"] and plain["bot_id"] == "B_BOT"
    assert "event_payload" not in plain["metadata"]  # Slack keeps only the event_type here

    full = client.conversations_history(channel=C_ENG, include_all_metadata=True)["messages"][0]
    assert full["metadata"] == LEDGER
    assert fake_slack.messages(C_ENG)[0].metadata == LEDGER


def test_form_encoded_json_fields_are_decoded(fake_slack, client):
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*hi*"}}]
    client.api_call("chat.postMessage", data={"channel": C_ENG, "blocks": json.dumps(blocks),
                                              "metadata": json.dumps(LEDGER)})
    call = fake_slack.last_call("chat.postMessage")
    assert call.params["blocks"] == blocks and call.params["metadata"] == LEDGER
    assert call.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert fake_slack.messages(C_ENG)[0].blocks == blocks


def test_invalid_event_type_drops_metadata_with_a_warning(fake_slack, client):
    posted = client.chat_postMessage(channel=C_ENG, text="x", metadata={"event_type": "time.off", "event_payload": {}})
    assert posted["ok"] and posted["warning"]
    assert "metadata" not in posted["message"]
    assert fake_slack.messages(C_ENG)[0].metadata is None


def test_posting_to_a_user_id_goes_to_their_dm(fake_slack, client):
    posted = client.chat_postMessage(channel=ALICE, text="Your request was approved")
    dm = client.conversations_open(users=ALICE)["channel"]["id"]
    assert posted["channel"] == dm and dm.startswith("D")
    assert [m.text for m in fake_slack.messages(ALICE)] == ["Your request was approved"]
    # A DM's info needs im:read, which our manifest does not ask for.
    assert error_of(client.conversations_info, channel=dm)["needed"] == "im:read"
    fake_slack.workspace.granted_scopes = (*fake_slack.workspace.granted_scopes, "im:read")
    assert client.conversations_info(channel=dm)["channel"]["user"] == ALICE


@pytest.mark.parametrize(
    "channel, error",
    [(C_NOBOT, "not_in_channel"), (C_ARCHIVED, "is_archived"), ("C_MISSING", "channel_not_found")],
)
def test_post_refusals(client, channel, error):
    assert error_of(client.chat_postMessage, channel=channel, text="hi")["error"] == error


def test_private_channel_without_the_bot_is_invisible(fake_slack, client):
    fake_slack.add_channel("C_SECRET", "secret", members=[BOB], private=True, bot_member=False)
    assert error_of(client.conversations_history, channel="C_SECRET")["error"] == "channel_not_found"
    listed = [c["id"] for c in client.conversations_list(types="public_channel,private_channel")["channels"]]
    assert C_ENG_LEADS in listed and "C_SECRET" not in listed


@pytest.mark.filterwarnings("ignore:The top-level `text` argument is missing")
def test_no_text_and_invalid_blocks_are_refused(client):
    assert error_of(client.chat_postMessage, channel=C_ENG)["error"] == "no_text"
    refused = error_of(client.chat_postMessage, channel=C_ENG, text="x",
                       blocks=[{"type": "section", "txt": {"type": "mrkdwn", "text": "typo"}}])
    assert refused["error"] == "invalid_blocks" and refused["errors"]
    too_many = [{"type": "divider"}] * 51
    assert error_of(client.chat_postMessage, channel=C_ENG, text="x", blocks=too_many)["error"] == "invalid_blocks"


@pytest.mark.parametrize("block", [
    {"type": "actions", "elements": [{"type": "button", "action_id": "a",
                                      "text": {"type": "mrkdwn", "text": "*bold*"}}]},
    {"type": "section", "text": {"type": "mrkdwn", "text": "x"}, "fields": [{"type": "mrkdwn", "text": "y" * 2001}]},
    {"type": "actions", "elements": [{"type": "button", "action_id": "a", "text": {"type": "plain_text", "text": "1"}},
                                     {"type": "button", "action_id": "a", "text": {"type": "plain_text", "text": "2"}}]},
    {"type": "actions", "elements": [{"type": "static_select", "action_id": "s", "options": [
        {"text": {"type": "plain_text", "text": "x" * 76}, "value": "v"}]}]},
    {"type": "actions", "elements": [{"type": "static_select", "action_id": "s", "options": [
        {"text": {"type": "plain_text", "text": "One"}, "value": "1"}],
        "initial_option": {"text": {"type": "plain_text", "text": "Two"}, "value": "2"}}]},
    {"type": "actions", "elements": [{"type": "static_select", "action_id": "s", "option_groups": [
        {"label": {"type": "plain_text", "text": "Group"}, "options": [
            {"text": {"type": "plain_text", "text": "One"}, "value": "1"}]}],
        "initial_option": {"text": {"type": "plain_text", "text": "Two"}, "value": "2"}}]},
], ids=["mrkdwn-button", "long-field", "same-action-id", "long-option", "initial-option-not-offered",
        "initial-option-in-no-group"])
def test_block_kit_rules_slack_sdk_does_not_check_are_refused(client, block):
    refused = error_of(client.chat_postMessage, channel=C_ENG, text="x", blocks=[block])
    assert refused["error"] == "invalid_blocks" and refused["errors"]


def test_an_initial_option_from_an_option_group_is_taken(client):
    one = {"text": {"type": "plain_text", "text": "One"}, "value": "1"}
    block = {"type": "actions", "elements": [{"type": "static_select", "action_id": "s", "initial_option": one,
                                              "option_groups": [{"label": {"type": "plain_text", "text": "Group"},
                                                                 "options": [one]}]}]}
    assert client.chat_postMessage(channel=C_ENG, text="x", blocks=[block])["ok"] is True


def test_a_modal_with_inputs_needs_a_submit_button_and_a_text_input_its_lengths(client):
    text_input = {"type": "input", "block_id": "b", "label": {"type": "plain_text", "text": "Note"},
                  "element": {"type": "plain_text_input", "action_id": "n", "max_length": 5, "initial_value": "too long"}}
    modal = {"type": "modal", "title": {"type": "plain_text", "text": "T"}, "blocks": [text_input]}
    messages = error_of(client.views_open, trigger_id=trigger(), view=modal)["response_metadata"]["messages"]
    assert any("submit" in m for m in messages) and any("initial_value" in m for m in messages)


def test_threads_and_updates(fake_slack, client):
    parent = client.chat_postMessage(channel=C_ENG, text="request", metadata=LEDGER)["ts"]
    client.chat_postMessage(channel=C_ENG, text="approved", thread_ts=parent)
    history = client.conversations_history(channel=C_ENG)["messages"]
    assert [m["ts"] for m in history] == [parent] and history[0]["reply_count"] == 1
    thread = client.conversations_replies(channel=C_ENG, ts=parent)["messages"]
    assert [m["text"] for m in thread] == ["request", "approved"]

    client.chat_update(channel=C_ENG, ts=parent, text="request (approved)")
    updated = fake_slack.message(C_ENG, parent)
    assert updated.text == "request (approved)" and updated.metadata == LEDGER  # kept when not passed
    client.chat_update(channel=C_ENG, ts=parent, text="request", metadata={})
    assert fake_slack.message(C_ENG, parent).metadata is None  # {} removes it

    human = fake_slack.post_message(C_ENG, "hello", user=ALICE)
    assert error_of(client.chat_update, channel=C_ENG, ts=human.ts, text="x")["error"] == "cant_update_message"
    assert error_of(client.chat_update, channel=C_ENG, ts="1.000000", text="x")["error"] == "message_not_found"


def test_reread_one_message_by_ts(fake_slack, client):
    first = fake_slack.post_message(C_ENG, "one", metadata=LEDGER)
    fake_slack.post_message(C_ENG, "two")
    got = client.conversations_history(channel=C_ENG, latest=first.ts, inclusive=True, limit=1,
                                       include_all_metadata=True)["messages"]
    assert [(m["ts"], m["metadata"]) for m in got] == [(first.ts, LEDGER)]


def test_ephemeral_needs_the_user_in_the_channel(fake_slack, client):
    assert client.chat_postEphemeral(channel=C_ENG, user=ALICE, text="only you")["message_ts"]
    assert fake_slack.ephemerals[0].user == ALICE
    assert error_of(client.chat_postEphemeral, channel=C_ENG, user=CAROL, text="x")["error"] == "user_not_in_channel"


# ----- pagination -----------------------------------------------------------------


def test_history_paginates_newest_first_over_three_pages(fake_slack, client):
    posted = [fake_slack.post_message(C_ENG, f"m{i}").ts for i in range(5)]
    pages = [page["messages"] for page in client.conversations_history(channel=C_ENG, limit=2)]
    assert [len(p) for p in pages] == [2, 2, 1]
    assert [m["ts"] for p in pages for m in p] == posted[::-1]


def test_members_paginate_with_a_cursor(fake_slack, client):
    for i in range(5):
        fake_slack.add_user(f"U_EXTRA{i}", f"extra{i}")
    fake_slack.add_channel("C_BIG", "big", members=[f"U_EXTRA{i}" for i in range(5)])
    first = client.conversations_members(channel="C_BIG", limit=2)
    assert first["response_metadata"]["next_cursor"]
    pages = [page["members"] for page in client.conversations_members(channel="C_BIG", limit=2)]
    assert [len(p) for p in pages] == [2, 2, 2]
    assert sorted(sum(pages, [])) == sorted([BOT] + [f"U_EXTRA{i}" for i in range(5)])
    assert error_of(client.conversations_members, channel="C_BIG", cursor="garbage")["error"] == "invalid_cursor"


# ----- views ------------------------------------------------------------------------


def test_views_open_and_update_with_hash(fake_slack, client):
    view = client.views_open(trigger_id=trigger(), view=MODAL)["view"]
    assert view["id"].startswith("V") and view["hash"] and view["callback_id"] == "request_leave"
    assert fake_slack.view(view["id"])["blocks"] == MODAL["blocks"]

    updated = client.views_update(view_id=view["id"], hash=view["hash"], view=MODAL)["view"]
    assert updated["id"] == view["id"] and updated["hash"] != view["hash"]
    stale = error_of(client.views_update, view_id=view["id"], hash=view["hash"], view=MODAL)
    assert stale["error"] == "hash_conflict"
    assert error_of(client.views_update, view_id="V_NOPE", view=MODAL)["error"] == "not_found"


def test_views_open_refuses_expired_and_reused_triggers(fake_slack, client):
    old, once = trigger(), trigger()
    fake_slack.expire_trigger(old)
    assert error_of(client.views_open, trigger_id=old, view=MODAL)["error"] == "expired_trigger_id"
    client.views_open(trigger_id=once, view=MODAL)
    assert error_of(client.views_open, trigger_id=once, view=MODAL)["error"] == "exchanged_trigger_id"


def test_views_open_refuses_a_trigger_older_than_three_seconds(client):
    made = int(time.time())
    assert error_of(client.views_open, trigger_id=f"{made - 5}.4744562912.abc", view=MODAL)["error"] == (
        "expired_trigger_id")
    assert client.views_open(trigger_id=f"{made}.4744562912.def", view=MODAL)["ok"]


def test_invalid_view_is_refused(client):
    long_title = {**MODAL, "title": {"type": "plain_text", "text": "A title well over 24 characters"}}
    refused = error_of(client.views_open, trigger_id=trigger(), view=long_title)
    assert refused["error"] == "invalid_arguments"
    assert any("/view" in m for m in refused["response_metadata"]["messages"])
    duplicate = {**MODAL, "blocks": MODAL["blocks"] * 2}
    assert error_of(client.views_open, trigger_id=trigger(), view=duplicate)["error"] == "invalid_arguments"


def test_views_publish_home_tab_per_user(fake_slack, client):
    home = {"type": "home", "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "Hi"}}]}
    first = client.views_publish(user_id=ALICE, view=home)["view"]
    again = client.views_publish(user_id=ALICE, view=home, hash=first["hash"])["view"]
    assert again["id"] == first["id"] and fake_slack.home_view(ALICE)["type"] == "home"
    assert error_of(client.views_publish, user_id=ALICE, view=MODAL)["error"] == "invalid_arguments"


# ----- faults, auth and recording ------------------------------------------------


def test_rate_limit_is_honoured_by_the_retry_handler(fake_slack):
    fake_slack.rate_limit("chat.postMessage", retry_after=0)
    retrying = WebClient(token=fake_slack.workspace.bot_token, base_url=fake_slack.api_url,
                         retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=1)])
    assert retrying.chat_postMessage(channel=C_ENG, text="hi")["ok"]
    calls = fake_slack.calls("chat.postMessage")
    assert [(c.status, c.fault) for c in calls] == [(429, "rate_limit"), (200, None)]
    assert len(fake_slack.messages(C_ENG)) == 1


def test_rate_limit_without_retry_surfaces_429_and_retry_after(fake_slack, client):
    fake_slack.rate_limit("users.info", retry_after=7)
    with pytest.raises(SlackApiError) as raised:
        client.users_info(user=ALICE)
    assert raised.value.response.status_code == 429
    assert raised.value.response.headers["Retry-After"] == "7"
    assert raised.value.response["error"] == "ratelimited"


def test_a_dropped_connection_makes_the_call_and_answers_nothing(fake_slack, client):
    fake_slack.drop_connection("chat.postMessage")
    with pytest.raises(ConnectionError):  # http.client's RemoteDisconnected: the client cannot know
        client.chat_postMessage(channel=C_ENG, text="hi")
    assert [m.text for m in fake_slack.messages(C_ENG)] == ["hi"]  # made all the same
    assert [(c.status, c.fault) for c in fake_slack.calls("chat.postMessage")] == [(0, "dropped")]
    assert client.chat_postMessage(channel=C_ENG, text="again")["ok"]  # the fault was for one call


def test_server_errors_are_retried(fake_slack):
    fake_slack.server_error("users.info", status=503, times=1)
    retrying = WebClient(token=fake_slack.workspace.bot_token, base_url=fake_slack.api_url,
                         retry_handlers=[ServerErrorRetryHandler(max_retry_count=1)])
    assert retrying.users_info(user=ALICE)["user"]["id"] == ALICE
    assert [c.status for c in fake_slack.calls("users.info")] == [503, 200]


def test_injected_errors_count_down(fake_slack, client):
    fake_slack.fail("conversations.history", error="internal_error", times=2)
    for _ in range(2):
        assert error_of(client.conversations_history, channel=C_ENG)["error"] == "internal_error"
    assert client.conversations_history(channel=C_ENG)["ok"]
    fake_slack.fail("auth.test", error="fatal_error", times=None)
    for _ in range(3):
        assert error_of(client.auth_test)["error"] == "fatal_error"


def test_delay_makes_clients_time_out_but_the_call_takes_effect(fake_slack):
    fake_slack.delay("chat.postMessage", 0.5)
    impatient = WebClient(token=fake_slack.workspace.bot_token, base_url=fake_slack.api_url, timeout=0.1,
                          retry_handlers=[])
    with pytest.raises(TimeoutError):
        impatient.chat_postMessage(channel=C_ENG, text="slow")
    time.sleep(0.6)
    assert [m.text for m in fake_slack.messages(C_ENG)] == ["slow"]


def test_auth_errors_and_unknown_methods(fake_slack, client):
    stranger = WebClient(token="xoxb-wrong", base_url=fake_slack.api_url, retry_handlers=[])
    assert error_of(stranger.auth_test)["error"] == "invalid_auth"
    assert error_of(client.api_call, "chat.scheduleMessage")["error"] == "unknown_method"
    fake_slack.revoke_token(error="account_inactive")
    assert error_of(client.auth_test)["error"] == "account_inactive"


def test_calls_are_recorded_in_order(fake_slack, client):
    client.chat_postMessage(channel=C_ENG, text="one", blocks=[{"type": "divider"}])
    client.users_info(user=BOB)
    assert [c.method for c in fake_slack.calls()] == ["chat.postMessage", "users.info"]
    post = fake_slack.last_call("chat.postMessage")
    assert post.params["blocks"] == [{"type": "divider"}] and post.response["ok"]
    assert post.headers["Authorization"] == f"Bearer {fake_slack.workspace.bot_token}"
    fake_slack.clear_calls()
    assert fake_slack.calls() == [] and fake_slack.last_call("users.info") is None


def test_response_url_posts_are_recorded(fake_slack):
    url = fake_slack.response_url("abc")
    request = urllib.request.Request(url, data=json.dumps({"text": "Done", "replace_original": True}).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request) as answer:
        assert answer.read() == b"ok"
    assert fake_slack.response_url_posts[0].body == {"text": "Done", "replace_original": True}
    assert fake_slack.response_url_posts[0].path == "abc"


# ----- Slack's rate limits and metadata rules ------------------------------------------------


def test_rate_limits_are_off_unless_asked_for(fake_slack, client):
    for _ in range(60):
        client.conversations_history(channel=C_ENG)
    assert {c.status for c in fake_slack.calls("conversations.history")} == {200}


def test_each_method_is_rate_limited_by_its_tier_per_window(fake_slack, client):
    fake_slack.enforce_rate_limits()
    for _ in range(50):  # Tier 3
        assert client.conversations_history(channel=C_ENG)["ok"]
    with pytest.raises(SlackApiError) as raised:
        client.conversations_history(channel=C_ENG)
    assert raised.value.response.status_code == 429
    assert raised.value.response["error"] == "ratelimited"
    assert 1 <= int(raised.value.response.headers["Retry-After"]) <= 60
    # Another method has its own budget.
    assert client.users_info(user=ALICE)["ok"]
    for _ in range(20):  # Tier 2
        client.usergroups_users_list(usergroup=S_ENG)
    assert error_of(client.usergroups_users_list, usergroup=S_ENG)["error"] == "ratelimited"


def test_a_rate_limited_call_takes_no_effect_and_the_window_moves_on(fake_slack, client):
    fake_slack.enforce_rate_limits({"chat.update": 2, "conversations.history": 1}, window=0.5)
    posted = client.chat_postMessage(channel=C_ENG, text="one")
    client.chat_update(channel=C_ENG, ts=posted["ts"], text="two")
    client.chat_update(channel=C_ENG, ts=posted["ts"], text="three")
    assert error_of(client.chat_update, channel=C_ENG, ts=posted["ts"], text="four")["error"] == "ratelimited"
    assert fake_slack.messages(C_ENG)[0].text == "three"
    assert [c.status for c in fake_slack.calls("chat.update")] == [200, 200, 429]
    time.sleep(0.6)
    client.chat_update(channel=C_ENG, ts=posted["ts"], text="five")
    assert fake_slack.messages(C_ENG)[0].text == "five"
    fake_slack.rate_limits_off()
    for _ in range(5):
        client.conversations_history(channel=C_ENG)


def test_chat_post_message_is_limited_per_channel(fake_slack, client):
    fake_slack.enforce_rate_limits({"chat.postMessage": 2})
    for channel in (C_ENG, C_GENERAL):
        client.chat_postMessage(channel=channel, text="a")
        client.chat_postMessage(channel=channel, text="b")
    assert error_of(client.chat_postMessage, channel=C_ENG, text="c")["error"] == "ratelimited"


def test_the_retry_handler_waits_out_an_enforced_limit(fake_slack):
    fake_slack.enforce_rate_limits({"auth.test": 1}, window=0.5)
    retrying = WebClient(token=fake_slack.workspace.bot_token, base_url=fake_slack.api_url,
                         retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=1)])
    retrying.auth_test()
    assert retrying.auth_test()["ok"]  # slept for Retry-After, then got through
    assert [c.status for c in fake_slack.calls("auth.test")] == [200, 429, 200]


@pytest.mark.parametrize("payload", [
    pytest.param({"id": "r1", "reason": None}, id="null-value"),
    pytest.param({"id": "r1", "nested": {"by": None}}, id="nested-null"),
    pytest.param({"id": "r1", "list": [{"a": None}]}, id="null-in-a-list"),
])
def test_null_payload_values_drop_the_metadata_with_a_warning(fake_slack, client, payload):
    # Payload values are strings, numbers and booleans (and objects of them): Slack drops the rest.
    metadata = {"event_type": "timeoff_request", "event_payload": payload}
    posted = client.chat_postMessage(channel=C_ENG, text="x", metadata=metadata)
    assert posted["ok"] and posted["warning"] == "invalid_metadata_format"
    assert posted["response_metadata"]["warnings"] == ["invalid_metadata_format"]
    assert "metadata" not in posted["message"] and fake_slack.messages(C_ENG)[0].metadata is None

    valid = client.chat_postMessage(channel=C_ENG, text="y", metadata=LEDGER)
    updated = client.chat_update(channel=C_ENG, ts=valid["ts"], text="y", metadata=metadata)
    assert updated["ok"] and updated["response_metadata"]["warnings"] == ["invalid_metadata_format"]
    assert fake_slack.messages(C_ENG)[1].metadata is None


def test_strings_numbers_booleans_and_objects_are_kept(fake_slack, client):
    payload = {"id": "r1", "days": 2.5, "year": 2026, "private": False, "who": {"by": "U1"}, "tags": [{"a": 1}]}
    posted = client.chat_postMessage(channel=C_ENG, text="x",
                                     metadata={"event_type": "timeoff_request", "event_payload": payload})
    assert "warning" not in posted.data
    assert fake_slack.messages(C_ENG)[0].metadata["event_payload"] == payload


def test_a_message_whose_blocks_hold_too_much_text_is_refused_as_slack_does(fake_slack, client):
    five = [{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 2500}} for _ in range(5)]  # 12,500
    with pytest.raises(SlackApiError) as refused:
        client.chat_postMessage(channel=C_ENG, text="t", blocks=five)
    assert refused.value.response["error"] == "msg_blocks_too_long"
    assert client.chat_postMessage(channel=C_ENG, text="t", blocks=five[:4])["ok"]  # 10,000: posted


def test_a_text_object_longer_than_3000_characters_is_refused_wherever_it_is(client):
    # slack_sdk bounds a section's text itself, not the texts of a context block's elements: Slack does both.
    context = {"type": "context", "elements": [{"type": "mrkdwn", "text": "x" * 3001}]}
    refused = error_of(client.chat_postMessage, channel=C_ENG, text="x", blocks=[context])
    assert refused["error"] == "invalid_blocks" and "elements/0/text" in refused["errors"][0]
    context["elements"][0]["text"] = "x" * 3000
    assert client.chat_postMessage(channel=C_ENG, text="x", blocks=[context])["ok"]


def test_a_view_over_250_kb_is_refused_as_too_large(fake_slack, client):
    sections = [{"type": "section", "text": {"type": "mrkdwn", "text": "é" * 2900}} for _ in range(50)]  # 290 kB
    home = {"type": "home", "blocks": sections}
    assert error_of(client.views_publish, user_id=ALICE, view=home)["error"] == "view_too_large"
    modal = {"type": "modal", "title": {"type": "plain_text", "text": "T"}, "blocks": sections}
    assert error_of(client.views_open, trigger_id=trigger(), view=modal)["error"] == "view_too_large"
    opened = client.views_open(trigger_id=trigger(), view={**modal, "blocks": sections[:1]})["view"]
    assert error_of(client.views_update, view_id=opened["id"], view=modal)["error"] == "view_too_large"
    assert client.views_publish(user_id=ALICE, view={**home, "blocks": sections[:40]})["ok"]  # 232 kB: shown
