"""The daily jobs against the fake Slack: `run_jobs --at` and the clock, each job once per period.

The clock is fixed (`--at`, or a `clock` function passed to the scheduler loop);
nothing sleeps. The ledger is seeded as request messages in the fake Slack, or
made through the real flow (`request_time_off`, then Bob approves).
"""

import threading
from dataclasses import replace
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
from django.core.cache import cache, caches
from django.core.cache.backends.db import DatabaseCache
from django.core.management import CommandError, call_command
from django.db import connection
from django.tasks import TaskResultStatus
from django.utils import timezone as django_timezone
from django_tasks_db import DatabaseBackend
from django_tasks_db.models import DBTaskResult

from approvals import block_ids as ids
from approvals import jobs, task_queue, tasks
from approvals.config_types import (
    ApproverSource,
    HolidayConfig,
    MemberSource,
    TeamConfig,
)
from approvals.job_services import job_claim, job_retry_delay, jobs_run_due
from approvals.management.commands.run_scheduler import scheduler_loop
from approvals.models import JobRun, LedgerSnapshot
from approvals.notifications import NOTICE_TRIES_IN_CALL
from approvals.rules import LedgerEntry
from fake_slack.personas import (
    C_ENG,
    C_ENG_APPROVALS,
    C_GENERAL,
    C_OLD_APPROVALS,
    CAROL,
)
from test_support.flows import (
    ALICE,
    BOB,
    DAVE,
    ENGINEERING,
    HR,
    click,
    dms_to,
    install_config,
    posted_requests,
    request_time_off,
    standard_config,
)
from test_support.job_runs import post_entry, posts_in, run_jobs

pytestmark = pytest.mark.django_db

LA = ZoneInfo("America/Los_Angeles")
TOKYO = ZoneInfo("Asia/Tokyo")
ENG = replace(ENGINEERING, digest_time=time(9, 0), nudge_after_hours=48)
FRIDAY, MONDAY, TUESDAY, WEDNESDAY = date(2031, 3, 7), date(2031, 3, 10), date(2031, 3, 11), date(2031, 3, 12)


def at(day: date, hour: int, minute: int = 0, zone=LA) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone)


@pytest.fixture(autouse=True)
def export_dir(settings, tmp_path):
    settings.LEDGER_EXPORT_DIR = tmp_path / "exports"
    return settings.LEDGER_EXPORT_DIR


def entry(user=ALICE, start=MONDAY, end=WEDNESDAY, status="approved", leave_type="vacation", team="Engineering",
          **changes) -> LedgerEntry:
    values = dict(id=f"{user}-{start}-{leave_type}-{status}", user=user, team=team, leave_type=leave_type,
                  start=start, end=end, start_half=None, end_half=None, days=Decimal(3), status=status,
                  decided_by=BOB if status != "pending" else None)
    return LedgerEntry(**{**values, **changes})


def install(*teams, **changes):
    return install_config(standard_config(teams=teams or (ENG,), **changes))


# --- Reminders -------------------------------------------------------------------------------


def test_an_approved_request_is_reminded_the_working_day_before_once(client, fake_slack):
    install()
    request_time_off(client, fake_slack, ALICE)  # Mon 10 – Wed 12 March 2031
    click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted_requests(fake_slack)[0])
    fake_slack.clear_calls()

    assert "reminders" not in run_jobs(at(FRIDAY, 14, 59), "--team", "Engineering")  # REMINDER_TIME is 15:00
    assert "reminders Engineering 2031-03-07: 1 reminder(s)" in run_jobs(at(FRIDAY, 15, 0), "--team", "Engineering")
    reminders = [text for text in dms_to(fake_slack, ALICE) if "reminder" in text]
    assert reminders == [reminders[0]] and "Vacation starts on Mon 10 Mar" in reminders[0]

    assert "Nothing due" in run_jobs(at(FRIDAY, 17, 0), "--team", "Engineering")  # the same period again
    assert len([text for text in dms_to(fake_slack, ALICE) if "reminder" in text]) == 1
    assert JobRun.objects.get(job="reminders", period="2031-03-07").finished_at is not None


def test_pending_or_rejected_leave_gets_no_reminder(fake_slack):
    install()
    post_entry(fake_slack, entry(status="pending"))
    post_entry(fake_slack, entry(user=DAVE, status="rejected"))
    assert "reminders Engineering 2031-03-07: 0 reminder(s)" in run_jobs(at(FRIDAY, 15, 0), "--team", "Engineering")
    assert not [text for text in dms_to(fake_slack, ALICE) + dms_to(fake_slack, DAVE) if "reminder" in text]


def test_no_reminders_or_digests_on_a_holiday_or_a_weekend(fake_slack):
    install(holidays=(HolidayConfig(date=FRIDAY, name="Company day"),))
    post_entry(fake_slack, entry())
    assert "Nothing due" in run_jobs(at(FRIDAY, 16, 0), "--team", "Engineering")
    assert "Nothing due" in run_jobs(at(date(2031, 3, 8), 16, 0), "--team", "Engineering")  # Saturday
    assert fake_slack.calls("chat.postMessage") == []
    # The holiday moved "the working day before" to Thursday.
    run_jobs(at(date(2031, 3, 6), 16, 0), "--team", "Engineering")
    assert any("starts on Mon 10 Mar" in text for text in dms_to(fake_slack, ALICE))


# --- Out today and the weekly digest ---------------------------------------------------------


def test_out_today_is_posted_at_digest_time_with_private_types_as_away(fake_slack):
    install()
    post_entry(fake_slack, entry())
    post_entry(fake_slack, entry(user=DAVE, leave_type="sick", start=TUESDAY, end=TUESDAY))
    run_jobs(at(TUESDAY, 9, 0), "--team", "Engineering")
    run_jobs(at(TUESDAY, 9, 30), "--team", "Engineering")
    posts = posts_in(fake_slack, C_ENG)
    assert len(posts) == 1
    body = str(posts[0]["blocks"])
    assert "Out today, Tue 11 Mar" in body
    assert "<@U_ALICE>: :palm_tree: Vacation" in body and "<@U_DAVE>: :calendar: away" in body
    assert "Sick" not in body + posts[0]["text"]


def test_monday_brings_the_weekly_digest_of_today_and_the_next_seven_days(fake_slack):
    install()
    post_entry(fake_slack, entry())
    post_entry(fake_slack, entry(user=DAVE, leave_type="medical", start=date(2031, 3, 17), end=date(2031, 3, 17)))
    post_entry(fake_slack, entry(user=BOB, start=date(2031, 3, 18), end=date(2031, 3, 19)))  # after the window
    run_jobs(at(MONDAY, 9, 0), "--team", "Engineering")
    run_jobs(at(MONDAY, 12, 0), "--team", "Engineering")
    [digest] = posts_in(fake_slack, C_ENG)
    body = str(digest["blocks"])
    assert "Who's out, Mon 10 Mar – Mon 17 Mar" in body
    assert "<@U_ALICE>" in body and "<@U_DAVE>: :calendar: away" in body and "Medical" not in body
    assert "<@U_BOB>" not in body
    assert JobRun.objects.filter(job="weekly_digest", period="2031-W11").count() == 1
    assert not JobRun.objects.filter(job="out_today").exists()


def test_a_team_in_tokyo_gets_its_digest_at_its_own_nine_oclock(fake_slack):
    tokyo = TeamConfig(name="Tokyo", members=MemberSource(users=(CAROL,)), approvers=ApproverSource(users=(HR,)),
                       approvals_channel=C_OLD_APPROVALS, announce_channel=C_GENERAL, timezone="Asia/Tokyo",
                       digest_time=time(9, 0))
    install(ENG, tokyo)
    post_entry(fake_slack, entry(user=CAROL, team="Tokyo", start=TUESDAY, end=TUESDAY), channel=C_OLD_APPROVALS)
    assert "Nothing due" in run_jobs(at(TUESDAY, 8, 59, TOKYO), "--team", "Tokyo")
    run_jobs(at(TUESDAY, 9, 0, TOKYO), "--team", "Tokyo")  # Monday 17:00 in Los Angeles
    [post] = posts_in(fake_slack, C_GENERAL)
    assert "Out today, Tue 11 Mar" in str(post["blocks"]) and "<@U_CAROL>" in post["text"]
    assert posts_in(fake_slack, C_ENG) == []


def test_a_clock_started_after_digest_time_still_posts_todays_digest_once(fake_slack):
    install()
    post_entry(fake_slack, entry())
    ticks = iter([at(TUESDAY, 11, 30), at(TUESDAY, 11, 31), at(TUESDAY, 11, 32)])
    stop = threading.Event()

    def clock():
        moment = next(ticks)
        if moment.minute == 32:
            stop.set()
        return moment

    enqueued = scheduler_loop(stop, interval=0, clock=clock)  # tasks run at once (TASKS_BACKEND=immediate)
    assert len(posts_in(fake_slack, C_ENG)) == 1
    assert JobRun.objects.get(job="out_today", period="2031-03-11").finished_at is not None
    assert enqueued == len(JobRun.objects.all())  # each claimed once, on the first tick


# --- Nudges ---------------------------------------------------------------------------------


def test_approvers_are_nudged_once_a_day_about_requests_waiting_too_long(fake_slack):
    install()
    now = at(TUESDAY, 10, 0)
    old_ts = post_entry(fake_slack, entry(status="pending"), ts=f"{now.timestamp() - 72 * 3600:.6f}")
    post_entry(fake_slack, entry(user=DAVE, status="pending", start=date(2031, 3, 20), end=date(2031, 3, 20)),
               ts=f"{now.timestamp() - 10 * 3600:.6f}")
    run_jobs(now, "--team", "Engineering")
    run_jobs(now + timedelta(hours=3), "--team", "Engineering")
    link = f"https://slack.com/archives/{C_ENG_APPROVALS}/p{old_ts.replace('.', '')}"
    for approver in (BOB, DAVE):  # Bob, and Dave through the approvers channel
        [nudge] = [text for text in dms_to(fake_slack, approver) if "waiting for a decision" in text]
        assert "<@U_ALICE>: :palm_tree: Vacation, Mon 10 Mar – Wed 12 Mar — waiting 3 days" in nudge
        assert f"<{link}|Open the request>" in nudge
        assert "<@U_DAVE>" not in nudge  # his request is 10 hours old
    run_jobs(at(WEDNESDAY, 10, 0), "--team", "Engineering")  # the next day: again
    assert len([text for text in dms_to(fake_slack, BOB) if "waiting for a decision" in text]) == 2


# --- Exactly once ----------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_two_clocks_at_the_same_instant_run_each_job_once(fake_slack):
    install()
    post_entry(fake_slack, entry())
    now = at(TUESDAY, 16, 0)
    barrier = threading.Barrier(2)
    outcomes: list = []
    errors: list = []

    def clock_process():
        try:
            barrier.wait(timeout=10)
            outcomes.extend(jobs_run_due(now, team="Engineering", inline=True))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=clock_process) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert sorted(job.job for job, _ in outcomes) == ["nudges", "out_today", "reminders"]
    assert JobRun.objects.count() == 3
    assert len(posts_in(fake_slack, C_ENG)) == 1


def test_an_unfinished_claim_is_taken_over_once_it_is_stale(fake_slack, settings):
    install()
    post_entry(fake_slack, entry())
    JobRun.objects.create(job="out_today", team="Engineering", period="2031-03-11",
                          claimed_at=django_timezone.now() - timedelta(minutes=5))
    assert "nudges" in run_jobs(at(TUESDAY, 10, 0), "--team", "Engineering")  # the other jobs ran
    assert posts_in(fake_slack, C_ENG) == []  # a fresh claim belongs to a clock still at work
    JobRun.objects.filter(job="out_today").update(
        claimed_at=django_timezone.now() - timedelta(seconds=settings.JOB_RUN_STALE_SECONDS + 1))
    assert "out_today Engineering 2031-03-11: 1 out" in run_jobs(at(TUESDAY, 10, 1), "--team", "Engineering")
    run = JobRun.objects.get(job="out_today")
    assert run.attempts == 2 and run.finished_at is not None
    assert len(posts_in(fake_slack, C_ENG)) == 1


def test_a_claim_whose_task_is_still_queued_or_running_is_not_taken_over_however_old(fake_slack, settings,
                                                                                      monkeypatch):
    # The workers are behind (or down) for longer than JOB_RUN_STALE_SECONDS, or the job is a full ledger
    # read that runs for longer: its claim is not abandoned, and a second task would run the job beside it.
    settings.TASKS = {"default": {"BACKEND": "approvals.task_backend.DatabaseBackend"}}  # no worker runs them
    install()
    clock = WorkerClock(monkeypatch, at(TUESDAY, 9, 0))
    jobs_run_due(at(TUESDAY, 9, 0), team="Engineering")
    queued = DBTaskResult.objects.filter(task_path=tasks.run_job.module_path)
    assert queued.count() == 1  # out_today
    clock.now = at(TUESDAY, 9, 0) + timedelta(seconds=settings.JOB_RUN_STALE_SECONDS + 60)
    jobs_run_due(clock.now, team="Engineering")
    assert [row.args_kwargs["args"][0]["job"] for row in queued.filter(status=TaskResultStatus.READY)] == [
        "out_today"]
    queued.update(status=TaskResultStatus.RUNNING, started_at=django_timezone.now())  # a worker took it
    clock.now += timedelta(seconds=settings.JOB_RUN_STALE_SECONDS + 60)
    jobs_run_due(clock.now, team="Engineering")
    assert queued.filter(args_kwargs__args__0__job="out_today").count() == 1
    # Its task gone for good (failed outside the job's own handling): the claim is taken over.
    queued.update(status=TaskResultStatus.FAILED)
    clock.now += timedelta(seconds=settings.JOB_RUN_STALE_SECONDS + 60)
    jobs_run_due(clock.now, team="Engineering")
    assert queued.filter(args_kwargs__args__0__job="out_today", status=TaskResultStatus.READY).count() == 1
    assert JobRun.objects.get(job="out_today").attempts == 2


def test_a_permanent_refusal_closes_the_period_and_a_passing_fault_leaves_it_open(fake_slack):
    install()
    post_entry(fake_slack, entry())
    fake_slack.fail("chat.postMessage", "channel_not_found")
    with pytest.raises(CommandError):
        run_jobs(at(TUESDAY, 9, 0), "--team", "Engineering")
    closed = JobRun.objects.get(job="out_today")
    assert closed.error == "channel_not_found" and closed.finished_at is not None
    assert "Nothing due" in run_jobs(at(TUESDAY, 9, 5), "--team", "Engineering")

    # Each try of the post inside the call meets it: the tick ends with the fault.
    fake_slack.fail("chat.postMessage", "internal_error", times=NOTICE_TRIES_IN_CALL)
    with pytest.raises(CommandError):
        run_jobs(at(WEDNESDAY, 9, 0), "--team", "Engineering")
    still_open = JobRun.objects.get(job="out_today", period="2031-03-12")
    assert still_open.error == "internal_error" and still_open.finished_at is None
    JobRun.objects.filter(id=still_open.id).update(claimed_at=django_timezone.now() - timedelta(days=1))
    run_jobs(at(WEDNESDAY, 10, 0), "--team", "Engineering")  # a later tick takes it over
    assert len(posts_in(fake_slack, C_ENG)) == 1
    assert JobRun.objects.get(id=still_open.id).finished_at is not None


def test_a_job_slack_rate_limits_is_retried_after_a_minute_not_half_an_hour(fake_slack):
    # run_jobs from cron tries once; a Retry-After longer than the client waits out inside a call ends it.
    install()
    post_entry(fake_slack, entry())
    fake_slack.rate_limit("chat.postMessage", retry_after=30, times=1)
    before = django_timezone.now()
    with pytest.raises(CommandError):
        run_jobs(at(TUESDAY, 9, 0), "--team", "Engineering")
    waiting = JobRun.objects.get(job="out_today")
    assert waiting.finished_at is None and waiting.error == "ratelimited"
    assert before + timedelta(seconds=59) <= waiting.retry_at <= django_timezone.now() + timedelta(seconds=61)

    assert "Nothing due" in run_jobs(at(TUESDAY, 9, 0), "--team", "Engineering")  # its minute has not come
    assert posts_in(fake_slack, C_ENG) == []
    JobRun.objects.filter(id=waiting.id).update(retry_at=django_timezone.now())  # a minute later
    assert "out_today Engineering 2031-03-11: 1 out" in run_jobs(at(TUESDAY, 9, 1), "--team", "Engineering")
    done = JobRun.objects.get(id=waiting.id)
    assert done.finished_at is not None and done.attempts == 2 and done.retry_at is None
    assert len(posts_in(fake_slack, C_ENG)) == 1


def test_a_failing_job_waits_longer_each_time_up_to_the_stale_time(settings):
    settings.JOB_RUN_STALE_SECONDS = 1800
    assert [job_retry_delay(attempts=n, retry_after=0) for n in (1, 2, 3, 5, 6, 40)] == [
        60, 120, 240, 960, 1800, 1800]
    assert job_retry_delay(attempts=1, retry_after=300) == 300  # never before Slack said
    assert job_retry_delay(attempts=1, retry_after=900) == 900
    settings.JOB_RUN_STALE_SECONDS = 600
    assert job_retry_delay(attempts=1, retry_after=900) == 600


# --- Tasks run late --------------------------------------------------------------------------


class WorkerClock:
    """The real time as the task worker sees it (django.utils.timezone.now), moved by the test."""

    def __init__(self, monkeypatch, moment: datetime):
        self.now = moment
        monkeypatch.setattr(django_timezone, "now", lambda: self.now.astimezone(timezone.utc))


class StoppedWorker:
    """`tasks.run_job` while the worker is down: the clock enqueues, and the tasks wait for `resume`."""

    def __init__(self, monkeypatch):
        self.task, self.queued = tasks.run_job, []
        monkeypatch.setattr(tasks, "run_job", self)

    def enqueue(self, data: dict) -> None:
        self.queued.append(data)

    def resume(self) -> None:
        for data in self.queued:
            self.task.enqueue(data)  # TASKS_BACKEND=immediate: it runs now


def test_a_task_run_after_its_day_is_over_sends_nothing_and_is_closed(fake_slack, monkeypatch):
    install()
    post_entry(fake_slack, entry(start=MONDAY, end=MONDAY))  # Alice is out Monday: in Monday's digest
    post_entry(fake_slack, entry(user=DAVE, start=TUESDAY, end=date(2031, 3, 13)))  # reminded Monday
    post_entry(fake_slack, entry(user=BOB, start=WEDNESDAY, end=WEDNESDAY))  # reminded Tuesday
    clock = WorkerClock(monkeypatch, at(MONDAY, 16, 0))
    worker = StoppedWorker(monkeypatch)
    jobs_run_due(at(MONDAY, 16, 0), team="Engineering")
    clock.now = at(TUESDAY, 16, 0)
    jobs_run_due(at(TUESDAY, 16, 0), team="Engineering")
    assert sorted((d["job"], d["day"]) for d in worker.queued) == [
        ("nudges", "2031-03-10"), ("nudges", "2031-03-11"), ("out_today", "2031-03-11"),
        ("reminders", "2031-03-10"), ("reminders", "2031-03-11"), ("weekly_digest", "2031-03-10")]

    clock.now = at(TUESDAY, 22, 0)  # the worker comes back late on Tuesday and works through its queue
    worker.resume()

    assert [text for text in dms_to(fake_slack, DAVE) if "reminder" in text] == []  # his leave has begun
    [bobs] = [text for text in dms_to(fake_slack, BOB) if "reminder" in text]
    # Tuesday's jobs still run on Tuesday; sent at 22:00 in Los Angeles, it is Wednesday morning in London for
    # Bob, and the reminder speaks of his day as it is sent.
    assert "Vacation starts today (Wed 12 Mar" in bobs
    [post] = posts_in(fake_slack, C_ENG)
    assert "Out today, Tue 11 Mar" in str(post["blocks"])  # and no Monday digest
    expired = JobRun.objects.filter(error="expired")
    assert sorted(run.job for run in expired) == ["nudges", "reminders", "weekly_digest"]
    assert {run.period for run in expired} == {"2031-03-10", "2031-W11"}
    assert all(run.finished_at is not None for run in JobRun.objects.all())  # no clock takes them over
    assert "Nothing due" in run_jobs(at(TUESDAY, 22, 5), "--team", "Engineering")


def test_a_job_rate_limited_is_retried_by_its_task_within_its_day(fake_slack, monkeypatch):
    install()
    post_entry(fake_slack, entry())
    clock = WorkerClock(monkeypatch, at(TUESDAY, 9, 0))
    real_enqueue_later = task_queue.enqueue_later

    def later(task, delay, *args, **kwargs):  # the retry runs `delay` seconds later
        clock.now += timedelta(seconds=delay)
        return real_enqueue_later(task, delay, *args, **kwargs)

    monkeypatch.setattr(task_queue, "enqueue_later", later)
    fake_slack.rate_limit("chat.postMessage", retry_after=30, times=1)
    jobs_run_due(at(TUESDAY, 9, 0), team="Engineering")
    assert len(posts_in(fake_slack, C_ENG)) == 1
    run = JobRun.objects.get(job="out_today")
    assert run.finished_at is not None and run.error == ""

    # The same, a minute before midnight: the retry comes the next day, when Wednesday's post says it all.
    fake_slack.rate_limit("chat.postMessage", retry_after=120, times=1)
    clock.now = at(WEDNESDAY, 23, 59)
    jobs_run_due(at(WEDNESDAY, 23, 59), team="Engineering")
    assert len(posts_in(fake_slack, C_ENG)) == 1
    run = JobRun.objects.get(job="out_today", period="2031-03-12")
    assert run.finished_at is not None and run.error == "expired"


def test_a_clock_down_for_a_day_runs_only_todays_jobs_when_it_comes_back(fake_slack, monkeypatch):
    # No tick from Monday morning to Wednesday morning: Tuesday's digest, reminders and nudges are not
    # caught up (they would speak of a day that is over), and Wednesday's run once.
    install()
    post_entry(fake_slack, entry(start=MONDAY, end=WEDNESDAY))  # Alice: in every digest
    post_entry(fake_slack, entry(user=DAVE, start=WEDNESDAY, end=WEDNESDAY))  # reminded Tuesday 15:00
    clock = WorkerClock(monkeypatch, at(MONDAY, 16, 0))
    ticks = iter([at(MONDAY, 16, 0), at(WEDNESDAY, 9, 30), at(WEDNESDAY, 9, 31)])
    stop = threading.Event()

    def tick():
        clock.now = next(ticks)
        if clock.now.minute == 31:
            stop.set()
        return clock.now

    scheduler_loop(stop, interval=0, clock=tick)
    team_days = {run.period for run in JobRun.objects.filter(team="Engineering")}
    assert team_days == {"2031-03-10", "2031-W11", "2031-03-12"}  # Monday's, its week's, Wednesday's
    assert [text for text in dms_to(fake_slack, DAVE) if "reminder" in text] == []  # Tuesday's never ran
    digests = [str(post["blocks"]) for post in posts_in(fake_slack, C_ENG)]
    assert len(digests) == 2 and "Out today, Wed 12 Mar" in digests[1]
    assert not any("Tue 11 Mar" in digest and "Out today" in digest for digest in digests)


def test_workspace_jobs_whose_day_is_over_when_their_task_runs_are_closed_unrun(fake_slack, monkeypatch,
                                                                                export_dir):
    # The worker was down from Monday 02:00 UTC to Tuesday 01:00: Monday's export would be Tuesday's ledger
    # under Monday's name, and Monday's ledger watch a full read of the ledger (Tier 3) that Tuesday's
    # repeats an hour later. Both are closed unrun, as a team's jobs are.
    install()
    post_entry(fake_slack, entry())
    monday_night = datetime(2031, 3, 10, 2, 0, tzinfo=timezone.utc)  # Sunday evening in Los Angeles
    clock = WorkerClock(monkeypatch, monday_night)
    worker = StoppedWorker(monkeypatch)
    jobs_run_due(monday_night)
    assert sorted(d["job"] for d in worker.queued) == ["ledger_export", "ledger_watch", "maintenance"]
    clock.now = datetime(2031, 3, 11, 1, 0, tzinfo=timezone.utc)
    fake_slack.clear_calls()
    worker.resume()

    assert not export_dir.exists() or list(export_dir.iterdir()) == []
    assert fake_slack.calls("conversations.history") == []
    assert LedgerSnapshot.objects.count() == 0
    runs = JobRun.objects.all()
    assert {run.job for run in runs} == {"ledger_export", "ledger_watch", "maintenance"}
    assert all(run.error == "expired" and run.finished_at is not None for run in runs)
    # Tuesday's run at 02:00 writes Tuesday's export as usual.
    clock.now = datetime(2031, 3, 11, 2, 0, tzinfo=timezone.utc)
    run_jobs(clock.now)
    assert (export_dir / "ledger-2031-03-11.csv").exists()


def test_no_reminder_is_sent_for_leave_that_has_begun_when_it_would_be_sent(fake_slack, monkeypatch):
    # `run_jobs --at` Friday's instant, run on Monday: Friday's jobs run, but "your leave starts on
    # Monday" would come too late to hand anything over.
    install()
    post_entry(fake_slack, entry())  # Alice, Mon 10 – Wed 12 March
    WorkerClock(monkeypatch, at(MONDAY, 8, 0))
    assert "reminders Engineering 2031-03-07: 0 reminder(s)" in run_jobs(at(FRIDAY, 15, 0), "--team", "Engineering")
    assert [text for text in dms_to(fake_slack, ALICE) if "reminder" in text] == []


def test_run_jobs_wants_an_instant_with_its_offset():
    with pytest.raises(CommandError, match="offset"):
        call_command("run_jobs", "--at", "2031-03-11T09:00:00")
    with pytest.raises(CommandError, match="ISO 8601"):
        call_command("run_jobs", "--at", "tomorrow")


# --- The ledger watch and the nightly export --------------------------------------------------


def test_a_deleted_request_message_is_reported_to_hr_once(fake_slack, caplog):
    install()
    kept_ts = post_entry(fake_slack, entry())
    doomed = entry(user=DAVE, start=date(2031, 4, 1), end=date(2031, 4, 2))
    doomed_ts = post_entry(fake_slack, doomed)
    run_jobs(datetime(2031, 3, 11, 2, 0, tzinfo=timezone.utc))
    assert set(LedgerSnapshot.objects.get().entries) == {entry().id, doomed.id}
    assert dms_to(fake_slack, HR) == []  # the first snapshot has nothing to compare with

    workspace = fake_slack.workspace
    with workspace.lock:
        workspace.delete_message(workspace.find_message(C_ENG_APPROVALS, doomed_ts))
    run_jobs(datetime(2031, 3, 12, 2, 0, tzinfo=timezone.utc))
    run_jobs(datetime(2031, 3, 12, 3, 0, tzinfo=timezone.utc))
    [alert] = dms_to(fake_slack, HR)
    assert "1 time-off record(s) disappeared" in alert and "<@U_DAVE>" in alert and doomed.id in alert
    assert "ledger records disappeared" in caplog.text
    assert set(LedgerSnapshot.objects.get().entries) == {entry().id}
    run_jobs(datetime(2031, 3, 13, 2, 0, tzinfo=timezone.utc))
    assert len(dms_to(fake_slack, HR)) == 1
    assert kept_ts


def test_records_a_read_stopping_at_its_page_limit_never_reached_are_not_called_deleted(fake_slack, monkeypatch):
    # The busy current channel's read stops at its page limit; the past channel's history reaches further
    # back. What the current channel's read did not reach aged out of the read: it was not deleted.
    from approvals import ledger_reader

    install(replace(ENG, past_approvals_channels=(C_OLD_APPROVALS,)))
    monkeypatch.setattr(ledger_reader, "HISTORY_PAGE_SIZE", 2)
    post_entry(fake_slack, entry(id="in-the-old-channel"), channel=C_OLD_APPROVALS, ts="1700000000.000100")
    for number in range(4):
        post_entry(fake_slack, entry(id=f"current-{number}"), ts=f"18000000{number:02d}.000100")
    run_jobs(datetime(2031, 3, 11, 2, 0, tzinfo=timezone.utc))
    for number in range(6):  # chatter: the channel now has more pages than a read fetches
        fake_slack.workspace.post_message(C_ENG_APPROVALS, f"chatter {number}", user=DAVE,
                                          ts=f"18000001{number:02d}.000100")
    monkeypatch.setattr(ledger_reader, "MAX_PAGES_PER_CHANNEL", 3)

    run_jobs(datetime(2031, 3, 12, 2, 0, tzinfo=timezone.utc))

    assert dms_to(fake_slack, HR) == []


def test_an_adjustment_in_a_channel_no_longer_read_is_not_called_deleted(fake_slack):
    from approvals.ledger_format import adjustment_metadata
    from approvals.rules import Adjustment

    install(replace(ENG, past_approvals_channels=(C_OLD_APPROVALS,)))
    carried = Adjustment(id="carried-over", user=ALICE, leave_type="vacation", days=Decimal(2), year=2031,
                         reason="carry-over", by=HR)
    fake_slack.workspace.post_message(C_OLD_APPROVALS, "adjustment", metadata=adjustment_metadata(carried),
                                      ts="1790000001.000100")
    post_entry(fake_slack, entry(id="in-the-current-channel"), ts="1800000000.000100")
    run_jobs(datetime(2031, 3, 11, 2, 0, tzinfo=timezone.utc))
    assert LedgerSnapshot.objects.get().entries["carried-over"] == [ALICE, C_OLD_APPROVALS, "1790000001.000100"]

    install(ENG)  # HR stops reading the old channel
    run_jobs(datetime(2031, 3, 12, 2, 0, tzinfo=timezone.utc))

    assert dms_to(fake_slack, HR) == []


def test_the_nightly_export_writes_the_ledger_and_keeps_the_newest_files(fake_slack, export_dir, settings):
    install()
    settings.LEDGER_EXPORT_KEEP = 3
    export_dir.mkdir(parents=True)
    for day in (1, 2, 3, 4):
        (export_dir / f"ledger-2031-03-0{day}.csv").write_text("old")
    (export_dir / "notes.txt").write_text("HR's own file")
    post_entry(fake_slack, entry())
    post_entry(fake_slack, entry(user=DAVE, leave_type="sick", reason="=cmd|' /C calc'!A0"))
    run_jobs(datetime(2031, 3, 11, 1, 59, tzinfo=timezone.utc))
    assert not (export_dir / "ledger-2031-03-11.csv").exists()  # not before 02:00 UTC
    run_jobs(datetime(2031, 3, 11, 2, 0, tzinfo=timezone.utc))
    export = (export_dir / "ledger-2031-03-11.csv").read_text(encoding="utf-8-sig")
    lines = export.splitlines()
    assert lines[0].startswith("kind,id,user,team,type,start,end")
    assert len(lines) == 3 and "U_ALICE" in export and ",sick," in export  # HR's copy keeps private types
    assert "'=cmd" in export
    assert sorted(p.name for p in export_dir.iterdir()) == [
        "ledger-2031-03-03.csv", "ledger-2031-03-04.csv", "ledger-2031-03-11.csv", "notes.txt"]


# --- Maintenance -----------------------------------------------------------------------------


def test_maintenance_recovers_stuck_tasks_and_prunes_old_rows_and_expired_keys(fake_slack, settings):
    install()
    stuck = DatabaseBackend("default", {}).enqueue(tasks.tell_user, ("C_X", "U_X", "hi"), {})
    DBTaskResult.objects.filter(id=stuck.id).update(
        status=TaskResultStatus.RUNNING,
        started_at=django_timezone.now() - timedelta(seconds=settings.TASK_STUCK_AFTER_SECONDS + 60))
    JobRun.objects.create(job="out_today", team="Engineering", period="2020-01-01",
                          claimed_at=django_timezone.now() - timedelta(days=settings.JOB_RUN_KEEP_DAYS + 1))
    cache.set("expired-key", "x", timeout=0.001)
    cache.set("live-key", "y", timeout=600)
    expired_row = isinstance(caches["default"], DatabaseCache)
    if expired_row:  # the database cache keeps an expired row until it is read or culled
        with connection.cursor() as cursor:
            cursor.execute("UPDATE timeoff_cache SET expires = %s WHERE cache_key LIKE %s",
                           [django_timezone.now() - timedelta(hours=1), "%expired-key"])
    output = run_jobs(datetime(2031, 3, 11, 1, 0, tzinfo=timezone.utc))
    assert "maintenance 2031-03-11T01: 1 task(s) requeued" in output
    assert DBTaskResult.objects.get(id=stuck.id).status == TaskResultStatus.READY
    assert not JobRun.objects.filter(period="2020-01-01").exists()
    assert cache.get("live-key") == "y"
    if expired_row:
        with connection.cursor() as cursor:
            cursor.execute("SELECT COUNT(*) FROM timeoff_cache WHERE cache_key LIKE %s", ["%expired-key"])
            assert cursor.fetchone()[0] == 0


@pytest.mark.django_db(transaction=True)
def test_of_many_clocks_claiming_one_period_exactly_one_wins():
    job = jobs.DueJob(jobs.OUT_TODAY, "Engineering", "2031-03-11", "2031-03-11", at(TUESDAY, 9, 0).isoformat())
    barrier = threading.Barrier(6)
    won: list[bool] = []

    def claim():
        try:
            barrier.wait(timeout=10)
            won.append(job_claim(job))
        finally:
            connection.close()

    threads = [threading.Thread(target=claim) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(won) == [False] * 5 + [True]
    assert JobRun.objects.filter(job=jobs.OUT_TODAY).count() == 1


def test_run_jobs_finds_a_team_typed_in_another_case_as_slash_timeoff_who_does(fake_slack):
    install()
    assert "reminders Engineering 2031-03-07:" in run_jobs(at(FRIDAY, 15, 0), "--team", "engineering")


def test_run_jobs_names_an_unknown_team(fake_slack):
    install()
    with pytest.raises(CommandError, match="no team is named 'Marketing'"):
        run_jobs(at(TUESDAY, 9, 0), "--team", "Marketing")


def test_the_clock_ticks_once_with_the_real_time(fake_slack):
    install()
    before = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H")
    out = StringIO()
    call_command("run_scheduler", "--once", stdout=out)
    after = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H")
    assert "job(s) enqueued" in out.getvalue()
    run = JobRun.objects.get(job=jobs.MAINTENANCE)  # due every hour: always one
    assert run.period in {before, after} and run.finished_at is not None
