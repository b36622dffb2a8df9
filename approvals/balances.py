"""Selectors for leave balances: a person's allowance, taken, pending and remaining days per type.

The arithmetic is `rules.balance_for` (DESIGN §7); this module picks the
calendar it needs (the team's workweek and holidays around the year, since a
request across a year end is split on working days) and renders the result.
Nothing here calls Slack: the caller passes a ledger it already has.
"""

from decimal import Decimal
from typing import TYPE_CHECKING

from approvals.block_kit import escape
from approvals.config_types import TeamConfig, WorkspaceConfig
from approvals.rules import Balance, balance_for, format_days, format_number
from approvals.work_calendar import team_holidays

if TYPE_CHECKING:  # the type only: the rules stay free of the cache the ledger lives in
    from approvals.ledger_reader import Ledger


def balances_for(*, config: WorkspaceConfig, ledger: "Ledger", user: str, team: TeamConfig, year: int) -> list[Balance]:
    """The user's balance of every leave type in `year`, in the configuration's display order.

    Counted on the calendar of `team` (the user's team now), whatever team each
    entry was recorded under: entries are the person's, not the team's.
    """
    entries = ledger.for_user(user)
    adjustments = ledger.adjustments_for(user)
    # An entry counted in `year` may start the year before or end the year after.
    holidays = team_holidays(team, config.holidays_for(team.name), range(year - 1, year + 2))
    return [
        balance_for(user, leave_type, year, entries=entries, adjustments=adjustments, workweek=team.workweek,
                    holiday_dates=holidays)
        for leave_type in config.leave_types
    ]


def describe_balance(balance: Balance, *, name: str) -> str:
    """One line: "Vacation: *9.5 days left* — allowance 25, adjustments +3, taken 15, pending 3.5"."""
    parts = [] if balance.allowance is None else [f"allowance {format_number(balance.allowance)}"]
    if balance.adjustments:
        parts.append(f"adjustments {_signed(balance.adjustments)}")
    parts += [f"taken {format_number(balance.taken)}", f"pending {format_number(balance.pending)}"]
    if balance.remaining is None:
        headline = "no yearly limit"
    elif balance.remaining >= 0:
        headline = f"*{format_days(balance.remaining)} left*"
    else:
        headline = f"*{format_days(-balance.remaining)} over the allowance*"
    return f"{name}: {headline} — {', '.join(parts)}"


# The answer is one message's text, a line per leave type of up to about 600 characters (the longest label
# HR may type, escaped): 120 such types made 72,000, and Slack refuses a text over 40,000 (msg_too_long;
# it advises 4,000). Types past this many characters are counted, not listed; App Home shows as much.
BALANCES_TEXT_MAX = 12000


def describe_balances(*, config: WorkspaceConfig, balances: list[Balance], team: TeamConfig, year: int,
                      owner: str = "Your") -> str:
    """The whole answer to `/timeoff balance`, as Slack mrkdwn: every type's line that fits in
    BALANCES_TEXT_MAX characters, and how many more types there are. `owner`: whose ("<@U1>'s" for HR)."""
    lines = [f"*{owner} leave in {year}* ({escape(team.name)}):"]
    used = len(lines[0])
    for index, balance in enumerate(balances):
        leave_type = config.leave_type(balance.leave_type)
        name = escape(leave_type.label if leave_type else balance.leave_type)
        line = f"• {describe_balance(balance, name=name)}"
        # Room for this line, and for the count of the rest after it unless it is the last.
        after = 0 if index == len(balances) - 1 else len(f"\n…and {len(balances) - index - 1} more leave types.")
        if used + 1 + len(line) + after > BALANCES_TEXT_MAX:
            lines.append(f"…and {len(balances) - index} more leave types.")
            break
        lines.append(line)
        used += len(line) + 1
    return "\n".join(lines)


def _signed(days: Decimal) -> str:
    return f"{'+' if days > 0 else '-'}{format_number(abs(days))}"
