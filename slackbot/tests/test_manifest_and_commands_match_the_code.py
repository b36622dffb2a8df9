"""A company installs the app tomorrow, following README "Connect a Slack workspace" literally: the
manifest (file and `manage.py slack_manifest --url`) against what the code handles and calls, and
README's scope table; `/timeoff help` against what the commands do. (The Setup page and `.env.example`:
approvals/tests/test_setup_on_a_fresh_install.py.)
"""

import ast
import io
import re
from pathlib import Path
from urllib.parse import urlparse

import pytest
import yaml
from django.conf import settings
from django.core.management import call_command
from django.urls import resolve
from slack_sdk import WebClient
from slack_sdk.web.base_client import BaseClient

from fake_slack.personas import ALICE, BOB
from slackbot import routing
from test_support.flows import install_config
from test_support.slack_requests import post_command

pytestmark = pytest.mark.django_db

BASE = Path(settings.BASE_DIR)
MANIFEST = BASE / "slack-manifest.yml"
README = (BASE / "README.md").read_text(encoding="utf-8")


def printed_manifest(*args: str) -> str:
    out = io.StringIO()
    call_command("slack_manifest", *args, stdout=out)
    return out.getvalue()


def manifest() -> dict:
    return yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))


# --------------------------------------------------------------------------------------------------
# (1) The manifest


# From each method's page under docs.slack.dev/reference/methods/ (bot token), for the conversation
# types we use; checked again here.
METHOD_SCOPES = {
    "auth_test": set(),
    "chat_postMessage": {"chat:write"},
    "chat_postEphemeral": {"chat:write"},
    "chat_update": {"chat:write"},
    "chat_delete": {"chat:write"},
    "conversations_history": {"channels:history", "groups:history", "im:history", "metadata.message:read"},
    "conversations_replies": {"channels:history", "groups:history", "metadata.message:read"},
    "conversations_open": {"im:write"},
    "conversations_info": {"channels:read", "groups:read"},
    "conversations_members": {"channels:read", "groups:read"},
    "conversations_list": {"channels:read", "groups:read"},
    "usergroups_list": {"usergroups:read"},
    "usergroups_users_list": {"usergroups:read"},
    "users_info": {"users:read"},
    "users_list": {"users:read", "users:read.email"},
    "users_lookupByEmail": {"users:read", "users:read.email"},
    "views_open": set(), "views_update": set(), "views_push": set(), "views_publish": set(),
}
# Bot events and the scope each needs (docs.slack.dev/reference/events/...).
EVENT_SCOPES = {
    "app_home_opened": set(), "app_uninstalled": set(), "tokens_revoked": set(),
    "member_joined_channel": {"channels:read", "groups:read"},
    "member_left_channel": {"channels:read", "groups:read"},
    "subteam_members_changed": {"usergroups:read"},
    "user_change": {"users:read"},
    **{f"channel_{kind}": {"channels:read"} for kind in ("left", "archive", "deleted", "unarchive")},
    **{f"group_{kind}": {"groups:read"} for kind in ("left", "archive", "deleted", "unarchive")},
}
WEB_API_METHODS = frozenset(n for n in dir(WebClient) if not n.startswith("_")) - set(dir(BaseClient))


def web_api_methods_referenced() -> dict[str, list[str]]:
    """Every WebClient method production code names, called or not (`_pages(client.users_list)` passes it)."""
    found: dict[str, list[str]] = {}
    for package in ("approvals", "slackbot", "timeoff_site"):
        for path in sorted((BASE / package).rglob("*.py")):
            if {"tests", "migrations"} & set(path.parts):
                continue
            for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
                if isinstance(node, ast.Attribute) and node.attr in WEB_API_METHODS:
                    found.setdefault(node.attr, []).append(f"{path.relative_to(BASE)}:{node.lineno}")
                if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                        and node.func.attr == "api_call" and node.args and isinstance(node.args[0], ast.Constant)):
                    name = str(node.args[0].value).replace(".", "_")
                    found.setdefault(name, []).append(f"{path.relative_to(BASE)}:{node.lineno}")
    return found


def test_methods_passed_around_uncalled_are_seen_too():
    """users.list and conversations.list are handed to a pager, never called as `client.x(`."""
    referenced = web_api_methods_referenced()
    assert "users_list" in referenced and "conversations_list" in referenced


def test_every_method_the_code_names_has_its_scopes_in_the_manifest():
    referenced = web_api_methods_referenced()
    unknown = set(referenced) - set(METHOD_SCOPES)
    assert not unknown, f"methods whose scopes this test does not know: {unknown}"
    needed = set().union(*(METHOD_SCOPES[m] for m in referenced)) | {"commands"}
    asked = set(manifest()["oauth_config"]["scopes"]["bot"])
    assert needed - asked == set(), f"missing: {needed - asked}"
    assert asked - needed == set(), f"unused: {asked - needed}"


def test_every_subscribed_event_has_its_scope_and_every_handled_event_is_subscribed():
    events = manifest()["settings"]["event_subscriptions"]["bot_events"]
    asked = set(manifest()["oauth_config"]["scopes"]["bot"])
    assert set(events) == set(routing.EVENT_ROUTES)
    for event in events:
        assert EVENT_SCOPES[event] <= asked, event


def test_readme_scope_table_is_the_manifests():
    section = README[README.index("Bot scopes, and why each is needed"):]
    section = section[:section.index("\n\n", section.index("| scope | why |"))]
    in_readme = set()
    for row in section.splitlines():
        if row.startswith("| `"):
            in_readme |= set(re.findall(r"`([a-z.:]+)`", row.split("|")[1]))
    assert in_readme == set(manifest()["oauth_config"]["scopes"]["bot"])


def test_readme_event_list_is_the_manifests():
    paragraph = README[README.index("Events (none needs a scope"):]
    paragraph = paragraph[:paragraph.index("\n\n")]
    named = set(re.findall(r"`([a-z_]+)`", paragraph))
    assert named == set(manifest()["settings"]["event_subscriptions"]["bot_events"])


@pytest.mark.parametrize("url", ["https://timeoff.acme.com", "https://timeoff.acme.com/"])
def test_printed_manifest_points_every_url_at_the_deployment(url):
    text = printed_manifest("--url", url)
    assert "timeoff.example.com" not in text
    printed = yaml.safe_load(text)
    urls = {
        "slack-commands": printed["features"]["slash_commands"][0]["url"],
        "slack-interactions": printed["settings"]["interactivity"]["request_url"],
        "slack-events": printed["settings"]["event_subscriptions"]["request_url"],
    }
    for name, value in urls.items():
        assert value.startswith("https://timeoff.acme.com/slack/"), value
        assert "//slack" not in value
        assert resolve(urlparse(value).path).url_name == name
    assert printed["features"]["slash_commands"][0]["should_escape"] is True
    assert printed["settings"]["interactivity"]["is_enabled"] is True
    # The rest is the file's, untouched.
    file = manifest()
    assert printed["oauth_config"] == file["oauth_config"]
    assert printed["settings"]["event_subscriptions"]["bot_events"] == file["settings"]["event_subscriptions"][
        "bot_events"]


def test_step_one_manifest_has_commands_and_interactivity_but_no_events():
    """README step 1: `--without-events`, the app is created without an events URL to verify."""
    printed = yaml.safe_load(printed_manifest("--url", "https://timeoff.acme.com", "--without-events"))
    assert "event_subscriptions" not in printed["settings"]
    assert printed["features"]["slash_commands"][0]["url"] == "https://timeoff.acme.com/slack/commands"
    assert printed["features"]["slash_commands"][0]["should_escape"] is True
    assert printed["settings"]["interactivity"]["request_url"] == "https://timeoff.acme.com/slack/interactions"
    assert printed["oauth_config"] == manifest()["oauth_config"]
    assert printed["features"]["shortcuts"] == manifest()["features"]["shortcuts"]
    # Slack's manifest schema caps: usage hint 1000, command description 2000; display name 80.
    assert len(printed["features"]["slash_commands"][0]["usage_hint"]) <= 1000
    assert len(printed["display_information"]["description"]) <= 140


def test_usage_hint_names_only_words_the_command_answers():
    hint = manifest()["features"]["slash_commands"][0]["usage_hint"]
    words = {w.strip("[] ") for w in hint.split("|")}
    words = {w for w in words if w and not re.match(r"\d{4}-", w)}
    assert words <= set(routing.COMMAND_ROUTES), words - set(routing.COMMAND_ROUTES)


def test_readme_install_steps_name_a_command_that_exists():
    assert "slack_manifest --url" in README and "--without-events" in README
    text = printed_manifest("--url", "https://timeoff.acme.com", "--without-events")
    assert text.startswith("#") or "display_information" in text


# --------------------------------------------------------------------------------------------------
# (3) `/timeoff help` against what the commands do


def answer(client, text, user=ALICE) -> str:
    response = post_command(client, text, user_id=user)
    assert response.status_code == 200
    if not response.content:
        return ""  # a modal opened
    body = response.json()
    assert body.get("response_type", "ephemeral") == "ephemeral"
    return body.get("text", "")


def help_text(client) -> str:
    return answer(client, "help")


def test_every_subcommand_help_names_is_one_the_command_answers(client, fake_slack):
    install_config()
    text = help_text(client)
    named = set(re.findall(r"`/timeoff ([a-z]+)", text))
    assert named, text
    for word in named:
        assert word in routing.COMMAND_ROUTES, f"help names `/timeoff {word}` but nothing routes it"
    # and every routed word is in help
    assert set(routing.COMMAND_ROUTES) <= named | {"help"}


@pytest.mark.parametrize("text", ["list", "LIST", "  list ", "List"])
def test_list_whatever_the_case_and_spacing(client, fake_slack, text):
    install_config()
    reply = answer(client, text)
    assert "I didn't understand" not in reply
    assert reply  # an answer, not the request form


def test_balance_for_another_year_as_help_says(client, fake_slack):
    install_config()
    reply = answer(client, "balance 2031")
    assert "I didn't understand" not in reply and "Use `/timeoff balance`" not in reply
    assert reply


def test_balance_example_year_in_help_is_accepted(client, fake_slack):
    install_config()
    example = re.search(r"`/timeoff balance (\d{4})`", help_text(client)).group(1)
    reply = answer(client, f"balance {example}")
    assert "Use `/timeoff balance`" not in reply


def test_who_for_another_team_by_name(client, fake_slack):
    install_config()
    reply = answer(client, "who Engineering")
    assert "no team" not in reply.lower() or "Engineering" in reply
    assert "I didn't understand" not in reply
    assert reply


def test_who_for_a_team_that_does_not_exist_says_so(client, fake_slack):
    install_config()
    reply = answer(client, "who Design")
    assert reply and "Design" in reply


def test_holidays_is_not_a_command_and_says_what_is(client, fake_slack):
    install_config()
    reply = answer(client, "holidays")
    assert "I didn't understand `holidays`" in reply
    assert "/timeoff help" in reply or "/timeoff list" in reply  # points somewhere useful
    assert fake_slack.calls("views.open") == []


def test_cancel_answers_as_help_says(client, fake_slack):
    install_config()
    reply = answer(client, "cancel")
    assert "I didn't understand" not in reply


def test_help_example_prefill_opens_the_form(client, fake_slack):
    install_config()
    example = re.search(r"`/timeoff (\d{4}-\d\d-\d\d \d{4}-\d\d-\d\d [a-z]+)`", help_text(client)).group(1)
    # The help's example may name a leave type the company has not configured; use ours.
    dates = " ".join(example.split()[:2])
    reply = answer(client, f"{dates} vacation")
    assert reply == "" or "I didn't understand" not in reply


def test_for_is_refused_to_an_employee_and_says_why(client, fake_slack):
    install_config()
    reply = answer(client, f"for <@{BOB}|bob> list")
    assert reply and "I didn't understand" not in reply

