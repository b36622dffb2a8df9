"""The daily jobs' work, and the claim that makes each run once per team and period.

`jobs_run_due(now)` is the clock's tick (`run_scheduler`, and `run_jobs --at`):
it asks `approvals.jobs` what is due at `now`, claims each due job by inserting
its `JobRun` row (the unique constraint on job, team and period lets exactly one
clock win; the loser's IntegrityError means "already claimed"), and enqueues the
`run_job` task (or, for `run_jobs`, runs it in the process). `job_execute` does a
job's work with the background client and marks its row finished.

What a crash or a failure leaves, and what happens next:
- A clock killed between its claim and the enqueue leaves an unfinished claim:
  after JOB_RUN_STALE_SECONDS another tick takes it over (a conditional UPDATE
  only one clock wins) while the period lasts, unless the job's task is still
  queued or running (`job_task_alive`): a worker behind, or a long ledger read,
  is no abandoned claim.
- A job that failed on a passing fault (its task's last attempt, or `run_jobs`'
  one) leaves its claim open with a `retry_at`: Slack's Retry-After, at least a
  minute, doubling with each claim up to JOB_RUN_STALE_SECONDS. A tick from then
  takes it over, so a digest rate-limited at 09:00 is posted minutes later, not
  half an hour.
- A job Slack refuses for good (the announce channel is gone) is marked finished
  with its error and logged; it is not retried every minute.
- A job whose task runs after its day has ended (in the team's time zone; UTC for
  the workspace's jobs) because the worker was down while the clock enqueued, or a
  retry crossed midnight, is marked finished with the error "expired" and logged;
  it sends nothing (today's run of the job does the work).
- Each effect is also claimed in the shared cache (`notifications.once`) under a
  key naming the person or post, so a retried or duplicated job sends nothing twice.
"""

import csv
import logging
import os
import tempfile
from collections import defaultdict
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, time, timedelta
from pathlib import Path

from django.conf import settings
from django.core.cache import caches
from django.core.cache.backends.db import DatabaseCache
from django.db import IntegrityError, connections, router, transaction
from django.db.models import F, Q
from django.tasks import TaskResultStatus
from django.utils import timezone
from django_tasks_db.models import DBTaskResult
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from approvals import directory, job_messages, jobs, ledger_reader, slack_directory, tasks
from approvals.block_kit import escape
from approvals.cache_lock import key_part
from approvals.config_store import current_config
from approvals.config_types import TeamConfig, WorkspaceConfig
from approvals.console_see_selectors import with_names
from approvals.jobs import DueJob
from approvals.models import JobRun, LedgerSnapshot
from approvals.notifications import once, post_notice, send_dm_once
from approvals.rules import APPROVED
from approvals.selectors import local_today, slack_lookups, team_of_user
from approvals.slack_clients import background_client
from approvals.task_queue import (
    error_code,
    prune_finished_tasks,
    recover_stuck_tasks,
    retry_after_seconds,
    transient,
)
from approvals.team_routing import MembershipUnknown, approvers_for

logger = logging.getLogger(__name__)


def job_times() -> jobs.JobTimes:
    return jobs.JobTimes(reminder=time.fromisoformat(settings.REMINDER_TIME),
                         nudge=time.fromisoformat(settings.NUDGE_TIME),
                         ledger=time.fromisoformat(settings.LEDGER_EXPORT_TIME))


# --- The clock: claim, enqueue or run ---------------------------------------------------------


def jobs_claim_due(now: datetime, *, team: str | None = None) -> list[DueJob]:
    """Claim every job due at `now` that no clock has claimed for its period; returns what this call won."""
    config = current_config()
    due = out_today_where_the_digest_went_out_earlier(jobs.due_jobs(config, now, times=job_times(), team=team))
    if not due:
        return []
    # One read first, so a clock ticking every minute does not meet the constraint (and log an error
    # in PostgreSQL) for every job already done today; the insert below is what decides.
    existing = {(run.job, run.team, run.period): run
                for run in JobRun.objects.filter(period__in={d.period for d in due}, job__in={d.job for d in due})}
    stale_before = timezone.now() - timedelta(seconds=settings.JOB_RUN_STALE_SECONDS)
    won = []
    for job in due:
        run = existing.get((job.job, job.team, job.period))
        if run is None and job.team:
            # A run is keyed by the team's name, and a team renamed today already ran (or claimed) today's
            # digest under its earlier name: that run is this team's, and carries on under that name
            # (its task, its take-over), so a rename never runs a job twice in one period.
            run = job_run_under_earlier_name(existing, config, job)
            if run is not None:
                job = replace(job, team=run.team)
        if run is None:
            claimed = job_claim(job)
        elif run.finished_at is None and (run.retry_at is not None and run.retry_at <= timezone.now()):
            claimed = job_take_over(job, stale_before)
        elif run.finished_at is None and run.claimed_at < stale_before and not job_task_alive(job):
            claimed = job_take_over(job, stale_before)
        else:
            claimed = False
        if claimed:
            won.append(job)
    return won


def out_today_where_the_digest_went_out_earlier(due: list[DueJob]) -> list[DueJob]:
    """`due`, with each week's digest that already went out on an earlier day of its week made that day's
    "out today" post instead.

    The digest is due on the first working day of the week as the calendar says now (`jobs.team_due_jobs`,
    pure): when HR has made the day it went out a day off since (a snow day), or moved the week to start
    on Sunday, today reads as the digest's day again, and the digest's run for the week is already done.
    Without this, today would get neither post. Runs from before `JobRun.day` existed say nothing."""
    weekly = [job for job in due if job.job == jobs.WEEKLY_DIGEST]
    if not weekly:
        return due
    sent_on = {(run.team, run.period): run.day
               for run in JobRun.objects.filter(job=jobs.WEEKLY_DIGEST, period__in={job.period for job in weekly},
                                                day__isnull=False, finished_at__isnull=False)}

    def instead(job: DueJob) -> DueJob:
        day = sent_on.get((job.team, job.period)) if job.job == jobs.WEEKLY_DIGEST else None
        if day is not None and day.isoformat() < job.day:
            return replace(job, job=jobs.OUT_TODAY, period=job.day)
        return job

    return [instead(job) for job in due]


def job_run_under_earlier_name(existing: dict[tuple[str, str, str], JobRun], config: WorkspaceConfig,
                               job: DueJob) -> JobRun | None:
    """The run of `job` for its period under one of its team's earlier names, if any.

    Only the earlier names that are still the team's (`names_recorded_for`, as the ledger counts them): a
    name another team uses now is that team's, its runs too.
    """
    for name in config.names_recorded_for(job.team)[1:]:
        run = existing.get((job.job, name, job.period))
        if run is not None:
            return run
    return None


def job_claim(job: DueJob) -> bool:
    """Insert the job's row: True for the one caller whose insert the unique constraint let through."""
    try:
        with transaction.atomic():
            JobRun.objects.create(job=job.job, team=job.team, period=job.period, day=job.day,
                                  claimed_at=timezone.now())
    except IntegrityError:
        return False  # another clock claimed it first
    logger.info("job claimed job=%s team=%s period=%s", job.job, job.team, job.period)
    return True


def job_task_alive(job: DueJob) -> bool:
    """A `run_job` task of this job and period is still queued (a worker behind or down, a retry waiting
    out its backoff) or running (a full ledger read can take longer than JOB_RUN_STALE_SECONDS; a dead
    worker's task goes back to the queue by itself, task_queue.recover_stuck_tasks): its claim is not
    abandoned, however old, and a task enqueued beside it would do the job twice, at the same time."""
    return DBTaskResult.objects.filter(
        task_path=tasks.run_job.module_path, status__in=(TaskResultStatus.READY, TaskResultStatus.RUNNING),
        args_kwargs__args__0__job=job.job, args_kwargs__args__0__team=job.team,
        args_kwargs__args__0__period=job.period,
    ).exists()


def job_take_over(job: DueJob, stale_before: datetime) -> bool:
    """Take an unfinished claim older than `stale_before`, or one whose `retry_at` has come; one UPDATE
    with the condition, so one clock wins."""
    now = timezone.now()
    taken = (JobRun.objects
             .filter(job=job.job, team=job.team, period=job.period, finished_at__isnull=True)
             .filter(Q(claimed_at__lt=stale_before) | Q(retry_at__lte=now))
             .update(claimed_at=now, retry_at=None, attempts=F("attempts") + 1))
    if taken:
        logger.warning("job taken over job=%s team=%s period=%s (its earlier claim failed or never finished)",
                       job.job, job.team, job.period)
    return bool(taken)


def jobs_run_due(now: datetime, *, team: str | None = None, inline: bool = False) -> list[tuple[DueJob, str]]:
    """The tick: claim what is due and enqueue it (`inline`: run it here). Returns (job, outcome) pairs."""
    outcomes = []
    for job in jobs_claim_due(now, team=team):
        if not inline:
            tasks.run_job.enqueue(job.as_task_data())
            outcomes.append((job, "enqueued"))
            continue
        try:
            outcomes.append((job, job_execute(background_client(), job, now=now)))
        except Exception as exc:
            job_failed(job, exc)
            outcomes.append((job, f"failed: {error_code(exc)}"))
    return outcomes


# --- Running one job ---------------------------------------------------------------------------


def job_execute(client: WebClient, job: DueJob, *, now: datetime | None = None) -> str:
    """Do the job's work unless its run is already finished or, for a team's job, its day is over at `now`
    (the real time for a task, which a worker may run late; the `--at` instant for `run_jobs`); returns
    what it did, for the log."""
    run = JobRun.objects.filter(job=job.job, team=job.team, period=job.period).first()
    if run is not None and run.finished_at is not None:
        return "already done"
    config = current_config()
    if job.team:
        # `job.team` is the team's name when the job was claimed: a team renamed since (its task waited in
        # the queue, or its claim is taken over under its earlier name) is still found.
        team = config.team_recorded_as(job.team)
        if team is None:
            outcome = "team no longer configured"
        elif jobs.day_over(job, team, now or timezone.now()):
            return job_expire(job)
        else:
            outcome = TEAM_WORK[job.job](client, config, team, job)
    elif jobs.day_over(job, None, now or timezone.now()):
        return job_expire(job)
    else:
        outcome = WORKSPACE_WORK[job.job](client, config, job)
    JobRun.objects.filter(job=job.job, team=job.team, period=job.period).update(finished_at=timezone.now(),
                                                                                 error="")
    logger.info("job done job=%s team=%s period=%s outcome=%s", job.job, job.team, job.period, outcome)
    return outcome


def job_expire(job: DueJob) -> str:
    """Close the run of a job whose day ended before its task ran: nothing sent, and no clock runs it again."""
    JobRun.objects.filter(job=job.job, team=job.team, period=job.period).update(finished_at=timezone.now(),
                                                                                 error=jobs.EXPIRED, retry_at=None)
    logger.warning("job expired job=%s team=%s period=%s: its day %s ended before it ran (the task worker was "
                   "down or behind); nothing sent", job.job, job.team, job.period, job.day)
    return jobs.EXPIRED


def job_failed(job: DueJob, exc: BaseException) -> None:
    """An attempt failed for good. A passing fault leaves the claim open, to be taken over from its
    `retry_at` (job_retry_delay); a permanent refusal closes it, so the clock does not repeat it every
    minute."""
    error = error_code(exc)[:200]
    runs = JobRun.objects.filter(job=job.job, team=job.team, period=job.period)
    if transient(exc):
        run = runs.first()
        delay = job_retry_delay(attempts=run.attempts if run else 1, retry_after=retry_after_seconds(exc))
        runs.update(error=error, finished_at=None, retry_at=timezone.now() + timedelta(seconds=delay))
        logger.error("job failed job=%s team=%s period=%s error=%s; a tick from %d s on retries it", job.job,
                     job.team, job.period, error, delay)
    else:
        runs.update(error=error, finished_at=timezone.now(), retry_at=None)
        logger.error("job failed job=%s team=%s period=%s error=%s", job.job, job.team, job.period, error)


JOB_RETRY_FIRST_SECONDS = 60


def job_retry_delay(*, attempts: int, retry_after: int) -> int:
    """Seconds until a job that failed on a passing fault may be claimed again: a minute after its first
    claim, doubling with each, never sooner than Slack's Retry-After nor later than JOB_RUN_STALE_SECONDS."""
    backoff = JOB_RETRY_FIRST_SECONDS * 2 ** min(max(attempts, 1) - 1, 16)
    return min(max(backoff, retry_after), settings.JOB_RUN_STALE_SECONDS)


def _dm(client: WebClient, key: str, user: str, text: str) -> bool:
    """A DM sent once per key: True when it is sent (now, or by an earlier run). A deactivated account
    gets none, and a permanent refusal is logged and skipped: False."""
    answers = []
    try:
        once(key, lambda: answers.append(send_dm_once(client, key, user, text)))
    except SlackApiError as exc:
        if transient(exc):
            raise  # the task retries; what was sent is not sent again
        logger.warning("job DM refused user=%s key=%s error=%s", user, key, error_code(exc))
        return False
    return answers != [None]  # [None]: send_dm_once skipped a deactivated account


def _post(client: WebClient, key: str, channel: str, text: str, blocks: list[dict]) -> None:
    once(key, lambda: post_notice(client, key, channel=channel, text=text, blocks=blocks))


def _leave_types(config: WorkspaceConfig) -> dict:
    return {leave_type.code: leave_type for leave_type in config.leave_types}


# --- The team jobs -------------------------------------------------------------------------------
#
# Their once-keys name the team as the job was claimed (`job.team`), not as it is called now: an
# attempt retried after a rename finds the marks of the attempt before it.


def entries_placed_now(client: WebClient, config: WorkspaceConfig, ledger, today) -> list:
    """The ledger's entries for a team's reminders and posts. Approved leave recorded under a team that no
    longer exists (HR deleted it) counts in the team its person is in now: they are still reminded, and
    still shown as out. Someone Slack cannot place just now keeps the old name (and is left out today)."""
    placed: dict[str, TeamConfig | None] = {}
    entries = []
    for entry in ledger.entries.values():
        if (entry.status == APPROVED and entry.end >= today - timedelta(days=1)
                and config.team_recorded_as(entry.team) is None):
            if entry.user not in placed:
                try:
                    placed[entry.user] = team_of_user(client, config, entry.user)
                except (SlackApiError, MembershipUnknown) as exc:
                    if isinstance(exc, SlackApiError) and transient(exc):
                        raise  # the job tries again; what it sent is not sent twice (once-keys)
                    logger.warning("cannot place user=%s of a removed team error=%s", entry.user, exc)
                    placed[entry.user] = None
            if placed[entry.user] is not None:
                entry = replace(entry, team=placed[entry.user].name)
        entries.append(entry)
    return entries


def still_here(entries: list) -> list:
    """`entries` without those of people known to have left (a deactivated account): "out today" of someone
    gone would tell the team nothing true. Known from what the app already holds, asking Slack nothing (a
    post of seventy people out is not seventy `users.info` calls): the profile cached when Slack said they
    left (`user_change`), or the workspace's directory (`users.list`, refreshed in the background)."""
    names = slack_directory.directory_cached()
    gone = {user for user in {entry.user for entry in entries} if _known_to_have_left(user, names)}
    return [entry for entry in entries if entry.user not in gone]


def _known_to_have_left(user: str, names) -> bool:
    profile = directory.cached_profile(user)
    if isinstance(profile, dict):
        return bool(profile.get("deleted"))
    return names is not None and names.former_person(user) is not None


def reminders_send(client: WebClient, config: WorkspaceConfig, team: TeamConfig, job: DueJob) -> str:
    """A DM to each person whose approved leave starts on the next working day; none once the leave has
    begun by the clock's real time (a run late, or a `run_jobs --at` an instant past)."""
    today = job.local_day
    holidays = jobs.team_calendar(config, team, today)
    ledger = ledger_reader.team_ledger(client, config, team)
    sent = 0
    for entry in jobs.reminders_due(entries_placed_now(client, config, ledger, today), team, today, holidays):
        first_day = jobs.first_working_day(entry, team.workweek, holidays)
        if first_day <= jobs.local_date(team, timezone.now()):  # a late run: the leave has begun
            logger.warning("reminder not sent: leave %s began on %s, before its reminder", entry.id, first_day)
            continue
        # The day as the person reads it: the team's afternoon is already the next morning in Tokyo. Asked of
        # Slack when the cache has lapsed (a passing fault retries the job; the DMs sent are not sent again).
        zone = directory.cached_timezone(entry.user)
        if zone is None and (profile := directory.fetch_user(client, entry.user, raise_passing=True)):
            zone = profile["tz"]
        # As of when the DM is sent: a worker running it late may send it after the person's midnight.
        sent_at = max(datetime.fromisoformat(job.at).timestamp(), timezone.now().timestamp())
        text = job_messages.reminder_text(entry, config.leave_type(entry.leave_type), first_day,
                                          local_today(zone, sent_at) if zone else today)
        sent += _dm(client, f"reminder:{entry.id}:{entry.start.isoformat()}", entry.user, text)
    return f"{sent} reminder(s)"


def out_today_post(client: WebClient, config: WorkspaceConfig, team: TeamConfig, job: DueJob) -> str:
    today = job.local_day
    holidays = jobs.team_calendar(config, team, today)
    ledger = ledger_reader.team_ledger(client, config, team)
    out = still_here(jobs.out_between(entries_placed_now(client, config, ledger, today), team, today, today,
                                              holidays))
    if not out:
        return "nobody out"  # no post: a daily "nobody is out" would be noise
    text, blocks = job_messages.out_today_message(team.name, today, out, _leave_types(config))
    _post(client, f"job-post:{job.job}:{key_part(job.team)}:{job.period}", team.announce_channel, text, blocks)
    return f"{len(out)} out"


def weekly_digest_post(client: WebClient, config: WorkspaceConfig, team: TeamConfig, job: DueJob) -> str:
    today = job.local_day
    until = today + timedelta(days=jobs.DIGEST_DAYS_AHEAD)
    holidays = jobs.team_calendar(config, team, today)
    ledger = ledger_reader.team_ledger(client, config, team)
    out = still_here(jobs.out_between(entries_placed_now(client, config, ledger, today), team, today, until,
                                              holidays))
    text, blocks = job_messages.weekly_digest_message(team.name, today, until, out, _leave_types(config), holidays)
    _post(client, f"job-post:{job.job}:{key_part(job.team)}:{job.period}", team.announce_channel, text, blocks)
    return f"{len(out)} out"


def nudges_send(client: WebClient, config: WorkspaceConfig, team: TeamConfig, job: DueJob) -> str:
    """One DM per approver naming each request of theirs waiting longer than `nudge_after_hours`.

    An approver on leave today is left alone while another approver of the request is in. When every one
    of them is away, they are still reminded (for their return), and HR is told which requests wait on
    nobody at work, since only HR can give the team another approver."""
    ledger = ledger_reader.team_ledger(client, config, team)
    waiting = jobs.waiting_requests(ledger.entries.values(), team, job.instant)
    channel_members, _ = slack_lookups(client)
    unable = directory.unable_to_approve(client)  # no nudge to a bot or a deactivated account
    away = jobs.people_away(ledger.entries.values(), job.local_day)
    by_approver = defaultdict(list)
    unattended = []  # waiting on approvers who are all on leave today
    for entry in waiting:
        approvers = approvers_for(config, team, entry.user, channel_members=channel_members, unable=unable)
        at_work = approvers - away
        for approver in at_work or approvers:
            by_approver[approver].append(entry)
        if approvers and not at_work:
            unattended.append(entry)
    nudged = 0
    for approver, entries in sorted(by_approver.items()):
        text = job_messages.nudge_text(team.name, entries, _leave_types(config), job.instant, job.local_day)
        nudged += _dm(client, f"nudge:{key_part(job.team)}:{job.period}:{approver}", approver, text)
    hr_told = 0
    for hr in sorted(directory.able_hr(client, config)) if unattended else ():
        # Never told to find who decides their own; nor of a request they were just nudged to decide (an HR
        # person nudged about another request still hears of these).
        entries = [entry for entry in unattended if entry.user != hr and entry not in by_approver.get(hr, ())]
        if entries:
            text = job_messages.nudge_text(team.name, entries, _leave_types(config), job.instant, job.local_day,
                                           approvers_away=True)
            hr_told += _dm(client, f"nudge-away:{key_part(job.team)}:{job.period}:{hr}", hr, text)
    return f"{len(waiting)} waiting, {nudged} approver(s) nudged" + (f", {hr_told} HR told of approvers away"
                                                                    if unattended else "")


TEAM_WORK: dict[str, Callable[[WebClient, WorkspaceConfig, TeamConfig, DueJob], str]] = {
    jobs.REMINDERS: reminders_send,
    jobs.OUT_TODAY: out_today_post,
    jobs.WEEKLY_DIGEST: weekly_digest_post,
    jobs.NUDGES: nudges_send,
}


# --- The workspace jobs --------------------------------------------------------------------------


def maintenance_run(client: WebClient, config: WorkspaceConfig, job: DueJob) -> str:
    """Stuck tasks back to the queue; finished task rows, expired cache keys and old job runs deleted."""
    recovered = recover_stuck_tasks()
    pruned = prune_finished_tasks()
    keys = expired_cache_keys_prune()
    runs, _ = JobRun.objects.filter(claimed_at__lt=timezone.now() - timedelta(days=settings.JOB_RUN_KEEP_DAYS)).delete()
    return f"{recovered} task(s) requeued, {pruned} task row(s) and {keys} cache key(s) pruned, {runs} job run(s)"


def expired_cache_keys_prune() -> int:
    """The database cache deletes an expired key only when it is read or the table is culled (which our
    MAX_ENTRIES makes rare): delete them here. Redis expires keys itself."""
    backend = caches["default"]
    if not isinstance(backend, DatabaseCache):
        return 0
    connection = connections[router.db_for_write(backend.cache_model_class)]
    table, expires = connection.ops.quote_name(backend._table), connection.ops.quote_name("expires")
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {table} WHERE {expires} < %s",
                       [connection.ops.adapt_datetimefield_value(timezone.now())])
        return max(cursor.rowcount, 0)


def ledger_watch(client: WebClient, config: WorkspaceConfig, job: DueJob) -> str:
    """Tell HR about ledger records whose messages disappeared since the last snapshot (DESIGN §5)."""
    # A full read: the incremental reads only add, so a deleted message leaves the ledger only here.
    ledger = ledger_reader.read_ledger(client, config)
    current = jobs.snapshot_of(ledger.entries.values(), getattr(ledger, "adjustments", {}).values())
    previous = LedgerSnapshot.objects.filter(id=LedgerSnapshot.SINGLETON_ID).first()
    deleted = []
    if previous is not None:
        # A record whose message this version cannot read (a newer release wrote it) is still there: kept
        # in the snapshot as it was, so that it is missed should its message go later.
        unreadable = ledger_reader.unreadable_ids()
        current.update({record_id: row for record_id, row in previous.entries.items() if record_id in unreadable
                        and record_id not in current})
        deleted, aged_out = jobs.vanished_records(previous.entries, current,
                                                  channels=set(ledger_reader.ledger_channels(config)),
                                                  oldest_by_channel=ledger.oldest_by_channel or {})
        if aged_out:
            logger.info("ledger watch: %s record(s) aged out of the history read (retention, window or a "
                        "channel no longer configured)", len(aged_out))
        if deleted:
            logger.error("ledger records disappeared (messages deleted) count=%s ids=%s", len(deleted),
                         ",".join(gone.id for gone in deleted[:50]))
            text = job_messages.ledger_vanished_text(deleted, export_dir=str(settings.LEDGER_EXPORT_DIR))
            for hr in directory.able_hr(client, config):
                _dm(client, f"ledger-vanished:{job.period}:{hr}", hr, text)
    removed_nudged = _removed_teams_nudge(client, config, ledger, job)
    # Saved after HR is told: a retry after a passing fault finds the same records missing. What HR was told
    # is kept a while for the Setup page, which cannot see it in the new snapshot.
    now = timezone.now()
    cutoff = (now - timedelta(days=LedgerSnapshot.REPORTED_DAYS)).isoformat()
    told = [row for row in (previous.reported or [] if previous is not None else []) if row[4] >= cutoff]
    known = {row[0] for row in told}
    told += [[gone.id, gone.user, gone.channel, gone.ts, now.isoformat()] for gone in deleted if gone.id not in known]
    LedgerSnapshot.objects.update_or_create(id=LedgerSnapshot.SINGLETON_ID,
                                            defaults={"taken_at": now, "entries": current, "reported": told})
    return f"{len(current)} record(s), {len(deleted)} deleted" + (
        f", HR told of removed teams' requests {removed_nudged} time(s)" if removed_nudged else "")


def _removed_teams_nudge(client: WebClient, config: WorkspaceConfig, ledger, job: DueJob) -> int:
    """A DM to each fallback approver who can decide, once a day, naming the requests of removed teams that
    have waited REMOVED_TEAM_NUDGE_HOURS: no team's nudges name them, and they are HR's to decide."""
    waiting = jobs.removed_teams_waiting(config, ledger.entries.values(), job.instant)
    if not waiting:
        return 0
    hr_people = sorted(directory.able_hr(client, config))
    sent = 0
    for hr in hr_people:
        parts = {team_name: job_messages.nudge_text(team_name, [e for e in entries if e.user != hr],
                                                    _leave_types(config), job.instant, job.local_day,
                                                    team_removed=True)
                 for team_name, entries in waiting.items() if any(e.user != hr for e in entries)}
        if parts:
            sent += _dm(client, f"nudge-removed:{job.period}:{hr}", hr, _within_one_message(parts))
    return sent


# A DM's text, with room under the 40,000 characters Slack takes in one message.
DM_TEXT_MAX = 38_000


def _within_one_message(parts: dict[str, str]) -> str:
    """Each removed team's part (50 requests at most) while they fit one DM, then the teams left out, by name
    as far as room allows: the number of teams removed is HR's, and App Home lists every request waiting."""
    kept: list[str] = []
    size = 0
    for part in parts.values():
        if kept and size + 2 + len(part) > DM_TEXT_MAX - 2_000:  # room to name some of the teams left out
            break
        kept.append(part)
        size += 2 + len(part)
    left_out = [escape(team_name) for team_name in list(parts)[len(kept):]]
    if left_out:
        room, named = DM_TEXT_MAX - size - 200, []
        for name in left_out:
            if len(name) + 2 > room:
                break
            named.append(name)
            room -= len(name) + 2
        unnamed = len(left_out) - len(named)
        if not named:
            teams = f"{unnamed} teams"
        else:
            teams = ", ".join(named) + (f" and {unnamed} more" if unnamed else "")
        kept.append(f"…and requests of removed teams waiting as long in {teams}: your App Home lists them all.")
    return "\n\n".join(kept)


def ledger_export(client: WebClient, config: WorkspaceConfig, job: DueJob) -> str:
    """HR's copy of the ledger outside Slack: ledger-<date>.csv in LEDGER_EXPORT_DIR, the newest N kept."""
    ledger = ledger_reader.current_ledger(client, config)
    posted = [entry for entry in ledger.entries.values() if entry.ts]  # not the in-flight pending set
    rows = with_names(jobs.ledger_csv_rows(posted, getattr(ledger, "adjustments", {}).values()),
                      export_directory(client), config)
    directory = Path(settings.LEDGER_EXPORT_DIR)
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / f"ledger-{job.period}.csv"
    export_write(target, rows)
    removed = exports_rotate(directory, keep=settings.LEDGER_EXPORT_KEEP)
    return f"{len(rows) - 1} row(s) to {target}, {removed} old export(s) removed"


def export_directory(client: WebClient) -> slack_directory.Directory | None:
    """People's names for the export: the cached directory, read again when it is stale. Names are a help,
    not the record: when Slack cannot give them, the export goes out with those the cache has."""
    names = slack_directory.directory_cached()
    if names is None or not names.fresh(timezone.now().timestamp()):
        try:
            names = slack_directory.directory_refresh(client) or names
        except (SlackApiError, SlackClientError, OSError) as exc:
            logger.warning("ledger export: names not read again (%s)", type(exc).__name__)
    return names


def export_write(target: Path, rows: list[tuple]) -> None:
    """Written beside the target and renamed over it: a reader never sees half a file. UTF-8 with a byte
    order mark, as the console's CSVs: Excel reads a double-clicked file without one in the PC's code page."""
    handle, temporary = tempfile.mkstemp(prefix=".ledger-", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(handle, "w", newline="", encoding="utf-8-sig") as stream:
            csv.writer(stream).writerows(rows)
        os.chmod(temporary, 0o640)  # personal data: not world-readable
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def exports_rotate(directory: Path, *, keep: int) -> int:
    """Delete all but the newest `keep` exports (names sort by date)."""
    exports = sorted(directory.glob("ledger-????-??-??.csv"))
    stale = exports[:-max(keep, 1)]  # never the export just written
    for path in stale:
        path.unlink(missing_ok=True)
    return len(stale)


WORKSPACE_WORK: dict[str, Callable[[WebClient, WorkspaceConfig, DueJob], str]] = {
    jobs.MAINTENANCE: maintenance_run,
    jobs.LEDGER_WATCH: ledger_watch,
    jobs.LEDGER_EXPORT: ledger_export,
}
