"""Answers that come by DM ("I'll DM you in a moment": `/timeoff balance`, `list`, `who` when the cache
could not answer; a change refused) arrive once, though Slack makes the DM and loses its answer, and at once,
though Slack fails a post for a moment.

Each asking has a name of its own, kept in its task's arguments: the task's attempts share it (the DM made
before is found in the person's DM with the app), two askings never do (each gets its answer).
"""

import pytest
from django.core.cache import cache

from approvals import block_ids as ids
from approvals.balance_services import CHECKING_TEXT
from approvals.change_services import LIST_CHECKING_TEXT
from approvals.notifications import send_answer
from approvals.rules import APPROVED
from approvals.slack_clients import background_client
from approvals.team_out_services import CHECKING_TEXT as WHO_CHECKING_TEXT
from fake_slack.personas import ALICE, BOB, DAVE
from test_support.direct_messages import dm_channel, dm_to
from test_support.flows import (
    buttons_in,
    click,
    install_config,
    open_app_home,
    posted_requests,
    press,
    request_status,
    request_time_off,
)
from test_support.slack_faults import MADE_BUT_LOST, failing
from test_support.slack_requests import post_command, post_interaction, view_block_actions_payload

pytestmark = pytest.mark.django_db

# What each command says at once when the cache cannot answer, and what its DM holds.
ASKED = {
    "balance": (CHECKING_TEXT, "Your leave in"),
    "list": (LIST_CHECKING_TEXT, "Your time off"),
    "who": (WHO_CHECKING_TEXT, "Engineering"),
}


def dms_made_to(fake_slack, user: str) -> list[str]:
    """Every DM Slack made to `user`, as it stands now."""
    return [message.text for message in fake_slack.workspace.messages(user)]


def ask(client, user: str, text: str) -> str:
    response = post_command(client, text, user_id=user)
    assert response.status_code == 200, response.content
    return response.json()["text"]


def looks_in_the_dm(fake_slack, user: str) -> list:
    return [call for call in fake_slack.calls("conversations.history")
            if call.params.get("channel") == dm_channel(user)]


@pytest.mark.parametrize("command", ASKED)
@pytest.mark.parametrize("fault", MADE_BUT_LOST)
def test_an_answer_slack_made_and_lost_the_answer_to_arrives_once(client, fake_slack, no_backoff, command, fault):
    install_config()
    checking, answer = ASKED[command]

    with failing(fake_slack, dm_to(ALICE), fault) as met:
        assert ask(client, ALICE, command) == checking

    assert met, "the answer was never sent"
    [made] = dms_made_to(fake_slack, ALICE)
    assert answer in made, made
    assert looks_in_the_dm(fake_slack, ALICE), "the answer was sent again without looking for the first"


@pytest.mark.parametrize("command", ASKED)
@pytest.mark.parametrize("fault", ["http_500", "internal_error", "gateway_502_html"])
def test_an_answer_slack_failed_to_post_for_a_moment_arrives_once(client, fake_slack, no_backoff, command, fault):
    install_config()
    checking, answer = ASKED[command]

    with failing(fake_slack, dm_to(ALICE), fault) as met:
        assert ask(client, ALICE, command) == checking

    assert met
    [made] = dms_made_to(fake_slack, ALICE)
    assert answer in made, made


def test_each_asking_gets_its_own_answer(client, fake_slack):
    install_config()
    assert ask(client, ALICE, "balance") == CHECKING_TEXT
    cache.clear()  # cold again: the second asking comes by DM too
    install_config()
    assert ask(client, ALICE, "balance") == CHECKING_TEXT

    made = dms_made_to(fake_slack, ALICE)
    assert len(made) == 2 and all("Your leave in" in text for text in made), made


def test_an_answer_sent_again_under_the_same_asking_is_not_repeated(fake_slack):
    # A task's attempt that runs again after its DM went out (a worker killed before it recorded the task
    # done, whose row recovery hands to another worker) sends nothing more.
    install_config()
    send_answer(background_client(), "ask-1", ALICE, "Your balance: 20 days")
    send_answer(background_client(), "ask-1", ALICE, "Your balance: 20 days")
    send_answer(background_client(), "ask-2", ALICE, "Your balance: 20 days")

    assert dms_made_to(fake_slack, ALICE) == ["Your balance: 20 days"] * 2


def test_a_refusal_of_a_change_slack_made_and_lost_the_answer_to_is_said_once(client, fake_slack, no_backoff):
    # Withdraw pressed on the receipt after Bob approved: refused, by DM (a receipt's button has no
    # channel to answer in), once though Slack made that DM and lost its answer.
    install_config()
    request_time_off(client, fake_slack, ALICE)
    receipt = next(call for call in fake_slack.calls("chat.postMessage") if call.params.get("channel") == ALICE)
    click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted_requests(fake_slack)[0])
    assert request_status(fake_slack)["status"] == APPROVED
    before = len(dms_made_to(fake_slack, ALICE))

    with failing(fake_slack, dm_to(ALICE, "nothing to withdraw"), "answer_lost") as met:
        press(client, ALICE, receipt.params["blocks"], ids.WITHDRAW_ACTION, channel=receipt.response["channel"],
              ts=receipt.response["ts"])

    assert met
    refused = [text for text in dms_made_to(fake_slack, ALICE)[before:] if "nothing to withdraw" in text]
    assert len(refused) == 1, dms_made_to(fake_slack, ALICE)
    assert request_status(fake_slack)["status"] == APPROVED


def test_each_press_refused_is_answered(client, fake_slack):
    # Two presses a while apart are two askings: each is answered, as a person pressing again expects.
    install_config()
    request_time_off(client, fake_slack, ALICE)
    receipt = next(call for call in fake_slack.calls("chat.postMessage") if call.params.get("channel") == ALICE)
    click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted_requests(fake_slack)[0])

    for _ in range(2):
        press(client, ALICE, receipt.params["blocks"], ids.WITHDRAW_ACTION, channel=receipt.response["channel"],
              ts=receipt.response["ts"])

    refused = [text for text in dms_made_to(fake_slack, ALICE) if "nothing to withdraw" in text]
    assert len(refused) == 2, dms_made_to(fake_slack, ALICE)


def press_on_home(client, user: str, home: dict, action_id: str):
    block_id, value = buttons_in(home["blocks"])[action_id]
    response = post_interaction(client, view_block_actions_payload(user_id=user, action_id=action_id, value=value,
                                                                   block_id=block_id, view=home))
    assert response.status_code == 200, response.content


def test_an_approvers_note_from_app_home_slack_made_and_lost_the_answer_to_is_said_once(client, fake_slack,
                                                                                      no_backoff):
    # Bob's tab still offers Approve on Alice's request, which Dave approved meanwhile in the channel: Bob
    # pressing it is told by DM (App Home has no channel), once though Slack lost that DM's answer.
    install_config()
    request_time_off(client, fake_slack, ALICE)
    home = open_app_home(client, fake_slack, BOB, event_id="Ev_BOB_HOME")
    click(client, fake_slack, DAVE, ids.APPROVE_ACTION, posted_requests(fake_slack)[0])
    assert request_status(fake_slack)["status"] == APPROVED

    with failing(fake_slack, dm_to(BOB, "already approved"), "answer_lost") as met:
        press_on_home(client, BOB, home, ids.APPROVE_ACTION)

    assert met
    told = [text for text in dms_made_to(fake_slack, BOB) if "already approved" in text]
    assert len(told) == 1, dms_made_to(fake_slack, BOB)
    assert request_status(fake_slack)["decided_by"] == DAVE
