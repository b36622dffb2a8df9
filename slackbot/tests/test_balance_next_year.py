"""Balances show next year too once someone has leave in it: in December, January's leave is what people
plan, and "Your leave in 2026" alone would not tell them what is left for it. `/timeoff balance` and App
Home, against the fake Slack's ledger; a year asked for is shown alone."""

import json
from datetime import date, timedelta
from decimal import Decimal

import pytest

from approvals import selectors
from approvals.rules import Adjustment, LedgerEntry
from approvals.selectors import local_today
from fake_slack.ledger_seed import seed_ledger
from fake_slack.personas import ALICE, BOB, C_ENG_APPROVALS
from test_support.flows import install_config, open_app_home
from test_support.slack_requests import post_command

pytestmark = pytest.mark.django_db

THIS_YEAR = local_today("America/Los_Angeles").year  # Alice's time zone
NEXT_YEAR = THIS_YEAR + 1


def vacation(entry_id: str, start: date, end: date, status: str = "approved", days: int = 3) -> LedgerEntry:
    return LedgerEntry(id=entry_id, user=ALICE, team="Engineering", leave_type="vacation", start=start, end=end,
                       start_half=None, end_half=None, days=Decimal(days), status=status,
                       decided_by=BOB if status == "approved" else None)


def a_monday_in(year: int, month: int) -> date:
    day = date(year, month, 1)
    return day + timedelta(days=(7 - day.weekday()) % 7)


def ledger(fake_slack, *entries, adjustments=()) -> None:
    install_config()
    seed_ledger(fake_slack.workspace, channel=C_ENG_APPROVALS, entries=entries, adjustments=adjustments)


def balance(client, text: str = "balance") -> str:
    """The warm answer: the first ask reads the ledger (here at once: the tests' immediate task backend)."""
    post_command(client, text, user_id=ALICE)
    response = post_command(client, text, user_id=ALICE)
    assert response.status_code == 200, response.content
    return response.json()["text"]


def test_leave_pending_next_year_shows_next_years_balance_after_this_years(client, fake_slack):
    monday = a_monday_in(NEXT_YEAR, 2)
    ledger(fake_slack, vacation("next-feb", monday, monday + timedelta(days=2), status="pending"))

    text = balance(client)

    this, following = f"*Your leave in {THIS_YEAR}* (Engineering):", f"*Your leave in {NEXT_YEAR}* (Engineering):"
    assert text.index(this) < text.index(following)
    assert text.split(following)[1].splitlines()[1] == (
        "• :palm_tree: Vacation: *22 days left* — allowance 25, taken 0, pending 3")


def test_only_this_year_without_leave_next_year(client, fake_slack):
    monday = a_monday_in(NEXT_YEAR + 2, 3)  # far ahead: not next year
    ledger(fake_slack, vacation("far", monday, monday + timedelta(days=2)),
           vacation("rejected", a_monday_in(NEXT_YEAR, 3), a_monday_in(NEXT_YEAR, 3), status="rejected", days=1))

    text = balance(client)

    assert f"*Your leave in {THIS_YEAR}*" in text
    assert str(NEXT_YEAR) not in text


def test_leave_across_the_year_end_shows_next_year(client, fake_slack):
    ledger(fake_slack, vacation("new-year", date(THIS_YEAR, 12, 29), date(NEXT_YEAR, 1, 2), days=4))

    assert f"*Your leave in {NEXT_YEAR}*" in balance(client)


def test_an_adjustment_for_next_year_shows_it(client, fake_slack):
    ledger(fake_slack, adjustments=[Adjustment(id="carry", user=ALICE, leave_type="vacation", days=Decimal(5),
                                               year=NEXT_YEAR, reason="carry-over", by="hannah")])

    text = balance(client)

    assert text.split(f"*Your leave in {NEXT_YEAR}* (Engineering):")[1].splitlines()[1] == (
        "• :palm_tree: Vacation: *30 days left* — allowance 25, adjustments +5, taken 0, pending 0")


def test_a_year_asked_for_is_shown_alone(client, fake_slack):
    ledger(fake_slack, vacation("next-feb", a_monday_in(NEXT_YEAR, 2), a_monday_in(NEXT_YEAR, 2), days=1))

    assert str(NEXT_YEAR) not in balance(client, f"balance {THIS_YEAR}")
    assert balance(client, f"balance {NEXT_YEAR}").startswith(f"*Your leave in {NEXT_YEAR}*")


def test_app_home_shows_next_years_balance_too(client, fake_slack):
    ledger(fake_slack, vacation("next-feb", a_monday_in(NEXT_YEAR, 2), a_monday_in(NEXT_YEAR, 2), days=1))

    text = json.dumps(open_app_home(client, fake_slack, ALICE, "Ev_NEXT_YEAR"))

    assert f"Your leave in {THIS_YEAR}" in text and f"Your leave in {NEXT_YEAR}" in text


def test_a_second_year_past_the_answers_room_is_pointed_to(client, fake_slack, monkeypatch):
    ledger(fake_slack, vacation("next-feb", a_monday_in(NEXT_YEAR, 2), a_monday_in(NEXT_YEAR, 2), days=1))
    monkeypatch.setattr(selectors, "BALANCES_TEXT_MAX", 400)  # room for one year's three types, not two

    text = balance(client)

    assert text.startswith(f"*Your leave in {THIS_YEAR}*")
    assert text.endswith(f"*Your leave in {NEXT_YEAR}*: `/timeoff balance {NEXT_YEAR}` shows it.")
