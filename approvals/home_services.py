"""App Home: published when someone opens it, republished when what it shows changes."""

import logging

from django.conf import settings
from django.core.cache import cache
from slack_sdk import WebClient

from approvals import directory, ledger_reader
from approvals.cache_lock import claim
from approvals.config_store import current_config
from approvals.config_types import WorkspaceConfig
from approvals.home_view import home_view
from approvals.ledger_reader import Ledger
from approvals.rules import PENDING, LedgerEntry
from approvals.selectors import balance_text, local_today, my_leave, slack_lookups, team_of_user
from approvals.team_routing import approvers_for

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


def home_publish_started(user: str) -> None:
    """A publish task starts: what changes from now on needs a publish of its own."""
    cache.delete(_queued_key(user))


def home_seen(user: str) -> None:
    cache.set(f"home:seen:{user}", 1, HOME_SEEN_SECONDS)


def home_watchers(users) -> list[str]:
    keys = {f"home:seen:{user}": user for user in users if user}
    return [keys[key] for key in cache.get_many(list(keys))]


def home_publish(client: WebClient, user: str) -> None:
    config = current_config()
    team = team_of_user(client, config, user)
    today = local_today(directory.fetch_timezone(client, user))
    note = None
    try:
        history = ledger_reader.current_ledger(client, config)
    except ledger_reader.LedgerUnavailable as exc:
        logger.warning("home for user=%s: ledger unavailable: %s", user, exc)
        history, note = None, "I can't read the leave records right now; HR has been told."
    leave = my_leave(history, user, today) if history is not None else None
    balances = (balance_text(config, history, user=user, team=team, year=today.year)
                if history is not None and team is not None else None)
    if team is None:
        note = "No team is configured for you yet, so you can't request time off; ask HR."
    view = home_view(config=config, leave=leave, balances_text=balances,
                     waiting=waiting_for(client, config, history, user) if history is not None else [],
                     is_hr=user in config.fallback_approvers, console_url=console_url(), note=note)
    client.views_publish(user_id=user, view=view)


def waiting_for(client: WebClient, config: WorkspaceConfig, history: Ledger, user: str) -> list[LedgerEntry]:
    """Pending requests this person may decide, oldest first (those whose message we know)."""
    channel_members = slack_lookups(client)[0]
    waiting = []
    for entry in history.entries.values():
        if entry.status != PENDING or entry.user == user or not (entry.channel and entry.ts):
            continue
        team = config.team_named(entry.team)
        if team is not None and user in approvers_for(config, team, entry.user, channel_members=channel_members):
            waiting.append(entry)
    return sorted(waiting, key=lambda e: (e.start, e.id))


def console_url() -> str | None:
    base = getattr(settings, "PUBLIC_URL", "")
    return f"{base.rstrip('/')}/console/" if base else None
