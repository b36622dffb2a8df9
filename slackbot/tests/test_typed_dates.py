"""Days as people type them after `/timeoff` (slackbot.typed_dates): pure, `today` passed in."""

from datetime import date

import pytest

from slackbot.typed_dates import days_at, next_weekday, year_later

THURSDAY = date(2026, 12, 3)


def days(text: str, today: date | None = THURSDAY, around: date = THURSDAY):
    found = days_at(text.split(), today=today, around=around)
    # 29 February with no year comes with its question, asked unless a range's other end gives the year.
    return found if isinstance(found, str) or found is None else (found.question or found.days)


@pytest.mark.parametrize("text, expected", [
    ("2026-12-21", (date(2026, 12, 21),)),
    ("21 Dec", (date(2026, 12, 21),)),
    ("Dec 21", (date(2026, 12, 21),)),
    ("december 21st", (date(2026, 12, 21),)),
    ("21st of December", (date(2026, 12, 21),)),
    ("DEC 21 2027", (date(2027, 12, 21),)),
    ("Mon 21 Dec", (date(2026, 12, 21),)),  # as our messages write a day
    ("Mon 21 Dec 2026", (date(2026, 12, 21),)),
    ("Dec 21-23", (date(2026, 12, 21), date(2026, 12, 23))),
    ("21–23 Dec", (date(2026, 12, 21), date(2026, 12, 23))),
    ("sept 2", (date(2027, 9, 2),)),  # a September typed in December: next year's
    ("Jan 5", (date(2027, 1, 5),)),  # typed in December: next month
    ("Nov 30", (date(2026, 11, 30),)),  # last week (sick leave may be in the past)
    ("Nov 2", (date(2026, 11, 2),)),  # a month back at most
    ("Nov 1", (date(2027, 11, 1),)),
    ("today", (THURSDAY,)),
    ("tomorrow", (date(2026, 12, 4),)),
    ("yesterday", (date(2026, 12, 2),)),
    ("friday", (date(2026, 12, 4),)),
    ("thu", (date(2026, 12, 10),)),  # today is Thursday: the next one
    ("next monday", (date(2026, 12, 7),)),
    ("Next Mon", (date(2026, 12, 7),)),
])
def test_days_people_type(text, expected):
    assert days(text) == expected


@pytest.mark.parametrize("text", ["vacation", "may", "21", "12/21", "21.12.2026", "next", "next week", "dec", "Dec 2026"])
def test_words_that_name_no_day(text):
    assert days(text) is None


@pytest.mark.parametrize("text, message", [
    ("2026-02-30", "There is no such date as `2026-02-30`."),
    ("Feb 30", "There is no such date as `Feb 30`."),
    ("31 Apr 2027", "There is no such date as `31 Apr 2027`."),
    ("Dec 21-32", "There is no such date as `Dec 21-32`."),
    ("Feb 29", "Give the year with `Feb 29`: 29 February is only in leap years."),
    ("Tue 21 Dec 2026", "Mon 21 Dec 2026 is a Monday, not a Tuesday."),
])
def test_days_that_do_not_exist_are_named(text, message):
    assert days(text) == message


def test_29_february_with_its_year():
    assert days("29 Feb 2028") == (date(2028, 2, 29),)


def test_words_counting_from_an_unknown_today_name_no_day_yet():
    for text in ("today", "tomorrow", "friday", "next monday"):
        found = days_at(text.split(), today=None, around=THURSDAY)
        assert found.days == () and found.words == len(text.split())
    # A date with its month needs only `around`, which the caller always has.
    assert days("21 Dec", today=None) == (date(2026, 12, 21),)


def test_how_many_words_a_day_takes():
    assert days_at("Mon 21 Dec 2026 vacation".split(), today=THURSDAY, around=THURSDAY).words == 4
    assert days_at("21st of December vacation".split(), today=THURSDAY, around=THURSDAY).words == 3
    assert days_at("next friday sick".split(), today=THURSDAY, around=THURSDAY).words == 2


def test_a_date_without_its_year_is_the_next_one_or_last_months():
    midsummer = date(2026, 7, 1)
    assert days("Dec 28", around=midsummer) == (date(2026, 12, 28),)
    assert days("Jan 2", around=midsummer) == (date(2027, 1, 2),)
    assert days("Jun 1", around=midsummer) == (date(2026, 6, 1),)
    assert days("May 31", around=midsummer) == (date(2026, 5, 31),)  # a month back
    assert days("May 30", around=midsummer) == (date(2027, 5, 30),)
    assert days_at(["Dec", "28"], today=None, around=midsummer).year_given is False
    assert days_at(["Dec", "28", "2026"], today=None, around=midsummer).year_given is True


def test_next_weekday_is_always_ahead():
    for offset in range(7):
        today = date(2026, 12, 7 + offset)
        for weekday in range(7):
            day = next_weekday(today, weekday)
            assert day.weekday() == weekday and 1 <= (day - today).days <= 7


def test_year_later():
    assert year_later(date(2026, 1, 2)) == date(2027, 1, 2)
    assert year_later(date(2028, 2, 29)) == date(2029, 2, 28)
