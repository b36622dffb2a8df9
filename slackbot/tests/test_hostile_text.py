"""Typed text never pings or links (DESIGN §8).

Hostile text goes through every flow that shows typed text (the note, a reject
reason, an adjustment reason, a request shown back to its requester, a slash
command's words); then every message and view the app sent is walked: no
`<!channel>`, no `<@…>` mention and no `<url|label>` link may come from it.
"""

from datetime import date
from decimal import Decimal

import pytest
from django.core.cache import cache

from approvals import block_ids as ids
from approvals.adjustments import adjustment_record
from approvals.config_store import current_config
from approvals.slack_clients import background_client
from test_support.flows import (
    ALICE,
    BOB,
    MONDAY,
    WEDNESDAY,
    click,
    install_config,
    open_request_form,
    posted_requests,
    request_time_off,
    request_values,
    submit_request,
)
from test_support.slack_requests import post_command, post_interaction, view_submission_payload

pytestmark = pytest.mark.django_db

HOSTILE = "<!channel> <https://evil.example|Re-submit here> & <@U_HR> <!here>"
FORBIDDEN = ("<!channel>", "<!here>", "<https://evil.example", "<@U_HR>")


def texts(value):
    """Every string the app sent as text: message text, block and element texts, nested."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from texts(item)
    elif isinstance(value, list):
        for item in value:
            yield from texts(item)


def assert_nothing_hostile_was_sent(fake_slack):
    sent = [call for call in fake_slack.calls() if call.method in (
        "chat.postMessage", "chat.update", "chat.postEphemeral", "views.open", "views.update", "views.publish")]
    assert sent
    for call in sent:
        for text in texts({k: v for k, v in call.params.items() if k in ("text", "blocks", "view")}):
            for forbidden in FORBIDDEN:
                assert forbidden not in text, (call.method, text)


def test_a_hostile_note_and_reject_reason_stay_inert(client, fake_slack):
    install_config()
    request_time_off(client, fake_slack, ALICE, note=HOSTILE)
    [posted] = posted_requests(fake_slack)
    assert "&lt;!channel&gt;" in str(posted.params["blocks"])  # shown, escaped

    click(client, fake_slack, BOB, ids.REJECT_ACTION, posted)
    reject_view = fake_slack.last_call("views.open").params["view"]
    values = {ids.REASON_BLOCK: {ids.REASON_ACTION: {"type": "plain_text_input", "value": HOSTILE}}}
    post_interaction(client, view_submission_payload(user_id=BOB, view=reject_view, values=values))

    [update] = fake_slack.calls("chat.update")
    assert "&lt;https://evil.example|Re-submit here&gt;" in str(update.params["blocks"])
    assert fake_slack.calls("chat.postMessage")[-1].params["text"]  # the rejection was told
    assert_nothing_hostile_was_sent(fake_slack)


def test_a_refused_request_shows_its_note_back_inert(client, fake_slack):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    cache.clear()  # cold: the overlapping request is accepted now and refused by its task, by DM
    view = open_request_form(client, fake_slack, ALICE)
    cache.clear()
    submit_request(client, ALICE, view, request_values("vacation", MONDAY, WEDNESDAY, note=HOSTILE), view_id="V2")

    refused = [c.params["text"] for c in fake_slack.calls("chat.postMessage") if c.params.get("channel") == ALICE
               and "couldn't send" in c.params["text"]]
    assert refused and "&lt;!channel&gt;" in refused[0]
    assert_nothing_hostile_was_sent(fake_slack)


def test_a_hostile_adjustment_reason_and_author_stay_inert(client, fake_slack):
    install_config()
    adjustment_record(client=background_client(), config=current_config(), user=ALICE, leave_type="vacation",
                      days=Decimal(2), year=date.today().year, reason=HOSTILE[:200], by="<!channel>")
    assert_nothing_hostile_was_sent(fake_slack)


def test_hostile_command_words_are_not_echoed_raw(client, fake_slack):
    install_config()
    response = post_command(client, "<!channel>", user_id=ALICE)
    assert response.status_code == 200
    assert "<!channel>" not in response.json()["text"] and "&lt;!channel&gt;" in response.json()["text"]
