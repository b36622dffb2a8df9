"""The /timeoff request form as a person fills it in on the fake Slack, one block_actions at a time.

`open_form` sends `/timeoff` as Slack does and returns the `Form` Slack opened; each change of the leave
type, a date or a half-day box is sent as the block_actions Slack sends for an input in a modal (a `view`
container, the view as Slack holds it with its `hash` and `state.values`).
"""

import time
from datetime import date

from approvals import block_ids as ids
from test_support.flows import ALICE
from test_support.slack_requests import (
    APP_ID,
    SLACK_TEAM,
    new_trigger_id,
    post_command,
    post_interaction,
    slack_user,
    view_submission_payload,
)


def empty_state(block: dict) -> dict:
    """An input's state as Slack sends it before anything is chosen (or its initial value)."""
    element = block["element"]
    kind = element["type"]
    if kind == "static_select":
        return {"type": kind, "selected_option": element.get("initial_option")}
    if kind == "datepicker":
        return {"type": kind, "selected_date": element.get("initial_date")}
    if kind == "checkboxes":
        return {"type": kind, "selected_options": element.get("initial_options", [])}
    return {"type": kind, "value": element.get("initial_value")}


class Form:
    """An open request modal on the fake Slack and what the person has entered in it.

    Slack keeps what a person entered in an input across a views.update that keeps its block_id and
    action_id; an input the update removes is gone from the state."""

    def __init__(self, client, fake_slack, user: str, view_id: str):
        self.client, self.fake_slack, self.user, self.view_id = client, fake_slack, user, view_id
        self.entered: dict = {}  # block_id -> the element's state, as the person left it
        self._ts = time.time()

    @property
    def shown(self) -> dict:
        """The view as Slack shows it now."""
        return self.fake_slack.workspace.view(self.view_id)

    def state(self) -> dict:
        values = {}
        for block in self.shown["blocks"]:
            if block.get("type") != "input":
                continue
            action_id = block["element"]["action_id"]
            values[block["block_id"]] = {action_id: self.entered.get(block["block_id"], empty_state(block))}
        return values

    def _next_ts(self) -> str:
        self._ts += 0.5
        return f"{self._ts:.6f}"

    def _enter(self, block_id: str, element_state: dict) -> dict:
        self.entered[block_id] = element_state
        return element_state

    def pick_type(self, code: str, *, send=True, view_hash=None):
        label = next(o["text"] for o in self._type_options() if o["value"] == code)
        option = {"text": label, "value": code}
        self._enter(ids.TYPE_BLOCK, {"type": "static_select", "selected_option": option})
        action = {"type": "static_select", "action_id": ids.TYPE_ACTION, "block_id": ids.TYPE_BLOCK,
                  "selected_option": option, "placeholder": {"type": "plain_text", "text": "Choose a leave type",
                                                             "emoji": True}}
        return self._act(action, send=send, view_hash=view_hash)

    def pick_start(self, day: date, **kwargs):
        self._enter(ids.START_BLOCK, {"type": "datepicker", "selected_date": day.isoformat()})
        return self._act({"type": "datepicker", "action_id": ids.START_ACTION, "block_id": ids.START_BLOCK,
                          "selected_date": day.isoformat()}, **kwargs)

    def pick_end(self, day: date, **kwargs):
        self._enter(ids.END_BLOCK, {"type": "datepicker", "selected_date": day.isoformat()})
        return self._act({"type": "datepicker", "action_id": ids.END_ACTION, "block_id": ids.END_BLOCK,
                          "selected_date": day.isoformat()}, **kwargs)

    def pick_dates(self, start: date, end: date) -> None:
        """The first day, then the last, each sent as its own change."""
        self.pick_start(start)
        self.pick_end(end)

    def tick_halves(self, *values, **kwargs):
        labels = {ids.HALF_START_PM: "First day: afternoon only", ids.HALF_END_AM: "Last day: morning only"}
        options = [{"text": {"type": "plain_text", "text": labels[v], "emoji": True}, "value": v} for v in values]
        self._enter(ids.HALF_BLOCK, {"type": "checkboxes", "selected_options": options})
        return self._act({"type": "checkboxes", "action_id": ids.HALF_ACTION, "block_id": ids.HALF_BLOCK,
                          "selected_options": options}, **kwargs)

    def type_note(self, text: str) -> None:
        """A note has no dispatch_action: typing it sends nothing until the form is sent."""
        self._enter(ids.NOTE_BLOCK, {"type": "plain_text_input", "value": text})

    def _type_options(self) -> list:
        [block] = [b for b in self.shown["blocks"] if b.get("block_id") == ids.TYPE_BLOCK]
        element = block["element"]
        return element.get("options") or [o for g in element["option_groups"] for o in g["options"]]

    def _act(self, action: dict, *, send=True, view_hash=None):
        """The block_actions Slack sends for this change (built now, with the view as it is now)."""
        view = self.shown
        view["state"] = {"values": self.state()}
        if view_hash is not None:
            view["hash"] = view_hash
        payload = {
            "type": "block_actions",
            "user": slack_user(self.user),
            "api_app_id": APP_ID,
            "token": "verification-token-unused",
            "container": {"type": "view", "view_id": self.view_id},
            "trigger_id": new_trigger_id(),
            "team": {"id": SLACK_TEAM, "domain": "acme"},
            "enterprise": None,
            "is_enterprise_install": False,
            "view": view,
            "actions": [{**action, "action_ts": self._next_ts()}],
        }
        return self.send(payload) if send else payload

    def send(self, payload: dict):
        response = post_interaction(self.client, payload)
        assert response.status_code == 200, response.content
        assert response.content == b"", response.content
        return response

    def submit(self):
        view = self.shown
        payload = view_submission_payload(user_id=self.user, view=view, values=self.state(), view_id=self.view_id,
                                          view_hash=view["hash"])
        response = post_interaction(self.client, payload)
        assert response.status_code == 200, response.content
        return response

    def preview(self) -> str:
        [block] = [b for b in self.shown["blocks"] if b.get("block_id") == ids.PREVIEW_BLOCK]
        return block["elements"][0]["text"]

    def input_blocks(self) -> list:
        return [b["block_id"] for b in self.shown["blocks"] if b.get("type") == "input"]


def open_form(client, fake_slack, user: str = ALICE, text: str = "", *, warm: bool = True) -> Form:
    """`/timeoff [text]` as Slack sends it; the form Slack opened. `warm`: the person used the app before
    (their team and time zone are known), as on any day but their first."""
    if warm:
        post_command(client, "", user_id=user)
    response = post_command(client, text, user_id=user)
    assert response.status_code == 200 and response.content == b"", response.content
    opened = fake_slack.last_call("views.open").response["view"]
    return Form(client, fake_slack, user, opened["id"])
