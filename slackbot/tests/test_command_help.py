import pytest

from test_support.flows import install_config
from test_support.slack_requests import post_command

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("text", ["help", "HELP", "  help  "])
def test_help_answers_ephemerally(client, text):
    response = post_command(client, text, user_id="U_ALICE")
    assert response.status_code == 200
    body = response.json()
    assert body["response_type"] == "ephemeral"
    assert "/timeoff 2026-12-21 2026-12-23 vacation" in body["text"]


def test_unknown_text_answers_with_help(client):
    install_config()  # before any configuration, every request is answered that time off isn't set up yet
    body = post_command(client, "frobnicate", user_id="U_ALICE").json()
    assert body["response_type"] == "ephemeral"
    assert "I didn't understand `frobnicate`" in body["text"]
    assert "/timeoff help" in body["text"]


def test_every_command_word_is_one_a_leave_type_code_may_not_take():
    # A leave type coded "list" could not be typed first (`/timeoff list 2027-01-04`): the configuration
    # refuses the words the routing table answers (approvals.config_fields.COMMAND_WORDS).
    from approvals.config_fields import COMMAND_WORDS, leave_code_error
    from slackbot.routing import COMMAND_ROUTES

    assert set(COMMAND_ROUTES) == COMMAND_WORDS
    assert all(leave_code_error(word) for word in COMMAND_WORDS) and leave_code_error("vacation") is None
