"""The fake's read-only inspection endpoint: what the demo's pages show of the workspace."""

import json
import urllib.error
import urllib.request

import pytest
from slack_sdk import WebClient

from fake_slack.personas import ALICE, BOB, C_ENG, C_GENERAL

MODAL = {"type": "modal", "callback_id": "m", "title": {"type": "plain_text", "text": "Hi"},
         "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "hello"}}]}


def inspect(fake, what, token=None, **params):
    query = "&".join(f"{k}={v}" for k, v in params.items())
    request = urllib.request.Request(f"{fake.base_url}_inspect/{what}?{query}", headers={
        "Authorization": f"Bearer {token or fake.workspace.bot_token}"})
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read())


@pytest.fixture
def client(fake_slack):
    return WebClient(token=fake_slack.workspace.bot_token, base_url=fake_slack.api_url)


def test_it_answers_only_with_the_bot_token(fake_slack):
    with pytest.raises(urllib.error.HTTPError) as error:
        inspect(fake_slack, "workspace", token="xoxb-wrong")
    assert error.value.code == 401


def test_it_lists_people_and_channels_with_members(fake_slack):
    data = inspect(fake_slack, "workspace")
    users = {u["id"]: u for u in data["users"]}
    assert users[ALICE]["real_name"] == "Alice Adams" and users[data["bot_user_id"]]["is_bot"]
    channels = {c["id"]: c for c in data["channels"]}
    assert ALICE in channels[C_ENG]["members"] and channels[C_ENG]["name"] == "engineering"


def test_a_channel_shows_top_level_messages_with_reply_counts_and_metadata(fake_slack, client):
    parent = client.chat_postMessage(channel=C_ENG, text="parent",
                                     metadata={"event_type": "x_y", "event_payload": {"a": 1}})
    client.chat_postMessage(channel=C_ENG, text="reply", thread_ts=parent["ts"])
    messages = inspect(fake_slack, "channel", channel=C_ENG)["messages"]
    assert [m["text"] for m in messages] == ["parent"]
    assert messages[0]["reply_count"] == 1 and messages[0]["metadata"]["event_payload"] == {"a": 1}
    thread = inspect(fake_slack, "thread", channel=C_ENG, ts=parent["ts"])["messages"]
    assert [m["text"] for m in thread] == ["parent", "reply"]


def test_looking_at_a_dm_that_does_not_exist_opens_nothing(fake_slack):
    assert inspect(fake_slack, "channel", channel="D_ALICE")["messages"] == []
    assert "D_ALICE" not in fake_slack.workspace.channels


def test_ephemerals_views_and_the_view_a_trigger_opened(fake_slack, client):
    client.chat_postEphemeral(channel=C_GENERAL, user=ALICE, text="only you")
    client.chat_postEphemeral(channel=C_GENERAL, user=BOB, text="only Bob")
    assert [e["text"] for e in inspect(fake_slack, "ephemerals", user=ALICE)["ephemerals"]] == ["only you"]
    opened = client.views_open(trigger_id="123.456.abc", view=MODAL)["view"]
    assert inspect(fake_slack, "opened", trigger_id="123.456.abc") == {"ok": True, "view_id": opened["id"]}
    assert inspect(fake_slack, "opened", trigger_id="999.1.x")["view_id"] is None
    assert inspect(fake_slack, "view", id=opened["id"])["view"]["callback_id"] == "m"
    assert inspect(fake_slack, "home", user=ALICE)["view"] is None
    client.views_publish(user_id=ALICE, view={"type": "home", "blocks": MODAL["blocks"]})
    assert inspect(fake_slack, "home", user=ALICE)["view"]["type"] == "home"


@pytest.mark.filterwarnings("ignore:The top-level `text` argument is missing")
def test_the_version_changes_when_anything_visible_changes(fake_slack, client):
    first = inspect(fake_slack, "version")["version"]
    assert inspect(fake_slack, "version")["version"] == first
    posted = client.chat_postMessage(channel=C_ENG, text="one",
                                     blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": "a"}}])
    second = inspect(fake_slack, "version")["version"]
    client.chat_update(channel=C_ENG, ts=posted["ts"],
                       blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": "b"}}])
    third = inspect(fake_slack, "version")["version"]
    assert len({first, second, third}) == 3


def test_unknown_views_and_bad_requests(fake_slack):
    with pytest.raises(urllib.error.HTTPError) as error:
        inspect(fake_slack, "nothing")
    assert error.value.code == 404
    with pytest.raises(urllib.error.HTTPError) as error:
        inspect(fake_slack, "view", id="V_NONE")
    assert error.value.code == 400


def test_forget_calls_before_keeps_the_recent_ones(fake_slack, client):
    client.auth_test()
    fake_slack.forget_calls_before(fake_slack.calls()[-1].at + 1)
    assert fake_slack.calls() == []
