"""Reading the ledger back from Slack, caching it, and merging in-flight requests.

The ledger is every `timeoff_request` and `timeoff_adjustment` message in every
approvals channel any team uses or has used (DESIGN §5). It is read with
`conversations.history(include_all_metadata=true)`, kept in the shared cache,
and updated in place after our own writes, so the request path reads it
without calling Slack.

Slack's rate limits are part of the design (DESIGN §8). `conversations.history`
is Tier 3: about 50 calls a minute for the whole app, shared by these reads,
the decision's re-read (`ledger.read_request_at`) and the delivery check
(`ledger.find_recent_request`). So reads of the whole ledger are

- incremental: a refresh asks each channel only for messages newer than the
  newest it has seen (`oldest=`), at most every `INCREMENTAL_EVERY_SECONDS`;
  our own writes already update the cache in place. The whole ledger is read
  again (a *full read*: reconciliation, which also notices deleted messages)
  only when the cache is cold, when a channel left the configuration, and when
  the last full read is a day old;
- single-flight: one process reads at a time (`REFRESH_LOCK` in the shared
  cache). A background refresh that finds another under way returns at once
  and the cached ledger serves; a reader that needs a cold ledger waits for the
  other's read, then uses the cache;
- budgeted: these reads make at most `HISTORY_CALLS_PER_MINUTE` calls in any
  minute, counted in the shared cache for all processes, so they never take
  the calls a decision or a delivery needs. A refresh that
  finds the minute's budget spent stops (and goes on next time); a full read
  waits for the next minute.

Only messages our own bot posted are ledger entries; when our bot's user id is
unknown the ledger is unavailable, never open (`ledger.ledger_author`).

A permanent refusal (the bot is not in the channel, the channel is gone, a
scope is missing) raises `LedgerUnavailable`, told to people. A passing fault
(rate-limited after the client's retries, 5xx, a timeout) is raised as it is,
so the task retries; nothing partial is cached.

Requests submitted but not yet posted live in a short-lived *pending set* in
the same cache; every read merges them, so two overlapping submissions cannot
both pass.
"""

import logging
import math
import time
import uuid
from dataclasses import dataclass, field, replace
from decimal import Decimal

from django.core.cache import cache
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from approvals.cache_lock import acquire, locked, release, renew
from approvals.config_types import WorkspaceConfig
from approvals.ledger import LedgerUnavailable, ledger_author
from approvals.ledger_format import adjustment_from_metadata, entry_from_metadata
from approvals.rules import Adjustment, LedgerEntry
from approvals.task_queue import transient

logger = logging.getLogger(__name__)

LEDGER_KEY = "ledger:v2"
# A small key that changes with every write of the ledger: each process keeps the last
# ledger it unpickled and reuses it while the version is unchanged, so the request path
# reads a few bytes instead of the whole ledger on every submission.
LEDGER_VERSION_KEY = "ledger:v2:version"
# The pending set is kept per team (one small value and one lock each), so submissions
# of different teams never wait on each other and no value grows with the company.
PENDING_KEY_PREFIX = "ledger:pending:v2:"
PENDING_TTL_SECONDS = 60 * 60
# Our own writes of requests, kept a while and folded into every ledger we store: a read
# from Slack that started before a write cannot drop it from the cache.
WRITES_KEY = "ledger:writes:v1"
WRITES_KEEP_SECONDS = 2 * 60 * 60  # longer than a full read takes (see README's calls per minute)
WRITES_CLOCK_SKEW_SECONDS = 60
LEDGER_LOCK = "lock:ledger"  # a short lock around each change of the stored ledger
# Freshness is kept in the ledger itself; the cache keeps it a week so a quiet weekend is not a cold start.
LEDGER_TTL_SECONDS = 7 * 24 * 60 * 60

# --- How often and how much we read (DESIGN §8: rate limits by design) ---
INCREMENTAL_EVERY_SECONDS = 5 * 60  # a channel's new messages are asked for at most this often
FULL_READ_EVERY_SECONDS = 24 * 60 * 60  # a full read (reconciliation) at most this often
# An incremental read starts a minute before the newest message seen: a message posted just
# before another may become visible just after it.
OVERLAP_SECONDS = 60
HISTORY_PAGE_SIZE = 200
# Bound the work of one read: 100 pages of 200 is 20,000 messages a channel.
MAX_PAGES_PER_CHANNEL = 100

# --- Single flight ---
REFRESH_LOCK = "lock:ledger:refresh"
REFRESH_LOCK_SECONDS = 120  # renewed after every page and while waiting for the budget
COLD_WAIT_SECONDS = 30  # how long a reader that needs a cold ledger waits for another's read

# --- Budget: conversations.history is Tier 3 (about 50 a minute for the whole app) ---
HISTORY_CALLS_PER_MINUTE = 30  # for these reads; the rest is for decisions and deliveries
BUDGET_WINDOW_SECONDS = 60
BUDGET_KEY = "ledger:budget:v1"


class LedgerBusy(TimeoutError):
    """Another process is reading the cold ledger and did not finish in time: try again later.

    A TimeoutError, so the task that asked retries it (`task_queue.transient`).
    """


@dataclass(frozen=True)
class ChannelMark:
    newest_ts: str | None  # the newest message seen in the channel (of any kind): the next read starts there
    read_at: float  # when the channel was last read


@dataclass(frozen=True)
class Ledger:
    entries: dict[str, LedgerEntry] = field(default_factory=dict)  # request id -> newest state
    adjustments: dict[str, Adjustment] = field(default_factory=dict)
    channels: tuple[str, ...] = ()
    oldest_ts: str | None = None  # the oldest ledger message found, across channels
    truncated: bool = False  # a channel had more pages than one read may fetch
    read_at: float = 0.0  # when the last read from Slack started
    full_read_at: float = 0.0  # when the last full read started
    marks: dict[str, ChannelMark] = field(default_factory=dict)

    def for_user(self, user: str) -> list[LedgerEntry]:
        return [entry for entry in self.entries.values() if entry.user == user]

    def adjustments_for(self, user: str) -> list[Adjustment]:
        return [adjustment for adjustment in self.adjustments.values() if adjustment.user == user]

    def without(self, request_id: str) -> list[LedgerEntry]:
        """All entries but one: a request is never checked against itself."""
        return [entry for entry in self.entries.values() if entry.id != request_id]

    def needs_full_read(self, channels: tuple[str, ...], now: float) -> bool:
        """A day since the last full read, or a channel that is no longer configured (its entries must go)."""
        return now - self.full_read_at >= FULL_READ_EVERY_SECONDS or not set(self.channels) <= set(channels)

    def due_channels(self, channels: tuple[str, ...], now: float) -> list[str]:
        """Channels to ask for new messages: never read first, then the longest unread."""
        due = [c for c in channels if c not in self.marks or now - self.marks[c].read_at >= INCREMENTAL_EVERY_SECONDS]
        return sorted(due, key=lambda c: self.marks[c].read_at if c in self.marks else -math.inf)


def ledger_channels(config: WorkspaceConfig) -> tuple[str, ...]:
    """Every approvals channel, current and past, of every team, once each."""
    seen: dict[str, None] = {}
    for team in config.teams:
        for channel in team.ledger_channels:
            seen.setdefault(channel, None)
    return tuple(seen)


# --- Reading: what callers use ------------------------------------------------------------


def current_ledger(client: WebClient, config: WorkspaceConfig) -> Ledger:
    """The cached ledger covering every configured channel (plus pending), read from Slack when cold.

    One process reads a cold ledger; the others wait for it (up to COLD_WAIT_SECONDS, then LedgerBusy).
    """
    ledger = cached_ledger(config)
    if ledger is not None:
        return ledger
    flight = _Flight.take(wait=COLD_WAIT_SECONDS, unless=lambda: cached_ledger(config) is not None)
    if flight is None:
        ledger = cached_ledger(config)
        if ledger is None:
            raise LedgerBusy("another process is reading the ledger from Slack")
        return ledger
    with flight:
        ledger = cached_ledger(config)  # filled by the process we waited for
        if ledger is not None:
            return ledger
        fresh = _refresh(client, config, flight, background=False)
    # The cache may drop a large value without an error (memcached over 1 MB): never return None.
    return cached_ledger(config) or fresh


def refresh_if_stale(client: WebClient, config: WorkspaceConfig) -> None:
    """Background warm-up (someone opened the form): bring the cached ledger up to date, cheaply.

    New messages of channels not read for INCREMENTAL_EVERY_SECONDS; everything
    when cold or once a day. When another process is already reading, returns at
    once. Best effort: a passing fault is logged and left to the next refresh (or
    to the task that needs the ledger); a permanent refusal raises LedgerUnavailable.
    """
    stored, channels, now = stored_ledger(), ledger_channels(config), time.time()
    if stored is not None and not stored.needs_full_read(channels, now) and not stored.due_channels(channels, now):
        return
    flight = _Flight.take(wait=0)
    if flight is None:
        logger.debug("ledger refresh skipped: another process is reading")
        return
    try:
        with flight:
            _refresh(client, config, flight, background=True)
    except (SlackApiError, OSError, LedgerBusy) as exc:
        if isinstance(exc, SlackApiError) and not transient(exc):
            raise
        logger.warning("ledger refresh stopped by a passing fault (%s); the cached ledger serves",
                       exc.response.get("error") if isinstance(exc, SlackApiError) else type(exc).__name__)


def read_ledger(client: WebClient, config: WorkspaceConfig) -> Ledger:
    """Read every approvals channel in full (a reconciliation) and cache the result; one process at a time."""
    flight = _Flight.take(wait=COLD_WAIT_SECONDS)
    if flight is None:
        raise LedgerBusy("another process is reading the ledger from Slack")
    with flight:
        return _full_read(client, config, flight)


# --- Reading from Slack (under the single-flight lock) ---------------------------------------


class _Flight:
    """The refresh lock while it is ours: renewed between pages; when lost, the read stops unstored."""

    def __init__(self, token: str):
        self.token = token

    @classmethod
    def take(cls, *, wait: float, unless=None) -> "_Flight | None":
        token = acquire(REFRESH_LOCK, timeout=REFRESH_LOCK_SECONDS, wait=wait, poll=0.1, unless=unless)
        return cls(token) if token else None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        release(REFRESH_LOCK, self.token)

    def keep(self) -> None:
        if not renew(REFRESH_LOCK, self.token, REFRESH_LOCK_SECONDS):
            raise LedgerBusy("the ledger read outlived its lock; another process may be reading")

    def sleep_until(self, moment: float) -> None:
        while (left := moment - time.time()) > 0:
            time.sleep(min(left, REFRESH_LOCK_SECONDS / 3))
            self.keep()


def _refresh(client: WebClient, config: WorkspaceConfig, flight: _Flight, *, background: bool) -> Ledger:
    """A full read when due, else new messages of the channels due; returns the stored ledger."""
    stored, channels, now = stored_ledger(), ledger_channels(config), time.time()
    if stored is None or stored.needs_full_read(channels, now):
        return _full_read(client, config, flight)
    due = stored.due_channels(channels, now)
    return _read_new_messages(client, stored, due, flight, wait_for_budget=not background) if due else stored


def _full_read(client: WebClient, config: WorkspaceConfig, flight: _Flight) -> Ledger:
    """Every page of every channel; the result replaces the cached ledger (waits for the budget as needed)."""
    started = time.time()
    channels = ledger_channels(config)
    found = _Found()
    marks: dict[str, ChannelMark] = {}
    truncated = False
    if channels:
        author = ledger_author(client, channels[0])
        for channel in channels:
            read = _read_channel(client, channel, oldest=None, flight=flight, wait_for_budget=True)
            truncated = truncated or read.truncated
            found.add(read.messages, author, channel)
            marks[channel] = ChannelMark(read.newest_ts, time.time())
    ledger = Ledger(entries=found.entries, adjustments=found.adjustments, channels=channels, oldest_ts=found.oldest,
                    truncated=truncated, read_at=started, full_read_at=started, marks=marks)
    flight.keep()
    ledger = store_ledger(ledger)
    logger.info("ledger read in full channels=%s entries=%s adjustments=%s truncated=%s seconds=%.1f",
                len(channels), len(found.entries), len(found.adjustments), truncated, time.time() - started)
    return ledger


def _read_new_messages(client: WebClient, stored: Ledger, channels: list[str], flight: _Flight, *,
                       wait_for_budget: bool) -> Ledger:
    """Messages newer than each channel's mark (a channel never read: all of it), merged into the cache.

    A channel whose read stopped early (budget spent, page limit) is left as it
    was; the page limit also makes the next refresh a full read.
    """
    started = time.time()
    author = ledger_author(client, channels[0])
    found = _Found()
    marks: dict[str, ChannelMark] = {}
    backlog = truncated = False
    for channel in channels:
        mark = stored.marks.get(channel)
        oldest = _before(mark.newest_ts, OVERLAP_SECONDS) if mark and mark.newest_ts else None
        read = _read_channel(client, channel, oldest=oldest, flight=flight, wait_for_budget=wait_for_budget)
        if not read.complete:
            break  # the budget is spent: the remaining channels wait for the next refresh
        if read.truncated and mark is not None:
            backlog = True  # more new messages than one read fetches: reconcile next time
            continue
        truncated = truncated or read.truncated  # a channel read for the first time, like a full read
        found.add(read.messages, author, channel)
        marks[channel] = ChannelMark(read.newest_ts or (mark.newest_ts if mark else None), time.time())
    if not marks and not backlog:
        return stored
    flight.keep()
    with locked(LEDGER_LOCK):
        base = cache.get(LEDGER_KEY)
        if base is None:  # the cache lost the ledger meanwhile: the next read is a full one
            return stored
        oldest = min(filter(None, (base.oldest_ts, found.oldest)), default=None)
        ledger = replace(
            base,
            entries={**base.entries, **found.entries},  # new messages are newer than anything cached
            adjustments={**base.adjustments, **found.adjustments},
            channels=base.channels + tuple(c for c in marks if c not in base.channels),
            oldest_ts=oldest,
            truncated=base.truncated or truncated,
            read_at=started,
            full_read_at=0.0 if backlog else base.full_read_at,
            marks={**base.marks, **marks},
        )
        ledger = _store(ledger)
    logger.info("ledger read new messages channels=%s entries=%s adjustments=%s", len(marks), len(found.entries),
                len(found.adjustments))
    return ledger


@dataclass
class _ChannelRead:
    messages: list[dict]
    newest_ts: str | None  # the newest message of any kind
    complete: bool = True  # False: stopped because the budget was spent
    truncated: bool = False  # stopped at MAX_PAGES_PER_CHANNEL


def _read_channel(client: WebClient, channel: str, *, oldest: str | None, flight: _Flight,
                  wait_for_budget: bool) -> _ChannelRead:
    """A channel's top-level messages (newer than `oldest`), newest first."""
    messages: list[dict] = []
    cursor = None
    for _ in range(MAX_PAGES_PER_CHANNEL):
        if not _take_history_call(flight, wait=wait_for_budget):
            return _ChannelRead(messages, _newest(messages), complete=False)
        try:
            response = client.conversations_history(channel=channel, limit=HISTORY_PAGE_SIZE,
                                                    include_all_metadata=True, cursor=cursor, oldest=oldest)
        except SlackApiError as exc:
            if transient(exc):
                raise  # the task retries; nothing partial is stored
            raise LedgerUnavailable(channel, str(exc.response.get("error"))) from None
        flight.keep()
        messages.extend(response.get("messages", []))
        cursor = (response.get("response_metadata") or {}).get("next_cursor")
        if not response.get("has_more") or not cursor:
            return _ChannelRead(messages, _newest(messages))
    logger.warning("ledger channel=%s has more than %s pages; older entries not read", channel,
                   MAX_PAGES_PER_CHANNEL)
    return _ChannelRead(messages, _newest(messages), truncated=True)


def _take_history_call(flight: _Flight, *, wait: bool) -> bool:
    """One conversations.history call from the budget: HISTORY_CALLS_PER_MINUTE in any minute, all processes.

    A sliding minute (the times of the calls made in the last one, in the shared
    cache), so no burst across a minute's boundary exceeds it either. When it is
    spent: False at once, or (`wait`) sleep until a call leaves the minute,
    keeping the lock. Only the holder of the refresh lock spends the budget, so
    its read-modify-write needs no atomic update.
    """
    while True:
        now = time.time()
        spent = sorted(t for t in (cache.get(BUDGET_KEY) or ()) if t > now - BUDGET_WINDOW_SECONDS)
        if len(spent) < HISTORY_CALLS_PER_MINUTE:
            cache.set(BUDGET_KEY, [*spent, now], math.ceil(BUDGET_WINDOW_SECONDS) + 1)
            return True
        if not wait:
            logger.info("ledger refresh stopped: the minute's %s conversations.history calls are spent",
                        HISTORY_CALLS_PER_MINUTE)
            return False
        flight.sleep_until(spent[-HISTORY_CALLS_PER_MINUTE] + BUDGET_WINDOW_SECONDS)


class _Found:
    """Ledger entries and adjustments among messages; the newest message of a request wins."""

    def __init__(self):
        self.entries: dict[str, LedgerEntry] = {}
        self.adjustments: dict[str, Adjustment] = {}
        self.ts: dict[str, str] = {}
        self.oldest: str | None = None

    def add(self, messages: list[dict], author: str, channel: str) -> None:
        for message in messages:
            # Only our own bot writes the ledger: metadata another app (or a person's
            # workflow) posts in the channel must not be able to forge or change a request.
            if message.get("user") != author:
                continue
            ts = message.get("ts", "")
            metadata = message.get("metadata")
            if (entry := entry_from_metadata(metadata)) is not None:
                # One message per request; should a retry ever have posted twice, the newest wins.
                if entry.id not in self.entries or ts > self.ts[entry.id]:
                    self.entries[entry.id], self.ts[entry.id] = replace(entry, channel=channel, ts=ts), ts
            elif (adjustment := adjustment_from_metadata(metadata)) is not None:
                if adjustment.id not in self.adjustments or ts > self.ts[adjustment.id]:
                    self.adjustments[adjustment.id], self.ts[adjustment.id] = adjustment, ts
            else:
                continue
            self.oldest = ts if self.oldest is None or ts < self.oldest else self.oldest


def _newest(messages: list[dict]) -> str | None:
    return max((m["ts"] for m in messages if m.get("ts")), default=None)


def _before(ts: str, seconds: float) -> str:
    return f"{Decimal(ts) - Decimal(seconds):.6f}"


# --- The cache: reading, our own writes, the pending set ------------------------------------


def cached_ledger(config: WorkspaceConfig) -> Ledger | None:
    """The ledger from the cache with pending requests merged in; None when cold.

    A ledger that does not cover a channel now configured (a new team, a moved
    approvals channel) counts as cold.
    """
    ledger = stored_ledger()
    if ledger is None or not set(ledger_channels(config)) <= set(ledger.channels):
        return None
    pending = pending_entries(team.name for team in config.teams)
    if not pending:
        return ledger
    # Pending entries fill gaps only: the posted state wins.
    return replace(ledger, entries={**{entry.id: entry for entry in pending}, **ledger.entries})


def record_entry(entry: LedgerEntry) -> None:
    """After we post or rewrite a request: update the cached ledger in place and drop it from pending."""
    with locked(LEDGER_LOCK):
        now = time.time()
        writes = {k: v for k, v in (cache.get(WRITES_KEY) or {}).items() if v[1] > now - WRITES_KEEP_SECONDS}
        writes[entry.id] = (entry, now)
        cache.set(WRITES_KEY, writes, WRITES_KEEP_SECONDS)
        ledger = cache.get(LEDGER_KEY)
        if ledger is not None:
            _store(replace(ledger, entries={**ledger.entries, entry.id: entry}))
    pending_remove(entry.id, team=entry.team)


def record_adjustment(adjustment: Adjustment) -> None:
    """After we post an adjustment (a new message: the next incremental read finds it too)."""
    with locked(LEDGER_LOCK):
        ledger = cache.get(LEDGER_KEY)
        if ledger is not None:
            _store(replace(ledger, adjustments={**ledger.adjustments, adjustment.id: adjustment}))


_last_loaded: tuple[str, Ledger] | None = None  # (version, ledger) in this process


def store_ledger(ledger: Ledger) -> Ledger:
    """Cache a ledger read from Slack, with our own writes since its read started folded in."""
    with locked(LEDGER_LOCK):
        return _store(ledger)


def _store(ledger: Ledger) -> Ledger:
    """Store (the caller holds LEDGER_LOCK). A write of ours made after the read started is newer
    than what the read found: Slack had it, or will show it to the next read."""
    since = ledger.read_at - WRITES_CLOCK_SKEW_SECONDS
    ours = {entry.id: entry for entry, written_at in (cache.get(WRITES_KEY) or {}).values() if written_at >= since}
    if ours:
        ledger = replace(ledger, entries={**ledger.entries, **ours})
    cache.set_many({LEDGER_KEY: ledger, LEDGER_VERSION_KEY: uuid.uuid4().hex}, LEDGER_TTL_SECONDS)
    return ledger


def stored_ledger() -> Ledger | None:
    """The cached ledger as stored (no pending merge), unpickled only when its version changed."""
    global _last_loaded
    version = cache.get(LEDGER_VERSION_KEY)
    if version is None:
        return None
    last = _last_loaded
    if last is not None and last[0] == version:
        return last[1]
    ledger = cache.get(LEDGER_KEY)
    if ledger is not None:
        _last_loaded = (version, ledger)
    return ledger


def pending_key(team: str) -> str:
    return PENDING_KEY_PREFIX + team


def pending_entries(teams) -> list[LedgerEntry]:
    """Requests submitted to these teams and not yet posted."""
    keys = [pending_key(team) for team in teams]
    values = cache.get_many(keys) if keys else {}
    return [entry for key in keys for entry in _live(values.get(key) or {})]


def _live(timed: dict) -> list:
    """The values of an {id: (value, expires_at)} map that have not expired."""
    now = time.time()
    return [value for value, expires in timed.values() if expires > now]


def pending_add(entry: LedgerEntry) -> None:
    key = pending_key(entry.team)
    with locked(key + ":lock"):
        now = time.time()
        pending = {k: v for k, v in (cache.get(key) or {}).items() if v[1] > now}
        pending[entry.id] = (entry, now + PENDING_TTL_SECONDS)
        cache.set(key, pending, PENDING_TTL_SECONDS)


def pending_remove(request_id: str, *, team: str) -> None:
    key = pending_key(team)
    with locked(key + ":lock"):
        pending = cache.get(key) or {}
        if request_id in pending:
            del pending[request_id]
            cache.set(key, pending, PENDING_TTL_SECONDS)
