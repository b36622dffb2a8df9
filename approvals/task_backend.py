"""Our task backend: django-tasks-db's `DatabaseBackend`, with an enqueue at less than half the CPU.

Why it exists: an enqueue is most of what the Slack "Approve" click costs beyond
verifying and parsing (bench/enqueue.py). Upstream's `enqueue` spends about a
millisecond of CPU on one row: `validate_task` (again: the task was validated
when it was made), `DBTaskResult.objects.create()` (a QuerySet, a Query and an
insert compiler for one row) and `db_result.task_result`, twice (each an
`import_string` of the task's path and a `task.using()`, which validates the
task once more). This subclass writes the same row with one INSERT and builds
the TaskResult from the task it was given. bench/enqueue.py on PostgreSQL:
0.46 ms of CPU per enqueue, against upstream's 1.09 ms and 0.25 ms for the bare
INSERT through Django's cursor.

What stays as upstream has it:

- the row, column by column: a `DBTaskResult` made with upstream's own
  arguments (so the model's defaults fill the rest), the model's `pre_save` and
  `post_save` signals (upstream's own `pre_save` receiver turns a `run_after` of
  None into `get_date_max()`: the column is not nullable), then every column
  through the field's `pre_save(add=True)` and `get_db_prep_save()`, as the
  ORM's insert compiler does (a column every enqueue gives the same value, a
  default or the alias, is adapted once per database); the statement is the one the ORM writes, built
  from the model's `_meta` once per database alias (and vendor) and cached;
- where it is written: `router.db_for_write(DBTaskResult)`'s connection, so
  inside `transaction.atomic()` the row is part of the caller's transaction,
  and a failed INSERT marks it for rollback (`mark_for_rollback_on_error`), as
  `Model.save_base` does;
- the `TaskResult` (upstream's class, `db_result` the saved instance) and the
  `task_enqueued` signal, sent by `type(self)` as upstream does;
- `aenqueue`, `get_result`, `aget_result`: upstream's (see `aenqueue` below).

What differs, on purpose:

- `validate_task` runs once per task (cached; see `_validate`), and the check
  that the task's path imports to a Task (upstream's `DBTaskResult.task`) runs
  with it, before the row is written: upstream writes the row, then fails;
- one TaskResult is sent with the signal and returned (upstream builds two equal
  ones), its args and kwargs the row's (normalized once, not copied again);
- `.task` of the result is the task passed in (upstream: an equal one, imported
  and rebuilt with `using()`).

And one addition: `enqueued_once(key)`, inside which the next enqueue writes
its row under an id derived from the key with `INSERT … ON CONFLICT DO NOTHING`
and says whether the row was there already. The row is then its own
de-duplication record (slackbot/events.py: an App Home open, enqueued once
per Slack event id), written in the one statement that queues the task.

It falls back to upstream's `enqueue` where it has not been checked: a database
other than SQLite or PostgreSQL, an `id_function` giving a database expression
(the ORM computes it in the INSERT), or a model whose columns are not KNOWN_COLUMNS
(a newer django-tasks-db).
"""

import contextlib
import contextvars
import dataclasses
import logging
import uuid

from django.core.exceptions import SuspiciousOperation
from django.db import InterfaceError, OperationalError, connections, router, transaction
from django.db.models.signals import post_save, pre_save
from django.tasks import Task, TaskResultStatus
from django.tasks.signals import task_enqueued
from django.utils.json import normalize_json
from django.utils.module_loading import import_string
from django_tasks_db import DatabaseBackend as UpstreamDatabaseBackend
from django_tasks_db.backend import TaskResult
from django_tasks_db.utils import normalize_uuid

logger = logging.getLogger(__name__)

# The DBTaskResult columns this enqueue has been checked against (django-tasks-db 0.13).
KNOWN_COLUMNS = frozenset({"id", "status", "enqueued_at", "started_at", "finished_at", "args_kwargs", "priority",
                           "task_path", "worker_ids", "queue_name", "backend_name", "run_after", "return_value",
                           "exception_class_path", "traceback"})
CHECKED_VENDORS = frozenset({"sqlite", "postgresql"})
VALIDATED_TASKS_MAX = 512  # distinct (task, priority, queue) combinations: a few dozen in this app


@dataclasses.dataclass(frozen=True)
class _Insert:
    """One DBTaskResult row's INSERT on one database, and how to fill it.

    `columns` follows the model's fields (the statement's column order, and the
    order `Model(*values)` takes): (field, needs `pre_save`, value when it is
    the column's constant, that value adapted for the database, or UNSET).
    """

    sql: str
    columns: tuple

    @property
    def sql_once(self) -> str:
        """The same INSERT, writing nothing when a row with its id exists (SQLite 3.24+, PostgreSQL)."""
        return f"{self.sql} ON CONFLICT DO NOTHING"


UNSET = object()


@dataclasses.dataclass
class Once:
    """An enqueue made at most once under a key: `duplicate` once the enqueue found the key's row there."""

    key: str
    used: bool = False
    duplicate: bool = False


_once: contextvars.ContextVar[Once | None] = contextvars.ContextVar("task_enqueue_once", default=None)
# Task rows written under a key have this uuid5 of the key as their id (any fixed namespace would do).
ONCE_NAMESPACE = uuid.UUID("5b0a2f4e-8c1d-4a6e-9f3b-7d2e1c0a9b84")


@contextlib.contextmanager
def enqueued_once(key: str):
    """Inside, the first enqueue through this backend writes its row with an id derived from `key`, and
    writes nothing when a row with that id exists already (a task enqueued under the key before, kept
    until pruned: a day after it ran). The yielded `Once` says which. One INSERT either way: the row is
    its own de-duplication record, written in the same statement that queues the task, so there is
    no moment when the one is written and the other not.

    Only where `enqueues_once()`; elsewhere the key is ignored and the task enqueued as usual.
    """
    once = Once(key)
    token = _once.set(once)
    try:
        yield once
    finally:
        _once.reset(token)


def enqueues_once(alias: str = "default") -> bool:
    """Whether `enqueued_once` de-duplicates on this task backend: ours, on a database whose INSERT it
    writes itself (SQLite or PostgreSQL)."""
    from django.tasks import task_backends
    from django_tasks_db.models import DBTaskResult

    backend = task_backends[alias]
    return (isinstance(backend, DatabaseBackend)
            and backend._insert_for(connections[router.db_for_write(DBTaskResult)]) is not None)


class DatabaseBackend(UpstreamDatabaseBackend):
    def __init__(self, alias: str, params: dict) -> None:
        super().__init__(alias, params)
        self._validated: set = set()  # tasks (hashable frozen dataclasses) validated by this backend
        self._inserts: dict = {}  # (database alias, vendor) -> _Insert, or None: use upstream's enqueue

    def enqueue(self, task, args, kwargs):
        from django_tasks_db.models import DBTaskResult  # not at import: a backend may be made before apps are ready

        self._validate(task)
        connection = connections[router.db_for_write(DBTaskResult)]
        insert = self._insert_for(connection)
        once = _once.get()
        if once is not None and (once.used or insert is None):
            once = None  # a second task under the key, or an unchecked database: as usual
        result_id = uuid.uuid5(ONCE_NAMESPACE, once.key) if once is not None else self._get_id()
        if insert is None or hasattr(result_id, "resolve_expression"):
            return super().enqueue(task, args, kwargs)

        # Upstream's `DBTaskResult.objects.create(...)` arguments; the model's defaults fill the rest.
        args_kwargs = normalize_json({"args": args, "kwargs": kwargs})
        given = {"id": result_id, "args_kwargs": args_kwargs, "priority": task.priority,
                 "task_path": task.module_path, "queue_name": task.queue_name, "run_after": task.run_after,
                 "backend_name": self.alias}
        # Model(*values) is Model(**given) without its keyword-argument loop: the same instance, for a
        # quarter of the cost.
        db_result = DBTaskResult(*[given[field.attname] if field.attname in given else field.get_default()
                                   for field, _, _, _ in insert.columns])
        written = self._insert(insert, db_result, connection, once=once is not None)
        if once is not None:
            once.used, once.duplicate = True, not written
        task_result = self._task_result(task, db_result)
        if written:  # a duplicate queued nothing: no signal (nor the metric counting enqueues)
            task_enqueued.send(type(self), task_result=task_result)
        return task_result

    # aenqueue stays upstream's (`DBTaskResult.objects.acreate`, `task_enqueued.asend`): nothing of
    # ours enqueues from async code, and a sync_to_async wrapper around `enqueue` would send the
    # signal with `send` instead of `asend`; the ORM's acreate runs the sync create in a thread anyway.

    def _validate(self, task) -> None:
        """`validate_task`, once per task: tasks are frozen, hashable dataclasses, and the checks
        read only the task's fields and this backend's (fixed) options.

        A task with a `run_after` (a retry's `using(run_after=...)`) is a new object every time,
        and its check reads settings.USE_TZ: validated every time and not kept, so the set holds
        only the module's tasks and their `using(priority=..., queue_name=...)` variants. Tasks
        are slotted dataclasses without `__weakref__`, so a WeakKeyDictionary cannot hold them,
        and `id(task)` could name another task once the first is garbage-collected. Membership
        hashes the task's fields: measured, 0.3 µs a lookup (`id(task)` in a dict: 0.1 µs),
        where `validate_task` and the import take about 4 µs.
        """
        if task in self._validated:
            return
        self.validate_task(task)
        # Upstream's `DBTaskResult.task` imports the path when it builds the result and fails
        # there, after writing the row; we check before writing it.
        if not isinstance(import_string(task.module_path), Task):
            raise SuspiciousOperation(f"Task path {task.module_path} does not point to a Task")
        if task.run_after is None:
            if len(self._validated) >= VALIDATED_TASKS_MAX:
                self._validated.clear()
            self._validated.add(task)

    def _insert_for(self, connection) -> _Insert | None:
        key = (connection.alias, connection.vendor)
        try:
            return self._inserts[key]
        except KeyError:
            insert = self._inserts[key] = self._build_insert(connection)
            return insert

    def _build_insert(self, connection) -> _Insert | None:
        """The ORM's INSERT for one DBTaskResult row on this connection, or None where not checked."""
        from django.db.models import DateField, Field
        from django_tasks_db.models import DBTaskResult

        meta = DBTaskResult._meta
        fields = tuple(meta.concrete_fields)
        unchecked = (
            connection.vendor not in CHECKED_VENDORS
            or {field.attname for field in fields} != KNOWN_COLUMNS
            or fields != tuple(field for field in meta.local_concrete_fields if not field.generated)
            or meta.parents
            or meta.proxy
            or meta.db_returning_fields
            or any(field.has_db_default() or hasattr(field, "get_placeholder_sql") for field in fields)
        )
        if unchecked:
            logger.warning("task backend %s: enqueue through django-tasks-db's ORM path on %s (%s)", self.alias,
                           connection.alias, connection.vendor)
            return None
        quote = connection.ops.quote_name
        # Word for word the ORM's statement: INSERT INTO "t" ("a", "b") VALUES (%s, %s)
        sql = "%s %s (%s) VALUES (%s)" % (
            connection.ops.insert_statement(),
            quote(meta.db_table),
            ", ".join(quote(field.column) for field in fields),
            ", ".join(["%s"] * len(fields)),
        )
        columns = []
        for field in fields:
            # Field.pre_save is `getattr(instance, attname)`, as is a date field's without auto_now(_add).
            plain = type(field).pre_save is Field.pre_save or (
                isinstance(field, DateField) and not field.auto_now and not field.auto_now_add)
            # Columns every enqueue gives the same value (the model's default, or this backend's
            # alias) are adapted once; an instance holding anything else is adapted as usual.
            if field.attname == "backend_name":
                constant = self.alias
            elif field.attname in {"id", "args_kwargs", "priority", "task_path", "queue_name", "run_after",
                                   "enqueued_at"}:
                constant = UNSET
            else:
                constant = field.get_default()
            adapted = UNSET if constant is UNSET else field.get_db_prep_save(constant, connection)
            columns.append((field, not plain, constant, adapted))
        return _Insert(sql=sql, columns=tuple(columns))

    @staticmethod
    def _insert(insert: _Insert, db_result, connection, *, once: bool = False) -> bool:
        """`Model.save_base(force_insert=True)` for this model: signals, one INSERT, the saved state.

        Each column's value is the field's `pre_save(instance, add=True)` (enqueued_at: now),
        adapted by its `get_db_prep_save`, as the ORM's insert compiler does. `once`: nothing is
        written when a row with this id exists; returns whether the row was written.
        """
        model = type(db_result)
        using = connection.alias
        pre_save.send(sender=model, instance=db_result, raw=False, using=using, update_fields=None)
        params = []
        for field, needs_pre_save, constant, adapted in insert.columns:
            value = field.pre_save(db_result, True) if needs_pre_save else getattr(db_result, field.attname)
            if adapted is not UNSET and type(value) is type(constant) and value == constant:
                params.append(adapted)
            else:
                params.append(field.get_db_prep_save(value, connection))
        sql = insert.sql_once if once else insert.sql
        with transaction.mark_for_rollback_on_error(using=using):
            try:
                with connection.cursor() as cursor:
                    cursor.execute(sql, params)
                    written = cursor.rowcount != 0
            except (OperationalError, InterfaceError):
                # A kept connection that died since its last use: no health check ran before this
                # request's query (settings: CONN_HEALTH_CHECKS is off), so check it now and write
                # once more on a new connection. Not inside a transaction: the caller's earlier
                # writes went with the old connection, and failing is the only honest answer.
                if connection.in_atomic_block or connection.connection is None or connection.is_usable():
                    raise
                logger.warning("task backend %s: the database connection was dead; enqueuing on a new one",
                               connection.alias)
                connection.close()
                # The first INSERT may have committed before its answer was lost: written again as
                # "nothing if the id exists". A random id found there is that first write, not a
                # duplicate (an `once` id found there may be another's, and counts as a duplicate).
                with connection.cursor() as cursor:
                    cursor.execute(insert.sql_once, params)
                    written = cursor.rowcount != 0 or not once
        if not written:
            return False  # the row under this id is someone else's: this instance was never saved
        db_result._state.db = using
        db_result._state.adding = False
        post_save.send(sender=model, instance=db_result, created=True, update_fields=None, raw=False, using=using)
        return True

    @staticmethod
    def _task_result(task, db_result) -> TaskResult:
        """Upstream's `DBTaskResult.task_result`, with the task we were given instead of an imported one."""
        from django_tasks_db.models import get_date_max

        run_after = db_result.run_after
        if run_after == get_date_max():
            run_after = None
        row = (db_result.priority, db_result.queue_name, run_after, db_result.backend_name)
        if row != (task.priority, task.queue_name, task.run_after, task.backend):
            # The task as the row names it, as upstream's `task.using(...)` gives it (a backend
            # other than the task's own, or a run_after of exactly get_date_max()).
            task = dataclasses.replace(task, priority=row[0], queue_name=row[1], run_after=row[2], backend=row[3])
        task_result = TaskResult(
            db_result=db_result,
            task=task,
            id=normalize_uuid(db_result.id),
            status=TaskResultStatus[db_result.status],
            enqueued_at=db_result.enqueued_at,
            started_at=db_result.started_at,
            last_attempted_at=db_result.started_at,
            finished_at=db_result.finished_at,
            args=[],  # set below
            kwargs={},
            backend=db_result.backend_name,
            errors=[],
            worker_ids=db_result.worker_ids,
        )
        # TaskResult.__post_init__ runs normalize_json over args and kwargs; the row's are normalized
        # already (by enqueue), so they are used as they are: the result and db_result share them,
        # where upstream's would hold equal copies (a TaskResult is frozen: nothing changes them).
        object.__setattr__(task_result, "args", db_result.args_kwargs["args"])
        object.__setattr__(task_result, "kwargs", db_result.args_kwargs["kwargs"])
        object.__setattr__(task_result, "_return_value", db_result.return_value)
        return task_result
