"""A fake Slack Web API: a real HTTP server in the test process.

Requests are decoded the way Slack accepts them (form, JSON or query string;
JSON strings inside form fields), answered with Slack's response shapes and
error codes, and recorded. Tests can inject faults per method. The token is taken
from the Authorization header or a form-encoded body only, as Slack takes it.

    fake = FakeSlack().start()
    client = WebClient(token=fake.workspace.bot_token, base_url=fake.api_url)
"""

from __future__ import annotations

import base64
import collections
import copy
import functools
import math
import json
import re
import secrets
import socket
import threading
import time
from dataclasses import dataclass, field
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

from fake_slack.inspection import inspect
from fake_slack.workspace import (APP_ID, DEFAULT_BOT_ID, DEFAULT_BOT_TOKEN, DEFAULT_BOT_USER_ID, TEAM_ID,
                                  Ephemeral, Message, ResponseUrlPost, Workspace, normalize_ts)

JSON_FIELDS = ("blocks", "attachments", "metadata", "view")
EVENT_TYPE = re.compile(r"^[A-Za-z0-9_-]+$")
MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
# chat.postMessage and chat.postEphemeral: past 40,000 characters Slack truncates the text and posts it
# with the warning `message_truncated` (api.slack.com/changelog/2018-04-truncating-really-long-messages).
# The fake refuses it with `msg_too_long` instead: stricter than Slack, on purpose (a truncated message
# would go unnoticed by a test).
MAX_TEXT = 40000
# chat.postMessage / chat.update, `markdown_text`: "Limit this field to 12,000 characters."
MAX_MARKDOWN_TEXT = 12000
# chat.update: `msg_too_long` "Message text is too long. The `text` field cannot exceed 4,000 characters."
# (docs.slack.dev/reference/methods/chat.update). An edit holds a tenth of what a post may.
MAX_UPDATE_TEXT = 4000
# chat.postMessage, chat.postEphemeral, chat.update: `too_many_attachments` "A maximum of 100 attachments
# are allowed on a message."
MAX_ATTACHMENTS = 100
# A thread_ts Slack can take: a timestamp, seconds then a dot and microseconds (`1405894322.002768`; the
# fraction may be left out here), above zero.
THREAD_TS = re.compile(r"^\d+(\.\d+)?$")
# A message's blocks together: Slack refuses more text than about this (`msg_blocks_too_long`), well
# below the per-block limits times 50. Undocumented; a Slack engineer gave "12,000 text characters with
# a buffer for block containers" (slackapi/bolt-js#2509, where 13,297 characters of markdown blocks failed).
MAX_BLOCKS_TEXT = 12000

# Slack's rate-limit tiers, in calls a minute per method, workspace and app
# (https://docs.slack.dev/apis/web-api/rate-limits; the methods' pages name their tier).
# Slack allows "occasional bursts" past these; the fake allows none, so it is stricter.
TIER_1, TIER_2, TIER_3, TIER_4 = 1, 20, 50, 100
RATE_TIERS = {
    "auth.test": TIER_4,  # "special": well above anything we call it for
    "chat.postMessage": 60,  # "special": about one a second per channel (counted per channel)
    "chat.postEphemeral": TIER_4,
    "chat.update": TIER_3,
    "chat.delete": TIER_3,
    "conversations.history": TIER_3,  # internal apps; 1/min for apps distributed outside the Marketplace
    "conversations.replies": TIER_3,
    "conversations.members": TIER_4,
    "conversations.info": TIER_3,
    "conversations.open": TIER_3,
    "conversations.list": TIER_2,
    "users.info": TIER_4,
    "users.lookupByEmail": TIER_3,
    "usergroups.users.list": TIER_2,
    "views.open": TIER_4,
    "views.push": TIER_4,
    "views.update": TIER_4,
    "views.publish": TIER_4,
}
PER_CHANNEL_LIMITS = {"chat.postMessage"}


class SlackError(Exception):
    """An `ok: false` answer; extra keyword arguments go into the body."""

    def __init__(self, error: str, **extra):
        super().__init__(error)
        self.body = {"ok": False, "error": error, **extra}


@dataclass
class Call:
    method: str
    params: dict
    headers: dict
    response: dict
    at: float
    status: int = 200
    fault: str | None = None  # "fail", "rate_limit" or "server_error" when injected


# The status of an answer that is never sent: the connection is closed instead (`drop_connection`).
DROPPED = 0
TRUNCATED = 1  # made; the answer stops halfway through its body and the connection closes
# What a load balancer in front of Slack answers when Slack's servers do not: HTML, not JSON.
GATEWAY_PAGE = "<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1></body></html>"


@dataclass
class Fault:
    kind: str
    times: int | None  # None: forever
    error: str = ""
    status: int = 200
    retry_after: int = 0
    seconds: float = 0.0  # for delays
    extra: dict = field(default_factory=dict)
    after: int = 0  # calls of the method answered as usual before the fault starts


# ---------------------------------------------------------------------------
# Request decoding


def decode_params(query: str, body: bytes, content_type: str) -> dict:
    """The call's arguments. A `token` counts only in a form-encoded body (or the Authorization header):
    "To make use of sending JSON on write operations, you must provide your token value using an
    Authorization HTTP header" (docs.slack.dev/changelog/2017-10-keeping-up-with-the-jsons), and apps
    created after 2021-02-24 "must send tokens in the Authorization HTTP header or ... as a URL-encoded
    POST body parameter" (api.slack.com/changelog/2020-11-no-more-tokens-in-querystrings-for-newly-
    created-apps). One in the query string or a JSON body is ignored, so such a call is `not_authed`."""
    params: dict = dict(parse_qsl(query, keep_blank_values=True))
    params.pop("token", None)
    if body:
        if content_type.startswith("application/json"):
            decoded = json.loads(body.decode("utf-8"))
            if not isinstance(decoded, dict):
                raise ValueError("JSON body must be an object")
            decoded.pop("token", None)
            params.update(decoded)
        else:
            params.update(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
    # Form posts carry structured arguments as JSON strings; Slack decodes them.
    for name in JSON_FIELDS:
        if isinstance(params.get(name), str):
            try:
                params[name] = json.loads(params[name])
            except ValueError:
                pass  # left as a string: the method reports it as malformed
    return params


def _flag(params: dict, name: str) -> bool:
    return params.get(name) in (True, 1, "1", "true", "True")


def _int(params: dict, name: str, default: int, maximum: int) -> int:
    try:
        value = int(params.get(name) or default)
    except (TypeError, ValueError):
        raise SlackError("invalid_limit") from None
    return default if value <= 0 else min(value, maximum)


def _ts(params: dict, name: str, error: str) -> str | None:
    if params.get(name) in (None, ""):
        return None
    try:
        return normalize_ts(params[name])
    except ValueError:
        raise SlackError(error) from None


def _window(params: dict):
    """The latest/oldest/inclusive filter of history and replies."""
    latest = _ts(params, "latest", "invalid_ts_latest")
    oldest = _ts(params, "oldest", "invalid_ts_oldest")
    inclusive = _flag(params, "inclusive")

    def inside(m: Message) -> bool:
        if latest and (m.ts > latest or (m.ts == latest and not inclusive)):
            return False
        return not (oldest and (m.ts < oldest or (m.ts == oldest and not inclusive)))
    return inside


def _page(items: list, key, params: dict, prefix: str, default: int, maximum: int, descending=False,
          cap: int | None = None):
    """Cursor pagination as Slack does it: the cursor is an opaque base64 token
    naming the first item of the next page (Slack's look like `next_ts:…`). `cap`: a page holds
    at most this many items whatever the limit (Workspace.history_page_cap)."""
    limit = _int(params, "limit", default, maximum)
    if cap is not None:
        limit = min(limit, cap)
    start = 0
    if params.get("cursor"):
        try:
            kind, _, mark = base64.b64decode(params["cursor"], validate=True).decode().partition(":")
        except ValueError:
            raise SlackError("invalid_cursor") from None
        if kind != prefix:
            raise SlackError("invalid_cursor")
        start = next((i for i, it in enumerate(items) if (key(it) <= mark if descending else key(it) >= mark)),
                     len(items))
    page, rest = items[start:start + limit], items[start + limit:]
    next_cursor = base64.b64encode(f"{prefix}:{key(rest[0])}".encode()).decode() if rest else ""
    return page, next_cursor


# ---------------------------------------------------------------------------
# Block Kit validation (slack_sdk's models, plus the limits in SLACK.md)


def _unknown_fields(raw, rendered, where):
    """Keys the caller sent that slack_sdk's model did not keep: Slack refuses
    unknown properties, slack_sdk only logs them."""
    if isinstance(raw, dict) and isinstance(rendered, dict):
        for key, value in raw.items():
            if value is None:
                continue
            if key not in rendered:
                yield f"unknown field or unsupported element [json-pointer:{where}/{key}]"
            else:
                yield from _unknown_fields(value, rendered[key], f"{where}/{key}")
    elif isinstance(raw, list) and isinstance(rendered, list):
        if len(raw) != len(rendered):
            yield f"unsupported element [json-pointer:{where}]"
        for i, (a, b) in enumerate(zip(raw, rendered)):
            yield from _unknown_fields(a, b, f"{where}/{i}")


# Block Kit rules slack_sdk's models do not check (docs.slack.dev/reference/block-kit): option objects,
# a section's fields, a text input's lengths, and that buttons and headers show plain text.
OPTION_TEXT_MAX, OPTION_VALUE_MAX, SECTION_FIELD_MAX, TEXT_INPUT_MAX = 75, 150, 2000, 3000
# Any text object holds 1 to 3,000 characters: "The minimum length is 1 and maximum length is 3000
# characters" (https://docs.slack.dev/reference/block-kit/composition-objects/text-object). slack_sdk's models
# refuse an empty one, but check the maximum only where a block names its own bound (a section's text, a
# header's): a context block's elements they let through.
TEXT_OBJECT_MAX = 3000
# Radio buttons and checkboxes: "A maximum of 10 options are allowed"; an option's description: "Maximum
# length for the text in this field is 75 characters"; "Overflow, select, and multi-select menus can only
# use plain_text objects" for their options' text (docs.slack.dev/reference/block-kit/block-elements,
# .../composition-objects/option-object).
MAX_CHOICE_OPTIONS, OPTION_DESCRIPTION_MAX = 10, 75
# An input block's label: "A label that appears above an input element in the form of a text object that
# must have type of plain_text" (docs.slack.dev/reference/block-kit/blocks/input-block). A confirmation
# dialog's title, text, confirm and deny: each "A plain_text text object"
# (docs.slack.dev/reference/block-kit/composition-objects/confirmation-dialog-object; older pages let
# `text` be mrkdwn, the current one does not: the stricter reading).
CONFIRM_DIALOG_FIELDS = ("title", "text", "confirm", "deny")
# Which elements a block takes (docs.slack.dev/reference/block-kit/blocks/…): a context block "An array of
# image elements and text objects"; an actions block buttons, checkboxes, date, datetime and time pickers,
# menus, overflow, radio buttons, rich text input and workflow buttons; a section's accessory the same but
# rich text input and datetime pickers, with images. slack_sdk's models parse an element wherever it is.
_MENUS = frozenset({f"{kind}_select" for kind in ("static", "external", "users", "conversations", "channels")}
                   | {f"multi_{kind}_select" for kind in ("static", "external", "users", "conversations", "channels")})
_INTERACTIVE = frozenset({"button", "checkboxes", "datepicker", "timepicker", "overflow", "radio_buttons",
                          "workflow_button"}) | _MENUS
BLOCK_ELEMENTS = {
    "context": ("elements", frozenset({"image", "plain_text", "mrkdwn"})),
    "actions": ("elements", _INTERACTIVE | {"datetimepicker", "rich_text_input"}),
    "section": ("accessory", _INTERACTIVE | {"image"}),
}
# A text object's type: "Can be one of plain_text or mrkdwn" (…/composition-objects/text-object); a
# placeholder of a picker, menu or input: "A plain_text only text object"; an input block's hint: "a text
# object with a type of plain_text". A plain-text input's min_length: "between 0 and 3000, inclusive";
# max_length: "between 1 and 3000, inclusive" (…/block-elements/plain-text-input-element).
TEXT_OBJECT_TYPES = frozenset({"plain_text", "mrkdwn"})


def _is_plain_text(value) -> bool:
    return isinstance(value, dict) and value.get("type") == "plain_text"


def _menu_options(node: dict, where: str):
    """(pointer, option) for every option a select or overflow menu holds: its options, its option
    groups' options, and its initial option(s)."""
    for i, option in enumerate(node.get("options") if isinstance(node.get("options"), list) else []):
        yield f"{where}/options/{i}", option
    for g, group in enumerate(node.get("option_groups") if isinstance(node.get("option_groups"), list) else []):
        if isinstance(group, dict) and isinstance(group.get("options"), list):
            for i, option in enumerate(group["options"]):
                yield f"{where}/option_groups/{g}/options/{i}", option
    if node.get("initial_option") is not None:
        yield f"{where}/initial_option", node["initial_option"]
    for i, option in enumerate(node.get("initial_options") if isinstance(node.get("initial_options"), list) else []):
        yield f"{where}/initial_options/{i}", option


def _unchecked_rules(node, where):
    """What Slack refuses in a block (and everything in it) that slack_sdk lets through."""
    if isinstance(node, list):
        for i, item in enumerate(node):
            yield from _unchecked_rules(item, f"{where}/{i}")
        return
    if not isinstance(node, dict):
        return
    kind = node.get("type")
    if kind in ("plain_text", "mrkdwn") and isinstance(node.get("text"), str) and len(node["text"]) > TEXT_OBJECT_MAX:
        yield f"must be less than {TEXT_OBJECT_MAX + 1} characters [json-pointer:{where}/text]"
    if kind in ("button", "header") and isinstance(node.get("text"), dict) and node["text"].get("type") != "plain_text":
        yield f"must be a plain_text object [json-pointer:{where}/text]"
    if kind in BLOCK_ELEMENTS:
        key, allowed = BLOCK_ELEMENTS[kind]
        found = node.get(key)
        for i, element in (enumerate(found) if isinstance(found, list) else [("", found)] if found else []):
            if isinstance(element, dict) and element.get("type") not in allowed:
                pointer = f"{where}/{key}/{i}" if i != "" else f"{where}/{key}"
                yield f"{element.get('type')!r} is not allowed here [json-pointer:{pointer}/type]"
    if kind == "section":
        texts = [("text", node.get("text"))] + [(f"fields/{i}", text) for i, text in enumerate(node.get("fields") or [])]
        for pointer, text in texts:
            if isinstance(text, dict) and text.get("type") not in TEXT_OBJECT_TYPES:
                yield f"must be a text object of type plain_text or mrkdwn [json-pointer:{where}/{pointer}/type]"
    if "placeholder" in node and kind not in (None, "plain_text", "mrkdwn") and not _is_plain_text(node["placeholder"]):
        yield f"must be a plain_text object [json-pointer:{where}/placeholder]"
    if kind == "input" and "hint" in node and not _is_plain_text(node["hint"]):
        yield f"must be a plain_text object [json-pointer:{where}/hint]"
    if kind == "section":
        for i, text in enumerate(node.get("fields") or []):
            if isinstance(text, dict) and len(str(text.get("text", ""))) > SECTION_FIELD_MAX:
                yield f"must be less than {SECTION_FIELD_MAX + 1} characters [json-pointer:{where}/fields/{i}/text]"
    options = node.get("options")
    if isinstance(options, list):
        for i, option in enumerate(options):
            if not isinstance(option, dict):
                continue
            if len(str((option.get("text") or {}).get("text", ""))) > OPTION_TEXT_MAX:
                yield f"must be less than {OPTION_TEXT_MAX + 1} characters [json-pointer:{where}/options/{i}/text/text]"
            if len(str(option.get("value", ""))) > OPTION_VALUE_MAX:
                yield f"must be less than {OPTION_VALUE_MAX + 1} characters [json-pointer:{where}/options/{i}/value]"
            description = option.get("description")
            if isinstance(description, dict) and len(str(description.get("text", ""))) > OPTION_DESCRIPTION_MAX:
                yield (f"must be less than {OPTION_DESCRIPTION_MAX + 1} characters "
                       f"[json-pointer:{where}/options/{i}/description/text]")
        if kind in ("radio_buttons", "checkboxes") and len(options) > MAX_CHOICE_OPTIONS:
            yield f"must contain no more than {MAX_CHOICE_OPTIONS} items [json-pointer:{where}/options]"
    if isinstance(kind, str) and (kind.endswith("_select") or kind == "overflow"):
        for pointer, option in _menu_options(node, where):
            if isinstance(option, dict) and "text" in option and not _is_plain_text(option["text"]):
                yield f"must be a plain_text object [json-pointer:{pointer}/text]"
    if kind == "input" and "label" in node and not _is_plain_text(node["label"]):
        yield f"must be a plain_text object [json-pointer:{where}/label]"
    dialog = node.get("confirm")
    if kind not in (None, "plain_text", "mrkdwn") and isinstance(dialog, dict):
        for name in CONFIRM_DIALOG_FIELDS:
            if name in dialog and not _is_plain_text(dialog[name]):
                yield f"must be a plain_text object [json-pointer:{where}/confirm/{name}]"
    # An initial option must be one of the options, or of the option groups' options.
    groups = node.get("option_groups")
    if isinstance(options, list) or isinstance(groups, list):
        offered = [json.dumps(option, sort_keys=True) for option in (options if isinstance(options, list) else [])] + [
            json.dumps(option, sort_keys=True) for group in (groups if isinstance(groups, list) else [])
            if isinstance(group, dict) for option in group.get("options") or []]
        chosen = ([node["initial_option"]] if node.get("initial_option") is not None else []) + list(
            node.get("initial_options") or [])
        if any(json.dumps(option, sort_keys=True) not in offered for option in chosen):
            yield f"initial option must match one of the options exactly [json-pointer:{where}]"
    if kind == "plain_text_input":
        longest, shortest = node.get("max_length"), node.get("min_length")
        if isinstance(longest, int) and longest > TEXT_INPUT_MAX:
            yield f"must be less than {TEXT_INPUT_MAX + 1} [json-pointer:{where}/max_length]"
        if isinstance(longest, int) and longest < 1:
            yield f"must be at least 1 [json-pointer:{where}/max_length]"
        if isinstance(shortest, int) and not 0 <= shortest <= TEXT_INPUT_MAX:
            yield f"must be between 0 and {TEXT_INPUT_MAX} [json-pointer:{where}/min_length]"
        if isinstance(longest, int) and len(str(node.get("initial_value") or "")) > longest:
            yield f"initial_value is longer than max_length [json-pointer:{where}/initial_value]"
    if kind in ("actions", "context"):
        action_ids = [e.get("action_id") for e in node.get("elements") or [] if isinstance(e, dict) and e.get("action_id")]
        if len(action_ids) != len(set(action_ids)):
            yield f"action_id must be unique in its block [json-pointer:{where}/elements]"
    for key, value in node.items():
        if isinstance(value, (dict, list)):
            yield from _unchecked_rules(value, f"{where}/{key}")


def block_errors(blocks, pointer: str, max_blocks: int) -> list[str]:
    if not isinstance(blocks, list):
        return [f"must be an array [json-pointer:{pointer}]"]
    errors = []
    if len(blocks) > max_blocks:
        errors.append(f"must contain no more than {max_blocks} items [json-pointer:{pointer}]")
    seen_ids = set()
    for i, raw in enumerate(blocks):
        where = f"{pointer}/{i}"
        if not isinstance(raw, dict):
            errors.append(f"must be an object [json-pointer:{where}]")
            continue
        try:
            parsed = Block.parse(copy.deepcopy(raw))
            if parsed is None:
                errors.append(f"unsupported block type {raw.get('type')!r} [json-pointer:{where}/type]")
                continue
            rendered = parsed.to_dict()  # runs the validators of the block and everything in it
        except Exception as exc:  # slack_sdk raises SlackObjectFormationError, TypeError, ...
            errors.append(f"{exc} [json-pointer:{where}]")
            continue
        errors.extend(_unknown_fields(raw, rendered, where))
        errors.extend(_unchecked_rules(raw, where))
        # slack_sdk checks lengths (text, block_id, action_id, ...) but not uniqueness.
        block_id = raw.get("block_id")
        if block_id is not None and block_id in seen_ids:
            errors.append(f"duplicate block_id {block_id!r} [json-pointer:{where}/block_id]")
        seen_ids.add(block_id)
    return errors


# "view_too_large: Error returned if the provided view is greater than 250kb" (views.open, views.push,
# views.update and views.publish: https://docs.slack.dev/reference/methods/views.open). Counted here as
# 250,000 bytes of the view's JSON, the stricter reading of "kb".
MAX_VIEW_BYTES = 250_000


def view_too_large(view) -> bool:
    try:
        return len(json.dumps(view, ensure_ascii=False).encode()) > MAX_VIEW_BYTES
    except (TypeError, ValueError):
        return False


def view_errors(view, view_type: str) -> list[str]:
    if not isinstance(view, dict):
        return ["must be a JSON object [json-pointer:/view]"]
    try:
        text = json.dumps(view, sort_keys=True)
    except (TypeError, ValueError):
        return _view_errors(view, view_type)
    return list(_view_errors_of(text, view_type))


# The same view is opened again and again (every /timeoff opens the same empty form, and the
# benchmark opens it thousands of times): slack-sdk's validation of it is most of what this fake
# spends on a views.open, so the answer is kept per view, by its JSON. Same JSON, same errors.
@functools.lru_cache(maxsize=512)
def _view_errors_of(text: str, view_type: str) -> tuple[str, ...]:
    return tuple(_view_errors(json.loads(text), view_type))


# A view's own fields (docs.slack.dev/reference/views): Slack checks a view against them as it checks
# blocks, so a misspelt `submit` or `callback_id` is refused, not ignored.
VIEW_FIELDS = {
    "modal": frozenset({"type", "title", "blocks", "close", "submit", "private_metadata", "callback_id",
                        "clear_on_close", "notify_on_close", "external_id", "submit_disabled"}),
    "home": frozenset({"type", "blocks", "private_metadata", "callback_id", "external_id"}),
}


def _view_errors(view: dict, view_type: str) -> list[str]:
    errors = []
    if view.get("type") != view_type:
        errors.append(f"must be \"{view_type}\" [json-pointer:/view/type]")
    errors.extend(f"unknown field [json-pointer:/view/{name}]" for name in view
                  if name not in VIEW_FIELDS.get(view_type, view.keys()))
    if view_type == "modal" and view.get("title") is None:
        errors.append("missing required field: title [json-pointer:/view]")
    if view.get("blocks") is None:
        errors.append("missing required field: blocks [json-pointer:/view]")
    for name in ("title", "submit", "close"):
        text = view.get(name)
        if text is not None and (not isinstance(text, dict) or text.get("type") != "plain_text"):
            errors.append(f"must be a plain_text object [json-pointer:/view/{name}]")
    if len(str(view.get("external_id") or "")) > 255:
        errors.append("must be at most 255 characters [json-pointer:/view/external_id]")
    try:  # slack_sdk's view-level checks (private_metadata, callback_id, ...)
        model = View(**{**view, "blocks": None})
        model.blocks = None  # blocks are checked one by one below, with pointers
        model.validate_json()
    except Exception as exc:
        errors.append(f"{exc} [json-pointer:/view]")
    if view.get("blocks") == []:
        errors.append("must contain at least 1 item [json-pointer:/view/blocks]")
    if (view_type == "modal" and view.get("submit") is None and isinstance(view.get("blocks"), list)
            and any(isinstance(block, dict) and block.get("type") == "input" for block in view["blocks"])):
        errors.append("a modal with input blocks needs a submit button [json-pointer:/view/submit]")
    if view.get("blocks") is not None:
        errors.extend(block_errors(view["blocks"], "/view/blocks", MAX_VIEW_BLOCKS))
    return list(dict.fromkeys(errors))


def _invalid_view(errors: list[str]) -> SlackError:
    return SlackError("invalid_arguments", response_metadata={"messages": [f"[ERROR] {e}" for e in errors]})


# ---------------------------------------------------------------------------
# Methods. Each takes (workspace, params) and runs with the workspace lock held.

METHODS = {}


def api(name):
    def register(func):
        METHODS[name] = func
        return func
    return register


# The bot scope each method needs (docs.slack.dev/reference/methods/<method>, "Required scopes"); for
# a channel's history, members or info, the public or the private channel scope, by the channel's kind.
METHOD_SCOPES = {
    "chat.postMessage": "chat:write", "chat.update": "chat:write", "chat.delete": "chat:write",
    "chat.postEphemeral": "chat:write", "users.info": "users:read", "users.list": "users:read",
    "users.lookupByEmail": "users:read.email", "usergroups.list": "usergroups:read",
    "usergroups.users.list": "usergroups:read",
}
CHANNEL_SCOPES = {"conversations.history": "history", "conversations.replies": "history",
                  "conversations.members": "read", "conversations.info": "read"}


def _missing_scope(ws: Workspace, method: str, params: dict) -> dict | None:
    """Slack's answer when the token lacks the scope `method` needs (`granted_scopes`; None: not checked)."""
    if ws.granted_scopes is None:
        return None
    needed = METHOD_SCOPES.get(method)
    if method == "conversations.open" and not params.get("channel"):
        # A DM needs im:write, a group DM mpim:write (docs.slack.dev/reference/methods/conversations.open).
        users = [u for u in str(params.get("users") or "").split(",") if u.strip()]
        needed = "mpim:write" if len(users) > 1 else "im:write"
    if method in CHANNEL_SCOPES:
        channel = ws.channels.get(params.get("channel") or "")
        if channel is None:
            return None  # the method's own answer (channel_not_found)
        if channel.is_im or channel.is_mpim:
            needed = f"{'im' if channel.is_im else 'mpim'}:{CHANNEL_SCOPES[method]}"
        else:
            needed = f"{'groups' if channel.is_private else 'channels'}:{CHANNEL_SCOPES[method]}"
    if needed is None or needed in ws.granted_scopes:
        return None
    return {"ok": False, "error": "missing_scope", "needed": needed, "provided": ",".join(ws.granted_scopes)}


def _conversation(ws: Workspace, channel_id, *, member=True):
    channel = ws.channels.get(channel_id) if channel_id else None
    in_it = channel is not None and ws.bot_user_id in channel.members
    if channel is None or (channel.is_private and not in_it):
        raise SlackError("channel_not_found")  # private channels are invisible to non-members
    if member and not in_it:
        raise SlackError("not_in_channel")
    return channel


def _writable(ws: Workspace, channel_id):
    """A conversation the bot may post to. Slack maps a user id to the DM."""
    channel = _conversation(ws, ws.resolve_channel_id(channel_id or ""), member=False)
    if channel.is_archived:
        raise SlackError("is_archived")
    return _conversation(ws, channel.id)


def blocks_text_length(value) -> int:
    """Every `text` string in blocks, nested (sections, contexts, buttons, fields), added up. Counted here,
    not with the app's own `block_kit.text_length`: the fake plays Slack, and a mistake in the app's
    counting must not be shared by the check that would catch it."""
    if isinstance(value, list):
        return sum(blocks_text_length(item) for item in value)
    if isinstance(value, dict):
        return sum(len(item) if key == "text" and isinstance(item, str) else blocks_text_length(item)
                   for key, item in value.items())
    return 0


def _content(params, *, required=True, max_text=MAX_TEXT):
    """(text, blocks) of a chat.* call, validated. Either may be None (absent). `max_text`: the most
    characters `text` may hold (chat.update's is lower)."""
    if params.get("markdown_text") is not None and (params.get("text") is not None
                                                    or params.get("blocks") is not None):
        # "Markdown text cannot be used in conjunction with `blocks` or `text` argument."
        raise SlackError("markdown_text_conflict")
    attachments = params.get("attachments")
    if isinstance(attachments, list) and len(attachments) > MAX_ATTACHMENTS:
        raise SlackError("too_many_attachments")
    blocks = params.get("blocks")
    if blocks is not None:
        if isinstance(blocks, str):
            raise SlackError("invalid_blocks_format")
        errors = block_errors(blocks, "/blocks", MAX_MESSAGE_BLOCKS)
        if errors:
            raise SlackError("invalid_blocks", errors=errors,
                             response_metadata={"messages": [f"[ERROR] {e}" for e in errors]})
        if blocks_text_length(blocks) > MAX_BLOCKS_TEXT:
            raise SlackError("msg_blocks_too_long")
    text = params.get("text", params.get("markdown_text"))
    if text is not None:
        text = str(text)
        if len(text) > (max_text if params.get("text") is not None else MAX_MARKDOWN_TEXT):
            raise SlackError("msg_too_long")
    if required and not text and not blocks and not params.get("attachments"):
        raise SlackError("no_text")
    return text, blocks


def message_refusal(message: dict) -> dict | None:
    """What Slack answers a message shaped so (a slash command's answer, or the text and blocks of a
    chat.* call): its error body (`invalid_blocks`, `msg_too_long`, …), or None when Slack shows it."""
    try:
        _content(message, required=False)
    except SlackError as exc:
        return exc.body
    return None


def _metadata(params):
    """(metadata or None, warnings). Metadata Slack cannot use is dropped with a
    warning and the message posted without it, as Slack does; a malformed
    argument is an error.

    Payload values are strings, numbers, booleans, objects and lists of them
    (https://docs.slack.dev/messaging/message-metadata; slack's TypeScript types
    say `string | number | boolean | object | object[]`): a null anywhere makes
    the whole metadata unusable here, the strictest reading of Slack's rules.
    """
    raw = params["metadata"]
    if not isinstance(raw, dict):
        raise SlackError("invalid_metadata_format")
    if not raw:
        return None, []
    event_type, payload = raw.get("event_type"), raw.get("event_payload", {})
    if not isinstance(event_type, str) or not EVENT_TYPE.match(event_type) or not isinstance(payload, dict):
        return None, ["invalid_metadata_event_type"]
    if not _valid_payload_value(payload):
        return None, ["invalid_metadata_format"]
    return {"event_type": event_type, "event_payload": copy.deepcopy(payload)}, []


def _valid_payload_value(value) -> bool:
    if isinstance(value, dict):
        return all(isinstance(k, str) and _valid_payload_value(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_valid_payload_value(v) for v in value)
    return isinstance(value, str | int | float | bool)  # not None


def _with_warnings(body: dict, warnings: list[str]) -> dict:
    if warnings:
        body["warning"] = ",".join(warnings)
        body["response_metadata"] = {"warnings": warnings,
                                     "messages": [f"[WARN] metadata dropped: {w}" for w in warnings]}
    return body


def _render(ws: Workspace, messages: list[Message], channel_id: str, include_all_metadata: bool) -> list[dict]:
    threads: dict[str, list[Message]] = {}
    for m in ws.all_messages(channel_id):
        if m.is_reply:
            threads.setdefault(m.thread_ts, []).append(m)
    out = []
    for m in messages:
        rendered = m.to_api(include_all_metadata=include_all_metadata, replies=threads.get(m.ts, ()))
        if m.is_reply:
            parent = ws.find_message(channel_id, m.thread_ts)
            if parent and parent.user:
                rendered["parent_user_id"] = parent.user
        out.append(rendered)
    return out


def _thread_ts(params) -> str:
    """The thread_ts argument, normalized; `invalid_thread_ts` when it is no timestamp ("[ERROR] 0 is not a
    valid thread_ts", as Slack answers thread_ts=0: jenkinsci/slack-plugin#584, vercel/chat#268). A
    well-formed one naming no message is `thread_not_found`, as before."""
    raw = str(params["thread_ts"]).strip()
    if not THREAD_TS.match(raw) or Decimal(raw) <= 0:
        raise SlackError("invalid_thread_ts", response_metadata={
            "messages": [f"[ERROR] {raw} is not a valid thread_ts"]})
    return normalize_ts(raw)


def _own_message(ws: Workspace, params, error: str) -> Message:
    channel = _conversation(ws, params.get("channel"))
    msg = ws.find_message(channel.id, _ts(params, "ts", "message_not_found") or "")
    if msg is None or msg.subtype == "tombstone":
        raise SlackError("message_not_found")
    if msg.bot_id != ws.bot_id:
        raise SlackError(error)
    return msg


@api("auth.test")
def auth_test(ws, params):
    bot = ws.users[ws.bot_user_id]
    return {"ok": True, "url": "https://fake-workspace.slack.com/", "team": "Fake Workspace",
            "user": bot.name, "team_id": TEAM_ID, "user_id": bot.id, "bot_id": ws.bot_id,
            "is_enterprise_install": False}


@api("chat.postMessage")
def chat_post_message(ws, params):
    channel = _writable(ws, params.get("channel"))
    text, blocks = _content(params)
    metadata, warnings = _metadata(params) if params.get("metadata") is not None else (None, [])
    thread_ts = None
    if params.get("thread_ts"):
        parent = ws.find_message(channel.id, _thread_ts(params))
        if parent is None:
            raise SlackError("thread_not_found")
        thread_ts = parent.thread_ts or parent.ts  # replying to a reply joins the same thread
    broadcast = bool(thread_ts) and _flag(params, "reply_broadcast")
    msg = Message(channel=channel.id, ts=ws.new_ts(), text=text or "", user=ws.bot_user_id, bot_id=ws.bot_id,
                  blocks=copy.deepcopy(blocks), metadata=metadata, thread_ts=thread_ts,
                  reply_broadcast=broadcast, subtype="thread_broadcast" if broadcast else None)
    ws.insert_message(msg)
    return _with_warnings({"ok": True, "channel": channel.id, "ts": msg.ts,
                           "message": _render(ws, [msg], channel.id, True)[0]}, warnings)


@api("chat.update")
def chat_update(ws, params):
    msg = _own_message(ws, params, "cant_update_message")
    if ws.channels[msg.channel].is_archived:
        # "The message cannot be edited within a frozen, archived or deleted channel" (`is_archived` is
        # chat.postMessage's answer; chat.update does not list it).
        raise SlackError("is_inactive")
    text, blocks = _content(params, required=False, max_text=MAX_UPDATE_TEXT)
    warnings = []
    # Slack's rules: metadata is kept unless passed ({} removes it); blocks are
    # kept only when neither blocks nor text is passed.
    if params.get("metadata") is not None:
        msg_metadata, warnings = _metadata(params)
    else:
        msg_metadata = msg.metadata
    new_text = msg.text if text is None else text
    new_blocks = msg.blocks if blocks is None and text is None else (blocks or None)
    if not new_text and not new_blocks and not params.get("attachments"):
        raise SlackError("no_text")
    msg.text, msg.blocks, msg.metadata = new_text, copy.deepcopy(new_blocks), msg_metadata
    if text is not None and blocks is None:
        msg.edited = {"user": ws.bot_user_id, "ts": ws.new_ts()}
    rendered = _render(ws, [msg], msg.channel, True)[0]
    return _with_warnings({"ok": True, "channel": msg.channel, "ts": msg.ts, "text": msg.text,
                           "message": rendered}, warnings)


@api("chat.delete")
def chat_delete(ws, params):
    msg = _own_message(ws, params, "cant_delete_message")
    if any(m.thread_ts == msg.ts for m in ws.all_messages(msg.channel) if m.is_reply):
        # A thread parent leaves a tombstone so its replies stay reachable.
        msg.subtype, msg.text, msg.blocks, msg.metadata = "tombstone", "This message was deleted.", None, None
        msg.user, msg.bot_id = "USLACKBOT", None
    else:
        ws.delete_message(msg)
    return {"ok": True, "channel": msg.channel, "ts": msg.ts}


@api("chat.postEphemeral")
def chat_post_ephemeral(ws, params):
    channel = _writable(ws, params.get("channel"))
    user = params.get("user")
    if user not in ws.users:
        raise SlackError("user_not_found")
    if user not in channel.members:
        raise SlackError("user_not_in_channel")
    text, blocks = _content(params)
    ephemeral = Ephemeral(channel=channel.id, user=user, message_ts=ws.new_ts(), text=text or "",
                          blocks=copy.deepcopy(blocks), thread_ts=params.get("thread_ts"))
    ws.ephemerals.append(ephemeral)
    return {"ok": True, "message_ts": ephemeral.message_ts}


@api("conversations.history")
def conversations_history(ws, params):
    channel = _conversation(ws, params.get("channel"))
    in_window = _window(params)
    # Only top-level messages (and broadcast replies) are history; newest first.
    found = [m for m in reversed(ws.all_messages(channel.id))
             if (not m.is_reply or m.reply_broadcast) and in_window(m)]
    page, next_cursor = _page(found, lambda m: m.ts, params, "next_ts", 100, 999, descending=True,
                              cap=ws.history_page_cap)
    return {"ok": True, "messages": _render(ws, page, channel.id, _flag(params, "include_all_metadata")),
            "has_more": bool(next_cursor), "pin_count": 0, "channel_actions_ts": None,
            "channel_actions_count": 0, "response_metadata": {"next_cursor": next_cursor}}


@api("conversations.replies")
def conversations_replies(ws, params):
    channel = _conversation(ws, params.get("channel"))
    msg = ws.find_message(channel.id, _ts(params, "ts", "thread_not_found") or "")
    if msg is None:
        raise SlackError("thread_not_found")
    thread = list(filter(_window(params), ws.thread(channel.id, msg.thread_ts or msg.ts)))
    page, next_cursor = _page(thread, lambda m: m.ts, params, "next_ts", 1000, 1000, cap=ws.history_page_cap)
    return {"ok": True, "messages": _render(ws, page, channel.id, _flag(params, "include_all_metadata")),
            "has_more": bool(next_cursor), "response_metadata": {"next_cursor": next_cursor}}


@api("conversations.members")
def conversations_members(ws, params):
    channel = _conversation(ws, params.get("channel"), member=False)
    page, next_cursor = _page(sorted(channel.members), lambda u: u, params, "user", 100, 1000)
    return {"ok": True, "members": page, "response_metadata": {"next_cursor": next_cursor}}


@api("conversations.info")
def conversations_info(ws, params):
    channel = _conversation(ws, params.get("channel"), member=False)
    # include_num_members: "Set to true to include the member count for the specified conversation.
    # Defaults to false."
    return {"ok": True, "channel": channel.to_api(ws.bot_user_id,
                                                  num_members=_flag(params, "include_num_members"))}


@api("conversations.open")
def conversations_open(ws, params):
    if params.get("channel"):
        channel = _conversation(ws, params["channel"])
    else:
        users = [u.strip() for u in str(params.get("users") or "").split(",") if u.strip()]
        if not users:
            raise SlackError("users_list_not_supplied")
        if any(u not in ws.users for u in users):
            raise SlackError("user_not_found")
        if any(ws.users[u].deleted for u in users):
            raise SlackError("user_disabled")
        if len(set(users)) > 8:
            raise SlackError("too_many_users")  # "Needs at most 8 users to open."
        before = set(ws.channels)
        channel = ws.open_conversation(users)
        if channel.id in before:  # as Slack answers for a conversation already open
            shown = channel.to_api(ws.bot_user_id) if _flag(params, "return_im") else {"id": channel.id}
            return {"ok": True, "no_op": True, "already_open": True, "channel": shown}
    shown = channel.to_api(ws.bot_user_id) if _flag(params, "return_im") else {"id": channel.id}
    return {"ok": True, "channel": shown}


@api("conversations.list")
def conversations_list(ws, params):
    types = {t.strip() for t in str(params.get("types") or "public_channel").split(",")}
    if not types <= {"public_channel", "private_channel", "mpim", "im"}:
        raise SlackError("invalid_types")  # docs.slack.dev/reference/methods/conversations.list
    exclude_archived = _flag(params, "exclude_archived")

    def listed(c):
        kind = "im" if c.is_im else "mpim" if c.is_mpim else "private_channel" if c.is_private else "public_channel"
        visible = not (c.is_private or c.is_im or c.is_mpim) or ws.bot_user_id in c.members
        return kind in types and visible and not (exclude_archived and c.is_archived)

    found = sorted((c for c in ws.channels.values() if listed(c)), key=lambda c: c.id)
    page, next_cursor = _page(found, lambda c: c.id, params, "channel", 100, 1000)
    return {"ok": True, "channels": [c.to_api(ws.bot_user_id) for c in page],
            "response_metadata": {"next_cursor": next_cursor}}


@api("users.info")
def users_info(ws, params):
    user = ws.users.get(params.get("user") or "")
    if user is None:
        raise SlackError("user_not_found")
    return {"ok": True, "user": user.to_api()}


@api("users.lookupByEmail")
def users_lookup_by_email(ws, params):
    email = str(params.get("email") or "").lower()
    user = next((u for u in ws.users.values() if u.email and u.email.lower() == email and not u.deleted), None)
    if user is None:
        raise SlackError("users_not_found")
    return {"ok": True, "user": user.to_api()}


@api("usergroups.users.list")
def usergroups_users_list(ws, params):
    group = ws.usergroups.get(params.get("usergroup") or "")
    # include_disabled: "Allow results that involve disabled User Groups" (docs.slack.dev, usergroups.users.list)
    if group is None or (group.disabled and not _flag(params, "include_disabled")):
        raise SlackError("no_such_subteam")
    return {"ok": True, "users": list(group.users)}


# Slack's trigger_id expires 3 s after Slack sent it (https://docs.slack.dev/surfaces/modals). Its first
# part is when, in whole seconds: a second more is allowed for the part of a second left out.
TRIGGER_LIFETIME_SECONDS = 3


def _trigger_age(trigger_id: str) -> float:
    """Seconds since Slack made this trigger_id (`<seconds>.<team number>.<hex>`); 0 for another shape."""
    issued = str(trigger_id).split(".", 1)[0]
    return time.time() - int(issued) if issued.isdigit() and len(issued) == 10 else 0.0


# views.open: `invalid_trigger_id` "The trigger_id is invalid. The expected format for the trigger_id argument
# is "132456.7890123.abcdef"." (docs.slack.dev/reference/methods/views.open).
TRIGGER_ID = re.compile(r"^\d+\.\d+\.[0-9A-Za-z]+$")


def _use_trigger(ws: Workspace, params):
    trigger_id = params.get("trigger_id") or params.get("interactivity_pointer")
    if not trigger_id:
        raise _invalid_view(["missing required field: trigger_id"])
    if not TRIGGER_ID.match(str(trigger_id)):
        raise SlackError("invalid_trigger_id")
    if trigger_id in ws.expired_triggers or _trigger_age(trigger_id) > TRIGGER_LIFETIME_SECONDS + 1:
        raise SlackError("expired_trigger_id")
    if trigger_id in ws.used_triggers:
        raise SlackError("exchanged_trigger_id")
    ws.used_triggers.add(trigger_id)


SLACK_OWNED_VIEW_FIELDS = {"id", "hash", "state", "root_view_id", "previous_view_id", "team_id", "app_id", "bot_id"}


def _store_view(ws: Workspace, given: dict, *, old: dict | None = None) -> dict:
    """The view as Slack returns it: the caller's fields plus Slack's own."""
    view_id = old["id"] if old else ws.next_view_id()
    view = {
        "id": view_id, "team_id": TEAM_ID, "private_metadata": "", "callback_id": "", "external_id": "",
        "state": old["state"] if old else {"values": {}}, "clear_on_close": False, "notify_on_close": False,
        "root_view_id": old["root_view_id"] if old else view_id,
        "previous_view_id": old["previous_view_id"] if old else None,
        "app_id": APP_ID, "app_installed_team_id": TEAM_ID, "bot_id": ws.bot_id,
        **{k: copy.deepcopy(v) for k, v in given.items() if k not in SLACK_OWNED_VIEW_FIELDS},
    }
    view["hash"] = f"{int(time.time())}.{secrets.token_hex(4)}"  # changes on every write
    if view["external_id"] and any(v["external_id"] == view["external_id"] and v["id"] != view_id
                                   for v in ws.views.values()):
        raise SlackError("duplicate_external_id")
    ws.views[view_id] = view
    return copy.deepcopy(view)


@api("views.open")
@api("views.push")  # the fake keeps no view stack: a pushed view is stored like an opened one
def views_open(ws, params):
    _use_trigger(ws, params)
    if view_too_large(params.get("view")):
        raise SlackError("view_too_large")
    errors = view_errors(params.get("view"), "modal")
    if errors:
        raise _invalid_view(errors)
    return {"ok": True, "view": _store_view(ws, params["view"])}


@api("views.update")
def views_update(ws, params):
    if params.get("view_id"):
        old = ws.views.get(params["view_id"])
    elif params.get("external_id"):
        old = next((v for v in ws.views.values() if v["external_id"] == params["external_id"]), None)
    else:
        raise _invalid_view(["missing required field: view_id or external_id"])
    if old is None:
        raise SlackError("not_found")
    if params.get("hash") and params["hash"] != old["hash"]:
        raise SlackError("hash_conflict")
    if view_too_large(params.get("view")):
        raise SlackError("view_too_large")
    errors = view_errors(params.get("view"), old["type"])
    if errors:
        raise _invalid_view(errors)
    return {"ok": True, "view": _store_view(ws, params["view"], old=old)}


@api("views.publish")
def views_publish(ws, params):
    user_id = params.get("user_id")
    if user_id not in ws.users:  # not user_not_found: docs.slack.dev/reference/methods/views.publish
        raise _invalid_view(["invalid `user_id`"])
    old = ws.views.get(ws.home_views.get(user_id, ""))
    if old and params.get("hash") and params["hash"] != old["hash"]:
        raise SlackError("hash_conflict")
    if view_too_large(params.get("view")):
        raise SlackError("view_too_large")
    errors = view_errors(params.get("view"), "home")
    if errors:
        raise _invalid_view(errors)
    view = _store_view(ws, params["view"], old=old)
    ws.home_views[user_id] = view["id"]
    return {"ok": True, "view": view}


# --- The directory as the HR console reads it: users.list, usergroups.list ----


@api("users.list")
def users_list(ws, params):
    """Everyone, deleted users and bots included (Slack lists them; callers skip them)."""
    found = sorted(ws.users.values(), key=lambda u: u.id)
    page, next_cursor = _page(found, lambda u: u.id, params, "user", 1000, 1000)
    return {"ok": True, "members": [u.to_api() for u in page], "cache_ts": int(time.time()),
            "response_metadata": {"next_cursor": next_cursor}}


@api("usergroups.list")
def usergroups_list(ws, params):
    groups = []
    for group in sorted(ws.usergroups.values(), key=lambda g: g.id):
        if group.disabled and not _flag(params, "include_disabled"):
            continue  # include_disabled: "Include results for disabled User Groups" (usergroups.list)
        shown = {"id": group.id, "team_id": TEAM_ID, "is_usergroup": True, "name": group.handle,
                 "description": "", "handle": group.handle, "is_external": False, "date_create": 1766000000,
                 "date_update": 1766000000, "date_delete": 1766100000 if group.disabled else 0, "auto_type": None,
                 "created_by": "", "updated_by": "", "deleted_by": "U_HR" if group.disabled else None,
                 "prefs": {"channels": [], "groups": []}}
        if _flag(params, "include_count"):
            # Only when asked for, and as a string, as in Slack's documented answer.
            shown["user_count"] = str(len(group.users))
        if _flag(params, "include_users"):
            shown["users"] = list(group.users)
        groups.append(shown)
    return {"ok": True, "usergroups": groups}


# "You can use response_url to publish up to 5 times within 30 minutes"
# (docs.slack.dev/interactivity/handling-user-interaction). What Slack answers past that is undocumented:
# the fake answers HTTP 404 with the text `used_url` (a sixth post) or `expired_url` (after 30 minutes),
# guesses at Slack's wording; a caller should only rely on the answer not being a 200.
RESPONSE_URL_MAX_POSTS = 5
RESPONSE_URL_LIFETIME = 30 * 60  # seconds, from when the fake made the URL (or its first post)


# ---------------------------------------------------------------------------
# The server


class _Server(ThreadingHTTPServer):
    # socketserver listens with a backlog of 5: when more clients connect at once than that (a
    # benchmark's 64 clients, each of our requests opening its own connection), the kernel drops
    # the excess connection attempts and each client tries again after a second. Slack's edge does
    # not do that to us, so neither does the fake.
    request_queue_size = 1024

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.connections = 0  # accepted so far
        self.open_sockets: set = set()  # of the connections being served
        self.sockets_lock = threading.Lock()

    def process_request(self, request, client_address):
        self.connections += 1  # only the serving thread accepts: no race
        super().process_request(request, client_address)


class FakeSlack:
    """The fake Slack: workspace state, an HTTP server, call log and faults.

    Attribute access falls through to the workspace, so `fake.add_user(...)`
    and `fake.messages(...)` work as well as `fake.workspace.add_user(...)`.
    """

    def __init__(self, bot_token=DEFAULT_BOT_TOKEN, bot_user_id=DEFAULT_BOT_USER_ID, bot_id=DEFAULT_BOT_ID):
        self.workspace = Workspace(bot_user_id=bot_user_id, bot_id=bot_id, bot_token=bot_token)
        self._calls: list[Call] = []
        self._faults: dict[str, list[Fault]] = {}
        self._delays: dict[str, Fault] = {}
        self._latency = 0.0
        self._tier_limits: dict[str, int] | None = None  # None: Slack's rate limits are not enforced
        self._tier_window = 60.0
        self._tier_clock = time.monotonic
        self._tier_calls: dict[str, collections.deque] = {}  # method (and channel) -> times of counted calls
        self._lock = threading.Lock()  # guards calls and faults (the workspace has its own)
        self.response_url_clock = time.time  # seconds; a test may move it on (RESPONSE_URL_LIFETIME)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def __getattr__(self, name):
        # Only reached for names FakeSlack itself lacks.
        if name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.workspace, name)

    # ----- lifecycle ---------------------------------------------------------

    def start(self, port: int = 0) -> FakeSlack:
        """Serve on 127.0.0.1: on a free port (tests), or on `port` (the demo workspace, demo_slack)."""
        handler = type("Handler", (_Handler,), {"fake": self})
        self._server = _Server(("127.0.0.1", port), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-slack", daemon=True)
        self._thread.start()
        return self

    @property
    def connections(self) -> int:
        """Connections accepted so far (a client that keeps its connection alive opens few)."""
        return self._server.connections

    def close_connections(self) -> None:
        """Close every connection now open, as Slack's edge closes connections that sat idle."""
        with self._server.sockets_lock:
            sockets = list(self._server.open_sockets)
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # closed meanwhile

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=5)
            self._server = self._thread = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/"

    @property
    def api_url(self) -> str:
        return self.base_url + "api/"

    def response_url(self, name: str = "hook") -> str:
        """A response_url pointing at this fake; POSTs to it are recorded. Its 30 minutes start now (or,
        for one the fake did not make here, at its first post): see RESPONSE_URL_LIFETIME."""
        with self.workspace.lock:
            self.workspace.response_url_issued.setdefault(name, self.response_url_clock())
        return f"{self.base_url}response_url/{name}"

    def reset(self) -> None:
        """Empty workspace, no calls, no faults, no latency, the real clock for response_urls."""
        self.workspace.reset()
        with self._lock:
            self._calls.clear()
            self._faults.clear()
            self._delays.clear()
            self._latency = 0.0
            self._tier_limits = None
            self._tier_calls.clear()
        self.response_url_clock = time.time

    # ----- call log ----------------------------------------------------------

    def calls(self, method: str | None = None) -> list[Call]:
        with self._lock:
            return [c for c in self._calls if method is None or c.method == method]

    def last_call(self, method: str) -> Call | None:
        found = self.calls(method)
        return found[-1] if found else None

    def clear_calls(self) -> None:
        with self._lock:
            self._calls.clear()

    def forget_calls_before(self, at: float) -> None:
        """Drop calls made before `at` (Unix time): a long-running fake (the demo) keeps its log short."""
        with self._lock:
            self._calls[:] = [c for c in self._calls if c.at >= at]

    # ----- faults ------------------------------------------------------------

    def fail(self, method: str, error: str = "channel_not_found", times: int | None = 1, **extra) -> None:
        """Answer `{"ok": false, "error": error, **extra}` (HTTP 200)."""
        self._add_fault(method, Fault("fail", times, error=error, extra=extra))

    def rate_limit(self, method: str, retry_after: int = 1, times: int | None = 1, after: int = 0) -> None:
        """Answer HTTP 429 with Retry-After and `{"ok": false, "error": "ratelimited"}` (after `after`
        calls answered as usual)."""
        self._add_fault(method, Fault("rate_limit", times, error="ratelimited", status=429, retry_after=retry_after,
                                      after=after))

    def server_error(self, method: str, status: int = 500, times: int | None = 1) -> None:
        self._add_fault(method, Fault("server_error", times, error="fatal_error", status=status))

    def drop_connection(self, method: str, times: int | None = 1) -> None:
        """Make the call, then close the connection without an answer (a proxy or load balancer on the
        way resetting it): the client cannot know whether it was made."""
        self._add_fault(method, Fault("dropped", times, status=DROPPED))

    def truncate_answer(self, method: str, times: int | None = 1) -> None:
        """Make the call, then send the head and half the body of its answer and close the connection
        (a connection cut mid-answer): the client cannot know whether it was made."""
        self._add_fault(method, Fault("truncated", times, status=TRUNCATED))

    def gateway_error(self, method: str, status: int = 502, times: int | None = 1, after: int = 0) -> None:
        """Answer an HTML error page with `status`, as the load balancers in front of Slack's servers do
        when those do not answer; not made. `after`: the first `after` calls are answered as usual (a
        later page of a paged read fails)."""
        self._add_fault(method, Fault("gateway", times, error="gateway", status=status, after=after))

    def delay(self, method: str, seconds: float, times: int | None = None) -> None:
        """Sleep `seconds` before answering `method`. The call still takes
        effect first, as a slow Slack would: a client that times out cannot
        know whether its message was posted."""
        with self._lock:
            self._delays[method] = Fault("delay", times, seconds=seconds)

    def latency(self, seconds: float) -> None:
        """Added to every API call (for benchmarks)."""
        with self._lock:
            self._latency = seconds

    def enforce_rate_limits(self, limits: dict[str, int] | None = None, *, window: float = 60.0,
                            clock=time.monotonic) -> None:
        """Rate-limit every method as Slack does: at most its tier's calls per `window` seconds.

        `limits` ({method: calls}) overrides or adds to `RATE_TIERS`. A call past
        the limit is answered HTTP 429 with `Retry-After` (whole seconds until a
        call leaves the window) and `{"ok": false, "error": "ratelimited"}`, takes
        no effect and is not counted. `chat.postMessage` is counted per channel.
        `clock` (seconds) lets a test move time on. Off until called (`reset`
        turns it off again).
        """
        with self._lock:
            self._tier_limits = {**RATE_TIERS, **(limits or {})}
            self._tier_window = window
            self._tier_clock = clock
            self._tier_calls.clear()

    def rate_limits_off(self) -> None:
        with self._lock:
            self._tier_limits = None
            self._tier_calls.clear()

    def _over_tier(self, method: str, params: dict) -> int | None:
        """Seconds until `method` may be called again when its limit is spent; else None (and it is counted)."""
        with self._lock:
            limit = (self._tier_limits or {}).get(method)
            if limit is None:
                return None
            key = f"{method} {params.get('channel')}" if method in PER_CHANNEL_LIMITS else method
            now = self._tier_clock()
            recent = self._tier_calls.setdefault(key, collections.deque())
            while recent and recent[0] <= now - self._tier_window:
                recent.popleft()
            if len(recent) >= limit:
                return max(1, math.ceil(recent[0] + self._tier_window - now))
            recent.append(now)
            return None

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()
            self._delays.clear()
            self._latency = 0.0

    def _add_fault(self, method: str, fault: Fault) -> None:
        with self._lock:
            self._faults.setdefault(method, []).append(fault)

    def _take(self, fault: Fault | None) -> Fault | None:
        if fault is None or fault.times == 0:
            return None
        if fault.after > 0:
            fault.after -= 1
            return None
        if fault.times is not None:
            fault.times -= 1
        return fault

    def _next_fault(self, method: str):
        with self._lock:
            fault = next((f for f in self._faults.get(method, []) if f.times != 0), None)
            return self._take(fault), self._take(self._delays.get(method)), self._latency

    # ----- request handling ----------------------------------------------------

    def handle(self, method: str, params: dict, headers: dict) -> tuple[int, dict, dict]:
        """Answer one API call: (HTTP status, extra headers, JSON body)."""
        fault, delay, latency = self._next_fault(method)
        time.sleep(latency)
        status, extra_headers = 200, {}
        if fault is None and (wait := self._over_tier(method, params)) is not None:
            fault = Fault("rate_limit", 1, error="ratelimited", status=429, retry_after=wait)
        if fault and fault.kind in ("dropped", "truncated"):
            status, body = fault.status, self._answer(method, params, headers)
        elif fault:
            status, body = fault.status, {"ok": False, "error": fault.error, **fault.extra}
            if fault.kind == "rate_limit":
                extra_headers["Retry-After"] = str(fault.retry_after)
        else:
            body = self._answer(method, params, headers)
            if body.get("ok") and self.workspace.granted_scopes is not None:
                # Slack names the token's scopes on every Web API answer.
                extra_headers["X-OAuth-Scopes"] = ",".join(self.workspace.granted_scopes)
        with self._lock:
            self._calls.append(Call(method, params, headers, body, time.time(), status,
                                    fault.kind if fault else None))
        if delay:
            time.sleep(delay.seconds)
        if fault and fault.kind == "gateway":
            return status, extra_headers, GATEWAY_PAGE  # recorded above as the error it stands for
        return status, extra_headers, body

    def _answer(self, method: str, params: dict, headers: dict) -> dict:
        ws = self.workspace
        auth = headers.get("Authorization") or ""
        # params["token"] is there only when it came in a form-encoded body (decode_params).
        token = auth[len("Bearer "):].strip() if auth.startswith("Bearer ") else params.get("token")
        with ws.lock:
            if not token:
                return {"ok": False, "error": "not_authed"}
            if token in ws.revoked_tokens:
                return {"ok": False, "error": ws.revoked_tokens[token]}
            if token != ws.bot_token:
                return {"ok": False, "error": "invalid_auth"}
            implementation = METHODS.get(method)
            if implementation is None:
                return {"ok": False, "error": "unknown_method", "req_method": method}
            refused = _missing_scope(ws, method, params)
            if refused is not None:
                return refused
            try:
                return implementation(ws, params)
            except SlackError as exc:
                return exc.body

    def handle_response_url(self, path: str, body: bytes) -> tuple[int, dict, str]:
        """A POST to a response_url; faults use the method name "response_url". A response_url takes
        RESPONSE_URL_MAX_POSTS posts within RESPONSE_URL_LIFETIME seconds; past either it answers 404."""
        fault, delay, latency = self._next_fault("response_url")
        time.sleep(latency)
        text = body.decode("utf-8", "replace")
        try:
            decoded = json.loads(text)
        except ValueError:
            decoded = text
        status, headers, answer = 200, {}, "ok"
        if fault:  # an injected `fail` answers 404 with the error as text
            status, answer = (404 if fault.status == 200 else fault.status), fault.error
            if fault.kind == "rate_limit":
                headers["Retry-After"] = str(fault.retry_after)
        else:
            with self.workspace.lock:
                now = self.response_url_clock()
                issued = self.workspace.response_url_issued.setdefault(path, now)
                used = sum(1 for post in self.workspace.response_url_posts if post.path == path)
                if now - issued > RESPONSE_URL_LIFETIME:
                    status, answer = 404, "expired_url"
                elif used >= RESPONSE_URL_MAX_POSTS:
                    status, answer = 404, "used_url"
                else:
                    self.workspace.response_url_posts.append(ResponseUrlPost(path, decoded, time.time()))
        with self._lock:
            self._calls.append(Call("response_url", {"path": path, "body": decoded}, {}, {"ok": status == 200},
                                    time.time(), status, fault.kind if fault else None))
        if delay:
            time.sleep(delay.seconds)
        return status, headers, answer


class _Handler(BaseHTTPRequestHandler):
    fake: FakeSlack  # set on the subclass made in FakeSlack.start()
    # Slack's edge keeps a connection open between calls (HTTP/1.1) unless the client asks it not to
    # (urllib does: "Connection: close"), and closes one that stays idle.
    protocol_version = "HTTP/1.1"
    timeout = 30  # seconds a kept-alive connection may stay idle
    # The head and the body of an answer are two writes: with Nagle's algorithm on a kept-alive
    # connection the body would wait for the client's delayed ACK of the head (40 ms on Linux).
    disable_nagle_algorithm = True

    def setup(self):
        super().setup()
        with self.server.sockets_lock:
            self.server.open_sockets.add(self.connection)

    def finish(self):
        with self.server.sockets_lock:
            self.server.open_sockets.discard(self.connection)
        super().finish()

    def do_POST(self):
        self._dispatch()

    def do_GET(self):
        self._dispatch()

    def log_message(self, format, *args):
        pass  # keep test output clean

    def _dispatch(self):
        url = urlsplit(self.path)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if url.path.startswith("/response_url/"):
            status, headers, text = self.fake.handle_response_url(url.path[len("/response_url/"):], body)
            return self._send(status, headers, text.encode(), "text/plain; charset=utf-8")
        if url.path.startswith("/_inspect/") and self.command == "GET":
            # Read-only views of the workspace for the demo's pages (fake_slack/inspection.py).
            status, answer = inspect(self.fake, url.path[len("/_inspect/"):], url.query,
                                     self.headers.get("Authorization") or "")
            return self._send(status, {}, json.dumps(answer).encode(), "application/json; charset=utf-8")
        if not url.path.startswith("/api/"):
            return self._send(404, {}, b"not found", "text/plain")
        method = url.path[len("/api/"):]
        try:
            params = decode_params(url.query, body, self.headers.get("Content-Type") or "")
        except ValueError:
            status, headers, answer = 200, {}, {"ok": False, "error": "invalid_json"}
        else:
            # Title-Case names, whatever the client sent (urllib sends "Content-type").
            headers = {"-".join(p.capitalize() for p in k.split("-")): v for k, v in self.headers.items()}
            status, headers, answer = self.fake.handle(method, params, headers)
        if status == DROPPED:  # made; the connection closes with no answer at all
            self.close_connection = True
            return
        if status == TRUNCATED:  # made; half the answer, then the connection closes
            self.close_connection = True
            return self._send(200, headers, json.dumps(answer).encode(), "application/json; charset=utf-8",
                              cut=True)
        if isinstance(answer, str):  # a gateway's HTML page
            return self._send(status, headers, answer.encode(), "text/html")
        self._send(status, headers, json.dumps(answer).encode(), "application/json; charset=utf-8")

    def _send(self, status, headers, payload: bytes, content_type, *, cut: bool = False):
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload[:len(payload) // 2] if cut else payload)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout tests); nothing to answer
