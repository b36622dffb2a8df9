"""Reading the ledger back from Slack, caching it, and merging in-flight requests.

The ledger is every `timeoff_request` and `timeoff_adjustment` message in every
approvals channel any team uses or has used (DESIGN §5). It is read with
`conversations.history(include_all_metadata=true)`, page by page, kept in the
shared cache, and updated in place after our own writes, so the request path
reads it without calling Slack.

Requests submitted but not yet posted live in a short-lived *pending set* in
the same cache; every read merges them, so two overlapping submissions cannot
both pass.
"""

import logging
import time
import uuid
from dataclasses import dataclass, field, replace

from django.core.cache import cache
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from approvals.cache_lock import locked
from approvals.config_types import WorkspaceConfig
from approvals.directory import fetch_bot_user_id
from approvals.ledger_format import adjustment_from_metadata, entry_from_metadata
from approvals.rules import Adjustment, LedgerEntry

logger = logging.getLogger(__name__)

LEDGER_KEY = "ledger:v1"
# A small key that changes with every write of the ledger: each process keeps the last
# ledger it unpickled and reuses it while the version is unchanged, so the request path
# reads a few bytes instead of the whole ledger on every submission.
LEDGER_VERSION_KEY = "ledger:v1:version"
# The pending set is kept per team (one small value and one lock each), so submissions
# of different teams never wait on each other and no value grows with the company.
PENDING_KEY_PREFIX = "ledger:pending:v2:"
RECENT_KEY = "ledger:recent:v1"
# Our own writes are also kept apart for a while and merged into every read, so a
# re-read from Slack that started before a write cannot drop it from the cache.
RECENT_TTL_SECONDS = 15 * 60
LEDGER_LOCK = "lock:ledger"
LEDGER_TTL_SECONDS = 24 * 60 * 60
# A ledger older than this is re-read from Slack in the background when someone opens the form.
LEDGER_FRESH_SECONDS = 5 * 60
PENDING_TTL_SECONDS = 60 * 60
HISTORY_PAGE_SIZE = 200
# Bound the work of one read: 100 pages of 200 is 20,000 messages a channel.
MAX_PAGES_PER_CHANNEL = 100


class LedgerUnavailable(Exception):
    """Slack would not give us an approvals channel's history."""

    def __init__(self, channel: str, error: str):
        super().__init__(f"cannot read the history of <#{channel}> ({error})")
        self.channel = channel
        self.error = error


@dataclass(frozen=True)
class Ledger:
    entries: dict[str, LedgerEntry] = field(default_factory=dict)  # request id -> newest state
    adjustments: dict[str, Adjustment] = field(default_factory=dict)
    channels: tuple[str, ...] = ()
    oldest_ts: str | None = None  # the oldest ledger message found, across channels
    truncated: bool = False  # a channel had more pages than one read may fetch
    read_at: float = 0.0

    def for_user(self, user: str) -> list[LedgerEntry]:
        return [entry for entry in self.entries.values() if entry.user == user]

    def adjustments_for(self, user: str) -> list[Adjustment]:
        return [adjustment for adjustment in self.adjustments.values() if adjustment.user == user]

    def without(self, request_id: str) -> list[LedgerEntry]:
        """All entries but one: a request is never checked against itself."""
        return [entry for entry in self.entries.values() if entry.id != request_id]

    @property
    def is_fresh(self) -> bool:
        return time.time() - self.read_at < LEDGER_FRESH_SECONDS


def ledger_channels(config: WorkspaceConfig) -> tuple[str, ...]:
    """Every approvals channel, current and past, of every team, once each."""
    seen: dict[str, None] = {}
    for team in config.teams:
        for channel in team.ledger_channels:
            seen.setdefault(channel, None)
    return tuple(seen)


# --- Reading from Slack -------------------------------------------------------------------


def read_ledger(client: WebClient, config: WorkspaceConfig) -> Ledger:
    """Read every approvals channel from Slack and cache the result."""
    entries: dict[str, LedgerEntry] = {}
    entry_ts: dict[str, str] = {}
    adjustments: dict[str, Adjustment] = {}
    oldest: str | None = None
    truncated = False
    channels = ledger_channels(config)
    # Only our own bot writes the ledger: metadata another app (or a person's
    # workflow) posts in the channel must not be able to forge or change a request.
    author = fetch_bot_user_id(client)
    for channel in channels:
        messages, channel_truncated = read_channel(client, channel)
        truncated = truncated or channel_truncated
        for message in messages:
            if author is not None and message.get("user") != author:
                continue
            ts = message.get("ts", "")
            metadata = message.get("metadata")
            if (entry := entry_from_metadata(metadata)) is not None:
                # One message per request; should a retry ever have posted twice, the newest wins.
                if entry.id not in entries or ts > entry_ts[entry.id]:
                    entries[entry.id], entry_ts[entry.id] = entry, ts
            elif (adjustment := adjustment_from_metadata(metadata)) is not None:
                if adjustment.id not in adjustments or ts > entry_ts[adjustment.id]:
                    adjustments[adjustment.id], entry_ts[adjustment.id] = adjustment, ts
            else:
                continue
            oldest = ts if oldest is None or ts < oldest else oldest
    ledger = Ledger(entries=entries, adjustments=adjustments, channels=channels, oldest_ts=oldest,
                    truncated=truncated, read_at=time.time())
    store_ledger(ledger)
    logger.info("ledger read channels=%s entries=%s adjustments=%s truncated=%s",
                len(channels), len(entries), len(adjustments), truncated)
    return ledger


def read_channel(client: WebClient, channel: str) -> tuple[list[dict], bool]:
    """A channel's top-level messages, newest first, and whether pages were left unread."""
    messages: list[dict] = []
    cursor = None
    for _ in range(MAX_PAGES_PER_CHANNEL):
        try:
            response = client.conversations_history(
                channel=channel, limit=HISTORY_PAGE_SIZE, include_all_metadata=True, cursor=cursor
            )
        except SlackApiError as exc:
            raise LedgerUnavailable(channel, str(exc.response.get("error"))) from None
        messages.extend(response.get("messages", []))
        cursor = (response.get("response_metadata") or {}).get("next_cursor")
        if not response.get("has_more") or not cursor:
            return messages, False
    logger.warning("ledger channel=%s has more than %s pages; older entries not read", channel,
                   MAX_PAGES_PER_CHANNEL)
    return messages, True


def current_ledger(client: WebClient, config: WorkspaceConfig) -> Ledger:
    """The cached ledger covering every configured channel (plus pending), read from Slack when cold."""
    ledger = cached_ledger(config)
    if ledger is None:
        fresh = read_ledger(client, config)
        # The cache may drop a large value without an error (memcached over 1 MB): never return None.
        ledger = cached_ledger(config) or fresh
    return ledger


def refresh_if_stale(client: WebClient, config: WorkspaceConfig) -> None:
    """Background warm-up: re-read the ledger when it is cold, stale or misses a channel."""
    ledger = stored_ledger()
    if ledger is None or not ledger.is_fresh or set(ledger.channels) != set(ledger_channels(config)):
        read_ledger(client, config)


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
    recent = _live(cache.get(RECENT_KEY) or {})
    if not pending and not recent:
        return ledger
    # Pending entries fill gaps only (the posted state wins); our recent writes are the newest state.
    merged = {**{entry.id: entry for entry in pending}, **ledger.entries, **{e.id: e for e in recent}}
    return replace(ledger, entries=merged)


def record_entry(entry: LedgerEntry) -> None:
    """After we post or rewrite a request: update the cached ledger in place and drop it from pending."""
    with locked(LEDGER_LOCK):
        ledger = cache.get(LEDGER_KEY)
        if ledger is not None:
            store_ledger(replace(ledger, entries={**ledger.entries, entry.id: entry}))
        now = time.time()
        recent = {k: v for k, v in (cache.get(RECENT_KEY) or {}).items() if v[1] > now}
        recent[entry.id] = (entry, now + RECENT_TTL_SECONDS)
        cache.set(RECENT_KEY, recent, RECENT_TTL_SECONDS)
    pending_remove(entry.id, team=entry.team)


def record_adjustment(adjustment: Adjustment) -> None:
    with locked(LEDGER_LOCK):
        ledger = cache.get(LEDGER_KEY)
        if ledger is not None:
            adjustments = {**ledger.adjustments, adjustment.id: adjustment}
            store_ledger(replace(ledger, adjustments=adjustments))


_last_loaded: tuple[str, Ledger] | None = None  # (version, ledger) in this process


def store_ledger(ledger: Ledger) -> None:
    cache.set_many({LEDGER_KEY: ledger, LEDGER_VERSION_KEY: uuid.uuid4().hex}, LEDGER_TTL_SECONDS)


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
