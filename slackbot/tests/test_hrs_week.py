"""An HR person's week, in Slack and the console together.

Hannah (U_HR, hannah@example.com) is the fallback approver. She records leave for people with
`/timeoff for @person …`, records sick days reported late, decides what nobody else can, asks for her
own leave like anyone, and uses the console's Record leave, Adjust a balance, Who's out and Ledger CSV
on the same people. Everything goes through signed Slack-shaped requests and the console's pages;
what people hear is read off the fake Slack's wire.
"""

import csv
import io
import json
from dataclasses import replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import holidays
import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from approvals import block_ids as ids
from approvals.config_types import ApproverSource, MemberSource
from fake_slack.personas import C_ENG, C_ENG_APPROVALS, CAROL
from test_support.flows import (
    ALICE,
    BOB,
    DAVE,
    ENGINEERING,
    HR,
    MONDAY,
    SICK,
    VACATION,
    WEDNESDAY,
    buttons_in,
    click,
    dms_to,
    install_config,
    ledger_messages,
    open_app_home,
    open_request_form,
    posted_requests,
    press,
    request_time_off,
    request_values,
    standard_config,
    submit_request,
)
from test_support.slack_requests import post_command, post_interaction, view_submission_payload

pytestmark = pytest.mark.django_db

FRIDAY = MONDAY + timedelta(days=4)
LA = ZoneInfo("America/Los_Angeles")
RECORD_URL = "/console/leave/record"
CA_HOLIDAYS = holidays.country_holidays("US", subdiv="CA", years=range(2018, 2035))


def alices_today() -> date:
    return datetime.now(LA).date()


def working_day_back(days: int) -> date:
    """A Tuesday, Wednesday or Thursday at least `days` before Alice's today, not a public holiday."""
    day = alices_today() - timedelta(days=days)
    while day.weekday() not in (1, 2, 3) or day in CA_HOLIDAYS:
        day -= timedelta(days=1)
    return day


def mention_of(user: str) -> str:
    return f"<@{user}|{user.lower()}>"


def record_from_slack(client, fake_slack, person, start, end, leave_type="vacation", *, note="", halves=(),
                      view_id="V_FOR"):
    """`/timeoff for @person start end type`, then the Record form sent as it opened (plus a note)."""
    response = post_command(client, f"for {mention_of(person)} {start} {end} {leave_type}", user_id=HR)
    assert response.status_code == 200, response.content
    assert response.content == b"", response.json()
    form = fake_slack.last_call("views.open").params["view"]
    return post_interaction(client, view_submission_payload(
        user_id=HR, view=form, values=request_values(leave_type, start, end, note=note, halves=halves),
        view_id=view_id, view_hash=f"h-{view_id}"))


def entries_of(fake_slack, user, channel=C_ENG_APPROVALS) -> list[dict]:
    return [m.metadata["event_payload"] for m in ledger_messages(fake_slack, channel)
            if m.metadata["event_type"] == "timeoff_request" and m.metadata["event_payload"].get("user") == user]


def errors_of(response) -> str:
    body = response.json()
    assert body.get("response_action") == "errors", body
    return json.dumps(body["errors"])


def refusal_seen_by_hr(response, fake_slack) -> str:
    """Why a recording HR sent from Slack was refused: under the form's fields when the cache knew
    enough to check it at once, else (checked in its task) by DM to HR, never to the person."""
    if response.content:
        return errors_of(response)
    return "\n".join(dms_to(fake_slack, HR))


def team_channel_posts(fake_slack) -> list[str]:
    return [c.params["text"] for c in fake_slack.calls("chat.postMessage")
            if c.params.get("channel") == C_ENG and not c.params.get("thread_ts")]


def csv_rows(response) -> list[dict]:
    return list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))


@pytest.fixture
def console(client, django_user_model, fake_slack):
    """Hannah signed in to the console with HR's permissions; her email is her Slack account's."""
    hannah = django_user_model.objects.create_user("hannah", "hannah@example.com", "a-long-test-password",
                                                   is_staff=True)
    for codename in ("record_adjustment", "view_leave_records", "record_leave_for_others"):
        hannah.user_permissions.add(Permission.objects.get(codename=codename))
    client.force_login(hannah)
    return client


def console_record(console, **changes):
    data = {"person": "alice@example.com", "leave_type": "vacation", "start": MONDAY.isoformat(),
            "end": WEDNESDAY.isoformat(), "note": "", **changes}
    return console.post(RECORD_URL, data)


# --- Recording sick leave late ---------------------------------------------------------------------


def test_hr_records_a_sick_day_from_two_years_ago_from_slack_and_alice_hears_which_year(client, fake_slack):
    install_config()
    day = date(alices_today().year - 2, 3, 12)
    while day.weekday() >= 5 or day in CA_HOLIDAYS:
        day += timedelta(days=1)

    response = record_from_slack(client, fake_slack, ALICE, day, day, "sick")

    assert response.status_code == 200 and response.content == b"", response.content
    [entry] = entries_of(fake_slack, ALICE)
    assert (entry["start"], entry["status"], entry["recorded_by"]) == (day.isoformat(), "approved", HR)
    [dm] = [t for t in dms_to(fake_slack, ALICE) if "recorded time off for you" in t]
    assert str(day.year) in dm, dm  # a day two years back is named with its year


def test_hr_records_vacation_someone_forgot_to_ask_for_last_month(client, fake_slack):
    install_config()
    start = working_day_back(30)

    response = record_from_slack(client, fake_slack, ALICE, start, start, "vacation")

    assert response.status_code == 200 and response.content == b"", response.content
    [entry] = entries_of(fake_slack, ALICE)
    assert (entry["start"], entry["status"]) == (start.isoformat(), "approved")


def test_alice_herself_cannot_send_a_sick_day_from_last_month(client, fake_slack):
    """allow_past_days (3 for sick) binds the person; only HR's recording reaches further back."""
    install_config()
    start = working_day_back(30)
    post_command(client, "", user_id=ALICE)
    form = fake_slack.last_call("views.open").params["view"]

    response = post_interaction(client, view_submission_payload(
        user_id=ALICE, view=form, values=request_values("sick", start, start), view_id="V_LATE"))

    assert "can start at most 3 days in the past" in errors_of(response)
    assert entries_of(fake_slack, ALICE) == []


def test_a_sick_day_recorded_late_is_not_announced_to_the_team_as_someone_who_will_be_out(client, fake_slack):
    """#engineering hears who *will* be out. A sick day from last year, recorded today for the balance,
    is not news for the team: told "@Alice will be out Tue 10 Mar 2025" it reads as wrong, or as new."""
    install_config()
    day = working_day_back(200)

    record_from_slack(client, fake_slack, ALICE, day, day, "sick")

    assert entries_of(fake_slack, ALICE)[0]["status"] == "approved"
    will_be_out = [t for t in team_channel_posts(fake_slack) if "will be out" in t]
    assert will_be_out == [], will_be_out


# --- Over the allowance, over other leave ------------------------------------------------------------


def test_hr_recording_more_than_is_left_is_refused_saying_what_they_have_left(client, fake_slack):
    install_config(standard_config(leave_types=(replace(VACATION, annual_allowance_days=Decimal(2)), SICK)))

    response = record_from_slack(client, fake_slack, ALICE, MONDAY, WEDNESDAY)

    told = refusal_seen_by_hr(response, fake_slack)
    assert "They have 2 days of Vacation left in 2031; this request needs 3" in told, told
    assert entries_of(fake_slack, ALICE) == []
    assert not [dm for dm in dms_to(fake_slack, ALICE) if "couldn't" in dm]


def test_hr_recording_over_someones_pending_request_is_refused_as_their_overlap(client, fake_slack):
    install_config()
    request_time_off(client, fake_slack, ALICE)  # Mon–Wed, pending with Bob

    response = record_from_slack(client, fake_slack, ALICE, WEDNESDAY, FRIDAY)

    told = refusal_seen_by_hr(response, fake_slack)
    assert "This overlaps their pending leave" in told, told
    assert [e["status"] for e in entries_of(fake_slack, ALICE)] == ["pending"]


def test_leave_recorded_in_the_console_is_overlap_for_a_recording_in_slack(client, console, fake_slack):
    install_config()
    assert console_record(console).status_code == 302

    response = record_from_slack(client, fake_slack, ALICE, WEDNESDAY, FRIDAY)

    told = refusal_seen_by_hr(response, fake_slack)
    assert "This overlaps their approved leave" in told, told
    assert len(entries_of(fake_slack, ALICE)) == 1


def test_a_balance_lowered_in_the_console_limits_what_hr_records_in_slack(client, console, fake_slack):
    install_config()
    response = console.post(reverse("console:adjust"), {"user": "alice@example.com", "leave_type": "vacation",
                                                        "days": "-23", "year": "2031", "reason": "correction"})
    assert response.status_code == 302, response.context["form"].errors

    refused = record_from_slack(client, fake_slack, ALICE, MONDAY, WEDNESDAY)

    told = refusal_seen_by_hr(refused, fake_slack)
    assert "They have 2 days of Vacation left in 2031; this request needs 3" in told, told
    assert entries_of(fake_slack, ALICE) == []


# --- What the person hears, typed text escaped ---------------------------------------------------------


def test_a_note_hr_types_in_slack_reaches_the_channel_escaped_and_never_pings(client, fake_slack):
    install_config()
    note = "<!channel> covering for <@U_BOB> at R&D <http://evil.example|payroll>"

    record_from_slack(client, fake_slack, ALICE, MONDAY, WEDNESDAY, note=note)

    [posted] = posted_requests(fake_slack)
    wire = json.dumps([posted.params["text"], posted.params.get("blocks")])
    for raw in ("<!channel>", "<@U_BOB>", "<http://evil.example|payroll>"):
        assert raw not in wire
    assert "&lt;!channel&gt;" in wire and "R&amp;D" in wire
    assert "covering for" not in json.dumps(posted.params["metadata"])  # the note is never metadata
    for dm in dms_to(fake_slack, ALICE):
        assert "<!channel>" not in dm and "<http://evil.example|payroll>" not in dm


def test_a_note_typed_in_the_console_reaches_the_channel_escaped(console, fake_slack):
    install_config()

    response = console_record(console, note="<!here> back-fill for <@U_DAVE> & co")

    assert response.status_code == 302
    [posted] = posted_requests(fake_slack)
    wire = json.dumps([posted.params["text"], posted.params.get("blocks")])
    assert "<!here>" not in wire and "<@U_DAVE>" not in wire
    assert "&lt;!here&gt;" in wire and "&amp; co" in wire


def test_a_console_recorders_own_name_is_escaped_in_the_persons_dm(client, django_user_model, fake_slack):
    """An HR account whose email Slack does not know is named by its name, which is typed text."""
    install_config()
    ops = django_user_model.objects.create_user("ops", "ops@elsewhere.example", "a-long-test-password",
                                                is_staff=True, first_name="People <!here>", last_name="& Culture")
    ops.user_permissions.add(Permission.objects.get(codename="record_leave_for_others"))
    client.force_login(ops)

    assert console_record(client).status_code == 302

    [entry] = entries_of(fake_slack, ALICE)
    assert entry["recorded_by"] == "People <!here> & Culture"
    [dm] = [t for t in dms_to(fake_slack, ALICE) if "recorded time off for you" in t]
    assert "<!here>" not in dm and "People &lt;!here&gt; &amp; Culture recorded time off for you" in dm, dm
    [posted] = posted_requests(fake_slack)
    assert "<!here>" not in json.dumps([posted.params["text"], posted.params.get("blocks")])


def test_the_console_recording_names_hannah_by_her_slack_account_in_alices_dm(console, fake_slack):
    install_config()

    console_record(console)

    [entry] = entries_of(fake_slack, ALICE)
    assert (entry["recorded_by"], entry["decided_by"], entry["status"]) == (HR, HR, "approved")
    assert any(f"<@{HR}> recorded time off for you" in dm for dm in dms_to(fake_slack, ALICE))
    assert not [c for c in fake_slack.calls("chat.postMessage") if c.params.get("channel") in (BOB, DAVE)]


# --- Correcting what was recorded ---------------------------------------------------------------------


def test_hr_can_take_back_a_sick_day_recorded_on_the_wrong_date_last_week(client, fake_slack):
    """Hannah recorded Alice's sick day for last Tuesday; it was Wednesday. The wrong day counts in
    Alice's record until HR can cancel it: `/timeoff for @alice cancel` must offer it."""
    install_config()
    wrong = working_day_back(7)
    record_from_slack(client, fake_slack, ALICE, wrong, wrong, "sick")
    assert entries_of(fake_slack, ALICE)[0]["status"] == "approved"

    listed = post_command(client, f"for <@{ALICE}> list", user_id=HR).json()
    to_change = post_command(client, f"for <@{ALICE}> cancel", user_id=HR).json()

    offered = {**buttons_in(listed.get("blocks")), **buttons_in(to_change.get("blocks"))}
    assert ids.CANCEL_ACTION in offered, (listed, to_change)


def test_hr_cancels_leave_recorded_in_the_console_and_the_balance_comes_back_in_the_csv(client, console,
                                                                                       fake_slack):
    install_config()
    console_record(console)
    console.get(reverse("console:balances"), {"team": "Engineering", "year": 2031})  # memberships read
    before = csv_rows(console.get(reverse("console:balances"), {"team": "Engineering", "year": 2031,
                                                                "download": "1"}))
    alice = next(r for r in before if r["user_id"] == ALICE and r["leave_type"] == "vacation")
    assert (Decimal(alice["taken"]), Decimal(alice["left"])) == (3, 22)

    body = post_command(client, f"for <@{ALICE}> list", user_id=HR).json()
    press(client, HR, body["blocks"], ids.CANCEL_ACTION, channel="C_GENERAL", on_list=True)

    after = csv_rows(console.get(reverse("console:balances"), {"team": "Engineering", "year": 2031,
                                                               "download": "1"}))
    alice = next(r for r in after if r["user_id"] == ALICE and r["leave_type"] == "vacation")
    assert (Decimal(alice["taken"]), Decimal(alice["left"])) == (0, 25)
    assert any(f"<@{HR}>" in dm and "Cancelled" in dm for dm in dms_to(fake_slack, ALICE)), dms_to(fake_slack, ALICE)


# --- The console agreeing with Slack ------------------------------------------------------------------


def test_leave_recorded_in_the_console_shows_in_alices_list_and_on_whos_out(client, console, fake_slack):
    install_config()
    start = alices_today() + timedelta(days=8)
    while start.weekday() >= 5 or start in CA_HOLIDAYS:
        start += timedelta(days=1)
    assert console_record(console, start=start.isoformat(), end=start.isoformat()).status_code == 302

    listing = post_command(client, "list", user_id=ALICE).json()
    page = console.get(reverse("console:whos_out"), {"weeks": "3", "team": "Engineering"}).text

    assert "1 coming up" in listing["text"], listing["text"]
    assert "Alice Adams" in page


def test_the_ledger_csv_shows_who_recorded_leave_and_who_it_is_for(client, console, fake_slack):
    install_config()
    console_record(console)
    record_from_slack(client, fake_slack, DAVE, FRIDAY, FRIDAY, "sick")

    rows = csv_rows(console.get(reverse("console:ledger_export"), {"download": "1", "year": "2031"}))

    by_user = {row["user"]: row for row in rows if row["kind"] == "request"}
    assert (by_user[ALICE]["user_name"], by_user[ALICE]["status"], by_user[ALICE]["recorded_by"]) == (
        "Alice Adams", "approved", HR)
    assert (by_user[DAVE]["user_name"], by_user[DAVE]["recorded_by"], Decimal(by_user[DAVE]["days"])) == (
        "Dave Diaz", HR, 1)


def test_leave_recorded_years_back_counts_in_that_years_balances(console, fake_slack):
    install_config()
    year = alices_today().year - 2
    start = date(year, 3, 12)
    while start.weekday() != 0 or start in CA_HOLIDAYS:
        start += timedelta(days=1)
    response = console_record(console, start=start.isoformat(), end=(start + timedelta(days=1)).isoformat())
    assert response.status_code == 302, response.context["form"].errors
    console.get(reverse("console:balances"), {"team": "Engineering", "year": year})

    rows = csv_rows(console.get(reverse("console:balances"), {"team": "Engineering", "year": year, "download": "1"}))

    alice = next(r for r in rows if r["user_id"] == ALICE and r["leave_type"] == "vacation")
    assert (Decimal(alice["taken"]), Decimal(alice["left"])) == (2, 23)


def test_private_sick_leave_hr_recorded_shows_on_whos_out_only_as_away(client, console, fake_slack):
    install_config()
    start = alices_today() + timedelta(days=8)
    while start.weekday() >= 5 or start in CA_HOLIDAYS:
        start += timedelta(days=1)
    record_from_slack(client, fake_slack, ALICE, start, start, "sick")

    page = console.get(reverse("console:whos_out"), {"weeks": "3", "team": "Engineering"}).text

    assert "Alice Adams" in page and "away" in page
    assert "Sick leave" not in page


def test_a_half_day_recorded_in_the_console_counts_half_in_slack(client, console, fake_slack):
    install_config()
    console_record(console, start=MONDAY.isoformat(), end=MONDAY.isoformat(), end_am="on")

    [entry] = entries_of(fake_slack, ALICE)
    answer = post_command(client, "balance 2031", user_id=ALICE)
    text = answer.json()["text"] if answer.content else dms_to(fake_slack, ALICE)[-1]

    assert Decimal(str(entry["days"])) == Decimal("0.5")
    assert "24.5" in text, text


# --- HR deciding what nobody else can --------------------------------------------------------------


def only_bob_approves():
    return standard_config(teams=(replace(ENGINEERING, approvers=ApproverSource(users=(BOB,))),))


def test_the_only_approvers_own_request_goes_to_hr_and_hr_decides_it(client, fake_slack):
    install_config(only_bob_approves())
    request_time_off(client, fake_slack, BOB)
    [posted] = posted_requests(fake_slack)
    assert posted.params["text"].endswith(f"for <@{HR}>"), posted.params["text"]  # HR is asked, not Bob

    click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted)  # his own: refused
    assert entries_of(fake_slack, BOB)[0]["status"] == "pending"
    click(client, fake_slack, HR, ids.APPROVE_ACTION, posted)

    [entry] = entries_of(fake_slack, BOB)
    assert (entry["status"], entry["decided_by"]) == ("approved", HR)
    assert any(f"<@{HR}> approved your" in dm for dm in dms_to(fake_slack, BOB))


def test_hr_sees_only_what_is_theirs_to_decide_on_app_home(client, fake_slack):
    """Alice's request is Bob's and Dave's; Bob's own is HR's. HR's tab lists Bob's, not Alice's."""
    install_config(only_bob_approves())
    request_time_off(client, fake_slack, ALICE)
    form = open_request_form(client, fake_slack, BOB)
    submit_request(client, BOB, form, request_values("vacation", MONDAY + timedelta(days=14),
                                                     MONDAY + timedelta(days=15)), view_id="V_BOB", view_hash="hb")
    assert len(posted_requests(fake_slack)) == 2

    home = open_app_home(client, fake_slack, HR, "Ev_HRWEEK1")

    waiting = json.dumps(home["blocks"])
    assert f"<@{BOB}>" in waiting
    assert f"<@{ALICE}>" not in waiting


# --- HR's own leave ------------------------------------------------------------------------------------


def test_hrs_own_request_goes_to_their_teams_approvers_who_decide_it(client, fake_slack):
    install_config(standard_config(teams=(replace(ENGINEERING, members=MemberSource(users=(HR,), channel=C_ENG)),)))
    request_time_off(client, fake_slack, HR)
    [posted] = posted_requests(fake_slack)

    assert f"<@{BOB}>" in posted.params["text"]
    click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted)

    [entry] = entries_of(fake_slack, HR)
    assert (entry["status"], entry["decided_by"]) == ("approved", BOB)
    assert "recorded_by" not in entry or entry["recorded_by"] in (None, "")


def test_hrs_own_request_where_hr_is_the_only_approver_goes_to_the_other_fallback_approver(client, fake_slack):
    team = replace(ENGINEERING, members=MemberSource(users=(HR,), channel=C_ENG), approvers=ApproverSource(users=(HR,)))
    install_config(standard_config(teams=(team,), fallback_approvers=(HR, CAROL)))
    request_time_off(client, fake_slack, HR)
    [posted] = posted_requests(fake_slack)

    click(client, fake_slack, HR, ids.APPROVE_ACTION, posted)
    assert entries_of(fake_slack, HR)[0]["status"] == "pending"
    click(client, fake_slack, CAROL, ids.APPROVE_ACTION, posted)

    [entry] = entries_of(fake_slack, HR)
    assert (entry["status"], entry["decided_by"]) == ("approved", CAROL)


def test_hr_in_no_team_asking_for_leave_is_not_told_to_ask_themselves(client, fake_slack):
    """Hannah is in no team. `/timeoff` tells her she is in no team; "ask @Hannah to add you" is no help
    to Hannah (README: HR in no team are told to add themselves to one in the console)."""
    install_config()

    response = post_command(client, "", user_id=HR)
    if response.content:  # the cache knew already: refused at once
        text = response.json()["text"]
    else:  # the form opened; sending it is refused
        form = fake_slack.last_call("views.open").params["view"]
        sent = post_interaction(client, view_submission_payload(
            user_id=HR, view=form, values=request_values("vacation", MONDAY, WEDNESDAY), view_id="V_HRNT"))
        text = errors_of(sent) if sent.content else "\n".join(dms_to(fake_slack, HR))

    assert "no team" in text, text
    assert f"<@{HR}>" not in text and "ask HR" not in text, text
    assert "console" in text, text


def test_hr_in_no_team_asking_for_their_balance_is_not_told_to_ask_themselves(client, fake_slack):
    install_config()

    response = post_command(client, "balance", user_id=HR)

    text = response.json()["text"] if response.content else dms_to(fake_slack, HR)[-1]
    assert f"<@{HR}>" not in text and "ask HR" not in text, text


# --- The command itself -------------------------------------------------------------------------------


def hr_reads_balance(client, fake_slack, words: str) -> str:
    """HR's `/timeoff for @alice <words>`: the answer, or the DM it promised when the cache was cold."""
    text = post_command(client, f"for <@{ALICE}> {words}", user_id=HR).json()["text"]
    if "I'll DM you" in text:
        return dms_to(fake_slack, HR)[-1]
    return text


def test_hr_asking_for_someones_balance_in_slack_is_answered_with_it(client, fake_slack):
    """`/timeoff for @alice balance`: HR reads Alice's balances as she reads them, under her name (and
    where to adjust them); Alice hears nothing of it."""
    install_config()
    request_time_off(client, fake_slack, ALICE)
    alices = post_command(client, "balance", user_id=ALICE).json()["text"]
    alices = alices if "I'll DM you" not in alices else dms_to(fake_slack, ALICE)[-1]
    dms_to_alice = len(dms_to(fake_slack, ALICE))

    text = hr_reads_balance(client, fake_slack, "balance")

    year = alices_today().year
    assert text.startswith(f"*<@{ALICE}>'s leave in {year}*"), text
    assert "Your leave" not in text and "Balances" in text, text
    # The same lines as Alice's own answer, only whose they are differs.
    assert alices.replace("*Your leave", f"*<@{ALICE}>'s leave") in text, (alices, text)
    assert len(dms_to(fake_slack, ALICE)) == dms_to_alice


def test_hr_asks_for_someones_balance_of_another_year_or_is_told_how(client, fake_slack):
    install_config()
    year = alices_today().year + 1

    assert hr_reads_balance(client, fake_slack, f"balance {year}").startswith(f"*<@{ALICE}>'s leave in {year}*")
    told = hr_reads_balance(client, fake_slack, "balance next")
    assert f"`/timeoff for <@{ALICE}> balance`" in told and "leave in" not in told, told


def test_hr_asking_for_the_balance_of_someone_in_no_team_is_told_so_not_to_ask_hr(client, fake_slack):
    install_config()

    text = hr_reads_balance(client, fake_slack, "balance").replace(f"<@{CAROL}>", "")
    carols = post_command(client, f"for <@{CAROL}> balance", user_id=HR).json()["text"]
    carols = carols if "I'll DM you" not in carols else dms_to(fake_slack, HR)[-1]

    assert "leave in" in text, text
    assert carols.startswith(f"<@{CAROL}> is in no team") and "ask <@" not in carols, carols


def test_for_someone_with_a_typed_name_instead_of_a_mention_says_to_mention_them(client, fake_slack):
    install_config()

    text = post_command(client, "for alice 2031-03-10 vacation", user_id=HR).json()["text"]

    assert "Mention the person" in text
    assert fake_slack.calls("views.open") == []


def test_leave_hr_cancels_in_slack_leaves_the_whos_out_page(client, console, fake_slack):
    install_config()
    start = alices_today() + timedelta(days=8)
    while start.weekday() >= 5 or start in CA_HOLIDAYS:
        start += timedelta(days=1)
    record_from_slack(client, fake_slack, ALICE, start, start)
    assert "Alice Adams" in console.get(reverse("console:whos_out"), {"weeks": "3", "team": "Engineering"}).text

    body = post_command(client, f"for <@{ALICE}> cancel", user_id=HR).json()
    press(client, HR, body["blocks"], ids.CANCEL_ACTION, channel="C_GENERAL", on_list=True)

    assert entries_of(fake_slack, ALICE)[0]["status"] == "cancelled"
    page = console.get(reverse("console:whos_out"), {"weeks": "3", "team": "Engineering"}).text
    assert "Alice Adams" not in page


def test_hr_asking_for_a_balance_on_a_cold_cache_gets_it_by_dm_not_alice(client, fake_slack):
    from django.core.cache import cache

    install_config()
    request_time_off(client, fake_slack, ALICE)
    cache.clear()
    dms_to_alice = len(dms_to(fake_slack, ALICE))

    said = post_command(client, f"for <@{ALICE}> balance", user_id=HR).json()["text"]

    assert said.startswith(f"Checking <@{ALICE}>'s balance"), said
    assert dms_to(fake_slack, HR)[-1].startswith(f"*<@{ALICE}>'s leave in {alices_today().year}*")
    assert len(dms_to(fake_slack, ALICE)) == dms_to_alice
