"""Requests signed exactly as Slack signs them, with bodies shaped like Slack's.

https://docs.slack.dev/authentication/verifying-requests-from-slack/ — the base
string is `v0:{timestamp}:{raw body}`, HMAC-SHA256 with the signing secret.
"""

import hashlib
import hmac
import json
import time
import uuid
from urllib.parse import urlencode

from django.conf import settings
from slack_sdk.signature import SignatureVerifier

from fake_slack.server import message_refusal

FORM = "application/x-www-form-urlencoded"
SLACK_TEAM = "T_ACME"
APP_ID = "A_TIMEOFF"


def new_trigger_id() -> str:
    """Slack's shape (`<seconds>.<team number>.<hex>`); each one is single-use."""
    return f"{int(time.time())}.4744562912.{uuid.uuid4().hex}"


def signature_headers(body: bytes, *, secret: str | None = None, timestamp: int | None = None) -> dict:
    secret = settings.SLACK_SIGNING_SECRET if secret is None else secret
    timestamp = int(time.time()) if timestamp is None else timestamp
    try:
        signature = SignatureVerifier(secret).generate_signature(timestamp=str(timestamp), body=body.decode())
    except UnicodeDecodeError:
        # Slack sends only UTF-8, which slack-sdk signs as text; bytes that are not (a hostile client's, in
        # the fuzz tests) are signed as raw bytes, as whoever held the secret could.
        digest = hmac.new(secret.encode(), b"v0:%d:" % timestamp + body, hashlib.sha256).hexdigest()
        signature = f"v0={digest}"
    return {"X-Slack-Request-Timestamp": str(timestamp), "X-Slack-Signature": signature}


def post_signed(client, path: str, body: bytes | str, *, content_type: str = FORM, headers: dict | None = None, **sign):
    body = body.encode() if isinstance(body, str) else body
    all_headers = signature_headers(body, **sign) | (headers or {})
    return client.post(path, data=body, content_type=content_type, headers=all_headers)


def command_fields(text: str = "", *, user_id: str, command: str = "/timeoff", channel_id: str = "C_GENERAL",
                   trigger_id: str | None = None, response_url: str = "https://hooks.slack.com/commands/T_ACME/1/abc") -> dict:
    """The form fields of a slash command, in Slack's order."""
    return {
        "token": "verification-token-unused",
        "team_id": SLACK_TEAM,
        "team_domain": "acme",
        "channel_id": channel_id,
        "channel_name": "general",
        "user_id": user_id,
        "user_name": user_id.lower(),
        "command": command,
        "text": text,
        "api_app_id": APP_ID,
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": trigger_id or new_trigger_id(),
    }


def post_command(client, text: str = "", *, user_id: str, **fields):
    """`/timeoff text`, signed; its answer is held to what Slack shows (the limits a posted message meets)."""
    response = post_signed(client, "/slack/commands", urlencode(command_fields(text, user_id=user_id, **fields)))
    if response.status_code == 200 and response.get("Content-Type", "").startswith("application/json"):
        refusal = message_refusal(response.json())
        assert refusal is None, f"Slack would not show this answer: {refusal}"
    return response


def post_interaction(client, payload: dict, **sign):
    return post_signed(client, "/slack/interactions", urlencode({"payload": json.dumps(payload)}), **sign)


def post_event(client, envelope: dict, *, retry_num: int | None = None):
    headers = {}
    if retry_num is not None:
        headers = {"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": "http_timeout"}
    return post_signed(client, "/slack/events", json.dumps(envelope), content_type="application/json", headers=headers)


def slack_user(user_id: str) -> dict:
    return {"id": user_id, "username": user_id.lower(), "name": user_id.lower(), "team_id": SLACK_TEAM}


def block_actions_payload(*, user_id: str, action_id: str, value: str, block_id: str = "decision",
                          channel_id: str = "C_ENG_APPROVALS", message_ts: str = "1766000000.000100",
                          message: dict | None = None, response_url: str = "https://hooks.slack.com/actions/T_ACME/1/x") -> dict:
    """A button click on a message, as Slack sends it."""
    return {
        "type": "block_actions",
        "user": slack_user(user_id),
        "api_app_id": APP_ID,
        "token": "verification-token-unused",
        "container": {"type": "message", "message_ts": message_ts, "channel_id": channel_id, "is_ephemeral": False},
        "trigger_id": new_trigger_id(),
        "team": {"id": SLACK_TEAM, "domain": "acme"},
        "channel": {"id": channel_id, "name": "approvals"},
        "message": message or {"type": "message", "ts": message_ts, "text": "", "blocks": []},
        "response_url": response_url,
        "actions": [
            {"action_id": action_id, "block_id": block_id, "value": value, "type": "button",
             "action_ts": f"{time.time():.6f}", "text": {"type": "plain_text", "text": "Approve", "emoji": True}}
        ],
    }


def shortcut_payload(*, user_id: str, callback_id: str) -> dict:
    """A global shortcut picked from Slack's shortcuts menu or search: no channel, no message."""
    return {
        "type": "shortcut",
        "token": "verification-token-unused",
        "action_ts": f"{time.time():.6f}",
        "team": {"id": SLACK_TEAM, "domain": "acme"},
        "user": {"id": user_id, "username": user_id.lower(), "team_id": SLACK_TEAM},
        "is_enterprise_install": False,
        "enterprise": None,
        "callback_id": callback_id,
        "trigger_id": new_trigger_id(),
    }


def view_submission_payload(*, user_id: str, view: dict, values: dict, view_id: str = "V_TEST",
                            view_hash: str = "1766000000.abcdef") -> dict:
    """A modal submission: `view` as we opened it, `values` as Slack's state.values."""
    submitted = dict(view)
    submitted.update({"id": view_id, "hash": view_hash, "team_id": SLACK_TEAM, "state": {"values": values},
                      "private_metadata": view.get("private_metadata", ""), "callback_id": view.get("callback_id", "")})
    return {
        "type": "view_submission",
        "team": {"id": SLACK_TEAM, "domain": "acme"},
        "user": slack_user(user_id),
        "api_app_id": APP_ID,
        "token": "verification-token-unused",
        "trigger_id": new_trigger_id(),
        "view": submitted,
        "response_urls": [],
    }


def event_envelope(event: dict, *, event_id: str = "Ev_TEST1") -> dict:
    return {
        "token": "verification-token-unused",
        "team_id": SLACK_TEAM,
        "api_app_id": APP_ID,
        "event": event,
        "type": "event_callback",
        "event_id": event_id,
        "event_time": int(time.time()),
        "authorizations": [{"team_id": SLACK_TEAM, "user_id": "U_BOT", "is_bot": True}],
    }


def view_block_actions_payload(*, user_id: str, action_id: str, value: str, block_id: str,
                               view: dict, view_id: str = "V_HOME") -> dict:
    """A button click in a view (App Home), as Slack sends it: no channel, no message."""
    return {
        "type": "block_actions",
        "user": slack_user(user_id),
        "api_app_id": APP_ID,
        "token": "verification-token-unused",
        "container": {"type": "view", "view_id": view_id},
        "trigger_id": new_trigger_id(),
        "team": {"id": SLACK_TEAM, "domain": "acme"},
        "view": {**view, "id": view_id, "hash": "1766000000.home", "team_id": SLACK_TEAM},
        "actions": [
            {"action_id": action_id, "block_id": block_id, "value": value, "type": "button",
             "action_ts": f"{time.time():.6f}", "text": {"type": "plain_text", "text": "Button", "emoji": True}}
        ],
    }
