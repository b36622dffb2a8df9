"""HR changes leave types and teams while leave is already in the ledger.

Alice and Dave (Engineering) have approved and pending leave in Slack, sent through signed requests and
approved by Bob's clicks. HR then changes the configuration in the console (as a staff user) or with
`import_config`, and every surface people see is read again: App Home, `/timeoff list` and `balance`,
what the approvals message and the DMs say when a request is decided later, the announcements and
digests, and the console's Balances, Who's out and ledger CSV.

Leave types: renamed (name and emoji), allowance lowered below what was taken, half days turned off,
the longest request shortened, made private after its leave was announced, made to need no approval
while requests wait, deleted with pending and approved leave. Teams: renamed, approvals channel moved,
work week and public holidays changed, deleted with pending requests, two teams merged. Company days and
blackouts added over approved leave.
"""

import csv
import io
import json
from dataclasses import replace
from datetime import date, datetime, time, timedelta
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.urls import reverse

from approvals import block_ids as ids
from approvals.config_types import ApproverSource, MemberSource, TeamConfig
from approvals.models import Blackout, LeaveType, Team
from fake_slack.personas import C_ENG, C_ENG_APPROVALS, C_GENERAL, C_OLD_APPROVALS, CAROL
from test_support.console_pages import edit_team, page_text
from test_support.flows import (
    ALICE,
    BOB,
    DAVE,
    ENGINEERING,
    HR,
    MONDAY,
    WEDNESDAY,
    buttons_in,
    click,
    dms_to,
    ephemerals_to,
    install_config,
    ledger_messages,
    open_app_home,
    open_request_form,
    posted_requests,
    press,
    request_values,
    standard_config,
    submit_request,
)
from test_support.job_runs import run_jobs
from test_support.slack_requests import post_command

pytestmark = pytest.mark.django_db

LA = ZoneInfo("America/Los_Angeles")
THURSDAY, FRIDAY = date(2031, 3, 13), date(2031, 3, 14)
APRIL_7, APRIL_9 = date(2031, 4, 7), date(2031, 4, 9)  # Monday – Wednesday, clear of US holidays
APRIL_14, APRIL_15 = date(2031, 4, 14), date(2031, 4, 15)
TEAM = replace(ENGINEERING, digest_time=time(9, 0))


# --- Steps ---------------------------------------------------------------------------------------------


def ask(client, fake_slack, user, leave_type, start, end, *, halves=(), view_id):
    view = open_request_form(client, fake_slack, user)
    response = submit_request(client, user, view, request_values(leave_type, start, end, halves=halves),
                              view_id=view_id, view_hash=f"h-{view_id}")
    assert response.status_code == 200 and response.content == b"", response.content
    return all_posted_requests(fake_slack)[-1]


def all_posted_requests(fake_slack) -> list:
    """Every request posted, whichever approvals channel it went to."""
    def event_type(metadata):
        metadata = json.loads(metadata) if isinstance(metadata, str) else metadata
        return metadata.get("event_type") if isinstance(metadata, dict) else None

    return [call for call in fake_slack.calls("chat.postMessage") if call.response.get("ok")
            and event_type(call.params.get("metadata")) == "timeoff_request"]


def company_with_leave(client, fake_slack, config=None, *, alice_halves=()):
    """Alice: Vacation Mon 10 – Wed 12 March approved, Mon 7 – Wed 9 April waiting. Dave: Vacation Thu 13 –
    Fri 14 March approved, Mon 14 – Tue 15 April waiting. Bob approved both. Returns the four posts."""
    install_config(config or standard_config(teams=(TEAM,)))
    alice_march = ask(client, fake_slack, ALICE, "vacation", MONDAY, WEDNESDAY, halves=alice_halves, view_id="V_A1")
    alice_april = ask(client, fake_slack, ALICE, "vacation", APRIL_7, APRIL_9, view_id="V_A2")
    dave_march = ask(client, fake_slack, DAVE, "vacation", THURSDAY, FRIDAY, view_id="V_D1")
    dave_april = ask(client, fake_slack, DAVE, "vacation", APRIL_14, APRIL_15, view_id="V_D2")
    assert len(posted_requests(fake_slack)) == 4
    click(client, fake_slack, BOB, ids.APPROVE_ACTION, alice_march)
    click(client, fake_slack, BOB, ids.APPROVE_ACTION, dave_march)
    assert statuses(fake_slack) == {"approved": 2, "pending": 2}
    return alice_march, alice_april, dave_march, dave_april


def statuses(fake_slack, channel=C_ENG_APPROVALS) -> dict:
    found: dict = {}
    for message in ledger_messages(fake_slack, channel):
        if message.metadata["event_type"] == "timeoff_request":
            status = message.metadata["event_payload"]["status"]
            found[status] = found.get(status, 0) + 1
    return found


def payload_of(fake_slack, posted) -> dict:
    channel, ts = posted.response["channel"], posted.response["ts"]
    [message] = [m for m in fake_slack.workspace.messages(channel) if m.ts == ts]
    return message.metadata["event_payload"]


def message_text_of(fake_slack, posted) -> str:
    channel, ts = posted.response["channel"], posted.response["ts"]
    [message] = [m for m in fake_slack.workspace.messages(channel) if m.ts == ts]
    return message.text + json.dumps(getattr(message, "blocks", None) or [])


def answered(client, text: str, user=ALICE) -> dict:
    """`/timeoff <text>` answered from a warm cache (asked twice: the first warms it)."""
    post_command(client, text, user_id=user)
    response = post_command(client, text, user_id=user)
    assert response.status_code == 200, response.content
    return response.json()


def shown(answer: dict) -> str:
    return answer.get("text", "") + json.dumps(answer.get("blocks", []), ensure_ascii=False)


def balance_text(client, user=ALICE, year=2031) -> str:
    return answered(client, f"balance {year}", user)["text"]


def line_of(text: str, word: str) -> str:
    [line] = [line for line in text.splitlines() if word in line]
    return line


def home_text(client, fake_slack, user, event_id) -> str:
    return json.dumps(open_app_home(client, fake_slack, user, event_id)["blocks"], ensure_ascii=False)


def told(fake_slack, user) -> list[str]:
    return ephemerals_to(fake_slack, user) + dms_to(fake_slack, user)


def csv_rows(response) -> list[dict]:
    assert response.status_code == 200, response.content[:500]
    return list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))


@pytest.fixture
def hr(client, django_user_model, fake_slack):
    """Hannah signed in to the console with every permission."""
    hannah = django_user_model.objects.create_superuser("hannah", "hannah@example.com", "a-long-test-password")
    client.force_login(hannah)
    return client


def edit_leave_type(hr, code: str, **changes):
    """The console's leave type form, sent as it opened with `changes` typed over it."""
    leave_type = LeaveType.objects.get(code=code)
    url = reverse("console:leave_type_edit", args=[leave_type.pk])
    form = hr.get(url).context["form"]
    data = {}
    for name, field in form.fields.items():
        value = form.initial.get(name, field.initial)
        if isinstance(value, bool):
            if value:
                data[name] = "on"
        elif value is not None:
            data[name] = str(value)
    for name, value in changes.items():
        if value is False:
            data.pop(name, None)
        elif value is True:
            data[name] = "on"
        else:
            data[name] = str(value)
    response = hr.post(url, data)
    assert response.status_code == 302, page_text(response)[:3000]
    return response


def ledger_csv(hr, year=2031) -> list[dict]:
    return csv_rows(hr.get(reverse("console:ledger_export"), {"year": year, "download": "1"}))


def balances_csv(hr, team="Engineering", year=2031) -> list[dict]:
    return csv_rows(hr.get(reverse("console:balances"), {"team": team, "year": year, "download": "1"}))


def balance_row(rows, user, leave_type="vacation") -> dict:
    [row] = [r for r in rows if r["user_id"] == user and r["leave_type"] == leave_type]
    return row


def announce_posts(fake_slack, channel=C_ENG) -> list[str]:
    return [call.params["text"] for call in fake_slack.calls("chat.postMessage")
            if call.params.get("channel") == channel and call.response.get("ok")]


def monday_digest(fake_slack, team="Engineering") -> str:
    """The weekly digest Engineering's announce channel gets on Monday 10 March 2031 at 09:00."""
    fake_slack.clear_calls()
    run_jobs(datetime(2031, 3, 10, 9, 0, tzinfo=LA), "--team", team)
    return "\n".join(announce_posts(fake_slack)) + "\n" + "\n".join(
        json.dumps(call.params.get("blocks") or [], ensure_ascii=False) for call in fake_slack.calls("chat.postMessage")
        if call.params.get("channel") == C_ENG and call.response.get("ok"))


# --- A leave type renamed ------------------------------------------------------------------------------


def test_a_leave_type_renamed_in_the_console_is_shown_by_its_new_name_on_every_surface(client, fake_slack, hr):
    _, alice_april, _, _ = company_with_leave(client, fake_slack)
    edit_leave_type(hr, "vacation", name="Holiday", emoji=":sunny:")
    fake_slack.clear_calls()

    listing = shown(answered(client, "list"))
    balance = balance_text(client)
    home = home_text(client, fake_slack, ALICE, "Ev_A_HOME")
    click(client, fake_slack, BOB, ids.APPROVE_ACTION, alice_april)
    decision = [t for t in dms_to(fake_slack, ALICE) if "approved" in t.lower()]
    announcement = [t for t in announce_posts(fake_slack) if f"<@{ALICE}>" in t]
    approvals_message = message_text_of(fake_slack, alice_april)
    rows = ledger_csv(hr)

    for where, text in (("list", listing), ("balance", balance), ("App Home", home),
                        ("decision DM", "\n".join(decision)), ("approvals message", approvals_message)):
        assert "Holiday" in text and "Vacation" not in text, f"{where}: {text[:1500]}"
    assert ":palm_tree:" not in approvals_message
    assert announcement and not any("Vacation" in t for t in announcement), announcement
    assert {row["type_name"] for row in rows if row["type"] == "vacation"} == {"Holiday"}
    assert payload_of(fake_slack, alice_april)["type"] == "vacation"  # the ledger keeps the code


def test_the_weekly_digest_names_existing_leave_by_the_types_new_name(client, fake_slack, hr):
    company_with_leave(client, fake_slack)
    edit_leave_type(hr, "vacation", name="Holiday", emoji=":sunny:")

    digest = monday_digest(fake_slack)

    assert f"<@{ALICE}>" in digest and f"<@{DAVE}>" in digest, digest
    assert "Vacation" not in digest and "palm_tree" not in digest, digest


# --- An allowance lowered below what was taken ---------------------------------------------------------


def test_an_allowance_lowered_below_taken_leave_shows_how_far_over_on_every_surface(client, fake_slack, hr):
    company_with_leave(client, fake_slack)
    edit_leave_type(hr, "vacation", annual_allowance_days="2")

    balance = line_of(balance_text(client), "Vacation")
    rows = balances_csv(hr)
    home = home_text(client, fake_slack, ALICE, "Ev_A_HOME_OVER")

    # Alice took 3 and has 3 waiting against 2: 4 over. Dave took 2 and has 2 waiting: 2 over.
    assert "4" in balance and "over" in balance, balance
    assert (balance_row(rows, ALICE)["allowance"], balance_row(rows, ALICE)["left"]) == ("2", "-4")
    assert (balance_row(rows, DAVE)["taken"], balance_row(rows, DAVE)["left"]) == ("2", "-2")
    assert "over" in home, home


def test_a_new_request_after_the_allowance_went_below_taken_says_none_is_left(client, fake_slack, hr):
    company_with_leave(client, fake_slack)
    edit_leave_type(hr, "vacation", annual_allowance_days="2")

    view = open_request_form(client, fake_slack, ALICE)
    response = submit_request(client, ALICE, view, request_values("vacation", date(2031, 5, 5), date(2031, 5, 5)),
                              view_id="V_MAY")

    errors = json.dumps(response.json().get("errors", {}))
    assert "You have no Vacation left in 2031; this request needs 1" in errors, errors


def test_withdrawing_and_cancelling_still_work_under_an_allowance_lowered_below_them(client, fake_slack, hr):
    alice_march, alice_april, _, _ = company_with_leave(client, fake_slack)
    edit_leave_type(hr, "vacation", annual_allowance_days="1")

    blocks = answered(client, "cancel")["blocks"]
    press(client, ALICE, blocks, ids.WITHDRAW_ACTION, channel=C_GENERAL, on_list=True)
    press(client, ALICE, blocks, ids.CANCEL_ACTION, channel=C_GENERAL, on_list=True)

    assert payload_of(fake_slack, alice_april)["status"] == "cancelled"
    assert payload_of(fake_slack, alice_march)["status"] == "cancelled"
    assert "taken 0, pending 0" in line_of(balance_text(client), "Vacation")


# --- Half days turned off, the longest request shortened ---------------------------------------------------


def test_approved_half_day_leave_keeps_its_half_day_after_half_days_are_turned_off(client, fake_slack, hr):
    alice_march, _, _, _ = company_with_leave(client, fake_slack, alice_halves=(ids.HALF_END_AM,))
    assert payload_of(fake_slack, alice_march)["days"] == 2.5
    edit_leave_type(hr, "vacation", allow_half_days=False)

    balance = line_of(balance_text(client), "Vacation")
    rows = balances_csv(hr)

    assert "taken 2.5" in balance, balance
    assert balance_row(rows, ALICE)["taken"] == "2.5"
    blocks = answered(client, "cancel")["blocks"]
    press(client, ALICE, blocks, ids.CANCEL_ACTION, channel=C_GENERAL, on_list=True)
    assert payload_of(fake_slack, alice_march)["status"] == "cancelled"
    assert "taken 0," in line_of(balance_text(client), "Vacation")


def test_a_request_next_to_approved_leave_longer_than_the_new_limit_is_refused_naming_the_run(client, fake_slack, hr):
    company_with_leave(client, fake_slack)
    edit_leave_type(hr, "vacation", max_consecutive_days="3")

    view = open_request_form(client, fake_slack, ALICE)
    response = submit_request(client, ALICE, view, request_values("vacation", THURSDAY, THURSDAY), view_id="V_THU")

    errors = json.dumps(response.json().get("errors", {}))
    assert "at most 3 working days in a row" in errors and "makes 4" in errors, errors


def test_a_pending_request_over_a_shortened_limit_can_be_edited_down_and_then_approved(client, fake_slack, hr):
    _, alice_april, _, _ = company_with_leave(client, fake_slack)
    edit_leave_type(hr, "vacation", max_consecutive_days="2")

    blocks = answered(client, "list")["blocks"]
    press(client, ALICE, blocks, ids.EDIT_ACTION, channel=C_GENERAL, on_list=True)
    form = fake_slack.last_call("views.open").params["view"]
    response = submit_request(client, ALICE, form, request_values("vacation", APRIL_7, date(2031, 4, 8)),
                              view_id="V_EDIT_SHORT")
    assert response.content == b"", response.content
    assert payload_of(fake_slack, alice_april)["end"] == "2031-04-08"

    fake_slack.clear_calls()
    click_as_it_stands(client, BOB, ids.APPROVE_ACTION, fake_slack, alice_april)

    assert payload_of(fake_slack, alice_april)["status"] == "approved", told(fake_slack, BOB)


def click_as_it_stands(client, user, action_id, fake_slack, posted):
    """Press a button on the request message as Slack shows it now (rewritten since it was posted)."""
    from test_support.slack_requests import block_actions_payload, post_interaction

    channel, ts = posted.response["channel"], posted.response["ts"]
    [message] = [m for m in fake_slack.workspace.messages(channel) if m.ts == ts]
    block_id, value = buttons_in(message.blocks)[action_id]
    return post_interaction(client, block_actions_payload(user_id=user, action_id=action_id, value=value,
                                                          block_id=block_id, channel_id=channel, message_ts=ts))


# --- A leave type made private after its leave was announced ---------------------------------------------


def test_a_type_made_private_is_shown_as_away_on_every_shared_surface_of_leave_announced_before(
        client, fake_slack, hr):
    _, alice_april, _, _ = company_with_leave(client, fake_slack)
    assert any("Vacation" in t or "palm_tree" in t for t in announce_posts(fake_slack))  # announced with its type
    edit_leave_type(hr, "vacation", private=True)

    digest = monday_digest(fake_slack)
    fake_slack.clear_calls()
    click(client, fake_slack, BOB, ids.APPROVE_ACTION, alice_april)
    announcement = [t for t in announce_posts(fake_slack) if f"<@{ALICE}>" in t]
    waiting = page_text(hr.get(reverse("console:whos_out")))

    assert f"<@{ALICE}>" in digest and "Vacation" not in digest and "palm_tree" not in digest, digest
    assert announcement and not any("Vacation" in t or "palm_tree" in t for t in announcement), announcement
    assert "Vacation" not in waiting.split("Waiting for a decision", 1)[-1], waiting
    # Alice herself still sees what she asked for.
    assert "Vacation" in shown(answered(client, "list"))


def test_dave_does_not_see_alices_leave_type_on_his_app_home_once_it_is_private(client, fake_slack, hr):
    today = datetime.now(LA).date()
    start = today + timedelta(days=1)
    while start.weekday() >= 5:
        start += timedelta(days=1)
    install_config(standard_config(teams=(TEAM,)))
    posted = ask(client, fake_slack, ALICE, "vacation", start, start, view_id="V_SOON")
    click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted)
    edit_leave_type(hr, "vacation", private=True)

    home = open_app_home(client, fake_slack, DAVE, "Ev_D2")["blocks"]
    who = shown(answered(client, "who", DAVE))

    [out_line] = [block["text"]["text"] for block in home
                  if block.get("type") == "section" and "<@U_ALICE>" in block["text"]["text"]]
    assert "away" in out_line and "Vacation" not in out_line and "palm_tree" not in out_line, out_line
    assert "<@U_ALICE>" in who and "Vacation" not in who and "palm_tree" not in who, who


# --- A leave type made to need no approval while requests of it wait ----------------------------------------


def test_requests_waiting_when_their_type_stops_needing_approval_can_still_be_approved(client, fake_slack, hr):
    _, alice_april, _, dave_april = company_with_leave(client, fake_slack)
    edit_leave_type(hr, "vacation", requires_approval=False)

    bobs_home = open_app_home(client, fake_slack, BOB, "Ev_BOB_NOAPP")
    fake_slack.clear_calls()
    click(client, fake_slack, BOB, ids.APPROVE_ACTION, alice_april)

    assert ids.APPROVE_ACTION in buttons_in(bobs_home["blocks"]), "the waiting requests left Bob's App Home"
    assert payload_of(fake_slack, alice_april)["status"] == "approved", told(fake_slack, BOB)
    assert payload_of(fake_slack, dave_april)["status"] == "pending"
    assert any("approved" in t.lower() for t in dms_to(fake_slack, ALICE))


def test_a_waiting_request_edited_after_its_type_stopped_needing_approval_is_recorded_at_once(
        client, fake_slack, hr):
    _, alice_april, _, _ = company_with_leave(client, fake_slack)
    edit_leave_type(hr, "vacation", requires_approval=False)

    blocks = answered(client, "list")["blocks"]
    press(client, ALICE, blocks, ids.EDIT_ACTION, channel=C_GENERAL, on_list=True)
    form = fake_slack.last_call("views.open").params["view"]
    response = submit_request(client, ALICE, form, request_values("vacation", APRIL_7, date(2031, 4, 8)),
                              view_id="V_EDIT_NOAPP")

    assert response.content == b"", response.content
    assert payload_of(fake_slack, alice_april)["status"] == "approved"


# --- A leave type deleted with pending and approved leave ---------------------------------------------------


def delete_leave_type(hr, code):
    leave_type = LeaveType.objects.get(code=code)
    response = hr.post(reverse("console:leave_type_delete", args=[leave_type.pk]))
    assert response.status_code == 302, page_text(response)[:2000]
    assert not LeaveType.objects.filter(code=code).exists()


def test_leave_of_a_deleted_type_stays_listed_and_in_hrs_records(client, fake_slack, hr):
    alice_march, alice_april, _, _ = company_with_leave(client, fake_slack)
    delete_leave_type(hr, "vacation")

    listing = answered(client, "list")
    home = home_text(client, fake_slack, ALICE, "Ev_A_DEL")
    rows = ledger_csv(hr)
    waiting = page_text(hr.get(reverse("console:whos_out")))

    assert listing["text"] == "Your time off: 1 pending, 1 coming up.", listing["text"]
    assert "Mon 10 Mar" in home and "Mon 7 Apr" in home, home
    assert {row["type_name"] for row in rows if row["type"] == "vacation"} == {"vacation"}
    assert len([row for row in rows if row["type"] == "vacation"]) == 4
    assert "Mon 7 Apr" in waiting.split("Waiting for a decision", 1)[-1], waiting


def test_a_request_of_a_deleted_type_can_be_rejected_and_alice_is_told(client, fake_slack, hr):
    _, alice_april, _, _ = company_with_leave(client, fake_slack)
    delete_leave_type(hr, "vacation")
    fake_slack.clear_calls()

    click(client, fake_slack, BOB, ids.REJECT_ACTION, alice_april)
    opened = fake_slack.calls("views.open")

    assert opened and opened[-1].response["ok"], "Reject opened no reason form"


# --- A team renamed, its approvals channel moved --------------------------------------------------------


def test_a_team_renamed_in_the_console_keeps_its_leave_on_the_consoles_pages_and_in_its_digest(
        client, fake_slack, hr):
    _, alice_april, _, _ = company_with_leave(client, fake_slack)
    edit_team(hr, "Engineering", name="Software")
    assert Team.objects.get(name="Software").past_names == ["Engineering"]

    rows = balances_csv(hr, team="Software")
    digest = monday_digest(fake_slack, team="Software")
    fake_slack.clear_calls()
    click(client, fake_slack, BOB, ids.APPROVE_ACTION, alice_april)

    assert (balance_row(rows, ALICE)["team"], balance_row(rows, ALICE)["taken"]) == ("Software", "3")
    assert f"<@{ALICE}>" in digest and f"<@{DAVE}>" in digest, digest
    assert payload_of(fake_slack, alice_april)["status"] == "approved", told(fake_slack, BOB)
    assert "Software" in balance_text(client)


def test_after_the_approvals_channel_moves_old_requests_are_decided_and_counted_with_new_ones(
        client, fake_slack, hr):
    fake_slack.workspace.channels[C_OLD_APPROVALS].members.update({BOB, DAVE, HR})
    _, alice_april, _, dave_april = company_with_leave(client, fake_slack)
    edit_team(hr, "Engineering", approvals_channel="#old-approvals")
    team = Team.objects.get(name="Engineering")
    assert (team.approvals_channel, list(team.past_approvals_channels)) == (C_OLD_APPROVALS, [C_ENG_APPROVALS])

    new = ask(client, fake_slack, ALICE, "vacation", date(2031, 5, 5), date(2031, 5, 5), view_id="V_MAY")
    assert new.params["channel"] == C_OLD_APPROVALS
    bobs_home = open_app_home(client, fake_slack, BOB, "Ev_BOB_MOVED")
    click(client, fake_slack, BOB, ids.APPROVE_ACTION, alice_april)

    assert home_lists_requests(bobs_home) == 3, bobs_home  # two in the old channel, one in the new
    assert payload_of(fake_slack, alice_april)["status"] == "approved"
    assert "taken 6, pending 1" in line_of(balance_text(client), "Vacation")
    assert len([row for row in ledger_csv(hr) if row["user"] == ALICE]) == 3


def home_lists_requests(home) -> int:
    return sum(1 for block in home["blocks"] if block.get("type") == "actions"
               for element in block.get("elements", []) if element.get("action_id") == ids.APPROVE_ACTION)


# --- A team's work week and public holidays changed ----------------------------------------------------


def test_a_work_week_change_keeps_recorded_days_in_the_consoles_balances_and_csv(client, fake_slack, hr):
    alice_march, _, _, _ = company_with_leave(client, fake_slack)
    edit_team(hr, "Engineering", workweek=["0", "1", "3"])  # Wednesdays off now

    rows = balances_csv(hr)
    ledger_rows = [row for row in ledger_csv(hr) if row["user"] == ALICE and row["start"] == "2031-03-10"]

    assert balance_row(rows, ALICE)["taken"] == "3", balance_row(rows, ALICE)
    assert [row["days"] for row in ledger_rows] == ["3"], ledger_rows
    assert "taken 3, pending 3" in line_of(balance_text(client), "Vacation")


def test_cancelling_leave_after_a_work_week_change_gives_back_the_days_it_took(client, fake_slack, hr):
    alice_march, _, _, _ = company_with_leave(client, fake_slack)
    edit_team(hr, "Engineering", workweek=["0", "3", "4"])  # Tuesdays and Wednesdays off now

    blocks = answered(client, "cancel")["blocks"]
    press(client, ALICE, blocks, ids.CANCEL_ACTION, channel=C_GENERAL, on_list=True)

    assert payload_of(fake_slack, alice_march)["status"] == "cancelled"
    assert "taken 0, pending 3" in line_of(balance_text(client), "Vacation")


def test_a_holidays_country_change_keeps_recorded_days_of_leave_over_a_new_public_holiday(client, fake_slack, hr):
    # Mon 21 April 2031 is Easter Monday in England, a working day in California.
    install_config(standard_config(teams=(TEAM,)))
    posted = ask(client, fake_slack, ALICE, "vacation", date(2031, 4, 21), date(2031, 4, 23), view_id="V_EASTER")
    click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted)
    assert payload_of(fake_slack, posted)["days"] == 3
    edit_team(hr, "Engineering", holiday_country="GB", holiday_subdivision="ENG", timezone="Europe/London")

    listing = shown(answered(client, "list"))
    balance = line_of(balance_text(client), "Vacation")
    rows = balances_csv(hr)

    assert "(3 working days)" in listing, listing
    assert "taken 3" in balance, balance
    assert balance_row(rows, ALICE)["taken"] == "3"


# --- A team deleted with pending requests; two teams merged --------------------------------------------------

SALES = TeamConfig(name="Sales", members=MemberSource(users=(CAROL,)), approvers=ApproverSource(users=(DAVE,)),
                   approvals_channel=C_OLD_APPROVALS, announce_channel=C_GENERAL, timezone="America/Los_Angeles")


def sales_with_leave(client, fake_slack, max_out=None):
    """Carol (Sales) has Mon 10 – Wed 12 March approved by Dave and Mon 7 – Wed 9 April waiting."""
    fake_slack.workspace.channels[C_OLD_APPROVALS].members.update({DAVE, HR, BOB})
    install_config(standard_config(teams=(SALES, replace(TEAM, max_out=max_out))))
    march = ask(client, fake_slack, CAROL, "vacation", MONDAY, WEDNESDAY, view_id="V_C1")
    april = ask(client, fake_slack, CAROL, "vacation", APRIL_7, APRIL_9, view_id="V_C2")
    click(client, fake_slack, DAVE, ids.APPROVE_ACTION, march)
    assert statuses(fake_slack, C_OLD_APPROVALS) == {"approved": 1, "pending": 1}
    return march, april


def test_a_team_deleted_in_the_console_leaves_its_pending_requests_to_hr(client, fake_slack, hr):
    _, april = sales_with_leave(client, fake_slack)
    response = hr.post(reverse("console:team_delete", args=[Team.objects.get(name="Sales").pk]))
    assert response.status_code == 302
    fake_slack.clear_calls()

    click(client, fake_slack, DAVE, ids.APPROVE_ACTION, april)
    assert payload_of(fake_slack, april)["status"] == "pending"
    assert any("HR" in t or "<@U_HR>" in t for t in told(fake_slack, DAVE)), told(fake_slack, DAVE)
    hrs_home = open_app_home(client, fake_slack, HR, "Ev_HR_SALES")
    assert ids.APPROVE_ACTION in buttons_in(hrs_home["blocks"])

    click(client, fake_slack, HR, ids.APPROVE_ACTION, april)
    assert payload_of(fake_slack, april)["status"] == "approved", told(fake_slack, HR)
    assert any("approved" in t.lower() for t in dms_to(fake_slack, CAROL))


def merge_sales_into_engineering(tmp_path, *, keep_name: bool):
    """Sales is folded into Engineering with a configuration file: Carol becomes an Engineering member;
    `keep_name`: Engineering lists Sales among its earlier names, so Sales's requests are its leave."""
    exported = tmp_path / "config.json"
    call_command("export_config", str(exported), stdout=StringIO())
    data = json.loads(exported.read_text())
    data["teams"] = [team for team in data["teams"] if team["name"] != "Sales"]
    [engineering] = data["teams"]
    engineering["members"]["users"] = [CAROL]
    if keep_name:
        engineering["past_names"] = ["Sales"]
    exported.write_text(json.dumps(data))
    out = StringIO()
    call_command("import_config", str(exported), "--replace", stdout=out)
    return out.getvalue()


def test_teams_merged_by_file_keep_the_merged_teams_channel_and_let_the_new_approvers_decide(
        client, fake_slack, hr, tmp_path):
    march, april = sales_with_leave(client, fake_slack)

    summary = merge_sales_into_engineering(tmp_path, keep_name=True)
    fake_slack.clear_calls()
    click(client, fake_slack, BOB, ids.APPROVE_ACTION, april)

    assert "- team Sales" in summary and C_OLD_APPROVALS in summary, summary
    assert payload_of(fake_slack, april)["status"] == "approved", told(fake_slack, BOB)
    assert "taken 6, pending 0" in line_of(balance_text(client, CAROL), "Vacation")
    assert balance_row(balances_csv(hr), CAROL)["taken"] == "6"


def test_after_a_merge_the_merged_teams_approved_leave_counts_towards_max_out(client, fake_slack, hr, tmp_path):
    # Engineering allows one person out at a time. Carol, from Sales, is off Mon 10 – Wed 12 March.
    sales_with_leave(client, fake_slack, max_out=1)
    merge_sales_into_engineering(tmp_path, keep_name=True)

    view = open_request_form(client, fake_slack, ALICE)
    response = submit_request(client, ALICE, view, request_values("vacation", WEDNESDAY, WEDNESDAY), view_id="V_MO")

    errors = json.dumps(response.json().get("errors", {})) if response.content else ""
    assert "max" in errors.lower() or "out" in errors.lower(), (
        f"Alice's Wednesday was accepted with Carol (merged in from Sales) already out: {errors!r}")


def merge_sales_into_engineering_in_the_console(hr):
    """HR deletes Sales in the console, saying its people join Engineering, and adds Carol to Engineering."""
    sales, engineering = Team.objects.get(name="Sales"), Team.objects.get(name=TEAM.name)
    page = hr.get(reverse("console:team_delete", args=[sales.pk])).text
    assert f'<option value="{engineering.pk}">{TEAM.name}</option>' in page, page
    response = hr.post(reverse("console:team_delete", args=[sales.pk]), {"merge_into": str(engineering.pk)},
                       follow=True)
    assert "its leave now counts as" in response.text, response.text
    engineering.refresh_from_db()
    engineering.members_users = [*engineering.members_users, CAROL]
    engineering.save()


def test_teams_merged_in_the_console_count_the_merged_teams_leave_and_its_approvers_decide(client, fake_slack, hr):
    # Engineering allows one person out at a time. Carol, from Sales, is off Mon 10 – Wed 12 March.
    march, april = sales_with_leave(client, fake_slack, max_out=1)
    merge_sales_into_engineering_in_the_console(hr)
    assert Team.objects.get(name=TEAM.name).past_names == ["Sales"]

    view = open_request_form(client, fake_slack, ALICE)
    response = submit_request(client, ALICE, view, request_values("vacation", WEDNESDAY, WEDNESDAY), view_id="V_MC")
    errors = json.dumps(response.json().get("errors", {})) if response.content else ""
    assert "max" in errors.lower() or "out" in errors.lower(), (
        f"Alice's Wednesday was accepted with Carol (merged in from Sales) already out: {errors!r}")

    fake_slack.clear_calls()
    click(client, fake_slack, BOB, ids.APPROVE_ACTION, april)  # Engineering's approver decides Sales's request
    assert payload_of(fake_slack, april)["status"] == "approved", told(fake_slack, BOB)


def test_a_team_deleted_without_a_merge_keeps_nobody_elses_names(client, fake_slack, hr):
    sales_with_leave(client, fake_slack)
    response = hr.post(reverse("console:team_delete", args=[Team.objects.get(name="Sales").pk]), {"merge_into": ""},
                       follow=True)
    assert "Sales deleted." in response.text
    assert Team.objects.get(name=TEAM.name).past_names == []


def test_merging_into_a_team_deleted_meanwhile_deletes_nothing_and_says_so(client, fake_slack, hr):
    sales_with_leave(client, fake_slack)
    response = hr.post(reverse("console:team_delete", args=[Team.objects.get(name="Sales").pk]),
                       {"merge_into": "987654"}, follow=True)
    assert "no longer exists; choose again" in response.text
    assert Team.objects.filter(name="Sales").exists()


def test_a_merge_into_a_team_a_colleague_deletes_at_that_moment_deletes_nothing(client, fake_slack, hr, monkeypatch):
    from approvals import console_services

    sales_with_leave(client, fake_slack)
    sales, engineering = Team.objects.get(name="Sales"), Team.objects.get(name=TEAM.name)
    original = console_services.team_delete

    def colleague_deletes_engineering_first(**kwargs):
        Team.objects.filter(pk=engineering.pk).delete()
        return original(**kwargs)

    monkeypatch.setattr(console_services, "team_delete", colleague_deletes_engineering_first)
    response = hr.post(reverse("console:team_delete", args=[sales.pk]), {"merge_into": str(engineering.pk)},
                       follow=True)
    assert "take over its leave no longer exists; choose again" in response.text
    assert Team.objects.filter(pk=sales.pk).exists()


def test_after_a_merge_without_the_old_name_the_weekly_digest_still_names_who_is_out(
        client, fake_slack, hr, tmp_path):
    sales_with_leave(client, fake_slack)
    merge_sales_into_engineering(tmp_path, keep_name=False)

    digest = monday_digest(fake_slack)

    assert f"<@{CAROL}>" in digest, digest


# --- A company day and a blackout added over approved leave -----------------------------------------------


def test_a_company_day_over_approved_leave_keeps_it_listed_and_cancelling_gives_back_what_it_took(
        client, fake_slack, hr):
    alice_march, _, _, _ = company_with_leave(client, fake_slack)
    response = hr.post(reverse("console:holiday_add"), {"date": "2031-03-11", "name": "Founders' day", "team": ""},
                       follow=True)
    warning = page_text(response)
    assert "Alice Adams (approved)" in warning, warning

    assert "(3 working days)" in shown(answered(client, "list"))
    digest = monday_digest(fake_slack)
    assert "Founders" in digest and f"<@{ALICE}>" in digest, digest

    blocks = answered(client, "cancel")["blocks"]
    press(client, ALICE, blocks, ids.CANCEL_ACTION, channel=C_GENERAL, on_list=True)
    assert payload_of(fake_slack, alice_march)["status"] == "cancelled"
    assert "taken 0, pending 3" in line_of(balance_text(client), "Vacation")


def test_a_blackout_over_approved_leave_leaves_it_approved_and_it_can_still_be_cancelled(client, fake_slack, hr):
    alice_march, _, dave_march, _ = company_with_leave(client, fake_slack)
    response = hr.post(reverse("console:blackout_add"), {"start": "2031-03-09", "end": "2031-03-15", "team": "",
                                                          "reason": "Release freeze"}, follow=True)
    assert response.status_code == 200 and Blackout.objects.count() == 1

    assert shown(answered(client, "list")).count("Mon 10 Mar") >= 1
    blocks = answered(client, "cancel")["blocks"]
    press(client, ALICE, blocks, ids.CANCEL_ACTION, channel=C_GENERAL, on_list=True)

    assert payload_of(fake_slack, alice_march)["status"] == "cancelled", told(fake_slack, ALICE)
    assert payload_of(fake_slack, dave_march)["status"] == "approved"


def test_adding_a_blackout_over_approved_leave_tells_hr_whose_leave_is_inside_it(client, fake_slack, hr):
    # As a company day added over leave names whose leave it falls in, a freeze declared over leave already
    # approved should say whose: HR decides whether to ask them to move it.
    company_with_leave(client, fake_slack)

    response = hr.post(reverse("console:blackout_add"), {"start": "2031-03-09", "end": "2031-03-15", "team": "",
                                                          "reason": "Release freeze"}, follow=True)

    text = page_text(response)
    assert "Alice Adams" in text and "Dave Diaz" in text, text[:3000]
    assert "have leave in the blackout" in text and "refuses new requests only" in text, text[:3000]


def next_monday() -> date:
    today = datetime.now(LA).date()
    return today + timedelta(days=7 - today.weekday())


def test_whos_out_of_a_renamed_team_shows_its_leave_recorded_under_the_old_name(client, fake_slack, hr):
    monday = next_monday()
    install_config(standard_config(teams=(TEAM,)))
    approved = ask(client, fake_slack, ALICE, "vacation", monday, monday + timedelta(days=1), view_id="V_SOON1")
    ask(client, fake_slack, DAVE, "vacation", monday + timedelta(days=2), monday + timedelta(days=2),
        view_id="V_SOON2")
    click(client, fake_slack, BOB, ids.APPROVE_ACTION, approved)
    edit_team(hr, "Engineering", name="Software")

    page = page_text(hr.get(reverse("console:whos_out"), {"team": "Software", "weeks": "2"}))
    calendar, waiting = page.split("Waiting for a decision", 1) if "Waiting for a decision" in page else (page, "")
    if page.index("Waiting for a decision") < page.index("Week of"):
        waiting, calendar = page.split("Week of", 1)

    assert "Alice Adams" in calendar, page[:3000]
    assert "Dave Diaz" in waiting and "Software" in waiting, page[:3000]


def test_an_import_moving_the_approvals_channel_keeps_the_old_one_read(client, fake_slack, hr, tmp_path):
    # HR edits an export: Engineering's approvals go to #old-approvals now. The file keeps the
    # `past_approvals_channels: []` the export wrote; the old channel must still be read.
    fake_slack.workspace.channels[C_OLD_APPROVALS].members.update({BOB, DAVE, HR})
    _, alice_april, _, _ = company_with_leave(client, fake_slack)
    exported = tmp_path / "config.json"
    call_command("export_config", str(exported), stdout=StringIO())
    data = json.loads(exported.read_text())
    data["teams"][0]["approvals_channel"] = C_OLD_APPROVALS
    exported.write_text(json.dumps(data))
    out = StringIO()
    call_command("import_config", str(exported), "--no-input", stdout=out)

    assert list(Team.objects.get(name="Engineering").past_approvals_channels) == [C_ENG_APPROVALS], out.getvalue()
    run_jobs(datetime(2031, 3, 11, 2, 0, tzinfo=ZoneInfo("UTC")))  # the nightly full read
    click(client, fake_slack, BOB, ids.APPROVE_ACTION, alice_april)
    assert payload_of(fake_slack, alice_april)["status"] == "approved"
    assert "taken 6, pending 0" in line_of(balance_text(client), "Vacation")


def test_a_pending_request_approved_after_a_new_public_holiday_keeps_its_recorded_days(client, fake_slack, hr):
    # Mon 21 – Wed 23 April 2031 is 3 working days in California; Easter Monday makes it 2 in England.
    install_config(standard_config(teams=(TEAM,)))
    posted = ask(client, fake_slack, ALICE, "vacation", date(2031, 4, 21), date(2031, 4, 23), view_id="V_EASTER")
    edit_team(hr, "Engineering", holiday_country="GB", holiday_subdivision="ENG", timezone="Europe/London")

    listed_before = shown(answered(client, "list"))
    click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted)
    decision = "\n".join(t for t in dms_to(fake_slack, ALICE) if "approved" in t.lower())
    balance = line_of(balance_text(client), "Vacation")

    days = payload_of(fake_slack, posted)["days"]
    assert f"({days:g} working days)" in listed_before, listed_before
    assert f"({days:g} working days)" in decision, decision
    assert f"taken {days:g}," in balance, balance
