"""`/timeoff who`: who in the person's team is out today and the next 7 days, as the weekly digest says it.

Answered from the cache (the team's slices for those days: the same read as a
form's preview) when it can be; otherwise read in the background and sent by
DM, as `/timeoff balance` is (DESIGN §3, §5). Private leave types show as
"away", as in the team's channel.
"""

import logging
from datetime import date, timedelta

from slack_sdk import WebClient

from approvals import job_messages, jobs, ledger_reader, messages, tasks
from approvals.config_store import current_config
from approvals.config_types import TeamConfig, WorkspaceConfig
from approvals.notifications import send_dm
from approvals.rules import LedgerEntry
from approvals.selectors import cached_lookups, local_today, team_of_user
from approvals.team_routing import MembershipUnknown, match_team

logger = logging.getLogger(__name__)

CHECKING_TEXT = "Looking up who's out — I'll DM you in a moment."


def team_out_request(user: str) -> tuple[str, list[dict]]:
    """The answer to `/timeoff who` now, from the cache; or a note that it comes by DM."""
    config = current_config()
    channel_members, usergroup_members = cached_lookups()
    try:
        team = match_team(config, user, channel_members=channel_members, usergroup_members=usergroup_members).team
    except MembershipUnknown:
        tasks.send_team_out.enqueue(user)
        return CHECKING_TEXT, []
    if team is None:
        return no_team_text(config), []
    today = local_today(team.timezone)
    view = ledger_reader.person_view(config, user, team.name, today, today + timedelta(days=jobs.DIGEST_DAYS_AHEAD))
    if view is None:
        tasks.send_team_out.enqueue(user)
        return CHECKING_TEXT, []
    return team_out_message(config, team, view.entries.values(), today)


def team_out_send(client: WebClient, user: str) -> None:
    """`/timeoff who` when the cache could not answer: read what it lacked and DM the answer."""
    config = current_config()
    team = team_of_user(client, config, user)
    if team is None:
        send_dm(client, user, no_team_text(config))
        return
    try:
        ledger = ledger_reader.current_ledger(client, config)
    except ledger_reader.LedgerUnavailable as error:
        logger.warning("who's out for user=%s: ledger unavailable channel=%s error=%s", user, error.channel,
                       error.error)
        send_dm(client, user, f"Sorry, I can't tell who's out right now: I {error} — the leave records live there. "
                              f"Please ask {messages.hr_contacts(config)} to check that I am still a member of "
                              "that channel.")
        return
    text, blocks = team_out_message(config, team, ledger.entries.values(), local_today(team.timezone))
    send_dm(client, user, text, blocks)


def team_out_message(config: WorkspaceConfig, team: TeamConfig, entries, today: date) -> tuple[str, list[dict]]:
    """The team's approved leave today and the next days (the weekly digest's window and words)."""
    until = today + timedelta(days=jobs.DIGEST_DAYS_AHEAD)
    holidays = jobs.team_calendar(config, team, today)
    out: list[LedgerEntry] = jobs.out_between(entries, team, today, until, holidays)
    leave_types = {leave_type.code: leave_type for leave_type in config.leave_types}
    return job_messages.weekly_digest_message(team.name, today, until, out, leave_types, holidays)


def no_team_text(config: WorkspaceConfig) -> str:
    return (f"No team is configured for you, so there is nobody to show; ask {messages.hr_contacts(config)} "
            "to add you to a team.")
