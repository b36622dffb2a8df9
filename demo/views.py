"""The demo workspace in the browser: Slack's client, drawn from the fake Slack's state.

Pick who you are; read channels, threads, DMs and App Home; type `/timeoff …`;
fill the modals; click the buttons. Every action becomes the payload Slack
would send, signed with the signing secret and POSTed to the app's own
`/slack/commands`, `/slack/interactions` or `/slack/events`
(demo/slack_payloads.py); what the app does in return is read back from the
fake Slack (demo/workspace_reader.py). Only served with settings.DEMO
(timeoff_site/urls.py), and every view checks again.
"""

from __future__ import annotations

import functools
import json
import re
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import yaml
from django.conf import settings
from django.http import Http404, HttpResponseRedirect, JsonResponse
from django.middleware.csrf import get_token
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from approvals import slack_manifest
from approvals.block_kit import escape
from approvals.ledger_format import ADJUSTMENT_EVENT_TYPE, REQUEST_EVENT_TYPE
from demo import company
from demo import slack_payloads as slack
from demo.block_kit_html import Directory, Surface, render_blocks, render_mrkdwn
from demo.workspace_reader import SlackUnavailable, fake_base_url, inspect

DIGITS = re.compile(r"[0-9]+")

MESSAGES_SHOWN = 40
SESSION_EPHEMERALS = "demo_ephemerals"  # the app's answers to commands: only the person who typed sees them
SESSION_MODALS = "demo_modals"  # view id -> {"values": …, "errors": …, "notice": …}
MAX_EPHEMERALS = 20


def demo_view(view):
    @functools.wraps(view)
    def wrapped(request, *args, **kwargs):
        if not settings.DEMO:  # never with real credentials or DEBUG off, even if routed by mistake
            raise Http404("no demo here")
        try:
            return view(request, *args, **kwargs)
        except SlackUnavailable as exc:
            return render(request, "demo/unavailable.html", {"problem": str(exc)}, status=503)
    return wrapped


# --- The workspace as one person sees it --------------------------------------------------------


@dataclass(frozen=True)
class Workspace:
    users: dict  # id -> user
    channels: dict  # id -> channel
    directory: Directory
    bot_user_id: str

    @classmethod
    def load(cls) -> Workspace:
        data = inspect("workspace")
        users = {u["id"]: u for u in data["users"]}
        channels = {c["id"]: c for c in data["channels"]}
        directory = Directory(users={u["id"]: u["real_name"] for u in users.values()},
                              channels={c["id"]: c["name"] for c in channels.values() if c["name"]},
                              usergroups={g["id"]: g["handle"] for g in data["usergroups"]})
        return cls(users, channels, directory, data["bot_user_id"])

    def person(self, user_id: str) -> dict:
        user = self.users.get(user_id)
        if user is None or user["is_bot"]:
            raise Http404("nobody by that id in the demo workspace")
        return user

    def dm_of(self, user_id: str) -> str:
        """The person's DM with the app (the fake names it after them, as Slack's ids are stable)."""
        return "D" + user_id[1:]

    def channels_of(self, user_id: str) -> list[dict]:
        return sorted((c for c in self.channels.values() if user_id in c["members"] and not c["is_im"]
                       and not c["is_mpim"] and not c["is_archived"]), key=lambda c: c["name"])

    def channel_name(self, channel_id: str) -> str:
        channel = self.channels.get(channel_id)
        return "directmessage" if channel_id.startswith("D") else (channel or {}).get("name", channel_id)


def _surface(request, workspace, user, **more) -> Surface:
    return Surface(directory=workspace.directory, tz=user["tz"], now=datetime.now(timezone.utc), **more)


def _button_surface(request, workspace, user, back: str, **where) -> Surface:
    hidden = (("csrfmiddlewaretoken", get_token(request)), ("back", back), *where.items())
    return _surface(request, workspace, user, action_url=reverse("demo:click", args=[user["id"]]), hidden=hidden)


LEDGER_EVENT_TYPES = (REQUEST_EVENT_TYPE, ADJUSTMENT_EVENT_TYPE)


def _author(workspace, message) -> dict:
    user = workspace.users.get(message.get("user") or "")
    is_app = bool(message.get("bot_id")) or (user or {}).get("is_bot")
    return {"name": "Time Off" if is_app else (user or {}).get("real_name", message.get("user") or "someone"),
            "is_app": is_app}


def _message_item(request, workspace, user, channel_id, message, back, *, in_thread=False) -> dict:
    surface = _button_surface(request, workspace, user, back, where="message", channel=channel_id,
                              ts=message["ts"])
    blocks = message.get("blocks")
    metadata = message.get("metadata") or {}
    if metadata.get("event_type") not in LEDGER_EVENT_TYPES:
        metadata = {}  # a notice's tag (timeoff_notice) is machinery, not the ledger the badge shows
    payload = metadata.get("event_payload") or {}
    return {
        "ts": message["ts"],
        "time": _clock(message["ts"], user["tz"]),
        "author": _author(workspace, message),
        "html": render_blocks(blocks, surface) if blocks else render_mrkdwn(message.get("text", ""), surface),
        "edited": bool(message.get("edited")),
        "reply_count": 0 if in_thread else message.get("reply_count", 0),
        "metadata": {"event_type": metadata.get("event_type"), "status": payload.get("status")} if metadata else None,
        "ephemeral": False,
    }


def _clock(ts: str, tz: str) -> str:
    moment = datetime.fromtimestamp(float(ts), tz=timezone.utc).astimezone(ZoneInfo(tz))
    return moment.strftime("%b %d, %H:%M")


def _ephemeral_items(request, workspace, user, channel_id, back) -> list[dict]:
    items = []
    data = inspect("ephemerals", user=user["id"])
    for e in data["ephemerals"]:
        if e["channel"] != channel_id:
            continue
        surface = _button_surface(request, workspace, user, back, where="ephemeral", channel=channel_id,
                                  ts=e["message_ts"])
        items.append(_ephemeral(e["message_ts"], e.get("text", ""), e.get("blocks"), surface, user))
    for post in data["response_url_posts"]:  # the app's later answers to a command or click (response_url)
        body = post["body"] if isinstance(post["body"], dict) else {"text": str(post["body"])}
        if post["path"].startswith(f"{user['id']}/{channel_id}/"):
            surface = _surface(request, workspace, user)  # its buttons are drawn, not wired: the app sends none
            items.append(_ephemeral(f"{post['at']:.6f}", body.get("text", ""), body.get("blocks"), surface, user))
    for number, e in enumerate(request.session.get(SESSION_EPHEMERALS, [])):
        if e["user"] != user["id"] or e["channel"] != channel_id:
            continue
        surface = _button_surface(request, workspace, user, back, where="local", channel=channel_id,
                                  ts=e["ts"], number=str(number))
        items.append(_ephemeral(e["ts"], e.get("text", ""), e.get("blocks"), surface, user))
    return items


def _ephemeral(ts, text, blocks, surface, user) -> dict:
    return {"ts": ts, "time": _clock(ts, user["tz"]), "author": {"name": "Time Off", "is_app": True},
            "html": render_blocks(blocks, surface) if blocks else render_mrkdwn(text, surface), "edited": False,
            "reply_count": 0, "metadata": None, "ephemeral": True}


def _page_context(request, workspace, user, *, current: str) -> dict:
    people = [{"id": p.id, "name": p.real_name, "role": p.role} for p in company.PEOPLE
              if p.id in workspace.users]
    return {
        "me": user,
        "people": people,
        "channels": workspace.channels_of(user["id"]),
        "dm": workspace.dm_of(user["id"]),
        "current": current,
        "version": inspect("version")["version"],
        "poll_url": reverse("demo:poll"),
        "shortcuts": manifest_shortcuts(),
    }


@functools.cache
def manifest_shortcuts() -> tuple[dict, ...]:
    """The global shortcuts the app's manifest declares: what Slack's shortcuts menu offers."""
    manifest = yaml.safe_load(slack_manifest.manifest_path().read_text(encoding="utf-8"))
    return tuple({"name": s["name"], "callback_id": s["callback_id"]}
                 for s in manifest["features"].get("shortcuts", []) if s.get("type") == "global")


def _modal_context(request, workspace, user, back: str) -> dict | None:
    view_id = request.GET.get("modal")
    if not view_id:
        return None
    found = inspect("view", id=view_id)
    if not found.get("ok"):
        return None
    view = found["view"]
    saved = request.session.get(SESSION_MODALS, {}).get(view_id, {})
    surface = _surface(request, workspace, user, form=True, values=saved.get("values", {}),
                       errors=saved.get("errors", {}))
    return {
        "id": view_id,
        "title": (view.get("title") or {}).get("text", ""),
        "submit": (view.get("submit") or {}).get("text", ""),
        "close": (view.get("close") or {}).get("text", "Cancel"),
        "html": render_blocks(view.get("blocks"), surface),
        "notice": saved.get("notice", ""),
        "action": reverse("demo:modal", args=[user["id"], view_id]),
        "back": back,
    }


@require_GET
@demo_view
def welcome(request):
    workspace = Workspace.load()
    # The three roles of the README's tour first, in its order; then everyone else as the company lists them.
    ordered = sorted(company.PEOPLE, key=lambda p: company.FEATURED.index(p) if p in company.FEATURED
                     else len(company.FEATURED))
    people = [{"id": p.id, "name": p.real_name, "role": p.role, "featured": p in company.FEATURED}
              for p in ordered if p.id in workspace.users]
    return render(request, "demo/welcome.html", {"people": people})


@require_GET
@demo_view
def channel(request, user_id, channel_id=None):
    workspace = Workspace.load()
    user = workspace.person(user_id)
    if channel_id is None:
        channel_id = company.C_GENERAL if company.C_GENERAL in workspace.channels else workspace.dm_of(user_id)
    is_dm = channel_id == workspace.dm_of(user_id)
    info = workspace.channels.get(channel_id)
    if not is_dm and (info is None or user_id not in info["members"]):
        raise Http404("not a channel you are in")
    back = request.get_full_path().split("?")[0]
    thread_ts = request.GET.get("thread")
    data = inspect("channel", channel=channel_id, limit=MESSAGES_SHOWN)
    items = [_message_item(request, workspace, user, channel_id, m, back) for m in data.get("messages", [])]
    items += _ephemeral_items(request, workspace, user, channel_id, back)
    items.sort(key=lambda item: float(item["ts"]))
    thread = None
    if thread_ts:
        replies = inspect("thread", channel=channel_id, ts=thread_ts).get("messages", [])
        thread = [_message_item(request, workspace, user, channel_id, m, back, in_thread=True) for m in replies]
    context = _page_context(request, workspace, user, current=channel_id) | {
        "channel": {"id": channel_id, "name": "Time Off" if is_dm else info["name"], "is_dm": is_dm,
                    "is_private": bool(info and info["is_private"]), "total": data.get("total", 0)},
        "items": items,
        "thread": thread,
        "thread_ts": thread_ts,
        "modal": _modal_context(request, workspace, user, back),
        "back": back,
    }
    return render(request, "demo/channel.html", context)


@require_GET
@demo_view
def app_home(request, user_id):
    workspace = Workspace.load()
    user = workspace.person(user_id)
    back = reverse("demo:home", args=[user_id])
    view = inspect("home", user=user_id).get("view")
    html = None
    if view:
        surface = _button_surface(request, workspace, user, back, where="home", view=view["id"])
        html = render_blocks(view.get("blocks"), surface)
    context = _page_context(request, workspace, user, current="home") | {
        "home_html": html, "modal": _modal_context(request, workspace, user, back), "back": back,
    }
    return render(request, "demo/home.html", context)


# --- Actions: each is what Slack would send ----------------------------------------------------


def _app_url(request, name: str) -> str:
    return request.build_absolute_uri(reverse(name))


def _send_interaction(request, payload: dict) -> slack.AppAnswer:
    return slack.send(_app_url(request, "slack-interactions"), slack.interaction_body(payload),
                      content_type="application/x-www-form-urlencoded", signing_secret=settings.SLACK_SIGNING_SECRET)


def _remember_ephemeral(request, user_id, channel_id, text, blocks=None):
    kept = request.session.get(SESSION_EPHEMERALS, [])[-(MAX_EPHEMERALS - 1):]
    kept.append({"user": user_id, "channel": channel_id, "text": text, "blocks": blocks, "ts": f"{time.time():.6f}"})
    request.session[SESSION_EPHEMERALS] = kept


def _failure_text(answer: slack.AppAnswer) -> str:
    """What went wrong, as Slack's client says it ("failed with the error …"): never the app's HTML error
    page, whose markup would show as text; the app's log (`bin/run`'s output) has the detail."""
    if not answer.status:
        return "The app did not answer (is it running?); see the terminal running `bin/run`."
    text = answer.text.strip()
    if not text or text.startswith("<") or "<html" in text[:500].lower():
        return f"The app answered HTTP {answer.status}; its log (the terminal running `bin/run`) says why."
    return f"The app answered HTTP {answer.status}: {text[:300]}"


def _after(request, user_id, channel_id, answer: slack.AppAnswer, trigger_id: str, back: str):
    """Show what the app did with a command or click: a modal it opened, or its answer as an ephemeral."""
    if answer.status != 200:
        _remember_ephemeral(request, user_id, channel_id, f"_{_failure_text(answer)}_")
        return HttpResponseRedirect(back)
    if answer.body and (answer.body.get("text") or answer.body.get("blocks")):
        _remember_ephemeral(request, user_id, channel_id, answer.body.get("text", ""), answer.body.get("blocks"))
    opened = inspect("opened", trigger_id=trigger_id).get("view_id")
    if opened:
        return HttpResponseRedirect(f"{back}?modal={opened}")
    return HttpResponseRedirect(back)


def _safe_back(request, user_id) -> str:
    back = request.POST.get("back") or ""
    prefix = reverse("demo:channel", args=[user_id])
    if back.startswith(prefix) and url_has_allowed_host_and_scheme(back, allowed_hosts=None):
        return back
    return prefix


@require_POST
@demo_view
def command(request, user_id):
    workspace = Workspace.load()
    user = workspace.person(user_id)
    back = _safe_back(request, user_id)
    channel_id = request.POST.get("channel") or workspace.dm_of(user_id)
    typed = (request.POST.get("text") or "").strip()
    name, rest = (typed.split(None, 1) + [""])[:2] if typed else ("", "")
    if name != "/timeoff":
        # As Slack answers a command no app registered (`/timeoffs`): the app never hears of it.
        said = (f"`{escape(name[:50])}` is not a valid command. " if name.startswith("/") else "")
        _remember_ephemeral(request, user_id, channel_id, f"{said}This demo knows one command: `/timeoff` "
                            "(try `/timeoff help`). Messages are not posted.")
        return HttpResponseRedirect(back)
    trigger_id = slack.new_trigger_id()
    text = slack.escape_command_text(
        rest.strip(),
        users={u["name"].lower(): u["id"] for u in workspace.users.values() if not u["deleted"]},
        channels={c["name"].lower(): c["id"] for c in workspace.channels.values() if c["name"]})
    fields = slack.command_fields(
        text=text, user_id=user_id, user_name=user["name"], channel_id=channel_id,
        channel_name=workspace.channel_name(channel_id), trigger_id=trigger_id,
        response_url=f"{fake_base_url()}response_url/{user_id}/{channel_id}/{int(time.time() * 1000)}",
    )
    answer = slack.send(_app_url(request, "slack-commands"), slack.form_body(fields),
                        content_type="application/x-www-form-urlencoded", signing_secret=settings.SLACK_SIGNING_SECRET)
    return _after(request, user_id, channel_id, answer, trigger_id, back)


@require_POST
@demo_view
def shortcut(request, user_id):
    """The shortcuts menu's *Request time off*: Slack sends a `shortcut` payload, the app opens its form."""
    workspace = Workspace.load()
    user = workspace.person(user_id)
    back = _safe_back(request, user_id)
    callback_id = request.POST.get("callback_id", "")
    if callback_id not in {s["callback_id"] for s in manifest_shortcuts()}:
        raise Http404("no such shortcut")  # Slack offers only what the app's manifest declares
    trigger_id = slack.new_trigger_id()
    payload = slack.global_shortcut(user=slack.slack_user(user_id, user["name"]), callback_id=callback_id,
                                    trigger_id=trigger_id)
    answer = _send_interaction(request, payload)
    return _after(request, user_id, workspace.dm_of(user_id), answer, trigger_id, back)


@require_POST
@demo_view
def click(request, user_id):
    """A button on a message, an ephemeral message or App Home: find it again where it lives, send the click."""
    workspace = Workspace.load()
    user = workspace.person(user_id)
    back = _safe_back(request, user_id)
    try:
        block_index, element_index = int(request.POST["block"]), int(request.POST["element"])
    except (KeyError, ValueError):
        raise Http404("which button?") from None
    where, channel_id, ts = request.POST.get("where"), request.POST.get("channel", ""), request.POST.get("ts", "")
    trigger_id = slack.new_trigger_id()
    me = slack.slack_user(user_id, user["name"])
    if where == "home":
        view = inspect("view", id=request.POST.get("view", "")).get("view")
        found = slack.element_at((view or {}).get("blocks"), block_index, element_index)
        if not view or not found:
            raise Http404("that button is gone")
        action = slack.action_of(found[1], found[0], block_index, element_index)
        payload = slack.view_block_actions(user=me, view=view, values={}, action=action, trigger_id=trigger_id)
        return _after(request, user_id, workspace.dm_of(user_id), _send_interaction(request, payload), trigger_id,
                      back)
    message, blocks = _clicked_message(request, where, user_id, channel_id, ts)
    found = slack.element_at(blocks, block_index, element_index)
    if not found:
        raise Http404("that button is gone")
    action = slack.action_of(found[1], found[0], block_index, element_index)
    payload = slack.message_block_actions(
        user=me, channel_id=channel_id, channel_name=workspace.channel_name(channel_id), message=message,
        message_ts=ts, action=action, trigger_id=trigger_id, is_ephemeral=where != "message",
        response_url=f"{fake_base_url()}response_url/{user_id}/{channel_id}/{int(time.time() * 1000)}")
    return _after(request, user_id, channel_id, _send_interaction(request, payload), trigger_id, back)


def _clicked_message(request, where, user_id, channel_id, ts) -> tuple[dict | None, list]:
    if where == "message":
        thread = inspect("thread", channel=channel_id, ts=ts).get("messages") or []
        message = next((m for m in thread if m["ts"] == ts), None)
        if message is None:
            raise Http404("that message is gone")
        return message, message.get("blocks") or []
    if where == "ephemeral":
        found = next((e for e in inspect("ephemerals", user=user_id)["ephemerals"]
                      if e["message_ts"] == ts and e["channel"] == channel_id), None)
        if found is None:
            raise Http404("that message is gone")
        return None, found.get("blocks") or []
    if where == "local":
        kept = request.session.get(SESSION_EPHEMERALS, [])
        found = next((e for e in kept if e["ts"] == ts and e["user"] == user_id), None)
        if found is None:
            raise Http404("that message is gone")
        return None, found.get("blocks") or []
    raise Http404("which message?")


@require_POST
@demo_view
def modal(request, user_id, view_id):
    """The modal's form: a changed element (block_actions), a button in it, Cancel, or the submit button."""
    workspace = Workspace.load()
    user = workspace.person(user_id)
    back = _safe_back(request, user_id)
    found = inspect("view", id=view_id)
    if not found.get("ok"):
        raise Http404("that view is gone")
    view = found["view"]
    modals = request.session.get(SESSION_MODALS, {})
    if "_close" in request.POST:
        modals.pop(view_id, None)
        request.session[SESSION_MODALS] = modals
        if view.get("notify_on_close"):
            _send_interaction(request, {"type": "view_closed", "team": {"id": slack.TEAM_ID},
                                        "user": slack.slack_user(user_id, user["name"]), "view": view,
                                        "api_app_id": slack.APP_ID, "is_cleared": False})
        return HttpResponseRedirect(back)
    values, shown, client_errors = slack.form_state(view.get("blocks"), request.POST)
    me = slack.slack_user(user_id, user["name"])
    trigger_id = slack.new_trigger_id()
    changed = request.POST.get("_dispatch") or request.POST.get("_action")
    if changed:
        i, _, j = changed.partition(".")
        # ASCII digits only: "²".isdigit() is true, and int("²") raises.
        located = (slack.element_at(view.get("blocks"), int(i), int(j))
                   if DIGITS.fullmatch(i) and DIGITS.fullmatch(j) else None)
        if located is None:
            raise Http404("no such element")
        block, element = located
        state = values.get(slack.block_id_of(block, int(i)), {}).get(slack.action_id_of(element, int(i), int(j)))
        action = slack.action_of(element, block, int(i), int(j), state)
        modals[view_id] = {"values": shown, "errors": {}}
        request.session[SESSION_MODALS] = modals
        _send_interaction(request, slack.view_block_actions(user=me, view=view, values=values, action=action,
                                                            trigger_id=trigger_id))
        return HttpResponseRedirect(f"{back}?modal={view_id}")
    if client_errors:  # Slack's client does not send a form with a required field empty
        modals[view_id] = {"values": shown, "errors": client_errors}
        request.session[SESSION_MODALS] = modals
        return HttpResponseRedirect(f"{back}?modal={view_id}")
    answer = _send_interaction(request, slack.view_submission(user=me, view=view, values=values,
                                                              trigger_id=trigger_id))
    body = answer.body or {}
    if answer.status == 200 and body.get("response_action") == "errors":
        modals[view_id] = {"values": shown, "errors": body.get("errors") or {}}
    elif answer.status == 200 and body.get("response_action") in (None, "clear"):
        modals.pop(view_id, None)
        request.session[SESSION_MODALS] = modals
        return HttpResponseRedirect(back)
    else:
        notice = (_failure_text(answer) if answer.status != 200 else
                  f"unsupported response_action: {body.get('response_action')}")
        modals[view_id] = {"values": shown, "errors": {}, "notice": notice}
    request.session[SESSION_MODALS] = modals
    return HttpResponseRedirect(f"{back}?modal={view_id}")


@require_POST
@demo_view
def open_home(request, user_id):
    """Opening the app's Home tab: Slack sends app_home_opened, and the app publishes the view."""
    workspace = Workspace.load()
    workspace.person(user_id)
    view = inspect("home", user=user_id).get("view")
    envelope = slack.app_home_opened(user_id=user_id, channel_id=workspace.dm_of(user_id), view=view)
    slack.send(_app_url(request, "slack-events"), json.dumps(envelope).encode(), content_type="application/json",
               signing_secret=settings.SLACK_SIGNING_SECRET)
    return HttpResponseRedirect(reverse("demo:home", args=[user_id]))


@require_GET
@demo_view
def poll(request):
    """What the page compares with its own version, to reload when the workspace changed."""
    return JsonResponse({"version": inspect("version")["version"]})
