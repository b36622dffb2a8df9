"""Signed but malformed bodies get a 4xx, never a 500."""

import json
from urllib.parse import urlencode

import pytest

from test_support.slack_requests import post_signed

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "body",
    [
        "",
        "not a form at all",
        "user_id=U_ALICE",  # no command
        "command=%2Ftimeoff&team_id=T1",  # no user
        "command=%2Ftimeoff&user_id=&team_id=T1",
        "a=1&" * 200,  # too many fields
    ],
    ids=["empty", "not-form", "no-command", "no-user", "blank-user", "too-many-fields"],
)
def test_commands_reject_malformed_forms(client, body):
    response = post_signed(client, "/slack/commands", body)
    assert response.status_code == 400


@pytest.mark.parametrize(
    "body",
    [
        "",
        "nopayload=1",
        urlencode({"payload": "{not json"}),
        urlencode({"payload": "[1, 2]"}),
        urlencode({"payload": json.dumps({"user": {"id": "U_ALICE"}})}),  # no type
        urlencode({"payload": json.dumps({"type": "block_actions"})}),  # no user
        urlencode({"payload": json.dumps({"type": "block_actions", "user": {"id": "U_ALICE"}})}),  # no actions
        urlencode({"payload": json.dumps({"type": "block_actions", "user": {"id": "U_A"}, "actions": [{}]})}),
        urlencode({"payload": json.dumps({"type": "view_submission", "user": {"id": "U_ALICE"}})}),  # no view
        urlencode({"payload": json.dumps({"type": "view_submission", "user": {"id": "U_A"}, "view": {"id": 3}})}),
        urlencode({"payload": "[" * 5000 + "]" * 5000}),  # deep nesting
    ],
)
def test_interactions_reject_malformed_payloads(client, body):
    response = post_signed(client, "/slack/interactions", body)
    assert 400 <= response.status_code < 500


def test_unknown_actions_and_views_are_acknowledged(client):
    for payload in (
        {"type": "block_actions", "user": {"id": "U_ALICE"}, "actions": [{"action_id": "nobody_knows", "value": "x"}]},
        {"type": "view_submission", "user": {"id": "U_ALICE"}, "view": {"id": "V1", "callback_id": "nobody_knows"}},
        {"type": "view_closed", "user": {"id": "U_ALICE"}, "view": {"id": "V1"}},
        {"type": "shortcut", "user": {"id": "U_ALICE"}, "callback_id": "nobody_knows"},
    ):
        response = post_signed(client, "/slack/interactions", urlencode({"payload": json.dumps(payload)}))
        assert response.status_code == 200, payload


@pytest.mark.parametrize(
    "body",
    ["", "{", "[]", "42", json.dumps({"challenge": "x"}), json.dumps({"type": "url_verification"}),
     json.dumps({"type": "event_callback", "event_id": "Ev1"}),
     json.dumps({"type": "event_callback", "event": {"type": "app_home_opened"}})],
    ids=["empty", "broken", "list", "number", "no-type", "no-challenge", "no-event", "no-event-id"],
)
def test_events_reject_malformed_bodies(client, body):
    response = post_signed(client, "/slack/events", body, content_type="application/json")
    assert response.status_code == 400
    assert response.headers["X-Slack-No-Retry"] == "1"  # Slack would send the same body again


def test_slacks_certificate_check_is_answered_with_an_empty_200(client, fake_slack):
    # Slack's ssl_check form: the command's token and `ssl_check=1`, no command, user or trigger.
    response = post_signed(client, "/slack/commands", urlencode({"ssl_check": "1", "token": "legacy-token"}))
    assert response.status_code == 200
    assert response.content == b""
    assert fake_slack.calls() == []


def test_an_unsigned_form_with_ssl_check_and_more_is_refused_like_any_unsigned_request(client):
    # Slack's own certificate check comes unsigned and is answered (test_audit_payload_shapes.py); a form
    # that carries anything besides `ssl_check` and `token` is not one, and needs a signature.
    response = client.post("/slack/commands", data="ssl_check=1&token=legacy-token&command=%2Ftimeoff",
                           content_type="application/x-www-form-urlencoded")
    assert response.status_code == 401
