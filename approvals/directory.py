"""Slack directory facts we need often, cached in the shared cache.

Channel members, user-group members, a user's time zone and the bot's own user
id. On the request path we read only the cache (`cached_*` functions return None
when cold); background tasks fetch from Slack with `fetch_*` and fill the cache.
"""

import logging

from django.core.cache import cache
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

logger = logging.getLogger(__name__)

MEMBERS_TTL_SECONDS = 10 * 60
TIMEZONE_TTL_SECONDS = 24 * 60 * 60
BOT_ID_TTL_SECONDS = 24 * 60 * 60
MEMBERS_PAGE_SIZE = 200
MAX_MEMBER_PAGES = 50  # 10,000 members: larger channels are not approver lists


def _members_key(kind: str, source: str) -> str:
    return f"directory:{kind}:{source}"


def cached_channel_members(channel: str) -> frozenset[str] | None:
    return cache.get(_members_key("channel", channel))


def cached_usergroup_members(usergroup: str) -> frozenset[str] | None:
    return cache.get(_members_key("usergroup", usergroup))


def cached_timezone(user: str) -> str | None:
    return cache.get(f"directory:tz:{user}")


def fetch_channel_members(client: WebClient, channel: str) -> frozenset[str]:
    """All members of a channel except our own bot, cached for ten minutes.

    A channel the bot cannot see (not invited to a private channel, archived,
    deleted) has no members we can know: it counts as empty and is logged.
    """
    cached = cached_channel_members(channel)
    if cached is not None:
        return cached
    members: set[str] = set()
    cursor = None
    try:
        for _ in range(MAX_MEMBER_PAGES):
            response = client.conversations_members(channel=channel, limit=MEMBERS_PAGE_SIZE, cursor=cursor)
            members.update(response.get("members", []))
            cursor = (response.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                break
    except SlackApiError as exc:
        logger.warning("cannot read members of channel=%s error=%s", channel, exc.response.get("error"))
        members = set()
    members.discard(fetch_bot_user_id(client))
    result = frozenset(members)
    cache.set(_members_key("channel", channel), result, MEMBERS_TTL_SECONDS)
    return result


def fetch_usergroup_members(client: WebClient, usergroup: str) -> frozenset[str]:
    cached = cached_usergroup_members(usergroup)
    if cached is not None:
        return cached
    try:
        users = client.usergroups_users_list(usergroup=usergroup).get("users", [])
    except SlackApiError as exc:
        logger.warning("cannot read user group=%s error=%s", usergroup, exc.response.get("error"))
        users = []
    result = frozenset(users)
    cache.set(_members_key("usergroup", usergroup), result, MEMBERS_TTL_SECONDS)
    return result


def fetch_timezone(client: WebClient, user: str) -> str:
    """The user's Slack time zone (IANA name); UTC when Slack does not say."""
    cached = cached_timezone(user)
    if cached is not None:
        return cached
    try:
        timezone = client.users_info(user=user)["user"].get("tz") or "UTC"
    except SlackApiError as exc:
        logger.warning("cannot read user=%s error=%s", user, exc.response.get("error"))
        return "UTC"  # not cached: try again next time
    cache.set(f"directory:tz:{user}", timezone, TIMEZONE_TTL_SECONDS)
    return timezone


def fetch_bot_user_id(client: WebClient) -> str | None:
    bot_id = cache.get("directory:bot_user_id")
    if bot_id is None:
        try:
            bot_id = client.auth_test().get("user_id")
        except SlackApiError:
            return None
        cache.set("directory:bot_user_id", bot_id, BOT_ID_TTL_SECONDS)
    return bot_id
