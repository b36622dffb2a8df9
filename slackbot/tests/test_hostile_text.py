"""Typed text never pings or links (DESIGN §8).

Hostile text goes through every flow that shows typed text (the note, a reject
reason, an adjustment reason, a request shown back to its requester, a slash
command's words, and what HR typed into the configuration: team and leave-type
names, holiday names, blackout reasons); then every message and view the app
sent is walked: no `<!channel>`, no `<@…>` mention and no `<url|label>` link may
come from it (in mrkdwn: plain_text shows `<…>` as it is, and a leave type's
name in the form's menu is plain_text).
"""

from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.cache import cache

from approvals import block_ids as ids
from approvals.adjustments import adjustment_record
from approvals.config_file import config_to_dict, parse_config
from approvals.config_store import current_config
from approvals.config_types import BlackoutConfig, HolidayConfig
from approvals.slack_clients import background_client
from fake_slack.personas import C_OLD_APPROVALS
from slackbot import modals
from test_support.flows import (
    ALICE,
    BOB,
    DAVE,
    ENGINEERING,
    MONDAY,
    VACATION,
    WEDNESDAY,
    channel_updates,
    click,
    dms_to,
    ephemerals_to,
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
    event_envelope,
    post_command,
    post_event,
    post_interaction,
    view_submission_payload,
)

pytestmark = pytest.mark.django_db

HOSTILE = "<!channel> <https://evil.example|Re-submit here> & <@U_HR> <!here>"
FORBIDDEN = ("<!channel>", "<!here>", "<https://evil.example", "<@U_HR>")


def texts(value, *, mrkdwn_only=False):
    """Every string the app sent as text: message text, block and element texts, nested
    (with `mrkdwn_only`, not plain_text objects, which Slack shows as they are)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        if mrkdwn_only and value.get("type") == "plain_text":
            return
        for item in value.values():
            yield from texts(item, mrkdwn_only=mrkdwn_only)
    elif isinstance(value, list):
        for item in value:
            yield from texts(item, mrkdwn_only=mrkdwn_only)


def assert_nothing_hostile_was_sent(fake_slack, *, answers=(), mrkdwn_only=False):
    """`answers`: bodies the app answered Slack's requests with (a slash command's reply)."""
    sent = [call for call in fake_slack.calls() if call.method in (
        "chat.postMessage", "chat.update", "chat.postEphemeral", "views.open", "views.update", "views.publish")]
    assert sent
    bodies = [(call.method, {k: v for k, v in call.params.items() if k in ("text", "blocks", "view")})
              for call in sent] + [("answer", answer) for answer in answers]
    for where, body in bodies:
        for text in texts(body, mrkdwn_only=mrkdwn_only):
            for forbidden in FORBIDDEN:
                assert forbidden not in text, (where, text)


def accepted(config):
    """`config` as import_config and the console accept it: the hostile names are valid names."""
    return parse_config({**config_to_dict(config), "version": 1})


def test_a_hostile_note_and_reject_reason_stay_inert(client, fake_slack):
    install_config()
    request_time_off(client, fake_slack, ALICE, note=HOSTILE)
    [posted] = posted_requests(fake_slack)
    assert "&lt;!channel&gt;" in str(posted.params["blocks"])  # shown, escaped

    click(client, fake_slack, BOB, ids.REJECT_ACTION, posted)
    reject_view = fake_slack.last_call("views.open").params["view"]
    values = {ids.REASON_BLOCK: {ids.REASON_ACTION: {"type": "plain_text_input", "value": HOSTILE}}}
    post_interaction(client, view_submission_payload(user_id=BOB, view=reject_view, values=values))

    [update] = channel_updates(fake_slack)
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


# --- What HR typed into the configuration ---------------------------------------------------


def test_a_hostile_leave_type_name_stays_inert_everywhere_it_is_shown(client, fake_slack):
    install_config(accepted(standard_config(leave_types=(replace(VACATION, name=HOSTILE),))))
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted)  # the approval's DM and announcement
    adjustment_record(client=background_client(), config=current_config(), user=ALICE, leave_type="vacation",
                      days=Decimal(1), year=date.today().year, reason="carry-over", by=BOB)
    open_request_form(client, fake_slack, ALICE, text=f"{MONDAY.isoformat()} vacation")  # the preview
    balance = post_command(client, f"balance {MONDAY.year}", user_id=ALICE)
    listed = post_command(client, "list", user_id=ALICE)
    post_event(client, event_envelope({"type": "app_home_opened", "user": ALICE, "tab": "home"}, event_id="EvH1"))
    assert fake_slack.calls("views.publish") and HOSTILE.replace("<", "&lt;") not in str(balance.content)
    assert "&amp;lt;!channel&amp;gt;" not in str(fake_slack.calls())  # escaped once, not twice
    assert_nothing_hostile_was_sent(fake_slack, answers=[balance.json(), listed.json()], mrkdwn_only=True)


def test_a_hostile_team_name_stays_inert_in_the_preview_the_balance_who_is_out_and_app_home(client, fake_slack):
    install_config(accepted(standard_config(teams=(replace(ENGINEERING, name=f"Ops {HOSTILE}"),))))
    request_time_off(client, fake_slack, ALICE)
    open_request_form(client, fake_slack, ALICE, text=f"{MONDAY.isoformat()} {WEDNESDAY.isoformat()}")
    balance = post_command(client, f"balance {MONDAY.year}", user_id=ALICE)
    out = post_command(client, "who", user_id=ALICE)
    post_event(client, event_envelope({"type": "app_home_opened", "user": ALICE, "tab": "home"}, event_id="EvH2"))
    assert "Decided by the Ops &lt;!channel&gt;" in str(fake_slack.last_call("views.open").params["view"])
    assert "Ops &lt;!channel&gt;" in out.json()["text"]  # the team's name, shown but inert
    assert_nothing_hostile_was_sent(fake_slack, answers=[balance.json(), out.json()])


@pytest.mark.parametrize("configured", [
    {"blackouts": (BlackoutConfig(start=MONDAY, end=WEDNESDAY, reason=HOSTILE),)},
    {"holidays": (HolidayConfig(date=MONDAY, name=HOSTILE), HolidayConfig(date=WEDNESDAY, name="x"))},
], ids=["blackout reason", "holiday name"])
def test_a_refusal_dm_naming_a_hostile_blackout_or_holiday_stays_inert(client, fake_slack, configured):
    install_config(accepted(standard_config(**configured)))
    view = open_request_form(client, fake_slack, ALICE)
    cache.clear()  # cold: accepted now, refused by the delivery task, by DM
    end = MONDAY if "holidays" in configured else WEDNESDAY
    submit_request(client, ALICE, view, request_values("vacation", MONDAY, end))
    [refused] = [text for text in dms_to(fake_slack, ALICE) if "couldn't send" in text]
    assert "&lt;!channel&gt;" in refused
    assert_nothing_hostile_was_sent(fake_slack)


def test_a_refusal_dm_mentions_whom_to_ask_as_a_mention(client, fake_slack):
    # Carol is in no team; her form's answers were not cached, so her task refuses it by DM: the
    # reason names HR with a real mention (escaped, it would read "&lt;@U_HR&gt;" and notify nobody).
    from fake_slack.personas import CAROL, HR

    install_config()
    view = open_request_form(client, fake_slack, CAROL)
    cache.clear()
    submit_request(client, CAROL, view, request_values("vacation", MONDAY, WEDNESDAY))

    [refused] = [text for text in dms_to(fake_slack, CAROL) if "couldn't send" in text]
    assert f"ask <@{HR}> to add you to a team" in refused


def test_an_edit_refused_for_a_hostile_blackout_says_so_inert(client, fake_slack):
    next_monday, next_wednesday = MONDAY + timedelta(days=7), WEDNESDAY + timedelta(days=7)
    install_config(accepted(standard_config(
        blackouts=(BlackoutConfig(start=next_monday, end=next_wednesday, reason=HOSTILE),))))
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    view = modals.request_modal(leave_types=current_config().leave_types,
                                private_metadata={"edit": metadata_payload(posted)["id"]}, editing=True)
    cache.clear()  # cold: the edit is accepted now and refused by its task, by DM
    submit_request(client, ALICE, view, request_values("vacation", next_monday, next_wednesday), view_id="V_EDIT")
    assert [text for text in dms_to(fake_slack, ALICE) if "couldn't change" in text]
    assert_nothing_hostile_was_sent(fake_slack)


def test_an_approver_told_a_hostile_team_is_full_or_gone_sees_it_inert(client, fake_slack):
    team = replace(ENGINEERING, name=f"Ops {HOSTILE}")
    install_config(accepted(standard_config(teams=(team,))))
    request_time_off(client, fake_slack, ALICE)
    view = open_request_form(client, fake_slack, DAVE)
    submit_request(client, DAVE, view, request_values("vacation", MONDAY, WEDNESDAY), view_id="V_DAVE")
    alice_posted, dave_posted = posted_requests(fake_slack)
    install_config(accepted(standard_config(teams=(replace(team, max_out=1),))))
    click(client, fake_slack, BOB, ids.APPROVE_ACTION, alice_posted)
    click(client, fake_slack, BOB, ids.APPROVE_ACTION, dave_posted)  # full
    install_config(accepted(standard_config(teams=(replace(ENGINEERING, approvals_channel=C_OLD_APPROVALS),))))
    request_time_off(client, fake_slack, ALICE, start=MONDAY + timedelta(days=14), end=WEDNESDAY + timedelta(days=14))
    click(client, fake_slack, BOB, ids.APPROVE_ACTION, dave_posted)  # its team is gone
    told = ephemerals_to(fake_slack, BOB)
    assert any("can't approve this yet" in text for text in told)
    assert any("no longer configured" in text for text in told)
    assert_nothing_hostile_was_sent(fake_slack)
