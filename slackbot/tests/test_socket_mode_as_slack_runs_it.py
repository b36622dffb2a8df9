"""`manage.py slack_socket_mode` against a Slack Socket Mode service run as Slack runs it.

A local server plays Slack's side: `apps.connections.open` (authenticated with the app-level token)
hands out a WebSocket URL; each connection is greeted with `hello`, then carries envelopes
(`slash_commands`, `interactive`, `events_api`, `disconnect`) and receives the app's acknowledgements,
`{"envelope_id": …, "payload": …}`, which Slack waits 3 s for. The command runs in a thread with its
own SocketModeClient, its own listener and the fake Slack Web API behind the handlers; what comes back
over the WebSocket is compared with what the HTTP endpoints answer for the same input.
"""

import base64
import copy
import hashlib
import io
import json
import logging
import signal
import socket
import struct
import threading
import time
import uuid
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError, SystemCheckError

from approvals import block_ids as ids
from test_support.flows import ALICE, BOB, DAVE, install_config, posted_requests, request_values
from test_support.slack_requests import (
    block_actions_payload,
    command_fields,
    event_envelope,
    post_command,
    post_event,
    post_interaction,
    view_submission_payload,
)

pytestmark = pytest.mark.django_db(transaction=True)  # the listener's threads have database connections of their own

APP_TOKEN = "xapp-1-A0TIMEOFF-4471928374-9f0c1e2d3b4a59687766554433221100aabbccddeeff"
WEBSOCKET_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
SLACK_ACK_SECONDS = 3.0  # Slack's wait for an acknowledgement, after which the person sees an error


# --- Slack's side of Socket Mode ----------------------------------------------------------------------


class WebSocketPeer:
    """One WebSocket connection, Slack's end: unmasked frames out, masked frames in."""

    def __init__(self, service: "SocketModeService", sock: socket.socket, reader):
        self.service, self.sock, self.reader = service, sock, reader
        self.send_lock = threading.Lock()
        self.open = True

    def send_text(self, text: str) -> None:
        data = text.encode("utf-8")
        self._send_frame(0x1, data)

    def send_json(self, value: dict) -> None:
        self.send_text(json.dumps(value, ensure_ascii=False))  # Slack's JSON: UTF-8, not \u escapes

    def close(self, code: int = 1000) -> None:
        try:
            self._send_frame(0x8, struct.pack("!H", code))
        except OSError:
            pass
        self.open = False

    def _send_frame(self, opcode: int, data: bytes) -> None:
        head = bytes([0x80 | opcode])
        if len(data) < 126:
            head += bytes([len(data)])
        elif len(data) < 65536:
            head += bytes([126]) + struct.pack("!H", len(data))
        else:
            head += bytes([127]) + struct.pack("!Q", len(data))
        with self.send_lock:
            self.sock.sendall(head + data)

    def _read_exact(self, n: int) -> bytes:
        data = self.reader.read(n)
        if data is None or len(data) < n:
            raise EOFError
        return data

    def serve(self) -> None:
        try:
            while self.open:
                first, second = self._read_exact(2)
                opcode, length = first & 0x0F, second & 0x7F
                if length == 126:
                    (length,) = struct.unpack("!H", self._read_exact(2))
                elif length == 127:
                    (length,) = struct.unpack("!Q", self._read_exact(8))
                mask = self._read_exact(4) if second & 0x80 else b"\0\0\0\0"
                data = bytes(b ^ mask[i % 4] for i, b in enumerate(self._read_exact(length)))
                if opcode == 0x9:  # ping: pong with the same data, as any WebSocket server
                    self._send_frame(0xA, data)
                elif opcode == 0x1:
                    self.service.received(self, data.decode("utf-8"))
                elif opcode == 0x8:
                    break
        except (EOFError, OSError, ValueError):
            pass
        finally:
            self.open = False


class SocketModeService:
    """apps.connections.open and the WebSocket it hands out, on one local port."""

    def __init__(self, app_token: str = APP_TOKEN):
        self.app_token = app_token
        self.lock = threading.Condition()
        self.peers: list[WebSocketPeer] = []
        self.opens: list[str] = []  # the token of each apps.connections.open
        self.tickets: list[str] = []
        self.acks: dict[str, dict] = {}  # envelope_id -> the acknowledgement as sent
        self.ack_seconds: dict[str, float] = {}  # envelope_id -> seconds after it was sent
        self.sent_at: dict[str, float] = {}
        self.other_messages: list[str] = []
        service = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                auth = self.headers.get("Authorization") or ""
                token = auth[len("Bearer "):] if auth.startswith("Bearer ") else ""
                if self.path.rstrip("/").endswith("/apps.connections.open"):
                    answer = service.connections_open(token)
                else:
                    answer = {"ok": False, "error": "unknown_method"}
                body = json.dumps(answer).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                key = self.headers.get("Sec-WebSocket-Key")
                ticket = self.path.partition("ticket=")[2].partition("&")[0]
                if not key or ticket not in service.tickets:
                    self.send_error(401)
                    return
                accept = base64.b64encode(hashlib.sha1((key + WEBSOCKET_GUID).encode()).digest()).decode()
                self.wfile.write(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                                  f"Connection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n").encode())
                self.wfile.flush()
                peer = WebSocketPeer(service, self.connection, self.rfile)
                with service.lock:
                    service.peers.append(peer)
                    service.lock.notify_all()
                peer.send_json({"type": "hello", "num_connections": len([p for p in service.peers if p.open]),
                                "debug_info": {"host": "applink-local", "approximate_connection_time": 18060},
                                "connection_info": {"app_id": "A0TIMEOFF"}})
                peer.serve()
                self.close_connection = True

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/api/"

    def start(self) -> "SocketModeService":
        self.thread.start()
        return self

    def stop(self) -> None:
        for peer in list(self.peers):
            peer.close()
        self.server.shutdown()
        self.server.server_close()

    def connections_open(self, token: str) -> dict:
        with self.lock:
            self.opens.append(token)
        if not token:
            return {"ok": False, "error": "not_authed"}
        if not token.startswith("xapp-"):
            return {"ok": False, "error": "not_allowed_token_type"}
        if token != self.app_token:
            return {"ok": False, "error": "invalid_auth"}
        ticket = uuid.uuid4().hex
        with self.lock:
            self.tickets.append(ticket)
        port = self.server.server_address[1]
        return {"ok": True, "url": f"ws://127.0.0.1:{port}/link/?ticket={ticket}&app_id=A0TIMEOFF"}

    def received(self, peer: WebSocketPeer, text: str) -> None:
        now = time.monotonic()
        try:
            message = json.loads(text)
        except ValueError:
            message = None
        with self.lock:
            if isinstance(message, dict) and isinstance(message.get("envelope_id"), str):
                envelope_id = message["envelope_id"]
                self.acks.setdefault(envelope_id, message)
                self.ack_seconds.setdefault(envelope_id, now - self.sent_at.get(envelope_id, now))
            else:
                self.other_messages.append(text)
            self.lock.notify_all()

    # What a test does, as Slack.

    def wait_connected(self, connections: int = 1, timeout: float = 10) -> WebSocketPeer:
        with self.lock:
            assert self.lock.wait_for(lambda: len(self.peers) >= connections, timeout), "the app never connected"
            return self.peers[-1]

    def send(self, message: dict | str, peer: WebSocketPeer | None = None) -> None:
        peer = peer or self.wait_connected()
        if isinstance(message, dict) and "envelope_id" in message:
            with self.lock:
                self.sent_at[message["envelope_id"]] = time.monotonic()
        if isinstance(message, str):
            peer.send_text(message)
        else:
            peer.send_json(message)

    def deliver(self, kind: str, payload: dict, *, retry_attempt: int = 0, retry_reason: str = "",
                peer: WebSocketPeer | None = None) -> str:
        """One envelope as Slack sends it; its envelope_id."""
        envelope_id = str(uuid.uuid4())
        message = {"envelope_id": envelope_id, "type": kind, "payload": payload,
                   "accepts_response_payload": kind != "events_api"}
        if kind == "events_api":
            message.update(retry_attempt=retry_attempt, retry_reason=retry_reason)
        self.send(message, peer)
        return envelope_id

    def wait_ack(self, envelope_id: str, timeout: float = 6.0) -> dict | None:
        with self.lock:
            self.lock.wait_for(lambda: envelope_id in self.acks, timeout)
            return self.acks.get(envelope_id)

    def ask(self, kind: str, payload: dict, **kwargs) -> dict:
        """Deliver an envelope and return its acknowledgement, failing as Slack does without one in 3 s."""
        envelope_id = self.deliver(kind, payload, **kwargs)
        ack = self.wait_ack(envelope_id)
        assert ack is not None, f"{kind} envelope never acknowledged"
        assert self.ack_seconds[envelope_id] < SLACK_ACK_SECONDS, (
            f"{kind} acknowledged after {self.ack_seconds[envelope_id]:.2f} s: Slack had given up at 3 s")
        return ack


@pytest.fixture
def slack_socket_mode():
    service = SocketModeService().start()
    yield service
    service.stop()


def connect_at(service: SocketModeService, monkeypatch) -> None:
    """The command's own web client, but asking `service` for the WebSocket URL (a copy: the real one is
    shared with the tasks, which talk to the fake Slack Web API)."""
    from slackbot.management.commands import slack_socket_mode as command_module

    real_background_client = command_module.background_client

    def background_client_at_the_service():
        client = copy.copy(real_background_client())
        client.base_url = service.api_url
        return client

    monkeypatch.setattr(command_module, "background_client", background_client_at_the_service)


@pytest.fixture
def run_command(slack_socket_mode, fake_slack, settings, monkeypatch):
    """Start `manage.py slack_socket_mode` in a thread, as run from a shell: the settings' app token, the
    command's own SocketModeClient and listener. SIGTERM is what stops it (the command's own handler,
    captured here: signals are the main thread's). Returns a function that starts it."""
    settings.SLACK_APP_TOKEN = APP_TOKEN
    connect_at(slack_socket_mode, monkeypatch)
    handlers = {}
    real_signal = signal.signal

    def record_signal(signum, handler):
        if threading.current_thread() is threading.main_thread():
            return real_signal(signum, handler)
        previous = handlers.get(signum, signal.SIG_DFL)
        handlers[signum] = handler
        return previous

    monkeypatch.setattr(signal, "signal", record_signal)
    runs = []

    def start():
        out, errors = io.StringIO(), []

        def run():
            try:
                call_command("slack_socket_mode", stdout=out)
            except BaseException as exc:  # noqa: BLE001 - reported to the test
                errors.append(exc)

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        runs.append((thread, out, errors))
        return thread, out, errors

    def sigterm():
        """What a process manager does on a deploy: SIGTERM, handled by the command's own handler."""
        deadline = time.monotonic() + 5
        while signal.SIGTERM not in handlers and time.monotonic() < deadline:
            time.sleep(0.05)
        handlers[signal.SIGTERM](signal.SIGTERM, None)

    start.sigterm = sigterm
    yield start
    for thread, _, _ in runs:
        if thread.is_alive():
            sigterm()
        thread.join(15)
        assert not thread.is_alive(), "the command did not stop on SIGTERM"


@pytest.fixture
def socket_mode(slack_socket_mode, run_command):
    """The command serving, connected; the service to talk to it through."""
    install_config()
    run_command()
    slack_socket_mode.wait_connected()
    return slack_socket_mode


# --- What the HTTP endpoints answer, for comparison ----------------------------------------------------


def http_answer(response) -> dict | None:
    assert response.status_code == 200, response.content
    return json.loads(response.content) if response.content else None


def ack_payload(ack: dict) -> dict | None:
    return ack.get("payload") or None


# --- Acknowledgements and parity with HTTP ---------------------------------------------------------------


def test_a_slash_command_is_acknowledged_with_the_same_answer_as_over_http(socket_mode, client):
    fields = command_fields("help", user_id=ALICE)
    ack = socket_mode.ask("slash_commands", fields)
    assert ack_payload(ack) == http_answer(post_command(client, "help", user_id=ALICE))
    assert ack_payload(ack)["response_type"] == "ephemeral"


def test_hello_is_not_answered_and_the_connection_is_opened_with_the_app_token(socket_mode):
    ack = socket_mode.ask("slash_commands", command_fields("help", user_id=ALICE))
    assert ack["envelope_id"] and set(ack) <= {"envelope_id", "payload"}
    assert socket_mode.opens == [APP_TOKEN]
    assert socket_mode.other_messages == []  # nothing but acknowledgements: hello wants no answer


def open_form_over_socket_mode(service, fake_slack, user=ALICE) -> dict:
    ack = service.ask("slash_commands", command_fields("", user_id=user))
    assert ack_payload(ack) is None  # the modal is the answer
    return fake_slack.last_call("views.open").params["view"]


def test_a_submission_refused_comes_back_in_the_ack_exactly_as_over_http(socket_mode, fake_slack, client):
    view = open_form_over_socket_mode(socket_mode, fake_slack)
    backwards = request_values("vacation", date(2031, 3, 12), date(2031, 3, 10))
    over_socket = ack_payload(socket_mode.ask("interactive", view_submission_payload(
        user_id=ALICE, view=view, values=backwards, view_id="V_SOCK")))
    over_http = http_answer(post_interaction(client, view_submission_payload(
        user_id=ALICE, view=view, values=backwards, view_id="V_HTTP")))
    assert over_socket["response_action"] == "errors"
    assert over_socket == over_http
    assert posted_requests(fake_slack) == []


def test_a_request_sent_and_approved_over_socket_mode_is_posted_and_decided_once(socket_mode, fake_slack):
    view = open_form_over_socket_mode(socket_mode, fake_slack)
    ack = socket_mode.ask("interactive", view_submission_payload(
        user_id=ALICE, view=view, values=request_values("vacation", date(2031, 3, 10), date(2031, 3, 12))))
    assert ack_payload(ack) is None  # the modal closes
    [posted] = posted_requests(fake_slack)
    buttons = [b for b in posted.params["blocks"] if b.get("type") == "actions"][0]["elements"]
    value = next(b["value"] for b in buttons if b["action_id"] == ids.APPROVE_ACTION)
    click = block_actions_payload(user_id=BOB, action_id=ids.APPROVE_ACTION, value=value,
                                  channel_id=posted.response["channel"], message_ts=posted.response["ts"],
                                  block_id=ids.DECISION_BLOCK)
    assert ack_payload(socket_mode.ask("interactive", click)) is None
    again = dict(click, user={**click["user"], "id": DAVE}, trigger_id=click["trigger_id"] + "2")
    assert ack_payload(socket_mode.ask("interactive", again)) is None  # a second approver, a moment later
    updates = [c for c in fake_slack.calls("chat.update") if c.params.get("channel") == posted.response["channel"]]
    statuses = [json.loads(c.params["metadata"])["event_payload"]["status"] if isinstance(c.params["metadata"], str)
                else c.params["metadata"]["event_payload"]["status"] for c in updates if c.params.get("metadata")]
    assert statuses == ["approved"]


def test_a_preview_change_over_socket_mode_updates_the_modal_as_over_http(socket_mode, fake_slack, client):
    view = open_form_over_socket_mode(socket_mode, fake_slack)
    values = request_values("vacation", date(2031, 3, 10), date(2031, 3, 13))

    def change(view_id):
        payload = block_actions_payload(user_id=ALICE, action_id=ids.END_ACTION, value="", block_id=ids.END_BLOCK)
        payload.pop("message"), payload.pop("channel")
        payload["container"] = {"type": "view", "view_id": view_id}
        payload["view"] = {**view, "id": view_id, "hash": "h-" + view_id, "state": {"values": values}}
        payload["actions"][0].update(type="datepicker", selected_date="2031-03-13")
        payload["actions"][0].pop("value")
        return payload

    assert ack_payload(socket_mode.ask("interactive", change("V_SOCK"))) is None
    over_socket = fake_slack.last_call("views.update").params
    assert http_answer(post_interaction(client, change("V_HTTP"))) is None
    over_http = fake_slack.last_call("views.update").params
    assert over_socket["view_id"] == "V_SOCK" and over_http["view_id"] == "V_HTTP"
    assert over_socket["view"] == over_http["view"]


def test_app_home_opened_sent_again_after_a_lost_ack_publishes_home_once(socket_mode, fake_slack):
    envelope = event_envelope({"type": "app_home_opened", "user": ALICE, "tab": "home", "channel": "D_HOME",
                               "event_ts": "1766000000.000300"}, event_id="Ev_SOCKET_HOME")
    first = socket_mode.ask("events_api", envelope)
    again = socket_mode.ask("events_api", envelope, retry_attempt=1, retry_reason="timeout")
    assert ack_payload(first) is None and ack_payload(again) is None
    assert len([c for c in fake_slack.calls("views.publish") if c.params["user_id"] == ALICE]) == 1


def test_an_event_first_seen_over_http_is_not_handled_again_over_socket_mode(socket_mode, fake_slack, client):
    # Switching an app from HTTP to Socket Mode (or back) while Slack still retries an event.
    envelope = event_envelope({"type": "app_home_opened", "user": ALICE, "tab": "home", "channel": "D_HOME",
                               "event_ts": "1766000000.000300"}, event_id="Ev_BOTH_WAYS")
    assert post_event(client, envelope).status_code == 200
    socket_mode.ask("events_api", envelope, retry_attempt=1, retry_reason="timeout")
    assert len([c for c in fake_slack.calls("views.publish") if c.params["user_id"] == ALICE]) == 1


# --- Disconnects and reconnection --------------------------------------------------------------------------


@pytest.mark.parametrize("reason", ["refresh_requested", "warning"])
def test_a_disconnect_message_opens_a_new_connection_which_serves(socket_mode, reason):
    old = socket_mode.wait_connected()
    socket_mode.send({"type": "disconnect", "reason": reason,
                      "debug_info": {"host": "applink-local"}}, old)
    new = socket_mode.wait_connected(connections=2)
    assert new is not old and socket_mode.opens == [APP_TOKEN, APP_TOKEN]
    old.close()  # Slack closes the old one once the new one is up
    ack = socket_mode.ask("slash_commands", command_fields("help", user_id=ALICE), peer=new)
    assert ack_payload(ack)["response_type"] == "ephemeral"


def test_socket_mode_turned_off_in_the_apps_settings_stops_the_command_saying_so(slack_socket_mode, run_command):
    # Slack's `link_disabled`: every new connection would be refused the same way; reconnecting for ever
    # would look like a running app that serves nothing.
    install_config()
    thread, out, errors = run_command()
    peer = slack_socket_mode.wait_connected()
    slack_socket_mode.send({"type": "disconnect", "reason": "link_disabled",
                            "debug_info": {"host": "applink-local"}}, peer)
    thread.join(15)
    assert not thread.is_alive()
    [error] = errors
    assert isinstance(error, CommandError) and "link_disabled" in str(error), error
    assert "turn it on again under Socket Mode" in str(error)


def test_a_connection_slack_closes_is_reopened_and_serves(socket_mode):
    old = socket_mode.wait_connected()
    old.close(1001)  # "going away": a Slack server restarting
    new = socket_mode.wait_connected(connections=2)
    ack = socket_mode.ask("slash_commands", command_fields("help", user_id=ALICE), peer=new)
    assert ack_payload(ack)["response_type"] == "ephemeral"


# --- What does not kill the runner ----------------------------------------------------------------------


def test_malformed_messages_leave_the_runner_serving(socket_mode, caplog):
    with caplog.at_level(logging.WARNING):
        socket_mode.send("this is not JSON")
        socket_mode.send("{not json either")
        socket_mode.send(json.dumps(["a", "list"]))
        socket_mode.send({"envelope_id": "env-no-payload", "type": "slash_commands"})
        unknown = socket_mode.deliver("a_type_from_the_future", {"anything": 1})
        no_user = socket_mode.deliver("slash_commands", {"command": "/timeoff", "text": "help"})
        ack = socket_mode.ask("slash_commands", command_fields("help", user_id=ALICE))
    assert ack_payload(ack)["response_type"] == "ephemeral"
    assert socket_mode.wait_ack(unknown) == {"envelope_id": unknown}  # acknowledged: nothing to do
    assert socket_mode.wait_ack(no_user) == {"envelope_id": no_user}  # refused, but not sent again forever


def test_a_command_whose_handler_raises_is_logged_and_the_next_one_is_served(socket_mode, monkeypatch, caplog):
    from slackbot import routing

    def broken(command):
        raise RuntimeError("the handler broke")

    monkeypatch.setitem(routing.COMMAND_ROUTES, "balance", broken)
    with caplog.at_level(logging.ERROR):
        socket_mode.deliver("slash_commands", command_fields("balance", user_id=ALICE))
        ack = socket_mode.ask("slash_commands", command_fields("help", user_id=ALICE))
    assert ack_payload(ack)["response_type"] == "ephemeral"
    deadline = time.monotonic() + 5
    while "the handler broke" not in caplog.text and time.monotonic() < deadline:
        time.sleep(0.05)  # logged on the listener's own thread
    assert "the handler broke" in caplog.text


# --- A slow Slack ---------------------------------------------------------------------------------------


def test_a_slow_views_open_still_acknowledges_in_time_and_says_what_http_says(socket_mode, fake_slack, client):
    fake_slack.delay("views.open", 2.5)
    over_socket = ack_payload(socket_mode.ask("slash_commands", command_fields("", user_id=ALICE)))
    over_http = http_answer(post_command(client, "", user_id=ALICE))
    assert over_socket == over_http
    assert over_socket["response_type"] == "ephemeral" and "slow" in over_socket["text"]


def test_a_burst_of_commands_while_slack_is_slow_is_acknowledged_in_time(socket_mode, fake_slack):
    # A dozen people type /timeoff within the same second while Slack's views.open is slow: each handler
    # holds its thread for the in-request client's timeout (1.5 s) and answers "Slack was slow". Over HTTP
    # gunicorn serves 16 at once by default (WEB_CONCURRENCY x WEB_THREADS, both settings); the Socket Mode
    # runner serves SOCKET_MODE_THREADS (32; slack-sdk's own default of 10 would make the 11th and 12th wait
    # for a free thread and be acknowledged after Slack has given up on them).
    fake_slack.delay("views.open", 2.5)
    people = 12
    sent = [socket_mode.deliver("slash_commands", command_fields("", user_id=ALICE)) for _ in range(people)]
    acks = [socket_mode.wait_ack(envelope_id) for envelope_id in sent]
    assert all(acks)
    late = sorted(round(socket_mode.ack_seconds[e], 2) for e in sent if socket_mode.ack_seconds[e] >= SLACK_ACK_SECONDS)
    assert late == []


# --- The app-level token ----------------------------------------------------------------------------------


def test_the_command_refuses_to_start_without_an_app_token(settings):
    settings.SLACK_APP_TOKEN = ""
    with pytest.raises(CommandError, match="SLACK_APP_TOKEN is not set"):
        call_command("slack_socket_mode")


def test_a_bot_token_in_place_of_the_app_token_stops_the_command_before_it_connects(settings, monkeypatch):
    # Run from a shell, the command runs the system checks first (call_command skips them unless asked).
    from slackbot.management.commands import slack_socket_mode as command_module

    settings.SLACK_APP_TOKEN = "xoxb-1234-5678-abcdefabcdef"
    made = []
    monkeypatch.setattr(command_module, "SocketModeClient", lambda **kwargs: made.append(kwargs))
    with pytest.raises(SystemCheckError) as refused:
        call_command("slack_socket_mode", skip_checks=False)
    assert "SLACK_APP_TOKEN is malformed" in str(refused.value) and "xapp-" in str(refused.value)
    assert "xoxb-1234-5678-abcdefabcdef" not in str(refused.value)
    assert made == []


def test_an_app_token_slack_refuses_stops_the_command_with_a_clear_error(slack_socket_mode, fake_slack, settings,
                                                                         monkeypatch):
    # A revoked or mistyped xapp- token: Slack answers apps.connections.open with invalid_auth. The command
    # should say which setting is wrong, as it does for a missing one, not end in slack-sdk's traceback.
    settings.SLACK_APP_TOKEN = "xapp-1-A0TIMEOFF-4471928374-revokedrevokedrevoked"
    connect_at(slack_socket_mode, monkeypatch)
    with pytest.raises(CommandError) as refused:
        call_command("slack_socket_mode", stdout=io.StringIO())
    assert "SLACK_APP_TOKEN" in str(refused.value) and "invalid_auth" in str(refused.value)
    assert settings.SLACK_APP_TOKEN not in str(refused.value)


# --- Secrets in the log -----------------------------------------------------------------------------------


def test_a_socket_mode_session_logs_neither_token_nor_the_websocket_ticket(slack_socket_mode, run_command,
                                                                           fake_slack, settings):
    """What the production log handler writes (its formatter and redaction filter) with LOG_LEVEL=DEBUG, over a
    session: connect, a command, a refresh, a broken envelope, stop."""
    from timeoff_site.log_format import JsonFormatter
    from timeoff_site.log_redaction import RedactSecretsFilter

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RedactSecretsFilter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        install_config()
        thread, _, _ = run_command()
        old = slack_socket_mode.wait_connected()
        slack_socket_mode.ask("slash_commands", command_fields("help", user_id=ALICE))
        slack_socket_mode.send({"type": "disconnect", "reason": "refresh_requested"}, old)
        new = slack_socket_mode.wait_connected(connections=2)
        old.close()
        slack_socket_mode.send("{broken", new)
        slack_socket_mode.ask("slash_commands", command_fields("help", user_id=ALICE), peer=new)
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
    written = stream.getvalue()
    assert written  # something was logged
    assert APP_TOKEN not in written and settings.SLACK_BOT_TOKEN not in written
    for ticket in slack_socket_mode.tickets:
        assert ticket not in written


# --- Stopping ---------------------------------------------------------------------------------------------


def test_sigterm_while_a_command_is_handled_still_sends_its_ack_then_stops(slack_socket_mode, run_command, fake_slack):
    install_config()
    thread, out, errors = run_command()
    slack_socket_mode.wait_connected()
    fake_slack.delay("views.open", 0.8)  # answered, but not at once
    envelope_id = slack_socket_mode.deliver("slash_commands", command_fields("", user_id=ALICE))
    time.sleep(0.2)  # in hand
    run_command.sigterm()
    ack = slack_socket_mode.wait_ack(envelope_id)
    thread.join(15)
    assert ack is not None and ack_payload(ack) is None
    assert fake_slack.last_call("views.open") is not None
    assert not thread.is_alive() and errors == [] and "Stopped." in out.getvalue()


# --- Observability ----------------------------------------------------------------------------------------


def test_each_envelope_handled_is_logged_with_what_it_was_as_an_http_request_is(socket_mode, client, caplog):
    # DESIGN §9: one log line per request, with a request id, and latency by Slack action. Over HTTP the
    # middleware writes it (slack_kind, slack_name, status, duration); an operator running Socket Mode
    # should be able to tell which envelopes were handled, how long they took and whether they were acked.
    with caplog.at_level(logging.INFO):
        post_command(client, "help", user_id=ALICE)
        over_http = [r for r in caplog.records if getattr(r, "slack_kind", None) == "command"]
        caplog.clear()
        envelope_id = socket_mode.deliver("slash_commands", command_fields("help", user_id=ALICE))
        assert socket_mode.wait_ack(envelope_id) is not None

        def envelope_lines():
            return [r for r in caplog.records if not r.name.startswith("slack_sdk") and (
                getattr(r, "slack_kind", None) == "command" or envelope_id in r.getMessage())]

        deadline = time.monotonic() + 2
        while not envelope_lines() and time.monotonic() < deadline:
            time.sleep(0.05)
    assert len(over_http) == 1 and hasattr(over_http[0], "duration_ms")
    assert envelope_lines(), "nothing in the log says this envelope was handled"


def test_a_click_on_a_large_app_home_arrives_whole_and_the_runner_keeps_serving(socket_mode, fake_slack):
    # A click on App Home carries the whole Home view (up to 100 blocks of up to 3,000 characters): with
    # Japanese names and notes, 900 KB, which slack-sdk's built-in client reads 1 KB at a time (one
    # recursion level per read: past about 990 KB it fails with RecursionError and the envelope is lost).
    home_blocks = [{"type": "section", "block_id": f"b{i}",
                    "text": {"type": "mrkdwn", "text": "休暇" * 1500}} for i in range(100)]
    payload = block_actions_payload(user_id=ALICE, action_id=ids.NEW_REQUEST_ACTION, value="new",
                                    block_id="home_actions")
    payload.pop("message"), payload.pop("channel")
    payload["container"] = {"type": "view", "view_id": "V_HOME"}
    payload["view"] = {"id": "V_HOME", "type": "home", "blocks": home_blocks, "hash": "h", "state": {"values": {}}}
    assert len(json.dumps(payload, ensure_ascii=False).encode()) > 900_000
    ack = socket_mode.ask("interactive", payload)
    assert ack_payload(ack) is None
    assert fake_slack.last_call("views.open").params["trigger_id"] == payload["trigger_id"]
    after = socket_mode.ask("slash_commands", command_fields("help", user_id=ALICE))
    assert ack_payload(after)["response_type"] == "ephemeral"
