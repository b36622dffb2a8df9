"""People of other organisations in Acme's channels, end to end.

Slack Connect shares a channel with another company: its people sit in Acme's channels (a team's
members channel, its approvers channel, its approvals or announce channel), see its messages, press its
buttons and type `/timeoff` there. `users.info` names their own workspace as `team_id` (neither Acme's
nor another workspace of Acme's Enterprise Grid org), or answers `user_not_visible` / `user_not_found`
for someone Slack will not show us; the payloads they send name their own team.

README ("Approvers", "Configuration file": `requesters`, "Enterprise Grid"): people of another
organisation neither request nor approve, fall into no team (not even the default one), are never
named as approvers, are told politely when they try, and Acme's leave is not theirs to see. These tests
send signed requests shaped as Slack sends them to the app, which talks to the fake Slack as a server.
"""

import json
import time
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import pytest

from approvals import block_ids as ids
from approvals.config_types import ApproverSource
from approvals.rules import LedgerEntry
from fake_slack import server as fake_server
from fake_slack.personas import C_ENG, C_ENG_APPROVALS, C_ENG_LEADS, C_GENERAL
from fake_slack.workspace import User
from test_support.flows import (
    ALICE,
    BOB,
    ENGINEERING,
    HR,
    MONDAY,
    WEDNESDAY,
    buttons_in,
    click,
    dms_to,
    ephemerals_to,
    install_config,
    posted_requests,
    request_status,
    request_time_off,
    request_values,
    standard_config,
)
from test_support.home_views import shown_text, waiting_count
from test_support.job_runs import post_entry, run_jobs
from test_support.slack_requests import (
    APP_ID,
    command_fields,
    event_envelope,
    new_trigger_id,
    post_event,
    post_interaction,
    post_signed,
    shortcut_payload,
    view_block_actions_payload,
    view_submission_payload,
)

pytestmark = pytest.mark.django_db

PAT = "U0PATGLOBX"  # Pat, of Globex: another organisation, in channels Acme shares through Slack Connect
GLOBEX = "T0GLOBEX42"
GLOBEX_ORG = "E0GLOBEX42"
LA = ZoneInfo("America/Los_Angeles")
OTHER_ORGANISATION = "another organisation"


# --- People of another organisation, as users.info describes them ---------------------------------


@dataclass
class PersonOfAnotherOrganisation(User):
    """users.info's answer for someone in a shared channel: their own workspace's `team_id` (and profile
    team), plus whatever else `answer` adds (`is_stranger`, `enterprise_user` of their own org)."""

    answer: dict = field(default_factory=dict)

    def to_api(self) -> dict:
        api = super().to_api()
        api["team_id"] = GLOBEX
        api["profile"] = {**api["profile"], "team": GLOBEX}
        api.update(self.answer)
        return api


def add_partner(fake_slack, *channels: str, user: str = PAT, name: str = "pat.globex", **answer):
    person = PersonOfAnotherOrganisation(user, name, "Pat (Globex)", "Europe/Berlin", None, f"{name}@globex.example",
                                         answer=answer)
    with fake_slack.workspace.lock:
        fake_slack.workspace.users[user] = person
        for channel in channels:
            fake_slack.workspace.channels[channel].members.add(user)
    return person


def partner_user(user: str = PAT) -> dict:
    """Slack's `user` object in an interaction payload: the person's home team is Globex's."""
    return {"id": user, "username": "pat.globex", "name": "pat.globex", "team_id": GLOBEX}


def partner_team() -> dict:
    return {"id": GLOBEX, "domain": "globex", "enterprise_id": GLOBEX_ORG, "enterprise_name": "Globex"}


def as_partner(payload: dict, user: str = PAT) -> dict:
    """An interaction payload sent by Pat, as Slack sends one from a Slack Connect channel."""
    return {**payload, "user": partner_user(user), "team": partner_team(), "is_enterprise_install": False}


def partner_command(client, text: str = "", *, channel: str = C_GENERAL, user: str = PAT):
    """`/timeoff text` typed by Pat in a channel Acme shares with Globex."""
    fields = command_fields(text, user_id=user, channel_id=channel)
    fields.update(team_id=GLOBEX, team_domain="globex", enterprise_id=GLOBEX_ORG, enterprise_name="Globex",
                  is_enterprise_install="false")
    response = post_signed(client, "/slack/commands", urlencode(fields))
    assert response.status_code == 200, response.content
    return response


def partner_click(client, posted, action_id: str, user: str = PAT):
    """Pat presses a button of the request message `posted` made, in the shared approvals channel."""
    block_id, value = buttons_in(posted.params["blocks"])[action_id]
    channel, ts = posted.response["channel"], posted.response["ts"]
    payload = as_partner({
        "type": "block_actions",
        "api_app_id": APP_ID,
        "token": "verification-token-unused",
        "container": {"type": "message", "message_ts": ts, "channel_id": channel, "is_ephemeral": False},
        "trigger_id": new_trigger_id(),
        "channel": {"id": channel, "name": "eng-approvals"},
        "message": {"type": "message", "ts": ts, "text": "", "blocks": []},
        "response_url": "https://hooks.slack.com/actions/T0GLOBEX42/1/x",
        "actions": [{"action_id": action_id, "block_id": block_id, "value": value, "type": "button",
                     "action_ts": f"{time.time():.6f}", "text": {"type": "plain_text", "text": "Approve"}}],
    }, user)
    response = post_interaction(client, payload)
    assert response.status_code == 200, response.content
    return response


def answered(response) -> str:
    """The text of a command's answer ("" for an empty 200)."""
    if not response.content:
        return ""
    body = response.json()
    return body.get("text", "") + json.dumps(body.get("blocks") or [])


def said_to(fake_slack, user: str) -> str:
    """Everything the app said to `user` by DM or privately in a channel."""
    return "\n".join(dms_to(fake_slack, user) + ephemerals_to(fake_slack, user))


def opened_views(fake_slack) -> list[dict]:
    views = []
    for call in fake_slack.calls("views.open"):
        view = call.params["view"]
        views.append(json.loads(view) if isinstance(view, str) else view)
    return views


def home_of(fake_slack, user: str) -> dict:
    call = [c for c in fake_slack.calls("views.publish") if c.params["user_id"] == user][-1]
    view = call.params["view"]
    return json.loads(view) if isinstance(view, str) else view


def open_home(client, fake_slack, user: str, event_id: str) -> dict:
    envelope = event_envelope({"type": "app_home_opened", "user": user, "channel": "D_HOME_PAT", "tab": "home",
                               "event_ts": f"{time.time():.6f}"}, event_id=event_id)
    assert post_event(client, envelope).status_code == 200
    return home_of(fake_slack, user)


def the_next_days() -> tuple[date, date]:
    """From tomorrow to five days on, in Los Angeles (Engineering's zone, and Alice's): inside
    `/timeoff who`'s and App Home's week whatever today is, and holding working days whatever the week."""
    today = datetime.now(LA).date()
    return today + timedelta(days=1), today + timedelta(days=5)


def alice_is_away_this_week(client, fake_slack):
    """Alice asks for leave in the coming days and Bob approves it: Engineering has someone out."""
    start, end = the_next_days()
    request_time_off(client, fake_slack, ALICE, "vacation", start, end)
    [posted] = posted_requests(fake_slack)
    assert click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted).status_code == 200
    assert request_status(fake_slack)["status"] == "approved"
    return posted


def cache_pats_profile(client) -> None:
    """Pat tried `/timeoff` once before and the app has read who Pat is (Pat's users.info, cached a day)."""
    from approvals.directory import fetch_user
    from approvals.slack_clients import background_client

    partner_command(client, "")
    assert fetch_user(background_client(), PAT)["external"]


# --- In a team's members channel ------------------------------------------------------------------


def test_someone_of_another_organisation_in_a_teams_channel_is_not_told_who_of_the_team_is_out(
        client, fake_slack):
    """#engineering is shared with Globex; Pat sits in it. Pat falls into no team (README, `requesters`), so
    `/timeoff who` has no team of Pat's to show once the app knows who Pat is (Pat tried `/timeoff`): Acme's
    leave is not shown to another company, neither in the answer nor in a DM a moment later."""
    add_partner(fake_slack, C_ENG)
    install_config()
    alice_is_away_this_week(client, fake_slack)
    cache_pats_profile(client)
    fake_slack.clear_calls()

    response = partner_command(client, "who", channel=C_ENG)

    told = "\n".join([answered(response), said_to(fake_slack, PAT)])
    assert f"<@{ALICE}>" not in told and "Alice" not in told, told
    assert OTHER_ORGANISATION in told, told


def test_someone_of_another_organisation_asking_who_is_out_in_a_team_by_name_is_not_told(client, fake_slack):
    """Pat, in the shared #general, asks `/timeoff who Engineering`: who of Acme is away, and why, is Acme's
    people's business."""
    add_partner(fake_slack, C_GENERAL)
    install_config()
    alice_is_away_this_week(client, fake_slack)
    cache_pats_profile(client)
    fake_slack.clear_calls()

    response = partner_command(client, "who Engineering")

    told = "\n".join([answered(response), said_to(fake_slack, PAT)])
    assert f"<@{ALICE}>" not in told and "Vacation" not in told, told
    assert told.strip(), "Pat was told nothing"


def test_app_home_of_someone_of_another_organisation_in_a_teams_channel_shows_none_of_the_teams_leave(
        client, fake_slack):
    """Pat opens the app's Home tab. Pat is in no team: no balances of Engineering's leave types, no
    "who is out" of Acme's people, and a note saying why time off here is not for Pat."""
    add_partner(fake_slack, C_ENG)
    install_config()
    alice_is_away_this_week(client, fake_slack)

    home = open_home(client, fake_slack, PAT, "Ev_PAT_HOME_1")

    shown = shown_text(home)
    assert f"<@{ALICE}>" not in shown, shown
    assert "days left" not in shown and "Vacation" not in shown, shown
    assert OTHER_ORGANISATION in shown, shown


def test_the_shortcut_tells_someone_of_another_organisation_why_in_a_small_window(client, fake_slack):
    """README: someone who may not request and picks *Request time off* from the shortcuts menu is told why
    in a small window instead of the form."""
    add_partner(fake_slack, C_ENG)
    install_config()
    cache_pats_profile(client)
    fake_slack.clear_calls()

    payload = as_partner(shortcut_payload(user_id=PAT, callback_id=ids.REQUEST_SHORTCUT))
    assert post_interaction(client, payload).status_code == 200

    [window] = opened_views(fake_slack)
    assert window.get("callback_id") != ids.REQUEST_MODAL
    assert OTHER_ORGANISATION in json.dumps(window), window
    assert posted_requests(fake_slack) == []


def test_someone_of_another_organisation_in_the_requesters_channel_still_may_not_request(client, fake_slack):
    """The `requesters` policy is "everyone in #general"; #general is shared with Globex. Pat is in it but
    is not Acme's: the request is refused in words about Pat's organisation, and nothing reaches Acme's
    approvers."""
    add_partner(fake_slack, C_GENERAL, C_ENG)
    install_config(standard_config(requesters_channel=C_GENERAL))

    response = partner_command(client, "")
    told = [answered(response)]
    if fake_slack.last_call("views.open") is not None:  # a cold cache: the form opens, it is checked when sent
        view = opened_views(fake_slack)[-1]
        payload = as_partner(view_submission_payload(user_id=PAT, view=view,
                                                     values=request_values("vacation", MONDAY, WEDNESDAY)))
        sent = post_interaction(client, payload)
        told.append(sent.content.decode())

    told = "\n".join(told + [said_to(fake_slack, PAT)])
    assert posted_requests(fake_slack) == []
    assert OTHER_ORGANISATION in told and "may not request" not in told, told


@pytest.mark.parametrize("blip", [None, "internal_error", "fatal_error"])
def test_a_request_whose_profile_read_met_a_slack_blip_is_still_refused_for_someone_of_another_organisation(
        client, fake_slack, blip):
    """Slack failed for a moment when the app first asked who its own workspace is (auth.test), just as
    it read Pat's profile (Pat sits in #engineering). That says nothing of Pat: Pat must not pass for one
    of Acme's people for the day the profile is kept, and Pat's request must not be posted for Acme's
    approvers, as it is not when Slack does not fail."""
    add_partner(fake_slack, C_GENERAL, C_ENG)
    install_config()
    if blip:
        fake_slack.fail("auth.test", blip, times=3)

    response = partner_command(client, "", channel=C_ENG)
    told = [answered(response)]
    if fake_slack.last_call("views.open") is not None:
        view = opened_views(fake_slack)[-1]
        payload = as_partner(view_submission_payload(user_id=PAT, view=view,
                                                     values=request_values("vacation", MONDAY, WEDNESDAY)))
        told.append(post_interaction(client, payload).content.decode())

    assert posted_requests(fake_slack) == [], "Pat's leave request was posted for Acme's approvers"
    assert OTHER_ORGANISATION in "\n".join(told + [said_to(fake_slack, PAT)])


# --- In a team's approvers and approvals channels -------------------------------------------------


def test_the_request_and_its_receipt_name_only_acmes_approvers(client, fake_slack):
    """Pat sits in #eng-leads (the approvers channel) and #eng-approvals: Alice's receipt says her request
    is with Bob and Dave, never with Pat."""
    add_partner(fake_slack, C_ENG_LEADS, C_ENG_APPROVALS)
    install_config()

    request_time_off(client, fake_slack, ALICE)

    [posted] = posted_requests(fake_slack)
    assert f"<@{PAT}>" not in posted.params["text"] + json.dumps(posted.params["blocks"])
    [receipt] = [t for t in dms_to(fake_slack, ALICE) if "is with" in t]
    assert f"<@{BOB}>" in receipt and f"<@{PAT}>" not in receipt, receipt


def test_reject_pressed_by_someone_of_another_organisation_asks_for_no_reason_and_rejects_nothing(
        client, fake_slack):
    """Pat, in the shared approvers channel, presses Reject on Alice's request. The app already knows
    who Pat is (it left Pat out of the request's approvers): Pat is told, privately, that they are no
    approver for Engineering, rather than asked for a reason first; the request stays pending."""
    add_partner(fake_slack, C_ENG_LEADS, C_ENG_APPROVALS)
    install_config()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    fake_slack.clear_calls()

    partner_click(client, posted, ids.REJECT_ACTION)

    assert [v for v in opened_views(fake_slack) if v.get("callback_id") == ids.REJECT_MODAL] == []
    assert "not an approver for Engineering" in said_to(fake_slack, PAT), said_to(fake_slack, PAT)
    assert request_status(fake_slack)["status"] == "pending"


def test_a_reject_reason_sent_by_someone_of_another_organisation_rejects_nothing(client, fake_slack):
    """Whatever opened the reason form for Pat, sending it decides nothing: the request stays pending,
    Alice hears of no rejection, and Pat is told why."""
    add_partner(fake_slack, C_ENG_LEADS, C_ENG_APPROVALS)
    install_config()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    metadata = {"id": json.loads(buttons_in(posted.params["blocks"])[ids.REJECT_ACTION][1])["id"], "user": ALICE,
                "channel": posted.response["channel"], "ts": posted.response["ts"]}
    form = {"type": "modal", "callback_id": ids.REJECT_MODAL, "private_metadata": json.dumps(metadata),
            "title": {"type": "plain_text", "text": "Reject"}, "blocks": []}
    values = {ids.REASON_BLOCK: {ids.REASON_ACTION: {"type": "plain_text_input", "value": "We are not sure"}}}

    response = post_interaction(client, as_partner(view_submission_payload(user_id=PAT, view=form, values=values,
                                                                           view_id="V_PAT_WHY")))

    assert response.status_code == 200
    assert request_status(fake_slack)["status"] == "pending"
    assert not [t for t in dms_to(fake_slack, ALICE) if "rejected" in t.lower()], dms_to(fake_slack, ALICE)
    assert "not an approver" in said_to(fake_slack, PAT), said_to(fake_slack, PAT)


def test_app_home_of_someone_of_another_organisation_in_the_approvers_channel_lists_nothing_to_decide(
        client, fake_slack):
    add_partner(fake_slack, C_ENG_LEADS, C_ENG_APPROVALS)
    install_config()
    request_time_off(client, fake_slack, ALICE)

    home = open_home(client, fake_slack, PAT, "Ev_PAT_HOME_2")

    assert waiting_count(home) == 0, shown_text(home)
    assert ids.APPROVE_ACTION not in buttons_in(home.get("blocks"))
    assert f"<@{ALICE}>" not in shown_text(home)
    # Bob, an approver of Acme's, sees it waiting.
    assert waiting_count(open_home(client, fake_slack, BOB, "Ev_BOB_HOME_2")) == 1


def test_approve_pressed_on_app_home_by_someone_of_another_organisation_approves_nothing(client, fake_slack):
    """App Home's buttons behave as the channel's: a forged or stale Approve from Pat's tab is refused."""
    add_partner(fake_slack, C_ENG_LEADS, C_ENG_APPROVALS)
    install_config()
    request_time_off(client, fake_slack, ALICE)
    bobs = open_home(client, fake_slack, BOB, "Ev_BOB_HOME_3")
    block_id, value = buttons_in(bobs["blocks"])[ids.APPROVE_ACTION]

    payload = as_partner(view_block_actions_payload(user_id=PAT, action_id=ids.APPROVE_ACTION, value=value,
                                                    block_id=block_id, view=bobs, view_id="V_PAT_HOME"))
    assert post_interaction(client, payload).status_code == 200

    assert request_status(fake_slack)["status"] == "pending"
    assert not [t for t in dms_to(fake_slack, ALICE) if "approved" in t.lower()]
    assert "not an approver" in said_to(fake_slack, PAT), said_to(fake_slack, PAT)


@pytest.mark.parametrize("error", ["user_not_visible", "user_not_found"])
def test_someone_slack_will_not_show_in_the_approvers_channel_neither_is_named_nor_decides(
        client, fake_slack, monkeypatch, error):
    """A Slack Connect guest whom users.info will not show (`user_not_visible`, `user_not_found`) sits in
    #eng-leads and #eng-approvals. README: someone the channel lists whom Slack has no user for is
    refused."""
    hidden = "U0HIDDEN01"
    with fake_slack.workspace.lock:
        fake_slack.workspace.channels[C_ENG_LEADS].members.add(hidden)
        fake_slack.workspace.channels[C_ENG_APPROVALS].members.add(hidden)
        fake_slack.workspace.add_user(hidden, "hidden.partner", real_name="Hidden Partner")
    users_info = fake_server.METHODS["users.info"]

    def refusing(ws, params):
        if params.get("user") == hidden:
            raise fake_server.SlackError(error)
        return users_info(ws, params)

    monkeypatch.setitem(fake_server.METHODS, "users.info", refusing)
    install_config()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    assert f"<@{hidden}>" not in posted.params["text"]

    partner_click(client, posted, ids.APPROVE_ACTION, user=hidden)

    assert request_status(fake_slack)["status"] == "pending"
    assert "not an approver for Engineering" in said_to(fake_slack, hidden), said_to(fake_slack, hidden)


def test_someone_of_another_organisation_in_the_approvers_channel_is_not_nudged(client, fake_slack):
    """A request waits past `nudge_after_hours`: Bob is nudged by DM; Pat, in the same shared approvers
    channel, is never DMed about Alice's leave."""
    add_partner(fake_slack, C_ENG_LEADS, C_ENG_APPROVALS)
    install_config(standard_config(teams=(replace(ENGINEERING, nudge_after_hours=48),)))
    now = datetime(2031, 3, 11, 10, 0, tzinfo=LA)  # a Tuesday
    post_entry(fake_slack, pending_of(ALICE), ts=f"{now.timestamp() - 72 * 3600:.6f}")

    run_jobs(now, "--team", "Engineering")

    assert [t for t in dms_to(fake_slack, BOB) if "waiting for a decision" in t], dms_to(fake_slack, BOB)
    assert dms_to(fake_slack, PAT) == []


# --- Named among the fallback approvers (HR) ------------------------------------------------------

WITH_PAT_AS_HR = dict(fallback_approvers=(HR, PAT))


def pending_of(user: str, start: date = MONDAY, end: date = WEDNESDAY) -> LedgerEntry:
    return LedgerEntry(id=f"{user}-{start}-pending", user=user, team="Engineering", leave_type="vacation",
                       start=start, end=end, start_half=None, end_half=None, days=Decimal(3), status="pending",
                       decided_by=None)


def test_a_team_without_approvers_goes_to_acmes_hr_and_not_to_someone_of_another_organisation(client, fake_slack):
    """Engineering's only approver is Bob, who asks for leave himself: it falls to the fallback approvers,
    of whom only Hannah is Acme's. She is named and decides; Pat is neither named nor may decide."""
    add_partner(fake_slack, C_GENERAL, C_ENG_APPROVALS)
    install_config(standard_config(teams=(replace(ENGINEERING, approvers=ApproverSource(users=(BOB,))),),
                                   **WITH_PAT_AS_HR))
    request_time_off(client, fake_slack, BOB)
    [posted] = posted_requests(fake_slack)
    assert f"<@{HR}>" in posted.params["text"] and f"<@{PAT}>" not in posted.params["text"]

    partner_click(client, posted, ids.APPROVE_ACTION)
    assert request_status(fake_slack)["status"] == "pending"
    assert "not an approver" in said_to(fake_slack, PAT), said_to(fake_slack, PAT)

    click(client, fake_slack, HR, ids.APPROVE_ACTION, posted)
    assert request_status(fake_slack)["decided_by"] == HR


# --- What reaches the team's channel --------------------------------------------------------------


def test_the_weekly_digest_names_the_teams_people_and_none_of_the_partners_in_its_channel(client, fake_slack):
    """#engineering (members and announcements) is shared with Globex. The weekly digest says who of
    Engineering is out; Pat, in the channel, is not counted among the team's people nor named."""
    add_partner(fake_slack, C_ENG)
    install_config(standard_config(teams=(replace(ENGINEERING, digest_time=datetime(2031, 1, 1, 9).time()),)))
    monday = date(2031, 3, 10)
    away = LedgerEntry(id="alice-away", user=ALICE, team="Engineering", leave_type="vacation", start=monday,
                       end=monday + timedelta(days=2), start_half=None, end_half=None, days=Decimal(3),
                       status="approved", decided_by=BOB)
    post_entry(fake_slack, away)

    run_jobs(datetime(2031, 3, 10, 9, 30, tzinfo=LA), "--team", "Engineering")

    digests = [c.params["text"] + json.dumps(c.params.get("blocks") or []) for c in fake_slack.calls("chat.postMessage")
               if c.params.get("channel") == C_ENG]
    assert digests and f"<@{ALICE}>" in digests[-1], digests
    assert f"<@{PAT}>" not in digests[-1] and "Pat" not in digests[-1], digests
    assert dms_to(fake_slack, PAT) == []
