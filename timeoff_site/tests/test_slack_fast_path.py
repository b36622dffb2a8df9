"""Slack's endpoints skip the browser's middleware (timeoff_site/slack_fast_path.py).

What they skip (sessions, CSP, frame options) leaves no trace on their answers;
what they keep (the request id, metrics and log line, the HTTPS redirect,
Django's error answers) still works; the console keeps all of it.
"""

import json
import logging

import pytest
from django.http import HttpResponse
from django.test import RequestFactory
from django.urls import path

from test_support.slack_requests import event_envelope, post_event, post_signed
from timeoff_site.slack_fast_path import SlackFastPathMiddleware

pytestmark = pytest.mark.django_db

APP_HOME = {"type": "app_home_opened", "user": "U_ALICE", "tab": "messages"}


def test_a_slack_request_skips_the_browser_middleware_and_keeps_the_observation(client, fake_slack, caplog):
    caplog.set_level(logging.INFO, logger="timeoff_site.requests")
    response = post_event(client, event_envelope(APP_HOME, event_id="Ev_FAST"))
    assert response.status_code == 200
    # Observation and security stay: a request id, and one log line naming the endpoint.
    assert response["X-Request-ID"]
    assert [r.endpoint for r in caplog.records if getattr(r, "event", "") == "http_request"] == ["slack/events"]
    assert response["X-Content-Type-Options"] == "nosniff"  # SecurityMiddleware ran
    assert response["Content-Length"] == str(len(response.content))  # not a chunked answer
    # The browser's layers did not: no session, no CSP, no frame options, no cookie.
    assert "Content-Security-Policy" not in response.headers
    assert "X-Frame-Options" not in response.headers
    assert "Vary" not in response.headers
    assert not response.cookies


def test_the_console_still_gets_every_layer(client):
    response = client.get("/console/")  # redirected to the sign-in page
    page = client.get(response["Location"])
    assert page.status_code == 200
    assert "Content-Security-Policy" in page.headers
    assert page["X-Frame-Options"] == "DENY"


def test_an_unknown_slack_path_is_a_404(client):
    response = post_signed(client, "/slack/nothing-here", b"payload=%7B%7D")
    assert response.status_code == 404


def test_a_host_outside_allowed_hosts_is_a_400(client):
    body = json.dumps(event_envelope(APP_HOME, event_id="Ev_HOST"))
    response = post_signed(client, "/slack/events", body, content_type="application/json",
                           headers={"Host": "evil.example"})
    assert response.status_code == 400


def test_the_https_redirect_still_applies_to_slack_requests(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    response = post_event(client, event_envelope(APP_HOME, event_id="Ev_HTTP"))
    assert response.status_code == 301
    assert response["Location"].startswith("https://")


# --- Django's error answers, on a URLconf of views that fail ---------------------------------


def raises(request):
    raise RuntimeError("boom")


def returns_nothing(request):
    return None


def answers(request, name):
    return HttpResponse(f"hello {name}")


urlpatterns = [
    path("slack/raises", raises),
    path("slack/nothing", returns_nothing),
    path("slack/hello/<str:name>", answers),
]


def through_the_fast_path(url: str):
    request = RequestFactory().post(url)
    request.urlconf = __name__

    def rest_of_the_chain(request):
        raise AssertionError("a Slack path must not reach the browser middleware")

    return SlackFastPathMiddleware(rest_of_the_chain)(request)


def test_a_view_that_raises_is_a_logged_500_not_a_crash(caplog):
    caplog.set_level(logging.ERROR, logger="django.request")
    response = through_the_fast_path("/slack/raises")
    assert response.status_code == 500
    assert any(record.exc_info and "boom" in str(record.exc_info[1]) for record in caplog.records)


def test_a_view_that_returns_nothing_is_a_500():
    assert through_the_fast_path("/slack/nothing").status_code == 500


def test_the_view_gets_its_url_arguments_and_the_match():
    response = through_the_fast_path("/slack/hello/alice")
    assert response.content == b"hello alice"
    assert response["Content-Length"] == "11"


def test_other_paths_go_down_the_whole_chain():
    request = RequestFactory().get("/console/")
    assert SlackFastPathMiddleware(lambda request: HttpResponse("chain"))(request).content == b"chain"
