"""Approve and Reject on the approvals message, and the reject-reason modal.

A click is acknowledged at once; the decision itself (who may decide, the
lock, re-reading the message, rewriting it, telling people) is the service's,
in a task. Reject must open its modal inside the request, while the trigger_id lives.
"""

import json
import logging

from slack_sdk.errors import SlackApiError, SlackClientError

from approvals import block_ids as ids
from approvals import messages, tasks
from approvals.config_fields import has_visible_text
from approvals.config_store import current_config
from approvals.request_services import Decision, request_decide_later
from approvals.rules import APPROVED, REJECTED
from approvals.selectors import reject_refusal_cached
from approvals.slack_clients import in_request_client
from slackbot import modals
from slackbot.payloads import (
    BadPayload,
    action_time,
    require_dict,
    require_text,
    typed_text,
)
from slackbot.responses import SlackResponse, ack, modal_not_opened_text, view_errors

logger = logging.getLogger(__name__)


MAX_ID_CHARS = 64


def button_request(action: dict) -> dict:
    """The button value: {"id": request id, "user": requester, "v": the request as shown}, and from App Home
    the request message's "channel" and "ts"."""
    try:
        value = json.loads(action.get("value") or "")
    except (TypeError, ValueError, RecursionError):  # not a string, not JSON, nested too deep
        value = None
    if not isinstance(value, dict) or not isinstance(value.get("id"), str) or not isinstance(value.get("user"), str):
        raise BadPayload("decision button without a request")
    # Ours are a uuid and a Slack id; a longer one is no request of ours, and would not fit in the reject
    # form's private_metadata (3,000 characters), leaving the approver told to click again for ever.
    if not 0 < len(value["id"]) <= MAX_ID_CHARS or not 0 < len(value["user"]) <= MAX_ID_CHARS:
        raise BadPayload("decision button naming no request of ours")
    return value


def message_location(payload: dict, request: dict) -> tuple[str, str]:
    """The request message: the one clicked, or (from App Home) the one the button names."""
    if isinstance(request.get("channel"), str) and isinstance(request.get("ts"), str) and request["ts"]:
        return request["channel"], request["ts"]
    container = require_dict(payload, "container")
    return require_text(container, "channel_id"), require_text(container, "message_ts")


def told_in(payload: dict, request_channel: str) -> str | None:
    """Where to answer the approver (Decision.told_in): None where they clicked the request's own message,
    else where the click was — "" (a DM) from App Home, which has no channel (its buttons name the
    request's channel, which the approver is not looking at)."""
    channel = payload.get("channel")
    channel = channel.get("id") if isinstance(channel, dict) else None
    if not isinstance(channel, str) or not channel:
        container = payload.get("container")
        channel = container.get("channel_id") if isinstance(container, dict) else None
    channel = channel if isinstance(channel, str) else ""
    return None if channel == request_channel else channel


def action_approve(payload: dict, action: dict) -> SlackResponse:
    request = button_request(action)
    channel, ts = message_location(payload, request)
    seen = request.get("v")
    where = told_in(payload, channel)
    request_decide_later(Decision(request_id=request["id"], channel=channel, ts=ts, approver=payload["user"]["id"],
                                  status=APPROVED, told_in=where,
                                  pressed_at=action_time(action) if where == "" else None),  # App Home: by DM
                         seen=seen[:64] if isinstance(seen, str) else None)
    return ack()


def action_reject(payload: dict, action: dict) -> SlackResponse:
    request = button_request(action)
    channel, ts = message_location(payload, request)
    clicker = payload["user"]["id"]
    answer_in = told_in(payload, channel)
    where = channel if answer_in is None else answer_in
    config = current_config()
    refusal, seen = reject_refusal_cached(config, channel=channel, requester=request["user"],
                                          request_id=request["id"], clicker=clicker)
    if refusal:
        tasks.tell_user.enqueue(where, clicker, refusal)
        return ack()
    metadata = {"id": request["id"], "user": request["user"], "channel": channel, "ts": ts,
                **({} if answer_in is None else {"told_in": answer_in})}
    # Its dates (not its type, which may be private: this form opens from App Home too) tell two requests of
    # one person apart.
    dates = f"{messages.entry_dates(seen)}, " if seen is not None else ""
    view = modals.reject_modal(private_metadata=metadata, requester=request["user"],
                               summary=f"{dates}they will be told your reason.")
    try:
        in_request_client().views_open(trigger_id=require_text(payload, "trigger_id"), view=view)
    except (SlackApiError, SlackClientError, OSError) as exc:
        logger.warning("reject modal not opened user=%s error=%s", clicker, type(exc).__name__)
        tasks.tell_user.enqueue(where, clicker, modal_not_opened_text(exc, form="the reject form",
                                                                      again="click Reject again"))
    return ack()


def submit_reject_reason(payload: dict) -> SlackResponse:
    view = require_dict(payload, "view")
    try:
        metadata = json.loads(view.get("private_metadata") or "")
        request_id, channel, ts = metadata["id"], metadata["channel"], metadata["ts"]
    except (ValueError, KeyError, TypeError, RecursionError):
        raise BadPayload("reject modal without its request") from None
    if not all(isinstance(value, str) and value for value in (request_id, channel, ts)):
        raise BadPayload("reject modal without its request")
    reason = nested(view, "state", "values", ids.REASON_BLOCK, ids.REASON_ACTION, "value")
    reason = typed_text(reason) if isinstance(reason, str) else None
    if reason is None or not has_visible_text(reason):
        return view_errors({ids.REASON_BLOCK: "Say why, so the requester knows what to change."})
    answer_in = metadata.get("told_in")  # absent: clicked on the request's message (or an older modal)
    # Cut to the form's max_length (MAX_REASON_CHARS), which Slack's own form enforces but a payload need not:
    # the reason goes into the ledger's metadata and, escaped, into the thread reply and the requester's DM, and
    # a longer one made those fail for good (msg_too_long), so the requester never heard of the rejection.
    request_decide_later(Decision(request_id=request_id, channel=channel, ts=ts, approver=payload["user"]["id"],
                                  status=REJECTED, reason=reason.strip()[:messages.MAX_REASON_CHARS],
                                  told_in=answer_in if isinstance(answer_in, str) else None))
    return ack()


def nested(value, *keys):
    """value[k1][k2]…, or None as soon as a level is missing or not an object."""
    for key in keys:
        value = value.get(key) if isinstance(value, dict) else None
    return value
