"""What the daily jobs post, end to end against the fake Slack, and the ledger's safeguards
(the nightly export, the ledger watch, the setup page's retention warning), compared with README."""

import csv
import json
import os
import stat
from dataclasses import replace
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core.management import CommandError
from django.urls import reverse
from django.utils import timezone as django_timezone

from approvals import block_ids as ids
from approvals.config_types import (
    ApproverSource,
    HolidayConfig,
    LeaveTypeConfig,
    MemberSource,
    TeamConfig,
)
from approvals.ledger_format import adjustment_metadata
from approvals.models import JobRun, LedgerSnapshot
from approvals.notifications import NOTICE_TRIES_IN_CALL
from approvals.rules import Adjustment, LedgerEntry
from fake_slack.personas import (
    C_ENG,
    C_ENG_APPROVALS,
    C_GENERAL,
    C_OLD_APPROVALS,
    CAROL,
)
from test_support.flows import (
    ALICE,
    BOB,
    DAVE,
    ENGINEERING,
    HR,
    MEDICAL,
    SICK,
    VACATION,
    click,
    dms_to,
    install_config,
    posted_requests,
    request_time_off,
    standard_config,
)
from test_support.job_runs import post_entry, posts_in, run_jobs
from test_support.slack_requests import block_actions_payload, post_command, post_interaction

pytestmark = pytest.mark.django_db

LA = ZoneInfo("America/Los_Angeles")
ENG = replace(ENGINEERING, digest_time=time(9, 0), nudge_after_hours=48)
THURSDAY, FRIDAY, SATURDAY, SUNDAY = date(2031, 3, 6), date(2031, 3, 7), date(2031, 3, 8), date(2031, 3, 9)
MONDAY, TUESDAY, WEDNESDAY = date(2031, 3, 10), date(2031, 3, 11), date(2031, 3, 12)


def at(day: date, hour: int, minute: int = 0, zone=LA) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone)


def utc(day: date, hour: int = 2) -> datetime:
    return datetime(day.year, day.month, day.day, hour, 0, tzinfo=timezone.utc)


@pytest.fixture(autouse=True)
def export_dir(settings, tmp_path):
    settings.LEDGER_EXPORT_DIR = tmp_path / "exports"
    return settings.LEDGER_EXPORT_DIR


def entry(user=ALICE, start=TUESDAY, end=TUESDAY, status="approved", leave_type="vacation", team="Engineering",
          **changes) -> LedgerEntry:
    values = dict(id=f"{user}-{start}-{end}-{leave_type}-{status}-{team}", user=user, team=team,
                  leave_type=leave_type, start=start, end=end, start_half=None, end_half=None, days=Decimal(1),
                  status=status, decided_by=BOB if status != "pending" else None)
    return LedgerEntry(**{**values, **changes})


def install(*teams, **changes):
    return install_config(standard_config(teams=teams or (ENG,), **changes))


def everything(post: dict) -> str:
    """All the text of a channel post: its notification text and its blocks."""
    return post["text"] + "\n" + json.dumps(post.get("blocks") or [], ensure_ascii=False)


def request_statuses(fake_slack) -> list[str]:
    """The status each request message in Engineering's approvals channel holds now."""
    return [message.metadata["event_payload"]["status"]
            for message in fake_slack.workspace.all_messages(C_ENG_APPROVALS)
            if (message.metadata or {}).get("event_type") == "timeoff_request"]


def blocks_of(post: dict) -> str:
    return json.dumps(post.get("blocks") or [], ensure_ascii=False)


def reminders_to(fake_slack, user) -> list[str]:
    return [text for text in dms_to(fake_slack, user) if "reminder" in text]


def delivered_dms(fake_slack, user) -> list[str]:
    """DMs to `user` that Slack took (dms_to also lists the calls a fault refused)."""
    return [call.params["text"] for call in fake_slack.calls("chat.postMessage")
            if call.params.get("channel") == user and call.response.get("ok")]


def nudges_to(fake_slack, user) -> list[str]:
    return [text for text in delivered_dms(fake_slack, user) if "waiting for a decision" in text]


# --- Out today: who -------------------------------------------------------------------------


def test_out_today_lists_approved_leave_only(fake_slack):
    install()
    post_entry(fake_slack, entry())  # Alice, approved
    post_entry(fake_slack, entry(user=DAVE, status="pending"))
    post_entry(fake_slack, entry(user=BOB, status="cancelled"))
    post_entry(fake_slack, entry(user=CAROL, status="rejected"))
    run_jobs(at(TUESDAY, 9, 0), "--team", "Engineering")
    [post] = posts_in(fake_slack, C_ENG)
    body = everything(post)
    assert "<@U_ALICE>" in body
    for other in (DAVE, BOB, CAROL):
        assert f"<@{other}>" not in body


def test_out_today_says_which_half_of_the_day(fake_slack):
    install()
    post_entry(fake_slack, entry(end_half="am", days=Decimal("0.5")))  # Alice: Tuesday morning
    post_entry(fake_slack, entry(user=DAVE, start_half="pm", days=Decimal("0.5")))  # Dave: Tuesday afternoon
    post_entry(fake_slack, entry(user=BOB, start=MONDAY, end=TUESDAY, end_half="am", days=Decimal("1.5")))
    run_jobs(at(TUESDAY, 9, 0), "--team", "Engineering")
    [post] = posts_in(fake_slack, C_ENG)
    body = blocks_of(post)
    assert "<@U_ALICE>: :palm_tree: Vacation, Tue 11 Mar (morning)" in body
    assert "<@U_DAVE>: :palm_tree: Vacation, Tue 11 Mar (afternoon)" in body
    assert "<@U_BOB>: :palm_tree: Vacation, Mon 10 Mar – Tue 11 Mar (ends at noon)" in body


def test_private_types_and_unknown_types_are_only_away_in_channel_posts(fake_slack):
    install()
    post_entry(fake_slack, entry(user=DAVE, leave_type="medical"))
    post_entry(fake_slack, entry(user=ALICE, leave_type="sick"))
    post_entry(fake_slack, entry(user=BOB, leave_type="parental"))  # a type no longer configured
    run_jobs(at(TUESDAY, 9, 0), "--team", "Engineering")
    [post] = posts_in(fake_slack, C_ENG)
    body = everything(post)
    for name in ("Medical", "hospital", "Sick", "thermometer", "parental", "medical", "sick"):
        assert name not in body
    assert body.count(":calendar: away") == 3


def test_leave_across_a_weekend_shows_on_friday_and_in_mondays_digest(fake_slack):
    install()
    post_entry(fake_slack, entry(start=FRIDAY, end=MONDAY, days=Decimal(2)))  # Alice Fri – Mon
    post_entry(fake_slack, entry(user=BOB, start=SATURDAY, end=SUNDAY, days=Decimal(0)))  # weekend only
    run_jobs(at(FRIDAY, 9, 0), "--team", "Engineering")
    run_jobs(at(SATURDAY, 9, 0), "--team", "Engineering")
    run_jobs(at(SUNDAY, 9, 0), "--team", "Engineering")
    run_jobs(at(MONDAY, 9, 0), "--team", "Engineering")
    friday, monday = posts_in(fake_slack, C_ENG)
    assert "Out today, Fri 7 Mar" in blocks_of(friday)
    assert "<@U_ALICE>: :palm_tree: Vacation, Fri 7 Mar – Mon 10 Mar" in blocks_of(friday)
    assert "Who's out, Mon 10 Mar" in blocks_of(monday)
    assert "<@U_ALICE>" in everything(monday)
    assert "<@U_BOB>" not in everything(friday) + everything(monday)


def test_the_digest_skips_leave_that_falls_only_on_holidays_and_names_the_holidays_escaped(fake_slack):
    install(holidays=(HolidayConfig(date=WEDNESDAY, name="<!channel> & <@U_BOB> party"),))
    post_entry(fake_slack, entry(user=DAVE, start=WEDNESDAY, end=WEDNESDAY))  # only the holiday
    post_entry(fake_slack, entry(start=TUESDAY, end=WEDNESDAY))
    run_jobs(at(MONDAY, 9, 0), "--team", "Engineering")
    [digest] = posts_in(fake_slack, C_ENG)
    body = everything(digest)
    assert "<@U_DAVE>" not in body
    assert "<@U_ALICE>" in body
    assert "<!channel>" not in body and "<@U_BOB>" not in body
    assert "&lt;!channel&gt; &amp; &lt;@U_BOB&gt; party" in body


def test_nothing_is_posted_on_a_company_holiday_even_with_people_out(fake_slack):
    install(holidays=(HolidayConfig(date=TUESDAY, name="Company day"),))
    post_entry(fake_slack, entry(start=MONDAY, end=WEDNESDAY))
    assert "Nothing due" in run_jobs(at(TUESDAY, 9, 0), "--team", "Engineering")
    assert posts_in(fake_slack, C_ENG) == []


def test_the_weekly_digest_lists_only_approved_leave_of_the_window(fake_slack):
    install()
    post_entry(fake_slack, entry(start=date(2031, 3, 14), end=date(2031, 3, 14)))  # Friday: in the window
    post_entry(fake_slack, entry(user=DAVE, status="pending", start=date(2031, 3, 14), end=date(2031, 3, 14)))
    post_entry(fake_slack, entry(user=BOB, status="cancelled"))
    post_entry(fake_slack, entry(user=CAROL, status="rejected"))
    post_entry(fake_slack, entry(user=HR, start=date(2031, 3, 3), end=date(2031, 3, 7)))  # the week before
    run_jobs(at(MONDAY, 9, 0), "--team", "Engineering")
    [digest] = posts_in(fake_slack, C_ENG)
    body = everything(digest)
    assert "<@U_ALICE>" in body
    for other in (DAVE, BOB, CAROL, HR):
        assert f"<@{other}>" not in body


# --- Names are escaped -------------------------------------------------------------------------


def test_team_and_leave_type_names_are_escaped_in_channel_posts(fake_slack):
    team = replace(ENG, name="R&D <!channel>")
    odd = LeaveTypeConfig(code="offsite", name="Off <!here> & away", emoji=":tent:", requires_approval=True)
    install(team, leave_types=(VACATION, SICK, MEDICAL, odd))
    post_entry(fake_slack, entry(team="R&D <!channel>", leave_type="offsite"))
    run_jobs(at(TUESDAY, 9, 0), "--team", "R&D <!channel>")
    [post] = posts_in(fake_slack, C_ENG)
    body = everything(post)
    assert "<!channel>" not in body and "<!here>" not in body
    assert "R&amp;D &lt;!channel&gt;" in post["text"]
    assert "Off &lt;!here&gt; &amp; away" in body


def test_team_name_escaped_in_the_weekly_digest_and_nudges(fake_slack):
    team = replace(ENG, name="Ops & <!everyone>")
    install(team)
    now = at(MONDAY, 10, 0)
    post_entry(fake_slack, entry(team="Ops & <!everyone>", status="pending"), ts=f"{now.timestamp() - 72 * 3600:.6f}")
    post_entry(fake_slack, entry(user=DAVE, team="Ops & <!everyone>"))
    run_jobs(now, "--team", "Ops & <!everyone>")
    [digest] = posts_in(fake_slack, C_ENG)
    assert "<!everyone>" not in everything(digest)
    [nudge] = nudges_to(fake_slack, BOB)
    assert "<!everyone>" not in nudge and "Ops &amp; &lt;!everyone&gt;" in nudge


# --- Teams: past approvals channels, people who moved ----------------------------------------


def test_leave_recorded_in_a_past_approvals_channel_is_in_the_teams_posts(fake_slack):
    install(replace(ENG, past_approvals_channels=(C_OLD_APPROVALS,)))
    post_entry(fake_slack, entry(), channel=C_OLD_APPROVALS)
    post_entry(fake_slack, entry(user=DAVE))
    run_jobs(at(TUESDAY, 9, 0), "--team", "Engineering")
    [post] = posts_in(fake_slack, C_ENG)
    assert "<@U_ALICE>" in everything(post) and "<@U_DAVE>" in everything(post)


SALES = TeamConfig(name="Sales", members=MemberSource(users=(ALICE,)), approvers=ApproverSource(users=(HR,)),
                   approvals_channel=C_OLD_APPROVALS, announce_channel=C_GENERAL, timezone="America/Los_Angeles",
                   digest_time=time(9, 0))


def test_leave_approved_before_a_move_stays_with_the_team_that_approved_it(fake_slack):
    # A request belongs to the team it records (as its decisions do): Alice's leave, approved while she
    # was in Engineering, is still Engineering's after HR moves her to Sales; what she asks for now is Sales'.
    install(SALES, ENG)
    post_entry(fake_slack, entry())  # recorded under Engineering, in Engineering's approvals channel
    post_entry(fake_slack, entry(user=DAVE))
    run_jobs(at(TUESDAY, 9, 0))
    sales = posts_in(fake_slack, C_GENERAL)
    engineering = posts_in(fake_slack, C_ENG)
    assert [p for p in engineering if "<@U_ALICE>" in everything(p)]
    assert not [p for p in sales if "<@U_ALICE>" in everything(p)]


def test_leave_requested_after_a_move_shows_in_the_new_team(client, fake_slack):
    install(SALES, ENG)
    request_time_off(client, fake_slack, ALICE, start=TUESDAY, end=TUESDAY)
    [posted] = posted_requests(fake_slack, C_OLD_APPROVALS)
    click(client, fake_slack, HR, ids.APPROVE_ACTION, posted)
    fake_slack.clear_calls()
    run_jobs(at(TUESDAY, 9, 0))
    [sales] = posts_in(fake_slack, C_GENERAL)
    assert "<@U_ALICE>" in everything(sales)
    assert not [p for p in posts_in(fake_slack, C_ENG) if "<@U_ALICE>" in everything(p)]


# --- Reminders --------------------------------------------------------------------------------


def test_monday_leave_is_reminded_on_friday_once(fake_slack):
    install()
    post_entry(fake_slack, entry(start=MONDAY, end=WEDNESDAY))
    run_jobs(at(THURSDAY, 15, 0), "--team", "Engineering")
    assert reminders_to(fake_slack, ALICE) == []
    run_jobs(at(FRIDAY, 15, 0), "--team", "Engineering")
    run_jobs(at(FRIDAY, 18, 0), "--team", "Engineering")
    # A second attempt of Friday's job (its claim taken over after a crash) sends nothing again.
    JobRun.objects.filter(job="reminders", period="2031-03-07").update(finished_at=None, retry_at=django_timezone.now())
    run_jobs(at(FRIDAY, 19, 0), "--team", "Engineering")
    run_jobs(at(MONDAY, 15, 0), "--team", "Engineering")
    [reminder] = reminders_to(fake_slack, ALICE)
    assert "Vacation starts on Mon 10 Mar" in reminder


def test_leave_after_a_monday_holiday_is_reminded_on_friday(fake_slack):
    install(holidays=(HolidayConfig(date=MONDAY, name="Company day"),))
    post_entry(fake_slack, entry(start=TUESDAY, end=WEDNESDAY))
    run_jobs(at(FRIDAY, 15, 0), "--team", "Engineering")
    run_jobs(at(MONDAY, 15, 0), "--team", "Engineering")  # the holiday: nothing runs
    [reminder] = reminders_to(fake_slack, ALICE)
    assert "starts on Tue 11 Mar" in reminder


def test_cancelled_leave_gets_no_reminder(client, fake_slack):
    install()
    request_time_off(client, fake_slack, ALICE)  # Mon 10 – Wed 12 March 2031
    click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted_requests(fake_slack)[0])
    listed = post_command(client, "list", user_id=ALICE).json()
    [(block_id, value)] = [(block["block_id"], element["value"]) for block in listed["blocks"]
                           if block.get("type") == "actions" for element in block["elements"]
                           if element.get("action_id") == ids.CANCEL_ACTION]
    response = post_interaction(client, block_actions_payload(
        user_id=ALICE, action_id=ids.CANCEL_ACTION, value=value, block_id=block_id, channel_id="D_X",
        message_ts="1766000000.000200"))
    assert response.status_code == 200
    assert request_statuses(fake_slack) == ["cancelled"]
    fake_slack.clear_calls()
    assert "0 reminder(s)" in run_jobs(at(FRIDAY, 15, 0), "--team", "Engineering")
    assert reminders_to(fake_slack, ALICE) == []


def test_private_leave_reminder_names_the_type_to_the_requester_only(fake_slack):
    install()
    post_entry(fake_slack, entry(leave_type="medical", start=MONDAY, end=MONDAY))
    run_jobs(at(FRIDAY, 15, 0), "--team", "Engineering")
    [reminder] = reminders_to(fake_slack, ALICE)
    assert "Medical appointment" in reminder
    assert posts_in(fake_slack, C_ENG) == [] or "Medical" not in str(posts_in(fake_slack, C_ENG))


# --- Nudges -----------------------------------------------------------------------------------


def test_nudges_name_the_requests_waiting_and_no_approver_is_nudged_about_their_own(fake_slack):
    install(replace(ENG, name="Engineering"), SALES)
    now = at(TUESDAY, 10, 0)
    old = f"{now.timestamp() - 72 * 3600:.6f}"
    post_entry(fake_slack, entry(status="pending", start=date(2031, 3, 20), end=date(2031, 3, 20)), ts=old)
    post_entry(fake_slack, entry(user=DAVE, status="pending", start=date(2031, 3, 21), end=date(2031, 3, 21)),
               ts=f"{now.timestamp() - 71 * 3600:.6f}")
    post_entry(fake_slack, entry(user=BOB, status="approved", start=date(2031, 3, 24), end=date(2031, 3, 24)),
               ts=f"{now.timestamp() - 90 * 3600:.6f}")
    post_entry(fake_slack, entry(user=CAROL, status="pending", start=date(2031, 3, 25), end=date(2031, 3, 25)),
               ts=f"{now.timestamp() - 2 * 3600:.6f}")
    run_jobs(now, "--team", "Engineering")
    [bobs] = nudges_to(fake_slack, BOB)
    assert "<@U_ALICE>" in bobs and "<@U_DAVE>" in bobs
    assert "<@U_BOB>" not in bobs and "<@U_CAROL>" not in bobs
    [daves] = nudges_to(fake_slack, DAVE)
    assert "<@U_ALICE>" in daves
    assert "<@U_DAVE>:" not in daves  # nobody approves their own leave
    assert nudges_to(fake_slack, HR) == []


def test_a_request_decided_before_the_nudge_is_retried_is_not_named(client, fake_slack):
    install()
    request_time_off(client, fake_slack, ALICE, start=date(2031, 3, 20), end=date(2031, 3, 20))
    [posted] = posted_requests(fake_slack)
    later = datetime.fromtimestamp(float(posted.response["ts"]), tz=timezone.utc) + timedelta(days=3)
    # The nudge run happens on a working day three days after it was posted.
    day = later.astimezone(LA).date()
    while day.weekday() in (0, 5, 6):  # not Monday: the weekly digest would meet the fault first
        day += timedelta(days=1)
    now = at(day, 10, 0)
    # The first nudge DM fails, passing, at each try inside the call: the tick ends with the fault.
    fake_slack.fail("chat.postMessage", "internal_error", times=NOTICE_TRIES_IN_CALL)
    with pytest.raises(CommandError):
        run_jobs(now, "--team", "Engineering")
    click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted)  # decided meanwhile
    JobRun.objects.filter(job="nudges").update(retry_at=django_timezone.now())
    run_jobs(now + timedelta(minutes=2), "--team", "Engineering")
    assert nudges_to(fake_slack, BOB) == [] and nudges_to(fake_slack, DAVE) == []


def test_private_types_are_away_in_nudges(fake_slack):
    install()
    now = at(TUESDAY, 10, 0)
    post_entry(fake_slack, entry(status="pending", leave_type="medical", start=date(2031, 3, 20),
                                 end=date(2031, 3, 20)), ts=f"{now.timestamp() - 72 * 3600:.6f}")
    run_jobs(now, "--team", "Engineering")
    [nudge] = nudges_to(fake_slack, BOB)
    assert "away" in nudge and "Medical" not in nudge and "hospital" not in nudge


# --- The nightly export -----------------------------------------------------------------------


def read_export(export_dir, day: date) -> list[dict]:
    path = export_dir / f"ledger-{day.isoformat()}.csv"
    with path.open(newline="", encoding="utf-8-sig") as stream:
        return list(csv.DictReader(stream))


def post_adjustment(fake_slack, adjustment: Adjustment, channel=C_ENG_APPROVALS) -> str:
    return fake_slack.workspace.post_message(channel, "adjustment", metadata=adjustment_metadata(adjustment)).ts


def test_the_export_holds_every_request_whatever_its_status_and_the_adjustments(fake_slack, export_dir):
    install(replace(ENG, past_approvals_channels=(C_OLD_APPROVALS,)))
    statuses = ("approved", "pending", "rejected", "cancelled")
    for number, status in enumerate(statuses):
        post_entry(fake_slack, entry(user=(ALICE, DAVE, BOB, CAROL)[number], status=status,
                                     reason="Too busy" if status == "rejected" else None))
    post_entry(fake_slack, entry(user=HR, id="in-the-old-channel"), channel=C_OLD_APPROVALS)
    post_adjustment(fake_slack, Adjustment(id="carry", user=ALICE, leave_type="vacation", days=Decimal("-2.5"),
                                           year=2031, reason="correction", by=HR))
    run_jobs(utc(TUESDAY))
    path = export_dir / "ledger-2031-03-11.csv"
    assert path.exists()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o640
    rows = read_export(export_dir, TUESDAY)
    assert list(rows[0]) == ["kind", "id", "user", "team", "type", "start", "end", "start_half", "end_half", "days",
                             "year", "status", "decided_by", "decided_at", "reason", "recorded_by", "by", "channel",
                             "ts", "user_name", "type_name"]
    requests = [row for row in rows if row["kind"] == "request"]
    assert sorted(row["status"] for row in requests) == sorted([*statuses, "approved"])
    assert {row["id"] for row in requests} >= {"in-the-old-channel"}
    [rejected] = [row for row in requests if row["status"] == "rejected"]
    assert rejected["reason"] == "Too busy" and rejected["decided_by"] == BOB
    [adjustment] = [row for row in rows if row["kind"] == "adjustment"]
    assert (adjustment["user"], adjustment["type"], adjustment["days"], adjustment["year"]) == (
        ALICE, "vacation", "-2.5", "2031")
    assert adjustment["type_name"] == "Vacation" and {row["type_name"] for row in requests} == {"Vacation"}
    assert adjustment["channel"] == C_ENG_APPROVALS and adjustment["ts"]


def test_the_export_directory_setting_is_relative_to_the_project():
    # README: "LEDGER_EXPORT_DIR … where the nightly CSV goes (relative to the project)".
    import timeoff_site.settings as site_settings

    assert str(site_settings.LEDGER_EXPORT_DIR).startswith(str(site_settings.BASE_DIR))


RISKY = ["=1+1", "+1", "-cmd", "@SUM(A1)", " =1", "\t=1", "\r=1", "\n=1", "\u00a0=1", " \n @x"]


def test_export_cells_that_a_spreadsheet_could_run_are_defused(fake_slack, export_dir):
    install()
    for number, text in enumerate(RISKY):
        post_entry(fake_slack, entry(id=f"r{number}", status="rejected", reason=text, decided_by=text,
                                     recorded_by=text, start=TUESDAY + timedelta(days=number),
                                     end=TUESDAY + timedelta(days=number)))
        post_adjustment(fake_slack, Adjustment(id=f"a{number}", user=ALICE, leave_type="vacation", days=Decimal(1),
                                               year=2031, reason=text, by=text))
    run_jobs(utc(TUESDAY))
    rows = read_export(export_dir, TUESDAY)
    assert len(rows) == 2 * len(RISKY)
    for row in rows:
        for column in ("reason", "decided_by", "recorded_by", "by"):
            cell = row[column]
            if cell:
                assert cell.startswith("'"), (column, cell)


def test_a_team_whose_name_starts_like_a_formula_is_defused_in_the_export(fake_slack, export_dir):
    team = replace(ENG, name="-Ops")
    install(team)
    post_entry(fake_slack, entry(team="-Ops"))
    run_jobs(utc(TUESDAY))
    [row] = read_export(export_dir, TUESDAY)
    assert row["team"] == "'-Ops"


# --- The ledger watch -------------------------------------------------------------------------


def delete_message(fake_slack, channel: str, ts: str) -> None:
    workspace = fake_slack.workspace
    with workspace.lock:
        workspace.delete_message(workspace.find_message(channel, ts))


def hr_alerts(fake_slack) -> list[str]:
    return [text for text in delivered_dms(fake_slack, HR) if "disappeared" in text]


def test_a_deleted_request_is_told_to_hr_once_not_every_night(fake_slack):
    install()
    post_entry(fake_slack, entry())
    doomed = entry(user=DAVE, start=date(2031, 4, 1), end=date(2031, 4, 2))
    doomed_ts = post_entry(fake_slack, doomed)
    run_jobs(utc(MONDAY))
    delete_message(fake_slack, C_ENG_APPROVALS, doomed_ts)
    for day in (TUESDAY, WEDNESDAY, date(2031, 3, 13), date(2031, 3, 14)):
        run_jobs(utc(day))
    [alert] = hr_alerts(fake_slack)
    assert doomed.id in alert and "<@U_DAVE>" in alert


def test_a_deleted_adjustment_and_a_deletion_in_a_past_channel_are_told(fake_slack):
    install(replace(ENG, past_approvals_channels=(C_OLD_APPROVALS,)))
    post_entry(fake_slack, entry(id="oldest-first"), channel=C_OLD_APPROVALS, ts="1790000000.000100")
    old_ts = post_entry(fake_slack, entry(user=DAVE, id="old-doomed"), channel=C_OLD_APPROVALS,
                        ts="1790000100.000100")
    post_entry(fake_slack, entry(id="current-first"), ts="1790000000.000200")
    adjustment_ts = fake_slack.workspace.post_message(
        C_ENG_APPROVALS, "adjustment", ts="1790000200.000100",
        metadata=adjustment_metadata(Adjustment(id="adj-doomed", user=BOB, leave_type="vacation", days=Decimal(2),
                                                year=2031, reason="carry-over", by=HR))).ts
    run_jobs(utc(MONDAY))
    delete_message(fake_slack, C_OLD_APPROVALS, old_ts)
    delete_message(fake_slack, C_ENG_APPROVALS, adjustment_ts)
    run_jobs(utc(TUESDAY))
    [alert] = hr_alerts(fake_slack)
    assert "old-doomed" in alert and "adj-doomed" in alert


@pytest.mark.parametrize("fault", ["rate_limit_long", "server_error", "gateway_later_page", "truncated",
                                   "internal_error", "dropped"])
def test_a_read_slack_fails_is_no_deletion(fake_slack, monkeypatch, fault):
    from approvals import ledger_reader

    monkeypatch.setattr(ledger_reader, "HISTORY_PAGE_SIZE", 2)
    install()
    for number in range(7):
        post_entry(fake_slack, entry(id=f"e{number}", start=TUESDAY + timedelta(days=number), end=TUESDAY + timedelta(days=number)),
                   ts=f"17900000{number:02d}.000100")
    run_jobs(utc(MONDAY))
    before = LedgerSnapshot.objects.get().entries
    assert len(before) == 7
    fake_slack.clear_calls()
    if fault == "rate_limit_long":
        fake_slack.rate_limit("conversations.history", retry_after=120, times=None, after=1)
    elif fault == "server_error":
        fake_slack.server_error("conversations.history", times=None)
    elif fault == "gateway_later_page":
        fake_slack.gateway_error("conversations.history", times=None, after=2)
    elif fault == "truncated":
        fake_slack.truncate_answer("conversations.history", times=None)
    elif fault == "internal_error":
        fake_slack.fail("conversations.history", "internal_error", times=None)
    elif fault == "dropped":
        fake_slack.drop_connection("conversations.history", times=None)
    try:
        run_jobs(utc(TUESDAY))
    except CommandError:
        pass
    assert hr_alerts(fake_slack) == []
    assert LedgerSnapshot.objects.get().entries == before


def test_a_read_slack_merely_pauses_is_no_deletion(fake_slack, monkeypatch):
    from approvals import ledger_reader

    monkeypatch.setattr(ledger_reader, "HISTORY_PAGE_SIZE", 2)
    install()
    for number in range(7):
        post_entry(fake_slack, entry(id=f"e{number}", start=TUESDAY + timedelta(days=number), end=TUESDAY + timedelta(days=number)),
                   ts=f"17900000{number:02d}.000100")
    run_jobs(utc(MONDAY))
    fake_slack.rate_limit("conversations.history", retry_after=1, times=2, after=2)
    run_jobs(utc(TUESDAY))
    assert hr_alerts(fake_slack) == []
    assert len(LedgerSnapshot.objects.get().entries) == 7


def test_a_read_that_times_out_is_no_deletion(fake_slack, monkeypatch):
    from approvals import ledger_reader, slack_clients

    monkeypatch.setattr(ledger_reader, "HISTORY_PAGE_SIZE", 2)
    install()
    for number in range(5):
        post_entry(fake_slack, entry(id=f"e{number}", start=TUESDAY + timedelta(days=number), end=TUESDAY + timedelta(days=number)),
                   ts=f"17900000{number:02d}.000100")
    run_jobs(utc(MONDAY))
    monkeypatch.setattr(slack_clients, "BACKGROUND_TIMEOUT_SECONDS", 0.3)
    slack_clients._background_client.cache_clear()
    try:
        fake_slack.delay("conversations.history", 1.0, times=None)
        try:
            run_jobs(utc(TUESDAY))
        except CommandError:
            pass
    finally:
        fake_slack.clear_faults()
        slack_clients._background_client.cache_clear()
    assert hr_alerts(fake_slack) == []
    assert len(LedgerSnapshot.objects.get().entries) == 5


def test_after_a_failed_night_the_next_night_still_tells_of_a_real_deletion_once(fake_slack):
    install()
    post_entry(fake_slack, entry(id="kept"), ts="1790000000.000100")
    doomed_ts = post_entry(fake_slack, entry(user=DAVE, id="doomed"), ts="1790000100.000100")
    run_jobs(utc(MONDAY))
    delete_message(fake_slack, C_ENG_APPROVALS, doomed_ts)
    fake_slack.server_error("conversations.history", times=None)
    with pytest.raises(CommandError):
        run_jobs(utc(TUESDAY))
    fake_slack.clear_faults()
    run_jobs(utc(WEDNESDAY))
    run_jobs(utc(date(2031, 3, 13)))
    [alert] = hr_alerts(fake_slack)
    assert "doomed" in alert


# --- The setup page's retention warning ----------------------------------------------------------


def test_retention_warns_when_every_entry_is_from_this_leave_year(hr_client, fake_slack):
    install()
    today = django_timezone.localdate()
    posted = datetime(today.year, 1, 5, 12, tzinfo=timezone.utc).timestamp()
    post_entry(fake_slack, entry(id="young"), ts=f"{posted:.6f}")
    response = hr_client.get(reverse("console:setup"))
    assert 'check-warning" id="retention"' in response.text


def test_retention_warns_when_the_current_approvals_channel_reaches_only_this_year(hr_client, fake_slack):
    # The past channel keeps old entries; the current one's history starts this year (retention set on it):
    # a person's balance reads only part of this year's leave there... but the oldest entry found overall
    # is old. README: "the oldest ledger entry found against the start of the leave year".
    install(replace(ENG, past_approvals_channels=(C_OLD_APPROVALS,)))
    today = django_timezone.localdate()
    last_year = datetime(today.year - 1, 6, 1, 12, tzinfo=timezone.utc).timestamp()
    this_year = datetime(today.year, 1, 5, 12, tzinfo=timezone.utc).timestamp()
    post_entry(fake_slack, entry(id="old"), channel=C_OLD_APPROVALS, ts=f"{last_year:.6f}")
    post_entry(fake_slack, entry(id="young"), ts=f"{this_year:.6f}")
    response = hr_client.get(reverse("console:setup"))
    assert 'check-ok" id="retention"' in response.text  # the letter of README/DESIGN: the oldest overall


# --- More: renames, other teams' holidays, channel moves, refusals --------------------------------


def test_no_out_today_post_when_only_pending_or_cancelled_leave_today(fake_slack):
    install()
    post_entry(fake_slack, entry(status="pending"))
    post_entry(fake_slack, entry(user=DAVE, status="cancelled"))
    assert "nobody out" in run_jobs(at(TUESDAY, 9, 0), "--team", "Engineering")
    assert posts_in(fake_slack, C_ENG) == []


def test_the_export_names_a_renamed_team_as_it_is_called_now(fake_slack, export_dir):
    install(replace(ENG, name="Platform", past_names=("Engineering",)))
    post_entry(fake_slack, entry(team="Engineering"))
    run_jobs(utc(TUESDAY))
    [row] = read_export(export_dir, TUESDAY)
    assert row["team"] == "Platform"


def test_another_teams_company_holiday_neither_silences_nor_shows_in_this_teams_digest(fake_slack):
    install(ENG, SALES, holidays=(HolidayConfig(date=WEDNESDAY, name="Sales offsite", team="Sales"),
                                  HolidayConfig(date=date(2031, 3, 13), name="Eng day", team="Engineering")))
    post_entry(fake_slack, entry(user=DAVE, start=WEDNESDAY, end=WEDNESDAY))
    run_jobs(at(MONDAY, 9, 0), "--team", "Engineering")
    [digest] = posts_in(fake_slack, C_ENG)
    body = everything(digest)
    assert "Sales offsite" not in body and "Eng day" in body
    assert "<@U_DAVE>" in body
    run_jobs(at(WEDNESDAY, 9, 0), "--team", "Engineering")
    assert len(posts_in(fake_slack, C_ENG)) == 2


def test_moving_the_approvals_channel_is_no_deletion(fake_slack):
    install()
    post_entry(fake_slack, entry(id="kept"), ts="1790000000.000100")
    post_entry(fake_slack, entry(user=DAVE, id="also-kept"), ts="1790000100.000100")
    run_jobs(utc(MONDAY))
    # HR moves Engineering to a new approvals channel: the old one becomes a past one.
    install(replace(ENG, approvals_channel=C_OLD_APPROVALS, past_approvals_channels=(C_ENG_APPROVALS,)))
    run_jobs(utc(TUESDAY))
    assert hr_alerts(fake_slack) == []
    assert set(LedgerSnapshot.objects.get().entries) == {"kept", "also-kept"}


def test_an_approvals_channel_slack_refuses_for_good_is_no_deletion(fake_slack):
    install()
    post_entry(fake_slack, entry(id="kept"), ts="1790000000.000100")
    run_jobs(utc(MONDAY))
    fake_slack.fail("conversations.history", "not_in_channel", times=None)
    with pytest.raises(CommandError):
        run_jobs(utc(TUESDAY))
    assert hr_alerts(fake_slack) == []
    assert set(LedgerSnapshot.objects.get().entries) == {"kept"}


def test_the_setup_page_still_shows_a_deletion_the_watch_told_hr_about(hr_client, fake_slack):
    # HR gets the watch's DM ("1 time-off record(s) disappeared") and opens Setup, whose README says it
    # shows "records the daily ledger watch saw that are no longer in the ledger".
    install()
    post_entry(fake_slack, entry(id="kept"), ts="1790000000.000100")
    doomed_ts = post_entry(fake_slack, entry(user=DAVE, id="doomed"), ts="1790000100.000100")
    run_jobs(utc(MONDAY))
    delete_message(fake_slack, C_ENG_APPROVALS, doomed_ts)
    run_jobs(utc(TUESDAY))
    [alert] = hr_alerts(fake_slack)
    assert "doomed" in alert
    response = hr_client.get(reverse("console:setup"))
    assert "<code>doomed</code>" in response.text, "Setup no longer shows the record the watch reported"
    assert "Nothing the watch recorded is missing" not in response.text


def test_deleting_the_decided_copy_of_a_request_posted_twice_is_told(fake_slack):
    # README: a retry may post a request twice; the ledger reads the copy that says where it stands (the
    # one an approver decided on). HR tidying "the duplicate" deletes that copy: the approval is gone from
    # the ledger (the request reads as pending again), and a request message disappeared.
    install()
    pending_copy = entry(id="twice", status="pending", start=date(2031, 4, 1), end=date(2031, 4, 1))
    post_entry(fake_slack, pending_copy, ts="1790000000.000100")
    approved_copy = replace(pending_copy, status="approved", decided_by=BOB, decided_at=1790000500)
    decided_ts = post_entry(fake_slack, approved_copy, ts="1790000001.000100")
    run_jobs(utc(MONDAY))
    assert LedgerSnapshot.objects.get().entries["twice"][2] == decided_ts
    delete_message(fake_slack, C_ENG_APPROVALS, decided_ts)
    run_jobs(utc(TUESDAY))
    assert hr_alerts(fake_slack), "HR was not told that the approved copy of 'twice' was deleted"


def test_what_the_watch_told_hr_leaves_the_setup_page_after_thirty_days(fake_slack):
    from approvals.models import LedgerSnapshot

    old = (datetime.now(timezone.utc) - timedelta(days=LedgerSnapshot.REPORTED_DAYS + 1)).isoformat()
    recent = (datetime.now(timezone.utc) - timedelta(days=2)).isoformat()
    LedgerSnapshot.objects.create(taken_at=datetime.now(timezone.utc), entries={}, reported=[
        ["long-ago", ALICE, C_ENG_APPROVALS, "1766000000.000100", old],
        ["lately", ALICE, C_ENG_APPROVALS, "1766000000.000200", recent]])
    install(ENG)
    run_jobs(at(TUESDAY, 2, 30))  # the watch: nothing new deleted; it keeps what it told lately

    kept = [row[0] for row in LedgerSnapshot.objects.get().reported]
    assert kept == ["lately"]
