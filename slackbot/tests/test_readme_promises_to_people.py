"""README's "How it works, for each kind of user", sentence by sentence, at its edges.

Each test takes one concrete promise of that section (a date typed one way or another, what the form's
preview says, what a receipt or a refusal says, what HR may and may not do for someone, what happens over
New Year and in the person's own time zone) and checks it the way people meet it: signed Slack-shaped
commands, button clicks and form submissions, with what they hear read off the fake Slack's wire.
"""

import json
from dataclasses import replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from approvals import block_ids as ids
from approvals.config_types import ApproverSource, MemberSource, TeamConfig
from approvals.rules import APPROVED, CANCELLED, PENDING, LedgerEntry
from fake_slack.ledger_seed import seed_ledger
from fake_slack.personas import C_ENG, C_ENG_APPROVALS, C_GENERAL, CAROL
from test_support.flows import (
    ALICE,
    BOB,
    DAVE,
    ENGINEERING,
    HR,
    MONDAY,
    SICK,
    VACATION,
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
    request_time_off,
    request_values,
    standard_config,
)
from test_support.slack_requests import (
    post_command,
    post_interaction,
    shortcut_payload,
    view_block_actions_payload,
    view_submission_payload,
)
from test_support.posted import posts_to, receipt_call, receipt_now

pytestmark = pytest.mark.django_db

LA = ZoneInfo("America/Los_Angeles")
TUESDAY = MONDAY + timedelta(days=1)


# --- What the tests read -----------------------------------------------------------------------------


def alices_today() -> date:
    return datetime.now(LA).date()


def as_dict(view) -> dict:
    return json.loads(view) if isinstance(view, str) else view


def command(client, user, text):
    response = post_command(client, text, user_id=user)
    assert response.status_code == 200, response.content
    return response


def warm_command(client, user, text):
    """`/timeoff text` sent twice: the second is answered with the person's team and zone known."""
    command(client, user, text)
    return command(client, user, text)


def opened_form(fake_slack) -> dict:
    return as_dict(fake_slack.last_call("views.open").params["view"])


def prefilled(view: dict) -> tuple:
    """(leave type, first day, last day) the form opened with."""
    elements = {b.get("block_id"): b.get("element", {}) for b in view["blocks"] if b.get("type") == "input"}
    option = elements[ids.TYPE_BLOCK].get("initial_option") or {}
    start = elements[ids.START_BLOCK].get("initial_date")
    end = elements[ids.END_BLOCK].get("initial_date")
    return option.get("value"), start, end


def preview_of(view: dict) -> str:
    [block] = [b for b in view["blocks"] if b.get("block_id") == ids.PREVIEW_BLOCK]
    return json.dumps(block, ensure_ascii=False)


def the_requests(fake_slack, channel=C_ENG_APPROVALS) -> list:
    return [m for m in fake_slack.workspace.messages(channel)
            if m.metadata and m.metadata.get("event_type") == "timeoff_request"]


def status_of(fake_slack, channel=C_ENG_APPROVALS) -> dict:
    [message] = the_requests(fake_slack, channel)
    return message.metadata["event_payload"]


def answer(client, user, text) -> dict:
    return warm_command(client, user, text).json()


def balance_line(client, user, year, type_name="Vacation") -> str:
    text = answer(client, user, f"balance {year}")["text"]
    [line] = [line for line in text.splitlines() if type_name in line]
    return line


def submit_form(client, user, form, values, *, view_id):
    response = post_interaction(client, view_submission_payload(user_id=user, view=form, values=values,
                                                                view_id=view_id, view_hash=f"{view_id}.h"))
    assert response.status_code == 200, response.content
    return response


def weekdays(start: date, end: date) -> int:
    return sum(1 for n in range((end - start).days + 1) if (start + timedelta(n)).weekday() < 5)


def hr_records(client, fake_slack, person, leave_type, start, end, *, view_id="V_RECORD"):
    command(client, HR, f"for <@{person}|someone> {start} {end} {leave_type}")
    form = opened_form(fake_slack)
    return submit_form(client, HR, form, request_values(leave_type, start, end), view_id=view_id)


# --- Typed dates ---------------------------------------------------------------------------------------


def test_a_range_pasted_as_our_messages_write_it_over_new_year_with_an_emoji_type_and_a_full_stop(
        client, fake_slack):
    """"The dates may have … a dash between them (`2026-12-21–2026-12-23`, as our messages write a range),
    and a trailing comma or full stop"; "the leave type may be … its emoji (`:palm_tree:`)"."""
    install_config()

    warm_command(client, ALICE, ":palm_tree: 2031-12-29–2032-01-02.")

    assert prefilled(opened_form(fake_slack)) == ("vacation", "2031-12-29", "2032-01-02")


def test_a_date_typed_without_its_year_a_few_days_back_is_last_week_and_two_months_back_is_next_year(
        client, fake_slack):
    """"without its year, a date is the next one ahead, or one up to a month back (`Nov 30` typed on
    3 December is last week, `Sep 2` is next September)"."""
    install_config()
    today = alices_today()
    recent, long_ago = today - timedelta(days=3), today - timedelta(days=60)
    if (long_ago.month, long_ago.day) == (2, 29):  # a day next year does not have
        long_ago -= timedelta(days=1)

    warm_command(client, ALICE, f"{recent.strftime('%b')} {recent.day} sick")
    assert prefilled(opened_form(fake_slack))[1] == recent.isoformat()

    command(client, ALICE, f"{long_ago.strftime('%b')} {long_ago.day} vacation")
    assert prefilled(opened_form(fake_slack))[1] == long_ago.replace(year=long_ago.year + 1).isoformat()


def test_dec_28_to_jan_2_typed_without_years_runs_into_the_new_year(client, fake_slack):
    install_config()

    warm_command(client, ALICE, "Dec 28 to Jan 2 vacation")

    _, start, end = prefilled(opened_form(fake_slack))
    start, end = date.fromisoformat(start), date.fromisoformat(end)
    assert (start.month, start.day, end.month, end.day) == (12, 28, 1, 2)
    assert end.year == start.year + 1


def test_a_range_over_new_year_with_the_year_typed_on_its_first_day_keeps_that_years_january(client, fake_slack):
    """`Dec 30 2031 to Jan 2`: the year given once, as people write a range; January is the one after that
    December, as for `Dec 28 to Jan 2`, not next month's January five years earlier."""
    install_config()

    warm_command(client, ALICE, "Dec 30 2031 to Jan 2 vacation")

    assert prefilled(opened_form(fake_slack)) == ("vacation", "2031-12-30", "2032-01-02")


def test_the_same_type_named_twice_is_one_type_but_two_different_ones_are_refused(client, fake_slack):
    """"the leave type may be its code, its name in any case (`Sick leave`) or its emoji; two different types
    are refused ("Give one leave type")"."""
    install_config()

    warm_command(client, ALICE, "2031-03-10 vacation :palm_tree:")
    assert prefilled(opened_form(fake_slack)) == ("vacation", "2031-03-10", "2031-03-10")

    refused = command(client, ALICE, "2031-03-10 SICK LEAVE :palm_tree:").json()
    assert "Give one leave type" in refused["text"], refused
    assert "sick" in refused["text"] and "vacation" in refused["text"]


def test_today_counts_from_the_persons_own_day_and_waits_for_their_zone_for_both_dates(client, fake_slack):
    """"`today` … count from the person's own day (their Slack time zone; while the app does not know it yet,
    the form opens with its dates to pick …, both dates, when one of them counts from today)"."""
    install_config()

    command(client, ALICE, "today to 2031-03-12 sick")  # her zone is not known yet
    assert prefilled(opened_form(fake_slack)) == ("sick", None, None)

    command(client, ALICE, "today sick")
    today = alices_today().isoformat()  # Los Angeles: a day behind UTC each evening
    assert prefilled(opened_form(fake_slack)) == ("sick", today, today)


# --- The form and its preview ----------------------------------------------------------------------------


def test_hrs_record_form_for_a_private_type_says_recorded_at_once_and_that_the_team_sees_them_away(
        client, fake_slack):
    """"on HR's *Record time off* form, "Recorded as approved at once"" and, for a private type, "that the
    team's channel and digests show only that the person is away"."""
    install_config()

    warm_command(client, HR, f"for <@{ALICE}|alice> 2031-03-10 2031-03-10 medical")

    preview = preview_of(opened_form(fake_slack))
    assert "Recorded as approved at once" in preview, preview
    assert "show only that they are away" in preview, preview
    assert "Decided by" not in preview


def test_a_leave_type_hr_deleted_while_the_form_was_open_is_refused_by_name(client, fake_slack):
    install_config()
    form = open_request_form(client, fake_slack, ALICE)
    install_config(standard_config(leave_types=(VACATION, SICK)))  # Medical appointment is gone

    values = request_values("medical", MONDAY, MONDAY)
    values[ids.TYPE_BLOCK][ids.TYPE_ACTION]["selected_option"]["text"]["text"] = "Medical appointment"
    response = submit_form(client, ALICE, form, values, view_id="V_GONE")

    errors = response.json()["errors"]
    assert errors[ids.TYPE_BLOCK] == "Medical appointment is no longer offered: choose another leave type."
    assert the_requests(fake_slack) == []


def test_the_preview_of_leave_over_new_year_warns_of_the_year_whose_allowance_it_overdraws(client, fake_slack):
    """"Two refusals are said otherwise: the allowance by the balance line ("2 days over the 25")"; a request
    across the year end counts its days in each year (DESIGN §7)."""
    install_config(standard_config(leave_types=(replace(VACATION, annual_allowance_days=Decimal(2)), SICK)))

    # Mon 29, Tue 30, Wed 31 Dec 2031 (3 days of 2031); Thu 1 Jan is a holiday; Fri 2 Jan 2032 (1 day).
    warm_command(client, ALICE, "2031-12-29 2032-01-02 vacation")

    preview = preview_of(opened_form(fake_slack))
    assert "1 day over the 2 days of Vacation in 2031" in preview, preview

    form = opened_form(fake_slack)
    response = submit_form(client, ALICE, form, request_values("vacation", date(2031, 12, 29), date(2032, 1, 2)),
                           view_id="V_OVER")
    assert response.json()["response_action"] == "errors", response.content
    assert the_requests(fake_slack) == []


def test_half_days_at_both_ends_of_leave_over_new_year_are_charged_half_to_each_year(client, fake_slack):
    """"first day: afternoon only", "last day: morning only": Wed 31 Dec 2031 afternoon to Fri 2 Jan 2032
    morning is one day, half of it in each year (1 January is a holiday)."""
    install_config()

    request_time_off(client, fake_slack, ALICE, "vacation", date(2031, 12, 31), date(2032, 1, 2),
                     halves=(ids.HALF_START_PM, ids.HALF_END_AM))

    status = status_of(fake_slack)
    assert (status["start_half"], status["end_half"], Decimal(str(status["days"]))) == ("pm", "am", Decimal(1))
    assert "pending 0.5" in balance_line(client, ALICE, 2031)
    assert "pending 0.5" in balance_line(client, ALICE, 2032)


def test_a_one_day_request_with_either_half_box_is_half_a_day(client, fake_slack):
    """"on a one-day request, either one makes it a half day"."""
    install_config()

    request_time_off(client, fake_slack, ALICE, "vacation", MONDAY, MONDAY, halves=(ids.HALF_END_AM,))
    form = open_request_form(client, fake_slack, ALICE)
    submit_form(client, ALICE, form, request_values("vacation", TUESDAY, TUESDAY, halves=(ids.HALF_START_PM,)),
                view_id="V_PM")

    days = sorted((m.metadata["event_payload"]["start"], Decimal(str(m.metadata["event_payload"]["days"])))
                  for m in the_requests(fake_slack))
    assert days == [(MONDAY.isoformat(), Decimal("0.5")), (TUESDAY.isoformat(), Decimal("0.5"))]
    assert "pending 1" in balance_line(client, ALICE, MONDAY.year)


# --- Receipts and decisions ------------------------------------------------------------------------------


def test_the_receipt_of_an_approver_asking_for_leave_names_the_other_approvers_only(client, fake_slack):
    """"a sent request produces a receipt DM ("Your request … is with @Bob, @Dave")"; never the requester."""
    install_config()  # Dave is in the approvers channel, Bob a listed approver

    request_time_off(client, fake_slack, DAVE)

    text, _ = receipt_now(fake_slack, DAVE)
    assert "is with" in text and f"<@{BOB}>" in text, text
    assert f"<@{DAVE}>" not in text.split("is with", 1)[1], text
    [posted] = posted_requests(fake_slack)
    assert f"<@{DAVE}>" not in json.dumps(posted.params["blocks"]).split("Approvers", 1)[-1]


def test_the_reject_form_of_a_private_request_names_its_dates_and_not_its_type(client, fake_slack):
    install_config()
    request_time_off(client, fake_slack, ALICE, "medical", MONDAY, WEDNESDAY, note="Surgery")
    [posted] = posted_requests(fake_slack)

    click(client, fake_slack, BOB, ids.REJECT_ACTION, posted)

    form = json.dumps(opened_form(fake_slack))
    assert form.count("Mon 10") or form.count("10 Mar"), form
    assert "Medical" not in form and "hospital" not in form and "Surgery" not in form, form


def test_a_reason_of_only_invisible_characters_keeps_the_reject_form_open(client, fake_slack):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    click(client, fake_slack, BOB, ids.REJECT_ACTION, posted)
    reason_form = opened_form(fake_slack)

    blank = "\u200b\u2060\ufeff\u00a0\u3000\u200d"
    values = {ids.REASON_BLOCK: {ids.REASON_ACTION: {"type": "plain_text_input", "value": blank}}}
    body = post_interaction(client, view_submission_payload(user_id=BOB, view=reason_form, values=values)).json()

    assert body["response_action"] == "errors" and "Say why" in body["errors"][ids.REASON_BLOCK], body
    assert status_of(fake_slack)["status"] == PENDING


def test_approve_with_buttons_drawn_before_a_half_day_edit_approves_nothing_and_says_what_it_is_now(
        client, fake_slack):
    """"the buttons carry a short digest of its type, dates and halves, and a click on a request edited
    since … approves nothing and tells them what it is now, to look again"."""
    install_config()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)  # the buttons Bob's client still shows
    _, blocks = receipt_now(fake_slack)
    press(client, ALICE, blocks, ids.EDIT_ACTION, channel=receipt_call(fake_slack).response["channel"])
    submit_form(client, ALICE, opened_form(fake_slack),
                request_values("vacation", MONDAY, WEDNESDAY, halves=(ids.HALF_END_AM,)), view_id="V_HALF")
    assert status_of(fake_slack)["end_half"] == "am"
    fake_slack.clear_calls()

    click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted)

    assert status_of(fake_slack)["status"] == PENDING
    [told] = ephemerals_to(fake_slack, BOB)
    assert "changed after you saw it" in told and "2.5" in told, told


def test_a_request_nobody_at_all_could_approve_is_not_posted_and_the_requester_hears_what_they_asked(
        client, fake_slack):
    """"A request nobody at all could approve (the team's only approver asks, and no fallback approver is
    left) is not posted: the requester is told why by DM, with what they asked for"."""
    solo = replace(ENGINEERING, approvers=ApproverSource(users=(ALICE,)))
    install_config(standard_config(teams=(solo,), fallback_approvers=()))

    request_time_off(client, fake_slack, ALICE, "vacation", MONDAY, WEDNESDAY, note="Family visit")

    assert the_requests(fake_slack) == []
    told = "\n".join(dms_to(fake_slack, ALICE))
    assert "nobody could approve" in told, told
    assert "Vacation" in told and "Family visit" in told and "Mon 10" in told, told


def test_the_receipt_of_a_rejected_private_request_shows_the_reason_and_no_buttons(client, fake_slack):
    install_config()
    request_time_off(client, fake_slack, ALICE, "medical", MONDAY, MONDAY)
    [posted] = posted_requests(fake_slack)
    click(client, fake_slack, BOB, ids.REJECT_ACTION, posted)
    values = {ids.REASON_BLOCK: {ids.REASON_ACTION: {"type": "plain_text_input", "value": "Cover needed"}}}
    post_interaction(client, view_submission_payload(user_id=BOB, view=opened_form(fake_slack), values=values))

    text, blocks = receipt_now(fake_slack)

    assert "rejected" in text and "Cover needed" in text, text
    assert buttons_in(blocks) == {}
    assert posts_to(fake_slack, C_ENG) == []


# --- Several teams ------------------------------------------------------------------------------------


def two_teams_sharing_approvals(*, with_engineering=True):
    design = TeamConfig(name="Design", members=MemberSource(users=(CAROL,)), approvers=ApproverSource(users=(DAVE,)),
                        approvals_channel=C_ENG_APPROVALS, announce_channel=C_GENERAL)
    engineering = replace(ENGINEERING, approvers=ApproverSource(users=(BOB,)))
    teams = (engineering, design) if with_engineering else (design,)
    return standard_config(teams=teams)


def test_in_a_shared_approvals_channel_only_the_requests_own_team_decides_and_a_removed_team_is_hrs(
        client, fake_slack):
    """"anyone else who clicks is told, privately, that they are not an approver for that team"; a removed
    team's pending requests: "anyone else who clicks them is told to ask HR — another team's approvers too,
    when the removed team shared its approvals channel with theirs"."""
    install_config(two_teams_sharing_approvals())
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)

    click(client, fake_slack, DAVE, ids.APPROVE_ACTION, posted)
    assert "not an approver for Engineering" in ephemerals_to(fake_slack, DAVE)[-1]

    install_config(two_teams_sharing_approvals(with_engineering=False))
    click(client, fake_slack, DAVE, ids.APPROVE_ACTION, posted)
    assert "ask HR" in ephemerals_to(fake_slack, DAVE)[-1], ephemerals_to(fake_slack, DAVE)
    assert status_of(fake_slack)["status"] == PENDING

    click(client, fake_slack, HR, ids.APPROVE_ACTION, posted)
    assert status_of(fake_slack)["status"] == APPROVED


# --- HR on behalf --------------------------------------------------------------------------------------


def test_hr_recording_leave_for_themselves_is_refused_with_a_pointer_to_timeoff(client, fake_slack):
    install_config()

    refused = command(client, HR, f"for <@{HR}|hannah> 2031-03-10 2031-03-10 vacation").json()

    assert "`/timeoff`" in refused["text"], refused
    assert fake_slack.calls("views.open") == [] and the_requests(fake_slack) == []


def test_hr_in_no_team_asking_for_leave_is_told_to_join_a_team_by_command_and_by_shortcut(client, fake_slack):
    """"HR in no team who asks for leave is told to add themselves to a team in the console, not to ask HR";
    the shortcut, having no channel, says so "in a small window"."""
    install_config()

    told = answer(client, HR, "")["text"]
    assert "add yourself to a team" in told, told
    assert "ask <@U_HR>" not in told and "ask HR" not in told, told

    post_interaction(client, shortcut_payload(user_id=HR, callback_id=ids.REQUEST_SHORTCUT))
    window = json.dumps(opened_form(fake_slack))
    assert "add yourself to a team" in window, window
    assert ids.TYPE_BLOCK not in [b.get("block_id") for b in opened_form(fake_slack)["blocks"]]


def test_app_homes_request_button_tells_someone_in_no_team_why_in_a_small_window(client, fake_slack):
    install_config()
    home = open_app_home(client, fake_slack, CAROL, "Ev_HOME_CAROL")
    block_id, value = buttons_in(home["blocks"]).get(ids.NEW_REQUEST_ACTION, ("home", ""))
    fake_slack.clear_calls()

    post_interaction(client, view_block_actions_payload(user_id=CAROL, action_id=ids.NEW_REQUEST_ACTION,
                                                        value=value, block_id=block_id, view=home))

    [opened] = fake_slack.calls("views.open")
    window = json.dumps(as_dict(opened.params["view"]))
    assert "no team" in window and f"<@{HR}>" in window, window
    assert ids.TYPE_BLOCK not in [b.get("block_id") for b in as_dict(opened.params["view"])["blocks"]]


def test_hrs_list_of_someone_is_titled_as_theirs_and_withdrawing_from_it_tells_them(client, fake_slack):
    install_config()
    request_time_off(client, fake_slack, ALICE)

    listed = answer(client, HR, f"for <@{ALICE}|alice> list")
    assert listed["text"].startswith(f"<@{ALICE}>'s time off"), listed["text"]
    fake_slack.clear_calls()
    press(client, HR, listed["blocks"], ids.WITHDRAW_ACTION, channel=C_GENERAL, on_list=True)

    assert status_of(fake_slack)["status"] == CANCELLED
    assert [dm for dm in dms_to(fake_slack, ALICE) if "changed your time off" in dm], dms_to(fake_slack, ALICE)
    assert not [e for e in ephemerals_to(fake_slack, ALICE)]


def test_hr_cancelling_all_of_leave_under_way_over_new_year_gives_both_years_back(client, fake_slack):
    """"*Cancel all of it* on leave under way …, whose confirmation says that every day is given back, those
    already taken too"; the announce channel reads "… was corrected by HR: it is no longer on the record"."""
    install_config(standard_config(leave_types=(replace(VACATION, annual_allowance_days=Decimal(60), max_consecutive_days=None), SICK)))
    today = alices_today()
    start, end = today - timedelta(days=2), date(today.year + 1, 1, 6)
    recorded = hr_records(client, fake_slack, ALICE, "vacation", start, end)
    assert recorded.content == b"", recorded.content
    assert status_of(fake_slack)["status"] == APPROVED
    assert "taken 0, pending 0" not in balance_line(client, ALICE, end.year)
    fake_slack.clear_calls()

    blocks = answer(client, HR, f"for <@{ALICE}|alice> cancel")["blocks"]
    [button] = [e for b in blocks if b.get("type") == "actions" for e in b["elements"]
                if e.get("action_id") == ids.CANCEL_ACTION]
    assert button["text"]["text"] == "Cancel all of it"
    assert "every day of it is given back" in button["confirm"]["text"]["text"]
    press(client, HR, blocks, ids.CANCEL_ACTION, channel=C_GENERAL, on_list=True)

    assert status_of(fake_slack)["status"] == CANCELLED
    [correction] = posts_to(fake_slack, C_ENG)
    assert "was corrected by HR: it is no longer on the record" in correction, correction
    for year in (start.year, end.year):
        assert "taken 0, pending 0" in balance_line(client, ALICE, year), year


def test_a_pending_request_under_way_can_be_shortened_but_its_first_day_not_moved_to_another_past_day(
        client, fake_slack):
    """"A pending request already under way … can be edited while it keeps its first day …: shortened to the
    day you came back, say; a first day moved to another past date is refused as any past date is"."""
    install_config()
    today = alices_today()
    start, end = today - timedelta(days=3), today + timedelta(days=6)
    seed_ledger(fake_slack.workspace, channel=C_ENG_APPROVALS, noise_every=0, entries=[LedgerEntry(
        id="underway-pending", user=ALICE, team="Engineering", leave_type="vacation", start=start, end=end,
        start_half=None, end_half=None, days=Decimal(weekdays(start, end)), status=PENDING)])

    blocks = answer(client, ALICE, "list")["blocks"]
    press(client, ALICE, blocks, ids.EDIT_ACTION, channel=C_GENERAL, on_list=True)
    form = opened_form(fake_slack)
    assert prefilled(form)[1:] == (start.isoformat(), end.isoformat())
    shortened = submit_form(client, ALICE, form, request_values("vacation", start, today + timedelta(days=1)),
                            view_id="V_SHORT")
    assert shortened.content == b"", shortened.content
    assert status_of(fake_slack)["end"] == (today + timedelta(days=1)).isoformat()

    blocks = answer(client, ALICE, "list")["blocks"]
    press(client, ALICE, blocks, ids.EDIT_ACTION, channel=C_GENERAL, on_list=True)
    moved = submit_form(client, ALICE, opened_form(fake_slack),
                        request_values("vacation", start - timedelta(days=1), today + timedelta(days=1)),
                        view_id="V_MOVED")
    assert moved.json()["response_action"] == "errors", moved.content
    assert status_of(fake_slack)["start"] == start.isoformat()


# --- App Home ------------------------------------------------------------------------------------------


def test_app_home_shows_next_years_balance_once_leave_is_asked_for_in_it(client, fake_slack):
    """"your balances for this year (and next year's, as `/timeoff balance`)"."""
    install_config()
    next_year = alices_today().year + 1
    request_time_off(client, fake_slack, ALICE, "vacation", date(next_year, 2, 2), date(next_year, 2, 4))

    home = json.dumps(open_app_home(client, fake_slack, ALICE, "Ev_HOME_NEXT"))

    assert str(next_year) in home, home
    assert "22 of 25" in home or "pending 3" in home, home
    balance = answer(client, ALICE, "balance")["text"]
    assert str(next_year) in balance and str(next_year - 1) in balance, balance


def test_a_pending_request_whose_days_have_passed_stays_on_app_home_with_its_buttons(client, fake_slack):
    """"Pending requests stay listed, with their buttons, until they are decided or withdrawn, even once their
    days have passed (the balance counts them as pending)"."""
    install_config()
    today = alices_today()
    day = today - timedelta(days=10)
    while day.weekday() >= 5:
        day -= timedelta(days=1)
    seed_ledger(fake_slack.workspace, channel=C_ENG_APPROVALS, noise_every=0, entries=[LedgerEntry(
        id="past-pending", user=ALICE, team="Engineering", leave_type="vacation", start=day, end=day,
        start_half=None, end_half=None, days=Decimal(1), status=PENDING)])
    answer(client, ALICE, "list")  # warms her ledger

    home = open_app_home(client, fake_slack, ALICE, "Ev_HOME_PAST")

    actions = buttons_in(home["blocks"])
    assert ids.WITHDRAW_ACTION in actions, json.dumps(home)
    assert "past-pending" in actions[ids.WITHDRAW_ACTION][1]
    assert "pending 1" in balance_line(client, ALICE, day.year)


# --- Changing plans -----------------------------------------------------------------------------------


def test_a_year_typed_only_on_a_ranges_last_day_is_that_ranges_year(client, fake_slack):
    """`21 Dec to 23 Dec 2031`: one year for the range, as people write it, not this December to 2031's."""
    install_config()

    warm_command(client, ALICE, "21 Dec to 23 Dec 2031 vacation")

    assert prefilled(opened_form(fake_slack)) == ("vacation", "2031-12-21", "2031-12-23")


def test_an_edit_keeps_the_note_unless_a_new_one_is_typed_and_its_preview_does_not_overlap_itself(
        client, fake_slack):
    """*Edit* "opens the same form filled in with the request as it stands (… the note stays unless you type a
    new one; its preview counts the request it replaces once)"; overlap "(an *Edit* form does not count the
    request it edits)"."""
    install_config()
    request_time_off(client, fake_slack, ALICE, note="Family visit")
    _, blocks = receipt_now(fake_slack)
    press(client, ALICE, blocks, ids.EDIT_ACTION, channel=receipt_call(fake_slack).response["channel"])
    form = opened_form(fake_slack)

    preview = preview_of(form)
    assert "overlap" not in preview.lower(), preview
    assert "22 of 25" in preview, preview
    submit_form(client, ALICE, form, request_values("vacation", MONDAY, MONDAY + timedelta(days=4)),
                view_id="V_NOTE")

    [message] = the_requests(fake_slack)
    assert message.metadata["event_payload"]["end"] == (MONDAY + timedelta(days=4)).isoformat()
    assert "Family visit" in json.dumps(message.blocks), json.dumps(message.blocks)


def test_leave_under_way_is_the_persons_to_keep_and_hr_is_who_corrects_it(client, fake_slack):
    """"Leave that has started is the person's to keep ("ask HR to correct it")"; `/timeoff cancel` "shows
    only what you can still change"."""
    install_config()
    today = alices_today()
    start, end = today - timedelta(days=2), today + timedelta(days=5)
    seed_ledger(fake_slack.workspace, channel=C_ENG_APPROVALS, noise_every=0, entries=[LedgerEntry(
        id="underway-approved", user=ALICE, team="Engineering", leave_type="vacation", start=start, end=end,
        start_half=None, end_half=None, days=Decimal(weekdays(start, end)), status=APPROVED, decided_by=BOB,
        decided_at=1764000000)])

    listed = answer(client, ALICE, "list")
    assert ids.CANCEL_ACTION not in buttons_in(listed["blocks"])
    changeable = answer(client, ALICE, "cancel")
    assert ids.CANCEL_ACTION not in buttons_in(changeable["blocks"])
    hrs = answer(client, HR, f"for <@{ALICE}|alice> cancel")["blocks"]
    assert ids.CANCEL_ACTION in buttons_in(hrs)
    fake_slack.clear_calls()

    # A Cancel button drawn before the leave began (an old list): pressed now, it changes nothing.
    press(client, ALICE, hrs, ids.CANCEL_ACTION, channel=C_GENERAL, on_list=True)

    assert status_of(fake_slack)["status"] == APPROVED
    told = "\n".join(ephemerals_to(fake_slack, ALICE) + dms_to(fake_slack, ALICE))
    assert "ask HR to correct it" in told, told
