"""Reads: who is asking, their team, the preview, balances, who else is out.

Selectors named `<entity>_<what>` answer questions without writing anything.
The `*_cached` ones read only the shared cache, so they run on Slack's request
path; the others take the background client and may ask Slack.
"""

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime
from zoneinfo import ZoneInfo

from django.core.cache import cache
from slack_sdk import WebClient

from approvals import directory, ledger_reader, messages
from approvals.balances import BALANCES_TEXT_MAX, balances_for, describe_balances
from approvals.block_kit import days_text, escape
from approvals.config_store import current_config_with
from approvals.config_types import LeaveTypeConfig, TeamConfig, WorkspaceConfig
from approvals.ledger_reader import Ledger
from approvals.rules import (
    APPROVED,
    BOTH_HALVES_ONE_DAY,
    MAX_REQUEST_DAYS,
    PENDING,
    LeaveRequest,
    LedgerEntry,
    balance_for,
    blackout_violation,
    format_days,
    format_number,
    format_range,
    preview_violations,
    request_days,
    who_is_out,
)
from approvals.team_routing import (
    MembershipUnknown,
    UnlistedSource,
    approvers_for,
    match_team,
    may_request,
    team_of_entry,
    unlisted_source,
)
from approvals.work_calendar import team_holidays

logger = logging.getLogger(__name__)

# Counting days and holidays over centuries (`/timeoff 0001-01-01 9999-12-31`) takes seconds,
# longer than Slack waits for the modal.


# --- Memberships: from Slack in the background, from the cache on the request path ---------


def slack_lookups(client: WebClient):
    return (
        lambda channel: directory.fetch_channel_members(client, channel),
        lambda usergroup: directory.fetch_usergroup_members(client, usergroup),
    )


def cached_lookups():
    return directory.cached_channel_members, directory.cached_usergroup_members


def team_approvers(client: WebClient, config: WorkspaceConfig, team: TeamConfig, requester: str) -> frozenset[str]:
    """Who approves `requester`'s requests in `team`, as Slack says now: the team's approvers without the
    requester, bots and deactivated accounts; the fallback approvers (HR) when that leaves nobody."""
    return approvers_for(config, team, requester, channel_members=slack_lookups(client)[0],
                         unable=directory.unable_to_approve(client))


def team_of_user(client: WebClient, config: WorkspaceConfig, user: str) -> TeamConfig | None:
    channel_members, usergroup_members = slack_lookups(client)
    return match_team(config, user, channel_members=channel_members, usergroup_members=usergroup_members).team


# The warning below once per person and list in this time: each answer to them (each redraw of the form's
# preview) would say it again.
NO_TEAM_LOG_SECONDS = 10 * 60


def no_team_cause(config: WorkspaceConfig, user: str, lookups=None) -> UnlistedSource | None:
    """For `user`, whom the member lists put in no team: a team's channel or user group of members that
    Slack refused to list (`team_routing.unlisted_source`), so they may be in that team after all; None
    when every list was read. `lookups`: the (channel, user group) look-ups that found no team;
    by default the cache's, which that look-up has just read or filled. Logged once per person and list
    in NO_TEAM_LOG_SECONDS."""
    channel_members, usergroup_members = lookups or cached_lookups()
    cause = unlisted_source(config, channel_members=channel_members, usergroup_members=usergroup_members)
    if cause is not None and cache.add(f"no-team-logged:{user}:{cause.source}:{cause.error}", True,
                                       NO_TEAM_LOG_SECONDS):
        logger.warning("user=%s is in no team, and the members of %s=%s cannot be read error=%s: they may belong "
                       "to the team it decides", user, "channel" if cause.is_channel else "usergroup", cause.source,
                       cause.error)
    return cause


@dataclass(frozen=True)
class CachedRequester:
    allowed: bool | None  # None: not known yet (cold cache)
    team: TeamConfig | None = None  # None for "no team" when team_known
    team_known: bool = False
    timezone: str | None = None
    no_team_cause: UnlistedSource | None = None  # for "no team": a list Slack refused (`no_team_cause`)
    outsider: bool = False  # of another organisation (directory.is_outsider); `allowed` is then False


# Up to this many member lists (the requesters' channel, each team's members) are read together with
# the rest of a request's first reads; past it, reading them one by one until the person's team is
# found moves fewer bytes.
PREFETCH_MAX_MEMBER_LISTS = 8
# Other people's requests in flight whose details the form's preview reads (it names ten).
PREVIEW_OTHERS_READ = 50


@dataclass(frozen=True)
class Prefetched:
    """Cache values a request read in one round trip: `keys` were asked for, `found` holds those present."""

    keys: frozenset[str]
    found: dict

    def get(self, key: str, read):
        """The prefetched value (None: not cached), or `read()` for a key that was not asked for."""
        return self.found.get(key) if key in self.keys else read()


def requester_keys(config: WorkspaceConfig, user: str) -> list[str]:
    """The cache keys `requester_cached` reads for `user`: its time zone and profile, and the member lists
    it may need when they are few (PREFETCH_MAX_MEMBER_LISTS)."""
    lists = [directory.channel_members_key(config.requesters_channel)] if config.requesters_channel else []
    for team in config.teams:
        if team.members.channel:
            lists.append(directory.channel_members_key(team.members.channel))
        if team.members.usergroup:
            lists.append(directory.usergroup_members_key(team.members.usergroup))
    lists = list(dict.fromkeys(lists))
    return [directory.timezone_key(user), directory.profile_key(user),
            *(lists if len(lists) <= PREFETCH_MAX_MEMBER_LISTS else [])]


def requester_context(user: str, *, also: tuple[str, ...] = ()) -> tuple[WorkspaceConfig, CachedRequester, dict]:
    """The configuration, what the cache knows of `user` (`requester_cached`, everything it needs read
    at once) and the cache values of `also` (those present): on the Slack request path, one round trip
    when this process holds the current configuration snapshot."""
    keys_of: dict = {}  # the requester's keys, named after the configuration they were read with

    def keys_for(config: WorkspaceConfig) -> list[str]:
        keys_of["requester"] = requester_keys(config, user)
        return [*also, *keys_of["requester"]]

    config, found = current_config_with(keys_for)
    requester = requester_cached(config, user, prefetched=Prefetched(frozenset(keys_of["requester"]), found))
    return config, requester, {key: found[key] for key in also if key in found}


def requester_cached(config: WorkspaceConfig, user: str, *, prefetched: Prefetched | None = None) -> CachedRequester:
    """May this person request, and in which team — as far as the cache knows. `prefetched`: what the
    caller already read of `requester_keys` (anything else is read here)."""
    prefetched = prefetched or Prefetched(frozenset(), {})  # nothing read yet: every key read when asked

    def channel_members(channel):
        return prefetched.get(directory.channel_members_key(channel), lambda: directory.cached_channel_members(channel))

    def usergroup_members(usergroup):
        return prefetched.get(directory.usergroup_members_key(usergroup),
                              lambda: directory.cached_usergroup_members(usergroup))

    timezone = prefetched.get(directory.timezone_key(user), lambda: directory.cached_timezone(user))
    if directory.is_outsider(prefetched.get(directory.profile_key(user), lambda: directory.cached_profile(user))):
        return CachedRequester(allowed=False, timezone=timezone, outsider=True)
    try:
        allowed = may_request(config, user, channel_members=channel_members)
    except MembershipUnknown:
        return CachedRequester(allowed=None, timezone=timezone)
    try:
        team = match_team(config, user, channel_members=channel_members, usergroup_members=usergroup_members).team
    except MembershipUnknown:
        return CachedRequester(allowed=allowed, timezone=timezone)
    cause = no_team_cause(config, user, (channel_members, usergroup_members)) if team is None else None
    return CachedRequester(allowed=allowed, team=team, team_known=True, timezone=timezone, no_team_cause=cause)


def decision_refusal_cached(config: WorkspaceConfig, *, channel: str, requester: str, clicker: str) -> str | None:
    """Why `clicker` may not decide this request, when the cache already knows; None otherwise."""
    if clicker == requester:
        return messages.own_request_text()
    teams = [team for team in config.teams if channel in team.ledger_channels]
    if len(teams) != 1:
        # None: the decision task will explain. Several: teams share this approvals channel, and only the
        # request (in Slack) says whose it is: the task reads it.
        return None
    [team] = teams
    channel_members, _ = cached_lookups()
    try:
        if clicker in approvers_for(config, team, requester, channel_members=channel_members):
            # Listed, but the cache may know they cannot decide (of another organisation in a shared
            # approvers channel, a guest, a deactivated account): told now, before a reason is asked for.
            return messages.not_an_approver_text(team.name) if directory.known_unable([clicker]) else None
        # HR decides where the team's approvers are all bots or deactivated accounts: asked of the
        # cache only for someone the lists do not name, since it reads each approver's profile.
        if clicker in config.fallback_approvers and clicker in approvers_for(
                config, team, requester, channel_members=channel_members, unable=directory.unable_cached):
            return None
    except MembershipUnknown:
        return None  # cold cache: the task checks with Slack
    return messages.not_an_approver_text(team.name)


def reject_refusal_cached(config: WorkspaceConfig, *, channel: str, requester: str, request_id: str,
                          clicker: str) -> tuple[str | None, LedgerEntry | None]:
    """Why `clicker` may not reject this request, when the cache already knows (None otherwise), and the
    request as the cache last saw it (None when it does not know it, or it is not the one on this message).
    Told at once, before the reject form asks for a reason; the decision task checks again with Slack."""
    seen = request_seen_cached(config, requester, request_id)
    if seen is not None and seen.channel and seen.channel != channel:
        seen = None  # not the request on this message (a forged value): nothing of it is shown
    if seen is not None and seen.status != PENDING:
        # A stale button (App Home not yet republished, or a decision moments ago): no reason to ask for.
        return messages.already_decided_text(seen), seen
    if seen is not None and team_of_entry(config, seen.team, seen.channel) is None:
        # Of a team removed from the configuration since: HR's (the fallback approvers') to decide, whichever
        # team reads its channel now; not a fallback approver the cache knows cannot (a guest, a leaver).
        if clicker == requester:
            return messages.own_request_text(), seen
        if clicker in config.fallback_approvers and not directory.known_unable([clicker]):
            return None, seen
        return messages.removed_team_text(seen.team), seen
    return decision_refusal_cached(config, channel=channel, requester=requester, clicker=clicker), seen


def request_seen_cached(config: WorkspaceConfig, user: str, request_id: str) -> LedgerEntry | None:
    """The request of `user` as the cache last saw it (posted, or in flight); None when the cache does
    not know it. For a stale button (an old list, App Home not yet republished): whether the request
    is still pending, before a form is opened for it. The change or decision itself reads Slack."""
    view = ledger_reader.person_view(config, user)
    return view.entries.get(request_id) if view is not None else None


# --- Calendar ----------------------------------------------------------------------------


def holiday_dates(config: WorkspaceConfig, team: TeamConfig, start: date, end: date) -> dict[date, str]:
    """The team's holidays for checking a request from `start` to `end`: of the years before and after
    its own too. The balance of its years counts the working days of other leave that crosses into
    them (24 Dec – 2 Jan takes days from both years), on the same calendar `/timeoff balance` uses."""
    return team_holidays(team, config.holidays_for(team.name), range(start.year - 1, end.year + 2))


def today_cached(user: str, *, turning_points: Iterable[date]) -> date | None:
    """The person's today, from their time zone in the cache (the request path). When that has lapsed
    (it is kept a day), UTC's today, which is their own or a day either side (zones run from UTC-12 to
    UTC+14): unless one of `turning_points`, the days on which the answer changes (leave starting or
    ending, the new year), is that close, when None sends the caller to the background, which asks
    Slack for the zone. At 18:00 in California it is tomorrow in UTC: leave starting tomorrow is not
    under way yet."""
    zone = directory.cached_timezone(user)
    if zone:
        return local_today(zone)
    today = local_today("UTC")
    if any(abs((day - today).days) <= 1 for day in turning_points):
        return None
    return today


def local_today(timezone_name: str, now: float | None = None) -> date:
    try:
        zone = ZoneInfo(timezone_name)
    except (ValueError, KeyError):
        zone = ZoneInfo("UTC")
    return datetime.fromtimestamp(time.time() if now is None else now, tz=zone).date()


# --- Around one request --------------------------------------------------------------------


def ledger_context(config: WorkspaceConfig, ledger: "Ledger | ledger_reader.SliceLedger | None", entry: LedgerEntry,
                   leave_type: LeaveTypeConfig, *, today: date | None = None) -> str:
    """Who else on the team is out then, and the balance left after this request.

    `ledger`: the whole ledger, or `ledger_reader.person_view` of the entry's user, team and dates.
    `today`: the day it is read, for which dates show their year.
    """
    if ledger is None:
        return ""
    team = config.team_recorded_as(entry.team)
    # The ledger's entries carry their team's name now (ledger_reader); `entry` may carry an earlier one.
    team_name = team.name if team else entry.team
    others = [e for e in who_is_out(ledger.without(entry.id), entry.start, entry.end, exclude_user=entry.user)
              if e.team == team_name]
    lines = [messages.others_out_line(others, unread=getattr(ledger, "unread_others", 0), today=today)]
    if leave_type.annual_allowance_days is not None:
        workweek = team.workweek if team else (0, 1, 2, 3, 4)
        holidays = holiday_dates(config, team, entry.start, entry.end) if team else {}
        entries = [*ledger.without(entry.id), entry]
        for year in range(entry.start.year, entry.end.year + 1):
            balance = balance_for(entry.user, leave_type, year, entries=entries,
                                  adjustments=ledger.adjustments_for(entry.user), workweek=workweek,
                                  holiday_dates=holidays)
            total = format_days(balance.allowance + balance.adjustments)
            if balance.remaining < 0:  # said as /timeoff balance says it, not "-2 of 25 days left"
                lines.append(f":bar_chart: After this request: {format_days(-balance.remaining)} over the {total} "
                             f"of {escape(leave_type.name)} in {year}")
            else:
                lines.append(f":bar_chart: After this request: {format_number(balance.remaining)} of {total} "
                             f"of {escape(leave_type.name)} left in {year}")
    return "\n".join(lines)


@dataclass(frozen=True)
class RequestDraft:
    """A request form as it is being filled in: any part may be missing."""

    leave_type: str | None = None
    start: date | None = None
    end: date | None = None
    start_half: str | None = None
    end_half: str | None = None


def request_preview_cached(config: WorkspaceConfig, user: str, draft: RequestDraft,
                           requester: CachedRequester | None = None, replacing: str | None = None,
                           recorded: bool = False, replacing_of: tuple[str, str] | None = None) -> str:
    """The live preview under the form: working days, who decides, who else is out, the balance after.
    `requester`: what the caller already read of `user` (requester_cached), not read again. `replacing`:
    the id of the request an Edit form rewrites, which the draft replaces (not counted beside it);
    `replacing_of`: its team and channel as the Edit button named them, for when the cache does not know it.
    `recorded`: HR records it for `user`, approved at once."""
    requester = requester or requester_cached(config, user)
    leave_type = config.leave_type(draft.leave_type or "")
    kept_start = None
    if replacing:
        own = ledger_reader.person_view(config, user)
        current = own.entries.get(replacing) if own is not None else None
        if current is not None:  # an edit is judged on the calendar of the team the request is of, as its task is
            requester = replace(requester, team=team_of_entry(config, current.team, current.channel), team_known=True)
            kept_start = current.start  # accepted when it was sent (rules.basic_violations)
        elif replacing_of is not None and (team := team_of_entry(config, *replacing_of)) is not None:
            requester = replace(requester, team=team, team_known=True)
    if requester.team_known and requester.team is None and requester.no_team_cause is not None:
        # A context block: mrkdwn.
        who = f"{messages.unlisted_text(config, requester.no_team_cause, unable=directory.hr_unable(config))}."
    elif requester.team_known and requester.team is None:
        who = "No team is configured for you."
    elif requester.team_known and recorded:
        who = "Recorded as approved at once."
    elif requester.team_known and leave_type is not None and not leave_type.requires_approval:
        who = f"{escape(leave_type.name)} needs no approval: it is recorded at once."
    elif requester.team_known:
        who = f"Decided by the {escape(requester.team.name)} approvers."
    else:
        who = "Looking up your team…"
    if leave_type is not None and leave_type.private:  # what the team will see, said before it is sent
        who += (f" {escape(leave_type.name)} is private: the team's channel and digests show only that "
                f"{'they are' if recorded else 'you are'} away.")
    if not (draft.start and draft.end):
        return f"Pick your dates to see how many working days this is. {who}"
    if draft.end < draft.start:
        return f":warning: The last day is before the first. {who}"
    if (draft.end - draft.start).days > MAX_REQUEST_DAYS:
        return f":warning: One request can cover at most a year. {who}"
    team = requester.team if requester.team_known else None
    halves_allowed = leave_type is None or leave_type.allow_half_days
    start_half = draft.start_half if halves_allowed else None
    end_half = draft.end_half if halves_allowed else None
    # With the year when it is not this one: the preview is where a typo for the year ("2029") shows.
    today = local_today(requester.timezone or "UTC")
    dates = format_range(draft.start, draft.end, start_half, end_half, today=today)
    if draft.start == draft.end and start_half and end_half:
        return f":warning: {dates}: {BOTH_HALVES_ONE_DAY}. {who}"
    if team is None:
        # A count all the same (the form is open now, and the member lists behind the team may take a
        # moment), saying on what calendar: their team's may be a Sunday–Thursday week, with its holidays.
        days = request_days(LeaveRequest(user, draft.leave_type or "", draft.start, draft.end, start_half,
                                         end_half), (0, 1, 2, 3, 4), {})
        until = " until your team is known" if not requester.team_known else ""  # else they are in none
        return f"*{days_text(days)}*: {dates}, counted Monday–Friday without holidays{until}. {who}"
    holidays = holiday_dates(config, team, draft.start, draft.end)
    request = LeaveRequest(user, draft.leave_type or "", draft.start, draft.end, start_half, end_half)
    days = request_days(request, team.workweek, holidays)
    preview = f"*{days_text(days)}*: {dates}. {who}"
    # The preview names ten others at most: the details of PREVIEW_OTHERS_READ are plenty, however
    # busy the team (the rest are counted, not read).
    history = ledger_reader.person_view(config, user, team.name, draft.start, draft.end,
                                        others_max=PREVIEW_OTHERS_READ) if leave_type else None
    # What sending would refuse, said now, before the rest is filled in (without a ledger while it is cold).
    if leave_type is None:
        blackout = blackout_violation(request, team=team, blackouts=config.blackouts_for(team.name),
                                      holiday_dates=holidays, today=today)
        refusals = [blackout] if blackout is not None else []
    else:
        refusals = preview_violations(
            request, leave_type=leave_type, team=team, holiday_dates=holidays,
            blackouts=config.blackouts_for(team.name), today=today, zone_known=requester.timezone is not None,
            recorded=recorded, kept_start=kept_start, whose="their" if recorded else "your",
            ledger=None if history is None else history.without(replacing or ""))
    for refusal in refusals:
        preview += f"\n:warning: {escape(refusal.message)}."
    if leave_type and history is not None:
        entry = LedgerEntry(id=replacing or "preview", user=user, team=team.name, leave_type=leave_type.code,
                            start=draft.start, end=draft.end, start_half=start_half, end_half=end_half,
                            days=days, status="pending")
        preview += "\n" + ledger_context(config, history, entry, leave_type, today=today)
    return preview


# --- Balances ------------------------------------------------------------------------------


def balance_years(ledger: Ledger, user: str, *, today: date, asked: int | None = None) -> list[int]:
    """The years a balance shows: the one asked for; else this year, and the next too once the person has
    leave asked for or approved in it, or an adjustment for it (in December, January's leave is what
    they are planning)."""
    if asked is not None:
        return [asked]
    following = today.year + 1
    booked = (any(e.status in (APPROVED, PENDING) and e.start.year <= following <= e.end.year
                  for e in ledger.for_user(user))
              or any(a.year == following for a in ledger.adjustments_for(user)))
    return [today.year, following] if booked else [today.year]


def balance_text(config: WorkspaceConfig, ledger: Ledger, *, user: str, team: TeamConfig, years: list[int],
                 hr: str | None = None) -> str:
    """Each year's balances (`balance_years`), one after the other; a year that would take the answer past
    BALANCES_TEXT_MAX is pointed to instead. `hr`: HR asking about `user` (`/timeoff for @person balance`)."""
    owner = "Your" if hr is None else f"{messages.mention(user)}'s"
    command = "/timeoff balance" if hr is None else f"/timeoff for {messages.mention(user)} balance"
    parts: list[str] = []
    for year in years:
        balances = balances_for(config=config, ledger=ledger, user=user, team=team, year=year)
        part = describe_balances(config=config, balances=balances, team=team, year=year, owner=owner)
        if parts and sum(len(p) + 1 for p in parts) + len(part) > BALANCES_TEXT_MAX:
            part = f"*{owner} leave in {year}*: `{command} {year}` shows it."
        parts.append(part)
    text = "\n".join(parts)
    if ledger.truncated:
        text += ("\n:warning: An approvals channel has more history than I read at once, "
                 "so the oldest requests may be missing from these numbers.")
    return text


def balance_no_team_text(config: WorkspaceConfig, cause: UnlistedSource | None = None, *,
                         outsider: bool = False, user: str | None = None, hr: str | None = None) -> str:
    """`outsider`: of another organisation (directory.is_outsider), who has no balance here to look for.
    `hr`: HR asking about `user`."""
    if hr is not None:
        if outsider:
            return f"{messages.mention(user)} has no balance here: {messages.person_outsider_text()}."
        if cause is not None:
            return (f"I can't tell {messages.mention(user)}'s team: I couldn't read who is in "
                    f"{messages.unlisted_list(cause, plain=False)} (Slack said {cause.error}), which decides who "
                    f"is in {escape(cause.team_name)}; {messages.unlisted_fix(cause)}.")
        return (f"{messages.mention(user)} is in no team (and no team is the `default`), so they have no "
                "leave balance here yet; add them to a team on the HR console's Teams page.")
    if outsider:
        return f"Sorry, {messages.outsider_text()}."
    unable = directory.hr_unable(config)
    if cause is not None:
        return f"Sorry, {messages.unlisted_text(config, cause, unable=unable)}."
    return (f"No team is configured for you, so you have no leave balance here yet; "
            f"ask {messages.hr_contacts(config, leaving_out=unable)} to add you to a team.")


@dataclass(frozen=True)
class BalanceAnswer:
    text: str | None  # None: the cache is cold; ask again in the background


def balance_answer_cached(config: WorkspaceConfig, user: str, year: int | None,
                          hr: str | None = None) -> BalanceAnswer:
    """`hr`: HR asking about `user` (`/timeoff for @person balance`)."""
    profile = directory.cached_profile(user)
    if profile is None and hr is not None:
        return BalanceAnswer(None)  # whom HR asks about is Slack's to say: asked in the background
    if directory.is_outsider(profile):
        # Of another organisation: no balance here, even in a channel that makes a team's members.
        return BalanceAnswer(balance_no_team_text(config, user=user, hr=hr, outsider=True))
    channel_members, usergroup_members = cached_lookups()
    try:
        team = match_team(config, user, channel_members=channel_members, usergroup_members=usergroup_members).team
    except MembershipUnknown:
        return BalanceAnswer(None)
    if team is None:
        cause = no_team_cause(config, user, (channel_members, usergroup_members))
        return BalanceAnswer(balance_no_team_text(config, cause, user=user, hr=hr))
    ledger = ledger_reader.person_view(config, user)  # the person's slice: their entries and adjustments
    if ledger is None:
        return BalanceAnswer(None)
    if profile is None and not ledger.for_user(user) and not ledger.adjustments_for(user):
        # Nothing of theirs and nothing known of who they are: someone of another organisation in a team's
        # channel looks just so. Asked of Slack in the background.
        return BalanceAnswer(None)
    this_year = local_today("UTC").year
    today = today_cached(user, turning_points=(date(this_year, 1, 1), date(this_year + 1, 1, 1)))
    if today is None:
        return BalanceAnswer(None)
    years = balance_years(ledger, user, today=today, asked=year)
    return BalanceAnswer(balance_text(config, ledger, user=user, team=team, years=years, hr=hr))


# --- A person's own leave -----------------------------------------------------------------

RECENT_DECIDED = 3


@dataclass(frozen=True)
class MyLeave:
    pending: list[LedgerEntry]  # waiting for a decision, soonest first
    upcoming: list[LedgerEntry]  # approved, not started: may be cancelled
    ongoing: list[LedgerEntry]  # approved, started, not over
    recent: list[LedgerEntry]  # the last few decided, newest first
    today: date | None = None  # the person's day it was read for: dates in another year show it


def my_leave(ledger: Ledger, user: str, today: date) -> MyLeave:
    entries = sorted(ledger.for_user(user), key=lambda e: (e.start, e.end, e.id))
    decided = [e for e in entries if e.status != "pending" and not (e.status == "approved" and e.end >= today)]
    return MyLeave(
        # Every pending request, its days past or not: while its approvers have not decided, its person
        # must still see it (their balance counts it) and be able to withdraw or shorten it.
        pending=[e for e in entries if e.status == "pending"],
        upcoming=[e for e in entries if e.status == "approved" and e.start > today],
        ongoing=[e for e in entries if e.status == "approved" and e.start <= today <= e.end],
        recent=sorted(decided, key=lambda e: e.decided_at or 0, reverse=True)[:RECENT_DECIDED],
        today=today,
    )


def my_leave_cached(config: WorkspaceConfig, user: str) -> MyLeave | None:
    """From the cache only (the request path); None when the ledger is cold. Reads the person's slice only."""
    ledger = ledger_reader.person_view(config, user)
    if ledger is None:
        return None
    today = today_cached(user, turning_points=[day for entry in ledger.for_user(user) for day in (entry.start,
                                                                                                   entry.end)])
    return None if today is None else my_leave(ledger, user, today)


def leave_list(config: WorkspaceConfig, leave: MyLeave, *, only_changeable: bool = False,
               whose: str | None = None) -> tuple[str, list[dict]]:
    """The text and blocks of `/timeoff list` (or `/timeoff cancel`: only what can still be changed).
    `whose`: the person whose leave it is, when HR reads it (`/timeoff for @person list`)."""
    owner = "Your" if whose is None else f"{messages.mention(whose)}'s"
    if only_changeable:
        title = "Which request do you want to change?" if whose is None else f"Which of {owner} requests?"
        # HR may also cancel leave under way (check_change): theirs to correct, when it has started.
        # ... and leave already taken, recently decided (a sick day recorded on the wrong date).
        taken = [entry for entry in leave.recent if entry.status == APPROVED] if whose else []
        blocks = messages.leave_list_blocks(config=config, pending=leave.pending, upcoming=leave.upcoming,
                                            ongoing=leave.ongoing if whose else [], recent=taken, title=title,
                                            today=leave.today, hr=bool(whose))
    else:
        blocks = messages.leave_list_blocks(config=config, pending=leave.pending, upcoming=leave.upcoming,
                                            ongoing=leave.ongoing, recent=leave.recent, today=leave.today,
                                            title=f"{owner} time off", hr=bool(whose))
    return messages.leave_list_text(leave.pending, leave.upcoming, owner=owner), blocks
