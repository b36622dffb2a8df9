"""Payloads shaped as real Slack sends them: the certificate check, escaped command text, App Home clicks.

Sources: Slack's certificate check is sent without signature headers (slackapi/bolt-js#1397, a capture
of the request by Slack's own maintainer; bolt-python's RequestVerification answers it before
verifying). Slash command text arrives with `&`, `<` and `>` as `&amp;`, `&lt;`, `&gt;` (Slack's
message formatting; slackbot/team_out_command.py relies on it too). A button in App Home is clicked
with `container: {"type": "view"}` and no `channel` (test_support.slack_requests.view_block_actions_payload).
"""

from urllib.parse import urlencode

import pytest

from approvals import block_ids as ids
from fake_slack.personas import C_ENG_APPROVALS
from test_support.flows import buttons_in
from test_support.flows import (
    ALICE,
    BOB,
    DAVE,
    click,
    dms_to,
    install_config,
    open_app_home,
    posted_requests,
    request_time_off,
)
from test_support.slack_requests import command_fields, post_command, post_interaction, view_block_actions_payload

pytestmark = pytest.mark.django_db


# --- Slack's certificate check ---------------------------------------------------------------------


def test_slacks_certificate_check_as_slack_sends_it_unsigned_gets_an_empty_200(client, fake_slack):
    # As captured in slackapi/bolt-js#1397: no X-Slack-Signature, no X-Slack-Request-Timestamp.
    response = client.post("/slack/commands", data="ssl_check=1&token=xxx",
                           content_type="application/x-www-form-urlencoded",
                           headers={"User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)"})
    assert response.status_code == 200
    assert response.content == b""
    assert fake_slack.calls() == []


@pytest.mark.parametrize("body", [
    "ssl_check=1&token=xxx&" + urlencode(command_fields("", user_id="U_ALICE")),  # a command smuggled along
    "ssl_check=1&payload=%7B%7D",
    "ssl_check=1&ssl_check=1",
    "ssl_check=0&token=xxx",
    "ssl_check=true",
])
def test_an_unsigned_form_that_is_not_only_a_certificate_check_is_refused(client, fake_slack, body):
    response = client.post("/slack/commands", data=body, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 401
    assert fake_slack.calls() == []


def test_the_certificate_check_is_answered_only_on_the_commands_url(client):
    for path in ("/slack/interactions", "/slack/events"):
        response = client.post(path, data="ssl_check=1&token=xxx", content_type="application/x-www-form-urlencoded")
        assert response.status_code == 401, path


# --- Slack's escaping in a slash command's text ----------------------------------------------------


def test_a_word_not_understood_is_shown_as_it_was_typed(client, fake_slack):
    install_config()
    # Typed: /timeoff 2031-03-10 R&D<x> — Slack sends `&`, `<`, `>` as entities.
    answer = post_command(client, "2031-03-10 R&amp;D&lt;x&gt;", user_id=ALICE).json()
    # Escaped once for mrkdwn (so Slack shows `R&D<x>`), not twice (which shows `R&amp;D&lt;x&gt;`).
    assert "`R&amp;D&lt;x&gt;`" in answer["text"]
    assert "&amp;amp;" not in answer["text"] and "&amp;lt;" not in answer["text"]


# --- Approve / Reject clicked in App Home ----------------------------------------------------------


def test_a_reject_form_that_did_not_open_from_app_home_is_told_by_dm(client, fake_slack):
    # README, "A form Slack would not open": from App Home, which has no channel, by DM.
    install_config()
    request_time_off(client, fake_slack, ALICE)
    home = open_app_home(client, fake_slack, BOB, "Ev_AUDIT_HOME1")
    block_id, value = buttons_in(home["blocks"])[ids.REJECT_ACTION]
    fake_slack.rate_limit("views.open", retry_after=30, times=None)
    fake_slack.clear_calls()

    response = post_interaction(client, view_block_actions_payload(user_id=BOB, action_id=ids.REJECT_ACTION,
                                                                   value=value, block_id=block_id, view=home))

    assert response.status_code == 200
    # Not an ephemeral in the approvals channel, which the approver is not looking at (and where an
    # ephemeral does not last).
    assert [c.params["channel"] for c in fake_slack.calls("chat.postEphemeral")] == []
    assert any("click Reject again" in dm for dm in dms_to(fake_slack, BOB))


def test_an_approval_from_app_home_after_another_approvers_is_told_by_dm(client, fake_slack):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    home = open_app_home(client, fake_slack, DAVE, "Ev_AUDIT_HOME2")
    block_id, value = buttons_in(home["blocks"])[ids.APPROVE_ACTION]
    click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted)
    fake_slack.clear_calls()

    response = post_interaction(client, view_block_actions_payload(user_id=DAVE, action_id=ids.APPROVE_ACTION,
                                                                   value=value, block_id=block_id, view=home))

    assert response.status_code == 200
    assert [c.params["channel"] for c in fake_slack.calls("chat.postEphemeral")] == []
    assert any("already approved by <@U_BOB>" in dm for dm in dms_to(fake_slack, DAVE))


def test_a_click_in_the_approvals_channel_is_still_answered_there(client, fake_slack):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted)
    fake_slack.clear_calls()

    click(client, fake_slack, DAVE, ids.APPROVE_ACTION, posted)

    [note] = [c.params for c in fake_slack.calls("chat.postEphemeral")]
    assert (note["channel"], note["user"]) == (C_ENG_APPROVALS, DAVE)
    assert "already approved" in note["text"]
