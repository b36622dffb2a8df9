"""Claims, locks and once-marks in the shared cache when timing is real: a writer that holds a request's
lock while it changes nothing, a team's approval lock held past an approver's wait, a worker that stops
dead between claiming a follow-up and sending it, a give-up whose settle task could not be queued.

What people expect (README "A decision and a 429", "A worker dies", "Our own services blink"; DESIGN §8):
an approver's click is recorded or they are told the truth about it, never asked to click again for a
lock only our own processes hold; a worker killed mid-task loses nothing; whoever waits hears what became
of what they asked, whatever failed on our side before.

Tasks wait as rows and run on a simulated clock (test_support.simulated_time) where a retry's timing
matters; the test that stops a worker dead runs the click in its own thread with the immediate backend.
"""

from types import SimpleNamespace
from dataclasses import replace

import pytest
from django.core.cache import cache
from django.db import OperationalError
from django.test import Client

from approvals import block_ids as ids
from approvals import request_services, tasks
from approvals.cache_lock import acquire, release
from approvals.request_services import Decision
from approvals.slack_clients import background_client
from fake_slack.personas import C_ENG_APPROVALS
from test_support.flows import (
    ALICE,
    BOB,
    ENGINEERING,
    click,
    dms_to,
    ephemerals_to,
    install_config,
    metadata_payload,
    posted_requests,
    request_status,
    request_time_off,
    standard_config,
)
from test_support.killed_worker import (
    DyingWorker,
    dies_after_slack_made,
    dies_before_slack_made,
    killed_while_running,
    recovery_requeues_the_task,
)
from test_support.posted import press_approve, the_request
from test_support.simulated_time import work_through_the_queue

pytestmark = pytest.mark.django_db


def status_of(fake_slack) -> tuple[str, str | None]:
    payload = the_request(fake_slack).metadata["event_payload"]
    return payload["status"], payload.get("decided_by")


def told(fake_slack, user) -> list[str]:
    return ephemerals_to(fake_slack, user) + dms_to(fake_slack, user)


def a_pending_request(client, fake_slack, clock, config=None) -> str:
    install_config(config)
    request_time_off(client, fake_slack, ALICE, note="Ski week")
    work_through_the_queue(clock)
    return the_request(fake_slack).metadata["event_payload"]["id"]


# --- A busy lock is our own wait: the click is retried, not dropped ------------------------------------


def test_an_approval_clicked_while_another_writer_briefly_holds_the_request_is_still_recorded(
        client, fake_slack, clock, short_lock_wait):
    # Another writer of the request (Alice's edit that its check then refuses, a click by someone who may
    # not decide) holds the request's lock for longer than Bob's task waits, and changes nothing. Nobody
    # else is deciding: Bob's approval must still be recorded, not dropped with "another approver is
    # deciding", which leaves the request pending with nobody deciding it.
    request_id = a_pending_request(client, fake_slack, clock)
    other_writer = acquire(f"lock:decide:{request_id}", timeout=120, wait=0)
    assert other_writer is not None

    press_approve(client, fake_slack)
    work_through_the_queue(clock, until=clock.monotonic() + 2)  # Bob's first attempt meets the busy lock
    release(f"lock:decide:{request_id}", other_writer)  # the other writer is done: it changed nothing
    work_through_the_queue(clock)

    assert status_of(fake_slack) == ("approved", BOB), told(fake_slack, BOB)
    assert not [t for t in told(fake_slack, BOB) if "Another approver is deciding" in t], told(fake_slack, BOB)


def test_an_approval_waiting_on_another_approval_of_a_team_with_max_out_is_recorded_without_clicking_again(
        client, fake_slack, clock, short_lock_wait):
    # Under max_out the team's approvals take turns (the team's lock): Dave's approval of another request,
    # its write slow at Slack, holds the turn for longer than Bob's task waits. That is our own queueing:
    # Bob's approval should be recorded once the turn is free, not bounced back to him as "click again".
    team = replace(ENGINEERING, max_out=3)
    a_pending_request(client, fake_slack, clock, standard_config(teams=(team,)))
    other_approval = acquire(request_services.team_lock_key(team), timeout=120, wait=0)
    assert other_approval is not None

    press_approve(client, fake_slack)
    work_through_the_queue(clock, until=clock.monotonic() + 2)
    release(request_services.team_lock_key(team), other_approval)
    work_through_the_queue(clock)

    assert status_of(fake_slack) == ("approved", BOB), told(fake_slack, BOB)
    assert not [t for t in told(fake_slack, BOB) if "click again" in t], told(fake_slack, BOB)


# --- A worker killed between a follow-up's claim and its post ------------------------------------------


def alices_decision_dm(params) -> bool:
    return params.get("channel") == ALICE and "approved your" in params.get("text", "")


@pytest.mark.parametrize("dies", [dies_before_slack_made, dies_after_slack_made],
                         ids=["before-slack-made-the-dm", "after-slack-made-the-dm"])
@pytest.mark.django_db(transaction=True)  # the stopped worker's thread and the recovery see each other's writes
def test_the_decision_dm_of_a_killed_worker_is_sent_once_when_its_task_is_run_again(client, fake_slack, monkeypatch,
                                                                                     settings, dies):
    # DESIGN §8: "a worker killed with SIGKILL mid-task loses nothing". The worker running Bob's approval
    # writes it, posts the thread reply, claims the decision DM and dies (its host lost, the OOM killer):
    # before the DM reached Slack, or just after Slack made it, before the worker read the answer. Its task
    # goes back to the queue and runs again: Alice hears once that her leave was approved.
    settings.TASK_STUCK_AFTER_SECONDS = 3  # 10 minutes in production; the claim's lease is half of it
    install_config()
    request_time_off(client, fake_slack, ALICE, note="Ski week")
    decisions: list[Decision] = []
    real_decide = request_services.request_decide

    def decide(slack, decision):
        decisions.append(decision)
        return real_decide(slack, decision)

    monkeypatch.setattr(request_services, "request_decide", decide)
    worker = DyingWorker()
    dies(monkeypatch, worker, "chat_postMessage", alices_decision_dm)

    with killed_while_running(worker, lambda: press_approve(Client(), fake_slack)):
        assert status_of(fake_slack) == ("approved", BOB)
        recovery_requeues_the_task(settings)  # by then the DM's claim has run out
        request_services.request_decide(background_client(), decisions[0])
        approved_dms = [t for t in dms_to(fake_slack, ALICE) if "approved your" in t]

    assert len(approved_dms) == 1, dms_to(fake_slack, ALICE)


# --- A give-up whose settle task could not be queued -------------------------------------------------------


def test_an_approver_whose_unconfirmed_click_could_not_be_looked_at_again_hears_of_the_next_one(
        client, fake_slack, clock, monkeypatch, no_backoff):
    # Bob's approval was sent to Slack and its answer lost; the task gave up and Slack will not show the
    # message either, so a settle task is to look again later and tell him. Queuing it met the database
    # failing for a moment (a PostgreSQL failover). When his next click gives up the same way, with the
    # database back, he must be told something: the settle claim of the first give-up must not keep him
    # waiting, in silence, for two hours.
    request_id = a_pending_request(client, fake_slack, clock)
    message = the_request(fake_slack)
    decision = Decision(request_id=request_id, channel=C_ENG_APPROVALS, ts=message.ts, approver=BOB,
                        status="approved")
    real_settle = tasks.settle_decision

    def enqueue(*args, **kwargs):
        monkeypatch.setattr(tasks, "settle_decision", real_settle)  # once: then the database answers again
        raise OperationalError("the database system is shutting down")

    # The settle task's row could not be written once (a Task is frozen: its module's name is replaced).
    monkeypatch.setattr(tasks, "settle_decision", SimpleNamespace(enqueue=enqueue, module_path=real_settle.module_path))
    fake_slack.server_error("conversations.history", status=503, times=None)  # the last look fails

    def give_up():
        # As decide_request's give-up does after its write was tried (maybe-decided): tasks.decision_gave_up.
        from django.core.cache import cache

        cache.set(f"maybe-decided:{request_id}", "approved", 3600)
        try:
            tasks.decision_gave_up(TimeoutError("no answer"), decision.as_task_data())
        except OperationalError:
            pass  # retrying_task logs what a give-up raises

    give_up()  # the first click's: the settle task could not be queued
    fake_slack.clear_calls()
    give_up()  # the next click's, with the database answering again

    settles = tasks.settle_decision.module_path
    from django_tasks_db.models import DBTaskResult

    queued = DBTaskResult.objects.filter(task_path=settles).count()
    assert told(fake_slack, BOB) or queued, "Bob was told nothing and nothing will look at his click again"


def test_a_requester_whose_unconfirmed_withdrawal_could_not_be_looked_at_again_is_told_so_once(
        client, fake_slack, clock, monkeypatch, no_backoff):
    # Alice's withdrawal was sent to Slack and its answer lost, and Slack will not show the message: her
    # change task gives up, tells her it may be done or not, and queues a settle task to look again. That
    # row could not be written (a PostgreSQL failover). Her second press gives up the same way with the
    # database back: a settle task is queued now, but she must not be told the same thing a second time.
    from approvals import change_services
    from approvals.change_services import Change

    request_id = a_pending_request(client, fake_slack, clock)
    message = the_request(fake_slack)
    change = Change(request_id=request_id, by=ALICE, action="withdraw", channel=C_ENG_APPROVALS, ts=message.ts)
    real_settle = tasks.settle_change

    def enqueue(*args, **kwargs):
        monkeypatch.setattr(tasks, "settle_change", real_settle)  # once: then the database answers again
        raise OperationalError("the database system is shutting down")

    monkeypatch.setattr(tasks, "settle_change", SimpleNamespace(enqueue=enqueue, module_path=real_settle.module_path))
    fake_slack.server_error("conversations.history", status=503, times=None)  # the look finds nothing

    def give_up():
        cache.set(change_services.maybe_rewritten_key(request_id), 1, 3600)  # its rewrite was tried: maybe made
        try:
            tasks.change_gave_up(TimeoutError("no answer"), change.as_task_data())
        except OperationalError:
            pass  # retrying_task logs what a give-up raises

    give_up()  # the first press's: the settle task could not be queued
    give_up()  # the second press's, with the database answering again

    from django_tasks_db.models import DBTaskResult

    unconfirmed = [text for text in told(fake_slack, ALICE) if "could not confirm that your withdrawal" in text]
    assert len(unconfirmed) == 1, told(fake_slack, ALICE)
    assert DBTaskResult.objects.filter(task_path=real_settle.module_path).count() == 1


def test_a_decided_mark_the_message_does_not_bear_out_does_not_stop_the_next_approval(client, fake_slack,
                                                                                      no_sleeping):
    # A request posted twice whose decided copy was deleted: its `decided:` mark (kept a day) is still there,
    # yet the message reads pending. Bob's approval must be recorded, not end in "try again" for a day.
    install_config()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    cache.set(f"decided:{metadata_payload(posted)['id']}", "approved", 24 * 3600)

    click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted)

    assert (request_status(fake_slack)["status"], request_status(fake_slack)["decided_by"]) == ("approved", BOB)
