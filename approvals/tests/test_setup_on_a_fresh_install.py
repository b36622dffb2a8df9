"""A company installs the app tomorrow, following README "Connect a Slack workspace" literally.

(1) the manifest (file and `manage.py slack_manifest --url`) against what the code handles and calls,
and README's scope table; (2) the console's Setup page against a half-configured workspace in the fake
Slack; (3) `/timeoff help` against what the commands do; (4) `.env.example` against what settings read.
"""

import ast
import io
import re
import time
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlparse

import pytest
import yaml
from django.conf import settings
from django.core.management import call_command
from django.urls import resolve, reverse
from django.utils import timezone
from slack_sdk import WebClient
from slack_sdk.web.base_client import BaseClient

from approvals.config_types import ApproverSource, MemberSource, TeamConfig
from approvals.rules import LedgerEntry
from fake_slack.ledger_seed import seed_ledger
from fake_slack.personas import (
    ALICE,
    BOB,
    C_ARCHIVED,
    C_ENG,
    C_ENG_APPROVALS,
    C_GENERAL,
    C_NOBOT,
    CAROL,
    DAVE,
)
from slackbot import routing
from test_support.flows import install_config, standard_config
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
    "conversations_history": {"channels:history", "groups:history", "metadata.message:read"},
    "conversations_replies": {"channels:history", "groups:history", "metadata.message:read"},
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
# (2) The Setup page against a half-configured workspace


C_EMPTY_LEADS = "C_EMPTY_LEADS"
C_SECRET = "C_SECRET"


def setup_page(hr_client, **params):
    response = hr_client.get(reverse("console:setup"), params)
    assert response.status_code == 200
    return response


def assert_no_leak(response, fake_slack):
    text = response.text
    assert fake_slack.workspace.bot_token not in text
    assert settings.SLACK_SIGNING_SECRET not in text
    assert "Traceback" not in text and "Exception" not in text and "Error:" not in text


def channel_rows(text: str) -> dict[str, str]:
    table = text[text.index('id="channels"'):]
    table = table[:table.index("</table>")]
    return dict(re.findall(r"<tr class=\"[^\"]*\">\s*<td>([^<]+|<code>[^<]+</code>)</td>(.*?)</tr>", table, re.DOTALL))


def test_bot_not_in_the_approvals_channel_is_named_with_the_fix(hr_client, fake_slack):
    team = TeamConfig(name="Support", members=MemberSource(users=(CAROL,)), approvers=ApproverSource(users=(BOB,)),
                      approvals_channel=C_NOBOT)
    install_config(standard_config(teams=(standard_config().teams[0], team)))
    response = setup_page(hr_client)
    row = channel_rows(response.text)["#no-bot"]
    assert "Support: approvals channel" in row
    assert "/invite @Time off" in row
    assert_no_leak(response, fake_slack)


def test_archived_approvals_channel_is_named(hr_client, fake_slack):
    team = TeamConfig(name="Support", members=MemberSource(users=(CAROL,)), approvers=ApproverSource(users=(BOB,)),
                      approvals_channel=C_ARCHIVED)
    install_config(standard_config(teams=(standard_config().teams[0], team)))
    response = setup_page(hr_client)
    row = channel_rows(response.text)["#old-team"]
    assert "Support: approvals channel" in row and "archived" in row
    assert "nothing can be posted there" in row
    assert_no_leak(response, fake_slack)


def test_private_channel_the_bot_cannot_see_is_named_with_the_fix(hr_client, fake_slack):
    fake_slack.workspace.add_channel(C_SECRET, "secret-approvals", members=[BOB], private=True, bot_member=False)
    team = TeamConfig(name="Support", members=MemberSource(users=(CAROL,)), approvers=ApproverSource(users=(BOB,)),
                      approvals_channel=C_SECRET)
    install_config(standard_config(teams=(standard_config().teams[0], team)))
    response = setup_page(hr_client)
    row = channel_rows(response.text)[f"<code>{C_SECRET}</code>"]
    assert "Slack cannot find it" in row and "/invite @Time off" in row
    assert_no_leak(response, fake_slack)


def test_an_approvers_channel_with_nobody_in_it_is_named(hr_client, fake_slack):
    """A private approvers channel the bot was invited to, and nobody else: the team's only approver
    source gives nobody, so every request goes to the fallback (or to no one). Setup must say so."""
    fake_slack.workspace.add_channel(C_EMPTY_LEADS, "support-leads", members=[], private=True)
    team = TeamConfig(name="Support", members=MemberSource(users=(CAROL,)),
                      approvers=ApproverSource(channel=C_EMPTY_LEADS), approvals_channel=C_ENG_APPROVALS)
    install_config(standard_config(teams=(standard_config().teams[0], team)))
    response = setup_page(hr_client)
    row = channel_rows(response.text)["#support-leads"]
    assert "Support: approvers channel" in row
    assert "OK" not in row, f"an approvers channel with nobody in it is shown as fine: {row}"
    assert_no_leak(response, fake_slack)


def test_a_team_nobody_can_approve_for_is_named(hr_client, fake_slack):
    """No fallback approvers, and the team's approvers are only an empty channel: requests from this
    team would reach no one. The page should name the team and say to add approvers."""
    fake_slack.workspace.add_channel(C_EMPTY_LEADS, "support-leads", members=[], private=True)
    team = TeamConfig(name="Support", members=MemberSource(users=(CAROL,)),
                      approvers=ApproverSource(channel=C_EMPTY_LEADS), approvals_channel=C_ENG_APPROVALS)
    install_config(standard_config(teams=(standard_config().teams[0], team), fallback_approvers=()))
    response = setup_page(hr_client)
    text = re.sub(r"\s+", " ", response.text)
    assert "Nobody can approve the requests of <strong>Support</strong>" in text
    assert "Engineering</strong>" not in text  # Bob approves for Engineering by name
    assert_no_leak(response, fake_slack)


def test_a_team_with_no_approver_source_cannot_be_saved():
    from approvals.config_store import ConfigError

    team = TeamConfig(name="Support", members=MemberSource(users=(CAROL,)), approvers=ApproverSource(),
                      approvals_channel=C_ENG_APPROVALS)
    with pytest.raises(ConfigError, match="at least one approver"):
        install_config(standard_config(teams=(standard_config().teams[0], team)))


def test_a_fresh_install_with_nothing_configured_shows_the_setup_page(hr_client, fake_slack):
    response = hr_client.get(reverse("console:setup"), secure=True)
    assert response.status_code == 200
    assert "No teams yet, so no channels to check." in response.text
    assert "Connected to <strong>Fake Workspace</strong>" in response.text
    assert "https://testserver/slack/events" in response.text  # the manifest for the address served
    assert_no_leak(response, fake_slack)


def test_a_revoked_token_says_reinstall_and_shows_no_token(hr_client, fake_slack):
    install_config()
    fake_slack.workspace.revoke_token()  # token_revoked
    response = setup_page(hr_client)
    assert "Slack refused the connection: <code>token_revoked</code>" in response.text
    assert "reinstall it to the workspace" in response.text and "SLACK_BOT_TOKEN" in response.text
    assert_no_leak(response, fake_slack)


def test_a_missing_scope_on_a_channel_check_names_the_scope_and_the_fix(hr_client, fake_slack):
    """Slack answers `missing_scope` with `needed` and `provided`: an app created from an old manifest.
    The channel table should say which scope is missing and to reinstall, not only an error code."""
    install_config()
    fake_slack.workspace.granted_scopes = tuple(s for s in fake_slack.workspace.granted_scopes if s != "groups:read")
    fake_slack.fail("conversations.info", "missing_scope", times=None, needed="groups:read",
                    provided="commands,chat:write,channels:read")
    response = setup_page(hr_client)
    assert "Missing scopes: <strong>groups:read</strong>" in response.text  # the scopes section says so
    rows = channel_rows(response.text)
    row = rows["<code>C_ENG_APPROVALS</code>"]
    # The channel exists: it is the app that may not look at it. Say which scope, and to reinstall.
    assert "not found" not in row, f"a missing scope is shown as a channel not found: {row}"
    assert "groups:read" in row or "reinstall" in row, f"no scope named, no fix given: {row}"
    assert_no_leak(response, fake_slack)


def test_a_missing_history_scope_says_the_ledger_cannot_be_read_in_words_for_a_web_page(hr_client, fake_slack):
    install_config()
    fake_slack.fail("conversations.history", "missing_scope", times=None, needed="groups:history",
                    provided="commands,chat:write")
    response = setup_page(hr_client)
    setup_page(hr_client)  # the ledger's read ran in the (immediate) task: the next visit shows its error
    response = setup_page(hr_client)
    text = response.text
    assert "The ledger cannot be read" in text
    assert "missing_scope" in text
    # A web page, not Slack: a channel reference in Slack's mrkdwn (`<#C…>`) means nothing here.
    ledger = text[text.index("The ledger cannot be read"):]
    ledger = ledger[:ledger.index("</p>")]
    assert "&lt;#" not in ledger and "<#" not in ledger, f"Slack markup on the web page: {ledger}"
    assert_no_leak(response, fake_slack)


def entry(entry_id: str, start: date, *, user=ALICE) -> LedgerEntry:
    return LedgerEntry(id=entry_id, user=user, team="Engineering", leave_type="vacation", start=start, end=start,
                       start_half=None, end_half=None, days=Decimal(1), status="approved")


def test_retention_shorter_than_the_leave_year_is_named_with_what_to_do(hr_client, fake_slack):
    install_config()
    today = timezone.localdate()
    recent = max(today - timedelta(days=5), date(today.year, 1, 3))
    seed_ledger(fake_slack.workspace, channel=C_ENG_APPROVALS, entries=[entry("e1", recent)],
                posted_at={"e1": time.mktime(recent.timetuple())})
    response = setup_page(hr_client)
    retention = response.text[response.text.index('id="retention"'):]
    retention = retention[:retention.index("</p>")]
    assert "check-warning" in response.text[response.text.index('id="retention"') - 40:]
    assert "15 months" in retention
    assert str(today.year) in retention  # the leave year's start is named
    assert_no_leak(response, fake_slack)


def test_every_half_configured_problem_at_once_never_breaks_the_page(hr_client, fake_slack, no_backoff):
    fake_slack.workspace.add_channel(C_SECRET, "secret-approvals", members=[BOB], private=True, bot_member=False)
    fake_slack.workspace.add_channel(C_EMPTY_LEADS, "support-leads", members=[], private=True)
    teams = (
        standard_config().teams[0],
        TeamConfig(name="Support", members=MemberSource(users=(CAROL,)), approvers=ApproverSource(channel=C_EMPTY_LEADS),
                   approvals_channel=C_NOBOT, announce_channel=C_ARCHIVED),
        TeamConfig(name="Sales", members=MemberSource(channel=C_GENERAL), approvers=ApproverSource(users=(DAVE,)),
                   approvals_channel=C_SECRET, announce_channel=C_ENG),
    )
    install_config(standard_config(teams=teams, fallback_approvers=()))
    fake_slack.fail("conversations.members", "missing_scope", times=None, needed="groups:read", provided="chat:write")
    response = setup_page(hr_client)
    rows = channel_rows(response.text)
    assert "The bot is not in it" in rows["#no-bot"]
    assert "archived" in rows["#old-team"]
    assert "Slack cannot find it" in rows[f"<code>{C_SECRET}</code>"]
    assert_no_leak(response, fake_slack)
    fake_slack.workspace.revoke_token()
    hr_client.post(reverse("console:setup_check"))
    response = setup_page(hr_client)
    assert "token_revoked" in response.text
    assert_no_leak(response, fake_slack)


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


# --------------------------------------------------------------------------------------------------
# (4) `.env.example` against what settings read


ENV_READ = re.compile(r"""(?:env(?:\.[a-z_]+)?\(\s*|os\.environ(?:\.get)?[\[(]\s*|getenv\(\s*)["']([A-Z][A-Z0-9_]+)["']""")


def variables_read() -> set[str]:
    names = set()
    for path in [BASE / "timeoff_site" / "settings.py", BASE / "gunicorn.conf.py"]:
        names |= set(ENV_READ.findall(path.read_text()))
    return names - {"DJANGO_SETTINGS_MODULE"}


def variables_in_env_example() -> set[str]:
    text = (BASE / ".env.example").read_text()
    named = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", text, re.MULTILINE))
    mentioned = set(re.findall(r"\b([A-Z][A-Z0-9_]{2,})\b", text))
    return named | mentioned


def test_env_example_lists_every_variable_settings_read():
    missing = variables_read() - variables_in_env_example()
    assert not missing, f".env.example does not mention {sorted(missing)}"


def test_env_example_sets_nothing_settings_do_not_read():
    text = (BASE / ".env.example").read_text()
    assigned = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", text, re.MULTILINE))
    assert assigned - variables_read() == set()


def test_every_variable_settings_read_is_documented_in_readme():
    missing = {name for name in variables_read() if name not in README}
    assert not missing, f"README never mentions {sorted(missing)}"


def test_a_team_whose_approvers_channel_is_empty_is_not_alarming_when_hr_falls_back(hr_client, fake_slack):
    fake_slack.workspace.add_channel(C_EMPTY_LEADS, "support-leads", members=[], private=True)
    team = TeamConfig(name="Support", members=MemberSource(users=(CAROL,)),
                      approvers=ApproverSource(channel=C_EMPTY_LEADS), approvals_channel=C_ENG_APPROVALS)
    install_config(standard_config(teams=(standard_config().teams[0], team)))  # HR is the fallback

    text = re.sub(r"\s+", " ", setup_page(hr_client).text)

    assert "Nobody can approve the requests of" not in text
    assert "Nobody is in it but the bot" in text  # the channel itself is still named
