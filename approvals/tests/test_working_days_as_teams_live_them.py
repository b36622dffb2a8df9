"""Working days as real teams live them, on the pure rules (DESIGN §7): workweeks other than Monday–Friday
(Sunday–Thursday, six days, Tuesday–Saturday), regional public holidays with their observed days, half days
that land on days off, leave across the year end, and a company day HR adds after leave was approved.

No database, no Slack: `today` is passed in and holidays come from `work_calendar.team_holidays`.
"""

from dataclasses import replace
from datetime import date
from decimal import Decimal

from approvals.config_types import HolidayConfig, LeaveTypeConfig, TeamConfig
from approvals.rules import (
    APPROVED,
    FIELD_END,
    FIELD_HALF,
    LeaveRequest,
    LedgerEntry,
    balance_for,
    days_by_year,
    entry_days_by_year,
    request_days,
    validate_request,
)
from approvals.work_calendar import team_holidays, working_days

ALICE = "U_ALICE"
MON_FRI = (0, 1, 2, 3, 4)
SUN_THU = (6, 0, 1, 2, 3)
MON_SAT = (0, 1, 2, 3, 4, 5)
TUE_SAT = (1, 2, 3, 4, 5)

VACATION = LeaveTypeConfig(code="vacation", name="Vacation", annual_allowance_days=Decimal(25),
                           allow_half_days=True, max_consecutive_days=5)
WHOLE_DAYS_ONLY = LeaveTypeConfig(code="training", name="Training", allow_half_days=False)


def team(name="Team", **fields) -> TeamConfig:
    return TeamConfig(name=name, approvals_channel="C_APPROVALS", **fields)


def req(start, end, start_half=None, end_half=None) -> LeaveRequest:
    return LeaveRequest(ALICE, "vacation", start, end, start_half, end_half)


def approved(start, end, days, start_half=None, end_half=None, id="e1") -> LedgerEntry:
    return LedgerEntry(id=id, user=ALICE, team="Team", leave_type="vacation", start=start, end=end,
                       start_half=start_half, end_half=end_half, days=Decimal(days), status=APPROVED)


def validate(request, the_team, holidays, *, leave_type=VACATION, today=date(2026, 11, 2), ledger=None):
    return validate_request(request, leave_type=leave_type, team=the_team, holiday_dates=holidays, blackouts=(),
                            today=today, ledger=ledger)


# --- A company day HR adds after the leave was approved ------------------------------------------------


def test_a_company_day_added_in_the_first_year_after_approval_does_not_charge_the_next_year():
    """Alice's leave Tue 26 Dec 2028 – Fri 5 Jan 2029 was approved as 8 working days on her US/California
    team: 4 in 2028 (Christmas Day is Mon 25) and 4 in 2029 (New Year's Day is Mon 1). HR then makes
    Fri 29 Dec 2028 a company day. Nothing changed in 2029: her 2029 balance must still be charged the 4
    days she takes in 2029, and the stored total (the record) still adds up over the two years."""
    california = team(holiday_country="US", holiday_subdivision="CA")
    booked_on = team_holidays(california, (), range(2027, 2031))
    leave = req(date(2028, 12, 26), date(2029, 1, 5))
    assert days_by_year(leave, MON_FRI, booked_on) == {2028: Decimal(4), 2029: Decimal(4)}
    # As the app records it: the total, and its split by year as counted when it was sent.
    entry = replace(approved(leave.start, leave.end, request_days(leave, MON_FRI, booked_on)),
                    days_by_year=tuple(days_by_year(leave, MON_FRI, booked_on).items()))
    assert entry.days == 8

    company_day = HolidayConfig(date=date(2028, 12, 29), name="Company day")
    now = team_holidays(california, (company_day,), range(2027, 2031))

    split = entry_days_by_year(entry, MON_FRI, now)
    assert sum(split.values()) == entry.days  # the record's total is kept
    assert split[2029] == 4, f"2029 is charged {split[2029]} days for the 4 working days taken in it"
    taken_2029 = balance_for(ALICE, VACATION, 2029, entries=[entry], adjustments=(), workweek=MON_FRI,
                             holiday_dates=now).taken
    assert taken_2029 == 4


# --- Workweeks other than Monday–Friday --------------------------------------------------------------


def test_a_tuesday_to_saturday_team_counts_saturday_and_not_monday():
    """A shop team works Tuesday–Saturday: Sat–Tue is Saturday and Tuesday; a half day starting on the
    Monday (its day off) takes nothing off; Sunday and Monday alone are no working days."""
    shop = team(workweek=TUE_SAT)
    assert request_days(req(date(2026, 12, 12), date(2026, 12, 15)), TUE_SAT, {}) == 2
    assert request_days(req(date(2026, 12, 14), date(2026, 12, 16), "pm"), TUE_SAT, {}) == 2
    assert request_days(req(date(2026, 12, 8), date(2026, 12, 12), None, "am"), TUE_SAT, {}) == Decimal("4.5")
    errors = validate(req(date(2026, 12, 13), date(2026, 12, 14)), shop, {})
    assert [(v.field, v.message) for v in errors] == [
        (FIELD_END, "Sun 13 Dec – Mon 14 Dec are not working days for Team")]


def test_max_consecutive_days_counts_a_tuesday_to_saturday_week_with_a_holiday_and_half_days():
    """Max 5 in a row: Fri pm – next Sat am is Fri ½, Sat, (Sun, Mon off), Tue, (Wed a holiday), Thu, Fri,
    Sat ½ = 5 over 9 calendar days; the whole first Friday makes it 5.5."""
    shop = team(workweek=TUE_SAT)
    holidays = {date(2026, 12, 9): "Company day"}
    assert validate(req(date(2026, 12, 4), date(2026, 12, 12), "pm", "am"), shop, holidays) == []
    errors = validate(req(date(2026, 12, 4), date(2026, 12, 12), None, "am"), shop, holidays)
    assert [v.message for v in errors] == ["Vacation can be at most 5 working days in a row; this request is 5.5"]


def test_a_six_day_week_counts_saturday_and_a_sunday_to_thursday_week_skips_friday():
    assert request_days(req(date(2026, 12, 7), date(2026, 12, 13)), MON_SAT, {}) == 6
    assert request_days(req(date(2026, 12, 7), date(2026, 12, 13)), SUN_THU, {}) == 5
    # A Sunday–Thursday half day ending on the Friday (its weekend) takes nothing off.
    assert request_days(req(date(2026, 12, 6), date(2026, 12, 11), None, "am"), SUN_THU, {}) == 5


def test_a_sunday_to_thursday_team_in_saudi_arabia_takes_eid_off_and_not_its_weekend():
    """Eid al-Fitr 2026 as the package gives it for SA: Thu 19 – Tue 24 Mar (observed days included).
    Sun 15 – Thu 26 Mar is then 6 working days (Sun 15 – Wed 18, Wed 25, Thu 26); with half days at both
    ends, 5."""
    riyadh = team(holiday_country="SA", workweek=SUN_THU)
    holidays = team_holidays(riyadh, (), [2026])
    days = working_days(date(2026, 3, 15), date(2026, 3, 26), SUN_THU, holidays)
    assert days == [date(2026, 3, 15), date(2026, 3, 16), date(2026, 3, 17), date(2026, 3, 18),
                    date(2026, 3, 25), date(2026, 3, 26)]
    assert request_days(req(date(2026, 3, 15), date(2026, 3, 26), "pm", "am"), SUN_THU, holidays) == 5


# --- Regional public holidays and their observed days -----------------------------------------------------


def test_bavaria_takes_epiphany_and_corpus_christi_off_and_berlin_does_not():
    bavaria = team_holidays(team(holiday_country="DE", holiday_subdivision="BY"), (), [2026])
    berlin = team_holidays(team(holiday_country="DE", holiday_subdivision="BE"), (), [2026])
    epiphany_week = req(date(2026, 1, 5), date(2026, 1, 9))  # Mon–Fri; Epiphany is Tue 6 Jan
    corpus_christi_week = req(date(2026, 6, 1), date(2026, 6, 5))  # Corpus Christi is Thu 4 Jun
    assert request_days(epiphany_week, MON_FRI, bavaria) == 4
    assert request_days(epiphany_week, MON_FRI, berlin) == 5
    assert request_days(corpus_christi_week, MON_FRI, bavaria) == 4
    assert request_days(corpus_christi_week, MON_FRI, berlin) == 5


def test_scotland_across_the_year_end_with_half_days_at_both_ends_and_the_observed_new_year_holiday():
    """GB-SCT: 2 Jan 2027 (a Saturday) is observed on Mon 4 Jan. Thu 31 Dec 2026 pm – Tue 5 Jan 2027 am is
    then half a day in each year: Fri 1 Jan, the weekend and Mon 4 Jan are all off."""
    scotland = team(holiday_country="GB", holiday_subdivision="SCT")
    holidays = team_holidays(scotland, (), [2026, 2027])
    leave = req(date(2026, 12, 31), date(2027, 1, 5), "pm", "am")
    assert days_by_year(leave, MON_FRI, holidays) == {2026: Decimal("0.5"), 2027: Decimal("0.5")}
    assert validate(leave, scotland, holidays) == []


def test_new_south_wales_gets_anzac_day_observed_on_the_monday_when_it_falls_on_a_saturday():
    nsw = team_holidays(team(holiday_country="AU", holiday_subdivision="NSW"), (), [2026])
    assert request_days(req(date(2026, 4, 27), date(2026, 5, 1)), MON_FRI, nsw) == 4  # Mon 27 Apr observed


def test_public_holidays_five_years_ahead_are_known_for_the_last_year_leave_may_start():
    """A request may start up to the end of the fifth year ahead: that year's holidays (and the next one's,
    for leave running into it) come from the package like this year's."""
    bavaria = team(holiday_country="DE", holiday_subdivision="BY")
    holidays = team_holidays(bavaria, (), [2031, 2032])
    leave = req(date(2031, 12, 22), date(2032, 1, 9))
    # 15 weekdays minus Christmas (Thu 25), St Stephen's (Fri 26), New Year (Thu 1), Epiphany (Tue 6 Jan 2032)
    assert request_days(leave, MON_FRI, holidays) == 11
    assert validate(leave, bavaria, holidays, leave_type=LeaveTypeConfig(code="vacation", name="Vacation"),
                    today=date(2026, 12, 3)) == []


# --- Half days where they are not allowed or make no sense -------------------------------------------------


def test_half_days_on_a_whole_day_type_are_refused_even_on_a_day_off():
    errors = validate(req(date(2026, 12, 5), date(2026, 12, 7), "pm"), team(), {}, leave_type=WHOLE_DAYS_ONLY)
    assert [(v.field, v.message) for v in errors] == [(FIELD_HALF, "Training can't be taken in half days")]


# --- Leave across Easter and the change to summer time --------------------------------------------------


def test_leave_after_easter_and_the_clock_change_is_reminded_on_maundy_thursday_and_digested_on_tuesday():
    """Munich: Good Friday (26 Mar 2027) and Easter Monday (29 Mar) are holidays, and the clocks go forward
    on Sunday 28 Mar. Leave from Sat 27 Mar to Fri 2 Apr is 4 working days; its reminder is due on Thursday
    25 Mar (the last working day before it), not on the holidays; the week's digest at 09:00 goes out on
    Tuesday 30 Mar at 07:00 UTC (summer time), not an hour late or early."""
    from datetime import datetime, time, timezone

    from approvals.config_types import WorkspaceConfig
    from approvals.jobs import WEEKLY_DIGEST, due_jobs, reminders_due

    munich = TeamConfig(name="Munich", approvals_channel="C_MUC", announce_channel="C_MUC_ALL",
                        holiday_country="DE", holiday_subdivision="BY", timezone="Europe/Berlin",
                        digest_time=time(9, 0))
    holidays = team_holidays(munich, (), [2026, 2027, 2028])
    leave = LedgerEntry(id="e1", user=ALICE, team="Munich", leave_type="vacation", start=date(2027, 3, 27),
                        end=date(2027, 4, 2), start_half=None, end_half=None, days=Decimal(4), status=APPROVED)
    assert request_days(leave, MON_FRI, holidays) == 4
    assert [day for day in (date(2027, 3, 24), date(2027, 3, 25))
            if reminders_due([leave], munich, day, holidays)] == [date(2027, 3, 25)]
    config = WorkspaceConfig(teams=(munich,))
    assert not [j for j in due_jobs(config, datetime(2027, 3, 26, 12, 0, tzinfo=timezone.utc)) if j.team]
    assert not [j for j in due_jobs(config, datetime(2027, 3, 29, 12, 0, tzinfo=timezone.utc)) if j.team]
    early = due_jobs(config, datetime(2027, 3, 30, 6, 59, tzinfo=timezone.utc))
    on_time = due_jobs(config, datetime(2027, 3, 30, 7, 0, tzinfo=timezone.utc))
    assert WEEKLY_DIGEST not in [j.job for j in early]
    assert [(j.job, j.day) for j in on_time if j.job == WEEKLY_DIGEST] == [(WEEKLY_DIGEST, "2027-03-30")]
