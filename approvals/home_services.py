"""App Home: published when someone opens it, republished when what it shows changes."""

import functools
import logging
from collections.abc import Iterable

from django.conf import settings
from django.core.cache import cache
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from approvals import directory, ledger_reader, messages
from approvals.cache_lock import claim
from approvals.config_store import current_config
from approvals.config_types import TeamConfig, WorkspaceConfig
from approvals.home_view import holidays_ahead_blocks, home_view
from approvals.ledger_reader import Ledger, SliceLedger
from approvals.rules import PENDING, LedgerEntry
from approvals.selectors import (
    balance_text,
    balance_years,
    local_today,
    my_leave,
    no_team_cause,
    slack_lookups,
    team_of_user,
)
from approvals.team_out_services import team_week_from
from approvals.team_routing import UnlistedSource, approvers_for, team_of_entry
from approvals.work_calendar import team_holidays

logger = logging.getLogger(__name__)

# Who has looked at their App Home lately: only they get it republished after a change.
HOME_SEEN_SECONDS = 30 * 24 * 60 * 60


# A publish reads everything it shows when its task starts. A change republishes the Home of everyone
# it concerns (a busy team's approvers, after each of many decisions): while a republish waits in the
# queue for a person, another would show the same, so it is not enqueued. The waiting one is marked
# when enqueued and unmarked when its task starts; the mark lapses by itself if the queue stalls this
# long. An open of the tab enqueues its publish directly: Slack's request waits for no extra claim.
HOME_QUEUED_SECONDS = 5 * 60


def _queued_key(user: str) -> str:
    return f"home:queued:{user}"


def home_opened(user: str) -> None:
    """Someone opened App Home: publish it, and remember that they look at it, both in the background
    (the mark is a cache write Slack's request need not wait for)."""
    from approvals import tasks

    tasks.publish_home.enqueue(user, True)


def home_republish(user: str) -> None:
    """Republish `user`'s App Home in the background, unless a republish of theirs is already waiting."""
    from approvals import tasks

    if not claim(_queued_key(user), HOME_QUEUED_SECONDS):
        return  # the one waiting will show what is true when it runs
    try:
        tasks.publish_home.enqueue(user)
    except Exception:
        cache.delete(_queued_key(user))  # nothing waits after all: the next open or change asks again
        raise


# Opening the tab again and again (or Slack sending app_home_opened for each of a burst of clicks) asks
# for a publish each time; one that starts within this many seconds of another of theirs would show the
# same, and each costs a views.publish of Slack's budget. A change's publish always runs.
HOME_OPEN_COALESCE_SECONDS = 5


def home_publish_started(user: str, *, opened: bool) -> bool:
    """A publish task starts: what changes from now on needs a publish of its own. False: it is an
    open's, and another publish of theirs started moments ago (skip it: it would show the same)."""
    cache.delete(_queued_key(user))
    if opened:
        return claim(_started_key(user), HOME_OPEN_COALESCE_SECONDS)
    cache.set(_started_key(user), 1, HOME_OPEN_COALESCE_SECONDS)
    return True


def home_publish_failed(user: str, *, retried_in: int | None = None) -> None:
    """A publish failed: its retry, and the next open, must not take themselves for repeats of it.
    `retried_in`: the seconds until its retry (a passing fault, a 429's Retry-After): until then it is
    the one waiting, so that changes meanwhile add no other publish (one that would meet the same 429)."""
    cache.delete(_started_key(user))
    if retried_in is not None:
        cache.set(_queued_key(user), 1, max(HOME_QUEUED_SECONDS, retried_in + HOME_QUEUED_SECONDS))


def home_publish_given_up(user: str) -> None:
    """A publish failed for good (its last attempt, or a refusal): no retry of it waits, so the next change
    or open asks for one again, rather than taking the failed one's mark for a publish still to come."""
    cache.delete(_queued_key(user))


def _started_key(user: str) -> str:
    return f"home:started:{user}"


def home_seen(user: str) -> None:
    cache.set(f"home:seen:{user}", 1, HOME_SEEN_SECONDS)


def home_unseen(user: str) -> None:
    """Slack refused their tab for good (no such user, say): changes stop republishing it until they
    open it again, rather than each meeting the same refusal."""
    cache.delete(f"home:seen:{user}")


def home_watchers(users) -> list[str]:
    keys = {f"home:seen:{user}": user for user in users if user}
    return [keys[key] for key in cache.get_many(list(keys))]


# Two publishes of one person's tab may run at once on two workers (an open, and a change's republish):
# the one that read the ledger first must not land last and put back what was true before. Each
# publish passes the hash of the tab it last knew (Slack refuses a publish over a tab changed since,
# `hash_conflict`), and one refused reads everything again. A hash the cache kept from a publish whose
# answer was lost would refuse every publish: one refused over the same hash forgets it, and the last
# attempt publishes without one (what it read is newer than the publishes that refused it).
HOME_PUBLISH_ATTEMPTS = 3


def _hash_key(user: str) -> str:
    return f"home:hash:{user}"


def _sequence_key(user: str) -> str:
    return f"home:sequence:{user}"


def _next_sequence(user: str) -> int:
    """This publish's number among the person's: a later one has a higher number."""
    cache.add(_sequence_key(user), 0, HOME_SEEN_SECONDS)
    try:
        return cache.incr(_sequence_key(user))
    except ValueError:  # lapsed between the two calls
        cache.set(_sequence_key(user), 1, HOME_SEEN_SECONDS)
        return 1


def home_publish(client: WebClient, user: str) -> None:
    for attempt in range(1, HOME_PUBLISH_ATTEMPTS + 1):
        # Read before the ledger: a publish landing between this read and ours read the ledger later.
        known = cache.get(_hash_key(user)) if attempt < HOME_PUBLISH_ATTEMPTS else None
        mine = _next_sequence(user)
        view = home_view_now(client, user)
        if not known and cache.get(_sequence_key(user)) != mine:
            # No hash to let Slack refuse us over a newer tab (a first open, a lost cache), and a later
            # publish began after us: it read the ledger later, so ours would only put back an older tab.
            logger.info("home for user=%s: a later publish overtook this one; skipped", user)
            return
        try:
            response = client.views_publish(user_id=user, view=view, **({"hash": known} if known else {}))
        except SlackApiError as exc:
            if exc.response.get("error") != "hash_conflict":
                raise
            logger.info("home for user=%s: changed while it was drawn; drawing it again", user)
            if cache.get(_hash_key(user)) == known:  # nobody stored a newer hash: ours is stale
                cache.delete(_hash_key(user))
            continue
        published = (response.get("view") or {}).get("hash")
        if isinstance(published, str) and published:
            cache.set(_hash_key(user), published, HOME_SEEN_SECONDS)
        return


def home_view_now(client: WebClient, user: str) -> dict:
    """The person's App Home as it is now: their leave, balances, what waits for their decision."""
    config = current_config()
    # Someone of another organisation (Slack Connect) is in no team, though a shared channel lists them.
    outsider = directory.is_outsider(directory.fetch_user(client, user, raise_passing=True))
    team = None if outsider else team_of_user(client, config, user)
    today = local_today(directory.fetch_timezone(client, user))
    note = None
    try:
        history, waiting = home_ledger(client, config, user)
    except ledger_reader.LedgerUnavailable as exc:
        logger.warning("home for user=%s: ledger unavailable: %s", user, exc)
        # As /timeoff balance says it (balance_services): whom to ask, and what to check.
        history, waiting, note = None, [], (
            f"I can't read the leave records right now: I {exc} — the leave records live there. Please ask "
            f"{messages.hr_contacts(config, leaving_out=directory.hr_unable(config))} to check that I am still a "
            "member of that channel.")
    leave = my_leave(history, user, today) if history is not None else None
    balances = (balance_text(config, history, user=user, team=team,
                             years=balance_years(history, user, today=today))
                if history is not None and team is not None else None)
    if (not_set_up := messages.not_set_up_text(config)) is not None:
        # As `/timeoff` says it (HR sees the console's button below); leave already asked for stays listed.
        balances, note = None, not_set_up
    elif outsider:
        note = f"Sorry, {messages.outsider_text()}."
    elif team is None:
        note = "\n".join(filter(None, [home_no_team_note(config, no_team_cause(config, user), user), note]))
    team_week = team_week_from(config, team, user, history) if team is not None and history is not None else None
    holidays_ahead = None
    if team is not None:
        team_today = local_today(team.timezone)
        holidays_ahead = holidays_ahead_blocks(team.name, team_holidays(
            team, config.holidays_for(team.name), (team_today.year, team_today.year + 1)), team_today)
    return home_view(config=config, leave=leave, balances_text=balances, waiting=waiting,
                     is_hr=directory.acts_as_hr(config, user), console_url=console_url(), note=note,
                     team_week=team_week, holidays_ahead=holidays_ahead)


def home_no_team_note(config: WorkspaceConfig, cause: UnlistedSource | None, user: str) -> str:
    """App Home's note (a context block: mrkdwn) for someone the member lists put in no team; `cause`: a
    team's list Slack refused to give, which may well be why (`selectors.no_team_cause`). HR, often in
    no team themselves, are not told to ask themselves."""
    unable = directory.hr_unable(config)
    if cause is not None:
        return f"You can't request time off yet: {messages.unlisted_text(config, cause, unable=unable)}."
    if directory.acts_as_hr(config, user):
        return ("You are in no team yourself, so you can't request time off; add yourself to a team in the "
                "HR console if you need to.")
    return (f"No team is configured for you yet, so you can't request time off; ask "
            f"{messages.hr_contacts(config, leaving_out=unable)} to add you to a team.")


def home_ledger(client: WebClient, config: WorkspaceConfig,
                user: str) -> tuple[Ledger | SliceLedger, list[LedgerEntry]]:
    """What App Home shows of the ledger: the person's part (their leave, their balances) and the
    requests waiting for their decision.

    From the slices when they are warm: the person's slice and the open requests of the teams they
    may decide for, so that a publish (one for every open of the tab, and one for each watcher after a
    change) costs the same with a thousand entries or a hundred thousand. From the whole ledger
    (read from Slack if need be) when they are cold. LedgerUnavailable when Slack refuses it.
    """
    # Asked once per channel: one publish checks many requests against the same few channels.
    channel_members = functools.cache(slack_lookups(client)[0])
    unable = directory.unable_to_approve(client)  # keeps its answers: asked once per person
    own = ledger_reader.person_view(config, user)
    if own is not None:
        candidates = [team.name for team in config.teams if may_decide_for(config, team, user, channel_members)]
        hr = directory.acts_as_hr(config, user)  # also decides the requests of teams removed since
        open_ = ledger_reader.open_requests(config, candidates, removed_teams=hr) if candidates or hr else []
        if open_ is not None:
            return own, waiting_for(config, open_, user, channel_members, unable)
    history = ledger_reader.current_ledger(client, config)
    return history, waiting_for(config, history.entries.values(), user, channel_members, unable)


def may_decide_for(config: WorkspaceConfig, team: TeamConfig, user: str, channel_members) -> bool:
    """Could `user` decide some request of `team`: one of its approvers, or HR (the fallback
    approvers decide when a team's approvers leave nobody but the requester)."""
    if directory.acts_as_hr(config, user) or user in team.approvers.users:
        return True
    return bool(team.approvers.channel) and user in channel_members(team.approvers.channel)


def waiting_for(config: WorkspaceConfig, entries: Iterable[LedgerEntry], user: str,
                channel_members, unable=None) -> list[LedgerEntry]:
    """Of `entries`, the pending requests this person may decide, oldest first (those whose message we know)."""
    waiting = []
    hr = directory.acts_as_hr(config, user)
    for entry in entries:
        if entry.status != PENDING or entry.user == user or not (entry.channel and entry.ts):
            continue
        team = team_of_entry(config, entry.team, entry.channel)
        if team is None:  # a removed team's request: HR's to decide (request_services.clicker_refusal)
            if hr:
                waiting.append(entry)
        elif user in approvers_for(config, team, entry.user, channel_members=channel_members, unable=unable):
            waiting.append(entry)
    return sorted(waiting, key=lambda e: (e.start, e.id))


def console_url() -> str | None:
    base = getattr(settings, "PUBLIC_URL", "")
    return f"{base.rstrip('/')}/console/" if base else None
