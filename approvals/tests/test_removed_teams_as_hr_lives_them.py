"""HR removes a team while it still has requests waiting, leave ahead and adjustments in the ledger.

Sales (Carol; Dave approves; its requests in #old-approvals, announced in #general) sits first in matching
order, ahead of Engineering, which also lists Carol: once Sales is gone she is Engineering's. Carol has
Mon 10 – Wed 12 March 2031 approved by Dave, Mon 7 – Wed 9 April waiting, and HR gave her 2 more days of
Vacation for 2031 in the console. HR then removes Sales — in the console, in the admin, or by importing a
file without it — and each person lives with it: Carol (`/timeoff list`, `balance`, App Home, a new
request), Dave (who decided for Sales), Hannah (HR, the fallback approver: the waiting request, App Home,
the nightly nudge, the Setup page), the daily jobs (out today, the digest, reminders), the ledger watch and
the nightly export. Then Sales made again under the same name, and a rename instead of a removal.

Everything goes through signed requests as Slack sends them, the console as a browser posts it, the fake
Slack as a real server, and `run_jobs` for the daily jobs.
"""

import csv
import json
from dataclasses import replace
from datetime import date, datetime, time, timedelta, timezone as dt_timezone
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
from django.core.management import call_command
from django.urls import reverse

from approvals import block_ids as ids
from approvals.ledger_format import ADJUSTMENT_EVENT_TYPE
from approvals.config_types import ApproverSource, MemberSource, TeamConfig
from approvals.models import Team, WorkspacePolicy
from fake_slack.personas import C_ENG, C_ENG_APPROVALS, C_GENERAL, C_OLD_APPROVALS, CAROL
from test_support.flows import (
    ALICE,
    BOB,
    DAVE,
    ENGINEERING,
    HR,
    MONDAY,
    WEDNESDAY,
    buttons_in,
    click,
    dms_to,
    ephemerals_to,
    install_config,
    open_app_home,
    open_request_form,
    request_values,
    standard_config,
    submit_request,
)
from test_support.console_pages import edit_team, page_text, team_post
from test_support.job_runs import run_jobs
from test_support.setup_page import setup_page
from test_support.slack_requests import post_command

pytestmark = pytest.mark.django_db

LA = ZoneInfo("America/Los_Angeles")
APRIL_7, APRIL_9 = date(2031, 4, 7), date(2031, 4, 9)  # Monday – Wednesday, clear of US holidays
TUESDAY = date(2031, 3, 11)

SALES = TeamConfig(name="Sales", members=MemberSource(users=(CAROL,)), approvers=ApproverSource(users=(DAVE,)),
                   approvals_channel=C_OLD_APPROVALS, announce_channel=C_GENERAL, timezone="America/Los_Angeles",
                   digest_time=time(9, 0))
# Engineering lists Carol too, after Sales in matching order: she is Sales's while Sales exists.
ENGINEERING_WITH_CAROL = replace(ENGINEERING, members=MemberSource(channel=C_ENG, users=(CAROL,)),
                                 digest_time=time(9, 0))


# --- Steps ---------------------------------------------------------------------------------------------


def request_posts(fake_slack) -> list:
    """Every request the app posted, whichever approvals channel it went to."""
    def event_type(metadata):
        metadata = json.loads(metadata) if isinstance(metadata, str) else metadata
        return metadata.get("event_type") if isinstance(metadata, dict) else None

    return [call for call in fake_slack.calls("chat.postMessage") if call.response.get("ok")
            and event_type(call.params.get("metadata")) == "timeoff_request"]


def ask(client, fake_slack, user, start, end, *, view_id, leave_type="vacation"):
    view = open_request_form(client, fake_slack, user)
    response = submit_request(client, user, view, request_values(leave_type, start, end), view_id=view_id,
                              view_hash=f"h-{view_id}")
    assert response.status_code == 200 and response.content == b"", response.content
    return request_posts(fake_slack)[-1]


def payload_of(fake_slack, posted) -> dict:
    channel, ts = posted.response["channel"], posted.response["ts"]
    [message] = [m for m in fake_slack.workspace.messages(channel) if m.ts == ts]
    return message.metadata["event_payload"]


def answered(client, text: str, user=CAROL) -> dict:
    """`/timeoff <text>` answered from a warm cache (asked twice: the first warms it)."""
    post_command(client, text, user_id=user)
    response = post_command(client, text, user_id=user)
    assert response.status_code == 200, response.content
    return response.json()


def shown(answer: dict) -> str:
    return answer.get("text", "") + json.dumps(answer.get("blocks", []), ensure_ascii=False)


def vacation_line(client, user=CAROL, year=2031) -> str:
    text = answered(client, f"balance {year}", user)["text"]
    [line] = [line for line in text.splitlines() if "Vacation" in line]
    return line


def told(fake_slack, user) -> list[str]:
    return ephemerals_to(fake_slack, user) + dms_to(fake_slack, user)


def posts_to(fake_slack, channel) -> str:
    return "\n".join(call.params.get("text", "") + json.dumps(call.params.get("blocks") or [], ensure_ascii=False)
                     for call in fake_slack.calls("chat.postMessage")
                     if call.params.get("channel") == channel and call.response.get("ok"))


@pytest.fixture
def hr(client, django_user_model, fake_slack):
    """Hannah signed in to the console with every permission."""
    hannah = django_user_model.objects.create_superuser("hannah", "hannah@example.com", "a-long-test-password")
    client.force_login(hannah)
    return client


@pytest.fixture
def sales(client, fake_slack, hr):
    """Carol's leave in Sales: March approved by Dave, April waiting, and 2 days more from HR for 2031.
    Returns (march, april) as posted."""
    fake_slack.workspace.channels[C_OLD_APPROVALS].members.update({DAVE, HR, BOB})
    install_config(standard_config(teams=(SALES, ENGINEERING_WITH_CAROL)))
    march = ask(client, fake_slack, CAROL, MONDAY, WEDNESDAY, view_id="V_C1")
    april = ask(client, fake_slack, CAROL, APRIL_7, APRIL_9, view_id="V_C2")
    assert march.response["channel"] == C_OLD_APPROVALS
    click(client, fake_slack, DAVE, ids.APPROVE_ACTION, march)
    assert payload_of(fake_slack, march)["status"] == "approved"
    response = hr.post(reverse("console:adjust"), {"user": CAROL, "leave_type": "vacation", "days": "2",
                                                   "year": "2031", "reason": "carry-over"})
    assert response.status_code == 302, page_text(response)[-2000:]
    assert "taken 3" in vacation_line(client) and "pending 3" in vacation_line(client)
    fake_slack.clear_calls()
    return march, april


def remove_in_console(hr, name="Sales"):
    response = hr.post(reverse("console:team_delete", args=[Team.objects.get(name=name).pk]), {"merge_into": ""},
                       follow=True)
    assert f"{name} deleted." in page_text(response), page_text(response)[-2000:]


def remove_in_admin(hr, name="Sales"):
    pk = Team.objects.get(name=name).pk
    response = hr.post(f"/admin/approvals/team/{pk}/delete/", {"post": "yes"})
    assert response.status_code == 302, page_text(response)[-2000:]
    assert not Team.objects.filter(name=name).exists()


def remove_by_import(tmp_path, name="Sales") -> str:
    exported = tmp_path / "config.json"
    call_command("export_config", str(exported), stdout=StringIO())
    data = json.loads(exported.read_text())
    data["teams"] = [team for team in data["teams"] if team["name"] != name]
    exported.write_text(json.dumps(data))
    out = StringIO()
    call_command("import_config", str(exported), "--replace", stdout=out)
    return out.getvalue()


REMOVALS = {
    "console": lambda hr, tmp_path: remove_in_console(hr),
    "admin": lambda hr, tmp_path: remove_in_admin(hr),
    "file": lambda hr, tmp_path: remove_by_import(tmp_path),
}


# --- Carol, who was in Sales ---------------------------------------------------------------------------


@pytest.mark.parametrize("how", sorted(REMOVALS))
def test_carols_balance_still_counts_her_sales_leave_and_hrs_adjustment_however_sales_was_removed(
        client, fake_slack, hr, sales, tmp_path, how):
    before = vacation_line(client)

    REMOVALS[how](hr, tmp_path)

    after = vacation_line(client)
    assert after == before, f"removed in the {how}: {before!r} became {after!r}"
    assert C_OLD_APPROVALS in WorkspacePolicy.objects.get().past_approvals_channels


def test_carols_list_still_shows_her_approved_and_waiting_sales_leave(client, fake_slack, hr, sales):
    remove_in_console(hr)

    listing = shown(answered(client, "list"))

    assert "Mon 10" in listing or "10 Mar" in listing, listing
    assert "7 Apr" in listing or "Mon 7" in listing, listing
    assert ids.WITHDRAW_ACTION in listing, "Carol can no longer withdraw her waiting April request: " + listing


def test_carols_app_home_still_shows_her_sales_leave_and_balance(client, fake_slack, hr, sales):
    remove_in_console(hr)

    home = json.dumps(open_app_home(client, fake_slack, CAROL, "Ev_CAROL_HOME")["blocks"], ensure_ascii=False)

    assert "No team" not in home and "no team" not in home, home[:3000]
    assert "Apr" in home and "Mar" in home, home[:3000]
    assert ids.WITHDRAW_ACTION in home, home[:3000]


def test_carols_new_request_goes_to_engineering_her_team_now(client, fake_slack, hr, sales):
    remove_in_console(hr)

    posted = ask(client, fake_slack, CAROL, date(2031, 5, 5), date(2031, 5, 6), view_id="V_C3")

    assert posted.response["channel"] == C_ENG_APPROVALS
    assert payload_of(fake_slack, posted)["team"] == "Engineering"
    click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted)
    assert payload_of(fake_slack, posted)["status"] == "approved"
    # Counted with everything from Sales: 3 taken + 2 now, 3 waiting.
    line = vacation_line(client)
    assert "taken 5" in line and "pending 3" in line, line


def test_carol_left_in_no_team_is_told_so_and_whom_to_ask_but_still_sees_her_leave(client, fake_slack, hr, sales):
    # Engineering stops listing Carol, then Sales goes: she is in no team at all.
    engineering = Team.objects.get(name="Engineering")
    engineering.members_users = []
    engineering.save()
    remove_in_console(hr)

    asked = answered(client, "")
    listing = shown(answered(client, "list"))

    assert "no team" in asked["text"].lower() and f"<@{HR}>" in asked["text"], asked
    assert "7 Apr" in listing or "Mon 7" in listing, listing


# --- Dave, who decided for Sales -----------------------------------------------------------------------


def test_dave_no_longer_sees_carols_waiting_request_on_his_app_home(client, fake_slack, hr, sales):
    remove_in_console(hr)

    daves = open_app_home(client, fake_slack, DAVE, "Ev_DAVE_AFTER")
    hannahs = open_app_home(client, fake_slack, HR, "Ev_HR_AFTER")

    assert ids.APPROVE_ACTION in buttons_in(hannahs["blocks"])  # it is waiting, for HR
    assert ids.APPROVE_ACTION not in buttons_in(daves["blocks"]), json.dumps(daves["blocks"])[:3000]


def test_dave_pressing_reject_is_told_to_ask_hr_before_any_reason_is_asked(client, fake_slack, hr, sales):
    """Someone who may not decide a configured team's request is told so when they press Reject, before a
    reason is asked for. Dave, pressing Reject on the removed team's request, is instead asked to write a
    reason to Carol, and only after sending it told that Sales is no longer configured: the app knows
    #old-approvals is a removed team's channel (`past_approvals_channels`) when he presses the button."""
    _, april = sales
    remove_in_console(hr)

    click(client, fake_slack, DAVE, ids.REJECT_ACTION, april)

    assert fake_slack.calls("views.open") == [], "Dave was asked for a reason for a request he may not decide"
    assert payload_of(fake_slack, april)["status"] == "pending"
    assert any("no longer configured" in text and "HR" in text for text in told(fake_slack, DAVE)), told(
        fake_slack, DAVE)


def test_an_engineering_approver_is_not_carols_approver_for_her_sales_request(client, fake_slack, hr, sales):
    """Carol is Engineering's now, but her waiting request is Sales's: HR's, not Bob's."""
    _, april = sales
    remove_in_console(hr)

    click(client, fake_slack, BOB, ids.APPROVE_ACTION, april)

    assert payload_of(fake_slack, april)["status"] == "pending"
    assert ids.APPROVE_ACTION not in buttons_in(open_app_home(client, fake_slack, BOB, "Ev_BOB")["blocks"])


# --- Hannah (HR) --------------------------------------------------------------------------------------


def test_hr_approves_the_removed_teams_request_from_app_home_and_carol_is_told(client, fake_slack, hr, sales):
    from test_support.slack_requests import post_interaction, view_block_actions_payload

    _, april = sales
    remove_in_admin(hr)
    home = open_app_home(client, fake_slack, HR, "Ev_HR_HOME")
    block_id, value = buttons_in(home["blocks"])[ids.APPROVE_ACTION]

    post_interaction(client, view_block_actions_payload(user_id=HR, action_id=ids.APPROVE_ACTION, value=value,
                                                        block_id=block_id, view=home))

    final = payload_of(fake_slack, april)
    assert (final["status"], final["decided_by"]) == ("approved", HR), told(fake_slack, HR)
    assert any("approved" in text.lower() for text in dms_to(fake_slack, CAROL)), dms_to(fake_slack, CAROL)
    line = vacation_line(client)
    assert "taken 6" in line and "pending 0" in line, line


def test_hr_is_reminded_overnight_of_a_removed_teams_request_left_waiting_and_dave_is_not(
        client, fake_slack, hr, sales, settings, tmp_path):
    settings.LEDGER_EXPORT_DIR = str(tmp_path / "exports")
    remove_in_console(hr)

    run_jobs(datetime(2031, 3, 4, 2, 0, tzinfo=dt_timezone.utc))
    run_jobs(datetime(2031, 3, 4, 2, 30, tzinfo=dt_timezone.utc))  # the clock ticks again: nothing more

    reminders = [text for text in dms_to(fake_slack, HR) if "Sales" in text and f"<@{CAROL}>" in text]
    assert len(reminders) == 1, dms_to(fake_slack, HR)
    assert not [text for text in dms_to(fake_slack, DAVE) if f"<@{CAROL}>" in text]


def test_the_setup_page_lists_the_removed_teams_channel_as_still_read(client, fake_slack, hr, sales):
    remove_in_console(hr)

    setup = page_text(hr.get(reverse("console:setup")))

    assert "teams removed since" in setup and "old-approvals" in setup, setup[-3000:]
    assert "Nobody can decide" not in setup  # Hannah decides them


def test_the_setup_page_says_nobody_decides_the_removed_teams_request_once_the_fallback_approvers_are_gone(
        client, fake_slack, hr, sales, tmp_path):
    remove_in_console(hr)
    policy = WorkspacePolicy.objects.get()
    policy.fallback_approvers = []
    policy.save()

    setup = page_text(hr.get(reverse("console:setup")))

    assert "Nobody can decide 1 request of Sales" in setup, setup[-3000:]


def test_the_setup_page_says_nobody_decides_the_removed_teams_request_when_the_only_fallback_approver_left(
        client, fake_slack, hr, sales):
    remove_in_console(hr)
    fake_slack.workspace.users[HR].deleted = True  # Hannah's account deactivated; nothing else changed

    setup_page(hr, check_again=True)  # the check has Slack describe who is named to decide
    setup = page_text(hr.get(reverse("console:setup")))

    assert "Nobody can decide 1 request of Sales" in setup, setup[-3000:]


def test_the_setup_page_says_nobody_decides_the_removed_teams_request_when_its_requester_is_the_only_hr(
        client, fake_slack, hr, sales):
    remove_in_console(hr)
    policy = WorkspacePolicy.objects.get()
    policy.fallback_approvers = [CAROL]  # nobody decides their own request
    policy.save()

    setup = page_text(hr.get(reverse("console:setup")))

    assert "Nobody can decide 1 request of Sales" in setup, setup[-3000:]


def test_importing_a_file_without_sales_says_its_channel_stays_read(client, fake_slack, hr, sales, tmp_path):
    summary = remove_by_import(tmp_path)

    assert "- team Sales" in summary, summary
    assert f"+ past approvals channel {C_OLD_APPROVALS} (kept from the removed team Sales)" in summary, summary
    exported = tmp_path / "after.json"
    call_command("export_config", str(exported), stdout=StringIO())
    assert json.loads(exported.read_text())["past_approvals_channels"] == [C_OLD_APPROVALS]


# --- The daily jobs, the ledger watch and the export -------------------------------------------------


def test_carols_sales_leave_is_in_engineerings_out_today_post(client, fake_slack, hr, sales):
    remove_in_console(hr)

    run_jobs(datetime.combine(TUESDAY, time(9, 0), tzinfo=LA), "--team", "Engineering")

    assert f"<@{CAROL}>" in posts_to(fake_slack, C_ENG), posts_to(fake_slack, C_ENG)
    assert f"<@{CAROL}>" not in posts_to(fake_slack, C_GENERAL)


def test_carol_is_reminded_of_her_sales_leave_the_working_day_before(client, fake_slack, hr, sales):
    remove_in_console(hr)

    out = run_jobs(datetime(2031, 3, 7, 15, 0, tzinfo=LA), "--team", "Engineering")

    assert "1 reminder(s)" in out, out
    assert len([text for text in dms_to(fake_slack, CAROL) if "reminder" in text.lower()]) == 1


def test_carols_sales_leave_does_not_count_towards_engineerings_max_out(client, fake_slack, hr, sales):
    engineering = Team.objects.get(name="Engineering")
    engineering.max_out = 1
    engineering.save()
    remove_in_console(hr)

    posted = ask(client, fake_slack, ALICE, WEDNESDAY, WEDNESDAY, view_id="V_A1")
    click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted)

    assert payload_of(fake_slack, posted)["status"] == "approved", told(fake_slack, BOB)


def test_the_nightly_export_keeps_the_removed_teams_requests_and_adjustment(client, fake_slack, hr, sales,
                                                                            settings, tmp_path):
    settings.LEDGER_EXPORT_DIR = str(tmp_path / "exports")
    remove_in_console(hr)

    run_jobs(datetime(2031, 3, 4, 2, 0, tzinfo=dt_timezone.utc))

    with open(tmp_path / "exports" / "ledger-2031-03-04.csv", encoding="utf-8-sig") as stream:
        rows = [row for row in csv.DictReader(stream) if row["user"] == CAROL or row.get("user_id") == CAROL]
    assert len(rows) == 3, rows
    assert {row.get("team") for row in rows if row.get("start")} >= {"Sales"}, rows


def test_hrs_adjustment_deleted_from_the_removed_teams_channel_is_told_to_hr(client, fake_slack, hr, sales, settings,
                                                                           tmp_path):
    """The oldest message read in a channel is taken as aged out, so the later one goes: HR's carry-over."""
    settings.LEDGER_EXPORT_DIR = str(tmp_path / "exports")
    remove_in_console(hr)
    run_jobs(datetime(2031, 3, 3, 2, 0, tzinfo=dt_timezone.utc))
    workspace = fake_slack.workspace
    with workspace.lock:
        [adjustment] = [m for m in workspace.messages(C_OLD_APPROVALS)
                        if m.metadata and m.metadata.get("event_type") == ADJUSTMENT_EVENT_TYPE]
        workspace.delete_message(adjustment)

    run_jobs(datetime(2031, 3, 4, 2, 0, tzinfo=dt_timezone.utc))

    alerts = [text for text in dms_to(fake_slack, HR) if "disappeared" in text]
    assert len(alerts) == 1 and adjustment.metadata["event_payload"]["id"] in alerts[0], dms_to(fake_slack, HR)


# --- Sales again, and a rename instead ----------------------------------------------------------------


def sales_again_in_console(hr, approvals_channel: str):
    """HR adds a team called Sales in the console, Bob approving, its requests going to `approvals_channel`."""
    response = hr.post(reverse("console:team_add"), team_post(
        name="Sales", members_users="carol@example.com", members_channel=None, members_usergroup=None,
        approvers_users="bob@example.com", approvers_channel=None, approvals_channel=approvals_channel,
        announce_channel="#general", max_out=None, nudge_after_hours=None))
    assert response.status_code == 302, page_text(response)[-3000:]
    assert Team.objects.filter(name="Sales").exists()


def test_sales_made_again_under_its_name_takes_back_its_waiting_request_and_channel(client, fake_slack, hr,
                                                                                    sales):
    _, april = sales
    remove_in_console(hr)
    sales_again_in_console(hr, "#old-approvals")

    click(client, fake_slack, BOB, ids.APPROVE_ACTION, april)

    assert payload_of(fake_slack, april)["status"] == "approved", told(fake_slack, BOB)
    setup = page_text(hr.get(reverse("console:setup")))
    assert "teams removed since" not in setup, setup[-3000:]


def test_renaming_sales_instead_leaves_dave_deciding_and_nothing_for_hr(client, fake_slack, hr, sales, settings,
                                                                       tmp_path):
    _, april = sales
    settings.LEDGER_EXPORT_DIR = str(tmp_path / "exports")
    balance = vacation_line(client)
    edit_team(hr, "Sales", name="Revenue")

    hr_home = open_app_home(client, fake_slack, HR, "Ev_HR_RENAMED")
    run_jobs(datetime(2031, 3, 4, 2, 0, tzinfo=dt_timezone.utc))  # no "removed team" reminder for HR
    click(client, fake_slack, DAVE, ids.APPROVE_ACTION, april)

    assert ids.APPROVE_ACTION not in buttons_in(hr_home["blocks"]), "HR is offered a request Dave still decides"
    assert not [text for text in dms_to(fake_slack, HR) if f"<@{CAROL}>" in text], dms_to(fake_slack, HR)
    assert payload_of(fake_slack, april)["status"] == "approved", told(fake_slack, DAVE)
    assert WorkspacePolicy.objects.get().past_approvals_channels in ([], None)
    assert "taken 3" in balance and "taken 6" in vacation_line(client)


def test_sales_made_again_on_a_new_channel_decides_the_old_waiting_request_and_the_old_channel_stays_read(
        client, fake_slack, hr, sales):
    _, april = sales
    remove_in_console(hr)
    balance = vacation_line(client)
    sales_again_in_console(hr, "#general")

    assert vacation_line(client) == balance  # #old-approvals is still read
    click(client, fake_slack, BOB, ids.APPROVE_ACTION, april)

    assert payload_of(fake_slack, april)["status"] == "approved", told(fake_slack, BOB)
    assert "old-approvals" in page_text(hr.get(reverse("console:setup")))


# --- Leave approved by HR the afternoon before it --------------------------------------------------


def zone_at_noon() -> str:
    """A fixed-offset zone whose clock reads between 12:00 and 13:00 now."""
    offset = min(max(12 - datetime.now(dt_timezone.utc).hour, -11), 12)
    return "Etc/UTC" if offset == 0 else f"Etc/GMT{-offset:+d}"  # POSIX signs: Etc/GMT-5 is UTC+5


def test_leave_hr_approves_for_a_removed_team_after_the_reminder_run_is_reminded_at_once(client, fake_slack, hr,
                                                                                         settings):
    """README: leave approved after the day-before reminder run "is reminded at once, just after the decision
    DM", and approved leave recorded under a team HR has since deleted counts for the reminders in the team
    its person is in now (Engineering, for Carol). Today's run has passed; HR approves Carol's leave for
    tomorrow, which Sales (removed) had left waiting."""
    zone = zone_at_noon()
    with fake_slack.workspace.lock:
        fake_slack.workspace.users[CAROL].tz = zone
    every_day = dict(timezone=zone, workweek=(0, 1, 2, 3, 4, 5, 6), holiday_country=None, holiday_subdivision=None)
    fake_slack.workspace.channels[C_OLD_APPROVALS].members.update({DAVE, HR})
    install_config(standard_config(teams=(replace(SALES, **every_day), replace(ENGINEERING_WITH_CAROL, **every_day))))
    settings.REMINDER_TIME = "11:00"  # today's run has passed
    tomorrow = datetime.now(ZoneInfo(zone)).date() + timedelta(days=1)
    posted = ask(client, fake_slack, CAROL, tomorrow, tomorrow, view_id="V_TOMORROW")
    remove_in_console(hr)
    fake_slack.clear_calls()

    click(client, fake_slack, HR, ids.APPROVE_ACTION, posted)

    assert payload_of(fake_slack, posted)["status"] == "approved", told(fake_slack, HR)
    assert any("approved your" in text for text in dms_to(fake_slack, CAROL)), dms_to(fake_slack, CAROL)
    reminders = [text for text in dms_to(fake_slack, CAROL) if text.startswith(":wave: A reminder")]
    assert len(reminders) == 1, ("Carol's leave tomorrow, approved after today's reminder run, is never "
                                 f"reminded: {dms_to(fake_slack, CAROL)}")
