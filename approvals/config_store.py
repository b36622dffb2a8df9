"""The configuration store: the database rows, and their snapshot in the shared cache.

Writes (services): `config_apply` replaces the whole configuration from a
`WorkspaceConfig`; `team_change_approvals_channel` moves a team to a new
approvals channel without losing the old one's history.

Reads (selectors): `config_from_database` builds a snapshot from the rows;
`current_config` serves it from the shared cache, which is what the Slack hot
path uses (DESIGN §2: no database reads on a warm cache).

Invalidation: every save or delete of a configuration row (admin, inlines,
bulk actions, import, code) fires a receiver connected in `ApprovalsConfig.ready()`.
"""

import uuid
from collections.abc import Iterable

from django.core.cache import cache
from django.db import transaction
from django.db.models.signals import post_delete, post_save

from approvals.config_file import parse_config, config_to_dict
from approvals.config_types import (
    ApproverSource,
    BlackoutConfig,
    HolidayConfig,
    LeaveTypeConfig,
    MemberSource,
    TeamConfig,
    WorkspaceConfig,
)
from approvals.models import Blackout, CompanyHoliday, LeaveType, Team, WorkspacePolicy

CONFIG_MODELS = (WorkspacePolicy, Team, LeaveType, CompanyHoliday, Blackout)

# Bump the version in these keys whenever the config_types dataclasses change
# shape: a process running new code must never unpickle an old snapshot.
SNAPSHOT_KEY = "config:v1"
GENERATION_KEY = "config:v1:generation"
# A snapshot is rebuilt at least this often even if an invalidation were ever
# missed (a rolled-back transaction that had already re-cached, say).
SNAPSHOT_TIMEOUT = 60 * 60


# --- Reads --------------------------------------------------------------------------


def current_config() -> WorkspaceConfig:
    """The configuration snapshot, from the shared cache; rebuilt from the database only on a miss.

    The snapshot is stored together with the generation that was current when
    its rows were read. Every invalidation writes a new generation, so a
    snapshot built from rows read before a change commits, and cached after
    it, is recognised as stale on the next read instead of living on.
    """
    cached = cache.get_many([SNAPSHOT_KEY, GENERATION_KEY])  # one round trip
    generation = cached.get(GENERATION_KEY)
    snapshot = cached.get(SNAPSHOT_KEY)
    if snapshot is not None and snapshot[0] == generation:
        return snapshot[1]
    config = config_from_database()
    cache.set(SNAPSHOT_KEY, (generation, config), SNAPSHOT_TIMEOUT)
    return config


def config_from_database() -> WorkspaceConfig:
    """Build the snapshot from the rows. Export uses this directly, never a cached copy."""
    policy = WorkspacePolicy.objects.filter(id=WorkspacePolicy.SINGLETON_ID).first() or WorkspacePolicy()
    teams = Team.objects.order_by("position", "name")
    leave_types = LeaveType.objects.order_by("position", "code")
    # Sorted on their content, not on ids, so the same configuration always
    # exports the same way, however many times it has been imported.
    holidays = sorted(
        CompanyHoliday.objects.select_related("team"),
        key=lambda h: (h.date, h.team is not None, h.team.name if h.team else "", h.name),
    )
    blackouts = sorted(
        Blackout.objects.select_related("team"),
        key=lambda b: (b.start, b.end, b.team is not None, b.team.name if b.team else "", b.reason),
    )
    return WorkspaceConfig(
        requesters_users=tuple(policy.requesters_users),
        requesters_channel=policy.requesters_channel or None,
        fallback_approvers=tuple(policy.fallback_approvers),
        teams=tuple(_team_config(team) for team in teams),
        leave_types=tuple(_leave_type_config(leave_type) for leave_type in leave_types),
        holidays=tuple(
            HolidayConfig(date=h.date, name=h.name, team=h.team.name if h.team else None) for h in holidays
        ),
        blackouts=tuple(
            BlackoutConfig(start=b.start, end=b.end, reason=b.reason, team=b.team.name if b.team else None)
            for b in blackouts
        ),
    )


def _team_config(team: Team) -> TeamConfig:
    return TeamConfig(
        name=team.name,
        members=MemberSource(
            users=tuple(team.members_users),
            channel=team.members_channel or None,
            usergroup=team.members_usergroup or None,
        ),
        approvers=ApproverSource(users=tuple(team.approvers_users), channel=team.approvers_channel or None),
        approvals_channel=team.approvals_channel,
        announce_channel=team.announce_channel or None,
        default=team.is_default,
        max_out=team.max_out,
        holiday_country=team.holiday_country or None,
        holiday_subdivision=team.holiday_subdivision or None,
        workweek=tuple(team.workweek),
        timezone=team.timezone,
        digest_time=team.digest_time,
        nudge_after_hours=team.nudge_after_hours,
        past_approvals_channels=tuple(team.past_approvals_channels),
    )


def _leave_type_config(leave_type: LeaveType) -> LeaveTypeConfig:
    return LeaveTypeConfig(
        code=leave_type.code,
        name=leave_type.name,
        emoji=leave_type.emoji,
        requires_approval=leave_type.requires_approval,
        annual_allowance_days=leave_type.annual_allowance_days,
        allow_half_days=leave_type.allow_half_days,
        max_consecutive_days=leave_type.max_consecutive_days,
        private=leave_type.private,
        allow_past_days=leave_type.allow_past_days,
    )


# --- Invalidation -------------------------------------------------------------------


def invalidate_config() -> None:
    """Drop the cached snapshot and start a new generation, so every process rebuilds it."""
    cache.delete(SNAPSHOT_KEY)
    # A fresh random value, not a counter: it cannot come back round to a value
    # an old snapshot carries, even if the key was evicted in between.
    cache.set(GENERATION_KEY, uuid.uuid4().hex, timeout=None)


def _config_changed(sender, using: str, **kwargs) -> None:
    # Now, so this transaction reads its own writes; and again after commit,
    # because a reader in another process may have rebuilt the snapshot from
    # the rows as they were before this transaction committed.
    invalidate_config()
    transaction.on_commit(invalidate_config, using=using)


def connect_invalidation_receivers() -> None:
    """Called from ApprovalsConfig.ready(). Signals also fire for inline saves and admin bulk deletes."""
    for model in CONFIG_MODELS:
        post_save.connect(_config_changed, sender=model, dispatch_uid=f"config_changed_save_{model.__name__}")
        post_delete.connect(_config_changed, sender=model, dispatch_uid=f"config_changed_delete_{model.__name__}")


# --- Writes -------------------------------------------------------------------------


def past_approvals_channels_after_change(*, past: Iterable[str], old: str, new: str) -> list[str]:
    """The history list after a team moves from approvals channel `old` to `new`.

    The old channel is kept so the ledger still reads it (DESIGN §5); the new one
    leaves the list if the team moves back to a channel it used before.
    """
    result = [channel for channel in past if channel != new]
    if old and old != new and old not in result:
        result.append(old)
    return result


def team_change_approvals_channel(*, team: Team, approvals_channel: str) -> Team:
    """Point a team at a new approvals channel, keeping the old one in its history."""
    with transaction.atomic():
        locked = Team.objects.select_for_update().get(pk=team.pk)
        locked.past_approvals_channels = past_approvals_channels_after_change(
            past=locked.past_approvals_channels, old=locked.approvals_channel, new=approvals_channel
        )
        locked.approvals_channel = approvals_channel
        locked.full_clean()
        locked.save(update_fields=["approvals_channel", "past_approvals_channels"])
    return locked


@transaction.atomic
def config_apply(*, config: WorkspaceConfig) -> None:
    """Replace the whole configuration in the database with `config`, atomically.

    Teams and leave types whose name or code is unchanged keep their rows (and
    ids); the rest are created or deleted. Holidays and blackouts are replaced.
    Raises ConfigError, before touching anything, if the configuration is invalid.
    """
    # The same checks as the file, whatever built this config: one set of rules.
    config = parse_config(config_to_dict(config))

    policy = WorkspacePolicy.objects.select_for_update().filter(id=WorkspacePolicy.SINGLETON_ID).first()
    policy = policy or WorkspacePolicy(id=WorkspacePolicy.SINGLETON_ID)
    policy.requesters_users = list(config.requesters_users)
    policy.requesters_channel = config.requesters_channel or ""
    policy.fallback_approvers = list(config.fallback_approvers)
    policy.save()

    # Holidays and blackouts carry no identity worth keeping: replace them.
    CompanyHoliday.objects.all().delete()
    Blackout.objects.all().delete()

    existing_teams = {team.name: team for team in Team.objects.select_for_update()}
    new_names = {team.name for team in config.teams}
    for name, team in existing_teams.items():
        if name not in new_names:
            team.delete()
    # Clear the default flag first: the one-default constraint is checked row by
    # row, and the new default may be saved before the old one is cleared.
    Team.objects.filter(is_default=True).update(is_default=False)
    teams_by_name = {}
    for position, team_config in enumerate(config.teams):
        team = existing_teams.get(team_config.name) or Team(name=team_config.name)
        past = list(team_config.past_approvals_channels)
        if team.pk is not None and team.approvals_channel != team_config.approvals_channel:
            past = past_approvals_channels_after_change(
                past=past, old=team.approvals_channel, new=team_config.approvals_channel
            )
        team.position = position
        team.members_users = list(team_config.members.users)
        team.members_channel = team_config.members.channel or ""
        team.members_usergroup = team_config.members.usergroup or ""
        team.approvers_users = list(team_config.approvers.users)
        team.approvers_channel = team_config.approvers.channel or ""
        team.approvals_channel = team_config.approvals_channel
        team.announce_channel = team_config.announce_channel or ""
        team.is_default = team_config.default
        team.max_out = team_config.max_out
        team.holiday_country = team_config.holiday_country or ""
        team.holiday_subdivision = team_config.holiday_subdivision or ""
        team.workweek = list(team_config.workweek)
        team.timezone = team_config.timezone
        team.digest_time = team_config.digest_time
        team.nudge_after_hours = team_config.nudge_after_hours
        team.past_approvals_channels = past
        team.save()
        teams_by_name[team.name] = team

    existing_types = {leave_type.code: leave_type for leave_type in LeaveType.objects.select_for_update()}
    new_codes = {leave_type.code for leave_type in config.leave_types}
    for code, leave_type in existing_types.items():
        if code not in new_codes:
            leave_type.delete()
    for position, type_config in enumerate(config.leave_types):
        leave_type = existing_types.get(type_config.code) or LeaveType(code=type_config.code)
        leave_type.position = position
        leave_type.name = type_config.name
        leave_type.emoji = type_config.emoji
        leave_type.requires_approval = type_config.requires_approval
        leave_type.annual_allowance_days = type_config.annual_allowance_days
        leave_type.allow_half_days = type_config.allow_half_days
        leave_type.max_consecutive_days = type_config.max_consecutive_days
        leave_type.private = type_config.private
        leave_type.allow_past_days = type_config.allow_past_days
        leave_type.save()

    CompanyHoliday.objects.bulk_create(
        CompanyHoliday(date=h.date, name=h.name, team=teams_by_name[h.team] if h.team else None)
        for h in config.holidays
    )
    Blackout.objects.bulk_create(
        Blackout(start=b.start, end=b.end, reason=b.reason, team=teams_by_name[b.team] if b.team else None)
        for b in config.blackouts
    )
    # bulk_create and update() send no signals: invalidate here as the receivers would.
    invalidate_config()
    transaction.on_commit(invalidate_config)
