"""The daily and hourly jobs through a real calendar year, as cron (`run_jobs --at`) and the clock run them.

Teams in New York, Berlin and Sydney with their public holidays, a Sunday–Thursday team, the year end,
daylight-saving changes; reminders, the "out today" post, the weekly digest and nudges, each exactly once
per team and period; what a channel refusing for good or for a moment does. Every assertion is on what
crossed the wire to the fake Slack (or what `run_jobs` printed).
"""

import threading
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core.management import CommandError

from approvals.config_types import ApproverSource, HolidayConfig, MemberSource, TeamConfig
from approvals.job_services import jobs_run_due
from approvals.management.commands.run_scheduler import scheduler_loop
from approvals.models import JobRun
from approvals.notifications import NOTICE_TRIES_IN_CALL
from approvals.rules import LedgerEntry
from fake_slack.personas import C_ENG, C_ENG_APPROVALS, C_GENERAL, C_NOBOT, CAROL
from approvals import block_ids as ids
from test_support.flows import (ALICE, BOB, DAVE, click, install_config, posted_requests, request_time_off,
                                  standard_config)
from test_support.job_runs import post_entry, posts_in, run_jobs
from test_support.slack_faults import answers_lost

pytestmark = pytest.mark.django_db

UTC = timezone.utc
NEW_YORK = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")
SYDNEY = ZoneInfo("Australia/Sydney")
LOS_ANGELES = ZoneInfo("America/Los_Angeles")
JERUSALEM = ZoneInfo("Asia/Jerusalem")


@pytest.fixture(autouse=True)
def export_dir(settings, tmp_path):
    settings.LEDGER_EXPORT_DIR = tmp_path / "exports"
    return settings.LEDGER_EXPORT_DIR


def team(name="Engineering", zone="America/New_York", *, country="US", subdivision="NY", workweek=(0, 1, 2, 3, 4),
         announce=C_ENG, approvals=C_ENG_APPROVALS, digest=time(9, 0), nudge=None, members=(ALICE, DAVE),
         approvers=(BOB,)) -> TeamConfig:
    return TeamConfig(name=name, members=MemberSource(users=members), approvers=ApproverSource(users=approvers),
                      approvals_channel=approvals, announce_channel=announce, timezone=zone,
                      holiday_country=country, holiday_subdivision=subdivision, workweek=workweek,
                      digest_time=digest, nudge_after_hours=nudge)


def install(*teams, **changes):
    return install_config(standard_config(teams=teams or (team(),), **changes))


def leave(user=ALICE, start=date(2027, 3, 15), end=None, *, status="approved", leave_type="vacation",
          team_name="Engineering", start_half=None, end_half=None, days="1", **changes) -> LedgerEntry:
    end = end or start
    values = dict(id=f"{user}-{start}-{end}-{leave_type}-{status}-{team_name}".replace(" ", "_")[:60], user=user, team=team_name,
                  leave_type=leave_type, start=start, end=end, start_half=start_half, end_half=end_half,
                  days=Decimal(days), status=status, decided_by=BOB if status != "pending" else None)
    return LedgerEntry(**{**values, **changes})


def local(day: date, hour: int, minute: int = 0, zone=NEW_YORK) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone)


def delivered_dms(fake_slack, user) -> list[str]:
    """The DMs to `user` that Slack took (a refused attempt reached nobody)."""
    return [call.params["text"] for call in fake_slack.calls("chat.postMessage")
            if call.params.get("channel") == user and call.response.get("ok")]


def reminders_to(fake_slack, user) -> list[str]:
    return [text for text in delivered_dms(fake_slack, user) if "A reminder" in text]


def nudges_to(fake_slack, user) -> list[str]:
    return [text for text in delivered_dms(fake_slack, user) if "waiting for a decision" in text]


def sweep(start: datetime, end: datetime, step: timedelta, *args: str) -> list[tuple[datetime, str]]:
    """`run_jobs --at` every `step` from `start` to `end`, as cron would; (instant, what it printed)."""
    runs = []
    moment = start
    while moment <= end:
        runs.append((moment, run_jobs(moment, *args)))
        moment += step
    return runs


def when_ran(runs, needle: str, zone) -> list[datetime]:
    """The local instants at which a run printed `needle` (a job's name and team)."""
    return [moment.astimezone(zone).replace(tzinfo=None) for moment, out in runs if needle in out]


def titles(posts) -> list[str]:
    return [post["blocks"][0]["text"]["text"] for post in posts]


def everything_said(fake_slack) -> str:
    """Every text and block posted to a channel (not a DM) that Slack took."""
    said = []
    for call in fake_slack.calls("chat.postMessage"):
        if str(call.params.get("channel", "")).startswith("C") and call.response.get("ok"):
            said.append(str(call.params.get("text")) + str(call.params.get("blocks")))
    return "\n".join(said)


# --- Reminders the working day before ---------------------------------------------------------


def test_monday_leave_in_new_york_is_reminded_once_on_friday_afternoon_and_not_over_the_weekend(fake_slack):
    install(team(digest=None))
    post_entry(fake_slack, leave(start=date(2027, 3, 15), end=date(2027, 3, 17), days="3"))
    # Friday 12 March 2027 09:00 to Monday 15 March 09:00, every half hour (DST starts on the Sunday).
    runs = sweep(local(date(2027, 3, 12), 9), local(date(2027, 3, 15), 9), timedelta(minutes=30), "--team", "Engineering")
    assert when_ran(runs, "reminders Engineering", NEW_YORK) == [datetime(2027, 3, 12, 15, 0)]
    [reminder] = reminders_to(fake_slack, ALICE)
    assert "Vacation starts on Mon 15 Mar (Mon 15 Mar – Wed 17 Mar, 3 days)" in reminder
    assert reminder.endswith("Enjoy!")


def test_leave_after_thanksgiving_in_california_is_reminded_on_the_wednesday_before(fake_slack):
    install(team(zone="America/Los_Angeles", subdivision="CA", digest=None))
    post_entry(fake_slack, leave(start=date(2027, 11, 29), end=date(2027, 12, 3), days="5"))
    # Thursday 25 (Thanksgiving) and Friday 26 (the day after, a California holiday) are days off.
    assert "0 reminder(s)" in run_jobs(local(date(2027, 11, 23), 15, zone=LOS_ANGELES))
    assert "1 reminder(s)" in run_jobs(local(date(2027, 11, 24), 15, zone=LOS_ANGELES))
    for day in (date(2027, 11, 25), date(2027, 11, 26), date(2027, 11, 27), date(2027, 11, 28)):
        assert "reminders" not in run_jobs(local(day, 16, zone=LOS_ANGELES))
    [reminder] = reminders_to(fake_slack, ALICE)
    assert "starts on Mon 29 Nov" in reminder


def test_leave_starting_on_the_first_working_day_of_2028_is_reminded_before_the_observed_new_year(fake_slack):
    # New Year's Day 2028 is a Saturday: California observes it on Friday 31 December 2027.
    install(team(zone="America/Los_Angeles", subdivision="CA", digest=None))
    post_entry(fake_slack, leave(start=date(2028, 1, 3), end=date(2028, 1, 7), days="5"))
    assert "reminders" not in run_jobs(local(date(2027, 12, 31), 15, zone=LOS_ANGELES))
    assert "1 reminder(s)" in run_jobs(local(date(2027, 12, 30), 15, zone=LOS_ANGELES))
    [reminder] = reminders_to(fake_slack, ALICE)
    # Next year's dates say their year, in the reminder's own words too.
    assert "starts on Mon 3 Jan 2028 (Mon 3 Jan 2028 – Fri 7 Jan 2028, 5 days)" in reminder


def test_a_half_day_that_starts_at_noon_is_reminded_the_working_day_before_and_says_so(fake_slack):
    install(team(digest=None))
    post_entry(fake_slack, leave(start=date(2027, 5, 4), end=date(2027, 5, 4), start_half="pm", days="0.5"))
    assert "0 reminder(s)" in run_jobs(local(date(2027, 4, 30), 15))  # Friday: Monday is the next working day
    assert reminders_to(fake_slack, ALICE) == []
    assert "1 reminder(s)" in run_jobs(local(date(2027, 5, 3), 15))
    [reminder] = reminders_to(fake_slack, ALICE)
    assert "starts tomorrow (Tue 4 May (afternoon), 0.5 days)" in reminder


def test_a_sunday_to_thursday_team_reminds_sunday_leave_on_thursday(fake_slack):
    tel_aviv = team("Tel Aviv", "Asia/Jerusalem", country=None, subdivision=None, workweek=(6, 0, 1, 2, 3),
                    digest=None)
    install(tel_aviv)
    post_entry(fake_slack, leave(start=date(2027, 6, 13), end=date(2027, 6, 14), team_name="Tel Aviv", days="2"))
    runs = sweep(local(date(2027, 6, 9), 12, zone=JERUSALEM), local(date(2027, 6, 13), 12, zone=JERUSALEM),
                 timedelta(hours=1), "--team", "Tel Aviv")
    assert when_ran(runs, "reminders Tel Aviv", JERUSALEM) == [datetime(2027, 6, 9, 15, 0), datetime(2027, 6, 10, 15, 0)]
    [reminder] = reminders_to(fake_slack, ALICE)
    assert "starts on Sun 13 Jun" in reminder


def test_leave_booked_from_a_saturday_is_reminded_on_friday_for_its_first_working_day(fake_slack):
    install(team(digest=None))
    post_entry(fake_slack, leave(start=date(2027, 9, 18), end=date(2027, 9, 21), days="2"))
    run_jobs(local(date(2027, 9, 16), 15))
    assert reminders_to(fake_slack, ALICE) == []
    run_jobs(local(date(2027, 9, 17), 15))
    [reminder] = reminders_to(fake_slack, ALICE)
    assert "starts on Mon 20 Sep" in reminder


def test_leave_booked_from_a_company_day_before_christmas_is_reminded_the_day_before_that(fake_slack):
    install(team(digest=None), holidays=(HolidayConfig(date=date(2027, 12, 23), name="Company day"),))
    # Thu 23 Dec company day, Fri 24 Christmas (observed), weekend: the first working day is Mon 27.
    post_entry(fake_slack, leave(start=date(2027, 12, 23), end=date(2027, 12, 31), days="4"))
    assert "1 reminder(s)" in run_jobs(local(date(2027, 12, 22), 15), "--team", "Engineering")
    [reminder] = reminders_to(fake_slack, ALICE)
    assert "starts on Mon 27 Dec" in reminder


def test_leave_after_a_summer_shutdown_is_reminded_on_the_last_working_day_before_it(fake_slack):
    # The whole company is off from Mon 2 to Tue 31 August 2027; Alice's leave starts on Wed 1 September.
    shutdown = tuple(HolidayConfig(date=date(2027, 8, 2) + timedelta(days=n), name="Summer shutdown")
                     for n in range(30))
    install(team(country=None, subdivision=None, digest=None), holidays=shutdown)
    post_entry(fake_slack, leave(start=date(2027, 9, 1), end=date(2027, 9, 3), days="3"))
    assert "1 reminder(s)" in run_jobs(local(date(2027, 7, 30), 15), "--team", "Engineering")
    [reminder] = reminders_to(fake_slack, ALICE)
    assert "starts on Wed 1 Sep" in reminder


def test_a_tuesday_to_saturday_shop_reminds_tuesday_leave_on_saturday_and_digests_on_tuesday(fake_slack):
    shop = team("Shop", "Europe/Berlin", country=None, subdivision=None, workweek=(1, 2, 3, 4, 5),
                announce=C_GENERAL)
    install(shop)
    post_entry(fake_slack, leave(start=date(2027, 7, 6), end=date(2027, 7, 7), team_name="Shop", days="2"))
    runs = sweep(local(date(2027, 7, 2), 0, zone=BERLIN), local(date(2027, 7, 6), 23, zone=BERLIN),
                 timedelta(hours=1), "--team", "Shop")
    assert when_ran(runs, "reminders Shop", BERLIN) == [datetime(2027, 7, 2, 15, 0), datetime(2027, 7, 3, 15, 0),
                                                        datetime(2027, 7, 6, 15, 0)]
    [reminder] = reminders_to(fake_slack, ALICE)
    assert "starts on Tue 6 Jul" in reminder
    assert when_ran(runs, "weekly_digest Shop", BERLIN) == [datetime(2027, 7, 6, 9, 0)]


# --- The out-today post and the weekly digest at the team's own nine o'clock -------------------


def test_new_york_posts_at_nine_local_on_both_sides_of_the_march_clock_change(fake_slack):
    install(team())
    post_entry(fake_slack, leave(start=date(2027, 3, 12), end=date(2027, 3, 16), days="3"))
    runs = sweep(local(date(2027, 3, 12), 0), local(date(2027, 3, 16), 23), timedelta(minutes=15),
                 "--team", "Engineering")
    posted = sorted(when_ran(runs, "out_today Engineering", NEW_YORK) + when_ran(runs, "weekly_digest Engineering",
                                                                                 NEW_YORK))
    assert posted == [datetime(2027, 3, 12, 9, 0), datetime(2027, 3, 15, 9, 0), datetime(2027, 3, 16, 9, 0)]
    assert [t.split("*")[1] for t in titles(posts_in(fake_slack, C_ENG))] == [
        ":sunrise: Out today, Fri 12 Mar", ":calendar: Who's out, Mon 15 Mar – Mon 22 Mar",
        ":sunrise: Out today, Tue 16 Mar"]


def test_new_york_posts_at_nine_local_on_both_sides_of_the_november_clock_change(fake_slack):
    install(team())
    post_entry(fake_slack, leave(start=date(2027, 11, 5), end=date(2027, 11, 9), days="3"))
    runs = sweep(local(date(2027, 11, 5), 0), local(date(2027, 11, 9), 23), timedelta(minutes=15),
                 "--team", "Engineering")
    posted = sorted(when_ran(runs, "out_today Engineering", NEW_YORK) + when_ran(runs, "weekly_digest Engineering",
                                                                                 NEW_YORK))
    # Tuesday 2 November is Election Day in New York, a holiday: no post that day, nor before.
    assert posted == [datetime(2027, 11, 5, 9, 0), datetime(2027, 11, 8, 9, 0), datetime(2027, 11, 9, 9, 0)]
    assert len(posts_in(fake_slack, C_ENG)) == 3


def test_berlin_after_easter_and_the_clock_change_gets_its_weekly_digest_on_tuesday_at_nine(fake_slack):
    berlin = team("Berlin", "Europe/Berlin", country="DE", subdivision="BE", announce=C_GENERAL)
    install(berlin)
    post_entry(fake_slack, leave(user=DAVE, start=date(2027, 3, 30), end=date(2027, 4, 1), team_name="Berlin",
                                 days="3"))
    # Thursday 25 March to Wednesday 31 March 2027: Good Friday 26, the clock change on Sunday 28, Easter
    # Monday 29.
    runs = sweep(local(date(2027, 3, 25), 0, zone=BERLIN), local(date(2027, 3, 31), 23, zone=BERLIN),
                 timedelta(minutes=30), "--team", "Berlin")
    assert when_ran(runs, "weekly_digest Berlin", BERLIN) == [datetime(2027, 3, 30, 9, 0)]
    assert when_ran(runs, "out_today Berlin", BERLIN) == [datetime(2027, 3, 25, 9, 0), datetime(2027, 3, 31, 9, 0)]
    assert when_ran(runs, "reminders Berlin", BERLIN) == [datetime(2027, 3, 25, 15, 0), datetime(2027, 3, 30, 15, 0),
                                                          datetime(2027, 3, 31, 15, 0)]
    [reminder] = reminders_to(fake_slack, DAVE)
    assert "starts on Tue 30 Mar" in reminder
    [digest, out_today] = posts_in(fake_slack, C_GENERAL)
    assert "Who's out, Tue 30 Mar – Tue 6 Apr" in digest["blocks"][0]["text"]["text"]
    assert "Out today, Wed 31 Mar" in out_today["blocks"][0]["text"]["text"]


def test_sydney_posts_at_nine_local_when_its_clocks_go_forward_over_a_long_weekend(fake_slack):
    sydney = team("Sydney", "Australia/Sydney", country="AU", subdivision="NSW", announce=C_GENERAL)
    install(sydney)
    post_entry(fake_slack, leave(user=DAVE, start=date(2027, 10, 1), end=date(2027, 10, 6), team_name="Sydney",
                                 days="3"))
    # Friday 1 October 2027; clocks forward on Sunday 3; Monday 4 is Labour Day in New South Wales.
    runs = sweep(local(date(2027, 10, 1), 0, zone=SYDNEY), local(date(2027, 10, 5), 23, zone=SYDNEY),
                 timedelta(minutes=15), "--team", "Sydney")
    assert when_ran(runs, "out_today Sydney", SYDNEY) == [datetime(2027, 10, 1, 9, 0)]
    assert when_ran(runs, "weekly_digest Sydney", SYDNEY) == [datetime(2027, 10, 5, 9, 0)]
    assert [t.split("*")[1] for t in titles(posts_in(fake_slack, C_GENERAL))] == [
        ":sunrise: Out today, Fri 1 Oct", ":calendar: Who's out, Tue 5 Oct – Tue 12 Oct"]
    # Friday 09:00 AEST is Thursday 23:00 UTC; Tuesday 09:00 AEDT is Monday 22:00 UTC.
    utc_times = [moment for moment, out in runs if "Sydney" in out and ("out_today" in out or "weekly" in out)]
    assert utc_times == [datetime(2027, 9, 30, 23, 0, tzinfo=UTC), datetime(2027, 10, 4, 22, 0, tzinfo=UTC)]


def test_the_digest_of_the_week_across_new_year_names_next_years_holiday_and_dates_with_their_year(fake_slack):
    install(team())
    post_entry(fake_slack, leave(start=date(2027, 12, 27), end=date(2028, 1, 4), days="5"))
    post_entry(fake_slack, leave(user=DAVE, start=date(2028, 1, 3), end=date(2028, 1, 3)))
    run_jobs(local(date(2027, 12, 27), 9))
    [digest] = posts_in(fake_slack, C_ENG)
    body = str(digest["blocks"])
    assert "Who's out, Mon 27 Dec – Mon 3 Jan 2028" in body
    assert "<@U_ALICE>: :palm_tree: Vacation, Mon 27 Dec 2027 – Tue 4 Jan 2028" in body
    assert "<@U_DAVE>: :palm_tree: Vacation, Mon 3 Jan 2028" in body
    assert "Fri 31 Dec: New Year's Day (observed)" in body


def test_a_week_of_company_days_gets_no_digest_and_the_next_monday_gets_its_own(fake_slack):
    shutdown = tuple(HolidayConfig(date=date(2027, 12, 27) + timedelta(days=n), name="Winter shutdown")
                     for n in range(4))  # Mon 27 to Thu 30; Fri 31 is the observed New Year's Day
    install(team(), holidays=shutdown)
    post_entry(fake_slack, leave(start=date(2028, 1, 3), end=date(2028, 1, 3)))
    runs = sweep(local(date(2027, 12, 24), 9), local(date(2028, 1, 4), 9), timedelta(hours=4), "--team", "Engineering")
    assert when_ran(runs, "weekly_digest Engineering", NEW_YORK) == [datetime(2028, 1, 3, 9, 0)]
    assert JobRun.objects.filter(job="weekly_digest").values_list("period", flat=True).get() == "2028-W01"
    [digest] = posts_in(fake_slack, C_ENG)
    assert "Who's out, Mon 3 Jan – Mon 10 Jan" in digest["blocks"][0]["text"]["text"]


def test_a_sunday_to_thursday_team_gets_the_digest_on_sunday_and_out_today_on_the_other_days(fake_slack):
    tel_aviv = team("Tel Aviv", "Asia/Jerusalem", country=None, subdivision=None, workweek=(6, 0, 1, 2, 3),
                    announce=C_GENERAL)
    install(tel_aviv)
    post_entry(fake_slack, leave(start=date(2027, 6, 10), end=date(2027, 6, 14), team_name="Tel Aviv", days="3"))
    runs = sweep(local(date(2027, 6, 10), 0, zone=JERUSALEM), local(date(2027, 6, 15), 0, zone=JERUSALEM),
                 timedelta(hours=1), "--team", "Tel Aviv")
    assert when_ran(runs, "out_today Tel Aviv", JERUSALEM) == [datetime(2027, 6, 10, 9, 0),
                                                               datetime(2027, 6, 14, 9, 0)]
    assert when_ran(runs, "weekly_digest Tel Aviv", JERUSALEM) == [datetime(2027, 6, 13, 9, 0)]
    assert [t.split("*")[1] for t in titles(posts_in(fake_slack, C_GENERAL))] == [
        ":sunrise: Out today, Thu 10 Jun", ":calendar: Who's out, Sun 13 Jun – Sun 20 Jun",
        ":sunrise: Out today, Mon 14 Jun"]


# --- Private leave types in channel posts -------------------------------------------------------


def test_private_leave_is_only_away_in_every_channel_post_through_a_week(fake_slack):
    install(team(nudge=24))
    post_entry(fake_slack, leave(start=date(2027, 4, 12), end=date(2027, 4, 16), leave_type="medical", days="5"))
    post_entry(fake_slack, leave(user=DAVE, start=date(2027, 4, 13), end=date(2027, 4, 13), leave_type="sick",
                                 start_half="pm", days="0.5"))
    sweep(local(date(2027, 4, 9), 8), local(date(2027, 4, 16), 18), timedelta(hours=2), "--team", "Engineering")
    said = everything_said(fake_slack)
    assert said.count("Out today") >= 4 and "Who's out" in said
    for word in ("Medical", "medical", "Sick", "sick", ":hospital:", ":face_with_thermometer:"):
        assert word not in said
    assert ":calendar: away" in said
    # Her own reminder names it: a DM to her alone.
    [reminder] = reminders_to(fake_slack, ALICE)
    assert "Medical appointment starts on Mon 12 Apr" in reminder
    assert "Enjoy" not in reminder  # a wish for a holiday, not for a private type's appointment


# --- Nudges ---------------------------------------------------------------------------------------


def test_a_request_waiting_over_the_weekend_is_nudged_on_monday_at_ten_once(fake_slack):
    install(team(nudge=24, digest=None))
    posted = local(date(2027, 5, 7), 9, 30)  # a Friday morning
    post_entry(fake_slack, leave(status="pending", start=date(2027, 5, 24), end=date(2027, 5, 25), days="2"),
               ts=f"{posted.timestamp():.6f}")
    runs = sweep(posted, local(date(2027, 5, 10), 18), timedelta(minutes=30), "--team", "Engineering")
    assert when_ran(runs, "nudges Engineering", NEW_YORK) == [datetime(2027, 5, 7, 10, 0),
                                                              datetime(2027, 5, 10, 10, 0)]
    [nudge] = nudges_to(fake_slack, BOB)
    assert "<@U_ALICE>: :palm_tree: Vacation, Mon 24 May – Tue 25 May — waiting 3 days" in nudge
    assert nudges_to(fake_slack, ALICE) == []


def test_a_nudge_counts_real_hours_across_the_spring_clock_change(fake_slack):
    # 47 hours by the wall clock from Saturday 10:30 to Monday 10:00, but the night of the change had 23:
    # with nudge_after_hours 47, Monday's nudge waits for Tuesday.
    install(team(nudge=47, digest=None))
    posted = local(date(2027, 3, 13), 10, 30)
    post_entry(fake_slack, leave(status="pending", start=date(2027, 4, 5), end=date(2027, 4, 5)),
               ts=f"{posted.timestamp():.6f}")
    assert "0 waiting" in run_jobs(local(date(2027, 3, 15), 10))
    assert nudges_to(fake_slack, BOB) == []
    assert "1 waiting" in run_jobs(local(date(2027, 3, 16), 10))
    [nudge] = nudges_to(fake_slack, BOB)
    assert "waiting 71 hours" in nudge or "waiting 2 days" in nudge


def test_nudges_pause_for_a_holiday_and_come_back_the_next_working_day(fake_slack):
    install(team(nudge=24, digest=None))
    posted = local(date(2027, 5, 26), 9)  # Wednesday before Memorial Day weekend
    post_entry(fake_slack, leave(status="pending", start=date(2027, 6, 14), end=date(2027, 6, 14)),
               ts=f"{posted.timestamp():.6f}")
    sweep(local(date(2027, 5, 27), 10), local(date(2027, 6, 1), 10), timedelta(days=1), "--team", "Engineering")
    # Thu 27, Fri 28, (weekend), Memorial Day Mon 31 off, Tue 1 June.
    assert len(nudges_to(fake_slack, BOB)) == 3


# --- Exactly once, however many clocks --------------------------------------------------------------


def test_cron_and_the_clock_together_through_a_week_post_each_day_once(fake_slack):
    install(team(nudge=24))
    post_entry(fake_slack, leave(start=date(2027, 4, 19), end=date(2027, 4, 23), days="5"))
    post_entry(fake_slack, leave(user=DAVE, status="pending", start=date(2027, 5, 3), end=date(2027, 5, 3)),
               ts=f"{local(date(2027, 4, 14), 9).timestamp():.6f}")
    moment = local(date(2027, 4, 16), 8)
    end = local(date(2027, 4, 23), 18)
    while moment <= end:
        jobs_run_due(moment)  # the clock (its task runs at once here)
        run_jobs(moment)  # and cron, the same minute
        run_jobs(moment + timedelta(minutes=1))
        moment += timedelta(hours=1)
    posts = posts_in(fake_slack, C_ENG)
    assert [t.split("*")[1] for t in titles(posts)] == [
        ":calendar: Who's out, Mon 19 Apr – Mon 26 Apr", ":sunrise: Out today, Tue 20 Apr",
        ":sunrise: Out today, Wed 21 Apr", ":sunrise: Out today, Thu 22 Apr", ":sunrise: Out today, Fri 23 Apr"]
    assert len(reminders_to(fake_slack, ALICE)) == 1
    # Fri 16, Mon 19 … Fri 23: one nudge a working day.
    assert len(nudges_to(fake_slack, BOB)) == 6


@pytest.mark.django_db(transaction=True)
def test_two_clocks_ticking_at_once_on_the_first_monday_of_the_year_post_once(fake_slack):
    install(team(nudge=24))
    post_entry(fake_slack, leave(start=date(2028, 1, 3), end=date(2028, 1, 5), days="3"))
    stop = threading.Event()
    ticks = [local(date(2028, 1, 3), 9, minute) for minute in range(3)]

    def clock_process(times):
        iterator = iter(times)

        def clock():
            moment = next(iterator, None)
            if moment is None:
                stop.set()
                return times[-1]
            return moment

        scheduler_loop(stop, interval=0, clock=clock)

    threads = [threading.Thread(target=clock_process, args=(list(ticks),)) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    [digest] = posts_in(fake_slack, C_ENG)
    assert "Who's out, Mon 3 Jan – Mon 10 Jan" in digest["blocks"][0]["text"]["text"]


# --- A channel that refuses for good, or for a moment ------------------------------------------------


def test_the_bot_removed_from_the_announce_channel_stops_that_days_post_but_not_the_reminders(fake_slack):
    install(team(announce=C_NOBOT))
    post_entry(fake_slack, leave(start=date(2027, 6, 8), end=date(2027, 6, 9), days="2"))
    post_entry(fake_slack, leave(user=DAVE, start=date(2027, 6, 9), end=date(2027, 6, 9)))
    with pytest.raises(CommandError):
        run_jobs(local(date(2027, 6, 8), 15))
    assert posts_in(fake_slack, C_NOBOT) == []
    assert len(reminders_to(fake_slack, DAVE)) == 1  # the reminders went out all the same
    run_jobs(local(date(2027, 6, 8), 16))  # not retried every tick that day
    refused = [c for c in fake_slack.calls("chat.postMessage") if c.params.get("channel") == C_NOBOT]
    assert len(refused) == 1 and refused[0].response["error"] == "not_in_channel"
    assert JobRun.objects.get(job="out_today", period="2027-06-08").error == "not_in_channel"
    # HR invites the bot; the next working day's post goes out.
    fake_slack.workspace.channels[C_NOBOT].members.add(fake_slack.workspace.bot_user_id)
    run_jobs(local(date(2027, 6, 9), 9))
    [post] = posts_in(fake_slack, C_NOBOT)
    assert "Out today, Wed 9 Jun" in post["blocks"][0]["text"]["text"]


def test_an_out_today_post_whose_answer_was_lost_is_found_and_not_posted_twice(fake_slack):
    install(team())
    post_entry(fake_slack, leave(start=date(2027, 6, 8), end=date(2027, 6, 8)))
    with answers_lost(fake_slack, "chat.postMessage", then_unreadable=False, channel=C_ENG) as made:
        run_jobs(local(date(2027, 6, 8), 9))  # tried again inside the call: the look finds the post
    assert made
    run = JobRun.objects.get(job="out_today", period="2027-06-08")
    assert run.finished_at is not None and run.error == ""
    run_jobs(local(date(2027, 6, 8), 9, 5))
    assert len([m for m in fake_slack.workspace.messages(C_ENG) if "Out today" in (m.text or "")]) == 1


def test_an_out_today_post_whose_answer_was_lost_and_whose_looks_failed_is_not_posted_twice_when_retried(
        fake_slack):
    install(team())
    post_entry(fake_slack, leave(start=date(2027, 6, 8), end=date(2027, 6, 8)))
    with answers_lost(fake_slack, "chat.postMessage", then_unreadable=True, channel=C_ENG):
        with pytest.raises(CommandError):
            run_jobs(local(date(2027, 6, 8), 9))
    run = JobRun.objects.get(job="out_today", period="2027-06-08")
    assert run.finished_at is None and run.retry_at is not None
    JobRun.objects.filter(id=run.id).update(retry_at=run.retry_at - timedelta(minutes=5))
    run_jobs(local(date(2027, 6, 8), 9, 5))
    assert len([m for m in fake_slack.workspace.messages(C_ENG) if "Out today" in (m.text or "")]) == 1
    assert JobRun.objects.get(id=run.id).finished_at is not None


def test_a_reminder_slack_refuses_for_one_person_does_not_stop_the_others_nor_fail_the_job(fake_slack):
    install(team(digest=None))
    for user in (ALICE, DAVE):
        post_entry(fake_slack, leave(user=user, start=date(2027, 6, 14), end=date(2027, 6, 14)))
    fake_slack.fail("chat.postMessage", "cannot_dm_bot", times=1)  # the first DM (Alice's) refused for good
    out = run_jobs(local(date(2027, 6, 11), 15), "--team", "Engineering")
    assert "reminders Engineering 2027-06-11: 1 reminder(s)" in out
    assert reminders_to(fake_slack, ALICE) == [] and len(reminders_to(fake_slack, DAVE)) == 1
    assert JobRun.objects.get(job="reminders").error == ""


def test_reminders_cut_short_by_a_rate_limit_are_finished_later_without_repeating_anyone(fake_slack, no_sleeping):
    install(team(digest=None))
    for user in (ALICE, DAVE, CAROL):
        post_entry(fake_slack, leave(user=user, start=date(2027, 6, 14), end=date(2027, 6, 14)))
    fake_slack.rate_limit("chat.postMessage", retry_after=30, times=None, after=1)
    with pytest.raises(CommandError):
        run_jobs(local(date(2027, 6, 11), 15))
    fake_slack.clear_faults()
    run = JobRun.objects.get(job="reminders")
    assert run.finished_at is None and run.error == "ratelimited"
    JobRun.objects.filter(id=run.id).update(retry_at=run.retry_at - timedelta(minutes=5))
    run_jobs(local(date(2027, 6, 11), 15, 5))
    for user in (ALICE, DAVE, CAROL):
        assert len(reminders_to(fake_slack, user)) == 1, user


# --- Leave requested and approved in Slack between two days' jobs ---------------------------------


def test_leave_approved_in_slack_on_monday_is_in_tuesdays_reminder_and_wednesdays_out_today(client, fake_slack):
    install(team(nudge=24))
    monday, tuesday, wednesday = date(2027, 9, 13), date(2027, 9, 14), date(2027, 9, 15)
    run_jobs(local(monday, 9), "--team", "Engineering")  # the weekly digest reads (and caches) the ledger
    request_time_off(client, fake_slack, ALICE, "medical", start=wednesday, end=date(2027, 9, 16))
    click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted_requests(fake_slack)[0])
    run_jobs(local(tuesday, 15), "--team", "Engineering")
    [reminder] = reminders_to(fake_slack, ALICE)
    assert "Medical appointment starts tomorrow" in reminder
    run_jobs(local(wednesday, 9), "--team", "Engineering")
    out_today = posts_in(fake_slack, C_ENG)[-1]
    assert "Out today, Wed 15 Sep" in out_today["blocks"][0]["text"]["text"]
    assert "<@U_ALICE>: :calendar: away" in str(out_today["blocks"])
    channel_posts = [c.params for c in fake_slack.calls("chat.postMessage")
                     if c.params.get("channel") in (C_ENG, C_GENERAL) and c.response.get("ok")]
    assert channel_posts and not any("Medical" in str(p.get("text")) + str(p.get("blocks")) for p in channel_posts)


def test_hr_sees_on_the_setup_page_why_the_out_today_post_was_refused(hr_client, fake_slack):
    install(team(announce=C_NOBOT))
    post_entry(fake_slack, leave(start=date(2027, 6, 8), end=date(2027, 6, 8)))
    with pytest.raises(CommandError):
        run_jobs(local(date(2027, 6, 8), 9), "--team", "Engineering")
    page = hr_client.get("/console/setup/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "no-bot" in text or C_NOBOT in text
    assert "The bot is not in it" in text


@pytest.mark.parametrize("error", ["not_in_channel", "channel_not_found", "is_archived", "invalid_blocks"])
def test_a_weekly_digest_slack_refuses_for_good_is_tried_once_that_week_and_tuesday_still_gets_out_today(
        fake_slack, error):
    install(team())
    post_entry(fake_slack, leave(start=date(2027, 10, 18), end=date(2027, 10, 20), days="3"))
    fake_slack.fail("chat.postMessage", error, times=1)
    with pytest.raises(CommandError):
        run_jobs(local(date(2027, 10, 18), 9), "--team", "Engineering")
    for minute in (1, 30):
        assert "Nothing due" in run_jobs(local(date(2027, 10, 18), 9, minute), "--team", "Engineering")
    attempts = [c for c in fake_slack.calls("chat.postMessage") if c.params.get("channel") == C_ENG]
    assert len(attempts) == 1 and posts_in(fake_slack, C_ENG) == []
    assert JobRun.objects.get(job="weekly_digest").error == error
    run_jobs(local(date(2027, 10, 19), 9), "--team", "Engineering")
    [post] = posts_in(fake_slack, C_ENG)
    assert "Out today, Tue 19 Oct" in post["blocks"][0]["text"]["text"]


@pytest.mark.parametrize("fault", ["internal_error", "service_unavailable", "ratelimited", "request_timeout"])
def test_an_out_today_post_slack_fails_for_a_moment_goes_out_once_on_the_next_tick(fake_slack, fault):
    install(team())
    post_entry(fake_slack, leave(start=date(2027, 10, 19), end=date(2027, 10, 19)))
    # Each try inside the call meets it (a rate limit is not tried again there): the tick ends with the fault.
    fake_slack.fail("chat.postMessage", fault, times=1 if fault == "ratelimited" else NOTICE_TRIES_IN_CALL)
    with pytest.raises(CommandError):
        run_jobs(local(date(2027, 10, 19), 9), "--team", "Engineering")
    run = JobRun.objects.get(job="out_today")
    assert run.finished_at is None and run.retry_at is not None and run.error == fault
    JobRun.objects.filter(id=run.id).update(retry_at=run.retry_at - timedelta(minutes=2))  # a minute on
    assert "out_today Engineering 2027-10-19: 1 out" in run_jobs(local(date(2027, 10, 19), 9, 1),
                                                                   "--team", "Engineering")
    run_jobs(local(date(2027, 10, 19), 9, 2), "--team", "Engineering")
    [post] = posts_in(fake_slack, C_ENG)
    assert "Out today, Tue 19 Oct" in post["blocks"][0]["text"]["text"]


def test_someone_already_on_leave_is_not_told_to_hand_over_for_the_leave_that_continues_it(fake_slack):
    # A fortnight away booked as two requests (the second week as sick leave after a fall on holiday):
    # on the Friday of the first week she is already away; "remember to hand over" makes no sense then.
    install(team(digest=None))
    post_entry(fake_slack, leave(start=date(2027, 8, 9), end=date(2027, 8, 13), days="5"))
    post_entry(fake_slack, leave(start=date(2027, 8, 16), end=date(2027, 8, 20), leave_type="sick", days="5"))
    run_jobs(local(date(2027, 8, 6), 15), "--team", "Engineering")
    assert len(reminders_to(fake_slack, ALICE)) == 1  # before the first week
    run_jobs(local(date(2027, 8, 13), 15), "--team", "Engineering")
    assert len(reminders_to(fake_slack, ALICE)) == 1, reminders_to(fake_slack, ALICE)[-1]
