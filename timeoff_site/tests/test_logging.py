"""Structured logs (DESIGN §9; issue 13 point 3): one JSON line per request, Slack API call and
task attempt, with a request id; tokens and signing secrets never written.

The lines are read from the configured `console` handler itself (its stream
swapped for a buffer), so they are exactly what production writes, after the
redaction filter and the formatter.
"""

import io
import json
import logging
import os
import runpy
from pathlib import Path

import pytest

from approvals import block_ids as ids
from test_support.flows import ALICE, BOB, click, install_config, posted_requests, request_time_off
from test_support.slack_requests import post_command
from timeoff_site.log_format import JsonFormatter, TextFormatter
from timeoff_site.log_redaction import RedactSecretsFilter, redact

SETTINGS_FILE = Path(__file__).resolve().parents[1] / "settings.py"


@pytest.fixture
def log_lines():
    """What the console handler writes, as a list of lines (read it after the requests)."""
    handler = logging.getHandlerByName("console")
    buffer = io.StringIO()
    previous = handler.setStream(buffer)
    lines = []
    yield lambda: lines or lines.extend(buffer.getvalue().splitlines()) or lines
    handler.setStream(previous)


def records(lines, event: str) -> list[dict]:
    return [line for line in map(json.loads, lines) if line.get("event") == event]


@pytest.mark.django_db
def test_every_line_is_json_and_a_request_has_one_line_with_its_id(client, fake_slack, log_lines):
    install_config()
    response = post_command(client, "", user_id=ALICE)
    assert response.status_code == 200
    request_id = response["X-Request-ID"]
    assert len(request_id) == 32

    lines = log_lines()
    parsed = [json.loads(line) for line in lines]  # every line parses
    [request] = records(lines, "http_request")
    assert request["request_id"] == request_id
    assert request["path"] == "/slack/commands" and request["http_method"] == "POST" and request["status"] == 200
    assert request["endpoint"] == "slack/commands"
    assert (request["slack_kind"], request["slack_name"]) == ("command", "command_request")
    assert (request["slack_team"], request["slack_user"]) == ("T_ACME", ALICE)
    assert isinstance(request["duration_ms"], float)
    assert request["level"] == "INFO" and request["ts"].endswith("+00:00")
    # The Slack call made inside the request carries the same request id.
    [call] = [line for line in records(lines, "slack_api_call") if line["slack_method"] == "views.open"]
    assert call["request_id"] == request_id and call["outcome"] == "ok" and call["status"] == 200
    assert call["slack_user"] == ALICE
    assert all(line["request_id"] == request_id for line in parsed if "request_id" in line)


@pytest.mark.django_db
def test_a_given_request_id_is_used_and_echoed(client, log_lines):
    response = client.get("/healthz", headers={"X-Request-ID": "lb-1234.abcd"})
    assert response["X-Request-ID"] == "lb-1234.abcd"
    [line] = records(log_lines(), "http_request")
    assert line["request_id"] == "lb-1234.abcd" and line["endpoint"] == "healthz"


@pytest.mark.parametrize("given", ["", "a" * 500, "bad id with spaces", "<script>"])
def test_a_malformed_request_id_is_replaced(client, given):
    response = client.get("/healthz", headers={"X-Request-ID": given})
    assert response["X-Request-ID"] != given and len(response["X-Request-ID"]) == 32


@pytest.mark.django_db
def test_each_task_attempt_is_one_line_with_its_outcome(client, fake_slack, log_lines):
    install_config()
    fake_slack.fail("chat.postMessage", "internal_error", times=1)  # the first attempt fails on a passing fault
    response = request_time_off(client, fake_slack, ALICE)

    attempts = [line for line in records(log_lines(), "task_attempt") if line["task"] == "deliver_request"]
    # The test backend runs the second attempt inside the first, so it finishes first.
    attempts.sort(key=lambda a: a["attempt"])
    assert [(a["attempt"], a["outcome"]) for a in attempts] == [(1, "retrying"), (2, "successful")]
    assert attempts[0]["error"] == "internal_error" and attempts[0]["level"] == "WARNING"
    assert all(a["request_id"] == response["X-Request-ID"] for a in attempts)  # run inline by the test backend
    assert all(a["task_id"] and a["duration_ms"] >= 0 for a in attempts)
    # The request's line names the tasks it enqueued, so a worker's lines (with task_id) join it.
    [submission] = [line for line in records(log_lines(), "http_request") if line.get("slack_kind") == "view_submission"]
    assert attempts[0]["task_id"] in submission["enqueued_tasks"]
    failed = [line for line in records(log_lines(), "slack_api_call") if line.get("error") == "internal_error"]
    assert failed and failed[0]["task"] == "deliver_request" and failed[0]["attempt"] == 1


@pytest.mark.django_db
def test_no_token_or_signing_secret_is_ever_written(client, fake_slack, settings, log_lines):
    install_config()
    fake_slack.fail("chat.update", "invalid_auth")  # an error path, too
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted)
    # Someone logs a secret by mistake, in the message, its arguments, an extra field and an exception.
    careless = logging.getLogger("approvals.careless")
    careless.warning("token is %s", settings.SLACK_BOT_TOKEN,
                     extra={"secret": settings.SLACK_SIGNING_SECRET, "other": "xoxp-1234-5678-abcdef"})
    try:
        raise RuntimeError(f"failed with {settings.SLACK_BOT_TOKEN} and {settings.SLACK_SIGNING_SECRET}")
    except RuntimeError:
        careless.exception("boom")

    text = "\n".join(log_lines())
    assert "slack_api_call" in text and "http_request" in text  # the flow was logged
    for secret in (settings.SLACK_BOT_TOKEN, settings.SLACK_SIGNING_SECRET, "xoxp-1234-5678-abcdef"):
        assert secret not in text
    [warning] = [json.loads(line) for line in log_lines() if "token is" in line]
    assert warning["message"] == "token is [redacted]" and warning["secret"] == "[redacted]"
    [error] = [json.loads(line) for line in log_lines() if '"boom"' in line]
    assert "RuntimeError: failed with [redacted] and [redacted]" in error["exception"]


def test_the_text_format_is_readable_and_redacted(settings):
    record = logging.makeLogRecord({"name": "approvals.tasks", "levelname": "INFO", "levelno": logging.INFO,
                                    "msg": "posted with %s", "args": (settings.SLACK_BOT_TOKEN,),
                                    "slack_method": "chat.postMessage", "duration_ms": 12.5})
    RedactSecretsFilter().filter(record)
    line = TextFormatter().format(record)
    assert "INFO approvals.tasks posted with [redacted]" in line
    assert "slack_method=chat.postMessage duration_ms=12.5" in line
    assert settings.SLACK_BOT_TOKEN not in line


def test_the_json_format_redacts_extra_fields_even_without_the_filter(settings):
    record = logging.makeLogRecord({"name": "x", "levelname": "INFO", "msg": "hello",
                                    "header": f"Bearer {settings.SLACK_BOT_TOKEN}"})
    line = json.loads(JsonFormatter().format(record))
    assert line["header"] == "Bearer [redacted]" and line["message"] == "hello"


@pytest.mark.django_db
def test_a_secret_with_a_quote_or_backslash_is_redacted_in_a_json_extra_field(settings):
    settings.SECRET_KEY = 'a-secret-key-with-"quote"-and-\\-backslash-' + "x" * 20
    record = logging.makeLogRecord({"name": "x", "levelname": "ERROR", "msg": "failed",
                                    "detail": f"signing with {settings.SECRET_KEY}"})
    text = JsonFormatter().format(record)
    line = json.loads(text)
    assert line["detail"] == "signing with [redacted]", line
    assert "quote" not in text and "backslash" not in text


def test_python_warnings_of_a_served_site_are_json_log_lines():
    # What wsgi.py sets up for gunicorn: WhiteNoise warns (stderr, plain text) on a host without collectstatic.
    import subprocess
    import sys

    code = ("import warnings, timeoff_site.wsgi; "
            "warnings.warn('No directory at: /srv/timeoff/staticfiles/')")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "DJANGO_SETTINGS_MODULE": "timeoff_site.settings", "LOG_FORMAT": "json",
                               "SECRET_KEY": "x" * 50, "SLACK_BOT_TOKEN": "xoxb-1-test",
                               "SLACK_SIGNING_SECRET": "0123456789abcdef0123456789abcdef"})
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    warned = [json.loads(line) for line in lines if "No directory at" in line]
    assert warned and warned[0]["logger"] == "py.warnings", done.stderr
    assert all(line.startswith("{") for line in lines), done.stderr


def test_a_4xx_logs_the_path_never_the_query_string(admin_client, log_lines):
    # Django's own django.request logger passes the request with every 4xx: its text form holds the query.
    admin_client.get("/console/no-such-page?q=alice@example.com&password=hunter2")

    [warning] = [line for line in map(json.loads, log_lines()) if line["logger"] == "django.request"]
    assert warning["request"] == "GET /console/no-such-page"
    assert "hunter2" not in json.dumps(warning) and "alice@example.com" not in json.dumps(warning)


def test_a_secret_changed_after_the_first_line_is_redacted_too(settings):
    redact("a first line, so the secrets are read")
    settings.SLACK_SIGNING_SECRET = "a-new-signing-secret-" + "9" * 12  # e.g. rotated, in a test
    assert redact(f"signed with {settings.SLACK_SIGNING_SECRET}") == "signed with [redacted]"
    # Slack's token shapes, whatever the settings hold, and only where a line holds one.
    assert redact("from xapp-1-A0-123-abc and xoxe.xoxp-1-abc") == "from [redacted] and [redacted]"
    assert redact("an ordinary line") == "an ordinary line"


def test_the_metrics_token_and_the_database_and_cache_passwords_are_redacted(settings):
    settings.METRICS_TOKEN = "metrics-token-" + "7" * 20
    settings.SENTRY_DSN = "https://0123456789abcdef@o1.ingest.sentry.io/42"
    with pytest.warns(UserWarning, match="Overriding setting DATABASES"):  # Django's warning; only read here
        settings.DATABASES = {**settings.DATABASES, "other": {"ENGINE": "django.db.backends.postgresql",
                                                              "PASSWORD": "db-password-hunter2"}}
    settings.CACHES = {**settings.CACHES, "other": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                                                    "LOCATION": "redis://:cache-password-42@10.0.0.5:6379/0"}}

    line = redact(f"{settings.METRICS_TOKEN} {settings.SENTRY_DSN} db-password-hunter2 "
                  "redis://:cache-password-42@10.0.0.5:6379/0")

    assert "metrics-token" not in line and "0123456789abcdef" not in line
    assert "hunter2" not in line and "cache-password-42" not in line
    assert redact("an ordinary line") == "an ordinary line"


@pytest.mark.parametrize("log_format, formatter", [("text", "text"), ("json", "json"), ("", "json")])
def test_log_format_picks_the_formatter(monkeypatch, log_format, formatter):
    monkeypatch.setenv("LOG_FORMAT", log_format)
    if not log_format:
        monkeypatch.delenv("LOG_FORMAT")
    monkeypatch.setenv("SENTRY_DSN", "")
    loaded = runpy.run_path(str(SETTINGS_FILE))
    assert loaded["LOGGING"]["handlers"]["console"]["formatter"] == formatter
    assert loaded["LOGGING"]["handlers"]["console"]["filters"] == ["redact_secrets"]
