"""Telling people things in Slack: DMs, ephemeral notes, announcements, each at most once.

`once(key, effect)` claims the key (`cache.add`, atomic in Redis and in the
database cache) before the effect runs, so two workers running the same task
cannot both send it. Where a crash can still drop or repeat an effect:

- While the effect runs the claim is a lease (`ONCE_LEASE_SECONDS`); once it
  is done, a mark kept 30 days. A process killed after the claim and before
  Slack answered leaves only the lease: its task, requeued once its worker has
  been silent for `TASK_STUCK_AFTER_SECONDS`, finds the lease run out and sends
  the effect then. A post may have reached Slack before the kill: `post_notice`
  notes before posting that it may post, so that attempt looks for the post
  first and does not repeat it. The note stays a day after the post (our cache
  may refuse the done mark), and the mark is written only while the claim is
  still this one (`forget_once` meanwhile: sent anew when next asked).
- An effect that fails with an exception gives its claim back, so the task's
  next attempt sends it.
- Slack may have delivered a message whose answer was lost (a 5xx, a timeout,
  a dropped connection): the claim is given back and the next attempt sends it
  again. A post to a channel, a thread or a person's DM (`post_notice`,
  `send_dm_once`) is not repeated: it carries metadata naming its key, and the
  attempt after such a failure looks for it first (in a DM: with the `im:write`
  and `im:history` scopes). So is a DM that answers what someone asked
  (`send_answer`: their list, their balance, a refusal, an approver's note about
  a press on App Home), named by the asking. An ephemeral note may arrive twice
  (Slack keeps no copy to look in).

A failure of Slack after the ledger holds the request or decision is a
follow-up problem, never a failure of the request (DESIGN §8): permanent errors
are logged and recorded for HR; passing ones are raised so the task retries.
"""

import hashlib
import logging
import time
import uuid
from datetime import datetime
from datetime import time as time_of_day

from django.conf import settings
from django.core.cache import cache
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry.builtin_interval_calculators import BackoffRetryIntervalCalculator

from approvals import directory, job_messages, jobs, ledger_reader, messages, slack_pauses
from approvals.cache_lock import claim_held, release, renew
from approvals.config_store import current_config
from approvals.config_types import LeaveTypeConfig, TeamConfig
from approvals.models import DeliveryProblem
from approvals.rules import APPROVED, LedgerEntry
from approvals.selectors import local_today
from approvals.slack_clients import ledger_post_client
from approvals.task_queue import (
    INFRASTRUCTURE_FAULTS,
    RATE_LIMIT_ERRORS,
    error_code,
    progress_made,
    slack_may_have_acted,
    transient,
)

logger = logging.getLogger(__name__)

ONCE_MARK_SECONDS = 30 * 24 * 60 * 60
# An effect's claim while it runs. It outlasts the slowest effect (three tries of a 15 s call with their
# pauses, a look in the channel, a 429 waited out in the call), and runs out well before what a killed
# worker left is run again: its task requeued (TASK_STUCK_AFTER_SECONDS of silence, 10 minutes by default)
# or its daily job taken over by the next tick (JOB_RUN_STALE_SECONDS, 30 minutes): half of either at most.
ONCE_LEASE_SECONDS = 5 * 60


def once_lease_seconds() -> float:
    return min(ONCE_LEASE_SECONDS, settings.TASK_STUCK_AFTER_SECONDS / 2, settings.JOB_RUN_STALE_SECONDS / 2)


def once(key: str, effect) -> None:
    """Run `effect()` unless it was done, or is being done, for this key; an exception gives the claim back.
    A worker killed while the effect runs leaves only the lease: the task's next run sends it."""
    mark = f"done:{key}"
    token = claim_held(mark, once_lease_seconds())
    if token is None:
        return
    try:
        effect()
    except BaseException:
        release(mark, token)
        raise
    try:
        # The lease becomes the mark only if it is still this claim: one forgotten meanwhile (forget_once: a
        # person deactivated again while we told HR of the last time) is sent anew when next asked.
        renew(mark, token, ONCE_MARK_SECONDS)
    except Exception as exc:  # the effect was made: our cache failing now is no failure of it
        logger.warning("once key=%s done but its mark was not kept (%s); a post of it is looked for, not "
                       "made again", key, error_code(exc))
    progress_made()


def forget_once(*keys: str) -> None:
    """`once` runs these effects again, when next asked: anew, not found in a post made for them before."""
    cache.delete_many([mark for key in keys for mark in (f"done:{key}", _doubt_key(key))])


def send_dm(client: WebClient, user: str, text: str, blocks: list | None = None) -> dict | None:
    """A direct message from the app (posting to a user id opens the DM); none to a deactivated account.
    For an answer to what someone just asked (their list, their balance): a DM sent for a task's effect
    goes through `send_dm_once`, which never sends it twice."""
    if directory.is_deactivated(client, user):
        logger.info("no DM to deactivated user=%s", user)
        return None
    return client.chat_postMessage(channel=user, text=text, **({"blocks": blocks} if blocks else {}))


def send_dm_once(client: WebClient, key: str, user: str, text: str,
                 blocks: list | None = None) -> tuple[str, str] | None:
    """A DM for `key` (a receipt, a decision, a reminder) sent once, though Slack may make it and lose its
    answer (`post_notice` to the user: the retry looks in the DM first). Where it is (DM channel, ts);
    None, and nothing sent, for a deactivated account."""
    if directory.is_deactivated(client, user):
        logger.info("no DM to deactivated user=%s", user)
        return None
    return post_notice(client, key, channel=user, text=text, blocks=blocks)


def send_answer(client: WebClient, ask: str, user: str, text: str, blocks: list | None = None) -> None:
    """The DM answering what someone asked when the cache could not answer at once ("I'll DM you in a
    moment": their list, their balance, who's out). `ask` names that asking (`new_ask()`, made as it was
    asked and kept in the task's arguments): the DM is sent once, though the task runs again or Slack
    makes the post and loses its answer. Without one (a task row of the release before): as any DM."""
    if not ask:
        send_dm(client, user, text, blocks)
        return
    key = f"answer:{ask}"
    once(key, lambda: send_dm_once(client, key, user, text, blocks))


def new_ask() -> str:
    """A name for one asking, for `send_answer`: its task's attempts share it, two askings never do."""
    return uuid.uuid4().hex


def post_ephemeral(client: WebClient, channel: str, user: str, text: str, *, key: str = "") -> None:
    """A note only `user` sees in `channel`; a DM when Slack refuses it there for good (with a `key`: sent
    once, though Slack may make it and lose its answer)."""
    try:
        client.chat_postEphemeral(channel=channel, user=user, text=text)
    except SlackApiError as exc:
        if transient(exc):
            raise
        # The channel may be gone or the user not in it (a DM between colleagues): a DM still reaches them.
        logger.warning("ephemeral failed channel=%s error=%s; sending a DM", channel, exc.response.get("error"))
        if key:
            send_dm_once(client, key, user, text)
        else:
            send_dm(client, user, text)


def over_when_decided(team: TeamConfig, entry: LedgerEntry) -> bool:
    """Was approved `entry` already over on the team's day it was decided or recorded (a sick day HR
    recorded late)? Then `announce` said nothing of it, and a correction would be news of leave the team
    never heard of."""
    try:
        moment = entry.decided_at or float(entry.ts or 0)
    except ValueError:  # a ts that is not Slack's: no day to go by
        return False
    return bool(moment) and entry.end < local_today(team.timezone, now=moment)


def announce(client: WebClient, team: TeamConfig, entry: LedgerEntry, leave_type: LeaveTypeConfig | None) -> None:
    """Approved leave, in the team's announce channel if it has one: once; not once it was changed since
    (cancelled by the time this runs: its canceller's correction is the last word)."""
    if ledger_reader.superseded(entry):
        logger.info("announcement of id=%s skipped: the request changed since", entry.id)
        return
    if entry.end < local_today(team.timezone):
        # Leave recorded after the fact (a sick day HR records late): "will be out" would be untrue.
        logger.info("announcement of id=%s skipped: the leave is over", entry.id)
        return
    if directory.is_deactivated(client, entry.user):
        # Someone who has left the company (approved, or recorded by HR, after their account went): the
        # thread and HR's records keep it; the team is told nothing that would read as their return.
        logger.info("announcement of id=%s skipped: user=%s has left (deactivated)", entry.id, entry.user)
        return
    if team.announce_channel:
        followup_notice(client, f"announce:{entry.id}", channel=team.announce_channel,
                        text=messages.announcement_text(entry, leave_type), entry=entry, what="the announcement")


def remind_if_its_run_passed(client: WebClient, team: TeamConfig, entry: LedgerEntry,
                             leave_type: LeaveTypeConfig | None) -> None:
    """Leave approved (or recorded) after the reminders job's run that would have reminded it, the working
    day before it: the reminder now, once, under the job's own key (never sent twice between them)."""
    if entry.status != APPROVED or ledger_reader.superseded(entry):
        return  # changed since (cancelled before this follow-up ran again): that change's follow-ups tell it
    config = current_config()
    now = datetime.now(jobs.team_zone(team))
    holidays = jobs.team_calendar(config, team, now.date())
    own = ledger_reader.person_view(config, entry.user)  # their other leave, as the cache has it
    first_day = jobs.reminder_run_passed(entry, team, now, time_of_day.fromisoformat(settings.REMINDER_TIME),
                                         holidays, others=own.entries.values() if own is not None else ())
    if first_day is None:
        return
    zone = directory.cached_timezone(entry.user)  # the day as they read it; else the team's
    text = job_messages.reminder_text(entry, leave_type, first_day, local_today(zone) if zone else now.date())
    key = f"reminder:{entry.id}:{entry.start.isoformat()}"
    followup(key, lambda: send_dm_once(client, key, entry.user, text), entry=entry, what="the reminder",
             channel=entry.user)


def followup(key: str, effect, *, entry: LedgerEntry, what: str, channel: str, of_state: bool = False) -> None:
    """A follow-up of a request already in the ledger: sent once; a permanent refusal is told to HR, not raised.
    `of_state`: it tells where the request stands (a receipt, a decision DM), so it is not sent once a later
    writer has changed the request (ledger_reader.superseded): that writer's follow-ups tell the truth."""
    if of_state and ledger_reader.superseded(entry):
        logger.info("%s of id=%s skipped: the request changed since", what, entry.id)
        return
    try:
        once(key, effect)
    except SlackApiError as exc:
        if transient(exc):
            raise
        followup_problem(key, entry, what=what, channel=channel, error=str(exc.response.get("error")))


def followup_notice(client: WebClient, key: str, *, channel: str, text: str, entry: LedgerEntry, what: str,
                    thread_ts: str | None = None) -> None:
    """A follow-up posted to a channel or a thread: `followup` of `post_notice` under the same key."""
    followup(key, lambda: post_notice(client, key, channel=channel, text=text, thread_ts=thread_ts),
             entry=entry, what=what, channel=channel)


# Posts to channels and threads (thread replies, announcements, digests) carry this metadata, naming the
# effect they are for by a hash of its key; not part of the ledger (DESIGN §5), which ignores it.
NOTICE_EVENT_TYPE = "timeoff_notice"
# How far a retry looks for its earlier post: every page since then, up to this many. Slack's pages may
# hold fewer messages than asked (15 at most for apps distributed outside the Marketplace): 50 of them
# are 750 messages of a busy #general.
NOTICE_LOOK_PAGES = 50
# The look starts this long before our own clock said the doubtful post was sent: Slack's clock (its
# message ts) and ours may disagree by a little.
NOTICE_CLOCK_MARGIN_SECONDS = 60


def notice_tag(key: str) -> str:
    """What a notice's metadata says of its key: a hash, since the key names people and requests."""
    return hashlib.sha256(key.encode()).hexdigest()[:32]


# A passing fault of a notice's post (or of the look before it) is met this many times inside one call,
# slack_sdk's backoff apart (as the background client retries its calls), before it is raised and the
# task's next attempt takes over: a DM or thread reply Slack failed for a moment arrives now, not a task
# attempt (5 s to minutes) later.
NOTICE_TRIES_IN_CALL = 3
_notice_backoff = BackoffRetryIntervalCalculator()  # slack_sdk's default: 0.5 s, 1 s, … with jitter


def post_notice(client: WebClient, key: str, *, channel: str, text: str, blocks: list | None = None,
                thread_ts: str | None = None) -> tuple[str, str]:
    """Post to a channel (or a thread in it, or a person's DM: `channel` their user id) once for `key`,
    though Slack may make a post and lose its answer. Where the post is: (channel id, ts).

    The post goes through the client that retries only 429s (`ledger_post_client`): after a 5xx, a
    timeout or a dropped connection Slack may have posted, so the time is noted, and the next try (in
    this call, NOTICE_TRIES_IN_CALL in all, then the task's next attempt) looks in the channel (the
    thread, the DM) since then for our post carrying this key's tag before posting again. `client` does
    the looking. A 429 the client did not wait out, and a refusal, are raised at once.
    """
    for tried in range(1, NOTICE_TRIES_IN_CALL + 1):
        try:
            return _post_notice(client, key, channel=channel, text=text, blocks=blocks, thread_ts=thread_ts)
        except Exception as exc:
            if tried == NOTICE_TRIES_IN_CALL or not _tried_again_in_call(exc):
                raise
            logger.info("notice key=%s channel=%s failed (%s); trying again", key, channel, error_code(exc))
            slack_pauses.wait(_notice_backoff.calculate_sleep_duration(tried - 1))  # on tests' clocks too
    raise AssertionError("unreachable")  # the loop returns or raises


def _tried_again_in_call(exc: BaseException) -> bool:
    """Slack's passing faults (a 5xx, `internal_error`, a timeout, a dropped connection), not a rate limit (a
    429's wait is the client's or the task queue's) nor our own waits or services (the task queue's backoff)."""
    if isinstance(exc, SlackApiError):
        return (transient(exc) and getattr(exc.response, "status_code", 200) != 429
                and exc.response.get("error") not in RATE_LIMIT_ERRORS)  # a rate limit at HTTP 200: no Retry-After
    return slack_may_have_acted(exc) and not isinstance(exc, INFRASTRUCTURE_FAULTS)


def _post_notice(client: WebClient, key: str, *, channel: str, text: str, blocks: list | None,
                 thread_ts: str | None) -> tuple[str, str]:
    tag = notice_tag(key)
    doubt_key = _doubt_key(key)
    since = cache.get(doubt_key)
    if since is not None:
        found = notice_found(client, channel=channel, thread_ts=thread_ts, since=since, tag=tag)
        if found is not None:
            logger.info("notice found already posted key=%s channel=%s", key, channel)
            _posted(doubt_key)
            return found
    if since is None:
        # Noted before the post, not after its failure: a worker killed while Slack makes the post leaves
        # it, and the attempt that runs again looks from here. The first doubt's time: the look starts there.
        cache.add(doubt_key, time.time() - NOTICE_CLOCK_MARGIN_SECONDS, ONCE_MARK_SECONDS)
    try:
        response = ledger_post_client().chat_postMessage(
            channel=channel, text=text, blocks=blocks, thread_ts=thread_ts, unfurl_links=False,
            metadata={"event_type": NOTICE_EVENT_TYPE, "event_payload": {"key": tag}})
    except Exception as exc:
        if since is None and not slack_may_have_acted(exc):
            cache.delete(doubt_key)  # nothing was posted (a 429, a refusal): no look next time
        raise
    _posted(doubt_key)
    if _is_person(channel) and response.get("channel"):
        try:
            cache.set(f"dm-channel:{channel}", response["channel"], DM_CHANNEL_SECONDS)
        except Exception as exc:  # the post is made: only a later look asks Slack for the DM's id again
            logger.warning("DM channel of user=%s not kept (%s)", channel, error_code(exc))
    return response.get("channel") or channel, response.get("ts") or ""


def posted_after_all(client: WebClient, key: str, *, channel: str) -> bool | None:
    """A last look, once a post for `key` has been given up on: True when Slack made it though its answer was
    lost (found), False when it cannot have (no doubt, or not found), None when Slack would not say."""
    since = cache.get(_doubt_key(key))
    if since is None:
        return False
    try:
        return notice_found(client, channel=channel, thread_ts=None, since=since, tag=notice_tag(key)) is not None
    except (SlackClientError, OSError) as exc:
        logger.warning("last look for key=%s failed error=%s", key, error_code(exc))
        return None


# A post's doubt once the post is made (or found): kept a day, past any task's retries, not dropped. An attempt
# after our cache failed to keep `once`'s done mark looks for the post rather than making it again; so does a
# task an effect handed its post to (`tell_person` queues `tell_user` with the key when Slack fails for now:
# the effect returned, and `once` marked it done, while the post may have been made).
POSTED_DOUBT_SECONDS = 24 * 60 * 60


def _posted(doubt_key: str) -> None:
    """The post is made, or found. Our cache failing now is no failure of the post: the doubt stays as it
    was, and costs only a look."""
    try:
        cache.touch(doubt_key, POSTED_DOUBT_SECONDS)
    except Exception as exc:
        logger.warning("post made; its doubt mark %s not shortened (%s)", doubt_key, error_code(exc))


def _doubt_key(key: str) -> str:
    """Since when a post for `key` may have been made though Slack's answer was lost."""
    return f"maybe-notice:{key}"


# A person's DM with the app keeps its id: kept long, so a retry's look rarely asks Slack for it.
DM_CHANNEL_SECONDS = 30 * 24 * 60 * 60


def notice_found(client: WebClient, *, channel: str, thread_ts: str | None, since: float,
                 tag: str) -> tuple[str, str] | None:
    """Our post tagged `tag` in the channel (the thread, the person's DM) since `since`: (channel id, ts),
    or None. A passing fault is raised (the task retries); when Slack refuses for good to show us (a DM
    without the `im:write` and `im:history` scopes of an older install), we cannot know: None, and the
    post is made."""
    bot = directory.fetch_bot_user_id(client)
    oldest = f"{since:.6f}"
    try:
        where = _dm_channel(client, channel) if _is_person(channel) else channel
        if thread_ts:
            pages = client.conversations_replies(channel=where, ts=thread_ts, oldest=oldest, limit=200,
                                                 include_all_metadata=True)
        else:
            pages = client.conversations_history(channel=where, oldest=oldest, limit=100,
                                                 include_all_metadata=True)
        for number, page in enumerate(pages, start=1):
            for message in page.get("messages") or []:
                if _is_notice(message, bot, tag):
                    return where, message["ts"]
            if number >= NOTICE_LOOK_PAGES:
                break
    except SlackApiError as exc:
        if transient(exc):
            raise
        logger.warning("cannot look for an earlier post channel=%s error=%s; posting", channel,
                       exc.response.get("error"))
    return None


def _is_person(channel: str) -> bool:
    """Posting to a user id posts to their DM with the app (channel ids start C, G or D)."""
    return channel[:1] in ("U", "W")


def _dm_channel(client: WebClient, user: str) -> str:
    """The id of `user`'s DM with the app (`conversations.open`, scope `im:write`), kept."""
    known = cache.get(f"dm-channel:{user}")
    if known:
        return known
    opened = client.conversations_open(users=user)["channel"]["id"]
    cache.set(f"dm-channel:{user}", opened, DM_CHANNEL_SECONDS)
    progress_made()  # kept: an attempt that fails after this got further than the one before
    return opened


def _is_notice(message: dict, bot: str | None, tag: str) -> bool:
    metadata = message.get("metadata")
    return (bot is not None and message.get("user") == bot and isinstance(metadata, dict)
            and metadata.get("event_type") == NOTICE_EVENT_TYPE
            and (metadata.get("event_payload") or {}).get("key") == tag)


def record_problem(*, request_id: str, user: str, channel: str, error: str, summary: str, team: str = "") -> None:
    """Something a person asked for was refused by Slack for good: a log line and a row HR sees."""
    logger.error("refused for good id=%s user=%s channel=%s error=%s", request_id, user, channel, error)
    _problem_row(request_id=request_id, user=user, team=team, channel=channel, error=error, summary=summary)


def followup_problem(key: str, entry: LedgerEntry, *, what: str, channel: str, error: str) -> None:
    """Slack refused a follow-up for good: a log line and a row HR sees beside delivery problems, once."""

    def record() -> None:
        logger.error("follow-up failed id=%s user=%s what=%s channel=%s error=%s", entry.id, entry.user, what,
                     channel, error)
        _problem_row(request_id=entry.id, user=entry.user, team=entry.team, channel=channel, error=error,
                     summary=f"The request is {entry.status} in the ledger, but {what} failed.")

    once(f"followup-problem:{key}", record)


def followups_lost(*, request_id: str, user: str, channel: str, error: str, failure: str, what: str) -> None:
    """`what` is in the ledger, but the task sending its follow-ups (the thread reply, the DMs, the
    announcement) gave up with some of them unsent (`failure`: why, `task_queue.failure_for_people`). A
    success is not reported as a failure, nor the lost follow-ups as nothing (DESIGN §8): a log line and a
    row HR sees."""
    logger.error("follow-ups failed for good id=%s user=%s error=%s", request_id, user, error)
    _problem_row(request_id=request_id, user=user, team="", channel=channel, error=f"follow-ups: {error}",
                 summary=f"{what} is in the ledger, but not all of its follow-ups (the thread reply, the DMs, "
                         f"the announcement) could be sent: {failure}.")


def _problem_row(*, request_id: str, user: str, team: str, channel: str, error: str, summary: str) -> None:
    DeliveryProblem.record(request_id=request_id, user=user, team=team, channel=channel, error=error, summary=summary)


RECEIPT_LOCATION_SECONDS = 400 * 24 * 60 * 60  # past the leave year: the receipt's buttons work as long


def send_receipt(client: WebClient, entry: LedgerEntry, leave_type: LeaveTypeConfig | None, approvers, *,
                 key: str = "") -> None:
    """The receipt DM with its buttons (edit, withdraw, cancel); rewritten in place once we know where it is.
    `key`: the follow-up it is sent for, so that it is sent once though Slack makes it and loses its answer
    (`send_dm_once`); without one (a caller of the release before), as any DM."""
    text = messages.receipt_text(entry, leave_type, approvers)
    blocks = messages.receipt_blocks(entry, leave_type, approvers)
    where = cache.get(f"receipt-at:{entry.id}")
    if where:
        client.chat_update(channel=where[0], ts=where[1], text=text, blocks=blocks)
        return
    if key:
        where = send_dm_once(client, key, entry.user, text, blocks)
    else:
        response = send_dm(client, entry.user, text, blocks)
        where = (response["channel"], response["ts"]) if response is not None else None
    if where is not None:
        cache.set(f"receipt-at:{entry.id}", where, RECEIPT_LOCATION_SECONDS)


def _receipt_found(client: WebClient, entry: LedgerEntry) -> tuple[str, str] | tuple[()]:
    """Where the receipt is when the cache forgot (emptied since it was sent, days ago): looked for in the
    person's DM by its notice tag, since the request was posted, and kept; () (kept too, so that it is looked
    for once) when it is not found, or Slack will not show the DM."""
    if not entry.ts:
        return ()
    try:
        since = float(entry.ts)
    except ValueError:
        return ()
    where = notice_found(client, channel=entry.user, thread_ts=None, since=since,
                         tag=notice_tag(f"receipt:{entry.id}")) or ()
    cache.set(f"receipt-at:{entry.id}", where, RECEIPT_LOCATION_SECONDS)
    return where


def receipt_update(client: WebClient, entry: LedgerEntry, leave_type: LeaveTypeConfig | None, approvers=()) -> None:
    """After a decision or a withdrawal or cancellation: the receipt says so, with the buttons that now
    apply (Cancel leave on approved leave, none once rejected or cancelled). Only a receipt we know the
    place of is rewritten; none is posted anew (the decision has its own DM). Slack refusing the rewrite
    for good (the DM gone) is logged: the ledger and the decision DM say it all the same."""
    where = cache.get(f"receipt-at:{entry.id}")
    if where is None:
        where = _receipt_found(client, entry)
    if not where:
        return
    try:
        client.chat_update(channel=where[0], ts=where[1], text=messages.receipt_text(entry, leave_type, approvers),
                           blocks=messages.receipt_blocks(entry, leave_type, approvers))
    except SlackApiError as exc:
        if transient(exc):
            raise
        logger.warning("receipt of id=%s not rewritten error=%s", entry.id, exc.response.get("error"))
