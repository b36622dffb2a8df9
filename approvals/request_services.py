"""A request's story: submitted, delivered to its approvers, decided.

Services named `request_<action>`. They take plain data (never a Slack
payload, a block id or an HTTP request) and return plain results:

- `request_submit` runs on Slack's request path: it reads only the cache,
  checks every rule it can, and enqueues the delivery.
- `request_deliver` and `request_decide` run in tasks (`approvals.tasks`) with
  the background client, so they may call Slack freely. Each is idempotent:
  run twice, it posts once (a delivery looks for its request id in the ledger
  first; a decision re-reads the message and does nothing to a request already
  decided).
"""

import html
import logging
import time
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import date

from django.core.cache import cache
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from approvals import directory, ledger, ledger_reader, messages, pending_indexes, tasks
from approvals.block_kit import SLACK_USER_ID, escape
from approvals.cache_lock import LockBusy, acquire, claim, claim_held, key_part, locked, release, renew
from approvals.config_store import current_config
from approvals.config_types import LeaveTypeConfig, TeamConfig, WorkspaceConfig
from approvals.ledger_reader import Ledger, SliceLedger
from approvals.models import DeliveryProblem
from approvals.notifications import (
    announce,
    followup,
    followup_notice,
    followups_lost,
    new_ask,
    notice_tag,
    once_lease_seconds,
    once,
    post_ephemeral,
    receipt_update,
    record_problem,
    remind_if_its_run_passed,
    send_answer,
    send_dm,
    send_dm_once,
    send_receipt,
)
from approvals.rules import (
    APPROVED,
    FIELD_START,
    FIELD_TYPE,
    PENDING,
    LeaveRequest,
    LedgerEntry,
    approval_violations,
    basic_violations,
    capacity_violation,
    days_by_year,
    errors_by_field,
    format_range,
    halves_that_count,
    request_days,
    too_long,
    validate_request,
)
from approvals.selectors import (
    CachedRequester,
    team_approvers,
    holiday_dates,
    ledger_context,
    local_today,
    no_team_cause,
    requester_context,
    slack_lookups,
    team_of_user,
)
from approvals.setup_warnings import warn_if_approvers_cannot_see
from approvals.slack_clients import ledger_post_client, locked_write_client
from approvals import task_queue
from approvals.task_queue import error_code, slack_may_have_acted, transient
from approvals.team_routing import (
    approvers_for,
    fallback_deciders,
    match_team,
    may_request,
    named_approvers,
    team_of_entry,
)

logger = logging.getLogger(__name__)

# Slack errors that no retry will fix: the request cannot reach its channel.
PERMANENT_ERRORS = {
    "channel_not_found",
    "not_in_channel",
    "is_archived",
    "is_inactive",  # chat.update's answer for an archived channel
    "invalid_auth",
    "account_inactive",
    "token_revoked",
    "missing_scope",
    "restricted_action",
    ledger.METADATA_DROPPED,  # posted without its record, and deleted (ledger.post_request)
}
# Longer than a decision can take with the background client's retries (15 s timeout, 3 retries).
DECISION_LOCK_SECONDS = 120
DECISION_LOCK_WAIT_SECONDS = 10
SUBMISSION_DEDUP_SECONDS = 24 * 60 * 60
# A person's caches are warmed at most this often: a form opened again soon after finds them warm, and
# each warming costs the opening request a task row (a database commit) before it can answer.
WARM_AGAIN_AFTER_SECONDS = 60
# Slack waits 3 s for the whole answer (DESIGN §3): a busy lock is reported, not waited out.
REQUEST_PATH_LOCK_WAIT_SECONDS = 1
# A submission is checked again when another request of the same person was added while it was
# checked; a person does not send three forms at the same instant.
SUBMIT_ATTEMPTS = 3
# How long we remember that the ledger holds a request or decision of ours: past any retrying.
WRITTEN_MARK_SECONDS = 24 * 60 * 60


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
    recorded_by: str | None = None  # HR recording it for `user`: approved at once, in their name
    # When it was sent (Unix seconds): a task checking it later (a cold cache, a busy queue) judges
    # "in the past" by the day it was sent on, not the day the task runs: a request sent at 23:59 for
    # today is not refused after midnight. Made with the Submission; kept in the task row.
    submitted_at: float = field(default_factory=time.time)

    def as_task_data(self) -> dict:
        data = self.__dict__.copy()  # its fields are flat: asdict's deep copy costs more than the rest
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
    # Where the approver clicked, to tell them there what became of it: a channel (an ephemeral note) or
    # "" (a DM: App Home's buttons, which have no channel). None: the request's channel.
    told_in: str | None = None
    # When the button was pressed on App Home (Slack's `action_ts`): the note to the approver comes by DM,
    # said once for this press (tell_approver). None elsewhere.
    pressed_at: str | None = None

    def as_task_data(self) -> dict:
        data = self.__dict__.copy()  # flat fields: no deep copy needed
        for optional in ("told_in", "pressed_at"):
            if data[optional] is None:
                del data[optional]  # the usual case keeps the shape workers of an earlier release read
        return data

    @property
    def answer_channel(self) -> str:
        """The channel of an ephemeral note to the approver; "" for a DM."""
        return self.channel if self.told_in is None else self.told_in


def check_submission(config: WorkspaceConfig, submission: Submission, *, team: TeamConfig,
                     leave_type: LeaveTypeConfig, today: date, zone_known: bool = True,
                     ledger: "Ledger | ledger_reader.SliceLedger | None" = None, kept_start: date | None = None) -> list:
    """Every rule of DESIGN §7; the ledger rules (overlap, allowance, capacity) when a ledger is given.

    The whole ledger or the requester's view of it (`ledger_reader.person_view` for this
    submission's team and dates): the rules look only at the requester's own entries and
    adjustments and at the team's entries meeting the dates, which the view holds in full.
    Leave HR records for someone may lie in the past (a sick day reported late), up to
    rules.YEARS_BACK years. `zone_known=False`: `today` is UTC's; `kept_start`: an edited request's first
    day (rules.basic_violations).
    """
    return validate_request(
        submission.leave_request,
        leave_type=leave_type,
        team=team,
        # Not for a request longer than a year: refused (rules.too_long) before any calendar is read.
        holiday_dates={} if too_long(submission.leave_request) else holiday_dates(config, team, submission.start,
                                                                                 submission.end),
        blackouts=config.blackouts_for(team.name),
        today=today,
        zone_known=zone_known,
        recorded=bool(submission.recorded_by),
        kept_start=kept_start,
        whose="their" if submission.recorded_by else "your",  # HR recording it reads of the person's leave
        ledger=None if ledger is None else ledger.without(submission.id),
        adjustments=() if ledger is None else ledger.adjustments_for(submission.user),
    )


def submission_entry(config: WorkspaceConfig, submission: Submission, *, team: TeamConfig,
                     leave_type: LeaveTypeConfig) -> LedgerEntry:
    """The ledger entry a submission becomes: pending, or approved at once when no approval is needed."""
    holidays = holiday_dates(config, team, submission.start, submission.end)
    split = (tuple(days_by_year(submission.leave_request, team.workweek, holidays).items())
             if submission.start.year != submission.end.year else ())
    start_half, end_half = halves_that_count(submission.leave_request, team.workweek, holidays)
    return LedgerEntry(
        id=submission.id,
        user=submission.user,
        team=team.name,
        leave_type=leave_type.code,
        start=submission.start,
        end=submission.end,
        start_half=start_half,
        end_half=end_half,
        days=request_days(submission.leave_request, team.workweek, holidays),
        status=PENDING if leave_type.requires_approval and not submission.recorded_by else APPROVED,
        decided_by=submission.recorded_by,
        decided_at=None if leave_type.requires_approval and not submission.recorded_by else int(time.time()),
        recorded_by=submission.recorded_by,
        days_by_year=split,
    )


def recorded_by_hr(submission: Submission) -> bool:
    """HR recorded it for someone (from Slack or the console): refusals are about them, told to HR."""
    return bool(submission.recorded_by) and submission.recorded_by != submission.user


def recorded_for(submission: Submission) -> str | None:
    """The person HR recorded this request for, when HR sent it from Slack (and so waits to hear what
    became of it there); None for a person's own request, or one recorded in the console (whose
    `recorded_by` may be a name, not someone Slack can DM: the page checked it and shows its errors)."""
    by = submission.recorded_by
    return submission.user if by and by != submission.user and SLACK_USER_ID.match(by) else None


def asker(submission: Submission) -> str | None:
    """Who sent this request and waits to hear what became of it: HR recording it for someone (not
    that person, who asked for nothing and is told once it is recorded), else the requester. None for
    leave HR recorded in the console: nobody waits in Slack, and HR sees what became of it there (the
    Setup page's delivery problems)."""
    if recorded_by_hr(submission) and not recorded_for(submission):
        return None
    return submission.recorded_by if recorded_for(submission) else submission.user


def shown_back(submission: Submission, leave_type: LeaveTypeConfig | None) -> str:
    return messages.shown_back_text(leave_type=leave_type, leave_type_code=submission.leave_type,
                                    dates=asked_dates(submission), note=submission.note)


def shown_to_hr(submission: Submission, leave_type: LeaveTypeConfig | None) -> str:
    """A request as HR's console shows it (the Setup page's delivery problems, for any staff account): plain
    text (the page escapes it, not mrkdwn), without the note, and a private type not named (DESIGN §5: only
    the approvals channel and the requester's DM name it)."""
    if leave_type is not None and leave_type.private:
        label = "Time off of a private type"
    else:
        label = leave_type.label if leave_type else submission.leave_type
    return f"{label}, {asked_dates(submission)}"


def asked_dates(submission: Submission) -> str:
    """Its dates, with the year unless it is this one (UTC's: a day either way changes nothing that matters)."""
    return format_range(submission.start, submission.end, submission.start_half, submission.end_half,
                        today=local_today("UTC"))


# --- Submit (on Slack's request path: the cache only) ----------------------------------------


def request_form_opened(user: str) -> None:
    """Someone opened the form: warm what their submission will need, so it validates inside Slack's 3 s.

    Best effort: the form is already open in front of them, and a warm-up that could not be claimed or
    queued (the cache or the database failing for a moment) must not answer the command as failed. Their
    submission, finding the caches cold, is checked in its task (DESIGN §5)."""
    try:
        if claim(f"warm:{user}", WARM_AGAIN_AFTER_SECONDS):
            tasks.warm_requester.enqueue(user)
    except Exception as exc:
        logger.warning("warm-up not queued user=%s error=%s", user, type(exc).__name__)


def requester_warm(client: WebClient, user: str) -> None:
    """Fill the caches a submission needs (time zone, team memberships, the ledger)."""
    config = current_config()
    directory.fetch_timezone(client, user)
    channels = {config.requesters_channel} | {t.members.channel for t in config.teams} | {
        t.approvers.channel for t in config.teams}
    for channel in channels - {None}:
        directory.fetch_channel_members(client, channel)
    for usergroup in {t.members.usergroup for t in config.teams} - {None}:
        directory.fetch_usergroup_members(client, usergroup)
    try:
        ledger_reader.refresh_if_stale(client, config)
    except ledger_reader.LedgerUnavailable as exc:
        # The submission will find the ledger cold and be checked (and explained) in its own task.
        logger.error("ledger unavailable while warming: %s", exc)


@dataclass(frozen=True)
class SubmitContext:
    """What a submission starts from, read in one round trip (`submit_context`)."""

    config: WorkspaceConfig
    user: str  # the requester
    requester: CachedRequester  # what the cache knows of them
    dedup_key: str
    claimed_by: str | None  # the request id holding the form's de-duplication key: this form was sent before

    @property
    def duplicate(self) -> bool:
        return self.claimed_by is not None


def submit_context(user: str, *, dedup_key: str) -> SubmitContext:
    """The configuration, what the cache knows of `user` and whether the form was sent already."""
    config, requester, found = requester_context(user, also=(dedup_key,))
    claimed_by = found.get(dedup_key)
    return SubmitContext(config=config, user=user, requester=requester, dedup_key=dedup_key,
                         claimed_by=str(claimed_by) if claimed_by else None)


def request_submit(submission: Submission, *, dedup_key: str, context: SubmitContext | None = None) -> dict[str, str]:
    """Accept a request from the form: the errors to show by field (rules.FIELD_*), or {} once enqueued.

    Every rule is checked here when the cache knows the requester and the
    ledger. Otherwise every rule that needs no ledger is checked here all the
    same, and the request is accepted and checked against the ledger in its
    delivery task, which DMs the requester if it is refused (DESIGN §5, cold
    cache). The same form sent twice (`dedup_key`: a double click, a Slack
    retry) is sent once. Nothing here waits more than about a second.
    `context`: the caller's `submit_context` for this requester and form, when it has one.
    """
    if context is None or (context.user, context.dedup_key) != (submission.user, dedup_key):
        context = submit_context(submission.user, dedup_key=dedup_key)
    config, requester = context.config, context.requester
    if context.claimed_by:
        return duplicate_submission(submission.user, context.claimed_by)
    # A field's error is plain text: no mentions in it.
    for_hr = recorded_by_hr(submission)  # the form HR fills for someone: what is refused is about them
    if requester.allowed is False:
        if for_hr:
            refusal = messages.person_outsider_text() if requester.outsider else messages.person_not_allowed_text()
            return {FIELD_TYPE: f"Not recorded: {refusal}."}
        refusal = messages.outsider_text() if requester.outsider else messages.not_allowed_text(
            config, plain=True, unable=directory.hr_unable(config))
        return {FIELD_TYPE: f"Sorry, {refusal}."}
    if requester.team_known and requester.team is None:
        if for_hr:
            return {FIELD_TYPE: f"Not recorded: {messages.person_no_team_text(requester.no_team_cause)}."}
        no_team = messages.no_team_text(config, plain=True, cause=requester.no_team_cause,
                                        hr=directory.acts_as_hr(config, submission.user),
                                        unable=directory.hr_unable(config))
        return {FIELD_TYPE: f"Sorry, {no_team}."}
    leave_type = config.leave_type(submission.leave_type)
    if requester.allowed and requester.team and requester.timezone:
        try:
            checked = submit_against_ledger(config, submission, requester.team, leave_type, requester.timezone,
                                            dedup_key)
        except TimeoutError:
            # A lock another submission holds: the person's own racing one, or a teammate's on the team's
            # requests in flight. Neither is theirs to look for.
            return {FIELD_START: "Other requests are being sent right now; press Submit again in a moment."}
        if checked is not None:
            return checked
    # A cold cache: the rules that need no ledger now, the others in the task. While the time zone is
    # unknown, UTC's day with a day's tolerance either way (rules.basic_violations).
    today, zone_known = local_today(requester.timezone or "UTC"), bool(requester.timezone)
    if requester.team is not None:
        violations = check_submission(config, submission, team=requester.team, leave_type=leave_type, today=today,
                                      zone_known=zone_known)
    else:
        violations = basic_violations(submission.leave_request, leave_type=leave_type, today=today,
                                      zone_known=zone_known, recorded=bool(submission.recorded_by))
    if violations:
        return errors_by_field(violations)
    return accept_unchecked(submission, dedup_key)


def team_lock_key(team: TeamConfig) -> str:
    """The lock under which leave of `team` becomes approved while `max_out` applies: an approval
    (write_decision), and leave approved as it is sent (a type that needs no approval, or recorded by
    HR), so that two of them at once cannot together put more of the team out than `max_out`."""
    return f"lock:team:{key_part(team.name)}"


@contextmanager
def capacity_held(team: TeamConfig, entry: LedgerEntry, *, wait: float):
    """The team's lock (`team_lock_key`) around checking and adding `entry`, when it is approved as it
    is sent and `max_out` applies; nothing otherwise (a pending request is checked again at approval)."""
    if team.max_out is None or entry.status != APPROVED:
        yield
        return
    with locked(team_lock_key(team), wait=wait):
        yield


def submit_against_ledger(config: WorkspaceConfig, submission: Submission, team: TeamConfig,
                          leave_type: LeaveTypeConfig, timezone: str, dedup_key: str) -> dict[str, str] | None:
    """Every rule, against the cached ledger; None when the ledger is cold.

    Checked without a lock, then added only if nothing changed (optimistic):
    the check reads the person's pending version with what it checks, and the
    add fails if another request of theirs was added meanwhile, so two
    overlapping requests sent at once cannot both pass; the loser is checked
    again and sees the winner. The ledger is read in slices (the person's; the
    team's for these dates when `max_out` applies), so the cost does not grow
    with the ledger or the pending set. The add also claims `dedup_key`: the
    same form sent twice is added once.
    """
    # Capacity is the only rule that looks at other people's leave, and only under max_out.
    capacity = team.max_out is not None
    today = local_today(timezone)
    validated = replace(submission, validated=True)
    entry = submission_entry(config, validated, team=team, leave_type=leave_type)
    # Leave approved as it is sent, under max_out: checked and added under the team's lock (capacity_held).
    with capacity_held(team, entry, wait=REQUEST_PATH_LOCK_WAIT_SECONDS):
        for attempt in range(SUBMIT_ATTEMPTS):
            claimed_by = cache.get(dedup_key) if attempt else None
            if claimed_by:  # what changed meanwhile was this very form, sent twice at once
                return duplicate_submission(submission.user, claimed_by)
            history = ledger_reader.person_view(config, submission.user, team.name if capacity else None,
                                                submission.start, submission.end)
            if history is None:
                return None
            violations = check_submission(config, submission, team=team, leave_type=leave_type, today=today,
                                          ledger=history)
            if violations:
                return errors_by_field(violations)
            try:
                outcome = ledger_reader.pending_submit(
                    entry, seen_version=getattr(history, "pending_version", None),
                    claim=(dedup_key, submission.id, SUBMISSION_DEDUP_SECONDS),
                    wait=REQUEST_PATH_LOCK_WAIT_SECONDS)
            except Exception:
                # The cache may have made the add and lost its answer (a Redis timeout): left in place, the
                # claim would make this form, sent again, look sent, with no task to deliver it.
                give_back_claim(dedup_key, submission.id)
                raise
            if outcome == pending_indexes.CLAIMED:  # the same form, sent again
                return duplicate_submission(submission.user, cache.get(dedup_key))
            if outcome == pending_indexes.ADDED:
                break
        else:
            raise LockBusy(f"the pending requests of {submission.user} kept changing")
    try:
        tasks.deliver_request.enqueue(validated.as_task_data())
    except Exception:
        # Not enqueued: nothing will deliver it. Forget the claim and the pending entry, so that the
        # person, told by Slack that the form could not be sent, can send it again.
        cache.delete(dedup_key)
        ledger_reader.pending_remove(entry.id)
        raise
    return {}


def accept_unchecked(submission: Submission, dedup_key: str) -> dict[str, str]:
    """A cold cache: accept now, validate in the task, DM the requester if it is refused (DESIGN §5)."""
    try:
        claimed = cache.add(dedup_key, submission.id, SUBMISSION_DEDUP_SECONDS)
    except Exception:
        give_back_claim(dedup_key, submission.id)  # the add may have been made, its answer lost (as above)
        raise
    if not claimed:
        return duplicate_submission(submission.user, cache.get(dedup_key))
    try:
        tasks.deliver_request.enqueue(submission.as_task_data())
    except Exception:
        cache.delete(dedup_key)  # not enqueued: the same form, sent again, must not be taken as sent
        raise
    return {}


# How long the same form sent again waits for the first's delivery to be in the task queue (it is
# there milliseconds after its claim, unless the first is stuck on the database).
DUPLICATE_WAIT_SECONDS = 1.0
STILL_BEING_SENT_TEXT = "This form is still being sent. Wait a moment, then press Submit again."


def duplicate_submission(user: str, claimed_by: object, task=None) -> dict[str, str]:
    """The same form sent again (a double click; Submit pressed again after Slack gave up waiting on the
    first): closed as sent ({}) once the first's `task` (its delivery; an edit's) is in the task queue.

    The first takes the form's claim before it enqueues its delivery, and gives the claim back if the
    enqueue fails (a locked SQLite, a PostgreSQL failover). Closed while that enqueue was still waiting,
    the form would be gone with nothing to deliver it: until the delivery is queued, the form stays open
    and says so, and Submit pressed again once the claim is given back sends it anew.
    """
    # No claim any more (read again after the add found it taken): the first gave it back, not queued.
    task = task or tasks.deliver_request  # (not the default: tasks imports this module)
    if claimed_by and task_queue.request_task_queued(task, str(claimed_by), wait=DUPLICATE_WAIT_SECONDS):
        logger.info("duplicate submission ignored user=%s", user)
        return {}
    logger.warning("same form sent again while its first delivery is not queued yet user=%s id=%s", user,
                   claimed_by)
    return {FIELD_START: STILL_BEING_SENT_TEXT}


def give_back_claim(dedup_key: str, request_id: str) -> None:
    """After a cache call whose answer was lost: give back the form's claim and pending entry if this
    submission made them (the claim holds its request id; another submission's is left alone), so the
    person, told by Slack that the form could not be sent, can send it again. Best effort: a cache that
    is still down keeps them, and the form sent again fails as this one did until it answers."""
    try:
        if cache.get(dedup_key) == request_id:
            cache.delete(dedup_key)
        ledger_reader.pending_remove(request_id)
    except Exception as exc:
        logger.warning("could not give back the claim of submission id=%s error=%s", request_id,
                       type(exc).__name__)


class LedgerCold(Exception):
    """The ledger is not in the cache. A web page does not read it from Slack (which may take minutes,
    rate-limited): it is read in the background, and the page is sent again."""


def request_record_for(client: WebClient, submission: Submission) -> dict[str, str]:
    """HR records leave for someone from the console: checked now, with Slack's answers (their team)
    and the cached ledger (LedgerCold when there is none), and delivered by a task. The errors by
    field (rules.FIELD_* and "user"), or {}.
    """
    if submission.recorded_by == submission.user:
        return {"user": messages.own_leave_not_recorded_text()}
    config = current_config()
    leave_type = config.leave_type(submission.leave_type)
    if leave_type is None:
        return {FIELD_TYPE: "Choose a leave type."}
    try:
        team = delivery_team(client, config, submission, leave_type, for_hr=True)
    except Refused as refusal:
        reasons = "; ".join(refusal.reasons)
        return {"user": f"{reasons[:1].upper()}{reasons[1:]}."}  # not capitalize(): it lowers channel ids
    today = local_today(directory.fetch_timezone(client, submission.user))
    history = ledger_reader.cached_ledger(config)
    if history is None:
        raise LedgerCold()
    submission = replace(submission, validated=True)
    entry = submission_entry(config, submission, team=team, leave_type=leave_type)
    with (capacity_held(team, entry, wait=REQUEST_PATH_LOCK_WAIT_SECONDS),
          locked(f"lock:submit:{submission.user}", wait=REQUEST_PATH_LOCK_WAIT_SECONDS)):
        violations = check_submission(config, submission, team=team, leave_type=leave_type, today=today,
                                      ledger=ledger_reader.cached_ledger(config) or history)
        if violations:
            return errors_by_field(violations)
        ledger_reader.pending_add(entry)
    try:
        tasks.deliver_request.enqueue(submission.as_task_data())
    except Exception:
        # Not enqueued: nothing will post it. Its pending entry would count, for an hour, as leave that
        # exists nowhere (refusing the same leave sent again as overlapping it).
        ledger_reader.pending_remove(entry.id)
        raise
    return {}


# --- Deliver (background) ----------------------------------------------------------------------


class Refused(Exception):
    """The request may not be sent; the reasons go back to the requester, as mrkdwn (text a person typed,
    HR's included, escaped; a mention of whom to ask is a mention)."""

    def __init__(self, *reasons: str):
        super().__init__("; ".join(reasons))
        self.reasons = list(reasons)


def request_deliver(client: WebClient, submission: Submission) -> None:
    """Post a submitted request to its approvers (or record it, when it needs no approval)."""
    config = current_config()
    leave_type = config.leave_type(submission.leave_type)
    entry = earlier_post(client, config, submission.id)
    if entry is not None:
        # Posted by an earlier attempt: it is in the ledger, whatever has changed since (the leave type
        # retired, the person moved): only the follow-ups are left, never a refusal.
        team = team_of_entry(config, entry.team, entry.channel)
        approvers = (team_approvers(client, config, team, entry.user)
                     if team is not None else fallback_deciders(config, entry.user,
                                                                unable=directory.unable_to_approve(client)))
    else:
        try:
            team = delivery_team(client, config, submission, leave_type, for_hr=recorded_by_hr(submission))
            history = delivery_ledger(client, config, submission, team, leave_type)
            approvers = team_approvers(client, config, team, submission.user)
            if not approvers and leave_type.requires_approval and not submission.recorded_by:
                raise Refused(messages.nobody_approves_text(
                    config, team.name, unable={submission.user, *directory.unable_to_approve(client)(
                        set(config.fallback_approvers) - {submission.user})}))
        except Refused as refusal:
            ledger_reader.pending_remove(submission.id)  # a checked submission waits there: nothing will come
            text = messages.request_refused_text(refusal.reasons, shown_back(submission, leave_type),
                                                 recorded_for=recorded_for(submission))
            refused_key = f"refused-dm:{submission.id}"
            if (told := asker(submission)) is not None:
                once(refused_key, lambda: send_dm_once(client, refused_key, told, text))
            else:  # recorded in the console: HR reads it there, the person is told nothing they did not ask
                record_problem(request_id=submission.id, user=submission.user, channel="", error="refused",
                               summary=f"Leave recorded in the console was refused: {html.unescape(str(refusal))}")
            return
        entry = post_request(client, config, submission, team, leave_type, approvers, history)
        if entry is None:
            return  # Slack refused the post for good: reported
    ledger_reader.record_entry(entry)
    cache.set(f"delivered:{entry.id}", 1, WRITTEN_MARK_SECONDS)
    send_receipt_and_announcement(client, team, entry, leave_type, approvers)
    if team is not None and entry.status == PENDING and not entry.recorded_by:
        warn_if_approvers_cannot_see(client, team, approvers)
    tasks.publish_home_later({entry.user, *approvers})


def delivery_team(client: WebClient, config: WorkspaceConfig, submission: Submission,
                  leave_type: LeaveTypeConfig | None, *, for_hr: bool = False) -> TeamConfig:
    """The requester's team, asked of Slack; Refused when the request cannot go anywhere (the reasons
    told to the requester, or with `for_hr` to HR recording it for them in the console)."""
    channel_members, usergroup_members = slack_lookups(client)
    if leave_type is None:
        raise Refused(f"the leave type '{escape(submission.leave_type)}' no longer exists")
    profile = directory.fetch_user(client, submission.user, raise_passing=True)
    if directory.is_outsider(profile):
        raise Refused(messages.person_outsider_text() if for_hr else messages.outsider_text())
    if isinstance(profile, dict) and profile.get("bot"):
        raise Refused(messages.bot_has_no_leave_text())
    if not may_request(config, submission.user, channel_members=channel_members):
        raise Refused(messages.person_not_allowed_text() if for_hr
                      else messages.not_allowed_text(config, unable=directory.hr_unable(config)))
    team = match_team(config, submission.user, channel_members=channel_members,
                      usergroup_members=usergroup_members).team
    if team is None:
        cause = no_team_cause(config, submission.user, (channel_members, usergroup_members))
        # HR told by DM (leave recorded from Slack) reads mrkdwn; the console's record of it, plain text.
        raise Refused(messages.person_no_team_text(cause, plain=asker(submission) is None) if for_hr
                      else messages.no_team_text(
            config, cause=cause, hr=directory.acts_as_hr(config, submission.user), unable=directory.hr_unable(config)))
    return team


def delivery_ledger(client: WebClient, config: WorkspaceConfig, submission: Submission, team: TeamConfig,
                    leave_type: LeaveTypeConfig) -> Ledger | SliceLedger | None:
    """The ledger for the message's context (who else is out then, the balance after); on the cold
    path also every rule, checked now (Refused).

    A request checked in the modal (the warm path, nearly all) reads the view of its person, team and
    dates, as the modal did: a delivery costs the same with a thousand entries or a hundred thousand.
    The whole ledger, read from Slack if need be, when the slices are cold.
    """
    if submission.validated:
        view = ledger_reader.person_view(config, submission.user, team.name, submission.start, submission.end)
        if view is not None:
            return view
    try:
        history = ledger_reader.current_ledger(client, config)
    except ledger_reader.LedgerUnavailable as exc:
        logger.error("ledger unavailable for delivery id=%s: %s", submission.id, exc)
        if not submission.validated:
            ledger_reader.pending_remove(submission.id)
            record_delivery_problem(submission, leave_type, team, channel=exc.channel, error=exc.error)
            # Refused for good (the bot removed, the channel deleted): waiting will not help, HR's fix will.
            raise Refused("I couldn't read the leave history to check your balance and overlaps: Slack "
                          f"refused to show <#{exc.channel}> ({exc.error}). HR has been told; please send it "
                          "again once they have fixed that") from None
        return None
    if submission.validated:
        return history
    today = local_today(directory.fetch_timezone(client, submission.user), now=submission.submitted_at)
    # As in the modal: checking and joining the pending set are one step per person, so two
    # requests checked here at once (by two workers) cannot both pass.
    entry = submission_entry(config, submission, team=team, leave_type=leave_type)
    with capacity_held(team, entry, wait=30), locked(f"lock:submit:{submission.user}", wait=30):
        history = (ledger_reader.person_view(config, submission.user, team.name, submission.start, submission.end)
                   or ledger_reader.cached_ledger(config) or history)
        violations = check_submission(config, submission, team=team, leave_type=leave_type, today=today,
                                      ledger=history)
        if violations:
            ledger_reader.pending_remove(submission.id)
            raise Refused(*(escape(violation.message) for violation in violations))
        ledger_reader.pending_add(entry)
    return history


def earlier_post(client: WebClient, config: WorkspaceConfig, request_id: str) -> LedgerEntry | None:
    """The entry an earlier attempt of this delivery posted, as it stands in the ledger; None when no
    attempt got as far as posting, or its post did not land.

    Only an attempt that follows one which got as far as posting looks (the `posting:` mark, set before
    every post, names the channel): a first attempt, nearly every delivery, costs no
    conversations.history call, Tier 3 for the whole app (DESIGN §8: rate limits are part of the design).
    It looks before anything is checked again: once posted, the request is in the ledger, and nothing
    that changed since may turn it into a refusal.
    """
    mark = cache.get(posting_key(request_id))
    if mark is None:
        return None
    channels, since = posting_place(config, mark)
    for channel in channels:
        try:
            posted = ledger.find_recent_request(client, channel=channel, request_id=request_id, since=since)
        except SlackApiError as exc:
            if exc.response.get("error", "") not in PERMANENT_ERRORS or request_maybe_delivered(request_id):
                # Not posted again while an earlier attempt's post, whose answer was lost, may be there: Slack
                # may take a post and refuse a read (chat:write without channels:history). The task gives
                # up, and the person hears it may have reached the approvers (tasks.delivery_gave_up).
                raise
            # A channel we may not read (the bot was removed from it, it was deleted, the token revoked)
            # holds no earlier post of ours either. The post meets the same refusal and reports it.
            logger.warning("ledger check skipped id=%s channel=%s error=%s", request_id, channel,
                           exc.response["error"])
            continue
        if posted is not None:
            return replace(posted.entry, channel=posted.channel, ts=posted.ts)
    cache.delete(f"maybe-posted:{request_id}")  # read, and not there: an earlier attempt's post did not land
    return None


def posting_key(request_id: str) -> str:
    return f"posting:{request_id}"


def posting_place(config: WorkspaceConfig, mark) -> tuple[list[str], float | None]:
    """Where and since when to look for an earlier attempt's post, from its `posting:` mark: (channel,
    when it was attempted). A mark written by an older release names only the channel, or nothing
    (every approvals channel): the newest messages are looked at then."""
    if isinstance(mark, (tuple, list)) and len(mark) == 2:
        return [mark[0]], mark[1]
    return ([mark] if isinstance(mark, str) else ledger_reader.ledger_channels(config)), None


def post_request(client: WebClient, config: WorkspaceConfig, submission: Submission, team: TeamConfig,
                 leave_type: LeaveTypeConfig, approvers, history: Ledger | None) -> LedgerEntry | None:
    """Post the request to its team's approvals channel: the entry as it stands in the ledger, or None
    when Slack refused it for good (reported to the requester and HR)."""
    entry = submission_entry(config, submission, team=team, leave_type=leave_type)
    today = local_today(team.timezone)  # the day it is posted: dates in another year show it
    text, message_blocks = messages.request_message(
        entry=entry, leave_type=leave_type, note=submission.note, approvers=approvers,
        named_first=named_approvers(config, team), others_out=ledger_context(config, history, entry, leave_type, today=today), today=today,
    )
    # Before the post: whoever comes next looks there, from then on, first (earlier_post).
    mark = (team.approvals_channel, time.time())
    first_mark = cache.add(posting_key(entry.id), mark, WRITTEN_MARK_SECONDS)
    if not first_mark:  # an earlier attempt got as far as posting: keep its mark, where and when we post now
        cache.set(posting_key(entry.id), mark, WRITTEN_MARK_SECONDS)
    try:
        ts = ledger.post_request(ledger_post_client(), channel=team.approvals_channel, entry=entry, text=text,
                                 blocks=message_blocks)
    except (SlackClientError, OSError) as exc:
        error = exc.response.get("error", "") if isinstance(exc, SlackApiError) else ""
        if error not in PERMANENT_ERRORS:
            if slack_may_have_acted(exc):  # until a later attempt finds it, or reads that it is not there
                cache.set(f"maybe-posted:{entry.id}", 1, WRITTEN_MARK_SECONDS)
            elif first_mark:
                # Slack did nothing (a 429): no post of ours exists, so the next attempt need not spend a
                # conversations.history call (Tier 3, the whole app's) looking for one. Kept when an
                # earlier attempt may have posted: its post may still be found.
                cache.delete(posting_key(entry.id))
            raise
        ledger_reader.pending_remove(submission.id)
        request_report_undelivered(client, submission, leave_type, team, error)
        return None
    logger.info("request delivered id=%s team=%s status=%s", entry.id, team.name, entry.status)
    return replace(entry, channel=team.approvals_channel, ts=ts)


def send_receipt_and_announcement(client: WebClient, team: TeamConfig | None, entry: LedgerEntry,
                                  leave_type: LeaveTypeConfig | None, approvers) -> None:
    """`team`: None when the team was removed from the configuration since the request was posted."""
    receipt_key = f"receipt:{entry.id}"
    followup(receipt_key, lambda: send_receipt(client, entry, leave_type, approvers, key=receipt_key),
             entry=entry, what="the receipt DM", channel=entry.user)
    if entry.status == APPROVED and team is not None:
        announce(client, team, entry, leave_type)
        remind_if_its_run_passed(client, team, entry, leave_type)


def request_delivered(request_id: str) -> bool:
    """Does the ledger hold this request (as far as this deployment remembers)?"""
    return cache.get(f"delivered:{request_id}") is not None


def request_maybe_delivered(request_id: str) -> bool:
    """Was the request's post answered in a way that leaves open whether Slack posted it (a 5xx, a
    timeout), with no later attempt able to look?"""
    return cache.get(f"maybe-posted:{request_id}") is not None


def request_post_attempted(request_id: str) -> bool:
    """Did an attempt get as far as posting the request (its `posting:` mark, written before the post)?"""
    return cache.get(posting_key(request_id)) is not None


def request_found_posted(client: WebClient, team: TeamConfig | None, request_id: str) -> bool | None:
    """One last look in the approvals channel (the one the post went to, else the team's): is the request
    there? None when Slack will not say, or nothing says where to look."""
    mark = cache.get(posting_key(request_id)) or (team.approvals_channel if team is not None else None)
    if mark is None:
        return None
    channels, since = posting_place(current_config(), mark)
    try:
        return ledger.find_recent_request(client, channel=channels[0], request_id=request_id, since=since) is not None
    except (SlackClientError, OSError) as exc:
        logger.warning("last look for request id=%s failed error=%s", request_id, error_code(exc))
        return None


def request_report_unconfirmed(client, submission: Submission, leave_type: LeaveTypeConfig | None,
                               team: TeamConfig | None, error: str, *, failure: str) -> None:
    """The request was sent to Slack, whose answers were lost, and no later attempt could look in the
    channel: it may well be there. Neither "delivered" nor "did not reach" would be true: the requester
    is told to look before sending it again, and HR sees it beside undelivered requests. `failure`: why,
    for them (`task_queue.failure_for_people`)."""
    channel = team.approvals_channel if team else ""
    record_delivery_problem(submission, leave_type, team, channel=channel, error=f"unconfirmed: {error}")
    tell_requester(client, submission, messages.request_unconfirmed_text(failure, shown_back(submission, leave_type),
                                                                         recorded_for=recorded_for(submission)))


def request_report_undelivered(client, submission: Submission, leave_type: LeaveTypeConfig | None,
                               team: TeamConfig | None, error: str, *, problem: str | None = None) -> None:
    """The request will not reach its approvers: record it for HR (admin and log), tell the requester."""
    channel = team.approvals_channel if team else ""
    if problem is None:
        problem = f"Slack refused the post to the approvals channel <#{channel}> ({error})"
    record_delivery_problem(submission, leave_type, team, channel=channel, error=error)
    tell_requester(client, submission, messages.request_not_delivered_text(problem, shown_back(submission, leave_type),
                                                                           recorded_for=recorded_for(submission)))


def tell_requester(client: WebClient, submission: Submission, text: str) -> None:
    """The DM that says what became of a request, once, to whoever sent it (`asker`). Slack may fail it
    for the same reason the request failed: while Slack is down (a passing fault) a task of its own
    sends it, retrying until Slack is back; a refusal for good (a revoked token fails every call) is
    logged, since no retry can help, and HR has the record."""

    key = f"undelivered-dm:{submission.id}"
    if (told := asker(submission)) is not None:  # else recorded in the console: HR has the delivery problem
        once(key, lambda: tell_person(client, told, text, key=key))


def tell_person(client: WebClient, user: str, text: str, *, channel: str = "", key: str = "") -> None:
    """Tell someone who waits what became of what they asked: an ephemeral note in `channel` (a DM when
    that fails for good), or a DM (with a `key`, either DM is sent once, though Slack may make it and lose
    its answer).
    Slack may fail it for the same reason their request failed: while it fails for now, a task of its own
    tells them, retrying until Slack is back; a refusal for good (a revoked token fails every call) is
    logged, since no retry can help."""
    try:
        if channel:
            post_ephemeral(client, channel, user, text, key=key)
        elif key:
            send_dm_once(client, key, user, text)
        else:
            send_dm(client, user, text)
    except (SlackClientError, OSError) as exc:
        if transient(exc):
            # The key only when there is one (a task's arguments are positional: retrying_task): a worker of
            # the release before takes a row without it as it was, and hands one with it back.
            tasks.tell_user.enqueue(channel, user, text, *([key] if key else []))
            return
        logger.error("could not tell user=%s what became of their request error=%s", user, error_code(exc))


def record_delivery_problem(submission: Submission, leave_type: LeaveTypeConfig | None, team: TeamConfig | None, *,
                            channel: str, error: str) -> None:
    """An error line in the log and a DeliveryProblem row in the admin, once per request."""

    def record() -> None:
        logger.error("request not delivered id=%s user=%s team=%s channel=%s error=%s",
                     submission.id, submission.user, team.name if team else "", channel, error)
        DeliveryProblem.record(request_id=submission.id, user=submission.user, team=team.name if team else "",
                               channel=channel, error=error, summary=shown_to_hr(submission, leave_type),
                               undelivered=True)

    once(f"undelivered:{submission.id}", record)


# --- Decide (background) -------------------------------------------------------------------------


def decision_report_unwritten(client: WebClient, decision: Decision, error: str, *, failure: str,
                              passing: bool) -> None:
    """The approver clicked and waits: the decision was not written. A passing fault: they try again later.
    A refusal for good (the message cannot be updated, the bot left the channel): trying again will not
    help, so HR is told as for a request that could not be delivered (DESIGN §8). `error`: for HR's record;
    `failure`: why, for people (`task_queue.failure_for_people`)."""
    verb = "approval" if decision.status == APPROVED else "rejection"
    if cache.get(f"maybe-decided:{decision.request_id}") == decision.status:
        # The write was made or tried, and what failed may have come after it: one last look at the message
        # says whether it holds it.
        try:
            message = ledger.read_request_at(client, channel=decision.channel, ts=decision.ts)
        except ledger.RequestUnreadable:
            message = None  # ours would read: the decision is not in it
        except (SlackClientError, OSError) as exc:
            logger.warning("last look at decision id=%s failed error=%s", decision.request_id, error_code(exc))
            if decision_settle_later(decision, True):
                tell_person(client, decision.approver, messages.decision_unconfirmed_text(verb, failure),
                            channel=decision.answer_channel,
                            key=f"decision-unconfirmed:{decision.request_id}:{decision.approver}:{decision.status}")
            return
        if message is not None and (message.entry.status, message.entry.decided_by) == (decision.status,
                                                                                         decision.approver):
            decision_settle_later(decision, False)  # written: what follows it goes out once Slack recovers
            return
    if not passing:
        record_problem(request_id=decision.request_id, user=decision.approver, channel=decision.channel,
                       error=error, summary=f"{decision.approver}'s {verb} could not be written to the "
                                            f"request's message ({decision.ts}): {failure}.")
    tell_person(client, decision.approver, messages.gave_up_text(f"record your {verb}", failure, passing=passing),
                channel=decision.answer_channel)


# A decision, change or edit its task gave up on with the write made (or maybe made) and what follows it
# unsent is looked at again by a settle task of its own (tasks.settle_decision, settle_change, settle_edit),
# for about 40 minutes (tasks.TELL_ATTEMPTS): what they note lasts past that.
SETTLE_SECONDS = 2 * 60 * 60


def tell_once(client: WebClient, user: str, text: str, *, key: str, channel: str = "") -> None:
    """Told once, though the settle task runs again (what follows failing for now)."""
    once(key, lambda: tell_person(client, user, text, key=key, channel=channel))


def settle_seen_key(request_id: str, what: str, by: str) -> str:
    """The settle saw the write made (so a give-up after that is of its follow-ups only)."""
    return f"settle-seen:{request_id}:{what}:{by}"


def settle_gave_up(request_id: str, by: str, what: str, *, channel: str, seen, error: str, failure: str) -> None:
    """A settle task gave up (Slack failing for good, or for its 40 minutes): HR's record says what it saw."""
    if seen:
        followups_lost(request_id=request_id, user=by, channel=channel, error=error, failure=failure, what=what)
    else:
        record_problem(request_id=request_id, user=by, channel=channel, error=error,
                       summary=f"{what} may be in the ledger or not (Slack would not show the request's message: "
                               f"{failure}); what follows it (the thread reply, the announcement) was not sent.")


def decision_settle(client: WebClient, decision: Decision, unconfirmed: bool, run: str) -> None:
    """A decision whose task gave up after its write was made, or maybe made (`unconfirmed`: the approver was
    told it could not be confirmed), before what follows it went out: the `settle_decision` task looks again
    while Slack recovers. Made: the approver told "unconfirmed" hears at once that it is recorded, then the
    thread reply, the requester's DM and the announcement go out (once each). Not made, the request still
    pending: they hear it was not, and may click again. Decided otherwise meanwhile: they hear who decided."""
    verb = "approval" if decision.status == APPROVED else "rejection"
    # What this settle tells, once (`run` names it; a row without one: once for the approver's decision).
    settled = f"decision-settled:{run or f'{decision.request_id}:{decision.approver}:{decision.status}'}"
    try:
        message = ledger.read_request_at(client, channel=decision.channel, ts=decision.ts)
    except ledger.RequestUnreadable:
        message = None
    if message is None or message.entry.id != decision.request_id:
        return
    entry = message.entry
    if (entry.status, entry.decided_by) != (decision.status, decision.approver):
        logger.info("decision of id=%s by=%s was not made after all", decision.request_id, decision.approver)
        if unconfirmed:  # they wait to hear how it ended: not recorded, or decided by someone else
            text = (messages.not_made_after_all_text(verb) if entry.status == PENDING
                    else messages.already_decided_text(entry))
            tell_once(client, decision.approver, text, key=settled, channel=decision.answer_channel)
        return
    cache.set(settle_seen_key(decision.request_id, decision.status, decision.approver), 1, SETTLE_SECONDS)
    if unconfirmed:
        tell_once(client, decision.approver, messages.change_confirmed_text(verb), key=settled,
                  channel=decision.answer_channel)
    config = current_config()
    finish_or_refuse(client, config, decision, message)  # ours: the decided mark, and what follows it


def decision_settle_gave_up(decision: Decision, unconfirmed: bool, *, error: str, failure: str) -> None:
    settle_gave_up(decision.request_id, decision.approver, decision_what(decision), channel=decision.channel,
                   seen=not unconfirmed or cache.get(settle_seen_key(decision.request_id, decision.status,
                                                                     decision.approver)),
                   error=error, failure=failure)


def decision_settle_later(decision: Decision, unconfirmed: bool) -> bool:
    """Have a settle task look at this decision again (one for the approver's decision at a time: a double
    click's two tasks may both give up); False when one already does."""
    return settle_queued(decision_settling_key(decision),
                         lambda: tasks.settle_decision.enqueue(decision.as_task_data(), unconfirmed, new_ask()))


def settle_queued(key: str, enqueue, *, first=None) -> bool:
    """Claim the settle `key` names and queue its task (`first`: what to do between the two, such as telling
    the person); False when another give-up holds the claim. The claim is a lease until the task row is
    written, then lasts SETTLE_SECONDS: a worker killed between the two leaves nothing that keeps the next
    give-up from settling for hours. A row that could not be written gives the claim back."""
    token = claim_held(key, once_lease_seconds())
    if token is None:
        return False
    try:
        if first is not None:
            first()
        enqueue()
    except Exception:
        release(key, token)  # no settle task holds it: the next give-up settles anew, not for two hours nobody
        raise
    renew(key, token, SETTLE_SECONDS)
    return True


def decision_settling_key(decision: Decision) -> str:
    return f"decision-settling:{decision.request_id}:{decision.approver}:{decision.status}"


def settle_over(key: str) -> None:
    """A settle task is over (done, or given up): a later click's, or change's, own give-up settles anew."""
    cache.delete_many([key, settle_told_key(key)])


def settle_told_key(key: str) -> str:
    """Marks that the person whose change the settle claim `key` is for was told it is unconfirmed."""
    return f"{key}:told"


def decision_what(decision: Decision) -> str:
    """A decision as HR's records name it: "U_BOB's approval"."""
    return f"{decision.approver}'s {'approval' if decision.status == APPROVED else 'rejection'}"


def request_decide_later(decision: Decision, *, seen: str | None = None) -> None:
    """An approver clicked: the decision runs in a task, so the click is acknowledged at once. `seen`: the
    request as the approver saw it (messages.shown_version, from the button), which an approval must
    still match when it is written.

    `seen` waits in the shared cache, not in the task's payload: a worker of the release before would
    not run a payload with a field it does not know, and after a rollback none could (README "Upgrades",
    rule B); one of that release ignores the mark and approves as it always did."""
    if decision.status == APPROVED:  # "": a button that carries none (this click's, not an earlier one's)
        cache.set(seen_key(decision), seen or "", SEEN_MARK_SECONDS)
    tasks.decide_request.enqueue(decision.as_task_data())


SEEN_MARK_SECONDS = 60 * 60  # longer than a decision task retries for


def seen_key(decision: Decision) -> str:
    return f"decision-seen:{decision.request_id}:{decision.approver}"


def request_decide(client: WebClient, decision: Decision) -> None:
    """Apply an approver's decision exactly once, however many approvers click at once."""
    config = current_config()
    decided = write_decision(client, config, decision)
    if decided is not None:
        entry, team = decided
        send_followups(client, config, team, entry, decision)


def write_decision(client: WebClient, config: WorkspaceConfig,
                   decision: Decision) -> tuple[LedgerEntry, TeamConfig] | None:
    """Under the request's lock (and the team's, while max_out applies): read, check, rewrite the message.

    The message is read once, under the lock: every writer of a request (a decision, a withdrawal, a
    cancellation, an edit) holds it, so what was read stays true until the write, and a decision costs
    one conversations.history call (Tier 3 for the whole app), not a read before the lock and another
    after. Returns the decided entry and its team, or None when someone else decided or the clicker
    was told why not.
    """
    lock = f"lock:decide:{decision.request_id}"
    decided_mark = f"decided:{decision.request_id}"
    # Stop waiting as soon as the holder has written a decision: the other clickers are then told who
    # decided all at once, not one by one under the lock (20 approvers and a slow Slack outlast the wait).
    token = acquire(lock, timeout=DECISION_LOCK_SECONDS, wait=DECISION_LOCK_WAIT_SECONDS, poll=0.1,
                    unless=lambda: cache.get(decided_mark) is not None)
    if token is None:
        tell_after_waiting(client, config, decision)
        return None
    team_lock = team_token = None

    def tell_clicker(text: str) -> None:
        tell_approver(client, decision, text)

    try:
        try:
            message = ledger.read_request_at(client, channel=decision.channel, ts=decision.ts)
        except ledger.RequestUnreadable:
            return tell_clicker(messages.request_unreadable_text())
        if message is None or message.entry.id != decision.request_id:
            return tell_clicker(messages.request_gone_text())
        entry = message.entry
        team = team_of_entry(config, entry.team, decision.channel)
        if entry.status != PENDING:  # decided: ours to finish, or say who decided
            return finish_or_refuse(client, config, decision, message)
        if refusal := clicker_refusal(client, config, team, decision, entry):
            return tell_clicker(refusal)
        if decision.status == APPROVED and (cache.get(seen_key(decision)) or None) not in (
                None, messages.shown_version(entry)):
            # Edited after the approver's view of it was drawn (their client, or an App Home not yet
            # republished): they approve what they saw, not what it has become.
            return tell_clicker(messages.request_changed_text(entry, config.leave_type(entry.leave_type)))
        # Approvals of one team are serialised while max_out applies, so two cannot together exceed it.
        if decision.status == APPROVED and team is not None and team.max_out is not None:
            team_lock = team_lock_key(team)
            team_token = acquire(team_lock, timeout=DECISION_LOCK_SECONDS, wait=DECISION_LOCK_WAIT_SECONDS, poll=0.1)
            if team_token is None:
                # Our own lock, not the approver's doing: the task tries again (with backoff), and only its
                # give-up tells them (the request's lock is given back below meanwhile).
                raise LockBusy(f"team lock of {team.name} busy for the approval of {decision.request_id}")
            full = capacity_when_approved(client, config, team, entry)
            if full:
                return tell_clicker(f"You can't approve this yet: {escape(full)}.")
        if decision.status == APPROVED and team is not None and (changed := rules_changed_since(config, team, entry)):
            return tell_clicker(messages.rules_changed_text(entry, changed))
        decided = replace(entry, status=decision.status, decided_by=decision.approver,
                          decided_at=int(time.time()), reason=decision.reason or None, channel=decision.channel,
                          ts=decision.ts)
        leave_type = config.leave_type(decided.leave_type)
        text, message_blocks = messages.request_message(
            entry=decided, leave_type=leave_type, note=messages.note_from_blocks(message.blocks),
            approvers=frozenset())
        # Slow Slack calls above may have outlasted the lock: write only while it is still ours, for
        # long enough to write. A lost lock means another clicker may be writing: this attempt stops
        # and the task's next attempt reads the message again.
        if not renew(lock, token, DECISION_LOCK_SECONDS) or (team_token and not renew(team_lock, team_token,
                                                                                        DECISION_LOCK_SECONDS)):
            raise LockBusy(f"decision lock of {decision.request_id} lost before the write")
        # Before the write: from here on the message may show the decision, whatever fails next (the
        # write's answer lost, an earlier try inside the client that made it, or the cache refusing the
        # marks below). If we give up, we look first.
        cache.set(f"maybe-decided:{decision.request_id}", decided.status, WRITTEN_MARK_SECONDS)
        ledger.update_request(locked_write_client(), channel=decision.channel, ts=decision.ts, entry=decided,
                              text=text, blocks=message_blocks)
        ledger_reader.record_entry(decided)
        cache.set(decided_mark, decided.status, WRITTEN_MARK_SECONDS)  # before the lock goes: waiters stop
        cache.set(own_decision_key(decision), decided.status, WRITTEN_MARK_SECONDS)
        logger.info("request decided id=%s status=%s by=%s", decided.id, decided.status, decided.decided_by)
        return decided, team
    finally:
        release(lock, token)
        if team_token:
            release(team_lock, team_token)


def own_decision_key(decision: Decision) -> str:
    """Marks that this approver's decision was written, whatever the request has become since."""
    return f"decision-written:{decision.request_id}:{decision.approver}"


def decision_written(decision: Decision) -> bool:
    """Does the ledger hold this decision (as far as this deployment remembers)?"""
    return cache.get(f"decided:{decision.request_id}") == decision.status


def clicker_refusal(client, config: WorkspaceConfig, team: TeamConfig | None, decision: Decision,
                    entry: LedgerEntry) -> str | None:
    """Why the clicker may not decide this request of `team`, or None when they may. A request of a team
    removed from the configuration since is HR's (the fallback approvers') to decide."""
    if decision.approver == entry.user:
        return messages.own_request_text()
    if team is None:
        # HR decide it, as anywhere they are the approvers: but not a fallback approver who cannot (a guest,
        # a deactivated account, a bot), as team_approvers leaves them out.
        if decision.approver in config.fallback_approvers and not directory.unable_to_approve(client)(
                [decision.approver]):
            return None
        return messages.removed_team_text(entry.team)
    # Whoever the team lists (its users, its approvers channel's members) may decide, but for an id Slack
    # has no user for, a bot or a deactivated account (asked of users.info for the clicker alone, cached
    # for a day): left out of the request's mentions, so not an approver either. Anyone else, only
    # when the team's approvers as Slack knows them name them (HR, when the team's approvers are all gone).
    listed = decision.approver in approvers_for(config, team, entry.user, channel_members=slack_lookups(client)[0])
    if listed and directory.unable_to_approve(client)([decision.approver]):
        listed = False
    if not listed and decision.approver not in team_approvers(client, config, team, entry.user):
        return messages.not_an_approver_text(team.name)
    return None


def tell_after_waiting(client, config: WorkspaceConfig, decision: Decision) -> None:
    """The lock did not come (or another approver decided meanwhile): say who decided, if anyone has; to
    someone who may not decide it, why not."""
    try:
        message = ledger.read_request_at(client, channel=decision.channel, ts=decision.ts)
    except ledger.RequestUnreadable:
        return tell_approver(client, decision, messages.request_unreadable_text())
    if message is None or message.entry.id != decision.request_id:
        text = messages.request_gone_text()
    elif message.entry.status != PENDING:
        return finish_or_refuse(client, config, decision, message)
    else:
        entry = message.entry
        team = team_of_entry(config, entry.team, decision.channel)
        text = clicker_refusal(client, config, team, decision, entry)
        if text is None:
            # Still pending: whoever held the lock wrote nothing (an edit its check refused, a slow write
            # that failed). The click is not lost: the task tries again, and decides, or finds who did. A
            # `decided:` mark the message does not bear out (the decided copy of a request posted twice was
            # deleted) is dropped, or every later click would stop waiting for the lock at once.
            cache.delete(f"decided:{decision.request_id}")
            raise LockBusy(f"decision lock of {decision.request_id} busy, the request still pending")
    tell_approver(client, decision, text)


def tell_approver(client: WebClient, decision: Decision, text: str) -> None:
    """A note to the approver where they clicked: an ephemeral in that channel, or a DM (App Home), said once
    for the press though the task runs again or Slack loses an answer."""
    if decision.answer_channel:
        post_ephemeral(client, decision.answer_channel, decision.approver, text)
    else:
        press = (f"approver-note:{decision.request_id}:{decision.approver}:{decision.pressed_at}:{notice_tag(text)}"
                 if decision.pressed_at else "")
        send_answer(client, press, decision.approver, text)


def rules_changed_since(config: WorkspaceConfig, team: TeamConfig, entry: LedgerEntry) -> str | None:
    """Why `entry` may not be approved as it stands under the configuration now (its type deleted, a blackout
    added over it, its allowance lowered: rules.approval_violations), or None, in plain text (for messages.rules_changed_text
    to escape). From the person's cached view; when that is cold, only the blackout (the allowance was checked
    when the request was sent)."""
    leave_type = config.leave_type(entry.leave_type)
    if leave_type is None:
        return f"its leave type ({entry.leave_type}) no longer exists"
    view = ledger_reader.person_view(config, entry.user, team.name, entry.start, entry.end)
    own = [e for e in view.without(entry.id) if e.user == entry.user] if view is not None else []
    request = LeaveRequest(entry.user, entry.leave_type, entry.start, entry.end, entry.start_half, entry.end_half)
    violations = approval_violations(
        request, leave_type=leave_type if view is not None else replace(leave_type, annual_allowance_days=None),
        team=team, blackouts=config.blackouts_for(team.name),
        holiday_dates=holiday_dates(config, team, entry.start, entry.end), ledger=own,
        adjustments=view.adjustments_for(entry.user) if view is not None else (),
        today=local_today(team.timezone), holder="They have")
    return violations[0].message if violations else None


def capacity_when_approved(client, config: WorkspaceConfig, team: TeamConfig, entry: LedgerEntry) -> str | None:
    """Would approving `entry` put more of the team out than `max_out`? Counts approved leave only.

    Reads the view of the team on the request's dates (the whole ledger when the slices are cold).
    """
    history = ledger_reader.person_view(config, entry.user, team.name, entry.start, entry.end)
    if history is None:
        try:
            history = ledger_reader.current_ledger(client, config)
        except ledger_reader.LedgerUnavailable as exc:
            return f"I couldn't read the team's leave to check how many are out ({exc.error})"
    approved = [e for e in history.without(entry.id) if e.status == APPROVED]
    request = LeaveRequest(entry.user, entry.leave_type, entry.start, entry.end, entry.start_half, entry.end_half)
    violation = capacity_violation(request, team=team, ledger=approved,
                                   holiday_dates=holiday_dates(config, team, entry.start, entry.end),
                                   today=local_today(team.timezone))  # the approver's refusal names other years
    return violation.message if violation else None


def finish_or_refuse(client, config: WorkspaceConfig, decision: Decision, message: ledger.LedgerMessage) -> None:
    """A request that is no longer pending: finish our own earlier decision, or tell the clicker who decided."""
    entry = message.entry
    if entry.decided_by == decision.approver and entry.status == decision.status:
        # Our own decision, written before a crash (or by a write whose answer was lost): the ledger holds
        # it, which a give-up must know; make sure its follow-ups went out.
        cache.set(f"decided:{decision.request_id}", decision.status, WRITTEN_MARK_SECONDS)
        ledger_reader.record_entry(entry)  # read under the lock: what the message says now, which the cache
        # may not know (a write whose answer was lost never reached it)
        team = team_of_entry(config, entry.team, decision.channel)
        send_followups(client, config, team, entry, decision)
        return
    if cache.get(own_decision_key(decision)) == decision.status:
        # Ours, written, then changed by someone else (the requester cancelled it) before its follow-ups
        # were all out: the thread still tells it, once; the DM, the receipt and the announcement of
        # where it stood are left to the later change (they are of a state that no longer holds).
        ledger_reader.record_entry(entry)
        ours = replace(entry, status=decision.status, decided_by=decision.approver, reason=decision.reason or None)
        send_followups(client, config, team_of_entry(config, entry.team, decision.channel), ours, decision)
        return
    tell_approver(client, decision, messages.already_decided_text(entry))


def send_followups(client, config: WorkspaceConfig, team: TeamConfig | None, entry: LedgerEntry,
                   decision: Decision) -> None:
    """The thread reply, the requester's DM and (approved) the announcement: each once, none undoing the decision.
    `team`: None for a team removed from the configuration since (no announce channel to tell)."""
    leave_type = config.leave_type(entry.leave_type)
    followup_notice(client, f"thread:{entry.id}:{entry.status}", channel=decision.channel, thread_ts=decision.ts,
                    text=messages.thread_reply_text(entry), entry=entry, what="the thread reply")
    dm_key = f"decision-dm:{entry.id}:{entry.status}"
    followup(dm_key, lambda: send_dm_once(client, dm_key, entry.user, messages.decision_dm_text(entry, leave_type)),
             entry=entry, what="the decision DM", channel=entry.user, of_state=True)
    followup(f"decision-receipt:{entry.id}:{entry.status}", lambda: receipt_update(client, entry, leave_type),
             entry=entry, what="the updated receipt", channel=entry.user, of_state=True)
    if entry.status == APPROVED and team is not None:
        announce(client, team, entry, leave_type)
        remind_if_its_run_passed(client, team, entry, leave_type)
    elif entry.status == APPROVED and (now_in := team_of_user(client, config, entry.user)) is not None:
        # A removed team's leave is reminded in the team its person is in now, as the reminders job does it.
        remind_if_its_run_passed(client, now_in, entry, leave_type)
    approvers = (team_approvers(client, config, team, entry.user) if team is not None
                 else fallback_deciders(config, entry.user, unable=directory.unable_to_approve(client)))
    tasks.publish_home_later({entry.user, *approvers})
