"""Short locks and once-only claims in the shared cache, for every process on every host.

Locks
-----
`acquire` stores a fresh random token under the key only if the key is free
(Redis `SET NX PX`; in the database cache a conditional UPDATE of an expired row,
else an INSERT that the unique key refuses), so exactly one caller takes a free
lock. Only the holder's token opens it again:

- `release(key, token)` deletes the lock only if it still holds `token`, in one
  step: a Lua compare-and-delete in Redis, `DELETE … WHERE cache_key = … AND
  value = …` in the database cache, under the cache's own mutex in the
  local-memory cache. A lock that outlived its timeout may belong to someone
  else by then, and stays theirs.
- `renew(key, token, timeout)` extends the lock for another `timeout` seconds
  only if it is still ours, in one step the same way; False means it was lost.
- `holds(key, token)` says whether it is still ours, now.

A lock expires after `timeout` seconds even while its holder is still working:
that is what frees it when a holder dies. Work that can outlast the timeout
(slow Slack calls, `Retry-After` waits) renews the lock between calls, and
renews it once more right before the write it protects, for long enough to
finish that write; when `renew` returns False the lock is gone and the holder
must not write. Even so, a holder frozen for longer than the timeout after its
last renewal (a long GC pause, a stopped VM) can write late: the lock makes
collisions rare, it does not fence the write. The backstop is the rule in
DESIGN §8: re-read the request's state from Slack before writing.

Once-only effects (`claim`)
---------------------------
`claim(key, timeout)` is True for exactly one caller until the claim expires.
Claim *before* the effect (Slack event retries, a second click, a re-run task):
whoever loses the claim skips the effect. What the cache cannot promise, and
where a crash can still repeat or drop an effect:

- Dropped: a process that dies (SIGKILL, OOM, deploy) after its claim and
  before the effect has reached Slack leaves the claim in place, so every retry
  skips the effect until the claim expires. Claim-first is at-most-once.
- Dropped: an effect that fails after the claim (a Slack error, an exception)
  is dropped the same way unless the caller gives the claim back. A claim that
  may be given back is a lock taken without waiting:
  `token = acquire(key, timeout=…, wait=0)` … `release(key, token)` on failure.
  Give it back only for errors that prove nothing was posted (e.g. `ratelimited`
  or a refused connection), never after a timeout.
- Repeated: a call that times out may still have reached Slack; if its claim is
  given back, the retry posts a second time.
- Repeated: the reverse order — do the effect, then mark it done (`cache.get`,
  act, `cache.set`) — is at-least-once: a crash between the effect and the mark
  repeats it, and two racing processes can both act.
- Repeated: a claim lives only `timeout` seconds; choose it longer than every
  retry can arrive (Slack retries an event for about five minutes; a task may
  be retried and recovered later still). A cache that loses keys early (Redis
  eviction or a restart without persistence, a cleared or culled cache table)
  forgets the claim too.
- Repeated or dropped: on the database cache a claim or lock is written on the
  caller's database connection, so inside `transaction.atomic()` it is invisible
  to other processes until commit (they wait on the row instead) and vanishes if
  the transaction rolls back. Take locks and claims outside transactions.

Where repeating would do harm, the durable check is the ledger itself (a
delivery looks for its request id in the ledger before posting, DESIGN §8);
the claim is the fast first line.

Backends
--------
Atomic release/renew/add are written for Django's RedisCache, DatabaseCache and
LocMemCache. Any other backend falls back to `cache.add` and read-then-write,
which are not atomic there.

Timeouts are seconds and may be fractions. The database cache stores expiry in
whole seconds, so there it is rounded up (a lock lives between `timeout` and
`timeout` + 1 s) and expiry is judged by the clock of the process that reads,
so hosts' clocks must agree (NTP); Redis expires keys by its own clock.
"""

import base64
import hashlib
import math
import pickle
import time
import uuid
from contextlib import contextmanager
from datetime import timedelta

from django.core.cache import DEFAULT_CACHE_ALIAS, caches
from django.core.cache.backends.db import DatabaseCache
from django.core.cache.backends.locmem import LocMemCache
from django.core.cache.backends.redis import RedisCache
from django.db import IntegrityError, connections, router, transaction
from django.utils.timezone import now as tz_now

from approvals import metrics

# KEYS[1] = lock key, ARGV[1] = the holder's token as Django's serializer stores it.
REDIS_RELEASE = """
if redis.call('get', KEYS[1]) == ARGV[1] then
    return redis.call('del', KEYS[1])
end
return 0
"""
# ARGV[2] = new lifetime in milliseconds.
REDIS_RENEW = """
if redis.call('get', KEYS[1]) == ARGV[1] then
    return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0
"""


class LockBusy(TimeoutError):
    """Our own wait ran out: a lock stayed busy or was lost before the write it protects, or what we write
    kept changing under us. A TimeoutError, so the task that met it retries (`task_queue.transient`); not
    Slack's fault, so nobody is told that Slack failed (`task_queue.failure_for_people`)."""


def key_part(name: str) -> str:
    """A cache-key part for a name HR typed (a team's: spaces, any script, any length), readable when it
    can be: Django's caches warn about keys memcached would refuse (spaces, control characters, length)."""
    if name.isascii() and name.replace("_", "").replace("-", "").isalnum() and len(name) <= 64:
        return name
    return "h" + hashlib.blake2s(name.encode(), digest_size=10).hexdigest()


@metrics.observe_lock_wait
def acquire(key: str, *, timeout: float, wait: float, poll: float = 0.05, unless=None) -> str | None:
    """The holder's token, or None after `wait` seconds or as soon as `unless()` is true."""
    token = uuid.uuid4().hex
    deadline = time.monotonic() + wait
    while True:
        if unless is not None and unless():
            return None
        if _add(key, token, timeout):
            return token
        if time.monotonic() > deadline:
            return None
        time.sleep(poll)


def release(key: str, token: str | None) -> bool:
    """Free the lock if it is still ours; True if this call freed it."""
    if token is None:
        return False
    backend = _backend()
    if isinstance(backend, RedisCache):
        client, redis_key, value = _redis(backend, key, token)
        return bool(client.register_script(REDIS_RELEASE)(keys=[redis_key], args=[value]))
    if isinstance(backend, DatabaseCache):
        # No expiry condition: an expired row that still holds our token is nobody else's.
        with _db_cursor(backend) as (cursor, table, q):
            cursor.execute(
                f"DELETE FROM {table} WHERE {q('cache_key')} = %s AND {q('value')} = %s",
                [_db_key(backend, key), _db_value(backend, token)],
            )
            return cursor.rowcount == 1
    if isinstance(backend, LocMemCache):
        cache_key = backend.make_and_validate_key(key)
        with backend._lock:
            if not backend._has_expired(cache_key) and pickle.loads(backend._cache[cache_key]) == token:
                return backend._delete(cache_key)
            return False
    # Not atomic on other backends: the lock may change hands between the get and the delete.
    if backend.get(key) == token:
        return bool(backend.delete(key))
    return False


def renew(key: str, token: str | None, timeout: float) -> bool:
    """Make the lock expire `timeout` seconds from now if it is still ours; False if it was lost."""
    if token is None:
        return False
    backend = _backend()
    if isinstance(backend, RedisCache):
        client, redis_key, value = _redis(backend, key, token)
        return bool(client.register_script(REDIS_RENEW)(keys=[redis_key], args=[value, _milliseconds(timeout)]))
    if isinstance(backend, DatabaseCache):
        # An expired lock is not renewed even if nobody took it: someone may have held it meanwhile.
        with _db_cursor(backend) as (cursor, table, q):
            ops, now = cursor.db.ops, tz_now()
            cursor.execute(
                f"UPDATE {table} SET {q('expires')} = %s"
                f" WHERE {q('cache_key')} = %s AND {q('value')} = %s AND {q('expires')} >= %s",
                [
                    ops.adapt_datetimefield_value(_db_expires(now, timeout)),
                    _db_key(backend, key),
                    _db_value(backend, token),
                    ops.adapt_datetimefield_value(now),
                ],
            )
            return cursor.rowcount == 1
    if isinstance(backend, LocMemCache):
        cache_key = backend.make_and_validate_key(key)
        with backend._lock:
            if not backend._has_expired(cache_key) and pickle.loads(backend._cache[cache_key]) == token:
                backend._expire_info[cache_key] = time.time() + timeout
                return True
            return False
    # Not atomic on other backends: the lock may change hands between the get and the touch.
    return backend.get(key) == token and bool(backend.touch(key, timeout))


def holds(key: str, token: str | None) -> bool:
    """Whether the lock is still ours at this moment (it may expire right after: see `renew`)."""
    if token is None:
        return False
    backend = _backend()
    if isinstance(backend, RedisCache):
        client, redis_key, value = _redis(backend, key, token)
        return client.get(redis_key) == value
    if isinstance(backend, DatabaseCache):
        # Not `cache.get`: on an expired row it deletes by key alone, which can remove a lock
        # that another process took between its SELECT and its DELETE.
        with _db_cursor(backend) as (cursor, table, q):
            now = tz_now()
            cursor.execute(
                f"SELECT 1 FROM {table} WHERE {q('cache_key')} = %s AND {q('value')} = %s AND {q('expires')} >= %s",
                [_db_key(backend, key), _db_value(backend, token), cursor.db.ops.adapt_datetimefield_value(now)],
            )
            return cursor.fetchone() is not None
    return backend.get(key) == token


def claim(key: str, timeout: float) -> bool:
    """True for exactly one caller until the claim expires: run a once-only effect only then.

    See the module docstring for where a crash between claim and effect repeats or drops it.
    """
    return _add(key, uuid.uuid4().hex, timeout)


def claim_held(key: str, timeout: float) -> str | None:
    """As `claim`, returning the claim's token (None: taken), for `renew` and `release`: they act on the
    claim only while it is still this one (not forgotten and taken anew meanwhile)."""
    token = uuid.uuid4().hex
    return token if _add(key, token, timeout) else None


class locked:
    """`with locked(key) as lock:` — raises LockBusy (a TimeoutError) when the lock stays busy for `wait` seconds.

    Inside, `lock.renew()` extends it by `timeout` seconds again (False: it was lost) and
    `lock.holds()` says whether it is still ours.
    """

    def __init__(self, key: str, timeout: float = 10, wait: float = 5):
        self.key, self.timeout, self.wait = key, timeout, wait
        self.token = None

    def __enter__(self):
        self.token = acquire(self.key, timeout=self.timeout, wait=self.wait, poll=0.02)
        if self.token is None:
            raise LockBusy(f"lock {self.key} is busy")
        return self

    def __exit__(self, *exc):
        release(self.key, self.token)

    def renew(self, timeout: float | None = None) -> bool:
        return renew(self.key, self.token, self.timeout if timeout is None else timeout)

    def holds(self) -> bool:
        return holds(self.key, self.token)


# --- Per backend ------------------------------------------------------------------------------


def _backend():
    return caches[DEFAULT_CACHE_ALIAS]


def _add(key: str, value: str, timeout: float) -> bool:
    """Store `value` under `key` only if the key is free or expired, atomically."""
    backend = _backend()
    if isinstance(backend, RedisCache):
        # Not `cache.add`: it rounds the timeout down to whole seconds, and 0 stores nothing.
        client, redis_key, stored = _redis(backend, key, value)
        return bool(client.set(redis_key, stored, nx=True, px=_milliseconds(timeout)))
    if isinstance(backend, DatabaseCache):
        return _db_add(backend, key, value, timeout)
    # LocMemCache.add checks and stores under its mutex; other backends' add is their own affair.
    return backend.add(key, value, timeout)


def _milliseconds(timeout: float) -> int:
    return max(1, math.ceil(timeout * 1000))


def _redis(backend: RedisCache, key: str, value: str):
    """The write client (never a replica), the stored key, and `value` as Django stores it."""
    redis_key = backend.make_and_validate_key(key)
    # RedisSerializer pickles strings (only ints are stored raw); pickling a str is deterministic,
    # so the stored bytes compare equal to a fresh `dumps` of the same token.
    return backend._cache.get_client(redis_key, write=True), redis_key, backend._cache._serializer.dumps(value)


@contextmanager
def _db_cursor(backend: DatabaseCache):
    """A cursor on the cache table's database, with the quoted table name and the quoting function."""
    connection = connections[router.db_for_write(backend.cache_model_class)]
    with connection.cursor() as cursor:
        yield cursor, connection.ops.quote_name(backend._table), connection.ops.quote_name


def _db_key(backend: DatabaseCache, key: str) -> str:
    return backend.make_and_validate_key(key)


def _db_value(backend: DatabaseCache, value: str) -> str:
    # DatabaseCache stores base64 of the pickle (django/core/cache/backends/db.py, `_base_set`);
    # the same token always encodes to the same text, so SQL can compare it.
    return base64.b64encode(pickle.dumps(value, backend.pickle_protocol)).decode("latin1")


def _db_expires(now, timeout: float):
    # The table keeps whole seconds (Django drops the microseconds): round up, never down.
    expires = now + timedelta(seconds=timeout)
    if expires.microsecond:
        expires = expires.replace(microsecond=0) + timedelta(seconds=1)
    return expires


def _db_add(backend: DatabaseCache, key: str, value: str, timeout: float) -> bool:
    """Take an expired row with one conditional UPDATE, else INSERT; the unique key refuses a second.

    Not `cache.add`: it reads the row and then updates it by key alone, so on PostgreSQL two
    callers that both saw an expired row both "add" it. Here a concurrent UPDATE re-checks
    `expires` after the first one commits, and finds the row taken.
    """
    now = tz_now()
    cache_key, stored = _db_key(backend, key), _db_value(backend, value)
    with _db_cursor(backend) as (cursor, table, q):
        ops = cursor.db.ops
        expires = ops.adapt_datetimefield_value(_db_expires(now, timeout))
        cursor.execute(
            f"UPDATE {table} SET {q('value')} = %s, {q('expires')} = %s"
            f" WHERE {q('cache_key')} = %s AND {q('expires')} < %s",
            [stored, expires, cache_key, ops.adapt_datetimefield_value(now)],
        )
        if cursor.rowcount == 1:
            return True
        try:
            with transaction.atomic(using=cursor.db.alias):  # a savepoint inside a caller's transaction
                cursor.execute(
                    f"INSERT INTO {table} ({q('cache_key')}, {q('value')}, {q('expires')}) VALUES (%s, %s, %s)",
                    [cache_key, stored, expires],
                )
        except IntegrityError:
            return False
        return True
