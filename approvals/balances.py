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


def describe_balances(*, config: WorkspaceConfig, balances: list[Balance], team: TeamConfig, year: int) -> str:
    """The whole answer to `/timeoff balance`, as Slack mrkdwn."""
    lines = [f"*Your leave in {year}* ({escape(team.name)}):"]
    for balance in balances:
        leave_type = config.leave_type(balance.leave_type)
        name = escape(leave_type.label if leave_type else balance.leave_type)
        lines.append(f"• {describe_balance(balance, name=name)}")
    return "\n".join(lines)


def _signed(days: Decimal) -> str:
    return f"{'+' if days > 0 else '-'}{format_number(abs(days))}"
