"""Steps a person takes in Slack, as Slack sends them to the app: a press on a button of Alice's receipt or
of an ephemeral `/timeoff` list in #general, the list itself, and a profile change (`user_change`)."""

from fake_slack.personas import ALICE, C_GENERAL
from test_support.flows import buttons_in
from test_support.simulated_time import work_through_the_queue
from test_support.slack_requests import (
    block_actions_payload,
    event_envelope,
    post_command,
    post_event,
    post_interaction,
)


def receipt_press(fake_slack, receipt_at: tuple[str, str], action_id: str, user: str = ALICE) -> dict:
    """A press of a button on Alice's receipt as her Slack shows it now (a payload, to post)."""
    message = fake_slack.workspace.message(*receipt_at)
    block_id, value = buttons_in(message.blocks)[action_id]
    return block_actions_payload(user_id=user, action_id=action_id, value=value, block_id=block_id,
                                 channel_id=receipt_at[0], message_ts=receipt_at[1])


def send(client, payload: dict):
    response = post_interaction(client, payload)
    assert response.status_code == 200, response.content
    return response


def listed(client, fake_slack, clock, words: str, user: str) -> list:
    """`/timeoff <words>` typed in #general: the blocks of the list it answers (at once, or by DM)."""
    response = post_command(client, words, user_id=user, channel_id=C_GENERAL)
    assert response.status_code == 200, response.content
    answer = response.json()
    if answer.get("blocks") and buttons_in(answer["blocks"]):
        return answer["blocks"]
    work_through_the_queue(clock)
    [dm] = [m for m in fake_slack.workspace.messages(user) if buttons_in(m.blocks)][-1:]
    return dm.blocks


def list_press(blocks, action_id: str, user: str, pressed_at: str | None = None) -> dict:
    """A press on the ephemeral list in #general, as Slack sends it (no message: Slack keeps none);
    `pressed_at`: its `action_ts` (a press made later than the list's others)."""
    block_id, value = buttons_in(blocks)[action_id]
    payload = block_actions_payload(user_id=user, action_id=action_id, value=value, block_id=block_id,
                                    channel_id=C_GENERAL, message_ts="1766000000.000200")
    payload["container"]["is_ephemeral"] = True
    payload.pop("message")
    if pressed_at is not None:
        payload["actions"][0]["action_ts"] = pressed_at
    return payload


def ephemerals(fake_slack, user: str, channel: str = C_GENERAL) -> list[str]:
    """The ephemeral notes `user` was shown in `channel`."""
    return [c.params["text"] for c in fake_slack.calls("chat.postEphemeral")
            if c.params.get("user") == user and c.params.get("channel") == channel and c.response.get("ok")]


def send_user_change(client, fake_slack, user: str, *, deleted: bool, event_id: str):
    """Slack's `user_change`, with the whole profile, as it sends it."""
    with fake_slack.workspace.lock:
        fake_slack.workspace.users[user].deleted = deleted
        profile = fake_slack.workspace.users[user].to_api()
    response = post_event(client, event_envelope({"type": "user_change", "user": profile,
                                                  "event_ts": "1766000000.000400"}, event_id=event_id))
    assert response.status_code == 200, response.content
