"""Django's Redis cache, with one kept connection per thread, without memcached's key checks.

Django's `RedisCacheClient.get_client` builds a new `redis.Redis` on every cache
call (about 60 µs of the 140 µs a `cache.get` costs here); a submission makes
several calls. And a `redis.Redis` on a pool takes a connection from the pool
and gives it back on every command: about half of redis-py 8's CPU for a short
command (the pool's lock, its connection-count bookkeeping, and a `poll()` of
the socket, one more system call that lets another thread take the GIL). So
each thread keeps one `redis.Redis(single_connection_client=True)` per pool:
its connection is taken from the pool once and used for every command that
thread sends (measured: a GET costs 56 µs of CPU instead of 112).

A pooled connection is checked when it is taken from the pool: one the server
closed (a Redis restart, an idle timeout) is made again before the command is
sent. A kept connection is checked the same way before its first command after
a quiet second (`CHECK_AFTER_IDLE_SECONDS`): a thread that is busy skips the
check (the cost this saves), and nothing retries a command, which could apply a
write twice (Django's pools retry none either). So a Redis restart while
requests flow fails the one command each thread had in flight, as it would with
the pool, and may fail each busy thread's next command: the request gets a 500,
which Slack shows (a form stays open to be sent again) or retries (events); a
task attempt fails and is retried.

A value this release cannot unpickle (written by another release during a
rolling deploy, or cut short) is a miss, logged and counted, not an exception
(`approvals.cache_values.loads_or_miss`): `get` and `get_many` below.

What stays as redis-py has it: pipelines and Lua scripts (a pipeline takes its
own connection from the pool), and the pool's limits. A thread's client gives its connection back to the pool when the thread
ends (the client is garbage-collected with the thread's locals). After a fork
the child's threads make new clients: a connection is never shared between
processes (the pool starts afresh in the child as well).
"""

import os
import threading
import time

from django.core.cache.backends.redis import RedisCache as DjangoRedisCache
from django.core.cache.backends.redis import RedisCacheClient as DjangoRedisCacheClient
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from approvals.cache_values import MISS, loads_or_miss

CHECK_AFTER_IDLE_SECONDS = 1.0


class RedisCacheClient(DjangoRedisCacheClient):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._local = threading.local()  # .pid; .clients: {id(pool): redis.Redis}; .used: {id(pool): monotonic}

    def get_client(self, key=None, *, write=False):
        pool = self._get_connection_pool(write)  # pools live as long as this client: their ids stay theirs
        local = self._local
        if getattr(local, "pid", None) != os.getpid():
            local.clients, local.used, local.pid = {}, {}, os.getpid()
        now = time.monotonic()
        client = local.clients.get(id(pool))
        if client is None:
            client = local.clients[id(pool)] = self._client(connection_pool=pool, single_connection_client=True)
        elif now - local.used[id(pool)] >= CHECK_AFTER_IDLE_SECONDS:
            _drop_if_closed(client.connection)
        local.used[id(pool)] = now
        return client

    # Django's get and get_many with one change: a value this release cannot unpickle is a miss.
    def get(self, key, default):
        value = self.get_client(key).get(key)
        if value is None:
            return default
        value = loads_or_miss(self._serializer.loads, value, key)
        return default if value is MISS else value

    def get_many(self, keys):
        values = self.get_client(None).mget(keys)
        found = {}
        for key, value in zip(keys, values):
            if value is not None and (value := loads_or_miss(self._serializer.loads, value, key)) is not MISS:
                found[key] = value
        return found


def _drop_if_closed(connection) -> None:
    """The pool's check of a connection it hands out: anything to read before a command is sent means
    the server closed it (or it is out of step); disconnected, it connects again on the next command."""
    try:
        if connection.can_read():
            connection.disconnect()
    except (RedisConnectionError, RedisTimeoutError, OSError):
        connection.disconnect()


class RedisCache(DjangoRedisCache):
    def __init__(self, server, params):
        super().__init__(server, params)
        self._class = RedisCacheClient

    def validate_key(self, key):
        """Nothing to check: Redis keys may hold any bytes. Django's check warns about keys memcached
        would refuse (length, spaces, control characters) by looking at every character of every key,
        on every call; our keys are built by our code, never typed by anyone."""
