"""Reads for the console's configuration pages: rows with names, and warnings about a team's setup.

A warning is advice, never a refusal: the setup works, but someone will not
see what they should (issue 10, item 2). It comes from the cached Slack
directory (`approvals.slack_directory`: a channel's privacy and whether our bot
is in it) and from the channel members the Slack path caches
(`approvals.directory`). Only the membership of a private approvals channel may
be asked of Slack here, once, with the in-request client (≤ 2 s, cached ten
minutes); when Slack cannot say, there is no warning rather than a wrong one.
"""

import logging
from dataclasses import dataclass
from datetime import date, timedelta

from slack_sdk.errors import SlackApiError

from approvals.config_types import WorkspaceConfig
from approvals.directory import fetch_channel_members
from approvals.models import Blackout, CompanyHoliday, LeaveType, Team, WorkspacePolicy
from approvals.slack_clients import in_request_client
from approvals.slack_directory import Directory
from approvals.task_queue import error_code
from approvals.work_calendar import public_holidays_between

logger = logging.getLogger(__name__)

INVITE = "type /invite @Time Off in that channel"


def _channel_label(directory: Directory | None, channel_id: str) -> str:
    return directory.channel_label(channel_id) if directory and channel_id else channel_id


def _person_label(directory: Directory | None, user_id: str) -> str:
    return directory.person_label(user_id) if directory else user_id


@dataclass(frozen=True)
class TeamSetup:
    """What the warnings look at: a team's channels and approvers, as ids (saved or being edited)."""

    approvals_channel: str = ""
    announce_channel: str = ""
    approvers_users: tuple[str, ...] = ()
    approvers_channel: str = ""


def _members_of(channel_id: str) -> frozenset[str] | None:
    """Members of a channel, from the shared cache or (once) from Slack; None when Slack cannot say."""
    try:
        return fetch_channel_members(in_request_client(), channel_id)
    except SlackApiError as exc:
        logger.info("console could not read members of channel=%s error=%s", channel_id, error_code(exc))
    except OSError as exc:  # slow or unreachable: no warning rather than a page that waits
        logger.info("console could not read members of channel=%s error=%s", channel_id, type(exc).__name__)
    return None


def _bot_warning(directory: Directory, channel_id: str, what: str) -> str | None:
    channel = directory.channel(channel_id)
    if channel is None and (archived := directory.archived_channel(channel_id)) is not None:
        return f"{archived.label} is archived in Slack: {what} until it is unarchived, or another channel is chosen."
    if channel is None:
        return (f"The app cannot see the channel {channel_id}: {what} until the bot is invited to it "
                f"({INVITE}). An archived channel cannot be used.")
    if not channel.bot_is_member:
        return f"The bot is not in {channel.label}: {what} until someone invites it ({INVITE})."
    return None


def team_warnings(setup: TeamSetup, *, directory: Directory | None, members_of=_members_of,
                  private_types: bool = False) -> dict[str, list[str]]:
    """Form field -> warnings about this setup. Empty while the directory is not loaded yet. `private_types`:
    some leave type is private, so a public approvals channel shows it to everyone (as on the Setup page)."""
    if directory is None:
        return {}
    warnings: dict[str, list[str]] = {}

    def warn(field: str, message: str | None) -> None:
        if message:
            warnings.setdefault(field, []).append(message)

    if setup.approvals_channel:
        warn("approvals_channel", _bot_warning(directory, setup.approvals_channel, "requests cannot be posted there"))
    if setup.announce_channel:
        warn("announce_channel", _bot_warning(directory, setup.announce_channel, "nothing can be announced there"))
    approvers_channel = directory.channel(setup.approvers_channel) if setup.approvers_channel else None
    if approvers_channel is not None and not approvers_channel.is_private:
        warn("approvers_channel", f"{approvers_channel.label} is public: anyone who joins it can approve "
                                  "requests. Use a private channel, or list the approvers by name.")

    # A private approvals channel is seen by its members only: an approver outside it
    # is mentioned in a request they cannot open (approvals.setup_warnings logs the same).
    approvals = directory.channel(setup.approvals_channel) if setup.approvals_channel else None
    if approvals is not None and not approvals.is_private and private_types:
        warn("approvals_channel", f"{approvals.label} is public: anyone in the workspace can read and search the "
                                  "private leave types and the notes posted there. Use a private channel.")
    if approvals is None or not approvals.is_private or not approvals.bot_is_member:
        return warnings
    if setup.approvers_users and (members := members_of(approvals.id)) is not None:
        missing = [user for user in setup.approvers_users if user not in members]
        if missing:
            warn("approvers_users", f"{_names(directory, missing)} {'is' if len(missing) == 1 else 'are'} not in "
                                    f"{approvals.label}, which is private: they would not see the requests. "
                                    "Invite them to the channel.")
    # Only a private approvers channel is compared (a public one is warned about above, and may be huge).
    if approvers_channel is not None and approvers_channel.is_private and approvers_channel.id != approvals.id:
        approvers = members_of(approvers_channel.id)
        members = members_of(approvals.id) if approvers else None
        missing = [] if members is None else sorted(approvers - members,
                                                   key=lambda user: _person_label(directory, user))
        if missing:
            warn("approvers_channel", f"{_names(directory, missing)} {'is' if len(missing) == 1 else 'are'} in "
                                      f"{approvers_channel.label} but not in {approvals.label}, which is private: "
                                      "they would not see the requests. Invite them to it.")
    return warnings


def _names(directory: Directory, users: list[str], most: int = 5) -> str:
    names = [_person_label(directory, user) for user in users[:most]]
    more = len(users) - most
    return ", ".join(names) + (f" and {more} more" if more > 0 else "")


def team_setup_of(team: Team) -> TeamSetup:
    return TeamSetup(approvals_channel=team.approvals_channel, announce_channel=team.announce_channel,
                     approvers_users=tuple(team.approvers_users), approvers_channel=team.approvers_channel)


def past_channel_labels(team: Team, *, directory: Directory | None) -> list[str]:
    return [_channel_label(directory, channel) for channel in team.past_approvals_channels]


def teams_formerly_named(name: str, *, other_than: int) -> list[str]:
    """The other teams that were called `name` before (their `past_names`). The requests recorded under a
    name are the team's that uses it now (`WorkspaceConfig.team_recorded_as`), so theirs move to it."""
    return [team.name for team in Team.objects.exclude(pk=other_than).order_by("position", "name")
            if name in team.past_names]


def team_dependents(team: Team) -> dict[str, int]:
    """What deleting the team deletes with it."""
    return {"holidays": team.company_holidays.count(), "blackouts": team.blackouts.count()}


# --- Lists ------------------------------------------------------------------------------------


def leave_types_in_order():
    return LeaveType.objects.order_by("position", "code")


def holidays_in_order():
    return CompanyHoliday.objects.select_related("team").order_by("date", "name")


def blackouts_in_order():
    return Blackout.objects.select_related("team").order_by("start", "end")


# The holidays page lists the public holidays of this many days ahead: a leave year's planning.
PUBLIC_HOLIDAYS_AHEAD_DAYS = 365


@dataclass(frozen=True)
class PublicHolidayCalendar:
    """One country's (and region's) public holidays ahead, and the teams that take them."""

    country: str
    subdivision: str  # "": national holidays only
    teams: tuple[str, ...]  # in matching order
    days: tuple[tuple[date, str], ...]


def public_holidays_ahead(config: WorkspaceConfig, *, today: date, days: int = PUBLIC_HOLIDAYS_AHEAD_DAYS,
                          ) -> tuple[list[PublicHolidayCalendar], list[str]]:
    """The public holidays each team takes from `today` for `days` days, one calendar per country and
    region (teams sharing one are listed together), and the names of the teams that take none."""
    end = today + timedelta(days=days - 1)
    teams_of: dict[tuple[str, str], list[str]] = {}
    without: list[str] = []
    for team in config.teams:
        if team.holiday_country:
            teams_of.setdefault((team.holiday_country, team.holiday_subdivision or ""), []).append(team.name)
        else:
            without.append(team.name)
    calendars = []
    for (country, subdivision), names in teams_of.items():
        try:
            found = public_holidays_between(country, subdivision or None, today, end)
        except NotImplementedError:  # validated on every write; a package upgrade may drop a code
            found = []
        calendars.append(PublicHolidayCalendar(country, subdivision, tuple(names), tuple(found)))
    return calendars, without


@dataclass(frozen=True)
class PolicyView:
    requesters: tuple[str, ...]  # names of people, then "everyone in #channel"
    fallback_approvers: tuple[str, ...]
    everyone_may_request: bool


def workspace_policy_current() -> WorkspacePolicy:
    """The policy row, or an unsaved empty one before anyone saved it."""
    return WorkspacePolicy.objects.filter(id=WorkspacePolicy.SINGLETON_ID).first() or WorkspacePolicy()


def workspace_policy_view(policy: WorkspacePolicy, *, directory: Directory | None) -> PolicyView:
    requesters = [_person_label(directory, user) for user in policy.requesters_users]
    if policy.requesters_channel:
        requesters.append(f"everyone in {_channel_label(directory, policy.requesters_channel)}")
    return PolicyView(requesters=tuple(requesters),
                      fallback_approvers=tuple(_person_label(directory, user) for user in policy.fallback_approvers),
                      everyone_may_request=not requesters)

