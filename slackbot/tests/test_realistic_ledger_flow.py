"""The request modal validated against a ledger of realistic size.

400 requests by 20 people over two years, in the current and a past approvals
channel, several history pages each (fake_slack.ledger_seed). The expected
numbers come from the seeded data (test_balance_command's helpers), not from
the rules under test.
"""

from datetime import date, timedelta
from decimal import Decimal

import pytest

from approvals.config_store import invalidate_config
from approvals.rules import ACTIVE_STATUSES, APPROVED, PENDING, format_day
from fake_slack.ledger_seed import ledger_config, realistic_ledger, seed_realistic_ledger, engineering_holidays
from fake_slack.personas import ALICE, C_ENG, C_ENG_APPROVALS, C_OLD_APPROVALS
from approvals import block_ids as ids
from test_support.flows import (
    install_config,
    open_request_form,
    posted_requests,
    request_values,
    submit_request,
)
from slackbot.tests.test_balance_command import days_in, number
from approvals.selectors import local_today

pytestmark = pytest.mark.django_db

TODAY = date.today()


@pytest.fixture
def seeded(fake_slack):
    invalidate_config()
    install_config(ledger_config())
    data = realistic_ledger(today=TODAY, holiday_dates=engineering_holidays(TODAY))
    return seed_realistic_ledger(fake_slack.workspace, data, members_channel=C_ENG)


def remaining_vacation(data, user: str, year: int) -> Decimal:
    entries = data.entries_of(user)
    used = sum((days_in(e, year) for e in entries if e.leave_type == "vacation" and e.status in ACTIVE_STATUSES),
               Decimal(0))
    adjusted = sum((a.days for a in data.adjustments_of(user) if a.leave_type == "vacation" and a.year == year),
                   Decimal(0))
    return Decimal(25) + adjusted - used


def test_opening_the_form_reads_both_channels_page_by_page(client, fake_slack, seeded):
    open_request_form(client, fake_slack, ALICE)
    reads = fake_slack.calls("conversations.history")
    assert {call.params["channel"] for call in reads} == {C_ENG_APPROVALS, C_OLD_APPROVALS}
    assert len(reads) >= 4 and any(call.params.get("cursor") for call in reads)


def test_overlap_with_leave_deep_in_history_is_refused(client, fake_slack, seeded):
    active = [e for e in seeded.entries_of(ALICE) if e.status in (APPROVED, PENDING) and e.start > TODAY]
    if not active:
        active = [e for e in seeded.entries_of(ALICE) if e.status in (APPROVED, PENDING)]
    target = active[0]
    view = open_request_form(client, fake_slack, ALICE)
    body = submit_request(client, ALICE, view, request_values(target.leave_type, target.start, target.end)).json()
    assert body["response_action"] == "errors"
    message = body["errors"][ids.START_BLOCK]
    assert message.startswith(f"This overlaps your {target.status} leave on")
    assert posted_requests(fake_slack) == []


def test_the_allowance_counts_the_whole_history(client, fake_slack, seeded):
    # No limit on consecutive days here, so a long request meets the allowance rule.
    from dataclasses import replace

    from fake_slack.ledger_seed import MEDICAL, SICK, VACATION

    install_config(ledger_config(leave_types=(replace(VACATION, max_consecutive_days=None), SICK, MEDICAL)))
    year = local_today("America/Los_Angeles").year + 1
    left = remaining_vacation(seeded, ALICE, year)
    # Ask for more than is left next year, in a stretch with no other leave of Alice's.
    start = date(year, 9, 1)
    while start.weekday() != 0:
        start += timedelta(days=1)
    working = []
    day = start
    while len(working) < int(left) + 1:
        if day.weekday() < 5 and day not in engineering_holidays(TODAY):
            working.append(day)
        day += timedelta(days=1)
    view = open_request_form(client, fake_slack, ALICE)
    body = submit_request(client, ALICE, view, request_values("vacation", working[0], working[-1])).json()
    assert body["errors"][ids.END_BLOCK] == (
        f"You have {number(left)} days of Vacation left in {year}; this request needs {len(working)}"
    )


def test_a_valid_request_shows_the_balance_after_it(client, fake_slack, seeded):
    year = local_today("America/Los_Angeles").year + 1
    left = remaining_vacation(seeded, ALICE, year)
    start = date(year, 10, 5)
    while start.weekday() != 0:
        start += timedelta(days=1)
    end = start + timedelta(days=1)  # two working days
    view = open_request_form(client, fake_slack, ALICE)
    response = submit_request(client, ALICE, view, request_values("vacation", start, end))
    assert response.content == b"", response.content
    [posted] = posted_requests(fake_slack)
    rendered = str(posted.params["blocks"])
    assert f"After this request: {number(left - 2)} of " in rendered
    # Next year's dates, with their year.
    assert f"{format_day(start, with_year=True)} – {format_day(end, with_year=True)}" in posted.params["text"]
