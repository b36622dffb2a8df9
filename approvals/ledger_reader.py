"""Reading the ledger back from Slack, caching it, and merging in-flight requests.

The ledger is every `timeoff_request` and `timeoff_adjustment` message in every
approvals channel any team uses or has used (DESIGN §5). It is read with
`conversations.history(include_all_metadata=true)`, kept in the shared cache,
and updated in place after our own writes, so the request path reads it
without calling Slack.

Slack's rate limits are part of the design (DESIGN §8). `conversations.history`
is Tier 3: about 50 calls a minute for the whole app, shared by these reads,
the one read of its message a decision or a change makes under the request's
lock (`ledger.read_request_at`) and the delivery check after an attempt that
got as far as posting (`ledger.find_recent_request`). So reads of the whole ledger are

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
scope is missing) raises `LedgerUnavailable`, told to people. A 429 pauses
every read for its Retry-After (up to PAUSE_MAX_SECONDS; `_read_channel`). Any
other passing fault (5xx, a timeout, a longer Retry-After) is raised as it is,
so the task retries; nothing partial is cached.

Requests submitted but not yet posted live in a short-lived *pending set* in
the same cache; every read merges them, so two overlapping submissions cannot
both pass.

Each entry names its team as it was called when the request was sent. A
team renamed since keeps that name in its `past_names`, and every read here
hands out such an entry under the team's name now (`_under_names_now`), so
Who's out, digests, nudges and `max_out` count it, the day of the rename: the
cache holds entries as Slack has them, and the renaming is applied as they are
read, with the configuration of the moment.

The request path never reads the whole ledger: `person_view` reads the
person's *slice* (their entries and adjustments), their team's slices for the
months of the request, and the pending requests the per-person and per-team
indexes name — a few small cache reads, whatever the size of the ledger or of
the pending set (DESIGN §10). The slices are written with the ledger and
updated in place with it (see "The cache" below).
"""

import logging
import math
import time
import uuid
from collections.abc import Iterable
from dataclasses import MISSING, dataclass, field, fields, replace
from datetime import date, timedelta
from decimal import Decimal

from django.core.cache import cache
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from approvals import metrics, pending_indexes
from approvals.cache_lock import acquire, key_part, locked, release, renew
from approvals.cache_values import schema_tag
from approvals.config_types import TeamConfig, WorkspaceConfig
from approvals.ledger import LedgerUnavailable, ledger_author
from approvals.ledger_format import (
    ADJUSTMENT_EVENT_TYPE,
    REQUEST_EVENT_TYPE,
    adjustment_from_metadata,
    entry_from_metadata,
)
from approvals.rules import PENDING, Adjustment, LedgerEntry
from approvals.task_queue import ReadStillUnderWay, error_code, retry_after_seconds, transient

logger = logging.getLogger(__name__)

# The keys of the cached ledger (LEDGER_KEY, WRITES_KEY, the slices) follow its classes below: they
# name their shape (LEDGER_SCHEMA).
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
# Slack's own word, a 429's Retry-After (past what the client waits out inside a call): until then no
# read spends the budget. A full read waits and goes on; a background refresh stops and goes on next time.
PAUSED_KEY = "ledger:history:paused-until"
PAUSES_PER_CHANNEL_MAX = 5  # in a row: then the read fails as a passing fault, and its task retries later
PAUSE_MAX_SECONDS = 60  # a longer Retry-After fails the read too: its task waits for it (task_queue)
# When Slack last rate-limited a ledger read: the setup page says so for a day (an app installed as a
# distributed app, not the company's own, gets one conversations.history call a minute).
LIMITED_AT_KEY = "ledger:history:limited-at"
# When Slack last answered pages of 15 messages or fewer (two in a row, none empty) with more to come, though
# 200 were asked for: what it does for a distributed app (SLACK.md, "Rate limits").
SMALL_PAGES_AT_KEY = "ledger:history:small-pages-at"
SMALL_PAGE_MESSAGES = 15
LIMITED_SHOWN_SECONDS = 24 * 3600


class LedgerBusy(ReadStillUnderWay):
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
    # The oldest message of any kind read in each channel: how far back its history reaches (retention
    # may differ between channels, and a read may stop at its page limit in one and not another).
    oldest_by_channel: dict[str, str] | None = None
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


# The slices' meta key (see "The cache" below).
@dataclass(frozen=True)
class _SlicesMeta:
    generation: str
    channels: tuple[str, ...]
    truncated: bool
    expires_at: float
    previous: str | None = None  # the generation before: kept until the next one, then deleted
    # Written with the teams' OPEN slices. (Before LEDGER_SCHEMA, a meta key cached by an older release
    # unpickled with the class default, False: it has none, and readers use the whole ledger.)
    open_slices: bool = False


# What the whole ledger, our writes and the slices hold is pickled dataclasses: their keys carry a
# digest of those classes' shape (approvals/cache_values.py), so that during a rolling deploy a release
# whose Ledger, LedgerEntry, Adjustment, ChannelMark or _SlicesMeta differ reads and writes keys of its
# own instead of values it cannot read (a missing field, a moved class) or would keep overwriting. Such
# a release starts with a cold ledger (one full read from Slack, paced by the shared budget), and while
# both run, each learns the other's writes only from Slack, when one of its own workers next reads it
# incrementally (README: "Upgrades", which says what that window costs).
# Releases that leave these classes alone share the cache as before.
#
# Shared across releases on purpose (no tag): the locks (LEDGER_LOCK, REFRESH_LOCK: one read of Slack
# at a time, whatever the release), the budget and pause of conversations.history (Slack's limits are
# the app's, not a release's), and the pending set (PENDING_PREFIX, below: why).
LEDGER_SCHEMA = schema_tag(Ledger, _SlicesMeta)

LEDGER_KEY = f"ledger:v2:{LEDGER_SCHEMA}"
# A small key that changes with every store of the whole ledger: each process keeps the last
# ledger it unpickled and reuses it while the version is unchanged; our writes in between are
# laid over it (WRITES_KEY), so a decision does not make every process unpickle it again.
LEDGER_VERSION_KEY = f"{LEDGER_KEY}:version:v2"  # (an id, the last of our writes folded in)
# Our own writes of requests, kept a while and folded into every ledger we store: a read
# from Slack that started before a write cannot drop it from the cache.
#
# Our writes are not copied into the stored ledger one by one (that is a whole-ledger unpickle and
# pickle per decision, and every process would unpickle the whole ledger again after it): each
# write gets a sequence number, and readers of the whole ledger lay the writes the stored ledger
# has not folded in yet over it. The stored ledger folds them in when it is next stored (a read
# from Slack) or after COMPACT_AFTER_WRITES writes (or COMPACT_AFTER_SECONDS), so the overlay stays small.
# {"seq": last sequence number, "items": {id: (entry, written at, seq)}}
WRITES_KEY = f"ledger:writes:v2:{LEDGER_SCHEMA}"
WRITES_SEQ_KEY = f"{WRITES_KEY}:seq"  # the last sequence number alone: a few bytes for readers
WRITES_KEEP_SECONDS = 2 * 60 * 60  # longer than a full read takes (see README's calls per minute)
WRITES_CLOCK_SKEW_SECONDS = 60
COMPACT_AFTER_WRITES = 200
COMPACT_AFTER_SECONDS = 30 * 60


def ledger_channels(config: WorkspaceConfig) -> tuple[str, ...]:
    """Every approvals channel, current and past, of every team, and those of teams removed since, once
    each."""
    seen: dict[str, None] = {}
    for team in config.teams:
        for channel in team.ledger_channels:
            seen.setdefault(channel, None)
    for channel in config.past_approvals_channels:
        seen.setdefault(channel, None)
    return tuple(seen)


# --- Reading: what callers use ------------------------------------------------------------


def current_ledger(client: WebClient, config: WorkspaceConfig) -> Ledger:
    """The cached ledger covering every configured channel (plus pending), read from Slack when cold.

    One process reads a cold ledger; the others wait for it (up to COLD_WAIT_SECONDS, then LedgerBusy).
    """
    ledger = cached_ledger(config)
    metrics.ledger_cache_lookup(hit=ledger is not None)
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
    return cached_ledger(config) or _under_names_now(fresh, config.renamed_teams)


# A ledger read without the channels Slack refused, for the daily jobs of the other teams: kept this long,
# so that one job run's teams read Slack once between them, never stored as the ledger.
WITHOUT_REFUSED_KEY = f"ledger:without-refused:v1:{LEDGER_SCHEMA}"
WITHOUT_REFUSED_KEEP_SECONDS = 5 * 60


def team_ledger(client: WebClient, config: WorkspaceConfig, team: TeamConfig) -> Ledger:
    """What a team's own jobs (reminders, digests, nudges) read: the cached ledger; when Slack refuses
    another team's approvals channel for good (the bot removed from it), every channel but the refused
    ones, read now (or by another team's job in the last few minutes) and not stored as the ledger.

    A ledger missing a channel is never stored (a person's balance counts every channel), but one team's
    channel must not stop every team's posts; and a team's jobs need the others' channels too: whether its
    approvers are away on leave recorded in their own team's channel, and the leave of its people recorded
    under a team since removed (`past_approvals_channels`). Its own channel refused raises, as before."""
    try:
        return current_ledger(client, config)
    except LedgerUnavailable as exc:
        if exc.channel in team.ledger_channels:
            raise
        logger.warning("ledger unavailable (%s in %s): reading %s's jobs without it", exc.error, exc.channel,
                       team.name)
    channels = ledger_channels(config)
    kept = cache.get(WITHOUT_REFUSED_KEY)
    if kept is not None and kept[0] == channels and not set(kept[1]) & set(team.ledger_channels):
        return _under_names_now(kept[2], config.renamed_teams)
    flight = _Flight.take(wait=COLD_WAIT_SECONDS)
    if flight is None:
        raise LedgerBusy("another process is reading the ledger from Slack")
    refused: list[str] = []
    with flight:
        ledger = _read_in_full(client, channels, flight,
                               skip_refused=[channel for channel in channels if channel not in team.ledger_channels],
                               refused=refused)
    cache.set(WITHOUT_REFUSED_KEY, (channels, tuple(refused), ledger), WITHOUT_REFUSED_KEEP_SECONDS)
    return _under_names_now(ledger, config.renamed_teams)


def refresh_if_stale(client: WebClient, config: WorkspaceConfig) -> None:
    """Background warm-up (someone opened the form): bring the cached ledger up to date, cheaply.

    New messages of channels not read for INCREMENTAL_EVERY_SECONDS; everything
    when cold or once a day. When another process is already reading, returns at
    once. Best effort: a passing fault is logged and left to the next refresh (or
    to the task that needs the ledger); a permanent refusal raises LedgerUnavailable.
    """
    stored, channels, now = stored_ledger(), ledger_channels(config), time.time()
    if (stored is not None and not stored.needs_full_read(channels, now) and not stored.due_channels(channels, now)
            and cache.get(SLICES_META_KEY) is not None):
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


# Ids of our own request and adjustment messages whose metadata this version cannot read (a newer release
# wrote them, then was rolled back), as the last full read found them: not in the ledger, not deleted either.
UNREADABLE_IDS_KEY = "ledger:unreadable-ids:v1"
UNREADABLE_IDS_SECONDS = 2 * 24 * 3600


def unreadable_ids() -> frozenset[str]:
    """The record ids the last full read found written in metadata this version cannot read."""
    return cache.get(UNREADABLE_IDS_KEY) or frozenset()


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
    if cache.get(SLICES_META_KEY) is None:  # the slices expired or were lost: rebuilt from the ledger, no Slack call
        stored = store_ledger(stored)
    due = stored.due_channels(channels, now)
    return _read_new_messages(client, stored, due, flight, wait_for_budget=not background) if due else stored


@metrics.ledger_refresh("full")
def _full_read(client: WebClient, config: WorkspaceConfig, flight: _Flight) -> Ledger:
    """Every page of every channel; the result replaces the cached ledger (waits for the budget as needed)."""
    started = time.time()
    unreadable: set[str] = set()
    ledger = _read_in_full(client, ledger_channels(config), flight, unreadable=unreadable)
    flight.keep()
    ledger = store_ledger(ledger)
    # Beside the ledger, not in it: its cached shape (and so its key) stays the one the release before shares.
    cache.set(UNREADABLE_IDS_KEY, frozenset(unreadable), UNREADABLE_IDS_SECONDS)
    logger.info("ledger read in full channels=%s entries=%s adjustments=%s truncated=%s seconds=%.1f",
                len(ledger.channels), len(ledger.entries), len(ledger.adjustments), ledger.truncated,
                time.time() - started)
    return ledger


def _read_in_full(client: WebClient, channels: tuple[str, ...], flight: _Flight, *, skip_refused=(),
                  refused: list[str] | None = None, unreadable: set[str] | None = None) -> Ledger:
    """Every page of `channels`, as a ledger (not stored). Those of `skip_refused` that Slack refuses for
    good are left out (and added to `refused`), as if not configured; any other refusal raises.
    `unreadable`: given, the ids of our records whose metadata this version cannot read are added to it."""
    started = time.time()
    found = _Found()
    marks: dict[str, ChannelMark] = {}
    truncated = False
    skipped = refused if refused is not None else []
    if channels:
        author = ledger_author(client, channels[0])
        for channel in channels:
            try:
                read = _read_channel(client, channel, oldest=None, flight=flight, wait_for_budget=True)
            except LedgerUnavailable:
                if channel not in skip_refused:
                    raise
                skipped.append(channel)
                continue
            truncated = truncated or read.truncated
            found.add(read.messages, author, channel)
            marks[channel] = ChannelMark(read.newest_ts, time.time())
    if unreadable is not None:
        unreadable.update(found.unreadable_ids)
    return Ledger(entries=found.entries, adjustments=found.adjustments,
                  channels=tuple(channel for channel in channels if channel not in skipped), oldest_ts=found.oldest,
                  oldest_by_channel=found.oldest_by_channel, truncated=truncated, read_at=started,
                  full_read_at=started, marks=marks)


@metrics.ledger_refresh("incremental")
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
        oldest_by_channel = dict(base.oldest_by_channel or {})
        for channel, ts in found.oldest_by_channel.items():
            oldest_by_channel[channel] = min(ts, oldest_by_channel.get(channel, ts))
        ledger = replace(
            base,
            # A new message of a request already cached is a second copy of it (`current_copy`).
            entries={**base.entries, **{id: current_copy(base.entries[id], entry) if id in base.entries else entry
                                        for id, entry in found.entries.items()}},
            adjustments={**base.adjustments, **found.adjustments},
            channels=base.channels + tuple(c for c in marks if c not in base.channels),
            oldest_ts=oldest,
            oldest_by_channel=oldest_by_channel,
            truncated=base.truncated or truncated,
            read_at=started,
            full_read_at=0.0 if backlog else base.full_read_at,
            marks={**base.marks, **marks},
        )
        ledger = _store(ledger, changed=(found.entries, found.adjustments))
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
    pages = pauses = short_in_a_row = 0
    while pages < MAX_PAGES_PER_CHANNEL:
        if not _take_history_call(flight, wait=wait_for_budget):
            return _ChannelRead(messages, _newest(messages), complete=False)
        try:
            response = client.conversations_history(channel=channel, limit=HISTORY_PAGE_SIZE,
                                                    include_all_metadata=True, cursor=cursor, oldest=oldest)
        except SlackApiError as exc:
            pause = retry_after_seconds(exc)
            if pause > 0:
                # Slack's word holds for every reader, whether this one waits or gives up: none calls before.
                cache.set(PAUSED_KEY, time.time() + pause, pause + 1)
                cache.set(LIMITED_AT_KEY, time.time(), LIMITED_SHOWN_SECONDS)  # for the setup page
            if 0 < pause <= PAUSE_MAX_SECONDS and pauses < PAUSES_PER_CHANNEL_MAX:
                # Rate-limited all the same (other calls of the app share the limit): this page again
                # once Slack says, the pages read so far kept.
                pauses += 1
                logger.warning("ledger read paused channel=%s for %ss: conversations.history rate-limited",
                               channel, pause)
                continue
            if transient(exc):
                raise  # the task retries; nothing partial is stored
            # error_code: Slack's code, or the HTTP status of an answer that was not Slack's (a proxy's page).
            metrics.ledger_unavailable(error_code(exc))
            raise LedgerUnavailable(channel, error_code(exc)) from None
        flight.keep()
        pages += 1
        pauses = 0  # a limit of one call a minute meets a 429 before every page: count pauses in a row
        metrics.LEDGER_PAGES.inc()
        messages.extend(response.get("messages", []))
        cursor = (response.get("response_metadata") or {}).get("next_cursor")
        # Slack may answer any page short, even empty: only pages of 1 to 15 messages with more to come, two
        # in a row, are how it serves a distributed app.
        short = response.get("has_more") and 0 < len(response.get("messages", [])) <= SMALL_PAGE_MESSAGES
        short_in_a_row = short_in_a_row + 1 if short else 0
        if short_in_a_row >= 2:
            cache.set(SMALL_PAGES_AT_KEY, time.time(), LIMITED_SHOWN_SECONDS)
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
    its read-modify-write needs no atomic update. While Slack asked to wait (a
    429 during a read: PAUSED_KEY), no call is taken, in the same two ways.
    """
    while True:
        now = time.time()
        paused_until = cache.get(PAUSED_KEY) or 0
        if now < paused_until:
            if not wait:
                logger.info("ledger refresh stopped: Slack asked to wait until %s", round(paused_until))
                return False
            flight.sleep_until(paused_until)
            continue
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
    """Ledger entries and adjustments among messages; of two messages of one request, `current_copy`."""

    def __init__(self):
        self.entries: dict[str, LedgerEntry] = {}
        self.adjustments: dict[str, Adjustment] = {}
        self.ts: dict[str, str] = {}
        self.oldest: str | None = None
        self.oldest_by_channel: dict[str, str] = {}
        self.unreadable_ids: set[str] = set()

    def add(self, messages: list[dict], author: str, channel: str) -> None:
        for message in messages:
            ts = message.get("ts", "")
            if ts and (channel not in self.oldest_by_channel or ts < self.oldest_by_channel[channel]):
                self.oldest_by_channel[channel] = ts
            # Only our own bot writes the ledger: metadata another app (or a person's
            # workflow) posts in the channel must not be able to forge or change a request.
            if message.get("user") != author:
                continue
            metadata = message.get("metadata")
            if (entry := entry_from_metadata(metadata)) is not None:
                entry = replace(entry, channel=channel, ts=ts)
                known = self.entries.get(entry.id)
                self.entries[entry.id] = entry if known is None else current_copy(known, entry)
            elif (adjustment := adjustment_from_metadata(metadata)) is not None:
                if adjustment.id not in self.adjustments or ts > self.ts[adjustment.id]:
                    self.adjustments[adjustment.id] = replace(adjustment, channel=channel, ts=ts)
                    self.ts[adjustment.id] = ts
            else:
                if (record_id := unreadable_record_id(metadata)) is not None:
                    self.unreadable_ids.add(record_id)
                continue
            self.oldest = ts if self.oldest is None or ts < self.oldest else self.oldest


def unreadable_record_id(metadata) -> str | None:
    """The id of a request or adjustment whose metadata this version cannot read, where it names one."""
    if not isinstance(metadata, dict) or metadata.get("event_type") not in (REQUEST_EVENT_TYPE,
                                                                            ADJUSTMENT_EVENT_TYPE):
        return None
    payload = metadata.get("event_payload")
    record_id = payload.get("id") if isinstance(payload, dict) else None
    return record_id if isinstance(record_id, str) and record_id else None


def current_copy(known: LedgerEntry, found: LedgerEntry) -> LedgerEntry:
    """Of two messages of one request (one message per request, but a retry whose look for its earlier
    post failed posts it again), the one that says where the request stands: a decision (or a withdrawal)
    over a copy still pending — approvers may decide on either, and the other copy stays pending —, the
    later of two decisions, else the newer message. The same message read again (an incremental read's
    overlap; an edit rewrites a request in place) is `found`, as read now."""
    return max((found, known), key=lambda e: (e.status != PENDING, e.decided_at or 0, e.ts or ""))


def _newest(messages: list[dict]) -> str | None:
    return max((m["ts"] for m in messages if m.get("ts")), default=None)


def _before(ts: str, seconds: float) -> str:
    return f"{Decimal(ts) - Decimal(seconds):.6f}"


# --- The cache: reading, our own writes, the pending set ------------------------------------
#
# The whole ledger (LEDGER_KEY) serves the background (deliveries, decisions, digests, jobs).
# The request path reads *slices* instead, so that what a submission costs does not grow with
# the ledger or with the number of requests in flight (DESIGN §10):
#
# - a person's slice: all their entries and adjustments (overlap, allowance, balances, lists);
# - a team's slice per month: the team's entries that meet that month (capacity, who is out),
#   and one more per team for the rare entry spanning more than LONG_SPAN_MONTHS;
# - a team's open requests: its posted entries still pending (the approvers' App Home lists them);
# - a small meta key naming the slices' generation, the channels they cover, `truncated`.
#
# Every store of a ledger read in full writes a new generation (the previous one is deleted);
# incremental reads and our own writes (`record_entry`, `record_adjustment`) update the
# affected slices in place, under LEDGER_LOCK like the whole ledger. The meta key expires
# before any slice of its generation, so a reader never takes a missing slice for an empty one.
#
# Pending requests are one cache key each, found through small indexes of ids: one per
# person and one per team and day (plus a per-team list of those days, for whole-ledger
# readers). A submission reads its person's index and its team's indexes for its days.

SLICES_PREFIX = f"ledger:slices:v1:{LEDGER_SCHEMA}:"
SLICES_META_KEY = SLICES_PREFIX + "meta"
# Slices outlive their meta key by a day: an expired meta makes the ledger cold, never partial.
SLICES_TTL_SECONDS = LEDGER_TTL_SECONDS + 24 * 60 * 60
# An entry (or a request) meeting more months than this is filed under the team's LONG bucket,
# which every reader of the team reads: no bucket list grows with a (mistyped) decade of leave.
LONG_SPAN_MONTHS = 13
# A request in flight longer than this is filed under its team's LONG pending bucket, which every
# capacity check of the team reads; a few weeks of leave is indexed by each of its days.
LONG_SPAN_DAYS = 62
LONG = "long"
# The team slice of its open requests (posted, still pending): not a month, so it never meets a month's.
OPEN = "open"
# Every team's open requests in one slice, under no team's name: what a fallback approver's App Home reads
# for the requests of teams removed from the configuration since (no configured name leads to them).
# Written with every generation of slices; absent from one an earlier release wrote (readers then go
# to the whole ledger).
EVERY_TEAM = ""
# A view over more months than this is answered from the whole ledger (no submission is that long:
# MAX_REQUEST_DAYS in the preview; validation refuses most).
MAX_VIEW_MONTHS = LONG_SPAN_MONTHS

# The pending set is shared by every release, with no schema tag, on purpose. It is what keeps two
# overlapping submissions from both passing (DESIGN §5), and during a rolling deploy those two may well be
# handled by different releases (two web machines behind the load balancer). Were its keys tagged, each
# release would check against its own half of the requests in flight only: a person's two overlapping
# requests, or one past a team's max_out, could pass, one through each; and the form's claim and the
# person's version (`pending_submit`) must be one for everybody, or the same form sent twice could be
# sent once to each release. So an entry is kept as plain values (a tuple of str, date, Decimal, int,
# None: every release unpickles those alike) and read by position (`_unpacked`), under one rule:
# LedgerEntry's fields are only ever appended to, each with a default (test_rolling_deploy_cache pins
# the order). Bumping this prefix splits the set for the length of a deploy: README "Upgrades" says what
# that costs.
PENDING_PREFIX = "ledger:pending:v5:"  # v5: by day; sorted sets on Redis (pending_indexes)
PENDING_TTL_SECONDS = 60 * 60
# A team's list of days with pending requests outlives each day's index by this much.
PENDING_DAYS_SLACK_SECONDS = 5 * 60


def _months(start: date, end: date) -> list[str]:
    """The months [start, end] meets, as "YYYY-MM"; [LONG] past LONG_SPAN_MONTHS."""
    if end < start:
        start, end = end, start
    count = (end.year - start.year) * 12 + end.month - start.month + 1
    if count > LONG_SPAN_MONTHS:
        return [LONG]
    year, month, found = start.year, start.month, []
    for _ in range(count):
        found.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return found


def _days(start: date, end: date) -> list[str]:
    """The days [start, end] meets ("d2026-12-07"); [LONG] past LONG_SPAN_DAYS.

    The pending set is indexed by day: a busy team's requests in flight are many,
    and a submission checking capacity should read only those that meet its own
    days (a week's would hold five times as many).
    """
    if end < start:
        start, end = end, start
    count = (end - start).days + 1
    if count > LONG_SPAN_DAYS:
        return [LONG]
    return [f"d{(start + timedelta(days=n)).isoformat()}" for n in range(count)]


def _person_key(generation: str, user: str) -> str:
    return f"{SLICES_PREFIX}{generation}:p:{key_part(user)}"


def _team_key(generation: str, team: str, bucket: str) -> str:
    return f"{SLICES_PREFIX}{generation}:t:{key_part(team)}:{bucket}"


def _generation_keys_key(generation: str) -> str:
    return f"{SLICES_PREFIX}{generation}:keys"


@dataclass(frozen=True)
class SliceLedger:
    """The part of the ledger the rules need for one person (and their team over some dates).

    Offers what `Ledger` offers the rules: `for_user`, `adjustments_for`,
    `without`, `entries`, `truncated`. It is complete for its person (every
    entry, in any team, and every adjustment, with their pending requests)
    and, when made with a team and dates, for that team's entries meeting
    those dates (with its pending requests); other people's entries outside
    those dates are not in it.
    """

    entries: dict[str, LedgerEntry] = field(default_factory=dict)
    adjustments: dict[str, Adjustment] = field(default_factory=dict)
    truncated: bool = False
    channels: tuple[str, ...] = ()
    pending_version: int = 0  # the person's pending version when read: `pending_submit` checks it
    unread_others: int = 0  # other people's requests in flight on these dates left unread (`others_max`)

    def for_user(self, user: str) -> list[LedgerEntry]:
        return [entry for entry in self.entries.values() if entry.user == user]

    def adjustments_for(self, user: str) -> list[Adjustment]:
        return [adjustment for adjustment in self.adjustments.values() if adjustment.user == user]

    def without(self, request_id: str) -> list[LedgerEntry]:
        """All entries of the view but one: a request is never checked against itself."""
        return [entry for entry in self.entries.values() if entry.id != request_id]


def person_view(config: WorkspaceConfig, user: str, team: str | None = None, start: date | None = None,
                end: date | None = None, *, others_max: int | None = None) -> "SliceLedger | Ledger | None":
    """What the rules need about `user` (and `team` between `start` and `end`), from the cache; None when cold.

    A handful of small cache reads in one round trip on Redis, whatever the
    size of the ledger or of the pending set: the meta key, the pending
    indexes with the requests they name, and the person's slice and the
    team's slices for those months (their keys named after the slices'
    generation this process saw last; a second round trip when it has moved
    on). Cold exactly when `cached_ledger` is: no ledger cached, or one that
    does not cover a channel now configured.

    `others_max`: read at most this many of the team's requests in flight (a
    preview that lists a few names of a busy team); the view's `unread_others`
    counts those left unread, counted in Redis, so that a preview costs this
    process the same with ten requests in flight on its days or thousands.
    Every rule needs them all: leave it None there.
    """
    global _slices_generation_seen
    buckets: list[str] = []  # months of the team's slices
    days: list[str] = []  # days of the team's pending requests
    if team is not None and start is not None and end is not None:
        buckets = _months(start, end)
        if buckets == [LONG] or len(buckets) > MAX_VIEW_MONTHS:
            return cached_ledger(config)  # a view of years: the whole ledger answers as before
        buckets.append(LONG)
        days = [LONG, *_days(start, end)]  # long requests (few) first, then day by day: what a cap keeps

    # The team's slices and indexes are kept under the name each entry carries: its earlier names' too.
    names = config.names_recorded_for(team) if team is not None else ()

    def slice_keys(generation: str) -> list[str]:
        team_keys = [_team_key(generation, name, bucket) for name in names for bucket in buckets]
        return [_person_key(generation, user), *team_keys]

    person_index = _pending_person_key(user)
    team_indexes = [_pending_bucket_key(name, day) for day in days for name in names]
    version_key = _pending_version_key(user)
    guessed = _slices_generation_seen
    guessed_keys = slice_keys(guessed) if guessed else []
    pending_ids, unread_others, found = pending_indexes.read_entries(
        [person_index, *team_indexes], values=[SLICES_META_KEY, version_key, *guessed_keys],
        entries_under=_pending_entry_key(""), entries_max=others_max)
    meta: _SlicesMeta | None = found.get(SLICES_META_KEY)
    cold = meta is None or not set(ledger_channels(config)) <= set(meta.channels)
    metrics.ledger_cache_lookup(hit=not cold)  # the slices are the ledger's cache as much as the whole is
    if cold:
        return None
    keys = slice_keys(meta.generation)
    if meta.generation != guessed:  # new slices since this process last read: read them now
        _slices_generation_seen = meta.generation
        found.update(cache.get_many(keys))
    person_key, team_keys = keys[0], keys[1:]
    own_entries, adjustments = found.get(person_key) or ({}, {})
    entries: dict[str, LedgerEntry] = {}
    configured = {t.name for t in config.teams}
    renamed = config.renamed_teams
    for request_id in pending_ids:  # pending entries fill gaps only: the posted state wins
        entry = _unpacked(found.get(_pending_entry_key(request_id)))
        if entry is None or renamed.get(entry.team, entry.team) not in configured:
            continue
        # Someone else's only when it meets these dates (the team's LONG index holds long ones of any dates).
        if entry.user == user or (start is not None and end is not None and entry.start <= end
                                  and entry.end >= start):
            entries[entry.id] = entry
    for key in team_keys:
        entries.update(found.get(key) or {})
    entries.update(own_entries)
    return SliceLedger(entries=_entries_now(entries, renamed), adjustments=dict(adjustments),
                       truncated=meta.truncated, channels=meta.channels,
                       pending_version=pending_indexes.version_of(found, version_key), unread_others=unread_others)


# The slices' generation this process last read (see person_view): its slice keys are read with the
# meta key, in the same round trip, on the bet that the generation has not moved (it moves with each
# full rewrite of the slices, not with each entry written). A plain string, replaced whole.
_slices_generation_seen: str | None = None


def open_requests(config: WorkspaceConfig, teams: Iterable[str], *,
                  removed_teams: bool = False) -> list[LedgerEntry] | None:
    """The requests of these teams posted and still pending, from the teams' OPEN slices: what
    approvers have to decide, whatever the size of the ledger. `removed_teams`: also those of teams
    no longer configured (HR's to decide). None when the slices are cold (or cached by a release
    without these slices): the caller reads the whole ledger."""
    meta: _SlicesMeta | None = cache.get(SLICES_META_KEY)
    if meta is None or not meta.open_slices or not set(ledger_channels(config)) <= set(meta.channels):
        return None
    names = dict.fromkeys(name for team in teams for name in config.names_recorded_for(team))
    keys = [_team_key(meta.generation, name, OPEN) for name in names]
    every_open_key = _team_key(meta.generation, EVERY_TEAM, OPEN)
    found = cache.get_many([*keys, every_open_key] if removed_teams else keys) if keys or removed_teams else {}
    renamed = config.renamed_teams
    entries = [_entry_now(entry, renamed) for key in keys for entry in (found.get(key) or {}).values()]
    if removed_teams:
        every_open = found.get(every_open_key)
        if every_open is None:
            return None
        orphans = [entry for entry in every_open.values() if entry.team and config.team_recorded_as(entry.team) is None]
        # Each as its person's slice has it now: a worker of the release before keeps the person slices but
        # not this one, so a request it decided may still be here (README "Upgrades").
        people = cache.get_many(list({_person_key(meta.generation, entry.user) for entry in orphans}))
        for entry in orphans:
            own = (people.get(_person_key(meta.generation, entry.user)) or ({}, {}))[0].get(entry.id)
            if own is not None and own.status == PENDING:
                entries.append(_entry_now(own, renamed))
    return entries


def cached_ledger(config: WorkspaceConfig) -> Ledger | None:
    """The whole ledger from the cache with pending requests merged in; None when cold.

    For the background and the rare whole-ledger question; the request path
    reads `person_view`. A ledger that does not cover a channel now configured
    (a new team, a moved approvals channel) counts as cold.
    """
    ledger = stored_ledger()
    if ledger is None or not set(ledger_channels(config)) <= set(ledger.channels):
        return None
    renamed = config.renamed_teams
    ledger = _under_names_now(ledger, renamed)
    pending = pending_entries([*(team.name for team in config.teams), *renamed])
    if not pending:
        return ledger
    # Pending entries fill gaps only: the posted state wins.
    return replace(ledger, entries={**{entry.id: _entry_now(entry, renamed) for entry in pending}, **ledger.entries})


def _entry_now(entry: LedgerEntry, renamed: dict[str, str]) -> LedgerEntry:
    """The entry under its team's name now, when it names the team by an earlier name (`renamed`:
    `WorkspaceConfig.renamed_teams`)."""
    return replace(entry, team=renamed[entry.team]) if entry.team in renamed else entry


def _entries_now(entries: dict[str, LedgerEntry], renamed: dict[str, str]) -> dict[str, LedgerEntry]:
    if not renamed:
        return entries
    return {request_id: _entry_now(entry, renamed) for request_id, entry in entries.items()}


# The last whole ledger renamed in this process, with what it was made from: the ledger is read again
# and again while unchanged (`stored_ledger` keeps it), and renaming is a pass over every entry.
_last_renamed: tuple[Ledger, dict[str, str], Ledger] | None = None


def _under_names_now(ledger: Ledger, renamed: dict[str, str]) -> Ledger:
    """The whole ledger with each entry under its team's name now (never stored: the cache keeps the
    names Slack has, so that a rename applies to the next read, not to the next read from Slack)."""
    global _last_renamed
    if not renamed:
        return ledger
    last = _last_renamed
    if last is not None and last[0] is ledger and last[1] == renamed:
        return last[2]
    result = replace(ledger, entries=_entries_now(ledger.entries, renamed))
    _last_renamed = (ledger, renamed, result)
    return result


# What a request's message says now, as its last writer wrote it (or, finishing a write whose answer was
# lost, read it) under the request's lock: the follow-ups that describe a request's state (the receipt,
# the decision DM, the announcement) run after the lock is let go, and those of a writer overtaken
# meanwhile (HR cancelling leave just approved) must not land after the newer writer's and tell the older
# state last. Plain values (a tuple of str and None): every release reads them alike.
SHOWN_PREFIX = "ledger:shown:v1:"


def _shown(entry: LedgerEntry) -> tuple:
    return (entry.status, entry.decided_by, entry.leave_type, entry.start.isoformat(), entry.end.isoformat(),
            entry.start_half, entry.end_half)


def mark_shown(entry: LedgerEntry) -> None:
    """Under the request's lock: its message now says `entry`."""
    cache.set(f"{SHOWN_PREFIX}{key_part(entry.id)}", _shown(entry), WRITES_KEEP_SECONDS)


def superseded(entry: LedgerEntry) -> bool:
    """Has a later writer changed the request since `entry` was written? (Unknown: no.)"""
    shown = cache.get(f"{SHOWN_PREFIX}{key_part(entry.id)}")
    return shown is not None and tuple(shown) != _shown(entry)


def record_entry(entry: LedgerEntry) -> None:
    """After we post or rewrite a request: record the write (laid over the stored ledger until it is
    folded in), update its slices in place, drop it from pending. No whole-ledger rewrite (see WRITES_KEY)."""
    mark_shown(entry)
    with locked(LEDGER_LOCK):
        now = time.time()
        writes = _writes()
        seq = writes["seq"] + 1
        version = cache.get(LEDGER_VERSION_KEY)
        folded = version[1] if version else seq
        items = {k: v for k, v in writes["items"].items() if v[1] > now - WRITES_KEEP_SECONDS or v[2] > folded}
        items[entry.id] = (entry, now, seq)
        _set_writes({"seq": seq, "items": items})
        _update_slices([entry], [])
        unfolded = [v for v in items.values() if v[2] > folded]
        if version is not None and (len(unfolded) >= COMPACT_AFTER_WRITES
                                    or min(v[1] for v in unfolded) < now - COMPACT_AFTER_SECONDS):
            _compact(items, seq)
    pending_remove(entry.id)


def record_adjustment(adjustment: Adjustment) -> None:
    """After we post an adjustment (a new message: the next incremental read finds it too). Adjustments are
    rare (HR): the stored ledger is rewritten at once, folding in our pending writes too."""
    with locked(LEDGER_LOCK):
        ledger = cache.get(LEDGER_KEY)
        if ledger is not None:
            writes = _writes()
            ledger = replace(ledger, adjustments={**ledger.adjustments, adjustment.id: adjustment})
            _compact(writes["items"], writes["seq"], ledger=ledger)
        _update_slices([], [adjustment])


def _writes() -> dict:
    return cache.get(WRITES_KEY) or {"seq": 0, "items": {}}


def _set_writes(writes: dict) -> None:
    # Kept as long as the ledger: a write not folded in yet must outlive any quiet spell.
    cache.set_many({WRITES_KEY: writes, WRITES_SEQ_KEY: writes["seq"]}, LEDGER_TTL_SECONDS)


def _compact(items: dict, seq: int, *, ledger: Ledger | None = None) -> None:
    """Fold the writes not folded in yet into the stored ledger (the caller holds LEDGER_LOCK)."""
    version = cache.get(LEDGER_VERSION_KEY)
    ledger = ledger if ledger is not None else cache.get(LEDGER_KEY)
    if ledger is None or version is None:
        return
    unfolded = {entry.id: entry for entry, _, number in items.values() if number > version[1]}
    _set_whole(replace(ledger, entries={**ledger.entries, **unfolded}) if unfolded else ledger, seq)


_last_loaded: tuple[tuple, Ledger] | None = None  # ((version, writes seq), ledger with the overlay) in this process
_last_base: tuple[str, Ledger] | None = None  # (version, the stored ledger) in this process


def store_ledger(ledger: Ledger) -> Ledger:
    """Cache a ledger read from Slack, with our own writes since its read started folded in."""
    with locked(LEDGER_LOCK):
        return _store(ledger)


def _store(ledger: Ledger, *, changed: tuple[Iterable[str], Iterable[str]] | None = None) -> Ledger:
    """Store (the caller holds LEDGER_LOCK). A write of ours made after the read started is newer
    than what the read found: Slack had it, or will show it to the next read.

    `changed`: the ids of the entries and adjustments that differ from the ledger stored before
    (an incremental read, merged into that ledger): only their slices are rewritten, and every write
    that ledger had not folded in yet is folded in now. None: a ledger read in full, a new
    generation of slices.
    """
    since = ledger.read_at - WRITES_CLOCK_SKEW_SECONDS
    writes = _writes()
    version = cache.get(LEDGER_VERSION_KEY) if changed is not None else None
    folded = version[1] if version else writes["seq"] + 1
    ours = {entry.id: entry for entry, written_at, number in writes["items"].values()
            if written_at >= since or number > folded}
    if ours:
        ledger = replace(ledger, entries={**ledger.entries, **ours})
    _set_whole(ledger, writes["seq"])
    meta = cache.get(SLICES_META_KEY) if changed is not None else None
    if meta is None:
        _write_all_slices(ledger)
    else:
        entry_ids, adjustment_ids = changed
        _update_slices([ledger.entries[i] for i in {*entry_ids, *ours} if i in ledger.entries],
                       [ledger.adjustments[i] for i in set(adjustment_ids) if i in ledger.adjustments], meta=meta,
                       channels=ledger.channels, truncated=ledger.truncated)
    return ledger


def _set_whole(ledger: Ledger, folded_seq: int) -> None:
    """The stored ledger and its version: (a new id, the last write folded into it)."""
    cache.set_many({LEDGER_KEY: ledger, LEDGER_VERSION_KEY: (uuid.uuid4().hex, folded_seq)}, LEDGER_TTL_SECONDS)


def _write_all_slices(ledger: Ledger) -> None:
    """A new generation of slices from `ledger`, then the meta key that makes it current (under LEDGER_LOCK)."""
    generation = uuid.uuid4().hex
    persons: dict[str, tuple[dict, dict]] = {}
    teams: dict[str, dict[str, LedgerEntry]] = {}
    for entry in ledger.entries.values():
        persons.setdefault(entry.user, ({}, {}))[0][entry.id] = entry
        for bucket in _months(entry.start, entry.end):
            teams.setdefault(_team_key(generation, entry.team, bucket), {})[entry.id] = entry
        if entry.status == PENDING:
            teams.setdefault(_team_key(generation, entry.team, OPEN), {})[entry.id] = entry
            teams.setdefault(_team_key(generation, EVERY_TEAM, OPEN), {})[entry.id] = entry
    teams.setdefault(_team_key(generation, EVERY_TEAM, OPEN), {})
    for adjustment in ledger.adjustments.values():
        persons.setdefault(adjustment.user, ({}, {}))[1][adjustment.id] = adjustment
    values = {_person_key(generation, user): value for user, value in persons.items()} | teams
    for chunk in _chunks(list(values.items()), 500):
        cache.set_many(dict(chunk), SLICES_TTL_SECONDS)
    cache.set(_generation_keys_key(generation), list(values), SLICES_TTL_SECONDS)
    current = cache.get(SLICES_META_KEY)
    cache.set(SLICES_META_KEY, _SlicesMeta(generation, ledger.channels, ledger.truncated,
                                           time.time() + LEDGER_TTL_SECONDS,
                                           previous=current.generation if current else None, open_slices=True),
              LEDGER_TTL_SECONDS)
    # A reader that took the meta key just before this switch still reads the generation it names,
    # so that one stays until the next switch; the one before it has no reader left (a day has passed).
    if current is not None and current.previous:
        old_keys = cache.get(_generation_keys_key(current.previous)) or []
        for chunk in _chunks(old_keys, 500):
            cache.delete_many(chunk)
        cache.delete(_generation_keys_key(current.previous))


def _update_slices(entries: list[LedgerEntry], adjustments: list[Adjustment], *, meta: "_SlicesMeta | None" = None,
                   channels: tuple[str, ...] | None = None, truncated: bool | None = None) -> None:
    """Rewrite the slices these entries and adjustments are in, in place (under LEDGER_LOCK).

    An entry whose team or dates changed (an edit) leaves the team slices of its old months.
    No slices (a cold cache): nothing is invented.
    """
    meta = meta or cache.get(SLICES_META_KEY)
    if meta is None:
        return
    generation = meta.generation
    person_keys = {_person_key(generation, x.user) for x in [*entries, *adjustments]}
    persons = cache.get_many(list(person_keys))
    old = {}
    for entry in entries:
        previous = (persons.get(_person_key(generation, entry.user)) or ({}, {}))[0].get(entry.id)
        if previous is not None:
            old[entry.id] = previous
    team_keys = set()
    for entry in [*entries, *old.values()]:
        team_keys.update(_team_key(generation, entry.team, bucket) for bucket in _months(entry.start, entry.end))
        if meta.open_slices:
            team_keys.add(_team_key(generation, entry.team, OPEN))
    every_open_key = _team_key(generation, EVERY_TEAM, OPEN)
    if meta.open_slices and entries:
        team_keys.add(every_open_key)
    teams = cache.get_many(list(team_keys)) if team_keys else {}
    # Kept up to date only where its generation has it: one written in part would be taken as whole.
    every_open = teams.get(every_open_key)
    changed: dict[str, object] = {}
    for entry in entries:
        key = _person_key(generation, entry.user)
        own, own_adjustments = persons.get(key) or ({}, {})
        persons[key] = changed[key] = ({**own, entry.id: entry}, own_adjustments)
        if (previous := old.get(entry.id)) is not None:
            for bucket in _months(previous.start, previous.end):
                team_key = _team_key(generation, previous.team, bucket)
                slice_ = {k: v for k, v in (teams.get(team_key) or {}).items() if k != entry.id}
                teams[team_key] = changed[team_key] = slice_
        for bucket in _months(entry.start, entry.end):
            team_key = _team_key(generation, entry.team, bucket)
            teams[team_key] = changed[team_key] = {**(teams.get(team_key) or {}), entry.id: entry}
        if meta.open_slices:  # out of the open requests of its old team and its team; back in while pending
            for team in {entry.team, *((previous.team,) if previous is not None else ())}:
                open_key = _team_key(generation, team, OPEN)
                open_ = {k: v for k, v in (teams.get(open_key) or {}).items() if k != entry.id}
                if entry.status == PENDING and team == entry.team:
                    open_[entry.id] = entry
                teams[open_key] = changed[open_key] = open_
            if every_open is not None:
                every_open = {k: v for k, v in every_open.items() if k != entry.id}
                if entry.status == PENDING:
                    every_open[entry.id] = entry
                teams[every_open_key] = changed[every_open_key] = every_open
    for adjustment in adjustments:
        key = _person_key(generation, adjustment.user)
        own, own_adjustments = persons.get(key) or ({}, {})
        persons[key] = changed[key] = (own, {**own_adjustments, adjustment.id: adjustment})
    if changed:
        # A slice created here (a new person, a new month) is not in the generation's list of keys:
        # the next generation does not delete it, it expires.
        cache.set_many(changed, SLICES_TTL_SECONDS)
    if (channels is not None and channels != meta.channels) or (truncated is not None and truncated != meta.truncated):
        left = meta.expires_at - time.time()  # the meta key never outlives its slices
        if left > 1:
            cache.set(SLICES_META_KEY, replace(meta, channels=channels if channels is not None else meta.channels,
                                               truncated=truncated if truncated is not None else meta.truncated),
                      math.ceil(left))


def _chunks(items: list, size: int):
    for index in range(0, len(items), size):
        yield items[index:index + size]


def stored_ledger() -> Ledger | None:
    """The cached ledger (no pending merge) with our writes not folded in yet laid over it.

    Two small keys per call; the ledger itself is unpickled only when it was stored again (a read
    from Slack, a compaction), and the overlay only when a write came.
    """
    global _last_loaded, _last_base
    found = cache.get_many([LEDGER_VERSION_KEY, WRITES_SEQ_KEY])
    version = found.get(LEDGER_VERSION_KEY)
    if version is None:
        return None
    key = (version, found.get(WRITES_SEQ_KEY) or 0)
    last = _last_loaded
    if last is not None and last[0] == key:
        return last[1]
    base = _last_base[1] if _last_base is not None and _last_base[0] == version[0] else cache.get(LEDGER_KEY)
    if base is None:
        return None
    _last_base = (version[0], base)
    ledger = base
    if key[1] > version[1]:
        overlay = {entry.id: entry for entry, _, number in _writes()["items"].values() if number > version[1]}
        if overlay:
            ledger = replace(base, entries={**base.entries, **overlay})
    _last_loaded = (key, ledger)
    return ledger


# --- The pending set: one key per request, indexes of ids by person and by team and day ----------


def _pending_entry_key(request_id: str) -> str:
    return f"{PENDING_PREFIX}e:{request_id}"


# A pending entry is kept as the tuple of its fields, in LedgerEntry's order: it unpickles in about
# half the time of the dataclass (a submission or a preview may read hundreds of them), and every
# release can read it (see PENDING_PREFIX): LedgerEntry's fields are appended to, never reordered,
# renamed or removed.
_ENTRY_FIELDS = tuple(f.name for f in fields(LedgerEntry))
_ENTRY_REQUIRED = sum(1 for f in fields(LedgerEntry) if f.default is MISSING and f.default_factory is MISSING)


def entry_as_plain(entry: LedgerEntry) -> tuple:
    """An entry as plain values, for a cache value that any release reads (README "Upgrades", rule C)."""
    return _packed(entry)


def entry_from_plain(value) -> LedgerEntry | None:
    """`entry_as_plain`'s value, as any release stored it; None for anything else."""
    return _unpacked(value)


def _packed(entry: LedgerEntry) -> tuple:
    return tuple(getattr(entry, name) for name in _ENTRY_FIELDS)


def _unpacked(value) -> LedgerEntry | None:
    """A pending entry as any release stored it. One from a release whose LedgerEntry has more fields
    (appended since) is read without those; one from a release with fewer takes the defaults of the
    fields it lacks. Anything else is taken for missing."""
    if not isinstance(value, tuple):
        return None
    if len(value) == len(_ENTRY_FIELDS):
        return LedgerEntry(*value)
    if len(value) > len(_ENTRY_FIELDS):
        return LedgerEntry(*value[:len(_ENTRY_FIELDS)])
    if len(value) >= _ENTRY_REQUIRED:
        return LedgerEntry(*value)  # the dataclass fills in the defaults of the fields left out
    return None


def _pending_person_key(user: str) -> str:
    return f"{PENDING_PREFIX}u:{key_part(user)}"  # the person's request ids


def _pending_version_key(user: str) -> str:
    return f"{PENDING_PREFIX}v:{key_part(user)}"  # moves on with each request of the person added


def _pending_days_key(team: str) -> str:
    return f"{PENDING_PREFIX}t:{key_part(team)}"  # the team's days with pending requests


def _pending_bucket_key(team: str, bucket: str) -> str:
    return f"{PENDING_PREFIX}t:{key_part(team)}:{bucket}"  # the team's request ids meeting that day


def _pending_lock(team: str) -> str:
    """Guards the team's indexes on caches other than Redis (pending_indexes)."""
    return f"{PENDING_PREFIX}t:{key_part(team)}:lock"


def pending_key(team: str) -> str:
    """The key listing a team's days with pending requests (the indexes hang off it)."""
    return _pending_days_key(team)


def pending_entries(teams) -> list[LedgerEntry]:
    """Requests submitted to these teams and not yet posted (every one: for whole-ledger readers)."""
    teams = list(dict.fromkeys(teams))
    days, _ = pending_indexes.read([_pending_days_key(team) for team in teams])
    bucket_keys = [_pending_bucket_key(team, bucket) for team in teams for bucket in days[_pending_days_key(team)]]
    indexes, _ = pending_indexes.read(bucket_keys)
    ids = dict.fromkeys(request_id for key in bucket_keys for request_id in indexes[key])
    found = cache.get_many([_pending_entry_key(request_id) for request_id in ids]) if ids else {}
    entries = (_unpacked(found.get(_pending_entry_key(request_id))) for request_id in ids)
    return [entry for entry in entries if entry is not None]


def _pending_members(entry: LedgerEntry) -> dict[str, dict[str, float]]:
    """The index entries of a pending request: its id in its person's index and in its team's index
    of each day it meets, and those days in the team's list of days."""
    expires = time.time() + PENDING_TTL_SECONDS
    buckets = _days(entry.start, entry.end)
    members = {_pending_person_key(entry.user): {entry.id: expires},
               _pending_days_key(entry.team): {bucket: expires + PENDING_DAYS_SLACK_SECONDS for bucket in buckets}}
    for bucket in buckets:
        members[_pending_bucket_key(entry.team, bucket)] = {entry.id: expires}
    return members


def pending_add(entry: LedgerEntry, *, wait: float = 5) -> None:
    """Add a request to the pending set, unconditionally (HR recording leave, a delivery putting its
    request back). On Redis nobody waits; on other caches the team's lock, TimeoutError after `wait` s."""
    pending_indexes.add(_pending_members(entry), values={_pending_entry_key(entry.id): _packed(entry)},
                        timeout=PENDING_TTL_SECONDS + PENDING_DAYS_SLACK_SECONDS,
                        lock=_pending_lock(entry.team), wait=wait, version=_pending_version_key(entry.user))


def pending_submit(entry: LedgerEntry, *, seen_version: int | None, claim: tuple[str, object, float],
                   wait: float) -> str:
    """Add a checked submission to the pending set, only if its person's pending set is as the check saw
    it (`seen_version`, from `person_view`) and its claim (the form's de-duplication key) is free.

    pending_indexes.ADDED; CHANGED when another request of the person was added after the check read
    (check again); CLAIMED when the same form was already sent. Nothing is written unless ADDED.
    """
    return pending_indexes.add_if(_pending_members(entry), values={_pending_entry_key(entry.id): _packed(entry)},
                                  timeout=PENDING_TTL_SECONDS + PENDING_DAYS_SLACK_SECONDS,
                                  version=(_pending_version_key(entry.user), seen_version), claim=claim,
                                  lock=_pending_lock(entry.team), wait=wait)


def in_flight(request_id: str) -> bool:
    """Submitted and not posted yet: still in the pending set (its delivery task has not posted it)."""
    return cache.get(_pending_entry_key(request_id)) is not None


def pending_remove(request_id: str) -> None:
    """Take a request out of the pending set (posted, refused or given up). Nothing to do when it is not there."""
    entry = _unpacked(cache.get(_pending_entry_key(request_id)))
    if entry is None:
        return  # never added, already removed, or expired with its index entries
    keys = [_pending_person_key(entry.user),
            *(_pending_bucket_key(entry.team, bucket) for bucket in _days(entry.start, entry.end))]
    pending_indexes.remove(request_id, keys, delete=[_pending_entry_key(request_id)], lock=_pending_lock(entry.team),
                           timeout=PENDING_TTL_SECONDS + PENDING_DAYS_SLACK_SECONDS)
