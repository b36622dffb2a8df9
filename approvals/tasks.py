"""Background tasks: thin wrappers that call a service with the background client.

Task arguments are plain JSON. Each task retries passing faults on its own
(`approvals.task_queue.retrying_task`); `*_gave_up` tells whoever is waiting
when a task fails for good.

A task row outlives the release that wrote it (a rolling deploy runs two
releases' workers on one queue): a task, its parameters and the fields of its
`payload` change only in ways the previous release's workers can read, or the
worker hands the row to one that can (README, "Upgrades").
"""

import logging

from approvals import balance_services, ledger_reader, messages, request_services
from approvals.config_store import current_config
from approvals.notifications import followups_lost, once, post_ephemeral, posted_after_all, send_dm, send_dm_once
from approvals.selectors import cached_lookups
from approvals.slack_clients import background_client
from approvals.task_queue import (
    MAX_ATTEMPTS,
    attempts_made,
    error_for_people,
    failure_for_people,
    retry_after_seconds,
    retrying_task,
    transient,
)
from approvals.team_routing import MembershipUnknown, match_team

logger = logging.getLogger(__name__)


def delivery_gave_up(exc: Exception, data: dict) -> None:
    """The request will not reach its approvers: tell the requester and HR, as for a refused post.

    Slack may still be down, so the team comes from the cache only, and the DM may fail (logged).
    A request already in the ledger was delivered: only a follow-up failed, which is recorded for HR.
    """
    submission = request_services.Submission.from_task_data(data)
    if request_services.request_delivered(submission.id):
        followups_lost(request_id=submission.id, user=submission.user, channel="", error=error_for_people(exc),
                       failure=failure_for_people(exc), what="The request")
        return
    # Whatever the last fault was: an earlier attempt's post whose answer was lost may be in the ledger though
    # this attempt met a refusal for good (a look at the channel refused, say).
    maybe_posted = request_services.request_maybe_delivered(submission.id)
    # A post was attempted (its mark is written before it), and what failed may have come after it (the
    # cache refusing to record it, say): the request may be in the ledger although no attempt got as far
    # as marking it delivered. Told "did not reach", the requester would send it a second time.
    attempted = maybe_posted or request_services.request_post_attempted(submission.id)
    config = current_config()
    channel_members, usergroup_members = cached_lookups()
    try:
        team = match_team(config, submission.user, channel_members=channel_members,
                          usergroup_members=usergroup_members).team
    except MembershipUnknown:
        team = None
    error, failure = error_for_people(exc), failure_for_people(exc)
    found = None  # is the request in its approvals channel after all? (None: nobody could look)
    if attempted:
        # Slack's answers to the post were lost, or the attempts failed after it: one last look.
        found = request_services.request_found_posted(background_client(), team, submission.id)
        if found:
            followups_lost(request_id=submission.id, user=submission.user,
                           channel=team.approvals_channel if team else "", error=error, failure=failure,
                           what="The request")
            return
    ledger_reader.pending_remove(submission.id)
    if maybe_posted and found is None:
        request_services.request_report_unconfirmed(background_client(), submission,
                                                    config.leave_type(submission.leave_type), team, error,
                                                    failure=failure)
        return
    # A passing fault says when to try again, as gave_up_text does for approvers: Slack's answer was
    # "not now", and the same request sent in a few minutes goes through.
    problem = (f"{failure}, and I gave up after {attempts_made(exc, MAX_ATTEMPTS)} tries; please send it again in "
               "a few minutes" if transient(exc) else f"sending it failed ({error})")
    request_services.request_report_undelivered(background_client(), submission,
                                                config.leave_type(submission.leave_type), team, error,
                                                problem=problem)


def delivery_skipped(reason: str, data: dict) -> None:
    """The app was uninstalled before this request's task was done: nobody can be told in Slack, but HR
    can see it. A request an earlier attempt posted is in the ledger (only its receipt or notes were left
    unsent), and one whose post was tried may be: neither is listed as never delivered, which would have
    it sent a second time."""
    submission = request_services.Submission.from_task_data(data)
    if request_services.request_delivered(submission.id):
        # Once, however many times the skipped task runs (a row recovered after its worker died).
        once(f"followups-skipped:{submission.id}", lambda: followups_lost(
            request_id=submission.id, user=submission.user, channel="", error=f"skipped: {reason}",
            failure="the app was uninstalled before they were sent", what="The request"))
        return
    config = current_config()
    error = f"skipped: {reason}"
    if request_services.request_post_attempted(submission.id):
        error = f"unconfirmed: {error}"  # as for a post whose answer was lost: look before sending it again
    request_services.record_delivery_problem(submission, config.leave_type(submission.leave_type), None,
                                             channel="", error=error)


@retrying_task(on_give_up=delivery_gave_up, on_access_lost=delivery_skipped,
               payload="approvals.request_services.Submission")
def deliver_request(submission: dict) -> None:
    request_services.request_deliver(background_client(), request_services.Submission.from_task_data(submission))


# Someone waits to hear what became of what they asked, often after another task gave up because Slack
# kept failing for minutes already: keep trying for about 40 minutes, not 2.5.
TELL_ATTEMPTS = 10


def decision_gave_up(exc: Exception, data: dict) -> None:
    """The approver clicked and waits: say the decision was not recorded, so they click again later.

    A decision the ledger already holds was recorded: only a follow-up failed, which is recorded for HR.
    """
    decision = request_services.Decision(**data)
    if request_services.decision_written(decision):
        request_services.decision_settle_later(decision, False)  # what follows it goes out once Slack recovers
        return
    request_services.decision_report_unwritten(background_client(), decision, error_for_people(exc),
                                               failure=failure_for_people(exc), passing=transient(exc))


def settle_decision_gave_up(exc: Exception, data: dict, unconfirmed: bool, run: str = "") -> None:
    decision = request_services.Decision(**data)
    request_services.settle_over(request_services.decision_settling_key(decision))
    request_services.decision_settle_gave_up(decision, unconfirmed, error=error_for_people(exc),
                                             failure=failure_for_people(exc))


# A decision its task gave up on with the write made (or maybe made): looked at again, and what follows it
# sent, while Slack recovers; as long as a person waiting to hear is given (TELL_ATTEMPTS).
@retrying_task(attempts=TELL_ATTEMPTS, on_give_up=settle_decision_gave_up,
               payload="approvals.request_services.Decision")
def settle_decision(decision: dict, unconfirmed: bool, run: str = "") -> None:
    """`run`: names this settle, so that what it tells is said once (a new one for each settle)."""
    settled = request_services.Decision(**decision)
    request_services.decision_settle(background_client(), settled, unconfirmed, run)
    request_services.settle_over(request_services.decision_settling_key(settled))


# priority: an approver is waiting to see their click's result
@retrying_task(priority=10, on_give_up=decision_gave_up, payload="approvals.request_services.Decision")
def decide_request(decision: dict) -> None:
    request_services.request_decide(background_client(), request_services.Decision(**decision))


def tell_gave_up(exc: Exception, channel: str, user: str, text: str, key: str = "") -> None:
    """The ephemeral note kept failing: a DM may still get through (Slack's trouble may be the channel's)."""
    if not channel:
        return
    try:
        if key:
            send_dm_once(background_client(), key, user, text)
        else:
            send_dm(background_client(), user, text)
    except Exception as dm_exc:  # nothing more to try: the log says so
        logger.error("could not tell user=%s by DM either error=%s", user, type(dm_exc).__name__)


@retrying_task(priority=10, attempts=TELL_ATTEMPTS, on_give_up=tell_gave_up)
def tell_user(channel: str, user: str, text: str, key: str = "") -> None:
    """An ephemeral note in a channel (a DM when that fails, or with no channel: a click on App Home),
    e.g. 'you are not an approver'. A DM with a `key` is sent once, though Slack may make it and lose its
    answer (notifications.send_dm_once)."""
    if channel:
        post_ephemeral(background_client(), channel, user, text, key=key)
    elif key:
        send_dm_once(background_client(), key, user, text)
    else:
        send_dm(background_client(), user, text)


def answer_lost(exc: Exception, recipient: str, what: str, again: str, ask: str = "") -> None:
    """A task that DMs an answer someone was promised ("I'll DM you in a moment") failed for good: they are
    told so, and whether asking again may help, rather than left waiting for a DM that will not come.
    `ask`: the asking's name (notifications.send_answer): this DM too is sent once."""
    client = background_client()
    # Its last post may have been made though Slack's answer was lost: a look says whether it is there.
    posted = posted_after_all(client, f"answer:{ask}", channel=recipient) if ask else False
    if posted:
        return
    if posted is None:  # Slack would not say: never "I couldn't" for what they may be reading
        text = messages.answer_maybe_sent_text(what, failure_for_people(exc), again)
    else:
        text = messages.answer_lost_text(what, failure_for_people(exc), passing=transient(exc), again=again)
    request_services.tell_person(client, recipient, text, key=f"answer-lost:{ask}" if ask else "")


def balance_gave_up(exc: Exception, user: str, year: int | None = None, hr: str | None = None,
                    ask: str = "") -> None:
    if hr is None:
        answer_lost(exc, user, "work out your balance", "`/timeoff balance`", ask)
    else:
        answer_lost(exc, hr, f"work out {messages.mention(user)}'s balance",
                    f"`/timeoff for {messages.mention(user)} balance`", ask)


@retrying_task(on_give_up=balance_gave_up)
def send_balance(user: str, year: int | None = None, hr: str | None = None, ask: str = "") -> None:
    """`hr`: HR asked about `user` (`/timeoff for @person balance`): the answer is theirs. `ask`: the
    asking's name, so that its answer is sent once (notifications.send_answer); none in a row of the release
    before."""
    balance_services.balance_send(background_client(), user, year, hr, ask)


def team_out_gave_up(exc: Exception, user: str, team_name: str | None = None, ask: str = "") -> None:
    answer_lost(exc, user, "tell who's out", "`/timeoff who`", ask)


@retrying_task(on_give_up=team_out_gave_up)
def send_team_out(user: str, team_name: str | None = None, ask: str = "") -> None:
    """`/timeoff who [team]` when the cache could not answer (approvals.team_out_services); `ask` as for
    send_balance."""
    from approvals import team_out_services  # it enqueues this task: import when run

    team_out_services.team_out_send(background_client(), user, team_name, ask)


@retrying_task(priority=-10)
def warm_requester(user: str) -> None:
    request_services.requester_warm(background_client(), user)


def change_gave_up(exc: Exception, data: dict) -> None:
    from approvals import change_services

    change_services.change_gave_up(background_client(), change_services.Change(**data), error_for_people(exc),
                                   failure=failure_for_people(exc), passing=transient(exc),
                                   in_flight=isinstance(exc, change_services.RequestInFlight))


@retrying_task(priority=10, on_give_up=change_gave_up, payload="approvals.change_services.Change")
def change_request(change: dict) -> None:
    from approvals import change_services

    change_services.request_change(background_client(), change_services.Change(**change))


def settle_change_gave_up(exc: Exception, data: dict, unconfirmed: bool, run: str = "") -> None:
    from approvals import change_services

    change = change_services.Change(**data)
    request_services.settle_over(change_services.change_settling_key(change))
    change_services.change_settle_gave_up(change, unconfirmed, error=error_for_people(exc),
                                          failure=failure_for_people(exc))


# A change its task gave up on with the rewrite made (or maybe made): looked at again, and its follow-ups
# sent, while Slack recovers; as long as a person waiting to hear is given (TELL_ATTEMPTS).
@retrying_task(attempts=TELL_ATTEMPTS, on_give_up=settle_change_gave_up, payload="approvals.change_services.Change")
def settle_change(change: dict, unconfirmed: bool, run: str = "") -> None:
    from approvals import change_services

    settled = change_services.Change(**change)
    change_services.change_settle(background_client(), settled, unconfirmed, run)
    request_services.settle_over(change_services.change_settling_key(settled))


def settle_edit_gave_up(exc: Exception, submission: dict, by: str, unconfirmed: bool, run: str = "") -> None:
    from approvals import change_services

    settled = request_services.Submission.from_task_data(submission)
    request_services.settle_over(change_services.edit_settling_key(settled))
    change_services.edit_settle_gave_up(settled, by, unconfirmed, error=error_for_people(exc),
                                        failure=failure_for_people(exc))


# As settle_change, for an edit.
@retrying_task(attempts=TELL_ATTEMPTS, on_give_up=settle_edit_gave_up, payload="approvals.request_services.Submission")
def settle_edit(submission: dict, by: str, unconfirmed: bool, run: str = "") -> None:
    from approvals import change_services

    settled = request_services.Submission.from_task_data(submission)
    change_services.edit_settle(background_client(), settled, by, unconfirmed, run)
    request_services.settle_over(change_services.edit_settling_key(settled))


def edit_gave_up(exc: Exception, submission: dict, by: str) -> None:
    from approvals import change_services

    change_services.edit_gave_up(background_client(), request_services.Submission.from_task_data(submission), by,
                                 error_for_people(exc), failure=failure_for_people(exc), passing=transient(exc),
                                 in_flight=isinstance(exc, change_services.RequestInFlight))


@retrying_task(priority=10, on_give_up=edit_gave_up, payload="approvals.request_services.Submission")
def edit_request(submission: dict, by: str) -> None:
    from approvals import change_services

    change_services.request_edit(background_client(), request_services.Submission.from_task_data(submission), by)


def publish_home_gave_up(exc: Exception, user: str, opened: bool = False) -> None:
    from approvals import home_services

    home_services.home_publish_given_up(user)


@retrying_task(priority=-5, on_give_up=publish_home_gave_up)
def publish_home(user: str, opened: bool = False) -> None:
    """`opened`: the person opened App Home just now (and so is one who looks at it)."""
    from approvals import home_services

    if opened:
        home_services.home_seen(user)
    if not home_services.home_publish_started(user, opened=opened):
        return  # opened again moments after a publish of theirs started: it shows the same
    try:
        home_services.home_publish(background_client(), user)
    except Exception as exc:
        home_services.home_publish_failed(user, retried_in=retry_after_seconds(exc) if transient(exc) else None)
        if not transient(exc):
            home_services.home_unseen(user)
        raise


def publish_home_later(users) -> None:
    """Republish App Home for those of `users` who look at it, after something it shows changed."""
    from approvals import home_services

    for user in home_services.home_watchers(set(users)):
        home_services.home_republish(user)


@retrying_task()
def flag_departed_user(user: str) -> None:
    from approvals import people_services

    people_services.departed_user_flag(background_client(), user)


@retrying_task()
def tell_hr_channel_lost(channel: str, how: str, event_id: str) -> None:
    from approvals import channel_services

    channel_services.channel_lost_tell(background_client(), channel, how, event_id)


@retrying_task()
def flag_approver_left(user: str, channel: str, leaving: str) -> None:
    from approvals import people_services

    people_services.approver_left_flag(background_client(), user, channel, leaving)


def leave_list_gave_up(exc: Exception, user: str, only_changeable: bool = False, hr: str | None = None,
                       ask: str = "") -> None:
    if hr is None:
        answer_lost(exc, user, "list your time off", "`/timeoff list`", ask)
    else:  # HR asked about someone: the answer was promised to HR, never to the person
        answer_lost(exc, hr, f"list {messages.mention(user)}'s time off",
                    f"`/timeoff for {messages.mention(user)} list`", ask)


@retrying_task(on_give_up=leave_list_gave_up)
def send_leave_list(user: str, only_changeable: bool = False, hr: str | None = None, ask: str = "") -> None:
    """`/timeoff list` (or HR's `/timeoff for @person list`, DMed to `hr`) when the cache could not answer;
    `ask` as for send_balance."""
    from approvals import change_services

    change_services.leave_list_send(background_client(), user, only_changeable, hr, ask)


def fold_gave_up(exc: Exception, metadata: dict, channel: str, ts: str) -> None:
    """The cached ledger would not take it for as long as a task retries: the ledger's new messages are read
    now, which finds it (best effort: balances show it at the latest with the ledger's next read)."""
    logger.error("adjustment at channel=%s ts=%s not folded into the cached ledger error=%s; reading the "
                 "ledger's new messages instead", channel, ts, error_for_people(exc))
    try:
        ledger_reader.refresh_if_stale(background_client(), current_config())
    except Exception as refresh_exc:  # nothing more to try: the next read finds it
        logger.error("ledger not read again after the adjustment error=%s", error_for_people(refresh_exc))


@retrying_task(priority=-5, on_give_up=fold_gave_up)
def fold_adjustment(metadata: dict, channel: str, ts: str) -> None:
    """An adjustment Slack posted whose folding into the cached ledger failed (the ledger's lock busy, the
    cache blinking): folded in now, so balances show it before the next ledger read, and App Home after."""
    from dataclasses import replace

    from approvals.ledger_format import adjustment_from_metadata

    adjustment = adjustment_from_metadata(metadata)
    if adjustment is None:  # our own metadata: never, unless a release changed its shape
        logger.error("fold_adjustment: not an adjustment's metadata channel=%s ts=%s", channel, ts)
        return
    ledger_reader.record_adjustment(replace(adjustment, channel=channel, ts=ts))
    publish_home_later({adjustment.user})


@retrying_task(priority=-10)
def refresh_slack_directory() -> None:
    """The console's people, channels and user groups by name (approvals.slack_directory)."""
    from approvals import slack_directory  # the two modules refer to each other: import when run

    slack_directory.directory_refresh(background_client())


def job_gave_up(exc: Exception, job: dict) -> None:
    from approvals import job_services
    from approvals.jobs import DueJob

    job_services.job_failed(DueJob.from_task_data(job), exc)


@retrying_task(priority=-5, on_give_up=job_gave_up, payload="approvals.jobs.DueJob")
def run_job(job: dict) -> None:
    """One daily or hourly job (approvals.jobs) its clock claimed; approvals.job_services does the work."""
    from approvals import job_services
    from approvals.jobs import DueJob

    job_services.job_execute(background_client(), DueJob.from_task_data(job))
