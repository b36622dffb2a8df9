"""Socket Mode serves the very same handlers as the HTTP endpoints (README, "Connect a Slack workspace").

Each flow runs twice: once as signed HTTP requests to /slack/commands, /slack/interactions and /slack/events,
once as Socket Mode envelopes shaped as Slack sends them (`envelope_id`, `type`, `payload`,
`accepts_response_payload`, and for events `retry_attempt` and `retry_reason`), handed to the app through
slack-sdk's own message handling (`process_message`, `run_message_listeners`) with the command's listeners.
What is compared: the acknowledgement against the HTTP answer, and what crossed the wire to the fake Slack.
"""

import json
import logging
import queue
import re
import threading
import time
import uuid
from datetime import date
from urllib.parse import urlencode

import pytest
from django.core.cache import cache
from django.test import Client
from slack_sdk.errors import SlackClientNotConnectedError
from slack_sdk.socket_mode.client import BaseSocketModeClient

from approvals import block_ids as ids
from fake_slack.personas import C_ENG_APPROVALS, CAROL, seed
from slackbot.socket_mode import LinkDisabled, listener
from slackbot.tests.test_socket_mode_as_slack_runs_it import (  # noqa: F401 - Slack's Socket Mode service, as fixtures
    run_command,
    slack_socket_mode,
    socket_mode,
)
from test_support.flows import (
    ALICE,
    BOB,
    HR,
    dms_to,
    ephemerals_to,
    install_config,
    posted_requests,
    request_time_off,
    request_values,
)
from test_support.slack_requests import (
    block_actions_payload,
    command_fields,
    event_envelope,
    post_event,
    post_interaction,
    post_signed,
    shortcut_payload,
    view_submission_payload,
)

pytestmark = pytest.mark.django_db

MONDAY, WEDNESDAY = date(2031, 3, 10), date(2031, 3, 12)
SLACK_ACK_SECONDS = 3.0


@pytest.fixture
def listener_keeps_the_test_transaction(monkeypatch):
    # The listener closes stale connections around each envelope (it runs on slack-sdk's threads); here it
    # runs on the test's thread, and that would close the test's own transaction.
    monkeypatch.setattr("slackbot.socket_mode.close_old_connections", lambda: None)


# --- Slack's side of Socket Mode, as slack-sdk hands it to the app -------------------------------------


class RunInline:
    """slack-sdk's `message_workers` pool, running each message on the caller's thread."""

    def submit(self, work):
        work()


class SocketModeConnection(BaseSocketModeClient):
    """slack-sdk's handling of what arrives on the WebSocket (`_on_message`: the raw-message listeners, then
    `process_message`: a `disconnect` reconnects, anything else goes to `run_message_listeners` and on to
    the request listeners), with the listeners `manage.py slack_socket_mode` registers. The
    acknowledgements are recorded instead of sent; `connected=False`: the WebSocket dropped meanwhile."""

    def __init__(self):
        self.logger = logging.getLogger("slack_sdk.socket_mode")
        self.message_queue = queue.Queue()
        self.message_workers = RunInline()
        self.connect_operation_lock = threading.Lock()
        self.closed = False
        self.stopped = threading.Event()
        self.link_disabled = LinkDisabled(self.stopped)
        self.message_listeners, self.socket_mode_request_listeners = [], [listener]
        self.on_message_listeners = [self.link_disabled]
        self.sent: list[dict] = []
        self.connected = True
        self.reconnects = 0

    def issue_new_wss_url(self) -> str:
        return "wss://wss-primary.slack.com/link/?ticket=test"

    def connect(self) -> None:
        self.reconnects += 1

    def is_connected(self) -> bool:
        return self.connected

    def send_message(self, message: str) -> None:
        if not self.connected:
            raise SlackClientNotConnectedError("the connection was replaced")
        self.sent.append(json.loads(message))

    def receive(self, message: dict | str) -> None:
        raw = message if isinstance(message, str) else json.dumps(message, ensure_ascii=False)
        self.enqueue_message(raw)
        for on_message in self.on_message_listeners:
            on_message(raw)
        self.process_message()

    def acks_of(self, envelope_id: str) -> list[dict]:
        return [sent for sent in self.sent if sent.get("envelope_id") == envelope_id]

    def deliver(self, kind: str, payload: dict, *, retry_attempt: int = 0, retry_reason: str = "") -> str:
        """One envelope as Slack sends it; its envelope_id."""
        envelope_id = str(uuid.uuid4())
        message = {"envelope_id": envelope_id, "type": kind, "payload": payload,
                   "accepts_response_payload": kind != "events_api"}
        if kind == "events_api":
            message.update(retry_attempt=retry_attempt, retry_reason=retry_reason)
        self.receive(message)
        return envelope_id

    def ask(self, kind: str, payload: dict, **retry) -> dict | None:
        """Deliver an envelope and return the payload of its one acknowledgement (None: an empty one)."""
        envelope_id = self.deliver(kind, payload, **retry)
        [ack] = self.acks_of(envelope_id)
        assert set(ack) <= {"envelope_id", "payload"}, ack
        return ack.get("payload")


@pytest.fixture
def socket(listener_keeps_the_test_transaction):
    return SocketModeConnection()


# --- The same input over HTTP --------------------------------------------------------------------------


def http_command(client, fields: dict):
    return post_signed(client, "/slack/commands", urlencode(fields))


def http_body(response) -> dict | None:
    assert response.status_code == 200, (response.status_code, response.content)
    return json.loads(response.content) if response.content else None


def start_over(fake_slack) -> None:
    """A fresh Slack (ledger and all) and an empty shared cache, the configuration kept: the second run of a
    flow starts where the first did."""
    fake_slack.reset()
    seed(fake_slack.workspace)
    cache.clear()


TS = re.compile(r"\b\d{10}(\.\d{3,6})?\b")  # a message ts, or a time in Unix seconds
HEX = re.compile(r"\b[0-9a-f]{16,}\b")
TRIGGER = re.compile(r"\d{10}\.\d+\.[0-9a-f]{32}")
UUID = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b")


def on_the_wire(fake_slack) -> list[tuple]:
    """The calls the app made to Slack, in order, with what differs from one run to the next (timestamps,
    trigger ids, request ids) blanked out; `trigger_id` and view ids stripped, since each run has its own."""
    calls = []
    for call in fake_slack.calls():
        params = {k: v for k, v in call.params.items() if k not in ("trigger_id", "view_id", "hash", "ts")}
        text = json.dumps(params, sort_keys=True, ensure_ascii=False)
        text = HEX.sub("<id>", TS.sub("<ts>", UUID.sub("<uuid>", TRIGGER.sub("<trigger>", text))))
        calls.append((call.method, text))
    return calls


def methods(wire: list[tuple]) -> list[str]:
    return [method for method, _ in wire]


# --- Slash commands -------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", [
    "help", "balance", "list", "who", "cancel", "2026-02-30", "12/21", "for", "vacation sick",
    "no such words at all",
])
def test_a_typed_command_is_answered_over_socket_mode_exactly_as_over_http(text, socket, client, fake_slack):
    install_config()
    over_http = http_body(http_command(client, command_fields(text, user_id=ALICE)))
    wire_http = on_the_wire(fake_slack)
    start_over(fake_slack)
    over_socket = socket.ask("slash_commands", command_fields(text, user_id=ALICE))
    assert over_socket == over_http
    assert on_the_wire(fake_slack) == wire_http


def test_a_prefilled_form_opens_the_same_over_socket_mode_as_over_http(socket, client, fake_slack):
    install_config()
    text = "2031-03-10 to 2031-03-12 vacation"
    assert http_body(http_command(client, command_fields(text, user_id=ALICE))) is None
    over_http = fake_slack.last_call("views.open").params["view"]
    start_over(fake_slack)
    assert socket.ask("slash_commands", command_fields(text, user_id=ALICE)) is None
    over_socket = fake_slack.last_call("views.open").params["view"]
    assert over_socket == over_http
    assert over_socket["callback_id"] == ids.REQUEST_MODAL


def test_before_hr_sets_anything_up_the_command_says_so_the_same_way(socket, client, fake_slack):
    over_http = http_body(http_command(client, command_fields("", user_id=ALICE)))
    over_socket = socket.ask("slash_commands", command_fields("", user_id=ALICE))
    assert over_socket == over_http
    assert "set up" in over_socket["text"]
    assert fake_slack.calls("views.open") == []


# --- Shortcuts, buttons and forms -----------------------------------------------------------------------


@pytest.mark.parametrize("who", [ALICE, CAROL], ids=["an employee", "someone in no team"])
def test_the_shortcut_opens_the_same_window_over_socket_mode_as_over_http(who, socket, client, fake_slack):
    install_config()
    assert http_body(post_interaction(client, shortcut_payload(user_id=who, callback_id=ids.REQUEST_SHORTCUT))) is None
    wire_http = on_the_wire(fake_slack)
    start_over(fake_slack)
    assert socket.ask("interactive", shortcut_payload(user_id=who, callback_id=ids.REQUEST_SHORTCUT)) is None
    assert on_the_wire(fake_slack) == wire_http
    assert "views.open" in methods(wire_http)


def open_form_and_submit(send, fake_slack, values: dict, *, view_id: str):
    """`/timeoff`, then the form sent with `values`; returns the acknowledgement of the submission."""
    assert send("slash_commands", command_fields("", user_id=ALICE)) is None
    view = fake_slack.last_call("views.open").params["view"]
    return send("interactive", view_submission_payload(user_id=ALICE, view=view, values=values, view_id=view_id))


def over_http_sender(client):
    def send(kind: str, payload: dict, **retry):
        if kind == "slash_commands":
            return http_body(http_command(client, payload))
        if kind == "interactive":
            return http_body(post_interaction(client, payload))
        return http_body(post_event(client, payload, retry_num=retry.get("retry_attempt") or None))
    return send


def test_a_form_sent_with_its_dates_backwards_is_kept_open_with_the_same_errors(socket, client, fake_slack):
    install_config()
    backwards = request_values("vacation", WEDNESDAY, MONDAY)
    over_http = open_form_and_submit(over_http_sender(client), fake_slack, backwards, view_id="V_HTTP")
    start_over(fake_slack)
    over_socket = open_form_and_submit(socket.ask, fake_slack, backwards, view_id="V_SOCK")
    assert over_socket["response_action"] == "errors"
    assert over_socket == over_http
    assert posted_requests(fake_slack) == []


def request_and_decide(send, fake_slack, *, view_id: str, decision: str, reason: str = "") -> list:
    """Alice requests Monday to Wednesday; Bob approves or rejects (with `reason`). Returns the
    acknowledgements of each step."""
    acks = [open_form_and_submit(send, fake_slack, request_values("vacation", MONDAY, WEDNESDAY), view_id=view_id)]
    [posted] = posted_requests(fake_slack)
    buttons = [b for b in posted.params["blocks"] if b.get("type") == "actions"][0]["elements"]
    value = next(b["value"] for b in buttons if b["action_id"] == decision)
    click = block_actions_payload(user_id=BOB, action_id=decision, value=value, channel_id=posted.response["channel"],
                                  message_ts=posted.response["ts"], block_id=ids.DECISION_BLOCK)
    acks.append(send("interactive", click))
    if decision == ids.REJECT_ACTION:
        form = fake_slack.last_call("views.open").params["view"]
        values = {ids.REASON_BLOCK: {ids.REASON_ACTION: {"type": "plain_text_input", "value": reason}}}
        acks.append(send("interactive", view_submission_payload(user_id=BOB, view=form, values=values,
                                                                view_id=view_id + "_R")))
    return acks


def test_a_request_sent_and_approved_crosses_the_same_wire_over_socket_mode_as_over_http(socket, client, fake_slack):
    install_config()
    acks_http = request_and_decide(over_http_sender(client), fake_slack, view_id="V_1", decision=ids.APPROVE_ACTION)
    wire_http = on_the_wire(fake_slack)
    start_over(fake_slack)
    acks_socket = request_and_decide(socket.ask, fake_slack, view_id="V_1", decision=ids.APPROVE_ACTION)
    assert acks_socket == acks_http == [None, None]
    assert on_the_wire(fake_slack) == wire_http
    assert "chat.update" in methods(wire_http) and any("approved" in text for _, text in wire_http)


def test_a_rejection_with_its_reason_crosses_the_same_wire_over_socket_mode_as_over_http(socket, client, fake_slack):
    install_config()
    reason = "Release week: please pick the week after"
    acks_http = request_and_decide(over_http_sender(client), fake_slack, view_id="V_2", decision=ids.REJECT_ACTION,
                                   reason=reason)
    wire_http = on_the_wire(fake_slack)
    start_over(fake_slack)
    acks_socket = request_and_decide(socket.ask, fake_slack, view_id="V_2", decision=ids.REJECT_ACTION, reason=reason)
    assert acks_socket == acks_http == [None, None, None]
    assert on_the_wire(fake_slack) == wire_http
    assert any(reason in text for text in dms_to(fake_slack, ALICE))


def test_a_rejection_without_a_reason_keeps_the_form_open_with_the_same_error(socket, client, fake_slack):
    install_config()
    acks_http = request_and_decide(over_http_sender(client), fake_slack, view_id="V_3", decision=ids.REJECT_ACTION,
                                   reason="   ")
    start_over(fake_slack)
    acks_socket = request_and_decide(socket.ask, fake_slack, view_id="V_3", decision=ids.REJECT_ACTION, reason="   ")
    assert acks_socket[-1] == acks_http[-1]
    assert acks_socket[-1]["response_action"] == "errors" and ids.REASON_BLOCK in acks_socket[-1]["errors"]


def test_a_closed_form_and_a_button_from_an_older_release_are_acknowledged_empty_over_both(socket, client, fake_slack):
    install_config()
    closed = {"type": "view_closed", "user": {"id": ALICE}, "team": {"id": "T_ACME"}, "is_cleared": False,
              "view": {"id": "V_GONE", "callback_id": ids.REQUEST_MODAL, "type": "modal"}}
    old_button = block_actions_payload(user_id=ALICE, action_id="an_action_we_no_longer_have", value="x")
    for payload in (closed, old_button):
        assert http_body(post_interaction(client, payload)) is None
        assert socket.ask("interactive", payload) is None
    assert fake_slack.calls() == []


# --- Events: de-duplication, failures --------------------------------------------------------------------


def channel_left(event_id: str) -> dict:
    return event_envelope({"type": "channel_left", "channel": C_ENG_APPROVALS, "actor_id": "U_ADMIN",
                           "event_ts": f"{time.time():.6f}"}, event_id=event_id)


def test_slacks_retry_of_an_event_over_socket_mode_has_no_second_effect_as_over_http(socket, client, fake_slack):
    install_config()
    assert post_event(client, channel_left("Ev_HTTP")).status_code == 200
    assert post_event(client, channel_left("Ev_HTTP"), retry_num=1).status_code == 200
    told_over_http = dms_to(fake_slack, HR)
    start_over(fake_slack)
    assert socket.ask("events_api", channel_left("Ev_SOCK")) is None
    assert socket.ask("events_api", channel_left("Ev_SOCK"), retry_attempt=1, retry_reason="timeout") is None
    assert dms_to(fake_slack, HR) == told_over_http
    assert len(told_over_http) == 1


def test_an_event_first_handled_over_http_is_not_handled_again_when_retried_over_socket_mode(socket, client,
                                                                                             fake_slack):
    # An app moved from its request URL to Socket Mode while Slack still retries an event.
    install_config()
    assert post_event(client, channel_left("Ev_MOVED")).status_code == 200
    assert socket.ask("events_api", channel_left("Ev_MOVED"), retry_attempt=1, retry_reason="http_timeout") is None
    assert len(dms_to(fake_slack, HR)) == 1


def test_an_event_whose_handling_failed_is_not_acknowledged_and_its_retry_is_handled_once(socket, client, fake_slack,
                                                                                          monkeypatch):
    # Over HTTP a 500, and Slack sends it again; over Socket Mode no acknowledgement, which Slack treats alike.
    from slackbot import routing

    install_config()
    handler, failures = routing.EVENT_ROUTES["channel_left"], []

    def fails_first(event, envelope):
        if len(failures) < 2:
            failures.append(envelope["event_id"])
            raise ConnectionError("the cache restarting")
        return handler(event, envelope)

    monkeypatch.setitem(routing.EVENT_ROUTES, "channel_left", fails_first)
    broken = Client(raise_request_exception=False)
    assert post_event(broken, channel_left("Ev_FAIL_HTTP")).status_code == 500
    first = socket.deliver("events_api", channel_left("Ev_FAIL_SOCK"))
    assert socket.acks_of(first) == []
    assert dms_to(fake_slack, HR) == []

    assert post_event(client, channel_left("Ev_FAIL_HTTP"), retry_num=1).status_code == 200
    assert socket.ask("events_api", channel_left("Ev_FAIL_SOCK"), retry_attempt=1, retry_reason="http_error") is None
    assert len(dms_to(fake_slack, HR)) == 2  # one for each: handled once each, on the retry


def test_a_command_whose_handler_fails_gets_no_acknowledgement_as_over_http_it_gets_a_500(socket, fake_slack,
                                                                                          monkeypatch):
    from slackbot import routing

    def broken(command):
        raise RuntimeError("the handler broke")

    monkeypatch.setitem(routing.COMMAND_ROUTES, "balance", broken)
    assert http_command(Client(raise_request_exception=False), command_fields("balance", user_id=ALICE)).status_code == 500
    failed = socket.deliver("slash_commands", command_fields("balance", user_id=ALICE))
    served = socket.deliver("slash_commands", command_fields("help", user_id=ALICE))
    assert socket.acks_of(failed) == []  # no acknowledgement saying all went well
    [ack] = socket.acks_of(served)
    assert ack["payload"]["response_type"] == "ephemeral"
    assert [sent["envelope_id"] for sent in socket.sent] == [served]


def test_an_envelope_is_acknowledged_once_though_slack_sends_its_retry_while_it_is_handled(socket, fake_slack):
    # The first delivery still at work (Slack retries after 3 s without an answer): the retry is left
    # unacknowledged (a 503 over HTTP), the first gets its one acknowledgement, and the event has one effect.
    from slackbot import routing

    install_config()
    handler = routing.EVENT_ROUTES["channel_left"]
    retry_ids = []

    def retried_meanwhile(event, envelope):
        retry_ids.append(socket.deliver("events_api", envelope, retry_attempt=1, retry_reason="timeout"))
        return handler(event, envelope)

    import unittest.mock

    with unittest.mock.patch.dict(routing.EVENT_ROUTES, {"channel_left": retried_meanwhile}):
        first = socket.deliver("events_api", channel_left("Ev_RACE"))
    assert len(socket.acks_of(first)) == 1
    assert socket.acks_of(retry_ids[0]) == []
    assert len(dms_to(fake_slack, HR)) == 1


def test_the_log_does_not_call_an_envelope_acknowledged_when_its_acknowledgement_could_not_be_sent(socket, caplog):
    # The WebSocket replaced while a command was answered: the acknowledgement never reached Slack (the
    # person sees an error), and the envelope's log line and metrics should say it was not acknowledged.
    socket.connected = False
    with caplog.at_level(logging.INFO, logger="slackbot.socket_mode"):
        envelope_id = socket.deliver("slash_commands", command_fields("help", user_id=ALICE))
    [line] = [r for r in caplog.records if getattr(r, "event", None) == "socket_mode_envelope"]
    assert line.envelope_id == envelope_id
    assert socket.sent == []
    assert line.outcome != "acked", "logged as acknowledged though nothing reached Slack"


# --- Malformed envelopes ----------------------------------------------------------------------------------


def test_an_event_refused_for_good_over_http_is_acknowledged_over_socket_mode_so_it_is_not_sent_again(
        socket, client, fake_slack):
    for envelope in ({"token": "x", "team_id": "T_ACME", "event_id": "Ev_NO_TYPE"},
                     {"type": "event_callback", "event_id": "Ev_NO_EVENT", "team_id": "T_ACME"},
                     {"type": "event_callback", "event": {"type": "channel_left", "channel": C_ENG_APPROVALS},
                      "team_id": "T_ACME"}):
        over_http = post_event(client, envelope)
        assert over_http.status_code == 400 and over_http["X-Slack-No-Retry"] == "1"
        assert socket.ask("events_api", envelope) is None
    assert fake_slack.calls() == []


def test_a_slash_command_envelope_without_who_typed_it_is_acknowledged_and_nothing_done(socket, client, fake_slack):
    install_config()
    fields = command_fields("", user_id=ALICE)
    del fields["user_id"]
    assert http_command(client, fields).status_code == 400
    assert socket.ask("slash_commands", fields) is None
    assert fake_slack.calls("views.open") == []


def test_envelopes_of_an_unknown_type_or_without_a_payload_do_nothing_and_the_next_is_served(socket, fake_slack):
    install_config()
    unknown = socket.deliver("a_type_from_the_future", {"type": "event_callback", "event": {"type": "x"}})
    socket.receive({"envelope_id": "env-no-payload", "type": "slash_commands", "accepts_response_payload": True})
    socket.receive({"envelope_id": "env-text-payload", "type": "slash_commands", "payload": "help",
                    "accepts_response_payload": True})
    assert socket.acks_of(unknown) == [{"envelope_id": unknown}]  # acknowledged: nothing to do
    assert socket.acks_of("env-text-payload") == [{"envelope_id": "env-text-payload"}]
    assert fake_slack.calls() == []
    assert socket.ask("slash_commands", command_fields("help", user_id=ALICE))["response_type"] == "ephemeral"


def test_hello_and_disconnect_are_slacks_own_messages_never_handled_nor_acknowledged(socket, fake_slack):
    install_config()
    socket.receive({"type": "hello", "num_connections": 1, "debug_info": {"host": "applink-1"},
                    "connection_info": {"app_id": "A_TIMEOFF"}})
    socket.receive({"type": "disconnect", "reason": "refresh_requested", "debug_info": {"host": "applink-1"}})
    assert socket.sent == [] and fake_slack.calls() == []
    assert socket.reconnects == 1 and not socket.stopped.is_set()  # a new connection, and serving on
    socket.receive({"type": "disconnect", "reason": "link_disabled", "debug_info": {"host": "applink-1"}})
    assert socket.stopped.is_set() and socket.link_disabled.seen  # Socket Mode turned off: stop, saying why
    assert socket.sent == []


# --- Slack's 3 seconds, with a slow Slack: the command's own runner over a real WebSocket --------------------


def told(fake_slack, user: str) -> list[str]:
    return ephemerals_to(fake_slack, user) + dms_to(fake_slack, user)


def timed(call):
    started = time.monotonic()
    result = call()
    return result, time.monotonic() - started


@pytest.mark.django_db(transaction=True)
def test_a_reject_click_while_slack_is_slow_is_acknowledged_in_time_and_told_as_over_http(socket_mode, fake_slack,
                                                                                            client):
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    buttons = [b for b in posted.params["blocks"] if b.get("type") == "actions"][0]["elements"]
    value = next(b["value"] for b in buttons if b["action_id"] == ids.REJECT_ACTION)

    def click():
        return block_actions_payload(user_id=BOB, action_id=ids.REJECT_ACTION, value=value, block_id=ids.DECISION_BLOCK,
                                     channel_id=posted.response["channel"], message_ts=posted.response["ts"])

    fake_slack.delay("views.open", 2.5)
    fake_slack.clear_calls()
    response, seconds = timed(lambda: post_interaction(client, click()))
    told_over_http = told(fake_slack, BOB)
    assert seconds < SLACK_ACK_SECONDS and http_body(response) is None
    fake_slack.clear_calls()
    ack = socket_mode.ask("interactive", click())  # fails unless acknowledged inside Slack's 3 s
    assert ack.get("payload") is None
    assert told(fake_slack, BOB) == told_over_http
    assert len(told_over_http) == 1 and "slow" in told_over_http[0]


@pytest.mark.django_db(transaction=True)
def test_a_date_changed_while_slack_is_slow_is_acknowledged_in_time_as_over_http(socket_mode, fake_slack, client):
    assert socket_mode.ask("slash_commands", command_fields("", user_id=ALICE)).get("payload") is None
    view = fake_slack.last_call("views.open").params["view"]
    values = request_values("vacation", MONDAY, date(2031, 3, 13))

    def change(view_id):
        payload = block_actions_payload(user_id=ALICE, action_id=ids.END_ACTION, value="", block_id=ids.END_BLOCK)
        payload.pop("message"), payload.pop("channel")
        payload["container"] = {"type": "view", "view_id": view_id}
        payload["view"] = {**view, "id": view_id, "hash": "h-" + view_id, "state": {"values": values}}
        payload["actions"][0].update(type="datepicker", selected_date="2031-03-13")
        payload["actions"][0].pop("value")
        return payload

    fake_slack.delay("views.update", 2.5)
    response, seconds = timed(lambda: post_interaction(client, change("V_HTTP")))
    assert seconds < SLACK_ACK_SECONDS and http_body(response) is None
    ack = socket_mode.ask("interactive", change("V_SOCK"))
    assert ack.get("payload") is None
    redraws = fake_slack.calls("views.update")
    assert [c.params["view_id"] for c in redraws] == ["V_HTTP", "V_SOCK"]
    assert redraws[0].params["view"] == redraws[1].params["view"]


@pytest.mark.django_db(transaction=True)
def test_the_shortcut_while_slack_is_slow_is_acknowledged_in_time_and_explained_as_over_http(socket_mode, fake_slack,
                                                                                             client):
    fake_slack.delay("views.open", 2.5)
    response, seconds = timed(lambda: post_interaction(
        client, shortcut_payload(user_id=ALICE, callback_id=ids.REQUEST_SHORTCUT)))
    assert seconds < SLACK_ACK_SECONDS and http_body(response) is None
    told_over_http = told(fake_slack, ALICE)
    fake_slack.clear_calls()
    ack = socket_mode.ask("interactive", shortcut_payload(user_id=ALICE, callback_id=ids.REQUEST_SHORTCUT))
    assert ack.get("payload") is None
    assert told(fake_slack, ALICE) == told_over_http
    assert len(told_over_http) == 1 and "Request time off" in told_over_http[0]
