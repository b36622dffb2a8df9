"""Slack channels the app uses changing under it, the way Slack changes them: an approvals or announce
channel archived, unarchived, renamed, deleted or made private, the bot removed from it and invited back,
a user group used as a team's members disabled. Slack tells the app through the Events API (signed
event_callback envelopes; most of these events the manifest does not subscribe to, and they are
acknowledged and ignored) and, above all, through the Web API's errors (`is_archived`,
`channel_not_found`, `not_in_channel`, `no_such_subteam`).

For each: a request sent at that moment is delivered, or its requester is told plainly what did not get
through (what they asked for shown back) and HR finds it once on the console's Setup page; nothing is
posted twice, the ledger still reads the history in channels the team used before, and no endpoint
answers 500."""

import time
from dataclasses import replace
from datetime import date

import pytest
from django.core.cache import cache
from django.urls import reverse

from approvals import block_ids as ids
from approvals.config_types import MemberSource
from approvals.models import DeliveryProblem
from approvals.people_services import memberships_changed
from fake_slack.personas import BOT, C_ENG, C_ENG_APPROVALS, C_OLD_APPROVALS, S_ENG
from test_support.flows import (
    ALICE,
    BOB,
    DAVE,
    ENGINEERING,
    HR,
    MONDAY,
    WEDNESDAY,
    click,
    dms_to,
    ephemerals_to,
    install_config,
    open_app_home,
    open_request_form,
    posted_requests,
    request_time_off,
    request_values,
    standard_config,
    submit_request,
)
from test_support.slack_requests import SLACK_TEAM, event_envelope, post_command, post_event

pytestmark = pytest.mark.django_db

ASKED_FOR = "Vacation, Mon 10 Mar 2031 – Wed 12 Mar 2031"  # request_time_off's request, as shown back
NOT_DELIVERED = "did not reach your approvers"
LATER_MONDAY, LATER_TUESDAY = date(2031, 4, 7), date(2031, 4, 8)
LATER_ASKED_FOR = "Mon 7 Apr 2031 – Tue 8 Apr 2031"
C_NEW_APPROVALS = "C_NEW_APPROVALS"
C_PUBLIC_APPROVALS = "C_PUB_APPROVALS"


# --- Slack's events, as docs.slack.dev/reference/events/* shows them --------------------------------------


def event_ts() -> str:
    return f"{time.time():.6f}"


def channel_archive(channel: str, by: str = HR) -> dict:
    return {"type": "channel_archive", "channel": channel, "user": by, "is_moved": 0, "event_ts": event_ts()}


def channel_unarchive(channel: str, by: str = HR) -> dict:
    return {"type": "channel_unarchive", "channel": channel, "user": by, "event_ts": event_ts()}


def channel_rename(channel: str, name: str) -> dict:
    return {"type": "channel_rename", "channel": {"id": channel, "name": name, "name_normalized": name,
                                                  "created": 1360782804, "is_channel": True, "is_mpim": False},
            "event_ts": event_ts()}


def channel_deleted(channel: str) -> dict:
    return {"type": "channel_deleted", "channel": channel, "event_ts": event_ts()}


def channel_left(channel: str, by: str = HR) -> dict:
    # Sent to the bot when it is removed from a channel (docs.slack.dev/reference/events/channel_left).
    return {"type": "channel_left", "channel": channel, "actor_id": by, "event_ts": event_ts()}


def made_private_message(channel: str, by: str = HR) -> dict:
    # The message Slack posts in a channel made private (subtype channel_convert_to_private); the channel
    # keeps its id (docs.slack.dev changelog 2018-09: "preserving the channel ID of channels converted").
    ts = event_ts()
    return {"type": "message", "subtype": "channel_convert_to_private", "user": by,
            "text": "made this channel *private*. Now, it can only be viewed or joined by invitation.",
            "ts": ts, "channel": channel, "event_ts": ts, "channel_type": "group"}


def member_left(user: str, channel: str, channel_type: str = "G") -> dict:
    return {"type": "member_left_channel", "user": user, "channel": channel, "channel_type": channel_type,
            "team": SLACK_TEAM, "event_ts": event_ts()}


def member_joined(user: str, channel: str, channel_type: str = "G", inviter: str = HR) -> dict:
    return {"type": "member_joined_channel", "user": user, "channel": channel, "channel_type": channel_type,
            "team": SLACK_TEAM, "inviter": inviter, "event_ts": event_ts()}


def subteam_disabled(subteam: str) -> dict:
    # subteam_updated with the group's date_delete set: Slack's word for a disabled user group.
    return {"type": "subteam_updated", "event_ts": event_ts(), "subteam": {
        "id": subteam, "team_id": SLACK_TEAM, "is_usergroup": True, "name": "eng", "handle": "eng",
        "description": "", "is_external": False, "date_create": 1446746793, "date_update": int(time.time()),
        "date_delete": int(time.time()), "auto_type": None, "created_by": HR, "updated_by": HR,
        "deleted_by": HR, "prefs": {"channels": [], "groups": []}, "user_count": 0}}


def slack_sends(client, event: dict, event_id: str, *, retries: int = 0) -> None:
    """Slack delivers `event` (and, when it heard no answer in time, its retries): each is acknowledged."""
    envelope = event_envelope(event, event_id=event_id)
    for retry in range(retries + 1):
        response = post_event(client, envelope, retry_num=retry or None)
        assert response.status_code == 200, (event["type"], retry, response.status_code, response.content)


# --- What people see ---------------------------------------------------------------------------------------


def send_later_request(client, fake_slack, user: str, *, view_id: str = "V_REQ2", view_hash: str = "h2"):
    """`user` sends a second request (7–8 April), through a new form, as Slack gives each form its own view."""
    view = open_request_form(client, fake_slack, user)
    response = submit_request(client, user, view, request_values("vacation", LATER_MONDAY, LATER_TUESDAY),
                              view_id=view_id, view_hash=view_hash)
    assert response.status_code == 200, response.content
    return response


def delivered(fake_slack, channel: str = C_ENG_APPROVALS) -> list:
    return [c for c in posted_requests(fake_slack, channel) if c.response.get("ok")]


def requests_in(fake_slack, channel: str) -> list:
    return [m.metadata["event_payload"] for m in fake_slack.workspace.messages(channel)
            if m.metadata and m.metadata.get("event_type") == "timeoff_request"]


def told(fake_slack, user: str) -> list[str]:
    return ephemerals_to(fake_slack, user) + dms_to(fake_slack, user)


@pytest.fixture
def hr_console(django_user_model):
    """Hannah from HR, signed in to the console as staff, in a client of her own."""
    from django.test import Client

    hannah = django_user_model.objects.create_user("hannah", "hannah@example.com", "a-long-test-password",
                                                   is_staff=True)
    browser = Client()
    browser.force_login(hannah)
    return browser


def setup_page(hr_console, *, check_again: bool = True) -> str:
    if check_again:  # HR presses "Check again" (tasks run at once here): the page shows Slack as it is now
        hr_console.post(reverse("console:setup_check"))
    response = hr_console.get(reverse("console:setup"))
    assert response.status_code == 200
    return response.content.decode()


# --- An approvals channel archived, then unarchived -----------------------------------------------------


def test_a_request_sent_after_the_approvals_channel_was_archived_is_told_back_and_kept_for_hr(client, fake_slack,
                                                                                           hr_console):
    install_config()
    request_time_off(client, fake_slack, ALICE)  # the first request goes through; the ledger is warm
    assert len(delivered(fake_slack)) == 1

    with fake_slack.workspace.lock:
        fake_slack.workspace.channels[C_ENG_APPROVALS].is_archived = True
    slack_sends(client, channel_archive(C_ENG_APPROVALS), "Ev_ARCHIVE", retries=2)
    fake_slack.clear_calls()

    send_later_request(client, fake_slack, ALICE)

    assert delivered(fake_slack) == []
    [dm] = [t for t in dms_to(fake_slack, ALICE) if NOT_DELIVERED in t]  # told once, plainly
    assert LATER_ASKED_FOR in dm and "is_archived" in dm and "HR has been told" in dm, dm
    [problem] = DeliveryProblem.objects.all()
    assert (problem.user, problem.channel, problem.error) == (ALICE, C_ENG_APPROVALS, "is_archived")
    assert LATER_ASKED_FOR in problem.summary
    page = setup_page(hr_console)
    assert "is_archived" in page and LATER_ASKED_FOR in page
    assert "It is archived: nothing can be posted there." in page
    # The first request is still in the archived channel's history, unchanged.
    assert [r["status"] for r in requests_in(fake_slack, C_ENG_APPROVALS)] == ["pending"]


def test_after_the_approvals_channel_is_unarchived_the_next_request_goes_through_once(client, fake_slack):
    install_config()
    open_request_form(client, fake_slack, ALICE)  # ledger warm
    with fake_slack.workspace.lock:
        fake_slack.workspace.channels[C_ENG_APPROVALS].is_archived = True
    slack_sends(client, channel_archive(C_ENG_APPROVALS), "Ev_ARCHIVE_1")
    request_time_off(client, fake_slack, ALICE)
    assert delivered(fake_slack) == []

    with fake_slack.workspace.lock:
        fake_slack.workspace.channels[C_ENG_APPROVALS].is_archived = False
    slack_sends(client, channel_unarchive(C_ENG_APPROVALS), "Ev_UNARCHIVE_1", retries=1)
    fake_slack.clear_calls()

    send_later_request(client, fake_slack, ALICE)

    [post] = delivered(fake_slack)
    assert post.params["channel"] == C_ENG_APPROVALS
    # The refused request was not posted after all behind the person's back (she was told to send it again),
    # and the new one is there once.
    dates = sorted((r["start"], r["end"]) for r in requests_in(fake_slack, C_ENG_APPROVALS))
    assert dates == [("2031-04-07", "2031-04-08")]
    assert DeliveryProblem.objects.count() == 1  # the earlier refusal, not a new one


def test_an_approver_can_decide_a_pending_request_once_its_channel_is_unarchived(client, fake_slack):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    [posted] = delivered(fake_slack)
    with fake_slack.workspace.lock:
        fake_slack.workspace.channels[C_ENG_APPROVALS].is_archived = True
    slack_sends(client, channel_archive(C_ENG_APPROVALS), "Ev_ARCHIVE_2")
    response = click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted)  # refused by Slack: is_inactive
    assert response.status_code == 200
    assert [r["status"] for r in requests_in(fake_slack, C_ENG_APPROVALS)] == ["pending"]

    with fake_slack.workspace.lock:
        fake_slack.workspace.channels[C_ENG_APPROVALS].is_archived = False
    slack_sends(client, channel_unarchive(C_ENG_APPROVALS), "Ev_UNARCHIVE_2")
    fake_slack.clear_calls()

    response = click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted)

    assert response.status_code == 200
    assert [r["status"] for r in requests_in(fake_slack, C_ENG_APPROVALS)] == ["approved"]
    assert len([t for t in dms_to(fake_slack, ALICE) if "approved" in t]) == 1
    assert not [t for t in told(fake_slack, BOB) if "refused" in t or "will not help" in t]


def test_history_in_an_archived_earlier_approvals_channel_still_counts(client, fake_slack):
    # A new year, a new approvals channel: HR archives last year's and lists it as a past approvals channel.
    # Slack still lets the bot read an archived channel's history, so the leave recorded there counts.
    install_config()
    request_time_off(client, fake_slack, ALICE)
    [posted] = delivered(fake_slack)
    click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted)

    fake_slack.workspace.add_channel(C_NEW_APPROVALS, "eng-approvals-2031", members=[BOB, DAVE, HR], private=True)
    with fake_slack.workspace.lock:
        fake_slack.workspace.channels[C_ENG_APPROVALS].is_archived = True
    slack_sends(client, channel_archive(C_ENG_APPROVALS), "Ev_ARCHIVE_OLD")
    install_config(standard_config(teams=(replace(ENGINEERING, approvals_channel=C_NEW_APPROVALS,
                                                  past_approvals_channels=(C_ENG_APPROVALS,)),)))
    cache.clear()  # the next day: everything is read from Slack again
    fake_slack.clear_calls()

    request_time_off(client, fake_slack, ALICE)  # the same days again: overlaps her approved leave
    assert delivered(fake_slack, C_NEW_APPROVALS) == []
    assert not DeliveryProblem.objects.exists()  # refused by the rules, not lost in Slack

    send_later_request(client, fake_slack, ALICE)
    assert len(delivered(fake_slack, C_NEW_APPROVALS)) == 1
    assert len(requests_in(fake_slack, C_ENG_APPROVALS)) == 1  # nothing was posted to the archived channel


# --- Renamed, made private --------------------------------------------------------------------------------


def test_a_renamed_approvals_channel_keeps_taking_requests_and_setup_shows_its_new_name(client, fake_slack,
                                                                                       hr_console):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    assert "eng-approvals" in setup_page(hr_console)
    with fake_slack.workspace.lock:
        fake_slack.workspace.channels[C_ENG_APPROVALS].name = "leave-requests"
    slack_sends(client, channel_rename(C_ENG_APPROVALS, "leave-requests"), "Ev_RENAME", retries=1)
    fake_slack.clear_calls()

    send_later_request(client, fake_slack, ALICE)

    assert len(delivered(fake_slack)) == 1
    assert len(requests_in(fake_slack, C_ENG_APPROVALS)) == 2
    page = setup_page(hr_console)
    assert "leave-requests" in page
    assert "#eng-approvals" not in page and ">eng-approvals<" not in page


def test_an_approvals_channel_made_private_keeps_its_requests_and_setup_stops_warning(client, fake_slack,
                                                                                    hr_console):
    # A public approvals channel while a leave type is private: the Setup page warns. HR makes the channel
    # private in Slack; it keeps its id, and the warning goes once Setup checks again.
    fake_slack.workspace.add_channel(C_PUBLIC_APPROVALS, "eng-leave", members=[BOB, DAVE, HR])
    install_config(standard_config(teams=(replace(ENGINEERING, approvals_channel=C_PUBLIC_APPROVALS),)))
    request_time_off(client, fake_slack, ALICE)
    [posted] = delivered(fake_slack, C_PUBLIC_APPROVALS)
    warning = "anyone in the workspace can read and search the private leave types"
    assert warning in setup_page(hr_console)

    with fake_slack.workspace.lock:
        fake_slack.workspace.channels[C_PUBLIC_APPROVALS].is_private = True
    slack_sends(client, made_private_message(C_PUBLIC_APPROVALS), "Ev_PRIVATE")
    fake_slack.clear_calls()

    click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted)
    send_later_request(client, fake_slack, ALICE)

    assert [r["status"] for r in requests_in(fake_slack, C_PUBLIC_APPROVALS)] == ["approved", "pending"]
    assert warning not in setup_page(hr_console)
    assert not DeliveryProblem.objects.exists()


def test_a_public_members_channel_made_private_without_the_bot_names_the_channel_not_no_team(client, fake_slack):
    # The team's members are a public channel the bot never joined (Slack lists a public channel's members
    # to any app). Made private, Slack hides it: channel_not_found. Its members are not "in no team".
    fake_slack.workspace.add_channel("C_PUB_ENG", "eng-people", members=[ALICE, DAVE], bot_member=False)
    install_config(standard_config(teams=(replace(ENGINEERING, members=MemberSource(channel="C_PUB_ENG")),)))
    request_time_off(client, fake_slack, ALICE)
    assert len(delivered(fake_slack)) == 1

    with fake_slack.workspace.lock:
        fake_slack.workspace.channels["C_PUB_ENG"].is_private = True
    slack_sends(client, made_private_message("C_PUB_ENG"), "Ev_PRIVATE_MEMBERS")
    # Slack sends no event for a channel the bot is not in: the cached list simply ends after ten minutes.
    memberships_changed("C_PUB_ENG")
    fake_slack.clear_calls()

    response = post_command(client, "", user_id=DAVE)

    assert response.status_code == 200
    text = response.json()["text"] if response.content else ""
    if not text:  # the form opened on a cold cache: its submission is checked in the background
        view = fake_slack.last_call("views.open").params["view"]
        answer = submit_request(client, DAVE, view, request_values("vacation", MONDAY, WEDNESDAY),
                                view_id="V_DAVE", view_hash="hd")
        assert answer.status_code == 200
        errors = answer.json().get("errors", {}) if answer.content else {}
        text = " ".join([*errors.values(), *told(fake_slack, DAVE)])
    assert "channel_not_found" in text and "no team is configured" not in text, text
    assert delivered(fake_slack) == []


# --- Deleted --------------------------------------------------------------------------------------------


def delete_channel(fake_slack, channel: str) -> None:
    """An admin deletes the channel: Slack answers channel_not_found for it from then on, history included."""
    with fake_slack.workspace.lock:
        del fake_slack.workspace.channels[channel]


def test_a_request_after_the_approvals_channel_was_deleted_is_told_back_and_kept_for_hr(client, fake_slack,
                                                                                     hr_console):
    install_config()
    open_request_form(client, fake_slack, DAVE)  # Dave's view of the ledger is warm
    request_time_off(client, fake_slack, ALICE)
    delete_channel(fake_slack, C_ENG_APPROVALS)
    slack_sends(client, channel_deleted(C_ENG_APPROVALS), "Ev_DELETED", retries=2)
    fake_slack.clear_calls()

    send_later_request(client, fake_slack, DAVE)

    assert delivered(fake_slack) == []
    texts = told(fake_slack, DAVE)
    assert len([t for t in texts if LATER_ASKED_FOR in t]) == 1, texts  # told once, with what he asked for
    assert not [t for t in texts if "our side" in t], texts
    [problem] = DeliveryProblem.objects.filter(user=DAVE)
    assert problem.channel == C_ENG_APPROVALS and problem.error == "channel_not_found"
    page = setup_page(hr_console)
    assert "Slack cannot find it: it was deleted" in page
    assert LATER_ASKED_FOR in page


def test_a_deleted_earlier_approvals_channel_does_not_lose_a_request_silently(client, fake_slack, hr_console):
    # Last year's approvals channel, still listed as a past approvals channel, is deleted by an admin
    # tidying up. On a cold cache the whole ledger cannot be read (README: a cold submission that meets a
    # refusal for good is refused with "I couldn't read the leave history", and HR sees a Delivery problem):
    # Alice is told, with what she asked for, and HR can see which channel to take out of the list.
    fake_slack.workspace.add_channel(C_NEW_APPROVALS, "eng-approvals-2031", members=[BOB, DAVE, HR], private=True)
    install_config(standard_config(teams=(replace(ENGINEERING, approvals_channel=C_NEW_APPROVALS,
                                                  past_approvals_channels=(C_OLD_APPROVALS,)),)))
    delete_channel(fake_slack, C_OLD_APPROVALS)
    slack_sends(client, channel_deleted(C_OLD_APPROVALS), "Ev_DELETED_OLD")
    cache.clear()

    response = request_time_off(client, fake_slack, ALICE)

    assert response.status_code == 200
    assert delivered(fake_slack, C_NEW_APPROVALS) == []
    [dm] = told(fake_slack, ALICE)
    assert "leave history" in dm and ASKED_FOR in dm, dm
    # Which channel, and that HR must fix it first: trying again later alone would meet the same refusal.
    assert f"<#{C_OLD_APPROVALS}>" in dm and "channel_not_found" in dm and "once they have fixed" in dm, dm
    [problem] = DeliveryProblem.objects.all()
    assert (problem.user, problem.channel, problem.error) == (ALICE, C_OLD_APPROVALS, "channel_not_found")
    page = setup_page(hr_console)
    assert "Slack cannot find it: it was deleted" in page and C_OLD_APPROVALS in page


# --- The bot removed, and invited back ----------------------------------------------------------------


def test_a_pending_request_is_decided_once_the_bot_is_back_in_the_approvals_channel(client, fake_slack):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    [posted] = delivered(fake_slack)
    with fake_slack.workspace.lock:
        fake_slack.workspace.channels[C_ENG_APPROVALS].members.discard(BOT)
    slack_sends(client, channel_left(C_ENG_APPROVALS), "Ev_BOT_LEFT_CH")
    slack_sends(client, member_left(BOT, C_ENG_APPROVALS), "Ev_BOT_LEFT", retries=1)
    home = open_app_home(client, fake_slack, ALICE, "Ev_HOME_1")
    assert "Mon 10 Mar 2031 – Wed 12 Mar 2031 (3 working days)* — :hourglass_flowing_sand: Pending" in str(home)

    click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted)
    assert [r["status"] for r in requests_in(fake_slack, C_ENG_APPROVALS)] == ["pending"]
    assert told(fake_slack, BOB)

    with fake_slack.workspace.lock:
        fake_slack.workspace.channels[C_ENG_APPROVALS].members.add(BOT)
    slack_sends(client, member_joined(BOT, C_ENG_APPROVALS), "Ev_BOT_BACK")
    fake_slack.clear_calls()

    click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted)

    assert [r["status"] for r in requests_in(fake_slack, C_ENG_APPROVALS)] == ["approved"]
    assert len([t for t in dms_to(fake_slack, ALICE) if "approved" in t]) == 1
    home = open_app_home(client, fake_slack, ALICE, "Ev_HOME_2")
    assert ":hourglass_flowing_sand: Pending" not in str(home), home  # Home follows the decision


def test_the_bot_removed_from_the_announce_channel_leaves_the_approval_made_and_hr_told_once(client, fake_slack):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    [posted] = delivered(fake_slack)
    with fake_slack.workspace.lock:
        fake_slack.workspace.channels[C_ENG].members.discard(BOT)  # #engineering: members and announcements
    slack_sends(client, member_left(BOT, C_ENG, channel_type="C"), "Ev_BOT_LEFT_ENG", retries=2)
    fake_slack.clear_calls()

    click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted)
    click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted)  # a second click while Slack is slow

    assert [r["status"] for r in requests_in(fake_slack, C_ENG_APPROVALS)] == ["approved"]
    assert len([t for t in dms_to(fake_slack, ALICE) if "approved" in t]) == 1
    assert not [t for t in told(fake_slack, BOB) if "could not record" in t or "refused" in t]
    [problem] = DeliveryProblem.objects.all()
    assert (problem.channel, problem.error) == (C_ENG, "not_in_channel")
    assert "announcement" in problem.summary


def test_an_archived_announce_channel_leaves_the_approval_made_and_hr_told_once(client, fake_slack, hr_console):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    [posted] = delivered(fake_slack)
    with fake_slack.workspace.lock:
        fake_slack.workspace.channels[C_ENG].is_archived = True
    slack_sends(client, channel_archive(C_ENG), "Ev_ARCHIVE_ENG")
    fake_slack.clear_calls()

    click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted)

    assert [r["status"] for r in requests_in(fake_slack, C_ENG_APPROVALS)] == ["approved"]
    assert len([t for t in dms_to(fake_slack, ALICE) if "approved" in t]) == 1
    [problem] = DeliveryProblem.objects.all()
    assert (problem.channel, problem.error) == (C_ENG, "is_archived")
    page = setup_page(hr_console)
    assert page.count("announcement") >= 1 and "It is archived" in page


# --- A user group used as members, disabled ---------------------------------------------------------------


def test_a_disabled_user_group_names_itself_to_its_people_rather_than_no_team(client, fake_slack):
    install_config(standard_config(teams=(replace(ENGINEERING, members=MemberSource(usergroup=S_ENG)),)))
    request_time_off(client, fake_slack, ALICE)
    assert len(delivered(fake_slack)) == 1

    with fake_slack.workspace.lock:
        del fake_slack.workspace.usergroups[S_ENG]  # Slack no longer lists a disabled group's users
    slack_sends(client, subteam_disabled(S_ENG), "Ev_SUBTEAM_OFF")
    # Slack sends subteam_members_changed as the group empties; the app forgets the cached list.
    slack_sends(client, {"type": "subteam_members_changed", "subteam_id": S_ENG, "team_id": SLACK_TEAM,
                         "date_previous_update": 1446670362, "date_update": int(time.time()),
                         "added_users": [], "added_users_count": "0", "removed_users": [ALICE, DAVE],
                         "removed_users_count": "2", "event_ts": event_ts()}, "Ev_SUBTEAM_EMPTY")
    fake_slack.clear_calls()

    response = post_command(client, "", user_id=DAVE)

    assert response.status_code == 200
    text = response.json()["text"] if response.content else ""
    if not text:
        view = fake_slack.last_call("views.open").params["view"]
        answer = submit_request(client, DAVE, view, request_values("vacation", LATER_MONDAY, LATER_TUESDAY),
                                view_id="V_DAVE", view_hash="hd")
        assert answer.status_code == 200
        errors = answer.json().get("errors", {}) if answer.content else {}
        text = " ".join([*errors.values(), *told(fake_slack, DAVE)])
    assert "no_such_subteam" in text and "no team is configured" not in text, text
    assert delivered(fake_slack) == []
    # Alice's request sent before is still there, for Bob (a listed approver) to decide.
    assert [r["status"] for r in requests_in(fake_slack, C_ENG_APPROVALS)] == ["pending"]
