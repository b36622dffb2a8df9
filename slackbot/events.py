"""Handlers for Events API callbacks, and the de-duplication that guards them."""

from django.core.cache import cache

# Slack retries an event up to three times over about five minutes; an hour of
# memory covers every retry with room to spare.
EVENT_DEDUP_SECONDS = 60 * 60


def first_delivery(event_id: str) -> bool:
    """True the first time an event id is seen; False for Slack's retries and replays.

    `cache.add` is atomic in Redis (SET NX) and in the database cache (a unique
    key insert), so two web processes racing on one event cannot both win.
    """
    return cache.add(f"slack:event:{event_id}", 1, timeout=EVENT_DEDUP_SECONDS)
