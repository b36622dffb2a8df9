"""Routing tables: which handler answers which Slack payload.

Commands route on their first word, interactions on action_id / callback_id,
events on their type. Unknown ids are acknowledged (or answered with help),
never an error: a stale button must not produce a 500.
"""

import logging

from approvals import block_ids as ids
from approvals import observe
from approvals.task_backend import enqueued_once
from slackbot import (
    balance_command,
    commands,
    decision_handlers,
    events,
    leave_handlers,
    request_form,
    team_out_command,
)
from slackbot.payloads import BadPayload, SlashCommand, require_dict, require_text
from slackbot.responses import SlackResponse, ack

logger = logging.getLogger(__name__)

COMMAND_ROUTES = {
    "help": commands.command_help,
    "balance": balance_command.command_balance,
    "list": leave_handlers.command_list,
    "cancel": leave_handlers.command_cancel,
    "for": leave_handlers.command_for,
    "who": team_out_command.command_who,
}

ACTION_ROUTES = {
    ids.TYPE_ACTION: request_form.action_update_preview,
    ids.START_ACTION: request_form.action_update_preview,
    ids.END_ACTION: request_form.action_update_preview,
    ids.HALF_ACTION: request_form.action_update_preview,
    ids.APPROVE_ACTION: decision_handlers.action_approve,
    ids.REJECT_ACTION: decision_handlers.action_reject,
    ids.EDIT_ACTION: leave_handlers.action_edit,
    ids.WITHDRAW_ACTION: leave_handlers.action_withdraw,
    ids.CANCEL_ACTION: leave_handlers.action_cancel,
    ids.NEW_REQUEST_ACTION: leave_handlers.action_new_request,
}

VIEW_SUBMISSION_ROUTES = {
    ids.REQUEST_MODAL: request_form.submit_request,
    ids.REJECT_MODAL: decision_handlers.submit_reject_reason,
}

SHORTCUT_ROUTES = {
    ids.REQUEST_SHORTCUT: request_form.shortcut_request,
}

EVENT_ROUTES = {
    "app_home_opened": leave_handlers.event_app_home_opened,
    "app_uninstalled": events.event_access_revoked,
    "tokens_revoked": events.event_access_revoked,
    "member_joined_channel": events.event_membership_changed,
    "member_left_channel": events.event_membership_changed,
    "subteam_members_changed": events.event_membership_changed,
    "user_change": events.event_user_change,
    **{kind: events.event_channel_lost for kind in events.CHANNEL_LOST},
    "channel_unarchive": events.event_channel_back,
    "group_unarchive": events.event_channel_back,
}


def dispatch_command(command: SlashCommand) -> SlackResponse:
    """`/timeoff help` and friends by their first word; anything else opens (and pre-fills) the form."""
    words = command.words
    handler = COMMAND_ROUTES.get(words[0].lower() if words else "", request_form.command_request)
    observe.label_request("command", handler.__name__, team=command.team_id, user=command.user_id)
    return handler(command)


def dispatch_interaction(payload: dict) -> SlackResponse:
    kind = payload["type"]
    if kind == "block_actions":
        actions = payload.get("actions")
        if not isinstance(actions, list) or not actions or not isinstance(actions[0], dict):
            raise BadPayload("block_actions without actions")
        action = actions[0]
        observe.label_request(kind, action.get("action_id"), team=payload.get("team"), user=payload.get("user"))
        handler = ACTION_ROUTES.get(require_text(action, "action_id"))
        if handler is None:
            logger.info("ignored action action_id=%s", action.get("action_id"))
            return ack()
        return handler(payload, action)
    if kind == "view_submission":
        view = require_dict(payload, "view")
        observe.label_request(kind, view.get("callback_id"), team=payload.get("team"), user=payload.get("user"))
        handler = VIEW_SUBMISSION_ROUTES.get(require_text(view, "callback_id"))
        if handler is None:
            logger.info("ignored view_submission callback_id=%s", view.get("callback_id"))
            return ack()
        return handler(payload)
    if kind == "shortcut":  # a global shortcut (a message shortcut is "message_action": none of ours)
        callback_id = payload.get("callback_id")
        observe.label_request(kind, callback_id, team=payload.get("team"), user=payload.get("user"))
        handler = SHORTCUT_ROUTES.get(callback_id) if isinstance(callback_id, str) else None
        if handler is None:
            logger.info("ignored shortcut callback_id=%s", callback_id)
            return ack()
        return handler(payload)
    # view_closed, message shortcuts, and future types: acknowledge.
    return ack()


def dispatch_event(envelope: dict, retry_num: str | None = None) -> SlackResponse:
    kind = envelope["type"]
    if kind == "url_verification":
        return SlackResponse({"challenge": require_text(envelope, "challenge")})
    if kind == "app_rate_limited":
        # Slack stopped sending us events for a minute (over 30,000 an hour): those are not sent again.
        # https://docs.slack.dev/apis/events-api/#rate-limiting
        logger.warning("slack paused our events for a minute (app_rate_limited) minute_rate_limited=%s",
                       envelope.get("minute_rate_limited"))
        return ack()
    if kind != "event_callback":
        return ack()
    event = require_dict(envelope, "event")
    event_id = require_text(envelope, "event_id")
    event_type = event.get("type")
    observe.label_request("event", event_type, team=envelope.get("team_id"), user=event.get("user"))
    handler = EVENT_ROUTES.get(event_type) if isinstance(event_type, str) else None  # a list is unhashable
    if handler is None:
        return ack()  # nothing to do, once or again
    if events.deduplicated_by_its_task(event_type):
        with enqueued_once(events.task_key(event_id)) as once:
            response = handler(event, envelope)
        if once.duplicate:
            logger.info("duplicate event event_id=%s retry_num=%s", event_id, retry_num)
        return response
    if not events.first_delivery(event_id):
        earlier = events.earlier_delivery(event_id)
        if earlier == events.IN_HAND:
            logger.info("event delivered again while its first delivery may still be handled event_id=%s "
                        "retry_num=%s", event_id, retry_num)
            return SlackResponse(status=503)  # Slack tries again later (events.STILL_HANDLING_SECONDS)
        if earlier == events.DUPLICATE:
            logger.info("duplicate event event_id=%s retry_num=%s", event_id, retry_num)
            return ack()
        logger.warning("event's first delivery never finished; handling it now event_id=%s", event_id)
    try:
        response = handler(event, envelope)
    except Exception:
        # Not handled (the database down at the enqueue, say): Slack retries an event answered with a
        # 5xx, and that retry must not be taken for a duplicate of a delivery that did nothing.
        events.delivery_failed(event_id)
        raise
    events.delivery_handled(event_id)
    return response
