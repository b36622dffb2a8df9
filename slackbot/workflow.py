"""The background half of the request flow: deliver a request, apply a decision, tell people.

These functions run inside tasks (`slackbot/tasks.py`) with the background
client, so they may call Slack freely. Each is idempotent: run twice, it posts
once (a delivery looks for its request id in the ledger first; a decision
re-reads the message and does nothing to a request already decided).
"""

import logging
import time
from dataclasses import asdict, dataclass, replace
from datetime import date, datetime
from zoneinfo import ZoneInfo

from django.core.cache import cache
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from approvals import directory, ledger, ledger_reader
from approvals.cache_lock import acquire, locked, release
from approvals.config_store import current_config
from approvals.config_types import LeaveTypeConfig, TeamConfig, WorkspaceConfig
from approvals.ledger_reader import Ledger
from approvals.models import DeliveryProblem
from approvals.rules import (
    APPROVED,
    PENDING,
    LedgerEntry,
    LeaveRequest,
    balance_for,
    capacity_violation,
    format_number,
    format_range,
    request_days,
    validate_request,
    who_is_out,
)
from approvals.team_routing import approvers_for, match_team, may_request, team_for_channel
from approvals.work_calendar import team_holidays
from slackbot import blocks
from slackbot.slack_client import ledger_post_client

logger = logging.getLogger(__name__)

# Slack errors that no retry will fix: the request cannot reach its channel.
PERMANENT_ERRORS = {
    "channel_not_found",
    "not_in_channel",
    "is_archived",
    "invalid_auth",
    "account_inactive",
    "token_revoked",
    "missing_scope",
    "restricted_action",
}
# Longer than a decision can take with the background client's retries (15 s timeout, 3 retries).
DECISION_LOCK_SECONDS = 120
DECISION_LOCK_WAIT_SECONDS = 10
FOLLOWUP_MARK_SECONDS = 30 * 24 * 60 * 60


@dataclass(frozen=True)
class Submission:
    """A submitted request, as it travels in a task row until it is delivered."""

    id: str
    user: str
    leave_type: str
    start: date
    end: date
    start_half: str | None
    end_half: str | None
    note: str
    validated: bool  # True when the modal validated it against a warm cache

    def as_task_data(self) -> dict:
        data = asdict(self)
        data["start"], data["end"] = self.start.isoformat(), self.end.isoformat()
        return data

    @classmethod
    def from_task_data(cls, data: dict) -> "Submission":
        return cls(**{**data, "start": date.fromisoformat(data["start"]), "end": date.fromisoformat(data["end"])})

    @property
    def leave_request(self) -> LeaveRequest:
        return LeaveRequest(self.user, self.leave_type, self.start, self.end, self.start_half, self.end_half)


@dataclass(frozen=True)
class Decision:
    request_id: str
    channel: str
    ts: str
    approver: str
    status: str  # APPROVED or REJECTED
    reason: str | None = None


# --- Lookups that may call Slack (background only) ----------------------------------------


def slack_lookups(client: WebClient):
    return (
        lambda channel: directory.fetch_channel_members(client, channel),
        lambda usergroup: directory.fetch_usergroup_members(client, usergroup),
    )


def cached_lookups():
    return directory.cached_channel_members, directory.cached_usergroup_members


def holiday_dates(config: WorkspaceConfig, team: TeamConfig, start: date, end: date) -> dict[date, str]:
    return team_holidays(team, config.holidays_for(team.name), range(start.year, end.year + 1))


def local_today(timezone_name: str, now: float | None = None) -> date:
    try:
        zone = ZoneInfo(timezone_name)
    except (ValueError, KeyError):
        zone = ZoneInfo("UTC")
    return datetime.fromtimestamp(time.time() if now is None else now, tz=zone).date()


def check_submission(
    config: WorkspaceConfig,
    submission: Submission,
    *,
    team: TeamConfig,
    leave_type: LeaveTypeConfig,
    today: date,
    ledger: Ledger | None = None,
) -> list:
    """Every rule of DESIGN §7; the ledger rules (overlap, allowance, capacity) when a ledger is given."""
    return validate_request(
        submission.leave_request,
        leave_type=leave_type,
        team=team,
        holiday_dates=holiday_dates(config, team, submission.start, submission.end),
        blackouts=config.blackouts_for(team.name),
        today=today,
        ledger=None if ledger is None else ledger.without(submission.id),
        adjustments=() if ledger is None else ledger.adjustments_for(submission.user),
    )


def submission_entry(config: WorkspaceConfig, submission: Submission, *, team: TeamConfig,
                     leave_type: LeaveTypeConfig) -> LedgerEntry:
    """The ledger entry a submission becomes: pending, or approved at once when no approval is needed."""
    holidays = holiday_dates(config, team, submission.start, submission.end)
    return LedgerEntry(
        id=submission.id,
        user=submission.user,
        team=team.name,
        leave_type=leave_type.code,
        start=submission.start,
        end=submission.end,
        start_half=submission.start_half,
        end_half=submission.end_half,
        days=request_days(submission.leave_request, team.workweek, holidays),
        status=PENDING if leave_type.requires_approval else APPROVED,
        decided_at=None if leave_type.requires_approval else int(time.time()),
    )


def ledger_context(config: WorkspaceConfig, ledger: Ledger | None, entry: LedgerEntry,
                   leave_type: LeaveTypeConfig) -> str:
    """Who else on the team is out then, and the balance left after this request."""
    if ledger is None:
        return ""
    others = [e for e in who_is_out(ledger.without(entry.id), entry.start, entry.end, exclude_user=entry.user)
              if e.team == entry.team]
    lines = []
    if others:
        listed = ", ".join(f"{blocks.mention(e.user)} ({format_range(e.start, e.end, e.start_half, e.end_half)},"
                           f" {e.status})" for e in others[:10])
        more = f" and {len(others) - 10} more" if len(others) > 10 else ""
        lines.append(f":busts_in_silhouette: Also out: {listed}{more}")
    else:
        lines.append(":busts_in_silhouette: Nobody else on the team is out then.")
    if leave_type.annual_allowance_days is not None:
        team = config.team_named(entry.team)
        workweek = team.workweek if team else (0, 1, 2, 3, 4)
        holidays = holiday_dates(config, team, entry.start, entry.end) if team else {}
        entries = [*ledger.without(entry.id), entry]
        for year in range(entry.start.year, entry.end.year + 1):
            balance = balance_for(entry.user, leave_type, year, entries=entries,
                                  adjustments=ledger.adjustments_for(entry.user), workweek=workweek,
                                  holiday_dates=holidays)
            lines.append(f":bar_chart: After this request: {format_number(balance.remaining)} of "
                         f"{format_number(balance.allowance + balance.adjustments)} days of {leave_type.name} "
                         f"left in {year}")
    return "\n".join(lines)


def shown_back(submission: Submission, leave_type: LeaveTypeConfig | None) -> str:
    label = leave_type.label if leave_type else submission.leave_type
    dates = format_range(submission.start, submission.end, submission.start_half, submission.end_half)
    note = f' — "{submission.note}"' if submission.note else ""
    return f"{label}, {dates}{note}"


# --- Delivery -----------------------------------------------------------------------------


def deliver_request(client: WebClient, submission: Submission) -> None:
    """Post a submitted request to its approvers (or record it, when it needs no approval)."""
    config = current_config()
    leave_type = config.leave_type(submission.leave_type)
    channel_members, usergroup_members = slack_lookups(client)

    def refuse(reasons: list[str]) -> None:
        send_dm(client, submission.user, blocks.request_refused_text(reasons, shown_back(submission, leave_type)))

    if leave_type is None:
        return refuse([f"the leave type '{submission.leave_type}' no longer exists"])
    if not may_request(config, submission.user, channel_members=channel_members):
        return refuse([not_allowed_text(config)])
    team = match_team(config, submission.user, channel_members=channel_members, usergroup_members=usergroup_members).team
    if team is None:
        return refuse([no_team_text(config)])
    try:
        history = ledger_reader.current_ledger(client, config)
    except ledger_reader.LedgerUnavailable as exc:
        logger.error("ledger unavailable for delivery id=%s: %s", submission.id, exc)
        history, unreadable = None, exc
    if not submission.validated:
        if history is None:
            ledger_reader.pending_remove(submission.id, team=team.name)
            record_delivery_problem(submission, leave_type, team, channel=unreadable.channel, error=unreadable.error)
            return refuse(["I couldn't read the leave history to check your balance and overlaps "
                           "(Slack refused to show the approvals channel); HR has been told — please try again later"])
        today = local_today(directory.fetch_timezone(client, submission.user))
        # As in the modal: checking and joining the pending set are one step per person, so two
        # requests checked here at once (by two workers) cannot both pass.
        with locked(f"lock:submit:{submission.user}", wait=30):
            history = ledger_reader.cached_ledger(config) or history
            violations = check_submission(config, submission, team=team, leave_type=leave_type, today=today,
                                          ledger=history)
            if violations:
                ledger_reader.pending_remove(submission.id, team=team.name)
                return refuse([violation.message for violation in violations])
            ledger_reader.pending_add(submission_entry(config, submission, team=team, leave_type=leave_type))

    approvers = approvers_for(config, team, submission.user, channel_members=channel_members)
    entry = submission_entry(config, submission, team=team, leave_type=leave_type)

    try:
        posted = ledger.find_recent_request(client, channel=team.approvals_channel, request_id=entry.id)
    except SlackApiError as exc:
        if exc.response.get("error", "") not in PERMANENT_ERRORS:
            raise
        # A channel we may not read (the bot was removed from it, it was deleted, the token revoked)
        # holds no earlier post of ours either. The post below meets the same refusal and reports it.
        logger.warning("ledger check skipped id=%s channel=%s error=%s", entry.id, team.approvals_channel,
                       exc.response["error"])
        posted = None
    if posted is None:
        text, message_blocks = blocks.request_message(
            entry=entry, leave_type=leave_type, note=submission.note, approvers=approvers,
            others_out=ledger_context(config, history, entry, leave_type),
        )
        try:
            ledger.post_request(ledger_post_client(), channel=team.approvals_channel, entry=entry, text=text,
                                blocks=message_blocks)
        except SlackApiError as exc:
            error = exc.response.get("error", "")
            if error not in PERMANENT_ERRORS:
                raise
            ledger_reader.pending_remove(submission.id, team=team.name)
            report_undelivered(client, submission, leave_type, team, error)
            return
        logger.info("request delivered id=%s team=%s status=%s", entry.id, team.name, entry.status)
    else:
        entry = posted.entry  # posted by an earlier attempt: deliver the rest only
    ledger_reader.record_entry(entry)

    once(f"receipt:{entry.id}", lambda: send_dm(client, entry.user, blocks.receipt_text(entry, leave_type, approvers)))
    if entry.status == APPROVED:
        once(f"announce:{entry.id}", lambda: announce(client, team, entry, leave_type))


def report_undelivered(client, submission: Submission, leave_type: LeaveTypeConfig | None, team: TeamConfig | None,
                       error: str, *, problem: str | None = None) -> None:
    """The request will not reach its approvers: record it for HR (admin and log), tell the requester.

    Telling the requester may fail for the same reason (a revoked token fails every call): that
    is logged, and the task still ends, since no retry can help.
    """
    channel = team.approvals_channel if team else ""
    if problem is None:
        problem = f"Slack refused the post to the approvals channel <#{channel}> ({error})"
    record_delivery_problem(submission, leave_type, team, channel=channel, error=error)

    def tell_requester() -> None:
        try:
            send_dm(client, submission.user,
                    blocks.request_not_delivered_text(problem, shown_back(submission, leave_type)))
        except (SlackClientError, OSError) as exc:
            reason = exc.response.get("error") if isinstance(exc, SlackApiError) else type(exc).__name__
            logger.error("requester not told of the undelivered request id=%s user=%s error=%s",
                         submission.id, submission.user, reason)

    once(f"undelivered-dm:{submission.id}", tell_requester)


def record_delivery_problem(submission: Submission, leave_type: LeaveTypeConfig | None, team: TeamConfig | None, *,
                            channel: str, error: str) -> None:
    """An error line in the log and a DeliveryProblem row in the admin, once per request."""

    def record() -> None:
        logger.error("request not delivered id=%s user=%s team=%s channel=%s error=%s",
                     submission.id, submission.user, team.name if team else "", channel, error)
        DeliveryProblem.objects.create(
            request_id=submission.id[:64], user=submission.user[:32], team=(team.name if team else "")[:100],
            channel=channel[:32], error=error[:100],
            summary=shown_back(replace(submission, note=""), leave_type),  # the note may be private
        )

    once(f"undelivered:{submission.id}", record)


# --- Decisions ------------------------------------------------------------------------------


def decide_request(client: WebClient, decision: Decision) -> None:
    """Apply an approver's decision exactly once, however many approvers click at once."""
    config = current_config()

    def tell_clicker(text: str) -> None:
        post_ephemeral(client, decision.channel, decision.approver, text)

    message = ledger.read_request_at(client, channel=decision.channel, ts=decision.ts)
    if message is None or message.entry.id != decision.request_id:
        return tell_clicker("This request no longer exists (its message was deleted).")
    entry = message.entry
    team = config.team_named(entry.team) or team_for_channel(config, decision.channel)
    if team is None:
        return tell_clicker(f"The team {entry.team} is no longer configured; ask HR to decide this request.")
    if entry.status != PENDING:
        return finish_or_refuse(client, config, decision, message)
    if decision.approver == entry.user:
        return tell_clicker(blocks.own_request_text())
    channel_members, _ = slack_lookups(client)
    if decision.approver not in approvers_for(config, team, entry.user, channel_members=channel_members):
        return tell_clicker(blocks.not_an_approver_text(team.name))

    lock = f"lock:decide:{entry.id}"
    decided_mark = f"decided:{entry.id}"
    # Stop waiting as soon as the holder has written a decision: the other clickers are then told who
    # decided all at once, not one by one under the lock (20 approvers and a slow Slack outlast the wait).
    token = acquire(lock, timeout=DECISION_LOCK_SECONDS, wait=DECISION_LOCK_WAIT_SECONDS, poll=0.1,
                    unless=lambda: cache.get(decided_mark) is not None)
    if token is None:
        return tell_after_waiting(client, config, decision)
    # Approvals of one team are serialised while max_out applies, so two cannot together exceed it.
    team_lock = f"lock:team:{team.name}" if decision.status == APPROVED and team.max_out is not None else None
    team_token = (acquire(team_lock, timeout=DECISION_LOCK_SECONDS, wait=DECISION_LOCK_WAIT_SECONDS, poll=0.1)
                  if team_lock else None)
    if team_lock and team_token is None:
        release(lock, token)
        return tell_clicker("Another approval for this team is being recorded; please click again in a moment.")
    try:
        # Re-read under the lock: someone may have decided while we checked.
        message = ledger.read_request_at(client, channel=decision.channel, ts=decision.ts)
        if message is None:
            return tell_clicker("This request no longer exists (its message was deleted).")
        if message.entry.status != PENDING:
            return finish_or_refuse(client, config, decision, message)
        if team_lock:
            full = capacity_when_approved(client, config, team, message.entry)
            if full:
                return tell_clicker(f"You can't approve this yet: {full}.")
        decided = replace(
            message.entry,
            status=decision.status,
            decided_by=decision.approver,
            decided_at=int(time.time()),
            reason=decision.reason or None,
        )
        leave_type = config.leave_type(decided.leave_type)
        text, message_blocks = blocks.request_message(
            entry=decided, leave_type=leave_type, note=blocks.note_from_blocks(message.blocks), approvers=frozenset()
        )
        ledger.update_request(client, channel=decision.channel, ts=decision.ts, entry=decided, text=text,
                              blocks=message_blocks)
        ledger_reader.record_entry(decided)
        cache.set(decided_mark, decided.status, DECISION_LOCK_SECONDS)  # before the lock goes: waiters stop
        logger.info("request decided id=%s status=%s by=%s", decided.id, decided.status, decided.decided_by)
    finally:
        release(lock, token)
        if team_lock:
            release(team_lock, team_token)
    send_followups(client, config, team, decided, decision)


def tell_after_waiting(client, config: WorkspaceConfig, decision: Decision) -> None:
    """The lock did not come (or another approver decided meanwhile): say who decided, if anyone has."""
    message = ledger.read_request_at(client, channel=decision.channel, ts=decision.ts)
    if message is None:
        text = "This request no longer exists (its message was deleted)."
    elif message.entry.status != PENDING:
        return finish_or_refuse(client, config, decision, message)
    else:
        text = "Another approver is deciding this request right now; check the message in a moment."
    post_ephemeral(client, decision.channel, decision.approver, text)


def capacity_when_approved(client, config: WorkspaceConfig, team: TeamConfig, entry: LedgerEntry) -> str | None:
    """Would approving `entry` put more of the team out than `max_out`? Counts approved leave only."""
    try:
        history = ledger_reader.current_ledger(client, config)
    except ledger_reader.LedgerUnavailable as exc:
        return f"I couldn't read the team's leave to check how many are out ({exc.error})"
    approved = [e for e in history.without(entry.id) if e.status == APPROVED]
    request = LeaveRequest(entry.user, entry.leave_type, entry.start, entry.end, entry.start_half, entry.end_half)
    violation = capacity_violation(request, team=team, ledger=approved,
                                   holiday_dates=holiday_dates(config, team, entry.start, entry.end))
    return violation.message if violation else None


def finish_or_refuse(client, config: WorkspaceConfig, decision: Decision, message: ledger.LedgerMessage) -> None:
    """A request that is no longer pending: finish our own earlier decision, or tell the clicker who decided."""
    entry = message.entry
    if entry.decided_by == decision.approver and entry.status == decision.status:
        # Our own decision, written before a crash: make sure its follow-ups went out.
        team = config.team_named(entry.team) or team_for_channel(config, decision.channel)
        if team is not None:
            send_followups(client, config, team, entry, decision)
        return
    post_ephemeral(client, decision.channel, decision.approver, blocks.already_decided_text(entry))


def send_followups(client, config: WorkspaceConfig, team: TeamConfig, entry: LedgerEntry, decision: Decision) -> None:
    leave_type = config.leave_type(entry.leave_type)
    once(
        f"thread:{entry.id}:{entry.status}",
        lambda: client.chat_postMessage(channel=decision.channel, thread_ts=decision.ts,
                                        text=blocks.thread_reply_text(entry)),
    )
    once(f"decision-dm:{entry.id}:{entry.status}",
         lambda: send_dm(client, entry.user, blocks.decision_dm_text(entry, leave_type)))
    if entry.status == APPROVED:
        once(f"announce:{entry.id}", lambda: announce(client, team, entry, leave_type))


# --- Small Slack helpers ----------------------------------------------------------------------


def announce(client, team: TeamConfig, entry: LedgerEntry, leave_type: LeaveTypeConfig | None) -> None:
    if team.announce_channel:
        client.chat_postMessage(channel=team.announce_channel, text=blocks.announcement_text(entry, leave_type))


def send_dm(client: WebClient, user: str, text: str) -> None:
    """A direct message from the app; posting to a user id opens the DM."""
    client.chat_postMessage(channel=user, text=text)


def post_ephemeral(client: WebClient, channel: str, user: str, text: str) -> None:
    try:
        client.chat_postEphemeral(channel=channel, user=user, text=text)
    except SlackApiError as exc:
        # The channel may be gone or the user not in it: a DM still reaches them.
        logger.warning("ephemeral failed channel=%s error=%s; sending a DM", channel, exc.response.get("error"))
        send_dm(client, user, text)


def once(key: str, action) -> None:
    """Run a side effect unless it already ran for this key (at-least-once across crashes)."""
    mark = f"done:{key}"
    if cache.get(mark):
        return
    action()
    cache.set(mark, 1, FOLLOWUP_MARK_SECONDS)


def not_allowed_text(config: WorkspaceConfig) -> str:
    contacts = blocks.mentions(config.fallback_approvers) if config.fallback_approvers else "HR"
    return f"you are not among the people who may request time off here; ask {contacts}"


def no_team_text(config: WorkspaceConfig) -> str:
    contacts = blocks.mentions(config.fallback_approvers) if config.fallback_approvers else "HR"
    return f"no team is configured for you, so nobody could approve it; ask {contacts} to add you to a team"
