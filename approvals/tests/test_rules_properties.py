"""Properties of the day counting and the ledger format, checked with hypothesis."""

import json
from datetime import date, timedelta
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from approvals.ledger_format import (
    adjustment_from_metadata,
    adjustment_metadata,
    entry_from_metadata,
    request_metadata,
)
from approvals.config_types import LeaveTypeConfig
from approvals.rules import (
    AM,
    FIELD_START,
    PM,
    STATUSES,
    Adjustment,
    LeaveRequest,
    LedgerEntry,
    basic_violations,
    days_by_year,
    format_range,
    request_days,
)
from approvals.work_calendar import is_working_day

# Calendar lengths of a few weeks are enough to cross weekends, holidays and year ends.
FIRST_DAY = date(2025, 11, 1)
LAST_DAY = date(2028, 2, 28)

days = st.dates(min_value=FIRST_DAY, max_value=LAST_DAY)
workweeks = st.sets(st.integers(0, 6)).map(tuple)
holiday_sets = st.sets(days, max_size=30)
halves = st.sampled_from([None, AM, PM])


@st.composite
def requests(draw, *, start_half=halves, end_half=halves):
    start = draw(days)
    end = start + timedelta(days=draw(st.integers(0, 60)))
    return LeaveRequest(
        user="U_ALICE", leave_type="vacation", start=start, end=end,
        start_half=draw(start_half), end_half=draw(end_half),
    )


@given(requests(), workweeks, holiday_sets)
def test_request_days_is_between_zero_and_the_calendar_length(request, workweek, holidays):
    total = request_days(request, workweek, holidays)
    assert 0 <= total <= (request.end - request.start).days + 1
    assert total % Decimal("0.5") == 0


@given(requests(), workweeks, holiday_sets)
def test_request_days_equals_the_sum_of_days_by_year(request, workweek, holidays):
    by_year = days_by_year(request, workweek, holidays)
    assert sum(by_year.values()) == request_days(request, workweek, holidays)
    assert sorted(by_year) == list(range(request.start.year, request.end.year + 1))


@given(requests(start_half=st.none(), end_half=st.none()), workweeks, holiday_sets)
def test_a_half_day_at_the_start_takes_off_exactly_half_a_working_day(request, workweek, holidays):
    whole = request_days(request, workweek, holidays)
    halved = request_days(
        LeaveRequest(request.user, request.leave_type, request.start, request.end, start_half=PM), workweek, holidays
    )
    expected = Decimal("0.5") if is_working_day(request.start, workweek, holidays) else Decimal(0)
    assert whole - halved == expected


@given(requests(start_half=st.none(), end_half=st.none()), workweeks, holiday_sets)
def test_a_half_day_at_the_end_takes_off_exactly_half_a_working_day(request, workweek, holidays):
    whole = request_days(request, workweek, holidays)
    halved = request_days(
        LeaveRequest(request.user, request.leave_type, request.start, request.end, end_half=AM), workweek, holidays
    )
    expected = Decimal("0.5") if is_working_day(request.end, workweek, holidays) else Decimal(0)
    assert whole - halved == expected


@given(requests(start_half=st.none(), end_half=st.none()).filter(lambda r: r.start < r.end), workweeks, holiday_sets)
def test_half_days_at_both_ends_of_a_multi_day_request_add_up(request, workweek, holidays):
    whole = request_days(request, workweek, holidays)
    both = request_days(
        LeaveRequest(request.user, request.leave_type, request.start, request.end, start_half=PM, end_half=AM),
        workweek, holidays,
    )
    ends = [request.start, request.end]
    assert whole - both == Decimal("0.5") * sum(is_working_day(day, workweek, holidays) for day in ends)


# --- Years: shown when not this year's; accepted up to the end of the fifth year ahead -----

any_days = st.dates(min_value=date(1000, 1, 1), max_value=date(9998, 12, 31))  # a year is never a day number


@given(any_days, st.integers(0, 400), any_days)
def test_a_range_names_its_years_unless_it_lies_in_todays_year(start, length, today):
    end = min(start + timedelta(days=length), date(9999, 12, 31))
    text = format_range(start, end, today=today)
    named = {str(start.year), str(end.year)} <= set(text.split())
    assert named == (not start.year == end.year == today.year)


@given(any_days, any_days)
def test_a_start_more_than_five_years_ahead_is_refused_naming_its_year(start, today):
    anything = LeaveTypeConfig(code="any", name="Any")
    request = LeaveRequest(user="U_ALICE", leave_type="any", start=start, end=start)
    violations = basic_violations(request, leave_type=anything, today=today)
    too_far = [v for v in violations if "years ahead" in v.message]
    assert bool(too_far) == (start.year > today.year + 5)
    assert all(v.field == FIELD_START and v.message.startswith(f"It starts in {start.year}:") for v in too_far)


# --- Ledger format ---------------------------------------------------------------

texts = st.text(min_size=1, max_size=40)
optional_texts = st.none() | st.text(max_size=200)
day_counts = st.integers(0, 2 * 366).map(lambda halves: Decimal(halves) / 2)


@st.composite
def ledger_entries(draw):
    start = draw(st.dates(min_value=date(1, 1, 1), max_value=date(9999, 1, 1)))
    end = start + timedelta(days=draw(st.integers(0, 400)))
    return LedgerEntry(
        id=draw(texts), user=draw(texts), team=draw(texts), leave_type=draw(texts),
        start=start, end=end, start_half=draw(halves), end_half=draw(halves),
        days=draw(day_counts), status=draw(st.sampled_from(STATUSES)),
        decided_by=draw(st.none() | texts),
        decided_at=draw(st.none() | st.integers(0, 2**53)),
        reason=draw(optional_texts),
    )


@given(ledger_entries())
def test_request_metadata_round_trips(entry):
    assert entry_from_metadata(request_metadata(entry)) == entry
    # ... and still does after the JSON trip to Slack and back.
    assert entry_from_metadata(json.loads(json.dumps(request_metadata(entry)))) == entry


@given(
    st.builds(
        Adjustment,
        id=texts, user=texts, leave_type=texts,
        days=st.integers(-4 * 366, 4 * 366).map(lambda quarters: Decimal(quarters) / 4),
        year=st.integers(1, 9999), reason=st.text(max_size=200), by=texts,
    )
)
def test_adjustment_metadata_round_trips(adjustment):
    assert adjustment_from_metadata(json.loads(json.dumps(adjustment_metadata(adjustment)))) == adjustment


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5),
    max_leaves=30,
)

# Near misses reach the field checks, not just the first isinstance: a real
# payload with some keys replaced by arbitrary JSON values or dropped.
PAYLOAD_KEYS = [
    "v", "id", "user", "team", "type", "start", "end", "start_half", "end_half",
    "days", "status", "decided_by", "decided_at", "reason", "year", "by",
]


@st.composite
def near_misses(draw):
    base = request_metadata(draw(ledger_entries()))
    payload = dict(base["event_payload"])
    for key in draw(st.lists(st.sampled_from(PAYLOAD_KEYS), max_size=4)):
        if draw(st.booleans()):
            payload.pop(key, None)
        else:
            payload[key] = draw(json_values)
    event_type = draw(st.sampled_from(["timeoff_request", "timeoff_adjustment", "other"]))
    return {"event_type": event_type, "event_payload": payload}


@settings(max_examples=300)
@given(json_values | near_misses())
def test_reading_metadata_never_raises(metadata):
    entry = entry_from_metadata(metadata)
    assert entry is None or isinstance(entry, LedgerEntry)
    adjustment = adjustment_from_metadata(metadata)
    assert adjustment is None or isinstance(adjustment, Adjustment)
