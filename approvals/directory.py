"""Slack directory facts we need often, cached in the shared cache.

Channel members, user-group members, a user's time zone and the bot's own user
id. On the request path we read only the cache (`cached_*` functions return None
when cold: "not known yet"); background tasks fetch from Slack with `fetch_*`
and fill the cache.

Only an answer is cached (DESIGN §8, "transient is not permanent"). A permanent
refusal (the channel is gone or hidden from us, the group does not exist, a
scope is missing) is an answer: nobody we can know is a member, and that is
remembered like any list of members, with Slack's error (`team_routing.Unlisted`)
for telling someone it leaves in no team why. A passing fault (`ratelimited` after the
client's own retries, `internal_error`, `fatal_error`, 5xx, a timeout or a lost
connection) is no answer: it is raised, nothing is cached, and the task that
asked retries later (`approvals.task_queue.transient` decides which is which).
"""

import logging
import uuid
from datetime import datetime
from datetime import timezone as dt_timezone
from zoneinfo import ZoneInfo

from django.core.cache import cache
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from approvals.config_types import WorkspaceConfig
from approvals.task_queue import error_code, transient
from approvals.team_routing import MembershipUnknown, Unlisted

logger = logging.getLogger(__name__)

MEMBERS_TTL_SECONDS = 10 * 60
# Approvers looked up one by one (users.info, Tier 4) to leave bots and deactivated accounts out; a
# larger approvers channel is judged on what the cache knows. Approver lists are short.
APPROVER_LOOKUPS_MAX = 30
SLACKBOT = "USLACKBOT"
TIMEZONE_TTL_SECONDS = 24 * 60 * 60
BOT_ID_TTL_SECONDS = 24 * 60 * 60
MEMBERS_PAGE_SIZE = 200
# A bound on one read, not a size we expect: a team or the requesters may be "everyone in #all-staff" of a
# company of 20,000 (100 pages; conversations.members is Tier 4, 100+ calls a minute). Past it the people
# on later pages would count as in no team, so the setup page warns of any channel used for people that
# is larger (setup_checks.MEMBERS_READ_MAX), and a user group (usergroups.users.list, one call) serves.
MAX_MEMBER_PAGES = 500  # 100,000 members
BOT_ID_KEY = "directory:bot_user_id"
# Our workspace's id, as auth.test says it with the bot's id: an Events API envelope of another workspace
# (the same app installed in two, an Enterprise Grid org) does not speak of our token.
WORKSPACE_ID_KEY = "directory:workspace_id"
ENTERPRISE_ID_KEY = "directory:enterprise_id"  # our Enterprise Grid org's id, "" outside one (auth.test)
# users.info's answers for an id that names nobody we may see (https://docs.slack.dev/reference/methods/users.info)
NO_SUCH_USER_ERRORS = frozenset({"user_not_found", "user_not_visible"})
NO_SUCH_USER = "no such user"  # what the cache holds for one
# Slack's answers when our token no longer works (https://docs.slack.dev/reference/methods/auth.test#errors)
TOKEN_ERRORS = frozenset({"invalid_auth", "not_authed", "token_revoked", "token_expired", "account_inactive"})


def _members_key(kind: str, source: str) -> str:
    return f"directory:{kind}:{source}"


def channel_members_key(channel: str) -> str:
    return _members_key("channel", channel)


def usergroup_members_key(usergroup: str) -> str:
    return _members_key("usergroup", usergroup)


def timezone_key(user: str) -> str:
    return f"directory:tz:{user}"


def profile_key(user: str) -> str:
    """`fetch_user`'s answer for `user`, cached."""
    return f"directory:user:{user}"


def is_outsider(profile) -> bool:
    """From `fetch_user`'s cached answer: someone of another organisation, in a channel shared with ours
    through Slack Connect. Time off here is the company's own people's: they neither request nor approve."""
    return isinstance(profile, dict) and bool(profile.get("external"))


# Slack told us (an event) that a member list or a user changed: a read that began before is not cached,
# or it would put back for ten minutes (a day, for a user) what the event just made us forget. A token,
# not a time: no clock is compared across machines.
def _changed_key(thing: str) -> str:
    return f"directory:changed:{thing}"


def _mark_changed(*things: str) -> None:
    token = uuid.uuid4().hex
    cache.set_many({_changed_key(thing): token for thing in things}, MEMBERS_TTL_SECONDS)


def _cache_unless_changed(thing: str, before, values: dict, seconds: int) -> None:
    """Cache `values` unless `thing` changed since `before` (its changed-token when the read began)."""
    if cache.get(_changed_key(thing)) != before:
        logger.info("not cached: %s changed while it was read from Slack", thing)
        return
    cache.set_many(values, seconds)


def cached_channel_members(channel: str) -> frozenset[str] | None:
    return cache.get(channel_members_key(channel))


def cached_usergroup_members(usergroup: str) -> frozenset[str] | None:
    return cache.get(usergroup_members_key(usergroup))


def cached_timezone(user: str) -> str | None:
    return cache.get(timezone_key(user))


def cached_profile(user: str):
    """`fetch_user`'s answer as the cache holds it (NO_SUCH_USER included); None when it holds none."""
    return cache.get(profile_key(user))


def fetch_channel_members(client: WebClient, channel: str) -> frozenset[str]:
    """All members of a channel except our own bot, cached for ten minutes.

    A channel the bot cannot see (not invited to a private channel, archived,
    deleted) has no members we can know: it counts as empty (`Unlisted`, with
    Slack's error) and is logged.
    A passing fault, or a token Slack no longer accepts, is raised and nothing
    is cached: neither says anything of the channel (but the pages read before a
    passing fault are, for the next attempt to go on from). A read that began
    before an event said the channel's members changed is not cached.
    """
    cached = cached_channel_members(channel)
    if cached is not None:
        return cached
    before = cache.get(_changed_key(channel))
    # A read stopped by a passing fault (Tier 4's 100 calls a minute end a read of over 100 pages)
    # goes on from its page at the next attempt: starting over, it would never reach the last.
    progress_key = f"directory:reading:{channel}"
    progress = cache.get(progress_key)
    cursor, members, number = (progress[1], set(progress[2]), progress[3]) if (
        isinstance(progress, tuple) and progress[0] == before) else (None, set(), 0)
    try:
        while True:
            page = client.conversations_members(channel=channel, limit=MEMBERS_PAGE_SIZE, cursor=cursor)
            number += 1
            members.update(page.get("members", []))
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                break
            if number >= MAX_MEMBER_PAGES:
                logger.error("channel=%s has more than %s members; only those are known, the others count as "
                             "not in it: use a user group instead", channel, len(members))
                break
    except SlackApiError as exc:
        if _passing(exc, f"members of channel={channel}"):
            if cursor:  # the pages read so far are kept: the next attempt asks for the next one
                cache.set(progress_key, (before, cursor, frozenset(members), number), MEMBERS_TTL_SECONDS)
            raise
        if _token_refused(exc):
            raise
        result = Unlisted(error_code(exc))
    else:
        members.discard(fetch_bot_user_id(client))
        result = frozenset(members)
    cache.delete(progress_key)
    _cache_unless_changed(channel, before, {_members_key("channel", channel): result}, MEMBERS_TTL_SECONDS)
    return result


def fetch_usergroup_members(client: WebClient, usergroup: str) -> frozenset[str]:
    """A user group's members, cached for ten minutes; none (`Unlisted`) when Slack refuses for good (not
    for a token it no longer accepts: raised, as a passing fault is)."""
    cached = cached_usergroup_members(usergroup)
    if cached is not None:
        return cached
    before = cache.get(_changed_key(usergroup))
    try:
        users = client.usergroups_users_list(usergroup=usergroup).get("users", [])
    except SlackApiError as exc:
        if _passing(exc, f"user group={usergroup}") or _token_refused(exc):
            raise
        result = Unlisted(error_code(exc))
    else:
        result = frozenset(users)
    _cache_unless_changed(usergroup, before, {_members_key("usergroup", usergroup): result}, MEMBERS_TTL_SECONDS)
    return result


def fetch_timezone(client: WebClient, user: str) -> str:
    """The user's Slack time zone (IANA name); UTC when Slack does not say or refuses for good.

    A passing fault (rate limited, Slack's own error) is raised, and the task retries: the day a
    rule calls "today" depends on it, and UTC's today is already tomorrow for an evening in
    California, which would refuse leave that starts today as "in the past".
    """
    cached = cached_timezone(user)
    if cached is not None:
        return cached
    profile = fetch_user(client, user, raise_passing=True)
    return profile["tz"] if profile else "UTC"


def fetch_user(client: WebClient, user: str, *, raise_passing: bool = False) -> dict | None:
    """{"tz", "deleted", "bot"} of a user from `users.info`, cached for a day; None when Slack fails (with
    `raise_passing`, a passing fault is raised instead). Only "no such user" is remembered, for ten
    minutes (a mistyped id in the configuration would otherwise cost a call before every DM); any
    other failure is not cached: the next call asks again."""
    cached = cache.get(profile_key(user))
    if cached is not None:
        return None if cached == NO_SUCH_USER else cached
    before = cache.get(_changed_key(user))
    try:
        info = client.users_info(user=user)["user"]
    except SlackApiError as exc:
        if raise_passing and _passing(exc, f"user={user}"):
            raise
        error = exc.response.get("error")
        logger.warning("cannot read user=%s error=%s", user, error)
        if error in NO_SUCH_USER_ERRORS:
            cache.set(profile_key(user), NO_SUCH_USER, MEMBERS_TTL_SECONDS)
        return None
    try:
        external = _external(client, info)
    except (SlackApiError, SlackClientError, OSError):  # our own ids could not be read just now
        if raise_passing:
            raise
        return None  # nothing cached: the next look asks again
    # Slackbot is not `is_bot` in users.info, but no person either.
    profile = {"tz": _zone_of(info), "deleted": bool(info.get("deleted")),
               "bot": bool(info.get("is_bot")) or user == SLACKBOT, "external": external,
               # A multi- or single-channel guest (a contractor, a client): invited to a few channels, not staff.
               "guest": bool(info.get("is_restricted") or info.get("is_ultra_restricted"))}
    _cache_unless_changed(user, before, {timezone_key(user): profile["tz"], profile_key(user): profile},
                          TIMEZONE_TTL_SECONDS)
    return profile


# Offsets that are not whole hours have no Etc/ zone: the zones whose offset it is at some time of year, the
# one that keeps it all year first; the first whose offset is `tz_offset` now is taken (+10:30 is
# Adelaide's summer and Lord Howe's winter).
ZONES_OF_PART_HOUR_OFFSETS = {
    -34200: ("Pacific/Marquesas",),  # -9:30
    -12600: ("America/St_Johns",),  # -3:30 (Newfoundland's winter)
    -9000: ("America/St_Johns",),  # -2:30 (its summer)
    12600: ("Asia/Tehran",),  # +3:30
    16200: ("Asia/Kabul",),  # +4:30
    19800: ("Asia/Kolkata",),  # +5:30
    20700: ("Asia/Kathmandu",),  # +5:45
    23400: ("Asia/Yangon",),  # +6:30
    31500: ("Australia/Eucla",),  # +8:45
    34200: ("Australia/Darwin",),  # +9:30
    37800: ("Australia/Adelaide", "Australia/Lord_Howe"),  # +10:30
    45900: ("Pacific/Chatham",),  # +12:45
    49500: ("Pacific/Chatham",),  # +13:45 (its summer)
}


def _zone_at_offset(offset: int) -> str:
    """A zone whose UTC offset is `offset` seconds now (the first listed when none is, as out of season)."""
    zones = ZONES_OF_PART_HOUR_OFFSETS.get(offset, ())
    now = datetime.now(dt_timezone.utc)
    return next((zone for zone in zones if now.astimezone(ZoneInfo(zone)).utcoffset().total_seconds() == offset),
                zones[0] if zones else "UTC")


def _zone_of(info: dict) -> str:
    """The person's IANA zone; from `tz_offset` alone when Slack gives no `tz` (a profile still being set
    up), as the fixed zone of that offset when it is whole hours ("Etc/GMT-9" is UTC+9: POSIX signs), a zone
    of that offset when it is not (India's +5:30: Asia/Kolkata); else UTC."""
    zone = info.get("tz")
    if isinstance(zone, str) and zone:
        return zone
    offset = info.get("tz_offset")
    if not isinstance(offset, int) or isinstance(offset, bool):
        return "UTC"
    if offset % 3600 == 0 and -12 <= offset // 3600 <= 14:
        hours = offset // 3600
        return "Etc/UTC" if hours == 0 else f"Etc/GMT{-hours:+d}"
    return _zone_at_offset(offset)


def unable_to_approve(client: WebClient):
    """`team_routing.UnableLookup` with Slack's answers: who of some users is a bot (another app's, or
    Slackbot) or a deactivated account. Each user is asked of `users.info` (cached for a day; most are
    already, from their DMs) when there are at most APPROVER_LOOKUPS_MAX of them; of more (a whole
    channel of approvers), only what the cache already knows is used. Someone Slack cannot tell about
    just now counts as able: leaving a real approver out would be worse than mentioning a bot.
    Answers are kept for the life of the returned function (one task)."""
    known: dict[str, bool] = {}

    def unable(users) -> set[str]:
        asked = [user for user in users if user not in known]
        if len(asked) <= APPROVER_LOOKUPS_MAX:
            for user in asked:
                # None: no such user (remembered in the cache, below) or Slack could not say just now.
                profile = fetch_user(client, user) or cache.get(profile_key(user))
                known[user] = user == SLACKBOT or _cannot_approve(profile)
        else:
            cached = cache.get_many([profile_key(user) for user in asked])
            for user in asked:
                known[user] = user == SLACKBOT or _cannot_approve(cached.get(profile_key(user)))
        return {user for user in users if known[user]}

    return unable


def unable_cached(users) -> set[str]:
    """`unable_to_approve` from the cache alone, for Slack's request path: MembershipUnknown when the
    cache does not know one of them (the task then asks Slack)."""
    keys = {profile_key(user): user for user in users if user != SLACKBOT}
    found = cache.get_many(list(keys))
    missing = next((user for key, user in keys.items() if key not in found), None)
    if missing is not None:
        raise MembershipUnknown(missing)
    return {user for user in users if user == SLACKBOT or _cannot_approve(found[profile_key(user)])}


def known_unable(users) -> set[str]:
    """Of `users`, those the cache knows cannot approve (`_cannot_approve`: a deactivated account, a bot…);
    someone the cache knows nothing of counts as able. For pages, which ask Slack nothing."""
    keys = {profile_key(user): user for user in users}
    found = cache.get_many(list(keys))
    return {user for key, user in keys.items() if user == SLACKBOT or (key in found and _cannot_approve(found[key]))}


def acts_as_hr(config: WorkspaceConfig, user: str) -> bool:
    """Has HR's powers in Slack (record and change anyone's leave, the console link in App Home): a fallback
    approver the cache does not know cannot decide. A configuration file can name a guest, someone who has
    left, a bot, or someone of another organisation; they are refused as anyone else is. Cache only, for the
    request path: someone Slack has not described yet counts as able, as `known_unable` says."""
    return user in config.fallback_approvers and not known_unable([user])


def hr_unable(config: WorkspaceConfig) -> set[str]:
    """The fallback approvers the cache knows cannot decide (`known_unable`): not named to people as whom to
    ask (`messages.hr_contacts`' `leaving_out`). Cache only."""
    return known_unable(config.fallback_approvers)


def able_hr(client: WebClient, config: WorkspaceConfig) -> list[str]:
    """The fallback approvers to tell HR's news (removed teams' requests, deleted records, a lost channel, a
    leaver's requests), leaving out those who cannot decide (`unable_to_approve`): HR's news is not for a
    guest, a bot, or someone of another organisation. Asks `users.info` when the cache does not know."""
    unable = unable_to_approve(client)(config.fallback_approvers)
    return [hr for hr in config.fallback_approvers if hr not in unable]


def _cannot_approve(profile) -> bool:
    """From `fetch_user`'s cached answer: a bot, a deactivated account, someone of another organisation
    (a Slack Connect channel's), a guest (invited to the approvers channel, they would decide staff's
    leave), or an id Slack has no user for."""
    if profile == NO_SUCH_USER:
        return True
    return isinstance(profile, dict) and bool(profile.get("deleted") or profile.get("bot") or profile.get("external")
                                              or profile.get("guest"))


def _external(client: WebClient, info: dict) -> bool:
    """Is this user of another organisation, in a channel shared with ours through Slack Connect? Their
    home workspace (`team_id`) is not ours, nor another workspace of our Enterprise Grid org. Unknown
    (Slack refusing for good to name ours, or saying nothing of theirs): not external, as before Slack
    Connect. A passing fault reading ours is raised."""
    theirs = info.get("team_id")
    if not isinstance(theirs, str) or not theirs:
        return False
    ours = cache.get_many([WORKSPACE_ID_KEY, ENTERPRISE_ID_KEY])
    if WORKSPACE_ID_KEY not in ours:
        fetch_bot_user_id(client)  # a passing fault is raised: "not external" would be cached for a day
        ours = cache.get_many([WORKSPACE_ID_KEY, ENTERPRISE_ID_KEY])
    workspace, enterprise = ours.get(WORKSPACE_ID_KEY), ours.get(ENTERPRISE_ID_KEY)
    if not workspace or theirs == workspace:
        return False
    their_enterprise = (info.get("enterprise_user") or {}).get("enterprise_id") or info.get("enterprise_id")
    return not (enterprise and their_enterprise == enterprise)


def is_deactivated(client: WebClient, user: str) -> bool:
    """A deactivated account (`users.info` says `deleted`): it gets no DMs."""
    profile = fetch_user(client, user) if user[:1] in ("U", "W") else None
    return bool(profile and profile["deleted"])


def forget_user(user: str) -> None:
    """After `user_change`: the next look-up asks Slack again (and one under way is not cached)."""
    _mark_changed(user)
    cache.delete_many([profile_key(user), timezone_key(user)])


def forget_memberships(*sources: str) -> None:
    """After `member_joined_channel` / `member_left_channel` / `subteam_members_changed`: ask Slack again,
    so someone who joins a team's channel can request at once (and a read under way is not cached)."""
    _mark_changed(*sources)
    cache.delete_many([_members_key(kind, source) for source in sources for kind in ("channel", "usergroup")])


def fetch_bot_user_id(client: WebClient) -> str | None:
    """Our bot's user id (`auth.test`), cached for a day; None when Slack refuses to say.

    A passing fault is raised, so the task retries. None is never cached, and a
    caller must take it as "unknown", never as "anyone": the ledger is then
    unavailable (DESIGN §8).
    """
    bot_id = cache.get(BOT_ID_KEY)
    if bot_id is None:
        try:
            answer = client.auth_test()
        except SlackApiError as exc:
            if _passing(exc, "our own bot user (auth.test)"):
                raise
            return None
        bot_id = answer.get("user_id")
        if not bot_id:
            return None
        cache.set_many({BOT_ID_KEY: bot_id, WORKSPACE_ID_KEY: answer.get("team_id") or "",
                        ENTERPRISE_ID_KEY: answer.get("enterprise_id") or ""}, BOT_ID_TTL_SECONDS)
    return bot_id


def cached_bot_identity() -> tuple[str | None, str | None]:
    """(our bot's user id, our workspace's id) as the cache knows them (auth.test, fetch_bot_user_id);
    None where it does not. For the request path, which asks Slack nothing."""
    found = cache.get_many([BOT_ID_KEY, WORKSPACE_ID_KEY])
    return found.get(BOT_ID_KEY), found.get(WORKSPACE_ID_KEY) or None


def _token_refused(exc: SlackApiError) -> bool:
    """Slack refused our token (the app uninstalled, the token revoked): true of every call, whatever it
    asked. Remembering the answer as "no members" would tell people they have no team once the app is
    installed again."""
    return exc.response.get("error") in TOKEN_ERRORS


def _passing(exc: SlackApiError, what: str) -> bool:
    """Is this a passing fault (to raise: the task retries, nothing is cached)? Logs either way."""
    error = exc.response.get("error") or f"http_{getattr(exc.response, 'status_code', '')}"
    if transient(exc):
        logger.warning("cannot read %s for now error=%s; nothing cached, the task retries", what, error)
        return True
    logger.warning("cannot read %s error=%s", what, error)
    return False
