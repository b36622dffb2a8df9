"""Warnings about a setup that works but hides requests from people who should see them.

A private approvals channel is visible to its members only: an approver who is
not in it is mentioned in a request they cannot open, and never sees it. The
delivery succeeds, so nothing else would tell anyone. We log a warning (the
console's setup page will show it too) at most once per channel a day.
"""

import logging
from collections.abc import Iterable

from django.core.cache import cache
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from approvals.config_types import TeamConfig
from approvals.directory import fetch_channel_members

logger = logging.getLogger(__name__)

# Once a day per channel: a warning in every delivery's log would be noise, and
# conversations.info is Tier 3, shared with everything else the app does.
CHECK_EVERY_SECONDS = 24 * 60 * 60
# A check Slack could not answer is tried again soon, not tomorrow.
RETRY_AFTER_FAILURE_SECONDS = 10 * 60


def warn_if_approvers_cannot_see(client: WebClient, team: TeamConfig, approvers: Iterable[str]) -> frozenset[str]:
    """Log a warning when `team`'s approvals channel is private and some of `approvers` are not in it.

    Returns those approvers (empty when the channel is public, everyone is in
    it, it was already checked today, or Slack could not say). Never raises:
    it rides on a delivery that has already succeeded.
    """
    approvers = frozenset(approvers)
    channel = team.approvals_channel
    key = f"setup_warning:approvers_not_in_channel:{channel}"
    if not approvers or not cache.add(key, 1, CHECK_EVERY_SECONDS):
        return frozenset()
    try:
        if not client.conversations_info(channel=channel)["channel"].get("is_private"):
            return frozenset()  # anyone in the workspace can open a public channel
        missing = approvers - fetch_channel_members(client, channel)
    except Exception as exc:  # advisory: no failure here may undo or retry the delivery it follows
        error = exc.response.get("error") if isinstance(exc, SlackApiError) else type(exc).__name__
        logger.info("could not check who can see approvals channel=%s team=%s error=%s", channel, team.name, error)
        cache.set(key, 1, RETRY_AFTER_FAILURE_SECONDS)
        return frozenset()
    if missing:
        logger.warning(
            "approvals channel=%s of team=%s is private and approvers who are not in it cannot see its requests: "
            "invite them to the channel, or make them approvers through it (approvers channel) missing=%s",
            channel, team.name, ",".join(sorted(missing)),
        )
    return missing
