"""Serving the same handlers over Socket Mode: no public URL, for local development
and for workspaces that cannot expose an endpoint.

Slack sends each payload over a WebSocket instead of an HTTP POST; there is no
signature to check (the app-level token authenticates the connection). The
acknowledgement carries what the HTTP response body would.
https://docs.slack.dev/apis/events-api/using-socket-mode
"""

import logging

from django.db import close_old_connections
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse

from slackbot import routing
from slackbot.payloads import BadPayload, check_interaction, require_text, slash_command_from_fields

logger = logging.getLogger(__name__)


def answer(request: SocketModeRequest) -> SocketModeResponse | None:
    """Route one Socket Mode envelope to its handler and build the acknowledgement; None: no
    acknowledgement (what a 5xx is over HTTP), so that Slack sends it again."""
    payload = request.payload if isinstance(request.payload, dict) else {}
    try:
        if request.type == "slash_commands":
            response = routing.dispatch_command(slash_command_from_fields(payload))
        elif request.type == "interactive":
            response = routing.dispatch_interaction(check_interaction(payload))
        elif request.type == "events_api":
            require_text(payload, "type")
            retry = None if request.retry_attempt is None else str(request.retry_attempt)
            response = routing.dispatch_event(payload, retry_num=retry)
        else:
            return SocketModeResponse(envelope_id=request.envelope_id)
    except BadPayload as exc:
        logger.warning("socket mode payload refused type=%s detail=%s", request.type, exc)
        return SocketModeResponse(envelope_id=request.envelope_id)
    if response.status >= 500:
        return None
    return SocketModeResponse(envelope_id=request.envelope_id, payload=response.body)


def listener(client, request: SocketModeRequest) -> None:
    """The SocketModeClient listener: answer, then send the acknowledgement."""
    close_old_connections()  # the listener runs on slack-sdk's threads, outside Django's request cycle
    try:
        acknowledgement = answer(request)
        if acknowledgement is not None:
            client.send_socket_mode_response(acknowledgement)
    finally:
        close_old_connections()
