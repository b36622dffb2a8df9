"""People whose Slack time zone is not their team's.

A requester in Kiritimati (UTC+14) or Tokyo in a team that keeps Los Angeles time, one in Pago Pago
(UTC-11) in a team that keeps Berlin time, and someone who flies between the two: what "today", "in the
past", "tomorrow" and "out now" mean for them in the request form, `/timeoff list` and `cancel`, App Home,
`/timeoff who`, the reminder the day before, and the messages their approvers and team read.

Everything goes through signed Slack-shaped requests against the fake Slack, whose users carry a time
zone. Where a test needs a particular instant, the app's clock for "what day is it where" (the one
`approvals.selectors` reads) is set to it, as the existing flow tests do; the daily jobs are run at an
instant with `run_jobs --at`.
"""

import json
import types
from dataclasses import replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from approvals import block_ids as ids
from approvals.rules import APPROVED, CANCELLED, PENDING, LedgerEntry
from approvals.selectors import local_today
from fake_slack.ledger_seed import seed_ledger
from fake_slack.personas import C_ENG, C_ENG_APPROVALS
from test_support.flows import (
    ALICE,
    BOB,
    DAVE,
    ENGINEERING,
    HR,
    MONDAY,
    buttons_in,
    click,
    install_config,
    metadata_payload,
    open_app_home,
    open_request_form,
    posted_requests,
    press,
    request_values,
    standard_config,
    submit_request,
)
from test_support.job_runs import run_jobs
from test_support.slack_requests import event_envelope, post_command, post_event, post_interaction
from test_support.posted import posts_to

pytestmark = pytest.mark.django_db

LA = ZoneInfo("America/Los_Angeles")
BERLIN = ZoneInfo("Europe/Berlin")
KIRITIMATI = "Pacific/Kiritimati"
PAGO_PAGO = "Pacific/Pago_Pago"
TOKYO = "Asia/Tokyo"

# The week of Monday 10 March 2031: Los Angeles on PDT (UTC-7, since 9 March), Berlin on CET (UTC+1).
SUNDAY = MONDAY - timedelta(days=1)
TUESDAY = MONDAY + timedelta(days=1)
WEDNESDAY = MONDAY + timedelta(days=2)
THURSDAY = MONDAY + timedelta(days=3)
FRIDAY = MONDAY + timedelta(days=4)

# Monday 20:00 in Los Angeles: Tuesday 03:00 UTC, Tuesday 17:00 in Kiritimati, Tuesday 12:00 in Tokyo.
LA_MONDAY_EVENING = datetime(2031, 3, 10, 20, 0, tzinfo=LA)
# Tuesday 09:00 in Berlin: 08:00 UTC, still Monday (21:00) in Pago Pago.
BERLIN_TUESDAY_MORNING = datetime(2031, 3, 11, 9, 0, tzinfo=BERLIN)

BERLIN_TEAM = replace(ENGINEERING, timezone="Europe/Berlin", holiday_country=None, holiday_subdivision=None)


# --- Set-up --------------------------------------------------------------------------------------


def clock_at(monkeypatch, moment: datetime) -> None:
    """The instant the app takes for "now" when it works out what day it is in a time zone."""
    from approvals import selectors

    monkeypatch.setattr(selectors, "time", types.SimpleNamespace(time=lambda: moment.timestamp()))


def lives_in(fake_slack, user: str, zone: str) -> None:
    """The person's Slack profile says `zone` (tz_offset follows it)."""
    with fake_slack.workspace.lock:
        fake_slack.workspace.users[user].tz = zone
        fake_slack.workspace.users[user].tz_offset = None


def berlin_config():
    return install_config(standard_config(teams=(BERLIN_TEAM,)))


def entry(entry_id, start, end, status=APPROVED, *, user=ALICE, leave_type="vacation", team="Engineering"):
    days = Decimal(sum(1 for n in range((end - start).days + 1) if (start + timedelta(n)).weekday() < 5))
    return LedgerEntry(id=entry_id, user=user, team=team, leave_type=leave_type, start=start, end=end,
                       start_half=None, end_half=None, days=days, status=status,
                       decided_by=BOB if status != PENDING else None,
                       decided_at=1764000000 if status != PENDING else None)


def seed(fake_slack, *entries):
    """Entries in Engineering's approvals channel, as our bot posts them."""
    where = seed_ledger(fake_slack.workspace, channel=C_ENG_APPROVALS, entries=entries, noise_every=0)
    return [replace(e, channel=C_ENG_APPROVALS, ts=where[e.id]) for e in entries]


def status_of(fake_slack, request_id) -> str:
    [message] = [m for m in fake_slack.workspace.messages(C_ENG_APPROVALS)
                 if m.metadata and m.metadata.get("event_payload", {}).get("id") == request_id]
    return message.metadata["event_payload"]["status"]


def command(client, text, user=ALICE) -> dict:
    """`/timeoff text`, asked twice: the first warms the cache (time zone, ledger), the second is read."""
    post_command(client, text, user_id=user)
    response = post_command(client, text, user_id=user)
    assert response.status_code == 200, response.content
    return response.json()


def said_to(fake_slack, user=ALICE) -> list[str]:
    return [c.params["text"] for c in fake_slack.calls("chat.postMessage")
            if c.params.get("channel") == user and c.response.get("ok")] + [
        c.params["text"] for c in fake_slack.calls("chat.postEphemeral")
        if c.params.get("user") == user and c.response.get("ok")]


def thread_replies(fake_slack, channel=C_ENG_APPROVALS) -> list[str]:
    return [c.params["text"] for c in fake_slack.calls("chat.postMessage")
            if c.params.get("thread_ts") and c.params.get("channel") == channel and c.response.get("ok")]


def ask_for(client, fake_slack, user, leave_type, start, end):
    """Open the form (which warms the person's time zone and the ledger) and send it."""
    view = open_request_form(client, fake_slack, user)
    return submit_request(client, user, view, request_values(leave_type, start, end))


def errors_of(response) -> dict:
    if not response.content:
        return {}
    body = response.json()
    return body.get("errors", {}) if body.get("response_action") == "errors" else {}


def reminders(fake_slack, user=ALICE) -> list[str]:
    return [t for t in said_to(fake_slack, user) if "A reminder" in t]


def list_lines(blocks) -> str:
    return json.dumps(blocks)


def section_after(blocks, heading) -> list[str]:
    """The lines of a list's group (`*Pending*`, `*Upcoming*`, `*Out now*`…)."""
    lines, inside = [], False
    for block in blocks or []:
        if block.get("type") == "context":
            text = block["elements"][0].get("text", "")
            if text.startswith("*"):
                inside = text == f"*{heading}*"
                continue
        if inside and block.get("type") == "section":
            lines.append(block["text"]["text"])
    return lines


# --- "In the past" by the requester's own day (allow_past_days 0) ----------------------------------


def test_in_kiritimati_the_teams_today_is_already_yesterday_so_vacation_cannot_start_then(
        client, fake_slack, monkeypatch):
    lives_in(fake_slack, ALICE, KIRITIMATI)
    install_config()
    clock_at(monkeypatch, LA_MONDAY_EVENING)  # Monday in Los Angeles, Tuesday afternoon for her

    response = ask_for(client, fake_slack, ALICE, "vacation", MONDAY, WEDNESDAY)

    assert "can't start in the past" in errors_of(response).get(ids.START_BLOCK, ""), response.content
    assert posted_requests(fake_slack) == []


def test_in_kiritimati_vacation_may_start_on_her_own_today_though_it_is_tomorrow_for_the_team(
        client, fake_slack, monkeypatch):
    lives_in(fake_slack, ALICE, KIRITIMATI)
    install_config()
    clock_at(monkeypatch, LA_MONDAY_EVENING)

    response = ask_for(client, fake_slack, ALICE, "vacation", TUESDAY, WEDNESDAY)

    assert errors_of(response) == {}, response.content
    [posted] = posted_requests(fake_slack)
    assert f"<@{ALICE}>" in posted.params["text"]


def test_in_pago_pago_vacation_may_start_on_her_today_though_berlin_has_moved_on(client, fake_slack, monkeypatch):
    lives_in(fake_slack, ALICE, PAGO_PAGO)
    berlin_config()
    clock_at(monkeypatch, BERLIN_TUESDAY_MORNING)  # Tuesday in Berlin, Monday evening for her

    response = ask_for(client, fake_slack, ALICE, "vacation", MONDAY, WEDNESDAY)

    assert errors_of(response) == {}, response.content
    assert len(posted_requests(fake_slack)) == 1


def test_in_pago_pago_her_own_yesterday_is_in_the_past(client, fake_slack, monkeypatch):
    lives_in(fake_slack, ALICE, PAGO_PAGO)
    berlin_config()
    clock_at(monkeypatch, datetime(2031, 3, 12, 9, 0, tzinfo=BERLIN))  # Wednesday in Berlin, Tuesday for her

    response = ask_for(client, fake_slack, ALICE, "vacation", MONDAY, WEDNESDAY)

    assert "can't start in the past" in errors_of(response).get(ids.START_BLOCK, ""), response.content
    assert posted_requests(fake_slack) == []


# --- Sick leave that may start up to 3 days back (allow_past_days 3) --------------------------------


def test_in_pago_pago_sick_leave_may_start_three_of_her_days_back_though_four_of_berlins(
        client, fake_slack, monkeypatch):
    lives_in(fake_slack, ALICE, PAGO_PAGO)
    berlin_config()
    clock_at(monkeypatch, datetime(2031, 3, 13, 10, 0, tzinfo=BERLIN))  # Thursday in Berlin, Wednesday for her

    response = ask_for(client, fake_slack, ALICE, "sick", SUNDAY, TUESDAY)

    assert errors_of(response) == {}, response.content
    [posted] = posted_requests(fake_slack)
    assert metadata_payload(posted)["status"] == APPROVED  # sick leave needs no approval


def test_in_pago_pago_sick_leave_four_of_her_days_back_is_refused(client, fake_slack, monkeypatch):
    lives_in(fake_slack, ALICE, PAGO_PAGO)
    berlin_config()
    clock_at(monkeypatch, datetime(2031, 3, 13, 10, 0, tzinfo=BERLIN))

    response = ask_for(client, fake_slack, ALICE, "sick", SUNDAY - timedelta(days=1), TUESDAY)

    assert "at most 3 days in the past" in errors_of(response).get(ids.START_BLOCK, ""), response.content
    assert posted_requests(fake_slack) == []


def test_in_kiritimati_sick_leave_counts_its_three_days_back_from_her_day_not_the_teams(
        client, fake_slack, monkeypatch):
    lives_in(fake_slack, ALICE, KIRITIMATI)
    install_config()
    clock_at(monkeypatch, LA_MONDAY_EVENING)  # her Tuesday: Friday is four days back, Saturday three

    refused = ask_for(client, fake_slack, ALICE, "sick", FRIDAY - timedelta(days=7), MONDAY)
    accepted = ask_for(client, fake_slack, ALICE, "sick", SUNDAY - timedelta(days=1), MONDAY)

    assert "at most 3 days in the past" in errors_of(refused).get(ids.START_BLOCK, ""), refused.content
    assert errors_of(accepted) == {}, accepted.content
    assert len(posted_requests(fake_slack)) == 1


# --- Someone who travels (Slack's user_change with a new tz) --------------------------------------
# These run on the real clock: Pago Pago (UTC-11) and Kiritimati (UTC+14) are 25 hours apart, so
# Pago Pago's today is always at least Kiritimati's yesterday.


def fly(client, fake_slack, user, zone, event_id):
    lives_in(fake_slack, user, zone)
    profile = fake_slack.workspace.users[user]
    post_event(client, event_envelope({"type": "user_change", "user": {
        "id": user, "name": profile.name, "deleted": False, "tz": zone, "tz_label": zone,
        "tz_offset": int(datetime.now(ZoneInfo(zone)).utcoffset().total_seconds())},
        "cache_ts": 1766000000, "event_ts": "1766000000.000500"}, event_id=event_id))


def test_after_flying_west_to_east_a_form_opened_before_refuses_the_day_she_left_behind(client, fake_slack):
    lives_in(fake_slack, ALICE, PAGO_PAGO)
    install_config()
    left_behind = local_today(PAGO_PAGO)
    view = open_request_form(client, fake_slack, ALICE)  # her zone (Pago Pago) is now cached

    fly(client, fake_slack, ALICE, KIRITIMATI, "Ev_FLY_EAST")
    response = submit_request(client, ALICE, view, request_values("vacation", left_behind,
                                                                   left_behind + timedelta(days=6)))

    assert response.status_code == 200
    assert posted_requests(fake_slack) == []
    told = errors_of(response).get(ids.START_BLOCK, "") + " ".join(said_to(fake_slack))
    assert "can't start in the past" in told, told


def test_after_flying_back_to_pago_pago_the_day_she_landed_in_is_hers_to_request(client, fake_slack):
    lives_in(fake_slack, ALICE, KIRITIMATI)
    install_config()
    landed_in = local_today(PAGO_PAGO)  # Kiritimati's yesterday or earlier
    view = open_request_form(client, fake_slack, ALICE)
    refused_before = submit_request(client, ALICE, view, request_values("vacation", landed_in,
                                                                        landed_in + timedelta(days=6)))
    assert "can't start in the past" in errors_of(refused_before).get(ids.START_BLOCK, "")

    fly(client, fake_slack, ALICE, PAGO_PAGO, "Ev_FLY_WEST")
    response = submit_request(client, ALICE, view, request_values("vacation", landed_in,
                                                                  landed_in + timedelta(days=6)),
                              view_id="V_REQ2", view_hash="h2")

    assert errors_of(response) == {}, response.content
    assert len(posted_requests(fake_slack)) == 1


def test_after_flying_the_list_dates_leave_by_the_new_zone(client, fake_slack):
    lives_in(fake_slack, ALICE, PAGO_PAGO)
    install_config()
    pago_today = local_today(PAGO_PAGO)
    # Leave whose only day is Pago Pago's today: under way there, over already in Kiritimati.
    seed(fake_slack, entry("one-day", pago_today, pago_today))
    before = command(client, "list")
    assert section_after(before.get("blocks"), "Out now"), list_lines(before.get("blocks"))

    fly(client, fake_slack, ALICE, KIRITIMATI, "Ev_FLY_LIST")
    post_command(client, "list", user_id=ALICE)  # may come by DM while her new zone is looked up
    after = command(client, "list")

    assert not section_after(after.get("blocks"), "Out now"), list_lines(after.get("blocks"))


# --- The form's dates: /timeoff today, /timeoff tomorrow, the preview -----------------------------


def test_timeoff_tomorrow_in_kiritimati_prefills_her_tomorrow(client, fake_slack, monkeypatch):
    lives_in(fake_slack, ALICE, KIRITIMATI)
    install_config()
    clock_at(monkeypatch, LA_MONDAY_EVENING)
    open_request_form(client, fake_slack, ALICE)  # warms her zone

    view = open_request_form(client, fake_slack, ALICE, "tomorrow")

    pickers = {b["block_id"]: b["element"].get("initial_date") for b in view["blocks"] if b.get("type") == "input"}
    assert pickers[ids.START_BLOCK] == WEDNESDAY.isoformat(), pickers


def test_timeoff_today_in_pago_pago_prefills_her_today_not_berlins(client, fake_slack, monkeypatch):
    lives_in(fake_slack, ALICE, PAGO_PAGO)
    berlin_config()
    clock_at(monkeypatch, BERLIN_TUESDAY_MORNING)
    open_request_form(client, fake_slack, ALICE)

    view = open_request_form(client, fake_slack, ALICE, "today")

    pickers = {b["block_id"]: b["element"].get("initial_date") for b in view["blocks"] if b.get("type") == "input"}
    assert pickers[ids.START_BLOCK] == MONDAY.isoformat(), pickers


def test_hr_recording_sick_leave_for_today_prefills_the_persons_today(client, fake_slack, monkeypatch):
    lives_in(fake_slack, ALICE, KIRITIMATI)
    install_config()
    clock_at(monkeypatch, LA_MONDAY_EVENING)
    open_request_form(client, fake_slack, ALICE)  # Alice used the app: her zone is known

    view = open_request_form(client, fake_slack, HR, f"for <@{ALICE}|alice> today sick")

    pickers = {b["block_id"]: b["element"].get("initial_date") for b in view["blocks"] if b.get("type") == "input"}
    assert pickers[ids.START_BLOCK] == TUESDAY.isoformat(), pickers


def date_changed(user, stored, values):
    """A datepicker change in the open modal, as Slack sends it (a view container, the view's state)."""
    from test_support.slack_requests import block_actions_payload

    payload = block_actions_payload(user_id=user, action_id=ids.END_ACTION, value="", block_id=ids.END_BLOCK)
    del payload["channel"], payload["message"], payload["response_url"]
    payload["container"] = {"type": "view", "view_id": stored["id"]}
    present = {b.get("block_id") for b in stored["blocks"] if b.get("type") == "input"}
    payload["view"] = {**stored, "state": {"values": {k: v for k, v in values.items() if k in present}}}
    payload["actions"][0] = {"action_id": ids.END_ACTION, "block_id": ids.END_BLOCK, "type": "datepicker",
                             "selected_date": values[ids.END_BLOCK][ids.END_ACTION]["selected_date"],
                             "action_ts": "1766000000.1"}
    return payload


def preview_text(fake_slack) -> str:
    view = fake_slack.last_call("views.update").params["view"]
    view = json.loads(view) if isinstance(view, str) else view
    [block] = [b for b in view["blocks"] if b.get("block_id") == ids.PREVIEW_BLOCK]
    return block["elements"][0]["text"]


def test_the_preview_on_new_years_day_in_kiritimati_shows_januarys_dates_as_this_years(
        client, fake_slack, monkeypatch):
    lives_in(fake_slack, ALICE, KIRITIMATI)
    install_config()
    # 31 December 20:00 in Los Angeles: 1 January 2032, 18:00, in Kiritimati.
    clock_at(monkeypatch, datetime(2031, 12, 31, 20, 0, tzinfo=LA))
    open_request_form(client, fake_slack, ALICE)
    stored = fake_slack.last_call("views.open").response["view"]

    post_interaction(client, date_changed(ALICE, stored, request_values("vacation", date(2032, 1, 6),
                                                                        date(2032, 1, 7))))

    preview = preview_text(fake_slack)
    # Her dates read as this year's: no year after them (the balance line names its year, 2032).
    assert "*2 working days*: Tue 6 Jan – Wed 7 Jan." in preview, preview
    assert "Jan 2032" not in preview, preview


# --- /timeoff list and cancel: "tomorrow" for the team, "today" for her (and the other way) ------------


def test_in_kiritimati_leave_starting_tomorrow_for_the_team_is_out_now_for_her(client, fake_slack, monkeypatch):
    lives_in(fake_slack, ALICE, KIRITIMATI)
    install_config()
    clock_at(monkeypatch, LA_MONDAY_EVENING)
    seed(fake_slack, entry("tue", TUESDAY, THURSDAY))

    listed = command(client, "list")

    assert any("Tue 11 Mar" in line for line in section_after(listed["blocks"], "Out now")), listed["blocks"]
    cancel = command(client, "cancel")
    assert ids.CANCEL_ACTION not in buttons_in(cancel.get("blocks")), cancel


def test_in_pago_pago_leave_starting_today_for_berlin_is_still_upcoming_and_cancellable_for_her(
        client, fake_slack, monkeypatch):
    lives_in(fake_slack, ALICE, PAGO_PAGO)
    berlin_config()
    clock_at(monkeypatch, BERLIN_TUESDAY_MORNING)
    seed(fake_slack, entry("tue", TUESDAY, THURSDAY))

    listed = command(client, "list")

    assert any("Tue 11 Mar" in line for line in section_after(listed["blocks"], "Upcoming")), listed["blocks"]
    cancel = command(client, "cancel")
    assert ids.CANCEL_ACTION in buttons_in(cancel.get("blocks")), cancel


def cancel_from_list(client, fake_slack):
    cancel = command(client, "cancel")
    fake_slack.clear_calls()
    press(client, ALICE, cancel["blocks"], ids.CANCEL_ACTION, channel="C_GENERAL", on_list=True)


def test_in_pago_pago_cancelling_leave_that_starts_tomorrow_for_her_cancels_it(client, fake_slack, monkeypatch):
    lives_in(fake_slack, ALICE, PAGO_PAGO)
    berlin_config()
    clock_at(monkeypatch, BERLIN_TUESDAY_MORNING)
    seed(fake_slack, entry("tue", TUESDAY, THURSDAY))

    cancel_from_list(client, fake_slack)

    assert status_of(fake_slack, "tue") == CANCELLED
    assert not [t for t in said_to(fake_slack) if "couldn't change" in t], said_to(fake_slack)


def test_her_own_cancellation_before_her_leave_starts_is_not_announced_as_corrected_by_hr(
        client, fake_slack, monkeypatch):
    lives_in(fake_slack, ALICE, PAGO_PAGO)
    berlin_config()
    clock_at(monkeypatch, BERLIN_TUESDAY_MORNING)
    seed(fake_slack, entry("tue", TUESDAY, THURSDAY))

    cancel_from_list(client, fake_slack)

    [announced] = posts_to(fake_slack, C_ENG)
    assert "corrected by HR" not in announced, announced
    assert "will not be out" in announced, announced


def test_her_own_cancellation_before_her_leave_starts_is_not_told_to_approvers_as_leave_under_way(
        client, fake_slack, monkeypatch):
    lives_in(fake_slack, ALICE, PAGO_PAGO)
    berlin_config()
    clock_at(monkeypatch, BERLIN_TUESDAY_MORNING)
    seed(fake_slack, entry("tue", TUESDAY, THURSDAY))

    cancel_from_list(client, fake_slack)

    [reply] = thread_replies(fake_slack)
    assert "already under way" not in reply, reply
    assert "will not be taken" in reply, reply


def test_in_kiritimati_cancel_on_the_receipt_after_her_leave_began_is_refused_and_says_ask_hr(
        client, fake_slack, monkeypatch):
    lives_in(fake_slack, ALICE, KIRITIMATI)
    install_config()
    clock_at(monkeypatch, datetime(2031, 3, 7, 12, 0, tzinfo=LA))  # the Friday before: all upcoming
    [placed] = seed(fake_slack, entry("tue", TUESDAY, THURSDAY))
    cancel = command(client, "cancel")
    assert ids.CANCEL_ACTION in buttons_in(cancel["blocks"])

    clock_at(monkeypatch, LA_MONDAY_EVENING)  # her Tuesday afternoon: her leave has begun
    fake_slack.clear_calls()
    press(client, ALICE, cancel["blocks"], ids.CANCEL_ACTION, channel="C_GENERAL", on_list=True)

    assert status_of(fake_slack, "tue") == APPROVED
    told = " ".join(said_to(fake_slack))
    assert "already started" in told and "HR" in told, told
    assert posts_to(fake_slack, C_ENG) == []


def test_hr_sees_leave_under_way_by_the_persons_own_day_and_may_cancel_all_of_it(client, fake_slack, monkeypatch):
    lives_in(fake_slack, ALICE, KIRITIMATI)
    install_config()
    clock_at(monkeypatch, LA_MONDAY_EVENING)
    seed(fake_slack, entry("tue", TUESDAY, THURSDAY))
    post_command(client, "list", user_id=ALICE)  # Alice has used the app: her zone is known

    answer = command(client, f"for <@{ALICE}|alice> cancel", user=HR)

    buttons = [e for b in answer.get("blocks", []) if b.get("type") == "actions" for e in b["elements"]]
    assert [b["text"]["text"] for b in buttons] == ["Cancel all of it"], answer


# --- /timeoff who and App Home -----------------------------------------------------------------


def test_who_is_out_for_a_kiritimati_member_is_her_teams_day(client, fake_slack, monkeypatch):
    lives_in(fake_slack, ALICE, KIRITIMATI)
    install_config()
    clock_at(monkeypatch, LA_MONDAY_EVENING)
    seed(fake_slack, entry("dave-mon", MONDAY, MONDAY, user=DAVE))

    answer = command(client, "who")

    body = json.dumps(answer)
    assert "Mon 10 Mar" in body and f"<@{DAVE}>" in body, body


def test_app_home_in_kiritimati_shows_her_leave_out_now_without_a_cancel_button(client, fake_slack, monkeypatch):
    lives_in(fake_slack, ALICE, KIRITIMATI)
    install_config()
    clock_at(monkeypatch, LA_MONDAY_EVENING)
    seed(fake_slack, entry("tue", TUESDAY, THURSDAY))

    view = open_app_home(client, fake_slack, ALICE, "Ev_HOME_KIRI")

    assert any("Tue 11 Mar" in line for line in section_after(view["blocks"], "Out now")), view["blocks"]
    assert ids.CANCEL_ACTION not in buttons_in(view["blocks"])


def test_app_home_in_pago_pago_offers_to_cancel_leave_that_starts_on_her_tomorrow(client, fake_slack, monkeypatch):
    lives_in(fake_slack, ALICE, PAGO_PAGO)
    berlin_config()
    clock_at(monkeypatch, BERLIN_TUESDAY_MORNING)
    seed(fake_slack, entry("tue", TUESDAY, THURSDAY))

    view = open_app_home(client, fake_slack, ALICE, "Ev_HOME_PAGO")

    assert any("Tue 11 Mar" in line for line in section_after(view["blocks"], "Upcoming")), view["blocks"]
    assert ids.CANCEL_ACTION in buttons_in(view["blocks"])


def test_balance_on_new_years_day_in_kiritimati_is_the_new_years(client, fake_slack, monkeypatch):
    lives_in(fake_slack, ALICE, KIRITIMATI)
    install_config()
    clock_at(monkeypatch, datetime(2031, 12, 31, 20, 0, tzinfo=LA))  # 1 January 2032 for her

    text = command(client, "balance")["text"]

    assert "Your leave in 2032" in text and "Your leave in 2031" not in text, text


def test_balance_on_berlins_new_years_day_in_pago_pago_is_still_the_old_years(client, fake_slack, monkeypatch):
    lives_in(fake_slack, ALICE, PAGO_PAGO)
    berlin_config()
    clock_at(monkeypatch, datetime(2032, 1, 1, 9, 0, tzinfo=BERLIN))  # 31 December 2031, 21:00, for her

    text = command(client, "balance")["text"]

    assert "Your leave in 2031" in text, text


# --- The reminder the working day before --------------------------------------------------------


def test_a_reminder_to_someone_in_tokyo_says_today_even_when_she_has_not_used_the_app_lately(fake_slack):
    # Monday 15:00 in Los Angeles is Tuesday 07:00 in Tokyo: her leave starts today. She has not opened
    # the app in the last day, so no time zone of hers is in the cache; Slack knows it.
    lives_in(fake_slack, ALICE, TOKYO)
    install_config()
    seed(fake_slack, entry("tue", TUESDAY, THURSDAY))

    run_jobs(datetime(2031, 3, 10, 15, 0, tzinfo=LA))

    [reminder] = reminders(fake_slack)
    assert "starts today" in reminder, reminder


def test_a_reminder_to_someone_in_tokyo_who_used_the_app_today_says_today(client, fake_slack):
    lives_in(fake_slack, ALICE, TOKYO)
    install_config()
    seed(fake_slack, entry("tue", TUESDAY, THURSDAY))
    post_command(client, "balance", user_id=ALICE)  # her zone is looked up and kept for a day

    run_jobs(datetime(2031, 3, 10, 15, 0, tzinfo=LA))

    [reminder] = reminders(fake_slack)
    assert "starts today" in reminder, reminder


def test_a_reminder_in_pago_pago_for_berlins_tuesday_says_tomorrow(client, fake_slack):
    # Monday 15:00 in Berlin is Monday 03:00 in Pago Pago.
    lives_in(fake_slack, ALICE, PAGO_PAGO)
    berlin_config()
    seed(fake_slack, entry("tue", TUESDAY, THURSDAY))
    post_command(client, "balance", user_id=ALICE)

    run_jobs(datetime(2031, 3, 10, 15, 0, tzinfo=BERLIN))

    [reminder] = reminders(fake_slack)
    assert "starts tomorrow" in reminder, reminder


def test_a_reminder_on_the_teams_friday_in_kiritimati_names_monday(client, fake_slack):
    # Friday 15:00 in Los Angeles (PST) is Saturday 13:00 in Kiritimati: Monday is neither today nor tomorrow.
    lives_in(fake_slack, ALICE, KIRITIMATI)
    install_config()
    seed(fake_slack, entry("mon", MONDAY, WEDNESDAY))
    post_command(client, "balance", user_id=ALICE)

    run_jobs(datetime(2031, 3, 7, 15, 0, tzinfo=LA))

    [reminder] = reminders(fake_slack)
    assert "starts on Mon 10 Mar" in reminder, reminder


# --- Approvals near midnight ---------------------------------------------------------------------


def test_an_approval_just_after_berlins_midnight_of_leave_starting_on_her_today_is_applied_and_announced(
        client, fake_slack, monkeypatch):
    lives_in(fake_slack, ALICE, PAGO_PAGO)
    berlin_config()
    clock_at(monkeypatch, datetime(2031, 3, 10, 23, 50, tzinfo=BERLIN))  # Monday 11:50 for her
    ask_for(client, fake_slack, ALICE, "vacation", TUESDAY, WEDNESDAY)
    [posted] = posted_requests(fake_slack)

    clock_at(monkeypatch, datetime(2031, 3, 11, 0, 10, tzinfo=BERLIN))  # Tuesday in Berlin, Monday noon for her
    click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted)

    meta = fake_slack.workspace.messages(C_ENG_APPROVALS)
    [request] = [m for m in meta if m.metadata and m.metadata["event_type"] == "timeoff_request"]
    assert request.metadata["event_payload"]["status"] == APPROVED
    assert any("approved your" in t for t in said_to(fake_slack)), said_to(fake_slack)
    [announced] = posts_to(fake_slack, C_ENG)
    assert "will be out" in announced and "Tue 11 Mar" in announced, announced


def test_after_a_late_evening_approval_in_kiritimati_she_may_still_cancel_leave_starting_her_tomorrow(
        client, fake_slack, monkeypatch):
    lives_in(fake_slack, ALICE, KIRITIMATI)
    install_config()
    # Sunday 03:00 in Los Angeles: Monday 00:00 in Kiritimati. She asks for Tuesday (her tomorrow).
    clock_at(monkeypatch, datetime(2031, 3, 9, 3, 0, tzinfo=LA))
    ask_for(client, fake_slack, ALICE, "vacation", TUESDAY, WEDNESDAY)
    [posted] = posted_requests(fake_slack)
    click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted)

    cancel_from_list(client, fake_slack)

    [request] = [m for m in fake_slack.workspace.messages(C_ENG_APPROVALS)
                 if m.metadata and m.metadata["event_type"] == "timeoff_request"]
    assert request.metadata["event_payload"]["status"] == CANCELLED
    [announced] = posts_to(fake_slack, C_ENG)
    assert "will not be out" in announced, announced
