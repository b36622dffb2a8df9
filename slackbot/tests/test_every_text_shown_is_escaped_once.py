"""Every text a person typed (or Slack supplied) is escaped exactly once where it is shown.

In mrkdwn (messages, DMs, ephemeral answers, context blocks of a form) Slack reads `<…>` as a ping or a
link and `&` as an entity: what HR or a requester typed must reach it escaped (DESIGN §8), or
`<!channel>` pings the channel and `<http://evil|click>` hides where a link goes. In plain_text (a
form's menu options, a form's field errors) Slack shows the text as it is: escaped there, a person
reads `&amp;` and `&lt;` instead of what they typed.

test_hostile_text, test_typed_text_everywhere and test_hostile_names_from_slack cover the main flows
(the request, its decision, lists, balances, App Home, the daily posts, refusals by DM). Here: the
paths they do not walk — HR recording leave from Slack for someone in no team, a team, type, holiday or
blackout name in a form's plain-text errors and options, `/timeoff who` echoing what was typed as
Slack sends it, App Home's holidays coming up, and the builders of HR's own DMs (a lost channel, the
ledger watch, requests of a removed team).
"""

import re
from dataclasses import replace
from datetime import date, datetime, timezone
from decimal import Decimal

import pytest
from django.core.cache import cache

from approvals import block_ids as ids
from approvals import job_messages, messages
from approvals.block_kit import escape, fitted
from approvals.config_file import config_to_dict, parse_config
from approvals.config_types import BlackoutConfig, MemberSource
from approvals.home_view import holidays_ahead_blocks
from approvals.jobs import Vanished
from approvals.rules import LedgerEntry
from test_support.flows import (
    ALICE,
    ENGINEERING,
    HR,
    MONDAY,
    VACATION,
    WEDNESDAY,
    dms_to,
    install_config,
    open_request_form,
    posted_requests,
    request_values,
    standard_config,
    submit_request,
)
from test_support.slack_requests import post_command

pytestmark = pytest.mark.django_db

# What HR may type into a name (the configuration refuses control characters and newlines).
NAMED = "Q&A <!channel> <@U_EVIL> <http://evil.example|click> <!here> <!subteam^S_ENG>"
# A `<…>` only typed text could have put there, and an `&` that starts no entity of Slack's.
FROM_TYPED_TEXT = re.compile(r"<(?:!channel|!here|!subteam\^[^>]*|@U_EVIL|http://evil\.example[^>]*)>")
BARE_AMPERSAND = re.compile(r"&(?!amp;|lt;|gt;)")

C_SECRET = "C_SECRET"  # private, and the app was never invited: Slack says channel_not_found


def accepted(config):
    """`config` as import_config and the console accept it: the names above are valid names."""
    return parse_config({**config_to_dict(config), "version": 1})


def assert_inert_mrkdwn(text: str) -> None:
    """`text`, read as mrkdwn: nothing typed pings, links or starts an entity, and nothing is escaped twice."""
    assert not FROM_TYPED_TEXT.search(text), text
    assert not BARE_AMPERSAND.search(text), text
    assert "&amp;lt;" not in text and "&amp;amp;" not in text, text


# --- HR records leave from Slack for someone Slack will not place in a team -----------------------


def test_hr_told_by_dm_that_a_person_is_in_no_team_sees_the_team_name_escaped(client, fake_slack):
    # HR records leave with `/timeoff for @alice`; the delivery task (the cache was cold) cannot read the
    # members channel of Alice's team, so she is in no team, and HR is told by DM. That DM is mrkdwn:
    # the team's name HR typed must not ping the DM or hide a link in it.
    fake_slack.workspace.add_channel(C_SECRET, "secret-eng", members=[ALICE], private=True, bot_member=False)
    team = replace(ENGINEERING, name=f"Team {NAMED}", members=MemberSource(channel=C_SECRET))
    install_config(accepted(standard_config(teams=(team,))))
    assert post_command(client, f"for <@{ALICE}|alice> {MONDAY.isoformat()}", user_id=HR).status_code == 200
    form = fake_slack.last_call("views.open").params["view"]
    cache.clear()  # cold: the form is accepted now, and refused by its task

    response = submit_request(client, HR, form, request_values("vacation", MONDAY, WEDNESDAY), view_id="V_HR")

    assert response.status_code == 200 and response.content == b""
    [refused] = [text for text in dms_to(fake_slack, HR) if "couldn't send" in text]
    assert "in no team" in refused
    assert escape(team.name) in refused  # the team is named, escaped once
    assert_inert_mrkdwn(refused)
    assert posted_requests(fake_slack) == []


# --- Plain text: shown as it is, so never escaped ----------------------------------------------------


def test_the_forms_leave_type_menu_shows_the_name_as_hr_typed_it(client, fake_slack):
    # A menu option is plain_text: "R&D days" escaped would read "R&amp;D days" in the menu.
    name = "R&D <focus> days"
    install_config(accepted(standard_config(leave_types=(replace(VACATION, name=name),))))

    view = open_request_form(client, fake_slack, ALICE)

    [type_block] = [block for block in view["blocks"] if block.get("block_id") == ids.TYPE_BLOCK]
    [option] = type_block["element"]["options"]
    assert option["text"] == {"type": "plain_text", "text": f"{VACATION.emoji} {name}", "emoji": True}


def test_a_long_leave_type_name_is_cut_to_the_menus_limit_without_escaping(client, fake_slack):
    # Slack refuses an option longer than 75 characters: the name is cut there, as typed (an escaped cut
    # could end in "&am" and would show entities besides), and ends with the type's code (modals.py).
    name = "R&D " * 24  # 95 characters (HR may type 100): with its emoji, longer than an option holds
    install_config(accepted(standard_config(leave_types=(replace(VACATION, name=name.strip()),))))

    view = open_request_form(client, fake_slack, ALICE)

    [type_block] = [block for block in view["blocks"] if block.get("block_id") == ids.TYPE_BLOCK]
    shown = type_block["element"]["options"][0]["text"]["text"]
    assert len(shown) <= 75
    ending = f"… ({VACATION.code})"
    assert shown == f"{VACATION.emoji} {name.strip()}"[:75 - len(ending)].rstrip() + ending
    assert "&amp" not in shown


def test_a_blackout_refused_in_the_form_says_its_reason_as_typed(client, fake_slack):
    # The form's field error is plain_text: the reason HR typed reads as typed, not "R&amp;D &lt;freeze&gt;".
    reason = "R&D <release> freeze"
    install_config(accepted(standard_config(blackouts=(BlackoutConfig(start=MONDAY, end=WEDNESDAY, reason=reason),))))
    view = open_request_form(client, fake_slack, ALICE)

    body = submit_request(client, ALICE, view, request_values("vacation", MONDAY, WEDNESDAY)).json()

    assert body["response_action"] == "errors"
    said = " ".join(body["errors"].values())
    assert reason in said, said
    assert "&amp;" not in said and "&lt;" not in said, said
    assert posted_requests(fake_slack) == []


def test_the_forms_preview_names_a_blackout_reason_escaped(client, fake_slack):
    # The preview is a context block (mrkdwn): the same reason, escaped there.
    reason = f"Freeze {NAMED}"
    install_config(accepted(standard_config(blackouts=(BlackoutConfig(start=MONDAY, end=WEDNESDAY, reason=reason),))))
    open_request_form(client, fake_slack, ALICE)  # warms what the preview needs

    view = open_request_form(client, fake_slack, ALICE, text=f"{MONDAY.isoformat()} {WEDNESDAY.isoformat()} vacation")

    [preview] = [block for block in view["blocks"] if block.get("block_id") == ids.PREVIEW_BLOCK]
    text = preview["elements"][0]["text"]
    assert escape(reason) in text, text
    assert_inert_mrkdwn(text)


# --- /timeoff who echoes what was typed, as Slack sends it ---------------------------------------


def test_who_for_an_unknown_team_echoes_the_words_escaped_once(client, fake_slack):
    # Slack sends a command's `&`, `<` and `>` escaped; the answer shows them as typed, escaped once.
    install_config()
    typed = "R&D <!channel>"
    as_slack_sends_it = typed.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")

    answer = post_command(client, f"who {as_slack_sends_it}", user_id=ALICE).json()

    assert f"“{escape(typed)}”" in answer["text"], answer["text"]
    assert_inert_mrkdwn(answer["text"])


def test_who_finds_a_team_whose_name_has_an_ampersand_as_slack_sends_it(client, fake_slack):
    name = "R&D <core>"
    install_config(accepted(standard_config(teams=(replace(ENGINEERING, name=name),))))

    answer = post_command(client, "who R&amp;D &lt;core&gt;", user_id=ALICE).json()

    assert "No team is called" not in answer["text"], answer["text"]
    assert_inert_mrkdwn(answer["text"] + " ".join(str(b) for b in answer.get("blocks", [])))


# --- Builders of texts few people see ---------------------------------------------------------------


def test_app_homes_holidays_coming_up_escape_company_day_names_and_the_team_name():
    today = date(2031, 3, 2)
    [block] = holidays_ahead_blocks(f"Team {NAMED}", {MONDAY: f"Day {NAMED}"}, today)

    text = block["elements"][0]["text"]
    assert block["elements"][0]["type"] == "mrkdwn"
    assert escape(f"Day {NAMED}") in text and escape(f"Team {NAMED}") in text
    assert_inert_mrkdwn(text)


def test_hr_told_a_channel_was_lost_sees_the_teams_name_escaped():
    text = messages.channel_lost_text("C_ENG", "archived", [f"Team {NAMED}: approvals channel"])

    assert escape(f"Team {NAMED}") in text
    assert "<#C_ENG> was archived" in text  # the channel itself, still a link
    assert_inert_mrkdwn(text)


def test_hr_nudged_about_a_removed_teams_requests_sees_its_name_escaped():
    entry = LedgerEntry(id="r1", user=ALICE, team=f"Team {NAMED}", leave_type="vacation", start=MONDAY,
                        end=WEDNESDAY, start_half=None, end_half=None, days=Decimal(3), status="pending")

    text = job_messages.nudge_text(f"Team {NAMED}", [entry], {}, datetime(2031, 3, 5, 9, tzinfo=timezone.utc),
                                   team_removed=True)

    assert escape(f"Team {NAMED}") in text
    assert f"<@{ALICE}>" in text  # the requester, still a mention
    assert_inert_mrkdwn(text)


def test_the_ledger_watch_dm_escapes_the_export_folder_it_names():
    text = job_messages.ledger_vanished_text([Vanished(id="r1", user=ALICE, channel="C_ENG_APPROVALS", ts=None)],
                                             export_dir="/srv/<!here>&exports")

    assert "`/srv/&lt;!here&gt;&amp;exports`" in text
    assert "<#C_ENG_APPROVALS>" in text and f"<@{ALICE}>" in text
    assert "<!here>" not in text


def test_a_cut_mrkdwn_text_never_ends_inside_an_entity_or_a_mention():
    # A 3,000-character section cut in "&amp;" would show "&am"; cut in "<@U…>", raw markup.
    for padding in range(10):
        text = "x" * (2990 + padding) + escape("& <b>") * 3 + "<@U_ALICE> " * 3
        cut = fitted(text, 3000)
        assert len(cut) <= 3000 and cut.endswith("…")
        body = cut[:-1]
        assert not re.search(r"&(?!amp;|lt;|gt;)", body), body[-20:]
        assert body.count("<") == body.count(">"), body[-20:]
