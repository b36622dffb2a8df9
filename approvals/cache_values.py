"""Values in the shared cache while two releases share it: a rolling deploy.

During a rolling deploy the old and the new release run side by side for
minutes, on the same Redis (or database cache). Both pickle Python objects
into it, and pickle names classes by where they live: a value that one
release wrote may not unpickle in the other (a class renamed or moved raises
AttributeError or ModuleNotFoundError), and a dataclass whose fields changed
unpickles without complaint into an object that lacks a field (AttributeError
later, wherever it is read) or carries one nobody expects. Two defences, both
here:

- `loads_or_miss`: the cache backends (timeoff_site/redis_cache.py,
  timeoff_site/db_cache.py) and the Lua-script readers of pending_indexes
  unpickle through it, so a value this release cannot read — another
  release's class, a truncated or garbage value — is a cache miss, logged and
  counted (`timeoff_cache_unreadable_values_total`), never an exception on the
  Slack hot path. A miss is what every reader already handles: the value is
  built again (from the database, from Slack) and stored over the unreadable one.
- `schema_tag`: a digest of the shape of the dataclasses a key holds (their
  module and name, every field's name and declared type, recursively). Keys of
  pickled structures (the configuration snapshot, the ledger and its slices,
  the directory, the setup report) carry it, so releases whose shapes differ
  use different keys and never read each other's values; releases whose
  shapes agree share them, as before. Without the tag the two releases would
  keep overwriting one key with values the other cannot read (each miss
  rebuilds and stores its own).

Keys that must stay shared across releases carry no tag: locks, de-duplication
claims, marks a retry relies on, the configuration's generation, the ledger
read's budget and pause, and the pending set (approvals/ledger_reader.py says
why). They hold plain values (str, int, float, tuples and dicts of them,
dates), which every release reads alike.
"""

import dataclasses
import hashlib
import logging
import types
import typing
from typing import Any

from approvals import metrics, observe

logger = logging.getLogger(__name__)


class _Miss:
    def __repr__(self) -> str:
        return "MISS"


MISS = _Miss()  # what `loads_or_miss` returns for a value it could not read


def loads_or_miss(loads, data, key: str) -> Any:
    """`loads(data)`, or MISS when it fails: a value another release pickled (a class it has and this one
    has not), or one cut short. Any exception: unpickling runs arbitrary constructors, and whatever one
    raises means the same — this release cannot use the value."""
    try:
        return loads(data)
    except Exception as exc:
        error = type(exc).__name__
        metrics.CACHE_UNREADABLE.labels(error=observe.label_value(error)).inc()
        # The key says which value (our keys hold ids, never secrets); the value itself is not logged.
        logger.warning("cache value unreadable here, taken as a miss key=%s error=%s: %s", key, error, exc)
        return MISS


def schema_tag(*types_: type) -> str:
    """A short digest of how these dataclasses pickle: each one's module and name, and its fields' names and
    declared types, and the same for every dataclass those types name (a Ledger's LedgerEntry), recursively.

    It changes when a class is renamed or moved or a field is added, removed, renamed or given another type;
    not with methods, defaults or comments, which do not change what is pickled. Types are described by
    name, not by `repr` (which changes between Python versions for unions), so one release on two Python
    versions keeps one tag."""
    described: dict[type, str] = {}
    pending = list(types_)
    while pending:
        kind = pending.pop(0)
        if kind in described or not dataclasses.is_dataclass(kind):
            continue
        try:
            hints = typing.get_type_hints(kind)
        except Exception:  # a forward reference this module cannot resolve: the annotation as written
            hints = {}
        parts = []
        for field in dataclasses.fields(kind):
            hint = hints.get(field.name, field.type)
            parts.append(f"{field.name}:{_type_name(hint)}")
            pending.extend(_named_types(hint))
        described[kind] = f"{_type_name(kind)}({','.join(parts)})"
    text = " ".join(described[kind] for kind in sorted(described, key=_type_name))
    return hashlib.sha256(text.encode()).hexdigest()[:10]


def _type_name(hint) -> str:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is None:
        if isinstance(hint, type):
            return f"{hint.__module__}.{hint.__qualname__}"
        return repr(hint)  # a string annotation, `...`, typing.Any
    if origin in (typing.Union, types.UnionType):
        return "|".join(sorted(_type_name(arg) for arg in args))
    if origin is typing.Literal:
        return f"Literal[{','.join(repr(arg) for arg in args)}]"
    return f"{_type_name(origin)}[{','.join(_type_name(arg) for arg in args)}]"


def _named_types(hint) -> list:
    args = typing.get_args(hint)
    if typing.get_origin(hint) is typing.Literal:
        return []
    found = [hint] if isinstance(hint, type) else []
    for arg in args:
        found.extend(_named_types(arg))
    return found
