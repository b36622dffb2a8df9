"""A month of use while Slack half-fails: several people ask, approvers decide, people change their minds,
and the daily jobs run, while Slack fails each call the first time it is made to each place.

Slack fails the ways it really does (test_support.slack_faults): a 429 with Retry-After, a 500 or 503, a
gateway's HTML page, `internal_error`, `fatal_error`, `ratelimited` in a 200 body, a call made whose answer
was lost, a connection dropped after the call was made, an answer mangled on the way. Sometimes the first
call only, sometimes several in a row, sometimes after Slack applied the write. Everything goes through
signed, Slack-shaped requests, the tasks (run at once, or as rows a worker takes in order) and the daily
jobs (`run_jobs`, and the scheduler's tick). After each sequence:

- every submission is in the ledger exactly once, or its requester was told by DM with their input shown;
- each decision is applied once: one thread reply, one DM, one announcement, even with two approvers
  clicking while Slack is slow;
- a passing fault is never told to a person as a failure for good, nor cached as an answer ("no members");
- the daily jobs post once per team and period, even when a first attempt failed after Slack applied it.

Ephemeral notes are spared the faults that make a call and lose its answer: they cannot be read back, and
may arrive twice. DMs are not: one Slack made and lost is looked for in the person's DM before it is sent
again (test_dms_sent_once).
"""

from dataclasses import replace
from datetime import date, datetime, timedelta
from datetime import time as dt_time
from zoneinfo import ZoneInfo

import pytest
from django.core.cache import cache
from django.core.management import CommandError
from django.utils import timezone

from approvals import block_ids as ids
from approvals import directory
from approvals.job_services import jobs_run_due
from approvals.models import JobRun
from fake_slack.personas import C_ENG, C_ENG_APPROVALS, C_ENG_LEADS
from test_support.flows import (
    ALICE,
    BOB,
    DAVE,
    ENGINEERING,
    install_config,
    open_request_form,
    request_values,
    standard_config,
    submit_request,
)
from test_support.job_runs import run_jobs
from test_support.slack_faults import MANGLED_200, PASSING_FAULTS, _faulty_answer, failing, slow
from test_support.slack_requests import block_actions_payload, post_command, post_interaction, view_submission_payload
from test_support.task_rows import run_queued_tasks

pytestmark = pytest.mark.django_db

LA = ZoneInfo("America/Los_Angeles")
# March 2031: clear of US/CA holidays, far in the future.
FRIDAY = date(2031, 3, 7)
MONDAY = date(2031, 3, 10)
TUESDAY = date(2031, 3, 11)
WEDNESDAY = date(2031, 3, 12)
MADE_THEN_LOST = {"answer_lost", "dropped", *MANGLED_200}
IN_THE_REQUEST = {"views.open", "views.update", "views.push"}  # answered while Slack waits: not this file's
FAILED_FOR_GOOD = ("did not reach", "could not record", "It is unchanged", "could not edit", "could not confirm",
                   "Slack kept failing", "Slack refused", "trying again will not help", "no team")


# --- Slack failing each place the first time ------------------------------------------------------


def place_of(method: str, params: dict) -> tuple:
    """Where a call goes: a channel (a thread in it, a message of it), a person, a list."""
    return (method, params.get("channel") or params.get("user") or params.get("user_id") or params.get("usergroup"),
            params.get("thread_ts") or params.get("ts") or "")


def to_a_person(method: str, params: dict) -> bool:
    """A note only the person sees (chat.postEphemeral), which cannot be read back."""
    return method == "chat.postEphemeral"


class FirstCallFails:
    """Each background call to a place it has not been made to before meets `fault`, `times` times."""

    def __init__(self, fake_slack, fault: str, times: int = 1):
        self.fake_slack, self.fault, self.times = fake_slack, fault, times
        self.met: dict[tuple, int] = {}

    def __enter__(self):
        real_handle = self.fake_slack.handle

        def handle(method, params, headers):
            if method in IN_THE_REQUEST:
                return real_handle(method, params, headers)
            place = place_of(method, params)
            if self.met.get(place, 0) >= self.times:
                return real_handle(method, params, headers)
            self.met[place] = self.met.get(place, 0) + 1
            fault = self.fault
            if fault in MADE_THEN_LOST and to_a_person(method, params):
                fault = "http_500"  # a DM or a note is spared what makes it and loses the answer
            return _faulty_answer(fault, lambda: real_handle(method, params, headers))

        self.fake_slack.handle = handle
        return self

    def __exit__(self, *exc):
        del self.fake_slack.handle


# --- What people do --------------------------------------------------------------------------------


def ask(client, fake_slack, user: str, start: date, end: date, *, note: str = "", view_id: str) -> None:
    view = open_request_form(client, fake_slack, user)
    response = submit_request(client, user, view, request_values("vacation", start, end, note=note), view_id=view_id)
    assert response.status_code == 200 and response.content == b"", response.content


def requests_in_ledger(fake_slack) -> list:
    return [m for m in fake_slack.workspace.messages(C_ENG_APPROVALS)
            if (m.metadata or {}).get("event_type") == "timeoff_request"]


def request_of(fake_slack, user: str, start: date):
    found = [m for m in requests_in_ledger(fake_slack)
             if m.metadata["event_payload"]["user"] == user and m.metadata["event_payload"]["start"] == start.isoformat()]
    assert len(found) <= 1, [m.metadata["event_payload"] for m in found]
    return found[0] if found else None


def decide(client, user: str, message, action_id: str):
    actions = next(b for b in message.blocks if b.get("type") == "actions")
    value = next(b["value"] for b in actions["elements"] if b["action_id"] == action_id)
    response = post_interaction(client, block_actions_payload(
        user_id=user, action_id=action_id, value=value, channel_id=message.channel, message_ts=message.ts,
        block_id=ids.DECISION_BLOCK))
    assert response.status_code == 200, response.content
    return response


def reject_with_reason(client, fake_slack, user: str, message, reason: str, *, view_id: str) -> None:
    decide(client, user, message, ids.REJECT_ACTION)
    modal = fake_slack.last_call("views.open").params["view"]
    values = {ids.REASON_BLOCK: {ids.REASON_ACTION: {"type": "plain_text_input", "value": reason}}}
    response = post_interaction(client, view_submission_payload(user_id=user, view=modal, values=values,
                                                                view_id=view_id))
    assert response.status_code == 200 and response.content == b"", response.content


def withdraw_from_list(client, user: str, request_id: str) -> None:
    """`/timeoff list`, then Withdraw on that request's row."""
    answer = post_command(client, "list", user_id=user)
    blocks = answer.json()["blocks"]
    block = next(b for b in blocks if b.get("block_id") == f"{ids.LIST_BLOCK_PREFIX}{request_id}")
    value = next(e["value"] for e in block["elements"] if e["action_id"] == ids.WITHDRAW_ACTION)
    payload = block_actions_payload(user_id=user, action_id=ids.WITHDRAW_ACTION, value=value,
                                    block_id=block["block_id"], channel_id="D_X", message_ts="1766000000.000200")
    payload["container"]["is_ephemeral"] = True
    payload.pop("message")
    assert post_interaction(client, payload).status_code == 200


# --- What everyone sees ------------------------------------------------------------------------------


def told(fake_slack, user: str) -> list[str]:
    """What `user` was told, as delivered: DMs and ephemeral notes."""
    return [m.text for m in fake_slack.workspace.messages(user)] + [
        e.text for e in fake_slack.workspace.ephemerals if e.user == user]


def thread_of(fake_slack, message) -> list[str]:
    return [m.text for m in fake_slack.workspace.replies(C_ENG_APPROVALS, message.ts) if m.ts != message.ts]


def announce_channel(fake_slack) -> list[str]:
    return [m.text for m in fake_slack.workspace.messages(C_ENG)]


def assert_nobody_told_of_failure(fake_slack, *people) -> None:
    for person in people:
        bad = [text for text in told(fake_slack, person) if any(words in text for words in FAILED_FOR_GOOD)]
        assert not bad, (person, bad)


def month_config():
    install_config(standard_config(teams=(replace(ENGINEERING, digest_time=dt_time(9, 0), nudge_after_hours=48),)))


# --- A month, Slack failing each place the first time -------------------------------------------------


@pytest.mark.parametrize("fault", PASSING_FAULTS)
def test_a_month_of_requests_decisions_and_changes_is_done_once_when_slack_fails_every_first_call(
        client, fake_slack, no_sleeping, fault):
    month_config()
    with FirstCallFails(fake_slack, fault) as slack:
        ask(client, fake_slack, ALICE, MONDAY, WEDNESDAY, note="Ski week", view_id="V_A1")
        ask(client, fake_slack, DAVE, MONDAY + timedelta(days=14), MONDAY + timedelta(days=14), view_id="V_D1")
        ask(client, fake_slack, ALICE, MONDAY + timedelta(days=21), MONDAY + timedelta(days=22), view_id="V_A2")
        decide(client, BOB, request_of(fake_slack, ALICE, MONDAY), ids.APPROVE_ACTION)
        reject_with_reason(client, fake_slack, BOB, request_of(fake_slack, DAVE, MONDAY + timedelta(days=14)),
                           "Release week", view_id="V_REJ1")
        later = request_of(fake_slack, ALICE, MONDAY + timedelta(days=21))
        withdraw_from_list(client, ALICE, later.metadata["event_payload"]["id"])
    assert slack.met, "Slack never failed"

    ledger = requests_in_ledger(fake_slack)
    ids_seen = [m.metadata["event_payload"]["id"] for m in ledger]
    assert len(ids_seen) == len(set(ids_seen)) == 3, [m.metadata["event_payload"] for m in ledger]
    approved = request_of(fake_slack, ALICE, MONDAY)
    rejected = request_of(fake_slack, DAVE, MONDAY + timedelta(days=14))
    withdrawn = request_of(fake_slack, ALICE, MONDAY + timedelta(days=21))
    assert (approved.metadata["event_payload"]["status"], rejected.metadata["event_payload"]["status"],
            withdrawn.metadata["event_payload"]["status"]) == ("approved", "rejected", "cancelled")
    assert rejected.metadata["event_payload"]["reason"] == "Release week"
    assert thread_of(fake_slack, approved) == [f"Approved by <@{BOB}>"]
    assert thread_of(fake_slack, rejected) == [f"Rejected by <@{BOB}>: Release week"]
    assert len([t for t in thread_of(fake_slack, withdrawn) if t.startswith("Withdrawn by")]) == 1
    assert len(announce_channel(fake_slack)) == 1, announce_channel(fake_slack)  # Alice's approved week
    assert len([t for t in told(fake_slack, ALICE) if "approved your :palm_tree:" in t]) == 1
    assert len([t for t in told(fake_slack, DAVE) if "rejected your :palm_tree:" in t]) == 1
    assert_nobody_told_of_failure(fake_slack, ALICE, DAVE, BOB)
    # What Slack failed to list for a moment is not remembered as nobody.
    for channel in (C_ENG, C_ENG_LEADS):
        members = directory.cached_channel_members(channel)
        assert members is None or isinstance(members, frozenset) and members, (channel, members)


@pytest.mark.parametrize("fault", ["rate_limited_429", "ratelimited_http_200", "internal_error", "answer_lost",
                                   "dropped", "html_page_200"])
def test_the_daily_jobs_of_a_month_post_once_when_slack_fails_every_first_call(client, fake_slack, no_sleeping,
                                                                                fault):
    # The scheduler's tick (run_scheduler): each due job is a task, which retries its passing faults.
    month_config()
    ask(client, fake_slack, ALICE, MONDAY, WEDNESDAY, view_id="V_A1")
    decide(client, BOB, request_of(fake_slack, ALICE, MONDAY), ids.APPROVE_ACTION)
    fake_slack.clear_calls()
    announced = len(announce_channel(fake_slack))

    with FirstCallFails(fake_slack, fault) as slack:
        for day, hour in ((FRIDAY, 15), (MONDAY, 9), (TUESDAY, 9), (WEDNESDAY, 9)):
            jobs_run_due(datetime(day.year, day.month, day.day, hour, 0, tzinfo=LA), team="Engineering")
            jobs_run_due(datetime(day.year, day.month, day.day, hour, 5, tzinfo=LA), team="Engineering")
    assert slack.met

    posts = announce_channel(fake_slack)[announced:]
    assert len([t for t in posts if "Who's out" in t]) == 1, posts
    assert len([t for t in posts if "Out today (Tue 11 Mar)" in t]) == 1, posts
    assert len([t for t in posts if "Out today (Wed 12 Mar)" in t]) == 1, posts
    assert len([t for t in told(fake_slack, ALICE) if "starts on Mon 10 Mar" in t]) == 1
    assert set(JobRun.objects.filter(finished_at__isnull=True).values_list("job", flat=True)) == set()
    assert not JobRun.objects.exclude(error="").exists(), list(JobRun.objects.values("job", "error"))


def test_an_approval_whose_follow_ups_each_meet_one_passing_fault_still_sends_every_follow_up(
        client, fake_slack, no_sleeping):
    # Slack fails once each call the decision makes (the re-read, the rewrite, the thread reply and the look
    # for it, the DM, the receipt's rewrite, the announcement): every call succeeds when tried again.
    month_config()
    ask(client, fake_slack, ALICE, MONDAY, WEDNESDAY, note="Ski week", view_id="V_A1")
    with FirstCallFails(fake_slack, "internal_error") as slack:
        decide(client, BOB, request_of(fake_slack, ALICE, MONDAY), ids.APPROVE_ACTION)
    assert len(slack.met) >= 6

    decided = request_of(fake_slack, ALICE, MONDAY)
    assert decided.metadata["event_payload"]["status"] == "approved"
    assert thread_of(fake_slack, decided) == [f"Approved by <@{BOB}>"]
    assert len([t for t in told(fake_slack, ALICE) if "approved your :palm_tree:" in t]) == 1
    assert len(announce_channel(fake_slack)) == 1, "the team never heard that Alice will be out"


def test_a_submission_whose_calls_each_meet_one_passing_fault_reaches_the_approvers(client, fake_slack, no_sleeping):
    # Ten minutes after the form warmed the caches, the member lists are asked again; each call of the
    # delivery (the lists, the post, the look for it, the receipt) fails once, then works.
    month_config()
    view = open_request_form(client, fake_slack, ALICE)
    directory.forget_memberships(C_ENG, C_ENG_LEADS)
    with FirstCallFails(fake_slack, "internal_error") as slack:
        response = submit_request(client, ALICE, view, request_values("vacation", MONDAY, WEDNESDAY, note="Ski week"))
    assert response.status_code == 200 and response.content == b""
    assert slack.met

    assert len(requests_in_ledger(fake_slack)) == 1
    assert len([t for t in told(fake_slack, ALICE) if "is with" in t]) == 1  # the receipt
    assert_nobody_told_of_failure(fake_slack, ALICE)


# --- Two approvers, Slack slow ---------------------------------------------------------------------


@pytest.fixture
def database_tasks(settings):
    """Tasks wait as rows until a worker takes them, oldest first (as django-tasks-db's db_worker)."""
    settings.TASKS = {"default": {"BACKEND": "approvals.task_backend.DatabaseBackend"}}


def decision_write(method, params):
    return method == "chat.update" and params.get("channel") == C_ENG_APPROVALS


@pytest.mark.parametrize("second", [ids.APPROVE_ACTION, ids.REJECT_ACTION])
def test_two_approvers_clicking_while_the_first_write_lands_without_an_answer_make_one_decision(
        client, fake_slack, no_sleeping, database_tasks, second):
    month_config()
    ask(client, fake_slack, ALICE, MONDAY, WEDNESDAY, view_id="V_A1")
    run_queued_tasks()
    message = request_of(fake_slack, ALICE, MONDAY)
    # Slack is slow: both click before any decision task runs.
    decide(client, BOB, message, ids.APPROVE_ACTION)
    if second == ids.APPROVE_ACTION:
        decide(client, DAVE, message, ids.APPROVE_ACTION)
    else:
        reject_with_reason(client, fake_slack, DAVE, message, "Release week", view_id="V_REJ1")
    # Bob's rewrite lands each time it is sent (the client's own retries too), and no answer comes back.
    with failing(fake_slack, decision_write, "answer_lost", times=4):
        run_queued_tasks()

    [decided] = requests_in_ledger(fake_slack)
    payload = decided.metadata["event_payload"]
    assert (payload["status"], payload["decided_by"]) == ("approved", BOB)
    assert thread_of(fake_slack, decided) == [f"Approved by <@{BOB}>"]
    assert len(announce_channel(fake_slack)) == 1
    assert len([t for t in told(fake_slack, ALICE) if "approved your :palm_tree:" in t]) == 1
    assert not [t for t in told(fake_slack, ALICE) if "rejected" in t]
    dave = told(fake_slack, DAVE)
    assert len(dave) == 1 and "already approved" in dave[0] and f"<@{BOB}>" in dave[0], dave
    assert_nobody_told_of_failure(fake_slack, ALICE, BOB, DAVE)


def test_two_approvers_clicking_while_slack_answers_the_write_too_late_make_one_decision(
        client, fake_slack, no_backoff, database_tasks, one_second_clients):
    month_config()
    ask(client, fake_slack, ALICE, MONDAY, WEDNESDAY, view_id="V_A1")
    run_queued_tasks()
    message = request_of(fake_slack, ALICE, MONDAY)
    decide(client, BOB, message, ids.APPROVE_ACTION)
    reject_with_reason(client, fake_slack, DAVE, message, "Release week", view_id="V_REJ1")
    with slow(fake_slack, decision_write, 1.6, times=1):
        run_queued_tasks()

    [decided] = requests_in_ledger(fake_slack)
    assert (decided.metadata["event_payload"]["status"], decided.metadata["event_payload"]["decided_by"]) == (
        "approved", BOB)
    assert thread_of(fake_slack, decided) == [f"Approved by <@{BOB}>"]
    assert len(announce_channel(fake_slack)) == 1
    assert len([t for t in told(fake_slack, ALICE) if "approved your :palm_tree:" in t]) == 1
    assert_nobody_told_of_failure(fake_slack, ALICE, BOB, DAVE)


# --- Several people submitting while the ledger cannot be read -------------------------------------


@pytest.mark.parametrize("fault", ["rate_limited_429", "ratelimited_http_200", "fatal_error", "http_503", "dropped"])
def test_people_submitting_while_slack_fails_the_ledger_reads_several_times_in_a_row_are_all_delivered(
        client, fake_slack, no_sleeping, fault):
    month_config()
    reads = lambda method, params: method == "conversations.history"  # noqa: E731
    with failing(fake_slack, reads, fault, times=3):
        ask(client, fake_slack, ALICE, MONDAY, WEDNESDAY, view_id="V_A1")
        ask(client, fake_slack, DAVE, MONDAY + timedelta(days=7), MONDAY + timedelta(days=8), view_id="V_D1")
        ask(client, fake_slack, ALICE, MONDAY + timedelta(days=22), MONDAY + timedelta(days=22), view_id="V_A2")

    ledger = requests_in_ledger(fake_slack)
    assert len(ledger) == 3, [m.metadata["event_payload"] for m in ledger]
    for user, count in ((ALICE, 2), (DAVE, 1)):
        assert len([t for t in told(fake_slack, user) if "is with" in t]) == count  # the receipts
    assert_nobody_told_of_failure(fake_slack, ALICE, DAVE)


@pytest.mark.parametrize("fault", ["rate_limited_429", "internal_error", "http_500"])
def test_a_submission_slack_keeps_refusing_is_told_to_its_requester_and_the_next_one_goes_through(
        client, fake_slack, no_sleeping, fault):
    month_config()
    post = lambda method, params: (method == "chat.postMessage" and params.get("channel") == C_ENG_APPROVALS  # noqa: E731
                                   and not params.get("thread_ts"))
    with failing(fake_slack, post, fault, times=None):
        ask(client, fake_slack, ALICE, MONDAY, WEDNESDAY, note="Ski week", view_id="V_A1")
    assert requests_in_ledger(fake_slack) == []
    [notice] = [t for t in told(fake_slack, ALICE) if "did not reach your approvers" in t]
    assert "Ski week" in notice and "Slack kept failing" in notice
    # Slack failed for a moment, not for good: she is told that sending it again later will do, as an
    # approver whose click met the same faults is ("please try again in a few minutes").
    assert "please send it again in a few minutes" in notice, notice

    # Slack is back: she sends the same week again, and nothing of the lost one stands in its way.
    ask(client, fake_slack, ALICE, MONDAY, WEDNESDAY, note="Ski week", view_id="V_A2")
    assert len(requests_in_ledger(fake_slack)) == 1
    assert len([t for t in told(fake_slack, ALICE) if "is with" in t]) == 1


# --- The daily jobs through run_jobs (cron) --------------------------------------------------------


def a_minute_later() -> None:
    """The real clock moves on past a failed job's `retry_at` (run_jobs --at moves only the job's day)."""
    JobRun.objects.filter(retry_at__isnull=False).update(retry_at=timezone.now() - timedelta(seconds=1))


def tick(moment: datetime) -> str:
    try:
        return run_jobs(moment, "--team", "Engineering")
    except CommandError as exc:
        return f"failed: {exc}"


@pytest.mark.parametrize("fault", ["answer_lost", "dropped", "html_page_200", "cut_short_200"])
@pytest.mark.parametrize("job_day", [MONDAY, TUESDAY], ids=["weekly digest", "out today"])
def test_a_daily_post_slack_made_whose_answer_was_lost_is_posted_once_and_found_by_the_same_tick(
        client, fake_slack, no_sleeping, fault, job_day):
    month_config()
    ask(client, fake_slack, ALICE, MONDAY, WEDNESDAY, view_id="V_A1")
    decide(client, BOB, request_of(fake_slack, ALICE, MONDAY), ids.APPROVE_ACTION)
    before = len(announce_channel(fake_slack))
    moment = datetime(job_day.year, job_day.month, job_day.day, 9, 0, tzinfo=LA)
    to_announce = lambda method, params: method == "chat.postMessage" and params.get("channel") == C_ENG  # noqa: E731
    with failing(fake_slack, to_announce, fault, times=1) as met:
        first = tick(moment)
    # The post is tried again inside the call, after a look that finds it: the tick that met the fault is done.
    assert met and not first.startswith("failed"), first
    a_minute_later()
    tick(moment + timedelta(minutes=1))
    a_minute_later()
    tick(moment + timedelta(minutes=2))

    posts = announce_channel(fake_slack)[before:]
    assert len(posts) == 1, posts
    assert ("Who's out" if job_day == MONDAY else "Out today") in posts[0]
    run = JobRun.objects.get(job="weekly_digest" if job_day == MONDAY else "out_today")
    assert run.finished_at is not None and run.error == ""


@pytest.mark.parametrize("fault", ["rate_limited_429", "ratelimited_http_200", "internal_error", "http_503"])
def test_a_reminder_slack_would_not_take_is_sent_once_at_crons_next_tick(client, fake_slack, no_sleeping, fault):
    month_config()
    ask(client, fake_slack, ALICE, MONDAY, WEDNESDAY, view_id="V_A1")
    decide(client, BOB, request_of(fake_slack, ALICE, MONDAY), ids.APPROVE_ACTION)
    moment = datetime(2031, 3, 7, 15, 0, tzinfo=LA)
    reminder = lambda method, params: (method == "chat.postMessage" and params.get("channel") == ALICE  # noqa: E731
                                       and "starts on" in str(params.get("text")))
    with failing(fake_slack, reminder, fault, times=4) as met:
        tick(moment)
    assert met
    assert not [t for t in told(fake_slack, ALICE) if "starts on Mon 10 Mar" in t]
    a_minute_later()
    tick(moment + timedelta(minutes=1))
    assert len([t for t in told(fake_slack, ALICE) if "starts on Mon 10 Mar" in t]) == 1
    tick(moment + timedelta(minutes=30))
    assert len([t for t in told(fake_slack, ALICE) if "starts on Mon 10 Mar" in t]) == 1


@pytest.mark.parametrize("fault", ["rate_limited_429", "internal_error", "http_500", "dropped"])
def test_a_nudge_is_not_lost_when_slack_cannot_list_the_approvers_channel_for_a_moment(client, fake_slack,
                                                                                        no_sleeping, fault):
    month_config()
    ask(client, fake_slack, ALICE, MONDAY + timedelta(days=14), MONDAY + timedelta(days=14), view_id="V_A1")
    [message] = requests_in_ledger(fake_slack)
    cache.delete(directory.channel_members_key(C_ENG_LEADS))  # ten minutes on: the list is asked again
    posted = float(message.ts)
    moment = datetime.fromtimestamp(posted, tz=LA) + timedelta(days=3)
    moment = moment.replace(hour=10, minute=0)
    while moment.weekday() >= 5:
        moment += timedelta(days=1)
    members = lambda method, params: method == "conversations.members" and params.get("channel") == C_ENG_LEADS  # noqa: E731
    with failing(fake_slack, members, fault, times=4) as met:
        tick(moment)
    assert met
    assert directory.cached_channel_members(C_ENG_LEADS) is None  # no answer, not "nobody"
    a_minute_later()
    tick(moment + timedelta(minutes=1))
    for approver in (BOB, DAVE):
        assert len([t for t in told(fake_slack, approver) if "waiting for a decision" in t]) == 1, approver
