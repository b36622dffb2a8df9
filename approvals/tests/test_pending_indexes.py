"""The pending set's indexes: members with their own expiry, added and removed without losing a neighbour's."""

import threading
import time

import pytest
from django.core.cache import cache
from django.db import connections

from approvals import pending_indexes

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def empty_cache():
    cache.clear()
    yield
    cache.clear()


def test_members_are_read_with_their_expiry_and_values_in_the_same_call():
    later = time.time() + 60
    pending_indexes.add({"idx:a": {"r1": later}, "idx:b": {"r1": later, "r2": later}},
                        values={"entry:r1": {"id": "r1"}}, timeout=120, lock="idx:lock", wait=1)
    indexes, values = pending_indexes.read(["idx:a", "idx:b", "idx:none"], values=["entry:r1", "entry:none"])
    assert indexes == {"idx:a": {"r1": pytest.approx(later)}, "idx:b": {"r1": pytest.approx(later),
                                                                        "r2": pytest.approx(later)},
                       "idx:none": {}}
    assert values == {"entry:r1": {"id": "r1"}}


def test_the_entries_the_live_members_name_are_read_in_the_same_call():
    later = time.time() + 60
    # More members than the script reads in one MGET (500), one of them in both indexes, one expired,
    # one whose entry is gone.
    pending_indexes.add({"idx:a": {f"r{n}": later for n in range(600)}, "idx:b": {"r7": later, "old": time.time() - 1,
                                                                               "lost": later}},
                        values={**{f"entry:r{n}": (n, "x") for n in range(600)}, "entry:old": "old"},
                        timeout=120, lock="idx:lock", wait=1)

    read, unread, values = pending_indexes.read_entries(["idx:a", "idx:b"], values=["other"], entries_under="entry:")

    # Each live member once, index by index (within one: by expiry, on Redis then by name).
    assert len(read) == 601 and set(read[:600]) == {f"r{n}" for n in range(600)} and read[600] == "lost"
    assert unread == 0
    assert values == {f"entry:r{n}": (n, "x") for n in range(600)}  # not "old" (expired), nothing for "lost"


def test_a_capped_read_takes_the_first_index_whole_and_at_most_so_many_entries_more():
    later = time.time() + 60
    pending_indexes.add({"idx:own": {"o1": later, "o2": later}, "idx:day": {f"r{n}": later for n in range(30)},
                         "idx:next": {"r3": later, "n1": later, "old": time.time() - 1}},
                        values={"entry:o1": "o1", "entry:o2": "o2", **{f"entry:r{n}": n for n in range(30)}},
                        timeout=120, lock="idx:lock", wait=1)

    read, unread, values = pending_indexes.read_entries(["idx:own", "idx:day", "idx:next"], entries_under="entry:",
                                                        entries_max=5)

    assert {"o1", "o2"} <= set(read) and len(read) == 7  # the first index's all, then five more
    assert sorted(values) == sorted(f"entry:{m}" for m in read)  # the entries of these only
    assert unread == 26  # the 25 other day members and n1, each counted once (r3 is in both; old expired)


def test_expired_members_are_not_read_and_are_pruned_by_the_next_add():
    pending_indexes.add({"idx:a": {"old": time.time() - 1, "live": time.time() + 60}}, values={}, timeout=120,
                        lock="idx:lock", wait=1)
    assert list(pending_indexes.read(["idx:a"])[0]["idx:a"]) == ["live"]
    pending_indexes.add({"idx:a": {"new": time.time() + 60}}, values={}, timeout=120, lock="idx:lock", wait=1)
    assert sorted(pending_indexes.read(["idx:a"])[0]["idx:a"]) == ["live", "new"]


def test_removing_a_member_keeps_the_others_and_deletes_its_values():
    later = time.time() + 60
    pending_indexes.add({"idx:a": {"r1": later, "r2": later}}, values={"entry:r1": 1, "entry:r2": 2}, timeout=120,
                        lock="idx:lock", wait=1)
    pending_indexes.remove("r1", ["idx:a"], delete=["entry:r1"], lock="idx:lock", timeout=120)
    indexes, values = pending_indexes.read(["idx:a"], values=["entry:r1", "entry:r2"])
    assert list(indexes["idx:a"]) == ["r2"] and values == {"entry:r2": 2}


def test_concurrent_adds_to_one_index_lose_nobody():
    """Many submissions of one team at once: every id ends up in the team's index (Redis: no lock at all;
    other caches: the lock serialises them)."""
    later = time.time() + 60

    def add_some(worker: int):
        try:
            for n in range(10):
                pending_indexes.add({"idx:team": {f"r{worker}-{n}": later}}, values={}, timeout=120,
                                    lock="idx:lock", wait=10)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=add_some, args=(worker,)) for worker in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(pending_indexes.read(["idx:team"])[0]["idx:team"]) == 40


def test_a_conditional_add_happens_only_on_the_version_read_and_a_free_claim():
    later = time.time() + 60

    def add_if(member, seen, claim="claim:1"):
        return pending_indexes.add_if({"idx:a": {member: later}}, values={f"entry:{member}": member}, timeout=120,
                                      version=("version:alice", seen), claim=(claim, "form", 60),
                                      lock="idx:lock", wait=1)

    assert pending_indexes.read([], values=["version:alice"])[1] == {}  # no version yet: 0
    assert add_if("r1", 0) == pending_indexes.ADDED
    _, found = pending_indexes.read([], values=["version:alice", "claim:1"])
    assert pending_indexes.version_of(found, "version:alice") == 1 and found["claim:1"] == "form"

    assert add_if("r2", 0, claim="claim:2") == pending_indexes.CHANGED  # checked against version 0: stale
    assert add_if("r2", 1, claim="claim:1") == pending_indexes.CLAIMED  # the same form again
    assert add_if("r2", 0, claim="claim:1") == pending_indexes.CLAIMED  # a duplicate is named first
    indexes, values = pending_indexes.read(["idx:a"], values=["entry:r1", "entry:r2", "claim:2"])
    assert list(indexes["idx:a"]) == ["r1"] and values == {"entry:r1": "r1"}  # nothing written by the refusals

    assert add_if("r2", 1, claim="claim:2") == pending_indexes.ADDED
    assert sorted(pending_indexes.read(["idx:a"])[0]["idx:a"]) == ["r1", "r2"]


def test_an_unconditional_add_moves_the_version_on_too():
    pending_indexes.add({"idx:a": {"r1": time.time() + 60}}, values={}, timeout=120, lock="idx:lock", wait=1,
                        version="version:bob")
    assert pending_indexes.version_of(pending_indexes.read([], values=["version:bob"])[1], "version:bob") == 1
