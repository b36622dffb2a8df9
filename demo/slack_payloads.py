"""What Slack's client would send the app, built from what a person did in the demo's pages.

Pure builders of Slack's payload shapes (slash command form fields,
block_actions, view_submission, the app_home_opened event), the modal's
`state.values` read from the demo's form, and `send`, which signs a body
exactly as Slack does (slack_sdk's SignatureVerifier) and POSTs it to the
app's own endpoint over HTTP: the demo takes no shortcut past verification,
parsing and routing.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from dataclasses import dataclass
from urllib.error import HTTPError, URLError
from urllib.parse import urlencode
from urllib.request import Request, urlopen

from slack_sdk.signature import SignatureVerifier

from demo.block_kit_html import action_id_of, block_id_of, element_slots, field_name, state_key

TEAM_ID = "T_FAKE"  # the fake workspace's team (fake_slack.workspace.TEAM_ID)
TEAM_DOMAIN = "acme-demo"
APP_ID = "A_FAKE"
TOKEN = "verification-token-unused"  # Slack's deprecated verification token; the app checks signatures


def new_trigger_id() -> str:
    """Slack's shape (`<seconds>.<team number>.<hex>`); each is single-use."""
    return f"{int(time.time())}.4744562912.{uuid.uuid4().hex}"


def slack_user(user_id: str, name: str) -> dict:
    return {"id": user_id, "username": name, "name": name, "team_id": TEAM_ID}


def command_fields(*, text: str, user_id: str, user_name: str, channel_id: str, channel_name: str,
                   trigger_id: str, response_url: str, command: str = "/timeoff") -> dict:
    """A slash command's form fields, in Slack's order."""
    return {
        "token": TOKEN, "team_id": TEAM_ID, "team_domain": TEAM_DOMAIN, "channel_id": channel_id,
        "channel_name": channel_name, "user_id": user_id, "user_name": user_name, "command": command,
        "text": text, "api_app_id": APP_ID, "is_enterprise_install": "false", "response_url": response_url,
        "trigger_id": trigger_id,
    }


MENTIONED = re.compile(r"(?<![\w<])([@#])([a-z0-9][a-z0-9._-]*)", re.IGNORECASE)


def escape_command_text(text: str, *, users: dict[str, str], channels: dict[str, str]) -> str:
    """What Slack sends for a command with `should_escape` (our manifest): `@alice` becomes `<@U…|alice>`,
    `#general` becomes `<#C…|general>`, and `&`, `<`, `>` their entities. `users` and `channels` map names to ids."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")

    def escaped(match):
        sigil, name = match.group(1), match.group(2)
        found = (users if sigil == "@" else channels).get(name.lower())
        return f"<{sigil}{found}|{name}>" if found else match.group(0)
    return MENTIONED.sub(escaped, text)


def action_of(element: dict, block: dict, block_index: int, element_index: int, state: dict | None = None) -> dict:
    """The `actions[0]` Slack sends for a click or change of `element`."""
    action = {"type": element.get("type"), "action_id": action_id_of(element, block_index, element_index),
              "block_id": block_id_of(block, block_index), "action_ts": f"{time.time():.6f}"}
    if element.get("type") == "button":
        action["text"] = element.get("text")
        if "value" in element:
            action["value"] = element["value"]
        if element.get("style"):
            action["style"] = element["style"]
    elif state is not None:
        action.update({k: v for k, v in state.items() if k != "type"})
    return action


def message_block_actions(*, user: dict, channel_id: str, channel_name: str, message: dict | None, message_ts: str,
                          action: dict, trigger_id: str, response_url: str, is_ephemeral: bool = False) -> dict:
    """A click on a message (a channel post, a DM, an ephemeral message), as Slack sends it."""
    payload = {
        "type": "block_actions", "user": user, "api_app_id": APP_ID, "token": TOKEN,
        "container": {"type": "message", "message_ts": message_ts, "channel_id": channel_id,
                      "is_ephemeral": is_ephemeral},
        "trigger_id": trigger_id, "team": {"id": TEAM_ID, "domain": TEAM_DOMAIN}, "enterprise": None,
        "is_enterprise_install": False, "channel": {"id": channel_id, "name": channel_name},
        "response_url": response_url, "actions": [action],
    }
    if message is not None and not is_ephemeral:  # Slack leaves the message out of ephemeral clicks
        # Slack does not reliably include metadata here (slack-sdk #1501); the app re-reads the message.
        payload["message"] = {k: v for k, v in message.items() if k not in ("metadata",)}
    if is_ephemeral:
        payload["state"] = {"values": {}}
    return payload


def global_shortcut(*, user: dict, callback_id: str, trigger_id: str) -> dict:
    """A global shortcut picked from the shortcuts menu: no channel, no message."""
    return {
        "type": "shortcut", "token": TOKEN, "action_ts": f"{time.time():.6f}",
        "team": {"id": TEAM_ID, "domain": TEAM_DOMAIN}, "user": {k: user[k] for k in ("id", "username", "team_id")},
        "is_enterprise_install": False, "enterprise": None, "callback_id": callback_id, "trigger_id": trigger_id,
    }


def view_block_actions(*, user: dict, view: dict, values: dict, action: dict, trigger_id: str) -> dict:
    """A click or change inside a view (a modal, App Home): no channel, no message."""
    return {
        "type": "block_actions", "user": user, "api_app_id": APP_ID, "token": TOKEN,
        "container": {"type": "view", "view_id": view["id"]}, "trigger_id": trigger_id,
        "team": {"id": TEAM_ID, "domain": TEAM_DOMAIN}, "enterprise": None, "is_enterprise_install": False,
        "view": {**view, "state": {"values": values}}, "actions": [action],
    }


def view_submission(*, user: dict, view: dict, values: dict, trigger_id: str) -> dict:
    return {
        "type": "view_submission", "team": {"id": TEAM_ID, "domain": TEAM_DOMAIN}, "user": user,
        "api_app_id": APP_ID, "token": TOKEN, "trigger_id": trigger_id, "enterprise": None,
        "is_enterprise_install": False, "view": {**view, "state": {"values": values}}, "response_urls": [],
    }


def app_home_opened(*, user_id: str, channel_id: str, view: dict | None) -> dict:
    event = {"type": "app_home_opened", "user": user_id, "channel": channel_id, "tab": "home",
             "event_ts": f"{time.time():.6f}"}
    if view is not None:
        event["view"] = view
    return {
        "token": TOKEN, "team_id": TEAM_ID, "api_app_id": APP_ID, "event": event, "type": "event_callback",
        "event_id": f"Ev{uuid.uuid4().hex[:10].upper()}", "event_time": int(time.time()),
        "authorizations": [{"enterprise_id": None, "team_id": TEAM_ID, "user_id": "U_BOT", "is_bot": True,
                            "is_enterprise_install": False}],
        "is_ext_shared_channel": False,
    }


# --- A modal's state, from the demo's form ---------------------------------------------------------


def form_state(blocks, form) -> tuple[dict, dict, dict]:
    """(state.values as Slack sends them, the raw values to redraw the form with (by state_key), the errors
    Slack's client would show before sending: a required field left empty, text shorter than min_length).

    `form` is a QueryDict-like object (`get`, `getlist`). Options are taken from the view, never from the
    form, so a forged value is simply not selected.
    """
    values: dict = {}
    shown: dict = {}
    errors: dict = {}
    for i, j, block, element in element_slots(blocks):
        kind = element.get("type")
        name = field_name(i, j)
        key = state_key(block, element, i, j)
        state = None
        if kind == "static_select" or kind == "radio_buttons":
            chosen = form.get(name) or ""
            option = next((o for o in _options(element) if str(o.get("value")) == chosen), None)
            state = {"type": kind, "selected_option": option}
            shown[key] = chosen if option else ""
        elif kind == "datepicker":
            chosen = (form.get(name) or "").strip()
            state = {"type": kind, "selected_date": chosen or None}
            shown[key] = chosen
        elif kind == "checkboxes":
            chosen = form.getlist(name)
            picked = [o for o in _options(element) if str(o.get("value")) in chosen]
            state = {"type": kind, "selected_options": picked}
            shown[key] = [str(o.get("value")) for o in picked]
        elif kind == "plain_text_input":
            text = (form.get(name) or "").replace("\r\n", "\n")
            state = {"type": kind, "value": text or None}
            shown[key] = text
            if text and isinstance(element.get("min_length"), int) and len(text) < element["min_length"]:
                errors[block_id_of(block, i)] = f"Please enter at least {element['min_length']} characters."
            if isinstance(element.get("max_length"), int) and len(text) > element["max_length"]:
                errors[block_id_of(block, i)] = f"Please enter at most {element['max_length']} characters."
        if state is None:
            continue
        values.setdefault(block_id_of(block, i), {})[action_id_of(element, i, j)] = state
        if block.get("type") == "input" and not block.get("optional") and not _filled(state):
            errors.setdefault(block_id_of(block, i), "Please complete this required field.")
    return values, shown, errors


def _options(element) -> list[dict]:
    options = [o for o in element.get("options") or [] if isinstance(o, dict)]
    for group in element.get("option_groups") or []:
        options += [o for o in (group.get("options") or []) if isinstance(o, dict)]
    return options


def _filled(state: dict) -> bool:
    return bool(state.get("selected_option") or state.get("selected_date") or state.get("selected_options")
                or state.get("value"))


def element_at(blocks, block_index: int, element_index: int) -> tuple[dict, dict] | None:
    """(block, element) at those indexes, if it is an interactive element."""
    for i, j, block, element in element_slots(blocks):
        if (i, j) == (block_index, element_index):
            return block, element
    return None


# --- Sending ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AppAnswer:
    status: int
    body: dict | None  # the JSON body; None when empty (an acknowledgement)
    text: str = ""


def signed_headers(body: bytes, signing_secret: str, *, timestamp: int | None = None) -> dict:
    """The headers Slack adds: `X-Slack-Request-Timestamp` and the `v0=` HMAC of `v0:{ts}:{body}`."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    signature = SignatureVerifier(signing_secret).generate_signature(timestamp=str(timestamp), body=body)
    return {"X-Slack-Request-Timestamp": str(timestamp), "X-Slack-Signature": signature}


def form_body(fields: dict) -> bytes:
    return urlencode(fields).encode()


def interaction_body(payload: dict) -> bytes:
    return urlencode({"payload": json.dumps(payload)}).encode()


def send(url: str, body: bytes, *, content_type: str, signing_secret: str, timeout: float = 15) -> AppAnswer:
    """POST a signed body to one of the app's Slack endpoints, as Slack would."""
    headers = {"Content-Type": content_type, "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
               **signed_headers(body, signing_secret)}
    try:
        with urlopen(Request(url, data=body, headers=headers, method="POST"), timeout=timeout) as response:
            status, raw = response.status, response.read()
    except HTTPError as exc:
        status, raw = exc.code, exc.read()
    except (URLError, TimeoutError, OSError) as exc:
        return AppAnswer(0, None, f"the app did not answer: {exc}")
    text = raw.decode("utf-8", "replace")
    try:
        body_json = json.loads(text) if text.strip() else None
    except ValueError:
        body_json = None
    return AppAnswer(status, body_json if isinstance(body_json, dict) else None, text)
