"""People change: someone deactivated, someone who joins or leaves a team's channel or user group.

Slack tells us with events; the edge forgets what the cache knew (so a person
who joins a team's channel can request at once) and, for a deactivated account,
a task flags their pending requests to HR. Their history stays in the ledger,
indexed by user, whatever team they are in now.
"""

import logging
import uuid

from django.core.cache import cache
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from approvals import directory, ledger_reader, messages, slack_directory, tasks
from approvals.block_kit import escape, mention, mentions
from approvals.change_services import approvers_of
from approvals.config_store import current_config
from approvals.models import DeliveryProblem
from approvals.notifications import ONCE_MARK_SECONDS, forget_once, once, receipt_update, send_dm_once
from approvals.rules import PENDING, LedgerEntry
from approvals.selectors import slack_lookups
from approvals.task_backend import enqueued_once
from approvals.task_queue import transient

logger = logging.getLogger(__name__)


def memberships_changed(*sources: str) -> None:
    directory.forget_memberships(*(source for source in sources if source))


def user_changed(user: str, *, deleted: bool, event_id: str = "") -> None:
    """`event_id`: the `user_change` event's, so that Slack's retry after the shared cache lost its
    de-duplication mark (a Redis restart) queues no second look at the leaving (`enqueued_once`)."""
    directory.forget_user(user)
    if deleted and event_id:
        with enqueued_once(f"departed:{event_id}"):
            tasks.flag_departed_user.enqueue(user)
    elif deleted:
        tasks.flag_departed_user.enqueue(user)
    else:
        # Active (again): should they be deactivated once more, HR hears of it again. While deactivated,
        # Slack sends their profile with `deleted` set, so this runs only for an active account.
        forget_once(*(key(user, hr) for hr in current_config().fallback_approvers
                      for key in (departed_dm_key, departed_approver_dm_key)))
        cache.delete(_leaving_key(user))  # and the requesters who were told then are told again


def _leaving_key(user: str) -> str:
    return f"leaving:{user}"


def leaving_mark(user: str) -> str:
    """Names the current leaving of `user` (a new one after they come back and go again), for the once-keys of
    what it tells each requester."""
    return cache.get_or_set(_leaving_key(user), uuid.uuid4().hex[:12], ONCE_MARK_SECONDS)


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
    # Their profile as Slack has it now (the event made the cache forget it): deactivated, for every reader
    # that asks the cache alone (the Setup page's teams nobody can approve for); and the console's names.
    directory.fetch_user(client, user)
    slack_directory.directory_person_left(user)
    ledger = ledger_reader.current_ledger(client, config)
    hand_over_to_hr(client, config, user, requests_left_to_hr(client, config, ledger, user),
                    why=f"{mention(user)}'s Slack account was deactivated", key=departed_approver_dm_key)
    pending = [e for e in ledger.for_user(user) if e.status == PENDING]
    if not pending:
        return
    for entry in pending:
        once(f"departed:{entry.id}", lambda entry=entry: DeliveryProblem.record(
            request_id=entry.id, user=user, team=entry.team, channel=entry.channel or "",
            error="user_deactivated", summary="The requester's Slack account was deactivated while this request "
                                              "was pending: decide or withdraw it."))
    logger.warning("deactivated user=%s has %s pending request(s); HR told", user, len(pending))
    text = (f"{mention(user)}'s Slack account was deactivated with {len(pending)} pending time-off request(s). "
            "Decide or withdraw them (`/timeoff for @person list`).")
    dm_hr(client, config, user, text, departed_dm_key)


def approver_left_channel(user: str, channel: str, leaving: str) -> None:
    """`user` left `channel` (member_left_channel; `leaving` names the event): when it is a team's approvers
    channel, the requests they were the last approver of are HR's now, as for a deactivated approver."""
    if _approved_through(current_config(), channel, user):
        tasks.flag_approver_left.enqueue(user, channel, leaving)


def approver_left_flag(client: WebClient, user: str, channel: str, leaving: str) -> None:
    config = current_config()
    teams = _approved_through(config, channel, user)
    if not teams:
        return
    ledger = ledger_reader.current_ledger(client, config)
    # Once per leaving (its event): the event again, or the task retried, tells nobody twice, while leaving
    # again after coming back is told again.
    hand_over_to_hr(client, config, user, requests_left_to_hr(client, config, ledger, user, teams=teams),
                    why=f"{mention(user)} left <#{channel}>, the approvers channel of {_teams_named(teams)}",
                    key=lambda user, hr: f"left-approvers-dm:{user}:{channel}:{leaving}:{hr}")


def _teams_named(teams: set[str]) -> str:
    return ", ".join(messages.first_of([escape(name) for name in sorted(teams)], most=messages.SHARED_NAMED_MAX,
                                       more="and {count} more teams (the console's Teams page lists them)"))


def _approved_through(config, channel: str, user: str) -> set[str]:
    """The teams `user` approved for only as a member of their approvers channel `channel`."""
    return {t.name for t in config.teams if t.approvers.channel == channel and user not in t.approvers.users}


def dm_hr(client: WebClient, config, user: str, text: str, key) -> None:
    """`text` to each fallback approver, once per deactivation of `user` (`key(user, hr)`)."""
    dm_each(client, user, {hr: text for hr in directory.able_hr(client, config)}, key)


def dm_each(client: WebClient, user: str, texts: dict[str, str], key) -> None:
    """Each fallback approver's text about `user`, once (`key(user, hr)`)."""
    for hr, text in texts.items():
        try:
            once(key(user, hr), lambda hr=hr, text=text: send_dm_once(client, key(user, hr), hr, text))
        except SlackApiError as exc:
            if transient(exc):
                raise  # the task tries again; the DMs already sent are not sent twice (once)
            # One HR person Slack will not DM (gone, a bot id in the list) must not keep it from the others;
            # the requests are on every fallback approver's App Home, and a departed requester's on the
            # Setup page's delivery problems.
            logger.warning("could not tell hr=%s of deactivated user=%s error=%s", hr, user,
                           exc.response.get("error"))


def requests_left_to_hr(client: WebClient, config, ledger, user: str,
                        teams: set[str] | None = None) -> list[tuple[LedgerEntry, frozenset[str]]]:
    """Pending requests of teams `user` approved for (by name, or in its approvers channel as far as Slack
    still lists them; or of `teams`) that nobody but the fallback approvers can decide now that `user` is
    gone, each with who may decide it now (none: nobody, as when it is the only fallback approver's own)."""
    if teams is None:
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
        if team is not None and team.name in teams:
            deciders = frozenset(approvers_of(client, config, entry))
            if deciders <= fallback:
                left.append((entry, deciders))
    return sorted(left, key=lambda item: (item[0].start, item[0].user, item[0].id))


def _listed_members(members, channel: str) -> frozenset[str]:
    """The approvers channel's members; none when Slack refuses for good (gone, not shared with the bot). A
    passing fault is raised: the task tries again rather than miss a team."""
    try:
        return members(channel) or frozenset()
    except SlackApiError as exc:
        if transient(exc):
            raise
        return frozenset()


def hand_over_to_hr(client: WebClient, config, user: str, left: list[tuple[LedgerEntry, frozenset[str]]], *,
                    why: str, key) -> None:
    """Requests `user` was the last approver of (`requests_left_to_hr`): each receipt names who decides now,
    and each fallback approver is told, once (`key(user, hr)`), of those they may decide (never their own)
    and of those nobody may."""
    if not left:
        return
    leaving = f"{key(user, '')}:{leaving_mark(user)}"
    for entry, deciders in left:
        if deciders:  # "is with @Hannah", no longer "is with" someone gone
            once(f"receipt-handed:{entry.id}:{leaving}",
                 lambda entry=entry, deciders=deciders: receipt_update(client, entry, config.leave_type(entry.leave_type),
                                                                       deciders))
    stuck = [entry for entry, deciders in left if not deciders]
    hr_people = directory.able_hr(client, config)
    for entry in stuck:
        # Nobody may decide it, not even HR: its requester hears so, rather than waiting on someone gone
        # (HR's own request is told to them below; a fallback approver who cannot decide hears it here).
        if entry.user not in hr_people and not directory.is_deactivated(client, entry.user):
            text = messages.nobody_decides_now_text(entry, config.leave_type(entry.leave_type), config, why=why,
                                                    unable=directory.unable_to_approve(client)(config.fallback_approvers))
            try:
                stuck_key = f"stuck-dm:{entry.id}:{leaving}"
                once(stuck_key, lambda entry=entry, text=text, stuck_key=stuck_key: send_dm_once(
                    client, stuck_key, entry.user, text))
            except SlackApiError as exc:
                if transient(exc):
                    raise
                logger.warning("could not tell user=%s nobody decides id=%s error=%s", entry.user, entry.id,
                               exc.response.get("error"))
    logger.warning("approver=%s gone (%s): %s pending request(s) left to HR", user, why, len(left))
    texts = {}
    for hr in hr_people:
        theirs = [entry for entry, deciders in left if hr in deciders]
        parts = []
        if theirs:
            teams = sorted({config.team_recorded_as(entry.team).name for entry in theirs})
            parts.append(f"They were the only approver left for {len(theirs)} pending time-off request(s) of "
                         f"{escape(', '.join(teams))}, which now wait on you: decide them from your App Home")
        if stuck:
            parts.append(f"Nobody may decide {len(stuck)} pending request(s) now, of "
                         f"{mentions({entry.user for entry in stuck})} (nobody decides their own)")
        if parts:
            texts[hr] = (f"{why}. " + ". ".join(parts)
                         + ", and give the team another approver on the console's team page.")
    dm_each(client, user, texts, key)
