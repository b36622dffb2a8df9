"""README's "When things go wrong", sentence by sentence, as people meet it in Slack.

Each test takes one concrete promise of that section (what a person is told when Slack fails in a given
way, how often and when a task tries again, what HR sees, what is logged, what is never done twice) and
checks it end to end: signed Slack-shaped requests from Alice (employee), Bob and Dave (approvers) and
Hannah (HR), the fake Slack's fault injection, and the tasks the app runs (at once, with the retries'
sleeps skipped or recorded). The README's sentence is quoted in each test's docstring.
"""

import json
import logging
import re
from contextlib import contextmanager
from dataclasses import replace
from datetime import timedelta

import pytest
from django.core.cache import caches
from django.tasks import TaskResultStatus

from approvals import block_ids as ids
from approvals import cache_lock, task_queue
from approvals.models import DeliveryProblem
from fake_slack.personas import BOT, C_ENG, C_ENG_APPROVALS
from test_support.flows import (
    ALICE,
    BOB,
    DAVE,
    HR,
    ENGINEERING,
    MONDAY,
    WEDNESDAY,
    buttons_in,
    install_config,
    open_app_home,
    open_request_form,
    posted_requests,
    press,
    request_time_off,
    request_values,
    standard_config,
    submit_request,
)
from test_support.slack_faults import PASSING_FAULTS, _faulty_answer, answers_lost, failing
from test_support.slack_requests import (
    block_actions_payload,
    post_command,
    post_interaction,
    view_block_actions_payload,
    view_submission_payload,
)

pytestmark = pytest.mark.django_db

TUESDAY = MONDAY + timedelta(days=1)
FRIDAY = MONDAY + timedelta(days=4)
NEXT_MONDAY = MONDAY + timedelta(days=7)


# --- What the fake Slack saw -----------------------------------------------------------------------------


def requests_in_ledger(fake_slack) -> list:
    return [m for m in fake_slack.workspace.messages(C_ENG_APPROVALS)
            if (m.metadata or {}).get("event_type") == "timeoff_request"]


def the_request(fake_slack):
    [message] = requests_in_ledger(fake_slack)
    return message


def status(fake_slack) -> str:
    return the_request(fake_slack).metadata["event_payload"]["status"]


def dms_to(fake_slack, user) -> list[str]:
    """DMs delivered to `user`."""
    return [c.params["text"] for c in fake_slack.calls("chat.postMessage")
            if c.params.get("channel") == user and c.response.get("ok")]


def ephemerals_to(fake_slack, user) -> list[str]:
    return [c.params["text"] for c in fake_slack.calls("chat.postEphemeral")
            if c.params.get("user") == user and c.response.get("ok")]


def told(fake_slack, user) -> list[str]:
    """Everything `user` was told: DMs and ephemeral notes, as delivered."""
    return dms_to(fake_slack, user) + ephemerals_to(fake_slack, user)


def thread_replies(fake_slack) -> list[str]:
    return [c.params["text"] for c in fake_slack.calls("chat.postMessage")
            if c.params.get("channel") == C_ENG_APPROVALS and c.params.get("thread_ts") and c.response.get("ok")]


def announcements(fake_slack) -> list[str]:
    return [c.params["text"] for c in fake_slack.calls("chat.postMessage")
            if c.params.get("channel") == C_ENG and c.response.get("ok")]


def request_post(method, params) -> bool:
    return method == "chat.postMessage" and params.get("channel") == C_ENG_APPROVALS and not params.get("thread_ts")


def request_rewrite(method, params) -> bool:
    return method == "chat.update" and params.get("channel") == C_ENG_APPROVALS


def runs_of(attempts, name) -> list[tuple[int, object]]:
    return [(attempt, result) for task_name, attempt, result in attempts if task_name == name]


# --- What people do --------------------------------------------------------------------------------------


def approve_as(client, fake_slack, approver, action=ids.APPROVE_ACTION):
    """A click on the request message as it stands now."""
    message = the_request(fake_slack)
    _, value = buttons_in(message.blocks)[action]
    response = post_interaction(client, block_actions_payload(
        user_id=approver, action_id=action, value=value, channel_id=C_ENG_APPROVALS, message_ts=message.ts,
        block_id=ids.DECISION_BLOCK))
    assert response.status_code == 200, response.content
    return response


def receipt(fake_slack, user=ALICE):
    """The receipt DM (the first DM to `user` carrying buttons) as it stands now: (call, blocks)."""
    posted = [c for c in fake_slack.calls("chat.postMessage")
              if c.params.get("channel") == user and buttons_in(c.params.get("blocks"))][0]
    updates = [c for c in fake_slack.calls("chat.update")
               if c.params["channel"] == posted.response["channel"] and c.params["ts"] == posted.response["ts"]]
    blocks = (updates[-1].params if updates else posted.params).get("blocks") or []
    return posted, blocks


def press_on_receipt(client, fake_slack, action_id, user=ALICE):
    posted, blocks = receipt(fake_slack, user)
    return press(client, user, blocks, action_id, channel=posted.response["channel"], ts=posted.response["ts"])


def edit_form(client, fake_slack, user=ALICE) -> dict:
    press_on_receipt(client, fake_slack, ids.EDIT_ACTION, user)
    form = fake_slack.last_call("views.open").params["view"]
    return json.loads(form) if isinstance(form, str) else form


def send_edit(client, form, start, end, *, note="", user=ALICE, view_id="V_EDIT"):
    response = post_interaction(client, view_submission_payload(
        user_id=user, view=form, values=request_values("vacation", start, end, note=note), view_id=view_id,
        view_hash=f"{view_id}.hash"))
    assert response.status_code == 200, response.content
    return response


@contextmanager
def retry_after_header(fake_slack, matches, value: str, *, times=1):
    """Matching calls answered HTTP 429 with `Retry-After: value` (any text), not made."""
    real_handle = fake_slack.handle
    met = []

    def handle(method, params, headers):
        if matches(method, params) and len(met) < times:
            met.append(params)
            return 429, {"Retry-After": value}, {"ok": False, "error": "ratelimited"}
        return real_handle(method, params, headers)

    fake_slack.handle = handle
    try:
        yield met
    finally:
        del fake_slack.handle


@contextmanager
def several_faults(fake_slack, *rules):
    """As slack_faults.failing, for several kinds of call at once: each rule is (matches, fault, times)."""
    real_handle = fake_slack.handle
    met = [[] for _ in rules]

    def handle(method, params, headers):
        for (matches, fault, times), seen in zip(rules, met):
            if matches(method, params) and (times is None or len(seen) < times):
                seen.append(params)
                if fault not in PASSING_FAULTS:
                    return 200, {}, {"ok": False, "error": fault}
                return _faulty_answer(fault, lambda: real_handle(method, params, headers))
        return real_handle(method, params, headers)

    fake_slack.handle = handle
    try:
        yield met
    finally:
        del fake_slack.handle


@pytest.fixture
def in_call_sleeps(no_backoff, monkeypatch):
    """The seconds each client's 429 handler slept inside a call (recorded, not slept)."""
    import types

    from slack_sdk.http_retry import builtin_handlers

    slept = []
    monkeypatch.setattr(builtin_handlers, "time", types.SimpleNamespace(sleep=slept.append))
    return slept


# --- Slack slow or down: the background client and the task's attempts ----------------------------------


def test_it_waits_out_a_retry_after_of_ten_seconds_inside_the_call(client, fake_slack, in_call_sleeps, attempts):
    """"It waits out a `Retry-After` of up to 10 s inside the call"."""
    install_config()
    fake_slack.rate_limit("chat.postMessage", retry_after=10, times=1)

    request_time_off(client, fake_slack, ALICE)

    assert [s for s in in_call_sleeps if 10 <= s < 11], in_call_sleeps  # Retry-After, plus the client's jitter
    assert runs_of(attempts, "deliver_request") == [(1, TaskResultStatus.SUCCESSFUL)]
    assert len(requests_in_ledger(fake_slack)) == 1


def test_it_ends_the_attempt_at_once_on_a_retry_after_longer_than_ten_seconds(client, fake_slack, in_call_sleeps,
                                                                              attempts, caplog):
    """"a longer one (or one that is not whole seconds) ends the attempt at once, so a worker thread never
    sleeps for minutes" — and the next attempt is "never sooner than the last 429's `Retry-After`"."""
    install_config()
    caplog.set_level(logging.WARNING, logger="approvals.task_queue")
    view = open_request_form(client, fake_slack, ALICE)
    with retry_after_header(fake_slack, request_post, "120"):
        submit_request(client, ALICE, view, request_values("vacation", MONDAY, WEDNESDAY))

    assert not [s for s in in_call_sleeps if s > 10]
    assert runs_of(attempts, "deliver_request") == [(2, TaskResultStatus.SUCCESSFUL), (1, TaskResultStatus.FAILED)]
    assert any("retrying in 120s" in r.getMessage() for r in caplog.records), [r.getMessage() for r in caplog.records]
    assert len(requests_in_ledger(fake_slack)) == 1


def test_a_retry_after_that_is_not_whole_seconds_ends_the_attempt_at_once(client, fake_slack, in_call_sleeps,
                                                                          attempts):
    """"a longer one (or one that is not whole seconds) ends the attempt at once"."""
    install_config()
    view = open_request_form(client, fake_slack, ALICE)
    with retry_after_header(fake_slack, request_post, "1.5") as met:
        submit_request(client, ALICE, view, request_values("vacation", MONDAY, WEDNESDAY))

    assert len(met) == 1
    assert in_call_sleeps == []
    assert (1, TaskResultStatus.FAILED) in runs_of(attempts, "deliver_request")
    assert len(requests_in_ledger(fake_slack)) == 1


def test_a_retry_after_of_an_hour_delays_the_next_attempt_by_fifteen_minutes_at_most(client, fake_slack, no_sleeping,
                                                                                     caplog):
    """"and never sooner than the last 429's `Retry-After` (capped at 15 minutes)"."""
    install_config()
    caplog.set_level(logging.WARNING, logger="approvals.task_queue")
    view = open_request_form(client, fake_slack, ALICE)
    with retry_after_header(fake_slack, request_post, "3600"):
        submit_request(client, ALICE, view, request_values("vacation", MONDAY, WEDNESDAY))

    delays = [int(m.group(1)) for r in caplog.records if (m := re.search(r"retrying in (\d+)s", r.getMessage()))]
    assert delays == [15 * 60]
    assert len(requests_in_ledger(fake_slack)) == 1


def test_a_delivery_slack_keeps_failing_is_tried_six_times_with_growing_delays(client, fake_slack, no_sleeping,
                                                                               attempts, caplog):
    """"enqueues the next attempt with a growing delay (5 s, 10 s, 20 s, … six attempts in all)"."""
    install_config()
    caplog.set_level(logging.WARNING, logger="approvals.task_queue")
    view = open_request_form(client, fake_slack, ALICE)
    with failing(fake_slack, request_post, "service_unavailable", times=None) as met:
        submit_request(client, ALICE, view, request_values("vacation", MONDAY, WEDNESDAY, note="Ski week"))

    delays = [int(m.group(1)) for r in caplog.records
              if "deliver_request" in r.getMessage() and (m := re.search(r"retrying in (\d+)s", r.getMessage()))]
    assert sorted(delays) == [5, 10, 20, 40, 80]  # logged innermost first: the test backend runs a retry at once
    assert sorted(a for a, _ in runs_of(attempts, "deliver_request")) == [1, 2, 3, 4, 5, 6]
    assert len(met) == 6
    [notice] = [t for t in dms_to(fake_slack, ALICE) if "did not reach your approvers" in t]
    assert "gave up after 6 tries" in notice and "Ski week" in notice


def test_a_decision_that_spent_five_attempts_still_sends_every_follow_up_meeting_one_fault_each(
        client, fake_slack, no_sleeping, attempts):
    """"An attempt that got further than the one before ... is not counted against the six: a decision
    whose thread reply, DMs and announcement each meet one passing fault still sends them all." Here the
    rewrite itself used five of the six attempts first."""
    install_config()
    request_time_off(client, fake_slack, ALICE)

    def thread_reply(method, params):
        return method == "chat.postMessage" and bool(params.get("thread_ts"))

    def approved_dm(method, params):
        return method == "chat.postMessage" and params.get("channel") == ALICE and "approved" in str(params.get("text"))

    def announcement(method, params):
        return method == "chat.postMessage" and params.get("channel") == C_ENG

    with several_faults(fake_slack, (request_rewrite, "http_503", 5), (thread_reply, "internal_error", 1),
                        (approved_dm, "http_500", 1), (announcement, "service_unavailable", 1)):
        approve_as(client, fake_slack, BOB)

    assert status(fake_slack) == "approved"
    assert len(thread_replies(fake_slack)) == 1
    assert len([t for t in dms_to(fake_slack, ALICE) if "approved" in t]) == 1
    assert len(announcements(fake_slack)) == 1
    assert not [t for t in told(fake_slack, BOB) if "could not" in t]
    assert DeliveryProblem.objects.count() == 0


def test_a_withdrawal_slack_keeps_failing_is_told_by_a_note_that_outlasts_the_outage(client, fake_slack,
                                                                                     no_sleeping, attempts):
    """"or whoever asked for a withdrawal, cancellation or edit (a note that Slack, still down, refuses then
    is sent by a task of its own, which keeps trying for about 40 minutes: ten attempts instead of six)"."""
    install_config()
    request_time_off(client, fake_slack, ALICE)

    def note_to_alice(method, params):
        return (method in ("chat.postMessage", "chat.postEphemeral")
                and ALICE in (params.get("channel"), params.get("user")) and "withdraw" in str(params.get("text")))

    with several_faults(fake_slack, (request_rewrite, "http_503", None), (note_to_alice, "http_503", 8)) as met:
        refused_notes = met[1]
        press_on_receipt(client, fake_slack, ids.WITHDRAW_ACTION)

    assert status(fake_slack) == "pending"
    assert len(refused_notes) == 8  # the note met eight 503s (more than six attempts) and was sent all the same
    [note] = [t for t in told(fake_slack, ALICE) if "withdraw" in t]
    assert "Slack kept failing" in note and "try again in a few minutes" in note
    assert max(a for a, _ in runs_of(attempts, "tell_user")) <= task_queue.INFRASTRUCTURE_ATTEMPTS


# --- Refused for good -----------------------------------------------------------------------------------


def test_an_approval_after_the_bot_was_removed_from_the_approvals_channel_is_told_as_refused(client, fake_slack,
                                                                                            no_sleeping):
    """"A decision ... that Slack refuses for good (`cant_update_message`, `message_not_found`, the bot
    removed from the channel) is told as such — "Slack refused it …, so trying again will not help; HR has
    been told" ... and recorded for HR the same way"."""
    install_config()
    request_time_off(client, fake_slack, ALICE)
    fake_slack.workspace.channels[C_ENG_APPROVALS].members.discard(BOT)

    approve_as(client, fake_slack, BOB)

    assert status(fake_slack) == "pending"
    [note] = [t for t in told(fake_slack, BOB) if "approval" in t]
    assert "Slack refused it (" in note and "trying again will not help" in note and "HR has been told" in note, note
    assert "kept failing" not in note and "few minutes" not in note
    [problem] = DeliveryProblem.objects.all()
    assert problem.user == BOB
    assert not [t for t in dms_to(fake_slack, ALICE) if "approved" in t]


def test_a_withdrawal_slack_refuses_for_good_is_told_as_such_and_recorded_for_hr(client, fake_slack, no_sleeping):
    """"A decision, a withdrawal, a cancellation or an edit that Slack refuses for good ... is told as such
    ... and recorded for HR the same way"."""
    install_config()
    request_time_off(client, fake_slack, ALICE)
    fake_slack.fail("chat.update", "message_not_found", times=None)

    press_on_receipt(client, fake_slack, ids.WITHDRAW_ACTION)

    assert status(fake_slack) == "pending"
    [note] = [t for t in told(fake_slack, ALICE) if "withdraw" in t]
    assert "Slack refused it (message_not_found)" in note and "trying again will not help" in note, note
    assert "HR has been told" in note
    [problem] = DeliveryProblem.objects.all()
    assert problem.error == "message_not_found" and problem.user == ALICE


def test_an_edit_slack_refuses_for_good_shows_back_the_dates_and_note_asked_for(client, fake_slack, no_sleeping):
    """"an edit that fails shows back the dates and note that were asked for"."""
    install_config()
    request_time_off(client, fake_slack, ALICE)
    form = edit_form(client, fake_slack)
    fake_slack.fail("chat.update", "cant_update_message", times=None)

    send_edit(client, form, NEXT_MONDAY, NEXT_MONDAY + timedelta(days=1), note="Moved a week")

    assert the_request(fake_slack).metadata["event_payload"]["start"] == MONDAY.isoformat()
    [note] = [t for t in told(fake_slack, ALICE) if "edit" in t]
    assert "Slack refused it (cant_update_message)" in note and "trying again will not help" in note
    assert "Mon 17 Mar 2031" in note and "Tue 18 Mar 2031" in note and "Moved a week" in note, note


def test_an_edit_slack_keeps_failing_says_try_again_later_and_shows_back_what_was_asked(client, fake_slack,
                                                                                       no_sleeping):
    """"the person waiting is told — ... or whoever asked for a withdrawal, cancellation or edit" and "an
    edit that fails shows back the dates and note that were asked for"."""
    install_config()
    request_time_off(client, fake_slack, ALICE)
    form = edit_form(client, fake_slack)

    with failing(fake_slack, request_rewrite, "ratelimited_http_200", times=None):
        send_edit(client, form, FRIDAY, FRIDAY, note="Just Friday")

    assert the_request(fake_slack).metadata["event_payload"]["end"] == WEDNESDAY.isoformat()
    [note] = [t for t in told(fake_slack, ALICE) if "edit" in t]
    assert "Slack kept failing (ratelimited)" in note and "few minutes" in note
    assert "Fri 14 Mar 2031" in note and "Just Friday" in note
    assert DeliveryProblem.objects.count() == 0  # a passing fault: nothing for HR to fix


# --- Slack acted, its answer lost -----------------------------------------------------------------------


def test_an_approval_nobody_could_confirm_tells_the_approver_to_click_only_if_the_buttons_remain(
        client, fake_slack, no_sleeping):
    """"an approver that it may be recorded and to click again only if the buttons are still there" —
    never that the click was not recorded."""
    install_config()
    request_time_off(client, fake_slack, ALICE)

    with answers_lost(fake_slack, "chat.update", then_unreadable=True, every_time=True):
        approve_as(client, fake_slack, BOB)

    [note] = [t for t in told(fake_slack, BOB) if "approval" in t]
    assert "could not confirm" in note and "still shows Approve and Reject" in note, note
    assert "not recorded" not in note and "could not record" not in note


def test_a_withdrawal_nobody_could_confirm_is_never_told_as_unchanged(client, fake_slack, no_sleeping):
    """"and whoever withdrew, cancelled or edited a request that it could not be confirmed — never ... "it
    is unchanged"."""
    install_config()
    request_time_off(client, fake_slack, ALICE)

    with answers_lost(fake_slack, "chat.update", then_unreadable=True, every_time=True):
        press_on_receipt(client, fake_slack, ids.WITHDRAW_ACTION)

    [note] = [t for t in told(fake_slack, ALICE) if "withdraw" in t]
    assert "could not confirm" in note and "/timeoff list" in note, note
    assert "unchanged" not in note


def test_an_edit_nobody_could_confirm_shows_back_what_was_asked(client, fake_slack, no_sleeping):
    """"whoever ... edited a request that it could not be confirmed" (and "an edit that fails shows back
    the dates and note that were asked for")."""
    install_config()
    request_time_off(client, fake_slack, ALICE)
    form = edit_form(client, fake_slack)

    with answers_lost(fake_slack, "chat.update", then_unreadable=True, every_time=True):
        send_edit(client, form, TUESDAY, WEDNESDAY, note="One day less")

    [note] = [t for t in told(fake_slack, ALICE) if "edit" in t]
    assert "could not confirm" in note and "unchanged" not in note, note
    assert "Tue 11 Mar 2031" in note and "One day less" in note


def test_a_request_nobody_could_confirm_asks_to_check_the_list_and_hr_sees_it_unconfirmed(client, fake_slack,
                                                                                         no_sleeping):
    """"the requester is told it could not be confirmed, to check `/timeoff list` before sending it again
    (HR sees it as `unconfirmed: …`)" — never "did not reach your approvers"."""
    install_config()
    view = open_request_form(client, fake_slack, ALICE)
    with answers_lost(fake_slack, "chat.postMessage", then_unreadable=True, every_time=True):
        submit_request(client, ALICE, view, request_values("vacation", MONDAY, WEDNESDAY, note="Ski week"))

    [note] = [t for t in dms_to(fake_slack, ALICE) if "confirm" in t]
    assert "/timeoff list" in note and "Ski week" in note
    assert not [t for t in dms_to(fake_slack, ALICE) if "did not reach" in t]
    [problem] = DeliveryProblem.objects.all()
    assert problem.error.startswith("unconfirmed: "), problem.error


def test_a_request_posted_then_looked_for_is_not_posted_twice_when_the_answer_was_cut_halfway(client, fake_slack,
                                                                                            no_sleeping):
    """"An answer cut off halfway (the connection closed in the middle of its body) is such a lost answer,
    never a refusal" and "A request is looked for in the ledger before it is posted again"."""
    install_config()
    fake_slack.truncate_answer("chat.postMessage", times=1)

    request_time_off(client, fake_slack, ALICE, note="Ski week")

    assert len(requests_in_ledger(fake_slack)) == 1
    assert not [t for t in dms_to(fake_slack, ALICE) if "did not reach" in t or "confirm" in t]
    assert len([t for t in dms_to(fake_slack, ALICE) if "is with" in t]) == 1


# --- Success is never reported as failure --------------------------------------------------------------


def test_follow_ups_slack_keeps_failing_after_an_approval_are_a_delivery_problem_naming_the_approver(
        client, fake_slack, no_sleeping):
    """"when Slack keeps failing until the last attempt, that too is a *Delivery problem* (`follow-ups:
    <error>`: "U…'s approval is in the ledger, but not all of its follow-ups … could be sent")" — and "the
    approver is not told their click failed"."""
    install_config()
    request_time_off(client, fake_slack, ALICE)

    def announcement(method, params):
        return method == "chat.postMessage" and params.get("channel") == C_ENG

    with failing(fake_slack, announcement, "http_500", times=None):
        approve_as(client, fake_slack, BOB)

    assert status(fake_slack) == "approved"
    assert not [t for t in told(fake_slack, BOB) if "could not" in t or "Sorry" in t]
    [problem] = DeliveryProblem.objects.all()
    assert problem.error.startswith("follow-ups: "), problem.error
    assert f"{BOB}'s approval is in the ledger" in problem.summary, problem.summary


def test_an_approval_whose_announcement_is_refused_is_a_problem_for_hr_and_still_an_approval(client, fake_slack,
                                                                                              no_sleeping, caplog):
    """"a follow-up Slack refuses for good (the bot not in the announce channel, a DM refused) is logged and
    recorded as a *Delivery problem* for HR ... the approver is not told their click failed and the requester
    is not told their request did not arrive"."""
    install_config()
    request_time_off(client, fake_slack, ALICE)
    fake_slack.workspace.channels[C_ENG].members.discard(BOT)

    approve_as(client, fake_slack, BOB)

    assert status(fake_slack) == "approved"
    assert len([t for t in dms_to(fake_slack, ALICE) if "approved" in t]) == 1
    assert not [t for t in told(fake_slack, BOB) if "could not" in t or "Sorry" in t]
    assert not [t for t in dms_to(fake_slack, ALICE) if "did not reach" in t]
    [problem] = DeliveryProblem.objects.all()
    assert "not_in_channel" in problem.error
    assert any(r.levelno >= logging.WARNING and "not_in_channel" in r.getMessage() for r in caplog.records)


# --- Our side, not Slack's ------------------------------------------------------------------------------


def test_a_cold_delivery_that_waited_on_another_processs_ledger_read_says_so(client, fake_slack, no_sleeping,
                                                                            monkeypatch):
    """"A task that waited, attempt after attempt, for another process's read of a cold ledger says
    "reading the leave history from Slack is taking longer than usual"."""
    from approvals import ledger_reader

    install_config()
    view = open_request_form(client, fake_slack, ALICE)
    caches["default"].clear()
    monkeypatch.setattr(ledger_reader, "COLD_WAIT_SECONDS", 0)
    assert cache_lock.acquire(ledger_reader.REFRESH_LOCK, timeout=600, wait=0)  # another process reading

    response = submit_request(client, ALICE, view, request_values("vacation", MONDAY, WEDNESDAY, note="Ski week"))

    assert response.status_code == 200
    assert requests_in_ledger(fake_slack) == []
    [note] = [t for t in dms_to(fake_slack, ALICE) if "Ski week" in t]
    assert "reading the leave history from Slack is taking longer than usual" in note, note
    assert "Slack kept failing" not in note and "on our side" not in note


def test_hrs_list_of_requests_that_did_not_get_through_blames_our_side_when_our_cache_failed(
        client, fake_slack, no_sleeping, monkeypatch, admin_client):
    """"when what failed is ours (the database, the cache, a lock another process holds) the person is told
    "something went wrong on our side", and HR's record (the setup page's list of requests that did not get
    through) says "our database, cache or a lock failed", not a Slack timeout"."""
    from redis.exceptions import TimeoutError as RedisTimeoutError

    from approvals import request_services

    install_config()
    view = open_request_form(client, fake_slack, ALICE)

    def cache_timed_out(*args, **kwargs):
        raise RedisTimeoutError("Timeout reading from socket")

    monkeypatch.setattr(request_services, "request_deliver", cache_timed_out)
    submit_request(client, ALICE, view, request_values("vacation", MONDAY, WEDNESDAY))

    [note] = [t for t in dms_to(fake_slack, ALICE) if "did not reach" in t]
    assert "something went wrong on our side" in note and "Slack" not in note.split("What you asked")[0], note
    page = admin_client.get("/console/setup/").content.decode()
    assert "our database, cache or a lock failed" in page
    assert "no answer in time" not in page and "Slack kept failing" not in page


# --- Forms Slack would not open --------------------------------------------------------------------------


def test_a_reject_whose_form_slack_would_not_open_is_answered_where_the_button_was(client, fake_slack):
    """"a click on Reject ... is answered at once and the person is told to click again (an ephemeral where
    the button was ...)" — a 429 "asks them to wait a minute first"."""
    install_config()
    request_time_off(client, fake_slack, ALICE)
    fake_slack.rate_limit("views.open", retry_after=30)

    approve_as(client, fake_slack, BOB, action=ids.REJECT_ACTION)

    notes = [c for c in fake_slack.calls("chat.postEphemeral") if c.params.get("user") == BOB]
    assert notes and notes[-1].params["channel"] == C_ENG_APPROVALS
    assert "wait a minute" in notes[-1].params["text"]
    assert status(fake_slack) == "pending"


def test_app_homes_request_button_whose_form_would_not_open_is_answered_by_dm(client, fake_slack):
    """"from App Home, which has no channel, by DM" — an expired trigger "says it took too long"."""
    install_config()
    home = open_app_home(client, fake_slack, ALICE, event_id="Ev_HOME_1")
    block_id, value = buttons_in(home["blocks"])[ids.NEW_REQUEST_ACTION]
    fake_slack.fail("views.open", "expired_trigger_id")

    response = post_interaction(client, view_block_actions_payload(
        user_id=ALICE, action_id=ids.NEW_REQUEST_ACTION, value=value, block_id=block_id, view=home))

    assert response.status_code == 200
    [note] = dms_to(fake_slack, ALICE)
    assert "too long" in note, note


# --- Duplicates -----------------------------------------------------------------------------------------


def test_a_second_approver_on_app_home_after_a_decision_is_told_by_dm_who_decided(client, fake_slack):
    """"the others are told who decided (where they clicked: an ephemeral note in the channel, a DM from App
    Home)" — and the decision is made once."""
    install_config()
    request_time_off(client, fake_slack, ALICE)
    home = open_app_home(client, fake_slack, DAVE, event_id="Ev_HOME_DAVE")
    block_id, value = buttons_in(home["blocks"])[ids.APPROVE_ACTION]
    approve_as(client, fake_slack, BOB)
    updates_before = len([c for c in fake_slack.calls("chat.update") if c.params["channel"] == C_ENG_APPROVALS])

    response = post_interaction(client, view_block_actions_payload(
        user_id=DAVE, action_id=ids.APPROVE_ACTION, value=value, block_id=block_id, view=home))

    assert response.status_code == 200
    assert len([c for c in fake_slack.calls("chat.update") if c.params["channel"] == C_ENG_APPROVALS]) == updates_before
    [note] = [t for t in dms_to(fake_slack, DAVE) if "already" in t]
    assert "approved" in note and BOB in note, note
    assert len(announcements(fake_slack)) == 1
    assert len([t for t in dms_to(fake_slack, ALICE) if "approved" in t]) == 1


def test_the_same_form_submitted_twice_sends_one_request(client, fake_slack):
    """"The same modal submitted twice (same view id and hash) sends one request"."""
    install_config()
    view = open_request_form(client, fake_slack, ALICE)
    values = request_values("vacation", MONDAY, WEDNESDAY)

    first = submit_request(client, ALICE, view, values, view_id="V_TWICE", view_hash="h_twice")
    second = submit_request(client, ALICE, view, values, view_id="V_TWICE", view_hash="h_twice")

    assert first.status_code == second.status_code == 200
    assert len(requests_in_ledger(fake_slack)) == 1
    assert len([t for t in dms_to(fake_slack, ALICE) if "is with" in t]) == 1


# --- Metadata as Slack documents it ---------------------------------------------------------------------


def test_a_warning_on_rewriting_a_ledger_entry_is_logged_with_its_id(client, fake_slack, caplog):
    """"any `warning` or `response_metadata.warnings` on posting or updating a ledger entry is logged with
    its id"."""
    install_config()
    request_time_off(client, fake_slack, ALICE)
    request_id = the_request(fake_slack).metadata["event_payload"]["id"]
    real_handle = fake_slack.handle

    def with_warning(method, params, headers):
        status_code, extra, body = real_handle(method, params, headers)
        if request_rewrite(method, params) and body.get("ok"):
            body = {**body, "warning": "missing_charset",
                    "response_metadata": {"warnings": ["missing_charset"]}}
        return status_code, extra, body

    fake_slack.handle = with_warning
    try:
        approve_as(client, fake_slack, BOB)
    finally:
        del fake_slack.handle

    assert status(fake_slack) == "approved"
    lines = [r.getMessage() for r in caplog.records if "missing_charset" in r.getMessage()]
    assert lines and any(request_id in line for line in lines), lines


# --- Only permanent refusals are remembered --------------------------------------------------------------


def test_a_mistyped_approver_id_costs_one_lookup_not_one_per_request(client, fake_slack, no_sleeping):
    """"a user id that names nobody (`users.info`: `user_not_found`, `user_not_visible`) is remembered for
    ten minutes too, so a mistyped id in the configuration costs one call, not one before every DM"."""
    typo = "U_NOBODY1"
    install_config(standard_config(teams=(replace(ENGINEERING, approvers=replace(ENGINEERING.approvers,
                                                                                  users=(BOB, typo))),)))
    request_time_off(client, fake_slack, ALICE)
    approve_as(client, fake_slack, BOB)
    view = open_request_form(client, fake_slack, DAVE)
    submit_request(client, DAVE, view, request_values("vacation", NEXT_MONDAY, NEXT_MONDAY), view_id="V_DAVE")

    lookups = [c for c in fake_slack.calls("users.info") if c.params.get("user") == typo]
    assert len(lookups) <= 1, len(lookups)
    assert len(requests_in_ledger(fake_slack)) == 2


def test_a_member_lookup_failing_for_now_is_not_no_team_and_the_request_arrives(client, fake_slack, no_sleeping):
    """"Meanwhile requests treat membership as unknown (accepted now, checked in the task), never as "no
    team is configured for you"" — and "nothing is cached and the task retries with backoff"."""
    install_config()
    fake_slack.fail("conversations.members", "internal_error", times=3)

    response = post_command(client, "", user_id=ALICE)

    assert response.status_code == 200
    assert b"no team" not in response.content.lower()
    view = fake_slack.last_call("views.open").params["view"]
    submit_request(client, ALICE, view, request_values("vacation", MONDAY, WEDNESDAY))
    assert len(requests_in_ledger(fake_slack)) == 1
    assert not [t for t in told(fake_slack, ALICE) if "no team" in t.lower()]


# --- Cold caches and busy locks on the request path ------------------------------------------------------


def test_a_busy_team_lock_held_by_a_colleague_is_reported_after_a_second_without_blaming_the_person(
        client, fake_slack):
    """"Nothing on the request path waits long: a busy lock (the database cache's team lock, a person's
    submissions racing) is reported after a second". Dave's submission holds Engineering's lock; Alice,
    who sent nothing else, is answered at once and told what is going on."""
    import time

    from django.core.cache import caches
    from django.core.cache.backends.redis import RedisCache

    from approvals import ledger_reader

    install_config()
    request_time_off(client, fake_slack, DAVE, start=NEXT_MONDAY, end=NEXT_MONDAY)  # warms the team's ledger
    view = open_request_form(client, fake_slack, ALICE)
    token = cache_lock.acquire(ledger_reader._pending_lock("Engineering"), timeout=60, wait=0)
    assert token  # Dave's submission, still at work

    started = time.monotonic()
    response = submit_request(client, ALICE, view, request_values("vacation", MONDAY, WEDNESDAY),
                              view_id="V_ALICE_BUSY", view_hash="h_busy")
    elapsed = time.monotonic() - started
    cache_lock.release(ledger_reader._pending_lock("Engineering"), token)

    assert response.status_code == 200 and elapsed < 2.5
    if isinstance(caches["default"], RedisCache):
        # On Redis the team's requests in flight are added in one atomic step: no team lock to wait for.
        assert response.content == b"" and len(posted_requests(fake_slack)) == 2
        return
    body = response.json()
    assert body["response_action"] == "errors"
    [error] = body["errors"].values()
    assert "press Submit again in a moment" in error
    # She has no other request: the lock is the team's, held by someone else's submission.
    assert "Another of your requests" not in error, error


def test_an_approval_from_app_home_slack_keeps_failing_is_told_to_the_approver_by_dm(client, fake_slack,
                                                                                     no_sleeping):
    """"After the last one the person waiting is told — ... the approver whose click could not be recorded"
    — from App Home, which has no channel, by DM."""
    install_config()
    request_time_off(client, fake_slack, ALICE)
    home = open_app_home(client, fake_slack, DAVE, event_id="Ev_HOME_DAVE2")
    block_id, value = buttons_in(home["blocks"])[ids.APPROVE_ACTION]

    with failing(fake_slack, request_rewrite, "http_503", times=None):
        response = post_interaction(client, view_block_actions_payload(
            user_id=DAVE, action_id=ids.APPROVE_ACTION, value=value, block_id=block_id, view=home))

    assert response.status_code == 200
    assert status(fake_slack) == "pending"
    [note] = [t for t in dms_to(fake_slack, DAVE) if "approval" in t]
    assert "could not record your approval" in note and "Slack kept failing" in note, note


def test_a_cancellation_slack_made_though_its_answer_was_lost_sends_its_follow_ups_once(client, fake_slack,
                                                                                        no_sleeping):
    """"A rewrite of a request's message (a decision, a withdrawal, a cancellation, an edit) that fails in
    any way is taken as possibly made ...: the next attempt that finds it made sends what follows it (the
    thread reply, the DMs) instead of stopping there"."""
    install_config()
    request_time_off(client, fake_slack, ALICE)
    approve_as(client, fake_slack, BOB)
    replies_before = len(thread_replies(fake_slack))

    with answers_lost(fake_slack, "chat.update", then_unreadable=False) as acted:
        press_on_receipt(client, fake_slack, ids.CANCEL_ACTION)

    assert len(acted) == 1
    assert status(fake_slack) == "cancelled"
    assert len(thread_replies(fake_slack)) == replies_before + 1
    assert not [t for t in told(fake_slack, ALICE) if "could not" in t or "Sorry" in t]
    assert DeliveryProblem.objects.count() == 0


def test_a_token_refused_by_slack_on_a_member_lookup_is_not_remembered_as_no_team(client, fake_slack):
    """"A member look-up that meets one is remembered as "no members" for ten minutes ... — except a token
    Slack refuses (`invalid_auth`, `token_revoked`, `account_inactive`), which says nothing of the channel
    and would tell people "no team" after a reinstall"."""
    install_config()
    with failing(fake_slack, lambda method, params: method == "conversations.members", "token_revoked", times=None):
        post_command(client, "", user_id=ALICE)  # the token refused while she opens the form

    # The app is installed again: the next look-up answers, and she is in Engineering.
    view = open_request_form(client, fake_slack, ALICE)
    submit_request(client, ALICE, view, request_values("vacation", MONDAY, WEDNESDAY), view_id="V_AFTER")

    assert len(requests_in_ledger(fake_slack)) == 1
    assert not [t for t in told(fake_slack, ALICE) if "no team" in t.lower()]


def test_a_background_refresh_meeting_a_passing_fault_logs_a_warning_and_the_cached_ledger_keeps_serving(
        client, fake_slack, no_sleeping, caplog, monkeypatch):
    """"Background refreshes are best effort: one that meets a passing fault logs a warning and the cached
    ledger keeps serving.\""""
    from approvals import ledger_reader

    install_config()
    request_time_off(client, fake_slack, ALICE)
    post_command(client, "balance", user_id=ALICE)
    monkeypatch.setattr(ledger_reader, "INCREMENTAL_EVERY_SECONDS", 0)  # five minutes have passed
    caplog.clear()
    fake_slack.server_error("conversations.history", status=503, times=None)

    post_command(client, "", user_id=DAVE)  # Dave opens the form: his warm-up refreshes the ledger
    response = post_command(client, "balance", user_id=ALICE)

    assert response.status_code == 200
    text = response.json()["text"]
    assert "Vacation" in text and "couldn't" not in text.lower(), text
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and r.name.startswith("approvals")]
    assert any("cached ledger serves" in w for w in warnings), warnings
    assert fake_slack.calls("conversations.history")[-1].status == 503  # the refresh did meet the fault


def test_a_reject_reason_longer_than_the_form_allows_is_cut_and_every_message_is_sent(client, fake_slack):
    """"A note or a reject reason longer than its form allows (500 characters; Slack's form stops there,
    but a payload need not) is cut to that when it arrives"."""
    install_config()
    request_time_off(client, fake_slack, ALICE)
    approve_as(client, fake_slack, BOB, action=ids.REJECT_ACTION)
    form = fake_slack.last_call("views.open").params["view"]
    form = json.loads(form) if isinstance(form, str) else form
    reason = "<&> " * 3000
    values = {ids.REASON_BLOCK: {ids.REASON_ACTION: {"type": "plain_text_input", "value": reason}}}

    response = post_interaction(client, view_submission_payload(user_id=BOB, view=form, values=values,
                                                                view_id="V_REASON", view_hash="V_REASON.h"))

    assert response.status_code == 200
    assert status(fake_slack) == "rejected"
    stored = the_request(fake_slack).metadata["event_payload"]["reason"]
    assert len(stored) <= 500
    [rejection] = [t for t in dms_to(fake_slack, ALICE) if "rejected" in t]
    assert "&lt;&amp;&gt;" in rejection and "<&>" not in rejection
    assert len(thread_replies(fake_slack)) == 1


def test_a_rejection_slack_keeps_failing_is_told_to_the_approver_who_gave_the_reason(client, fake_slack,
                                                                                    no_sleeping):
    """"After the last one the person waiting is told — ... the approver whose click could not be
    recorded" — here through the reason form, which carries no channel of its own."""
    install_config()
    request_time_off(client, fake_slack, ALICE)
    approve_as(client, fake_slack, BOB, action=ids.REJECT_ACTION)
    form = fake_slack.last_call("views.open").params["view"]
    form = json.loads(form) if isinstance(form, str) else form
    values = {ids.REASON_BLOCK: {ids.REASON_ACTION: {"type": "plain_text_input", "value": "Release week"}}}

    with failing(fake_slack, request_rewrite, "http_500", times=None):
        response = post_interaction(client, view_submission_payload(user_id=BOB, view=form, values=values,
                                                                    view_id="V_REASON2", view_hash="V_REASON2.h"))

    assert response.status_code == 200
    assert status(fake_slack) == "pending"
    [note] = [t for t in told(fake_slack, BOB) if "rejection" in t]
    assert "could not record your rejection" in note and "Slack kept failing" in note, note
    assert not [t for t in dms_to(fake_slack, ALICE) if "rejected" in t]


def test_leave_hr_recorded_that_slack_kept_refusing_is_told_to_hr_who_asked(client, fake_slack, no_sleeping):
    """"After the last one the person waiting is told": when HR records leave for Alice, HR is the one
    waiting; the give-up goes to HR, with what was asked shown back."""
    install_config()
    response = post_command(client, f"for <@{ALICE}|alice> {MONDAY} {WEDNESDAY} vacation", user_id=HR)
    assert response.status_code == 200 and response.content == b"", response.content
    form = fake_slack.last_call("views.open").params["view"]

    with failing(fake_slack, request_post, "http_503", times=None):
        post_interaction(client, view_submission_payload(
            user_id=HR, view=form, values=request_values("vacation", MONDAY, WEDNESDAY, note="Recorded by HR"),
            view_id="V_FOR", view_hash="h-V_FOR"))

    assert requests_in_ledger(fake_slack) == []
    [note] = [t for t in dms_to(fake_slack, HR) if "Slack kept failing" in t]
    assert "Mon 10 Mar 2031" in note and "Recorded by HR" in note, note
    assert not [t for t in dms_to(fake_slack, ALICE) if "Slack kept failing" in t]
