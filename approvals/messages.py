"""What the app posts to channels and DMs: pure builders from plain data to text and blocks.

Nothing here calls Slack or the database, so each builder is tested by asserting
on what it returns (and the fake Slack validates blocks with slack-sdk's models).
Everything a person typed goes through `escape` before it enters mrkdwn: the
note and reasons the requester and approvers type, and what HR typed into the
configuration (team and leave-type names, holiday names, blackout reasons,
which reach people through the rules' messages). The modals (the request form, the reject reason) are the Slack
edge's and live in `slackbot.modals`.
"""

import hashlib
import json
from datetime import date, datetime, timedelta, timezone

from approvals import block_ids as ids
from approvals.block_kit import (
    SECTION_TEXT_MAX,
    context,
    days_text,
    escape,
    mention,
    mentions,
    person,
    plain,
    section,
    slack_date,
    text_length,
    unescape,
)
from approvals.config_types import LeaveTypeConfig, WorkspaceConfig
from approvals.rules import APPROVED, CANCELLED, PENDING, REJECTED, LedgerEntry, format_range
from approvals.team_routing import UnlistedSource

MAX_NOTE_CHARS = 500
MAX_REASON_CHARS = 500
# Approvers named in a section or context (3,000 characters), with room left for the rest of its text.
MENTIONS_ROOM = 2500
# A message's `text` (its notification and fallback): Slack advises at most 4,000 characters and takes no
# more than 40,000 (msg_too_long): https://docs.slack.dev/reference/methods/chat.postMessage
TEXT_MAX = 4000
# A list of someone's leave holds at most this many blocks (Slack's limit for a message).
LIST_BLOCKS_MAX = 50
# ... and at most this much text in them: Slack refuses a message whose blocks hold more than about 12,000
# characters (`msg_blocks_too_long`, undocumented: slackapi/bolt-js#2509), and 25 requests of a type with
# the longest name HR may type (551 characters once escaped) and their buttons' confirms hold 18,000.
LIST_TEXT_MAX = 11000
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


# Clocks on Earth run from 12 hours behind UTC to 14 ahead: within these hours of midnight UTC on 1 January
# some readers are still in the old year or already in the new one.
NEW_YEAR_EITHER_SIDE = timedelta(hours=14)


def seen_from(entry: LedgerEntry, today: date | None = None) -> date | None:
    """The day a message about `entry` is read from, for whether its dates need their year: `today` when
    the caller knows it, else the day it was decided or its message posted (Slack shows a message's date
    beside it); None for a request not yet posted, whose caller passed no `today`. Within a day of New Year
    (UTC), when its readers may be in either year by their own clocks, `date.min`: every date names its year.
    """
    if today is not None:
        return today
    try:
        moment = entry.decided_at or float(entry.ts or 0)
        if not moment:
            return None
        seen = datetime.fromtimestamp(moment, tz=timezone.utc)
    except (ValueError, OverflowError, OSError):  # a ts that is not Slack's: no day to go by
        return None
    new_year = datetime(seen.year + (seen.month == 12), 1, 1, tzinfo=timezone.utc)
    return date.min if abs(seen - new_year) < NEW_YEAR_EITHER_SIDE else seen.date()


def entry_dates(entry: LedgerEntry, today: date | None = None) -> str:
    """Its dates, with their year unless it lies in the year it is read from; with it when that day is not
    known (`date.min`): a record must not let a typo for the year ("2062") read as this December."""
    seen = seen_from(entry, today) or date.min
    return format_range(entry.start, entry.end, entry.start_half, entry.end_half, today=seen)


def request_summary(entry: LedgerEntry, leave_type: LeaveTypeConfig | None, *, today: date | None = None) -> str:
    return f"{type_label(leave_type, entry.leave_type)}, {entry_dates(entry, today)} ({days_text(entry.days)})"


def mentions_within(users, *, used: int, limit: int = TEXT_MAX, first=()) -> str:
    """`mentions` in the room a text of at most `limit` characters leaves after the `used` ones of the
    rest of it, and never more than the blocks name (MENTIONS_ROOM); those in `first` first."""
    return mentions(users, room=max(0, min(MENTIONS_ROOM, limit - used)), first=first)


def request_message(
    *,
    entry: LedgerEntry,
    leave_type: LeaveTypeConfig | None,
    note: str,
    approvers: frozenset[str] | set[str],
    others_out: str = "",
    today: date | None = None,
    named_first=(),
) -> tuple[str, list[dict]]:
    """The message in the approvals channel: who, what, when, the note, and (while pending) buttons.
    `today`: the day it is posted, so dates outside its year show the year (a posted one knows its day).
    `named_first`: approvers HR listed by name (team_routing.named_approvers), mentioned before the
    members of an approvers channel, so that when not all fit, the ones HR chose are still notified."""
    summary = request_summary(entry, leave_type, today=today)
    text = f"{mention(entry.user)} requests {summary}"
    if entry.status == PENDING:
        # The mention in the text is what notifies them: as many as the text holds (an approvers
        # channel of 2,600 members would make it 40,000 characters, and the post would be refused).
        text += " — for "
        text += mentions_within(approvers, used=len(text), first=named_first)
    blocks = [section(f"*{mention(entry.user)}* requests *{summary}*\nTeam: {escape(entry.team)}")]
    if note:
        blocks.append(section(quote_note(note), block_id=NOTE_TEXT_BLOCK))
    if others_out:
        blocks.append(context(others_out))
    blocks.append(context(status_line(entry)))
    if entry.status == PENDING:
        blocks.append(context(f"Approvers: {mentions(approvers, room=MENTIONS_ROOM, first=named_first)}"))
        value = decision_value(entry)
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


def shown_version(entry: LedgerEntry) -> str:
    """What an approver was shown of a request, in short: its type, dates and halves, which an edit may
    change. The decision buttons carry it, so that an Approve clicked on the request as it was before an
    edit approves nothing the approver did not see."""
    return version_of(entry.leave_type, entry.start, entry.end, entry.start_half, entry.end_half)


def version_of(leave_type, start, end, start_half, end_half) -> str:
    """`shown_version` of a request's parts (an edit form's, as it opened)."""
    shown = f"{leave_type}|{start}|{end}|{start_half}|{end_half}"
    return hashlib.sha256(shown.encode()).hexdigest()[:12]


def edited_since_text() -> str:
    """An edit sent from a form opened before someone else changed the request: sent, it would undo that.
    A form's error is plain text: nobody is named (a mention would show as its raw id)."""
    return ("Someone else changed this request after you opened this form; sent as it is, it would undo that. "
            "Close it and press Edit again to start from the request as it is now.")


def decision_value(entry: LedgerEntry, *, located: bool = False) -> str:
    """The value of a request's Approve and Reject buttons; `located`: with the request message's
    channel and ts (App Home's buttons, which are not on that message)."""
    where = {"channel": entry.channel, "ts": entry.ts} if located else {}
    return json.dumps({"id": entry.id, "user": entry.user, **where, "v": shown_version(entry)})


def request_changed_text(entry: LedgerEntry, leave_type: LeaveTypeConfig | None) -> str:
    return (f"This request changed after you saw it: it is now {request_summary(entry, leave_type)}. Nothing was "
            "approved; look at it again.")


def rules_changed_text(entry: LedgerEntry, reason: str) -> str:
    """To an approver whose Approve meets a rule HR changed since the request was sent (`reason`, plain)."""
    return (f"You can't approve this as it stands: {escape(reason)}. HR changed the leave rules (blackouts, "
            f"allowances or limits) since it was sent. "
            f"Nothing was approved: reject it with that reason, or ask {mention(entry.user)} to change it.")


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


def others_out_line(others: list[LedgerEntry], *, limit: int = 10, unread: int = 0, today: date | None = None) -> str:
    """Who else is out, `limit` people by name; `unread`: more requests known to meet the dates whose
    details were not read (a preview of a busy team), counted in the "more". `today`: the day it is read
    (else each entry's own: a request still in flight has none, and shows its year)."""
    if not others and not unread:
        return ":busts_in_silhouette: Nobody else on the team is out then."
    # One name a person, with each of their requests then: "and N more" counts people, not requests.
    by_person: dict[str, list[LedgerEntry]] = {}
    for entry in others:
        by_person.setdefault(entry.user, []).append(entry)
    listed = ", ".join(f"{mention(user)} ({'; '.join(f'{entry_dates(e, today)}, {e.status}' for e in entries)})"
                       for user, entries in list(by_person.items())[:limit])
    more = max(0, len(by_person) - limit) + unread
    if not listed:
        return f":busts_in_silhouette: Also out: {more} more"
    return f":busts_in_silhouette: Also out: {listed}{f' and {more} more' if more else ''}"


# --- Messages to people --------------------------------------------------------------


def receipt_text(entry: LedgerEntry, leave_type: LeaveTypeConfig | None, approvers) -> str:
    """The receipt DM: what was asked and where it stands. Rewritten when it is decided or changed
    (`notifications.receipt_update`), so its buttons are always those that apply."""
    summary = request_summary(entry, leave_type)
    if entry.status == REJECTED:
        reason = f" Reason: {escape(entry.reason)}" if entry.reason else ""
        return f":x: {mention(entry.decided_by)} rejected your request for {summary}.{reason}"
    if entry.status == CANCELLED:
        by = "" if entry.decided_by in (None, entry.user) else f" by {person(entry.decided_by)}"
        return f":no_entry_sign: Cancelled{by}: {summary}."
    if entry.recorded_by and entry.recorded_by != entry.user:
        return f"{person(entry.recorded_by)} recorded time off for you: {summary}."
    if entry.status == APPROVED and entry.decided_by not in (None, entry.user):
        return f":white_check_mark: {mention(entry.decided_by)} approved your request for {summary}."
    if entry.status == APPROVED:
        return f"Recorded: {summary}. It needs no approval. Enjoy!"
    team = f" ({escape(entry.team)}). I'll let you know when they decide."
    head = f"Your request for {summary} is with "
    # Shown in a section (receipt_blocks): 3,000 characters for all of it.
    return head + mentions_within(approvers, used=len(head) + len(team), limit=SECTION_TEXT_MAX) + team


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
    dates = entry_dates(entry)
    if leave_type is None or leave_type.private:
        return f":calendar: {mention(entry.user)} will be out {dates}."
    return (f"{escape(leave_type.emoji) or ':calendar:'} {mention(entry.user)} will be out {dates} "
            f"({escape(leave_type.name)}).")


def already_decided_text(entry: LedgerEntry) -> str:
    if not entry.decided_by:
        # Approved with nobody deciding: edited into a leave type that needs no approval (its type unnamed:
        # an approver may read this outside the approvals channel, on App Home).
        return (f"This request is already {entry.status}: it was changed to leave that needs no approval, so "
                "there is nothing to decide.")
    when = f" {slack_date(entry.decided_at)}" if entry.decided_at else ""
    return f"This request was already {entry.status} by {person(entry.decided_by)}{when}."


def not_an_approver_text(team_name: str) -> str:
    return f"You are not an approver for {escape(team_name)}, so you can't decide this request."


def own_request_text() -> str:
    return "You can't decide your own request; another approver will."


def removed_team_text(team_name: str) -> str:
    """To someone who may not decide a request of a team removed from the configuration since: HR's now."""
    return f"The team {escape(team_name)} is no longer configured; ask HR to decide this request."


def own_leave_not_recorded_text() -> str:
    """HR recording leave for themselves: recorded leave is approved at once, and nobody approves their own."""
    return ("Recorded leave is approved at once, and nobody approves their own: ask for yours with `/timeoff`, "
            "and your team's approvers decide it.")


def request_gone_text() -> str:
    return "This request no longer exists (its message was deleted)."


# A request's message another version of the app wrote (a release rolled back after it posted or decided
# it): its metadata is not one this version reads, so it is left as it is (ledger.RequestUnreadable).
OTHER_VERSION = "it was recorded by another version of this app, which this one cannot change"


def request_unreadable_text() -> str:
    return f"This request can't be decided here: {OTHER_VERSION}. Nothing was changed; ask whoever runs the app."


def whose_request(recorded_for: str | None) -> str:
    """The request, as told to whoever sent it: the requester's own, or (`recorded_for`) the leave HR
    recorded for that person, whom HR is told about."""
    return f"the time off you recorded for {mention(recorded_for)}" if recorded_for else "your time-off request"


def request_refused_text(reasons: list[str], shown_back: str, *, recorded_for: str | None = None) -> str:
    """`reasons`: mrkdwn (the rules' messages escaped: they name HR's holidays, blackouts and types; a
    mention of whom to ask, a mention)."""
    listed = "\n".join(f"• {reason}" for reason in reasons)
    return f"I couldn't send {whose_request(recorded_for)}:\n{listed}\n\nWhat you asked for: {shown_back}"


def request_not_delivered_text(problem: str, shown_back: str, *, recorded_for: str | None = None) -> str:
    if recorded_for:
        return (f":warning: The time off you recorded for {mention(recorded_for)} did not reach the approvals "
                f"channel: {problem}. HR has been told. What you asked for: {shown_back}")
    return (
        f":warning: Your time-off request did not reach your approvers: {problem}. "
        f"HR has been told. What you asked for: {shown_back}"
    )


# `failure` below: why a task gave up, as `task_queue.failure_for_people` words it ("Slack kept failing
# (ratelimited)", "Slack refused it (not_in_channel)", or "something went wrong on our side").


def request_unconfirmed_text(failure: str, shown_back: str, *, recorded_for: str | None = None) -> str:
    where, look = (("the approvals channel", f"`/timeoff for {mention(recorded_for)} list`") if recorded_for
                   else ("your approvers", "`/timeoff list`"))
    return (
        f":warning: I could not confirm that {whose_request(recorded_for)} reached {where}: {failure} "
        f"after I sent it, so it may be there or not. Look for it with {look} before you "
        f"send it again. HR has been told. What you asked for: {shown_back}"
    )


def decision_unconfirmed_text(verb: str, failure: str) -> str:
    return (f"I could not confirm that your {verb} was recorded: {failure} after I sent it. "
            "If the request's message still shows Approve and Reject, please click again in a few minutes.")


def change_unconfirmed_text(noun: str, failure: str) -> str:
    return (f"I could not confirm that your {noun} was recorded: {failure} after I sent it, so "
            "it may be done or not. Look at it with `/timeoff list` before you try again.")


def change_confirmed_text(noun: str) -> str:
    """After change_unconfirmed_text: Slack showed the request at last, and it holds the change."""
    return f":white_check_mark: Your {noun} was recorded after all: Slack shows it now. Nothing more to do."


def not_made_after_all_text(noun: str) -> str:
    """After change_unconfirmed_text: Slack showed the request at last, and it does not hold the change."""
    return f"Your {noun} was not recorded after all: Slack kept failing. It is unchanged; please try again."


def shown_back_text(*, leave_type: LeaveTypeConfig | None, leave_type_code: str, dates: str, note: str) -> str:
    """A request shown back to its requester (the note escaped: it is their text, but mrkdwn all the same)."""
    quoted = f' — "{escape(note)}"' if note else ""
    return f"{type_label(leave_type, leave_type_code)}, {dates}{quoted}"


def still_being_sent_text(verb: str) -> str:
    """A change of a request whose delivery has not posted it after minutes of trying."""
    return (f"I couldn't {verb} that request yet: it is still being sent to your approvers (Slack is slow "
            "to take it). It is unchanged; try again once you have its receipt.")


def gave_up_text(what: str, failure: str, *, passing: bool) -> str:
    """Something a person asked for did not happen in Slack: whether trying again later may help."""
    if passing:
        return f"Sorry, I could not {what}: {failure}. It is unchanged; please try again in a few minutes."
    return (f"Sorry, I could not {what}: {failure}, so trying again will not help. It is unchanged, and HR has "
            "been told.")


def answer_lost_text(what: str, failure: str, *, passing: bool, again: str) -> str:
    """An answer promised by DM ("I'll DM you in a moment") that could not be worked out: whether asking
    `again` later may help."""
    if passing:
        return f"Sorry, I couldn't {what}: {failure}. Please try {again} again in a few minutes."
    return f"Sorry, I couldn't {what}: {failure}, so trying again will not help. Please tell HR."


def answer_maybe_sent_text(what: str, failure: str, again: str) -> str:
    """As answer_lost_text, when Slack may have delivered the answer though it never said so."""
    return (f"Sorry, I may not have managed to {what}: {failure} as I sent it. If it is not just above, "
            f"please try {again} again in a few minutes.")


def hr_contacts(config: WorkspaceConfig, *, plain: bool = False, leaving_out=()) -> str:
    """Whom to ask: the fallback approvers, mentioned. `plain`: for plain text (a form's field error),
    where Slack shows a mention as its raw `<@U…>`. `leaving_out`: those who cannot help (they have left,
    or it is the asker's own request); when that leaves nobody, whoever looks after the app."""
    contacts = [hr for hr in config.fallback_approvers if hr not in leaving_out]
    if contacts and not plain:
        return mentions(contacts, room=MENTIONS_ROOM)  # texts that say more besides
    if config.fallback_approvers and not contacts:
        return "whoever looks after the time-off app in your company (HR)"
    return "HR"


def not_allowed_text(config: WorkspaceConfig, *, plain: bool = False, unable=()) -> str:
    """`unable`: fallback approvers who cannot help (`directory.hr_unable`), not named as whom to ask."""
    return ("you are not among the people who may request time off here; ask "
            f"{hr_contacts(config, plain=plain, leaving_out=unable)}")


def no_team_text(config: WorkspaceConfig, *, plain: bool = False, cause: UnlistedSource | None = None,
                 hr: bool = False, unable=()) -> str:
    """`cause`: a team's list of members Slack refused to give, which may well be why (`unlisted_text`).
    `hr`: HR is told (`directory.acts_as_hr`), often in no team themselves, and not told to ask HR.
    `unable`: fallback approvers who cannot help (`directory.hr_unable`), not named as whom to ask."""
    if cause is not None:
        return unlisted_text(config, cause, plain=plain, unable=unable)
    if hr:
        return "no team is configured for you, so nobody could approve it; add yourself to a team in the HR console"
    return ("no team is configured for you, so nobody could approve it; ask "
            f"{hr_contacts(config, plain=plain, leaving_out=unable)} to add you to a team")


def unlisted_text(config: WorkspaceConfig, cause: UnlistedSource, *, plain: bool = False, unable=()) -> str:
    """For someone in no team while Slack refuses to list a team's members channel or user group: that
    list, not HR forgetting them, is the likely cause; Slack's error is worth quoting to whoever fixes it.
    `unable`: fallback approvers who cannot help (`directory.hr_unable`), not named as whom to ask."""
    team = cause.team_name if plain else escape(cause.team_name)
    return (f"I couldn't read who is in {unlisted_list(cause, plain=plain)} (Slack said {cause.error}), which "
            f"decides who is in {team}; ask {hr_contacts(config, plain=plain, leaving_out=unable)} to "
            f"{unlisted_fix(cause)}")


def unlisted_list(cause: UnlistedSource, *, plain: bool) -> str:
    """The list Slack refused: a channel link in mrkdwn, its id in plain text. A user group is named, not
    mentioned: a mention of a user group notifies its members."""
    if cause.is_channel:
        return f"the channel {cause.source}" if plain else f"<#{cause.source}>"
    return f"the user group {cause.source}"


def unlisted_fix(cause: UnlistedSource) -> str:
    """What whoever looks after the app can do about a members list Slack refused, by Slack's error."""
    if cause.error in {"missing_scope", "not_allowed_token_type", "no_permission"}:
        return "give the app the scopes the console's setup page lists, or fix the team's settings"
    if cause.is_channel:
        return "invite the app to that channel or fix the team's settings"
    return "fix the team's settings"


def nobody_approves_text(config: WorkspaceConfig, team_name: str, *, unable=()) -> str:
    """A refusal reason: once the requester is taken out (nobody approves their own leave), and bots and
    deactivated accounts, nobody is left to approve it, not even HR (the fallback approvers). `unable`:
    the fallback approvers who cannot (the requester, people who left): not the ones to ask."""
    return (f"nobody could approve it: {escape(team_name)} has no approver but you (besides bots and "
            f"deactivated accounts), and no fallback approver can step in; ask "
            f"{hr_contacts(config, leaving_out=unable)} to add an approver for the team")


def nobody_decides_now_text(entry: LedgerEntry, leave_type: LeaveTypeConfig | None, config: WorkspaceConfig, *,
                            why: str, unable=()) -> str:
    """To a requester whose pending request nobody may decide any more (`why`: its last approver went, as
    mrkdwn), and no fallback approver can step in (`unable`: those who cannot, not the ones to ask)."""
    return (f":warning: Nobody may decide your request for {request_summary(entry, leave_type)} now: {why}, and "
            f"no fallback approver can step in. It stays pending; ask {hr_contacts(config, leaving_out=unable)} to "
            f"add an approver for {escape(entry.team)}, or withdraw it (`/timeoff cancel`).")


def not_set_up_text(config: WorkspaceConfig) -> str | None:
    """Why nobody can ask for time off yet (the form's leave-type menu would be empty, which Slack
    refuses), or None."""
    if not config.leave_types or not config.teams:
        return "Time off isn't set up yet: HR has not configured any teams or leave types."
    return None


def outsider_text() -> str:
    """To someone of another organisation (a Slack Connect channel's) who asks for time off here."""
    return ("you are in this workspace from another organisation (through a shared channel), and time off "
            "here is for this company's own people; ask your own company how to request time off")


def person_outsider_text() -> str:
    """`outsider_text` for HR recording leave for someone."""
    return "they are of another organisation (a channel shared through Slack Connect), not this company's staff"


def first_of(items: list[str], *, most: int, more: str) -> list[str]:
    """The first `most` of `items`, then `more` (with `{count}`: how many were left out) when some were: a list
    as long as HR's configuration (every team sharing a channel) must still fit one message Slack takes."""
    if len(items) <= most:
        return items
    return [*items[:most], more.format(count=len(items) - most)]


# How many of the teams or uses sharing one channel a DM to HR names; the console names them all.
SHARED_NAMED_MAX = 20


def channel_lost_text(channel: str, how: str, uses: list[str]) -> str:
    """To HR: the app lost a channel the configuration uses (channel_services.channel_lost). `uses`: what
    for, as the Setup page says it ("Engineering: approvals channel")."""
    what = {"removed": f"I was removed from <#{channel}>", "archived": f"<#{channel}> was archived",
            "deleted": f"<#{channel}> was deleted"}.get(how, f"I lost <#{channel}>")
    fix = {"removed": "Invite me back (`/invite` me in the channel), or choose",
           "archived": "Unarchive it, or choose"}.get(how, "Choose")
    used = "\n".join(first_of([f"• {escape(use)}" for use in uses], most=SHARED_NAMED_MAX,
                              more="• and {count} more: the console's Setup page lists them all"))
    return (f":warning: {what}, which the time-off configuration uses:\n{used}\n"
            f"Until that is fixed, {_what_fails(uses)}. {fix} another channel on the console's Teams page; its "
            "Setup page shows the check.")


# What fails when the app loses a channel, by what it is used for (setup_checks.channel_uses: "Team: use").
_POSTED_THERE = {"approvals channel": "requests and the leave history kept there",
                 "past approvals channel (ledger)": "the leave history kept there",
                 "announce channel": "announcements"}
_PEOPLE_THERE = {"approvers channel": "who approves", "members channel": "who is in the team",
                 "requesters channel": "who may request"}


def _what_fails(uses: list[str]) -> str:
    kinds = [use.rpartition(": ")[2] for use in uses]
    posted = list(dict.fromkeys(_POSTED_THERE[kind] for kind in kinds if kind in _POSTED_THERE))
    people = list(dict.fromkeys(_PEOPLE_THERE[kind] for kind in kinds if kind in _PEOPLE_THERE))
    parts = []
    if posted:
        parts.append(f"what I post or read there fails ({', '.join(posted)})")
    if people:
        parts.append(f"I may not be able to tell {' or '.join(people)}")
    return "; and ".join(parts) or "what I post or read there fails"


def bot_has_no_leave_text() -> str:
    """Someone asked to record leave for a bot user (an app's; one may sit in a team's channel)."""
    return "they are a bot (an app's user), not a person: bots have no leave"


def person_not_allowed_text() -> str:
    """`not_allowed_text` for HR recording leave for someone (console text: no mentions)."""
    return "they are not among the people who may request time off here (the workspace's requesters)"


def person_no_team_text(cause: UnlistedSource | None = None, *, plain: bool = True) -> str:
    """`no_team_text` for HR recording leave for someone. `cause`: a team's list of members Slack refused to
    give, which HR can fix. `plain`: for a form's field error; else mrkdwn (HR's DM about leave recorded from
    Slack), where the team's name HR typed is escaped and the channel a link."""
    if cause is not None:
        team = cause.team_name if plain else escape(cause.team_name)
        return (f"they are in no team, but Slack would not list who is in {unlisted_list(cause, plain=plain)} "
                f"({cause.error}), which decides who is in {team}: {unlisted_fix(cause)}")
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


def own_leave_buttons(entry: LedgerEntry, *, cancellable: bool, under_way: bool = False,
                      whose: str = "Your") -> list[dict]:
    """Edit and Withdraw on a pending request; Cancel on approved leave that has not started, and
    (`under_way`, for HR) on leave that has, which is cancelled whole (change_services.check_change).
    `whose`: "Their" in HR's list of someone else's leave."""
    value = request_button_value(entry)
    if under_way:
        return [{"type": "button", "action_id": ids.CANCEL_ACTION, "text": plain("Cancel all of it"),
                 "style": "danger", "value": value,
                 "confirm": confirm("Cancel all of it?", "It has started: every day of it is given back, those "
                                    "already taken too. To keep those, record them again with /timeoff for. "
                                    "Their approvers and team will be told.", "Cancel all of it")}]
    if entry.status == PENDING:
        return [
            {"type": "button", "action_id": ids.EDIT_ACTION, "text": plain("Edit"), "value": value},
            {"type": "button", "action_id": ids.WITHDRAW_ACTION, "text": plain("Withdraw"), "style": "danger",
             "value": value, "confirm": confirm("Withdraw request?", f"{whose} approvers will be told.", "Withdraw")},
        ]
    if entry.status == APPROVED and cancellable:
        return [{"type": "button", "action_id": ids.CANCEL_ACTION, "text": plain("Cancel leave"), "style": "danger",
                 "value": value, "confirm": confirm("Cancel this leave?", f"{whose} approvers and team will be told.",
                                                    "Cancel leave")}]
    return []


def own_leave_line(entry: LedgerEntry, leave_type: LeaveTypeConfig | None, *, today: date | None = None) -> str:
    return f"*{request_summary(entry, leave_type, today=today)}* — {status_line(entry)}"


# Under a group of a list cut short: where the rest are (the soonest come first, so they move up).
LIST_MORE = {
    "Pending": ", with later dates: they show here as these are decided or withdrawn, and each has its "
               "buttons on its receipt",
    "Upcoming": ", with later dates: they show here as these start or are cancelled",
}


def leave_list_blocks(*, config: WorkspaceConfig, pending: list[LedgerEntry], upcoming: list[LedgerEntry],
                      ongoing: list[LedgerEntry], recent: list[LedgerEntry], title: str = "Your time off",
                      max_blocks: int = LIST_BLOCKS_MAX, max_text: int | None = LIST_TEXT_MAX,
                      today: date | None = None, hr: bool = False) -> list[dict]:
    """`/timeoff list` (and App Home's part of it): each request with its state and the buttons that apply.
    `hr`: HR reading someone's, who may also cancel leave already under way (their correction of it).

    Each group in the order given (soonest first). In at most `max_blocks` blocks holding at most
    `max_text` characters of text (None: no bound, for a view): when they are too many, every group
    shows its first ones, in turn while room is left, and says how many more ("…and 12 more"), so 30
    pending requests cannot hide the upcoming ones, nor leave past the 25th unreachable without a word.
    `today`: the reader's, for which dates need their year.
    """
    def past(entry: LedgerEntry) -> str | None:
        # HR corrects leave already taken too (a sick day recorded on the wrong date): all of it given back.
        return UNDER_WAY if hr and entry.status == APPROVED else None

    groups = [(heading, entries, [entry_blocks(config, entry, buttons(entry), today, hr=hr) for entry in entries])
              for heading, entries, buttons in (
                  ("Pending", pending, lambda _: OWN),
                  ("Upcoming", upcoming, lambda _: OWN),
                  ("Out now", ongoing, lambda _: UNDER_WAY if hr else None),
                  ("Recently decided", recent, past))
              if entries]
    shown = [len(entries) for _, entries, _ in groups]
    title_block = section(f"*{title}*")
    # The title, each group's heading, and (when all do not fit) a line for each group's rest.
    room = max_blocks - 1 - len(groups)
    text_room = (max_text if max_text is not None else float("inf")) - text_length(
        [title_block, *(context(f"*{heading}*") for heading, _, _ in groups)])
    entries_text = sum(text_length(item) for _, _, per_entry in groups for item in per_entry)
    if sum(len(b) for _, _, per_entry in groups for b in per_entry) > room or entries_text > text_room:
        room -= len(groups)
        text_room -= sum(len(list_more_text(heading, len(entries))) for heading, entries, _ in groups)
        shown = [0] * len(groups)
        while True:  # one more of each group in turn, while it fits
            added = False
            for index, (_, _, per_entry) in enumerate(groups):
                if shown[index] < len(per_entry):
                    item = per_entry[shown[index]]
                    if len(item) <= room and text_length(item) <= text_room:
                        room -= len(item)
                        text_room -= text_length(item)
                        shown[index] += 1
                        added = True
            if not added:
                break
    blocks = [title_block]
    for (heading, entries, per_entry), count in zip(groups, shown):
        blocks.append(context(f"*{heading}*"))
        blocks += [block for item in per_entry[:count] for block in item]
        if count < len(entries):
            blocks.append(context(list_more_text(heading, len(entries) - count)))
    if not groups:
        blocks.append(section("Nothing pending or coming up. `/timeoff` asks for time off."))
    return blocks


def list_more_text(heading: str, more: int) -> str:
    return f"…and {more} more{LIST_MORE.get(heading, '')}."


# Which buttons a list's entries get (entry_blocks): their own (Edit, Withdraw, Cancel), or HR's Cancel of
# leave under way; None: none.
OWN, UNDER_WAY = "own", "under way"


def entry_blocks(config: WorkspaceConfig, entry: LedgerEntry, buttons: str | None, today: date | None, *,
                 hr: bool = False) -> list[dict]:
    """One request of a list: its line, and its buttons when it may still be changed (`hr`: in HR's list of
    someone else's leave, whose confirmations speak of "their" approvers)."""
    blocks = [section(own_leave_line(entry, config.leave_type(entry.leave_type), today=today))]
    buttons = [] if buttons is None else own_leave_buttons(entry, cancellable=True, under_way=buttons == UNDER_WAY,
                                                           whose="Their" if hr else "Your")
    if buttons:
        blocks.append({"type": "actions", "block_id": f"{ids.LIST_BLOCK_PREFIX}{entry.id}"[:255],
                       "elements": buttons})
    return blocks


def leave_list_text(pending: list, upcoming: list, *, owner: str = "Your") -> str:
    return f"{owner} time off: {len(pending)} pending, {len(upcoming)} coming up."


def receipt_blocks(entry: LedgerEntry, leave_type: LeaveTypeConfig | None, approvers) -> list[dict]:
    blocks = [section(receipt_text(entry, leave_type, approvers))]
    buttons = own_leave_buttons(entry, cancellable=True)
    if buttons:
        blocks.append({"type": "actions", "block_id": f"{ids.LEAVE_BLOCK_PREFIX}{entry.id}"[:255],
                       "elements": buttons})
    return blocks


def change_thread_text(entry: LedgerEntry, *, by: str, previous: LedgerEntry | None = None,
                       leave_type: LeaveTypeConfig | None = None, approvers=(), named_first=(),
                       started: bool = False) -> str:
    """The thread reply under the request message when its requester (or HR) changes it. `leave_type`: the
    entry's (named as the message names it; the approvals channel may read a private one); `started`: the
    leave was under way (only HR cancels that, as a correction of the record)."""
    who = mention(by)
    if previous is not None and entry.status == PENDING:
        was = entry_dates(previous, seen_from(entry))
        text = f"Edited by {who}: now {request_summary(entry, leave_type)} (was {was})."
    elif previous is not None and previous.status == PENDING and entry.status == APPROVED:
        # Edited into a leave type that needs no approval: recorded at once, as such a request is.
        was = entry_dates(previous, seen_from(entry))
        text = (f"Edited by {who}: now {request_summary(entry, leave_type)} (was {was}), which needs no "
                "approval: recorded as approved.")
    elif previous is not None and previous.status == APPROVED and started:
        text = f"Cancelled by {who}: this leave, already under way, is no longer on the record."
    elif previous is not None and previous.status == APPROVED:
        text = f"Cancelled by {who}: this approved leave will not be taken."
    else:
        text = f"Withdrawn by {who}."
    # The mentions notify the approvers: as many as the text holds (see request_message).
    return f"{text} {mentions_within(approvers, used=len(text) + 1, first=named_first)}" if approvers else text


def cancelled_announcement_text(entry: LedgerEntry, *, started: bool = False) -> str:
    """The announce channel's correction. `started`: the team has seen the person away since its first
    day, so "will not be out after all" would be untrue: the record was corrected (by HR)."""
    dates = entry_dates(entry)
    if started:
        return (f":leftwards_arrow_with_hook: {mention(entry.user)}'s time off {dates} was corrected by HR: "
                "it is no longer on the record.")
    return f":leftwards_arrow_with_hook: {mention(entry.user)} will not be out {dates} after all."


def changed_by_hr_text(entry: LedgerEntry, leave_type: LeaveTypeConfig | None, *, by: str) -> str:
    return f"{person(by)} changed your time off: {request_summary(entry, leave_type)} — {status_line(entry)}."


def change_done_text(entry: LedgerEntry, leave_type: LeaveTypeConfig | None, *, by: str, withdrawn: bool) -> str:
    """Said where a Withdraw or Cancel was pressed on `/timeoff list`: that list is Slack's ephemeral
    message and stays as it was, so the person is told it worked, and how to see the list as it is now."""
    whose = "your" if by == entry.user else f"{mention(entry.user)}'s"
    done = "Withdrawn" if withdrawn else "Cancelled"
    listing = "`/timeoff list`" if by == entry.user else "`/timeoff for @person list`"
    return (f":white_check_mark: {done}: {whose} {request_summary(entry, leave_type)}. "
            f"The list above shows it as it was; {listing} shows it now.")


def change_refused_text(reason: str) -> str:
    """`reason`: plain text (a rule's message, which may name HR's holidays, blackouts and types)."""
    return f"I couldn't change that request: {escape(reason)}."
