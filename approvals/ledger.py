"""Reading and writing the ledger in Slack: one approvals-channel message per request,
its state in the message metadata (DESIGN §5).

Every function takes the `WebClient` to use, so the same code runs with the
background client in tasks and against the fake Slack in tests.

Only our own bot writes the ledger (DESIGN §8): a message carrying our metadata
that someone else posted (a person's workflow, another app) is never taken as a
request, and when our bot's user id is unknown the ledger is unavailable rather
than open to every author.
"""

import logging
from dataclasses import dataclass, replace

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from approvals import metrics, slack_pauses
from approvals.directory import fetch_bot_user_id
from approvals.ledger_format import REQUEST_EVENT_TYPE, entry_from_metadata, request_metadata
from approvals.rules import LedgerEntry
from approvals.task_queue import SlackRefusal, error_code, progress_made, transient

logger = logging.getLogger(__name__)

HISTORY_PAGE_SIZE = 200
# A delivery looks for its own request among the newest messages only: it was
# posted minutes ago at most, never thousands of messages back.
RECENT_PAGES = 3
# A search from a moment on (find_recent_request's `since`): Slack's clock and ours may differ by this
# much, and every page since is read, up to this many (a safety bound: 15-message pages hold 750).
CLOCK_SKEW_SECONDS = 120
SINCE_PAGES_MAX = 50
BOT_UNKNOWN = "bot_user_unknown"


class LedgerUnavailable(SlackRefusal):
    """Slack will not give us the ledger for good: a permanent refusal, not a passing fault.

    Passing faults (rate limits after the client's retries, 5xx, timeouts) are
    raised as they are, so the task retries; this one is told to people, as Slack's refusal.
    """

    def __init__(self, channel: str, error: str):
        super().__init__(f"cannot read the history of <#{channel}> ({error})", error)
        self.channel = channel


@dataclass(frozen=True)
class LedgerMessage:
    channel: str
    ts: str
    entry: LedgerEntry
    text: str
    blocks: tuple = ()


def ledger_author(client: WebClient, channel: str) -> str:
    """Our bot's user id: the only author the ledger trusts. LedgerUnavailable when Slack will not say."""
    author = fetch_bot_user_id(client)
    if author is None:
        metrics.ledger_unavailable(BOT_UNKNOWN)
        raise LedgerUnavailable(channel, BOT_UNKNOWN)
    return author


METADATA_DROPPED = "metadata_dropped"


def post_request(client: WebClient, *, channel: str, entry: LedgerEntry, text: str, blocks: list[dict]) -> str:
    """Post a request to its approvals channel; returns the message ts.

    Slack posts a message whose metadata it cannot use without it, and only warns
    (https://docs.slack.dev/messaging/message-metadata). Such a message is no record: the ledger cannot
    see it, and its buttons would find no request. It is deleted, and SlackApiError(`metadata_dropped`)
    raised, a refusal for good: the requester and HR are told, as for any post Slack refuses.
    """
    response = client.chat_postMessage(
        channel=channel, text=text, blocks=blocks, metadata=request_metadata(entry), unfurl_links=False
    )
    warnings = log_warnings(response, "chat.postMessage", channel=channel, request_id=entry.id)
    if any("metadata" in warning for warning in warnings):
        _delete_recordless(client, channel=channel, ts=response["ts"], request_id=entry.id)
        raise SlackApiError(f"Slack dropped the metadata of request {entry.id}",
                            {"ok": False, "error": METADATA_DROPPED, "warnings": warnings})
    progress_made()
    return response["ts"]


# A post Slack kept without its metadata is deleted in the call, tried again after a passing fault: the
# delivery is refused for good right after, and no later attempt knows the message is there.
DELETE_TRIES = 3


def _delete_recordless(client: WebClient, *, channel: str, ts: str, request_id: str) -> None:
    for tried in range(1, DELETE_TRIES + 1):
        try:
            client.chat_delete(channel=channel, ts=ts)
            return
        except (SlackApiError, SlackClientError, OSError) as exc:
            if tried > 1 and isinstance(exc, SlackApiError) and exc.response.get("error") == "message_not_found":
                return  # an earlier try deleted it, and its answer was lost
            if tried == DELETE_TRIES or not transient(exc):
                logger.error("request id=%s posted without its metadata and not deleted channel=%s ts=%s error=%s",
                             request_id, channel, ts, error_code(exc))
                return
            slack_pauses.wait(tried)


def update_request(client: WebClient, *, channel: str, ts: str, entry: LedgerEntry, text: str, blocks: list[dict]):
    response = client.chat_update(channel=channel, ts=ts, text=text, blocks=blocks, metadata=request_metadata(entry))
    log_warnings(response, "chat.update", channel=channel, request_id=entry.id)
    progress_made()


def log_warnings(response, method: str, *, channel: str, request_id: str) -> list[str]:
    """Slack answers `ok` and drops what it could not use (metadata among it) with a warning: say so,
    and return the warnings.

    The warnings come as `response_metadata.warnings` (and a comma-separated
    top-level `warning`), the details as `response_metadata.messages`.
    """
    metadata = response.get("response_metadata") or {}
    warnings = [str(w) for w in metadata.get("warnings") or []]
    warnings += [w for w in str(response.get("warning") or "").split(",") if w and w not in warnings]
    if warnings:
        logger.warning("slack warned method=%s channel=%s id=%s warnings=%s messages=%s", method, channel,
                       request_id, ",".join(warnings), "; ".join(metadata.get("messages") or []))
    return warnings


class RequestUnreadable(Exception):
    """Our message at the ts holds a request this version cannot read (another version's metadata: a
    release rolled back after writing it). Not deleted, and not to be rewritten: left as it is."""


# Empty pages with more to come read past before a one-message read gives up (and takes it as deleted).
EMPTY_PAGES_MAX = 5


def read_request_at(client: WebClient, *, channel: str, ts: str) -> LedgerMessage | None:
    """The request message at exactly `ts`, re-read from Slack with its metadata.

    A block_actions payload does not reliably carry metadata (slack-sdk #1501),
    and a deleted message makes history return the one before it: check the ts.
    A message someone else posted is not a request of ours. Raises RequestUnreadable when the
    message is ours and a request, but not one this version reads.
    """
    author = ledger_author(client, channel)
    # Slack may answer a page with fewer messages than asked, even none, with more to come: the next
    # pages are read until one holds a message (the one at `ts`, or the one before a deleted one).
    pages = client.conversations_history(
        channel=channel, latest=ts, inclusive=True, limit=1, include_all_metadata=True
    )
    messages = []
    for number, page in enumerate(pages, start=1):
        messages = page.get("messages") or []
        if messages or not page.get("has_more"):
            break
        if number >= EMPTY_PAGES_MAX:
            # Still nothing, with more to come: not "deleted" (which would tell an approver the request is
            # gone), but a passing fault (an OSError, as a timeout is): the task tries again later.
            raise TimeoutError(f"Slack answered {number} empty pages for the message at {channel}/{ts}")
    for message in messages:
        if message.get("ts") == ts and message.get("user") == author:
            metadata = message.get("metadata")
            entry = entry_from_metadata(metadata)
            if entry is not None:
                return LedgerMessage(channel=channel, ts=ts, entry=replace(entry, channel=channel, ts=ts),
                                     text=message.get("text", ""), blocks=tuple(message.get("blocks") or ()))
            if isinstance(metadata, dict) and metadata.get("event_type") == REQUEST_EVENT_TYPE:
                raise RequestUnreadable(f"request at {channel}/{ts}: metadata of another version")
    return None


def find_recent_request(client: WebClient, *, channel: str, request_id: str,
                        since: float | None = None) -> LedgerMessage | None:
    """Look for a request among the channel's newest messages (delivery idempotency); ours only.

    `since` (Unix seconds): it cannot be older than that (its post was attempted then), and every message
    since is read, however short Slack's pages (15 messages for apps distributed outside the
    Marketplace; fewer than asked at any time, says Slack), up to SINCE_PAGES_MAX pages. Without it,
    the newest RECENT_PAGES pages.
    """
    author = ledger_author(client, channel)
    window = {"oldest": f"{max(since - CLOCK_SKEW_SECONDS, 0):.6f}"} if since is not None else {}
    # A SlackResponse iterates over its pages (following next_cursor), the first being itself.
    pages = client.conversations_history(channel=channel, limit=HISTORY_PAGE_SIZE, include_all_metadata=True,
                                         **window)
    held = 0  # pages that held messages: an empty page (Slack may send one, with more to come) counts for none
    for number, page in enumerate(pages, start=1):
        for message in page.get("messages", []):
            if message.get("user") != author:
                continue
            entry = entry_from_metadata(message.get("metadata"))
            if entry is not None and entry.id == request_id:
                return LedgerMessage(channel=channel, ts=message["ts"], text=message.get("text", ""),
                                     entry=replace(entry, channel=channel, ts=message["ts"]))
        held += bool(page.get("messages"))
        if held >= (SINCE_PAGES_MAX if since is not None else RECENT_PAGES) or number >= SINCE_PAGES_MAX:
            break
    return None
