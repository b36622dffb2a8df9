"""People change: someone deactivated, someone who joins or leaves a team's channel or user group.

Slack tells us with events; the edge forgets what the cache knew (so a person
who joins a team's channel can request at once) and, for a deactivated account,
a task flags their pending requests to HR. Their history stays in the ledger,
indexed by user, whatever team they are in now.
"""

import logging

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from approvals import directory, ledger_reader, tasks
from approvals.block_kit import mention
from approvals.config_store import current_config
from approvals.models import DeliveryProblem
from approvals.notifications import forget_once, once, send_dm
from approvals.rules import PENDING
from approvals.task_queue import transient

logger = logging.getLogger(__name__)


def memberships_changed(*sources: str) -> None:
    directory.forget_memberships(*(source for source in sources if source))


def user_changed(user: str, *, deleted: bool) -> None:
    directory.forget_user(user)
    if deleted:
        tasks.flag_departed_user.enqueue(user)
    else:
        # Active (again): should they be deactivated once more, HR hears of it again. While deactivated,
        # Slack sends their profile with `deleted` set, so this runs only for an active account.
        forget_once(*(departed_dm_key(user, hr) for hr in current_config().fallback_approvers))


def departed_dm_key(user: str, hr: str) -> str:
    """Once per deactivation: the event delivered again, or its task retried, sends HR no second DM. Its
    form is shared with the release before (README "Upgrades", rule C)."""
    return f"departed-dm:{user}:{hr}"


def departed_user_flag(client: WebClient, user: str) -> None:
    """A deactivated account's pending requests: one row each for HR, and one DM to the fallback approvers."""
    config = current_config()
    pending = [e for e in ledger_reader.current_ledger(client, config).for_user(user) if e.status == PENDING]
    if not pending:
        return
    for entry in pending:
        once(f"departed:{entry.id}", lambda entry=entry: DeliveryProblem.objects.create(
            request_id=entry.id[:64], user=user[:32], team=entry.team[:100], channel=(entry.channel or "")[:32],
            error="user_deactivated", summary="The requester's Slack account was deactivated while this request "
                                              "was pending: decide or withdraw it."))
    logger.warning("deactivated user=%s has %s pending request(s); HR told", user, len(pending))
    text = (f"{mention(user)}'s Slack account was deactivated with {len(pending)} pending time-off request(s). "
            "Decide or withdraw them (`/timeoff for @person list`).")
    for hr in config.fallback_approvers:
        try:
            once(departed_dm_key(user, hr), lambda hr=hr: send_dm(client, hr, text))
        except SlackApiError as exc:
            if transient(exc):
                raise  # the task tries again; the DMs already sent are not sent twice (once)
            # One HR person Slack will not DM (gone, a bot id in the list) must not keep it from the others;
            # the rows above are there for all of them.
            logger.warning("could not tell hr=%s of deactivated user=%s error=%s", hr, user,
                           exc.response.get("error"))
