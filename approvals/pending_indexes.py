"""Small indexes of ids in the shared cache, each id with its own expiry: the pending set's indexes.

An index maps members (request ids, week names) to the moment they expire.
Every submission adds to a few of them (its person's, its team's weeks), and
every submission of a busy team touches the same ones, so how they change
decides whether submissions wait for each other:

- On Redis an index is a sorted set (member -> expiry as its score). Adding is
  ZADD, removing is ZREM, reading is ZRANGEBYSCORE from now: each is atomic in
  Redis itself, so no lock is taken, and a whole add (its cache values, every
  index, the pruning of expired members) is one MULTI/EXEC round trip. Readers
  never see an index naming a request whose entry is not stored yet.
- On any other cache (the database cache of a one-machine install) an index is
  a dict stored under its key, rewritten under `lock` (read, change, write).

Callers name cache keys as for `django.core.cache.cache`; on Redis the same
key prefix and version apply.
"""

import time
from typing import Any

from django.core.cache import DEFAULT_CACHE_ALIAS, cache, caches
from django.core.cache.backends.redis import RedisCache

from approvals.cache_lock import locked


def read(keys: list[str], *, values: list[str] = ()) -> tuple[dict[str, dict[str, float]], dict[str, Any]]:
    """The live members of each index ({member: expires at}), and the cache values of `values`:
    one round trip on Redis."""
    now = time.time()
    redis = _redis()
    if redis is None:
        found = cache.get_many([*values, *keys]) if keys or values else {}
        indexes = {key: {m: e for m, e in (found.get(key) or {}).items() if e > now} for key in keys}
        return indexes, {key: found[key] for key in values if key in found}
    backend, client = redis
    pipe = client.pipeline(transaction=False)
    for key in values:
        pipe.get(backend.make_and_validate_key(key))
    for key in keys:
        pipe.zrangebyscore(backend.make_and_validate_key(key), f"({now}", "+inf", withscores=True)
    replies = pipe.execute()
    loads = backend._cache._serializer.loads
    stored = {key: loads(reply) for key, reply in zip(values, replies) if reply is not None}
    indexes = {key: {_text(m): float(e) for m, e in reply} for key, reply in zip(keys, replies[len(values):])}
    return indexes, stored


def add(members: dict[str, dict[str, float]], *, values: dict[str, Any], timeout: float, lock: str,
        wait: float) -> None:
    """Store `values` and add `members` ({index key: {member: expires at}}) to their indexes; every key
    written lives `timeout` seconds. Other caches: under `lock`, TimeoutError after `wait` seconds."""
    now = time.time()
    redis = _redis()
    if redis is None:
        with locked(lock, wait=wait):
            current = cache.get_many(list(members))
            changed = dict(values)
            for key, added in members.items():
                index = {m: e for m, e in (current.get(key) or {}).items() if e > now}
                index.update(added)
                changed[key] = index
            cache.set_many(changed, timeout)
        return
    backend, client = redis
    dumps, milliseconds = backend._cache._serializer.dumps, int(timeout * 1000)
    pipe = client.pipeline(transaction=True)  # the entries land with the indexes naming them
    for key, value in values.items():
        pipe.set(backend.make_and_validate_key(key), dumps(value), px=milliseconds)
    for key, added in members.items():
        redis_key = backend.make_and_validate_key(key)
        pipe.zadd(redis_key, added)
        pipe.zremrangebyscore(redis_key, "-inf", now)  # what expired goes, so no index grows for ever
        pipe.pexpire(redis_key, milliseconds)
    pipe.execute()


def remove(member: str, keys: list[str], *, delete: list[str], lock: str, timeout: float) -> None:
    """Take `member` out of the indexes `keys` and delete the cache keys `delete`."""
    redis = _redis()
    if redis is None:
        with locked(lock):
            current = cache.get_many(keys)
            changed = {key: {m: e for m, e in index.items() if m != member}
                       for key, index in current.items() if index and member in index}
            if changed:
                cache.set_many(changed, timeout)
            cache.delete_many(delete)
        return
    backend, client = redis
    pipe = client.pipeline(transaction=True)
    for key in keys:
        pipe.zrem(backend.make_and_validate_key(key), member)
    if delete:
        pipe.delete(*(backend.make_and_validate_key(key) for key in delete))
    pipe.execute()


def _redis() -> tuple[RedisCache, Any] | None:
    """Django's Redis cache and its write client (never a replica), or None on any other cache."""
    backend = caches[DEFAULT_CACHE_ALIAS]
    if not isinstance(backend, RedisCache):
        return None
    return backend, backend._cache.get_client(write=True)


def _text(member: bytes | str) -> str:
    return member.decode() if isinstance(member, bytes) else member
