"""Dates, time zones and calendars at their edges: year ends, cold time zones, team time zones, `--at`.

Pure rules and builders are tested with `today` passed in; flows go through signed
requests and the fake Slack. Dates are in 2031 and later.

December 2031: Mon 29, Tue 30, Wed 31; Thu 1 Jan 2032 (New Year's Day), Fri 2 Jan, Mon 5 Jan.
"""

import json
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from approvals import job_messages
from approvals.config_types import LeaveTypeConfig, TeamConfig
from approvals.rules import LeaveRequest, LedgerEntry, capacity_violation
from fake_slack.personas import BOB, C_ENG_APPROVALS
from test_support.flows import ALICE as FLOW_ALICE
from test_support.flows import dms_to, install_config, open_request_form, posted_requests, request_time_off
from test_support.flows import request_values, submit_request
from test_support.slack_requests import post_interaction, view_submission_payload

ALICE, DAN = "U_ALICE", "U_DAN"
VACATION = LeaveTypeConfig(code="vacation", name="Vacation", annual_allowance_days=Decimal(25), allow_half_days=True)
LEAVE_TYPES = {VACATION.code: VACATION}


def entry(start: date, end: date, *, user=ALICE, status="approved", days=Decimal(2), ts="1900000000.000100",
          **changes) -> LedgerEntry:
    values = dict(id=f"{user}-{start}", user=user, team="Engineering", leave_type="vacation", start=start, end=end,
                  start_half=None, end_half=None, days=days, status=status, channel="C_ENG_APPROVALS", ts=ts)
    return LedgerEntry(**{**values, **changes})


# --- The daily jobs' messages name the year of dates outside the year they are read in -------------
# README, Rules: "Messages show a date's year whenever it is not the year they are read in (the day a
# message was posted …): "Mon 8 Mar 2027" in December, never a typo's "2062" read as this March."


def test_the_weekly_digest_at_the_year_end_names_next_years_dates_with_their_year():
    monday = date(2031, 12, 29)
    until = monday + timedelta(days=7)
    holidays = {date(2032, 1, 1): "New Year's Day"}
    text, blocks = job_messages.weekly_digest_message("Engineering", monday, until,
                                                      [entry(date(2032, 1, 2), date(2032, 1, 5))], LEAVE_TYPES, holidays)
    shown = text + str(blocks)
    assert "Fri 2 Jan 2032 – Mon 5 Jan 2032" in shown  # was "Fri 2 Jan – Mon 5 Jan": read as this January
    assert "Mon 5 Jan 2032" in text  # the window's end
    assert "Thu 1 Jan 2032: New Year's Day" in shown


def test_the_reminder_on_new_years_eve_names_the_year_of_the_leave():
    leave = entry(date(2032, 1, 2), date(2032, 1, 5))
    text = job_messages.reminder_text(leave, VACATION, date(2032, 1, 2), date(2031, 12, 31))
    assert "starts on Fri 2 Jan 2032 (Fri 2 Jan 2032 – Mon 5 Jan 2032" in text


def test_a_nudge_names_the_year_of_a_request_for_another_year():
    now = datetime(2031, 3, 11, 10, tzinfo=ZoneInfo("America/Los_Angeles"))
    waiting = entry(date(2036, 3, 10), date(2036, 3, 12), status="pending", ts=f"{now.timestamp() - 72 * 3600:.6f}")
    text = job_messages.nudge_text("Engineering", [waiting], LEAVE_TYPES, now)
    assert "Mon 10 Mar 2036 – Wed 12 Mar 2036" in text  # was "Mon 10 Mar – Wed 12 Mar": read as this March


def test_the_capacity_refusal_at_approval_names_the_year_of_a_day_in_another_year():
    team = TeamConfig(name="Engineering", approvals_channel="C_ENG_APPROVALS", max_out=1)
    taken = [entry(date(2036, 3, 10), date(2036, 3, 10), user=DAN)]
    request = LeaveRequest(ALICE, "vacation", date(2036, 3, 10), date(2036, 3, 10))
    violation = capacity_violation(request, team=team, ledger=taken, holiday_dates={}, today=date(2031, 3, 11))
    assert violation.message.startswith("Mon 10 Mar 2036 is full for Engineering")


# --- An edit while the requester's time zone is not cached ------------------------------------------
# README, Operations (cold caches): a submission that finds the cache cold is still checked against
# "past dates — with a day's tolerance while the time zone is unknown". An edit is a submission too.


@pytest.mark.django_db
def test_an_edit_on_a_cold_time_zone_keeps_a_days_tolerance_for_leave_that_starts_today(client, fake_slack,
                                                                                      monkeypatch):
    from django.core.cache import cache

    from approvals import change_services, directory, selectors

    install_config()
    monday, thursday = date(2031, 3, 10), date(2031, 3, 13)
    request_time_off(client, fake_slack, FLOW_ALICE, start=monday, end=date(2031, 3, 12))
    [message] = ledger_messages(fake_slack)
    form = {**fake_slack.last_call("views.open").params["view"],
            "private_metadata": json.dumps({"edit": message.metadata["event_payload"]["id"]})}
    # 18:00 on Monday 10 March in California (Alice's zone), already Tuesday in UTC.
    evening = datetime(2031, 3, 11, 1, 0, tzinfo=timezone.utc).timestamp()
    monkeypatch.setattr(change_services, "local_today",
                        lambda zone, now=None: selectors.local_today(zone, now=evening if now is None else now))
    cache.delete(directory.timezone_key(FLOW_ALICE))  # her time zone expired from the cache

    response = post_interaction(client, view_submission_payload(
        user_id=FLOW_ALICE, view=form, values=request_values("vacation", monday, thursday), view_id="V_EDIT"))

    assert response.content == b"", response.content  # was: "Vacation can't start in the past"
    [message] = ledger_messages(fake_slack)
    assert message.metadata["event_payload"]["end"] == thursday.isoformat()


def request_path_clock_at(monkeypatch, at: datetime) -> None:
    """The day of the request path and of the delivery task, in any time zone, as at `at`."""
    from approvals import request_services, selectors

    monkeypatch.setattr(request_services, "local_today",
                        lambda zone, now=None: selectors.local_today(zone, now=at.timestamp()))


@pytest.mark.django_db
def test_on_new_years_day_a_cold_submission_may_start_in_the_new_fifth_year_ahead(client, fake_slack, monkeypatch):
    # Noon on 1 Jan 2037 in London (UTC): Bob may ask for leave until the end of 2042. His time zone is not
    # cached yet; the day's tolerance for past dates (31 Dec 2036) must not also move the limit back a year.
    from django.core.cache import cache

    install_config()
    request_path_clock_at(monkeypatch, datetime(2037, 1, 1, 12, tzinfo=timezone.utc))

    view = open_request_form(client, fake_slack, BOB)
    cache.clear()  # nothing known of Bob: his time zone, his team, the ledger

    response = submit_request(client, BOB, view, request_values("vacation", date(2042, 3, 10), date(2042, 3, 12)))

    assert response.content == b"", response.content  # was: "It starts in 2042: … (until the end of 2041)"
    [posted] = posted_requests(fake_slack)
    assert "2042-03-10" in json.dumps(posted.params["metadata"])


@pytest.mark.django_db
def test_on_new_years_eve_a_cold_submission_a_year_too_far_is_refused_by_the_task_in_the_requesters_zone(
        client, fake_slack, monkeypatch):
    # 20:00 UTC on 31 Dec 2036 is already 1 Jan 2037 east of UTC+4, so the form cannot refuse 2042 before it
    # knows where Alice is; her task knows: noon on 31 Dec in California, so 2042 is still too far.
    from django.core.cache import cache

    install_config()
    request_path_clock_at(monkeypatch, datetime(2036, 12, 31, 20, tzinfo=timezone.utc))
    view = open_request_form(client, fake_slack, FLOW_ALICE)
    cache.clear()

    response = submit_request(client, FLOW_ALICE, view,
                              request_values("vacation", date(2042, 3, 10), date(2042, 3, 12)))

    assert response.content == b""
    assert posted_requests(fake_slack) == []
    assert any("It starts in 2042" in dm and "until the end of 2041" in dm for dm in dms_to(fake_slack, FLOW_ALICE))


def ledger_messages(fake_slack) -> list:
    return [m for m in fake_slack.workspace.messages(C_ENG_APPROVALS) if m.metadata]


# --- run_jobs --at -----------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("typed", ["2031-03-10", "2031-03-10T09:00:00"])
def test_run_jobs_at_a_naive_instant_suggests_an_instant_it_then_accepts(typed):
    from io import StringIO

    from django.core.management import CommandError, call_command

    install_config()
    with pytest.raises(CommandError) as refused:
        call_command("run_jobs", "--at", typed, stdout=StringIO())
    suggested = str(refused.value).split("e.g. ")[1].split(" ")[0]
    # Was "2031-03-10+00:00" for a date alone, which Python reads as a naive midnight: refused again.
    call_command("run_jobs", "--at", suggested, "--team", "Engineering", stdout=StringIO())


# --- The console's Who's out: "this week" in the team's time zone -------------------------------------


@pytest.mark.django_db
def test_whos_out_in_the_console_starts_this_week_in_the_teams_own_time_zone(client, django_user_model, fake_slack,
                                                                          monkeypatch):
    from dataclasses import replace
    from types import SimpleNamespace

    from django.urls import reverse

    from approvals import console_see_views
    from fake_slack.ledger_seed import seed_ledger
    from test_support.flows import ENGINEERING, standard_config

    install_config(standard_config(teams=(replace(ENGINEERING, timezone="Asia/Tokyo"),)))
    monday = date(2031, 3, 10)
    seed_ledger(fake_slack.workspace, channel=C_ENG_APPROVALS,
                entries=[entry(monday, monday, user=FLOW_ALICE, days=Decimal(1), ts=None)])
    # 08:30 on Monday 10 March in Tokyo: still Sunday in UTC.
    moment = datetime(2031, 3, 9, 23, 30, tzinfo=timezone.utc)
    monkeypatch.setattr(console_see_views, "timezone",
                        SimpleNamespace(now=lambda: moment, localdate=lambda: moment.date()))
    client.force_login(django_user_model.objects.create_user("hr", "hr@example.com", "a-long-test-password",
                                                             is_staff=True))

    response = client.get(reverse("console:whos_out"), {"team": "Engineering", "weeks": "1"})

    assert "Week of Mon 10 Mar 2031" in response.text  # was last week's: "Week of Mon 3 Mar 2031"
    assert "Alice Adams" in response.text  # out today, Tokyo's Monday
