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
"""

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.db import DatabaseCache as DjangoDatabaseCache
from django.db import DatabaseError, IntegrityError, connections, router


class DatabaseCache(DjangoDatabaseCache):
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
