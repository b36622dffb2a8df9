"""The two WebClients: quick in the request, patient in the background."""

import time

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.response import HttpResponse as RetryHttpResponse
from slack_sdk.http_retry.state import RetryState

from approvals import task_queue
from approvals.slack_clients import ShortRateLimitRetryHandler, background_client, in_request_client


def test_the_in_request_client_gives_up_quickly_and_never_sleeps_on_429(fake_slack):
    client = in_request_client()
    assert client.timeout <= 2
    fake_slack.rate_limit("views.open", retry_after=30)
    started = time.monotonic()
    with pytest.raises(SlackApiError) as raised:
        client.views_open(trigger_id="123.456.abc", view={"type": "modal", "title": {"type": "plain_text",
                          "text": "x"}, "blocks": []})
    assert raised.value.response.status_code == 429
    assert time.monotonic() - started < 1


def test_the_in_request_client_times_out_inside_slacks_deadline(fake_slack):
    fake_slack.delay("views.open", 2.5)
    started = time.monotonic()
    with pytest.raises(Exception):
        in_request_client().views_open(trigger_id="123.456.abc", view={"type": "modal", "title": {
            "type": "plain_text", "text": "x"}, "blocks": []})
    assert time.monotonic() - started < 2.5


def test_the_background_client_honours_retry_after(fake_slack):
    fake_slack.rate_limit("chat.postMessage", retry_after=1)
    started = time.monotonic()
    response = background_client().chat_postMessage(channel="C_GENERAL", text="hello")
    assert response["ok"] is True
    assert time.monotonic() - started >= 1
    assert [call.status for call in fake_slack.calls("chat.postMessage")] == [429, 200]


def test_the_background_client_leaves_a_long_retry_after_to_the_tasks_next_attempt(fake_slack):
    # Waiting a minute inside the call would hold a worker's thread; the task's retry waits instead.
    fake_slack.rate_limit("chat.postMessage", retry_after=60)
    started = time.monotonic()
    with pytest.raises(SlackApiError) as raised:
        background_client().chat_postMessage(channel="C_GENERAL", text="hello")
    assert raised.value.response.status_code == 429
    assert task_queue.retry_after_seconds(raised.value) == 60
    assert time.monotonic() - started < 1
    assert [call.status for call in fake_slack.calls("chat.postMessage")] == [429]


def test_a_retry_after_that_is_not_whole_seconds_is_raised_not_crashed_on():
    # slack_sdk's own handler would raise ValueError on int("1.5"): the call's error must stay Slack's 429.
    handler = ShortRateLimitRetryHandler()
    answer = RetryHttpResponse(status_code=429, headers={"Retry-After": ["1.5"]})
    assert handler.can_retry(state=RetryState(), request=None, response=answer) is False
    answer = RetryHttpResponse(status_code=429, headers={"retry-after": ["3"]})
    assert handler.can_retry(state=RetryState(), request=None, response=answer) is True
    answer = RetryHttpResponse(status_code=429, headers={})
    assert handler.can_retry(state=RetryState(), request=None, response=answer) is True  # about a second


def test_the_background_client_retries_server_errors(fake_slack):
    fake_slack.server_error("chat.postMessage", status=503, times=2)
    assert background_client().chat_postMessage(channel="C_GENERAL", text="hello")["ok"] is True
    assert [call.status for call in fake_slack.calls("chat.postMessage")] == [503, 503, 200]


def test_the_in_request_client_keeps_its_connection_between_calls(fake_slack):
    # Against the real Slack each new connection is a TCP and a TLS handshake inside Slack's 3 s.
    client = in_request_client()
    client.auth_test()
    before = fake_slack.connections

    for _ in range(3):
        assert client.auth_test()["ok"] is True

    assert fake_slack.connections == before


def test_the_in_request_client_reconnects_once_slack_has_closed_its_idle_connection(fake_slack):
    client = in_request_client()
    client.auth_test()
    fake_slack.close_connections()  # Slack's edge closes connections that sat idle
    time.sleep(0.05)
    fake_slack.clear_calls()

    assert client.auth_test()["ok"] is True
    assert len(fake_slack.calls("auth.test")) == 1  # sent once, on a new connection


def test_the_in_request_client_reports_an_unreachable_slack_as_an_os_error(settings):
    settings.SLACK_API_URL = "http://127.0.0.1:9/api/"  # nothing listens there
    with pytest.raises(OSError):
        in_request_client().auth_test()


def test_the_background_client_still_opens_a_connection_per_call(fake_slack):
    # It retries after errors; a call on a fresh connection is never confused with one Slack dropped.
    before = fake_slack.connections
    for _ in range(2):
        background_client().auth_test()
    assert fake_slack.connections == before + 2


def test_after_a_timeout_the_next_call_gets_its_own_answer_not_the_late_one(fake_slack):
    # The connection of a call that timed out is dropped: the late answer must never be read as the
    # answer to the next call on a reused connection.
    client = in_request_client()
    fake_slack.delay("users.info", 2.0, times=1)
    with pytest.raises(OSError):
        client.users_info(user="U_NOBODY")

    answer = client.auth_test()

    assert answer["ok"] is True and answer["user_id"] == fake_slack.workspace.bot_user_id


def test_a_connection_idle_for_long_is_not_reused(fake_slack, monkeypatch):
    # Something on the way may have dropped it without a word; nothing is retried inside Slack's 3 s.
    from approvals import slack_clients

    client = in_request_client()
    client.auth_test()
    monkeypatch.setattr(slack_clients, "MAX_IDLE_SECONDS", 0)
    before = fake_slack.connections

    time.sleep(0.01)
    assert client.auth_test()["ok"] is True

    assert fake_slack.connections == before + 1


def test_the_in_request_clients_timeout_bounds_the_whole_call_not_each_step(fake_slack):
    # urllib3 times a connect and each read on their own: 1.5 s to connect and 1.5 s more to answer
    # would pass Slack's 3 s. One total bound covers both.
    timeout = in_request_client()._pool.connection_pool_kw["timeout"]
    assert timeout.total == in_request_client().timeout <= 2
