"""Balances per leave type: the selector over a realistic ledger, exact cases, and the text."""

from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from approvals.balances import balances_for, describe_balance, describe_balances
from approvals.config_types import HolidayConfig
from approvals.ledger_reader import Ledger, cached_ledger, read_ledger, record_adjustment
from approvals.rules import APPROVED, CANCELLED, PENDING, REJECTED, Adjustment, Balance, LedgerEntry
from approvals.work_calendar import working_days
from fake_slack.ledger_seed import (
    ENGINEERING,
    engineering_holidays,
    ledger_config,
    realistic_ledger,
    seed_realistic_ledger,
)
from fake_slack.personas import ALICE, CAROL, DAVE, HR
from approvals.slack_clients import background_client

TODAY = date.today()


def entry(id, start, end, *, status=APPROVED, leave_type="vacation", days, user=ALICE, start_half=None,
          end_half=None) -> LedgerEntry:
    return LedgerEntry(id=id, user=user, team="Engineering", leave_type=leave_type, start=start, end=end,
                       start_half=start_half, end_half=end_half, days=Decimal(days), status=status)


def adjustment(id, days, year, *, user=ALICE, leave_type="vacation") -> Adjustment:
    return Adjustment(id=id, user=user, leave_type=leave_type, days=Decimal(days), year=year, reason="carry-over",
                      by=HR)


def ledger_of(entries=(), adjustments=()) -> Ledger:
    return Ledger(entries={e.id: e for e in entries}, adjustments={a.id: a for a in adjustments})


def by_type(balances: list[Balance]) -> dict[str, Balance]:
    return {balance.leave_type: balance for balance in balances}


# --- Exact cases ---------------------------------------------------------------------------


def test_every_leave_type_in_display_order():
    config = ledger_config()

    balances = balances_for(config=config, ledger=ledger_of(), user=ALICE, team=ENGINEERING, year=2031)

    assert [b.leave_type for b in balances] == ["vacation", "sick", "medical"]
    assert balances[0] == Balance("vacation", 2031, Decimal(25), Decimal(0), Decimal(0), Decimal(0), Decimal(25))
    assert balances[1].allowance is None and balances[1].remaining is None


def test_allowance_plus_adjustments_minus_approved_and_pending():
    ledger = ledger_of(
        [
            entry("a", date(2031, 3, 10), date(2031, 3, 14), days=5),
            entry("p", date(2031, 6, 2), date(2031, 6, 3), status=PENDING, days="1.5", end_half="am"),
            entry("r", date(2031, 7, 7), date(2031, 7, 11), status=REJECTED, days=5),
            entry("c", date(2031, 8, 4), date(2031, 8, 8), status=CANCELLED, days=5),
            entry("other-year", date(2030, 3, 4), date(2030, 3, 8), days=5),
            entry("someone-else", date(2031, 3, 10), date(2031, 3, 14), days=5, user=DAVE),
            entry("sick", date(2031, 2, 3), date(2031, 2, 3), days=1, leave_type="sick"),
        ],
        [adjustment("carry", 3, 2031), adjustment("fix", "-0.5", 2031), adjustment("old", 9, 2030),
         adjustment("medical", 2, 2031, leave_type="medical")],
    )

    balances = by_type(balances_for(config=ledger_config(), ledger=ledger, user=ALICE, team=ENGINEERING, year=2031))

    assert balances["vacation"] == Balance("vacation", 2031, allowance=Decimal(25), adjustments=Decimal("2.5"),
                                           taken=Decimal(5), pending=Decimal("1.5"), remaining=Decimal(21))
    assert (balances["sick"].taken, balances["sick"].remaining) == (Decimal(1), None)
    assert balances["medical"].adjustments == Decimal(2)


def test_a_request_across_the_year_end_counts_on_the_teams_calendar():
    # Mon 30 Dec 2030 - Thu 2 Jan 2031: New Year's Day is a US holiday, and this team
    # also closes on 31 Dec. 2030 gets Monday; 2031 gets Thursday.
    config = ledger_config(holidays=(HolidayConfig(date(2030, 12, 31), "Company day", team="Engineering"),))
    ledger = ledger_of([entry("xmas", date(2030, 12, 30), date(2031, 1, 2), days=2)])

    for year, days in ((2030, Decimal(1)), (2031, Decimal(1))):
        balance = balances_for(config=config, ledger=ledger, user=ALICE, team=ENGINEERING, year=year)[0]
        assert balance.taken == days, year


def test_the_workweek_is_the_users_team():
    # A four-day week: Friday 3 Jan 2031 is not a working day, so 2031 gets only Thursday.
    team = replace(ENGINEERING, workweek=(0, 1, 2, 3), holiday_country=None, holiday_subdivision=None)
    ledger = ledger_of([entry("xmas", date(2030, 12, 30), date(2031, 1, 3), days=4)])

    balance = balances_for(config=ledger_config(), ledger=ledger, user=ALICE, team=team, year=2031)[0]

    assert balance.taken == Decimal(2)  # Wed 1 and Thu 2 Jan (no public holidays for this team)


# --- The realistic ledger, read back from the fake Slack -----------------------------------


def days_in_year(e: LedgerEntry, year: int, holidays) -> Decimal:
    """Computed here, independently of rules.py: the generator stores calendar-true day counts."""
    if e.start.year == e.end.year:
        return e.days if e.start.year == year else Decimal(0)
    first, last = max(e.start, date(year, 1, 1)), min(e.end, date(year, 12, 31))
    days = Decimal(len(working_days(first, last, range(5), holidays)))
    if e.start_half == "pm" and e.start.year == year:
        days -= Decimal("0.5")
    if e.end_half == "am" and e.end.year == year:
        days -= Decimal("0.5")
    return days


def expected_vacation(data, user: str, year: int) -> tuple[Decimal, Decimal, Decimal]:
    holidays = engineering_holidays(TODAY)
    taken = sum((days_in_year(e, year, holidays) for e in data.entries_of(user)
                 if e.leave_type == "vacation" and e.status == APPROVED), Decimal(0))
    pending = sum((days_in_year(e, year, holidays) for e in data.entries_of(user)
                   if e.leave_type == "vacation" and e.status == PENDING), Decimal(0))
    adjusted = sum((a.days for a in data.adjustments_of(user) if a.leave_type == "vacation" and a.year == year),
                   Decimal(0))
    return taken, pending, adjusted


@pytest.mark.django_db
def test_balances_over_the_realistic_ledger(fake_slack):
    data = seed_realistic_ledger(fake_slack.workspace, realistic_ledger(
        today=TODAY, holiday_dates=engineering_holidays(TODAY)))
    config = ledger_config()
    ledger = read_ledger(background_client(), config)
    checked_pending = checked_split = False

    for user in data.users:
        for year in (TODAY.year - 1, TODAY.year, TODAY.year + 1):
            vacation = balances_for(config=config, ledger=ledger, user=user, team=ENGINEERING, year=year)[0]
            taken, pending, adjusted = expected_vacation(data, user, year)
            assert (vacation.taken, vacation.pending, vacation.adjustments) == (taken, pending, adjusted), (user, year)
            assert vacation.remaining == 25 + adjusted - taken - pending
            assert vacation.remaining >= 0  # the generator stays within what validation allows
            checked_pending |= pending > 0
            checked_split |= any(e.start.year < e.end.year for e in data.entries_of(user))
    assert checked_pending and checked_split


@pytest.mark.django_db
def test_an_adjustment_shows_in_the_balance_at_once(fake_slack):
    data = seed_realistic_ledger(fake_slack.workspace, realistic_ledger(
        today=TODAY, holiday_dates=engineering_holidays(TODAY)))
    config = ledger_config()

    before = balances_for(config=config, ledger=read_ledger(background_client(), config), user=DAVE,
                          team=ENGINEERING, year=TODAY.year)[0]
    record_adjustment(adjustment("hr-fix", "-1.5", TODAY.year, user=DAVE))
    after = balances_for(config=config, ledger=cached_ledger(config), user=DAVE, team=ENGINEERING,
                         year=TODAY.year)[0]

    assert after.adjustments == before.adjustments - Decimal("1.5")
    assert after.remaining == before.remaining - Decimal("1.5")
    assert data.entries_of(DAVE)  # a person with history, not an empty ledger


# --- The text -----------------------------------------------------------------------------


def test_describe_a_limited_type():
    balance = Balance("vacation", 2031, Decimal(25), Decimal(3), Decimal(15), Decimal("3.5"), Decimal("9.5"))

    assert describe_balance(balance, name="Vacation") == (
        "Vacation: *9.5 days left* — allowance 25, adjustments +3, taken 15, pending 3.5")


def test_describe_an_overdrawn_type_and_an_unlimited_one():
    over = Balance("vacation", 2031, Decimal(25), Decimal("-2"), Decimal(24), Decimal(0), Decimal(-1))
    unlimited = Balance("sick", 2031, None, Decimal(0), Decimal("2.5"), Decimal(0), None)

    assert describe_balance(over, name="Vacation") == (
        "Vacation: *1 day over the allowance* — allowance 25, adjustments -2, taken 24, pending 0")
    assert describe_balance(unlimited, name="Sick leave") == "Sick leave: no yearly limit — taken 2.5, pending 0"


def test_describe_balances_names_the_year_team_and_types():
    config = ledger_config()
    balances = balances_for(config=config, ledger=ledger_of(), user=CAROL, team=ENGINEERING, year=2031)

    text = describe_balances(config=config, balances=balances, team=ENGINEERING, year=2031)

    assert text.splitlines() == [
        "*Your leave in 2031* (Engineering):",
        "• :palm_tree: Vacation: *25 days left* — allowance 25, taken 0, pending 0",
        "• :face_with_thermometer: Sick leave: no yearly limit — taken 0, pending 0",
        "• :hospital: Medical appointment: no yearly limit — taken 0, pending 0",
    ]


def test_entries_of_unconfigured_types_are_ignored():
    ledger = ledger_of([entry("old", date(2031, 3, 3), date(2031, 3, 3), days=1, leave_type="sabbatical")])

    balances = balances_for(config=ledger_config(), ledger=ledger, user=ALICE, team=ENGINEERING, year=2031)

    assert [b.leave_type for b in balances] == ["vacation", "sick", "medical"]
    assert all(b.taken == 0 for b in balances)
