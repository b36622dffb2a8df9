"""Withdrawals, cancellations and edits whose task gave up while Slack kept failing, after their rewrite of
the request's message was made (or maybe made: Slack would not show the message, and the person was told "I
could not confirm …"): what goes out once Slack recovers, to whom, and how often.

A withdrawal or cancellation given up on this way is looked at again by a task of its own for about 40
minutes (README "A success is never reported as a failure"): once Slack shows the request, the thread reply
and the corrected announcement go out once each, and whoever was told "could not confirm" hears either that it
"was recorded after all" or that it is unchanged; only when Slack fails all that time is it a Delivery problem
for HR.

Tasks wait as rows, on a simulated clock (test_support.simulated_time). Slack is switched half down and back
up by the test between runs of the queue.
"""

import json

import pytest
from django.tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from approvals import block_ids as ids
from approvals import tasks
from approvals.management.commands.task_worker import Worker
from approvals.models import DeliveryProblem
from fake_slack.personas import C_ENG, C_GENERAL
from test_support.flows import (
    ALICE,
    BOB,
    DAVE,
    HR,
    MONDAY,
    buttons_in,
    click,
    install_config,
    posted_requests,
    request_time_off,
    request_values,
)
from test_support.half_down_slack import HalfDownSlack, dm_texts, request_messages, the_entry, thread
from test_support.person_steps import ephemerals, list_press, listed, receipt_press, send
from test_support.simulated_time import work_through_the_queue
from test_support.slack_requests import (
    view_submission_payload,
)

pytestmark = pytest.mark.django_db

# The change task's six attempts with their backoff (5 s, 10 s, … 80 s), and a little more: it has given up.
CHANGE_GIVES_UP_WITHIN = 170
# The settling task's ten attempts (5 s, 10 s, … 1280 s: about 43 minutes), and a little more.
SETTLE_GIVES_UP_WITHIN = 2700
FRIDAY = MONDAY.replace(day=MONDAY.day + 4)

COULD_NOT_CONFIRM = "could not confirm"
AFTER_ALL = "was recorded after all"
UNCHANGED = "It is unchanged"
HR_CHANGED = f"<@{HR}> changed your time off"


@pytest.fixture
def slack(fake_slack, clock):
    half_down = HalfDownSlack(fake_slack, clock)
    fake_slack.handle = half_down.handle
    yield half_down
    del fake_slack.handle


# --- What Slack holds ------------------------------------------------------------------------------------


def replies_opening(fake_slack, opening: str) -> list[str]:
    return [text for text in thread(fake_slack) if text.startswith(opening)]


def announce_channel(fake_slack) -> list[str]:
    return [m.text for m in fake_slack.workspace.messages(C_ENG)]


def dms_saying(fake_slack, user: str, words: str) -> list[str]:
    return [text for text in dm_texts(fake_slack, user) if words in text]



# --- Alice's leave and the buttons she (or HR) presses ----------------------------------------------------


def alices_request(client, fake_slack, clock, *, approved: bool = False) -> tuple[str, str]:
    """Alice's request, Mon 10 – Wed 12 Mar 2031, posted (and approved by Bob); where her receipt DM is."""
    install_config()
    request_time_off(client, fake_slack, ALICE)
    work_through_the_queue(clock)
    [receipt] = fake_slack.workspace.messages(ALICE)
    if approved:
        [posted] = posted_requests(fake_slack)
        assert click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted).status_code == 200
        work_through_the_queue(clock)
        assert the_entry(fake_slack)["status"] == "approved"
        assert len([t for t in announce_channel(fake_slack) if f"<@{ALICE}>" in t]) == 1
    return receipt.channel, receipt.ts






def until_the_change_gives_up(clock) -> None:
    work_through_the_queue(clock, until=clock.monotonic() + CHANGE_GIVES_UP_WITHIN)


def settle_rows() -> list[DBTaskResult]:
    return [row for row in DBTaskResult.objects.all() if row.task_path.endswith(".settle_change")]


# --- A cancellation of approved leave ---------------------------------------------------------------------


def test_a_cancellation_slack_would_not_confirm_is_announced_once_and_the_approvers_told_once_slack_recovers(
        client, fake_slack, clock, slack, no_backoff):
    receipt_at = alices_request(client, fake_slack, clock, approved=True)
    thread_before = thread(fake_slack)
    slack.rewrites = "made"

    send(client, receipt_press(fake_slack, receipt_at, ids.CANCEL_ACTION))
    until_the_change_gives_up(clock)

    assert slack.tried and the_entry(fake_slack)["status"] == "cancelled"  # made, though Slack never said so
    assert len(dms_saying(fake_slack, ALICE, "could not confirm that your cancellation was recorded")) == 1
    assert thread(fake_slack) == thread_before
    assert [t for t in announce_channel(fake_slack) if "will not be out" in t] == []

    slack.back_up()
    work_through_the_queue(clock)

    [reply] = replies_opening(fake_slack, "Cancelled by")
    assert reply.startswith(f"Cancelled by <@{ALICE}>") and f"<@{BOB}>" in reply, reply
    assert len(thread(fake_slack)) == len(thread_before) + 1, thread(fake_slack)
    [correction] = [t for t in announce_channel(fake_slack) if "will not be out" in t]
    assert f"<@{ALICE}>" in correction and "after all" in correction, correction
    assert len(announce_channel(fake_slack)) == 2, announce_channel(fake_slack)  # the approval, the correction
    assert len(dms_saying(fake_slack, ALICE, f"Your cancellation {AFTER_ALL}")) == 1, dm_texts(fake_slack, ALICE)
    assert dms_saying(fake_slack, ALICE, UNCHANGED) == []
    assert len(dms_saying(fake_slack, ALICE, COULD_NOT_CONFIRM)) == 1
    receipt = fake_slack.workspace.message(*receipt_at)
    assert receipt.text.startswith(":no_entry_sign: Cancelled") and buttons_in(receipt.blocks) == {}, receipt.text
    assert not DeliveryProblem.objects.exists()

    # Nothing more later: no task left retrying, nothing said twice.
    assert work_through_the_queue(clock) == 0
    assert len(announce_channel(fake_slack)) == 2 and len(replies_opening(fake_slack, "Cancelled by")) == 1


# --- Pressed on `/timeoff list` ---------------------------------------------------------------------------


def test_a_withdrawal_pressed_on_the_list_that_slack_would_not_confirm_is_told_there_once_when_it_was_made(
        client, fake_slack, clock, slack, no_backoff):
    alices_request(client, fake_slack, clock)
    blocks = listed(client, fake_slack, clock, "list", ALICE)
    slack.rewrites = "made"

    send(client, list_press(blocks, ids.WITHDRAW_ACTION, ALICE))
    until_the_change_gives_up(clock)

    assert slack.tried
    assert len(dms_saying(fake_slack, ALICE, "could not confirm that your withdrawal was recorded")) == 1
    assert [t for t in ephemerals(fake_slack, ALICE, C_GENERAL) if "Withdrawn" in t] == []

    slack.back_up()
    work_through_the_queue(clock)

    assert the_entry(fake_slack)["status"] == "cancelled"
    assert len(replies_opening(fake_slack, f"Withdrawn by <@{ALICE}>")) == 1, thread(fake_slack)
    told_there = [t for t in ephemerals(fake_slack, ALICE, C_GENERAL) if t.startswith(":white_check_mark: Withdrawn")]
    assert len(told_there) == 1, ephemerals(fake_slack, ALICE, C_GENERAL)
    # Told once that it is done: where she pressed, not a second time by DM.
    assert dms_saying(fake_slack, ALICE, AFTER_ALL) == [], dm_texts(fake_slack, ALICE)
    assert dms_saying(fake_slack, ALICE, UNCHANGED) == []
    assert announce_channel(fake_slack) == []  # a pending request was never announced
    assert not DeliveryProblem.objects.exists()


def test_a_withdrawal_pressed_on_the_list_that_was_not_made_is_told_unchanged_once_and_may_be_pressed_again(
        client, fake_slack, clock, slack, no_backoff):
    alices_request(client, fake_slack, clock)
    blocks = listed(client, fake_slack, clock, "list", ALICE)
    slack.rewrites = "not made"

    send(client, list_press(blocks, ids.WITHDRAW_ACTION, ALICE))
    until_the_change_gives_up(clock)
    slack.back_up()
    work_through_the_queue(clock)

    assert the_entry(fake_slack)["status"] == "pending" and thread(fake_slack) == []
    told = dms_saying(fake_slack, ALICE, UNCHANGED) + [t for t in ephemerals(fake_slack, ALICE, C_GENERAL)
                                                       if UNCHANGED in t]
    assert len(told) == 1 and "withdraw" in told[0], told
    assert [t for t in ephemerals(fake_slack, ALICE, C_GENERAL) if "Withdrawn" in t] == []
    assert dms_saying(fake_slack, ALICE, AFTER_ALL) == []

    # She presses again, as she was told she may: it is withdrawn, and said so once.
    send(client, list_press(blocks, ids.WITHDRAW_ACTION, ALICE))
    work_through_the_queue(clock)

    assert the_entry(fake_slack)["status"] == "cancelled"
    assert len(replies_opening(fake_slack, f"Withdrawn by <@{ALICE}>")) == 1, thread(fake_slack)
    done = [t for t in ephemerals(fake_slack, ALICE, C_GENERAL) if t.startswith(":white_check_mark: Withdrawn")]
    assert len(done) == 1, ephemerals(fake_slack, ALICE, C_GENERAL)
    assert len(dms_saying(fake_slack, ALICE, UNCHANGED)) + len(
        [t for t in ephemerals(fake_slack, ALICE, C_GENERAL) if UNCHANGED in t]) == 1


# --- HR cancelling someone's leave ------------------------------------------------------------------------


def test_hrs_cancellation_slack_would_not_confirm_reaches_alice_once_and_hr_is_told_once_where_they_pressed(
        client, fake_slack, clock, slack, no_backoff):
    alices_request(client, fake_slack, clock, approved=True)
    blocks = listed(client, fake_slack, clock, f"for <@{ALICE}|alice> cancel", HR)
    alices_dms_before = dm_texts(fake_slack, ALICE)
    slack.rewrites = "made"

    send(client, list_press(blocks, ids.CANCEL_ACTION, HR))
    until_the_change_gives_up(clock)

    assert slack.tried
    assert len(dms_saying(fake_slack, HR, "could not confirm that your cancellation was recorded")) == 1
    assert dms_saying(fake_slack, ALICE, HR_CHANGED) == []  # not yet: nothing followed

    slack.back_up()
    work_through_the_queue(clock)

    entry = the_entry(fake_slack)
    assert (entry["status"], entry["decided_by"]) == ("cancelled", HR)
    assert len(dms_saying(fake_slack, ALICE, HR_CHANGED)) == 1, dm_texts(fake_slack, ALICE)
    # Her receipt is rewritten in place (not a new DM): the one new DM is HR's change.
    assert len(dm_texts(fake_slack, ALICE)) == len(alices_dms_before) + 1, dm_texts(fake_slack, ALICE)
    assert len(replies_opening(fake_slack, f"Cancelled by <@{HR}>")) == 1, thread(fake_slack)
    assert len([t for t in announce_channel(fake_slack) if "will not be out" in t]) == 1, announce_channel(fake_slack)
    told_hr = [t for t in ephemerals(fake_slack, HR, C_GENERAL)
               if t.startswith(f":white_check_mark: Cancelled: <@{ALICE}>'s")]
    assert len(told_hr) == 1, ephemerals(fake_slack, HR, C_GENERAL)
    for person in (ALICE, HR):
        assert dms_saying(fake_slack, person, UNCHANGED) == [], dm_texts(fake_slack, person)
    assert ephemerals(fake_slack, ALICE, C_GENERAL) == []
    assert not DeliveryProblem.objects.exists()


# --- Someone else changes the request while the settling waits --------------------------------------------


def test_a_withdrawal_that_was_not_made_is_not_called_unchanged_once_hr_has_withdrawn_the_request_meanwhile(
        client, fake_slack, clock, slack, no_backoff):
    alices_request(client, fake_slack, clock)
    receipt_at = fake_slack.workspace.messages(ALICE)[0]
    slack.rewrites = "not made"

    send(client, receipt_press(fake_slack, (receipt_at.channel, receipt_at.ts), ids.WITHDRAW_ACTION))
    until_the_change_gives_up(clock)
    assert the_entry(fake_slack)["status"] == "pending"
    assert len(dms_saying(fake_slack, ALICE, "could not confirm that your withdrawal was recorded")) == 1

    # Slack answers everyone but the settling task for a while; HR withdraws Alice's request meanwhile.
    slack.back_up()
    slack.unreadable_for = {"settle_change"}
    blocks = listed(client, fake_slack, clock, f"for <@{ALICE}|alice> list", HR)
    send(client, list_press(blocks, ids.WITHDRAW_ACTION, HR))
    work_through_the_queue(clock, until=clock.monotonic() + 30)
    entry = the_entry(fake_slack)
    assert (entry["status"], entry["decided_by"]) == ("cancelled", HR)
    assert len(dms_saying(fake_slack, ALICE, HR_CHANGED)) == 1

    slack.back_up()
    work_through_the_queue(clock)

    # The request is withdrawn (by HR): Alice is never told it is unchanged, nor to press Withdraw again.
    said = dm_texts(fake_slack, ALICE)
    assert [t for t in said if UNCHANGED in t or "could not withdraw" in t] == [], said
    assert dms_saying(fake_slack, ALICE, AFTER_ALL) == [], said  # it was not hers that was recorded
    assert len(thread(fake_slack)) == 1, thread(fake_slack)
    assert len(replies_opening(fake_slack, f"Withdrawn by <@{HR}>")) == 1, thread(fake_slack)
    assert replies_opening(fake_slack, f"Withdrawn by <@{ALICE}>") == []


# --- The settling task itself gives up ---------------------------------------------------------------------


def test_a_withdrawal_slack_would_not_show_for_an_hour_is_one_delivery_problem_and_no_further_dm(
        client, fake_slack, clock, slack, no_backoff):
    alices_request(client, fake_slack, clock)
    receipt = fake_slack.workspace.messages(ALICE)[0]
    slack.rewrites = "made"

    send(client, receipt_press(fake_slack, (receipt.channel, receipt.ts), ids.WITHDRAW_ACTION))
    until_the_change_gives_up(clock)
    said_then = dm_texts(fake_slack, ALICE)
    assert len([t for t in said_then if COULD_NOT_CONFIRM in t]) == 1, said_then

    work_through_the_queue(clock, until=clock.monotonic() + 3600)  # Slack will not show it for an hour

    assert settle_rows() and not DBTaskResult.objects.filter(status=TaskResultStatus.READY).exists()
    [problem] = DeliveryProblem.objects.all()
    assert problem.user == ALICE, problem.user
    assert "withdrawal" in problem.summary, problem.summary
    assert dm_texts(fake_slack, ALICE) == said_then  # nothing more said to her
    assert thread(fake_slack) == []

    slack.back_up()
    assert work_through_the_queue(clock) == 0
    assert DeliveryProblem.objects.count() == 1
    assert dm_texts(fake_slack, ALICE) == said_then
    for person in (BOB, DAVE):
        assert dm_texts(fake_slack, person) == []


def test_a_cancellation_slack_shows_but_whose_announcement_it_keeps_failing_is_told_recorded_and_hr_told_what_failed(
        client, fake_slack, clock, slack, no_backoff):
    receipt_at = alices_request(client, fake_slack, clock, approved=True)
    slack.rewrites = "made"

    send(client, receipt_press(fake_slack, receipt_at, ids.CANCEL_ACTION))
    until_the_change_gives_up(clock)
    assert len(dms_saying(fake_slack, ALICE, "could not confirm that your cancellation was recorded")) == 1

    # Slack shows the request again, but refuses every post to the team's channel until the settling gives up.
    slack.back_up()
    slack.posts_failing = {C_ENG}
    work_through_the_queue(clock, until=clock.monotonic() + SETTLE_GIVES_UP_WITHIN)

    assert any(name == "chat.postMessage" for name, _ in slack.refused)
    assert the_entry(fake_slack)["status"] == "cancelled"
    assert len(replies_opening(fake_slack, f"Cancelled by <@{ALICE}>")) == 1, thread(fake_slack)
    # Slack showed her the cancellation in the ledger: she hears that it was recorded, once.
    assert len(dms_saying(fake_slack, ALICE, f"Your cancellation {AFTER_ALL}")) == 1, (
        dm_texts(fake_slack, ALICE), [problem.summary for problem in DeliveryProblem.objects.all()])
    assert dms_saying(fake_slack, ALICE, UNCHANGED) == []
    # HR hears what is true: the cancellation is in the ledger, its announcement was not sent.
    [problem] = DeliveryProblem.objects.all()
    assert "may be in the ledger or not" not in problem.summary, problem.summary
    assert "ledger" in problem.summary and "cancellation" in problem.summary, problem.summary


# --- A release of the app before this one --------------------------------------------------------------


def test_a_settling_row_taken_by_a_worker_of_the_release_before_is_handed_back_and_then_settles(
        client, fake_slack, clock, slack, no_backoff, monkeypatch):
    alices_request(client, fake_slack, clock)
    receipt = fake_slack.workspace.messages(ALICE)[0]
    slack.rewrites = "made"
    send(client, receipt_press(fake_slack, (receipt.channel, receipt.ts), ids.WITHDRAW_ACTION))
    until_the_change_gives_up(clock)
    slack.back_up()
    [waiting] = [row for row in settle_rows() if row.status == TaskResultStatus.READY]

    # A worker of the release before, which has no such task, takes the row.
    with monkeypatch.context() as old_release:
        old_release.delattr(tasks, "settle_change")
        waiting.claim("old-worker")
        Worker(queue_names=["*"], interval=0, batch=True, backend_name="default", startup_delay=False,
               max_tasks=None, worker_id="old-worker", excluded_queue_names=[]).run_task(waiting)
    waiting.refresh_from_db()
    assert waiting.status == TaskResultStatus.READY, (waiting.status, waiting.exception_class_path)
    assert thread(fake_slack) == [] and dms_saying(fake_slack, ALICE, AFTER_ALL) == []

    work_through_the_queue(clock)  # this release's worker takes it

    assert len(replies_opening(fake_slack, f"Withdrawn by <@{ALICE}>")) == 1, thread(fake_slack)
    assert len(dms_saying(fake_slack, ALICE, AFTER_ALL)) == 1, dm_texts(fake_slack, ALICE)
    assert len(dms_saying(fake_slack, ALICE, COULD_NOT_CONFIRM)) == 1
    assert not DeliveryProblem.objects.exists()


# --- An edit given up on unconfirmed -----------------------------------------------------------------------


def edit_to_friday(client, fake_slack, receipt_at: tuple[str, str], view_id: str = "V_EDIT") -> None:
    """Alice presses Edit on her receipt and sends the form (Slack's view `view_id`) with Mon 10 – Fri 14 Mar."""
    before = len(fake_slack.calls("views.open"))
    send(client, receipt_press(fake_slack, receipt_at, ids.EDIT_ACTION))
    [opened] = fake_slack.calls("views.open")[before:]
    form = opened.params["view"]
    if isinstance(form, str):
        form = json.loads(form)
    payload = view_submission_payload(user_id=ALICE, view=form, values=request_values("vacation", MONDAY, FRIDAY),
                                      view_id=view_id, view_hash=f"1766000000.{view_id}")
    response = send(client, payload)
    assert response.content == b"", response.content


def test_an_edit_slack_made_but_would_not_confirm_is_told_once_and_its_follow_ups_are_not_silently_lost(
        client, fake_slack, clock, slack, no_backoff):
    receipt_at = alices_request(client, fake_slack, clock)
    slack.rewrites = "made"

    edit_to_friday(client, fake_slack, receipt_at)
    until_the_change_gives_up(clock)
    slack.back_up()
    work_through_the_queue(clock)

    entry = the_entry(fake_slack)
    assert (entry["status"], entry["end"]) == ("pending", FRIDAY.isoformat())  # made
    [unconfirmed] = dms_saying(fake_slack, ALICE, "could not confirm that your edit was recorded")
    assert "Fri 14 Mar" in unconfirmed, unconfirmed  # what she asked for, shown back
    assert [t for t in dm_texts(fake_slack, ALICE) if UNCHANGED in t] == []
    assert len(request_messages(fake_slack)) == 1
    # The approvers see new dates on the message: they are told in its thread, or HR knows they were not.
    narrated = replies_opening(fake_slack, f"Edited by <@{ALICE}>")
    assert len(narrated) <= 1, thread(fake_slack)
    assert narrated or DeliveryProblem.objects.exists(), (thread(fake_slack), dm_texts(fake_slack, ALICE))


def test_an_edit_slack_did_not_make_is_told_once_and_the_same_edit_sent_again_is_made_and_narrated_once(
        client, fake_slack, clock, slack, no_backoff):
    receipt_at = alices_request(client, fake_slack, clock)
    slack.rewrites = "not made"

    edit_to_friday(client, fake_slack, receipt_at)
    until_the_change_gives_up(clock)
    slack.back_up()
    work_through_the_queue(clock)

    assert the_entry(fake_slack)["end"] == "2031-03-12"  # not made
    assert len(dms_saying(fake_slack, ALICE, "could not confirm that your edit was recorded")) == 1
    assert thread(fake_slack) == []

    # She looks, sees it as it was, and sends the edit again (a form opened anew).
    edit_to_friday(client, fake_slack, receipt_at, view_id="V_EDIT_AGAIN")
    work_through_the_queue(clock)

    entry = the_entry(fake_slack)
    assert (entry["status"], entry["end"]) == ("pending", FRIDAY.isoformat())
    [reply] = replies_opening(fake_slack, f"Edited by <@{ALICE}>")
    assert "Wed 12 Mar" in reply.split("(was ", 1)[1], reply
    assert len(thread(fake_slack)) == 1
    receipt = fake_slack.workspace.message(*receipt_at)
    assert "Fri 14 Mar" in receipt.text, receipt.text
    assert len(dms_saying(fake_slack, ALICE, COULD_NOT_CONFIRM)) == 1
    assert not DeliveryProblem.objects.exists()


# --- The same press delivered twice ------------------------------------------------------------------------


def pressed_a_second_later(payload: dict) -> dict:
    """The same button pressed again a second later: a press of its own (Slack's action_ts)."""
    action = payload["actions"][0]
    return dict(payload, actions=[dict(action, action_ts=f"{float(action['action_ts']) + 1:.6f}")])


@pytest.mark.parametrize("second", ["the-same-press-delivered-again", "a-double-click"])
def test_a_withdraw_press_sent_twice_while_slack_would_not_confirm_is_told_and_settled_once(
        client, fake_slack, clock, slack, no_backoff, second):
    alices_request(client, fake_slack, clock)
    receipt = fake_slack.workspace.messages(ALICE)[0]
    slack.rewrites = "made"
    payload = receipt_press(fake_slack, (receipt.channel, receipt.ts), ids.WITHDRAW_ACTION)

    send(client, payload)
    send(client, payload if second == "the-same-press-delivered-again" else pressed_a_second_later(payload))
    until_the_change_gives_up(clock)
    slack.back_up()
    work_through_the_queue(clock)

    assert the_entry(fake_slack)["status"] == "cancelled"
    assert len(replies_opening(fake_slack, f"Withdrawn by <@{ALICE}>")) == 1, thread(fake_slack)
    assert len(thread(fake_slack)) == 1
    assert len(dms_saying(fake_slack, ALICE, AFTER_ALL)) == 1, dm_texts(fake_slack, ALICE)
    assert dms_saying(fake_slack, ALICE, UNCHANGED) == []
    assert len(dms_saying(fake_slack, ALICE, COULD_NOT_CONFIRM)) == 1, dm_texts(fake_slack, ALICE)
    assert dm_texts(fake_slack, BOB) == [] and dm_texts(fake_slack, DAVE) == []
    assert not DeliveryProblem.objects.exists()
