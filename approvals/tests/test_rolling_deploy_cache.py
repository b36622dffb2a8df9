"""A rolling deploy: two releases share the cache for minutes, and neither fails on the other's values.

A value this release cannot unpickle (a class another release has and this one
has not, a value cut short, garbage) is a miss, logged and counted, on the
configured backend (the database cache here, Redis in CI's second run). Keys of
pickled structures name the shape of what they hold, so releases whose classes
differ keep apart; the keys that make a decision apply once (locks, claims, the
pending set) stay shared, and a pending entry written by either release is read
by the other.
"""

import base64
import logging
import pickle
import sys
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

import pytest
from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache
from django.db import connections, router
from prometheus_client import REGISTRY

from approvals import cache_values, config_store, ledger_reader, pending_indexes
from approvals.cache_values import schema_tag
from approvals.rules import PENDING, LedgerEntry
from fake_slack.personas import ALICE
from test_support.flows import install_config, request_time_off

pytestmark = pytest.mark.django_db(transaction=True)  # the database cache's rows are written and read back raw


@dataclass(frozen=True)
class Gadget:
    """A class of "another release": it is here when the value is written, and gone when it is read."""

    name: str


def store_raw(key: str, data: bytes) -> None:
    """Put `data` under `key` as the backend stores a pickle, bypassing the pickling: what a value this
    release cannot read looks like in the store."""
    backend = caches["default"]
    full_key = backend.make_and_validate_key(key)
    if isinstance(backend, RedisCache):
        backend._cache.get_client(write=True).set(full_key, data, ex=60)
        return
    backend.set(key, "placeholder", 60)  # the row, with its expiry: then its value is replaced
    connection = connections[router.db_for_write(backend.cache_model_class)]
    table = connection.ops.quote_name(backend._table)
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET value = %s WHERE cache_key = %s",
                       [base64.b64encode(data).decode("latin1"), full_key])


def unreadable_count() -> float:
    return sum(sample.value for family in REGISTRY.collect() if family.name == "timeoff_cache_unreadable_values"
               for sample in family.samples if sample.name.endswith("_total"))


def test_a_value_whose_class_is_gone_is_a_logged_miss_not_an_error(monkeypatch, caplog):
    cache.set("rolling:gadget", Gadget("written by another release"), 60)
    cache.set("rolling:plain", "readable", 60)
    before = unreadable_count()
    # The other release renamed or moved the class: this one cannot find it by its pickled name.
    monkeypatch.delattr(sys.modules[__name__], "Gadget")

    with caplog.at_level(logging.WARNING, logger="approvals.cache_values"):
        assert cache.get("rolling:gadget") is None
        assert cache.get("rolling:gadget", "default") == "default"
        assert cache.get_many(["rolling:gadget", "rolling:plain"]) == {"rolling:plain": "readable"}

    assert unreadable_count() == before + 3
    line = next(record for record in caplog.records if "unreadable" in record.getMessage())
    assert "rolling:gadget" in line.getMessage() and "AttributeError" in line.getMessage()


@pytest.mark.parametrize("data", [
    pickle.dumps(("a", "tuple", "cut", "short") * 10, pickle.HIGHEST_PROTOCOL)[:-7],
    b"\x80\x05not a pickle at all",
    b"",
], ids=["truncated", "garbage", "empty"])
def test_a_value_cut_short_or_garbage_is_a_miss(data):
    store_raw("rolling:broken", data)
    assert cache.get("rolling:broken", "default") == "default"
    assert cache.get_many(["rolling:broken"]) == {}
    cache.set("rolling:broken", "written again", 60)  # what a reader does after a miss: it is readable again
    assert cache.get("rolling:broken") == "written again"


def test_a_pending_entry_this_release_cannot_read_is_left_out_of_the_read():
    # On Redis the entries come back from a Lua script and are unpickled outside the cache's own `get`.
    later = 4102444800.0  # 2100: alive for the test
    pending_pickle = pickle.dumps(("r1", "x"), pickle.HIGHEST_PROTOCOL)
    pending_indexes.add({"idx:rolling": {"r1": later, "r2": later}},
                        values={"entry:r1": ("r1", "x"), "entry:r2": ("r2", "y")},
                        timeout=120, lock="idx:rolling:lock", wait=1)
    store_raw("entry:r1", pending_pickle[:-3])

    read, unread, values = pending_indexes.read_entries(["idx:rolling"], entries_under="entry:")

    assert sorted(read) == ["r1", "r2"]
    assert values == {"entry:r2": ("r2", "y")}


def test_a_configuration_snapshot_this_release_cannot_read_does_not_fail_a_submission(client, fake_slack,
                                                                                         monkeypatch):
    install_config()
    config_store.current_config()  # cached
    store_raw(config_store.SNAPSHOT_KEY, b"\x80\x05garbage")
    monkeypatch.setattr(config_store, "_last_snapshot", None)  # a process that has not read it yet

    response = request_time_off(client, fake_slack, ALICE)

    assert response.status_code == 200 and response.content == b""  # accepted: the modal closes
    assert config_store.current_config().teams  # the snapshot was rebuilt from the rows and stored again
    assert cache.get(config_store.SNAPSHOT_KEY) is not None


# --- Keys that name the shape of what they hold ------------------------------------------------


def test_the_schema_tag_follows_what_pickle_depends_on():
    @dataclass(frozen=True)
    class Entry:
        id: str
        days: Decimal

    @dataclass(frozen=True)
    class Holder:
        entries: dict[str, Entry] = field(default_factory=dict)
        note: str | None = None

    tag = schema_tag(Holder)
    assert schema_tag(Holder) == tag  # stable

    @dataclass(frozen=True)
    class Holder:  # noqa: F811 - the same class again, as another release would have it
        entries: dict[str, Entry] = field(default_factory=dict)
        note: str | None = "a new default"  # a default is not pickled

        def a_new_method(self):
            return self.note

    assert schema_tag(Holder) == tag

    @dataclass(frozen=True)
    class Entry:  # noqa: F811 - a field added to the class the holder names
        id: str
        days: Decimal
        half: str | None = None

    @dataclass(frozen=True)
    class Holder:  # noqa: F811
        entries: dict[str, Entry] = field(default_factory=dict)
        note: str | None = None

    assert schema_tag(Holder) != tag  # a nested dataclass's fields count

    @dataclass(frozen=True)
    class Entry:  # noqa: F811 - back as it was
        id: str
        days: Decimal

    @dataclass(frozen=True)
    class Holder:  # noqa: F811 - a field's type changed
        entries: dict[str, Entry] = field(default_factory=dict)
        note: int | None = None

    assert schema_tag(Holder) != tag
    Holder.__qualname__ = "Elsewhere"  # moved: pickle would look for it by another name
    assert schema_tag(Holder) != tag


def test_the_ledger_keys_name_its_shape_and_the_shared_ones_do_not():
    schema = schema_tag(ledger_reader.Ledger, ledger_reader._SlicesMeta)
    assert ledger_reader.LEDGER_SCHEMA == schema
    for key in (ledger_reader.LEDGER_KEY, ledger_reader.LEDGER_VERSION_KEY, ledger_reader.WRITES_KEY,
                ledger_reader.WRITES_SEQ_KEY, ledger_reader.SLICES_PREFIX, ledger_reader.SLICES_META_KEY):
        assert schema in key, key
    # What makes a decision apply once, and Slack's limits, are the app's whatever the release.
    for key in (ledger_reader.LEDGER_LOCK, ledger_reader.REFRESH_LOCK, ledger_reader.BUDGET_KEY,
                ledger_reader.PAUSED_KEY, ledger_reader.PENDING_PREFIX, config_store.GENERATION_KEY):
        assert schema not in key and "schema" not in key, key
    assert schema_tag(config_store.WorkspaceConfig) in config_store.SNAPSHOT_KEY


# The tag of the ledger's cached classes as this release has it. When a change to Ledger, LedgerEntry,
# Adjustment, ChannelMark or _SlicesMeta moves it, the release that ships the change starts with a cold
# ledger (one full read from Slack) and, while its deploy rolls, each release learns the other's writes
# only from Slack (README: "Upgrades"). Update it here, and say so in the release's notes.
LEDGER_SCHEMA_OF_THIS_RELEASE = "4dd58156b8"


def test_a_change_to_the_ledgers_cached_shape_is_made_on_purpose():
    assert ledger_reader.LEDGER_SCHEMA == LEDGER_SCHEMA_OF_THIS_RELEASE, (
        "The ledger's cached classes changed shape: see the comment above LEDGER_SCHEMA_OF_THIS_RELEASE.")


# --- The pending set: one for every release ------------------------------------------------------

# LedgerEntry's fields when the pending set's entries became position-read tuples (PENDING_PREFIX v5).
# Fields are appended after these, each with a default; never reordered, renamed or removed, or one
# release would read another's entries wrong (a date for a team).
PENDING_FIELDS_V5 = ("id", "user", "team", "leave_type", "start", "end", "start_half", "end_half", "days",
                     "status", "decided_by", "decided_at", "reason", "recorded_by", "channel", "ts")


def test_ledger_entries_fields_are_only_ever_appended_to():
    assert ledger_reader._ENTRY_FIELDS[:len(PENDING_FIELDS_V5)] == PENDING_FIELDS_V5


def pending(request_id: str, user: str = ALICE) -> LedgerEntry:
    return LedgerEntry(request_id, user, "Engineering", "vacation", date(2031, 3, 10), date(2031, 3, 12), None,
                       None, Decimal(3), PENDING)


def test_a_pending_entry_from_a_release_with_more_fields_is_read():
    entry = pending("r-newer")
    ledger_reader.pending_add(entry)
    key = ledger_reader._pending_entry_key(entry.id)
    # A newer release appended a field to LedgerEntry: its entries are one value longer.
    cache.set(key, (*ledger_reader._packed(entry), "a field this release does not have"), 600)

    assert ledger_reader.pending_entries(["Engineering"]) == [entry]
    assert ledger_reader.in_flight(entry.id)
    ledger_reader.pending_remove(entry.id)  # a delivery by this release takes the other's entry out
    assert ledger_reader.pending_entries(["Engineering"]) == []


def test_a_pending_entry_from_a_release_with_fewer_fields_is_read_with_their_defaults():
    entry = pending("r-older")
    ledger_reader.pending_add(entry)
    # An older release, before `recorded_by`, `channel` and `ts` were appended.
    cache.set(ledger_reader._pending_entry_key(entry.id), ledger_reader._packed(entry)[:13], 600)

    assert ledger_reader.pending_entries(["Engineering"]) == [entry]


def test_a_value_that_is_no_pending_entry_is_taken_for_missing():
    assert ledger_reader._unpacked(("too", "short")) is None
    assert ledger_reader._unpacked({"id": "r1"}) is None
    assert cache_values.MISS is not None
