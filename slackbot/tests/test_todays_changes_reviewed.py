"""Today's changes as people meet them: the reminder sent at once for leave approved after its reminder run,
an edit form that knows the team of the request it edits, guests kept from deciding leave, the settings read
as written, dates typed as ranges, and what App Home and the Setup page say. Each test goes in through
signed, Slack-shaped requests (or the console, as HR uses it) and reads what crossed the wire.
"""

import json
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from approvals import block_ids as ids
from approvals.config_types import ApproverSource, MemberSource, TeamConfig
from fake_slack.personas import C_ENG_APPROVALS, C_GENERAL, CAROL
from test_support.flows import (
    ALICE,
    BOB,
    ENGINEERING,
    HR,
    MONDAY,
    click,
    open_request_form,
    dms_to,
    install_config,
    posted_requests,
    press,
    request_time_off,
    request_values,
    standard_config,
)
from test_support.job_runs import run_jobs
from test_support.posted import receipt_call, receipt_now
from test_support.slack_requests import post_command, post_interaction, view_submission_payload

pytestmark = pytest.mark.django_db

REMINDER = ":wave: A reminder: your"


# --- What the tests read and do ------------------------------------------------------------------------


def as_dict(view) -> dict:
    return json.loads(view) if isinstance(view, str) else view


def opened_form(fake_slack) -> dict:
    return as_dict(fake_slack.last_call("views.open").params["view"])


def preview_of(form: dict) -> str:
    [preview] = [b["elements"][0]["text"] for b in form["blocks"] if b.get("block_id") == ids.PREVIEW_BLOCK]
    return preview


def press_on_receipt(client, fake_slack, user, action_id):
    _, blocks = receipt_now(fake_slack, user)
    return press(client, user, blocks, action_id, channel=receipt_call(fake_slack, user).response["channel"],
                 ts=receipt_call(fake_slack, user).response["ts"])


def zone_at_noon() -> str:
    """A fixed-offset zone whose clock reads between 12:00 and 13:00 now."""
    offset = min(max(12 - datetime.now(timezone.utc).hour, -11), 12)
    return "Etc/UTC" if offset == 0 else f"Etc/GMT{-offset:+d}"  # POSIX signs: Etc/GMT-5 is UTC+5


def team_today(zone: str) -> date:
    return datetime.now(ZoneInfo(zone)).date()


def install_at_noon(fake_slack, **team_changes) -> str:
    """Engineering on a clock reading about noon, working every day, with no public holidays; Alice lives in
    its zone (her "tomorrow" is the team's)."""
    zone = zone_at_noon()
    with fake_slack.workspace.lock:
        fake_slack.workspace.users[ALICE].tz = zone
    team = replace(ENGINEERING, timezone=zone, workweek=(0, 1, 2, 3, 4, 5, 6), holiday_country=None,
                   holiday_subdivision=None, **team_changes)
    install_config(standard_config(teams=(team,)))
    return zone


def rename_engineering(name: str) -> None:
    """HR renames the team in the console."""
    from approvals.console_services import team_update
    from approvals.models import Team

    team_update(team_id=Team.objects.get(name="Engineering").pk, name=name)


_forms = iter(range(1, 10_000))


def ask_for(client, fake_slack, user: str, leave_type: str, start: date, end: date):
    """`/timeoff`, then the form sent: each form a view of its own, as Slack gives each its id."""
    view = open_request_form(client, fake_slack, user)
    number = next(_forms)
    payload = view_submission_payload(user_id=user, view=view, values=request_values(leave_type, start, end),
                                      view_id=f"V_ASK{number}", view_hash=f"h{number}")
    response = post_interaction(client, payload)
    assert response.status_code == 200 and response.content == b"", response.content
    return response


def reminders_to(fake_slack, user: str) -> list[str]:
    return [text for text in dms_to(fake_slack, user) if text.startswith(REMINDER)]


# --- The reminder sent at approval, when the reminders job's run has passed -----------------------------


def test_someone_off_sick_today_is_not_told_to_hand_over_when_tomorrows_leave_is_approved_late(
        client, fake_slack, settings):
    """The reminders job leaves alone someone already away this afternoon (they handed over before today's
    leave); the reminder sent at approval, after that run, must leave them alone too."""
    zone = install_at_noon(fake_slack)
    settings.REMINDER_TIME = "11:00"  # today's run has passed
    today = team_today(zone)
    ask_for(client, fake_slack, ALICE, "sick", today, today)  # recorded at once: she is off today
    request_time_off(client, fake_slack, ALICE, "vacation", today + timedelta(days=1), today + timedelta(days=2))

    click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted_requests(fake_slack)[-1])

    assert any("approved your" in text for text in dms_to(fake_slack, ALICE))
    assert reminders_to(fake_slack, ALICE) == [], reminders_to(fake_slack, ALICE)


def test_the_reminders_job_itself_leaves_alone_someone_off_today(client, fake_slack, settings):
    """What the reminder at approval should agree with: the job's run skips Alice, who is off sick today."""
    zone = install_at_noon(fake_slack)
    settings.REMINDER_TIME = "14:00"  # today's run is still to come
    today = team_today(zone)
    ask_for(client, fake_slack, ALICE, "sick", today, today)
    ask_for(client, fake_slack, ALICE, "vacation", today + timedelta(days=1), today + timedelta(days=2))
    click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted_requests(fake_slack)[-1])
    assert reminders_to(fake_slack, ALICE) == []

    run_jobs(datetime.now(ZoneInfo(zone)).replace(hour=14, minute=0, second=0, microsecond=0))

    assert reminders_to(fake_slack, ALICE) == []


def test_leave_approved_late_after_its_team_was_renamed_is_still_reminded_at_once(client, fake_slack, settings):
    """HR renames the team between the request and the approval: the request is still the team's, and the
    reminder that the passed run could not send goes out at approval."""
    zone = install_at_noon(fake_slack)
    settings.REMINDER_TIME = "11:00"
    tomorrow = team_today(zone) + timedelta(days=1)
    request_time_off(client, fake_slack, ALICE, "vacation", tomorrow, tomorrow)
    rename_engineering("Platform")

    click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted_requests(fake_slack)[-1])

    assert any("approved your" in text for text in dms_to(fake_slack, ALICE)), dms_to(fake_slack, ALICE)
    [reminder] = reminders_to(fake_slack, ALICE)
    assert "starts tomorrow" in reminder, reminder


# --- The edit form knows the team of the request it edits ----------------------------------------------


def shared_channel_config():
    """Design posts its requests in Engineering's approvals channel, works Monday to Thursday, and Hannah
    decides its leave."""
    design = TeamConfig(name="Design", members=MemberSource(users=(CAROL,)), approvers=ApproverSource(users=(HR,)),
                        approvals_channel=C_ENG_APPROVALS, announce_channel=C_GENERAL, workweek=(0, 1, 2, 3),
                        timezone="America/Los_Angeles")
    return standard_config(teams=(ENGINEERING, design))


def test_an_edit_in_an_approvals_channel_two_teams_share_is_judged_on_the_requesters_own_team(
        client, fake_slack):
    """Carol has not moved: her request is Design's. Its Edit form (opened while the cache knows nothing of
    the ledger, as after a cache restart) must preview Design's calendar and approver, not Engineering's, whose channel it shares."""
    install_config(shared_channel_config())
    friday = MONDAY + timedelta(days=4)
    request_time_off(client, fake_slack, CAROL, "vacation", MONDAY, friday)
    from django.core.cache import cache

    cache.clear()  # the cache lost (Redis restarted): nothing read the ledger since

    press_on_receipt(client, fake_slack, CAROL, ids.EDIT_ACTION)

    preview = preview_of(opened_form(fake_slack))
    assert "Engineering" not in preview, preview
    # Design's Monday–Thursday week, or (the cache knowing neither the request nor Carol's team yet) a count
    # that says it waits for her team: never Engineering's calendar given as hers.
    assert "4 working days" in preview or "until your team is known" in preview, preview


def test_the_edit_buttons_value_names_its_approvals_channel_not_a_team_name(client, fake_slack):
    """The button carries what routes it (its channel and message), never text HR typed (a team's name)."""
    install_config()
    request_time_off(client, fake_slack, ALICE, "vacation", MONDAY, MONDAY + timedelta(days=2))
    _, blocks = receipt_now(fake_slack, ALICE)
    [value] = [e["value"] for b in blocks if b.get("type") == "actions" for e in b["elements"]
               if e["action_id"] == ids.EDIT_ACTION]
    value = json.loads(value)
    assert value["channel"] == C_ENG_APPROVALS and "Engineering" not in json.dumps(value), value


def test_leave_cancelled_before_its_approvals_follow_ups_ran_again_gets_no_reminder(
        client, fake_slack, settings, monkeypatch):
    """Bob approves tomorrow's leave after the reminder run, but Slack fails Alice's DMs for a while, so the
    approval's follow-ups wait for their next attempt; meanwhile Alice cancels the leave. When the follow-ups
    run again, the announcement is rightly skipped, and no reminder to hand over comes for leave she cancelled."""
    from test_support.simulated_time import simulated_clock, work_through_the_queue
    from test_support.slack_faults import failing

    clock = simulated_clock(monkeypatch, settings)
    zone = install_at_noon(fake_slack)
    settings.REMINDER_TIME = "11:00"
    tomorrow = team_today(zone) + timedelta(days=1)
    ask_for(client, fake_slack, ALICE, "vacation", tomorrow, tomorrow + timedelta(days=1))
    work_through_the_queue(clock)

    with failing(fake_slack, lambda method, params: method == "chat.postMessage" and params.get("channel") == ALICE,
                 "http_503", times=None) as met:
        click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted_requests(fake_slack)[-1])
        work_through_the_queue(clock, until=clock.monotonic() + 3)
    assert met, "the approval's DM to Alice was tried"
    assert fake_slack.workspace.messages(C_ENG_APPROVALS)[-1].metadata["event_payload"]["status"] == "approved"

    listed = post_command(client, "cancel", user_id=ALICE).json()
    press(client, ALICE, listed["blocks"], ids.CANCEL_ACTION, on_list=True)
    work_through_the_queue(clock)

    statuses = [m.metadata["event_payload"]["status"] for m in fake_slack.workspace.messages(C_ENG_APPROVALS)
                if m.metadata and m.metadata.get("event_type") == "timeoff_request"]
    assert statuses == ["cancelled"], statuses
    assert reminders_to(fake_slack, ALICE) == [], reminders_to(fake_slack, ALICE)


# --- Date ranges typed after /timeoff --------------------------------------------------------------------


def form_dates(view: dict) -> tuple[str | None, str | None]:
    """The first and last day the form opened with."""
    found = {}
    for block in as_dict(view)["blocks"]:
        element = block.get("element") or {}
        if block.get("block_id") in (ids.START_BLOCK, ids.END_BLOCK):
            found[block["block_id"]] = element.get("initial_date")
    return found.get(ids.START_BLOCK), found.get(ids.END_BLOCK)


def test_29_february_typed_without_its_year_takes_it_from_the_ranges_first_day(client, fake_slack):
    """`/timeoff Feb 27 2032 to Feb 29 vacation`: 2032 is a leap year, so the form opens on those days."""
    install_config()
    view = open_request_form(client, fake_slack, ALICE, "Feb 27 2032 to Feb 29 vacation")
    assert form_dates(view) == ("2032-02-27", "2032-02-29")


def test_29_february_after_a_new_year_typed_without_its_year_belongs_to_the_year_after_the_first_day(
        client, fake_slack):
    """`/timeoff Dec 28 2031 to Feb 29`: the range runs forward into 2032, a leap year, whose 29 February
    the person means; the app should not ask for a year the range already gives."""
    install_config()
    response = post_command(client, "Dec 28 2031 to Feb 29", user_id=ALICE)
    assert response.status_code == 200
    assert response.content == b"", response.content  # no question back: the form opened
    assert form_dates(opened_form(fake_slack)) == ("2031-12-28", "2032-02-29")


def test_a_range_of_one_month_typed_without_a_year_is_never_split_across_two_years(client, fake_slack):
    """`/timeoff Dec 1-5`, whatever today is: the five days are of one year, the first day's."""
    install_config()
    view = open_request_form(client, fake_slack, ALICE, "Dec 1-5")
    start, end = form_dates(view)
    assert start is not None and end is not None and start[:4] == end[:4], (start, end)
    assert (start[5:], end[5:]) == ("12-01", "12-05")


# --- The settings, read exactly as written --------------------------------------------------------------


def test_a_setting_starting_with_a_dollar_sign_is_read_as_written(monkeypatch):
    """A SECRET_KEY from Django's own generator may start with `$`: it is the value, not another
    variable's name."""
    from timeoff_site.settings import LiteralEnv

    monkeypatch.setenv("SECRET_KEY", "$x9!k\\$q$")
    monkeypatch.setenv("x9!k", "not this")
    assert LiteralEnv().str("SECRET_KEY") == "$x9!k\\$q$"


def test_a_list_setting_may_have_spaces_after_its_commas(monkeypatch):
    from timeoff_site.settings import LiteralEnv

    monkeypatch.setenv("ALLOWED_HOSTS", "timeoff.example.com, localhost ,,127.0.0.1")
    assert LiteralEnv().list("ALLOWED_HOSTS") == ["timeoff.example.com", "localhost", "127.0.0.1"]


def test_a_database_url_whose_password_holds_dollar_signs_keeps_them(monkeypatch):
    from timeoff_site.settings import LiteralEnv

    monkeypatch.setenv("DATABASE_URL", "postgres://timeoff:$ecret$@db.internal:5432/timeoff")
    assert LiteralEnv().db_url("DATABASE_URL")["PASSWORD"] == "$ecret$"


# --- App Home before time off is set up -----------------------------------------------------------------


def test_app_home_before_any_leave_type_says_time_off_is_not_set_up_and_offers_no_request_button(
        client, fake_slack):
    from test_support.flows import open_app_home
    from test_support.home_views import shown_text

    install_config(standard_config(leave_types=()))

    home = open_app_home(client, fake_slack, ALICE, "Ev_HOME_NOT_SET_UP")

    assert "isn't set up yet" in shown_text(home), shown_text(home)
    buttons = [e for b in home["blocks"] if b.get("type") == "actions" for e in b["elements"]]
    assert not [b for b in buttons if b.get("action_id") == ids.NEW_REQUEST_ACTION], buttons


def test_app_home_after_hr_removed_every_leave_type_still_lists_leave_already_asked_for(client, fake_slack):
    """HR imported a file without leave types (to start over, say): time off isn't set up for new requests,
    but Alice's pending request is still hers to see and withdraw on App Home."""
    from test_support.flows import open_app_home
    from test_support.home_views import shown_text

    install_config()
    request_time_off(client, fake_slack, ALICE, "vacation", MONDAY, MONDAY + timedelta(days=2))
    install_config(standard_config(leave_types=()))

    home = open_app_home(client, fake_slack, ALICE, "Ev_HOME_TYPES_GONE")

    assert "isn't set up yet" in shown_text(home) and "Mon 10 Mar" in shown_text(home), shown_text(home)
    buttons = [e["action_id"] for b in home["blocks"] if b.get("type") == "actions" for e in b["elements"]]
    assert ids.WITHDRAW_ACTION in buttons and ids.NEW_REQUEST_ACTION not in buttons, buttons
