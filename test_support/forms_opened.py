"""Every way a person opens one of the app's forms, as Slack sends it, and where they are told when it did not
open. Each of these must call Slack (`views.open`, or `views.update` for the form's live preview) while Slack
waits for the answer, with the request's trigger_id: the one place a slow or failing Slack meets a request.

WAYS_IN: name -> WayIn. `prepare` sets the scene (a request to reject or edit, an App Home to press, a form
open), `send` is the signed request, `told` what the person was told of a form that did not open (None for
the preview, which says nothing: the next change of the form redraws it).
"""

from dataclasses import dataclass
from typing import Callable

from approvals import block_ids as ids
from fake_slack.personas import C_ENG_APPROVALS
from test_support.flows import (
    ALICE,
    BOB,
    HR,
    MONDAY,
    WEDNESDAY,
    dms_to,
    ephemerals_to,
    open_request_form,
    request_time_off,
    request_values,
)
from test_support.slack_requests import (
    block_actions_payload,
    event_envelope,
    post_command,
    post_event,
    post_interaction,
    shortcut_payload,
    view_block_actions_payload,
)


def buttons(blocks) -> dict:
    """action_id -> (block_id, value) of the buttons in these blocks."""
    return {element["action_id"]: (block["block_id"], element.get("value", ""))
            for block in blocks if block.get("type") == "actions" for element in block["elements"]}


def press(client, user, message, action_id):
    """Press a button on a message the fake Slack holds, as Slack sends the click."""
    block_id, value = buttons(message.blocks)[action_id]
    return post_interaction(client, block_actions_payload(user_id=user, action_id=action_id, value=value,
                                                          block_id=block_id, channel_id=message.channel,
                                                          message_ts=message.ts))


def the_request(fake_slack):
    [message] = [m for m in fake_slack.workspace.messages(C_ENG_APPROVALS) if m.metadata]
    return message


def _nothing(client, fake_slack):
    pass


def _a_request(client, fake_slack):
    request_time_off(client, fake_slack, ALICE)


def _app_home(client, fake_slack):
    post_event(client, event_envelope({"type": "app_home_opened", "user": ALICE, "tab": "home"}, event_id="EvFormsIn"))


def _the_form(client, fake_slack):
    open_request_form(client, fake_slack, ALICE)


def _change_a_date(client, fake_slack):
    [opened] = [view for view in fake_slack.workspace.views.values() if view["callback_id"] == ids.REQUEST_MODAL]
    payload = block_actions_payload(user_id=ALICE, action_id=ids.END_ACTION, value="", block_id=ids.END_BLOCK)
    payload["container"] = {"type": "view", "view_id": opened["id"]}
    payload["view"] = {**opened, "state": {"values": request_values("vacation", MONDAY, WEDNESDAY)}}
    payload["actions"][0].update({"type": "datepicker", "selected_date": WEDNESDAY.isoformat()})
    return post_interaction(client, payload)


def _press_on_app_home(client, fake_slack):
    home = fake_slack.workspace.home_view(ALICE)
    block_id, value = buttons(home["blocks"])[ids.NEW_REQUEST_ACTION]
    return post_interaction(client, view_block_actions_payload(user_id=ALICE, action_id=ids.NEW_REQUEST_ACTION,
                                                               value=value, block_id=block_id, view=home))


def _edit_on_the_receipt(client, fake_slack):
    [receipt] = [m for m in fake_slack.workspace.messages(ALICE) if "is with" in m.text]
    return press(client, ALICE, receipt, ids.EDIT_ACTION)


def _answered(fake_slack, response) -> list[str]:
    """The slash command's own answer."""
    return [response.json()["text"]] if response.content else []


def _alice_told(fake_slack, response) -> list[str]:
    return dms_to(fake_slack, ALICE) + ephemerals_to(fake_slack, ALICE)


def _bob_told(fake_slack, response) -> list[str]:
    return ephemerals_to(fake_slack, BOB) + dms_to(fake_slack, BOB)


@dataclass(frozen=True)
class WayIn:
    send: Callable
    method: str  # the Slack method it calls while Slack waits
    prepare: Callable = _nothing
    told: Callable | None = _alice_told


WAYS_IN = {
    "/timeoff": WayIn(lambda client, fake_slack: post_command(client, "", user_id=ALICE), "views.open",
                      told=_answered),
    "/timeoff with dates": WayIn(lambda client, fake_slack: post_command(
        client, f"{MONDAY.isoformat()} {WEDNESDAY.isoformat()} vacation", user_id=ALICE), "views.open", told=_answered),
    "/timeoff for someone": WayIn(lambda client, fake_slack: post_command(
        client, f"for <@{ALICE}|alice> {MONDAY.isoformat()}", user_id=HR), "views.open", told=_answered),
    "shortcut": WayIn(lambda client, fake_slack: post_interaction(
        client, shortcut_payload(user_id=ALICE, callback_id=ids.REQUEST_SHORTCUT)), "views.open"),
    "Reject": WayIn(lambda client, fake_slack: press(client, BOB, the_request(fake_slack), ids.REJECT_ACTION),
                    "views.open", prepare=_a_request, told=_bob_told),
    "Edit on the receipt": WayIn(_edit_on_the_receipt, "views.open", prepare=_a_request),
    "Request on App Home": WayIn(_press_on_app_home, "views.open", prepare=_app_home),
    "a date in the form": WayIn(_change_a_date, "views.update", prepare=_the_form, told=None),
}
