"""The configuration store: the database rows, and their snapshot in the shared cache.

Writes (services): `config_apply` replaces the whole configuration from a
`WorkspaceConfig`; `team_change_approvals_channel` moves a team to a new
approvals channel without losing the old one's history (`past_after_change`
keeps a team's earlier approvals channels and earlier names).

Reads (selectors): `config_from_database` builds a snapshot from the rows;
`current_config` serves it from the shared cache, which is what the Slack hot
path uses (DESIGN §2: no database reads on a warm cache).

Invalidation: every save or delete of a configuration row (admin, inlines,
bulk actions, import, code) fires a receiver connected in `ApprovalsConfig.ready()`.
"""

import logging
import uuid
from collections.abc import Callable, Iterable

from django.core.cache import cache
from django.db import transaction
from django.db.models.signals import post_delete, post_save, pre_delete

from approvals.cache_values import schema_tag
from approvals.config_fields import quoted, record_from_row, row_values
from approvals.config_file import ConfigError, config_to_dict, parse_config
from approvals.config_types import (
    BlackoutConfig,
    HolidayConfig,
    LeaveTypeConfig,
    TeamConfig,
    WorkspaceConfig,
    swap_text,
    swapped_with,
    takes_leave_text,
    teams_that_had,
)
from approvals.models import Blackout, CompanyHoliday, LeaveType, Team, WorkspacePolicy

logger = logging.getLogger(__name__)

CONFIG_MODELS = (WorkspacePolicy, Team, LeaveType, CompanyHoliday, Blackout)

# The snapshot's key names the dataclasses' shape (their classes, fields and types: cache_values.schema_tag),
# so a process never unpickles a snapshot that code with other fields cached: during a rolling deploy each
# release keeps a snapshot of its own. Bump v1 for a change the shape does not show, such as a field's meaning.
# The generation is shared by every release (a plain string): a change made through either is seen by both.
SNAPSHOT_KEY = f"config:v1:{schema_tag(WorkspaceConfig)}"
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
    global _last_snapshot
    generation = cache.get(GENERATION_KEY)
    last = _last_snapshot
    if generation is not None and last is not None and last[0] == generation:
        return last[1]  # this process already holds that generation's snapshot: nothing more to read
    cached = cache.get_many([SNAPSHOT_KEY, GENERATION_KEY])  # one round trip
    generation = cached.get(GENERATION_KEY)
    snapshot = cached.get(SNAPSHOT_KEY)
    if snapshot is None or snapshot[0] != generation:
        # Stored under the generation read *before* the rows: if a change commits meanwhile, its
        # invalidation writes a new generation and this snapshot is never served (nor kept below).
        snapshot = (generation, config_from_database())
        cache.set(SNAPSHOT_KEY, snapshot, SNAPSHOT_TIMEOUT)
    if generation is not None:
        _last_snapshot = snapshot
    return snapshot[1]


def current_config_with(keys_for: Callable[[WorkspaceConfig], list[str]]) -> tuple[WorkspaceConfig, dict]:
    """`current_config()`, and the cache values of `keys_for(config)` (those present), read with the
    generation in one round trip when this process holds the current snapshot (the keys a request
    needs often depend on the configuration: its member lists, say). Otherwise the configuration is
    read first and the keys after it."""
    last = _last_snapshot
    if last is not None:
        keys = keys_for(last[1])
        found = cache.get_many([GENERATION_KEY, *keys])
        if found.get(GENERATION_KEY) == last[0]:
            return last[1], {key: found[key] for key in keys if key in found}
    config = current_config()
    keys = keys_for(config)
    return config, cache.get_many(keys) if keys else {}


# The snapshot this process read or built last, with its generation: on the request path the
# configuration costs one small read (the generation) instead of reading and unpickling the whole
# snapshot. It is served only while the shared cache names the same generation, so every invalidation
# (a new random generation) is seen by the next read, in every process; with no generation in the
# cache (evicted, flushed) nothing is kept. One tuple, replaced whole: threads read it without a lock.
_last_snapshot: tuple[str, WorkspaceConfig] | None = None


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
    teams = tuple(record_from_row(TeamConfig, team) for team in teams)
    # A removed team's channel that a team reads again (a team deleted and made anew on it) is that team's.
    read_by_teams = {channel for team in teams for channel in team.ledger_channels}
    return record_from_row(
        WorkspaceConfig,
        policy,
        past_approvals_channels=tuple(channel for channel in policy.past_approvals_channels or ()
                                      if channel not in read_by_teams),
        teams=teams,
        leave_types=tuple(record_from_row(LeaveTypeConfig, leave_type) for leave_type in leave_types),
        holidays=tuple(record_from_row(HolidayConfig, holiday) for holiday in holidays),
        blackouts=tuple(record_from_row(BlackoutConfig, blackout) for blackout in blackouts),
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


def _team_deleted(sender, instance: Team, using: str, **kwargs) -> None:
    """A team is deleted (the console, the admin, a file that no longer lists it): its approvals channels
    stay in the ledger, as the workspace's `past_approvals_channels`. Its requests are still in Slack, its
    people's leave still counts, and its pending requests are HR's to decide (team_routing.team_of_entry)."""
    channels = [channel for channel in [instance.approvals_channel, *(instance.past_approvals_channels or [])]
                if channel]
    policy = (WorkspacePolicy.objects.using(using).select_for_update().filter(id=WorkspacePolicy.SINGLETON_ID).first()
              or WorkspacePolicy(id=WorkspacePolicy.SINGLETON_ID))
    kept = list(policy.past_approvals_channels or [])
    added = [channel for channel in dict.fromkeys(channels) if channel not in kept]
    if added:
        policy.past_approvals_channels = kept + added
        policy.save(using=using)
        logger.info("team deleted name=%s: its approvals channels stay in the ledger channels=%s", instance.name,
                    ",".join(added))


def connect_invalidation_receivers() -> None:
    """Called from ApprovalsConfig.ready(). Signals also fire for inline saves and admin bulk deletes."""
    for model in CONFIG_MODELS:
        post_save.connect(_config_changed, sender=model, dispatch_uid=f"config_changed_save_{model.__name__}")
        post_delete.connect(_config_changed, sender=model, dispatch_uid=f"config_changed_delete_{model.__name__}")
    pre_delete.connect(_team_deleted, sender=Team, dispatch_uid="team_deleted_channels_kept")


# --- Writes -------------------------------------------------------------------------


def past_after_change(*, past: Iterable[str], old: str, new: str) -> list[str]:
    """A team's history list (`past_approvals_channels`, `past_names`) after its value moves from `old` to `new`.

    The old value is kept so the ledger still finds what was recorded under it
    (DESIGN §5): the requests in an old approvals channel, the requests naming
    the team by an old name. The new one leaves the list if the team goes back
    to a value it had before.
    """
    result = [value for value in past if value != new]
    if old and old != new and old not in result:
        result.append(old)
    return result


def team_change_approvals_channel(*, team: Team, approvals_channel: str) -> Team:
    """Point a team at a new approvals channel, keeping the old one in its history."""
    with transaction.atomic():
        locked = Team.objects.select_for_update().get(pk=team.pk)
        locked.past_approvals_channels = past_after_change(
            past=locked.past_approvals_channels, old=locked.approvals_channel, new=approvals_channel
        )
        locked.approvals_channel = approvals_channel
        locked.full_clean()
        locked.save(update_fields=["approvals_channel", "past_approvals_channels"])
    return locked


def team_name_refusal(*, team_id: int | None, old_name: str | None, name: str,
                      past_names: Iterable[str]) -> str | None:
    """Why a team (row `team_id`, called `old_name` until now; None for a new one) may not be saved as `name`
    with these `past_names`, or None.

    Renamed to a name another team had before, it would take that team's past leave; two teams each listing
    the other's name would have swapped theirs (`config_types.teams_that_had`, `swapped_with`). A new team
    may take a name another team had: the console warns that its requests move (`teams_formerly_named`).
    """
    others = list(Team.objects.exclude(pk=team_id)) if team_id is not None else list(Team.objects.all())
    if old_name is not None and name != old_name and (holders := teams_that_had(name, others)):
        return takes_leave_text(name, [holder.name for holder in holders])
    if (other := swapped_with(name, past_names, others)) is not None:
        return swap_text(name, other.name)
    return None


def renames_refused(config: WorkspaceConfig, renamed: dict[str, str]) -> list[str]:
    """The file's errors for teams it renames (`renamed`: name now -> name before, `renamed_from`) to a name
    another team of the file had before (`team_name_refusal` for a file)."""
    errors = []
    for index, team in enumerate(config.teams):
        if team.name not in renamed:
            continue
        holders = [f"{quoted(other.name)} (teams[{at}])" for at, other in enumerate(config.teams)
                   if at != index and teams_that_had(team.name, [other])]
        if holders:
            errors.append(f"teams[{index}].name: renames {quoted(renamed[team.name])}; "
                          f"{takes_leave_text(quoted(team.name), holders)}")
    return errors


def renames_refused_now(config: WorkspaceConfig) -> list[str]:
    """`renames_refused` for `config` against the teams in the database now. The console checks it when a
    file is uploaded, so its preview never offers a file that applying it would refuse (`config_apply`
    checks again, under its locks)."""
    existing_teams = {team.name: team for team in Team.objects.all()}
    return renames_refused(config, config.renamed_from(existing_teams))


@transaction.atomic
def config_apply(*, config: WorkspaceConfig) -> None:
    """Replace the whole configuration in the database with `config`, atomically.

    Teams and leave types whose name or code is unchanged keep their rows (and
    ids); the rest are created or deleted. Holidays and blackouts are replaced.
    Raises ConfigError, before touching anything, if the configuration is invalid.
    """
    # The same checks as the file, whatever built this config: one set of rules.
    config = parse_config(config_to_dict(config))

    existing_teams = {team.name: team for team in Team.objects.select_for_update()}
    # A team the file names anew but lists the old name of in `past_names` is that team renamed: its row
    # stays (and its history), and `config_diff` shows it changed, not removed and added.
    renamed = config.renamed_from(existing_teams)
    # The console's rule for a rename, here for a file's: never to a name another team had before.
    if refused := renames_refused(config, renamed):
        raise ConfigError(refused)

    policy = WorkspacePolicy.objects.select_for_update().filter(id=WorkspacePolicy.SINGLETON_ID).first()
    policy = policy or WorkspacePolicy(id=WorkspacePolicy.SINGLETON_ID)
    _set(policy, row_values(config))
    policy.save()

    kept = {renamed.get(team.name, team.name) for team in config.teams}
    for name, team in existing_teams.items():
        if name not in kept:
            team.delete()
    # Clear the default flag first: the one-default constraint is checked row by
    # row, and the new default may be saved before the old one is cleared.
    Team.objects.filter(is_default=True).update(is_default=False)
    teams_by_name = {}
    for position, team_config in enumerate(config.teams):
        team = existing_teams.get(renamed.get(team_config.name, team_config.name)) or Team()
        past = list(team_config.past_approvals_channels)
        if team.pk is not None and team.approvals_channel != team_config.approvals_channel:
            past = past_after_change(past=past, old=team.approvals_channel, new=team_config.approvals_channel)
        _set(team, row_values(team_config), position=position, past_approvals_channels=past)
        team.save()
        teams_by_name[team.name] = team

    existing_types = {leave_type.code: leave_type for leave_type in LeaveType.objects.select_for_update()}
    new_codes = {leave_type.code for leave_type in config.leave_types}
    for code, leave_type in existing_types.items():
        if code not in new_codes:
            leave_type.delete()
    # Names are unique in any case, and checked row by row: a type taking a name another is giving up
    # (two swapping names, say) would meet it still there. Those giving theirs up let go of it first.
    names_wanted = {type_config.code: type_config.name for type_config in config.leave_types}
    for code, leave_type in existing_types.items():
        if code in names_wanted and leave_type.name != names_wanted[code]:
            LeaveType.objects.filter(pk=leave_type.pk).update(name=f"renaming {uuid.uuid4().hex}")
    for position, type_config in enumerate(config.leave_types):
        leave_type = existing_types.get(type_config.code) or LeaveType()
        _set(leave_type, row_values(type_config), position=position)
        leave_type.save()

    # A holiday's or blackout's team is a name in the configuration, a row here. They have no
    # identity: rows the file still lists stay, the others go, the new ones are created, one by
    # one, so the configuration's history (the console's History page) shows only what changed.
    _replace_rows(CompanyHoliday, [row_values(holiday) | {"team": teams_by_name.get(holiday.team)}
                                   for holiday in config.holidays], fields=("date", "name", "team_id"))
    _replace_rows(Blackout, [row_values(blackout) | {"team": teams_by_name.get(blackout.team)}
                             for blackout in config.blackouts], fields=("start", "end", "team_id", "reason"))
    # update() sends no signals: invalidate here as the receivers would.
    invalidate_config()
    transaction.on_commit(invalidate_config)


def _replace_rows(model, wanted: list[dict], *, fields: tuple[str, ...]) -> None:
    rows = [model(**values) for values in wanted]
    key = (lambda row: tuple(getattr(row, field) for field in fields))
    missing = [key(row) for row in rows]
    for existing in model.objects.select_for_update():
        if key(existing) in missing:
            missing.remove(key(existing))
        else:
            existing.delete()
    for row in rows:
        if key(row) in missing:
            missing.remove(key(row))
            row.save()


def _set(row, values: dict, **more) -> None:
    for name, value in (values | more).items():
        setattr(row, name, value)
