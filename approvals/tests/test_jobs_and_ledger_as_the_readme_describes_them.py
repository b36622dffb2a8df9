"""The daily jobs and the ledger, taken at README's word ("The clock and the daily jobs", "The ledger").

Each test puts ledger entries in the fake Slack as our bot posts them (or sends Slack-shaped requests),
runs the jobs as cron does (`run_jobs --at`) or the clock does (a tick and a task worker on the
simulated clock), and reads what crossed the wire: the DMs, the channel posts, the nightly export.
"""

import csv
import json
from dataclasses import replace
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from approvals import console_services
from approvals.config_types import ApproverSource, HolidayConfig, MemberSource, TeamConfig
from approvals.job_services import jobs_run_due
from approvals.ledger_format import adjustment_metadata, request_metadata
from approvals.models import JobRun, Team
from approvals.rules import Adjustment, LedgerEntry
from fake_slack.personas import C_ENG, C_ENG_APPROVALS, C_GENERAL, C_NOBOT, C_OLD_APPROVALS, CAROL
from test_support.flows import ALICE, BOB, DAVE, HR, install_config, standard_config
from test_support.job_runs import post_entry, posts_in, run_jobs
from test_support.simulated_time import simulated_clock, work_through_the_queue

pytestmark = pytest.mark.django_db

NEW_YORK = ZoneInfo("America/New_York")
UTC = timezone.utc

# A week in May 2027 (New York): nothing public off from Monday 10 to Friday 14.
FRIDAY_BEFORE = date(2027, 5, 7)
MONDAY, TUESDAY, WEDNESDAY, THURSDAY, FRIDAY = (date(2027, 5, 10) + timedelta(days=n) for n in range(5))
NEXT_MONDAY = date(2027, 5, 17)


@pytest.fixture(autouse=True)
def export_dir(settings, tmp_path):
    settings.LEDGER_EXPORT_DIR = tmp_path / "exports"
    return settings.LEDGER_EXPORT_DIR


def team(name="Engineering", *, members=(ALICE, DAVE), approvers=(BOB,), approvals=C_ENG_APPROVALS, announce=C_ENG,
         digest=None, nudge=None, **changes) -> TeamConfig:
    values = dict(name=name, members=MemberSource(users=members), approvers=ApproverSource(users=approvers),
                  approvals_channel=approvals, announce_channel=announce, timezone="America/New_York",
                  holiday_country="US", holiday_subdivision="NY", digest_time=digest, nudge_after_hours=nudge)
    return TeamConfig(**{**values, **changes})


def install(*teams, **changes):
    return install_config(standard_config(teams=teams or (team(),), **changes))


def leave(user=ALICE, start=MONDAY, end=None, *, status="approved", leave_type="vacation", team_name="Engineering",
          days="1", **changes) -> LedgerEntry:
    end = end or start
    values = dict(id=f"{user}-{start}-{end}-{leave_type}-{status}-{team_name}".replace(" ", "_"), user=user,
                  team=team_name, leave_type=leave_type, start=start, end=end, start_half=None, end_half=None,
                  days=Decimal(days), status=status, decided_by=HR if status != "pending" else None)
    return LedgerEntry(**{**values, **changes})


def local(day: date, hour: int, minute: int = 0, zone=NEW_YORK) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone)


def posted_on(day: date, hour: int = 9) -> str:
    """A message ts for a request posted that morning in New York."""
    return f"{local(day, hour).timestamp():.6f}"


def delivered_dms(fake_slack, user) -> list[str]:
    return [call.params["text"] for call in fake_slack.calls("chat.postMessage")
            if call.params.get("channel") == user and call.response.get("ok")]


def reminders_to(fake_slack, user) -> list[str]:
    return [text for text in delivered_dms(fake_slack, user) if "A reminder" in text]


def nudges_to(fake_slack, user) -> list[str]:
    return [text for text in delivered_dms(fake_slack, user) if "waiting for a decision" in text]


def told_nobody_at_work(fake_slack, user) -> list[str]:
    return [text for text in nudges_to(fake_slack, user) if "on leave today" in text]


def everything(post: dict) -> str:
    return post["text"] + "\n" + json.dumps(post.get("blocks") or [], ensure_ascii=False)


def delete_message(fake_slack, channel: str, ts: str) -> None:
    workspace = fake_slack.workspace
    with workspace.lock:
        workspace.delete_message(workspace.find_message(channel, ts))


# --- Nudges and approvers away ---------------------------------------------------------------------------


def test_hr_hears_of_requests_waiting_on_nobody_at_work_even_when_nudged_about_another_that_day(fake_slack):
    """Bob, Engineering's only approver, is on vacation this week. Alice's request waits on him alone; Bob's
    own request for the summer waits on HR (nobody approves their own leave). README: when all of a
    request's approvers are away they are still nudged, and HR is told which requests wait on nobody at
    work. HR having a request of their own to decide that morning must not swallow that warning."""
    install(team(nudge=24))
    post_entry(fake_slack, leave(BOB, MONDAY, FRIDAY, days="5"))
    post_entry(fake_slack, leave(ALICE, date(2027, 6, 7), date(2027, 6, 8), status="pending", days="2"),
               ts=posted_on(FRIDAY_BEFORE))
    post_entry(fake_slack, leave(BOB, date(2027, 7, 5), date(2027, 7, 9), status="pending", days="5"),
               ts=posted_on(FRIDAY_BEFORE, 10))

    run_jobs(local(TUESDAY, 10), "--team", "Engineering")

    [to_bob] = nudges_to(fake_slack, BOB)
    assert "<@U_ALICE>" in to_bob  # for his return
    to_hr = "\n".join(nudges_to(fake_slack, HR))
    assert "<@U_BOB>" in to_hr  # Bob's own request is HR's to decide
    assert told_nobody_at_work(fake_slack, HR), to_hr
    assert "<@U_ALICE>" in "\n".join(told_nobody_at_work(fake_slack, HR)), to_hr


def test_an_approver_whose_leave_ends_at_noon_is_away_for_the_morning_nudge(fake_slack):
    """Bob's leave ends at midday on Tuesday: at ten he is away, so Dave (in) is nudged about Alice's
    request and Bob is not; HR hears nothing, someone is at work to decide."""
    install(team(nudge=24, approvers=(BOB, DAVE)))
    post_entry(fake_slack, leave(BOB, MONDAY, TUESDAY, end_half="am", days="1.5"))
    post_entry(fake_slack, leave(ALICE, date(2027, 6, 7), status="pending"), ts=posted_on(FRIDAY_BEFORE))

    run_jobs(local(TUESDAY, 10), "--team", "Engineering")

    [to_dave] = nudges_to(fake_slack, DAVE)
    assert "<@U_ALICE>" in to_dave and "Open the request" in to_dave
    assert nudges_to(fake_slack, BOB) == []
    assert nudges_to(fake_slack, HR) == []


def test_an_approver_whose_afternoon_off_starts_after_the_nudge_is_nudged_like_the_others(fake_slack):
    """README: an afternoon off starts after the nudge. Bob off from Tuesday noon is nudged at ten."""
    install(team(nudge=24, approvers=(BOB, DAVE)))
    post_entry(fake_slack, leave(BOB, TUESDAY, WEDNESDAY, start_half="pm", days="1.5"))
    post_entry(fake_slack, leave(ALICE, date(2027, 6, 7), status="pending"), ts=posted_on(FRIDAY_BEFORE))

    run_jobs(local(TUESDAY, 10), "--team", "Engineering")

    assert ["<@U_ALICE>" in text for text in nudges_to(fake_slack, BOB)] == [True]
    assert ["<@U_ALICE>" in text for text in nudges_to(fake_slack, DAVE)] == [True]
    assert told_nobody_at_work(fake_slack, HR) == []


def test_an_approver_on_leave_recorded_in_another_teams_channel_is_away_while_a_third_channel_is_refused(
        fake_slack):
    """Bob leads the Leads team, whose requests (his vacation among them) are in #general; he also approves
    for Engineering. Design's approvals channel has lost the bot (Slack refuses it for good): README says
    the other teams' nudges still go out. They must still see that Bob is on leave, and nudge Dave, who is
    in, rather than Bob."""
    leads = team("Leads", members=(BOB,), approvers=(HR,), approvals=C_GENERAL, announce=None)
    design = team("Design", members=(CAROL,), approvers=(HR,), approvals=C_NOBOT, announce=None)
    install(leads, team(nudge=24, approvers=(BOB, DAVE)), design)
    post_entry(fake_slack, leave(BOB, MONDAY, FRIDAY, team_name="Leads", days="5"), channel=C_GENERAL)
    post_entry(fake_slack, leave(ALICE, date(2027, 6, 7), status="pending"), ts=posted_on(FRIDAY_BEFORE))

    out = run_jobs(local(TUESDAY, 10), "--team", "Engineering")

    assert "1 waiting" in out, out
    assert ["<@U_ALICE>" in text for text in nudges_to(fake_slack, DAVE)] == [True]
    assert nudges_to(fake_slack, BOB) == [], "Bob is on vacation and Dave is in"


def test_leave_of_a_removed_team_is_still_reminded_while_another_teams_channel_is_refused(fake_slack):
    """Design was removed; Alice, now in Engineering, had Monday off approved under Design (its channel stays
    in the ledger). README: such leave is reminded in the team its person is in now, and one team's
    approvals channel refused for good (Marketing's lost the bot) does not stop the other teams' reminders."""
    design = team("Design", members=(ALICE,), approvers=(HR,), approvals=C_OLD_APPROVALS, announce=None)
    marketing = team("Marketing", members=(CAROL,), approvers=(HR,), approvals=C_NOBOT, announce=None)
    install(design, team(), marketing)
    post_entry(fake_slack, leave(ALICE, MONDAY, team_name="Design"), channel=C_OLD_APPROVALS)
    install(team(), marketing)  # Design removed: Alice is Engineering's now

    out = run_jobs(local(FRIDAY_BEFORE, 15), "--team", "Engineering")

    assert "1 reminder(s)" in out, out
    assert ["starts on Mon 10 May" in text for text in reminders_to(fake_slack, ALICE)] == [True]


def test_a_request_still_waiting_is_nudged_again_each_working_day_and_not_once_decided(fake_slack):
    """Nudged Monday and Tuesday; approved on Tuesday afternoon (the message rewritten), no nudge Wednesday."""
    install(team(nudge=24))
    waiting = leave(ALICE, date(2027, 6, 7), status="pending")
    ts = post_entry(fake_slack, waiting, ts=posted_on(FRIDAY_BEFORE))
    run_jobs(local(MONDAY, 10), "--team", "Engineering")
    run_jobs(local(TUESDAY, 10), "--team", "Engineering")
    assert len(nudges_to(fake_slack, BOB)) == 2
    assert "waiting 3 days" in nudges_to(fake_slack, BOB)[0] and "waiting 4 days" in nudges_to(fake_slack, BOB)[1]

    # Decided in Slack: the message's metadata now says approved (the nightly full read sees it).
    workspace = fake_slack.workspace
    with workspace.lock:
        workspace.find_message(C_ENG_APPROVALS, ts).metadata = request_metadata(
            replace(waiting, status="approved", decided_by=BOB))
    run_jobs(datetime(2027, 5, 12, 2, 0, tzinfo=UTC))  # the nightly jobs: the whole ledger read again
    assert "0 waiting" in run_jobs(local(WEDNESDAY, 10), "--team", "Engineering")
    assert len(nudges_to(fake_slack, BOB)) == 2


def test_a_request_still_waiting_in_the_teams_earlier_approvals_channel_is_nudged_with_a_link_there(fake_slack):
    """HR moved Engineering to a new approvals channel; a request posted in the old one still waits. It is
    still the team's (the old channel is read), named in the nudge with a link to where it is."""
    install(team(nudge=24, past_approvals_channels=(C_OLD_APPROVALS,)))
    ts = post_entry(fake_slack, leave(ALICE, date(2027, 6, 7), status="pending"), channel=C_OLD_APPROVALS,
                    ts=posted_on(FRIDAY_BEFORE))
    run_jobs(local(MONDAY, 10), "--team", "Engineering")
    [nudge] = nudges_to(fake_slack, BOB)
    assert f"https://slack.com/archives/{C_OLD_APPROVALS}/p{ts.replace('.', '')}" in nudge


def test_nothing_is_sent_on_a_company_day_off_of_the_team_alone(fake_slack):
    """A company holiday HR gave Engineering alone: no reminder, no out-today post and no nudge that day;
    the reminder goes on the working day before it instead, and Design, working that day, posts as usual."""
    design = team("Design", members=(CAROL,), approvers=(HR,), approvals=C_OLD_APPROVALS, announce=C_GENERAL,
                  digest=time(9, 0))
    install(team(digest=time(9, 0), nudge=24), design,
            holidays=(HolidayConfig(date=THURSDAY, name="Team offsite recovery", team="Engineering"),))
    post_entry(fake_slack, leave(ALICE, FRIDAY))
    post_entry(fake_slack, leave(DAVE, THURSDAY))  # a day the team has off anyway
    post_entry(fake_slack, leave(CAROL, THURSDAY, team_name="Design"), channel=C_OLD_APPROVALS)
    post_entry(fake_slack, leave(ALICE, date(2027, 6, 7), status="pending"), ts=posted_on(FRIDAY_BEFORE))

    for hour in (9, 10, 15, 18):
        run_jobs(local(THURSDAY, hour))

    assert posts_in(fake_slack, C_ENG) == []
    assert nudges_to(fake_slack, BOB) == []
    assert len(posts_in(fake_slack, C_GENERAL)) == 1  # Design's out-today
    # Alice's Friday was reminded on Wednesday, the working day before the team's day off.
    run_jobs(local(WEDNESDAY, 15), "--team", "Engineering")
    [reminder] = reminders_to(fake_slack, ALICE)
    assert "starts on Fri 14 May" in reminder


# --- Reminders when plans change -----------------------------------------------------------------


def test_leave_moved_to_later_dates_after_its_reminder_is_reminded_again_before_its_new_start(fake_slack):
    """Reminded on Friday of leave from Monday; the plan changes (that request withdrawn, Wednesday asked
    for and approved). Tuesday's reminder names Wednesday; nobody is reminded twice for one leave."""
    install()
    first = leave(ALICE, MONDAY, TUESDAY, days="2")
    ts = post_entry(fake_slack, first)
    run_jobs(local(FRIDAY_BEFORE, 15), "--team", "Engineering")
    assert ["starts on Mon 10 May" in text for text in reminders_to(fake_slack, ALICE)] == [True]

    with fake_slack.workspace.lock:
        fake_slack.workspace.find_message(C_ENG_APPROVALS, ts).metadata = request_metadata(
            replace(first, status="cancelled"))
    post_entry(fake_slack, leave(ALICE, WEDNESDAY, THURSDAY, days="2"))
    run_jobs(datetime(2027, 5, 10, 2, 0, tzinfo=UTC))  # the nightly full read
    run_jobs(local(MONDAY, 15), "--team", "Engineering")
    run_jobs(local(TUESDAY, 15), "--team", "Engineering")

    reminders = reminders_to(fake_slack, ALICE)
    assert len(reminders) == 2, reminders
    assert "starts tomorrow" in reminders[1] or "starts on Wed 12 May" in reminders[1]
    assert "Wed 12 May – Thu 13 May" in reminders[1]


def test_the_reminder_of_leave_recorded_before_a_rename_goes_out_under_the_new_name_once(fake_slack):
    """Alice's Monday leave was recorded under "Engineering"; on Friday morning HR renames the team. Friday
    afternoon she is reminded once, by the renamed team's job, which `run_jobs --team` finds by either name."""
    install()
    post_entry(fake_slack, leave(ALICE, MONDAY))
    console_services.team_update(team_id=Team.objects.get(name="Engineering").pk, name="Platform")

    out = run_jobs(local(FRIDAY_BEFORE, 15), "--team", "Engineering")
    assert "reminders Platform" in out and "1 reminder(s)" in out, out
    assert "Nothing due" in run_jobs(local(FRIDAY_BEFORE, 16), "--team", "Platform")
    assert len(reminders_to(fake_slack, ALICE)) == 1


def test_a_reminder_claimed_by_the_clock_but_run_after_the_leave_began_sends_nothing(fake_slack, monkeypatch,
                                                                                     settings):
    """The clock claims Friday's reminders at 15:00 and enqueues them; the worker is down until Monday
    morning. README: a job whose task runs after its day has ended does nothing and is recorded as finished
    with the error `expired`: no reminder of leave that has begun, and no second try."""
    clock = simulated_clock(monkeypatch, settings, jobs=True)
    install()
    post_entry(fake_slack, leave(ALICE, MONDAY))
    friday = local(FRIDAY_BEFORE, 15)
    clock.move_to(friday)
    assert [outcome for _, outcome in jobs_run_due(friday, team="Engineering")] == ["enqueued"]
    clock.move_to(local(MONDAY, 8))
    work_through_the_queue(clock)

    assert reminders_to(fake_slack, ALICE) == []
    run = JobRun.objects.get(job="reminders", period=FRIDAY_BEFORE.isoformat())
    assert run.finished_at is not None and run.error == "expired"


# --- Out today and the weekly digest -----------------------------------------------------------------


def test_leave_approved_after_the_morning_post_is_in_the_next_mornings_post(fake_slack):
    """The out-today post goes once a day: leave approved at 11:00 for today and tomorrow is not posted
    again today, and is in Wednesday's post."""
    install(team(digest=time(9, 0)))
    post_entry(fake_slack, leave(DAVE, TUESDAY))
    run_jobs(local(TUESDAY, 9), "--team", "Engineering")
    post_entry(fake_slack, leave(ALICE, TUESDAY, WEDNESDAY, days="2"))
    run_jobs(datetime(2027, 5, 12, 2, 0, tzinfo=UTC))  # the nightly read
    run_jobs(local(TUESDAY, 11), "--team", "Engineering")
    run_jobs(local(WEDNESDAY, 9), "--team", "Engineering")

    tuesday, wednesday = posts_in(fake_slack, C_ENG)
    assert "<@U_DAVE>" in everything(tuesday) and "<@U_ALICE>" not in everything(tuesday)
    assert "Out today, Wed 12 May" in everything(wednesday)
    assert "<@U_ALICE>" in everything(wednesday) and "<@U_DAVE>" not in everything(wednesday)


def test_nobody_out_means_no_out_today_post_but_the_weekly_digest_still_says_so(fake_slack):
    """README: the out-today post says nothing when nobody is out; Monday's digest covers the week."""
    install(team(digest=time(9, 0)))
    run_jobs(local(MONDAY, 9), "--team", "Engineering")
    run_jobs(local(TUESDAY, 9), "--team", "Engineering")
    [digest] = posts_in(fake_slack, C_ENG)
    assert "Who's out" in everything(digest) and "Nobody" in everything(digest)


def test_the_weekly_digest_shows_leave_begun_last_week_and_the_teams_holiday_in_its_window(fake_slack):
    """Monday 24 May 2027: Alice has been out since the Wednesday before; Memorial Day (31 May) is in the
    window of today and the next seven days, named."""
    install(team(digest=time(9, 0)))
    post_entry(fake_slack, leave(ALICE, date(2027, 5, 19), date(2027, 5, 26), days="6"))
    run_jobs(local(date(2027, 5, 24), 9), "--team", "Engineering")
    [digest] = posts_in(fake_slack, C_ENG)
    body = everything(digest)
    assert "Mon 24 May – Mon 31 May" in body
    assert "<@U_ALICE>" in body and "Wed 19 May" in body
    assert "Memorial Day" in body


# --- The ledger watch and the export -----------------------------------------------------------------


def test_a_deleted_request_is_told_to_every_fallback_approver_with_where_it_was(fake_slack, export_dir):
    """Two people in HR are fallback approvers: each is told of the deleted request, with its channel,
    the person and its id, and pointed at the nightly export that still holds it."""
    install(fallback_approvers=(HR, CAROL))
    post_entry(fake_slack, leave(ALICE, MONDAY))
    doomed = leave(DAVE, date(2027, 6, 1), date(2027, 6, 2), days="2")
    ts = post_entry(fake_slack, doomed)
    run_jobs(datetime(2027, 5, 10, 2, 0, tzinfo=UTC))
    delete_message(fake_slack, C_ENG_APPROVALS, ts)
    run_jobs(datetime(2027, 5, 11, 2, 0, tzinfo=UTC))

    for person in (HR, CAROL):
        [alert] = [text for text in delivered_dms(fake_slack, person) if "disappeared" in text]
        assert doomed.id in alert and "<@U_DAVE>" in alert and f"<#{C_ENG_APPROVALS}>" in alert
        assert "export" in alert
    # The export of the night before still holds its row.
    with open(export_dir / "ledger-2027-05-10.csv", encoding="utf-8-sig") as stream:
        assert doomed.id in [row["id"] for row in csv.DictReader(stream)]


def test_a_deletion_in_the_channel_of_a_team_hr_removed_is_still_told(fake_slack):
    """README: removing a team keeps its approvals channel in the ledger, so a deleted request there is a
    deletion HR hears of, not a record of a channel "no longer configured" (only the oldest message
    read in a channel is taken as aged out)."""
    design = team("Design", members=(CAROL,), approvers=(HR,), approvals=C_OLD_APPROVALS, announce=None)
    install(team(), design)
    post_entry(fake_slack, leave(CAROL, date(2027, 4, 1), team_name="Design"), channel=C_OLD_APPROVALS,
               ts=posted_on(date(2027, 3, 1)))  # an older message: the deleted one is not the oldest read
    doomed = leave(CAROL, date(2027, 6, 1), team_name="Design")
    ts = post_entry(fake_slack, doomed, channel=C_OLD_APPROVALS)
    run_jobs(datetime(2027, 5, 10, 2, 0, tzinfo=UTC))
    install(team())  # Design removed
    delete_message(fake_slack, C_OLD_APPROVALS, ts)
    run_jobs(datetime(2027, 5, 11, 2, 0, tzinfo=UTC))

    [alert] = [text for text in delivered_dms(fake_slack, HR) if "disappeared" in text]
    assert doomed.id in alert and "<@U_CAROL>" in alert


def test_the_export_names_the_person_and_type_and_places_each_adjustment(fake_slack, export_dir):
    """The nightly export: a row per request and adjustment, each with the person's name from the Slack
    directory and the type's name; an adjustment with its channel and message."""
    install()
    post_entry(fake_slack, leave(ALICE, MONDAY))
    adjustment = Adjustment(id="adj-1", user=DAVE, leave_type="vacation", days=Decimal(3), year=2027,
                            reason="carry-over", by="hr-admin")
    message = fake_slack.workspace.post_message(C_ENG_APPROVALS, "Balance adjusted",
                                                metadata=adjustment_metadata(adjustment))
    run_jobs(datetime(2027, 5, 10, 2, 0, tzinfo=UTC))

    with open(export_dir / "ledger-2027-05-10.csv", encoding="utf-8-sig") as stream:
        rows = list(csv.DictReader(stream))
    by_id = {row["id"]: row for row in rows}
    assert by_id[leave(ALICE, MONDAY).id]["user_name"] == "Alice Adams"
    assert by_id[leave(ALICE, MONDAY).id]["type_name"] == "Vacation"
    assert by_id["adj-1"]["kind"] == "adjustment" and by_id["adj-1"]["user_name"] == "Dave Diaz"
    assert by_id["adj-1"]["channel"] == C_ENG_APPROVALS and by_id["adj-1"]["ts"] == message.ts
    assert by_id["adj-1"]["year"] == "2027" and by_id["adj-1"]["days"] == "3"
