"""Changing one's leave while Slack makes a call and loses its answer (README "Slack posts, but the answer is
lost"; "Changing a request").

Alice edits or withdraws her pending request, or cancels her approved leave, from the buttons on her receipt
DM (and from App Home and `/timeoff cancel`); HR does the same for her. On one Slack call of the change —
the rewrite of the request message, the thread reply, the corrected announcement, the rewrite of her
receipt, the receipt posted anew after an edit whose receipt place was forgotten, HR's DM to her — Slack
acts and its answer never reaches the app whole (a 500, a dropped connection, a proxy's page, JSON cut short)
or comes after the one-second background clients stopped waiting.

Every assertion reads what Slack holds afterwards: the request message's metadata (the ledger) and its
thread, the announce channel, each person's DM with the app (`fake_slack.workspace.messages(user)`). Then the
same button is pressed again (Slack delivering the click again, or the person clicking once more): nothing
more changes, and what they see says it is done.
"""

import json
from contextlib import contextmanager
from datetime import timedelta

import pytest
from django.core.cache import cache

from approvals import block_ids as ids
from approvals.slack_clients import BACKGROUND_MAX_RETRIES
from fake_slack.personas import C_ENG, C_ENG_APPROVALS, C_GENERAL
from test_support.direct_messages import dm_channel, dm_to, is_decision
from test_support.flows import (
    ALICE,
    BOB,
    DAVE,
    HR,
    MONDAY,
    buttons_in,
    click,
    install_config,
    metadata_payload,
    open_app_home,
    posted_requests,
    request_time_off,
    request_values,
)
from test_support.slack_faults import MADE_BUT_LOST, failing_each, slow
from test_support.slack_requests import (
    block_actions_payload,
    post_command,
    post_interaction,
    view_block_actions_payload,
    view_submission_payload,
)

pytestmark = pytest.mark.django_db

FRIDAY = MONDAY + timedelta(days=4)
LATE = 1.6  # seconds: past the one-second background clients of `one_second_clients`
FAULTS = (*MADE_BUT_LOST, "answered_late")

EDIT, WITHDRAW, CANCEL = "edit", "withdraw", "cancel"
BUTTON = {WITHDRAW: ids.WITHDRAW_ACTION, CANCEL: ids.CANCEL_ACTION}
THREAD_OPENING = {EDIT: "Edited by", WITHDRAW: "Withdrawn by", CANCEL: "Cancelled by"}
HR_CHANGED = f"<@{HR}> changed your time off"
REFUSALS = ("couldn't", "could not", "try again", "unchanged", "gave up")


# --- The Slack calls a change makes ----------------------------------------------------------------------


def request_rewrite(method, params) -> bool:
    return method == "chat.update" and params.get("channel") == C_ENG_APPROVALS


def thread_reply(method, params) -> bool:
    return method == "chat.postMessage" and params.get("channel") == C_ENG_APPROVALS and bool(params.get("thread_ts"))


def corrected_announcement(method, params) -> bool:
    return method == "chat.postMessage" and params.get("channel") == C_ENG


def receipt_rewrite(method, params) -> bool:
    return method == "chat.update" and params.get("channel") == dm_channel(ALICE)


STEPS = {
    "request-rewrite": request_rewrite,
    "thread-reply": thread_reply,
    "corrected-announcement": corrected_announcement,
    "receipt-rewrite": receipt_rewrite,
    "receipt-posted-anew": dm_to(ALICE),  # the only DM to her an edit posts: its receipt's place is forgotten
}
OWN_CHANGES = [
    (EDIT, "request-rewrite"), (EDIT, "thread-reply"), (EDIT, "receipt-rewrite"), (EDIT, "receipt-posted-anew"),
    (WITHDRAW, "request-rewrite"), (WITHDRAW, "thread-reply"), (WITHDRAW, "receipt-rewrite"),
    (CANCEL, "request-rewrite"), (CANCEL, "thread-reply"), (CANCEL, "corrected-announcement"),
    (CANCEL, "receipt-rewrite"),
]


# Where the attempt after a lost post looks for it before posting again (the posts tagged for their effect).
LOOKED_IN = {"thread-reply": C_ENG_APPROVALS, "corrected-announcement": C_ENG,
             "receipt-posted-anew": dm_channel(ALICE)}


def looks_in(fake_slack, channel: str) -> list:
    return [c for c in fake_slack.calls() if c.method in ("conversations.history", "conversations.replies")
            and c.params.get("channel") == channel and c.params.get("oldest")]


# A rewrite (chat.update) is made again inside the call after a 5xx or a dropped connection (it is the same
# write each time): its answer is lost on every try of the task's first attempt, so that the attempt fails
# and the next one must find the write made.
EVERY_TRY_OF_AN_ATTEMPT = 1 + BACKGROUND_MAX_RETRIES


@contextmanager
def slack_losing(request, fake_slack, matches, fault: str):
    """The call `matches` picks is made by Slack and its answer lost (`fault` of MADE_BUT_LOST: once for a
    post, on every try of the attempt for a rewrite), or answered after the one-second clients stopped
    waiting ("answered_late"). Yields lists of the calls it met: `any(met)` when it met one."""
    if fault == "answered_late":
        request.getfixturevalue("one_second_clients")
        with slow(fake_slack, matches, LATE) as met:
            yield (met,)
        return
    rewrite = lambda method, params: method == "chat.update" and matches(method, params)  # noqa: E731
    with failing_each(fake_slack, (rewrite, fault, EVERY_TRY_OF_AN_ATTEMPT), (matches, fault, 1)) as met:
        yield met  # (rewrites, posts): one of them stays empty, the step being a rewrite or a post


# --- What Slack holds ------------------------------------------------------------------------------------


def request_messages(fake_slack) -> list:
    return [m for m in fake_slack.workspace.messages(C_ENG_APPROVALS)
            if m.metadata and m.metadata.get("event_type") == "timeoff_request"]


def the_ledger_entry(fake_slack) -> dict:
    [message] = request_messages(fake_slack)
    return message.metadata["event_payload"]


def thread(fake_slack) -> list[str]:
    [message] = request_messages(fake_slack)
    return [m.text for m in fake_slack.workspace.replies(C_ENG_APPROVALS, message.ts) if m.ts != message.ts]


def dms(fake_slack, user: str) -> list:
    """Every message Slack holds in `user`'s DM with the app, as it stands now."""
    return fake_slack.workspace.messages(user)


def said_to(fake_slack, user: str) -> list[str]:
    """What the app said to `user` outside their receipt: DMs without buttons and ephemerals Slack took."""
    said = [m.text for m in dms(fake_slack, user) if not buttons_in(m.blocks)]
    said += [c.params["text"] for c in fake_slack.calls("chat.postEphemeral")
             if c.params.get("user") == user and c.response.get("ok")]
    return said


def refusals(fake_slack, user: str) -> list[str]:
    return [text for text in said_to(fake_slack, user) if any(word in text.lower() for word in REFUSALS)]


def receipts(fake_slack, user: str = ALICE) -> list:
    """The DMs that are receipts (of our one request): the first DM, and any posted anew with buttons."""
    return [m for m in dms(fake_slack, user) if not is_decision(m.text) and "changed your time off" not in m.text]


def what_stands(fake_slack) -> dict:
    """Everything a change writes or says, to compare before and after a second click."""
    return {
        "request messages": len(request_messages(fake_slack)),
        "request rewrites": len([c for c in fake_slack.calls("chat.update") if request_rewrite(c.method, c.params)]),
        "thread": thread(fake_slack),
        "announce channel": [m.text for m in fake_slack.workspace.messages(C_ENG)],
        "alice's dms": [(m.ts, m.text) for m in dms(fake_slack, ALICE)],
        "said to alice": said_to(fake_slack, ALICE),
        "bob's dms": [m.text for m in dms(fake_slack, BOB)],
        "dave's dms": [m.text for m in dms(fake_slack, DAVE)],
    }


def clicked_again(payload: dict) -> dict:
    """The same button clicked once more, a moment later: a click of its own (action_ts, trigger_id)."""
    return dict(payload, actions=[dict(payload["actions"][0], action_ts="1766000100.000001")],
                trigger_id="1766000100.4744562912.again")


def already_done(text: str, change: str) -> bool:
    """A note saying the withdrawal or cancellation stands (done now, or done already), not a refusal."""
    said = text.lower()
    return (("withdrawn" in said or "cancelled" in said or "already" in said)
            and not any(word in said for word in REFUSALS))


# --- Alice's leave ---------------------------------------------------------------------------------------


class AlicesLeave:
    """Alice's request Mon 10 – Wed 12 Mar (approved by Bob, for a cancellation), and her receipt DM."""

    def __init__(self, client, fake_slack, change: str):
        self.client, self.fake, self.change = client, fake_slack, change
        install_config()
        request_time_off(client, fake_slack, ALICE)
        [self.posted] = posted_requests(fake_slack)
        self.request_id = metadata_payload(self.posted)["id"]
        [receipt] = dms(fake_slack, ALICE)
        self.receipt_at = (receipt.channel, receipt.ts)
        if change == CANCEL:
            assert click(client, fake_slack, BOB, ids.APPROVE_ACTION, self.posted).status_code == 200
            assert the_ledger_entry(fake_slack)["status"] == "approved"
            assert len(fake_slack.workspace.messages(C_ENG)) == 1  # announced
        self.dms_before = len(dms(fake_slack, ALICE))

    def receipt(self):
        return self.fake.workspace.message(*self.receipt_at)

    # The buttons on her receipt, as her Slack shows them now.

    def receipt_click(self, action_id: str) -> dict:
        block_id, value = buttons_in(self.receipt().blocks)[action_id]
        return block_actions_payload(user_id=ALICE, action_id=action_id, value=value, block_id=block_id,
                                     channel_id=self.receipt_at[0], message_ts=self.receipt_at[1])

    def edit_form(self) -> dict:
        before = len(self.fake.calls("views.open"))
        response = post_interaction(self.client, self.receipt_click(ids.EDIT_ACTION))
        assert response.status_code == 200, response.content
        opened = self.fake.calls("views.open")[before:]
        assert opened, f"no form opened: {said_to(self.fake, ALICE)}"
        form = opened[-1].params["view"]
        return json.loads(form) if isinstance(form, str) else form

    def edit_submission(self, form: dict, view_id: str = "V_EDIT") -> dict:
        return view_submission_payload(user_id=ALICE, view=form, values=request_values("vacation", MONDAY, FRIDAY),
                                       view_id=view_id, view_hash=f"1766000000.{view_id}")

    def prepare(self) -> dict:
        """What Alice sends to make her change: the edit form filled in with Mon–Fri, or the click."""
        if self.change == EDIT:
            return self.edit_submission(self.edit_form())
        return self.receipt_click(BUTTON[self.change])

    def send(self, payload: dict):
        response = post_interaction(self.client, payload)
        assert response.status_code == 200, response.content
        return response

    # What must stand afterwards.

    def assert_done_once(self, *, by: str = ALICE, receipt_posted_anew: bool = False) -> None:
        entry = the_ledger_entry(self.fake)
        assert len(request_messages(self.fake)) == 1, "the request was posted again"
        if self.change == EDIT:
            assert (entry["status"], entry["start"], entry["end"]) == (
                "pending", MONDAY.isoformat(), FRIDAY.isoformat()), entry
        else:
            assert (entry["status"], entry["decided_by"]) == ("cancelled", by), entry

        replies = [t for t in thread(self.fake) if t.startswith(THREAD_OPENING[self.change])]
        assert len(replies) == 1, thread(self.fake)
        assert replies[0].startswith(f"{THREAD_OPENING[self.change]} <@{by}>"), replies
        if self.change == EDIT:
            was = replies[0].split("(was ", 1)[1]
            assert "Wed 12 Mar" in was and "Fri 14 Mar" not in was, replies  # narrated from what it was
        expected_thread = 2 if self.change == CANCEL else 1  # Bob's approval before the cancellation
        assert len(thread(self.fake)) == expected_thread, thread(self.fake)

        team_channel = [m.text for m in self.fake.workspace.messages(C_ENG)]
        if self.change == CANCEL:
            assert len(team_channel) == 2, team_channel
            assert len([t for t in team_channel if "will not be out" in t]) == 1, team_channel
        else:
            assert team_channel == [], team_channel

        self.assert_alice_told_once(by=by, receipt_posted_anew=receipt_posted_anew)
        assert dms(self.fake, BOB) == [] and dms(self.fake, DAVE) == [], (
            [m.text for m in dms(self.fake, BOB)], [m.text for m in dms(self.fake, DAVE)])

    def assert_alice_told_once(self, *, by: str, receipt_posted_anew: bool) -> None:
        everything = [m.text for m in dms(self.fake, ALICE)]
        expected = self.dms_before + (1 if receipt_posted_anew else 0) + (1 if by != ALICE else 0)
        assert len(everything) == expected, everything
        assert refusals(self.fake, ALICE) == [], said_to(self.fake, ALICE)
        if by != ALICE:
            told = [t for t in everything if HR_CHANGED in t]
            assert len(told) == 1, everything
        if self.change == CANCEL:
            assert len([t for t in everything if is_decision(t)]) == 1, everything
        current = [m for m in receipts(self.fake) if self.shows_current_state(m)]
        assert len(current) == 1, [m.text for m in receipts(self.fake)]
        if receipt_posted_anew:
            assert current[0].ts != self.receipt_at[1], "the receipt posted anew is not the one that holds"
            assert not self.shows_current_state(self.receipt()), self.receipt().text
        else:
            assert current[0].ts == self.receipt_at[1], [m.text for m in receipts(self.fake)]

    def shows_current_state(self, message) -> bool:
        buttons = set(buttons_in(message.blocks))
        if self.change == EDIT:
            return ("Fri 14 Mar" in message.text and "Your request for" in message.text
                    and buttons == {ids.EDIT_ACTION, ids.WITHDRAW_ACTION})
        return message.text.startswith(":no_entry_sign: Cancelled") and buttons == set()

    def assert_second_time_changes_nothing(self, payload: dict) -> None:
        """The same button again: as Slack delivers it again (the very payload) and as Alice clicks it once
        more (a new click; for an edit, Edit pressed on her receipt again and the form sent with the same
        dates)."""
        before = what_stands(self.fake)
        response = self.send(payload)
        if self.change == EDIT:
            assert response.content == b"", response.content  # the form closes: it was sent
            assert ids.EDIT_ACTION in buttons_in(self.receipt().blocks), self.receipt().text
            response = self.send(self.edit_submission(self.edit_form(), view_id="V_EDIT_AGAIN"))
            assert response.content == b"", response.content
        else:
            self.send(clicked_again(payload))
        after = what_stands(self.fake)
        assert after == before, {k: (before[k], after[k]) for k in before if before[k] != after[k]}
        # What she sees says it is done: the receipt she clicked on reads as the change left it (for an edit
        # whose receipt was posted anew, that one).
        current = [m for m in receipts(self.fake) if self.shows_current_state(m)]
        assert len(current) == 1, [m.text for m in receipts(self.fake)]
        assert refusals(self.fake, ALICE) == [], said_to(self.fake, ALICE)


# --- Alice's own change, on each call Slack makes and loses -----------------------------------------------


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("change,step", OWN_CHANGES, ids=[f"{c}-{s}" for c, s in OWN_CHANGES])
def test_it_makes_alices_change_once_and_tells_her_once_when_slack_loses_an_answer(
        request, client, fake_slack, no_backoff, change, step, fault):
    leave = AlicesLeave(client, fake_slack, change)
    anew = step == "receipt-posted-anew"
    if anew:
        cache.delete(f"receipt-at:{leave.request_id}")  # where her receipt is, forgotten
    payload = leave.prepare()

    with slack_losing(request, fake_slack, STEPS[step], fault) as met:
        leave.send(payload)

    assert any(met), f"the change never reached {step}"
    if step in LOOKED_IN:
        assert looks_in(fake_slack, LOOKED_IN[step]), f"the {step} was posted again without looking for it"
    leave.assert_done_once(receipt_posted_anew=anew)
    leave.assert_second_time_changes_nothing(payload)


# --- HR changes Alice's leave: HR's DM to her is the call Slack makes and loses ----------------------------


def hr_list_for_alice(client, what: str = "list") -> list:
    """`/timeoff for @alice list`, asked twice so the second is answered from a warm cache."""
    post_command(client, f"for <@{ALICE}> {what}", user_id=HR)
    response = post_command(client, f"for <@{ALICE}> {what}", user_id=HR)
    assert response.status_code == 200, response.content
    return response.json()["blocks"]


def hr_payload(client, fake_slack, change: str) -> dict:
    blocks = hr_list_for_alice(client)
    if change == EDIT:
        block_id, value = buttons_in(blocks)[ids.EDIT_ACTION]
        click_edit = block_actions_payload(user_id=HR, action_id=ids.EDIT_ACTION, value=value, block_id=block_id,
                                           channel_id=C_GENERAL)
        click_edit["container"]["is_ephemeral"] = True
        click_edit.pop("message")
        assert post_interaction(client, click_edit).status_code == 200
        form = fake_slack.last_call("views.open").params["view"]
        form = json.loads(form) if isinstance(form, str) else form
        return view_submission_payload(user_id=HR, view=form, values=request_values("vacation", MONDAY, FRIDAY),
                                       view_id="V_HR_EDIT", view_hash="1766000000.V_HR_EDIT")
    block_id, value = buttons_in(blocks)[BUTTON[change]]
    payload = block_actions_payload(user_id=HR, action_id=BUTTON[change], value=value, block_id=block_id,
                                    channel_id=C_GENERAL)
    payload["container"]["is_ephemeral"] = True  # a button on the ephemeral list, as Slack sends it
    payload.pop("message")
    return payload


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("change", [EDIT, WITHDRAW, CANCEL])
def test_it_tells_alice_once_of_hrs_change_when_slack_loses_the_answer_to_that_dm(
        request, client, fake_slack, no_backoff, change, fault):
    leave = AlicesLeave(client, fake_slack, change)
    payload = hr_payload(client, fake_slack, change)

    with slack_losing(request, fake_slack, dm_to(ALICE, HR_CHANGED), fault) as met:
        leave.send(payload)

    assert any(met), "HR's DM to Alice was never sent"
    assert looks_in(fake_slack, dm_channel(ALICE)), "HR's DM was sent again without looking for it"
    leave.assert_done_once(by=HR)
    hr_said = said_to(fake_slack, HR)
    assert [t for t in hr_said if any(word in t.lower() for word in REFUSALS)] == [], hr_said
    if change != EDIT:
        done = [t for t in hr_said if "The list above shows it as it was" in t]
        assert len(done) == 1, hr_said  # told where HR pressed it, once

    before = what_stands(fake_slack)
    hr_before = said_to(fake_slack, HR)
    response = leave.send(payload)  # Slack delivers it again (the form sent twice, the click twice)
    if change == EDIT:
        assert response.content == b"", response.content
    else:
        leave.send(clicked_again(payload))  # HR presses it again on the list they still have
    assert what_stands(fake_slack) == before
    assert said_to(fake_slack, HR)[:len(hr_before)] == hr_before
    new_to_hr = said_to(fake_slack, HR)[len(hr_before):]
    assert [t for t in new_to_hr if any(word in t.lower() for word in REFUSALS)] == [], new_to_hr


# --- The same from App Home and from `/timeoff cancel` ---------------------------------------------------


def alices_own_list(client) -> list:
    post_command(client, "cancel", user_id=ALICE)
    response = post_command(client, "cancel", user_id=ALICE)
    assert response.status_code == 200, response.content
    return response.json()["blocks"]


def way_in_payload(client, fake_slack, way: str, change: str, home_event: int) -> dict:
    if way == "app-home":
        home = open_app_home(client, fake_slack, ALICE, f"Ev_HOME_{home_event}")
        block_id, value = buttons_in(home["blocks"])[BUTTON[change]]
        return view_block_actions_payload(user_id=ALICE, action_id=BUTTON[change], value=value, block_id=block_id,
                                          view=home)
    block_id, value = buttons_in(alices_own_list(client))[BUTTON[change]]
    payload = block_actions_payload(user_id=ALICE, action_id=BUTTON[change], value=value, block_id=block_id,
                                    channel_id=C_GENERAL)
    payload["container"]["is_ephemeral"] = True
    payload.pop("message")
    return payload


WAYS_STEPS = [("request-rewrite", "answer_lost"), ("thread-reply", "dropped"), ("receipt-rewrite", "cut_short_200"),
              ("request-rewrite", "answered_late")]


@pytest.mark.parametrize("step,fault", WAYS_STEPS, ids=[f"{s}-{f}" for s, f in WAYS_STEPS])
@pytest.mark.parametrize("change", [WITHDRAW, CANCEL])
@pytest.mark.parametrize("way", ["app-home", "timeoff-cancel"])
def test_it_makes_the_change_once_from_app_home_and_the_list_when_slack_loses_an_answer(
        request, client, fake_slack, no_backoff, way, change, step, fault):
    leave = AlicesLeave(client, fake_slack, change)
    payload = way_in_payload(client, fake_slack, way, change, 1)

    with slack_losing(request, fake_slack, STEPS[step], fault) as met:
        leave.send(payload)

    assert any(met)
    entry = the_ledger_entry(fake_slack)
    assert (entry["status"], entry["decided_by"]) == ("cancelled", ALICE), entry
    assert len([t for t in thread(fake_slack) if t.startswith(THREAD_OPENING[change])]) == 1, thread(fake_slack)
    assert len(dms(fake_slack, ALICE)) == leave.dms_before, [m.text for m in dms(fake_slack, ALICE)]
    assert leave.shows_current_state(leave.receipt()), leave.receipt().text
    assert refusals(fake_slack, ALICE) == [], said_to(fake_slack, ALICE)
    if way == "timeoff-cancel":
        done = [t for t in said_to(fake_slack, ALICE) if "The list above shows it as it was" in t]
        assert len(done) == 1, said_to(fake_slack, ALICE)

    before = what_stands(fake_slack)
    leave.send(payload)  # Slack delivers the click again
    leave.send(clicked_again(payload))  # her list or tab still shows the button, and she clicks it again
    after = what_stands(fake_slack)
    new_notes = after.pop("said to alice")[len(before.pop("said to alice")):]
    assert after == before, {k: (before[k], after[k]) for k in before if before[k] != after[k]}
    assert leave.shows_current_state(leave.receipt()), leave.receipt().text
    assert refusals(fake_slack, ALICE) == [], said_to(fake_slack, ALICE)
    if way == "app-home":
        # The tab shows it by itself: republished without the button.
        home = [c for c in fake_slack.calls("views.publish") if c.params["user_id"] == ALICE][-1].params["view"]
        home = json.loads(home) if isinstance(home, str) else home
        assert BUTTON[change] not in buttons_in(home["blocks"]), home
    assert [t for t in new_notes if not already_done(t, change)] == [], new_notes


# --- A second click on the list, once the change is done ---------------------------------------------------


@pytest.mark.parametrize("fault", [None, "answer_lost"], ids=["slack-answers", "thread-reply-answer-lost"])
@pytest.mark.parametrize("change", [WITHDRAW, CANCEL])
@pytest.mark.parametrize("who", [ALICE, HR], ids=["alice", "hr"])
def test_a_second_click_on_the_list_after_the_change_says_it_is_already_done(
        request, client, fake_slack, no_backoff, who, change, fault):
    # The list (`/timeoff cancel`, HR's `/timeoff for @alice list`) is an ephemeral message, which Slack keeps
    # as it was sent: its button is still there after the change. Clicked again, it changes nothing and the
    # click is answered where it was pressed (README: "answered where it was pressed, privately"), as the
    # first one was: the person is told it is withdrawn or cancelled, not left wondering whether it worked.
    leave = AlicesLeave(client, fake_slack, change)
    payload = hr_payload(client, fake_slack, change) if who == HR else way_in_payload(
        client, fake_slack, "timeoff-cancel", change, 1)
    if fault is None:
        leave.send(payload)
    else:
        with slack_losing(request, fake_slack, thread_reply, fault) as met:
            leave.send(payload)
        assert any(met)
    assert the_ledger_entry(fake_slack)["status"] == "cancelled"
    first_answers = said_to(fake_slack, who)
    assert len([t for t in first_answers if "The list above shows it as it was" in t]) == 1, first_answers
    before = what_stands(fake_slack)
    before.pop("said to alice")

    leave.send(clicked_again(payload))

    after = what_stands(fake_slack)
    after.pop("said to alice")
    assert after == before, {k: (before[k], after[k]) for k in before if before[k] != after[k]}
    answers = said_to(fake_slack, who)[len(first_answers):]
    assert answers and all(already_done(t, change) for t in answers), (
        f"the second click on the list was answered with {answers}")
