"""What enqueuing one task costs, by way of doing it (issue 15, point 2). In-process; prints figures.

    .venv/bin/python bench/enqueue.py            # PostgreSQL + Redis when they answer, else SQLite
    .venv/bin/python bench/enqueue.py --count 3000

An Approve click's work, beyond verifying and parsing, is one enqueue: a row
in django-tasks-db's table. This times, per enqueue, the CPU of this process
(`time.process_time`) and the wall time, for:

- `tasks.decide_request.enqueue(...)`: our path (Django's Task.enqueue and our
  backend, approvals/task_backend.py: validation cached per task, the row as
  one INSERT through Django's cursor, the TaskResult built from the task, the
  task_enqueued signal and its receivers);
- the same through django-tasks-db's own `DatabaseBackend.enqueue` (validate,
  ORM create, TaskResult with an import of the task, the signal): what our
  backend replaces, for comparison;
- `DBTaskResult.objects.create(...)`: the ORM insert alone;
- the same INSERT as one SQL statement through Django's cursor, and (on
  PostgreSQL) as a server-side prepared statement: the floor for any
  backend that keeps the queue in the database;
- on Redis: one `RPUSH` of the same JSON (and a pipelined HSET + RPUSH,
  the shape of the Redis-backed queues): the floor for a Redis queue, which
  also gives up the queue's durability in PostgreSQL (DESIGN §2);
- when installed in the venv (neither is a requirement), the maintained
  backends of Django 6's tasks that keep their queue in Redis:
  django-tasks-redis and django-tasks-rq (RQ refuses task priorities, which
  ours use, so it is timed with the priority left out).

Each writes to a database it creates and drops (bench_enqueue) or a
temporary SQLite file, and Redis db 11 (flushed), never anything else.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PG_SERVER = "postgresql://postgres@127.0.0.1:5432"
DATABASE = "bench_enqueue"
REDIS_URL = "redis://127.0.0.1:6379/11"
OTHER_REDIS_URL = "redis://127.0.0.1:6379/12"


def timed(label: str, count: int, function) -> tuple[str, float, float]:
    for _ in range(min(50, count)):  # warm the code path and the connection
        function()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for _ in range(count):
        function()
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    return label, cpu / count * 1000, wall / count * 1000


def other_backends(task, decision: dict, count: int) -> list:
    """Maintained backends of Django 6's tasks that keep the queue in Redis, when installed in the venv
    (`pip install django-tasks-redis django-tasks-rq`; neither is a requirement): what the same enqueue
    costs there. Redis db 12, flushed."""
    import importlib.util

    found = []
    if importlib.util.find_spec("django_tasks_redis"):
        from django_tasks_redis.backends import RedisTaskBackend

        backend = RedisTaskBackend("bench-redis", {"QUEUES": ["default"], "OPTIONS": {"REDIS_URL": OTHER_REDIS_URL}})
        found.append(timed("django-tasks-redis (Redis streams)", count,
                           lambda: backend.enqueue(task, (decision,), {})))
    if importlib.util.find_spec("django_tasks_rq"):
        from django.conf import settings
        from django_tasks_rq import RQBackend

        settings.RQ_QUEUES = {"default": {"URL": OTHER_REDIS_URL}}
        backend = RQBackend("bench-rq", {"QUEUES": ["default"]})
        # RQ has no priorities (it refuses a task that sets one): the same task at the default priority.
        plain = task.using(priority=0)
        found.append(timed("django-tasks-rq (RQ), priority left out", count,
                           lambda: backend.enqueue(plain, (decision,), {})))
    if found:
        import redis

        redis.Redis.from_url(OTHER_REDIS_URL).flushdb()
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--embedded", action="store_true", help="SQLite even if PostgreSQL answers")
    args = parser.parse_args()
    production = False
    if not args.embedded:
        try:
            import psycopg

            with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True, connect_timeout=3) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
                conn.execute(f'CREATE DATABASE "{DATABASE}"')
            production = True
        except Exception as exc:  # noqa: BLE001 - any failure: the embedded defaults
            print(f"PostgreSQL not usable ({exc}); SQLite", file=sys.stderr)
    tmp = Path(tempfile.mkdtemp(prefix="timeoff-enqueue-"))
    os.environ.update({"SECRET_KEY": "enqueue", "DEBUG": "false", "ENV_FILE": "", "TASKS_BACKEND": "database",
                       "SLACK_SIGNING_SECRET": "enqueue", "SLACK_BOT_TOKEN": "xoxb-enqueue", "LOG_LEVEL": "WARNING",
                       "DJANGO_SETTINGS_MODULE": "timeoff_site.settings",
                       "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{DATABASE}" if production
                       else f"sqlite:///{tmp / 'enqueue.sqlite3'}"})
    os.environ.pop("CACHE_URL", None)
    import django

    django.setup()
    import logging

    logging.disable(logging.WARNING)
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone
    from django_tasks_db.models import DBTaskResult

    from approvals import tasks

    call_command("migrate", verbosity=0, interactive=False)
    decision = {"request_id": str(uuid.uuid4()), "channel": "C_ENG_APPROVALS", "ts": "1766000000.000100",
                "approver": "U_BOB", "status": "approved", "reason": None}
    task = tasks.decide_request
    args_kwargs = {"args": [decision], "kwargs": {}}
    table = connection.ops.quote_name(DBTaskResult._meta.db_table)
    columns = ["id", "status", "enqueued_at", "args_kwargs", "priority", "task_path", "worker_ids", "queue_name",
               "backend_name", "run_after", "return_value", "exception_class_path", "traceback"]
    insert = (f"INSERT INTO {table} ({', '.join(connection.ops.quote_name(c) for c in columns)}) "
              f"VALUES ({', '.join(['%s'] * len(columns))})")
    from django_tasks_db.models import get_date_max

    never = get_date_max()

    def row_values():
        return [uuid.uuid4().hex if connection.vendor == "sqlite" else uuid.uuid4(), "READY", timezone.now(),
                json.dumps(args_kwargs), task.priority, task.module_path, "[]", task.queue_name, "default", never,
                None, "", ""]  # return_value: SQL NULL, as the backends write it

    def raw():
        with connection.cursor() as cursor:
            cursor.execute(insert, row_values())

    from django.tasks import task_backends
    from django_tasks_db import DatabaseBackend as UpstreamDatabaseBackend

    from approvals.task_backend import DatabaseBackend

    assert type(task_backends[task.backend]) is DatabaseBackend, "TASKS_BACKEND=database is our backend"
    upstream = UpstreamDatabaseBackend(task.backend, settings.TASKS[task.backend])

    results = [
        timed("our enqueue: tasks.decide_request.enqueue()", args.count, lambda: task.enqueue(decision)),
        timed("django-tasks-db's own DatabaseBackend.enqueue()", args.count,
              lambda: upstream.enqueue(task, (decision,), {})),
        timed("DBTaskResult.objects.create() alone", args.count, lambda: DBTaskResult.objects.create(
            args_kwargs=args_kwargs, priority=task.priority, task_path=task.module_path, queue_name=task.queue_name,
            run_after=never, backend_name="default")),
        timed("one INSERT through Django's cursor", args.count, raw),
    ]
    if production:
        raw_connection = connection.connection  # psycopg's, opened by the calls above

        def prepared():
            raw_connection.execute(insert, row_values(), prepare=True)

        results.append(timed("the INSERT as a prepared statement (psycopg)", args.count, prepared))
    try:
        import redis

        client = redis.Redis.from_url(REDIS_URL, socket_timeout=3)
        client.ping()
        client.flushdb()
        body = json.dumps({"id": str(uuid.uuid4()), "task_path": task.module_path, **args_kwargs})
        results.append(timed("Redis: RPUSH of the same JSON", args.count, lambda: client.rpush("queue", body)))

        def hash_and_push():
            pipe = client.pipeline()
            job = str(uuid.uuid4())
            pipe.hset(f"job:{job}", mapping={"data": body, "status": "queued"})
            pipe.rpush("queue", job)
            pipe.execute()

        results.append(timed("Redis: HSET + RPUSH, pipelined", args.count, hash_and_push))
        client.flushdb()
    except Exception as exc:  # noqa: BLE001 - no Redis: no Redis rows
        print(f"Redis not usable ({exc})", file=sys.stderr)

    results += other_backends(task, decision, args.count)

    print(f"{'enqueue by way of':<50} {'CPU/enqueue':>12} {'wall/enqueue':>13}   "
          f"({'PostgreSQL' if production else 'SQLite'}, {args.count} each)")
    for label, cpu, wall in results:
        print(f"{label:<50} {cpu:>9.3f} ms {wall:>10.3f} ms")
    connection.close()
    if production:
        import psycopg

        with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')


if __name__ == "__main__":
    main()
