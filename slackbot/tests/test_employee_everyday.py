"""What an employee touches every day, end to end, in odd but realistic states.

`/timeoff list`, `balance`, `cancel`, the receipt DM's Edit / Withdraw / Cancel leave, App Home and the
reminder the working day before, through signed Slack-shaped requests against the fake Slack: leave
already started, half days, leave across the year end, a leave type HR renamed, made private or deleted,
a person moved to another team, a button pressed after HR changed the request, double clicks, a far time
zone, and Slack failing on the way.
"""

import json
from dataclasses import replace
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from approvals import block_ids as ids
from approvals import messages
from approvals.config_types import ApproverSource, MemberSource, TeamConfig
from approvals.rules import APPROVED, PENDING, REJECTED, LedgerEntry
from approvals.selectors import local_today
from fake_slack.ledger_seed import seed_ledger
from fake_slack.personas import C_ENG, C_ENG_APPROVALS, C_GENERAL, C_OLD_APPROVALS
from test_support.flows import (
    buttons_in,
    press,
    ALICE,
    BOB,
    DAVE,
    ENGINEERING,
    HR,
    MEDICAL,
    MONDAY,
    SICK,
    VACATION,
    WEDNESDAY,
    channel_updates,
    click,
    dms_to,
    install_config,
    open_app_home,
    posted_requests,
    request_status,
    request_time_off,
    request_values,
    standard_config,
)
from test_support.job_runs import run_jobs
from test_support.slack_faults import failing
from test_support.slack_requests import (
    post_command,
    post_interaction,
    view_submission_payload,
)
from test_support.posted import posts_to

pytestmark = pytest.mark.django_db

LA = ZoneInfo("America/Los_Angeles")
FRIDAY = MONDAY + timedelta(days=4)
TUESDAY = MONDAY + timedelta(days=1)


# --- Helpers ----------------------------------------------------------------------------------------






def listed(client, user=ALICE, word="list") -> dict:
    """`/timeoff <word>`, warm: asked twice, the first warming the cache (immediate tasks)."""
    post_command(client, word, user_id=user)
    response = post_command(client, word, user_id=user)
    assert response.status_code == 200, response.content
    return response.json()


def balance(client, year: int, user=ALICE) -> str:
    return listed(client, user, f"balance {year}")["text"]


def vacation_line(text: str) -> str:
    [line] = [line for line in text.splitlines() if "Vacation" in line or "Holiday" in line]
    return line


def receipt_of(fake_slack, user=ALICE):
    receipts = [c for c in fake_slack.calls("chat.postMessage") if c.params.get("channel") == user
                and buttons_in(c.params.get("blocks"))]
    return receipts[-1]


def receipt_now(fake_slack, receipt) -> tuple[str, list[dict]]:
    updates = [c for c in fake_slack.calls("chat.update") if c.params["channel"] == receipt.response["channel"]
               and c.params["ts"] == receipt.response["ts"]]
    params = updates[-1].params if updates else receipt.params
    return params["text"], params.get("blocks") or []


def thread_replies(fake_slack, channel=C_ENG_APPROVALS) -> list[str]:
    return [c.params["text"] for c in fake_slack.calls("chat.postMessage")
            if c.params.get("thread_ts") and c.params.get("channel") == channel and c.response.get("ok")]


def ephemerals(fake_slack, user=ALICE) -> list[str]:
    return [c.params["text"] for c in fake_slack.calls("chat.postEphemeral")
            if c.params.get("user") == user and c.response.get("ok")]


def said_to(fake_slack, user=ALICE) -> list[str]:
    """Everything told to `user` that Slack took: DMs and ephemerals."""
    return [c.params["text"] for c in fake_slack.calls("chat.postMessage")
            if c.params.get("channel") == user and c.response.get("ok")] + ephemerals(fake_slack, user)


def entry(entry_id, start, end, status=APPROVED, *, user=ALICE, team="Engineering", leave_type="vacation",
          start_half=None, end_half=None, days=None, decided_by=BOB) -> LedgerEntry:
    if days is None:
        days = Decimal(sum(1 for n in range((end - start).days + 1) if (start + timedelta(n)).weekday() < 5))
    return LedgerEntry(id=entry_id, user=user, team=team, leave_type=leave_type, start=start, end=end,
                       start_half=start_half, end_half=end_half, days=Decimal(days), status=status,
                       decided_by=decided_by if status != PENDING else None,
                       decided_at=1764000000 if status != PENDING else None)


def seed(fake_slack, *entries, channel=C_ENG_APPROVALS) -> list[LedgerEntry]:
    """The entries posted in `channel` as our bot posts them; returned with their channel and ts."""
    where = seed_ledger(fake_slack.workspace, channel=channel, entries=entries, noise_every=0)
    return [replace(e, channel=channel, ts=where[e.id]) for e in entries]


def receipt_blocks(placed: LedgerEntry, leave_type=VACATION) -> list[dict]:
    """The receipt DM's blocks as the app posts them for this request."""
    return messages.receipt_blocks(placed, leave_type, {BOB})


def la_today() -> date:
    return local_today("America/Los_Angeles")


def approve(client, fake_slack, posted=None):
    posted = posted or posted_requests(fake_slack)[-1]
    click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted)


def request_and_approve(client, fake_slack, start=MONDAY, end=WEDNESDAY, halves=(), leave_type="vacation"):
    request_time_off(client, fake_slack, ALICE, leave_type=leave_type, start=start, end=end, halves=halves)
    approve(client, fake_slack)
    return receipt_of(fake_slack)


def payload_of(fake_slack, request_id, channel=C_ENG_APPROVALS) -> dict:
    [message] = [m for m in fake_slack.workspace.messages(channel)
                 if m.metadata and m.metadata.get("event_payload", {}).get("id") == request_id]
    return message.metadata["event_payload"]


# --- Leave already started ----------------------------------------------------------------------


def test_started_leave_is_listed_as_out_now_and_not_offered_for_cancelling(client, fake_slack):
    install_config()
    today = la_today()
    seed(fake_slack, entry("started", today - timedelta(days=2), today + timedelta(days=6)))

    answer = listed(client)
    text = json.dumps(answer["blocks"])
    assert "*Out now*" in text
    assert ids.CANCEL_ACTION not in buttons_in(answer["blocks"])
    cancel = listed(client, word="cancel")
    assert ids.CANCEL_ACTION not in buttons_in(cancel["blocks"])
    assert "Nothing pending or coming up" in json.dumps(cancel["blocks"])


def test_cancel_on_the_receipt_of_leave_already_started_changes_nothing_and_says_why(client, fake_slack):
    # The receipt of approved leave keeps its Cancel leave button (it is rewritten only on changes): pressed
    # once the leave has begun, the days already taken must not be given back, and she is told why.
    install_config()
    today = la_today()
    [placed] = seed(fake_slack, entry("started", today - timedelta(days=2), today + timedelta(days=6)))
    fake_slack.clear_calls()

    press(client, ALICE, receipt_blocks(placed), ids.CANCEL_ACTION)

    assert payload_of(fake_slack, "started")["status"] == APPROVED
    assert channel_updates(fake_slack) == []
    assert posts_to(fake_slack, C_ENG) == []  # no "will not be out after all"
    [told] = said_to(fake_slack)
    assert "already started" in told and "HR" in told


def test_cancel_on_the_first_day_of_leave_is_refused_too(client, fake_slack):
    install_config()
    today = la_today()
    [placed] = seed(fake_slack, entry("today", today, today + timedelta(days=3)))
    fake_slack.clear_calls()

    press(client, ALICE, receipt_blocks(placed), ids.CANCEL_ACTION)

    assert payload_of(fake_slack, "today")["status"] == APPROVED
    assert any("already started" in text for text in said_to(fake_slack))


def test_a_pending_request_whose_first_day_has_passed_can_still_be_withdrawn(client, fake_slack):
    install_config()
    today = la_today()
    [placed] = seed(fake_slack, entry("late", today - timedelta(days=1), today + timedelta(days=2), PENDING))

    blocks = listed(client)["blocks"]
    assert ids.WITHDRAW_ACTION in buttons_in(blocks)
    press(client, ALICE, blocks, ids.WITHDRAW_ACTION, channel=C_ENG, on_list=True)

    assert payload_of(fake_slack, "late")["status"] == "cancelled"
    assert any(text.startswith(":white_check_mark: Withdrawn") for text in ephemerals(fake_slack))


# --- Half days ------------------------------------------------------------------------------------


def test_cancelling_an_approved_half_day_gives_half_a_day_back(client, fake_slack):
    install_config()
    receipt = request_and_approve(client, fake_slack, start=MONDAY, end=MONDAY, halves=(ids.HALF_START_PM,))
    assert "taken 0.5" in vacation_line(balance(client, MONDAY.year))
    listing = json.dumps(listed(client)["blocks"])
    assert "afternoon" in listing.lower()

    _, blocks = receipt_now(fake_slack, receipt)
    press(client, ALICE, blocks, ids.CANCEL_ACTION, channel=receipt.response["channel"], ts=receipt.response["ts"])

    assert request_status(fake_slack)["status"] == "cancelled"
    line = vacation_line(balance(client, MONDAY.year))
    assert "taken 0," in line or line.rstrip().endswith("taken 0"), line
    assert "25 days left" in line, line


def test_editing_a_pending_request_into_a_half_day_counts_half_a_day(client, fake_slack):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    receipt = receipt_of(fake_slack)
    press(client, ALICE, receipt.params["blocks"], ids.EDIT_ACTION, channel=receipt.response["channel"],
          ts=receipt.response["ts"])
    form = fake_slack.last_call("views.open").params["view"]

    response = post_interaction(client, view_submission_payload(
        user_id=ALICE, view=form, values=request_values("vacation", MONDAY, MONDAY, halves=(ids.HALF_END_AM,)),
        view_id="V_EDIT_HALF"))

    assert response.content == b""
    status = request_status(fake_slack)
    assert (status["start"], status["end"], float(status["days"]), status.get("end_half") or status.get(
        "start_half")) == (MONDAY.isoformat(), MONDAY.isoformat(), 0.5, "am")
    assert "pending 0.5" in vacation_line(balance(client, MONDAY.year))


# --- Across the year end --------------------------------------------------------------------------

YEAR_END_START = date(2027, 12, 27)  # a Monday
YEAR_END_END = date(2028, 1, 4)  # a Tuesday


def test_cancelling_leave_across_the_year_end_gives_back_the_days_of_both_years(client, fake_slack):
    install_config()
    receipt = request_and_approve(client, fake_slack, start=YEAR_END_START, end=YEAR_END_END)
    before_2027 = vacation_line(balance(client, 2027))
    before_2028 = vacation_line(balance(client, 2028))
    assert "taken 0" not in before_2027 and "taken 0" not in before_2028, (before_2027, before_2028)

    _, blocks = receipt_now(fake_slack, receipt)
    press(client, ALICE, blocks, ids.CANCEL_ACTION, channel=receipt.response["channel"], ts=receipt.response["ts"])

    assert request_status(fake_slack)["status"] == "cancelled"
    for year in (2027, 2028):
        line = vacation_line(balance(client, year))
        assert "25 days left" in line and "taken 0" in line, line


def test_the_list_of_leave_across_the_year_end_names_both_years(client, fake_slack):
    install_config()
    request_and_approve(client, fake_slack, start=YEAR_END_START, end=YEAR_END_END)
    text = json.dumps(listed(client)["blocks"])
    assert "2027" in text and "2028" in text


def test_editing_leave_across_the_year_end_keeps_each_years_balance(client, fake_slack):
    install_config()
    request_time_off(client, fake_slack, ALICE, start=YEAR_END_START, end=YEAR_END_END)
    receipt = receipt_of(fake_slack)
    press(client, ALICE, receipt.params["blocks"], ids.EDIT_ACTION, channel=receipt.response["channel"],
          ts=receipt.response["ts"])
    form = fake_slack.last_call("views.open").params["view"]
    response = post_interaction(client, view_submission_payload(
        user_id=ALICE, view=form, values=request_values("vacation", YEAR_END_START, date(2027, 12, 30)),
        view_id="V_EDIT_YE"))
    assert response.content == b""
    assert "pending 0" in vacation_line(balance(client, 2028))
    assert "pending 4" in vacation_line(balance(client, 2027))


# --- Leave types HR changed after the request -----------------------------------------------------


def test_a_renamed_leave_type_shows_its_new_name_and_its_leave_can_be_cancelled(client, fake_slack):
    install_config()
    receipt = request_and_approve(client, fake_slack)
    install_config(standard_config(leave_types=(replace(VACATION, name="Holiday"), SICK, MEDICAL)))

    listing = json.dumps(listed(client)["blocks"])
    assert "Holiday" in listing
    _, blocks = receipt_now(fake_slack, receipt)
    fake_slack.clear_calls()
    press(client, ALICE, blocks, ids.CANCEL_ACTION, channel=receipt.response["channel"], ts=receipt.response["ts"])

    assert request_status(fake_slack)["status"] == "cancelled"
    text, _ = receipt_now(fake_slack, receipt)
    assert text.startswith(":no_entry_sign: Cancelled") and "Holiday" in text
    assert "taken 0" in vacation_line(balance(client, MONDAY.year))


def test_withdrawing_a_request_of_a_deleted_leave_type(client, fake_slack):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    receipt = receipt_of(fake_slack)
    install_config(standard_config(leave_types=(SICK, MEDICAL)))  # HR deleted Vacation

    listing = listed(client)
    assert ids.WITHDRAW_ACTION in buttons_in(listing["blocks"])
    fake_slack.clear_calls()
    press(client, ALICE, receipt.params["blocks"], ids.WITHDRAW_ACTION, channel=receipt.response["channel"],
          ts=receipt.response["ts"])

    assert request_status(fake_slack)["status"] == "cancelled"
    assert [t for t in thread_replies(fake_slack) if t.startswith(f"Withdrawn by <@{ALICE}>")]
    text, blocks = receipt_now(fake_slack, receipt)
    assert text.startswith(":no_entry_sign: Cancelled") and buttons_in(blocks) == {}
    assert not [t for t in said_to(fake_slack) if "couldn't" in t]


def test_cancelling_approved_leave_of_a_deleted_leave_type(client, fake_slack):
    install_config()
    receipt = request_and_approve(client, fake_slack)
    install_config(standard_config(leave_types=(SICK, MEDICAL)))
    _, blocks = receipt_now(fake_slack, receipt)
    fake_slack.clear_calls()

    press(client, ALICE, blocks, ids.CANCEL_ACTION, channel=receipt.response["channel"], ts=receipt.response["ts"])

    assert request_status(fake_slack)["status"] == "cancelled"
    [correction] = posts_to(fake_slack, C_ENG)
    assert "will not be out" in correction
    assert not [t for t in said_to(fake_slack) if "couldn't" in t]


def test_edit_of_a_request_whose_leave_type_was_deleted_opens_the_form(client, fake_slack):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    receipt = receipt_of(fake_slack)
    install_config(standard_config(leave_types=(SICK, MEDICAL)))
    fake_slack.clear_calls()

    press(client, ALICE, receipt.params["blocks"], ids.EDIT_ACTION, channel=receipt.response["channel"],
          ts=receipt.response["ts"])

    [opened] = fake_slack.calls("views.open")
    assert opened.response["ok"], opened.response
    form = opened.params["view"]
    response = post_interaction(client, view_submission_payload(
        user_id=ALICE, view=form, values=request_values("medical", MONDAY, WEDNESDAY), view_id="V_EDIT_DEL"))
    assert response.content == b"", response.content
    assert request_status(fake_slack)["type"] == "medical"


def test_a_type_made_private_after_approval_is_not_named_in_the_cancellation_announcement(client, fake_slack):
    install_config()
    receipt = request_and_approve(client, fake_slack)
    install_config(standard_config(leave_types=(replace(VACATION, private=True), SICK, MEDICAL)))
    _, blocks = receipt_now(fake_slack, receipt)
    fake_slack.clear_calls()

    press(client, ALICE, blocks, ids.CANCEL_ACTION, channel=receipt.response["channel"], ts=receipt.response["ts"])

    [correction] = posts_to(fake_slack, C_ENG)
    assert "Vacation" not in correction and "palm_tree" not in correction


# --- A person moved: leave in a past approvals channel, or another team's --------------------------


def test_leave_in_a_past_approvals_channel_is_listed_withdrawn_and_edited_there(client, fake_slack):
    install_config(standard_config(teams=(replace(ENGINEERING, past_approvals_channels=(C_OLD_APPROVALS,)),)))
    fake_slack.workspace.channels[C_OLD_APPROVALS].members.update({BOB, DAVE, HR})
    [old_pending, old_approved] = seed(
        fake_slack,
        entry("old-pending", MONDAY, WEDNESDAY, PENDING),
        entry("old-approved", MONDAY + timedelta(days=14), MONDAY + timedelta(days=16)),
        channel=C_OLD_APPROVALS)

    blocks = listed(client)["blocks"]
    found = buttons_in(blocks)
    assert {ids.EDIT_ACTION, ids.WITHDRAW_ACTION, ids.CANCEL_ACTION} <= set(found)

    press(client, ALICE, blocks, ids.EDIT_ACTION, channel=C_ENG, on_list=True)
    form = fake_slack.last_call("views.open").params["view"]
    response = post_interaction(client, view_submission_payload(
        user_id=ALICE, view=form, values=request_values("vacation", MONDAY, TUESDAY), view_id="V_EDIT_OLD"))
    assert response.content == b""
    assert payload_of(fake_slack, "old-pending", C_OLD_APPROVALS)["end"] == TUESDAY.isoformat()

    press(client, ALICE, receipt_blocks(old_approved), ids.CANCEL_ACTION)
    assert payload_of(fake_slack, "old-approved", C_OLD_APPROVALS)["status"] == "cancelled"
    assert [t for t in thread_replies(fake_slack, C_OLD_APPROVALS) if t.startswith(f"Cancelled by <@{ALICE}>")]
    assert not [t for t in said_to(fake_slack) if "couldn't" in t]


SALES = TeamConfig(name="Sales", members=MemberSource(users=(ALICE,)), approvers=ApproverSource(users=(DAVE,)),
                   approvals_channel=C_OLD_APPROVALS, announce_channel=C_GENERAL, timezone="Europe/London")


def test_someone_moved_to_another_team_can_still_edit_and_cancel_the_leave_of_their_old_team(client, fake_slack):
    fake_slack.workspace.channels[C_OLD_APPROVALS].members.update({DAVE, HR})
    install_config(standard_config(teams=(SALES, ENGINEERING)))  # Alice in Sales first
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack, C_OLD_APPROVALS)
    request_id = json.loads(posted.params["metadata"])["event_payload"]["id"] if isinstance(
        posted.params["metadata"], str) else posted.params["metadata"]["event_payload"]["id"]
    receipt = receipt_of(fake_slack)
    # HR moves Alice to Engineering (she is a member of #engineering): Sales keeps its other people.
    install_config(standard_config(teams=(replace(SALES, members=MemberSource(users=(HR,))), ENGINEERING)))

    press(client, ALICE, receipt.params["blocks"], ids.EDIT_ACTION, channel=receipt.response["channel"],
          ts=receipt.response["ts"])
    form = fake_slack.last_call("views.open").params["view"]
    response = post_interaction(client, view_submission_payload(
        user_id=ALICE, view=form, values=request_values("vacation", MONDAY, FRIDAY), view_id="V_EDIT_MOVED"))
    assert response.content == b"", response.content
    now = payload_of(fake_slack, request_id, C_OLD_APPROVALS)
    assert (now["end"], now["status"]) == (FRIDAY.isoformat(), PENDING)
    assert not [t for t in said_to(fake_slack) if "couldn't" in t]


# --- Buttons pressed after someone else changed the request -----------------------------------------


def test_edit_on_an_old_list_after_hr_changed_the_dates_opens_the_request_as_it_stands(client, fake_slack):
    # HR moved Alice's pending request from Mon–Wed to Mon–Fri. Alice's list from this morning (an
    # ephemeral, kept as sent) still says Mon–Wed; its Edit must show what she would be changing, or
    # a note-only edit quietly puts back the dates HR set.
    install_config()
    request_time_off(client, fake_slack, ALICE)
    old_list = listed(client)["blocks"]
    request_id = request_status(fake_slack)["id"]
    hr_form = {**fake_slack.last_call("views.open").params["view"]} if fake_slack.last_call("views.open") else {}
    hr_form["private_metadata"] = json.dumps({"edit": request_id})
    hr_form.setdefault("callback_id", ids.REQUEST_MODAL)
    response = post_interaction(client, view_submission_payload(
        user_id=HR, view=hr_form, values=request_values("vacation", MONDAY, FRIDAY), view_id="V_HR_EDIT"))
    assert response.content == b""
    assert request_status(fake_slack)["end"] == FRIDAY.isoformat()
    listed(client)  # the cache has seen HR's edit
    fake_slack.clear_calls()

    press(client, ALICE, old_list, ids.EDIT_ACTION, channel=C_ENG, on_list=True)

    form = fake_slack.last_call("views.open").params["view"]
    end_picker = next(b for b in form["blocks"] if b.get("block_id") == ids.END_BLOCK)["element"]
    assert end_picker.get("initial_date") == FRIDAY.isoformat(), end_picker


def test_cancel_on_an_old_receipt_after_hr_cancelled_the_leave_tells_the_truth_once(client, fake_slack):
    install_config()
    receipt = request_and_approve(client, fake_slack)
    _, approved_blocks = receipt_now(fake_slack, receipt)
    hr_list = listed(client, HR, f"for <@{ALICE}> list")["blocks"]
    press(client, HR, hr_list, ids.CANCEL_ACTION)
    assert (request_status(fake_slack)["status"], request_status(fake_slack)["decided_by"]) == ("cancelled", HR)
    fake_slack.clear_calls()

    press(client, ALICE, approved_blocks, ids.CANCEL_ACTION, channel=receipt.response["channel"],
          ts=receipt.response["ts"])

    assert (request_status(fake_slack)["status"], request_status(fake_slack)["decided_by"]) == ("cancelled", HR)
    assert channel_updates(fake_slack) == [] and thread_replies(fake_slack) == []
    assert posts_to(fake_slack, C_ENG) == []  # no second "will not be out"
    [told] = said_to(fake_slack)
    assert "cancelled" in told.lower() and not told.startswith(":white_check_mark:")


def test_withdraw_on_an_old_receipt_after_the_approver_approved_it_is_refused_without_change(client, fake_slack):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    receipt = receipt_of(fake_slack)
    approve(client, fake_slack)
    fake_slack.clear_calls()

    press(client, ALICE, receipt.params["blocks"], ids.WITHDRAW_ACTION, channel=receipt.response["channel"],
          ts=receipt.response["ts"])

    assert request_status(fake_slack)["status"] == APPROVED
    assert channel_updates(fake_slack) == []
    [told] = said_to(fake_slack)
    assert "approved" in told and "nothing to withdraw" in told


def test_double_click_on_cancel_leave_cancels_once_and_answers_once(client, fake_slack):
    install_config()
    request_and_approve(client, fake_slack)
    blocks = listed(client, word="cancel")["blocks"]
    fake_slack.clear_calls()

    press(client, ALICE, blocks, ids.CANCEL_ACTION, channel=C_ENG, on_list=True)
    press(client, ALICE, blocks, ids.CANCEL_ACTION, channel=C_ENG, on_list=True)

    assert request_status(fake_slack)["status"] == "cancelled"
    assert len(channel_updates(fake_slack)) == 1
    assert len(thread_replies(fake_slack)) == 1
    assert len(posts_to(fake_slack, C_ENG)) == 1
    [answer] = ephemerals(fake_slack)
    assert answer.startswith(":white_check_mark: Cancelled")
    assert "taken 0" in vacation_line(balance(client, MONDAY.year))


# --- A far time zone --------------------------------------------------------------------------------


def test_a_list_in_kiritimati_dates_things_by_her_own_day(client, fake_slack):
    # UTC+14 against the team's UTC-8: for most of the team's day, she is a day ahead.
    fake_slack.workspace.users[ALICE].tz = "Pacific/Kiritimati"
    install_config()
    her_today = local_today("Pacific/Kiritimati")
    seed(fake_slack, entry("hers", her_today, her_today + timedelta(days=2)))
    blocks = listed(client)["blocks"]
    assert "*Out now*" in json.dumps(blocks)
    assert ids.CANCEL_ACTION not in buttons_in(blocks)


# --- Slack failing on the way ----------------------------------------------------------------------


def test_the_answer_to_a_list_cancel_survives_a_passing_ephemeral_failure(client, fake_slack, no_backoff):
    install_config()
    request_and_approve(client, fake_slack)
    blocks = listed(client, word="cancel")["blocks"]
    fake_slack.clear_calls()

    with failing(fake_slack, lambda method, params: method == "chat.postEphemeral", "internal_error"):
        press(client, ALICE, blocks, ids.CANCEL_ACTION, channel=C_ENG, on_list=True)

    assert request_status(fake_slack)["status"] == "cancelled"
    assert len(thread_replies(fake_slack)) == 1 and len(posts_to(fake_slack, C_ENG)) == 1
    told = said_to(fake_slack)
    assert [t for t in told if t.startswith(":white_check_mark: Cancelled")], told
    assert not [t for t in told if "couldn't" in t], told


def test_a_cancel_slack_refuses_for_good_is_not_told_as_done(client, fake_slack):
    install_config()
    request_and_approve(client, fake_slack)
    blocks = listed(client, word="cancel")["blocks"]
    fake_slack.clear_calls()
    fake_slack.fail("chat.update", "cant_update_message", times=None)

    press(client, ALICE, blocks, ids.CANCEL_ACTION, channel=C_ENG, on_list=True)

    assert request_status(fake_slack)["status"] == APPROVED
    told = said_to(fake_slack)
    assert not [t for t in told if t.startswith(":white_check_mark:")], told
    assert [t for t in told if "cant_update_message" in t or "refused" in t], told
    assert posts_to(fake_slack, C_ENG) == []


def test_a_cancel_through_passing_update_failures_is_made_once(client, fake_slack, no_sleeping):
    install_config()
    receipt = request_and_approve(client, fake_slack)
    _, blocks = receipt_now(fake_slack, receipt)
    fake_slack.clear_calls()
    fake_slack.server_error("chat.update", status=503, times=2)

    press(client, ALICE, blocks, ids.CANCEL_ACTION, channel=receipt.response["channel"], ts=receipt.response["ts"])

    assert request_status(fake_slack)["status"] == "cancelled"
    assert len(thread_replies(fake_slack)) == 1 and len(posts_to(fake_slack, C_ENG)) == 1
    assert not [t for t in said_to(fake_slack) if "couldn't" in t]


def test_app_home_is_published_after_a_passing_publish_failure(client, fake_slack, no_backoff):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    fake_slack.server_error("views.publish", status=500, times=1)

    home = open_app_home(client, fake_slack, ALICE, "Ev_PUB_FAIL")

    assert [c.response.get("ok") for c in fake_slack.calls("views.publish")] == [False, True]
    assert "Pending" in json.dumps(home)


def test_a_cold_list_whose_ledger_read_is_rate_limited_still_comes(client, fake_slack, no_sleeping):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    from django.core.cache import cache

    cache.clear()
    fake_slack.clear_calls()
    fake_slack.rate_limit("conversations.history", retry_after=1, times=4)

    response = post_command(client, "list", user_id=ALICE)

    assert response.status_code == 200
    dms = dms_to(fake_slack, ALICE)
    assert [d for d in dms if d.startswith("Your time off: 1 pending")], dms
    assert not [d for d in dms if "can't list" in d], dms


def test_a_cold_balance_whose_ledger_read_fails_for_a_while_still_comes_true(client, fake_slack, no_sleeping):
    install_config()
    request_and_approve(client, fake_slack)
    from django.core.cache import cache

    cache.clear()
    fake_slack.clear_calls()
    fake_slack.server_error("conversations.history", status=503, times=3)

    response = post_command(client, f"balance {MONDAY.year}", user_id=ALICE)

    assert response.status_code == 200
    answers = [response.json().get("text", "")] + dms_to(fake_slack, ALICE)
    assert [a for a in answers if "taken 3" in a], answers


# --- Many entries ----------------------------------------------------------------------------------


def test_an_approver_with_a_long_queue_and_much_leave_of_their_own_gets_a_valid_home(client, fake_slack):
    install_config()
    first = MONDAY + timedelta(days=7)
    others = [entry(f"dave-{n}", first + timedelta(days=n), first + timedelta(days=n), PENDING, user=DAVE)
              for n in range(25)]
    own = [entry(f"bob-p-{n}", first + timedelta(days=40 + n), first + timedelta(days=40 + n), PENDING, user=BOB,
                 decided_by=None) for n in range(40)]
    own += [entry(f"bob-a-{n}", first + timedelta(days=100 + n), first + timedelta(days=100 + n), APPROVED,
                  user=BOB, decided_by=HR) for n in range(40)]
    seed(fake_slack, *others, *own)

    home = open_app_home(client, fake_slack, BOB, "Ev_BOB_BIG")

    [publish] = [c for c in fake_slack.calls("views.publish") if c.params["user_id"] == BOB][-1:]
    assert publish.response["ok"], publish.response
    assert len(home["blocks"]) <= 100
    text = json.dumps(home)
    assert "Waiting for your decision" in text and "*Upcoming*" in text and "*Pending*" in text


def test_a_list_with_a_long_rejection_reason_under_the_longest_type_name_is_shown(client, fake_slack):
    longest = replace(VACATION, name="&" * 100, emoji=":" + "e" * 48 + ":")
    install_config(standard_config(leave_types=(longest, SICK, MEDICAL)))
    rejected = replace(entry("rej", MONDAY, WEDNESDAY, REJECTED), reason="<&>" * 166)
    seed(fake_slack, rejected, *[entry(f"p{n}", MONDAY + timedelta(days=7 + n), MONDAY + timedelta(days=7 + n),
                                       PENDING) for n in range(30)])

    for word in ("list", "cancel"):
        answer = listed(client, word=word)  # post_command holds the answer to what Slack would show
        assert answer["blocks"], word
    assert "Recently decided" in json.dumps(listed(client)["blocks"])


# --- The reminder the working day before -------------------------------------------------------------


def test_the_reminder_the_day_before_a_half_day_says_half_a_day(client, fake_slack):
    install_config()
    request_and_approve(client, fake_slack, start=MONDAY, end=MONDAY, halves=(ids.HALF_START_PM,))
    fake_slack.clear_calls()

    run_jobs(datetime.combine(MONDAY - timedelta(days=3), time(15, 30), tzinfo=LA))  # the Friday before

    [reminder] = [d for d in dms_to(fake_slack, ALICE) if "reminder" in d.lower()]
    assert "0.5" in reminder and "Mon 10 Mar" in reminder


def test_no_reminder_for_leave_cancelled_before_the_day(client, fake_slack):
    install_config()
    receipt = request_and_approve(client, fake_slack)
    _, blocks = receipt_now(fake_slack, receipt)
    press(client, ALICE, blocks, ids.CANCEL_ACTION, channel=receipt.response["channel"], ts=receipt.response["ts"])
    fake_slack.clear_calls()

    run_jobs(datetime.combine(MONDAY - timedelta(days=3), time(15, 30), tzinfo=LA))

    assert not [d for d in dms_to(fake_slack, ALICE) if "reminder" in d.lower()]


def test_the_reminder_for_leave_of_a_deleted_type_still_comes(client, fake_slack):
    install_config()
    request_and_approve(client, fake_slack)
    install_config(standard_config(leave_types=(SICK, MEDICAL)))
    fake_slack.clear_calls()

    run_jobs(datetime.combine(MONDAY - timedelta(days=3), time(15, 30), tzinfo=LA))

    [reminder] = [d for d in dms_to(fake_slack, ALICE) if "reminder" in d.lower()]
    assert "Mon 10 Mar" in reminder


def test_a_reminder_whose_dm_fails_once_is_sent_by_the_next_run_once(client, fake_slack, no_sleeping):
    install_config()
    request_and_approve(client, fake_slack)
    fake_slack.clear_calls()
    friday = MONDAY - timedelta(days=3)

    from django.utils import timezone

    from approvals.models import JobRun

    with failing(fake_slack, lambda method, params: method == "chat.postMessage" and params.get("channel") == ALICE,
                 "service_unavailable", times=None):
        from django.core.management.base import CommandError

        with pytest.raises(CommandError):
            run_jobs(datetime.combine(friday, time(15, 30), tzinfo=LA))
    JobRun.objects.update(retry_at=timezone.now() - timedelta(seconds=1))  # its retry is due
    run_jobs(datetime.combine(friday, time(16, 30), tzinfo=LA))
    JobRun.objects.update(retry_at=timezone.now() - timedelta(seconds=1))
    run_jobs(datetime.combine(friday, time(17, 30), tzinfo=LA))

    reminders = [c for c in fake_slack.calls("chat.postMessage") if c.params.get("channel") == ALICE
                 and c.response.get("ok") and "reminder" in c.params["text"].lower()]
    assert len(reminders) == 1


# --- More: stale edits, deleted teams, App Home's buttons, leave under way -----------------------------


def test_a_note_only_edit_from_an_old_list_does_not_undo_the_dates_hr_set(client, fake_slack):
    # What a person does with the form the old list's Edit opens: adds a note and saves. Slack sends the
    # form's state, which holds the dates it was opened with.
    install_config()
    request_time_off(client, fake_slack, ALICE)
    old_list = listed(client)["blocks"]
    request_id = request_status(fake_slack)["id"]
    hr_form = {**fake_slack.last_call("views.open").params["view"], "private_metadata": json.dumps({"edit": request_id})}
    post_interaction(client, view_submission_payload(
        user_id=HR, view=hr_form, values=request_values("vacation", MONDAY, FRIDAY), view_id="V_HR_EDIT2"))
    assert request_status(fake_slack)["end"] == FRIDAY.isoformat()
    listed(client)

    press(client, ALICE, old_list, ids.EDIT_ACTION, channel=C_ENG, on_list=True)
    form = fake_slack.last_call("views.open").params["view"]
    start = next(b for b in form["blocks"] if b.get("block_id") == ids.START_BLOCK)["element"]["initial_date"]
    end = next(b for b in form["blocks"] if b.get("block_id") == ids.END_BLOCK)["element"]["initial_date"]
    post_interaction(client, view_submission_payload(
        user_id=ALICE, view=form, values=request_values("vacation", date.fromisoformat(start), date.fromisoformat(end),
                                                        note="Flight at 7"), view_id="V_NOTE_ONLY"))

    assert request_status(fake_slack)["end"] == FRIDAY.isoformat()


def test_editing_a_pending_request_of_a_team_hr_removed_is_not_called_deleted(client, fake_slack):
    # Alice was in Sales, which HR removed (its people moved to Engineering). Her pending request is still
    # a message in Sales's approvals channel, which she can open from her receipt.
    fake_slack.workspace.channels[C_OLD_APPROVALS].members.update({DAVE, HR})
    install_config(standard_config(teams=(SALES, ENGINEERING)))
    request_time_off(client, fake_slack, ALICE)
    receipt = receipt_of(fake_slack)
    install_config(standard_config(teams=(ENGINEERING,)))
    fake_slack.clear_calls()

    press(client, ALICE, receipt.params["blocks"], ids.EDIT_ACTION, channel=receipt.response["channel"],
          ts=receipt.response["ts"])
    form = fake_slack.last_call("views.open").params["view"]
    response = post_interaction(client, view_submission_payload(
        user_id=ALICE, view=form, values=request_values("vacation", MONDAY, FRIDAY), view_id="V_EDIT_GONE"))

    [message] = [m for m in fake_slack.workspace.messages(C_OLD_APPROVALS) if m.metadata]
    assert message.metadata["event_payload"]["status"] == PENDING  # still there, untouched
    errors = json.dumps(response.json()["errors"])  # refused in the form, as its task would refuse it
    assert "no longer configured" in errors and "deleted" not in errors


def test_withdrawing_a_pending_request_of_a_team_hr_removed_from_the_receipt(client, fake_slack):
    fake_slack.workspace.channels[C_OLD_APPROVALS].members.update({DAVE, HR})
    install_config(standard_config(teams=(SALES, ENGINEERING)))
    request_time_off(client, fake_slack, ALICE)
    receipt = receipt_of(fake_slack)
    install_config(standard_config(teams=(ENGINEERING,)))
    fake_slack.clear_calls()

    press(client, ALICE, receipt.params["blocks"], ids.WITHDRAW_ACTION, channel=receipt.response["channel"],
          ts=receipt.response["ts"])

    [message] = [m for m in fake_slack.workspace.messages(C_OLD_APPROVALS) if m.metadata]
    assert message.metadata["event_payload"]["status"] == "cancelled"
    assert not [t for t in said_to(fake_slack) if "couldn't" in t]


def test_cancel_from_app_home_republishes_it_without_the_leave(client, fake_slack):
    from test_support.slack_requests import view_block_actions_payload

    install_config()
    request_and_approve(client, fake_slack)
    home = open_app_home(client, fake_slack, ALICE, "Ev_HOME_CANCEL")
    block_id, value = buttons_in(home["blocks"])[ids.CANCEL_ACTION]
    fake_slack.clear_calls()

    response = post_interaction(client, view_block_actions_payload(
        user_id=ALICE, action_id=ids.CANCEL_ACTION, value=value, block_id=block_id, view=home))

    assert response.status_code == 200
    assert request_status(fake_slack)["status"] == "cancelled"
    [publish] = [c for c in fake_slack.calls("views.publish") if c.params["user_id"] == ALICE][-1:]
    view = publish.params["view"]
    view = json.loads(view) if isinstance(view, str) else view
    assert ids.CANCEL_ACTION not in buttons_in(view["blocks"])
    assert "*Upcoming*" not in json.dumps(view)


def test_cancel_from_app_home_after_hr_cancelled_it_says_so_by_dm(client, fake_slack):
    from test_support.slack_requests import view_block_actions_payload

    install_config()
    request_and_approve(client, fake_slack)
    home = open_app_home(client, fake_slack, ALICE, "Ev_HOME_STALE")
    press(client, HR, listed(client, HR, f"for <@{ALICE}> list")["blocks"], ids.CANCEL_ACTION)
    block_id, value = buttons_in(home["blocks"])[ids.CANCEL_ACTION]
    fake_slack.clear_calls()

    post_interaction(client, view_block_actions_payload(
        user_id=ALICE, action_id=ids.CANCEL_ACTION, value=value, block_id=block_id, view=home))

    assert request_status(fake_slack)["decided_by"] == HR
    assert thread_replies(fake_slack) == [] and posts_to(fake_slack, C_ENG) == []
    told = dms_to(fake_slack, ALICE)
    assert told and all("couldn't" in t for t in told), told


def test_hr_cancelling_leave_under_way_cancels_all_of_it_as_the_button_says(client, fake_slack):
    # Leave from a week ago to next week; HR cancels it from a list of hers they had open since before it
    # began. It is cancelled whole (HR's correction: the days taken are recorded again with `/timeoff for`),
    # and the list's button for leave under way says so before it is pressed.
    install_config()
    today = la_today()
    start, end = today - timedelta(days=7), today + timedelta(days=7)
    [placed] = seed(fake_slack, entry("underway", start, end))
    before = vacation_line(balance(client, today.year))
    hr_list = listed(client, HR, f"for <@{ALICE}> list")["blocks"]
    [button] = [e for b in hr_list if b.get("type") == "actions" for e in b["elements"]]
    assert button["text"]["text"] == "Cancel all of it"
    assert "those already taken too" in button["confirm"]["text"]["text"]

    press(client, HR, receipt_blocks(placed), ids.CANCEL_ACTION, channel=C_GENERAL)

    after = vacation_line(balance(client, today.year))
    assert "taken 0," not in before and "taken 0," in after, (before, after)
    assert payload_of(fake_slack, "underway")["status"] == "cancelled"


def test_hr_is_offered_to_cancel_leave_under_way_that_the_employee_is_sent_to_them_for(client, fake_slack):
    # The employee's Cancel on leave under way says "it has already started; ask HR to correct it".
    install_config()
    today = la_today()
    seed(fake_slack, entry("underway2", today - timedelta(days=2), today + timedelta(days=7)))

    hr_list = listed(client, HR, f"for <@{ALICE}> list")["blocks"]
    hr_cancel = listed(client, HR, f"for <@{ALICE}> cancel")["blocks"]
    her_list = listed(client, ALICE, "list")["blocks"]

    assert ids.CANCEL_ACTION in buttons_in(hr_list) and ids.CANCEL_ACTION in buttons_in(hr_cancel)
    assert buttons_in(her_list) == {}  # hers: out now, nothing to press


def test_cancelling_leave_whose_old_approvals_channel_was_archived_is_told_truly(client, fake_slack):
    # Engineering moved to a new approvals channel and HR archived the old one: Slack refuses to rewrite
    # a message there (is_archived). The leave stays approved; she must not be told it is cancelled, nor
    # to try again in a few minutes.
    from approvals.models import DeliveryProblem

    install_config(standard_config(teams=(replace(ENGINEERING, past_approvals_channels=(C_OLD_APPROVALS,)),)))
    fake_slack.workspace.channels[C_OLD_APPROVALS].members.update({BOB, DAVE, HR})
    [placed] = seed(fake_slack, entry("archived", MONDAY, WEDNESDAY), channel=C_OLD_APPROVALS)
    fake_slack.workspace.channels[C_OLD_APPROVALS].is_archived = True
    blocks = listed(client, word="cancel")["blocks"]
    fake_slack.clear_calls()

    press(client, ALICE, blocks, ids.CANCEL_ACTION, channel=C_ENG, on_list=True)

    assert payload_of(fake_slack, "archived", C_OLD_APPROVALS)["status"] == APPROVED
    told = said_to(fake_slack)
    assert told and not [t for t in told if t.startswith(":white_check_mark:")], told
    assert not [t for t in told if "try again in a few minutes" in t], told
    assert DeliveryProblem.objects.exists()
    assert posts_to(fake_slack, C_ENG) == []


def test_a_cancel_list_on_a_california_evening_offers_tomorrows_leave_when_her_zone_is_not_cached(
        client, fake_slack, monkeypatch):
    # Her time zone is cached for a day, the ledger's slices for a week: two days after she last used the
    # app, the list is asked for with the slices warm and her zone unknown. At 18:00 in Los Angeles it is
    # already tomorrow in UTC, and tomorrow's leave, which she may still cancel, must not read as under
    # way: with leave starting or ending within a day of UTC's date, the list is made where her zone is
    # asked of Slack (a DM a moment later).
    import types

    from django.core.cache import cache

    from approvals import directory, selectors

    evening = datetime(2031, 3, 9, 18, 0, tzinfo=LA)  # Sunday evening; her leave starts Monday
    clock = types.SimpleNamespace(time=lambda: evening.timestamp())
    monkeypatch.setattr(selectors, "time", clock)
    install_config()
    seed(fake_slack, entry("tomorrow", MONDAY, WEDNESDAY))
    warm = listed(client, word="cancel")  # warms the slices (and her zone)
    assert ids.CANCEL_ACTION in buttons_in(warm["blocks"])  # with her zone known, it is offered
    cache.delete(directory.timezone_key(ALICE))  # a day later: her zone has lapsed, the slices have not
    cache.delete(f"directory:user:{ALICE}")
    fake_slack.clear_calls()

    response = post_command(client, "cancel", user_id=ALICE)

    assert "DM you" in response.json()["text"], response.json()
    [dm] = [c for c in fake_slack.calls("chat.postMessage") if c.params.get("channel") == ALICE]
    assert ids.CANCEL_ACTION in buttons_in(dm.params["blocks"]), json.dumps(dm.params["blocks"])


def test_a_list_with_her_zone_not_cached_is_answered_at_once_when_no_leave_is_near_the_day(
        client, fake_slack, monkeypatch):
    import types

    from django.core.cache import cache

    from approvals import directory, selectors

    evening = datetime(2031, 3, 1, 18, 0, tzinfo=LA)  # leave nine days ahead: UTC's day decides nothing
    monkeypatch.setattr(selectors, "time", types.SimpleNamespace(time=lambda: evening.timestamp()))
    install_config()
    seed(fake_slack, entry("later", MONDAY, WEDNESDAY))
    listed(client, word="cancel")
    cache.delete(directory.timezone_key(ALICE))
    cache.delete(f"directory:user:{ALICE}")

    response = post_command(client, "cancel", user_id=ALICE)

    assert ids.CANCEL_ACTION in buttons_in(response.json().get("blocks")), response.json()


def test_a_balance_on_new_years_eve_with_her_zone_not_cached_is_worked_out_with_her_zone(
        client, fake_slack, monkeypatch):
    # 31 December, 18:00 in Los Angeles, is 1 January in UTC: without her zone, which year is "this year"
    # is not known, so the balance comes by DM from where her zone is asked of Slack.
    import types

    from django.core.cache import cache

    from approvals import directory, selectors

    evening = datetime(2030, 12, 31, 18, 0, tzinfo=LA)
    monkeypatch.setattr(selectors, "time", types.SimpleNamespace(time=lambda: evening.timestamp()))
    install_config()
    listed(client, word="balance")  # warm
    cache.delete(directory.timezone_key(ALICE))
    cache.delete(f"directory:user:{ALICE}")

    assert "DM you" in post_command(client, "balance", user_id=ALICE).json()["text"]

    monkeypatch.setattr(selectors, "time", types.SimpleNamespace(time=lambda: evening.timestamp() - 5 * 86400))
    cache.delete(directory.timezone_key(ALICE))
    assert "Vacation" in post_command(client, "balance", user_id=ALICE).json()["text"]  # mid-December: at once


# --- Leave under way whose approvers have not decided -------------------------------------------------


def test_a_pending_request_under_way_can_be_shortened_but_not_moved_further_back(client, fake_slack):
    # Ill since Tuesday, she asked for the week; nobody has decided yet and she is back on Thursday.
    # Keeping the first day she was allowed to ask for is no new past date; moving it to another past
    # day is (vacation allows none).
    install_config()
    today = la_today()
    [placed] = seed(fake_slack, entry("under-way", today - timedelta(days=2), today + timedelta(days=5), PENDING))
    blocks = listed(client)["blocks"]
    press(client, ALICE, blocks, ids.EDIT_ACTION, channel=C_ENG, on_list=True)
    form = fake_slack.last_call("views.open").params["view"]

    moved = post_interaction(client, view_submission_payload(
        user_id=ALICE, view=form, values=request_values("vacation", today - timedelta(days=3),
                                                         today + timedelta(days=2)), view_id="V_MOVED_BACK"))
    assert "can't start in the past" in moved.json()["errors"][ids.START_BLOCK]

    shortened = post_interaction(client, view_submission_payload(
        user_id=ALICE, view=form, values=request_values("vacation", placed.start, today + timedelta(days=2)),
        view_id="V_SHORTENED"))

    assert shortened.content == b"", shortened.content
    now = payload_of(fake_slack, "under-way")
    assert (now["start"], now["end"], now["status"]) == (placed.start.isoformat(),
                                                         (today + timedelta(days=2)).isoformat(), PENDING)
