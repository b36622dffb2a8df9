"""Reads for the console's See pages: who is out, the ledger as CSV, balances per person.

All of them work on a ledger the caller already has (the cached one: pages
never wait on Slack) and on plain configuration. Names come from the cached
Slack directory; an id it does not know is shown as it is.

Private leave types (DESIGN §5) show only as "away" on the calendar: it is
seen by every console user, like the announce channel. The CSV and the
balances, which HR needs to count days, name the type.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from datetime import timezone as dt_timezone
from decimal import Decimal

from approvals.balances import balances_for
from approvals.config_types import TeamConfig, TeamNameUnclear, WorkspaceConfig
from approvals.jobs import csv_safe, ledger_csv_rows, posted_at
from approvals.ledger_reader import Ledger
from approvals.rules import (
    AM,
    PENDING,
    PM,
    Balance,
    LedgerEntry,
    format_day,
    format_days,
    format_number,
    format_range,
    who_is_out,
)
from approvals.slack_directory import Directory
from approvals.team_routing import MembershipUnknown, match_team
from approvals.work_calendar import team_holidays

AWAY = "away"
MAX_WEEKS = 12


def person_label(directory: Directory | None, user: str) -> str:
    return directory.person_label(user) if directory else user


# --- The team a page shows --------------------------------------------------------------------


@dataclass(frozen=True)
class TeamChoice:
    """The team a See page's `?team=` names (None: none does), and what to tell HR about how the name was
    read ("" when it is a team's name now)."""

    team: TeamConfig | None
    note: str = ""


def team_chosen(config: WorkspaceConfig, name: str) -> TeamChoice:
    """The team called `name` now, else the one team called so before: a link or bookmark made before a
    rename still shows that team (a name in use wins, as everywhere). A name that is no team's, or that
    several teams had before, chooses none, and says so."""
    if not name:
        return TeamChoice(None)
    try:
        team = config.team_called(name)
    except TeamNameUnclear as unclear:
        if unclear.ambiguous:
            return TeamChoice(None, f"No team is called {name} now; {' and '.join(unclear.teams)} were called so "
                                    "before: choose one of them.")
        return TeamChoice(None, f"No team is called {name}, now or before.")
    if team.name != name:
        return TeamChoice(team, f"{team.name} was called {name} before: showing {team.name}.")
    return TeamChoice(team)


# --- Who's out ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Day:
    day: date
    label: str  # "Mon 7 Dec"
    working: bool
    holiday: str = ""
    today: bool = False  # the team's today: its column is marked


@dataclass(frozen=True)
class Cell:
    text: str = ""  # "" : not out
    pending: bool = False
    half: bool = False


@dataclass(frozen=True)
class PersonRow:
    user: str
    name: str
    cells: tuple[Cell, ...]


@dataclass(frozen=True)
class Week:
    days: tuple[Day, ...]
    rows: tuple[PersonRow, ...]  # only people out at some point of the week

    @property
    def title(self) -> str:
        return f"Week of {format_day(self.days[0].day, with_year=True)}"


@dataclass(frozen=True)
class TeamCalendar:
    team: str
    weeks: tuple[Week, ...]

    @property
    def anyone_out(self) -> bool:
        return any(week.rows for week in self.weeks)


def _leave_text(entry: LedgerEntry, config: WorkspaceConfig) -> str:
    leave_type = config.leave_type(entry.leave_type)
    if leave_type is None or leave_type.private:
        return AWAY  # the type of a private leave is never shown outside the approvals channel and the DM
    return leave_type.name


def _part_of_day(entry: LedgerEntry, day: date) -> str:
    """Which part of `day` the entry takes: AM, PM, or "day"."""
    if day == entry.start and entry.start_half == PM:
        return PM
    if day == entry.end and entry.end_half == AM:
        return AM
    return "day"


def _cell(entries: list[LedgerEntry], day: date, config: WorkspaceConfig) -> Cell:
    """A person's day: a half only when their leave that day takes one half (a morning off and an
    afternoon off, asked for apart, are the whole day)."""
    parts = {_part_of_day(entry, day) for entry in entries}
    texts = dict.fromkeys(_leave_text(entry, config) for entry in entries)
    return Cell(text=" / ".join(texts), pending=any(entry.status != "approved" for entry in entries),
                half=len(parts) == 1 and parts != {"day"})


def week_starts(today: date, weeks: int) -> list[date]:
    monday = today - timedelta(days=today.weekday())
    return [monday + timedelta(weeks=n) for n in range(weeks)]


def team_calendar(*, config: WorkspaceConfig, team: TeamConfig, ledger: Ledger, directory: Directory | None,
                  today: date, weeks: int) -> TeamCalendar:
    """Who of `team` is out (approved or pending), week by week from this week's Monday."""
    starts = week_starts(today, max(1, min(weeks, MAX_WEEKS)))
    first, last = starts[0], starts[-1] + timedelta(days=6)
    holidays = team_holidays(team, config.holidays_for(team.name), range(first.year, last.year + 1))
    entries = [e for e in who_is_out(ledger.entries.values(), first, last) if e.team == team.name]
    result = []
    for monday in starts:
        days = [monday + timedelta(days=n) for n in range(7)]
        header = tuple(Day(day=d, label=format_day(d), working=d.weekday() in team.workweek and d not in holidays,
                           holiday=holidays.get(d, ""), today=d == today) for d in days)
        out = [e for e in entries if e.start <= days[-1] and e.end >= days[0]]
        rows = []
        for user in sorted({e.user for e in out}, key=lambda u: (person_label(directory, u).casefold(), u)):
            mine = [e for e in out if e.user == user]
            cells = []
            for d in days:
                that_day = [e for e in mine if e.start <= d <= e.end]
                cells.append(_cell(that_day, d, config) if that_day and d.weekday() in team.workweek
                             and d not in holidays else Cell())
            rows.append(PersonRow(user=user, name=person_label(directory, user), cells=tuple(cells)))
        result.append(Week(days=header, rows=tuple(rows)))
    return TeamCalendar(team=team.name, weeks=tuple(result))


# --- Waiting for a decision --------------------------------------------------------------------

# The oldest this many requests waiting are listed; the rest are counted.
MAX_WAITING = 50


@dataclass(frozen=True)
class WaitingRow:
    user: str
    name: str
    team: str
    leave: str  # the type's name; "away" for a private type
    dates: str  # "Mon 21 Dec – Wed 23 Dec 2026"
    days: str  # "3 days"
    asked_at: datetime | None  # when its message was posted; None when not known
    link: str  # the request's message in Slack; "" when the workspace's address is not known yet


def slack_message_link(workspace_url: str, channel: str | None, ts: str | None) -> str:
    """The address Slack gives a message (`https://acme.slack.com/archives/C123/p1766000000000100`)."""
    if not (workspace_url.startswith("https://") and channel and ts):  # Slack's answer, made a link: https only
        return ""
    return f"{workspace_url.rstrip('/')}/archives/{channel}/p{ts.replace('.', '')}"


def waiting_for_decision(*, config: WorkspaceConfig, ledger: Ledger, directory: Directory | None,
                         team: TeamConfig | None, today: date, workspace_url: str = "") -> tuple[list[WaitingRow], int]:
    """The requests still pending (of `team`, or every team), oldest first: the rows of the first
    MAX_WAITING, and how many more there are."""
    pending = [e for e in ledger.entries.values() if e.status == PENDING and (team is None or e.team == team.name)]
    pending.sort(key=lambda e: (posted_at(e) or float("inf"), e.start, e.user, e.id))
    rows = []
    for entry in pending[:MAX_WAITING]:
        asked = posted_at(entry)
        rows.append(WaitingRow(
            user=entry.user, name=person_label(directory, entry.user), team=entry.team,
            leave=_leave_text(entry, config),
            dates=format_range(entry.start, entry.end, entry.start_half, entry.end_half, today=today),
            days=format_days(entry.days),
            asked_at=datetime.fromtimestamp(asked, tz=dt_timezone.utc) if asked is not None else None,
            link=slack_message_link(workspace_url, entry.channel, entry.ts)))
    return rows, max(len(pending) - MAX_WAITING, 0)


# --- The ledger as CSV -------------------------------------------------------------------------


def ledger_csv(*, config: WorkspaceConfig, ledger: Ledger, start: date, end: date,
               directory: Directory | None) -> list[tuple]:
    """The nightly export's columns (approvals.jobs.CSV_HEADER) plus the person's and the type's names, for
    [start, end].

    Requests that meet the range (any status), and adjustments of the years it
    touches. Requests not yet posted to Slack (the in-flight set) are left out,
    as in the nightly export.
    """
    entries = [e for e in ledger.entries.values() if e.ts and e.start <= end and e.end >= start]
    years = range(start.year, end.year + 1)
    adjustments = [a for a in ledger.adjustments.values() if a.year in years]
    return with_names(ledger_csv_rows(entries, adjustments), directory, config)


def with_names(rows: list[tuple], directory: Directory | None, config: WorkspaceConfig) -> list[tuple]:
    """The ledger's CSV rows with two last columns: `user_name`, the person's name as the directory has it
    (former people included), for a copy read when Slack's is gone and a bare `U…` names nobody; and
    `type_name`, the leave type's name as people know it (its code again when the type was deleted)."""
    header, *rest = rows
    user_column, type_column = header.index("user"), header.index("type")
    names = {leave_type.code: leave_type.name for leave_type in config.leave_types}
    return [(*header, "user_name", "type_name"),
            *((*row, csv_safe(person_label(directory, row[user_column])),
               csv_safe(names.get(row[type_column].removeprefix("'"), row[type_column]))) for row in rest)]


# --- Balances per person -----------------------------------------------------------------------


@dataclass(frozen=True)
class BalanceRow:
    user: str
    name: str
    balances: tuple[Balance, ...]


@dataclass(frozen=True)
class BalanceTable:
    team: str
    year: int
    leave_types: tuple[str, ...]  # names, in display order
    rows: tuple[BalanceRow, ...]
    membership_unknown: bool = False  # some people could not be placed yet (memberships still loading)


def _asked_once(lookup: Callable) -> Callable:
    """`lookup` asked once per member list: placing 1,300 people among 36 teams otherwise reads (and
    unpickles) a list from the cache some 47,000 times for one page."""
    answers: dict = {}

    def asked(source):
        if source not in answers:
            answers[source] = lookup(source)
        return answers[source]

    return asked


def team_people(config: WorkspaceConfig, team: TeamConfig, candidates: Iterable[str], *,
                channel_members: Callable, usergroup_members: Callable) -> tuple[list[str], bool]:
    """(the candidates whose team is `team` now, whether some could not be placed yet)."""
    channel_members, usergroup_members = _asked_once(channel_members), _asked_once(usergroup_members)
    people, unknown = [], False
    for user in dict.fromkeys(candidates):
        try:
            matched = match_team(config, user, channel_members=channel_members,
                                 usergroup_members=usergroup_members).team
        except MembershipUnknown:
            unknown = True
            continue
        if matched is not None and matched.name == team.name:
            people.append(user)
    return people, unknown


def balance_table(*, config: WorkspaceConfig, team: TeamConfig, year: int, ledger: Ledger,
                  directory: Directory | None, channel_members: Callable, usergroup_members: Callable) -> BalanceTable:
    """Each person of `team` (the directory's people and anyone in the ledger) and their balances in `year`."""
    candidates = [*team.members.users, *(p.id for p in (directory.people if directory else ())),
                  *(e.user for e in ledger.entries.values()), *(a.user for a in ledger.adjustments.values())]
    people, unknown = team_people(config, team, candidates, channel_members=channel_members,
                                  usergroup_members=usergroup_members)
    rows = [BalanceRow(user=user, name=person_label(directory, user),
                       balances=tuple(balances_for(config=config, ledger=ledger, user=user, team=team, year=year)))
            for user in people]
    rows.sort(key=lambda row: (row.name.casefold(), row.user))
    return BalanceTable(team=team.name, year=year, leave_types=tuple(t.name for t in config.leave_types),
                        rows=tuple(rows), membership_unknown=unknown)


BALANCES_CSV_HEADER = ("user_id", "name", "team", "year", "leave_type", "leave_type_name", "allowance",
                       "adjustments", "taken", "pending", "left")


def balance_csv_rows(table: BalanceTable, config: WorkspaceConfig) -> list[tuple]:
    """The balances table as a spreadsheet wants it: a header, then one row per person and leave type.
    An empty allowance and left: no yearly limit. Names (a person's, the team's, a type's) may hold what
    anyone typed and go through `csv_safe`; ids and numbers are ours (a negative adjustment stays a number)."""
    rows: list[tuple] = [BALANCES_CSV_HEADER]
    for row in table.rows:
        for balance in row.balances:
            leave_type = config.leave_type(balance.leave_type)
            rows.append((row.user, csv_safe(row.name), csv_safe(table.team), table.year, balance.leave_type,
                         csv_safe(leave_type.name if leave_type else balance.leave_type),
                         "" if balance.allowance is None else format_number(balance.allowance),
                         format_number(balance.adjustments), format_number(balance.taken),
                         format_number(balance.pending),
                         "" if balance.remaining is None else format_number(balance.remaining)))
    return rows


def balance_cell(balance: Balance) -> tuple[str, str]:
    """(headline, details) for one table cell: ("12.5 left", "25 + 2 adjusted, 14.5 taken, 0 pending")."""
    if balance.remaining is None:
        headline = "no limit"
    elif balance.remaining >= 0:
        headline = f"{format_number(balance.remaining)} left"
    else:
        headline = f"{format_number(-balance.remaining)} over"
    parts = [] if balance.allowance is None else [f"allowance {format_number(balance.allowance)}"]
    if balance.adjustments:
        sign = "+" if balance.adjustments > Decimal(0) else "−"
        parts.append(f"{sign}{format_number(abs(balance.adjustments))} adjusted")
    parts += [f"{format_number(balance.taken)} taken", f"{format_number(balance.pending)} pending"]
    return headline, ", ".join(parts)


# --- A company day added over leave -------------------------------------------------------------------


def leave_on_new_company_day(*, config: WorkspaceConfig, ledger: Ledger, day: date, team_name: str | None,
                             directory: Directory | None) -> list[str]:
    """Who has pending or approved leave taking `day`, a company day HR has just added (for `team_name`, or
    every team when None), on a day that was a working day for them before it. Their requests keep the
    days counted when they were sent (the ledger's record): HR may give the day back with an adjustment.
    "Alice Adams (approved)", by name."""
    found = set()
    for entry in ledger.entries.values():
        if not entry.active or not entry.start <= day <= entry.end:
            continue
        team = config.team_recorded_as(entry.team)
        if team is None or (team_name is not None and team.name != team_name):
            continue
        # The team's calendar without this company day: other scopes' days on that date were off already.
        others = [h for h in config.holidays_for(team.name) if not (h.date == day and h.team == team_name)]
        if day.weekday() not in team.workweek or day in team_holidays(team, others, [day.year]):
            continue
        if day == entry.start and entry.start_half == PM and day == entry.end and entry.end_half == AM:
            continue
        found.add(f"{person_label(directory, entry.user)} ({entry.status})")
    return sorted(found)


def leave_in_new_blackout(*, config: WorkspaceConfig, ledger: Ledger, start: date, end: date, team_name: str | None,
                          directory: Directory | None) -> list[str]:
    """Who has pending or approved leave between `start` and `end`, a blackout HR has just added (for
    `team_name`, or every team when None). A blackout refuses new requests only: theirs stand, and HR may
    want to talk to them. "Alice Adams (pending)", by name."""
    found = set()
    for entry in ledger.entries.values():
        if not entry.active or entry.end < start or entry.start > end:
            continue
        team = config.team_recorded_as(entry.team)
        if team is None or (team_name is not None and team.name != team_name):
            continue
        found.add(f"{person_label(directory, entry.user)} ({entry.status})")
    return sorted(found)
