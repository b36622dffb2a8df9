"""The configuration file of DESIGN §4: validate it as a whole, read it, write it.

`parse_config` checks the whole file and reports every problem at once, each
naming its place in the file (`teams[1].approvals_channel: ...`), so HR fixes a
file in one pass instead of one error per run. Unknown keys are errors: a typo
such as `aprovers` must not silently drop a team's approvers.

`config_to_dict` writes the same format; for a file written by it,
`config_to_dict(parse_config(d)) == d`.

The value checks (`USER`, `CHANNEL`, `timezone_error`, ...) are shared with the
models, so the admin and the file accept exactly the same values. This module
is pure: no ORM, no Slack.
"""

import difflib
import json
import math
import os
import re
import tempfile
import zoneinfo
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO

import holidays
import yaml

from approvals.config_types import (
    MONDAY_TO_FRIDAY,
    ApproverSource,
    BlackoutConfig,
    HolidayConfig,
    LeaveTypeConfig,
    MemberSource,
    TeamConfig,
    WorkspaceConfig,
)

CONFIG_VERSION = 1

# Lengths match the model fields, so anything the file accepts fits the database.
NAME_MAX_LENGTH = 100
REASON_MAX_LENGTH = 200
EMOJI_MAX_LENGTH = 50
CODE_MAX_LENGTH = 50
SLACK_ID_MAX_LENGTH = 32

# Upper bounds keep numbers sane (and inside a PostgreSQL integer column).
MAX_DAYS = 366
MAX_OUT_LIMIT = 10_000
NUDGE_HOURS_LIMIT = 24 * 366


class ConfigError(Exception):
    """The configuration is invalid; `errors` lists every problem, each naming its path."""

    def __init__(self, errors: list[str]):
        self.errors = list(errors)
        super().__init__("\n".join(self.errors))


# --- Value checks (shared with approvals/models.py) ------------------------------
# Each returns None when the value is fine, else a message that reads after a
# path or a field name: "must be a Slack channel id like C0123ABCD".


@dataclass(frozen=True)
class SlackIdKind:
    noun: str
    pattern: re.Pattern
    example: str

    def error(self, value: Any) -> str | None:
        if isinstance(value, str) and self.pattern.fullmatch(value):
            return None
        return f"must be a Slack {self.noun} id like {self.example}"


# Slack ids: https://docs.slack.dev/reference/objects (U/W users, C/G/D conversations, S user groups).
# Real ids are upper-case letters and digits; an underscore is allowed after the
# prefix so readable ids (U_HR, C_ENG_APPROVALS, as in DESIGN §4's sample) work in
# examples and tests. Lower case, spaces and names like #general are still refused.
USER = SlackIdKind("user", re.compile(rf"[UW][A-Z0-9_]{{1,{SLACK_ID_MAX_LENGTH - 1}}}"), "U0123ABCD")
CHANNEL = SlackIdKind("channel", re.compile(rf"[CGD][A-Z0-9_]{{1,{SLACK_ID_MAX_LENGTH - 1}}}"), "C0123ABCD")
USERGROUP = SlackIdKind("user group", re.compile(rf"S[A-Z0-9_]{{1,{SLACK_ID_MAX_LENGTH - 1}}}"), "S0123ABCD")

LEAVE_CODE_PATTERN = re.compile(r"[a-z0-9]+(?:[_-][a-z0-9]+)*")
# Slack shortcodes (":palm_tree:") or a literal emoji character or two.
EMOJI_PATTERN = re.compile(r":[a-z0-9_+'\-]+:|[^\x00-\x7f]{1,8}")
WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def slack_id_list_errors(values: Any, kind: SlackIdKind) -> list[str]:
    """Per-item problems in a list of Slack ids, each starting with the offending item."""
    if not isinstance(values, (list, tuple)):
        return [f"must be a list of Slack {kind.noun} ids like {kind.example}"]
    errors = []
    seen = set()
    for value in values:
        message = kind.error(value)
        if message:
            errors.append(f"'{value}' {message}")
        elif value in seen:
            errors.append(f"'{value}' is listed twice")
        seen.add(value if isinstance(value, str) else repr(value))
    return errors


def name_error(value: Any, max_length: int = NAME_MAX_LENGTH) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return "must not be empty"
    if value != value.strip():
        return "must not start or end with spaces"
    if len(value) > max_length:
        return f"must be at most {max_length} characters"
    return None


def reason_error(value: str) -> str | None:
    if len(value) > REASON_MAX_LENGTH:
        return f"must be at most {REASON_MAX_LENGTH} characters"
    return None


def leave_code_error(value: Any) -> str | None:
    if isinstance(value, str) and len(value) <= CODE_MAX_LENGTH and LEAVE_CODE_PATTERN.fullmatch(value):
        return None
    return "must be a short lowercase code like vacation or sick_leave (letters, digits, _ and -)"


def emoji_error(value: Any) -> str | None:
    if value == "" or (isinstance(value, str) and len(value) <= EMOJI_MAX_LENGTH and EMOJI_PATTERN.fullmatch(value)):
        return None
    return "must be a Slack emoji code like :palm_tree: (or empty)"


def timezone_error(value: Any) -> str | None:
    if isinstance(value, str) and value:
        try:
            zoneinfo.ZoneInfo(value)
            return None
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            pass
    return f"unknown time zone '{value}'; use an IANA name like Europe/Paris or America/Los_Angeles"


def holiday_country_error(value: Any) -> str | None:
    if isinstance(value, str) and value in holidays.list_supported_countries():
        return None
    return f"unknown country code '{value}'; use an ISO code the holidays package supports, like US, GB or DE"


def holiday_subdivision_error(country: str, subdivision: Any) -> str | None:
    """Assumes `country` passed holiday_country_error."""
    supported = holidays.list_supported_countries()[country]
    if isinstance(subdivision, str) and subdivision in supported:
        return None
    if not supported:
        return f"{country} has no subdivisions in the holidays package; leave it empty"
    return f"unknown subdivision '{subdivision}' for {country}; one of: {', '.join(supported)}"


def workweek_error(value: Any) -> str | None:
    if not isinstance(value, (list, tuple)) or not value:
        return "must list at least one working weekday (0 = Monday ... 6 = Sunday)"
    if any(isinstance(day, bool) or not isinstance(day, int) or not 0 <= day <= 6 for day in value):
        return "must list weekday numbers 0-6 (0 = Monday ... 6 = Sunday)"
    if len(set(value)) != len(value):
        return "lists a weekday twice"
    return None


def allowance_error(value: Decimal) -> str | None:
    if not value.is_finite() or value < 0 or value > MAX_DAYS or value * 2 != (value * 2).to_integral_value():
        return f"must be a number of days from 0 to {MAX_DAYS} in steps of 0.5, like 25 or 12.5"
    return None


def integer_range_error(value: Any, minimum: int, maximum: int) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
        return f"must be a whole number from {minimum} to {maximum}"
    return None


# --- Reading the file -------------------------------------------------------------

_MISSING = object()


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


class _Reader:
    """Collects every error with its path while the parse goes on."""

    def __init__(self):
        self.errors: list[str] = []

    def error(self, path: str, message: str) -> None:
        self.errors.append(f"{path}: {message}")

    def mapping(self, value: Any, path: str, *, required: tuple = (), optional: tuple = ()) -> dict | None:
        """Check that `value` is an object with the required keys and no unknown ones."""
        if not isinstance(value, dict):
            self.error(path or "(top level)", f"must be an object with keys {', '.join((*required, *optional))}")
            return None
        allowed = (*required, *optional)
        for key in value:
            if key not in allowed:
                close = difflib.get_close_matches(str(key), allowed, n=1)
                hint = f"did you mean '{close[0]}'?" if close else f"expected one of: {', '.join(allowed)}"
                self.error(_join(path, str(key)), f"unknown key ({hint})")
        for key in required:
            if value.get(key) is None:
                self.error(_join(path, key), "required")
        return value

    def optional_object(self, parent: dict, key: str, path: str, *, optional: tuple, required: tuple = ()):
        value = parent.get(key)
        if value is None:
            return None
        return self.mapping(value, _join(path, key), required=required, optional=optional)

    def entries(self, parent: dict, key: str, path: str) -> list:
        value = parent.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            self.error(_join(path, key), "must be a list")
            return []
        return value

    def string(self, parent: dict, key: str, path: str, check=None, default=None):
        value = parent.get(key)
        if value is None:
            return default
        if not isinstance(value, str):
            message = "must be a string"
            if isinstance(value, bool):
                message += " (in YAML, quote values like NO, yes or on: they are read as true/false)"
            self.error(_join(path, key), message)
            return default
        message = check(value) if check else None
        if message:
            self.error(_join(path, key), message)
            return default
        return value

    def slack_id(self, parent: dict, key: str, path: str, kind: SlackIdKind) -> str | None:
        value = parent.get(key)
        if value is None:
            return None
        message = kind.error(value)
        if message:
            self.error(_join(path, key), message)
            return None
        return value

    def slack_ids(self, parent: dict, key: str, path: str, kind: SlackIdKind) -> tuple[str, ...]:
        value = parent.get(key)
        if value is None:
            return ()
        if not isinstance(value, list):
            self.error(_join(path, key), f"must be a list of Slack {kind.noun} ids like {kind.example}")
            return ()
        seen = set()
        for index, item in enumerate(value):
            message = kind.error(item)
            if message:
                self.error(f"{_join(path, key)}[{index}]", message)
            elif item in seen:
                self.error(f"{_join(path, key)}[{index}]", f"'{item}' is listed twice")
            else:
                seen.add(item)
        return tuple(item for item in value if not kind.error(item))

    def boolean(self, parent: dict, key: str, path: str, default: bool) -> bool:
        value = parent.get(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            self.error(_join(path, key), "must be true or false")
            return default
        return value

    def integer(self, parent: dict, key: str, path: str, *, minimum: int, maximum: int, default=None):
        value = parent.get(key)
        if value is None:
            return default
        message = integer_range_error(value, minimum, maximum)
        if message:
            self.error(_join(path, key), message)
            return default
        return value

    def days(self, parent: dict, key: str, path: str) -> Decimal | None:
        value = parent.get(key)
        if value is None:
            return None
        message = f"must be a number of days from 0 to {MAX_DAYS} in steps of 0.5, like 25 or 12.5"
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.error(_join(path, key), message)
            return None
        if isinstance(value, float) and not math.isfinite(value):
            self.error(_join(path, key), message)
            return None
        # str() first: Decimal(0.1) would carry the float's binary noise.
        number = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
        message = allowance_error(number)
        if message:
            self.error(_join(path, key), message)
            return None
        return number

    def iso_date(self, parent: dict, key: str, path: str) -> date | None:
        value = parent.get(key)
        if value is None:
            return None  # `required` already reported it
        # YAML reads an unquoted 2026-12-24 as a date: accept that as well.
        if isinstance(value, date) and not isinstance(value, datetime):
            return value
        if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            try:
                return date.fromisoformat(value)
            except ValueError:
                self.error(_join(path, key), f"'{value}' is not a real date")
                return None
        self.error(_join(path, key), "must be a date like 2026-12-24")
        return None

    def clock_time(self, parent: dict, key: str, path: str) -> time | None:
        value = parent.get(key)
        if value is None:
            return None
        if isinstance(value, str) and re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", value):
            return time.fromisoformat(value)
        if isinstance(value, int) and not isinstance(value, bool):
            # YAML 1.1 reads an unquoted 10:30 as the number 630 (base 60).
            self.error(_join(path, key), 'must be a time like "09:00" (in YAML, put it in quotes)')
        else:
            self.error(_join(path, key), 'must be a time like "09:00" (24-hour HH:MM)')
        return None


TOP_LEVEL_REQUIRED = ("version", "teams", "leave_types")
TOP_LEVEL_OPTIONAL = ("requesters", "fallback_approvers", "holidays", "blackouts")
TEAM_REQUIRED = ("name", "approvals_channel")
TEAM_OPTIONAL = (
    "members",
    "approvers",
    "announce_channel",
    "default",
    "max_out",
    "holidays",
    "workweek",
    "timezone",
    "digest_time",
    "nudge_after_hours",
    "past_approvals_channels",
)
LEAVE_TYPE_REQUIRED = ("code", "name")
LEAVE_TYPE_OPTIONAL = (
    "emoji",
    "requires_approval",
    "annual_allowance_days",
    "allow_half_days",
    "max_consecutive_days",
    "private",
    "allow_past_days",
)


def parse_config(data: Any) -> WorkspaceConfig:
    """Validate a whole configuration file (already decoded) and build the snapshot.

    Raises ConfigError listing every problem found, not just the first.
    """
    reader = _Reader()
    if not isinstance(data, dict):
        raise ConfigError([f"(top level): must be an object with keys {', '.join(TOP_LEVEL_REQUIRED)}, ..."])

    # A newer file may use keys and meanings this code does not know: refuse it
    # outright rather than report its new keys as typos or half-apply it.
    version = data.get("version")
    if isinstance(version, int) and not isinstance(version, bool) and version > CONFIG_VERSION:
        raise ConfigError(
            [f"version: this file is version {version}; this app reads version {CONFIG_VERSION} — upgrade the app"]
        )
    if version is not None and (isinstance(version, bool) or version != CONFIG_VERSION):
        reader.error("version", f"must be {CONFIG_VERSION}")

    reader.mapping(data, "", required=TOP_LEVEL_REQUIRED, optional=TOP_LEVEL_OPTIONAL)

    requesters = reader.optional_object(data, "requesters", "", optional=("users", "channel")) or {}
    requesters_users = reader.slack_ids(requesters, "users", "requesters", USER)
    requesters_channel = reader.slack_id(requesters, "channel", "requesters", CHANNEL)
    fallback = reader.optional_object(data, "fallback_approvers", "", optional=("users",)) or {}
    fallback_approvers = reader.slack_ids(fallback, "users", "fallback_approvers", USER)

    teams = _parse_entries(reader, data, "teams", _parse_team)
    leave_types = _parse_entries(reader, data, "leave_types", _parse_leave_type)
    holidays_ = _parse_entries(reader, data, "holidays", _parse_holiday)
    blackouts = _parse_entries(reader, data, "blackouts", _parse_blackout)

    # Checks across entries.
    team_names: dict[str, int] = {}
    default_team: int | None = None
    for index, team in teams:
        if team.name is not None:
            if team.name in team_names:
                reader.error(
                    f"teams[{index}].name", f"duplicate name '{team.name}' (also teams[{team_names[team.name]}])"
                )
            else:
                team_names[team.name] = index
        if team.default:
            if default_team is not None:
                reader.error(
                    f"teams[{index}].default", f"only one team may be the default; teams[{default_team}] already is"
                )
            else:
                default_team = index
    codes: dict[str, int] = {}
    for index, leave_type in leave_types:
        if leave_type.code is not None:
            if leave_type.code in codes:
                reader.error(
                    f"leave_types[{index}].code",
                    f"duplicate code '{leave_type.code}' (also leave_types[{codes[leave_type.code]}])",
                )
            else:
                codes[leave_type.code] = index
    for section, entries in (("holidays", holidays_), ("blackouts", blackouts)):
        for index, entry in entries:
            if entry.team is not None and entry.team not in team_names:
                reader.error(f"{section}[{index}].team", f"no team named '{entry.team}' in this file")

    if reader.errors:
        raise ConfigError(reader.errors)
    return WorkspaceConfig(
        requesters_users=requesters_users,
        requesters_channel=requesters_channel,
        fallback_approvers=fallback_approvers,
        teams=tuple(team for _, team in teams),
        leave_types=tuple(leave_type for _, leave_type in leave_types),
        holidays=tuple(holiday for _, holiday in holidays_),
        blackouts=tuple(blackout for _, blackout in blackouts),
    )


def _parse_entries(reader: _Reader, data: dict, section: str, parse_entry) -> list[tuple[int, Any]]:
    """Parse each entry of a top-level list, keeping its index for error paths in cross-checks."""
    entries = []
    for index, value in enumerate(reader.entries(data, section, "")):
        entry = parse_entry(reader, value, f"{section}[{index}]")
        if entry is not None:
            entries.append((index, entry))
    return entries


def _parse_team(reader: _Reader, value: Any, path: str) -> TeamConfig | None:
    data = reader.mapping(value, path, required=TEAM_REQUIRED, optional=TEAM_OPTIONAL)
    if data is None:
        return None
    members = reader.optional_object(data, "members", path, optional=("users", "channel", "usergroup")) or {}
    members_path = _join(path, "members")
    approvers = reader.optional_object(data, "approvers", path, optional=("users", "channel")) or {}
    approvers_path = _join(path, "approvers")

    errors_before = len(reader.errors)
    approver_source = ApproverSource(
        users=reader.slack_ids(approvers, "users", approvers_path, USER),
        channel=reader.slack_id(approvers, "channel", approvers_path, CHANNEL),
    )
    if len(reader.errors) == errors_before and not approver_source.users and approver_source.channel is None:
        reader.error(approvers_path, "a team needs at least one approver (approvers.users or approvers.channel)")

    country = subdivision = None
    holiday_settings = reader.optional_object(data, "holidays", path, required=("country",), optional=("subdivision",))
    if holiday_settings is not None:
        holidays_path = _join(path, "holidays")
        country = reader.string(holiday_settings, "country", holidays_path, holiday_country_error)
        if country is not None:
            subdivision = reader.string(
                holiday_settings, "subdivision", holidays_path, lambda value: holiday_subdivision_error(country, value)
            )

    workweek = data.get("workweek")
    if workweek is None:
        workweek = MONDAY_TO_FRIDAY
    else:
        message = workweek_error(workweek)
        if message:
            reader.error(_join(path, "workweek"), message)
            workweek = MONDAY_TO_FRIDAY
        else:
            workweek = tuple(sorted(workweek))

    return TeamConfig(
        name=reader.string(data, "name", path, name_error),
        members=MemberSource(
            users=reader.slack_ids(members, "users", members_path, USER),
            channel=reader.slack_id(members, "channel", members_path, CHANNEL),
            usergroup=reader.slack_id(members, "usergroup", members_path, USERGROUP),
        ),
        approvers=approver_source,
        approvals_channel=reader.slack_id(data, "approvals_channel", path, CHANNEL),
        announce_channel=reader.slack_id(data, "announce_channel", path, CHANNEL),
        default=reader.boolean(data, "default", path, False),
        max_out=reader.integer(data, "max_out", path, minimum=1, maximum=MAX_OUT_LIMIT),
        holiday_country=country,
        holiday_subdivision=subdivision,
        workweek=workweek,
        timezone=reader.string(data, "timezone", path, timezone_error, default="UTC"),
        digest_time=reader.clock_time(data, "digest_time", path),
        nudge_after_hours=reader.integer(data, "nudge_after_hours", path, minimum=1, maximum=NUDGE_HOURS_LIMIT),
        past_approvals_channels=reader.slack_ids(data, "past_approvals_channels", path, CHANNEL),
    )


def _parse_leave_type(reader: _Reader, value: Any, path: str) -> LeaveTypeConfig | None:
    data = reader.mapping(value, path, required=LEAVE_TYPE_REQUIRED, optional=LEAVE_TYPE_OPTIONAL)
    if data is None:
        return None
    return LeaveTypeConfig(
        code=reader.string(data, "code", path, leave_code_error),
        name=reader.string(data, "name", path, name_error),
        emoji=reader.string(data, "emoji", path, emoji_error, default=""),
        requires_approval=reader.boolean(data, "requires_approval", path, True),
        annual_allowance_days=reader.days(data, "annual_allowance_days", path),
        allow_half_days=reader.boolean(data, "allow_half_days", path, False),
        max_consecutive_days=reader.integer(data, "max_consecutive_days", path, minimum=1, maximum=MAX_DAYS),
        private=reader.boolean(data, "private", path, False),
        allow_past_days=reader.integer(data, "allow_past_days", path, minimum=0, maximum=MAX_DAYS, default=0),
    )


def _parse_holiday(reader: _Reader, value: Any, path: str) -> HolidayConfig | None:
    data = reader.mapping(value, path, required=("date", "name"), optional=("team",))
    if data is None:
        return None
    return HolidayConfig(
        date=reader.iso_date(data, "date", path),
        name=reader.string(data, "name", path, name_error),
        team=reader.string(data, "team", path),
    )


def _parse_blackout(reader: _Reader, value: Any, path: str) -> BlackoutConfig | None:
    data = reader.mapping(value, path, required=("start", "end"), optional=("reason", "team"))
    if data is None:
        return None
    start = reader.iso_date(data, "start", path)
    end = reader.iso_date(data, "end", path)
    if start is not None and end is not None and end < start:
        reader.error(_join(path, "end"), f"must not be before start ({start.isoformat()})")
    return BlackoutConfig(
        start=start,
        end=end,
        reason=reader.string(data, "reason", path, reason_error, default=""),
        team=reader.string(data, "team", path),
    )


# --- Writing the file -------------------------------------------------------------


def config_to_dict(config: WorkspaceConfig) -> dict:
    """The file format of DESIGN §4. Every key is written, defaults included, so an export is self-describing."""
    return {
        "version": CONFIG_VERSION,
        "requesters": {"users": list(config.requesters_users), "channel": config.requesters_channel},
        "fallback_approvers": {"users": list(config.fallback_approvers)},
        "teams": [_team_to_dict(team) for team in config.teams],
        "leave_types": [_leave_type_to_dict(leave_type) for leave_type in config.leave_types],
        "holidays": [
            {"date": holiday.date.isoformat(), "name": holiday.name, "team": holiday.team}
            for holiday in config.holidays
        ],
        "blackouts": [
            {
                "start": blackout.start.isoformat(),
                "end": blackout.end.isoformat(),
                "team": blackout.team,
                "reason": blackout.reason,
            }
            for blackout in config.blackouts
        ],
    }


def _team_to_dict(team: TeamConfig) -> dict:
    holiday_settings = None
    if team.holiday_country is not None:
        holiday_settings = {"country": team.holiday_country, "subdivision": team.holiday_subdivision}
    return {
        "name": team.name,
        "members": {
            "users": list(team.members.users),
            "channel": team.members.channel,
            "usergroup": team.members.usergroup,
        },
        "approvers": {"users": list(team.approvers.users), "channel": team.approvers.channel},
        "approvals_channel": team.approvals_channel,
        "announce_channel": team.announce_channel,
        "default": team.default,
        "max_out": team.max_out,
        "holidays": holiday_settings,
        "workweek": list(team.workweek),
        "timezone": team.timezone,
        "digest_time": team.digest_time.strftime("%H:%M") if team.digest_time is not None else None,
        "nudge_after_hours": team.nudge_after_hours,
        "past_approvals_channels": list(team.past_approvals_channels),
    }


def _leave_type_to_dict(leave_type: LeaveTypeConfig) -> dict:
    return {
        "code": leave_type.code,
        "name": leave_type.name,
        "emoji": leave_type.emoji,
        "requires_approval": leave_type.requires_approval,
        "annual_allowance_days": _days_to_number(leave_type.annual_allowance_days),
        "allow_half_days": leave_type.allow_half_days,
        "max_consecutive_days": leave_type.max_consecutive_days,
        "private": leave_type.private,
        "allow_past_days": leave_type.allow_past_days,
    }


def _days_to_number(days: Decimal | None) -> int | float | None:
    """25 stays 25 and 12.5 stays 12.5: halves are exact in binary floating point."""
    if days is None:
        return None
    if days == days.to_integral_value():
        return int(days)
    return float(days)


# --- Files: JSON, or YAML for .yml/.yaml ---------------------------------------------

FORMATS = ("json", "yaml")


def format_for_path(path: str | os.PathLike) -> str:
    return "yaml" if Path(path).suffix.lower() in (".yml", ".yaml") else "json"


class _UniqueKeyLoader(yaml.SafeLoader):
    """safe_load, except that a key written twice is an error instead of the last one silently winning."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    "while reading a mapping", node.start_mark, f"found duplicate key '{key}'", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _json_object_without_duplicates(pairs: list[tuple[str, Any]]) -> dict:
    result = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key '{key}'")
        result[key] = value
    return result


def _reject_json_constant(name: str):
    raise ValueError(f"{name} is not a number")


def config_from_text(text: str, fmt: str, source: str = "(input)") -> WorkspaceConfig:
    """Decode and validate a configuration file's text. Raises ConfigError."""
    try:
        if fmt == "yaml":
            data = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 (a SafeLoader subclass)
        else:
            data = json.loads(
                text, object_pairs_hook=_json_object_without_duplicates, parse_constant=_reject_json_constant
            )
    except yaml.YAMLError as error:
        raise ConfigError([f"{source}: not valid YAML: {error}"]) from error
    except ValueError as error:  # json.JSONDecodeError is a ValueError
        raise ConfigError([f"{source}: not valid JSON: {error}"]) from error
    return parse_config(data)


def config_to_text(config: WorkspaceConfig, fmt: str) -> str:
    data = config_to_dict(config)
    if fmt == "yaml":
        # safe_dump quotes strings YAML would otherwise read as something else
        # ('NO', '10:30', '2026-12-24'), so the file reads back exactly.
        return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, default_flow_style=False)
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def load_config_file(path: str | os.PathLike) -> WorkspaceConfig:
    """Read and validate a configuration file. Raises ConfigError (also for a missing or unreadable file)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError([f"{path}: cannot read the file: {error}"]) from error
    return config_from_text(text, format_for_path(path), source=str(path))


def dump_config_file(config: WorkspaceConfig, target: str | os.PathLike | TextIO, fmt: str | None = None) -> None:
    """Write the configuration to a path (format from its extension unless `fmt`) or to an open text stream."""
    if not isinstance(target, (str, os.PathLike)):
        target.write(config_to_text(config, fmt or "json"))
        return
    path = Path(target)
    text = config_to_text(config, fmt or format_for_path(path))
    # Write a temporary file and rename it over the target, so an interrupted
    # export never leaves HR with half a file where a good one used to be.
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
