"""The leave rules: day counting, half days, overlap, balances, capacity and blackouts.

The functional core of DESIGN §7: dataclasses and pure functions, no Django
ORM, no Slack, no clock (`today` is always passed in, already converted to
the requester's time zone by the caller). Holidays arrive as a set of dates
or a {date: name} dict (see `approvals.work_calendar.team_holidays`); it must
cover every year the dates in question touch.

Half days: a day is split into a morning ("am") and an afternoon ("pm").
`start_half="pm"` means the first day starts at midday (afternoon only);
`end_half="am"` means the last day ends at midday (morning only). On a
one-day request the same two flags mean "afternoon only" and "morning only",
and setting both is invalid. No other value is valid.
"""

from collections.abc import Container, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Literal

from approvals.config_types import BlackoutConfig, LeaveTypeConfig, TeamConfig
from approvals.work_calendar import is_working_day, nearest_working_day, working_days

Half = Literal["am", "pm"] | None
AM = "am"
PM = "pm"

PENDING = "pending"
APPROVED = "approved"
REJECTED = "rejected"
CANCELLED = "cancelled"
STATUSES = (PENDING, APPROVED, REJECTED, CANCELLED)
ACTIVE_STATUSES = frozenset({PENDING, APPROVED})

# Equal to the request modal's input block ids, so violations map straight
# onto `response_action: errors`.
FIELD_TYPE = "type"
FIELD_START = "start"
FIELD_END = "end"
FIELD_HALF = "half"

HALF_DAY = Decimal("0.5")
_ZERO = Decimal(0)
_WHOLE_DAY = frozenset({AM, PM})


@dataclass(frozen=True)
class LeaveRequest:
    user: str
    leave_type: str
    start: date
    end: date
    start_half: Half = None
    end_half: Half = None


@dataclass(frozen=True)
class LedgerEntry:
    """One request as recorded in the ledger (DESIGN §5). `days` is its total over all years."""

    # Fields are only ever appended, each with a default: never reordered, renamed or removed. The pending
    # set, which both releases share during a rolling deploy, keeps entries as tuples read by position
    # (ledger_reader.PENDING_PREFIX).
    id: str
    user: str
    team: str
    leave_type: str
    start: date
    end: date
    start_half: Half
    end_half: Half
    days: Decimal
    status: str
    decided_by: str | None = None
    decided_at: int | None = None  # Unix seconds
    reason: str | None = None
    recorded_by: str | None = None  # HR who recorded it for the requester, if not themselves
    # Where its message is (not part of the record, so not compared): known once read or posted.
    channel: str | None = field(default=None, compare=False)
    ts: str | None = field(default=None, compare=False)
    # For leave across a year end: its `days` split by year as counted when it was sent, ((2028, 4), (2029, 4)),
    # so a holiday HR adds in one year later charges neither year anew (entry_days_by_year). Empty: not
    # recorded (one year, or written by an earlier release). The split of `days`, so not compared either.
    days_by_year: tuple[tuple[int, Decimal], ...] = field(default=(), compare=False)
    # Keys of its metadata this release does not know, as (key, value) pairs: a newer release added them
    # (a rolling deploy, a rollback). A rewrite carries them on rather than dropping another release's record.
    extra: tuple[tuple[str, object], ...] = field(default=(), compare=False)

    @property
    def active(self) -> bool:
        return self.status in ACTIVE_STATUSES


@dataclass(frozen=True)
class Adjustment:
    """A change to a yearly allowance: opening balance, carry-over, HR correction (may be negative)."""

    id: str
    user: str
    leave_type: str
    days: Decimal
    year: int
    reason: str
    by: str
    # Where its message is (not part of the record, so not compared): known once read or posted.
    channel: str | None = field(default=None, compare=False)
    ts: str | None = field(default=None, compare=False)
    # For leave across a year end: its `days` split by year as counted when it was sent, ((2028, 4), (2029, 4)),
    # so a holiday HR adds in one year later charges neither year anew (entry_days_by_year). Empty: not
    # recorded (one year, or written by an earlier release). The split of `days`, so not compared either.
    days_by_year: tuple[tuple[int, Decimal], ...] = field(default=(), compare=False)


@dataclass(frozen=True)
class RuleViolation:
    field: str  # one of the FIELD_* constants
    message: str


@dataclass(frozen=True)
class Balance:
    leave_type: str
    year: int
    allowance: Decimal | None  # None: no yearly limit
    adjustments: Decimal
    taken: Decimal  # approved days in the year
    pending: Decimal  # pending days in the year
    remaining: Decimal | None  # None: no yearly limit


# --- Formatting -------------------------------------------------------------

_WEEKDAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def format_day(day: date, *, with_year: bool = False) -> str:
    """"Mon 21 Dec" ("Mon 21 Dec 2026" with `with_year`). Not locale-dependent, unlike strftime."""
    text = f"{_WEEKDAY_NAMES[day.weekday()]} {day.day} {_MONTH_NAMES[day.month - 1]}"
    return f"{text} {day.year}" if with_year else text


def format_range(start: date, end: date, start_half: Half = None, end_half: Half = None, *,
                 today: date | None = None) -> str:
    """"Mon 21 Dec – Wed 23 Dec (ends at noon)", "Mon 21 Dec (afternoon)".

    Years are shown when the range crosses a year end, and when it lies outside `today`'s year
    (the reader's, or the day its message was written): a typo for the year ("2062-12-21") must
    not read as this December. Without `today`, only across a year end.
    """
    with_year = start.year != end.year or (today is not None and start.year != today.year)
    if start == end:
        text = format_day(start, with_year=with_year)
        if start_half == PM and end_half != AM:
            return f"{text} (afternoon)"
        if end_half == AM and start_half != PM:
            return f"{text} (morning)"
        return text
    text = f"{format_day(start, with_year=with_year)} – {format_day(end, with_year=with_year)}"
    if start_half == PM and end_half == AM:
        return f"{text} (starts and ends at noon)"
    if start_half == PM:
        return f"{text} (starts at noon)"
    if end_half == AM:
        return f"{text} (ends at noon)"
    return text


def format_number(value: Decimal) -> str:
    """2.5 -> "2.5", 3.0 -> "3", never scientific notation."""
    if value == 0:
        return "0"
    return format(value.normalize(), "f")


def format_days(value: Decimal) -> str:
    """"1 day", "2.5 days", "0 days"."""
    return f"{format_number(value)} {'day' if value == 1 else 'days'}"


# --- Day counting -----------------------------------------------------------


def _coverage(
    start: date,
    end: date,
    start_half: str | None,
    end_half: str | None,
    workweek: Iterable[int],
    holiday_dates: Container[date],
    *,
    within: tuple[date, date] | None = None,
) -> dict[date, frozenset[str]]:
    """Which halves of each working day a request or entry takes, optionally clipped to `within`."""
    first, last = start, end
    if within is not None:
        first, last = max(first, within[0]), min(last, within[1])
    covered = {}
    for day in working_days(first, last, workweek, holiday_dates):
        halves = _WHOLE_DAY
        if day == start and start_half == PM:
            halves = halves & {PM}
        if day == end and end_half == AM:
            halves = halves & {AM}
        if halves:  # a one-day request with both flags takes nothing; validation refuses it
            covered[day] = halves
    return covered


def _days_in(coverage: Mapping[date, frozenset[str]]) -> Decimal:
    return sum((HALF_DAY * len(halves) for halves in coverage.values()), _ZERO)


def request_days(
    request: LeaveRequest | LedgerEntry, workweek: Iterable[int], holiday_dates: Container[date]
) -> Decimal:
    """Working days the request takes, in steps of 0.5. A half on a non-working day subtracts nothing."""
    return _days_in(
        _coverage(request.start, request.end, request.start_half, request.end_half, workweek, holiday_dates)
    )


def halves_that_count(request: LeaveRequest, workweek: Iterable[int], holiday_dates: Container[date]
                      ) -> tuple[Half, Half]:
    """The request's half-day flags, without one on a day that is not a working day: it takes nothing there,
    and kept in the record it would read "(ends at noon)" of a holiday or a Sunday."""
    return (request.start_half if is_working_day(request.start, workweek, holiday_dates) else None,
            request.end_half if is_working_day(request.end, workweek, holiday_dates) else None)


def days_by_year(
    request: LeaveRequest | LedgerEntry, workweek: Iterable[int], holiday_dates: Container[date]
) -> dict[int, Decimal]:
    """The request's working days per calendar year, with a key for every year it touches."""
    result = {year: _ZERO for year in range(request.start.year, request.end.year + 1)}
    coverage = _coverage(request.start, request.end, request.start_half, request.end_half, workweek, holiday_dates)
    for day, halves in coverage.items():
        result[day.year] += HALF_DAY * len(halves)
    return result


def entry_days_by_year(
    entry: LedgerEntry, workweek: Iterable[int], holiday_dates: Container[date], *, through: int | None = None
) -> dict[int, Decimal]:
    """An entry's stored `days` split by year; the values always add up to `entry.days`.

    The stored total is the record (holidays may have been added since it was
    booked): the split recorded with it when there is one; else the calendar
    decides the split: each year but the last gets its calendar share (capped by
    what is left of the total), the last year gets the rest.

    `through`: only the years up to that one are wanted (a year's share depends on the years before it
    alone): the later ones are not counted.
    """
    if entry.start.year >= entry.end.year:
        return {entry.start.year: entry.days}
    recorded = dict(entry.days_by_year)
    if (set(recorded) == set(range(entry.start.year, entry.end.year + 1))
            and sum(recorded.values(), _ZERO) == entry.days):
        return recorded  # as counted when it was sent
    # Year by year, none counted once the total is shared out, and none after `through`: an entry written by
    # hand "until 9999" would otherwise have its millions of days walked each time a balance is worked out.
    left = entry.days
    result = {}
    for year in range(entry.start.year, entry.end.year):
        if through is not None and year > through:
            return result
        share = _ZERO
        if left > 0:
            year_coverage = _coverage(entry.start, entry.end, entry.start_half, entry.end_half, workweek,
                                      holiday_dates, within=(date(year, 1, 1), date(year, 12, 31)))
            share = min(_days_in(year_coverage), left)
        result[year] = share
        left -= share
    result[entry.end.year] = left
    return result


# --- Reading the ledger -------------------------------------------------------


def _sorted_entries(entries: Iterable[LedgerEntry]) -> list[LedgerEntry]:
    """By when they begin and end, a morning before an afternoon of the same day (not by random id)."""
    return sorted(entries, key=lambda e: (e.start, e.start_half == PM, e.end, e.end_half != AM, e.user, e.id))


def entries_overlapping(entries: Iterable[LedgerEntry], start: date, end: date) -> list[LedgerEntry]:
    """Entries of any status whose calendar dates meet [start, end], ordered by start."""
    return _sorted_entries(e for e in entries if e.start <= end and e.end >= start)


def who_is_out(
    entries: Iterable[LedgerEntry], start: date, end: date, *, exclude_user: str | None = None
) -> list[LedgerEntry]:
    """Pending and approved entries meeting [start, end], ordered by start, without `exclude_user`'s."""
    return [e for e in entries_overlapping(entries, start, end) if e.active and e.user != exclude_user]


def balance_for(
    user: str,
    leave_type: LeaveTypeConfig,
    year: int,
    *,
    entries: Iterable[LedgerEntry],
    adjustments: Iterable[Adjustment],
    workweek: Iterable[int],
    holiday_dates: Container[date],
) -> Balance:
    """The user's balance of one leave type in one year (DESIGN §7).

    remaining = annual allowance + the year's adjustments - approved - pending
    days in that year; entries that span the year end count only their days
    in `year`.
    """
    workweek = tuple(workweek)
    taken = pending = _ZERO
    for entry in entries:
        if entry.user != user or entry.leave_type != leave_type.code or not entry.active:
            continue
        if not entry.start.year <= year <= entry.end.year:
            continue
        days = entry_days_by_year(entry, workweek, holiday_dates, through=year).get(year, _ZERO)
        if entry.status == APPROVED:
            taken += days
        else:
            pending += days
    adjusted = sum(
        (a.days for a in adjustments if a.user == user and a.leave_type == leave_type.code and a.year == year),
        _ZERO,
    )
    allowance = leave_type.annual_allowance_days
    if allowance is not None and not isinstance(allowance, Decimal):
        allowance = Decimal(str(allowance))  # tolerate an int or float from hand-built config
    remaining = None if allowance is None else allowance + adjusted - taken - pending
    return Balance(
        leave_type=leave_type.code,
        year=year,
        allowance=allowance,
        adjustments=adjusted,
        taken=taken,
        pending=pending,
        remaining=remaining,
    )


# --- Validation ---------------------------------------------------------------


def _plural(count: int | Decimal, one: str, many: str) -> str:
    return one if count == 1 else many


BOTH_HALVES_ONE_DAY = "Choose the morning or the afternoon for a one-day request, not both"


def _half_violations(request: LeaveRequest, leave_type: LeaveTypeConfig) -> list[RuleViolation]:
    if request.start_half is None and request.end_half is None:
        return []
    if not leave_type.allow_half_days:
        return [RuleViolation(FIELD_HALF, f"{leave_type.name} can't be taken in half days")]
    if request.start_half not in (None, PM):
        return [RuleViolation(FIELD_HALF, "The first day can only be a half day from midday (afternoon only)")]
    if request.end_half not in (None, AM):
        return [RuleViolation(FIELD_HALF, "The last day can only be a half day until midday (morning only)")]
    if request.start == request.end and request.start_half == PM and request.end_half == AM:
        return [RuleViolation(FIELD_HALF, BOTH_HALVES_ONE_DAY)]
    return []


def _no_working_days_message(start: date, end: date, team: TeamConfig, holiday_dates: Container[date],
                             today: date) -> str:
    if start == end:
        name = holiday_dates.get(start) if isinstance(holiday_dates, Mapping) else None
        suffix = f" ({name})" if name else ""
        return f"{format_range(start, start, today=today)} is not a working day for {team.name}{suffix}"
    return f"{format_range(start, end, today=today)} are not working days for {team.name}"


def _blackout_violation(
    coverage: Mapping[date, frozenset[str]], team: TeamConfig, blackouts: Iterable[BlackoutConfig], today: date
) -> RuleViolation | None:
    for blackout in sorted(blackouts, key=lambda b: (b.start, b.end)):
        if blackout.team not in (None, team.name):
            continue
        if any(blackout.start <= day <= blackout.end for day in coverage):
            message = f"{format_range(blackout.start, blackout.end, today=today)} is a blackout for {team.name}"
            if blackout.reason:
                message = f"{message}: {blackout.reason}"
            return RuleViolation(FIELD_START, message)
    return None


def blackout_violation(request: LeaveRequest, *, team: TeamConfig, blackouts: Iterable[BlackoutConfig],
                       holiday_dates: Container[date], today: date) -> RuleViolation | None:
    """The blackout check alone: the form's preview warns of it before the form is sent."""
    coverage = _coverage(request.start, request.end, request.start_half, request.end_half, tuple(team.workweek),
                         holiday_dates)
    return _blackout_violation(coverage, team, blackouts, today)


def _own_overlap_violation(
    request: LeaveRequest,
    coverage: Mapping[date, frozenset[str]],
    ledger: list[LedgerEntry],
    workweek: tuple[int, ...],
    holiday_dates: Container[date],
    today: date,
    whose: str = "your",
) -> RuleViolation | None:
    for entry in _sorted_entries(ledger):
        if entry.user != request.user or not entry.active:
            continue
        if entry.start > request.end or entry.end < request.start:
            continue
        theirs = _coverage(
            entry.start, entry.end, entry.start_half, entry.end_half, workweek, holiday_dates,
            within=(request.start, request.end),
        )
        if any(coverage.get(day, frozenset()) & halves for day, halves in theirs.items()):
            when = format_range(entry.start, entry.end, entry.start_half, entry.end_half, today=today)
            return RuleViolation(FIELD_START, f"This overlaps {whose} {entry.status} leave on {when}")
    return None


def _joined_run_violation(
    request: LeaveRequest,
    coverage: Mapping[date, frozenset[str]],
    leave_type: LeaveTypeConfig,
    ledger: list[LedgerEntry],
    workweek: tuple[int, ...],
    holiday_dates: Container[date],
    today: date,
    whose: str = "your",
) -> RuleViolation | None:
    """`max_consecutive_days` over the whole absence: a request that touches the requester's own pending or
    approved leave of the same type, with no working time between (a weekend or holiday does not break
    it), counts as one run with it; otherwise two back-to-back requests would step round the limit."""
    limit = leave_type.max_consecutive_days
    own: dict[date, frozenset[str]] = {}
    for entry in ledger:
        if entry.user == request.user and entry.active and entry.leave_type == request.leave_type:
            for day, halves in _coverage(entry.start, entry.end, entry.start_half, entry.end_half,
                                         workweek, holiday_dates).items():
                own[day] = own.get(day, frozenset()) | halves
    if limit is None or not own or not coverage:
        return None
    run = dict(coverage)
    joined = False
    # Walk outwards from each end while the absence goes on: away in the afternoon of one working day and
    # the morning of the next.
    for step, leaving, arriving in ((-1, AM, PM), (1, PM, AM)):
        day = min(coverage) if step < 0 else max(coverage)
        while leaving in run.get(day, frozenset()):
            neighbour = nearest_working_day(day, step, workweek, holiday_dates)
            if neighbour is None or arriving not in own.get(neighbour, frozenset()):
                break
            run[neighbour] = own[neighbour]
            joined = True
            day = neighbour
    if not joined or _days_in(run) <= limit:
        return None
    first, last = min(run), max(run)
    return RuleViolation(
        FIELD_END,
        f"{leave_type.name} can be at most {limit} working {_plural(limit, 'day', 'days')} in a row; next to "
        f"{whose} other {leave_type.name} this makes {format_number(_days_in(run))}, "
        f"{format_range(first, last, today=today)}",
    )


def _allowance_violations(
    request: LeaveRequest,
    leave_type: LeaveTypeConfig,
    ledger: list[LedgerEntry],
    adjustments: list[Adjustment],
    workweek: tuple[int, ...],
    holiday_dates: Container[date],
    holder: str = "You have",
) -> list[RuleViolation]:
    """`holder`: whose allowance it is, to its reader ("You have"; an approver reads "They have")."""
    if leave_type.annual_allowance_days is None:
        return []
    violations: list[str] = []
    for year, needed in days_by_year(request, workweek, holiday_dates).items():
        if needed <= 0:
            continue
        balance = balance_for(
            request.user, leave_type, year,
            entries=ledger, adjustments=adjustments, workweek=workweek, holiday_dates=holiday_dates,
        )
        if balance.remaining is None or needed <= balance.remaining:
            continue
        if balance.remaining > 0:
            have = f"{format_days(balance.remaining)} of {leave_type.name}"
        else:
            have = f"no {leave_type.name}"
        violations.append(f"{holder} {have} left in {year}; this request needs {format_number(needed)}")
    # One message for every year short (the modal shows one per field): told only of December, the person
    # would shorten it and be refused again for January.
    return [RuleViolation(FIELD_END, ". ".join(violations))] if violations else []


def _capacity_violation(
    request: LeaveRequest,
    coverage: Mapping[date, frozenset[str]],
    team: TeamConfig,
    ledger: list[LedgerEntry],
    team_members: set[str] | None,
    holiday_dates: Container[date],
    today: date | None,
) -> RuleViolation | None:
    if team.max_out is None:
        return None
    out: dict[tuple[date, str], set[str]] = {}
    for entry in ledger:
        if entry.user == request.user or not entry.active:
            continue
        if (entry.user not in team_members) if team_members is not None else (entry.team != team.name):
            continue
        if entry.start > request.end or entry.end < request.start:
            continue
        theirs = _coverage(
            entry.start, entry.end, entry.start_half, entry.end_half, team.workweek, holiday_dates,
            within=(request.start, request.end),
        )
        for day, halves in theirs.items():
            for half in halves:
                out.setdefault((day, half), set()).add(entry.user)
    for day in sorted(coverage):
        full = [half for half in (AM, PM) if half in coverage[day] and len(out.get((day, half), ())) + 1 > team.max_out]
        if not full:
            continue
        others = max(len(out.get((day, half), ())) for half in full)
        when = format_range(day, day, today=today)
        if full == [AM]:
            when += " (morning)"
        elif full == [PM]:
            when += " (afternoon)"
        people = f"{others} {_plural(others, 'person is', 'people are')}"
        return RuleViolation(
            FIELD_START,
            f"{when} is full for {team.name}: {people} already out, "
            f"and at most {team.max_out} can be out at once",
        )
    return None


YEARS_AHEAD = 5
# HR records leave for someone as far back as it corrects a balance (approvals.adjustments.YEARS_BACK):
# older is a typo for the year (a date input reads "26" typed for the year as 0026), and the ledger's
# retention rarely reaches further.
YEARS_BACK = 5
# One request covers at most a year (longer leave is sent as several): nothing is planned as one longer
# run, and its calendar (holidays of every year it spans) would be costly to compute.
MAX_REQUEST_DAYS = 366
_ONE_DAY = timedelta(days=1)


def latest_start(today: date) -> date:
    """The last day time off may start: the end of the year YEARS_AHEAD years from now. Further ahead is
    a typo for the year ("2062" for "2026", "9999"), not a plan, and would charge a year nobody has an
    allowance for. (Not next year's end: a sabbatical or parental leave is planned further ahead.)"""
    return date(min(today.year + YEARS_AHEAD, date.max.year), 12, 31)


def earliest_recorded_start(today: date) -> date:
    """The first day leave HR records for someone may start: the start of the year YEARS_BACK years ago."""
    return date(max(today.year - YEARS_BACK, date.min.year), 1, 1)


def too_long(request: LeaveRequest) -> bool:
    return (request.end - request.start).days > MAX_REQUEST_DAYS


def _requester_days(today: date, zone_known: bool) -> tuple[date, date]:
    """The requester's date at its earliest and at its latest. While their time zone is not known, `today`
    is UTC's, and theirs may be the day before or after (UTC−12 to UTC+14)."""
    if zone_known:
        return today, today
    return (today - _ONE_DAY if today > date.min else today), (today + _ONE_DAY if today < date.max else today)


def too_far(request: LeaveRequest, *, today: date, zone_known: bool = True, recorded: bool = False) -> bool:
    """Whether it starts further ahead or (recorded by HR) further back than leave may: dates so wrong that
    nothing more is worth saying about them."""
    earliest, latest = _requester_days(today, zone_known)
    return request.start > latest_start(latest) or (recorded and request.start < earliest_recorded_start(earliest))


def basic_violations(request: LeaveRequest, *, leave_type: LeaveTypeConfig, today: date, zone_known: bool = True,
                     recorded: bool = False, kept_start: date | None = None) -> list[RuleViolation]:
    """The rules that need neither the team's calendar nor the ledger: the order of the dates,
    past dates, how far ahead (`latest_start`) and half days.

    `today` is the requester's local date. With `zone_known=False` it is UTC's, as long as their time
    zone is not known yet: theirs may be a day either side, so past dates count from the day before
    and how far ahead from the day after; neither refuses what the requester's own day allows (the task
    checks again in their zone). `recorded`: HR records it for someone, so it may lie in the past (a
    sick day reported late), as far back as `earliest_recorded_start`. `kept_start`: the first day of the
    pending request being edited, accepted when it was sent: an edit that keeps it (shortening leave
    under way while its approvers have not decided) is not refused for starting in the past.
    """
    earliest_today, latest_today = _requester_days(today, zone_known)
    violations: list[RuleViolation] = []

    if request.end < request.start:
        with_year = request.start.year != request.end.year or request.start.year != today.year
        violations.append(
            RuleViolation(
                FIELD_END,
                f"The end ({format_day(request.end, with_year=with_year)}) is before "
                f"the start ({format_day(request.start, with_year=with_year)})",
            )
        )

    if recorded:
        if request.start < earliest_recorded_start(earliest_today):
            violations.append(RuleViolation(
                FIELD_START, f"It starts in {request.start.year}: leave can be recorded at most {YEARS_BACK} years "
                             f"back (from the start of {earliest_recorded_start(earliest_today).year})"))
    elif request.start == kept_start:
        pass
    elif (request.start - earliest_today).days < -leave_type.allow_past_days:  # no date before date.min to count
        if leave_type.allow_past_days <= 0:
            message = f"{leave_type.name} can't start in the past"
        else:
            days = leave_type.allow_past_days
            message = f"{leave_type.name} can start at most {days} {_plural(days, 'day', 'days')} in the past"
        violations.append(RuleViolation(FIELD_START, message))

    if request.start > latest_start(latest_today):
        violations.append(RuleViolation(
            FIELD_START, f"It starts in {request.start.year}: time off can be requested at most {YEARS_AHEAD} "
                         f"years ahead (until the end of {latest_start(latest_today).year})"))
    if too_long(request):
        violations.append(RuleViolation(FIELD_END, "One request can cover at most a year; send longer leave as "
                                                   "several requests"))

    violations.extend(_half_violations(request, leave_type))
    return violations


def validate_request(
    request: LeaveRequest,
    *,
    leave_type: LeaveTypeConfig,
    team: TeamConfig,
    holiday_dates: set[date] | dict[date, str],
    blackouts: Iterable[BlackoutConfig],
    today: date,
    ledger: Iterable[LedgerEntry] | None = None,
    adjustments: Iterable[Adjustment] = (),
    team_members: set[str] | None = None,
    zone_known: bool = True,
    recorded: bool = False,
    kept_start: date | None = None,
    whose: str = "your",
    others_counted: bool = True,
) -> list[RuleViolation]:
    """Every reason to refuse `request`, in modal order; empty when it may be submitted.

    `others_counted=False`: without the allowance and capacity checks (`preview_violations`).

    `whose`: the requester as the reader of the messages sees them: "your", or "their" when HR records
    leave for someone ("This overlaps their approved leave", "They have 2 days of Vacation left").

    `today` is the requester's local date (`zone_known` and `recorded`: see `basic_violations`). The
    checks against other leave (own overlap, allowance, capacity) run only when `ledger` is given; it
    must hold the latest version of each entry and not the request itself
    (leave out the entry being edited or re-validated). Overlap is judged on
    working days, half by half: a morning and an afternoon of the same day do
    not overlap, nor do two requests that share only a weekend. Capacity counts other
    people's pending and approved entries recorded for `team`; when
    `team_members` is given it counts the entries of those users instead,
    whichever team they were recorded under, so people who moved teams count
    where they are now.
    """
    workweek = tuple(team.workweek)
    violations = basic_violations(request, leave_type=leave_type, today=today, zone_known=zone_known,
                                  recorded=recorded, kept_start=kept_start)

    if (request.end < request.start or too_long(request)
            or too_far(request, today=today, zone_known=zone_known, recorded=recorded)):
        return violations  # nothing more worth saying about dates that are wrong

    if not working_days(request.start, request.end, workweek, holiday_dates):
        violations.append(
            RuleViolation(FIELD_END, _no_working_days_message(request.start, request.end, team, holiday_dates, today))
        )
        return violations

    coverage = _coverage(request.start, request.end, request.start_half, request.end_half, workweek, holiday_dates)
    days = _days_in(coverage)

    limit = leave_type.max_consecutive_days
    if limit is not None and days > limit:
        violations.append(
            RuleViolation(
                FIELD_END,
                f"{leave_type.name} can be at most {limit} working {_plural(limit, 'day', 'days')} in a row; "
                f"this request is {format_number(days)}",
            )
        )

    blackout = _blackout_violation(coverage, team, blackouts, today)
    if blackout:
        violations.append(blackout)

    if ledger is None:
        return violations
    ledger = list(ledger)

    overlap = _own_overlap_violation(request, coverage, ledger, workweek, holiday_dates, today, whose)
    if overlap:
        violations.append(overlap)
    elif limit is not None and days <= limit:
        joined = _joined_run_violation(request, coverage, leave_type, ledger, workweek, holiday_dates, today, whose)
        if joined:
            violations.append(joined)

    if not others_counted:
        return violations
    violations.extend(_allowance_violations(request, leave_type, ledger, list(adjustments), workweek, holiday_dates,
                                            holder="You have" if whose == "your" else "They have"))

    capacity = _capacity_violation(request, coverage, team, ledger, team_members, holiday_dates, today)
    if capacity:
        violations.append(capacity)

    return violations


def preview_violations(
    request: LeaveRequest,
    *,
    leave_type: LeaveTypeConfig,
    team: TeamConfig,
    holiday_dates: set[date] | dict[date, str],
    blackouts: Iterable[BlackoutConfig],
    today: date,
    ledger: Iterable[LedgerEntry] | None = None,
    zone_known: bool = True,
    recorded: bool = False,
    kept_start: date | None = None,
    whose: str = "your",
) -> list[RuleViolation]:
    """What the form's live preview warns of before the form is sent: the refusals of `validate_request`
    (a past start, too far ahead, the longest run, a blackout, overlap with the person's own leave),
    except two the preview says otherwise or cannot judge: the allowance (its balance line says how far
    over it goes) and capacity (it reads only some of the team's leave in flight)."""
    return validate_request(request, leave_type=leave_type, team=team, holiday_dates=holiday_dates,
                            blackouts=blackouts, today=today, ledger=ledger, zone_known=zone_known,
                            recorded=recorded, kept_start=kept_start, whose=whose, others_counted=False)


def errors_by_field(violations: Iterable[RuleViolation]) -> dict[str, str]:
    """The first message per field: the shape of a modal's `response_action: errors`."""
    errors: dict[str, str] = {}
    for violation in violations:
        errors.setdefault(violation.field, violation.message)
    return errors


def approval_violations(
    request: LeaveRequest,
    *,
    leave_type: LeaveTypeConfig,
    team: TeamConfig,
    blackouts: Iterable[BlackoutConfig],
    holiday_dates: Container[date],
    ledger: Iterable[LedgerEntry],
    adjustments: Iterable[Adjustment],
    today: date,
    holder: str,
) -> list[RuleViolation]:
    """The rules HR may have changed while a request waited, checked again when it is approved: half days
    turned off, the longest request shortened, a blackout added over it, an allowance lowered under it.
    `ledger`: the person's entries without this request; `holder`: the person, as the approver reads them
    ("They have")."""
    workweek = tuple(team.workweek)
    coverage = _coverage(request.start, request.end, request.start_half, request.end_half, workweek, holiday_dates)
    violations = [v for v in _half_violations(request, leave_type) if leave_type.allow_half_days is False]
    limit = leave_type.max_consecutive_days
    days = _days_in(coverage)
    if limit is not None and days > limit:
        violations.append(RuleViolation(
            FIELD_END, f"{leave_type.name} can now be at most {limit} working {_plural(limit, 'day', 'days')} in a "
                       f"row; this request is {format_number(days)}"))
    elif joined := _joined_run_violation(request, coverage, leave_type, list(ledger), workweek, holiday_dates, today,
                                         whose="their"):
        violations.append(joined)
    violations += [v for v in [_blackout_violation(coverage, team, blackouts, today)] if v]
    violations += _allowance_violations(request, leave_type, list(ledger), list(adjustments), workweek, holiday_dates,
                                        holder=holder)
    return violations


def capacity_violation(
    request: LeaveRequest,
    *,
    team: TeamConfig,
    ledger: Iterable[LedgerEntry],
    holiday_dates: Container[date],
    team_members: set[str] | None = None,
    today: date | None = None,
) -> RuleViolation | None:
    """The capacity check alone: re-run when a request is approved (DESIGN §5, in-flight requests).
    `today`: the day the refusal is read, so a full day in another year names its year."""
    coverage = _coverage(request.start, request.end, request.start_half, request.end_half, tuple(team.workweek),
                         holiday_dates)
    return _capacity_violation(request, coverage, team, list(ledger), team_members, holiday_dates, today)
