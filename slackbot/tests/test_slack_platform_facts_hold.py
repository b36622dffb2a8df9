"""The Slack platform facts the app must live with (../shared/SLACK.md), held end to end.

Each test sends requests signed and shaped as Slack's to the app's endpoints and reads what the app did
off the fake Slack's wire (a real HTTP server that refuses what Slack refuses): the signature and its
5-minute window over the raw body, a modal that stays one view while it is redrawn, Events API retries
(`X-Slack-Retry-Num` / `X-Slack-Retry-Reason`), a click whose `message` carries no (or stale) metadata and a
request message deleted under its buttons, `view_submission` errors that name the form's own input blocks,
message metadata Slack keeps (its `event_type` rules), and Block Kit's limits with inputs pushed to the
longest and most the configuration accepts.
"""

import json
import re
import time
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal
from urllib.parse import urlencode

import pytest
from django.test import Client

from approvals import block_ids as ids
from approvals.config_types import BlackoutConfig, LeaveTypeConfig
from approvals.messages import note_from_blocks
from fake_slack.ledger_seed import seed_ledger
from fake_slack.personas import C_ENG_APPROVALS
from fake_slack.server import MAX_BLOCKS_TEXT, MAX_MESSAGE_BLOCKS, MAX_VIEW_BLOCKS, blocks_text_length
from test_support.flows import (
    ALICE,
    BOB,
    DAVE,
    HR,
    MEDICAL,
    MONDAY,
    SICK,
    VACATION,
    WEDNESDAY,
    buttons_in,
    channel_updates,
    click,
    dms_to,
    ephemerals_to,
    install_config,
    ledger_messages,
    metadata_payload,
    open_app_home,
    open_request_form,
    posted_requests,
    reject_in_the_channel,
    request_time_off,
    request_values,
    standard_config,
    submit_request,
)
from test_support.request_form import open_form
from test_support.slack_requests import (
    block_actions_payload,
    command_fields,
    event_envelope,
    post_command,
    post_interaction,
    post_signed,
    view_submission_payload,
)

pytestmark = pytest.mark.django_db

EVENT_TYPE = re.compile(r"^[A-Za-z0-9_-]+$")  # Slack's rule for a metadata event_type
FIVE_MINUTES = 300


def as_dict(value):
    return json.loads(value) if isinstance(value, str) else value


def the_request_message(fake_slack, posted_call):
    return fake_slack.workspace.find_message(C_ENG_APPROVALS, posted_call.response["ts"])


def send_request(client, fake_slack, user: str, leave_type: str = "vacation", start: date = MONDAY,
                 end: date = WEDNESDAY, *, note: str = "", halves=()) -> None:
    """`/timeoff`, then the form sent: each form its own view, as Slack opens a new one each time."""
    view = open_request_form(client, fake_slack, user)
    view_id = fake_slack.last_call("views.open").response["view"]["id"]
    response = submit_request(client, user, view, request_values(leave_type, start, end, note=note, halves=halves),
                              view_id=view_id, view_hash=f"h-{view_id}")
    assert response.status_code == 200 and response.content == b"", response.content


def status_of(fake_slack, posted_call) -> str:
    return the_request_message(fake_slack, posted_call).metadata["event_payload"]["status"]


# --- Request signing: the 5-minute window, over the raw body --------------------------------------------


def test_a_command_signed_four_and_a_half_minutes_ago_still_opens_the_form(client, fake_slack):
    """Slack's clock and ours may differ, and a request may wait in a proxy: inside the five minutes the
    signature's timestamp allows, the command is answered as any other."""
    install_config()
    body = urlencode(command_fields("", user_id=ALICE))
    response = post_signed(client, "/slack/commands", body, timestamp=int(time.time()) - (FIVE_MINUTES - 30))
    assert response.status_code == 200 and response.content == b"", response.content
    assert len(fake_slack.calls("views.open")) == 1


def test_an_approval_replayed_after_the_five_minutes_approves_nothing(client, fake_slack):
    """A click captured and sent again once its signature is older than five minutes is refused before it
    is read: the request stays pending and its message untouched."""
    install_config()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    block_id, value = buttons_in(posted.params["blocks"])[ids.APPROVE_ACTION]
    payload = block_actions_payload(user_id=BOB, action_id=ids.APPROVE_ACTION, value=value, block_id=block_id,
                                    channel_id=C_ENG_APPROVALS, message_ts=posted.response["ts"])
    fake_slack.clear_calls()

    response = post_interaction(client, payload, timestamp=int(time.time()) - FIVE_MINUTES - 5)

    assert response.status_code == 401
    assert status_of(fake_slack, posted) == "pending"
    assert channel_updates(fake_slack) == [] and fake_slack.calls("conversations.history") == []


def test_a_note_full_of_form_encoding_characters_is_verified_over_the_raw_body_and_kept_as_typed(client, fake_slack):
    """The signature covers the body's raw bytes: a note whose `+`, `%2B`, `&`, `=`, new lines and emoji
    are encoded in the form is verified as Slack signed it, and reaches the approvers as typed."""
    install_config()
    note = "C++ & Q=1 %2B 100% +1\r\nsee you 🏝️ <soon>"
    request_time_off(client, fake_slack, ALICE, note=note)
    [posted] = posted_requests(fake_slack)
    shown = note_from_blocks(posted.params["blocks"])
    assert "C++ & Q=1 %2B 100% +1" in shown and "see you 🏝️ <soon>" in shown, shown


# --- The 3-second answer and the modal stack -----------------------------------------------------------


def test_every_change_of_the_form_redraws_the_one_open_modal_and_never_stacks_another(client, fake_slack):
    """Slack holds at most three views in a modal's stack: the live preview rewrites the form in place
    (views.update of the view Slack opened), however many times the person changes it."""
    install_config()
    form = open_form(client, fake_slack, ALICE)
    opened = len(fake_slack.calls("views.open"))
    form.pick_type("vacation")
    for days in range(6):
        form.pick_dates(MONDAY + timedelta(days=7 * days), WEDNESDAY + timedelta(days=7 * days))
    form.tick_halves(ids.HALF_START_PM)
    form.pick_type("sick")

    assert len(fake_slack.calls("views.open")) == opened
    assert fake_slack.calls("views.push") == []
    updates = fake_slack.calls("views.update")
    assert len(updates) >= 14 and all(call.params.get("view_id") == form.view_id for call in updates)
    assert all(call.response.get("ok") for call in updates), [c.response for c in updates if not c.response.get("ok")]


def test_each_form_change_is_answered_within_three_seconds_on_a_slow_slack(client, fake_slack):
    """A redraw that Slack answers slowly must not hold the answer to the click past Slack's 3 s."""
    install_config()
    form = open_form(client, fake_slack, ALICE)
    fake_slack.delay("views.update", 5)
    started = time.monotonic()
    form.pick_start(MONDAY)
    assert time.monotonic() - started < 3


# --- Events API retries ------------------------------------------------------------------------------------


def channel_left(event_id: str) -> dict:
    return event_envelope({"type": "group_left", "channel": C_ENG_APPROVALS, "actor_id": DAVE,
                           "event_ts": f"{time.time():.6f}"}, event_id=event_id)


def post_event_with_retry_headers(client, envelope: dict, retry_num: int | None, reason: str = "http_error"):
    headers = {} if retry_num is None else {"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": reason}
    return post_signed(client, "/slack/events", json.dumps(envelope), content_type="application/json",
                       headers=headers)


def test_an_event_whose_first_delivery_failed_is_handled_by_slacks_retry_and_only_once(fake_slack, monkeypatch):
    """Slack retries an event answered with a 5xx (`X-Slack-Retry-Reason: http_error`): that retry is not a
    duplicate of a delivery that did nothing, and the retries after it are."""
    from slackbot import events

    install_config()
    real = events.channel_lost
    failures = []

    def fails_once(*args, **kwargs):
        if not failures:
            failures.append(args)
            raise RuntimeError("the database went away")
        return real(*args, **kwargs)

    monkeypatch.setattr(events, "channel_lost", fails_once)
    client = Client(raise_request_exception=False)
    envelope = channel_left("Ev_GROUP_LEFT_1")

    first = post_event_with_retry_headers(client, envelope, None)
    assert first.status_code >= 500
    assert dms_to(fake_slack, HR) == []
    answers = [post_event_with_retry_headers(client, envelope, n).status_code for n in (1, 2, 3)]

    assert answers == [200, 200, 200]
    told = dms_to(fake_slack, HR)
    assert len(told) == 1 and f"<#{C_ENG_APPROVALS}>" in told[0], told


def test_slacks_timeout_retries_of_an_app_home_open_publish_the_tab_once(client, fake_slack):
    """Retries sent because our answer was slow (`http_timeout`) carry the same event_id: the tab is
    published for the first delivery only."""
    install_config()
    envelope = event_envelope({"type": "app_home_opened", "user": ALICE, "channel": "D_HOME", "tab": "home",
                               "event_ts": "1766000000.000300"}, event_id="Ev_HOME_RETRIED")
    answers = [post_event_with_retry_headers(client, envelope, n, reason="http_timeout").status_code
               for n in (None, 1, 2, 3)]
    assert answers == [200, 200, 200, 200]
    assert len([c for c in fake_slack.calls("views.publish") if c.params["user_id"] == ALICE]) == 1


# --- block_actions: `message` without metadata; a deleted message --------------------------------------------


def test_an_approval_reads_the_request_again_from_slack_at_exactly_its_ts(client, fake_slack):
    """A click's `message` does not reliably carry metadata: the app reads the message again with
    latest=ts, inclusive and limit=1, with its metadata, and decides on that."""
    install_config()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    fake_slack.clear_calls()

    click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted)

    reads = [c.params for c in fake_slack.calls("conversations.history")
             if c.params.get("channel") == C_ENG_APPROVALS and c.params.get("latest") == posted.response["ts"]]
    assert reads, [c.params for c in fake_slack.calls("conversations.history")]
    assert all(str(r.get("inclusive")).lower() in ("1", "true") and str(r.get("limit")) == "1"
               and str(r.get("include_all_metadata")).lower() in ("1", "true") for r in reads), reads
    assert status_of(fake_slack, posted) == "approved"


def test_a_clicks_message_carrying_other_metadata_is_not_believed(client, fake_slack):
    """What a click's `message` says is not the ledger: a payload whose message claims other dates and
    another requester is decided on the message Slack holds."""
    install_config()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    block_id, value = buttons_in(posted.params["blocks"])[ids.APPROVE_ACTION]
    forged = {"event_type": "timeoff_request",
              "event_payload": {**metadata_payload(posted), "user": DAVE, "start": "2031-06-02", "end": "2031-06-27",
                                "status": "pending"}}
    payload = block_actions_payload(user_id=BOB, action_id=ids.APPROVE_ACTION, value=value, block_id=block_id,
                                    channel_id=C_ENG_APPROVALS, message_ts=posted.response["ts"],
                                    message={"type": "message", "ts": posted.response["ts"], "text": "",
                                             "blocks": [], "metadata": forged})
    assert post_interaction(client, payload).status_code == 200

    held = the_request_message(fake_slack, posted).metadata["event_payload"]
    assert held["status"] == "approved"
    assert (held["user"], held["start"], held["end"]) == (ALICE, MONDAY.isoformat(), WEDNESDAY.isoformat())
    assert not [t for t in dms_to(fake_slack, DAVE) if "approved" in t]


def test_approving_a_deleted_request_never_approves_the_request_posted_before_it(client, fake_slack):
    """Reading history at a deleted message's ts gives the message before it: the app checks the ts, so
    Approve on Dave's deleted request leaves Alice's (posted just before) pending."""
    install_config()
    send_request(client, fake_slack, ALICE)
    send_request(client, fake_slack, DAVE, start=MONDAY + timedelta(days=14), end=WEDNESDAY + timedelta(days=14))
    alices, daves = posted_requests(fake_slack)
    workspace = fake_slack.workspace
    with workspace.lock:  # an admin deletes Dave's request message in Slack
        workspace.delete_message(workspace.find_message(C_ENG_APPROVALS, daves.response["ts"]))
    fake_slack.clear_calls()

    click(client, fake_slack, BOB, ids.APPROVE_ACTION, daves)

    assert status_of(fake_slack, alices) == "pending"
    assert channel_updates(fake_slack) == []
    assert not [t for t in dms_to(fake_slack, ALICE) if "approved" in t]
    assert any("no longer exists" in t for t in ephemerals_to(fake_slack, BOB) + dms_to(fake_slack, BOB))


def test_rejecting_a_deleted_request_never_rejects_the_request_posted_before_it(client, fake_slack):
    install_config()
    send_request(client, fake_slack, ALICE)
    send_request(client, fake_slack, DAVE, start=MONDAY + timedelta(days=14), end=WEDNESDAY + timedelta(days=14))
    alices, daves = posted_requests(fake_slack)
    assert click(client, fake_slack, BOB, ids.REJECT_ACTION, daves).status_code == 200
    form = as_dict(fake_slack.last_call("views.open").params["view"])
    workspace = fake_slack.workspace
    with workspace.lock:  # deleted while Bob types his reason
        workspace.delete_message(workspace.find_message(C_ENG_APPROVALS, daves.response["ts"]))
    fake_slack.clear_calls()

    values = {ids.REASON_BLOCK: {ids.REASON_ACTION: {"type": "plain_text_input", "value": "Release week"}}}
    response = post_interaction(client, view_submission_payload(user_id=BOB, view=form, values=values,
                                                                view_id="V_REJECT"))

    assert response.status_code == 200
    assert status_of(fake_slack, alices) == "pending"
    assert channel_updates(fake_slack) == []
    assert not [t for t in dms_to(fake_slack, ALICE) if "Release week" in t]


# --- view_submission answers: errors under the form's own input blocks ----------------------------------------


def assert_errors_name_input_blocks(response, form) -> dict:
    assert response.status_code == 200, response.content
    answer = response.json()
    assert answer.get("response_action") == "errors", answer
    errors = answer["errors"]
    assert errors and set(errors) <= set(form.input_blocks()), (errors, form.input_blocks())
    assert all(isinstance(text, str) and text.strip() for text in errors.values()), errors
    return errors


@pytest.mark.parametrize("scene", ["last day before first", "first day in the past", "both halves of one day",
                                   "in a blackout", "longer than the type allows in a row",
                                   "sick leave further back than allowed"])
def test_every_refusal_of_the_request_form_is_shown_under_one_of_its_input_blocks(client, fake_slack, scene):
    """Slack shows `response_action: errors` only under input blocks the view has: each refusal names
    one of them, so the person sees why and the form stays open."""
    blackout = BlackoutConfig(start=MONDAY, end=MONDAY, reason="Release freeze")
    install_config(standard_config(blackouts=(blackout,)))
    form = open_form(client, fake_slack, ALICE)
    today = date.today()
    if scene == "sick leave further back than allowed":
        form.pick_type("sick")
    else:
        form.pick_type("vacation")
    if scene == "last day before first":
        form.pick_dates(WEDNESDAY + timedelta(days=7), MONDAY + timedelta(days=7))
    elif scene == "first day in the past":
        form.pick_dates(today - timedelta(days=30), today - timedelta(days=28))
    elif scene == "both halves of one day":
        form.pick_dates(WEDNESDAY + timedelta(days=7), WEDNESDAY + timedelta(days=7))
        form.tick_halves(ids.HALF_START_PM, ids.HALF_END_AM)
    elif scene == "in a blackout":
        form.pick_dates(MONDAY, WEDNESDAY)
    elif scene == "longer than the type allows in a row":
        form.pick_dates(MONDAY + timedelta(days=7), MONDAY + timedelta(days=7 + 34))
    else:
        form.pick_dates(today - timedelta(days=20), today - timedelta(days=19))

    assert_errors_name_input_blocks(form.submit(), form)
    assert posted_requests(fake_slack) == []


def test_overlapping_your_own_pending_request_is_shown_under_an_input_block(client, fake_slack):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    form = open_form(client, fake_slack, ALICE, warm=False)
    form.pick_type("vacation")
    form.pick_dates(MONDAY, WEDNESDAY)
    assert_errors_name_input_blocks(form.submit(), form)
    assert len(posted_requests(fake_slack)) == 1


def test_a_blank_reject_reason_keeps_the_form_open_under_its_reason_field(client, fake_slack):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    assert click(client, fake_slack, BOB, ids.REJECT_ACTION, posted).status_code == 200
    form = as_dict(fake_slack.last_call("views.open").params["view"])
    inputs = {b["block_id"] for b in form["blocks"] if b.get("type") == "input"}
    values = {ids.REASON_BLOCK: {ids.REASON_ACTION: {"type": "plain_text_input", "value": "\u200b \u3164"}}}
    response = post_interaction(client, view_submission_payload(user_id=BOB, view=form, values=values,
                                                                view_id="V_REJECT"))
    answer = response.json()
    assert answer.get("response_action") == "errors" and set(answer["errors"]) <= inputs, answer
    assert status_of(fake_slack, posted) == "pending"


# --- Message metadata: event_type rules, kept through every rewrite --------------------------------------------


def test_every_message_written_through_a_requests_life_keeps_its_metadata(client, fake_slack):
    """Slack drops metadata whose event_type breaks its rules (letters, digits, `_`, `-`) or whose payload
    holds a null, with only a warning: every post and rewrite of a request, its edit, approval,
    cancellation and a rejection of another, keeps it."""
    install_config()
    send_request(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted)
    send_request(client, fake_slack, DAVE, "medical", MONDAY + timedelta(days=22), MONDAY + timedelta(days=22))
    send_request(client, fake_slack, ALICE, "sick", MONDAY + timedelta(days=28), MONDAY + timedelta(days=28),
                 halves=(ids.HALF_START_PM,))
    daves = [c for c in posted_requests(fake_slack) if metadata_payload(c)["user"] == DAVE][0]
    reject_in_the_channel(client, fake_slack, BOB, daves, "Covering the release")

    with_metadata = [c for c in fake_slack.calls("chat.postMessage") + fake_slack.calls("chat.update")
                     if c.params.get("metadata") not in (None, "")]
    assert len(with_metadata) >= 5
    for call in with_metadata:
        metadata = as_dict(call.params["metadata"])
        assert EVENT_TYPE.match(metadata["event_type"]), metadata
        assert call.response.get("ok") and "warning" not in call.response, call.response
    held = ledger_messages(fake_slack)
    assert len(held) >= 3 and all(m.metadata and m.metadata.get("event_payload") for m in held)


# --- Block Kit limits with inputs at their longest and most ---------------------------------------------------


LONGEST = "&" * 100  # the longest name the configuration accepts, five characters a letter once escaped


def longest_types(count: int) -> tuple[LeaveTypeConfig, ...]:
    return tuple(LeaveTypeConfig(code=f"type{n:03d}", name=f"{n:03d}{'&' * 97}", emoji=":" + "e" * 48 + ":",
                                 annual_allowance_days=Decimal(25), allow_half_days=True)
                 for n in range(count))


def assert_view_fits(view: dict) -> None:
    assert len(view["blocks"]) <= MAX_VIEW_BLOCKS
    ids_seen = [b.get("block_id") for b in view["blocks"] if b.get("block_id")]
    assert len(ids_seen) == len(set(ids_seen)) and all(len(i) <= 255 for i in ids_seen)
    for block in view["blocks"]:
        if block.get("type") == "section" and isinstance(block.get("text"), dict):
            assert len(block["text"]["text"]) <= 3000
        if block.get("type") == "actions":
            assert len(block["elements"]) <= 25
            for element in block["elements"]:
                assert len(element["text"]["text"]) <= 75 and len(element.get("value", "")) <= 2000


def test_app_home_with_120_leave_types_of_the_longest_names_fits_a_view(client, fake_slack):
    """A balance per type on App Home: 120 types of the longest names must still make a view Slack
    publishes (100 blocks, 3,000 characters a section)."""
    install_config(standard_config(leave_types=longest_types(120)))
    home = open_app_home(client, fake_slack, ALICE, "Ev_HOME_TYPES")
    [published] = [c for c in fake_slack.calls("views.publish") if c.params["user_id"] == ALICE][-1:]
    assert published.response.get("ok"), published.response
    assert_view_fits(home)
    assert ids.NEW_REQUEST_ACTION in buttons_in(home["blocks"])


def test_an_approvers_app_home_of_sixty_pending_requests_of_the_longest_type_name_fits_a_view(client, fake_slack):
    from approvals.rules import PENDING, LedgerEntry

    longest = replace(VACATION, name=LONGEST, emoji=":" + "e" * 48 + ":")
    install_config(standard_config(leave_types=(longest, SICK, MEDICAL)))
    first = MONDAY + timedelta(days=7)
    entries = [LedgerEntry(id=f"pending-{n}", user=ALICE if n % 2 else DAVE, team="Engineering",
                           leave_type="vacation", start=first + timedelta(days=n), end=first + timedelta(days=n),
                           start_half=None, end_half=None, days=Decimal(1), status=PENDING)
               for n in range(60)]
    seed_ledger(fake_slack.workspace, channel=C_ENG_APPROVALS, entries=entries)

    open_app_home(client, fake_slack, BOB, "Ev_HOME_BOB1")
    home = open_app_home(client, fake_slack, BOB, "Ev_HOME_BOB2")  # once the ledger is read
    published = [c for c in fake_slack.calls("views.publish") if c.params["user_id"] == BOB]
    assert published and all(c.response.get("ok") for c in published), [c.response for c in published]
    assert_view_fits(home)
    assert ids.APPROVE_ACTION in buttons_in(home["blocks"])


def test_a_request_of_the_longest_type_name_and_longest_note_is_posted_with_its_buttons(client, fake_slack):
    """The request message holds the longest type name and a 500-character note of characters that grow
    when escaped: Slack takes it (3,000 characters a section, about 12,000 a message) and the approvers
    get their buttons."""
    longest = replace(VACATION, name=LONGEST, emoji=":" + "e" * 48 + ":")
    install_config(standard_config(leave_types=(longest, SICK, MEDICAL)))
    request_time_off(client, fake_slack, ALICE, note="&<>" * 166 + "&&")
    [posted] = posted_requests(fake_slack)
    assert posted.response.get("ok"), posted.response
    blocks = posted.params["blocks"]
    assert len(blocks) <= MAX_MESSAGE_BLOCKS and blocks_text_length(blocks) <= MAX_BLOCKS_TEXT
    assert {ids.APPROVE_ACTION, ids.REJECT_ACTION} <= set(buttons_in(blocks))
    assert note_from_blocks(blocks) == "&<>" * 166 + "&&"


def test_the_request_form_with_the_longest_type_prefilled_opens_within_slacks_view_limits(client, fake_slack):
    types = longest_types(100)
    install_config(standard_config(leave_types=types))
    view = open_request_form(client, fake_slack, ALICE,
                             f"{MONDAY.isoformat()} {WEDNESDAY.isoformat()} type099")
    assert fake_slack.last_call("views.open").response.get("ok")
    for name in ("title", "submit", "close"):
        assert len(view[name]["text"]) <= 24
    assert len(view.get("private_metadata") or "") <= 3000
    assert_view_fits(view)
    response = submit_request(client, ALICE, view, request_values("type099", MONDAY, WEDNESDAY))
    assert response.status_code == 200 and response.content == b"", response.content
    assert len(posted_requests(fake_slack)) == 1


def test_the_edit_form_of_hr_for_someone_else_keeps_its_private_metadata_within_3000(client, fake_slack):
    """HR's *Edit* on someone's request carries whose it is and its team in private_metadata, which Slack
    caps at 3,000 characters, with the longest team name."""
    from dataclasses import replace as change

    from test_support.flows import ENGINEERING

    team = change(ENGINEERING, name="\U0001F3DD" * 100)
    install_config(standard_config(teams=(team,)))
    request_time_off(client, fake_slack, ALICE)
    response = post_command(client, f"for <@{ALICE}|alice> list", user_id=HR)
    assert response.status_code == 200
    blocks = (response.json().get("blocks") if response.content else None) or as_dict(
        [c for c in fake_slack.calls("chat.postMessage") if c.params.get("channel") == HR][-1].params["blocks"])
    block_id, value = buttons_in(blocks)[ids.EDIT_ACTION]
    payload = block_actions_payload(user_id=HR, action_id=ids.EDIT_ACTION, value=value, block_id=block_id,
                                    channel_id="C_GENERAL", message_ts="1766000000.000900")
    payload["container"]["is_ephemeral"] = True
    payload.pop("message")
    assert post_interaction(client, payload).status_code == 200
    opened = fake_slack.last_call("views.open")
    assert opened is not None and opened.response.get("ok"), opened and opened.response
    metadata = as_dict(opened.params["view"])["private_metadata"]
    assert len(metadata) <= 3000 and ALICE in metadata


# --- Rate limits: Retry-After is not waited out inside a 3-second answer ---------------------------------------


def test_a_rate_limited_form_with_a_long_retry_after_is_answered_in_time_and_explained(client, fake_slack):
    install_config()
    post_command(client, "", user_id=ALICE)  # warm
    fake_slack.rate_limit("views.open", retry_after=30)
    started = time.monotonic()
    response = post_command(client, "", user_id=ALICE)
    assert time.monotonic() - started < 3
    assert response.status_code == 200
    told = ([response.json()["text"]] if response.content else []) + dms_to(fake_slack, ALICE)
    assert told and any("try again" in t.lower() or "busy" in t.lower() or "wait a minute" in t.lower() for t in told), told
