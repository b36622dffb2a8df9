"""Parsing Slack's request bodies into plain Python values.

Anything that is not shaped like Slack's payloads raises `BadPayload`, which the
endpoints answer with 400: malformed input never reaches a handler as a crash.
"""

import binascii
import json
import re
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
        text=typed_text(_text(fields.get("text"))),
        user_id=fields["user_id"],
        team_id=fields["team_id"],
        channel_id=_text(fields.get("channel_id")),
        trigger_id=_text(fields.get("trigger_id")),
        response_url=_text(fields.get("response_url")),
    )


def parse_command_body(body: str) -> SlashCommand | None:
    """The slash command; None for Slack's certificate check, a form with `ssl_check=1` and no command,
    which wants an empty 200 (https://docs.slack.dev/interactivity/implementing-slash-commands)."""
    fields = parse_form(body)
    if fields.get("ssl_check") == "1" and not _is_text(fields.get("command")):
        return None
    return slash_command_from_fields(fields)


# What Slack's certificate check holds, and nothing else: `ssl_check=1` and the app's (legacy) token.
CERTIFICATE_CHECK_FIELDS = {"ssl_check", "token"}


def is_certificate_check(body: bytes) -> bool:
    """True for Slack's certificate check of a slash command URL: a form of `ssl_check=1` (and its
    `token`) only. Slack sends it unsigned — no X-Slack-Signature or X-Slack-Request-Timestamp
    (slackapi/bolt-js#1397; bolt-python answers it before verifying) — and wants an empty 200. A form
    with any other field is not one (slackapi/bolt-js#2898): it is verified and parsed as usual."""
    if len(body) > 512 or not (body.startswith(b"ssl_check=") or b"&ssl_check=" in body):
        return False
    try:
        fields = parse_qs(body.decode("ascii"), keep_blank_values=True, strict_parsing=True, max_num_fields=2)
    except (UnicodeDecodeError, ValueError):
        return False
    return (set(fields) <= CERTIFICATE_CHECK_FIELDS and fields.get("ssl_check") == ["1"]
            and all(len(values) == 1 for values in fields.values()))


def parse_interaction_body(body: str) -> dict:
    text = _lone_payload_field(body)
    if text is None:
        fields = parse_form(body)
        if "payload" not in fields:
            raise BadPayload("interaction without a payload field")
        text = fields["payload"]
    return check_interaction(parse_json_object(text, "payload"))


def _lone_payload_field(body: str) -> str | None:
    """The decoded value of a body that is exactly `payload=<value>`, or None.

    Slack posts an interaction as a form with one field, `payload`, holding the
    JSON (https://docs.slack.dev/interactivity/handling-user-interaction); a
    view_submission carries the whole modal, several KB of which about half the
    characters are %XX escapes. parse_qs decodes those in a Python loop over the
    escapes (urllib.parse._unquote_impl), most of the parse's time; binascii.a2b_qp
    decodes `=XX` escapes in C. This returns exactly the value parse_form gives
    the field, or None, for the caller to use parse_form itself, whenever that
    cannot be shown cheaply. Every body urlencode makes takes this path
    (slackbot/tests/test_payload_parsing.py holds both parses to the same answers).
    """
    # One field only: parse_qs splits on every `&` (Slack sends `&` as %26), and
    # a percent-encoded name would need decoding to compare. With one `=` after the
    # name, strict_parsing and max_num_fields have nothing to refuse. parse_qs
    # decodes each run of ASCII apart from the non-ASCII characters between them
    # (urllib.parse._generate_unquoted_parts); an ASCII body is one such run, so
    # one decode of all its bytes matches. urlencode only writes ASCII.
    if not body.startswith("payload=") or "&" in body or not body.isascii():
        return None
    value = body[len("payload="):]
    # Besides `=XX`, a2b_qp (CPython Modules/binascii.c, binascii_a2b_qp_impl,
    # header=False) reads a literal `=` as an escape too, and `=` before CR or LF
    # as a soft line break: `=\n` is dropped, `=\r` drops everything up to the
    # next LF. urlencode escapes all three; without them, every `=` that a2b_qp
    # sees is one of our `%`, and every other character is copied as it is.
    if "=" in value or "\r" in value or "\n" in value:
        return None
    # As unquote_plus: `+` is a space first, then %XX escapes (so %2B stays `+`).
    decoded = binascii.a2b_qp(value.replace("+", " ").replace("%", "="))
    # Where a `%` is not followed by two hex digits unquote keeps it, but a2b_qp
    # writes `=` (shrinking the text by 0), reads `==` as one `=` (1 for the two)
    # or drops a final `=` (1). Only a well-formed escape shrinks it by 2, so the
    # text shrank by twice the number of `%` exactly when all of them were.
    if len(decoded) != len(value) - 2 * value.count("%"):
        return None
    # parse_qs decodes with errors="replace": invalid UTF-8 becomes U+FFFD.
    return decoded.decode("utf-8", "replace")


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


# Slack's `action_ts`: seconds and microseconds, "1766000000.123456". Kept in cache keys (a press is said
# once), so anything else is no press time of Slack's.
ACTION_TS = re.compile(r"\d{1,12}\.\d{1,9}")


def action_time(action: dict) -> str | None:
    """When a button was pressed (its `action_ts`), or None when the payload gives no such time."""
    value = action.get("action_ts")
    return value if isinstance(value, str) and ACTION_TS.fullmatch(value) else None


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


# PostgreSQL stores no NUL in text or jsonb ("\u0000 cannot be converted to text") and no unpaired
# surrogate; the other C0 controls and DEL are never meant in a note. Tab and newline are.
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
# Every surrogate in a str is unpaired: json.loads joins an escaped pair into one character.
_SURROGATES = re.compile(r"[\ud800-\udfff]")


def typed_text(text: str) -> str:
    """What a person typed (a note, a reason, a command's words), as text any database stores:
    control characters but newline and tab dropped, each lone surrogate replaced by U+FFFD.
    Only for the few typed strings: it is on the submission's hot path."""
    return _SURROGATES.sub("\ufffd", _CONTROLS.sub("", text))


def _is_text(value) -> bool:
    return isinstance(value, str) and value != ""


def _text(value) -> str:
    return value if isinstance(value, str) else ""
