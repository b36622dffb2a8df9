"""The configuration file of DESIGN §4: validate it as a whole, read it, write it.

`parse_config` checks the whole file and reports every problem at once, each
naming its place in the file (`teams[1].approvals_channel: ...`), so HR fixes a
file in one pass instead of one error per run. Unknown keys are errors: a typo
such as `aprovers` must not silently drop a team's approvers.

`config_to_dict` writes the same format; for a file written by it,
`config_to_dict(parse_config(d)) == d`.

What each key holds, its default and its checks come from the dataclasses in
`approvals.config_types` (through `approvals.config_fields`), which the models
and the admin follow too. This module adds what only a whole file has: its
version, and the checks across entries. Pure: no ORM, no Slack.
"""

import collections.abc
import json
import os
import tempfile
import unicodedata
from pathlib import Path
from typing import Any, TextIO

import yaml

from approvals.config_fields import (
    CHANNEL,
    LEAVE_TYPES_MAX,
    USER,
    USERGROUP,
    SlackIdKind,
    quoted,
    read_record,
    shortened,
    write_record,
)
from approvals.config_types import WorkspaceConfig, swap_text, swapped_with

__all__ = [  # USER, CHANNEL, USERGROUP and SlackIdKind are also imported from here
    "CHANNEL",
    "CONFIG_VERSION",
    "FORMATS",
    "USER",
    "USERGROUP",
    "ConfigError",
    "SlackIdKind",
    "config_from_text",
    "config_to_dict",
    "config_to_text",
    "dump_config_file",
    "format_for_path",
    "load_config_file",
    "parse_config",
]

CONFIG_VERSION = 1
# A file with thousands of mistakes (or made to have them) would fill a page and a terminal that
# nobody reads to the end: the first ones say what is wrong, and HR fixes those and tries again.
MAX_ERRORS_SHOWN = 100


class ConfigError(Exception):
    """The configuration is invalid; `errors` lists the problems (the first MAX_ERRORS_SHOWN, and a
    line saying how many more), each naming its path; `count` is how many there are in all."""

    def __init__(self, errors: list[str]):
        errors = list(errors)
        self.count = len(errors)
        if len(errors) > MAX_ERRORS_SHOWN:
            errors = [*errors[:MAX_ERRORS_SHOWN], f"... and {len(errors) - MAX_ERRORS_SHOWN} more errors"]
        self.errors = errors
        super().__init__("\n".join(self.errors))


def parse_config(data: Any) -> WorkspaceConfig:
    """Validate a whole configuration file (already decoded) and build the snapshot.

    Raises ConfigError listing every problem found, not just the first.
    """
    if not isinstance(data, dict):
        raise ConfigError(["(top level): must be an object with keys version, teams, leave_types, ..."])

    # A newer file may use keys and meanings this code does not know: refuse it
    # outright rather than report its new keys as typos or half-apply it.
    version = data.get("version")
    if isinstance(version, int) and not isinstance(version, bool) and version > CONFIG_VERSION:
        raise ConfigError([f"version: this file is version {shortened(str(version))}; "
                           f"this app reads version {CONFIG_VERSION} — upgrade the app"])
    errors = []
    if version is None:
        errors.append("version: required")
    elif isinstance(version, bool) or version != CONFIG_VERSION:
        errors.append(f"version: must be {CONFIG_VERSION}")

    config = read_record(WorkspaceConfig, data, "", errors, known=("version",))

    # Checks across entries. An entry that is not an object is None here (and already reported).
    team_names = _first_of_each(config.teams, "teams", "name", errors)
    _names_alike(config.teams, errors)
    _names_swapped(config.teams, errors)
    _first_of_each(config.leave_types, "leave_types", "code", errors)
    _leave_type_names_alike(config.leave_types, errors)
    if len(config.leave_types) > LEAVE_TYPES_MAX:
        errors.append(f"leave_types: at most {LEAVE_TYPES_MAX} leave types, not {len(config.leave_types)}: the "
                      "request form's menu offers every one, and Slack refuses a form larger than that")
    defaults = [index for index, team in enumerate(config.teams) if team is not None and team.default]
    errors.extend(
        f"teams[{index}].default: only one team may be the default; teams[{defaults[0]}] already is"
        for index in defaults[1:]
    )
    for section in ("holidays", "blackouts"):
        for index, entry in enumerate(getattr(config, section)):
            if entry is not None and entry.team is not None and entry.team not in team_names:
                errors.append(f"{section}[{index}].team: no team named '{entry.team}' in this file")
    _no_repeats(config.holidays, "holidays", ("date", "team"), errors)
    _no_repeats(config.blackouts, "blackouts", ("start", "end", "team"), errors)

    if errors:
        raise ConfigError(errors)
    return config


def _first_of_each(entries: tuple, section: str, key: str, errors: list[str]) -> dict[Any, int]:
    """Each value of `key` -> the index of its first entry; a value seen again is an error."""
    first: dict[Any, int] = {}
    for index, entry in enumerate(entries):
        value = getattr(entry, key, None)
        if value in first:
            errors.append(f"{section}[{index}].{key}: duplicate {key} '{value}' (also {section}[{first[value]}])")
        elif value is not None:
            first[value] = index
    return first


def _no_repeats(entries: tuple, section: str, keys: tuple[str, ...], errors: list[str]) -> None:
    """A company day on one date for the same teams twice, or one blackout twice: a copy-paste slip."""
    first: dict[tuple, int] = {}
    for index, entry in enumerate(entries):
        if entry is None:
            continue
        value = tuple(getattr(entry, key, None) for key in keys)
        if value in first:
            said = ", ".join(f"{key} {'every team' if v is None else v}" for key, v in zip(keys, value))
            errors.append(f"{section}[{index}]: the same {said} as {section}[{first[value]}]")
        else:
            first[value] = index


def looks_like(name: str) -> str:
    """What a name reads as: "Café" typed as one é or as e and an accent, in any case, is one name."""
    return unicodedata.normalize("NFKC", name).casefold()


def _names_alike(teams: tuple, errors: list[str]) -> None:
    """Team names that differ only by case ("Engineering", "engineering"): one team to a person reading
    them, two to the configuration (names are matched exactly)."""
    first: dict[str, int] = {}
    for index, team in enumerate(teams):
        if team is None or not isinstance(team.name, str):
            continue  # reported already
        folded = looks_like(team.name)
        if folded in first and teams[first[folded]].name != team.name:
            errors.append(f"teams[{index}].name: '{team.name}' differs only by case (or by how its letters are "
                          f"encoded) from teams[{first[folded]}]'s '{teams[first[folded]].name}'")
        first.setdefault(folded, index)


def _names_swapped(teams: tuple, errors: list[str]) -> None:
    """Two teams each listing the other's name in `past_names`: they swapped names, and each one's past leave
    would count as the other's (`config_types.swap_text`). Reported once, on the later team's name."""
    def valid(team) -> bool:
        return (team is not None and isinstance(team.name, str)
                and all(isinstance(past, str) for past in team.past_names or ()))

    for index, team in enumerate(teams):
        if not valid(team):
            continue  # reported already
        earlier = [other for other in teams[:index] if valid(other)]
        if (other := swapped_with(team.name, team.past_names, earlier)) is not None:
            at = next(position for position, candidate in enumerate(teams) if candidate is other)
            errors.append(f"teams[{index}].name: "
                          f"{swap_text(quoted(team.name), quoted(other.name), f'teams[{at}]')}")


def _leave_type_names_alike(leave_types: tuple, errors: list[str]) -> None:
    """Leave types of one name, in any case ("Vacation", "vacation"): /timeoff's list, balances and exports
    show types by name, so people could not tell them apart (the codes differ, and nobody sees codes)."""
    first: dict[str, int] = {}
    for index, leave_type in enumerate(leave_types):
        if leave_type is None or not isinstance(leave_type.name, str):
            continue  # reported already
        folded = looks_like(leave_type.name)
        if folded in first:
            other = leave_types[first[folded]]
            code = f", code '{other.code}'" if other.code is not None else ""  # a wrong code is reported already
            errors.append(f"leave_types[{index}].name: another leave type is already called {quoted(other.name)} "
                          f"(leave_types[{first[folded]}]{code}); give each its own name, or people cannot "
                          "tell them apart")
        else:
            first[folded] = index


def config_to_dict(config: WorkspaceConfig) -> dict:
    """The file format of DESIGN §4. Every key is written, defaults included, so an export is self-describing."""
    return {"version": CONFIG_VERSION, **write_record(config)}


# --- Files: JSON, or YAML for .yml/.yaml ---------------------------------------------

FORMATS = ("json", "yaml")


def format_for_path(path: str | os.PathLike) -> str:
    return "yaml" if Path(path).suffix.lower() in (".yml", ".yaml") else "json"


class _ConfigLoader(yaml.SafeLoader):
    """safe_load, but stricter, for a file that may come from anyone with access to the console:

    - a key written twice is an error, instead of the last one silently winning;
    - a key must be a single value: `? [a, b]` makes a list a key, which no dict can hold;
    - anchors and aliases (`&name`, `*name`) are refused: a few hundred bytes of aliases of aliases
      stand for billions of values (a "billion laughs"), and an exported file never has any;
    - dates stay text, for the field's own check to read: YAML's would refuse `date: 2027-02-29` for
      the whole file without naming the field, and call other fields' dates a wrong type.
    """

    yaml_implicit_resolvers = {
        first: [(tag, pattern) for tag, pattern in resolvers if tag != "tag:yaml.org,2002:timestamp"]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }

    def compose_node(self, parent, index):
        event = self.peek_event()
        if isinstance(event, yaml.NodeEvent) and event.anchor is not None:  # an alias, or an anchor to one
            raise yaml.composer.ComposerError(
                None, None, "anchors and aliases (&, *) are not supported; write each value out in full",
                event.start_mark,
            )
        return super().compose_node(parent, index)

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if not isinstance(key, collections.abc.Hashable):
                raise yaml.constructor.ConstructorError(
                    "while reading a mapping", node.start_mark,
                    "found a list or an object as a key; a key is a single word, like teams", key_node.start_mark,
                )
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    "while reading a mapping", node.start_mark, f"found duplicate key '{shortened(str(key))}'",
                    key_node.start_mark,
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


class _NoAliasDumper(yaml.SafeDumper):
    """safe_dump, but a list or object that appears twice is written twice, never as an alias:
    import refuses aliases (see _ConfigLoader)."""

    def ignore_aliases(self, data):
        return True


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
    return parse_config(_decoded(text, fmt, source))


def _decoded(text: str, fmt: str, source: str) -> Any:
    language = "YAML" if fmt == "yaml" else "JSON"
    # Windows editors (Notepad among them) save UTF-8 with a byte order mark; JSON refuses it.
    text = text.removeprefix("\ufeff")
    try:
        if fmt == "yaml":
            return yaml.load(text, Loader=_ConfigLoader)  # noqa: S506 (a SafeLoader subclass)
        return json.loads(text, object_pairs_hook=_json_object_without_duplicates, parse_constant=_reject_json_constant)
    except RecursionError:
        # Both parsers recurse once per level of [ or {: thousands of them exhaust Python's stack. A
        # configuration file nests six levels deep. (No `from`: the traceback is thousands of frames.)
        raise ConfigError([f"{source}: not valid {language}: lists or objects nested too deeply"]) from None
    except (yaml.YAMLError, ValueError) as error:
        # json.JSONDecodeError is a ValueError, and so is what YAML's constructors raise for a value they
        # cannot build (a number of 5,000 digits, `!!timestamp 2027-02-29`).
        raise ConfigError([f"{source}: not valid {language}: {error}"]) from error


def config_to_text(config: WorkspaceConfig, fmt: str) -> str:
    data = config_to_dict(config)
    if fmt == "yaml":
        # The safe dumper quotes strings YAML would otherwise read as something else
        # ('NO', '10:30', '2026-12-24'), so the file reads back exactly.
        return yaml.dump(data, Dumper=_NoAliasDumper, sort_keys=False, allow_unicode=True, default_flow_style=False)
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def load_config_file(path: str | os.PathLike, fmt: str | None = None) -> WorkspaceConfig:
    """Read and validate a configuration file (format from its extension unless `fmt`). Raises ConfigError
    (also for a missing or unreadable file)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError([f"{path}: cannot read the file: {error}"]) from error
    return config_from_text(text, fmt or format_for_path(path), source=str(path))


def _mode_of(path: Path) -> int:
    try:
        return path.stat().st_mode & 0o7777
    except FileNotFoundError:
        mask = os.umask(0o022)  # read it by setting it, then put it back
        os.umask(mask)
        return 0o666 & ~mask


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
        # mkstemp makes the file readable by its owner alone: give it the mode the file it replaces had
        # (a backup job's group may read it), or a new file's usual one, as `export_config > FILE` would.
        os.chmod(temporary, _mode_of(path))
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
