"""`/timeoff balance [YEAR]`: each leave type's allowance, taken, pending and remaining days.

On Slack's request path only the shared cache is read (the ledger, team
memberships, the time zone): endpoints never wait on Slack except for views.*
calls (DESIGN §3, §5). When the ledger or a membership is cold, a background
task reads them with the background client and sends the answer by DM.
"""

import logging
from datetime import date

from django.tasks import task
from slack_sdk import WebClient

from approvals import directory, ledger_reader
from approvals.balances import balances_for, describe_balances
from approvals.config_store import current_config
from approvals.config_types import TeamConfig, WorkspaceConfig
from approvals.ledger_reader import Ledger, LedgerUnavailable
from approvals.team_routing import MembershipUnknown, match_team
from slackbot import blocks, tasks, workflow
from slackbot.payloads import SlashCommand
from slackbot.responses import SlackResponse, ephemeral
from slackbot.slack_client import background_client

logger = logging.getLogger(__name__)

CHECKING_TEXT = "Checking your balance — I'll DM you in a moment."
MAX_YEARS_AWAY = 10
USAGE_TEXT = "Use `/timeoff balance` for this year, or `/timeoff balance 2027` for another year."


def command_balance(command: SlashCommand) -> SlackResponse:
    config = current_config()
    if not config.leave_types or not config.teams:
        return ephemeral("Time off isn't set up yet: HR has not configured any teams or leave types.")
    year = requested_year(command.words[1:])
    if year is False:
        return ephemeral(USAGE_TEXT)

    user = command.user_id
    channel_members, usergroup_members = workflow.cached_lookups()
    try:
        team = match_team(config, user, channel_members=channel_members, usergroup_members=usergroup_members).team
    except MembershipUnknown:
        return check_later(user, year)
    if team is None:
        return ephemeral(no_team_text(config))
    ledger = ledger_reader.cached_ledger(config)
    if ledger is None:
        return check_later(user, year)
    year = year or workflow.local_today(directory.cached_timezone(user) or "UTC").year
    return ephemeral(balance_text(config, ledger, user=user, team=team, year=year))


def requested_year(words: list[str]) -> int | None | bool:
    """None: this year (in the requester's time zone); False: not understood."""
    if not words:
        return None
    if len(words) == 1 and words[0].isascii() and words[0].isdigit():
        year = int(words[0])
        if abs(year - date.today().year) <= MAX_YEARS_AWAY:
            return year
    return False


def check_later(user: str, year: int | None) -> SlackResponse:
    send_balance.enqueue(user, year)
    return ephemeral(CHECKING_TEXT)


def balance_text(config: WorkspaceConfig, ledger: Ledger, *, user: str, team: TeamConfig, year: int) -> str:
    balances = balances_for(config=config, ledger=ledger, user=user, team=team, year=year)
    text = describe_balances(config=config, balances=balances, team=team, year=year)
    if ledger.truncated:
        text += ("\n:warning: An approvals channel has more history than I read at once, "
                 "so the oldest requests may be missing from these numbers.")
    return text


def no_team_text(config: WorkspaceConfig) -> str:
    contacts = blocks.mentions(config.fallback_approvers) if config.fallback_approvers else "HR"
    return f"No team is configured for you, so you have no leave balance here yet; ask {contacts} to add you to a team."


def unavailable_text(config: WorkspaceConfig, error: LedgerUnavailable) -> str:
    contacts = blocks.mentions(config.fallback_approvers) if config.fallback_approvers else "HR"
    return (
        f"Sorry, I can't work out your balance right now: I {error} — the leave records live there. "
        f"Please ask {contacts} to check that I am still a member of that channel."
    )


def send_balance_dm(client: WebClient, user: str, year: int | None) -> None:
    """Background: read what the command could not find in the cache, and DM the answer."""
    config = current_config()
    channel_members, usergroup_members = workflow.slack_lookups(client)
    team = match_team(config, user, channel_members=channel_members, usergroup_members=usergroup_members).team
    if team is None:
        workflow.send_dm(client, user, no_team_text(config))
        return
    year = year or workflow.local_today(directory.fetch_timezone(client, user)).year
    try:
        ledger = ledger_reader.current_ledger(client, config)
    except LedgerUnavailable as error:
        logger.warning("balance for user=%s: ledger unavailable channel=%s error=%s", user, error.channel,
                       error.error)
        workflow.send_dm(client, user, unavailable_text(config, error))
        return
    workflow.send_dm(client, user, balance_text(config, ledger, user=user, team=team, year=year))


@task()
def send_balance(user: str, year: int | None = None, attempt: int = 1) -> None:
    tasks.run_with_retries(send_balance, attempt, lambda *a: send_balance_dm(background_client(), *a), user, year)
