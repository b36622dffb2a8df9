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
from approvals.block_kit import escape, mention
from approvals.change_services import approvers_of
from approvals.config_store import current_config
from approvals.models import DeliveryProblem
from approvals.notifications import forget_once, once, send_dm
from approvals.rules import PENDING
from approvals.selectors import slack_lookups
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
        forget_once(*(key(user, hr) for hr in current_config().fallback_approvers
                      for key in (departed_dm_key, departed_approver_dm_key)))


def departed_dm_key(user: str, hr: str) -> str:
    """Once per deactivation: the event delivered again, or its task retried, sends HR no second DM. Its
    form is shared with the release before (README "Upgrades", rule C)."""
    return f"departed-dm:{user}:{hr}"


def departed_approver_dm_key(user: str, hr: str) -> str:
    return f"departed-approver-dm:{user}:{hr}"


def departed_user_flag(client: WebClient, user: str) -> None:
    """A deactivated account's pending requests: one row each for HR, and one DM to the fallback approvers;
    and the requests they were the only approver of, which now wait on HR: one DM to say so."""
    config = current_config()
    ledger = ledger_reader.current_ledger(client, config)
    tell_hr_of_orphans(client, config, user, requests_left_to_hr(client, config, ledger, user))
    pending = [e for e in ledger.for_user(user) if e.status == PENDING]
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
    dm_hr(client, config, user, text, departed_dm_key)


def dm_hr(client: WebClient, config, user: str, text: str, key) -> None:
    """`text` to each fallback approver, once per deactivation of `user` (`key(user, hr)`)."""
    for hr in config.fallback_approvers:
        try:
            once(key(user, hr), lambda hr=hr: send_dm(client, hr, text))
        except SlackApiError as exc:
            if transient(exc):
                raise  # the task tries again; the DMs already sent are not sent twice (once)
            # One HR person Slack will not DM (gone, a bot id in the list) must not keep it from the others;
            # the requests are on every fallback approver's App Home, and a departed requester's on the
            # Setup page's delivery problems.
            logger.warning("could not tell hr=%s of deactivated user=%s error=%s", hr, user,
                           exc.response.get("error"))


def requests_left_to_hr(client: WebClient, config, ledger, user: str) -> list:
    """Pending requests of teams `user` approved for (by name, or in its approvers channel as far as Slack
    still lists them) that nobody but the fallback approvers can decide now that `user` is gone."""
    members = slack_lookups(client)[0]
    teams = {team.name for team in config.teams
             if user in team.approvers.users or (team.approvers.channel and user in (
                 _listed_members(members, team.approvers.channel)))}
    if not teams:
        return []
    fallback = frozenset(config.fallback_approvers)
    left = []
    for entry in ledger.entries.values():
        team = config.team_recorded_as(entry.team) if entry.status == PENDING and entry.user != user else None
        if team is not None and team.name in teams and approvers_of(client, config, entry) <= fallback:
            left.append(entry)
    return sorted(left, key=lambda e: (e.start, e.user, e.id))


def _listed_members(members, channel: str) -> frozenset[str]:
    """The approvers channel's members; none when Slack refuses for good (gone, not shared with the bot). A
    passing fault is raised: the task tries again rather than miss a team."""
    try:
        return members(channel) or frozenset()
    except SlackApiError as exc:
        if transient(exc):
            raise
        return frozenset()


def tell_hr_of_orphans(client: WebClient, config, user: str, left: list) -> None:
    if not left:
        return
    teams = sorted({config.team_recorded_as(entry.team).name for entry in left})
    logger.warning("deactivated approver=%s leaves %s pending request(s) to HR", user, len(left))
    text = (f"{mention(user)}'s Slack account was deactivated. They were the only approver left for "
            f"{len(left)} pending time-off request(s) of {escape(', '.join(teams))}, which now wait on you: decide "
            "them from your App Home, and give the team another approver on the console's team page.")
    dm_hr(client, config, user, text, departed_approver_dm_key)
