"""The clock (`run_scheduler`) or the task worker down for a while, then back: what a company running the app
lives through (README "The clock and the daily jobs").

A job is due from its time until its period ends, so a clock back late the same day still does the day's
work, once; missed days are not caught up; a task that a worker runs after its day has ended is closed as
`expired`. The clock is fixed (a `clock` function given to the scheduler loop, `run_jobs --at`, or the
simulated clock of test_support.simulated_time when tasks wait as rows for a worker); nothing sleeps.
"""

import threading
from dataclasses import replace
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.tasks import TaskResultStatus
from django.utils import timezone as django_timezone
from django_tasks_db.models import DBTaskResult

from approvals import tasks
from approvals.job_services import job_claim, jobs_run_due
from approvals.jobs import DueJob
from approvals.management.commands.run_scheduler import scheduler_loop
from approvals.models import JobRun
from approvals.rules import LedgerEntry
from fake_slack.personas import C_ENG
from test_support.flows import ALICE, BOB, DAVE, ENGINEERING, install_config, standard_config
from test_support.job_runs import post_entry, posts_in
from test_support.simulated_time import simulated_clock, work_through_the_queue

pytestmark = pytest.mark.django_db

LA = ZoneInfo("America/Los_Angeles")
NEW_YORK = ZoneInfo("America/New_York")
ENG = replace(ENGINEERING, digest_time=time(9, 0), nudge_after_hours=48)

# March 2031 in Los Angeles: the clocks go forward on Sunday 9 March.
FRIDAY, SATURDAY, SUNDAY = date(2031, 3, 7), date(2031, 3, 8), date(2031, 3, 9)
MONDAY, TUESDAY, WEDNESDAY, THURSDAY, NEXT_FRIDAY = (date(2031, 3, 10) + timedelta(days=n) for n in range(5))
NEXT_MONDAY, NEXT_TUESDAY = date(2031, 3, 17), date(2031, 3, 18)


@pytest.fixture(autouse=True)
def export_dir(settings, tmp_path):
    settings.LEDGER_EXPORT_DIR = tmp_path / "exports"
    return settings.LEDGER_EXPORT_DIR


def at(day: date, hour: int, minute: int = 0, zone=LA) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone)


def leave(user=ALICE, start=MONDAY, end=None, *, status="approved", team="Engineering", **changes) -> LedgerEntry:
    end = end or start
    values = dict(id=f"{user}-{start}-{end}-{status}", user=user, team=team, leave_type="vacation", start=start,
                  end=end, start_half=None, end_half=None, days=Decimal((end - start).days + 1), status=status,
                  decided_by=BOB if status != "pending" else None)
    return LedgerEntry(**{**values, **changes})


def install(*teams):
    return install_config(standard_config(teams=teams or (ENG,)))


def delivered_dms(fake_slack, user) -> list[str]:
    return [call.params["text"] for call in fake_slack.calls("chat.postMessage")
            if call.params.get("channel") == user and call.response.get("ok")]


def reminders_to(fake_slack, user) -> list[str]:
    return [text for text in delivered_dms(fake_slack, user) if "A reminder" in text]


def nudges_to(fake_slack, user) -> list[str]:
    return [text for text in delivered_dms(fake_slack, user) if "waiting for a decision" in text]


def channel_posts(fake_slack, channel=C_ENG) -> list[str]:
    return [post["text"] + "\n" + str(post.get("blocks")) for post in posts_in(fake_slack, channel)]


class RealTime:
    """The real time as the clock process and the worker see it (django.utils.timezone.now), moved by the
    clock's own ticks: tasks run at once (TASKS_BACKEND=immediate), at the tick's instant."""

    def __init__(self, monkeypatch, moment: datetime):
        self.now = moment
        monkeypatch.setattr(django_timezone, "now", lambda: self.now.astimezone(timezone.utc))


def clock_process(monkeypatch, *moments: datetime) -> int:
    """`run_scheduler` ticking at each of `moments` in turn (an outage is a gap between two of them); each
    tick's tasks run at once, at its instant. Returns how many jobs it enqueued."""
    real = RealTime(monkeypatch, moments[0])
    ticks = iter(moments)
    stop = threading.Event()
    left = [len(moments)]

    def tick():
        real.now = next(ticks)
        left[0] -= 1
        if not left[0]:
            stop.set()
        return real.now

    return scheduler_loop(stop, interval=0, clock=tick)


def every(start: datetime, end: datetime, minutes: int) -> list[datetime]:
    moments, moment = [], start
    while moment <= end:
        moments.append(moment)
        moment += timedelta(minutes=minutes)
    return moments


def run_job_rows():
    return DBTaskResult.objects.filter(task_path=tasks.run_job.module_path)


# --- The clock down overnight ------------------------------------------------------------------------------


def test_a_clock_down_from_sunday_evening_to_monday_eleven_posts_mondays_digest_late_and_once(fake_slack,
                                                                                             monkeypatch):
    install()
    post_entry(fake_slack, leave(ALICE, MONDAY, WEDNESDAY))
    clock_process(monkeypatch, at(SUNDAY, 20, 0), at(MONDAY, 11, 0), at(MONDAY, 11, 1), at(MONDAY, 11, 2))
    [digest] = channel_posts(fake_slack)
    assert "Who's out, Mon 10 Mar – Mon 17 Mar" in digest and "<@U_ALICE>" in digest
    run = JobRun.objects.get(job="weekly_digest", team="Engineering")
    assert run.period == "2031-W11" and run.attempts == 1 and run.finished_at is not None and run.error == ""


def test_a_clock_down_from_monday_evening_to_tuesday_eleven_posts_tuesdays_out_today_late_and_once(fake_slack,
                                                                                                  monkeypatch):
    install()
    post_entry(fake_slack, leave(ALICE, MONDAY, WEDNESDAY))
    clock_process(monkeypatch, at(MONDAY, 9, 0), at(MONDAY, 20, 0),
                  at(TUESDAY, 11, 0), at(TUESDAY, 11, 1), at(TUESDAY, 16, 0))
    digest, out_today = channel_posts(fake_slack)
    assert "Who's out, Mon 10 Mar" in digest
    assert "Out today, Tue 11 Mar" in out_today and "<@U_ALICE>" in out_today
    assert JobRun.objects.filter(job="out_today").count() == 1


def test_leave_starting_monday_gets_no_reminder_when_the_clock_was_down_from_friday_lunch_to_monday_morning(
        fake_slack, monkeypatch):
    # Friday's 15:00 run never happened; Monday's speaks of Tuesday. Alice hears nothing rather than being
    # told on Monday that her leave "starts tomorrow".
    install()
    post_entry(fake_slack, leave(ALICE, MONDAY, WEDNESDAY))
    post_entry(fake_slack, leave(DAVE, TUESDAY))
    clock_process(monkeypatch, at(FRIDAY, 14, 0), at(MONDAY, 11, 0), at(MONDAY, 15, 0), at(MONDAY, 15, 1))
    assert reminders_to(fake_slack, ALICE) == []
    [daves] = reminders_to(fake_slack, DAVE)
    assert "starts tomorrow" in daves
    assert not JobRun.objects.filter(job="reminders", period=FRIDAY.isoformat()).exists()


def test_leave_that_began_two_days_before_the_clock_came_back_gets_no_reminder(fake_slack, monkeypatch):
    install()
    post_entry(fake_slack, leave(ALICE, WEDNESDAY, NEXT_TUESDAY))
    clock_process(monkeypatch, at(TUESDAY, 14, 0), at(NEXT_FRIDAY, 16, 0), at(NEXT_FRIDAY, 16, 1))
    assert reminders_to(fake_slack, ALICE) == []
    assert JobRun.objects.get(job="reminders", period=NEXT_FRIDAY.isoformat()).finished_at is not None


# --- The clock down for a week --------------------------------------------------------------------------


def test_a_clock_down_for_a_whole_week_sends_only_the_current_weeks_digest(fake_slack, monkeypatch):
    install()
    post_entry(fake_slack, leave(ALICE, TUESDAY, WEDNESDAY))  # in the missed week only
    post_entry(fake_slack, leave(DAVE, NEXT_MONDAY))
    clock_process(monkeypatch, at(FRIDAY, 17, 0), at(NEXT_MONDAY, 11, 0), at(NEXT_MONDAY, 11, 1))
    [digest] = channel_posts(fake_slack)
    assert "Who's out, Mon 17 Mar – Mon 24 Mar" in digest and "<@U_DAVE>" in digest
    assert "Mon 10 Mar" not in digest and "<@U_ALICE>" not in digest
    assert set(JobRun.objects.filter(job="weekly_digest").values_list("period", flat=True)) == {"2031-W12"}


def test_a_clock_back_on_tuesday_after_missing_mondays_digest_posts_out_today_and_no_stale_digest(fake_slack,
                                                                                                 monkeypatch):
    install()
    post_entry(fake_slack, leave(ALICE, MONDAY, NEXT_TUESDAY))
    clock_process(monkeypatch, at(FRIDAY, 17, 0), at(NEXT_TUESDAY, 11, 0), at(NEXT_TUESDAY, 11, 1))
    [post] = channel_posts(fake_slack)
    assert "Out today, Tue 18 Mar" in post and "Who's out" not in post
    assert not JobRun.objects.filter(job="weekly_digest").exists()


# --- Across a clock change and across New Year ------------------------------------------------------------


def test_a_sunday_week_team_whose_clock_was_down_across_the_spring_forward_gets_its_digest_once(fake_slack,
                                                                                               monkeypatch):
    # New York goes from 02:00 EST to 03:00 EDT in the night of Saturday 8 to Sunday 9 March 2031: a Sunday
    # to Thursday team's first working day of the week. The clock was down from Saturday 22:00 to 09:30.
    shop = replace(ENG, timezone="America/New_York", holiday_subdivision="NY", workweek=(6, 0, 1, 2, 3))
    install(shop)
    post_entry(fake_slack, leave(ALICE, SUNDAY, MONDAY))
    post_entry(fake_slack, leave(DAVE, MONDAY))
    clock_process(monkeypatch, at(SATURDAY, 22, 0, NEW_YORK), at(SUNDAY, 9, 30, NEW_YORK),
                  at(SUNDAY, 9, 31, NEW_YORK), at(SUNDAY, 15, 0, NEW_YORK), at(SUNDAY, 15, 1, NEW_YORK))
    [digest] = channel_posts(fake_slack)
    assert "Who's out, Sun 9 Mar – Sun 16 Mar" in digest and "<@U_ALICE>" in digest and "<@U_DAVE>" in digest
    assert list(JobRun.objects.filter(team="Engineering").values_list("job", "period").order_by("job")) == [
        ("nudges", "2031-03-09"), ("reminders", "2031-03-09"), ("weekly_digest", "2031-W10")]
    [daves] = reminders_to(fake_slack, DAVE)
    assert "starts tomorrow" in daves


def test_a_clock_down_across_new_year_catches_up_no_reminder_post_or_export_of_the_days_it_missed(
        fake_slack, monkeypatch, export_dir):
    # Tuesday 31 December 2030, 13:00 in Los Angeles: the clock stops; it is back on Thursday 2 January at
    # 08:00 (New Year's Day was a holiday in between).
    install()
    post_entry(fake_slack, leave(ALICE, date(2031, 1, 2), date(2031, 1, 3)))  # reminded on the 31st at 15:00
    post_entry(fake_slack, leave(DAVE, date(2031, 1, 3)))  # reminded on the 2nd
    clock_process(monkeypatch, at(date(2030, 12, 31), 13, 0), at(date(2031, 1, 2), 8, 0),
                  at(date(2031, 1, 2), 9, 0), at(date(2031, 1, 2), 15, 0), at(date(2031, 1, 2), 15, 1))
    assert reminders_to(fake_slack, ALICE) == []
    [daves] = reminders_to(fake_slack, DAVE)
    assert "starts tomorrow" in daves
    [post] = channel_posts(fake_slack)
    assert "Out today, Thu 2 Jan" in post and "<@U_ALICE>" in post
    assert sorted(path.name for path in export_dir.glob("ledger-*.csv")) == [
        "ledger-2030-12-31.csv", "ledger-2031-01-02.csv"]
    assert not JobRun.objects.filter(period__startswith="2031-01-01").exists()


# --- Several clocks after the outage ----------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_two_clocks_back_at_the_same_minute_take_over_a_dead_clocks_claim_once(fake_slack, monkeypatch):
    # Host A's clock claimed Monday's digest at 09:00 and died before its task ran; the whole site was down
    # until 11:00, when the clocks of host A and host B start again and tick in the same minutes.
    install()
    post_entry(fake_slack, leave(ALICE, MONDAY, WEDNESDAY))
    real = RealTime(monkeypatch, at(MONDAY, 9, 0))
    assert job_claim(DueJob("weekly_digest", "Engineering", "2031-W11", MONDAY.isoformat(),
                            at(MONDAY, 9, 0).isoformat()))
    real.now = at(MONDAY, 11, 0)
    barrier = threading.Barrier(2)
    errors: list = []

    def host():
        try:
            for minute in range(4):
                barrier.wait(timeout=20)
                jobs_run_due(at(MONDAY, 11, minute))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=host) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    [digest] = channel_posts(fake_slack)
    assert "Who's out, Mon 10 Mar" in digest
    runs = {(run.job, run.period): run for run in JobRun.objects.all()}
    assert runs[("weekly_digest", "2031-W11")].attempts == 2  # taken over once, by one of the two
    assert all(run.finished_at is not None for run in runs.values()), runs
    assert sorted(job for job, _ in runs) == ["ledger_export", "ledger_watch", "maintenance", "nudges",
                                              "weekly_digest"]


# --- The worker down while the clock kept enqueuing -------------------------------------------------------


def test_a_worker_down_from_monday_morning_to_tuesday_afternoon_runs_only_tuesdays_jobs(fake_slack, monkeypatch,
                                                                                        settings):
    clock = simulated_clock(monkeypatch, settings, jobs=True)
    install()
    post_entry(fake_slack, leave(ALICE, MONDAY, WEDNESDAY))  # Monday's digest, Tuesday's out today
    post_entry(fake_slack, leave(DAVE, TUESDAY))  # reminded Monday 15:00: begun when the worker is back
    post_entry(fake_slack, leave(BOB, WEDNESDAY))  # reminded Tuesday 15:00
    post_entry(fake_slack, leave(ALICE, date(2031, 3, 20), status="pending"),
               ts=f"{at(FRIDAY, 9).timestamp():.6f}")  # waiting over 48 hours from Monday 10:00
    for moment in every(at(MONDAY, 8, 0), at(TUESDAY, 15, 30), 30):  # the clock ticks; nobody works
        clock.move_to(moment)
        jobs_run_due(moment)
    enqueued = [tuple(row.args_kwargs["args"][0][key] for key in ("job", "team", "period"))
                for row in run_job_rows()]
    assert len(enqueued) == len(set(enqueued)), "a job enqueued twice while its task waited"

    work_through_the_queue(clock)  # the worker is back at Tuesday 15:30

    [post] = channel_posts(fake_slack)
    assert "Out today, Tue 11 Mar" in post and "Who's out" not in post
    assert reminders_to(fake_slack, DAVE) == []
    [bobs] = reminders_to(fake_slack, BOB)
    assert "starts tomorrow" in bobs
    assert len(nudges_to(fake_slack, BOB)) == 1  # Tuesday's, not Monday's too
    expired = {(run.job, run.period) for run in JobRun.objects.filter(error="expired")}
    assert {("weekly_digest", "2031-W11"), ("reminders", "2031-03-10"), ("nudges", "2031-03-10"),
            ("ledger_watch", "2031-03-10"), ("ledger_export", "2031-03-10")} <= expired
    assert not [(job, period) for job, period in expired if period.startswith("2031-03-11")]  # Tuesday's ran
    assert all(run.finished_at is not None for run in JobRun.objects.all())
    assert JobRun.objects.get(job="out_today", period="2031-03-11").error == ""


def test_a_worker_back_late_the_same_evening_still_posts_that_mornings_out_today_once(fake_slack, monkeypatch,
                                                                                      settings):
    clock = simulated_clock(monkeypatch, settings, jobs=True)
    install()
    post_entry(fake_slack, leave(ALICE, MONDAY, WEDNESDAY))
    for moment in every(at(TUESDAY, 8, 0), at(TUESDAY, 22, 0), 60):
        clock.move_to(moment)
        jobs_run_due(moment, team="Engineering")
    assert run_job_rows().filter(args_kwargs__args__0__job="out_today").count() == 1
    work_through_the_queue(clock)
    [post] = channel_posts(fake_slack)
    assert "Out today, Tue 11 Mar" in post


def test_a_task_a_dead_worker_left_running_is_recovered_and_closed_as_expired_the_next_day(fake_slack,
                                                                                           monkeypatch, settings):
    # The worker died at 09:00 on Tuesday holding the out-today task (RUNNING, no heartbeat); everything was
    # down until Wednesday 09:30. Maintenance requeues the task; Tuesday's post is not made on Wednesday.
    clock = simulated_clock(monkeypatch, settings, jobs=True)
    install()
    post_entry(fake_slack, leave(ALICE, MONDAY, WEDNESDAY))
    clock.move_to(at(TUESDAY, 9, 0))
    jobs_run_due(at(TUESDAY, 9, 0), team="Engineering")
    run_job_rows().update(status=TaskResultStatus.RUNNING, started_at=django_timezone.now())
    clock.move_to(at(WEDNESDAY, 9, 30))
    jobs_run_due(at(WEDNESDAY, 9, 30))  # maintenance among them
    work_through_the_queue(clock)
    work_through_the_queue(clock)  # what maintenance put back
    [post] = channel_posts(fake_slack)
    assert "Out today, Wed 12 Mar" in post
    tuesdays = JobRun.objects.get(job="out_today", period="2031-03-11")
    assert tuesdays.error == "expired" and tuesdays.finished_at is not None
    assert not run_job_rows().filter(status__in=(TaskResultStatus.READY, TaskResultStatus.RUNNING)).exists()


# --- Nudges after an outage -------------------------------------------------------------------------------


def test_after_the_clock_was_down_three_days_an_approver_gets_one_nudge(fake_slack, monkeypatch):
    install()
    post_entry(fake_slack, leave(ALICE, date(2031, 3, 24), status="pending"), ts=f"{at(FRIDAY, 9).timestamp():.6f}")
    clock_process(monkeypatch, at(MONDAY, 9, 0), at(THURSDAY, 11, 0), at(THURSDAY, 11, 1), at(THURSDAY, 16, 0))
    [nudge] = nudges_to(fake_slack, BOB)
    assert "waiting 6 days" in nudge
    assert list(JobRun.objects.filter(job="nudges").values_list("period", flat=True)) == ["2031-03-13"]


def test_after_the_worker_was_down_three_days_an_approver_gets_one_nudge(fake_slack, monkeypatch, settings):
    clock = simulated_clock(monkeypatch, settings, jobs=True)
    install()
    post_entry(fake_slack, leave(ALICE, date(2031, 3, 24), status="pending"), ts=f"{at(FRIDAY, 9).timestamp():.6f}")
    for day in (MONDAY, TUESDAY, WEDNESDAY, THURSDAY):  # the clock enqueues each morning's nudges
        for hour in (10, 11):
            clock.move_to(at(day, hour))
            jobs_run_due(at(day, hour), team="Engineering")
    assert run_job_rows().filter(args_kwargs__args__0__job="nudges").count() == 4
    work_through_the_queue(clock)  # back on Thursday 11:00
    [nudge] = nudges_to(fake_slack, BOB)
    assert "waiting 6 days" in nudge
    assert sorted(JobRun.objects.filter(job="nudges", error="expired").values_list("period", flat=True)) == [
        "2031-03-10", "2031-03-11", "2031-03-12"]


# --- The reminder a late worker sends ---------------------------------------------------------------------


def test_a_reminder_a_late_worker_sends_after_the_persons_midnight_does_not_say_tomorrow(fake_slack, monkeypatch,
                                                                                        settings):
    # Bob (London) has leave on Tuesday. Monday's reminders are claimed at 15:00 in Los Angeles (22:00 in
    # London: "tomorrow" then); the worker is behind and sends them at 18:00, 01:00 on Tuesday in London.
    # README: "tomorrow" or "today" as of the person's own day. For Bob the leave starts today.
    clock = simulated_clock(monkeypatch, settings, jobs=True)
    install()
    post_entry(fake_slack, leave(BOB, TUESDAY))
    clock.move_to(at(MONDAY, 15, 0))
    jobs_run_due(at(MONDAY, 15, 0), team="Engineering")
    clock.move_to(at(MONDAY, 18, 0))
    work_through_the_queue(clock)
    reminders = reminders_to(fake_slack, BOB)
    assert len(reminders) <= 1
    assert not any("starts tomorrow" in text for text in reminders), reminders
    assert all("starts today" in text for text in reminders), reminders
