"""Typed text that a database cannot store is cleaned where it is read, not turned into a 500.

PostgreSQL refuses a NUL ("\\u0000 cannot be converted to text") and an unpaired
surrogate in text and jsonb, where the task rows keep what a person typed; SQLite
takes both, so run this file against PostgreSQL too (DATABASE_URL=postgres://…).
The note, a reject reason and a slash command's words go through signed requests
to the fake Slack; the assertions are on what crossed the wire.
"""

from datetime import date

import pytest
from django.core.cache import cache

from approvals import block_ids as ids
from approvals.messages import NOTE_TEXT_BLOCK
from slackbot.balance_command import USAGE_TEXT
from slackbot.payloads import typed_text
from test_support.flows import (ALICE, BOB, MONDAY, WEDNESDAY, click, dms_to, install_config, open_request_form,
                                posted_requests, request_time_off, request_values, submit_request)
from test_support.slack_requests import post_command, post_interaction, view_submission_payload
from test_support.task_rows import run_queued_tasks

pytestmark = pytest.mark.django_db

UNSTORABLE = "Dentist\x00 at 9\x07\x1b[31m\x7f\ud800\nthen\tback"
CLEANED = "Dentist at 9[31m\ufffd\nthen\tback"
NOTE_SHOWN = ">Dentist at 9[31m\ufffd\n>then\tback"  # quoted in the approvals message


def test_typed_text_drops_control_characters_but_newlines_and_tabs():
    assert typed_text(UNSTORABLE) == CLEANED
    assert typed_text("plain 🌴 text\n") == "plain 🌴 text\n"  # an astral character is no lone surrogate


def test_typed_text_replaces_each_lone_surrogate():
    assert typed_text("\udc00a\ud83d") == "\ufffda\ufffd"


def note_shown(fake_slack) -> str:
    [posted] = posted_requests(fake_slack)
    [note] = [block for block in posted.params["blocks"] if block.get("block_id") == NOTE_TEXT_BLOCK]
    return note["text"]["text"]


def test_a_note_with_a_nul_and_a_lone_surrogate_is_delivered_cleaned(client, fake_slack):
    install_config()
    response = request_time_off(client, fake_slack, ALICE, note=UNSTORABLE)
    assert response.status_code == 200 and response.content == b""  # accepted: the modal closes
    assert note_shown(fake_slack) == NOTE_SHOWN


@pytest.fixture
def database_tasks(settings):
    """Tasks wait in django-tasks-db's jsonb rows, as in production, until `run_queued_tasks`."""
    settings.TASKS = {"default": {"BACKEND": "approvals.task_backend.DatabaseBackend"}}


def test_a_cold_note_waits_in_a_task_row_and_is_delivered_cleaned(client, fake_slack, database_tasks):
    install_config()
    view = open_request_form(client, fake_slack, ALICE)
    run_queued_tasks()  # the form warms the requester
    cache.clear()  # nothing cached: the delivery task checks the request, the note waits in its row
    response = submit_request(client, ALICE, view, request_values("vacation", MONDAY, WEDNESDAY, note=UNSTORABLE))
    assert response.status_code == 200 and response.content == b""
    run_queued_tasks()
    assert note_shown(fake_slack) == NOTE_SHOWN


def test_a_reject_reason_with_a_nul_is_delivered_cleaned(client, fake_slack, database_tasks):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    run_queued_tasks()
    [posted] = posted_requests(fake_slack)
    click(client, fake_slack, BOB, ids.REJECT_ACTION, posted)
    reject_view = fake_slack.last_call("views.open").params["view"]
    values = {ids.REASON_BLOCK: {ids.REASON_ACTION: {"type": "plain_text_input", "value": "Release\x00 week\ud800"}}}
    response = post_interaction(client, view_submission_payload(user_id=BOB, view=reject_view, values=values))
    assert response.status_code == 200 and response.content == b""  # the reason waits in the decision's row
    run_queued_tasks()
    assert any("Release week\ufffd" in text for text in dms_to(fake_slack, ALICE))


def test_a_slash_commands_words_are_read_without_their_control_characters(client, fake_slack):
    """A form body is UTF-8, so it carries no lone surrogate; a NUL it can."""
    install_config()
    response = post_command(client, f"balance\x00 {date.today().year}", user_id=ALICE)
    assert response.status_code == 200
    text = response.json()["text"]
    assert "didn't understand" not in text and text != USAGE_TEXT  # read as `/timeoff balance <year>`
