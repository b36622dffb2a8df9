"""Handlers for Events API callbacks, and the de-duplication that guards them."""

from django.core.cache import cache

from approvals.installation import slack_access_revoked
from approvals.people_services import memberships_changed, user_changed
from slackbot.responses import SlackResponse, ack

# Slack retries an event up to three times over about five minutes; an hour of
# memory covers every retry with room to spare.
EVENT_DEDUP_SECONDS = 60 * 60


def first_delivery(event_id: str) -> bool:
    """True the first time an event id is seen; False for Slack's retries and replays.

    `cache.add` is atomic in Redis (SET NX) and in the database cache (a unique
    key insert), so two web processes racing on one event cannot both win.
    """
    return cache.add(_delivery_key(event_id), 1, timeout=EVENT_DEDUP_SECONDS)


def delivery_failed(event_id: str) -> None:
    """The first delivery was not handled: let Slack's retry of it through."""
    cache.delete(_delivery_key(event_id))


def _delivery_key(event_id: str) -> str:
    return f"slack:event:{event_id}"


def event_access_revoked(event: dict, envelope: dict) -> SlackResponse:
    """`app_uninstalled` / `tokens_revoked`: the workers stop calling Slack (one log line, not a storm)."""
    if event.get("type") == "tokens_revoked":
        tokens = event.get("tokens") if isinstance(event.get("tokens"), dict) else {}
        if not tokens.get("bot"):
            return ack()  # only user tokens were revoked: we hold none
    slack_access_revoked(str(event.get("type")))
    return ack()


def event_membership_changed(event: dict, envelope: dict) -> SlackResponse:
    """Someone joined or left a channel, or a user group changed: forget what the cache knew."""
    sources = [event.get("channel"), event.get("subteam_id")]
    memberships_changed(*(source for source in sources if isinstance(source, str)))
    return ack()


def event_user_change(event: dict, envelope: dict) -> SlackResponse:
    user = event.get("user")
    if isinstance(user, dict) and isinstance(user.get("id"), str):
        user_changed(user["id"], deleted=bool(user.get("deleted")))
    return ack()
