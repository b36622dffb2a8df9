"""The workspace's people, channels and user groups by name, for the HR console.

HR chooses approvers by name or email and channels by name; the database keeps
Slack ids (issue 10, item 1). This module reads the whole directory from Slack
in the background and keeps it in the shared cache, so a console page or a
suggestion as you type never waits on Slack:

- `directory_refresh(client)` (the `refresh_slack_directory` task) reads
  `users.list`, `conversations.list` and `usergroups.list` and caches the
  result as one snapshot.
- `directory_cached()` serves that snapshot; `directory_current()` serves it
  too, and asks for a background refresh when it is missing or older than
  `FRESH_SECONDS` (a stale directory is still served meanwhile: names change
  rarely, and an empty page would be worse).
- `people_matching`, `channels_matching` and `usergroups_matching` search the
  cached snapshot; `person_by_email` asks `users.lookupByEmail` for an exact
  address the snapshot does not know yet.
- `person_resolve`, `channel_resolve` and `usergroup_resolve` turn what HR
  typed into the one entry it names (the id the database stores), or raise
  `NotResolved` with a sentence for the form field.

Transient Slack faults raise (the task retries later) and never replace a
good snapshot; permanent ones (`missing_scope`, `invalid_auth`, …) are
remembered for an hour so the console can say what Slack refused.
"""

import functools
import logging
import re
import time
import unicodedata
from dataclasses import dataclass, replace

from django.core.cache import cache
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from approvals.cache_values import schema_tag
from approvals.config_fields import (
    BLANK_LOOKING,
    CHANNEL,
    USER,
    USERGROUP,
    has_visible_text,
    without_hidden_characters,
)
from approvals.task_queue import error_code, retry_after_seconds, transient

logger = logging.getLogger(__name__)

ERROR_KEY = "slack_directory:v1:error"
REFRESH_REQUESTED_KEY = "slack_directory:v1:refresh_requested"
FRESH_SECONDS = 10 * 60  # older than this: served, and refreshed in the background
KEEP_SECONDS = 7 * 24 * 60 * 60  # a stale directory beats none while Slack is unreachable
ERROR_SECONDS = 60 * 60
REFRESH_REQUEST_SECONDS = 60  # at most one refresh enqueued a minute, however many pages ask
PAGE_SIZE = 200  # Slack recommends at most 200 per page for users.list and conversations.list
# users.list and conversations.list are Tier 2 (20+ calls a minute): a workspace of more than about 4,000
# people is more than a minute of pages. A 429 between pages is waited out this many times, each up to
# PAUSE_MAX_SECONDS, and the read goes on; then (or for a longer Retry-After) the task retries later.
PAUSES_MAX = 8  # 8 minutes at most: then the task's own backoff, which frees the worker meanwhile
PAUSE_MAX_SECONDS = 60
MAX_RESULTS = 20
SLACKBOT_ID = "USLACKBOT"  # listed by users.list, yet not flagged as a bot


@dataclass(frozen=True)
class Person:
    id: str
    name: str  # the Slack handle (users.list `name`)
    real_name: str = ""
    display_name: str = ""
    email: str = ""
    # A multi- or single-channel guest (`is_restricted`): they may request leave, but never decide it
    # (directory._cannot_approve), so the console refuses them as approvers.
    guest: bool = False

    @property
    def seen_name(self) -> str:
        """Their real name, else display name, else handle: the first a reader can see (a name of only
        spaces, zero-width joiners or blank-looking fillers would be a blank in a list of names); else ""."""
        return next((name for name in (self.real_name, self.display_name, self.name) if has_visible_text(name)), "")

    @property
    def label(self) -> str:
        return self.seen_name or self.id

    @property
    def initials(self) -> str:
        words = [word for word in self.seen_name.replace(".", " ").split() if word[:1].isalnum()]
        return "".join(word[0] for word in words[:2]).upper() or "?"


@dataclass(frozen=True)
class Channel:
    id: str
    name: str
    is_private: bool = False
    bot_is_member: bool = False

    @property
    def label(self) -> str:
        return f"#{self.name}"


@dataclass(frozen=True)
class UserGroup:
    id: str
    handle: str
    name: str = ""
    user_count: int = 0

    @property
    def label(self) -> str:
        return f"@{self.handle}"


@dataclass(frozen=True)
class Directory:
    people: tuple[Person, ...] = ()
    channels: tuple[Channel, ...] = ()
    usergroups: tuple[UserGroup, ...] = ()
    fetched_at: float = 0.0
    # Deactivated accounts: never offered to choose, but their leave stays in the ledger and is shown by name.
    former_people: tuple[Person, ...] = ()
    # Archived channels the configuration names (approvals, announce, members, past approvals channels):
    # never offered to choose, but shown by name, marked archived, where the console shows the configuration.
    archived_channels: tuple[Channel, ...] = ()

    def fresh(self, now: float) -> bool:
        return now - self.fetched_at < FRESH_SECONDS

    # Indexes by id, built on first use in each process (a page names many people of a large workspace).
    @functools.cached_property
    def _people_by_id(self) -> dict[str, Person]:
        return {p.id: p for p in self.people}

    @functools.cached_property
    def _channels_by_id(self) -> dict[str, Channel]:
        return {c.id: c for c in self.channels}

    @functools.cached_property
    def _usergroups_by_id(self) -> dict[str, UserGroup]:
        return {g.id: g for g in self.usergroups}

    @functools.cached_property
    def _former_by_id(self) -> dict[str, Person]:
        return {p.id: p for p in self.former_people}

    @functools.cached_property
    def _archived_by_id(self) -> dict[str, Channel]:
        return {c.id: c for c in self.archived_channels}

    @functools.cached_property
    def _labels_shared(self) -> frozenset[str]:
        """Names more than one person goes by (two "Alex Kim"s, or "Alex Kim" and "alex  kim": a name is
        found ignoring case and spacing, person_resolve): shown with what tells them apart."""
        seen, shared = set(), set()
        for person in (*self.people, *self.former_people):
            name = _name_key(person.label)
            (shared if name in seen else seen).add(name)
        return frozenset(shared)

    def person(self, user_id: str) -> Person | None:
        return self._people_by_id.get(user_id)

    def former_person(self, user_id: str) -> Person | None:
        """A deactivated account's person, by id."""
        return self._former_by_id.get(user_id)

    def person_label(self, user_id: str) -> str:
        """A person's name as the console shows it (with their email or @handle when someone else has the
        same name); a deactivated account's with "(deactivated)"; the id of someone Slack does not list."""
        person = self._people_by_id.get(user_id)
        if person is not None:
            return self._told_apart(person)
        former = self._former_by_id.get(user_id)
        return f"{self._told_apart(former)} (deactivated)" if former is not None else user_id

    def _told_apart(self, person: Person) -> str:
        if _name_key(person.label) not in self._labels_shared:
            return person.label
        return f"{person.label} ({person.email or '@' + person.name})"

    def channel(self, channel_id: str) -> Channel | None:
        """A channel the app can choose (not archived)."""
        return self._channels_by_id.get(channel_id)

    def archived_channel(self, channel_id: str) -> Channel | None:
        return self._archived_by_id.get(channel_id)

    def channel_label(self, channel_id: str) -> str:
        """A channel's name as the console shows it: "#name", "#name (archived)", or the id of one the app
        cannot see (a private channel the bot is not in)."""
        if (channel := self._channels_by_id.get(channel_id)) is not None:
            return channel.label
        if (archived := self._archived_by_id.get(channel_id)) is not None:
            return f"{archived.label} (archived)"
        return channel_id

    def usergroup(self, usergroup_id: str) -> UserGroup | None:
        return self._usergroups_by_id.get(usergroup_id)


# The key names the dataclasses' shape (cache_values.schema_tag), so a process never unpickles a snapshot
# that code with other fields cached (a rolling deploy); as config_store does.
SNAPSHOT_KEY = f"slack_directory:v1:{schema_tag(Directory)}"


# --- Reading Slack (background) -----------------------------------------------------


# Format and control characters draw nothing; marks do (they make é of e, and the vowels of most Indic scripts).
DRAW_NOTHING = frozenset({"Cf", "Cc"})


def _folded(text: str) -> str:
    """`text` as names are compared: how an accent is encoded (é as one character, or e and a combining
    accent: NFKC), characters that draw nothing (a zero-width joiner, a blank-looking filler) and case
    do not tell names apart."""
    return "".join(char for char in unicodedata.normalize("NFKC", text) if char not in BLANK_LOOKING
                   and unicodedata.category(char) not in DRAW_NOTHING).casefold()


def _name_key(name: str) -> str:
    """A name as HR may type it and as a page shows it: folded (`_folded`), runs of spaces as one."""
    return " ".join(_folded(name).split())


def _shown(name) -> str:
    """A name Slack supplies, as the console shows it: anyone may set their own, and a right-to-left
    override (U+202E) in it would turn the rest of a list of approvers around, a zero-width space make
    "Alice" one person or two; the characters HR may not type in names (config_fields) are left out."""
    return without_hidden_characters(name) if isinstance(name, str) else ""


def _person(member: dict) -> Person:
    profile = member.get("profile") or {}
    return Person(
        id=member["id"],
        name=_shown(member.get("name")),
        real_name=_shown(profile.get("real_name") or member.get("real_name")),
        display_name=_shown(profile.get("display_name")),
        email=profile.get("email") or "",
        guest=bool(member.get("is_restricted") or member.get("is_ultra_restricted")),
    )


def _listed_person(member: dict) -> bool:
    return not (member.get("deleted") or member.get("is_bot") or member.get("id") == SLACKBOT_ID)


def _former_person(member: dict) -> bool:
    return bool(member.get("deleted")) and not (member.get("is_bot") or member.get("id") == SLACKBOT_ID)


def directory_fetch(client: WebClient) -> Directory:
    """The whole directory, read from Slack now. Raises SlackApiError as Slack answers."""
    members = [member for page in _pages(client.users_list) for member in page.get("members", [])]
    people = [_person(member) for member in members if _listed_person(member)]
    former = [_person(member) for member in members if _former_person(member)]
    # Private channels are listed only once the bot is invited: the console says so.
    channels = [
        Channel(id=c["id"], name=_shown(c.get("name")), is_private=bool(c.get("is_private")),
                bot_is_member=bool(c.get("is_member")))
        for page in _pages(client.conversations_list, types="public_channel,private_channel", exclude_archived=True)
        for c in page.get("channels", [])
    ]
    listed = {channel.id for channel in channels}
    archived = [channel for channel in _archived_channels(client, sorted(_configured_channels() - listed))]
    usergroups = [
        UserGroup(id=g["id"], handle=_shown(g.get("handle")), name=_shown(g.get("name")),
                  user_count=_count(g.get("user_count")))
        # `user_count` comes only with include_count, and as a string in Slack's documented answer.
        for g in client.usergroups_list(include_count=True).get("usergroups", [])
        if not g.get("date_delete")
    ]
    return Directory(
        people=tuple(sorted(people, key=lambda p: (p.label.casefold(), p.id))),
        channels=tuple(sorted(channels, key=_channel_order)),
        usergroups=tuple(sorted(usergroups, key=lambda g: (g.handle.casefold(), g.id))),
        fetched_at=time.time(),
        former_people=tuple(former),
        archived_channels=tuple(archived),
    )


def _configured_channels() -> set[str]:
    """Every channel id the configuration names."""
    from approvals.config_store import current_config  # it reads the directory's names: import when run

    config = current_config()
    named = {config.requesters_channel, *config.past_approvals_channels}
    for team in config.teams:
        named |= {team.members.channel, team.approvers.channel, team.approvals_channel, team.announce_channel,
                  *team.past_approvals_channels}
    return {channel for channel in named if channel}


def _archived_channels(client: WebClient, channel_ids):
    """Of channels the configuration names and the list left out, the archived ones (`conversations.info`:
    the list leaves archived channels out, and a workspace may hold thousands of them). One the bot cannot
    see (a private channel it is not in: `channel_not_found`) stays unnamed."""
    for channel_id in channel_ids:
        try:
            info = client.conversations_info(channel=channel_id).get("channel") or {}
        except SlackApiError as exc:
            if transient(exc):
                raise
            continue
        if info.get("is_archived"):
            yield Channel(id=channel_id, name=_shown(info.get("name")) or channel_id,
                          is_private=bool(info.get("is_private")))


def _count(value) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


def _pages(method, **params):
    """Each page of a paged method, following its cursor; a 429 between pages is waited out (see
    PAUSES_MAX) and the read goes on from the page it stopped at.

    Not a SlackResponse's own iteration: after a 429 it cannot go on (the error answer holds no
    cursor), and starting over at the first page after each 429 would never reach the last."""
    cursor, pauses = None, 0
    while True:
        try:
            page = method(limit=PAGE_SIZE, cursor=cursor, **params)
        except SlackApiError as exc:
            pause = retry_after_seconds(exc)
            if not (0 < pause <= PAUSE_MAX_SECONDS and pauses < PAUSES_MAX):
                raise
            pauses += 1
            logger.warning("slack directory read paused for %ss: rate-limited", pause)
            time.sleep(pause)
            continue
        yield page
        cursor = (page.get("response_metadata") or {}).get("next_cursor")
        if not cursor:
            return


def directory_refresh(client: WebClient) -> Directory | None:
    """Read the directory from Slack and cache it (the `refresh_slack_directory` task).

    A transient fault raises, so the task retries, and the old snapshot stays.
    A permanent one is remembered for the console and returns None.
    """
    try:
        directory = directory_fetch(client)
    except SlackApiError as exc:
        if transient(exc):
            raise
        logger.error("cannot read the Slack directory error=%s", error_code(exc))
        cache.set(ERROR_KEY, error_code(exc), ERROR_SECONDS)
        return None
    cache.set(SNAPSHOT_KEY, directory, KEEP_SECONDS)
    cache.delete(ERROR_KEY)
    logger.info("slack directory refreshed people=%s channels=%s usergroups=%s",
                len(directory.people), len(directory.channels), len(directory.usergroups))
    return directory


def directory_person_left(user: str) -> None:
    """Slack said (`user_change`) that `user`'s account was deactivated: the console names them "(deactivated)"
    and stops offering them now, not at its next read of Slack's names. A refresh under way writes what Slack
    says, which says the same."""
    directory = directory_cached()
    person = directory.person(user) if directory is not None else None
    if person is None:
        return
    cache.set(SNAPSHOT_KEY, replace(directory, people=tuple(p for p in directory.people if p.id != user),
                                    former_people=(*directory.former_people, person)), KEEP_SECONDS)


def directory_channels_seen(seen: list[tuple[Channel, bool]]) -> None:
    """Channels as Slack described them just now, each with whether it is archived (the Setup page's check,
    `conversations.info`): one archived, unarchived or renamed since the directory was read is named so now,
    not at its next read. One the directory does not list and that is not archived (private, the bot not in
    it) is left out, as Slack's list leaves it out."""
    directory = directory_cached()
    if directory is None:
        return
    live, archived = dict(directory._channels_by_id), dict(directory._archived_by_id)
    for channel, is_archived in seen:
        if channel.id not in live and channel.id not in archived and not is_archived:
            continue
        live.pop(channel.id, None)
        archived.pop(channel.id, None)
        shown = replace(channel, name=_shown(channel.name) or channel.id)
        (archived if is_archived else live)[channel.id] = replace(shown, bot_is_member=False) if is_archived else shown
    if (tuple(live.values()), tuple(archived.values())) == (directory.channels, directory.archived_channels):
        return
    cache.set(SNAPSHOT_KEY, replace(directory, channels=tuple(sorted(live.values(), key=_channel_order)),
                                    archived_channels=tuple(archived.values())), KEEP_SECONDS)


def _channel_order(channel: Channel) -> tuple[str, str]:
    return channel.name.casefold(), channel.id


def person_by_email(client: WebClient, email: str) -> Person | None:
    """The active person with exactly this address (`users.lookupByEmail`), or None.

    Only `users_not_found` means "nobody": other errors raise, so a caller never
    tells HR that a person does not exist because Slack was briefly down.
    """
    email = email.strip()
    if "@" not in email:
        return None
    try:
        member = client.users_lookupByEmail(email=email)["user"]
    except SlackApiError as exc:
        if exc.response.get("error") == "users_not_found":
            return None
        raise
    return _person(member) if _listed_person(member) else None


# --- Reading the cache (console pages) ----------------------------------------------


def directory_cached() -> Directory | None:
    return cache.get(SNAPSHOT_KEY)


def directory_error_cached() -> str | None:
    """The permanent error of the last refresh (e.g. `missing_scope`), or None."""
    return cache.get(ERROR_KEY)


def directory_current(now: float | None = None) -> Directory | None:
    """The cached directory; a missing or stale one is refreshed in the background."""
    directory = directory_cached()
    if directory is None or not directory.fresh(time.time() if now is None else now):
        directory_refresh_soon()
        directory = directory_cached() or directory  # an immediate task backend has refreshed it already
    return directory


def directory_refresh_soon() -> None:
    """Enqueue one refresh, unless one was asked for in the last minute."""
    if cache.add(REFRESH_REQUESTED_KEY, True, REFRESH_REQUEST_SECONDS):
        # Imported here: the tasks module imports this one to run the refresh.
        from approvals.tasks import refresh_slack_directory

        refresh_slack_directory.enqueue()


# --- Searching ----------------------------------------------------------------------


def _rank(query: str, fields: tuple[str, ...]) -> int | None:
    """0: a field is the query, 1: a field starts with it, 2: a word starts with it, 3: it is inside; None: no match."""
    best = None
    for field in fields:
        field = _name_key(field)
        if not field or query not in field:
            continue
        if field == query:
            rank = 0
        elif field.startswith(query):
            rank = 1
        elif any(word.startswith(query) for word in field.replace(".", " ").replace("-", " ").split()):
            rank = 2
        else:
            rank = 3
        best = rank if best is None else min(best, rank)
    return best


def _matching(items, query: str, fields, limit: int) -> list:
    ranked = []
    for position, item in enumerate(items):  # items come sorted by name: ties keep that order
        rank = _rank(query, fields(item))
        if rank is not None:
            ranked.append((rank, position, item))
    return [item for _, _, item in sorted(ranked, key=lambda found: found[:2])[:limit]]


def _clean(query: str, prefix: str) -> str:
    """The query as names are compared (`_name_key`: a full-width ＠ is an @ first), without its prefix."""
    return _name_key(query).removeprefix(prefix).strip()


def people_matching(query: str, *, directory: Directory | None = None, limit: int = MAX_RESULTS) -> list[Person]:
    """People whose handle, real name, display name or email contains `query`, case-insensitively.

    `@bob` finds bob. Best matches first (exact, then prefix, then word prefix).
    """
    query = _clean(query, "@")
    directory = directory if directory is not None else directory_cached()
    if not query or directory is None:
        return []
    return _matching(directory.people, query, lambda p: (p.name, p.real_name, p.display_name, p.email), limit)


def channels_matching(query: str, *, directory: Directory | None = None, limit: int = MAX_RESULTS) -> list[Channel]:
    """Channels whose name contains `query` (with or without its '#')."""
    query = _clean(query, "#")
    directory = directory if directory is not None else directory_cached()
    if not query or directory is None:
        return []
    return _matching(directory.channels, query, lambda c: (c.name,), limit)


def usergroups_matching(query: str, *, directory: Directory | None = None,
                        limit: int = MAX_RESULTS) -> list[UserGroup]:
    """User groups whose handle (with or without its '@') or name contains `query`."""
    query = _clean(query, "@")
    directory = directory if directory is not None else directory_cached()
    if not query or directory is None:
        return []
    return _matching(directory.usergroups, query, lambda g: (g.handle, g.name), limit)


# --- From what HR typed to the id we store ------------------------------------------
#
# The console's forms take people by name, @handle or email, channels by #name
# and user groups by @handle (issue 10, item 1); the database stores ids. These
# turn one typed value into one directory entry, or say in a sentence why not.
# An id typed as it is (U…, C…, S…) is still accepted, for power users.

# The id patterns of the configuration file, also inside Slack's mention syntax (<@U…>, <#C…|name>).
USER_ID = re.compile(rf"^(?:<@)?({USER.pattern.pattern})(?:\|[^>]*)?>?$")
CHANNEL_ID = re.compile(rf"^(?:<#)?({CHANNEL.pattern.pattern})(?:\|[^>]*)?>?$")
USERGROUP_ID = re.compile(rf"^(?:<!subteam\^)?({USERGROUP.pattern.pattern})(?:\|[^>]*)?>?$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
LOADING = "The list of Slack people and channels is still loading; try again in a moment."


class NotResolved(ValueError):
    """What was typed names nobody (or several): the message says so, for the form field's error."""


def _did_you_mean(found: list, quote=str) -> str:
    return f" Did you mean {', '.join(quote(item) for item in found[:3])}?" if found else ""


def _names_someone(directory: Directory | None, text: str) -> bool:
    """True when `text`, which looks like a user id, is not one we know but is someone's name (WALTER)."""
    if directory is None or directory.person(text) is not None:
        return False
    return any(text.casefold() in (p.name.casefold(), p.display_name.casefold()) for p in directory.people)


def person_resolve(text: str, *, directory: Directory | None = None, client: WebClient | None = None) -> Person:
    """The one person `text` names: an email, @handle, display or real name, or a user id.

    An email the cached directory does not know is asked of Slack when `client`
    is given (someone who joined since the last refresh).
    """
    text = text.strip()
    directory = directory if directory is not None else directory_cached()
    if (match := USER_ID.match(text)) and not _names_someone(directory, text):
        person = directory.person(match[1]) if directory else None
        if person is None and directory and (gone := directory.former_person(match[1])):
            raise NotResolved(f"{gone.label} has left: their Slack account is deactivated.")
        return person or Person(id=match[1], name=match[1])  # unknown ids pass: Slack may not list them yet
    if EMAIL.match(text):
        found = [p for p in (directory.people if directory else ()) if p.email.casefold() == text.casefold()]
        if not found and client is not None:
            found = [p for p in [person_by_email(client, text)] if p]
        if found:
            return found[0]
        # Slack's users.lookupByEmail does not find a deactivated account: the directory still knows it.
        if gone := [p for p in (directory.former_people if directory else ()) if p.email.casefold() == text.casefold()]:
            raise NotResolved(f"{gone[0].label} ({text}) has left: their Slack account is deactivated.")
        raise NotResolved(f"No one in this Slack workspace has the email address {text}.")
    if directory is None:
        raise NotResolved(LOADING)
    name = _name_key(text.removeprefix("@"))
    if not name:
        raise NotResolved("Type a name, an @handle or an email address.")
    # A handle is one person's (Slack keeps them unique): `@alex` is Alex's even when Alexandra's display
    # name is "Alex"; it is also what the console's suggestions give for someone without an email.
    fields_to_try = ((lambda p: (p.name,)), (lambda p: (p.display_name,))) if text.startswith("@") else (
        (lambda p: (p.name, p.display_name)), (lambda p: (p.real_name,)))
    for names_of in fields_to_try:
        found = [p for p in directory.people if name in (_name_key(n) for n in names_of(p) if n)]
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            raise NotResolved(f"Several people are called {text}: "
                              + ", ".join(f"{p.label} ({p.email or '@' + p.name})" for p in found[:5])
                              + ". Type the email address (or the @handle) of the one you mean.")
    if gone := [p for p in directory.former_people
                if name in (_name_key(n) for n in (p.name, p.display_name, p.real_name) if n)]:
        raise NotResolved(f"{gone[0].label} has left: their Slack account is deactivated.")
    raise NotResolved(f"No one in this Slack workspace is called {text}."
                      + _did_you_mean(people_matching(text, directory=directory), lambda p: p.email or f"@{p.name}"))


def channel_resolve(text: str, *, directory: Directory | None = None, posted_to: bool = True) -> Channel:
    """The channel `text` names: #name, name, or a channel id. `posted_to`: the app posts there (an approvals
    or announce channel), so an archived one is refused; one whose members are read may be archived."""
    text = text.strip()
    directory = directory if directory is not None else directory_cached()
    if (match := CHANNEL_ID.match(text)) and not (directory and directory.channel(match[1]) is None and any(
            c.name.casefold() == text.casefold() for c in directory.channels)):  # #CAREERS is a name, not an id
        channel = directory.channel(match[1]) if directory else None
        if channel is None and directory and (archived := directory.archived_channel(match[1])):
            return _archived_resolved(archived, posted_to)
        return channel or Channel(id=match[1], name=match[1])
    if directory is None:
        raise NotResolved(LOADING)
    name = text.removeprefix("#").strip().casefold()
    if not name:
        raise NotResolved("Type a channel name, like #engineering.")
    found = [c for c in directory.channels if c.name.casefold() == name]
    if found:
        return found[0]  # channel names are unique in a workspace
    if archived := [c for c in directory.archived_channels if c.name.casefold() == name]:
        return _archived_resolved(archived[0], posted_to)
    raise NotResolved(f"No channel #{name} that the app can see. A private channel appears once the bot is "
                      "invited to it (/invite @Time Off in that channel); an archived one cannot be used."
                      + _did_you_mean(channels_matching(name, directory=directory), lambda c: c.label))


def _archived_resolved(channel: Channel, posted_to: bool) -> Channel:
    if posted_to:
        raise NotResolved(f"{channel.label} is archived in Slack, so nothing can be posted there: choose another "
                          "channel, or unarchive it in Slack first.")
    return channel


def usergroup_resolve(text: str, *, directory: Directory | None = None) -> UserGroup:
    """The user group `text` names: @handle, handle, or a user group id."""
    text = text.strip()
    directory = directory if directory is not None else directory_cached()
    if (match := USERGROUP_ID.match(text)) and not (directory and directory.usergroup(match[1]) is None and any(
            g.handle.casefold() == text.casefold() for g in directory.usergroups)):  # SALES is a handle, not an id
        group = directory.usergroup(match[1]) if directory else None
        return group or UserGroup(id=match[1], handle=match[1])
    if directory is None:
        raise NotResolved(LOADING)
    handle = text.removeprefix("@").strip().casefold()
    if not handle:
        raise NotResolved("Type a user group handle, like @engineering.")
    found = [g for g in directory.usergroups if g.handle.casefold() == handle]
    if found:
        return found[0]
    raise NotResolved(f"No user group @{handle} in this Slack workspace."
                      + _did_you_mean(usergroups_matching(handle, directory=directory), lambda g: g.label))
