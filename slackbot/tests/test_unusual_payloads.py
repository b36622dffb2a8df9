"""Unusual payloads Slack really sends, and the longest, heaviest-to-escape text reaching Slack.

`/timeoff` typed in a DM, in a channel without the bot, with Unicode spaces, full-width digits or
hostile text; Enterprise Grid payloads (an enterprise, a user from another workspace, a null team);
interaction types the app does not use; submissions with less in them than the form had; the same
button clicked twice; every message, modal and App Home built from the longest names, notes and
reasons full of characters to escape, which Slack never refuses; the ledger export, which never holds
a spreadsheet formula; App Home's button and HR's `/timeoff for` before anything is set up, or for
someone in no team, which say so; and `/timeoff who` with a team name holding two spaces or a
no-break space.
"""

import csv
import io
import json
from dataclasses import replace
from datetime import time as dt_time
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.urls import reverse

from approvals import block_ids as ids
from approvals.config_file import config_to_dict, parse_config
from approvals.config_types import BlackoutConfig, HolidayConfig
from approvals.messages import MAX_NOTE_CHARS, MAX_REASON_CHARS
from fake_slack.personas import C_ENG_APPROVALS, C_NOBOT, CAROL, HR
from test_support.flows import (
    ALICE,
    BOB,
    ENGINEERING,
    MONDAY,
    SICK,
    VACATION,
    WEDNESDAY,
    channel_updates,
    click,
    dms_to,
    install_config,
    metadata_payload,
    open_app_home,
    open_request_form,
    posted_requests,
    request_time_off,
    request_values,
    standard_config,
    submit_request,
)
from test_support.slack_requests import (
    block_actions_payload,
    command_fields,
    event_envelope,
    post_command,
    post_event,
    post_interaction,
    post_signed,
    view_block_actions_payload,
    view_submission_payload,
)

pytestmark = pytest.mark.django_db

ENTERPRISE = {"id": "E_ACME", "name": "Acme Org"}


def enterprise_command(client, text, *, user_id, channel_id="C_GENERAL"):
    fields = command_fields(text, user_id=user_id, channel_id=channel_id)
    fields.update(enterprise_id="E_ACME", enterprise_name="Acme Org", is_enterprise_install="true")
    return post_signed(client, "/slack/commands", urlencode(fields))


def enterprise(payload: dict, *, team_null=False) -> dict:
    payload = dict(payload)
    payload["enterprise"] = ENTERPRISE
    payload["is_enterprise_install"] = True
    payload["user"] = {**payload["user"], "team_id": "T_OTHER_WS"}
    if team_null:
        payload["team"] = None
    return payload


# --- Slash commands in odd places and with odd text ----------------------------------------------


@pytest.mark.parametrize("channel_id", ["D_ALICE_BOB", C_NOBOT, "G_MPIM_X"])
def test_timeoff_in_a_dm_or_a_channel_without_the_bot_opens_the_form(client, fake_slack, channel_id):
    install_config()
    response = post_command(client, "", user_id=ALICE, channel_id=channel_id)
    assert response.status_code == 200 and response.content == b""
    assert fake_slack.last_call("views.open") is not None


@pytest.mark.parametrize("channel_id", ["D_ALICE_BOB", C_NOBOT])
@pytest.mark.parametrize("words", ["list", "balance", "who", "help", "cancel"])
def test_subcommands_in_a_dm_or_a_channel_without_the_bot_answer(client, fake_slack, channel_id, words):
    install_config()
    response = post_command(client, words, user_id=ALICE, channel_id=channel_id)
    assert response.status_code == 200
    assert response.json()["text"]


@pytest.mark.parametrize("sep", ["\u00a0", "\u2003", "\u3000", "\t"])
def test_prefill_separated_by_unicode_spaces_fills_in_the_form(client, fake_slack, sep):
    install_config()
    view = open_request_form(client, fake_slack, ALICE,
                             sep.join([MONDAY.isoformat(), WEDNESDAY.isoformat(), "vacation"]))
    start = [b for b in view["blocks"] if b.get("block_id") == ids.START_BLOCK][0]["element"]
    assert start.get("initial_date") == MONDAY.isoformat()


@pytest.mark.parametrize("text, leave_type", [("\u202e" + "2031-03-10", None),  # an invisible override, dropped
                                               (":palm_tree: 2031-03-10", "vacation")])  # a type's emoji
def test_command_text_with_an_invisible_character_or_an_emoji_fills_in_the_form(client, fake_slack, text, leave_type):
    install_config()
    response = post_command(client, text, user_id=ALICE)
    assert response.status_code == 200 and response.content == b""
    view = fake_slack.last_call("views.open").params["view"]
    assert MONDAY.isoformat() in json.dumps(view)
    assert (leave_type is None) or f'"value": "{leave_type}"' in json.dumps(view)


@pytest.mark.parametrize("text", ["２０３１-０３-１０", "21/12", "Smarch 21", "“vacation”", "2031\u201103\u201110",
                                  "list\u200b", "x" * 5000, "🌴" * 400,
                                  "<@U_BOB|bob>", "&lt;!here&gt;", "`rm -rf`", ":cactus:"])
def test_odd_command_text_gets_a_clear_message(client, fake_slack, text):
    install_config()
    response = post_command(client, text, user_id=ALICE)
    assert response.status_code == 200
    body = response.json()
    assert "didn't understand" in body["text"] or "Give at most" in body["text"]
    assert "<@U_BOB" not in body["text"] and "<!here>" not in body["text"]


@pytest.mark.parametrize("text", ["balance\u00a02031", "BALANCE ２０３１", "balance 2031\u200b", "who\u00a0Engineering",
                                  "who " + "x" * 3000, "who <#C_NOBOT|no-bot>", "who <!here>"])
def test_odd_subcommand_words_are_answered(client, fake_slack, text):
    install_config()
    response = post_command(client, text, user_id=ALICE)
    assert response.status_code == 200
    assert "<!here>" not in response.json()["text"]


# --- Enterprise Grid shapes ----------------------------------------------------------------------


def test_an_enterprise_slash_command_opens_the_form(client, fake_slack):
    install_config()
    response = enterprise_command(client, "", user_id=ALICE)
    assert response.status_code == 200 and response.content == b""
    assert fake_slack.last_call("views.open") is not None


@pytest.mark.parametrize("team_null", [False, True])
def test_an_enterprise_request_and_approval(client, fake_slack, team_null):
    install_config()
    view = open_request_form(client, fake_slack, ALICE)
    payload = enterprise(view_submission_payload(user_id=ALICE, view=view,
                                                 values=request_values("vacation", MONDAY, WEDNESDAY)),
                         team_null=team_null)
    response = post_interaction(client, payload)
    assert response.status_code == 200 and response.content == b""
    [posted] = posted_requests(fake_slack)
    buttons = [b for b in posted.params["blocks"] if b.get("type") == "actions"][0]["elements"]
    value = buttons[0]["value"]
    click_payload = enterprise(block_actions_payload(user_id=BOB, action_id=ids.APPROVE_ACTION, value=value,
                                                     channel_id=posted.response["channel"],
                                                     message_ts=posted.response["ts"],
                                                     block_id=ids.DECISION_BLOCK), team_null=team_null)
    response = post_interaction(client, click_payload)
    assert response.status_code == 200
    [message] = [m for m in fake_slack.workspace.messages(C_ENG_APPROVALS) if m.metadata]
    assert message.metadata["event_payload"]["status"] == "approved"


# --- Interaction types the app does not use --------------------------------------------------


def test_view_closed_is_acknowledged(client, fake_slack):
    install_config()
    view = open_request_form(client, fake_slack, ALICE)
    fake_slack.clear_calls()
    payload = {"type": "view_closed", "team": {"id": "T_ACME"}, "user": {"id": ALICE}, "view": {**view, "id": "V1"},
               "is_cleared": False, "api_app_id": "A_TIMEOFF"}
    response = post_interaction(client, payload)
    assert response.status_code == 200 and response.content == b""
    assert fake_slack.calls() == []


def test_block_suggestion_is_answered(client, fake_slack):
    install_config()
    payload = {"type": "block_suggestion", "user": {"id": ALICE}, "team": {"id": "T_ACME"},
               "action_id": ids.TYPE_ACTION, "block_id": ids.TYPE_BLOCK, "value": "vac",
               "view": {"id": "V1", "type": "modal", "callback_id": ids.REQUEST_MODAL}}
    response = post_interaction(client, payload)
    assert response.status_code == 200


# --- Submissions Slack sends with less in them --------------------------------------------------


def test_a_submission_with_a_null_datepicker_says_which(client, fake_slack):
    install_config()
    view = open_request_form(client, fake_slack, ALICE)
    values = request_values("vacation", MONDAY, WEDNESDAY)
    values[ids.START_BLOCK][ids.START_ACTION]["selected_date"] = None
    response = submit_request(client, ALICE, view, values)
    assert response.json()["errors"] == {ids.START_BLOCK: "Pick the first day off."}


def test_a_submission_whose_state_lacks_blocks_names_only_blocks_in_the_view(client, fake_slack):
    install_config()
    view = open_request_form(client, fake_slack, ALICE)
    response = submit_request(client, ALICE, view, {})
    body = response.json()
    present = {b.get("block_id") for b in view["blocks"]}
    assert body["response_action"] == "errors" and set(body["errors"]) <= present


def test_the_same_approve_clicked_twice_decides_once(client, fake_slack):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted)
    click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted)
    assert len(channel_updates(fake_slack)) == 1
    assert len([t for t in dms_to(fake_slack, ALICE) if "approved your" in t]) == 1


# --- The longest, heaviest-to-escape text everywhere ------------------------------------------------

SENDING = ("chat.postMessage", "chat.update", "chat.postEphemeral", "views.open", "views.update", "views.publish")


def accepted(config):
    return parse_config({**config_to_dict(config), "version": 1})


def refused_calls(fake_slack):
    return [(c.method, c.response.get("error"), c.response.get("response_metadata")) for c in fake_slack.calls()
            if c.method in SENDING and not c.response.get("ok")]


def heavy_config():
    holiday, blackout = MONDAY + timedelta(days=7), MONDAY + timedelta(days=14)
    team = replace(ENGINEERING, name="&" * 100, digest_time=dt_time(9, 0), nudge_after_hours=1)
    return accepted(standard_config(
        teams=(team,),
        leave_types=(replace(VACATION, name="<" * 100, emoji=":" + "e" * 48 + ":"), SICK),
        holidays=(HolidayConfig(date=holiday, name=">" * 100),),
        blackouts=(BlackoutConfig(start=blackout, end=blackout + timedelta(days=1), reason="&" * 200),)))


def test_the_heaviest_text_everywhere_is_never_refused_by_slack(client, fake_slack):
    config = install_config(heavy_config())
    team = config.teams[0]
    request_time_off(client, fake_slack, ALICE, note="&" * MAX_NOTE_CHARS)
    [posted] = posted_requests(fake_slack)
    click(client, fake_slack, BOB, ids.REJECT_ACTION, posted)
    form = fake_slack.last_call("views.open").params["view"]
    values = {ids.REASON_BLOCK: {ids.REASON_ACTION: {"type": "plain_text_input", "value": "<" * MAX_REASON_CHARS}}}
    post_interaction(client, view_submission_payload(user_id=BOB, view=form, values=values, view_id="V_R"))
    request_time_off(client, fake_slack, ALICE, note="&" * MAX_NOTE_CHARS,
                     start=MONDAY + timedelta(days=21), end=WEDNESDAY + timedelta(days=21))
    second = posted_requests(fake_slack)[-1]
    click(client, fake_slack, BOB, ids.APPROVE_ACTION, second)
    answers = [post_command(client, words, user_id=ALICE) for words in ("list", "cancel", "balance", "who", "help")]
    for event_id, user in (("EvHeavy1", ALICE), ("EvHeavy2", BOB)):
        post_event(client, event_envelope({"type": "app_home_opened", "user": user, "tab": "home"}, event_id=event_id))
    form = open_request_form(client, fake_slack, ALICE, f"{(MONDAY + timedelta(days=7)).isoformat()} "
                                                        f"{(MONDAY + timedelta(days=15)).isoformat()} vacation")
    cache.clear()
    submit_request(client, ALICE, form, request_values("vacation", MONDAY + timedelta(days=7),
                                                       MONDAY + timedelta(days=15), note="&" * 500), view_id="V_X")
    for day in (MONDAY + timedelta(days=18), MONDAY + timedelta(days=21)):
        call_command("run_jobs", "--at", f"{day.isoformat()}T09:05:00-07:00", "--team", team.name, stdout=io.StringIO())
    assert all(a.status_code == 200 for a in answers)
    assert refused_calls(fake_slack) == []


# --- CSV exports: HR's own name --------------------------------------------------------------------

FORMULA = '=HYPERLINK("http://evil.example","x")'


def test_the_ledger_csv_never_holds_a_formula_from_hrs_name_as_the_decider(admin_client, admin_user, fake_slack):
    # HR records leave in the console; their email is not in Slack, so the ledger names them by their
    # full name (console_leave_views.recorded_by) as recorded_by AND decided_by (request_services).
    install_config()
    admin_user.first_name, admin_user.last_name = FORMULA, ""
    admin_user.save()
    response = admin_client.post("/console/leave/record", {
        "person": "alice@example.com", "leave_type": "vacation", "start": MONDAY.isoformat(),
        "end": WEDNESDAY.isoformat(), "note": ""})
    assert response.status_code == 302
    [posted] = posted_requests(fake_slack)
    assert metadata_payload(posted)["decided_by"] == FORMULA  # the ledger names HR by their name
    export = admin_client.get(reverse("console:ledger_export"), {"download": "1", "year": MONDAY.year})
    [row] = list(csv.DictReader(io.StringIO(export.content.decode())))
    assert row["recorded_by"].startswith("'=")  # made safe
    assert not row["decided_by"].startswith("="), row["decided_by"]  # the same name, made safe too


# --- Forms opened from buttons and HR's command when nothing is set up, or for someone in no team ---

NOT_SET_UP = "Time off isn't set up yet: HR has not configured any teams or leave types."


def press_app_homes_request_button(client, user: str, home: dict | None = None):
    home = home or {"type": "home", "blocks": []}
    return post_interaction(client, view_block_actions_payload(
        user_id=user, action_id=ids.NEW_REQUEST_ACTION, value="new", block_id="home_actions", view=home))


def notice_text(view: dict) -> str:
    """What a notice modal (not the request form) says."""
    assert view.get("callback_id") != ids.REQUEST_MODAL
    return " ".join(block["text"]["text"] for block in view["blocks"] if block.get("type") == "section")


def test_app_homes_request_button_with_no_leave_types_says_so(client, fake_slack):
    """As the global shortcut does: App Home has no channel to answer in, so a small modal says why."""
    install_config(standard_config(leave_types=()))
    response = press_app_homes_request_button(client, ALICE)
    assert response.status_code == 200 and response.content == b""
    assert refused_calls(fake_slack) == []
    opened = fake_slack.last_call("views.open")
    assert opened.response["ok"] is True
    assert NOT_SET_UP in notice_text(opened.params["view"])
    assert dms_to(fake_slack, ALICE) == []  # a DM only when Slack refuses to open the modal


def test_app_homes_request_button_for_someone_in_no_team_says_so(client, fake_slack):
    """Told when they press the button, in a modal, not only once they have filled in the form and sent it."""
    install_config()  # Carol matches no team, and there is no default team
    home = open_app_home(client, fake_slack, CAROL, "Ev_NO_TEAM")  # where the button is: warms her memberships
    response = press_app_homes_request_button(client, CAROL, home)
    assert response.status_code == 200 and response.content == b""
    assert refused_calls(fake_slack) == []
    opened = fake_slack.last_call("views.open")
    assert opened.response["ok"] is True
    text = notice_text(opened.params["view"])
    assert "no team is configured for you" in text and f"<@{HR}>" in text


def test_hr_recording_for_someone_with_no_leave_types_says_so(client, fake_slack):
    install_config(standard_config(leave_types=()))
    response = post_command(client, f"for <@{ALICE}|alice>", user_id=HR)
    assert response.status_code == 200
    refused = refused_calls(fake_slack)
    body = response.json() if response.content else {}
    assert refused == [], (refused, body)
    assert "isn't set up" in body.get("text", ""), body


# --- /timeoff who: a team name with two spaces or a no-break space --------------------------------


@pytest.mark.parametrize("name", ["Sales  EMEA", "Sales\u00a0EMEA"])
def test_who_finds_a_team_whose_name_has_two_spaces_or_a_no_break_space(client, fake_slack, name):
    install_config(accepted(standard_config(teams=(replace(ENGINEERING, name=name),))))
    response = post_command(client, f"who {name}", user_id=ALICE)  # typed exactly as HR named it
    text = response.json()["text"]
    assert "No team is called" not in text, text
