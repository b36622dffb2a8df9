"""`/timeoff who [team]`: who in the person's team (or the team named) is out today and the next 7 days,
as the weekly digest says it.

Answered from the cache (the team's slices for those days: the same read as a
form's preview) when it can be; otherwise read in the background and sent by
DM, as `/timeoff balance` is (DESIGN §3, §5). Private leave types show as
"away", as in the team's channel.
"""

import logging
from datetime import date, timedelta

from slack_sdk import WebClient

from approvals import directory, job_messages, jobs, ledger_reader, messages, tasks
from approvals.block_kit import escape
from approvals.config_store import current_config
from approvals.config_types import TeamConfig, TeamNameUnclear, WorkspaceConfig
from approvals.notifications import new_ask, send_answer
from approvals.rules import LedgerEntry
from approvals.selectors import cached_lookups, local_today, no_team_cause, team_of_user
from approvals.team_routing import MembershipUnknown, UnlistedSource, match_team

logger = logging.getLogger(__name__)

TEAMS_NAMED_MAX = 30  # in the answer to a name that is no team's
ECHO_MAX = 80  # characters of what was asked shown back
CHECKING_TEXT = "Looking up who's out — I'll DM you in a moment."


class NoSuchTeam(Exception):
    """What was asked for names no configured team; the message says so and lists the teams, as mrkdwn."""


def team_asked_for(config: WorkspaceConfig, *, name: str | None = None, channel: str | None = None) -> TeamConfig:
    """The team `/timeoff who …` asks about: by its name, in any case, or an earlier name of it (people
    keep saying the old one after a rename; a name in use wins), or by one of its channels (its members'
    or its announcements'). NoSuchTeam otherwise, naming what was asked (`name`, or `asked`), and the
    teams that were called so when several were."""
    if channel is not None:
        found = next((team for team in config.teams if channel in (team.members.channel, team.announce_channel)),
                     None)
        asked = f"#{channel}"
    else:
        asked = name or ""
        try:
            found = config.team_called(asked, any_case=True)
        except TeamNameUnclear as unclear:
            if unclear.ambiguous:
                shown = asked if len(asked) <= ECHO_MAX else asked[:ECHO_MAX] + "…"
                teams = " and ".join(f"*{escape(team)}*" for team in unclear.teams[:TEAMS_NAMED_MAX])
                raise NoSuchTeam(f"No team is called “{escape(shown)}” now; {teams} were called so before. "
                                 f"Ask for one of them: `/timeoff who {escape(unclear.teams[0])}`, say.") from None
            found = None
    if found is None:
        names = ", ".join(f"*{escape(team.name)}*" for team in config.teams[:TEAMS_NAMED_MAX])
        more = len(config.teams) - TEAMS_NAMED_MAX
        shown = asked if len(asked) <= ECHO_MAX else asked[:ECHO_MAX] + "…"
        raise NoSuchTeam(f"No team is called “{escape(shown)}”. The teams are {names}"
                         f"{f' and {more} more' if more > 0 else ''}: `/timeoff who {escape(config.teams[0].name)}`, say.")
    return found


def team_out_request(user: str, team_name: str | None = None) -> tuple[str, list[dict]]:
    """The answer to `/timeoff who [team]` now, from the cache; or a note that it comes by DM.
    `team_name`: a configured team's name (`team_asked_for`); None for the person's own team."""
    config = current_config()
    # Someone of another organisation (Slack Connect) sees none of our teams' leave, though a shared channel
    # makes them look like a team's member: known from their cached profile (any use of the app caches it).
    if directory.is_outsider(directory.cached_profile(user)):
        return f"Sorry, {messages.outsider_text()}.", []
    team = config.team_named(team_name) if team_name is not None else None
    if team is None:
        channel_members, usergroup_members = cached_lookups()
        try:
            team = match_team(config, user, channel_members=channel_members,
                              usergroup_members=usergroup_members).team
        except MembershipUnknown:
            tasks.send_team_out.enqueue(user, None, new_ask())
            return CHECKING_TEXT, []
    if team is None:
        return no_team_text(config, no_team_cause(config, user, (channel_members, usergroup_members))), []
    today = local_today(team.timezone)
    view = ledger_reader.person_view(config, user, team.name, today, today + timedelta(days=jobs.DIGEST_DAYS_AHEAD))
    if view is None:
        tasks.send_team_out.enqueue(user, team.name if team_name is not None else None, new_ask())
        return CHECKING_TEXT, []
    return team_out_message(config, team, view.entries.values(), today)


def team_out_send(client: WebClient, user: str, team_name: str | None = None, ask: str = "") -> None:
    """`/timeoff who [team]` when the cache could not answer: read what it lacked and DM the answer.
    A team renamed since it was asked for is found by its earlier name; one removed since: the person's own
    team, as without a name."""
    config = current_config()
    if directory.is_outsider(directory.fetch_user(client, user, raise_passing=True)):
        send_answer(client, ask, user, f"Sorry, {messages.outsider_text()}.")
        return
    team = config.team_recorded_as(team_name) if team_name is not None else None
    team = team or team_of_user(client, config, user)
    if team is None:
        send_answer(client, ask, user, no_team_text(config, no_team_cause(config, user)))
        return
    try:
        ledger = ledger_reader.current_ledger(client, config)
    except ledger_reader.LedgerUnavailable as error:
        logger.warning("who's out for user=%s: ledger unavailable channel=%s error=%s", user, error.channel,
                       error.error)
        send_answer(client, ask, user, f"Sorry, I can't tell who's out right now: I {error} — the leave records live there. "
                              f"Please ask {messages.hr_contacts(config, leaving_out=directory.hr_unable(config))} "
                              "to check that I am still a member of "
                              "that channel.")
        return
    text, blocks = team_out_message(config, team, ledger.entries.values(), local_today(team.timezone))
    send_answer(client, ask, user, text, blocks)


def team_out_message(config: WorkspaceConfig, team: TeamConfig, entries, today: date,
                     max_sections: int = job_messages.MAX_SECTIONS) -> tuple[str, list[dict]]:
    """The team's approved leave today and the next days (the weekly digest's window and words)."""
    until = today + timedelta(days=jobs.DIGEST_DAYS_AHEAD)
    holidays = jobs.team_calendar(config, team, today)
    out: list[LedgerEntry] = jobs.out_between(entries, team, today, until, holidays)
    leave_types = {leave_type.code: leave_type for leave_type in config.leave_types}
    return job_messages.weekly_digest_message(team.name, today, until, out, leave_types, holidays,
                                              max_sections=max_sections)


def team_week_from(config: WorkspaceConfig, team: TeamConfig, user: str, history) -> list[dict] | None:
    """App Home's "who's out" part: `/timeoff who`'s answer for the person's team, in a few sections,
    from what the publish has read: the whole ledger, or else the team's slices for those days (None
    when they are cold: the tab shows it from the next publish on, and reads no more of Slack for it)."""
    today = local_today(team.timezone)
    if isinstance(history, ledger_reader.Ledger):
        entries = history.entries.values()
    else:
        view = ledger_reader.person_view(config, user, team.name, today,
                                         today + timedelta(days=jobs.DIGEST_DAYS_AHEAD))
        if view is None:
            return None
        entries = view.entries.values()
    return team_out_message(config, team, entries, today, max_sections=HOME_TEAM_WEEK_SECTIONS)[1]


HOME_TEAM_WEEK_SECTIONS = 3  # of App Home's 100 blocks: the person's own list gets the rest


def no_team_text(config: WorkspaceConfig, cause: UnlistedSource | None = None) -> str:
    unable = directory.hr_unable(config)
    if cause is not None:
        return f"Sorry, {messages.unlisted_text(config, cause, unable=unable)}."
    return ("No team is configured for you, so there is nobody to show; ask "
            f"{messages.hr_contacts(config, leaving_out=unable)} to add you to a team.")
