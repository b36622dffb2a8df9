"""DESIGN §6 (Flows) and §7 (Rules), promise by promise, as Engineering lives them in December 2026.

Alice (an employee in Los Angeles), Bob and Dave (Engineering's approvers; Dave also asks for leave) and
Hannah (HR, the fallback approver) use the app over a few weeks around New Year: pre-filled `/timeoff`
commands typed the way people type them, half days at both ends, leave across the year end, allowances HR
adjusted, overlaps with their own pending leave, `max_out` checked again when approving, blackouts,
`allow_past_days` in the requester's own Slack time zone, dates with no working day, edits, withdrawals and
cancellations, HR recording and correcting leave for someone, App Home for an approver, and `/timeoff
list|balance|cancel|help`.

Everything goes through signed, Slack-shaped requests to our endpoints, with the fake Slack as a real HTTP
server. "Today" is what the app takes it to be where each person is (the clock `approvals.selectors`
reads), set per test; Slack's own timestamps stay real, so a message dated by Slack shows a 2026 date with
its year once the real clock has left 2026 (`same_words` allows that and nothing else).
"""

import json
import re
import types
from dataclasses import replace
from datetime import date, datetime
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command

from approvals import block_ids as ids
from approvals.config_types import BlackoutConfig, HolidayConfig
from fake_slack.personas import C_ENG, C_ENG_APPROVALS
from test_support.flows import (
    ALICE,
    BOB,
    DAVE,
    ENGINEERING,
    HR,
    buttons_in,
    click,
    install_config,
    metadata_payload,
    open_app_home,
    posted_requests,
    press,
    reject_in_the_channel,
    request_values,
    standard_config,
)
from test_support.home_views import shown_text, waiting_count
from test_support.posted import posts_to, receipt_now, thread_replies
from test_support.request_form import open_form
from test_support.slack_requests import (
    block_actions_payload,
    post_command,
    post_interaction,
    view_block_actions_payload,
    view_submission_payload,
)

pytestmark = pytest.mark.django_db

LA = ZoneInfo("America/Los_Angeles")
TOKYO = ZoneInfo("Asia/Tokyo")
KENJI = "U_KENJI"  # Engineering, working from Tokyo

RELEASE_FREEZE = BlackoutConfig(start=date(2026, 12, 17), end=date(2026, 12, 18), team="Engineering",
                                reason="Release freeze")
COMPANY_DAY = HolidayConfig(date=date(2026, 12, 31), name="Company day")


# --- The world --------------------------------------------------------------------------------------------


def clock_at(monkeypatch, moment: datetime) -> None:
    """The instant the app takes for "now" when it works out what day it is where someone is."""
    from approvals import selectors

    monkeypatch.setattr(selectors, "time", types.SimpleNamespace(time=lambda: moment.timestamp()))


@pytest.fixture(autouse=True)
def first_of_december(monkeypatch):
    """Tuesday 1 December 2026, 09:00 in Los Angeles, unless a test moves on."""
    clock_at(monkeypatch, datetime(2026, 12, 1, 9, 0, tzinfo=LA))


def engineering(*, max_out=None, blackouts=(), holidays=()):
    team = replace(ENGINEERING, max_out=max_out)
    return install_config(standard_config(teams=(team,), blackouts=tuple(blackouts), holidays=tuple(holidays)))


def same_words(expected: str, actual: str) -> bool:
    """`actual` says `expected`; a 2026 date may carry its year when Slack's clock (real time) has left 2026."""
    if expected == actual:
        return True
    if date.today().year == 2026:
        return False
    pattern = re.escape(expected)
    pattern = re.sub(r"((?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)\\ \d{1,2}\\ (?:Nov|Dec))(?!\\ 20)", r"\1(?: 2026)?", pattern)
    return re.fullmatch(pattern, actual) is not None


def says(expected: str, texts) -> bool:
    return any(same_words(expected, text) for text in texts)


def typed(client, fake_slack, user: str, text: str):
    """`/timeoff <text>` once the person has used the app before (their team and time zone are known): the
    request form it opened (test_support.request_form.Form)."""
    return open_form(client, fake_slack, user, text)


def answer(client, user: str, text: str) -> str:
    """The ephemeral answer to `/timeoff <text>` (asked twice: the first warms the cache)."""
    post_command(client, text, user_id=user)
    response = post_command(client, text, user_id=user)
    assert response.status_code == 200, response.content
    return response.json()["text"]


def answer_blocks(client, user: str, text: str) -> list:
    post_command(client, text, user_id=user)
    response = post_command(client, text, user_id=user)
    assert response.status_code == 200, response.content
    return response.json().get("blocks") or []


def errors_of(response) -> dict:
    if not response.content:
        return {}
    body = response.json()
    return body.get("errors", {}) if body.get("response_action") == "errors" else {}


def send(client, fake_slack, user: str, text: str, *, halves=()):
    """`/timeoff <text>`, the half-day boxes ticked, the form sent as it was filled in; the answer to it."""
    form = typed(client, fake_slack, user, text)
    if halves:
        form.tick_halves(*halves)
    return form.submit()


def requests_of(fake_slack, user: str) -> list[dict]:
    """The ledger's requests of `user` as they stand in Engineering's approvals channel."""
    return [m.metadata["event_payload"] for m in fake_slack.workspace.messages(C_ENG_APPROVALS)
            if (m.metadata or {}).get("event_type") == "timeoff_request"
            and m.metadata["event_payload"]["user"] == user]


def message_of(fake_slack, user: str, index: int = -1):
    return [m for m in fake_slack.workspace.messages(C_ENG_APPROVALS)
            if (m.metadata or {}).get("event_type") == "timeoff_request"
            and m.metadata["event_payload"]["user"] == user][index]


def decide_on_message(client, approver: str, message, action_id: str = ids.APPROVE_ACTION):
    """`approver` presses a button of the request message as it stands now."""
    value = buttons_in(message.blocks)[action_id][1]
    payload = block_actions_payload(user_id=approver, action_id=action_id, value=value, channel_id=C_ENG_APPROVALS,
                                    message_ts=message.ts, block_id=ids.DECISION_BLOCK)
    response = post_interaction(client, payload)
    assert response.status_code == 200, response.content
    return response


def dms(fake_slack, user: str) -> list[str]:
    return [c.params["text"] for c in fake_slack.calls("chat.postMessage")
            if c.params.get("channel") == user and c.response.get("ok")]


def ephemerals(fake_slack, user: str) -> list[str]:
    return [c.params["text"] for c in fake_slack.calls("chat.postEphemeral")
            if c.params.get("user") == user and c.response.get("ok")]


def press_receipt(client, fake_slack, user: str, action_id: str, index: int = 0):
    posted = [c for c in fake_slack.calls("chat.postMessage")
              if c.params.get("channel") == user and buttons_in(c.params.get("blocks"))][index]
    updates = [c for c in fake_slack.calls("chat.update")
               if c.params["channel"] == posted.response["channel"] and c.params["ts"] == posted.response["ts"]]
    blocks = (updates[-1].params if updates else posted.params).get("blocks") or []
    return press(client, user, blocks, action_id, channel=posted.response["channel"], ts=posted.response["ts"])


def adjust_balance(user: str, days: str, year: int, reason: str) -> str:
    out = StringIO()
    call_command("adjust_balance", user, "vacation", days, "--year", str(year), "--reason", reason, "--by", HR,
                 stdout=out)
    return out.getvalue()


def filled_in(form) -> tuple:
    """What the form opened with: the leave type's code, the first and the last day."""
    values = form.state()
    return (values[ids.TYPE_BLOCK][ids.TYPE_ACTION]["selected_option"]["value"],
            values[ids.START_BLOCK][ids.START_ACTION]["selected_date"],
            values[ids.END_BLOCK][ids.END_ACTION]["selected_date"])


def after_lines(blocks) -> list[str]:
    return re.findall(r"After this request: [^\"\\]*? in \d{4}", json.dumps(blocks))


# === Request (§6): a pre-filled command, half days at both ends, the message, the receipt ==================


@pytest.mark.parametrize("words", ["2026-12-14–2026-12-16 :palm_tree:", "vacation 2026-12-14 to 2026-12-16.",
                                   "2026-12-14 until 2026-12-16, Vacation", "Dec 14-16 vacation",
                                   "Mon 14 Dec to 16 :palm_tree:"])
def test_a_range_typed_as_people_type_it_opens_the_form_filled_in(client, fake_slack, words):
    engineering()

    form = typed(client, fake_slack, ALICE, words)

    assert filled_in(form) == ("vacation", "2026-12-14", "2026-12-16")
    assert form.preview().startswith("*3 working days*: Mon 14 Dec – Wed 16 Dec. Decided by the Engineering "
                                     "approvers."), form.preview()


def test_half_days_at_both_ends_are_two_days_in_the_preview_the_message_the_receipt_and_the_balance(
        client, fake_slack):
    engineering()
    form = typed(client, fake_slack, ALICE, "2026-12-14–2026-12-16 :palm_tree:")

    form.tick_halves(ids.HALF_START_PM, ids.HALF_END_AM)
    assert form.preview() == (
        "*2 working days*: Mon 14 Dec – Wed 16 Dec (starts and ends at noon). Decided by the Engineering approvers."
        "\n:busts_in_silhouette: Nobody else on the team is out then."
        "\n:bar_chart: After this request: 23 of 25 days of Vacation left in 2026")
    assert form.submit().content == b""

    [posted] = posted_requests(fake_slack)
    assert same_words("<@U_ALICE> requests :palm_tree: Vacation, Mon 14 Dec – Wed 16 Dec (starts and ends at noon) "
                      "(2 working days) — for <@U_BOB>, <@U_DAVE>", posted.params["text"]), posted.params["text"]
    payload = metadata_payload(posted)
    assert (payload["start"], payload["end"], payload["start_half"], payload["end_half"], payload["days"]) == (
        "2026-12-14", "2026-12-16", "pm", "am", 2)
    assert set(buttons_in(posted.params["blocks"])) == {ids.APPROVE_ACTION, ids.REJECT_ACTION}
    assert says("Your request for :palm_tree: Vacation, Mon 14 Dec – Wed 16 Dec (starts and ends at noon) "
                "(2 working days) is with <@U_BOB>, <@U_DAVE> (Engineering). I'll let you know when they decide.",
                dms(fake_slack, ALICE)), dms(fake_slack, ALICE)
    assert "• :palm_tree: Vacation: *23 days left* — allowance 25, taken 0, pending 2" in answer(
        client, ALICE, "balance")


# === Rules (§7): allowance with adjustments, and leave across the year end counted in each year =============


def test_leave_over_new_year_is_charged_to_each_year_against_that_years_adjusted_allowance(client, fake_slack):
    """HR gave Alice 3 days carried over into 2026 and took 23 off 2027 (an unpaid sabbatical agreed): she
    has 28 days in 2026 and 2 in 2027. Leave from the afternoon of Mon 28 Dec to the morning of Tue 5 Jan is
    3.5 days of 2026 and 1.5 of 2027 (New Year's Day off); two more days in January are half a day too many,
    and only 2027 is named."""
    engineering()
    assert "Recorded adjustment" in adjust_balance(ALICE, "3", 2026, "carry-over")
    assert "Recorded adjustment" in adjust_balance(ALICE, "-23", 2027, "unpaid sabbatical agreed")

    form = typed(client, fake_slack, ALICE, "Dec 28 to Jan 5 vacation")  # typed on 1 Dec: this New Year
    assert filled_in(form) == ("vacation", "2026-12-28", "2027-01-05")
    form.tick_halves(ids.HALF_START_PM, ids.HALF_END_AM)
    assert form.submit().content == b""

    [posted] = posted_requests(fake_slack)
    assert "Vacation, Mon 28 Dec 2026 – Tue 5 Jan 2027 (starts and ends at noon) (5 working days)" in \
        posted.params["text"], posted.params["text"]
    assert after_lines(posted.params["blocks"]) == [
        "After this request: 24.5 of 28 days of Vacation left in 2026",
        "After this request: 0.5 of 2 days of Vacation left in 2027"]

    refused = send(client, fake_slack, ALICE, "2027-01-06 2027-01-07 vacation")
    assert errors_of(refused) == {ids.END_BLOCK: "You have 0.5 days of Vacation left in 2027; this request needs 2"}
    assert len(posted_requests(fake_slack)) == 1

    balance = answer(client, ALICE, "balance")
    assert ("*Your leave in 2026* (Engineering):\n• :palm_tree: Vacation: *24.5 days left* — allowance 25, "
            "adjustments +3, taken 0, pending 3.5") in balance, balance
    assert ("*Your leave in 2027* (Engineering):\n• :palm_tree: Vacation: *0.5 days left* — allowance 25, "
            "adjustments -23, taken 0, pending 1.5") in balance, balance
    assert answer(client, ALICE, "balance 2027").count("*Your leave in") == 1


# === Rules: overlap with one's own pending leave, of another type, and an edit that frees the day ==========


def test_sick_leave_on_a_day_of_ones_own_pending_vacation_is_refused_until_the_vacation_is_shortened(
        client, fake_slack, monkeypatch):
    engineering()
    assert send(client, fake_slack, ALICE, "2026-12-14 2026-12-16 vacation").content == b""

    clock_at(monkeypatch, datetime(2026, 12, 15, 7, 30, tzinfo=LA))  # Tuesday morning: Alice wakes up ill
    form = typed(client, fake_slack, ALICE, "today sick")
    assert filled_in(form) == ("sick", "2026-12-15", "2026-12-15")
    assert ":warning: This overlaps your pending leave on Mon 14 Dec – Wed 16 Dec" in form.preview(), form.preview()
    assert errors_of(form.submit()) == {ids.START_BLOCK: "This overlaps your pending leave on Mon 14 Dec – Wed 16 Dec"}
    assert len(requests_of(fake_slack, ALICE)) == 1

    # She shortens the vacation, already under way and still pending, to Monday: its first day is kept.
    press_receipt(client, fake_slack, ALICE, ids.EDIT_ACTION)
    edit = fake_slack.last_call("views.open").params["view"]
    edit = json.loads(edit) if isinstance(edit, str) else edit
    response = post_interaction(client, view_submission_payload(
        user_id=ALICE, view=edit, values=request_values("vacation", date(2026, 12, 14), date(2026, 12, 14)),
        view_id="V_EDIT", view_hash="V_EDIT.hash"))
    assert response.status_code == 200 and errors_of(response) == {}, response.content
    assert says("Edited by <@U_ALICE>: now :palm_tree: Vacation, Mon 14 Dec (1 working day) (was Mon 14 Dec – "
                "Wed 16 Dec). <@U_BOB>, <@U_DAVE>", thread_replies(fake_slack)), thread_replies(fake_slack)

    assert send(client, fake_slack, ALICE, "today to 2026-12-16 sick").content == b""
    [vacation, sick] = requests_of(fake_slack, ALICE)
    assert (vacation["status"], vacation["start"], vacation["end"], vacation["days"]) == (
        "pending", "2026-12-14", "2026-12-14", 1)
    assert (sick["status"], sick["start"], sick["end"], sick["days"]) == ("approved", "2026-12-15", "2026-12-16", 2)
    # Sick leave is private: the team hears only that she is away.
    assert says(":calendar: <@U_ALICE> will be out Tue 15 Dec – Wed 16 Dec.", posts_to(fake_slack, C_ENG)), \
        posts_to(fake_slack, C_ENG)


def test_a_morning_off_beside_ones_own_pending_afternoon_is_no_overlap_but_the_same_afternoon_is(
        client, fake_slack):
    engineering()
    assert send(client, fake_slack, ALICE, "2026-12-14 2026-12-15 vacation", halves=(ids.HALF_START_PM,)).content \
        == b""

    assert send(client, fake_slack, ALICE, "2026-12-14 vacation", halves=(ids.HALF_END_AM,)).content == b""
    again = send(client, fake_slack, ALICE, "2026-12-14 vacation", halves=(ids.HALF_START_PM,))

    assert errors_of(again) == {
        ids.START_BLOCK: "This overlaps your pending leave on Mon 14 Dec – Tue 15 Dec (starts at noon)"}
    assert sorted((r["start"], r.get("start_half") or "", r.get("end_half") or "", r["days"])
                  for r in requests_of(fake_slack, ALICE)) == [("2026-12-14", "", "am", 0.5),
                                                               ("2026-12-14", "pm", "", 1.5)]


# === Rules: allow_past_days, counted in the requester's own Slack time zone ===============================


def test_on_a_california_evening_sick_leave_three_days_back_is_counted_from_alices_day_not_utcs(
        client, fake_slack, monkeypatch):
    """18:00 on Tue 8 Dec in Los Angeles is already Wed 9 Dec in UTC. Sick leave may start 3 days back:
    Sat 5 Dec is 3 days back for Alice (4 by UTC's date), Fri 4 Dec is 4."""
    engineering()
    clock_at(monkeypatch, datetime(2026, 12, 8, 18, 0, tzinfo=LA))

    too_early = send(client, fake_slack, ALICE, "2026-12-04 2026-12-08 sick")
    assert errors_of(too_early) == {ids.START_BLOCK: "Sick leave can start at most 3 days in the past"}

    assert send(client, fake_slack, ALICE, "2026-12-05 2026-12-08 sick").content == b""
    [sick] = requests_of(fake_slack, ALICE)
    assert (sick["status"], sick["start"], sick["end"], sick["days"]) == ("approved", "2026-12-05", "2026-12-08", 2)


def test_on_a_tokyo_morning_yesterday_by_utc_is_already_in_the_past_for_kenji(client, fake_slack, monkeypatch):
    """08:00 on Wed 9 Dec in Tokyo is still Tue 8 Dec in UTC. Vacation cannot start in the past: for Kenji,
    Tue 8 Dec is yesterday; `today` is his Wednesday."""
    fake_slack.workspace.add_user(KENJI, "kenji", tz="Asia/Tokyo", real_name="Kenji Kato")
    fake_slack.workspace.channels[C_ENG].members.add(KENJI)
    engineering()
    clock_at(monkeypatch, datetime(2026, 12, 9, 8, 0, tzinfo=TOKYO))

    refused = send(client, fake_slack, KENJI, "2026-12-08 2026-12-09 vacation")
    assert errors_of(refused) == {ids.START_BLOCK: "Vacation can't start in the past"}

    form = typed(client, fake_slack, KENJI, "today vacation")
    assert filled_in(form) == ("vacation", "2026-12-09", "2026-12-09")
    assert form.submit().content == b""
    [posted] = posted_requests(fake_slack)
    assert metadata_payload(posted)["start"] == "2026-12-09"


# === Rules: no working day at all ========================================================================


def test_christmas_day_alone_and_new_years_eve_to_the_sunday_after_have_no_working_day(client, fake_slack):
    engineering(holidays=(COMPANY_DAY,))

    christmas = typed(client, fake_slack, ALICE, "2026-12-25 vacation")
    assert ":warning: Fri 25 Dec is not a working day for Engineering (Christmas Day)" in christmas.preview(), \
        christmas.preview()
    assert errors_of(christmas.submit()) == {
        ids.END_BLOCK: "Fri 25 Dec is not a working day for Engineering (Christmas Day)"}

    # The company's day off, New Year's Day and a weekend: across the year end, with the years named.
    new_year = send(client, fake_slack, ALICE, "Dec 31 to Jan 3 vacation")
    assert errors_of(new_year) == {
        ids.END_BLOCK: "Thu 31 Dec 2026 – Sun 3 Jan 2027 are not working days for Engineering"}
    assert posted_requests(fake_slack) == []
    assert dms(fake_slack, ALICE) == []


# === Decide (§6) and max_out (§7): checked again at approval; cancelling approved leave ===================


def test_max_out_is_checked_again_at_approval_and_cancelled_leave_makes_room_with_everyone_told(
        client, fake_slack):
    """Both requests were sent while two could be out; HR then allows one. Bob approves Dave's first week
    of January; Alice's New Year is refused, naming the full day with its year. Dave cancels his leave from
    his receipt: his approver is told in the thread, the team channel is corrected, and Alice's can then be
    approved."""
    engineering(max_out=2)
    assert send(client, fake_slack, ALICE, "2026-12-30 to 2027-01-05 vacation").content == b""
    assert send(client, fake_slack, DAVE, "2027-01-04 2027-01-08 vacation").content == b""
    engineering(max_out=1)

    decide_on_message(client, BOB, message_of(fake_slack, DAVE))
    assert requests_of(fake_slack, DAVE)[0]["status"] == "approved"
    decide_on_message(client, BOB, message_of(fake_slack, ALICE))

    assert ephemerals(fake_slack, BOB) == [
        "You can't approve this yet: Mon 4 Jan 2027 is full for Engineering: 1 person is already out, and at most "
        "1 can be out at once."]
    assert requests_of(fake_slack, ALICE)[0]["status"] == "pending"
    assert set(buttons_in(message_of(fake_slack, ALICE).blocks)) == {ids.APPROVE_ACTION, ids.REJECT_ACTION}
    assert not [text for text in dms(fake_slack, ALICE) if "approved" in text]

    press_receipt(client, fake_slack, DAVE, ids.CANCEL_ACTION)
    assert requests_of(fake_slack, DAVE)[0]["status"] == "cancelled"
    assert "Cancelled by <@U_DAVE>: this approved leave will not be taken. <@U_BOB>" in thread_replies(fake_slack)
    announced = posts_to(fake_slack, C_ENG)
    assert ":palm_tree: <@U_DAVE> will be out Mon 4 Jan 2027 – Fri 8 Jan 2027 (Vacation)." in announced, announced
    assert ":leftwards_arrow_with_hook: <@U_DAVE> will not be out Mon 4 Jan 2027 – Fri 8 Jan 2027 after all." \
        in announced, announced

    decide_on_message(client, BOB, message_of(fake_slack, ALICE))
    assert requests_of(fake_slack, ALICE)[0]["status"] == "approved"
    assert ":white_check_mark: <@U_BOB> approved your :palm_tree: Vacation, Wed 30 Dec 2026 – Tue 5 Jan 2027 " \
           "(4 working days)." in dms(fake_slack, ALICE), dms(fake_slack, ALICE)
    assert "Approved by <@U_BOB>" in thread_replies(fake_slack)


def test_only_the_teams_approvers_decide_never_their_own_and_a_decision_rewrites_the_message(client, fake_slack):
    engineering()
    assert send(client, fake_slack, BOB, "2026-12-21 2026-12-23 vacation").content == b""
    [posted] = posted_requests(fake_slack)
    assert same_words("<@U_BOB> requests :palm_tree: Vacation, Mon 21 Dec – Wed 23 Dec (3 working days) — for "
                      "<@U_DAVE>", posted.params["text"]), posted.params["text"]

    click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted)
    click(client, fake_slack, HR, ids.APPROVE_ACTION, posted)  # in the approvals channel, not an approver here
    assert ephemerals(fake_slack, BOB) == ["You can't decide your own request; another approver will."]
    assert ephemerals(fake_slack, HR) == ["You are not an approver for Engineering, so you can't decide this request."]
    assert requests_of(fake_slack, BOB)[0]["status"] == "pending"

    click(client, fake_slack, DAVE, ids.APPROVE_ACTION, posted)
    decided = message_of(fake_slack, BOB)
    payload = decided.metadata["event_payload"]
    assert (payload["status"], payload["decided_by"]) == ("approved", DAVE)
    assert buttons_in(decided.blocks) == {}
    assert any(t.startswith(":white_check_mark: Approved by <@U_DAVE> <!date^") for t in json.dumps(
        decided.blocks).split('"text": "')[1:]), decided.blocks
    assert thread_replies(fake_slack) == ["Approved by <@U_DAVE>"]
    assert says(":palm_tree: <@U_BOB> will be out Mon 21 Dec – Wed 23 Dec (Vacation).", posts_to(fake_slack, C_ENG))


# === Rules: blackouts, at sending and when HR adds one over a request that waits ==========================


def test_a_blackout_is_warned_of_in_the_preview_refused_on_sending_and_a_half_day_before_it_fits(
        client, fake_slack):
    engineering(blackouts=(RELEASE_FREEZE,))

    form = typed(client, fake_slack, ALICE, "Dec 16-18 vacation")
    assert ":warning: Thu 17 Dec – Fri 18 Dec is a blackout for Engineering: Release freeze" in form.preview(), \
        form.preview()
    assert errors_of(form.submit()) == {
        ids.START_BLOCK: "Thu 17 Dec – Fri 18 Dec is a blackout for Engineering: Release freeze"}
    assert posted_requests(fake_slack) == []

    # Wednesday ending at noon, before the freeze begins on Thursday, is fine.
    assert send(client, fake_slack, ALICE, "2026-12-15 2026-12-16 vacation", halves=(ids.HALF_END_AM,)).content \
        == b""
    [posted] = posted_requests(fake_slack)
    assert metadata_payload(posted)["days"] == 1.5


def test_a_blackout_hr_adds_over_a_waiting_request_refuses_its_approval_and_the_approver_rejects_with_why(
        client, fake_slack):
    engineering()
    assert send(client, fake_slack, ALICE, "2026-12-21 2026-12-22 vacation").content == b""
    handover = BlackoutConfig(start=date(2026, 12, 21), end=date(2026, 12, 23), team="Engineering",
                              reason="On-call handover")
    engineering(blackouts=(handover,))

    decide_on_message(client, BOB, message_of(fake_slack, ALICE))

    assert ephemerals(fake_slack, BOB) == [
        "You can't approve this as it stands: Mon 21 Dec – Wed 23 Dec is a blackout for Engineering: On-call "
        "handover. HR changed the leave rules (blackouts, allowances or limits) since it was sent. Nothing was "
        "approved: reject it with that reason, or ask <@U_ALICE> to change it."]
    assert requests_of(fake_slack, ALICE)[0]["status"] == "pending"
    assert posts_to(fake_slack, C_ENG) == []

    reject_in_the_channel(client, fake_slack, BOB, posted_requests(fake_slack)[0], "On-call handover that week")
    assert requests_of(fake_slack, ALICE)[0]["status"] == "rejected"
    assert says(":x: <@U_BOB> rejected your :palm_tree: Vacation, Mon 21 Dec – Tue 22 Dec (2 working days).\n"
                "Reason: On-call handover that week", dms(fake_slack, ALICE)), dms(fake_slack, ALICE)
    text, blocks = receipt_now(fake_slack, ALICE)
    assert buttons_in(blocks) == {}
    assert "Reason: On-call handover that week" in text
    assert posts_to(fake_slack, C_ENG) == []



# === See (§6): /timeoff list, cancel, help and App Home over the weeks ====================================


def block_texts(blocks) -> list[str]:
    """The texts of sections and contexts, in order (not buttons or their confirmations)."""
    found = []
    for block in blocks:
        if block.get("type") == "section":
            found.append(block["text"]["text"])
        elif block.get("type") == "context":
            found += [element["text"] for element in block["elements"]]
    return found


def buttons_by_line(blocks) -> list[tuple[str, list[str]]]:
    """Each request line of a list with the labels of the buttons under it."""
    lines = []
    for block in blocks:
        if block.get("type") == "section" and block["text"]["text"].startswith("*:"):
            lines.append((block["text"]["text"].split("* — ")[0].strip("*"), []))
        elif block.get("type") == "actions" and lines:
            lines[-1][1].extend(element["text"]["text"] for element in block["elements"])
    return lines


def alices_december(client, fake_slack):
    """Approved leave on 14–15 Dec, a request waiting for 21–22 Dec, one Bob rejected for 28–29 Dec."""
    engineering()
    assert send(client, fake_slack, ALICE, "2026-12-14 2026-12-15 vacation").content == b""
    decide_on_message(client, BOB, message_of(fake_slack, ALICE))
    assert send(client, fake_slack, ALICE, "2026-12-21 2026-12-22 vacation").content == b""
    assert send(client, fake_slack, ALICE, "2026-12-28 2026-12-29 vacation").content == b""
    reject_in_the_channel(client, fake_slack, BOB, posted_requests(fake_slack)[-1], "Skeleton crew")


def test_list_and_cancel_offer_what_can_still_change_and_leave_under_way_is_hrs_to_correct(
        client, fake_slack, monkeypatch):
    alices_december(client, fake_slack)

    listed = answer_blocks(client, ALICE, "list")
    assert [t for t in block_texts(listed) if not t.startswith("*:")] == [
        "*Your time off*", "*Pending*", "*Upcoming*", "*Recently decided*"]
    assert buttons_by_line(listed) == [
        (":palm_tree: Vacation, Mon 21 Dec – Tue 22 Dec (2 working days)", ["Edit", "Withdraw"]),
        (":palm_tree: Vacation, Mon 14 Dec – Tue 15 Dec (2 working days)", ["Cancel leave"]),
        (":palm_tree: Vacation, Mon 28 Dec – Tue 29 Dec (2 working days)", [])]
    assert "— Skeleton crew" in block_texts(listed)[-1]
    assert answer(client, ALICE, "list") == "Your time off: 1 pending, 1 coming up."

    to_change = answer_blocks(client, ALICE, "cancel")
    assert block_texts(to_change)[0] == "*Which request do you want to change?*"
    assert [line for line, _ in buttons_by_line(to_change)] == [
        ":palm_tree: Vacation, Mon 21 Dec – Tue 22 Dec (2 working days)",
        ":palm_tree: Vacation, Mon 14 Dec – Tue 15 Dec (2 working days)"]

    # Monday 14 December: the approved leave has begun. It is Alice's to keep, HR's to correct.
    clock_at(monkeypatch, datetime(2026, 12, 14, 10, 0, tzinfo=LA))
    listed = answer_blocks(client, ALICE, "list")
    assert "*Out now*" in block_texts(listed)
    assert (":palm_tree: Vacation, Mon 14 Dec – Tue 15 Dec (2 working days)", []) in buttons_by_line(listed)
    assert [line for line, _ in buttons_by_line(answer_blocks(client, ALICE, "cancel"))] == [
        ":palm_tree: Vacation, Mon 21 Dec – Tue 22 Dec (2 working days)"]
    hrs = answer_blocks(client, HR, f"for <@{ALICE}|alice> list")
    assert block_texts(hrs)[0] == "*<@U_ALICE>'s time off*"
    assert (":palm_tree: Vacation, Mon 14 Dec – Tue 15 Dec (2 working days)", ["Cancel all of it"]) in \
        buttons_by_line(hrs)


def test_help_explains_the_command_in_the_readmes_words(client, fake_slack):
    engineering()

    text = answer(client, ALICE, "help")

    assert text.startswith("*/timeoff* — request time off and see your leave.\n• `/timeoff` opens the request form.")
    for promise in ("`/timeoff 2026-12-21 2026-12-23 vacation` opens it filled in", "`/timeoff balance`",
                    "`/timeoff list`", "`/timeoff cancel`", "`/timeoff who`", "`/timeoff for @person list`"):
        assert promise in text, promise
    assert text.endswith("Your request goes to your team's approvers; you get a DM when they decide.")


def test_app_home_of_an_approver_lists_what_waits_for_them_but_never_their_own_and_follows_decisions(
        client, fake_slack):
    """Alice asks for Vacation and Dave, an approver himself, for a (private) medical appointment. Bob's tab
    waits on both, the private one only as "away" with a link to the request; Dave's waits on Alice's alone.
    Bob approves Alice's from his tab: both tabs follow."""
    alices_december(client, fake_slack)
    assert send(client, fake_slack, DAVE, "2026-12-21 2026-12-22 medical").content == b""

    bobs = open_app_home(client, fake_slack, BOB, "Ev_BOB_1")
    texts = shown_text(bobs)
    assert waiting_count(bobs) == 2
    assert "*<@U_ALICE>* requests *:palm_tree: Vacation, Mon 21 Dec – Tue 22 Dec (2 working days)* (Engineering)" \
        in texts, texts
    [daves_line] = [t for t in texts.split("\n") if t.startswith("*<@U_DAVE>* requests")]
    assert daves_line.startswith("*<@U_DAVE>* requests *:calendar: away, Mon 21 Dec – Tue 22 Dec (2 working days)* "
                                 "(Engineering) <https://"), daves_line
    assert "Medical" not in daves_line and "Open the request" in daves_line
    daves = open_app_home(client, fake_slack, DAVE, "Ev_DAVE_1")
    assert waiting_count(daves) == 1
    assert "*<@U_DAVE>* requests" not in shown_text(daves)
    assert waiting_count(open_app_home(client, fake_slack, ALICE, "Ev_ALICE_1")) == 0

    [alices_block] = [b for b in bobs["blocks"] if b.get("block_id", "").startswith("decide:")
                      and json.loads(b["elements"][0]["value"])["user"] == ALICE]
    value = buttons_in([alices_block])[ids.APPROVE_ACTION][1]
    response = post_interaction(client, view_block_actions_payload(
        user_id=BOB, action_id=ids.APPROVE_ACTION, value=value, block_id=alices_block["block_id"], view=bobs))
    assert response.status_code == 200, response.content

    assert [r["status"] for r in requests_of(fake_slack, ALICE)] == ["approved", "approved", "rejected"]
    latest = {user: [c for c in fake_slack.calls("views.publish") if c.params["user_id"] == user][-1].params["view"]
              for user in (BOB, DAVE)}
    latest = {user: json.loads(view) if isinstance(view, str) else view for user, view in latest.items()}
    assert waiting_count(latest[BOB]) == 1
    assert waiting_count(latest[DAVE]) == 0


# === Change (§6): edits and withdrawals of pending requests ==============================================


def edit_from_receipt(client, fake_slack, user: str, leave_type: str, start: date, end: date, *, halves=(),
                      view_id="V_EDIT"):
    press_receipt(client, fake_slack, user, ids.EDIT_ACTION)
    form = fake_slack.last_call("views.open").params["view"]
    form = json.loads(form) if isinstance(form, str) else form
    response = post_interaction(client, view_submission_payload(
        user_id=user, view=form, values=request_values(leave_type, start, end, halves=halves), view_id=view_id,
        view_hash=f"{view_id}.hash"))
    assert response.status_code == 200, response.content
    return response


def test_an_edit_into_a_blackout_is_refused_and_one_around_it_is_told_to_the_approvers_and_the_receipt(
        client, fake_slack):
    engineering(blackouts=(RELEASE_FREEZE,))
    assert send(client, fake_slack, ALICE, "2026-12-14 2026-12-15 vacation").content == b""

    into_the_freeze = edit_from_receipt(client, fake_slack, ALICE, "vacation", date(2026, 12, 15), date(2026, 12, 17))
    assert errors_of(into_the_freeze) == {
        ids.START_BLOCK: "Thu 17 Dec – Fri 18 Dec is a blackout for Engineering: Release freeze"}
    assert thread_replies(fake_slack) == []
    assert requests_of(fake_slack, ALICE)[0]["end"] == "2026-12-15"

    edited = edit_from_receipt(client, fake_slack, ALICE, "vacation", date(2026, 12, 15), date(2026, 12, 16),
                               halves=(ids.HALF_START_PM,), view_id="V_EDIT2")
    assert errors_of(edited) == {}
    [entry] = requests_of(fake_slack, ALICE)
    assert (entry["status"], entry["start"], entry["end"], entry.get("start_half"), entry["days"]) == (
        "pending", "2026-12-15", "2026-12-16", "pm", 1.5)
    assert says("Edited by <@U_ALICE>: now :palm_tree: Vacation, Tue 15 Dec – Wed 16 Dec (starts at noon) "
                "(1.5 working days) (was Mon 14 Dec – Tue 15 Dec). <@U_BOB>, <@U_DAVE>", thread_replies(fake_slack)), \
        thread_replies(fake_slack)
    text, blocks = receipt_now(fake_slack, ALICE)
    assert same_words("Your request for :palm_tree: Vacation, Tue 15 Dec – Wed 16 Dec (starts at noon) (1.5 working "
                      "days) is with <@U_BOB>, <@U_DAVE> (Engineering). I'll let you know when they decide.", text), text
    assert set(buttons_in(blocks)) == {ids.EDIT_ACTION, ids.WITHDRAW_ACTION}
    assert "• :palm_tree: Vacation: *23.5 days left* — allowance 25, taken 0, pending 1.5" in answer(
        client, ALICE, "balance")


def test_withdrawing_from_timeoff_cancel_tells_alice_where_she_pressed_the_approvers_and_gives_the_days_back(
        client, fake_slack):
    engineering()
    assert send(client, fake_slack, ALICE, "2026-12-21 2026-12-23 vacation", halves=(ids.HALF_END_AM,)).content \
        == b""
    bobs = open_app_home(client, fake_slack, BOB, "Ev_BOB_W1")
    assert waiting_count(bobs) == 1

    to_change = answer_blocks(client, ALICE, "cancel")
    press(client, ALICE, to_change, ids.WITHDRAW_ACTION, channel=C_ENG, on_list=True)

    assert requests_of(fake_slack, ALICE)[0]["status"] == "cancelled"
    told = ephemerals(fake_slack, ALICE) + dms(fake_slack, ALICE)[1:]
    assert says(":white_check_mark: Withdrawn: your :palm_tree: Vacation, Mon 21 Dec – Wed 23 Dec (ends at noon) "
                "(2.5 working days). The list above shows it as it was; `/timeoff list` shows it now.", told), told
    assert thread_replies(fake_slack) == ["Withdrawn by <@U_ALICE>. <@U_BOB>, <@U_DAVE>"]
    assert buttons_in(message_of(fake_slack, ALICE).blocks) == {}
    text, blocks = receipt_now(fake_slack, ALICE)
    assert text.startswith(":no_entry_sign: Cancelled: :palm_tree: Vacation, Mon 21 Dec") and buttons_in(blocks) == {}
    assert posts_to(fake_slack, C_ENG) == []  # never approved, never announced: nothing to correct
    assert "• :palm_tree: Vacation: *25 days left* — allowance 25, taken 0, pending 0" in answer(
        client, ALICE, "balance")
    latest = [c for c in fake_slack.calls("views.publish") if c.params["user_id"] == BOB][-1].params["view"]
    assert waiting_count(json.loads(latest) if isinstance(latest, str) else latest) == 0


def test_cancelling_approved_leave_over_new_year_from_the_list_corrects_the_team_and_gives_each_year_back(
        client, fake_slack):
    engineering()
    assert send(client, fake_slack, ALICE, "2026-12-28 2027-01-04 vacation", halves=(ids.HALF_START_PM,)).content \
        == b""
    decide_on_message(client, BOB, message_of(fake_slack, ALICE))
    announced = ":palm_tree: <@U_ALICE> will be out Mon 28 Dec 2026 – Mon 4 Jan 2027 (starts at noon) (Vacation)."
    assert announced in posts_to(fake_slack, C_ENG), posts_to(fake_slack, C_ENG)
    balance = answer(client, ALICE, "balance")
    assert "Vacation: *21.5 days left* — allowance 25, taken 3.5, pending 0" in balance, balance
    assert "Vacation: *24 days left* — allowance 25, taken 1, pending 0" in balance, balance

    listed = answer_blocks(client, ALICE, "list")
    press(client, ALICE, listed, ids.CANCEL_ACTION, channel=C_ENG, on_list=True)

    assert requests_of(fake_slack, ALICE)[0]["status"] == "cancelled"
    assert "Cancelled by <@U_ALICE>: this approved leave will not be taken. <@U_BOB>, <@U_DAVE>" in \
        thread_replies(fake_slack), thread_replies(fake_slack)
    assert posts_to(fake_slack, C_ENG) == [
        announced,
        ":leftwards_arrow_with_hook: <@U_ALICE> will not be out Mon 28 Dec 2026 – Mon 4 Jan 2027 (starts at noon) "
        "after all."]
    balance = answer(client, ALICE, "balance")
    assert "Vacation: *25 days left* — allowance 25, taken 0, pending 0" in balance, balance
    assert "2027" not in balance, balance  # nothing asked for in 2027 any more


# === Change (§6): HR records, corrects and cancels leave for someone else ==================================


def record_for(client, fake_slack, person: str, words: str, leave_type: str, start: date, end: date, *, halves=()):
    """HR's `/timeoff for @person <words>` and the Record form sent as it is filled in; the answer."""
    response = post_command(client, f"for <@{person}|{person[2:].lower()}> {words}", user_id=HR)
    assert response.status_code == 200 and response.content == b"", response.content
    opened = fake_slack.last_call("views.open").response["view"]  # each form Slack opens has its own id
    return post_interaction(client, view_submission_payload(
        user_id=HR, view=opened, values=request_values(leave_type, start, end, halves=halves), view_id=opened["id"],
        view_hash=opened["hash"]))


def test_hr_recording_for_alice_meets_her_pending_leave_and_her_adjusted_allowance_in_words_about_her(
        client, fake_slack):
    engineering()
    adjust_balance(ALICE, "-22", 2027, "pro-rated: part-time from January")  # 3 days left in 2027
    assert send(client, fake_slack, ALICE, "2026-12-21 2026-12-22 vacation").content == b""

    overlapping = record_for(client, fake_slack, ALICE, "2026-12-22 2026-12-23 vacation", "vacation",
                             date(2026, 12, 22), date(2026, 12, 23))
    assert errors_of(overlapping) == {ids.START_BLOCK: "This overlaps their pending leave on Mon 21 Dec – Tue 22 Dec"}

    too_much = record_for(client, fake_slack, ALICE, "2026-12-30 2027-01-08 vacation", "vacation",
                          date(2026, 12, 30), date(2027, 1, 8))
    assert errors_of(too_much) == {ids.END_BLOCK: "They have 3 days of Vacation left in 2027; this request needs 5"}

    fits = record_for(client, fake_slack, ALICE, "2026-12-30 2027-01-06 vacation", "vacation",
                      date(2026, 12, 30), date(2027, 1, 6))
    assert errors_of(fits) == {}
    recorded = requests_of(fake_slack, ALICE)[-1]
    assert (recorded["status"], recorded["recorded_by"], recorded["decided_by"], recorded["days"]) == (
        "approved", HR, HR, 5)
    assert "<@U_HR> recorded time off for you: :palm_tree: Vacation, Wed 30 Dec 2026 – Wed 6 Jan 2027 " \
           "(5 working days)." in dms(fake_slack, ALICE), dms(fake_slack, ALICE)
    assert ":palm_tree: <@U_ALICE> will be out Wed 30 Dec 2026 – Wed 6 Jan 2027 (Vacation)." in \
        posts_to(fake_slack, C_ENG)
    balance = answer(client, ALICE, "balance")
    assert "Vacation: *21 days left* — allowance 25, taken 2, pending 2" in balance, balance
    assert "Vacation: *0 days left* — allowance 25, adjustments -22, taken 3, pending 0" in balance, balance


def test_hr_records_a_sick_day_further_back_than_alice_may_and_corrects_it_by_cancelling_it(
        client, fake_slack, monkeypatch):
    """Alice was ill on Tue 1 Dec and forgot to say so. On Wed 9 Dec she may go back only 3 days; HR records
    it for her. It was over when it was recorded, so the team hears nothing; HR then finds she was ill on
    Wednesday 2nd instead, cancels it (only the thread says so) and records the right day."""
    engineering()
    clock_at(monkeypatch, datetime(2026, 12, 9, 10, 0, tzinfo=LA))
    assert errors_of(send(client, fake_slack, ALICE, "2026-12-01 sick")) == {
        ids.START_BLOCK: "Sick leave can start at most 3 days in the past"}

    assert errors_of(record_for(client, fake_slack, ALICE, "2026-12-01 sick", "sick", date(2026, 12, 1),
                                date(2026, 12, 1))) == {}
    [sick] = requests_of(fake_slack, ALICE)
    assert (sick["status"], sick["start"], sick["recorded_by"]) == ("approved", "2026-12-01", HR)
    assert posts_to(fake_slack, C_ENG) == []

    hrs = answer_blocks(client, HR, f"for <@{ALICE}|alice> list")
    press(client, HR, hrs, ids.CANCEL_ACTION, channel=C_ENG, on_list=True)
    assert requests_of(fake_slack, ALICE)[0]["status"] == "cancelled"
    assert thread_replies(fake_slack)[-1].startswith("Cancelled by <@U_HR>: this leave, already under way, is no "
                                                    "longer on the record.")
    assert posts_to(fake_slack, C_ENG) == []
    assert [t for t in dms(fake_slack, ALICE) if t.startswith("<@U_HR> changed your time off")], \
        dms(fake_slack, ALICE)

    assert errors_of(record_for(client, fake_slack, ALICE, "2026-12-02 sick", "sick", date(2026, 12, 2),
                                date(2026, 12, 2))) == {}
    assert [(r["start"], r["status"]) for r in requests_of(fake_slack, ALICE)] == [
        ("2026-12-01", "cancelled"), ("2026-12-02", "approved")]


def test_a_carry_over_hr_records_for_next_year_shows_next_year_in_the_balance_and_on_app_home(client, fake_slack):
    """In December, once HR has recorded January's carry-over, Alice sees next year's balance too, with
    the adjustment, though she has asked for nothing in it yet."""
    engineering()
    assert "Recorded adjustment" in adjust_balance(ALICE, "5", 2027, "carry-over from 2026")

    balance = answer(client, ALICE, "balance")

    assert "• :palm_tree: Vacation: *25 days left* — allowance 25, taken 0, pending 0" in balance, balance
    assert ("*Your leave in 2027* (Engineering):\n• :palm_tree: Vacation: *30 days left* — allowance 25, "
            "adjustments +5, taken 0, pending 0") in balance, balance
    home = shown_text(open_app_home(client, fake_slack, ALICE, "Ev_ALICE_CARRY"))
    assert "Vacation: *30 days left* — allowance 25, adjustments +5, taken 0, pending 0" in home, home
