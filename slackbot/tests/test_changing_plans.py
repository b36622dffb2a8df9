"""People changing their plans after a request exists, and what everyone sees afterwards.

An employee edits or withdraws a pending request (from the receipt DM, `/timeoff list`, `/timeoff cancel`
and App Home), cancels approved leave, HR records, corrects and cancels leave for someone; the team's
approvals channel moves in between. Driven through signed, Slack-shaped requests against the fake Slack,
asserting on the approvals message and its thread, the DMs, the announce channel, the lists, the balance
and App Home.
"""

import json
from dataclasses import replace
from datetime import timedelta

import pytest

from approvals import block_ids as ids
from approvals.rules import APPROVED, CANCELLED, PENDING
from fake_slack.personas import C_ENG, C_ENG_APPROVALS, C_GENERAL
from test_support.flows import (
    ALICE,
    BOB,
    DAVE,
    ENGINEERING,
    HR,
    MONDAY,
    WEDNESDAY,
    buttons_in,
    channel_updates,
    click,
    install_config,
    open_app_home,
    open_request_form,
    posted_requests,
    press,
    request_status,
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
from test_support.posted import posts_to, thread_replies

pytestmark = pytest.mark.django_db

TUESDAY = MONDAY + timedelta(days=1)
THURSDAY = MONDAY + timedelta(days=3)
FRIDAY = MONDAY + timedelta(days=4)
NEXT_MONDAY = MONDAY + timedelta(days=7)
NEXT_WEDNESDAY = MONDAY + timedelta(days=9)


# --- What people see -----------------------------------------------------------------------------------


def answer(client, user, text) -> dict:
    """`/timeoff <text>`, asked twice so the second is answered from a warm cache (tasks run at once)."""
    post_command(client, text, user_id=user)
    response = post_command(client, text, user_id=user)
    assert response.status_code == 200, response.content
    return response.json()


def vacation_line(client, user=ALICE, year=MONDAY.year) -> str:
    text = answer(client, user, f"balance {year}")["text"]
    [line] = [line for line in text.splitlines() if "Vacation" in line]
    return line


def the_request(fake_slack, channel=C_ENG_APPROVALS):
    """The one request message in `channel`: its metadata payload, text and blocks as they are now."""
    [message] = [m for m in fake_slack.workspace.messages(channel)
                 if m.metadata and m.metadata.get("event_type") == "timeoff_request"]
    return message


def dms_to(fake_slack, user) -> list[str]:
    return [c.params["text"] for c in fake_slack.calls("chat.postMessage")
            if c.params.get("channel") == user and c.response.get("ok")]


def ephemerals_to(fake_slack, user) -> list[str]:
    return [c.params["text"] for c in fake_slack.calls("chat.postEphemeral")
            if c.params.get("user") == user and c.response.get("ok")]


def receipt(fake_slack, user=ALICE):
    """The receipt DM (the first DM to `user` carrying buttons)."""
    return [c for c in fake_slack.calls("chat.postMessage")
            if c.params.get("channel") == user and buttons_in(c.params.get("blocks"))][0]


def receipt_as_it_stands(fake_slack, posted) -> tuple[str, list]:
    updates = [c for c in fake_slack.calls("chat.update")
               if c.params["channel"] == posted.response["channel"] and c.params["ts"] == posted.response["ts"]]
    params = updates[-1].params if updates else posted.params
    return params["text"], params.get("blocks") or []


def press_receipt(client, fake_slack, user, action_id, posted=None):
    posted = posted or receipt(fake_slack)
    _, blocks = receipt_as_it_stands(fake_slack, posted)
    return press(client, user, blocks, action_id, channel=posted.response["channel"], ts=posted.response["ts"])


def press_on_list(client, user, blocks, action_id, channel=C_ENG):
    return press(client, user, blocks, action_id, channel=channel, on_list=True)


def edit_form_from(client, fake_slack, user, blocks, *, channel="D_X", on_list=False) -> dict:
    press(client, user, blocks, ids.EDIT_ACTION, channel=channel, on_list=on_list)
    form = fake_slack.last_call("views.open").params["view"]
    return json.loads(form) if isinstance(form, str) else form


def send_edit(client, user, form, leave_type, start, end, *, note="", halves=(), view_id="V_EDIT"):
    response = post_interaction(client, view_submission_payload(
        user_id=user, view=form, values=request_values(leave_type, start, end, note=note, halves=halves),
        view_id=view_id, view_hash=f"{view_id}.hash"))
    assert response.status_code == 200, response.content
    return response


def approve(client, fake_slack, approver=BOB):
    """Approve on the request message as it stands now (its latest rewrite's buttons)."""
    message = the_request(fake_slack)
    value = buttons_in(message.blocks)[ids.APPROVE_ACTION][1]
    payload = block_actions_payload(user_id=approver, action_id=ids.APPROVE_ACTION, value=value,
                                    channel_id=C_ENG_APPROVALS, message_ts=message.ts, block_id=ids.DECISION_BLOCK)
    response = post_interaction(client, payload)
    assert response.status_code == 200, response.content


def home_of(fake_slack, user) -> dict | None:
    calls = [c for c in fake_slack.calls("views.publish") if c.params["user_id"] == user]
    if not calls:
        return None
    view = calls[-1].params["view"]
    return json.loads(view) if isinstance(view, str) else view


def ask(client, fake_slack, user, leave_type="vacation", start=MONDAY, end=WEDNESDAY, *, view_id):
    """A new request through the form, in a view of its own (Slack gives every view its own id)."""
    form = open_request_form(client, fake_slack, user)
    response = post_interaction(client, view_submission_payload(
        user_id=user, view=form, values=request_values(leave_type, start, end), view_id=view_id))
    assert response.status_code == 200, response.content
    return response


def hr_records(client, fake_slack, person, leave_type, start, end, *, note="", view_id="V_RECORD"):
    response = post_command(client, f"for <@{person}|someone> {start} {end} {leave_type}", user_id=HR)
    assert response.status_code == 200 and response.content == b"", response.content
    form = fake_slack.last_call("views.open").params["view"]
    response = post_interaction(client, view_submission_payload(
        user_id=HR, view=form, values=request_values(leave_type, start, end, note=note), view_id=view_id))
    assert response.status_code == 200, response.content
    return response


# --- Editing a pending request ---------------------------------------------------------------------


def test_an_edit_shows_the_balance_after_the_new_dates_counting_the_old_version_once(client, fake_slack):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    assert "22 of 25 days of Vacation left" in json.dumps(the_request(fake_slack).blocks)

    form = edit_form_from(client, fake_slack, ALICE, receipt(fake_slack).params["blocks"])
    send_edit(client, ALICE, form, "vacation", MONDAY, FRIDAY)

    shown = json.dumps(the_request(fake_slack).blocks)
    assert "20 of 25 days of Vacation left" in shown, shown
    assert "taken 0, pending 5" in vacation_line(client)


def test_each_of_several_edits_is_told_to_the_approvers_and_reaches_the_receipt(client, fake_slack):
    # Alice moves her Friday back and forth while her approvers have not decided yet: each edit is news for
    # them, and her receipt must always show what she asked for last.
    install_config()
    request_time_off(client, fake_slack, ALICE)
    posted_receipt = receipt(fake_slack)

    for number, end in enumerate((FRIDAY, WEDNESDAY, FRIDAY)):
        _, blocks = receipt_as_it_stands(fake_slack, posted_receipt)
        form = edit_form_from(client, fake_slack, ALICE, blocks, channel=posted_receipt.response["channel"])
        assert send_edit(client, ALICE, form, "vacation", MONDAY, end, view_id=f"V_EDIT_{number}").content == b""

    assert request_status(fake_slack)["end"] == FRIDAY.isoformat()
    edits = [t for t in thread_replies(fake_slack) if t.startswith(f"Edited by <@{ALICE}>")]
    assert len(edits) == 3, edits
    text, _ = receipt_as_it_stands(fake_slack, posted_receipt)
    assert "5 working days" in text, text


def test_taking_a_half_day_off_an_edit_again_updates_the_receipt(client, fake_slack):
    # Monday to Wednesday, then Wednesday morning only, then the whole Wednesday after all.
    install_config()
    request_time_off(client, fake_slack, ALICE)
    posted_receipt = receipt(fake_slack)

    for number, halves in enumerate(((ids.HALF_END_AM,), ())):
        _, blocks = receipt_as_it_stands(fake_slack, posted_receipt)
        form = edit_form_from(client, fake_slack, ALICE, blocks, channel=posted_receipt.response["channel"])
        send_edit(client, ALICE, form, "vacation", MONDAY, WEDNESDAY, halves=halves, view_id=f"V_HALF_{number}")

    assert float(request_status(fake_slack)["days"]) == 3
    text, _ = receipt_as_it_stands(fake_slack, posted_receipt)
    assert "3 working days" in text, text
    assert len([t for t in thread_replies(fake_slack) if t.startswith("Edited by")]) == 2
    assert "pending 3" in vacation_line(client)


def test_the_same_edit_form_sent_twice_rewrites_and_narrates_once(client, fake_slack):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    form = edit_form_from(client, fake_slack, ALICE, receipt(fake_slack).params["blocks"])
    fake_slack.clear_calls()

    first = send_edit(client, ALICE, form, "vacation", MONDAY, FRIDAY, view_id="V_TWICE")
    second = send_edit(client, ALICE, form, "vacation", MONDAY, FRIDAY, view_id="V_TWICE")

    assert first.content == b""
    assert second.status_code == 200
    assert len(channel_updates(fake_slack)) == 1
    assert len(thread_replies(fake_slack)) == 1


def test_the_approver_approves_the_edited_dates_and_everyone_hears_the_new_ones(client, fake_slack):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    form = edit_form_from(client, fake_slack, ALICE, receipt(fake_slack).params["blocks"])
    send_edit(client, ALICE, form, "vacation", TUESDAY, THURSDAY)
    fake_slack.clear_calls()

    approve(client, fake_slack)

    status = request_status(fake_slack)
    assert (status["status"], status["start"], status["end"]) == (APPROVED, TUESDAY.isoformat(), THURSDAY.isoformat())
    [announcement] = posts_to(fake_slack, C_ENG)
    assert "Tue 11" in announcement and "Thu 13" in announcement, announcement
    assert [dm for dm in dms_to(fake_slack, ALICE) if "approved your" in dm and "Tue 11" in dm]
    assert "taken 3, pending 0" in vacation_line(client)


def test_an_edit_form_sent_after_the_request_was_withdrawn_is_refused_in_the_form(client, fake_slack):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    form = edit_form_from(client, fake_slack, ALICE, receipt(fake_slack).params["blocks"])
    press_receipt(client, fake_slack, ALICE, ids.WITHDRAW_ACTION)  # from the receipt, in another window
    assert request_status(fake_slack)["status"] == CANCELLED
    fake_slack.clear_calls()

    response = send_edit(client, ALICE, form, "vacation", MONDAY, FRIDAY)

    assert response.json()["response_action"] == "errors"
    assert "cancelled" in json.dumps(response.json()["errors"])
    assert channel_updates(fake_slack) == [] and thread_replies(fake_slack) == []
    assert request_status(fake_slack)["status"] == CANCELLED


def test_editing_into_leave_that_needs_no_approval_records_it_announces_it_privately_and_frees_vacation(
        client, fake_slack):
    install_config()
    request_time_off(client, fake_slack, ALICE, note="Flu coming on")
    assert "pending 3" in vacation_line(client)
    form = edit_form_from(client, fake_slack, ALICE, receipt(fake_slack).params["blocks"])
    fake_slack.clear_calls()

    send_edit(client, ALICE, form, "sick", MONDAY, WEDNESDAY)

    status = request_status(fake_slack)
    assert (status["status"], status["type"]) == (APPROVED, "sick")
    [announcement] = posts_to(fake_slack, C_ENG)
    assert "Sick" not in announcement and "thermometer" not in announcement, announcement
    [reply] = thread_replies(fake_slack)
    assert "recorded as approved" in reply and f"<@{BOB}>" not in reply
    assert "pending 0" in vacation_line(client) and "25 days left" in vacation_line(client)


# --- Withdrawing a pending request -------------------------------------------------------------------


def test_withdrawing_gives_the_pending_days_back_and_clears_every_surface(client, fake_slack):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    assert "pending 3" in vacation_line(client)
    open_app_home(client, fake_slack, ALICE, "Ev_HOME_ALICE_1")
    bob_home = open_app_home(client, fake_slack, BOB, "Ev_HOME_BOB_1")
    assert ids.APPROVE_ACTION in buttons_in(bob_home["blocks"])
    posted_receipt = receipt(fake_slack)
    fake_slack.clear_calls()

    press_receipt(client, fake_slack, ALICE, ids.WITHDRAW_ACTION, posted_receipt)

    message = the_request(fake_slack)
    assert message.metadata["event_payload"]["status"] == CANCELLED
    assert not [b for b in message.blocks if b.get("type") == "actions"]  # no Approve / Reject left
    [reply] = thread_replies(fake_slack)
    assert reply.startswith(f"Withdrawn by <@{ALICE}>") and f"<@{BOB}>" in reply
    assert posts_to(fake_slack, C_ENG) == []  # it was never announced: nothing to correct
    assert "pending 0" in vacation_line(client) and "25 days left" in vacation_line(client)
    assert answer(client, ALICE, "cancel")["text"].startswith("Your time off: 0 pending, 0 coming up")
    assert ids.APPROVE_ACTION not in buttons_in(home_of(fake_slack, BOB)["blocks"])
    assert ids.WITHDRAW_ACTION not in buttons_in(home_of(fake_slack, ALICE)["blocks"])


def test_withdrawing_one_of_two_requests_leaves_the_other_untouched(client, fake_slack):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    second = open_request_form(client, fake_slack, ALICE)
    post_interaction(client, view_submission_payload(
        user_id=ALICE, view=second, values=request_values("vacation", NEXT_MONDAY, NEXT_WEDNESDAY),
        view_id="V_SECOND"))
    assert "pending 6" in vacation_line(client)
    blocks = answer(client, ALICE, "cancel")["blocks"]
    first_block = next(b for b in blocks if b.get("type") == "actions"
                       and json.loads(b["elements"][0]["value"])["start"] == MONDAY.isoformat())

    press_on_list(client, ALICE, [first_block], ids.WITHDRAW_ACTION)

    statuses = {m.metadata["event_payload"]["start"]: m.metadata["event_payload"]["status"]
                for m in fake_slack.workspace.messages(C_ENG_APPROVALS) if m.metadata
                and m.metadata.get("event_type") == "timeoff_request"}
    assert statuses == {MONDAY.isoformat(): CANCELLED, NEXT_MONDAY.isoformat(): PENDING}
    assert "pending 3" in vacation_line(client)
    assert answer(client, ALICE, "list")["text"].startswith("Your time off: 1 pending")


def test_withdraw_pressed_on_app_home_after_the_request_was_approved_is_refused_by_dm(client, fake_slack):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    home = open_app_home(client, fake_slack, ALICE, "Ev_HOME_STALE_W")
    block_id, value = buttons_in(home["blocks"])[ids.WITHDRAW_ACTION]
    approve(client, fake_slack)
    fake_slack.clear_calls()

    response = post_interaction(client, view_block_actions_payload(
        user_id=ALICE, action_id=ids.WITHDRAW_ACTION, value=value, block_id=block_id, view=home))

    assert response.status_code == 200
    assert request_status(fake_slack)["status"] == APPROVED
    assert channel_updates(fake_slack) == [] and thread_replies(fake_slack) == []
    [told] = dms_to(fake_slack, ALICE)
    assert "approved" in told and "withdraw" in told


def test_edit_on_an_old_list_after_a_rejection_opens_no_form_and_says_why(client, fake_slack):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    old_list = answer(client, ALICE, "list")["blocks"]
    message = the_request(fake_slack)
    value = buttons_in(message.blocks)[ids.REJECT_ACTION][1]
    post_interaction(client, block_actions_payload(user_id=BOB, action_id=ids.REJECT_ACTION, value=value,
                                                   channel_id=C_ENG_APPROVALS, message_ts=message.ts))
    reason_form = fake_slack.last_call("views.open").params["view"]
    post_interaction(client, view_submission_payload(user_id=BOB, view=reason_form, values={
        ids.REASON_BLOCK: {ids.REASON_ACTION: {"type": "plain_text_input", "value": "Release week"}}}))
    assert request_status(fake_slack)["status"] == "rejected"
    answer(client, ALICE, "list")  # the cache has seen the rejection
    fake_slack.clear_calls()

    press_on_list(client, ALICE, old_list, ids.EDIT_ACTION)

    assert fake_slack.calls("views.open") == []
    told = ephemerals_to(fake_slack, ALICE) + dms_to(fake_slack, ALICE)
    assert told and "rejected" in told[0], told


# --- Cancelling approved leave ------------------------------------------------------------------------


def test_cancelled_leave_reads_as_cancelled_everywhere_and_its_days_come_back(client, fake_slack):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    approve(client, fake_slack)
    assert "taken 3" in vacation_line(client)
    open_app_home(client, fake_slack, ALICE, "Ev_HOME_ALICE_C")
    posted_receipt = receipt(fake_slack)
    fake_slack.clear_calls()

    press_on_list(client, ALICE, answer(client, ALICE, "cancel")["blocks"], ids.CANCEL_ACTION)

    message = the_request(fake_slack)
    assert message.metadata["event_payload"]["status"] == CANCELLED
    assert "Cancelled" in json.dumps(message.blocks) and f"<@{ALICE}>" in json.dumps(message.blocks)
    assert not [b for b in message.blocks if b.get("type") == "actions"]
    [reply] = thread_replies(fake_slack)
    assert reply.startswith(f"Cancelled by <@{ALICE}>") and f"<@{BOB}>" in reply
    [correction] = posts_to(fake_slack, C_ENG)
    assert f"<@{ALICE}> will not be out" in correction
    text, blocks = receipt_as_it_stands(fake_slack, posted_receipt)
    assert text.startswith(":no_entry_sign: Cancelled") and buttons_in(blocks) == {}
    assert "taken 0" in vacation_line(client) and "25 days left" in vacation_line(client)
    listing = answer(client, ALICE, "list")
    assert listing["text"].startswith("Your time off: 0 pending, 0 coming up")
    assert ids.CANCEL_ACTION not in buttons_in(home_of(fake_slack, ALICE)["blocks"])


def test_leave_starting_tomorrow_can_still_be_cancelled(client, fake_slack):
    from approvals.selectors import local_today

    install_config()
    tomorrow = local_today("America/Los_Angeles") + timedelta(days=1)
    import holidays

    if tomorrow.weekday() >= 5 or tomorrow in holidays.country_holidays("US", subdiv="CA", years=tomorrow.year):
        pytest.skip("tomorrow is no working day for Engineering")
    request_time_off(client, fake_slack, ALICE, start=tomorrow, end=tomorrow)
    approve(client, fake_slack)
    fake_slack.clear_calls()

    blocks = answer(client, ALICE, "cancel")["blocks"]
    assert ids.CANCEL_ACTION in buttons_in(blocks)
    press_on_list(client, ALICE, blocks, ids.CANCEL_ACTION)

    assert request_status(fake_slack)["status"] == CANCELLED
    assert [t for t in ephemerals_to(fake_slack, ALICE) if t.startswith(":white_check_mark: Cancelled")]


def test_a_typed_note_stays_escaped_when_cancelled_leave_is_rewritten(client, fake_slack):
    install_config()
    note = "<!channel> back <@U_BOB> soon & see <https://evil.example|the plan>"
    request_time_off(client, fake_slack, ALICE, note=note)
    approve(client, fake_slack)

    press_on_list(client, ALICE, answer(client, ALICE, "cancel")["blocks"], ids.CANCEL_ACTION)

    shown = json.dumps(the_request(fake_slack).blocks)
    assert request_status(fake_slack)["status"] == CANCELLED
    assert "&lt;!channel&gt;" in shown and "<!channel>" not in shown
    assert "<https://evil.example" not in shown and "&amp; see" in shown
    everything = " ".join(c.params.get("text", "") for c in fake_slack.calls()
                          if c.method in ("chat.postMessage", "chat.update", "chat.postEphemeral"))
    assert "<!channel>" not in everything and "<https://evil" not in everything


# --- After the team's approvals channel moved ---------------------------------------------------------


def test_approved_leave_is_cancelled_in_the_old_approvals_channel_after_the_team_moved(client, fake_slack):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    approve(client, fake_slack)
    posted_receipt = receipt(fake_slack)
    _, approved_blocks = receipt_as_it_stands(fake_slack, posted_receipt)
    install_config(standard_config(teams=(replace(ENGINEERING, approvals_channel=C_GENERAL),)))
    fake_slack.clear_calls()

    press(client, ALICE, approved_blocks, ids.CANCEL_ACTION, channel=posted_receipt.response["channel"],
          ts=posted_receipt.response["ts"])

    assert request_status(fake_slack)["status"] == CANCELLED
    [reply] = thread_replies(fake_slack, C_ENG_APPROVALS)
    assert reply.startswith(f"Cancelled by <@{ALICE}>")
    assert thread_replies(fake_slack, C_GENERAL) == [] and posts_to(fake_slack, C_GENERAL) == []
    assert [t for t in posts_to(fake_slack, C_ENG) if "will not be out" in t]
    assert "taken 0" in vacation_line(client)
    assert answer(client, ALICE, "list")["text"].startswith("Your time off: 0 pending, 0 coming up")


def test_a_pending_request_withdrawn_after_the_team_moved_cannot_then_be_approved(client, fake_slack):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    install_config(standard_config(teams=(replace(ENGINEERING, approvals_channel=C_GENERAL),)))

    press_on_list(client, ALICE, answer(client, ALICE, "cancel")["blocks"], ids.WITHDRAW_ACTION)
    assert request_status(fake_slack)["status"] == CANCELLED
    fake_slack.clear_calls()

    click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted)  # Bob's Slack still shows the buttons

    assert request_status(fake_slack)["status"] == CANCELLED
    assert channel_updates(fake_slack) == [] and posts_to(fake_slack, C_ENG) == []
    told = ephemerals_to(fake_slack, BOB) + dms_to(fake_slack, BOB)
    assert told and "cancelled" in told[0], told


def test_an_edit_after_the_team_moved_rewrites_the_request_where_it_is(client, fake_slack):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    install_config(standard_config(teams=(replace(ENGINEERING, approvals_channel=C_GENERAL),)))
    form = edit_form_from(client, fake_slack, ALICE, receipt(fake_slack).params["blocks"])
    fake_slack.clear_calls()

    assert send_edit(client, ALICE, form, "vacation", MONDAY, FRIDAY).content == b""

    assert request_status(fake_slack)["end"] == FRIDAY.isoformat()
    assert [t for t in thread_replies(fake_slack, C_ENG_APPROVALS) if t.startswith("Edited by")]
    assert posts_to(fake_slack, C_GENERAL) == []  # not posted again in the new channel
    assert "pending 5" in vacation_line(client)


# --- HR on behalf -------------------------------------------------------------------------------------


def test_hr_edits_someones_pending_request_and_the_person_and_approvers_are_told(client, fake_slack):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    posted_receipt = receipt(fake_slack)
    hr_list = answer(client, HR, f"for <@{ALICE}> list")["blocks"]
    form = edit_form_from(client, fake_slack, HR, hr_list, channel=C_GENERAL, on_list=True)
    fake_slack.clear_calls()

    assert send_edit(client, HR, form, "vacation", MONDAY, TUESDAY, view_id="V_HR_EDIT").content == b""

    status = request_status(fake_slack)
    assert (status["user"], status["end"], status["status"]) == (ALICE, TUESDAY.isoformat(), PENDING)
    [reply] = thread_replies(fake_slack)
    assert reply.startswith(f"Edited by <@{HR}>") and f"<@{BOB}>" in reply
    assert [dm for dm in dms_to(fake_slack, ALICE) if f"<@{HR}> changed your time off" in dm and "Tue 11" in dm]
    text, blocks = receipt_as_it_stands(fake_slack, posted_receipt)
    assert "2 working days" in text and ids.WITHDRAW_ACTION in buttons_in(blocks), text
    assert "pending 2" in vacation_line(client)


def test_hr_corrects_approved_leave_by_cancelling_and_recording_the_days_again(client, fake_slack):
    # Alice came back a day early: HR cancels Mon-Wed and records Mon-Tue.
    install_config()
    request_time_off(client, fake_slack, ALICE)
    approve(client, fake_slack)
    press_on_list(client, HR, answer(client, HR, f"for <@{ALICE}> cancel")["blocks"], ids.CANCEL_ACTION,
                  channel=C_GENERAL)
    assert request_status(fake_slack)["status"] == CANCELLED

    hr_records(client, fake_slack, ALICE, "vacation", MONDAY, TUESDAY)

    recorded = [m.metadata["event_payload"] for m in fake_slack.workspace.messages(C_ENG_APPROVALS)
                if m.metadata and m.metadata.get("event_type") == "timeoff_request"
                and m.metadata["event_payload"]["status"] == APPROVED]
    assert [(p["start"], p["end"], p["recorded_by"]) for p in recorded] == [
        (MONDAY.isoformat(), TUESDAY.isoformat(), HR)]
    assert "taken 2" in vacation_line(client) and "23 days left" in vacation_line(client)
    listing = answer(client, ALICE, "list")
    assert listing["text"].startswith("Your time off: 0 pending, 1 coming up")
    assert ids.CANCEL_ACTION in buttons_in(listing["blocks"])


def test_the_person_can_cancel_upcoming_leave_hr_recorded_for_them(client, fake_slack):
    install_config()
    hr_records(client, fake_slack, ALICE, "vacation", MONDAY, WEDNESDAY)
    assert "taken 3" in vacation_line(client)
    fake_slack.clear_calls()

    press_on_list(client, ALICE, answer(client, ALICE, "cancel")["blocks"], ids.CANCEL_ACTION)

    assert (request_status(fake_slack)["status"], request_status(fake_slack)["decided_by"]) == (CANCELLED, ALICE)
    assert [t for t in posts_to(fake_slack, C_ENG) if "will not be out" in t]
    assert "taken 0" in vacation_line(client)


def test_hr_withdrawing_someones_request_tells_them_and_rewrites_their_receipt(client, fake_slack):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    posted_receipt = receipt(fake_slack)
    fake_slack.clear_calls()

    press_on_list(client, HR, answer(client, HR, f"for <@{ALICE}> list")["blocks"], ids.WITHDRAW_ACTION,
                  channel=C_GENERAL)

    [told] = [dm for dm in dms_to(fake_slack, ALICE) if f"<@{HR}>" in dm]
    assert "Cancelled" in told or "withdrawn" in told.lower(), told
    text, blocks = receipt_as_it_stands(fake_slack, posted_receipt)
    assert text.startswith(f":no_entry_sign: Cancelled by <@{HR}>") and buttons_in(blocks) == {}
    [reply] = thread_replies(fake_slack)
    assert reply.startswith(f"Withdrawn by <@{HR}>")
    assert "pending 0" in vacation_line(client)


def test_hr_cancelling_leave_under_way_tells_the_team_it_is_corrected_not_that_she_was_never_out(
        client, fake_slack):
    # She has been out since last Monday; HR cancels it whole to record the days taken again. The team saw
    # her away all week: "will not be out <last Monday> – <next Friday> after all" is not true.
    from decimal import Decimal

    from approvals.rules import LedgerEntry
    from approvals.selectors import local_today
    from fake_slack.ledger_seed import seed_ledger

    install_config()
    today = local_today("America/Los_Angeles")
    start = today - timedelta(days=7)
    end = today + timedelta(days=7)
    days = sum(1 for n in range((end - start).days + 1) if (start + timedelta(n)).weekday() < 5)
    seed_ledger(fake_slack.workspace, channel=C_ENG_APPROVALS, noise_every=0, entries=[LedgerEntry(
        id="underway", user=ALICE, team="Engineering", leave_type="vacation", start=start, end=end,
        start_half=None, end_half=None, days=Decimal(days), status=APPROVED, decided_by=BOB,
        decided_at=1764000000)])
    fake_slack.clear_calls()

    press_on_list(client, HR, answer(client, HR, f"for <@{ALICE}> list")["blocks"], ids.CANCEL_ACTION,
                  channel=C_GENERAL)

    assert request_status(fake_slack)["status"] == CANCELLED
    [correction] = posts_to(fake_slack, C_ENG)
    assert "after all" not in correction, correction
    assert "was corrected by HR: it is no longer on the record" in correction, correction
    [reply] = [call.params["text"] for call in fake_slack.calls("chat.postMessage")
               if call.params.get("channel") == C_ENG_APPROVALS and call.params.get("thread_ts")]
    assert reply.startswith(f"Cancelled by <@{HR}>: this leave, already under way, is no longer on the record."), reply


def test_hr_typed_note_for_someone_stays_escaped_when_they_cancel_it(client, fake_slack):
    install_config()
    hr_records(client, fake_slack, ALICE, "vacation", MONDAY, WEDNESDAY, note="Agreed with <@U_DAVE> <!here>")

    press_on_list(client, ALICE, answer(client, ALICE, "cancel")["blocks"], ids.CANCEL_ACTION)

    shown = json.dumps(the_request(fake_slack).blocks)
    assert request_status(fake_slack)["status"] == CANCELLED
    assert "&lt;!here&gt;" in shown and "<!here>" not in shown and "<@U_DAVE>" not in shown


# --- More of what follows a change --------------------------------------------------------------------


def test_the_thread_reply_about_an_edit_names_the_new_leave_type_as_people_know_it(client, fake_slack):
    # Approvers read "now Medical appointment", as the request message itself says, not the type's code.
    install_config()
    request_time_off(client, fake_slack, ALICE)
    form = edit_form_from(client, fake_slack, ALICE, receipt(fake_slack).params["blocks"])
    fake_slack.clear_calls()

    send_edit(client, ALICE, form, "medical", MONDAY, WEDNESDAY)

    assert "Medical appointment" in json.dumps(the_request(fake_slack).blocks)
    [reply] = thread_replies(fake_slack)
    assert "Medical appointment" in reply, reply


def test_an_edit_reaches_both_app_homes_and_the_approver_can_approve_it_there(client, fake_slack):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    open_app_home(client, fake_slack, ALICE, "Ev_HOME_A_EDIT")
    open_app_home(client, fake_slack, BOB, "Ev_HOME_B_EDIT")
    form = edit_form_from(client, fake_slack, ALICE, receipt(fake_slack).params["blocks"])

    send_edit(client, ALICE, form, "vacation", MONDAY, FRIDAY)

    assert "Fri 14 Mar" in json.dumps(home_of(fake_slack, ALICE)), "Alice's home still shows the old dates"
    bob_home = home_of(fake_slack, BOB)
    assert "Fri 14 Mar" in json.dumps(bob_home)
    block_id, value = buttons_in(bob_home["blocks"])[ids.APPROVE_ACTION]
    post_interaction(client, view_block_actions_payload(
        user_id=BOB, action_id=ids.APPROVE_ACTION, value=value, block_id=block_id, view=bob_home))

    status = request_status(fake_slack)
    assert (status["status"], status["end"]) == (APPROVED, FRIDAY.isoformat())
    assert "taken 5, pending 0" in vacation_line(client)


def test_an_edit_onto_a_teammates_leave_shows_who_else_is_out_then(client, fake_slack):
    install_config()
    ask(client, fake_slack, DAVE, start=THURSDAY, end=FRIDAY, view_id="V_DAVE")
    click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted_requests(fake_slack)[0])
    ask(client, fake_slack, ALICE, view_id="V_ALICE")
    alices = [m for m in fake_slack.workspace.messages(C_ENG_APPROVALS)
              if m.metadata and m.metadata["event_payload"].get("user") == ALICE]
    assert "Nobody else on the team is out then" in json.dumps(alices[0].blocks)
    form = edit_form_from(client, fake_slack, ALICE, receipt(fake_slack).params["blocks"])

    send_edit(client, ALICE, form, "vacation", MONDAY, FRIDAY)

    [alices] = [m for m in fake_slack.workspace.messages(C_ENG_APPROVALS)
                if m.metadata and m.metadata["event_payload"].get("user") == ALICE]
    shown = json.dumps(alices.blocks)
    assert f"Also out: <@{DAVE}>" in shown, shown


def test_after_withdrawing_the_same_dates_can_be_asked_for_again(client, fake_slack):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    press_receipt(client, fake_slack, ALICE, ids.WITHDRAW_ACTION)

    response = ask(client, fake_slack, ALICE, view_id="V_AGAIN")

    assert response.content == b"", response.content
    assert len(posted_requests(fake_slack)) == 2
    assert "pending 3" in vacation_line(client) and "22 days left" in vacation_line(client)


def test_after_cancelling_approved_leave_the_same_dates_can_be_asked_for_again(client, fake_slack):
    install_config(standard_config(teams=(replace(ENGINEERING, max_out=1),)))
    request_time_off(client, fake_slack, ALICE)
    approve(client, fake_slack)
    press_on_list(client, ALICE, answer(client, ALICE, "cancel")["blocks"], ids.CANCEL_ACTION)

    response = ask(client, fake_slack, DAVE, view_id="V_DAVE_AGAIN")  # the team's one place is free again

    assert response.content == b"", response.content
    assert [p for p in posted_requests(fake_slack) if f"<@{DAVE}>" in p.params["text"]]


def test_an_edit_form_sent_after_the_approver_approved_is_refused_and_the_leave_stays(client, fake_slack):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    form = edit_form_from(client, fake_slack, ALICE, receipt(fake_slack).params["blocks"])
    approve(client, fake_slack)
    fake_slack.clear_calls()

    response = send_edit(client, ALICE, form, "vacation", MONDAY, FRIDAY)

    assert response.json()["response_action"] == "errors"
    assert "approved" in json.dumps(response.json()["errors"])
    status = request_status(fake_slack)
    assert (status["status"], status["end"]) == (APPROVED, WEDNESDAY.isoformat())
    assert channel_updates(fake_slack) == []


def test_hr_changing_a_request_twice_tells_the_person_each_time(client, fake_slack):
    # HR shortens Alice's request, Alice puts it back, HR shortens it again: she hears of each change.
    install_config()
    request_time_off(client, fake_slack, ALICE)
    posted_receipt = receipt(fake_slack)
    for number, (editor, end) in enumerate(((HR, TUESDAY), (ALICE, WEDNESDAY), (HR, TUESDAY))):
        if editor == HR:
            blocks = answer(client, HR, f"for <@{ALICE}> list")["blocks"]
            form = edit_form_from(client, fake_slack, HR, blocks, channel=C_GENERAL, on_list=True)
        else:
            _, blocks = receipt_as_it_stands(fake_slack, posted_receipt)
            form = edit_form_from(client, fake_slack, ALICE, blocks, channel=posted_receipt.response["channel"])
        send_edit(client, editor, form, "vacation", MONDAY, end, view_id=f"V_TURN_{number}")

    assert request_status(fake_slack)["end"] == TUESDAY.isoformat()
    told = [dm for dm in dms_to(fake_slack, ALICE) if f"<@{HR}> changed your time off" in dm]
    assert len(told) == 2, told
