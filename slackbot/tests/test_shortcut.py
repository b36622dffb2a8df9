"""The global shortcut "Request time off" (Slack's ⚡ menu and search) opens the same form as `/timeoff`.

Signed, Slack-shaped `shortcut` payloads go to /slack/interactions; the app
talks to the fake Slack over real HTTP; the assertions are on what crossed the wire.
"""

import pytest

from approvals import block_ids as ids
from fake_slack.personas import CAROL
from test_support.flows import (ALICE, HR, MONDAY, WEDNESDAY, install_config, metadata_payload, posted_requests,
                                request_values, submit_request)
from test_support.slack_requests import post_interaction, shortcut_payload

pytestmark = pytest.mark.django_db


def test_the_shortcut_opens_the_request_form(client, fake_slack):
    install_config()
    payload = shortcut_payload(user_id=ALICE, callback_id=ids.REQUEST_SHORTCUT)
    response = post_interaction(client, payload)
    assert response.status_code == 200 and response.content == b""
    opened = fake_slack.last_call("views.open")
    assert opened.params["trigger_id"] == payload["trigger_id"]
    assert opened.params["view"]["callback_id"] == ids.REQUEST_MODAL
    assert opened.response["ok"] is True  # the fake validated the modal as Slack does


def test_a_request_sent_from_the_shortcuts_form_reaches_the_approvers(client, fake_slack):
    install_config()
    post_interaction(client, shortcut_payload(user_id=ALICE, callback_id=ids.REQUEST_SHORTCUT))
    view = fake_slack.last_call("views.open").params["view"]
    response = submit_request(client, ALICE, view, request_values("vacation", MONDAY, WEDNESDAY))
    assert response.content == b""
    [posted] = posted_requests(fake_slack)
    request = metadata_payload(posted)
    assert request["user"] == ALICE and request["status"] == "pending"


def test_someone_in_no_team_is_told_why_in_a_modal(client, fake_slack):
    install_config()
    post_interaction(client, shortcut_payload(user_id=CAROL, callback_id=ids.REQUEST_SHORTCUT))  # warms memberships
    response = post_interaction(client, shortcut_payload(user_id=CAROL, callback_id=ids.REQUEST_SHORTCUT))
    assert response.status_code == 200 and response.content == b""  # a shortcut has no channel to answer in
    opened = fake_slack.last_call("views.open")
    view = opened.params["view"]
    assert view.get("callback_id") != ids.REQUEST_MODAL
    text = " ".join(block["text"]["text"] for block in view["blocks"] if block.get("type") == "section")
    assert "no team is configured for you" in text and f"<@{HR}>" in text
    assert opened.response["ok"] is True


def test_before_hr_sets_anything_up_the_modal_says_so(client, fake_slack):
    response = post_interaction(client, shortcut_payload(user_id=ALICE, callback_id=ids.REQUEST_SHORTCUT))
    assert response.status_code == 200
    view = fake_slack.last_call("views.open").params["view"]
    assert "isn't set up yet" in view["blocks"][0]["text"]["text"]


@pytest.mark.parametrize("fault", ["expired_trigger_id", "ratelimited"])
def test_when_slack_refuses_the_form_the_shortcut_is_still_acknowledged(client, fake_slack, fault):
    install_config()
    if fault == "ratelimited":
        fake_slack.rate_limit("views.open", retry_after=30)
    else:
        fake_slack.fail("views.open", error=fault)
    response = post_interaction(client, shortcut_payload(user_id=ALICE, callback_id=ids.REQUEST_SHORTCUT))
    assert response.status_code == 200 and response.content == b""
    assert len(fake_slack.calls("views.open")) == 1  # no sleeping on Retry-After, no second try with a spent trigger


def test_a_shortcut_without_a_trigger_is_a_bad_request(client, fake_slack):
    install_config()
    payload = shortcut_payload(user_id=ALICE, callback_id=ids.REQUEST_SHORTCUT)
    del payload["trigger_id"]
    response = post_interaction(client, payload)
    assert response.status_code == 400
    assert fake_slack.calls("views.open") == []
