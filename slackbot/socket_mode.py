"""Serving the same handlers over Socket Mode: no public URL, for local development
and for workspaces that cannot expose an endpoint.

Slack sends each payload over a WebSocket instead of an HTTP POST; there is no
signature to check (the app-level token authenticates the connection). The
acknowledgement carries what the HTTP response body would.
https://docs.slack.dev/apis/events-api/using-socket-mode
"""

import json
import logging
import threading
import time

from django.db import close_old_connections
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse

from approvals import metrics, observe
from slackbot import routing
from slackbot.payloads import BadPayload, check_interaction, require_text, slash_command_from_fields

logger = logging.getLogger(__name__)


def answer(request: SocketModeRequest) -> SocketModeResponse | None:
    """Route one Socket Mode envelope to its handler and build the acknowledgement; None: no
    acknowledgement (what a 5xx is over HTTP), so that Slack sends it again."""
    payload = request.payload if isinstance(request.payload, dict) else {}
    try:
        if request.type == "slash_commands":
            response = routing.dispatch_command(slash_command_from_fields(payload))
        elif request.type == "interactive":
            response = routing.dispatch_interaction(check_interaction(payload))
        elif request.type == "events_api":
            require_text(payload, "type")
            # Slack's first delivery says retry_attempt 0; over HTTP it carries no X-Slack-Retry-Num at all.
            retry = str(request.retry_attempt) if request.retry_attempt else None
            response = routing.dispatch_event(payload, retry_num=retry)
        else:
            return SocketModeResponse(envelope_id=request.envelope_id)
    except BadPayload as exc:
        logger.warning("socket mode payload refused type=%s detail=%s", request.type, exc)
        return SocketModeResponse(envelope_id=request.envelope_id)
    if response.status >= 500:
        return None
    return SocketModeResponse(envelope_id=request.envelope_id, payload=response.body)


class InFlight:
    """How many envelopes are being answered now. A stop waits for them: their acknowledgements need
    the connection open, and a slash command or a submission not acknowledged is an error in front of
    someone (Slack sends only events again)."""

    def __init__(self) -> None:
        self._count = 0
        self._changed = threading.Condition()

    def __enter__(self) -> None:
        with self._changed:
            self._count += 1

    def __exit__(self, *exc_info) -> None:
        with self._changed:
            self._count -= 1
            self._changed.notify_all()

    def wait_idle(self, until_idle, timeout: float) -> bool:
        """Wait up to `timeout` seconds until nothing is in hand and `until_idle()` holds; whether it did."""
        with self._changed:
            return self._changed.wait_for(lambda: self._count == 0 and until_idle(), timeout)

    @property
    def count(self) -> int:
        return self._count


IN_FLIGHT = InFlight()

# How long a stop waits for the envelopes in hand: each is answered inside Slack's 3 s.
STOP_WAIT_SECONDS = 5.0
# How often a stop looks at slack-sdk's queue of envelopes received but not yet handed to a listener.
QUEUE_POLL_SECONDS = 0.1


def listener(client, request: SocketModeRequest) -> None:
    """The SocketModeClient listener: answer, then send the acknowledgement; one log line and the
    envelope metrics for each, as the HTTP middleware writes for a request (DESIGN §9)."""
    with IN_FLIGHT:
        close_old_connections()  # the listener runs on slack-sdk's threads, outside Django's request cycle
        started = time.perf_counter()
        token = observe.request_started(observe.new_request_id())  # the routing labels it, as over HTTP
        outcome = "error"  # a handler that raised: not acknowledged, so Slack sends an event again
        try:
            acknowledgement = answer(request)
            if acknowledgement is None:
                outcome = "not_acked"
            else:
                # "acked" once sent: a connection that drops first leaves it an error Slack never heard of.
                client.send_socket_mode_response(acknowledgement)
                outcome = "acked"
        finally:
            envelope_finished(request, outcome, time.perf_counter() - started)
            observe.request_finished(token)
            close_old_connections()


def envelope_finished(request: SocketModeRequest, outcome: str, seconds: float) -> None:
    context = observe.current_request()
    kind = request.type if request.type in ENVELOPE_TYPES else "other"
    metrics.socket_mode_envelope(kind, context.slack_kind, context.slack_name, outcome, seconds)
    level = logging.ERROR if outcome == "error" else logging.INFO
    logger.log(level, "socket mode %s %s %s", kind, context.slack_name or "-", outcome, extra={
        "event": "socket_mode_envelope", "envelope_type": kind, "envelope_id": request.envelope_id,
        "outcome": outcome, "duration_ms": round(seconds * 1000, 1),
        **({"retry_attempt": request.retry_attempt} if request.retry_attempt else {}),
        **({"slack_kind": context.slack_kind, "slack_name": context.slack_name} if context.slack_kind else {}),
        **({"enqueued_tasks": context.tasks} if context.tasks else {}),
    })


class LinkDisabled:
    """A listener of every raw message slack-sdk receives (`on_message_listeners`: its own handling of a
    `disconnect` reconnects before any other listener would hear of it), for Slack's `disconnect` with
    reason `link_disabled`: Socket Mode was turned off in the app's settings. slack-sdk would open a
    new connection again and again, each one told the same, while nothing is served: this stops the
    process instead (`stopped`), and `seen` tells the command to say why."""

    def __init__(self, stopped: threading.Event) -> None:
        self.stopped = stopped
        self.seen = False

    def __call__(self, raw_message: str) -> None:
        if "link_disabled" not in raw_message:  # every envelope passes here: parse only the likely one
            return
        try:
            message = json.loads(raw_message)
        except ValueError:
            return
        if isinstance(message, dict) and message.get("type") == "disconnect" and (
                message.get("reason") == "link_disabled"):
            self.seen = True
            logger.error("socket mode disabled for this app (link_disabled): stopping")
            self.stopped.set()


# The envelope types Slack sends with a payload (hello and disconnect are slack-sdk's own business).
ENVELOPE_TYPES = frozenset({"slash_commands", "interactive", "events_api"})


def serve_until_stopped(client, stopped: threading.Event, *, wait: float = STOP_WAIT_SECONDS) -> bool:
    """Connect, serve until `stopped` is set (SIGTERM, Ctrl-C), then stop without dropping what is in hand.

    slack-sdk's `close()` drops the WebSocket first and waits for its listeners after, so an envelope
    being answered when the process is told to stop (a deploy, a scale-down) would lose its
    acknowledgement: Slack shows the person an error for a command or a submission. So the connection
    stays open until the envelopes received are answered, for at most `wait` seconds (Slack keeps
    sending to it meanwhile, shared with the other connections, such as the new release's); what is
    still in hand then is logged. Returns whether everything was answered.
    """
    client.connect()
    while not stopped.wait(1):  # a timeout, so that a signal's handler runs promptly on every platform
        pass
    queue = getattr(client, "message_queue", None)  # slack-sdk's received envelopes, not yet handled

    def queue_empty() -> bool:
        return queue is None or queue.empty()

    # The queue is filled and emptied by slack-sdk's threads, which do not notify our condition: it is
    # looked at often, and idle means idle at two looks apart (an envelope just taken from the queue is
    # in neither the queue nor our count for a moment, on its way to a listener's thread).
    deadline = time.monotonic() + wait
    idle_looks = 0
    while idle_looks < 2 and time.monotonic() < deadline:
        if not IN_FLIGHT.wait_idle(queue_empty, QUEUE_POLL_SECONDS):
            idle_looks = 0
            continue
        idle_looks += 1
        if idle_looks == 1:
            time.sleep(QUEUE_POLL_SECONDS / 2)
    answered = idle_looks >= 2
    if not answered:
        logger.warning("socket mode stopped with envelopes unanswered in_hand=%s queued=%s", IN_FLIGHT.count,
                       0 if queue is None else queue.qsize())
    client.close()
    logger.info("socket mode stopped")
    return answered
