"""The app manifest asks for what the code uses, and nothing else (DESIGN §4, issue "Trustworthy", point 10).

Scopes are derived from the code: every Slack Web API method production code
calls is found by reading its source (an AST scan for `<anything>.<WebClient
method>(` and `api_call("<method>")`), each is looked up in METHOD_SCOPES below,
and the union must be exactly the manifest's bot scopes. A new method without a
table entry fails here until someone looks up its scopes; a scope nothing needs
any more fails here until the manifest drops it.
"""

import ast
import io
from pathlib import Path
from urllib.parse import urlparse

import pytest
import yaml
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import resolve
from slack_sdk import WebClient
from slack_sdk.web.base_client import BaseClient

from slackbot import routing

MANIFEST = Path(settings.BASE_DIR) / "slack-manifest.yml"
PRODUCTION_PACKAGES = ("approvals", "slackbot", "timeoff_site")

# Bot scopes each Web API method needs, from its page under
# https://docs.slack.dev/reference/methods/ ("Required scopes", bot token), only for
# the conversation types we use: public and private channels (channels:*, groups:*) and
# the app's DMs (im:*). DMs go to a user id with chat.postMessage, which Slack routes to
# the app's Messages tab: chat:write is enough to send one. A DM whose answer was lost is
# looked for before it is sent again: its channel id (conversations.open: im:write) and
# its history (im:history).
METHOD_SCOPES: dict[str, frozenset[str]] = {
    "auth_test": frozenset(),
    "chat_postMessage": frozenset({"chat:write"}),
    "chat_postEphemeral": frozenset({"chat:write"}),
    "chat_update": frozenset({"chat:write"}),
    "chat_delete": frozenset({"chat:write"}),  # our own message: a request posted without its metadata
    # The ledger is read with include_all_metadata=true: without metadata.message:read
    # Slack returns the messages but not the metadata that makes them entries.
    "conversations_history": frozenset({"channels:history", "groups:history", "im:history",
                                        "metadata.message:read"}),
    "conversations_replies": frozenset({"channels:history", "groups:history", "metadata.message:read"}),
    "conversations_open": frozenset({"im:write"}),
    "conversations_info": frozenset({"channels:read", "groups:read"}),
    "conversations_members": frozenset({"channels:read", "groups:read"}),
    # conversations.list with types=public_channel,private_channel (the console's channel picker).
    "conversations_list": frozenset({"channels:read", "groups:read"}),
    "usergroups_list": frozenset({"usergroups:read"}),
    "usergroups_users_list": frozenset({"usergroups:read"}),
    "users_info": frozenset({"users:read"}),
    # The console finds people by email: users.list returns `profile.email` only with
    # users:read.email, and users.lookupByEmail needs it (Slack grants it with users:read only).
    "users_list": frozenset({"users:read", "users:read.email"}),
    "users_lookupByEmail": frozenset({"users:read", "users:read.email"}),
    # Modals and the Home tab need no scope: a trigger_id (or the user's own Home) is the permission.
    "views_open": frozenset(),
    "views_update": frozenset(),
    "views_push": frozenset(),
    "views_publish": frozenset(),
}

# Scopes that come with a feature of the manifest rather than a method.
FEATURE_SCOPES = {"slash_commands": frozenset({"commands"})}

WEB_API_METHODS = frozenset(name for name in dir(WebClient) if not name.startswith("_")) - set(dir(BaseClient))
# "chat.postMessage" -> "chat_postMessage", for api_call("...") with the method's Slack name.
BY_SLACK_NAME = {name.replace("_", ".").lower(): name for name in WEB_API_METHODS}


def production_sources():
    for package in PRODUCTION_PACKAGES:
        for path in sorted((Path(settings.BASE_DIR) / package).rglob("*.py")):
            if not {"tests", "migrations"} & set(path.parts):
                yield path


def web_api_calls() -> dict[str, list[str]]:
    """Every WebClient method production code calls: {method: ["path:line", ...]}."""
    found: dict[str, list[str]] = {}
    for path in production_sources():
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            method = node.func.attr if node.func.attr in WEB_API_METHODS else None
            if node.func.attr == "api_call" and node.args and isinstance(node.args[0], ast.Constant):
                method = BY_SLACK_NAME.get(str(node.args[0].value).lower(), f"api_call:{node.args[0].value}")
            if method:
                where = f"{path.relative_to(settings.BASE_DIR)}:{node.lineno}"
                found.setdefault(method, []).append(where)
    return found


def load_manifest(text: str | None = None) -> dict:
    return yaml.safe_load(MANIFEST.read_text() if text is None else text)


def printed_manifest(url: str) -> str:
    out = io.StringIO()
    call_command("slack_manifest", "--url", url, stdout=out)
    return out.getvalue()


def test_the_scan_finds_the_calls_we_know_of():
    """A guard: if the scan found nothing, the scope test below would prove nothing."""
    calls = web_api_calls()
    for method in ("chat_postMessage", "chat_update", "conversations_history", "conversations_members",
                   "users_info", "views_open", "auth_test"):
        assert method in calls, f"the scan no longer sees {method}"


def test_every_method_the_code_calls_has_its_scopes_in_the_table():
    unknown = {method: where for method, where in web_api_calls().items() if method not in METHOD_SCOPES}
    assert not unknown, (
        f"Slack methods without an entry in METHOD_SCOPES: {unknown}. Look up each one's bot scopes "
        "(docs.slack.dev/reference/methods/<method>), add them to the table, and to slack-manifest.yml and "
        "README's scope table if they are new."
    )


def test_the_manifest_asks_for_exactly_the_scopes_the_code_uses():
    manifest = load_manifest()
    needed = set().union(*(METHOD_SCOPES.get(method, frozenset()) for method in web_api_calls()))
    for feature, scopes in FEATURE_SCOPES.items():
        if manifest["features"].get(feature):
            needed |= scopes
    asked = set(manifest["oauth_config"]["scopes"]["bot"])
    assert asked - needed == set(), f"scopes nothing uses: {sorted(asked - needed)}"
    assert needed - asked == set(), f"scopes the code needs but the manifest lacks: {sorted(needed - asked)}"
    assert len(asked) == len(manifest["oauth_config"]["scopes"]["bot"]), "a scope is listed twice"
    assert "user" not in manifest["oauth_config"]["scopes"], "the app acts as its bot only, never as a user"


def test_scopes_slack_grants_only_together_are_asked_together():
    """https://docs.slack.dev/reference/scopes/users.read.email: "must be requested at the same time as users:read"."""
    asked = set(load_manifest()["oauth_config"]["scopes"]["bot"])
    if "users:read.email" in asked:
        assert "users:read" in asked


def test_the_app_reads_only_its_own_dms_never_group_dms():
    """DMs are posted to a user id (chat:write); a DM's id is asked for (im:write) only to look in it for
    one whose answer was lost (im:history). Nothing opens or reads a group DM."""
    asked = load_manifest()["oauth_config"]["scopes"]["bot"]
    assert {"im:write", "im:history"} <= set(asked)
    assert not {"mpim:write", "mpim:history", "mpim:read", "im:read"} & set(asked)
    assert "conversations_open" in web_api_calls()


def test_the_slash_command_is_timeoff_on_our_commands_endpoint():
    (command,) = load_manifest()["features"]["slash_commands"]
    assert command["command"] == "/timeoff"
    assert resolve(urlparse(command["url"]).path).url_name == "slack-commands"


def test_mentions_typed_after_the_command_arrive_as_user_ids():
    """`/timeoff for @alice` is parsed as `<@U…|alice>`: Slack sends that only with should_escape on
    (otherwise the handler gets the text "@alice" and cannot tell who is meant)."""
    (command,) = load_manifest()["features"]["slash_commands"]
    if "for" in routing.COMMAND_ROUTES:
        assert command["should_escape"] is True


def test_interactivity_is_on_and_points_at_our_interactions_endpoint():
    interactivity = load_manifest()["settings"]["interactivity"]
    assert interactivity["is_enabled"] is True
    assert resolve(urlparse(interactivity["request_url"]).path).url_name == "slack-interactions"


def test_the_manifest_subscribes_to_exactly_the_events_the_routing_handles():
    """An event nobody handles costs a signed request each time it fires; one we handle but do not
    subscribe to never arrives. No routes: no subscription at all, so no URL for Slack to verify."""
    manifest = load_manifest()
    subscriptions = manifest["settings"].get("event_subscriptions")
    handled = set(routing.EVENT_ROUTES)
    if not handled:
        assert subscriptions is None, "no event is routed: drop event_subscriptions from the manifest"
        return
    assert resolve(urlparse(subscriptions["request_url"]).path).url_name == "slack-events"
    assert set(subscriptions["bot_events"]) == handled
    assert not subscriptions.get("user_events")


def test_the_manifest_declares_exactly_the_global_shortcuts_the_routing_handles():
    """A shortcut Slack lists but we do not route does nothing when someone picks it; one we route but
    do not declare is never offered. Slack caps a shortcut's name at 24 characters, its description at 150."""
    shortcuts = load_manifest()["features"].get("shortcuts", [])
    assert {s["callback_id"] for s in shortcuts if s["type"] == "global"} == set(routing.SHORTCUT_ROUTES)
    assert all(s["type"] == "global" for s in shortcuts)  # no message shortcut: "message_action" is not routed
    assert all(len(s["name"]) <= 24 and len(s["description"]) <= 150 for s in shortcuts)


def test_the_home_tab_is_on_only_when_app_home_opened_is_handled():
    app_home = load_manifest()["features"]["app_home"]
    assert app_home["home_tab_enabled"] is ("app_home_opened" in routing.EVENT_ROUTES)
    # DMs (receipts, decisions) appear in the Messages tab; nobody reads what people type there.
    assert app_home["messages_tab_enabled"] is True
    assert app_home["messages_tab_read_only_enabled"] is True


def test_it_serves_over_http_by_default():
    """Socket Mode is opt-in (README); the manifest's request URLs are what a deployment uses."""
    assert load_manifest()["settings"]["socket_mode_enabled"] is False


def test_it_prints_the_manifest_for_a_url():
    manifest = load_manifest(printed_manifest("https://timeoff.acme.com/"))
    assert manifest["features"]["slash_commands"][0]["url"] == "https://timeoff.acme.com/slack/commands"
    assert manifest["settings"]["interactivity"]["request_url"] == "https://timeoff.acme.com/slack/interactions"
    assert manifest["oauth_config"] == load_manifest()["oauth_config"]


def test_every_url_in_the_printed_manifest_is_the_deployment_s():
    text = printed_manifest("https://timeoff.acme.com")
    assert "timeoff.example.com" not in text

    def urls(node):
        if isinstance(node, dict):
            for value in node.values():
                yield from urls(value)
        elif isinstance(node, list):
            for value in node:
                yield from urls(value)
        elif isinstance(node, str) and "://" in node:
            yield node

    found = list(urls(load_manifest(text)))
    assert found and all(url.startswith("https://timeoff.acme.com/slack/") for url in found)


def test_the_first_step_manifest_is_the_full_one_without_event_subscriptions():
    """Created from this, the app exists (and has a signing secret) before Slack verifies the events URL."""
    full = load_manifest(printed_manifest("https://timeoff.acme.com"))
    out = io.StringIO()
    call_command("slack_manifest", "--url", "https://timeoff.acme.com", "--without-events", stdout=out)
    first = load_manifest(out.getvalue())
    assert "event_subscriptions" not in first["settings"]
    full["settings"].pop("event_subscriptions", None)
    assert first == full


@pytest.mark.parametrize("url", ["http://insecure.example.com", "timeoff.acme.com", "https://acme.com/sub/path"])
def test_it_refuses_urls_slack_cannot_use(url):
    with pytest.raises(CommandError):
        call_command("slack_manifest", "--url", url, stdout=io.StringIO())
