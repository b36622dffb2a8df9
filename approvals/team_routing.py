"""Who belongs to which team, who may request, and who approves: pure functions.

Channel and user-group memberships come from Slack; the caller passes a lookup
that answers from its cache. A lookup returns None when it does not know yet
(a cold cache), and these functions then raise `MembershipUnknown`, so the
caller can decide to ask Slack (in a background task) or defer the decision.
A list Slack refused for good is `Unlisted`: nobody, and why.
"""

from collections.abc import Callable, Collection, Container
from dataclasses import dataclass

from approvals.config_types import TeamConfig, WorkspaceConfig

# channel or user-group id -> member ids, or None when not known yet
MembersLookup = Callable[[str], frozenset[str] | None]
# some user ids -> those of them who cannot approve anything (bots, deactivated accounts)
UnableLookup = Callable[[Collection[str]], Container[str]]


class MembershipUnknown(Exception):
    """A membership the answer depends on is not cached yet."""

    def __init__(self, source: str):
        super().__init__(source)
        self.source = source


class Unlisted(frozenset):
    """The members of a channel or user group Slack refused to list for good (`channel_not_found`,
    `not_in_channel`, a user group that no longer exists): nobody we can know, as an empty list is, and
    Slack's `error`, so that someone this leaves in no team can be told the cause rather than that HR
    forgot them."""

    error: str

    def __new__(cls, error: str):
        members = super().__new__(cls)
        members.error = error
        return members

    def __reduce__(self):  # it is cached (pickled) as the directory's answer for the list
        return Unlisted, (self.error,)

    def __repr__(self) -> str:
        return f"Unlisted({self.error!r})"


@dataclass(frozen=True)
class UnlistedSource:
    """A team's members channel or user group that Slack refused to list."""

    team_name: str
    source: str  # a channel or user-group id
    is_channel: bool
    error: str  # Slack's error code


@dataclass(frozen=True)
class TeamMatch:
    team: TeamConfig | None  # None: no team is configured for this user
    by_default: bool = False


def _members(lookup: MembersLookup, source: str) -> frozenset[str]:
    members = lookup(source)
    if members is None:
        raise MembershipUnknown(source)
    return members


def may_request(config: WorkspaceConfig, user: str, *, channel_members: MembersLookup) -> bool:
    """An empty `requesters` policy lets everyone request."""
    if not config.requesters_users and not config.requesters_channel:
        return True
    if user in config.requesters_users:
        return True
    return bool(config.requesters_channel) and user in _members(channel_members, config.requesters_channel)


def is_member(team: TeamConfig, user: str, *, channel_members: MembersLookup, usergroup_members: MembersLookup) -> bool:
    if user in team.members.users:
        return True
    if team.members.channel and user in _members(channel_members, team.members.channel):
        return True
    return bool(team.members.usergroup) and user in _members(usergroup_members, team.members.usergroup)


def match_team(
    config: WorkspaceConfig, user: str, *, channel_members: MembersLookup, usergroup_members: MembersLookup
) -> TeamMatch:
    """The first team (in file order) whose members include the user, else the default team."""
    for team in config.teams:
        if is_member(team, user, channel_members=channel_members, usergroup_members=usergroup_members):
            return TeamMatch(team)
    default = config.default_team
    return TeamMatch(default, by_default=default is not None)


def unlisted_source(
    config: WorkspaceConfig, *, channel_members: MembersLookup, usergroup_members: MembersLookup
) -> UnlistedSource | None:
    """For someone `match_team` put in no team: the first team (in file order) whose members channel or
    user group Slack refused to list, who may be in it after all; None when every list was read."""
    for team in config.teams:
        for source, lookup, is_channel in ((team.members.channel, channel_members, True),
                                           (team.members.usergroup, usergroup_members, False)):
            members = lookup(source) if source else None
            if isinstance(members, Unlisted):
                return UnlistedSource(team.name, source, is_channel, members.error)
    return None


def team_for_channel(config: WorkspaceConfig, channel: str) -> TeamConfig | None:
    """The team whose approvals channel (current or past) this is."""
    return next((team for team in config.teams if channel in team.ledger_channels), None)


def team_of_entry(config: WorkspaceConfig, team_name: str, channel: str) -> TeamConfig | None:
    """The team a request in the ledger belongs to: the one recorded in it (by its name now or a past
    one). A removed team's request is no team's, and so HR's to decide, even in an approvals channel it
    shared with a team still configured; only a request that records no team goes by its channel."""
    return config.team_recorded_as(team_name) if team_name else team_for_channel(config, channel)


def approvers_for(
    config: WorkspaceConfig, team: TeamConfig, requester: str, *, channel_members: MembersLookup,
    unable: UnableLookup | None = None,
) -> frozenset[str]:
    """The team's approvers minus the requester; the fallback approvers when that leaves nobody.

    `unable`: who of them cannot approve (another app's bot in the approvers channel, an approver whose
    account was deactivated). They are left out before the fallback is considered, so a team whose
    approvers are all bots or gone falls back to HR instead of waiting for a click that never comes.
    Without it (a cached check on Slack's request path), everyone listed counts.
    """
    approvers = set(team.approvers.users)
    if team.approvers.channel:
        approvers |= _members(channel_members, team.approvers.channel)
    approvers.discard(requester)
    if unable is not None and approvers:
        approvers -= set(unable(approvers))
    return frozenset(approvers) or fallback_deciders(config, requester, unable=unable)


def fallback_deciders(config: WorkspaceConfig, requester: str, *, unable: UnableLookup | None = None) -> frozenset[str]:
    """The fallback approvers who decide a request when its team leaves nobody else (or was removed since):
    never its requester, and without `unable` (those who cannot approve: a guest, a bot, a deactivated
    account, someone of another organisation)."""
    approvers = set(config.fallback_approvers) - {requester}
    if unable is not None and approvers:
        approvers -= set(unable(approvers))
    return frozenset(approvers)


def named_approvers(config: WorkspaceConfig, team: TeamConfig | None) -> frozenset[str]:
    """The approvers HR named (the team's listed users, and the fallback approvers): mentioned before
    the members of an approvers channel, of whom a message names only as many as fit."""
    return frozenset((*(team.approvers.users if team is not None else ()), *config.fallback_approvers))


def hr_contacts(config: WorkspaceConfig) -> tuple[str, ...]:
    """Who to name when someone needs help with the configuration."""
    return config.fallback_approvers
