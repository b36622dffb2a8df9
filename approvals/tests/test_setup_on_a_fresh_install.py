"""A company installs the app tomorrow, following README literally: the console's Setup page against a
half-configured workspace in the fake Slack, and `.env.example` against what settings read. (The
manifest and `/timeoff help`: slackbot/tests/test_manifest_and_commands_match_the_code.py.)
"""

import re
import time
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

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
from test_support.flows import install_config, standard_config

pytestmark = pytest.mark.django_db

BASE = Path(settings.BASE_DIR)
README = (BASE / "README.md").read_text(encoding="utf-8")


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
