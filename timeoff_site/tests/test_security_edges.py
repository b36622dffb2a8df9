"""Security at the edges, beyond test_security and test_request_verification: odd signature headers,
bodies and lengths, replays, other methods and content types; /metrics' bearer and what /metrics and
/readyz may show; Slack-provided names on console pages (never markup), redirects that stay on the
site, framing and CSP; the demo never on against the real Slack; no signing secret, nothing accepted."""

import hashlib
import hmac
import json
import subprocess
import sys
import time
from dataclasses import replace
from urllib.parse import urlencode

import pytest
from django.conf import settings
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from approvals import block_ids as ids
from approvals.config_types import ApproverSource, MemberSource
from approvals.models import Team
from approvals.slack_clients import background_client
from approvals.slack_directory import directory_refresh
from demo.tests.demo_stack import demo_environment, free_port
from fake_slack.personas import ALICE, BOB
from test_support import flows
from test_support.flows import install_config, posted_requests, request_time_off
from test_support.slack_requests import (block_actions_payload, command_fields, post_signed, signature_headers,
                                         view_submission_payload)
from timeoff_site import metrics_view

pytestmark = pytest.mark.django_db

ENDPOINTS = ["/slack/commands", "/slack/interactions", "/slack/events"]
HELP_BODY = urlencode(command_fields("help", user_id=ALICE))
HOSTILE = "<img src=x onerror=alert(1)>"


# --- Signature and transport ------------------------------------------------------------------


@pytest.mark.parametrize("path", ENDPOINTS)
def test_two_signature_headers_joined_by_the_server_are_refused(client, path):
    good = signature_headers(HELP_BODY.encode())
    # A WSGI server joins repeated headers with ","; Django sees one value.
    response = client.post(path, data=HELP_BODY, content_type="application/x-www-form-urlencoded",
                           HTTP_X_SLACK_REQUEST_TIMESTAMP=good["X-Slack-Request-Timestamp"],
                           HTTP_X_SLACK_SIGNATURE=good["X-Slack-Signature"] + "," + good["X-Slack-Signature"])
    assert response.status_code == 401
    response = client.post(path, data=HELP_BODY, content_type="application/x-www-form-urlencoded",
                           HTTP_X_SLACK_REQUEST_TIMESTAMP=good["X-Slack-Request-Timestamp"] + ","
                           + good["X-Slack-Request-Timestamp"],
                           HTTP_X_SLACK_SIGNATURE=good["X-Slack-Signature"])
    assert response.status_code == 401


@pytest.mark.parametrize("path", ENDPOINTS)
def test_a_signed_body_with_a_bom_is_never_a_500(client, fake_slack, path):
    for body in ["\ufeff" + HELP_BODY, "\ufeff" + json.dumps({"type": "url_verification", "challenge": "c"})]:
        response = post_signed(client, path, body.encode("utf-8"))
        assert response.status_code < 500


@pytest.mark.parametrize("path", ENDPOINTS)
def test_other_content_types_are_never_a_500(client, fake_slack, path):
    for body, ctype in [(json.dumps({"command": "/timeoff", "user_id": ALICE, "team_id": "T"}), "application/json"),
                        (HELP_BODY, "text/plain"), ("<x/>", "application/xml"),
                        ("", "multipart/form-data; boundary=x")]:
        response = post_signed(client, path, body, content_type=ctype)
        assert response.status_code < 500, (body, ctype, response.status_code)


@pytest.mark.parametrize("method", ["get", "head", "put", "patch", "delete", "options"])
@pytest.mark.parametrize("path", ENDPOINTS)
def test_other_methods_are_405(client, path, method):
    assert getattr(client, method)(path).status_code == 405


@pytest.mark.parametrize("path", ENDPOINTS)
def test_a_content_length_that_says_less_than_the_body_is_not_accepted(client, fake_slack, path):
    headers = signature_headers(HELP_BODY.encode())
    response = client.post(path, data=HELP_BODY, content_type="application/x-www-form-urlencoded",
                           headers=headers, CONTENT_LENGTH="10")
    assert response.status_code == 401  # only the first 10 bytes are read: the signature does not match


@pytest.mark.parametrize("path", ENDPOINTS)
def test_a_body_without_a_content_length_as_with_chunked_is_not_accepted(client, fake_slack, path):
    # gunicorn gives a chunked body no CONTENT_LENGTH: Django then reads nothing, and the signature fails.
    headers = signature_headers(HELP_BODY.encode())
    response = client.post(path, data=HELP_BODY, content_type="application/x-www-form-urlencoded",
                           headers=headers, CONTENT_LENGTH="")
    assert response.status_code == 401


@pytest.mark.parametrize("declared", ["-1", "abc", "1e9", " 5", "99999999999999999999"])
def test_a_malformed_content_length_is_refused(client, declared):
    response = client.post("/slack/commands", data=HELP_BODY, content_type="application/x-www-form-urlencoded",
                           headers=signature_headers(HELP_BODY.encode()), CONTENT_LENGTH=declared)
    assert response.status_code == 413


@pytest.mark.parametrize("declared", ["²", "¹⁰"])
def test_a_content_length_of_superscript_digits_is_a_4xx_not_a_500(declared):
    # str.isdigit() is true of superscripts, which int() refuses.
    client = Client(raise_request_exception=False)
    response = client.post("/slack/commands", data=HELP_BODY, content_type="application/x-www-form-urlencoded",
                           headers=signature_headers(HELP_BODY.encode()), CONTENT_LENGTH=declared)
    assert 400 <= response.status_code < 500


def test_a_replayed_view_submission_sends_one_request(client, fake_slack):
    install_config()
    view = flows.open_request_form(client, fake_slack, ALICE)
    payload = view_submission_payload(user_id=ALICE, view=view, view_id="V_REPLAY", view_hash="h_replay",
                                      values=flows.request_values("vacation", flows.MONDAY, flows.WEDNESDAY))
    body = urlencode({"payload": json.dumps(payload)}).encode()
    headers = signature_headers(body)
    for _ in range(3):  # the very same signed request, replayed inside the 5-minute window
        response = client.post("/slack/interactions", data=body, content_type="application/x-www-form-urlencoded",
                               headers=headers)
        assert response.status_code == 200
    assert len(posted_requests(fake_slack)) == 1


def test_a_replayed_approve_click_decides_once(client, fake_slack):

    install_config()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    buttons = [b for b in posted.params["blocks"] if b.get("type") == "actions"][0]["elements"]
    value = next(b["value"] for b in buttons if b["action_id"] == ids.APPROVE_ACTION)
    payload = block_actions_payload(user_id=BOB, action_id=ids.APPROVE_ACTION, value=value,
                                    channel_id=posted.response["channel"], message_ts=posted.response["ts"],
                                    block_id=ids.DECISION_BLOCK)
    body = urlencode({"payload": json.dumps(payload)}).encode()
    headers = signature_headers(body)
    before = len(fake_slack.calls("chat.postMessage"))
    client.post("/slack/interactions", data=body, content_type="application/x-www-form-urlencoded", headers=headers)
    after_first = len(fake_slack.calls("chat.postMessage"))
    updates_first = len(flows.channel_updates(fake_slack))
    client.post("/slack/interactions", data=body, content_type="application/x-www-form-urlencoded", headers=headers)
    assert after_first > before
    assert len(fake_slack.calls("chat.postMessage")) == after_first  # no second DM / thread reply
    assert len(flows.channel_updates(fake_slack)) == updates_first


# --- /metrics -----------------------------------------------------------------------------------

TOKEN = "metrics-token-0123456789abcdef"


@pytest.mark.parametrize("header, status", [
    (f"Bearer {TOKEN}", 200), (f"bearer {TOKEN}", 200), (f"BEARER {TOKEN}", 200), (f"Bearer  {TOKEN} ", 200),
    ("", 401), ("Bearer", 401), ("Bearer ", 401), (f"Basic {TOKEN}", 401), (f"Bearer {TOKEN}x", 401),
    (f"Bearer {TOKEN[:-1]}", 401), (f"Bearer{TOKEN}", 401), ("Bearer \u00e9", 401), (f"Token {TOKEN}", 401),
])
def test_metrics_bearer_variants(client, settings, header, status):
    settings.METRICS_TOKEN = TOKEN
    response = client.get("/metrics", HTTP_AUTHORIZATION=header) if header else client.get("/metrics")
    assert response.status_code == status


def test_metrics_compares_in_constant_time(client, settings, monkeypatch):

    calls = []
    real = hmac.compare_digest
    monkeypatch.setattr(metrics_view.hmac, "compare_digest", lambda a, b: calls.append((a, b)) or real(a, b))
    settings.METRICS_TOKEN = TOKEN
    client.get("/metrics", HTTP_AUTHORIZATION="Bearer nope")
    assert calls


def test_metrics_with_an_empty_token_is_closed_in_production(client, settings):
    settings.METRICS_TOKEN = ""
    settings.DEBUG = False
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 404


def test_metrics_and_readyz_hold_no_secret(client, fake_slack, settings):
    settings.METRICS_TOKEN = TOKEN
    install_config()
    request_time_off(client, fake_slack, ALICE)
    fake_slack.fail("chat.postMessage", "invalid_auth")
    text = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").content.decode()
    text += client.get("/readyz").content.decode()
    for secret in (settings.SLACK_BOT_TOKEN, settings.SLACK_SIGNING_SECRET, settings.SECRET_KEY, TOKEN):
        assert secret not in text


def test_readyz_names_only_the_error_type_when_the_cache_error_quotes_its_url(client, monkeypatch):

    def boom(*args, **kwargs):
        raise ConnectionError("Error connecting to redis://:hunter2-cache-password@redis:6379/0")

    monkeypatch.setattr(cache, "set", boom)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert "hunter2" not in response.content.decode()


# --- Console: Slack-provided names are escaped everywhere ------------------------------------------


@pytest.fixture
def hostile_workspace(fake_slack):

    fake_slack.workspace.users[ALICE].real_name = HOSTILE
    fake_slack.add_user("U_EVIL", "<script>alert(2)</script>", email="evil@example.com",
                        real_name='"><svg onload=alert(3)>')
    fake_slack.add_channel("C_EVIL", "<b>chan</b>", members=[ALICE])
    fake_slack.add_usergroup("S_EVIL", "<i>grp</i>", [ALICE])
    directory_refresh(background_client())
    return fake_slack


@pytest.fixture
def staff(client, django_user_model):
    user = django_user_model.objects.create_user("hr", "hr@example.com", "a-long-test-password",
                                                 is_staff=True, is_superuser=True)
    client.force_login(user)
    return client


RAW_MARKUP = ("<img src=x", "<script>alert(2)", "<svg onload", "<b>chan</b>", "<i>grp</i>")


def test_slack_names_are_escaped_on_console_pages(staff, hostile_workspace):

    install_config()
    request_time_off(staff, hostile_workspace, ALICE)
    team = Team.objects.first()
    pages = [reverse("console:home"), reverse("console:team_edit", args=[team.pk]), reverse("console:policy"),
             reverse("console:whos_out"), reverse("console:balances"), reverse("console:setup"),
             reverse("console:history"), reverse("console:adjust") + "?user=" + ALICE,
             reverse("console:adjust") + "?" + urlencode({"user": '"><b>chan</b>'}), reverse("console:record_leave"),
             reverse("console:ledger_export")]
    pages += [reverse("console:search") + "?" + urlencode({"q": q}) for q in ("alice", "evil", "chan", "grp", "<")]
    shown = set()
    for page in pages:
        response = staff.get(page)
        assert response.status_code == 200, page
        html = response.content.decode()
        for raw in RAW_MARKUP:
            assert raw not in html, (page, raw)
        if "&lt;img src=x onerror=alert(1)&gt;" in html or "&lt;b&gt;chan" in html or "&lt;i&gt;grp" in html:
            shown.add(page.split("?")[0])
    print("ESCAPED NAMES SHOWN ON", sorted(shown))
    assert reverse("console:search") in shown  # the names did reach the pages (positive control)


def test_slack_names_in_a_teams_sources_are_escaped(staff, hostile_workspace):


    team = replace(flows.ENGINEERING, members=MemberSource(channel="C_EVIL", usergroup="S_EVIL", users=("U_EVIL",)),
                   approvers=ApproverSource(users=("U_EVIL", ALICE), channel="C_EVIL"), announce_channel="C_EVIL")
    install_config(flows.standard_config(teams=(team,), fallback_approvers=("U_EVIL",), requesters_channel="C_EVIL"))
    shown = set()
    for page in [reverse("console:home"), reverse("console:team_edit", args=[Team.objects.first().pk]),
                 reverse("console:policy"), reverse("console:setup"), reverse("console:config_file"),
                 reverse("console:whos_out"), reverse("console:history")]:
        response = staff.get(page)
        assert response.status_code == 200, page
        html = response.content.decode()
        for raw in RAW_MARKUP:
            assert raw not in html, (page, raw)
        if "&lt;b&gt;chan" in html or "&lt;i&gt;grp" in html or "svg onload" in html:
            shown.add(page)
    print("ESCAPED SOURCES SHOWN ON", sorted(shown))
    assert reverse("console:home") in shown


def test_suggestions_are_json_and_not_sniffable(staff, hostile_workspace):
    for q in ("a", "evil", "chan", "grp"):
        response = staff.get(reverse("console:suggest"), {"q": q})
        assert response["Content-Type"].startswith("application/json")
        assert response["X-Content-Type-Options"] == "nosniff"


def test_the_setup_page_escapes_the_url_it_is_given(staff, fake_slack):
    response = staff.get(reverse("console:setup"), {"url": '"><script>alert(1)</script>'})
    assert "<script>alert(1)" not in response.content.decode()
    response = staff.get(reverse("console:setup"), {"url": "javascript:alert(1)//"})
    assert 'href="javascript:' not in response.content.decode()


def test_no_console_page_shows_a_secret(staff, fake_slack, settings):
    install_config()
    settings.METRICS_TOKEN = TOKEN
    fake_slack.workspace.revoke_token(error="invalid_auth")
    for name in ("home", "setup", "policy", "whos_out", "balances", "history", "config_file", "ledger_export"):
        html = staff.get(reverse(f"console:{name}")).content.decode()
        for secret in (settings.SLACK_BOT_TOKEN, settings.SLACK_SIGNING_SECRET, settings.SECRET_KEY, TOKEN):
            assert secret not in html, name


# --- Redirects, framing, CSP ------------------------------------------------------------------


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/", "/\\evil.example",
                                    "https:evil.example", "\\\\evil.example"])
def test_login_next_does_not_redirect_off_site(client, django_user_model, target):
    django_user_model.objects.create_user("hr2", password="a-long-test-password", is_staff=True)
    response = client.post(reverse("admin:login") + "?" + urlencode({"next": target}),
                           {"username": "hr2", "password": "a-long-test-password", "next": target})
    assert response.status_code == 302
    assert "evil.example" not in response["Location"]


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/"])
def test_logout_next_does_not_redirect_off_site(staff, target):
    response = staff.post(reverse("admin:logout") + "?" + urlencode({"next": target}), {"next": target})
    assert "evil.example" not in response.get("Location", "")


def test_console_and_admin_pages_are_not_framable_and_have_csp(staff, fake_slack):
    install_config()
    for page in [reverse("console:home"), reverse("console:setup"), reverse("console:search"),
                 reverse("console:suggest"), reverse("console:whos_out"), reverse("admin:index"),
                 reverse("admin:approvals_team_changelist"), reverse("console:config_download")]:
        response = staff.get(page)
        assert response.status_code == 200, page
        assert response["X-Frame-Options"] == "DENY", page
        assert "frame-ancestors 'none'" in response.get("Content-Security-Policy", ""), page


def test_the_root_redirect_is_not_open(client):
    response = client.get("/?next=https://evil.example/")
    assert "evil.example" not in response.get("Location", "")


# --- Demo ---------------------------------------------------------------------------------------

DEMO_STATE = """
import json, django
django.setup()
from django.conf import settings
from django.urls import Resolver404, resolve
try:
    resolve("/demo/")
    routed = True
except Resolver404:
    routed = False
print(json.dumps({"demo": settings.DEMO, "routed": routed}))
"""


def test_the_demo_is_off_when_slack_api_url_points_at_real_slack():

    env = demo_environment(free_port(), SLACK_API_URL="https://slack.com/api/")
    result = subprocess.run([sys.executable, "-c", DEMO_STATE], cwd=settings.BASE_DIR, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    state = json.loads(result.stdout.strip().splitlines()[-1])
    assert state == {"demo": False, "routed": False}


# --- A deployment without a signing secret ---------------------------------------------------


@pytest.mark.parametrize("path", ENDPOINTS)
def test_with_no_signing_secret_configured_nothing_is_accepted(client, fake_slack, settings, path):
    # Anyone can compute an HMAC with an empty key: without a secret, every request must be refused.

    settings.SLACK_SIGNING_SECRET = ""
    timestamp = int(time.time())
    digest = hmac.new(b"", b"v0:%d:" % timestamp + HELP_BODY.encode(), hashlib.sha256).hexdigest()
    client.raise_request_exception = False
    response = client.post(path, data=HELP_BODY, content_type="application/x-www-form-urlencoded",
                           headers={"X-Slack-Request-Timestamp": str(timestamp), "X-Slack-Signature": f"v0={digest}"})
    assert response.status_code == 401
