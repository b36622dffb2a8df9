"""Small indexes of ids in the shared cache, each id with its own expiry: the pending set's indexes.

An index maps members (request ids, day names) to the moment they expire.
Every submission adds to a few of them (its person's, its team's days), and
every submission of a busy team touches the same ones, so how they change
decides whether submissions wait for each other:

- On Redis an index is a sorted set (member -> expiry as its score). Adding is
  ZADD, removing is ZREM, reading is ZRANGEBYSCORE from now: each is atomic in
  Redis itself, so no lock is taken, and a whole add (its cache values, every
  index, the pruning of expired members) is one MULTI/EXEC round trip, or one
  Lua script for `add_if`. Readers never see an index naming a request whose
  entry is not stored yet.
- On any other cache (the database cache of a one-machine install) an index is
  a dict stored under its key, rewritten under `lock` (read, change, write).

An add may be conditional (`add_if`): only if a version key still holds what
the caller read before deciding to add, and only if a claim key is free. That
is how a submission is checked and added without holding a lock while it is
checked: it reads the person's version with what it checks, and the add fails
("changed") if another submission of theirs was added meanwhile; then it reads
and checks again.

Callers name cache keys as for `django.core.cache.cache`; on Redis the same
key prefix and version apply.
"""

import math
import time
from typing import Any

from django.core.cache import DEFAULT_CACHE_ALIAS, cache, caches
from django.core.cache.backends.redis import RedisCache

from approvals.cache_lock import locked
from approvals.cache_values import MISS, loads_or_miss


def read(keys: list[str], *, values: list[str] = ()) -> tuple[dict[str, dict[str, float]], dict[str, Any]]:
    """The live members of each index ({member: expires at}) and the cache values of `values` (those
    present): one round trip on Redis (a read-only script), one on other caches."""
    now = time.time()
    redis = _redis()
    if redis is None:
        found = cache.get_many([*values, *keys]) if keys or values else {}
        indexes = {key: {m: e for m, e in (found.get(key) or {}).items() if e > now} for key in keys}
        return indexes, {key: found[key] for key in values if key in found}
    backend, client = redis
    make_key = backend.make_and_validate_key
    replies = _run(client, REDIS_READ, keys=[*(make_key(key) for key in values), *(make_key(key) for key in keys)],
                   args=[len(values), now])
    stored = _loaded(backend, zip(values, replies[0]))
    indexes = {}
    for key, flat in zip(keys, replies[1:]):
        indexes[key] = {_text(flat[i]): float(flat[i + 1]) for i in range(0, len(flat), 2)}
    return indexes, stored


# `read` in one step. KEYS: the value keys, then the index keys. ARGV: the number of value keys, now.
# Returns {values}, then each index's live members as member/score pairs.
REDIS_READ = """
local n_values = tonumber(ARGV[1])
local out = {{}}
for i = 1, n_values do
    out[1][i] = redis.call('get', KEYS[i])
end
for k = n_values + 1, #KEYS do
    out[#out + 1] = redis.call('zrangebyscore', KEYS[k], '(' .. ARGV[2], '+inf', 'withscores')
end
return out
"""


def read_entries(keys: list[str], *, values: list[str] = (), entries_under: str,
                 entries_max: int | None = None) -> tuple[list[str], int, dict[str, Any]]:
    """The members of these indexes whose entries were read, how many more they hold, and the cache
    values of `values` and of `entries_under + member` for each member read: one round trip on
    Redis (a read-only script), two on other caches.

    The members are each live member once, index by index in the order given; with `entries_max`,
    the first index's all and at most this many more (a preview that names a few people of a busy
    team), the others counted and not read. What this costs here grows with what is read, not with
    what the indexes hold: on Redis the script walks the indexes and sends back only the members it
    read and the count of the rest."""
    now = time.time()
    redis = _redis()
    if redis is None:
        found = cache.get_many([*values, *keys]) if keys or values else {}
        live = [[m for m, expires in (found.get(key) or {}).items() if expires > now] for key in keys]
        members = list(dict.fromkeys(m for index in live for m in index))  # each once, in the order first met
        read = members if entries_max is None or not keys else members[:len(live[0]) + entries_max]
        stored = {key: found[key] for key in values if key in found}
        if read:
            stored.update(cache.get_many([entries_under + m for m in read]))
        return read, len(members) - len(read), stored
    backend, client = redis
    make_key = backend.make_and_validate_key
    found_values, read, unread, entries = _run(
        client, REDIS_READ_ENTRIES, keys=[*(make_key(key) for key in values), *(make_key(key) for key in keys)],
        args=[len(values), now, make_key(entries_under), "" if entries_max is None else entries_max])
    stored = _loaded(backend, zip(values, found_values))
    read = [_text(member) for member in read]
    stored.update(_loaded(backend, ((entries_under + m, reply) for m, reply in zip(read, entries))))
    return read, unread, stored


# `read_entries` in one step. KEYS: the value keys, then the index keys. ARGV: the number of value
# keys, now, the entries' key prefix, how many members to read beyond the first index's ("" for all).
# Returns {values}, {the members read, once each, in the order first met}, how many other live members
# the indexes hold, {the value of prefix..member for each member read}. The entry keys are not in
# KEYS: they are named by what the indexes hold, so they cannot be declared; fine on one Redis
# (Django's cache writes to one server), not on Redis Cluster.
REDIS_READ_ENTRIES = """
local n_values = tonumber(ARGV[1])
local values = {}
for i = 1, n_values do
    values[i] = redis.call('get', KEYS[i])
end
local seen, read, unread, limit = {}, {}, 0, nil
for k = n_values + 1, #KEYS do
    local live = redis.call('zrangebyscore', KEYS[k], '(' .. ARGV[2], '+inf')
    for j = 1, #live do
        local member = live[j]
        if not seen[member] then
            seen[member] = true
            if limit == nil or #read < limit then
                read[#read + 1] = member
            else
                unread = unread + 1
            end
        end
    end
    if limit == nil and ARGV[4] ~= '' then
        limit = #read + tonumber(ARGV[4])  -- the first index's members, and this many more
    end
end
local entries = {}
for i = 1, #read, 500 do
    local names = {}
    for j = i, math.min(i + 499, #read) do
        names[#names + 1] = ARGV[3] .. read[j]
    end
    local got = redis.call('mget', unpack(names))
    for j = 1, #names do
        entries[#entries + 1] = got[j]
    end
end
return {values, read, unread, entries}
"""


def add(members: dict[str, dict[str, float]], *, values: dict[str, Any], timeout: float, lock: str,
        wait: float, version: str | None = None) -> None:
    """Store `values` and add `members` ({index key: {member: expires at}}) to their indexes, and move
    the `version` key on (see `add_if`); every key written lives `timeout` seconds. Other caches:
    under `lock`, TimeoutError after `wait` seconds."""
    now = time.time()
    redis = _redis()
    if redis is None:
        with locked(lock, wait=wait):
            _write_locked(members, values, version, timeout, now)
        return
    backend, client = redis
    dumps, milliseconds = backend._cache._serializer.dumps, _milliseconds(timeout)
    pipe = client.pipeline(transaction=True)  # the entries land with the indexes naming them
    for key, value in values.items():
        pipe.set(backend.make_and_validate_key(key), dumps(value), px=milliseconds)
    for key, added in members.items():
        redis_key = backend.make_and_validate_key(key)
        pipe.zadd(redis_key, added)
        pipe.zremrangebyscore(redis_key, "-inf", now)  # what expired goes, so no index grows for ever
        pipe.pexpire(redis_key, milliseconds)
    if version is not None:
        pipe.incr(backend.make_and_validate_key(version))
        pipe.pexpire(backend.make_and_validate_key(version), milliseconds)
    pipe.execute()


ADDED, CHANGED, CLAIMED = "added", "changed", "claimed"

# The conditional add, in one step in Redis. KEYS: the version key, the claim key, the value keys,
# the index keys. ARGV: the version the caller read ("" for no check), the claim's stored value and
# lifetime (ms), the keys' lifetime (ms), now (for pruning), the values, then for each index its
# member count and member/score pairs.
REDIS_ADD_IF = """
if redis.call('exists', KEYS[2]) == 1 then
    return 'claimed'
end
local version = tonumber(redis.call('get', KEYS[1]) or '0')
if ARGV[1] ~= '' and version ~= tonumber(ARGV[1]) then
    return 'changed'
end
redis.call('set', KEYS[2], ARGV[2], 'PX', ARGV[3])
local ttl, now = ARGV[4], ARGV[5]
local n_values = tonumber(ARGV[6])
local arg = 7
for i = 1, n_values do
    redis.call('set', KEYS[2 + i], ARGV[arg], 'PX', ttl)
    arg = arg + 1
end
for k = 3 + n_values, #KEYS do
    local count = tonumber(ARGV[arg])
    arg = arg + 1
    for j = 1, count do
        redis.call('zadd', KEYS[k], ARGV[arg + 1], ARGV[arg])
        arg = arg + 2
    end
    redis.call('zremrangebyscore', KEYS[k], '-inf', now)
    redis.call('pexpire', KEYS[k], ttl)
end
redis.call('incr', KEYS[1])
redis.call('pexpire', KEYS[1], ttl)
return 'added'
"""


def add_if(members: dict[str, dict[str, float]], *, values: dict[str, Any], timeout: float,
           version: tuple[str, int | None], claim: tuple[str, Any, float], lock: str, wait: float) -> str:
    """`add`, only if the claim key is free (`claim`: (key, value, lifetime in seconds)) and the version
    key still holds the version read (`version`: (key, what was read; None: no check)); then the claim
    is taken and the version moves on. ADDED, or (nothing written) CLAIMED or CHANGED: a taken claim
    is reported first, so a form sent twice is always recognised as such."""
    version_key, seen = version
    claim_key, claim_value, claim_timeout = claim
    now = time.time()
    redis = _redis()
    if redis is None:
        with locked(lock, wait=wait):
            if cache.get(claim_key) is not None:
                return CLAIMED
            if seen is not None and (cache.get(version_key) or 0) != seen:
                return CHANGED
            if not cache.add(claim_key, claim_value, claim_timeout):
                return CLAIMED
            _write_locked(members, values, version_key, timeout, now)
        return ADDED
    backend, client = redis
    dumps, make_key = backend._cache._serializer.dumps, backend.make_and_validate_key
    keys = [make_key(version_key), make_key(claim_key), *(make_key(key) for key in values),
            *(make_key(key) for key in members)]
    args = ["" if seen is None else seen, dumps(claim_value), _milliseconds(claim_timeout), _milliseconds(timeout),
            now, len(values), *(dumps(value) for value in values.values())]
    for added in members.values():
        args.append(len(added))
        for member, expires in added.items():
            args += [member, expires]
    outcome = _run(client, REDIS_ADD_IF, keys=keys, args=args)
    return _text(outcome)


def version_of(found: dict[str, Any], key: str) -> int:
    """A version key's value as `read` returned it (absent: 0)."""
    return int(found.get(key) or 0)


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


def _write_locked(members: dict[str, dict[str, float]], values: dict[str, Any], version: str | None,
                  timeout: float, now: float) -> None:
    """An add on caches other than Redis, under the caller's lock: each index read, pruned of what
    expired, added to and written back, with `values`, and the version moved on."""
    current = cache.get_many([*members, *([version] if version else [])])
    changed = dict(values)
    for key, added in members.items():
        index = {m: e for m, e in (current.get(key) or {}).items() if e > now}
        index.update(added)
        changed[key] = index
    if version is not None:
        changed[version] = (current.get(version) or 0) + 1
    cache.set_many(changed, timeout)


def _loaded(backend: RedisCache, replies) -> dict[str, Any]:
    """{key: value} of the (key, raw reply) pairs Redis had a value for, unpickled as the cache's `get`
    does: one this release cannot read (another release's, during a deploy) is left out, a miss."""
    loads, found = backend._cache._serializer.loads, {}
    for key, reply in replies:
        if reply is not None and (value := loads_or_miss(loads, reply, key)) is not MISS:
            found[key] = value
    return found


def _redis() -> tuple[RedisCache, Any] | None:
    """Django's Redis cache and its write client (never a replica), or None on any other cache."""
    backend = caches[DEFAULT_CACHE_ALIAS]
    if not isinstance(backend, RedisCache):
        return None
    return backend, backend._cache.get_client(write=True)


_scripts: dict = {}


def _run(client, source: str, *, keys: list, args: list):
    """Run a Lua script by EVALSHA (its Script object made once per source: making one hashes the
    source); the Script loads the source itself when Redis does not know it (after a restart, say)."""
    script = _scripts.get(source)
    if script is None:
        script = _scripts.setdefault(source, client.register_script(source))
    return script(keys=keys, args=args, client=client)


def _milliseconds(seconds: float) -> int:
    return max(1, math.ceil(seconds * 1000))


def _text(member: bytes | str) -> str:
    return member.decode() if isinstance(member, bytes) else member
