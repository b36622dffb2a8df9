"""The in-memory state of the fake Slack workspace.

Plain dataclasses behind one re-entrant lock. The HTTP handlers in `server.py`
and the tests both go through `Workspace`; anything handed back to a test is a
deep copy, so a test can never observe a half-applied API call.
"""

from __future__ import annotations

import bisect
import copy
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

TEAM_ID = "T_ACME"  # the team the signed test payloads (test_support.slack_requests) come from
APP_ID = "A_FAKE"
DEFAULT_BOT_TOKEN = "xoxb-test-bot-token"
DEFAULT_BOT_USER_ID = "U_BOT"
DEFAULT_BOT_ID = "B_BOT"


def normalize_ts(ts) -> str:
    """Slack timestamps are strings with exactly six decimals; comparing them as
    strings then orders them correctly (all our seconds have ten digits)."""
    try:
        return f"{Decimal(str(ts)):.6f}"
    except InvalidOperation:
        raise ValueError(f"not a Slack timestamp: {ts!r}") from None


GRANTED_SCOPES = ("commands", "chat:write", "users:read", "users:read.email", "channels:read", "groups:read",
                  "channels:history", "groups:history", "im:history", "im:write", "metadata.message:read",
                  "usergroups:read")


@dataclass
class User:
    id: str
    name: str
    real_name: str = ""
    tz: str = "UTC"
    tz_offset: int | None = None  # seconds east of UTC; computed from tz when None
    email: str | None = None
    is_bot: bool = False
    deleted: bool = False
    bot_id: str | None = None
    is_restricted: bool = False  # a guest: multi-channel, or single-channel with is_ultra_restricted too
    is_ultra_restricted: bool = False

    def to_api(self) -> dict:
        offset = self.tz_offset
        if offset is None:
            offset = int(datetime.now(ZoneInfo(self.tz)).utcoffset().total_seconds())
        real_name = self.real_name or self.name
        profile = {"real_name": real_name, "real_name_normalized": real_name, "display_name": self.name,
                   "display_name_normalized": self.name, "team": TEAM_ID}
        if self.email:
            profile["email"] = self.email
        if self.bot_id:
            profile["bot_id"] = self.bot_id
        return {"id": self.id, "team_id": TEAM_ID, "name": self.name, "deleted": self.deleted,
                "real_name": real_name, "tz": self.tz, "tz_label": self.tz, "tz_offset": offset,
                "profile": profile, "is_admin": False, "is_owner": False, "is_bot": self.is_bot,
                "is_restricted": self.is_restricted, "is_ultra_restricted": self.is_ultra_restricted,
                "is_app_user": False, "updated": 1766000000}


@dataclass
class Channel:
    id: str
    name: str = ""
    is_private: bool = False
    is_archived: bool = False
    members: set[str] = field(default_factory=set)
    is_im: bool = False
    is_mpim: bool = False
    created: int = 1766000000

    def to_api(self, bot_user_id: str, *, num_members: bool = True) -> dict:
        """As conversations.list shows it; `num_members=False` leaves the member count out, as
        conversations.info does unless asked for it (`include_num_members`)."""
        if self.is_im:
            user = next((m for m in sorted(self.members) if m != bot_user_id), bot_user_id)
            return {"id": self.id, "created": self.created, "is_im": True, "is_org_shared": False,
                    "user": user, "is_user_deleted": False, "priority": 0}
        shown = {"id": self.id, "name": self.name, "name_normalized": self.name,
                 "is_channel": not self.is_private and not self.is_mpim,
                 "is_group": self.is_private and not self.is_mpim, "is_im": False, "is_mpim": self.is_mpim,
                 "is_private": self.is_private or self.is_mpim, "is_archived": self.is_archived,
                 "is_general": self.name == "general", "is_shared": False, "is_org_shared": False,
                 "is_member": bot_user_id in self.members, "created": self.created, "creator": "",
                 "context_team_id": TEAM_ID, "num_members": len(self.members),
                 "topic": {"value": "", "creator": "", "last_set": 0},
                 "purpose": {"value": "", "creator": "", "last_set": 0}}
        if not num_members:
            del shown["num_members"]
        return shown


@dataclass
class UserGroup:
    id: str
    handle: str
    users: list[str] = field(default_factory=list)
    disabled: bool = False  # an admin disabled it: listed and read only with include_disabled


@dataclass
class Message:
    channel: str
    ts: str
    text: str = ""
    user: str | None = None
    bot_id: str | None = None
    blocks: list | None = None
    metadata: dict | None = None
    thread_ts: str | None = None
    reply_broadcast: bool = False
    edited: dict | None = None
    subtype: str | None = None

    @property
    def is_reply(self) -> bool:
        return self.thread_ts is not None and self.thread_ts != self.ts

    def to_api(self, *, include_all_metadata: bool, replies: list[Message] = ()) -> dict:
        """Render as Slack does in history/replies. Without include_all_metadata
        Slack still shows the event_type but drops the payload (slack-sdk #1501)."""
        out = {"type": "message", "ts": self.ts, "text": self.text}
        if self.subtype:
            out["subtype"] = self.subtype
        if self.user:
            out["user"] = self.user
        if self.bot_id:
            out["bot_id"] = self.bot_id
            out["app_id"] = APP_ID
        out["team"] = TEAM_ID
        if self.blocks is not None:
            out["blocks"] = copy.deepcopy(self.blocks)
        if self.metadata is not None:
            if include_all_metadata:
                out["metadata"] = copy.deepcopy(self.metadata)
            else:
                out["metadata"] = {"event_type": self.metadata.get("event_type")}
        if self.edited:
            out["edited"] = dict(self.edited)
        if self.thread_ts:
            out["thread_ts"] = self.thread_ts
        if replies:
            users = list(dict.fromkeys(r.user for r in replies if r.user))
            out.update(reply_count=len(replies), reply_users=users, reply_users_count=len(users),
                       latest_reply=replies[-1].ts)
        return out


@dataclass
class Ephemeral:
    channel: str
    user: str
    message_ts: str
    text: str = ""
    blocks: list | None = None
    thread_ts: str | None = None


@dataclass
class ResponseUrlPost:
    path: str
    body: object  # the decoded JSON (or the raw text when it was not JSON)
    at: float


class Workspace:
    def __init__(self, bot_user_id=DEFAULT_BOT_USER_ID, bot_id=DEFAULT_BOT_ID, bot_token=DEFAULT_BOT_TOKEN):
        self.lock = threading.RLock()
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.bot_token = bot_token
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.users: dict[str, User] = {}
            self.channels: dict[str, Channel] = {}
            self.usergroups: dict[str, UserGroup] = {}
            self._messages: dict[str, list[Message]] = {}  # per channel, sorted by ts, replies included
            self.views: dict[str, dict] = {}  # view id -> the whole view as Slack returns it
            self.home_views: dict[str, str] = {}  # user id -> view id of their App Home
            self.ephemerals: list[Ephemeral] = []
            self.response_url_posts: list[ResponseUrlPost] = []
            self.response_url_issued: dict[str, float] = {}  # path -> when FakeSlack.response_url made it
            self.expired_triggers: set[str] = set()
            # At most this many messages a page of conversations.history/replies, whatever `limit` asks:
            # Slack's cap for apps distributed outside the Marketplace is 15, and its docs say a page may
            # hold fewer than asked at any time. None: as many as asked (up to Slack's maximum).
            self.history_page_cap: int | None = None
            self.used_triggers: set[str] = set()
            self.revoked_tokens: dict[str, str] = {}  # token -> error code
            # What a real install of our manifest grants; None answers without the X-OAuth-Scopes header.
            self.granted_scopes: tuple[str, ...] | None = GRANTED_SCOPES
            self._last_ts = Decimal(0)
            self._next_view = 1
            self.add_user(self.bot_user_id, "timeoff", real_name="Time Off", is_bot=True, bot_id=self.bot_id)

    # ----- seeding ---------------------------------------------------------

    def add_user(self, id, name, tz="UTC", email=None, *, real_name="", tz_offset=None,
                 is_bot=False, deleted=False, bot_id=None) -> User:
        user = User(id, name, real_name, tz, tz_offset, email, is_bot, deleted, bot_id)
        with self.lock:
            self.users[id] = user
        return user

    def add_channel(self, id, name, members=(), private=False, archived=False, bot_member=True) -> Channel:
        members = set(members) | ({self.bot_user_id} if bot_member else set())
        channel = Channel(id, name, is_private=private, is_archived=archived, members=members)
        with self.lock:
            self.channels[id] = channel
            self._messages.setdefault(id, [])
        return channel

    def add_usergroup(self, id, handle, users) -> UserGroup:
        group = UserGroup(id, handle, list(users))
        with self.lock:
            self.usergroups[id] = group
        return group

    def post_message(self, channel, text="", metadata=None, user=None, *, blocks=None,
                     thread_ts=None, ts=None, reply_broadcast=False) -> Message:
        """Seed a message directly (no validation). `user=None` means the bot
        posted it; `channel` may be a user id, meaning that user's DM."""
        with self.lock:
            channel_id = self.resolve_channel_id(channel)
            if channel_id not in self.channels:
                raise KeyError(f"unknown channel {channel!r}")
            msg = Message(channel_id, normalize_ts(ts) if ts is not None else self.new_ts(), text,
                          user=user or self.bot_user_id, bot_id=None if user else self.bot_id,
                          blocks=copy.deepcopy(blocks), metadata=copy.deepcopy(metadata),
                          thread_ts=normalize_ts(thread_ts) if thread_ts else None,
                          reply_broadcast=reply_broadcast)
            self.insert_message(msg)
            return copy.deepcopy(msg)

    def expire_trigger(self, trigger_id: str) -> None:
        with self.lock:
            self.expired_triggers.add(trigger_id)

    def revoke_token(self, token: str | None = None, error: str = "token_revoked") -> None:
        """Make `token` (default: the bot token) fail with `error`
        (`token_revoked` or `account_inactive`)."""
        with self.lock:
            self.revoked_tokens[token or self.bot_token] = error

    # ----- reading (copies, for tests) -----------------------------------

    def messages(self, channel, include_replies=False) -> list[Message]:
        """Messages in a channel (or a user's DM), oldest first."""
        with self.lock:
            found = self._messages.get(self.resolve_channel_id(channel), [])
            return copy.deepcopy([m for m in found if include_replies or not m.is_reply])

    def replies(self, channel, thread_ts) -> list[Message]:
        """A thread: the parent, then its replies, oldest first."""
        with self.lock:
            return copy.deepcopy(self.thread(self.resolve_channel_id(channel), normalize_ts(thread_ts)))

    def message(self, channel, ts) -> Message | None:
        with self.lock:
            return copy.deepcopy(self.find_message(self.resolve_channel_id(channel), normalize_ts(ts)))

    def view(self, view_id) -> dict | None:
        with self.lock:
            return copy.deepcopy(self.views.get(view_id))

    def home_view(self, user_id) -> dict | None:
        with self.lock:
            view_id = self.home_views.get(user_id)
            return copy.deepcopy(self.views.get(view_id)) if view_id else None

    # ----- primitives used by the server (call with the lock held) --------

    def new_ts(self) -> str:
        # Wall-clock time, but strictly increasing even if the clock is frozen.
        now = Decimal(f"{time.time():.6f}")
        self._last_ts = max(now, self._last_ts + Decimal("0.000001"))
        return f"{self._last_ts:.6f}"

    def insert_message(self, msg: Message) -> None:
        found = self._messages.setdefault(msg.channel, [])
        keys = [m.ts for m in found]
        if msg.ts in keys:
            raise ValueError(f"duplicate ts {msg.ts} in {msg.channel}")
        found.insert(bisect.bisect(keys, msg.ts), msg)
        self._last_ts = max(self._last_ts, Decimal(msg.ts))

    def delete_message(self, msg: Message) -> None:
        self._messages[msg.channel].remove(msg)

    def all_messages(self, channel_id) -> list[Message]:
        return self._messages.get(channel_id, [])

    def find_message(self, channel_id, ts) -> Message | None:
        return next((m for m in self._messages.get(channel_id, []) if m.ts == ts), None)

    def thread(self, channel_id, thread_ts) -> list[Message]:
        return [m for m in self._messages.get(channel_id, []) if m.ts == thread_ts or m.thread_ts == thread_ts]

    def resolve_channel_id(self, channel: str) -> str:
        """Slack lets you address a DM by the user's id; map it to the DM channel."""
        if channel and channel[0] in "UW" and channel in self.users:
            return self.open_conversation([channel]).id
        return channel

    def open_conversation(self, user_ids) -> Channel:
        """The DM (one user) or group DM (several) with these users; stable ids.
        The bot is always a member."""
        others = sorted(set(user_ids) - {self.bot_user_id}) or [self.bot_user_id]
        if len(others) == 1:
            channel_id = "D" + others[0][1:]
        else:
            channel_id = "G_MPIM_" + "_".join(u[1:].lstrip("_") for u in others)
        if channel_id not in self.channels:
            channel = Channel(channel_id, "" if len(others) == 1 else "mpdm-" + "--".join(others),
                              is_private=True, members=set(others) | {self.bot_user_id},
                              is_im=len(others) == 1, is_mpim=len(others) > 1)
            self.channels[channel_id] = channel
            self._messages.setdefault(channel_id, [])
        return self.channels[channel_id]

    def next_view_id(self) -> str:
        view_id = f"V{self._next_view:010d}"
        self._next_view += 1
        return view_id
