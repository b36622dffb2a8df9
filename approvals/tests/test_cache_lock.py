"""Locks and claims in the shared cache: only the owner opens or extends a lock, exactly one caller wins.

Every test runs on the configured cache (the database cache by default, Redis in
CI's second run), on the database cache in the configured database when that is
not already the default (so PostgreSQL's is covered too), and on the local-memory
cache. The file cache stands in for "any other backend" (not atomic, same answers).
"""

import threading
import time
import warnings

import pytest
from django.conf import settings as django_settings
from django.core.cache import cache
from django.core.cache.backends.base import BaseCache
from django.core.management import call_command
from django.db import connections

from approvals.cache_lock import acquire, claim, holds, key_part, locked, release, renew

pytestmark = pytest.mark.django_db(transaction=True)  # threads and other connections see the cache table

CONFIGURED = django_settings.CACHES["default"]["BACKEND"]
DATABASE_CACHE = "django.core.cache.backends.db.DatabaseCache"
ATOMIC = ["configured", "locmem"] + ([] if CONFIGURED == DATABASE_CACHE else ["database"])
BACKENDS = ATOMIC + ["file"]

KEY = "lock:test"
SHORT = 1  # seconds; the database cache keeps whole seconds


@pytest.fixture(params=BACKENDS)
def backend(request, settings, tmp_path):
    """The default cache switched to one backend for the test, empty at both ends."""
    if request.param == "database":
        settings.CACHES = {"default": {"BACKEND": DATABASE_CACHE, "LOCATION": "cache_lock_test"}}
        call_command("createcachetable", verbosity=0)
    elif request.param == "locmem":
        settings.CACHES = {
            "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "cache-lock-test"}
        }
    elif request.param == "file":
        settings.CACHES = {
            "default": {"BACKEND": "django.core.cache.backends.filebased.FileBasedCache", "LOCATION": str(tmp_path)}
        }
    cache.clear()
    yield request.param
    cache.clear()


@pytest.fixture
def atomic_backend(backend):
    if backend not in ATOMIC:
        pytest.skip("not atomic on this backend")
    return backend


def wait_until(condition, *, within: float) -> float:
    """Seconds until `condition()` was true; fails after `within` seconds."""
    start = time.monotonic()
    while not condition():
        assert time.monotonic() - start < within, "condition never became true"
        time.sleep(0.05)
    return time.monotonic() - start


def test_it_gives_a_free_lock_to_one_holder(backend):
    first = acquire(KEY, timeout=10, wait=0)
    assert first is not None
    assert acquire(KEY, timeout=10, wait=0) is None
    assert holds(KEY, first)
    assert cache.get(KEY) == first  # stored as Django stores any value


def test_it_waits_for_the_lock_then_gives_up(backend):
    acquire(KEY, timeout=10, wait=0)
    start = time.monotonic()
    assert acquire(KEY, timeout=10, wait=0.3, poll=0.05) is None
    assert time.monotonic() - start >= 0.3


def test_it_stops_waiting_as_soon_as_unless_is_true(backend):
    acquire(KEY, timeout=10, wait=0)
    start = time.monotonic()
    assert acquire(KEY, timeout=10, wait=5, unless=lambda: time.monotonic() - start > 0.2) is None
    assert time.monotonic() - start < 2


def test_a_non_owner_cannot_release_it(backend):
    owner = acquire(KEY, timeout=10, wait=0)
    assert release(KEY, "someone-else") is False
    assert release(KEY, None) is False
    assert holds(KEY, owner)
    assert acquire(KEY, timeout=10, wait=0) is None


def test_the_owner_releases_it(backend):
    owner = acquire(KEY, timeout=10, wait=0)
    assert release(KEY, owner) is True
    assert not holds(KEY, owner)
    assert release(KEY, owner) is False  # a second release is harmless
    assert acquire(KEY, timeout=10, wait=0) is not None


def test_it_expires_and_the_first_holder_cannot_touch_the_next_holders_lock(backend):
    first = acquire(KEY, timeout=SHORT, wait=0)
    second = None

    def taken():
        nonlocal second
        second = acquire(KEY, timeout=10, wait=0)
        return second is not None

    waited = wait_until(taken, within=SHORT + 2)
    assert waited >= SHORT - 0.1  # it did not expire early
    assert not holds(KEY, first)
    assert renew(KEY, first, 10) is False
    assert release(KEY, first) is False
    assert holds(KEY, second)
    assert cache.get(KEY) == second


def test_renew_extends_it(backend):
    owner = acquire(KEY, timeout=SHORT, wait=0)
    assert renew(KEY, owner, 4) is True
    time.sleep(SHORT + 1.1)  # past the first timeout, rounded up to whole seconds
    assert holds(KEY, owner)
    assert acquire(KEY, timeout=10, wait=0) is None
    assert renew(KEY, owner, SHORT) is True  # shortening works too: it expires again
    wait_until(lambda: not holds(KEY, owner), within=SHORT + 2)


def test_renew_by_a_non_owner_changes_nothing(backend):
    owner = acquire(KEY, timeout=SHORT, wait=0)
    assert renew(KEY, "someone-else", 30) is False
    assert renew(KEY, None, 30) is False
    wait_until(lambda: not holds(KEY, owner), within=SHORT + 2)
    assert acquire(KEY, timeout=10, wait=0) is not None


def test_an_expired_lock_is_not_renewed_even_when_nobody_took_it(backend):
    owner = acquire(KEY, timeout=SHORT, wait=0)
    wait_until(lambda: not holds(KEY, owner), within=SHORT + 2)
    assert renew(KEY, owner, 10) is False
    assert acquire(KEY, timeout=10, wait=0) is not None


def test_a_fraction_of_a_second_is_a_real_timeout(backend):
    # Django's RedisCache.add rounds 0.5 s down to 0 and stores nothing.
    owner = acquire(KEY, timeout=0.5, wait=0)
    assert holds(KEY, owner)
    assert acquire(KEY, timeout=10, wait=0) is None


def test_locked_raises_when_busy_and_frees_on_exit(backend):
    with locked(KEY, timeout=SHORT, wait=1) as lock:
        assert lock.holds()
        with pytest.raises(TimeoutError):
            with locked(KEY, wait=0):
                pass
        assert lock.renew(5) is True
        assert lock.holds()
    assert not lock.holds()
    with locked(KEY, wait=0):
        pass


def test_locked_does_not_free_a_lock_it_lost(backend):
    with locked(KEY, timeout=SHORT, wait=0) as lock:
        wait_until(lambda: not lock.holds(), within=SHORT + 2)
        successor = acquire(KEY, timeout=10, wait=0)
        assert successor is not None
        assert lock.renew() is False
    assert holds(KEY, successor)


def test_a_claim_is_won_once_until_it_expires(backend):
    assert claim("claim:test", SHORT) is True
    assert claim("claim:test", SHORT) is False
    wait_until(lambda: claim("claim:test", 10), within=SHORT + 2)
    assert claim("claim:test", 10) is False


def race(attempt, contenders: int = 8) -> list:
    """Run `attempt` in several threads released at once; their results."""
    start = threading.Barrier(contenders)
    results = [None] * contenders

    def run(i):
        try:
            start.wait()
            results[i] = attempt()
        finally:
            connections.close_all()  # this thread's own database connections

    threads = [threading.Thread(target=run, args=(i,)) for i in range(contenders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_exactly_one_of_many_racers_takes_a_free_lock(atomic_backend):
    winners = [token for token in race(lambda: acquire(KEY, timeout=10, wait=0)) if token]
    assert len(winners) == 1
    assert holds(KEY, winners[0])


def test_exactly_one_of_many_racers_takes_an_expired_lock(atomic_backend):
    # The database cache keeps the expired row: the racers all find it and only one may take it over.
    old = acquire(KEY, timeout=SHORT, wait=0)
    wait_until(lambda: not holds(KEY, old), within=SHORT + 2)
    winners = [token for token in race(lambda: acquire(KEY, timeout=10, wait=0)) if token]
    assert len(winners) == 1
    assert holds(KEY, winners[0])


def test_exactly_one_of_many_racers_wins_a_claim(atomic_backend):
    assert race(lambda: claim("claim:test", 10)).count(True) == 1



def test_a_name_hr_typed_becomes_a_key_part_every_cache_accepts():
    assert key_part("Engineering") == "Engineering" and key_part("site-ops_2") == "site-ops_2"
    for name in ("Customer Success", "<!channel> & co", "Équipe", "x" * 65):
        part = key_part(name)
        assert part.startswith("h") and part == key_part(name) and part != key_part(name + "!")
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # memcached's key rules, which Django's caches warn about
            BaseCache({}).validate_key(f"lock:team:{part}")
