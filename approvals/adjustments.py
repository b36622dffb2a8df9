"""Balance adjustments: opening balances, carry-over and HR corrections, recorded in the ledger.

An adjustment is a `timeoff_adjustment` message in the user's team approvals
channel (DESIGN §5), so it lives where the requests live and other apps can
read it. `adjustment_record` is the one write; the `adjust_balance` command
and the admin form both call it.
"""

import logging
import time
import uuid
from dataclasses import replace
from datetime import date
from decimal import Decimal, InvalidOperation

from django.core.cache import cache
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from approvals import directory, ledger_reader, tasks
from approvals.block_kit import escape
from approvals.cache_lock import LockBusy
from approvals.config_file import USER
from approvals.config_types import LeaveTypeConfig, WorkspaceConfig
from approvals.ledger import log_warnings
from approvals.ledger_format import adjustment_metadata
from approvals.rules import HALF_DAY, Adjustment, format_days
from approvals.rules import YEARS_AHEAD as RULES_YEARS_AHEAD
from approvals.slack_clients import ledger_post_client
from approvals.task_queue import INFRASTRUCTURE_FAULTS, error_for_people, slack_may_have_acted, transient
from approvals.team_routing import match_team

logger = logging.getLogger(__name__)

# A correction years back is a mistake more often than not, and the ledger's
# retention rarely reaches further. Ahead: as far as leave may be booked (rules.YEARS_AHEAD), so a year
# someone has leave booked in can be given its opening balance.
YEARS_BACK = 5
YEARS_AHEAD = RULES_YEARS_AHEAD
MAX_DAYS = Decimal(366)
MAX_REASON_CHARS = 200  # it is stored in the metadata, which Slack keeps small


class AdjustmentError(Exception):
    """The adjustment was not recorded; the message says why, for HR to read. `maybe_recorded`: Slack's
    answer to the post was lost, so it may have been recorded after all."""

    def __init__(self, message: str, *, maybe_recorded: bool = False):
        super().__init__(message)
        self.maybe_recorded = maybe_recorded


def parse_days(text: str) -> Decimal:
    """ "3", "+2.5", "-0.5" -> Decimal; AdjustmentError for anything else."""
    try:
        days = Decimal(str(text).strip())
    except InvalidOperation:
        raise AdjustmentError(f"'{text}' is not a number of days (e.g. 3, 2.5 or -1)") from None
    if not days.is_finite():
        raise AdjustmentError(f"'{text}' is not a number of days (e.g. 3, 2.5 or -1)")
    return days


def adjustment_errors(
    *, config: WorkspaceConfig, user: str, leave_type: str, days: Decimal, year: int, reason: str, by: str,
    today: date | None = None,
) -> dict[str, str]:
    """What is wrong with an adjustment, by argument name, before asking Slack anything; empty when nothing is."""
    today = today or date.today()
    errors = {}
    if USER.error(user):
        errors["user"] = f"'{user}' {USER.error(user)}"
    known = config.leave_type(leave_type)
    if known is None:
        codes = ", ".join(t.code for t in config.leave_types) or "none are configured"
        errors["leave_type"] = f"'{leave_type}' is not a leave type (known types: {codes})"
    elif known.annual_allowance_days is None:
        errors["leave_type"] = (f"{known.name} has no yearly allowance, so an adjustment would change nothing "
                                "(give it one under Leave types first)")
    if not isinstance(days, Decimal) or not days.is_finite():
        errors["days"] = "the days must be a number"
    elif days == 0:
        errors["days"] = "the days must not be 0"
    elif days % HALF_DAY != 0:
        errors["days"] = f"the days must be whole or half days, not {days}"
    elif abs(days) > MAX_DAYS:
        errors["days"] = f"{days} days is more than a year"
    if not today.year - YEARS_BACK <= year <= today.year + YEARS_AHEAD:
        first, last = today.year - YEARS_BACK, today.year + YEARS_AHEAD
        errors["year"] = f"the year must be between {first} and {last}, not {year}"
    if not reason.strip():
        errors["reason"] = "a reason is required (e.g. carry-over, opening balance, correction)"
    elif len(reason.strip()) > MAX_REASON_CHARS:
        errors["reason"] = f"the reason must be at most {MAX_REASON_CHARS} characters"
    if not by.strip():
        errors["by"] = "who records the adjustment is required"
    return errors


def adjustment_text(adjustment: Adjustment, leave_type: LeaveTypeConfig | None) -> str:
    """"Balance adjustment for <@U…>: +3 days of Vacation in 2026 (carry-over) — by <@U…>"."""
    sign = "+" if adjustment.days > 0 else "-"
    name = escape(leave_type.name if leave_type else adjustment.leave_type)
    by = f"<@{adjustment.by}>" if not USER.error(adjustment.by) else escape(adjustment.by)
    return (
        f"Balance adjustment for <@{adjustment.user}>: {sign}{format_days(abs(adjustment.days))} of {name} "
        f"in {adjustment.year} ({escape(adjustment.reason)}) — by {by}"
    )


# One form, recorded once: a second click while Slack is slow sends the same form again. Its id is claimed
# for a day; the second post waits for the first's outcome rather than post the adjustment twice.
SUBMISSION_SECONDS = 24 * 60 * 60
SUBMISSION_WAIT_SECONDS = 15
RECORDING, ANSWER_LOST = "recording", "answer lost"


def _submission_key(submission: str) -> str:
    return f"adjustment-form:{submission}"


def _first_post_of(submission: str) -> Adjustment | None:
    """None when this post of the form is the one to record it; the adjustment when an earlier post of the
    same form recorded it. AdjustmentError when that one's outcome is not known."""
    deadline = time.monotonic() + SUBMISSION_WAIT_SECONDS
    while not cache.add(_submission_key(submission), RECORDING, SUBMISSION_SECONDS):
        held = cache.get(_submission_key(submission))
        if isinstance(held, Adjustment):
            return held
        if held == ANSWER_LOST:
            raise AdjustmentError("this form was sent before and Slack's answer to it was lost: the adjustment may "
                                  "have been recorded; check the approvals channel before recording it again")
        if held == RECORDING and time.monotonic() > deadline:
            raise AdjustmentError("this form was sent twice and the first is still being recorded; see the "
                                  "balances page in a minute before recording it again")
        time.sleep(0.2)
    return None


def adjustment_record(
    *, client: WebClient, config: WorkspaceConfig, user: str, leave_type: str, days: Decimal, year: int, reason: str,
    by: str, submission: str | None = None, post_client: WebClient | None = None,
) -> Adjustment:
    """Validate an adjustment and post it to the user's team approvals channel; AdjustmentError if not recorded.

    `by` is a Slack user id (mentioned in the message) or a name, such as the
    admin user's. Slack is asked whether the user exists and which team they
    are in, so this runs in a command, an admin view or a task, never on
    Slack's request path. `submission`: the id of the form it came from; the
    same form sent again records nothing more and returns the first's adjustment. `post_client`: the client
    that posts it (default: the ledger's, which waits out Slack's short 429s; a page passes one that does
    not wait, since a browser is waiting).
    """
    user, leave_type, reason, by = user.strip(), leave_type.strip(), reason.strip(), by.strip()
    errors = adjustment_errors(config=config, user=user, leave_type=leave_type, days=days, year=year, reason=reason,
                               by=by)
    if errors:
        raise AdjustmentError("; ".join(errors.values()))
    if not submission:
        return _record(client=client, config=config, user=user, leave_type=leave_type, days=days, year=year,
                       reason=reason, by=by, post_client=post_client)
    if (earlier := _first_post_of(submission)) is not None:
        return earlier
    try:
        adjustment = _record(client=client, config=config, user=user, leave_type=leave_type, days=days, year=year,
                             reason=reason, by=by, post_client=post_client)
    except AdjustmentError as error:
        if error.maybe_recorded:
            cache.set(_submission_key(submission), ANSWER_LOST, SUBMISSION_SECONDS)
        else:
            cache.delete(_submission_key(submission))  # nothing recorded: the same form may be sent again
        raise
    except BaseException:
        cache.delete(_submission_key(submission))
        raise
    cache.set(_submission_key(submission), adjustment, SUBMISSION_SECONDS)
    return adjustment


def _ours_blinking(exc: BaseException) -> bool:
    """Our database, cache or a lock failing for a moment (worth a line in the log), not a bug (worth its
    traceback)."""
    return isinstance(exc, (LockBusy, *INFRASTRUCTURE_FAULTS))


def _fold_later(adjustment: Adjustment) -> None:
    """The cached ledger is updated by a task, retried until the lock or the cache answers; if even the
    task cannot be queued, the next ledger read finds the message (balances lag until then)."""
    try:
        tasks.fold_adjustment.enqueue(adjustment_metadata(adjustment), adjustment.channel, adjustment.ts)
    except Exception as exc:
        logger.warning("adjustment id=%s posted; its folding task not queued error=%s", adjustment.id,
                       error_for_people(exc), exc_info=not _ours_blinking(exc))


def _record(*, client: WebClient, config: WorkspaceConfig, user: str, leave_type: str, days: Decimal, year: int,
            reason: str, by: str, post_client: WebClient | None = None) -> Adjustment:
    try:
        found = client.users_info(user=user)
    except SlackApiError as exc:
        if exc.response.get("error") == "user_not_found":
            raise AdjustmentError(f"Slack has no user {user}") from None
        if transient(exc):  # Slack's code (or `http_502` for a gateway's page), never the page itself
            raise AdjustmentError(f"Slack could not look up {user} just now ({error_for_people(exc)}); nothing "
                                  "was recorded: try again in a minute") from None
        raise AdjustmentError(f"Slack could not look up {user} ({error_for_people(exc)})") from None
    except (SlackClientError, OSError) as exc:
        raise AdjustmentError(f"Slack could not be reached ({error_for_people(exc)}); nothing was recorded: try "
                              "again in a minute") from None
    person = found.get("user") or {}
    if person.get("is_bot") or user == directory.SLACKBOT:
        raise AdjustmentError(f"{user} is a bot (an app's user), not a person: bots have no leave")

    try:
        team = match_team(
            config, user,
            channel_members=lambda channel: directory.fetch_channel_members(client, channel),
            usergroup_members=lambda usergroup: directory.fetch_usergroup_members(client, usergroup),
        ).team
    except (SlackClientError, OSError) as exc:  # a passing fault: nothing is known, nothing was posted
        raise AdjustmentError(f"Slack could not say which team {user} is in ({error_for_people(exc)}); "
                              "try again in a minute") from None
    if team is None:
        raise AdjustmentError(f"{user} is in no team, so there is no approvals channel to record it in")

    adjustment = Adjustment(id=str(uuid.uuid4()), user=user, leave_type=leave_type, days=days, year=year,
                            reason=reason, by=by)
    try:
        # The client that retries only 429s: a retried 5xx or timeout could post the adjustment twice.
        response = (post_client or ledger_post_client()).chat_postMessage(
            channel=team.approvals_channel,
            text=adjustment_text(adjustment, config.leave_type(leave_type)),
            metadata=adjustment_metadata(adjustment),
            unfurl_links=False,
        )
        log_warnings(response, "chat.postMessage", channel=team.approvals_channel, request_id=adjustment.id)
    except (SlackClientError, OSError) as exc:
        if slack_may_have_acted(exc):  # a 5xx, a timeout, a dropped connection: say so rather than invite a duplicate
            raise AdjustmentError(
                f"Slack's answer was lost ({error_for_people(exc)}): the adjustment may have been recorded all the "
                f"same; check the {team.name} approvals channel {team.approvals_channel} before recording it again",
                maybe_recorded=True,
            ) from None
        if transient(exc):  # rate limited, or a passing refusal: Slack did not act
            raise AdjustmentError(f"Slack is busy just now ({error_for_people(exc)}); nothing was recorded: "
                                  "try again in a minute") from None
        raise AdjustmentError(
            f"Slack refused to post to the {team.name} approvals channel {team.approvals_channel} "
            f"({error_for_people(exc)}); nothing was recorded"
        ) from None
    adjustment = replace(adjustment, channel=team.approvals_channel, ts=response.get("ts"))  # where the ledger has it
    # Recorded for good once posted: what follows failing (the cache, a lock, the task row) must not turn it
    # into "not recorded" (HR would record it again). The next ledger read finds the message all the same.
    try:
        ledger_reader.record_adjustment(adjustment)
    except Exception as exc:
        logger.warning("adjustment id=%s posted; the cached ledger not updated error=%s; a task folds it in",
                       adjustment.id, error_for_people(exc), exc_info=not _ours_blinking(exc))
        _fold_later(adjustment)
    try:
        tasks.publish_home_later({user})  # the balances shown on their App Home changed
    except Exception as exc:
        logger.warning("adjustment id=%s posted; App Home not refreshed error=%s", adjustment.id,
                       error_for_people(exc), exc_info=not _ours_blinking(exc))
    # Not the leave type: a private one (sick leave) is named only in the ledger and to HR, never in logs.
    logger.info("adjustment recorded id=%s user=%s days=%s year=%s by=%s", adjustment.id, user, days, year, by)
    return adjustment
