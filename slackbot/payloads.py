"""Parsing Slack's request bodies into plain Python values.

Anything that is not shaped like Slack's payloads raises `BadPayload`, which the
endpoints answer with 400: malformed input never reaches a handler as a crash.
"""

import json
from dataclasses import dataclass
from urllib.parse import parse_qs


class BadPayload(Exception):
    """The request was signed but is not a payload we understand."""


@dataclass(frozen=True)
class SlashCommand:
    command: str
    text: str
    user_id: str
    team_id: str
    channel_id: str
    trigger_id: str
    response_url: str

    @property
    def words(self) -> list[str]:
        return self.text.split()


def parse_form(body: str) -> dict[str, str]:
    try:
        fields = parse_qs(body, keep_blank_values=True, strict_parsing=bool(body), max_num_fields=100)
    except ValueError as exc:
        raise BadPayload(f"malformed form body: {exc}") from None
    return {name: values[0] for name, values in fields.items()}


def parse_json_object(text: str, what: str) -> dict:
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        raise BadPayload(f"{what} is not valid JSON") from None
    if not isinstance(value, dict):
        raise BadPayload(f"{what} is not a JSON object")
    return value


def slash_command_from_fields(fields: dict) -> SlashCommand:
    """Build a SlashCommand from the form fields (HTTP) or the Socket Mode payload."""
    missing = [name for name in ("command", "user_id", "team_id") if not _is_text(fields.get(name))]
    if missing:
        raise BadPayload(f"slash command without {', '.join(missing)}")
    return SlashCommand(
        command=fields["command"],
        text=_text(fields.get("text")),
        user_id=fields["user_id"],
        team_id=fields["team_id"],
        channel_id=_text(fields.get("channel_id")),
        trigger_id=_text(fields.get("trigger_id")),
        response_url=_text(fields.get("response_url")),
    )


def parse_command_body(body: str) -> SlashCommand:
    return slash_command_from_fields(parse_form(body))


def parse_interaction_body(body: str) -> dict:
    fields = parse_form(body)
    if "payload" not in fields:
        raise BadPayload("interaction without a payload field")
    return check_interaction(parse_json_object(fields["payload"], "payload"))


def check_interaction(payload: dict) -> dict:
    if not _is_text(payload.get("type")):
        raise BadPayload("interaction without a type")
    user = payload.get("user")
    if not isinstance(user, dict) or not _is_text(user.get("id")):
        raise BadPayload("interaction without a user id")
    return payload


def parse_event_body(body: str) -> dict:
    envelope = parse_json_object(body, "event body")
    if not _is_text(envelope.get("type")):
        raise BadPayload("event body without a type")
    return envelope


def require_dict(container: dict, key: str) -> dict:
    value = container.get(key)
    if not isinstance(value, dict):
        raise BadPayload(f"missing or malformed {key!r}")
    return value


def require_text(container: dict, key: str) -> str:
    value = container.get(key)
    if not _is_text(value):
        raise BadPayload(f"missing or malformed {key!r}")
    return value


def _is_text(value) -> bool:
    return isinstance(value, str) and value != ""


def _text(value) -> str:
    return value if isinstance(value, str) else ""
