"""Approvals and rejections whose task gave up while Slack kept failing, after the write to the request's
message was made (or maybe made: Slack would not show the message, and the approver was told "I could not
confirm that your approval was recorded"), or after it was made with what follows it unsent.

README ("A success is never reported as a failure"): such a decision is looked at again by a task of its own
for about 40 minutes; once Slack shows the request, the thread reply, the requester's DM and the announcement
go out once each, and the approver told "could not confirm" hears it "was recorded after all" (or "was not
recorded after all" when the request is still pending); when someone else changed the request meanwhile,
nothing more is said; only when Slack fails all that time is it one Delivery problem for HR, worded by what
the look saw.

Tasks wait as rows, on a simulated clock (test_support.simulated_time). Slack is switched half down and back
up by the test between runs of the queue.
"""

import json

import pytest
from django.tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from approvals import block_ids as ids
from approvals import request_services, tasks
from approvals.management.commands.task_worker import Worker
from approvals.models import DeliveryProblem
from fake_slack.personas import C_ENG, C_ENG_APPROVALS
from test_support.direct_messages import is_decision
from test_support.flows import (
    ALICE,
    BOB,
    DAVE,
    HR,
    MONDAY,
    buttons_in,
    install_config,
    open_request_form,
    posted_requests,
    reject_in_the_channel,
    request_time_off,
    request_values,
    submit_request,
)
from test_support.half_down_slack import HalfDownSlack, dm_texts, request_messages, the_entry, thread
from test_support.simulated_time import work_through_the_queue
from test_support.slack_requests import (
    block_actions_payload,
    event_envelope,
    post_event,
    post_interaction,
    view_block_actions_payload,
)

pytestmark = pytest.mark.django_db

# The decision task's six attempts with their backoff (5 s, 10 s, … 80 s), and a little more: it has given up.
DECISION_GIVES_UP_WITHIN = 170
# The settling task's ten attempts (5 s, 10 s, … 1280 s: about 43 minutes), and a little more.
SETTLE_GIVES_UP_WITHIN = 2700

COULD_NOT_CONFIRM = "could not confirm"
AFTER_ALL = "was recorded after all"
NOT_AFTER_ALL = "was not recorded after all"

# A reason typed by someone who knows mrkdwn: it must reach the thread and the DM inert.
HOSTILE_REASON = "<!channel> Overlaps the <https://evil.example|release> & <@U_HR> said no"
ESCAPED_REASON = ("&lt;!channel&gt; Overlaps the &lt;https://evil.example|release&gt; &amp; &lt;@U_HR&gt; "
                  "said no")


@pytest.fixture
def slack(fake_slack, clock):
    half_down = HalfDownSlack(fake_slack, clock)
    fake_slack.handle = half_down.handle
    yield half_down
    del fake_slack.handle


# --- What Slack holds ------------------------------------------------------------------------------------


def announcements(fake_slack) -> list[str]:
    return [m.text for m in fake_slack.workspace.messages(C_ENG)]


def dms_saying(fake_slack, user: str, words: str) -> list[str]:
    return [text for text in dm_texts(fake_slack, user) if words in text]


def decision_dms(fake_slack, user: str = ALICE) -> list[str]:
    """The decision DMs ("… approved your …", "… rejected your …"), not her receipt rewritten to say so."""
    return [text for text in dm_texts(fake_slack, user)
            if is_decision(text) or ("rejected your" in text and "rejected your request for" not in text)]


def ephemerals(fake_slack, user: str, channel: str = C_ENG_APPROVALS) -> list[str]:
    """The notes Slack took for `user` in `channel` (only `user` sees them)."""
    return [c.params["text"] for c in fake_slack.calls("chat.postEphemeral")
            if c.params.get("user") == user and c.params.get("channel") == channel and c.response.get("ok")]


def told(fake_slack, user: str, words: str) -> list[str]:
    """What `user` was told containing `words`: by ephemeral in the approvals channel, or by DM."""
    return [t for t in ephemerals(fake_slack, user) if words in t] + dms_saying(fake_slack, user, words)


def written_by(params: dict) -> str:
    """Who decided, as a rewrite of the request's message (a chat.update's parameters) says."""
    metadata = params["metadata"]
    metadata = json.loads(metadata) if isinstance(metadata, str) else metadata
    return metadata["event_payload"]["decided_by"]


def settle_rows() -> list[DBTaskResult]:
    return [row for row in DBTaskResult.objects.all() if row.task_path.endswith(".settle_decision")]


def first_settle_rows() -> list[DBTaskResult]:
    """The settling tasks enqueued (their first attempts, not the retries)."""
    return [row for row in settle_rows() if not (row.args_kwargs.get("kwargs") or {}).get("previous_attempt")]


# --- Alice's request and the approvers' buttons ------------------------------------------------------------


def alices_request(client, fake_slack, clock):
    """Alice's request, Mon 10 – Wed 12 Mar 2031, posted; the call that posted it."""
    install_config()
    request_time_off(client, fake_slack, ALICE)
    work_through_the_queue(clock)
    [posted] = posted_requests(fake_slack)
    return posted


def receipt_of_alice(fake_slack):
    return fake_slack.workspace.messages(ALICE)[0]


def approve_payload(fake_slack, user: str, posted) -> dict:
    buttons = [b for b in posted.params["blocks"] if b.get("type") == "actions"][0]["elements"]
    value = next(b["value"] for b in buttons if b["action_id"] == ids.APPROVE_ACTION)
    return block_actions_payload(user_id=user, action_id=ids.APPROVE_ACTION, value=value,
                                 channel_id=posted.response["channel"], message_ts=posted.response["ts"],
                                 block_id=ids.DECISION_BLOCK)


def send(client, payload: dict):
    response = post_interaction(client, payload)
    assert response.status_code == 200, response.content
    return response


def home_of(client, fake_slack, clock, user: str, event_id: str) -> dict:
    """`user` opens App Home; the tab Slack shows them once the queue has run."""
    envelope = event_envelope({"type": "app_home_opened", "user": user, "channel": "D_HOME", "tab": "home",
                               "event_ts": "1766000000.000300"}, event_id=event_id)
    assert post_event(client, envelope).status_code == 200
    work_through_the_queue(clock)
    workspace = fake_slack.workspace
    return workspace.views[workspace.home_views[user]]


def home_press(user: str, home: dict, action_id: str) -> dict:
    """A press of `action_id` on an App Home, as Slack sends it (a view: no channel, no message)."""
    block_id, value = buttons_in(home["blocks"])[action_id]
    return view_block_actions_payload(user_id=user, action_id=action_id, value=value, block_id=block_id, view=home)


def until_the_decision_gives_up(clock) -> None:
    work_through_the_queue(clock, until=clock.monotonic() + DECISION_GIVES_UP_WITHIN)


# --- A rejection, with its reason ----------------------------------------------------------------------------


def test_a_rejection_slack_would_not_confirm_reaches_the_thread_and_alice_once_with_its_reason_inert(
        client, fake_slack, clock, slack, no_backoff):
    posted = alices_request(client, fake_slack, clock)
    receipt = receipt_of_alice(fake_slack)
    slack.rewrites = "made"

    reject_in_the_channel(client, fake_slack, BOB, posted, HOSTILE_REASON)
    until_the_decision_gives_up(clock)

    assert slack.tried and the_entry(fake_slack)["status"] == "rejected"  # made, though Slack never said so
    assert len(told(fake_slack, BOB, "could not confirm that your rejection was recorded")) == 1
    assert thread(fake_slack) == [] and decision_dms(fake_slack) == []

    slack.back_up()
    work_through_the_queue(clock)

    entry = the_entry(fake_slack)
    assert (entry["status"], entry["decided_by"], entry["reason"]) == ("rejected", BOB, HOSTILE_REASON)
    assert thread(fake_slack) == [f"Rejected by <@{BOB}>: {ESCAPED_REASON}"]
    [dm] = decision_dms(fake_slack)
    assert dm.startswith(f":x: <@{BOB}> rejected your") and dm.endswith(f"Reason: {ESCAPED_REASON}"), dm
    assert "<!channel>" not in dm and "<https://" not in dm
    # Her receipt says where the request stands, with the reason, and offers nothing more to press.
    receipt = fake_slack.workspace.message(receipt.channel, receipt.ts)
    assert ESCAPED_REASON in receipt.text and buttons_in(receipt.blocks) == {}, receipt.text
    assert announcements(fake_slack) == []  # a rejection is never announced
    assert len(told(fake_slack, BOB, "Your rejection was recorded after all")) == 1
    assert told(fake_slack, BOB, NOT_AFTER_ALL) == []
    assert len(told(fake_slack, BOB, COULD_NOT_CONFIRM)) == 1
    assert not DeliveryProblem.objects.exists()

    assert work_through_the_queue(clock) == 0
    assert len(thread(fake_slack)) == 1 and len(decision_dms(fake_slack)) == 1


# --- Approve pressed on App Home ---------------------------------------------------------------------------


@pytest.mark.parametrize("made", [True, False], ids=["made", "not-made"])
def test_an_approval_pressed_on_app_home_that_slack_would_not_confirm_is_settled_by_dm_said_once(
        client, fake_slack, clock, slack, no_backoff, made):
    alices_request(client, fake_slack, clock)
    bobs_home = home_of(client, fake_slack, clock, BOB, "Ev_BOB_HOME")
    slack.rewrites = "made" if made else "not made"

    send(client, home_press(BOB, bobs_home, ids.APPROVE_ACTION))
    until_the_decision_gives_up(clock)

    assert slack.tried
    # App Home has no channel: Bob hears by DM, never by an ephemeral in a channel he is not looking at.
    assert len(dms_saying(fake_slack, BOB, "could not confirm that your approval was recorded")) == 1
    assert thread(fake_slack) == [] and decision_dms(fake_slack) == []

    slack.back_up()
    slack.lose_answer_of_dm_to = BOB  # the first DM Bob gets now is made, its answer lost
    work_through_the_queue(clock)
    assert slack.answers_lost == 1

    if made:
        assert (the_entry(fake_slack)["status"], the_entry(fake_slack)["decided_by"]) == ("approved", BOB)
        assert len(dms_saying(fake_slack, BOB, f"Your approval {AFTER_ALL}")) == 1, dm_texts(fake_slack, BOB)
        assert dms_saying(fake_slack, BOB, NOT_AFTER_ALL) == []
        assert thread(fake_slack) == [f"Approved by <@{BOB}>"]
        assert len(decision_dms(fake_slack)) == 1, dm_texts(fake_slack, ALICE)
        assert len([t for t in announcements(fake_slack) if f"<@{ALICE}> will be out" in t]) == 1
    else:
        assert the_entry(fake_slack)["status"] == "pending"
        assert len(dms_saying(fake_slack, BOB, f"Your approval {NOT_AFTER_ALL}")) == 1, dm_texts(fake_slack, BOB)
        assert dms_saying(fake_slack, BOB, AFTER_ALL) == []
        assert thread(fake_slack) == [] and decision_dms(fake_slack) == [] and announcements(fake_slack) == []
    assert len(dms_saying(fake_slack, BOB, COULD_NOT_CONFIRM)) == 1
    assert [c for c in fake_slack.calls("chat.postEphemeral") if c.params.get("user") == BOB] == []
    assert not DeliveryProblem.objects.exists()

    if not made:
        # He presses Approve again on his tab, as he was told he may: approved, and told nothing twice.
        bobs_home = home_of(client, fake_slack, clock, BOB, "Ev_BOB_HOME_AGAIN")
        send(client, home_press(BOB, bobs_home, ids.APPROVE_ACTION))
        work_through_the_queue(clock)
        assert (the_entry(fake_slack)["status"], the_entry(fake_slack)["decided_by"]) == ("approved", BOB)
        assert thread(fake_slack) == [f"Approved by <@{BOB}>"]
        assert len(decision_dms(fake_slack)) == 1
        assert len(dms_saying(fake_slack, BOB, NOT_AFTER_ALL)) == 1 and dms_saying(fake_slack, BOB, AFTER_ALL) == []


# --- Two approvers at once ---------------------------------------------------------------------------------


def test_two_approvers_approving_at_once_while_slack_half_fails_make_one_decision_and_nobody_hears_twice(
        client, fake_slack, clock, slack, no_backoff):
    posted = alices_request(client, fake_slack, clock)
    slack.rewrites = "made"

    send(client, approve_payload(fake_slack, BOB, posted))
    send(client, approve_payload(fake_slack, DAVE, posted))
    until_the_decision_gives_up(clock)
    slack.back_up()
    work_through_the_queue(clock)

    entry = the_entry(fake_slack)
    assert entry["status"] == "approved" and entry["decided_by"] in (BOB, DAVE), entry
    decider = entry["decided_by"]
    other = DAVE if decider == BOB else BOB
    # Every write tried (the client's own retries of a 500 among them) was the decider's: the other's never came.
    assert {written_by(params) for params in slack.tried} == {decider}
    assert thread(fake_slack) == [f"Approved by <@{decider}>"]
    assert len(decision_dms(fake_slack)) == 1 and f"<@{decider}> approved" in decision_dms(fake_slack)[0]
    assert len([t for t in announcements(fake_slack) if f"<@{ALICE}> will be out" in t]) == 1
    assert len(told(fake_slack, decider, f"Your approval {AFTER_ALL}")) == 1
    # The other approver's approval was never written: never told it was recorded, nor to click again on a
    # request that is decided; whatever he was told, once.
    assert told(fake_slack, other, AFTER_ALL) == [] and told(fake_slack, other, NOT_AFTER_ALL) == []
    # His approval was never sent to Slack (his task could not even read the message): if he was told "I
    # could not confirm that your approval was recorded … after I sent it", he hears how it ended, who decided.
    if told(fake_slack, other, COULD_NOT_CONFIRM):
        assert told(fake_slack, other, f"already approved by <@{decider}>"), (
            ephemerals(fake_slack, other), dm_texts(fake_slack, other))
    for person in (decider, other):
        said = ephemerals(fake_slack, person) + dm_texts(fake_slack, person)
        assert len(said) == len(set(said)), said
    assert not DeliveryProblem.objects.exists()


def test_an_approver_clicking_while_anothers_approval_is_being_settled_is_told_who_decided_and_nothing_goes_twice(
        client, fake_slack, clock, slack, no_backoff):
    posted = alices_request(client, fake_slack, clock)
    slack.rewrites = "made"
    send(client, approve_payload(fake_slack, BOB, posted))
    until_the_decision_gives_up(clock)
    assert len(told(fake_slack, BOB, "could not confirm that your approval was recorded")) == 1

    # Slack answers again, though not yet the settling task; Dave, seeing the buttons, approves too.
    slack.back_up()
    slack.unreadable_for = {"settle_decision"}
    send(client, approve_payload(fake_slack, DAVE, posted))
    work_through_the_queue(clock, until=clock.monotonic() + 60)
    [dave_told] = ephemerals(fake_slack, DAVE)
    assert f"already approved by <@{BOB}>" in dave_told, dave_told

    slack.back_up()
    work_through_the_queue(clock)

    entry = the_entry(fake_slack)
    assert (entry["status"], entry["decided_by"]) == ("approved", BOB)
    assert thread(fake_slack) == [f"Approved by <@{BOB}>"]
    assert len(decision_dms(fake_slack)) == 1
    assert len([t for t in announcements(fake_slack) if f"<@{ALICE}> will be out" in t]) == 1
    assert len(told(fake_slack, BOB, f"Your approval {AFTER_ALL}")) == 1
    assert ephemerals(fake_slack, DAVE) == [dave_told] and dm_texts(fake_slack, DAVE) == []
    assert not DeliveryProblem.objects.exists()


# --- The requester withdrawing while the settling waits ---------------------------------------------------


def receipt_press(fake_slack, action_id: str) -> dict:
    """A press on Alice's receipt as her Slack shows it now."""
    receipt = receipt_of_alice(fake_slack)
    message = fake_slack.workspace.message(receipt.channel, receipt.ts)
    block_id, value = buttons_in(message.blocks)[action_id]
    return block_actions_payload(user_id=ALICE, action_id=action_id, value=value, block_id=block_id,
                                 channel_id=receipt.channel, message_ts=receipt.ts)


@pytest.mark.parametrize("made", [True, False], ids=["approval-made", "approval-not-made"])
def test_alice_withdrawing_while_an_unconfirmed_approval_is_settled_is_never_told_approved_after_her_withdrawal(
        client, fake_slack, clock, slack, no_backoff, made):
    posted = alices_request(client, fake_slack, clock)
    slack.rewrites = "made" if made else "not made"
    send(client, approve_payload(fake_slack, BOB, posted))
    until_the_decision_gives_up(clock)
    assert len(told(fake_slack, BOB, "could not confirm that your approval was recorded")) == 1

    # Slack answers everyone but the settling task for a while; Alice presses Withdraw on her receipt, which
    # still shows her request pending.
    slack.back_up()
    slack.unreadable_for = {"settle_decision"}
    send(client, receipt_press(fake_slack, ids.WITHDRAW_ACTION))
    work_through_the_queue(clock, until=clock.monotonic() + 60)

    slack.back_up()
    work_through_the_queue(clock)

    entry = the_entry(fake_slack)
    if made:
        # Approved before she pressed: her withdrawal is refused, and the approval reaches everyone once.
        assert (entry["status"], entry["decided_by"]) == ("approved", BOB)
        assert len(dms_saying(fake_slack, ALICE, "already approved")) == 1, dm_texts(fake_slack, ALICE)
        assert thread(fake_slack) == [f"Approved by <@{BOB}>"]
        assert len(decision_dms(fake_slack)) == 1
        assert len([t for t in announcements(fake_slack) if f"<@{ALICE}> will be out" in t]) == 1
        assert len(told(fake_slack, BOB, f"Your approval {AFTER_ALL}")) == 1
    else:
        # Withdrawn: no announcement of leave she will not take, no "approved" DM, and Bob is not told to
        # approve again (nor that his approval was recorded).
        assert (entry["status"], entry["decided_by"]) == ("cancelled", ALICE)
        assert thread(fake_slack) == [t for t in thread(fake_slack) if t.startswith(f"Withdrawn by <@{ALICE}>")]
        assert len(thread(fake_slack)) == 1, thread(fake_slack)
        assert decision_dms(fake_slack) == [], dm_texts(fake_slack, ALICE)
        assert announcements(fake_slack) == []
        assert told(fake_slack, BOB, AFTER_ALL) == [] and told(fake_slack, BOB, NOT_AFTER_ALL) == []
        receipt = fake_slack.workspace.message(receipt_of_alice(fake_slack).channel, receipt_of_alice(fake_slack).ts)
        assert "approved" not in receipt.text, receipt.text
    assert len(told(fake_slack, BOB, COULD_NOT_CONFIRM)) == 1
    assert not DeliveryProblem.objects.exists()


# --- A decision written whose follow-ups Slack kept failing -----------------------------------------------


def test_an_approval_written_whose_follow_ups_slack_kept_failing_gets_them_once_without_troubling_bob(
        client, fake_slack, clock, slack, no_backoff):
    posted = alices_request(client, fake_slack, clock)
    slack.thread_posts_failing = True
    slack.posts_failing = {C_ENG}

    send(client, approve_payload(fake_slack, BOB, posted))
    until_the_decision_gives_up(clock)

    assert (the_entry(fake_slack)["status"], the_entry(fake_slack)["decided_by"]) == ("approved", BOB)
    assert thread(fake_slack) == [] and announcements(fake_slack) == []
    assert not DeliveryProblem.objects.exists()  # not lost: still being sent

    slack.back_up()
    work_through_the_queue(clock)

    assert thread(fake_slack) == [f"Approved by <@{BOB}>"]
    assert len(decision_dms(fake_slack)) == 1
    assert len([t for t in announcements(fake_slack) if f"<@{ALICE}> will be out" in t]) == 1
    # Bob was told nothing but that it was done: no "could not confirm", no "after all".
    assert told(fake_slack, BOB, "could not") == [] and told(fake_slack, BOB, "after all") == []
    assert len(first_settle_rows()) == 1
    assert not DeliveryProblem.objects.exists()


# --- The settling task itself gives up ----------------------------------------------------------------------


def test_an_approval_slack_would_not_show_for_an_hour_is_one_delivery_problem_saying_it_may_be_recorded(
        client, fake_slack, clock, slack, no_backoff):
    posted = alices_request(client, fake_slack, clock)
    slack.rewrites = "made"
    send(client, approve_payload(fake_slack, BOB, posted))
    until_the_decision_gives_up(clock)
    said_to_bob = ephemerals(fake_slack, BOB) + dm_texts(fake_slack, BOB)
    assert len([t for t in said_to_bob if COULD_NOT_CONFIRM in t]) == 1, said_to_bob

    work_through_the_queue(clock, until=clock.monotonic() + 3600)  # Slack will not show it for an hour

    assert settle_rows() and not DBTaskResult.objects.filter(status=TaskResultStatus.READY).exists()
    [problem] = DeliveryProblem.objects.all()
    assert problem.user == BOB, problem.user
    assert "approval" in problem.summary and "may be in the ledger or not" in problem.summary, problem.summary
    assert ephemerals(fake_slack, BOB) + dm_texts(fake_slack, BOB) == said_to_bob  # nothing more said to him
    assert thread(fake_slack) == [] and decision_dms(fake_slack) == []

    slack.back_up()
    assert work_through_the_queue(clock) == 0
    assert DeliveryProblem.objects.count() == 1


def test_an_approval_slack_shows_but_whose_announcement_it_keeps_failing_is_one_problem_saying_it_is_recorded(
        client, fake_slack, clock, slack, no_backoff):
    posted = alices_request(client, fake_slack, clock)
    slack.rewrites = "made"
    send(client, approve_payload(fake_slack, BOB, posted))
    until_the_decision_gives_up(clock)

    # Slack shows the request again, but refuses every post to the team's channel until the settling gives up.
    slack.back_up()
    slack.posts_failing = {C_ENG}
    work_through_the_queue(clock, until=clock.monotonic() + SETTLE_GIVES_UP_WITHIN)

    assert any(params.get("channel") == C_ENG for name, params in slack.refused if name == "chat.postMessage")
    assert not DBTaskResult.objects.filter(status=TaskResultStatus.READY).exists()
    assert thread(fake_slack) == [f"Approved by <@{BOB}>"]
    assert len(decision_dms(fake_slack)) == 1
    assert len(told(fake_slack, BOB, f"Your approval {AFTER_ALL}")) == 1
    [problem] = DeliveryProblem.objects.all()
    assert "may be in the ledger or not" not in problem.summary, problem.summary
    assert f"{BOB}'s approval is in the ledger" in problem.summary, problem.summary
    assert problem.user == BOB


def test_a_rejection_written_whose_thread_reply_never_goes_is_one_problem_and_bob_is_never_told_it_failed(
        client, fake_slack, clock, slack, no_backoff):
    posted = alices_request(client, fake_slack, clock)
    slack.thread_posts_failing = True

    reject_in_the_channel(client, fake_slack, BOB, posted, "Release week")
    work_through_the_queue(clock, until=clock.monotonic() + DECISION_GIVES_UP_WITHIN + SETTLE_GIVES_UP_WITHIN)

    assert not DBTaskResult.objects.filter(status=TaskResultStatus.READY).exists()
    assert (the_entry(fake_slack)["status"], the_entry(fake_slack)["reason"]) == ("rejected", "Release week")
    [problem] = DeliveryProblem.objects.all()
    assert f"{BOB}'s rejection is in the ledger" in problem.summary, problem.summary
    assert told(fake_slack, BOB, "could not") == [] and told(fake_slack, BOB, "Sorry") == []
    assert len(first_settle_rows()) == 1


# --- The same click delivered twice ---------------------------------------------------------------------------


@pytest.mark.parametrize("where", ["in-the-channel", "on-app-home"])
def test_the_same_approve_click_delivered_twice_while_slack_would_not_confirm_is_told_and_settled_once(
        client, fake_slack, clock, slack, no_backoff, where):
    posted = alices_request(client, fake_slack, clock)
    if where == "on-app-home":
        payload = home_press(BOB, home_of(client, fake_slack, clock, BOB, "Ev_BOB_HOME"), ids.APPROVE_ACTION)
    else:
        payload = approve_payload(fake_slack, BOB, posted)
    slack.rewrites = "made"

    send(client, payload)
    send(client, payload)  # Slack delivers it again (our first answer was slow)
    until_the_decision_gives_up(clock)
    slack.back_up()
    work_through_the_queue(clock)

    assert (the_entry(fake_slack)["status"], the_entry(fake_slack)["decided_by"]) == ("approved", BOB)
    assert thread(fake_slack) == [f"Approved by <@{BOB}>"]
    assert len(decision_dms(fake_slack)) == 1
    assert len([t for t in announcements(fake_slack) if f"<@{ALICE}> will be out" in t]) == 1
    assert len(told(fake_slack, BOB, COULD_NOT_CONFIRM)) == 1, (ephemerals(fake_slack, BOB), dm_texts(fake_slack, BOB))
    assert len(told(fake_slack, BOB, f"Your approval {AFTER_ALL}")) == 1
    assert told(fake_slack, BOB, "already approved") == []  # his own approval is not "already approved" to him
    assert len(first_settle_rows()) == 1
    assert not DeliveryProblem.objects.exists()


# --- A release of the app before this one --------------------------------------------------------------


def old_worker_runs(row: DBTaskResult) -> DBTaskResult:
    row.claim("old-worker")
    Worker(queue_names=["*"], interval=0, batch=True, backend_name="default", startup_delay=False,
           max_tasks=None, worker_id="old-worker", excluded_queue_names=[]).run_task(row)
    row.refresh_from_db()
    return row


def test_a_settling_row_taken_by_a_worker_of_the_release_before_is_handed_back_and_then_settles(
        client, fake_slack, clock, slack, no_backoff, monkeypatch):
    posted = alices_request(client, fake_slack, clock)
    slack.rewrites = "made"
    send(client, approve_payload(fake_slack, BOB, posted))
    until_the_decision_gives_up(clock)
    slack.back_up()
    [waiting] = [row for row in settle_rows() if row.status == TaskResultStatus.READY]

    with monkeypatch.context() as old_release:  # a worker of the release before has no such task
        old_release.delattr(tasks, "settle_decision")
        waiting = old_worker_runs(waiting)
    assert waiting.status == TaskResultStatus.READY, (waiting.status, waiting.exception_class_path)
    assert thread(fake_slack) == [] and told(fake_slack, BOB, AFTER_ALL) == []

    work_through_the_queue(clock)  # this release's worker takes it

    assert thread(fake_slack) == [f"Approved by <@{BOB}>"]
    assert len(decision_dms(fake_slack)) == 1
    assert len(told(fake_slack, BOB, f"Your approval {AFTER_ALL}")) == 1
    assert not DeliveryProblem.objects.exists()


def test_an_app_home_approval_taken_by_a_worker_of_the_release_before_is_handed_back_and_then_decided(
        client, fake_slack, clock, no_backoff, monkeypatch):
    from dataclasses import make_dataclass

    alices_request(client, fake_slack, clock)
    bobs_home = home_of(client, fake_slack, clock, BOB, "Ev_BOB_HOME")
    send(client, home_press(BOB, bobs_home, ids.APPROVE_ACTION))
    [waiting] = [row for row in DBTaskResult.objects.filter(status=TaskResultStatus.READY)
                 if row.task_path.endswith(".decide_request")]

    # The release before: a Decision without `pressed_at`.
    older = make_dataclass("Decision", [(name, object) for name in
                                        ("request_id", "channel", "ts", "approver", "status")]
                           + [("reason", object, None), ("told_in", object, None)], frozen=True)
    older.__module__ = request_services.__name__
    with monkeypatch.context() as old_release:
        old_release.setattr(request_services, "Decision", older)
        waiting = old_worker_runs(waiting)
    assert waiting.status == TaskResultStatus.READY, (waiting.status, waiting.exception_class_path)
    assert the_entry(fake_slack)["status"] == "pending"

    work_through_the_queue(clock)

    assert (the_entry(fake_slack)["status"], the_entry(fake_slack)["decided_by"]) == ("approved", BOB)
    assert thread(fake_slack) == [f"Approved by <@{BOB}>"] and len(decision_dms(fake_slack)) == 1
    assert not DeliveryProblem.objects.exists()


# --- Leave that needs no approval ------------------------------------------------------------------------------


def test_leave_needing_no_approval_and_leave_hr_records_add_no_settling_and_are_announced_once(
        client, fake_slack, clock, slack, no_backoff):
    install_config()
    slack.rewrites = "made"  # any rewrite of a request's message would fail: none is needed

    request_time_off(client, fake_slack, ALICE, leave_type="sick", start=MONDAY, end=MONDAY)
    view = open_request_form(client, fake_slack, HR, f"for <@{DAVE}|dave>")
    response = submit_request(client, HR, view, request_values("vacation", MONDAY, MONDAY), view_id="V_HR",
                              view_hash="h_hr")
    assert response.status_code == 200, response.content
    work_through_the_queue(clock)

    entries = [m.metadata["event_payload"] for m in request_messages(fake_slack)]
    assert sorted((e["user"], e["status"]) for e in entries) == [(ALICE, "approved"), (DAVE, "approved")], entries
    assert slack.tried == [] and settle_rows() == []
    said = announcements(fake_slack)
    assert len([t for t in said if f"<@{ALICE}> will be out" in t]) == 1, said
    assert len([t for t in said if f"<@{DAVE}> will be out" in t]) == 1, said
    for person in (ALICE, DAVE, HR, BOB):
        assert told(fake_slack, person, COULD_NOT_CONFIRM) == [] and told(fake_slack, person, "after all") == []
    assert not DeliveryProblem.objects.exists()


def test_an_approval_clicked_again_after_not_recorded_after_all_that_slack_again_would_not_confirm_is_told_and_settled(
        client, fake_slack, clock, slack, no_backoff):
    posted = alices_request(client, fake_slack, clock)
    slack.rewrites = "not made"
    send(client, approve_payload(fake_slack, BOB, posted))
    until_the_decision_gives_up(clock)
    slack.back_up()
    work_through_the_queue(clock)
    assert len(told(fake_slack, BOB, f"Your approval {NOT_AFTER_ALL}")) == 1

    # He clicks again, as he was told to, and Slack stumbles the same way, this time having made it.
    slack.rewrites = "made"
    send(client, approve_payload(fake_slack, BOB, posted))
    until_the_decision_gives_up(clock)
    said = ephemerals(fake_slack, BOB) + dm_texts(fake_slack, BOB)
    assert len([t for t in said if COULD_NOT_CONFIRM in t]) == 2, said  # this click is answered too

    slack.back_up()
    work_through_the_queue(clock)

    assert (the_entry(fake_slack)["status"], the_entry(fake_slack)["decided_by"]) == ("approved", BOB)
    assert thread(fake_slack) == [f"Approved by <@{BOB}>"]
    assert len(decision_dms(fake_slack)) == 1
    assert len([t for t in announcements(fake_slack) if f"<@{ALICE}> will be out" in t]) == 1
    assert len(told(fake_slack, BOB, f"Your approval {AFTER_ALL}")) == 1
    assert not DeliveryProblem.objects.exists()
