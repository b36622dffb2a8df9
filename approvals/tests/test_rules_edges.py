"""The leave rules at their edges (DESIGN §7, README "Rules"), without a database: half days at the year
end, leap days, the one-year limit, holidays on days off and on holidays, max_consecutive_days in working
days, max_out in halves, rejected and cancelled leave, blackouts' ends, allow_past_days in far time
zones, fractional and negative adjustments, numbers as people read them."""

from datetime import date, datetime, timezone
from decimal import Decimal

import pytest

from approvals.balances import describe_balance
from approvals.config_types import BlackoutConfig, HolidayConfig, LeaveTypeConfig, TeamConfig, WorkspaceConfig
from approvals.ledger_reader import Ledger
from approvals.rules import (
    APPROVED,
    CANCELLED,
    FIELD_END,
    FIELD_START,
    MAX_REQUEST_DAYS,
    PENDING,
    REJECTED,
    Adjustment,
    LeaveRequest,
    LedgerEntry,
    balance_for,
    capacity_violation,
    days_by_year,
    entry_days_by_year,
    format_days,
    format_number,
    request_days,
    validate_request,
)
from approvals.selectors import ledger_context, local_today
from approvals.work_calendar import team_holidays, working_days

ALICE, BOB, CAROL, DAN = "U_ALICE", "U_BOB", "U_CAROL", "U_DAN"
MON_FRI = (0, 1, 2, 3, 4)
SUN_THU = (6, 0, 1, 2, 3)

ENG = TeamConfig(name="Engineering", approvals_channel="C_ENG", max_out=1)
ENG2 = TeamConfig(name="Engineering", approvals_channel="C_ENG", max_out=2)
VACATION = LeaveTypeConfig(code="vacation", name="Vacation", annual_allowance_days=Decimal(25),
                           allow_half_days=True, max_consecutive_days=10)
SICK = LeaveTypeConfig(code="sick", name="Sick leave", allow_half_days=True, allow_past_days=1)
UNLIMITED = LeaveTypeConfig(code="unpaid", name="Unpaid", allow_half_days=True)
HOLIDAYS = {date(2026, 12, 25): "Christmas Day", date(2027, 1, 1): "New Year's Day"}
TODAY = date(2026, 12, 1)


def req(start, end, start_half=None, end_half=None, *, user=ALICE, leave_type="vacation"):
    return LeaveRequest(user, leave_type, start, end, start_half, end_half)


def ent(user, start, end, status=APPROVED, *, start_half=None, end_half=None, days=None, id=None,
        leave_type="vacation", team="Engineering", workweek=MON_FRI, holidays=HOLIDAYS):
    if days is None:
        days = request_days(req(start, end, start_half, end_half), workweek, holidays)
    return LedgerEntry(id=id or f"{user}-{start}-{status}", user=user, team=team, leave_type=leave_type,
                       start=start, end=end, start_half=start_half, end_half=end_half, days=Decimal(days),
                       status=status)


def validate(r, *, leave_type=VACATION, team=ENG, holidays=HOLIDAYS, blackouts=(), today=TODAY, ledger=None,
             adjustments=()):
    return validate_request(r, leave_type=leave_type, team=team, holiday_dates=holidays, blackouts=blackouts,
                            today=today, ledger=ledger, adjustments=adjustments)


def balance(year, entries=(), adjustments=(), *, leave_type=VACATION, holidays=HOLIDAYS, workweek=MON_FRI):
    return balance_for(ALICE, leave_type, year, entries=entries, adjustments=adjustments, workweek=workweek,
                       holiday_dates=holidays)


def adj(days, year, id="a1", user=ALICE, leave_type="vacation"):
    return Adjustment(id=id, user=user, leave_type=leave_type, days=Decimal(days), year=year, reason="x", by="U_HR")


# --- Half days at the year end -------------------------------------------------------------------


def test_half_days_at_the_year_end_with_new_years_day_a_holiday():
    r = req(date(2026, 12, 31), date(2027, 1, 1), "pm", "am")
    assert request_days(r, MON_FRI, HOLIDAYS) == Decimal("0.5")
    assert days_by_year(r, MON_FRI, HOLIDAYS) == {2026: Decimal("0.5"), 2027: Decimal(0)}
    assert validate(r) == []


def test_half_days_at_the_year_end_counting_each_year():
    r = req(date(2026, 12, 31), date(2027, 1, 4), "pm", "am")  # Thu pm; Fri 1 Jan holiday; Mon 4 am
    assert days_by_year(r, MON_FRI, HOLIDAYS) == {2026: Decimal("0.5"), 2027: Decimal("0.5")}
    e = ent(ALICE, r.start, r.end, start_half="pm", end_half="am")
    assert entry_days_by_year(e, MON_FRI, HOLIDAYS) == {2026: Decimal("0.5"), 2027: Decimal("0.5")}


def test_a_year_with_half_a_day_left_takes_a_half_day_across_the_year_end():
    r = req(date(2026, 12, 31), date(2027, 1, 4), "pm", "am")
    used = ent(ALICE, date(2026, 1, 5), date(2026, 2, 10), days=Decimal("24.5"), id="used")
    assert balance(2026, [used]).remaining == Decimal("0.5")
    assert validate(r, ledger=[used]) == []
    more = req(date(2026, 12, 30), date(2027, 1, 4), "pm", "am")  # 1.5 in 2026
    errors = validate(more, ledger=[used])
    assert [v.message for v in errors] == ["You have 0.5 days of Vacation left in 2026; this request needs 1.5"]


# --- Leap days and the one-year limit ------------------------------------------------------------


def test_a_leap_day_request_is_charged_to_2028():
    r = req(date(2028, 2, 28), date(2028, 3, 1))  # Mon, Tue 29, Wed
    assert request_days(r, MON_FRI, {}) == 3
    assert days_by_year(r, MON_FRI, {}) == {2028: Decimal(3)}
    assert validate(r, holidays={}, today=date(2027, 12, 1)) == []


def test_a_request_exactly_366_days_long_is_allowed_and_one_more_is_not():
    r = req(date(2028, 2, 29), date(2029, 3, 1))
    assert (r.end - r.start).days == MAX_REQUEST_DAYS
    lt = UNLIMITED
    assert validate(r, leave_type=lt, holidays={}, today=date(2028, 1, 3)) == []
    longer = req(date(2028, 2, 29), date(2029, 3, 2))
    messages = [v.message for v in validate(longer, leave_type=lt, holidays={}, today=date(2028, 1, 3))]
    assert any("at most a year" in m for m in messages)


# --- Holidays -------------------------------------------------------------------------------------


def test_only_working_day_being_a_half_on_a_holiday_is_refused_as_no_working_days():
    r = req(date(2026, 12, 25), date(2026, 12, 25), None, "am")
    errors = validate(r)
    assert len(errors) == 1 and errors[0].field == FIELD_END
    assert "not a working day" in errors[0].message and "Christmas Day" in errors[0].message


def test_a_half_on_a_holiday_next_to_a_weekend_is_no_working_days():
    r = req(date(2026, 12, 25), date(2026, 12, 27), "pm")
    errors = validate(r)
    assert [v.field for v in errors] == [FIELD_END]
    assert request_days(r, MON_FRI, HOLIDAYS) == 0


def test_holidays_on_non_working_days_or_twice_are_not_subtracted_twice():
    team = TeamConfig(name="Engineering", approvals_channel="C", holiday_country="GB", holiday_subdivision="ENG")
    company = [HolidayConfig(date(2027, 12, 25), "Company Christmas"),  # Saturday, public too
               HolidayConfig(date(2027, 12, 27), "Company day")]  # Monday, public "Christmas Day (observed)"
    hol = team_holidays(team, company, [2027])
    assert "Company day" in hol[date(2027, 12, 27)] and "Christmas" in hol[date(2027, 12, 27)]
    r = req(date(2027, 12, 20), date(2027, 12, 31))
    # 10 weekdays minus Mon 27 and Tue 28 (observed Christmas and Boxing Day)
    assert request_days(r, MON_FRI, hol) == 8


def test_sunday_to_thursday_workweek_with_us_holidays():
    team = TeamConfig(name="Tel Aviv", approvals_channel="C", holiday_country="US", workweek=SUN_THU)
    hol = team_holidays(team, (), [2026])
    # Sun 22 Nov – Sat 28 Nov 2026: Thanksgiving Thu 26 is a holiday; Fri/Sat are the weekend.
    r = req(date(2026, 11, 22), date(2026, 11, 28))
    assert working_days(r.start, r.end, SUN_THU, hol) == [date(2026, 11, 22), date(2026, 11, 23),
                                                         date(2026, 11, 24), date(2026, 11, 25)]
    assert request_days(r, SUN_THU, hol) == 4
    # A Friday-only request is not a working day for this team.
    errors = validate(req(date(2026, 11, 27), date(2026, 11, 27)), team=team, holidays=hol, today=date(2026, 11, 1))
    assert [v.field for v in errors] == [FIELD_END]


# --- max_consecutive_days -------------------------------------------------------------------------


def test_max_consecutive_days_counts_working_days_not_calendar_days():
    # Mon 7 – Fri 18 Dec 2026: 12 calendar days, 10 working days: allowed with a limit of 10.
    assert validate(req(date(2026, 12, 7), date(2026, 12, 18))) == []
    errors = validate(req(date(2026, 12, 7), date(2026, 12, 21), None, "am"))  # 10.5
    assert [v.message for v in errors] == [
        "Vacation can be at most 10 working days in a row; this request is 10.5"]


def test_back_to_back_requests_count_as_one_run_for_max_consecutive_days():
    # Mon 7 – Fri 11 Dec approved (5 days); Mon 14 – Mon 21 Dec asked (6 days): 11 in a row over the weekend.
    first = ent(ALICE, date(2026, 12, 7), date(2026, 12, 11))
    errors = validate(req(date(2026, 12, 14), date(2026, 12, 21)), ledger=[first])
    assert [v.message for v in errors] == [
        "Vacation can be at most 10 working days in a row; next to your other Vacation this makes 11, "
        "Mon 7 Dec – Mon 21 Dec"]
    assert [v.field for v in errors] == [FIELD_END]
    # Ten in a row is allowed, and so is a request placed before the other one.
    assert validate(req(date(2026, 12, 14), date(2026, 12, 18)), ledger=[first]) == []
    assert [v.message for v in validate(req(date(2026, 11, 30), date(2026, 12, 4)), today=date(2026, 11, 20),
                                        ledger=[first, ent(ALICE, date(2026, 12, 14), date(2026, 12, 14),
                                                           status=PENDING)])] == [
        "Vacation can be at most 10 working days in a row; next to your other Vacation this makes 11, "
        "Mon 30 Nov – Mon 14 Dec"]


def test_a_run_is_broken_by_a_working_day_half_day_other_type_or_other_person():
    first = ent(ALICE, date(2026, 12, 7), date(2026, 12, 11))
    # A working day between: two runs of 5 and 6.
    assert validate(req(date(2026, 12, 15), date(2026, 12, 22)), ledger=[first]) == []
    # The first ends at noon on Friday: Alice works Friday afternoon.
    morning_only = ent(ALICE, date(2026, 12, 7), date(2026, 12, 11), end_half="am")
    assert validate(req(date(2026, 12, 14), date(2026, 12, 21)), ledger=[morning_only]) == []
    # Sick leave next to vacation, Bob's vacation, and rejected or cancelled leave don't join the run.
    for other in (ent(ALICE, date(2026, 12, 7), date(2026, 12, 11), leave_type="sick"),
                  ent(BOB, date(2026, 12, 7), date(2026, 12, 11)),
                  ent(ALICE, date(2026, 12, 7), date(2026, 12, 11), status=REJECTED),
                  ent(ALICE, date(2026, 12, 7), date(2026, 12, 11), status=CANCELLED)):
        assert validate(req(date(2026, 12, 14), date(2026, 12, 21)), ledger=[other]) == [], other


def test_a_holiday_between_two_requests_does_not_break_the_run():
    # Thu 17 – Thu 24 Dec (6 days) and Mon 28 Dec – Thu 31 Dec (4 days); Fri 25 Dec is a holiday: 10 in a row,
    # allowed; one more day, Fri 1 Jan is a holiday too, so Mon 4 Jan makes 11.
    before = ent(ALICE, date(2026, 12, 17), date(2026, 12, 24))
    assert validate(req(date(2026, 12, 28), date(2026, 12, 31)), ledger=[before]) == []
    after = ent(ALICE, date(2026, 12, 28), date(2026, 12, 31))
    errors = validate(req(date(2027, 1, 4), date(2027, 1, 4)), ledger=[before, after])
    assert [v.message for v in errors] == [
        "Vacation can be at most 10 working days in a row; next to your other Vacation this makes 11, "
        "Thu 17 Dec 2026 – Mon 4 Jan 2027"]


def test_a_type_without_a_longest_request_has_no_run_limit():
    first = ent(ALICE, date(2026, 12, 7), date(2026, 12, 18), leave_type="unpaid")
    assert validate(req(date(2026, 12, 21), date(2026, 12, 31), leave_type="unpaid"), leave_type=UNLIMITED,
                    ledger=[first]) == []


# --- max_out with half days -----------------------------------------------------------------------


def test_a_morning_and_an_afternoon_of_two_people_fill_both_halves_of_max_out_one():
    bob = ent(BOB, date(2026, 12, 14), date(2026, 12, 14), end_half="am")
    carol = ent(CAROL, date(2026, 12, 14), date(2026, 12, 14), start_half="pm")
    full_day = validate(req(date(2026, 12, 14), date(2026, 12, 14)), ledger=[bob, carol])
    assert [v.field for v in full_day] == [FIELD_START]
    # With max_out 2, a whole day beside a morning and an afternoon is 2 out at any moment: allowed.
    assert validate(req(date(2026, 12, 14), date(2026, 12, 14)), team=ENG2, ledger=[bob, carol]) == []
    # Bob's morning leaves the afternoon free with max_out 1.
    assert validate(req(date(2026, 12, 14), date(2026, 12, 14), "pm"), ledger=[bob]) == []


def test_rejected_and_cancelled_leave_never_counts_for_capacity_overlap_or_balance():
    dead = [ent(BOB, date(2026, 12, 14), date(2026, 12, 18), REJECTED, id="b1"),
            ent(CAROL, date(2026, 12, 14), date(2026, 12, 18), CANCELLED, id="c1"),
            ent(ALICE, date(2026, 12, 14), date(2026, 12, 18), CANCELLED, id="a1"),
            ent(ALICE, date(2026, 12, 14), date(2026, 12, 18), REJECTED, id="a2")]
    assert validate(req(date(2026, 12, 14), date(2026, 12, 18)), ledger=dead) == []
    assert balance(2026, dead).remaining == 25
    r = req(date(2026, 12, 14), date(2026, 12, 18))
    assert capacity_violation(r, team=ENG, ledger=dead, holiday_dates=HOLIDAYS) is None


def test_cancelled_leave_across_the_year_end_gives_back_days_in_each_year():
    e = ent(ALICE, date(2026, 12, 28), date(2027, 1, 8), id="x")
    assert e.days == 9
    assert balance(2026, [e]).taken == 4 and balance(2027, [e]).taken == 5
    cancelled = ent(ALICE, date(2026, 12, 28), date(2027, 1, 8), CANCELLED, id="x")
    assert balance(2026, [cancelled]).remaining == 25 and balance(2027, [cancelled]).remaining == 25


def test_a_cancelled_request_may_be_asked_for_again_on_the_same_dates():
    cancelled = ent(ALICE, date(2026, 12, 14), date(2026, 12, 18), CANCELLED, id="x")
    assert validate(req(date(2026, 12, 14), date(2026, 12, 18)), ledger=[cancelled]) == []


def test_own_morning_and_afternoon_of_the_same_day_do_not_overlap_but_two_afternoons_do():
    morning = ent(ALICE, date(2026, 12, 14), date(2026, 12, 14), PENDING, end_half="am")
    assert validate(req(date(2026, 12, 14), date(2026, 12, 16), "pm"), ledger=[morning]) == []
    afternoon = ent(ALICE, date(2026, 12, 11), date(2026, 12, 14), PENDING, start_half=None, end_half=None)
    errors = validate(req(date(2026, 12, 14), date(2026, 12, 16), "pm"), ledger=[afternoon])
    assert [v.message for v in errors] == ["This overlaps your pending leave on Fri 11 Dec – Mon 14 Dec"]


# --- Blackouts ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("start", "end", "refused"), [
    (date(2026, 12, 14), date(2026, 12, 15), True),   # ends on the blackout's first day
    (date(2026, 12, 18), date(2026, 12, 21), True),   # starts on its last day
    (date(2026, 12, 21), date(2026, 12, 22), False),  # the day after
    (date(2026, 12, 10), date(2026, 12, 14), False),  # ends the day before
])
def test_blackout_boundaries_are_inclusive(start, end, refused):
    blackouts = [BlackoutConfig(start=date(2026, 12, 15), end=date(2026, 12, 18), reason="Release")]
    errors = validate(req(start, end), blackouts=blackouts)
    assert bool(errors) == refused


def test_a_blackout_for_another_team_does_not_apply():
    blackouts = [BlackoutConfig(start=date(2026, 12, 15), end=date(2026, 12, 18), team="Sales")]
    assert validate(req(date(2026, 12, 14), date(2026, 12, 18)), blackouts=blackouts) == []


# --- allow_past_days in the requester's zone ------------------------------------------------------


def test_allow_past_days_in_kiritimati_and_pago_pago_when_utc_says_otherwise():
    # 13:00 UTC on Thu 3 Dec 2026: Fri 4 Dec 03:00 in Kiritimati (UTC+14), Thu 3 Dec 02:00 in Pago Pago (UTC−11).
    now = datetime(2026, 12, 3, 13, 0, tzinfo=timezone.utc).timestamp()
    kiritimati = local_today("Pacific/Kiritimati", now)
    pago = local_today("Pacific/Pago_Pago", now)
    assert (kiritimati, pago) == (date(2026, 12, 4), date(2026, 12, 2)) or (kiritimati, pago) == (
        date(2026, 12, 4), date(2026, 12, 3))
    start = date(2026, 12, 2)
    sick = req(start, start, leave_type="sick")
    assert validate(sick, leave_type=SICK, today=kiritimati)  # 2 days in the past there: refused
    assert validate(sick, leave_type=SICK, today=pago) == []


def test_an_unknown_zone_gives_a_days_tolerance_for_the_past():
    sick = req(date(2026, 12, 1), date(2026, 12, 1), leave_type="sick")  # 2 days before UTC's 3 Dec
    assert validate_request(sick, leave_type=SICK, team=ENG, holiday_dates=HOLIDAYS, blackouts=(),
                            today=date(2026, 12, 3), zone_known=False) == []


# --- Allowance with adjustments -------------------------------------------------------------------


def test_fractional_and_negative_adjustments():
    adjustments = [adj("0.5", 2026, "a1"), adj("-3", 2026, "a2"), adj("2", 2027, "a3")]
    taken = ent(ALICE, date(2026, 12, 14), date(2026, 12, 15), id="t")
    b = balance(2026, [taken], adjustments)
    assert (b.adjustments, b.remaining) == (Decimal("-2.5"), Decimal("20.5"))
    text = describe_balance(b, name="Vacation")
    assert text == "Vacation: *20.5 days left* — allowance 25, adjustments -2.5, taken 2, pending 0"


def test_remaining_is_formatted_without_trailing_zeros_or_minus_zero():
    assert format_number(Decimal("2.50")) == "2.5"
    assert format_number(Decimal("-0")) == "0"
    assert format_number(Decimal("-0.0")) == "0"
    assert format_number(Decimal("100")) == "100"
    assert format_number(Decimal("1E+1")) == "10"
    assert format_days(Decimal("1.0")) == "1 day"
    lt = LeaveTypeConfig(code="vacation", name="Vacation", annual_allowance_days=Decimal("2.50"))
    b = balance(2026, [], [adj("-2.5", 2026)], leave_type=lt)
    text = describe_balance(b, name="Vacation")
    assert text == "Vacation: *0 days left* — allowance 2.5, adjustments -2.5, taken 0, pending 0"
    over = balance(2026, [ent(ALICE, date(2026, 12, 14), date(2026, 12, 14), end_half="am", id="h")],
                   [adj("-2.5", 2026)], leave_type=lt)
    assert describe_balance(over, name="Vacation") == (
        "Vacation: *0.5 days over the allowance* — allowance 2.5, adjustments -2.5, taken 0.5, pending 0")


def test_no_yearly_limit_with_adjustments_has_no_remaining_and_no_allowance_refusal():
    b = balance(2026, [ent(ALICE, date(2026, 12, 14), date(2026, 12, 18), leave_type="unpaid", id="u")],
                [adj("-30", 2026, leave_type="unpaid")], leave_type=UNLIMITED)
    assert b.remaining is None and b.taken == 5
    assert validate(req(date(2026, 12, 21), date(2026, 12, 23), leave_type="unpaid"), leave_type=UNLIMITED,
                    ledger=[], adjustments=[adj("-30", 2026, leave_type="unpaid")]) == []


def test_a_negative_adjustment_refuses_a_request_beyond_it():
    errors = validate(req(date(2026, 12, 14), date(2026, 12, 14)), ledger=[], adjustments=[adj("-24.5", 2026)])
    assert [v.message for v in errors] == ["You have 0.5 days of Vacation left in 2026; this request needs 1"]
    errors = validate(req(date(2026, 12, 14), date(2026, 12, 14)), ledger=[], adjustments=[adj("-26", 2026)])
    assert [v.message for v in errors] == ["You have no Vacation left in 2026; this request needs 1"]


def test_sunday_to_thursday_workweek_gets_us_observed_days_as_the_package_gives_them():
    """As the `holidays` package gives them: it shifts a weekend holiday for a Saturday–Sunday weekend.
    A Sunday–Thursday team gets Sun 4 Jul 2027 and the observed Mon 5 Jul both off, and neither
    Sat 4 Jul 2026 nor its observed Fri 3 Jul 2026 (both its weekend)."""
    team = TeamConfig(name="Tel Aviv", approvals_channel="C", holiday_country="US", workweek=SUN_THU)
    hol = team_holidays(team, (), [2026, 2027])
    assert request_days(req(date(2027, 7, 4), date(2027, 7, 8)), SUN_THU, hol) == 3  # Sun–Thu, 2 days off
    assert request_days(req(date(2026, 6, 28), date(2026, 7, 2)), SUN_THU, hol) == 5


def test_capacity_at_approval_counts_halves_and_only_this_teams_approved_leave():
    bob_morning = ent(BOB, date(2026, 12, 14), date(2026, 12, 14), end_half="am", id="b")
    carol_pending = ent(CAROL, date(2026, 12, 14), date(2026, 12, 14), PENDING, id="c")
    sales = ent(DAN, date(2026, 12, 14), date(2026, 12, 14), team="Sales", id="d")
    approved_only = [e for e in (bob_morning, carol_pending, sales) if e.status == APPROVED]
    afternoon = req(date(2026, 12, 14), date(2026, 12, 14), "pm")
    assert capacity_violation(afternoon, team=ENG, ledger=approved_only, holiday_dates=HOLIDAYS) is None
    whole = req(date(2026, 12, 14), date(2026, 12, 14))
    v = capacity_violation(whole, team=ENG, ledger=approved_only, holiday_dates=HOLIDAYS)
    assert v is not None and v.message.startswith("Mon 14 Dec (morning) is full for Engineering: 1 person is")


def test_the_balance_line_under_a_request_reads_as_people_say_it():
    """"3 of 25 days … left", "0 of 1 day … left", and past the allowance (negative adjustments, HR's
    corrections) "2 days over the 25 days", as `/timeoff balance` says it, never "-2 of 25 days left"."""
    one_day = LeaveTypeConfig(code="vacation", name="Vacation", annual_allowance_days=Decimal(1))
    config = WorkspaceConfig(teams=(ENG,), leave_types=(VACATION,))
    request = ent(ALICE, date(2026, 12, 14), date(2026, 12, 16), PENDING, id="r")

    def line(leave_type, adjustments=()):
        ledger = Ledger(entries={}, adjustments={a.id: a for a in adjustments})
        return ledger_context(config, ledger, request, leave_type, today=date(2026, 12, 1)).splitlines()[-1]

    assert line(VACATION).endswith("After this request: 22 of 25 days of Vacation left in 2026")
    assert line(one_day).endswith("After this request: 2 days over the 1 day of Vacation in 2026")
    assert line(VACATION, [adj("-24", 2026)]).endswith("After this request: 2 days over the 1 day of Vacation in 2026")
    assert line(VACATION, [adj("-22", 2026)]).endswith("After this request: 0 of 3 days of Vacation left in 2026")


# --- Half days on days off --------------------------------------------------------------------------


def test_a_half_day_flag_on_a_holiday_or_weekend_is_dropped_from_the_record():
    from approvals.rules import halves_that_count

    # Thu 24 – Fri 25 Dec "ending at noon": Fri 25 Dec is Christmas Day, so the flag takes nothing.
    assert halves_that_count(req(date(2026, 12, 24), date(2026, 12, 25), None, "am"), MON_FRI, HOLIDAYS) == (
        None, None)
    # From Saturday afternoon: the flag on a weekend day goes too; one on a working day stays.
    assert halves_that_count(req(date(2026, 12, 12), date(2026, 12, 16), "pm", "am"), MON_FRI, HOLIDAYS) == (
        None, "am")
    assert halves_that_count(req(date(2026, 12, 14), date(2026, 12, 16), "pm", None), MON_FRI, HOLIDAYS) == (
        "pm", None)
