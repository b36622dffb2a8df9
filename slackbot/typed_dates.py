"""Days as people type them after `/timeoff`: `2026-12-21`, `21 Dec`, `December 21st 2026`, `Mon 21 Dec`
(as our own messages write a day, pasted back), `Dec 21-23`, `tomorrow`, `friday`, `next monday`.

Pure: no Django, no Slack, no clock. The caller passes the person's `today` (None while their time zone
is not known: then the words that count from today leave the day to the form rather than guess one that
may be off by one) and `around`, the day a date typed without its year is placed near.

Only English names, and no order of day and month that would be a guess: `12/21` and `21.12.2026` are
not read here, and the caller refuses them.
"""

import calendar
import re
from dataclasses import dataclass
from datetime import date, timedelta

from approvals.config_fields import ISO_DATE
from approvals.rules import format_day

MONTHS = {name: number for number, names in enumerate([
    ("january", "jan"), ("february", "feb"), ("march", "mar"), ("april", "apr"), ("may",), ("june", "jun"),
    ("july", "jul"), ("august", "aug"), ("september", "sep", "sept"), ("october", "oct"),
    ("november", "nov"), ("december", "dec"),
], start=1) for name in names}
WEEKDAYS = {name: number for number, names in enumerate([
    ("monday", "mon"), ("tuesday", "tue", "tues"), ("wednesday", "wed", "weds"), ("thursday", "thu", "thur", "thurs"),
    ("friday", "fri"), ("saturday", "sat"), ("sunday", "sun"),
]) for name in names}
WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
# Days named from today: the person's own today (their Slack time zone).
RELATIVE_DAYS = {"yesterday": -1, "today": 0, "tomorrow": 1}

# "21", "21st", "2nd"; "21-23" (days of one month); a four-digit year. ASCII digits only, as ISO_DATE.
DAY_OF_MONTH = re.compile(r"([0-9]{1,2})(?:st|nd|rd|th)?")
DAYS_OF_MONTH = re.compile(r"([0-9]{1,2})(?:st|nd|rd|th)?(?:-|–|—)([0-9]{1,2})(?:st|nd|rd|th)?")
YEAR = re.compile(r"[0-9]{4}")


@dataclass(frozen=True)
class TypedDays:
    """What the words at the start of a command's rest name: one day, or the two ends of `Dec 21-23`.
    `days` is empty when they count from a today not known yet. `year_given`: the year was typed (or the
    day counts from today), so the caller does not move it to make a range run forwards. `question`: what to
    ask unless the range's other end gives the year (`Feb 29` alone: 29 February of the next leap year)."""
    days: tuple[date, ...]
    words: int
    year_given: bool = True
    question: str | None = None


def days_at(words: list[str], *, today: date | None, around: date) -> TypedDays | str | None:
    """The day (or days) `words` begin with; None when they do not begin with one; a message when they
    name a day that does not exist (`2026-02-30`, `Feb 30`) or a weekday that is not the date's."""
    first = words[0].casefold()
    if ISO_DATE.fullmatch(first):
        try:
            return TypedDays((date.fromisoformat(first),), 1)
        except ValueError:
            return f"There is no such date as `{words[0]}`."
    if first in RELATIVE_DAYS:
        return TypedDays(() if today is None else (today + timedelta(days=RELATIVE_DAYS[first]),), 1)
    weekday = WEEKDAYS.get(first)
    if weekday is not None and (dated := month_day_at(words[1:], around)) is not None:
        # "Mon 21 Dec", as our messages write a day: the weekday must be the date's.
        if isinstance(dated, str) or len(dated.days) > 1:
            return dated
        if dated.question:  # a weekday names one date: which year's is not for us to guess
            return dated.question
        if dated.days[0].weekday() != weekday:
            day = dated.days[0]
            return f"{format_day(day, with_year=True)} is a {WEEKDAY_NAMES[day.weekday()]}, not a {WEEKDAY_NAMES[weekday]}."
        return TypedDays(dated.days, dated.words + 1, dated.year_given)
    if weekday is not None:
        return TypedDays(() if today is None else (next_weekday(today, weekday),), 1)
    if first == "next" and len(words) > 1 and (weekday := WEEKDAYS.get(words[1].casefold())) is not None:
        return TypedDays(() if today is None else (next_weekday(today, weekday),), 2)
    return month_day_at(words, around)


def next_weekday(today: date, weekday: int) -> date:
    """The first such weekday after today: on a Friday, "friday" and "next friday" are a week ahead."""
    return today + timedelta(days=(weekday - today.weekday() - 1) % 7 + 1)


def month_day_at(words: list[str], around: date) -> TypedDays | str | None:
    """`21 Dec`, `21st of December`, `Dec 21`, `December 21st`, each with an optional year after it, and
    `Dec 21-23` or `21-23 Dec` for days of one month."""
    folded = [word.casefold() for word in words[:4]]
    if len(folded) >= 2 and folded[0] in MONTHS:  # Dec 21
        month, day_word, used = MONTHS[folded[0]], folded[1], 2
    elif len(folded) >= 2 and folded[1] in MONTHS:  # 21 Dec
        month, day_word, used = MONTHS[folded[1]], folded[0], 2
    elif len(folded) >= 3 and folded[1] == "of" and folded[2] in MONTHS:  # 21st of December
        month, day_word, used = MONTHS[folded[2]], folded[0], 3
    else:
        return None
    if one := DAY_OF_MONTH.fullmatch(day_word):
        numbers = (int(one.group(1)),)
    elif both := DAYS_OF_MONTH.fullmatch(day_word):
        numbers = (int(both.group(1)), int(both.group(2)))
    else:
        return None
    year = int(folded[used]) if len(folded) > used and YEAR.fullmatch(folded[used]) else None
    typed = " ".join(words[:used + (year is not None)])
    days = []
    for number in numbers:
        # The days of one month (`Dec 1-5`) are of one year: the first day's.
        day = on_day(year, month, number, around) if not days else on_day(days[0].year, month, number, around)
        if day is None and (month, number, year) == (2, 29, None) and len(numbers) == 1:
            # The other end of a range may give the year (`Feb 29 to Mar 3 2028`): asked only if it does not.
            return TypedDays((date(_leap_year_from(around.year), 2, 29),), used, year_given=False,
                             question=f"Give the year with `{typed}`: 29 February is only in leap years.")
        if day is None and (month, number, year) == (2, 29, None):
            return f"Give the year with `{typed}`: 29 February is only in leap years."
        if day is None:
            return f"There is no such date as `{typed}`."
        days.append(day)
    return TypedDays(tuple(days), used + (year is not None), year_given=year is not None)


def later_day_of_month(first: date, number: int, year_given: bool, typed: str) -> TypedDays | str:
    """`23` after `Dec 21` (`Dec 21 - 23`): that day of the first day's month and year, on or after it."""
    try:
        day = first.replace(day=number)
    except ValueError:
        return f"There is no such date as `{typed}` in {first.strftime('%B')}."
    if day < first:
        following = date(first.year + first.month // 12, first.month % 12 + 1, 1).strftime("%b")
        return (f"`{typed}` comes before {format_day(first)}: give the last day with its month "
                f"(`{first.strftime('%b')} {first.day} to {following} {number}`).")
    return TypedDays((day,), 1, year_given=year_given)


def _leap_year_from(year: int) -> int:
    while not calendar.isleap(year):
        year += 1
    return year


# How far back a date typed without its year may lie: last week's sick day is in the past, while a
# September typed in December means next September.
PAST_WINDOW = timedelta(days=31)


def on_day(year: int | None, month: int, number: int, around: date) -> date | None:
    """That day of that year; without a year, the first one from a month before `around` on (`Nov 30`
    typed on 3 December is last week, `Jan 5` or `Sep 2` typed then is next year's)."""
    for candidate in [year] if year is not None else [around.year - 1, around.year, around.year + 1]:
        try:
            day = date(candidate, month, number)
        except ValueError:  # 30 Feb; 29 Feb outside a leap year
            continue
        if year is not None:
            return day
        # Within the year from a month back: 29 Feb typed in January 2027 is no date (this February has
        # none), not one of February 2028, thirteen months away.
        window_start = around - PAST_WINDOW
        if window_start <= day < in_year(window_start, window_start.year + 1):
            return day
    return None


def first_on_or_after(day: date, first: date) -> date:
    """The first date on or after `first` with `day`'s month and day, within a year of it (29 February
    only where that year has one); else `day` moved into the year after (28 February for the 29th)."""
    for year in (first.year, first.year + 1):
        try:
            found = date(year, day.month, day.day)
        except ValueError:
            continue
        if found >= first:
            return found
    return year_later(in_year(day, first.year))


def last_on_or_before(day: date, last: date) -> date:
    """The last date on or before `last` with `day`'s month and day: `first_on_or_after` backwards."""
    for year in (last.year, last.year - 1):
        try:
            found = date(year, day.month, day.day)
        except ValueError:
            continue
        if found <= last:
            return found
    return in_year(day, last.year - 1)


def year_later(day: date) -> date:
    """The same day a year on (28 Feb for 29 Feb): for a range typed without years whose last day reads
    before its first (`Dec 28 to Jan 2`)."""
    return in_year(day, day.year + 1)


def in_year(day: date, year: int) -> date:
    """The same day in `year` (28 Feb for 29 Feb where it has none)."""
    try:
        return day.replace(year=year)
    except ValueError:
        return day.replace(year=year, day=28)
