"""Someone in no team because Slack will not list a team's members is told that, not that HR forgot them.

A team's members channel the app cannot read (private, and the app not invited:
Slack says `channel_not_found`) or a user group that no longer exists counts as
nobody for ten minutes, so the people in it match no team. They are told which
list could not be read and Slack's word for it, wherever "no team is configured
for you" would be said: `/timeoff`, the form's submission, the delivery task's
DM, `/timeoff balance` and `/timeoff who`, App Home's note and the form's live
preview. Signed requests, the fake Slack.
"""

import json
import logging
from dataclasses import replace

import pytest
from django.core.cache import cache

from approvals import block_ids as ids
from approvals import directory
from approvals.config_types import MemberSource
from approvals.slack_clients import background_client
from fake_slack.personas import C_ENG_APPROVALS, C_GENERAL, CAROL
from test_support.flows import (
    ALICE,
    ENGINEERING,
    HR,
    MONDAY,
    WEDNESDAY,
    dms_to,
    install_config,
    metadata_payload,
    open_request_form,
    posted_requests,
    request_time_off,
    request_values,
    standard_config,
    submit_request,
)
from test_support.slack_requests import (
    block_actions_payload,
    event_envelope,
    post_command,
    post_event,
    post_interaction,
)

pytestmark = pytest.mark.django_db

C_SECRET = "C_SECRET"  # private, and the app was never invited: Slack says channel_not_found
UNREADABLE = replace(ENGINEERING, members=MemberSource(channel=C_SECRET))
TOLD = (f"I couldn't read who is in <#{C_SECRET}> (Slack said channel_not_found), which decides who is in "
        f"Engineering; ask <@{HR}> to invite the app to that channel or fix the team's settings")


@pytest.fixture
def secret_channel(fake_slack):
    fake_slack.workspace.add_channel(C_SECRET, "secret-eng", members=[ALICE], private=True, bot_member=False)
    install_config(standard_config(teams=(UNREADABLE,)))


def warm(client, user: str) -> None:
    """`/timeoff` on a cold cache: the form opens, and the person's memberships are read in the background."""
    assert post_command(client, "", user_id=user).status_code == 200


def timeoff(client, user: str, text: str = "") -> dict:
    response = post_command(client, text, user_id=user)
    assert response.status_code == 200, response.content
    return response.json()


def test_timeoff_names_the_channel_it_cannot_read_and_slacks_error(client, fake_slack, secret_channel, caplog):
    warm(client, ALICE)
    fake_slack.clear_calls()
    caplog.clear()

    with caplog.at_level(logging.WARNING, logger="approvals"):
        body = timeoff(client, ALICE)

    assert body["response_type"] == "ephemeral"
    assert body["text"] == f"Sorry, {TOLD}."
    assert "no team is configured" not in body["text"]
    assert fake_slack.calls() == []  # told from the cache: the refusal was remembered with its error
    [logged] = [r.getMessage() for r in caplog.records if "cannot be read" in r.getMessage()]
    assert f"user={ALICE}" in logged and f"channel={C_SECRET}" in logged and "error=channel_not_found" in logged
    assert "Engineering" not in logged  # ids only: the team's name is text HR typed


def test_the_warning_is_logged_once_a_while_per_person_not_at_each_answer(client, fake_slack, secret_channel,
                                                                          caplog):
    fake_slack.workspace.channels[C_SECRET].members.add(CAROL)
    warm(client, ALICE)
    with caplog.at_level(logging.WARNING, logger="approvals"):
        for user in (ALICE, ALICE, CAROL):
            assert timeoff(client, user)["text"] == f"Sorry, {TOLD}."
    logged = [r.getMessage() for r in caplog.records if "cannot be read" in r.getMessage()]
    assert [line.split()[0] for line in logged] == [f"user={ALICE}", f"user={CAROL}"]


def test_the_refusal_is_asked_of_slack_once_in_ten_minutes(client, fake_slack, secret_channel):
    warm(client, ALICE)
    for _ in range(2):
        timeoff(client, ALICE)
    assert [c.params["channel"] for c in fake_slack.calls("conversations.members")].count(C_SECRET) == 1


def test_the_forms_submission_says_it_in_plain_text(client, fake_slack, secret_channel):
    install_config()  # the form opened while Alice's team was still read from C_ENG, say
    view = open_request_form(client, fake_slack, ALICE)
    install_config(standard_config(teams=(UNREADABLE,)))
    directory.fetch_channel_members(background_client(), C_SECRET)  # the new team's members, read (and refused)

    body = submit_request(client, ALICE, view, request_values("vacation", MONDAY, WEDNESDAY)).json()

    assert body["response_action"] == "errors"
    assert body["errors"][ids.TYPE_BLOCK] == (
        f"Sorry, I couldn't read who is in the channel {C_SECRET} (Slack said channel_not_found), which decides "
        "who is in Engineering; ask HR to invite the app to that channel or fix the team's settings.")
    assert posted_requests(fake_slack) == []


def test_a_submission_checked_in_the_background_is_refused_by_dm_saying_why(client, fake_slack, secret_channel):
    install_config()
    view = open_request_form(client, fake_slack, ALICE)
    install_config(standard_config(teams=(UNREADABLE,)))
    cache.clear()  # memberships expired between opening the form and sending it

    response = submit_request(client, ALICE, view, request_values("vacation", MONDAY, WEDNESDAY))

    assert response.content == b""  # accepted: checked in the delivery task
    assert posted_requests(fake_slack) == []
    [dm] = dms_to(fake_slack, ALICE)
    assert f"• {TOLD}\n" in dm and "Vacation" in dm  # why, and what they asked for


def test_a_user_group_that_no_longer_exists_is_named_not_mentioned(client, fake_slack):
    install_config(standard_config(teams=(replace(ENGINEERING, members=MemberSource(usergroup="S_GONE")),)))
    warm(client, ALICE)

    text = timeoff(client, ALICE)["text"]

    assert text == ("Sorry, I couldn't read who is in the user group S_GONE (Slack said no_such_subteam), which "
                    f"decides who is in Engineering; ask <@{HR}> to fix the team's settings.")


@pytest.mark.parametrize("command", ["balance", "who"])
def test_balance_and_who_say_it_too(client, fake_slack, secret_channel, command):
    assert "DM you" in timeoff(client, ALICE, command)["text"]  # cold: answered by DM, from Slack
    assert dms_to(fake_slack, ALICE) == [f"Sorry, {TOLD}."]

    assert timeoff(client, ALICE, command)["text"] == f"Sorry, {TOLD}."  # warm: at once, from the cache


def test_someone_the_other_lists_place_in_a_team_is_not_told(client, fake_slack, secret_channel):
    general = replace(ENGINEERING, name="Everyone", members=MemberSource(channel=C_GENERAL),
                      approvals_channel=C_ENG_APPROVALS)
    install_config(standard_config(teams=(UNREADABLE, general)))

    request_time_off(client, fake_slack, ALICE)

    assert metadata_payload(posted_requests(fake_slack)[0])["team"] == "Everyone"
    assert not [dm for dm in dms_to(fake_slack, ALICE) if "couldn't read" in dm]


def test_someone_in_no_team_while_every_list_is_read_is_told_as_before(client, fake_slack):
    install_config()
    warm(client, CAROL)

    assert timeoff(client, CAROL)["text"] == (f"Sorry, no team is configured for you, so nobody could approve it; "
                                              f"ask <@{HR}> to add you to a team.")


def test_app_home_says_which_list_it_cannot_read(client, fake_slack, secret_channel):
    envelope = event_envelope({"type": "app_home_opened", "user": ALICE, "channel": "D_HOME", "tab": "home",
                               "event_ts": "1766000000.000300"}, event_id="Ev_HOME")
    assert post_event(client, envelope).status_code == 200

    view = fake_slack.last_call("views.publish").params["view"]
    shown = json.dumps(json.loads(view) if isinstance(view, str) else view)
    assert json.dumps(f"You can't request time off yet: {TOLD}.") in shown  # a context block: mrkdwn
    assert "No team is configured" not in shown


def test_the_forms_preview_says_which_list_it_cannot_read(client, fake_slack, secret_channel):
    """The form opened on a cold cache ("Looking up your team…"); the refusal is read in the background
    and the next change of a date redraws the preview from the cache."""
    warm(client, ALICE)
    opened = fake_slack.last_call("views.open")
    view = {**opened.params["view"], "id": opened.response["view"]["id"], "hash": opened.response["view"]["hash"],
            "state": {"values": request_values("vacation", MONDAY, WEDNESDAY)}}
    payload = block_actions_payload(user_id=ALICE, action_id=ids.END_ACTION, value="", block_id=ids.END_BLOCK)
    payload["container"] = {"type": "view", "view_id": view["id"]}
    payload["view"] = view
    payload["actions"][0].update({"type": "datepicker", "selected_date": WEDNESDAY.isoformat()})
    fake_slack.clear_calls()

    assert post_interaction(client, payload).status_code == 200

    [updated] = fake_slack.calls("views.update")
    [preview] = [b for b in updated.params["view"]["blocks"] if b.get("block_id") == ids.PREVIEW_BLOCK]
    assert preview["elements"][0]["text"].endswith(f"{TOLD}.")  # a context block: mrkdwn
    assert [c.method for c in fake_slack.calls()] == ["views.update"]  # from the cache: Slack is not asked
