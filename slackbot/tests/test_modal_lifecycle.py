"""The modals' lifecycle as the real Slack behaves: a preview redraw answered hash_conflict or not_found
(the form changed again, or closed), redraws racing; private_metadata missing, cut or forged; forms sent
twice, sent after the request was decided, by someone else, or after HR lost the role; the reject
form's expired trigger, blank reasons, a reason after another approver decided; every `errors` key an
input block of its view; an Edit form's preview counting the request it replaces once, and an edit into
a leave type that needs no approval, recorded and announced as such a request is."""

import json
from dataclasses import replace

import pytest
from django.core.cache import cache

from approvals import block_ids as ids
from approvals import messages
from fake_slack.personas import C_ENG, C_ENG_APPROVALS
from test_support.flows import (
    ledger_messages,
    request_status,
    ALICE,
    BOB,
    DAVE,
    HR,
    MONDAY,
    WEDNESDAY,
    channel_updates,
    click,
    dms_to,
    ephemerals_to,
    install_config,
    open_request_form,
    posted_requests,
    request_time_off,
    request_values,
    standard_config,
)
from test_support.slack_requests import (
    block_actions_payload,
    post_command,
    post_interaction,
    view_submission_payload,
)

pytestmark = pytest.mark.django_db

FRIDAY = MONDAY.replace(day=MONDAY.day + 4)


def input_block_ids(view: dict) -> set:
    return {b.get("block_id") for b in view["blocks"] if b.get("type") == "input"}


def slack_state(view: dict, values: dict) -> dict:
    """state.values as Slack sends them: only the view's own input blocks."""
    present = input_block_ids(view)
    return {k: v for k, v in values.items() if k in present}


def date_changed(user: str, stored: dict, values: dict, *, view_hash: str | None = None) -> dict:
    """A datepicker change in the open modal `stored` (as the fake holds it), as Slack sends it."""
    payload = block_actions_payload(user_id=user, action_id=ids.END_ACTION, value="", block_id=ids.END_BLOCK)
    del payload["channel"], payload["message"], payload["response_url"]
    payload["container"] = {"type": "view", "view_id": stored["id"]}
    payload["view"] = {**stored, "hash": view_hash or stored["hash"], "state": {"values": slack_state(stored, values)}}
    end = values[ids.END_BLOCK][ids.END_ACTION]["selected_date"]
    payload["actions"][0] = {"action_id": ids.END_ACTION, "block_id": ids.END_BLOCK, "type": "datepicker",
                             "selected_date": end, "action_ts": "1766000000.1"}
    return payload


def opened_view(fake_slack) -> dict:
    return fake_slack.last_call("views.open").response["view"]


def preview_of(view: dict) -> str:
    [block] = [b for b in view["blocks"] if b.get("block_id") == ids.PREVIEW_BLOCK]
    return block["elements"][0]["text"]


# --- The live preview ---------------------------------------------------------------------


def test_a_preview_redraw_sends_the_views_hash_and_a_hash_conflict_is_quiet(client, fake_slack):
    install_config()
    open_request_form(client, fake_slack, ALICE)
    stored = opened_view(fake_slack)
    fake_slack.clear_calls()

    stale = date_changed(ALICE, stored, request_values("vacation", MONDAY, WEDNESDAY), view_hash="1.stale")
    response = post_interaction(client, stale)

    assert response.status_code == 200 and response.content == b""
    [update] = fake_slack.calls("views.update")  # one call, no retry
    assert update.params["hash"] == "1.stale"
    assert update.response["error"] == "hash_conflict"
    assert dms_to(fake_slack, ALICE) == [] and ephemerals_to(fake_slack, ALICE) == []
    assert fake_slack.workspace.view(stored["id"])["hash"] == stored["hash"]  # nothing overwritten


def test_a_preview_redraw_of_a_closed_modal_is_quiet(client, fake_slack):
    install_config()
    open_request_form(client, fake_slack, ALICE)
    stored = opened_view(fake_slack)
    fake_slack.workspace.views.pop(stored["id"])  # closed (or submitted) meanwhile
    fake_slack.clear_calls()

    response = post_interaction(client, date_changed(ALICE, stored, request_values("vacation", MONDAY, WEDNESDAY)))

    assert response.status_code == 200 and response.content == b""
    [update] = fake_slack.calls("views.update")
    assert update.response["error"] == "not_found"
    assert dms_to(fake_slack, ALICE) == [] and ephemerals_to(fake_slack, ALICE) == []


def test_an_older_preview_redraw_landing_late_does_not_overwrite_the_newer(client, fake_slack):
    install_config()
    open_request_form(client, fake_slack, ALICE)
    stored = opened_view(fake_slack)
    older = date_changed(ALICE, stored, request_values("vacation", MONDAY, MONDAY))
    newer = date_changed(ALICE, stored, request_values("vacation", MONDAY, FRIDAY))

    assert post_interaction(client, newer).status_code == 200
    assert post_interaction(client, older).status_code == 200

    shown = fake_slack.workspace.view(stored["id"])
    assert "5 working days" in preview_of(shown)


def open_edit_form_from_the_receipt(client, fake_slack) -> dict:
    install_config()
    request_time_off(client, fake_slack, ALICE)  # Mon–Wed: 3 of 25 vacation days
    request_id = request_status(fake_slack)["id"]
    [receipt] = [c for c in fake_slack.calls("chat.postMessage") if c.params.get("channel") == ALICE
                 and "is with" in c.params.get("text", "")]
    buttons = {e["action_id"]: (b["block_id"], e["value"]) for b in receipt.params["blocks"]
               if b.get("type") == "actions" for e in b["elements"] if "value" in e}
    block_id, value = buttons[ids.EDIT_ACTION]
    post_interaction(client, block_actions_payload(user_id=ALICE, action_id=ids.EDIT_ACTION, value=value,
                                                   block_id=block_id, channel_id=receipt.response["channel"],
                                                   message_ts=receipt.response["ts"]))
    form = opened_view(fake_slack)
    # The request, and its version as the form shows it (an edit sent after someone else changed it is refused).
    assert json.loads(form["private_metadata"]) == {"edit": request_id, "v": messages.version_of(
        "vacation", MONDAY, WEDNESDAY, None, None), "of": ["Engineering", C_ENG_APPROVALS]}
    return form


def test_the_edit_forms_preview_does_not_count_the_request_being_edited_twice(client, fake_slack):
    # The Edit form replaces the pending request: "after this request" is 25 - 3 = 22, not
    # 25 - 3 (its old version, still pending in the ledger) - 3 (the same days again) = 19.
    opened_preview = preview_of(open_edit_form_from_the_receipt(client, fake_slack))
    assert "3 working days" in opened_preview and "22 of 25" in opened_preview, opened_preview


def test_the_edit_forms_live_redraw_does_not_count_the_request_being_edited_twice(client, fake_slack):
    form = open_edit_form_from_the_receipt(client, fake_slack)
    post_interaction(client, date_changed(ALICE, form, request_values("vacation", MONDAY, FRIDAY)))
    redrawn = preview_of(fake_slack.workspace.view(form["id"]))
    assert "5 working days" in redrawn and "20 of 25" in redrawn, redrawn  # not 25 - 3 - 5 = 17


# --- Submissions of forms whose metadata is odd ---------------------------------------------


@pytest.mark.parametrize("metadata", [None, "", '{"edit": "abc', "not json", "[1, 2]", '"text"', "null"])
def test_a_request_form_with_unreadable_metadata_is_answered_never_a_500(client, fake_slack, metadata):
    install_config()
    view = open_request_form(client, fake_slack, ALICE)
    view = {**view, "private_metadata": metadata}
    payload = view_submission_payload(user_id=ALICE, view=view, values=request_values("vacation", MONDAY, WEDNESDAY))
    if metadata is None:
        del payload["view"]["private_metadata"]
    response = post_interaction(client, payload)
    assert response.status_code < 500, response.content


@pytest.mark.parametrize("metadata", [None, "", '{"id": "abc', "not json", "[1]", '{"id": 5, "channel": "C", "ts": "1"}'])
def test_a_reject_form_with_unreadable_metadata_is_a_client_error_not_a_500(client, fake_slack, metadata):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    click(client, fake_slack, BOB, ids.REJECT_ACTION, posted)
    modal = {**fake_slack.last_call("views.open").params["view"], "private_metadata": metadata}
    values = {ids.REASON_BLOCK: {ids.REASON_ACTION: {"type": "plain_text_input", "value": "Release week"}}}
    payload = view_submission_payload(user_id=BOB, view=modal, values=values)
    if metadata is None:
        del payload["view"]["private_metadata"]
    response = post_interaction(client, payload)
    assert response.status_code < 500
    assert request_status(fake_slack)["status"] == "pending"


def test_an_edit_form_naming_someone_elses_request_changes_nothing(client, fake_slack):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    request_id = request_status(fake_slack)["id"]
    form = {**open_request_form(client, fake_slack, DAVE), "private_metadata": json.dumps({"edit": request_id})}
    fake_slack.clear_calls()

    response = post_interaction(client, view_submission_payload(
        user_id=DAVE, view=form, values=slack_state(form, request_values("vacation", MONDAY, FRIDAY)),
        view_id="V_FORGED"))

    body = response.json()
    assert body["response_action"] == "errors" and set(body["errors"]) <= input_block_ids(form)
    assert (request_status(fake_slack)["user"], request_status(fake_slack)["end"]) == (ALICE, WEDNESDAY.isoformat())
    assert channel_updates(fake_slack) == []


def test_an_edit_form_naming_someone_elses_request_changes_nothing_on_a_cold_cache(client, fake_slack):

    install_config()
    request_time_off(client, fake_slack, ALICE)
    request_id = request_status(fake_slack)["id"]
    form = {**open_request_form(client, fake_slack, DAVE), "private_metadata": json.dumps({"edit": request_id})}
    cache.clear()
    fake_slack.clear_calls()

    response = post_interaction(client, view_submission_payload(
        user_id=DAVE, view=form, values=slack_state(form, request_values("vacation", MONDAY, FRIDAY)),
        view_id="V_FORGED2"))

    assert response.status_code == 200
    if response.content:
        assert set(response.json()["errors"]) <= input_block_ids(form)
    assert (request_status(fake_slack)["user"], request_status(fake_slack)["end"]) == (ALICE, WEDNESDAY.isoformat())
    assert channel_updates(fake_slack) == []
    assert dms_to(fake_slack, ALICE) == []


def test_an_edit_submitted_twice_rewrites_once(client, fake_slack):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    request_id = request_status(fake_slack)["id"]
    form = {**open_request_form(client, fake_slack, ALICE), "private_metadata": json.dumps({"edit": request_id})}
    fake_slack.clear_calls()
    values = slack_state(form, request_values("vacation", MONDAY, FRIDAY))

    for _ in range(2):
        response = post_interaction(client, view_submission_payload(user_id=ALICE, view=form, values=values,
                                                                    view_id="V_EDIT_DUP", view_hash="h.same"))
        assert response.status_code == 200 and response.content == b"", response.content

    assert request_status(fake_slack)["end"] == FRIDAY.isoformat()
    assert len(channel_updates(fake_slack)) == 1
    assert len([c for c in fake_slack.calls("chat.postMessage") if c.params.get("thread_ts")]) == 1


def test_an_edit_of_a_request_approved_after_the_form_opened_is_refused_and_nothing_changes(client, fake_slack):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    request_id = request_status(fake_slack)["id"]
    form = {**open_request_form(client, fake_slack, ALICE), "private_metadata": json.dumps({"edit": request_id})}
    [posted] = posted_requests(fake_slack)
    click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted)
    fake_slack.clear_calls()

    response = post_interaction(client, view_submission_payload(
        user_id=ALICE, view=form, values=slack_state(form, request_values("vacation", MONDAY, FRIDAY)),
        view_id="V_EDIT_LATE"))

    if response.content:
        body = response.json()
        assert body["response_action"] == "errors" and set(body["errors"]) <= input_block_ids(form)
        assert "approved" in json.dumps(body["errors"])
    else:
        assert any("approved" in text for text in dms_to(fake_slack, ALICE))
    assert (request_status(fake_slack)["status"], request_status(fake_slack)["end"]) == ("approved", WEDNESDAY.isoformat())
    assert channel_updates(fake_slack) == []


def test_hrs_record_form_sent_after_hr_lost_the_role_records_nothing(client, fake_slack):
    install_config()
    post_command(client, f"for <@{ALICE}|alice> {MONDAY} {WEDNESDAY} vacation", user_id=HR)
    form = fake_slack.last_call("views.open").params["view"]
    install_config(standard_config(fallback_approvers=(DAVE,)))
    fake_slack.clear_calls()

    response = post_interaction(client, view_submission_payload(
        user_id=HR, view=form, values=slack_state(form, request_values("vacation", MONDAY, WEDNESDAY)),
        view_id="V_FOR_LOST"))

    body = response.json()
    assert body["response_action"] == "errors" and set(body["errors"]) <= input_block_ids(form)
    assert "Only HR" in json.dumps(body["errors"])
    assert ledger_messages(fake_slack) == []
    assert dms_to(fake_slack, ALICE) == []


def test_hrs_record_form_sent_by_someone_else_records_nothing(client, fake_slack):
    install_config()
    post_command(client, f"for <@{ALICE}|alice> {MONDAY} {WEDNESDAY} vacation", user_id=HR)
    form = fake_slack.last_call("views.open").params["view"]
    response = post_interaction(client, view_submission_payload(
        user_id=DAVE, view=form, values=slack_state(form, request_values("vacation", MONDAY, WEDNESDAY)),
        view_id="V_FOR_OTHER"))
    assert response.json()["response_action"] == "errors"
    assert ledger_messages(fake_slack) == []


# --- errors answers name only the view's input blocks ------------------------------------------


def test_a_half_day_refusal_on_a_form_without_the_half_day_block_names_a_block_in_the_view(client, fake_slack):
    # HR turned half days off for vacation after Alice opened the form with a half day ticked.
    install_config()
    view = open_request_form(client, fake_slack, ALICE, f"{MONDAY} {WEDNESDAY} vacation")
    assert ids.HALF_BLOCK in input_block_ids(view)
    vacation = standard_config().leave_type("vacation")
    install_config(standard_config(leave_types=(replace(vacation, allow_half_days=False),
                                                *standard_config().leave_types[1:])))
    response = post_interaction(client, view_submission_payload(
        user_id=ALICE, view=view,
        values=slack_state(view, request_values("vacation", MONDAY, WEDNESDAY, halves=(ids.HALF_START_PM,))),
        view_id="V_HALF"))
    body = response.json()
    assert body["response_action"] == "errors" and set(body["errors"]) <= input_block_ids(view), body


def test_a_form_opened_on_a_type_without_half_days_gets_errors_only_for_its_blocks(client, fake_slack):
    install_config()
    view = open_request_form(client, fake_slack, ALICE, f"{WEDNESDAY} {MONDAY} medical")  # end before start
    assert ids.HALF_BLOCK not in input_block_ids(view)
    response = post_interaction(client, view_submission_payload(
        user_id=ALICE, view=view, values=slack_state(view, request_values("medical", WEDNESDAY, MONDAY)),
        view_id="V_MED"))
    body = response.json()
    assert body["response_action"] == "errors" and set(body["errors"]) <= input_block_ids(view), body


# --- The reject reason -----------------------------------------------------------------------------


def test_reject_with_an_expired_trigger_tells_the_approver_and_decides_nothing(client, fake_slack):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    fake_slack.clear_calls()
    fake_slack.fail("views.open", "expired_trigger_id")

    response = click(client, fake_slack, BOB, ids.REJECT_ACTION, posted)

    assert response.status_code == 200
    [told] = ephemerals_to(fake_slack, BOB) + dms_to(fake_slack, BOB)
    assert "took too long" in told and "Reject again" in told
    assert request_status(fake_slack)["status"] == "pending"


@pytest.mark.parametrize("reason", ["\u00a0\u00a0", "\n\t\n", "\u3000\u3000"])
def test_a_blank_reason_keeps_the_modal_open(client, fake_slack, reason):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    click(client, fake_slack, BOB, ids.REJECT_ACTION, posted)
    modal = fake_slack.last_call("views.open").params["view"]
    values = {ids.REASON_BLOCK: {ids.REASON_ACTION: {"type": "plain_text_input", "value": reason}}}
    body = post_interaction(client, view_submission_payload(user_id=BOB, view=modal, values=values)).json()
    assert body["response_action"] == "errors" and set(body["errors"]) <= input_block_ids(modal)
    assert request_status(fake_slack)["status"] == "pending"


def test_an_emoji_reason_is_sent_as_typed(client, fake_slack):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    click(client, fake_slack, BOB, ids.REJECT_ACTION, posted)
    modal = fake_slack.last_call("views.open").params["view"]
    values = {ids.REASON_BLOCK: {ids.REASON_ACTION: {"type": "plain_text_input", "value": "🙅🙅"}}}
    response = post_interaction(client, view_submission_payload(user_id=BOB, view=modal, values=values))
    assert response.status_code == 200 and response.content == b""
    assert request_status(fake_slack)["status"] == "rejected" and request_status(fake_slack)["reason"] == "🙅🙅"


def test_a_reason_sent_after_another_approver_approved_changes_nothing_and_says_who(client, fake_slack):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    click(client, fake_slack, DAVE, ids.REJECT_ACTION, posted)
    modal = fake_slack.last_call("views.open").params["view"]
    click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted)
    fake_slack.clear_calls()

    values = {ids.REASON_BLOCK: {ids.REASON_ACTION: {"type": "plain_text_input", "value": "Release week"}}}
    response = post_interaction(client, view_submission_payload(user_id=DAVE, view=modal, values=values,
                                                                view_id="V_REJ_LATE"))

    assert response.status_code == 200 and response.content == b""
    assert request_status(fake_slack)["status"] == "approved"
    assert channel_updates(fake_slack) == [] and dms_to(fake_slack, ALICE) == []
    [told] = ephemerals_to(fake_slack, DAVE) + dms_to(fake_slack, DAVE)
    assert f"already approved by <@{BOB}>" in told


def test_a_reason_submitted_twice_rejects_once(client, fake_slack):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    click(client, fake_slack, BOB, ids.REJECT_ACTION, posted)
    modal = fake_slack.last_call("views.open").params["view"]
    fake_slack.clear_calls()
    values = {ids.REASON_BLOCK: {ids.REASON_ACTION: {"type": "plain_text_input", "value": "Release week"}}}
    for _ in range(2):
        payload = view_submission_payload(user_id=BOB, view=modal, values=values, view_id="V_REJ2", view_hash="h.x")
        assert post_interaction(client, payload).content == b""
    assert len(channel_updates(fake_slack)) == 1
    assert len([t for t in dms_to(fake_slack, ALICE) if "rejected your" in t]) == 1
    assert ephemerals_to(fake_slack, BOB) == [] and dms_to(fake_slack, BOB) == []


def test_a_reason_form_sent_by_a_non_approver_decides_nothing(client, fake_slack):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    click(client, fake_slack, BOB, ids.REJECT_ACTION, posted)
    modal = fake_slack.last_call("views.open").params["view"]
    values = {ids.REASON_BLOCK: {ids.REASON_ACTION: {"type": "plain_text_input", "value": "nope"}}}
    post_interaction(client, view_submission_payload(user_id=HR, view=modal, values=values, view_id="V_REJ3"))
    assert request_status(fake_slack)["status"] == "pending"




def edit_into_sick_leave(client, fake_slack):
    """Alice edits her pending vacation into sick leave, a type that needs no approval: like a new sick-leave
    request, it becomes approved leave at once."""
    install_config()
    request_time_off(client, fake_slack, ALICE)
    request_id = request_status(fake_slack)["id"]
    form = {**open_request_form(client, fake_slack, ALICE), "private_metadata": json.dumps({"edit": request_id})}
    fake_slack.clear_calls()
    response = post_interaction(client, view_submission_payload(
        user_id=ALICE, view=form, values=slack_state(form, request_values("sick", MONDAY, WEDNESDAY)),
        view_id="V_EDIT_SICK"))
    assert response.content == b""
    assert request_status(fake_slack)["status"] == "approved"


def test_an_edit_into_a_type_needing_no_approval_is_not_told_in_the_thread_as_withdrawn(client, fake_slack):
    edit_into_sick_leave(client, fake_slack)
    threads = [c.params["text"] for c in fake_slack.calls("chat.postMessage") if c.params.get("thread_ts")]
    assert threads and not any(t.startswith("Withdrawn") for t in threads), threads


def test_an_edit_into_a_type_needing_no_approval_is_announced_like_such_a_request(client, fake_slack):

    edit_into_sick_leave(client, fake_slack)
    [announcement] = [c.params["text"] for c in fake_slack.calls("chat.postMessage") if c.params["channel"] == C_ENG]
    assert f"<@{ALICE}>" in announcement and "Sick" not in announcement  # a private type: who, not why
