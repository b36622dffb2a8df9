"""The public ledger format of DESIGN §5: exact shapes out, defensive reading in."""

import copy
import json
from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest

from approvals.ledger_format import (
    ADJUSTMENT_EVENT_TYPE,
    LEDGER_VERSION,
    REQUEST_EVENT_TYPE,
    REQUEST_KEYS,
    adjustment_from_metadata,
    adjustment_metadata,
    entry_from_metadata,
    request_metadata,
)
from approvals.rules import APPROVED, PENDING, Adjustment, LedgerEntry

DECIDED = LedgerEntry(
    id="5b0c1f6e-8a39-4d3e-9f53-2b7b8f0f3a11",
    user="U_ALICE",
    team="Engineering",
    leave_type="vacation",
    start=date(2026, 12, 21),
    end=date(2026, 12, 23),
    start_half=None,
    end_half="am",
    days=Decimal("2.5"),
    status=APPROVED,
    decided_by="U_BOB",
    decided_at=1766000000,
    reason="Enjoy",
)

DECIDED_METADATA = {
    "event_type": "timeoff_request",
    "event_payload": {
        "v": 1,
        "id": "5b0c1f6e-8a39-4d3e-9f53-2b7b8f0f3a11",
        "user": "U_ALICE",
        "team": "Engineering",
        "type": "vacation",
        "start": "2026-12-21",
        "end": "2026-12-23",
        "end_half": "am",
        "days": 2.5,
        "status": "approved",
        "decided_by": "U_BOB",
        "decided_at": 1766000000,
        "reason": "Enjoy",
    },
}

CARRY_OVER = Adjustment(
    id="0d7c", user="U_ALICE", leave_type="vacation", days=Decimal("-1.5"), year=2027, reason="Carry-over", by="U_HR"
)
CARRY_OVER_METADATA = {
    "event_type": "timeoff_adjustment",
    "event_payload": {
        "v": 1, "id": "0d7c", "user": "U_ALICE", "type": "vacation", "days": -1.5, "year": 2027,
        "reason": "Carry-over", "by": "U_HR",
    },
}


def test_constants():
    assert (REQUEST_EVENT_TYPE, ADJUSTMENT_EVENT_TYPE, LEDGER_VERSION) == ("timeoff_request", "timeoff_adjustment", 1)


def test_request_metadata_has_exactly_the_documented_shape():
    metadata = request_metadata(DECIDED)
    assert metadata == DECIDED_METADATA
    assert type(metadata["event_payload"]["days"]) is float
    # What chat.postMessage receives is JSON; a whole number of days is still a JSON float.
    assert json.loads(json.dumps(request_metadata(_with(DECIDED, days=Decimal(3)))))["event_payload"]["days"] == 3.0


def test_a_pending_request_leaves_the_decision_out_instead_of_sending_nulls():
    # Slack takes strings, numbers and booleans as payload values, not null (it drops such metadata).
    pending = _with(DECIDED, status=PENDING, start_half=None, end_half=None, decided_by=None, decided_at=None,
                    reason=None)
    payload = request_metadata(pending)["event_payload"]
    assert payload["status"] == "pending"
    assert not {"start_half", "end_half", "decided_by", "decided_at", "reason"} & payload.keys()
    assert entry_from_metadata(request_metadata(pending)) == pending  # a missing key reads as None


def test_no_payload_value_is_ever_null():
    pending = _with(DECIDED, status=PENDING, decided_by=None, decided_at=None, reason=None)
    no_reason = _with(CARRY_OVER, reason=None)
    for metadata in (request_metadata(DECIDED), request_metadata(pending), adjustment_metadata(CARRY_OVER),
                     adjustment_metadata(no_reason)):
        assert all(isinstance(value, str | int | float | bool) for value in metadata["event_payload"].values())


def test_an_older_builds_nulls_still_read_as_none():
    metadata = copy.deepcopy(DECIDED_METADATA)
    metadata["event_payload"].update(start_half=None, decided_by=None, decided_at=None, reason=None)
    assert entry_from_metadata(metadata) == _with(DECIDED, decided_by=None, decided_at=None, reason=None)


def test_request_round_trip():
    assert entry_from_metadata(DECIDED_METADATA) == DECIDED
    assert entry_from_metadata(json.loads(json.dumps(request_metadata(DECIDED)))) == DECIDED


def test_adjustment_metadata_has_exactly_the_documented_shape_and_round_trips():
    assert adjustment_metadata(CARRY_OVER) == CARRY_OVER_METADATA
    assert adjustment_from_metadata(CARRY_OVER_METADATA) == CARRY_OVER


def test_it_ignores_unknown_extra_keys():
    metadata = copy.deepcopy(DECIDED_METADATA)
    metadata["event_payload"]["colour"] = "blue"
    metadata["something_else"] = True
    assert entry_from_metadata(metadata) == DECIDED


def test_keys_a_newer_release_added_are_written_back_unchanged_when_the_request_is_rewritten():
    # A rolling deploy: a newer release posted the request with keys this one does not know; this release
    # approves it. The rewrite keeps them (another release's record), and never lets them replace ours.
    metadata = copy.deepcopy(DECIDED_METADATA)
    metadata["event_payload"].update(source={"system": "hris", "ref": 42}, tags=["q2"], status="pending")
    entry = entry_from_metadata(metadata)
    rewritten = request_metadata(replace(entry, status=APPROVED))
    assert rewritten["event_payload"]["source"] == {"system": "hris", "ref": 42}
    assert rewritten["event_payload"]["tags"] == ["q2"]
    assert rewritten["event_payload"]["status"] == APPROVED
    assert {key: value for key, value in rewritten["event_payload"].items() if key not in ("source", "tags")} \
        == request_metadata(replace(entry, status=APPROVED, extra=()))["event_payload"]


def test_the_keys_this_release_knows_are_exactly_those_it_writes():
    every_key = replace(DECIDED, start_half="pm", recorded_by="U_HR",
                        days_by_year=((2026, Decimal(1)), (2027, Decimal("1.5"))))
    assert set(request_metadata(every_key)["event_payload"]) == REQUEST_KEYS
    assert entry_from_metadata(request_metadata(every_key)).extra == ()


def test_optional_keys_may_be_missing_as_well_as_null():
    # Slack documents payload values as string, number or boolean: do not rely on nulls surviving.
    metadata = copy.deepcopy(DECIDED_METADATA)
    for key in ("end_half", "decided_by", "decided_at", "reason"):
        del metadata["event_payload"][key]
    assert entry_from_metadata(metadata) == _with(
        DECIDED, end_half=None, decided_by=None, decided_at=None, reason=None
    )


def test_whole_days_read_back_as_whole_numbers():
    metadata = _payload_with(days=3.0)
    assert str(entry_from_metadata(metadata).days) == "3"
    assert entry_from_metadata(_payload_with(days=3)).days == Decimal(3)


def test_a_float_timestamp_with_no_fraction_is_accepted():
    assert entry_from_metadata(_payload_with(decided_at=1766000000.0)).decided_at == 1766000000


MISSING = object()


@pytest.mark.parametrize(
    ("key", "value"),
    [
        pytest.param("v", 2, id="newer-version"),
        pytest.param("v", "1", id="version-as-string"),
        pytest.param("v", True, id="version-as-bool"),
        pytest.param("v", MISSING, id="no-version"),
        pytest.param("id", "", id="empty-id"),
        pytest.param("id", 42, id="numeric-id"),
        pytest.param("user", None, id="no-user"),
        pytest.param("team", MISSING, id="missing-team"),
        pytest.param("type", ["vacation"], id="type-as-list"),
        pytest.param("start", "2026-02-30", id="impossible-date"),
        pytest.param("start", "20261221", id="basic-iso-date"),
        pytest.param("start", "2026-12-21T00:00:00", id="datetime"),
        pytest.param("start", 20261221, id="date-as-number"),
        pytest.param("end", "2026-12-20", id="end-before-start"),
        pytest.param("start_half", "morning", id="unknown-half"),
        pytest.param("end_half", 1, id="half-as-number"),
        pytest.param("days", "2.5", id="days-as-string"),
        pytest.param("days", True, id="days-as-bool"),
        pytest.param("days", -1, id="negative-days"),
        pytest.param("days", float("nan"), id="nan-days"),
        pytest.param("days", float("inf"), id="infinite-days"),
        pytest.param("days", 1e300, id="absurd-days"),
        pytest.param("days", MISSING, id="missing-days"),
        pytest.param("status", "approved-ish", id="unknown-status"),
        pytest.param("decided_by", 7, id="decider-as-number"),
        pytest.param("decided_at", "yesterday", id="timestamp-as-string"),
        pytest.param("decided_at", 1.5, id="fractional-timestamp"),
        pytest.param("decided_at", False, id="timestamp-as-bool"),
        pytest.param("reason", {"text": "no"}, id="reason-as-object"),
    ],
)
def test_an_invalid_field_makes_the_whole_entry_unreadable(key, value):
    assert entry_from_metadata(_payload_with(**{key: value})) is None


@pytest.mark.parametrize(
    "metadata",
    [
        pytest.param(None, id="none"),
        pytest.param({}, id="empty"),
        pytest.param("timeoff_request", id="a-string"),
        pytest.param([DECIDED_METADATA], id="a-list"),
        pytest.param({"event_type": "timeoff_request"}, id="no-payload"),
        pytest.param({"event_type": "timeoff_request", "event_payload": "{}"}, id="payload-as-string"),
        pytest.param({**DECIDED_METADATA, "event_type": "timeoff_adjustment"}, id="other-event-type"),
        pytest.param({"event_type": "deploy_started", "event_payload": {"v": 1}}, id="another-apps-event"),
    ],
)
def test_anything_that_is_not_a_request_reads_as_none(metadata):
    assert entry_from_metadata(metadata) is None


@pytest.mark.parametrize(
    ("key", "value"),
    [
        pytest.param("v", 2, id="newer-version"),
        pytest.param("year", "2027", id="year-as-string"),
        pytest.param("year", 0, id="year-zero"),
        pytest.param("days", None, id="no-days"),
        pytest.param("by", "", id="empty-by"),
        pytest.param("reason", 3, id="reason-as-number"),
    ],
)
def test_an_invalid_adjustment_reads_as_none(key, value):
    metadata = copy.deepcopy(CARRY_OVER_METADATA)
    metadata["event_payload"][key] = value
    assert adjustment_from_metadata(metadata) is None


def test_an_adjustment_without_a_reason_reads_as_an_empty_reason():
    metadata = copy.deepcopy(CARRY_OVER_METADATA)
    del metadata["event_payload"]["reason"]
    assert adjustment_from_metadata(metadata) == _with(CARRY_OVER, reason="")


@pytest.mark.parametrize("metadata", [None, [], DECIDED_METADATA, {"event_type": "timeoff_adjustment"}])
def test_anything_that_is_not_an_adjustment_reads_as_none(metadata):
    assert adjustment_from_metadata(metadata) is None


def _with(record, **changes):
    return replace(record, **changes)


def _payload_with(**changes):
    metadata = copy.deepcopy(DECIDED_METADATA)
    for key, value in changes.items():
        if value is MISSING:
            del metadata["event_payload"][key]
        else:
            metadata["event_payload"][key] = value
    return metadata
