"""A request changed after it was sent: edited or withdrawn while pending, approved leave cancelled.

Services named `request_<action>`, run in tasks with the background client.
Each change takes the same per-request lock as a decision, re-reads the
request message from Slack under it, and does nothing to a request that is no
longer in the state the change expects: a double click changes it once.
Every change is re-checked against the ledger before it is written.
"""

import logging
import time
from dataclasses import dataclass, replace
from typing import NamedTuple

from django.core.cache import cache
from slack_sdk import WebClient
from slack_sdk.errors import SlackClientError

from approvals import directory, ledger, ledger_reader, messages, tasks
from approvals.cache_lock import LockBusy, acquire, release, renew
from approvals.config_store import current_config
from approvals.config_types import LeaveTypeConfig, TeamConfig, WorkspaceConfig
from approvals.directory import fetch_timezone
from approvals.ledger import LedgerMessage
from approvals.notifications import (
    ONCE_MARK_SECONDS,
    announce,
    followup,
    followup_notice,
    new_ask,
    once,
    over_when_decided,
    post_ephemeral,
    receipt_update,
    record_problem,
    remind_if_its_run_passed,
    send_answer,
    send_dm_once,
    send_receipt,
)
from approvals.request_services import (
    DECISION_LOCK_SECONDS,
    DECISION_LOCK_WAIT_SECONDS,
    SETTLE_SECONDS,
    SUBMISSION_DEDUP_SECONDS,
    WRITTEN_MARK_SECONDS,
    Submission,
    check_submission,
    duplicate_submission,
    settle_gave_up,
    settle_queued,
    settle_seen_key,
    settle_told_key,
    shown_back,
    shown_to_hr,
    submission_entry,
    tell_once,
    tell_person,
)
from approvals.rules import (
    APPROVED,
    CANCELLED,
    FIELD_TYPE,
    PENDING,
    LedgerEntry,
    basic_violations,
    errors_by_field,
    halves_that_count,
)
from approvals.selectors import holiday_dates, ledger_context, local_today, requester_cached, team_approvers
from approvals.slack_clients import locked_write_client
from approvals.task_queue import RetryLater, error_code
from approvals.team_routing import fallback_deciders, named_approvers, team_of_entry

logger = logging.getLogger(__name__)

WITHDRAW = "withdraw"
CANCEL = "cancel"


@dataclass(frozen=True)
class Change:
    request_id: str
    by: str  # who asked for the change: the requester, or HR (a fallback approver)
    action: str  # WITHDRAW or CANCEL
    channel: str | None = None  # where the request message is, when the button knew
    ts: str | None = None
    # The channel of the ephemeral `/timeoff list` the button was on, if it was: that list cannot be
    # changed (Slack keeps ephemerals as sent), so the outcome is said there, as an ephemeral too.
    answer_in: str | None = None
    # When the button was pressed (Slack's `action_ts`): each press on a list is answered, a second one
    # after the change too ("Withdrawn: …" again), while a retry of one press is answered once; a refusal
    # (wherever the button was) is said once for each press.
    pressed_at: str | None = None

    def as_task_data(self) -> dict:
        # Without pressed_at when there is none: a worker of the release before takes such a row as it was.
        return {key: value for key, value in self.__dict__.items() if key != "pressed_at" or value is not None}


class ChangeRefused(Exception):
    """The change may not be made; the message says why, for the person who asked."""


def may_change(config: WorkspaceConfig, entry: LedgerEntry, by: str) -> bool:
    """The requester changes their own leave; HR (the fallback approvers who can decide) anyone's."""
    return by == entry.user or directory.acts_as_hr(config, by)


# --- On the request path ------------------------------------------------------------------


def request_change_later(change: Change) -> None:
    tasks.change_request.enqueue(change.as_task_data())


def request_edit_submit(submission: Submission, *, by: str, dedup_key: str, seen: str | None = None,
                        of_team: tuple[str, str] | None = None) -> dict[str, str]:
    """An edited request from the form: the errors to show by field, or {} once its task is enqueued.

    `submission.id` is the request being edited, so the ledger checks leave its
    old version out. Every rule the cache allows is checked now; the task checks
    again against the ledger under the request's lock before it rewrites anything.
    `seen`: the request's version as the form opened on it (messages.version_of), when it says;
    `of_team`: its team and channel as the Edit button named them, for when the cache does not know it.
    """
    config = current_config()
    claimed_by = cache.get(dedup_key)
    if claimed_by:
        return duplicate_submission(by, claimed_by, tasks.edit_request)
    leave_type = config.leave_type(submission.leave_type)
    # The editor's own request is in their slice; HR editing someone else's finds it in the whole ledger.
    history = None
    own = ledger_reader.person_view(config, submission.user)
    current = own.entries.get(submission.id) if own is not None else None
    if current is None or current.user != submission.user:
        history = ledger_reader.cached_ledger(config)
        current = history.entries.get(submission.id) if history else None
    if current is not None and not may_change(config, current, by):
        return {FIELD_TYPE: "Only the requester (or HR) can edit this request."}
    if current is not None and current.status != PENDING:
        return {FIELD_TYPE: f"This request is already {current.status}; it can't be edited any more."}
    if current is not None and edited_since_by_another(current, seen, by):
        return {FIELD_TYPE: messages.edited_since_text()}
    if current is not None:
        submission = replace(submission, user=current.user)  # HR edits it in the requester's name
    # Its first day was accepted when it was sent: keeping it is no new past date (shortening leave under
    # way that its approvers have not decided yet).
    kept_start = current.start if current is not None else None
    requester = requester_cached(config, submission.user)
    # As a new request on a cold cache (request_submit): while the time zone is unknown, UTC's day with a
    # day's tolerance either way, since UTC's today is already tomorrow on a California evening and would
    # refuse leave that starts today; the task checks again in the requester's own zone.
    today, zone_known = local_today(requester.timezone or "UTC"), bool(requester.timezone)
    # Judged as its task will judge it: on the calendar of the team the request is of (a request stays its
    # team's when the person moves), not the person's team now.
    team = requester.team
    if current is None and of_team is not None:
        team = team_of_entry(config, *of_team) or team
    if current is not None:
        team = team_of_entry(config, current.team, current.channel)
        if team is None:
            return {FIELD_TYPE: "Its team is no longer configured, so it can't be edited: withdraw it and send a "
                                "new request."}
    if team is not None:
        # As a new request is checked: the view of its person, team and dates (the whole ledger when
        # it was read above).
        ledger = history or ledger_reader.person_view(config, submission.user, team.name,
                                                      submission.start, submission.end)
        violations = check_submission(config, submission, team=team, leave_type=leave_type, today=today,
                                      zone_known=zone_known, ledger=ledger, kept_start=kept_start)
    else:
        violations = basic_violations(submission.leave_request, leave_type=leave_type, today=today,
                                      zone_known=zone_known, recorded=bool(submission.recorded_by),
                                      kept_start=kept_start)
    if violations:
        return errors_by_field(violations)
    if not cache.add(dedup_key, submission.id, SUBMISSION_DEDUP_SECONDS):
        return duplicate_submission(by, cache.get(dedup_key), tasks.edit_request)
    if seen:
        # For the task, which checks again under the lock. In the cache, not the task's payload, which a
        # worker of the release before would refuse (README "Upgrades"); one of that release ignores it.
        cache.set(edit_seen_key(submission), seen, WRITTEN_MARK_SECONDS)
    try:
        tasks.edit_request.enqueue(submission.as_task_data(), by)
    except Exception:
        cache.delete(dedup_key)  # not enqueued: the same form, sent again, must not be taken as sent
        raise
    return {}


# --- In the background ----------------------------------------------------------------------


def request_location(client: WebClient, config: WorkspaceConfig, request_id: str, channel: str | None = None,
                     ts: str | None = None, *, user: str | None = None) -> tuple[str, str] | None:
    """Where the request's message is: where the button said, else where the ledger saw it (nothing
    read from Slack), else found among the newest messages of every approvals channel. None: nowhere.

    `user`: whose request it likely is (the person editing it): their slice of the ledger is read
    first, so that finding one's own request costs the same whatever the size of the ledger; the
    whole ledger only when it is not theirs (HR editing someone's) or the slices are cold."""
    if channel and ts:
        return channel, ts
    seen = request_sighting(client, config, request_id, user=user)
    return (seen.channel, seen.ts) if seen is not None else None


def request_sighting(client: WebClient, config: WorkspaceConfig, request_id: str, *,
                     user: str | None = None) -> LedgerEntry | None:
    """The request's entry as the ledger last saw it, with its channel and ts: from the cached slices
    of `user` (see `request_location`), else the whole cached ledger, else the newest messages of every
    approvals channel. None: nowhere. Its status may be stale; its person, team and place are not."""
    own = ledger_reader.person_view(config, user) if user is not None else None
    known = own.entries.get(request_id) if own is not None else None
    if known is None or not (known.channel and known.ts):
        history = ledger_reader.cached_ledger(config)
        known = history.entries.get(request_id) if history else None
    if known is not None and known.channel and known.ts:
        return known
    for candidate in ledger_reader.ledger_channels(config):
        found = ledger.find_recent_request(client, channel=candidate, request_id=request_id)
        if found is not None:
            return replace(found.entry, channel=found.channel, ts=found.ts)
    return None


def read_request(client: WebClient, request_id: str, where: tuple[str, str]) -> LedgerMessage | None:
    """The request's message at `where`, re-read from Slack; None when it is gone (or another's). Raises
    ChangeRefused when another version of the app wrote it."""
    try:
        message = ledger.read_request_at(client, channel=where[0], ts=where[1])
    except ledger.RequestUnreadable:
        raise ChangeRefused(messages.OTHER_VERSION) from None
    return message if message is not None and message.entry.id == request_id else None


def locate_request(client: WebClient, config: WorkspaceConfig, request_id: str, channel: str | None = None,
                   ts: str | None = None, *, user: str | None = None) -> LedgerMessage | None:
    """The request's message, re-read from Slack (see `request_location` for where it is looked for)."""
    where = request_location(client, config, request_id, channel, ts, user=user)
    return read_request(client, request_id, where) if where is not None else None


class RequestInFlight(RetryLater):
    """The request has no message yet: its delivery has not posted it. The change waits for it."""


def not_found(request_id: str) -> Exception:
    """What to raise when a request's message is found nowhere: it may not be posted yet (a delivery
    waiting out a rate limit or a busy queue), and then the change tries again once it is, rather than
    calling the request deleted and letting it reach the approvers all the same."""
    if ledger_reader.in_flight(request_id):
        return RequestInFlight(request_id)
    return ChangeRefused("it no longer exists (its message was deleted)")


def request_change(client: WebClient, change: Change) -> None:
    """Withdraw a pending request or cancel approved leave that has not started."""
    config = current_config()
    try:
        where = request_location(client, config, change.request_id, change.channel, change.ts, user=change.by)
        if where is None:
            raise not_found(change.request_id)
        changed = write_change(client, config, where, change)
    except ChangeRefused as refusal:
        text = messages.change_refused_text(str(refusal))
        # Said once for this press (Slack's action_ts), though the task runs again or Slack loses an answer.
        press = (f"refused:{change.request_id}:{change.action}:{change.by}:{change.pressed_at}"
                 if change.pressed_at else "")
        if change.answer_in:
            post_ephemeral(client, change.answer_in, change.by, text, key=press)
        else:
            send_answer(client, press, change.by, text)
        return
    if changed is not None:
        message, previous, entry = changed
        change_followups(client, config, message, previous, entry, by=change.by)
        if change.answer_in:
            tell_change_done(client, config, change, entry)


def tell_change_done(client: WebClient, config: WorkspaceConfig, change: Change, entry: LedgerEntry) -> None:
    """Where the change was pressed on `/timeoff list` (an ephemeral list, which Slack keeps as sent): that it
    is done, once for the press."""
    text = messages.change_done_text(entry, config.leave_type(entry.leave_type), by=change.by,
                                     withdrawn=change.action == WITHDRAW)
    # Told on its own (tell_person: a task of its own while Slack fails for now, then by DM): an ephemeral
    # Slack keeps failing must not have the whole change, done, run again and again.
    if double_click(entry.id, change):
        return
    press = f":{change.pressed_at}" if change.pressed_at else ""
    done_key = f"change-done:{entry.id}:{change.action}{press}"
    once(done_key, lambda: tell_person(client, change.by, text, channel=change.answer_in, key=done_key))


# Two presses of one button this close together (Slack's `action_ts`) are a double click: answered once.
DOUBLE_CLICK_SECONDS = 3


def double_click(request_id: str, change: Change) -> bool:
    """Is this press on a list the second of a double click, whose first press was (or is being) answered?
    A press a while after the last one is answered again; a retry of the same press is not a second one."""
    try:
        pressed = float(change.pressed_at or "")
    except ValueError:
        return False
    key = f"change-pressed:{request_id}:{change.action}:{change.by}"
    if cache.add(key, pressed, ONCE_MARK_SECONDS):
        return False
    last = cache.get(key)
    if isinstance(last, float) and last != pressed and abs(pressed - last) < DOUBLE_CLICK_SECONDS:
        return True
    cache.set(key, pressed, ONCE_MARK_SECONDS)
    return False


def check_change(config: WorkspaceConfig, entry: LedgerEntry, change: Change, today) -> None:
    if not may_change(config, entry, change.by):
        raise ChangeRefused("only the requester (or HR) can change it")
    if change.action == WITHDRAW and entry.status != PENDING:
        raise ChangeRefused(f"it is already {entry.status}, so there is nothing to withdraw")
    if change.action == CANCEL:
        if entry.status != APPROVED:
            raise ChangeRefused(f"it is {entry.status}, not approved leave")
        if entry.start <= today and not directory.acts_as_hr(config, change.by):
            raise ChangeRefused("it has already started; ask HR to correct it")


def write_change(client: WebClient, config: WorkspaceConfig, where: tuple[str, str],
                 change: Change) -> tuple[LedgerMessage, LedgerEntry, LedgerEntry] | None:
    """Under the request's lock: read the message at `where` (once: every writer of the request holds
    the lock), check, rewrite it as cancelled. Returns the message, the entry before and after; None:
    nothing to do."""
    with request_lock(change.request_id) as lock:
        message = read_request(client, change.request_id, where)
        if message is None:
            raise ChangeRefused("it no longer exists (its message was deleted)")
        previous = message.entry
        if previous.status == CANCELLED and previous.decided_by == change.by:
            # Done already: a double click, or our own earlier attempt whose follow-ups failed (or whose
            # write Slack made though its answer was lost). Those go out (once each) when we know what it
            # was before: a withdrawal's was pending, a cancellation's approved (check_change).
            was = cache.get(change_written_key(change))
            if was is None and rewrite_was_this_change(cache.get(maybe_rewritten_key(previous.id)), change):
                was = PENDING if change.action == WITHDRAW else APPROVED
                cache.set(change_written_key(change), was, WRITTEN_MARK_SECONDS)
            if was:
                # Read under the lock: what the message says now, which the cache may not know (a write
                # whose answer was lost never reached it).
                ledger_reader.record_entry(previous)
                return message, replace(previous, status=was), previous
            # Cancelled by this person, but not by this change (their other one: a Withdraw pressed on an old
            # list after they cancelled the approved leave): refused as anyone's press would be, not silence.
        check_change(config, previous, change, local_today(fetch_timezone(client, previous.user)))
        entry = replace(previous, status=CANCELLED, decided_by=change.by, decided_at=int(time.time()), reason=None,
                        channel=message.channel, ts=message.ts)
        rewrite(client, config, message, entry, lock=lock)
        cache.set(change_written_key(change), previous.status, WRITTEN_MARK_SECONDS)
    logger.info("request changed id=%s action=%s by=%s", entry.id, change.action, change.by)
    return message, previous, entry


def request_edit(client: WebClient, submission: Submission, by: str) -> None:
    """Rewrite a pending request with new dates, type or note, after checking it against the ledger."""
    config = current_config()
    leave_type = config.leave_type(submission.leave_type)
    try:
        # Where it is and whose (a request's person and team never change): from the ledger's cache,
        # so the message is read from Slack once, under the lock.
        seen = request_sighting(client, config, submission.id, user=by)
        if seen is None:
            raise not_found(submission.id)
        team = team_of_entry(config, seen.team, seen.channel)
        if team is None or leave_type is None:
            raise ChangeRefused("its team or leave type is no longer configured")
        # The requester's view for the new dates, as the form checked it: the whole ledger only when cold.
        history = (ledger_reader.person_view(config, seen.user, team.name, submission.start, submission.end)
                   or ledger_reader.current_ledger(client, config))
        with request_lock(submission.id) as lock:
            message = read_request(client, submission.id, (seen.channel, seen.ts))
            if message is None:
                raise ChangeRefused("it no longer exists (its message was deleted)")
            previous = message.entry
            if not may_change(config, previous, by):
                raise ChangeRefused("only the requester (or HR) can edit it")
            submission = replace(submission, user=previous.user)  # HR edits it in the requester's name
            holds_it = edited_as_asked(previous, submission) and (
                not submission.note or submission.note == messages.note_from_blocks(message.blocks))
            before = ledger_reader.entry_from_plain(cache.get(edit_before_key(submission)))
            if holds_it and before is not None:
                # Our own earlier attempt's write, which Slack made though its answer was lost: it stands
                # (judged then), and its follow-ups tell it as a change from what it was before.
                ledger_reader.record_entry(previous)
                cache.set(edit_written_key(submission), 1, WRITTEN_MARK_SECONDS)
                entry, previous = previous, before
            elif holds_it and previous.status == PENDING and sent_as_opened(submission):
                # Sent as the form opened (Slack's forms have no "nothing changed"): nothing to rewrite, nobody
                # to call on.
                logger.info("edit of id=%s changes nothing; not rewritten", submission.id)
                return
            elif holds_it:
                # Written already, by an attempt that kept nothing of what it was before (a worker of the
                # release before, whose answer Slack lost): it stands, and its follow-ups go out.
                ledger_reader.record_entry(previous)
                entry = previous
            else:
                entry = write_edit(client, config, message, submission, by=by, team=team, leave_type=leave_type,
                                   history=history, lock=lock)
    except ChangeRefused as refusal:
        send_answer(client, f"edit-refused:{submission.id}:{submission.submitted_at}", by,
                    messages.change_refused_text(str(refusal)))
        return
    change_followups(client, config, message, previous, entry, by=by, edit=str(submission.submitted_at))


def write_edit(client: WebClient, config: WorkspaceConfig, message: LedgerMessage, submission: Submission, *,
               by: str, team: TeamConfig, leave_type: LeaveTypeConfig, history, lock) -> LedgerEntry:
    """Under the request's lock: check `by`'s edit against the rules and the ledger, and rewrite the message.
    Returns the entry written; ChangeRefused when it may not be."""
    previous = message.entry
    if previous.status != PENDING:
        raise ChangeRefused(f"it is already {previous.status}")
    if edited_since_by_another(previous, cache.get(edit_seen_key(submission)), by):
        raise ChangeRefused(f"someone else changed it after you opened the form (it is now "
                            f"{messages.entry_dates(previous)}); press Edit again to start from it as it is")
    violations = check_submission(config, submission, team=team, leave_type=leave_type,
                                  today=local_today(fetch_timezone(client, previous.user), now=submission.submitted_at),
                                  ledger=history, kept_start=previous.start)
    if violations:
        raise ChangeRefused("; ".join(v.message for v in violations) + " — the request is unchanged")
    entry = replace(submission_entry(config, submission, team=team, leave_type=leave_type),
                    channel=message.channel, ts=message.ts, recorded_by=previous.recorded_by,
                    extra=previous.extra)  # a newer release's keys: kept (ledger_format)
    note = submission.note or messages.note_from_blocks(message.blocks)
    context = (ledger_context(config, history, entry, leave_type, today=local_today(team.timezone))
               if entry.status == PENDING else "")
    # Kept for a retry that finds this write made though its answer was lost (request_edit); and who wrote
    # it, before the write, which Slack may make though its answer is lost.
    cache.set(edit_before_key(submission), ledger_reader.entry_as_plain(previous), WRITTEN_MARK_SECONDS)
    cache.set(edited_by_key(entry.id), by, WRITTEN_MARK_SECONDS)
    rewrite(client, config, message, entry, lock=lock, note=note, others_out=context)
    cache.set(edit_written_key(submission), 1, WRITTEN_MARK_SECONDS)
    return entry


def sent_as_opened(submission: Submission) -> bool:
    """Was the edit form sent with the type, dates and halves it opened on (its "v", in edit_seen_key)?"""
    seen = cache.get(edit_seen_key(submission))
    return isinstance(seen, str) and seen == messages.version_of(
        submission.leave_type, submission.start, submission.end, submission.start_half, submission.end_half)


def edited_since_by_another(current: LedgerEntry, seen: str | None, by: str) -> str | None:
    """Who else edited the request since a form opened on version `seen` of it (None: nobody we know of).
    The same person's two tabs may each be sent: the last one is what they want."""
    editor = cache.get(edited_by_key(current.id))
    if seen and editor and editor != by and messages.shown_version(current) != seen:
        return editor
    return None


def edit_made(entry: LedgerEntry, submission: Submission) -> bool:
    """Does the ledger hold this edit: as asked, and pending, or approved at once (an edit into a type that
    needs no approval, or one HR recorded)?"""
    leave_type = current_config().leave_type(submission.leave_type)
    at_once = submission.recorded_by or (leave_type is not None and not leave_type.requires_approval)
    return entry.status == (APPROVED if at_once else PENDING) and edited_as_asked(entry, submission)


def edited_as_asked(entry: LedgerEntry, submission: Submission) -> bool:
    """Does the ledger's entry hold this edit (its type, dates and halves, as recorded: without a half on a
    day off, rules.halves_that_count)?"""
    halves = (submission.start_half, submission.end_half)
    config = current_config()
    team = config.team_recorded_as(entry.team)
    if team is not None:
        halves = halves_that_count(submission.leave_request, team.workweek,
                                   holiday_dates(config, team, submission.start, submission.end))
    return ((entry.leave_type, entry.start, entry.end, entry.start_half, entry.end_half)
            == (submission.leave_type, submission.start, submission.end, *halves))


def change_written_key(change: Change) -> str:
    return f"change-written:{change.request_id}:{change.action}:{change.by}"


def edit_written_key(submission: Submission) -> str:
    return f"edit-written:{submission.id}:{submission.submitted_at}"


def edited_by_key(request_id: str) -> str:
    """Who edited the request last (as far as this deployment remembers)."""
    return f"edited-by:{request_id}"


def edit_seen_key(submission: Submission) -> str:
    """The request's version as the edit's form opened on it."""
    return f"edit-seen:{submission.id}:{submission.submitted_at}"


def edit_before_key(submission: Submission) -> str:
    """The request as it was before this edit, kept while the edit's task may retry."""
    return f"edit-before:{submission.id}:{submission.submitted_at}"



def change_gave_up(client: WebClient, change: Change, error: str, *, failure: str, passing: bool,
                   in_flight: bool = False) -> None:
    """The change failed for good. Once the ledger holds it, only a follow-up failed: that is recorded for HR,
    not told as "unchanged" (DESIGN §8). `error`: for HR's record; `failure`: why, for people
    (`task_queue.failure_for_people`). `passing`: the last fault was a passing one (a later try may work).
    `in_flight`: it was RequestInFlight (the request's message is not posted yet)."""
    if in_flight:
        tell_person(client, change.by, messages.still_being_sent_text("withdraw"))
        return
    noun = "withdrawal" if change.action == WITHDRAW else "cancellation"
    # Looked at whatever the last fault was: an earlier attempt's rewrite whose answer was lost may have been
    # made though this one met a refusal for good (rewrite_maybe_made looks only after such an answer).
    made = cache.get(change_written_key(change)) is not None or rewrite_maybe_made(
        client, change.request_id, channel=change.channel, ts=change.ts, by=change.by,
        made=lambda entry: entry.status == CANCELLED and entry.decided_by == change.by,
        tried=lambda mark: rewrite_was_this_change(mark, change))
    if made is None or made:
        # Made, or maybe made, with what follows it unsent: looked at again while Slack recovers. Once for the
        # request, the change and the person: a double click's two tasks may both give up.
        key = change_settling_key(change)
        settle_queued(key, lambda: tasks.settle_change.enqueue(change.as_task_data(), made is None, new_ask()),
                      first=None if made else lambda: _tell_unconfirmed_once(key, lambda: tell_person(
                          client, change.by, messages.change_unconfirmed_text(noun, failure))))
        return
    if not passing:
        record_problem(request_id=change.request_id, user=change.by, channel=change.channel or "", error=error,
                       summary=f"{change.by} asked to {change.action} this request: {failure}.")
    tell_person(client, change.by, messages.gave_up_text(f"{change.action} that request", failure, passing=passing))


def change_settle(client: WebClient, change: Change, unconfirmed: bool, run: str) -> None:
    """A change whose task gave up after its rewrite was made, or maybe made (`unconfirmed`: Slack would not
    show the message, and the person was told it may be done or not), before what follows it went out:
    the `settle_change` task looks again, retrying while Slack fails. Made: the person told "unconfirmed"
    hears at once that it is done, then the thread reply, the corrected announcement and the rest go out
    (once each). Not made, and the request as it was: they hear it is unchanged, and may press again;
    changed by someone else meanwhile (whose change told them): nothing more is said."""
    config = current_config()
    message = _located(client, config, change.request_id, change.channel, change.ts, by=change.by)
    entry = message.entry if message is not None else None
    noun = "withdrawal" if change.action == WITHDRAW else "cancellation"
    settled = f"change-settled:{run or change_settling_key(change)}"  # what this settle tells, once
    if entry is None or not (entry.status == CANCELLED and entry.decided_by == change.by):
        expected = PENDING if change.action == WITHDRAW else APPROVED
        logger.info("change of id=%s by=%s was not made after all", change.request_id, change.by)
        if unconfirmed and entry is not None and entry.status == expected:
            tell_once(client, change.by, messages.not_made_after_all_text(noun), key=settled)
        return
    cache.set(settle_seen_key(change.request_id, change.action, change.by), 1, SETTLE_SECONDS)
    if unconfirmed:  # at once: what follows may keep failing, and they wait to know
        if change.answer_in:
            tell_change_done(client, config, change, entry)
        else:
            tell_once(client, change.by, messages.change_confirmed_text(noun), key=settled)
    # What it was before: a withdrawal's was pending, a cancellation's approved (check_change).
    cache.add(change_written_key(change), PENDING if change.action == WITHDRAW else APPROVED, WRITTEN_MARK_SECONDS)
    request_change(client, change)  # finds it done by this person, and sends what follows it


def change_settle_gave_up(change: Change, unconfirmed: bool, *, error: str, failure: str) -> None:
    """Slack kept failing the look (or what follows the change) for good: HR's record says which."""
    noun = "withdrawal" if change.action == WITHDRAW else "cancellation"
    settle_gave_up(change.request_id, change.by, f"{change.by}'s {noun}", channel=change.channel or "",
                    seen=not unconfirmed or cache.get(settle_seen_key(change.request_id, change.action, change.by)),
                    error=error, failure=failure)


def edit_settle(client: WebClient, submission: Submission, by: str, unconfirmed: bool, run: str) -> None:
    """As `change_settle`, for an edit whose task gave up after its rewrite was made or maybe made: made, its
    follow-ups go out (the thread reply tells it as a change from what it was before, kept when it was
    written); not made, with the request still pending: the person hears it was not recorded."""
    config = current_config()
    message = _located(client, config, submission.id, None, None, by=by)
    entry = message.entry if message is not None else None
    settled = f"edit-settled:{run or edit_settling_key(submission)}"
    if entry is None or not edit_made(entry, submission):
        logger.info("edit of id=%s by=%s was not made after all", submission.id, by)
        if unconfirmed and entry is not None and entry.status == PENDING:
            asked = shown_back(submission, config.leave_type(submission.leave_type))
            tell_once(client, by, messages.not_made_after_all_text("edit") + f" What you asked for: {asked}",
                      key=settled)
        return
    cache.set(settle_seen_key(submission.id, str(submission.submitted_at), by), 1, SETTLE_SECONDS)
    if unconfirmed:
        tell_once(client, by, messages.change_confirmed_text("edit"), key=settled)
    request_edit(client, submission, by)  # finds it written, and sends what follows it


def edit_settle_gave_up(submission: Submission, by: str, unconfirmed: bool, *, error: str, failure: str) -> None:
    settle_gave_up(submission.id, by, f"{by}'s edit", channel="",
                    seen=not unconfirmed or cache.get(settle_seen_key(submission.id, str(submission.submitted_at), by)),
                    error=error, failure=failure)


def change_settling_key(change: Change) -> str:
    """One settle task at a time for a person's change of a request (tasks.settle_change)."""
    return f"change-settling:{change.request_id}:{change.action}:{change.by}"


def edit_settling_key(submission: Submission) -> str:
    return f"edit-settling:{submission.id}:{submission.submitted_at}"


def _located(client: WebClient, config: WorkspaceConfig, request_id: str, channel: str | None, ts: str | None, *,
             by: str) -> LedgerMessage | None:
    try:
        return locate_request(client, config, request_id, channel, ts, user=by)
    except ChangeRefused:  # another version's message: no change of ours
        return None


# How long a give-up's "unconfirmed" keeps the next give-up of the same change from saying it again: the
# two tasks of a double click give up within moments of each other; a press made later is answered anew.
SETTLE_TOLD_SECONDS = 15 * 60


def _tell_unconfirmed_once(key: str, tell) -> None:
    """Tell the person their change may or may not be made, once while it is being settled: a settle task
    that could not be queued gives its claim back (`settle_queued`), and the next give-up queues one
    without telling them the same again. Over with the settle (`request_services.settle_over`)."""
    if cache.get(settle_told_key(key)) is None:
        tell()
        cache.set(settle_told_key(key), 1, SETTLE_TOLD_SECONDS)


def edit_gave_up(client: WebClient, submission: Submission, by: str, error: str, *, failure: str, passing: bool,
                 in_flight: bool = False) -> None:
    """As `change_gave_up`, for an edit: the new dates and note are shown back, as a refusal shows them."""
    leave_type = current_config().leave_type(submission.leave_type)
    asked = shown_back(submission, leave_type)
    if in_flight:
        tell_person(client, by, messages.still_being_sent_text("edit") + f" What you asked for: {asked}")
        return
    made = cache.get(edit_written_key(submission)) is not None or rewrite_maybe_made(  # as change_gave_up's
        client, submission.id, channel=None, ts=None, by=by,
        made=lambda entry: edit_made(entry, submission),
        tried=lambda mark: mark.before == PENDING and mark.after != CANCELLED)  # an edit's (which: only a look)
    if made is None or made:
        key = edit_settling_key(submission)
        settle_queued(key, lambda: tasks.settle_edit.enqueue(submission.as_task_data(), by, made is None, new_ask()),
                      first=None if made else lambda: _tell_unconfirmed_once(key, lambda: tell_person(
                          client, by, messages.change_unconfirmed_text("edit", failure) + f" What you asked for: {asked}")))
        return
    if not passing:
        record_problem(request_id=submission.id, user=by, channel="", error=error,
                       summary=f"{by} asked to change this request to {shown_to_hr(submission, leave_type)}; "
                               f"{failure}.")
    tell_person(client, by, messages.gave_up_text("edit your request", failure, passing=passing)
                + f" What you asked for: {asked}")


class request_lock:
    """The per-request lock a decision takes too; LockBusy (a retry) when it stays busy."""

    def __init__(self, request_id: str):
        self.key, self.token = f"lock:decide:{request_id}", None

    def __enter__(self):
        self.token = acquire(self.key, timeout=DECISION_LOCK_SECONDS, wait=DECISION_LOCK_WAIT_SECONDS, poll=0.1)
        if self.token is None:
            raise LockBusy(f"{self.key} is busy")
        return self

    def __exit__(self, *exc):
        release(self.key, self.token)

    def still_ours(self) -> bool:
        return renew(self.key, self.token, DECISION_LOCK_SECONDS)


def rewrite(client: WebClient, config: WorkspaceConfig, message: LedgerMessage, entry: LedgerEntry, *,
            lock: request_lock, note: str | None = None, others_out: str = "") -> None:
    """The request message and its metadata, as `entry` now stands; the cached ledger follows.
    `others_out`: for a request still pending (an edit), who else is out then and the balance after it,
    as when it was posted (a decision or a cancellation leaves them out: they would go stale).

    Written as a decision is: only while `lock` is still ours (slow calls since it was taken may have
    outlasted it, and another writer may be in), and with the client that never sleeps out a 429
    under the lock (the task's next attempt waits for Retry-After and reads the message again)."""
    leave_type = config.leave_type(entry.leave_type)
    approvers = approvers_of(client, config, entry) if entry.status == PENDING else frozenset()
    text, blocks = messages.request_message(
        entry=entry, leave_type=leave_type, approvers=approvers,
        named_first=named_approvers(config, config.team_recorded_as(entry.team)),
        note=messages.note_from_blocks(message.blocks) if note is None else note, others_out=others_out)
    if not lock.still_ours():
        raise LockBusy(f"{lock.key} lost before the write")
    # Marked before the write, as a decision is: whatever error follows, an earlier try inside the client (a
    # 5xx it retried) may have written it, and a worker killed once Slack wrote it, before it read the answer,
    # leaves a message its next attempt must finish (the follow-ups), not take for someone else's change.
    # See `rewrite_maybe_made` and `write_change`.
    cache.set(maybe_rewritten_key(entry.id), tuple(RewriteTried(message.entry.status, entry.status, entry.decided_by)),
              WRITTEN_MARK_SECONDS)
    ledger.update_request(locked_write_client(), channel=message.channel, ts=message.ts, entry=entry, text=text,
                          blocks=blocks)
    ledger_reader.record_entry(entry)


def maybe_rewritten_key(request_id: str) -> str:
    return f"maybe-rewritten:{request_id}"


class RewriteTried(NamedTuple):
    """What the `maybe-rewritten:` mark says of the last rewrite tried (a plain tuple in the cache): the
    request's status before and after it, and who it names as deciding. A release before kept `1`."""

    before: str
    after: str
    decided_by: str | None


def tried_rewrite(mark) -> RewriteTried | None:
    """The mark as a RewriteTried; None for the release before's `1` (a rewrite of some kind was tried)."""
    return RewriteTried(*mark) if isinstance(mark, (tuple, list)) and len(mark) == 3 else None


def rewrite_was_this_change(mark, change: Change) -> bool:
    """Was the rewrite tried last this change's: cancelled by its person, from what its action changes (a
    withdrawal's pending, a cancellation's approved)? Not an earlier edit's, nor the person's other change.
    The release before's mark (`1`) says only that a rewrite was tried: this change's, unless that release
    wrote the person's other change as made."""
    if not mark:
        return False
    tried = tried_rewrite(mark)
    if tried is None:
        other = replace(change, action=CANCEL if change.action == WITHDRAW else WITHDRAW)
        return cache.get(change_written_key(other)) is None
    return tried == (PENDING if change.action == WITHDRAW else APPROVED, CANCELLED, change.by)


def rewrite_maybe_made(client: WebClient, request_id: str, *, channel: str | None, ts: str | None, by: str,
                       made, tried) -> bool | None:
    """A task gives up on a change or an edit whose rewrite Slack may have made though its answer was lost:
    one last look at the message. True when `made(entry)` says it holds the change, False when it does
    not (or no write of its kind was tried: `tried(RewriteTried)`), None when Slack would not say."""
    mark = cache.get(maybe_rewritten_key(request_id))
    if not mark:
        return False
    if (noted := tried_rewrite(mark)) is not None and not tried(noted):
        return False  # the last rewrite tried was another's (an earlier edit): this one wrote nothing
    try:
        message = locate_request(client, current_config(), request_id, channel, ts, user=by)
    except ChangeRefused:  # another version's message: a change of ours would read
        return False
    except (SlackClientError, OSError) as exc:
        logger.warning("last look at the change of id=%s failed error=%s", request_id, error_code(exc))
        return None
    return message is not None and made(message.entry)


def approvers_of(client: WebClient, config: WorkspaceConfig, entry: LedgerEntry) -> frozenset[str]:
    team = config.team_recorded_as(entry.team)
    if team is None:  # a removed team's request: HR's who can decide it
        return fallback_deciders(config, entry.user, unable=directory.unable_to_approve(client))
    return team_approvers(client, config, team, entry.user)


def change_followups(client: WebClient, config: WorkspaceConfig, message: LedgerMessage, previous: LedgerEntry,
                     entry: LedgerEntry, *, by: str, edit: str | None = None) -> None:
    """Tell the approvers in the thread, correct the announcement, tell the requester when HR changed it.

    `edit`: what tells this edit from the request's other edits (its submission's time), so each edit's
    follow-ups go out once, including one that puts back dates an earlier edit had."""
    team: TeamConfig | None = config.team_recorded_as(entry.team)
    approvers = approvers_of(client, config, entry) if previous.status in (PENDING, APPROVED) else ()
    # A pending request edited into a leave type that needs no approval is recorded as approved at once
    # (as such a request is when sent): announced, and the approvers are not called on for it.
    recorded = previous.status == PENDING and entry.status == APPROVED
    edited = entry.status == PENDING or recorded
    key = f"{entry.id}:{entry.status}:{entry.start}:{entry.end}:{entry.leave_type}" + (f":{edit}" if edit else "")
    leave_type = config.leave_type(entry.leave_type)
    # Under way by the person's own day, as check_change judged it; only HR cancels leave under way.
    started = (previous.status == APPROVED and by != entry.user
               and previous.start <= local_today(fetch_timezone(client, entry.user)))
    thread_text = messages.change_thread_text(entry, by=by, previous=previous, leave_type=leave_type,
                                              approvers=() if recorded else approvers,
                                              named_first=named_approvers(config, team), started=started)
    followup_notice(client, f"change-thread:{key}", channel=message.channel, thread_ts=message.ts, text=thread_text,
                    entry=entry, what="the thread reply about the change")
    if previous.status == APPROVED and team is not None and team.announce_channel \
            and not over_when_decided(team, previous):
        followup_notice(client, f"change-announce:{key}", channel=team.announce_channel,
                        text=messages.cancelled_announcement_text(entry, started=started), entry=entry,
                        what="the corrected announcement")
    if recorded and team is not None:
        announce(client, team, entry, leave_type)
        remind_if_its_run_passed(client, team, entry, leave_type)
    if by != entry.user:
        followup(f"change-dm:{key}",
                 lambda: send_dm_once(client, f"change-dm:{key}", entry.user,
                                      messages.changed_by_hr_text(entry, leave_type, by=by)),
                 entry=entry, what="the DM about the change", channel=entry.user)
    if edited and by == entry.user:  # their receipt shows the new request (posted anew if it is not found)
        followup(f"change-receipt:{key}", lambda: send_receipt(client, entry, leave_type, approvers,
                                                               key=f"change-receipt:{key}"),
                 entry=entry, what="the updated receipt", channel=entry.user, of_state=True)
    else:  # withdrawn, cancelled, or changed by HR (who DMs them): the receipt they have says so
        followup(f"change-receipt:{key}", lambda: receipt_update(client, entry, leave_type, approvers),
                 entry=entry, what="the updated receipt", channel=entry.user, of_state=True)
    tasks.publish_home_later({entry.user, *approvers})


LIST_CHECKING_TEXT = "Looking up your time off — I'll DM you in a moment."


def leave_list_request(user: str, *, only_changeable: bool = False, hr: str | None = None) -> tuple[str, list[dict]]:
    """`/timeoff list` (or `cancel`) now, from the cache; or a note that the answer comes by DM.
    `hr`: HR asking about `user` (`/timeoff for @person list`): the list is theirs to read, and a list
    that comes by DM goes to them, not to the person."""
    from approvals.selectors import leave_list, my_leave_cached

    config = current_config()
    leave = my_leave_cached(config, user)
    if leave is not None and _nothing_listed(leave):
        profile = directory.cached_profile(user)
        if directory.is_outsider(profile):
            return _outsider_list_text(user, hr), []
        if profile is None:
            leave = None  # nothing of theirs, nothing known of who they are (another organisation's?): ask Slack
    if leave is None:
        tasks.send_leave_list.enqueue(user, only_changeable, hr, new_ask())
        return (LIST_CHECKING_TEXT if hr is None else
                f"Looking up {messages.mention(user)}'s time off — I'll DM you in a moment."), []
    return leave_list(config, leave, only_changeable=only_changeable, whose=user if hr else None)


def _nothing_listed(leave) -> bool:
    return not (leave.pending or leave.upcoming or leave.ongoing or leave.recent)


def _outsider_list_text(user: str, hr: str | None) -> str:
    """An empty list of someone of another organisation (Slack Connect) says why, not "no time off"."""
    if hr is None:
        return f"Sorry, {messages.outsider_text()}."
    return f"{messages.mention(user)} has no time off here: {messages.person_outsider_text()}."


def leave_list_send(client: WebClient, user: str, only_changeable: bool, hr: str | None = None,
                    ask: str = "") -> None:
    from approvals.selectors import leave_list, my_leave

    config = current_config()
    try:
        history = ledger_reader.current_ledger(client, config)
    except ledger_reader.LedgerUnavailable as error:
        # A refusal for good: no retry will read it. Whoever was promised the list hears why (as for
        # `/timeoff balance` and `who`), rather than waiting for a DM that will not come.
        logger.warning("leave list for user=%s: ledger unavailable channel=%s error=%s", user, error.channel,
                       error.error)
        whose = "your" if hr is None else f"{messages.mention(user)}'s"
        send_answer(client, ask, hr or user,
                    f"Sorry, I can't list {whose} time off right now: I {error} — the leave records live there. "
                    f"Please ask {messages.hr_contacts(config, leaving_out=directory.hr_unable(config))} to check "
                    "that I am still a member of that channel.")
        return
    leave = my_leave(history, user, local_today(fetch_timezone(client, user)))
    if _nothing_listed(leave) and directory.is_outsider(directory.fetch_user(client, user, raise_passing=True)):
        send_answer(client, ask, hr or user, _outsider_list_text(user, hr))
        return
    text, blocks = leave_list(config, leave, only_changeable=only_changeable, whose=user if hr else None)
    send_answer(client, ask, hr or user, text, blocks)
