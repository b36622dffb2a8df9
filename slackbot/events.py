"""Handlers for Events API callbacks, and the de-duplication that guards them."""

import time

from django.core.cache import cache

from approvals.channel_services import ARCHIVED, DELETED, REMOVED, channel_back, channel_lost
from approvals.directory import cached_bot_identity
from approvals.installation import slack_access_revoked
from approvals.people_services import approver_left_channel, memberships_changed, user_changed
from approvals.task_backend import enqueues_once
from slackbot.responses import SlackResponse, ack

# Slack retries an event up to three times over about five minutes; an hour of
# memory covers every retry with room to spare.
EVENT_DEDUP_SECONDS = 60 * 60
# Slack retries an event it got no answer to within 3 s, so its first retry can arrive while the first
# delivery is still being handled (a slow database). Taken for a duplicate and answered 200, it would be
# lost should that delivery then fail: it is answered 503, and Slack tries again a minute later, when
# the first has either been handled or let it through. A delivery still marked as being handled after
# this long died unfinished (its process killed): the next retry handles the event.
STILL_HANDLING_SECONDS = 30  # gunicorn's timeout: no request is handled longer
HANDLED = "handled"

# What became of an event's earlier delivery, for a delivery that is not the first.
DUPLICATE, IN_HAND, ABANDONED = "duplicate", "in hand", "abandoned"


# Events whose whole handling is the enqueue of one task (App Home's publish). Where the task backend
# can enqueue once under a key (approvals.task_backend.enqueued_once: production's, on PostgreSQL or
# SQLite), that task's row is the event's de-duplication record: written in the same INSERT that
# queues it, so a retry finds it and writes nothing, a first delivery that failed left nothing behind,
# and one still being handled holds the row's key until it commits. Two cache round trips fewer than
# the marks below, on the event Slack sends most (each open of the tab).
ONE_TASK_EVENTS = frozenset({"app_home_opened"})


def deduplicated_by_its_task(event_type: str) -> bool:
    return event_type in ONE_TASK_EVENTS and enqueues_once()


def task_key(event_id: str) -> str:
    return f"slack:event:{event_id}"


def first_delivery(event_id: str) -> bool:
    """True the first time an event id is seen; False for Slack's retries and replays.

    `cache.add` is atomic in Redis (SET NX) and in the database cache (a unique
    key insert), so two web processes racing on one event cannot both win. The
    value is when it began, then HANDLED (`delivery_handled`).
    """
    return cache.add(_delivery_key(event_id), time.time(), timeout=EVENT_DEDUP_SECONDS)


def earlier_delivery(event_id: str) -> str:
    """DUPLICATE (handled), IN_HAND (may still be being handled), or ABANDONED (began too long ago to be
    handled still: taken over now, as a first delivery)."""
    began = cache.get(_delivery_key(event_id))
    if not isinstance(began, float):
        return DUPLICATE  # handled (or a value from before deliveries were timed)
    if time.time() - began < STILL_HANDLING_SECONDS:
        return IN_HAND
    cache.set(_delivery_key(event_id), time.time(), timeout=EVENT_DEDUP_SECONDS)
    return ABANDONED


def delivery_handled(event_id: str) -> None:
    cache.set(_delivery_key(event_id), HANDLED, timeout=EVENT_DEDUP_SECONDS)


def delivery_failed(event_id: str) -> None:
    """The first delivery was not handled: let Slack's retry of it through."""
    cache.delete(_delivery_key(event_id))


def _delivery_key(event_id: str) -> str:
    return f"slack:event:{event_id}"


def event_access_revoked(event: dict, envelope: dict) -> SlackResponse:
    """`app_uninstalled` / `tokens_revoked`: the workers stop calling Slack (one log line, not a storm).

    Only when it is ours: the same app installed in another workspace (an Enterprise Grid org) is sent
    its own. Where the cache does not know our bot or workspace yet, it is taken as ours, as before: a
    revoked token then stops the calls that would fail anyway.

    An org-wide install's envelope names the workspace the event came through, not the org auth.test
    names as ours: there it is ours when its `authorizations` are our bot's org-wide install, and a
    `tokens_revoked` naming our bot user is ours whatever the team (a bot user id names one install)."""
    our_bot, our_workspace = cached_bot_identity()
    team = envelope.get("team_id")
    revoked_bots = None
    if event.get("type") == "tokens_revoked":
        tokens = event.get("tokens") if isinstance(event.get("tokens"), dict) else {}
        revoked_bots = tokens.get("bot") if isinstance(tokens.get("bot"), list) else []
        if not revoked_bots:
            return ack()  # only user tokens were revoked: we hold none
        if our_bot and our_bot not in revoked_bots:
            return ack()  # another bot's
    named_ours = bool(our_bot) and (our_bot in (revoked_bots or ()) or _org_wide_install_of(our_bot, envelope))
    if our_workspace and isinstance(team, str) and team and team != our_workspace and not named_ours:
        return ack()
    slack_access_revoked(str(event.get("type")))
    return ack()


def _org_wide_install_of(bot: str, envelope: dict) -> bool:
    """Does the envelope's `authorizations` name `bot`'s org-wide (Enterprise Grid) install?"""
    authorizations = envelope.get("authorizations")
    return isinstance(authorizations, list) and any(
        isinstance(a, dict) and a.get("user_id") == bot and a.get("is_enterprise_install") is True
        for a in authorizations)


def event_membership_changed(event: dict, envelope: dict) -> SlackResponse:
    """Someone joined or left a channel, or a user group changed: forget what the cache knew."""
    sources = [event.get("channel"), event.get("subteam_id")]
    memberships_changed(*(source for source in sources if isinstance(source, str)))
    # Slack's member_left_channel carries no event_ts: the envelope's event_id names this leaving (a retry
    # of it carries the same).
    user, channel, leaving = event.get("user"), event.get("channel"), envelope.get("event_id")
    if event.get("type") == "member_left_channel" and all(isinstance(v, str) and v for v in (user, channel, leaving)):
        approver_left_channel(user, channel, leaving)
    if (event.get("type") == "member_joined_channel" and isinstance(channel, str) and channel
            and isinstance(user, str) and _is_our_bot(user, envelope)):
        channel_back(channel)  # the bot invited back: the Setup page checks again
    return ack()


def _is_our_bot(user: str, envelope: dict) -> bool:
    """Is `user` the app's bot user? Its cached id says; before the app has asked Slack for it, the
    envelope's `authorizations` name the bot user the event was delivered for (asking Slack here would
    spend the 3 s)."""
    bot = cached_bot_identity()[0]
    if bot:
        return user == bot
    authorizations = envelope.get("authorizations")
    return isinstance(authorizations, list) and any(
        isinstance(a, dict) and a.get("user_id") == user and a.get("is_bot") is True for a in authorizations)


# Slack's events for a channel the app loses, and what became of it (channel_services).
CHANNEL_LOST = {"channel_left": REMOVED, "group_left": REMOVED, "channel_archive": ARCHIVED,
                "group_archive": ARCHIVED, "channel_deleted": DELETED, "group_deleted": DELETED}


def event_channel_lost(event: dict, envelope: dict) -> SlackResponse:
    """The bot was removed from a channel, or it was archived or deleted: HR hears it if it is one of ours."""
    channel, event_id = event.get("channel"), envelope.get("event_id")
    if isinstance(channel, str) and channel and isinstance(event_id, str) and event_id:
        channel_lost(channel, CHANNEL_LOST[event["type"]], private=event["type"].startswith("group_"),
                     event_id=event_id)
    return ack()


def event_channel_back(event: dict, envelope: dict) -> SlackResponse:
    """A channel unarchived: the Setup page checks again."""
    channel = event.get("channel")
    if isinstance(channel, str) and channel:
        channel_back(channel)
    return ack()


def event_user_change(event: dict, envelope: dict) -> SlackResponse:
    user = event.get("user")
    if isinstance(user, dict) and isinstance(user.get("id"), str):
        event_id = envelope.get("event_id")
        user_changed(user["id"], deleted=bool(user.get("deleted")),
                     event_id=event_id if isinstance(event_id, str) else "")
    return ack()
