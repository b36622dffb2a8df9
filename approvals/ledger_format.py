"""The public ledger format (DESIGN §5): Slack message metadata <-> rules dataclasses.

Other apps may subscribe to these events, so the shape is a contract: keys
and types change only with a new `v`. Reading is defensive: metadata comes
back from Slack and may have been written by an older build, another app or
a person, so anything that is not a valid v1 event reads as None, never as an
exception. Unknown extra keys of a request (a newer release's) are kept in
`LedgerEntry.extra` and written back unchanged when this release rewrites the
message, so a rewrite never drops them (without their nulls, as nulls never
are sent); they are not read. Slack documents payload values as
strings, numbers and booleans (https://docs.slack.dev/messaging/message-metadata),
so optional keys (halves, decision, reason) are left out when they have no
value, never sent as null; readers take a missing key, or a null written by an
older build, as None.
"""

import math
import re
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from approvals.rules import AM, PM, STATUSES, Adjustment, LedgerEntry

REQUEST_EVENT_TYPE = "timeoff_request"
ADJUSTMENT_EVENT_TYPE = "timeoff_adjustment"
LEDGER_VERSION = 1

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


class _Invalid(Exception):
    """Raised inside this module only: the payload is not a valid event."""


def request_metadata(entry: LedgerEntry) -> dict:
    """The `metadata` argument for chat.postMessage / chat.update of a request message."""
    return {
        "event_type": REQUEST_EVENT_TYPE,
        "event_payload": _kept_extra(entry.extra) | _without_nones({
            "v": LEDGER_VERSION,
            "id": entry.id,
            "user": entry.user,
            "team": entry.team,
            "type": entry.leave_type,
            "start": entry.start.isoformat(),
            "end": entry.end.isoformat(),
            "start_half": entry.start_half,
            "end_half": entry.end_half,
            "days": float(entry.days),
            "status": entry.status,
            "decided_by": entry.decided_by,
            "decided_at": entry.decided_at,
            "reason": entry.reason,
            "recorded_by": entry.recorded_by,
            # Leave across a year end: its days per year as counted when sent ({"2028": 4, "2029": 4}).
            "days_by_year": {str(year): float(days) for year, days in entry.days_by_year} or None,
        }),
    }


def adjustment_metadata(adjustment: Adjustment) -> dict:
    """The `metadata` argument for the message that records a balance adjustment."""
    return {
        "event_type": ADJUSTMENT_EVENT_TYPE,
        "event_payload": _without_nones({
            "v": LEDGER_VERSION,
            "id": adjustment.id,
            "user": adjustment.user,
            "type": adjustment.leave_type,
            "days": float(adjustment.days),
            "year": adjustment.year,
            "reason": adjustment.reason,
            "by": adjustment.by,
        }),
    }


def _kept_extra(extra: tuple) -> dict:
    """A newer release's keys, as written back: without their nulls, at any depth (a null reads as missing,
    and Slack may drop the whole metadata for one: the request would leave the ledger)."""
    return {key: _without_nulls(value) for key, value in extra if value is not None}


def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _without_nulls(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [_without_nulls(item) for item in value if item is not None]
    return value


def _without_nones(payload: dict) -> dict:
    """Slack takes strings, numbers and booleans: a key without a value is left out, not sent as null."""
    return {key: value for key, value in payload.items() if value is not None}


# The keys this release writes in a request's payload; any other is a newer release's (LedgerEntry.extra).
REQUEST_KEYS = frozenset({"v", "id", "user", "team", "type", "start", "end", "start_half", "end_half", "days",
                          "status", "decided_by", "decided_at", "reason", "recorded_by", "days_by_year"})


def entry_from_metadata(metadata: Any) -> LedgerEntry | None:
    """The request a message's metadata records, or None if it is not a valid v1 timeoff_request."""
    try:
        payload = _payload(metadata, REQUEST_EVENT_TYPE)
        start = _date(payload, "start")
        end = _date(payload, "end")
        if end < start:
            raise _Invalid
        status = _text(payload, "status")
        if status not in STATUSES:
            raise _Invalid
        return LedgerEntry(
            id=_text(payload, "id"),
            user=_text(payload, "user"),
            team=_text(payload, "team"),
            leave_type=_text(payload, "type"),
            start=start,
            end=end,
            start_half=_half(payload, "start_half"),
            end_half=_half(payload, "end_half"),
            days=_days(payload, allow_negative=False),
            status=status,
            decided_by=_optional_text(payload, "decided_by"),
            decided_at=_optional_int(payload, "decided_at"),
            reason=_optional_text(payload, "reason"),
            recorded_by=_optional_text(payload, "recorded_by"),
            days_by_year=_days_by_year(payload),
            extra=tuple((key, value) for key, value in payload.items() if key not in REQUEST_KEYS),
        )
    except _Invalid:
        return None


def _days_by_year(payload: dict) -> tuple[tuple[int, Decimal], ...]:
    """The optional per-year split; anything malformed reads as not recorded (the calendar splits `days`)."""
    value = payload.get("days_by_year")
    if not isinstance(value, dict) or len(value) > 10:
        return ()
    split = []
    for year, days in value.items():
        if not (isinstance(year, str) and year.isascii() and year.isdigit() and len(year) == 4):
            return ()
        try:
            split.append((int(year), _days({"days": days}, allow_negative=False)))
        except _Invalid:
            return ()
    return tuple(sorted(split))


def adjustment_from_metadata(metadata: Any) -> Adjustment | None:
    """The adjustment a message's metadata records, or None if it is not a valid v1 timeoff_adjustment."""
    try:
        payload = _payload(metadata, ADJUSTMENT_EVENT_TYPE)
        year = _int(payload, "year")
        if not date.min.year <= year <= date.max.year:
            raise _Invalid
        reason = payload.get("reason", "")
        if reason is None:
            reason = ""
        if not isinstance(reason, str):
            raise _Invalid
        return Adjustment(
            id=_text(payload, "id"),
            user=_text(payload, "user"),
            leave_type=_text(payload, "type"),
            days=_days(payload, allow_negative=True),
            year=year,
            reason=reason,
            by=_text(payload, "by"),
        )
    except _Invalid:
        return None


# --- Field readers: each returns a clean value or raises _Invalid -------------


def _payload(metadata: Any, event_type: str) -> dict:
    if not isinstance(metadata, dict) or metadata.get("event_type") != event_type:
        raise _Invalid
    payload = metadata.get("event_payload")
    if not isinstance(payload, dict):
        raise _Invalid
    version = payload.get("v")
    if type(version) is not int or version != LEDGER_VERSION:  # bool is an int; True is not a version
        raise _Invalid
    return payload


def _text(payload: dict, key: str) -> str:
    value = payload.get(key)
    if not isinstance(value, str) or not value:
        raise _Invalid
    return value


def _optional_text(payload: dict, key: str) -> str | None:
    value = payload.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise _Invalid
    return value


def _int(payload: dict, key: str) -> int:
    value = payload.get(key)
    if isinstance(value, bool):
        raise _Invalid
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    if not isinstance(value, int):
        raise _Invalid
    return value


def _optional_int(payload: dict, key: str) -> int | None:
    return None if payload.get(key) is None else _int(payload, key)


def _date(payload: dict, key: str) -> date:
    value = payload.get(key)
    # fromisoformat also takes "20261221" and other ISO forms; the format is YYYY-MM-DD only.
    if not isinstance(value, str) or not _ISO_DATE.fullmatch(value):
        raise _Invalid
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise _Invalid from None


def _half(payload: dict, key: str) -> str | None:
    value = payload.get(key)
    if value not in (None, AM, PM):
        raise _Invalid
    return value


def _days(payload: dict, *, allow_negative: bool) -> Decimal:
    value = payload.get("days")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _Invalid
    if isinstance(value, float) and not math.isfinite(value):
        raise _Invalid
    try:
        # str() gives the shortest repr, so 2.5 reads as Decimal("2.5"), not a binary expansion.
        days = Decimal(str(value))
        if days == days.to_integral_value():
            days = days.quantize(Decimal(1))  # 3.0 reads as 3
    except (InvalidOperation, ValueError):  # absurdly large numbers
        raise _Invalid from None
    if days < 0 and not allow_negative:
        raise _Invalid
    return days
