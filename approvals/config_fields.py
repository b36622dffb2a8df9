"""The kinds of value the configuration holds, and all that follows from its fields' descriptions.

Each configuration field is described once, where its dataclass in
`approvals/config_types.py` declares it:

    max_out: int | None = spec(kind.Integer(1, 10_000), default=None)
    default: bool = spec(kind.BOOLEAN, default=False, model="is_default")

The spec gives the field's kind and, where they differ from its name, its key
in the file of DESIGN §4 and its model field. A `nested` dataclass is an object
in the file and `<name>_<field>` model fields; `entries` are a list in the file
and rows of another model. From these come the file reader and writer
(`read_record`, `write_record`), the conversion to and from model rows
(`record_from_row`, `row_values`) and the models' `clean()` (`row_errors`).
One kind checks a value whether it came from the file or the admin, so both
accept the same configurations. Pure: no ORM, no Slack.
"""

import dataclasses
import difflib
import functools
import hashlib
import re
import unicodedata
import zoneinfo
from collections.abc import Callable
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
# The longest subdivision code of the pinned holidays package is 17 characters ("São Paulo Capital",
# BR); a test keeps every code within this, with room for a newer package's.
HOLIDAY_SUBDIVISION_MAX_LENGTH = 64
TIMEZONE_MAX_LENGTH = 64  # the longest IANA name is 32 characters
MAX_DAYS = 366
# The request form's menu offers every leave type, and Slack refuses a view over 250 kB
# (view_too_large): with names of 75 characters that need escaping, this many still fit, with room.
LEAVE_TYPES_MAX = 300
# The years a holiday or a blackout may fall in, as the console's balances and exports (2000 to 2100). A
# date outside is a typo for the year (1900, 2999, 9999), and one near the calendar's end breaks what
# steps past it (the admin's date drill-down asks for dates before the year 10000). Fixed, not counted
# from today, so that a file valid once stays valid: an export always imports again.
FIRST_DAY = date(2000, 1, 1)
LAST_DAY = date(2100, 12, 31)
# An error message repeats the value it is about, but only this much of it: a value may be a
# megabyte long, and a message must stay small whatever the file holds.
SHOWN_VALUE_MAX_LENGTH = 60


# --- Values in messages ---------------------------------------------------------------------------


def shortened(text: str) -> str:
    """`text` as an error message repeats it: cut short when long."""
    if len(text) <= SHOWN_VALUE_MAX_LENGTH:
        return text
    return f"{text[:SHOWN_VALUE_MAX_LENGTH]}…"


def quoted(text: str) -> str:
    return f"'{shortened(text)}'"


def kind_of(value: Any) -> str:
    """What a value of the file is, for "must be a string, not a list". A list or an object is named,
    never printed: it may hold a million items (or, in YAML, the same list nested a million times)."""
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, (int, float, Decimal)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bytes):
        return "binary data"  # YAML's !!binary
    return f"a {type(value).__name__}"  # what another YAML tag makes: a set (!!set), a date (!!timestamp)


def about(value: Any, message: str) -> str:
    """`message` about `value`: a string is shown before it (in quotes, cut short), anything else named after it."""
    if isinstance(value, str):
        return f"{quoted(value)} {message}"
    return f"{message}, not {kind_of(value)}"


# --- Value checks: None when the value is fine, else a message that reads after its path or field name ---


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


# Control characters (Cc: NUL, newlines, escapes) break storage (PostgreSQL stores no NUL) and the
# messages a name is shown in; format characters (Cf: U+202E right-to-left override, U+200B zero-width
# space) make it read other than it is; an unpaired surrogate (Cs) no database stores. U+200D, the
# zero-width joiner, is kept: it joins emoji sequences (👩‍💻).
HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs"})
EMOJI_JOINER = "\u200d"


def without_hidden_characters(value: str) -> str:
    """`value` without the characters `hidden_character_error` refuses: for names Slack supplies (people,
    channels, user groups), which we show but cannot refuse."""
    return "".join(char for char in value
                   if char == EMOJI_JOINER or unicodedata.category(char) not in HIDDEN_CATEGORIES)


# Letters and symbols that draw nothing: the Hangul fillers, the blank Braille pattern, the combining
# grapheme joiner and Khmer's inherent vowels (https://unicode.org/reports/tr44/, Default_Ignorable and
# the fillers people paste to look blank).
BLANK_LOOKING = frozenset("\u115f\u1160\u3164\uffa0\u2800\u034f\u17b4\u17b5")
# Categories that draw nothing by themselves: format characters (zero-width spaces, word joiners) and
# marks, which only change the character before them (variation selectors are marks too).
INVISIBLE_CATEGORIES = frozenset({"Cf", "Mn", "Me", "Cc"})


def has_visible_text(text: str) -> bool:
    """Does `text` hold anything a reader sees? Not when it is only spaces, newlines, invisible formatting
    characters, marks with nothing to mark, or blank-looking fillers, which pass Slack's minimum length."""
    return any(not char.isspace() and char not in BLANK_LOOKING
               and unicodedata.category(char) not in INVISIBLE_CATEGORIES for char in text)


def hidden_character_error(value: str) -> str | None:
    for char in value:
        if char != EMOJI_JOINER and unicodedata.category(char) in HIDDEN_CATEGORIES:
            return f"must not contain control or invisible characters (found U+{ord(char):04X})"
    return None


def name_error(value: str) -> str | None:
    if not value.strip():
        return "must not be empty"
    if message := hidden_character_error(value):
        return message
    if value != value.strip():
        return "must not start or end with spaces"
    if len(value) > NAME_MAX_LENGTH:
        return f"must be at most {NAME_MAX_LENGTH} characters"
    return None


def reason_error(value: str) -> str | None:
    if len(value) > REASON_MAX_LENGTH:
        return f"must be at most {REASON_MAX_LENGTH} characters"
    return hidden_character_error(value)


# /timeoff's words (slackbot.routing.COMMAND_ROUTES, which a test keeps equal): `/timeoff list` is the
# list, so a leave type coded "list" could never be typed first in `/timeoff list 2027-01-04`.
COMMAND_WORDS = frozenset({"help", "balance", "list", "cancel", "for", "who"})


# A date as people type it to /timeoff and as configuration files hold it: [0-9], not \d, which matches
# any script's digits.
ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def leave_code_error(value: str) -> str | None:
    if value in COMMAND_WORDS:
        return f"'{value}' is a /timeoff command (/timeoff {value}); choose another code"
    if ISO_DATE.fullmatch(value):  # `/timeoff 2031-12-24` is a date: a type so coded could never be typed
        return f"'{value}' reads as a date in /timeoff; choose a code with letters"
    if len(value) <= CODE_MAX_LENGTH and LEAVE_CODE_PATTERN.fullmatch(value):
        return None
    return "must be a short lowercase code like vacation or sick_leave (letters, digits, _ and -)"


def emoji_error(value: str) -> str | None:
    if message := hidden_character_error(value):
        return message
    if value == "" or (len(value) <= EMOJI_MAX_LENGTH and EMOJI_PATTERN.fullmatch(value)):
        return None
    return "must be a Slack emoji code like :palm_tree: (or empty)"


# Names the time zone database answers to that are no place: the server's own setting (Debian's
# zoneinfo has a `localtime` link to it), tzdata's old POSIX default, and its "zone not set" placeholder.
NOT_PLACES = frozenset({"localtime", "posixrules", "Factory"})


@functools.cache
def time_zone_names() -> frozenset[str]:
    """The IANA time zone names a team may take (read from the time zone database once)."""
    return frozenset(zoneinfo.available_timezones()) - NOT_PLACES


def timezone_error(value: str) -> str | None:
    # Looked up in the list, not loaded: ZoneInfo would also take `localtime`, `posix/…` and `right/…`
    # (files of the server's database, which another server may not have), and it imports each folder of
    # a name as a package, recursing once per "/" of a name with thousands of them.
    if len(value) > TIMEZONE_MAX_LENGTH:
        return f"must be at most {TIMEZONE_MAX_LENGTH} characters; use an IANA name like Europe/Paris"
    if value in time_zone_names():
        return None
    return f"unknown time zone {quoted(value)}; use an IANA name like Europe/Paris or America/Los_Angeles"


def holiday_country_error(value: str) -> str | None:
    if value in holidays.list_supported_countries():
        return None
    return f"unknown country code {quoted(value)}; use an ISO code the holidays package supports, like US, GB or DE"


def holiday_subdivision_error(country: str, subdivision: str) -> str | None:
    """Assumes `country` passed holiday_country_error."""
    # Checked first, even though no code is this long today: should a newer holidays package add
    # one, the file and the admin refuse it here rather than the database with an error naming nothing.
    if len(subdivision) > HOLIDAY_SUBDIVISION_MAX_LENGTH:
        return f"must be at most {HOLIDAY_SUBDIVISION_MAX_LENGTH} characters"
    supported = holidays.list_supported_countries()[country]
    if subdivision in supported:
        return None
    if not supported:
        return f"{country} has no subdivisions in the holidays package; leave it empty"
    return f"unknown subdivision {quoted(subdivision)} for {country}; one of: {', '.join(supported)}"


# --- Kinds ---------------------------------------------------------------------------------


class Invalid(Exception):
    """What is wrong with a value: messages, or (where under it, message) for items of a list."""

    def __init__(self, *problems: str | tuple[str, str]):
        super().__init__(*problems)
        self.problems = [problem if isinstance(problem, tuple) else ("", problem) for problem in problems]


class Kind:
    """What a field holds. `read` takes a value as the file or a model holds it and returns the
    dataclass's value or raises Invalid; `write` gives the file's form of a value."""

    empty = None  # how a model stores "not set"

    def read(self, raw: Any) -> Any:
        return raw

    def write(self, value: Any) -> Any:
        return value

    def from_model(self, stored: Any) -> Any:
        if stored == self.empty:
            return None
        return tuple(stored) if isinstance(stored, list) else stored


@dataclass(frozen=True)
class Text(Kind):
    check: Callable[[str], str | None] | None = None
    empty = ""  # Django stores "not set" text as ""

    def read(self, raw):
        if not isinstance(raw, str):
            hint = " (in YAML, quote values like NO, yes or on: they are read as true/false)"
            raise Invalid("must be a string" + (hint if isinstance(raw, bool) else f", not {kind_of(raw)}"))
        if message := self.check and self.check(raw):
            raise Invalid(message)
        return raw


@dataclass(frozen=True)
class SlackId(Text):
    ids: SlackIdKind = USER

    def read(self, raw):
        if message := self.ids.error(raw):
            raise Invalid(about(raw, message))
        return raw


@dataclass(frozen=True)
class SlackIds(Kind):
    ids: SlackIdKind = USER

    def read(self, raw):
        if not isinstance(raw, (list, tuple)):
            raise Invalid(f"must be a list of Slack {self.ids.noun} ids like {self.ids.example}")
        problems, seen = [], set()
        for index, item in enumerate(raw):
            if message := self.ids.error(item):
                problems.append((f"[{index}]", about(item, message)))
            elif item in seen:
                problems.append((f"[{index}]", f"'{item}' is listed twice"))
            else:
                seen.add(item)  # a valid id: a short string
        if problems:
            raise Invalid(*problems)
        return tuple(raw)


@dataclass(frozen=True)
class Names(Kind):
    """A list of names (a team's earlier names), each checked as `item` checks a name."""

    item: Text

    def read(self, raw):
        if not isinstance(raw, (list, tuple)):
            raise Invalid(f"must be a list of names, not {kind_of(raw)}")
        problems, seen = [], set()
        for index, name in enumerate(raw):
            try:
                self.item.read(name)
            except Invalid as invalid:
                problems.extend((f"[{index}]", message) for _, message in invalid.problems)
                continue
            if name in seen:
                problems.append((f"[{index}]", f"{quoted(name)} is listed twice"))
            seen.add(name)
        if problems:
            raise Invalid(*problems)
        return tuple(raw)


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
        if isinstance(raw, bool) or not isinstance(raw, int) or not self.minimum <= raw <= self.maximum:
            raise Invalid(f"must be a whole number from {self.minimum} to {self.maximum}")
        return raw


class Days(Kind):
    """Days in steps of 0.5: a Decimal in Python and the database, 25 or 12.5 in the file."""

    def read(self, raw):
        problem = f"must be a number of days from 0 to {MAX_DAYS} in steps of 0.5, like 25 or 12.5"
        if isinstance(raw, bool) or not isinstance(raw, (int, float, Decimal)):
            raise Invalid(problem)
        # str() first: Decimal(0.1) would carry the float's binary noise.
        number = Decimal(str(raw)) if isinstance(raw, float) else Decimal(raw)
        if not number.is_finite() or not 0 <= number <= MAX_DAYS or number * 2 != (number * 2).to_integral_value():
            raise Invalid(problem)
        return number

    def write(self, value):
        # 25 stays 25 and 12.5 stays 12.5: halves are exact in binary floating point.
        return int(value) if value == value.to_integral_value() else float(value)


class ClockTime(Kind):
    def read(self, raw):
        # [0-9], not \d: \d also matches other scripts' digits ("0٩:00"), which fromisoformat refuses.
        if isinstance(raw, time) or (isinstance(raw, str) and re.fullmatch(r"([01][0-9]|2[0-3]):[0-5][0-9]", raw)):
            return raw if isinstance(raw, time) else time.fromisoformat(raw)
        if isinstance(raw, int) and not isinstance(raw, bool):
            # YAML 1.1 reads an unquoted 10:30 as the number 630 (base 60).
            raise Invalid('must be a time like "09:00" (in YAML, put it in quotes)')
        raise Invalid('must be a time like "09:00" (24-hour HH:MM)')

    def write(self, value):
        return value.strftime("%H:%M")


class Day(Kind):
    """A day of the calendar HR plans (holidays, blackouts): from FIRST_DAY to LAST_DAY."""

    def read(self, raw):
        # A model's DateField holds a date; so does YAML written with an explicit !!timestamp tag.
        if isinstance(raw, date) and not isinstance(raw, datetime):
            day = raw
        elif not isinstance(raw, str) or not ISO_DATE.fullmatch(raw):
            raise Invalid("must be a date like 2026-12-24")
        else:
            try:
                day = date.fromisoformat(raw)
            except ValueError:
                raise Invalid(f"{quoted(raw)} is not a real date") from None
        if not FIRST_DAY <= day <= LAST_DAY:
            shown = quoted(raw) if isinstance(raw, str) else day.isoformat()
            raise Invalid(f"{shown} is not between {FIRST_DAY.year} and {LAST_DAY.year}; check the year")
        return day

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


class TeamName(Text):
    """A team, by name in the file and by foreign key in the database (the caller resolves the name)."""

    empty = None

    def from_model(self, stored):
        return stored.name if stored is not None else None


NAME = Text(name_error)
NAMES = Names(item=NAME)
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
TEAM_NAME = TeamName(name_error)  # a reference never matches a bad name: say why, not "no team named …"


# --- Describing fields -----------------------------------------------------------------------


@dataclass(frozen=True)
class Leaf:
    """One field as the engine sees it; a nested dataclass's fields are flattened into its record's."""

    kind: Kind | None
    file: tuple[str, ...] = ()  # its keys in the file; default: its name
    model: str = ""  # its model field; default: its name
    attr: tuple[str, ...] = ()  # ("members", "users")
    required: bool = False  # it has no default: the file must give it
    required_in_group: bool = False  # its object in the file needs it, and is written as null without it
    nested: type | None = None
    entries: type | None = None

    @property
    def needed(self) -> bool:
        """The file must give it (within its object, if it is in one and that object is given)."""
        return self.required or self.required_in_group


def spec(kind: Kind, default: Any = dataclasses.MISSING, *, file="", model="", required_in_group=False):
    """A dataclass field holding a `kind` of value; without a default, the file must give it.

    `file="holidays.country"` puts it in an object of the file; `required_in_group`
    makes that object need it, and be written as null when it is None.
    """
    leaf = Leaf(kind, file=tuple(file.split(".")) if file else (), model=model, required_in_group=required_in_group)
    return dataclasses.field(default=default, metadata={"leaf": leaf})


def nested(record_type: type):
    """A dataclass of specs: an object in the file, `<name>_<field>` fields on the model."""
    return dataclasses.field(default_factory=record_type, metadata={"leaf": Leaf(None, nested=record_type)})


def entries(record_type: type, *, required: bool = False):
    """A list of records: a list in the file, rows of another model."""
    return dataclasses.field(default=(), metadata={"leaf": Leaf(None, entries=record_type, required=required)})


@functools.cache
def leaves(record_type: type) -> tuple[Leaf, ...]:
    """A record's fields in file order, with their defaults filled in and nested ones flattened."""
    result = []
    for field in dataclasses.fields(record_type):
        if "leaf" not in field.metadata:
            raise TypeError(f"{record_type.__name__}.{field.name}: describe it with spec(), nested() or entries()")
        leaf: Leaf = field.metadata["leaf"]
        if leaf.nested:
            for inner in leaves(leaf.nested):
                result.append(
                    dataclasses.replace(
                        inner,
                        attr=(field.name, *inner.attr),
                        file=(field.name, *inner.file),
                        model=f"{field.name}_{inner.model}",
                    )
                )
            continue
        no_default = field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING
        result.append(
            dataclasses.replace(
                leaf,
                attr=(field.name,),
                file=leaf.file or (field.name,),
                model=leaf.model or field.name,
                required=leaf.required or no_default,
            )
        )
    return tuple(result)


def shape(record_type: type) -> str:
    """A short digest of the record's fields and their kinds (its entries' too): it changes when they do."""
    described = [f"{'.'.join(leaf.attr)}:{type(leaf.kind).__name__}" for leaf in leaves(record_type) if leaf.kind]
    described += [f"{leaf.attr[0]}:{shape(leaf.entries)}" for leaf in leaves(record_type) if leaf.entries]
    return hashlib.sha256(" ".join(described).encode()).hexdigest()[:12]


def model_kinds(record_type: type) -> dict[str, Kind]:
    """Model field -> kind, for the fields stored on the record's own model."""
    return {leaf.model: leaf.kind for leaf in leaves(record_type) if leaf.kind}


def _where(record_type: type, attr: str) -> tuple[str, str]:
    """The file path and the model field of an attribute (for a nested one: its object, its first field)."""
    leaf = next(leaf for leaf in leaves(record_type) if leaf.attr[0] == attr)
    return ".".join(leaf.file if len(leaf.attr) == 1 else leaf.file[:1]), leaf.model


def _problems(record) -> list[tuple[str, str]]:
    """What the record's `problems()` finds across its fields: (attribute, message)."""
    return list(record.problems()) if hasattr(record, "problems") else []


def _get(record, attr: tuple[str, ...]) -> Any:
    for name in attr:
        record = getattr(record, name)
    return record


def _build(record_type: type, values: dict[tuple[str, ...], Any]):
    """The dataclass from values by attribute path; a missing one takes its default (None if it has none)."""
    kwargs = {}
    for field in dataclasses.fields(record_type):
        if inner_type := field.metadata["leaf"].nested:
            kwargs[field.name] = _build(inner_type, {a[1:]: v for a, v in values.items() if a[0] == field.name})
        elif (field.name,) in values:
            kwargs[field.name] = values[(field.name,)]
        elif field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
            kwargs[field.name] = None  # missing or wrong, and reported
    return record_type(**kwargs)


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


# --- The file --------------------------------------------------------------------------------


def read_record(record_type: type, raw: Any, path: str, errors: list[str], *, known: tuple[str, ...] = ()):
    """The dataclass for an object of the file, each problem appended to `errors` as "path: message".

    A wrong value takes its default so that the caller can go on checking across
    records, but must not use the result if `errors` grew. The checks across the
    record's fields (`problems()`) run once each of its fields is fine. Keys in
    `known` are the caller's to read.
    """
    errors_before = len(errors)
    values: dict[tuple[str, ...], Any] = {}
    tree: dict = {}  # key -> Leaf, or key -> dict for an object, in file order
    for leaf in leaves(record_type):
        node = tree
        for key in leaf.file[:-1]:
            node = node.setdefault(key, {})
        node[leaf.file[-1]] = leaf
    if not _read_object(tree | dict.fromkeys(known), raw, path, values, errors):
        return None
    record = _build(record_type, values)
    if len(errors) == errors_before:
        errors.extend(f"{_join(path, _where(record_type, a)[0])}: {message}" for a, message in _problems(record))
    return record


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _read_object(tree: dict, raw: Any, path: str, values: dict, errors: list[str]) -> bool:
    required = [key for key, node in tree.items() if isinstance(node, Leaf) and node.needed]
    allowed = [*required, *(key for key in tree if key not in required)]
    if not isinstance(raw, dict):
        errors.append(f"{path or '(top level)'}: must be an object with keys {', '.join(allowed)}")
        return False
    for key in raw:
        if key not in tree:
            shown = shortened(str(key))  # a YAML key may be a number or true/false; any may be long
            close = difflib.get_close_matches(shown, allowed, n=1)
            hint = f"did you mean '{close[0]}'?" if close else f"expected one of: {', '.join(allowed)}"
            errors.append(f"{_join(path, shown)}: unknown key ({hint})")
    errors.extend(f"{_join(path, key)}: required" for key in required if raw.get(key) is None)
    for key, node in tree.items():
        value, where = raw.get(key), _join(path, key)
        if value is None or node is None:  # omitted or null: the default; or the caller's
            continue
        if isinstance(node, dict):
            _read_object(node, value, where, values, errors)
        elif node.entries and not isinstance(value, list):
            errors.append(f"{where}: must be a list")
        elif node.entries:
            entries_ = (read_record(node.entries, item, f"{where}[{i}]", errors) for i, item in enumerate(value))
            values[node.attr] = tuple(entries_)  # None for an entry that is not an object
        else:
            try:
                values[node.attr] = node.kind.read(value)
            except Invalid as invalid:
                errors.extend(f"{where}{under}: {message}" for under, message in invalid.problems)
    return True


def write_record(record) -> dict:
    """The object of the file for a dataclass: every key, defaults included, in file order."""
    result: dict = {}
    for leaf in leaves(type(record)):
        value = _get(record, leaf.attr)
        if leaf.entries:
            value = [write_record(entry) for entry in value]
        elif value is not None:
            value = _plain(leaf.kind.write(value))
        node = result
        for key in leaf.file[:-1]:
            node = node.setdefault(key, {})
        node[leaf.file[-1]] = value
    for leaf in leaves(type(record)):
        if leaf.required_in_group and _get(record, leaf.attr) is None:
            result[leaf.file[0]] = None
    return result


# --- The models ------------------------------------------------------------------------------


def record_from_row(record_type: type, row, **entries_):
    """The dataclass for a model row (its entries, which live in other tables, passed in)."""
    values = {leaf.attr: leaf.kind.from_model(getattr(row, leaf.model)) for leaf in leaves(record_type) if leaf.kind}
    values = {attr: value for attr, value in values.items() if value is not None}  # not set: the default
    return _build(record_type, values | {(name,): value for name, value in entries_.items()})


def row_values(record) -> dict[str, Any]:
    """Model field -> value for a dataclass; a TeamName gives the name, for the caller to resolve."""
    values = {}
    for leaf in leaves(type(record)):
        if leaf.kind:
            value = _get(record, leaf.attr)
            values[leaf.model] = leaf.kind.empty if value is None else _plain(value)
    return values


def row_errors(row, record_type: type) -> dict[str, list[str]]:
    """Model field -> messages, for a configuration model's `clean()`.

    An empty value is left to the model field's `blank`; checks across rows
    are database constraints, which `Model.validate_constraints` reports.
    """
    errors, values, complete = {}, {}, True
    for leaf in leaves(record_type):
        if leaf.kind is None or isinstance(leaf.kind, TeamName):  # other rows: the foreign key checks those
            continue
        value = leaf.kind.from_model(getattr(row, leaf.model))
        if value is None:
            complete = complete and not leaf.required
            continue
        try:
            values[leaf.attr] = leaf.kind.read(value)
        except Invalid as invalid:
            errors[leaf.model] = [_sentence(message) for _, message in invalid.problems]
    if complete and not errors:  # as in the file: checks across fields once each one is fine
        for attr, message in _problems(_build(record_type, values)):
            errors.setdefault(_where(record_type, attr)[1], []).append(_sentence(message))
    return errors


def _sentence(message: str) -> str:
    return f"{message[0].upper()}{message[1:]}."
