"""Workspace events Slack sends through the Events API, as Slack sends them (signed
event_callback envelopes, the event shapes of docs.slack.dev/reference/events/*), and their effects."""

import time
from dataclasses import replace

import pytest
from django.core.cache import cache

from approvals import block_ids as ids
from approvals import directory
from approvals.config_types import MemberSource
from approvals.installation import slack_access_lost
from approvals.models import DeliveryProblem
from approvals.slack_clients import background_client
from fake_slack.personas import BOT, C_ENG, C_ENG_APPROVALS, C_ENG_LEADS, CAROL, DAVE
from test_support.flows import (
    ALICE,
    BOB,
    ENGINEERING,
    HR,
    MONDAY,
    WEDNESDAY,
    click,
    dms_to,
    ephemerals_to,
    install_config,
    open_request_form,
    posted_requests,
    request_status,
    request_time_off,
    request_values,
    standard_config,
    submit_request,
)
from test_support.slack_requests import SLACK_TEAM, event_envelope, post_command, post_event, post_signed

pytestmark = pytest.mark.django_db


# --- Slack's shapes ------------------------------------------------------------------------------------


def event_ts() -> str:
    return f"{time.time():.6f}"


def membership(kind: str, user: str, channel: str, *, channel_type: str = "C", inviter: str | None = None) -> dict:
    """member_joined_channel / member_left_channel (docs.slack.dev/reference/events/member_joined_channel)."""
    event = {"type": kind, "user": user, "channel": channel, "channel_type": channel_type, "team": SLACK_TEAM,
             "event_ts": event_ts()}
    if inviter:
        event["inviter"] = inviter
    return event


def user_change(fake_slack, user: str) -> dict:
    """user_change with the whole user object, as Slack sends it (its current state in the fake)."""
    return {"type": "user_change", "user": fake_slack.workspace.users[user].to_api(),
            "cache_ts": int(time.time()), "event_ts": event_ts()}


def app_home_opened(user: str, tab: str = "home") -> dict:
    return {"type": "app_home_opened", "user": user, "channel": "D_HOME", "tab": tab, "event_ts": event_ts()}


def other_workspace(envelope: dict, team: str = "T_OTHER") -> dict:
    return {**envelope, "team_id": team,
            "authorizations": [{"enterprise_id": None, "team_id": team, "user_id": "U_OTHERBOT", "is_bot": True,
                                "is_enterprise_install": False}]}


def publishes_for(fake_slack, user: str) -> list:
    return [c for c in fake_slack.calls("views.publish") if c.params.get("user_id") == user]


def database_tasks(settings):
    settings.TASKS = {"default": {"BACKEND": "approvals.task_backend.DatabaseBackend"}}  # rows, as in production


def task_rows(suffix: str) -> list:
    from django_tasks_db.models import DBTaskResult

    return list(DBTaskResult.objects.filter(task_path__endswith=suffix).values_list("args_kwargs", flat=True))


# --- member_joined_channel / member_left_channel ---------------------------------------------------------


def test_someone_who_joins_the_approvers_channel_may_decide_at_once(client, fake_slack):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    assert directory.cached_channel_members(C_ENG_LEADS) is not None  # cached by the delivery, without Carol
    with fake_slack.workspace.lock:
        fake_slack.workspace.channels[C_ENG_LEADS].members.add(CAROL)
    response = post_event(client, event_envelope(membership("member_joined_channel", CAROL, C_ENG_LEADS,
                                                            channel_type="G", inviter=BOB), event_id="Ev_J_LEADS"))
    assert response.status_code == 200
    fake_slack.clear_calls()
    click(client, fake_slack, CAROL, ids.APPROVE_ACTION, posted)
    assert not [t for t in ephemerals_to(fake_slack, CAROL) if "not an approver" in t]
    assert request_status(fake_slack)["status"] == "approved"


def test_someone_who_leaves_the_members_channel_can_no_longer_request(client, fake_slack):
    install_config()
    open_request_form(client, fake_slack, ALICE)  # memberships cached, Alice in Engineering
    with fake_slack.workspace.lock:
        fake_slack.workspace.channels[C_ENG].members.discard(ALICE)
    assert post_event(client, event_envelope(membership("member_left_channel", ALICE, C_ENG),
                                             event_id="Ev_L_ENG")).status_code == 200
    assert directory.cached_channel_members(C_ENG) is None
    fake_slack.clear_calls()
    response = post_command(client, "", user_id=ALICE)
    if response.content == b"":  # the form opened (membership cold): its submission is checked in the task
        view = fake_slack.last_call("views.open").params["view"]
        submit_request(client, ALICE, view, request_values("vacation", MONDAY, WEDNESDAY))
    else:
        assert "no team" in response.json()["text"]
    assert posted_requests(fake_slack) == []  # in no team now: nothing reaches Engineering's approvers


def test_the_bot_removed_from_the_approvals_channel_then_invited_back(client, fake_slack):
    install_config()
    open_request_form(client, fake_slack, ALICE)
    with fake_slack.workspace.lock:
        fake_slack.workspace.channels[C_ENG_APPROVALS].members.discard(BOT)
    response = post_event(client, event_envelope(membership("member_left_channel", BOT, C_ENG_APPROVALS),
                                                 event_id="Ev_BOT_OUT"))
    assert response.status_code == 200
    assert fake_slack.calls("chat.postMessage") == []  # the event itself tells nobody anything

    fake_slack.clear_calls()
    request_time_off(client, fake_slack, ALICE)
    assert [c for c in posted_requests(fake_slack) if c.response.get("ok")] == []
    assert DeliveryProblem.objects.exists()  # HR sees the undelivered request
    assert dms_to(fake_slack, ALICE) or ephemerals_to(fake_slack, ALICE)  # and Alice is told

    with fake_slack.workspace.lock:
        fake_slack.workspace.channels[C_ENG_APPROVALS].members.add(BOT)
    response = post_event(client, event_envelope(membership("member_joined_channel", BOT, C_ENG_APPROVALS,
                                                            inviter=HR), event_id="Ev_BOT_IN"))
    assert response.status_code == 200
    fake_slack.clear_calls()
    from datetime import date

    view = open_request_form(client, fake_slack, ALICE)  # a new form: Slack gives it a new view id and hash
    submit_request(client, ALICE, view, request_values("vacation", date(2031, 4, 7), date(2031, 4, 8)),
                   view_id="V_REQ2", view_hash="h2")
    assert len([c for c in posted_requests(fake_slack) if c.response.get("ok")]) == 1  # delivered again, at once


def test_the_bot_invited_back_to_a_private_members_channel_lets_its_members_request_at_once(client, fake_slack):
    # A private members channel the bot was removed from is remembered as "no members" for ten minutes
    # (channel_not_found); Slack's member_joined_channel for the bot must end that at once.
    team = replace(ENGINEERING, members=MemberSource(channel=C_ENG_LEADS))
    install_config(standard_config(teams=(team,)))
    with fake_slack.workspace.lock:
        fake_slack.workspace.channels[C_ENG_LEADS].members.discard(BOT)
    post_event(client, event_envelope(membership("member_left_channel", BOT, C_ENG_LEADS, channel_type="G"),
                                      event_id="Ev_BOT_OUT_LEADS"))
    assert DAVE not in directory.fetch_channel_members(background_client(), C_ENG_LEADS)  # now remembered
    assert directory.cached_channel_members(C_ENG_LEADS) is not None

    with fake_slack.workspace.lock:
        fake_slack.workspace.channels[C_ENG_LEADS].members.add(BOT)
    post_event(client, event_envelope(membership("member_joined_channel", BOT, C_ENG_LEADS, channel_type="G",
                                                 inviter=BOB), event_id="Ev_BOT_IN_LEADS"))
    assert directory.cached_channel_members(C_ENG_LEADS) is None
    fake_slack.clear_calls()
    request_time_off(client, fake_slack, DAVE)
    assert len(posted_requests(fake_slack)) == 1


# --- user_change ---------------------------------------------------------------------------------------


def test_a_changed_time_zone_is_used_for_today_from_the_next_look_up(client, fake_slack):
    install_config()
    open_request_form(client, fake_slack, ALICE)
    assert directory.cached_timezone(ALICE) == "America/Los_Angeles"
    with fake_slack.workspace.lock:
        fake_slack.workspace.users[ALICE].tz = "Asia/Tokyo"
    assert post_event(client, event_envelope(user_change(fake_slack, ALICE), event_id="Ev_TZ1")).status_code == 200
    assert directory.cached_timezone(ALICE) in (None, "Asia/Tokyo")
    assert directory.fetch_timezone(background_client(), ALICE) == "Asia/Tokyo"
    assert directory.cached_timezone(ALICE) == "Asia/Tokyo"


def test_a_deactivation_delivered_twice_flags_once(client, fake_slack, attempts):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    with fake_slack.workspace.lock:
        fake_slack.workspace.users[ALICE].deleted = True
    envelope = event_envelope(user_change(fake_slack, ALICE), event_id="Ev_GONE_TWICE")
    fake_slack.clear_calls()
    assert post_event(client, envelope).status_code == 200
    assert post_event(client, envelope, retry_num=1).status_code == 200
    assert post_event(client, envelope, retry_num=2).status_code == 200
    assert DeliveryProblem.objects.filter(error="user_deactivated").count() == 1
    assert len([dm for dm in dms_to(fake_slack, HR) if "was deactivated" in dm]) == 1
    assert len([a for a in attempts if "departed" in a[0]]) == 1, attempts


def test_a_reactivated_account_gets_its_dms_again(client, fake_slack):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    with fake_slack.workspace.lock:
        fake_slack.workspace.users[ALICE].deleted = True
    post_event(client, event_envelope(user_change(fake_slack, ALICE), event_id="Ev_DEACT"))
    assert directory.is_deactivated(background_client(), ALICE)  # cached as deactivated now
    with fake_slack.workspace.lock:
        fake_slack.workspace.users[ALICE].deleted = False
    post_event(client, event_envelope(user_change(fake_slack, ALICE), event_id="Ev_REACT"))
    fake_slack.clear_calls()
    click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted)
    assert request_status(fake_slack)["status"] == "approved"
    assert dms_to(fake_slack, ALICE), "the reactivated requester was not told of the approval"


def test_a_name_change_flags_nothing(client, fake_slack):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    with fake_slack.workspace.lock:
        fake_slack.workspace.users[ALICE].real_name = "Alice Adams-Baker"
        fake_slack.workspace.users[ALICE].name = "alice.ab"
    fake_slack.clear_calls()
    assert post_event(client, event_envelope(user_change(fake_slack, ALICE), event_id="Ev_NAME")).status_code == 200
    assert not DeliveryProblem.objects.exists()
    assert dms_to(fake_slack, HR) == [] and dms_to(fake_slack, ALICE) == []
    assert fake_slack.calls("chat.postMessage") == []


def test_a_deactivation_of_someone_with_nothing_pending_tells_hr_nothing(client, fake_slack):
    install_config()
    with fake_slack.workspace.lock:
        fake_slack.workspace.users[CAROL].deleted = True
    fake_slack.clear_calls()
    assert post_event(client, event_envelope(user_change(fake_slack, CAROL), event_id="Ev_CAROL")).status_code == 200
    assert dms_to(fake_slack, HR) == []
    assert not DeliveryProblem.objects.exists()


# --- app_home_opened ---------------------------------------------------------------------------------


def test_app_home_tab_home_publishes_and_messages_tab_does_not(client, fake_slack):
    install_config()
    assert post_event(client, event_envelope(app_home_opened(ALICE, "messages"), event_id="Ev_MSG")).status_code == 200
    assert publishes_for(fake_slack, ALICE) == []
    assert post_event(client, event_envelope(app_home_opened(ALICE, "home"), event_id="Ev_HOME")).status_code == 200
    assert len(publishes_for(fake_slack, ALICE)) == 1


def test_app_home_open_retried_with_slacks_headers_publishes_once(client, fake_slack):
    install_config()
    envelope = event_envelope(app_home_opened(BOB), event_id="Ev_HOME_RETRY")
    assert post_event(client, envelope).status_code == 200
    assert post_event(client, envelope, retry_num=1).status_code == 200
    assert len(publishes_for(fake_slack, BOB)) == 1


# --- app_uninstalled / tokens_revoked ----------------------------------------------------------------


def test_tokens_revoked_with_bot_and_user_tokens_stops_slack_calls(client, fake_slack):
    install_config()
    event = {"type": "tokens_revoked", "tokens": {"oauth": [ALICE], "bot": [BOT]}, "event_ts": event_ts()}
    assert post_event(client, event_envelope(event, event_id="Ev_REVOKE")).status_code == 200
    assert slack_access_lost() == "tokens_revoked"


def known_bot_and_workspace() -> None:
    """What the app learns of itself on its first Slack call (auth.test), cached."""
    from approvals.slack_clients import background_client

    assert directory.fetch_bot_user_id(background_client())


def test_another_workspaces_uninstall_does_not_stop_ours(client, fake_slack):
    install_config()
    known_bot_and_workspace()
    envelope = other_workspace(event_envelope({"type": "app_uninstalled", "event_ts": event_ts()},
                                              event_id="Ev_OTHER_UNINSTALL"))
    assert post_event(client, envelope).status_code == 200
    assert slack_access_lost() is None, "another workspace's app_uninstalled stopped this workspace's Slack calls"


def test_another_workspaces_tokens_revoked_does_not_stop_ours(client, fake_slack):
    install_config()
    known_bot_and_workspace()
    envelope = other_workspace(event_envelope({"type": "tokens_revoked", "tokens": {"bot": ["U_OTHERBOT"]},
                                               "event_ts": event_ts()}, event_id="Ev_OTHER_REVOKE"))
    assert post_event(client, envelope).status_code == 200
    assert slack_access_lost() is None, "another workspace's tokens_revoked stopped this workspace's Slack calls"


def test_our_own_uninstall_stops_our_calls_whether_or_not_we_know_ourselves_yet(client, fake_slack):
    install_config()
    assert post_event(client, event_envelope({"type": "app_uninstalled", "event_ts": event_ts()},
                                             event_id="Ev_OURS_COLD")).status_code == 200
    assert slack_access_lost() == "app_uninstalled"  # nothing cached of us: taken as ours


def test_our_bot_token_revoked_stops_our_calls_when_we_know_ourselves(client, fake_slack):
    install_config()
    known_bot_and_workspace()
    ours = fake_slack.workspace.bot_user_id
    envelope = event_envelope({"type": "tokens_revoked", "tokens": {"bot": [ours]}, "event_ts": event_ts()},
                              event_id="Ev_OURS_REVOKED")
    assert post_event(client, envelope).status_code == 200
    assert slack_access_lost() == "tokens_revoked"


# --- unknown and unsubscribed types ------------------------------------------------------------------


@pytest.mark.parametrize("event", [
    # channel_archive and channel_unarchive are subscribed now: test_channel_events.
    {"type": "channel_rename", "channel": {"id": C_ENG_APPROVALS, "name": "eng-approvals-2", "created": 1360782804}},
    {"type": "reaction_added", "user": ALICE, "reaction": "thumbsup", "item": {"type": "message", "channel": C_ENG,
                                                                              "ts": "1766000000.000100"}},
    {"type": "some_future_event"},
])
def test_unsubscribed_or_unknown_events_are_acknowledged_and_do_nothing(client, fake_slack, event):
    install_config()
    open_request_form(client, fake_slack, ALICE)
    members = directory.cached_channel_members(C_ENG)
    fake_slack.clear_calls()
    response = post_event(client, event_envelope({**event, "event_ts": event_ts()}, event_id="Ev_UNK"))
    assert response.status_code == 200
    assert fake_slack.calls() == []
    assert directory.cached_channel_members(C_ENG) == members
    assert slack_access_lost() is None


# --- timing: a handler meeting a 429 still answers Slack inside 3 s -----------------------------------


def test_app_home_open_answers_fast_though_views_publish_is_rate_limited(client, fake_slack, settings):
    install_config()
    database_tasks(settings)
    fake_slack.rate_limit("views.publish", retry_after=20, times=None)
    began = time.monotonic()
    response = post_event(client, event_envelope(app_home_opened(ALICE), event_id="Ev_429_HOME"))
    assert response.status_code == 200
    assert time.monotonic() - began < 3
    assert task_rows(".publish_home")


def test_deactivation_answers_fast_though_slack_is_rate_limited(client, fake_slack, settings):
    install_config()
    database_tasks(settings)
    for method in ("conversations.history", "users.info", "chat.postMessage"):
        fake_slack.rate_limit(method, retry_after=20, times=None)
    with fake_slack.workspace.lock:
        fake_slack.workspace.users[ALICE].deleted = True
    began = time.monotonic()
    response = post_event(client, event_envelope(user_change(fake_slack, ALICE), event_id="Ev_429_GONE"))
    assert response.status_code == 200
    assert time.monotonic() - began < 3
    assert task_rows(".flag_departed_user")


# --- malformed envelopes ------------------------------------------------------------------------------


@pytest.mark.parametrize("challenge", [None, 12345, {"x": 1}, ["a"]])
def test_url_verification_with_a_malformed_challenge_is_refused_for_good(client, challenge):
    body = {"token": "Jhj5dZrVaK7ZwHHjRyZWjbDl", "type": "url_verification"}
    if challenge is not None:
        body["challenge"] = challenge
    response = post_event(client, body)
    assert response.status_code == 400
    assert response.get("X-Slack-No-Retry") == "1"


def test_url_verification_echoes_a_long_challenge_exactly(client):
    challenge = "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P" * 4
    response = post_event(client, {"token": "t", "challenge": challenge, "type": "url_verification"})
    assert response.status_code == 200 and response.json()["challenge"] == challenge


def test_event_callback_without_event_is_refused_for_good(client, fake_slack):
    envelope = event_envelope(app_home_opened(ALICE), event_id="Ev_NOEVENT")
    del envelope["event"]
    response = post_event(client, envelope)
    assert response.status_code == 400 and response.get("X-Slack-No-Retry") == "1"
    assert fake_slack.calls() == []


def test_event_callback_without_event_id_is_refused_for_good(client, fake_slack):
    envelope = event_envelope(app_home_opened(ALICE), event_id="Ev_X")
    del envelope["event_id"]
    response = post_event(client, envelope)
    assert response.status_code == 400 and response.get("X-Slack-No-Retry") == "1"
    assert fake_slack.calls() == []


def test_an_unsigned_event_is_refused(client, fake_slack):
    import json

    install_config()
    body = json.dumps(event_envelope({"type": "app_uninstalled"}, event_id="Ev_FORGED"))
    response = post_signed(client, "/slack/events", body, content_type="application/json", secret="wrong-secret")
    assert response.status_code == 401
    assert slack_access_lost() is None
    assert cache.get("slack:event:Ev_FORGED") is None


# --- deactivated again; a deactivated sole approver ----------------------------------------------------


def test_hr_hears_again_when_a_reactivated_person_is_deactivated_again(client, fake_slack):
    # An account deactivated by mistake is reactivated; days later it is deactivated for good with a new
    # request pending. README ("Someone leaves"): each pending request is listed for HR and every fallback
    # approver is told by DM — the second time too.
    from datetime import date

    install_config()
    request_time_off(client, fake_slack, ALICE)
    [first] = posted_requests(fake_slack)
    with fake_slack.workspace.lock:
        fake_slack.workspace.users[ALICE].deleted = True
    post_event(client, event_envelope(user_change(fake_slack, ALICE), event_id="Ev_GONE_1"))
    assert len([dm for dm in dms_to(fake_slack, HR) if "was deactivated" in dm]) == 1
    with fake_slack.workspace.lock:
        fake_slack.workspace.users[ALICE].deleted = False
    post_event(client, event_envelope(user_change(fake_slack, ALICE), event_id="Ev_BACK"))
    click(client, fake_slack, BOB, ids.APPROVE_ACTION, first)  # the first request decided meanwhile

    view = open_request_form(client, fake_slack, ALICE)
    submit_request(client, ALICE, view, request_values("vacation", date(2031, 4, 7), date(2031, 4, 8)),
                   view_id="V_REQ2", view_hash="h2")
    fake_slack.clear_calls()
    with fake_slack.workspace.lock:
        fake_slack.workspace.users[ALICE].deleted = True
    post_event(client, event_envelope(user_change(fake_slack, ALICE), event_id="Ev_GONE_2"))
    assert DeliveryProblem.objects.filter(error="user_deactivated").count() == 2  # one row per pending request
    assert [dm for dm in dms_to(fake_slack, HR) if "was deactivated" in dm], \
        "HR was not told of the second deactivation (its new pending request)"


def test_a_deactivated_sole_approver_leaves_the_nudge_to_hr(client, fake_slack):
    from approvals.config_types import ApproverSource
    from approvals.tests.test_job_runs import ENG, TUESDAY, at, entry
    from test_support.job_runs import post_entry, run_jobs

    install_config(standard_config(teams=(replace(ENG, approvers=ApproverSource(users=(BOB,))),)))
    now = at(TUESDAY, 10, 0)
    post_entry(fake_slack, entry(status="pending"), ts=f"{now.timestamp() - 72 * 3600:.6f}")
    with fake_slack.workspace.lock:
        fake_slack.workspace.users[BOB].deleted = True
    post_event(client, event_envelope(user_change(fake_slack, BOB), event_id="Ev_BOB_GONE"))
    run_jobs(now, "--team", "Engineering")
    assert dms_to(fake_slack, BOB) == []
    assert [t for t in dms_to(fake_slack, HR) if "waiting for a decision" in t], dms_to(fake_slack, HR)
