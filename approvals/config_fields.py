"""How the configuration's fields are described, and everything derived from those descriptions.

Each field is described once, where its dataclass declares it in
`approvals/config_types.py`:

    max_out: int | None = spec(Integer(1, MAX_OUT_LIMIT), default=None)
    default: bool = spec(BOOLEAN, default=False, model="is_default")
    holiday_country: str | None = spec(HOLIDAY_COUNTRY, default=None, file="holidays.country", ...)

The spec names the field's kind (what it holds, how the file writes it, what
makes it wrong) and, where they differ from the attribute's name, its key in
the configuration file of DESIGN §4 and its model field. A `nested` dataclass
is an object in the file and `<name>_<field>` model fields; `entries` are a
list of records in the file and rows of another model. From this, the module
derives:

- `read_record` / `write_record`: a file object to a dataclass and back,
  every problem named by its place in the file;
- `record_from_row` / `row_values`: a model row to a dataclass and back;
- `row_errors`: what a configuration model's `clean()` reports;
- `model_kinds`: each model field's kind, for the admin's form fields.

A value is checked by the same kind whether it came from the file or the
admin, so both accept exactly the same configurations. Checks across fields of
one record are the dataclass's `problems()` method; checks across records
(unique names, one default team) belong to the file (`config_file`) and to
database constraints. Pure: no ORM, no Slack.
"""

import dataclasses
import difflib
import functools
import math
import re
import zoneinfo
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

import holidays

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


# --- Value checks ---------------------------------------------------------------------
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


def name_error(value: str) -> str | None:
    if not value.strip():
        return "must not be empty"
    if value != value.strip():
        return "must not start or end with spaces"
    if len(value) > NAME_MAX_LENGTH:
        return f"must be at most {NAME_MAX_LENGTH} characters"
    return None


def reason_error(value: str) -> str | None:
    if len(value) > REASON_MAX_LENGTH:
        return f"must be at most {REASON_MAX_LENGTH} characters"
    return None


def leave_code_error(value: str) -> str | None:
    if len(value) <= CODE_MAX_LENGTH and LEAVE_CODE_PATTERN.fullmatch(value):
        return None
    return "must be a short lowercase code like vacation or sick_leave (letters, digits, _ and -)"


def emoji_error(value: str) -> str | None:
    if value == "" or (len(value) <= EMOJI_MAX_LENGTH and EMOJI_PATTERN.fullmatch(value)):
        return None
    return "must be a Slack emoji code like :palm_tree: (or empty)"


def timezone_error(value: str) -> str | None:
    if value:
        try:
            zoneinfo.ZoneInfo(value)
            return None
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            pass
    return f"unknown time zone '{value}'; use an IANA name like Europe/Paris or America/Los_Angeles"


def holiday_country_error(value: str) -> str | None:
    if value in holidays.list_supported_countries():
        return None
    return f"unknown country code '{value}'; use an ISO code the holidays package supports, like US, GB or DE"


def holiday_subdivision_error(country: str, subdivision: str) -> str | None:
    """Assumes `country` passed holiday_country_error."""
    supported = holidays.list_supported_countries()[country]
    if subdivision in supported:
        return None
    if not supported:
        return f"{country} has no subdivisions in the holidays package; leave it empty"
    return f"unknown subdivision '{subdivision}' for {country}; one of: {', '.join(supported)}"


def allowance_error(value: Decimal) -> str | None:
    if not value.is_finite() or value < 0 or value > MAX_DAYS or value * 2 != (value * 2).to_integral_value():
        return f"must be a number of days from 0 to {MAX_DAYS} in steps of 0.5, like 25 or 12.5"
    return None


def integer_range_error(value: Any, minimum: int, maximum: int) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
        return f"must be a whole number from {minimum} to {maximum}"
    return None


# --- Kinds: what a field holds -----------------------------------------------------------


class Invalid(Exception):
    """A value is wrong. Each problem is a message, or (where under the field, message) for list items."""

    def __init__(self, *problems: str | tuple[str, str]):
        self.problems = [problem if isinstance(problem, tuple) else ("", problem) for problem in problems]
        super().__init__(self.problems)


class Kind:
    """What a field holds. `read` takes a value as the file or a model has it and returns the
    dataclass value, or raises Invalid; `write` gives the file's form; `to_model` and
    `from_model` convert to and from the model field ("" and None stand for "not set")."""

    def read(self, raw: Any) -> Any:
        return raw

    def write(self, value: Any) -> Any:
        return value

    def to_model(self, value: Any) -> Any:
        return value

    def from_model(self, stored: Any) -> Any:
        return None if stored == "" else stored


@dataclass(frozen=True)
class Text(Kind):
    check: Any = None  # str -> message or None

    def read(self, raw):
        if not isinstance(raw, str):
            message = "must be a string"
            if isinstance(raw, bool):
                message += " (in YAML, quote values like NO, yes or on: they are read as true/false)"
            raise Invalid(message)
        message = self.check(raw) if self.check else None
        if message:
            raise Invalid(message)
        return raw

    def to_model(self, value):
        return "" if value is None else value


@dataclass(frozen=True)
class SlackId(Text):
    ids: SlackIdKind = USER

    def read(self, raw):
        message = self.ids.error(raw)
        if message:
            raise Invalid(f"'{raw}' {message}" if isinstance(raw, str) else message)
        return raw


@dataclass(frozen=True)
class SlackIds(Kind):
    ids: SlackIdKind = USER

    def read(self, raw):
        if not isinstance(raw, (list, tuple)):
            raise Invalid(f"must be a list of Slack {self.ids.noun} ids like {self.ids.example}")
        problems = []
        seen = set()
        for index, item in enumerate(raw):
            message = self.ids.error(item)
            if message:
                problems.append((f"[{index}]", f"'{item}' {message}"))
            elif item in seen:
                problems.append((f"[{index}]", f"'{item}' is listed twice"))
            seen.add(item if isinstance(item, str) else repr(item))
        if problems:
            raise Invalid(*problems)
        return tuple(raw)

    def write(self, value):
        return list(value)

    to_model = write

    def from_model(self, stored):
        return tuple(stored) if isinstance(stored, list) else stored


class Boolean(Kind):
    def read(self, raw):
        if not isinstance(raw, bool):
            raise Invalid("must be true or false")
        return raw


@dataclass(frozen=True)
class Integer(Kind):
    minimum: int
    maximum: int

    def read(self, raw):
        message = integer_range_error(raw, self.minimum, self.maximum)
        if message:
            raise Invalid(message)
        return raw


class Days(Kind):
    """A number of days in steps of 0.5: a Decimal in Python and the database, 25 or 12.5 in the file."""

    def read(self, raw):
        problem = f"must be a number of days from 0 to {MAX_DAYS} in steps of 0.5, like 25 or 12.5"
        if isinstance(raw, bool) or not isinstance(raw, (int, float, Decimal)):
            raise Invalid(problem)
        if isinstance(raw, float) and not math.isfinite(raw):
            raise Invalid(problem)
        # str() first: Decimal(0.1) would carry the float's binary noise.
        number = Decimal(str(raw)) if isinstance(raw, float) else Decimal(raw)
        message = allowance_error(number)
        if message:
            raise Invalid(message)
        return number

    def write(self, value):
        # 25 stays 25 and 12.5 stays 12.5: halves are exact in binary floating point.
        return int(value) if value == value.to_integral_value() else float(value)


class ClockTime(Kind):
    def read(self, raw):
        if isinstance(raw, time):
            return raw
        if isinstance(raw, str) and re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", raw):
            return time.fromisoformat(raw)
        if isinstance(raw, int) and not isinstance(raw, bool):
            # YAML 1.1 reads an unquoted 10:30 as the number 630 (base 60).
            raise Invalid('must be a time like "09:00" (in YAML, put it in quotes)')
        raise Invalid('must be a time like "09:00" (24-hour HH:MM)')

    def write(self, value):
        return value.strftime("%H:%M")


class Day(Kind):
    def read(self, raw):
        # YAML reads an unquoted 2026-12-24 as a date: accept that as well.
        if isinstance(raw, date) and not isinstance(raw, datetime):
            return raw
        if isinstance(raw, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw):
            try:
                return date.fromisoformat(raw)
            except ValueError:
                raise Invalid(f"'{raw}' is not a real date") from None
        raise Invalid("must be a date like 2026-12-24")

    def write(self, value):
        return value.isoformat()


class Weekdays(Kind):
    """Working weekdays, Monday is 0 as in date.weekday(); kept sorted."""

    def read(self, raw):
        if not isinstance(raw, (list, tuple)) or not raw:
            raise Invalid("must list at least one working weekday (0 = Monday ... 6 = Sunday)")
        if any(isinstance(day, bool) or not isinstance(day, int) or not 0 <= day <= 6 for day in raw):
            raise Invalid("must list weekday numbers 0-6 (0 = Monday ... 6 = Sunday)")
        if len(set(raw)) != len(raw):
            raise Invalid("lists a weekday twice")
        return tuple(sorted(raw))

    def write(self, value):
        return list(value)

    to_model = write

    def from_model(self, stored):
        return tuple(stored) if isinstance(stored, list) else stored


class TeamName(Text):
    """A reference to a team by name: a string in the file, a foreign key in the database.

    `to_model` gives the name; the caller resolves it to the row."""

    def from_model(self, stored):
        return stored.name if stored is not None else None


NAME = Text(name_error)
LEAVE_CODE = Text(leave_code_error)
EMOJI = Text(emoji_error)
REASON = Text(reason_error)
TIMEZONE = Text(timezone_error)
HOLIDAY_COUNTRY = Text(holiday_country_error)
HOLIDAY_SUBDIVISION = Text()  # checked against the country by TeamConfig.problems()
USER_ID = SlackId(ids=USER)
CHANNEL_ID = SlackId(ids=CHANNEL)
USERGROUP_ID = SlackId(ids=USERGROUP)
USER_IDS = SlackIds(ids=USER)
CHANNEL_IDS = SlackIds(ids=CHANNEL)
BOOLEAN = Boolean()
DAYS = Days()
CLOCK_TIME = ClockTime()
DATE = Day()
WEEKDAYS = Weekdays()
TEAM_NAME = TeamName()


# --- Describing a field ------------------------------------------------------------------


@dataclass(frozen=True)
class Spec:
    kind: Kind | None
    file: str | None = None  # dotted key in the file; default: the attribute's name
    model: str | None = None  # model field; default: the attribute's name
    required_in_group: bool = False
    nested: type | None = None
    entries: type | None = None
    required: bool = False


def spec(
    kind: Kind,
    default: Any = dataclasses.MISSING,
    *,
    file: str | None = None,
    model: str | None = None,
    required_in_group: bool = False,
):
    """A dataclass field holding a `kind` of value; without a default the file must give it.

    `file="holidays.country"` puts it in an object of the file. With
    `required_in_group`, that object needs this key, and is written as null
    when the value is None.
    """
    return dataclasses.field(
        default=default, metadata={"spec": Spec(kind, file=file, model=model, required_in_group=required_in_group)}
    )


def nested(record_type: type):
    """A dataclass of specs: an object in the file, `<name>_<field>` fields on the model."""
    return dataclasses.field(default_factory=record_type, metadata={"spec": Spec(None, nested=record_type)})


def entries(record_type: type, *, required: bool = False):
    """A list of records: a list in the file, rows of another model."""
    return dataclasses.field(default=(), metadata={"spec": Spec(None, entries=record_type, required=required)})


@dataclass(frozen=True)
class Leaf:
    """One field as the engine sees it, nested dataclasses flattened."""

    attr: tuple[str, ...]  # ("members", "users")
    file: tuple[str, ...]  # ("members", "users")
    model: str  # "members_users"
    spec: Spec
    required: bool  # the file must give it (in its object, if the object is given)

    @property
    def kind(self) -> Kind | None:
        return self.spec.kind


@functools.cache
def leaves(record_type: type) -> tuple[Leaf, ...]:
    result = []
    for field in dataclasses.fields(record_type):
        field_spec: Spec = field.metadata["spec"]
        if field_spec.nested:
            for leaf in leaves(field_spec.nested):
                result.append(
                    dataclasses.replace(
                        leaf, attr=(field.name, *leaf.attr), file=(field.name, *leaf.file), model=f"{field.name}_{leaf.model}"
                    )
                )
            continue
        no_default = field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING
        result.append(
            Leaf(
                attr=(field.name,),
                file=tuple((field_spec.file or field.name).split(".")),
                model=field_spec.model or field.name,
                spec=field_spec,
                required=no_default or field_spec.required_in_group or field_spec.required,
            )
        )
    return tuple(result)


@functools.cache
def _file_tree(record_type: type) -> dict:
    """The record's keys in the file, in file order: key -> Leaf, or key -> dict for an object."""
    tree: dict = {}
    for leaf in leaves(record_type):
        node = tree
        for key in leaf.file[:-1]:
            node = node.setdefault(key, {})
        node[leaf.file[-1]] = leaf
    return tree


def model_kinds(record_type: type) -> dict[str, Kind]:
    """Model field name -> kind, for every field stored on the record's own model."""
    return {leaf.model: leaf.kind for leaf in leaves(record_type) if leaf.kind is not None}


def _where(record_type: type, attr: str) -> tuple[str, str]:
    """The file path and the model field of a top-level attribute (a nested one: its object, its first field)."""
    leaf = next(leaf for leaf in leaves(record_type) if leaf.attr[0] == attr)
    file = ".".join(leaf.file) if len(leaf.attr) == 1 else leaf.file[0]
    return file, leaf.model


def _problems(record) -> list[tuple[str, str]]:
    check = getattr(record, "problems", None)
    return list(check()) if check else []


def _get(record, attr: tuple[str, ...]) -> Any:
    for name in attr:
        record = getattr(record, name)
    return record


def _build(record_type: type, values: dict[tuple[str, ...], Any]):
    """The dataclass from values by attribute path; a missing one takes its default (None if required)."""
    kwargs = {}
    for field in dataclasses.fields(record_type):
        field_spec: Spec = field.metadata["spec"]
        if field_spec.nested:
            inner = {attr[1:]: value for attr, value in values.items() if attr[0] == field.name}
            kwargs[field.name] = _build(field_spec.nested, inner)
        elif (field.name,) in values:
            kwargs[field.name] = values[(field.name,)]
        elif field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
            kwargs[field.name] = None  # required, and missing or wrong: already reported
    return record_type(**kwargs)


# --- The file ----------------------------------------------------------------------------


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def read_record(record_type: type, raw: Any, path: str, errors: list[str]):
    """The dataclass for a file object, appending each problem to `errors` as "path: message".

    Values that are wrong take their default, so the caller can go on checking
    across records; it must not use the result when `errors` grew. Checks
    across the record's fields (`problems()`) run only once each field is fine.
    """
    errors_before = len(errors)
    values: dict[tuple[str, ...], Any] = {}
    if not _read_object(_file_tree(record_type), raw, path, values, errors):
        return None
    record = _build(record_type, values)
    if len(errors) == errors_before:
        for attr, message in _problems(record):
            errors.append(f"{_join(path, _where(record_type, attr)[0])}: {message}")
    return record


def _read_object(tree: dict, raw: Any, path: str, values: dict, errors: list[str]) -> bool:
    required = [key for key, node in tree.items() if isinstance(node, Leaf) and node.required]
    allowed = [*required, *(key for key in tree if key not in required)]
    if not isinstance(raw, dict):
        errors.append(f"{path or '(top level)'}: must be an object with keys {', '.join(allowed)}")
        return False
    for key in raw:
        if key not in tree:
            close = difflib.get_close_matches(str(key), allowed, n=1)
            hint = f"did you mean '{close[0]}'?" if close else f"expected one of: {', '.join(allowed)}"
            errors.append(f"{_join(path, str(key))}: unknown key ({hint})")
    for key in required:
        if raw.get(key) is None:
            errors.append(f"{_join(path, key)}: required")
    for key, node in tree.items():
        value = raw.get(key)
        if value is None:  # omitted or null: the default
            continue
        where = _join(path, key)
        if isinstance(node, dict):
            _read_object(node, value, where, values, errors)
        elif node.spec.entries:
            if not isinstance(value, list):
                errors.append(f"{where}: must be a list")
                continue
            values[node.attr] = tuple(
                read_record(node.spec.entries, item, f"{where}[{index}]", errors) for index, item in enumerate(value)
            )
        else:
            try:
                values[node.attr] = node.kind.read(value)
            except Invalid as invalid:
                errors.extend(f"{where}{suffix}: {message}" for suffix, message in invalid.problems)
    return True


def write_record(record) -> dict:
    """The file object for a dataclass: every key written, defaults included, in file order."""
    return _write_object(_file_tree(type(record)), record)


def _write_object(tree: dict, record) -> dict:
    result = {}
    for key, node in tree.items():
        if isinstance(node, dict):
            absent = any(
                isinstance(leaf, Leaf) and leaf.spec.required_in_group and _get(record, leaf.attr) is None
                for leaf in node.values()
            )
            result[key] = None if absent else _write_object(node, record)
            continue
        value = _get(record, node.attr)
        if node.spec.entries:
            result[key] = [write_record(entry) for entry in value]
        else:
            result[key] = None if value is None else node.kind.write(value)
    return result


# --- The models ----------------------------------------------------------------------------


def record_from_row(record_type: type, row, **values):
    """The dataclass for a model row; `values` gives what the row does not hold (its entries)."""
    by_attr = {}
    for leaf in leaves(record_type):
        if leaf.kind is not None:
            value = leaf.kind.from_model(getattr(row, leaf.model))
            if value is not None:  # not set: the dataclass default
                by_attr[leaf.attr] = value
    by_attr.update({(name,): value for name, value in values.items()})
    return _build(record_type, by_attr)


def row_values(record) -> dict[str, Any]:
    """Model field -> value for a dataclass (a TeamName gives the team's name, for the caller to resolve)."""
    return {
        leaf.model: leaf.kind.to_model(_get(record, leaf.attr)) for leaf in leaves(type(record)) if leaf.kind is not None
    }


def row_errors(row, record_type: type) -> dict[str, list[str]]:
    """Model field -> messages for what is wrong with a row, as a model's `clean()` reports them.

    Empty values are left to the model field's own `blank` rule. Checks across
    rows are database constraints, which `Model.validate_constraints` reports.
    """
    errors: dict[str, list[str]] = {}
    for leaf in leaves(record_type):
        if leaf.kind is None:
            continue
        value = leaf.kind.from_model(getattr(row, leaf.model))
        if value is None:
            continue
        try:
            leaf.kind.read(value)
        except Invalid as invalid:
            errors[leaf.model] = [_sentence(message) for _, message in invalid.problems]
    if not errors:
        for attr, message in _problems(record_from_row(record_type, row)):
            errors.setdefault(_where(record_type, attr)[1], []).append(_sentence(message))
    return errors


def _sentence(message: str) -> str:
    return f"{message[0].upper()}{message[1:]}."
