"""Leave approved after its reminder's run: the day-before reminder DM (REMINDER_TIME on the working day
before the leave) has gone out for everyone whose leave was approved by then; leave approved (or recorded)
after that run, or on the days off before the leave, gets its reminder at once, after the decision DM,
once (the job's own key: a late job run sends nothing more).

The team's time zone is chosen so that its clock reads about 12:00 now, and REMINDER_TIME set either side
of it, so "after the run" and "before the run" hold whatever the hour the tests run at.
"""

from dataclasses import replace
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from approvals import block_ids as ids
from fake_slack.personas import ALICE, BOB
from test_support.flows import (
    ENGINEERING,
    click,
    dms_to,
    install_config,
    posted_requests,
    request_time_off,
    standard_config,
)
from test_support.job_runs import run_jobs

pytestmark = pytest.mark.django_db

REMINDER = ":wave: A reminder: your"


def zone_at_noon() -> str:
    """A fixed-offset zone whose clock reads between 12:00 and 13:00 now."""
    offset = min(max(12 - datetime.now(timezone.utc).hour, -11), 12)
    return "Etc/UTC" if offset == 0 else f"Etc/GMT{-offset:+d}"  # POSIX signs: Etc/GMT-5 is UTC+5


def team_today(zone: str):
    return datetime.now(ZoneInfo(zone)).date()


def install(fake_slack, *, workweek=(0, 1, 2, 3, 4, 5, 6)) -> str:
    zone = zone_at_noon()
    with fake_slack.workspace.lock:  # Alice lives in the team's zone: her day is the team's ("tomorrow")
        fake_slack.workspace.users[ALICE].tz = zone
    # No public holidays: the next working day is the next day of the workweek.
    team = replace(ENGINEERING, timezone=zone, workweek=workweek, holiday_country=None, holiday_subdivision=None)
    install_config(standard_config(teams=(team,)))
    return zone


def reminders_to(fake_slack, user: str) -> list[str]:
    return [text for text in dms_to(fake_slack, user) if text.startswith(REMINDER)]


def test_leave_for_tomorrow_approved_after_the_reminder_run_is_reminded_at_once_and_once(
        client, fake_slack, settings):
    zone = install(fake_slack)
    settings.REMINDER_TIME = "11:00"  # today's run has passed
    tomorrow = team_today(zone) + timedelta(days=1)
    request_time_off(client, fake_slack, ALICE, "vacation", tomorrow, tomorrow + timedelta(days=1))

    click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted_requests(fake_slack)[-1])

    dms = dms_to(fake_slack, ALICE)
    [reminder] = reminders_to(fake_slack, ALICE)
    assert "Vacation starts tomorrow" in reminder and "hand over" in reminder, reminder
    approved = next(i for i, text in enumerate(dms) if "approved your" in text)
    assert dms.index(reminder) > approved, dms  # after the decision DM
    # The reminders job running late today sends nothing more.
    run_jobs(datetime.now(ZoneInfo(zone)).replace(hour=11, minute=30))
    assert len(reminders_to(fake_slack, ALICE)) == 1


def test_leave_approved_before_the_reminder_run_is_reminded_by_the_job_alone(client, fake_slack, settings):
    zone = install(fake_slack)
    settings.REMINDER_TIME = "14:00"  # today's run is still to come
    tomorrow = team_today(zone) + timedelta(days=1)
    request_time_off(client, fake_slack, ALICE, "vacation", tomorrow, tomorrow)
    click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted_requests(fake_slack)[-1])
    assert reminders_to(fake_slack, ALICE) == []

    run_jobs(datetime.now(ZoneInfo(zone)).replace(hour=14, minute=0, second=0, microsecond=0))

    [reminder] = reminders_to(fake_slack, ALICE)
    assert "starts tomorrow" in reminder, reminder


def test_leave_further_ahead_approved_late_in_the_day_waits_for_its_own_reminder(client, fake_slack, settings):
    zone = install(fake_slack)
    settings.REMINDER_TIME = "11:00"
    later = team_today(zone) + timedelta(days=7)
    request_time_off(client, fake_slack, ALICE, "vacation", later, later)

    click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted_requests(fake_slack)[-1])

    assert any("approved your" in text for text in dms_to(fake_slack, ALICE))
    assert reminders_to(fake_slack, ALICE) == []


def test_leave_approved_on_a_day_off_before_it_is_reminded_at_once_though_the_hour_is_early(
        client, fake_slack, settings):
    """Approved on the Saturday for Monday: Friday's run has passed, and no run comes on the days off."""
    today_weekday = datetime.now(ZoneInfo(zone_at_noon())).weekday()
    zone = install(fake_slack, workweek=tuple(day for day in range(7) if day != today_weekday))
    settings.REMINDER_TIME = "14:00"  # it would be still to come, were today a working day
    tomorrow = team_today(zone) + timedelta(days=1)
    request_time_off(client, fake_slack, ALICE, "vacation", tomorrow, tomorrow)

    click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted_requests(fake_slack)[-1])

    [reminder] = reminders_to(fake_slack, ALICE)
    assert "starts tomorrow" in reminder, reminder


def test_leave_recorded_at_once_after_the_run_is_reminded_without_wishing_a_private_type_well(
        client, fake_slack, settings):
    zone = install(fake_slack)
    settings.REMINDER_TIME = "11:00"
    tomorrow = team_today(zone) + timedelta(days=1)

    request_time_off(client, fake_slack, ALICE, "sick", tomorrow, tomorrow)  # needs no approval

    [reminder] = reminders_to(fake_slack, ALICE)
    assert "Sick leave starts tomorrow" in reminder and "Enjoy" not in reminder, reminder


def test_leave_that_has_begun_gets_no_reminder_when_approved(client, fake_slack, settings):
    zone = install(fake_slack)
    settings.REMINDER_TIME = "11:00"
    today = team_today(zone)
    request_time_off(client, fake_slack, ALICE, "sick", today, today + timedelta(days=1))

    assert any("Sick leave" in text for text in dms_to(fake_slack, ALICE))
    assert reminders_to(fake_slack, ALICE) == []
