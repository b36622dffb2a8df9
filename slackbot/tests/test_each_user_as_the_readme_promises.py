"""README's "How it works, for each kind of user", as employees, approvers and HR live it in Slack.

Each test follows a realistic sequence (someone edits while an approver still looks at the old message, HR
acts for someone, a half day, a private leave type, a stale button) and checks a concrete promise of that
section: what each person is told, in which words, where, and what is refused. Everything goes through
signed, Slack-shaped requests; what people see is read off the fake Slack's wire.
"""

import json
import time
from dataclasses import replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from approvals import block_ids as ids
from approvals.rules import APPROVED, CANCELLED, PENDING, REJECTED, LedgerEntry
from fake_slack.ledger_seed import seed_ledger
from fake_slack.personas import C_ENG, C_ENG_APPROVALS, C_GENERAL
from test_support.flows import (
    ALICE,
    BOB,
    DAVE,
    HR,
    MONDAY,
    WEDNESDAY,
    buttons_in,
    click,
    dms_to,
    ephemerals_to,
    install_config,
    open_app_home,
    open_request_form,
    posted_requests,
    press,
    reject_in_the_channel,
    request_time_off,
    request_values,
    standard_config,
)
from test_support.slack_requests import (
    block_actions_payload,
    post_command,
    post_interaction,
    view_block_actions_payload,
    view_submission_payload,
)
from test_support.posted import posts_to, receipt_call, receipt_now, thread_replies

pytestmark = pytest.mark.django_db

LA = ZoneInfo("America/Los_Angeles")
TUESDAY = MONDAY + timedelta(days=1)
THURSDAY = MONDAY + timedelta(days=3)
FRIDAY = MONDAY + timedelta(days=4)


# --- What the tests read -----------------------------------------------------------------------------


def as_dict(view) -> dict:
    return json.loads(view) if isinstance(view, str) else view


def command(client, user, text):
    response = post_command(client, text, user_id=user)
    assert response.status_code == 200, response.content
    return response


def answer(client, user, text) -> dict:
    """`/timeoff text` asked twice: the second is answered with the person's team, zone and ledger warm."""
    command(client, user, text)
    return command(client, user, text).json()


def opened_form(fake_slack) -> dict:
    return as_dict(fake_slack.last_call("views.open").params["view"])


def submit_form(client, user, form, values, *, view_id):
    response = post_interaction(client, view_submission_payload(user_id=user, view=form, values=values,
                                                                view_id=view_id, view_hash=f"{view_id}.h"))
    assert response.status_code == 200, response.content
    return response


def the_requests(fake_slack, channel=C_ENG_APPROVALS) -> list:
    return [m for m in fake_slack.workspace.messages(channel)
            if m.metadata and m.metadata.get("event_type") == "timeoff_request"]


def the_request(fake_slack, channel=C_ENG_APPROVALS):
    [message] = the_requests(fake_slack, channel)
    return message


def status_of(fake_slack, channel=C_ENG_APPROVALS) -> dict:
    return the_request(fake_slack, channel).metadata["event_payload"]


def press_on_receipt(client, fake_slack, user, action_id):
    _, blocks = receipt_now(fake_slack, user)
    return press(client, user, blocks, action_id, channel=receipt_call(fake_slack, user).response["channel"],
                 ts=receipt_call(fake_slack, user).response["ts"])


def request_message_now(fake_slack):
    """The request message's blocks as the approvers' client shows them now."""
    return the_request(fake_slack).blocks


def click_message_as_it_is_now(client, fake_slack, user, action_id):
    """Press Approve or Reject on the request message as it reads now (the approver's client redrawn)."""
    message = the_request(fake_slack)
    block_id, value = buttons_in(message.blocks)[action_id]
    payload = block_actions_payload(user_id=user, action_id=action_id, value=value, block_id=block_id,
                                    channel_id=C_ENG_APPROVALS, message_ts=message.ts)
    response = post_interaction(client, payload)
    assert response.status_code == 200, response.content
    return response


def list_press(client, user, blocks, action_id, *, action_ts: float, channel=C_GENERAL):
    """A press of a button on the ephemeral `/timeoff list` answer, at Slack's `action_ts`."""
    block_id, value = buttons_in(blocks)[action_id]
    payload = block_actions_payload(user_id=user, action_id=action_id, value=value, block_id=block_id,
                                    channel_id=channel, message_ts="1766000000.000500")
    payload["container"]["is_ephemeral"] = True
    payload.pop("message")
    payload["actions"][0]["action_ts"] = f"{action_ts:.6f}"
    response = post_interaction(client, payload)
    assert response.status_code == 200, response.content
    return response


def vacation_line(client, user=ALICE, year=MONDAY.year) -> str:
    text = answer(client, user, f"balance {year}")["text"]
    [line] = [line for line in text.splitlines() if "Vacation" in line]
    return line


def alices_today() -> date:
    return datetime.now(LA).date()


def last_weekday_before(day: date) -> date:
    """The last working day before `day` in Engineering (California's public holidays are days off)."""
    import holidays

    days_off = holidays.country_holidays("US", subdiv="CA", years=(day.year - 1, day.year))
    day -= timedelta(days=1)
    while day.weekday() >= 5 or day in days_off:
        day -= timedelta(days=1)
    return day


# --- Employees: edits --------------------------------------------------------------------------------


def test_an_edit_form_sent_as_it_opened_rewrites_nothing_and_calls_on_nobody(client, fake_slack):
    """"A form sent as it opened (nothing changed, no new note) rewrites nothing and calls on nobody.\""""
    install_config()
    request_time_off(client, fake_slack, ALICE, note="Family visit")
    press_on_receipt(client, fake_slack, ALICE, ids.EDIT_ACTION)
    form = opened_form(fake_slack)
    fake_slack.clear_calls()

    sent = submit_form(client, ALICE, form, request_values("vacation", MONDAY, WEDNESDAY), view_id="V_SAME")

    assert sent.content == b"", sent.content
    assert fake_slack.calls("chat.update") == []
    assert thread_replies(fake_slack) == []
    assert dms_to(fake_slack, ALICE) == [] and ephemerals_to(fake_slack, ALICE) == []
    assert status_of(fake_slack)["status"] == PENDING
    assert "Family visit" in json.dumps(request_message_now(fake_slack))


def test_a_request_edited_into_sick_leave_is_recorded_at_once_without_calling_on_the_approvers(client, fake_slack):
    """"A pending request edited into a leave type that needs no approval is recorded as approved at once and
    announced …; the thread says so without calling on the approvers"; announced "without the leave type for
    private types"; "Reject or Approve pressed on a request since edited into a type that needs no approval
    says it is already approved and there is nothing to decide"."""
    install_config()
    request_time_off(client, fake_slack, ALICE, "vacation", MONDAY, WEDNESDAY)
    [posted] = posted_requests(fake_slack)  # the buttons Bob's client still shows
    press_on_receipt(client, fake_slack, ALICE, ids.EDIT_ACTION)
    form = opened_form(fake_slack)
    replies_before = len(thread_replies(fake_slack))

    submit_form(client, ALICE, form, request_values("sick", MONDAY, TUESDAY), view_id="V_SICK")

    status = status_of(fake_slack)
    assert (status["status"], status["type"], status["end"]) == (APPROVED, "sick", TUESDAY.isoformat())
    [reply] = thread_replies(fake_slack)[replies_before:]
    assert "recorded as approved" in reply, reply
    assert f"<@{BOB}>" not in reply and f"<@{DAVE}>" not in reply, reply
    [announcement] = posts_to(fake_slack, C_ENG)
    assert f"<@{ALICE}> will be out" in announcement, announcement
    assert "Sick" not in announcement and "thermometer" not in announcement, announcement
    text, blocks = receipt_now(fake_slack)
    assert "needs no approval" in text, text
    assert set(buttons_in(blocks)) == {ids.CANCEL_ACTION}
    fake_slack.clear_calls()

    click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted)

    [told] = ephemerals_to(fake_slack, BOB)
    assert "nothing to decide" in told, told
    assert status_of(fake_slack)["status"] == APPROVED and not status_of(fake_slack).get("decided_by")
    assert dms_to(fake_slack, ALICE) == [] and thread_replies(fake_slack) == []


def test_a_form_opened_before_hr_changed_the_request_is_refused_and_bobs_old_approve_approves_nothing(
        client, fake_slack):
    """"A form opened before someone else (HR) changed the request is refused when sent ("Someone else changed
    this request after you opened this form …")"; the person is told HR changed it; an approver's Approve on
    the message as it was before "approves nothing and tells them what it is now"."""
    install_config()
    request_time_off(client, fake_slack, ALICE, "vacation", MONDAY, WEDNESDAY)
    [posted] = posted_requests(fake_slack)
    press_on_receipt(client, fake_slack, ALICE, ids.EDIT_ACTION)
    alices_form = opened_form(fake_slack)

    hrs_list = answer(client, HR, f"for <@{ALICE}|alice> list")["blocks"]
    press(client, HR, hrs_list, ids.EDIT_ACTION, channel=C_GENERAL, on_list=True)
    hr_sent = submit_form(client, HR, opened_form(fake_slack), request_values("vacation", MONDAY, TUESDAY),
                          view_id="V_HR_EDIT")
    assert hr_sent.content == b"", hr_sent.content
    assert status_of(fake_slack)["end"] == TUESDAY.isoformat()
    assert any("changed your time off" in dm for dm in dms_to(fake_slack, ALICE)), dms_to(fake_slack, ALICE)

    refused = submit_form(client, ALICE, alices_form, request_values("vacation", MONDAY, FRIDAY), view_id="V_OLD")

    body = refused.json()
    assert body["response_action"] == "errors", body
    assert "Someone else changed this request after you opened this form" in json.dumps(body), body
    assert status_of(fake_slack)["end"] == TUESDAY.isoformat()
    fake_slack.clear_calls()

    click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted)

    assert status_of(fake_slack)["status"] == PENDING
    [told] = ephemerals_to(fake_slack, BOB)
    assert "changed after you saw it" in told and "Tue 11" in told, told

    click_message_as_it_is_now(client, fake_slack, BOB, ids.APPROVE_ACTION)
    assert (status_of(fake_slack)["status"], status_of(fake_slack)["end"]) == (APPROVED, TUESDAY.isoformat())


def test_two_edit_forms_of_ones_own_may_each_be_sent_and_the_last_one_stands(client, fake_slack):
    """"two tabs of your own may each be sent, the last one standing"; each edit is told in the thread."""
    install_config()
    request_time_off(client, fake_slack, ALICE, "vacation", MONDAY, WEDNESDAY)
    press_on_receipt(client, fake_slack, ALICE, ids.EDIT_ACTION)
    first_tab = opened_form(fake_slack)
    press_on_receipt(client, fake_slack, ALICE, ids.EDIT_ACTION)
    second_tab = opened_form(fake_slack)
    fake_slack.clear_calls()

    assert submit_form(client, ALICE, first_tab, request_values("vacation", MONDAY, TUESDAY),
                       view_id="V_TAB1").content == b""
    assert submit_form(client, ALICE, second_tab, request_values("vacation", THURSDAY, FRIDAY),
                       view_id="V_TAB2").content == b""

    status = status_of(fake_slack)
    assert (status["start"], status["end"], status["status"]) == (THURSDAY.isoformat(), FRIDAY.isoformat(), PENDING)
    replies = thread_replies(fake_slack)
    assert len(replies) == 2 and all(r.startswith(f"Edited by <@{ALICE}>") for r in replies), replies
    assert not [dm for dm in dms_to(fake_slack, ALICE) if "couldn't" in dm]


def test_an_edit_to_a_half_day_rewrites_the_receipt_in_place_and_the_thread_says_what_it_was(client, fake_slack):
    """"the request message and its metadata are rewritten in place …, the approvers are told in its thread …
    and the receipt is updated"; a half day counts 0.5."""
    install_config()
    request_time_off(client, fake_slack, ALICE, "vacation", MONDAY, WEDNESDAY)
    receipt = receipt_call(fake_slack)
    press_on_receipt(client, fake_slack, ALICE, ids.EDIT_ACTION)
    form = opened_form(fake_slack)

    submit_form(client, ALICE, form,
                request_values("vacation", MONDAY, WEDNESDAY, halves=(ids.HALF_END_AM,)), view_id="V_HALF")

    status = status_of(fake_slack)
    assert (status["end_half"], Decimal(str(status["days"]))) == ("am", Decimal("2.5"))
    [reply] = thread_replies(fake_slack)
    assert "ends at noon" in reply and "2.5 working days" in reply and "(was " in reply, reply
    assert f"<@{BOB}>" in reply, reply
    # The receipt Alice has is the one rewritten: no second receipt in her DM.
    assert len([c for c in fake_slack.calls("chat.postMessage")
                if c.params.get("channel") == ALICE and buttons_in(c.params.get("blocks"))]) == 1
    assert receipt_call(fake_slack).response["ts"] == receipt.response["ts"]
    text, blocks = receipt_now(fake_slack)
    assert "2.5 working days" in text and "ends at noon" in text, text
    assert set(buttons_in(blocks)) == {ids.EDIT_ACTION, ids.WITHDRAW_ACTION}
    assert "pending 2.5" in vacation_line(client)


# --- Approvers ---------------------------------------------------------------------------------------


def test_an_approver_clicking_a_request_another_already_approved_is_told_who_and_nothing_more_happens(
        client, fake_slack):
    """"Clicking a request someone already decided changes nothing and says who did"; a stale *Reject* "says
    so instead of opening a form"."""
    install_config()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted)
    assert status_of(fake_slack)["status"] == APPROVED
    fake_slack.clear_calls()

    click(client, fake_slack, DAVE, ids.APPROVE_ACTION, posted)
    click(client, fake_slack, DAVE, ids.REJECT_ACTION, posted)

    told = ephemerals_to(fake_slack, DAVE) + dms_to(fake_slack, DAVE)
    assert len(told) == 2 and all(f"already approved by <@{BOB}>" in t for t in told), told
    assert fake_slack.calls("views.open") == []
    status = status_of(fake_slack)
    assert (status["status"], status["decided_by"]) == (APPROVED, BOB)
    assert fake_slack.calls("chat.update") == []
    assert dms_to(fake_slack, ALICE) == [] and posts_to(fake_slack, C_ENG) == []


def test_a_rejection_reaches_the_requester_with_its_reason_and_leaves_the_team_channel_alone(client, fake_slack):
    """"The decision arrives as a DM, with the reason for a rejection"; the message loses its buttons; the
    thread narrates it; `/timeoff cancel` "shows only what you can still change"."""
    install_config()
    request_time_off(client, fake_slack, ALICE, "vacation", MONDAY, WEDNESDAY)
    [posted] = posted_requests(fake_slack)

    reject_in_the_channel(client, fake_slack, BOB, posted, "Release week, sorry")

    status = status_of(fake_slack)
    assert (status["status"], status["decided_by"], status["reason"]) == (REJECTED, BOB, "Release week, sorry")
    assert buttons_in(request_message_now(fake_slack)) == {}
    decision_dms = [dm for dm in dms_to(fake_slack, ALICE) if "rejected your" in dm]
    assert len(decision_dms) == 1 and "Release week, sorry" in decision_dms[0], dms_to(fake_slack, ALICE)
    [reply] = thread_replies(fake_slack)
    assert reply == f"Rejected by <@{BOB}>: Release week, sorry", reply
    assert posts_to(fake_slack, C_ENG) == []
    assert "taken 0, pending 0" in vacation_line(client)
    changeable = answer(client, ALICE, "cancel")
    assert buttons_in(changeable.get("blocks")) == {}, changeable
    listed = answer(client, ALICE, "list")
    assert "Rejected" in json.dumps(listed["blocks"]), listed


def test_private_leave_approved_then_cancelled_never_names_its_type_in_the_team_channel(client, fake_slack):
    """Private types "never show their type or note outside the approvals channel and the requester's DM";
    *Cancel leave* "tells the approvers in the thread, posts a correction in the announce channel"."""
    install_config()
    request_time_off(client, fake_slack, ALICE, "medical", THURSDAY, THURSDAY, note="Dentist, root canal")
    [posted] = posted_requests(fake_slack)
    click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted)
    assert status_of(fake_slack)["status"] == APPROVED

    press_on_receipt(client, fake_slack, ALICE, ids.CANCEL_ACTION)

    assert status_of(fake_slack)["status"] == CANCELLED
    team_channel = posts_to(fake_slack, C_ENG)
    assert len(team_channel) == 2, team_channel
    assert "will be out" in team_channel[0] and "will not be out" in team_channel[1], team_channel
    for post in team_channel:
        assert "Medical" not in post and "hospital" not in post and "Dentist" not in post, post
    cancelled = [r for r in thread_replies(fake_slack) if r.startswith(f"Cancelled by <@{ALICE}>")]
    assert len(cancelled) == 1 and f"<@{BOB}>" in cancelled[0], thread_replies(fake_slack)
    text, blocks = receipt_now(fake_slack)
    assert "Cancelled" in text and buttons_in(blocks) == {}, text


def test_app_homes_approve_on_a_request_edited_since_approves_nothing_and_says_so_by_dm(client, fake_slack):
    """App Home's Approve / Reject "behave exactly like the channel's (same lock, same re-read, same
    messages)": one drawn before an edit approves nothing; an answer to a click on App Home comes by DM."""
    install_config()
    open_app_home(client, fake_slack, BOB, "Ev_HOME_BOB_1")
    request_time_off(client, fake_slack, ALICE, "vacation", MONDAY, WEDNESDAY)
    home = open_app_home(client, fake_slack, BOB, "Ev_HOME_BOB_2")
    assert ids.APPROVE_ACTION in buttons_in(home["blocks"]), json.dumps(home)
    press_on_receipt(client, fake_slack, ALICE, ids.EDIT_ACTION)
    submit_form(client, ALICE, opened_form(fake_slack), request_values("vacation", MONDAY, FRIDAY), view_id="V_LONG")
    assert status_of(fake_slack)["end"] == FRIDAY.isoformat()
    fake_slack.clear_calls()

    block_id, value = buttons_in(home["blocks"])[ids.APPROVE_ACTION]
    post_interaction(client, view_block_actions_payload(user_id=BOB, action_id=ids.APPROVE_ACTION, value=value,
                                                        block_id=block_id, view=home))

    assert status_of(fake_slack)["status"] == PENDING
    told = dms_to(fake_slack, BOB)
    assert len(told) == 1 and "changed after you saw it" in told[0] and "Fri 14" in told[0], told


# --- Employees: the list -----------------------------------------------------------------------------


def test_each_press_on_the_list_is_answered_but_a_double_click_only_once(client, fake_slack):
    """"Each press on the list is answered: a second press after the change says it again ("Withdrawn: …"),
    changing nothing more; a double click (two presses within 3 s, by Slack's `action_ts`) is answered once."""
    install_config()
    request_time_off(client, fake_slack, ALICE)
    blocks = answer(client, ALICE, "list")["blocks"]
    fake_slack.clear_calls()
    pressed = time.time()

    list_press(client, ALICE, blocks, ids.WITHDRAW_ACTION, action_ts=pressed)
    list_press(client, ALICE, blocks, ids.WITHDRAW_ACTION, action_ts=pressed + 0.4)  # the double click

    assert status_of(fake_slack)["status"] == CANCELLED
    said = [e for e in ephemerals_to(fake_slack, ALICE) if "Withdrawn" in e]
    assert len(said) == 1, ephemerals_to(fake_slack, ALICE)
    assert "`/timeoff list` shows it now" in said[0], said

    list_press(client, ALICE, blocks, ids.WITHDRAW_ACTION, action_ts=pressed + 20)  # later: said again

    said = [e for e in ephemerals_to(fake_slack, ALICE) if "Withdrawn" in e]
    assert len(said) == 2, ephemerals_to(fake_slack, ALICE)
    assert len([r for r in thread_replies(fake_slack) if r.startswith("Withdrawn by")]) == 1
    assert len(fake_slack.calls("chat.update")) <= 2  # the message and the receipt, once each


def test_a_withdrawn_request_frees_its_dates_for_a_new_request_at_once(client, fake_slack):
    """Overlap with "their own pending or approved leave" is refused, with a message under the field; a
    withdrawn request is no longer either."""
    install_config()
    request_time_off(client, fake_slack, ALICE, "vacation", MONDAY, WEDNESDAY)

    form = open_request_form(client, fake_slack, ALICE)
    overlapping = submit_form(client, ALICE, form, request_values("vacation", TUESDAY, THURSDAY), view_id="V_OVER")
    assert overlapping.json()["response_action"] == "errors", overlapping.content
    assert "overlap" in json.dumps(overlapping.json()).lower(), overlapping.content

    press_on_receipt(client, fake_slack, ALICE, ids.WITHDRAW_ACTION)
    assert status_of(fake_slack)["status"] == CANCELLED

    form = open_request_form(client, fake_slack, ALICE)
    again = submit_form(client, ALICE, form, request_values("vacation", TUESDAY, THURSDAY), view_id="V_AGAIN")
    assert again.content == b"", again.content
    statuses = sorted((m.metadata["event_payload"]["start"], m.metadata["event_payload"]["status"])
                      for m in the_requests(fake_slack))
    assert statuses == [(MONDAY.isoformat(), CANCELLED), (TUESDAY.isoformat(), PENDING)]
    assert "pending 3" in vacation_line(client)


# --- HR on behalf ------------------------------------------------------------------------------------


def hr_records(client, fake_slack, person, leave_type, start, end, *, view_id="V_RECORD", halves=()):
    for _ in range(2):  # the second opens with HR's and the person's team and zone known
        command(client, HR, f"for <@{person}|someone> {start} {end} {leave_type}")
    form = opened_form(fake_slack)
    return submit_form(client, HR, form, request_values(leave_type, start, end, halves=halves), view_id=view_id)


def test_leave_hr_records_is_approved_at_once_announced_and_the_person_is_told_by_dm(client, fake_slack):
    """HR "record leave for someone with `/timeoff for @person …` (the same form; recorded as approved at once
    with `recorded_by` in the metadata, and the person told by DM)"; nobody is asked to approve it."""
    install_config()

    recorded = hr_records(client, fake_slack, ALICE, "vacation", MONDAY, TUESDAY)

    assert recorded.content == b"", recorded.content
    status = status_of(fake_slack)
    assert (status["status"], status["user"], status.get("recorded_by")) == (APPROVED, ALICE, HR)
    assert buttons_in(request_message_now(fake_slack)) == {}
    told = dms_to(fake_slack, ALICE)
    assert len([dm for dm in told if "recorded time off for you" in dm]) == 1, told
    [announcement] = posts_to(fake_slack, C_ENG)
    assert f"<@{ALICE}> will be out" in announcement and "Vacation" in announcement, announcement
    assert not [dm for dm in dms_to(fake_slack, BOB) + dms_to(fake_slack, DAVE)]
    assert "taken 0, pending 0" not in vacation_line(client)


def test_hr_cancelling_recorded_leave_that_has_not_started_tells_the_person_and_corrects_the_team(
        client, fake_slack):
    """HR "see and change someone's leave with `/timeoff for @person list` (… withdrawing or cancelling it tells
    the person)"; not yet started, the correction reads "will not be out … after all"."""
    install_config()
    hr_records(client, fake_slack, ALICE, "vacation", MONDAY, TUESDAY)
    fake_slack.clear_calls()

    blocks = answer(client, HR, f"for <@{ALICE}|alice> cancel")["blocks"]
    [button] = [e for b in blocks if b.get("type") == "actions" for e in b["elements"]
                if e.get("action_id") == ids.CANCEL_ACTION]
    assert button["text"]["text"] == "Cancel leave"
    press(client, HR, blocks, ids.CANCEL_ACTION, channel=C_GENERAL, on_list=True)

    assert status_of(fake_slack)["status"] == CANCELLED
    [correction] = posts_to(fake_slack, C_ENG)
    assert "will not be out" in correction and "after all" in correction, correction
    assert "corrected by HR" not in correction
    assert [dm for dm in dms_to(fake_slack, ALICE) if "changed your time off" in dm], dms_to(fake_slack, ALICE)
    done = [e for e in ephemerals_to(fake_slack, HR) if "Cancelled" in e]
    assert len(done) == 1 and f"<@{ALICE}>'s" in done[0], ephemerals_to(fake_slack, HR)
    assert not ephemerals_to(fake_slack, ALICE)
    assert "taken 0, pending 0" in vacation_line(client)


def test_a_sick_day_hr_recorded_after_it_was_over_and_then_cancels_is_not_told_to_the_team(client, fake_slack):
    """"leave recorded after it is over is not announced ("will be out" would be untrue)": the team never
    heard of it, so HR cancelling it (a sick day recorded on the wrong date) posts no correction there
    either; the person and the thread are told."""
    install_config()
    day = last_weekday_before(alices_today())
    recorded = hr_records(client, fake_slack, ALICE, "sick", day, day)
    assert recorded.content == b"", recorded.content
    assert status_of(fake_slack)["status"] == APPROVED
    assert posts_to(fake_slack, C_ENG) == []
    fake_slack.clear_calls()

    blocks = answer(client, HR, f"for <@{ALICE}|alice> list")["blocks"]
    assert ids.CANCEL_ACTION in buttons_in(blocks), json.dumps(blocks)
    press(client, HR, blocks, ids.CANCEL_ACTION, channel=C_GENERAL, on_list=True)

    assert status_of(fake_slack)["status"] == CANCELLED
    assert posts_to(fake_slack, C_ENG) == []
    assert [r for r in thread_replies(fake_slack) if "no longer on the record" in r], thread_replies(fake_slack)
    assert [dm for dm in dms_to(fake_slack, ALICE) if "changed your time off" in dm], dms_to(fake_slack, ALICE)


def test_hrs_edit_of_someones_pending_request_keeps_it_theirs_and_tells_them(client, fake_slack):
    """HR "can record, correct or cancel leave for someone else": an edit made by HR stays the person's
    request (their name, their receipt), is narrated in the thread as HR's, and the person hears of it."""
    install_config()
    request_time_off(client, fake_slack, ALICE, "vacation", MONDAY, WEDNESDAY, note="Family visit")

    blocks = answer(client, HR, f"for <@{ALICE}|alice> list")["blocks"]
    press(client, HR, blocks, ids.EDIT_ACTION, channel=C_GENERAL, on_list=True)
    form = opened_form(fake_slack)
    submit_form(client, HR, form, request_values("vacation", TUESDAY, WEDNESDAY, halves=(ids.HALF_START_PM,)),
                view_id="V_HR_FIX")

    status = status_of(fake_slack)
    assert (status["user"], status["status"], status["start"], status["start_half"]) == (
        ALICE, PENDING, TUESDAY.isoformat(), "pm")
    assert Decimal(str(status["days"])) == Decimal("1.5")
    assert "Family visit" in json.dumps(request_message_now(fake_slack))
    [reply] = thread_replies(fake_slack)
    assert reply.startswith(f"Edited by <@{HR}>"), reply
    told = [dm for dm in dms_to(fake_slack, ALICE) if "changed your time off" in dm]
    assert len(told) == 1 and "starts at noon" in told[0], dms_to(fake_slack, ALICE)
    text, receipt_buttons = receipt_now(fake_slack)
    assert "starts at noon" in text and "1.5 working days" in text, text
    assert set(buttons_in(receipt_buttons)) == {ids.EDIT_ACTION, ids.WITHDRAW_ACTION}
    assert "pending 1.5" in vacation_line(client)


# --- Realistic sequences ------------------------------------------------------------------------------


def test_an_edit_form_sent_after_the_approver_approved_is_refused_and_the_approval_stands(client, fake_slack):
    """The person edits while the approver decides: the edit of leave already approved is refused in the form
    ("Every change is checked against the rules again"), and nothing of it reaches the message or thread."""
    install_config()
    request_time_off(client, fake_slack, ALICE, "vacation", MONDAY, WEDNESDAY)
    [posted] = posted_requests(fake_slack)
    press_on_receipt(client, fake_slack, ALICE, ids.EDIT_ACTION)
    form = opened_form(fake_slack)
    click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted)
    assert status_of(fake_slack)["status"] == APPROVED
    replies_before = thread_replies(fake_slack)

    sent = submit_form(client, ALICE, form, request_values("vacation", MONDAY, FRIDAY), view_id="V_LATE")

    body = sent.json() if sent.content else {}
    told = json.dumps(body) + "\n".join(dms_to(fake_slack, ALICE))
    assert "already approved" in told, told
    status = status_of(fake_slack)
    assert (status["status"], status["end"], status["decided_by"]) == (APPROVED, WEDNESDAY.isoformat(), BOB)
    assert thread_replies(fake_slack) == replies_before


def test_reject_pressed_on_the_message_as_it_was_before_an_edit_rejects_the_request_as_it_is_now(
        client, fake_slack):
    """"Reject needs no such check (the requester can send it again)": its reason form names the request's
    dates as they are now, and the requester's DM names them with the reason."""
    install_config()
    request_time_off(client, fake_slack, ALICE, "vacation", MONDAY, WEDNESDAY)
    [posted] = posted_requests(fake_slack)
    press_on_receipt(client, fake_slack, ALICE, ids.EDIT_ACTION)
    submit_form(client, ALICE, opened_form(fake_slack), request_values("vacation", THURSDAY, FRIDAY),
                view_id="V_MOVE")
    assert status_of(fake_slack)["start"] == THURSDAY.isoformat()

    assert click(client, fake_slack, BOB, ids.REJECT_ACTION, posted).status_code == 200
    reason_form = opened_form(fake_slack)
    assert reason_form["callback_id"] == ids.REJECT_MODAL
    assert "Thu 13" in json.dumps(reason_form) and "Mon 10" not in json.dumps(reason_form), json.dumps(reason_form)
    values = {ids.REASON_BLOCK: {ids.REASON_ACTION: {"type": "plain_text_input", "value": "Sprint demo that week"}}}
    post_interaction(client, view_submission_payload(user_id=BOB, view=reason_form, values=values,
                                                     view_id="V_REJECT_OLD"))

    status = status_of(fake_slack)
    assert (status["status"], status["start"], status["reason"]) == (REJECTED, THURSDAY.isoformat(),
                                                                      "Sprint demo that week")
    [decision] = [dm for dm in dms_to(fake_slack, ALICE) if "rejected your" in dm]
    assert "Thu 13" in decision and "Sprint demo that week" in decision, decision


def test_an_edit_after_moving_team_is_judged_on_the_calendar_of_the_team_the_request_is_of(client, fake_slack):
    """"an edit is judged on the calendar of the team the request is of, in the form as in its task, even after
    the person moved to another team": a Monday–Friday request of Engineering stays five working days and
    stays with Engineering's approvers, though Alice now works Monday to Thursday in Support."""
    from approvals.config_types import ApproverSource, MemberSource, TeamConfig
    from fake_slack.personas import C_OLD_APPROVALS

    install_config()
    request_time_off(client, fake_slack, ALICE, "vacation", MONDAY, WEDNESDAY)
    support = TeamConfig(name="Support", members=MemberSource(users=(ALICE,)), approvers=ApproverSource(users=(HR,)),
                         approvals_channel=C_OLD_APPROVALS, announce_channel=C_GENERAL, workweek=(0, 1, 2, 3),
                         timezone="Europe/Berlin")
    config = standard_config()
    install_config(replace(config, teams=(support, *config.teams)))  # HR moves her; nothing read the ledger since
    press_on_receipt(client, fake_slack, ALICE, ids.EDIT_ACTION)
    form = opened_form(fake_slack)
    [preview] = [b["elements"][0]["text"] for b in form["blocks"] if b.get("block_id") == ids.PREVIEW_BLOCK]

    submit_form(client, ALICE, form, request_values("vacation", MONDAY, FRIDAY), view_id="V_MOVED_TEAM")

    status = status_of(fake_slack)
    assert (status["team"], status["end"], Decimal(str(status["days"]))) == ("Engineering", FRIDAY.isoformat(),
                                                                             Decimal(5))
    assert the_requests(fake_slack, C_OLD_APPROVALS) == []
    [reply] = [r for r in thread_replies(fake_slack) if r.startswith("Edited by")]
    assert f"<@{BOB}>" in reply and "5 working days" in reply, reply
    # The form said the same as its task: Engineering decides, on Engineering's calendar.
    assert "Decided by the Engineering approvers" in preview, preview


def test_the_list_offers_each_request_the_buttons_that_apply_and_cancel_only_what_can_still_change(
        client, fake_slack):
    """"`/timeoff list` shows your pending, upcoming and current leave and the last few decisions, each with
    the buttons that apply; `/timeoff cancel` shows only what you can still change"."""
    install_config()
    today = alices_today()
    soon, later = today + timedelta(days=20), today + timedelta(days=40)
    decided = int(time.time()) - 3600

    def entry(name, start, status, **fields):
        return LedgerEntry(id=name, user=ALICE, team="Engineering", leave_type="vacation", start=start, end=start,
                           start_half=None, end_half=None, days=Decimal(1), status=status, **fields)

    seed_ledger(fake_slack.workspace, channel=C_ENG_APPROVALS, noise_every=0, entries=[
        entry("asked", soon, PENDING),
        entry("granted", later, APPROVED, decided_by=BOB, decided_at=decided),
        entry("refused", soon + timedelta(days=1), REJECTED, decided_by=BOB, decided_at=decided, reason="Cover"),
        entry("dropped", soon + timedelta(days=2), CANCELLED, decided_by=ALICE, decided_at=decided),
    ])

    listed = answer(client, ALICE, "list")
    by_request = {block["block_id"].split(ids.LIST_BLOCK_PREFIX, 1)[-1]: {e["action_id"] for e in block["elements"]}
                  for block in listed["blocks"] if block.get("type") == "actions"}
    assert by_request == {"asked": {ids.EDIT_ACTION, ids.WITHDRAW_ACTION}, "granted": {ids.CANCEL_ACTION}}, by_request
    shown = json.dumps(listed["blocks"])
    assert "Rejected" in shown and "Cover" in shown, shown

    changeable = answer(client, ALICE, "cancel")
    shown = json.dumps(changeable["blocks"])
    assert "Rejected" not in shown and "Cancelled" not in shown, shown
    assert {e["action_id"] for b in changeable["blocks"] if b.get("type") == "actions" for e in b["elements"]} == {
        ids.EDIT_ACTION, ids.WITHDRAW_ACTION, ids.CANCEL_ACTION}


def test_app_home_follows_a_request_from_asking_to_approval_for_both_people_who_opened_it(client, fake_slack):
    """App Home "is republished when your own leave or a request waiting for your decision changes (for
    people who have opened it in the last 30 days)": Bob's waiting list grows and empties, Alice's leave moves
    from Edit/Withdraw to Cancel leave; someone who never opened it gets nothing published."""
    from fake_slack.personas import CAROL
    from test_support.home_views import shown_text, waiting_count

    install_config()
    open_app_home(client, fake_slack, BOB, "Ev_HOME_B")
    open_app_home(client, fake_slack, ALICE, "Ev_HOME_A")

    def latest_home(user):
        published = [c for c in fake_slack.calls("views.publish") if c.params["user_id"] == user]
        return as_dict(published[-1].params["view"]) if published else None

    request_time_off(client, fake_slack, ALICE, "vacation", MONDAY, WEDNESDAY)
    assert waiting_count(latest_home(BOB)) == 1
    assert {ids.EDIT_ACTION, ids.WITHDRAW_ACTION} <= set(buttons_in(latest_home(ALICE)["blocks"]))

    click_message_as_it_is_now(client, fake_slack, BOB, ids.APPROVE_ACTION)

    assert status_of(fake_slack)["status"] == APPROVED
    assert waiting_count(latest_home(BOB)) == 0
    alices = buttons_in(latest_home(ALICE)["blocks"])
    assert ids.CANCEL_ACTION in alices and ids.EDIT_ACTION not in alices, shown_text(latest_home(ALICE))
    assert latest_home(CAROL) is None


def test_hr_records_a_sick_morning_the_team_hears_only_that_she_is_away_that_morning(client, fake_slack):
    """A half day recorded by HR for a private type: the person's DM names it, the team channel says only
    that they are away ("without the leave type for private types"), and the morning counts half a day."""
    install_config()

    hr_records(client, fake_slack, ALICE, "sick", THURSDAY, THURSDAY, halves=(ids.HALF_END_AM,))

    status = status_of(fake_slack)
    assert (status["status"], status["end_half"], Decimal(str(status["days"]))) == (APPROVED, "am", Decimal("0.5"))
    [announcement] = posts_to(fake_slack, C_ENG)
    assert "(morning)" in announcement and f"<@{ALICE}> will be out" in announcement, announcement
    assert "Sick" not in announcement and "thermometer" not in announcement, announcement
    [told] = [dm for dm in dms_to(fake_slack, ALICE) if "recorded time off for you" in dm]
    assert "Sick leave" in told and "(morning)" in told and "0.5 working days" in told, told


def test_edit_from_an_old_list_opens_on_what_hr_made_of_the_request_and_sending_it_unchanged_undoes_nothing(
        client, fake_slack):
    """*Edit* "opens the same form filled in with the request as it stands (not as the button was drawn: HR may
    have moved its dates since …)"; sent as it opened, it is not refused as someone else's change and rewrites
    nothing."""
    install_config()
    request_time_off(client, fake_slack, ALICE, "vacation", MONDAY, WEDNESDAY)
    old_list = answer(client, ALICE, "list")["blocks"]
    hrs_list = answer(client, HR, f"for <@{ALICE}|alice> list")["blocks"]
    press(client, HR, hrs_list, ids.EDIT_ACTION, channel=C_GENERAL, on_list=True)
    submit_form(client, HR, opened_form(fake_slack), request_values("vacation", TUESDAY, THURSDAY), view_id="V_HR")
    assert status_of(fake_slack)["start"] == TUESDAY.isoformat()

    press(client, ALICE, old_list, ids.EDIT_ACTION, channel=C_GENERAL, on_list=True)
    form = opened_form(fake_slack)
    dates = {b["block_id"]: b["element"].get("initial_date") for b in form["blocks"]
             if b.get("block_id") in (ids.START_BLOCK, ids.END_BLOCK)}
    assert dates == {ids.START_BLOCK: TUESDAY.isoformat(), ids.END_BLOCK: THURSDAY.isoformat()}, dates
    updates_before, replies_before = len(fake_slack.calls("chat.update")), len(thread_replies(fake_slack))

    sent = submit_form(client, ALICE, form, request_values("vacation", TUESDAY, THURSDAY), view_id="V_AS_IS")

    assert sent.content == b"", sent.content
    assert (status_of(fake_slack)["start"], status_of(fake_slack)["end"]) == (TUESDAY.isoformat(),
                                                                             THURSDAY.isoformat())
    assert len(fake_slack.calls("chat.update")) == updates_before
    assert len(thread_replies(fake_slack)) == replies_before
    assert not [dm for dm in dms_to(fake_slack, ALICE) if "couldn't" in dm]


def test_the_approvals_message_says_who_else_is_out_and_an_edit_redraws_it_for_the_new_dates(client, fake_slack):
    """The approvals message shows "who else on the team is out then, the balance left after it"; an edit
    rewrites it "with who else is out then and the balance after it, as when it was posted"."""
    install_config()
    request_time_off(client, fake_slack, DAVE, "vacation", MONDAY, TUESDAY)
    [daves] = posted_requests(fake_slack)
    click(client, fake_slack, BOB, ids.APPROVE_ACTION, daves)

    form = open_request_form(client, fake_slack, ALICE)
    sent = submit_form(client, ALICE, form, request_values("vacation", TUESDAY, WEDNESDAY), view_id="V_ALICE")
    assert sent.content == b"", sent.content
    alices = [m for m in the_requests(fake_slack) if m.metadata["event_payload"]["user"] == ALICE][0]
    shown = json.dumps(alices.blocks)
    assert f"<@{DAVE}>" in shown and "Also out" in shown, shown
    assert "23 of 25" in shown, shown

    press_on_receipt(client, fake_slack, ALICE, ids.EDIT_ACTION)
    submit_form(client, ALICE, opened_form(fake_slack), request_values("vacation", THURSDAY, FRIDAY),
                view_id="V_AWAY")

    alices = [m for m in the_requests(fake_slack) if m.metadata["event_payload"]["user"] == ALICE][0]
    shown = json.dumps(alices.blocks)
    assert "Nobody else on the team is out then" in shown and f"<@{DAVE}>" not in shown.split("Approvers")[0], shown
    assert "23 of 25" in shown, shown


def test_withdrawing_from_app_home_shows_by_itself_without_a_note(client, fake_slack):
    """"On the receipt and App Home the change shows by itself": no note is sent to the person; the tab is
    republished without the request's buttons, the receipt says it is cancelled, the approvers are told."""
    install_config()
    open_app_home(client, fake_slack, ALICE, "Ev_HOME_W1")
    request_time_off(client, fake_slack, ALICE, "vacation", MONDAY, WEDNESDAY)
    home = open_app_home(client, fake_slack, ALICE, "Ev_HOME_W2")
    block_id, value = buttons_in(home["blocks"])[ids.WITHDRAW_ACTION]
    dms_before = len(dms_to(fake_slack, ALICE))

    post_interaction(client, view_block_actions_payload(user_id=ALICE, action_id=ids.WITHDRAW_ACTION, value=value,
                                                        block_id=block_id, view=home))

    assert status_of(fake_slack)["status"] == CANCELLED
    assert dms_to(fake_slack, ALICE)[dms_before:] == [] and ephemerals_to(fake_slack, ALICE) == []
    republished = as_dict([c for c in fake_slack.calls("views.publish")
                           if c.params["user_id"] == ALICE][-1].params["view"])
    assert ids.WITHDRAW_ACTION not in buttons_in(republished["blocks"]), json.dumps(republished)
    text, blocks = receipt_now(fake_slack)
    assert "Cancelled" in text and buttons_in(blocks) == {}, text
    [reply] = [r for r in thread_replies(fake_slack) if r.startswith("Withdrawn by")]
    assert f"<@{BOB}>" in reply, reply
