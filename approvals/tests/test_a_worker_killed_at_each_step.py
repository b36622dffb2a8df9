"""A worker killed at each step of each flow, and its task run again: nothing lost, nothing sent twice.

README "A worker dies": a task whose worker was killed (SIGKILL, the OOM killer, a lost host) is requeued once
the worker has been silent for TASK_STUCK_AFTER_SECONDS, and every task is idempotent. DESIGN §8: "a worker
killed with SIGKILL mid-task loses nothing". What a kill leaves behind is whatever the worker wrote before it:
Slack's posts and rewrites, and the claims, leases and marks in the shared cache (approvals/notifications.py
`once`, `post_notice`'s doubt mark, the delivery's `posting:` mark, the change's marks).

How a worker is killed here (as in test_claims_and_locks_under_real_timing.py): the flow runs in a thread of
its own with the immediate task backend, and at the chosen point a patched call stops for good, holding
everything it held, until the test is over (then it raises SystemExit so that the thread can end). "After
Slack made X" means Slack took the call and the worker never read the answer; "before" means the worker
claimed X and died before the call reached Slack. TASK_STUCK_AFTER_SECONDS is 3 s, so a message's claim is a
1.5 s lease; the test waits as long as recovery would before it requeues the task (plus a second: the
database cache keeps whole seconds), then runs the task's service again, as the requeued task does. What
Slack was sent is counted in the fake Slack's calls.
"""

import time
from dataclasses import replace
from datetime import date, datetime
from datetime import time as time_of_day
from decimal import Decimal
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from django.test import Client

from approvals import block_ids as ids
from approvals import change_services, job_services, request_services, tasks
from approvals.models import DeliveryProblem, JobRun
from approvals.rules import LedgerEntry
from approvals.slack_clients import background_client
from fake_slack.personas import C_ENG, C_ENG_APPROVALS
from test_support.direct_messages import is_decision
from test_support.flows import (
    ALICE,
    BOB,
    ENGINEERING,
    MONDAY,
    WEDNESDAY,
    buttons_in,
    dms_to,
    install_config,
    posted_requests,
    press,
    request_status,
    request_time_off,
    request_values,
    standard_config,
)
from test_support.job_runs import post_entry, posts_in, run_jobs
from test_support.killed_worker import (
    DyingWorker,
    dies_after_slack_made,
    dies_before_slack_made,
    killed_while_running,
    recovery_requeues_the_task,
)
from test_support.posted import posts_to, press_approve, receipt_call, receipt_now, thread_replies
from test_support.slack_requests import post_interaction, view_submission_payload

# The stopped worker's thread and the rerun see each other's writes (the database cache among them).
pytestmark = pytest.mark.django_db(transaction=True)

THE_FRIDAY_BEFORE, FRIDAY = date(2031, 3, 7), date(2031, 3, 14)  # Alice's leave: MONDAY to WEDNESDAY
LA = ZoneInfo("America/Los_Angeles")
ENG = replace(ENGINEERING, digest_time=time_of_day(9, 0))


@pytest.fixture(autouse=True)
def requeued_after_three_seconds(settings):
    settings.TASK_STUCK_AFTER_SECONDS = 3  # 10 minutes in production; a message's lease is half of it


def kept(monkeypatch, module, name: str) -> list:
    """The arguments `module.name` is called with (a task's payload, for running it again), still calling it."""
    calls = []
    real = getattr(module, name)

    def record(*args, **kwargs):
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, record)
    return calls


@pytest.fixture
def request_lock_shorter_than_recovery(monkeypatch):
    """A worker killed while it writes a request's message dies holding the request's lock: 120 s in
    production, well inside the 10 minutes before recovery requeues its task; here inside the 3 s."""
    monkeypatch.setattr(request_services, "DECISION_LOCK_SECONDS", 2)
    monkeypatch.setattr(change_services, "DECISION_LOCK_SECONDS", 2)


# --- What Slack was sent ------------------------------------------------------------------------------------


def to_channel(channel: str, *, in_thread: bool | None = None):
    def matches(params) -> bool:
        return params.get("channel") == channel and (in_thread is None or bool(params.get("thread_ts")) == in_thread)
    return matches


def receipt_dm(params) -> bool:
    return params.get("channel") == ALICE and bool(buttons_in(params.get("blocks")))


def request_rewrite(params) -> bool:
    return params.get("channel") == C_ENG_APPROVALS


def receipts(fake_slack) -> list:
    return [c for c in fake_slack.calls("chat.postMessage") if receipt_dm(c.params)]


def decision_dms(fake_slack) -> list[str]:
    return [text for text in dms_to(fake_slack, ALICE) if is_decision(text)]


def announcements(fake_slack) -> list[str]:
    return [text for text in posts_to(fake_slack, C_ENG) if "will not be out" not in text]


def corrections(fake_slack) -> list[str]:
    return [text for text in posts_to(fake_slack, C_ENG) if "will not be out" in text]


# --- 1. Delivery --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dies", [
    pytest.param(("after", "chat_postMessage", to_channel(C_ENG_APPROVALS, in_thread=False)),
                 id="after-the-request-post"),
    pytest.param(("before", "chat_postMessage", receipt_dm), id="before-the-receipt-dm"),
    pytest.param(("after", "chat_postMessage", receipt_dm), id="after-the-receipt-dm"),
])
def test_a_delivery_whose_worker_was_killed_posts_the_request_and_its_receipt_once(client, fake_slack, monkeypatch,
                                                                                    settings, dies):
    # Alice's request is being delivered when its worker dies: just after Slack posted it to the approvals
    # channel (before the receipt), or with the receipt DM claimed, or just after Slack made the receipt. The
    # delivery runs again: Bob sees one request, Alice has one receipt, and its buttons still follow it.
    when, method, matches = dies
    install_config()
    worker = DyingWorker()
    (dies_after_slack_made if when == "after" else dies_before_slack_made)(monkeypatch, worker, method, matches)
    delivered = kept(monkeypatch, request_services, "request_deliver")

    with killed_while_running(worker, lambda: request_time_off(Client(), fake_slack, ALICE, note="Ski week")):
        recovery_requeues_the_task(settings)
        request_services.request_deliver(background_client(), delivered[0][1])
        requests, receipts_sent = len(posted_requests(fake_slack)), len(receipts(fake_slack))

    assert requests == 1, "the request was posted again (or not at all)"
    assert receipts_sent == 1, dms_to(fake_slack, ALICE)
    assert request_status(fake_slack)["status"] == "pending"
    # The receipt is known where it is: Bob's approval rewrites it, not a receipt nobody sees.
    press_approve(client, fake_slack)
    assert "approved" in receipt_now(fake_slack)[0].lower(), receipt_now(fake_slack)[0]
    assert len(decision_dms(fake_slack)) == 1


def test_leave_that_needs_no_approval_whose_worker_died_after_its_announcement_is_announced_once(
        client, fake_slack, monkeypatch, settings):
    # Sick leave is recorded as approved when it is sent, and announced in the team's channel. The worker
    # dies just after Slack made the announcement: the rerun finds it, and the team is told once.
    install_config()
    worker = DyingWorker()
    dies_after_slack_made(monkeypatch, worker, "chat_postMessage", to_channel(C_ENG))
    delivered = kept(monkeypatch, request_services, "request_deliver")

    with killed_while_running(worker, lambda: request_time_off(Client(), fake_slack, ALICE, leave_type="sick")):
        recovery_requeues_the_task(settings)
        request_services.request_deliver(background_client(), delivered[0][1])
        told = posts_to(fake_slack, C_ENG)

    assert len(posted_requests(fake_slack)) == 1
    assert len(told) == 1, told
    assert len(receipts(fake_slack)) == 1


# --- 2. A decision ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dies", [
    pytest.param(("after", "chat_update", request_rewrite), id="after-slack-wrote-the-decision"),
    pytest.param(("before", "chat_postMessage", to_channel(C_ENG_APPROVALS, in_thread=True)),
                 id="before-the-thread-reply"),
    pytest.param(("after", "chat_postMessage", to_channel(C_ENG_APPROVALS, in_thread=True)),
                 id="after-the-thread-reply"),
    pytest.param(("before", "chat_postMessage", to_channel(C_ENG)), id="before-the-announcement"),
    pytest.param(("after", "chat_postMessage", to_channel(C_ENG)), id="after-the-announcement"),
])
def test_an_approval_whose_worker_was_killed_is_told_in_the_thread_to_alice_and_to_the_team_once(
        client, fake_slack, monkeypatch, settings, request_lock_shorter_than_recovery, dies):
    # Bob approves; the worker dies just after Slack wrote the decision into the message (before it read the
    # answer), or in the follow-ups: with the thread reply claimed, or just after Slack made it (before
    # Alice's DM), or around the announcement in #engineering. The task runs again: one thread reply, one DM
    # to Alice, one announcement.
    when, method, matches = dies
    install_config()
    request_time_off(client, fake_slack, ALICE, note="Ski week")
    worker = DyingWorker()
    (dies_after_slack_made if when == "after" else dies_before_slack_made)(monkeypatch, worker, method, matches)
    decided = kept(monkeypatch, request_services, "request_decide")

    with killed_while_running(worker, lambda: press_approve(Client(), fake_slack)):
        assert (request_status(fake_slack)["status"], request_status(fake_slack)["decided_by"]) == ("approved", BOB)
        recovery_requeues_the_task(settings)
        request_services.request_decide(background_client(), decided[0][1])
        replies, dms, told = thread_replies(fake_slack), decision_dms(fake_slack), announcements(fake_slack)

    assert len(replies) == 1, replies
    assert len(dms) == 1, dms_to(fake_slack, ALICE)
    assert len(told) == 1, told
    assert "approved" in receipt_now(fake_slack)[0].lower()


# --- 3. A withdrawal, a cancellation or an edit by the requester --------------------------------------------


def press_on_the_receipt(fake_slack, action_id: str) -> None:
    """Alice presses `action_id` on her receipt DM as it reads now (after a decision rewrote it)."""
    posted = receipt_call(fake_slack)
    press(Client(), ALICE, receipt_now(fake_slack)[1], action_id, channel=posted.response["channel"],
          ts=posted.response["ts"])


def withdrawn_in_thread(fake_slack) -> list[str]:
    return [text for text in thread_replies(fake_slack) if text.startswith("Withdrawn by")]


def cancelled_in_thread(fake_slack) -> list[str]:
    return [text for text in thread_replies(fake_slack) if text.startswith("Cancelled by")]


# change_services.rewrite notes `maybe-rewritten:` before the write: a worker killed while Slack makes the
# rewrite leaves it, so the rerun finds the request cancelled by its requester and finishes the change's
# follow-ups as its own.


@pytest.mark.parametrize("dies", [
    pytest.param(("after", "chat_update", request_rewrite), id="after-slack-rewrote-the-message"),
    pytest.param(("before", "chat_postMessage", to_channel(C_ENG_APPROVALS, in_thread=True)),
                 id="before-the-thread-reply"),
    pytest.param(("after", "chat_postMessage", to_channel(C_ENG_APPROVALS, in_thread=True)),
                 id="after-the-thread-reply"),
])
def test_a_withdrawal_whose_worker_was_killed_is_told_in_the_thread_once(client, fake_slack, monkeypatch, settings,
                                                                         request_lock_shorter_than_recovery, dies):
    # Alice withdraws her pending request from her receipt. The worker dies just after Slack rewrote the
    # request's message as withdrawn (before it read the answer), or before or just after the thread reply
    # that tells Bob. The task runs again: the request stays withdrawn, Bob is told once, and Alice's
    # receipt says so.
    when, method, matches = dies
    install_config()
    request_time_off(client, fake_slack, ALICE, note="Ski week")
    worker = DyingWorker()
    (dies_after_slack_made if when == "after" else dies_before_slack_made)(monkeypatch, worker, method, matches)
    changed = kept(monkeypatch, change_services, "request_change")

    with killed_while_running(worker, lambda: press_on_the_receipt(fake_slack, ids.WITHDRAW_ACTION)):
        assert request_status(fake_slack)["status"] == "cancelled"
        recovery_requeues_the_task(settings)
        change_services.request_change(background_client(), changed[0][1])
        replies = withdrawn_in_thread(fake_slack)

    assert len(replies) == 1, thread_replies(fake_slack)
    assert "cancelled" in receipt_now(fake_slack)[0].lower(), receipt_now(fake_slack)[0]  # withdrawn: no leave


@pytest.mark.parametrize("dies", [
    pytest.param(("after", "chat_update", request_rewrite), id="after-slack-rewrote-the-message"),
    pytest.param(("after", "chat_postMessage", to_channel(C_ENG_APPROVALS, in_thread=True)),
                 id="after-the-thread-reply"),
    pytest.param(("before", "chat_postMessage", to_channel(C_ENG)), id="before-the-corrected-announcement"),
    pytest.param(("after", "chat_postMessage", to_channel(C_ENG)), id="after-the-corrected-announcement"),
])
def test_a_cancellation_whose_worker_was_killed_corrects_the_announcement_once(client, fake_slack, monkeypatch,
                                                                               settings,
                                                                               request_lock_shorter_than_recovery,
                                                                               dies):
    # Bob approved Alice's leave and #engineering was told. Alice cancels it from her receipt; the worker dies
    # just after Slack rewrote the message, or just after the thread reply, or around the correction in
    # #engineering. The task runs again: one thread reply, one correction, the receipt says cancelled.
    when, method, matches = dies
    install_config()
    request_time_off(client, fake_slack, ALICE, note="Ski week")
    press_approve(client, fake_slack)
    assert len(announcements(fake_slack)) == 1
    worker = DyingWorker()
    (dies_after_slack_made if when == "after" else dies_before_slack_made)(monkeypatch, worker, method, matches)
    changed = kept(monkeypatch, change_services, "request_change")

    with killed_while_running(worker, lambda: press_on_the_receipt(fake_slack, ids.CANCEL_ACTION)):
        assert request_status(fake_slack)["status"] == "cancelled"
        recovery_requeues_the_task(settings)
        change_services.request_change(background_client(), changed[0][1])
        replies, corrected = cancelled_in_thread(fake_slack), corrections(fake_slack)

    assert len(replies) == 1, thread_replies(fake_slack)
    assert len(corrected) == 1, posts_to(fake_slack, C_ENG)
    assert "cancelled" in receipt_now(fake_slack)[0].lower(), receipt_now(fake_slack)[0]


def test_an_edit_whose_worker_died_after_slack_rewrote_the_message_is_told_in_the_thread_once(
        client, fake_slack, monkeypatch, settings, request_lock_shorter_than_recovery):
    # Alice moves her request's end from Wednesday to Friday. The worker dies just after Slack rewrote the
    # message. The edit's task runs again: the request reads Monday to Friday, Bob is told once in the
    # thread, Alice's receipt shows the new dates (rewritten, not a second receipt).
    install_config()
    request_time_off(client, fake_slack, ALICE, note="Ski week")
    posted = receipt_call(fake_slack)
    press(client, ALICE, posted.params["blocks"], ids.EDIT_ACTION, channel=posted.response["channel"],
          ts=posted.response["ts"])
    form = fake_slack.last_call("views.open").params["view"]
    worker = DyingWorker()
    dies_after_slack_made(monkeypatch, worker, "chat_update", request_rewrite)
    edited = kept(monkeypatch, change_services, "request_edit")

    def send_the_edit():
        post_interaction(Client(), view_submission_payload(user_id=ALICE, view=form, view_id="V_EDIT",
                                                           values=request_values("vacation", MONDAY, FRIDAY)))

    with killed_while_running(worker, send_the_edit):
        assert request_status(fake_slack)["end"] == FRIDAY.isoformat()
        recovery_requeues_the_task(settings)
        change_services.request_edit(background_client(), *edited[0][1:])
        replies = [text for text in thread_replies(fake_slack) if text.startswith("Edited by")]

    assert len(replies) == 1, thread_replies(fake_slack)
    assert "12 Mar" in replies[0].partition("(was")[2], replies[0]  # what it was before the edit, not after
    assert len(receipts(fake_slack)) == 1
    assert "14 Mar" in receipt_now(fake_slack)[0], receipt_now(fake_slack)[0]


# --- 4. The daily jobs --------------------------------------------------------------------------------------


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=LA)


def alice_approved(**changes) -> LedgerEntry:
    values = dict(id="alice-vacation", user=ALICE, team="Engineering", leave_type="vacation", start=MONDAY,
                  end=WEDNESDAY, start_half=None, end_half=None, days=Decimal(3), status="approved",
                  decided_by=BOB)
    return LedgerEntry(**{**values, **changes})


@pytest.fixture
def export_dir(settings, tmp_path):
    settings.LEDGER_EXPORT_DIR = tmp_path / "exports"


def digest_post(params) -> bool:
    return params.get("channel") == C_ENG


def reminder_dm(params) -> bool:
    return params.get("channel") == ALICE and "reminder" in str(params.get("text")).lower()


JOB_KILLS = [
    pytest.param(("weekly_digest", at(MONDAY, 9, 0), "before", digest_post), id="digest-before-its-post"),
    pytest.param(("weekly_digest", at(MONDAY, 9, 0), "after", digest_post), id="digest-after-its-post"),
    pytest.param(("reminders", at(THE_FRIDAY_BEFORE, 15, 0), "before", reminder_dm), id="reminder-before-its-dm"),
    pytest.param(("reminders", at(THE_FRIDAY_BEFORE, 15, 0), "after", reminder_dm), id="reminder-after-its-dm"),
]


def what_the_job_sent(fake_slack, job: str) -> list:
    return posts_in(fake_slack, C_ENG) if job == "weekly_digest" else [
        p for p in posts_in(fake_slack, ALICE) if reminder_dm(p)]


@pytest.mark.parametrize("kill", JOB_KILLS)
def test_a_job_whose_task_worker_was_killed_sends_its_post_once_when_the_task_runs_again(
        fake_slack, monkeypatch, settings, export_dir, kill):
    # The clock (run_scheduler) enqueued the job as a `run_job` task; its worker dies before or just after
    # Slack made the Monday digest in #engineering, or Alice's reminder the Friday before. Recovery requeues
    # the task: the team gets one digest, Alice one reminder.
    job_name, moment, when, matches = kill
    install_config(standard_config(teams=(ENG,)))
    post_entry(fake_slack, alice_approved())
    worker = DyingWorker()
    (dies_after_slack_made if when == "after" else dies_before_slack_made)(monkeypatch, worker, "chat_postMessage",
                                                                            matches)
    executed = kept(monkeypatch, job_services, "job_execute")

    with killed_while_running(worker, lambda: job_services.jobs_run_due(moment, team="Engineering")):
        recovery_requeues_the_task(settings)
        [job] = [args[1] for args in executed if args[1].job == job_name]
        job_services.job_execute(background_client(), job)
        sent = what_the_job_sent(fake_slack, job_name)

    assert len(sent) == 1, sent
    assert JobRun.objects.get(job=job_name, team="Engineering").finished_at is not None


@pytest.mark.parametrize("kill", JOB_KILLS)
def test_a_job_whose_run_jobs_process_was_killed_sends_its_post_once_when_the_next_tick_takes_it_over(
        fake_slack, monkeypatch, settings, export_dir, kill):
    # cron's `run_jobs` runs the job in its own process, which dies at the same points. Its claim is left
    # unfinished: the tick after JOB_RUN_STALE_SECONDS (30 minutes in production, well past the message's
    # 5-minute lease; 3 s here) takes it over. One digest, one reminder.
    job_name, moment, when, matches = kill
    settings.JOB_RUN_STALE_SECONDS = 3
    install_config(standard_config(teams=(ENG,)))
    post_entry(fake_slack, alice_approved())
    worker = DyingWorker()
    (dies_after_slack_made if when == "after" else dies_before_slack_made)(monkeypatch, worker, "chat_postMessage",
                                                                            matches)

    with killed_while_running(worker, lambda: run_jobs(moment, "--team", "Engineering")):
        time.sleep(settings.JOB_RUN_STALE_SECONDS + 1)
        out = run_jobs(moment.replace(minute=5), "--team", "Engineering")
        sent = what_the_job_sent(fake_slack, job_name)

    assert job_name in out, out
    assert len(sent) == 1, sent
    assert JobRun.objects.get(job=job_name, team="Engineering").finished_at is not None


# --- 5. Other claims and marks in the cache -----------------------------------------------------------------


def test_a_digest_taken_over_while_the_killed_runs_lease_still_holds_is_still_posted(fake_slack, monkeypatch,
                                                                                      settings, export_dir):
    # JOB_RUN_STALE_SECONDS may be set below the message's lease (5 minutes, at most half of
    # TASK_STUCK_AFTER_SECONDS): say 2 minutes, for a digest that must not be half an hour late. `run_jobs`
    # dies with the digest's post claimed, before it reached Slack; the tick that takes the job over finds
    # the lease still held by the dead process. The digest must still go out, not the job be marked done
    # with nothing posted.
    settings.TASK_STUCK_AFTER_SECONDS = 8  # a 4 s lease
    settings.JOB_RUN_STALE_SECONDS = 1
    install_config(standard_config(teams=(ENG,)))
    post_entry(fake_slack, alice_approved())
    worker = DyingWorker()
    dies_before_slack_made(monkeypatch, worker, "chat_postMessage", digest_post)

    with killed_while_running(worker, lambda: run_jobs(at(MONDAY, 9, 0), "--team", "Engineering")):
        time.sleep(settings.JOB_RUN_STALE_SECONDS + 1)
        run_jobs(at(MONDAY, 9, 5), "--team", "Engineering")  # takes it over
        time.sleep(5)
        run_jobs(at(MONDAY, 9, 10), "--team", "Engineering")  # and any later tick that day
        sent = posts_in(fake_slack, C_ENG)

    assert len(sent) == 1, "the Monday digest was never posted"


def test_a_request_slack_refused_whose_worker_died_after_recording_it_for_hr_is_recorded_once(
        client, fake_slack, monkeypatch, settings):
    # The approvals channel was archived: Slack refuses Alice's request for good. The worker records the
    # delivery problem HR reads in the console (`once(undelivered:…)`), and dies before it could mark that
    # done or tell Alice. The delivery runs again: HR has one problem to look at, not two, and Alice is
    # told once that her request did not reach the approvers.
    install_config()
    fake_slack.workspace.channels[C_ENG_APPROVALS].is_archived = True
    worker = DyingWorker()
    real_problem = request_services.DeliveryProblem

    def record_then_die(**fields):
        real_problem.record(**fields)
        if worker.is_it():
            worker.die()

    monkeypatch.setattr(request_services, "DeliveryProblem", SimpleNamespace(record=record_then_die))
    delivered = kept(monkeypatch, request_services, "request_deliver")

    with killed_while_running(worker, lambda: request_time_off(Client(), fake_slack, ALICE, note="Ski week")):
        assert DeliveryProblem.objects.count() == 1
        recovery_requeues_the_task(settings)
        request_services.request_deliver(background_client(), delivered[0][1])
        problems, told = DeliveryProblem.objects.count(), dms_to(fake_slack, ALICE)

    assert len(told) == 1, told
    assert problems == 1, list(DeliveryProblem.objects.values_list("summary", flat=True))


def test_a_decision_whose_give_up_died_between_its_settle_claim_and_the_settle_task_is_still_followed_up(
        client, fake_slack, monkeypatch, settings):
    # Bob's approval is written; Slack then failed its follow-ups until the task gave up, which claims the
    # settle (`decision-settling:…`, two hours) and queues the settle task that sends them once Slack is
    # back. The worker dies between the claim and the queuing. Its task is requeued, its last attempt meets
    # Slack still failing and gives up again: a settle must still be queued, or Alice is never told and the
    # thread never says it was approved.
    install_config()
    request_time_off(client, fake_slack, ALICE, note="Ski week")
    decided = kept(monkeypatch, request_services, "request_decide")
    real_followups = request_services.send_followups
    monkeypatch.setattr(request_services, "send_followups", lambda *args: None)  # Slack failed them all
    press_approve(client, fake_slack)
    monkeypatch.setattr(request_services, "send_followups", real_followups)
    assert request_status(fake_slack)["status"] == "approved" and not decision_dms(fake_slack)
    decision = decided[0][1]
    worker = DyingWorker()
    real_settle = tasks.settle_decision

    def enqueue_or_die(*args, **kwargs):
        if worker.is_it():
            worker.die()
        return real_settle.enqueue(*args, **kwargs)

    monkeypatch.setattr(tasks, "settle_decision", SimpleNamespace(enqueue=enqueue_or_die,
                                                                  module_path=real_settle.module_path))

    def gave_up():  # the task's last attempt, giving up with Slack failing
        tasks.decision_gave_up(TimeoutError("Slack did not answer"), decision.as_task_data())

    with killed_while_running(worker, gave_up):
        recovery_requeues_the_task(settings)
        gave_up()  # the requeued last attempt, Slack still failing; the settle then finds Slack back
        replies, dms = thread_replies(fake_slack), decision_dms(fake_slack)

    assert len(replies) == 1, "the thread never said it was approved"
    assert len(dms) == 1, dms_to(fake_slack, ALICE)
