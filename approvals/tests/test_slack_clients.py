"""The two WebClients: quick in the request, patient in the background."""

import time

import pytest
from slack_sdk.errors import SlackApiError

from approvals.slack_clients import background_client, in_request_client


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


def test_the_background_client_retries_server_errors(fake_slack):
    fake_slack.server_error("chat.postMessage", status=503, times=2)
    assert background_client().chat_postMessage(channel="C_GENERAL", text="hello")["ok"] is True
    assert [call.status for call in fake_slack.calls("chat.postMessage")] == [503, 503, 200]
