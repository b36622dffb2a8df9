"""A person's own leave: `/timeoff list`, `/timeoff cancel`, the Edit / Withdraw / Cancel buttons
(on the list, the receipt DM and App Home), App Home itself and its "Request time off" button.

Handlers only translate: the changes themselves are `approvals.change_services`', in tasks.
"""

import json
import re

from approvals import block_ids as ids
from approvals import messages, tasks
from approvals.balance_services import balance_request
from approvals.change_services import CANCEL, WITHDRAW, Change, leave_list_request, request_change_later
from approvals.config_store import current_config
from approvals.home_services import console_url, home_opened
from approvals.rules import APPROVED, PENDING
from approvals.directory import acts_as_hr, cached_timezone
from approvals.selectors import local_today, request_seen_cached, requester_cached
from slackbot.balance_command import requested_year
from slackbot.decision_handlers import MAX_ID_CHARS
from slackbot.payloads import BadPayload, SlashCommand, action_time, require_text
from slackbot.request_form import (FormValues, open_form_where_no_channel, open_request_form,
                                   parse_iso_date, parse_prefill)
from slackbot.responses import SlackResponse, ack, ephemeral, modal_not_opened_text


def command_list(command: SlashCommand) -> SlackResponse:
    text, blocks = leave_list_request(command.user_id)
    return ephemeral(text, blocks)


def command_cancel(command: SlashCommand) -> SlackResponse:
    text, blocks = leave_list_request(command.user_id, only_changeable=True)
    return ephemeral(text, blocks)


def button_value(action: dict) -> dict:
    """{"id", "user", and what the request was; "channel"/"ts" of its message when known}."""
    try:
        value = json.loads(action.get("value") or "")
    except (TypeError, ValueError, RecursionError):
        value = None
    if not isinstance(value, dict) or not isinstance(value.get("id"), str) or not value["id"]:
        raise BadPayload("leave button without a request")
    if len(value["id"]) > MAX_ID_CHARS:  # ours are a uuid: a longer one is no request of ours
        raise BadPayload("leave button naming no request of ours")
    return value


def text_or_none(value) -> str | None:
    return value if isinstance(value, str) and value else None


def change_from(payload: dict, action: dict, kind: str) -> Change:
    value = button_value(action)
    # A button on `/timeoff list` (ephemeral, or a DM when the cache was cold): the list stays as it was
    # sent, so the outcome is told where it was pressed. On the receipt, which is rewritten, and on App
    # Home, which is published again, the change shows by itself.
    container = payload.get("container") if isinstance(payload.get("container"), dict) else {}
    on_a_list = container.get("is_ephemeral") is True or (
        container.get("type") == "message" and str(action.get("block_id", "")).startswith(ids.LIST_BLOCK_PREFIX))
    answer_in = (channel_of(payload) or None) if on_a_list else None
    pressed_at = action_time(action)
    return Change(request_id=value["id"], by=payload["user"]["id"], action=kind,
                  channel=text_or_none(value.get("channel")), ts=text_or_none(value.get("ts")), answer_in=answer_in,
                  pressed_at=pressed_at)


def action_withdraw(payload: dict, action: dict) -> SlackResponse:
    request_change_later(change_from(payload, action, WITHDRAW))
    return ack()


def action_cancel(payload: dict, action: dict) -> SlackResponse:
    request_change_later(change_from(payload, action, CANCEL))
    return ack()


def action_edit(payload: dict, action: dict) -> SlackResponse:
    """Open the same form, filled in with the request as it stands (its note stays unless replaced)."""
    value = button_value(action)
    user = payload["user"]["id"]
    config = current_config()
    owner = value.get("user")
    if isinstance(owner, str) and owner != user and not acts_as_hr(config, user):
        # A button on someone else's request reaches only them and HR; a forged one shows nothing of it.
        tasks.tell_user.enqueue(channel_of(payload), user, "Only the requester (or HR) can edit this request.")
        return ack()
    seen = request_seen_cached(config, owner, value["id"]) if isinstance(owner, str) else None
    if seen is not None and seen.status != PENDING:
        # A stale button (an old list or receipt): no form to fill in only to be told on sending it.
        tasks.tell_user.enqueue(channel_of(payload), user, stale_edit_text(seen))
        return ack()
    if (refusal := messages.not_set_up_text(config)) is not None:  # HR removed every leave type since
        tasks.tell_user.enqueue(channel_of(payload), user, refusal)
        return ack()
    if seen is not None:
        # As it stands now, not as the button was drawn: HR may have changed it since, and a form filled
        # in from an old list would, sent as it is, quietly undo that change.
        prefill = FormValues(leave_type=seen.leave_type, start=seen.start, end=seen.end,
                             halves=tuple(h for h, flag in (("start_pm", seen.start_half == "pm"),
                                                            ("end_am", seen.end_half == "am")) if flag))
    else:  # not in the cache: as the button was drawn (the change itself is checked against Slack)
        halves = tuple(h for h, flag in (("start_pm", value.get("sh") == "pm"), ("end_am", value.get("eh") == "am"))
                       if flag)
        prefill = FormValues(leave_type=text_or_none(value.get("type")), start=parse_iso_date(value.get("start")),
                             end=parse_iso_date(value.get("end")), halves=halves)
    # The team it is of: the cache's, else the one whose approvals channel the button names, when no other
    # team uses that channel (a name would put text HR typed into a button's value).
    channel = text_or_none(value.get("channel")) or ""
    using = [team for team in config.teams if channel and channel in team.ledger_channels]
    if seen is not None:
        of_team = (seen.team, seen.channel or "")
    elif len(using) == 1:
        of_team = ("", channel)
    elif using and (now := requester_cached(config, owner if isinstance(owner, str) else user).team) in using:
        of_team = (now.name, channel)  # teams share the channel: the person's own team, as the cache knows it
    else:
        of_team = None  # the form says what it knows of the person's team; the task judges on the request
    if failure := open_request_form(config, user, require_text(payload, "trigger_id"), prefill,
                                    editing=value["id"], owner=text_or_none(value.get("user")),
                                    editing_of=of_team):
        form_not_opened(payload, user, failure)
    return ack()


def action_new_request(payload: dict, action: dict) -> SlackResponse:
    """App Home's "Request time off": the same form as `/timeoff`, refused as the shortcut refuses."""
    open_form_where_no_channel(payload["user"]["id"], require_text(payload, "trigger_id"),
                               again="click the button again")
    return ack()


def form_not_opened(payload: dict, user: str, failure: Exception) -> None:
    """Slack did not let us open the form (the trigger lasts 3 s; views.open rate-limited or slow): say so,
    where the click was, so the click is not lost without a word. A second click gets a new trigger."""
    tasks.tell_user.enqueue(channel_of(payload), user, modal_not_opened_text(failure, form="the request form",
                                                                             again="click the button again"))


def channel_of(payload: dict) -> str:
    """Where a click was, for an ephemeral answer ("" from App Home, which has no channel: a DM)."""
    channel = (payload.get("channel") or {}).get("id") if isinstance(payload.get("channel"), dict) else None
    return channel if isinstance(channel, str) else ""


def stale_edit_text(entry) -> str:
    if entry.status == APPROVED:
        return "This request is already approved, so it can't be edited; cancel it and ask again instead."
    return f"This request is already {entry.status}, so it can't be edited any more."


def event_app_home_opened(event: dict, envelope: dict) -> SlackResponse:
    if event.get("tab", "home") != "home" or not isinstance(event.get("user"), str):
        return ack()
    home_opened(event["user"])
    return ack()


MENTION = re.compile(r"^<@([UW][A-Z0-9_]{2,30})(?:\|[^>]*)?>$")  # as Slack escapes a mention
FOR_USAGE = ("Use `/timeoff for @person [first day] [last day] [type]` to record time off for someone, or "
             "`/timeoff for @person list` to see and change theirs (`… balance` for their balance).")


def person_balance_text(user: str, words: list[str], *, hr: str) -> str:
    """HR's `/timeoff for @person balance [YEAR]`: their balances as they would see them, and where to adjust
    them (the console's Balances page)."""
    year = requested_year(words)
    if year is False:
        return f"Use `/timeoff for {messages.mention(user)} balance`, or add a year: `… balance 2027`."
    page = f"<{url}balances/|Balances>" if (url := console_url()) else "*Balances*"
    answer = balance_request(user, year, hr=hr)
    return f"{answer}\nBalances are adjusted on the HR console's {page} page."


def command_for(command: SlashCommand) -> SlackResponse:
    """HR on behalf: `/timeoff for @person …` records leave for them, `… list` shows theirs to change."""
    config = current_config()
    if not acts_as_hr(config, command.user_id):
        return ephemeral("Only HR (the fallback approvers) can record or change time off for someone else.")
    words = command.words[1:]
    person = MENTION.match(words[0]) if words else None
    if person is None:
        return ephemeral(f"Mention the person, e.g. `/timeoff for @alice`.\n{FOR_USAGE}")
    user, rest = person.group(1), words[1:]
    if rest and rest[0].lower() in ("list", "cancel"):
        text, blocks = leave_list_request(user, only_changeable=rest[0].lower() == "cancel", hr=command.user_id)
        return ephemeral(text, blocks)
    if rest and rest[0].lower() == "balance":
        return ephemeral(person_balance_text(user, rest[1:], hr=command.user_id))
    if user == command.user_id:
        return ephemeral(messages.own_leave_not_recorded_text())
    if (refusal := messages.not_set_up_text(config)) is not None:
        return ephemeral(refusal)
    zone = cached_timezone(user)  # their day, for "today" and "tomorrow"
    prefill = parse_prefill(rest, config, today=local_today(zone) if zone else None)
    if isinstance(prefill, str):
        return ephemeral(f"{prefill}\n{FOR_USAGE}")
    if failure := open_request_form(config, command.user_id, command.trigger_id, prefill, recording_for=user):
        return ephemeral(modal_not_opened_text(failure, form="the form", again="try again"))
    return ack()
