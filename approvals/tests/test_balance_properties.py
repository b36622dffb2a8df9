"""Properties of balances (DESIGN §7), checked with hypothesis: no database, `today` never needed."""

from datetime import date, timedelta
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from approvals.config_types import LeaveTypeConfig, TeamConfig
from approvals.rules import (
    APPROVED,
    CANCELLED,
    FIELD_END,
    PENDING,
    REJECTED,
    Adjustment,
    LeaveRequest,
    LedgerEntry,
    balance_for,
    days_by_year,
    request_days,
    validate_request,
)

WORKWEEK = (0, 1, 2, 3, 4)
HOLIDAYS = frozenset({date(2026, 12, 25), date(2027, 1, 1), date(2027, 12, 24)})
VACATION = LeaveTypeConfig(code="vacation", name="Vacation", annual_allowance_days=Decimal(25), allow_half_days=True)
TEAM = TeamConfig(name="Engineering", approvals_channel="C_APPROVALS")

days = st.dates(min_value=date(2026, 11, 1), max_value=date(2027, 12, 20))
halves = st.sampled_from([None, "am", "pm"])


@st.composite
def entries(draw, *, user=st.sampled_from(["U_ALICE", "U_BOB"]),
            status=st.sampled_from([PENDING, APPROVED, REJECTED, CANCELLED])):
    start = draw(days)
    end = start + timedelta(days=draw(st.integers(0, 20)))
    request = LeaveRequest(draw(user), "vacation", start, end)
    return LedgerEntry(
        id=f"r{draw(st.integers(0, 10**9))}", user=request.user, team="Engineering", leave_type="vacation",
        start=start, end=end, start_half=None, end_half=None,
        days=request_days(request, WORKWEEK, HOLIDAYS), status=draw(status),
    )


adjustments = st.builds(
    Adjustment, id=st.uuids().map(str), user=st.sampled_from(["U_ALICE", "U_BOB"]), leave_type=st.just("vacation"),
    days=st.integers(-20, 20).map(lambda halves: Decimal(halves) / 2), year=st.sampled_from([2026, 2027]),
    reason=st.just("carry-over"), by=st.just("hr"),
)


def balance(year, ledger, adjusted=()):
    return balance_for("U_ALICE", VACATION, year, entries=ledger, adjustments=adjusted, workweek=WORKWEEK,
                       holiday_dates=HOLIDAYS)


@given(st.lists(entries(), max_size=15), st.lists(adjustments, max_size=5), st.sampled_from([2026, 2027]))
def test_remaining_is_allowance_plus_adjustments_minus_taken_and_pending(ledger, adjusted, year):
    result = balance(year, ledger, adjusted)
    assert result.remaining == result.allowance + result.adjustments - result.taken - result.pending
    assert result.adjustments == sum((a.days for a in adjusted if a.user == "U_ALICE" and a.year == year),
                                     Decimal(0))


@given(st.lists(entries(), max_size=15), entries(user=st.just("U_ALICE"), status=st.just(APPROVED)))
def test_approved_leave_takes_exactly_its_days_in_each_year(ledger, entry):
    for year in (2026, 2027):
        before, after = balance(year, ledger), balance(year, [*ledger, entry])
        request = LeaveRequest(entry.user, entry.leave_type, entry.start, entry.end)
        assert before.remaining - after.remaining == days_by_year(request, WORKWEEK, HOLIDAYS).get(year, 0)
        assert after.pending == before.pending


@given(st.lists(entries(), max_size=15),
       entries(status=st.sampled_from([REJECTED, CANCELLED])),
       entries(user=st.just("U_BOB"), status=st.sampled_from([PENDING, APPROVED])))
def test_rejected_cancelled_and_other_peoples_leave_change_nothing(ledger, inactive, someone_else):
    for year in (2026, 2027):
        assert balance(year, [*ledger, inactive, someone_else]) == balance(year, ledger)


@given(entries(user=st.just("U_ALICE"), status=st.sampled_from([PENDING, APPROVED])))
def test_a_request_across_the_year_end_is_split_without_loss(entry):
    years = [balance(year, [entry]) for year in range(entry.start.year, entry.end.year + 1)]
    assert sum((b.taken + b.pending for b in years), Decimal(0)) == entry.days


@given(st.lists(entries(user=st.just("U_ALICE"), status=st.just(APPROVED)), max_size=8),
       st.lists(adjustments, max_size=3), entries(user=st.just("U_ALICE"), status=st.just(PENDING)))
def test_the_allowance_rule_refuses_exactly_when_a_year_would_go_below_zero(ledger, adjusted, new):
    # Keep the ledger free of overlaps with the new request: only the allowance rule is in play.
    ledger = [e for e in ledger if e.end < new.start or e.start > new.end]
    request = LeaveRequest("U_ALICE", "vacation", new.start, new.end)
    violations = validate_request(request, leave_type=VACATION, team=TEAM, holiday_dates=HOLIDAYS, blackouts=(),
                                  today=date(2026, 1, 1), ledger=ledger, adjustments=adjusted)
    over = [v for v in violations if v.field == FIELD_END and "left in" in v.message]
    needed = days_by_year(request, WORKWEEK, HOLIDAYS)
    short_years = [y for y, n in needed.items() if n > 0 and n > balance(y, ledger, adjusted).remaining]
    # One message names every year short (rules._allowance_violations), and only those.
    assert len(over) == (1 if short_years else 0)
    for year in needed:
        assert (f"left in {year};" in over[0].message if over else False) == (year in short_years)
