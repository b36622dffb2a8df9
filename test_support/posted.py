"""What the app posted, as the fake Slack recorded it: top-level posts in a channel, thread replies, and the
requester's receipt DM as it reads after its rewrites."""

from fake_slack.personas import ALICE, C_ENG_APPROVALS
from test_support.flows import buttons_in


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
