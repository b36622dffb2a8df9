"""Read-only views of the fake workspace, over HTTP, for the demo's pages (`/demo/`).

Slack's Web API cannot show what a person sees in their client: the modals
opened for them, their ephemeral messages, their App Home. The demo's web
process runs apart from the fake (`manage.py demo_slack`), so it reads those
here: `GET /_inspect/<what>?…` with the bot token as `Authorization: Bearer …`.
Nothing here changes the workspace; everything the demo does goes through the
app's own Slack endpoints.

    workspace                 people, channels, user groups, the bot's id
    channel?channel=C&limit=N the newest N top-level messages, oldest first, with reply counts
    thread?channel=C&ts=T     a thread: the parent, then its replies
    ephemerals?user=U         ephemeral messages to U, and posts to response_urls
    view?id=V                 one view as stored (modal or home)
    home?user=U               U's App Home view, or null
    opened?trigger_id=T       the view opened (views.open / views.push) with that trigger, or null
    version                   changes whenever anything a person could see changes
"""

from __future__ import annotations

import hashlib
import json
from urllib.parse import parse_qsl

from fake_slack.workspace import normalize_ts

MAX_MESSAGES = 200


def inspect(fake, what: str, query: str, authorization: str) -> tuple[int, dict]:
    ws = fake.workspace
    if authorization != f"Bearer {ws.bot_token}":
        return 401, {"ok": False, "error": "not_authed"}
    params = dict(parse_qsl(query))
    handler = VIEWS.get(what)
    if handler is None:
        return 404, {"ok": False, "error": "unknown_view"}
    try:
        with ws.lock:
            return 200, {"ok": True, **handler(fake, ws, params)}
    except (KeyError, ValueError) as exc:
        return 400, {"ok": False, "error": f"bad_request: {exc}"}


def _workspace(fake, ws, params):
    users = [{"id": u.id, "name": u.name, "real_name": u.real_name or u.name, "tz": u.tz, "is_bot": u.is_bot,
              "deleted": u.deleted} for u in ws.users.values()]
    channels = [{"id": c.id, "name": c.name, "is_private": c.is_private, "is_im": c.is_im, "is_mpim": c.is_mpim,
                 "is_archived": c.is_archived, "members": sorted(c.members)} for c in ws.channels.values()]
    groups = [{"id": g.id, "handle": g.handle, "users": list(g.users)} for g in ws.usergroups.values()]
    return {"bot_user_id": ws.bot_user_id, "users": users, "channels": channels, "usergroups": groups}


def _rendered(ws, channel_id, message):
    replies = [m for m in ws.thread(channel_id, message.ts) if m.is_reply] if not message.is_reply else []
    return message.to_api(include_all_metadata=True, replies=replies)


def _channel(fake, ws, params):
    channel_id = params["channel"]  # not resolved: looking must not open a DM
    limit = max(1, min(int(params.get("limit") or 50), MAX_MESSAGES))
    top = [m for m in ws.all_messages(channel_id) if not m.is_reply or m.reply_broadcast]
    return {"channel": channel_id, "messages": [_rendered(ws, channel_id, m) for m in top[-limit:]],
            "total": len(top)}


def _thread(fake, ws, params):
    channel_id = params["channel"]
    thread = ws.thread(channel_id, normalize_ts(params["ts"]))
    return {"channel": channel_id, "messages": [m.to_api(include_all_metadata=True) for m in thread]}


def _ephemerals(fake, ws, params):
    user = params["user"]
    found = [{"channel": e.channel, "user": e.user, "message_ts": e.message_ts, "text": e.text, "blocks": e.blocks,
              "thread_ts": e.thread_ts} for e in ws.ephemerals if e.user == user]
    posts = [{"path": p.path, "body": p.body, "at": p.at} for p in ws.response_url_posts]
    return {"ephemerals": found, "response_url_posts": posts}


def _view(fake, ws, params):
    view = ws.views.get(params["id"])
    if view is None:
        raise KeyError("no such view")
    return {"view": view}


def _home(fake, ws, params):
    view_id = ws.home_views.get(params["user"])
    return {"view": ws.views.get(view_id) if view_id else None}


def _opened(fake, ws, params):
    trigger_id = params["trigger_id"]
    for call in reversed(fake.calls()):
        if call.method in ("views.open", "views.push") and call.response.get("ok"):
            given = call.params.get("trigger_id") or call.params.get("interactivity_pointer")
            if given == trigger_id:
                return {"view_id": call.response["view"]["id"]}
    return {"view_id": None}


def _version(fake, ws, params):
    """A digest of everything a person could see; cheap enough to poll every couple of seconds."""
    digest = hashlib.sha256()
    for channel_id in sorted(ws.channels):
        for m in ws.all_messages(channel_id):
            digest.update(f"{channel_id} {m.ts} {m.text} {m.edited} {m.subtype}".encode())
            if m.blocks:
                digest.update(json.dumps(m.blocks, sort_keys=True).encode())
    for view_id, view in sorted(ws.views.items()):
        digest.update(f"{view_id} {view['hash']}".encode())
    digest.update(f"{len(ws.ephemerals)} {len(ws.response_url_posts)}".encode())
    return {"version": digest.hexdigest()[:16]}


VIEWS = {
    "workspace": _workspace,
    "channel": _channel,
    "thread": _thread,
    "ephemerals": _ephemerals,
    "view": _view,
    "home": _home,
    "opened": _opened,
    "version": _version,
}
