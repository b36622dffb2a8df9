"""The request modal on the request path: open it, keep its preview live, accept its submission.

Only `views.open` / `views.update` are called here, through the in-request
client (2 s timeout, no sleeping on 429). Everything else is enqueued.
"""

import json
import logging
import uuid
from dataclasses import dataclass, replace
from datetime import date

from django.core.cache import cache
from slack_sdk.errors import SlackApiError, SlackClientError

from approvals import directory, ledger_reader
from approvals.cache_lock import locked
from approvals.config_store import current_config
from approvals.config_types import WorkspaceConfig
from approvals.rules import LeaveRequest, format_range, request_days
from approvals.team_routing import MembershipUnknown, match_team, may_request
from slackbot import blocks, ids, tasks, workflow
from slackbot.commands import HELP_TEXT
from slackbot.payloads import BadPayload, SlashCommand, require_dict, require_text
from slackbot.responses import SlackResponse, ack, ephemeral, view_errors
from slackbot.slack_client import in_request_client

logger = logging.getLogger(__name__)

SUBMISSION_DEDUP_SECONDS = 24 * 60 * 60
MAX_REQUEST_DAYS = 366


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


def parse_iso_date(text) -> date | None:
    try:
        return date.fromisoformat(text) if isinstance(text, str) and len(text) == 10 else None
    except ValueError:
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
        note=note.strip() if isinstance(note, str) else "",
    )


# --- Who is asking: answered from the cache only -------------------------------------------


@dataclass(frozen=True)
class CachedRequester:
    allowed: bool | None  # None: not known yet (cold cache)
    team: object = None  # TeamConfig, or None for "no team" when known
    team_known: bool = False
    timezone: str | None = None


def requester_from_cache(config: WorkspaceConfig, user: str) -> CachedRequester:
    channel_members, usergroup_members = workflow.cached_lookups()
    try:
        allowed = may_request(config, user, channel_members=channel_members)
    except MembershipUnknown:
        return CachedRequester(allowed=None, timezone=directory.cached_timezone(user))
    try:
        team = match_team(config, user, channel_members=channel_members, usergroup_members=usergroup_members).team
    except MembershipUnknown:
        return CachedRequester(allowed=allowed, timezone=directory.cached_timezone(user))
    return CachedRequester(allowed=allowed, team=team, team_known=True, timezone=directory.cached_timezone(user))


# --- /timeoff [start] [end] [type] --------------------------------------------------------


def command_request(command: SlashCommand) -> SlackResponse:
    config = current_config()
    prefill = parse_prefill(command.words, config)
    if isinstance(prefill, str):
        return ephemeral(f"{prefill}\n\n{HELP_TEXT}")
    if not config.leave_types or not config.teams:
        return ephemeral("Time off isn't set up yet: HR has not configured any teams or leave types.")

    requester = requester_from_cache(config, command.user_id)
    if requester.allowed is False:
        return ephemeral(f"Sorry, {workflow.not_allowed_text(config)}.")
    if requester.team_known and requester.team is None:
        return ephemeral(f"Sorry, {workflow.no_team_text(config)}.")

    view = blocks.request_modal(
        leave_types=config.leave_types,
        selected_type=prefill.leave_type,
        start=prefill.start,
        end=prefill.end,
        preview=preview_text(config, command.user_id, prefill),
    )
    try:
        in_request_client().views_open(trigger_id=command.trigger_id, view=view)
    except (SlackApiError, SlackClientError, OSError) as exc:
        logger.warning("views.open failed user=%s error=%s", command.user_id, describe(exc))
        return ephemeral("Slack didn't let me open the request form in time. Please try `/timeoff` again.")
    # Warm what the submission will need, so it can be validated inside Slack's 3 s.
    tasks.warm_requester.enqueue(command.user_id)
    return ack()


def parse_prefill(words: list[str], config: WorkspaceConfig) -> FormValues | str:
    """`/timeoff 2026-12-21 2026-12-23 vacation`: dates and a leave type code, in any order."""
    dates, leave_type = [], None
    for word in words:
        if (day := parse_iso_date(word)) is not None:
            dates.append(day)
        elif config.leave_type(word.lower()):
            leave_type = word.lower()
        else:
            codes = ", ".join(f"`{t.code}`" for t in config.leave_types)
            known = f" or a leave type ({codes})" if codes else ""
            return f"I didn't understand `{word}`: expected a date as YYYY-MM-DD{known}."
    if len(dates) > 2:
        return "Give at most two dates: the first and the last day off."
    start = dates[0] if dates else None
    end = dates[1] if len(dates) > 1 else start
    return FormValues(leave_type=leave_type, start=start, end=end)


def preview_text(config: WorkspaceConfig, user: str, values: FormValues) -> str:
    requester = requester_from_cache(config, user)
    if requester.team_known and requester.team is None:
        who = "No team is configured for you."
    elif requester.team_known:
        who = f"Decided by the {requester.team.name} approvers."
    else:
        who = "Looking up your team…"
    if not (values.start and values.end):
        return f"Pick your dates to see how many working days this is. {who}"
    if values.end < values.start:
        return f":warning: The last day is before the first. {who}"
    if (values.end - values.start).days > MAX_REQUEST_DAYS:
        # Counting days and holidays over centuries (`/timeoff 0001-01-01 9999-12-31`) takes seconds,
        # longer than Slack waits for the modal.
        return f":warning: One request can cover at most a year. {who}"
    team = requester.team if requester.team_known and requester.team else None
    workweek = team.workweek if team else (0, 1, 2, 3, 4)
    holidays = workflow.holiday_dates(config, team, values.start, values.end) if team else {}
    leave_type = config.leave_type(values.leave_type or "")
    halves_allowed = leave_type is None or leave_type.allow_half_days
    start_half = values.start_half if halves_allowed else None
    end_half = values.end_half if halves_allowed else None
    days = request_days(LeaveRequest(user, values.leave_type or "", values.start, values.end, start_half, end_half),
                        workweek, holidays)
    dates = format_range(values.start, values.end, start_half, end_half)
    preview = f"*{blocks.days_text(days)}*: {dates}. {who}"
    history = ledger_reader.cached_ledger(config)
    if team and leave_type and history is not None and 0 <= (values.end - values.start).days <= MAX_REQUEST_DAYS:
        entry = workflow.LedgerEntry(id="preview", user=user, team=team.name, leave_type=leave_type.code,
                                     start=values.start, end=values.end, start_half=start_half, end_half=end_half,
                                     days=days, status="pending")
        preview += "\n" + workflow.ledger_context(config, history, entry, leave_type)
    return preview


def action_update_preview(payload: dict, action: dict) -> SlackResponse:
    """A date, the type or a half-day box changed: redraw the form with a fresh preview."""
    view = require_dict(payload, "view")
    user = payload["user"]["id"]
    config = current_config()
    values = form_values(view)
    new_view = blocks.request_modal(
        leave_types=config.leave_types,
        selected_type=values.leave_type,
        start=values.start,
        end=values.end,
        half_values=values.halves,
        preview=preview_text(config, user, values),
        private_metadata=modal_metadata(view),
    )
    try:
        in_request_client().views_update(view_id=require_text(view, "id"), hash=view.get("hash"), view=new_view)
    except (SlackApiError, SlackClientError, OSError) as exc:
        # A hash_conflict means a newer update already won; the preview catches up on the next change.
        logger.info("preview update skipped user=%s error=%s", user, describe(exc))
    return ack()


def modal_metadata(view: dict) -> dict | None:
    """The request modal's private_metadata (small JSON we wrote); anything else reads as none."""
    try:
        metadata = json.loads(view.get("private_metadata") or "null")
    except (TypeError, ValueError, RecursionError):
        return None
    return metadata if isinstance(metadata, dict) else None


def submit_request(payload: dict) -> SlackResponse:
    view = require_dict(payload, "view")
    user = payload["user"]["id"]
    config = current_config()
    values = form_values(view)

    errors = {}
    leave_type = config.leave_type(values.leave_type or "")
    if leave_type is None:
        errors[ids.TYPE_BLOCK] = "Choose a leave type."
    if values.start is None:
        errors[ids.START_BLOCK] = "Pick the first day off."
    if values.end is None:
        errors[ids.END_BLOCK] = "Pick the last day off."
    if values.start and values.end and (values.end - values.start).days > MAX_REQUEST_DAYS:
        errors[ids.END_BLOCK] = "One request can cover at most a year; send longer leave as several requests."
    if errors:
        return view_errors(errors)

    submission = workflow.Submission(
        id=str(uuid.uuid4()),
        user=user,
        leave_type=leave_type.code,
        start=values.start,
        end=values.end,
        start_half=values.start_half,
        end_half=values.end_half,
        note=values.note,
        validated=False,
    )
    # The same view submitted twice (a double click, a Slack retry) sends one request.
    dedup_key = f"submission:{view.get('id')}:{view.get('hash')}"
    if cache.get(dedup_key):
        logger.info("duplicate submission ignored user=%s view=%s", user, view.get("id"))
        return ack()

    requester = requester_from_cache(config, user)
    if requester.allowed is False:
        return view_errors({ids.TYPE_BLOCK: f"Sorry, {workflow.not_allowed_text(config)}."})
    if requester.team_known and requester.team is None:
        return view_errors({ids.TYPE_BLOCK: f"Sorry, {workflow.no_team_text(config)}."})
    if not (requester.allowed and requester.team and requester.timezone):
        return accept_unchecked(submission, dedup_key)

    # One submission of a person at a time: the check and joining the pending set are one step,
    # so two overlapping requests sent at once cannot both pass. The lock is per person, so
    # nobody else waits on it; the ledger is read once, under it.
    try:
        with locked(f"lock:submit:{user}"):
            history = ledger_reader.cached_ledger(config)
            if history is None:
                return accept_unchecked(submission, dedup_key)
            violations = workflow.check_submission(
                config, submission, team=requester.team, leave_type=leave_type,
                today=workflow.local_today(requester.timezone), ledger=history,
            )
            if violations:
                return view_errors(first_message_per_block(violations))
            if not cache.add(dedup_key, submission.id, SUBMISSION_DEDUP_SECONDS):
                return ack()
            submission = replace(submission, validated=True)
            ledger_reader.pending_add(
                workflow.submission_entry(config, submission, team=requester.team, leave_type=leave_type))
    except TimeoutError:
        return view_errors({ids.START_BLOCK: "Another of your requests is being sent; try again in a moment."})
    tasks.deliver_request.enqueue(submission.as_task_data())
    return ack()


def accept_unchecked(submission: workflow.Submission, dedup_key: str) -> SlackResponse:
    """A cold cache: accept now, validate in the task, DM the requester if it is refused (DESIGN §5)."""
    if cache.add(dedup_key, submission.id, SUBMISSION_DEDUP_SECONDS):
        tasks.deliver_request.enqueue(submission.as_task_data())
    return ack()


def first_message_per_block(violations) -> dict[str, str]:
    errors: dict[str, str] = {}
    for violation in violations:
        block_id = violation.field if violation.field in ids.REQUEST_INPUT_BLOCKS else ids.START_BLOCK
        errors.setdefault(block_id, violation.message)
    return errors


def describe(exc: Exception) -> str:
    if isinstance(exc, SlackApiError):
        return str(exc.response.get("error"))
    return type(exc).__name__
