"""Socket Mode serves the very same handlers as the HTTP endpoints."""

import io
import json
import logging
import os
import queue
import signal
import threading
import time

import pytest
from django.core.management import call_command
from slack_sdk.errors import SlackClientNotConnectedError
from slack_sdk.socket_mode.client import BaseSocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse

from approvals import block_ids as ids
from slackbot.socket_mode import answer, listener, serve_until_stopped
from test_support.flows import ALICE, install_config, posted_requests, request_values
from test_support.slack_requests import command_fields, event_envelope, shortcut_payload, view_submission_payload

pytestmark = pytest.mark.django_db


def test_a_slash_command_opens_the_modal_and_acks_empty(fake_slack):
    install_config()
    response = answer(SocketModeRequest("slash_commands", "env-1", command_fields("", user_id=ALICE)))
    assert response.envelope_id == "env-1"
    assert response.payload is None
    assert fake_slack.last_call("views.open").params["view"]["callback_id"] == ids.REQUEST_MODAL


def test_the_request_shortcut_opens_the_modal_too(fake_slack):
    install_config()
    payload = shortcut_payload(user_id=ALICE, callback_id=ids.REQUEST_SHORTCUT)
    response = answer(SocketModeRequest("interactive", "env-s", payload))
    assert response.envelope_id == "env-s" and response.payload is None
    opened = fake_slack.last_call("views.open")
    assert opened.params["trigger_id"] == payload["trigger_id"]
    assert opened.params["view"]["callback_id"] == ids.REQUEST_MODAL


def test_help_comes_back_in_the_acknowledgement(fake_slack):
    response = answer(SocketModeRequest("slash_commands", "env-2", command_fields("help", user_id=ALICE)))
    assert response.payload["response_type"] == "ephemeral"


def test_a_submission_is_delivered_and_errors_come_back_in_the_ack(fake_slack):
    install_config()
    answer(SocketModeRequest("slash_commands", "env-3", command_fields("", user_id=ALICE)))
    view = fake_slack.last_call("views.open").params["view"]
    from datetime import date

    bad = view_submission_payload(user_id=ALICE, view=view, values=request_values(
        "vacation", date(2031, 3, 12), date(2031, 3, 10)))
    response = answer(SocketModeRequest("interactive", "env-4", bad))
    assert response.payload["response_action"] == "errors"

    good = view_submission_payload(user_id=ALICE, view=view, view_id="V_OK", values=request_values(
        "vacation", date(2031, 3, 10), date(2031, 3, 12)))
    assert answer(SocketModeRequest("interactive", "env-5", good)).payload is None
    assert len(posted_requests(fake_slack)) == 1


def test_events_answer_and_retries_are_deduplicated(fake_slack):
    envelope = event_envelope({"type": "app_home_opened", "user": ALICE, "tab": "home"}, event_id="Ev_SOCK")
    assert answer(SocketModeRequest("events_api", "env-6", envelope)).envelope_id == "env-6"
    assert answer(SocketModeRequest("events_api", "env-7", envelope, retry_attempt=1)).envelope_id == "env-7"


def test_a_retry_while_the_first_delivery_is_still_handled_is_not_acknowledged(fake_slack):
    # Unacknowledged, as a 5xx over HTTP: Slack sends it again later.
    from slackbot import events

    assert events.first_delivery("Ev_BUSY")  # the first delivery, still at work
    envelope = event_envelope({"type": "app_home_opened", "user": ALICE, "tab": "home"}, event_id="Ev_BUSY")
    assert answer(SocketModeRequest("events_api", "env-12", envelope, retry_attempt=1)) is None


def test_malformed_envelopes_are_acknowledged_not_raised(fake_slack):
    for request in (
        SocketModeRequest("slash_commands", "env-8", {"text": "no user"}),
        SocketModeRequest("interactive", "env-9", {"type": "block_actions"}),
        SocketModeRequest("events_api", "env-10", {"no": "type"}),
        SocketModeRequest("hello", "env-11", {}),
    ):
        assert answer(request).envelope_id == request.envelope_id


def test_the_listener_sends_the_acknowledgement(fake_slack, monkeypatch):
    # The listener closes stale connections around each envelope (it runs on slack-sdk's threads);
    # here that would close the test's own transaction.
    monkeypatch.setattr("slackbot.socket_mode.close_old_connections", lambda: None)
    sent = []

    class Client:
        def send_socket_mode_response(self, response):
            sent.append(response)

    listener(Client(), SocketModeRequest("slash_commands", "env-12", command_fields("help", user_id=ALICE)))
    assert sent[0].envelope_id == "env-12"
    assert json.loads(json.dumps(sent[0].payload))["response_type"] == "ephemeral"


class Runner(BaseSocketModeClient):
    """slack-sdk's own dispatch of a received envelope (`run_message_listeners`: what its WebSocket
    clients run for each message), with our listener and the acknowledgements recorded instead of sent.
    `connected=False`: the WebSocket dropped while the envelope was handled, so the ack cannot go."""

    def __init__(self):
        self.logger = logging.getLogger("slack_sdk.socket_mode")
        self.message_listeners, self.socket_mode_request_listeners = [], [listener]
        self.acknowledged, self.connected = [], True

    def send_socket_mode_response(self, response):
        if not self.connected:
            raise SlackClientNotConnectedError("the connection was replaced")
        self.acknowledged.append(response.envelope_id)

    def receive(self, envelope: dict, envelope_id: str, retry_attempt: int = 0, reason: str = "") -> None:
        message = {"type": "events_api", "envelope_id": envelope_id, "payload": envelope,
                   "accepts_response_payload": False, "retry_attempt": retry_attempt, "retry_reason": reason}
        self.run_message_listeners(message, json.dumps(message))


def test_an_event_whose_acknowledgement_was_lost_to_a_reconnect_has_one_effect(fake_slack, monkeypatch):
    # Handled, then the WebSocket drops before the ack goes: Slack sends it again on the new connection
    # (retry_attempt 1, "timeout"), and the event id says it was handled.
    monkeypatch.setattr("slackbot.socket_mode.close_old_connections", lambda: None)
    install_config()
    envelope = event_envelope({"type": "app_home_opened", "user": ALICE, "tab": "home"}, event_id="Ev_LOST_ACK")
    runner = Runner()
    runner.connected = False
    runner.receive(envelope, "env-a")  # the runner goes on: slack-sdk logs the failed send
    runner.connected = True
    runner.receive(envelope, "env-b", retry_attempt=1, reason="timeout")
    assert runner.acknowledged == ["env-b"]
    assert len(fake_slack.calls("views.publish")) == 1


def test_a_handler_that_fails_is_not_acknowledged_and_slacks_retry_is_handled(fake_slack, monkeypatch):
    # As a 500 over HTTP: no ack, so Slack sends the event again (an empty ack would lose it), and the
    # runner serves the next envelope.
    from slackbot import routing

    monkeypatch.setattr("slackbot.socket_mode.close_old_connections", lambda: None)
    install_config()
    handler, failures = routing.EVENT_ROUTES["app_home_opened"], []

    def fails_once(event, envelope):
        if not failures:
            failures.append(1)
            raise ConnectionError("the cache restarting")
        return handler(event, envelope)

    monkeypatch.setitem(routing.EVENT_ROUTES, "app_home_opened", fails_once)
    envelope = event_envelope({"type": "app_home_opened", "user": ALICE, "tab": "home"}, event_id="Ev_FAILS")
    runner = Runner()
    runner.receive(envelope, "env-c")
    assert runner.acknowledged == [] and fake_slack.calls("views.publish") == []
    runner.receive(envelope, "env-d", retry_attempt=1, reason="http_error")
    assert runner.acknowledged == ["env-d"]
    assert len(fake_slack.calls("views.publish")) == 1


# --- Stopping (SIGTERM, Ctrl-C) without dropping what is in hand ----------------------------------


class StoppableClient:
    """What serve_until_stopped uses of slack-sdk's SocketModeClient, recording the order of events."""

    def __init__(self):
        self.events, self.message_queue = [], queue.Queue()

    def connect(self):
        self.events.append("connect")

    def close(self):
        self.events.append("close")

    def send_socket_mode_response(self, response):
        self.events.append(f"ack {response.envelope_id}")


@pytest.fixture
def slow_answer(monkeypatch):
    """Envelopes answered only once `release` is set (a handler still calling Slack, say)."""
    monkeypatch.setattr("slackbot.socket_mode.close_old_connections", lambda: None)
    release = threading.Event()

    def answer(request):
        release.wait(10)
        return SocketModeResponse(envelope_id=request.envelope_id)

    monkeypatch.setattr("slackbot.socket_mode.answer", answer)
    return release


def in_thread(target, *args, **kwargs) -> threading.Thread:
    thread = threading.Thread(target=target, args=args, kwargs=kwargs, daemon=True)
    thread.start()
    return thread


def test_a_stop_waits_for_the_envelope_in_hand_and_sends_its_ack_before_closing(slow_answer):
    client, stopped = StoppableClient(), threading.Event()
    handling = in_thread(listener, client, SocketModeRequest("slash_commands", "env-slow", {}))
    serving = in_thread(serve_until_stopped, client, stopped, wait=5)
    stopped.set()
    time.sleep(0.4)
    assert client.events == ["connect"]  # still connected: the ack needs the WebSocket
    slow_answer.set()
    handling.join(5), serving.join(5)
    assert client.events == ["connect", "ack env-slow", "close"]


def test_an_envelope_received_but_not_yet_handled_holds_the_stop_too(slow_answer):
    slow_answer.set()
    client, stopped = StoppableClient(), threading.Event()
    client.message_queue.put('{"type": "slash_commands"}')
    stopped.set()
    serving = in_thread(serve_until_stopped, client, stopped, wait=5)
    time.sleep(0.3)
    assert client.events == ["connect"]
    client.message_queue.get()  # slack-sdk's thread takes it and hands it to a listener
    listener(client, SocketModeRequest("slash_commands", "env-queued", {}))
    serving.join(5)
    assert client.events == ["connect", "ack env-queued", "close"]


def test_a_stop_gives_up_after_its_wait_and_says_what_was_left(slow_answer, caplog):
    client, stopped = StoppableClient(), threading.Event()
    handling = in_thread(listener, client, SocketModeRequest("slash_commands", "env-stuck", {}))
    time.sleep(0.05)
    stopped.set()
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="slackbot.socket_mode"):
        assert serve_until_stopped(client, stopped, wait=0.3) is False
    assert time.monotonic() - started < 2
    assert client.events == ["connect", "close"]
    assert "unanswered in_hand=1" in caplog.text
    slow_answer.set()
    handling.join(5)


def test_the_command_stops_on_sigterm_and_gives_the_signal_back(monkeypatch, settings):
    settings.SLACK_APP_TOKEN = "xapp-1-A-test"
    made = []

    class Client(StoppableClient):
        def __init__(self, **kwargs):
            super().__init__()
            self.socket_mode_request_listeners = []
            self.on_message_listeners = []
            made.append(self)

        def connect(self):
            super().connect()
            threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGTERM)).start()

    monkeypatch.setattr("slackbot.management.commands.slack_socket_mode.SocketModeClient", Client)
    before = signal.getsignal(signal.SIGTERM)
    out = io.StringIO()
    call_command("slack_socket_mode", stdout=out)
    assert made[0].events == ["connect", "close"]
    assert made[0].socket_mode_request_listeners == [listener]
    assert signal.getsignal(signal.SIGTERM) is before
    assert "Stopped." in out.getvalue()
