"""The HR console as the README's "The HR console" section describes it, promise by promise.

Hannah Hill (HR) is a superuser signed in to /console/; Ivan is a staff colleague with only the
permissions a test gives him. Engineering's leave lives in the fake Slack's ledger (its approvals
channel); people and channels are named from the fake Slack's users.list and conversations.list.
"""

import codecs
import csv
import io
import re
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone

from approvals.models import Blackout, CompanyHoliday, LeaveType, Team
from approvals.rules import Adjustment, LedgerEntry
from approvals.slack_clients import background_client
from approvals.slack_directory import directory_refresh
from fake_slack.ledger_seed import seed_ledger
from fake_slack.personas import ALICE, BOB, C_ENG_APPROVALS, DAVE
from test_support.console_pages import errors_of, team_post
from test_support.flows import install_config

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-test-password"
TODAY = timezone.localdate()
NEXT_MONDAY = TODAY + timedelta(days=7 - TODAY.weekday())
YEAR = NEXT_MONDAY.year


def entry(entry_id, user, leave_type, start, end=None, status="approved", **more) -> LedgerEntry:
    end = end or start
    return LedgerEntry(id=entry_id, user=user, team="Engineering", leave_type=leave_type, start=start, end=end,
                       start_half=more.get("start_half"), end_half=more.get("end_half"),
                       days=Decimal(more.get("days", (end - start).days + 1)), status=status,
                       decided_by=BOB if status != "pending" else None)


def version_on(page) -> str:
    return re.search(r'<input type="hidden" name="version" value="([^"]*)"', page.text)[1]


def messages_on(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def csv_rows(response) -> list[dict]:
    return list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))


@pytest.fixture
def hannah(django_user_model):
    return django_user_model.objects.create_superuser("hannah", "hannah@example.com", PASSWORD,
                                                      first_name="Hannah", last_name="Hill")


@pytest.fixture
def hr_client(client, hannah, directory):
    client.force_login(hannah)
    return client


@pytest.fixture
def ivan(django_user_model):
    return django_user_model.objects.create_user("ivan", "ivan@example.com", PASSWORD, is_staff=True)


@pytest.fixture
def ivan_client(client, ivan, directory):
    client.force_login(ivan)
    return client


def grant(user, *codenames):
    user.user_permissions.add(*Permission.objects.filter(codename__in=codenames))


@pytest.fixture
def ledger(fake_slack):
    """Alice's approved vacation Mon–Wed next week, Dave's pending sick day on the Tuesday."""
    install_config()
    entries = [
        entry("alice-vacation", ALICE, "vacation", NEXT_MONDAY, NEXT_MONDAY + timedelta(days=2)),
        entry("dave-sick", DAVE, "sick", NEXT_MONDAY + timedelta(days=1), status="pending"),
    ]
    seed_ledger(fake_slack.workspace, channel=C_ENG_APPROVALS, entries=entries, adjustments=[])
    return entries


# --- Teams -----------------------------------------------------------------------------------------


def test_deleting_a_team_asks_first_and_takes_its_own_holidays_and_blackouts_with_it(hr_client):
    engineering = Team.objects.create(name="Engineering", position=0, approvals_channel=C_ENG_APPROVALS,
                                      approvers_users=[BOB])
    sales = Team.objects.create(name="Sales", position=1, approvals_channel="C_GENERAL", approvers_users=[BOB])
    CompanyHoliday.objects.create(date=date(2031, 3, 14), name="Hack day", team=engineering)
    Blackout.objects.create(start=date(2031, 6, 2), end=date(2031, 6, 6), team=engineering, reason="Launch")
    everyone_day = CompanyHoliday.objects.create(date=date(2031, 12, 24), name="Company day", team=None)
    sales_blackout = Blackout.objects.create(start=date(2031, 9, 1), end=date(2031, 9, 3), team=sales)

    url = reverse("console:team_delete", args=[engineering.pk])
    asked = hr_client.get(url)
    assert asked.status_code == 200
    assert "Its own 1 company holiday(s) and 1 blackout(s) are deleted with it." in asked.text
    assert Team.objects.filter(pk=engineering.pk).exists()  # asking deletes nothing

    done = hr_client.post(url, {"merge_into": ""}, follow=True)
    assert "Engineering deleted." in messages_on(done)
    assert not Team.objects.filter(pk=engineering.pk).exists()
    assert list(CompanyHoliday.objects.all()) == [everyone_day]  # the company-wide day stays
    assert list(Blackout.objects.all()) == [sales_blackout]  # another team's blackout stays


def test_moving_teams_is_not_offered_to_an_account_that_may_not_change_teams(ivan_client, ivan):
    Team.objects.create(name="Engineering", position=0, approvals_channel=C_ENG_APPROVALS, approvers_users=[BOB])
    second = Team.objects.create(name="Sales", position=1, approvals_channel="C_GENERAL", approvers_users=[BOB])
    move = reverse("console:team_reorder", args=[second.pk])
    page = ivan_client.get(reverse("console:home"))
    assert page.status_code == 200 and "Sales" in page.text
    assert move not in page.text
    grant(ivan, "change_team")
    assert move in ivan_client.get(reverse("console:home")).text


def test_a_team_a_colleague_deleted_gets_a_console_page_with_a_way_back_that_no_cache_keeps(hr_client):
    gone = Team.objects.create(name="Short-lived", approvals_channel=C_ENG_APPROVALS, approvers_users=[BOB])
    url = reverse("console:team_edit", args=[gone.pk])
    gone.delete()
    response = hr_client.get(url)
    assert response.status_code == 404
    assert "This page is not here" in response.text
    assert f'href="{reverse("console:home")}"' in response.text
    assert "no-store" in response["Cache-Control"] and "private" in response["Cache-Control"]


# --- Permissions ------------------------------------------------------------------------------------


def test_recording_leave_for_someone_names_the_permission_it_needs_and_is_in_the_menu_only_with_it(
        ivan_client, ivan):
    response = ivan_client.get(reverse("console:record_leave"))
    assert response.status_code == 403
    assert "Can record leave for others" in response.text
    assert "approvals.record_leave_for_others" in response.text
    assert ">Record leave</a>" not in ivan_client.get(reverse("console:whos_out")).text

    grant(ivan, "record_leave_for_others")
    assert ivan_client.get(reverse("console:record_leave")).status_code == 200
    assert ">Record leave</a>" in ivan_client.get(reverse("console:whos_out")).text


# --- History ----------------------------------------------------------------------------------------


def test_history_shows_who_changed_a_team_in_the_console_and_the_field_before_and_after(hr_client):
    created = hr_client.post(reverse("console:team_add"), team_post(max_out="3"))
    assert created.status_code == 302, errors_of(created, "name")
    team = Team.objects.get(name="Platform")
    url = reverse("console:team_edit", args=[team.pk])
    changed = hr_client.post(url, team_post(max_out="5", version=version_on(hr_client.get(url))))
    assert changed.status_code == 302

    rows = hr_client.get(reverse("console:history")).context["rows"]
    assert [(row.who, row.kind, row.what, row.name) for row in rows[:2]] == [
        ("Hannah Hill", "changed", "Team", "Platform"), ("Hannah Hill", "created", "Team", "Platform")]
    assert [(c.field, c.old, c.new) for c in rows[0].changes] == [("max_out", "3", "5")]


def test_history_shows_only_what_the_account_may_open_and_says_what_it_leaves_out(ivan_client, ivan):
    grant(ivan, "view_team")
    Team.objects.create(name="Engineering", approvals_channel=C_ENG_APPROVALS, approvers_users=[BOB])
    LeaveType.objects.create(code="sick", name="Sick leave", private=True)
    page = ivan_client.get(reverse("console:history"))
    assert page.status_code == 200
    assert {(row.what, row.name) for row in page.context["rows"]} == {("Team", "Engineering")}
    notice = re.search(r'<p class="notice" id="history-hidden">(.*?)</p>', page.text, re.DOTALL)[1]
    for left_out in ("leave type", "company holiday", "blackout", "workspace policy"):
        assert left_out in notice
    assert "Sick leave" not in page.text


def test_history_names_the_team_a_company_holiday_was_moved_from(hr_client):
    engineering = Team.objects.create(name="Engineering", approvals_channel=C_ENG_APPROVALS, approvers_users=[BOB])
    holiday = CompanyHoliday.objects.create(date=date(2031, 3, 14), name="Hack day", team=engineering)
    url = reverse("console:holiday_edit", args=[holiday.pk])
    saved = hr_client.post(url, {"date": "2031-03-14", "name": "Hack day", "team": "",
                                 "version": version_on(hr_client.get(url))})
    assert saved.status_code == 302

    [latest] = hr_client.get(reverse("console:history")).context["rows"][:1]
    assert (latest.kind, latest.what) == ("changed", "Company holiday")
    [(field, before, after)] = [(c.field, c.old, c.new) for c in latest.changes]
    assert field == "team"
    assert before == "Engineering", f"History shows the team it was moved from as {before!r}"


# --- Holidays and blackouts over leave already asked for --------------------------------------------


def test_a_blackout_saved_over_leave_names_whose_leave_lies_in_it(hr_client, ledger):
    response = hr_client.post(reverse("console:blackout_add"), {
        "start": NEXT_MONDAY.isoformat(), "end": (NEXT_MONDAY + timedelta(days=4)).isoformat(), "team": "",
        "reason": "Year-end close"}, follow=True)
    assert Blackout.objects.count() == 1
    [warning] = [m for m in messages_on(response) if "leave in the blackout" in m]
    assert warning.startswith("2 people have leave in the blackout: ")
    assert "Alice Adams (approved)" in warning and "Dave Diaz (pending)" in warning
    assert "pending requests can still be approved or rejected" in warning
    assert "Sick" not in warning  # a private type is not named


def test_a_blackout_with_the_end_before_the_start_is_refused_on_its_field_and_nothing_is_saved(hr_client):
    response = hr_client.post(reverse("console:blackout_add"), {
        "start": "2031-06-06", "end": "2031-06-02", "team": "", "reason": "Launch"})
    assert response.status_code == 200
    assert errors_of(response, "end") or errors_of(response, "start") or errors_of(response, "__all__")
    assert "2031-06" in response.text  # what was typed is kept
    assert not Blackout.objects.exists()


# --- Who's out --------------------------------------------------------------------------------------


def test_a_morning_and_an_afternoon_off_asked_for_apart_show_as_the_whole_day(hr_client, fake_slack):
    install_config()
    tuesday, wednesday = NEXT_MONDAY + timedelta(days=1), NEXT_MONDAY + timedelta(days=2)
    seed_ledger(fake_slack.workspace, channel=C_ENG_APPROVALS, adjustments=[], entries=[
        entry("alice-morning", ALICE, "vacation", tuesday, end_half="am", days="0.5"),
        entry("alice-afternoon", ALICE, "vacation", tuesday, start_half="pm", days="0.5"),
        entry("dave-morning", DAVE, "vacation", wednesday, end_half="am", days="0.5"),
    ])
    response = hr_client.get(reverse("console:whos_out"), {"weeks": "4"})
    [calendar] = response.context["calendars"]
    cells = {(row.name, day.day): cell for week in calendar.weeks for row in week.rows
             for day, cell in zip(week.days, row.cells, strict=True) if cell.text}
    assert cells[("Alice Adams", tuesday)].text == "Vacation" and not cells[("Alice Adams", tuesday)].half
    assert cells[("Dave Diaz", wednesday)].half  # a morning alone is half a day
    assert "½ Vacation" in response.text


# --- Balances and the CSVs ---------------------------------------------------------------------------


def test_pending_leave_counts_against_the_days_left(hr_client, fake_slack):
    install_config()
    seed_ledger(fake_slack.workspace, channel=C_ENG_APPROVALS, adjustments=[
        Adjustment(id="opening", user=DAVE, leave_type="vacation", days=Decimal(2), year=YEAR,
                   reason="opening balance", by="hannah")], entries=[
        entry("dave-asked", DAVE, "vacation", NEXT_MONDAY, NEXT_MONDAY + timedelta(days=1), status="pending"),
        entry("dave-took", DAVE, "vacation", NEXT_MONDAY + timedelta(days=3), status="approved"),
        entry("dave-refused", DAVE, "vacation", NEXT_MONDAY + timedelta(days=4), status="rejected"),
    ])
    response = hr_client.get(reverse("console:balances"), {"team": "Engineering", "year": YEAR, "download": "1"})
    [dave] = [row for row in csv_rows(response) if row["user_id"] == DAVE and row["leave_type"] == "vacation"]
    # allowance + adjustments − approved − pending: 25 + 2 − 1 − 2
    assert (dave["allowance"], dave["adjustments"], dave["taken"], dave["pending"], dave["left"]) == (
        "25", "2", "1", "2", "24")


def test_csv_downloads_start_with_a_byte_order_mark_and_are_never_kept_by_a_cache(hr_client, ledger):
    for response in (
            hr_client.get(reverse("console:balances"), {"team": "Engineering", "year": YEAR, "download": "1"}),
            hr_client.get(reverse("console:ledger_export"), {"year": YEAR, "download": "1"})):
        assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
        assert response.content.startswith(codecs.BOM_UTF8)
        assert "no-store" in response["Cache-Control"] and "private" in response["Cache-Control"]


def test_the_ledger_csv_names_a_deleted_leave_type_by_its_code(hr_client, fake_slack):
    install_config()
    seed_ledger(fake_slack.workspace, channel=C_ENG_APPROVALS, adjustments=[], entries=[
        entry("dave-medical", DAVE, "medical", NEXT_MONDAY)])
    LeaveType.objects.get(code="medical").delete()
    rows = csv_rows(hr_client.get(reverse("console:ledger_export"), {"year": YEAR, "download": "1"}))
    [medical] = [row for row in rows if row["id"] == "dave-medical"]
    assert (medical["type"], medical["type_name"], medical["user_name"]) == ("medical", "medical", "Dave Diaz")


def test_a_date_range_csv_carries_the_adjustments_of_the_years_it_touches_only(hr_client, fake_slack):
    install_config()
    seed_ledger(fake_slack.workspace, channel=C_ENG_APPROVALS, entries=[
        entry("alice-vacation", ALICE, "vacation", NEXT_MONDAY)], adjustments=[
        Adjustment(id="this-year", user=ALICE, leave_type="vacation", days=Decimal(3), year=YEAR,
                   reason="carry-over", by="hannah"),
        Adjustment(id="other-year", user=ALICE, leave_type="vacation", days=Decimal(1), year=YEAR - 2,
                   reason="correction", by="hannah")])
    response = hr_client.get(reverse("console:ledger_export"), {
        "download": "1", "start": NEXT_MONDAY.isoformat(), "end": NEXT_MONDAY.isoformat()})
    ids = {row["id"] for row in csv_rows(response)}
    assert "alice-vacation" in ids and "this-year" in ids
    assert "other-year" not in ids


@pytest.mark.parametrize("slack_name", ["\u00a0=1+2", "\t=42", "\n@SUM(A1)", " -2+3"])
def test_a_name_a_spreadsheet_would_run_is_prefixed_in_the_balances_csv(hr_client, ledger, fake_slack,
                                                                         slack_name):
    fake_slack.workspace.users[ALICE].real_name = slack_name
    directory_refresh(background_client())
    response = hr_client.get(reverse("console:balances"), {"team": "Engineering", "year": YEAR, "download": "1"})
    names = {row["user_id"]: row["name"] for row in csv_rows(response)}
    assert names[ALICE].startswith("'"), repr(names[ALICE])
    assert names[BOB] == "Bob Brown"  # an ordinary name is left alone


@pytest.mark.parametrize("reason", ["\tcarry-over", "\rcarry-over", "\u00a0=HYPERLINK(1)", "\n+1"])
def test_a_reason_a_spreadsheet_would_run_is_prefixed_in_the_ledger_csv(hr_client, fake_slack, reason):
    install_config()
    seed_ledger(fake_slack.workspace, channel=C_ENG_APPROVALS, entries=[], adjustments=[
        Adjustment(id="odd", user=ALICE, leave_type="vacation", days=Decimal(1), year=YEAR, reason=reason,
                   by="hannah")])
    [row] = csv_rows(hr_client.get(reverse("console:ledger_export"), {"year": YEAR, "download": "1"}))
    assert row["reason"] == "'" + reason, repr(row["reason"])
    assert row["days"] == "1"  # our own numbers stay numbers


# --- Adjust a balance ----------------------------------------------------------------------------------


def test_an_adjustment_with_mistakes_shows_each_error_beside_its_field_and_sums_them_up_at_the_top(
        hr_client, ledger, fake_slack):
    posted_before = len(fake_slack.calls("chat.postMessage"))
    response = hr_client.post(reverse("console:adjust"), {
        "user": "nobody@example.com", "leave_type": "vacation", "days": "0.3", "year": YEAR, "reason": ""})
    assert response.status_code == 200
    assert errors_of(response, "days") and errors_of(response, "reason")
    summary = re.search(r'<div class="error-summary".*?</div>', response.text, re.DOTALL)
    assert summary, "no summary of the errors at the top of the form"
    for field in ("user", "days", "reason"):
        assert f'href="#id_{field}"' in summary[0]
    assert len(fake_slack.calls("chat.postMessage")) == posted_before  # nothing was recorded


def test_an_adjustment_is_taken_for_five_years_ahead_and_refused_on_its_year_for_six(hr_client, ledger,
                                                                                      fake_slack):
    this_year = date.today().year
    refused = hr_client.post(reverse("console:adjust"), {
        "user": "Alice Adams", "leave_type": "vacation", "days": "1", "year": this_year + 6,
        "reason": "opening balance"})
    assert refused.status_code == 200
    assert errors_of(refused, "year") == [
        f"The year must be between {this_year - 5} and {this_year + 5}, not {this_year + 6}."]
    assert not [c for c in fake_slack.calls("chat.postMessage") if "opening balance" in str(c.params)]

    taken = hr_client.post(reverse("console:adjust"), {
        "user": "Alice Adams", "leave_type": "vacation", "days": "1", "year": this_year + 5,
        "reason": "opening balance"}, follow=True)
    assert f"Recorded +1 day of Vacation for Alice Adams in {this_year + 5} (opening balance)." in \
        messages_on(taken)
    assert [c for c in fake_slack.calls("chat.postMessage") if c.params.get("channel") == C_ENG_APPROVALS
            and "opening balance" in str(c.params)]


# --- Company days for one team ---------------------------------------------------------------------------


def test_a_company_day_for_another_team_names_nobody_of_engineering(hr_client, ledger):
    Team.objects.create(name="Sales", position=1, approvals_channel="C_GENERAL", approvers_users=[BOB])
    sales = Team.objects.get(name="Sales")
    tuesday = NEXT_MONDAY + timedelta(days=1)
    response = hr_client.post(reverse("console:holiday_add"), {
        "date": tuesday.isoformat(), "name": "Sales kick-off", "team": sales.pk}, follow=True)
    assert messages_on(response) == [f"{tuesday.isoformat()} Sales kick-off (Sales) saved."]
    engineering = Team.objects.get(name="Engineering")
    response = hr_client.post(reverse("console:holiday_add"), {
        "date": tuesday.isoformat(), "name": "Hack day", "team": engineering.pk}, follow=True)
    assert any(m.startswith("2 people have leave on ") for m in messages_on(response))


# --- History of an uploaded file ------------------------------------------------------------------------


def test_a_file_applied_in_the_console_is_in_history_under_the_hr_person_who_applied_it(hr_client):
    import json

    from approvals.tests.test_console_file import example

    new = example()
    upload = io.BytesIO(json.dumps(new).encode())
    upload.name = "config.json"
    assert hr_client.post(reverse("console:config_upload"), {"file": upload}).status_code == 302
    preview = hr_client.get(reverse("console:config_preview"))
    applied = hr_client.post(reverse("console:config_apply"), {"fingerprint": preview.context["fingerprint"]})
    assert applied.status_code == 302 and Team.objects.exists()

    rows = hr_client.get(reverse("console:history")).context["rows"]
    assert rows and {row.who for row in rows} == {"Hannah Hill"}
    assert ("created", "Team", new["teams"][0]["name"]) in {(row.kind, row.what, row.name) for row in rows}
