"""The request modal on the request path: open it, keep its preview live, accept its submission.

Handlers only translate: a payload into a service call, the result into a
response. Only `views.open` / `views.update` are called here, through the
in-request client (2 s timeout, no sleeping on 429); the rest is the services'.
"""

import json
import logging
import re
import uuid
from dataclasses import dataclass
from datetime import date

from django.core.cache import cache
from slack_sdk.errors import SlackApiError, SlackClientError

from approvals import block_ids as ids
from approvals import change_services, messages, request_services, rules, tasks
from approvals.block_kit import escape, unescape
from approvals.config_fields import ISO_DATE, without_hidden_characters
from approvals.config_store import current_config
from approvals.config_types import WorkspaceConfig
from approvals.directory import acts_as_hr, hr_unable
from approvals.selectors import (MAX_REQUEST_DAYS, CachedRequester, RequestDraft, local_today, request_preview_cached,
                                 requester_context)
from approvals.slack_clients import in_request_client
from slackbot import modals, typed_dates
from slackbot.commands import HELP_TEXT
from slackbot.payloads import BadPayload, SlashCommand, require_dict, require_text, typed_text
from slackbot.responses import SlackResponse, ack, ephemeral, modal_not_opened_text, view_errors

logger = logging.getLogger(__name__)

# The service's fields (rules.FIELD_*) to the form's input blocks.
FIELD_BLOCKS = {
    rules.FIELD_TYPE: ids.TYPE_BLOCK,
    rules.FIELD_START: ids.START_BLOCK,
    rules.FIELD_END: ids.END_BLOCK,
    rules.FIELD_HALF: ids.HALF_BLOCK,
}


@dataclass(frozen=True)
class FormValues:
    leave_type: str | None = None
    start: date | None = None
    end: date | None = None
    halves: tuple[str, ...] = ()
    note: str = ""

    @property
    def start_half(self) -> str | None:
        return "pm" if ids.HALF_START_PM in self.halves else None

    @property
    def end_half(self) -> str | None:
        return "am" if ids.HALF_END_AM in self.halves else None

    @property
    def draft(self) -> RequestDraft:
        return RequestDraft(self.leave_type, self.start, self.end, self.start_half, self.end_half)


def parse_iso_date(text) -> date | None:
    """A `YYYY-MM-DD` (ASCII digits: ISO_DATE) that is a real day; anything else is None.
    date.fromisoformat alone is too lenient: since Python 3.11 it also takes week dates (2031-W11-1),
    20261221 and 2026-12."""
    if not isinstance(text, str) or not ISO_DATE.fullmatch(text):
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:  # 2026-02-30
        return None


def form_values(view: dict) -> FormValues:
    """Read the modal's state.values; anything missing or odd reads as not filled in."""
    state = view.get("state") or {}
    values = (state.get("values") if isinstance(state, dict) else None) or {}
    if not isinstance(values, dict):
        raise BadPayload("view state values are not an object")

    def element(block_id: str, action_id: str) -> dict:
        block = values.get(block_id)
        value = block.get(action_id) if isinstance(block, dict) else None
        return value if isinstance(value, dict) else {}

    selected = element(ids.TYPE_BLOCK, ids.TYPE_ACTION).get("selected_option")
    checked = element(ids.HALF_BLOCK, ids.HALF_ACTION).get("selected_options") or []
    note = element(ids.NOTE_BLOCK, ids.NOTE_ACTION).get("value")
    leave_type = selected.get("value") if isinstance(selected, dict) else None
    return FormValues(
        leave_type=leave_type if isinstance(leave_type, str) else None,
        start=parse_iso_date(element(ids.START_BLOCK, ids.START_ACTION).get("selected_date")),
        end=parse_iso_date(element(ids.END_BLOCK, ids.END_ACTION).get("selected_date")),
        halves=tuple(o.get("value") for o in checked if isinstance(o, dict) and isinstance(o.get("value"), str))
        if isinstance(checked, list) else (),
        # Slack's form holds at most MAX_NOTE_CHARS (its max_length), but a payload is only as good as its
        # sender: a longer note would be shown back in full in a refusal DM, past the 40,000 characters Slack
        # takes (msg_too_long), and the requester would not hear why nothing was sent. Cut to what the form allows.
        note=typed_text(note).strip()[:messages.MAX_NOTE_CHARS] if isinstance(note, str) else "",
    )


# --- /timeoff [start] [end] [type] --------------------------------------------------------


def command_request(command: SlashCommand) -> SlackResponse:
    config, requester, _ = requester_context(command.user_id)  # one round trip
    if (refusal := messages.not_set_up_text(config)) is not None:  # before its words: no leave type to name
        return ephemeral(refusal)
    prefill = parse_prefill(command.words, config,
                            today=local_today(requester.timezone) if requester.timezone else None)
    if isinstance(prefill, str):
        return ephemeral(f"{prefill}\n\n{HELP_TEXT}")
    if (refusal := request_refusal(config, requester, command.user_id)) is not None:
        return ephemeral(refusal)
    if failure := open_request_form(config, command.user_id, command.trigger_id, prefill, requester=requester):
        return ephemeral(modal_not_opened_text(failure, form="the request form", again="try `/timeoff` again"))
    return ack()


def shortcut_request(payload: dict) -> SlackResponse:
    """The global shortcut "Request time off" (Slack's shortcuts menu and search): the same form as
    `/timeoff`. A shortcut has no channel to answer in, so a refusal is a small modal instead of an
    ephemeral message, and when Slack refuses to open either modal, a DM says why."""
    user = require_text(require_dict(payload, "user"), "id")
    open_form_where_no_channel(user, require_text(payload, "trigger_id"),
                               again="use the “Request time off” shortcut again")
    return ack()


def open_form_where_no_channel(user: str, trigger_id: str, *, again: str) -> None:
    """The request form, opened from somewhere with no channel to answer in (the shortcut, App Home's
    button): a refusal is a small modal instead of an ephemeral message, and when Slack refuses to open
    either modal, a DM says why (tell_user with no channel DMs)."""
    config, requester, _ = requester_context(user)
    refusal = request_refusal(config, requester, user)
    if refusal is not None:
        if open_notice(user, trigger_id, refusal):
            tasks.tell_user.enqueue("", user, refusal)  # what the modal would have said
    elif failure := open_request_form(config, user, trigger_id, FormValues(), requester=requester):
        tasks.tell_user.enqueue("", user, modal_not_opened_text(failure, form="the request form", again=again))


def open_notice(user: str, trigger_id: str, text: str) -> Exception | None:
    """A small modal that only says `text`; None when it opened, else why not."""
    try:
        in_request_client().views_open(trigger_id=trigger_id, view=modals.notice_modal(title="Time off", text=text))
    except (SlackApiError, SlackClientError, OSError) as exc:
        logger.warning("views.open failed user=%s error=%s", user, describe(exc))
        return exc
    return None


def request_refusal(config: WorkspaceConfig, requester: CachedRequester, user: str) -> str | None:
    """Why this person cannot ask for time off, as far as the cache knows; None when they may (or
    when the cache does not know yet: the submission checks again)."""
    if (refusal := messages.not_set_up_text(config)) is not None:
        return refusal
    if requester.allowed is False:
        refusal = (messages.outsider_text() if requester.outsider
                   else messages.not_allowed_text(config, unable=hr_unable(config)))
        return f"Sorry, {refusal}."
    if requester.team_known and requester.team is None:
        no_team = messages.no_team_text(config, cause=requester.no_team_cause, hr=acts_as_hr(config, user),
                                        unable=hr_unable(config))
        return f"Sorry, {no_team}."
    return None


def open_request_form(config: WorkspaceConfig, user: str, trigger_id: str, prefill: FormValues, *,
                      editing: str | None = None, owner: str | None = None, recording_for: str | None = None,
                      requester: CachedRequester | None = None,
                      editing_of: tuple[str, str] | None = None) -> Exception | None:
    """Open the form: for a new request, to edit request `editing` (of `owner`, when HR edits someone
    else's; `editing_of`: its team and channel, as far as known), or for HR to record leave for
    `recording_for`. None when it opened, else why Slack did not let us (for modal_not_opened_text).
    `requester`: what the caller read of `user`."""
    if editing:
        # Whose request it is, when not the editor's own: the preview shows their days and balance.
        metadata = {"edit": editing, **({"user": owner} if owner and owner != user else {})}
        if editing_of is not None:
            # The team it is of, for the preview and the form's checks while the cache does not know the
            # request: an edit is judged on its team's calendar, though its person moved to another team.
            metadata["of"] = list(editing_of)
        if prefill.leave_type and prefill.start and prefill.end:
            # The request as the form shows it: sent after someone else changed it, it would undo that.
            metadata["v"] = messages.version_of(prefill.leave_type, prefill.start, prefill.end,
                                                "pm" if "start_pm" in prefill.halves else None,
                                                "am" if "end_am" in prefill.halves else None)
    else:
        metadata = {"for": recording_for} if recording_for else None
    person = recording_for or (metadata or {}).get("user") or user
    view = modals.request_modal(
        leave_types=config.leave_types,
        selected_type=prefill.leave_type,
        start=prefill.start,
        end=prefill.end,
        half_values=prefill.halves,
        preview=request_preview_cached(config, person, prefill.draft,
                                       requester=requester if person == user else None, replacing=editing,
                                       recorded=recording_for is not None, replacing_of=editing_of),
        private_metadata=metadata,
        editing=editing is not None,
        recording_for=recording_for,
    )
    try:
        in_request_client().views_open(trigger_id=trigger_id, view=view)
    except (SlackApiError, SlackClientError, OSError) as exc:
        logger.warning("views.open failed user=%s error=%s", user, describe(exc))
        return exc
    request_services.request_form_opened(user)
    return None


# Words between two dates that say "from … to …": `/timeoff 2026-12-21 to 2026-12-23`, and the dash our own
# messages write between dates, which people paste back.
RANGE_WORDS = frozenset({"to", "until", "till", "through", "thru", "-", "–", "—", "..", "→"})
JOINED_RANGE = re.compile(r"([0-9]{4}-[0-9]{2}-[0-9]{2})(?:–|—|\.\.|→|-)([0-9]{4}-[0-9]{2}-[0-9]{2})")
# Not ";" or ":": Slack sends a typed "<" as "&lt;", and an emoji code ends in a colon.
TRAILING_PUNCTUATION = ",.!?"


def prefill_words(words: list[str]) -> list[str]:
    """The command's words as the pre-fill reads them: without invisible characters (pasted text carries
    them), range words and trailing punctuation; `2026-12-21–2026-12-23` as two dates."""
    found = []
    for word in words:
        word = without_hidden_characters(word)
        if word.lower() in RANGE_WORDS:
            continue
        word = word.rstrip(TRAILING_PUNCTUATION) or word  # "?" alone stays, and is not understood
        if joined := JOINED_RANGE.fullmatch(word):
            found += [joined.group(1), joined.group(2)]
        elif word:
            found.append(word)
    return found


def leave_type_at(words: list[str], config: WorkspaceConfig) -> tuple[str, int] | None:
    """The leave type `words` begin with, and how many words name it: its code, its name (any case,
    "Sick leave" in two words) or its emoji (":palm_tree:"); the longest name first."""
    first = words[0].casefold()
    for leave_type in sorted(config.leave_types, key=lambda t: -len(t.name.split())):
        name = leave_type.name.casefold().split()
        if len(name) > 1 and [word.casefold() for word in words[:len(name)]] == name:
            return leave_type.code, len(name)
    if config.leave_type(first):
        return first, 1
    for leave_type in config.leave_types:
        if first in (leave_type.name.casefold(), (leave_type.emoji or "").casefold()):
            return leave_type.code, 1
    return None


def parse_prefill(words: list[str], config: WorkspaceConfig, *, today: date | None = None,
                  around: date | None = None) -> FormValues | str:
    """`/timeoff 2026-12-21 2026-12-23 vacation`: dates and a leave type (its code, name or emoji), in any
    order, with "to" or a dash between the dates if you like; a date also as `21 Dec`, `Dec 21-23`,
    `tomorrow` or `friday` (typed_dates). `today`: the person's (their time zone), for the words that count
    from it; None when it is not known yet, when those leave the dates to the form rather than guess a day
    that may be off by one. `around`: the day a date typed without its year is placed near (default
    `today`, else the server's)."""
    words = prefill_words(words)
    around = around or today or date.today()
    dates, year_given, questions, leave_type, index = [], [], [], None, 0
    mentioned, day_unknown = 0, False  # `tomorrow` while the person's today is not known
    while index < len(words):
        word = words[index]
        typed = typed_dates.days_at(words[index:], today=today, around=around)
        if isinstance(typed, str):
            return typed
        if typed is None and len(dates) == 1 and (number := typed_dates.DAY_OF_MONTH.fullmatch(word.casefold())):
            # `Dec 21 - 23`, `21 Dec to 23`: a bare day after a date is of the same month.
            typed = typed_dates.later_day_of_month(dates[0], int(number.group(1)), year_given[0], word)
            if isinstance(typed, str):
                return typed
        if typed is not None:
            day_unknown = day_unknown or not typed.days
            mentioned += len(typed.days) or 1
            dates += typed.days
            year_given += [typed.year_given] * len(typed.days)
            questions += [typed.question] * len(typed.days)
            index += typed.words
            continue
        if (named := leave_type_at(words[index:], config)) is None:
            known = f" or a leave type ({known_codes(config)})" if config.leave_types else ""
            # Slack sends a command's `&`, `<` and `>` escaped: shown as typed, escaped once.
            return (f"I didn't understand `{escape(unescape(word)[:100])}`: expected a date (YYYY-MM-DD, "
                    f"`21 Dec`, `tomorrow`, `friday`){known}.")
        code, length = named
        if leave_type is not None and code != leave_type:
            return f"Give one leave type: `{leave_type}` or `{code}`."
        leave_type, index = code, index + length
    if mentioned > 2:
        return "Give at most two dates: the first and the last day off."
    if day_unknown:  # `tomorrow to 2026-12-23`: both dates to the form, not one of them as both
        dates = []
    start = dates[0] if dates else None
    end = dates[1] if len(dates) > 1 else start
    if start and end and len(dates) > 1 and year_given[0] != year_given[1]:
        # A year typed on one end only is the range's (`Dec 30 2031 to Jan 2`, `21 Dec to 23 Dec 2031`): the
        # other end is placed next to it, not near today.
        if year_given[0]:
            end = typed_dates.first_on_or_after(end, start)
        else:
            start = typed_dates.last_on_or_before(start, end)
    elif start and end and len(dates) > 1 and not year_given[0]:
        # Neither end has its year: the last day is the first one on or after the first day with that date
        # (`Nov 2 to Nov 6` is of one year however near a month back today is; `Dec 28 to Jan 2`: the
        # January after), never a range running back a year.
        end = typed_dates.first_on_or_after(end, start)
    for end_index, question in enumerate(questions[:len(dates)]):
        # 29 February typed without a year: asked about, unless the range's other end gave a leap year.
        placed = (start, end)[end_index]
        settled = len(dates) > 1 and year_given[1 - end_index] and (placed.month, placed.day) == (2, 29)
        if question and not settled:
            return question
    return FormValues(leave_type=leave_type, start=start, end=end)


def action_update_preview(payload: dict, action: dict) -> SlackResponse:
    """A date, the type or a half-day box changed: redraw the form with a fresh preview."""
    view = require_dict(payload, "view")
    user = payload["user"]["id"]
    config = current_config()
    values = form_values(view)
    # Someone else's form ("for", or HR's edit of someone's request) only for HR: the metadata is ours, but
    # a modified client can send any, and the preview would show that person's balance and leave.
    hr = acts_as_hr(config, user)
    recording_for = (modal_metadata(view) or {}).get("for")
    recording_for = recording_for if isinstance(recording_for, str) and hr else None
    owner = form_owner(view) if hr else None
    editing = (modal_metadata(view) or {}).get("edit")
    editing = editing if isinstance(editing, str) else None
    new_view = modals.request_modal(
        leave_types=config.leave_types,
        selected_type=values.leave_type,
        start=values.start,
        end=values.end,
        half_values=values.halves,
        preview=request_preview_cached(config, recording_for or owner or user, values.draft,
                                       replacing=editing, recorded=recording_for is not None,
                                       replacing_of=edited_request_of(view) if editing else None),
        private_metadata=modal_metadata(view),
        editing=editing is not None,
        recording_for=recording_for,
    )
    view_id = require_text(view, "id")
    clicked_at = _action_ts(action)
    client = in_request_client()
    try:
        _redrawn(view_id, clicked_at, client.views_update(view_id=view_id, hash=view.get("hash"), view=new_view))
    except SlackApiError as exc:
        # hash_conflict: another redraw changed the view since this click's payload was made. When that
        # one was for an earlier click (two quick changes, their redraws landing in order), this one,
        # the person's last choice, is drawn over it; an older click arriving late is dropped.
        latest = cache.get(_redraw_key(view_id))
        if describe(exc) != "hash_conflict" or not latest or latest[0] >= clicked_at:
            logger.info("preview update skipped user=%s error=%s", user, describe(exc))
            return ack()
        try:
            _redrawn(view_id, clicked_at, client.views_update(view_id=view_id, hash=latest[1], view=new_view))
        except (SlackApiError, SlackClientError, OSError) as again:
            logger.info("preview update skipped user=%s error=%s", user, describe(again))
    except (SlackClientError, OSError) as exc:
        logger.info("preview update skipped user=%s error=%s", user, describe(exc))
    return ack()


# How long the last redraw of a form is remembered: quick changes come seconds apart.
REDRAW_MEMORY_SECONDS = 5 * 60


def _redraw_key(view_id: str) -> str:
    return f"form-redraw:{view_id}"


def _action_ts(action: dict) -> float:
    try:
        return float(action.get("action_ts") or 0)
    except (TypeError, ValueError):
        return 0.0


def _redrawn(view_id: str, clicked_at: float, response) -> None:
    """Remember the click the form now shows and the hash Slack gave the redrawn view."""
    new_hash = ((response.get("view") or {}) if hasattr(response, "get") else {}).get("hash")
    if isinstance(new_hash, str) and new_hash:
        cache.set(_redraw_key(view_id), (clicked_at, new_hash), REDRAW_MEMORY_SECONDS)


def chosen_type_name(view: dict) -> str | None:
    """The leave type's name as the menu showed it (its option's text), as the person chose it."""
    try:
        option = view["state"]["values"][ids.TYPE_BLOCK][ids.TYPE_ACTION]["selected_option"]
        name = option["text"]["text"]
    except (KeyError, TypeError):
        return None
    return name if isinstance(name, str) and name.strip() else None


def form_owner(view: dict) -> str | None:
    """Whose request an edit form is for, when HR edits someone else's (its metadata's "user")."""
    owner = (modal_metadata(view) or {}).get("user")
    return owner if isinstance(owner, str) and owner else None


def edited_request_of(view: dict) -> tuple[str, str] | None:
    """The team and channel of the request an edit form is for, as its metadata names them (checked for
    shape only: they choose the calendar of the form's checks, and the task judges on the request itself)."""
    named = (modal_metadata(view) or {}).get("of")
    if isinstance(named, list) and len(named) == 2 and all(isinstance(part, str) for part in named):
        return named[0], named[1]
    return None


def modal_metadata(view: dict) -> dict | None:
    """The request modal's private_metadata (small JSON we wrote); anything else reads as none."""
    try:
        metadata = json.loads(view.get("private_metadata") or "null")
    except (TypeError, ValueError, RecursionError):
        return None
    return metadata if isinstance(metadata, dict) else None


def submit_request(payload: dict) -> SlackResponse:
    view = require_dict(payload, "view")
    values = form_values(view)
    metadata = modal_metadata(view) or {}
    editing, recording_for = metadata.get("edit"), metadata.get("for")
    clicker = payload["user"]["id"]
    # The same view submitted twice (a double click, a Slack retry) sends one request. Slack's view ids are
    # unique across the workspace, so the key needs no user; every release since claims under this key.
    dedup_key = f"submission:{view.get('id')}:{view.get('hash')}"
    # The configuration, what the cache knows of the requester and the dedup key: one round trip.
    context = request_services.submit_context(recording_for if isinstance(recording_for, str) and recording_for
                                              else clicker, dedup_key=dedup_key)
    config = context.config

    errors = {}
    leave_type = config.leave_type(values.leave_type or "")
    if leave_type is None and values.leave_type:
        # Chosen from the menu as it was when the form opened: HR deleted it since.
        errors[ids.TYPE_BLOCK] = (f"{chosen_type_name(view) or values.leave_type} is no longer offered: choose "
                                  "another leave type.")
    elif leave_type is None:
        errors[ids.TYPE_BLOCK] = "Choose a leave type."
    if values.start is None:
        errors[ids.START_BLOCK] = "Pick the first day off."
    if values.end is None:
        errors[ids.END_BLOCK] = "Pick the last day off."
    if values.start and values.end and (values.end - values.start).days > MAX_REQUEST_DAYS:
        errors[ids.END_BLOCK] = "One request can cover at most a year; send longer leave as several requests."
    if errors:
        return view_errors(errors)

    if recording_for is not None and (not isinstance(recording_for, str) or not acts_as_hr(config, clicker)):
        return view_errors({ids.TYPE_BLOCK: "Only HR (the fallback approvers) can record time off for someone else."})
    if recording_for == clicker:
        return view_errors({ids.TYPE_BLOCK: messages.own_leave_not_recorded_text()})
    submission = request_services.Submission(
        id=editing if isinstance(editing, str) and editing else str(uuid.uuid4()),
        user=recording_for or clicker,
        recorded_by=clicker if recording_for else None,
        leave_type=leave_type.code,
        start=values.start,
        end=values.end,
        start_half=values.start_half,
        end_half=values.end_half,
        note=values.note,
        validated=False,
    )
    if editing:
        seen = metadata.get("v")
        refused = change_services.request_edit_submit(submission, by=clicker, dedup_key=dedup_key,
                                                      seen=seen if isinstance(seen, str) else None,
                                                      of_team=edited_request_of(view))
    else:
        refused = request_services.request_submit(submission, dedup_key=dedup_key, context=context)
    if not refused:
        return ack()
    by_block: dict[str, str] = {}
    for field, message in refused.items():
        by_block.setdefault(FIELD_BLOCKS.get(field, ids.START_BLOCK), message)
    return view_errors(by_block)


def describe(exc: Exception) -> str:
    if isinstance(exc, SlackApiError):
        return str(exc.response.get("error"))
    return type(exc).__name__


# How many leave types' codes an answer to a word /timeoff does not know lists: a company with hundreds
# of types would make an answer longer than Slack shows (40,000 characters); the form's menu offers them all.
CODES_LISTED_MAX = 30


def known_codes(config: WorkspaceConfig) -> str:
    codes = [f"`{t.code}`" for t in config.leave_types]
    if len(codes) <= CODES_LISTED_MAX:
        return ", ".join(codes)
    return (", ".join(codes[:CODES_LISTED_MAX])
            + f" and {len(codes) - CODES_LISTED_MAX} more: the form's menu (`/timeoff` alone) offers them all")
