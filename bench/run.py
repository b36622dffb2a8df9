#!/usr/bin/env python
"""The performance benchmark of DESIGN §10: prints figures and the bars, exits 1 when a bar is missed.

    .venv/bin/python bench/run.py           # 10 s of load per contender and mode, the scaling row; ~8 minutes
    .venv/bin/python bench/run.py --quick   # 3 s per contender and mode, no Bolt or pre-filled /timeoff rows
    .venv/bin/python bench/run.py --sweep   # also Approve, /timeoff and their bare views under several workers x threads
    .venv/bin/python bench/run.py --scaling-only            # only the scaling row (in-process)
    .venv/bin/python bench/run.py --profile "Approve click"  # where one endpoint's time goes (cProfile)
    .venv/bin/python bench/run.py --help    # --only, --workers/--threads, --clients, --worker, --embedded, ...

It starts everything it needs and stops it again: a fake Slack Web API adding
100 ms to every call (fake_slack.FakeSlack, in this process, seeded with the
personas, two years of ledger and 200 more people in Engineering), one
gunicorn per contender and mode (`--workers 2 --threads 8` by default,
production settings: DEBUG=false, ENV_FILE="", TASKS_BACKEND=database, ...),
a task worker (`manage.py task_worker`) in the second mode, and a load
generator in a child process (bench/loadgen.py). With PostgreSQL and Redis
answering on 127.0.0.1 it uses a database it creates and drops
(bench_timeoff) and Redis db 9, which it flushes before and after; otherwise
SQLite and Django's database cache in a temporary directory. Only loopback
traffic; every load run is bounded in time and in requests.

Each contender runs twice: with nothing else running ("no worker"), then
with a task worker draining the queue the load fills ("with worker"; the
tasks earlier contenders left waiting are deleted before it starts); each
is compared with its bare baseline measured in the same mode. Then the
scaling row (bench/scaling.py): CPU per submission with 1k, 10k and 100k
ledger entries and 10 or 1,000 requests in flight, in this process. The
report ends with every bar of DESIGN §10 the run measured, met or missed;
the exit status is 1 when one is missed. A full run of every contender
writes bench/RESULTS.md (the tables, the machine, the commit).

Contenders, every one under the same gunicorn settings, every request signed as Slack signs it:
- bare verify (bench/bare_urls.py): verifies the signature with slack-sdk's SignatureVerifier, answers 200;
  in full runs also the same view under /slack/, past the browser's middleware as the app's Slack
  endpoints are (for comparison: the bars compare with the bare view on Django's whole stack);
- the app's view_submission of the request form (a different person, date, view id and hash each
  time, so nothing is de-duplicated away), an Approve click and an Events API callback, on a warm
  cache: 32 clients;
- bare views.open: verifies and opens a fixed modal (the app's own form) with a WebClient(timeout=2);
- the app's `/timeoff`, which calls views.open inside the request (and, in full runs, `/timeoff
  START END vacation`, whose form shows days, balance and who is out): 64 clients;
- slack-bolt's Django adapter opening the same modal, in full runs (requirements-dev.txt pins slack-bolt).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import signal
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.loadgen import token_filler  # noqa: E402

PYTHON = sys.executable
GUNICORN = str(Path(sys.executable).with_name("gunicorn"))
PG_SERVER = "postgresql://postgres@127.0.0.1:5432"
PG_DATABASE = "bench_timeoff"
REDIS_HOST, REDIS_PORT, REDIS_DB = "127.0.0.1", 6379, 9
SLACK_LATENCY = 0.1
BENCH_USERS = 200  # people submitting requests, beside the 20 of the realistic ledger
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024

IGNORED_REDIS = {"hello", "select", "info", "client|setinfo", "client"}  # connection set-up, our own INFO

# DESIGN §10
BACKGROUND_MIN_RATIO, BACKGROUND_MAX_P99_MS = 0.5, 50
MODAL_MIN_RATIO, MODAL_MAX_P99_MS = 0.9, 1000
# Every contender runs twice: with nothing else running, then with a task worker draining the queue.
NO_WORKER, WITH_WORKER = "no worker", "with worker"
RESULTS_FILE = ROOT / "bench" / "RESULTS.md"


@dataclass
class Contender:
    name: str
    site: str  # "app" (timeoff_site.settings) or "bare" (bench.bare_site)
    path: str
    clients: int
    template: str
    tokens: dict
    content_type: str = "application/x-www-form-urlencoded"
    baseline: str | None = None  # the bare contender this one is compared with
    kind: str = "background"  # "background", "modal" or "bare"
    per_connection: int | None = None  # requests per keep-alive connection; None: --per-connection
    note: str = ""
    mode: str = NO_WORKER  # NO_WORKER or WITH_WORKER
    result: dict = field(default_factory=dict)


# --- small helpers ---------------------------------------------------------------------------


def answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def render(contender: Contender, n: int, overrides: dict | None = None) -> str:
    text = contender.template
    for token, kind in {**contender.tokens, **(overrides or {})}.items():
        text = text.replace(token, token_filler(kind, n))
    return text


def proc_stat(pid: int) -> tuple[int, float]:
    """(parent pid, CPU seconds used) of a process."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / CLK_TCK


def children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if proc_stat(int(entry))[0] == pid:
                    found.append(int(entry))
            except (OSError, IndexError, ValueError):
                pass
    return sorted(found)


def peak_rss_mb(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def machine_cpu() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine."""
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


def fmt(value, spec=".0f", missing="-") -> str:
    return missing if value is None else format(value, spec)


# --- the benchmark ---------------------------------------------------------------------------


class Bench:
    def __init__(self, args):
        self.args = args
        self.duration = args.duration or (3.0 if args.quick else 10.0)
        self.warmup = 0.5 if args.quick else 1.5
        self.tmp = Path(tempfile.mkdtemp(prefix="timeoff-bench-"))
        self.fake = None
        self.gunicorns: list[subprocess.Popen] = []
        self.database_created = False
        self.redis_used = False
        self.secret = secrets.token_hex(16)
        self.contenders: list[Contender] = []
        self.probes: dict[str, dict] = {}
        self.notes: list[str] = []
        self.next_n = 0  # request numbers are unique across the whole run
        self.scaling = []  # bench.scaling.ScalingResult, one per ledger and pending size
        self.by_key: dict[tuple[str, str], Contender] = {}
        self.task_counts: dict[str, int] = {}  # tasks enqueued over the run, by name (bench.tally_tasks)
        self.validated = {True: 0, False: 0}  # deliveries validated inside the request, or in the task

    # ----- services ------------------------------------------------------------------------

    def choose_services(self) -> None:
        self.production_services = False
        if not self.args.embedded and answers("127.0.0.1", 5432) and answers(REDIS_HOST, REDIS_PORT):
            try:
                import psycopg
                import redis

                psycopg.connect(f"{PG_SERVER}/postgres", connect_timeout=3).close()
                redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=REDIS_DB, socket_timeout=3).ping()
                self.production_services = True
            except Exception as exc:  # noqa: BLE001 - any failure means "use the embedded defaults"
                print(f"PostgreSQL/Redis not usable ({type(exc).__name__}: {exc}); using SQLite", file=sys.stderr)
        if self.production_services:
            self.database_url = f"postgres://postgres@127.0.0.1:5432/{PG_DATABASE}"
            self.cache_url = f"redis://{REDIS_HOST}:{REDIS_PORT}/{REDIS_DB}"
        else:
            self.database_url = f"sqlite:///{self.tmp / 'bench.sqlite3'}"
            self.cache_url = None  # the default: Django's database cache in the same SQLite file

    def pg(self, sql: str, *params):
        import psycopg

        with psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True, connect_timeout=5) as conn:
            return conn.execute(sql, params).fetchall() if sql.lstrip().upper().startswith("SELECT") else \
                conn.execute(sql, params)

    def redis(self):
        import redis

        return redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=REDIS_DB, socket_timeout=5)

    def environment(self) -> dict:
        env = {
            "SECRET_KEY": secrets.token_urlsafe(40),
            "DEBUG": "false",
            "SECURE_SSL_REDIRECT": "false",
            "ALLOWED_HOSTS": "127.0.0.1",
            "ENV_FILE": "",
            "TASKS_BACKEND": "database",
            "DATABASE_URL": self.database_url,
            "SLACK_SIGNING_SECRET": self.secret,
            "SLACK_BOT_TOKEN": self.fake.workspace.bot_token,
            "SLACK_API_URL": self.fake.api_url,
            "LOG_LEVEL": "INFO",
            "BENCH_MODAL_FILE": str(self.tmp / "modal.json"),
        }
        if self.cache_url:
            env["CACHE_URL"] = self.cache_url
        return env

    def setup(self) -> None:
        from fake_slack import FakeSlack
        from fake_slack.personas import seed

        self.choose_services()
        self.fake = FakeSlack().start()
        seed(self.fake.workspace)
        self.env = self.environment()
        for name in ("CACHE_URL", "DJANGO_SETTINGS_MODULE"):
            os.environ.pop(name, None)
        os.environ.update(self.env)
        os.environ["DJANGO_SETTINGS_MODULE"] = "timeoff_site.settings"
        if self.production_services:
            self.pg(f'DROP DATABASE IF EXISTS "{PG_DATABASE}" WITH (FORCE)')
            self.pg(f'CREATE DATABASE "{PG_DATABASE}"')
            self.database_created = True
            self.redis().flushdb()
            self.redis_used = True

        import django

        django.setup()
        import logging

        logging.getLogger().setLevel(logging.WARNING)  # this process's own log; gunicorn keeps INFO
        from django.core.management import call_command

        call_command("migrate", verbosity=0, interactive=False)
        self.seed_workspace()
        self.warm_caches()
        self.build_contenders()
        self.probe_queries()
        from django.db import connections

        connections.close_all()  # nothing of ours touches the bench database while it is measured
        self.fake.latency(SLACK_LATENCY)

    def seed_workspace(self) -> None:
        """Two years of ledger in the approvals channels (fake_slack.ledger_seed), the standard
        configuration with that ledger's past channel, and BENCH_USERS more people in Engineering."""
        from approvals.config_store import config_apply
        from fake_slack import ledger_seed
        from fake_slack.personas import C_ENG
        from test_support.flows import standard_config

        today = date.today()
        self.ledger = ledger_seed.realistic_ledger(today=today, holiday_dates=ledger_seed.engineering_holidays(today))
        ledger_seed.seed_realistic_ledger(self.fake.workspace, self.ledger, members_channel=C_ENG)
        self.bench_users = [f"U_BENCH{i:03d}" for i in range(BENCH_USERS)]
        for user in self.bench_users:
            self.fake.add_user(user, user.lower(), tz="America/Los_Angeles")
        with self.fake.workspace.lock:
            self.fake.workspace.channels[C_ENG].members.update(self.bench_users)
        self.config = standard_config(teams=(ledger_seed.ENGINEERING,))
        config_apply(config=self.config)

    def warm_caches(self) -> None:
        """What opening the form does for each person (the warm_requester task), run here at once."""
        from approvals.config_store import current_config
        from approvals.request_services import requester_warm
        from approvals.slack_clients import background_client

        current_config()
        client = background_client()
        for user in [*self.ledger.users, *self.bench_users]:
            requester_warm(client, user)  # the warm_requester task's body

    # ----- contenders ----------------------------------------------------------------------

    def request_dates(self) -> list[str]:
        """Working days from four months ahead, interleaved over four years, so that each
        person's successive one-day requests stay within the 25-day yearly allowance for
        100 requests a person."""
        from approvals.work_calendar import team_holidays, working_days
        from fake_slack.ledger_seed import ENGINEERING

        first = date.today() + timedelta(days=120)
        per_year = []
        for offset in range(4):
            start = date(first.year + offset, 1, 2) if offset else first
            holidays = team_holidays(ENGINEERING, (), [start.year, start.year + 1])
            per_year.append(working_days(start, start + timedelta(days=60), (0, 1, 2, 3, 4), holidays)[:25])
        return [day.isoformat() for group in zip(*per_year) for day in group]

    def build_contenders(self) -> None:
        from approvals.rules import PENDING
        from django.test import Client
        from fake_slack.personas import ALICE, BOB, C_ENG_APPROVALS
        from approvals import block_ids as ids
        from approvals import messages as blocks
        from test_support.flows import VACATION, request_values
        from test_support.slack_requests import (block_actions_payload, command_fields, event_envelope,
                                                   signature_headers, view_submission_payload)

        # The form exactly as /timeoff opens it: the bare views.open contender opens this one too.
        body = urlencode(command_fields("", user_id=ALICE))
        response = Client(HTTP_HOST="127.0.0.1").post(
            "/slack/commands", data=body, content_type="application/x-www-form-urlencoded",
            headers=signature_headers(body.encode(), secret=self.secret))
        opened = self.fake.last_call("views.open")
        if response.status_code != 200 or opened is None:
            raise SystemExit(f"/timeoff did not open the form: {response.status_code} {response.content[:200]!r}")
        (self.tmp / "modal.json").write_text(json.dumps(opened.params["view"]))
        slack_view = opened.response["view"]

        users = {"cycle": self.bench_users}
        users_lower = {"cycle": [u.lower() for u in self.bench_users]}
        form = "application/x-www-form-urlencoded"

        def interaction(payload: dict) -> str:
            return urlencode({"payload": json.dumps(payload)})

        command = urlencode(command_fields("", user_id="__B_USER__", trigger_id="__B_TRIGGER__"))
        command_tokens = {"__B_USER__": users, "__b_user__": users_lower, "__B_TRIGGER__": "trigger"}

        values = request_values("vacation", date(2031, 3, 10), date(2031, 3, 10))
        values[ids.START_BLOCK][ids.START_ACTION]["selected_date"] = "__B_DATE__"
        values[ids.END_BLOCK][ids.END_ACTION]["selected_date"] = "__B_DATE__"
        submission = view_submission_payload(user_id="__B_USER__", view=slack_view, values=values,
                                             view_id="V__B_N__", view_hash="1766000000.__B_HEX__")
        submission["trigger_id"] = "__B_TRIGGER__"

        # A real pending request in the current approvals channel, so that running one decide_request
        # task afterwards shows what an approval costs in Slack calls. The click itself reads nothing.
        pending = next(e for e in self.ledger.entries if e.status == PENDING and e.user != BOB
                       and self.ledger.channel_of[e.id] == C_ENG_APPROVALS and e.leave_type == "vacation")
        message_ts = self.ledger.ts_of[pending.id]
        self.clicked_request = pending.id  # after_load decides another one, still pending
        text, message_blocks = blocks.request_message(entry=pending, leave_type=VACATION, note="",
                                                      approvers=frozenset({BOB}))
        click = block_actions_payload(
            user_id=BOB, action_id=ids.APPROVE_ACTION, value=json.dumps({"id": pending.id, "user": pending.user}),
            channel_id=C_ENG_APPROVALS, message_ts=message_ts, block_id=ids.DECISION_BLOCK,
            message={"type": "message", "user": self.fake.workspace.bot_user_id, "ts": message_ts,
                     "text": text, "blocks": message_blocks})
        click["trigger_id"] = "__B_TRIGGER__"
        click["actions"][0]["action_ts"] = "__B_NOW__"

        # Each event from someone else: the load of a big workspace, not of 200 people opening their
        # App Home several times a second.
        event = event_envelope({"type": "app_home_opened", "user": "U0EV__B_N__", "channel": "D__B_N__",
                                "tab": "home", "event_ts": "__B_NOW__"}, event_id="Ev__B_N__")

        first, last = self.request_dates()[0], self.request_dates()[4]  # two working days in one year
        prefilled = urlencode(command_fields(f"{first} {last} vacation", user_id="__B_USER__",
                                             trigger_id="__B_TRIGGER__"))

        background, modal = self.args.clients, self.args.modal_clients
        self.contenders = [
            Contender("bare verify", "bare", "/bare/verify", background, command, command_tokens, form, kind="bare",
                      note="verifies the signature, answers 200"),
            Contender("view_submission", "app", "/slack/interactions", background, interaction(submission),
                      {"__B_USER__": users, "__b_user__": users_lower, "__B_N__": "seq", "__B_HEX__": "hex",
                       "__B_TRIGGER__": "trigger",
                       "__B_DATE__": {"per_round": self.request_dates(), "every": len(self.bench_users)}},
                      form, baseline="bare verify", note="request form sent: validated, pending set, enqueued"),
            Contender("Approve click", "app", "/slack/interactions", background, interaction(click),
                      {"__B_TRIGGER__": "trigger", "__B_NOW__": "now"}, form,
                      baseline="bare verify", note="block_actions: enqueues the decision"),
            Contender("event callback", "app", "/slack/events", background, json.dumps(event),
                      {"__B_N__": "seq", "__B_NOW__": "now"}, "application/json",
                      baseline="bare verify", note="app_home_opened (a different person each), de-duplicated by event_id"),
            Contender("bare views.open", "bare", "/bare/open", modal, command, command_tokens, form, kind="bare",
                      note="verifies, views.open (fixed modal)"),
            Contender("/timeoff", "app", "/slack/commands", modal, command, command_tokens, form,
                      baseline="bare views.open", kind="modal", note="opens the request form"),
        ]
        if not self.args.quick:
            self.contenders.insert(1, Contender(
                "bare verify on /slack/", "bare", "/slack/bare/verify", background, command, command_tokens, form,
                kind="bare", baseline="bare verify",
                note="the same view past the browser's middleware, as the app's Slack endpoints"))
            self.contenders.append(
                Contender("/timeoff DATES vacation", "app", "/slack/commands", modal, prefilled, command_tokens, form,
                          baseline="bare views.open", kind="modal",
                          note="form filled in: days, balance, who is out"))
        if self.args.bolt and self.args.quick:
            self.notes.append("slack-bolt rows are left out of --quick runs.")
        elif self.args.bolt:
            import importlib.util

            if importlib.util.find_spec("slack_bolt") is None:
                self.notes.append("slack-bolt is not installed in this venv: its rows and the bar that needs "
                                  "them are skipped (`bin/setup requirements-dev.txt` installs it).")
            else:
                self.contenders.append(
                    Contender("Bolt /timeoff", "bare", "/bolt/commands", modal, command, command_tokens, form,
                              kind="bare", baseline="bare views.open",
                              note="slack-bolt Django adapter, process_before_response=True"))
                self.contenders.append(
                    Contender("Bolt /timeoff, ack first", "bare", "/bolt/commands-ack-first", modal, command,
                              command_tokens, form, kind="bare", baseline="bare views.open",
                              note="Bolt's default: views.open after the answer"))
        # A views.open request holds its connection for 100 ms or more, so a keep-alive connection would stay
        # with the worker that first accepted it for the whole run: one connection per request, so that
        # every request is dealt to a worker afresh (the cost of a connection is nothing next to 100 ms).
        for contender in self.contenders:
            if contender.kind == "modal" or contender.path in ("/bare/open", "/bolt/commands",
                                                               "/bolt/commands-ack-first"):
                contender.per_connection = 1
        if self.args.only:
            wanted = {w.strip().lower() for w in self.args.only.split(",")}
            keep = {c.name for c in self.contenders if c.name.lower() in wanted}
            keep |= {c.baseline for c in self.contenders if c.name in keep and c.baseline}
            self.contenders = [c for c in self.contenders if c.name in keep]
        self.base_contenders = list(self.contenders)
        if self.args.scaling_only:
            self.contenders = []
        modes = [NO_WORKER, WITH_WORKER] if self.args.worker == "both" else [
            NO_WORKER if self.args.worker == "no" else WITH_WORKER]
        self.contenders = [replace(c, mode=mode, result={}) for mode in modes for c in self.contenders]

    # ----- database reads on the warm path: counted exactly, in this process -----------------

    def probe_queries(self) -> None:
        """Send a few requests of each app flow through Django's test client (same settings,
        same database and cache, warm) and count the SQL statements each one runs."""
        from django.db import connection
        from django.test import Client
        from django.test.utils import CaptureQueriesContext
        from fake_slack.personas import ALICE
        from test_support.slack_requests import signature_headers

        client = Client(HTTP_HOST="127.0.0.1")
        probe_dates = {"cycle": self.request_dates()[3::4]}  # Alice is not a bench user: no overlap with the load
        for contender in self.contenders:
            if contender.site != "app" or contender.name in self.probes:
                continue
            overrides = {"__B_USER__": {"cycle": [ALICE]}, "__b_user__": {"cycle": [ALICE.lower()]},
                         "__B_DATE__": probe_dates}
            per_request = []
            for i in range(4):  # the first one warms this code path in this process
                body = render(contender, 10**9 + len(self.probes) * 100 + i, overrides).encode()
                with CaptureQueriesContext(connection) as queries:
                    response = client.post(contender.path, data=body, content_type=contender.content_type,
                                           headers=signature_headers(body, secret=self.secret))
                if i:
                    per_request.append((response.status_code, response.content, [q["sql"] for q in queries]))
            def is_read(sql: str) -> bool:
                return sql.lstrip().upper().startswith("SELECT")

            self.probes[contender.name] = {
                "reads": max(sum(map(is_read, statements)) for _, _, statements in per_request),
                "writes": max(sum(not is_read(sql) for sql in statements) for _, _, statements in per_request),
                "answers": [(status, content[:60]) for status, content, _ in per_request],
                "sql": per_request[-1][2],
            }

    # ----- one contender -------------------------------------------------------------------

    def start_gunicorn(self, contender: Contender) -> tuple[subprocess.Popen, int]:
        port = free_port()
        env = {**os.environ, **self.env,
               "DJANGO_SETTINGS_MODULE": "bench.bare_site" if contender.site == "bare" else "timeoff_site.settings"}
        slug = "".join(ch if ch.isalnum() else "-" for ch in contender.name.lower()).strip("-")
        log = open(self.tmp / f"gunicorn-{slug}.log", "wb")
        process = subprocess.Popen(
            [GUNICORN, "timeoff_site.wsgi", "--workers", str(self.args.workers), "--threads", str(self.args.threads),
             "--bind", f"127.0.0.1:{port}", "--forwarded-allow-ips", "*",
             "--chdir", str(ROOT)],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        log.close()
        self.gunicorns.append(process)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise SystemExit(f"gunicorn exited at start; see {self.tmp}")
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2).read()
                break
            except urllib.error.HTTPError:
                break  # Django answered (the bare site has no /healthz)
            except OSError:
                time.sleep(0.1)
        else:
            raise SystemExit("gunicorn did not answer within 30 s")
        while len(children(process.pid)) < self.args.workers and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(0.3)
        return process, port

    def stop_gunicorn(self, process: subprocess.Popen) -> None:
        if process.poll() is None:
            try:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=5)
            except ProcessLookupError:
                pass
        if process in self.gunicorns:
            self.gunicorns.remove(process)

    def load(self, contender: Contender, port: int, duration: float, max_requests: int) -> dict:
        spec = {
            "host": "127.0.0.1", "port": port, "path": contender.path, "content_type": contender.content_type,
            "template": contender.template, "tokens": contender.tokens, "secret": self.secret,
            "concurrency": contender.clients, "duration": duration, "max_requests": max_requests,
            "start_n": self.next_n, "timeout": 10.0,
            "requests_per_connection": contender.per_connection or self.args.per_connection,
        }
        spec_file = self.tmp / "spec.json"
        spec_file.write_text(json.dumps(spec))
        output = subprocess.run([PYTHON, str(ROOT / "bench" / "loadgen.py"), str(spec_file)], capture_output=True,
                                text=True, timeout=duration + 60, cwd=ROOT)
        if output.returncode != 0:
            raise SystemExit(f"load generator failed:\n{output.stderr}")
        result = json.loads(output.stdout)
        self.next_n = result["next_n"]
        return result

    @staticmethod
    def pending_size() -> int:
        from approvals import ledger_reader
        from approvals.config_store import current_config

        return len(ledger_reader.pending_entries(team.name for team in current_config().teams))

    def redis_commands(self) -> dict[str, int]:
        info = self.redis().info("commandstats")
        return {name.removeprefix("cmdstat_"): stats["calls"] for name, stats in info.items()}

    def pg_counters(self) -> dict[str, int] | None:
        if not self.production_services:
            return None
        time.sleep(0.3)  # a backend flushes its statistics as it exits
        row = self.pg("SELECT xact_commit, tup_returned, tup_fetched, tup_inserted, tup_updated, tup_deleted, "
                      "sessions FROM pg_stat_database WHERE datname = %s", PG_DATABASE)[0]
        return dict(zip(("xact", "returned", "fetched", "inserted", "updated", "deleted", "sessions"), row))

    def drop_queued_tasks(self) -> None:
        """Before a contender's worker starts: the tasks earlier contenders left waiting are deleted, so that
        the worker drains what this contender's load enqueues, not thousands of deliveries and decisions
        from before it (each calling the fake Slack at 100 ms) competing with this contender for the CPU."""
        from django.db import connections
        from django.tasks import TaskResultStatus
        from django_tasks_db.models import DBTaskResult

        waiting = DBTaskResult.objects.filter(status=TaskResultStatus.READY)
        self.tally_tasks(waiting.values_list("task_path", "args_kwargs"))  # still counted as enqueued
        waiting.delete()
        connections.close_all()  # nothing of ours touches the bench database while it is measured

    def tally_tasks(self, rows) -> None:
        """Count enqueued tasks by name (rows of task path and arguments), and the deliveries validated
        inside the request (the warm path) against those left to the task."""
        for path, args in rows.iterator():
            name = path.rsplit(".", 1)[-1]
            self.task_counts[name] = self.task_counts.get(name, 0) + 1
            if name == "deliver_request":
                self.validated[bool(args["args"][0].get("validated"))] += 1

    def start_worker(self) -> subprocess.Popen:
        """`manage.py task_worker` (django-tasks-db's db_worker plus recovery), as the Procfile runs it."""
        env = {**os.environ, **self.env, "DJANGO_SETTINGS_MODULE": "timeoff_site.settings"}
        log = open(self.tmp / "task-worker.log", "ab")
        process = subprocess.Popen([PYTHON, "manage.py", "task_worker", "--interval", "0.2"], cwd=ROOT, env=env,
                                   stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        self.gunicorns.append(process)  # stopped with them
        time.sleep(1.0)
        if process.poll() is not None:
            raise SystemExit(f"the task worker exited at start; see {self.tmp / 'task-worker.log'}")
        return process

    def measure(self, contender: Contender) -> None:
        print(f"  {contender.name:<26} {contender.mode:<11} {contender.clients} clients ...", end="", flush=True)
        if contender.mode == WITH_WORKER:
            self.drop_queued_tasks()
        pg_before = self.pg_counters()
        worker = self.start_worker() if contender.mode == WITH_WORKER else None
        worker_cpu_before = proc_stat(worker.pid)[1] if worker else 0.0
        process, port = self.start_gunicorn(contender)
        try:
            warmup = self.load(contender, port, self.warmup, self.args.max_requests)
            workers = children(process.pid)
            cpu_before = {pid: proc_stat(pid)[1] for pid in workers}
            pending_before = self.pending_size()
            calls_before = len(self.fake.calls())
            redis_before = self.redis_commands() if self.production_services else None
            machine_before = machine_cpu()
            fake_cpu_before = time.process_time()
            result = self.load(contender, port, self.duration, self.args.max_requests)
            fake_cpu = time.process_time() - fake_cpu_before
            busy, total = (a - b for a, b in zip(machine_cpu(), machine_before))
            redis_after = self.redis_commands() if self.production_services else None
            calls = self.fake.calls()[calls_before:]
            result["pending"] = (pending_before, self.pending_size())
            cpu = {pid: proc_stat(pid)[1] - cpu_before.get(pid, 0.0) for pid in children(process.pid)}
            rss = [peak_rss_mb(pid) for pid in children(process.pid)]
            task_worker_cpu = proc_stat(worker.pid)[1] - worker_cpu_before if worker else None
        finally:
            self.stop_gunicorn(process)
            if worker is not None:
                self.stop_gunicorn(worker)
        pg_after = self.pg_counters()
        done = max(1, result["done"])
        methods: dict[str, int] = {}
        for call in calls:
            methods[call.method] = methods.get(call.method, 0) + 1
        result.update(
            slack_calls=methods,
            worker_cpu=list(cpu.values()),
            cpu_ms_per_request=sum(cpu.values()) / done * 1000,
            rss_mb=[r for r in rss if r is not None],
            machine_busy=busy / total if total else None,
            fake_cpu=fake_cpu,
            task_worker_cpu=task_worker_cpu,
        )
        if redis_before is not None:
            result["redis"] = {k: v - redis_before.get(k, 0) for k, v in redis_after.items()
                               if v - redis_before.get(k, 0) > 0 and k != "info"}
        result["warmup_sent"] = warmup["sent"]
        if pg_before and pg_after:  # over the gunicorn's whole life: warm-up and measured load
            result["pg"] = {k: pg_after[k] - pg_before[k] for k in pg_after}
        contender.result = result
        ok = sum(v for k, v in result["statuses"].items() if k.startswith("2"))
        print(f" {result['rps']:7.0f} req/s  p50 {fmt(result['p50_ms'], '.1f')} ms  p99 {fmt(result['p99_ms'], '.1f')}"
              f" ms  {result['done'] - ok} errors", flush=True)

    # ----- the report ----------------------------------------------------------------------

    def ratio(self, c: Contender) -> float | None:
        base = self.by_key.get((c.baseline, c.mode))
        if base and base.result and base.result["rps"]:
            return c.result["rps"] / base.result["rps"]
        return None

    def bars(self) -> list[tuple[str, str, bool]]:
        """Each bar of DESIGN §10 this run measured: (what, measured, met)."""
        found = []
        for c in self.contenders:
            r = c.result
            if not r or c.kind not in ("background", "modal"):
                continue
            ratio = self.ratio(c)
            least, p99 = ((BACKGROUND_MIN_RATIO, BACKGROUND_MAX_P99_MS) if c.kind == "background"
                          else (MODAL_MIN_RATIO, MODAL_MAX_P99_MS))
            what = f"{c.name} ({c.mode}, {c.clients} clients): >= {least}x {c.baseline}, p99 < {p99} ms, no errors"
            base = self.by_key.get((c.baseline, c.mode))
            # The bare view's own p99 beside ours: under the same clients it is the floor of ours.
            floor = (f" ({c.baseline}: {fmt(base.result['p99_ms'], '.0f')} ms)"
                     if base and base.result and base.result.get("p99_ms") is not None else "")
            measured = f"{fmt(ratio, '.2f')}x, p99 {fmt(r['p99_ms'], '.0f')} ms{floor}, {self.errors(r)} errors"
            met = (ratio is not None and ratio >= least and r["p99_ms"] is not None and r["p99_ms"] < p99
                   and self.errors(r) == 0)
            found.append((what, measured, met))
            bolt = self.by_key.get(("Bolt /timeoff", c.mode))
            if c.kind == "modal" and bolt and bolt.result:
                found.append((f"{c.name} ({c.mode}): at least Bolt's rate", f"{r['rps']:.0f} vs Bolt "
                              f"{bolt.result['rps']:.0f} req/s", r["rps"] >= bolt.result["rps"]))
        if self.production_services:
            for name, probe in self.probes.items():
                kind = next((c.kind for c in self.contenders if c.name == name), "")
                if kind == "background":
                    found.append((f"{name}, warm, Redis: no database reads, enqueuing the only write",
                                  f"{probe['reads']} reads, {probe['writes']} writes",
                                  probe["reads"] == 0 and probe["writes"] <= 1))
        if self.scaling:
            from bench.scaling import MAX_RATIO

            cpu = [r.cpu_ms for r in self.scaling]
            spread = max(cpu) / min(cpu) if min(cpu) > 0 else float("inf")
            found.append((f"CPU per submission, {len(self.scaling)} ledger/pending sizes: within {MAX_RATIO}x",
                          f"{spread:.2f}x ({min(cpu):.1f}-{max(cpu):.1f} ms, medians)",
                          spread <= MAX_RATIO and not any(r.refused for r in self.scaling)))
        return found

    def main_table(self) -> list[str]:
        """The table of issue 15, as markdown: one row per contender and mode."""
        lines = ["| contender | worker | clients | req/s | p50 | p99 | errors | vs bare | CPU/req | DESIGN §10 |",
                 "|---|---|---|---|---|---|---|---|---|---|"]
        for c in self.contenders:
            r = c.result
            if not r:
                continue
            ratio = self.ratio(c)
            bar = ""
            if c.kind in ("background", "modal") and ratio is not None:
                least, p99 = ((BACKGROUND_MIN_RATIO, BACKGROUND_MAX_P99_MS) if c.kind == "background"
                              else (MODAL_MIN_RATIO, MODAL_MAX_P99_MS))
                met = ratio >= least and r["p99_ms"] is not None and r["p99_ms"] < p99 and self.errors(r) == 0
                bar = f"{'meets' if met else '**MISSES**'} ≥{least}×, p99<{p99}"
            elif c.baseline:
                bar = "(for comparison)"
            lines.append(f"| {c.name} | {c.mode} | {c.clients} | {r['rps']:.0f} | {fmt(r['p50_ms'], '.0f')} ms | "
                         f"{fmt(r['p99_ms'], '.0f')} ms | {self.errors(r)} | "
                         f"{(fmt(ratio, '.2f') + '×') if ratio else '–'} | {r['cpu_ms_per_request']:.2f} ms | {bar} |")
        return lines

    def report(self) -> None:
        rows = [c for c in self.contenders if c.result]
        services = f"PostgreSQL + Redis db {REDIS_DB}" if self.production_services else \
            "SQLite + Django's database cache (PostgreSQL and Redis did not both answer)"
        threads = self.args.workers * self.args.threads
        print()
        self.settings_line = (
            f"gunicorn --workers {self.args.workers} --threads {self.args.threads} (gthread), production settings, "
            f"{services}; fake Slack +{SLACK_LATENCY * 1000:.0f} ms a call; {self.duration:.0f} s of load per "
            f"contender after {self.warmup} s of warm-up; each contender without and then with a task worker "
            f"draining the queue; {os.cpu_count()} CPUs shared by everything")
        print(self.settings_line)
        if rows:
            print("\n".join(self.main_table()))
        print()
        header = (f"{'contender':<25} {'worker':<11} {'clients':>7} {'req/s':>7} {'p50 ms':>7} {'p99 ms':>7} "
                  f"{'errors':>6} {'vs bare':>7}  Slack calls/request (with a worker: its calls too)")
        print(header)
        print("-" * len(header))
        for c in rows:
            r = c.result
            ratio = self.ratio(c)
            calls = ", ".join(f"{m} {n / max(1, r['done']):.2f}" for m, n in sorted(r["slack_calls"].items())) or "none"
            print(f"{c.name:<25} {c.mode:<11} {c.clients:>7} {r['rps']:>7.0f} {fmt(r['p50_ms'], '.1f'):>7} "
                  f"{fmt(r['p99_ms'], '.1f'):>7} {self.errors(r):>6} {(fmt(ratio, '.2f') + 'x') if ratio else '-':>7}  "
                  f"{calls}")

        print()
        header = (f"{'contender':<25} {'worker':<11} {'requests':>8} {'CPU/req':>8} {'peak RSS/worker':>15} "
                  f"{'cache ops/req':>13} {'SQL/req, warm':>15} {'PG rows ins/req':>15} {'PG rows read':>14}  answers")
        print(header)
        print("-" * len(header))
        for c in rows:
            r = c.result
            done = max(1, r["done"])
            rss = "/".join(f"{x:.0f}" for x in r["rss_mb"]) + " MB"
            cache_ops = "-"
            if "redis" in r:
                cache_ops = fmt(sum(v for k, v in r["redis"].items() if k not in IGNORED_REDIS) / done, ".1f")
            probe = self.probes.get(c.name)
            sql = f"{probe['reads']} read, {probe['writes']} write" if probe else ("-" if c.site == "app" else "none")
            inserted = read = "-"
            if "pg" in r:
                served = max(1, r["sent"] + r["warmup_sent"])
                inserted = f"{r['pg']['inserted'] / served:.2f}"
                read = f"{r['pg']['returned'] + r['pg']['fetched']:,} in {r['pg']['sessions']}s"
            answers = ", ".join(f"{n} {self.describe_answer(body)}" for body, n in
                                sorted(r["bodies"].items(), key=lambda kv: -kv[1])[:3])
            print(f"{c.name:<25} {c.mode:<11} {r['done']:>8} {r['cpu_ms_per_request']:>6.2f}ms {rss:>15} {cache_ops:>13} "
                  f"{sql:>15} {inserted:>15} {read:>14}  {answers}")
        self.print_notes(rows, threads)

    @staticmethod
    def errors(r: dict) -> int:
        ok = sum(v for k, v in r["statuses"].items() if str(k).startswith("2"))
        return r["done"] - ok + r["transport_errors"] + r["timeouts"]

    @staticmethod
    def describe_answer(body: str) -> str:
        return "empty 200" if body == "" else repr(body[:48])

    def print_notes(self, rows: list[Contender], threads: int) -> None:
        print()
        print("Columns: CPU/req = gunicorn workers' CPU time per request (user+sys, /proc); peak RSS = VmHWM of "
              "each worker; cache ops = Redis commands per request (INFO commandstats); SQL/req, warm = statements "
              "per request counted exactly by sending a few of the same requests through Django's test client in "
              "this process (same settings, database and warm cache); PG rows = pg_stat_database over the "
              "gunicorn's life (warm-up included): rows inserted per request, and rows read in all with the "
              "number of sessions (connections) that read them (with a task worker, its reads and inserts too).")
        if rows:
            cpu = [c.result["cpu_us_per_request"] for c in rows]
            top = max(rows, key=lambda c: c.result["rps"])
            share = top.result["cpu_s"] / top.result["elapsed"] * 100
            print(f"Load generator (bench/loadgen.py: asyncio, raw sockets, keep-alive, reconnects every "
                  f"{self.args.per_connection} requests or 0.5 s, every request for the views.open contenders; bodies made and signed at send time): {min(cpu):.0f}-"
                  f"{max(cpu):.0f} µs of its own CPU per request, loopback TCP included, so one core would drive "
                  f"about {1e6 / max(cpu):,.0f}-{1e6 / min(cpu):,.0f} req/s; at the fastest contender ({top.name}, "
                  f"{top.result['rps']:.0f} req/s) it took {share:.0f}% of one of the {os.cpu_count()} cores that "
                  f"gunicorn, PostgreSQL, Redis and the fake Slack also use. It is not the limit, but it is a share "
                  f"of the same machine, largest for the fastest contender.")
            print(f"The views.open contenders hold a thread for each call: {threads} threads x "
                  f"{SLACK_LATENCY * 1000:.0f} ms caps them near {threads / SLACK_LATENCY:.0f} req/s, whatever the "
                  f"code; with {self.duration:.0f} s runs their ratio varies by about ±15% from run to run.")
            for c in rows:
                r = c.result
                split = " + ".join(f"{x:.1f}" for x in r["worker_cpu"])
                busy = fmt(r["machine_busy"] * 100 if r["machine_busy"] is not None else None)
                extra = ""
                if "redis" in r:
                    top_ops = sorted(((k, v) for k, v in r["redis"].items()
                                      if k not in IGNORED_REDIS and v / max(1, r["done"]) >= 0.05),
                                     key=lambda kv: -kv[1])[:5]
                    if top_ops:
                        extra = "; cache " + ", ".join(f"{k} {v / max(1, r['done']):.1f}" for k, v in top_ops)
                task_worker = (f"; task worker CPU {r['task_worker_cpu']:.1f} s" if r.get("task_worker_cpu") is not None
                               else "")
                print(f"  {c.name} ({c.mode}): machine CPU {busy}% busy; gunicorn worker CPU s {split}{task_worker}; "
                      f"fake Slack CPU "
                      f"{r['fake_cpu']:.1f} s; generator CPU {r['cpu_s']:.1f} s in {r['elapsed']:.1f} s{extra}")
                if r["pending"][1] != r["pending"][0]:
                    print(f"    pending set {r['pending'][0]} -> {r['pending'][1]} entries during the run; req/s "
                          f"second by second: {', '.join(str(n) for n in r['per_second'])}")
        for name, probe in self.probes.items():
            odd = [answer for answer in probe["answers"] if answer != (200, b"")]
            if odd:
                print(f"  (the probe of {name} was answered {odd[0]!r}, not an empty 200: its SQL count is of that path)")
            kinds: dict[str, int] = {}
            for sql in probe["sql"]:
                target = re.search(r'(?:FROM|INTO|UPDATE)\s+"([^"]+)"', sql)
                kind = f"{sql.split()[0]} {target.group(1) if target else ''}".strip() if sql.strip() else ""
                kinds[kind] = kinds.get(kind, 0) + 1
            statements = ", ".join(f"{n} {k}" for k, n in kinds.items()) or "none"
            print(f"  SQL of one warm {name}: {statements}")
        if self.probes:
            reads = {name: probe["reads"] for name, probe in self.probes.items()}
            writes = {name: probe["writes"] for name, probe in self.probes.items()}
            if self.production_services:
                print(f"Warm path with Redis (DESIGN: no database reads; enqueuing the task is the only write): "
                      f"SELECTs per request {reads}; writes per request {writes}.")
            else:
                print("Warm path on the embedded defaults: the cache is a database table, so every cache read "
                      "and write is SQL (DESIGN's no-reads bar applies with Redis only).")
        for note in self.notes:
            print(note)

    # ----- all of it -----------------------------------------------------------------------

    def run(self) -> int:
        """Run everything; 0 when every bar measured is met, 1 when one is missed."""
        started = time.monotonic()
        print(f"Setting up ({'quick' if self.args.quick else 'full'} run; temp dir {self.tmp}) ...", flush=True)
        self.setup()
        print(f"  set up in {time.monotonic() - started:.0f} s", flush=True)
        if self.args.profile:
            self.profile(self.args.profile)
            return 0
        self.by_key = {(c.name, c.mode): c for c in self.contenders}
        print(f"Measuring {len(self.contenders)} runs ({len({c.name for c in self.contenders})} contenders, "
              f"{' and '.join(dict.fromkeys(c.mode for c in self.contenders))}):", flush=True)
        for contender in self.contenders:
            self.measure(contender)
        if self.contenders:
            self.after_load()
        if self.args.sweep:
            self.sweep()
        if self.args.scaling:
            self.measure_scaling()
        self.report()
        if getattr(self, "sweep_rows", None):
            print("\nSweep of gunicorn settings (no task worker; Approve: 32 clients, views.open endpoints: 64):")
            print("\n".join(self.sweep_table()))
        bars = self.bars()
        print("\nThe bars of DESIGN §10 measured in this run:")
        for what, measured, met in bars:
            print(f"  {'meets ' if met else 'MISSES'}  {what}: {measured}")
        missed = [b for b in bars if not b[2]]
        elapsed = time.monotonic() - started
        print(f"\n{len(bars) - len(missed)} of {len(bars)} bars met. Benchmark took {elapsed:.0f} s.")
        if self.args.results or (self.args.results is None and not self.args.quick and not self.args.only
                                 and not self.args.scaling_only):
            self.write_results(bars, elapsed)
        return 1 if missed else 0

    # ----- the scaling row, the sweep, the profile --------------------------------------------

    def measure_scaling(self) -> None:
        """CPU per submission with 1k/10k/100k ledger entries and 10/1,000 pending (bench/scaling.py), in this
        process, on the benchmark's database and cache (cleared for each size: after the load)."""
        from bench import scaling

        self.fake.latency(0)
        submissions = 80 if self.args.quick else scaling.SUBMISSIONS
        print(f"Scaling row: {submissions} submissions per size, in this process (bench/scaling.py):", flush=True)
        self.scaling = scaling.run_all(submissions=submissions)

    def sweep(self) -> None:
        """Both kinds of endpoint under several gunicorn settings: which workers x threads to run. An
        Approve click and its bare view (CPU-bound, 32 clients), /timeoff and its bare view (holding a
        thread for views.open, 64 clients)."""
        settings = [(2, 4), (2, 8), (2, 16), (2, 32), (4, 8), (4, 16)]
        if self.args.quick:
            settings = settings[:4]
        names = ("bare verify", "Approve click", "bare views.open", "/timeoff")
        templates = {c.name: c for c in self.contenders if c.name in names and c.mode == NO_WORKER}
        if len(templates) < len(names):
            templates = {c.name: c for c in self.base_contenders if c.name in names}
        missing = [name for name in names if name not in templates]
        if missing:
            raise SystemExit(f"--sweep needs these contenders (leave them in --only): {missing}")
        self.fake.latency(SLACK_LATENCY)  # after_load counted calls without it
        print("Sweep of gunicorn settings (no task worker):", flush=True)
        saved = (self.args.workers, self.args.threads)
        self.sweep_rows = []
        try:
            for workers, threads in settings:
                self.args.workers, self.args.threads = workers, threads
                row = {"workers": workers, "threads": threads}
                for name in names:
                    contender = replace(templates[name], result={}, mode=NO_WORKER)
                    self.measure(contender)
                    row[name] = contender.result
                self.sweep_rows.append(row)
        finally:
            self.args.workers, self.args.threads = saved

    def sweep_table(self) -> list[str]:
        lines = ["| workers × threads | bare verify req/s | Approve req/s | ratio | p99 | bare views.open req/s | "
                 "/timeoff req/s | ratio | p99 | peak RSS/worker |",
                 "|---|---|---|---|---|---|---|---|---|---|"]
        for row in getattr(self, "sweep_rows", []):
            verify, click = row["bare verify"], row["Approve click"]
            bare, app = row["bare views.open"], row["/timeoff"]
            rss = "/".join(f"{x:.0f}" for x in app["rss_mb"])
            lines.append(
                f"| {row['workers']} × {row['threads']} | {verify['rps']:.0f} | {click['rps']:.0f} | "
                f"{click['rps'] / verify['rps'] if verify['rps'] else 0:.2f}× | {fmt(click['p99_ms'])} ms | "
                f"{bare['rps']:.0f} | {app['rps']:.0f} | {app['rps'] / bare['rps'] if bare['rps'] else 0:.2f}× | "
                f"{fmt(app['p99_ms'])} ms | {rss} MB |")
        return lines

    def profile(self, name: str) -> None:
        """Where one app contender's time goes: its requests through Django's test client in this process,
        under cProfile (same settings, database and warm cache as the load)."""
        import cProfile
        import pstats

        from django.test import Client
        from test_support.slack_requests import signature_headers

        contender = next((c for c in self.base_contenders if c.name.lower() == name.lower()), None)
        if contender is None or contender.site != "app":
            raise SystemExit(f"--profile takes an app contender: {[c.name for c in self.base_contenders]}")
        self.fake.latency(0)
        client = Client(HTTP_HOST="127.0.0.1")
        count = 300

        def send(n: int) -> None:
            body = render(contender, n).encode()
            client.post(contender.path, data=body, content_type=contender.content_type,
                        headers=signature_headers(body, secret=self.secret))

        for n in range(20):  # warm this code path
            send(self.next_n + n)
        sent = self.next_n + 20
        # First without the profiler (which costs more than the code it measures): rounds of requests
        # one at a time, CPU per request, the median round. Steadier than CPU/req under load, for A/B.
        rounds = []
        for _ in range(5):
            cpu0 = time.process_time()
            for n in range(count):
                send(sent + n)
            sent += count
            rounds.append((time.process_time() - cpu0) / count * 1000)
        print(f"{contender.name}, one request at a time in this process (test client, no profiler): "
              f"{sorted(rounds)[2]:.3f} ms CPU per request (median of 5 rounds of {count}; "
              f"{min(rounds):.3f}-{max(rounds):.3f})")
        profiler = cProfile.Profile(time.process_time)  # CPU time: waits on PostgreSQL, Redis and locks left out
        cpu0, wall0 = time.process_time(), time.perf_counter()
        profiler.enable()
        for n in range(count):
            send(sent + n)
        profiler.disable()
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        print(f"{count} {contender.name} requests in this process (profiled): {cpu / count * 1000:.2f} ms CPU, "
              f"{wall / count * 1000:.2f} ms wall each")
        stats = pstats.Stats(profiler)
        stats.sort_stats("cumulative").print_stats(45)
        stats.sort_stats("cumulative").print_stats(r"approvals|slackbot|timeoff_site", 40)
        stats.sort_stats("tottime").print_stats(25)
        profiler.dump_stats(self.tmp.parent / "timeoff-bench-profile.pstats")
        print(f"(whole profile in {self.tmp.parent / 'timeoff-bench-profile.pstats'})")

    def write_results(self, bars, elapsed: float) -> None:
        """bench/RESULTS.md: the latest full run's tables, with the machine and code it ran on."""
        import platform

        cpu_model = "?"
        try:
            with open("/proc/cpuinfo") as f:
                cpu_model = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), "?")
            with open("/proc/meminfo") as f:
                memory = int(f.readline().split()[1]) / 1024 / 1024
        except OSError:
            memory = 0
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                                text=True).stdout.strip() or "?"
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               capture_output=True, text=True).stdout.strip()
        lines = [
            "# Benchmark results",
            "",
            "Written by `bench/run.py` (a full run); DESIGN §10's bars. Figures from a shared 2-core machine are "
            "noisy (other work runs beside the benchmark): ±15% between runs is usual, more for p99.",
            "",
            f"- when: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {elapsed:.0f} s",
            f"- machine: {cpu_model}, {os.cpu_count()} CPUs, {memory:.1f} GiB, {platform.system()} "
            f"{platform.release()}, Python {platform.python_version()}",
            f"- code: {commit}{' with uncommitted changes' if dirty else ''}",
            f"- settings: {getattr(self, 'settings_line', '')}",
            "",
            "## Endpoints",
            "",
            *self.main_table(),
            "",
            "## Bars",
            "",
            *[f"- {'meets' if met else '**MISSES**'} — {what}: {measured}" for what, measured, met in bars],
        ]
        if self.scaling:
            from bench.scaling import report as scaling_report

            lines += ["", "## Scaling (CPU per submission, in-process, bench/scaling.py)", "", "```",
                      *scaling_report(self.scaling)[0], "```"]
        if getattr(self, "sweep_rows", None):
            lines += ["", "## Sweep of gunicorn settings (Approve click: 32 clients; views.open endpoints: 64)", "",
                      *self.sweep_table()]
        RESULTS_FILE.write_text("\n".join(lines) + "\n")
        print(f"Results written to {RESULTS_FILE.relative_to(ROOT)}.")

    def after_load(self) -> None:
        """What the load left behind (tasks, the pending set), and what one task of each flow costs in
        Slack calls when it runs (in this process, the fake's latency off: the count, not the time)."""
        from approvals import ledger_reader
        from django.db import connections
        from django.tasks.backends.immediate import ImmediateBackend
        from django_tasks_db.models import DBTaskResult
        from approvals import tasks

        self.tally_tasks(DBTaskResult.objects.values_list("task_path", "args_kwargs"))
        counts, validated = self.task_counts, self.validated
        from approvals.config_store import current_config

        pending = ledger_reader.pending_entries(team.name for team in current_config().teams)
        self.notes.append(
            "Tasks enqueued over the whole run: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
            + f". deliver_request validated inside the request (warm path): {validated[True]}; left to the task "
            f"(cold path): {validated[False]}. Pending set at the end: {len(pending)} entries (the task worker of "
            "the second mode runs decisions first, at 100 ms a Slack call: the set keeps growing).")

        self.fake.latency(0)
        flows = (("view_submission", tasks.deliver_request), ("Approve click", tasks.decide_request),
                 ("/timeoff", tasks.warm_requester))
        lines = []
        for flow, task in flows:
            if task is tasks.decide_request:
                # Every click of the load named the same request, which the first one decided: an
                # approval's cost is that of one still pending.
                arguments = {"args": [self.undecided_approval().as_task_data()], "kwargs": {}}
            else:
                rows = DBTaskResult.objects.filter(task_path=task.module_path).order_by("enqueued_at")
                row = rows.filter(status="READY").first() or rows.first()  # one the worker has not run yet
                if row is None:
                    continue
                arguments = row.args_kwargs
                if task is tasks.deliver_request:
                    # Its request under a new id: the rows left may all be delivered already (each mode
                    # with a worker first drops the tasks earlier contenders left waiting), and a delivery
                    # found made costs only its look.
                    fresh = {**arguments["args"][0], "id": str(uuid.uuid4())}
                    arguments = {"args": [fresh], "kwargs": arguments["kwargs"]}
            before = len(self.fake.calls())
            result = ImmediateBackend("bench", {}).enqueue(task, arguments["args"], arguments["kwargs"])
            failed = "" if not result.errors else f" (the task failed: {result.errors[-1].exception_class_path})"
            methods: dict[str, int] = {}
            for call in self.fake.calls()[before:]:
                methods[call.method] = methods.get(call.method, 0) + 1
            listed = ", ".join(f"{m} {n}" for m, n in sorted(methods.items())) or "none (its caches were warm)"
            lines.append(f"  {flow} -> {task.name}: {listed}{failed}")
        connections.close_all()
        self.notes.append("Slack calls of one background task per flow (run once each after the load, warm caches):")
        self.notes.extend(lines)

    def undecided_approval(self):
        """Bob's approval of a pending request in the approvals channel that the load's clicks did not name."""
        from approvals.request_services import Decision
        from approvals.rules import APPROVED, PENDING
        from fake_slack.personas import BOB, C_ENG_APPROVALS

        entry = next(e for e in self.ledger.entries if e.status == PENDING and e.user != BOB
                     and self.ledger.channel_of[e.id] == C_ENG_APPROVALS and e.id != self.clicked_request)
        return Decision(request_id=entry.id, channel=C_ENG_APPROVALS, ts=self.ledger.ts_of[entry.id], approver=BOB,
                        status=APPROVED)

    def cleanup(self) -> None:
        for process in list(self.gunicorns):
            try:
                self.stop_gunicorn(process)
            except Exception as exc:  # noqa: BLE001 - keep cleaning up
                print(f"could not stop gunicorn {process.pid}: {exc}", file=sys.stderr)
        if self.fake is not None:
            self.fake.stop()
        try:
            from django.db import connections

            connections.close_all()
        except Exception:  # noqa: BLE001 - Django may not be set up
            pass
        if self.database_created:
            try:
                self.pg(f'DROP DATABASE IF EXISTS "{PG_DATABASE}" WITH (FORCE)')
            except Exception as exc:  # noqa: BLE001
                print(f"could not drop {PG_DATABASE}: {exc}", file=sys.stderr)
        if self.redis_used:
            try:
                self.redis().flushdb()
            except Exception as exc:  # noqa: BLE001
                print(f"could not flush Redis db {REDIS_DB}: {exc}", file=sys.stderr)
        if self.args.keep_logs:
            print(f"logs kept in {self.tmp}")
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 s per contender, fewer contenders")
    parser.add_argument("--duration", type=float, help="seconds of measured load per contender")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--clients", type=int, default=32, help="concurrent clients, background-only endpoints")
    parser.add_argument("--modal-clients", type=int, default=64, help="concurrent clients, views.open endpoints")
    parser.add_argument("--per-connection", type=int, default=10,
                        help="requests a client sends on one keep-alive connection before reconnecting")
    parser.add_argument("--max-requests", type=int, default=100_000, help="per load run, a safety bound")
    parser.add_argument("--embedded", action="store_true", help="SQLite and the database cache even if "
                        "PostgreSQL and Redis answer")
    parser.add_argument("--no-bolt", dest="bolt", action="store_false", help="skip slack-bolt even if installed")
    parser.add_argument("--only", help="comma-separated contender names (their baselines are added)")
    parser.add_argument("--keep-logs", action="store_true", help="keep the temp dir with gunicorn's logs")
    parser.add_argument("--worker", choices=("both", "no", "yes"), default="both",
                        help="run each contender without a task worker, with one draining the queue, or both")
    parser.add_argument("--no-scaling", dest="scaling", action="store_false",
                        help="skip the scaling row (CPU per submission against ledger and pending sizes)")
    parser.add_argument("--scaling-only", action="store_true", help="only the scaling row")
    parser.add_argument("--sweep", action="store_true",
                        help="also run Approve, /timeoff and their bare views under several workers x threads")
    parser.add_argument("--profile", metavar="CONTENDER",
                        help="profile one app contender in this process (cProfile) instead of the load")
    parser.add_argument("--results", action=argparse.BooleanOptionalAction, default=None,
                        help="write bench/RESULTS.md (default: full runs of every contender only)")
    args = parser.parse_args()

    def interrupted(*_):
        raise KeyboardInterrupt

    bench = Bench(args)
    signal.signal(signal.SIGTERM, interrupted)
    status = 2
    try:
        status = bench.run()
    except KeyboardInterrupt:
        print("\ninterrupted; cleaning up", file=sys.stderr)
    finally:
        bench.cleanup()
    sys.exit(status)


if __name__ == "__main__":
    main()
