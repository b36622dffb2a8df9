"""A ledger in the fake Slack, as the app would have left it after two years of use.

`seed_ledger` posts ledger messages (metadata from `approvals.ledger_format`,
the bot as author, increasing timestamps in the past) into one channel,
interleaved with what else lives in an approvals channel: people chatting, bot
messages without metadata, another app's events, a ledger event of a future
version, and decision replies in threads (which history does not return).

`realistic_ledger` generates a deterministic ledger of realistic size (400
requests over 20 people, three leave types, every status, about two years,
balance adjustments), split between a team's current and past approvals
channels at a cut-over date; `seed_realistic_ledger` puts it in a workspace.
With the noise, each channel holds a few hundred top-level messages, so a
reader paging by 200 needs several pages per channel.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Container, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

from approvals.adjustments import adjustment_text
from approvals.config_types import WorkspaceConfig
from approvals.ledger_format import REQUEST_EVENT_TYPE, adjustment_metadata, request_metadata
from approvals.rules import (
    APPROVED,
    CANCELLED,
    PENDING,
    REJECTED,
    Adjustment,
    LedgerEntry,
    LeaveRequest,
    entry_days_by_year,
    format_days,
    format_range,
    request_days,
)
from approvals.work_calendar import team_holidays, working_days
from fake_slack.personas import ALICE, BOB, C_ENG_APPROVALS, C_OLD_APPROVALS, DAVE, HR
from fake_slack.workspace import Message, Workspace
from test_support.flows import ENGINEERING as STANDARD_ENGINEERING
from test_support.flows import MEDICAL, SICK, VACATION, standard_config  # noqa: F401 (re-exported)

MONDAY_TO_FRIDAY = (0, 1, 2, 3, 4)

# Ordinary traffic in an approvals channel, cycled through in this order.
_CHAT = (
    (BOB, "Heads-up: I'm off Friday afternoon, Dave covers approvals."),
    (DAVE, "Thanks Bob!"),
    (HR, "Reminder: carry-over above 5 days expires at the end of March."),
    (BOB, "Could the people still out next week update their calendars?"),
    (DAVE, ":+1:"),
)
OTHER_APP_USER = "U_DEPLOYBOT"


# --- Posting ----------------------------------------------------------------------------


def seed_ledger(
    workspace: Workspace,
    *,
    channel: str,
    entries: Iterable[LedgerEntry],
    adjustments: Iterable[Adjustment] = (),
    noise_every: int = 3,
    posted_at: Mapping[str, float] | None = None,
    thread_replies: bool = True,
) -> dict[str, str]:
    """Post ledger messages to `channel`; returns {entry or adjustment id: message ts}.

    Messages are posted in the order given (entries, then adjustments) unless
    `posted_at` gives a Unix time per id, in which case they are posted in that
    order, at about those times. Timestamps always increase and stay in the
    past. After every `noise_every` ledger messages comes one message that is
    not a ledger entry (0: none). Decided requests get the decision reply in
    their thread, as the app posts it.
    """
    records: list[tuple[str, dict, str, LedgerEntry | None]] = [
        (entry.id, request_metadata(entry), _request_text(entry), entry) for entry in entries
    ] + [(a.id, adjustment_metadata(a), adjustment_text(a, None), None) for a in adjustments]
    if posted_at is not None:
        records.sort(key=lambda record: posted_at[record[0]])
    times = _timestamps([posted_at.get(r[0]) if posted_at else None for r in records])
    seeded: dict[str, str] = {}
    for index, ((record_id, metadata, text, entry), at) in enumerate(zip(records, times, strict=True)):
        message = workspace.post_message(channel, text, metadata=metadata, ts=f"{at:.6f}")
        seeded[record_id] = message.ts
        if thread_replies and entry is not None and entry.status != PENDING and entry.decided_by:
            workspace.post_message(channel, _reply_text(entry), user=None, thread_ts=message.ts,
                                   ts=f"{at + 0.25:.6f}")
        if noise_every and (index + 1) % noise_every == 0:
            _post_noise(workspace, channel, (index + 1) // noise_every, at + 0.5)
    return seeded


def _timestamps(wanted: Sequence[float | None]) -> list[float]:
    """Strictly increasing whole seconds (at least 1 s apart), all at least an hour in the past.

    Evenly spread over the last two years where no time is wanted.
    """
    count = len(wanted)
    now = int(time.time())
    ceiling_base = now - 3600 - count
    span = 730 * 24 * 3600
    result: list[float] = []
    previous = 0
    for index, at in enumerate(wanted):
        default = ceiling_base - span + (span * index) // max(count, 1)
        value = int(at) if at is not None else default
        value = min(value, ceiling_base + index)  # the ceiling grows by 1 s per message: room is left
        value = max(value, previous + 1)
        result.append(float(value))
        previous = value
    return result


def _request_text(entry: LedgerEntry) -> str:
    dates = format_range(entry.start, entry.end, entry.start_half, entry.end_half)
    return f"<@{entry.user}> requests {entry.leave_type}, {dates} ({format_days(entry.days)}) — {entry.status}"


def _reply_text(entry: LedgerEntry) -> str:
    verb = {APPROVED: "Approved", REJECTED: "Rejected", CANCELLED: "Cancelled"}[entry.status]
    return f"{verb} by <@{entry.decided_by}>" + (f": {entry.reason}" if entry.reason else "")


def _post_noise(workspace: Workspace, channel: str, number: int, at: float) -> Message:
    """One non-ledger message; which kind cycles with `number`."""
    ts = f"{at:.6f}"
    kind = number % 4
    if kind == 0:  # another app's event in the same channel
        return workspace.post_message(channel, "Deployed api v2.14", user=OTHER_APP_USER, ts=ts, metadata={
            "event_type": "deploy_finished", "event_payload": {"service": "api", "version": "2.14"}})
    if kind == 1:  # a ledger event from a future version of the app: not v1, so not read
        return workspace.post_message(channel, "A request recorded by a newer build", ts=ts, metadata={
            "event_type": REQUEST_EVENT_TYPE, "event_payload": {"v": 2, "id": f"future-{number}"}})
    if kind == 2:  # the bot, without metadata (a reminder, a digest)
        return workspace.post_message(channel, "Reminder: 2 requests are waiting for a decision.", ts=ts)
    user, text = _CHAT[number % len(_CHAT)]
    return workspace.post_message(channel, text, user=user, ts=ts)


# --- A realistic ledger -----------------------------------------------------------------


@dataclass(frozen=True)
class _TypeProfile:
    code: str
    weight: int
    lengths: tuple[int, ...]  # working days, picked uniformly
    half_days: bool
    needs_approval: bool


# The configuration the realistic ledger belongs to: the standard test configuration
# (slackbot/tests/flow_helpers.py), with Engineering's old approvals channel in its history.
ENGINEERING = replace(STANDARD_ENGINEERING, past_approvals_channels=(C_OLD_APPROVALS,))


def ledger_config(**changes) -> WorkspaceConfig:
    return standard_config(**{"teams": (ENGINEERING,), **changes})


def engineering_holidays(today: date) -> dict[date, str]:
    """Engineering's holidays over every year the realistic ledger touches."""
    return team_holidays(ENGINEERING, (), range(today.year - 2, today.year + 2))


TYPE_PROFILES = (
    _TypeProfile("vacation", 50, (1, 1, 2, 3, 3, 4, 5, 5, 5, 8, 10), half_days=True, needs_approval=True),
    _TypeProfile("sick", 35, (1, 1, 1, 2, 3), half_days=True, needs_approval=False),
    _TypeProfile("medical", 15, (1,), half_days=False, needs_approval=True),
)
VACATION_ALLOWANCE = 25

DEFAULT_USERS = (ALICE, BOB, DAVE, *(f"U_EMP{number:02d}" for number in range(1, 18)))


@dataclass(frozen=True)
class RealisticLedger:
    today: date
    team: str
    users: tuple[str, ...]
    entries: tuple[LedgerEntry, ...]
    adjustments: tuple[Adjustment, ...]
    channel_of: dict[str, str]  # entry or adjustment id -> the approvals channel it is in
    posted_at: dict[str, float]  # id -> Unix time it was posted
    current_channel: str
    past_channel: str
    cutover: date  # posted before this day: in the past channel
    ts_of: dict[str, str] = field(default_factory=dict)  # filled by seed_realistic_ledger

    def in_channel(self, channel: str) -> tuple[list[LedgerEntry], list[Adjustment]]:
        return ([e for e in self.entries if self.channel_of[e.id] == channel],
                [a for a in self.adjustments if self.channel_of[a.id] == channel])

    def entries_of(self, user: str) -> list[LedgerEntry]:
        return [e for e in self.entries if e.user == user]

    def adjustments_of(self, user: str) -> list[Adjustment]:
        return [a for a in self.adjustments if a.user == user]


def realistic_ledger(
    *,
    today: date,
    count: int = 400,
    users: Sequence[str] = DEFAULT_USERS,
    team: str = "Engineering",
    holiday_dates: Container[date] = frozenset(),
    workweek: tuple[int, ...] = MONDAY_TO_FRIDAY,
    current_channel: str = C_ENG_APPROVALS,
    past_channel: str = C_OLD_APPROVALS,
    cutover: date | None = None,
    seed: int = 2026,
) -> RealisticLedger:
    """`count` requests over `users`, starting from about two years ago to three months ahead, plus adjustments.

    Stored `days` are counted with `workweek` and `holiday_dates` (pass the
    team's calendar from two years ago to next year). What the app's
    validation would refuse is never generated as pending or approved: active
    requests of one person never overlap, and active vacation stays within the
    allowance plus adjustments. Every fourth person has approved vacation
    across last year's end, every third a pending request for the next working
    days. Requests posted before `cutover` (default: 330 days ago, which splits
    the ledger about in half) are in the past channel.
    """
    rng = random.Random(seed)
    cutover = cutover or today - timedelta(days=330)
    first_day, last_day = today - timedelta(days=700), today + timedelta(days=90)
    builder = _Builder(rng, today, team, workweek, holiday_dates)

    adjustments: list[tuple[Adjustment, date]] = []
    for index, user in enumerate(users):
        carry = rng.choice((0, 0, 0.5, 1, 2, 3, 5))
        if carry:
            adjustments.append((builder.adjustment(user, "vacation", carry, today.year,
                                                   f"carry-over from {today.year - 1}"), date(today.year, 1, 6)))
        if index % 7 == 3:  # joined in May last year: pro-rated
            adjustments.append((builder.adjustment(user, "vacation", -10, today.year - 1, "joined in May, pro-rated"),
                                date(today.year - 1, 5, 2)))
        if index % 5 == 0:
            when = min(today, cutover + timedelta(days=10 + index))
            days = rng.choice((1, -0.5, 1.5))
            adjustments.append((builder.adjustment(user, "vacation", days, today.year, "HR correction"), when))
    if len(users) > 2:
        adjustments.append((builder.adjustment(users[2], "medical", 2, today.year, "doctor's note"),
                            min(today, cutover + timedelta(days=3))))
    for adjustment, _ in adjustments:
        builder.allowance[(adjustment.user, adjustment.year)] += (
            float(adjustment.days) if adjustment.leave_type == "vacation" else 0)

    # Christmas to New Year for every fourth person, approved.
    for user in users[::4]:
        start = builder.next_working_day(date(today.year - 1, 12, 22))
        end = builder.next_working_day(date(today.year, 1, 2))
        builder.add(user, "vacation", start, end, None, None, status=APPROVED)
    # Every third person has just asked for a couple of days soon; nobody has decided yet.
    for user in users[::3]:
        start = builder.next_working_day(today + timedelta(days=1))
        for _ in range(30):  # the first days free of their other leave (Christmas, in early January)
            if builder.add(user, "vacation", start, builder.after_working_days(start, 2), None, None, status=PENDING):
                break
            start = builder.next_working_day(start + timedelta(days=1))

    attempts = 0
    while len(builder.entries) < count and attempts < count * 50:
        attempts += 1
        profile = rng.choices(TYPE_PROFILES, weights=[p.weight for p in TYPE_PROFILES])[0]
        user = rng.choice(users)
        start = builder.next_working_day(first_day + timedelta(days=rng.randrange((last_day - first_day).days)))
        length = rng.choice(profile.lengths)
        end = builder.after_working_days(start, length)
        start_half = end_half = None
        if profile.half_days and rng.random() < 0.2:
            if start == end and rng.random() < 0.5:
                start_half = "pm"
            else:
                end_half = "am"
        builder.add(user, profile.code, start, end, start_half, end_half, status=builder.status(profile, start))

    entries = builder.entries
    posted: dict[str, float] = {}
    channel_of: dict[str, str] = {}
    for entry in entries:
        # Booked one to six weeks ahead (sick leave on the day), never in the future.
        ahead = 0 if entry.leave_type == "sick" else rng.randrange(7, 42)
        day = min(entry.start - timedelta(days=ahead), today - timedelta(days=1))
        posted[entry.id] = _unix(day, rng)
        channel_of[entry.id] = past_channel if day < cutover else current_channel
    for adjustment, day in adjustments:
        day = min(day, today - timedelta(days=1))
        posted[adjustment.id] = _unix(day, rng)
        channel_of[adjustment.id] = past_channel if day < cutover else current_channel
    return RealisticLedger(
        today=today, team=team, users=tuple(users), entries=tuple(entries),
        adjustments=tuple(a for a, _ in adjustments), channel_of=channel_of, posted_at=posted,
        current_channel=current_channel, past_channel=past_channel, cutover=cutover,
    )


def seed_realistic_ledger(
    workspace: Workspace, ledger: RealisticLedger, *, noise_every: int = 3, members_channel: str | None = None
) -> RealisticLedger:
    """Post `ledger` into its two channels; add its people to the workspace (and `members_channel`)."""
    for user in ledger.users:
        if user not in workspace.users:
            workspace.add_user(user, user.lower().removeprefix("u_"), tz="America/Los_Angeles")
    if members_channel:
        with workspace.lock:
            workspace.channels[members_channel].members.update(ledger.users)
    for channel in (ledger.past_channel, ledger.current_channel):
        entries, adjustments = ledger.in_channel(channel)
        ledger.ts_of.update(seed_ledger(workspace, channel=channel, entries=entries, adjustments=adjustments,
                                        noise_every=noise_every, posted_at=ledger.posted_at))
    return ledger


def _unix(day: date, rng: random.Random) -> float:
    """A time during office hours on `day` (UTC)."""
    moment = datetime(day.year, day.month, day.day, 9, tzinfo=timezone.utc) + timedelta(seconds=rng.randrange(8 * 3600))
    return moment.timestamp()


class _Builder:
    """Generates entries the app's validation would have let through."""

    def __init__(self, rng: random.Random, today: date, team: str, workweek, holiday_dates):
        self.rng, self.today, self.team = rng, today, team
        self.workweek, self.holiday_dates = tuple(workweek), holiday_dates
        self.entries: list[LedgerEntry] = []
        self.busy: dict[str, set[tuple[date, str]]] = {}  # user -> (day, half) taken by active entries
        self.vacation_used: dict[tuple[str, int], float] = {}
        self.allowance: dict[tuple[str, int], float] = _DefaultAllowance()

    def uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def adjustment(self, user: str, leave_type: str, days: float, year: int, reason: str) -> Adjustment:
        return Adjustment(id=self.uuid(), user=user, leave_type=leave_type, days=Decimal(str(days)), year=year,
                          reason=reason, by=HR)

    def next_working_day(self, day: date) -> date:
        while day.weekday() not in self.workweek or day in self.holiday_dates:
            day += timedelta(days=1)
        return day

    def after_working_days(self, start: date, length: int) -> date:
        """The last day of `length` working days from `start` (a working day)."""
        end = start
        for _ in range(length - 1):
            end = self.next_working_day(end + timedelta(days=1))
        return end

    def status(self, profile: _TypeProfile, start: date) -> str:
        roll = self.rng.random()
        if not profile.needs_approval:
            return CANCELLED if roll < 0.08 else APPROVED
        if start > self.today:
            return PENDING if roll < 0.5 else APPROVED if roll < 0.9 else CANCELLED
        return APPROVED if roll < 0.75 else REJECTED if roll < 0.87 else CANCELLED

    def add(self, user, leave_type, start, end, start_half, end_half, *, status) -> LedgerEntry | None:
        request = LeaveRequest(user, leave_type, start, end, start_half, end_half)
        days = request_days(request, self.workweek, self.holiday_dates)
        if days == 0:
            return None
        halves = self._halves(start, end, start_half, end_half)
        active = status in (PENDING, APPROVED)
        if active and halves & self.busy.get(user, set()):
            return None
        entry = LedgerEntry(
            id=self.uuid(), user=user, team=self.team, leave_type=leave_type, start=start, end=end,
            start_half=start_half, end_half=end_half, days=days, status=status,
            decided_by=None if status == PENDING else (HR if user == BOB else BOB),
            decided_at=None,
            reason="Release week: please pick other dates" if status == REJECTED else None,
        )
        if active and leave_type == "vacation":
            split = entry_days_by_year(entry, self.workweek, self.holiday_dates)
            if any(self.vacation_used.get((user, y), 0) + float(d) > self.allowance[(user, y)]
                   for y, d in split.items()):
                return None
            for year, year_days in split.items():
                self.vacation_used[(user, year)] = self.vacation_used.get((user, year), 0) + float(year_days)
        if status != PENDING:
            decided = datetime(start.year, start.month, start.day, 12, tzinfo=timezone.utc) - timedelta(days=3)
            entry = replace(entry, decided_at=int(min(decided.timestamp(), time.time() - 7200)))
        if active:
            self.busy.setdefault(user, set()).update(halves)
        self.entries.append(entry)
        return entry

    def _halves(self, start, end, start_half, end_half) -> set[tuple[date, str]]:
        taken = set()
        for day in working_days(start, end, self.workweek, self.holiday_dates):
            for half in ("am", "pm"):
                if day == start and start_half == "pm" and half == "am":
                    continue
                if day == end and end_half == "am" and half == "pm":
                    continue
                taken.add((day, half))
        return taken


class _DefaultAllowance(dict):
    def __missing__(self, key):
        return VACATION_ALLOWANCE
