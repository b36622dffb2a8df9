"""What the daily jobs post: pure builders from plain data to text and blocks (approvals.jobs decides when).

Private leave types appear only as "away" in channel posts (the digest, the
out-today post) and in approvers' nudges; the requester's own reminder names
the type. A type no longer configured may have been private, so it is "away"
too. Team names and typed text go through `escape`.
"""

from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta

from approvals.block_kit import context, escape, mention, mentions, section, sections, text_length
from approvals.config_types import LeaveTypeConfig
from approvals.jobs import Vanished, message_link, posted_at
from approvals.rules import LedgerEntry, format_day, format_days, format_range

AWAY = ":calendar: away"
MAX_SECTIONS = 45  # a message holds 50 blocks: the title, these, the holidays' context
# The text of a message's blocks together: Slack refuses more than about 12,000 characters
# (`msg_blocks_too_long`, undocumented: slackapi/bolt-js#2509); a margin for the block containers.
BLOCKS_TEXT_BUDGET = 11000
# Whom a channel post's text names (its notification and fallback: Slack advises at most 4,000 characters
# and refuses more than 40,000): as many as fit, then "and N more"; the blocks list everyone who fits.
TEXT_MENTIONS_ROOM = 3500


def public_label(entry: LedgerEntry, leave_types: Mapping[str, LeaveTypeConfig]) -> str:
    leave_type = leave_types.get(entry.leave_type)
    if leave_type is None or leave_type.private:
        return AWAY
    return escape(leave_type.label)


def _dates(entry: LedgerEntry, today: date) -> str:
    # With the year when it is not `today`'s (the day the message is sent): next January's leave in a
    # December digest, or a typo for the year ("2062") in a nudge, must not read as this year's.
    return format_range(entry.start, entry.end, entry.start_half, entry.end_half, today=today)


def _day(day: date, today: date) -> str:
    return format_day(day, with_year=day.year != today.year)


def _lines(out: list[LedgerEntry], leave_types: Mapping[str, LeaveTypeConfig], today: date) -> list[str]:
    """One line a person, in the order they first appear, their leave in it one after another: the
    "…and N more" of lines that do not fit then counts people, as the text's mentions do."""
    by_person: dict[str, list[LedgerEntry]] = {}
    for entry in out:
        by_person.setdefault(entry.user, []).append(entry)
    return [f"• {mention(user)}: " + "; ".join(f"{public_label(e, leave_types)}, {_dates(e, today)}" for e in entries)
            for user, entries in by_person.items()]


def _sections(lines: list[str], *, besides: list[dict], limit: int = MAX_SECTIONS) -> list[dict]:
    """The lines as sections (at most `limit`), in the room the message's other blocks (`besides`) leave."""
    return sections(lines, limit=limit, total=BLOCKS_TEXT_BUDGET - text_length(besides))


# --- Channel posts ------------------------------------------------------------------------


def out_today_message(team_name: str, today: date, out: list[LedgerEntry],
                      leave_types: Mapping[str, LeaveTypeConfig]) -> tuple[str, list[dict]]:
    """The morning post in the announce channel: who is out today."""
    who = mentions({e.user for e in out}, room=TEXT_MENTIONS_ROOM)
    text = f":sunrise: Out today ({format_day(today)}) in {escape(team_name)}: {who}"
    title = section(f"*:sunrise: Out today, {format_day(today)}* ({escape(team_name)})")
    return text, [title, *_sections(_lines(out, leave_types, today), besides=[title])]


def weekly_digest_message(team_name: str, today: date, until: date, out: list[LedgerEntry],
                          leave_types: Mapping[str, LeaveTypeConfig],
                          holidays: Mapping[date, str], *, max_sections: int = MAX_SECTIONS) -> tuple[str, list[dict]]:
    """The weekly who's-out: today and the next days, with the team's holidays in that window; the people
    in at most `max_sections` sections (App Home shows it in a few), those that do not fit counted."""
    window = f"{format_day(today)} – {_day(until, today)}"
    title = f"*:calendar: Who's out, {window}* ({escape(team_name)})"
    if out:
        text = f":calendar: Who's out in {escape(team_name)}, {window}: " + mentions(
            {e.user for e in out}, room=TEXT_MENTIONS_ROOM)
        lines = _lines(out, leave_types, today)
    else:
        text = f":calendar: Nobody in {escape(team_name)} is out {window}."
        lines = ["Nobody is out."]
    days_off = [f"{_day(day, today)}: {escape(name)}" for day, name in sorted(holidays.items()) if today <= day <= until]
    ending = [context(":palm_tree: Holidays: " + "; ".join(days_off))] if days_off else []
    heading = section(title)
    return text, [heading, *_sections(lines, besides=[heading, *ending], limit=max_sections), *ending]


# --- Direct messages ---------------------------------------------------------------------


def reminder_text(entry: LedgerEntry, leave_type: LeaveTypeConfig | None, first_day: date, today: date) -> str:
    """To the requester, the working day before: their own DM, so the type is named even when private.
    `today`: the person's own day, where their time zone is known (ahead of the team's, it may already be
    the first day off)."""
    label = escape(leave_type.label) if leave_type else "time off"
    when = {today: "today", today + timedelta(days=1): "tomorrow"}.get(first_day, f"on {_day(first_day, today)}")
    # "Enjoy!" suits a holiday, not a private type's medical appointment or sick leave.
    wish = " Enjoy!" if leave_type is not None and not leave_type.private else ""
    return (f":wave: A reminder: your {label} starts {when} ({_dates(entry, today)}, {format_days(entry.days)}). "
            f"Remember to hand over anything urgent and set your status.{wish}")


# A nudge names at most this many requests: a line is up to about 250 characters, and Slack refuses a
# message text over 40,000 (msg_too_long), which would leave an approver with a large backlog unnudged.
NUDGE_LINES_MAX = 50


def nudge_text(team_name: str, waiting: Iterable[LedgerEntry], leave_types: Mapping[str, LeaveTypeConfig],
               now: datetime, today: date | None = None, *, approvers_away: bool = False,
               team_removed: bool = False) -> str:
    """To an approver: each request still waiting for a decision (the NUDGE_LINES_MAX oldest, and how many
    more), named and linked to its message. `today`: the team's day it is sent (default: `now`'s date).
    `approvers_away`: to HR, about requests whose every approver is on leave today. `team_removed`: to HR,
    about requests of a team removed from the configuration."""
    waiting = list(waiting)
    today = today or now.date()
    lines = []
    for entry in waiting[:NUDGE_LINES_MAX]:
        hours = int((now.timestamp() - (posted_at(entry) or now.timestamp())) // 3600)
        waited = f"{hours // 24} days" if hours >= 48 else f"{hours} hours"
        link = message_link(entry.channel, entry.ts) if entry.channel and entry.ts else None
        opened = f" <{link}|Open the request>" if link else ""
        lines.append(f"• {mention(entry.user)}: {public_label(entry, leave_types)}, {_dates(entry, today)} "
                     f"— waiting {waited}.{opened}")
    if len(waiting) > NUDGE_LINES_MAX:
        lines.append(f"…and {len(waiting) - NUDGE_LINES_MAX} more, newer: see the approvals channel or the "
                     "app's Home tab.")
    if team_removed:
        of = f"of {escape(team_name)}, a team no longer in the configuration," if team_name else "of no team now"
        return (f":hourglass_flowing_sand: These requests {of} are waiting for a decision: they are HR's to "
                "decide now (Approve or Reject on each, or on the app's Home tab):\n" + "\n".join(lines))
    if approvers_away:
        return (f":hourglass_flowing_sand: These {escape(team_name)} requests are waiting for a decision, and "
                "everyone who may decide them is on leave today. They were reminded too; to have someone else "
                "decide, add an approver to the team on the HR console's Teams page:\n" + "\n".join(lines))
    return (f":hourglass_flowing_sand: These {escape(team_name)} requests are waiting for a decision:\n"
            + "\n".join(lines))


def ledger_vanished_text(deleted: list[Vanished], *, export_dir: str) -> str:
    """To HR: ledger messages that were there at the last check and are gone (deleted by hand)."""
    lines = []
    for gone in deleted[:30]:
        where = f" in <#{gone.channel}>" if gone.channel else ""
        lines.append(f"• a record of {mention(gone.user)}{where} (id `{gone.id}`)")
    more = f"\n…and {len(deleted) - 30} more." if len(deleted) > 30 else ""
    return (f":warning: {len(deleted)} time-off record(s) disappeared from the ledger since the last check: "
            "their messages in an approvals channel were deleted. Balances and history no longer count them.\n"
            + "\n".join(lines) + more
            + f"\nThe nightly exports (`{escape(export_dir)}`) still hold their rows; re-record what was lost "
              "(`/timeoff` for someone, or a balance adjustment).")
