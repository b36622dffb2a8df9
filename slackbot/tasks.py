"""Background tasks (Django Tasks, django-tasks-db in production).

django-tasks-db does not retry: a task that fails on a passing fault (Slack 5xx
after the client's own retries, a timeout, a lost connection) re-enqueues
itself with a growing delay, up to MAX_ATTEMPTS. Task arguments are plain JSON.
"""

import logging
from datetime import timedelta
from urllib.error import URLError

from django.tasks import task, task_backends
from django.utils import timezone
from slack_sdk.errors import SlackApiError, SlackRequestError

from approvals import directory, ledger_reader
from approvals.config_store import current_config
from approvals.team_routing import MembershipUnknown, match_team
from slackbot import workflow
from slackbot.slack_client import background_client

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 6
BASE_DELAY_SECONDS = 5  # 5 s, 10 s, 20 s, 40 s, 80 s: about 2.5 minutes in all


def transient(exc: Exception) -> bool:
    """Faults that a later attempt may not meet."""
    if isinstance(exc, SlackApiError):
        status = getattr(exc.response, "status_code", 200)
        return status == 429 or status >= 500 or exc.response.get("error") in {"ratelimited", "internal_error",
                                                                               "fatal_error", "service_unavailable"}
    return isinstance(exc, (URLError, TimeoutError, ConnectionError, SlackRequestError, OSError))


def run_with_retries(this_task, attempt: int, work, *args, on_give_up=None) -> None:
    """Run `work(*args)`; on a passing fault, enqueue the next attempt with a growing delay.

    When the fault is not passing, or the last attempt fails, `on_give_up(exc, *args)` says so
    to whoever is waiting (it must not raise), and the task fails.
    """
    try:
        work(*args)
    except Exception as exc:
        if not transient(exc) or attempt >= MAX_ATTEMPTS:
            logger.exception("task %s failed for good attempt=%s", this_task.name, attempt)
            if on_give_up is not None:
                try:
                    on_give_up(exc, *args)
                except Exception:
                    logger.exception("task %s could not report giving up", this_task.name)
            raise
        delay = BASE_DELAY_SECONDS * 2 ** (attempt - 1)
        logger.warning("task %s attempt=%s failed (%s); retrying in %ss", this_task.name, attempt,
                       type(exc).__name__, delay)
        enqueue_later(this_task, delay, *args, attempt=attempt + 1)


def enqueue_later(this_task, delay_seconds: float, *args, **kwargs):
    if task_backends[this_task.backend].supports_defer:
        this_task = this_task.using(run_after=timezone.now() + timedelta(seconds=delay_seconds))
    return this_task.enqueue(*args, **kwargs)


@task()
def deliver_request(submission: dict, attempt: int = 1) -> None:
    run_with_retries(
        deliver_request, attempt,
        lambda data: workflow.deliver_request(background_client(), workflow.Submission.from_task_data(data)),
        submission,
        on_give_up=delivery_gave_up,
    )


def error_code(exc: Exception) -> str:
    """Slack's error code, the HTTP status, or the exception's name: what to show a person."""
    if isinstance(exc, SlackApiError):
        return str(exc.response.get("error") or f"http_{getattr(exc.response, 'status_code', '')}")
    return type(exc).__name__


def delivery_gave_up(exc: Exception, data: dict) -> None:
    """The request will not reach its approvers: tell the requester and HR, as for a refused post.

    Slack may still be down, so the team comes from the cache only, and the DM may fail (logged).
    """
    submission = workflow.Submission.from_task_data(data)
    config = current_config()
    channel_members, usergroup_members = workflow.cached_lookups()
    try:
        team = match_team(config, submission.user, channel_members=channel_members,
                          usergroup_members=usergroup_members).team
    except MembershipUnknown:
        team = None
    error = error_code(exc)
    problem = (f"Slack kept failing ({error}), and I gave up after {MAX_ATTEMPTS} tries" if transient(exc)
               else f"sending it failed ({error})")
    for pending_team in ([team] if team else config.teams):  # unknown team: look in every team's set
        ledger_reader.pending_remove(submission.id, team=pending_team.name)
    workflow.report_undelivered(background_client(), submission, config.leave_type(submission.leave_type), team,
                                error, problem=problem)


@task(priority=10)  # an approver is waiting to see the result of their click
def decide_request(decision: dict, attempt: int = 1) -> None:
    run_with_retries(
        decide_request, attempt,
        lambda data: workflow.decide_request(background_client(), workflow.Decision(**data)),
        decision,
        on_give_up=decision_gave_up,
    )


def decision_gave_up(exc: Exception, data: dict) -> None:
    """The approver clicked and waits: say the decision was not recorded, so they click again later."""
    decision = workflow.Decision(**data)
    verb = "approval" if decision.status == workflow.APPROVED else "rejection"
    workflow.post_ephemeral(
        background_client(), decision.channel, decision.approver,
        f"Sorry, I could not record your {verb}: Slack kept failing ({error_code(exc)}). "
        "The request is unchanged; please try again in a few minutes.",
    )


@task(priority=10)
def tell_user(channel: str, user: str, text: str, attempt: int = 1) -> None:
    """An ephemeral note in a channel (a DM when that fails), e.g. 'you are not an approver'."""
    run_with_retries(tell_user, attempt, lambda *a: workflow.post_ephemeral(background_client(), *a),
                     channel, user, text)


@task(priority=-10)
def warm_requester(user: str) -> None:
    """Fill the caches a submission will need (time zone, team memberships), so it validates in-request."""
    from approvals.config_store import current_config

    client = background_client()
    directory.fetch_timezone(client, user)
    config = current_config()
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
