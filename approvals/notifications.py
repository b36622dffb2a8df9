"""Telling people things in Slack: DMs, ephemeral notes, announcements, each at most once.

`once(key, effect)` claims the key (`cache.add`, atomic in Redis and in the
database cache) before the effect runs, so two workers running the same task
cannot both send it. Where a crash can still drop or repeat an effect:

- A process killed after the claim and before Slack answered leaves the claim:
  the effect is dropped (at most once). We prefer a lost DM to a repeated one.
- An effect that fails with an exception gives its claim back, so the task's
  next attempt sends it.
- Slack may have delivered a message whose answer was lost (a timeout): the
  claim is given back and the next attempt sends it again (a repeat).

A failure of Slack after the ledger holds the request or decision is a
follow-up problem, never a failure of the request (DESIGN §8): permanent errors
are logged and recorded for HR; passing ones are raised so the task retries.
"""

import logging

from django.core.cache import cache
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from approvals import directory, messages
from approvals.cache_lock import claim
from approvals.config_types import LeaveTypeConfig, TeamConfig
from approvals.models import DeliveryProblem
from approvals.rules import LedgerEntry
from approvals.task_queue import transient

logger = logging.getLogger(__name__)

ONCE_MARK_SECONDS = 30 * 24 * 60 * 60


def once(key: str, effect) -> None:
    """Run `effect()` unless it was claimed for this key before; an exception gives the claim back."""
    mark = f"done:{key}"
    if not claim(mark, ONCE_MARK_SECONDS):
        return
    try:
        effect()
    except BaseException:
        cache.delete(mark)
        raise


def send_dm(client: WebClient, user: str, text: str, blocks: list | None = None) -> dict | None:
    """A direct message from the app (posting to a user id opens the DM); none to a deactivated account."""
    if directory.is_deactivated(client, user):
        logger.info("no DM to deactivated user=%s", user)
        return None
    return client.chat_postMessage(channel=user, text=text, **({"blocks": blocks} if blocks else {}))


def post_ephemeral(client: WebClient, channel: str, user: str, text: str) -> None:
    try:
        client.chat_postEphemeral(channel=channel, user=user, text=text)
    except SlackApiError as exc:
        if transient(exc):
            raise
        # The channel may be gone or the user not in it: a DM still reaches them.
        logger.warning("ephemeral failed channel=%s error=%s; sending a DM", channel, exc.response.get("error"))
        send_dm(client, user, text)


def announce(client: WebClient, team: TeamConfig, entry: LedgerEntry, leave_type: LeaveTypeConfig | None) -> None:
    if team.announce_channel:
        client.chat_postMessage(channel=team.announce_channel, text=messages.announcement_text(entry, leave_type))


def followup(key: str, effect, *, entry: LedgerEntry, what: str, channel: str) -> None:
    """A follow-up of a request already in the ledger: sent once; a permanent refusal is told to HR, not raised."""
    try:
        once(key, effect)
    except SlackApiError as exc:
        if transient(exc):
            raise
        followup_problem(key, entry, what=what, channel=channel, error=str(exc.response.get("error")))


def record_problem(*, request_id: str, user: str, channel: str, error: str, summary: str, team: str = "") -> None:
    """Something a person asked for was refused by Slack for good: a log line and a row HR sees."""
    logger.error("refused for good id=%s user=%s channel=%s error=%s", request_id, user, channel, error)
    _problem_row(request_id=request_id, user=user, team=team, channel=channel, error=error, summary=summary)


def followup_problem(key: str, entry: LedgerEntry, *, what: str, channel: str, error: str) -> None:
    """Slack refused a follow-up for good: a log line and a row HR sees beside delivery problems, once."""

    def record() -> None:
        logger.error("follow-up failed id=%s user=%s what=%s channel=%s error=%s", entry.id, entry.user, what,
                     channel, error)
        _problem_row(request_id=entry.id, user=entry.user, team=entry.team, channel=channel, error=error,
                     summary=f"The request is {entry.status} in the ledger, but {what} failed.")

    once(f"followup-problem:{key}", record)


def followups_lost(*, request_id: str, user: str, channel: str, error: str, what: str) -> None:
    """`what` is in the ledger, but the task sending its follow-ups (the thread reply, the DMs, the
    announcement) gave up with some of them unsent: Slack kept failing. A success is not reported as a
    failure, nor the lost follow-ups as nothing (DESIGN §8): a log line and a row HR sees."""
    logger.error("follow-ups failed for good id=%s user=%s error=%s", request_id, user, error)
    _problem_row(request_id=request_id, user=user, team="", channel=channel, error=f"follow-ups: {error}",
                 summary=f"{what} is in the ledger, but not all of its follow-ups (the thread reply, the DMs, "
                         f"the announcement) could be sent: Slack kept failing ({error}).")


def _problem_row(*, request_id: str, user: str, team: str, channel: str, error: str, summary: str) -> None:
    DeliveryProblem.objects.create(request_id=request_id[:64], user=user[:32], team=team[:100], channel=channel[:32],
                                   error=error[:100], summary=summary)


RECEIPT_LOCATION_SECONDS = 400 * 24 * 60 * 60  # past the leave year: the receipt's buttons work as long


def send_receipt(client: WebClient, entry: LedgerEntry, leave_type: LeaveTypeConfig | None, approvers) -> None:
    """The receipt DM with its buttons (edit, withdraw, cancel); rewritten in place once we know where it is."""
    text = messages.receipt_text(entry, leave_type, approvers)
    blocks = messages.receipt_blocks(entry, leave_type, approvers)
    where = cache.get(f"receipt-at:{entry.id}")
    if where:
        client.chat_update(channel=where[0], ts=where[1], text=text, blocks=blocks)
        return
    response = send_dm(client, entry.user, text, blocks)
    if response is not None:
        cache.set(f"receipt-at:{entry.id}", (response["channel"], response["ts"]), RECEIPT_LOCATION_SECONDS)
