"""No Slack endpoint waits on the Slack Web API, except views.open/push/update (DESIGN §3, §8).

Slack gives an endpoint 3 s; a trigger_id lives 3 s. So on the request path the app
calls only the views.* methods, through the in-request client (short timeout, no
sleeping on 429), and everything else — deliveries, DMs, message updates,
announcements — is a background task.

Here tasks go to Django's DummyBackend, which records them without running them:
whatever Slack saw during a request, the request itself did.
"""

import time
from datetime import date

import pytest
from django.core.cache import cache
from django.tasks import task_backends
from django.tasks.backends.dummy import DummyBackend

from fake_slack.personas import C_ENG_APPROVALS, CAROL
from approvals import block_ids as ids
from approvals.ledger_format import entry_from_metadata
from approvals.messages import shown_version
from approvals.slack_clients import IN_REQUEST_TIMEOUT_SECONDS, in_request_client
from test_support.flows import (
    ALICE,
    BOB,
    DAVE,
    MONDAY,
    WEDNESDAY,
    click,
    install_config,
    metadata_payload,
    posted_requests,
    request_time_off,
    request_values,
    submit_request,
)
from test_support.slack_faults import failing
from test_support.slack_requests import (
    block_actions_payload,
    event_envelope,
    new_trigger_id,
    post_command,
    post_event,
    post_interaction,
    view_submission_payload,
)

pytestmark = pytest.mark.django_db

VIEWS_METHODS = {"views.open", "views.push", "views.update"}
# The week after the request the `posted` fixture sends, so the new one does not overlap it.
NEXT_MONDAY, NEXT_WEDNESDAY = date(2031, 3, 17), date(2031, 3, 19)


@pytest.fixture
def posted(client, fake_slack):
    """A request in the approvals channel, and warm caches, made with tasks running (the default)."""
    install_config()
    request_time_off(client, fake_slack, ALICE)
    [call] = posted_requests(fake_slack)
    return call


@pytest.fixture
def recorded_tasks(settings, posted):
    """From here on, tasks are recorded, not run. Changing TASKS sends setting_changed, whose
    receiver in django.tasks.signals drops the cached backend, so the next lookup builds this one."""
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.dummy.DummyBackend"}}
    backend = task_backends["default"]
    assert isinstance(backend, DummyBackend)
    assert backend.results == []
    return backend


class Step:
    """One Slack request: what Slack saw while we answered it, and what we enqueued."""

    def __init__(self, fake_slack, backend):
        self.fake_slack, self.backend = fake_slack, backend

    def __enter__(self):
        self.fake_slack.clear_calls()
        self.backend.clear()
        return self

    def __exit__(self, *exc):
        self.slack_methods = [call.method for call in self.fake_slack.calls()]
        self.enqueued = [(result.task.name, result.args, result.kwargs) for result in self.backend.results]


@pytest.fixture
def step(fake_slack, recorded_tasks):
    return lambda: Step(fake_slack, recorded_tasks)


def test_timeoff_calls_only_views_open_and_enqueues_the_warm_up(client, fake_slack, step):
    with step() as s:
        response = post_command(client, "", user_id=DAVE)
    assert response.status_code == 200 and response.content == b""
    assert s.slack_methods == ["views.open"]
    assert s.enqueued == [("warm_requester", [DAVE], {})]


def test_opening_the_form_again_within_a_minute_warms_nothing_more(client, fake_slack, step):
    """The warm-up is claimed per person for a minute: a second /timeoff soon after writes no task row.
    (Alice opened the form a moment ago, in the `posted` fixture.)"""
    with step() as s:
        again = post_command(client, "", user_id=ALICE)
        post_command(client, "", user_id=DAVE)
        post_command(client, "", user_id=DAVE)
    assert again.status_code == 200 and again.content == b""
    assert s.slack_methods == ["views.open"] * 3
    assert s.enqueued == [("warm_requester", [DAVE], {})]


def test_a_preview_update_calls_only_views_update(client, fake_slack, step):
    with step() as opened:
        post_command(client, "", user_id=ALICE)
    view = fake_slack.last_call("views.open").response["view"]
    payload = block_actions_payload(user_id=ALICE, action_id=ids.END_ACTION, value="", block_id=ids.END_BLOCK)
    payload["container"] = {"type": "view", "view_id": view["id"]}
    payload["view"] = {**view, "state": {"values": request_values("vacation", MONDAY, WEDNESDAY)}}
    with step() as s:
        response = post_interaction(client, payload)
    assert response.status_code == 200
    assert opened.slack_methods == ["views.open"]
    assert s.slack_methods == ["views.update"]
    assert s.enqueued == []


def test_a_submission_calls_no_slack_method_and_enqueues_the_delivery(client, fake_slack, step):
    with step():
        post_command(client, "", user_id=ALICE)
    view = fake_slack.last_call("views.open").params["view"]
    with step() as s:
        values = request_values("vacation", NEXT_MONDAY, NEXT_WEDNESDAY, note="Ski")
        response = submit_request(client, ALICE, view, values, view_id="V_ACK", view_hash="h-ack")
    assert response.status_code == 200 and response.content == b""
    assert s.slack_methods == []
    [(name, [submission], kwargs)] = s.enqueued
    assert (name, kwargs) == ("deliver_request", {})
    assert 0 <= time.time() - submission["submitted_at"] < 60  # when it was sent: "in the past" is judged by it
    assert submission == {"id": submission["id"], "user": ALICE, "leave_type": "vacation",
                          "start": NEXT_MONDAY.isoformat(), "end": NEXT_WEDNESDAY.isoformat(), "start_half": None,
                          "end_half": None, "note": "Ski", "validated": True, "recorded_by": None,
                          "submitted_at": submission["submitted_at"]}


def test_approve_calls_no_slack_method_and_enqueues_the_decision(client, fake_slack, posted, step):
    request_id = metadata_payload(posted)["id"]
    with step() as s:
        response = click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted)
    assert response.status_code == 200 and response.content == b""
    assert s.slack_methods == []
    assert s.enqueued == [("decide_request", [{
        "request_id": request_id, "channel": C_ENG_APPROVALS, "ts": posted.response["ts"], "approver": BOB,
        "status": "approved", "reason": None}], {})]
    # The request as Bob saw it waits in the cache for the task, not in its payload (README "Upgrades")
    assert cache.get(f"decision-seen:{request_id}:{BOB}") == shown_version(entry_from_metadata(posted.params["metadata"]))


def test_reject_calls_only_views_open_then_the_reason_enqueues_the_decision(client, fake_slack, posted, step):
    with step() as clicked:
        response = click(client, fake_slack, DAVE, ids.REJECT_ACTION, posted)
    assert response.status_code == 200
    assert clicked.slack_methods == ["views.open"]
    assert clicked.enqueued == []

    reason_modal = fake_slack.last_call("views.open").params["view"]
    values = {ids.REASON_BLOCK: {ids.REASON_ACTION: {"type": "plain_text_input", "value": "Release week"}}}
    with step() as s:
        response = post_interaction(client, view_submission_payload(user_id=DAVE, view=reason_modal, values=values,
                                                                    view_id="V_REJ"))
    assert response.status_code == 200 and response.content == b""
    assert s.slack_methods == []
    [(name, [decision], kwargs)] = s.enqueued
    assert (name, kwargs) == ("decide_request", {})
    assert (decision["approver"], decision["status"], decision["reason"]) == (DAVE, "rejected", "Release week")
    assert (decision["channel"], decision["ts"]) == (C_ENG_APPROVALS, posted.response["ts"])


def test_a_refusal_is_enqueued_not_posted(client, fake_slack, posted, step):
    """Carol is no approver: she is told so by a task, and no modal opens."""
    with step() as s:
        response = click(client, fake_slack, CAROL, ids.REJECT_ACTION, posted)
    assert response.status_code == 200
    assert s.slack_methods == []
    [(name, [channel, user, text], kwargs)] = s.enqueued
    assert (name, channel, user) == ("tell_user", C_ENG_APPROVALS, CAROL)


def test_events_call_no_slack_method(client, fake_slack, step):
    with step() as s:
        first = post_event(client, event_envelope({"type": "app_home_opened", "user": ALICE, "tab": "home"},
                                                  event_id="Ev_ACK1"))
        retried = post_event(client, event_envelope({"type": "app_home_opened", "user": ALICE, "tab": "home"},
                                                    event_id="Ev_ACK1"), retry_num=1)
        verified = post_event(client, {"type": "url_verification", "challenge": "abc"})
    assert [first.status_code, retried.status_code, verified.status_code] == [200, 200, 200]
    assert s.slack_methods == []
    # App Home is published in the background, once, and the task remembers that Alice looks at it.
    assert s.enqueued == [("publish_home", [ALICE, True], {})]


@pytest.mark.parametrize("text", ["help", "balance", "2031-03-10 2031-03-12 vacation"])
def test_other_commands_call_at_most_views_open(client, fake_slack, step, text):
    with step() as s:
        response = post_command(client, text, user_id=ALICE)
    assert response.status_code == 200
    assert set(s.slack_methods) <= VIEWS_METHODS
    assert {name for name, args, kwargs in s.enqueued} <= {"warm_requester", "send_balance"}


def test_every_request_together_touched_only_views_methods(client, fake_slack, posted, step):
    """The whole loop once more, end to end, with one ledger of what Slack saw (Alice's caches were
    warmed a moment ago, in the `posted` fixture: no warm-up this time)."""
    with step() as s:
        post_command(client, "", user_id=ALICE)
        view = fake_slack.last_call("views.open").params["view"]
        submitted = submit_request(client, ALICE, view, request_values("vacation", NEXT_MONDAY, NEXT_WEDNESDAY),
                                   view_id="V_ALL")
        click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted)
        click(client, fake_slack, DAVE, ids.REJECT_ACTION, posted)
        post_event(client, event_envelope({"type": "app_home_opened", "user": ALICE}, event_id="Ev_ALL"))
    assert submitted.content == b""
    assert set(s.slack_methods) <= VIEWS_METHODS
    assert sorted(name for name, args, kwargs in s.enqueued) == [
        "decide_request", "deliver_request", "publish_home"]


# --- The in-request client: short, and never sleeping ---------------------------------------


def test_the_in_request_client_has_a_short_timeout_and_no_retries(fake_slack):
    client = in_request_client()
    assert client.timeout == IN_REQUEST_TIMEOUT_SECONDS <= 1.5
    assert client.retry_handlers == []


def test_a_rate_limited_views_open_is_not_waited_for(client, fake_slack, step):
    """A 429 with Retry-After: 30 is answered at once with a polite message, not slept on."""
    fake_slack.rate_limit("views.open", retry_after=30)
    with step() as s:
        response = post_command(client, "", user_id=ALICE)
    assert response.status_code == 200
    assert "try `/timeoff` again" in response.json()["text"]
    assert "wait a minute" in response.json()["text"]  # a rate limit: clicking at once would not help
    assert s.slack_methods == ["views.open"]  # once: no retry
    assert response.json()["response_type"] == "ephemeral"


def test_a_slow_views_open_says_the_form_may_have_opened(client, fake_slack):
    """Slack opened the modal but answered after our timeout: the person is not told it failed."""
    install_config()
    fake_slack.delay("views.open", 2.5, times=1)
    response = post_command(client, "", user_id=ALICE)
    assert len(fake_slack.calls("views.open")) == 1
    text = response.json()["text"]
    assert "if the request form didn't open" in text and "try `/timeoff` again" in text
    assert "didn't let me" not in text


def test_a_spent_trigger_says_the_form_took_too_long(client, fake_slack):
    install_config()
    fake_slack.fail("views.open", "expired_trigger_id")
    response = post_command(client, "", user_id=ALICE)
    assert response.json()["text"] == ("The request form took too long to open (Slack allows 3 seconds); "
                                       "please try `/timeoff` again.")


@pytest.mark.parametrize(("fault", "said"), [
    ("service_unavailable", "service_unavailable"),  # ok: false at HTTP 200
    ("http_503", "service_unavailable"),  # the same at HTTP 503
    ("request_timeout", "request_timeout"),
    ("http_500", "fatal_error"),
])
def test_slack_in_trouble_is_worded_alike_whatever_its_http_status(client, fake_slack, fault, said):
    install_config()
    with failing(fake_slack, lambda method, params: method == "views.open", fault):
        response = post_command(client, "", user_id=ALICE)
    assert response.json()["text"] == (f"Slack had trouble answering ({said}): if the request form didn't open, "
                                       "please try `/timeoff` again.")


def test_a_dropped_connection_opening_the_form_is_told_in_plain_words(client, fake_slack):
    # Slack may have opened it before the connection dropped; the exception's class name (URLError) would
    # tell the person nothing.
    install_config()
    fake_slack.drop_connection("views.open")
    response = post_command(client, "", user_id=ALICE)
    assert response.json()["text"] == ("The connection to Slack failed: if the request form didn't open, please "
                                       "try `/timeoff` again.")


def test_a_trigger_used_twice_says_the_form_probably_opened_already(client, fake_slack):
    # The same command twice (a double press of Enter, say): its trigger_id opened the form the first time,
    # and Slack answers exchanged_trigger_id. Nothing took too long.
    install_config()
    trigger_id = new_trigger_id()
    assert post_command(client, "", user_id=ALICE, trigger_id=trigger_id).content == b""
    response = post_command(client, "", user_id=ALICE, trigger_id=trigger_id)
    assert fake_slack.last_call("views.open").response["error"] == "exchanged_trigger_id"
    assert response.json()["text"] == ("The request form was probably opened already, by an earlier click; if it "
                                       "isn't showing, please try `/timeoff` again.")


def test_trigger_exchanged_is_worded_as_exchanged_trigger_id(client, fake_slack):
    install_config()
    fake_slack.fail("views.open", "trigger_exchanged")
    response = post_command(client, "", user_id=ALICE)
    assert response.json()["text"].startswith("The request form was probably opened already, by an earlier click")


@pytest.mark.parametrize("error", ["invalid_auth", "token_revoked", "account_inactive", "missing_scope"])
def test_an_app_whose_access_is_broken_says_so_not_try_again(client, fake_slack, error):
    install_config()
    fake_slack.fail("views.open", error)
    response = post_command(client, "", user_id=ALICE)
    assert response.json()["text"] == (
        f"This app's access to Slack is not working ({error}), so the request form can't open; trying again "
        "will not help. Please tell whoever looks after the app in your workspace.")


def test_any_other_views_open_failure_says_it_did_not_open(client, fake_slack):
    # A refusal: Slack opened nothing. (After `internal_error` or a 5xx it may have: see
    # test_audit_slow_slack.py.)
    install_config()
    fake_slack.fail("views.open", "view_too_large")
    response = post_command(client, "", user_id=ALICE)
    assert response.json()["text"] == "Slack didn't let me open the request form; please try `/timeoff` again."
