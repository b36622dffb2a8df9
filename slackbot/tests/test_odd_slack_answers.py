"""Slack's Web API answering oddly, beyond the faults test_slack_error_kinds throws at every step.

An answer with HTTP status 200 whose body is not Slack's JSON (empty, an HTML page from a proxy in front
of Slack, JSON cut short) can never be Slack's refusal (Slack refuses with `{"ok": false, "error": …}`),
and the call may well have been made: it is a passing fault, like the same body with a 502, retried and
never remembered or told as a refusal. Also: a 429 without Retry-After, a 429 asking for an hour,
`ok: true` answers without optional fields or with warnings, a members cursor that never ends.
"""

import time
from contextlib import contextmanager

import pytest
from django.core.cache import cache

from approvals import directory
from approvals.models import DeliveryProblem
from approvals.slack_clients import background_client, in_request_client, ledger_post_client, locked_write_client
from approvals.task_queue import error_code, slack_may_have_acted, transient
from fake_slack.personas import C_ENG, C_ENG_APPROVALS, C_ENG_LEADS
from test_support.flows import (ALICE, BOB, DAVE, MONDAY, WEDNESDAY, dms_to, install_config,
                                open_request_form, posted_requests, request_time_off, request_values, submit_request)
from test_support.slack_faults import PROXY_PAGE

pytestmark = pytest.mark.django_db

EMPTY = ""
CUT_SHORT = '{"ok": true, "channel": "C0", "ts": "17'
NOT_JSON = {"empty": EMPTY, "html": PROXY_PAGE, "cut_short": CUT_SHORT}


@contextmanager
def answered(fake_slack, matches, status, body, *, headers=None, times=1, made=True):
    """Calls for which `matches(method, params)` holds are made (when `made`: Slack acted) and answered
    `status` with `body` (a str is sent as it is, a dict as JSON) and `headers`, the first `times` times."""
    real = fake_slack.handle
    met = []

    def handle(method, params, hdrs):
        if matches(method, params) and (times is None or len(met) < times):
            met.append(params)
            if made:
                real(method, params, hdrs)
            return status, dict(headers or {}), body
        return real(method, params, hdrs)

    fake_slack.handle = handle
    try:
        yield met
    finally:
        del fake_slack.handle


def ledger(fake_slack) -> list:
    return [m for m in fake_slack.workspace.messages(C_ENG_APPROVALS)
            if (m.metadata or {}).get("event_type") == "timeoff_request"]


def request_post(method, params):
    return method == "chat.postMessage" and params.get("channel") == C_ENG_APPROVALS and not params.get("thread_ts")


# --- A 200 whose body is not JSON: a passing fault, which Slack may have acted on ----------------------------


@pytest.mark.parametrize("body", list(NOT_JSON.values()), ids=list(NOT_JSON))
@pytest.mark.parametrize("make_client", [background_client, in_request_client, ledger_post_client,
                                         locked_write_client])
def test_a_200_answer_that_is_not_json_is_a_passing_fault_slack_may_have_acted_on(fake_slack, no_sleeping,
                                                                                    make_client, body):
    with answered(fake_slack, lambda method, params: method == "users.info", 200, body, times=None):
        with pytest.raises(Exception) as raised:
            make_client().users_info(user=ALICE)

    exc = raised.value
    assert transient(exc), (type(exc).__name__, error_code(exc))  # not a refusal, nor a JSONDecodeError
    assert slack_may_have_acted(exc)  # the answer was lost on the way: the call may have been made
    assert "<" not in error_code(exc)


@pytest.mark.parametrize("channel", [C_ENG, C_ENG_LEADS], ids=["team_channel", "approvers_channel"])
@pytest.mark.parametrize("body", [EMPTY, PROXY_PAGE], ids=["empty", "html"])
def test_a_members_channel_answered_200_not_json_is_not_remembered_as_nobody(client, fake_slack, no_sleeping,
                                                                             body, channel):
    install_config()
    members_of = lambda method, params: method == "conversations.members" and params.get("channel") == channel  # noqa: E731
    with answered(fake_slack, members_of, 200, body, made=False) as met:
        view = open_request_form(client, fake_slack, ALICE)  # the warm-up looks the members up
    assert met

    response = submit_request(client, ALICE, view, request_values("vacation", MONDAY, WEDNESDAY))

    # Not "I couldn't read who is in the channel C_ENG (Slack said http_200)" for ten minutes, nor Dave left out.
    assert response.status_code == 200 and response.content == b"", response.content
    assert not isinstance(directory.cached_channel_members(channel), directory.Unlisted)
    [posted] = posted_requests(fake_slack)
    assert f"<@{BOB}>" in posted.params["text"] and f"<@{DAVE}>" in posted.params["text"]  # both approvers


@pytest.mark.parametrize("body", list(NOT_JSON.values()), ids=list(NOT_JSON))
def test_a_cold_ledger_read_answered_200_not_json_is_retried_not_told_as_refused(client, fake_slack, no_sleeping,
                                                                                  body):
    install_config()
    history = lambda method, params: method == "conversations.history"  # noqa: E731
    with answered(fake_slack, history, 200, body, times=None, made=False):
        view = open_request_form(client, fake_slack, ALICE)  # the warm-up cannot read it: the ledger stays cold
    with answered(fake_slack, history, 200, body, times=1, made=False):  # the delivery's first read too
        submit_request(client, ALICE, view, request_values("vacation", MONDAY, WEDNESDAY))

    told = dms_to(fake_slack, ALICE)
    assert not [text for text in told if "couldn't" in text or "did not reach" in text], told
    assert len(ledger(fake_slack)) == 1
    assert not DeliveryProblem.objects.exists(), list(DeliveryProblem.objects.values_list("error", flat=True))


# --- Other odd answers ------------------------------------------------------------------------------------------


def test_a_429_without_retry_after_on_the_post_is_retried_and_delivered_once(client, fake_slack, no_sleeping):
    install_config()
    with answered(fake_slack, request_post, 429, {"ok": False, "error": "ratelimited"}, times=2, made=False) as met:
        request_time_off(client, fake_slack, ALICE)

    assert len(met) == 2
    assert len(ledger(fake_slack)) == 1
    assert len([text for text in dms_to(fake_slack, ALICE) if "is with" in text]) == 1
    assert not DeliveryProblem.objects.exists()


def test_a_429_without_retry_after_on_every_ledger_read_of_an_attempt_is_retried_by_the_task(client, fake_slack,
                                                                                              no_sleeping):
    install_config()
    history = lambda method, params: method == "conversations.history"  # noqa: E731
    limited = {"ok": False, "error": "ratelimited"}
    with answered(fake_slack, history, 429, limited, times=None, made=False):
        view = open_request_form(client, fake_slack, ALICE)
    with answered(fake_slack, history, 429, limited, times=4, made=False):  # the client's 1 + 3 tries
        submit_request(client, ALICE, view, request_values("vacation", MONDAY, WEDNESDAY))

    assert len(ledger(fake_slack)) == 1
    assert not [text for text in dms_to(fake_slack, ALICE) if "couldn't" in text]
    assert not DeliveryProblem.objects.exists()


def test_an_hour_long_retry_after_on_a_dm_never_puts_a_worker_to_sleep(client, fake_slack):
    install_config()
    receipt = lambda method, params: method == "chat.postMessage" and params.get("channel") == ALICE  # noqa: E731
    with answered(fake_slack, receipt, 429, {"ok": False, "error": "ratelimited"}, headers={"Retry-After": "3600"},
                  made=False) as met:
        started = time.monotonic()
        request_time_off(client, fake_slack, ALICE)
        elapsed = time.monotonic() - started

    assert len(met) == 1 and elapsed < 10  # raised at once; the task's next attempt waits (immediate here)
    assert len([text for text in dms_to(fake_slack, ALICE) if "is with" in text]) == 1


def test_a_user_without_a_time_zone_reads_as_utc_and_the_cold_request_is_delivered(client, fake_slack):
    install_config()
    view = open_request_form(client, fake_slack, ALICE)
    cache.clear()  # cold: the delivery asks for her time zone
    no_tz = {"ok": True, "user": {"id": ALICE, "name": "alice", "deleted": False, "is_bot": False}}
    with answered(fake_slack, lambda method, params: method == "users.info", 200, no_tz, times=None, made=False):
        submit_request(client, ALICE, view, request_values("vacation", MONDAY, WEDNESDAY))

    assert len(ledger(fake_slack)) == 1
    assert directory.cached_timezone(ALICE) == "UTC"


def test_a_members_cursor_that_never_ends_stops_at_the_page_bound(fake_slack, monkeypatch):
    monkeypatch.setattr(directory, "MAX_MEMBER_PAGES", 20)
    endless = {"ok": True, "members": [ALICE], "response_metadata": {"next_cursor": "dXNlcjpVMDAwMDAx"}}
    with answered(fake_slack, lambda method, params: method == "conversations.members", 200, endless, times=None,
                  made=False) as met:
        members = directory.fetch_channel_members(background_client(), "C_LOOP")

    assert members == frozenset({ALICE}) and len(met) == 20


def test_a_history_answer_with_warnings_but_ok_is_read(client, fake_slack):
    install_config()
    real = fake_slack.handle

    def warn(method, params, headers):
        status, extra, body = real(method, params, headers)
        if method == "conversations.history" and body.get("ok"):
            body = {**body, "warning": "superfluous_charset",
                    "response_metadata": {**(body.get("response_metadata") or {}),
                                          "warnings": ["superfluous_charset"]}}
        return status, extra, body

    fake_slack.handle = warn
    try:
        request_time_off(client, fake_slack, ALICE)
    finally:
        del fake_slack.handle
    assert len(ledger(fake_slack)) == 1
    assert not DeliveryProblem.objects.exists()
