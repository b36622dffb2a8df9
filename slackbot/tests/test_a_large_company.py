"""A large company: 36 teams and about 1,400 people in one Slack workspace.

Support is "everyone in #support" (260 people: more than one page of conversations.members), Platform is
the @platform user group, and 34 more teams are a channel of 30 people each. HR (U_HR) is the fallback
approver. With many people out at once and many requests waiting, what people see must stay inside
Slack's limits (50 blocks a message, 100 a view, 3,000 characters a section) and stay correct: nobody
left out without an "and N more". Team membership must follow Slack's pagination cursors and the
teams' order. Everything goes through signed Slack-shaped requests, the daily jobs (`run_jobs`) and
the console's pages; what people see is read off the fake Slack's wire.
"""

import base64
import json
import re
import uuid
from dataclasses import replace
from datetime import date, datetime, time, timedelta, timezone as dt_timezone
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from approvals.config_types import ApproverSource, MemberSource, TeamConfig, WorkspaceConfig
from approvals.rules import LedgerEntry
from fake_slack.personas import HR
from test_support.flows import (
    MEDICAL,
    MONDAY,
    SICK,
    VACATION,
    WEDNESDAY,
    install_config,
    open_app_home,
    posted_requests,
    request_time_off,
)
from test_support.job_runs import post_entry, posts_in, run_jobs
from test_support.slack_requests import post_command
from test_support.request_form import open_form

pytestmark = pytest.mark.django_db

SUPPORT_SIZE = 260  # conversations.members pages hold 200 here: Support's last 60 are on page 2
PLATFORM_SIZE = 40
OTHER_TEAMS = 34
OTHER_TEAM_SIZE = 30

C_SUPPORT, C_SUPPORT_APPROVALS = "C_SUPPORT", "C_SUPPORT_APPROVALS"
C_PLATFORM, C_PLATFORM_APPROVALS = "C_PLATFORM", "C_PLATFORM_APPROVALS"
S_PLATFORM = "S_PLATFORM"
SUPPORT_LEAD, PLATFORM_LEAD = "U_SUP_LEAD", "U_PLT_LEAD"

SUPPORT = [f"U_SUP{n:03d}" for n in range(1, SUPPORT_SIZE + 1)]
PLATFORM = [f"U_PLT{n:03d}" for n in range(1, PLATFORM_SIZE + 1)]
# On page 2 of #support's members and in @platform too: Support is first in the teams' order.
IN_BOTH = SUPPORT[-1]
LAST_PAGE_OF_SUPPORT = SUPPORT[-5]  # only in #support, on its second page of members

MENTION = re.compile(r"<@(U[A-Z0-9_]+)>")
MORE = re.compile(r"and (\d+) more")


def other_team(number: int) -> tuple[str, str, str, list[str]]:
    """(name, members channel, approvals channel, members) of the numbered ordinary team."""
    code = f"T{number:02d}"
    return (f"Team {number:02d}", f"C_{code}", f"C_{code}_APPROVALS",
            [f"U_{code}_{n:03d}" for n in range(1, OTHER_TEAM_SIZE + 1)])


def team_config(name, members: MemberSource, lead, approvals, announce) -> TeamConfig:
    return TeamConfig(name=name, members=members, approvers=ApproverSource(users=(lead,)),
                      approvals_channel=approvals, announce_channel=announce, timezone="UTC",
                      digest_time=time(9, 0))


SUPPORT_TEAM = team_config("Support", MemberSource(channel=C_SUPPORT), SUPPORT_LEAD, C_SUPPORT_APPROVALS,
                           C_SUPPORT)
PLATFORM_TEAM = team_config("Platform", MemberSource(usergroup=S_PLATFORM), PLATFORM_LEAD,
                            C_PLATFORM_APPROVALS, C_PLATFORM)


def company_config(*, platform_first: bool = False) -> WorkspaceConfig:
    others = []
    for number in range(3, 3 + OTHER_TEAMS):
        name, channel, approvals, _ = other_team(number)
        others.append(team_config(name, MemberSource(channel=channel), f"U_T{number:02d}_LEAD", approvals, channel))
    first = (PLATFORM_TEAM, SUPPORT_TEAM) if platform_first else (SUPPORT_TEAM, PLATFORM_TEAM)
    return WorkspaceConfig(fallback_approvers=(HR,), teams=(*first, *others), leave_types=(VACATION, SICK, MEDICAL))


def seed_company(workspace) -> int:
    """The company's people, channels and user group in the fake Slack; returns how many people."""
    people = 0

    def person(user_id):
        nonlocal people
        workspace.add_user(user_id, user_id.lower().removeprefix("u_"), real_name=f"Person {user_id[2:]}",
                           email=f"{user_id.lower()}@example.com")
        people += 1

    for user_id in (*SUPPORT, *PLATFORM, SUPPORT_LEAD, PLATFORM_LEAD):
        person(user_id)
    workspace.add_channel(C_SUPPORT, "support", members=SUPPORT)
    workspace.add_channel(C_SUPPORT_APPROVALS, "support-approvals", members=[SUPPORT_LEAD, HR], private=True)
    workspace.add_channel(C_PLATFORM, "platform", members=PLATFORM)
    workspace.add_channel(C_PLATFORM_APPROVALS, "platform-approvals", members=[PLATFORM_LEAD, HR], private=True)
    workspace.add_usergroup(S_PLATFORM, "platform", [*PLATFORM, IN_BOTH])
    for number in range(3, 3 + OTHER_TEAMS):
        name, channel, approvals, members = other_team(number)
        lead = f"U_T{number:02d}_LEAD"
        for user_id in (*members, lead):
            person(user_id)
        workspace.add_channel(channel, name.lower().replace(" ", "-"), members=members)
        workspace.add_channel(approvals, f"{name.lower().replace(' ', '-')}-approvals", members=[lead, HR],
                              private=True)
    return people


@pytest.fixture(autouse=True)
def history_budget_for_a_test(monkeypatch):
    """The ledger reads' budget of conversations.history calls (30 a minute) makes a first full read of 36
    approvals channels wait out a real minute: raised here so a test does not sleep through it."""
    from approvals import ledger_reader

    monkeypatch.setattr(ledger_reader, "HISTORY_CALLS_PER_MINUTE", 1000)


@pytest.fixture
def company(fake_slack):
    people = seed_company(fake_slack.workspace)
    assert people > 1300  # the premise: a large company
    config = install_config(company_config())
    return config


def entry(user, team, start, end, *, status="approved", leave_type="vacation", days=None) -> LedgerEntry:
    if days is None:
        days = Decimal(sum(1 for n in range((end - start).days + 1) if (start + timedelta(days=n)).weekday() < 5))
    return LedgerEntry(id=str(uuid.uuid4()), user=user, team=team, leave_type=leave_type, start=start, end=end,
                       start_half=None, end_half=None, days=days, status=status,
                       decided_by=None if status == "pending" else HR,
                       decided_at=None if status == "pending" else 1766000000)


def seed_out(fake_slack, users, team, start, end, channel, **kwargs) -> None:
    for user in users:
        post_entry(fake_slack, entry(user, team, start, end, **kwargs), channel=channel)


def cursors_asked(fake_slack, method, **params) -> list[str]:
    """The decoded cursors `method` was called with (only calls whose params match `params`)."""
    found = []
    for call in fake_slack.calls(method):
        if all(call.params.get(key) == value for key, value in params.items()) and call.params.get("cursor"):
            found.append(base64.b64decode(call.params["cursor"]).decode())
    return found


def text_of(blocks) -> str:
    return json.dumps(blocks)


def assert_message_within_slack_limits(blocks, *, max_blocks=50):
    assert len(blocks) <= max_blocks, len(blocks)
    for block in blocks:
        if block.get("type") == "section":
            assert len(block["text"]["text"]) <= 3000
        if block.get("type") == "context":
            assert all(len(element.get("text", "")) <= 3000 for element in block["elements"])


def named_and_counted(blocks) -> tuple[set[str], int]:
    """The people the blocks name, and how many more they say there are ("and N more")."""
    text = text_of(blocks)
    return set(MENTION.findall(text)), sum(int(n) for n in MORE.findall(text))


def weekday_at(day: date, hour: int) -> datetime:
    return datetime.combine(day, time(hour, 0), tzinfo=dt_timezone.utc)


def home_blocks(client, fake_slack, user, event_id) -> list[dict]:
    view = open_app_home(client, fake_slack, user, event_id)
    assert view["type"] == "home"
    return view["blocks"]


# --- Team membership at this size ---------------------------------------------------------------


def test_someone_on_the_second_page_of_a_channels_members_lands_in_their_team(client, fake_slack, company):
    request_time_off(client, fake_slack, LAST_PAGE_OF_SUPPORT)

    [posted] = posted_requests(fake_slack, C_SUPPORT_APPROVALS)
    assert f"<@{LAST_PAGE_OF_SUPPORT}>" in posted.params["text"]
    assert f"<@{SUPPORT_LEAD}>" in posted.params["text"]
    # Slack's cursor was followed: the fake was asked for the page after the first 200 members.
    assert cursors_asked(fake_slack, "conversations.members", channel=C_SUPPORT), [
        c.params for c in fake_slack.calls("conversations.members")]
    assert not [t for t in fake_slack.calls("chat.postMessage") if t.params.get("channel") == LAST_PAGE_OF_SUPPORT
                and "no team" in t.params.get("text", "").lower()]


def test_a_member_of_the_user_group_lands_in_the_user_group_team(client, fake_slack, company):
    request_time_off(client, fake_slack, PLATFORM[7])

    [posted] = posted_requests(fake_slack, C_PLATFORM_APPROVALS)
    assert f"<@{PLATFORM[7]}>" in posted.params["text"] and f"<@{PLATFORM_LEAD}>" in posted.params["text"]
    assert not posted_requests(fake_slack, C_SUPPORT_APPROVALS)


def test_someone_in_two_teams_belongs_to_the_first_in_the_teams_order(client, fake_slack, company):
    request_time_off(client, fake_slack, IN_BOTH)
    assert len(posted_requests(fake_slack, C_SUPPORT_APPROVALS)) == 1
    assert not posted_requests(fake_slack, C_PLATFORM_APPROVALS)


def test_someone_in_two_teams_follows_the_order_when_hr_puts_the_other_team_first(client, fake_slack, company):
    install_config(company_config(platform_first=True))
    request_time_off(client, fake_slack, IN_BOTH)
    assert len(posted_requests(fake_slack, C_PLATFORM_APPROVALS)) == 1
    assert not posted_requests(fake_slack, C_SUPPORT_APPROVALS)


def test_hr_moving_the_user_group_team_above_the_channel_team_in_the_console_moves_the_person_in_both(
        client, fake_slack, company, django_user_model):
    from approvals.models import Team

    hannah = django_user_model.objects.create_user("hannah", "hannah@example.com", "a-long-test-password",
                                                   is_staff=True, is_superuser=True)
    client.force_login(hannah)
    home = client.get(reverse("console:home"))
    assert home.status_code == 200 and "Team 36" in home.text
    platform = Team.objects.get(name="Platform")

    response = client.post(reverse("console:team_reorder", args=[platform.pk]), {"direction": "up"})

    assert response.status_code == 302
    request_time_off(client, fake_slack, IN_BOTH)
    assert len(posted_requests(fake_slack, C_PLATFORM_APPROVALS)) == 1
    assert not posted_requests(fake_slack, C_SUPPORT_APPROVALS)


def test_someone_in_the_36th_team_lands_there(client, fake_slack, company):
    name, _, approvals, members = other_team(2 + OTHER_TEAMS)
    request_time_off(client, fake_slack, members[-1])
    [posted] = posted_requests(fake_slack, approvals)
    assert f"Team: {name}" in text_of(posted.params["blocks"])
    assert f"<@{members[-1]}>" in posted.params["text"]


# --- The approvals message with many others out -------------------------------------------------


def test_the_approvals_message_with_sixty_others_out_names_some_and_counts_the_rest(client, fake_slack, company):
    others = SUPPORT[10:70]
    seed_out(fake_slack, others, "Support", MONDAY, WEDNESDAY, C_SUPPORT_APPROVALS)

    request_time_off(client, fake_slack, SUPPORT[0])

    [posted] = posted_requests(fake_slack, C_SUPPORT_APPROVALS)
    blocks = posted.params["blocks"]
    assert_message_within_slack_limits(blocks)
    also_out = next(b for b in blocks if b["type"] == "context" and "Also out" in text_of(b))
    named, more = named_and_counted([also_out])
    assert named <= set(others) and named
    assert len(named) + more == len(others), (len(named), more)


def test_the_request_forms_preview_with_sixty_others_out_counts_them_all(client, fake_slack, company):
    others = SUPPORT[10:70]
    seed_out(fake_slack, others, "Support", MONDAY, WEDNESDAY, C_SUPPORT_APPROVALS)

    form = open_form(client, fake_slack, SUPPORT[0])
    form.pick_type("vacation")
    form.pick_start(MONDAY)
    form.pick_end(WEDNESDAY)

    preview = form.preview()
    assert len(preview) <= 3000
    named, more = set(MENTION.findall(preview)), sum(int(n) for n in MORE.findall(preview))
    assert named <= set(others) and named, preview
    assert len(named) + more == len(others), preview


# --- The daily posts when 60+ of one team are out -----------------------------------------------


def test_the_out_today_post_with_seventy_out_fits_a_message_and_counts_everyone(client, fake_slack, company):
    out = SUPPORT[:70]
    seed_out(fake_slack, out, "Support", MONDAY, WEDNESDAY, C_SUPPORT_APPROVALS)

    run_jobs(weekday_at(MONDAY + timedelta(days=1), 10), "--team", "Support")  # a Tuesday: out today

    [post] = [p for p in posts_in(fake_slack, C_SUPPORT) if "Out today" in p["text"]]
    assert_message_within_slack_limits(post["blocks"])
    named, more = named_and_counted(post["blocks"])
    assert named <= set(out)
    assert len(named) + more == len(out), (len(named), more)
    text_named, text_more = set(MENTION.findall(post["text"])), sum(int(n) for n in MORE.findall(post["text"]))
    assert len(text_named) + text_more == len(out)


def test_the_weekly_digest_with_the_whole_support_team_out_fits_and_counts_everyone(client, fake_slack, company):
    out = SUPPORT  # 260 people, two entries each in the week
    seed_out(fake_slack, out, "Support", MONDAY, MONDAY + timedelta(days=1), C_SUPPORT_APPROVALS)
    seed_out(fake_slack, out, "Support", MONDAY + timedelta(days=3), MONDAY + timedelta(days=4),
             C_SUPPORT_APPROVALS, leave_type="sick")

    run_jobs(weekday_at(MONDAY, 10), "--team", "Support")  # Monday: the week's digest

    [post] = [p for p in posts_in(fake_slack, C_SUPPORT) if "Who's out" in p["text"]]
    assert_message_within_slack_limits(post["blocks"])
    assert len(text_of(post["blocks"])) < 40000
    lines = [line for b in post["blocks"] if b["type"] == "section" for line in b["text"]["text"].split("\n")
             if line.startswith("•")]
    more = sum(int(n) for n in MORE.findall(text_of(post["blocks"])))
    assert len(lines) + more == len(out), (len(lines), more)  # one line a person, both their leaves in it
    assert "Sick" not in text_of(post["blocks"])  # private type: "away"
    # Every request was read: the approvals channel's history took several pages.
    assert cursors_asked(fake_slack, "conversations.history", channel=C_SUPPORT_APPROVALS)


def test_the_out_today_post_of_one_team_leaves_the_other_35_teams_alone(client, fake_slack, company):
    seed_out(fake_slack, SUPPORT[:55], "Support", MONDAY, WEDNESDAY, C_SUPPORT_APPROVALS)

    run_jobs(weekday_at(MONDAY + timedelta(days=1), 10))

    out_today_posts = [c.params for c in fake_slack.calls("chat.postMessage")
                       if c.response.get("ok") and "Out today" in (c.params.get("text") or "")]
    assert [p["channel"] for p in out_today_posts] == [C_SUPPORT]


# --- App Home with many requests waiting ---------------------------------------------------------


def test_app_home_of_an_approver_with_120_pending_fits_a_view_and_counts_the_rest(client, fake_slack, company):
    for number, user in enumerate(PLATFORM * 3):
        start = MONDAY + timedelta(days=7 * number)
        post_entry(fake_slack, entry(user, "Platform", start, start + timedelta(days=1), status="pending"),
                   channel=C_PLATFORM_APPROVALS)

    blocks = home_blocks(client, fake_slack, PLATFORM_LEAD, "Ev_HOME_LEAD")

    assert_message_within_slack_limits(blocks, max_blocks=100)
    text = text_of(blocks)
    assert "(120)" in text, text[:2000]
    decide = [b for b in blocks if b.get("block_id", "").startswith("decide:")]
    assert decide and len(decide) + sum(int(n) for n in MORE.findall(text)) == 120


def test_app_home_of_hr_who_decides_for_a_team_with_no_other_approver_fits_a_view(client, fake_slack, company):
    # Support's lead is out of the company: HR, the fallback, decides Support's 150 waiting requests.
    config = company_config()
    install_config(replace(config, teams=(replace(SUPPORT_TEAM, approvers=ApproverSource(users=(SUPPORT[0],))),
                                          *config.teams[1:])))
    for user in SUPPORT[1:151]:
        post_entry(fake_slack, entry(user, "Support", MONDAY, WEDNESDAY, status="pending"),
                   channel=C_SUPPORT_APPROVALS)
    # SUPPORT[0]'s own request waits for HR only.
    post_entry(fake_slack, entry(SUPPORT[0], "Support", MONDAY, WEDNESDAY, status="pending"),
               channel=C_SUPPORT_APPROVALS)

    blocks = home_blocks(client, fake_slack, HR, "Ev_HOME_HR")

    assert_message_within_slack_limits(blocks, max_blocks=100)
    text = text_of(blocks)
    assert "(1)" in text and f"<@{SUPPORT[0]}>" in text  # only the request nobody else may decide
    lead_blocks = home_blocks(client, fake_slack, SUPPORT[0], "Ev_HOME_S0")
    assert_message_within_slack_limits(lead_blocks, max_blocks=100)
    assert "(150)" in text_of(lead_blocks)


def test_app_home_of_someone_whose_whole_team_is_out_this_week_fits_a_view(client, fake_slack, company):
    today = datetime.now(dt_timezone.utc).date()
    out = SUPPORT[1:251]
    seed_out(fake_slack, out, "Support", today - timedelta(days=3), today + timedelta(days=14), C_SUPPORT_APPROVALS)
    home_blocks(client, fake_slack, SUPPORT[0], "Ev_HOME_WEEK0")  # the first publish reads the ledger

    blocks = home_blocks(client, fake_slack, SUPPORT[0], "Ev_HOME_WEEK")

    assert_message_within_slack_limits(blocks, max_blocks=100)
    assert "Who's out" in text_of(blocks)
    named, more = named_and_counted(blocks)
    assert named <= set(out)
    assert len(named) + more == len(out), (len(named), more)


def test_timeoff_who_with_250_of_the_team_out_fits_a_message_and_counts_everyone(client, fake_slack, company):
    today = datetime.now(dt_timezone.utc).date()
    out = SUPPORT[1:251]
    seed_out(fake_slack, out, "Support", today - timedelta(days=3), today + timedelta(days=14), C_SUPPORT_APPROVALS)
    post_command(client, "who", user_id=SUPPORT[0])  # the first asks Slack for the ledger and the team

    response = post_command(client, "who", user_id=SUPPORT[0])

    body = response.json()
    assert "blocks" in body, body
    assert_message_within_slack_limits(body["blocks"])
    named, more = named_and_counted(body["blocks"])
    assert named <= set(out)
    assert len(named) + more == len(out), (len(named), more)


# --- /timeoff list for someone with many requests ------------------------------------------------


def test_timeoff_list_with_ninety_requests_fits_and_says_how_many_more(client, fake_slack, company):
    user = SUPPORT[3]
    for number in range(90):
        start = MONDAY + timedelta(days=7 * number)
        post_entry(fake_slack, entry(user, "Support", start, start, status="pending" if number % 2 else "approved"),
                   channel=C_SUPPORT_APPROVALS)
    request_time_off(client, fake_slack, SUPPORT[4])  # warms Support's membership, as a day at work does

    response = post_command(client, "list", user_id=user)

    assert response.status_code == 200
    body = response.json()
    assert_message_within_slack_limits(body["blocks"])
    text = text_of(body["blocks"])
    shown = len([b for b in body["blocks"] if b["type"] == "section" and "Person" not in b["text"]["text"]]) - 1
    more = sum(int(n) for n in MORE.findall(text))
    assert more > 0 and shown + more == 90, (shown, more, text[:1500])
    assert "45 pending, 45 coming up" in body["text"]


# --- The console at this size --------------------------------------------------------------------


@pytest.fixture
def console(client, django_user_model, fake_slack):
    hannah = django_user_model.objects.create_user("hannah", "hannah@example.com", "a-long-test-password",
                                                   is_staff=True)
    for codename in ("record_adjustment", "view_leave_records", "record_leave_for_others"):
        hannah.user_permissions.add(Permission.objects.get(codename=codename))
    client.force_login(hannah)
    return client


def settled(console, url, params, *, ready) -> object:
    """The page, once what it reads in the background (ledger, directory, memberships) is in."""
    for _ in range(4):
        response = console.get(url, params)
        assert response.status_code == 200
        if ready(response):
            return response
    return response


def test_whos_out_in_the_console_shows_every_person_out_in_a_team_of_260(console, fake_slack, company, monkeypatch):
    import types

    from django.utils import timezone as django_timezone

    from approvals import console_see_views

    seen_from = weekday_at(MONDAY - timedelta(days=3), 12)
    monkeypatch.setattr(console_see_views, "timezone", types.SimpleNamespace(
        now=lambda: seen_from, localdate=lambda: seen_from.date(), make_aware=django_timezone.make_aware))
    out = SUPPORT[::2]  # 130 people
    seed_out(fake_slack, out, "Support", MONDAY, WEDNESDAY, C_SUPPORT_APPROVALS)
    seed_out(fake_slack, SUPPORT[1:41:2], "Support", MONDAY + timedelta(days=14), MONDAY + timedelta(days=14),
             C_SUPPORT_APPROVALS, status="pending")

    response = settled(console, reverse("console:whos_out"), {"team": "Support", "weeks": "4"},
                       ready=lambda r: r.context["ledger"] is not None and r.context["calendars"])

    [calendar_] = response.context["calendars"]
    shown = {row.user for week in calendar_.weeks for row in week.rows}
    assert set(out) <= shown, len(set(out) - shown)
    assert "Person SUP001" in response.text and "Person SUP259" in response.text
    assert len(response.context["waiting"]) + response.context["more_waiting"] == 20


def test_whos_out_for_every_team_answers_with_36_teams(console, fake_slack, company):
    for number in range(3, 3 + OTHER_TEAMS):
        name, _, approvals, members = other_team(number)
        seed_out(fake_slack, members[:3], name, MONDAY, WEDNESDAY, approvals)

    response = settled(console, reverse("console:whos_out"), {"weeks": "1"},
                       ready=lambda r: r.context["ledger"] is not None)

    assert len(response.context["calendars"]) == 36
    assert "Team 36" in response.text


def test_balances_of_a_team_of_260_are_paged_and_every_person_is_on_a_page(console, fake_slack, company):
    year = MONDAY.year
    seed_out(fake_slack, SUPPORT[:5], "Support", MONDAY, WEDNESDAY, C_SUPPORT_APPROVALS)
    url = reverse("console:balances")
    first = settled(console, url, {"team": "Support", "year": year},
                    ready=lambda r: r.context["table"] is not None and not r.context["table"].membership_unknown)
    table = first.context["table"]
    assert not table.membership_unknown
    users = {row.user for row in table.rows}
    assert users >= set(SUPPORT), len(set(SUPPORT) - users)  # page 2 of #support's members included
    assert first.context["page"].paginator.num_pages == 3
    last = console.get(url, {"team": "Support", "year": year, "page": 3})
    assert last.status_code == 200 and len(last.context["rows"]) == len(table.rows) - 200


def test_someone_in_two_teams_is_in_the_balances_of_the_first_team_only(console, fake_slack, company):
    url = reverse("console:balances")
    ready = lambda r: r.context["table"] is not None and not r.context["table"].membership_unknown  # noqa: E731
    support = settled(console, url, {"team": "Support"}, ready=ready).context["table"]
    platform = settled(console, url, {"team": "Platform"}, ready=ready).context["table"]
    assert IN_BOTH in {row.user for row in support.rows}
    assert {row.user for row in platform.rows} == set(PLATFORM)
    last_team = settled(console, url, {"team": "Team 36"}, ready=ready).context["table"]
    assert {row.user for row in last_team.rows} == set(other_team(36)[3])


def test_the_balances_csv_of_a_team_of_260_holds_everyone(console, fake_slack, company):
    url = reverse("console:balances")
    settled(console, url, {"team": "Support"},
            ready=lambda r: r.context["table"] is not None and not r.context["table"].membership_unknown)
    response = console.get(url, {"team": "Support", "download": "1"})
    assert response["Content-Type"].startswith("text/csv")
    body = response.content.decode("utf-8-sig")
    assert all(f"{user}" in body or f"Person {user[2:]}" in body for user in SUPPORT)


def test_the_consoles_people_search_finds_someone_past_the_first_page_of_users_list(console, fake_slack, company):
    last_person = other_team(2 + OTHER_TEAMS)[3][-1]  # sorts after the first 1,000 people by id
    url = reverse("console:suggest")

    for _ in range(3):
        found = console.get(url, {"q": last_person.lower(), "kind": "people"}).json()
        if found["ready"]:
            break
    assert found["ready"]
    assert [s["id"] for s in found["suggestions"]] == [last_person]
    assert cursors_asked(fake_slack, "users.list")  # users.list's next pages were asked for
