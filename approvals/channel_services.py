"""Slack tells the app that it lost a channel the configuration uses: the bot removed from it, or the
channel archived or deleted (Events API: channel_left / group_left, channel_archive / group_archive,
channel_deleted / group_deleted). HR hears it at once, by DM, instead of from the first request that
fails there, and the console's Setup page checks the channels again."""

import logging

from django.core.cache import cache
from slack_sdk import WebClient

from approvals import directory, messages, tasks
from approvals.config_store import current_config
from approvals.console_tasks import LEDGER_ERROR_KEY, warm_soon
from approvals.people_services import dm_each, memberships_changed
from approvals.setup_checks import ANNOUNCE, APPROVALS, BOT_MUST_BE_IN, channel_uses, setup_check_soon
from approvals.task_backend import enqueued_once

logger = logging.getLogger(__name__)

REMOVED, ARCHIVED, DELETED = "removed", "archived", "deleted"


def channel_lost(channel: str, how: str, *, private: bool, event_id: str) -> None:
    """The app lost `channel` (`how`: REMOVED, ARCHIVED or DELETED; `private`: a private channel's event).
    HR is told when something the app does there now fails (`_still_works`)."""
    memberships_changed(channel)
    uses = channel_uses(current_config()).get(channel)
    if not uses:
        return
    setup_check_soon(force=True)
    if _still_works(how, private, {_use(use) for use in uses}):
        return
    # Once per event even when Slack's retry comes after the shared cache lost its de-duplication mark (a
    # Redis restart): the task's row, kept a day after it ran, is the record (where the backend can).
    with enqueued_once(f"channel-lost:{event_id}"):
        tasks.tell_hr_channel_lost.enqueue(channel, how, event_id)


def _still_works(how: str, private: bool, uses: set[str]) -> bool:
    """Does everything the app does with the channel still work? Removed from a public channel, it still
    reads its members; archived, a channel's history and members can still be read, only posting fails."""
    if how == REMOVED:
        return not private and not uses & BOT_MUST_BE_IN
    if how == ARCHIVED:
        return not uses & {APPROVALS, ANNOUNCE}
    return False


def channel_back(channel: str) -> None:
    """A channel unarchived, or the bot invited back: the Setup page checks again (it showed the loss)."""
    memberships_changed(channel)
    if channel in channel_uses(current_config()):
        setup_check_soon(force=True)
        if cache.get(LEDGER_ERROR_KEY):
            warm_soon(force=True)  # the ledger the console could not read: read again


def channel_lost_tell(client: WebClient, channel: str, how: str, event_id: str) -> None:
    """Each fallback approver (HR) is told, once per event, what the channel was used for and what to do."""
    config = current_config()
    uses = channel_uses(config).get(channel)
    if not uses:
        return  # HR chose another channel meanwhile
    hr_people = directory.able_hr(client, config)
    if not hr_people:
        logger.warning("channel=%s %s; no fallback approvers to tell (the Setup page shows it)", channel, how)
        return
    text = messages.channel_lost_text(channel, how, uses)
    dm_each(client, channel, {hr: text for hr in hr_people},
            key=lambda channel, hr: f"channel-lost-dm:{channel}:{event_id}:{hr}")


def _use(use: str) -> str:
    """"Engineering: approvals channel" -> "approvals channel" (setup_checks.channel_uses)."""
    return use.rsplit(": ", 1)[-1]
