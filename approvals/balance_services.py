"""`/timeoff balance` answered from the background: read what the cache did not have, DM the answer."""

import logging

from slack_sdk import WebClient

from approvals import directory, ledger_reader, messages, tasks
from approvals.config_store import current_config
from approvals.notifications import new_ask, send_answer
from approvals.selectors import (
    balance_answer_cached,
    balance_no_team_text,
    balance_text,
    balance_years,
    local_today,
    no_team_cause,
    team_of_user,
)

logger = logging.getLogger(__name__)

CHECKING_TEXT = "Checking your balance — I'll DM you in a moment."


def balance_request(user: str, year: int | None, *, hr: str | None = None) -> str:
    """The answer to `/timeoff balance` now, from the cache; or a note that it comes by DM.
    `hr`: HR asking about `user` (`/timeoff for @person balance`): an answer by DM goes to them."""
    answer = balance_answer_cached(current_config(), user, year, hr=hr)
    if answer.text is not None:
        return answer.text
    tasks.send_balance.enqueue(user, year, hr, new_ask())
    return CHECKING_TEXT if hr is None else f"Checking {messages.mention(user)}'s balance — I'll DM you in a moment."


def balance_send(client: WebClient, user: str, year: int | None, hr: str | None = None, ask: str = "") -> None:
    config = current_config()
    # Someone of another organisation has no balance here, even in a channel that makes a team's members.
    outsider = directory.is_outsider(directory.fetch_user(client, user, raise_passing=True))
    team = None if outsider else team_of_user(client, config, user)
    if team is None:
        cause = None if outsider else no_team_cause(config, user)
        send_answer(client, ask, hr or user, balance_no_team_text(config, cause, outsider=outsider, user=user, hr=hr))
        return
    today = local_today(directory.fetch_timezone(client, user))
    try:
        ledger = ledger_reader.current_ledger(client, config)
    except ledger_reader.LedgerUnavailable as error:
        logger.warning("balance for user=%s: ledger unavailable channel=%s error=%s", user, error.channel,
                       error.error)
        whose = "your" if hr is None else f"{messages.mention(user)}'s"
        send_answer(client, ask, hr or user, (
            f"Sorry, I can't work out {whose} balance right now: I {error} — the leave records live there. "
            f"Please ask {messages.hr_contacts(config, leaving_out=directory.hr_unable(config))} to check that I am "
            "still a member of that channel."))
        return
    years = balance_years(ledger, user, today=today, asked=year)
    send_answer(client, ask, hr or user, balance_text(config, ledger, user=user, team=team, years=years, hr=hr))
