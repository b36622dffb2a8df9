"""Fallback approvers who cannot decide have none of HR's powers in Slack, and are sent none of HR's news.

A configuration file can name as a fallback approver someone Slack describes as a guest (`users.info`
`is_restricted`, or `is_ultra_restricted` too for a single-channel guest), a bot, a deactivated account,
or someone of another organisation (Slack Connect: `users.info` names another workspace as `team_id`).
README ("HR's powers in Slack"): they are refused as anyone else is ("Only HR (the fallback approvers)
can …"), are sent none of HR's DMs, the Setup page names them under "Named to decide leave, but they
cannot", and its check (*Check Slack again*) has Slack describe everyone named to decide, so this holds
from that check on. Until Slack has described someone, they count as able.

In every test Hannah (HR, an ordinary member of the workspace) is the other fallback approver: she keeps
all of HR's powers and news, so each refusal is about the person, not about HR as a whole. The app learns
who the others are as it would in use: from the Setup check, or from a task that asked `users.info`;
never by writing its cache. Requests are signed and shaped as Slack sends them; what people are told is
read off the fake Slack's wire.
"""

import json
import time
from dataclasses import replace
from datetime import date, datetime, timedelta
from datetime import timezone as dt_timezone
from decimal import Decimal
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import holidays
import pytest

from approvals import block_ids as ids
from approvals.config_types import ApproverSource
from approvals.rules import LedgerEntry
from fake_slack.personas import C_ENG, C_ENG_APPROVALS, C_GENERAL
from test_support.console_pages import check_slack_again, signed_in_admin
from test_support.flows import (
    ALICE,
    BOB,
    ENGINEERING,
    HR,
    MONDAY,
    WEDNESDAY,
    buttons_in,
    dms_to,
    ephemerals_to,
    install_config,
    ledger_messages,
    open_app_home,
    press,
    request_time_off,
    request_values,
    standard_config,
)
from test_support.home_views import shown_text, waiting_count
from test_support.job_runs import post_entry, run_jobs
from test_support.slack_requests import (
    command_fields,
    event_envelope,
    post_command,
    post_event,
    post_interaction,
    post_signed,
    view_submission_payload,
)
from test_support.unable_deciders import GINA, GLOBEX, PAT, add_bot, add_former, add_guest, add_partner

pytestmark = pytest.mark.django_db

LA = ZoneInfo("America/Los_Angeles")
CA_HOLIDAYS = holidays.country_holidays("US", subdiv="CA", years=range(2018, 2040))

GLOBEX_ORG = "E0GLOBEX42"

ONLY_HR = "Only HR (the fallback approvers) can record or change time off for someone else."
BOB_ALONE = replace(ENGINEERING, approvers=ApproverSource(users=(BOB,)), nudge_after_hours=24)


# --- People Slack describes as unable to decide ------------------------------------------------------


UNABLE = {
    "guest": add_guest,
    "single-channel-guest": lambda fake_slack: add_guest(fake_slack, single_channel=True),
    "another-organisation": add_partner,
    "bot": add_bot,
    "deactivated": add_former,
}
# Those who can type a command or press a button (a bot and a deactivated account cannot).
PEOPLE_WHO_CAN_TYPE = ["guest", "single-channel-guest", "another-organisation"]


def with_fallback(unable: str, **changes):
    """Hannah and the unable person as fallback approvers, as a configuration file may name them."""
    return install_config(standard_config(fallback_approvers=(HR, unable), **changes))


@pytest.fixture
def console(django_user_model, fake_slack):
    """An HR admin signed in to the console (a browser of their own, apart from Slack's requests)."""
    return signed_in_admin(django_user_model)


@pytest.fixture(autouse=True)
def export_dir(settings, tmp_path):
    settings.LEDGER_EXPORT_DIR = tmp_path / "exports"  # the nightly export runs with the ledger watch
    return settings.LEDGER_EXPORT_DIR


# --- Steps as Slack sends them -------------------------------------------------------------------------


def command(client, text: str, user: str):
    """`/timeoff text` typed by `user`; someone of another organisation types it in a shared channel, and
    Slack names their own workspace in the command (as it does for Slack Connect)."""
    if user == PAT:
        fields = command_fields(text, user_id=user, channel_id=C_GENERAL)
        fields.update(team_id=GLOBEX, team_domain="globex", enterprise_id=GLOBEX_ORG, enterprise_name="Globex",
                      is_enterprise_install="false")
        response = post_signed(client, "/slack/commands", urlencode(fields))
    else:
        response = post_command(client, text, user_id=user)
    assert response.status_code == 200, response.content
    return response


def answer_text(response) -> str:
    return response.json().get("text", "") if response.content else ""


def as_slack_sends(payload: dict, user: str) -> dict:
    """An interaction payload by `user`: Pat's names Globex as his team."""
    if user != PAT:
        return payload
    return {**payload, "user": {"id": PAT, "username": "pat.globex", "name": "pat.globex", "team_id": GLOBEX},
            "team": {"id": GLOBEX, "domain": "globex", "enterprise_id": GLOBEX_ORG, "enterprise_name": "Globex"},
            "is_enterprise_install": False}


def told(fake_slack, user: str) -> list[str]:
    return ephemerals_to(fake_slack, user) + dms_to(fake_slack, user)


def requests_of(fake_slack, person: str) -> list[dict]:
    return [m.metadata["event_payload"] for m in ledger_messages(fake_slack)
            if m.metadata["event_type"] == "timeoff_request" and m.metadata["event_payload"]["user"] == person]


def entry(entry_id: str, user: str = ALICE, *, start: date = MONDAY, end: date = WEDNESDAY, status: str = "approved",
          team: str = "Engineering") -> LedgerEntry:
    days = sum(1 for n in range((end - start).days + 1) if (start + timedelta(n)).weekday() < 5)
    return LedgerEntry(id=entry_id, user=user, team=team, leave_type="vacation", start=start, end=end,
                       start_half=None, end_half=None, days=Decimal(days), status=status,
                       decided_by=None if status == "pending" else BOB,
                       decided_at=None if status == "pending" else 1790000000)


def utc(day: date, hour: int = 2) -> datetime:
    return datetime(day.year, day.month, day.day, hour, 0, tzinfo=dt_timezone.utc)


def ts_hours_ago(hours: float) -> str:
    return f"{time.time() - hours * 3600:.6f}"


# =====================================================================================================
# `/timeoff for @person …`
# =====================================================================================================


@pytest.mark.parametrize("kind", PEOPLE_WHO_CAN_TYPE)
def test_timeoff_for_a_colleague_is_refused_to_a_fallback_approver_slack_says_cannot_decide(client, fake_slack,
                                                                                          console, kind):
    unable = UNABLE[kind](fake_slack)
    with_fallback(unable)
    check_slack_again(console)
    fake_slack.clear_calls()

    answer = answer_text(command(client, f"for <@{ALICE}|alice> {MONDAY} {WEDNESDAY} vacation", unable))

    # The same refusal anyone who is not HR gets: the form that records leave for Alice never opens.
    assert fake_slack.calls("views.open") == [], answer
    assert ONLY_HR in answer, answer
    assert requests_of(fake_slack, ALICE) == []

    # Hannah, an ordinary member named beside them, still records for Alice.
    command(client, f"for <@{ALICE}|alice> {MONDAY} {WEDNESDAY} vacation", HR)
    [opened] = fake_slack.calls("views.open")
    assert json.loads(opened.params["view"]["private_metadata"]) == {"for": ALICE}


@pytest.mark.parametrize("words", ["list", "cancel", "balance"])
def test_a_guest_fallback_approver_is_shown_nothing_of_a_colleagues_leave(client, fake_slack, console, words):
    add_guest(fake_slack)
    with_fallback(GINA)
    request_time_off(client, fake_slack, ALICE, note="dentist in Denver")
    check_slack_again(console)
    fake_slack.clear_calls()

    answer = answer_text(command(client, f"for <@{ALICE}|alice> {words}", GINA))

    assert ONLY_HR in answer, answer
    assert "dentist" not in answer and "Vacation" not in answer, answer
    assert dms_to(fake_slack, GINA) == []
    assert ONLY_HR not in answer_text(command(client, f"for <@{ALICE}|alice> {words}", HR))


def test_a_guest_fallback_approver_is_refused_once_a_task_has_had_slack_describe_them(client, fake_slack):
    """No Setup check: Gina typed `/timeoff` for herself (she may request leave), and the task that
    answered it asked `users.info` about her. From then on she is refused as anyone else is."""
    add_guest(fake_slack)
    with_fallback(GINA)
    with fake_slack.workspace.lock:
        fake_slack.workspace.channels[C_ENG].members.add(GINA)  # a contractor in Engineering's channel
    request_time_off(client, fake_slack, GINA, start=MONDAY, end=MONDAY)
    assert fake_slack.calls("users.info"), "the app never asked Slack who Gina is"
    fake_slack.clear_calls()

    answer = answer_text(command(client, f"for <@{ALICE}|alice> {MONDAY} {WEDNESDAY} vacation", GINA))

    assert ONLY_HR in answer, answer
    assert fake_slack.calls("views.open") == []


# =====================================================================================================
# The record form, opened before Slack described them and sent after
# =====================================================================================================


@pytest.mark.parametrize("kind", PEOPLE_WHO_CAN_TYPE)
def test_a_record_form_sent_after_the_check_by_a_fallback_approver_who_cannot_decide_records_nothing(
        client, fake_slack, console, kind):
    """Before the first check Slack had not described them, so they counted as able and the form opened
    (README: "Until Slack has described someone, they count as able"). Sent after the check, it records
    nothing: Alice's leave is not theirs to record."""
    unable = UNABLE[kind](fake_slack)
    with_fallback(unable)
    command(client, f"for <@{ALICE}|alice> {MONDAY} {WEDNESDAY} vacation", unable)
    opened = fake_slack.last_call("views.open")
    assert opened is not None and json.loads(opened.params["view"]["private_metadata"]) == {"for": ALICE}
    view = opened.params["view"]
    check_slack_again(console)
    fake_slack.clear_calls()

    response = post_interaction(client, as_slack_sends(view_submission_payload(
        user_id=unable, view=view, values=request_values("vacation", MONDAY, WEDNESDAY), view_id="V_FOR1",
        view_hash="h-V_FOR1"), unable))

    assert response.status_code == 200
    answer = response.json() if response.content else {}
    assert answer.get("response_action") == "errors", answer
    assert "Only HR" in json.dumps(answer["errors"]), answer
    assert requests_of(fake_slack, ALICE) == [] and dms_to(fake_slack, ALICE) == []

    # The same form, sent by Hannah, records Alice's leave.
    response = post_interaction(client, view_submission_payload(
        user_id=HR, view=view, values=request_values("vacation", MONDAY, WEDNESDAY), view_id="V_FOR2",
        view_hash="h-V_FOR2"))
    assert response.content == b"", response.content
    [recorded] = requests_of(fake_slack, ALICE)
    assert (recorded["status"], recorded["decided_by"]) == ("approved", HR)


# =====================================================================================================
# Cancel, Withdraw and Edit of someone else's leave
# =====================================================================================================


def list_shown_before_the_check(client, fake_slack, unable: str, words: str = "list") -> list:
    """`/timeoff for @alice list` by `unable` while Slack had not described them yet: the list's blocks."""
    answer = command(client, f"for <@{ALICE}|alice> {words}", unable).json()
    blocks = answer.get("blocks") or []
    if not buttons_in(blocks):  # the list came by DM (a cold cache)
        [dm] = [c for c in fake_slack.calls("chat.postMessage") if c.params.get("channel") == unable][-1:]
        blocks = dm.params.get("blocks") or []
    assert buttons_in(blocks), answer
    return blocks


@pytest.mark.parametrize("kind", PEOPLE_WHO_CAN_TYPE)
def test_withdrawing_a_colleagues_pending_request_is_refused_to_a_fallback_approver_who_cannot_decide(
        client, fake_slack, console, kind):
    unable = UNABLE[kind](fake_slack)
    with_fallback(unable)
    request_time_off(client, fake_slack, ALICE)
    blocks = list_shown_before_the_check(client, fake_slack, unable)
    check_slack_again(console)
    fake_slack.clear_calls()

    press(client, unable, blocks, ids.WITHDRAW_ACTION, channel=C_GENERAL, on_list=True, as_sent=as_slack_sends)

    assert requests_of(fake_slack, ALICE)[0]["status"] == "pending"
    assert fake_slack.calls("chat.update") == [] and dms_to(fake_slack, ALICE) == []
    said = told(fake_slack, unable)
    assert said and "only the requester (or HR)" in said[0], said

    press(client, HR, blocks, ids.WITHDRAW_ACTION, channel=C_GENERAL, on_list=True, as_sent=as_slack_sends)  # Hannah may
    assert requests_of(fake_slack, ALICE)[0]["status"] == "cancelled"


def test_cancelling_a_colleagues_approved_leave_is_refused_to_a_guest_fallback_approver(client, fake_slack,
                                                                                       console):
    add_guest(fake_slack)
    with_fallback(GINA)
    command(client, f"for <@{ALICE}|alice> {MONDAY} {WEDNESDAY} vacation", HR)
    view = fake_slack.last_call("views.open").params["view"]
    post_interaction(client, view_submission_payload(user_id=HR, view=view,
                                                     values=request_values("vacation", MONDAY, WEDNESDAY)))
    assert requests_of(fake_slack, ALICE)[0]["status"] == "approved"
    blocks = list_shown_before_the_check(client, fake_slack, GINA, "cancel")
    check_slack_again(console)
    fake_slack.clear_calls()

    press(client, GINA, blocks, ids.CANCEL_ACTION, channel=C_GENERAL, on_list=True, as_sent=as_slack_sends)

    assert requests_of(fake_slack, ALICE)[0]["status"] == "approved"
    assert fake_slack.calls("chat.update") == [] and dms_to(fake_slack, ALICE) == []
    said = told(fake_slack, GINA)
    assert said and "only the requester (or HR)" in said[0], said

    press(client, HR, blocks, ids.CANCEL_ACTION, channel=C_GENERAL, on_list=True, as_sent=as_slack_sends)
    assert requests_of(fake_slack, ALICE)[0]["status"] == "cancelled"


@pytest.mark.parametrize("kind", PEOPLE_WHO_CAN_TYPE)
def test_editing_a_colleagues_request_opens_no_form_for_a_fallback_approver_who_cannot_decide(client, fake_slack,
                                                                                             console, kind):
    unable = UNABLE[kind](fake_slack)
    with_fallback(unable)
    request_time_off(client, fake_slack, ALICE)
    blocks = list_shown_before_the_check(client, fake_slack, unable)
    check_slack_again(console)
    fake_slack.clear_calls()

    press(client, unable, blocks, ids.EDIT_ACTION, channel=C_GENERAL, on_list=True, as_sent=as_slack_sends)

    assert fake_slack.calls("views.open") == []
    said = told(fake_slack, unable)
    assert said and "Only the requester (or HR) can edit this request." in said[0], said

    press(client, HR, blocks, ids.EDIT_ACTION, channel=C_GENERAL, on_list=True, as_sent=as_slack_sends)  # Hannah gets the form, filled in with Alice's request
    [opened] = fake_slack.calls("views.open")
    assert opened.response.get("ok"), opened.response


def test_a_guest_fallback_approver_cannot_cancel_their_own_leave_once_it_has_started(client, fake_slack, console):
    """Only HR cancels leave already under way; a guest named as a fallback approver is told to ask HR, as
    any requester is. Hannah's own leave under way she may cancel."""
    add_guest(fake_slack)
    with_fallback(GINA)
    today = datetime.now(LA).date()
    started, ends = today - timedelta(days=1), today + timedelta(days=6)
    post_entry(fake_slack, entry("gina-under-way", GINA, start=started, end=ends), ts=ts_hours_ago(72))
    post_entry(fake_slack, entry("hannah-under-way", HR, start=started, end=ends), ts=ts_hours_ago(71))
    check_slack_again(console)
    fake_slack.clear_calls()

    gina_value = json.dumps({"id": "gina-under-way", "user": GINA, "channel": C_ENG_APPROVALS,
                             "ts": [m.ts for m in ledger_messages(fake_slack)
                                    if m.metadata["event_payload"]["id"] == "gina-under-way"][0]})
    hannah_value = json.dumps({"id": "hannah-under-way", "user": HR, "channel": C_ENG_APPROVALS,
                               "ts": [m.ts for m in ledger_messages(fake_slack)
                                      if m.metadata["event_payload"]["id"] == "hannah-under-way"][0]})
    for user, value in ((GINA, gina_value), (HR, hannah_value)):
        blocks = [{"type": "actions", "block_id": f"{ids.LIST_BLOCK_PREFIX}x", "elements": [
            {"type": "button", "action_id": ids.CANCEL_ACTION, "value": value,
             "text": {"type": "plain_text", "text": "Cancel"}}]}]
        press(client, user, blocks, ids.CANCEL_ACTION, channel=C_GENERAL, on_list=True, as_sent=as_slack_sends)

    statuses = {m.metadata["event_payload"]["id"]: m.metadata["event_payload"]["status"]
                for m in ledger_messages(fake_slack)}
    assert statuses["gina-under-way"] == "approved", statuses
    said = told(fake_slack, GINA)
    assert said and "already started" in said[0], said
    assert statuses["hannah-under-way"] == "cancelled", (statuses, told(fake_slack, HR))


# =====================================================================================================
# App Home
# =====================================================================================================


@pytest.mark.parametrize("kind", PEOPLE_WHO_CAN_TYPE)
def test_app_home_of_a_fallback_approver_who_cannot_decide_has_no_console_and_no_removed_teams_requests(
        client, fake_slack, console, settings, kind):
    settings.PUBLIC_URL = "https://hr.example"
    unable = UNABLE[kind](fake_slack)
    with_fallback(unable)
    # A request of a team removed from the configuration since: HR's to decide.
    post_entry(fake_slack, entry("marketing-waiting", ALICE, status="pending", team="Marketing"), ts=ts_hours_ago(3))
    check_slack_again(console)

    theirs = open_app_home(client, fake_slack, unable, "Ev_HOME_UNABLE")
    hannahs = open_app_home(client, fake_slack, HR, "Ev_HOME_HANNAH")

    assert "https://hr.example/console/" in json.dumps(hannahs) and waiting_count(hannahs) == 1
    assert "https://hr.example/console/" not in json.dumps(theirs), shown_text(theirs)
    assert "HR console" not in shown_text(theirs), shown_text(theirs)
    assert waiting_count(theirs) == 0 and "Marketing" not in shown_text(theirs), shown_text(theirs)


# =====================================================================================================
# HR's DMs go only to those who can decide
# =====================================================================================================


@pytest.mark.parametrize("kind", list(UNABLE))
def test_hr_is_told_of_deleted_records_but_not_a_fallback_approver_who_cannot_decide(client, fake_slack, kind):
    unable = UNABLE[kind](fake_slack)
    with_fallback(unable)
    post_entry(fake_slack, entry("kept"), ts="1790000000.000100")
    doomed = post_entry(fake_slack, entry("doomed", user=BOB), ts="1790000100.000100")
    run_jobs(utc(MONDAY))
    fake_slack.workspace.delete_message(fake_slack.workspace.find_message(C_ENG_APPROVALS, doomed))
    fake_slack.clear_calls()

    run_jobs(utc(MONDAY + timedelta(days=1)))

    assert [t for t in dms_to(fake_slack, HR) if "disappeared" in t], dms_to(fake_slack, HR)
    assert dms_to(fake_slack, unable) == []


@pytest.mark.parametrize("kind", list(UNABLE))
def test_hr_is_told_of_removed_teams_requests_waiting_but_not_a_fallback_approver_who_cannot_decide(
        client, fake_slack, kind):
    unable = UNABLE[kind](fake_slack)
    with_fallback(unable)
    post_entry(fake_slack, entry("marketing-waiting", ALICE, status="pending", team="Marketing"),
               ts=ts_hours_ago(24 * 5))
    fake_slack.clear_calls()

    run_jobs(datetime.now(dt_timezone.utc).replace(hour=2, minute=0, second=0, microsecond=0) + timedelta(days=1))

    assert [t for t in dms_to(fake_slack, HR) if "Marketing" in t], dms_to(fake_slack, HR)
    assert dms_to(fake_slack, unable) == []


def nudge_moment() -> datetime:
    """A working weekday at 20:00 UTC (noon in Los Angeles) more than a day from now."""
    moment = datetime.now(dt_timezone.utc).replace(hour=20, minute=0, second=0, microsecond=0) + timedelta(days=2)
    while moment.weekday() >= 5 or moment.astimezone(LA).date() in CA_HOLIDAYS:
        moment += timedelta(days=1)
    return moment


@pytest.mark.parametrize("kind", list(UNABLE))
def test_hr_is_told_of_requests_waiting_on_nobody_at_work_but_not_a_fallback_approver_who_cannot_decide(
        client, fake_slack, kind):
    """Bob, Engineering's only approver, is away the whole week; Alice's request has waited past the
    team's `nudge_after_hours`. HR, who can give the team another approver, hears of it."""
    unable = UNABLE[kind](fake_slack)
    with_fallback(unable, teams=(BOB_ALONE,))
    moment = nudge_moment()
    away_from = datetime.now(LA).date()
    post_entry(fake_slack, entry("bob-away", BOB, start=away_from, end=away_from + timedelta(days=20)),
               ts=ts_hours_ago(100))
    post_entry(fake_slack, entry("alice-waiting", ALICE, start=MONDAY, end=WEDNESDAY, status="pending"),
               ts=ts_hours_ago(50))
    fake_slack.clear_calls()

    run_jobs(moment, "--team", "Engineering")

    to_hannah = [t for t in dms_to(fake_slack, HR) if "waiting for a decision" in t]
    assert to_hannah and f"<@{ALICE}>" in to_hannah[0], dms_to(fake_slack, HR)
    assert dms_to(fake_slack, unable) == []


@pytest.mark.parametrize("kind", list(UNABLE))
def test_hr_hears_the_bot_lost_an_approvals_channel_but_not_a_fallback_approver_who_cannot_decide(
        client, fake_slack, kind):
    unable = UNABLE[kind](fake_slack)
    with_fallback(unable)
    fake_slack.clear_calls()

    response = post_event(client, event_envelope({"type": "channel_archive", "channel": C_ENG_APPROVALS,
                                                  "user": "U_ADMIN", "event_ts": f"{time.time():.6f}"},
                                                 event_id="Ev_ARCHIVE1"))
    assert response.status_code == 200

    assert [t for t in dms_to(fake_slack, HR) if f"<#{C_ENG_APPROVALS}>" in t], dms_to(fake_slack, HR)
    assert dms_to(fake_slack, unable) == []


def deactivate(client, fake_slack, user: str, event_id: str) -> None:
    """Slack deactivates `user`, then sends `user_change` with the whole profile, as it does."""
    with fake_slack.workspace.lock:
        fake_slack.workspace.users[user].deleted = True
        profile = fake_slack.workspace.users[user].to_api()
    response = post_event(client, event_envelope({"type": "user_change", "user": profile,
                                                  "event_ts": "1766000000.000400"}, event_id=event_id))
    assert response.status_code == 200, response.content


@pytest.mark.parametrize("kind", list(UNABLE))
def test_hr_is_told_an_approver_left_but_not_a_fallback_approver_who_cannot_decide(client, fake_slack, kind):
    """Bob, the only approver of Engineering, leaves with two requests waiting on him: Alice's is Hannah's
    to decide now, and Hannah's own nobody may decide. Hannah hears of both; the other fallback approver,
    who can decide neither, hears nothing."""
    unable = UNABLE[kind](fake_slack)
    with_fallback(unable, teams=(BOB_ALONE,))
    with fake_slack.workspace.lock:
        fake_slack.workspace.channels[C_ENG].members.add(HR)  # Hannah is in Engineering herself
    request_time_off(client, fake_slack, ALICE)
    request_time_off(client, fake_slack, HR, start=MONDAY + timedelta(days=7), end=MONDAY + timedelta(days=8))
    assert len(requests_of(fake_slack, ALICE)) == 1 and len(requests_of(fake_slack, HR)) == 1
    fake_slack.clear_calls()

    deactivate(client, fake_slack, BOB, "Ev_BOB_LEFT")

    to_hannah = [t for t in dms_to(fake_slack, HR) if "only approver left" in t]
    assert to_hannah and f"<@{BOB}>" in to_hannah[0] and "Nobody may decide" in to_hannah[0], dms_to(fake_slack, HR)
    assert dms_to(fake_slack, unable) == []


@pytest.mark.parametrize("kind", list(UNABLE))
def test_hr_is_told_a_requester_left_with_requests_pending_but_not_a_fallback_approver_who_cannot_decide(
        client, fake_slack, kind):
    unable = UNABLE[kind](fake_slack)
    with_fallback(unable)
    request_time_off(client, fake_slack, ALICE)
    fake_slack.clear_calls()

    deactivate(client, fake_slack, ALICE, "Ev_ALICE_LEFT")

    assert [t for t in dms_to(fake_slack, HR) if "was deactivated" in t], dms_to(fake_slack, HR)
    assert dms_to(fake_slack, unable) == []


# =====================================================================================================
# The Setup page
# =====================================================================================================


def cannot_part(page: str) -> str:
    start = page.find("Named to decide leave, but they cannot")
    assert start >= 0, "the Setup page does not list who is named to decide but cannot"
    return page[start:start + 4000]


def test_the_setup_page_names_a_fallback_approver_of_another_organisation(fake_slack, console):
    add_partner(fake_slack)
    with_fallback(PAT)

    page = check_slack_again(console)

    part = cannot_part(page)
    # By name where the console's list of people holds them (the fake's users.list does), else by Slack id.
    assert ("Pat (Globex)" in part or PAT in part) and "is of another organisation" in part, part
    assert "Hannah" not in part.split("</ul>")[0] and HR not in part.split("</ul>")[0], part


@pytest.mark.parametrize("single_channel", [False, True], ids=["multi-channel-guest", "single-channel-guest"])
def test_the_setup_page_names_a_guest_fallback_approver(fake_slack, console, single_channel):
    add_guest(fake_slack, single_channel=single_channel)
    with_fallback(GINA)

    page = check_slack_again(console)

    part = cannot_part(page)
    assert "Gina Gray" in part and "is a guest in Slack" in part, part
    assert "Hannah" not in part.split("</ul>")[0], part


def test_the_setup_check_has_slack_describe_everyone_named_to_decide(fake_slack, console):
    add_partner(fake_slack)
    add_guest(fake_slack)
    install_config(standard_config(fallback_approvers=(HR, PAT, GINA)))
    fake_slack.clear_calls()

    check_slack_again(console)

    described = {call.params.get("user") for call in fake_slack.calls("users.info")}
    assert {HR, PAT, GINA, BOB} <= described, described


# =====================================================================================================
# Whom people are told to ask
# =====================================================================================================


def test_a_guest_fallback_approver_in_no_team_is_told_to_ask_hr_not_to_use_the_hr_console(client, fake_slack,
                                                                                          console):
    """Gina has none of HR's powers: like anyone in no team, she is told whom to ask, as her App Home
    says, not to add herself to a team in a console that is not hers."""
    add_guest(fake_slack)
    with_fallback(GINA)
    check_slack_again(console)
    fake_slack.clear_calls()

    answer = answer_text(command(client, "", GINA))
    said = answer + " ".join(told(fake_slack, GINA))

    assert "no team is configured for you" in said, said
    assert "add yourself to a team in the HR console" not in said, said
    assert f"<@{HR}>" in said, said


def test_someone_in_no_team_is_not_told_to_ask_a_fallback_approver_of_another_organisation(client, fake_slack,
                                                                                           console):
    """Carol is in no team. Pat, of Globex, can do nothing for Acme's people: she is pointed to Hannah."""
    add_partner(fake_slack)
    with_fallback(PAT)
    check_slack_again(console)
    fake_slack.clear_calls()

    answer = answer_text(command(client, "", "U_CAROL"))
    said = answer + " ".join(told(fake_slack, "U_CAROL"))

    assert f"<@{HR}>" in said, said
    assert PAT not in said, said
