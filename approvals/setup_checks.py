"""The setup page's checks against Slack: connection, scopes, and every configured channel.

`setup_check(client, config)` asks Slack now: `auth.test` (workspace, bot user,
or Slack's exact error), the scopes Slack granted (the `x-oauth-scopes` header
every Web API answer carries) and `conversations.info` for each channel the
configuration names. It runs in a background task (`run_setup_checks`), and
the report waits in the shared cache for the page, so the page never waits on
Slack: it shows the last report and asks for a new one when it is old.

A report holding a passing fault (rate limited, 5xx, a timeout) is kept for a
minute only, so the next visit asks again (DESIGN §8: transient is not
permanent).
"""

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass

from django.core.cache import cache
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from approvals.cache_values import schema_tag
from approvals.config_fields import without_hidden_characters
from approvals.config_types import WorkspaceConfig
from approvals.directory import (
    MAX_MEMBER_PAGES,
    MEMBERS_PAGE_SIZE,
    cached_bot_identity,
    cached_channel_members,
    cached_profile,
    cached_usergroup_members,
    is_outsider,
    NO_SUCH_USER,
    fetch_user,
    known_unable,
)
from approvals.rules import PENDING, LedgerEntry
from approvals.slack_manifest import manifest_bot_scopes
from approvals.task_queue import error_code, error_for_people, transient
from approvals.team_routing import Unlisted, team_of_entry

logger = logging.getLogger(__name__)

REQUESTED_KEY = "setup_checks:v1:requested"
FRESH_SECONDS = 10 * 60  # an older report is shown, and a new one asked for
KEEP_SECONDS = 24 * 60 * 60
KEEP_WITH_PASSING_FAULT_SECONDS = 60
REQUEST_EVERY_SECONDS = 20  # at most one check enqueued this often, however many pages ask
MAX_CHANNELS = 60  # conversations.info is Tier 3 (50+ a minute), shared with the rest of the app

# What a channel is used for, and whether the bot must be in it.
APPROVALS, PAST_APPROVALS, ANNOUNCE, APPROVERS, MEMBERS, REQUESTERS = (
    "approvals channel", "past approvals channel (ledger)", "announce channel", "approvers channel",
    "members channel", "requesters channel")
BOT_MUST_BE_IN = frozenset({APPROVALS, PAST_APPROVALS, ANNOUNCE})
# Channels whose members are people the app must know, all of them (who belongs to a team, who may
# request, who approves), and how many members the app reads of one (approvals.directory).
PEOPLE_SOURCES = (MEMBERS, REQUESTERS, APPROVERS)
MEMBERS_READ_MAX = MAX_MEMBER_PAGES * MEMBERS_PAGE_SIZE


@dataclass(frozen=True)
class Connection:
    ok: bool
    error: str = ""  # Slack's error code, or plain words ("connection failed"): task_queue.error_for_people
    passing: bool = False  # the error is a fault a later check may not meet (task_queue.transient)
    workspace: str = ""
    workspace_url: str = ""
    bot_user: str = ""
    bot_user_id: str = ""
    granted_scopes: tuple[str, ...] | None = None  # None: Slack did not say

    @property
    def missing_scopes(self) -> tuple[str, ...]:
        if self.granted_scopes is None:
            return ()
        return tuple(scope for scope in manifest_bot_scopes() if scope not in self.granted_scopes)

    @property
    def extra_scopes(self) -> tuple[str, ...]:
        if self.granted_scopes is None:
            return ()
        return tuple(scope for scope in self.granted_scopes if scope not in manifest_bot_scopes())


@dataclass(frozen=True)
class ChannelCheck:
    channel: str
    uses: tuple[str, ...]  # "Engineering: approvals channel", …
    name: str = ""
    found: bool = False
    bot_is_member: bool = False
    archived: bool = False
    private: bool = False
    members: int | None = None  # how many, when Slack said
    error: str = ""  # Slack's error when it could not say (channel_not_found, ratelimited, …), as Connection's
    passing: bool = False
    needed: str = ""  # with missing_scope: the scope Slack said it needs
    private_types: bool = False  # some leave type is private: an approvals channel must be private too

    @property
    def nobody_in_it(self) -> bool:
        """Slack says nobody is in it but, perhaps, the bot."""
        return self.members is not None and self.members - (1 if self.bot_is_member else 0) <= 0

    @property
    def problems(self) -> tuple[str, ...]:
        """What stops this channel doing its job, in words HR can act on."""
        if self.error == "channel_not_found":
            return (("Slack cannot find it: it was deleted, or it is private and the bot is not in it "
                     "(/invite @Time off in the channel)."),)
        if self.error == "missing_scope":
            return ((f"The app lacks the scope {self.needed or 'Slack needs for it'}: paste the manifest below into "
                     "the app's App Manifest page and reinstall the app."),)
        if self.error and self.passing:  # rate limited, a 5xx, a timeout: the next check will say
            return (f"Slack could not say just now ({self.error}); check again in a minute.",)
        if self.error:
            return (f"Slack could not say ({self.error}).",)
        found = []
        if self.archived and any(use.endswith((APPROVALS, ANNOUNCE)) for use in self.uses):
            # Only posting fails in an archived channel: its history and members are read as before.
            found.append("It is archived: nothing can be posted there.")
        if not self.bot_is_member and any(use.endswith(tuple(BOT_MUST_BE_IN)) for use in self.uses):
            found.append("The bot is not in it: type /invite @Time off in the channel.")
        if not self.private and any(use.endswith(APPROVERS) for use in self.uses):
            found.append("It is public: anyone who joins it could approve.")
        if not self.private and self.private_types and any(use.endswith((APPROVALS, PAST_APPROVALS))
                                                           for use in self.uses):
            found.append("It is public: anyone in the workspace can read and search the private leave types and "
                         "the notes posted there. Make it private in Slack (channel settings), or give the team a "
                         "new private approvals channel.")
        if self.nobody_in_it and any(use.endswith(APPROVERS) for use in self.uses):
            found.append("Nobody is in it but the bot: no one approves through it. Invite the approvers, or name "
                         "them on the team's page.")
        if (self.members or 0) > MEMBERS_READ_MAX and any(use.endswith(PEOPLE_SOURCES) for use in self.uses):
            # Otherwise silent: the people past the last page read would count as not in it.
            found.append(f"It has {self.members:,} members, and the app reads only the first {MEMBERS_READ_MAX:,}: "
                         "the others count as not in it. A team's members can be a user group instead, which Slack "
                         "lists whole.")
        return tuple(found)


@dataclass(frozen=True)
class SetupReport:
    checked_at: float
    connection: Connection
    channels: tuple[ChannelCheck, ...] = ()
    channels_skipped: int = 0  # over MAX_CHANNELS
    passing_fault: bool = False

    def fresh(self, now: float) -> bool:
        return now - self.checked_at < FRESH_SECONDS


# The report's key names its dataclasses' shape (cache_values.schema_tag): during a rolling deploy the console
# of each release shows a report it can read.
REPORT_KEY = f"setup_checks:v1:report:{schema_tag(SetupReport)}"


def channel_uses(config: WorkspaceConfig) -> dict[str, list[str]]:
    """Every channel the configuration names -> what it is used for, in configuration order."""
    uses: dict[str, list[str]] = {}

    def add(channel: str | None, use: str) -> None:
        if channel:
            uses.setdefault(channel, []).append(use)

    for team in config.teams:
        add(team.approvals_channel, f"{team.name}: {APPROVALS}")
        for past in team.past_approvals_channels:
            if past != team.approvals_channel:
                add(past, f"{team.name}: {PAST_APPROVALS}")
        add(team.announce_channel, f"{team.name}: {ANNOUNCE}")
        add(team.approvers.channel, f"{team.name}: {APPROVERS}")
        add(team.members.channel, f"{team.name}: {MEMBERS}")
    add(config.requesters_channel, f"Everyone: {REQUESTERS}")
    return uses


def _header(headers, name: str) -> str | None:
    for key, value in (headers or {}).items():
        if key.lower() == name:
            return value if isinstance(value, str) else ",".join(value)
    return None


def connection_check(client: WebClient) -> Connection:
    try:
        response = client.auth_test()
    except (SlackApiError, OSError) as exc:  # OSError: refused, timed out (the page says which, in words)
        return Connection(ok=False, error=error_for_people(exc), passing=transient(exc))
    scopes = _header(response.headers, "x-oauth-scopes")
    return Connection(
        ok=True, workspace=response.get("team") or "", workspace_url=response.get("url") or "",
        bot_user=response.get("user") or "", bot_user_id=response.get("user_id") or "",
        granted_scopes=None if scopes is None else tuple(s.strip() for s in scopes.split(",") if s.strip()),
    )


def channel_check(client: WebClient, channel: str, uses: list[str], *, private_types: bool = False) -> ChannelCheck:
    try:
        info = client.conversations_info(channel=channel, include_num_members=True)["channel"]
    except (SlackApiError, OSError) as exc:
        needed = exc.response.get("needed") if isinstance(exc, SlackApiError) else None
        return ChannelCheck(channel=channel, uses=tuple(uses), error=error_for_people(exc), passing=transient(exc),
                            needed=needed if isinstance(needed, str) else "")
    members = info.get("num_members")
    name = info.get("name")
    # Anyone may name a channel: shown as the console shows every Slack name (no right-to-left override).
    return ChannelCheck(channel=channel, uses=tuple(uses), found=True,
                        name=without_hidden_characters(name) if isinstance(name, str) else "",
                        bot_is_member=bool(info.get("is_member")), archived=bool(info.get("is_archived")),
                        private=bool(info.get("is_private")), members=members if isinstance(members, int) else None,
                        private_types=private_types)


def setup_check(client: WebClient, config: WorkspaceConfig) -> SetupReport:
    """Ask Slack now. Never raises for Slack's answers: each check records its own error."""
    started = time.time()
    connection = connection_check(client)
    channels, skipped = [], 0
    if connection.ok:
        uses = list(channel_uses(config).items())
        skipped = max(0, len(uses) - MAX_CHANNELS)
        private_types = any(leave_type.private for leave_type in config.leave_types)
        channels = [channel_check(client, channel, used_for, private_types=private_types)
                    for channel, used_for in uses[:MAX_CHANNELS]]
        _describe_deciders(client, config)
    passing = connection.passing or any(check.passing for check in channels)
    return SetupReport(checked_at=started, connection=connection, channels=tuple(channels),
                       channels_skipped=skipped, passing_fault=passing)


# People named to decide that one check has Slack describe (users.info, Tier 4: 100+ a minute); answers are
# kept a day, so the next checks ask only for those not described yet.
MAX_DECIDERS_DESCRIBED = 100


def _describe_deciders(client: WebClient, config: WorkspaceConfig) -> None:
    """Have Slack describe the people named to decide (users.info, cached for a day), the fallback approvers
    first, so that the page, which asks Slack nothing, can name those who cannot (`named_deciders_who_cannot`:
    someone of another organisation or a bot is in no user list of ours) and HR's powers in Slack go only to
    those who can. A passing fault leaves the rest to the next check."""
    named = list(dict.fromkeys((*config.fallback_approvers,
                                *(user for team in config.teams for user in team.approvers.users))))
    try:
        for user in named[:MAX_DECIDERS_DESCRIBED]:
            fetch_user(client, user, raise_passing=True)
    except (SlackClientError, OSError) as exc:  # the next check asks again
        logger.warning("setup check: could not read the deciders' profiles error=%s", error_code(exc))


def teams_nobody_approves(config: WorkspaceConfig, report: SetupReport) -> list[str]:
    """The teams whose requests nobody can decide, as far as the report shows: no approver named, an
    approvers channel Slack says is empty (or cannot show), and no fallback approvers (HR) to fall back
    on. Their people hear it only when they send a request. Approvers, members of the approvers channel and
    fallback approvers the cache knows cannot decide (deactivated accounts, bots, guests) count as none."""
    gone = known_unable({*config.fallback_approvers, *(user for team in config.teams for user in team.approvers.users)})
    if any(hr not in gone for hr in config.fallback_approvers):
        return []
    checks = {check.channel: check for check in report.channels}
    found = []
    for team in config.teams:
        if any(user not in gone for user in team.approvers.users):
            continue
        channel = team.approvers.channel
        if channel:
            check = checks.get(channel)
            if check is not None and check.passing:
                continue  # Slack could not say just now
            if check is None or not check.error:  # else Slack cannot show it: nobody in it decides
                members = cached_channel_members(channel)
                if members is not None:
                    if members - {cached_bot_identity()[0]} - known_unable(members):
                        continue  # someone in it can decide
                elif check is None or not check.nobody_in_it:
                    continue  # not checked, or someone is in it
        found.append(team.name)
    return found


def named_deciders_who_cannot(config: WorkspaceConfig, directory) -> list[tuple[str, str, str]]:
    """(name, what they were named as, why) of the approvers and fallback approvers named by id who cannot
    decide leave, as the console's directory (Slack's user list) shows them: guests, who may request but
    never decide, and people who have left; and, from the cached profiles (`users.info`, which the Setup
    check asks), people of another organisation, bots and ids Slack has no user for. The console's forms
    refuse them; a configuration imported from a file, or a person who became a guest or left since, can
    still name them."""
    named = [(user, f"an approver of {team.name}") for team in config.teams for user in team.approvers.users]
    named += [(user, "a fallback approver") for user in config.fallback_approvers]
    found = []
    for user, named_as in named:
        person = directory.person(user) if directory is not None else None
        former = directory.former_person(user) if directory is not None and person is None else None
        profile = cached_profile(user)
        if is_outsider(profile):  # whether or not Slack's user list holds them
            found.append((person.label if person is not None else user, named_as,
                          "is of another organisation (in a channel shared through Slack Connect), and only this "
                          "workspace's people decide leave"))
        elif person is None and former is None and isinstance(profile, dict) and profile.get("bot"):
            found.append((user, named_as, "is a bot (an app's user), not a person"))
        elif profile == NO_SUCH_USER:
            found.append((user, named_as, "is no one Slack knows (a mistyped or deleted user id?)"))
        elif person is not None and person.guest:
            found.append((person.label, named_as, "is a guest in Slack, and guests do not decide leave"))
        elif former is not None:
            found.append((former.label, named_as, "has left: their Slack account is deactivated"))
    return found


def member_groups_not_listed(config: WorkspaceConfig) -> list[tuple[str, str]]:
    """(team name, user group id) of the teams whose members' user group Slack refused to list when the
    app last read it (`no_such_subteam`: disabled or deleted since it was chosen), as the cache holds it:
    the page asks Slack nothing. Nobody is in the team by it: they fall to a later team, the default team,
    or none. (Not from the console's list of user groups: a group made after it was read is not in it.)"""
    return [(team.name, team.members.usergroup) for team in config.teams
            if team.members.usergroup and isinstance(cached_usergroup_members(team.members.usergroup), Unlisted)]


def removed_teams_waiting(config: WorkspaceConfig, entries: Iterable[LedgerEntry]) -> list[tuple[str, int]]:
    """(team name, pending requests) of teams removed from the configuration since that no fallback
    approver (HR) can decide: those requests are HR's (team_routing.team_of_entry), and none is set, those
    set are known to be unable (left, a guest, another organisation's), or the only one left is the
    requester. As far as the cache knows: the page asks Slack nothing."""
    gone = known_unable(config.fallback_approvers)
    able = [hr for hr in config.fallback_approvers if hr not in gone]
    waiting: dict[str, int] = {}
    for entry in entries:
        if (entry.status == PENDING and entry.ts and team_of_entry(config, entry.team, entry.channel) is None
                and not any(hr != entry.user for hr in able)):
            waiting[entry.team] = waiting.get(entry.team, 0) + 1
    return sorted(waiting.items())


# --- The cache: the page reads, the task writes -----------------------------------------------


def setup_report_store(report: SetupReport) -> None:
    cache.set(REPORT_KEY, report, KEEP_WITH_PASSING_FAULT_SECONDS if report.passing_fault else KEEP_SECONDS)
    cache.delete(REQUESTED_KEY)


def setup_report_cached() -> SetupReport | None:
    return cache.get(REPORT_KEY)


def setup_check_requested() -> bool:
    return cache.get(REQUESTED_KEY) is not None


def setup_check_soon(*, force: bool = False) -> bool:
    """Enqueue one check unless one was asked for moments ago; True when one was enqueued."""
    if force:
        cache.delete(REQUESTED_KEY)
    if not cache.add(REQUESTED_KEY, time.time(), REQUEST_EVERY_SECONDS):
        return False
    from approvals.console_tasks import (
        run_setup_checks,  # the task module imports this one
    )

    run_setup_checks.enqueue()
    return True
