"""`/timeoff balance [YEAR]`: each leave type's allowance, taken, pending and remaining days.

Answered from the cache when it can be; otherwise the service reads Slack in
the background and DMs the answer (DESIGN §3, §5).
"""

from datetime import date

from approvals.balance_services import balance_request
from approvals.config_store import current_config
from slackbot.payloads import SlashCommand
from slackbot.responses import SlackResponse, ephemeral

MAX_YEARS_AWAY = 10
USAGE_TEXT = "Use `/timeoff balance` for this year, or `/timeoff balance 2027` for another year."


def command_balance(command: SlashCommand) -> SlackResponse:
    config = current_config()
    if not config.leave_types or not config.teams:
        return ephemeral("Time off isn't set up yet: HR has not configured any teams or leave types.")
    year = requested_year(command.words[1:])
    if year is False:
        return ephemeral(USAGE_TEXT)
    return ephemeral(balance_request(command.user_id, year))


def requested_year(words: list[str]) -> int | None | bool:
    """None: this year (in the requester's time zone); False: not understood."""
    if not words:
        return None
    if len(words) == 1 and words[0].isascii() and words[0].isdigit():
        year = int(words[0])
        if abs(year - date.today().year) <= MAX_YEARS_AWAY:
            return year
    return False
