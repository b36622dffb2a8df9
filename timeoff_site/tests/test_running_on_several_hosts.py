"""Running the app in production on several machines.

Clocks and `run_jobs --at` at one instant, two task workers on one queue, /readyz when a
service fails, /metrics as Prometheus reads it, JSON logs, `check --deploy`, the
configuration file's round trip, the manifest, and the metrics the alert rules read
as a real multiprocess scrape shows them (test_alerts evaluates the rules themselves).
"""

import io
import json
import logging
import os
import re
import socket
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from dataclasses import replace
from datetime import date, datetime, time as clock_time, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import yaml
from django.conf import settings as django_settings
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import override_settings
from django.tasks import TaskResultStatus
from django_tasks_db import DatabaseBackend
from django_tasks_db.models import DBTaskResult
from prometheus_client.parser import text_string_to_metric_families

from approvals import tasks
from approvals.config_file import config_to_dict
from approvals.config_store import config_from_database, invalidate_config
from approvals.config_types import (
    ApproverSource,
    BlackoutConfig,
    HolidayConfig,
    LeaveTypeConfig,
    MemberSource,
    TeamConfig,
    WorkspaceConfig,
)
from approvals.job_services import jobs_run_due
from approvals.ledger_format import request_metadata
from approvals.models import JobRun, LeaveType, Team
from approvals.request_services import Submission
from approvals.rules import LedgerEntry
from fake_slack.personas import ALICE, BOB, DAVE, C_ENG, C_ENG_APPROVALS, C_ENG_LEADS, HR
from test_support.flows import ENGINEERING, install_config, standard_config

BASE_DIR = Path(django_settings.BASE_DIR)
PYTHON = str(BASE_DIR / ".venv" / "bin" / "python") if (BASE_DIR / ".venv" / "bin" / "python").exists() \
    else sys.executable
ALERTS = BASE_DIR / "deploy" / "prometheus" / "alerts.yml"
TOKEN = "ops-metrics-token-0123456789abcdef"
LA = ZoneInfo("America/Los_Angeles")
TUESDAY, WEDNESDAY, FRIDAY = date(2031, 3, 11), date(2031, 3, 12), date(2031, 3, 14)


def wait_for(condition, seconds: float = 40) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


# --- Clocks: run_scheduler's tick and run_jobs --at at the same instant ------------------------


@pytest.fixture
def export_dir(settings, tmp_path):
    settings.LEDGER_EXPORT_DIR = tmp_path / "exports"
    return settings.LEDGER_EXPORT_DIR


@pytest.mark.django_db(transaction=True)
def test_a_clock_and_run_jobs_at_the_same_instant_run_each_job_once(fake_slack, export_dir):
    team = replace(ENGINEERING, digest_time=clock_time(9, 0), nudge_after_hours=48)
    install_config(standard_config(teams=(team,)))
    entry = LedgerEntry(id=str(uuid.uuid4()), user=ALICE, team="Engineering", leave_type="vacation",
                        start=WEDNESDAY, end=FRIDAY, start_half=None, end_half=None, days=Decimal(3),
                        status="approved", decided_by=BOB)
    out_now = replace(entry, id=str(uuid.uuid4()), user=DAVE, start=TUESDAY - timedelta(days=1), end=TUESDAY,
                      days=Decimal(2))
    for record in (entry, out_now):
        fake_slack.workspace.post_message(C_ENG_APPROVALS, f"<@{record.user}> requests time off",
                                          metadata=request_metadata(record))
    now = datetime(2031, 3, 11, 16, 0, tzinfo=LA)  # reminders, out today, nudges, and the workspace's jobs
    barrier = threading.Barrier(3)
    errors: list = []
    outputs: list = []

    def clock():  # run_scheduler's tick: claims and enqueues (the immediate backend runs the task)
        try:
            barrier.wait(timeout=10)
            outputs.append(("clock", [job.job for job, _ in jobs_run_due(now)]))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    def cron():  # run_jobs --at, from cron on another host
        try:
            barrier.wait(timeout=10)
            out = io.StringIO()
            call_command("run_jobs", "--at", now.isoformat(), stdout=out)
            outputs.append(("cron", out.getvalue()))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=clock), threading.Thread(target=cron), threading.Thread(target=clock)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    runs = list(JobRun.objects.values_list("job", "team", "attempts"))
    assert sorted(job for job, _, _ in runs) == sorted(
        ["reminders", "out_today", "nudges", "maintenance", "ledger_watch", "ledger_export"]), runs
    assert all(attempts == 1 for _, _, attempts in runs)
    assert JobRun.objects.filter(finished_at__isnull=True).count() == 0
    out_today = [c for c in fake_slack.calls("chat.postMessage") if c.params.get("channel") == C_ENG]
    assert len(out_today) == 1
    reminders = [c for c in fake_slack.calls("chat.postMessage") if c.params.get("channel") == ALICE]
    assert len(reminders) == 1
    assert len(list(Path(export_dir).glob("ledger-*.csv"))) == 1


# --- Two task workers on one queue ------------------------------------------------------------


def database_url() -> str:
    db = connection.settings_dict
    if db["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{db['NAME']}"
    return f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def start_worker(fake_slack, worker_id: str) -> subprocess.Popen:
    env = {
        **os.environ,
        "ENV_FILE": "",
        "SECRET_KEY": "worker-test-secret-key-0123456789",
        "DATABASE_URL": database_url(),
        "CACHE_URL": os.environ.get("CACHE_URL", "dbcache://timeoff_cache"),
        "TASKS_BACKEND": "database",
        "SLACK_API_URL": fake_slack.api_url,
        "SLACK_BOT_TOKEN": django_settings.SLACK_BOT_TOKEN,
        "SLACK_SIGNING_SECRET": django_settings.SLACK_SIGNING_SECRET,
        "DJANGO_SETTINGS_MODULE": "timeoff_site.settings",
    }
    return subprocess.Popen(
        [PYTHON, "manage.py", "task_worker", "--no-reload", "--no-startup-delay", "--interval", "0.05",
         "--worker-id", worker_id],
        cwd=BASE_DIR, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_two_workers_draining_one_queue_deliver_each_request_exactly_once(fake_slack):
    install_config()
    backend = DatabaseBackend("default", {})
    submissions = []
    for week in range(6):
        start = date(2031, 3, 10) + timedelta(weeks=week)
        submission = Submission(id=str(uuid.uuid4()), user=ALICE, leave_type="vacation", start=start,
                                end=start + timedelta(days=1), start_half=None, end_half=None, note="",
                                validated=True)
        submissions.append(submission)
        backend.enqueue(tasks.deliver_request, (submission.as_task_data(),), {})
    fake_slack.delay("chat.postMessage", 0.2)  # Slack's round trip: the workers overlap
    rows = DBTaskResult.objects.filter(task_path=tasks.deliver_request.module_path)
    workers = [start_worker(fake_slack, "worker-a"), start_worker(fake_slack, "worker-b")]
    try:
        done = wait_for(lambda: rows.filter(status=TaskResultStatus.SUCCESSFUL).count() == len(submissions), 60)
        stderr = b""
        if not done:
            for worker in workers:
                worker.terminate()
            stderr = b"".join(worker.stderr.read() for worker in workers)
        assert done, stderr.decode()[-3000:]
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.terminate()
            worker.wait(15)

    posted = [m for m in fake_slack.workspace.messages(C_ENG_APPROVALS) if m.metadata]
    ids_posted = sorted(m.metadata["event_payload"]["id"] for m in posted)
    assert ids_posted == sorted(s.id for s in submissions)  # each once, none twice
    assert all(len(row.worker_ids) == 1 for row in rows)  # no row was claimed by both
    assert len(fake_slack.workspace.messages(ALICE)) == len(submissions)  # one receipt each


# --- /readyz when a service fails ------------------------------------------------------------


def redis_at(port: int):
    """The cache as production configures a Redis (settings.py's bounds), reverted before the teardown's
    cache.clear() (conftest's empty_shared_cache) runs."""
    return override_settings(CACHES={**django_settings.CACHES, "default": {
        "BACKEND": "timeoff_site.redis_cache.RedisCache", "LOCATION": f"redis://127.0.0.1:{port}/0",
        "OPTIONS": {"socket_connect_timeout": 1.0, "socket_timeout": 2.0}}})


@pytest.fixture
def unreachable_redis():
    with redis_at(1):
        yield


@pytest.mark.django_db
def test_readyz_names_a_redis_that_refuses_connections(client, unreachable_redis):
    started = time.monotonic()
    response = client.get("/readyz")
    assert time.monotonic() - started < 3
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert set(body["failed"]) == {"cache"}
    assert "ConnectionError" in body["failed"]["cache"]


@pytest.fixture
def silent_server():
    """A TCP server that accepts connections and never answers (a hung Redis)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    accepted = []
    stop = threading.Event()

    def accept():
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join(2)
    for conn in accepted:
        conn.close()
    server.close()


@pytest.mark.django_db
def test_readyz_answers_inside_the_load_balancers_timeout_when_redis_hangs(client, silent_server):
    # Production's bounds (settings.py): connect 1 s, command 2 s; Caddy's health_timeout is 3 s.
    started = time.monotonic()
    with redis_at(silent_server):
        response = client.get("/readyz")
    assert time.monotonic() - started < 3
    assert response.status_code == 503 and "cache" in response.json()["failed"]


@pytest.fixture
def log_lines():
    handler = logging.getHandlerByName("console")
    buffer = io.StringIO()
    previous = handler.setStream(buffer)
    yield lambda: buffer.getvalue().splitlines()
    handler.setStream(previous)


@pytest.mark.django_db
def test_a_failing_readyz_logs_json_lines_that_all_carry_its_request_id(client, unreachable_redis, log_lines):
    response = client.get("/readyz", headers={"X-Request-ID": "readyz-check-0001"})
    assert response.status_code == 503
    assert response["X-Request-ID"] == "readyz-check-0001"
    lines = [json.loads(line) for line in log_lines()]
    requests = [line for line in lines if line.get("event") == "http_request"]
    assert len(requests) == 1
    assert requests[0]["status"] == 503 and requests[0]["path"] == "/readyz"
    assert all(line.get("request_id") == "readyz-check-0001" for line in lines), lines


# --- /metrics as Prometheus reads it ----------------------------------------------------------


def scrape(client) -> str:
    response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200
    return response.content.decode()


@pytest.mark.django_db
def test_a_scrape_is_valid_prometheus_text_with_each_family_once(client, settings):
    settings.METRICS_TOKEN = TOKEN
    response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    text = response.content.decode()
    families = [family.name for family in text_string_to_metric_families(text)]
    assert len(families) == len(set(families))
    types = re.findall(r"^# TYPE (\S+)", text, re.MULTILINE)
    assert len(types) == len(set(types)), [name for name in types if types.count(name) > 1]
    # A bearer token with other case in the scheme is still the token; a token in the query is not.
    assert client.get("/metrics", headers={"Authorization": f"bearer {TOKEN}"}).status_code == 200
    assert client.get(f"/metrics?token={TOKEN}").status_code == 401


def multiprocess_scrape(tmp_path, script: str) -> str:
    """Run `script` (after django.setup()) in a fresh process in multiprocess mode, then scrape."""
    metrics_dir = tmp_path / "prom"
    metrics_dir.mkdir(exist_ok=True)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/tmp"),
        "ENV_FILE": "", "DJANGO_SETTINGS_MODULE": "timeoff_site.settings",
        "SECRET_KEY": "multiprocess-" + "x" * 50, "DATABASE_URL": f"sqlite:///{tmp_path / 'empty.sqlite3'}",
        "CACHE_URL": "locmemcache://", "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir), "LOG_FORMAT": "text",
        "LOG_LEVEL": "ERROR",
    }
    program = "import django; django.setup()\n" + textwrap.dedent(script) + textwrap.dedent("""
        from timeoff_site.metrics_view import exposition
        import sys; sys.stdout.write(exposition().decode())
    """)
    result = subprocess.run([PYTHON, "-c", program], cwd=BASE_DIR, env=env, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def samples(text: str) -> dict:
    return {(sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def alert_rules() -> list[dict]:
    return [rule for group in yaml.safe_load(ALERTS.read_text())["groups"] for rule in group["rules"]]


@pytest.mark.slow
def test_a_task_workers_attempts_reach_a_scrape_in_multiprocess_mode(tmp_path):
    script = """
        from approvals import metrics
        metrics.TASK_ATTEMPTS.labels(task="deliver_request", outcome="failed", attempt="6").inc()
        metrics.DELIVERY_PROBLEMS.labels(error="not_in_channel").inc()
    """
    text = multiprocess_scrape(tmp_path, script)
    got = samples(text)
    assert got[("timeoff_task_attempts_total",
                frozenset({("task", "deliver_request"), ("outcome", "failed"), ("attempt", "6")}))] == 1
    assert got[("timeoff_delivery_problems_total", frozenset({("error", "not_in_channel")}))] == 1


def test_every_alert_parses_and_reads_metrics_a_scrape_shows(tmp_path):
    """Every timeoff_ metric an alert names appears in a real scrape once its event has happened."""
    script = """
        from approvals import metrics
        from timeoff_site import metrics_middleware as mm
        mm.REQUESTS.labels(endpoint="slack/commands", slack_kind="command", slack_name="x", status="200").inc()
        mm.REQUEST_DURATION.labels(endpoint="slack/commands", slack_kind="command", slack_name="x").observe(0.1)
        metrics.slack_call_finished("chat.postMessage", 0.1, error="invalid_auth")
        metrics.slack_ratelimited("chat.postMessage")
        metrics.ledger_unavailable("not_in_channel")
        metrics.TASK_ATTEMPTS.labels(task="t", outcome="failed", attempt="1").inc()
        metrics.TASK_HANDOVERS.labels(task="t", outcome="failed").inc()
        metrics.CACHE_UNREADABLE.labels(error="E").inc()
        metrics.DELIVERY_PROBLEMS.labels(error="E").inc()
    """
    text = multiprocess_scrape(tmp_path, script)
    shown = {name for name, _ in samples(text)} | {
        family.name for family in text_string_to_metric_families(text)}
    missing = []
    for rule in alert_rules():
        assert rule["labels"]["severity"] in {"page", "ticket"}
        for name in set(re.findall(r"\b(timeoff_[a-z_]+)", rule["expr"])):
            if name not in shown:
                missing.append((rule["alert"], name))
    # The task queue's gauges come from the database, which this process cannot read: only those may miss.
    assert {name for _, name in missing} <= {"timeoff_task_queue_depth", "timeoff_task_queue_oldest_age_seconds"}


# --- JSON logs: secrets inside slack_sdk's exceptions -----------------------------------------


@pytest.mark.django_db
def test_a_slack_sdk_error_quoting_the_token_and_secret_is_logged_redacted(fake_slack, settings, log_lines):
    from slack_sdk import WebClient
    from slack_sdk.errors import SlackApiError

    fake_slack.fail("chat.postMessage", "invalid_auth",
                    echo=f"{settings.SLACK_BOT_TOKEN} {settings.SLACK_SIGNING_SECRET}")
    client = WebClient(token=settings.SLACK_BOT_TOKEN, base_url=fake_slack.api_url)
    try:
        client.chat_postMessage(channel=C_ENG, text=f"signed {settings.SLACK_SIGNING_SECRET}")
    except SlackApiError as exc:
        error = exc
    else:  # pragma: no cover
        pytest.fail("the fake did not fail the call")
    error.add_note(f"token was {settings.SLACK_BOT_TOKEN}")
    logger = logging.getLogger("approvals.ops_check")
    try:
        raise RuntimeError("while posting") from error
    except RuntimeError:
        logger.exception("post failed for %r", error.response.data,
                         extra={"response": error.response.data, "headers": dict(error.response.headers)})
    text = "\n".join(log_lines())
    assert "post failed" in text
    assert settings.SLACK_BOT_TOKEN not in text
    assert settings.SLACK_SIGNING_SECRET not in text
    line = next(json.loads(raw) for raw in log_lines() if "post failed" in raw)
    assert "SlackApiError" in line["exception"] and "[redacted]" in line["exception"]


# --- check --deploy under production-like settings --------------------------------------------


def test_check_deploy_is_clean_with_postgresql_redis_metrics_and_sentry(tmp_path):
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/tmp"),
        "ENV_FILE": "", "DJANGO_SETTINGS_MODULE": "timeoff_site.settings", "DEBUG": "false",
        "SECRET_KEY": uuid.uuid4().hex * 2, "ALLOWED_HOSTS": "timeoff.example.com,10.0.0.11",
        "CSRF_TRUSTED_ORIGINS": "https://timeoff.example.com",
        "DATABASE_URL": "postgres://timeoff:PASSWORD@127.0.0.1:1/timeoff?sslmode=require",
        "CACHE_URL": "rediss://default:PASSWORD@127.0.0.1:1/0",
        "SLACK_BOT_TOKEN": "xoxb-1234567890-1234567890123-" + uuid.uuid4().hex[:24],
        "SLACK_SIGNING_SECRET": uuid.uuid4().hex, "METRICS_TOKEN": uuid.uuid4().hex,
        "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "prom"), "LOG_FORMAT": "json",
    }
    result = subprocess.run([PYTHON, "manage.py", "check", "--deploy", "--fail-level", "WARNING"], cwd=BASE_DIR,
                            env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout + result.stderr
    assert "PASSWORD" not in result.stdout + result.stderr


# --- export_config -> import_config of a full configuration -----------------------------------


def full_config() -> WorkspaceConfig:
    """Every field set, most to values YAML would read as something else unquoted."""
    eng = replace(
        ENGINEERING, name="Engineering", members=MemberSource(users=("U01AAA", "U01BBB"), channel=C_ENG,
                                                              usergroup="S0ENG"),
        approvers=ApproverSource(users=(BOB,), channel=C_ENG_LEADS), max_out=3, holiday_country="US",
        holiday_subdivision="CA", workweek=(0, 1, 2, 3, 4), timezone="America/Los_Angeles",
        digest_time=clock_time(10, 30), nudge_after_hours=48, past_approvals_channels=("C_OLD_APPROVALS",),
        past_names=("R&D",))
    norway = TeamConfig(
        name="yes", members=MemberSource(users=("U02CCC",)), approvers=ApproverSource(users=("U02DDD",)),
        approvals_channel="C0NOAPPROVE", announce_channel=None, default=True, max_out=None,
        holiday_country="NO", holiday_subdivision=None, workweek=(0, 1, 2, 3, 6), timezone="Europe/Oslo",
        digest_time=clock_time(8, 0), nudge_after_hours=None)
    leave_types = (
        LeaveTypeConfig(code="vacation", name="Vacation", emoji=":palm_tree:", requires_approval=True,
                        annual_allowance_days=Decimal("25.5"), allow_half_days=True, max_consecutive_days=20),
        LeaveTypeConfig(code="sick", name="null", emoji="", requires_approval=False, private=True,
                        allow_past_days=3),
        LeaveTypeConfig(code="on", name="1.5", emoji=":x:", annual_allowance_days=Decimal("0.5")),
    )
    return WorkspaceConfig(
        requesters_users=("U01AAA",), requesters_channel="C_GENERAL", fallback_approvers=(HR, "U0HR2"),
        teams=(eng, norway), leave_types=leave_types,
        holidays=(HolidayConfig(date=date(2031, 5, 17), name="No: 17. mai", team="yes"),
                  HolidayConfig(date=date(2031, 12, 24), name="Company day", team=None)),
        blackouts=(BlackoutConfig(start=date(2031, 12, 14), end=date(2031, 12, 31), team="Engineering",
                                  reason="# Year-end: freeze & release"),),
    )


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["config.json", "config.yaml"])
def test_a_full_configuration_survives_export_and_import(tmp_path, name):
    invalidate_config()
    install_config(full_config())
    first, second = tmp_path / f"first-{name}", tmp_path / f"second-{name}"
    call_command("export_config", str(first), stdout=io.StringIO())
    exported = config_from_database()
    Team.objects.all().delete()
    LeaveType.objects.all().delete()
    install_config(WorkspaceConfig(teams=(), leave_types=()))
    call_command("import_config", str(first), "--replace", "--no-input", stdout=io.StringIO())
    call_command("export_config", str(second), stdout=io.StringIO())
    assert second.read_text() == first.read_text()
    assert config_from_database() == exported
    got, wanted = config_to_dict(config_from_database()), config_to_dict(full_config())
    assert json.dumps(got, indent=1).splitlines() == json.dumps(wanted, indent=1).splitlines()


@pytest.mark.django_db
@pytest.mark.parametrize("field, value, named", [
    (("teams", 0, "name"), "E" * 101, "teams[0].name"),
    (("leave_types", 0, "emoji"), ":" + "x" * 300 + ":", "leave_types[0].emoji"),
    (("blackouts", 0, "reason"), "r" * 20000, "blackouts[0].reason"),
    (("holidays", 0, "name"), "h" * 500, "holidays[0].name"),
    (("teams", 0, "approvals_channel"), "C" + "1" * 300, "teams[0].approvals_channel"),
    (("teams", 0, "max_out"), 10**30, "teams[0].max_out"),
    (("leave_types", 0, "annual_allowance_days"), "1e400", "leave_types[0].annual_allowance_days"),
])
def test_a_bad_file_changes_nothing_and_names_the_field(tmp_path, field, value, named):
    invalidate_config()
    install_config(full_config())
    before = config_from_database()
    data = config_to_dict(full_config())
    data["teams"][0]["max_out"] = 7  # a valid change that must not be applied either
    target = data
    for part in field[:-1]:
        target = target[part]
    target[field[-1]] = value
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data))
    stderr = io.StringIO()
    with pytest.raises(CommandError, match="the configuration was not changed"):
        call_command("import_config", str(path), "--replace", "--no-input", stdout=io.StringIO(), stderr=stderr)
    assert named in stderr.getvalue(), stderr.getvalue()
    assert config_from_database() == before


@pytest.mark.django_db
def test_a_hand_written_yaml_with_unquoted_times_and_norway_names_the_fields(tmp_path):
    invalidate_config()
    install_config(full_config())
    before = config_from_database()
    text = yaml.safe_dump(config_to_dict(full_config()), sort_keys=False)
    # What a person types: no quotes. YAML 1.1 reads 10:30 as 630 and NO as false.
    text = text.replace("digest_time: '10:30'", "digest_time: 10:30").replace("country: 'NO'", "country: NO")
    assert "digest_time: 10:30" in text and "country: NO" in text
    path = tmp_path / "hand.yaml"
    path.write_text(text)
    stderr = io.StringIO()
    with pytest.raises(CommandError, match="not changed"):
        call_command("import_config", str(path), "--replace", "--no-input", stdout=io.StringIO(), stderr=stderr)
    errors = stderr.getvalue()
    assert "teams[0].digest_time" in errors and "teams[1].holidays.country" in errors, errors
    assert config_from_database() == before


# --- slack_manifest --url ---------------------------------------------------------------------


@pytest.mark.parametrize("url", ["https://timeoff.acme.com", "https://timeoff.acme.com/",
                                 "https://timeoff.acme.com:8443"])
def test_the_printed_manifest_is_valid_with_our_urls(url):
    result = subprocess.run([PYTHON, "manage.py", "slack_manifest", "--url", url], cwd=BASE_DIR,
                            env={**os.environ, "DJANGO_SETTINGS_MODULE": "timeoff_site.test_settings"},
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    manifest = yaml.safe_load(result.stdout)
    base = url.rstrip("/")
    assert manifest["features"]["slash_commands"][0]["url"] == f"{base}/slack/commands"
    assert manifest["settings"]["interactivity"]["request_url"] == f"{base}/slack/interactions"
    assert manifest["settings"]["event_subscriptions"]["request_url"] == f"{base}/slack/events"
    assert "timeoff.example.com" not in result.stdout
    assert manifest["settings"]["socket_mode_enabled"] is False
    assert len(manifest["display_information"]["name"]) <= 35
    assert manifest["features"]["bot_user"]["display_name"]
    assert set(manifest["oauth_config"]["scopes"]["bot"]) >= {"commands", "chat:write", "metadata.message:read"}
    # Every URL in the manifest is the deployment's own.
    lines = [line for line in result.stdout.splitlines() if not line.lstrip().startswith("#")]
    for found in re.findall(r"https://[^\s'\"]+", "\n".join(lines)):
        assert found.startswith(base + "/"), found


@pytest.mark.parametrize("url", ["http://timeoff.acme.com", "https://timeoff.acme.com/slack",
                                 "https://timeoff.acme.com\n  evil: 1", "https://user:pw@timeoff.acme.com"])
def test_the_manifest_refuses_a_url_slack_cannot_use(url):
    result = subprocess.run([PYTHON, "manage.py", "slack_manifest", "--url", url], cwd=BASE_DIR,
                            env={**os.environ, "DJANGO_SETTINGS_MODULE": "timeoff_site.test_settings"},
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "--url must be an https:// base URL" in result.stderr
    assert result.stdout == ""
