"""Employees see, edit, withdraw and cancel their leave; approvers decide from App Home.

Through signed requests, against the fake Slack, asserting on what crossed the wire.
"""

import json
from dataclasses import replace

import pytest

from approvals import block_ids as ids
from approvals import messages
from fake_slack.personas import C_ENG, C_ENG_APPROVALS, C_GENERAL, C_NOBOT
from test_support.flows import (
    buttons_in,
    press,
    ledger_messages,
    request_status,
    ALICE,
    BOB,
    DAVE,
    MONDAY,
    VACATION,
    WEDNESDAY,
    channel_updates,
    click,
    dms_to,
    install_config,
    open_app_home,
    open_request_form,
    posted_requests,
    request_time_off,
    request_values,
    standard_config,
    submit_request,
    without_the_whole_ledger,
)
from test_support.slack_faults import answers_lost
from test_support.slack_requests import (
    block_actions_payload,
    event_envelope,
    post_command,
    post_event,
    post_interaction,
    view_block_actions_payload,
    view_submission_payload,
)

pytestmark = pytest.mark.django_db

FRIDAY = MONDAY.replace(day=MONDAY.day + 4)
THURSDAY = MONDAY.replace(day=MONDAY.day + 3)






def listed(client, user, word="list") -> dict:
    response = post_command(client, word, user_id=user)
    assert response.status_code == 200
    return response.json()


def receipt_message(fake_slack):
    [receipt] = [c for c in fake_slack.calls("chat.postMessage") if c.params.get("channel") == ALICE
                 and "is with" in c.params.get("text", "")]
    return receipt


def test_the_list_shows_pending_leave_with_its_buttons(client, fake_slack):
    install_config()
    request_time_off(client, fake_slack, ALICE, note="Ski week")
    answer = listed(client, ALICE)
    assert answer["response_type"] == "ephemeral"
    assert "Pending" in json.dumps(answer["blocks"]) and "Vacation" in json.dumps(answer["blocks"])
    assert {ids.EDIT_ACTION, ids.WITHDRAW_ACTION} <= set(buttons_in(answer["blocks"]))


def test_withdrawing_a_pending_request_rewrites_it_once(client, fake_slack):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    blocks = listed(client, ALICE)["blocks"]
    fake_slack.clear_calls()
    press(client, ALICE, blocks, ids.WITHDRAW_ACTION)
    press(client, ALICE, blocks, ids.WITHDRAW_ACTION)  # a double click

    assert len(channel_updates(fake_slack)) == 1
    assert len(fake_slack.calls("conversations.history")) == 2  # each click read the message once, under its lock
    payload = request_status(fake_slack)
    assert (payload["status"], payload["decided_by"]) == ("cancelled", ALICE)
    thread = [c.params["text"] for c in fake_slack.calls("chat.postMessage") if c.params.get("thread_ts")]
    assert len(thread) == 1 and thread[0].startswith(f"Withdrawn by <@{ALICE}>")
    assert not [b for b in channel_updates(fake_slack)[0].params["blocks"] if b["type"] == "actions"]
    assert ids.WITHDRAW_ACTION not in buttons_in(listed(client, ALICE)["blocks"])  # nothing left to withdraw


def press_on_the_list(client, user, blocks, action_id, *, channel=C_ENG):
    """A click on `/timeoff list` as Slack sends it: the list is an ephemeral message in the channel
    where the command was typed."""
    block_id, value = buttons_in(blocks)[action_id]
    payload = block_actions_payload(user_id=user, action_id=action_id, value=value, block_id=block_id,
                                    channel_id=channel, message_ts="1766000000.000300")
    payload["container"]["is_ephemeral"] = True
    payload.pop("message")  # Slack sends no message for a click on an ephemeral one
    response = post_interaction(client, payload)
    assert response.status_code == 200, response.content
    return response


def ephemerals_to(fake_slack, user, channel=C_ENG) -> list[str]:
    return [c.params["text"] for c in fake_slack.calls("chat.postEphemeral")
            if c.params.get("user") == user and c.params.get("channel") == channel]


def test_withdrawing_from_the_list_says_so_where_the_list_is_once(client, fake_slack):
    # The list is an ephemeral message: Slack keeps it as sent, so without a word there the click
    # would seem to have done nothing (the receipt DM is rewritten, out of sight).
    install_config()
    request_time_off(client, fake_slack, ALICE)
    blocks = listed(client, ALICE)["blocks"]
    fake_slack.clear_calls()

    press_on_the_list(client, ALICE, blocks, ids.WITHDRAW_ACTION)
    press_on_the_list(client, ALICE, blocks, ids.WITHDRAW_ACTION)  # a double click

    assert request_status(fake_slack)["status"] == "cancelled"
    [said] = ephemerals_to(fake_slack, ALICE)
    assert said.startswith(":white_check_mark: Withdrawn: your :palm_tree: Vacation, Mon 10 Mar")
    assert "`/timeoff list` shows it now" in said
    assert dms_to(fake_slack, ALICE) == []  # the receipt is rewritten, not posted again


def test_cancelling_approved_leave_from_the_list_says_cancelled(client, fake_slack):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted_requests(fake_slack)[0])
    blocks = listed(client, ALICE)["blocks"]
    fake_slack.clear_calls()

    press_on_the_list(client, ALICE, blocks, ids.CANCEL_ACTION)

    assert request_status(fake_slack)["status"] == "cancelled"
    [said] = ephemerals_to(fake_slack, ALICE)
    assert said.startswith(":white_check_mark: Cancelled: your :palm_tree: Vacation, Mon 10 Mar")


def test_a_stale_list_button_is_refused_where_it_was_pressed(client, fake_slack):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    blocks = listed(client, ALICE)["blocks"]
    press(client, ALICE, blocks, ids.WITHDRAW_ACTION)  # from the receipt DM
    fake_slack.clear_calls()

    press_on_the_list(client, BOB, blocks, ids.WITHDRAW_ACTION)  # someone else's list, forwarded: refused

    assert channel_updates(fake_slack) == []
    [said] = ephemerals_to(fake_slack, BOB)
    assert said.startswith("I couldn't change that request:")
    assert dms_to(fake_slack, BOB) == []


def test_buttons_on_the_receipt_say_nothing_more_the_receipt_itself_changes(client, fake_slack):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    receipt = receipt_message(fake_slack)
    fake_slack.clear_calls()

    press(client, ALICE, receipt.params["blocks"], ids.WITHDRAW_ACTION, channel=ALICE)

    assert request_status(fake_slack)["status"] == "cancelled"
    assert fake_slack.calls("chat.postEphemeral") == []
    [receipt_now] = [c for c in fake_slack.calls("chat.update") if c.params["channel"] != C_ENG_APPROVALS]
    assert receipt_now.params["text"].startswith(":no_entry_sign: Cancelled")


def test_hr_withdrawing_from_someones_list_is_told_whose(client, fake_slack):
    from test_support.flows import HR

    install_config()
    request_time_off(client, fake_slack, ALICE)
    blocks = listed(client, HR, f"for <@{ALICE}> list")["blocks"]
    fake_slack.clear_calls()

    press_on_the_list(client, HR, blocks, ids.WITHDRAW_ACTION, channel=C_GENERAL)

    [said] = ephemerals_to(fake_slack, HR, C_GENERAL)
    assert said.startswith(f":white_check_mark: Withdrawn: <@{ALICE}>'s :palm_tree: Vacation")
    assert "`/timeoff for @person list` shows it now" in said


def test_the_answer_to_a_list_click_goes_by_dm_where_slack_refuses_an_ephemeral(client, fake_slack):
    # /timeoff typed in a conversation the app is not in: Slack refuses the ephemeral there.
    install_config()
    request_time_off(client, fake_slack, ALICE)
    blocks = listed(client, ALICE)["blocks"]
    fake_slack.clear_calls()

    press_on_the_list(client, ALICE, blocks, ids.WITHDRAW_ACTION, channel=C_NOBOT)

    assert request_status(fake_slack)["status"] == "cancelled"
    assert [dm for dm in dms_to(fake_slack, ALICE) if dm.startswith(":white_check_mark: Withdrawn")]


def test_a_withdrawal_rate_limited_under_its_lock_waits_outside_it_and_reads_again(client, fake_slack):
    # Sleeping out a 429 inside the lock could outlast it and let another writer in: the attempt ends,
    # and the next one takes the lock and reads the message again before writing.
    install_config()
    request_time_off(client, fake_slack, ALICE)
    blocks = listed(client, ALICE)["blocks"]
    fake_slack.clear_calls()
    fake_slack.rate_limit("chat.update", retry_after=1)

    press(client, ALICE, blocks, ids.WITHDRAW_ACTION)

    assert request_status(fake_slack)["status"] == "cancelled"
    in_the_channel = [c.method for c in fake_slack.calls() if c.method in ("conversations.history", "chat.update")
                      and c.params.get("channel") == C_ENG_APPROVALS]
    assert in_the_channel == ["conversations.history", "chat.update", "conversations.history", "chat.update"]


def test_a_withdrawal_whose_lock_ran_out_before_the_write_writes_nothing_then(client, fake_slack, monkeypatch):
    from approvals.change_services import request_lock

    install_config()
    request_time_off(client, fake_slack, ALICE)
    blocks = listed(client, ALICE)["blocks"]
    fake_slack.clear_calls()
    answers = iter([False])  # the first attempt finds its lock gone; the next keeps it
    monkeypatch.setattr(request_lock, "still_ours", lambda self: next(answers, True))

    press(client, ALICE, blocks, ids.WITHDRAW_ACTION)

    assert request_status(fake_slack)["status"] == "cancelled"
    assert len(channel_updates(fake_slack)) == 1  # written by the attempt that held the lock only
    assert len(fake_slack.calls("conversations.history")) == 2


def test_someone_else_cannot_withdraw_it(client, fake_slack):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    blocks = listed(client, ALICE)["blocks"]
    press(client, DAVE, blocks, ids.WITHDRAW_ACTION)
    assert request_status(fake_slack)["status"] == "pending"
    assert any("only the requester" in dm for dm in dms_to(fake_slack, DAVE))


def test_cancelling_approved_leave_tells_the_approvers_and_the_team_and_restores_the_balance(client, fake_slack):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted)
    assert "taken 3" in listed(client, ALICE, f"balance {MONDAY.year}")["text"]
    blocks = listed(client, ALICE, "cancel")["blocks"]
    fake_slack.clear_calls()

    press(client, ALICE, blocks, ids.CANCEL_ACTION)

    assert request_status(fake_slack)["status"] == "cancelled"
    [thread] = [c.params["text"] for c in fake_slack.calls("chat.postMessage") if c.params.get("thread_ts")]
    assert thread.startswith(f"Cancelled by <@{ALICE}>") and f"<@{BOB}>" in thread
    [correction] = [c.params["text"] for c in fake_slack.calls("chat.postMessage") if c.params["channel"] == C_ENG]
    assert "will not be out" in correction
    assert "taken 0" in listed(client, ALICE, f"balance {MONDAY.year}")["text"]


def test_editing_a_pending_request_from_the_receipt(client, fake_slack):
    install_config()
    request_time_off(client, fake_slack, ALICE, note="Ski week")
    receipt = receipt_message(fake_slack)
    request_id = request_status(fake_slack)["id"]
    press(client, ALICE, receipt.params["blocks"], ids.EDIT_ACTION, channel=receipt.response["channel"],
          ts=receipt.response["ts"])
    form = fake_slack.last_call("views.open").params["view"]
    assert form["title"]["text"] == "Edit request"
    assert json.loads(form["private_metadata"]) == {"edit": request_id, "v": messages.version_of(
        "vacation", MONDAY, WEDNESDAY, None, None), "of": ["Engineering", C_ENG_APPROVALS]}
    fake_slack.clear_calls()

    response = post_interaction(client, view_submission_payload(
        user_id=ALICE, view=form, values=request_values("vacation", MONDAY, FRIDAY), view_id="V_EDIT"))
    assert response.content == b""

    payload = request_status(fake_slack)
    assert (payload["id"], payload["start"], payload["end"], payload["days"], payload["status"]) == (
        request_id, MONDAY.isoformat(), FRIDAY.isoformat(), 5, "pending")
    assert len(ledger_messages(fake_slack)) == 1  # rewritten, not posted again
    # Found from the ledger's cache, read from Slack once, under the lock (conversations.history: Tier 3).
    assert [c.params["channel"] for c in fake_slack.calls("conversations.history")] == [C_ENG_APPROVALS]
    assert "Ski week" in str(channel_updates(fake_slack)[0].params["blocks"])  # the note stays
    [thread] = [c.params["text"] for c in fake_slack.calls("chat.postMessage") if c.params.get("thread_ts")]
    assert thread.startswith(f"Edited by <@{ALICE}>")
    receipt_updates = [c for c in fake_slack.calls("chat.update") if c.params["channel"] == receipt.response["channel"]]
    assert receipt_updates and "5 working days" in receipt_updates[0].params["text"]


def test_an_edit_whose_task_could_not_be_queued_is_sent_when_the_form_is_sent_again(fake_slack, monkeypatch):
    # The database refused the edit's task row (locked, failing over): Slack shows the form's error and
    # the person presses Submit again. The first must not have kept the form's claim, or the second is
    # taken for a duplicate and closes the form with the edit lost.
    from django.db import OperationalError
    from django.test import Client

    from approvals import tasks

    client = Client(raise_request_exception=False)
    install_config()
    request_time_off(client, fake_slack, ALICE)
    receipt = receipt_message(fake_slack)
    press(client, ALICE, receipt.params["blocks"], ids.EDIT_ACTION, channel=receipt.response["channel"],
          ts=receipt.response["ts"])
    form = fake_slack.last_call("views.open").params["view"]
    real = tasks.edit_request

    class RefusedOnce:  # the task, whose first enqueue the database refuses
        refused = False

        def __getattr__(self, name):
            return getattr(real, name)

        def enqueue(self, *args):
            if not self.refused:
                self.refused = True
                raise OperationalError("database is locked")
            return real.enqueue(*args)

    monkeypatch.setattr(tasks, "edit_request", RefusedOnce())
    edit = view_submission_payload(user_id=ALICE, view=form, values=request_values("vacation", MONDAY, FRIDAY),
                                   view_id="V_EDIT")
    assert post_interaction(client, edit).status_code == 500
    assert request_status(fake_slack)["end"] == WEDNESDAY.isoformat()
    again = post_interaction(client, edit)
    assert again.status_code == 200 and again.content == b""
    assert request_status(fake_slack)["end"] == FRIDAY.isoformat()


def receipt_now(fake_slack, receipt) -> tuple[str, list[dict]]:
    """The receipt DM as its last rewrite left it: its text and blocks."""
    updates = [c for c in fake_slack.calls("chat.update") if c.params["channel"] == receipt.response["channel"]
               and c.params["ts"] == receipt.response["ts"]]
    params = updates[-1].params if updates else receipt.params
    return params["text"], params.get("blocks") or []


def test_the_receipt_follows_the_decision_and_offers_cancel_once_approved(client, fake_slack):
    from test_support.flows import BOB, click, posted_requests

    install_config()
    request_time_off(client, fake_slack, ALICE)
    receipt = receipt_message(fake_slack)
    [posted] = posted_requests(fake_slack)

    click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted)

    text, blocks = receipt_now(fake_slack, receipt)
    assert text.startswith(f":white_check_mark: <@{BOB}> approved your request for :palm_tree: Vacation")
    assert list(buttons_in(blocks)) == [ids.CANCEL_ACTION]

    press(client, ALICE, blocks, ids.CANCEL_ACTION)

    assert request_status(fake_slack)["status"] == "cancelled"
    text, blocks = receipt_now(fake_slack, receipt)
    assert text.startswith(":no_entry_sign: Cancelled: :palm_tree: Vacation") and buttons_in(blocks) == {}


def test_the_receipt_of_a_rejected_request_says_why_and_has_no_buttons(client, fake_slack):
    from test_support.flows import BOB, click, posted_requests

    install_config()
    request_time_off(client, fake_slack, ALICE)
    receipt = receipt_message(fake_slack)
    [posted] = posted_requests(fake_slack)
    click(client, fake_slack, BOB, ids.REJECT_ACTION, posted)
    reason_modal = fake_slack.last_call("views.open").params["view"]
    values = {ids.REASON_BLOCK: {ids.REASON_ACTION: {"type": "plain_text_input", "value": "Release <!here> week"}}}

    post_interaction(client, view_submission_payload(user_id=BOB, view=reason_modal, values=values, view_id="V_REJ"))

    text, blocks = receipt_now(fake_slack, receipt)
    assert text.startswith(f":x: <@{BOB}> rejected your request for :palm_tree: Vacation")
    assert text.endswith("Reason: Release &lt;!here&gt; week") and buttons_in(blocks) == {}


def test_a_withdrawn_request_s_receipt_says_so_without_buttons(client, fake_slack):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    receipt = receipt_message(fake_slack)

    press(client, ALICE, listed(client, ALICE)["blocks"], ids.WITHDRAW_ACTION)

    text, blocks = receipt_now(fake_slack, receipt)
    assert text.startswith(":no_entry_sign: Cancelled: :palm_tree: Vacation") and buttons_in(blocks) == {}


def test_an_edit_that_breaks_a_rule_keeps_the_form_open(client, fake_slack):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    second = open_request_form(client, fake_slack, ALICE)
    submit_request(client, ALICE, second, request_values("vacation", FRIDAY, FRIDAY), view_id="V_REQ2")
    assert len(ledger_messages(fake_slack)) == 2
    first_id = [m.metadata["event_payload"]["id"] for m in ledger_messages(fake_slack)
                if m.metadata["event_payload"]["start"] == MONDAY.isoformat()][0]
    form = fake_slack.last_call("views.open").params["view"]
    form = {**form, "private_metadata": json.dumps({"edit": first_id})}
    response = post_interaction(client, view_submission_payload(
        user_id=ALICE, view=form, values=request_values("vacation", MONDAY, FRIDAY), view_id="V_EDIT2"))
    assert response.json()["response_action"] == "errors"  # it would overlap the Friday request


def test_an_edit_is_checked_and_written_from_the_slices_not_the_whole_ledger(client, fake_slack, monkeypatch):
    # An edit is sent inside Slack's 3 seconds, as a new request is, and its task finds the message
    # and checks it again: what either costs must not grow with the ledger (DESIGN §10).

    install_config()
    request_time_off(client, fake_slack, ALICE)
    second = open_request_form(client, fake_slack, ALICE)
    submit_request(client, ALICE, second, request_values("vacation", FRIDAY, FRIDAY), view_id="V_REQ3")
    first_id = [m.metadata["event_payload"]["id"] for m in ledger_messages(fake_slack)
                if m.metadata["event_payload"]["start"] == MONDAY.isoformat()][0]
    form = {**fake_slack.last_call("views.open").params["view"], "private_metadata": json.dumps({"edit": first_id})}
    without_the_whole_ledger(monkeypatch)
    refused = post_interaction(client, view_submission_payload(
        user_id=ALICE, view=form, values=request_values("vacation", MONDAY, FRIDAY), view_id="V_EDIT3"))
    accepted = post_interaction(client, view_submission_payload(
        user_id=ALICE, view=form, values=request_values("vacation", MONDAY, THURSDAY), view_id="V_EDIT4"))

    assert "overlap" in json.dumps(refused.json()["errors"]).lower()  # the Friday request, from Alice's slice
    assert accepted.content == b""
    assert {m.metadata["event_payload"]["end"] for m in ledger_messages(fake_slack)} == {
        THURSDAY.isoformat(), FRIDAY.isoformat()}


def test_hr_edits_someones_pending_request_found_in_the_whole_ledger(client, fake_slack):
    # Not in HR's own slice: the edit's task finds the message through the whole ledger, and the
    # request stays the requester's.
    from test_support.flows import HR

    install_config()
    request_time_off(client, fake_slack, ALICE)
    request_id = request_status(fake_slack)["id"]
    # HR sends the edit form of Alice's request: may_change lets the fallback approvers edit anyone's.
    form = {**open_request_form(client, fake_slack, ALICE), "private_metadata": json.dumps({"edit": request_id})}
    fake_slack.clear_calls()

    response = post_interaction(client, view_submission_payload(
        user_id=HR, view=form, values=request_values("vacation", MONDAY, MONDAY), view_id="V_EDIT_HR"))

    assert response.content == b""
    payload = request_status(fake_slack)
    assert (payload["id"], payload["user"], payload["end"], payload["status"]) == (
        request_id, ALICE, MONDAY.isoformat(), "pending")
    [thread] = [c.params["text"] for c in fake_slack.calls("chat.postMessage") if c.params.get("thread_ts")]
    assert thread.startswith(f"Edited by <@{HR}>")


def test_a_burst_of_home_opens_publishes_once(client, fake_slack):
    # Each open is an event of its own (a new event_id): moments apart, they would all show the same,
    # and each views.publish spends Slack's budget.
    install_config()
    for number in range(20):
        open_app_home(client, fake_slack, ALICE, f"Ev_BURST{number}")
    assert len([c for c in fake_slack.calls("views.publish") if c.params["user_id"] == ALICE]) == 1


def test_an_open_after_a_failed_publish_publishes(client, fake_slack):
    install_config()
    fake_slack.fail("views.publish", "not_enabled")  # refused for good: the task gives up
    post_event(client, event_envelope({"type": "app_home_opened", "user": ALICE, "channel": "D_HOME", "tab": "home",
                                       "event_ts": "1766000000.000300"}, event_id="Ev_FAILS"))
    open_app_home(client, fake_slack, ALICE, "Ev_AGAIN")
    assert [c.response["ok"] for c in fake_slack.calls("views.publish")] == [False, True]


def test_app_home_shows_my_leave_and_balances(client, fake_slack):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    home = open_app_home(client, fake_slack, ALICE, "Ev_H1")
    assert home["type"] == "home"
    text = json.dumps(home)
    assert "Pending" in text and "Your leave in" in text
    assert {ids.NEW_REQUEST_ACTION, ids.EDIT_ACTION, ids.WITHDRAW_ACTION} <= set(buttons_in(home["blocks"]))


def test_app_home_shows_every_balance_when_many_long_leave_types_outgrow_a_section(client, fake_slack):
    types = tuple(replace(VACATION, code=f"type{n:02d}", name=f"Type {n:02d} " + "n" * 92, emoji=":" + "e" * 48 + ":")
                  for n in range(16))
    install_config(standard_config(leave_types=types))
    home = open_app_home(client, fake_slack, ALICE, "Ev_LONG")
    sections = [b["text"]["text"] for b in home["blocks"] if b["type"] == "section"]
    assert all(len(text) <= 3000 for text in sections)
    assert all(any(f"Type {n:02d} " in text for text in sections) for n in range(16))


def test_a_republish_while_one_waits_for_the_same_person_adds_no_task(client, fake_slack, settings):
    # Each decision republishes the App Home of the requester and every approver: a busy team's
    # decisions must not pile up one publish per decision per person while the queue is behind.
    from django.tasks import default_task_backend

    from approvals import tasks

    install_config()
    open_app_home(client, fake_slack, BOB, "Ev_SEEN")  # Bob looks at his App Home: he is republished to
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.dummy.DummyBackend"},  # tasks wait ...
                      "worker": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}  # ... till run here

    def waiting():
        return [r for r in default_task_backend.results if r.task.name == "publish_home"]

    for _ in range(3):  # three changes that concern Bob, while the queue is behind
        tasks.publish_home_later({BOB})
    [queued] = waiting()
    assert queued.args == [BOB]

    tasks.publish_home.using(backend="worker").enqueue(*queued.args)  # the worker runs it: it shows what is true now
    assert fake_slack.calls("views.publish")[-1].params["user_id"] == BOB
    tasks.publish_home_later({BOB})  # once it has started, the next change asks for a publish of its own
    assert len(waiting()) == 2


def test_opening_app_home_always_publishes_it(client, fake_slack, settings):
    from django.tasks import default_task_backend

    from approvals import tasks

    install_config()
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.dummy.DummyBackend"}}
    tasks.publish_home_later({ALICE})  # not one who looks at it: nothing
    for n in range(2):
        post_event(client, event_envelope({"type": "app_home_opened", "user": ALICE, "channel": "D_HOME",
                                           "tab": "home", "event_ts": "1766000000.000300"}, event_id=f"Ev_O{n}"))
    assert [r.args for r in default_task_backend.results if r.task.name == "publish_home"] == [[ALICE, True]] * 2


def test_a_republish_that_could_not_be_enqueued_does_not_hold_back_the_next(client, fake_slack, monkeypatch):
    from approvals import home_services, tasks

    install_config()

    class Unreachable:  # the task table cannot be written (the database is down)
        def enqueue(self, *args):
            raise OSError("db down")

    monkeypatch.setattr(tasks, "publish_home", Unreachable())
    with pytest.raises(OSError):
        home_services.home_republish(ALICE)
    monkeypatch.undo()
    fake_slack.clear_calls()

    home_services.home_republish(ALICE)

    assert [c.params["user_id"] for c in fake_slack.calls("views.publish")] == [ALICE]


def test_an_approver_decides_from_app_home_like_from_the_channel(client, fake_slack):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    home = open_app_home(client, fake_slack, BOB, "Ev_H2")
    block_id, value = buttons_in(home["blocks"])[ids.APPROVE_ACTION]
    fake_slack.clear_calls()

    post_interaction(client, view_block_actions_payload(user_id=BOB, action_id=ids.APPROVE_ACTION, value=value,
                                                        block_id=block_id, view=home))

    payload = request_status(fake_slack)
    assert (payload["status"], payload["decided_by"]) == ("approved", BOB)
    assert any("approved your" in dm for dm in dms_to(fake_slack, ALICE))
    republished = [c for c in fake_slack.calls("views.publish") if c.params["user_id"] == BOB]
    assert republished and ids.APPROVE_ACTION not in buttons_in(json.loads(json.dumps(
        republished[-1].params["view"]))["blocks"])  # nothing waits any more


def test_app_home_reads_the_slices_not_the_whole_ledger(client, fake_slack, monkeypatch):
    # App Home is published on every open of the tab and after every change its watchers see:
    # what a publish costs must not grow with the ledger (DESIGN §10).

    install_config()
    request_time_off(client, fake_slack, ALICE)
    without_the_whole_ledger(monkeypatch)
    bobs = open_app_home(client, fake_slack, BOB, "Ev_S1")
    alices = open_app_home(client, fake_slack, ALICE, "Ev_S2")

    assert "Waiting for your decision* (1)" in json.dumps(bobs) and ids.APPROVE_ACTION in buttons_in(bobs["blocks"])
    assert "Pending" in json.dumps(alices) and ids.APPROVE_ACTION not in buttons_in(alices["blocks"])


def test_app_home_reads_the_whole_ledger_when_the_slices_are_older_than_it(client, fake_slack):
    from dataclasses import replace

    from django.core.cache import cache

    from approvals.ledger_reader import SLICES_META_KEY

    install_config()
    request_time_off(client, fake_slack, ALICE)
    cache.set(SLICES_META_KEY, replace(cache.get(SLICES_META_KEY), open_slices=False))  # cached by the last release

    home = open_app_home(client, fake_slack, BOB, "Ev_S3")

    assert ids.APPROVE_ACTION in buttons_in(home["blocks"])


def test_hr_sees_on_app_home_what_a_teams_only_approver_asked_for(client, fake_slack):
    from dataclasses import replace

    from approvals.config_types import ApproverSource
    from test_support.flows import ENGINEERING, HR, standard_config

    install_config(standard_config(teams=(replace(ENGINEERING, approvers=ApproverSource(users=(BOB,))),)))
    request_time_off(client, fake_slack, BOB)  # nobody approves their own leave: HR decides this one

    hrs = open_app_home(client, fake_slack, HR, "Ev_S4")
    daves = open_app_home(client, fake_slack, DAVE, "Ev_S5")  # no longer an approver: the leads channel is not

    assert ids.APPROVE_ACTION in buttons_in(hrs["blocks"])
    assert ids.APPROVE_ACTION not in buttons_in(daves["blocks"])


def test_the_request_button_on_app_home_opens_the_form(client, fake_slack):
    install_config()
    home = open_app_home(client, fake_slack, ALICE, "Ev_H3")
    block_id, value = buttons_in(home["blocks"])[ids.NEW_REQUEST_ACTION]
    post_interaction(client, view_block_actions_payload(user_id=ALICE, action_id=ids.NEW_REQUEST_ACTION,
                                                        value=value, block_id=block_id, view=home))
    assert fake_slack.last_call("views.open").params["view"]["callback_id"] == ids.REQUEST_MODAL


def test_a_form_slack_would_not_open_is_said_where_the_button_was(client, fake_slack):
    # views.open rate-limited (or too slow for the 3-second trigger): the click is answered at once, and
    # the person is told to click again, in the DM the button was in, or by DM from App Home.
    install_config()
    request_time_off(client, fake_slack, ALICE)
    receipt = receipt_message(fake_slack)
    home = open_app_home(client, fake_slack, ALICE, "Ev_NO_FORM")
    fake_slack.rate_limit("views.open", retry_after=30, times=None)
    fake_slack.clear_calls()

    press(client, ALICE, receipt.params["blocks"], ids.EDIT_ACTION, channel=receipt.response["channel"],
          ts=receipt.response["ts"])
    block_id, value = buttons_in(home["blocks"])[ids.NEW_REQUEST_ACTION]
    post_interaction(client, view_block_actions_payload(user_id=ALICE, action_id=ids.NEW_REQUEST_ACTION,
                                                        value=value, block_id=block_id, view=home))

    assert len(fake_slack.calls("views.open")) == 2  # once each: nothing waits out Retry-After in a request
    [in_the_dm] = [c.params for c in fake_slack.calls("chat.postEphemeral")]
    assert (in_the_dm["channel"], in_the_dm["user"]) == (receipt.response["channel"], ALICE)
    assert "click the button again" in in_the_dm["text"]
    assert any("click the button again" in dm for dm in dms_to(fake_slack, ALICE))


def test_an_edit_that_fails_for_good_shows_what_was_asked_for(client, fake_slack, monkeypatch):
    from slack_sdk.http_retry.builtin_interval_calculators import BackoffRetryIntervalCalculator

    from approvals.config_store import current_config
    from approvals.models import DeliveryProblem
    from slackbot import modals
    from test_support.flows import metadata_payload

    monkeypatch.setattr(BackoffRetryIntervalCalculator, "calculate_sleep_duration", lambda self, attempt: 0)
    install_config()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    view = modals.request_modal(leave_types=current_config().leave_types,
                                private_metadata={"edit": metadata_payload(posted)["id"]}, editing=True)
    fake_slack.server_error("chat.update", status=500, times=None)
    submit_request(client, ALICE, view, request_values("vacation", MONDAY, MONDAY, note="only <monday>"),
                   view_id="V_EDIT")
    [told] = [dm for dm in dms_to(fake_slack, ALICE) if "could not edit" in dm]
    assert "kept failing (fatal_error)" in told and "please try again" in told
    assert "What you asked for: :palm_tree: Vacation, Mon 10 Mar" in told and "only &lt;monday&gt;" in told
    assert request_status(fake_slack)["end"] == WEDNESDAY.isoformat()  # unchanged
    assert not DeliveryProblem.objects.exists()  # a passing fault: nothing for HR to fix


def test_an_edit_slack_refuses_for_good_is_recorded_for_hr_without_the_note(client, fake_slack):
    from approvals.config_store import current_config
    from approvals.models import DeliveryProblem
    from slackbot import modals
    from test_support.flows import metadata_payload

    install_config()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    view = modals.request_modal(leave_types=current_config().leave_types,
                                private_metadata={"edit": metadata_payload(posted)["id"]}, editing=True)
    fake_slack.fail("chat.update", "cant_update_message", times=None)
    submit_request(client, ALICE, view, request_values("vacation", MONDAY, MONDAY, note="my private reason"),
                   view_id="V_EDIT")
    [told] = [dm for dm in dms_to(fake_slack, ALICE) if "could not edit" in dm]
    assert "Slack refused it (cant_update_message)" in told and "my private reason" in told  # their own DM
    [problem] = DeliveryProblem.objects.all()
    assert problem.error == "cant_update_message" and "Mon 10 Mar" in problem.summary
    assert "private" not in problem.summary


# --- HR on behalf ---------------------------------------------------------------------------------


def test_hr_records_leave_for_someone_and_they_are_told(client, fake_slack):
    from test_support.flows import HR

    install_config()
    response = post_command(client, f"for <@{ALICE}|alice> {MONDAY} {WEDNESDAY} vacation", user_id=HR)
    assert response.status_code == 200 and response.content == b"", response.content
    form = fake_slack.last_call("views.open").params["view"]
    assert form["title"]["text"] == "Record time off"
    post_interaction(client, view_submission_payload(
        user_id=HR, view=form, values=request_values("vacation", MONDAY, WEDNESDAY), view_id="V_FOR"))

    payload = request_status(fake_slack)
    assert (payload["user"], payload["status"], payload["decided_by"], payload["recorded_by"]) == (
        ALICE, "approved", HR, HR)
    assert any(f"<@{HR}> recorded time off for you" in dm for dm in dms_to(fake_slack, ALICE))
    assert [c for c in fake_slack.calls("chat.postMessage") if c.params["channel"] == C_ENG]  # announced


def test_only_hr_may_record_for_someone_else(client, fake_slack):
    install_config()
    response = post_command(client, f"for <@{DAVE}|dave> {MONDAY}", user_id=ALICE)
    assert "Only HR" in response.json()["text"]
    assert fake_slack.calls("views.open") == []


def test_hr_cancels_someones_leave_from_their_list_and_they_are_told(client, fake_slack):
    from test_support.flows import HR

    install_config()
    request_time_off(client, fake_slack, ALICE)
    blocks = listed(client, HR, f"for <@{ALICE}> list")["blocks"]
    press(client, HR, blocks, ids.WITHDRAW_ACTION)
    payload = request_status(fake_slack)
    assert (payload["status"], payload["decided_by"]) == ("cancelled", HR)
    assert any(f"<@{HR}> changed your time off" in dm for dm in dms_to(fake_slack, ALICE))


def test_hr_reads_someones_list_titled_as_theirs(client, fake_slack):
    from test_support.flows import HR

    install_config()
    request_time_off(client, fake_slack, ALICE)

    body = listed(client, HR, f"for <@{ALICE}> list")

    assert body["text"] == f"<@{ALICE}>'s time off: 1 pending, 0 coming up."
    assert body["blocks"][0]["text"]["text"] == f"*<@{ALICE}>'s time off*"


def test_hr_asking_for_someones_list_on_a_cold_cache_gets_it_by_dm_not_the_person(client, fake_slack):
    from django.core.cache import cache

    from test_support.flows import HR

    install_config()
    request_time_off(client, fake_slack, ALICE)
    cache.clear()
    fake_slack.clear_calls()

    body = listed(client, HR, f"for <@{ALICE}> cancel")

    assert body["text"] == f"Looking up <@{ALICE}>'s time off — I'll DM you in a moment."
    assert dms_to(fake_slack, ALICE) == []
    [dm] = dms_to(fake_slack, HR)
    assert dm == f"<@{ALICE}>'s time off: 1 pending, 0 coming up."
    [to_hr] = [c for c in fake_slack.calls("chat.postMessage") if c.params["channel"] == HR]
    assert ids.WITHDRAW_ACTION in str(to_hr.params["blocks"])  # HR can change it from there


def test_a_withdrawal_whose_thread_reply_keeps_failing_is_not_told_as_unchanged(client, fake_slack, monkeypatch):
    from slack_sdk.http_retry.builtin_interval_calculators import BackoffRetryIntervalCalculator

    monkeypatch.setattr(BackoffRetryIntervalCalculator, "calculate_sleep_duration", lambda self, attempt: 0)
    install_config()
    request_time_off(client, fake_slack, ALICE)
    blocks = listed(client, ALICE)["blocks"]
    real_handle = fake_slack.handle

    def thread_replies_fail(method, params, headers):
        if method == "chat.postMessage" and params.get("thread_ts"):
            return 500, {}, {"ok": False, "error": "fatal_error"}
        return real_handle(method, params, headers)

    fake_slack.handle = thread_replies_fail
    try:
        press(client, ALICE, blocks, ids.WITHDRAW_ACTION)
    finally:
        del fake_slack.handle

    assert request_status(fake_slack)["status"] == "cancelled"  # written once...
    assert not [dm for dm in dms_to(fake_slack, ALICE) if "could not change" in dm]  # ... and not denied


def test_a_withdrawal_slack_made_though_its_answer_was_lost_gets_its_thread_reply(client, fake_slack, monkeypatch):
    from slack_sdk.http_retry.builtin_interval_calculators import BackoffRetryIntervalCalculator

    monkeypatch.setattr(BackoffRetryIntervalCalculator, "calculate_sleep_duration", lambda self, attempt: 0)
    install_config()
    request_time_off(client, fake_slack, ALICE)
    blocks = listed(client, ALICE)["blocks"]
    with answers_lost(fake_slack, "chat.update", then_unreadable=False, every_time=True) as made:
        press(client, ALICE, blocks, ids.WITHDRAW_ACTION)

    assert made and request_status(fake_slack)["status"] == "cancelled"
    # The next attempt found it withdrawn by her: what follows a withdrawal went out, once.
    [message] = ledger_messages(fake_slack)
    replies = [m.text for m in fake_slack.workspace.replies(C_ENG_APPROVALS, message.ts)[1:]]
    assert len([text for text in replies if text.startswith(f"Withdrawn by <@{ALICE}>")]) == 1
    assert not [dm for dm in fake_slack.workspace.messages(ALICE) if "unchanged" in dm.text]


def test_a_withdrawal_whose_outcome_slack_would_not_tell_is_said_to_be_unconfirmed(client, fake_slack, monkeypatch):
    from slack_sdk.http_retry.builtin_interval_calculators import BackoffRetryIntervalCalculator

    monkeypatch.setattr(BackoffRetryIntervalCalculator, "calculate_sleep_duration", lambda self, attempt: 0)
    install_config()
    request_time_off(client, fake_slack, ALICE)
    blocks = listed(client, ALICE)["blocks"]
    with answers_lost(fake_slack, "chat.update", then_unreadable=True, every_time=True):
        press(client, ALICE, blocks, ids.WITHDRAW_ACTION)

    assert request_status(fake_slack)["status"] == "cancelled"  # made, though nobody could see it
    told = [dm.text for dm in fake_slack.workspace.messages(ALICE)]
    assert any("could not confirm that your withdrawal was recorded" in text for text in told), told
    assert not any("It is unchanged" in text for text in told), told


# --- A request still being sent ---------------------------------------------------------------------


def test_withdrawing_a_request_still_being_sent_waits_for_it_and_withdraws_it(client, fake_slack, settings):
    # The delivery waits in the queue (a busy worker, a rate-limited post): the list already shows the
    # request, with Withdraw. The withdrawal must not call it deleted while it then reaches the approvers:
    # it tries again once the request is posted, and withdraws it there.
    from test_support.flows import MONDAY, WEDNESDAY, open_request_form, request_values, submit_request
    from test_support.task_rows import run_queued_tasks

    settings.TASKS = {"default": {"BACKEND": "approvals.task_backend.DatabaseBackend"}}
    install_config()
    view = open_request_form(client, fake_slack, ALICE)
    run_queued_tasks()  # the form warms the ledger and Alice's team
    submit_request(client, ALICE, view, request_values("vacation", MONDAY, WEDNESDAY))
    press(client, ALICE, listed(client, ALICE)["blocks"], ids.WITHDRAW_ACTION)

    run_queued_tasks("change_request")  # before the delivery: there is no message to withdraw yet
    assert dms_to(fake_slack, ALICE) == []  # not "it no longer exists"
    run_queued_tasks()  # the delivery, then the withdrawal's next attempt

    assert request_status(fake_slack)["status"] == "cancelled"
    assert not [dm for dm in dms_to(fake_slack, ALICE) if "no longer exists" in dm]


def test_a_withdrawal_whose_request_is_never_posted_says_so_when_it_gives_up(client, fake_slack):
    from approvals import ledger_reader, tasks
    from approvals.change_services import RequestInFlight

    install_config()
    tasks.change_gave_up(RequestInFlight("r1"), {"request_id": "r1", "by": ALICE, "action": "withdraw",
                                                 "channel": None, "ts": None})
    [dm] = dms_to(fake_slack, ALICE)
    assert dm.startswith("I couldn't withdraw that request yet: it is still being sent to your approvers")
    assert not ledger_reader.in_flight("r1")


def test_an_edit_whose_request_is_never_posted_says_so_when_it_gives_up(client, fake_slack):
    from approvals import tasks
    from approvals.change_services import RequestInFlight
    from approvals.request_services import Submission

    install_config()
    edit = Submission(id="r1", user=ALICE, leave_type="vacation", start=MONDAY, end=FRIDAY, start_half=None,
                      end_half=None, note="", validated=False)
    tasks.edit_gave_up(RequestInFlight("r1"), edit.as_task_data(), ALICE)
    [dm] = dms_to(fake_slack, ALICE)
    assert dm.startswith("I couldn't edit that request yet: it is still being sent to your approvers"), dm
    assert "What you asked for: :palm_tree: Vacation" in dm


def test_a_stale_edit_button_on_approved_leave_opens_no_form_and_says_why(client, fake_slack):
    from test_support.flows import BOB, click, posted_requests

    install_config()
    request_time_off(client, fake_slack, ALICE)
    stale = listed(client, ALICE)["blocks"]  # Edit and Withdraw, while pending
    [posted] = posted_requests(fake_slack)
    click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted)
    fake_slack.clear_calls()

    press(client, ALICE, stale, ids.EDIT_ACTION)

    assert fake_slack.calls("views.open") == []
    told = [c.params["text"] for c in fake_slack.calls("chat.postEphemeral") if c.params["user"] == ALICE]
    assert told == ["This request is already approved, so it can't be edited; cancel it and ask again instead."]


def test_a_stale_reject_button_on_a_withdrawn_request_asks_for_no_reason(client, fake_slack):
    from test_support.flows import BOB, click, ephemerals_to, posted_requests

    install_config()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)  # its Reject button, as App Home not yet republished shows it
    press(client, ALICE, listed(client, ALICE)["blocks"], ids.WITHDRAW_ACTION)
    fake_slack.clear_calls()

    click(client, fake_slack, BOB, ids.REJECT_ACTION, posted)

    assert fake_slack.calls("views.open") == []
    [told] = ephemerals_to(fake_slack, BOB)
    assert told.startswith(f"This request was already cancelled by <@{ALICE}>")


def test_hr_editing_someones_request_previews_their_days_and_team(client, fake_slack):
    from test_support.flows import HR

    install_config()
    request_time_off(client, fake_slack, ALICE)
    fake_slack.clear_calls()

    press(client, HR, listed(client, HR, f"for <@{ALICE}> list")["blocks"], ids.EDIT_ACTION)

    form = fake_slack.last_call("views.open").params["view"]
    assert json.loads(form["private_metadata"])["user"] == ALICE
    preview = json.dumps(form["blocks"])
    assert "No team is configured for you" not in preview  # HR's own (they are in no team)
    assert "3 working days" in preview and "Engineering" in preview
