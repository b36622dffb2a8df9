"""README's "When things go wrong", as people live through a Slack outage of minutes, not of one call.

Tasks wait as rows and one worker runs them on a simulated clock (test_support.simulated_time), so each test
can let Slack (or our own cache) fail for a stretch of time — twenty minutes, half an hour, an hour — and
then check what the README promises for that stretch: what is retried and when, what the person waiting is
told and in which words, what HR sees on the console's Setup page, and what is never lost or sent twice.
Everything goes in as signed Slack requests and comes out as the fake Slack's calls and messages.
"""

from contextlib import contextmanager
from datetime import timedelta

import pytest
from django.core.cache import caches
from django.db import OperationalError
from django.tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from approvals import block_ids as ids
from approvals.models import DeliveryProblem
from fake_slack.personas import C_ARCHIVED, C_ENG, C_ENG_APPROVALS
from fake_slack.server import DROPPED
from test_support.direct_messages import is_decision
from test_support.flows import (
    ALICE,
    BOB,
    ENGINEERING,
    MONDAY,
    WEDNESDAY,
    buttons_in,
    install_config,
    open_request_form,
    press,
    request_values,
    standard_config,
    submit_request,
)
from test_support.setup_page import setup_page
from test_support.simulated_time import work_through_the_queue
from test_support.slack_requests import block_actions_payload, post_interaction

pytestmark = pytest.mark.django_db

MINUTE = 60


@pytest.fixture
def hr(client, django_user_model):
    from django.test import Client

    user = django_user_model.objects.create_user("hannah", "hannah@example.com", "pw", is_staff=True,
                                                  is_superuser=True)
    browser = Client()
    browser.force_login(user)
    return browser


# --- What Slack holds, what people were told --------------------------------------------------------------


def request_messages(fake_slack) -> list:
    return [m for m in fake_slack.workspace.messages(C_ENG_APPROVALS)
            if (m.metadata or {}).get("event_type") == "timeoff_request"]


def the_request(fake_slack):
    [message] = request_messages(fake_slack)
    return message


def status(fake_slack) -> str:
    return the_request(fake_slack).metadata["event_payload"]["status"]


def dms_held(fake_slack, user: str) -> list[str]:
    """Every message Slack holds in `user`'s DM with the app."""
    return [m.text for m in fake_slack.workspace.messages(user)]


def told(fake_slack, user: str) -> list[str]:
    """Every DM and ephemeral note Slack accepted for `user`."""
    return [c.params["text"] for c in fake_slack.calls()
            if c.method in ("chat.postMessage", "chat.postEphemeral") and c.response.get("ok")
            and user in (c.params.get("channel"), c.params.get("user"))]


def announcements(fake_slack) -> list[str]:
    return [m.text for m in fake_slack.workspace.messages(C_ENG)]


def thread_replies(fake_slack) -> list[str]:
    message = the_request(fake_slack)
    return [m.text for m in fake_slack.workspace.replies(C_ENG_APPROVALS, message.ts) if m.ts != message.ts]


def request_post(method, params) -> bool:
    return method == "chat.postMessage" and params.get("channel") == C_ENG_APPROVALS and not params.get("thread_ts")


def request_rewrite(method, params) -> bool:
    return method == "chat.update" and params.get("channel") == C_ENG_APPROVALS


def announcement(method, params) -> bool:
    return method == "chat.postMessage" and params.get("channel") == C_ENG


def rows_of(task_name: str) -> list:
    return sorted((row for row in DBTaskResult.objects.all() if row.task_path.endswith(f".{task_name}")),
                  key=lambda row: row.enqueued_at)


# --- Slack (or our cache) down for a stretch of simulated time ---------------------------------------------


@contextmanager
def handled_by(fake_slack, handle):
    """The fake answers through `handle` inside the block; whatever answered before, after it (blocks nest)."""
    before = vars(fake_slack).get("handle")
    fake_slack.handle = handle
    try:
        yield
    finally:
        if before is None:
            del fake_slack.handle
        else:
            fake_slack.handle = before


@contextmanager
def slack_failing_for(fake_slack, clock, matches, seconds: float, *, status_code=503, error="service_unavailable",
                      retry_after: str | None = None):
    """Calls for which `matches(method, params)` holds fail (not made) until `seconds` of simulated time have
    passed; then Slack answers them again. Yields the simulated instants at which they were met."""
    real_handle = fake_slack.handle
    until = clock.monotonic() + seconds
    met: list[float] = []

    def handle(method, params, headers):
        if matches(method, params) and clock.monotonic() < until:
            met.append(clock.monotonic())
            headers_out = {"Retry-After": retry_after} if retry_after is not None else {}
            return status_code, headers_out, {"ok": False, "error": error}
        return real_handle(method, params, headers)

    with handled_by(fake_slack, handle):
        yield met


@contextmanager
def calls_timed(fake_slack, clock, matches):
    """The simulated instants of every call `matches` picks (answered as usual)."""
    real_handle = fake_slack.handle
    seen: list[float] = []

    def handle(method, params, headers):
        if matches(method, params):
            seen.append(clock.monotonic())
        return real_handle(method, params, headers)

    with handled_by(fake_slack, handle):
        yield seen


@contextmanager
def our_cache_down_in_tasks(monkeypatch, clock, seconds: float):
    """The shared cache refuses every read and write made inside a task (the database cache's table
    locked: "database is locked") for `seconds` of simulated time; Slack's requests to us still find it."""
    backend = caches["default"]
    until = clock.monotonic() + seconds
    refused = []

    def refusing(name):
        real = getattr(backend, name)

        def call(*args, **kwargs):
            if clock.task_name and clock.monotonic() < until:
                refused.append((clock.task_name, name))
                raise OperationalError("database is locked")
            return real(*args, **kwargs)
        return call

    for name in ("get", "set", "add", "delete", "get_many", "set_many", "delete_many", "incr", "touch",
                 "has_key", "get_or_set"):
        monkeypatch.setattr(backend, name, refusing(name))
    yield refused


# --- What people do ---------------------------------------------------------------------------------------


def send_request(client, fake_slack, *, start=MONDAY, end=WEDNESDAY, note="Ski week", view_id="V_REQ"):
    view = open_request_form(client, fake_slack, ALICE)
    response = submit_request(client, ALICE, view, request_values("vacation", start, end, note=note),
                              view_id=view_id, view_hash=f"{view_id}.h")
    assert response.status_code == 200, response.content
    return response


def approve_as(client, fake_slack, approver=BOB, action=ids.APPROVE_ACTION):
    message = the_request(fake_slack)
    _, value = buttons_in(message.blocks)[action]
    response = post_interaction(client, block_actions_payload(
        user_id=approver, action_id=action, value=value, channel_id=C_ENG_APPROVALS, message_ts=message.ts,
        block_id=ids.DECISION_BLOCK))
    assert response.status_code == 200, response.content


def press_on_receipt(client, fake_slack, action_id):
    receipt = next(c for c in fake_slack.calls("chat.postMessage")
                   if c.params.get("channel") == ALICE and buttons_in(c.params.get("blocks")))
    rewrites = [c for c in fake_slack.calls("chat.update") if c.response.get("ok")
                and c.params["channel"] == receipt.response["channel"] and c.params["ts"] == receipt.response["ts"]]
    blocks = (rewrites[-1] if rewrites else receipt).params["blocks"]  # as it stands now (rewritten after a decision)
    press(client, ALICE, blocks, action_id, channel=receipt.response["channel"], ts=receipt.response["ts"])


def delivered_request(client, fake_slack, clock):
    install_config()
    send_request(client, fake_slack)
    work_through_the_queue(clock)
    assert len(request_messages(fake_slack)) == 1


# --- Slack slow or down: the attempts of a task ------------------------------------------------------------


def test_a_delivery_slack_keeps_failing_is_tried_six_times_over_about_two_and_a_half_minutes(client, fake_slack,
                                                                                             clock, no_backoff):
    """"enqueues the next attempt with a growing delay (5 s, 10 s, 20 s, … six attempts in all; each names
    the one before it in `previous_attempt`)" and "is recorded as failed, with its error"."""
    install_config()
    with slack_failing_for(fake_slack, clock, request_post, 3600) as met:
        send_request(client, fake_slack)
        work_through_the_queue(clock)

    assert len(met) >= 6
    rows = rows_of("deliver_request")
    assert [row.status for row in rows] == [TaskResultStatus.FAILED] * 6
    # Each attempt runs at its run_after and sets the next one's: the gaps between them are the delays.
    gaps = [round((later.run_after - earlier.run_after).total_seconds()) for earlier, later in zip(rows[1:], rows[2:])]
    assert gaps == [10, 20, 40, 80], gaps
    for earlier, later in zip(rows, rows[1:]):
        assert later.args_kwargs["kwargs"]["previous_attempt"] == str(earlier.id)
    assert all("service_unavailable" in (row.traceback or "") for row in rows), [row.traceback for row in rows]
    assert request_messages(fake_slack) == []
    [notice] = [t for t in dms_held(fake_slack, ALICE) if "did not reach your approvers" in t]
    assert "please send it again in a few minutes" in notice and "Ski week" in notice, notice


def test_the_next_attempt_after_a_long_retry_after_comes_no_sooner_than_slack_said(client, fake_slack, clock,
                                                                                   no_backoff):
    """"a longer one ... ends the attempt at once, so a worker thread never sleeps for minutes" and "its
    task's next attempt comes when Slack said"."""
    install_config()
    with slack_failing_for(fake_slack, clock, request_post, 1, status_code=429, error="ratelimited",
                           retry_after="90"):
        with calls_timed(fake_slack, clock, request_post) as posts:  # sees every post, the refused one too
            send_request(client, fake_slack)
            work_through_the_queue(clock)

    assert len(posts) == 2, posts
    assert posts[1] - posts[0] >= 90, posts
    assert not [seconds for seconds, _ in clock.sleeps if seconds > 10], clock.sleeps
    assert len(request_messages(fake_slack)) == 1


def test_a_request_given_up_on_is_no_obstacle_to_sending_it_again(client, fake_slack, clock, no_backoff):
    """After the last attempt the requester is told "please send it again in a few minutes"; "the lost
    request is no obstacle to the new one": the same dates, sent again once Slack is back, go through."""
    install_config()
    with slack_failing_for(fake_slack, clock, request_post, 10 * MINUTE):
        send_request(client, fake_slack, view_id="V_FIRST")
        work_through_the_queue(clock, until=clock.monotonic() + 5 * MINUTE)
    assert [t for t in dms_held(fake_slack, ALICE) if "send it again in a few minutes" in t]
    clock.move_on(10 * MINUTE)

    response = send_request(client, fake_slack, view_id="V_AGAIN")
    work_through_the_queue(clock)

    assert response.content == b"", response.content  # the form closed: no "overlaps your request"
    [message] = request_messages(fake_slack)
    assert message.metadata["event_payload"]["start"] == MONDAY.isoformat()
    assert not [t for t in dms_held(fake_slack, ALICE) if "overlap" in t.lower()]


# --- A decision and a 429 ----------------------------------------------------------------------------------


def test_an_approval_met_by_a_short_retry_after_is_not_slept_out_under_its_lock_and_rereads_before_writing(
        client, fake_slack, clock, no_backoff):
    """"Its write uses a client that ... never sleeps out a 429's `Retry-After` ...: the attempt fails at
    once, and the next one, after `Retry-After`, re-reads the message under the lock" — even a Retry-After
    the ordinary background client would wait out inside the call (8 s)."""
    delivered_request(client, fake_slack, clock)
    sleeps_before = len(clock.sleeps)

    with slack_failing_for(fake_slack, clock, request_rewrite, 1, status_code=429, error="ratelimited",
                           retry_after="8"):
        with calls_timed(fake_slack, clock, request_rewrite) as rewrites, \
                calls_timed(fake_slack, clock, lambda m, p: m == "conversations.history"
                            and p.get("channel") == C_ENG_APPROVALS) as reads:
            approve_as(client, fake_slack)
            work_through_the_queue(clock)

    assert not [s for s, _ in clock.sleeps[sleeps_before:] if s >= 8], clock.sleeps[sleeps_before:]
    assert len(rewrites) >= 2 and rewrites[1] - rewrites[0] >= 8, rewrites
    assert [t for t in reads if rewrites[0] < t <= rewrites[1]], (reads, rewrites)  # re-read before writing again
    assert status(fake_slack) == "approved"
    assert len([t for t in dms_held(fake_slack, ALICE) if is_decision(t)]) == 1
    assert len(announcements(fake_slack)) == 1


# --- A success is never reported as a failure: follow-ups settled later -----------------------------------


def test_an_announcement_slack_fails_for_twenty_minutes_still_goes_out_once_and_nobody_hears_of_a_problem(
        client, fake_slack, clock, no_backoff):
    """"when Slack keeps failing until the last attempt of a decision's ... task, a settle task ... keeps
    sending what is missing for about 40 minutes more, and only after that is it a *Delivery problem*"."""
    delivered_request(client, fake_slack, clock)

    with slack_failing_for(fake_slack, clock, announcement, 20 * MINUTE) as met:
        approve_as(client, fake_slack)
        work_through_the_queue(clock)

    assert len(met) >= 6  # the decision's own attempts all met it
    assert status(fake_slack) == "approved"
    assert len(announcements(fake_slack)) == 1
    assert len([t for t in dms_held(fake_slack, ALICE) if is_decision(t)]) == 1
    assert len(thread_replies(fake_slack)) == 1
    assert not [t for t in told(fake_slack, BOB) if "could not" in t or "Sorry" in t]
    assert not DeliveryProblem.objects.exists()


def test_follow_ups_slack_fails_for_an_hour_become_a_delivery_problem_only_after_about_forty_minutes(
        client, fake_slack, clock, no_backoff, hr):
    """"... and only after that is it a *Delivery problem* (`follow-ups: <error>`: "U…'s approval is in the
    ledger, but not all of its follow-ups … could be sent"), so HR knows whom to tell by hand"."""
    delivered_request(client, fake_slack, clock)
    started = clock.monotonic()

    with slack_failing_for(fake_slack, clock, announcement, 2 * 60 * MINUTE):
        approve_as(client, fake_slack)
        work_through_the_queue(clock, until=started + 20 * MINUTE)
        assert not DeliveryProblem.objects.exists(), "told HR after twenty minutes"
        work_through_the_queue(clock)
        took = clock.monotonic() - started

    assert 30 * MINUTE <= took <= 60 * MINUTE, took
    [problem] = DeliveryProblem.objects.all()
    assert problem.error.startswith("follow-ups: "), problem.error
    assert f"{BOB}'s approval is in the ledger" in problem.summary, problem.summary
    assert status(fake_slack) == "approved"
    assert not [t for t in told(fake_slack, BOB) if "could not" in t or "Sorry" in t]
    page = setup_page(hr)
    assert problem.error in page or "follow-ups" in page


def test_a_withdrawal_note_slack_refuses_for_half_an_hour_still_reaches_the_requester_once(client, fake_slack,
                                                                                          clock, no_backoff):
    """"or whoever asked for a withdrawal ... (a note that Slack, still down, refuses then is sent by a task
    of its own, which keeps trying for about 40 minutes: ten attempts instead of six)"."""
    delivered_request(client, fake_slack, clock)

    def note_to_alice(method, params):
        return (method in ("chat.postMessage", "chat.postEphemeral")
                and ALICE in (params.get("channel"), params.get("user")) and "withdraw" in str(params.get("text")))

    with slack_failing_for(fake_slack, clock, request_rewrite, 60 * MINUTE), \
            slack_failing_for(fake_slack, clock, note_to_alice, 30 * MINUTE) as refused_notes:
        press_on_receipt(client, fake_slack, ids.WITHDRAW_ACTION)
        work_through_the_queue(clock)

    assert len(refused_notes) >= 7
    assert status(fake_slack) == "pending"
    notes = [t for t in told(fake_slack, ALICE) if "withdraw" in t]
    assert len(notes) == 1, notes
    assert "Slack kept failing" in notes[0] and "try again in a few minutes" in notes[0], notes


# --- Our own services blink ---------------------------------------------------------------------------------


def test_a_request_is_delivered_once_though_our_cache_refused_every_task_for_twenty_minutes(client, fake_slack,
                                                                                           clock, no_backoff,
                                                                                           monkeypatch):
    """"Redis restarting or not answering ..., PostgreSQL restarting and SQLite's "database is locked" are
    passing faults for a task ...: the attempt fails and the next one runs after its backoff, for about 40
    minutes (ten attempts) rather than 2.5"."""
    install_config()
    view = open_request_form(client, fake_slack, ALICE)
    with our_cache_down_in_tasks(monkeypatch, clock, 20 * MINUTE) as refused:
        submit_request(client, ALICE, view, request_values("vacation", MONDAY, WEDNESDAY, note="Ski week"))
        work_through_the_queue(clock)

    assert [name for name, _ in refused if name == "deliver_request"], refused
    assert len(request_messages(fake_slack)) == 1
    assert len([t for t in dms_held(fake_slack, ALICE) if "is with" in t]) == 1
    assert not [t for t in dms_held(fake_slack, ALICE) if "did not reach" in t or "Sorry" in t]


def test_a_delivery_our_cache_keeps_refusing_is_given_ten_attempts_over_about_forty_minutes(client, fake_slack,
                                                                                            clock, no_backoff,
                                                                                            monkeypatch):
    """"... for about 40 minutes (ten attempts) rather than 2.5, since a task that gives up while the cache
    is down cannot even tell whoever waits"; and nothing reaches Slack half done."""
    install_config()
    view = open_request_form(client, fake_slack, ALICE)
    started = clock.monotonic()
    with our_cache_down_in_tasks(monkeypatch, clock, 3 * 60 * MINUTE):
        submit_request(client, ALICE, view, request_values("vacation", MONDAY, WEDNESDAY, note="Ski week"))
        work_through_the_queue(clock, until=started + 2 * 60 * MINUTE)

    rows = rows_of("deliver_request")
    assert len(rows) == 10, len(rows)
    assert all(row.status == TaskResultStatus.FAILED for row in rows)
    last_run = (rows[-1].run_after - rows[0].enqueued_at).total_seconds()
    assert 30 * MINUTE <= last_run <= 50 * MINUTE, last_run
    assert request_messages(fake_slack) == []


# --- Refused for good ---------------------------------------------------------------------------------------


def test_a_request_to_an_archived_approvals_channel_ends_at_once_and_hr_sees_it_on_the_setup_page(
        client, fake_slack, clock, no_backoff, hr, caplog):
    """"A permanent error (`channel_not_found`, `not_in_channel`, `is_archived`, ...) ends the task at once,
    DMs the requester that the request did not reach approvers with what they asked for shown back, logs an
    error and records a *Delivery problem*"."""
    import logging
    from dataclasses import replace

    install_config(standard_config(teams=(replace(ENGINEERING, approvals_channel=C_ARCHIVED),)))
    with calls_timed(fake_slack, clock, lambda m, p: m == "chat.postMessage" and p.get("channel") == C_ARCHIVED) \
            as posts:
        send_request(client, fake_slack, note="Ski week")
        work_through_the_queue(clock)

    assert len(posts) <= 1
    assert [row.status for row in rows_of("deliver_request")] in ([TaskResultStatus.FAILED],
                                                                 [TaskResultStatus.SUCCESSFUL])
    [notice] = [t for t in dms_held(fake_slack, ALICE) if "did not reach your approvers" in t]
    assert "Mon 10 Mar 2031" in notice and "Wed 12 Mar 2031" in notice and "Ski week" in notice, notice
    assert "few minutes" not in notice, notice
    [problem] = DeliveryProblem.objects.all()
    assert problem.error == "is_archived", problem.error
    assert any(r.levelno >= logging.ERROR and "is_archived" in r.getMessage() for r in caplog.records)
    page = setup_page(hr)
    assert "is_archived" in page and "Not delivered:" in page


def test_an_approval_whose_rewrite_slack_refuses_for_good_is_tried_once_not_for_minutes(client, fake_slack,
                                                                                       clock, no_backoff):
    """"A decision ... that Slack refuses for good (`cant_update_message`, ...) is told as such — "Slack
    refused it …, so trying again will not help; HR has been told" — not "try again in a few minutes""."""
    delivered_request(client, fake_slack, clock)
    started = clock.monotonic()

    with slack_failing_for(fake_slack, clock, request_rewrite, 60 * MINUTE, status_code=200,
                           error="cant_update_message") as met:
        approve_as(client, fake_slack)
        work_through_the_queue(clock)

    assert len(met) == 1, met
    assert clock.monotonic() - started < 5, clock.monotonic() - started
    [note] = [t for t in told(fake_slack, BOB) if "approval" in t]
    assert "Slack refused it (cant_update_message)" in note and "trying again will not help" in note, note
    assert "HR has been told" in note and "few minutes" not in note
    assert DeliveryProblem.objects.filter(user=BOB).exists()
    assert status(fake_slack) == "pending"


# --- Slack posts, but the answer is lost --------------------------------------------------------------------


@pytest.mark.parametrize("fault", ["answer_lost", "dropped"])
def test_an_approval_dm_slack_made_but_whose_answer_was_lost_arrives_once(client, fake_slack, clock, no_backoff,
                                                                         fault):
    """"the DMs a task sends (the receipt, the decision, ...) are posted with a client that does not retry
    such failures inside the call ...; the attempt after such a failure looks in the ... person's DM with the
    app since then and posts only if it is not there"."""
    delivered_request(client, fake_slack, clock)
    real_handle = fake_slack.handle
    lost = []

    def losing(method, params, headers):
        answer = real_handle(method, params, headers)
        if (method == "chat.postMessage" and params.get("channel") == ALICE and is_decision(str(params.get("text")))
                and answer[2].get("ok") and not lost):
            lost.append(params)
            return (500, {}, {"ok": False, "error": "fatal_error"}) if fault == "answer_lost" else (DROPPED, {}, answer[2])
        return answer

    with handled_by(fake_slack, losing):
        approve_as(client, fake_slack)
        work_through_the_queue(clock)

    assert lost
    assert len([t for t in dms_held(fake_slack, ALICE) if is_decision(t)]) == 1, dms_held(fake_slack, ALICE)
    assert len(announcements(fake_slack)) == 1
    assert len(thread_replies(fake_slack)) == 1
    assert not DeliveryProblem.objects.exists()


def test_a_thread_reply_slack_made_but_whose_answer_was_lost_is_not_posted_twice(client, fake_slack, clock,
                                                                                no_backoff):
    """"Thread replies, announcements ... are posted with a client that does not retry such failures inside
    the call, and carry metadata naming what they are for (`timeoff_notice`)"; the next attempt "looks in the
    channel, thread ... since then and posts only if it is not there"."""
    delivered_request(client, fake_slack, clock)
    real_handle = fake_slack.handle
    lost = []

    def losing(method, params, headers):
        answer = real_handle(method, params, headers)
        if method == "chat.postMessage" and params.get("thread_ts") and answer[2].get("ok") and not lost:
            lost.append(params)
            return 504, {}, {"ok": False, "error": "fatal_error"}
        return answer

    with handled_by(fake_slack, losing):
        approve_as(client, fake_slack)
        work_through_the_queue(clock)

    assert lost
    replies = thread_replies(fake_slack)
    assert len(replies) == 1, replies
    [reply] = [m for m in fake_slack.workspace.replies(C_ENG_APPROVALS, the_request(fake_slack).ts)
               if m.ts != the_request(fake_slack).ts]
    assert (reply.metadata or {}).get("event_type") == "timeoff_notice", reply.metadata
    assert len(announcements(fake_slack)) == 1


# --- A worker dies ------------------------------------------------------------------------------------------


def test_a_delivery_whose_worker_died_after_posting_is_requeued_and_not_posted_twice(client, fake_slack, clock,
                                                                                    no_backoff, monkeypatch):
    """"Our `task_worker` requeues tasks RUNNING for longer than `TASK_STUCK_AFTER_SECONDS` ... whose worker
    has been silent as long" and "a delivery marks in the shared cache that it is about to post, and an
    attempt that finds the mark ... looks for its request id among the approvals channel's newest messages
    before posting"."""
    from django.utils import timezone

    from approvals import request_services, task_queue

    install_config()

    class WorkerKilled(BaseException):
        """The process gone (SIGKILL) right after Slack made the post: nothing of the task runs after it."""

    real_post = request_services.post_request

    def post_then_die(*args, **kwargs):
        real_post(*args, **kwargs)
        raise WorkerKilled()

    monkeypatch.setattr(request_services, "post_request", post_then_die)
    send_request(client, fake_slack)
    work_through_the_queue(clock)
    monkeypatch.setattr(request_services, "post_request", real_post)

    [row] = rows_of("deliver_request")
    assert len(request_messages(fake_slack)) == 1
    assert not [t for t in dms_held(fake_slack, ALICE) if "is with" in t]  # it died before the receipt
    # A killed worker records nothing: its row stays RUNNING, started eleven minutes ago, with no heartbeat.
    DBTaskResult.objects.filter(id=row.id).update(status=TaskResultStatus.RUNNING,
                                                  started_at=timezone.now() - timedelta(minutes=11))
    assert task_queue.recover_stuck_tasks() == 1

    work_through_the_queue(clock)

    assert len(request_messages(fake_slack)) == 1
    assert len([t for t in dms_held(fake_slack, ALICE) if "is with" in t]) == 1
    assert not [t for t in dms_held(fake_slack, ALICE) if "did not reach" in t]


def test_a_decision_is_recorded_once_and_its_follow_ups_sent_when_its_worker_died_after_the_write(
        client, fake_slack, clock, no_backoff, monkeypatch):
    """"a decision re-reads the message and does nothing to a request already decided" and "the next attempt
    that finds it made sends what follows it (the thread reply, the DMs) instead of stopping there" — here
    the attempt after a worker killed right after the rewrite, requeued by the recovery step."""
    from django.utils import timezone

    from approvals import request_services, task_queue

    delivered_request(client, fake_slack, clock)

    class WorkerKilled(BaseException):
        """The process gone right after Slack rewrote the message."""

    real_handle = fake_slack.handle
    rewritten = []

    def handle(method, params, headers):
        answer = real_handle(method, params, headers)
        if request_rewrite(method, params) and answer[2].get("ok"):
            rewritten.append(params)
        return answer

    real_decide = request_services.request_decide

    def decide_then_die(*args, **kwargs):
        with handled_by(fake_slack, handle):
            try:
                real_decide(*args, **kwargs)
            finally:
                if rewritten:
                    raise WorkerKilled()

    monkeypatch.setattr(request_services, "request_decide", decide_then_die)
    approve_as(client, fake_slack)
    work_through_the_queue(clock)
    monkeypatch.setattr(request_services, "request_decide", real_decide)
    [row] = rows_of("decide_request")
    DBTaskResult.objects.filter(id=row.id).update(status=TaskResultStatus.RUNNING,
                                                  started_at=timezone.now() - timedelta(minutes=11))
    assert status(fake_slack) == "approved"
    updates_before = len([c for c in fake_slack.calls("chat.update") if c.params["channel"] == C_ENG_APPROVALS])

    assert task_queue.recover_stuck_tasks() == 1
    work_through_the_queue(clock)

    assert len([c for c in fake_slack.calls("chat.update") if c.params["channel"] == C_ENG_APPROVALS]) == updates_before
    assert len(thread_replies(fake_slack)) == 1
    assert len([t for t in dms_held(fake_slack, ALICE) if is_decision(t)]) == 1
    assert len(announcements(fake_slack)) == 1
    assert not [t for t in told(fake_slack, BOB) if "already" in t or "could not" in t]


def test_a_thread_reply_met_by_a_long_retry_after_is_not_tried_again_before_it_though_another_fault_followed(
        client, fake_slack, clock, no_backoff):
    """"A task attempt that still fails on a passing fault ... enqueues the next attempt with a growing
    delay ..., and never sooner than the last 429's `Retry-After`": the thread reply meets a 429 (Retry-After
    60 s, more than the client waits out) and then the announcement a 503 in the same attempt."""
    delivered_request(client, fake_slack, clock)

    def thread_reply(method, params):
        return method == "chat.postMessage" and bool(params.get("thread_ts"))

    with slack_failing_for(fake_slack, clock, thread_reply, 1, status_code=429, error="ratelimited",
                           retry_after="60"), \
            slack_failing_for(fake_slack, clock, announcement, 1):
        with calls_timed(fake_slack, clock, thread_reply) as replies:
            approve_as(client, fake_slack)
            work_through_the_queue(clock)

    assert len(replies) >= 2, replies
    assert replies[1] - replies[0] >= 60, replies
    assert len(thread_replies(fake_slack)) == 1
    assert len(announcements(fake_slack)) == 1


def test_a_cancellations_thread_reply_slack_fails_for_twenty_minutes_still_reaches_the_approvers_once(
        client, fake_slack, clock, no_backoff):
    """"cancelling approved leave tells the approvers in the thread"; "when Slack keeps failing until the
    last attempt of a decision's or change's task, a settle task (below) keeps sending what is missing for
    about 40 minutes more, and only after that is it a *Delivery problem*"."""
    delivered_request(client, fake_slack, clock)
    approve_as(client, fake_slack)
    work_through_the_queue(clock)
    replies_before = len(thread_replies(fake_slack))

    def thread_reply(method, params):
        return method == "chat.postMessage" and bool(params.get("thread_ts"))

    with slack_failing_for(fake_slack, clock, thread_reply, 20 * MINUTE) as met:
        press_on_receipt(client, fake_slack, ids.CANCEL_ACTION)
        work_through_the_queue(clock)

    assert len(met) >= 6
    assert status(fake_slack) == "cancelled"
    assert len(thread_replies(fake_slack)) == replies_before + 1
    assert not [t for t in told(fake_slack, ALICE) if "could not" in t or "Sorry" in t]
    assert not DeliveryProblem.objects.exists()


def test_a_receipt_slack_keeps_failing_is_a_problem_for_hr_not_a_request_that_did_not_arrive(client, fake_slack,
                                                                                            clock, no_backoff, hr):
    """"A task that gives up after a post ... looks in the channel before saying it failed: once the ledger
    holds it, only its follow-ups are reported lost" and "the requester is not told their request did not
    arrive"."""
    install_config()

    def receipt(method, params):
        return method == "chat.postMessage" and params.get("channel") == ALICE and "is with" in str(params.get("text"))

    with slack_failing_for(fake_slack, clock, receipt, 3 * 60 * MINUTE) as met:
        send_request(client, fake_slack)
        work_through_the_queue(clock)

    assert len(met) >= 6
    assert len(request_messages(fake_slack)) == 1
    assert not [t for t in dms_held(fake_slack, ALICE) if "did not reach" in t or "confirm" in t]
    [problem] = DeliveryProblem.objects.all()
    assert not problem.undelivered, problem.summary
    page = setup_page(hr)
    assert "Not delivered:" not in page


def test_a_thread_reply_refused_with_ratelimited_at_http_200_is_left_to_the_next_attempt_not_hammered(
        client, fake_slack, clock, no_backoff):
    """"The look and the post are tried again within the call, three times in all ...; a fault that lasts
    longer, or a rate limit (... `ratelimited` at HTTP 200, which says no wait), is left to the task's next
    attempt (seconds later, with backoff ...)"."""
    delivered_request(client, fake_slack, clock)

    def thread_reply(method, params):
        return method == "chat.postMessage" and bool(params.get("thread_ts"))

    with slack_failing_for(fake_slack, clock, thread_reply, 1, status_code=200, error="ratelimited"):
        with calls_timed(fake_slack, clock, thread_reply) as replies:
            approve_as(client, fake_slack)
            work_through_the_queue(clock)

    assert len(replies) == 2, replies  # the refused one, then one more: not three in a row
    assert replies[1] - replies[0] >= 5, replies
    assert len(thread_replies(fake_slack)) == 1
    assert status(fake_slack) == "approved"
    assert len(announcements(fake_slack)) == 1
