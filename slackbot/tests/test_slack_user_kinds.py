"""The kinds of Slack users and workspaces a real company has, end to end with payloads shaped as Slack
sends them.

Enterprise Grid people (ids starting with W, payloads carrying `enterprise` and `is_enterprise_install`),
guests (`is_restricted`, `is_ultra_restricted`), Slack Connect people of another organisation
(`team_id` not ours) in a shared approvers channel, people whose profile lacks a name or a time zone, two
people with the same name and people without an email address, as HR picks them in the console.
"""

import json
import re
from dataclasses import dataclass, field
from urllib.parse import urlencode

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from approvals import block_ids as ids
from approvals import slack_directory
from approvals.config_file import parse_config
from approvals.config_store import config_apply
from approvals.console_forms import PeopleField
from approvals.slack_clients import background_client
from fake_slack.personas import C_ENG, C_ENG_APPROVALS, C_ENG_LEADS
from fake_slack.workspace import User
from test_support.flows import (
    ALICE,
    MONDAY,
    WEDNESDAY,
    dms_to,
    ephemerals_to,
    install_config,
    metadata_payload,
    open_app_home,
    posted_requests,
    request_time_off,
    request_values,
)
from test_support.slack_requests import (
    APP_ID,
    SLACK_TEAM,
    command_fields,
    new_trigger_id,
    post_command,
    post_interaction,
    post_signed,
    view_submission_payload,
)

pytestmark = pytest.mark.django_db

ENTERPRISE = {"id": "E0ACME001", "name": "Acme Org"}


@dataclass
class SlackUser(User):
    """A person as users.info / users.list describe them, with the fields the fake leaves out or fills
    in otherwise: `answer` replaces top-level fields (None: null), `profile` profile fields, `missing` drops
    top-level keys."""

    answer: dict = field(default_factory=dict)
    profile: dict = field(default_factory=dict)
    missing: tuple = ()

    def to_api(self) -> dict:
        api = super().to_api()
        api["profile"] = {**api["profile"], **self.profile}
        api.update(self.answer)
        for key in self.missing:
            api.pop(key, None)
        return api


def add_person(fake_slack, user_id: str, name: str, *, real_name: str = "", email: str | None = None,
               tz: str = "UTC", answer=None, profile=None, missing=(), channels=()) -> SlackUser:
    workspace = fake_slack.workspace
    person = SlackUser(user_id, name, real_name, tz, None, email, answer=answer or {}, profile=profile or {},
                       missing=tuple(missing))
    with workspace.lock:
        workspace.users[user_id] = person
        for channel in channels:
            workspace.channels[channel].members.add(user_id)
    return person


def decision_click(posted, *, user: dict, team: dict | None, action_id: str = ids.APPROVE_ACTION,
                   enterprise: dict | None = None) -> dict:
    """Approve (or Reject) pressed on the request message `posted` made, by `user` (Slack's `user`
    object: id, and the home `team_id` Slack gives it), in the payload's `team`."""
    buttons = [b for b in posted.params["blocks"] if b.get("type") == "actions"][0]["elements"]
    value = next(b["value"] for b in buttons if b["action_id"] == action_id)
    channel, ts = posted.response["channel"], posted.response["ts"]
    return {
        "type": "block_actions",
        "user": user,
        "api_app_id": APP_ID,
        "token": "verification-token-unused",
        "container": {"type": "message", "message_ts": ts, "channel_id": channel, "is_ephemeral": False},
        "trigger_id": new_trigger_id(),
        "team": team,
        "enterprise": enterprise,
        "is_enterprise_install": enterprise is not None,
        "channel": {"id": channel, "name": "eng-approvals"},
        "message": {"type": "message", "ts": ts, "text": "", "blocks": []},
        "response_url": "https://hooks.slack.com/actions/T_ACME/1/x",
        "actions": [{"action_id": action_id, "block_id": ids.DECISION_BLOCK, "value": value, "type": "button",
                     "action_ts": "1766000000.000001", "text": {"type": "plain_text", "text": "Approve"}}],
    }


def status_now(fake_slack) -> dict:
    [message] = [m for m in fake_slack.workspace.messages(C_ENG_APPROVALS) if m.metadata]
    return message.metadata["event_payload"]


def base_config(**team) -> dict:
    """The configuration file (DESIGN §4) of one team, Engineering."""
    return {
        "version": 1,
        "requesters": {"users": [], "channel": None},
        "fallback_approvers": {"users": ["U_HR"]},
        "teams": [{
            "name": "Engineering",
            "members": {"users": [], "channel": C_ENG, "usergroup": None},
            "approvers": {"users": ["U_BOB"], "channel": C_ENG_LEADS},
            "approvals_channel": C_ENG_APPROVALS,
            "announce_channel": C_ENG,
            "holidays": {"country": "US", "subdivision": "CA"},
            "timezone": "America/Los_Angeles",
            **team,
        }],
        "leave_types": [{"code": "vacation", "name": "Vacation", "emoji": ":palm_tree:", "requires_approval": True,
                         "annual_allowance_days": 25, "allow_half_days": True}],
    }


# --- Enterprise Grid: W ids everywhere U ids go ---------------------------------------------------

W_EMPLOYEE = "W0123ABCD"
W_LEAD = "W0456EFGH"
W_HR = "W0789IJKL"


def test_enterprise_grid_people_with_w_ids_request_and_approve_through_grid_payloads(client, fake_slack):
    grid = {"team_id": SLACK_TEAM, "enterprise_user": {"id": "W", "enterprise_id": ENTERPRISE["id"],
                                                       "enterprise_name": ENTERPRISE["name"], "is_admin": False,
                                                       "is_owner": False, "teams": [SLACK_TEAM, "T0OTHERWS"]}}
    add_person(fake_slack, W_EMPLOYEE, "erin", real_name="Erin Grid", email="erin@example.com",
               tz="America/Los_Angeles", answer=grid)
    add_person(fake_slack, W_LEAD, "liam", real_name="Liam Grid", email="liam@example.com", answer=grid)
    add_person(fake_slack, W_HR, "hana", real_name="Hana Grid", email="hana@example.com", answer=grid)
    # Every place the file takes a user id, with W ids: requesters, fallback approvers, members, approvers.
    data = base_config(members={"users": [W_EMPLOYEE], "channel": None, "usergroup": None},
                       approvers={"users": [W_LEAD], "channel": None})
    data["requesters"] = {"users": [W_EMPLOYEE, W_LEAD], "channel": None}
    data["fallback_approvers"] = {"users": [W_HR]}
    config_apply(config=parse_config(data))

    # /timeoff from another workspace of the org, on an org-wide install.
    fields = command_fields("", user_id=W_EMPLOYEE)
    fields.update(team_id="T0OTHERWS", enterprise_id=ENTERPRISE["id"], enterprise_name=ENTERPRISE["name"],
                  is_enterprise_install="true")
    response = post_signed(client, "/slack/commands", urlencode(fields))
    assert response.status_code == 200 and response.content == b"", response.content
    view = fake_slack.last_call("views.open").params["view"]
    view = json.loads(view) if isinstance(view, str) else view
    payload = view_submission_payload(user_id=W_EMPLOYEE, view=view,
                                      values=request_values("vacation", MONDAY, WEDNESDAY))
    payload.update(enterprise=ENTERPRISE, is_enterprise_install=True, team=None)
    payload["user"] = {**payload["user"], "team_id": "T0OTHERWS"}
    assert post_interaction(client, payload).status_code == 200

    [posted] = posted_requests(fake_slack)
    assert metadata_payload(posted)["user"] == W_EMPLOYEE
    assert f"<@{W_LEAD}>" in posted.params["text"]
    click = decision_click(posted, user={"id": W_LEAD, "username": "liam", "team_id": "T0OTHERWS"}, team=None,
                           enterprise=ENTERPRISE)
    assert post_interaction(client, click).status_code == 200

    decided = status_now(fake_slack)
    assert (decided["status"], decided["decided_by"]) == ("approved", W_LEAD)
    assert any("approved" in text.lower() for text in dms_to(fake_slack, W_EMPLOYEE))


def test_the_console_person_picker_takes_w_ids_and_names_of_grid_people(fake_slack):
    add_person(fake_slack, W_EMPLOYEE, "erin", real_name="Erin Grid", email="erin@example.com")
    directory = slack_directory.directory_refresh(background_client())
    picker = PeopleField(directory=directory)

    assert picker.clean(f"{W_EMPLOYEE}, <@{W_EMPLOYEE}|erin>, erin@example.com, @erin, Erin Grid") == [W_EMPLOYEE]
    assert picker.clean("W0NOTLISTED1") == ["W0NOTLISTED1"]  # not listed yet: taken as typed, as U ids are
    assert picker.prepare_value([W_EMPLOYEE]) == "erin@example.com"


# --- Slack Connect: people of another organisation in a shared channel ----------------------------

PARTNER = "U0PARTNER1"  # a person of Globex, another organisation, in Acme's shared #eng-leads
PARTNER_TEAM = "T0GLOBEX1"


def add_partner(fake_slack, channels):
    return add_person(fake_slack, PARTNER, "pat.globex", real_name="Pat (Globex)", email="pat@globex.example",
                      answer={"team_id": PARTNER_TEAM, "is_stranger": False},
                      profile={"team": PARTNER_TEAM}, channels=channels)


def test_someone_of_another_organisation_in_a_shared_approvers_channel_cannot_approve(client, fake_slack):
    # #eng-leads is shared with a partner company through Slack Connect: its member list holds their
    # people too. They are not Acme's employees and may not decide Acme's leave.
    add_partner(fake_slack, channels=[C_ENG_LEADS, C_ENG_APPROVALS])
    install_config()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)

    click = decision_click(posted, user={"id": PARTNER, "username": "pat.globex", "team_id": PARTNER_TEAM},
                           team={"id": PARTNER_TEAM, "domain": "globex"})
    assert post_interaction(client, click).status_code == 200

    assert status_now(fake_slack)["status"] == "pending"
    assert [t for t in ephemerals_to(fake_slack, PARTNER) + dms_to(fake_slack, PARTNER) if "approver" in t]
    assert f"<@{PARTNER}>" not in posted.params["text"]  # nor is named as one of the approvers


def test_someone_of_another_organisation_in_a_shared_approvals_channel_is_told_they_are_no_approver(
        client, fake_slack):
    add_partner(fake_slack, channels=[C_ENG_APPROVALS])
    install_config()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)

    click = decision_click(posted, user={"id": PARTNER, "username": "pat.globex", "team_id": PARTNER_TEAM},
                           team={"id": PARTNER_TEAM, "domain": "globex"})
    assert post_interaction(client, click).status_code == 200

    assert status_now(fake_slack)["status"] == "pending"
    assert [t for t in ephemerals_to(fake_slack, PARTNER) if "not an approver for Engineering" in t]


# --- Guests ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("guest", [{"is_restricted": True, "is_ultra_restricted": False},
                                   {"is_restricted": True, "is_ultra_restricted": True}],
                         ids=["multi-channel-guest", "single-channel-guest"])
def test_a_guest_in_the_teams_channel_requests_like_anyone_when_everyone_may_request(client, fake_slack, guest):
    add_person(fake_slack, "U0GUEST01", "gus", real_name="Gus Guest", email="gus@contractor.example",
               answer=guest, channels=[C_ENG])
    install_config()

    request_time_off(client, fake_slack, "U0GUEST01")

    [posted] = posted_requests(fake_slack)
    assert metadata_payload(posted)["user"] == "U0GUEST01"
    assert post_command(client, "list", user_id="U0GUEST01").json()["text"].startswith("Your time off: 1 pending")


@pytest.mark.parametrize("guest", [{"is_restricted": True, "is_ultra_restricted": False},
                                   {"is_restricted": True, "is_ultra_restricted": True}],
                         ids=["multi-channel-guest", "single-channel-guest"])
def test_a_guest_in_the_approvers_channel_cannot_approve_nor_is_named_as_an_approver(client, fake_slack, guest):
    # A contractor invited to #eng-leads (and to the approvals channel, to follow along) is no approver.
    add_person(fake_slack, "U0GUEST02", "gwen", real_name="Gwen Guest", email="gwen@contractor.example",
               answer=guest, channels=[C_ENG_LEADS, C_ENG_APPROVALS])
    install_config()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    assert "<@U0GUEST02>" not in posted.params["text"]

    click = decision_click(posted, user={"id": "U0GUEST02", "username": "gwen", "team_id": SLACK_TEAM},
                           team={"id": SLACK_TEAM, "domain": "acme"})
    assert post_interaction(client, click).status_code == 200

    assert status_now(fake_slack)["status"] == "pending"
    assert [t for t in ephemerals_to(fake_slack, "U0GUEST02") + dms_to(fake_slack, "U0GUEST02") if "approver" in t]


# --- Profiles with less in them ---------------------------------------------------------------------


@pytest.mark.parametrize("shape", ["tz-null", "tz-missing", "tz-offset-only"])
def test_someone_whose_profile_has_no_name_or_time_zone_requests_and_sees_their_leave(client, fake_slack, shape):
    # No name beyond the handle and an empty profile: users.list and users.info may answer so for an
    # account still being set up.
    answer = {"real_name": None, "profile": {}}
    missing: tuple = ()
    if shape == "tz-null":
        answer |= {"tz": None, "tz_label": None, "tz_offset": None}
    elif shape == "tz-missing":
        missing = ("tz", "tz_label", "tz_offset")
    else:
        answer |= {"tz": None, "tz_label": None}
        missing = ("tz",)
    add_person(fake_slack, "U0NOPROF1", "np", answer=answer, missing=missing, channels=[C_ENG])
    install_config()

    request_time_off(client, fake_slack, "U0NOPROF1")

    [posted] = posted_requests(fake_slack)
    assert metadata_payload(posted)["user"] == "U0NOPROF1"
    assert post_command(client, "list", user_id="U0NOPROF1").status_code == 200
    assert post_command(client, "balance", user_id="U0NOPROF1").status_code == 200
    home = open_app_home(client, fake_slack, "U0NOPROF1", event_id="Ev_NOPROF")
    assert home["type"] == "home"
    directory = slack_directory.directory_refresh(background_client())
    assert directory.person_label("U0NOPROF1") == "np"


# --- The console: two people of one name, people without an email address ------------------------


@pytest.fixture
def hr_client(client, django_user_model, fake_slack):
    hannah = django_user_model.objects.create_user("hannah", "hannah@example.com", "a-long-test-password",
                                                   is_staff=True)
    hannah.user_permissions.add(Permission.objects.get(codename="record_adjustment"),
                                Permission.objects.get(codename="view_leave_records"))
    client.force_login(hannah)
    return client


def test_an_email_less_person_picked_from_the_suggestions_is_saved_and_saved_again(hr_client, fake_slack):
    # Alex's handle is "alex" and Slack has no email address for them; Alexandra chose "Alex" as her
    # display name. HR types "alex" and picks Alex Adams from the suggestions.
    add_person(fake_slack, "U0ALEX001", "alex", real_name="Alex Adams")
    add_person(fake_slack, "U0ALEXB01", "alexandra.b", real_name="Alexandra Brown", email="ab@example.com",
               profile={"display_name": "Alex", "display_name_normalized": "Alex"})
    directory = slack_directory.directory_refresh(background_client())
    suggestions = hr_client.get(reverse("console:suggest"), {"q": "alex", "kind": "people"}).json()["suggestions"]
    [picked] = [s for s in suggestions if s["id"] == "U0ALEX001"]

    picker = PeopleField(directory=directory)
    assert picker.clean(picked["value"]) == ["U0ALEX001"]
    # The saved approver is shown back in the form as the picker writes them; saving it unchanged works.
    assert picker.clean(picker.prepare_value(["U0ALEX001"])) == ["U0ALEX001"]


def test_two_people_of_one_name_are_told_apart_on_the_balances_page(hr_client, fake_slack):
    add_person(fake_slack, "U0KIM0001", "alex.kim", real_name="Alex Kim", email="alex.kim@example.com",
               channels=[C_ENG])
    add_person(fake_slack, "U0KIM0002", "akim", real_name="Alex Kim", email="akim@example.com", channels=[C_ENG])
    install_config()
    slack_directory.directory_refresh(background_client())
    hr_client.get(reverse("console:balances"), {"team": "Engineering"})  # memberships and the ledger are read

    page = hr_client.get(reverse("console:balances"), {"team": "Engineering"}).text

    rows = re.findall(r'<tr><th scope="row">(.*?)</th>', page, flags=re.S)
    kims = [row for row in rows if "Alex Kim" in row]
    assert len(kims) == 2, rows
    assert kims[0] != kims[1], f"HR cannot tell the two Alex Kims apart: {kims}"


@pytest.mark.parametrize("name", ["דנה כהן", "محمد علي", "Zoë 🌴 Ng", "Ｗｉｄｅ Ｎａｍｅ " + "x" * 70],
                         ids=["hebrew", "arabic", "emoji", "very-long"])
def test_a_person_is_found_by_a_right_to_left_emoji_or_very_long_name(fake_slack, name):
    add_person(fake_slack, "U0NAMED01", "named", real_name=name, email="named@example.com",
               profile={"display_name": "\u200f" + name})  # Slack clients add a right-to-left mark
    directory = slack_directory.directory_refresh(background_client())

    assert slack_directory.person_resolve(name, directory=directory).id == "U0NAMED01"
    assert [p.id for p in slack_directory.people_matching(name[:4], directory=directory)] == ["U0NAMED01"]
    assert directory.person_label("U0NAMED01") == name


# --- Bots and deactivated accounts in the approvers channel ---------------------------------------


@pytest.mark.parametrize("kind", ["another-apps-bot", "workflow-bot", "deactivated"])
def test_a_bot_or_a_deactivated_account_in_the_approvers_channel_cannot_approve(client, fake_slack, kind):
    answer = {"deleted": True} if kind == "deactivated" else {"is_bot": True}
    profile = {"bot_id": "B0WORKFLOW"} if kind == "workflow-bot" else {}
    add_person(fake_slack, "U0CLICKER", "clicker", real_name="Clicker", answer=answer, profile=profile,
               channels=[C_ENG_LEADS, C_ENG_APPROVALS])
    install_config()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    assert "<@U0CLICKER>" not in posted.params["text"]

    click = decision_click(posted, user={"id": "U0CLICKER", "username": "clicker", "team_id": SLACK_TEAM},
                           team={"id": SLACK_TEAM, "domain": "acme"})
    assert post_interaction(client, click).status_code == 200

    assert status_now(fake_slack)["status"] == "pending"
