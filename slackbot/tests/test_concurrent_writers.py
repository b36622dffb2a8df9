"""Two writers of one request at the same moment (a decision, a withdrawal, a cancellation, an
edit, HR's change). Exactly one outcome is written, and the message, its metadata, the receipt DM, the
thread, the announcement and App Home all tell that one truth afterwards; nobody is told something false.

Each writer is a signed Slack request sent through its own Django test client in its own thread, with
the immediate task backend (the task runs inside the request), against the shared database cache and
the fake Slack; `delay()` (and a few wrapped answers) widen the windows.

Not covered, as cache_lock's docstring says: a write held up on its way to Slack for longer than the
request's lock lives (120 s) can still land beside a later writer's; the lock does not fence it.
"""

import json
import threading
import time
from datetime import date

import pytest
from django.db import connections
from django.test import Client

from approvals import block_ids as ids
from fake_slack.personas import ALICE, BOB, C_ENG, C_ENG_APPROVALS, DAVE, HR
from test_support.flows import (
    MONDAY,
    buttons_in,
    channel_updates,
    dms_to,
    ephemerals_to,
    install_config,
    open_app_home,
    posted_requests,
    request_time_off,
    request_values,
)
from test_support.slack_requests import (
    block_actions_payload,
    post_command,
    post_interaction,
    view_submission_payload,
)

pytestmark = pytest.mark.django_db(transaction=True)  # the threads see each other's writes

TUESDAY = date(2031, 3, 11)
THURSDAY = date(2031, 3, 13)
FRIDAY = date(2031, 3, 14)


# --- Running writers together ------------------------------------------------------------------


def race(*writers, timeout: float = 120) -> list:
    """Each writer is (delay in seconds, callable(client)); all start together (a barrier), each after
    its own delay, with its own test client. Their results (or exceptions), in order."""
    barrier = threading.Barrier(len(writers))
    results = [None] * len(writers)

    def run(index, after, call):
        try:
            barrier.wait(10)
            time.sleep(after)
            results[index] = call(Client())
        except Exception as exc:  # asserted by the caller
            results[index] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i, after, call)) for i, (after, call) in enumerate(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    assert not any(t.is_alive() for t in threads), "a writer never finished"
    for result in results:
        assert not isinstance(result, Exception), result
        assert result.status_code == 200, (result.status_code, result.content)
    return results


# --- The scene ------------------------------------------------------------------------------------


class Scene:
    """Alice's pending request, its message, its receipt DM; Alice, Bob and Dave watch App Home."""

    def __init__(self, client, fake_slack):
        self.fake = fake_slack
        install_config()
        for n, user in enumerate((ALICE, BOB, DAVE, HR)):
            open_app_home(client, fake_slack, user, f"Ev_HOME_{n}")
        request_time_off(client, fake_slack, ALICE, note="Ski week")
        [self.posted] = posted_requests(fake_slack)
        self.ts = self.posted.response["ts"]
        [self.receipt] = [c for c in fake_slack.calls("chat.postMessage") if c.params.get("channel") == ALICE
                          and buttons_in(c.params.get("blocks"))]
        self.receipt_channel, self.receipt_ts = self.receipt.response["channel"], self.receipt.response["ts"]
        self.request_id = self.payload()["id"]
        fake_slack.clear_calls()

    # What is there now

    def payload(self) -> dict:
        return self.fake.workspace.message(C_ENG_APPROVALS, self.ts).metadata["event_payload"]

    def message(self):
        return self.fake.workspace.message(C_ENG_APPROVALS, self.ts)

    def receipt_now(self):
        return self.fake.workspace.message(self.receipt_channel, self.receipt_ts)

    def request_updates(self) -> list:
        return [c for c in channel_updates(self.fake) if c.params.get("ts") == self.ts and c.response.get("ok")]

    def thread(self) -> list[str]:
        return [m.text for m in self.fake.workspace.replies(C_ENG_APPROVALS, self.ts)[1:]]

    def announcements(self) -> list[str]:
        return [m.text for m in self.fake.workspace.messages(C_ENG) if ALICE in m.text]

    def home_text(self, user) -> str:
        return json.dumps(self.fake.workspace.home_view(user) or {})

    # Writers

    def button_value(self, action_id: str) -> str:
        buttons = next(b for b in self.posted.params["blocks"] if b.get("type") == "actions")["elements"]
        return next(b["value"] for b in buttons if b["action_id"] == action_id)

    def approve(self, user, value: str | None = None):
        payload = block_actions_payload(user_id=user, action_id=ids.APPROVE_ACTION,
                                        value=value or self.button_value(ids.APPROVE_ACTION),
                                        block_id=ids.DECISION_BLOCK, channel_id=C_ENG_APPROVALS, message_ts=self.ts)
        return lambda client: post_interaction(client, payload)

    def reject_form(self, client, user) -> dict:
        payload = block_actions_payload(user_id=user, action_id=ids.REJECT_ACTION,
                                        value=self.button_value(ids.REJECT_ACTION), block_id=ids.DECISION_BLOCK,
                                        channel_id=C_ENG_APPROVALS, message_ts=self.ts)
        assert post_interaction(client, payload).status_code == 200
        return self.fake.last_call("views.open").params["view"]

    def reject(self, user, form: dict, reason: str = "Release week"):
        values = {ids.REASON_BLOCK: {ids.REASON_ACTION: {"type": "plain_text_input", "value": reason}}}
        payload = view_submission_payload(user_id=user, view=form, values=values, view_id="V_REJECT")
        return lambda client: post_interaction(client, payload)

    def receipt_button(self, action_id: str, user=ALICE, blocks=None):
        block_id, value = buttons_in(blocks or self.receipt.params["blocks"])[action_id]
        payload = block_actions_payload(user_id=user, action_id=action_id, value=value, block_id=block_id,
                                        channel_id=self.receipt_channel, message_ts=self.receipt_ts)
        return lambda client: post_interaction(client, payload)

    def edit_form(self, client) -> dict:
        self.receipt_button(ids.EDIT_ACTION)(client)
        return self.fake.last_call("views.open").params["view"]

    def edit(self, form: dict, start: date, end: date, view_id: str, user=ALICE):
        payload = view_submission_payload(user_id=user, view=form, values=request_values("vacation", start, end),
                                          view_id=view_id, view_hash=f"1766000000.{view_id}")
        return lambda client: post_interaction(client, payload)


def told(fake_slack, user) -> list[str]:
    """Everything the app said to `user` (ephemerals and DMs)."""
    return ephemerals_to(fake_slack, user) + dms_to(fake_slack, user)


# --- Checks of the one truth ---------------------------------------------------------------------


def assert_approved_by(scene: Scene, approver: str) -> None:
    payload = scene.payload()
    assert (payload["status"], payload["decided_by"]) == ("approved", approver), payload
    assert len(scene.request_updates()) == 1
    assert scene.thread() == [f"Approved by <@{approver}>"], scene.thread()
    assert len(scene.announcements()) == 1 and "will be out" in scene.announcements()[0], scene.announcements()
    receipt = scene.receipt_now()
    assert receipt.text.startswith(f":white_check_mark: <@{approver}> approved"), receipt.text
    assert ids.WITHDRAW_ACTION not in buttons_in(receipt.blocks)
    assert [t for t in dms_to(scene.fake, ALICE) if "approved your" in t]


def assert_withdrawn_by(scene: Scene, user: str) -> None:
    payload = scene.payload()
    assert (payload["status"], payload["decided_by"]) == ("cancelled", user), payload
    assert len(scene.request_updates()) == 1
    assert len(scene.thread()) == 1 and scene.thread()[0].startswith(f"Withdrawn by <@{user}>"), scene.thread()
    assert scene.announcements() == []
    receipt = scene.receipt_now()
    assert receipt.text.startswith(":no_entry_sign: Cancelled"), receipt.text
    assert not buttons_in(receipt.blocks)
    assert not [t for t in dms_to(scene.fake, ALICE) if "approved your" in t or "rejected your" in t]


def assert_nobody_waits_on_home(scene: Scene) -> None:
    for approver in (BOB, DAVE):
        assert scene.request_id not in scene.home_text(approver) or "Waiting for your decision" not in \
            scene.home_text(approver), approver


# --- Approve vs withdraw ------------------------------------------------------------------------------


@pytest.mark.parametrize("withdraw_after", [0.0, 0.4])
def test_approve_and_withdraw_at_once_one_outcome_everywhere(client, fake_slack, withdraw_after):
    scene = Scene(client, fake_slack)
    fake_slack.delay("conversations.history", 0.5)  # each read under the lock answers late
    fake_slack.delay("chat.update", 0.3)

    race((0.0, scene.approve(BOB)), (withdraw_after, scene.receipt_button(ids.WITHDRAW_ACTION)))

    status = scene.payload()["status"]
    if status == "approved":
        assert_approved_by(scene, BOB)
        refusals = [t for t in told(fake_slack, ALICE) if t.startswith("I couldn't change that request")]
        assert len(refusals) == 1 and "approved" in refusals[0], told(fake_slack, ALICE)
        assert "Waiting for your decision" not in scene.home_text(BOB)
    else:
        assert_withdrawn_by(scene, ALICE)
        [said] = told(fake_slack, BOB)
        assert said.startswith("This request was already cancelled by"), said
    assert_nobody_waits_on_home(scene)
    home = scene.home_text(ALICE)
    assert ("Pending" in home) is False, home


def test_reject_and_withdraw_at_once_one_outcome_everywhere(client, fake_slack):
    scene = Scene(client, fake_slack)
    form = scene.reject_form(client, BOB)
    fake_slack.clear_calls()
    fake_slack.delay("conversations.history", 0.5)
    fake_slack.delay("chat.update", 0.3)

    race((0.0, scene.reject(BOB, form)), (0.1, scene.receipt_button(ids.WITHDRAW_ACTION)))

    payload = scene.payload()
    assert len(scene.request_updates()) == 1
    if payload["status"] == "rejected":
        assert payload["decided_by"] == BOB and payload["reason"] == "Release week"
        assert scene.thread() == ["Rejected by <@U_BOB>: Release week"]
        assert scene.receipt_now().text.startswith(":x: <@U_BOB> rejected")
        refusals = [t for t in told(fake_slack, ALICE) if t.startswith("I couldn't change that request")]
        assert len(refusals) == 1 and "rejected" in refusals[0]
    else:
        assert_withdrawn_by(scene, ALICE)
        [said] = told(fake_slack, BOB)
        assert said.startswith("This request was already cancelled by"), said
    assert scene.announcements() == []


# --- Two edits from two tabs ------------------------------------------------------------------------


def test_two_edits_from_two_tabs_the_receipt_and_home_tell_the_last_one(client, fake_slack):
    scene = Scene(client, fake_slack)
    first_tab, second_tab = scene.edit_form(client), scene.edit_form(client)
    fake_slack.clear_calls()
    fake_slack.delay("conversations.history", 0.5)
    # The first edit's thread reply answers late: its receipt rewrite comes after the second edit's.
    fake_slack.delay("chat.postMessage", 2.0, times=1)

    race((0.0, scene.edit(first_tab, MONDAY, TUESDAY, "V_TAB1")),
         (0.3, scene.edit(second_tab, MONDAY, THURSDAY, "V_TAB2")))

    payload = scene.payload()
    assert (payload["status"], payload["start"], payload["end"]) == ("pending", "2031-03-10", "2031-03-13"), payload
    assert len(scene.request_updates()) == 2
    assert len(scene.thread()) == 2 and scene.thread()[-1].startswith("Edited by <@U_ALICE>: now"), scene.thread()
    assert "Ski week" in json.dumps(scene.message().blocks)
    problems = []
    receipt = scene.receipt_now()
    if not ("Thu 13 Mar" in receipt.text and "Tue 11 Mar" not in receipt.text):  # the last edit
        problems.append(f"receipt: {receipt.text}")
    home = scene.home_text(ALICE)
    if "Thu 13 Mar" not in home or "Tue 11 Mar" in home:
        problems.append("Alice's App Home does not show the last edit")
    for approver in (BOB, DAVE):
        if "Waiting for your decision" in scene.home_text(approver) and "Thu 13 Mar" not in scene.home_text(approver):
            problems.append(f"{approver}'s App Home shows an earlier version")
    assert not problems, "\n".join(problems)


# --- HR's change while an approval's follow-ups are on their way ----------------------------------


def wait_for(check, seconds: float = 15):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError("never happened")


def hr_cancels_once_approved(scene: Scene):
    def run(client):
        wait_for(lambda: scene.payload()["status"] == "approved")
        answer = post_command(client, f"for <@{ALICE}> cancel", user_id=HR)
        assert answer.status_code == 200
        block_id, value = buttons_in(answer.json()["blocks"])[ids.CANCEL_ACTION]
        payload = block_actions_payload(user_id=HR, action_id=ids.CANCEL_ACTION, value=value, block_id=block_id,
                                        channel_id="C_GENERAL", message_ts="1766000000.000300")
        payload["container"]["is_ephemeral"] = True
        payload.pop("message")
        return post_interaction(client, payload)
    return run


@pytest.mark.parametrize("slack", ["slow", "rate_limited"])
def test_hr_cancelling_just_approved_leave_is_the_last_word_everywhere(client, fake_slack, slack):
    # Bob approves; HR sees the message say so and cancels it at once, while the approval's thread reply
    # is still on its way (Slack slow to answer it, or a 429 whose Retry-After the post waits out inside
    # the call, as chat.postMessage's ~1/s per channel gives). Whatever the order the follow-ups land in,
    # what stands at the end must be the cancellation: the receipt, the team channel, Alice's last DM.
    scene = Scene(client, fake_slack)
    if slack == "slow":
        fake_slack.delay("chat.postMessage", 2.0, times=1)  # the approval's thread reply answers late
    else:
        fake_slack.rate_limit("chat.postMessage", retry_after=3, times=1)  # ... or is told to wait 3 s

    race((0.0, scene.approve(BOB)), (0.0, hr_cancels_once_approved(scene)))

    payload = scene.payload()
    assert (payload["status"], payload["decided_by"]) == ("cancelled", HR), payload
    assert len(scene.request_updates()) == 2
    problems = []
    # The thread narrates both, each once; a reply that waited out a 429 may land after the one written
    # later (narration, not state: the message and the receipt say where it stands).
    thread = scene.thread()
    if sorted(t.split(":")[0].split(" by ")[0] for t in thread) != ["Approved", "Cancelled"]:
        problems.append(f"thread: {thread}")
    receipt = scene.receipt_now()
    if not receipt.text.startswith(":no_entry_sign: Cancelled by"):
        problems.append(f"receipt: {receipt.text} buttons={sorted(buttons_in(receipt.blocks))}")
    said = scene.announcements()
    if not (said and "will not be out" in said[-1]):  # the correction stands last in the team channel
        problems.append(f"team channel, in order: {said}")
    alice = [t for t in dms_to(fake_slack, ALICE) if "approved your" in t or "changed your time off" in t]
    if not (alice and "changed your time off" in alice[-1]):  # her last word is the cancellation
        problems.append(f"Alice's DMs, in order: {alice}")
    home = scene.home_text(ALICE)
    if "Vacation" in home and "Cancelled" not in home:
        problems.append("Alice's App Home still shows the leave")
    assert not problems, "\n".join(problems)


# --- Two approvers approve while the requester edits ----------------------------------------------


@pytest.mark.parametrize("edit_after", [0.0, 0.4])
def test_two_approvals_while_the_requester_edits_approve_nothing_unseen(client, fake_slack, edit_after):
    scene = Scene(client, fake_slack)
    form = scene.edit_form(client)
    fake_slack.clear_calls()
    fake_slack.delay("conversations.history", 0.5)
    fake_slack.delay("chat.update", 0.3)

    race((0.2, scene.approve(BOB)), (0.2, scene.approve(DAVE)), (edit_after, scene.edit(form, MONDAY, FRIDAY, "V_E")))

    payload = scene.payload()
    if payload["status"] == "approved":
        # An approval came first: of the dates the approvers saw; the edit is refused, and said so.
        winner = payload["decided_by"]
        loser = DAVE if winner == BOB else BOB
        assert (payload["start"], payload["end"]) == ("2031-03-10", "2031-03-12"), payload
        assert_approved_by(scene, winner)
        [said] = told(fake_slack, loser)
        assert said.startswith(f"This request was already approved by <@{winner}>"), said
        refusals = [t for t in told(fake_slack, ALICE) if t.startswith("I couldn't change that request")]
        assert len(refusals) == 1 and "already approved" in refusals[0], told(fake_slack, ALICE)
    else:
        # The edit came first: nobody approved dates they did not see.
        assert (payload["status"], payload["start"], payload["end"]) == ("pending", "2031-03-10", "2031-03-14")
        assert len(scene.request_updates()) == 1
        assert scene.announcements() == []
        for approver in (BOB, DAVE):
            [said] = told(fake_slack, approver)
            assert said.startswith("This request changed after you saw it"), said
        assert "Fri 14 Mar" in scene.receipt_now().text
        assert not [t for t in dms_to(fake_slack, ALICE) if "approved your" in t]


# --- Reject vs withdraw: covered above; HR cancel vs employee cancel ------------------------------


def approve_first(client, fake_slack, scene: Scene) -> None:
    response = scene.approve(BOB)(client)
    assert response.status_code == 200
    assert scene.payload()["status"] == "approved"
    fake_slack.clear_calls()


def hr_cancel_from_list(scene: Scene):
    def run(client):
        answer = post_command(client, f"for <@{ALICE}> cancel", user_id=HR)
        block_id, value = buttons_in(answer.json()["blocks"])[ids.CANCEL_ACTION]
        payload = block_actions_payload(user_id=HR, action_id=ids.CANCEL_ACTION, value=value, block_id=block_id,
                                        channel_id="C_GENERAL", message_ts="1766000000.000300")
        payload["container"]["is_ephemeral"] = True
        payload.pop("message")
        return post_interaction(client, payload)
    return run


@pytest.mark.parametrize("employee_after", [0.0, 0.4])
def test_hr_and_the_employee_cancelling_at_once_cancel_once(client, fake_slack, employee_after):
    scene = Scene(client, fake_slack)
    approve_first(client, fake_slack, scene)
    receipt_blocks = scene.receipt_now().blocks  # now with Cancel leave
    fake_slack.delay("conversations.history", 0.5)
    fake_slack.delay("chat.update", 0.3)

    race((0.2, hr_cancel_from_list(scene)),
         (employee_after, scene.receipt_button(ids.CANCEL_ACTION, blocks=receipt_blocks)))

    payload = scene.payload()
    assert payload["status"] == "cancelled" and payload["decided_by"] in (ALICE, HR), payload
    winner = payload["decided_by"]
    assert len(scene.request_updates()) == 1
    thread = scene.thread()
    assert thread[0] == "Approved by <@U_BOB>" and len(thread) == 2, thread
    assert thread[1].startswith(f"Cancelled by <@{winner}>"), thread
    said = scene.announcements()
    assert len(said) == 2 and "will not be out" in said[-1], said  # one correction, not two
    receipt = scene.receipt_now()
    assert receipt.text.startswith(":no_entry_sign: Cancelled"), receipt.text
    assert not buttons_in(receipt.blocks)
    loser = ALICE if winner == HR else HR
    refusals = [t for t in told(fake_slack, loser) if t.startswith("I couldn't change that request")]
    assert len(refusals) == 1 and "cancelled" in refusals[0], told(fake_slack, loser)
    hr_dms = [t for t in dms_to(fake_slack, ALICE) if "changed your time off" in t]
    assert len(hr_dms) == (1 if winner == HR else 0), hr_dms
    assert "Cancelled" in told(fake_slack, HR)[-1] or winner == ALICE


# --- A decision whose chat.update answer is lost, racing a withdrawal ----------------------------------


@pytest.mark.parametrize("fault", ["drop_connection", "truncate_answer"])
def test_a_decision_whose_write_answer_is_lost_racing_a_withdrawal(client, fake_slack, no_backoff, fault):
    scene = Scene(client, fake_slack)
    fake_slack.delay("conversations.history", 0.3)
    getattr(fake_slack, fault)("chat.update", times=1)  # the first write of the message: made, answer lost

    race((0.0, scene.approve(BOB)), (0.15, scene.receipt_button(ids.WITHDRAW_ACTION)))

    payload = scene.payload()
    if payload["status"] == "approved":
        assert payload["decided_by"] == BOB
        assert scene.thread() == ["Approved by <@U_BOB>"], scene.thread()
        assert len(scene.announcements()) == 1
        assert scene.receipt_now().text.startswith(":white_check_mark: <@U_BOB> approved"), scene.receipt_now().text
        assert len([t for t in dms_to(fake_slack, ALICE) if "approved your" in t]) == 1
        refusals = [t for t in told(fake_slack, ALICE) if t.startswith("I couldn't change that request")]
        assert len(refusals) == 1 and "approved" in refusals[0], told(fake_slack, ALICE)
        assert told(fake_slack, BOB) == [], told(fake_slack, BOB)  # nothing false ("not recorded") to Bob
    else:
        assert_withdrawn_by(scene, ALICE)
        [said] = told(fake_slack, BOB)
        assert said.startswith("This request was already cancelled by"), said
        assert not [t for t in told(fake_slack, ALICE) if "couldn't" in t or "not" in t.split()[:3]]


# --- The lock's timeout: a holder stuck past it while a second writer comes -----------------------------

SHORT_LOCK_SECONDS = 1.0  # the database cache keeps whole seconds: such a lock lives 1 to 2 s


@pytest.fixture
def short_lock(monkeypatch):
    """DECISION_LOCK_SECONDS, as every writer of a request reads it, made short enough to outlast in a test."""
    from approvals import change_services, request_services

    monkeypatch.setattr(request_services, "DECISION_LOCK_SECONDS", SHORT_LOCK_SECONDS)
    monkeypatch.setattr(change_services, "DECISION_LOCK_SECONDS", SHORT_LOCK_SECONDS)


def test_a_decision_whose_write_answers_after_the_lock_expired_still_makes_one_outcome(client, fake_slack,
                                                                                        short_lock):
    # Slack makes Bob's write at once but answers it late, past the lock's lifetime: Alice's withdrawal
    # takes the lock meanwhile, re-reads the message and finds it approved.
    scene = Scene(client, fake_slack)
    fake_slack.delay("chat.update", 3.5, times=1)

    race((0.0, scene.approve(BOB)), (0.2, scene.receipt_button(ids.WITHDRAW_ACTION)))

    assert_approved_by(scene, BOB)
    refusals = [t for t in told(fake_slack, ALICE) if t.startswith("I couldn't change that request")]
    assert len(refusals) == 1 and "approved" in refusals[0], told(fake_slack, ALICE)
    assert told(fake_slack, BOB) == []


def test_a_decision_whose_read_outlasts_the_lock_is_not_written_on_what_it_read(client, fake_slack, short_lock):
    # Bob's read of the message (under the lock) answers after the lock expired; Alice withdraws
    # meanwhile. Bob's attempt must not write "approved" over the withdrawal on its stale read.
    scene = Scene(client, fake_slack)
    fake_slack.delay("conversations.history", 3.5, times=1)

    race((0.0, scene.approve(BOB)), (0.3, scene.receipt_button(ids.WITHDRAW_ACTION)))

    assert_withdrawn_by(scene, ALICE)
    [said] = told(fake_slack, BOB)
    assert said.startswith("This request was already cancelled by <@U_ALICE>"), said
    assert not [t for t in told(fake_slack, ALICE) if t.startswith("I couldn't")]


def test_approving_an_edit_while_the_edits_follow_ups_are_on_their_way(client, fake_slack):
    # Alice edits; Bob sees the message show the new dates and approves them at once, while the edit's
    # thread reply is still on its way. The receipt must end up saying approved (no Withdraw / Edit on
    # approved leave).
    scene = Scene(client, fake_slack)
    form = scene.edit_form(client)
    fake_slack.clear_calls()
    fake_slack.delay("chat.postMessage", 2.0, times=1)  # the edit's thread reply answers late

    def bob_approves_the_new_dates(client):
        wait_for(lambda: scene.payload()["end"] == "2031-03-14")
        buttons = next(b for b in scene.message().blocks if b.get("type") == "actions")["elements"]
        value = next(b["value"] for b in buttons if b["action_id"] == ids.APPROVE_ACTION)
        return scene.approve(BOB, value)(client)

    race((0.0, scene.edit(form, MONDAY, FRIDAY, "V_E")), (0.0, bob_approves_the_new_dates))

    payload = scene.payload()
    assert (payload["status"], payload["end"]) == ("approved", "2031-03-14"), payload
    problems = []
    receipt = scene.receipt_now()
    if not receipt.text.startswith(":white_check_mark: <@U_BOB> approved"):
        problems.append(f"receipt: {receipt.text} buttons={sorted(buttons_in(receipt.blocks))}")
    if not scene.thread() or not scene.thread()[-1].startswith("Approved by <@U_BOB>"):
        problems.append(f"thread, in order: {scene.thread()}")
    assert not problems, "\n".join(problems)
