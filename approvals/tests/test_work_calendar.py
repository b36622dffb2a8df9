"""Working days and holidays: plain pytest, no database.

December 2026 for reference: Mon 21, Thu 24, Fri 25 (Christmas), Sat 26,
Mon 28 (Boxing Day observed in England), Thu 31; Fri 1 Jan 2027.
"""

from datetime import date

import pytest

from approvals.config_types import HolidayConfig, TeamConfig
from approvals.work_calendar import (
    _public_holidays,
    is_working_day,
    public_holidays_between,
    team_holidays,
    working_days,
)

MON_FRI = (0, 1, 2, 3, 4)
SUN_THU = (6, 0, 1, 2, 3)

ENGINEERING = TeamConfig(
    name="Engineering", approvals_channel="C_ENG_APPROVALS", holiday_country="US", holiday_subdivision="CA"
)
LONDON = TeamConfig(name="London", approvals_channel="C_LDN_APPROVALS", holiday_country="GB", holiday_subdivision="ENG")
NOWHERE = TeamConfig(name="Remote", approvals_channel="C_REMOTE_APPROVALS")

COMPANY_DAY = HolidayConfig(date=date(2026, 12, 24), name="Company day")
ENGINEERING_OFFSITE = HolidayConfig(date=date(2026, 12, 30), name="Offsite", team="Engineering")
SALES_PARTY = HolidayConfig(date=date(2026, 12, 29), name="Sales party", team="Sales")
NEXT_YEAR_DAY = HolidayConfig(date=date(2027, 1, 4), name="Recovery day")


def test_it_includes_country_and_subdivision_holidays():
    days = team_holidays(ENGINEERING, (), [2026])
    assert days[date(2026, 11, 26)] == "Thanksgiving Day"
    assert days[date(2026, 3, 31)] == "Cesar Chavez Day"  # California only
    assert days[date(2026, 12, 25)] == "Christmas Day"
    assert date(2026, 12, 28) not in days


def test_it_includes_england_bank_holidays():
    days = team_holidays(LONDON, (), [2026])
    assert days[date(2026, 12, 28)] == "Boxing Day (observed)"
    assert days[date(2026, 4, 6)] == "Easter Monday"
    assert date(2026, 11, 26) not in days


def test_it_adds_company_holidays_for_the_team_and_for_everyone():
    days = team_holidays(ENGINEERING, [COMPANY_DAY, ENGINEERING_OFFSITE, SALES_PARTY], [2026])
    assert days[date(2026, 12, 24)] == "Company day"
    assert days[date(2026, 12, 30)] == "Offsite"
    assert date(2026, 12, 29) not in days


def test_it_joins_names_when_a_company_day_falls_on_a_public_holiday():
    days = team_holidays(ENGINEERING, [HolidayConfig(date=date(2026, 12, 25), name="Office closed")], [2026])
    assert days[date(2026, 12, 25)] == "Christmas Day; Office closed"


def test_a_team_without_a_country_has_only_company_holidays():
    assert team_holidays(NOWHERE, [COMPANY_DAY, SALES_PARTY], [2026]) == {date(2026, 12, 24): "Company day"}


def test_public_holidays_between_two_days_span_the_year_end_both_days_included():
    assert public_holidays_between("GB", "ENG", date(2026, 12, 25), date(2027, 1, 1)) == [
        (date(2026, 12, 25), "Christmas Day"), (date(2026, 12, 26), "Boxing Day"),
        (date(2026, 12, 28), "Boxing Day (observed)"), (date(2027, 1, 1), "New Year's Day")]
    assert public_holidays_between("GB", "ENG", date(2026, 12, 27), date(2026, 12, 27)) == []
    with pytest.raises(NotImplementedError):
        public_holidays_between("XX", None, date(2026, 1, 1), date(2026, 12, 31))


def test_it_covers_only_the_years_asked_for():
    days = team_holidays(ENGINEERING, [COMPANY_DAY, NEXT_YEAR_DAY], [2026, 2027])
    assert date(2027, 1, 1) in days and date(2027, 1, 4) in days and date(2026, 12, 24) in days
    only_2027 = team_holidays(ENGINEERING, [COMPANY_DAY, NEXT_YEAR_DAY], [2027])
    assert all(day.year == 2027 for day in only_2027)


def test_the_package_lookup_is_memoised_and_cannot_be_mutated_by_callers():
    team_holidays(LONDON, (), [2031])
    hits = _public_holidays.cache_info().hits
    first = team_holidays(LONDON, (), [2031])
    first.clear()
    assert _public_holidays.cache_info().hits == hits + 1
    assert team_holidays(LONDON, (), [2031])  # still all there


CHRISTMAS = {date(2026, 12, 25): "Christmas Day"}


@pytest.mark.parametrize(
    ("day", "workweek", "holidays", "expected"),
    [
        pytest.param(date(2026, 12, 21), MON_FRI, {}, True, id="monday"),
        pytest.param(date(2026, 12, 26), MON_FRI, {}, False, id="saturday"),
        pytest.param(date(2026, 12, 27), MON_FRI, {}, False, id="sunday"),
        pytest.param(date(2026, 12, 25), MON_FRI, CHRISTMAS, False, id="holiday-on-a-weekday"),
        pytest.param(date(2026, 12, 25), MON_FRI, set(CHRISTMAS), False, id="holiday-given-as-a-set"),
        pytest.param(date(2026, 12, 27), SUN_THU, {}, True, id="sunday-in-a-sun-thu-week"),
        pytest.param(date(2026, 12, 25), SUN_THU, {}, False, id="friday-in-a-sun-thu-week"),
    ],
)
def test_is_working_day(day, workweek, holidays, expected):
    assert is_working_day(day, workweek, holidays) is expected


@pytest.mark.parametrize(
    ("start", "end", "workweek", "holidays", "expected"),
    [
        pytest.param(
            date(2026, 12, 18), date(2026, 12, 22), MON_FRI, {},
            [date(2026, 12, 18), date(2026, 12, 21), date(2026, 12, 22)], id="skips-the-weekend",
        ),
        pytest.param(
            date(2026, 12, 24), date(2026, 12, 28), MON_FRI, CHRISTMAS,
            [date(2026, 12, 24), date(2026, 12, 28)], id="skips-a-holiday",
        ),
        pytest.param(
            date(2026, 12, 24), date(2026, 12, 28), SUN_THU, {},
            [date(2026, 12, 24), date(2026, 12, 27), date(2026, 12, 28)], id="sun-thu-week",
        ),
        pytest.param(date(2026, 12, 26), date(2026, 12, 27), MON_FRI, {}, [], id="weekend-only"),
        pytest.param(date(2026, 12, 22), date(2026, 12, 21), MON_FRI, {}, [], id="end-before-start"),
        pytest.param(date(2026, 12, 21), date(2026, 12, 21), MON_FRI, {}, [date(2026, 12, 21)], id="one-day"),
        pytest.param(date.max, date.max, tuple(range(7)), {}, [date.max], id="last-representable-day"),
    ],
)
def test_working_days(start, end, workweek, holidays, expected):
    assert working_days(start, end, workweek, holidays) == expected
