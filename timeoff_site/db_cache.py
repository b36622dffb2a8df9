"""Django's database cache, except that a write the database refuses raises instead of passing silently.

Django's `DatabaseCache._base_set` catches every `DatabaseError` of its write and
returns False: meant for two processes inserting the same key at once (the loser's
IntegrityError), it also swallows SQLite's "database is locked" after its busy
timeout and a PostgreSQL connection lost mid-write. Then `add` answers False, as if
the key were taken, and `set` stores nothing: an event's de-duplication key not
written reads as "a duplicate" and the event is acknowledged unhandled; a mark a
retry relies on (`posting:`, `decided:`, the app's revocation) is silently
missing. Here such an error is raised, as Redis raises its own, so the request
answers 5xx (Slack retries) or the task attempt fails and is retried. A unique-key
conflict stays what Django makes of it: `add` lost the race (False), `set` lost to
a concurrent `set` of the same key.

And a value this release cannot unpickle (written by another release during a
rolling deploy, or cut short) is a miss, logged and counted, not an exception
(`approvals.cache_values.loads_or_miss`): `get_many` below, which `get` uses.
"""

import base64
import pickle

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.db import DatabaseCache as DjangoDatabaseCache
from django.db import DatabaseError, IntegrityError, connections, models, router
from django.utils.timezone import now as tz_now

from approvals.cache_values import MISS, loads_or_miss


def _unpickle(value: str):
    return pickle.loads(base64.b64decode(value.encode(), validate=True))


class DatabaseCache(DjangoDatabaseCache):
    def get_many(self, keys, version=None):
        """Django's (django/core/cache/backends/db.py, 6.1), but each value unpickled through `loads_or_miss`."""
        if not keys:
            return {}
        key_map = {self.make_and_validate_key(key, version=version): key for key in keys}
        connection = connections[router.db_for_read(self.cache_model_class)]
        quote_name = connection.ops.quote_name
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT %s, %s, %s FROM %s WHERE %s IN (%s)" % (
                    quote_name("cache_key"), quote_name("value"), quote_name("expires"), quote_name(self._table),
                    quote_name("cache_key"), ", ".join(["%s"] * len(key_map)),
                ),
                list(key_map),
            )
            rows = cursor.fetchall()
        result = {}
        expired_keys = []
        expression = models.Expression(output_field=models.DateTimeField())
        converters = connection.ops.get_db_converters(expression) + expression.get_db_converters(connection)
        for key, value, expires in rows:
            for converter in converters:
                expires = converter(expires, expression, connection)
            if expires < tz_now():
                expired_keys.append(key)
                continue
            value = loads_or_miss(_unpickle, connection.ops.process_clob(value), key)
            if value is not MISS:
                result[key_map.get(key)] = value
        self._base_delete_many(expired_keys)
        return result

    def _base_set(self, mode, key, value, timeout=DEFAULT_TIMEOUT):
        refused = []

        def watch(execute, sql, params, many, context):
            try:
                return execute(sql, params, many, context)
            except DatabaseError as exc:
                if not isinstance(exc, IntegrityError):
                    refused.append(exc)
                raise

        connection = connections[router.db_for_write(self.cache_model_class)]
        with connection.execute_wrapper(watch):
            stored = super()._base_set(mode, key, value, timeout)
        if refused:
            raise refused[0]
        return stored
