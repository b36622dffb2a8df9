"""README's "How it works, for each kind of user": **Employees**, promise by promise.

`/timeoff` and the words after it, the request form and its live preview, the shortcut and App Home's
button for people who may not request, the receipt DM and its buttons, and the person's own day. Each
test goes through signed, Slack-shaped requests (slash commands, block_actions in a modal, view
submissions, shortcuts, App Home events); what people see is read off the fake Slack's recorded calls.
"""

import json
import types
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from approvals import block_ids as ids
from fake_slack.personas import C_ENG, C_ENG_APPROVALS, CAROL
from test_support.flows import (
    ALICE,
    BOB,
    DAVE,
    ENGINEERING,
    HR,
    MONDAY,
    VACATION,
    WEDNESDAY,
    buttons_in,
    click,
    dms_to,
    install_config,
    open_app_home,
    posted_requests,
    press,
    request_time_off,
    standard_config,
)
from test_support.home_views import shown_text
from test_support.posted import receipt_call, receipt_now
from test_support.request_form import Form, empty_state, open_form
from test_support.slack_requests import (
    post_command,
    post_interaction,
    shortcut_payload,
    view_block_actions_payload,
)

pytestmark = pytest.mark.django_db

TUESDAY = MONDAY + timedelta(days=1)
FRIDAY = MONDAY + timedelta(days=4)
NEXT_MONDAY = MONDAY + timedelta(days=7)
NEXT_FRIDAY = MONDAY + timedelta(days=11)
ONLY_DAVE_REQUESTS = dict(requesters_users=(DAVE,))


# --- What the tests read and do ---------------------------------------------------------------------


def as_dict(view) -> dict:
    return json.loads(view) if isinstance(view, str) else view


def command(client, user: str, text: str):
    response = post_command(client, text, user_id=user)
    assert response.status_code == 200, response.content
    return response


def said(response) -> str:
    """The command's own (ephemeral) answer."""
    assert response.content, "the command answered with nothing (a form opened?)"
    return response.json()["text"]


def prefilled(view: dict) -> tuple:
    """(leave type, first day, last day) the request form opened with."""
    elements = {b.get("block_id"): b.get("element", {}) for b in view["blocks"] if b.get("type") == "input"}
    option = elements[ids.TYPE_BLOCK].get("initial_option") or {}
    return option.get("value"), elements[ids.START_BLOCK].get("initial_date"), elements[ids.END_BLOCK].get(
        "initial_date")


def opened_with(client, fake_slack, text: str, user: str = ALICE) -> tuple:
    """`/timeoff text` asked twice (the second with the person's team and zone known): the form's pre-fill."""
    command(client, user, text)
    before = len(fake_slack.calls("views.open"))
    response = command(client, user, text)
    assert response.content == b"", response.json()
    [opened] = fake_slack.calls("views.open")[before:]
    return prefilled(as_dict(opened.params["view"]))


def it_is(monkeypatch, moment: datetime) -> None:
    """The instant the app takes for "now" when it works out what day it is for someone."""
    from approvals import selectors

    monkeypatch.setattr(selectors, "time", types.SimpleNamespace(time=lambda: moment.timestamp()))


def notice_text(view: dict) -> str:
    return " ".join(block["text"]["text"] for block in view["blocks"] if block.get("type") == "section")


def the_request_payload(fake_slack) -> dict:
    [message] = [m for m in fake_slack.workspace.messages(C_ENG_APPROVALS)
                 if m.metadata and m.metadata.get("event_type") == "timeoff_request"]
    return message.metadata["event_payload"]


# --- The form's live preview -------------------------------------------------------------------------


def test_the_preview_of_sick_leave_says_in_the_readmes_words_that_it_needs_no_approval(client, fake_slack):
    """"For a type that needs no approval it says so ("Sick leave needs no approval: it is recorded at once")."""
    install_config()
    form = open_form(client, fake_slack)
    form.pick_type("sick")
    form.pick_dates(MONDAY, MONDAY)

    assert "Sick leave needs no approval: it is recorded at once." in form.preview(), form.preview()
    assert "Decided by" not in form.preview()
    form.pick_type("vacation")
    assert "Decided by the Engineering approvers." in form.preview(), form.preview()
    assert "needs no approval" not in form.preview()


def test_going_over_the_allowance_is_said_by_the_balance_line_and_refused_only_on_sending(client, fake_slack):
    """"Two refusals are said otherwise: the allowance by the balance line ("2 days over the 25")"."""
    install_config(standard_config(leave_types=(replace(VACATION, annual_allowance_days=Decimal(1)),)))
    form = open_form(client, fake_slack)
    form.pick_type("vacation")
    form.pick_dates(MONDAY, WEDNESDAY)

    preview = form.preview()
    assert ":bar_chart: After this request: 2 days over the 1 day of Vacation in 2031" in preview, preview
    assert ":warning:" not in preview, preview  # said by the balance line, not as a warning
    response = form.submit()
    assert response.content and response.json()["response_action"] == "errors", response.content
    assert posted_requests(fake_slack) == []


def test_a_full_team_is_not_warned_of_in_the_preview_but_refused_when_the_form_is_sent(client, fake_slack):
    """"… and `max_out` only on sending": Dave is off that Tuesday and Engineering allows one person out."""
    install_config(standard_config(teams=(replace(ENGINEERING, max_out=1),)))
    request_time_off(client, fake_slack, DAVE, start=TUESDAY, end=TUESDAY)
    [daves] = posted_requests(fake_slack)
    assert click(client, fake_slack, BOB, ids.APPROVE_ACTION, daves).status_code == 200
    assert the_request_payload(fake_slack)["status"] == "approved"

    form = open_form(client, fake_slack)
    form.pick_type("vacation")
    form.pick_dates(MONDAY, WEDNESDAY)
    assert ":warning:" not in form.preview(), form.preview()

    response = form.submit()
    told = json.dumps(response.json()["errors"]) if response.content else " ".join(dms_to(fake_slack, ALICE))
    assert "is full for Engineering" in told and "at most 1 can be out at once" in told, told
    assert len(posted_requests(fake_slack)) == 1  # Dave's only


def test_an_edit_moved_to_the_week_after_is_not_counted_next_to_its_own_old_dates(client, fake_slack):
    """An *Edit* form does not count the request it edits: moving Mon–Fri to the Mon–Fri after is five days in
    a row, not ten, for a type that allows seven."""
    install_config(standard_config(leave_types=(replace(VACATION, max_consecutive_days=7),)))
    request_time_off(client, fake_slack, ALICE, start=MONDAY, end=FRIDAY)
    _, blocks = receipt_now(fake_slack)
    press(client, ALICE, blocks, ids.EDIT_ACTION, channel=receipt_call(fake_slack).response["channel"],
          ts=receipt_call(fake_slack).response["ts"])
    form = Form(client, fake_slack, ALICE, fake_slack.last_call("views.open").response["view"]["id"])
    form.entered[ids.TYPE_BLOCK] = empty_state(
        next(b for b in form.shown["blocks"] if b.get("block_id") == ids.TYPE_BLOCK))
    form.pick_dates(NEXT_MONDAY, NEXT_FRIDAY)

    assert ":warning:" not in form.preview(), form.preview()
    assert form.submit().content == b""
    payload = the_request_payload(fake_slack)
    assert (payload["start"], payload["end"], payload["status"]) == (NEXT_MONDAY.isoformat(),
                                                                     NEXT_FRIDAY.isoformat(), "pending")


# --- Who may request: the requesters policy ------------------------------------------------------------


def test_someone_outside_the_requesters_policy_is_told_by_the_command_that_they_may_not_request(client, fake_slack):
    install_config(standard_config(**ONLY_DAVE_REQUESTS))
    command(client, ALICE, "")
    before = len(fake_slack.calls("views.open"))

    text = said(command(client, ALICE, "2031-03-10 vacation"))

    assert "you are not among the people who may request time off here" in text, text
    assert f"<@{HR}>" in text, text  # who to ask
    assert len(fake_slack.calls("views.open")) == before


def test_the_shortcut_tells_someone_outside_the_requesters_policy_why_in_a_small_window(client, fake_slack):
    install_config(standard_config(**ONLY_DAVE_REQUESTS))
    post_interaction(client, shortcut_payload(user_id=ALICE, callback_id=ids.REQUEST_SHORTCUT))
    response = post_interaction(client, shortcut_payload(user_id=ALICE, callback_id=ids.REQUEST_SHORTCUT))

    assert response.status_code == 200 and response.content == b""
    view = as_dict(fake_slack.last_call("views.open").params["view"])
    assert view.get("callback_id") != ids.REQUEST_MODAL
    assert "you are not among the people who may request time off here" in notice_text(view), view


def test_the_shortcut_used_for_the_first_time_by_someone_outside_the_requesters_policy_opens_no_request_form(
        client, fake_slack):
    """The requesters are named users: nothing needs asking of Slack to know Alice is not one of them, so
    even her first use of the shortcut is told why rather than handed a form that cannot be sent."""
    install_config(standard_config(**ONLY_DAVE_REQUESTS))
    response = post_interaction(client, shortcut_payload(user_id=ALICE, callback_id=ids.REQUEST_SHORTCUT))

    assert response.status_code == 200
    view = as_dict(fake_slack.last_call("views.open").params["view"])
    assert view.get("callback_id") != ids.REQUEST_MODAL, "a request form opened for someone who may not request"
    assert "may request time off" in notice_text(view)


def test_app_homes_request_button_tells_someone_outside_the_requesters_policy_why(client, fake_slack):
    install_config()
    home = open_app_home(client, fake_slack, ALICE, event_id="EvHomeAlice1")
    block_id, value = buttons_in(home["blocks"])[ids.NEW_REQUEST_ACTION]
    install_config(standard_config(**ONLY_DAVE_REQUESTS))  # HR narrows who may request; her tab still shows it
    command(client, ALICE, "list")  # her team and membership are known

    response = post_interaction(client, view_block_actions_payload(
        user_id=ALICE, action_id=ids.NEW_REQUEST_ACTION, value=value, block_id=block_id, view=home))

    assert response.status_code == 200
    view = as_dict(fake_slack.last_call("views.open").params["view"])
    assert view.get("callback_id") != ids.REQUEST_MODAL
    assert "you are not among the people who may request time off here" in notice_text(view), view


def test_before_any_leave_type_is_configured_typing_one_is_told_time_off_is_not_set_up(client, fake_slack):
    """People told to type `/timeoff vacation` before HR has added leave types hear that time off isn't set
    up yet, not that `vacation` is a word the command does not understand."""
    install_config(standard_config(leave_types=()))
    text = said(command(client, ALICE, "vacation"))
    assert "Time off isn't set up yet" in text, text


# --- Dates typed after /timeoff -------------------------------------------------------------------------


def test_days_of_one_month_typed_in_early_january_are_of_one_year(client, fake_slack, monkeypatch):
    """`Dec 1-5` typed on 2 January: 1 December is more than a month back and 5 December less, but days of
    one month are one range; the form must not open on 1 Dec 2027 – 5 Dec 2026."""
    install_config()
    it_is(monkeypatch, datetime(2027, 1, 2, 20, 0, tzinfo=timezone.utc))  # noon on 2 January in California

    leave_type, start, end = opened_with(client, fake_slack, "Dec 1-5 vacation")

    assert leave_type == "vacation"
    assert start and end and start <= end, (start, end)
    assert start[:4] == end[:4], (start, end)
    assert (start[5:], end[5:]) == ("12-01", "12-05")


def test_a_range_typed_without_years_is_never_opened_back_to_front(client, fake_slack, monkeypatch):
    """`Nov 2 to Nov 6` typed on 4 December: the first day just over a month back, the last within it."""
    install_config()
    it_is(monkeypatch, datetime(2026, 12, 4, 20, 0, tzinfo=timezone.utc))

    _, start, end = opened_with(client, fake_slack, "Nov 2 to Nov 6")

    assert start and end and start <= end and start[:4] == end[:4], (start, end)


def test_29_february_with_the_year_typed_on_the_ranges_other_end_is_that_years(client, fake_slack, monkeypatch):
    """"A year typed on one end only is the range's": `Feb 29 to Mar 3 2028` is 29 February 2028 to 3 March,
    not a question about which year 29 February is in."""
    install_config()
    it_is(monkeypatch, datetime(2026, 12, 4, 20, 0, tzinfo=timezone.utc))

    assert opened_with(client, fake_slack, "Feb 29 to Mar 3 2028 vacation") == ("vacation", "2028-02-29",
                                                                                 "2028-03-03")


def test_yesterday_is_the_persons_own_yesterday_on_a_california_evening(client, fake_slack, monkeypatch):
    """At 18:00 on Tuesday in California it is already Wednesday in UTC: `yesterday` is Monday for Alice."""
    install_config()
    it_is(monkeypatch, datetime(2031, 3, 12, 1, 0, tzinfo=timezone.utc))  # Tue 11 March, 18:00 in Los Angeles

    assert opened_with(client, fake_slack, "yesterday sick") == ("sick", MONDAY.isoformat(), MONDAY.isoformat())
    assert opened_with(client, fake_slack, "tomorrow") == (None, WEDNESDAY.isoformat(), WEDNESDAY.isoformat())


def test_a_month_named_range_with_until_and_a_full_stop_fills_in_the_form(client, fake_slack):
    """`21 Dec 2031 until 23 Dec 2031.` with the leave type by its name in another case."""
    install_config()
    assert opened_with(client, fake_slack, "VACATION 21 Dec 2031 until 23 Dec 2031.") == (
        "vacation", "2031-12-21", "2031-12-23")


def test_half_days_at_both_ends_of_a_three_day_request_are_two_days(client, fake_slack):
    """"first day: afternoon only", "last day: morning only": Monday afternoon to Wednesday morning."""
    install_config()
    form = open_form(client, fake_slack)
    form.pick_type("vacation")
    [half] = [b for b in form.shown["blocks"] if b.get("block_id") == ids.HALF_BLOCK]
    labels = {o["value"]: o["text"]["text"] for o in half["element"]["options"]}
    assert labels == {ids.HALF_START_PM: "First day: afternoon only", ids.HALF_END_AM: "Last day: morning only"}
    form.pick_dates(MONDAY, WEDNESDAY)
    options = [{"text": {"type": "plain_text", "text": labels[v], "emoji": True}, "value": v}
               for v in (ids.HALF_START_PM, ids.HALF_END_AM)]
    form.entered[ids.HALF_BLOCK] = {"type": "checkboxes", "selected_options": options}
    form._act({"type": "checkboxes", "action_id": ids.HALF_ACTION, "block_id": ids.HALF_BLOCK,
               "selected_options": options})

    assert form.preview().startswith("*2 working days*"), form.preview()
    assert form.submit().content == b""
    payload = the_request_payload(fake_slack)
    assert (payload["start_half"], payload["end_half"], float(payload["days"])) == ("pm", "am", 2.0)


# --- The receipt and its buttons ------------------------------------------------------------------------


def test_the_receipt_of_sick_leave_recorded_at_once_offers_cancel_leave_and_not_edit_or_withdraw(client, fake_slack):
    """Leave types that need no approval are recorded as approved at once; the receipt carries the buttons
    that apply: *Cancel leave* once it is approved."""
    install_config()
    request_time_off(client, fake_slack, ALICE, leave_type="sick", start=MONDAY, end=MONDAY)

    assert the_request_payload(fake_slack)["status"] == "approved"
    text, blocks = receipt_now(fake_slack)
    assert "needs no approval" in text, text
    assert set(buttons_in(blocks)) == {ids.CANCEL_ACTION}, buttons_in(blocks)


def test_the_receipt_names_the_approvers_and_is_rewritten_to_cancel_leave_once_approved(client, fake_slack):
    """"Your request … is with @Bob, @Dave", with Edit and Withdraw; after Bob approves, Cancel leave only."""
    install_config()
    request_time_off(client, fake_slack, ALICE)
    text, blocks = receipt_now(fake_slack)
    assert text.startswith("Your request for ") and f"is with <@{BOB}>, <@{DAVE}>" in text, text
    assert set(buttons_in(blocks)) == {ids.EDIT_ACTION, ids.WITHDRAW_ACTION}

    [posted] = posted_requests(fake_slack)
    click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted)

    text, blocks = receipt_now(fake_slack)
    assert f"<@{BOB}> approved your request for" in text, text
    assert set(buttons_in(blocks)) == {ids.CANCEL_ACTION}

    press(client, ALICE, blocks, ids.CANCEL_ACTION, channel=receipt_call(fake_slack).response["channel"],
          ts=receipt_call(fake_slack).response["ts"])
    text, blocks = receipt_now(fake_slack)
    assert text.startswith(":no_entry_sign: Cancelled"), text
    assert buttons_in(blocks) == {}
    corrections = [c.params["text"] for c in fake_slack.calls("chat.postMessage")
                   if c.params.get("channel") == C_ENG and "after all" in c.params.get("text", "")]
    assert corrections and f"<@{ALICE}> will not be out" in corrections[-1], corrections


# --- App Home ------------------------------------------------------------------------------------------


def test_app_home_for_someone_in_no_team_says_who_to_ask(client, fake_slack):
    """"Someone in no team is told so, and who to ask (the fallback approvers)", on App Home as by command."""
    install_config()
    open_app_home(client, fake_slack, CAROL, event_id="EvHomeCarol1")
    home = open_app_home(client, fake_slack, CAROL, event_id="EvHomeCarol2")
    text = shown_text(home)
    assert "no team is configured for you" in text.lower() and f"<@{HR}>" in text, text
    answered = said(command(client, CAROL, ""))
    assert "no team is configured for you" in answered and f"<@{HR}>" in answered, answered
