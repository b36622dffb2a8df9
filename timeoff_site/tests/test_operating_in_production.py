"""Operating the app in production, as the person on call sees it.

What /metrics shows after real flows (an approval under a team's max_out, a
rejection, App Home, a bot removed from a channel, a retry waiting out its
backoff), what /readyz and /metrics answer when PostgreSQL and Redis are really
gone, what the logs hold when Slack refuses the token or cannot be reached, the
console's pages under the Content-Security-Policy, and the alert rules read
against a scrape of those flows.
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
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
import yaml
from django.conf import settings as django_settings
from django.urls import reverse
from prometheus_client.parser import text_string_to_metric_families

from approvals import block_ids as ids
from fake_slack.personas import C_ENG_APPROVALS
from test_support.flows import (
    ALICE,
    BOB,
    ENGINEERING,
    click,
    install_config,
    open_app_home,
    open_request_form,
    posted_requests,
    request_time_off,
    standard_config,
)
from test_support.slack_requests import post_command, post_interaction, view_submission_payload

TOKEN = "operations-metrics-token-0123456789"
BASE_DIR = Path(django_settings.BASE_DIR)
PYTHON = str(BASE_DIR / ".venv" / "bin" / "python") if (BASE_DIR / ".venv" / "bin" / "python").exists() \
    else sys.executable
ALERTS = BASE_DIR / "deploy" / "prometheus" / "alerts.yml"


# --- Reading a scrape as Prometheus does ------------------------------------------------------


def scrape(client) -> dict:
    response = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200, response.content
    return {(sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(response.content.decode()) for sample in family.samples}


def value(samples: dict, name: str, **labels) -> float:
    wanted = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and wanted <= ls)


def moved(before: dict, after: dict, name: str, **labels) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


def label_values(samples: dict, name: str, label: str) -> set[str]:
    return {dict(ls).get(label) for (n, ls) in samples if n == name} - {None}


@pytest.fixture
def metrics_token(settings):
    settings.METRICS_TOKEN = TOKEN


@pytest.fixture
def log_lines():
    """What production's console handler writes (after redaction and the JSON formatter)."""
    handler = logging.getHandlerByName("console")
    buffer = io.StringIO()
    previous = handler.setStream(buffer)
    yield lambda: [json.loads(line) for line in buffer.getvalue().splitlines() if line.strip()]
    handler.setStream(previous)


def reject_with_reason(client, fake_slack, approver: str, posted, reason: str):
    response = click(client, fake_slack, approver, ids.REJECT_ACTION, posted)
    assert response.status_code == 200, response.content
    view = fake_slack.last_call("views.open").params["view"]
    view = json.loads(view) if isinstance(view, str) else view
    values = {ids.REASON_BLOCK: {ids.REASON_ACTION: {"type": "plain_text_input", "value": reason}}}
    payload = view_submission_payload(user_id=approver, view=view, values=values, view_id="V_REJECT1",
                                      view_hash="hr1")
    return post_interaction(client, payload)


# --- What a scrape shows after real flows -----------------------------------------------------


@pytest.mark.django_db
def test_an_approval_shows_the_decision_lock_taken_in_the_scrape(client, fake_slack, metrics_token):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    before = scrape(client)
    assert click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted).status_code == 200
    after = scrape(client)
    assert moved(before, after, "timeoff_lock_acquisitions_total", lock="decide", outcome="acquired") >= 1
    assert moved(before, after, "timeoff_lock_wait_seconds_count", lock="decide") >= 1


@pytest.mark.django_db
def test_the_team_lock_of_a_team_with_a_lower_case_name_is_labelled_team_not_by_its_name(
        client, fake_slack, metrics_token):
    # HR names a team "support". Approvals under its max_out take the team's lock; the README says lock
    # labels are the kind of lock (submit, decide, team, ledger), never whose it is.
    support = replace(ENGINEERING, name="support", max_out=3)
    install_config(standard_config(teams=(support,)))
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    before = scrape(client)
    assert click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted).status_code == 200
    after = scrape(client)

    locks = label_values(after, "timeoff_lock_acquisitions_total", "lock")
    assert not [name for name in locks if "support" in name], locks
    assert moved(before, after, "timeoff_lock_acquisitions_total", lock="team", outcome="acquired") == 1


@pytest.mark.django_db
def test_a_rejection_is_counted_under_the_reject_button_and_the_reason_form(client, fake_slack, metrics_token):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    before = scrape(client)
    assert reject_with_reason(client, fake_slack, BOB, posted, "Release week").status_code == 200
    after = scrape(client)
    total = "timeoff_http_requests_total"
    assert moved(before, after, total, endpoint="slack/interactions", slack_kind="block_actions",
                 slack_name=ids.REJECT_ACTION, status="200") == 1
    assert moved(before, after, total, endpoint="slack/interactions", slack_kind="view_submission",
                 slack_name=ids.REJECT_MODAL, status="200") == 1
    assert moved(before, after, "timeoff_http_request_duration_seconds_count", slack_kind="view_submission",
                 slack_name=ids.REJECT_MODAL) == 1
    assert moved(before, after, "timeoff_task_attempts_total", outcome="successful") >= 1
    assert moved(before, after, "timeoff_slack_api_calls_total", method="chat.update", outcome="ok") >= 1


@pytest.mark.django_db
def test_opening_app_home_is_counted_as_an_event_of_its_type(client, fake_slack, metrics_token):
    install_config()
    before = scrape(client)
    open_app_home(client, fake_slack, ALICE, event_id="Ev_OPS_HOME1")
    after = scrape(client)
    assert moved(before, after, "timeoff_http_requests_total", endpoint="slack/events", slack_kind="event",
                 slack_name="app_home_opened", status="200") == 1
    assert moved(before, after, "timeoff_slack_api_calls_total", method="views.publish", outcome="ok") >= 1


@pytest.mark.django_db
def test_a_bot_removed_from_the_approvals_channel_shows_as_an_unreadable_ledger(client, fake_slack, metrics_token):
    install_config()
    fake_slack.workspace.channels[C_ENG_APPROVALS].members.discard(fake_slack.workspace.bot_user_id)
    before = scrape(client)
    open_request_form(client, fake_slack, ALICE)  # warms the ledger: Slack refuses the read
    after = scrape(client)
    # The approvals channel is private: without the bot in it, Slack says channel_not_found.
    errors = {dict(ls)["error"] for (n, ls), v in after.items() if n == "timeoff_slack_api_errors_total"
              and dict(ls)["method"] == "conversations.history" and v > value(before, n, **dict(ls))}
    assert errors == {"channel_not_found"}
    assert moved(before, after, "timeoff_ledger_unavailable_total", error="channel_not_found") >= 1
    # The alert on an unreadable ledger reads exactly these series.
    [rule] = [rule for rule in alert_rules() if rule["alert"] == "TimeoffLedgerUnreadable"]
    assert "timeoff_ledger_unavailable_total" in rule["expr"] and "channel_not_found" in rule["expr"]


@pytest.mark.django_db
def test_slack_refusing_the_token_shows_by_method_and_the_person_sees_no_token(client, fake_slack, settings,
                                                                                metrics_token, log_lines):
    install_config()
    fake_slack.workspace.revoke_token(error="invalid_auth")
    before = scrape(client)
    response = post_command(client, "", user_id=ALICE)
    after = scrape(client)

    assert response.status_code == 200
    shown = response.content.decode()
    assert shown, "the person is told something"
    assert settings.SLACK_BOT_TOKEN not in shown and settings.SLACK_SIGNING_SECRET not in shown
    assert moved(before, after, "timeoff_slack_api_errors_total", method="views.open", error="invalid_auth") == 1
    text = json.dumps(log_lines())
    assert "invalid_auth" in text
    assert settings.SLACK_BOT_TOKEN not in text and settings.SLACK_SIGNING_SECRET not in text


@pytest.mark.django_db
def test_slack_unreachable_is_one_logged_call_with_the_request_id_and_a_polite_answer(client, settings,
                                                                                      metrics_token, log_lines):
    install_config()
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    settings.SLACK_API_URL = f"http://127.0.0.1:{port}/api/"
    before = scrape(client)
    response = post_command(client, "", user_id=ALICE)
    after = scrape(client)

    assert response.status_code == 200
    assert response.content, "the person is told the form did not open"
    lines = log_lines()
    [call] = [line for line in lines if line.get("event") == "slack_api_call" and line["slack_method"] == "views.open"]
    assert call["outcome"] == "error" and call["request_id"] == response["X-Request-ID"]
    assert moved(before, after, "timeoff_slack_api_calls_total", method="views.open", outcome="error") == 1
    assert settings.SLACK_BOT_TOKEN not in json.dumps(lines)


# --- The queue as the workers leave it ----------------------------------------------------------


@pytest.mark.django_db
def test_a_retry_waiting_for_its_backoff_is_scheduled_not_a_stalled_queue(client, fake_slack, settings,
                                                                          metrics_token):
    from django.tasks import TaskResultStatus
    from django_tasks_db.models import DBTaskResult

    from test_support.task_rows import run_queued_tasks

    install_config()
    settings.TASKS = {"default": {"BACKEND": "approvals.task_backend.DatabaseBackend"}}  # production's
    request_time_off(client, fake_slack, ALICE)
    # Everything but the delivery runs; then the delivery meets Slack's passing fault.
    for row in DBTaskResult.objects.filter(status=TaskResultStatus.READY):
        name = row.task_path.rsplit(".", 1)[-1]
        if name != "deliver_request":
            run_queued_tasks(name)
    fake_slack.fail("chat.postMessage", "internal_error", times=1)
    run_queued_tasks("deliver_request")

    samples = scrape(client)
    assert value(samples, "timeoff_task_queue_depth", queue="default", status="scheduled") == 1
    assert value(samples, "timeoff_task_queue_depth", queue="default", status="ready") == 0
    assert not [key for key in samples if key[0] == "timeoff_task_queue_oldest_age_seconds"]
    assert value(samples, "timeoff_task_attempts_total", task="deliver_request", outcome="retrying") >= 1


@pytest.mark.django_db
def test_in_production_the_request_line_names_the_task_row_a_worker_will_log(client, fake_slack, settings,
                                                                              log_lines):
    from django_tasks_db.models import DBTaskResult

    install_config()
    settings.TASKS = {"default": {"BACKEND": "approvals.task_backend.DatabaseBackend"}}
    response = request_time_off(client, fake_slack, ALICE)
    [submission] = [line for line in log_lines()
                    if line.get("event") == "http_request" and line.get("slack_kind") == "view_submission"]
    assert submission["request_id"] == response["X-Request-ID"]
    [row] = [row for row in DBTaskResult.objects.all() if row.task_path.endswith(".deliver_request")]
    assert str(row.id) in submission["enqueued_tasks"]


# --- /readyz and /metrics when the services are really gone ---------------------------------------


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_app(code: str, **environ) -> subprocess.CompletedProcess:
    """The production settings in a process of their own, answering requests through Django's handler."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/tmp"),
        "ENV_FILE": "", "DJANGO_SETTINGS_MODULE": "timeoff_site.settings", "DEBUG": "false",
        "SECRET_KEY": "operations-secret-key-" + "x" * 40, "ALLOWED_HOSTS": "testserver",
        "SLACK_BOT_TOKEN": "xoxb-1111-2222-operationstoken", "SLACK_SIGNING_SECRET": "f" * 32,
        "METRICS_TOKEN": TOKEN, "LOG_FORMAT": "json",
    }
    env.update(environ)
    script = "import django\ndjango.setup()\nfrom django.test import Client\nclient = Client()\n" + textwrap.dedent(code)
    return subprocess.run([PYTHON, "-c", script], cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=120)


DOWN = "pg-password-hunter2-down"
REDIS_DOWN = "redis-password-hunter2-down"


@pytest.fixture
def services_down():
    return {"DATABASE_URL": f"postgres://timeoff:{DOWN}@127.0.0.1:{_closed_port()}/timeoff",
            "CACHE_URL": f"redis://:{REDIS_DOWN}@127.0.0.1:{_closed_port()}/0"}


def test_readyz_names_both_postgresql_and_redis_when_both_are_gone(services_down):
    result = run_app("""
        import json, time
        started = time.monotonic()
        response = client.get("/readyz")
        print(json.dumps({"status": response.status_code, "body": response.json(),
                          "seconds": time.monotonic() - started}))
    """, **services_down)
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    assert answer["status"] == 503
    assert set(answer["body"]["failed"]) == {"database", "cache"}
    assert answer["seconds"] < 5  # inside the load balancer's health check
    for password in (DOWN, REDIS_DOWN):
        assert password not in result.stdout and password not in result.stderr


def test_readyz_names_only_the_database_when_postgresql_alone_is_gone(services_down):
    result = run_app("""
        import json
        response = client.get("/readyz")
        print(json.dumps({"status": response.status_code, "body": response.json()}))
    """, DATABASE_URL=services_down["DATABASE_URL"], CACHE_URL="locmemcache://")
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    assert answer == {"status": 503, "body": {"status": "unavailable", "failed": {"database": "OperationalError"}}}


def test_metrics_still_answers_prometheus_when_the_database_is_gone(services_down):
    result = run_app(f"""
        import json
        response = client.get("/metrics", headers={{"Authorization": "Bearer {TOKEN}"}})
        print(json.dumps({{"status": response.status_code, "text": response.content.decode()}}))
    """, DATABASE_URL=services_down["DATABASE_URL"], CACHE_URL="locmemcache://")
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    assert answer["status"] == 200
    names = {family.name for family in text_string_to_metric_families(answer["text"])}
    assert "timeoff_slack_api_calls" in names or "timeoff_http_requests" in names
    assert DOWN not in result.stdout + result.stderr


def test_every_line_written_while_the_services_are_gone_is_json_with_a_request_id(services_down):
    result = run_app("""
        client.get("/readyz", headers={"X-Request-ID": "lb-check-42"})
    """, **services_down)
    assert result.returncode == 0, result.stderr
    # (Python's own warnings, such as WhiteNoise's "No directory at" before collectstatic, are not log lines.)
    lines = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    assert lines, "the failing readiness check is logged"
    assert all(line.get("request_id") == "lb-check-42" for line in lines), lines
    [request] = [line for line in lines if line.get("event") == "http_request"]
    assert request["status"] == 503 and request["path"] == "/readyz"


# --- The console under the Content-Security-Policy ------------------------------------------------


@pytest.fixture
def hr_client(client, django_user_model):
    user = django_user_model.objects.create_user("operator-hr", password="a-long-test-password-42",
                                                 is_staff=True, is_superuser=True)
    client.force_login(user)
    return client


def console_get_pages() -> list[str]:
    from approvals.models import CompanyHoliday, LeaveType, Team

    pages = [reverse(f"console:{name}") for name in (
        "home", "team_add", "leave_types", "leave_type_add", "holidays", "holiday_add", "blackout_add", "policy",
        "search", "record_leave", "setup", "config_file", "whos_out", "ledger_export", "balances", "adjust",
        "history")]
    team = Team.objects.first()
    pages += [reverse("console:team_edit", args=[team.pk]), reverse("console:team_delete", args=[team.pk])]
    leave_type = LeaveType.objects.first()
    pages += [reverse("console:leave_type_edit", args=[leave_type.pk]),
              reverse("console:leave_type_delete", args=[leave_type.pk])]
    holiday = CompanyHoliday.objects.first()
    if holiday is not None:
        pages += [reverse("console:holiday_edit", args=[holiday.pk])]
    return pages


INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>\s*\S", re.IGNORECASE)
INLINE_STYLE = re.compile(r"<style\b|\sstyle\s*=", re.IGNORECASE)
EVENT_HANDLER = re.compile(r"<[^>]+\son[a-z]+\s*=", re.IGNORECASE)
THIRD_PARTY = re.compile(r"""<(?:script|link|img)[^>]+(?:src|href)=["'](?:https?:)?//""", re.IGNORECASE)


@pytest.mark.django_db
def test_every_console_page_works_under_the_strict_csp_with_nothing_inline(hr_client, fake_slack):
    from approvals.config_types import HolidayConfig

    config = standard_config()
    install_config(replace(config, holidays=(HolidayConfig(date=date(2031, 12, 24), name="Company day",
                                                           team=None),)))
    for page in console_get_pages():
        response = hr_client.get(page, secure=True)
        assert response.status_code == 200, page
        if not response["Content-Type"].startswith("text/html"):
            continue
        csp = response["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "'unsafe-inline'" not in csp, page
        html = response.content.decode()
        assert not INLINE_SCRIPT.search(html), page
        assert not INLINE_STYLE.search(html), (page, INLINE_STYLE.search(html))
        assert not EVENT_HANDLER.search(html), page
        assert not THIRD_PARTY.search(html), page
        assert response["X-Content-Type-Options"] == "nosniff", page
        assert response["Referrer-Policy"] == "same-origin", page
        assert response["X-Frame-Options"] == "DENY", page
        assert response["Strict-Transport-Security"].startswith("max-age=31536000"), page


@pytest.mark.django_db
def test_admin_change_pages_of_existing_rows_need_no_inline_script_or_style(hr_client, fake_slack):
    from approvals.models import LeaveType, Team

    install_config()
    team, leave_type = Team.objects.first(), LeaveType.objects.first()
    for page in (reverse("admin:approvals_team_change", args=[team.pk]),
                 reverse("admin:approvals_team_history", args=[team.pk]),
                 reverse("admin:approvals_team_delete", args=[team.pk]),
                 reverse("admin:approvals_leavetype_change", args=[leave_type.pk])):
        response = hr_client.get(page)
        assert response.status_code == 200, page
        html = response.content.decode()
        assert not INLINE_SCRIPT.search(html), page
        assert not INLINE_STYLE.search(html), (page, INLINE_STYLE.search(html))
        assert not EVENT_HANDLER.search(html), page


@pytest.mark.django_db
def test_console_pages_with_people_s_leave_are_never_kept_by_a_cache_like_admin_pages(hr_client, fake_slack):
    # The admin sends `Cache-Control: no-store, private` (never_cache): a CDN in front of the load balancer
    # (README "Deployment", step 7) or the browser's cache of a shared computer keeps none of it. The
    # console's pages show who is out, balances, private leave and the configuration, and should not
    # be kept either.
    install_config()
    admin_page = hr_client.get(reverse("admin:index"), secure=True)
    assert "no-store" in admin_page["Cache-Control"] and "private" in admin_page["Cache-Control"]
    for name in ("home", "whos_out", "balances", "ledger_export", "setup", "history", "config_file"):
        response = hr_client.get(reverse(f"console:{name}"), secure=True)
        assert response.status_code == 200, name
        cache_control = response.get("Cache-Control", "")
        assert "no-store" in cache_control or "private" in cache_control, (name, cache_control)


# --- The alert rules against a scrape of real flows -----------------------------------------------


def alert_rules() -> list[dict]:
    return [rule for group in yaml.safe_load(ALERTS.read_text())["groups"] for rule in group["rules"]]


@pytest.mark.django_db
def test_the_auth_alert_matches_the_error_codes_slack_sends_when_the_app_is_uninstalled(
        client, fake_slack, metrics_token):
    install_config()
    fake_slack.workspace.revoke_token(error="token_revoked")
    before = scrape(client)
    assert post_command(client, "", user_id=ALICE).status_code == 200
    after = scrape(client)
    errors = {dict(ls)["error"] for (n, ls), v in after.items()
              if n == "timeoff_slack_api_errors_total" and v > value(before, n, **dict(ls))}
    [rule] = [rule for rule in alert_rules() if rule["alert"] == "TimeoffSlackAuthFailing"]
    pattern = re.search(r'error=~"([^"]+)"', rule["expr"]).group(1)
    assert errors and all(re.fullmatch(pattern, error) for error in errors), (errors, pattern)


@pytest.mark.django_db
def test_the_slow_endpoint_alert_reads_buckets_the_slack_endpoints_really_have(client, fake_slack, metrics_token):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    samples = scrape(client)
    endpoints = label_values(samples, "timeoff_http_request_duration_seconds_bucket", "endpoint")
    slack = {endpoint for endpoint in endpoints if re.fullmatch(r"slack/.*", endpoint)}
    assert {"slack/commands", "slack/interactions"} <= slack
    buckets = {float(dict(ls)["le"]) for (n, ls) in samples if n == "timeoff_http_request_duration_seconds_bucket"}
    assert 2.0 in buckets  # the alert's threshold is a bucket edge: p99 > 2 s is exact, not interpolated


# --- The shipped systemd units and what the processes write -------------------------------------


def _unit_service(name: str) -> dict[str, list[str]]:
    service: dict[str, list[str]] = {}
    section = None
    for line in (BASE_DIR / "deploy" / "systemd" / name).read_text().splitlines():
        line = line.strip()
        if line.startswith("["):
            section = line.strip("[]")
        elif section == "Service" and "=" in line and not line.startswith("#"):
            key, _, rest = line.partition("=")
            service.setdefault(key, []).extend(rest.split())
    return service


def test_the_worker_unit_lets_the_nightly_ledger_export_write_its_file():
    # The clock enqueues the nightly export; a task worker writes ledger-<date>.csv into LEDGER_EXPORT_DIR
    # (default: exports/ beside manage.py, /srv/timeoff/exports on the VMs). The worker's unit makes the
    # whole file system read-only (ProtectSystem=strict) except its ReadWritePaths: the write must be
    # allowed there, or every night's export fails with "Read-only file system".
    service = _unit_service("timeoff-worker@.service")
    assert service["ProtectSystem"] == ["strict"]
    export_dir = "/srv/timeoff/" + str(Path(django_settings.LEDGER_EXPORT_DIR).relative_to(BASE_DIR))
    writable = service.get("ReadWritePaths", [])
    assert any(export_dir == path.lstrip("-") or export_dir.startswith(path.lstrip("-").rstrip("/") + "/")
               for path in writable), (export_dir, writable)


def test_a_form_address_opened_in_the_browser_gets_a_console_page_not_a_blank_405(hr_client, fake_slack):
    response = hr_client.get(reverse("console:setup_check"))
    assert response.status_code == 405 and response["Allow"] == "POST"
    page = response.content.decode()
    assert "This address is not a page to open" in page and 'href="/console/"' in page
    assert "no-store" in response["Cache-Control"]
