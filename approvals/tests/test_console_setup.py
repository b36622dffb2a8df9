"""The console's Setup page: the Slack connection, scopes, channels, the manifest, delivery problems, the ledger.

Hannah (HR) is a staff user. Slack is the fake; tasks run at once (TASKS_BACKEND=immediate),
so the background check has run by the time the page renders.
"""

import re
import time
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from approvals import setup_checks
from approvals.config_types import ApproverSource, MemberSource, TeamConfig
from approvals.models import DeliveryProblem, JobRun, LedgerSnapshot
from approvals.rules import LedgerEntry
from approvals.slack_clients import background_client
from approvals.slack_manifest import BadBaseUrl, manifest_bot_scopes, manifest_for_url
from fake_slack.ledger_seed import seed_ledger
from fake_slack.personas import (
    ALICE,
    BOB,
    C_ARCHIVED,
    C_ENG,
    C_ENG_APPROVALS,
    C_ENG_LEADS,
    C_GENERAL,
    C_NOBOT,
    HR,
)
from test_support.flows import install_config, standard_config
from test_support.setup_page import setup_page

pytestmark = pytest.mark.django_db


def granting(monkeypatch, fake_slack, scopes):
    """Make the fake answer with the x-oauth-scopes header real Slack sends on every Web API answer."""
    original = fake_slack.handle

    def handle(method, params, headers):
        status, extra, body = original(method, params, headers)
        return status, {**extra, "X-OAuth-Scopes": ",".join(scopes)}, body

    monkeypatch.setattr(fake_slack, "handle", handle)  # the server lives for the session: undone after the test


def entry(entry_id: str, start: date, *, user=ALICE, status="approved", leave_type="vacation") -> LedgerEntry:
    return LedgerEntry(id=entry_id, user=user, team="Engineering", leave_type=leave_type, start=start, end=start,
                       start_half=None, end_half=None, days=Decimal(1), status=status)


def test_it_shows_the_workspace_and_bot_user(hr_client, fake_slack):
    install_config()
    response = hr_client.get(reverse("console:setup"))
    assert response.status_code == 200
    assert "Connected to <strong>Fake Workspace</strong>" in response.text
    assert "@" + "timeoff" in response.text or "bot user" in response.text
    assert fake_slack.calls("auth.test")


def test_it_shows_slacks_exact_error_when_the_token_is_refused(hr_client, fake_slack):
    fake_slack.workspace.revoke_token(error="invalid_auth")
    response = hr_client.get(reverse("console:setup"))
    assert "Slack refused the connection: <code>invalid_auth</code>" in response.text
    assert "SLACK_BOT_TOKEN" in response.text
    assert fake_slack.workspace.bot_token not in response.text  # tokens never appear on pages


@pytest.mark.parametrize("error, advice", [
    ("token_expired", "reinstall it to the workspace"),
    ("not_allowed_token_type", "is not a bot token"),
    ("ekm_access_denied", "Checking again will not change this answer"),
])
def test_a_refusal_for_good_is_not_called_a_passing_fault(hr_client, fake_slack, error, advice):
    fake_slack.workspace.revoke_token(error=error)
    response = hr_client.get(reverse("console:setup"))
    assert f"Slack refused the connection: <code>{error}</code>" in response.text
    assert advice in response.text
    assert "may be down for a moment" not in response.text  # checking again would change nothing


def test_it_compares_granted_scopes_with_the_manifest(hr_client, fake_slack, monkeypatch):
    needed = manifest_bot_scopes()
    granting(monkeypatch, fake_slack, [scope for scope in needed if scope != "usergroups:read"] + ["files:write"])
    response = hr_client.get(reverse("console:setup"))
    assert "Missing scopes: <strong>usergroups:read</strong>" in response.text
    assert "Also granted, not needed: files:write" in response.text


def test_every_scope_granted_says_so(hr_client, fake_slack, monkeypatch):
    granting(monkeypatch, fake_slack, manifest_bot_scopes())
    response = hr_client.get(reverse("console:setup"))
    assert "Every scope the app needs is granted." in response.text


def test_without_the_scopes_header_it_says_slack_did_not_say(hr_client, fake_slack):
    fake_slack.workspace.granted_scopes = None  # the fake then answers as Slack would without the header
    response = hr_client.get(reverse("console:setup"))
    assert "Slack did not say which scopes it granted" in response.text


def test_each_configured_channel_is_checked(hr_client, fake_slack):
    team = TeamConfig(name="Support", members=MemberSource(channel=C_GENERAL),
                      approvers=ApproverSource(channel=C_ENG), approvals_channel=C_NOBOT,
                      announce_channel=C_ARCHIVED, past_approvals_channels=("C_GONE",))
    install_config(standard_config(teams=(standard_config().teams[0], team)))
    response = hr_client.get(reverse("console:setup"))
    table = response.text[response.text.index('id="channels"'):]
    rows = dict(re.findall(r"<tr class=\"[^\"]*\">\s*<td>([^<]+|<code>[^<]+</code>)</td>(.*?)</tr>", table, re.DOTALL))
    assert "OK" in rows["#eng-approvals"]  # private, the bot is in it
    assert "private" in rows["#eng-approvals"]
    assert "The bot is not in it" in rows["#no-bot"]
    assert "It is archived" in rows["#old-team"]
    assert "Slack cannot find it" in rows["<code>C_GONE</code>"]
    assert "It is public: anyone who joins it could approve." in rows["#engineering"]
    assert "Support: approvers channel" in rows["#engineering"]
    assert "Engineering: announce channel" in rows["#engineering"]


def test_a_channel_of_people_larger_than_the_app_reads_is_a_problem(hr_client, fake_slack, monkeypatch):
    # Past the last page read, people count as in no team (or may not request): say so, not nothing.
    monkeypatch.setattr(setup_checks, "MEMBERS_READ_MAX", 3)
    team = TeamConfig(name="Everyone", members=MemberSource(channel=C_GENERAL),
                      approvers=ApproverSource(users=(BOB,)), approvals_channel=C_ENG_APPROVALS)
    install_config(standard_config(teams=(standard_config().teams[0], team)))
    response = hr_client.get(reverse("console:setup"))
    table = response.text[response.text.index('id="channels"'):]
    rows = dict(re.findall(r"<tr class=\"[^\"]*\">\s*<td>([^<]+|<code>[^<]+</code>)</td>(.*?)</tr>", table, re.DOTALL))
    general = len(fake_slack.workspace.channels[C_GENERAL].members)
    assert f"It has {general} members, and the app reads only the first 3" in rows["#general"]
    assert "reads only" not in rows["#eng-approvals"]  # its members are nobody's team
    assert fake_slack.last_call("conversations.info").params.get("include_num_members") in ("true", "1", True)


def test_the_page_never_waits_on_slack(hr_client, fake_slack, settings):
    """With a real queue, the page shows what is cached and asks the worker for a new check."""
    install_config()
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.dummy.DummyBackend"}}
    fake_slack.delay("auth.test", 5)
    started = time.monotonic()
    response = hr_client.get(reverse("console:setup"))
    assert time.monotonic() - started < 2
    assert "Checking Slack…" in response.text
    assert fake_slack.calls("auth.test") == []


def test_an_old_report_is_shown_while_a_new_one_is_asked_for(hr_client, fake_slack, settings):
    install_config()
    report = setup_checks.setup_check(background_client(), standard_config())
    setup_checks.setup_report_store(setup_checks.SetupReport(
        checked_at=time.time() - setup_checks.FRESH_SECONDS - 5, connection=report.connection,
        channels=report.channels))
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.dummy.DummyBackend"}}
    response = hr_client.get(reverse("console:setup"))
    assert "Connected to <strong>Fake Workspace</strong>" in response.text
    assert "checking again" in response.text


def test_a_passing_fault_is_not_kept_for_long(fake_slack, settings):
    fake_slack.server_error("auth.test", status=503, times=None)
    report = setup_checks.setup_check(background_client(), standard_config())
    assert report.passing_fault  # 503 after the client's retries: Slack's fatal_error
    setup_checks.setup_report_store(report)
    assert setup_checks.setup_report_cached() is not None  # kept a minute, so the next visit asks again


def test_a_connection_check_that_could_not_reach_slack_says_so_in_plain_words(hr_client, fake_slack, no_backoff):
    fake_slack.drop_connection("auth.test", times=None)  # reset on the way, through the client's retries

    response = hr_client.get(reverse("console:setup"))

    assert "Slack could not be asked just now: <code>connection failed</code>" in response.text
    assert "check again shortly" in response.text
    assert "Slack refused the connection" not in response.text  # Slack refused nothing: it was not reached
    assert "Error" not in response.text  # URLError, ConnectionResetError: nothing HR can act on
    assert setup_checks.setup_report_cached().passing_fault  # kept a minute: the next visit asks again


def test_each_check_says_whether_its_fault_may_pass(fake_slack, no_backoff):
    install_config(standard_config())
    fake_slack.drop_connection("conversations.info", times=None)
    report = setup_checks.setup_check(background_client(), standard_config())
    assert report.connection.ok and report.channels
    assert {(check.error, check.passing) for check in report.channels} == {("connection failed", True)}
    assert report.channels[0].problems == ("Slack could not say just now (connection failed); check again in a minute.",)
    assert report.passing_fault

    fake_slack.clear_faults()
    fake_slack.fail("conversations.info", "channel_not_found", times=None)
    report = setup_checks.setup_check(background_client(), standard_config())
    assert {(check.error, check.passing) for check in report.channels} == {("channel_not_found", False)}
    assert not report.passing_fault  # kept for a day: checking again will not find it


def test_check_again_asks_slack_at_once(hr_client, fake_slack):
    install_config()
    hr_client.get(reverse("console:setup"))
    fake_slack.clear_calls()
    response = hr_client.post(reverse("console:setup_check"), follow=True)
    assert "Checking Slack again" in response.text
    assert fake_slack.calls("auth.test")


def test_the_manifest_is_ready_to_copy_for_the_typed_url(hr_client, fake_slack):
    response = hr_client.get(reverse("console:setup"), {"url": "https://timeoff.acme.com"})
    assert "https://timeoff.acme.com/slack/events" in response.text
    assert "https://timeoff.acme.com/slack/commands" in response.text
    assert "timeoff.example.com" not in response.text


def test_a_page_served_over_http_asks_for_the_https_address(hr_client, fake_slack):
    response = hr_client.get(reverse("console:setup"))
    assert "Slack calls only https URLs" in response.text
    assert 'id="id_manifest"' not in response.text


@pytest.mark.parametrize("url", ["https://timeoff.acme.com #\n      evil: 1\n#", "https://timeoff.acme.com\nevil: 1",
                                 "https://someone@timeoff.acme.com", "https://timeoff.acme.com#x",
                                 "https://timeoff.acme.com'", "https://time off.acme.com"])
def test_a_url_that_could_add_lines_to_the_manifest_is_refused(hr_client, url):
    # The URL is written into the YAML as it is: a crafted ?url= link must not shape the manifest HR pastes.
    with pytest.raises(BadBaseUrl):
        manifest_for_url(url)
    response = hr_client.get(reverse("console:setup"), {"url": url})
    assert response.status_code == 200 and "the URL must be an https:// base URL" in response.text
    assert "oauth_config" not in response.text  # no manifest shown
    assert re.search(r'<input[^>]*id="id_url"[^>]*aria-invalid="true"', response.text)


def test_manifest_for_url_refuses_what_slack_cannot_call():
    for bad in ("http://x.example.com", "https://x.example.com/path", "timeoff.acme.com"):
        with pytest.raises(BadBaseUrl):
            manifest_for_url(bad)
    assert "bot_events" not in manifest_for_url("https://x.example.com", without_events=True)


def test_recent_delivery_problems_say_what_was_asked(hr_client, fake_slack):
    DeliveryProblem.objects.create(request_id="r1", user=ALICE, team="Engineering", channel=C_ENG_APPROVALS,
                                   error="not_in_channel", summary="Vacation, Mon 21 Dec – Wed 23 Dec")
    response = hr_client.get(reverse("console:setup"))
    problems = response.text[response.text.index('id="delivery-problems"'):]
    assert "Alice Adams" in problems
    assert "Vacation, Mon 21 Dec – Wed 23 Dec" in problems
    assert "#eng-approvals" in problems
    assert "not_in_channel" in problems


def test_retention_warns_when_the_oldest_entry_is_younger_than_the_leave_year(hr_client, fake_slack):
    install_config()
    today = timezone.localdate()
    recent = max(today - timedelta(days=3), date(today.year, 1, 2))
    seed_ledger(fake_slack.workspace, channel=C_ENG_APPROVALS, entries=[entry("e1", recent)],
                posted_at={"e1": time.mktime(recent.timetuple())})
    response = hr_client.get(reverse("console:setup"))
    assert 'check-warning" id="retention"' in response.text
    assert "the workspace no longer keeps" in response.text


def test_retention_is_fine_when_the_ledger_reaches_back_before_the_leave_year(hr_client, fake_slack):
    install_config()
    today = timezone.localdate()
    # The fake dates messages when they are posted: post one "last year" by its timestamp.
    last_year = time.mktime(date(today.year - 1, 11, 2).timetuple())
    seed_ledger(fake_slack.workspace, channel=C_ENG_APPROVALS, entries=[entry("old", date(today.year - 1, 11, 2))],
                posted_at={"old": last_year})
    response = hr_client.get(reverse("console:setup"))
    assert 'check-ok" id="retention"' in response.text


def test_vanished_entries_not_checked_before_the_first_snapshot(hr_client, fake_slack):
    install_config()
    response = hr_client.get(reverse("console:setup"))
    assert "Not checked yet" in response.text


def test_vanished_entries_show_what_the_watch_recorded(hr_client, fake_slack):
    install_config()
    today = timezone.localdate()
    seeded = seed_ledger(fake_slack.workspace, channel=C_ENG_APPROVALS,
                         entries=[entry("kept", today), entry("gone", today + timedelta(days=1), user=BOB)],
                         noise_every=0)
    LedgerSnapshot.objects.create(taken_at=timezone.now(), entries={
        "kept": [ALICE, C_ENG_APPROVALS, seeded["kept"]], "gone": [BOB, C_ENG_APPROVALS, seeded["gone"]],
        "deleted": [BOB, C_ENG_APPROVALS, seeded["gone"]]})
    JobRun.objects.create(job="ledger_watch", period=today.isoformat(), claimed_at=timezone.now(),
                          finished_at=timezone.now())
    response = hr_client.get(reverse("console:setup"))
    assert "The ledger watch last recorded 3 records" in response.text
    assert "1 record the watch saw was deleted in Slack" in response.text
    assert "<code>deleted</code>" in response.text
    assert "Bob Brown in #eng-approvals" in response.text


def test_channel_uses_lists_every_configured_channel_once():
    config = standard_config()
    uses = setup_checks.channel_uses(config)
    assert uses[C_ENG_APPROVALS] == ["Engineering: approvals channel"]
    assert uses[C_ENG] == ["Engineering: announce channel", "Engineering: members channel"]
    assert uses[C_ENG_LEADS] == ["Engineering: approvers channel"]


def test_staff_only(client, django_user_model):
    ivan = django_user_model.objects.create_user("ivan", "ivan@example.com", "a-long-test-password")
    client.force_login(ivan)
    assert client.get(reverse("console:setup")).status_code == 403
    assert client.post(reverse("console:setup_check")).status_code == 403
    cache.clear()


def test_the_setup_page_lists_jobs_slack_refused_for_good_lately_and_not_those_whose_day_was_over(hr_client):
    install_config()
    now = timezone.now()
    JobRun.objects.create(job="out_today", team="Engineering", period="2031-03-11", claimed_at=now,
                          finished_at=now, error="not_in_channel")
    JobRun.objects.create(job="weekly_digest", team="Engineering", period="2031-W11", claimed_at=now,
                          finished_at=now, error="expired")  # the worker was behind: nothing refused
    JobRun.objects.create(job="reminders", team="Engineering", period="2031-03-01", claimed_at=now - timedelta(days=8),
                          finished_at=now - timedelta(days=8), error="restricted_action")  # over a week ago
    JobRun.objects.create(job="nudges", team="Engineering", period="2031-03-11", claimed_at=now, finished_at=None,
                          error="ratelimited")  # still being retried: not given up

    page = hr_client.get(reverse("console:setup")).text

    listed = page.split('id="jobs-refused-list"', 1)[1].split("</ul>", 1)[0]
    assert "Out today" in listed and "Engineering" in listed and "<code>not_in_channel</code>" in listed, listed
    assert "Weekly digest" not in listed and "Reminders" not in listed and "Nudges" not in listed, listed


def test_the_setup_page_has_no_refused_jobs_list_when_every_job_went_through(hr_client):
    install_config()
    now = timezone.now()
    JobRun.objects.create(job="out_today", team="Engineering", period="2031-03-11", claimed_at=now,
                          finished_at=now, error="")

    page = hr_client.get(reverse("console:setup")).text

    assert 'id="jobs-refused' not in page


def test_the_setup_page_names_a_fallback_approver_id_slack_has_no_user_for(hr_client, fake_slack):
    # A configuration file with a mistyped id: the check asks Slack (users.info: user_not_found), the page says so.
    install_config(standard_config(fallback_approvers=(HR, "U0TYPO0000")))

    setup_page(hr_client, check_again=True)
    page = setup_page(hr_client)

    part = page.split('id="deciders-who-cannot"', 1)[1].split("</div>", 1)[0]
    assert "U0TYPO0000" in part and "no one Slack knows" in part, part
    assert HR not in part, part
