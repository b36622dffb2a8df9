"""A requester editing a pending request, in depth.

Alice presses *Edit* on her receipt DM, the form opens filled in with the request as it stands, and she
sends it with new dates, halves, type or note. The request message in Engineering's approvals channel is
rewritten in place (metadata and text), its thread says "Edited by … now … (was …)" once, her receipt
and the approvers' App Home follow, and an Approve clicked on the old rendering approves nothing.

Every click is acknowledged at once and its work waits as a task row, as in production; one worker
takes the rows on a simulated clock (test_support/simulated_time.py), so the test decides what lands
before what: an approver's click, HR's change of the configuration, a withdrawal from another device,
Slack making a `chat.update` and losing its answer. Assertions are on what crossed the wire to the fake
Slack: the messages and their metadata, the thread, DMs and ephemerals, the form's answers.
"""

import json
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

import pytest

from approvals import block_ids as ids
from approvals.config_types import LeaveTypeConfig
from fake_slack.personas import C_ENG, C_ENG_APPROVALS, C_GENERAL
from test_support.flows import (
    ALICE,
    BOB,
    DAVE,
    HR,
    MEDICAL,
    MONDAY,
    SICK,
    VACATION,
    WEDNESDAY,
    buttons_in,
    install_config,
    open_request_form,
    request_values,
    standard_config,
)
from test_support.simulated_time import work_through_the_queue
from test_support.slack_faults import failing
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

TUESDAY = MONDAY + timedelta(days=1)
THURSDAY = MONDAY + timedelta(days=3)
FRIDAY = MONDAY + timedelta(days=4)
NEXT_MONDAY = MONDAY + timedelta(days=7)

# Around the year end of 2031: Monday 29 December to Friday 2 January (New Year's Day a US holiday).
DECEMBER_MONDAY = date(2031, 12, 15)
DECEMBER_WEDNESDAY = date(2031, 12, 17)
LAST_MONDAY = date(2031, 12, 29)
NEW_YEAR_FRIDAY = date(2032, 1, 2)


def rewrite_of_request(method, params) -> bool:
    """chat.update of a request message (not of a receipt DM)."""
    return method == "chat.update" and params.get("channel") == C_ENG_APPROVALS


def metadata_of(params) -> dict:
    metadata = params.get("metadata")
    return json.loads(metadata) if isinstance(metadata, str) else (metadata or {})


class Office:
    """Engineering as the flows' standard configuration has it; every click's work waits as a row."""

    def __init__(self, client, fake_slack, clock, config=None):
        self.client, self.fake, self.clock = client, fake_slack, clock
        self.config = install_config(config)
        self.forms = 0
        self.receipts = {}  # request id -> (channel, ts) of its receipt DM

    def run(self) -> int:
        return work_through_the_queue(self.clock)

    # --- Alice's side

    def send_form(self, user, form, leave_type, start, end, *, note="", halves=(), view_id=None, view_hash=None):
        self.forms += 1
        view_id = view_id or f"V_FORM{self.forms}"
        response = post_interaction(self.client, view_submission_payload(
            user_id=user, view=form, values=request_values(leave_type, start, end, note=note, halves=halves),
            view_id=view_id, view_hash=view_hash or f"1766000000.{view_id}"))
        assert response.status_code == 200, response.content
        return response

    def ask(self, leave_type="vacation", start=MONDAY, end=WEDNESDAY, *, note="Ski week", user=ALICE) -> str:
        """A request sent and delivered: its id."""
        form = open_request_form(self.client, self.fake, user)
        response = self.send_form(user, form, leave_type, start, end, note=note)
        assert response.content == b"", response.content
        self.run()
        posted = [c for c in self.fake.calls("chat.postMessage") if c.params.get("channel") == C_ENG_APPROVALS
                  and not c.params.get("thread_ts") and c.response.get("ok")
                  and metadata_of(c.params).get("event_type") == "timeoff_request"
                  and metadata_of(c.params)["event_payload"]["user"] == user]
        request_id = metadata_of(posted[-1].params)["event_payload"]["id"]
        receipt = next(c for c in self.fake.calls("chat.postMessage") if c.params.get("channel") == user
                       and c.response.get("ok") and request_id in json.dumps(c.params.get("blocks") or []))
        self.receipts[request_id] = (receipt.response["channel"], receipt.response["ts"])
        return request_id

    def receipt(self, request_id):
        return self.fake.workspace.message(*self.receipts[request_id])

    def press_receipt(self, request_id, action_id, *, user=ALICE, times=1):
        channel, ts = self.receipts[request_id]
        block_id, value = buttons_in(self.receipt(request_id).blocks)[action_id]
        payload = block_actions_payload(user_id=user, action_id=action_id, value=value, block_id=block_id,
                                        channel_id=channel, message_ts=ts)
        for _ in range(times):
            response = post_interaction(self.client, payload)
            assert response.status_code == 200 and response.content == b"", response.content

    def edit_form(self, request_id) -> dict:
        """Alice presses Edit on her receipt: the form Slack was asked to open."""
        before = len(self.fake.calls("views.open"))
        self.press_receipt(request_id, ids.EDIT_ACTION)
        opened = self.fake.calls("views.open")[before:]
        assert opened, "no form opened: " + " | ".join(self.said_to(ALICE))
        form = opened[-1].params["view"]
        return json.loads(form) if isinstance(form, str) else form

    def edit(self, request_id, leave_type, start, end, *, note="", halves=()):
        """Alice edits from her receipt: the form's answer (the edit's task waits as a row)."""
        return self.send_form(ALICE, self.edit_form(request_id), leave_type, start, end, note=note, halves=halves)

    def balance_line(self, year=MONDAY.year, type_name="Vacation") -> str:
        before = len(self.fake.calls("chat.postMessage"))
        response = post_command(self.client, f"balance {year}", user_id=ALICE)
        assert response.status_code == 200, response.content
        text = response.json().get("text", "")
        if type_name not in text:
            self.run()
            text = "\n".join(c.params["text"] for c in self.fake.calls("chat.postMessage")[before:]
                             if c.params.get("channel") == ALICE)
        [line] = [line for line in text.splitlines() if type_name in line]
        return line

    # --- What stands in Slack

    def message(self, request_id):
        [message] = [m for m in self.fake.workspace.messages(C_ENG_APPROVALS)
                     if m.metadata and m.metadata.get("event_type") == "timeoff_request"
                     and m.metadata["event_payload"]["id"] == request_id]
        return message

    def payload(self, request_id) -> dict:
        return self.message(request_id).metadata["event_payload"]

    def thread(self, request_id) -> list[str]:
        return [m.text for m in self.fake.workspace.replies(C_ENG_APPROVALS, self.message(request_id).ts)[1:]]

    def request_posts(self) -> list:
        return [c for c in self.fake.calls("chat.postMessage") if c.params.get("channel") == C_ENG_APPROVALS
                and not c.params.get("thread_ts") and c.response.get("ok")
                and metadata_of(c.params).get("event_type") == "timeoff_request"]

    def request_rewrites(self, request_id) -> list:
        ts = self.message(request_id).ts
        return [c for c in self.fake.calls("chat.update") if c.params.get("channel") == C_ENG_APPROVALS
                and c.params.get("ts") == ts]

    def team_channel(self) -> list[str]:
        """Everything the app posted to the team's announce channel (text and blocks)."""
        return [c.params.get("text", "") + json.dumps(c.params.get("blocks") or [])
                for c in self.fake.calls("chat.postMessage") if c.params.get("channel") == C_ENG]

    def said_to(self, user) -> list[str]:
        """What the app told `user` directly (DMs without buttons and ephemerals Slack took), in order."""
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

    def click_on_request(self, user, action_id, value, ts):
        response = post_interaction(self.client, block_actions_payload(
            user_id=user, action_id=action_id, value=value, channel_id=C_ENG_APPROVALS, message_ts=ts,
            block_id=ids.DECISION_BLOCK))
        assert response.status_code == 200, response.content
        return response

    def home(self, user) -> dict:
        calls = [c for c in self.fake.calls("views.publish") if c.params["user_id"] == user]
        assert calls, f"no App Home published for {user}"
        view = calls[-1].params["view"]
        return json.loads(view) if isinstance(view, str) else view

    def open_home(self, user, event_id):
        response = post_event(self.client, event_envelope(
            {"type": "app_home_opened", "user": user, "channel": "D_HOME", "tab": "home",
             "event_ts": "1766000000.000300"}, event_id=event_id))
        assert response.status_code == 200
        self.run()
        return self.home(user)


def edited_replies(thread: list[str]) -> list[str]:
    return [text for text in thread if text.startswith(f"Edited by <@{ALICE}>")]


def refusals(said: list[str]) -> list[str]:
    return [text for text in said if "couldn't" in text or "unchanged" in text or "overlap" in text.lower()]


# --- Dates, halves, type and note -----------------------------------------------------------------


def test_an_edit_of_dates_halves_type_and_note_rewrites_the_one_message_and_narrates_it_once(client, fake_slack,
                                                                                            clock):
    medical = replace(MEDICAL, allow_half_days=True)
    office = Office(client, fake_slack, clock, standard_config(leave_types=(VACATION, SICK, medical)))
    request_id = office.ask(note="Ski week")
    ts = office.message(request_id).ts
    fake_slack.clear_calls()

    response = office.edit(request_id, "medical", TUESDAY, FRIDAY, note="Clinic, then rest",
                           halves=(ids.HALF_START_PM, ids.HALF_END_AM))
    assert response.content == b"", response.content
    office.run()

    payload = office.payload(request_id)
    assert (payload["id"], payload["status"], payload["type"]) == (request_id, "pending", "medical"), payload
    assert (payload["start"], payload["end"]) == (TUESDAY.isoformat(), FRIDAY.isoformat()), payload
    assert (payload["start_half"], payload["end_half"], float(payload["days"])) == ("pm", "am", 3.0), payload
    assert office.message(request_id).ts == ts and office.request_posts() == []  # rewritten in place
    assert "Clinic" not in json.dumps(payload)  # the note is never metadata
    shown = json.dumps(office.message(request_id).blocks)
    assert "Clinic, then rest" in shown and "Ski week" not in shown, shown
    assert "Medical appointment" in shown and "Vacation" not in shown, shown
    [reply] = office.thread(request_id)
    assert reply.startswith(f"Edited by <@{ALICE}>: now :hospital: Medical appointment"), reply
    assert "Tue 11 Mar" in reply and "Fri 14 Mar" in reply and "(starts and ends at noon)" in reply, reply
    was = reply.split("(was ", 1)[1]
    assert was.startswith("Mon 10 Mar") and "Wed 12 Mar" in was, reply
    assert f"<@{BOB}>" in reply  # the approvers are called on to look again
    receipt = office.receipt(request_id)
    assert "Fri 14 Mar" in receipt.text and "Wed 12 Mar" not in receipt.text, receipt.text
    assert set(buttons_in(receipt.blocks)) == {ids.EDIT_ACTION, ids.WITHDRAW_ACTION}
    assert refusals(office.said_to(ALICE)) == []
    assert "taken 0, pending 0" in office.balance_line()


def test_an_edit_keeps_the_keys_a_newer_release_wrote_into_the_requests_metadata(client, fake_slack, clock):
    # A rolling deploy (README "The ledger"): a newer release rewrote Alice's request with a key this one
    # does not know; her edit runs on this release, which must carry it on, not drop it.
    office = Office(client, fake_slack, clock)
    request_id = office.ask(note="Ski week")
    ts = office.message(request_id).ts
    with fake_slack.workspace.lock:
        fake_slack.workspace.find_message(C_ENG_APPROVALS, ts).metadata["event_payload"]["source"] = {
            "system": "hris", "ref": 42}

    response = office.edit(request_id, "vacation", TUESDAY, FRIDAY, note="Ski week")
    assert response.content == b"", response.content
    office.run()

    payload = office.payload(request_id)
    assert (payload["start"], payload["end"]) == (TUESDAY.isoformat(), FRIDAY.isoformat()), payload
    assert payload["source"] == {"system": "hris", "ref": 42}, payload


def test_the_edit_form_opens_filled_in_with_the_request_as_it_stands(client, fake_slack, clock):
    office = Office(client, fake_slack, clock)
    request_id = office.ask()
    office.edit(request_id, "vacation", TUESDAY, FRIDAY, halves=(ids.HALF_END_AM,))
    office.run()

    form = office.edit_form(request_id)

    by_block = {block.get("block_id"): block for block in form["blocks"]}
    assert by_block[ids.START_BLOCK]["element"]["initial_date"] == TUESDAY.isoformat()
    assert by_block[ids.END_BLOCK]["element"]["initial_date"] == FRIDAY.isoformat()
    assert by_block[ids.TYPE_BLOCK]["element"]["initial_option"]["value"] == "vacation"
    ticked = [o["value"] for o in by_block[ids.HALF_BLOCK]["element"].get("initial_options", [])]
    assert ticked == [ids.HALF_END_AM], ticked
    assert json.loads(form["private_metadata"])["edit"] == request_id


def test_an_edit_that_changes_nothing_rewrites_nothing_and_calls_no_approver(client, fake_slack, clock):
    # Alice opens the form, changes her mind, and sends it as it opened (Slack's form has no "no change").
    office = Office(client, fake_slack, clock)
    request_id = office.ask(note="Ski week")
    fake_slack.clear_calls()

    response = office.edit(request_id, "vacation", MONDAY, WEDNESDAY)
    assert response.content == b"", response.content
    office.run()

    assert office.thread(request_id) == [], office.thread(request_id)
    assert office.request_rewrites(request_id) == []
    assert "Ski week" in json.dumps(office.message(request_id).blocks)
    assert refusals(office.said_to(ALICE)) == []


def test_a_note_only_edit_replaces_the_note_and_keeps_the_dates(client, fake_slack, clock):
    office = Office(client, fake_slack, clock)
    request_id = office.ask(note="Ski week")

    office.edit(request_id, "vacation", MONDAY, WEDNESDAY, note="Ski week; reachable by phone")
    office.run()

    shown = json.dumps(office.message(request_id).blocks)
    assert "reachable by phone" in shown, shown
    payload = office.payload(request_id)
    assert (payload["start"], payload["end"], payload["status"]) == (MONDAY.isoformat(), WEDNESDAY.isoformat(),
                                                                      "pending")
    assert len(office.thread(request_id)) <= 1


# --- Into a type that needs no approval, or a private one -------------------------------------------


def test_an_edit_into_sick_leave_is_recorded_announced_without_type_or_note_and_old_buttons_decide_nothing(
        client, fake_slack, clock):
    office = Office(client, fake_slack, clock)
    request_id = office.ask(note="Ski week")
    message = office.message(request_id)
    old_value = buttons_in(message.blocks)[ids.APPROVE_ACTION][1]

    office.edit(request_id, "sick", MONDAY, WEDNESDAY, note="Fever since Sunday")
    office.run()

    payload = office.payload(request_id)
    assert (payload["status"], payload["type"]) == ("approved", "sick"), payload
    assert buttons_in(office.message(request_id).blocks) == {}
    [announcement] = office.team_channel()
    assert f"<@{ALICE}>" in announcement
    for private in ("Sick", "sick", "thermometer", "Fever"):
        assert private not in announcement, announcement
    [reply] = office.thread(request_id)
    assert "recorded as approved" in reply and f"<@{BOB}>" not in reply and f"<@{DAVE}>" not in reply, reply
    receipt = office.receipt(request_id)
    assert set(buttons_in(receipt.blocks)) == {ids.CANCEL_ACTION}, receipt.blocks
    assert "25 days left" in office.balance_line() and "pending 0" in office.balance_line()

    fake_slack.clear_calls()
    office.click_on_request(BOB, ids.APPROVE_ACTION, old_value, message.ts)
    office.click_on_request(DAVE, ids.REJECT_ACTION, old_value, message.ts)
    office.run()

    assert office.payload(request_id)["status"] == "approved"
    assert office.request_rewrites(request_id) == [] and office.team_channel() == []
    assert fake_slack.calls("views.open") == []  # no reason form for a request with nothing to decide
    told = office.said_to(BOB) + office.said_to(DAVE)
    assert told and all("already approved" in t and "nothing to decide" in t for t in told), told


def test_an_edit_into_a_private_type_is_named_to_approvers_but_never_in_the_team_channel(client, fake_slack, clock):
    office = Office(client, fake_slack, clock)
    request_id = office.ask(note="Ski week")

    office.edit(request_id, "medical", MONDAY, WEDNESDAY, note="Knee surgery follow-up")
    office.run()
    assert office.team_channel() == []  # pending: nothing for the team yet
    assert "Medical appointment" in json.dumps(office.message(request_id).blocks)
    assert "Medical appointment" in office.thread(request_id)[0]
    message = office.message(request_id)
    office.click_on_request(BOB, ids.APPROVE_ACTION, buttons_in(message.blocks)[ids.APPROVE_ACTION][1], message.ts)
    office.run()

    assert office.payload(request_id)["status"] == "approved"
    [announcement] = office.team_channel()
    for private in ("Medical", "medical", "hospital", "Knee", "surgery"):
        assert private not in announcement, announcement
    assert "Medical appointment" in office.receipt(request_id).text  # her own DM may name it


# --- Across the year end ----------------------------------------------------------------------------


def test_an_edit_into_the_new_year_charges_each_year_its_days_and_back_again(client, fake_slack, clock):
    office = Office(client, fake_slack, clock)
    request_id = office.ask(start=DECEMBER_MONDAY, end=DECEMBER_WEDNESDAY)
    assert "pending 3" in office.balance_line(2031)

    office.edit(request_id, "vacation", LAST_MONDAY, NEW_YEAR_FRIDAY)
    office.run()

    payload = office.payload(request_id)
    assert float(payload["days"]) == 4.0, payload  # 29, 30, 31 December and 2 January
    assert {year: float(days) for year, days in (payload.get("days_by_year") or {}).items()} == {
        "2031": 3.0, "2032": 1.0}, payload
    assert "pending 3" in office.balance_line(2031)
    assert "pending 1" in office.balance_line(2032)
    [reply] = office.thread(request_id)
    assert "2032" in reply and "Mon 15 Dec" in reply.split("(was ", 1)[1], reply

    office.edit(request_id, "vacation", LAST_MONDAY, date(2031, 12, 31))
    office.run()

    payload = office.payload(request_id)
    assert float(payload["days"]) == 3.0 and not payload.get("days_by_year"), payload
    assert "pending 3" in office.balance_line(2031)
    assert "pending 0" in office.balance_line(2032)


def test_an_edit_into_the_new_year_past_next_years_allowance_is_refused_in_the_form(client, fake_slack, clock):
    config = standard_config(leave_types=(replace(VACATION, annual_allowance_days=Decimal(3)), SICK, MEDICAL))
    office = Office(client, fake_slack, clock, config)
    request_id = office.ask(start=DECEMBER_MONDAY, end=DECEMBER_WEDNESDAY)

    # 29 December to 6 January: 3 days in 2031 (in place of the 3 she had) and 3 in 2032, each within its 3.
    fits = office.edit(request_id, "vacation", LAST_MONDAY, date(2032, 1, 6))
    assert fits.content == b"", fits.json()
    office.run()
    assert office.payload(request_id)["end"] == "2032-01-06"

    # To 7 January: 4 days in 2032.
    over = office.edit(request_id, "vacation", LAST_MONDAY, date(2032, 1, 7))

    answer = over.json()
    assert answer["response_action"] == "errors", answer
    assert "2032" in json.dumps(answer["errors"]), answer
    office.run()
    assert office.payload(request_id)["end"] == "2032-01-06"


# --- The same form twice, and forms gone stale ---------------------------------------------------------


@pytest.mark.parametrize("retry_arrives", ["before its task ran", "after its task ran"])
def test_an_edit_form_slack_delivers_twice_is_written_and_told_once(client, fake_slack, clock, retry_arrives):
    office = Office(client, fake_slack, clock)
    request_id = office.ask()
    form = office.edit_form(request_id)
    fake_slack.clear_calls()

    first = office.send_form(ALICE, form, "vacation", MONDAY, FRIDAY, view_id="V_TWICE", view_hash="1766.twice")
    if retry_arrives == "after its task ran":
        office.run()
    second = office.send_form(ALICE, form, "vacation", MONDAY, FRIDAY, view_id="V_TWICE", view_hash="1766.twice")
    office.run()

    assert first.content == b""
    assert second.status_code == 200 and b"errors" not in second.content, second.content
    assert len(office.request_rewrites(request_id)) == 1
    assert len(edited_replies(office.thread(request_id))) == 1
    assert refusals(office.said_to(ALICE)) == [], office.said_to(ALICE)
    assert office.payload(request_id)["end"] == FRIDAY.isoformat()


def test_an_edit_sent_from_a_form_opened_before_hr_moved_the_dates_does_not_undo_them_unseen(client, fake_slack,
                                                                                            clock):
    # Alice opens the form on Monday to Wednesday and adds a note; meanwhile HR shortens the request to
    # Monday and Tuesday. Her form still holds Wednesday: sending it would quietly put it back.
    office = Office(client, fake_slack, clock)
    request_id = office.ask()
    alices_form = office.edit_form(request_id)
    hr_form = {**alices_form, "private_metadata": json.dumps({"edit": request_id, "user": ALICE})}
    assert office.send_form(HR, hr_form, "vacation", MONDAY, TUESDAY, view_id="V_HR").content == b""
    office.run()
    assert office.payload(request_id)["end"] == TUESDAY.isoformat()

    response = office.send_form(ALICE, alices_form, "vacation", MONDAY, WEDNESDAY, note="Flight at 7")
    office.run()

    # Refused in the form ("it changed since you opened this form"), or by DM: either way HR's dates stand.
    assert office.payload(request_id)["end"] == TUESDAY.isoformat(), (response.content, office.said_to(ALICE))
    assert len(edited_replies(office.thread(request_id))) == 0, office.thread(request_id)


def test_an_edit_queued_behind_a_withdrawal_from_another_device_changes_nothing_and_says_why(client, fake_slack,
                                                                                            clock):
    office = Office(client, fake_slack, clock)
    request_id = office.ask()
    form = office.edit_form(request_id)  # on her laptop
    office.press_receipt(request_id, ids.WITHDRAW_ACTION)  # on her phone; its task waits
    response = office.send_form(ALICE, form, "vacation", MONDAY, FRIDAY)
    assert response.content == b""  # the form could not know yet

    office.run()

    payload = office.payload(request_id)
    assert (payload["status"], payload["end"]) == ("cancelled", WEDNESDAY.isoformat()), payload
    assert edited_replies(office.thread(request_id)) == [], office.thread(request_id)
    [refusal] = refusals(office.said_to(ALICE))
    assert refusal.startswith("I couldn't change that request") and "cancelled" in refusal, refusal
    receipt = office.receipt(request_id)
    assert buttons_in(receipt.blocks) == {} and "Fri 14 Mar" not in receipt.text, receipt.text


def test_an_edit_queued_behind_a_rejection_changes_nothing_and_alice_hears_the_reason(client, fake_slack, clock):
    office = Office(client, fake_slack, clock)
    request_id = office.ask()
    form = office.edit_form(request_id)
    message = office.message(request_id)
    office.click_on_request(BOB, ids.REJECT_ACTION, buttons_in(message.blocks)[ids.REJECT_ACTION][1], message.ts)
    reason_form = fake_slack.last_call("views.open").params["view"]
    reason_form = json.loads(reason_form) if isinstance(reason_form, str) else reason_form
    values = {ids.REASON_BLOCK: {ids.REASON_ACTION: {"type": "plain_text_input", "value": "Release week"}}}
    post_interaction(client, view_submission_payload(user_id=BOB, view=reason_form, values=values,
                                                     view_id="V_REJECT"))
    response = office.send_form(ALICE, form, "vacation", MONDAY, FRIDAY)
    assert response.content == b""

    office.run()

    payload = office.payload(request_id)
    assert (payload["status"], payload["end"], payload["reason"]) == ("rejected", WEDNESDAY.isoformat(),
                                                                       "Release week"), payload
    assert edited_replies(office.thread(request_id)) == []
    assert [t for t in office.said_to(ALICE) if "rejected" in t and "couldn't" in t]
    assert "Release week" in office.receipt(request_id).text


# --- Slack made the rewrite but lost its answer ------------------------------------------------------


def test_an_edit_whose_rewrite_answer_slack_lost_narrates_the_old_dates_once_and_tells_alice_nothing_false(
        client, fake_slack, clock):
    office = Office(client, fake_slack, clock)
    request_id = office.ask()

    office.edit(request_id, "vacation", MONDAY, FRIDAY)
    with failing(fake_slack, rewrite_of_request, "answer_lost", times=4) as met:
        office.run()

    assert len(met) == 4  # the client's own retries all made it too: the task's next attempt reads it done
    payload = office.payload(request_id)
    assert (payload["status"], payload["end"]) == ("pending", FRIDAY.isoformat()), payload
    [reply] = edited_replies(office.thread(request_id))
    was = reply.split("(was ", 1)[1]
    assert "Wed 12 Mar" in was and "Fri 14 Mar" not in was, reply
    assert refusals(office.said_to(ALICE)) == [], office.said_to(ALICE)
    assert "Fri 14 Mar" in office.receipt(request_id).text
    assert "pending 5" in office.balance_line()


def test_an_edit_into_sick_leave_whose_rewrite_answer_slack_lost_is_still_announced_and_not_refused(
        client, fake_slack, clock):
    office = Office(client, fake_slack, clock)
    request_id = office.ask()

    office.edit(request_id, "sick", MONDAY, WEDNESDAY)
    with failing(fake_slack, rewrite_of_request, "answer_lost", times=4) as met:
        office.run()

    assert len(met) == 4
    assert (office.payload(request_id)["status"], office.payload(request_id)["type"]) == ("approved", "sick")
    problems = []
    said = office.said_to(ALICE)
    if [t for t in said if "couldn't" in t or "already approved" in t]:
        problems.append(f"Alice was told her edit failed: {said}")
    if len(office.team_channel()) != 1:
        problems.append(f"announced {len(office.team_channel())} times")
    if len([t for t in office.thread(request_id) if "recorded as approved" in t]) != 1:
        problems.append(f"thread: {office.thread(request_id)}")
    if set(buttons_in(office.receipt(request_id).blocks)) != {ids.CANCEL_ACTION}:
        problems.append(f"receipt still reads: {office.receipt(request_id).text}")
    assert not problems, "\n".join(problems)


def test_an_edit_up_to_the_whole_allowance_whose_answer_slack_lost_is_not_judged_against_itself(
        client, fake_slack, clock):
    config = standard_config(leave_types=(replace(VACATION, annual_allowance_days=Decimal(5),
                                                  max_consecutive_days=5), SICK, MEDICAL))
    office = Office(client, fake_slack, clock, config)
    request_id = office.ask()

    office.edit(request_id, "vacation", MONDAY, FRIDAY)
    with failing(fake_slack, rewrite_of_request, "answer_lost", times=4) as met:
        office.run()

    assert len(met) == 4
    assert office.payload(request_id)["end"] == FRIDAY.isoformat()
    said = office.said_to(ALICE)
    assert refusals(said) == [], said
    assert len(edited_replies(office.thread(request_id))) == 1, office.thread(request_id)
    assert "0 days left" in office.balance_line() or "pending 5" in office.balance_line()


# --- HR changed the configuration meanwhile -------------------------------------------------------------


def test_an_edit_whose_leave_type_hr_deleted_before_its_task_ran_changes_nothing_and_says_so(client, fake_slack,
                                                                                            clock):
    office = Office(client, fake_slack, clock)
    request_id = office.ask()
    assert office.edit(request_id, "medical", MONDAY, FRIDAY).content == b""
    install_config(standard_config(leave_types=(VACATION, SICK)))  # HR deletes Medical appointment

    office.run()

    payload = office.payload(request_id)
    assert (payload["type"], payload["end"], payload["status"]) == ("vacation", WEDNESDAY.isoformat(), "pending")
    assert office.thread(request_id) == []
    [refusal] = refusals(office.said_to(ALICE))
    assert "no longer" in refusal, refusal
    assert "Fri 14 Mar" not in office.receipt(request_id).text


def test_an_edit_form_choosing_a_type_hr_deleted_meanwhile_names_it_in_the_form(client, fake_slack, clock):
    office = Office(client, fake_slack, clock)
    request_id = office.ask()
    form = office.edit_form(request_id)
    install_config(standard_config(leave_types=(VACATION, SICK)))

    values = request_values("medical", MONDAY, WEDNESDAY)
    [option] = [o for o in next(b for b in form["blocks"] if b.get("block_id") == ids.TYPE_BLOCK)["element"]["options"]
                if o["value"] == "medical"]
    values[ids.TYPE_BLOCK][ids.TYPE_ACTION]["selected_option"] = option  # the menu's option, as Slack sends it
    response = post_interaction(client, view_submission_payload(user_id=ALICE, view=form, values=values,
                                                                view_id="V_GONE", view_hash="1766.gone"))

    answer = response.json()
    assert answer["response_action"] == "errors", answer
    assert "Medical appointment is no longer offered: choose another leave type" in answer["errors"][ids.TYPE_BLOCK]
    office.run()
    assert office.payload(request_id)["type"] == "vacation" and office.thread(request_id) == []


def test_an_edit_over_an_allowance_hr_lowered_after_the_form_was_sent_is_refused_with_the_reason(client, fake_slack,
                                                                                                clock):
    office = Office(client, fake_slack, clock)
    request_id = office.ask()
    assert office.edit(request_id, "vacation", MONDAY, FRIDAY).content == b""  # 5 of 25: fine when sent
    install_config(standard_config(leave_types=(replace(VACATION, annual_allowance_days=Decimal(4)), SICK, MEDICAL)))

    office.run()

    assert office.payload(request_id)["end"] == WEDNESDAY.isoformat()
    assert office.thread(request_id) == []
    [refusal] = refusals(office.said_to(ALICE))
    assert "4" in refusal and "unchanged" in refusal, refusal
    assert "pending 3" in office.balance_line()


def test_shortening_a_request_over_an_allowance_hr_lowered_since_is_accepted(client, fake_slack, clock):
    office = Office(client, fake_slack, clock)
    request_id = office.ask(end=FRIDAY)
    install_config(standard_config(leave_types=(replace(VACATION, annual_allowance_days=Decimal(3)), SICK, MEDICAL)))

    too_long = office.edit(request_id, "vacation", MONDAY, THURSDAY)
    assert too_long.json()["response_action"] == "errors"
    fits = office.edit(request_id, "vacation", MONDAY, WEDNESDAY)
    assert fits.content == b"", fits.json()
    office.run()

    assert office.payload(request_id)["end"] == WEDNESDAY.isoformat()
    assert len(edited_replies(office.thread(request_id))) == 1


# --- Text people typed, and what the approvers see ---------------------------------------------------------


HOSTILE_NOTE = "<!channel> ask <@U_DAVE> & see <https://evil.example|the plan> *now*"


def test_a_hostile_note_in_an_edit_stays_inert_and_survives_a_later_dates_only_edit(client, fake_slack, clock):
    office = Office(client, fake_slack, clock)
    request_id = office.ask(note="Ski week")

    office.edit(request_id, "vacation", MONDAY, THURSDAY, note=HOSTILE_NOTE)
    office.run()
    first_shown = json.dumps(office.message(request_id).blocks)
    office.edit(request_id, "vacation", MONDAY, FRIDAY)  # no new note: it stays
    office.run()

    for shown in (first_shown, json.dumps(office.message(request_id).blocks)):
        assert "&lt;!channel&gt;" in shown and "&amp; see" in shown, shown
        assert "<!channel>" not in shown and "ask <@U_DAVE>" not in shown and "<https://evil" not in shown, shown
        assert "&amp;amp;" not in shown and "&amp;lt;" not in shown, shown  # escaped once, not twice
    thread = office.thread(request_id)
    assert len(edited_replies(thread)) == 2, thread
    for reply in thread:
        assert "<!channel>" not in reply and "evil" not in reply and "ask <@U_DAVE>" not in reply, reply
    message_text = office.message(request_id).text
    assert "<!channel>" not in message_text and "ask <@U_DAVE>" not in message_text, message_text


def test_an_edit_into_a_type_with_a_hostile_name_narrates_it_escaped(client, fake_slack, clock):
    odd = LeaveTypeConfig(code="offsite", name="<!here> Offsite & <@U_DAVE>", emoji=":tent:", requires_approval=True)
    office = Office(client, fake_slack, clock, standard_config(leave_types=(VACATION, SICK, MEDICAL, odd)))
    request_id = office.ask()

    office.edit(request_id, "offsite", MONDAY, WEDNESDAY)
    office.run()

    [reply] = office.thread(request_id)
    assert "&lt;!here&gt; Offsite &amp; &lt;@U_DAVE&gt;" in reply, reply
    assert "<!here>" not in reply and "& <@U_DAVE>" not in reply, reply


def test_the_approvers_app_home_shows_the_edit_and_its_old_approve_button_says_what_it_is_now(client, fake_slack,
                                                                                             clock):
    office = Office(client, fake_slack, clock)
    request_id = office.ask()
    old_home = office.open_home(BOB, "Ev_BOB_HOME_1")
    assert "Wed 12 Mar" in json.dumps(old_home)

    office.edit(request_id, "medical", MONDAY, WEDNESDAY)  # the same dates, another type
    office.run()

    new_home = office.home(BOB)
    assert new_home != old_home and "Medical appointment" in json.dumps(new_home), "Bob's App Home was not redrawn"
    fake_slack.clear_calls()
    block_id, value = buttons_in(old_home["blocks"])[ids.APPROVE_ACTION]
    post_interaction(client, view_block_actions_payload(user_id=BOB, action_id=ids.APPROVE_ACTION, value=value,
                                                        block_id=block_id, view=old_home))
    office.run()

    assert office.payload(request_id)["status"] == "pending"
    assert office.request_rewrites(request_id) == [] and office.team_channel() == []
    [told] = office.said_to(BOB)
    assert told.startswith("This request changed after you saw it: it is now :hospital: Medical appointment"), told
    assert not [t for t in office.said_to(ALICE) if "approved" in t]

    block_id, value = buttons_in(new_home["blocks"])[ids.APPROVE_ACTION]
    post_interaction(client, view_block_actions_payload(user_id=BOB, action_id=ids.APPROVE_ACTION, value=value,
                                                        block_id=block_id, view=new_home))
    office.run()
    assert office.payload(request_id)["status"] == "approved"


def test_a_teammate_is_not_told_of_an_edit_and_approvers_are_told_once_per_edit(client, fake_slack, clock):
    office = Office(client, fake_slack, clock)
    request_id = office.ask()
    fake_slack.clear_calls()

    office.edit(request_id, "vacation", TUESDAY, THURSDAY)
    office.run()
    office.edit(request_id, "vacation", MONDAY, WEDNESDAY)  # back to what it was first
    office.run()

    thread = office.thread(request_id)
    assert len(edited_replies(thread)) == 2, thread
    assert "Tue 11 Mar" in thread[1].split("(was ", 1)[1], thread  # the second "was" is the first edit
    assert office.team_channel() == []
    assert office.said_to(BOB) == [] and office.said_to(DAVE) == []
    assert len(office.request_rewrites(request_id)) == 2
    assert not [c for c in fake_slack.calls("chat.postMessage") if c.params.get("channel") == C_GENERAL]


# --- More edges ------------------------------------------------------------------------------------------


def test_a_one_day_edit_with_both_halves_ticked_is_refused_in_the_form(client, fake_slack, clock):
    office = Office(client, fake_slack, clock)
    request_id = office.ask()

    response = office.edit(request_id, "vacation", TUESDAY, TUESDAY, halves=(ids.HALF_START_PM, ids.HALF_END_AM))

    answer = response.json()
    assert answer["response_action"] == "errors" and ids.HALF_BLOCK in answer["errors"], answer
    office.run()
    assert office.payload(request_id)["end"] == WEDNESDAY.isoformat() and office.thread(request_id) == []


def test_an_edit_whose_rewrite_slack_rate_limited_is_written_after_retry_after_and_narrated_once(client, fake_slack,
                                                                                                clock):
    office = Office(client, fake_slack, clock)
    request_id = office.ask()
    office.edit(request_id, "vacation", MONDAY, FRIDAY)

    with failing(fake_slack, rewrite_of_request, "rate_limited_429", times=1) as met:
        office.run()

    assert len(met) == 1
    assert office.payload(request_id)["end"] == FRIDAY.isoformat()
    [reply] = office.thread(request_id)
    assert "Wed 12 Mar" in reply.split("(was ", 1)[1], reply
    assert refusals(office.said_to(ALICE)) == [], office.said_to(ALICE)
    assert "Fri 14 Mar" in office.receipt(request_id).text


def test_an_edit_onto_her_other_request_sent_on_a_cold_cache_is_refused_by_dm_and_changes_nothing(client,
                                                                                                 fake_slack, clock):
    from django.core.cache import cache

    office = Office(client, fake_slack, clock)
    first = office.ask(start=MONDAY, end=TUESDAY)
    office.ask(start=THURSDAY, end=FRIDAY, note="Long weekend")
    form = office.edit_form(first)
    cache.clear()  # a flushed cache: the form cannot see her other request

    response = office.send_form(ALICE, form, "vacation", MONDAY, FRIDAY)
    office.run()

    if response.content:  # checked in the form after all
        assert "overlap" in json.dumps(response.json()).lower(), response.content
    else:
        [refusal] = refusals(office.said_to(ALICE))
        assert "overlap" in refusal.lower() and "unchanged" in refusal, refusal
    assert office.payload(first)["end"] == TUESDAY.isoformat()
    assert edited_replies(office.thread(first)) == []
