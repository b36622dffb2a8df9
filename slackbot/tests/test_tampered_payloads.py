"""A signed-in Slack user who tampers with what their Slack client sends.

Every request here is signed as Slack signs it (Slack relays whatever a user's client sends), but its
content is hostile: Approve / Reject values naming another team's request, a request that does not exist
or the clicker's own; the reject-reason modal's private_metadata pointing elsewhere; the request form's
private_metadata claiming to edit someone else's request or to record leave for someone; Edit / Cancel /
Withdraw values naming another person's leave (from a list, App Home or a receipt); submissions whose
state is shaped wrongly; and `/timeoff` text that forges mentions. In every case nothing is written to
the ledger, nobody else is pinged, no other person's data is shown, and the clicker gets a 2xx with a
clear answer (or a 4xx for something no Slack client could send), never a 500.
"""

import json
from datetime import timedelta
from urllib.parse import urlencode

import pytest

from approvals import block_ids as ids
from approvals.config_types import ApproverSource, MemberSource, TeamConfig
from fake_slack.personas import C_ENG, C_ENG_APPROVALS, C_GENERAL, CAROL
from test_support.flows import (
    ALICE,
    BOB,
    DAVE,
    ENGINEERING,
    HR,
    MEDICAL,
    MONDAY,
    WEDNESDAY,
    buttons_in,
    click,
    install_config,
    open_app_home,
    open_request_form,
    posted_requests,
    submit_request,
    request_values,
    standard_config,
)
from test_support.slack_requests import (
    block_actions_payload,
    post_command,
    post_interaction,
    post_signed,
    view_block_actions_payload,
    view_submission_payload,
)

pytestmark = pytest.mark.django_db

SAM = "U_SAM"  # a member of Sales
SUE = "U_SUE"  # Sales' approver
C_SALES = "C_SALES"
C_SALES_APPROVALS = "C_SALES_APPROVALS"

SAM_START, SAM_END = MONDAY + timedelta(days=7), WEDNESDAY + timedelta(days=7)  # 17-19 March

SALES = TeamConfig(
    name="Sales",
    members=MemberSource(users=(SAM,)),
    approvers=ApproverSource(users=(SUE,)),
    approvals_channel=C_SALES_APPROVALS,
    announce_channel=C_SALES,
    holiday_country="US",
    holiday_subdivision="CA",
    timezone="America/Los_Angeles",
)


def two_teams(fake_slack):
    """Engineering (Alice, Dave; Bob and Dave approve) and Sales (Sam; Sue approves); HR falls back."""
    fake_slack.workspace.add_user(SAM, "sam", tz="America/Los_Angeles", email="sam@example.com", real_name="Sam Soto")
    fake_slack.workspace.add_user(SUE, "sue", tz="America/Los_Angeles", email="sue@example.com", real_name="Sue Sato")
    fake_slack.workspace.add_channel(C_SALES, "sales", members=[SAM, SUE])
    fake_slack.workspace.add_channel(C_SALES_APPROVALS, "sales-approvals", members=[SUE, HR], private=True)
    install_config(standard_config(teams=(ENGINEERING, SALES)))


def ask(client, fake_slack, user, leave_type="vacation", start=MONDAY, end=WEDNESDAY):
    """`user` sends a request from their own form (each form its own view, as Slack's are)."""
    global _FORMS
    _FORMS += 1
    view = open_request_form(client, fake_slack, user)
    response = submit_request(client, user, view, request_values(leave_type, start, end), view_id=f"V_ASK{_FORMS}",
                              view_hash=f"h{_FORMS}")
    assert response.status_code == 200 and response.content == b"", response.content


_FORMS = 0


def request_message(fake_slack, channel):
    """The one request message in `channel` as it stands now."""
    [message] = [m for m in fake_slack.workspace.messages(channel)
                 if m.metadata and m.metadata.get("event_type") == "timeoff_request"]
    return message


def status_of(fake_slack, channel) -> dict:
    return request_message(fake_slack, channel).metadata["event_payload"]


def button_value(message, action_id) -> dict:
    return json.loads(buttons_in(message.blocks)[action_id][1])


def written_to_ledger(fake_slack) -> list:
    """chat.update / chat.postMessage calls that carry request metadata: a write to the ledger."""
    writes = []
    for call in fake_slack.calls("chat.update") + fake_slack.calls("chat.postMessage"):
        metadata = call.params.get("metadata")
        metadata = json.loads(metadata) if isinstance(metadata, str) else metadata
        if isinstance(metadata, dict) and metadata.get("event_type") == "timeoff_request":
            writes.append(call)
    return writes


def told(fake_slack, user) -> list[str]:
    """Everything said to `user` since the calls were cleared: ephemerals and DMs."""
    return ([c.params["text"] for c in fake_slack.calls("chat.postEphemeral")
             if c.params.get("user") == user and c.response.get("ok")]
            + [c.params["text"] for c in fake_slack.calls("chat.postMessage")
               if c.params.get("channel") == user and c.response.get("ok")])


def nobody_else_pinged(fake_slack, clicker):
    """No message, DM or ephemeral went to anyone but the clicker; nothing was posted in a channel."""
    for call in fake_slack.calls("chat.postMessage"):
        assert call.params.get("channel") == clicker, f"posted to {call.params.get('channel')}: {call.params}"
    for call in fake_slack.calls("chat.postEphemeral"):
        assert call.params.get("user") == clicker, call.params
    assert [c for c in fake_slack.calls("chat.update")] == []


def polite(response):
    """A 2xx answer Slack shows calmly: no 5xx, nothing that reads as a traceback."""
    assert response.status_code < 300, (response.status_code, response.content)
    assert b"Traceback" not in response.content and b"Error" not in response.content


def hostile_click(client, user, action_id, value, *, channel=C_ENG_APPROVALS, ts="1766000000.000100",
                  block_id=ids.DECISION_BLOCK):
    return post_interaction(client, block_actions_payload(user_id=user, action_id=action_id, value=value,
                                                          block_id=block_id, channel_id=channel, message_ts=ts))


@pytest.fixture
def sales_pending(client, fake_slack):
    """Sam's pending Sales request and Alice's pending Engineering request; calls cleared."""
    two_teams(fake_slack)
    ask(client, fake_slack, SAM, start=SAM_START, end=SAM_END)
    ask(client, fake_slack, ALICE)
    fake_slack.clear_calls()
    return request_message(fake_slack, C_SALES_APPROVALS), request_message(fake_slack, C_ENG_APPROVALS)


# --- Approve / Reject values ---------------------------------------------------------------------------


def test_approve_on_engineerings_message_naming_a_sales_request_decides_nothing(client, fake_slack, sales_pending):
    sales, eng = sales_pending
    value = json.dumps({"id": sales.metadata["event_payload"]["id"], "user": SAM,
                        "v": button_value(sales, ids.APPROVE_ACTION)["v"]})

    polite(hostile_click(client, BOB, ids.APPROVE_ACTION, value, ts=eng.ts))

    assert status_of(fake_slack, C_SALES_APPROVALS)["status"] == "pending"
    assert status_of(fake_slack, C_ENG_APPROVALS)["status"] == "pending"
    assert written_to_ledger(fake_slack) == []
    nobody_else_pinged(fake_slack, BOB)
    [answer] = told(fake_slack, BOB)
    assert "no longer exists" in answer or "not an approver" in answer


def test_approve_whose_value_points_at_another_teams_message_is_refused_as_not_an_approver(client, fake_slack,
                                                                                        sales_pending):
    sales, eng = sales_pending
    value = json.dumps({**button_value(sales, ids.APPROVE_ACTION), "channel": C_SALES_APPROVALS, "ts": sales.ts})

    polite(hostile_click(client, BOB, ids.APPROVE_ACTION, value, ts=eng.ts))

    assert status_of(fake_slack, C_SALES_APPROVALS)["status"] == "pending"
    assert written_to_ledger(fake_slack) == []
    nobody_else_pinged(fake_slack, BOB)
    assert told(fake_slack, BOB) == ["You are not an approver for Sales, so you can't decide this request."]


def test_approve_of_a_request_id_that_does_not_exist_says_so_and_writes_nothing(client, fake_slack, sales_pending):
    _, eng = sales_pending
    value = json.dumps({"id": "00000000-0000-4000-8000-000000000000", "user": ALICE, "v": "x"})

    polite(hostile_click(client, BOB, ids.APPROVE_ACTION, value, ts=eng.ts))

    assert status_of(fake_slack, C_ENG_APPROVALS)["status"] == "pending"
    assert written_to_ledger(fake_slack) == []
    nobody_else_pinged(fake_slack, BOB)
    assert told(fake_slack, BOB) == ["This request no longer exists (its message was deleted)."]


def test_an_approver_approving_their_own_request_under_someone_elses_name_is_refused(client, fake_slack):
    install_config()
    ask(client, fake_slack, DAVE)  # Dave approves for Engineering too, but not his own leave
    message = request_message(fake_slack, C_ENG_APPROVALS)
    fake_slack.clear_calls()
    value = json.dumps({**button_value(message, ids.APPROVE_ACTION), "user": ALICE})

    polite(hostile_click(client, DAVE, ids.APPROVE_ACTION, value, ts=message.ts))

    assert status_of(fake_slack, C_ENG_APPROVALS)["status"] == "pending"
    assert written_to_ledger(fake_slack) == []
    nobody_else_pinged(fake_slack, DAVE)
    assert told(fake_slack, DAVE) == ["You can't decide your own request; another approver will."]


def test_reject_of_ones_own_request_under_someone_elses_name_opens_no_reason_form_that_could_work(client, fake_slack):
    install_config()
    ask(client, fake_slack, DAVE)
    message = request_message(fake_slack, C_ENG_APPROVALS)
    fake_slack.clear_calls()
    value = json.dumps({**button_value(message, ids.REJECT_ACTION), "user": ALICE})

    polite(hostile_click(client, DAVE, ids.REJECT_ACTION, value, ts=message.ts))
    form = fake_slack.last_call("views.open")
    if form is not None:  # the cache believed the button: the reason form must still decide nothing
        view = form.params["view"]
        view = json.loads(view) if isinstance(view, str) else view
        polite(post_interaction(client, view_submission_payload(
            user_id=DAVE, view=view, values={ids.REASON_BLOCK: {ids.REASON_ACTION: {"value": "no"}}})))

    assert status_of(fake_slack, C_ENG_APPROVALS)["status"] == "pending"
    assert written_to_ledger(fake_slack) == []
    nobody_else_pinged(fake_slack, DAVE)


def test_an_approve_carrying_another_shown_version_approves_nothing(client, fake_slack, sales_pending):
    _, eng = sales_pending
    value = json.dumps({**button_value(eng, ids.APPROVE_ACTION), "v": "sick|2031-01-01|2031-01-01||"})

    polite(hostile_click(client, BOB, ids.APPROVE_ACTION, value, ts=eng.ts))

    assert status_of(fake_slack, C_ENG_APPROVALS)["status"] == "pending"
    assert written_to_ledger(fake_slack) == []
    nobody_else_pinged(fake_slack, BOB)
    [answer] = told(fake_slack, BOB)
    assert "changed after you saw it" in answer and "Nothing was approved" in answer


def test_extra_fields_in_an_approve_value_change_nothing_about_who_decided_or_how(client, fake_slack, sales_pending):
    _, eng = sales_pending
    value = json.dumps({**button_value(eng, ids.APPROVE_ACTION), "status": "rejected", "decided_by": HR,
                        "approver": HR, "reason": "<!channel> forged", "team": "Sales", "days": 0,
                        "told_in": C_GENERAL})

    polite(hostile_click(client, BOB, ids.APPROVE_ACTION, value, ts=eng.ts))

    payload = status_of(fake_slack, C_ENG_APPROVALS)
    assert (payload["status"], payload["decided_by"], payload["team"], payload["days"]) == (
        "approved", BOB, "Engineering", 3)
    assert payload.get("reason") is None
    everything = " ".join(c.params.get("text", "") for c in fake_slack.calls())
    assert "<!channel>" not in everything and "forged" not in everything
    assert [c for c in fake_slack.calls("chat.postEphemeral") if c.params.get("channel") == C_GENERAL] == []


@pytest.mark.parametrize("value", [
    "not json at all",
    "",
    "[1, 2, 3]",
    "null",
    json.dumps({"id": 42, "user": ALICE}),
    json.dumps({"id": None, "user": None}),
    json.dumps({"id": ["a"], "user": {"x": 1}}),
    "[" * 5000 + "]" * 5000,
])
@pytest.mark.parametrize("action_id", [ids.APPROVE_ACTION, ids.REJECT_ACTION])
def test_an_unreadable_decision_value_is_refused_without_a_500_and_changes_nothing(client, fake_slack, sales_pending,
                                                                                   action_id, value):
    _, eng = sales_pending

    response = hostile_click(client, BOB, action_id, value, ts=eng.ts)

    assert response.status_code < 500, response.content
    assert b"Traceback" not in response.content
    assert status_of(fake_slack, C_ENG_APPROVALS)["status"] == "pending"
    assert written_to_ledger(fake_slack) == []
    assert fake_slack.calls("views.open") == []
    nobody_else_pinged(fake_slack, BOB)


@pytest.mark.parametrize("action_id", [ids.APPROVE_ACTION, ids.REJECT_ACTION])
def test_a_decision_value_with_a_huge_id_is_answered_as_no_such_request(client, fake_slack, sales_pending, action_id):
    """No request id is 200,000 characters long: nothing to decide, and no form Slack would refuse to open
    (private_metadata holds 3,000 characters) followed by "please click Reject again"."""
    _, eng = sales_pending
    value = json.dumps({"id": "x" * 200_000, "user": ALICE, "v": "y" * 200_000})

    response = hostile_click(client, BOB, action_id, value, ts=eng.ts)

    assert response.status_code < 500 and b"Traceback" not in response.content
    assert status_of(fake_slack, C_ENG_APPROVALS)["status"] == "pending"
    assert written_to_ledger(fake_slack) == []
    nobody_else_pinged(fake_slack, BOB)
    assert [c for c in fake_slack.calls("views.open") if not c.response.get("ok")] == []
    assert not any("again" in text for text in told(fake_slack, BOB)), told(fake_slack, BOB)


def test_a_huge_shown_version_in_an_approve_value_is_treated_as_a_changed_request(client, fake_slack, sales_pending):
    _, eng = sales_pending
    value = json.dumps({**button_value(eng, ids.APPROVE_ACTION), "v": "v" * 1900})

    polite(hostile_click(client, BOB, ids.APPROVE_ACTION, value, ts=eng.ts))

    assert status_of(fake_slack, C_ENG_APPROVALS)["status"] == "pending"
    assert written_to_ledger(fake_slack) == []
    [answer] = told(fake_slack, BOB)
    assert "Nothing was approved" in answer


def test_a_non_approver_pressing_reject_with_a_real_value_is_told_and_no_reason_form_opens(client, fake_slack,
                                                                                          sales_pending):
    _, eng = sales_pending
    value = buttons_in(eng.blocks)[ids.REJECT_ACTION][1]

    polite(hostile_click(client, CAROL, ids.REJECT_ACTION, value, ts=eng.ts))

    assert fake_slack.calls("views.open") == []
    assert written_to_ledger(fake_slack) == []
    nobody_else_pinged(fake_slack, CAROL)
    assert told(fake_slack, CAROL) == ["You are not an approver for Engineering, so you can't decide this request."]


def test_reject_naming_another_teams_pending_request_shows_nothing_of_it(client, fake_slack, sales_pending):
    """Bob approves for Engineering; a Reject on Engineering's message whose value names Sam's Sales request
    must not open a form that shows Sam's dates to him."""
    sales, eng = sales_pending
    value = json.dumps({"id": sales.metadata["event_payload"]["id"], "user": SAM, "v": "x"})

    polite(hostile_click(client, BOB, ids.REJECT_ACTION, value, ts=eng.ts))

    shown = json.dumps([c.params for c in fake_slack.calls()])
    assert "17 Mar" not in shown and "Mar 17" not in shown and SAM_START.isoformat() not in shown, shown
    assert written_to_ledger(fake_slack) == []


# --- The reject-reason modal's private_metadata --------------------------------------------------------


def reject_form(client, fake_slack, approver, message) -> dict:
    value = buttons_in(message.blocks)[ids.REJECT_ACTION][1]
    polite(hostile_click(client, approver, ids.REJECT_ACTION, value, channel=message.channel, ts=message.ts))
    view = fake_slack.last_call("views.open").params["view"]
    return json.loads(view) if isinstance(view, str) else view


def send_reason(client, user, view, metadata: dict | str, reason="Not this week"):
    view = {**view, "private_metadata": metadata if isinstance(metadata, str) else json.dumps(metadata)}
    return post_interaction(client, view_submission_payload(
        user_id=user, view=view, values={ids.REASON_BLOCK: {ids.REASON_ACTION: {"type": "plain_text_input",
                                                                                   "value": reason}}}))


def test_a_reason_form_pointed_at_another_teams_request_rejects_nothing(client, fake_slack, sales_pending):
    sales, eng = sales_pending
    form = reject_form(client, fake_slack, BOB, eng)
    fake_slack.clear_calls()

    polite(send_reason(client, BOB, form, {"id": sales.metadata["event_payload"]["id"], "user": SAM,
                                           "channel": C_SALES_APPROVALS, "ts": sales.ts}))

    assert status_of(fake_slack, C_SALES_APPROVALS)["status"] == "pending"
    assert status_of(fake_slack, C_ENG_APPROVALS)["status"] == "pending"
    assert written_to_ledger(fake_slack) == []
    nobody_else_pinged(fake_slack, BOB)
    assert told(fake_slack, BOB) == ["You are not an approver for Sales, so you can't decide this request."]


def test_a_reason_form_pointed_at_another_message_of_the_same_channel_rejects_nothing(client, fake_slack,
                                                                                     sales_pending):
    sales, eng = sales_pending
    form = reject_form(client, fake_slack, BOB, eng)
    fake_slack.clear_calls()

    # Sam's request id, but Engineering's message: the message holds another request.
    polite(send_reason(client, BOB, form, {"id": sales.metadata["event_payload"]["id"], "user": SAM,
                                           "channel": C_ENG_APPROVALS, "ts": eng.ts}))
    # Engineering's request id, at a ts where no message is.
    polite(send_reason(client, BOB, form, {"id": eng.metadata["event_payload"]["id"], "user": ALICE,
                                           "channel": C_ENG_APPROVALS, "ts": "1000000000.000001"}))
    # A channel that holds no request at all.
    polite(send_reason(client, BOB, form, {"id": eng.metadata["event_payload"]["id"], "user": ALICE,
                                           "channel": C_GENERAL, "ts": eng.ts}))

    assert status_of(fake_slack, C_ENG_APPROVALS)["status"] == "pending"
    assert status_of(fake_slack, C_SALES_APPROVALS)["status"] == "pending"
    assert written_to_ledger(fake_slack) == []
    nobody_else_pinged(fake_slack, BOB)
    assert told(fake_slack, BOB) == ["This request no longer exists (its message was deleted)."] * 3


def test_a_reason_form_pointed_at_a_request_already_approved_does_not_turn_it_into_a_rejection(client, fake_slack):
    install_config()
    ask(client, fake_slack, ALICE)
    ask(client, fake_slack, ALICE, start=MONDAY + timedelta(days=14),
                     end=WEDNESDAY + timedelta(days=14))
    first, second = posted_requests(fake_slack)
    click(client, fake_slack, BOB, ids.APPROVE_ACTION, first)
    second_message = fake_slack.workspace.message(C_ENG_APPROVALS, second.response["ts"])
    form = reject_form(client, fake_slack, BOB, second_message)
    fake_slack.clear_calls()

    first_id = fake_slack.workspace.message(C_ENG_APPROVALS, first.response["ts"]).metadata["event_payload"]["id"]

    polite(send_reason(client, BOB, form, {"id": first_id, "user": ALICE, "channel": C_ENG_APPROVALS,
                                           "ts": first.response["ts"]}))

    approved = fake_slack.workspace.message(C_ENG_APPROVALS, first.response["ts"]).metadata["event_payload"]
    assert (approved["status"], approved["decided_by"]) == ("approved", BOB)
    assert written_to_ledger(fake_slack) == []
    nobody_else_pinged(fake_slack, BOB)
    [answer] = told(fake_slack, BOB)
    assert "already approved" in answer


@pytest.mark.parametrize("metadata", [
    "", "not json", "[]", "null", json.dumps({"id": 1, "channel": C_ENG_APPROVALS, "ts": 2}),
    json.dumps({"id": "x"}), "{" * 3000,
])
def test_a_reason_form_with_unreadable_metadata_changes_nothing(client, fake_slack, sales_pending, metadata):
    _, eng = sales_pending
    form = reject_form(client, fake_slack, BOB, eng)
    fake_slack.clear_calls()

    response = send_reason(client, BOB, form, metadata)

    assert response.status_code < 500 and b"Traceback" not in response.content
    assert status_of(fake_slack, C_ENG_APPROVALS)["status"] == "pending"
    assert written_to_ledger(fake_slack) == []
    nobody_else_pinged(fake_slack, BOB)


def test_a_non_approver_submitting_a_forged_reason_form_rejects_nothing(client, fake_slack, sales_pending):
    _, eng = sales_pending
    form = reject_form(client, fake_slack, BOB, eng)
    fake_slack.clear_calls()

    polite(send_reason(client, CAROL, form, form["private_metadata"]))

    assert status_of(fake_slack, C_ENG_APPROVALS)["status"] == "pending"
    assert written_to_ledger(fake_slack) == []
    nobody_else_pinged(fake_slack, CAROL)
    assert told(fake_slack, CAROL) == ["You are not an approver for Engineering, so you can't decide this request."]


# --- The request form's private_metadata -----------------------------------------------------------------


def test_editing_someone_elses_request_through_the_forms_metadata_is_refused(client, fake_slack, sales_pending):
    sales, _ = sales_pending
    sam_id = sales.metadata["event_payload"]["id"]
    form = open_request_form(client, fake_slack, ALICE)
    fake_slack.clear_calls()

    response = post_interaction(client, view_submission_payload(
        user_id=ALICE, view={**form, "private_metadata": json.dumps({"edit": sam_id})},
        values=request_values("vacation", MONDAY + timedelta(days=15), WEDNESDAY + timedelta(days=15),
                              note="mine now"), view_id="V_FORGED"))

    polite(response)
    payload = status_of(fake_slack, C_SALES_APPROVALS)
    assert (payload["id"], payload["user"], payload["start"]) == (sam_id, SAM, SAM_START.isoformat())
    assert written_to_ledger(fake_slack) == []
    nobody_else_pinged(fake_slack, ALICE)
    answers = told(fake_slack, ALICE) + [json.dumps(response.json()) if response.content else ""]
    assert any("Only the requester (or HR)" in a or "only the requester (or HR)" in a for a in answers), answers


def test_editing_a_request_that_does_not_exist_through_the_forms_metadata_posts_nothing(client, fake_slack,
                                                                                       sales_pending):
    form = open_request_form(client, fake_slack, ALICE)
    fake_slack.clear_calls()

    response = post_interaction(client, view_submission_payload(
        user_id=ALICE, view={**form, "private_metadata": json.dumps({"edit": "made-up-id"})},
        values=request_values("vacation", MONDAY + timedelta(days=15), WEDNESDAY + timedelta(days=15)),
        view_id="V_FORGED"))

    polite(response)
    assert written_to_ledger(fake_slack) == []
    nobody_else_pinged(fake_slack, ALICE)
    assert told(fake_slack, ALICE), "Alice hears that nothing was changed"


@pytest.mark.parametrize("metadata", [{"for": SAM}, {"for": DAVE}, {"for": ["U_X"]}, {"for": {"id": SAM}},
                                      {"for": ""}])
def test_recording_for_someone_through_the_forms_metadata_is_only_for_hr(client, fake_slack, sales_pending, metadata):
    form = open_request_form(client, fake_slack, ALICE)
    fake_slack.clear_calls()

    response = post_interaction(client, view_submission_payload(
        user_id=ALICE, view={**form, "private_metadata": json.dumps(metadata)},
        values=request_values("vacation", MONDAY + timedelta(days=15), WEDNESDAY + timedelta(days=15)),
        view_id="V_FORGED"))

    polite(response)
    assert response.json()["response_action"] == "errors"
    assert "Only HR" in response.json()["errors"][ids.TYPE_BLOCK]
    assert written_to_ledger(fake_slack) == []
    nobody_else_pinged(fake_slack, ALICE)


def test_a_user_field_in_the_forms_metadata_does_not_make_the_request_someone_elses(client, fake_slack):
    install_config()
    form = open_request_form(client, fake_slack, ALICE)
    fake_slack.clear_calls()

    polite(post_interaction(client, view_submission_payload(
        user_id=ALICE, view={**form, "private_metadata": json.dumps({"user": DAVE, "by": HR, "recorded_by": HR})},
        values=request_values("vacation", MONDAY, WEDNESDAY), view_id="V_FORGED")))

    payload = status_of(fake_slack, C_ENG_APPROVALS)
    assert (payload["user"], payload["status"]) == (ALICE, "pending")
    assert payload.get("recorded_by") is None
    assert [c for c in fake_slack.calls("chat.postMessage") if c.params.get("channel") == DAVE] == []


def preview_text(view) -> str:
    view = json.loads(view) if isinstance(view, str) else view
    return json.dumps([b for b in view["blocks"] if b.get("block_id") == ids.PREVIEW_BLOCK])


def test_the_live_preview_of_a_forged_record_for_form_does_not_show_someone_elses_balance(client, fake_slack):
    """Alice has 3 days pending; Dave (not HR) redraws his own form with `{"for": Alice}` metadata."""
    install_config()
    ask(client, fake_slack, ALICE)  # 25 - 3 = 22 days left for Alice
    open_request_form(client, fake_slack, DAVE)
    form = open_request_form(client, fake_slack, DAVE)
    later = MONDAY + timedelta(days=14)
    view = {**form, "id": "V_DAVE", "hash": "h", "private_metadata": json.dumps({"for": ALICE}),
            "state": {"values": request_values("vacation", later, later)}}
    fake_slack.clear_calls()

    polite(post_interaction(client, view_block_actions_payload(
        user_id=DAVE, action_id=ids.END_ACTION, value="", block_id=ids.END_BLOCK, view=view, view_id="V_DAVE")))

    redrawn = [preview_text(c.params["view"]) for c in fake_slack.calls("views.update")]
    assert redrawn, "the form is redrawn"
    assert "21 of 25" not in redrawn[-1], redrawn[-1]  # Alice's balance after one more day
    assert "Recorded as approved" not in redrawn[-1]


def test_a_forged_edit_button_naming_someone_else_opens_no_form_with_their_balance(client, fake_slack):
    """Dave presses an Edit button whose value names Alice (no real request id needed)."""
    install_config()
    ask(client, fake_slack, ALICE)  # 22 days left for Alice once it counts
    ask(client, fake_slack, DAVE, start=MONDAY + timedelta(days=14),
                     end=MONDAY + timedelta(days=14))  # Dave: 24 left
    fake_slack.clear_calls()
    later = MONDAY + timedelta(days=15)
    value = json.dumps({"id": "anything", "user": ALICE, "type": "vacation", "start": later.isoformat(),
                        "end": later.isoformat(), "sh": None, "eh": None})

    polite(hostile_click(client, DAVE, ids.EDIT_ACTION, value, channel="D_DAVE", block_id=f"{ids.LEAVE_BLOCK_PREFIX}x"))

    for call in fake_slack.calls("views.open"):
        shown = preview_text(call.params["view"])
        assert "21 of 25" not in shown, shown  # Alice's balance after one more day
    assert written_to_ledger(fake_slack) == []


def test_a_forged_edit_button_with_someones_real_request_does_not_show_its_private_type(client, fake_slack):
    install_config()
    ask(client, fake_slack, ALICE, leave_type="medical")
    alice = request_message(fake_slack, C_ENG_APPROVALS).metadata["event_payload"]
    fake_slack.clear_calls()
    value = json.dumps({"id": alice["id"], "user": ALICE})

    polite(hostile_click(client, CAROL, ids.EDIT_ACTION, value, channel="D_CAROL",
                         block_id=f"{ids.LEAVE_BLOCK_PREFIX}{alice['id']}"))

    for call in fake_slack.calls("views.open"):
        view = call.params["view"]
        view = json.loads(view) if isinstance(view, str) else view
        [type_block] = [b for b in view["blocks"] if b.get("block_id") == ids.TYPE_BLOCK]
        initial = type_block["element"].get("initial_option") or {}
        assert initial.get("value") != MEDICAL.code, "Alice's private leave type is shown to Carol"
        assert MONDAY.isoformat() not in json.dumps(view), "Alice's dates are shown to Carol"
    assert written_to_ledger(fake_slack) == []


# --- Edit / Cancel / Withdraw with another person's request ----------------------------------------------


def alice_receipt_blocks(fake_slack):
    [receipt] = [c for c in fake_slack.calls("chat.postMessage")
                 if c.params.get("channel") == ALICE and buttons_in(c.params.get("blocks"))]
    return receipt.params["blocks"]


@pytest.mark.parametrize("where", ["receipt", "list", "home"])
def test_withdrawing_someone_elses_pending_request_is_refused_where_pressed(client, fake_slack, where):
    install_config()
    ask(client, fake_slack, ALICE)
    blocks = alice_receipt_blocks(fake_slack)
    block_id, value = buttons_in(blocks)[ids.WITHDRAW_ACTION]
    fake_slack.clear_calls()

    if where == "home":
        home = {"type": "home", "blocks": []}
        response = post_interaction(client, view_block_actions_payload(
            user_id=DAVE, action_id=ids.WITHDRAW_ACTION, value=value, block_id=f"{ids.LIST_BLOCK_PREFIX}x", view=home))
    else:
        payload = block_actions_payload(user_id=DAVE, action_id=ids.WITHDRAW_ACTION, value=value,
                                        block_id=block_id if where == "receipt" else f"{ids.LIST_BLOCK_PREFIX}x",
                                        channel_id="D_DAVE" if where == "receipt" else C_ENG)
        if where == "list":
            payload["container"]["is_ephemeral"] = True
            payload.pop("message")
        response = post_interaction(client, payload)

    polite(response)
    assert status_of(fake_slack, C_ENG_APPROVALS)["status"] == "pending"
    assert written_to_ledger(fake_slack) == []
    nobody_else_pinged(fake_slack, DAVE)
    [answer] = told(fake_slack, DAVE)
    assert "only the requester (or HR) can change it" in answer


def test_cancelling_someone_elses_approved_leave_is_refused(client, fake_slack):
    install_config()
    ask(client, fake_slack, ALICE)
    click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted_requests(fake_slack)[0])
    message = request_message(fake_slack, C_ENG_APPROVALS)
    alice = message.metadata["event_payload"]
    fake_slack.clear_calls()
    value = json.dumps({"id": alice["id"], "user": DAVE, "channel": C_ENG_APPROVALS, "ts": message.ts})

    polite(hostile_click(client, DAVE, ids.CANCEL_ACTION, value, channel="D_DAVE",
                         block_id=f"{ids.LEAVE_BLOCK_PREFIX}{alice['id']}"))

    assert status_of(fake_slack, C_ENG_APPROVALS)["status"] == "approved"
    assert written_to_ledger(fake_slack) == []
    nobody_else_pinged(fake_slack, DAVE)
    assert "only the requester (or HR) can change it" in told(fake_slack, DAVE)[0]


def test_a_change_button_pointing_at_another_request_message_changes_neither(client, fake_slack, sales_pending):
    """Alice's own request id with Sam's message's place: the id and the message disagree."""
    sales, eng = sales_pending
    value = json.dumps({"id": eng.metadata["event_payload"]["id"], "user": ALICE, "channel": C_SALES_APPROVALS,
                        "ts": sales.ts})

    polite(hostile_click(client, ALICE, ids.WITHDRAW_ACTION, value, channel="D_ALICE",
                         block_id=f"{ids.LEAVE_BLOCK_PREFIX}x"))

    assert status_of(fake_slack, C_ENG_APPROVALS)["status"] == "pending"
    assert status_of(fake_slack, C_SALES_APPROVALS)["status"] == "pending"
    assert written_to_ledger(fake_slack) == []
    nobody_else_pinged(fake_slack, ALICE)
    assert told(fake_slack, ALICE)


@pytest.mark.parametrize("value", ["nope", "{}", json.dumps({"id": ""}), json.dumps({"id": 7}),
                                   json.dumps({"id": "does-not-exist", "user": ALICE}),
                                   json.dumps({"id": "x", "channel": 5, "ts": ["a"]})])
@pytest.mark.parametrize("action_id", [ids.EDIT_ACTION, ids.WITHDRAW_ACTION, ids.CANCEL_ACTION])
def test_an_unreadable_or_unknown_change_button_changes_nothing_and_never_500s(client, fake_slack, sales_pending,
                                                                               action_id, value):
    response = hostile_click(client, ALICE, action_id, value, channel="D_ALICE",
                             block_id=f"{ids.LEAVE_BLOCK_PREFIX}x")

    assert response.status_code < 500 and b"Traceback" not in response.content
    assert written_to_ledger(fake_slack) == []
    nobody_else_pinged(fake_slack, ALICE)


# --- App Home's decision buttons, tampered --------------------------------------------------------------


def test_app_home_approve_pointed_at_another_teams_request_is_refused_by_dm(client, fake_slack, sales_pending):
    sales, _ = sales_pending
    home = open_app_home(client, fake_slack, BOB, "Ev_T1")
    block_id, value = buttons_in(home["blocks"])[ids.APPROVE_ACTION]
    forged = json.dumps({**json.loads(value), "id": sales.metadata["event_payload"]["id"], "user": SAM,
                         "channel": C_SALES_APPROVALS, "ts": sales.ts})
    fake_slack.clear_calls()

    polite(post_interaction(client, view_block_actions_payload(
        user_id=BOB, action_id=ids.APPROVE_ACTION, value=forged, block_id=block_id, view=home)))

    assert status_of(fake_slack, C_SALES_APPROVALS)["status"] == "pending"
    assert written_to_ledger(fake_slack) == []
    nobody_else_pinged(fake_slack, BOB)
    assert told(fake_slack, BOB) == ["You are not an approver for Sales, so you can't decide this request."]


@pytest.mark.parametrize("where", [
    {"channel": C_GENERAL},
    {"channel": "D_BOB"},
    {"channel": "C_DOES_NOT_EXIST"},
    {"ts": "0"},
    {"ts": "9999999999.999999"},
    {"channel": "", "ts": ""},
])
def test_app_home_approve_with_a_tampered_message_place_writes_nothing(client, fake_slack, sales_pending, where):
    home = open_app_home(client, fake_slack, BOB, "Ev_T2")
    block_id, value = buttons_in(home["blocks"])[ids.APPROVE_ACTION]
    forged = json.dumps({**json.loads(value), **where})
    fake_slack.clear_calls()

    response = post_interaction(client, view_block_actions_payload(
        user_id=BOB, action_id=ids.APPROVE_ACTION, value=forged, block_id=block_id, view=home))

    assert response.status_code < 500 and b"Traceback" not in response.content
    assert status_of(fake_slack, C_ENG_APPROVALS)["status"] == "pending"
    assert written_to_ledger(fake_slack) == []
    nobody_else_pinged(fake_slack, BOB)


def test_app_home_reject_by_a_non_approver_opens_no_form(client, fake_slack, sales_pending):
    home = open_app_home(client, fake_slack, BOB, "Ev_T3")
    block_id, value = buttons_in(home["blocks"])[ids.REJECT_ACTION]
    fake_slack.clear_calls()

    polite(post_interaction(client, view_block_actions_payload(
        user_id=CAROL, action_id=ids.REJECT_ACTION, value=value, block_id=block_id, view=home)))

    assert fake_slack.calls("views.open") == []
    assert written_to_ledger(fake_slack) == []
    nobody_else_pinged(fake_slack, CAROL)
    assert told(fake_slack, CAROL) == ["You are not an approver for Engineering, so you can't decide this request."]


# --- Submissions shaped wrongly --------------------------------------------------------------------------


def submit(client, user, view, values, view_id="V_SHAPE"):
    return post_interaction(client, view_submission_payload(user_id=user, view=view, values=values, view_id=view_id,
                                                            view_hash=f"{view_id}.h"))


def test_the_request_forms_callback_with_the_reject_forms_state_asks_for_the_fields(client, fake_slack, sales_pending):
    form = open_request_form(client, fake_slack, ALICE)
    fake_slack.clear_calls()

    response = submit(client, ALICE, form, {ids.REASON_BLOCK: {ids.REASON_ACTION: {"value": "because"}}})

    polite(response)
    assert response.json()["response_action"] == "errors"
    assert set(response.json()["errors"]) <= set(ids.REQUEST_INPUT_BLOCKS)
    assert written_to_ledger(fake_slack) == []


def test_the_reject_forms_callback_with_the_request_forms_state_rejects_nothing(client, fake_slack, sales_pending):
    _, eng = sales_pending
    form = reject_form(client, fake_slack, BOB, eng)
    fake_slack.clear_calls()

    response = submit(client, BOB, form, request_values("vacation", MONDAY, WEDNESDAY, note="a reason?"))

    polite(response)
    assert response.json() == {"response_action": "errors",
                               "errors": {ids.REASON_BLOCK: "Say why, so the requester knows what to change."}}
    assert status_of(fake_slack, C_ENG_APPROVALS)["status"] == "pending"
    assert written_to_ledger(fake_slack) == []


def test_a_request_form_submitted_with_another_forms_callback_id_is_acknowledged_and_does_nothing(client, fake_slack):
    install_config()
    form = open_request_form(client, fake_slack, ALICE)
    fake_slack.clear_calls()

    response = submit(client, ALICE, {**form, "callback_id": "some_other_apps_modal"},
                      request_values("vacation", MONDAY, WEDNESDAY))

    assert response.status_code == 200 and response.content == b""
    assert written_to_ledger(fake_slack) == []


@pytest.mark.parametrize("values, block", [
    ({}, ids.TYPE_BLOCK),
    ({ids.START_BLOCK: [1, 2]}, ids.TYPE_BLOCK),
    ({ids.TYPE_BLOCK: {ids.TYPE_ACTION: {"selected_option": ["vacation"]}}}, ids.TYPE_BLOCK),
    ({ids.TYPE_BLOCK: {ids.TYPE_ACTION: {"selected_option": {"value": 7}}}}, ids.TYPE_BLOCK),
    ({ids.TYPE_BLOCK: {ids.TYPE_ACTION: {"selected_option": {"value": "made_up_type"}}}}, ids.TYPE_BLOCK),
])
def test_a_request_form_with_missing_or_wrongly_typed_blocks_names_a_field(client, fake_slack, values, block):
    install_config()
    form = open_request_form(client, fake_slack, ALICE)
    fake_slack.clear_calls()

    response = submit(client, ALICE, form, values)

    polite(response)
    assert response.json()["response_action"] == "errors"
    assert block in response.json()["errors"]
    assert written_to_ledger(fake_slack) == []


@pytest.mark.parametrize("start", [
    20311210, 2031.5, None, ["2031-03-10"], {"date": "2031-03-10"}, "2031-02-30", "2031-13-01", "０２０３１-03-10",
    "２０３１-０３-１０", "2031-W11-1", "20310310", "2031-03", "2031-03-10T00:00", " 2031-03-10", "2031-03-10\n",
    "9999-12-31", "0001-01-01", "",
])
def test_a_request_form_with_an_odd_start_date_asks_for_a_real_day(client, fake_slack, start):
    install_config()
    form = open_request_form(client, fake_slack, ALICE)
    values = request_values("vacation", MONDAY, WEDNESDAY)
    values[ids.START_BLOCK][ids.START_ACTION]["selected_date"] = start
    fake_slack.clear_calls()

    response = submit(client, ALICE, form, values)

    polite(response)
    assert response.json()["response_action"] == "errors", response.json()
    assert set(response.json()["errors"]) & {ids.START_BLOCK, ids.END_BLOCK}
    assert written_to_ledger(fake_slack) == []


def test_a_request_form_whose_state_values_are_a_list_is_refused_without_a_500(client, fake_slack):
    install_config()
    form = open_request_form(client, fake_slack, ALICE)
    fake_slack.clear_calls()
    payload = view_submission_payload(user_id=ALICE, view=form, values={})
    payload["view"]["state"] = {"values": [request_values("vacation", MONDAY, WEDNESDAY)]}

    response = post_interaction(client, payload)

    assert response.status_code < 500 and b"Traceback" not in response.content
    assert written_to_ledger(fake_slack) == []


def test_a_request_form_with_a_duplicated_block_id_takes_one_and_never_two_requests(client, fake_slack):
    """JSON with the start block twice (a hand-made body): one value is read, one request sent."""
    install_config()
    form = open_request_form(client, fake_slack, ALICE)
    fake_slack.clear_calls()
    payload = view_submission_payload(user_id=ALICE, view=form, values={"__values__": 1}, view_id="V_DUP")
    values = request_values("vacation", MONDAY, WEDNESDAY)
    body_values = json.dumps(values)[:-1] + ', "start": {"start_date": {"type": "datepicker", ' \
                                            '"selected_date": "2031-02-30"}}}'
    text = json.dumps(payload).replace('{"__values__": 1}', body_values)

    response = post_signed(client, "/slack/interactions", urlencode({"payload": text}))

    polite(response)
    assert response.json()["response_action"] == "errors"  # the last one read, 30 February, is no day
    assert ids.START_BLOCK in response.json()["errors"]
    assert written_to_ledger(fake_slack) == []


def test_a_reason_form_whose_reason_is_a_number_or_a_list_asks_for_a_reason(client, fake_slack, sales_pending):
    _, eng = sales_pending
    form = reject_form(client, fake_slack, BOB, eng)
    fake_slack.clear_calls()

    for reason in (42, ["no"], {"text": "no"}, None, "   ", "\u200b\u200b"):
        response = submit(client, BOB, form, {ids.REASON_BLOCK: {ids.REASON_ACTION: {"value": reason}}},
                          view_id=f"V_R{abs(hash(str(reason)))}")
        polite(response)
        assert response.json()["response_action"] == "errors"
        assert ids.REASON_BLOCK in response.json()["errors"]
    assert status_of(fake_slack, C_ENG_APPROVALS)["status"] == "pending"
    assert written_to_ledger(fake_slack) == []


# --- /timeoff text ---------------------------------------------------------------------------------------


def test_timeoff_for_a_forged_mention_by_someone_not_in_hr_is_refused(client, fake_slack):
    install_config()

    for text in (f"for <@{BOB}|bob> {MONDAY} vacation", f"for <@{HR}> list", f"for <@{ALICE}|alice> cancel",
                 f"for <@{ALICE}|<!channel>> {MONDAY}"):
        response = post_command(client, text, user_id=DAVE)
        assert response.status_code == 200
        assert "Only HR" in response.json()["text"]
        assert "<!channel>" not in response.json()["text"]
    assert fake_slack.calls("views.open") == []
    assert fake_slack.calls("chat.postMessage") == []


@pytest.mark.parametrize("text", [
    "<!channel>", "<!here> 2031-03-10", "<!everyone>", "<@U_BOB|bob>", "vacation <!subteam^S_ENG|@eng>",
    "<https://evil.example|click me>", "&lt;!channel&gt;",
])
def test_timeoff_text_with_mentions_is_answered_without_pinging_anyone(client, fake_slack, text):
    install_config()

    response = post_command(client, text, user_id=ALICE)

    assert response.status_code == 200
    body = response.json() if response.content else {}
    shown = json.dumps(body)
    for ping in ("<!channel>", "<!here>", "<!everyone>", "<@U_BOB", "<!subteam", "<https://evil"):
        assert ping not in shown, shown
    assert fake_slack.calls("chat.postMessage") == []


def test_timeoff_with_very_long_text_gets_a_short_clear_answer(client, fake_slack):
    install_config()

    response = post_command(client, "vacation " + "x" * 20_000, user_id=ALICE)

    assert response.status_code == 200
    text = response.json()["text"]
    assert "didn't understand" in text and len(text) < 4000
    assert fake_slack.calls("views.open") == []


@pytest.mark.parametrize("text", ["\x00", "2031-03-10\x00vacation", "\x1b[31mvacation", "\x7f\x08", "list\x00",
                                  "for\x00<@U_ALICE>"])
def test_timeoff_with_control_characters_never_fails(client, fake_slack, text):
    install_config()

    response = post_command(client, text, user_id=ALICE)

    assert response.status_code == 200, response.content
    if response.content:
        assert "\x00" not in response.json()["text"] and "\x1b" not in response.json()["text"]
