"""Text HR or Slack supplies, at the longest the app accepts, against Slack's limits, end to end.

Signed, Slack-shaped requests against the fake Slack, which refuses what Slack refuses: a message
whose blocks hold more than about 12,000 characters of text (`msg_blocks_too_long`), a message text
over 40,000 (`msg_too_long`), a select whose initial option is not one of its options.
"""

import json
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import pytest

from approvals import block_ids as ids
from approvals.config_types import LeaveTypeConfig
from fake_slack.server import MAX_BLOCKS_TEXT, MAX_TEXT, blocks_text_length
from slackbot.tests.test_limits_flow import next_year_monday, seed_alices_leave
from test_support.flows import ALICE, MEDICAL, SICK, VACATION, install_config, open_request_form, standard_config
from test_support.slack_requests import post_command

pytestmark = pytest.mark.django_db

# The longest label the configuration accepts (a 50-character shortcode, a 100-character name), each
# `&` of it five characters once escaped for mrkdwn.
LONGEST_VACATION = replace(VACATION, name="&" * 100, emoji=":" + "e" * 48 + ":")


def many_types(count: int) -> tuple[LeaveTypeConfig, ...]:
    return tuple(LeaveTypeConfig(code=f"type{n:03d}", name=f"Type {n:03d}", annual_allowance_days=Decimal(10))
                 for n in range(count))


# --- /timeoff list: the blocks of a long list hold more text than Slack takes -----------------------


@pytest.mark.parametrize("word", ["list", "cancel"])
def test_a_long_list_of_leave_with_the_longest_type_name_is_shown(client, fake_slack, word):
    # 50 blocks of the longest label (551 characters escaped, and each button's confirm text) added up
    # to 18,000 characters: Slack refused the answer (msg_blocks_too_long) and the person saw nothing.
    install_config(standard_config(leave_types=(LONGEST_VACATION, SICK, MEDICAL)))
    seed_alices_leave(fake_slack, pending=30, upcoming=30)

    response = post_command(client, word, user_id=ALICE)  # holds the answer to Slack's limits
    assert response.status_code == 200
    blocks = response.json().get("blocks")
    if not blocks:  # the ledger was cold: the list comes by DM
        [sent] = [c for c in fake_slack.calls("chat.postMessage") if c.params.get("channel") == ALICE][-1:]
        assert sent.response["ok"] is True, sent.response
        blocks = sent.params["blocks"]
        blocks = json.loads(blocks) if isinstance(blocks, str) else blocks
    assert len(blocks) <= 50 and blocks_text_length(blocks) <= MAX_BLOCKS_TEXT
    shown = json.dumps(blocks)
    assert "*Pending*" in shown and "*Upcoming*" in shown and "more, with later dates" in shown


# --- The request form: more than 100 leave types ---------------------------------------------------


def test_the_form_opens_on_the_120th_leave_type_and_offers_every_type(client, fake_slack):
    # A static_select takes 100 options: the form offered the first 100 types only, and `/timeoff …
    # type119` (or editing such a request) asked for an initial option that was not among them, which
    # Slack refuses: the form never opened.
    install_config(standard_config(leave_types=many_types(120)))
    monday = next_year_monday(3)
    view = open_request_form(client, fake_slack, ALICE,
                             f"{monday.isoformat()} {(monday + timedelta(days=1)).isoformat()} type119")
    [select] = [b["element"] for b in view["blocks"] if b.get("block_id") == ids.TYPE_BLOCK]
    offered = [o["value"] for o in select.get("options") or []] + [
        o["value"] for group in select.get("option_groups") or [] for o in group["options"]]
    assert offered == [f"type{n:03d}" for n in range(120)]
    assert select["initial_option"]["value"] == "type119"


# --- /timeoff balance: one line per type --------------------------------------------------------------


def test_the_balance_of_many_long_named_types_fits_a_message(client, fake_slack):
    # A line per type, each up to about 600 characters with the longest name escaped: 120 types made
    # 72,000 characters, and Slack refused the answer (msg_too_long).
    # Names differ (two types of one name are refused), each as long and as heavy to escape as the longest.
    types = tuple(replace(LONGEST_VACATION, code=f"type{n:03d}", name=f"{n:03d}{'&' * 97}") for n in range(120))
    install_config(standard_config(leave_types=types))
    response = post_command(client, "balance", user_id=ALICE)  # holds the answer to Slack's limits
    assert response.status_code == 200
    texts = [response.json()["text"]] + [c.params["text"] for c in fake_slack.calls("chat.postMessage")
                                         if c.params.get("channel") == ALICE]
    assert all(len(text) <= MAX_TEXT for text in texts)
    dms = [c for c in fake_slack.calls("chat.postMessage") if c.params.get("channel") == ALICE]
    assert all(c.response["ok"] for c in dms), [c.response for c in dms]
    assert any("more leave types" in text for text in texts)


# --- What a slash command echoes back ----------------------------------------------------------------


def test_a_word_the_command_does_not_know_is_echoed_as_typed(client, fake_slack):
    # Slack sends a command's `&`, `<` and `>` escaped (`R&amp;D`); escaped again, the answer showed
    # "R&amp;D" where the person typed "R&D".
    install_config()
    response = post_command(client, "R&amp;D", user_id=ALICE)
    text = response.json()["text"]
    assert "`R&amp;D`" in text and "&amp;amp;" not in text
