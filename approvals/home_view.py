"""The App Home tab: a pure builder from plain data to a `home` view (views.publish).

Built in `approvals`, not in the Slack edge, because the background republishes
it whenever something it shows changes (a delivery, a decision, a change).
"""

from datetime import date, timedelta

from approvals import block_ids as ids
from approvals import messages
from approvals.block_kit import context, days_text, escape, mention, plain, section, sections
from approvals.config_types import WorkspaceConfig
from approvals.job_messages import AWAY
from approvals.jobs import message_link
from approvals.rules import LedgerEntry, format_day

MAX_BLOCKS = 100  # Slack's limit for a view
MAX_WAITING = 15
MAX_BALANCE_SECTIONS = 5


def home_view(*, config: WorkspaceConfig, leave, balances_text: str | None, waiting: list[LedgerEntry],
              is_hr: bool, console_url: str | None, note: str | None = None, today: date | None = None,
              team_week: list[dict] | None = None, holidays_ahead: list[dict] | None = None) -> dict:
    """My leave and balances, a button to ask for time off; for approvers what waits for them; who in my
    team is out this week (`team_week`: its blocks) and its holidays coming up (`holidays_ahead`: its
    blocks, `holidays_ahead_blocks`); for HR the console.

    Every part is bounded but the list of the person's leave, which gets the room the others leave (it
    says how many more it could not show), so nothing after it is cut off.
    """
    blocks = [{"type": "header", "text": plain("Time off")}]
    if messages.not_set_up_text(config) is None:  # else the form would refuse (no teams or leave types yet)
        blocks.append({"type": "actions", "block_id": "home_actions", "elements": [
            {"type": "button", "action_id": ids.NEW_REQUEST_ACTION, "style": "primary",
             "text": plain("Request time off"), "value": "new"}]})
    if note:
        blocks.append(context(note))
    below = []  # the parts under the list, laid out first: the list gets the room they leave
    if balances_text:
        # A line per leave type: many types with long names outgrow one section's 3,000 characters.
        below += [{"type": "divider"}, *sections(balances_text.split("\n"), limit=MAX_BALANCE_SECTIONS)]
    if waiting:
        below += [{"type": "divider"}, section(f"*Waiting for your decision* ({len(waiting)})")]
        for entry in waiting[:MAX_WAITING]:
            below += waiting_blocks(config, entry)
        if len(waiting) > MAX_WAITING:
            below.append(context(f"and {len(waiting) - MAX_WAITING} more in the approvals channels."))
    if team_week:
        below += [{"type": "divider"}, *team_week]
    if holidays_ahead:
        below += holidays_ahead
    if is_hr:
        below.append({"type": "divider"})
        if console_url:
            below.append({"type": "actions", "block_id": "home_hr", "elements": [
                {"type": "button", "action_id": ids.CONSOLE_LINK_ACTION, "text": plain("Open the HR console"),
                 "url": console_url}]})
        else:
            below.append(section("You are HR here: teams, approvers and leave types are set in the HR console."))
    if leave is not None:
        blocks += messages.leave_list_blocks(config=config, pending=leave.pending, upcoming=leave.upcoming,
                                             ongoing=leave.ongoing, recent=leave.recent,
                                             today=today or leave.today,
                                             max_blocks=MAX_BLOCKS - len(blocks) - len(below),
                                             max_text=None)  # a message's bound on its blocks' text
    return {"type": "home", "blocks": blocks + below}


# App Home names the team's next few holidays (public and the company's) within this many days.
HOLIDAYS_AHEAD_DAYS = 90
HOLIDAYS_AHEAD_MOST = 3


def holidays_ahead_blocks(team_name: str, holidays: dict[date, str], today: date) -> list[dict]:
    """The team's next holidays from `today`, at most HOLIDAYS_AHEAD_MOST within HOLIDAYS_AHEAD_DAYS: one
    context block ("Holidays coming up (Engineering): Fri 25 Dec, Christmas Day · …"); none when there
    are none. Names may be HR's (company days) and are escaped."""
    ahead = [(day, name) for day, name in sorted(holidays.items())
             if today <= day <= today + timedelta(days=HOLIDAYS_AHEAD_DAYS)][:HOLIDAYS_AHEAD_MOST]
    if not ahead:
        return []
    days = " · ".join(f"{format_day(day, with_year=day.year != today.year)}, {escape(name)}" for day, name in ahead)
    return [context(f":calendar: Holidays coming up ({escape(team_name)}): {days}")]


def waiting_blocks(config: WorkspaceConfig, entry: LedgerEntry) -> list[dict]:
    """A pending request with Approve / Reject that behave exactly like the channel's buttons."""
    leave_type = config.leave_type(entry.leave_type)
    value = messages.decision_value(entry, located=True)
    if leave_type is None or leave_type.private:
        # DESIGN §5: a private type is named in the approvals channel (one click away) and the requester's
        # DM only; an approver need not be in that channel (a listed approver of a private one), as nudges.
        summary = f"{AWAY}, {messages.entry_dates(entry)} ({days_text(entry.days)})"
        link = f" <{message_link(entry.channel, entry.ts)}|Open the request>" if entry.channel and entry.ts else ""
    else:
        summary, link = messages.request_summary(entry, leave_type), ""
    return [
        section(f"*{mention(entry.user)}* requests *{summary}* ({escape(entry.team)}){link}"),
        {"type": "actions", "block_id": f"decide:{entry.id}"[:255], "elements": [
            {"type": "button", "action_id": ids.APPROVE_ACTION, "style": "primary", "text": plain("Approve"),
             "value": value},
            {"type": "button", "action_id": ids.REJECT_ACTION, "style": "danger", "text": plain("Reject"),
             "value": value},
        ]},
    ]
