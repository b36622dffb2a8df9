"""HR hears of a removed team's requests that wait: no team's nudges name them (the team is gone from the
configuration), and they are HR's to decide. The daily ledger watch, which reads every approvals channel
in full, DMs each fallback approver once a day about those waiting more than 48 hours."""

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from approvals.jobs import REMOVED_TEAM_NUDGE_HOURS
from approvals.rules import LedgerEntry
from test_support.flows import ALICE, BOB, HR, dms_to, install_config, standard_config
from test_support.job_runs import post_entry, run_jobs

pytestmark = pytest.mark.django_db

MONDAY = date(2031, 3, 10)
WATCH = datetime(2031, 3, 10, 2, 30, tzinfo=timezone.utc)  # after LEDGER_EXPORT_TIME (02:00 UTC)


def design_request(user=ALICE, *, hours_before: float) -> LedgerEntry:
    """A pending request of Design, a team since removed, posted `hours_before` the watch runs."""
    return LedgerEntry(id=f"design-{user}-{hours_before}", user=user, team="Design", leave_type="vacation",
                       start=date(2031, 4, 1), end=date(2031, 4, 2), start_half=None, end_half=None, days=Decimal(2),
                       status="pending")


def post(fake_slack, record: LedgerEntry, hours_before: float) -> None:
    post_entry(fake_slack, record, ts=f"{(WATCH - timedelta(hours=hours_before)).timestamp():.6f}")


def told_of_removed_teams(fake_slack, user=HR) -> list[str]:
    return [text for text in dms_to(fake_slack, user) if "a team no longer in the configuration" in text]


def test_hr_is_told_once_a_day_of_a_removed_teams_request_that_has_waited_two_days(fake_slack):
    install_config(standard_config(fallback_approvers=(HR,)))
    post(fake_slack, design_request(hours_before=72), 72)

    run_jobs(WATCH)
    run_jobs(WATCH + timedelta(hours=3))  # the same day: told once

    [told] = told_of_removed_teams(fake_slack)
    assert "These requests of Design, a team no longer in the configuration" in told
    assert f"<@{ALICE}>" in told and "HR's to decide now" in told
    assert dms_to(fake_slack, BOB) == []  # another team's approvers are not asked

    run_jobs(WATCH + timedelta(days=1))  # still waiting the next day: told again
    assert len(told_of_removed_teams(fake_slack)) == 2


def test_a_request_younger_than_two_days_or_hrs_own_is_not_named(fake_slack):
    install_config(standard_config(fallback_approvers=(HR,)))
    post(fake_slack, design_request(hours_before=REMOVED_TEAM_NUDGE_HOURS - 1), REMOVED_TEAM_NUDGE_HOURS - 1)
    post(fake_slack, design_request(HR, hours_before=72), 72)  # HR's own: never asked to decide it

    run_jobs(WATCH)

    assert told_of_removed_teams(fake_slack) == []
