"""Which days are working days for a team: its workweek, public holidays and company days.

Pure functions over plain data (DESIGN §7). Public holidays come from the
`holidays` package, which computes them from rules in code: no I/O, so a
per-(country, subdivision, year) memo is safe and saves the rule evaluation
on every request.
"""

from collections.abc import Container, Iterable
from datetime import date, timedelta
from functools import lru_cache

import holidays

from approvals.config_types import HolidayConfig, TeamConfig


@lru_cache(maxsize=512)
def _public_holidays(country: str, subdivision: str | None, year: int) -> tuple[tuple[date, str], ...]:
    # A tuple, not the package's dict, so a caller cannot mutate the memo.
    # Raises NotImplementedError for an unknown country or subdivision, as
    # the package does; configuration import is where that is reported.
    # English names: they appear in English messages ("Fri 25 Dec is not a working
    # day … (Christmas Day)"). Countries without an English translation keep
    # their own language; the package falls back rather than raising.
    calendar = holidays.country_holidays(country, subdiv=subdivision, years=year, language="en_US")
    return tuple(sorted(calendar.items()))


def team_holidays(
    team: TeamConfig, company_holidays: Iterable[HolidayConfig], years: Iterable[int]
) -> dict[date, str]:
    """The team's holidays in `years`: public holidays of its country/subdivision plus company days.

    Company days apply when their `team` is None (every team) or this team's
    name. A date that is both gets both names, joined with "; ".
    """
    wanted = sorted(set(years))
    result: dict[date, str] = {}
    if team.holiday_country:
        for year in wanted:
            for day, name in _public_holidays(team.holiday_country, team.holiday_subdivision or None, year):
                result[day] = name
    year_set = set(wanted)
    for holiday in company_holidays:
        if holiday.team not in (None, team.name) or holiday.date.year not in year_set:
            continue
        existing = result.get(holiday.date)
        if existing is None:
            result[holiday.date] = holiday.name
        elif holiday.name not in existing.split("; "):
            result[holiday.date] = f"{existing}; {holiday.name}"
    return dict(sorted(result.items()))


def public_holidays_between(country: str, subdivision: str | None, start: date, end: date) -> list[tuple[date, str]]:
    """The public holidays of `country` (and `subdivision`) from `start` to `end`, both included, by date.
    NotImplementedError for a country or subdivision the `holidays` package does not know."""
    return [(day, name) for year in range(start.year, end.year + 1)
            for day, name in _public_holidays(country, subdivision or None, year) if start <= day <= end]


def is_working_day(day: date, workweek: Iterable[int], holiday_dates: Container[date]) -> bool:
    """True when `day` is one of the workweek's weekdays (Monday is 0) and not a holiday."""
    return day.weekday() in tuple(workweek) and day not in holiday_dates


def nearest_working_day(day: date, step: int, workweek: Iterable[int], holiday_dates: Container[date]) -> date | None:
    """The nearest working day after (`step` 1) or before (-1) `day`, looking at most a year away: past a
    summer or winter shutdown, and never for ever (a team whose week has no working day)."""
    weekdays = frozenset(workweek)
    for offset in range(1, 367):
        candidate = day + timedelta(days=step * offset)
        if candidate.weekday() in weekdays and candidate not in holiday_dates:
            return candidate
    return None


def working_days(
    start: date, end: date, workweek: Iterable[int], holiday_dates: Container[date]
) -> list[date]:
    """The working days from `start` to `end`, both included; empty when `end` is before `start`."""
    weekdays = frozenset(workweek)
    # Counting offsets rather than stepping a date: `date.max + 1 day` overflows.
    every_day = (start + timedelta(days=offset) for offset in range((end - start).days + 1))
    return [day for day in every_day if day.weekday() in weekdays and day not in holiday_dates]
