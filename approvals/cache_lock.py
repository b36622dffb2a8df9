"""Short locks in the shared cache, for every process on every host.

`cache.add` is atomic (Redis `SET NX`; a unique-key insert in the database
cache), so exactly one caller takes a free lock. Each holder stores its own
token and releases only a lock that is still its own: one that outlived its
timeout may belong to someone else by then.
"""

import time
import uuid

from django.core.cache import cache


def acquire(key: str, *, timeout: float, wait: float, poll: float = 0.05, unless=None) -> str | None:
    """The holder's token, or None after `wait` seconds or as soon as `unless()` is true."""
    token = uuid.uuid4().hex
    deadline = time.monotonic() + wait
    while True:
        if unless is not None and unless():
            return None
        if cache.add(key, token, timeout):
            return token
        if time.monotonic() > deadline:
            return None
        time.sleep(poll)


def release(key: str, token: str | None) -> None:
    if token is not None and cache.get(key) == token:
        cache.delete(key)


class locked:
    """`with locked(key):` — raises TimeoutError when the lock stays busy for `wait` seconds."""

    def __init__(self, key: str, timeout: float = 10, wait: float = 5):
        self.key, self.timeout, self.wait = key, timeout, wait
        self.token = None

    def __enter__(self):
        self.token = acquire(self.key, timeout=self.timeout, wait=self.wait, poll=0.02)
        if self.token is None:
            raise TimeoutError(f"lock {self.key} is busy")
        return self

    def __exit__(self, *exc):
        release(self.key, self.token)
