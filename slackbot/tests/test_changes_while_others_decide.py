"""A requester changes a request while, at the same moment, an approver decides it or HR cancels it, and
while Slack half fails.

Alice edits or withdraws her pending request from the receipt DM's buttons, or cancels approved leave
from it or from `/timeoff cancel`; Bob approves or rejects; HR cancels from `/timeoff for @alice cancel`.
Each of those clicks is acknowledged at once and its work waits as a task row, as in production; the
test decides which clicks land before which tasks run, then one worker takes the rows in django-tasks-db's
order on a simulated clock (a retry waits for its `run_after`, Slack's Retry-After moves the clock on).
Slack meanwhile answers some calls with a 429 and Retry-After, `internal_error`, a 5xx after acting on
the call, or a timeout.

What people expect (README, "Employees", "Approvers" and "When things go wrong"):
- exactly one outcome is written, once; the request message's metadata and its text agree on it;
- the thread narrates each change once;
- Alice gets one truthful word about each thing she asked (a refusal that names why, or her receipt
  rewritten), never "approved" about leave she withdrew or cancelled;
- the approvers are not told anything false (not "nothing was recorded" of what was, not "approved" of
  what was withdrawn); the team channel is not told someone will be out when they won't;
- a change is judged against the rules again in its task (overlap, allowance), whatever the form saw;
- a Withdraw or Cancel that Slack delivers twice changes the request once;
- her balance counts the days that stand.
"""

import json
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import pytest
from django.tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from approvals import block_ids as ids
from fake_slack.personas import C_ENG, C_ENG_APPROVALS, C_GENERAL
from test_support.flows import (
    ALICE,
    BOB,
    DAVE,
    HR,
    MONDAY,
    VACATION,
    WEDNESDAY,
    buttons_in,
    install_config,
    open_request_form,
    request_values,
    standard_config,
)
from test_support.simulated_time import work_through_the_queue
from test_support.slack_faults import failing, slow
from test_support.slack_requests import (
    event_envelope,
    post_event,
    block_actions_payload,
    post_command,
    post_interaction,
    view_submission_payload,
)

pytestmark = pytest.mark.django_db

TUESDAY = MONDAY + timedelta(days=1)
THURSDAY = MONDAY + timedelta(days=3)
FRIDAY = MONDAY + timedelta(days=4)
NEXT_MONDAY = MONDAY + timedelta(days=7)
NEXT_TUESDAY = MONDAY + timedelta(days=8)
NEXT_WEDNESDAY = MONDAY + timedelta(days=9)


# --- Which calls Slack fails ----------------------------------------------------------------------


def rewrite_of_request(method, params) -> bool:
    """chat.update of a request message (not of a receipt DM)."""
    return method == "chat.update" and params.get("channel") == C_ENG_APPROVALS


def decision_rewrite(status: str):
    """The chat.update writing `status` into a request message's metadata."""
    def matches(method, params) -> bool:
        return rewrite_of_request(method, params) and f'"status": "{status}"' in json.dumps(params.get("metadata"))
    return matches


def read_of_approvals(method, params) -> bool:
    return method == "conversations.history" and params.get("channel") == C_ENG_APPROVALS


# --- The scene ------------------------------------------------------------------------------------


def payload_of(call) -> dict:
    metadata = call.params.get("metadata")
    metadata = json.loads(metadata) if isinstance(metadata, str) else metadata
    return (metadata or {}).get("event_payload") or {}


class Scene:
    """Engineering as the README's examples have it; tasks wait as rows on `clock`."""

    def __init__(self, client, fake_slack, clock, config=None):
        self.client, self.fake, self.clock = client, fake_slack, clock
        install_config(config)
        self.views = 0

    def run(self, **kwargs) -> int:
        return work_through_the_queue(self.clock, **kwargs)

    # Alice asks

    def ask(self, start=MONDAY, end=WEDNESDAY, leave_type="vacation", note="Ski week") -> dict:
        """Alice sends a request and its delivery runs: returns its metadata payload."""
        response = self.send_form(ALICE, leave_type, start, end, note=note)
        assert response.content == b"", response.content
        self.run()
        posted = [c for c in self.fake.calls("chat.postMessage") if c.params.get("channel") == C_ENG_APPROVALS
                  and not c.params.get("thread_ts") and c.response.get("ok")
                  and payload_of(c).get("start") == start.isoformat()]
        return payload_of(posted[-1])

    def send_form(self, user, leave_type, start, end, *, note="", form=None):
        self.views += 1
        form = form or open_request_form(self.client, self.fake, user)
        response = post_interaction(self.client, view_submission_payload(
            user_id=user, view=form, values=request_values(leave_type, start, end, note=note),
            view_id=f"V_FORM{self.views}", view_hash=f"1766000000.form{self.views}"))
        assert response.status_code == 200, response.content
        return response

    # What stands in Slack

    def message(self, request_id: str):
        [message] = [m for m in self.fake.workspace.messages(C_ENG_APPROVALS)
                     if m.metadata and m.metadata.get("event_type") == "timeoff_request"
                     and m.metadata["event_payload"]["id"] == request_id]
        return message

    def payload(self, request_id: str) -> dict:
        return self.message(request_id).metadata["event_payload"]

    def thread(self, request_id: str) -> list[str]:
        return [m.text for m in self.fake.workspace.replies(C_ENG_APPROVALS, self.message(request_id).ts)[1:]]

    def receipt_call(self, request_id: str):
        return next(c for c in self.fake.calls("chat.postMessage") if c.params.get("channel") == ALICE
                    and c.response.get("ok") and any(request_id in json.dumps(b) for b in c.params.get("blocks") or []))

    def receipt(self, request_id: str):
        posted = self.receipt_call(request_id)
        return self.fake.workspace.message(posted.response["channel"], posted.response["ts"])

    def team_channel(self) -> list[str]:
        return [m.text for m in self.fake.workspace.messages(C_ENG) if ALICE in m.text]

    def said_to(self, user) -> list[str]:
        """What the app told `user` directly (DMs and ephemerals that Slack took), in order; receipts aside."""
        said = []
        for call in self.fake.calls():
            if not call.response.get("ok"):
                continue
            if call.method == "chat.postMessage" and call.params.get("channel") == user and not buttons_in(
                    call.params.get("blocks")):
                said.append(call.params["text"])
            elif call.method == "chat.postEphemeral" and call.params.get("user") == user:
                said.append(call.params["text"])
        return said

    def request_rewrites(self, request_id: str) -> list:
        """The rewrites of the request message that Slack made (answered ok, or made though the answer was lost)."""
        ts = self.message(request_id).ts
        return [c for c in self.fake.calls("chat.update") if c.params.get("ts") == ts
                and c.params.get("channel") == C_ENG_APPROVALS and (c.response.get("ok"))]

    def balance_line(self, year=MONDAY.year) -> str:
        """Alice's Vacation line of `/timeoff balance`, answered at once or by DM a moment later."""
        before = len(self.fake.calls("chat.postMessage"))
        response = post_command(self.client, f"balance {year}", user_id=ALICE)
        assert response.status_code == 200, response.content
        text = response.json().get("text", "")
        if "Vacation" not in text:
            self.run()
            text = "\n".join(c.params["text"] for c in self.fake.calls("chat.postMessage")[before:]
                             if c.params.get("channel") == ALICE)
        [line] = [line for line in text.splitlines() if "Vacation" in line]
        return line

    # The clicks (each acknowledged at once; its task waits as a row)

    def approve(self, request_id: str, approver=BOB):
        message = self.message(request_id)
        value = buttons_in(message.blocks)[ids.APPROVE_ACTION][1]
        return self.click_on_request(approver, ids.APPROVE_ACTION, value, message.ts)

    def click_on_request(self, user, action_id, value, ts):
        response = post_interaction(self.client, block_actions_payload(
            user_id=user, action_id=action_id, value=value, channel_id=C_ENG_APPROVALS, message_ts=ts,
            block_id=ids.DECISION_BLOCK))
        assert response.status_code == 200 and response.content == b"", response.content
        return response

    def reject(self, request_id: str, reason="Release week", approver=BOB):
        message = self.message(request_id)
        value = buttons_in(message.blocks)[ids.REJECT_ACTION][1]
        self.click_on_request(approver, ids.REJECT_ACTION, value, message.ts)
        form = self.fake.last_call("views.open").params["view"]
        form = json.loads(form) if isinstance(form, str) else form
        values = {ids.REASON_BLOCK: {ids.REASON_ACTION: {"type": "plain_text_input", "value": reason}}}
        response = post_interaction(self.client, view_submission_payload(user_id=approver, view=form, values=values,
                                                                         view_id="V_REJECT"))
        assert response.status_code == 200, response.content

    def receipt_button_payload(self, request_id: str, action_id: str, blocks=None) -> dict:
        """A click on the receipt DM's button, as the receipt stands now (or as `blocks` drew it)."""
        posted = self.receipt_call(request_id)
        blocks = blocks if blocks is not None else self.receipt(request_id).blocks
        block_id, value = buttons_in(blocks)[action_id]
        return block_actions_payload(user_id=ALICE, action_id=action_id, value=value, block_id=block_id,
                                     channel_id=posted.response["channel"], message_ts=posted.response["ts"])

    def press_receipt(self, request_id: str, action_id: str, blocks=None, *, times: int = 1):
        """Alice presses a receipt button; `times`: Slack delivers the same click that many times."""
        payload = self.receipt_button_payload(request_id, action_id, blocks)
        for _ in range(times):
            response = post_interaction(self.client, payload)
            assert response.status_code == 200 and response.content == b"", response.content

    def edit(self, request_id: str, start, end, leave_type="vacation", note=""):
        """Alice presses Edit on her receipt and sends the form with new dates: the form's answer."""
        self.press_receipt(request_id, ids.EDIT_ACTION)
        form = self.fake.last_call("views.open").params["view"]
        form = json.loads(form) if isinstance(form, str) else form
        return self.send_form(ALICE, leave_type, start, end, note=note, form=form)

    def list_buttons(self, user, text) -> list[dict]:
        """The blocks of `/timeoff <text>` for `user`: answered at once, or by DM once the cache is read."""
        before = len(self.fake.calls("chat.postMessage"))
        response = post_command(self.client, text, user_id=user)
        assert response.status_code == 200, response.content
        blocks = response.json().get("blocks") or []
        if buttons_in(blocks):
            return blocks
        self.run()
        dms = [c for c in self.fake.calls("chat.postMessage")[before:] if c.params.get("channel") == user
               and buttons_in(c.params.get("blocks"))]
        assert dms, response.json()
        return dms[-1].params["blocks"]

    def press_on_list(self, user, text, action_id, *, times: int = 1):
        """`user` presses `action_id` on the ephemeral answer of `/timeoff <text>` (Slack keeps it as sent)."""
        blocks = self.list_buttons(user, text)
        block_id, value = buttons_in(blocks)[action_id]
        payload = block_actions_payload(user_id=user, action_id=action_id, value=value, block_id=block_id,
                                        channel_id=C_GENERAL, message_ts="1766000000.000300")
        payload["container"]["is_ephemeral"] = True
        payload.pop("message")
        for _ in range(times):
            response = post_interaction(self.client, payload)
            assert response.status_code == 200 and response.content == b"", response.content

    def waiting(self, name: str) -> int:
        return sum(1 for row in DBTaskResult.objects.filter(status=TaskResultStatus.READY)
                   if row.task_path.endswith(f".{name}"))


# --- Checks of the one truth ------------------------------------------------------------------------


def assert_message_tells(scene: Scene, request_id: str, status: str, decided_by: str | None) -> None:
    """The metadata holds `status` (by `decided_by`), and the message's text and blocks say the same: no
    buttons unless pending."""
    message = scene.message(request_id)
    payload = message.metadata["event_payload"]
    assert (payload["status"], payload.get("decided_by")) == (status, decided_by), payload
    shown = json.dumps(message.blocks)
    label = {"approved": "Approved", "rejected": "Rejected", "cancelled": "Cancelled", "pending": "Pending"}[status]
    assert label in shown, shown
    others = {"Approved", "Rejected", "Cancelled"} - {label}
    assert not [word for word in others if f"{word} by" in shown], shown
    if status == "pending":
        assert set(buttons_in(message.blocks)) == {ids.APPROVE_ACTION, ids.REJECT_ACTION}
        assert "— for <@" in message.text
    else:
        assert not buttons_in(message.blocks), message.blocks
        assert "— for <@" not in message.text, message.text  # approvers are no longer called on


def assert_withdrawn(scene: Scene, request_id: str) -> None:
    assert_message_tells(scene, request_id, "cancelled", ALICE)
    thread = scene.thread(request_id)
    assert len(thread) == 1 and thread[0].startswith(f"Withdrawn by <@{ALICE}>."), thread
    assert scene.team_channel() == [], scene.team_channel()
    receipt = scene.receipt(request_id)
    assert receipt.text.startswith(":no_entry_sign: Cancelled:"), receipt.text
    assert not buttons_in(receipt.blocks), receipt.blocks
    assert not [t for t in scene.said_to(ALICE) if "approved your" in t or "rejected your" in t], scene.said_to(ALICE)


def assert_approved_by_bob(scene: Scene, request_id: str) -> None:
    assert_message_tells(scene, request_id, "approved", BOB)
    assert scene.thread(request_id) == [f"Approved by <@{BOB}>"], scene.thread(request_id)
    said = scene.team_channel()
    assert len(said) == 1 and "will be out" in said[0], said
    receipt = scene.receipt(request_id)
    assert receipt.text.startswith(f":white_check_mark: <@{BOB}> approved your request"), receipt.text
    assert set(buttons_in(receipt.blocks)) == {ids.CANCEL_ACTION}, receipt.blocks
    assert len([t for t in scene.said_to(ALICE) if "approved your" in t]) == 1, scene.said_to(ALICE)


def refusals_to(scene: Scene, user) -> list[str]:
    return [t for t in scene.said_to(user) if t.startswith("I couldn't change that request")]


def nothing_false_to_bob(scene: Scene) -> None:
    for said in scene.said_to(BOB):
        assert "could not" not in said and "couldn't" not in said and "not recorded" not in said, said


# --- Approve and withdraw, clicked together -------------------------------------------------------------


def test_an_approve_clicked_before_a_withdraw_wins_and_the_withdrawal_is_refused_truthfully(client, fake_slack,
                                                                                           clock):
    scene = Scene(client, fake_slack, clock)
    request = scene.ask()
    scene.approve(request["id"])
    scene.press_receipt(request["id"], ids.WITHDRAW_ACTION)  # before the decision's task has run
    assert scene.payload(request["id"])["status"] == "pending"  # both only acknowledged so far

    scene.run()

    assert_approved_by_bob(scene, request["id"])
    [refusal] = refusals_to(scene, ALICE)
    assert "already approved" in refusal, refusal
    assert scene.said_to(BOB) == []
    assert "taken 3, pending 0" in scene.balance_line()


def test_a_withdraw_clicked_before_an_approve_wins_and_the_approver_is_told_who_withdrew_it(client, fake_slack,
                                                                                           clock):
    scene = Scene(client, fake_slack, clock)
    request = scene.ask()
    message = scene.message(request["id"])
    approve_value = buttons_in(message.blocks)[ids.APPROVE_ACTION][1]
    scene.press_receipt(request["id"], ids.WITHDRAW_ACTION)
    scene.click_on_request(BOB, ids.APPROVE_ACTION, approve_value, message.ts)  # his screen still had buttons

    scene.run()

    assert_withdrawn(scene, request["id"])
    [told] = scene.said_to(BOB)
    assert told.startswith(f"This request was already cancelled by <@{ALICE}>"), told
    assert refusals_to(scene, ALICE) == []
    assert "taken 0, pending 0" in scene.balance_line()


def test_a_reject_sent_before_a_withdraw_wins_and_alice_learns_the_reason_once(client, fake_slack, clock):
    scene = Scene(client, fake_slack, clock)
    request = scene.ask()
    scene.reject(request["id"], reason="Release week")
    scene.press_receipt(request["id"], ids.WITHDRAW_ACTION)

    scene.run()

    assert_message_tells(scene, request["id"], "rejected", BOB)
    assert scene.payload(request["id"])["reason"] == "Release week"
    assert scene.thread(request["id"]) == [f"Rejected by <@{BOB}>: Release week"]
    rejected = [t for t in scene.said_to(ALICE) if "rejected your" in t]
    assert len(rejected) == 1 and "Release week" in rejected[0], scene.said_to(ALICE)
    [refusal] = refusals_to(scene, ALICE)
    assert "already rejected" in refusal, refusal
    assert scene.receipt(request["id"]).text.startswith(f":x: <@{BOB}> rejected"), scene.receipt(request["id"]).text
    assert scene.team_channel() == []
    assert "taken 0, pending 0" in scene.balance_line()


# --- The decision's write fails for now; the withdrawal goes in meanwhile -----------------------------


@pytest.mark.parametrize("fault", ["rate_limited_429", "internal_error", "http_503", "request_timeout"])
def test_a_withdrawal_made_while_the_approvals_write_waits_on_slack_wins_and_bob_hears_it_was_withdrawn(
        client, fake_slack, clock, fault):
    # Bob clicks first, but Slack refuses his decision's rewrite for now (a 503 past the client's own
    # retries); Alice's withdrawal runs before the decision's next attempt and is written.
    scene = Scene(client, fake_slack, clock)
    request = scene.ask()
    scene.approve(request["id"])
    scene.press_receipt(request["id"], ids.WITHDRAW_ACTION)

    with failing(fake_slack, decision_rewrite("approved"), fault, times=None) as met:
        scene.run()

    assert met, "the decision's write never met Slack's fault"
    assert_withdrawn(scene, request["id"])
    assert len(scene.request_rewrites(request["id"])) == 1
    [told] = scene.said_to(BOB)
    assert told.startswith(f"This request was already cancelled by <@{ALICE}>"), told
    assert refusals_to(scene, ALICE) == []
    assert "taken 0, pending 0" in scene.balance_line()


def test_an_approval_slack_made_though_its_answer_was_lost_stands_and_the_later_withdrawal_is_refused(
        client, fake_slack, clock):
    # Slack writes "approved" into the message every time but answers 500: the decision task cannot know.
    # Alice's withdrawal, run before the decision's next attempt, finds the message approved.
    scene = Scene(client, fake_slack, clock)
    request = scene.ask()
    scene.approve(request["id"])
    scene.press_receipt(request["id"], ids.WITHDRAW_ACTION)

    with failing(fake_slack, decision_rewrite("approved"), "answer_lost", times=4):
        scene.run()

    payload = scene.payload(request["id"])
    assert (payload["status"], payload["decided_by"]) == ("approved", BOB), payload
    assert scene.thread(request["id"]) == [f"Approved by <@{BOB}>"], scene.thread(request["id"])
    assert len([t for t in scene.said_to(ALICE) if "approved your" in t]) == 1, scene.said_to(ALICE)
    [refusal] = refusals_to(scene, ALICE)
    assert "already approved" in refusal, refusal
    nothing_false_to_bob(scene)
    assert scene.said_to(BOB) == [], scene.said_to(BOB)
    receipt = scene.receipt(request["id"])
    assert receipt.text.startswith(f":white_check_mark: <@{BOB}> approved"), receipt.text
    assert "taken 3, pending 0" in scene.balance_line()


def test_a_withdrawal_waits_out_slacks_timeouts_on_reading_the_message_and_then_wins(
        client, fake_slack, clock, one_second_clients):
    # The decision's read of the request message times out (Slack answers after the client gave up): its
    # task tries again later; Alice's withdrawal, next in the queue, reads and writes it meanwhile.
    scene = Scene(client, fake_slack, clock)
    request = scene.ask()
    scene.approve(request["id"])
    scene.press_receipt(request["id"], ids.WITHDRAW_ACTION)
    read_of_the_message = lambda method, params: read_of_approvals(method, params) and bool(params.get("latest"))

    with slow(fake_slack, read_of_the_message, 1.3, times=1) as met:
        scene.run()

    assert len(met) == 1
    assert_withdrawn(scene, request["id"])
    [told] = scene.said_to(BOB)
    assert told.startswith(f"This request was already cancelled by <@{ALICE}>"), told
    assert refusals_to(scene, ALICE) == []


# --- Slack delivers a Withdraw or a Cancel twice ---------------------------------------------------


def test_a_withdraw_delivered_twice_withdraws_once_and_says_nothing_odd(client, fake_slack, clock):
    scene = Scene(client, fake_slack, clock)
    request = scene.ask()

    scene.press_receipt(request["id"], ids.WITHDRAW_ACTION, times=2)
    assert scene.waiting("change_request") == 2  # both deliveries were acknowledged and queued
    scene.run()

    assert_withdrawn(scene, request["id"])
    assert len(scene.request_rewrites(request["id"])) == 1
    assert scene.said_to(ALICE) == [], scene.said_to(ALICE)  # her receipt says it; no "couldn't" beside it
    assert "taken 0, pending 0" in scene.balance_line()


def test_a_cancel_leave_delivered_twice_cancels_once_and_corrects_the_team_channel_once(client, fake_slack, clock):
    scene = Scene(client, fake_slack, clock)
    request = scene.ask()
    scene.approve(request["id"])
    scene.run()

    scene.press_receipt(request["id"], ids.CANCEL_ACTION, times=2)
    scene.run()

    assert_message_tells(scene, request["id"], "cancelled", ALICE)
    thread = scene.thread(request["id"])
    assert thread[0] == f"Approved by <@{BOB}>" and len(thread) == 2, thread
    assert thread[1].startswith(f"Cancelled by <@{ALICE}>: this approved leave will not be taken."), thread
    said = scene.team_channel()
    assert len(said) == 2 and "will be out" in said[0] and "will not be out" in said[1], said
    assert refusals_to(scene, ALICE) == [], scene.said_to(ALICE)
    receipt = scene.receipt(request["id"])
    assert receipt.text.startswith(":no_entry_sign: Cancelled:") and not buttons_in(receipt.blocks), receipt.text
    assert "taken 0, pending 0" in scene.balance_line()


def test_a_withdraw_delivered_twice_while_slack_loses_the_first_writes_answer_withdraws_once(client, fake_slack,
                                                                                           clock):
    # The first delivery's rewrite is made, but Slack answers 500 each time the client tries it; the second
    # delivery's task finds the message withdrawn by Alice already. Neither may tell her it failed.
    scene = Scene(client, fake_slack, clock)
    request = scene.ask()
    scene.press_receipt(request["id"], ids.WITHDRAW_ACTION, times=2)

    with failing(fake_slack, decision_rewrite("cancelled"), "answer_lost", times=4) as met:
        scene.run()

    assert met
    assert_withdrawn(scene, request["id"])
    assert scene.said_to(ALICE) == [], scene.said_to(ALICE)
    assert "taken 0, pending 0" in scene.balance_line()


def test_a_cancel_pressed_twice_on_the_list_answers_once_where_it_was_pressed(client, fake_slack, clock):
    scene = Scene(client, fake_slack, clock)
    request = scene.ask()
    scene.approve(request["id"])
    scene.run()

    scene.press_on_list(ALICE, "cancel", ids.CANCEL_ACTION, times=2)
    scene.run()

    assert_message_tells(scene, request["id"], "cancelled", ALICE)
    assert len(scene.thread(request["id"])) == 2
    said = [t for t in scene.said_to(ALICE) if "approved your" not in t]
    assert len(said) == 1 and said[0].startswith(":white_check_mark: Cancelled: your"), said


def test_days_withdrawn_while_slack_lost_the_writes_answer_can_be_asked_for_again(client, fake_slack, clock):
    # Slack made the withdrawal but its answers were lost; the task's next attempt found it made. The days
    # are free again: asking for them anew is no overlap with a request that no longer stands.
    scene = Scene(client, fake_slack, clock)
    request = scene.ask()
    scene.press_receipt(request["id"], ids.WITHDRAW_ACTION)
    with failing(fake_slack, decision_rewrite("cancelled"), "answer_lost", times=4):
        scene.run()
    assert scene.payload(request["id"])["status"] == "cancelled"

    response = scene.send_form(ALICE, "vacation", MONDAY, WEDNESDAY, note="Ski week, after all")

    assert response.content == b"", response.json()  # accepted: the form closes
    scene.run()
    assert len([c for c in fake_slack.calls("chat.postMessage") if c.params.get("channel") == C_ENG_APPROVALS
                and not c.params.get("thread_ts") and c.response.get("ok")]) == 2


# --- Edits sent after an approver clicked -------------------------------------------------------------


def test_an_edit_sent_after_an_approve_click_is_refused_once_the_approval_is_written(client, fake_slack, clock):
    scene = Scene(client, fake_slack, clock)
    request = scene.ask()
    scene.approve(request["id"])

    response = scene.edit(request["id"], MONDAY, FRIDAY)
    assert response.content == b"", response.content  # the form could not know yet: accepted, queued
    scene.run()

    assert_approved_by_bob(scene, request["id"])
    payload = scene.payload(request["id"])
    assert (payload["start"], payload["end"]) == (MONDAY.isoformat(), WEDNESDAY.isoformat()), payload
    [refusal] = refusals_to(scene, ALICE)
    assert "already approved" in refusal, refusal
    assert "Wed 12 Mar" in scene.receipt(request["id"]).text
    assert "taken 3, pending 0" in scene.balance_line()


def test_an_edit_overlapping_her_other_leave_sent_after_an_approve_click_is_refused_in_the_form(client, fake_slack,
                                                                                               clock):
    scene = Scene(client, fake_slack, clock)
    first = scene.ask(MONDAY, WEDNESDAY)
    second = scene.ask(THURSDAY, FRIDAY, note="Long weekend")
    scene.approve(first["id"])

    response = scene.edit(first["id"], MONDAY, FRIDAY)

    answer = response.json()
    assert answer["response_action"] == "errors", answer
    assert any("overlap" in text.lower() for text in answer["errors"].values()), answer
    scene.run()
    assert_approved_by_bob(scene, first["id"])
    assert scene.payload(second["id"])["status"] == "pending"
    assert refusals_to(scene, ALICE) == []
    assert "taken 3, pending 2" in scene.balance_line()


def test_an_edit_onto_days_of_a_request_still_being_sent_is_not_written(client, fake_slack, clock):
    # Her second request is acknowledged but its delivery has not run yet; the edit of her first request
    # onto its days (sent after Bob's click on that first one) must not leave both standing.
    scene = Scene(client, fake_slack, clock)
    first = scene.ask(MONDAY, WEDNESDAY)
    scene.approve(first["id"])
    response = scene.send_form(ALICE, "vacation", THURSDAY, FRIDAY, note="Long weekend")
    assert response.content == b""

    edit = scene.edit(first["id"], MONDAY, FRIDAY)
    scene.run()

    payload = scene.payload(first["id"])
    assert (payload["status"], payload["end"]) == ("approved", WEDNESDAY.isoformat()), (payload, edit.content)
    active = [m.metadata["event_payload"] for m in fake_slack.workspace.messages(C_ENG_APPROVALS)
              if m.metadata and m.metadata.get("event_type") == "timeoff_request"
              and m.metadata["event_payload"]["status"] in ("pending", "approved")]
    days = sorted((e["start"], e["end"]) for e in active)
    assert days == [(MONDAY.isoformat(), WEDNESDAY.isoformat()), (THURSDAY.isoformat(), FRIDAY.isoformat())], days
    assert "taken 3, pending 2" in scene.balance_line()


def test_an_edit_past_the_allowance_sent_after_an_approve_click_is_refused_in_the_form(client, fake_slack, clock):
    config = standard_config(leave_types=(replace(VACATION, annual_allowance_days=Decimal(5)),))
    scene = Scene(client, fake_slack, clock, config)
    first = scene.ask(MONDAY, WEDNESDAY)
    second = scene.ask(NEXT_MONDAY, NEXT_TUESDAY)
    scene.approve(second["id"])

    response = scene.edit(first["id"], MONDAY, THURSDAY)

    answer = response.json()
    assert answer["response_action"] == "errors", answer
    assert "You have 3 days of Vacation left in 2031; this request needs 4" in answer["errors"].values(), answer
    scene.run()
    assert_approved_by_bob(scene, second["id"])
    assert scene.payload(first["id"])["end"] == WEDNESDAY.isoformat()
    assert "taken 2, pending 3" in scene.balance_line()


def test_two_edits_that_each_fit_the_allowance_alone_are_not_both_written(client, fake_slack, clock):
    # Allowance 6: 3 + 2 days asked. Each edit adds a day and, judged against the other request as it
    # stood when its form was sent, fits; written one after the other they would make 7.
    config = standard_config(leave_types=(replace(VACATION, annual_allowance_days=Decimal(6)),))
    scene = Scene(client, fake_slack, clock, config)
    first = scene.ask(MONDAY, WEDNESDAY)
    second = scene.ask(NEXT_MONDAY, NEXT_TUESDAY)
    scene.approve(second["id"], approver=DAVE)  # Dave's click waits in the queue too
    assert scene.edit(first["id"], MONDAY, THURSDAY).content == b""
    assert scene.edit(second["id"], NEXT_MONDAY, NEXT_WEDNESDAY).content == b""

    scene.run()

    days = sum(scene.payload(r["id"])["days"] for r in (first, second)
               if scene.payload(r["id"])["status"] in ("pending", "approved"))
    assert days <= 6, [scene.payload(r["id"]) for r in (first, second)]
    assert len(refusals_to(scene, ALICE)) == 1, scene.said_to(ALICE)
    assert "left" in scene.balance_line() and "over" not in scene.balance_line()


@pytest.mark.parametrize("fault", ["internal_error", "http_503"])
def test_an_edit_written_while_the_approvals_write_waits_on_slack_is_not_approved_unseen(client, fake_slack, clock,
                                                                                         fault):
    scene = Scene(client, fake_slack, clock)
    request = scene.ask()
    scene.approve(request["id"])
    assert scene.edit(request["id"], MONDAY, FRIDAY).content == b""

    with failing(fake_slack, decision_rewrite("approved"), fault, times=4) as met:
        scene.run()

    assert met
    assert_message_tells(scene, request["id"], "pending", None)
    payload = scene.payload(request["id"])
    assert (payload["start"], payload["end"], payload["days"]) == (MONDAY.isoformat(), FRIDAY.isoformat(), 5.0)
    thread = scene.thread(request["id"])
    assert len(thread) == 1 and thread[0].startswith(f"Edited by <@{ALICE}>: now"), thread
    [told] = scene.said_to(BOB)
    assert told.startswith("This request changed after you saw it") and "Nothing was approved" in told, told
    assert not [t for t in scene.said_to(ALICE) if "approved your" in t], scene.said_to(ALICE)
    receipt = scene.receipt(request["id"])
    assert "Fri 14 Mar" in receipt.text and set(buttons_in(receipt.blocks)) == {ids.EDIT_ACTION, ids.WITHDRAW_ACTION}
    assert scene.team_channel() == []
    assert "taken 0, pending 5" in scene.balance_line()


def test_an_edit_whose_write_answer_slack_lost_is_not_approved_on_the_old_buttons(client, fake_slack, clock):
    # Alice's edit is queued first; Bob clicks Approve on the message as his screen still shows it. Slack
    # makes the edit's rewrite but loses its answers; Bob's decision then reads the edited message.
    scene = Scene(client, fake_slack, clock)
    request = scene.ask()
    message = scene.message(request["id"])
    old_approve = buttons_in(message.blocks)[ids.APPROVE_ACTION][1]
    assert scene.edit(request["id"], MONDAY, FRIDAY).content == b""
    scene.click_on_request(BOB, ids.APPROVE_ACTION, old_approve, message.ts)

    with failing(fake_slack, rewrite_of_request, "answer_lost", times=4):
        scene.run()

    assert_message_tells(scene, request["id"], "pending", None)
    assert scene.payload(request["id"])["end"] == FRIDAY.isoformat()
    thread = scene.thread(request["id"])
    assert len(thread) == 1 and thread[0].startswith(f"Edited by <@{ALICE}>: now"), thread
    [told] = scene.said_to(BOB)
    assert told.startswith("This request changed after you saw it"), told
    assert scene.said_to(ALICE) == [], scene.said_to(ALICE)
    assert "Fri 14 Mar" in scene.receipt(request["id"]).text
    assert "taken 0, pending 5" in scene.balance_line()


# --- HR and Alice ---------------------------------------------------------------------------------------


def test_hr_withdrawing_after_an_approve_click_is_told_it_is_approved_and_alice_hears_only_the_approval(
        client, fake_slack, clock):
    scene = Scene(client, fake_slack, clock)
    request = scene.ask()
    hr_list = scene.list_buttons(HR, f"for <@{ALICE}|alice> cancel")  # read before Bob's click lands
    scene.approve(request["id"])
    block_id, value = buttons_in(hr_list)[ids.WITHDRAW_ACTION]
    payload = block_actions_payload(user_id=HR, action_id=ids.WITHDRAW_ACTION, value=value, block_id=block_id,
                                    channel_id=C_GENERAL, message_ts="1766000000.000300")
    payload["container"]["is_ephemeral"] = True
    payload.pop("message")
    assert post_interaction(client, payload).status_code == 200

    scene.run()

    assert_approved_by_bob(scene, request["id"])
    [refusal] = refusals_to(scene, HR)
    assert "already approved" in refusal, refusal
    assert not [t for t in scene.said_to(ALICE) if "changed your time off" in t], scene.said_to(ALICE)


@pytest.mark.parametrize("fault", ["http_503", "rate_limited_429", "request_timeout"])
def test_alice_and_hr_cancelling_approved_leave_together_while_slack_fails_cancel_it_once(client, fake_slack,
                                                                                         clock, fault):
    scene = Scene(client, fake_slack, clock)
    request = scene.ask()
    scene.approve(request["id"])
    scene.run()
    receipt_blocks = scene.receipt(request["id"]).blocks  # now with Cancel leave

    scene.press_receipt(request["id"], ids.CANCEL_ACTION, receipt_blocks)
    scene.press_on_list(HR, f"for <@{ALICE}|alice> cancel", ids.CANCEL_ACTION)
    with failing(fake_slack, decision_rewrite("cancelled"), fault, times=4) as met:
        scene.run()

    assert met
    payload = scene.payload(request["id"])
    assert payload["status"] == "cancelled" and payload["decided_by"] in (ALICE, HR), payload
    winner = payload["decided_by"]
    loser = HR if winner == ALICE else ALICE
    assert_message_tells(scene, request["id"], "cancelled", winner)
    thread = scene.thread(request["id"])
    assert len(thread) == 2 and thread[1].startswith(f"Cancelled by <@{winner}>"), thread
    said = scene.team_channel()
    assert len(said) == 2 and "will not be out" in said[1], said
    [refusal] = refusals_to(scene, loser)
    assert "cancelled" in refusal, refusal
    hr_dms = [t for t in scene.said_to(ALICE) if "changed your time off" in t]
    assert len(hr_dms) == (1 if winner == HR else 0), hr_dms
    receipt = scene.receipt(request["id"])
    assert receipt.text.startswith(":no_entry_sign: Cancelled") and not buttons_in(receipt.blocks), receipt.text
    assert "taken 0, pending 0" in scene.balance_line()


def test_leave_cancelled_while_the_approvals_follow_ups_wait_out_a_429_is_never_called_approved_afterwards(
        client, fake_slack, clock):
    # Bob's approval is written, but Slack answers its thread reply 429 (Retry-After 30): the follow-ups
    # wait. Alice, seeing it approved in `/timeoff cancel`, cancels it meanwhile.
    scene = Scene(client, fake_slack, clock)
    request = scene.ask()
    scene.approve(request["id"])
    fake_slack.rate_limit("chat.postMessage", retry_after=30, times=1)  # the first post: its thread reply
    scene.run(until=clock.monotonic() + 5)
    assert scene.payload(request["id"])["status"] == "approved"
    assert scene.thread(request["id"]) == []

    scene.press_on_list(ALICE, "cancel", ids.CANCEL_ACTION)
    scene.run()

    assert_message_tells(scene, request["id"], "cancelled", ALICE)
    assert not [t for t in scene.said_to(ALICE) if "approved your" in t], scene.said_to(ALICE)
    # Bob's approval was recorded: he is not told his click met a request already cancelled.
    assert not [t for t in scene.said_to(BOB) if t.startswith("This request was already cancelled")], \
        scene.said_to(BOB)
    # The thread narrates both, once each (the approval's reply, having waited out the 429, may come last).
    thread = scene.thread(request["id"])
    assert sorted(t.split(" by ")[0] for t in thread) == ["Approved", "Cancelled"], thread
    said = scene.team_channel()
    assert not said or "will not be out" in said[-1], said
    receipt = scene.receipt(request["id"])
    assert receipt.text.startswith(":no_entry_sign: Cancelled") and not buttons_in(receipt.blocks), receipt.text
    assert "taken 0, pending 0" in scene.balance_line()


# --- What the approvers' App Home shows afterwards ----------------------------------------------------


def home_text(scene: Scene, user) -> str:
    return json.dumps(scene.fake.workspace.home_view(user) or {})


def opens_home(scene: Scene, user, number: int) -> None:
    post_event(scene.client, event_envelope({"type": "app_home_opened", "user": user, "channel": f"D_HOME{number}",
                                             "tab": "home", "event_ts": "1766000000.000300"},
                                            event_id=f"Ev_HOME_{user}_{number}"))
    scene.run()


@pytest.mark.parametrize("slack", ["answers", "loses_the_answer"])
def test_a_withdrawal_racing_an_approval_leaves_nothing_waiting_on_the_approvers_home(client, fake_slack, clock,
                                                                                     slack):
    scene = Scene(client, fake_slack, clock)
    for number, user in enumerate((ALICE, BOB, DAVE)):
        opens_home(scene, user, number)
    request = scene.ask()
    assert "Waiting for your decision" in home_text(scene, BOB)
    message = scene.message(request["id"])
    approve_value = buttons_in(message.blocks)[ids.APPROVE_ACTION][1]
    scene.press_receipt(request["id"], ids.WITHDRAW_ACTION)
    scene.click_on_request(BOB, ids.APPROVE_ACTION, approve_value, message.ts)

    with failing(fake_slack, decision_rewrite("cancelled"), "answer_lost", times=4 if slack != "answers" else 0):
        scene.run()

    assert scene.payload(request["id"])["status"] == "cancelled"
    for approver in (BOB, DAVE):
        home = home_text(scene, approver)
        assert "Waiting for your decision" not in home or request["id"] not in home, (approver, home)
    assert "Pending" not in home_text(scene, ALICE), home_text(scene, ALICE)
