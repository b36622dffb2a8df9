"""What is due when: the daily, weekly and hourly jobs of `run_scheduler` / `run_jobs` (DESIGN §4, §6).

Pure functions over the configuration snapshot, the ledger's entries and an
instant passed in (`now`, an aware datetime): no ORM, no Slack, no clock. The
clock (approvals.job_services) claims each due job once per team and period in
the database and runs it; the selections here decide what each job says.

Each team's jobs run in its own time zone (`TeamConfig.timezone`):

| job | when (team's local time) | period |
|---|---|---|
| `out_today` | working days at `digest_time`, except the weekly digest's day | the day |
| `weekly_digest` | the first working day of the team's week (Monday for Monday–Friday, Sunday for Sunday–Thursday; the next working day when it is a holiday) at `digest_time` | the ISO week of the week's first day |
| `reminders` | working days at REMINDER_TIME | the day |
| `nudges` | working days at NUDGE_TIME, for teams with `nudge_after_hours` | the day |

and the workspace's (UTC): `maintenance` every hour, `ledger_watch` and
`ledger_export` daily at LEDGER_EXPORT_TIME.

A job is due from its time until its period ends, so a clock started late (or
restarted) still runs today's jobs; yesterday's are not caught up, not even by a
worker that runs their tasks late: a job whose task runs after its day has ended
(the team's day; UTC's for the workspace's) is closed unrun (`day_over`).
"""

import unicodedata
from collections.abc import Container, Iterable, Mapping
from dataclasses import asdict, dataclass, replace
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from approvals.config_types import TeamConfig, WorkspaceConfig
from approvals.rules import AM, APPROVED, CANCELLED, PENDING, PM, REJECTED, Adjustment, LedgerEntry
from approvals.team_routing import team_of_entry
from approvals.work_calendar import is_working_day, nearest_working_day, team_holidays, working_days

OUT_TODAY = "out_today"
WEEKLY_DIGEST = "weekly_digest"
REMINDERS = "reminders"
NUDGES = "nudges"
MAINTENANCE = "maintenance"
LEDGER_WATCH = "ledger_watch"
LEDGER_EXPORT = "ledger_export"
EXPIRED = "expired"  # a run's error when its day ended before its task ran: nothing sent, no refusal
# As the console names them (the Setup page's jobs Slack refused).
JOB_LABELS = {OUT_TODAY: "Out today", WEEKLY_DIGEST: "Weekly digest", REMINDERS: "Reminders", NUDGES: "Nudges",
              MAINTENANCE: "Maintenance", LEDGER_WATCH: "Ledger watch", LEDGER_EXPORT: "Ledger export"}
TEAM_JOBS = (REMINDERS, OUT_TODAY, WEEKLY_DIGEST, NUDGES)
WORKSPACE_JOBS = (MAINTENANCE, LEDGER_WATCH, LEDGER_EXPORT)
ALL_JOBS = TEAM_JOBS + WORKSPACE_JOBS

DIGEST_DAYS_AHEAD = 7  # the weekly digest covers today and the next 7 days


@dataclass(frozen=True)
class JobTimes:
    """Local times of the jobs whose time is a setting rather than a team's field."""

    reminder: time = time(15, 0)  # the afternoon before: time to hand over
    nudge: time = time(10, 0)
    ledger: time = time(2, 0)  # UTC: the nightly export and watch


@dataclass(frozen=True)
class DueJob:
    """One job to run for one team ("" for the workspace) and one period, as of the instant `at`."""

    job: str
    team: str
    period: str
    day: str  # the team's local date (ISO) at `at`: the day the job speaks of
    at: str  # the instant (ISO 8601, with offset)

    def as_task_data(self) -> dict:
        return asdict(self)

    @classmethod
    def from_task_data(cls, data: dict) -> "DueJob":
        return cls(**data)

    @property
    def local_day(self) -> date:
        return date.fromisoformat(self.day)

    @property
    def instant(self) -> datetime:
        return datetime.fromisoformat(self.at)


# --- Calendar ------------------------------------------------------------------------------


def team_zone(team: TeamConfig) -> ZoneInfo:
    try:
        return ZoneInfo(team.timezone)
    except (ValueError, KeyError):  # validated on import; never stop every job for one bad value
        return ZoneInfo("UTC")


def local_date(team: TeamConfig, now: datetime) -> date:
    return now.astimezone(team_zone(team)).date()


def day_over(job: DueJob, team: TeamConfig | None, now: datetime) -> bool:
    """Whether the day the `job` was due for has ended at `now`, in the team's time zone (UTC for a
    workspace job, `team` None).

    Its work is then stale (a reminder of leave already begun, yesterday's "out today"), whoever runs it
    late: a worker that was down working through its queue, a retry past midnight. The weekly digest
    too: it covers its day and the next 7, is due on that day only, and from the next day the out-today
    post takes over. A workspace job of a past day only repeats today's: yesterday's export would be
    today's ledger under yesterday's name, and yesterday's ledger watch a full read of the ledger (Tier 3
    calls for minutes) that today's makes again.
    """
    today = local_date(team, now) if team is not None else now.astimezone(timezone.utc).date()
    return today > job.local_day


def team_calendar(config: WorkspaceConfig, team: TeamConfig, day: date) -> dict[date, str]:
    """The team's holidays around `day` (this year and the next: look-aheads cross the year end)."""
    return team_holidays(team, config.holidays_for(team.name), range(day.year - 1, day.year + 2))


def next_working_day(day: date, workweek: Iterable[int], holidays: Container[date]) -> date | None:
    """The team's next working day after `day`, past a shutdown of weeks; None within a year: no week."""
    return nearest_working_day(day, 1, workweek, holidays)


def week_start(day: date, workweek: Iterable[int]) -> date:
    """The first day of the team's week that holds `day`: the working weekday that follows its days off
    (Monday for Monday–Friday, Sunday for Sunday–Thursday; Monday when it has none or no working day)."""
    days = set(workweek)
    first = next((w for w in range(7) if w in days and (w - 1) % 7 not in days), 0)
    return day - timedelta(days=(day.weekday() - first) % 7)


def weekly_digest_day(day: date, workweek: Iterable[int], holidays: Container[date]) -> date | None:
    """The first working day of the team's week that holds `day` (its first day, or later when that is off)."""
    start = week_start(day, workweek)
    found = working_days(start, start + timedelta(days=6), workweek, holidays)
    return found[0] if found else None


# --- What is due ---------------------------------------------------------------------------


def due_jobs(config: WorkspaceConfig, now: datetime, *, times: JobTimes = JobTimes(),
             team: str | None = None) -> list[DueJob]:
    """Every job due at `now`: its time has come in its period (whether or not it already ran).

    With `team`, only that team's jobs (none of the workspace's).
    """
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    at = now.isoformat()
    due: list[DueJob] = []
    for team_config in config.teams:
        if team is None or team_config.name == team:
            due.extend(team_due_jobs(config, team_config, now, times=times))
    if team is None:
        utc = now.astimezone(timezone.utc)
        today = utc.date().isoformat()
        due.append(DueJob(MAINTENANCE, "", utc.strftime("%Y-%m-%dT%H"), today, at))
        if utc.time() >= times.ledger:
            due.append(DueJob(LEDGER_WATCH, "", today, today, at))
            due.append(DueJob(LEDGER_EXPORT, "", today, today, at))
    return due


def team_due_jobs(config: WorkspaceConfig, team: TeamConfig, now: datetime, *, times: JobTimes) -> list[DueJob]:
    local = now.astimezone(team_zone(team))
    today, clock = local.date(), local.time().replace(tzinfo=None)
    holidays = team_calendar(config, team, today)
    if not is_working_day(today, team.workweek, holidays):
        return []  # no reminders, digests or nudges on the team's days off
    at, day = now.isoformat(), today.isoformat()
    due = []
    if clock >= times.reminder:
        due.append(DueJob(REMINDERS, team.name, day, day, at))
    if team.digest_time is not None and team.announce_channel and clock >= team.digest_time:
        if today == weekly_digest_day(today, team.workweek, holidays):
            # Named by its first day's ISO week: a Sunday–Thursday week whose Sunday is a holiday sends
            # Monday, in the next ISO week, what is still this week's digest.
            year, week, _ = week_start(today, team.workweek).isocalendar()
            due.append(DueJob(WEEKLY_DIGEST, team.name, f"{year}-W{week:02d}", day, at))
        else:
            due.append(DueJob(OUT_TODAY, team.name, day, day, at))
    if team.nudge_after_hours is not None and clock >= times.nudge:
        due.append(DueJob(NUDGES, team.name, day, day, at))
    return due


# --- What each job says ----------------------------------------------------------------------


def first_working_day(entry: LedgerEntry, workweek: Iterable[int], holidays: Container[date]) -> date | None:
    first = nearest_working_day(entry.start, 1, workweek, holidays) if not is_working_day(
        entry.start, workweek, holidays) else entry.start
    return first if first is not None and first <= entry.end else None


def away_at_end_of(day: date, entry: LedgerEntry) -> bool:
    """Is `entry` approved leave that takes the afternoon of `day`?"""
    return (entry.status == APPROVED and entry.start <= day <= entry.end
            and not (day == entry.end and entry.end_half == AM))


def reminders_due(entries: Iterable[LedgerEntry], team: TeamConfig, today: date,
                  holidays: Container[date]) -> list[LedgerEntry]:
    """Approved leave of the team whose first working day is the next working day after `today`; not for
    someone away this afternoon already (leave that continues other leave: they handed over before it)."""
    following = next_working_day(today, team.workweek, holidays)
    if following is None:
        return []
    entries = list(entries)
    away = {e.user for e in entries if away_at_end_of(today, e)}
    return sorted((e for e in entries
                   if e.team == team.name and e.status == APPROVED and today < e.start <= following <= e.end
                   and e.user not in away and first_working_day(e, team.workweek, holidays) == following),
                  key=lambda e: (e.user, e.start, e.id))


def reminder_run_passed(entry: LedgerEntry, team: TeamConfig, now: datetime, reminder: time,
                        holidays: Container[date], others: Iterable[LedgerEntry] = ()) -> date | None:
    """The first working day of approved `entry` when the run of the reminders job that would remind it
    (REMINDER_TIME on the working day before) has passed and no other will come before the leave begins:
    it was approved or recorded after that run, or on the days off before it. `now`: the team's local time;
    `others`: the person's other leave (someone away this afternoon already is not reminded, as by the
    job). None when a run still to come reminds it (today's, later today), or when none ever would."""
    today = now.date()
    entry = replace(entry, team=team.name)  # the team it is of, by its name now (renamed since it was sent)
    due = reminders_due([entry, *(other for other in others if other.id != entry.id)], team, today, holidays)
    if entry.id not in {e.id for e in due}:
        return None
    if is_working_day(today, team.workweek, holidays) and now.time() < reminder:
        return None  # today's run is still to come
    return first_working_day(entry, team.workweek, holidays)


def out_between(entries: Iterable[LedgerEntry], team: TeamConfig, start: date, end: date,
                holidays: Container[date]) -> list[LedgerEntry]:
    """Approved leave of the team taking at least one working day in [start, end], by start."""
    found = [e for e in entries
             if e.team == team.name and e.status == APPROVED and e.start <= end and e.end >= start
             and working_days(max(e.start, start), min(e.end, end), team.workweek, holidays)]
    return sorted(found, key=lambda e: (e.start, e.end, e.user, e.id))


def posted_at(entry: LedgerEntry) -> float | None:
    """When the request's message was posted: its Slack ts is Unix seconds."""
    try:
        return float(entry.ts) if entry.ts else None
    except ValueError:
        return None


def waiting_requests(entries: Iterable[LedgerEntry], team: TeamConfig, now: datetime) -> list[LedgerEntry]:
    """Pending requests of the team posted more than `nudge_after_hours` before `now`, oldest first."""
    if team.nudge_after_hours is None:
        return []
    cutoff = now.timestamp() - team.nudge_after_hours * 3600
    found = [e for e in entries if e.team == team.name and e.status == PENDING and e.channel
             and posted_at(e) is not None and posted_at(e) <= cutoff]
    return sorted(found, key=lambda e: (posted_at(e), e.id))


# A removed team's requests have no team's `nudge_after_hours`: HR hears of them after this long.
REMOVED_TEAM_NUDGE_HOURS = 48


def removed_teams_waiting(config: WorkspaceConfig, entries: Iterable[LedgerEntry], now: datetime
                          ) -> dict[str, list[LedgerEntry]]:
    """Team name -> pending requests of a team removed from the configuration since, posted more than
    REMOVED_TEAM_NUDGE_HOURS before `now`, oldest first: HR's to decide (team_routing.team_of_entry)."""
    cutoff = now.timestamp() - REMOVED_TEAM_NUDGE_HOURS * 3600
    found: dict[str, list[LedgerEntry]] = {}
    for entry in entries:
        if (entry.status == PENDING and entry.channel and posted_at(entry) is not None
                and posted_at(entry) <= cutoff and team_of_entry(config, entry.team, entry.channel) is None):
            found.setdefault(entry.team, []).append(entry)
    return {team: sorted(waiting, key=lambda e: (posted_at(e), e.id)) for team, waiting in sorted(found.items())}


def people_away(entries: Iterable[LedgerEntry], day: date) -> frozenset[str]:
    """Who is on approved leave on the morning of `day`, when the nudges go: an approver away is not
    nudged while another is in. An afternoon off starts after the nudge."""
    return frozenset(e.user for e in entries if e.status == APPROVED and e.start <= day <= e.end
                     and not (day == e.start and e.start_half == PM))


def message_link(channel: str, ts: str) -> str:
    """A link to a message without asking Slack (chat.getPermalink): Slack redirects it to the workspace."""
    return f"https://slack.com/archives/{channel}/p{ts.replace('.', '')}"


# --- The ledger watch and the export -------------------------------------------------------


def snapshot_of(entries: Iterable[LedgerEntry], adjustments: Iterable[Adjustment] = ()) -> dict[str, list]:
    """{record id: [user, channel, ts]} for every record whose message we know; a request's status
    follows (a snapshot an earlier release took has none)."""
    snapshot = {e.id: [e.user, e.channel, e.ts, e.status] for e in entries if e.channel and e.ts}
    for adjustment in adjustments:
        snapshot[adjustment.id] = [adjustment.user, adjustment.channel, adjustment.ts]
    return snapshot


DECIDED = (APPROVED, REJECTED, CANCELLED)


@dataclass(frozen=True)
class Vanished:
    id: str
    user: str
    channel: str | None
    ts: str | None


def vanished_records(previous: Mapping[str, list], current: Mapping[str, list], *, channels: Container[str],
                     oldest_by_channel: Mapping[str, str]) -> tuple[list[Vanished], list[Vanished]]:
    """(deleted, aged_out): records in `previous` that the ledger no longer holds.

    A record is aged out, not deleted, when its channel is no longer read, or its message is older
    than the oldest the last read reached in that channel (history expired with the channel's
    retention, or the read stopped at its page limit there), or that read found nothing in it at all.
    A record whose place is unknown (a snapshot older than the places of adjustments) is aged out
    too: "deleted" is said only of what was surely there to be read.
    """
    deleted, aged_out = [], []
    for record_id in sorted(set(previous) & set(current)):
        # A decision never turns back to pending: a request decided at the last snapshot that reads as
        # pending now was posted twice (a retry) and the copy it was decided on was deleted.
        was, now = (list(previous[record_id]) + [None] * 4)[3], (list(current[record_id]) + [None] * 4)[3]
        if was in DECIDED and now == PENDING:
            user, channel, ts = (list(previous[record_id]) + [None, None, None])[:3]
            deleted.append(Vanished(record_id, user, channel, ts))
    for record_id in sorted(set(previous) - set(current)):
        user, channel, ts = (list(previous[record_id]) + [None, None, None])[:3]
        gone = Vanished(record_id, user, channel, ts)
        # The oldest message deleted by hand looks the same as one retention expired: aged out.
        reached = oldest_by_channel.get(channel) if channel is not None else None
        older = ts is None or reached is None or float(ts) < float(reached)
        if channel is None or channel not in channels or older:
            aged_out.append(gone)
        else:
            deleted.append(gone)
    return deleted, aged_out


CSV_HEADER = ("kind", "id", "user", "team", "type", "start", "end", "start_half", "end_half", "days", "year",
              "status", "decided_by", "decided_at", "reason", "recorded_by", "by", "channel", "ts")


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value) -> str:
    """A cell a spreadsheet will not run as a formula: text that starts with = + - @, a tab or a carriage
    return, or with one of = + - @ after any white space (spaces, which Excel and LibreOffice skip; a
    no-break space or a line break, which some importers trim), gets a leading apostrophe. Any cell may
    hold what someone typed: a Slack display name, a reason, a team's name, HR's own name."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in FORMULA_STARTS or _first_drawn(text) in FORMULA_STARTS else text


def _first_drawn(text: str) -> str:
    """The first character a spreadsheet shows, as it may read it: past white space and characters that draw
    nothing (a zero-width joiner or space, a byte-order mark, a direction mark, which some importers drop),
    and folded (NFKC: a full-width ＝ or a small ﹢ is read as = or + by some)."""
    for char in text:
        if not char.isspace() and unicodedata.category(char) != "Cf":
            return unicodedata.normalize("NFKC", char)
    return ""


def ledger_csv_rows(entries: Iterable[LedgerEntry], adjustments: Iterable[Adjustment] = ()) -> list[tuple]:
    """The export: a header, then one row per request (by start) and per adjustment (by year). Every
    cell that holds text someone chose goes through `csv_safe`: a team's name, a reason, who recorded or
    decided it (HR's name when not a Slack id); ids, dates, statuses and numbers are ours."""
    rows: list[tuple] = [CSV_HEADER]
    for e in sorted(entries, key=lambda e: (e.start, e.end, e.user, e.id)):
        decided_at = (datetime.fromtimestamp(e.decided_at, tz=timezone.utc).isoformat() if e.decided_at else "")
        rows.append(("request", e.id, e.user, csv_safe(e.team), csv_safe(e.leave_type), e.start.isoformat(),
                     e.end.isoformat(), e.start_half or "", e.end_half or "", str(e.days), "", e.status,
                     csv_safe(e.decided_by), decided_at, csv_safe(e.reason), csv_safe(e.recorded_by), "", e.channel or "",
                     e.ts or ""))
    for a in sorted(adjustments, key=lambda a: (a.year, a.user, a.id)):
        rows.append(("adjustment", a.id, a.user, "", csv_safe(a.leave_type), "", "", "", "", str(a.days), str(a.year),
                     "", "", "", csv_safe(a.reason), "", csv_safe(a.by), a.channel or "", a.ts or ""))
    return rows
