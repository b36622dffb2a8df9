"""Enterprise Grid, org-wide installs and Slack Connect, with payloads shaped as Slack's documentation
shows them.

On Enterprise Grid, user ids start with W, slash commands carry `enterprise_id`, `enterprise_name` and
`is_enterprise_install`, interaction payloads carry `enterprise` and `is_enterprise_install`, and on an
org-wide install `team` is null and `user.team_id` names the organisation (an E id). Events carry
`enterprise_id`, `context_team_id`, `is_ext_shared_channel` and `authorizations`; an org-wide install's
`auth.test` names the organisation as its `team_id`. People of another organisation reach the app through
channels shared with Slack Connect (`users.info` gives their own `team_id`, `is_stranger`), and guests
(`is_restricted`, `is_ultra_restricted`) are invited to a few channels.

Covered: the whole flow (request, approve, reject, list, App Home) for W people through Grid-shaped
payloads, on a workspace install in a Grid org and on an org-wide install; who of other organisations
and guests may decide, and what someone of another organisation is told when they type `/timeoff`;
events from shared channels; `tokens_revoked` and `app_uninstalled` in Grid shape; W ids in mentions and
in typed text.
"""

import json
import time
from dataclasses import dataclass, field, replace
from urllib.parse import urlencode

import pytest

from approvals import block_ids as ids
from approvals.config_file import parse_config
from approvals.config_store import config_apply
from approvals.installation import slack_access_lost
from fake_slack import server as fake_server
from fake_slack.personas import C_ENG, C_ENG_APPROVALS, C_ENG_LEADS, C_GENERAL, PEOPLE, seed
from fake_slack.workspace import User
from test_support.flows import (
    ENGINEERING,
    MONDAY,
    WEDNESDAY,
    buttons_in,
    dms_to,
    ephemerals_to,
    install_config,
    metadata_payload,
    posted_requests,
    request_values,
    standard_config,
)
from test_support.slack_requests import (
    APP_ID,
    SLACK_TEAM,
    command_fields,
    new_trigger_id,
    post_event,
    post_interaction,
    post_signed,
)

pytestmark = pytest.mark.django_db

ORG = "E0ACME0001"
ORG_NAME = "Acme Corp"
SISTER_WORKSPACE = "T0ACMEEU01"  # another workspace of Acme's Grid org

ERIN = "W0ERIN0001"  # an employee in Engineering, on Grid
LIAM = "W0LIAM0001"  # Engineering's lead, on Grid
HANA = "W0HANA0001"  # HR, on Grid
NORA = "W0NORA0001"  # a colleague from Acme's European workspace, in #eng-leads

PARTNER = "U0PAT00001"  # Pat, of Globex (another organisation), in shared channels
PARTNER_TEAM = "T0GLOBEX01"
PARTNER_ORG = "E0GLOBEX01"


# --- The people, as users.info describes them ----------------------------------------------------


@dataclass
class SlackPerson(User):
    """A person as users.info describes them; `answer` replaces top-level fields of the fake's answer."""

    answer: dict = field(default_factory=dict)
    profile: dict = field(default_factory=dict)

    def to_api(self) -> dict:
        api = super().to_api()
        api["profile"] = {**api["profile"], **self.profile}
        api.update(self.answer)
        return api


def grid_answer(user_id: str, *, team: str = SLACK_TEAM, teams=(SLACK_TEAM,)) -> dict:
    """What users.info says of someone of Acme's Grid org (docs.slack.dev/reference/objects/user-object)."""
    return {"team_id": team, "enterprise_user": {"id": user_id, "enterprise_id": ORG, "enterprise_name": ORG_NAME,
                                                 "is_admin": False, "is_owner": False, "teams": list(teams)}}


def add_person(fake_slack, user_id, name, *, tz="UTC", email=None, answer=None, profile=None, channels=()):
    person = SlackPerson(user_id, name, name.title(), tz, None, email, answer=answer or {}, profile=profile or {})
    workspace = fake_slack.workspace
    with workspace.lock:
        workspace.users[user_id] = person
        for channel in channels:
            workspace.channels[channel].members.add(user_id)
    return person


def add_grid_people(fake_slack):
    add_person(fake_slack, ERIN, "erin", tz="America/Los_Angeles", email="erin@acme.example",
               answer=grid_answer(ERIN), channels=[C_ENG, C_GENERAL])
    add_person(fake_slack, LIAM, "liam", tz="Europe/London", email="liam@acme.example",
               answer=grid_answer(LIAM), channels=[C_ENG, C_ENG_APPROVALS, C_GENERAL])
    add_person(fake_slack, HANA, "hana", email="hana@acme.example", answer=grid_answer(HANA),
               channels=[C_ENG_APPROVALS, C_GENERAL])


def add_partner(fake_slack, channels, **answer):
    """Pat of Globex, in channels Acme shares with Globex through Slack Connect."""
    return add_person(fake_slack, PARTNER, "pat.globex", email="pat@globex.example",
                      answer={"team_id": PARTNER_TEAM, **answer}, profile={"team": PARTNER_TEAM}, channels=channels)


def grid_config(**team) -> None:
    """Engineering with Grid people: Erin a member, Liam its approver, Hana HR."""
    config_apply(config=parse_config({
        "version": 1,
        "requesters": {"users": [], "channel": None},
        "fallback_approvers": {"users": [HANA]},
        "teams": [{
            "name": "Engineering",
            "members": {"users": [ERIN], "channel": C_ENG, "usergroup": None},
            "approvers": {"users": [LIAM], "channel": C_ENG_LEADS},
            "approvals_channel": C_ENG_APPROVALS,
            "announce_channel": C_ENG,
            "holidays": {"country": "US", "subdivision": "CA"},
            "timezone": "America/Los_Angeles",
            **team,
        }],
        "leave_types": [{"code": "vacation", "name": "Vacation", "emoji": ":palm_tree:", "requires_approval": True,
                         "annual_allowance_days": 25, "allow_half_days": True}],
    }))


# --- Our installation, as auth.test describes it -------------------------------------------------


def auth_test_answer(*, team_id: str, enterprise_id: str | None, org_wide: bool):
    def auth_test(ws, params):
        bot = ws.users[ws.bot_user_id]
        answer = {"ok": True, "url": "https://acme.enterprise.slack.com/", "team": ORG_NAME if org_wide else "Acme",
                  "user": bot.name, "team_id": team_id, "user_id": bot.id, "bot_id": ws.bot_id,
                  "is_enterprise_install": org_wide}
        if enterprise_id:
            answer["enterprise_id"] = enterprise_id
        return answer
    return auth_test


@pytest.fixture
def grid_workspace(fake_slack, monkeypatch):
    """The app installed in Acme's workspace T_ACME of the Grid org E0ACME0001 (a workspace install)."""
    monkeypatch.setitem(fake_server.METHODS, "auth.test",
                        auth_test_answer(team_id=SLACK_TEAM, enterprise_id=ORG, org_wide=False))
    for user_id, *_ in PEOPLE:  # everyone of Acme is a member of the org
        fake_slack.workspace.users[user_id] = SlackPerson(
            **{k: getattr(fake_slack.workspace.users[user_id], k) for k in User.__dataclass_fields__},
            answer=grid_answer(user_id))
    add_grid_people(fake_slack)
    return fake_slack


ORG_BOT = "W0BOT00001"  # an org-wide install's bot user has a W id (oauth.v2.access: bot_user_id)


@pytest.fixture
def org_wide(fake_slack, monkeypatch):
    """The app installed on Acme's whole Grid org: auth.test names the org as its team, the bot is a W id."""
    workspace = fake_slack.workspace
    default_bot = workspace.bot_user_id
    workspace.bot_user_id = ORG_BOT
    workspace.reset()
    seed(workspace)
    monkeypatch.setitem(fake_server.METHODS, "auth.test", auth_test_answer(team_id=ORG, enterprise_id=ORG, org_wide=True))
    for user_id, *_ in PEOPLE:
        workspace.users[user_id] = SlackPerson(
            **{k: getattr(workspace.users[user_id], k) for k in User.__dataclass_fields__}, answer=grid_answer(user_id))
    add_grid_people(fake_slack)
    yield fake_slack
    workspace.bot_user_id = default_bot
    workspace.reset()


# --- Payloads, as Slack sends them on Grid ---------------------------------------------------------


def grid_command(client, text: str, *, user_id: str, org_wide: bool, team_id: str = SLACK_TEAM):
    """A slash command on Grid (docs.slack.dev/interactivity/implementing-slash-commands)."""
    fields = command_fields(text, user_id=user_id)
    fields.update(team_id=team_id, team_domain="acme", enterprise_id=ORG, enterprise_name=ORG_NAME,
                  is_enterprise_install="true" if org_wide else "false",
                  response_url=f"https://hooks.slack.com/commands/{ORG}/1/abc")
    return post_signed(client, "/slack/commands", urlencode(fields))


def grid_user(user_id: str, *, org_wide: bool, team_id: str = SLACK_TEAM) -> dict:
    # On an org-wide install `user.team_id` names the org (docs.slack.dev/reference/interaction-payloads).
    return {"id": user_id, "username": user_id.lower(), "name": user_id.lower(), "team_id": ORG if org_wide else team_id}


def grid_team(org_wide: bool, team_id: str = SLACK_TEAM) -> dict | None:
    if org_wide:
        return None
    return {"id": team_id, "domain": "acme", "enterprise_id": ORG, "enterprise_name": ORG_NAME}


def grid_interaction(payload: dict, *, user_id: str, org_wide: bool, team_id: str = SLACK_TEAM) -> dict:
    return {**payload, "user": grid_user(user_id, org_wide=org_wide, team_id=team_id),
            "team": grid_team(org_wide, team_id), "enterprise": {"id": ORG, "name": ORG_NAME},
            "is_enterprise_install": org_wide, "api_app_id": APP_ID, "token": "verification-token-unused"}


def grid_submission(user_id: str, view: dict, values: dict, *, org_wide: bool, view_id: str = "V_GRID1") -> dict:
    submitted = {**view, "id": view_id, "hash": f"h-{view_id}", "team_id": None if org_wide else SLACK_TEAM,
                 "app_id": APP_ID, "state": {"values": values},
                 "private_metadata": view.get("private_metadata", ""), "callback_id": view.get("callback_id", "")}
    return grid_interaction({"type": "view_submission", "trigger_id": new_trigger_id(), "view": submitted,
                             "response_urls": []}, user_id=user_id, org_wide=org_wide)


def grid_click(user_id: str, posted_call, action_id: str, *, org_wide: bool, team_id: str = SLACK_TEAM,
               user: dict | None = None, team: dict | None = None) -> dict:
    """Approve or Reject pressed on the request message `posted_call` made."""
    block_id, value = buttons_in(posted_call.params["blocks"])[action_id]
    channel, ts = posted_call.response["channel"], posted_call.response["ts"]
    payload = grid_interaction({
        "type": "block_actions",
        "container": {"type": "message", "message_ts": ts, "channel_id": channel, "is_ephemeral": False},
        "trigger_id": new_trigger_id(),
        "channel": {"id": channel, "name": "eng-approvals"},
        "message": {"type": "message", "ts": ts, "text": "", "blocks": []},
        "response_url": f"https://hooks.slack.com/actions/{ORG}/1/x",
        "actions": [{"action_id": action_id, "block_id": block_id, "value": value, "type": "button",
                     "action_ts": f"{time.time():.6f}", "text": {"type": "plain_text", "text": "Approve"}}],
    }, user_id=user_id, org_wide=org_wide, team_id=team_id)
    if user is not None:
        payload["user"] = user
    if team is not None:
        payload["team"] = team
    return payload


def grid_envelope(event: dict, *, event_id: str, org_wide: bool, team_id: str = SLACK_TEAM,
                  bot_user: str = "U_BOT", shared: bool = False) -> dict:
    """An Events API callback on Grid (docs.slack.dev/apis/events-api, "authorizations")."""
    return {
        "token": "verification-token-unused",
        "team_id": team_id,
        "enterprise_id": ORG,
        "context_team_id": team_id,
        "context_enterprise_id": ORG,
        "api_app_id": APP_ID,
        "event": event,
        "type": "event_callback",
        "event_id": event_id,
        "event_time": int(time.time()),
        "event_context": f"4-{event_id}",
        "is_ext_shared_channel": shared,
        "authorizations": [{"enterprise_id": ORG, "team_id": None if org_wide else team_id, "user_id": bot_user,
                            "is_bot": True, "is_enterprise_install": org_wide}],
    }


def event_ts() -> str:
    return f"{time.time():.6f}"


# --- Reading what happened -------------------------------------------------------------------------


def the_request(fake_slack) -> dict:
    [message] = [m for m in fake_slack.workspace.messages(C_ENG_APPROVALS)
                 if m.metadata and m.metadata["event_type"] == "timeoff_request"]
    return message.metadata["event_payload"]


def home_of(fake_slack, user: str) -> str:
    call = [c for c in fake_slack.calls("views.publish") if c.params["user_id"] == user][-1]
    view = call.params["view"]
    return json.dumps(json.loads(view) if isinstance(view, str) else view)


def form_opened(fake_slack) -> dict:
    view = fake_slack.last_call("views.open").params["view"]
    return json.loads(view) if isinstance(view, str) else view


def grid_request(client, fake_slack, user: str, *, org_wide: bool, note: str = "", view_id: str = "V_GRID1"):
    response = grid_command(client, "", user_id=user, org_wide=org_wide)
    assert response.status_code == 200 and response.content == b"", response.content
    values = request_values("vacation", MONDAY, WEDNESDAY, note=note)
    response = post_interaction(client, grid_submission(user, form_opened(fake_slack), values, org_wide=org_wide,
                                                        view_id=view_id))
    assert response.status_code == 200 and response.content == b"", response.content


# --- A Grid org: the whole flow with W ids -------------------------------------------------------


@pytest.mark.parametrize("install", ["workspace", "org-wide"])
def test_w_people_request_approve_list_and_see_app_home_through_grid_payloads(client, request, install):
    org_wide = install == "org-wide"
    fake_slack = request.getfixturevalue("org_wide" if org_wide else "grid_workspace")
    grid_config()

    grid_request(client, fake_slack, ERIN, org_wide=org_wide, note="Family wedding")

    [posted] = posted_requests(fake_slack)
    assert metadata_payload(posted)["user"] == ERIN
    assert f"<@{LIAM}>" in posted.params["text"]  # the approver is mentioned by their W id
    response = post_interaction(client, grid_click(LIAM, posted, ids.APPROVE_ACTION, org_wide=org_wide))
    assert response.status_code == 200

    decided = the_request(fake_slack)
    assert (decided["status"], decided["decided_by"]) == ("approved", LIAM)
    assert [t for t in dms_to(fake_slack, ERIN) if "approved" in t.lower()]
    listed = grid_command(client, "list", user_id=ERIN, org_wide=org_wide)
    assert listed.status_code == 200
    assert listed.json()["text"] == "Your time off: 0 pending, 1 coming up.", listed.json()

    envelope = grid_envelope({"type": "app_home_opened", "user": ERIN, "channel": "D0ERIN", "tab": "home",
                              "event_ts": event_ts()}, event_id="Ev0GRIDHOME1", org_wide=org_wide,
                             bot_user=fake_slack.workspace.bot_user_id)
    assert post_event(client, envelope).status_code == 200
    assert "Vacation" in home_of(fake_slack, ERIN)


@pytest.mark.parametrize("install", ["workspace", "org-wide"])
def test_a_w_approver_rejects_with_a_reason_through_grid_payloads(client, request, install):
    org_wide = install == "org-wide"
    fake_slack = request.getfixturevalue("org_wide" if org_wide else "grid_workspace")
    grid_config()
    grid_request(client, fake_slack, ERIN, org_wide=org_wide)
    [posted] = posted_requests(fake_slack)

    response = post_interaction(client, grid_click(LIAM, posted, ids.REJECT_ACTION, org_wide=org_wide))
    assert response.status_code == 200
    reason_form = form_opened(fake_slack)
    [reason_block] = [b for b in reason_form["blocks"] if b.get("type") == "input"]
    values = {reason_block["block_id"]: {reason_block["element"]["action_id"]: {"type": "plain_text_input",
                                                                                "value": "Release week"}}}
    response = post_interaction(client, grid_submission(LIAM, reason_form, values, org_wide=org_wide, view_id="V_WHY"))
    assert response.status_code == 200, response.content

    decided = the_request(fake_slack)
    assert (decided["status"], decided["decided_by"]) == ("rejected", LIAM)
    assert [t for t in dms_to(fake_slack, ERIN) if "Release week" in t]


def test_a_colleague_of_another_workspace_of_our_grid_org_in_the_approvers_channel_may_approve(
        client, grid_workspace):
    fake_slack = grid_workspace
    add_person(fake_slack, NORA, "nora", email="nora@acme.example",
               answer=grid_answer(NORA, team=SISTER_WORKSPACE, teams=(SISTER_WORKSPACE, SLACK_TEAM)),
               channels=[C_ENG_LEADS, C_ENG_APPROVALS])
    grid_config()
    grid_request(client, fake_slack, ERIN, org_wide=False)
    [posted] = posted_requests(fake_slack)
    assert f"<@{NORA}>" in posted.params["text"]

    click = grid_click(NORA, posted, ids.APPROVE_ACTION, org_wide=False, team_id=SISTER_WORKSPACE)
    assert post_interaction(client, click).status_code == 200

    assert (the_request(fake_slack)["status"], the_request(fake_slack)["decided_by"]) == ("approved", NORA)


def test_hr_records_leave_for_a_w_person_named_by_slacks_escaped_mention(client, grid_workspace):
    fake_slack = grid_workspace
    grid_config()

    response = grid_command(client, f"for <@{ERIN}|erin> {MONDAY} {WEDNESDAY} vacation", user_id=HANA, org_wide=False)
    assert response.status_code == 200 and response.content == b"", response.content
    form = form_opened(fake_slack)
    response = post_interaction(client, grid_submission(HANA, form, request_values("vacation", MONDAY, WEDNESDAY),
                                                        org_wide=False, view_id="V_FOR"))
    assert response.status_code == 200, response.content

    entry = the_request(fake_slack)
    assert (entry["user"], entry["status"], entry.get("recorded_by")) == (ERIN, "approved", HANA)
    assert [t for t in dms_to(fake_slack, ERIN) if "recorded" in t]


# --- Slack Connect: people of another organisation ----------------------------------------------


def partner_click(posted, *, grid_partner: bool) -> dict:
    partner_team = {"id": PARTNER_TEAM, "domain": "globex"}
    if grid_partner:
        partner_team |= {"enterprise_id": PARTNER_ORG, "enterprise_name": "Globex"}
    return grid_click(PARTNER, posted, ids.APPROVE_ACTION, org_wide=False,
                      user={"id": PARTNER, "username": "pat.globex", "name": "pat.globex", "team_id": PARTNER_TEAM},
                      team=partner_team)


@pytest.mark.parametrize("shape", ["plain", "stranger", "their-own-grid-org"])
def test_someone_of_another_organisation_in_the_shared_approvers_channel_cannot_approve_in_a_grid_org(
        client, grid_workspace, shape):
    fake_slack = grid_workspace
    answer = {}
    if shape == "stranger":
        answer = {"is_stranger": True}
    elif shape == "their-own-grid-org":
        answer = {"enterprise_user": {"id": PARTNER, "enterprise_id": PARTNER_ORG, "enterprise_name": "Globex",
                                      "is_admin": False, "is_owner": False, "teams": [PARTNER_TEAM]}}
    add_partner(fake_slack, [C_ENG_LEADS, C_ENG_APPROVALS], **answer)
    grid_config()
    grid_request(client, fake_slack, ERIN, org_wide=False)
    [posted] = posted_requests(fake_slack)
    assert f"<@{PARTNER}>" not in posted.params["text"]

    response = post_interaction(client, partner_click(posted, grid_partner=shape == "their-own-grid-org"))
    assert response.status_code == 200

    assert the_request(fake_slack)["status"] == "pending"
    assert [t for t in ephemerals_to(fake_slack, PARTNER) if "not an approver for Engineering" in t]


def test_someone_of_another_organisation_cannot_approve_on_an_org_wide_install(client, org_wide):
    fake_slack = org_wide
    add_partner(fake_slack, [C_ENG_LEADS, C_ENG_APPROVALS])
    grid_config()
    grid_request(client, fake_slack, ERIN, org_wide=True)
    [posted] = posted_requests(fake_slack)

    assert post_interaction(client, partner_click(posted, grid_partner=False)).status_code == 200

    assert the_request(fake_slack)["status"] == "pending"
    assert [t for t in ephemerals_to(fake_slack, PARTNER) if "not an approver" in t]


def partners_timeoff(client, words: str = "") -> dict:
    fields = command_fields(words, user_id=PARTNER, channel_id=C_GENERAL)
    fields.update(team_id=PARTNER_TEAM, team_domain="globex", is_enterprise_install="false")
    response = post_signed(client, "/slack/commands", urlencode(fields))
    assert response.status_code == 200, response.content
    return response


@pytest.mark.parametrize("words", ["", "balance", "list"])
def test_someone_of_another_organisation_typing_timeoff_is_not_sent_to_acmes_hr_to_join_a_team(
        client, fake_slack, words):
    """Pat of Globex types /timeoff in #general, which Acme shares with Globex. Acme's leave is not Pat's:
    telling them to ask Acme's HR to add them to one of Acme's teams sends them on a wrong errand."""
    add_partner(fake_slack, [C_GENERAL])
    install_config()

    response = partners_timeoff(client, words)
    told = [response.json()["text"]] if response.content else []
    if fake_slack.last_call("views.open") is not None:  # the form opened on a cold cache: Pat fills it in
        submitted = post_interaction(client, grid_submission(
            PARTNER, form_opened(fake_slack), request_values("vacation", MONDAY, WEDNESDAY), org_wide=False))
        told += [json.dumps(submitted.json())] if submitted.content else []
    told = "\n".join(told + dms_to(fake_slack, PARTNER))

    assert posted_requests(fake_slack) == []
    assert told, "Pat was told nothing"
    assert "add you to a team" not in told, told
    assert "from another organisation" in told and "ask your own company" in told, told
    if words == "list":  # asked again, from the warm cache: the same answer, at once
        again = partners_timeoff(client, words).json()["text"]
        assert "from another organisation" in again and "0 pending" not in again, again


def test_someone_of_another_organisation_does_not_fall_into_the_default_team(client, fake_slack):
    """A default team catches Acme's people who are in no team's list; Pat of Globex is not one of them, and
    their leave is not for Acme's approvers to decide nor for Acme's team channel to hear of."""
    add_partner(fake_slack, [C_GENERAL])
    install_config(standard_config(teams=(replace(ENGINEERING, default=True),)))
    response = partners_timeoff(client)  # on a cold cache the form opens; it is checked when sent
    told = [response.json()["text"]] if response.content else []
    if fake_slack.last_call("views.open") is not None:
        submitted = post_interaction(client, grid_submission(
            PARTNER, form_opened(fake_slack), request_values("vacation", MONDAY, WEDNESDAY), org_wide=False))
        told += [json.dumps(submitted.json())] if submitted.content else []

    assert [metadata_payload(c)["user"] for c in posted_requests(fake_slack)] == [], \
        "a person of another organisation's leave request was posted for Acme's approvers"
    told = "\n".join(told + dms_to(fake_slack, PARTNER))
    assert "from another organisation" in told, told


def test_someone_of_another_organisation_whose_profile_the_cache_lost_is_refused_by_the_delivery(client, fake_slack):
    """The form was open long enough for the cached profile to lapse: the submission is accepted on what
    the cache knows (the default team), and the delivery, which asks Slack who Pat is, refuses it by DM."""
    from django.core.cache import cache

    from approvals import directory
    add_partner(fake_slack, [C_GENERAL])
    install_config(standard_config(teams=(replace(ENGINEERING, default=True),)))
    post_signed(client, "/slack/commands", urlencode(command_fields("", user_id="U_ALICE")))  # Acme's own: form opens
    view = form_opened(fake_slack)
    cache.delete(directory.profile_key(PARTNER))

    submitted = post_interaction(client, grid_submission(PARTNER, view, request_values("vacation", MONDAY, WEDNESDAY),
                                                         org_wide=False))

    assert submitted.status_code == 200
    assert posted_requests(fake_slack) == []
    assert any("from another organisation" in dm for dm in dms_to(fake_slack, PARTNER)), dms_to(fake_slack, PARTNER)


@pytest.mark.parametrize("guest", [{"is_restricted": True, "is_ultra_restricted": False},
                                   {"is_restricted": True, "is_ultra_restricted": True}],
                         ids=["multi-channel-guest", "single-channel-guest"])
def test_a_grid_guest_with_a_w_id_in_the_approvers_channel_cannot_approve(client, grid_workspace, guest):
    fake_slack = grid_workspace
    add_person(fake_slack, "W0GUEST001", "gwen", email="gwen@contractor.example",
               answer={**grid_answer("W0GUEST001"), **guest}, channels=[C_ENG_LEADS, C_ENG_APPROVALS])
    grid_config()
    grid_request(client, fake_slack, ERIN, org_wide=False)
    [posted] = posted_requests(fake_slack)
    assert "<@W0GUEST001>" not in posted.params["text"]

    assert post_interaction(client, grid_click("W0GUEST001", posted, ids.APPROVE_ACTION,
                                               org_wide=False)).status_code == 200

    assert the_request(fake_slack)["status"] == "pending"
    assert [t for t in ephemerals_to(fake_slack, "W0GUEST001") if "not an approver" in t]


# --- Events from shared channels and Grid envelopes ---------------------------------------------


def test_someone_joining_a_slack_connect_members_channel_may_request_at_once(client, grid_workspace):
    fake_slack = grid_workspace
    grid_config(members={"users": [], "channel": C_ENG, "usergroup": None})
    newcomer = "W0NEW00001"
    add_person(fake_slack, newcomer, "newt", answer=grid_answer(newcomer))
    grid_command(client, "balance", user_id=newcomer, org_wide=False)  # Slack's member list is read (and kept)
    assert [t for t in dms_to(fake_slack, newcomer) if "No team is configured for you" in t]

    fake_slack.workspace.channels[C_ENG].members.add(newcomer)
    event = {"type": "member_joined_channel", "user": newcomer, "channel": C_ENG, "channel_type": "C",
             "team": SLACK_TEAM, "event_ts": event_ts()}
    assert post_event(client, grid_envelope(event, event_id="Ev0JOIN0001", org_wide=False,
                                            shared=True)).status_code == 200

    grid_request(client, fake_slack, newcomer, org_wide=False)
    assert metadata_payload(posted_requests(fake_slack)[0])["user"] == newcomer


def test_a_partner_leaving_a_shared_channel_is_acknowledged_and_changes_nothing_for_acme(client, grid_workspace):
    fake_slack = grid_workspace
    add_partner(fake_slack, [C_ENG_LEADS])
    grid_config()
    grid_request(client, fake_slack, ERIN, org_wide=False)
    event = {"type": "member_left_channel", "user": PARTNER, "channel": C_ENG_LEADS, "channel_type": "G",
             "team": PARTNER_TEAM, "event_ts": event_ts()}
    envelope = grid_envelope(event, event_id="Ev0LEFT0001", org_wide=False, shared=True)
    envelope["context_team_id"] = PARTNER_TEAM

    assert post_event(client, envelope).status_code == 200
    assert slack_access_lost() is None
    assert the_request(fake_slack)["status"] == "pending"


def test_a_partners_account_deactivated_in_their_org_flags_nothing_of_acmes(client, grid_workspace):
    fake_slack = grid_workspace
    add_partner(fake_slack, [C_GENERAL])
    grid_config()
    grid_request(client, fake_slack, ERIN, org_wide=False)
    before = len(dms_to(fake_slack, HANA))
    user = {"id": PARTNER, "team_id": PARTNER_TEAM, "name": "pat.globex", "deleted": True, "is_bot": False,
            "profile": {"team": PARTNER_TEAM}}
    envelope = grid_envelope({"type": "user_change", "user": user, "cache_ts": int(time.time()),
                              "event_ts": event_ts()}, event_id="Ev0PATGONE1", org_wide=False, shared=True)

    assert post_event(client, envelope).status_code == 200
    assert len(dms_to(fake_slack, HANA)) == before
    assert slack_access_lost() is None


def know_ourselves() -> None:
    from approvals import directory
    from approvals.slack_clients import background_client
    assert directory.fetch_bot_user_id(background_client())


def test_our_org_wide_bot_token_revoked_stops_our_slack_calls(client, org_wide):
    """On an org-wide install auth.test names the org (E…) as our team, while an event's envelope names the
    workspace it happened in: tokens_revoked listing our own bot user is ours all the same."""
    grid_config()
    know_ourselves()
    event = {"type": "tokens_revoked", "tokens": {"bot": [ORG_BOT]}, "event_ts": event_ts()}

    response = post_event(client, grid_envelope(event, event_id="Ev0REVOKED1", org_wide=True, bot_user=ORG_BOT))

    assert response.status_code == 200
    assert slack_access_lost() == "tokens_revoked"


def test_our_org_wide_install_removed_stops_our_slack_calls(client, org_wide):
    """The envelope names the workspace it came through; its `authorizations` say it is for our org-wide
    install (our org, is_enterprise_install, our bot user)."""
    grid_config()
    know_ourselves()
    envelope = grid_envelope({"type": "app_uninstalled", "event_ts": event_ts()}, event_id="Ev0UNINST01",
                             org_wide=True, bot_user=ORG_BOT)

    assert post_event(client, envelope).status_code == 200
    assert slack_access_lost() == "app_uninstalled"


def test_the_app_uninstalled_from_a_sister_workspace_of_the_org_does_not_stop_ours(client, grid_workspace):
    """The same app installed workspace by workspace in one Grid org: each workspace's uninstall is its own."""
    grid_config()
    know_ourselves()
    envelope = grid_envelope({"type": "app_uninstalled", "event_ts": event_ts()}, event_id="Ev0SISTER01",
                             org_wide=False, team_id=SISTER_WORKSPACE, bot_user="U0SISTERBOT")

    assert post_event(client, envelope).status_code == 200
    assert slack_access_lost() is None


def test_our_workspace_install_in_a_grid_org_uninstalled_stops_our_calls(client, grid_workspace):
    grid_config()
    know_ourselves()
    envelope = grid_envelope({"type": "app_uninstalled", "event_ts": event_ts()}, event_id="Ev0OURS0001",
                             org_wide=False)

    assert post_event(client, envelope).status_code == 200
    assert slack_access_lost() == "app_uninstalled"


# --- W ids in messages -------------------------------------------------------------------------


def test_w_mentions_typed_in_a_note_do_not_ping_anyone(client, grid_workspace):
    fake_slack = grid_workspace
    grid_config()

    grid_request(client, fake_slack, ERIN, org_wide=False, note=f"cover: <@{HANA}> and <!subteam^S0ENG|eng>")

    [posted] = posted_requests(fake_slack)
    shown = json.dumps(posted.params["blocks"]) + posted.params["text"]
    assert f"<@{HANA}>" not in shown and "<!subteam" not in shown
    assert f"&lt;@{HANA}&gt;" in shown


def test_a_reject_reason_with_a_w_mention_reaches_the_requester_inert(client, grid_workspace):
    fake_slack = grid_workspace
    grid_config()
    grid_request(client, fake_slack, ERIN, org_wide=False)
    [posted] = posted_requests(fake_slack)
    post_interaction(client, grid_click(LIAM, posted, ids.REJECT_ACTION, org_wide=False))
    reason_form = form_opened(fake_slack)
    [reason_block] = [b for b in reason_form["blocks"] if b.get("type") == "input"]
    values = {reason_block["block_id"]: {reason_block["element"]["action_id"]: {
        "type": "plain_text_input", "value": f"ask <@{HANA}> first"}}}

    post_interaction(client, grid_submission(LIAM, reason_form, values, org_wide=False, view_id="V_WHY"))

    [dm] = [t for t in dms_to(fake_slack, ERIN) if "first" in t]
    assert f"<@{HANA}>" not in dm and f"&lt;@{HANA}&gt;" in dm, dm


def test_the_approval_is_announced_naming_w_people_as_mentions(client, grid_workspace):
    fake_slack = grid_workspace
    grid_config()
    grid_request(client, fake_slack, ERIN, org_wide=False)
    [posted] = posted_requests(fake_slack)

    post_interaction(client, grid_click(LIAM, posted, ids.APPROVE_ACTION, org_wide=False))

    announced = [c.params["text"] for c in fake_slack.calls("chat.postMessage")
                 if c.params.get("channel") == C_ENG and not c.params.get("thread_ts")]
    assert [t for t in announced if f"<@{ERIN}>" in t], announced
    thread = [c.params["text"] for c in fake_slack.calls("chat.postMessage") if c.params.get("thread_ts")]
    assert [t for t in thread if f"<@{LIAM}>" in t], thread
