"""People change: deactivated accounts get no DMs and their pending requests go to HR; memberships
follow Slack's events, so someone who joins a team's channel can request at once."""

import pytest

from approvals import block_ids as ids
from approvals import directory
from approvals.models import DeliveryProblem
from fake_slack.personas import C_ENG, CAROL
from test_support.flows import (
    ALICE,
    BOB,
    HR,
    click,
    dms_to,
    install_config,
    open_request_form,
    posted_requests,
    request_time_off,
)
from test_support.slack_requests import event_envelope, post_command, post_event

pytestmark = pytest.mark.django_db


def test_someone_who_joins_the_teams_channel_can_request_at_once(client, fake_slack):
    install_config()
    open_request_form(client, fake_slack, ALICE)  # the memberships are cached now
    assert "no team is configured" in post_command(client, "", user_id=CAROL).json()["text"]

    with fake_slack.workspace.lock:
        fake_slack.workspace.channels[C_ENG].members.add(CAROL)
    post_event(client, event_envelope({"type": "member_joined_channel", "user": CAROL, "channel": C_ENG,
                                       "channel_type": "C", "team": "T_ACME"}, event_id="Ev_JOIN"))

    assert directory.cached_channel_members(C_ENG) is None  # forgotten: Slack is asked again
    fake_slack.clear_calls()
    response = post_command(client, "", user_id=CAROL)
    assert response.status_code == 200 and response.content == b""  # the form opened
    assert fake_slack.calls("views.open")


def test_a_deactivated_requester_gets_no_dms_and_hr_hears_of_their_pending_request(client, fake_slack):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    with fake_slack.workspace.lock:
        fake_slack.workspace.users[ALICE].deleted = True
    post_event(client, event_envelope({"type": "user_change", "user": {"id": ALICE, "deleted": True}},
                                      event_id="Ev_GONE"))

    [problem] = DeliveryProblem.objects.filter(error="user_deactivated")
    assert problem.user == ALICE
    assert any("was deactivated" in dm for dm in dms_to(fake_slack, HR))

    fake_slack.clear_calls()
    click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted)  # decided all the same...
    [message] = [m for m in fake_slack.workspace.messages("C_ENG_APPROVALS") if m.metadata]
    assert message.metadata["event_payload"]["status"] == "approved"
    assert dms_to(fake_slack, ALICE) == []  # ... and no DM to a deactivated account


def test_hr_hears_of_a_deactivated_requester_though_slack_refuses_a_dm_to_another_hr_person(client, fake_slack):
    from dataclasses import replace

    from test_support.flows import standard_config

    install_config(replace(standard_config(), fallback_approvers=("U_NOSUCHHR", HR)))  # the first is no one
    request_time_off(client, fake_slack, ALICE)
    with fake_slack.workspace.lock:
        fake_slack.workspace.users[ALICE].deleted = True
    post_event(client, event_envelope({"type": "user_change", "user": {"id": ALICE, "deleted": True}},
                                      event_id="Ev_GONE_2"))

    assert DeliveryProblem.objects.filter(error="user_deactivated").count() == 1
    assert any("was deactivated" in dm for dm in dms_to(fake_slack, HR))


def deactivate(client, fake_slack, user, event_id):
    with fake_slack.workspace.lock:
        fake_slack.workspace.users[user].deleted = True
    post_event(client, event_envelope({"type": "user_change", "user": {"id": user, "deleted": True}},
                                      event_id=event_id))


def test_hr_hears_when_the_only_approver_leaves_with_requests_waiting_on_them(client, fake_slack):
    from dataclasses import replace

    from approvals.config_types import ApproverSource
    from test_support.flows import ENGINEERING, standard_config

    only_bob = replace(ENGINEERING, approvers=ApproverSource(users=(BOB,)))
    install_config(standard_config(teams=(only_bob,)))
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)

    deactivate(client, fake_slack, BOB, "Ev_BOB_GONE")
    deactivate(client, fake_slack, BOB, "Ev_BOB_GONE_AGAIN")  # Slack tells us twice: HR is told once

    told = [dm for dm in dms_to(fake_slack, HR) if "only approver left" in dm]
    assert told == [f"<@{BOB}>'s Slack account was deactivated. They were the only approver left for 1 pending "
                    "time-off request(s) of Engineering, which now wait on you: decide them from your App Home, "
                    "and give the team another approver on the console's team page."], told
    click(client, fake_slack, HR, ids.APPROVE_ACTION, posted)  # and HR may decide it
    [message] = [m for m in fake_slack.workspace.messages("C_ENG_APPROVALS") if m.metadata]
    assert message.metadata["event_payload"]["status"] == "approved"


def test_hr_hears_nothing_when_another_approver_is_left(client, fake_slack):
    install_config()  # Bob by name, and #eng-leads
    request_time_off(client, fake_slack, ALICE)
    deactivate(client, fake_slack, BOB, "Ev_BOB_GONE_3")
    assert not [dm for dm in dms_to(fake_slack, HR) if "only approver left" in dm]


def test_a_user_group_change_is_forgotten_too(client, fake_slack):
    install_config()
    from django.core.cache import cache

    cache.set("directory:usergroup:S_ENG", frozenset({ALICE}), 600)
    post_event(client, event_envelope({"type": "subteam_members_changed", "subteam_id": "S_ENG"},
                                      event_id="Ev_SUB"))
    assert directory.cached_usergroup_members("S_ENG") is None



def test_someone_in_a_team_channel_of_twenty_thousand_people_can_request(client, fake_slack):
    # A company of 20,000 whose team is "everyone in #all-staff": conversations.members gives 200 a page,
    # and Alice is on its 101st page. Reading only the first pages would leave her in no team.
    install_config()
    with fake_slack.workspace.lock:
        fake_slack.workspace.channels[C_ENG].members.update(f"U_A{n:05d}" for n in range(20_000))  # before U_ALICE
    request_time_off(client, fake_slack, ALICE)
    assert len(posted_requests(fake_slack)) == 1
    assert len(fake_slack.calls("conversations.members")) > 100  # every page was read
