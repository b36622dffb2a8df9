"""HR changes the configuration while requests and leave are in Slack: what approvers, requesters and HR
see next, end to end (signed Slack payloads, the console, `import_config`, the nightly jobs).

A blackout or a lower allowance added while a request waits; a team deleted whose approvals channel no
other team reads; the fallback approvers emptied while a removed team's request waits; a requester taken
out of the `requesters` policy; an approver taken off a team; an approvals channel moved; a work week
changed under leave already counted.
"""

import csv
import json
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone as dt_timezone
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.urls import reverse

from approvals import block_ids as ids
from approvals.config_types import ApproverSource, BlackoutConfig, MemberSource, TeamConfig
from approvals.models import Team
from approvals.rules import APPROVED, PENDING, LedgerEntry
from fake_slack.ledger_seed import seed_ledger
from fake_slack.personas import C_ENG_APPROVALS, C_GENERAL, C_OLD_APPROVALS, CAROL
from test_support.console_pages import page_text
from test_support.flows import (
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
    buttons_in,
    click,
    dms_to,
    ephemerals_to,
    install_config,
    open_app_home,
    open_request_form,
    posted_requests,
    press,
    request_status,
    request_time_off,
    request_values,
    standard_config,
    submit_request,
)
from test_support.job_runs import run_jobs
from test_support.slack_requests import post_command

pytestmark = pytest.mark.django_db

APRIL_7, APRIL_9 = date(2031, 4, 7), date(2031, 4, 9)  # a Monday and a Wednesday, clear of US holidays

# Alice's first team: its own approvals channel, which no other team reads.
SALES = TeamConfig(name="Sales", members=MemberSource(users=(ALICE,)), approvers=ApproverSource(users=(DAVE,)),
                   approvals_channel=C_OLD_APPROVALS, timezone="America/Los_Angeles")
# A team that shares Engineering's approvals channel (a small company's #timeoff-approvals).
PLATFORM = TeamConfig(name="Platform", members=MemberSource(users=(CAROL,)), approvers=ApproverSource(users=(BOB,)),
                      approvals_channel=C_ENG_APPROVALS, timezone="America/Los_Angeles")


# --- Helpers ----------------------------------------------------------------------------------------


def told(fake_slack, user) -> list[str]:
    """Everything said to `user`: ephemerals where they clicked and DMs."""
    return ephemerals_to(fake_slack, user) + dms_to(fake_slack, user)


def answered(client, text: str, user=ALICE) -> dict:
    """`/timeoff <text>`, warm: asked twice, the first warming the cache (immediate tasks)."""
    post_command(client, text, user_id=user)
    response = post_command(client, text, user_id=user)
    assert response.status_code == 200, response.content
    return response.json()


def vacation_line(client, year: int) -> str:
    [line] = [line for line in answered(client, f"balance {year}")["text"].splitlines() if "Vacation" in line]
    return line


def nightly_read(settings, tmp_path, day: int = 11) -> None:
    """The nightly jobs (02:00 UTC): the ledger watch reads every configured approvals channel in full
    and replaces the cached ledger with what it read; the export writes HR's CSV copy."""
    settings.LEDGER_EXPORT_DIR = str(tmp_path / "exports")
    run_jobs(datetime(2031, 3, day, 2, 0, tzinfo=dt_timezone.utc))


def sales_entry(entry_id: str, start: date, end: date, status: str) -> LedgerEntry:
    return LedgerEntry(id=entry_id, user=ALICE, team="Sales", leave_type="vacation", start=start, end=end,
                       start_half=None, end_half=None, days=Decimal(3), status=status,
                       decided_by=DAVE if status == APPROVED else None,
                       decided_at=1790000000 if status == APPROVED else None)


def alice_in_sales_with_approved_and_pending_leave(client, fake_slack) -> None:
    """Alice (Sales) has Mon–Wed 10–12 March approved by Dave and Mon–Wed 7–9 April waiting, both sent
    weeks ago: messages in Sales's own approvals channel, which no other team reads."""
    fake_slack.workspace.channels[C_OLD_APPROVALS].members.update({DAVE, HR})
    seed_ledger(fake_slack.workspace, channel=C_OLD_APPROVALS, noise_every=0, entries=[
        sales_entry("sales-approved", MONDAY, WEDNESDAY, APPROVED),
        sales_entry("sales-pending", APRIL_7, APRIL_9, PENDING)])
    install_config(standard_config(teams=(SALES, ENGINEERING)))
    assert answered(client, "list")["text"] == "Your time off: 1 pending, 1 coming up."
    assert "taken 3, pending 3" in vacation_line(client, 2031)


def signed_in_hr(client, django_user_model):
    hannah = django_user_model.objects.create_superuser("hannah", "hannah@example.com", "a-long-test-password")
    client.force_login(hannah)
    return client


def waiting_for_a_decision(console) -> str:
    """The console's "Waiting for a decision" list (Who's out, all teams), as text."""
    text = page_text(console.get(reverse("console:whos_out")))
    return text.split("Waiting for a decision", 1)[-1][:1500]


# --- An approver clicks Approve after HR tightened the rules ---------------------------------------


def test_approving_a_request_inside_a_blackout_added_since_tells_the_approver(client, fake_slack):
    # Alice asked for Mon–Wed; then HR declared those days a freeze. Bob's Approve button is on the message
    # as it was posted, which says nothing of a freeze: approving without a word puts leave inside it.
    install_config()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    install_config(standard_config(blackouts=(
        BlackoutConfig(start=MONDAY, end=WEDNESDAY, team="Engineering", reason="Release freeze"),)))
    fake_slack.clear_calls()

    click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted)

    said = told(fake_slack, BOB)
    assert any("Release freeze" in text or "blackout" in text.lower() for text in said), (
        f"approved as {request_status(fake_slack)['status']!r} inside a blackout added since, and Bob was "
        f"told only {said}")


def test_approving_a_request_over_an_allowance_lowered_since_tells_the_approver(client, fake_slack):
    # The message Bob sees still says "22 days left after it". HR has since cut Vacation to 1 day a year:
    # approving the 3 days puts Alice 2 days over, and nobody is told.
    install_config()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    install_config(standard_config(leave_types=(replace(VACATION, annual_allowance_days=Decimal(1)), SICK, MEDICAL)))
    fake_slack.clear_calls()

    click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted)

    said = told(fake_slack, BOB)
    assert any("allowance" in text or " over" in text for text in said), (
        f"approved as {request_status(fake_slack)['status']!r} past the allowance, and Bob was told only {said}")


def approve_after(client, fake_slack, config, **request) -> list[str]:
    """Alice asks for leave, HR installs `config`, Bob presses Approve: what Bob is told."""
    install_config()
    request_time_off(client, fake_slack, ALICE, **request)
    [posted] = posted_requests(fake_slack)
    install_config(config)
    fake_slack.clear_calls()
    click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted)
    return told(fake_slack, BOB)


def test_approving_a_request_longer_than_the_longest_request_set_since_tells_the_approver(client, fake_slack):
    said = approve_after(client, fake_slack, standard_config(
        leave_types=(replace(VACATION, max_consecutive_days=2), SICK, MEDICAL)))
    assert any("can now be at most 2 working days in a row; this request is 3" in text for text in said), said
    assert request_status(fake_slack)["status"] == PENDING


def test_approving_a_half_day_after_half_days_were_turned_off_tells_the_approver(client, fake_slack):
    said = approve_after(client, fake_slack, standard_config(
        leave_types=(replace(VACATION, allow_half_days=False), SICK, MEDICAL)),
        halves=(ids.HALF_END_AM,))
    assert any("Vacation can't be taken in half days" in text for text in said), said
    assert request_status(fake_slack)["status"] == PENDING


def test_approving_a_request_whose_leave_type_was_deleted_tells_the_approver(client, fake_slack):
    said = approve_after(client, fake_slack, standard_config(leave_types=(SICK, MEDICAL)))
    assert any("its leave type (vacation) no longer exists" in text for text in said), said
    assert request_status(fake_slack)["status"] == PENDING


def test_approving_a_request_under_the_rules_it_was_sent_with_still_approves(client, fake_slack):
    said = approve_after(client, fake_slack, standard_config())
    assert not any("HR changed" in text for text in said), said
    assert request_status(fake_slack)["status"] == APPROVED


def test_a_request_back_to_back_with_approved_leave_is_held_to_the_longest_request(client, fake_slack):
    # Vacation is at most 20 working days in a row. Alice has Mon 10 – Fri 28 March (15 days) approved;
    # Mon 31 March is a holiday in California; Tue 1 – Tue 8 April (6 more) would make 21 in a row.
    install_config()
    request_time_off(client, fake_slack, ALICE, start=MONDAY, end=date(2031, 3, 28))
    [posted] = posted_requests(fake_slack)
    click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted)
    assert request_status(fake_slack)["status"] == APPROVED

    view = open_request_form(client, fake_slack, ALICE)
    response = submit_request(client, ALICE, view, request_values("vacation", date(2031, 4, 1), date(2031, 4, 8)),
                              view_id="V_REQ2")
    assert response.status_code == 200
    errors = response.json()["errors"]
    assert errors[ids.END_BLOCK] == ("Vacation can be at most 20 working days in a row; next to your other "
                                     "Vacation this makes 21, Mon 10 Mar 2031 – Tue 8 Apr 2031"), errors
    # One day fewer is fine.
    response = submit_request(client, ALICE, view, request_values("vacation", date(2031, 4, 1), APRIL_7),
                              view_id="V_REQ2")
    assert len(posted_requests(fake_slack)) == 2
    assert response.status_code == 200 and not response.content, response.content


# --- A team removed whose approvals channel no other team reads -------------------------------------


def test_a_deleted_teams_leave_still_counts_for_its_people_after_the_nightly_read(
        client, fake_slack, django_user_model, settings, tmp_path):
    # HR deletes Sales in the console (its people now match Engineering). The confirmation says
    # "Requests already made stay in Slack, in its approvals channel": they do, but once the nightly read
    # replaces the cache, nothing reads that channel any more. Alice's approved leave is given back to her
    # balance and both of her requests vanish from her list and from HR's nightly CSV copy.
    alice_in_sales_with_approved_and_pending_leave(client, fake_slack)
    hr = signed_in_hr(client, django_user_model)
    response = hr.post(reverse("console:team_delete", args=[Team.objects.get(name="Sales").pk]))
    assert response.status_code == 302
    assert not Team.objects.filter(name="Sales").exists()

    nightly_read(settings, tmp_path)

    listing = answered(client, "list")["text"]
    balance = vacation_line(client, 2031)
    [export] = list((tmp_path / "exports").glob("ledger-*.csv"))
    exported_rows = [row for row in csv.reader(export.read_text(encoding="utf-8-sig").splitlines())][1:]
    assert listing == "Your time off: 1 pending, 1 coming up.", listing
    assert "taken 3, pending 3" in balance, balance
    assert len(exported_rows) == 2, "HR's nightly copy lost the deleted team's requests"


def test_a_deleted_teams_approved_leave_is_reminded_and_posted_in_the_team_its_person_is_in_now(
        client, fake_slack, django_user_model, settings, tmp_path):
    # After Sales is deleted, Alice matches Engineering: her approved Mon 10 – Wed 12 March, recorded under
    # Sales, is still hers to be reminded of, and Engineering's morning post says she is out.
    from zoneinfo import ZoneInfo

    alice_in_sales_with_approved_and_pending_leave(client, fake_slack)
    install_config(standard_config(teams=(SALES, replace(ENGINEERING, digest_time=datetime(2031, 1, 1, 9).time()))))
    hr = signed_in_hr(client, django_user_model)
    assert hr.post(reverse("console:team_delete", args=[Team.objects.get(name="Sales").pk])).status_code == 302
    nightly_read(settings, tmp_path, day=7)
    fake_slack.clear_calls()
    los_angeles = ZoneInfo("America/Los_Angeles")

    run_jobs(datetime(2031, 3, 7, 15, 0, tzinfo=los_angeles), "--team", "Engineering")  # Friday afternoon
    reminders = [dm for dm in dms_to(fake_slack, ALICE) if "A reminder" in dm]
    assert len(reminders) == 1 and "Mon 10 Mar" in reminders[0], reminders

    run_jobs(datetime(2031, 3, 10, 9, 0, tzinfo=los_angeles), "--team", "Engineering")  # Monday morning
    posts = [call.params["text"] for call in fake_slack.calls("chat.postMessage")
             if call.params.get("channel") == ENGINEERING.announce_channel and call.response.get("ok")]
    assert any(f"<@{ALICE}>" in text for text in posts), posts


def test_a_deleted_teams_leave_is_reminded_once_slack_answers_again_after_a_passing_fault(
        client, fake_slack, django_user_model, settings, tmp_path):
    # Placing Alice in her team now asks Slack for a channel's members: a rate limit then is not "no team"
    # (she would get no reminder at all); the job tries again, and she is reminded once.
    from zoneinfo import ZoneInfo

    from django.core.management.base import CommandError

    from approvals import directory
    from approvals.models import JobRun

    alice_in_sales_with_approved_and_pending_leave(client, fake_slack)
    hr = signed_in_hr(client, django_user_model)
    assert hr.post(reverse("console:team_delete", args=[Team.objects.get(name="Sales").pk])).status_code == 302
    nightly_read(settings, tmp_path, day=7)
    directory.forget_memberships(ENGINEERING.members.channel)
    fake_slack.clear_calls()
    fake_slack.fail("conversations.members", "ratelimited", times=1)
    friday = datetime(2031, 3, 7, 15, 0, tzinfo=ZoneInfo("America/Los_Angeles"))

    with pytest.raises(CommandError):
        run_jobs(friday, "--team", "Engineering")
    assert not [dm for dm in dms_to(fake_slack, ALICE) if "A reminder" in dm]
    run = JobRun.objects.get(job="reminders", team="Engineering", period="2031-03-07")
    assert run.finished_at is None and run.error == "ratelimited"
    JobRun.objects.filter(id=run.id).update(retry_at=run.retry_at - timedelta(minutes=2))  # its retry is due
    run_jobs(friday + timedelta(minutes=1), "--team", "Engineering")
    assert len([dm for dm in dms_to(fake_slack, ALICE) if "A reminder" in dm]) == 1


def test_a_removed_teams_pending_request_stays_hrs_to_decide_after_import_and_the_nightly_read(
        client, fake_slack, django_user_model, settings, tmp_path):
    # README: HR decides "the requests still pending of a team removed from the configuration: they are
    # listed on HR's App Home". import_config --replace drops Sales (the summary says only "- team Sales",
    # where a dropped *past* approvals channel is named and asked about). After the nightly read HR's App
    # Home and the console's "Waiting for a decision" no longer show Alice's waiting request.
    alice_in_sales_with_approved_and_pending_leave(client, fake_slack)
    exported = tmp_path / "config.json"
    call_command("export_config", str(exported), stdout=StringIO())
    data = json.loads(exported.read_text())
    data["teams"] = [team for team in data["teams"] if team["name"] != "Sales"]
    exported.write_text(json.dumps(data))
    call_command("import_config", str(exported), "--replace", stdout=StringIO())
    console = signed_in_hr(client, django_user_model)
    assert "Sales" in waiting_for_a_decision(console)  # until the cache is read anew

    nightly_read(settings, tmp_path)

    waiting = waiting_for_a_decision(console)
    home = open_app_home(client, fake_slack, HR, "Ev_HR_AFTER_IMPORT")
    assert ids.APPROVE_ACTION in buttons_in(home["blocks"]), "HR's App Home lost the removed team's request"
    assert "Sales" in waiting, f"the console's list of waiting requests lost it: {waiting}"


# --- Nobody left to decide ---------------------------------------------------------------------------


def test_the_setup_page_names_a_removed_teams_requests_that_nobody_can_decide(client, fake_slack, django_user_model):
    # Engineering shared #eng-approvals with Platform. HR removes Engineering and, tidying up, empties the
    # fallback approvers. Alice's request now belongs to no team and to no HR person: every click, HR's
    # included, is told "ask HR". The Setup page, which names teams nobody can approve for, should say so.
    install_config(standard_config(teams=(ENGINEERING, PLATFORM)))
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    install_config(standard_config(teams=(PLATFORM,), fallback_approvers=()))
    click(client, fake_slack, HR, ids.APPROVE_ACTION, posted)
    click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted)
    assert request_status(fake_slack)["status"] == "pending"
    assert any("ask HR" in text for text in told(fake_slack, HR))  # HR is told to ask HR

    setup = page_text(signed_in_hr(client, django_user_model).get(reverse("console:setup")))

    assert "Engineering" in setup, ("the Setup page does not say that Engineering's waiting request has nobody "
                                    "to decide it: " + setup[-2500:])


# --- What keeps working (pinned) -------------------------------------------------------------------


def test_a_requester_taken_out_of_the_requesters_policy_can_still_cancel_and_withdraw_their_leave(
        client, fake_slack):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    [approved] = posted_requests(fake_slack)
    click(client, fake_slack, BOB, ids.APPROVE_ACTION, approved)
    view = open_request_form(client, fake_slack, ALICE)
    submit_request(client, ALICE, view, request_values("vacation", APRIL_7, APRIL_9), view_id="V_APRIL",
                   view_hash="h_april")
    install_config(standard_config(requesters_users=(DAVE,)))  # only Dave may request now
    assert "not among the people who may request" in answered(client, "")["text"]

    blocks = answered(client, "cancel")["blocks"]
    press(client, ALICE, blocks, ids.WITHDRAW_ACTION, channel=C_GENERAL, on_list=True)
    press(client, ALICE, blocks, ids.CANCEL_ACTION, channel=C_GENERAL, on_list=True)

    statuses = sorted(m.metadata["event_payload"]["status"] for m in fake_slack.workspace.messages(C_ENG_APPROVALS)
                      if m.metadata and m.metadata.get("event_type") == "timeoff_request")
    assert statuses == ["cancelled", "cancelled"]
    assert "taken 0, pending 0" in vacation_line(client, 2031)


def test_an_approver_taken_off_the_team_is_refused_politely_and_no_longer_nudged(client, fake_slack):
    team = replace(ENGINEERING, approvers=ApproverSource(users=(BOB, DAVE)), nudge_after_hours=24)
    install_config(standard_config(teams=(team,)))
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    install_config(standard_config(teams=(replace(team, approvers=ApproverSource(users=(DAVE,))),)))
    fake_slack.clear_calls()

    click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted)
    assert request_status(fake_slack)["status"] == "pending"
    assert told(fake_slack, BOB) == ["You are not an approver for Engineering, so you can't decide this request."]
    assert ids.APPROVE_ACTION not in buttons_in(open_app_home(client, fake_slack, BOB, "Ev_BOB_HOME")["blocks"])

    fake_slack.clear_calls()
    moment = datetime.now(dt_timezone.utc).replace(hour=20, minute=0, second=0, microsecond=0) + timedelta(days=2)
    while moment.weekday() >= 5:
        moment += timedelta(days=1)
    run_jobs(moment, "--team", "Engineering")
    assert [t for t in dms_to(fake_slack, DAVE) if f"<@{ALICE}>" in t]
    assert dms_to(fake_slack, BOB) == []


def test_a_request_on_the_old_approvals_channel_is_decided_and_counted_after_the_channel_moved(
        client, fake_slack, settings, tmp_path):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    install_config(standard_config(teams=(replace(ENGINEERING, approvals_channel=C_GENERAL),)))
    nightly_read(settings, tmp_path)  # the old channel is read as a past one, not dropped

    click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted)

    assert request_status(fake_slack)["status"] == "approved"
    assert answered(client, "list")["text"] == "Your time off: 0 pending, 1 coming up."
    assert "taken 3, pending 0" in vacation_line(client, 2031)


def test_leave_counted_before_a_work_week_change_keeps_its_recorded_days_on_every_surface(client, fake_slack):
    # Mon–Wed was 3 working days when sent; the team now works Mondays and Tuesdays only. The list, the
    # approval and the balance all keep the 3 days recorded in the ledger, rather than each recounting.
    install_config()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    install_config(standard_config(teams=(replace(ENGINEERING, workweek=(0, 1)),)))

    assert "(3 working days)" in json.dumps(answered(client, "list")["blocks"])
    assert "pending 3" in vacation_line(client, 2031)
    click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted)
    assert "(3 working days)" in dms_to(fake_slack, ALICE)[-1]
    assert "taken 3, pending 0" in vacation_line(client, 2031)
