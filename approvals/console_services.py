"""Writes the HR console makes to the configuration (issue 10, items 2 and 3).

Services, named `<entity>_<action>` and keyword-only: `team_create`,
`team_update`, `team_delete`, `team_move`, `leave_type_create|update|delete`,
`holiday_create|update|delete`, `blackout_create|update|delete` and
`workspace_policy_update`. They take model field names as keywords, and each
row goes through the model's `full_clean()`: the fields' one description
(`approvals/config_types.py`, through `ConfigModel.clean()`) and the database
constraints (one default team, a blackout's end after its start, unique names)
decide what is accepted, here as in the admin and the configuration file. A
refusal raises Django's `ValidationError`, keyed by model field.

An update may carry the `version` (`row_version`) of the row the form was
made from: if someone saved the row since, it raises `ConfigRowChanged` and
changes nothing, so a second HR user's stale form never silently undoes the
first one's change.

Saving or deleting a row fires the configuration's invalidation receivers
(`config_store.connect_invalidation_receivers`, now and again after commit), so
Slack reads the new configuration at once; deleting a team deletes its company
holidays and blackouts (foreign keys), which fire them too.
"""

import hashlib
import json
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, models, transaction

from approvals import config_fields
from approvals.config_store import past_after_change, team_name_refusal
from approvals.config_types import (
    BlackoutConfig,
    HolidayConfig,
    LeaveTypeConfig,
    TeamConfig,
    WorkspaceConfig,
    teams_that_had,
)
from approvals.models import Blackout, CompanyHoliday, LeaveType, Team, WorkspacePolicy


class ConfigRowNotFound(Exception):
    """The row to change is gone (deleted in another tab, say)."""


class TeamNotFound(ConfigRowNotFound):
    pass


class TeamOrderChanged(Exception):
    """The teams' order is no longer the one the page that asked for a move showed."""


class ConfigRowChanged(Exception):
    """Someone saved the row after the form was made from it; `version` is the row's version now."""

    def __init__(self, version: str):
        super().__init__(version)
        self.version = version


def _fields_of(record_type: type, *, extra: tuple[str, ...] = (), without: tuple[str, ...] = ()) -> frozenset[str]:
    """The model fields a service may set: those the record's description names (and `extra`)."""
    return frozenset(config_fields.model_kinds(record_type)) - set(without) | set(extra)


# HR never types these: the position is the matching order (team_move), and the
# earlier approvals channels and names follow from changing the approvals channel and the name.
TEAM_FIELDS = _fields_of(TeamConfig, without=("past_approvals_channels", "past_names"))
LEAVE_TYPE_FIELDS = _fields_of(LeaveTypeConfig)
HOLIDAY_FIELDS = _fields_of(HolidayConfig)  # `team`: a Team, or None for every team
BLACKOUT_FIELDS = _fields_of(BlackoutConfig)
# Removed teams' approvals channels follow from deleting a team (config_store): not HR's to type, and not
# in the form's fingerprint, or a team deleted meanwhile would make an open "Who may request" form stale.
POLICY_FIELDS = _fields_of(WorkspaceConfig, without=("past_approvals_channels",))


EDITABLE_FIELDS = {Team: TEAM_FIELDS, LeaveType: LEAVE_TYPE_FIELDS, CompanyHoliday: HOLIDAY_FIELDS,
                   Blackout: BLACKOUT_FIELDS, WorkspacePolicy: POLICY_FIELDS}


def row_version(row: models.Model) -> str:
    """A fingerprint of what HR edits in `row` (as the database holds it): any saved change changes it."""
    values = {name: getattr(row, row._meta.get_field(name).attname) for name in sorted(EDITABLE_FIELDS[type(row)])}
    return hashlib.sha256(json.dumps(values, sort_keys=True, default=str).encode()).hexdigest()[:32]


def _unchanged_since(row: models.Model, version: str | None) -> None:
    """Raise ConfigRowChanged if `row` (locked) is no longer the one whose `version` the form was made from."""
    if version is not None and row_version(row) != version:
        raise ConfigRowChanged(row_version(row))


def _set(row: models.Model, allowed: frozenset[str], fields: dict[str, Any]) -> None:
    unknown = set(fields) - allowed
    if unknown:
        raise TypeError(f"{type(row).__name__} has no editable field {', '.join(sorted(unknown))}")
    for name, value in fields.items():
        setattr(row, name, value)


def _save(row: models.Model) -> None:
    row.full_clean()  # field checks, clean() from the description, unique fields and constraints
    try:
        with transaction.atomic():  # a savepoint: the transaction stays usable for the check below
            row.save()
    except IntegrityError:
        # Someone saved the same name (or code) between our check and our save (two creates at once on
        # PostgreSQL, read committed): checked again now, the field's own error says so, not a 500.
        row.validate_unique()
        row.validate_constraints()
        raise ValidationError("Someone else saved at the same moment; check the page and save again.") from None


def _locked(model: type[models.Model], pk: int, not_found: type[Exception] = ConfigRowNotFound):
    try:
        return model.objects.select_for_update().get(pk=pk)
    except model.DoesNotExist:
        raise not_found(pk) from None


def _delete(model: type[models.Model], pk: int, not_found: type[Exception] = ConfigRowNotFound) -> str:
    row = _locked(model, pk, not_found)
    label = str(row)
    row.delete()
    return label


def _next_position(model: type[models.Model]) -> int:
    last = model.objects.aggregate(last=models.Max("position"))["last"]
    return 0 if last is None else last + 1


# --- Teams -----------------------------------------------------------------------------------


@transaction.atomic
def team_create(**fields: Any) -> Team:
    """A new team, matched last (HR moves it up from the list). Fields as on the model."""
    team = Team(position=_next_position(Team))
    _set(team, TEAM_FIELDS, fields)
    _save(team)
    return team


@transaction.atomic
def team_update(*, team_id: int, version: str | None = None, **fields: Any) -> Team:
    """Change the given fields of a team (if it is still at `version`, when given).

    A new approvals channel moves the old one to `past_approvals_channels`, so
    the ledger keeps reading the requests already posted there (DESIGN §4); a
    new name moves the old one to `past_names`, so the requests already in Slack
    under the old name stay this team's leave. A new name another team had before
    is refused (ValidationError on `name`): that team's requests would move here.
    """
    team = _locked(Team, team_id, TeamNotFound)
    _unchanged_since(team, version)
    old_channel, old_name = team.approvals_channel, team.name
    _set(team, TEAM_FIELDS, fields)
    if team.approvals_channel != old_channel:
        team.past_approvals_channels = past_after_change(
            past=team.past_approvals_channels, old=old_channel, new=team.approvals_channel)
    if team.name != old_name:
        team.past_names = past_after_change(past=team.past_names, old=old_name, new=team.name)
        # Not to a name another team had before: its requests recorded under that name would become this
        # team's, and two teams swapping names would swap their past leave (config_store.team_name_refusal).
        if refusal := team_name_refusal(team_id=team.pk, old_name=old_name, name=team.name,
                                        past_names=team.past_names):
            raise ValidationError({"name": f"{refusal}."})
    _save(team)
    return team


@transaction.atomic
def team_delete(*, team_id: int, merge_into: int | None = None) -> str:
    """Delete a team, with its own company holidays and blackouts. Returns its name.

    `merge_into`: the team its people join. Its names (now and past) become that team's `past_names`, so
    the leave already recorded under them is that team's: Who's out, the digests and `max_out` count it,
    and that team's approvers decide its pending requests."""
    if merge_into is not None and merge_into != team_id:
        into = _locked(Team, merge_into, TeamNotFound)
        gone = _locked(Team, team_id, TeamNotFound)
        others = list(Team.objects.select_for_update().exclude(pk__in=(into.pk, gone.pk)))
        # A name another team is called now stays that team's (a name in use wins): moving it would only
        # shadow it, and the two teams would list each other's names (which no file may import).
        in_use = {into.name, *(other.name for other in others)}
        moved = [name for name in [gone.name, *gone.past_names] if name not in in_use]
        into.past_names = list(dict.fromkeys([*into.past_names, *moved]))
        _save(into)
        # Until now the requests under its name were its own: another team that had that name before
        # (and would take them once it is gone) gives it up to the team HR chose.
        for other in teams_that_had(gone.name, others):
            other.past_names = [name for name in other.past_names if name != gone.name]
            _save(other)
    return _delete(Team, team_id, TeamNotFound)


@transaction.atomic
def team_move(*, team_id: int, offset: int, seen_order: list[int] | None = None) -> Team:
    """Move a team `offset` places in the matching order (-1: up, 1: down); clamped at the ends.

    `seen_order`: the team ids in the order the page showed. When the order is another now (a colleague
    moved, added or deleted a team), TeamOrderChanged: the same click twice would move a team twice.
    Positions are renumbered 0…n-1 on the way, so duplicates left by the admin
    or an older import cannot make a move a no-op.
    """
    teams = list(Team.objects.select_for_update().order_by("position", "name"))
    if seen_order is not None and [team.pk for team in teams] != seen_order:
        raise TeamOrderChanged
    index = next((i for i, team in enumerate(teams) if team.pk == team_id), None)
    if index is None:
        raise TeamNotFound(team_id)
    moved = teams.pop(index)
    teams.insert(max(0, min(len(teams), index + offset)), moved)
    for position, team in enumerate(teams):
        if team.position != position:
            team.position = position
            team.save(update_fields=["position"])
    return moved


# --- Leave types -----------------------------------------------------------------------------


@transaction.atomic
def leave_type_create(**fields: Any) -> LeaveType:
    """A new leave type, shown last in the request form."""
    leave_type = LeaveType(position=_next_position(LeaveType))
    _set(leave_type, LEAVE_TYPE_FIELDS, fields)
    _save(leave_type)
    return leave_type


@transaction.atomic
def leave_type_update(*, leave_type_id: int, version: str | None = None, **fields: Any) -> LeaveType:
    leave_type = _locked(LeaveType, leave_type_id)
    _unchanged_since(leave_type, version)
    _set(leave_type, LEAVE_TYPE_FIELDS, fields)
    _save(leave_type)
    return leave_type


@transaction.atomic
def leave_type_delete(*, leave_type_id: int) -> str:
    """Delete a leave type. Requests of that type stay in the ledger. Returns its label."""
    return _delete(LeaveType, leave_type_id)


# --- Company holidays and blackouts ----------------------------------------------------------


@transaction.atomic
def holiday_create(**fields: Any) -> CompanyHoliday:
    holiday = CompanyHoliday()
    _set(holiday, HOLIDAY_FIELDS, fields)
    _save(holiday)
    return holiday


@transaction.atomic
def holiday_update(*, holiday_id: int, version: str | None = None, **fields: Any) -> CompanyHoliday:
    holiday = _locked(CompanyHoliday, holiday_id)
    _unchanged_since(holiday, version)
    _set(holiday, HOLIDAY_FIELDS, fields)
    _save(holiday)
    return holiday


@transaction.atomic
def holiday_delete(*, holiday_id: int) -> str:
    return _delete(CompanyHoliday, holiday_id)


@transaction.atomic
def blackout_create(**fields: Any) -> Blackout:
    blackout = Blackout()
    _set(blackout, BLACKOUT_FIELDS, fields)
    _save(blackout)
    return blackout


@transaction.atomic
def blackout_update(*, blackout_id: int, version: str | None = None, **fields: Any) -> Blackout:
    blackout = _locked(Blackout, blackout_id)
    _unchanged_since(blackout, version)
    _set(blackout, BLACKOUT_FIELDS, fields)
    _save(blackout)
    return blackout


@transaction.atomic
def blackout_delete(*, blackout_id: int) -> str:
    return _delete(Blackout, blackout_id)


# --- Requesters and fallback approvers -------------------------------------------------------


@transaction.atomic
def workspace_policy_update(*, version: str | None = None, **fields: Any) -> WorkspacePolicy:
    """Who may request leave (`requesters_users`, `requesters_channel`) and the `fallback_approvers`.

    The policy is one row, made on its first save.
    """
    policy, _ = WorkspacePolicy.objects.select_for_update().get_or_create(id=WorkspacePolicy.SINGLETON_ID)
    _unchanged_since(policy, version)
    _set(policy, POLICY_FIELDS, fields)
    _save(policy)
    return policy
