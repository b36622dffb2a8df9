"""Shared steps for the end-to-end flow tests: the configuration the personas live
in, and the Slack-shaped requests an employee and an approver send."""

import json
from datetime import date
from decimal import Decimal

from approvals.config_store import config_apply
from approvals.config_types import (
    ApproverSource,
    LeaveTypeConfig,
    MemberSource,
    TeamConfig,
    WorkspaceConfig,
)
from fake_slack.personas import ALICE, BOB, C_ENG, C_ENG_APPROVALS, C_ENG_LEADS, DAVE, HR
from approvals import block_ids as ids
from test_support.slack_requests import (
    block_actions_payload,
    event_envelope,
    post_command,
    post_event,
    post_interaction,
    view_submission_payload,
)

# Far enough ahead never to be "in the past", and clear of US/CA public holidays.
MONDAY = date(2031, 3, 10)
WEDNESDAY = date(2031, 3, 12)

VACATION = LeaveTypeConfig(code="vacation", name="Vacation", emoji=":palm_tree:", requires_approval=True,
                           annual_allowance_days=Decimal(25), allow_half_days=True, max_consecutive_days=20)
SICK = LeaveTypeConfig(code="sick", name="Sick leave", emoji=":face_with_thermometer:", requires_approval=False,
                       allow_half_days=True, private=True, allow_past_days=3)
MEDICAL = LeaveTypeConfig(code="medical", name="Medical appointment", emoji=":hospital:", requires_approval=True,
                          private=True)

ENGINEERING = TeamConfig(
    name="Engineering",
    members=MemberSource(channel=C_ENG),
    approvers=ApproverSource(users=(BOB,), channel=C_ENG_LEADS),
    approvals_channel=C_ENG_APPROVALS,
    announce_channel=C_ENG,
    holiday_country="US",
    holiday_subdivision="CA",
    timezone="America/Los_Angeles",
)


def standard_config(**changes) -> WorkspaceConfig:
    config = WorkspaceConfig(
        fallback_approvers=(HR,),
        teams=(ENGINEERING,),
        leave_types=(VACATION, SICK, MEDICAL),
    )
    return WorkspaceConfig(**{**config.__dict__, **changes})


def install_config(config: WorkspaceConfig | None = None) -> WorkspaceConfig:
    config = config or standard_config()
    config_apply(config=config)
    return config


def open_request_form(client, fake_slack, user: str, text: str = "") -> dict:
    """`/timeoff …` as Slack sends it; returns the modal Slack was asked to open, with the id and hash Slack
    gave it (each form its own, as in Slack: `submit_request` sends them)."""
    response = post_command(client, text, user_id=user)
    assert response.status_code == 200, response.content
    assert response.content == b"", response.content  # the modal answers, not a message
    opened = fake_slack.last_call("views.open")
    return {**opened.params["view"], "id": opened.response["view"]["id"], "hash": opened.response["view"]["hash"]}


def request_values(leave_type: str, start: date, end: date, *, note: str = "", halves=()) -> dict:
    """The modal's state.values as Slack sends them on submission."""
    return {
        ids.TYPE_BLOCK: {ids.TYPE_ACTION: {"type": "static_select", "selected_option": {
            "text": {"type": "plain_text", "text": leave_type, "emoji": True}, "value": leave_type}}},
        ids.START_BLOCK: {ids.START_ACTION: {"type": "datepicker", "selected_date": start.isoformat()}},
        ids.END_BLOCK: {ids.END_ACTION: {"type": "datepicker", "selected_date": end.isoformat()}},
        ids.HALF_BLOCK: {ids.HALF_ACTION: {"type": "checkboxes", "selected_options": [
            {"text": {"type": "plain_text", "text": h}, "value": h} for h in halves]}},
        ids.NOTE_BLOCK: {ids.NOTE_ACTION: {"type": "plain_text_input", "value": note or None}},
    }


def submit_request(client, user: str, view: dict, values: dict, *, view_id=None, view_hash=None):
    """The form sent: under the id and hash Slack gave it (`open_request_form`'s), or those given."""
    view_id = view_id or view.get("id") or "V_REQ1"
    view_hash = view_hash or view.get("hash") or "h1"
    payload = view_submission_payload(user_id=user, view=view, values=values, view_id=view_id, view_hash=view_hash)
    return post_interaction(client, payload)


def request_time_off(client, fake_slack, user: str, leave_type: str = "vacation", start: date = MONDAY,
                     end: date = WEDNESDAY, note: str = "", halves=()):
    view = open_request_form(client, fake_slack, user)
    response = submit_request(client, user, view, request_values(leave_type, start, end, note=note, halves=halves))
    assert response.status_code == 200, response.content
    return response


def posted_requests(fake_slack, channel: str = C_ENG_APPROVALS) -> list:
    """The chat.postMessage calls that posted a request (`timeoff_request` metadata) to `channel`."""
    return [call for call in fake_slack.calls("chat.postMessage")
            if call.params.get("channel") == channel and _event_type(call.params.get("metadata")) == "timeoff_request"]


def _event_type(metadata) -> str | None:
    if isinstance(metadata, str):
        metadata = json.loads(metadata)
    return metadata.get("event_type") if isinstance(metadata, dict) else None


def metadata_payload(call) -> dict:
    metadata = call.params["metadata"]
    metadata = json.loads(metadata) if isinstance(metadata, str) else metadata
    assert metadata["event_type"] == "timeoff_request"
    return metadata["event_payload"]


def click(client, fake_slack, user: str, action_id: str, posted_call) -> object:
    """Press a button on the request message that `posted_call` created."""
    ts = posted_call.response["ts"]
    channel = posted_call.response["channel"]
    buttons = [b for b in posted_call.params["blocks"] if b.get("type") == "actions"][0]["elements"]
    value = next(b["value"] for b in buttons if b["action_id"] == action_id)
    payload = block_actions_payload(user_id=user, action_id=action_id, value=value, channel_id=channel,
                                    message_ts=ts, block_id=ids.DECISION_BLOCK)
    return post_interaction(client, payload)


def reject_in_the_channel(client, fake_slack, approver: str, posted_call, reason: str) -> None:
    """`approver` presses Reject on the request message `posted_call` created and gives `reason` in the form
    it opens."""
    assert click(client, fake_slack, approver, ids.REJECT_ACTION, posted_call).status_code == 200
    form = fake_slack.last_call("views.open").params["view"]
    form = json.loads(form) if isinstance(form, str) else form
    assert form["callback_id"] == ids.REJECT_MODAL
    values = {ids.REASON_BLOCK: {ids.REASON_ACTION: {"type": "plain_text_input", "value": reason}}}
    response = post_interaction(client, view_submission_payload(user_id=approver, view=form, values=values,
                                                                view_id="V_REJECT"))
    assert response.status_code == 200 and response.content == b"", response.content


def buttons_in(blocks) -> dict:
    """action_id -> (block_id, value) of every button in these blocks."""
    found = {}
    for block in blocks or []:
        for element in block.get("elements", []) if block.get("type") == "actions" else []:
            if element.get("type") == "button" and "value" in element:
                found.setdefault(element["action_id"], (block["block_id"], element["value"]))
    return found


def press(client, user: str, blocks, action_id: str, *, channel: str = "D_X", ts: str = "1766000000.000200",
          on_list: bool = False, as_sent=None):
    """A click on a button of `blocks`: on a message in `channel` (a DM by default, as a receipt's);
    `on_list`: on the ephemeral `/timeoff list` answer there, as Slack sends that (no message);
    `as_sent`: a change Slack makes to the payload for this person (their own team, for Slack Connect)."""
    block_id, value = buttons_in(blocks)[action_id]
    payload = block_actions_payload(user_id=user, action_id=action_id, value=value, block_id=block_id,
                                    channel_id=channel, message_ts=ts)
    if on_list:
        payload["container"]["is_ephemeral"] = True
        payload.pop("message")
    if as_sent is not None:
        payload = as_sent(payload, user)
    response = post_interaction(client, payload)
    assert response.status_code == 200, response.content
    return response


def dms_to(fake_slack, user: str) -> list[str]:
    return [call.params["text"] for call in fake_slack.calls("chat.postMessage")
            if call.params.get("channel") == user]


def channel_updates(fake_slack) -> list:
    """chat.update calls to channels (a request's message), not to DMs (its receipt, rewritten after a
    decision or a change)."""
    return [call for call in fake_slack.calls("chat.update") if not str(call.params.get("channel")).startswith("D")]


def ephemerals_to(fake_slack, user: str) -> list[str]:
    return [call.params["text"] for call in fake_slack.calls("chat.postEphemeral") if call.params.get("user") == user]


__all__ = ["ALICE", "BOB", "DAVE", "HR"]


def without_the_whole_ledger(monkeypatch) -> None:
    """From here on, reading the whole ledger fails the test: what the request path and the background
    cost must not grow with the ledger (DESIGN §10), so with the slices warm they read the views."""
    from approvals import ledger_reader

    def whole_ledger(*args, **kwargs):
        raise AssertionError("read the whole ledger")

    monkeypatch.setattr(ledger_reader, "current_ledger", whole_ledger)
    monkeypatch.setattr(ledger_reader, "cached_ledger", whole_ledger)


def open_app_home(client, fake_slack, user: str, event_id: str) -> dict:
    """`user` opens the app's Home tab, as Slack sends it; returns the view the app last published for them."""
    post_event(client, event_envelope({"type": "app_home_opened", "user": user, "channel": "D_HOME", "tab": "home",
                                       "event_ts": "1766000000.000300"}, event_id=event_id))
    call = [c for c in fake_slack.calls("views.publish") if c.params["user_id"] == user][-1]
    view = call.params["view"]
    return json.loads(view) if isinstance(view, str) else view


def ledger_messages(fake_slack, channel: str = C_ENG_APPROVALS) -> list:
    """The messages of an approvals channel that carry metadata (the ledger's and notices')."""
    return [m for m in fake_slack.workspace.messages(channel) if m.metadata]


def request_status(fake_slack) -> dict:
    """The metadata payload of the one request in Engineering's approvals channel."""
    [message] = ledger_messages(fake_slack)
    return message.metadata["event_payload"]
