"""The scaling row of DESIGN §10: CPU per submission against the size of the ledger and of the pending set.

    .venv/bin/python bench/scaling.py            # standalone: its own SQLite (or PostgreSQL + Redis), in-process
    bench/run.py                                 # runs it too, after the load, on the benchmark's services

In this process, with a seeded cache (no gunicorn, no HTTP): for each ledger
size (1k, 10k, 100k entries) and pending-set size (10, 1,000), it clears the
cache, stores a synthetic ledger as a full read would (`ledger_reader.store_ledger`,
which writes the whole ledger and its slices), adds the pending requests, and
times `request_services.request_submit` over a series of accepted one-day
requests: `time.process_time()` per call (the median over the calls), so waiting on
the database or Redis is left out and what is left is this process's work,
which is what grows when a submission reads more than it needs.

The data, chosen so that only the ledger and the pending set grow:
- the configuration is fixed: five teams of 25 people (explicit member
  lists), the first, "Engineering", with `max_out` set (high enough never to
  refuse) so that every submission runs the capacity check over its team;
- the ledger holds 20 requests a person over two years, for N/20 people in
  teams of 25; the teams beyond the configured five are other departments'
  history (in a past approvals channel), so the configuration does not grow
  with N (the configuration snapshot has its own cost, not measured here);
- the pending set is all in Engineering, one-day requests of its members
  spread over the next twelve months (the worst case for an Engineering
  submission: every one of them is a team entry it may have to count);
- the submitters are 50 more Engineering members with no history, each
  sending one-day vacation requests on working days four to ten months ahead.
"""

from __future__ import annotations

import gc
import random
import statistics
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SIZES = (1_000, 10_000, 100_000)
PENDING = (10, 1_000)
TEAM_SIZE = 25
PER_PERSON = 20
CONFIG_TEAMS = 5
SUBMITTERS = 50
SUBMISSIONS = 200
WARM_UP = 20
MAX_RATIO = 1.5  # DESIGN §10: within 1.5x of each other
ROUNDS = 4  # every size measured this many times, in alternating order
HOME_PUBLISHES = 40  # App Home publishes timed after each size's submissions (no bar: for comparison)


@dataclass
class ScalingResult:
    entries: int
    pending: int
    cpu_ms: float  # per submission, this process: the median of the calls (robust to a GC pause or a busy machine)
    wall_ms: float  # the median too
    cpu_mean_ms: float
    accepted: int
    refused: int
    setup_s: float
    home_cpu_ms: float = 0.0  # per App Home publish (a background task), the median; not a DESIGN bar


def user_id(n: int) -> str:
    return f"UX{n:06d}"


def submitter_id(n: int) -> str:
    return f"USUB{n:04d}"


def scaling_config():
    from approvals.config_types import ApproverSource, MemberSource, TeamConfig, WorkspaceConfig
    from test_support.flows import MEDICAL, SICK, VACATION

    teams = []
    for t in range(CONFIG_TEAMS):
        members = tuple(user_id(t * TEAM_SIZE + i) for i in range(TEAM_SIZE))
        if t == 0:
            members += tuple(submitter_id(i) for i in range(SUBMITTERS))
        teams.append(TeamConfig(
            name="Engineering" if t == 0 else f"Team{t:02d}",
            members=MemberSource(users=members),
            approvers=ApproverSource(users=(f"UAPPROVER{t:02d}",)),
            approvals_channel=f"CSCALE{t:02d}",
            max_out=1000 if t == 0 else None,
            past_approvals_channels=("CSCALEPAST",) if t == 0 else (),
        ))
    return WorkspaceConfig(fallback_approvers=("UHRSCALE",), teams=tuple(teams), leave_types=(VACATION, SICK, MEDICAL))


def team_name(t: int) -> str:
    return "Engineering" if t == 0 else f"Team{t:02d}"


def synthetic_ledger(size: int, config, today: date):
    """`size` entries: PER_PERSON requests a person over the two years around today, teams of TEAM_SIZE."""
    from approvals.ledger_reader import ChannelMark, Ledger, ledger_channels
    from approvals.rules import APPROVED, CANCELLED, PENDING, REJECTED, Adjustment, LedgerEntry

    rng = random.Random(size)
    people = max(1, size // PER_PERSON)
    entries, adjustments = {}, {}
    first = today - timedelta(days=640)
    for n in range(size):
        person = n % people
        user, team = user_id(person), team_name(person // TEAM_SIZE)
        slot = n // people  # each person's requests spread over the two years, two weeks or more apart
        start = first + timedelta(days=slot * 36 + rng.randrange(20))
        while start.weekday() >= 5:
            start += timedelta(days=1)
        length = rng.choice((0, 0, 1, 2, 4))
        end = start + timedelta(days=length)
        status = (rng.choice((APPROVED, APPROVED, APPROVED, REJECTED, CANCELLED)) if start < today
                  else rng.choice((APPROVED, PENDING)))
        entry_id = str(uuid.UUID(int=rng.getrandbits(128)))
        entries[entry_id] = LedgerEntry(
            id=entry_id, user=user, team=team, leave_type=rng.choice(("vacation", "vacation", "sick", "medical")),
            start=start, end=end, start_half=None, end_half=None, days=Decimal(length + 1), status=status,
            decided_by=None if status == PENDING else "UAPPROVER00", decided_at=None if status == PENDING else 1766000000,
            channel="CSCALEPAST" if person // TEAM_SIZE >= CONFIG_TEAMS else f"CSCALE{person // TEAM_SIZE:02d}",
            ts=f"{1700000000 + n}.000100")
    for person in range(0, people, 3):
        adjustment_id = str(uuid.UUID(int=rng.getrandbits(128)))
        adjustments[adjustment_id] = Adjustment(id=adjustment_id, user=user_id(person), leave_type="vacation",
                                                days=Decimal(2), year=today.year, reason="carry-over", by="hr")
    now = time.time()
    channels = tuple(dict.fromkeys((*ledger_channels(config), "CSCALEPAST")))
    return Ledger(entries=entries, adjustments=adjustments, channels=channels, oldest_ts="1700000000.000100",
                  read_at=now, full_read_at=now, marks={c: ChannelMark(None, now) for c in channels})


def pending_requests(count: int, today: date) -> list:
    from approvals.rules import PENDING, LedgerEntry

    rng = random.Random(count)
    found = []
    for n in range(count):
        start = today + timedelta(days=1 + rng.randrange(365))
        found.append(LedgerEntry(id=f"pending-{n}", user=user_id(rng.randrange(TEAM_SIZE)), team="Engineering",
                                 leave_type="vacation", start=start, end=start, start_half=None, end_half=None,
                                 days=Decimal(1), status=PENDING))
    return found


def submission_dates(today: date) -> list[date]:
    from approvals.work_calendar import team_holidays, working_days

    config = scaling_config()
    team = config.teams[0]
    first, last = today + timedelta(days=120), today + timedelta(days=300)
    holidays = team_holidays(team, (), range(first.year, last.year + 1))
    return working_days(first, last, team.workweek, holidays)


def measure(size: int, pending: int, *, submissions: int = SUBMISSIONS) -> ScalingResult:
    from django.core.cache import cache
    from django_tasks_db.models import DBTaskResult

    from approvals import ledger_reader
    from approvals.config_store import config_apply, current_config
    from approvals.request_services import Submission, request_submit

    setup_started = time.monotonic()
    cache.clear()
    DBTaskResult.objects.all().delete()
    config_apply(config=scaling_config())
    # As applied: a database that held another configuration keeps its approvals channels as past
    # ones, which the ledger must cover too, or every view is cold and the submissions take the cold
    # path (accepted unchecked) instead of the one measured here.
    config = current_config()
    today = date.today()
    ledger_reader.store_ledger(synthetic_ledger(size, config, today))
    for entry in pending_requests(pending, today):
        ledger_reader.pending_add(entry)
    for i in range(SUBMITTERS):  # what opening the form caches: the time zone
        cache.set(f"directory:tz:{submitter_id(i)}", "America/Los_Angeles", 3600)
    days = submission_dates(today)
    if ledger_reader.person_view(config, submitter_id(0)) is None:
        raise SystemExit("scaling: the ledger stored does not cover the configuration's channels (cold views)")
    gc.collect()  # the set-up's garbage is not the submissions' cost
    setup = time.monotonic() - setup_started

    accepted = refused = 0
    cpu: list[float] = []
    wall: list[float] = []
    for n in range(submissions + WARM_UP):
        user = submitter_id(n % SUBMITTERS)
        day = days[(n // SUBMITTERS) * 7 % len(days) + n % 5]
        submission = Submission(id=str(uuid.uuid4()), user=user, leave_type="vacation", start=day, end=day,
                                start_half=None, end_half=None, note="", validated=False)
        cpu0, wall0 = time.process_time(), time.perf_counter()
        errors = request_submit(submission, dedup_key=f"bench-scaling:{submission.id}")
        if n >= WARM_UP:  # the first few warm this code path (and this process's caches)
            cpu.append(time.process_time() - cpu0)
            wall.append(time.perf_counter() - wall0)
            accepted += not errors
            refused += bool(errors)
    return ScalingResult(size, pending, statistics.median(cpu) * 1000, statistics.median(wall) * 1000,
                         sum(cpu) / len(cpu) * 1000, accepted, refused, setup, home_publish_cpu_ms())


class PublishOnly:
    """The Slack calls App Home's publish makes, answered here: this measures our work, not Slack's. The
    publish itself, and `users.info` of the approvers it checks are people (cached for a day after the
    first publish, as in production)."""

    def views_publish(self, **kwargs):
        return {"ok": True}

    def users_info(self, *, user: str):
        return {"ok": True, "user": {"id": user, "tz": "America/Los_Angeles", "deleted": False, "is_bot": False}}


def home_publish_cpu_ms(publishes: int = HOME_PUBLISHES) -> float:
    """The median CPU of an App Home publish on the data `measure` set up: the submitters' Homes (their
    own leave and balances) and an approver's (what waits for their decision in Engineering, every
    request of the pending set among it once posted). A background task, one for every open of the tab."""
    from django.core.cache import cache

    from approvals import home_services

    approver = "UAPPROVER00"
    cache.set(f"directory:tz:{approver}", "America/Los_Angeles", 3600)
    people = [approver, *(submitter_id(i) for i in range(SUBMITTERS))]
    client = PublishOnly()
    cpu = []
    for n in range(publishes + WARM_UP):
        user = people[n % 2 and 1 + n % SUBMITTERS]  # every other one the approver's
        cpu0 = time.process_time()
        home_services.home_publish(client, user)
        if n >= WARM_UP:
            cpu.append(time.process_time() - cpu0)
    return statistics.median(cpu) * 1000


def run_all(sizes=SIZES, pendings=PENDING, *, submissions: int = SUBMISSIONS, rounds: int = ROUNDS,
            log=print) -> list[ScalingResult]:
    """Every size, `rounds` times, in alternating order (small to large, then large to small), so that
    a machine that gets busier or quieter during the run does not pass for a trend; per size, the
    median of its rounds' medians: on a shared 2-core machine one size's median moves by a third from
    one round to the next (the same size, minutes apart), and a single slow round must not pass
    for a trend."""
    combos = [(size, pending) for size in sizes for pending in pendings]
    found: dict[tuple[int, int], list[ScalingResult]] = {combo: [] for combo in combos}
    for round_number in range(rounds):
        for size, pending in (combos if round_number % 2 == 0 else combos[::-1]):
            result = measure(size, pending, submissions=submissions)
            log(f"  {size:>7,} entries, {pending:>5,} pending: {result.cpu_ms:6.2f} ms CPU (median; mean "
                f"{result.cpu_mean_ms:.2f}), {result.wall_ms:6.2f} ms wall per submission ({result.accepted} "
                f"accepted, {result.refused} refused; set up in {result.setup_s:.0f} s); App Home publish "
                f"{result.home_cpu_ms:.2f} ms CPU")
            found[(size, pending)].append(result)
    results = []
    for (size, pending), runs in found.items():
        results.append(ScalingResult(
            size, pending, statistics.median(r.cpu_ms for r in runs), statistics.median(r.wall_ms for r in runs),
            statistics.median(r.cpu_mean_ms for r in runs), sum(r.accepted for r in runs),
            sum(r.refused for r in runs), sum(r.setup_s for r in runs),
            statistics.median(r.home_cpu_ms for r in runs)))
    return results


def report(results: list[ScalingResult]) -> tuple[list[str], bool]:
    """The scaling row's lines, and whether it meets DESIGN §10 (max/min within MAX_RATIO, none refused)."""
    if not results:
        return [], True
    cpu = [r.cpu_ms for r in results]
    ratio = max(cpu) / min(cpu) if min(cpu) > 0 else float("inf")
    met = ratio <= MAX_RATIO and not any(r.refused for r in results)
    lines = [f"{'ledger entries':>14} {'pending':>8} {'CPU/submission':>15} {'(mean)':>9} {'wall/submission':>16} "
             f"{'CPU/App Home publish':>21}"]
    for r in results:
        lines.append(f"{r.entries:>14,} {r.pending:>8,} {r.cpu_ms:>12.2f} ms {r.cpu_mean_ms:>6.2f} ms "
                     f"{r.wall_ms:>13.2f} ms {r.home_cpu_ms:>18.2f} ms" + (f"  ({r.refused} refused!)" if r.refused else ""))
    lines.append(f"max/min of the median CPU per submission: {ratio:.2f}x — {'meets' if met else 'MISSES'} DESIGN §10 "
                 f"(within {MAX_RATIO}x)")
    home = [r.home_cpu_ms for r in results]
    if min(home) > 0:
        lines.append(f"max/min of the median CPU per App Home publish (a background task; no bar): "
                     f"{max(home) / min(home):.2f}x")
    return lines, met


def main() -> None:
    import argparse
    import os
    import tempfile

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)))
    parser.add_argument("--pending", default=",".join(map(str, PENDING)))
    parser.add_argument("--submissions", type=int, default=SUBMISSIONS)
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    parser.add_argument("--production-services", action="store_true",
                        help="PostgreSQL (a bench_scaling database, created and dropped) and Redis db 10 (flushed)")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="timeoff-scaling-"))
    os.environ.update({"SECRET_KEY": "scaling", "DEBUG": "false", "ENV_FILE": "", "TASKS_BACKEND": "database",
                       "SLACK_SIGNING_SECRET": "scaling", "SLACK_BOT_TOKEN": "xoxb-scaling",
                       "SLACK_API_URL": "http://127.0.0.1:9/api/", "LOG_LEVEL": "WARNING",
                       "DJANGO_SETTINGS_MODULE": "timeoff_site.settings"})
    os.environ.pop("CACHE_URL", None)
    database = None
    if args.production_services:
        import psycopg

        database = "bench_scaling"
        with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{database}"')
        os.environ["DATABASE_URL"] = f"postgres://postgres@127.0.0.1:5432/{database}"
        os.environ["CACHE_URL"] = "redis://127.0.0.1:6379/10"
    else:
        os.environ["DATABASE_URL"] = f"sqlite:///{tmp / 'scaling.sqlite3'}"
    import django

    django.setup()
    import logging

    logging.disable(logging.WARNING)
    from django.core.management import call_command

    try:
        call_command("migrate", verbosity=0, interactive=False)
        results = run_all([int(s) for s in args.sizes.split(",")], [int(p) for p in args.pending.split(",")],
                          submissions=args.submissions, rounds=args.rounds)
        lines, met = report(results)
        print("\n".join(lines))
    finally:
        from django.core.cache import cache
        from django.db import connections

        cache.clear()
        connections.close_all()
        if database:
            import psycopg

            with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    sys.exit(0 if met else 1)


if __name__ == "__main__":
    main()
