"""What the app posts to channels and DMs: pure builders from plain data to text and blocks.

Nothing here calls Slack or the database, so each builder is tested by asserting
on what it returns (and the fake Slack validates blocks with slack-sdk's models).
Everything a person typed goes through `escape` before it enters mrkdwn: the
note and reasons the requester and approvers type, and what HR typed into the
configuration (team and leave-type names, holiday names, blackout reasons,
which reach people through the rules' messages). The modals (the request form, the reject reason) are the Slack
edge's and live in `slackbot.modals`.
"""

import json

from approvals import block_ids as ids
from approvals.block_kit import (
    context,
    days_text,
    escape,
    mention,
    mentions,
    person,
    plain,
    section,
    slack_date,
    unescape,
)
from approvals.config_types import LeaveTypeConfig, WorkspaceConfig
from approvals.rules import APPROVED, CANCELLED, PENDING, REJECTED, LedgerEntry, format_range

MAX_NOTE_CHARS = 500
MAX_REASON_CHARS = 500
# Approvers named in a section or context (3,000 characters), with room left for the rest of its text.
MENTIONS_ROOM = 2500
NOTE_TEXT_BLOCK = "note_text"

STATUS_LABELS = {
    PENDING: ":hourglass_flowing_sand: Pending",
    APPROVED: ":white_check_mark: Approved",
    REJECTED: ":x: Rejected",
    CANCELLED: ":no_entry_sign: Cancelled",
}


# --- The approvals-channel message (the ledger entry's face) ------------------------


def type_label(leave_type: LeaveTypeConfig | None, code: str) -> str:
    """A leave type as mrkdwn: its emoji and name as HR typed them, escaped (or its code when unknown)."""
    return escape(leave_type.label if leave_type else code)


def request_summary(entry: LedgerEntry, leave_type: LeaveTypeConfig | None) -> str:
    dates = format_range(entry.start, entry.end, entry.start_half, entry.end_half)
    return f"{type_label(leave_type, entry.leave_type)}, {dates} ({days_text(entry.days)})"


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
    blocks = [section(f"*{mention(entry.user)}* requests *{summary}*\nTeam: {escape(entry.team)}")]
    if note:
        blocks.append(section(quote_note(note), block_id=NOTE_TEXT_BLOCK))
    if others_out:
        blocks.append(context(others_out))
    blocks.append(context(status_line(entry)))
    if entry.status == PENDING:
        blocks.append(context(f"Approvers: {mentions(approvers, room=MENTIONS_ROOM)}"))
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
    by = f" by {person(entry.decided_by)}" if entry.decided_by else ""
    if entry.recorded_by and entry.recorded_by != entry.user and entry.recorded_by == entry.decided_by:
        by = f" (recorded by {person(entry.recorded_by)})"
    when = f" {slack_date(entry.decided_at)}" if entry.decided_at else ""
    reason = f" — {escape(entry.reason)}" if entry.reason else ""
    return f"{label}{by}{when}{reason}"


def others_out_line(others: list[LedgerEntry], *, limit: int = 10, unread: int = 0) -> str:
    """Who else is out, `limit` of them by name; `unread`: more requests known to meet the dates whose
    details were not read (a preview of a busy team), counted in the "more"."""
    if not others and not unread:
        return ":busts_in_silhouette: Nobody else on the team is out then."
    listed = ", ".join(f"{mention(e.user)} ({format_range(e.start, e.end, e.start_half, e.end_half)}, {e.status})"
                       for e in others[:limit])
    more = max(0, len(others) - limit) + unread
    if not listed:
        return f":busts_in_silhouette: Also out: {more} more"
    return f":busts_in_silhouette: Also out: {listed}{f' and {more} more' if more else ''}"


# --- Messages to people --------------------------------------------------------------


def receipt_text(entry: LedgerEntry, leave_type: LeaveTypeConfig | None, approvers) -> str:
    summary = request_summary(entry, leave_type)
    if entry.recorded_by and entry.recorded_by != entry.user:
        return f"{person(entry.recorded_by)} recorded time off for you: {summary}."
    if entry.status == APPROVED:
        return f"Recorded: {summary}. It needs no approval. Enjoy!"
    return (f"Your request for {summary} is with {mentions(approvers, room=MENTIONS_ROOM)} "
            f"({escape(entry.team)}). I'll let you know when they decide.")


def decision_dm_text(entry: LedgerEntry, leave_type: LeaveTypeConfig | None) -> str:
    summary = request_summary(entry, leave_type)
    if entry.status == APPROVED:
        return f":white_check_mark: {mention(entry.decided_by)} approved your {summary}."
    reason = f"\nReason: {escape(entry.reason)}" if entry.reason else ""
    return f":x: {mention(entry.decided_by)} rejected your {summary}.{reason}"


def thread_reply_text(entry: LedgerEntry) -> str:
    verb = {APPROVED: "Approved", REJECTED: "Rejected", CANCELLED: "Cancelled"}.get(entry.status, entry.status)
    reason = f": {escape(entry.reason)}" if entry.reason else ""
    return f"{verb} by {mention(entry.decided_by)}{reason}"


def announcement_text(entry: LedgerEntry, leave_type: LeaveTypeConfig | None) -> str:
    """Who will be out, for the team channel. Private types never say what kind of leave."""
    dates = format_range(entry.start, entry.end, entry.start_half, entry.end_half)
    if leave_type is None or leave_type.private:
        return f":calendar: {mention(entry.user)} will be out {dates}."
    return (f"{escape(leave_type.emoji) or ':calendar:'} {mention(entry.user)} will be out {dates} "
            f"({escape(leave_type.name)}).")


def already_decided_text(entry: LedgerEntry) -> str:
    return f"This request was already {entry.status} by {person(entry.decided_by)} {slack_date(entry.decided_at)}."


def not_an_approver_text(team_name: str) -> str:
    return f"You are not an approver for {escape(team_name)}, so you can't decide this request."


def own_request_text() -> str:
    return "You can't decide your own request; another approver will."


def request_gone_text() -> str:
    return "This request no longer exists (its message was deleted)."


def request_refused_text(reasons: list[str], shown_back: str) -> str:
    """`reasons`: the rules' messages, plain text (they name HR's holidays, blackouts and types)."""
    listed = "\n".join(f"• {escape(reason)}" for reason in reasons)
    return f"I couldn't send your time-off request:\n{listed}\n\nWhat you asked for: {shown_back}"


def request_not_delivered_text(problem: str, shown_back: str) -> str:
    return (
        f":warning: Your time-off request did not reach your approvers: {problem}. "
        f"HR has been told. What you asked for: {shown_back}"
    )


def request_unconfirmed_text(error: str, shown_back: str) -> str:
    return (
        f":warning: I could not confirm that your time-off request reached your approvers: Slack kept failing "
        f"({error}) after I sent it, so it may be there or not. Look for it with `/timeoff list` before you "
        f"send it again. HR has been told. What you asked for: {shown_back}"
    )


def decision_unconfirmed_text(verb: str, error: str) -> str:
    return (f"I could not confirm that your {verb} was recorded: Slack kept failing ({error}) after I sent it. "
            "If the request's message still shows Approve and Reject, please click again in a few minutes.")


def change_unconfirmed_text(noun: str, error: str) -> str:
    return (f"I could not confirm that your {noun} was recorded: Slack kept failing ({error}) after I sent it, so "
            "it may be done or not. Look at it with `/timeoff list` before you try again.")


def shown_back_text(*, leave_type: LeaveTypeConfig | None, leave_type_code: str, dates: str, note: str) -> str:
    """A request shown back to its requester (the note escaped: it is their text, but mrkdwn all the same)."""
    quoted = f' — "{escape(note)}"' if note else ""
    return f"{type_label(leave_type, leave_type_code)}, {dates}{quoted}"


def gave_up_text(what: str, error: str, *, passing: bool) -> str:
    """Something a person asked for did not happen in Slack: whether trying again later may help."""
    if passing:
        return (f"Sorry, I could not {what}: Slack kept failing ({error}). It is unchanged; please try again "
                "in a few minutes.")
    return (f"Sorry, I could not {what}: Slack refused it ({error}), so trying again will not help. It is "
            "unchanged, and HR has been told.")


def hr_contacts(config: WorkspaceConfig, *, plain: bool = False) -> str:
    """Whom to ask: the fallback approvers, mentioned. `plain`: for plain text (a form's field error),
    where Slack shows a mention as its raw `<@U…>`."""
    return mentions(config.fallback_approvers) if config.fallback_approvers and not plain else "HR"


def not_allowed_text(config: WorkspaceConfig, *, plain: bool = False) -> str:
    return f"you are not among the people who may request time off here; ask {hr_contacts(config, plain=plain)}"


def no_team_text(config: WorkspaceConfig, *, plain: bool = False) -> str:
    return (f"no team is configured for you, so nobody could approve it; ask {hr_contacts(config, plain=plain)} "
            "to add you to a team")


def person_not_allowed_text() -> str:
    """`not_allowed_text` for HR recording leave for someone (console text: no mentions)."""
    return "they are not among the people who may request time off here (the workspace's requesters)"


def person_no_team_text() -> str:
    """`no_team_text` for HR recording leave for someone (console text: no mentions)."""
    return "they are in no team, so nobody could approve it; add them to a team first"


# --- A person's own leave: the list, the receipt's buttons, changes -----------------------


def request_button_value(entry: LedgerEntry) -> str:
    """What a button on someone's own leave carries: the request, and where its message is."""
    value = {"id": entry.id, "user": entry.user, "type": entry.leave_type, "start": entry.start.isoformat(),
             "end": entry.end.isoformat(), "sh": entry.start_half, "eh": entry.end_half}
    if entry.channel and entry.ts:
        value.update(channel=entry.channel, ts=entry.ts)
    return json.dumps(value)


def confirm(title: str, text: str, yes: str) -> dict:
    return {"title": plain(title), "text": plain(text), "confirm": plain(yes), "deny": plain("Keep it")}


def own_leave_buttons(entry: LedgerEntry, *, cancellable: bool) -> list[dict]:
    """Edit and Withdraw on a pending request; Cancel on approved leave that has not started."""
    value = request_button_value(entry)
    if entry.status == PENDING:
        return [
            {"type": "button", "action_id": ids.EDIT_ACTION, "text": plain("Edit"), "value": value},
            {"type": "button", "action_id": ids.WITHDRAW_ACTION, "text": plain("Withdraw"), "style": "danger",
             "value": value, "confirm": confirm("Withdraw request?", "Your approvers will be told.", "Withdraw")},
        ]
    if entry.status == APPROVED and cancellable:
        return [{"type": "button", "action_id": ids.CANCEL_ACTION, "text": plain("Cancel leave"), "style": "danger",
                 "value": value, "confirm": confirm("Cancel this leave?", "Your approvers and team will be told.",
                                                    "Cancel leave")}]
    return []


def own_leave_line(entry: LedgerEntry, leave_type: LeaveTypeConfig | None) -> str:
    return f"*{request_summary(entry, leave_type)}* — {status_line(entry)}"


def leave_list_blocks(*, config: WorkspaceConfig, pending: list[LedgerEntry], upcoming: list[LedgerEntry],
                      ongoing: list[LedgerEntry], recent: list[LedgerEntry],
                      title: str = "Your time off") -> list[dict]:
    """`/timeoff list` (and App Home's part of it): each request with its state and the buttons that apply."""
    blocks = [section(f"*{title}*")]
    groups = (("Pending", pending, True), ("Upcoming", upcoming, True), ("Out now", ongoing, False),
              ("Recently decided", recent, False))
    for heading, entries, with_buttons in groups:
        if not entries:
            continue
        blocks.append(context(f"*{heading}*"))
        for entry in entries:
            blocks.append(section(own_leave_line(entry, config.leave_type(entry.leave_type))))
            buttons = own_leave_buttons(entry, cancellable=True) if with_buttons else []
            if buttons:
                blocks.append({"type": "actions", "block_id": f"{ids.LEAVE_BLOCK_PREFIX}{entry.id}"[:255],
                               "elements": buttons})
    if len(blocks) == 1:
        blocks.append(section("Nothing pending or coming up. `/timeoff` asks for time off."))
    return blocks[:50]


def leave_list_text(pending: list, upcoming: list) -> str:
    return f"Your time off: {len(pending)} pending, {len(upcoming)} coming up."


def receipt_blocks(entry: LedgerEntry, leave_type: LeaveTypeConfig | None, approvers) -> list[dict]:
    blocks = [section(receipt_text(entry, leave_type, approvers))]
    buttons = own_leave_buttons(entry, cancellable=True)
    if buttons:
        blocks.append({"type": "actions", "block_id": f"{ids.LEAVE_BLOCK_PREFIX}{entry.id}"[:255],
                       "elements": buttons})
    return blocks


def change_thread_text(entry: LedgerEntry, *, by: str, previous: LedgerEntry | None = None,
                       approvers=()) -> str:
    """The thread reply under the request message when its requester (or HR) changes it."""
    who = mention(by)
    tell = f" {mentions(approvers)}" if approvers else ""
    if previous is not None and entry.status == PENDING:
        was = format_range(previous.start, previous.end, previous.start_half, previous.end_half)
        return f"Edited by {who}: now {request_summary(entry, None)} (was {was}).{tell}"
    if previous is not None and previous.status == APPROVED:
        return f"Cancelled by {who}: this approved leave will not be taken.{tell}"
    return f"Withdrawn by {who}.{tell}"


def cancelled_announcement_text(entry: LedgerEntry) -> str:
    dates = format_range(entry.start, entry.end, entry.start_half, entry.end_half)
    return f":leftwards_arrow_with_hook: {mention(entry.user)} will not be out {dates} after all."


def changed_by_hr_text(entry: LedgerEntry, leave_type: LeaveTypeConfig | None, *, by: str) -> str:
    return f"{person(by)} changed your time off: {request_summary(entry, leave_type)} — {status_line(entry)}."


def change_refused_text(reason: str) -> str:
    """`reason`: plain text (a rule's message, which may name HR's holidays, blackouts and types)."""
    return f"I couldn't change that request: {escape(reason)}."
