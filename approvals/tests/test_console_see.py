"""The console's See pages: who's out, the ledger as CSV, balances per person, balance adjustments.

Engineering (members: everyone in #engineering — Alice, Bob, Dave) has leave in the fake Slack's
ledger: Alice's vacation (approved), Dave's sick leave (a private type, pending), Bob's vacation
last year. Hannah (HR) is staff with the permission to adjust balances; Sam is staff without it.
"""

import csv
import dataclasses
import io
from datetime import date, timedelta
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.contrib.auth.models import Permission
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone

from approvals import directory
from approvals.console_see_selectors import MAX_WAITING, waiting_for_decision
from approvals.rules import Adjustment, LedgerEntry
from fake_slack.ledger_seed import seed_ledger
from fake_slack.personas import ALICE, BOB, C_ENG, C_ENG_APPROVALS, DAVE
from test_support.flows import install_config, standard_config

pytestmark = pytest.mark.django_db

TODAY = timezone.localdate()
NEXT_MONDAY = TODAY + timedelta(days=7 - TODAY.weekday())


def entry(entry_id, user, leave_type, start, end, status="approved", **more) -> LedgerEntry:
    return LedgerEntry(id=entry_id, user=user, team="Engineering", leave_type=leave_type, start=start, end=end,
                       start_half=more.get("start_half"), end_half=more.get("end_half"),
                       days=Decimal(more.get("days", (end - start).days + 1)), status=status,
                       decided_by=BOB if status != "pending" else None)


@pytest.fixture
def ledger(fake_slack):
    install_config()
    entries = [
        entry("alice-vacation", ALICE, "vacation", NEXT_MONDAY, NEXT_MONDAY + timedelta(days=2),
              end_half="am", days="2.5"),
        entry("dave-sick", DAVE, "sick", NEXT_MONDAY + timedelta(days=1), NEXT_MONDAY + timedelta(days=1),
              status="pending"),
        entry("bob-last-year", BOB, "vacation", date(TODAY.year - 1, 6, 1), date(TODAY.year - 1, 6, 5)),
        entry("alice-rejected", ALICE, "vacation", NEXT_MONDAY + timedelta(days=3),
              NEXT_MONDAY + timedelta(days=3), status="rejected"),
    ]
    adjustments = [Adjustment(id="carry", user=ALICE, leave_type="vacation", days=Decimal(3), year=NEXT_MONDAY.year,
                              reason="carry-over", by="hannah")]
    seed_ledger(fake_slack.workspace, channel=C_ENG_APPROVALS, entries=entries, adjustments=adjustments)
    return entries


@pytest.fixture
def hannah(django_user_model):
    user = django_user_model.objects.create_user("hannah", "hannah@example.com", "a-long-test-password",
                                                 is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="record_adjustment"),
                              Permission.objects.get(codename="view_leave_records"))
    return user


@pytest.fixture
def hr_client(client, hannah, fake_slack):
    client.force_login(hannah)
    return client


@pytest.fixture
def sam_client(client, django_user_model, fake_slack):
    sam = django_user_model.objects.create_user("sam", "sam@example.com", "a-long-test-password", is_staff=True)
    client.force_login(sam)
    return client


# --- Who's out -------------------------------------------------------------------------------------


def test_whos_out_shows_the_coming_weeks_per_team(hr_client, ledger):
    response = hr_client.get(reverse("console:whos_out"))
    assert response.status_code == 200
    text = response.text
    assert "<h2 id=\"team-1\">Engineering</h2>" in text
    assert "Alice Adams" in text and "Vacation" in text
    assert "½ Vacation" in text  # her last day ends at midday
    assert "Dave Diaz" in text and "away" in text and "(pending)" in text
    assert "Sick leave" not in text  # a private type is only "away"
    assert "Bob Brown" not in text  # last year's leave is not in the coming weeks


def test_whos_out_marks_the_teams_today(hr_client, fake_slack):
    install_config()
    seed_ledger(fake_slack.workspace, channel=C_ENG_APPROVALS, entries=[
        entry("alice-this-week", ALICE, "vacation", TODAY - timedelta(days=7), TODAY + timedelta(days=7))])
    response = hr_client.get(reverse("console:whos_out"), {"weeks": "2"})

    [calendar] = response.context["calendars"]
    marked = [day.day for week in calendar.weeks for day in week.days if day.today]
    assert len(marked) == 1 and abs(marked[0] - TODAY) <= timedelta(days=1)  # Engineering's day, in Los Angeles
    assert marked[0] in [day.day for day in calendar.weeks[0].days]  # this week comes first
    assert response.text.count('aria-current="date"') == 1
    assert '<span class="today-mark">today</span>' in response.text


def test_whos_out_lists_the_requests_waiting_for_a_decision_with_their_place_in_slack(hr_client, ledger,
                                                                                     fake_slack):
    hr_client.get(reverse("console:setup"))  # Slack's check (immediate tasks): the workspace's address
    [dave_sick] = [m for m in fake_slack.workspace.messages(C_ENG_APPROVALS)
                   if m.metadata and m.metadata["event_payload"].get("id") == "dave-sick"]

    page = hr_client.get(reverse("console:whos_out")).text

    assert "Waiting for a decision (1)" in page
    waiting = page.split('id="waiting"')[1].split("</section>")[0]
    assert "Dave Diaz" in waiting and "away" in waiting and "Sick" not in waiting  # a private type
    link = f"https://fake-workspace.slack.com/archives/{C_ENG_APPROVALS}/p{dave_sick.ts.replace('.', '')}"
    assert f'<a href="{link}" rel="noopener">Open in Slack' in waiting
    assert "Alice Adams" not in waiting  # approved: not waiting


def test_the_oldest_waiting_requests_come_first_and_past_fifty_are_counted():
    entries = {f"r{n}": dataclasses.replace(entry(f"r{n}", ALICE, "vacation", NEXT_MONDAY, NEXT_MONDAY,
                                                  status="pending"), channel="C1", ts=f"{1766000000 + n}.000100")
               for n in range(MAX_WAITING + 5, 0, -1)}
    entries["decided"] = entry("decided", BOB, "vacation", NEXT_MONDAY, NEXT_MONDAY)
    rows, more = waiting_for_decision(config=standard_config(), ledger=SimpleNamespace(entries=entries),
                                      directory=None, team=None, today=TODAY,
                                      workspace_url="https://acme.slack.com/")
    assert more == 5 and len(rows) == MAX_WAITING
    assert [row.link for row in rows[:2]] == ["https://acme.slack.com/archives/C1/p1766000001000100",
                                              "https://acme.slack.com/archives/C1/p1766000002000100"]
    rows, _ = waiting_for_decision(config=standard_config(), ledger=SimpleNamespace(entries=entries),
                                   directory=None, team=None, today=TODAY, workspace_url="javascript:alert(1)//")
    assert {row.link for row in rows} == {""}  # only an https address Slack gave is made a link


def test_whos_out_for_one_team_and_fewer_weeks(hr_client, ledger):
    response = hr_client.get(reverse("console:whos_out"), {"team": "Engineering", "weeks": "1"})
    assert response.context["weeks"] == 1
    assert "Alice Adams" not in response.text or TODAY.weekday() == 0 and False  # next week is outside one week
    assert "Nobody is out in these 1 week" in response.text


def test_whos_out_with_bad_parameters_shows_the_default(hr_client, ledger):
    response = hr_client.get(reverse("console:whos_out"), {"team": "No such team", "weeks": "many"})
    assert response.status_code == 200
    assert response.context["weeks"] == 4


def test_whos_out_says_when_the_ledger_cannot_be_read(hr_client, fake_slack):
    install_config()
    fake_slack.fail("conversations.history", "not_in_channel", times=None)
    response = hr_client.get(reverse("console:whos_out"))
    assert response.status_code == 200
    assert "The ledger cannot be read from Slack" in response.text
    assert "not_in_channel" in response.text


# --- The ledger as CSV -----------------------------------------------------------------------------


def rows_of(response) -> list[dict]:
    return list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))


def test_the_csv_of_a_year(hr_client, ledger):
    response = hr_client.get(reverse("console:ledger_export"), {"download": "1", "year": NEXT_MONDAY.year})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"] == f'attachment; filename="ledger-{NEXT_MONDAY.year}.csv"'
    rows = rows_of(response)
    ids = {row["id"] for row in rows}
    assert {"alice-vacation", "dave-sick", "alice-rejected", "carry"} <= ids
    assert "bob-last-year" not in ids
    alice = next(row for row in rows if row["id"] == "alice-vacation")
    assert alice["user"] == ALICE and alice["user_name"] == "Alice Adams"
    assert alice["type"] == "vacation" and alice["days"] == "2.5" and alice["status"] == "approved"
    assert alice["channel"] == C_ENG_APPROVALS and alice["ts"]
    assert alice["type_name"] == "Vacation"
    assert next(row for row in rows if row["id"] == "dave-sick")["type_name"] == "Sick leave"


def test_the_csv_of_a_date_range(hr_client, ledger):
    last_year = date(TODAY.year - 1, 1, 1)
    response = hr_client.get(reverse("console:ledger_export"), {
        "download": "1", "start": last_year.isoformat(), "end": date(TODAY.year - 1, 12, 31).isoformat()})
    ids = {row["id"] for row in rows_of(response)}
    assert ids == {"bob-last-year"}
    assert response["Content-Disposition"] == f'attachment; filename="ledger-{TODAY.year - 1}.csv"'
    response = hr_client.get(reverse("console:ledger_export"), {
        "download": "1", "start": NEXT_MONDAY.isoformat(), "end": NEXT_MONDAY.isoformat()})
    assert {row["id"] for row in rows_of(response)} >= {"alice-vacation"}
    assert "dave-sick" not in {row["id"] for row in rows_of(response)}
    assert f"ledger-{NEXT_MONDAY.isoformat()}-to-{NEXT_MONDAY.isoformat()}.csv" in response["Content-Disposition"]


def test_the_csv_form_names_what_is_wrong(hr_client, ledger):
    response = hr_client.get(reverse("console:ledger_export"), {"download": "1", "start": "2026-03-01"})
    assert response.status_code == 400
    assert "Give both dates of the range" in response.text
    response = hr_client.get(reverse("console:ledger_export"), {"download": "1", "start": "2026-03-01",
                                                                "end": "2026-01-01"})
    assert "The end is before the start." in response.text
    response = hr_client.get(reverse("console:ledger_export"), {"download": "1"})
    assert "Give a year, or a date range." in response.text


def test_the_export_page_without_download_is_the_form(hr_client, ledger):
    response = hr_client.get(reverse("console:ledger_export"))
    assert response.status_code == 200
    assert 'name="year"' in response.text and f'value="{TODAY.year}"' in response.text


def test_csv_cells_never_run_as_spreadsheet_formulas(hr_client, fake_slack):
    # Anyone may set their Slack name to a formula; spreadsheets skip leading spaces before one.
    from approvals.slack_directory import directory_refresh
    from approvals.slack_clients import background_client

    install_config()
    fake_slack.workspace.users[ALICE].real_name = "=cmd|' /C calc'!A0"
    directory_refresh(background_client())
    adjustment = Adjustment(id="formula", user=ALICE, leave_type="vacation", days=Decimal(-1), year=TODAY.year,
                            reason="=HYPERLINK(\"http://x\")", by="  @SUM(1)")
    seed_ledger(fake_slack.workspace, channel=C_ENG_APPROVALS, entries=[], adjustments=[adjustment])
    response = hr_client.get(reverse("console:ledger_export"), {"download": "1", "year": TODAY.year})
    (row,) = rows_of(response)
    assert row["reason"].startswith("'=") and row["recorded_by"] == "" and row["by"] == "'  @SUM(1)"
    assert row["user_name"].startswith("'=cmd")
    assert row["days"] == "-1"  # our own numbers stay numbers


# --- Balances ------------------------------------------------------------------------------------


def test_balances_per_person_for_a_team_and_year(hr_client, ledger):
    response = hr_client.get(reverse("console:balances"), {"team": "Engineering", "year": NEXT_MONDAY.year})
    assert response.status_code == 200
    table = response.context["table"]
    names = [row.name for row in table.rows]
    assert names == ["Alice Adams", "Bob Brown", "Dave Diaz"]
    alice = table.rows[0].balances[0]
    assert alice.leave_type == "vacation"
    if NEXT_MONDAY.year == TODAY.year:
        assert alice.remaining == Decimal(25) + 3 - Decimal("2.5")
    assert "25.5 left" in response.text or NEXT_MONDAY.year != TODAY.year
    assert "+3 adjusted" in response.text


def test_balances_show_a_page_of_people_at_a_time(hr_client, ledger, monkeypatch):
    from approvals import console_see_views

    monkeypatch.setattr(console_see_views, "BALANCES_PER_PAGE", 2)
    query = {"team": "Engineering", "year": NEXT_MONDAY.year}
    first = hr_client.get(reverse("console:balances"), query).content.decode()
    assert "Alice Adams" in first and "Bob Brown" in first and "Dave Diaz" not in first
    assert "People 1–2 of 3." in first and 'rel="next"' in first and 'rel="prev"' not in first
    second = hr_client.get(reverse("console:balances"), {**query, "page": "2"}).content.decode()
    assert "Dave Diaz" in second and "Alice Adams" not in second and 'rel="prev"' in second
    # The CSV holds everyone, whatever the page.
    csv_text = hr_client.get(reverse("console:balances"), {**query, "download": "1"}).content.decode("utf-8-sig")
    assert all(name in csv_text for name in ("Alice Adams", "Bob Brown", "Dave Diaz"))


def test_balances_download_as_csv_one_row_per_person_and_leave_type(hr_client, ledger, fake_slack):
    year = NEXT_MONDAY.year
    page = hr_client.get(reverse("console:balances"), {"team": "Engineering", "year": year}).text
    assert f'href="/console/balances/?team=Engineering&amp;year={year}&amp;download=1"' in page

    response = hr_client.get(reverse("console:balances"), {"team": "Engineering", "year": year, "download": "1"})

    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == f'attachment; filename="balances-engineering-{year}.csv"'
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0] == ["user_id", "name", "team", "year", "leave_type", "leave_type_name", "allowance",
                       "adjustments", "taken", "pending", "left"]
    assert [(r[0], r[4]) for r in rows[1:]] == [(user, code) for user in (ALICE, BOB, DAVE)
                                                 for code in ("vacation", "sick", "medical")]
    alice_vacation, alice_sick = rows[1], rows[2]
    assert alice_vacation[1:4] == ["Alice Adams", "Engineering", str(year)]
    assert alice_vacation[5:8] == ["Vacation", "25", "3"]
    if year == TODAY.year:  # as the page: her 2.5 days taken of 25 + 3
        assert alice_vacation[8:] == ["2.5", "0", "25.5"]
    assert alice_sick[6] == "" and alice_sick[10] == ""  # no yearly limit


def test_the_balances_csv_waits_for_memberships_still_being_read(hr_client, ledger, fake_slack, settings):
    hr_client.get(reverse("console:balances"))  # the ledger is read (immediate tasks)
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.dummy.DummyBackend"}}  # no worker from here
    cache.delete(directory.channel_members_key(C_ENG))  # who is in Engineering is not known yet

    response = hr_client.get(reverse("console:balances"), {"team": "Engineering", "download": "1"})

    assert response["Content-Type"].startswith("text/html")  # not a CSV that silently misses people
    assert "people may be missing, so the CSV waits for them." in response.text
    assert 'id="balances-csv"' not in response.text
    assert "Nobody in Engineering yet" not in response.text  # not known yet, which the notice says


def test_a_name_in_the_balances_csv_cannot_be_run_as_a_formula(hr_client, ledger, fake_slack):
    fake_slack.workspace.users[ALICE].real_name = "=HYPERLINK(\"http://evil.example\")"
    response = hr_client.get(reverse("console:balances"), {"team": "Engineering", "year": TODAY.year,
                                                          "download": "1"})
    names = [row[1] for row in csv.reader(io.StringIO(response.content.decode("utf-8-sig")))]
    assert "'=HYPERLINK(\"http://evil.example\")" in names


def test_balances_show_the_adjust_link_only_with_the_permission(hr_client, ledger, django_user_model):
    assert "Adjust a balance" in hr_client.get(reverse("console:balances")).text
    sam = django_user_model.objects.create_user("sam", "sam@example.com", "a-long-test-password", is_staff=True)
    sam.user_permissions.add(Permission.objects.get(codename="view_leave_records"))
    hr_client.force_login(sam)
    assert "Adjust a balance" not in hr_client.get(reverse("console:balances")).text


def test_staff_status_alone_shows_nobody_s_leave_records(sam_client, ledger):
    # The CSV and the balances name private types (sick, medical) for everyone: a staff user made staff
    # to look at the task queue, say, sees neither; Who's out (private types as "away") stays open.
    for url in (reverse("console:ledger_export"), reverse("console:balances")):
        response = sam_client.get(url, {"download": "1", "year": TODAY.year})
        assert response.status_code == 403 and "approvals.view_leave_records" in response.text
        assert "sick" not in response.text.lower()
    assert sam_client.get(reverse("console:whos_out")).status_code == 200


# --- Adjustments ---------------------------------------------------------------------------------


def test_hr_records_an_adjustment_choosing_the_person_by_email(hr_client, ledger, fake_slack):
    hr_client.get(reverse("console:search"), {"q": "alice"})  # the directory is read (immediate tasks)
    response = hr_client.post(reverse("console:adjust"), {
        "user": "alice@example.com", "leave_type": "vacation", "days": "2", "year": TODAY.year,
        "reason": "opening balance"}, follow=True)
    assert "Recorded +2.0 days of Vacation for Alice Adams" in response.text or \
        "Recorded +2 days of Vacation for Alice Adams" in response.text
    posted = fake_slack.calls("chat.postMessage")
    assert posted and posted[-1].params["channel"] == C_ENG_APPROVALS


def test_an_adjustment_with_mistakes_names_the_fields(hr_client, ledger):
    hr_client.get(reverse("console:search"), {"q": "alice"})
    response = hr_client.post(reverse("console:adjust"), {
        "user": "nobody@example.com", "leave_type": "vacation", "days": "0.3", "year": TODAY.year, "reason": ""})
    assert response.status_code == 200
    form = response.context["form"]
    assert set(form.errors) >= {"user", "days", "reason"}
    assert "nobody@example.com" in str(form.errors["user"])


def test_staff_without_the_permission_cannot_adjust(sam_client, ledger, fake_slack):
    assert sam_client.get(reverse("console:adjust")).status_code == 403
    response = sam_client.post(reverse("console:adjust"), {
        "user": ALICE, "leave_type": "vacation", "days": "2", "year": TODAY.year, "reason": "sneaky"})
    assert response.status_code == 403
    assert "Can record balance adjustments" in response.text
    assert not [c for c in fake_slack.calls("chat.postMessage") if "sneaky" in str(c.params)]


def test_the_admin_adjust_page_still_works(hr_client):
    assert hr_client.get(reverse("admin:approvals_adjust_balance")).status_code == 200


# --- A company day added over leave -------------------------------------------------------------------


def messages_on(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def test_adding_a_company_day_over_leave_names_whose_leave_it_falls_in(hr_client, hannah, ledger):
    hannah.user_permissions.add(Permission.objects.get(codename="add_companyholiday"))
    tuesday = NEXT_MONDAY + timedelta(days=1)
    response = hr_client.post(reverse("console:holiday_add"), {"date": tuesday.isoformat(), "name": "Founders' day",
                                                               "team": ""}, follow=True)
    [saved, warning] = messages_on(response)
    assert saved == f"{tuesday.isoformat()} Founders' day saved."
    # Alice's approved vacation and Dave's pending sick leave take that Tuesday; Alice's rejected request
    # and Bob's leave of last year do not.
    assert warning.startswith(f"2 people have leave on {tuesday.strftime('%a')} {tuesday.day} "), warning
    assert "(approved)" in warning and "(pending)" in warning and "adjustment" in warning


def test_a_company_day_over_no_one_s_leave_or_on_a_weekend_adds_no_warning(hr_client, hannah, ledger):
    hannah.user_permissions.add(Permission.objects.get(codename="add_companyholiday"))
    for day in (NEXT_MONDAY + timedelta(days=4), NEXT_MONDAY - timedelta(days=2)):  # a Friday, a Saturday
        response = hr_client.post(reverse("console:holiday_add"), {"date": day.isoformat(), "name": "Quiet day",
                                                                   "team": ""}, follow=True)
        assert messages_on(response) == [f"{day.isoformat()} Quiet day saved."]


def test_placing_many_people_among_many_teams_reads_each_member_list_once():
    from approvals.config_types import ApproverSource, MemberSource, TeamConfig
    from approvals.console_see_selectors import team_people

    teams = tuple(TeamConfig(name=f"Team {n}", approvals_channel=f"C_APPROVALS{n}", members=MemberSource(channel=f"C_T{n}"),
                             approvers=ApproverSource(users=("U_LEAD",))) for n in range(20))
    config = standard_config(teams=teams)
    asked = []

    def channel_members(channel):
        asked.append(channel)
        return frozenset({f"U{n:03d}" for n in range(int(channel[3:]) * 10, int(channel[3:]) * 10 + 10)})

    people, unknown = team_people(config, teams[19], [f"U{n:03d}" for n in range(200)],
                                  channel_members=channel_members, usergroup_members=lambda group: frozenset())

    assert people == [f"U{n:03d}" for n in range(190, 200)] and not unknown
    assert sorted(asked) == sorted(f"C_T{n}" for n in range(20))
