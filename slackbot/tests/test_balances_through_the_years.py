"""A year of balances as HR and employees live it.

HR records opening balances, carry-over and corrections in the console (whole, half and negative days),
changes a type's allowance mid-year, adds company days after leave was booked, and records leave for people
with `/timeoff for` and the console. Employees book leave across New Year, half days, edit what is pending,
and ask for types without a yearly limit. Each time the balance is read where people read it: `/timeoff
balance [YEAR]`, the form's live preview, App Home, the approvals message's "After this request", the
console's Balances page and its CSV, the ledger CSV and the nightly export; and a refusal that mentions the
allowance must say whose days, how many are left and how many the request needs, in the year that lacks them.

All dates lie in next year and the one after (in Alice's zone), so nothing here is "in the past".
"""

import csv
import io
import json
import re
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone as dt_timezone
from decimal import Decimal

import holidays as holidays_package
import pytest
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from approvals import block_ids as ids
from approvals.config_types import LeaveTypeConfig
from approvals.models import LeaveType
from approvals.rules import Adjustment
from approvals.selectors import local_today
from fake_slack.ledger_seed import seed_ledger
from fake_slack.personas import ALICE, BOB, C_ENG_APPROVALS, HR
from test_support.flows import (
    SICK,
    VACATION,
    click,
    dms_to,
    install_config,
    open_app_home,
    open_request_form,
    posted_requests,
    press,
    request_values,
    standard_config,
    submit_request,
)
from test_support.slack_requests import post_command, post_interaction, view_submission_payload

pytestmark = pytest.mark.django_db

THIS_YEAR = local_today("America/Los_Angeles").year
Y = THIS_YEAR + 1  # the year HR may still adjust (adjustments reach next year at most)
Y2 = Y + 1

UNPAID = LeaveTypeConfig(code="unpaid", name="Unpaid leave", emoji=":money_with_wings:", requires_approval=True,
                         allow_half_days=True)
TRAINING = LeaveTypeConfig(code="training", name="Training", emoji=":books:", requires_approval=True,
                           allow_half_days=False)

_PUBLIC = holidays_package.country_holidays("US", subdiv="CA", years=range(Y - 1, Y2 + 2))


def working(day: date) -> bool:
    return day.weekday() < 5 and day not in _PUBLIC


def monday_in(year: int, month: int, day: int = 1) -> date:
    """The first Monday on or after the day that is a working day all week (no public holiday in it)."""
    start = date(year, month, day)
    start += timedelta(days=(7 - start.weekday()) % 7)
    while not all(working(start + timedelta(days=n)) for n in range(5)):
        start += timedelta(days=7)
    return start


def working_days_between(start: date, end: date) -> dict[int, int]:
    found: dict[int, int] = {}
    day = start
    while day <= end:
        if working(day):
            found[day.year] = found.get(day.year, 0) + 1
        day += timedelta(days=1)
    return found


def last_working_day(year: int) -> date:
    day = date(year, 12, 31)
    while not working(day):
        day -= timedelta(days=1)
    return day


def first_working_day(year: int) -> date:
    day = date(year, 1, 1)
    while not working(day):
        day += timedelta(days=1)
    return day


# Across New Year: the Monday of the last full week of Y to the Wednesday of the first week of Y2.
NEW_YEAR_START = date(Y, 12, 31) - timedelta(days=(date(Y, 12, 31).weekday() - 0) % 7)  # Monday of the last week
NEW_YEAR_END = first_working_day(Y2) + timedelta(days=2)
while not working(NEW_YEAR_END):
    NEW_YEAR_END += timedelta(days=1)
NEW_YEAR_SPLIT = working_days_between(NEW_YEAR_START, NEW_YEAR_END)


def num(value) -> str:
    value = Decimal(value)
    return "0" if value == 0 else format(value.normalize(), "f")


def setup(*, allowance=Decimal(25), extra_types=()):
    vacation = replace(VACATION, annual_allowance_days=allowance)
    return install_config(standard_config(leave_types=(vacation, SICK, *extra_types)))


# --- Console ------------------------------------------------------------------------------------


@pytest.fixture
def hr(fake_slack, django_user_model):
    hannah = django_user_model.objects.create_user("hannah", "hannah@example.com", "a-long-test-password",
                                                   is_staff=True)
    for codename in ("record_adjustment", "view_leave_records", "record_leave_for_others", "change_leavetype",
                     "view_leavetype", "add_companyholiday", "view_companyholiday"):
        hannah.user_permissions.add(Permission.objects.get(codename=codename))
    console = Client()
    console.force_login(hannah)
    console.get(reverse("console:search"), {"q": "alice"})  # the directory is read (immediate tasks)
    return console


def adjust(hr, days: str, year: int, reason: str, leave_type="vacation"):
    response = hr.post(reverse("console:adjust"), {"user": "alice@example.com", "leave_type": leave_type,
                                                   "days": days, "year": year, "reason": reason}, follow=True)
    return response


def adjusted(hr, days: str, year: int, reason: str):
    response = adjust(hr, days, year, reason)
    assert "Recorded" in response.text, response.context["form"].errors if response.context else response.text


def edit_leave_type(hr, code: str, **changes):
    """HR opens the leave type's form in the console, changes some fields and saves it."""
    row = LeaveType.objects.get(code=code)
    url = reverse("console:leave_type_edit", args=[row.pk])
    form = hr.get(url).context["form"]
    data = {}
    for name, field in form.fields.items():
        value = form[name].value()
        if isinstance(value, bool):
            if value:
                data[name] = "on"
            continue
        data[name] = "" if value is None else value
    for name, value in changes.items():
        if isinstance(value, bool):
            if value:
                data[name] = "on"
            else:
                data.pop(name, None)
        else:
            data[name] = value
    response = hr.post(url, data)
    assert response.status_code == 302, response.context["form"].errors


def console_balance(hr, year: int, code="vacation") -> dict:
    response = hr.get(reverse("console:balances"), {"team": "Engineering", "year": year, "download": "1"})
    assert response["Content-Type"].startswith("text/csv"), response.text[:1000]
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    [row] = [r for r in rows if r["user_id"] == ALICE and r["leave_type"] == code]
    return row


def console_page_cell(hr, year: int, code="vacation"):
    response = hr.get(reverse("console:balances"), {"team": "Engineering", "year": year})
    table = response.context["table"]
    [row] = [r for r in table.rows if r.user == ALICE]
    return next(b for b in row.balances if b.leave_type == code), response.text


def ledger_csv(hr, year: int) -> list[dict]:
    response = hr.get(reverse("console:ledger_export"), {"download": "1", "year": year})
    assert response.status_code == 200
    return list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))


# --- Slack ----------------------------------------------------------------------------------------


def balance(client, fake_slack, text="balance", user=ALICE) -> str:
    before = len(dms_to(fake_slack, user))
    response = post_command(client, text, user_id=user)
    assert response.status_code == 200, response.content
    answer = response.json()["text"]
    if answer.startswith("Checking your balance"):
        dms = dms_to(fake_slack, user)[before:]
        assert dms, "the balance DM never came"
        return dms[-1]
    return answer


def line_of(text: str, name: str, year: int) -> str:
    """The line of leave type `name` in the part of a balance answer for `year`."""
    part = text.split(f"*Your leave in {year}*", 1)
    assert len(part) == 2, text
    for line in part[1].split("\n")[1:]:
        if line.startswith("*Your leave in"):
            break
        if f" {name}:" in line or line.startswith(f"• {name}:"):
            return line.strip()
    raise AssertionError(f"no {name} line for {year} in {text}")


_forms = []


def send(client, fake_slack, leave_type, start, end, halves=(), user=ALICE):
    """The form opened and sent; returns the response (b"" when accepted)."""
    view = open_request_form(client, fake_slack, user)
    _forms.append(1)
    return submit_request(client, user, view, request_values(leave_type, start, end, halves=halves),
                          view_id=f"V_Y{len(_forms)}", view_hash=f"hy{len(_forms)}")


def sent(client, fake_slack, leave_type, start, end, halves=()):
    before = len(posted_requests(fake_slack))
    response = send(client, fake_slack, leave_type, start, end, halves)
    assert response.content == b"", response.content
    posts = posted_requests(fake_slack)
    assert len(posts) == before + 1
    return posts[-1]


def refusal(response) -> str:
    assert response.content != b"", "the request was accepted"
    body = response.json()
    assert body["response_action"] == "errors", body
    return " | ".join(body["errors"].values())


def after_lines(blocks_or_text) -> list[str]:
    text = blocks_or_text if isinstance(blocks_or_text, str) else json.dumps(blocks_or_text)
    return re.findall(r"After this request: [^\"\\]*? in \d{4}", text)


def preview(client, fake_slack, start, end, leave_type="vacation") -> str:
    view = open_request_form(client, fake_slack, ALICE, f"{start} {end} {leave_type}")
    return json.dumps(view["blocks"])


def home_text(client, fake_slack, event_id: str) -> str:
    view = open_app_home(client, fake_slack, ALICE, event_id)
    return "\n".join(b["text"]["text"] for b in view["blocks"] if b.get("type") == "section" and "text" in b)


def last_home_text(fake_slack) -> str:
    call = [c for c in fake_slack.calls("views.publish") if c.params["user_id"] == ALICE][-1]
    view = call.params["view"]
    view = json.loads(view) if isinstance(view, str) else view
    return "\n".join(b["text"]["text"] for b in view["blocks"] if b.get("type") == "section" and "text" in b)


def request_id_of(post) -> str:
    metadata = post.params["metadata"]
    metadata = json.loads(metadata) if isinstance(metadata, str) else metadata
    return metadata["event_payload"]["id"]


def press_on_list(client, fake_slack, request_id: str, action_id: str, word="list"):
    """Press `action_id` on the row of `request_id` in Alice's `/timeoff list` (or `cancel`)."""
    blocks = post_command(client, word, user_id=ALICE).json()["blocks"]
    actions = [b for b in blocks if b.get("type") == "actions"
               and any(request_id in e.get("value", "") and e.get("action_id") == action_id for e in b["elements"])]
    assert actions, blocks
    press(client, ALICE, actions, action_id, channel="C_ENG", on_list=True)


# === Opening balances, carry-over and corrections ===================================================


def test_carry_over_opening_balance_and_a_half_day_correction_add_up_on_every_surface(client, fake_slack, hr):
    setup()
    adjusted(hr, "5", Y, "carry-over")
    adjusted(hr, "2", Y, "opening balance")
    adjusted(hr, "-0.50", Y, "correction")

    text = balance(client, fake_slack, f"balance {Y}")
    assert line_of(text, "Vacation", Y) == (
        "• :palm_tree: Vacation: *31.5 days left* — allowance 25, adjustments +6.5, taken 0, pending 0")
    row = console_balance(hr, Y)
    assert [row[k] for k in ("allowance", "adjustments", "taken", "pending", "left")] == ["25", "6.5", "0", "0",
                                                                                         "31.5"]
    cell, _ = console_page_cell(hr, Y)
    assert cell.remaining == Decimal("31.5")
    day = monday_in(Y, 3)
    assert after_lines(preview(client, fake_slack, day, day)) == [
        f"After this request: 30.5 of 31.5 days of Vacation left in {Y}"]


def test_app_home_shows_the_new_balance_after_hr_records_carry_over(client, fake_slack, hr):
    setup()
    day = monday_in(Y, 2)
    sent(client, fake_slack, "vacation", day, day)  # so App Home shows next year's balance too, whatever today is
    home = home_text(client, fake_slack, "Ev_HOME_BEFORE")
    assert "24 days left" in line_of(home, "Vacation", Y), home
    adjusted(hr, "3", Y, "carry-over")

    home = last_home_text(fake_slack)  # republished by itself: Alice opened it a moment ago
    assert f"Your leave in {Y}" in home, home
    assert line_of(home, "Vacation", Y) == (
        "• :palm_tree: Vacation: *27 days left* — allowance 25, adjustments +3, taken 0, pending 1")


def test_a_correction_typed_as_half_a_day_reads_the_same_in_the_ledger_csv_as_in_slack(client, fake_slack, hr):
    setup()
    adjusted(hr, "0.50", Y, "correction")
    adjusted(hr, "2.0", Y, "carry-over")

    rows = sorted((r["days"], r["reason"]) for r in ledger_csv(hr, Y) if r["kind"] == "adjustment")
    message = [m.text for m in fake_slack.workspace.messages(C_ENG_APPROVALS) if "0.5" in m.text]
    assert message and "+0.5 days of Vacation" in message[0], message
    # HR's spreadsheet reads the days as the ledger in Slack records them (0.5, 2), not as typed ("0.50", "2.0").
    assert rows == [("0.5", "correction"), ("2", "carry-over")], rows


def test_an_adjustment_for_a_type_without_a_yearly_allowance_is_refused_with_the_reason(client, fake_slack, hr):
    setup(extra_types=(UNPAID,))
    response = adjust(hr, "2", Y, "opening balance", leave_type="unpaid")
    assert "Recorded" not in response.text
    errors = response.context["form"].errors
    assert "Unpaid leave has no yearly allowance" in " ".join(errors.get("leave_type", [])), errors
    assert not [m for m in fake_slack.workspace.messages(C_ENG_APPROVALS) if m.metadata]


def test_a_negative_correction_below_zero_shows_over_the_allowance_and_refuses_with_no_days_left(
        client, fake_slack, hr):
    setup(allowance=Decimal(3))
    adjusted(hr, "-4", Y, "joined in October, pro-rated")

    assert line_of(balance(client, fake_slack, f"balance {Y}"), "Vacation", Y) == (
        "• :palm_tree: Vacation: *1 day over the allowance* — allowance 3, adjustments -4, taken 0, pending 0")
    assert console_balance(hr, Y)["left"] == "-1"
    day = monday_in(Y, 3)
    assert refusal(send(client, fake_slack, "vacation", day, day)) == (
        f"You have no Vacation left in {Y}; this request needs 1")


# === Refusals that mention the allowance =============================================================


def test_the_refusal_says_one_day_left_and_how_many_the_request_needs(client, fake_slack, hr):
    setup(allowance=Decimal(4))
    monday = monday_in(Y, 3)
    post = sent(client, fake_slack, "vacation", monday, monday + timedelta(days=2))
    click(client, fake_slack, BOB, ids.APPROVE_ACTION, post)
    later = monday_in(Y, 5)
    assert refusal(send(client, fake_slack, "vacation", later, later + timedelta(days=1))) == (
        f"You have 1 day of Vacation left in {Y}; this request needs 2")


def test_half_a_day_left_refuses_a_whole_day_and_takes_a_half_day_to_zero(client, fake_slack, hr):
    setup(allowance=Decimal(2))
    adjusted(hr, "-1.5", Y, "correction")
    day = monday_in(Y, 4)
    assert refusal(send(client, fake_slack, "vacation", day, day)) == (
        f"You have 0.5 days of Vacation left in {Y}; this request needs 1")

    post = sent(client, fake_slack, "vacation", day, day, halves=(ids.HALF_END_AM,))
    assert after_lines(post.params["blocks"]) == [f"After this request: 0 of 0.5 days of Vacation left in {Y}"]
    assert line_of(balance(client, fake_slack, f"balance {Y}"), "Vacation", Y) == (
        "• :palm_tree: Vacation: *0 days left* — allowance 2, adjustments -1.5, taken 0, pending 0.5")


def test_leave_across_new_year_is_refused_in_the_year_that_lacks_days_with_that_years_count(client, fake_slack, hr):
    in_first = NEW_YEAR_SPLIT[Y]
    setup(allowance=Decimal(in_first - 1))
    response = send(client, fake_slack, "vacation", NEW_YEAR_START, NEW_YEAR_END)
    left = in_first - 1
    assert refusal(response) == (
        f"You have {left} {'day' if left == 1 else 'days'} of Vacation left in {Y}; this request needs {in_first}")


def test_leave_across_new_year_is_refused_when_only_next_years_allowance_is_short(client, fake_slack, hr):
    in_second = NEW_YEAR_SPLIT[Y2]
    setup(allowance=Decimal(in_second + 1))
    january = monday_in(Y2, 2)
    sent(client, fake_slack, "vacation", january, january + timedelta(days=1))  # pending: 2 of next year's days
    response = send(client, fake_slack, "vacation", NEW_YEAR_START, NEW_YEAR_END)
    assert refusal(response) == (
        f"You have {in_second - 1} {'day' if in_second - 1 == 1 else 'days'} of Vacation left in {Y2}; "
        f"this request needs {in_second}")


def record_for_alice(client, fake_slack, start, end, view_id):
    """HR's `/timeoff for @alice start end vacation`, the form sent as it opened."""
    response = post_command(client, f"for <@{ALICE}|alice> {start} {end} vacation", user_id=HR)
    assert response.status_code == 200 and response.content == b"", response.content
    form = fake_slack.last_call("views.open").params["view"]
    return post_interaction(client, view_submission_payload(
        user_id=HR, view=form, values=request_values("vacation", start, end), view_id=view_id))


def test_leave_across_new_year_short_in_both_years_is_told_about_both_at_once(client, fake_slack, hr):
    setup(allowance=Decimal(2))
    first, second = NEW_YEAR_SPLIT[Y], NEW_YEAR_SPLIT[Y2]
    assert first > 2 and second > 2  # the premise: neither year has room
    message = refusal(send(client, fake_slack, "vacation", NEW_YEAR_START, NEW_YEAR_END))
    # Told only of the first year, Alice shortens December and is refused again for January.
    assert f"You have 2 days of Vacation left in {Y}; this request needs {first}" in message, message
    assert f"You have 2 days of Vacation left in {Y2}; this request needs {second}" in message, message


def test_hr_recording_leave_past_someones_allowance_is_told_it_is_their_allowance_not_hrs(client, fake_slack, hr):
    setup(allowance=Decimal(2))
    monday = monday_in(Y, 3)
    open_request_form(client, fake_slack, ALICE)  # Alice has used the app: her zone and ledger are cached
    message = refusal(record_for_alice(client, fake_slack, monday, monday + timedelta(days=2), "V_FOR_OVER"))
    assert "this request needs 3" in message, message
    # Hannah has no Vacation at stake here: Alice's allowance is. "You have 2 days…" tells HR about HR.
    assert not message.startswith("You have"), message


def test_hr_told_by_dm_that_recorded_leave_is_past_someones_allowance_reads_whose_it_is(client, fake_slack, hr):
    setup(allowance=Decimal(2))
    monday = monday_in(Y, 3)
    before = len(dms_to(fake_slack, HR))
    response = record_for_alice(client, fake_slack, monday, monday + timedelta(days=2), "V_FOR_COLD")
    assert response.content == b""  # Alice's zone was not known yet: checked in its task
    assert not posted_requests(fake_slack)
    [dm] = dms_to(fake_slack, HR)[before:]
    assert "this request needs 3" in dm, dm
    assert not dms_to(fake_slack, ALICE)  # she asked for nothing
    assert "You have 2 days" not in dm, dm


def test_hr_recording_leave_over_someones_approved_leave_is_told_it_overlaps_their_leave(client, fake_slack, hr):
    setup()
    monday = monday_in(Y, 3)
    post = sent(client, fake_slack, "vacation", monday, monday + timedelta(days=1))
    click(client, fake_slack, BOB, ids.APPROVE_ACTION, post)
    message = refusal(record_for_alice(client, fake_slack, monday + timedelta(days=1), monday + timedelta(days=2),
                                       "V_FOR_OVERLAP"))
    assert "overlaps" in message, message
    assert "your approved leave" not in message, message  # it is Alice's leave, not Hannah's


def test_the_console_record_leave_refusal_speaks_of_the_persons_allowance(client, fake_slack, hr):
    setup(allowance=Decimal(2))
    monday = monday_in(Y, 3)
    open_request_form(client, fake_slack, ALICE)  # her ledger and zone are known, as after any use of Slack
    response = hr.post(reverse("console:record_leave"), {
        "person": "alice@example.com", "leave_type": "vacation", "start": monday.isoformat(),
        "end": (monday + timedelta(days=2)).isoformat(), "note": ""})
    assert response.status_code == 200, response.status_code
    errors = " ".join(e for errs in response.context["form"].errors.values() for e in errs)
    assert "this request needs 3" in errors, errors
    assert "You have" not in errors, errors


# === Across the year end ===============================================================================


def test_approved_leave_across_new_year_counts_its_days_in_each_years_balance_and_in_the_csvs(
        client, fake_slack, hr):
    setup()
    post = sent(client, fake_slack, "vacation", NEW_YEAR_START, NEW_YEAR_END)
    click(client, fake_slack, BOB, ids.APPROVE_ACTION, post)
    first, second = NEW_YEAR_SPLIT[Y], NEW_YEAR_SPLIT[Y2]

    assert after_lines(post.params["blocks"]) == [
        f"After this request: {25 - first} of 25 days of Vacation left in {Y}",
        f"After this request: {25 - second} of 25 days of Vacation left in {Y2}"]
    for year, days in ((Y, first), (Y2, second)):
        assert line_of(balance(client, fake_slack, f"balance {year}"), "Vacation", year) == (
            f"• :palm_tree: Vacation: *{25 - days} days left* — allowance 25, taken {days}, pending 0")
        row = console_balance(hr, year)
        assert (row["taken"], row["left"]) == (str(days), str(25 - days))
        [request] = [r for r in ledger_csv(hr, year) if r["kind"] == "request"]
        assert (request["start"], request["end"], request["days"], request["status"]) == (
            NEW_YEAR_START.isoformat(), NEW_YEAR_END.isoformat(), str(first + second), "approved")


def test_a_company_day_added_inside_leave_across_new_year_changes_neither_years_balance(client, fake_slack, hr):
    setup()
    post = sent(client, fake_slack, "vacation", NEW_YEAR_START, NEW_YEAR_END)
    click(client, fake_slack, BOB, ids.APPROVE_ACTION, post)
    first, second = NEW_YEAR_SPLIT[Y], NEW_YEAR_SPLIT[Y2]
    company_day = next(d for d in (NEW_YEAR_START + timedelta(days=n) for n in range(5)) if working(d))

    response = hr.post(reverse("console:holiday_add"), {"date": company_day.isoformat(), "name": "Shutdown",
                                                         "team": ""}, follow=True)
    assert "Shutdown" in response.text
    assert "Alice" in response.text  # HR is told whose leave the day falls in

    for year, days in ((Y, first), (Y2, second)):
        text = balance(client, fake_slack, f"balance {year}")
        assert f"taken {days}," in line_of(text, "Vacation", year), text
        assert console_balance(hr, year)["taken"] == str(days)


def test_half_days_either_side_of_new_year_count_half_a_day_in_each_year(client, fake_slack, hr):
    setup()
    start, end = last_working_day(Y), first_working_day(Y2)
    post = sent(client, fake_slack, "vacation", start, end, halves=(ids.HALF_START_PM, ids.HALF_END_AM))
    assert after_lines(post.params["blocks"]) == [
        f"After this request: 24.5 of 25 days of Vacation left in {Y}",
        f"After this request: 24.5 of 25 days of Vacation left in {Y2}"]
    for year in (Y, Y2):
        assert line_of(balance(client, fake_slack, f"balance {year}"), "Vacation", year) == (
            "• :palm_tree: Vacation: *24.5 days left* — allowance 25, taken 0, pending 0.5")
        assert console_balance(hr, year)["pending"] == "0.5"


def test_next_years_adjustment_and_leave_across_new_year_show_in_the_preview_of_more_leave_then(
        client, fake_slack, hr):
    setup()
    # HR recorded Y2's carry-over last year (as it stands in the ledger in Slack).
    seed_ledger(fake_slack.workspace, channel=C_ENG_APPROVALS, entries=[], adjustments=[
        Adjustment(id="carry-y2", user=ALICE, leave_type="vacation", days=Decimal(4), year=Y2,
                   reason="carry-over", by=HR)], noise_every=0)
    sent(client, fake_slack, "vacation", NEW_YEAR_START, NEW_YEAR_END)
    later = monday_in(Y2, 3)
    second = NEW_YEAR_SPLIT[Y2]
    assert after_lines(preview(client, fake_slack, later, later)) == [
        f"After this request: {29 - second - 1} of 29 days of Vacation left in {Y2}"]
    assert line_of(balance(client, fake_slack, f"balance {Y2}"), "Vacation", Y2) == (
        f"• :palm_tree: Vacation: *{29 - second} days left* — allowance 25, adjustments +4, taken 0, "
        f"pending {second}")


# === The allowance changed mid-year ====================================================================


def test_hr_lowering_the_allowance_below_what_is_booked_shows_over_the_allowance_everywhere(client, fake_slack, hr):
    setup(allowance=Decimal(25))
    monday = monday_in(Y, 3)
    post = sent(client, fake_slack, "vacation", monday, monday + timedelta(days=7))  # 6 working days
    click(client, fake_slack, BOB, ids.APPROVE_ACTION, post)
    booked = working_days_between(monday, monday + timedelta(days=7))[Y]
    home_text(client, fake_slack, "Ev_BEFORE_LOWER")

    edit_leave_type(hr, "vacation", annual_allowance_days="5")
    over = booked - 5

    wanted = (f"• :palm_tree: Vacation: *{over} {'day' if over == 1 else 'days'} over the allowance* — "
              f"allowance 5, taken {booked}, pending 0")
    assert line_of(balance(client, fake_slack, f"balance {Y}"), "Vacation", Y) == wanted
    row = console_balance(hr, Y)
    assert (row["allowance"], row["left"]) == ("5", str(-over))
    cell, page = console_page_cell(hr, Y)
    assert f"{over} over" in page
    later = monday_in(Y, 6)
    assert after_lines(preview(client, fake_slack, later, later)) == [
        f"After this request: {over + 1} days over the 5 days of Vacation in {Y}"]
    assert refusal(send(client, fake_slack, "vacation", later, later)) == (
        f"You have no Vacation left in {Y}; this request needs 1")


def test_hr_raising_the_allowance_lets_a_refused_request_through_at_once(client, fake_slack, hr):
    setup(allowance=Decimal(3))
    monday = monday_in(Y, 4)
    friday = monday + timedelta(days=4)
    assert refusal(send(client, fake_slack, "vacation", monday, friday)) == (
        f"You have 3 days of Vacation left in {Y}; this request needs 5")

    edit_leave_type(hr, "vacation", annual_allowance_days="10")

    post = sent(client, fake_slack, "vacation", monday, friday)
    assert after_lines(post.params["blocks"]) == [f"After this request: 5 of 10 days of Vacation left in {Y}"]
    assert line_of(balance(client, fake_slack, f"balance {Y}"), "Vacation", Y) == (
        "• :palm_tree: Vacation: *5 days left* — allowance 10, taken 0, pending 5")


def test_a_type_given_an_allowance_mid_year_counts_the_leave_already_taken(client, fake_slack, hr):
    setup(extra_types=(TRAINING,))
    monday = monday_in(Y, 3)
    post = sent(client, fake_slack, "training", monday, monday + timedelta(days=3))
    click(client, fake_slack, BOB, ids.APPROVE_ACTION, post)
    assert line_of(balance(client, fake_slack, f"balance {Y}"), "Training", Y) == (
        "• :books: Training: no yearly limit — taken 4, pending 0")

    edit_leave_type(hr, "training", annual_allowance_days="3")

    assert line_of(balance(client, fake_slack, f"balance {Y}"), "Training", Y) == (
        "• :books: Training: *1 day over the allowance* — allowance 3, taken 4, pending 0")
    assert console_balance(hr, Y, "training")["left"] == "-1"


def test_removing_an_allowance_leaves_no_limit_and_no_refusal(client, fake_slack, hr):
    setup(allowance=Decimal(1))
    monday = monday_in(Y, 5)
    assert "this request needs 2" in refusal(send(client, fake_slack, "vacation", monday, monday + timedelta(days=1)))
    edit_leave_type(hr, "vacation", annual_allowance_days="")
    post = sent(client, fake_slack, "vacation", monday, monday + timedelta(days=1))
    assert after_lines(post.params["blocks"]) == []
    assert line_of(balance(client, fake_slack, f"balance {Y}"), "Vacation", Y) == (
        "• :palm_tree: Vacation: no yearly limit — taken 0, pending 2")
    row = console_balance(hr, Y)
    assert (row["allowance"], row["left"]) == ("", "")


def test_time_in_lieu_starts_at_nothing_and_is_earned_by_adjustments(client, fake_slack, hr):
    lieu = LeaveTypeConfig(code="lieu", name="Time in lieu", emoji=":hourglass:", requires_approval=True,
                           annual_allowance_days=Decimal(0), allow_half_days=True)
    setup(extra_types=(lieu,))
    day = monday_in(Y, 4)
    assert refusal(send(client, fake_slack, "lieu", day, day)) == f"You have no Time in lieu left in {Y}; this request needs 1"
    response = adjust(hr, "2", Y, "weekend release", leave_type="lieu")
    assert "Recorded" in response.text, response.context["form"].errors if response.context else ""

    assert line_of(balance(client, fake_slack, f"balance {Y}"), "Time in lieu", Y) == (
        "• :hourglass: Time in lieu: *2 days left* — allowance 0, adjustments +2, taken 0, pending 0")
    assert refusal(send(client, fake_slack, "lieu", day, day + timedelta(days=2))) == (
        f"You have 2 days of Time in lieu left in {Y}; this request needs 3")
    post = sent(client, fake_slack, "lieu", day, day)
    assert after_lines(post.params["blocks"]) == [f"After this request: 1 of 2 days of Time in lieu left in {Y}"]


# === Leave types without an allowance ===================================================================


def test_a_type_without_an_allowance_shows_no_balance_after_it_anywhere_and_no_limit_in_balance(
        client, fake_slack, hr):
    setup(extra_types=(UNPAID,))
    monday = monday_in(Y, 9)
    shown = preview(client, fake_slack, monday, monday + timedelta(days=2), leave_type="unpaid")
    assert "3 working days" in shown and after_lines(shown) == [], shown
    post = sent(client, fake_slack, "unpaid", monday, monday + timedelta(days=2))
    assert after_lines(post.params["blocks"]) == []
    assert line_of(balance(client, fake_slack, f"balance {Y}"), "Unpaid leave", Y) == (
        "• :money_with_wings: Unpaid leave: no yearly limit — taken 0, pending 3")
    row = console_balance(hr, Y, "unpaid")
    assert [row[k] for k in ("allowance", "adjustments", "taken", "pending", "left")] == ["", "0", "0", "3", ""]
    # And the vacation balance is untouched by it
    assert console_balance(hr, Y)["left"] == "25"


# === HR on behalf ======================================================================================


def test_leave_hr_records_counts_as_taken_and_its_message_shows_what_is_left(client, fake_slack, hr):
    setup(allowance=Decimal(10))
    adjusted(hr, "2", Y, "carry-over")
    monday = monday_in(Y, 6)
    response = post_command(client, f"for <@{ALICE}|alice> {monday} {monday + timedelta(days=1)} vacation",
                            user_id=HR)
    assert response.content == b"", response.content
    form = fake_slack.last_call("views.open").params["view"]
    response = post_interaction(client, view_submission_payload(
        user_id=HR, view=form, values=request_values("vacation", monday, monday + timedelta(days=1)),
        view_id="V_FOR_OK"))
    assert response.content == b"", response.content
    post = posted_requests(fake_slack)[-1]
    assert after_lines(post.params["blocks"]) == [f"After this request: 10 of 12 days of Vacation left in {Y}"]
    assert line_of(balance(client, fake_slack, f"balance {Y}"), "Vacation", Y) == (
        "• :palm_tree: Vacation: *10 days left* — allowance 10, adjustments +2, taken 2, pending 0")


def test_the_approved_message_never_shows_a_balance_counting_the_request_twice(client, fake_slack, hr):
    setup(allowance=Decimal(10))
    monday = monday_in(Y, 3)
    post = sent(client, fake_slack, "vacation", monday, monday + timedelta(days=2))
    assert after_lines(post.params["blocks"]) == [f"After this request: 7 of 10 days of Vacation left in {Y}"]
    click(client, fake_slack, BOB, ids.APPROVE_ACTION, post)
    message = next(m for m in fake_slack.workspace.messages(C_ENG_APPROVALS)
                   if m.metadata and m.metadata["event_payload"].get("status") == "approved")
    # The decided message is rewritten short (status, who, when); whatever balance it shows counts the
    # request once, never twice now that it is approved.
    assert after_lines(message.blocks) in ([], [f"After this request: 7 of 10 days of Vacation left in {Y}"]), (
        json.dumps(message.blocks)[:1500])


def test_cancelling_approved_leave_across_new_year_gives_back_both_years_days(client, fake_slack, hr):
    setup()
    post = sent(client, fake_slack, "vacation", NEW_YEAR_START, NEW_YEAR_END)
    click(client, fake_slack, BOB, ids.APPROVE_ACTION, post)
    request_id = request_id_of(post)
    press_on_list(client, fake_slack, request_id, ids.CANCEL_ACTION, "cancel")
    for year in (Y, Y2):
        assert line_of(balance(client, fake_slack, f"balance {year}"), "Vacation", year) == (
            "• :palm_tree: Vacation: *25 days left* — allowance 25, taken 0, pending 0")
        assert console_balance(hr, year)["left"] == "25"


# === Editing pending leave ==============================================================================


def test_editing_a_pending_request_that_uses_most_of_the_allowance_counts_it_once(client, fake_slack, hr):
    setup(allowance=Decimal(8))
    monday = monday_in(Y, 3)
    post = sent(client, fake_slack, "vacation", monday, monday + timedelta(days=4))  # 5 of 8
    request_id = request_id_of(post)
    press_on_list(client, fake_slack, request_id, ids.EDIT_ACTION)
    form = fake_slack.last_call("views.open").params["view"]
    # The edit form's preview counts the request it replaces once: 5 of 8 taken by it, 3 left
    assert after_lines(form["blocks"]) == [f"After this request: 3 of 8 days of Vacation left in {Y}"]
    longer_end = monday + timedelta(days=8)  # Mon..Tue of the week after: 7 working days, of 8
    response = post_interaction(client, view_submission_payload(
        user_id=ALICE, view=form, values=request_values("vacation", monday, longer_end), view_id="V_EDIT_LONGER"))
    assert response.content == b"", response.content
    message = next(m for m in fake_slack.workspace.messages(C_ENG_APPROVALS)
                   if m.metadata and m.metadata["event_payload"].get("id") == request_id)
    assert message.metadata["event_payload"]["end"] == longer_end.isoformat()
    assert after_lines(message.blocks) == [f"After this request: 1 of 8 days of Vacation left in {Y}"]
    assert line_of(balance(client, fake_slack, f"balance {Y}"), "Vacation", Y) == (
        "• :palm_tree: Vacation: *1 day left* — allowance 8, taken 0, pending 7")


# === Years people ask for ===============================================================================


def test_a_year_with_nothing_booked_shows_the_whole_allowance_and_a_year_with_only_rejected_leave_too(
        client, fake_slack, hr):
    setup()
    monday = monday_in(Y, 3)
    post = sent(client, fake_slack, "vacation", monday, monday + timedelta(days=2))
    click(client, fake_slack, BOB, ids.REJECT_ACTION, post)
    modal = fake_slack.last_call("views.open").params["view"]
    post_interaction(client, view_submission_payload(user_id=BOB, view=modal, values={
        ids.REASON_BLOCK: {ids.REASON_ACTION: {"type": "plain_text_input", "value": "Release"}}}, view_id="V_REJ"))
    text = balance(client, fake_slack, f"balance {Y}")
    assert text.startswith(f"*Your leave in {Y}* (Engineering):"), text
    assert line_of(text, "Vacation", Y) == "• :palm_tree: Vacation: *25 days left* — allowance 25, taken 0, pending 0"
    far = THIS_YEAR + 4
    text = balance(client, fake_slack, f"balance {far}")
    assert line_of(text, "Vacation", far) == (
        "• :palm_tree: Vacation: *25 days left* — allowance 25, taken 0, pending 0")


# === The nightly export =================================================================================


def test_the_nightly_export_keeps_adjustments_with_their_year_and_requests_with_their_days(
        client, fake_slack, hr, settings, tmp_path):
    settings.LEDGER_EXPORT_DIR = tmp_path
    setup()
    adjusted(hr, "5", Y, "carry-over")
    adjusted(hr, "-1.5", Y, "correction")
    day = monday_in(Y, 3)
    sent(client, fake_slack, "vacation", day, day + timedelta(days=1), halves=(ids.HALF_END_AM,))
    post = sent(client, fake_slack, "vacation", NEW_YEAR_START, NEW_YEAR_END)
    click(client, fake_slack, BOB, ids.APPROVE_ACTION, post)

    today = datetime.now(dt_timezone.utc).date()
    at = datetime(today.year, today.month, today.day, 2, 30, tzinfo=dt_timezone.utc)
    call_command("run_jobs", "--at", at.isoformat())
    [export] = list(tmp_path.glob("ledger-*.csv"))
    rows = list(csv.DictReader(io.StringIO(export.read_text(encoding="utf-8-sig"))))
    adjustments = sorted((r["days"], r["year"], r["reason"]) for r in rows if r["kind"] == "adjustment")
    assert adjustments == [("-1.5", str(Y), "correction"), ("5", str(Y), "carry-over")]
    requests = {r["start"]: r for r in rows if r["kind"] == "request"}
    assert (requests[day.isoformat()]["days"], requests[day.isoformat()]["end_half"]) == ("1.5", "am")
    assert requests[NEW_YEAR_START.isoformat()]["days"] == str(sum(NEW_YEAR_SPLIT.values()))
    # What HR's copy holds adds up to the console's balance for the year
    total_adjusted = sum(Decimal(r["days"]) for r in rows if r["kind"] == "adjustment" and r["year"] == str(Y))
    assert Decimal(console_balance(hr, Y)["adjustments"]) == total_adjusted
