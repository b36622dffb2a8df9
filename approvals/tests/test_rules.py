"""The leave rules: plain pytest on dataclasses, no database, `today` passed in.

Personas: Alice (U_ALICE) requests leave in Engineering; Dan and Erin are her
teammates; Frank is in Sales. Engineering allows 2 people out at once.

December 2026: Mon 7, Mon 14, Mon 21, Thu 24, Fri 25 (Christmas), Sat 26,
Thu 31; Fri 1 Jan 2027 (New Year's Day), Mon 4 Jan 2027.
"""

from datetime import date
from decimal import Decimal

import pytest

from approvals.config_types import BlackoutConfig, HolidayConfig, LeaveTypeConfig, TeamConfig
from approvals.rules import (
    ACTIVE_STATUSES,
    APPROVED,
    CANCELLED,
    FIELD_END,
    FIELD_HALF,
    FIELD_START,
    PENDING,
    REJECTED,
    STATUSES,
    Adjustment,
    Balance,
    LeaveRequest,
    LedgerEntry,
    RuleViolation,
    balance_for,
    basic_violations,
    days_by_year,
    entries_overlapping,
    entry_days_by_year,
    errors_by_field,
    format_day,
    format_days,
    format_range,
    latest_start,
    preview_violations,
    request_days,
    validate_request,
    who_is_out,
)
from approvals.work_calendar import team_holidays

ALICE, DAN, ERIN, FRANK = "U_ALICE", "U_DAN", "U_ERIN", "U_FRANK"

MON_FRI = (0, 1, 2, 3, 4)
SUN_THU = (6, 0, 1, 2, 3)

ENGINEERING = TeamConfig(name="Engineering", approvals_channel="C_ENG_APPROVALS", max_out=2)
VACATION = LeaveTypeConfig(
    code="vacation", name="Vacation", annual_allowance_days=Decimal(25), allow_half_days=True, max_consecutive_days=10
)
SICK = LeaveTypeConfig(code="sick", name="Sick leave", allow_half_days=True, allow_past_days=3)
UNPAID = LeaveTypeConfig(code="unpaid", name="Unpaid leave")

HOLIDAYS = {date(2026, 12, 25): "Christmas Day", date(2027, 1, 1): "New Year's Day"}
TODAY = date(2026, 12, 1)  # a Tuesday

US_CA = TeamConfig(name="Engineering", approvals_channel="C", holiday_country="US", holiday_subdivision="CA")
GB_ENG = TeamConfig(name="London", approvals_channel="C", holiday_country="GB", holiday_subdivision="ENG")
US_CA_HOLIDAYS = team_holidays(US_CA, (), [2026, 2027])
GB_ENG_HOLIDAYS = team_holidays(GB_ENG, (), [2026, 2027])
US_CA_WITH_COMPANY_DAY = team_holidays(US_CA, [HolidayConfig(date(2026, 12, 24), "Company day")], [2026])


def d(month, day, year=2026):
    return date(year, month, day)


def request(start, end, start_half=None, end_half=None, *, leave_type="vacation", user=ALICE):
    return LeaveRequest(user=user, leave_type=leave_type, start=start, end=end, start_half=start_half, end_half=end_half)


def entry(user, start, end, status=APPROVED, *, days=None, start_half=None, end_half=None,
          team="Engineering", leave_type="vacation", id=None):
    assert status in STATUSES, f"{status!r} is not a status: pass halves by keyword"
    if days is None:
        days = request_days(request(start, end, start_half, end_half), MON_FRI, HOLIDAYS)
    return LedgerEntry(
        id=id or f"{user}-{start.isoformat()}-{status}",
        user=user, team=team, leave_type=leave_type, start=start, end=end,
        start_half=start_half, end_half=end_half, days=Decimal(days), status=status,
    )


def validate(req, *, leave_type=VACATION, team=ENGINEERING, holiday_dates=HOLIDAYS, blackouts=(),
             today=TODAY, ledger=None, adjustments=(), team_members=None, **more):
    return validate_request(
        req, leave_type=leave_type, team=team, holiday_dates=holiday_dates, blackouts=blackouts,
        today=today, ledger=ledger, adjustments=adjustments, team_members=team_members, **more,
    )


# --- Day counting ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("req", "workweek", "holidays", "expected"),
    [
        pytest.param(request(d(12, 14), d(12, 18)), MON_FRI, {}, "5", id="a-working-week"),
        pytest.param(request(d(12, 18), d(12, 22)), MON_FRI, {}, "3", id="skips-the-weekend"),
        pytest.param(request(d(12, 26), d(12, 27)), MON_FRI, {}, "0", id="weekend-only"),
        pytest.param(request(d(11, 23), d(11, 27)), MON_FRI, US_CA_HOLIDAYS, "3", id="us-ca-thanksgiving-week"),
        pytest.param(request(d(3, 30), d(4, 1)), MON_FRI, US_CA_HOLIDAYS, "2", id="us-ca-cesar-chavez-day"),
        pytest.param(request(d(12, 24), d(12, 29)), MON_FRI, US_CA_HOLIDAYS, "3", id="us-ca-christmas"),
        pytest.param(request(d(12, 24), d(12, 29)), MON_FRI, GB_ENG_HOLIDAYS, "2", id="gb-eng-boxing-day-observed"),
        pytest.param(request(d(12, 24), d(12, 29)), MON_FRI, US_CA_WITH_COMPANY_DAY, "2", id="company-holiday"),
        pytest.param(request(d(12, 24), d(12, 29)), MON_FRI, set(US_CA_WITH_COMPANY_DAY), "2", id="holidays-as-a-set"),
        pytest.param(request(d(12, 21), d(12, 23), "pm"), MON_FRI, {}, "2.5", id="starts-at-noon"),
        pytest.param(request(d(12, 21), d(12, 23), None, "am"), MON_FRI, {}, "2.5", id="ends-at-noon"),
        pytest.param(request(d(12, 21), d(12, 23), "pm", "am"), MON_FRI, {}, "2", id="half-days-at-both-ends"),
        pytest.param(request(d(12, 21), d(12, 21)), MON_FRI, {}, "1", id="one-day"),
        pytest.param(request(d(12, 21), d(12, 21), "pm"), MON_FRI, {}, "0.5", id="one-afternoon"),
        pytest.param(request(d(12, 21), d(12, 21), None, "am"), MON_FRI, {}, "0.5", id="one-morning"),
        pytest.param(request(d(12, 21), d(12, 21), "pm", "am"), MON_FRI, {}, "0", id="one-day-both-halves-is-empty"),
        pytest.param(request(d(12, 19), d(12, 22), "pm"), MON_FRI, {}, "2", id="half-on-a-saturday-subtracts-nothing"),
        pytest.param(
            request(d(12, 22), d(12, 25), None, "am"), MON_FRI, HOLIDAYS, "3", id="half-on-a-holiday-subtracts-nothing"
        ),
        pytest.param(request(d(12, 20), d(12, 26)), SUN_THU, {}, "5", id="sun-thu-week"),
        pytest.param(request(d(12, 25), d(12, 27), "pm"), SUN_THU, {}, "1", id="sun-thu-friday-start-half-ignored"),
        pytest.param(request(d(12, 23), d(12, 21)), MON_FRI, {}, "0", id="end-before-start"),
    ],
)
def test_request_days(req, workweek, holidays, expected):
    assert request_days(req, workweek, holidays) == Decimal(expected)


@pytest.mark.parametrize(
    ("req", "expected"),
    [
        pytest.param(request(d(12, 21), d(12, 23)), {2026: "3"}, id="one-year"),
        pytest.param(request(d(12, 30), d(1, 5, 2027)), {2026: "2", 2027: "2"}, id="across-new-year"),
        pytest.param(request(d(12, 30), d(1, 5, 2027), "pm", "am"), {2026: "1.5", 2027: "1.5"}, id="across-new-year-halves"),
        pytest.param(request(d(12, 31), d(1, 1, 2027)), {2026: "1", 2027: "0"}, id="every-touched-year-has-a-key"),
        pytest.param(request(d(12, 31), d(1, 3, 2028)), {2026: "1", 2027: "260", 2028: "1"}, id="three-years"),
    ],
)
def test_days_by_year(req, expected):
    holidays = {date(2027, 1, 1): "New Year's Day"}
    assert days_by_year(req, MON_FRI, holidays) == {year: Decimal(days) for year, days in expected.items()}


@pytest.mark.parametrize(
    ("stored", "expected"),
    [
        pytest.param("4", {2026: "2", 2027: "2"}, id="stored-total-matches-the-calendar"),
        pytest.param("3", {2026: "2", 2027: "1"}, id="a-holiday-added-since-shrinks-the-last-year"),
        pytest.param("1.5", {2026: "1.5", 2027: "0"}, id="never-more-than-the-stored-total"),
        pytest.param("5", {2026: "2", 2027: "3"}, id="a-holiday-removed-since-grows-the-last-year"),
    ],
)
def test_entry_days_by_year_keeps_the_stored_total(stored, expected):
    spanning = entry(ALICE, d(12, 30), d(1, 5, 2027), days=stored)
    split = entry_days_by_year(spanning, MON_FRI, HOLIDAYS)
    assert split == {year: Decimal(days) for year, days in expected.items()}
    assert sum(split.values()) == Decimal(stored)


def test_entry_days_by_year_of_a_one_year_entry_is_its_stored_total():
    # Stored 3 although the calendar now says 2: the record wins.
    assert entry_days_by_year(entry(ALICE, d(12, 23), d(12, 25), days=3), MON_FRI, HOLIDAYS) == {2026: Decimal(3)}


# --- Validation: one rule at a time ---------------------------------------------


YEAR_END_FREEZE = BlackoutConfig(start=d(12, 14), end=d(12, 31), reason="Year-end freeze", team="Engineering")
SALES_FREEZE = BlackoutConfig(start=d(12, 14), end=d(12, 31), reason="Quarter close", team="Sales")
COMPANY_BLACKOUT = BlackoutConfig(start=d(12, 9), end=d(12, 10))
WEEKEND_BLACKOUT = BlackoutConfig(start=d(12, 12), end=d(12, 13), reason="Migration")


@pytest.mark.parametrize(
    ("req", "options", "expected"),
    [
        pytest.param(request(d(12, 21), d(12, 23)), {}, [], id="a-valid-request"),
        pytest.param(request(d(12, 1), d(12, 1)), {}, [], id="starting-today"),
        pytest.param(
            request(d(12, 23), d(12, 21)), {},
            [(FIELD_END, "The end (Mon 21 Dec) is before the start (Wed 23 Dec)")], id="end-before-start",
        ),
        pytest.param(
            request(d(1, 4, 2027), d(12, 30)), {},
            [(FIELD_END, "The end (Wed 30 Dec 2026) is before the start (Mon 4 Jan 2027)")],
            id="end-before-start-across-years",
        ),
        pytest.param(
            request(d(11, 30), d(12, 2)), {}, [(FIELD_START, "Vacation can't start in the past")], id="vacation-in-the-past",
        ),
        pytest.param(
            request(d(11, 27), d(12, 1), leave_type="sick"), {"leave_type": SICK},
            [(FIELD_START, "Sick leave can start at most 3 days in the past")], id="sick-leave-too-far-back",
        ),
        pytest.param(
            request(d(11, 28), d(12, 1), leave_type="sick"), {"leave_type": SICK}, [], id="sick-leave-within-its-past-days",
        ),
        pytest.param(
            request(d(11, 30), d(12, 1), leave_type="sick"),
            {"leave_type": LeaveTypeConfig(code="sick", name="Sick leave", allow_past_days=1), "today": d(12, 2)},
            [(FIELD_START, "Sick leave can start at most 1 day in the past")], id="singular-day",
        ),
        pytest.param(
            request(d(12, 21), d(12, 23), "pm", leave_type="unpaid"), {"leave_type": UNPAID},
            [(FIELD_HALF, "Unpaid leave can't be taken in half days")], id="type-without-half-days",
        ),
        pytest.param(
            request(d(12, 21), d(12, 23), "am"), {},
            [(FIELD_HALF, "The first day can only be a half day from midday (afternoon only)")], id="start-half-am",
        ),
        pytest.param(
            request(d(12, 21), d(12, 23), None, "pm"), {},
            [(FIELD_HALF, "The last day can only be a half day until midday (morning only)")], id="end-half-pm",
        ),
        pytest.param(
            request(d(12, 21), d(12, 21), "am"), {},
            [(FIELD_HALF, "The first day can only be a half day from midday (afternoon only)")], id="one-day-start-half-am",
        ),
        pytest.param(
            request(d(12, 21), d(12, 21), "pm", "am"), {},
            [(FIELD_HALF, "Choose the morning or the afternoon for a one-day request, not both")], id="one-day-both-halves",
        ),
        pytest.param(request(d(12, 21), d(12, 21), "pm"), {}, [], id="one-afternoon"),
        pytest.param(request(d(12, 21), d(12, 21), None, "am"), {}, [], id="one-morning"),
        pytest.param(request(d(12, 21), d(12, 23), "pm", "am"), {}, [], id="both-ends-at-noon"),
        pytest.param(
            request(d(12, 26), d(12, 27)), {},
            [(FIELD_END, "Sat 26 Dec – Sun 27 Dec are not working days for Engineering")], id="a-weekend",
        ),
        pytest.param(
            request(d(12, 25), d(12, 25)), {},
            [(FIELD_END, "Fri 25 Dec is not a working day for Engineering (Christmas Day)")], id="a-holiday",
        ),
        pytest.param(
            request(d(12, 19), d(12, 19)), {"holiday_dates": set(HOLIDAYS)},
            [(FIELD_END, "Sat 19 Dec is not a working day for Engineering")], id="a-saturday",
        ),
        pytest.param(
            request(d(12, 25), d(12, 27)), {"blackouts": [YEAR_END_FREEZE]},
            [(FIELD_END, "Fri 25 Dec – Sun 27 Dec are not working days for Engineering")],
            id="no-working-days-stops-there",
        ),
        pytest.param(
            request(d(12, 20), d(12, 20)), {"team": TeamConfig(name="Tel Aviv", approvals_channel="C", workweek=SUN_THU)},
            [], id="sunday-in-a-sun-thu-team",
        ),
        pytest.param(
            request(d(12, 7), d(12, 21)), {},
            [(FIELD_END, "Vacation can be at most 10 working days in a row; this request is 11")], id="too-long",
        ),
        pytest.param(
            request(d(12, 7), d(12, 21), "pm"), {},
            [(FIELD_END, "Vacation can be at most 10 working days in a row; this request is 10.5")], id="too-long-by-half",
        ),
        pytest.param(request(d(12, 7), d(12, 18)), {}, [], id="exactly-the-limit"),
        pytest.param(request(d(12, 7), d(12, 21), "pm", "am"), {}, [], id="halves-bring-it-to-the-limit"),
        pytest.param(
            request(d(12, 11), d(12, 14)), {"blackouts": [YEAR_END_FREEZE]},
            [(FIELD_START, "Mon 14 Dec – Thu 31 Dec is a blackout for Engineering: Year-end freeze")], id="blackout",
        ),
        pytest.param(
            request(d(12, 8), d(12, 9)), {"blackouts": [COMPANY_BLACKOUT]},
            [(FIELD_START, "Wed 9 Dec – Thu 10 Dec is a blackout for Engineering")], id="company-blackout-without-reason",
        ),
        pytest.param(request(d(12, 14), d(12, 15)), {"blackouts": [SALES_FREEZE]}, [], id="another-teams-blackout"),
        pytest.param(
            request(d(12, 11), d(12, 14)), {"blackouts": [WEEKEND_BLACKOUT]}, [], id="blackout-on-non-working-days-only",
        ),
        pytest.param(request(d(12, 7), d(12, 11)), {"blackouts": [YEAR_END_FREEZE]}, [], id="just-before-a-blackout"),
        pytest.param(
            request(d(11, 30), d(11, 27)), {},
            [
                (FIELD_END, "The end (Fri 27 Nov) is before the start (Mon 30 Nov)"),
                (FIELD_START, "Vacation can't start in the past"),
            ],
            id="several-violations-in-modal-order",
        ),
    ],
)
def test_validate_request(req, options, expected):
    assert validate(req, **options) == [RuleViolation(field, message) for field, message in expected]


# --- Validation against the ledger: own overlap -----------------------------------


@pytest.mark.parametrize(
    ("existing", "req", "expected"),
    [
        pytest.param(
            entry(ALICE, d(12, 21), d(12, 23)), request(d(12, 23), d(12, 24)),
            "This overlaps your approved leave on Mon 21 Dec – Wed 23 Dec", id="approved",
        ),
        pytest.param(
            entry(ALICE, d(12, 21), d(12, 23), PENDING), request(d(12, 18), d(12, 21)),
            "This overlaps your pending leave on Mon 21 Dec – Wed 23 Dec", id="pending",
        ),
        pytest.param(entry(ALICE, d(12, 21), d(12, 23), REJECTED), request(d(12, 22), d(12, 22)), None, id="rejected"),
        pytest.param(entry(ALICE, d(12, 21), d(12, 23), CANCELLED), request(d(12, 22), d(12, 22)), None, id="cancelled"),
        pytest.param(entry(DAN, d(12, 21), d(12, 23)), request(d(12, 22), d(12, 22)), None, id="someone-elses"),
        pytest.param(entry(ALICE, d(12, 14), d(12, 18)), request(d(12, 21), d(12, 22)), None, id="adjacent"),
        pytest.param(
            entry(ALICE, d(12, 17), d(12, 19)), request(d(12, 19), d(12, 22)), None,
            id="sharing-only-a-saturday",
        ),
        pytest.param(
            entry(ALICE, d(12, 23), d(12, 23), end_half="am"), request(d(12, 23), d(12, 23), "pm"),
            None, id="morning-then-afternoon",
        ),
        pytest.param(
            entry(ALICE, d(12, 23), d(12, 23), end_half="am"), request(d(12, 23), d(12, 23), None, "am"),
            "This overlaps your approved leave on Wed 23 Dec (morning)", id="two-mornings",
        ),
        pytest.param(
            entry(ALICE, d(12, 23), d(12, 23), start_half="pm"), request(d(12, 21), d(12, 23)),
            "This overlaps your approved leave on Wed 23 Dec (afternoon)", id="afternoon-inside-a-full-day",
        ),
        pytest.param(
            entry(ALICE, d(12, 21), d(12, 23), end_half="am"), request(d(12, 23), d(12, 24), "pm"),
            None, id="ends-at-noon-then-starts-at-noon",
        ),
        pytest.param(
            entry(ALICE, d(12, 21), d(12, 23), end_half="am"), request(d(12, 23), d(12, 24)),
            "This overlaps your approved leave on Mon 21 Dec – Wed 23 Dec (ends at noon)", id="ends-at-noon-then-full-day",
        ),
        pytest.param(
            entry(ALICE, d(12, 22), d(12, 24), start_half="pm"), request(d(12, 21), d(12, 22), None, "am"),
            None, id="full-day-ending-at-noon-then-starting-at-noon",
        ),
    ],
)
def test_it_refuses_overlap_with_own_active_leave(existing, req, expected):
    team = TeamConfig(name="Engineering", approvals_channel="C")  # no max_out: test overlap alone
    violations = validate(req, team=team, ledger=[existing])
    assert violations == ([RuleViolation(FIELD_START, expected)] if expected else [])


def test_without_a_ledger_it_skips_the_checks_that_need_one():
    crowded = [entry(ALICE, d(12, 21), d(12, 23)), entry(DAN, d(12, 21), d(12, 23)), entry(ERIN, d(12, 21), d(12, 23))]
    req = request(d(12, 21), d(12, 23))
    assert validate(req, ledger=None) == []
    assert [v.field for v in validate(req, ledger=crowded)] == [FIELD_START, FIELD_START]


# --- Validation against the ledger: allowance ---------------------------------------


TWENTY_DAYS_IN_FEBRUARY = entry(ALICE, d(2, 2), d(2, 27), days=20)
ONE_AND_A_HALF_PENDING = entry(ALICE, d(3, 2), d(3, 3), PENDING, end_half="am")


@pytest.mark.parametrize(
    ("ledger", "adjustments", "req", "expected"),
    [
        pytest.param(
            [TWENTY_DAYS_IN_FEBRUARY, ONE_AND_A_HALF_PENDING], [], request(d(12, 14), d(12, 18)),
            ["You have 3.5 days of Vacation left in 2026; this request needs 5"], id="pending-counts-too",
        ),
        pytest.param(
            [TWENTY_DAYS_IN_FEBRUARY, ONE_AND_A_HALF_PENDING],
            [Adjustment("a1", ALICE, "vacation", Decimal(2), 2026, "Carry-over", "U_HR")],
            request(d(12, 14), d(12, 18)), [], id="an-adjustment-makes-room",
        ),
        pytest.param(
            [TWENTY_DAYS_IN_FEBRUARY, ONE_AND_A_HALF_PENDING],
            [Adjustment("a1", ALICE, "vacation", Decimal(2), 2027, "Carry-over", "U_HR")],
            request(d(12, 14), d(12, 18)),
            ["You have 3.5 days of Vacation left in 2026; this request needs 5"], id="another-years-adjustment",
        ),
        pytest.param(
            [TWENTY_DAYS_IN_FEBRUARY, entry(ALICE, d(3, 2), d(3, 5), days=4)], [], request(d(12, 30), d(1, 5, 2027)),
            ["You have 1 day of Vacation left in 2026; this request needs 2"], id="across-the-year-end-counts-each-year",
        ),
        pytest.param(
            [TWENTY_DAYS_IN_FEBRUARY, entry(ALICE, d(3, 2), d(3, 6), days=5)], [], request(d(12, 21), d(12, 21), "pm"),
            ["You have no Vacation left in 2026; this request needs 0.5"], id="nothing-left",
        ),
        pytest.param(
            [TWENTY_DAYS_IN_FEBRUARY, entry(ALICE, d(3, 2), d(3, 6), days=5)], [], request(d(1, 4, 2027), d(1, 8, 2027)),
            [], id="next-year-is-fresh",
        ),
        pytest.param(
            [TWENTY_DAYS_IN_FEBRUARY, entry(ALICE, d(3, 2), d(3, 5), days=4, status=REJECTED),
             entry(ALICE, d(3, 9), d(3, 13), days=5, leave_type="sick"), entry(DAN, d(3, 2), d(3, 6), days=5)],
            [], request(d(12, 14), d(12, 18)), [], id="rejected-other-types-and-other-people-do-not-count",
        ),
        pytest.param(
            [TWENTY_DAYS_IN_FEBRUARY, ONE_AND_A_HALF_PENDING], [], request(d(12, 14), d(12, 17), None, "am"),
            [], id="exactly-what-is-left",
        ),
    ],
)
def test_it_refuses_requests_over_the_yearly_allowance(ledger, adjustments, req, expected):
    team = TeamConfig(name="Engineering", approvals_channel="C")
    violations = validate(req, team=team, ledger=ledger, adjustments=adjustments)
    assert violations == [RuleViolation(FIELD_END, message) for message in expected]


def test_a_type_without_an_allowance_has_no_limit():
    ledger = [entry(ALICE, d(2, 2), d(12, 31), days=230, leave_type="sick")]
    req = request(d(1, 4, 2027), d(1, 4, 2027), leave_type="sick")
    assert validate(req, leave_type=SICK, team=TeamConfig(name="Engineering", approvals_channel="C"), ledger=ledger) == []


# --- Validation against the ledger: capacity ----------------------------------------


@pytest.mark.parametrize(
    ("ledger", "req", "options", "expected"),
    [
        pytest.param([entry(DAN, d(12, 22), d(12, 22))], request(d(12, 21), d(12, 23)), {}, None, id="room-for-one-more"),
        pytest.param(
            [entry(DAN, d(12, 22), d(12, 23)), entry(ERIN, d(12, 21), d(12, 23), PENDING)],
            request(d(12, 21), d(12, 23)), {},
            "Tue 22 Dec is full for Engineering: 2 people are already out, and at most 2 can be out at once",
            id="names-the-first-full-day",
        ),
        pytest.param(
            [entry(DAN, d(12, 22), d(12, 22)), entry(ERIN, d(12, 22), d(12, 22), REJECTED)],
            request(d(12, 21), d(12, 23)), {}, None, id="rejected-does-not-count",
        ),
        pytest.param(
            [entry(DAN, d(12, 22), d(12, 22)), entry(FRANK, d(12, 22), d(12, 22), team="Sales")],
            request(d(12, 21), d(12, 23)), {}, None, id="other-teams-do-not-count",
        ),
        pytest.param(
            [entry(DAN, d(12, 22), d(12, 22), id="x1"), entry(DAN, d(12, 22), d(12, 23), PENDING, id="x2")],
            request(d(12, 21), d(12, 23)), {}, None, id="a-person-counts-once",
        ),
        pytest.param(
            [entry(DAN, d(12, 19), d(12, 20)), entry(ERIN, d(12, 19), d(12, 21))],
            request(d(12, 18), d(12, 21)), {"options_team_max_out": 1},
            "Mon 21 Dec is full for Engineering: 1 person is already out, and at most 1 can be out at once",
            id="weekends-do-not-count",
        ),
        pytest.param(
            [entry(DAN, d(12, 22), d(12, 22), end_half="am"), entry(ERIN, d(12, 22), d(12, 22), start_half="pm")],
            request(d(12, 22), d(12, 22)), {}, None, id="a-morning-and-an-afternoon-are-one-person-at-a-time",
        ),
        pytest.param(
            [entry(DAN, d(12, 22), d(12, 22), end_half="am"), entry(ERIN, d(12, 21), d(12, 22), end_half="am")],
            request(d(12, 22), d(12, 23)), {},
            "Tue 22 Dec (morning) is full for Engineering: 2 people are already out, and at most 2 can be out at once",
            id="a-full-morning",
        ),
        pytest.param(
            [entry(DAN, d(12, 22), d(12, 22), end_half="am"), entry(ERIN, d(12, 21), d(12, 22), end_half="am")],
            request(d(12, 22), d(12, 23), "pm"), {}, None, id="taking-only-the-afternoon-of-a-full-morning",
        ),
        pytest.param(
            [entry(DAN, d(12, 22), d(12, 22)), entry(ERIN, d(12, 22), d(12, 22))],
            request(d(12, 21), d(12, 23)), {"options_team_max_out": None}, None, id="no-limit",
        ),
        pytest.param(
            [entry(DAN, d(12, 22), d(12, 22)), entry(FRANK, d(12, 22), d(12, 22), team="Sales"),
             entry(ERIN, d(12, 22), d(12, 22))],
            request(d(12, 21), d(12, 23)), {"team_members": {ALICE, DAN, FRANK}},
            "Tue 22 Dec is full for Engineering: 2 people are already out, and at most 2 can be out at once",
            id="team-members-count-whatever-team-they-were-recorded-under",
        ),
        pytest.param(
            [entry(DAN, d(12, 22), d(12, 22)), entry(ERIN, d(12, 22), d(12, 22))],
            request(d(12, 21), d(12, 23)), {"team_members": {ALICE, DAN}}, None,
            id="people-no-longer-in-the-team-do-not-count",
        ),
    ],
)
def test_it_refuses_requests_that_would_exceed_max_out(ledger, req, options, expected):
    options = dict(options)
    max_out = options.pop("options_team_max_out", 2)
    team = TeamConfig(name="Engineering", approvals_channel="C", max_out=max_out)
    violations = validate(req, team=team, ledger=ledger, **options)
    assert violations == ([RuleViolation(FIELD_START, expected)] if expected else [])


def test_the_preview_warns_of_what_sending_refuses_except_the_allowance_and_capacity():
    team = TeamConfig(name="Engineering", approvals_channel="C", max_out=1)
    ledger = [entry(DAN, d(12, 14), d(12, 18)), entry(ALICE, d(12, 16), d(12, 16), PENDING),
              entry(ALICE, d(2, 2), d(3, 13), days=25)]  # the whole year's allowance taken
    req = request(d(12, 14), d(12, 18))
    refused = validate(req, team=team, ledger=ledger)
    warned = preview_violations(req, leave_type=VACATION, team=team, holiday_dates=HOLIDAYS, blackouts=(),
                                today=TODAY, ledger=ledger)

    assert [v.message for v in warned] == ["This overlaps your pending leave on Wed 16 Dec"]
    assert len(refused) == 3 and refused[0] == warned[0]  # and the allowance, and capacity
    past = preview_violations(request(d(11, 30), d(11, 30)), leave_type=VACATION, team=team,
                              holiday_dates=HOLIDAYS, blackouts=(), today=TODAY)
    assert [v.message for v in past] == ["Vacation can't start in the past"]


def test_the_requesters_own_leave_is_not_counted_twice_for_capacity():
    team = TeamConfig(name="Engineering", approvals_channel="C", max_out=1)
    ledger = [entry(ALICE, d(12, 14), d(12, 18))]
    assert validate(request(d(12, 21), d(12, 23)), team=team, ledger=ledger) == []


# --- Balances ---------------------------------------------------------------------


def test_balance_adds_adjustments_and_subtracts_approved_and_pending_days():
    entries = [
        entry(ALICE, d(2, 2), d(2, 6), days=5),
        entry(ALICE, d(3, 2), d(3, 4), PENDING, end_half="am"),
        entry(ALICE, d(4, 6), d(4, 9), REJECTED),
        entry(ALICE, d(5, 4), d(5, 5), CANCELLED),
        entry(ALICE, d(6, 1), d(6, 5), leave_type="sick"),
        entry(DAN, d(2, 2), d(2, 6)),
    ]
    adjustments = [
        Adjustment("a1", ALICE, "vacation", Decimal(3), 2026, "Carry-over", "U_HR"),
        Adjustment("a2", ALICE, "vacation", Decimal("-1"), 2026, "Correction", "U_HR"),
        Adjustment("a3", ALICE, "vacation", Decimal(5), 2027, "Next year", "U_HR"),
        Adjustment("a4", ALICE, "sick", Decimal(5), 2026, "Other type", "U_HR"),
        Adjustment("a5", DAN, "vacation", Decimal(5), 2026, "Other person", "U_HR"),
    ]
    balance = balance_for(
        ALICE, VACATION, 2026, entries=entries, adjustments=adjustments, workweek=MON_FRI, holiday_dates=HOLIDAYS
    )
    assert balance == Balance(
        leave_type="vacation", year=2026, allowance=Decimal(25), adjustments=Decimal(2),
        taken=Decimal(5), pending=Decimal("2.5"), remaining=Decimal("19.5"),
    )


@pytest.mark.parametrize(
    ("stored", "year", "taken"),
    [
        pytest.param("4", 2026, "2", id="first-year"),
        pytest.param("4", 2027, "2", id="second-year"),
        pytest.param("3", 2027, "1", id="stored-total-wins-in-the-last-year"),
        pytest.param("4", 2025, "0", id="a-year-it-does-not-touch"),
    ],
)
def test_balance_splits_an_entry_across_the_year_end(stored, year, taken):
    entries = [entry(ALICE, d(12, 30), d(1, 5, 2027), days=stored)]
    balance = balance_for(ALICE, VACATION, year, entries=entries, adjustments=(), workweek=MON_FRI, holiday_dates=HOLIDAYS)
    assert balance.taken == Decimal(taken)
    assert balance.remaining == Decimal(25) - Decimal(taken)


def test_a_balance_without_an_allowance_has_no_remaining():
    entries = [entry(ALICE, d(2, 2), d(2, 6), leave_type="sick")]
    adjustments = [Adjustment("a1", ALICE, "sick", Decimal(1), 2026, "Why not", "U_HR")]
    balance = balance_for(ALICE, SICK, 2026, entries=entries, adjustments=adjustments, workweek=MON_FRI, holiday_dates={})
    assert balance == Balance("sick", 2026, None, Decimal(1), Decimal(5), Decimal(0), None)


# --- Who is out -------------------------------------------------------------------


def test_entries_overlapping_keeps_every_status_and_sorts_by_start():
    later = entry(DAN, d(12, 23), d(12, 24), CANCELLED)
    earlier = entry(ERIN, d(12, 18), d(12, 21))
    outside = entry(FRANK, d(12, 14), d(12, 17))
    assert entries_overlapping([later, outside, earlier], d(12, 21), d(12, 23)) == [earlier, later]


def test_who_is_out_keeps_active_entries_of_other_people():
    approved = entry(DAN, d(12, 21), d(12, 21))
    pending = entry(ERIN, d(12, 22), d(12, 22), PENDING)
    rejected = entry(FRANK, d(12, 21), d(12, 22), REJECTED)
    mine = entry(ALICE, d(12, 21), d(12, 21))
    assert who_is_out([pending, rejected, mine, approved], d(12, 21), d(12, 22), exclude_user=ALICE) == [approved, pending]
    assert who_is_out([mine], d(12, 21), d(12, 21)) == [mine]
    assert ACTIVE_STATUSES == {PENDING, APPROVED}


# --- Formatting -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        pytest.param((d(12, 21), d(12, 23)), "Mon 21 Dec – Wed 23 Dec", id="range"),
        pytest.param((d(12, 21), d(12, 23), None, "am"), "Mon 21 Dec – Wed 23 Dec (ends at noon)", id="ends-at-noon"),
        pytest.param((d(12, 21), d(12, 23), "pm"), "Mon 21 Dec – Wed 23 Dec (starts at noon)", id="starts-at-noon"),
        pytest.param((d(12, 21), d(12, 23), "pm", "am"), "Mon 21 Dec – Wed 23 Dec (starts and ends at noon)", id="both"),
        pytest.param((d(12, 21), d(12, 21)), "Mon 21 Dec", id="one-day"),
        pytest.param((d(12, 21), d(12, 21), "pm"), "Mon 21 Dec (afternoon)", id="afternoon"),
        pytest.param((d(12, 21), d(12, 21), None, "am"), "Mon 21 Dec (morning)", id="morning"),
        pytest.param((d(12, 31), d(1, 4, 2027)), "Thu 31 Dec 2026 – Mon 4 Jan 2027", id="across-years-shows-years"),
    ],
)
def test_format_range(args, expected):
    assert format_range(*args) == expected


@pytest.mark.parametrize(
    ("start", "end", "halves", "expected"),
    [
        pytest.param(d(12, 21), d(12, 23), (), "Mon 21 Dec – Wed 23 Dec", id="this-year-has-none"),
        pytest.param(d(1, 4, 2027), d(1, 5, 2027), (), "Mon 4 Jan 2027 – Tue 5 Jan 2027", id="next-year"),
        pytest.param(d(12, 21, 2062), d(12, 23, 2062), (), "Thu 21 Dec 2062 – Sat 23 Dec 2062", id="a-typo-for-2026"),
        pytest.param(d(12, 31, 9999), d(12, 31, 9999), (), "Fri 31 Dec 9999", id="one-day"),
        pytest.param(d(1, 4, 2027), d(1, 4, 2027), ("pm", None), "Mon 4 Jan 2027 (afternoon)", id="afternoon"),
        pytest.param(d(3, 9, 2025), d(3, 9, 2025), (), "Sun 9 Mar 2025", id="last-year"),
    ],
)
def test_format_range_shows_the_year_of_dates_outside_todays_year(start, end, halves, expected):
    assert format_range(start, end, *halves, today=TODAY) == expected


def test_format_range_without_today_shows_years_only_across_a_year_end():
    assert format_range(d(12, 21, 2062), d(12, 23, 2062)) == "Thu 21 Dec – Sat 23 Dec"


def test_the_rules_name_the_year_of_dates_outside_this_year():
    january = request(d(1, 4, 2027), d(1, 5, 2027))
    [overlap] = validate(january, ledger=[entry(DAN, d(1, 4, 2027), d(1, 4, 2027)),
                                          entry(ALICE, d(1, 5, 2027), d(1, 5, 2027))])
    assert overlap.message == "This overlaps your approved leave on Tue 5 Jan 2027"
    [weekend] = validate(request(d(1, 9, 2027), d(1, 10, 2027)))
    assert weekend.message == "Sat 9 Jan 2027 – Sun 10 Jan 2027 are not working days for Engineering"
    [backwards] = validate(request(d(1, 5, 2027), d(1, 4, 2027)))
    assert backwards.message == "The end (Mon 4 Jan 2027) is before the start (Tue 5 Jan 2027)"


# --- Too far ahead: a typo for the year ------------------------------------------------


def test_a_request_that_starts_too_many_years_ahead_is_refused_naming_its_year():
    # `/timeoff 2062-12-21 2062-12-23 vacation`, a typo for 2026: refused on the start, and nothing
    # else said about dates that are wrong (no allowance or calendar of 2062).
    assert validate(request(d(12, 21, 2062), d(12, 23, 2062)), ledger=[]) == [RuleViolation(
        FIELD_START, "It starts in 2062: time off can be requested at most 5 years ahead (until the end of 2031)")]
    [refused] = validate(request(d(12, 31, 9999), d(12, 31, 9999)), ledger=[])
    assert (refused.field, refused.message.split(":")[0]) == (FIELD_START, "It starts in 9999")


def test_time_off_may_start_on_the_last_day_of_the_fifth_year_ahead_and_no_later():
    assert latest_start(TODAY) == d(12, 31, 2031)
    assert validate(request(d(12, 31, 2031), d(1, 2, 2032)), ledger=[]) == []  # may end the year after
    [refused] = validate(request(d(1, 5, 2032), d(1, 5, 2032)), ledger=[])
    assert refused.field == FIELD_START and "2032" in refused.message


def test_the_year_limit_is_a_basic_rule_so_every_path_checks_it():
    # basic_violations is what a cold submission and an edit without a team check; validate_request
    # (through request_services.check_submission) is what the modal, the task, HR's recording and an
    # edit check: both refuse it.
    far = request(d(12, 21, 2062), d(12, 23, 2062))
    assert [v.field for v in basic_violations(far, leave_type=VACATION, today=TODAY)] == [FIELD_START]
    assert [v.field for v in basic_violations(far, leave_type=SICK, today=d(1, 1, 2061))] == []


# --- While the requester's time zone is unknown: UTC's day, and a day's tolerance either way ----------
# A cold submission is checked before Slack has said where the requester is. Their day is UTC's or the one
# either side (UTC−12 to UTC+14), so the past-date rule counts from the day before and the years-ahead
# limit from the day after: neither refuses what the requester's own day allows. The task checks again in
# their time zone.


@pytest.mark.parametrize("utc_today", [d(12, 31), d(1, 1, 2027)], ids=["31-dec", "1-jan"])
def test_an_unknown_time_zone_never_shortens_the_years_ahead_limit_at_the_year_end(utc_today):
    # 1 Jan 2027 in London or Kiritimati (UTC+14, already 1 Jan while UTC's day is 31 Dec): leave may
    # start until the end of 2032. The day before UTC's, which a cold submission used to be judged by,
    # is still 2026 and stopped at 2031.
    in_2032 = request(d(3, 8, 2032), d(3, 10, 2032))
    assert basic_violations(in_2032, leave_type=VACATION, today=d(1, 1, 2027)) == []  # the requester's own day
    assert basic_violations(in_2032, leave_type=VACATION, today=utc_today, zone_known=False) == []
    assert validate(in_2032, today=utc_today, zone_known=False) == []


def test_an_unknown_time_zone_keeps_the_past_dates_tolerance_and_the_limit_a_day_later():
    # 1 Jan 2027 in UTC: still 31 Dec in California, so leave that starts then is not in the past.
    assert basic_violations(request(d(12, 31), d(12, 31)), leave_type=VACATION, today=d(1, 1, 2027),
                            zone_known=False) == []
    [past] = basic_violations(request(d(12, 30), d(12, 30)), leave_type=VACATION, today=d(1, 1, 2027),
                              zone_known=False)
    assert past == RuleViolation(FIELD_START, "Vacation can't start in the past")
    # 31 Dec 2026 in UTC: the limit is the end of 2032 at the latest, and 2033 is refused naming it.
    [too_far] = basic_violations(request(d(1, 3, 2033), d(1, 3, 2033)), leave_type=VACATION, today=d(12, 31),
                                 zone_known=False)
    assert too_far == RuleViolation(FIELD_START, "It starts in 2033: time off can be requested at most 5 years "
                                                 "ahead (until the end of 2032)")


def test_a_known_time_zone_keeps_its_own_day_on_both_limits():
    # In California on 31 Dec 2026 (the task checks in the requester's zone): 2032 is still too far.
    [too_far] = basic_violations(request(d(3, 8, 2032), d(3, 10, 2032)), leave_type=VACATION, today=d(12, 31))
    assert too_far.message.startswith("It starts in 2032")


# --- Leave HR records for someone: in the past, but not years back --------------------------------------


def test_hr_may_record_past_leave_up_to_five_years_back():
    # A sick day reported late: no past-date limit of the type applies.
    late = request(d(11, 2), d(11, 2), leave_type="sick")
    assert basic_violations(late, leave_type=SICK, today=TODAY, recorded=True) == []
    assert validate(request(d(1, 5, 2021), d(1, 5, 2021)), today=TODAY, recorded=True, ledger=[]) == []


@pytest.mark.parametrize("start", [d(12, 31, 2020), d(12, 21, 26), d(1, 1, 1)], ids=["2020", "year-26", "year-1"])
def test_hr_recording_leave_more_than_five_years_back_is_refused_naming_its_year(start):
    # A date input takes "26" typed for the year as 0026: it is refused, not recorded in the year 26, and
    # the first day of the calendar (year 1) is refused, not an OverflowError counting past days before it.
    violations = validate(request(start, start, leave_type="sick"), leave_type=SICK, today=TODAY, recorded=True,
                          ledger=[])
    assert violations == [RuleViolation(FIELD_START, f"It starts in {start.year}: leave can be recorded at most "
                                                     f"5 years back (from the start of 2021)")]

@pytest.mark.parametrize(
    ("value", "expected"),
    [("1", "1 day"), ("0.5", "0.5 days"), ("2.50", "2.5 days"), ("3.0", "3 days"), ("0", "0 days"), ("100", "100 days")],
)
def test_format_days(value, expected):
    assert format_days(Decimal(value)) == expected


def test_format_day_does_not_depend_on_the_locale():
    assert format_day(d(12, 21)) == "Mon 21 Dec"
    assert format_day(d(1, 3, 2027), with_year=True) == "Sun 3 Jan 2027"


def test_errors_by_field_keeps_the_first_message_per_block():
    violations = [RuleViolation(FIELD_END, "first"), RuleViolation(FIELD_START, "start"), RuleViolation(FIELD_END, "second")]
    assert errors_by_field(violations) == {FIELD_END: "first", FIELD_START: "start"}


def test_one_request_covers_at_most_a_year():
    year_long = validate(request(d(1, 4, 2027), d(1, 5, 2028)), ledger=[])  # 366 days: other rules apply
    assert not any("at most a year" in violation.message for violation in year_long)
    [refused] = validate(request(d(1, 4, 2027), d(12, 31, 9999)), ledger=[])
    assert refused == RuleViolation(FIELD_END, "One request can cover at most a year; send longer leave as several "
                                               "requests")


def test_leave_across_the_year_end_counts_in_the_next_year_as_the_balance_shows():
    # Wed 24 Dec 2025 – Fri 2 Jan 2026 (Christmas and New Year's Day are US holidays): five working days
    # in 2025 and one, 2 Jan, in 2026. `/timeoff balance` leaves 9 of 10 days in 2026, so a 10-day
    # request in March must be refused, on the calendar the submission is checked with.
    from approvals.config_types import ApproverSource, TeamConfig, WorkspaceConfig
    from approvals.selectors import holiday_dates
    from approvals.work_calendar import team_holidays

    team = TeamConfig(name="Eng", approvers=ApproverSource(users=("U_BOB",)), approvals_channel="C_A",
                      holiday_country="US", timezone="America/Los_Angeles")
    vacation = LeaveTypeConfig(code="vacation", name="Vacation", annual_allowance_days=Decimal(10))
    config = WorkspaceConfig(teams=(team,), leave_types=(vacation,))
    winter = LedgerEntry(id="e1", user="U_ALICE", team="Eng", leave_type="vacation", start=date(2025, 12, 24),
                         end=date(2026, 1, 2), start_half=None, end_half=None, days=Decimal(6), status="approved")
    spring = LeaveRequest(user="U_ALICE", leave_type="vacation", start=date(2026, 3, 2), end=date(2026, 3, 13))

    shown = balance_for("U_ALICE", vacation, 2026, entries=[winter], adjustments=[], workweek=team.workweek,
                        holiday_dates=team_holidays(team, (), range(2025, 2028)))
    assert shown.remaining == Decimal(9)
    violations = validate_request(spring, leave_type=vacation, team=team, blackouts=(), today=date(2026, 2, 1),
                                  holiday_dates=holiday_dates(config, team, spring.start, spring.end),
                                  ledger=[winter])
    assert [v.message for v in violations] == ["You have 9 days of Vacation left in 2026; this request needs 10"]


def test_a_leap_day_is_a_day_like_any_other():
    # A company day on Tue 29 Feb 2028 is not a working day; a request across it and one across the year
    # end before it count their days as any other.
    leap = team_holidays(ENGINEERING, [HolidayConfig(date(2028, 2, 29), "Leap day")], [2027, 2028])
    assert request_days(request(d(2, 28, 2028), d(3, 1, 2028)), MON_FRI, leap) == Decimal(2)
    assert days_by_year(request(d(12, 27, 2027), d(3, 1, 2028)), MON_FRI, leap) == {
        2027: Decimal(5), 2028: Decimal(42)}


def test_an_edit_that_keeps_its_first_day_is_not_refused_for_starting_in_the_past():
    # A pending request under way (sent on 30 Nov for 30 Nov–4 Dec), shortened on 1 Dec: its first day
    # was accepted when it was sent. Another past first day is refused as ever.
    shortened = request(d(11, 30), d(12, 2))
    assert basic_violations(shortened, leave_type=VACATION, today=TODAY, kept_start=d(11, 30)) == []
    assert validate(shortened, today=TODAY, kept_start=d(11, 30)) == []
    [past] = basic_violations(request(d(11, 27), d(12, 2)), leave_type=VACATION, today=TODAY, kept_start=d(11, 30))
    assert past == RuleViolation(FIELD_START, "Vacation can't start in the past")
