"""The fake Slack answers the Web API methods our app calls as Slack's method reference documents them.

Methods the app calls (approvals/, slackbot/): auth.test, chat.postMessage, chat.postEphemeral,
chat.update, chat.delete, conversations.history, conversations.replies, conversations.info,
conversations.members, conversations.list, users.info, users.list, users.lookupByEmail, usergroups.list,
usergroups.users.list, views.open, views.update, views.publish.

Each test calls the fake over HTTP through slack_sdk's WebClient and checks an argument rule, an error
or a response shape that the method's page on docs.slack.dev/reference/methods/<method> states (quoted
in the docstring). What fake_slack/tests/test_fake_slack_strictness.py already checks is not repeated.
"""

import time
import uuid

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from fake_slack.personas import ALICE, BOB, C_ARCHIVED, C_ENG, C_ENG_APPROVALS, C_GENERAL, S_ENG
from fake_slack.workspace import GRANTED_SCOPES

MD = {"type": "mrkdwn", "text": "x"}
SECTION = {"type": "section", "text": MD}
HOME = {"type": "home", "blocks": [SECTION]}
MODAL = {"type": "modal", "title": {"type": "plain_text", "text": "Time off"}, "blocks": [SECTION]}
LEDGER = {"event_type": "timeoff_request", "event_payload": {"id": "r1", "status": "pending"}}


@pytest.fixture
def client(fake_slack):
    return WebClient(token=fake_slack.workspace.bot_token, base_url=fake_slack.api_url, retry_handlers=[])


def error_of(call, *args, **kwargs) -> dict:
    with pytest.raises(SlackApiError) as raised:
        call(*args, **kwargs)
    return raised.value.response.data


def trigger() -> str:
    return f"{int(time.time())}.4744562912.{uuid.uuid4().hex}"


# ----- auth.test ----------------------------------------------------------------------------------------


def test_auth_test_names_the_bot_user_the_bot_and_the_workspace(fake_slack, client):
    """auth.test's documented answer for a bot token: ok, url, team, user, team_id, user_id, bot_id,
    is_enterprise_install. The ledger trusts only messages whose `user` is this `user_id`
    (approvals/directory.py:fetch_bot_user_id)."""
    answer = client.auth_test().data
    assert {"ok", "url", "team", "user", "team_id", "user_id", "bot_id", "is_enterprise_install"} <= set(answer)
    assert answer["user_id"] == fake_slack.workspace.bot_user_id and answer["bot_id"] == fake_slack.workspace.bot_id
    posted = client.chat_postMessage(channel=C_ENG, text="hi")["message"]
    assert posted["user"] == answer["user_id"] and posted["bot_id"] == answer["bot_id"]


# ----- chat.postMessage -------------------------------------------------------------------------------


def test_chat_post_message_answers_channel_ts_and_the_message_as_posted(client):
    """chat.postMessage's documented answer: {"ok": true, "channel", "ts", "message": {...}}, the message's
    ts equal to the top-level ts."""
    answer = client.chat_postMessage(channel=C_ENG, text="Alice is out Monday", metadata=LEDGER).data
    assert answer["channel"] == C_ENG
    assert answer["message"]["ts"] == answer["ts"] and answer["message"]["text"] == "Alice is out Monday"
    assert answer["message"]["type"] == "message"


# ----- chat.update -------------------------------------------------------------------------------------


def test_chat_update_with_text_and_no_blocks_drops_the_blocks_and_keeps_the_metadata(fake_slack, client):
    """chat.update, usage: "If the text argument is provided and blocks are not provided, the blocks will
    be removed"; `metadata`: "If you don't include this field, the message's previous metadata will be
    retained." """
    ts = client.chat_postMessage(channel=C_ENG, text="old", blocks=[SECTION], metadata=LEDGER)["ts"]
    client.chat_update(channel=C_ENG, ts=ts, text="new")
    message = fake_slack.message(C_ENG, ts)
    assert message.text == "new" and message.blocks is None
    assert message.metadata == LEDGER


def test_chat_update_without_text_or_blocks_keeps_the_blocks(fake_slack, client):
    """chat.update: "If you don't include blocks, the message's previous blocks will only be retained if the
    text argument is not provided." (a metadata-only edit keeps what the message shows)."""
    ts = client.chat_postMessage(channel=C_ENG, text="old", blocks=[SECTION], metadata=LEDGER)["ts"]
    changed = {**LEDGER, "event_payload": {"id": "r1", "status": "approved"}}
    client.api_call("chat.update", json={"channel": C_ENG, "ts": ts, "metadata": changed})
    message = fake_slack.message(C_ENG, ts)
    assert message.blocks == [SECTION] and message.text == "old"
    assert message.metadata == changed


def test_chat_update_with_an_empty_metadata_object_removes_the_metadata(fake_slack, client):
    """chat.update, `metadata`: "To remove previous metadata, include an empty object for this field." """
    ts = client.chat_postMessage(channel=C_ENG, text="old", metadata=LEDGER)["ts"]
    client.chat_update(channel=C_ENG, ts=ts, text="old", metadata={})
    assert fake_slack.message(C_ENG, ts).metadata is None
    read = client.conversations_history(channel=C_ENG, include_all_metadata=True)["messages"][0]
    assert "metadata" not in read


def test_chat_update_of_a_message_someone_else_posted_is_cant_update_message(fake_slack, client):
    """chat.update: "Only messages posted by the authenticated user are able to be updated ... Attempting to
    update other message types will return a cant_update_message error." """
    ts = fake_slack.post_message(C_ENG, "Alice's own words", user=ALICE).ts
    assert error_of(client.chat_update, channel=C_ENG, ts=ts, text="edited")["error"] == "cant_update_message"
    assert fake_slack.message(C_ENG, ts).text == "Alice's own words"


def test_chat_update_of_no_message_at_that_ts_is_message_not_found(client):
    """chat.update errors: `message_not_found` "No message exists with the requested timestamp." """
    assert error_of(client.chat_update, channel=C_ENG, ts="1766000000.000100", text="x")["error"] == (
        "message_not_found")


def test_chat_update_answers_channel_ts_text_and_message(client):
    """chat.update's documented answer: {"ok", "channel", "ts", "text", "message": {"text", ...}}."""
    ts = client.chat_postMessage(channel=C_ENG, text="old")["ts"]
    answer = client.chat_update(channel=C_ENG, ts=ts, text="Updated text").data
    assert (answer["channel"], answer["ts"], answer["text"]) == (C_ENG, ts, "Updated text")
    assert answer["message"]["text"] == "Updated text"


# ----- chat.delete -------------------------------------------------------------------------------------


def test_chat_delete_refuses_what_is_not_ours_or_not_there(fake_slack, client):
    """chat.delete errors: `cant_delete_message` "Authenticated user does not have permission to delete this
    message."; `message_not_found` "No message exists with the requested timestamp." Its answer:
    {"ok": true, "channel", "ts"}."""
    theirs = fake_slack.post_message(C_ENG, "Alice's", user=ALICE).ts
    assert error_of(client.chat_delete, channel=C_ENG, ts=theirs)["error"] == "cant_delete_message"
    assert error_of(client.chat_delete, channel=C_ENG, ts="1766000000.000100")["error"] == "message_not_found"
    ours = client.chat_postMessage(channel=C_ENG, text="ours")["ts"]
    answer = client.chat_delete(channel=C_ENG, ts=ours).data
    assert (answer["channel"], answer["ts"]) == (C_ENG, ours)
    assert fake_slack.message(C_ENG, ours) is None and fake_slack.message(C_ENG, theirs) is not None


# ----- chat.postEphemeral ----------------------------------------------------------------------------------


def test_chat_post_ephemeral_answers_message_ts_and_refuses_an_archived_channel(fake_slack, client):
    """chat.postEphemeral: answer {"ok": true, "message_ts"}; errors `is_archived` "Channel has been
    archived."; `user_not_in_channel` "Intended recipient is not in the specified channel." """
    answer = client.chat_postEphemeral(channel=C_ENG, user=ALICE, text="only you").data
    assert set(answer) == {"ok", "message_ts"}
    assert error_of(client.chat_postEphemeral, channel=C_ARCHIVED, user=ALICE, text="x")["error"] == "is_archived"
    assert len(fake_slack.ephemerals) == 1


# ----- conversations.history -----------------------------------------------------------------------------


def test_conversations_history_pages_newest_first_with_has_more_and_next_cursor(client):
    """conversations.history's documented answer: "messages", "has_more", "pin_count",
    "response_metadata": {"next_cursor"}; `limit` "The maximum number of items to return"; `cursor` "set ...
    to a next_cursor attribute returned by a previous request's response_metadata"."""
    posted = [client.chat_postMessage(channel=C_GENERAL, text=f"m{i}")["ts"] for i in range(5)]
    first = client.conversations_history(channel=C_GENERAL, limit=2).data
    assert [m["ts"] for m in first["messages"]] == posted[:-3:-1]
    assert first["has_more"] is True and "pin_count" in first
    cursor = first["response_metadata"]["next_cursor"]
    assert cursor
    seen = [m["ts"] for m in first["messages"]]
    while cursor:
        page = client.conversations_history(channel=C_GENERAL, limit=2, cursor=cursor).data
        seen += [m["ts"] for m in page["messages"]]
        cursor = (page.get("response_metadata") or {}).get("next_cursor")
    assert seen == posted[::-1]
    assert page["has_more"] is False


def test_conversations_history_refuses_a_bad_cursor_or_bad_timestamps(client):
    """conversations.history errors: `invalid_cursor` "Value passed for cursor was not valid or is no
    longer valid."; `invalid_ts_latest`, `invalid_ts_oldest` "Value passed for latest/oldest was invalid." """
    assert error_of(client.conversations_history, channel=C_ENG, cursor="not a cursor")["error"] == "invalid_cursor"
    assert error_of(client.conversations_history, channel=C_ENG, latest="yesterday")["error"] == "invalid_ts_latest"
    assert error_of(client.conversations_history, channel=C_ENG, oldest="soon")["error"] == "invalid_ts_oldest"


def test_conversations_history_oldest_and_latest_are_exclusive_unless_inclusive(client):
    """`inclusive`: "Include messages with oldest or latest timestamps in results. Ignored unless either
    timestamp is specified." (approvals/ledger.py:read_request_at relies on it with limit=1)."""
    a, b, c = (client.chat_postMessage(channel=C_ENG, text=t)["ts"] for t in "abc")
    assert [m["ts"] for m in client.conversations_history(channel=C_ENG, oldest=a, latest=c)["messages"]] == [b]
    inclusive = client.conversations_history(channel=C_ENG, oldest=a, latest=c, inclusive=True)["messages"]
    assert [m["ts"] for m in inclusive] == [c, b, a]
    assert [m["ts"] for m in client.conversations_history(channel=C_ENG, latest=b, inclusive=True,
                                                          limit=1)["messages"]] == [b]


def test_conversations_history_of_an_archived_channel_is_readable(fake_slack, client):
    """Archiving keeps a channel's history (no `is_archived` among conversations.history's errors): the
    ledger of a team whose approvals channel was archived stays readable."""
    ts = fake_slack.post_message(C_ARCHIVED, "request", metadata=LEDGER).ts
    messages = client.conversations_history(channel=C_ARCHIVED, include_all_metadata=True)["messages"]
    assert [(m["ts"], m["metadata"]) for m in messages] == [(ts, LEDGER)]


# ----- conversations.replies ---------------------------------------------------------------------------------


def test_conversations_replies_of_an_unthreaded_message_is_that_message(client):
    """conversations.replies, `ts`: "ts must be the timestamp of an existing message with 0 or more replies.
    If there are no replies then just the single message referenced by ts will return"; errors
    `thread_not_found` "Value for ts was missing or invalid." """
    ts = client.chat_postMessage(channel=C_ENG, text="alone")["ts"]
    answer = client.conversations_replies(channel=C_ENG, ts=ts).data
    assert [m["ts"] for m in answer["messages"]] == [ts]
    assert answer["has_more"] is False
    assert error_of(client.conversations_replies, channel=C_ENG, ts="1766000000.000100")["error"] == (
        "thread_not_found")


def test_conversations_replies_lists_the_parent_first_then_replies_with_parent_user_id(client):
    """conversations.replies' documented answer: the parent (with reply_count) first, then each reply
    with thread_ts and parent_user_id, oldest first."""
    parent = client.chat_postMessage(channel=C_ENG, text="request")["ts"]
    replies = [client.chat_postMessage(channel=C_ENG, text=t, thread_ts=parent)["ts"] for t in ("approved", "ok")]
    messages = client.conversations_replies(channel=C_ENG, ts=parent)["messages"]
    assert [m["ts"] for m in messages] == [parent, *replies]
    assert messages[0]["reply_count"] == 2
    assert all(m["thread_ts"] == parent and m["parent_user_id"] for m in messages[1:])


# ----- conversations.list -------------------------------------------------------------------------------------


def test_conversations_list_refuses_an_unknown_type_as_invalid_types(client):
    """conversations.list, `types`: "Mix and match channel types by providing a comma-separated list of any
    combination of public_channel, private_channel, mpim, im"; errors: `invalid_types` "Value passed for
    type could not be used based on the method's capabilities or the permission scopes granted to the used
    token." (docs.slack.dev/reference/methods/conversations.list)."""
    assert error_of(client.conversations_list, types="public_channel,private_channels")["error"] == "invalid_types"


def test_conversations_list_pages_with_next_cursor(client):
    """conversations.list: `limit` "Must be an integer no larger than 1000"; the answer carries
    response_metadata.next_cursor, empty on the last page."""
    first = client.conversations_list(types="public_channel,private_channel", limit=2).data
    assert len(first["channels"]) == 2 and first["response_metadata"]["next_cursor"]
    names, cursor = [c["id"] for c in first["channels"]], first["response_metadata"]["next_cursor"]
    while cursor:
        page = client.conversations_list(types="public_channel,private_channel", limit=2, cursor=cursor).data
        names += [c["id"] for c in page["channels"]]
        cursor = page["response_metadata"]["next_cursor"]
    assert len(names) == len(set(names)) and {C_ENG, C_GENERAL, C_ENG_APPROVALS} <= set(names)


# ----- users.*, usergroups.* -------------------------------------------------------------------------------


def test_users_info_and_lookup_by_email_name_their_errors(client):
    """users.info errors: `user_not_found` "Value passed for user was invalid."; users.lookupByEmail:
    `users_not_found` "Value passed for user was invalid." (approvals/slack_directory.py:person_by_email
    takes only `users_not_found` for "nobody")."""
    assert client.users_info(user=ALICE)["user"]["id"] == ALICE
    assert error_of(client.users_info, user="U_NOBODY")["error"] == "user_not_found"
    assert error_of(client.users_lookupByEmail, email="nobody@example.com")["error"] == "users_not_found"


def test_usergroups_users_list_names_an_unknown_group_no_such_subteam(client):
    """usergroups.users.list: answer {"ok": true, "users": [...]}; `no_such_subteam` "No usergroup found
    with the given Id." """
    assert client.usergroups_users_list(usergroup=S_ENG).data == {"ok": True, "users": [ALICE, "U_DAVE"]}
    assert error_of(client.usergroups_users_list, usergroup="S_NOPE")["error"] == "no_such_subteam"


# ----- views.* --------------------------------------------------------------------------------------------------


def test_views_open_answers_the_view_with_slacks_own_fields(client):
    """views.open / views.update's documented answer: the view with id, team_id, hash, state {values},
    root_view_id, previous_view_id, app_id, bot_id besides the caller's fields."""
    view = client.views_open(trigger_id=trigger(), view=MODAL)["view"]
    assert {"id", "team_id", "hash", "state", "root_view_id", "previous_view_id", "app_id", "bot_id",
            "private_metadata", "callback_id"} <= set(view)
    assert view["root_view_id"] == view["id"] and view["previous_view_id"] is None
    assert view["title"] == MODAL["title"]


def test_views_update_by_external_id_and_an_unknown_one_is_not_found(client):
    """views.update, `external_id`: "Either view_id or external_id is required"; errors `not_found` "Error
    returned when the given view_id or external_id doesn't exist." """
    opened = client.views_open(trigger_id=trigger(), view={**MODAL, "external_id": "form-alice"})["view"]
    updated = client.views_update(external_id="form-alice", view={**MODAL, "external_id": "form-alice"})["view"]
    assert updated["id"] == opened["id"]
    assert error_of(client.views_update, external_id="form-nobody", view=MODAL)["error"] == "not_found"


def test_views_publish_to_an_unknown_user_is_invalid_arguments(fake_slack, client):
    """views.publish's documented error answer: {"ok": false, "error": "invalid_arguments",
    "response_metadata": {"messages": ["invalid `user_id`"]}} (docs.slack.dev/reference/methods/
    views.publish); `user_not_found` is not among its errors."""
    refused = error_of(client.views_publish, user_id="U_NOBODY", view=HOME)
    assert refused["error"] == "invalid_arguments"
    assert any("user_id" in m for m in refused["response_metadata"]["messages"])
    assert fake_slack.home_view("U_NOBODY") is None


def test_views_publish_with_a_stale_hash_is_hash_conflict(fake_slack, client):
    """views.publish, `hash`: "A string that represents view state to protect against possible race
    conditions."; `hash_conflict` "Error returned when the provided hash doesn't match the current stored
    value." (approvals/home_services.py:home_publish depends on it)."""
    first = client.views_publish(user_id=BOB, view=HOME)["view"]
    second = client.views_publish(user_id=BOB, view=HOME, hash=first["hash"])["view"]
    assert error_of(client.views_publish, user_id=BOB, view=HOME, hash=first["hash"])["error"] == "hash_conflict"
    assert fake_slack.home_view(BOB)["hash"] == second["hash"]


# ----- scopes ---------------------------------------------------------------------------------------------------


def test_every_answer_names_the_tokens_scopes(fake_slack, client):
    """Slack's answers carry the token's scopes in the `X-OAuth-Scopes` header (read by the setup checks)."""
    answer = client.auth_test()
    assert set(answer.headers["X-OAuth-Scopes"].split(",")) == set(GRANTED_SCOPES)


@pytest.mark.parametrize("scope, method, arguments", [
    ("usergroups:read", "usergroups.users.list", {"usergroup": S_ENG}),
    ("users:read.email", "users.lookupByEmail", {"email": "alice@example.com"}),
    ("groups:history", "conversations.history", {"channel": C_ENG_APPROVALS}),
    ("chat:write", "chat.postMessage", {"channel": C_ENG, "text": "hi"}),
    ("im:write", "conversations.open", {"users": ALICE}),
    ("mpim:write", "conversations.open", {"users": f"{ALICE},{BOB}"}),
    ("im:history", "conversations.history", {"channel": "D" + ALICE[1:]}),
], ids=["usergroups-read", "users-read-email", "groups-history", "chat-write", "im-write", "mpim-write",
        "im-history"])
def test_a_method_whose_scope_was_not_granted_is_missing_scope(fake_slack, client, scope, method, arguments):
    """Every method's reference lists `missing_scope` "The token used is not granted the specific scope
    permissions required to complete this request.", and Slack names the scope: {"ok": false, "error":
    "missing_scope", "needed": "<scope>", "provided": "<granted, comma-separated>"}. Each method's page
    names its required bot scope (usergroups.users.list: usergroups:read; users.lookupByEmail:
    users:read.email; conversations.history of a private channel: groups:history, of a DM: im:history;
    chat.postMessage: chat:write; conversations.open of a DM: im:write, of a group DM: mpim:write)."""
    if method == "conversations.history" and arguments["channel"].startswith("D"):
        fake_slack.workspace.open_conversation([ALICE])  # the DM exists: the app posted to Alice before
    fake_slack.workspace.granted_scopes = tuple(s for s in GRANTED_SCOPES if s != scope)
    refused = error_of(client.api_call, method, params=arguments)
    assert refused["error"] == "missing_scope"
    assert refused["needed"] == scope and scope not in refused["provided"].split(",")
    assert fake_slack.messages(C_ENG) == []
