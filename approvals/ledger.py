"""Reading and writing the ledger in Slack: one approvals-channel message per request,
its state in the message metadata (DESIGN §5).

Every function takes the `WebClient` to use, so the same code runs with the
background client in tasks and against the fake Slack in tests.
"""

import logging
from dataclasses import dataclass

from slack_sdk import WebClient

from approvals.ledger_format import entry_from_metadata, request_metadata
from approvals.rules import LedgerEntry

logger = logging.getLogger(__name__)

HISTORY_PAGE_SIZE = 200
# A delivery looks for its own request among the newest messages only: it was
# posted minutes ago at most, never thousands of messages back.
RECENT_PAGES = 3


@dataclass(frozen=True)
class LedgerMessage:
    channel: str
    ts: str
    entry: LedgerEntry
    text: str
    blocks: tuple = ()


def post_request(client: WebClient, *, channel: str, entry: LedgerEntry, text: str, blocks: list[dict]) -> str:
    """Post a request to its approvals channel; returns the message ts."""
    response = client.chat_postMessage(
        channel=channel, text=text, blocks=blocks, metadata=request_metadata(entry), unfurl_links=False
    )
    return response["ts"]


def update_request(client: WebClient, *, channel: str, ts: str, entry: LedgerEntry, text: str, blocks: list[dict]):
    client.chat_update(channel=channel, ts=ts, text=text, blocks=blocks, metadata=request_metadata(entry))


def read_request_at(client: WebClient, *, channel: str, ts: str) -> LedgerMessage | None:
    """The request message at exactly `ts`, re-read from Slack with its metadata.

    A block_actions payload does not reliably carry metadata (slack-sdk #1501),
    and a deleted message makes history return the one before it: check the ts.
    """
    response = client.conversations_history(
        channel=channel, latest=ts, inclusive=True, limit=1, include_all_metadata=True
    )
    for message in response.get("messages", []):
        if message.get("ts") == ts:
            entry = entry_from_metadata(message.get("metadata"))
            if entry is not None:
                return LedgerMessage(channel=channel, ts=ts, entry=entry, text=message.get("text", ""),
                                     blocks=tuple(message.get("blocks") or ()))
    return None


def find_recent_request(client: WebClient, *, channel: str, request_id: str) -> LedgerMessage | None:
    """Look for a request among the channel's newest messages (delivery idempotency)."""
    cursor = None
    for _ in range(RECENT_PAGES):
        response = client.conversations_history(
            channel=channel, limit=HISTORY_PAGE_SIZE, include_all_metadata=True, cursor=cursor
        )
        for message in response.get("messages", []):
            entry = entry_from_metadata(message.get("metadata"))
            if entry is not None and entry.id == request_id:
                return LedgerMessage(channel=channel, ts=message["ts"], entry=entry, text=message.get("text", ""))
        cursor = (response.get("response_metadata") or {}).get("next_cursor")
        if not response.get("has_more") or not cursor:
            return None
    return None
