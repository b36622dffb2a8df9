"""The security bar of DESIGN §8, each point proved by a test that fails if it breaks.

- `manage.py check --deploy` is clean under production settings;
- every HTML page sends a Content-Security-Policy without 'unsafe-inline' scripts,
  and the console's pages need none;
- the admin requires a staff login;
- CSRF protection everywhere except the three Slack endpoints;
- tokens and secrets never reach the logs, even when Slack fails.
"""

import copy
import io
import json
import logging
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlencode

import pytest
from django.conf import settings
from django.contrib import admin
from django.test import Client, RequestFactory
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from fake_slack.personas import C_ENG_APPROVALS
from test_support.flows import ALICE, install_config, request_time_off
from test_support.slack_requests import command_fields, post_command, post_signed, signature_headers
from timeoff_site.log_redaction import RedactSecretsFilter

BASE_DIR = Path(settings.BASE_DIR)
SLACK_ENDPOINTS = ("/slack/commands", "/slack/interactions", "/slack/events")


# --- check --deploy -----------------------------------------------------------------------


def production_environment(**changes) -> dict:
    """What a production host sets: no .env file, no DEBUG, real-looking secrets."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/tmp"),
        "ENV_FILE": "",
        "DJANGO_SETTINGS_MODULE": "timeoff_site.settings",
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(64),
        "ALLOWED_HOSTS": "timeoff.example.com",
        "SLACK_BOT_TOKEN": "xoxb-1234567890-1234567890123-" + secrets.token_hex(12),
        "SLACK_SIGNING_SECRET": secrets.token_hex(16),
        # Not the developer's db.sqlite3: check --deploy does not need a database, nor may it touch one.
        "DATABASE_URL": "sqlite:///:memory:",
        "CACHE_URL": "locmemcache://",
    }
    return {**env, **changes}


def check_deploy(**changes) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=BASE_DIR, env=production_environment(**changes), capture_output=True, text=True, timeout=60,
    )


def test_check_deploy_is_clean_under_production_settings():
    result = check_deploy()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout + result.stderr


@pytest.mark.parametrize(
    "changes, warning",
    [({"DEBUG": "true"}, "security.W018"), ({"SECURE_HSTS_SECONDS": "0"}, "security.W004"),
     ({"SECURE_SSL_REDIRECT": "false"}, "security.W008"), ({"SLACK_SIGNING_SECRET": ""}, "slackbot.E001")],
    ids=["debug", "no-hsts", "no-ssl-redirect", "no-signing-secret"],
)
def test_check_deploy_would_catch_a_weakened_setting(changes, warning):
    """The clean run above means something: the same command fails when a protection is off."""
    result = check_deploy(**changes)
    assert result.returncode != 0
    assert warning in result.stdout + result.stderr


def test_production_settings_trust_the_load_balancer_for_https():
    assert settings.SECURE_PROXY_SSL_HEADER == ("HTTP_X_FORWARDED_PROTO", "https")
    assert settings.SESSION_COOKIE_SECURE and settings.CSRF_COOKIE_SECURE  # DEBUG is false in the tests too
    assert settings.SESSION_COOKIE_HTTPONLY


# --- Content-Security-Policy on every HTML page ---------------------------------------------

INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>\s*\S", re.IGNORECASE)
EVENT_HANDLER_ATTRIBUTE = re.compile(r"<[^>]+\son[a-z]+\s*=", re.IGNORECASE)
THIRD_PARTY_ASSET = re.compile(r"""<(?:script|link|img)[^>]+(?:src|href)=["'](?:https?:)?//""", re.IGNORECASE)


def csp_directives(response) -> dict[str, list[str]]:
    header = response.headers.get("Content-Security-Policy")
    assert header, f"no Content-Security-Policy on {response.request['PATH_INFO']}"
    directives = {}
    for part in header.split(";"):
        name, *values = part.split()
        directives[name] = values
    return directives


def assert_strict_csp(response):
    directives = csp_directives(response)
    script_src = directives.get("script-src", directives.get("default-src"))
    assert script_src == ["'self'"], directives
    assert "'unsafe-inline'" not in directives.get("style-src", [])
    assert directives.get("object-src") == ["'none'"]
    assert directives.get("frame-ancestors") == ["'none'"]


def assert_needs_no_inline_script(response):
    """Under script-src 'self', an inline <script> or an onclick= would not run: the page must need none."""
    html = response.content.decode()
    path = response.request["PATH_INFO"]
    assert not INLINE_SCRIPT.search(html), f"inline script on {path}: {INLINE_SCRIPT.search(html).group(0)}"
    assert not EVENT_HANDLER_ATTRIBUTE.search(html), f"inline event handler on {path}"
    assert not THIRD_PARTY_ASSET.search(html), f"third-party asset on {path}"


@pytest.fixture
def hr(django_user_model):
    return django_user_model.objects.create_user("hannah", password="correct horse battery staple",
                                                 is_staff=True, is_superuser=True)


def console_pages(user) -> list[str]:
    """Every page of the console HR can open: the index, each model's list and (where allowed) add form."""
    request = RequestFactory().get("/admin/")
    request.user = user
    pages = [reverse("admin:index"), reverse("admin:password_change")]
    for model, model_admin in admin.site._registry.items():
        info = (model._meta.app_label, model._meta.model_name)
        pages.append(reverse("admin:%s_%s_changelist" % info))
        if model_admin.has_add_permission(request):
            pages.append(reverse("admin:%s_%s_add" % info))
    return pages


@pytest.mark.django_db
def test_the_login_page_sends_a_strict_csp_and_needs_no_inline_script(client):
    response = client.get(reverse("admin:login"))
    assert response.status_code == 200
    assert_strict_csp(response)
    assert_needs_no_inline_script(response)


@pytest.mark.django_db
def test_every_console_page_sends_a_strict_csp_and_needs_no_inline_script(client, hr):
    install_config()  # so the configuration pages have rows to list
    client.force_login(hr)
    pages = console_pages(hr)
    assert {reverse("admin:approvals_team_changelist"), reverse("admin:approvals_team_add")} <= set(pages)
    for page in pages:
        response = client.get(page)
        assert response.status_code == 200, page
        assert response["Content-Type"].startswith("text/html")
        assert_strict_csp(response)
        assert_needs_no_inline_script(response)


@pytest.mark.django_db
def test_error_pages_send_the_csp_too(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert_strict_csp(response)


# --- The admin requires a staff login ---------------------------------------------------------


@pytest.mark.django_db
def test_the_admin_sends_anonymous_visitors_to_the_login_page(client):
    for page in ("/admin/", "/admin/approvals/team/"):
        response = client.get(page)
        assert response.status_code == 302
        assert response["Location"].startswith(f"{reverse('admin:login')}?next=")


@pytest.mark.django_db
def test_staff_log_in_through_the_login_form(hr):
    client = Client(enforce_csrf_checks=True)
    login_page = client.get(reverse("admin:login"))
    token = login_page.cookies["csrftoken"].value
    response = client.post(reverse("admin:login"), {"username": "hannah", "password": "correct horse battery staple",
                                                    "next": "/admin/", "csrfmiddlewaretoken": token})
    assert response.status_code == 302 and response["Location"] == "/admin/"
    index = client.get("/admin/")
    assert index.status_code == 200
    assert_strict_csp(index)


@pytest.mark.django_db
def test_people_who_are_not_staff_cannot_log_in(client, django_user_model):
    django_user_model.objects.create_user("mallory", password="correct horse battery staple")
    response = client.post(reverse("admin:login"), {"username": "mallory", "password": "correct horse battery staple"})
    assert response.status_code == 200  # the form again, with an error
    assert client.get("/admin/").status_code == 302


# --- CSRF: exempt on the Slack endpoints only -----------------------------------------------


@pytest.mark.django_db
def test_a_login_post_without_a_csrf_token_is_refused(hr):
    client = Client(enforce_csrf_checks=True)
    response = client.post(reverse("admin:login"), {"username": "hannah", "password": "correct horse battery staple"})
    assert response.status_code == 403
    assert client.get("/admin/").status_code == 302  # not logged in


@pytest.mark.django_db
def test_slack_endpoints_take_signed_posts_without_a_csrf_token(fake_slack):
    client = Client(enforce_csrf_checks=True)
    bodies = {
        "/slack/commands": (urlencode(command_fields("help", user_id=ALICE)), "application/x-www-form-urlencoded"),
        "/slack/interactions": (urlencode({"payload": json.dumps({"type": "view_closed", "user": {"id": ALICE},
                                                                  "view": {"id": "V1"}})}),
                                "application/x-www-form-urlencoded"),
        "/slack/events": (json.dumps({"type": "url_verification", "challenge": "c"}), "application/json"),
    }
    for path, (body, content_type) in bodies.items():
        assert post_signed(client, path, body, content_type=content_type).status_code == 200, path


def all_views():
    """(route, view) for every URL pattern of the project."""

    def walk(patterns, prefix=""):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns, prefix + str(pattern.pattern))
            elif isinstance(pattern, URLPattern):
                yield prefix + str(pattern.pattern), pattern.callback

    return list(walk(get_resolver().url_patterns))


def test_only_the_slack_endpoints_are_csrf_exempt():
    exempt = {route for route, view in all_views() if getattr(view, "csrf_exempt", False)}
    assert exempt == {"slack/commands", "slack/interactions", "slack/events"}


# --- Secrets never reach the logs -----------------------------------------------------------


def configured_console_handler() -> logging.Handler:
    """The handler settings.LOGGING puts on the root logger: the one with the redaction filter."""
    handlers = [h for h in logging.getLogger().handlers if any(isinstance(f, RedactSecretsFilter) for f in h.filters)]
    assert len(handlers) == 1, logging.getLogger().handlers
    return handlers[0]


class RawRecords(logging.Handler):
    """Records as our code made them, before any filter: attached to our own loggers, which
    handle a record before it propagates to the root logger's (redacting) console handler."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.texts: list[str] = []

    def emit(self, record):
        text = record.getMessage()
        if record.exc_info:
            text += "\n" + logging.Formatter().formatException(record.exc_info)
        self.texts.append(text)


OUR_LOGGERS = ("slackbot", "approvals", "timeoff_site", "django")
NOISY_LOGGERS = ("slack_sdk", "urllib3", "urllib", "django.tasks", "django.request")


@pytest.fixture
def captured_logs(caplog, settings):
    """Everything at DEBUG, from every logger (slack_sdk included), three ways: raw from our own
    loggers, as caplog holds it, and as the configured console handler writes it."""
    caplog.set_level(logging.DEBUG)
    for name in NOISY_LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    console = configured_console_handler()
    written = io.StringIO()
    previous_stream = console.setStream(written)
    raw = RawRecords()
    for name in OUR_LOGGERS:
        logging.getLogger(name).addHandler(raw)
    yield {"caplog": caplog, "raw": raw, "console": written}
    for name in OUR_LOGGERS:
        logging.getLogger(name).removeHandler(raw)
    console.setStream(previous_stream)


def secrets_in_play() -> list[str]:
    values = [settings.SLACK_BOT_TOKEN, settings.SLACK_SIGNING_SECRET]
    assert all(len(v) >= 8 for v in values)
    return values


def assert_no_secrets(logs):
    caplog = logs["caplog"]
    assert caplog.records, "nothing was logged: the scenario did not run"
    for secret in secrets_in_play():
        assert secret not in caplog.text
        for record in caplog.records:
            assert secret not in record.getMessage()
            assert secret not in (record.exc_text or "")
        # Our own code never puts a secret into a message in the first place...
        for text in logs["raw"].texts:
            assert secret not in text
        # ... and whatever anyone logs (slack_sdk's debug lines included) is redacted on the way out.
        assert secret not in logs["console"].getvalue()
        console = configured_console_handler()
        for record in caplog.records:
            record = copy.copy(record)
            if console.filter(record):
                assert secret not in console.format(record)


@pytest.mark.django_db
def test_no_secret_is_logged_when_a_delivery_meets_invalid_auth(client, fake_slack, captured_logs):
    install_config()
    fake_slack.fail("chat.postMessage", "invalid_auth", times=None)  # the post, and the DM that reports it
    request_time_off(client, fake_slack, ALICE)
    assert [c.response["error"] for c in fake_slack.calls("chat.postMessage")][:1] == ["invalid_auth"]
    assert_no_secrets(captured_logs)


@pytest.mark.django_db
def test_no_secret_is_logged_when_slack_answers_500(client, fake_slack, no_backoff, captured_logs):
    install_config()
    fake_slack.server_error("chat.postMessage", status=500, times=5)  # beyond the client's own 3 retries
    request_time_off(client, fake_slack, ALICE)
    assert [c.status for c in fake_slack.calls("chat.postMessage")][:5] == [500] * 5
    assert len([m for m in fake_slack.workspace.messages(C_ENG_APPROVALS) if m.metadata]) == 1  # the task's retry
    assert_no_secrets(captured_logs)


@pytest.mark.django_db
def test_no_secret_is_logged_for_a_badly_signed_request(client, fake_slack, captured_logs):
    body = urlencode(command_fields("", user_id=ALICE))
    headers = signature_headers(body.encode(), secret="not-" + settings.SLACK_SIGNING_SECRET)
    response = client.post("/slack/commands", data=body, content_type="application/x-www-form-urlencoded",
                           headers=headers)
    assert response.status_code == 401
    assert settings.SLACK_SIGNING_SECRET not in response.content.decode()
    assert_no_secrets(captured_logs)


@pytest.mark.django_db
def test_no_secret_is_logged_when_views_open_fails(client, fake_slack, captured_logs):
    install_config()
    fake_slack.fail("views.open", "invalid_auth")
    response = post_command(client, "", user_id=ALICE)
    assert "access to Slack is not working (invalid_auth)" in response.json()["text"]
    assert_no_secrets(captured_logs)


def test_the_redaction_filter_catches_a_token_that_someone_logs(captured_logs):
    """The console handler's filter is what keeps a careless debug line from leaking."""
    headers = {"Authorization": f"Bearer {settings.SLACK_BOT_TOKEN}"}
    logging.getLogger("slack_sdk.web.base_client").debug("headers=%s", headers)
    try:
        raise RuntimeError(f"signing secret was {settings.SLACK_SIGNING_SECRET}")
    except RuntimeError:
        logging.getLogger("somebody.else").exception("failed with xoxb-another-token-123")
    written = captured_logs["console"].getvalue()
    assert "headers=" in written and "failed with" in written
    for secret in (*secrets_in_play(), "xoxb-another-token-123"):
        assert secret not in written
    assert "[redacted]" in written


def test_settings_keep_slack_sdk_out_of_debug_logging():
    """slack_sdk logs request details at DEBUG; production must not, even with LOG_LEVEL=DEBUG."""
    probe = ("import django, logging; django.setup(); "
             "print(logging.getLogger('slack_sdk.web.base_client').isEnabledFor(logging.DEBUG), "
             "logging.getLogger('slackbot').isEnabledFor(logging.DEBUG))")
    result = subprocess.run([sys.executable, "-c", probe], cwd=BASE_DIR, env=production_environment(LOG_LEVEL="DEBUG"),
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "True"]  # our own debug lines, but not slack_sdk's
    # The filter sits on the root handler, so it applies to every logger, not only to ours.
    assert settings.LOGGING["handlers"]["console"]["filters"] == ["redact_secrets"]
    assert settings.LOGGING["root"]["handlers"] == ["console"]
