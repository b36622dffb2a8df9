"""People and the workspace changing as in a real Slack: members joining or leaving a channel (and
user groups changing, accounts deactivated) while their lists are read from Slack; approvers removed,
deactivated, or ids Slack has no user for; a team deleted with requests pending (HR decides them); a
person in two teams; a members channel longer than Slack's Tier 4 rate lets one attempt read."""

from dataclasses import replace
from datetime import date

import pytest
from slack_sdk.errors import SlackApiError

from approvals import block_ids as ids
from approvals import directory
from approvals.config_types import ApproverSource, MemberSource
from approvals.slack_clients import background_client
from approvals.task_queue import retry_after_seconds
from approvals.tests.test_job_runs import ENG, TUESDAY, at, entry
from fake_slack.personas import C_ENG, C_ENG_APPROVALS, C_ENG_LEADS, CAROL, DAVE, S_ENG
from test_support.flows import (
    ALICE,
    BOB,
    ENGINEERING,
    HR,
    click,
    dms_to,
    ephemerals_to,
    install_config,
    open_request_form,
    posted_requests,
    request_time_off,
    request_values,
    standard_config,
    submit_request,
)
from test_support.job_runs import post_entry, run_jobs
from test_support.slack_requests import (
    event_envelope,
    post_command,
    post_event,
    post_interaction,
    view_submission_payload,
)

pytestmark = pytest.mark.django_db


def status_of(fake_slack, channel=C_ENG_APPROVALS):
    [message] = [m for m in fake_slack.workspace.messages(channel) if m.metadata]
    return message.metadata["event_payload"]["status"]


class EventDuring:
    """A client whose `method` answers as Slack did, then lets `happen` run (Slack's event for a change
    made meanwhile, handled by another web process) before the caller goes on with the answer."""

    def __init__(self, client, method, happen):
        self._client, self._method, self._happen = client, method, happen

    def __getattr__(self, name):
        attr = getattr(self._client, name)
        if name != self._method:
            return attr

        def call(*args, **kwargs):
            answer = attr(*args, **kwargs)
            self._happen()
            return answer

        return call


# --- approvers leaving / deactivated ---------------------------------------------------------------


def test_approver_removed_from_approvers_channel_with_event_is_refused(client, fake_slack):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    assert directory.cached_channel_members(C_ENG_LEADS) is not None  # cached by the delivery
    with fake_slack.workspace.lock:
        fake_slack.workspace.channels[C_ENG_LEADS].members.discard(DAVE)
    post_event(client, event_envelope({"type": "member_left_channel", "user": DAVE, "channel": C_ENG_LEADS,
                                       "channel_type": "G", "team": "T_ACME"}, event_id="Ev_LEFT"))
    fake_slack.clear_calls()
    click(client, fake_slack, DAVE, ids.APPROVE_ACTION, posted)
    assert [t for t in ephemerals_to(fake_slack, DAVE) if "not an approver" in t]
    assert status_of(fake_slack) == "pending"


def test_approver_removed_reject_button_refused_too(client, fake_slack):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    with fake_slack.workspace.lock:
        fake_slack.workspace.channels[C_ENG_LEADS].members.discard(DAVE)
    post_event(client, event_envelope({"type": "member_left_channel", "user": DAVE, "channel": C_ENG_LEADS,
                                       "channel_type": "G", "team": "T_ACME"}, event_id="Ev_LEFT2"))
    fake_slack.clear_calls()
    click(client, fake_slack, DAVE, ids.REJECT_ACTION, posted)
    modal = fake_slack.last_call("views.open")
    if modal is not None:  # cold cache after the event: the task checks, on the reason's submission
        values = {ids.REASON_BLOCK: {ids.REASON_ACTION: {"type": "plain_text_input", "value": "no"}}}
        post_interaction(client, view_submission_payload(user_id=DAVE, view=modal.params["view"], values=values,
                                                         view_id="V_REJ"))
    assert [t for t in ephemerals_to(fake_slack, DAVE) if "not an approver" in t]
    assert status_of(fake_slack) == "pending"


def test_deactivated_approver_via_user_change_gets_no_nudge(client, fake_slack):
    install_config(standard_config(teams=(ENG,)))
    now = at(TUESDAY, 10, 0)
    post_entry(fake_slack, entry(status="pending"), ts=f"{now.timestamp() - 72 * 3600:.6f}")
    # Bob's profile is cached as active (a day).
    assert directory.fetch_user(background_client(), BOB)["deleted"] is False
    with fake_slack.workspace.lock:
        fake_slack.workspace.users[BOB].deleted = True
    post_event(client, event_envelope({"type": "user_change", "user": {"id": BOB, "deleted": True}},
                                      event_id="Ev_BOB_GONE"))
    run_jobs(now, "--team", "Engineering")
    assert dms_to(fake_slack, BOB) == []
    assert [t for t in dms_to(fake_slack, DAVE) if "waiting for a decision" in t]


def test_listed_approver_slack_has_no_user_for_falls_back_to_hr(client, fake_slack):
    install_config(standard_config(teams=(replace(ENGINEERING, approvers=ApproverSource(users=("U_NOSUCH",))),)))
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    assert f"<@{HR}>" in posted.params["text"] and "U_NOSUCH" not in posted.params["text"]
    click(client, fake_slack, HR, ids.APPROVE_ACTION, posted)
    assert status_of(fake_slack) == "approved"


# --- members joining / leaving ---------------------------------------------------------------------


def test_member_who_left_members_channel_keeps_pending_request_decidable(client, fake_slack):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    with fake_slack.workspace.lock:
        fake_slack.workspace.channels[C_ENG].members.discard(ALICE)
    post_event(client, event_envelope({"type": "member_left_channel", "user": ALICE, "channel": C_ENG,
                                       "channel_type": "C", "team": "T_ACME"}, event_id="Ev_ALICE_LEFT"))
    assert directory.cached_channel_members(C_ENG) is None
    click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted)
    assert status_of(fake_slack) == "approved"


def test_join_event_handled_while_a_member_list_is_being_read_is_not_lost(client, fake_slack):
    # A members channel of a few hundred (two pages). A task reads it; after its first page Carol
    # joins, and Slack's member_joined_channel is handled (another process) before the read ends.
    install_config()
    crowd = [f"U_Z{n:04d}" for n in range(300)]  # sorts after U_CAROL: she would be on page 1
    with fake_slack.workspace.lock:
        fake_slack.workspace.channels[C_ENG].members.update(crowd)

    def carol_joins():
        with fake_slack.workspace.lock:
            fake_slack.workspace.channels[C_ENG].members.add(CAROL)
        post_event(client, event_envelope({"type": "member_joined_channel", "user": CAROL, "channel": C_ENG,
                                           "channel_type": "C", "team": "T_ACME"}, event_id="Ev_JOIN_RACE"))

    members = directory.fetch_channel_members(EventDuring(background_client(), "conversations_members",
                                                          carol_joins), C_ENG)
    assert CAROL not in members  # this read began before she joined: fine for it
    # But the event came after: what the read caches must not outlive it.
    cached = directory.cached_channel_members(C_ENG)
    assert cached is None or CAROL in cached
    response = post_command(client, "", user_id=CAROL)
    assert response.status_code == 200 and response.content == b"", response.content  # the form opens


def test_deactivation_event_handled_while_users_info_is_answered_is_not_lost(client, fake_slack):
    install_config()

    def bob_deactivated():
        with fake_slack.workspace.lock:
            fake_slack.workspace.users[BOB].deleted = True
        post_event(client, event_envelope({"type": "user_change", "user": {"id": BOB, "deleted": True}},
                                          event_id="Ev_BOB_RACE"))

    directory.fetch_user(EventDuring(background_client(), "users_info", bob_deactivated), BOB)
    assert directory.is_deactivated(background_client(), BOB)


def test_usergroup_change_event_then_request(client, fake_slack):
    team = replace(ENGINEERING, members=MemberSource(usergroup=S_ENG))
    install_config(standard_config(teams=(team,)))
    open_request_form(client, fake_slack, ALICE)  # the memberships are cached now
    assert "no team is configured" in post_command(client, "", user_id=CAROL).json()["text"]
    with fake_slack.workspace.lock:
        fake_slack.workspace.usergroups[S_ENG].users.append(CAROL)
    post_event(client, event_envelope({"type": "subteam_members_changed", "subteam_id": S_ENG,
                                       "team_id": "T_ACME", "added_users": [CAROL], "added_users_count": "1",
                                       "removed_users": [], "removed_users_count": "0"}, event_id="Ev_SUB2"))
    response = post_command(client, "", user_id=CAROL)
    assert response.status_code == 200 and response.content == b""


# --- time zones --------------------------------------------------------------------------------------


def test_user_change_time_zone_is_refreshed(client, fake_slack):
    install_config()
    open_request_form(client, fake_slack, ALICE)
    assert directory.cached_timezone(ALICE) == "America/Los_Angeles"
    with fake_slack.workspace.lock:
        fake_slack.workspace.users[ALICE].tz = "Asia/Tokyo"
        fake_slack.workspace.users[ALICE].tz_offset = None
    post_event(client, event_envelope({"type": "user_change", "user": {"id": ALICE, "tz": "Asia/Tokyo"}},
                                      event_id="Ev_TZ"))
    assert directory.cached_timezone(ALICE) is None
    open_request_form(client, fake_slack, ALICE)
    assert directory.fetch_timezone(background_client(), ALICE) == "Asia/Tokyo"


# --- teams in order, a team deleted -------------------------------------------------------------------

C_B_APPROVALS = "C_B_APPROVALS"


def two_teams(fake_slack):
    fake_slack.workspace.add_channel(C_B_APPROVALS, "b-approvals", members=[BOB, HR], private=True)
    first = ENGINEERING
    second = replace(ENGINEERING, name="Platform", members=MemberSource(usergroup=S_ENG),
                     approvals_channel=C_B_APPROVALS, approvers=ApproverSource(users=(BOB,)), announce_channel=None)
    return first, second


def test_first_team_wins_then_second_after_first_deleted(client, fake_slack):
    first, second = two_teams(fake_slack)
    install_config(standard_config(teams=(first, second)))
    request_time_off(client, fake_slack, ALICE)
    assert len(posted_requests(fake_slack)) == 1
    install_config(standard_config(teams=(second,)))
    fake_slack.clear_calls()
    view = open_request_form(client, fake_slack, ALICE)
    submit_request(client, ALICE, view, request_values("vacation", date(2031, 4, 7), date(2031, 4, 8)),
                   view_id="V_REQ2", view_hash="h2")
    assert len(posted_requests(fake_slack, C_B_APPROVALS)) == 1


def test_hr_can_decide_a_pending_request_of_a_deleted_team(client, fake_slack):
    first, second = two_teams(fake_slack)
    install_config(standard_config(teams=(first, second)))
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    install_config(standard_config(teams=(second,)))
    fake_slack.clear_calls()
    click(client, fake_slack, HR, ids.APPROVE_ACTION, posted)
    told = ephemerals_to(fake_slack, HR) + dms_to(fake_slack, HR)
    assert not [t for t in told if "ask HR" in t], told


# --- ids Slack has no user for, large channels under Slack's rate limits ---------------------------

EXTERNAL = "U_EXTERNAL"  # in the approvers channel (a shared channel), but users.info: user_not_found


def test_an_id_slack_has_no_user_for_in_the_approvers_channel_may_not_decide(client, fake_slack):
    with fake_slack.workspace.lock:
        fake_slack.workspace.channels[C_ENG_LEADS].members.add(EXTERNAL)
    install_config()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    assert f"<@{EXTERNAL}>" not in posted.params["text"]  # not mentioned as an approver...
    click(client, fake_slack, EXTERNAL, ids.APPROVE_ACTION, posted)
    # ... and, as README says, not one: "never ... ids Slack has no user for"
    assert status_of(fake_slack) == "pending"


def test_a_members_channel_over_a_hundred_pages_is_read_in_the_end_under_tier_4(fake_slack):
    # 25,000 members: 125 pages of conversations.members (Tier 4: 100 a minute). Each attempt of the
    # task that reads it is followed by the next when Slack said (Retry-After); time moves only then.
    now = [0.0]
    fake_slack.enforce_rate_limits(clock=lambda: now[0])
    with fake_slack.workspace.lock:
        fake_slack.workspace.channels[C_ENG].members.update(f"U_A{n:05d}" for n in range(25_000))

    members = None
    for attempt in range(6):
        try:
            members = directory.fetch_channel_members(background_client(), C_ENG)
            break
        except SlackApiError as exc:
            wait = retry_after_seconds(exc)
            assert wait > 0
            now[0] += wait
    assert members is not None and ALICE in members, f"not read after {attempt + 1} attempts"
