"""Slack tells the app it lost a channel (the bot removed, the channel archived or deleted), as Slack sends
those events (docs.slack.dev/reference/events/channel_left, group_left, channel_archive, group_archive,
channel_deleted, group_deleted, channel_unarchive): HR hears it at once when the configuration uses the
channel, and the Setup page checks again."""

import time
from dataclasses import replace

import pytest
from django.core.cache import cache

from approvals.config_types import ApproverSource, MemberSource
from approvals.directory import fetch_bot_user_id
from approvals.setup_checks import REQUESTED_KEY
from approvals.slack_clients import background_client
from fake_slack.personas import BOT, C_ENG, C_ENG_APPROVALS, C_ENG_LEADS, C_GENERAL, C_OLD_APPROVALS
from test_support.flows import ENGINEERING, HR, dms_to, install_config, standard_config
from test_support.slack_requests import SLACK_TEAM, event_envelope, post_event

pytestmark = pytest.mark.django_db

ACTOR = "U_ADMIN"


def event(kind: str, channel: str) -> dict:
    """The event as Slack shapes it: channel_left / group_left name who removed the bot (`actor_id`),
    channel_archive the archiver (`user`); the deleted ones only the channel."""
    shaped = {"type": kind, "channel": channel, "event_ts": f"{time.time():.6f}"}
    if kind.endswith("_left"):
        shaped["actor_id"] = ACTOR
    elif kind in ("channel_archive", "channel_unarchive"):
        shaped["user"] = ACTOR
    return shaped


def send(client, kind: str, channel: str, *, event_id: str = "Ev_CHANNEL1", retry_num: int | None = None):
    response = post_event(client, event_envelope(event(kind, channel), event_id=event_id), retry_num=retry_num)
    assert response.status_code == 200
    return response


def setup_checked(fake_slack) -> bool:
    return bool(fake_slack.calls("conversations.info"))


def test_hr_hears_at_once_that_the_bot_was_removed_from_an_approvals_channel(client, fake_slack):
    install_config()

    send(client, "channel_left", C_ENG_APPROVALS)

    [told] = dms_to(fake_slack, HR)
    assert told.startswith(f":warning: I was removed from <#{C_ENG_APPROVALS}>"), told
    assert "• Engineering: approvals channel" in told
    assert "Invite me back" in told and "Teams page" in told
    assert setup_checked(fake_slack)


def test_slacks_retry_of_the_event_tells_hr_once_and_a_later_removal_again(client, fake_slack):
    install_config()

    send(client, "channel_left", C_ENG_APPROVALS)
    send(client, "channel_left", C_ENG_APPROVALS, retry_num=1)
    assert len(dms_to(fake_slack, HR)) == 1

    send(client, "channel_left", C_ENG_APPROVALS, event_id="Ev_CHANNEL2")  # invited back, removed again
    assert len(dms_to(fake_slack, HR)) == 2


def test_an_archived_announce_channel_is_told_with_how_to_fix_it(client, fake_slack):
    install_config()

    send(client, "channel_archive", C_ENG)

    [told] = dms_to(fake_slack, HR)
    assert told.startswith(f":warning: <#{C_ENG}> was archived"), told
    assert "• Engineering: announce channel" in told and "• Engineering: members channel" in told
    assert "Unarchive it" in told


def test_a_deleted_private_past_approvals_channel_is_told(client, fake_slack):
    install_config(standard_config(teams=(replace(ENGINEERING, past_approvals_channels=(C_OLD_APPROVALS,)),)))

    send(client, "group_deleted", C_OLD_APPROVALS)

    [told] = dms_to(fake_slack, HR)
    assert told.startswith(f":warning: <#{C_OLD_APPROVALS}> was deleted"), told
    assert "past approvals channel (ledger)" in told
    assert "Choose another channel" in told


def test_the_bot_removed_from_a_public_channel_used_only_for_its_members_tells_nobody(client, fake_slack):
    # The app still reads a public channel's members without being in it: nothing fails.
    install_config()

    send(client, "channel_left", C_ENG_LEADS)

    assert dms_to(fake_slack, HR) == []


def test_the_bot_removed_from_a_private_approvers_channel_is_told(client, fake_slack):
    # A private channel's members are read only from inside it: who approves is unknown from now on.
    install_config()

    send(client, "group_left", C_ENG_LEADS)

    [told] = dms_to(fake_slack, HR)
    assert "• Engineering: approvers channel" in told


def test_a_channel_the_configuration_does_not_use_tells_nobody_and_checks_nothing(client, fake_slack):
    install_config()

    send(client, "channel_archive", C_GENERAL)

    assert dms_to(fake_slack, HR) == []
    assert not setup_checked(fake_slack)


def test_without_fallback_approvers_nobody_is_told_but_the_setup_page_checks_again(client, fake_slack):
    install_config(standard_config(fallback_approvers=()))

    send(client, "channel_left", C_ENG_APPROVALS)

    assert fake_slack.calls("chat.postMessage") == []
    assert setup_checked(fake_slack)


def test_a_team_name_in_the_dm_cannot_ping_anyone(client, fake_slack):
    install_config(standard_config(teams=(replace(ENGINEERING, name="<!channel> & <@U_BOB>"),)))

    send(client, "channel_left", C_ENG_APPROVALS)

    [told] = dms_to(fake_slack, HR)
    assert "&lt;!channel&gt; &amp; &lt;@U_BOB&gt;: approvals channel" in told
    assert "<!channel>" not in told and "<@U_BOB>" not in told


def test_a_dm_slack_rate_limits_reaches_hr_once_all_the_same(client, fake_slack, no_sleeping):
    install_config()
    fake_slack.rate_limit("chat.postMessage", retry_after=1)

    send(client, "channel_left", C_ENG_APPROVALS)

    posts = [call for call in fake_slack.calls("chat.postMessage") if call.params.get("channel") == HR]
    assert [call.status for call in posts] == [429, 200]


def test_unarchiving_or_inviting_the_bot_back_checks_the_setup_again(client, fake_slack):
    install_config()
    send(client, "channel_unarchive", C_ENG_APPROVALS)
    assert setup_checked(fake_slack)
    cache.delete(REQUESTED_KEY)  # a check asked for moments ago is not asked again: as if a while later
    fetch_bot_user_id(background_client())  # the bot's id, as the app knows it once it has called Slack
    fake_slack.clear_calls()

    joined = {"type": "member_joined_channel", "user": BOT, "channel": C_ENG_APPROVALS, "channel_type": "C",
              "team": SLACK_TEAM, "inviter": ACTOR, "event_ts": f"{time.time():.6f}"}
    assert post_event(client, event_envelope(joined, event_id="Ev_JOINED")).status_code == 200

    assert setup_checked(fake_slack)
    assert dms_to(fake_slack, HR) == []


def test_the_bot_invited_back_before_the_app_knows_its_id_checks_the_setup_again(client, fake_slack):
    # A fresh process (or a flushed cache): the event's `authorizations` name the bot user it was sent for.
    install_config()
    cache.delete(REQUESTED_KEY)
    fake_slack.clear_calls()
    joined = {"type": "member_joined_channel", "user": BOT, "channel": C_ENG_APPROVALS, "channel_type": "C",
              "team": SLACK_TEAM, "inviter": ACTOR, "event_ts": f"{time.time():.6f}"}
    assert post_event(client, event_envelope(joined, event_id="Ev_JOINED_COLD")).status_code == 200
    assert setup_checked(fake_slack)

    # Someone else joining is not the bot, whatever the cache knows.
    cache.delete(REQUESTED_KEY)
    fake_slack.clear_calls()
    someone = {**joined, "user": "U_ALICE"}
    assert post_event(client, event_envelope(someone, event_id="Ev_JOINED_ALICE")).status_code == 200
    assert not setup_checked(fake_slack)


@pytest.mark.parametrize("broken", [{}, {"channel": ""}, {"channel": 42}, {"channel": {"id": "C_ENG"}}])
def test_an_event_without_a_usable_channel_is_acknowledged_and_ignored(client, fake_slack, broken):
    install_config()
    shaped = {"type": "channel_deleted", "event_ts": f"{time.time():.6f}", **broken}

    assert post_event(client, event_envelope(shaped)).status_code == 200
    assert dms_to(fake_slack, HR) == []


def test_a_team_that_uses_the_channel_for_approvers_only_by_name_is_told_about_its_approvals(client, fake_slack):
    # Both uses listed, in the Setup page's words.
    install_config(standard_config(teams=(replace(ENGINEERING, members=MemberSource(users=("U_ALICE",)),
                                                  approvers=ApproverSource(users=("U_BOB",))),)))

    send(client, "group_archive", C_ENG_APPROVALS)

    [told] = dms_to(fake_slack, HR)
    assert told.count("• ") == 1 and "Engineering: approvals channel" in told


def test_archiving_a_channel_the_app_only_reads_tells_nobody(client, fake_slack):
    # An old approvals channel archived after the team moved on: its history can still be read.
    install_config(standard_config(teams=(replace(ENGINEERING, past_approvals_channels=(C_OLD_APPROVALS,)),)))

    send(client, "group_archive", C_OLD_APPROVALS)
    send(client, "channel_archive", C_ENG_LEADS, event_id="Ev_CHANNEL2")

    assert dms_to(fake_slack, HR) == []
    assert setup_checked(fake_slack)
