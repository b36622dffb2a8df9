"""`/timeoff balance` against the fake Slack and a realistic ledger (400 requests, two channels).

Warm: answered from the cache, with no Slack call. Cold: a task reads Slack and
DMs the answer. The expected numbers are computed here from the seeded data,
not with rules.py.
"""

from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

import pytest

from approvals import directory, ledger_reader
from approvals.config_store import invalidate_config
from approvals.ledger_reader import pending_add, read_ledger
from approvals.rules import APPROVED, PENDING, LedgerEntry
from approvals.work_calendar import working_days
from fake_slack.ledger_seed import (
    ENGINEERING,
    engineering_holidays,
    ledger_config,
    realistic_ledger,
    seed_realistic_ledger,
)
from fake_slack.personas import ALICE, C_ENG, C_ENG_APPROVALS, C_NOBOT, C_OLD_APPROVALS, CAROL, DAVE, HR
from approvals.balance_services import CHECKING_TEXT
from approvals.slack_clients import background_client
from test_support.flows import dms_to, install_config
from test_support.slack_requests import post_command
from approvals.selectors import local_today

pytestmark = pytest.mark.django_db

TODAY = date.today()
NAMES = {"vacation": ":palm_tree: Vacation", "sick": ":face_with_thermometer: Sick leave",
         "medical": ":hospital: Medical appointment"}
ALLOWANCE = {"vacation": Decimal(25), "sick": None, "medical": None}


@pytest.fixture
def seeded(fake_slack):
    invalidate_config()
    install_config(ledger_config())
    data = realistic_ledger(today=TODAY, holiday_dates=engineering_holidays(TODAY))
    return seed_realistic_ledger(fake_slack.workspace, data, members_channel=C_ENG)


def warm_caches(*users):
    """What opening the form (or an earlier balance) leaves in the cache."""
    client = background_client()
    read_ledger(client, ledger_config())
    directory.fetch_channel_members(client, C_ENG)
    for user in users:
        directory.fetch_timezone(client, user)


def ask_balance(client, user: str, text: str = "balance"):
    response = post_command(client, text, user_id=user)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["response_type"] == "ephemeral"
    return body["text"]


# --- The expected answer, computed from the seeded data ------------------------------------


def days_in(entry: LedgerEntry, year: int) -> Decimal:
    if entry.start.year == entry.end.year:
        return entry.days if entry.start.year == year else Decimal(0)
    first, last = max(entry.start, date(year, 1, 1)), min(entry.end, date(year, 12, 31))
    days = Decimal(len(working_days(first, last, range(5), engineering_holidays(TODAY))))
    days -= Decimal("0.5") * ((entry.start_half == "pm" and entry.start.year == year)
                              + (entry.end_half == "am" and entry.end.year == year))
    return days


def number(value: Decimal) -> str:
    return "0" if value == 0 else format(value.normalize(), "f")


def expected_answer(data, user: str, year: int, extra_entries=()) -> str:
    entries = [*data.entries_of(user), *extra_entries]
    lines = [f"*Your leave in {year}* (Engineering):"]
    for code, name in NAMES.items():
        taken = sum((days_in(e, year) for e in entries if e.leave_type == code and e.status == APPROVED), Decimal(0))
        pending = sum((days_in(e, year) for e in entries if e.leave_type == code and e.status == PENDING), Decimal(0))
        adjusted = sum((a.days for a in data.adjustments_of(user) if a.leave_type == code and a.year == year),
                       Decimal(0))
        parts = [] if ALLOWANCE[code] is None else [f"allowance {ALLOWANCE[code]}"]
        if adjusted:
            parts.append(f"adjustments {'+' if adjusted > 0 else '-'}{number(abs(adjusted))}")
        parts += [f"taken {number(taken)}", f"pending {number(pending)}"]
        if ALLOWANCE[code] is None:
            headline = "no yearly limit"
        else:
            left = ALLOWANCE[code] + adjusted - taken - pending
            headline = f"*{number(left)} {'day' if left == 1 else 'days'} left*"
        lines.append(f"• {name}: {headline} — {', '.join(parts)}")
    return "\n".join(lines)


def expected_default_answer(data, user: str, year: int, extra_entries=()) -> str:
    """`/timeoff balance` with no year: this year's, and the next year's too once they have leave asked for
    or approved in it (or an adjustment for it)."""
    entries = [*data.entries_of(user), *extra_entries]
    following = year + 1
    booked = (any(e.status in (APPROVED, PENDING) and e.start <= date(following, 12, 31) and e.end >= date(following, 1, 1)
                  for e in entries)
              or any(a.year == following for a in data.adjustments_of(user)))
    years = [year, following] if booked else [year]
    return "\n".join(expected_answer(data, user, y, extra_entries) for y in years)


# --- Warm: from the cache, no Slack call ----------------------------------------------------


def test_it_answers_from_the_cache_with_the_right_numbers(client, fake_slack, seeded):
    warm_caches(ALICE, DAVE)
    fake_slack.clear_calls()

    for user in (ALICE, DAVE):
        year = local_today("America/Los_Angeles" if user == ALICE else "America/New_York").year
        assert ask_balance(client, user) == expected_default_answer(seeded, user, year)

    assert fake_slack.calls() == []  # endpoints never wait on Slack (issue 5)


def test_the_numbers_are_not_trivial(seeded):
    # The realistic ledger gives Alice approved and pending vacation, a request across the
    # year end and history in both channels, so the answers above exercise all of them.
    year = local_today("America/Los_Angeles").year
    alice = seeded.entries_of(ALICE)
    assert any(e.status == APPROVED and e.leave_type == "vacation" and days_in(e, year) for e in alice)
    assert any(e.status == PENDING and e.leave_type == "vacation" and (days_in(e, year) or e.start.year == year + 1)
               for e in alice)  # next year's only on the last working day of the year
    assert any(e.start.year < e.end.year for e in alice)
    assert any(a.leave_type == "vacation" and a.year == year for a in seeded.adjustments_of(ALICE))
    assert {seeded.channel_of[e.id] for e in alice} == {C_ENG_APPROVALS, C_OLD_APPROVALS}


def test_a_submission_still_in_flight_counts_as_pending(client, fake_slack, seeded):
    warm_caches(ALICE)
    year = local_today("America/Los_Angeles").year
    start = TODAY + timedelta(days=1)
    while start.weekday() > 4:
        start += timedelta(days=1)
    in_flight = LedgerEntry(id="in-flight", user=ALICE, team="Engineering", leave_type="medical", start=start,
                            end=start, start_half=None, end_half=None, days=Decimal(1), status=PENDING)
    pending_add(in_flight)

    expected = expected_default_answer(seeded, ALICE, year, extra_entries=[in_flight])
    assert ask_balance(client, ALICE) == expected
    if start.year == year:  # not on the last day of the year
        assert expected_answer(seeded, ALICE, year, extra_entries=[in_flight]) != expected_answer(seeded, ALICE, year)


def test_another_year_can_be_asked_for(client, fake_slack, seeded):
    warm_caches(ALICE)
    last_year = TODAY.year - 1

    assert ask_balance(client, ALICE, f"balance {last_year}") == expected_answer(seeded, ALICE, last_year)
    for text in ("balance next-year", "balance 2026 2027", "balance 0000", "balance 99999", "balance ２０２６",
                 "balance ²⁰²⁷"):  # only ASCII digits: int() refuses superscripts that isdigit() accepts
        assert ask_balance(client, ALICE, text) == (
            "Use `/timeoff balance` for this year, or `/timeoff balance 2027` for another year."), text


def test_a_truncated_ledger_says_numbers_may_be_missing(client, fake_slack, seeded, monkeypatch):
    monkeypatch.setattr(ledger_reader, "MAX_PAGES_PER_CHANNEL", 1)
    warm_caches(ALICE)

    assert "the oldest requests may be missing" in ask_balance(client, ALICE)


def test_without_a_cached_time_zone_the_year_is_utcs(client, fake_slack, seeded):
    read_ledger(background_client(), ledger_config())
    directory.fetch_channel_members(background_client(), C_ENG)
    fake_slack.clear_calls()

    assert ask_balance(client, ALICE) == expected_default_answer(seeded, ALICE, local_today("UTC").year)
    assert fake_slack.calls() == []


# --- Cold: a task reads Slack and DMs the answer ------------------------------------------


def test_a_cold_ledger_is_read_in_the_background_and_dmed(client, fake_slack, seeded):
    directory.fetch_channel_members(background_client(), C_ENG)
    fake_slack.clear_calls()

    assert ask_balance(client, ALICE) == CHECKING_TEXT

    # The immediate task backend ran the task inside the test request; in production a worker does.
    channels = {call.params["channel"] for call in fake_slack.calls("conversations.history")}
    assert channels == {C_ENG_APPROVALS, C_OLD_APPROVALS}
    year = local_today("America/Los_Angeles").year
    assert dms_to(fake_slack, ALICE) == [expected_default_answer(seeded, ALICE, year)]
    # Warm now: the next ask is answered at once.
    assert ask_balance(client, ALICE).startswith("*Your leave in")


def test_cold_memberships_are_read_in_the_background(client, fake_slack, seeded):
    assert ask_balance(client, DAVE) == CHECKING_TEXT

    assert C_ENG in {call.params["channel"] for call in fake_slack.calls("conversations.members")}
    year = local_today("America/New_York").year
    assert dms_to(fake_slack, DAVE) == [expected_default_answer(seeded, DAVE, year)]


# --- No team, no history, no configuration -----------------------------------------------


def test_someone_in_no_team_is_told_so(client, fake_slack, seeded):
    warm_caches()
    fake_slack.clear_calls()

    text = ask_balance(client, CAROL)

    assert text == (f"No team is configured for you, so you have no leave balance here yet; "
                    f"ask <@{HR}> to add you to a team.")
    assert fake_slack.calls() == []


def test_someone_in_no_team_is_told_so_by_dm_when_the_cache_is_cold(client, fake_slack, seeded):
    assert ask_balance(client, CAROL) == CHECKING_TEXT

    assert dms_to(fake_slack, CAROL) == [
        f"No team is configured for you, so you have no leave balance here yet; ask <@{HR}> to add you to a team."]


@pytest.mark.parametrize(
    ("team_changes", "channel", "error"),
    [
        ({"past_approvals_channels": (C_OLD_APPROVALS, "C_DELETED")}, "C_DELETED", "channel_not_found"),
        ({"approvals_channel": C_NOBOT}, C_NOBOT, "not_in_channel"),
    ],
)
def test_unreadable_history_is_explained_by_dm(client, fake_slack, seeded, team_changes, channel, error):
    install_config(ledger_config(teams=(replace(ENGINEERING, **team_changes),)))

    assert ask_balance(client, ALICE) == CHECKING_TEXT

    assert dms_to(fake_slack, ALICE) == [
        f"Sorry, I can't work out your balance right now: I cannot read the history of <#{channel}> ({error}) — "
        f"the leave records live there. Please ask <@{HR}> to check that I am still a member of that channel."
    ]


def test_before_any_configuration_it_says_so(client, fake_slack):
    invalidate_config()

    assert ask_balance(client, ALICE) == "Time off isn't set up yet: HR has not configured any teams or leave types."
    assert fake_slack.calls() == []
