"""What the app posted, as the fake Slack recorded it: top-level posts in a channel, thread replies, the
requester's receipt DM as it reads after its rewrites, and the one request message with its Approve button."""

from approvals import block_ids as ids
from fake_slack.personas import ALICE, BOB, C_ENG_APPROVALS
from test_support.flows import buttons_in
from test_support.slack_requests import block_actions_payload, post_interaction


def posts_to(fake_slack, channel) -> list[str]:
    """Top-level posts the app made in `channel` (announcements and their corrections)."""
    return [c.params["text"] for c in fake_slack.calls("chat.postMessage")
            if c.params.get("channel") == channel and not c.params.get("thread_ts") and c.response.get("ok")]


def thread_replies(fake_slack, channel=C_ENG_APPROVALS) -> list[str]:
    return [c.params["text"] for c in fake_slack.calls("chat.postMessage")
            if c.params.get("channel") == channel and c.params.get("thread_ts") and c.response.get("ok")]


def receipt_call(fake_slack, user=ALICE):
    """The receipt DM's post: the first DM to `user` with buttons."""
    return [c for c in fake_slack.calls("chat.postMessage")
            if c.params.get("channel") == user and buttons_in(c.params.get("blocks"))][0]


def receipt_now(fake_slack, user=ALICE) -> tuple[str, list]:
    """The receipt DM as it reads now (after the rewrites a decision or a change made of it)."""
    posted = receipt_call(fake_slack, user)
    updates = [c for c in fake_slack.calls("chat.update")
               if c.params["channel"] == posted.response["channel"] and c.params["ts"] == posted.response["ts"]]
    params = updates[-1].params if updates else posted.params
    return params["text"], params.get("blocks") or []


def the_request(fake_slack):
    """The one request message in Engineering's approvals channel, as it stands now."""
    [message] = [m for m in fake_slack.workspace.messages(C_ENG_APPROVALS)
                 if m.metadata and m.metadata.get("event_type") == "timeoff_request"]
    return message


def press_approve(client, fake_slack, user=BOB):
    """`user` presses Approve on the request message as it stands now, as Slack sends the click."""
    message = the_request(fake_slack)
    block_id, value = buttons_in(message.blocks)[ids.APPROVE_ACTION]
    response = post_interaction(client, block_actions_payload(user_id=user, action_id=ids.APPROVE_ACTION,
                                                              value=value, block_id=block_id,
                                                              channel_id=C_ENG_APPROVALS, message_ts=message.ts))
    assert response.status_code == 200, response.content
    return response
