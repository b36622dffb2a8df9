"""The modals the Slack edge opens: the request form and the reject reason.

Pure builders from plain data to Slack views; the handlers in
`request_form.py` and `decision_handlers.py` open and update them.
"""

import json
from datetime import date

from approvals import block_ids as ids
from approvals.block_kit import context, mention, plain, section
from approvals.config_types import LeaveTypeConfig
from approvals.messages import MAX_NOTE_CHARS, MAX_REASON_CHARS

HALF_OPTIONS = {
    ids.HALF_START_PM: "First day: afternoon only",
    ids.HALF_END_AM: "Last day: morning only",
}


# A static_select holds at most 100 options, or 100 groups of at most 100 options each.
SELECT_OPTIONS_MAX = 100


# Slack shows (and takes) at most 75 characters of an option's text; a leave type's name may have 100.
OPTION_TEXT_MAX = 75


# Letters of the name a cut label keeps at least, before it keeps the emoji in front of them.
NAME_KEPT_MIN = 12


def leave_type_option(leave_type: LeaveTypeConfig) -> dict:
    """The type as the menu offers it. A label longer than an option's text is cut and ends with the type's
    code: two names alike in their first 75 characters still read apart (codes are unique). The name's start
    is kept first; the emoji only whole, when it leaves room for that."""
    label = leave_type.label
    if len(label) > OPTION_TEXT_MAX:
        ending = f"… ({leave_type.code})"
        room = OPTION_TEXT_MAX - len(ending)
        emoji = f"{leave_type.emoji} " if leave_type.emoji else ""
        if len(emoji) + NAME_KEPT_MIN > room:
            emoji = ""
        label = emoji + leave_type.name[:room - len(emoji)].rstrip() + ending
    return {"text": plain(label), "value": leave_type.code}


def leave_type_choices(leave_types: tuple[LeaveTypeConfig, ...]) -> dict:
    """The select's options: every type, in HR's order. More than 100 go in groups of 100 (Slack refuses a
    101st option): cut at 100, the rest could not be asked for, and a form opened on one of them (a
    prefilled `/timeoff`, an edit) named an initial option that was not offered, which Slack refuses."""
    options = [leave_type_option(t) for t in leave_types]
    if len(options) <= SELECT_OPTIONS_MAX:
        return {"options": options}
    return {"option_groups": [
        {"label": plain(f"Leave types {first + 1}–{first + len(chunk)}"), "options": chunk}
        for first in range(0, len(options), SELECT_OPTIONS_MAX)[:SELECT_OPTIONS_MAX]
        for chunk in [options[first:first + SELECT_OPTIONS_MAX]]]}


def request_modal(
    *,
    leave_types: tuple[LeaveTypeConfig, ...],
    selected_type: str | None = None,
    start: date | None = None,
    end: date | None = None,
    half_values: tuple[str, ...] = (),
    preview: str = "Pick your dates to see how many working days this is.",
    private_metadata: dict | None = None,
    editing: bool = False,
    recording_for: str | None = None,
) -> dict:
    """The `/timeoff` form (or the same form editing a pending request). Dates and the type
    dispatch actions so the preview can follow them."""
    selected = next((t for t in leave_types if t.code == selected_type), None)
    type_select = {
        "type": "static_select",
        "action_id": ids.TYPE_ACTION,
        "placeholder": plain("Choose a leave type"),
        **leave_type_choices(leave_types),
    }
    if selected and leave_types.index(selected) < SELECT_OPTIONS_MAX ** 2:
        type_select["initial_option"] = leave_type_option(selected)
    start_picker = {"type": "datepicker", "action_id": ids.START_ACTION, "placeholder": plain("First day off")}
    if start:
        start_picker["initial_date"] = start.isoformat()
    end_picker = {"type": "datepicker", "action_id": ids.END_ACTION, "placeholder": plain("Last day off")}
    if end:
        end_picker["initial_date"] = end.isoformat()

    blocks = [section(f"Recording time off for {mention(recording_for)}: approved at once, and they are told.")] \
        if recording_for else []
    blocks += [
        {"type": "input", "block_id": ids.TYPE_BLOCK, "dispatch_action": True, "label": plain("Leave type"),
         "element": type_select},
        {"type": "input", "block_id": ids.START_BLOCK, "dispatch_action": True, "label": plain("From"),
         "element": start_picker},
        {"type": "input", "block_id": ids.END_BLOCK, "dispatch_action": True, "label": plain("To (inclusive)"),
         "element": end_picker},
    ]
    if selected is None or selected.allow_half_days:
        blocks.append(half_days_block(half_values))
    blocks += [
        {"type": "input", "block_id": ids.NOTE_BLOCK, "optional": True,
         "label": plain("New note (empty keeps the old one)" if editing
                        else "Note (shown with the record)" if recording_for else "Note for your approvers"),
         "element": {"type": "plain_text_input", "action_id": ids.NOTE_ACTION, "multiline": True,
                     "max_length": MAX_NOTE_CHARS}},
        context(preview, block_id=ids.PREVIEW_BLOCK),
    ]
    return {
        "type": "modal",
        "callback_id": ids.REQUEST_MODAL,
        "title": plain("Edit request" if editing else "Record time off" if recording_for else "Request time off"),
        "submit": plain("Save changes" if editing else "Record" if recording_for else "Send request"),
        "close": plain("Cancel"),
        "private_metadata": json.dumps(private_metadata or {}),
        "blocks": blocks,
    }


def half_days_block(selected_values: tuple[str, ...] = ()) -> dict:
    options = [{"text": plain(label), "value": value} for value, label in HALF_OPTIONS.items()]
    element = {"type": "checkboxes", "action_id": ids.HALF_ACTION, "options": options}
    initial = [option for option in options if option["value"] in selected_values]
    if initial:
        element["initial_options"] = initial
    return {"type": "input", "block_id": ids.HALF_BLOCK, "optional": True, "dispatch_action": True,
            "label": plain("Half days"), "element": element}


def reject_modal(*, private_metadata: dict, requester: str, summary: str) -> dict:
    return {
        "type": "modal",
        "callback_id": ids.REJECT_MODAL,
        "title": plain("Reject request"),
        "submit": plain("Reject"),
        "close": plain("Back"),
        "private_metadata": json.dumps(private_metadata),
        "blocks": [
            section(f"Rejecting {mention(requester)}'s request: {summary}"),
            {"type": "input", "block_id": ids.REASON_BLOCK, "label": plain("Reason (sent to the requester)"),
             "element": {"type": "plain_text_input", "action_id": ids.REASON_ACTION, "multiline": True,
                         "min_length": 2, "max_length": MAX_REASON_CHARS}},
        ],
    }


def notice_modal(*, title: str, text: str) -> dict:
    """A modal that only says something: the answer to a shortcut, which has no channel to answer in."""
    return {
        "type": "modal",
        "title": plain(title),
        "close": plain("Close"),
        "blocks": [section(text)],
    }
