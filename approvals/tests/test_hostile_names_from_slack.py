"""Names that come from Slack, as people typed them, wherever the app shows them.

Anyone may set their own Slack name, and anyone who creates a channel or a user group names it: a
name may be markup (`<script>`, `"><img onerror=…>`), Slack's own syntax (`<!channel>`, `<@U_CEO>`,
`<https://evil.example|click>`), mrkdwn (`*bold*`), a spreadsheet formula (`=HYPERLINK(…)`), or hold
a right-to-left override, a zero-width character or a line break. The HR console shows such a name as
text (never markup, attributes intact), its suggestions hand it over as data, its CSVs and the nightly
export keep it from running as a formula, and what the app posts to Slack names people by mention
(`<@U…>`), never by the name they chose.
"""

import csv
import html
import io
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone
from html.parser import HTMLParser

import pytest
from django.urls import reverse

from approvals import slack_directory
from approvals import block_ids as ids
from approvals.config_types import MemberSource
from approvals.jobs import FORMULA_STARTS
from approvals.models import DeliveryProblem, Team
from approvals.slack_clients import background_client
from approvals.tests.test_console_names_on_a_real_workspace import field_value, person, version_on
from approvals.tests.test_console_see import NEXT_MONDAY, entry
from fake_slack.ledger_seed import seed_ledger
from fake_slack.personas import C_ENG, C_ENG_APPROVALS, C_ENG_LEADS, C_GENERAL, S_ENG
from fake_slack.workspace import DEFAULT_BOT_USER_ID
from test_support.console_pages import team_post
from test_support.flows import (
    ALICE,
    BOB,
    DAVE,
    ENGINEERING,
    HR,
    MONDAY,
    click,
    install_config,
    open_app_home,
    posted_requests,
    request_time_off,
    standard_config,
)
from test_support.job_runs import run_jobs
from test_support.setup_page import setup_page
from test_support.slack_requests import post_command

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-test-password"

# People's names, as they set them in Slack.
SCRIPT = "<script>alert(1)</script>"
BREAKOUT = '"><img src=x onerror=alert(1)>'
PINGS = "<!channel> <@U_CEO> <https://evil.example|click>"
MARKUP = "*bold* _it_ ~s~ `code` &amp; Hill"
NAMES = {ALICE: SCRIPT, BOB: BREAKOUT, DAVE: PINGS, HR: MARKUP}

# Channels and a user group, as their creators named them.
ENG_NAME = "eng<script>alert(2)</script>"
LEADS_NAME = 'leads"><img src=y onerror=alert(2)>'
APPROVALS_NAME = "<!here>-approvals"
GROUP_HANDLE = '<!channel>"eng'

# Whatever a name holds, none of this may reach Slack from it.
PING_OR_LINK = ("<!channel>", "<!here>", "<@U_CEO>", "<https://evil.example", "<!subteam")


@pytest.fixture
def hr_client(client, django_user_model, fake_slack):
    """Hannah from HR (a superuser: every console page), signed in; her console email is her Slack one."""
    client.force_login(django_user_model.objects.create_superuser("hannah", "hannah@example.com", PASSWORD))
    return client


@pytest.fixture
def hostile_workspace(fake_slack):
    """The personas, channels and user group renamed in Slack to hostile names, and the names read."""
    workspace = fake_slack.workspace
    with workspace.lock:
        for user_id, name in NAMES.items():
            workspace.users[user_id].real_name = name
        workspace.channels[C_ENG].name = ENG_NAME
        workspace.channels[C_ENG_LEADS].name = LEADS_NAME
        workspace.channels[C_ENG_APPROVALS].name = APPROVALS_NAME
        workspace.usergroups[S_ENG].handle = GROUP_HANDLE
    return slack_directory.directory_refresh(background_client())


# --- What a browser makes of a page -----------------------------------------------------------------


class _Page(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.inline_script: list[str] = []
        self.text: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"

    def handle_startendtag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False

    def handle_data(self, data):
        (self.inline_script if self._in_script else self.text).append(data)


def inert_page(response) -> str:
    """The page as a browser reads it, after checking that no name turned into markup: no image, no
    event-handler attribute, no script but the console's own file, no link to where a name pointed.
    Returns its visible text, white space squeezed."""
    assert response.status_code == 200, response.content[:2000]
    page = _Page()
    page.feed(response.content.decode())
    for tag, attrs in page.tags:
        assert tag != "img", attrs
        assert not [name for name in attrs if name.startswith("on")], (tag, attrs)
        if tag == "script":
            assert (attrs.get("src") or "").startswith("/static/"), attrs
        if tag == "a":
            assert "evil.example" not in (attrs.get("href") or ""), attrs
    assert not "".join(page.inline_script).strip(), page.inline_script
    return " ".join(" ".join(page.text).split())


def input_values(response) -> dict[str, str]:
    """The value of each text box of a page's forms, as the browser holds it."""
    page = _Page()
    page.feed(response.content.decode())
    return {attrs["name"]: attrs.get("value") or "" for tag, attrs in page.tags
            if tag == "input" and attrs.get("name") and attrs.get("type") in ("text", "search")}


# --- What a spreadsheet makes of a CSV ---------------------------------------------------------------


def runs_as_formula(cell: str) -> bool:
    """A cell a spreadsheet would run: one starting with = + - @ (or a tab or carriage return), after any
    white space it skips or trims."""
    return cell[:1] in FORMULA_STARTS or cell.lstrip()[:1] in FORMULA_STARTS


FORMULA_NAMES = {
    "U0EQUALS1": ('=HYPERLINK("https://evil.example","x")', '=HYPERLINK("https://evil.example","x")'),
    "U0PLUS001": ("+1+cmd|' /C calc'!A0", "+1+cmd|' /C calc'!A0"),
    "U0MINUS01": ("-2+3", "-2+3"),
    "U0AT00001": ("@SUM(A1:A9)", "@SUM(A1:A9)"),
    "U0TAB0001": ("\t=1+1", "=1+1"),  # the tab is a control character: left out of the name
    "U0NEWLINE": ("\n=2+2", "=2+2"),
    "U0SPACE01": ("   =3+3", "   =3+3"),
    "U0IDEOSP1": ("\u3000=4+4", "\u3000=4+4"),  # an ideographic space
    "U0RLO0001": ("\u202e=5+5", "=5+5"),  # a right-to-left override: left out
    "U0ZWSP001": ("\u200b@6", "@6"),  # a zero-width space: left out
}


def formula_people(fake_slack):
    for number, (user_id, (name, _shown_as)) in enumerate(FORMULA_NAMES.items()):
        person(fake_slack, user_id, f"f{number}", name, f"f{number}@example.com")
    return slack_directory.directory_refresh(background_client())


def csv_rows(content: bytes) -> list[dict]:
    return list(csv.DictReader(io.StringIO(content.decode("utf-8-sig"))))


# --- The console's pages ------------------------------------------------------------------------------


def test_the_teams_page_shows_hostile_channel_and_user_group_names_as_text(hr_client, hostile_workspace):
    install_config(standard_config(teams=(replace(ENGINEERING, members=MemberSource(channel=C_ENG, usergroup=S_ENG)),)))

    shown = inert_page(hr_client.get(reverse("console:home")))

    assert f"#{APPROVALS_NAME}" in shown
    assert f"everyone in #{LEADS_NAME}" in shown
    assert f"everyone in #{ENG_NAME}" in shown
    assert f"everyone in @{GROUP_HANDLE}" in shown
    assert BREAKOUT in shown  # Bob, who approves


def test_the_team_form_opens_with_hostile_channel_and_group_names_and_saves_back_the_same_ones(
        hr_client, hostile_workspace):
    install_config(standard_config(teams=(replace(ENGINEERING, members=MemberSource(channel=C_ENG, usergroup=S_ENG)),)))
    team = Team.objects.get(name="Engineering")
    url = reverse("console:team_edit", args=[team.pk])
    page = hr_client.get(url)
    inert_page(page)

    values = input_values(page)
    assert values["approvals_channel"] == f"#{APPROVALS_NAME}"
    assert values["approvers_channel"] == f"#{LEADS_NAME}"
    assert values["members_channel"] == values["announce_channel"] == f"#{ENG_NAME}"
    assert values["members_usergroup"] == f"@{GROUP_HANDLE}"

    # HR changes the most-people-out limit and sends the rest as the form opened.
    slack_fields = ("members_users", "members_channel", "members_usergroup", "approvers_users", "approvers_channel",
                    "approvals_channel", "announce_channel")
    response = hr_client.post(url, team_post(name="Engineering", version=version_on(page), max_out="4",
                                             **{name: field_value(page, name) for name in slack_fields}))

    assert response.status_code == 302, inert_page(response)[:3000]
    team.refresh_from_db()
    assert (team.approvals_channel, team.approvers_channel, team.members_channel, team.announce_channel,
            team.members_usergroup, team.approvers_users, team.max_out) == (
        C_ENG_APPROVALS, C_ENG_LEADS, C_ENG, C_ENG, S_ENG, [BOB], 4)


def test_the_policy_page_shows_hostile_fallback_approvers_and_requesters_channel_as_text(hr_client,
                                                                                         hostile_workspace):
    install_config(standard_config(requesters_channel=C_ENG, fallback_approvers=(HR, DAVE)))

    shown = inert_page(hr_client.get(reverse("console:policy")))

    assert MARKUP in shown and PINGS in shown
    assert f"#{ENG_NAME}" in shown


def test_whos_out_shows_hostile_names_of_people_out_and_waiting_as_text(hr_client, hostile_workspace, fake_slack):
    install_config()
    seed_ledger(fake_slack.workspace, channel=C_ENG_APPROVALS, entries=[
        entry("alice-vacation", ALICE, "vacation", NEXT_MONDAY, NEXT_MONDAY + timedelta(days=1)),
        entry("dave-waiting", DAVE, "vacation", NEXT_MONDAY, NEXT_MONDAY, status="pending")])
    hr_client.get(reverse("console:setup"))  # Slack's check: the workspace's address, for "Open in Slack"

    page = hr_client.get(reverse("console:whos_out"))
    shown = inert_page(page)

    waiting = page.text.split('id="waiting"')[1].split("</section>")[0]
    assert "Open in Slack" in waiting
    assert f"{PINGS} Engineering Vacation" in shown  # the row waiting for a decision, by his name
    assert SCRIPT in shown
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text  # written escaped, shown as it is


def test_the_balances_page_shows_hostile_names_as_text(hr_client, hostile_workspace, fake_slack):
    install_config()
    seed_ledger(fake_slack.workspace, channel=C_ENG_APPROVALS, entries=[
        entry("alice-vacation", ALICE, "vacation", NEXT_MONDAY, NEXT_MONDAY)])
    hr_client.get(reverse("console:balances"), {"team": "Engineering"})  # memberships and the ledger are read

    shown = inert_page(hr_client.get(reverse("console:balances"), {"team": "Engineering",
                                                                    "year": NEXT_MONDAY.year}))

    for name in (SCRIPT, BREAKOUT, PINGS):
        assert name in shown, name


def test_the_history_page_shows_hostile_approvers_and_channels_of_a_change_as_text(hr_client, hostile_workspace):
    team = Team.objects.create(name="Engineering", position=0, approvals_channel=C_ENG_APPROVALS,
                               approvers_users=[ALICE], members_channel=C_ENG)
    team.approvers_users = [BOB, DAVE]
    team.approvers_channel = C_ENG_LEADS
    team.save()

    page = hr_client.get(reverse("console:history"))
    shown = inert_page(page)

    [changed] = [row for row in page.context["rows"] if row.kind == "changed"]
    assert {(c.field, c.old, c.new) for c in changed.changes} >= {
        ("approvers_users", SCRIPT, f"{BREAKOUT}, {PINGS}"), ("approvers_channel", "—", f"#{LEADS_NAME}")}
    assert SCRIPT in shown and f"{BREAKOUT}, {PINGS}" in shown and f"#{LEADS_NAME}" in shown


def test_the_setup_page_shows_hostile_channel_names_as_text(hr_client, hostile_workspace, fake_slack):
    install_config()
    fake_slack.workspace.channels[C_ENG].members.discard(DEFAULT_BOT_USER_ID)  # a problem: the bot is not in it

    shown = inert_page_text(setup_page(hr_client, check_again=True))

    assert f"#{APPROVALS_NAME}" in shown and f"#{LEADS_NAME}" in shown
    assert f"#{ENG_NAME}" in shown
    assert "the bot is not in it" in shown


def inert_page_text(text: str) -> str:
    """inert_page for a page already read as text."""

    class Answer:
        status_code = 200
        content = text.encode()

    return inert_page(Answer)


def test_the_setup_page_names_hostile_people_in_delivery_problems_and_guest_approvers_as_text(
        hr_client, hostile_workspace, fake_slack):
    install_config()
    fake_slack.workspace.users[BOB].is_restricted = True  # Bob, an approver, became a guest
    slack_directory.directory_refresh(background_client())
    DeliveryProblem.objects.create(request_id="r1", user=DAVE, team="Engineering", channel=C_ENG_APPROVALS,
                                   error="not_in_channel", summary="Vacation, Mon 21 Dec – Wed 23 Dec")

    page = setup_page(hr_client, check_again=True)
    inert_page_text(page)  # the whole page: no name turned into markup

    problems = inert_page_text(page[page.index('id="delivery-problems"') - 30:])
    assert PINGS in problems and f"#{APPROVALS_NAME}" in problems
    cannot = inert_page_text(page[page.index('id="deciders-who-cannot"') - 30:])
    assert f"Named to decide leave, but they cannot: {BREAKOUT} , an approver of Engineering, is a guest" in cannot


def test_search_shows_hostile_people_channels_and_user_groups_as_text(hr_client, hostile_workspace):
    people = inert_page(hr_client.get(reverse("console:search"), {"q": "alice", "kind": "people"}))
    channels = inert_page(hr_client.get(reverse("console:search"), {"q": "leads", "kind": "channels"}))
    groups = inert_page(hr_client.get(reverse("console:search"), {"q": "eng", "kind": "usergroups"}))

    assert SCRIPT in people and "@alice" in people
    assert f"#{LEADS_NAME}" in channels
    assert f"@{GROUP_HANDLE}" in groups


def test_suggestions_hand_hostile_names_over_as_json_data_not_markup(hr_client, hostile_workspace, fake_slack):
    fake_slack.workspace.channels[C_GENERAL].name = "gen\u202eeral\u200b"
    slack_directory.directory_refresh(background_client())

    def suggested(q, kind):
        response = hr_client.get(reverse("console:suggest"), {"q": q, "kind": kind})
        assert response.status_code == 200
        assert response["Content-Type"].startswith("application/json")
        assert response.get("X-Content-Type-Options") == "nosniff"  # never sniffed and run as a page
        return {s["id"]: s for s in response.json()["suggestions"]}

    # The page's script sets each label as text: a name arrives as the person wrote it, not escaped twice.
    assert suggested("alice", "people")[ALICE]["label"] == f"{SCRIPT} · @alice · alice@example.com"
    assert suggested("bob", "people")[BOB]["label"].startswith(BREAKOUT + " · ")
    assert suggested("leads", "channels")[C_ENG_LEADS] == {
        "value": f"#{LEADS_NAME}", "label": f"#{LEADS_NAME} (private)", "id": C_ENG_LEADS}
    assert suggested("eng", "usergroups")[S_ENG]["value"] == f"@{GROUP_HANDLE}"
    assert suggested("gen", "channels")[C_GENERAL]["label"] == "#general"  # no override turns it around


def test_a_name_of_only_invisible_characters_is_not_shown_as_a_blank(hr_client, fake_slack):
    """Someone who set their name to zero-width joiners (or spaces) is still someone HR can read: the
    console names them by what else Slack knows of them (their handle), never by nothing."""
    person(fake_slack, "U0BLANK01", "ghost", "\u200d\u200d", "ghost@example.com")
    person(fake_slack, "U0BLANK02", "spaces", "   ", "spaces@example.com")
    person(fake_slack, "U0BLANK03", "filler", "\u3164\u3164", "filler@example.com")  # Hangul fillers
    slack_directory.directory_refresh(background_client())
    Team.objects.create(name="Engineering", position=0, approvals_channel=C_ENG_APPROVALS,
                        approvers_users=["U0BLANK01", "U0BLANK02", "U0BLANK03", BOB])

    shown = inert_page(hr_client.get(reverse("console:home")))

    approvers = shown.split("Approvers")[1].split("Bob Brown")[0]
    assert "ghost" in approvers and "spaces" in approvers and "filler" in approvers, approvers


def test_a_name_that_differs_from_anothers_only_by_a_zero_width_joiner_is_told_apart(hr_client, fake_slack):
    """"Bob\u200d Brown" reads exactly as "Bob Brown": HR sees two namesakes, each with their address, as
    for any two people who share a name, not the same name twice."""
    person(fake_slack, "U0BOB0002", "bobby", "Bob\u200d Brown", "bobby@example.com")
    slack_directory.directory_refresh(background_client())
    Team.objects.create(name="Engineering", position=0, approvals_channel=C_ENG_APPROVALS,
                        approvers_users=[BOB, "U0BOB0002"])

    shown = inert_page(hr_client.get(reverse("console:home")))

    assert "(bob@example.com)" in shown and "(bobby@example.com)" in shown, shown[-300:]


def test_the_ledger_problem_names_a_hostile_approvals_channel_as_text(hr_client, hostile_workspace, fake_slack):
    install_config()
    # The bot was removed from the private approvals channel: Slack no longer shows it the channel.
    fake_slack.workspace.channels[C_ENG_APPROVALS].members.discard(DEFAULT_BOT_USER_ID)

    shown = inert_page(hr_client.get(reverse("console:whos_out")))

    assert f"The ledger cannot be read from Slack: the bot cannot read #{APPROVALS_NAME} (" in shown, \
        shown[shown.find("The ledger"):][:300]


def test_a_very_long_and_an_emoji_only_name_are_shown_whole_and_found(hr_client, fake_slack):
    long_name = "Wolfeschlegel" + "steinhausenberger" * 30  # some 500 characters
    person(fake_slack, "U0LONG001", "wolfe", long_name, "wolfe@example.com")
    person(fake_slack, "U0EMOJI01", "unicorn", "\U0001f984\U0001f308\U0001f469\u200d\U0001f4bb",
           "unicorn@example.com")
    slack_directory.directory_refresh(background_client())
    Team.objects.create(name="Engineering", position=0, approvals_channel=C_ENG_APPROVALS,
                        approvers_users=["U0LONG001", "U0EMOJI01"])

    shown = inert_page(hr_client.get(reverse("console:home")))
    found = inert_page(hr_client.get(reverse("console:search"), {"q": "unicorn"}))

    assert long_name in shown
    assert "\U0001f984\U0001f308\U0001f469\u200d\U0001f4bb" in shown and "\U0001f984" in found
    assert "?" in found  # the avatar of a name without letters


def test_a_message_after_an_adjustment_names_a_hostile_person_as_text(hr_client, hostile_workspace, fake_slack):
    install_config()
    seed_ledger(fake_slack.workspace, channel=C_ENG_APPROVALS, entries=[])

    response = hr_client.post(reverse("console:adjust"), {
        "user": "alice@example.com", "leave_type": "vacation", "days": "2", "year": NEXT_MONDAY.year,
        "reason": "opening balance"}, follow=True)
    shown = inert_page(response)

    assert f"of Vacation for {SCRIPT} in {NEXT_MONDAY.year} (opening balance)" in shown
    posted = fake_slack.calls("chat.postMessage")[-1].params
    assert posted["channel"] == C_ENG_APPROVALS and SCRIPT not in str(posted)


def test_a_company_day_added_over_leave_names_the_hostile_people_who_have_it_as_text(hr_client, hostile_workspace,
                                                                                      fake_slack):
    install_config()
    seed_ledger(fake_slack.workspace, channel=C_ENG_APPROVALS, entries=[
        entry("alice-vacation", ALICE, "vacation", NEXT_MONDAY, NEXT_MONDAY),
        entry("bob-vacation", BOB, "vacation", NEXT_MONDAY, NEXT_MONDAY, status="pending")])
    hr_client.get(reverse("console:whos_out"))  # the ledger is read

    response = hr_client.post(reverse("console:holiday_add"), {"date": NEXT_MONDAY.isoformat(),
                                                               "name": "Company day", "team": ""}, follow=True)
    shown = inert_page(response)

    assert "2 people have leave on" in shown
    assert f"{SCRIPT} (approved)" in shown and f"{BREAKOUT} (pending)" in shown


# --- The CSVs -------------------------------------------------------------------------------------


def test_the_balances_csv_keeps_names_from_running_as_formulas(hr_client, fake_slack):
    formula_people(fake_slack)
    install_config()
    team = Team.objects.get(name="Engineering")
    team.members_channel, team.members_users = "", list(FORMULA_NAMES)
    team.save()
    seed_ledger(fake_slack.workspace, channel=C_ENG_APPROVALS, entries=[])
    hr_client.get(reverse("console:balances"), {"team": "Engineering"})

    response = hr_client.get(reverse("console:balances"), {"team": "Engineering", "year": NEXT_MONDAY.year,
                                                           "download": "csv"})

    assert response.status_code == 200, response.content[:500]
    names = {row["user_id"]: row["name"] for row in csv_rows(response.content)}
    assert set(names) == set(FORMULA_NAMES)
    for user_id, cell in names.items():
        assert not runs_as_formula(cell), (user_id, cell)
        assert cell.removeprefix("'") == FORMULA_NAMES[user_id][1], (user_id, cell)


def test_the_ledger_csv_download_keeps_hostile_names_as_plain_text_not_formulas(hr_client, hostile_workspace,
                                                                               fake_slack):
    formula_people(fake_slack)
    install_config()
    users = [ALICE, BOB, DAVE, *FORMULA_NAMES]
    seed_ledger(fake_slack.workspace, channel=C_ENG_APPROVALS, adjustments=[], entries=[
        entry(f"leave-{user}", user, "vacation", NEXT_MONDAY, NEXT_MONDAY) for user in users])

    response = hr_client.get(reverse("console:ledger_export"), {"download": "1", "year": NEXT_MONDAY.year})

    assert response.status_code == 200, response.content[:500]
    names = {row["user"]: row["user_name"] for row in csv_rows(response.content)}
    # A CSV is not a web page: the names are as people wrote them, not HTML-escaped.
    assert (names[ALICE], names[BOB], names[DAVE]) == (SCRIPT, BREAKOUT, PINGS)
    for user_id in FORMULA_NAMES:
        assert not runs_as_formula(names[user_id]), (user_id, names[user_id])
        assert names[user_id].removeprefix("'") == FORMULA_NAMES[user_id][1]


def test_the_nightly_ledger_export_keeps_names_from_running_as_formulas(fake_slack, settings, tmp_path):
    settings.LEDGER_EXPORT_DIR = tmp_path
    formula_people(fake_slack)
    install_config()
    seed_ledger(fake_slack.workspace, channel=C_ENG_APPROVALS, adjustments=[], entries=[
        entry(f"leave-{user}", user, "vacation", MONDAY, MONDAY) for user in FORMULA_NAMES])

    printed = run_jobs(datetime(2031, 3, 10, 3, 0, tzinfo=timezone.utc))

    assert "ledger_export" in printed, printed
    rows = csv_rows((tmp_path / "ledger-2031-03-10.csv").read_bytes())
    names = {row["user"]: row["user_name"] for row in rows}
    assert set(names) == set(FORMULA_NAMES)
    for user_id, cell in names.items():
        assert not runs_as_formula(cell), (user_id, cell)
        assert cell.removeprefix("'") == FORMULA_NAMES[user_id][1]


# --- What the app posts to Slack ---------------------------------------------------------------------


def sent_texts(fake_slack, answers=()):
    """Every text the app sent to Slack (messages, ephemerals, views, App Home) and answered it with."""
    def walk(value):
        if isinstance(value, str):
            yield value
        elif isinstance(value, dict):
            for item in value.values():
                yield from walk(item)
        elif isinstance(value, list):
            for item in value:
                yield from walk(item)

    calls = [call for call in fake_slack.calls() if call.method in (
        "chat.postMessage", "chat.update", "chat.postEphemeral", "views.open", "views.update", "views.publish")]
    bodies = [{key: value for key, value in call.params.items() if key in ("text", "blocks", "view")}
              for call in calls] + list(answers)
    return [text for body in bodies for text in walk(body)]


def assert_named_by_mention_only(texts):
    assert texts
    for text in texts:
        for forbidden in PING_OR_LINK:
            assert forbidden not in text, text
        for name in (*NAMES.values(), ENG_NAME, LEADS_NAME, APPROVALS_NAME, GROUP_HANDLE):
            assert name not in text and html.escape(name, quote=False) not in text, (name, text)
        assert "*bold* _it_" not in text


def test_a_request_and_its_approval_among_hostile_names_name_people_by_mention(client, hostile_workspace,
                                                                               fake_slack):
    install_config(standard_config(teams=(replace(ENGINEERING, members=MemberSource(channel=C_ENG, usergroup=S_ENG)),)))
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    assert f"<@{ALICE}>" in posted.params["text"] + str(posted.params.get("blocks"))
    assert click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted).status_code == 200
    answers = [post_command(client, word, user_id=user).json()
               for user, word in ((ALICE, "who"), (DAVE, "who"), (ALICE, f"balance {MONDAY.year}"), (ALICE, "list"))]
    open_app_home(client, fake_slack, BOB, "EvHOME1")
    open_app_home(client, fake_slack, ALICE, "EvHOME2")

    announced = [c.params["text"] for c in fake_slack.calls("chat.postMessage") if c.params["channel"] == C_ENG]
    assert announced and f"<@{ALICE}>" in announced[0]
    assert any(f"<@{BOB}>" in text for text in sent_texts(fake_slack))  # who approved, by mention
    assert_named_by_mention_only(sent_texts(fake_slack, answers))


def test_leave_hr_records_in_the_console_is_told_by_mention_not_by_hostile_names(hr_client, hostile_workspace,
                                                                                 fake_slack):
    install_config()

    response = hr_client.post("/console/leave/record", {
        "person": "alice@example.com", "leave_type": "vacation", "start": MONDAY.isoformat(),
        "end": MONDAY.isoformat(), "note": ""}, follow=True)

    assert response.status_code == 200 and "Recorded" in inert_page(response)
    dms = [c.params["text"] for c in fake_slack.calls("chat.postMessage") if c.params["channel"] == ALICE]
    assert any(f"<@{HR}> recorded time off for you" in text for text in dms), dms
    assert_named_by_mention_only(sent_texts(fake_slack))


def test_the_daily_posts_name_hostile_people_by_mention(client, hostile_workspace, fake_slack):
    from datetime import time as clock

    from zoneinfo import ZoneInfo

    install_config(standard_config(teams=(replace(ENGINEERING, digest_time=clock(9, 0), nudge_after_hours=48),)))
    tuesday = MONDAY + timedelta(days=1)
    sent = datetime(2031, 3, 5, 9, 0, tzinfo=timezone.utc).timestamp()
    seed_ledger(fake_slack.workspace, channel=C_ENG_APPROVALS, entries=[
        entry("alice-vacation", ALICE, "vacation", tuesday, tuesday + timedelta(days=2)),
        entry("dave-waiting", DAVE, "vacation", date(2031, 3, 20), date(2031, 3, 20), status="pending")],
        posted_at={"alice-vacation": sent, "dave-waiting": sent})
    los_angeles = ZoneInfo("America/Los_Angeles")

    run_jobs(datetime(2031, 3, 10, 9, 30, tzinfo=los_angeles), "--team", "Engineering")  # the weekly digest
    run_jobs(datetime(2031, 3, 11, 9, 30, tzinfo=los_angeles), "--team", "Engineering")  # out today, nudges

    posts = [c.params for c in fake_slack.calls("chat.postMessage") if c.params["channel"] == C_ENG]
    assert len(posts) >= 2 and all(f"<@{ALICE}>" in p["text"] + str(p.get("blocks")) for p in posts)
    assert_named_by_mention_only(sent_texts(fake_slack))


def test_who_is_out_asked_by_a_channel_whose_label_is_hostile_does_not_echo_the_label(client, hostile_workspace,
                                                                                      fake_slack):
    install_config()
    # Slack sends a channel typed in a command as <#C…|name>, its name's `<`, `>` and `&` escaped.
    label = "&lt;!channel&gt; &lt;https://evil.example|click&gt;"
    for_a_team = post_command(client, f"who <#{C_ENG}|{label}>", user_id=ALICE).json()
    for_nothing = post_command(client, f"who <#C_NOWHERE|{label}>", user_id=ALICE).json()

    told = sent_texts(fake_slack, [for_a_team, for_nothing])  # the answers, and a DM when it comes later
    assert any("Engineering" in text for text in told), told
    assert "No team is called" in for_nothing["text"]
    for text in told:
        assert "evil.example" not in text and "<!channel>" not in text, text
