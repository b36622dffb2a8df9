"""Block Kit builders: pure functions from plain data to Slack views and messages.

Nothing here calls Slack or the database, so each builder is tested by asserting
on what it returns (and the fake Slack validates it with slack-sdk's models).
"""

import json
from datetime import date, datetime, timezone

from approvals.config_types import LeaveTypeConfig
from approvals.rules import APPROVED, CANCELLED, PENDING, REJECTED, LedgerEntry, format_range
from slackbot import ids

MAX_NOTE_CHARS = 500
MAX_REASON_CHARS = 500

STATUS_LABELS = {
    PENDING: ":hourglass_flowing_sand: Pending",
    APPROVED: ":white_check_mark: Approved",
    REJECTED: ":x: Rejected",
    CANCELLED: ":no_entry_sign: Cancelled",
}


def plain(text: str) -> dict:
    return {"type": "plain_text", "text": text, "emoji": True}


def mrkdwn(text: str) -> dict:
    return {"type": "mrkdwn", "text": text}


def section(text: str, block_id: str | None = None) -> dict:
    block = {"type": "section", "text": mrkdwn(text[:3000])}
    if block_id:
        block["block_id"] = block_id
    return block


def context(text: str, block_id: str | None = None) -> dict:
    block = {"type": "context", "elements": [mrkdwn(text[:3000])]}
    if block_id:
        block["block_id"] = block_id
    return block


def mention(user: str) -> str:
    return f"<@{user}>"


def mentions(users) -> str:
    return ", ".join(mention(u) for u in sorted(users)) or "nobody"


def slack_date(timestamp: int | None) -> str:
    """A time every reader sees in their own time zone (Slack's date formatting)."""
    if not timestamp:
        return ""
    fallback = datetime.fromtimestamp(timestamp, tz=timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{timestamp}^{{date_short_pretty}} at {{time}}|{fallback}>"


def days_text(days) -> str:
    number = f"{float(days):g}"
    return f"{number} working day" + ("" if float(days) == 1 else "s")


# --- The request modal ------------------------------------------------------------


def leave_type_option(leave_type: LeaveTypeConfig) -> dict:
    return {"text": plain(leave_type.label[:75]), "value": leave_type.code}


def request_modal(
    *,
    leave_types: tuple[LeaveTypeConfig, ...],
    selected_type: str | None = None,
    start: date | None = None,
    end: date | None = None,
    half_values: tuple[str, ...] = (),
    preview: str = "Pick your dates to see how many working days this is.",
    private_metadata: dict | None = None,
) -> dict:
    """The `/timeoff` form. Dates and the type dispatch actions so the preview can follow them."""
    selected = next((t for t in leave_types if t.code == selected_type), None)
    type_select = {
        "type": "static_select",
        "action_id": ids.TYPE_ACTION,
        "placeholder": plain("Choose a leave type"),
        "options": [leave_type_option(t) for t in leave_types[:100]],
    }
    if selected:
        type_select["initial_option"] = leave_type_option(selected)
    start_picker = {"type": "datepicker", "action_id": ids.START_ACTION, "placeholder": plain("First day off")}
    if start:
        start_picker["initial_date"] = start.isoformat()
    end_picker = {"type": "datepicker", "action_id": ids.END_ACTION, "placeholder": plain("Last day off")}
    if end:
        end_picker["initial_date"] = end.isoformat()

    blocks = [
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
        {"type": "input", "block_id": ids.NOTE_BLOCK, "optional": True, "label": plain("Note for your approvers"),
         "element": {"type": "plain_text_input", "action_id": ids.NOTE_ACTION, "multiline": True,
                     "max_length": MAX_NOTE_CHARS}},
        context(preview, block_id=ids.PREVIEW_BLOCK),
    ]
    return {
        "type": "modal",
        "callback_id": ids.REQUEST_MODAL,
        "title": plain("Request time off"),
        "submit": plain("Send request"),
        "close": plain("Cancel"),
        "private_metadata": json.dumps(private_metadata or {}),
        "blocks": blocks,
    }


HALF_OPTIONS = {
    ids.HALF_START_PM: "First day: afternoon only",
    ids.HALF_END_AM: "Last day: morning only",
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


# --- The approvals-channel message (the ledger entry's face) ------------------------


def request_summary(entry: LedgerEntry, leave_type: LeaveTypeConfig | None) -> str:
    type_label = leave_type.label if leave_type else entry.leave_type
    dates = format_range(entry.start, entry.end, entry.start_half, entry.end_half)
    return f"{type_label}, {dates} ({days_text(entry.days)})"


def request_message(
    *,
    entry: LedgerEntry,
    leave_type: LeaveTypeConfig | None,
    note: str,
    approvers: frozenset[str] | set[str],
    others_out: str = "",
) -> tuple[str, list[dict]]:
    """The message in the approvals channel: who, what, when, the note, and (while pending) buttons."""
    summary = request_summary(entry, leave_type)
    text = f"{mention(entry.user)} requests {summary}"
    if entry.status == PENDING:
        text += f" — for {mentions(approvers)}"  # the mention in the text is what notifies them
    blocks = [section(f"*{mention(entry.user)}* requests *{summary}*\nTeam: {entry.team}")]
    if note:
        blocks.append(section(quote_note(note), block_id=NOTE_TEXT_BLOCK))
    if others_out:
        blocks.append(context(others_out))
    blocks.append(context(status_line(entry)))
    if entry.status == PENDING:
        blocks.append(context(f"Approvers: {mentions(approvers)}"))
        value = json.dumps({"id": entry.id, "user": entry.user})
        blocks.append({
            "type": "actions",
            "block_id": ids.DECISION_BLOCK,
            "elements": [
                {"type": "button", "action_id": ids.APPROVE_ACTION, "style": "primary", "text": plain("Approve"),
                 "value": value},
                {"type": "button", "action_id": ids.REJECT_ACTION, "style": "danger", "text": plain("Reject"),
                 "value": value},
            ],
        })
    return text, blocks


NOTE_TEXT_BLOCK = "note_text"


def escape(text: str) -> str:
    """Slack mrkdwn escaping: a note must not mention @channel or forge links."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def unescape(text: str) -> str:
    return text.replace("&gt;", ">").replace("&lt;", "<").replace("&amp;", "&")


def quote_note(note: str) -> str:
    return ">" + escape(note.strip()[:MAX_NOTE_CHARS]).replace("\n", "\n>")


def note_from_blocks(message_blocks) -> str:
    """The note lives only in the message (never in metadata); recover it when rewriting the message."""
    for block in message_blocks:
        if isinstance(block, dict) and block.get("block_id") == NOTE_TEXT_BLOCK:
            text = (block.get("text") or {}).get("text", "")
            return unescape("\n".join(line.removeprefix(">") for line in text.split("\n")))
    return ""


def status_line(entry: LedgerEntry) -> str:
    label = STATUS_LABELS.get(entry.status, entry.status)
    if entry.status == PENDING:
        return label
    by = f" by {mention(entry.decided_by)}" if entry.decided_by else ""
    when = f" {slack_date(entry.decided_at)}" if entry.decided_at else ""
    reason = f" — {entry.reason}" if entry.reason else ""
    return f"{label}{by}{when}{reason}"


# --- Messages to people --------------------------------------------------------------


def receipt_text(entry: LedgerEntry, leave_type: LeaveTypeConfig | None, approvers) -> str:
    summary = request_summary(entry, leave_type)
    if entry.status == APPROVED:
        return f"Recorded: {summary}. It needs no approval. Enjoy!"
    return f"Your request for {summary} is with {mentions(approvers)} ({entry.team}). I'll let you know when they decide."


def decision_dm_text(entry: LedgerEntry, leave_type: LeaveTypeConfig | None) -> str:
    summary = request_summary(entry, leave_type)
    if entry.status == APPROVED:
        return f":white_check_mark: {mention(entry.decided_by)} approved your {summary}."
    reason = f"\nReason: {entry.reason}" if entry.reason else ""
    return f":x: {mention(entry.decided_by)} rejected your {summary}.{reason}"


def thread_reply_text(entry: LedgerEntry) -> str:
    verb = {APPROVED: "Approved", REJECTED: "Rejected", CANCELLED: "Cancelled"}.get(entry.status, entry.status)
    reason = f": {entry.reason}" if entry.reason else ""
    return f"{verb} by {mention(entry.decided_by)}{reason}"


def announcement_text(entry: LedgerEntry, leave_type: LeaveTypeConfig | None) -> str:
    """Who will be out, for the team channel. Private types never say what kind of leave."""
    dates = format_range(entry.start, entry.end, entry.start_half, entry.end_half)
    if leave_type is None or leave_type.private:
        return f":calendar: {mention(entry.user)} will be out {dates}."
    return f"{leave_type.emoji or ':calendar:'} {mention(entry.user)} will be out {dates} ({leave_type.name})."


def already_decided_text(entry: LedgerEntry) -> str:
    return f"This request was already {entry.status} by {mention(entry.decided_by)} {slack_date(entry.decided_at)}."


def not_an_approver_text(team_name: str) -> str:
    return f"You are not an approver for {team_name}, so you can't decide this request."


def own_request_text() -> str:
    return "You can't decide your own request; another approver will."


def request_refused_text(reasons: list[str], shown_back: str) -> str:
    listed = "\n".join(f"• {reason}" for reason in reasons)
    return f"I couldn't send your time-off request:\n{listed}\n\nWhat you asked for: {shown_back}"


def request_not_delivered_text(problem: str, shown_back: str) -> str:
    return (
        f":warning: Your time-off request did not reach your approvers: {problem}. "
        f"HR has been told. What you asked for: {shown_back}"
    )
