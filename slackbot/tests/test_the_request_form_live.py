"""The /timeoff request form as a person fills it in, one Slack block_actions at a time.

Each change of the leave type, a date or a half-day box reaches us as the block_actions Slack sends for an
input in a modal (a `view` container, the view as Slack holds it with its `hash` and `state.values`); the
form is redrawn with views.update on the fake Slack, which keeps the view and its hash as Slack does. The
assertions are on what crossed the wire (views.update, chat.postMessage) and on what a submission answers.
"""

import json
import types
from dataclasses import replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from approvals import block_ids as ids
from approvals import messages
from approvals.config_types import BlackoutConfig, HolidayConfig, LeaveTypeConfig
from fake_slack.personas import C_ENG_APPROVALS
from test_support.request_form import Form, open_form
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
    click,
    dms_to,
    install_config,
    metadata_payload,
    posted_requests,
    press,
    request_status,
    request_time_off,
    standard_config,
)
from test_support.slack_requests import (
    APP_ID,
    SLACK_TEAM,
    block_actions_payload,
    post_command,
    post_interaction,
    slack_user,
)

pytestmark = pytest.mark.django_db

LA = ZoneInfo("America/Los_Angeles")
TUESDAY = MONDAY + timedelta(days=1)
THURSDAY = MONDAY + timedelta(days=3)
FRIDAY = MONDAY + timedelta(days=4)
NEXT_MONDAY = MONDAY + timedelta(days=7)
NEXT_FRIDAY = MONDAY + timedelta(days=11)

UNPAID_TRAINING = LeaveTypeConfig(code="training", name="Training", emoji=":books:", requires_approval=True,
                                  annual_allowance_days=Decimal(0))


# --- The form as Slack holds it, and the person's clicks in it -------------------------------------------


def updates_of(fake_slack, form: Form) -> list:
    return [c for c in fake_slack.calls("views.update") if c.params.get("view_id") == form.view_id]


def preview_in(call) -> str:
    view = call.params["view"]
    view = json.loads(view) if isinstance(view, str) else view
    [block] = [b for b in view["blocks"] if b.get("block_id") == ids.PREVIEW_BLOCK]
    return block["elements"][0]["text"]


def errors_of(response) -> dict:
    body = response.json()
    assert body["response_action"] == "errors", body
    return body["errors"]


def clock_at(monkeypatch, moment: datetime) -> None:
    """The instant the app takes for "now" when it works out what day it is for someone."""
    from approvals import selectors

    monkeypatch.setattr(selectors, "time", types.SimpleNamespace(time=lambda: moment.timestamp()))


# --- Picking a leave type ----------------------------------------------------------------------------------


def test_choosing_a_type_without_half_days_takes_the_half_day_choices_off_the_form(client, fake_slack):
    install_config()
    form = open_form(client, fake_slack)
    assert ids.HALF_BLOCK in form.input_blocks()
    opened_hash = form.shown["hash"]
    fake_slack.clear_calls()

    form.pick_type("medical")

    [update] = fake_slack.calls("views.update")
    assert update.params["view_id"] == form.view_id and update.params["hash"] == opened_hash
    assert update.response["ok"] is True
    assert ids.HALF_BLOCK not in form.input_blocks()
    assert form.shown["blocks"][0]["element"]["initial_option"]["value"] == "medical"


def test_choosing_a_half_day_type_again_brings_the_half_day_choices_back(client, fake_slack):
    install_config()
    form = open_form(client, fake_slack)
    form.pick_type("medical")
    after_medical = form.shown["hash"]

    form.pick_type("vacation")

    assert updates_of(fake_slack, form)[-1].params["hash"] == after_medical  # each redraw names the view it saw
    assert form.input_blocks() == [ids.TYPE_BLOCK, ids.START_BLOCK, ids.END_BLOCK, ids.HALF_BLOCK, ids.NOTE_BLOCK]


def test_a_half_day_ticked_before_choosing_a_type_without_half_days_is_neither_counted_nor_sent(client, fake_slack):
    install_config()
    form = open_form(client, fake_slack)
    form.pick_type("vacation")
    form.pick_start(MONDAY)
    form.pick_end(WEDNESDAY)
    form.tick_halves(ids.HALF_START_PM)
    assert "2.5 working days" in form.preview(), form.preview()

    form.pick_type("medical")  # the click still carries the ticked box: the half-day block was on screen
    assert "3 working days" in form.preview(), form.preview()

    response = form.submit()
    assert response.status_code == 200 and response.content == b"", response.content
    event = metadata_payload(posted_requests(fake_slack)[0])
    assert (event["type"], event["days"], event.get("start_half")) == ("medical", 3, None)


# --- Dates and the live preview -----------------------------------------------------------------------------


def test_the_preview_counts_working_days_without_a_company_day_and_shows_the_balance_after(client, fake_slack):
    install_config(standard_config(holidays=(HolidayConfig(date=WEDNESDAY, name="Offsite"),)))
    form = open_form(client, fake_slack)
    form.pick_type("vacation")
    form.pick_start(MONDAY)
    form.pick_end(FRIDAY)

    text = preview_in(updates_of(fake_slack, form)[-1])
    assert "4 working days" in text, text
    assert "21 of 25" in text and "Vacation" in text, text
    assert "Engineering" in text, text


def test_the_preview_follows_each_date_as_it_changes(client, fake_slack):
    install_config()
    form = open_form(client, fake_slack)
    form.pick_type("vacation")
    form.pick_start(MONDAY)
    assert "Pick your dates" in form.preview()  # one date is not a request yet
    form.pick_end(MONDAY)
    assert "1 working day" in form.preview() and "24 of 25" in form.preview(), form.preview()
    form.pick_end(NEXT_FRIDAY)
    assert "10 working days" in form.preview() and "15 of 25" in form.preview(), form.preview()


def test_dates_picked_in_the_wrong_order_are_flagged_at_once_and_refused_under_the_last_day(client, fake_slack):
    install_config()
    form = open_form(client, fake_slack)
    form.pick_type("vacation")
    form.pick_start(WEDNESDAY)
    form.pick_end(MONDAY)

    assert "before the first" in form.preview(), form.preview()
    errors = errors_of(form.submit())
    assert set(errors) == {ids.END_BLOCK}, errors
    assert posted_requests(fake_slack) == []


def test_a_teammate_already_off_those_days_is_named_in_the_preview(client, fake_slack):
    install_config()
    request_time_off(client, fake_slack, DAVE, start=TUESDAY, end=THURSDAY)
    click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted_requests(fake_slack)[0])

    form = open_form(client, fake_slack)
    form.pick_type("vacation")
    form.pick_start(MONDAY)
    form.pick_end(WEDNESDAY)

    assert f"<@{DAVE}>" in form.preview() and "approved" in form.preview(), form.preview()


def test_a_teammate_off_other_days_is_not_named_in_the_preview(client, fake_slack):
    install_config()
    request_time_off(client, fake_slack, DAVE, start=NEXT_MONDAY, end=NEXT_FRIDAY)

    form = open_form(client, fake_slack)
    form.pick_type("vacation")
    form.pick_start(MONDAY)
    form.pick_end(WEDNESDAY)

    assert f"<@{DAVE}>" not in form.preview() and "Nobody else" in form.preview(), form.preview()


def test_both_halves_of_one_day_are_flagged_in_the_preview_and_refused(client, fake_slack):
    install_config()
    form = open_form(client, fake_slack)
    form.pick_type("vacation")
    form.pick_start(MONDAY)
    form.pick_end(MONDAY)
    form.tick_halves(ids.HALF_START_PM, ids.HALF_END_AM)

    assert ":warning:" in form.preview(), form.preview()
    errors = errors_of(form.submit())
    assert set(errors) <= set(form.input_blocks()), errors
    assert posted_requests(fake_slack) == []


# --- Types with no allowance, no limit, no approval ------------------------------------------------------------


def test_a_type_with_no_yearly_limit_shows_no_balance_line(client, fake_slack):
    install_config()
    form = open_form(client, fake_slack)
    form.pick_type("medical")
    form.pick_start(MONDAY)
    form.pick_end(MONDAY)

    assert "1 working day" in form.preview(), form.preview()
    assert "After this request" not in form.preview(), form.preview()


def test_a_type_with_no_allowance_says_it_is_over_and_is_refused_under_the_dates(client, fake_slack):
    install_config(standard_config(leave_types=(VACATION, SICK, MEDICAL, UNPAID_TRAINING)))
    form = open_form(client, fake_slack)
    form.pick_type("training")
    form.pick_start(MONDAY)
    form.pick_end(WEDNESDAY)

    assert "3 days over the 0 days of Training" in form.preview(), form.preview()
    errors = errors_of(form.submit())
    assert set(errors) <= set(form.input_blocks()), errors
    assert "Training" in " ".join(errors.values()), errors
    assert posted_requests(fake_slack) == []


def test_the_preview_of_a_type_needing_no_approval_does_not_say_the_approvers_decide(client, fake_slack):
    # Sick leave is recorded at once ("It needs no approval", says the receipt): a preview saying the
    # Engineering approvers decide tells the person to wait for a decision that never comes.
    install_config()
    form = open_form(client, fake_slack)
    form.pick_type("sick")
    form.pick_start(MONDAY)
    form.pick_end(MONDAY)

    assert "Decided by" not in form.preview(), form.preview()
    assert "no approval" in form.preview().lower() or "at once" in form.preview().lower(), form.preview()


def test_the_preview_of_a_private_type_says_the_team_sees_only_that_the_person_is_away(client, fake_slack):
    install_config()
    form = open_form(client, fake_slack)
    form.pick_type("sick")
    assert "Sick leave is private: the team's channel and digests show only that you are away." in form.preview()
    form.pick_type("vacation")
    assert "private" not in form.preview(), form.preview()


def test_a_type_needing_no_approval_sent_from_the_form_closes_it_and_is_recorded_approved(client, fake_slack):
    install_config()
    form = open_form(client, fake_slack)
    form.pick_type("sick")
    form.pick_start(MONDAY)
    form.pick_end(MONDAY)

    response = form.submit()

    assert response.status_code == 200 and response.content == b""
    event = metadata_payload(posted_requests(fake_slack)[0])
    assert (event["status"], event["type"], event["days"]) == ("approved", "sick", 1)
    [receipt] = dms_to(fake_slack, ALICE)
    assert "needs no approval" in receipt


# --- Blackouts ---------------------------------------------------------------------------------------------


def freeze_config():
    return standard_config(blackouts=(BlackoutConfig(start=TUESDAY, end=THURSDAY, team="Engineering",
                                                     reason="Release freeze"),))


def test_dates_in_a_blackout_are_refused_in_the_form_with_its_reason(client, fake_slack):
    install_config(freeze_config())
    form = open_form(client, fake_slack)
    form.pick_type("vacation")
    form.pick_start(MONDAY)
    form.pick_end(WEDNESDAY)

    errors = errors_of(form.submit())

    assert set(errors) <= {ids.START_BLOCK, ids.END_BLOCK}, errors
    assert "Release freeze" in " ".join(errors.values()), errors
    assert posted_requests(fake_slack) == []


def test_the_preview_warns_of_a_blackout_before_the_form_is_sent(client, fake_slack):
    # The preview already warns of what sending would refuse (dates in the wrong order, both halves of one
    # day); a freeze HR declared for those days is refused the same way, and is known from the configuration.
    install_config(freeze_config())
    form = open_form(client, fake_slack)
    form.pick_type("vacation")
    form.pick_start(MONDAY)
    form.pick_end(WEDNESDAY)

    assert "Release freeze" in form.preview() or "blackout" in form.preview().lower(), form.preview()


def test_the_preview_warns_of_a_past_first_day_in_the_words_sending_would_refuse_it(client, fake_slack):
    install_config()
    form = open_form(client, fake_slack)
    form.pick_type("vacation")
    last_week = date.today() - timedelta(days=7)
    form.pick_start(last_week)
    form.pick_end(last_week + timedelta(days=1))

    assert ":warning: Vacation can't start in the past." in form.preview(), form.preview()
    assert "past" in " ".join(errors_of(form.submit()).values())


def test_the_preview_warns_of_more_days_in_a_row_than_the_type_allows(client, fake_slack):
    install_config(standard_config(leave_types=(replace(VACATION, max_consecutive_days=3), SICK)))
    form = open_form(client, fake_slack)
    form.pick_type("vacation")
    form.pick_start(MONDAY)
    form.pick_end(FRIDAY)

    assert ":warning: Vacation can be at most 3 working days in a row; this request is 5." in form.preview()


def test_the_preview_warns_of_leave_next_to_the_persons_own_that_makes_the_run_too_long(client, fake_slack):
    install_config(standard_config(leave_types=(replace(VACATION, max_consecutive_days=5), SICK)))
    request_time_off(client, fake_slack, ALICE, "vacation", MONDAY, WEDNESDAY)
    form = open_form(client, fake_slack)
    form.pick_type("vacation")
    form.pick_start(THURSDAY)
    form.pick_end(NEXT_MONDAY)

    assert "next to your other Vacation this makes 6" in form.preview(), form.preview()


def test_the_preview_warns_of_overlap_with_the_persons_own_pending_leave(client, fake_slack):
    install_config()
    request_time_off(client, fake_slack, ALICE, "vacation", MONDAY, WEDNESDAY)
    form = open_form(client, fake_slack)
    form.pick_type("vacation")
    form.pick_start(TUESDAY)
    form.pick_end(THURSDAY)

    assert ":warning: This overlaps your pending leave on" in form.preview(), form.preview()


def test_the_preview_of_dates_sending_would_accept_has_no_warning(client, fake_slack):
    install_config()
    request_time_off(client, fake_slack, ALICE, "vacation", MONDAY, WEDNESDAY)
    form = open_form(client, fake_slack)
    form.pick_type("vacation")
    form.pick_start(THURSDAY)
    form.pick_end(FRIDAY)

    assert ":warning:" not in form.preview(), form.preview()
    assert form.submit().content == b""


def test_the_edit_form_of_a_pending_request_does_not_warn_of_overlap_with_itself(client, fake_slack):
    install_config()
    request_time_off(client, fake_slack, ALICE, "vacation", MONDAY, WEDNESDAY)
    listed = post_command(client, "list", user_id=ALICE).json()
    press(client, ALICE, listed["blocks"], ids.EDIT_ACTION, on_list=True)
    form = Form(client, fake_slack, ALICE, fake_slack.last_call("views.open").response["view"]["id"])
    form.entered = {ids.TYPE_BLOCK: {"type": "static_select",
                                     "selected_option": {"text": {"type": "plain_text", "text": "Vacation"},
                                                         "value": "vacation"}},
                    ids.START_BLOCK: {"type": "datepicker", "selected_date": MONDAY.isoformat()}}
    form.pick_end(THURSDAY)

    assert "*4 working days*" in form.preview() and ":warning:" not in form.preview(), form.preview()


def test_a_refused_form_moved_out_of_the_blackout_is_accepted(client, fake_slack):
    install_config(freeze_config())
    form = open_form(client, fake_slack)
    form.pick_type("vacation")
    form.pick_start(MONDAY)
    form.pick_end(WEDNESDAY)
    errors_of(form.submit())

    form.pick_start(NEXT_MONDAY)
    form.pick_end(NEXT_FRIDAY)
    response = form.submit()

    assert response.status_code == 200 and response.content == b"", response.content
    event = metadata_payload(posted_requests(fake_slack)[0])
    assert (event["start"], event["end"]) == (NEXT_MONDAY.isoformat(), NEXT_FRIDAY.isoformat())


def test_a_refused_form_fixed_while_slack_would_not_redraw_it_is_still_accepted(client, fake_slack):
    # The redraw after the fix is rate limited: the view keeps its hash, and the form sent again is the
    # same view id and hash as the refused one, with other dates.
    install_config(freeze_config())
    form = open_form(client, fake_slack)
    form.pick_type("vacation")
    form.pick_start(MONDAY)
    form.pick_end(WEDNESDAY)
    errors_of(form.submit())

    fake_slack.fail("views.update", "ratelimited", times=2)
    form.pick_start(NEXT_MONDAY)
    form.pick_end(NEXT_FRIDAY)
    response = form.submit()

    assert response.status_code == 200 and response.content == b"", response.content
    event = metadata_payload(posted_requests(fake_slack)[0])
    assert (event["start"], event["end"]) == (NEXT_MONDAY.isoformat(), NEXT_FRIDAY.isoformat())


# --- Quick changes: redraws that cross -----------------------------------------------------------------------


def test_two_quick_date_changes_leave_the_preview_on_the_last_dates_when_the_first_redraw_lands_first(
        client, fake_slack):
    # Alice picks Monday as the last day and, before Slack has shown that redraw, Friday: both clicks carry
    # the hash of the view she saw. The first redraw lands and changes the hash; the second, the one with
    # her final dates, is answered hash_conflict. Her pickers say Mon–Fri; the preview must too.
    install_config()
    form = open_form(client, fake_slack)
    form.pick_type("vacation")
    form.pick_start(MONDAY)
    seen = form.shown["hash"]
    first = form.pick_end(MONDAY, send=False, view_hash=seen)
    second = form.pick_end(FRIDAY, send=False, view_hash=seen)
    fake_slack.clear_calls()

    form.send(first)
    form.send(second)

    assert "5 working days" in form.preview(), (form.preview(), [c.response for c in fake_slack.calls("views.update")])


def test_a_date_change_then_a_quick_switch_to_a_type_without_half_days_takes_the_half_days_away(
        client, fake_slack):
    # The date's redraw lands first; the switch to Medical appointment (no half days), sent from the same
    # view, is answered hash_conflict: the form keeps offering half days for a type that allows none.
    install_config()
    form = open_form(client, fake_slack)
    form.pick_type("vacation")
    form.pick_start(MONDAY)
    form.pick_end(WEDNESDAY)
    seen = form.shown["hash"]
    first = form.pick_end(FRIDAY, send=False, view_hash=seen)
    second = form.pick_type("medical", send=False, view_hash=seen)

    form.send(first)
    form.send(second)

    assert ids.HALF_BLOCK not in form.input_blocks(), form.preview()


def test_an_older_redraw_answered_after_a_newer_one_is_dropped_quietly(client, fake_slack):
    install_config()
    form = open_form(client, fake_slack)
    form.pick_type("vacation")
    form.pick_start(MONDAY)
    seen = form.shown["hash"]
    older = form.pick_end(MONDAY, send=False, view_hash=seen)
    newer = form.pick_end(FRIDAY, send=False, view_hash=seen)
    fake_slack.clear_calls()

    form.send(newer)
    form.send(older)

    assert "5 working days" in form.preview(), form.preview()
    assert dms_to(fake_slack, ALICE) == []
    assert len(fake_slack.calls("views.update")) <= 3  # no retry storm


# --- Left open: past midnight, and while HR changed the configuration ------------------------------------------


def test_a_form_left_open_past_midnight_refuses_a_first_day_that_is_now_yesterday(client, fake_slack, monkeypatch):
    install_config()
    clock_at(monkeypatch, datetime.combine(MONDAY, datetime.min.time(), tzinfo=LA) + timedelta(hours=23, minutes=50))
    form = open_form(client, fake_slack)
    form.pick_type("vacation")
    form.pick_start(MONDAY)  # today, for a few more minutes
    form.pick_end(WEDNESDAY)
    assert "3 working days" in form.preview(), form.preview()

    clock_at(monkeypatch, datetime.combine(TUESDAY, datetime.min.time(), tzinfo=LA) + timedelta(minutes=10))
    errors = errors_of(form.submit())

    assert set(errors) == {ids.START_BLOCK}, errors
    assert posted_requests(fake_slack) == []


def test_sick_leave_for_today_opened_before_midnight_is_still_accepted_after_it(client, fake_slack, monkeypatch):
    install_config()  # sick leave may be up to 3 days in the past
    clock_at(monkeypatch, datetime.combine(MONDAY, datetime.min.time(), tzinfo=LA) + timedelta(hours=23, minutes=50))
    form = open_form(client, fake_slack)
    form.pick_type("sick")
    form.pick_start(MONDAY)
    form.pick_end(MONDAY)

    clock_at(monkeypatch, datetime.combine(TUESDAY, datetime.min.time(), tzinfo=LA) + timedelta(minutes=10))
    response = form.submit()

    assert response.status_code == 200 and response.content == b"", response.content
    assert metadata_payload(posted_requests(fake_slack)[0])["start"] == MONDAY.isoformat()


def test_a_type_hr_deleted_while_the_form_was_open_is_refused_saying_it_is_no_longer_offered(client, fake_slack):
    install_config()
    form = open_form(client, fake_slack)
    form.pick_type("medical")
    form.pick_start(MONDAY)
    form.pick_end(MONDAY)
    install_config(standard_config(leave_types=(VACATION, SICK)))  # HR removed Medical appointment

    errors = errors_of(form.submit())

    assert set(errors) == {ids.TYPE_BLOCK}, errors
    # She did choose one: "Choose a leave type." sends her looking for a menu choice she already made.
    assert errors[ids.TYPE_BLOCK] != "Choose a leave type.", errors
    assert "Medical" in errors[ids.TYPE_BLOCK] or "no longer" in errors[ids.TYPE_BLOCK], errors


def test_a_redraw_after_hr_turned_off_half_days_drops_the_half_day_choices(client, fake_slack):
    install_config()
    form = open_form(client, fake_slack)
    form.pick_type("vacation")
    assert ids.HALF_BLOCK in form.input_blocks()
    install_config(standard_config(leave_types=(replace(VACATION, allow_half_days=False), SICK, MEDICAL)))

    form.pick_start(MONDAY)

    assert ids.HALF_BLOCK not in form.input_blocks()


def test_a_redraw_after_hr_raised_the_allowance_shows_the_new_balance(client, fake_slack):
    install_config()
    form = open_form(client, fake_slack)
    form.pick_type("vacation")
    form.pick_start(MONDAY)
    form.pick_end(WEDNESDAY)
    assert "22 of 25" in form.preview(), form.preview()
    install_config(standard_config(leave_types=(replace(VACATION, annual_allowance_days=Decimal(30)), SICK, MEDICAL)))

    form.pick_end(THURSDAY)

    assert "26 of 30" in form.preview(), form.preview()


def test_a_redraw_after_hr_added_a_leave_type_offers_it(client, fake_slack):
    install_config()
    form = open_form(client, fake_slack)
    install_config(standard_config(leave_types=(VACATION, SICK, MEDICAL, UNPAID_TRAINING)))

    form.pick_start(MONDAY)

    assert [o["value"] for o in form._type_options()] == ["vacation", "sick", "medical", "training"]


# --- Closing ------------------------------------------------------------------------------------------------


def test_closing_the_form_is_acknowledged_and_sends_nothing(client, fake_slack):
    install_config()
    form = open_form(client, fake_slack)
    form.pick_type("vacation")
    form.pick_start(MONDAY)
    form.pick_end(WEDNESDAY)
    view = {**form.shown, "state": {"values": form.state()}}
    fake_slack.clear_calls()

    payload = {"type": "view_closed", "team": {"id": SLACK_TEAM, "domain": "acme"}, "user": slack_user(ALICE),
               "api_app_id": APP_ID, "token": "verification-token-unused", "view": view, "is_cleared": False,
               "enterprise": None, "is_enterprise_install": False}
    response = post_interaction(client, payload)

    assert response.status_code == 200 and response.content == b""
    assert fake_slack.calls() == []
    assert posted_requests(fake_slack) == []


def test_after_closing_the_form_the_same_dates_can_be_asked_for_in_a_new_one(client, fake_slack):
    install_config()
    form = open_form(client, fake_slack)
    form.pick_type("vacation")
    form.pick_start(MONDAY)
    form.pick_end(WEDNESDAY)
    fake_slack.workspace.views.pop(form.view_id)  # closed with Cancel

    again = open_form(client, fake_slack, warm=False)
    again.pick_type("vacation")
    again.pick_start(MONDAY)
    again.pick_end(WEDNESDAY)
    assert "22 of 25" in again.preview(), again.preview()  # the closed form held nothing back
    assert again.submit().content == b""
    assert len(posted_requests(fake_slack)) == 1


# --- Submitting what the form shows -------------------------------------------------------------------------


def test_the_form_sent_after_several_changes_posts_what_it_shows_last(client, fake_slack):
    install_config()
    form = open_form(client, fake_slack)
    form.pick_type("medical")
    form.pick_start(MONDAY)
    form.pick_end(WEDNESDAY)
    form.pick_type("vacation")
    form.pick_end(FRIDAY)
    form.tick_halves(ids.HALF_END_AM)
    form.type_note("Back Friday noon")

    response = form.submit()

    assert response.status_code == 200 and response.content == b"", response.content
    [posted] = posted_requests(fake_slack)
    event = metadata_payload(posted)
    assert (event["type"], event["start"], event["end"], event.get("end_half"), event["days"]) == (
        "vacation", MONDAY.isoformat(), FRIDAY.isoformat(), "am", 4.5)
    assert "Back Friday noon" in json.dumps(posted.params["blocks"])


def test_a_request_across_new_year_shows_the_balance_after_it_in_each_year(client, fake_slack):
    install_config()
    form = open_form(client, fake_slack)
    form.pick_type("vacation")
    form.pick_start(date(2031, 12, 29))
    form.pick_end(date(2032, 1, 2))  # Mon 29 Dec – Fri 2 Jan; 1 January is a US holiday

    text = form.preview()
    assert "4 working days" in text, text
    assert "22 of 25 days of Vacation left in 2031" in text and "24 of 25 days of Vacation left in 2032" in text, text


def test_a_form_prefilled_from_the_command_shows_its_preview_when_it_opens(client, fake_slack):
    install_config()
    form = open_form(client, fake_slack, text=f"{MONDAY} {WEDNESDAY} vacation")
    assert "3 working days" in form.preview() and "22 of 25" in form.preview(), form.preview()


# --- HR's record form ---------------------------------------------------------------------------------------


def test_hrs_record_form_preview_does_not_say_approvers_will_decide_leave_recorded_at_once(client, fake_slack):
    # "Recording time off for @Alice: approved at once", says the top of the form; the preview under it
    # must not then say the Engineering approvers decide.
    install_config()
    post_command(client, "", user_id=ALICE)  # Alice used the app: her team and zone are known
    response = post_command(client, f"for <@{ALICE}|alice>", user_id=HR)
    assert response.status_code == 200 and response.content == b"", response.content
    form = Form(client, fake_slack, HR, fake_slack.last_call("views.open").response["view"]["id"])
    form.pick_type("vacation")
    form.pick_start(MONDAY)
    form.pick_end(WEDNESDAY)

    shown = form.shown
    assert shown["title"]["text"] == "Record time off" and json.loads(shown["private_metadata"]) == {"for": ALICE}
    assert "3 working days" in form.preview() and "22 of 25" in form.preview(), form.preview()
    assert "Decided by" not in form.preview(), form.preview()


# --- The edit form from the receipt DM -------------------------------------------------------------------------


def open_edit_from_receipt(client, fake_slack, **request) -> Form:
    install_config()
    request_time_off(client, fake_slack, ALICE, **request)
    [receipt] = [c for c in fake_slack.calls("chat.postMessage") if c.params.get("channel") == ALICE
                 and "is with" in c.params.get("text", "")]
    buttons = {e["action_id"]: (b["block_id"], e["value"]) for b in receipt.params["blocks"]
               if b.get("type") == "actions" for e in b["elements"] if "value" in e}
    block_id, value = buttons[ids.EDIT_ACTION]
    response = post_interaction(client, block_actions_payload(
        user_id=ALICE, action_id=ids.EDIT_ACTION, value=value, block_id=block_id,
        channel_id=receipt.response["channel"], message_ts=receipt.response["ts"]))
    assert response.status_code == 200
    opened = fake_slack.last_call("views.open").response["view"]
    return Form(client, fake_slack, ALICE, opened["id"])


def test_the_edit_form_stays_an_edit_of_the_same_request_through_its_redraws(client, fake_slack):
    form = open_edit_from_receipt(client, fake_slack)
    request_id = request_status(fake_slack)["id"]
    form.pick_type("medical")
    form.pick_end(FRIDAY)

    shown = form.shown
    # The request, and its version as the form first showed it (not as redrawn): what someone else may change.
    assert json.loads(shown["private_metadata"]) == {"edit": request_id, "v": messages.version_of(
        "vacation", MONDAY, WEDNESDAY, None, None), "of": ["Engineering", C_ENG_APPROVALS]}
    assert shown["title"]["text"] == "Edit request" and shown["submit"]["text"] == "Save changes"
    [note] = [b for b in shown["blocks"] if b.get("block_id") == ids.NOTE_BLOCK]
    assert "keeps the old one" in note["label"]["text"]


def test_an_edit_with_a_half_day_changed_to_a_type_without_half_days_saves_whole_days(client, fake_slack):
    form = open_edit_from_receipt(client, fake_slack, halves=(ids.HALF_START_PM,))
    assert ids.HALF_BLOCK in form.input_blocks()
    assert "2.5 working days" in form.preview(), form.preview()

    form.pick_type("medical")
    assert ids.HALF_BLOCK not in form.input_blocks()
    response = form.submit()

    assert response.status_code == 200 and response.content == b"", response.content
    status = request_status(fake_slack)
    assert (status["type"], status["days"], status.get("start_half")) == ("medical", 3, None), status


def test_hr_editing_someones_request_sees_their_days_and_balance_as_dates_change(client, fake_slack):
    install_config()
    request_time_off(client, fake_slack, ALICE)  # Mon–Wed, 3 of her 25
    listed = post_command(client, f"for <@{ALICE}|alice> list", user_id=HR)
    assert listed.status_code == 200
    blocks = listed.json().get("blocks") if listed.content else None
    if not blocks:  # a cold cache: the list came to HR by DM
        [dm] = [c for c in fake_slack.calls("chat.postMessage") if c.params.get("channel") == HR]
        blocks = dm.params["blocks"]
    buttons = {e["action_id"]: (b["block_id"], e["value"]) for b in blocks if b.get("type") == "actions"
               for e in b["elements"] if "value" in e}
    block_id, value = buttons[ids.EDIT_ACTION]
    post_interaction(client, block_actions_payload(user_id=HR, action_id=ids.EDIT_ACTION, value=value,
                                                   block_id=block_id, channel_id="C_GENERAL"))
    opened = fake_slack.last_call("views.open").response["view"]
    form = Form(client, fake_slack, HR, opened["id"])

    form.pick_end(FRIDAY)

    assert "5 working days" in form.preview() and "20 of 25" in form.preview(), form.preview()
    assert "No team is configured for you" not in form.preview(), form.preview()
