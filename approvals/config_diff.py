"""What importing a configuration file would change: added, changed and removed entries.

`config_diff(old, new)` compares two configurations as the file of DESIGN §4
writes them, so each change names the keys HR sees in the file
(`approvers.users`, `holidays.country`). Teams are matched by name (a team
renamed is matched by the old name its `past_names` lists) and leave types by
code, as `config_apply` matches them; company holidays by date and
team, blackouts by start and team (they have no other identity: a holiday
renamed is "changed", one moved to another day is removed and added).

The console's upload preview and `import_config` print the same summary
(`ConfigDiff.lines()`), and both ask before removing anything. Pure: no ORM,
no Slack.
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from approvals.config_file import config_to_dict
from approvals.config_types import WorkspaceConfig

ADDED, CHANGED, REMOVED = "added", "changed", "removed"

SECTIONS = {  # file key -> how a summary names one entry, and several
    "workspace": ("workspace setting", "workspace settings"),
    "teams": ("team", "teams"),
    "leave_types": ("leave type", "leave types"),
    "holidays": ("company holiday", "company holidays"),
    "blackouts": ("blackout", "blackouts"),
    # Not a section of the file but part of each team's: an approvals channel dropped from a team's
    # history is history the ledger stops reading (balances, overlaps), so it is asked about as a removal.
    "past_approvals_channels": ("past approvals channel", "past approvals channels"),
}
WORKSPACE_KEYS = ("requesters", "fallback_approvers")


@dataclass(frozen=True)
class FieldChange:
    key: str  # the file's key, dotted for nested ones: "approvers.users"
    old: Any
    new: Any


@dataclass(frozen=True)
class Change:
    kind: str  # ADDED, CHANGED or REMOVED
    section: str  # a key of SECTIONS
    name: str  # the team's name, the type's code, "2026-12-24 Company day", …
    fields: tuple[FieldChange, ...] = ()  # what differs, for CHANGED

    def line(self) -> str:
        what = SECTIONS[self.section][0]
        if self.kind == CHANGED:
            keys = ", ".join(field.key for field in self.fields)
            return f"~ {what} {self.name}: {keys}"
        return f"{'+' if self.kind == ADDED else '-'} {what} {self.name}"


@dataclass(frozen=True)
class ConfigDiff:
    changes: tuple[Change, ...] = ()
    teams_reordered: bool = False
    leave_types_reordered: bool = False

    @property
    def empty(self) -> bool:
        return not (self.changes or self.teams_reordered or self.leave_types_reordered)

    @property
    def removals(self) -> tuple[Change, ...]:
        return tuple(change for change in self.changes if change.kind == REMOVED)

    def of(self, section: str, kind: str | None = None) -> tuple[Change, ...]:
        return tuple(c for c in self.changes if c.section == section and (kind is None or c.kind == kind))

    def counts(self) -> str:
        """'2 teams added, 1 team changed, 1 company holiday removed' (or 'no changes')."""
        parts = []
        for section, (one, many) in SECTIONS.items():
            for kind in (ADDED, CHANGED, REMOVED):
                number = len(self.of(section, kind))
                if number:
                    parts.append(f"{number} {one if number == 1 else many} {kind}")
        if self.teams_reordered:
            parts.append("teams reordered")
        if self.leave_types_reordered:
            parts.append("leave types reordered")
        return ", ".join(parts) or "no changes"

    def lines(self) -> list[str]:
        """One line per change ('+ team Sales', '~ team Engineering: max_out', '- leave type sick')."""
        lines = [change.line() for change in self.changes]
        if self.teams_reordered:
            lines.append("~ the order teams are matched in")
        if self.leave_types_reordered:
            lines.append("~ the order of leave types")
        return lines


def config_diff(old: WorkspaceConfig, new: WorkspaceConfig) -> ConfigDiff:
    """What replacing `old` with `new` (config_apply) adds, changes and removes."""
    before, after = config_to_dict(old), config_to_dict(new)
    changes: list[Change] = []

    workspace = [f for key in WORKSPACE_KEYS for f in _field_changes(before.get(key), after.get(key), key)]
    changes.extend(Change(CHANGED, "workspace", f.key, (f,)) for f in workspace)

    renamed = new.renamed_from(team.name for team in old.teams)  # name now -> name before
    changes.extend(_by_identity("teams", before["teams"], after["teams"], lambda t: t["name"], renamed))
    changes.extend(_past_channels_dropped(old, new, renamed))
    changes.extend(_by_identity("leave_types", before["leave_types"], after["leave_types"], lambda t: t["code"]))
    # A renamed team's holidays and blackouts are the same rows under its new name (config_apply keeps them).
    now_called = {old_name: name for name, old_name in renamed.items()}
    for section in ("holidays", "blackouts"):
        before[section] = [{**entry, "team": now_called.get(entry["team"], entry["team"])}
                           for entry in before[section]]
    changes.extend(_by_key("holidays", before["holidays"], after["holidays"],
                           key=lambda h: (h["date"], h["team"]), name=_holiday_name))
    changes.extend(_by_key("blackouts", before["blackouts"], after["blackouts"],
                           key=lambda b: (b["start"], b["team"]), name=_blackout_name))
    return ConfigDiff(
        changes=tuple(changes),
        teams_reordered=_reordered(before["teams"], after["teams"], lambda t: t["name"], renamed),
        leave_types_reordered=_reordered(before["leave_types"], after["leave_types"], lambda t: t["code"]),
    )


def _past_channels_dropped(old: WorkspaceConfig, new: WorkspaceConfig, renamed: dict[str, str]) -> list[Change]:
    """The approvals channels the ledger would read no more, and those a removed team leaves to it.

    A team's own approvals channel, left for a new one, is kept in its past ones by `config_apply`: only a
    past channel the file no longer lists is dropped. A team removed leaves its channels to the workspace's
    `past_approvals_channels` (its requests still count): shown as added.
    """
    old_teams = {team.name: team for team in old.teams}
    # The ledger reads every team's channels for everyone's requests: a channel passed to another team's
    # history is still read.
    reading = {channel for team in new.teams for channel in team.ledger_channels} | set(new.past_approvals_channels)
    changes = []
    for team in new.teams:
        before = old_teams.get(renamed.get(team.name, team.name))
        if before is None:
            continue
        reading_here = {*reading, before.approvals_channel}
        changes.extend(Change(REMOVED, "past_approvals_channels", f"{channel} ({team.name})")
                       for channel in before.past_approvals_channels if channel not in reading_here)
    # The workspace's own list: channels of teams removed before. One the file no longer lists is dropped.
    changes.extend(Change(REMOVED, "past_approvals_channels", f"{channel} (of a team removed before)")
                   for channel in old.past_approvals_channels if channel not in reading)
    # A team removed now keeps its channels in the ledger (config_store._team_deleted): said, not asked.
    kept = set(renamed.values()) | {team.name for team in new.teams}
    already = {*reading, *old.past_approvals_channels}
    for team in old.teams:
        if team.name in kept:
            continue
        for channel in team.ledger_channels:
            if channel not in already:
                already.add(channel)
                changes.append(Change(ADDED, "past_approvals_channels", f"{channel} (kept from the removed team "
                                                                        f"{team.name})"))
    return changes


def _field_changes(old: Any, new: Any, prefix: str = "") -> Iterator[FieldChange]:
    """The leaves of two nested dicts that differ, named by their dotted path."""
    if isinstance(old, dict) and isinstance(new, dict):
        for key in dict.fromkeys([*old, *new]):
            yield from _field_changes(old.get(key), new.get(key), f"{prefix}.{key}" if prefix else key)
    elif old != new:
        yield FieldChange(prefix, old, new)


def _by_identity(section: str, old: list[dict], new: list[dict], identity: Callable[[dict], str],
                 renamed: dict[str, str] | None = None) -> list[Change]:
    """`renamed`: new identity -> old identity, for entries whose identity changed (a team renamed)."""
    renamed = renamed or {}
    old_by_id = {identity(entry): entry for entry in old}
    new_by_id = {renamed.get(identity(entry), identity(entry)): entry for entry in new}
    changes = []
    for key, entry in new_by_id.items():
        if key not in old_by_id:
            changes.append(Change(ADDED, section, identity(entry)))
        elif fields := tuple(_field_changes(old_by_id[key], entry)):
            changes.append(Change(CHANGED, section, identity(entry), fields))
    changes.extend(Change(REMOVED, section, key) for key in old_by_id if key not in new_by_id)
    return changes


def _by_key(section: str, old: list[dict], new: list[dict], *, key: Callable[[dict], tuple],
            name: Callable[[dict], str]) -> list[Change]:
    """Entries without an identity: equal ones are unchanged, the rest pair up by `key`, else added/removed."""
    left = [entry for entry in old]
    added = []
    for entry in new:
        if entry in left:
            left.remove(entry)
        else:
            added.append(entry)
    changes = []
    for entry in added:
        partner = next((candidate for candidate in left if key(candidate) == key(entry)), None)
        if partner is None:
            changes.append(Change(ADDED, section, name(entry)))
        else:
            left.remove(partner)
            changes.append(Change(CHANGED, section, name(entry), tuple(_field_changes(partner, entry))))
    changes.extend(Change(REMOVED, section, name(entry)) for entry in left)
    return changes


def _reordered(old: list[dict], new: list[dict], identity: Callable[[dict], str],
               renamed: dict[str, str] | None = None) -> bool:
    renamed = renamed or {}
    new_ids = [renamed.get(identity(entry), identity(entry)) for entry in new]
    kept = {identity(entry) for entry in old} & set(new_ids)
    return [identity(e) for e in old if identity(e) in kept] != [key for key in new_ids if key in kept]


def _scope(team: str | None) -> str:
    return f" ({team})" if team else ""


def _holiday_name(holiday: dict) -> str:
    return f"{holiday['date']} {holiday['name']}{_scope(holiday['team'])}"


def _blackout_name(blackout: dict) -> str:
    return f"{blackout['start']} – {blackout['end']}{_scope(blackout['team'])}"
