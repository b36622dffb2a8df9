"""An approvals channel whose ledger was not all written by this release (README "The ledger", DESIGN §5).

Earlier releases left out fields (`days_by_year`, `recorded_by`, `reason`); a newer release added fields
or wrote `v: 2`; someone posted or rewrote messages by hand through another tool with our bot token,
with odd but plausible values (days as a string or a float, dates with a time, "PM", a status we do not
know, negative days, a last day before the first, a range of a century or "until 9999", a leave type HR
has since deleted, someone who left, a team that no longer exists), and adjustments likewise (a year as
a string, huge days). Every message here is authored by our bot, as the ledger's are.

Each surface must keep working and behave sensibly: `/timeoff list` and `balance`, App Home, the form's
preview and a submission's checks, an approver's click, the daily jobs and the nightly export, and the
console's Who's out, Balances and Setup pages. Records this version cannot read are left alone: never
rewritten, never counted.
"""

import copy
import csv
import io
import json
import time as clock
from dataclasses import replace
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone as dj_timezone

from approvals import block_ids as ids
from approvals.ledger_format import entry_from_metadata
from approvals.messages import decision_value
from approvals.rules import days_by_year, format_number
from approvals.work_calendar import team_holidays
from fake_slack.personas import C_ENG, C_ENG_APPROVALS
from test_support.flows import (
    ALICE,
    BOB,
    DAVE,
    ENGINEERING,
    HR,
    buttons_in,
    dms_to,
    ephemerals_to,
    install_config,
    open_app_home,
    press,
    standard_config,
)
from test_support.home_views import shown_text, waiting_count
from test_support.job_runs import posts_in, run_jobs
from test_support.request_form import open_form
from test_support.setup_page import alerts, setup_page
from test_support.slack_requests import block_actions_payload, post_command, post_interaction

pytestmark = pytest.mark.django_db

LA = ZoneInfo("America/Los_Angeles")
ENG = replace(ENGINEERING, digest_time=time(9, 0), nudge_after_hours=48)
FRIDAY, MONDAY, TUESDAY = date(2031, 3, 7), date(2031, 3, 10), date(2031, 3, 11)
GONE = "U0LEFT0001"  # someone who left: Slack has no user for them any more


@pytest.fixture(autouse=True)
def export_dir(settings, tmp_path):
    settings.LEDGER_EXPORT_DIR = tmp_path / "exports"
    return settings.LEDGER_EXPORT_DIR


@pytest.fixture
def hr_with_balances(client, django_user_model, fake_slack):
    """HR signed in to the console with the permissions the Balances page and its adjustments need."""
    hannah = django_user_model.objects.create_user("hannah", "hannah@example.com", "a-long-test-password",
                                                   is_staff=True)
    hannah.user_permissions.add(Permission.objects.get(codename="record_adjustment"),
                                Permission.objects.get(codename="view_leave_records"))
    client.force_login(hannah)
    return client


def install(**changes):
    return install_config(standard_config(teams=(ENG,), **changes))


# --- Messages as others left them in the channel ------------------------------------------------------


def request_payload(record_id: str, *, user=ALICE, start=MONDAY, end=TUESDAY, days=2, status="approved",
                    **changes) -> dict:
    """A request's event_payload as a v1 writer leaves it; `changes` replace or add keys (None drops one)."""
    payload = {"v": 1, "id": record_id, "user": user, "team": "Engineering", "type": "vacation",
               "start": start.isoformat() if isinstance(start, date) else start,
               "end": end.isoformat() if isinstance(end, date) else end, "days": days, "status": status}
    if status != "pending":
        payload.update(decided_by=BOB, decided_at=1790000000)
    payload.update(changes)
    return {key: value for key, value in payload.items() if value is not None}


def adjustment_payload(record_id: str, *, user=ALICE, days=3, year=2031, **changes) -> dict:
    payload = {"v": 1, "id": record_id, "user": user, "type": "vacation", "days": days, "year": year,
               "reason": "carry-over", "by": "hr-admin"}
    payload.update(changes)
    return payload


def posted_by_our_bot(fake_slack, payload: dict, *, event_type="timeoff_request", text="<@U_ALICE> requests time off",
                      buttons=True):
    """A message in the approvals channel with our bot as author, as a tool using our bot token posts it;
    `buttons`: with the request message's Approve and Reject buttons."""
    blocks = None
    if buttons and event_type == "timeoff_request":
        value = json.dumps({"id": payload.get("id"), "user": payload.get("user"), "v": "0"})
        blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": text}},
                  {"type": "actions", "block_id": ids.DECISION_BLOCK, "elements": [
                      {"type": "button", "action_id": ids.APPROVE_ACTION, "value": value,
                       "text": {"type": "plain_text", "text": "Approve"}},
                      {"type": "button", "action_id": ids.REJECT_ACTION, "value": value,
                       "text": {"type": "plain_text", "text": "Reject"}}]}]
    return fake_slack.workspace.post_message(C_ENG_APPROVALS, text, blocks=blocks,
                                             metadata={"event_type": event_type, "event_payload": payload})


# Requests this version cannot read, each as another tool or release could have left it.
UNREADABLE = {
    "days as a string": dict(days="2.5"),
    "a date with a time": dict(start="2031-03-10T09:00:00"),
    "a half in capitals": dict(start_half="PM"),
    "a status we do not know": dict(status="on_hold"),
    "negative days": dict(days=-2),
    "a last day before the first": dict(start="2031-03-11", end="2031-03-10"),
    "a newer release's v2": dict(v=2, approval_chain=["U_BOB", "U_HR"], days_by_type={"vacation": 2}),
}


def seed_unreadable(fake_slack, *, status="approved", user=ALICE, start=MONDAY, end=TUESDAY) -> dict:
    """One message per kind in UNREADABLE; returns {kind: message}."""
    seeded = {}
    for number, (kind, change) in enumerate(UNREADABLE.items()):
        change = dict(change)
        payload = request_payload(f"odd-{number}", user=user, start=start, end=end, status=status)
        payload.update(change)
        if payload.get("start") == "2031-03-11":
            payload["start"], payload["end"] = end.isoformat(), start.isoformat()
        if "start" in change and "T" in str(change["start"]):
            payload["start"] = f"{start.isoformat()}T09:00:00"
        seeded[kind] = posted_by_our_bot(fake_slack, payload)
    return seeded


def metadata_now(fake_slack, message) -> dict:
    return fake_slack.workspace.message(C_ENG_APPROVALS, message.ts).metadata


def writes_to(fake_slack, ts: str) -> list:
    return [call for call in fake_slack.calls("chat.update")
            if call.params.get("channel") == C_ENG_APPROVALS and call.params.get("ts") == ts]


def thread_of(fake_slack, ts: str) -> list:
    return [m for m in fake_slack.workspace.replies(C_ENG_APPROVALS, ts) if m.ts != ts]


# --- What people see --------------------------------------------------------------------------------


def answer_to(client, fake_slack, user: str, text: str) -> str:
    """`/timeoff <text>`: its answer, at once when warm, else the DM it sends (immediate tasks)."""
    response = post_command(client, text, user_id=user)
    assert response.status_code == 200, response.content
    body = response.json()
    answered = body["text"] + "\n" + json.dumps(body.get("blocks") or [], ensure_ascii=False)
    if "in a moment" in body["text"]:
        call = [c for c in fake_slack.calls("chat.postMessage") if c.params.get("channel") == user][-1]
        return call.params["text"] + "\n" + json.dumps(call.params.get("blocks") or [], ensure_ascii=False)
    return answered


def vacation_line(text: str) -> str:
    return next(line for line in text.splitlines() if "Vacation:" in line)


def home_of(client, fake_slack, user: str, event_id: str) -> dict:
    return open_app_home(client, fake_slack, user, event_id)


def approve_click(client, user: str, message, value: str | None = None):
    value = value or json.dumps({"id": message.metadata["event_payload"].get("id"),
                                 "user": message.metadata["event_payload"].get("user"), "v": "0"})
    payload = block_actions_payload(user_id=user, action_id=ids.APPROVE_ACTION, value=value,
                                    block_id=ids.DECISION_BLOCK, channel_id=C_ENG_APPROVALS, message_ts=message.ts)
    response = post_interaction(client, payload)
    assert response.status_code == 200, response.content
    return response


def told(fake_slack, user: str) -> str:
    return "\n".join(ephemerals_to(fake_slack, user) + dms_to(fake_slack, user))


def export_rows(export_dir) -> list[dict]:
    [exported] = sorted(export_dir.glob("ledger-*.csv"))[-1:]
    return list(csv.DictReader(io.StringIO(exported.read_text(encoding="utf-8-sig"))))


# =====================================================================================================
# Records this version cannot read: never counted, never rewritten
# =====================================================================================================


@pytest.mark.parametrize("kind", list(UNREADABLE))
def test_a_record_this_version_cannot_read_is_not_in_the_requesters_balance_list_or_app_home(client, fake_slack,
                                                                                               kind):
    install()
    payload = request_payload("odd", start=date(2031, 7, 7), end=date(2031, 7, 8))
    payload.update(UNREADABLE[kind])
    if "start" in UNREADABLE[kind] and "T" in UNREADABLE[kind]["start"]:
        payload["start"] = "2031-07-07T09:00:00"
    if UNREADABLE[kind].get("start") == "2031-03-11":
        payload["start"], payload["end"] = "2031-07-08", "2031-07-07"
    message = posted_by_our_bot(fake_slack, payload)
    posted_by_our_bot(fake_slack, request_payload("readable", start=MONDAY, end=TUESDAY))
    before = copy.deepcopy(message.metadata)

    assert "*23 days left* — allowance 25, taken 2, pending 0" in vacation_line(
        answer_to(client, fake_slack, ALICE, "balance 2031"))
    listed = answer_to(client, fake_slack, ALICE, "list")
    assert "Mon 10 Mar" in listed and "Jul" not in listed
    home = shown_text(home_of(client, fake_slack, ALICE, "Ev-odd-home"))
    assert "Mon 10 Mar" in home and "Jul" not in home
    assert metadata_now(fake_slack, message) == before and writes_to(fake_slack, message.ts) == []


@pytest.mark.parametrize("kind", ["days as a string", "a half in capitals", "a status we do not know",
                                  "a newer release's v2"])
def test_an_approvers_click_on_a_record_this_version_cannot_read_changes_nothing_and_says_why(client, fake_slack,
                                                                                              kind):
    install()
    payload = request_payload("odd-pending", status="pending")
    payload.update(UNREADABLE[kind])
    message = posted_by_our_bot(fake_slack, payload)
    before = copy.deepcopy(message.metadata)

    approve_click(client, BOB, message)

    assert "recorded by another version of this app" in told(fake_slack, BOB)
    assert metadata_now(fake_slack, message) == before
    assert writes_to(fake_slack, message.ts) == [] and thread_of(fake_slack, message.ts) == []
    assert dms_to(fake_slack, ALICE) == [] and posts_in(fake_slack, C_ENG) == []


def test_pending_records_this_version_cannot_read_wait_for_nobody(client, fake_slack):
    install()
    seed_unreadable(fake_slack, status="pending")
    posted_by_our_bot(fake_slack, request_payload("dave-pending", user=DAVE, start=date(2031, 3, 24),
                                                  end=date(2031, 3, 24), days=1, status="pending"))
    assert waiting_count(home_of(client, fake_slack, BOB, "Ev-bob-home")) == 1  # Dave's, alone
    assert waiting_count(home_of(client, fake_slack, HR, "Ev-hr-home")) == 0

    run_jobs(datetime(2031, 3, 12, 15, 30, tzinfo=LA))  # well past the 48 hours of nudge_after_hours

    nudges = [text for text in dms_to(fake_slack, BOB) if "waiting for a decision" in text]
    assert nudges, dms_to(fake_slack, BOB)
    assert all(f"<@{DAVE}>" in text and f"<@{ALICE}>" not in text for text in nudges), nudges


def test_the_daily_jobs_and_the_nightly_export_pass_over_records_this_version_cannot_read(fake_slack, export_dir):
    install()
    seeded = seed_unreadable(fake_slack)  # Alice "out" Mon 10 – Tue 11 March, seven ways
    posted_by_our_bot(fake_slack, request_payload("dave-monday", user=DAVE, start=MONDAY, end=MONDAY, days=1))
    before = {kind: copy.deepcopy(message.metadata) for kind, message in seeded.items()}

    run_jobs(datetime(2031, 3, 7, 15, 30, tzinfo=LA))  # the reminders for Monday
    run_jobs(datetime(2031, 3, 10, 9, 5, tzinfo=LA))  # Monday's digest and "out today"
    run_jobs(datetime(2031, 3, 11, 2, 0, tzinfo=timezone.utc))  # the nightly watch and export

    assert [text for text in dms_to(fake_slack, DAVE) if "reminder" in text.lower()]  # the jobs did run
    assert not [text for text in dms_to(fake_slack, ALICE) if "reminder" in text.lower()]
    channel_posts = " ".join(post["text"] for post in posts_in(fake_slack, C_ENG))
    assert f"<@{DAVE}>" in channel_posts and f"<@{ALICE}>" not in channel_posts
    assert not [text for text in dms_to(fake_slack, HR) if "disappeared" in text]
    ids_exported = {row["id"] for row in export_rows(export_dir)}
    assert "dave-monday" in ids_exported and not {f"odd-{n}" for n in range(len(UNREADABLE))} & ids_exported
    for kind, message in seeded.items():
        assert metadata_now(fake_slack, message) == before[kind], kind
        assert writes_to(fake_slack, message.ts) == [], kind


def test_a_request_someone_rewrote_by_hand_into_an_unreadable_shape_is_not_reported_deleted_nor_counted(client,
                                                                                                        fake_slack):
    install()
    message = posted_by_our_bot(fake_slack, request_payload("alice-march"))
    run_jobs(datetime(2031, 3, 3, 2, 0, tzinfo=timezone.utc))  # the watch's snapshot holds it
    with fake_slack.workspace.lock:
        fake_slack.workspace.find_message(C_ENG_APPROVALS, message.ts).metadata["event_payload"]["days"] = "2"

    run_jobs(datetime(2031, 3, 4, 2, 0, tzinfo=timezone.utc))

    assert not [text for text in dms_to(fake_slack, HR) if "disappeared" in text]
    assert "*25 days left* — allowance 25, taken 0, pending 0" in vacation_line(
        answer_to(client, fake_slack, ALICE, "balance 2031"))


def test_the_console_leaves_records_this_version_cannot_read_out_of_whos_out_and_balances(hr_with_balances,
                                                                                          fake_slack):
    install()
    today = dj_timezone.localdate()
    monday = today + timedelta(days=7 - today.weekday())
    seed_unreadable(fake_slack, start=monday, end=monday + timedelta(days=1))
    posted_by_our_bot(fake_slack, request_payload("dave-next", user=DAVE, start=monday, end=monday, days=1))

    page = hr_with_balances.get(reverse("console:whos_out")).text
    assert "Dave Diaz" in page and "Alice Adams" not in page

    response = hr_with_balances.get(reverse("console:balances"), {"team": "Engineering", "year": monday.year})
    assert response.status_code == 200
    alice = next(row for row in response.context["table"].rows if row.name == "Alice Adams")
    vacation = next(b for b in alice.balances if b.leave_type == "vacation")
    assert vacation.remaining == Decimal(25)


def test_the_setup_page_opens_and_reads_the_ledger_among_odd_records(hr_with_balances, fake_slack):
    install()
    seed_unreadable(fake_slack)
    posted_by_our_bot(fake_slack, request_payload("century", start="1990-01-01", end="2089-12-29", days=26000))
    posted_by_our_bot(fake_slack, adjustment_payload("adj-string-year", year="2031"), event_type="timeoff_adjustment")

    page = setup_page(hr_with_balances, check_again=True)

    assert not [alert for alert in alerts(page) if "ledger cannot be read" in alert.lower()], alerts(page)
    assert "Server Error" not in page


# =====================================================================================================
# What earlier releases left out
# =====================================================================================================


def test_year_end_leave_from_an_earlier_release_without_days_by_year_is_split_by_todays_calendar(client,
                                                                                                   fake_slack):
    install()
    start, end = date(2030, 12, 23), date(2031, 1, 3)  # Mon 23 Dec – Fri 3 Jan, Christmas and New Year off
    calendar = team_holidays(ENG, (), range(2030, 2032))
    entry = entry_from_metadata({"event_type": "timeoff_request",
                                 "event_payload": request_payload("old", start=start, end=end, days=8)})
    split = days_by_year(entry, ENG.workweek, calendar)
    posted_by_our_bot(fake_slack, request_payload("old", start=start, end=end, days=8,
                                                  decided_at=None, decided_by=None, status="approved"))

    in_2030 = vacation_line(answer_to(client, fake_slack, ALICE, "balance 2030"))
    in_2031 = vacation_line(answer_to(client, fake_slack, ALICE, "balance 2031"))

    assert 0 < split[2030] < 8
    assert f"taken {format_number(split[2030])}," in in_2030
    assert f"taken {format_number(8 - split[2030])}," in in_2031


def test_an_earlier_releases_approved_leave_without_a_decider_or_reason_can_be_cancelled(client, fake_slack):
    install()
    message = posted_by_our_bot(fake_slack, {"v": 1, "id": "old-approved", "user": ALICE, "team": "Engineering",
                                             "type": "vacation", "start": "2031-04-07", "end": "2031-04-08",
                                             "start_half": None, "end_half": None, "days": 2, "status": "approved",
                                             "decided_by": None, "decided_at": None, "reason": None})
    response = post_command(client, "list", user_id=ALICE)
    body = response.json()
    if "in a moment" in body["text"]:
        blocks = [c for c in fake_slack.calls("chat.postMessage") if c.params.get("channel") == ALICE][-1].params[
            "blocks"]
    else:
        blocks = body["blocks"]
    assert ids.CANCEL_ACTION in buttons_in(blocks)

    press(client, ALICE, blocks, ids.CANCEL_ACTION, on_list=True)

    payload = metadata_now(fake_slack, message)["event_payload"]
    assert payload["status"] == "cancelled" and payload["v"] == 1
    assert "*25 days left*" in vacation_line(answer_to(client, fake_slack, ALICE, "balance 2031"))


# =====================================================================================================
# Odd values this version reads
# =====================================================================================================


def test_days_written_as_a_float_count_as_they_read(client, fake_slack):
    install()
    posted_by_our_bot(fake_slack, request_payload("float", start=date(2031, 5, 5), end=date(2031, 5, 7),
                                                  days=2.5, end_half="am"))
    assert "*22.5 days left* — allowance 25, taken 2.5, pending 0" in vacation_line(
        answer_to(client, fake_slack, ALICE, "balance 2031"))
    assert "2.5 working days" in answer_to(client, fake_slack, ALICE, "list")


def test_a_request_with_a_huge_number_of_days_shows_that_number_not_scientific_notation(client, fake_slack):
    """A tool that wrote days in hours or minutes by mistake: the list shows the number the ledger holds,
    written out, as balances do ("never scientific notation")."""
    install()
    posted_by_our_bot(fake_slack, request_payload("minutes", start=date(2031, 5, 5), end=date(2031, 5, 7),
                                                  days=1234567))
    listed = answer_to(client, fake_slack, ALICE, "list")
    assert "1234567 working days" in listed, listed
    assert "e+06" not in listed


def test_a_century_long_leave_is_shown_warned_of_and_refused_as_an_overlap(client, fake_slack):
    install()
    posted_by_our_bot(fake_slack, request_payload("century", start="1990-01-01", end="2089-12-29", days=26000))

    home = shown_text(home_of(client, fake_slack, ALICE, "Ev-century"))
    assert "Mon 1 Jan 1990 – Thu 29 Dec 2089" in home
    form = open_form(client, fake_slack, ALICE)
    form.pick_type("vacation")
    form.pick_dates(date(2031, 4, 7), date(2031, 4, 8))
    assert "overlaps your approved leave on Mon 1 Jan 1990 – Thu 29 Dec 2089" in form.preview()
    body = form.submit().json()
    assert body["response_action"] == "errors"
    assert body["errors"][ids.START_BLOCK].startswith("This overlaps your approved leave")


def test_the_balance_answers_inside_slacks_three_seconds_with_leave_recorded_until_9999(client, fake_slack):
    """"Until further notice" written by hand as the last day 9999-12-31: a warm `/timeoff balance` is
    answered in the request, which Slack drops after 3 seconds."""
    install()
    start = date(dj_timezone.localdate().year, 1, 6)
    posted_by_our_bot(fake_slack, request_payload("open-ended", start=start, end="9999-12-31", days=40))
    answer_to(client, fake_slack, ALICE, "balance 2031")  # the ledger and her time zone are warm from here

    began = clock.monotonic()
    response = post_command(client, "balance", user_id=ALICE)
    spent = clock.monotonic() - began

    assert response.status_code == 200
    assert spent < 3, f"/timeoff balance took {spent:.1f} s"


def test_leave_of_a_type_hr_deleted_is_listed_by_its_code_and_counts_against_no_allowance(client, fake_slack):
    install()
    posted_by_our_bot(fake_slack, request_payload("sabbatical", leave_type=None, type="sabbatical",
                                                  start=date(2031, 6, 2), end=date(2031, 6, 6), days=5))
    listed = answer_to(client, fake_slack, ALICE, "list")
    assert "sabbatical" in listed and "Mon 2 Jun" in listed
    assert "*25 days left* — allowance 25, taken 0, pending 0" in vacation_line(
        answer_to(client, fake_slack, ALICE, "balance 2031"))


def test_approving_a_pending_request_of_a_type_hr_deleted_is_refused_by_name_and_changes_nothing(client,
                                                                                                   fake_slack):
    install()
    payload = request_payload("sabbatical-p", type="sabbatical", start=date(2031, 6, 9), end=date(2031, 6, 10),
                              status="pending")
    message = posted_by_our_bot(fake_slack, payload)
    assert waiting_count(home_of(client, fake_slack, BOB, "Ev-bob-sab")) == 1
    entry = entry_from_metadata(message.metadata)

    approve_click(client, BOB, message, decision_value(entry))

    assert "sabbatical" in told(fake_slack, BOB) and "no longer exists" in told(fake_slack, BOB)
    assert metadata_now(fake_slack, message)["event_payload"]["status"] == "pending"


def test_a_pending_request_of_someone_who_left_can_still_be_decided_and_their_reminder_is_not_counted(
        client, fake_slack):
    install()
    message = posted_by_our_bot(fake_slack, request_payload("gone-p", user=GONE, start=date(2031, 3, 17),
                                                            end=date(2031, 3, 18), status="pending"))
    posted_by_our_bot(fake_slack, request_payload("gone-monday", user=GONE, start=MONDAY, end=MONDAY, days=1))
    entry = entry_from_metadata(message.metadata)

    approve_click(client, BOB, message, decision_value(entry))
    out = run_jobs(datetime(2031, 3, 7, 15, 30, tzinfo=LA))

    assert metadata_now(fake_slack, message)["event_payload"]["status"] == "approved"
    assert "reminders Engineering 2031-03-07: 0 reminder(s)" in out


def test_a_pending_request_of_a_team_that_no_longer_exists_is_hrs_to_decide(client, fake_slack):
    install()
    message = posted_by_our_bot(fake_slack, request_payload("platform-p", user=DAVE, team="Platform",
                                                            start=date(2031, 3, 24), end=date(2031, 3, 25),
                                                            status="pending"))
    entry = entry_from_metadata(message.metadata)
    assert waiting_count(home_of(client, fake_slack, HR, "Ev-hr-platform")) == 1

    approve_click(client, BOB, message, decision_value(entry))
    assert metadata_now(fake_slack, message)["event_payload"]["status"] == "pending"
    assert "Platform is no longer configured; ask HR to decide" in told(fake_slack, BOB)

    approve_click(client, HR, message, decision_value(entry))
    payload = metadata_now(fake_slack, message)["event_payload"]
    assert (payload["status"], payload["decided_by"], payload["team"]) == ("approved", HR, "Platform")


def test_the_nightly_export_keeps_odd_but_readable_records_as_the_ledger_holds_them(fake_slack, export_dir):
    install()
    posted_by_our_bot(fake_slack, request_payload("sabbatical", type="sabbatical", start=date(2031, 6, 2),
                                                  end=date(2031, 6, 3)))
    posted_by_our_bot(fake_slack, request_payload("gone", user=GONE))
    posted_by_our_bot(fake_slack, request_payload("platform", user=DAVE, team="Platform"))
    posted_by_our_bot(fake_slack, adjustment_payload("adj-string-year", year="2031"), event_type="timeoff_adjustment")

    run_jobs(datetime(2031, 3, 11, 2, 0, tzinfo=timezone.utc))

    rows = {row["id"]: row for row in export_rows(export_dir)}
    assert set(rows) == {"sabbatical", "gone", "platform"}
    assert rows["sabbatical"]["type"] == "sabbatical"
    assert rows["gone"]["user"] == GONE
    assert rows["platform"]["team"] == "Platform"


# =====================================================================================================
# Adjustments written by hand
# =====================================================================================================


def test_an_adjustment_with_its_year_as_a_string_or_days_beyond_any_number_is_not_counted(client, fake_slack):
    install()
    posted_by_our_bot(fake_slack, adjustment_payload("adj-string-year", year="2031"), event_type="timeoff_adjustment")
    posted_by_our_bot(fake_slack, adjustment_payload("adj-enormous", days=1e300), event_type="timeoff_adjustment")
    posted_by_our_bot(fake_slack, adjustment_payload("adj-fine", days=2), event_type="timeoff_adjustment")

    assert "*27 days left* — allowance 25, adjustments +2, taken 0, pending 0" in vacation_line(
        answer_to(client, fake_slack, ALICE, "balance 2031"))


def test_a_huge_adjustment_is_shown_in_plain_digits_in_slack_and_on_the_balances_page(client, hr_with_balances,
                                                                                      fake_slack):
    install()
    year = dj_timezone.localdate().year
    posted_by_our_bot(fake_slack, adjustment_payload("adj-huge", days=1e15, year=year),
                      event_type="timeoff_adjustment")

    line = vacation_line(answer_to(client, fake_slack, ALICE, f"balance {year}"))
    assert "adjustments +1000000000000000" in line and "e+" not in line.lower()

    response = hr_with_balances.get(reverse("console:balances"), {"team": "Engineering", "year": year})
    assert response.status_code == 200
    assert "1000000000000025 left" in response.text
