"""A burst of posts meets Slack's posting limits, and nothing is lost, doubled or told as a failure.

Slack limits `chat.postMessage` to about one message a second per channel, with short bursts allowed
(https://docs.slack.dev/apis/web-api/rate-limits, "special" tier); `chat.update` and
`conversations.history` are Tier 3 (about 50 a minute), `views.*` Tier 4. Past a limit Slack answers
HTTP 429 with `Retry-After` (whole seconds) and `{"ok": false, "error": "ratelimited"}`, and posts
nothing; the same error can also come back with HTTP 200 and no header.

Here Slack is played that way on a simulated clock (test_support.simulated_time): the fake Slack enforces
its tiers, every channel takes a burst of a few posts and then one a second (a post past that is
answered 429 with the seconds until the next one is free), and on top of that, for a while, posts to one
place are answered 429 with a fixed Retry-After (1, 2, 30 or 120 s), as Slack does on a busy morning.

What people are promised (README, "When things go wrong"; DESIGN §2.4 and §8):
- a 429 with a short Retry-After (10 s or less) is waited out inside the call; a longer one ends the
  attempt and the task's next attempt comes no sooner than Slack said;
- every request reaches its approvals channel exactly once, and its requester gets one receipt; nobody
  is told it failed while it is only waiting, and HR records no delivery problem;
- each decision is written once, its thread reply, DM and announcement sent once each;
- `ratelimited` is a passing fault whatever the HTTP status: retried later, never a refusal;
- the morning jobs post and DM once each and mark themselves done, after a later tick if need be.
"""

import json
import math
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from datetime import time as dt_time
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core.management.base import CommandError

from approvals import block_ids as ids
from approvals.models import DeliveryProblem, JobRun
from approvals.rules import LedgerEntry
from fake_slack.personas import BOB, C_ENG, C_ENG_APPROVALS, DAVE, HR
from test_support.flows import ALICE, ENGINEERING, install_config, request_values, standard_config
from test_support.job_runs import post_entry, run_jobs
from test_support.simulated_time import Clock, simulated_clock, work_through_the_queue
from test_support.slack_requests import block_actions_payload, post_command, post_interaction, view_submission_payload

pytestmark = pytest.mark.django_db

LA = ZoneInfo("America/Los_Angeles")
# A Monday well ahead (clear of US/CA holidays): the week people ask for.
NEXT_MONDAY = date(2031, 3, 10)
NEXT_FRIDAY = date(2031, 3, 14)
CROWD = [f"U_P{n:02d}" for n in range(1, 21)]  # twenty people of Engineering
# Slack lets a channel take a few posts at once, then about one a second.
CHANNEL_BURST = 3
POSTS_PER_SECOND = 1.0
# Words that tell a person their request or click did not go through.
FAILURE_WORDS = ("did not reach", "could not confirm", "couldn't", "could not", "Slack kept failing",
                 "Slack refused", "send it again", "try again", "gave up", ":warning:")


# --- Slack at its limits -------------------------------------------------------------------------------


@dataclass
class Received:
    at: float  # seconds, on the test's clock
    method: str
    channel: str
    thread_ts: str
    about: str  # the request id or notice tag in the call's metadata, else its text
    status: int
    error: str
    retry_after: int | None


@dataclass
class Storm:
    """While it lasts, calls it matches are answered `ratelimited`: HTTP 429 with `Retry-After`, or (`http_200`)
    HTTP 200 without the header."""
    matches: object  # (method, params) -> bool
    retry_after: int
    seconds: float | None = None  # from the first call it meets; None: `times` calls
    times: int | None = None
    http_200: bool = False
    began: float | None = None
    met: int = 0

    def active(self, now: float) -> bool:
        if self.times is not None:
            return self.met < self.times
        return self.began is None or now < self.began + self.seconds


def _about(params: dict) -> str:
    metadata = params.get("metadata")
    if isinstance(metadata, str):
        try:
            metadata = json.loads(metadata)
        except ValueError:
            metadata = None
    payload = ((metadata or {}).get("event_payload") or {}) if isinstance(metadata, dict) else {}
    return str(payload.get("id") or payload.get("key") or params.get("text") or "")


class SlackAtItsLimits:
    """The fake Slack answering as Slack does under load: its tiers enforced on `now`, each channel's posts
    limited to a burst then one a second, and the storms added with `storm`. Every call is recorded."""

    def __init__(self, fake_slack, now):
        self.fake_slack, self.now = fake_slack, now
        self.storms: list[Storm] = []
        self.received: list[Received] = []
        self._buckets: dict[str, tuple[float, float]] = {}  # channel -> (posts free, when last counted)

    def __enter__(self):
        self.fake_slack.enforce_rate_limits(clock=self.now)
        real_handle = self.fake_slack.handle

        def handle(method, params, headers):
            now = self.now()
            answer = self._storm_answer(method, params, now)
            if answer is None and method == "chat.postMessage":
                answer = self._channel_answer(str(params.get("channel") or ""), now)
            if answer is None:
                answer = real_handle(method, params, headers)
            status, extra, body = answer
            retry_after = extra.get("Retry-After")
            self.received.append(Received(
                now, method, str(params.get("channel") or ""), str(params.get("thread_ts") or ""),
                _about(params), status, str(body.get("error") or "") if isinstance(body, dict) else "",
                int(retry_after) if retry_after is not None else None))
            return answer

        self.fake_slack.handle = handle
        return self

    def __exit__(self, *exc):
        del self.fake_slack.handle
        self.fake_slack.rate_limits_off()

    def storm(self, matches, retry_after: int = 1, *, seconds: float | None = None, times: int | None = None,
              http_200: bool = False) -> Storm:
        storm = Storm(matches, retry_after, seconds, times, http_200)
        self.storms.append(storm)
        return storm

    def _storm_answer(self, method, params, now):
        for storm in self.storms:
            if storm.matches(method, params) and storm.active(now):
                storm.began = now if storm.began is None else storm.began
                storm.met += 1
                if storm.http_200:
                    return 200, {}, {"ok": False, "error": "ratelimited"}
                return 429, {"Retry-After": str(storm.retry_after)}, {"ok": False, "error": "ratelimited"}
        return None

    def _channel_answer(self, channel: str, now: float):
        """About one post a second per channel, after a short burst; the post past it is answered 429 and
        not counted."""
        free, counted = self._buckets.get(channel, (float(CHANNEL_BURST), now))
        free = min(float(CHANNEL_BURST), free + (now - counted) * POSTS_PER_SECOND)
        if free >= 1:
            self._buckets[channel] = (free - 1, now)
            return None
        self._buckets[channel] = (free, now)
        wait = max(1, math.ceil((1 - free) / POSTS_PER_SECOND))
        return 429, {"Retry-After": str(wait)}, {"ok": False, "error": "ratelimited"}

    # What Slack saw.

    def limited(self, method: str = "chat.postMessage", channel: str | None = None) -> list[Received]:
        return [r for r in self.received if r.error == "ratelimited" and r.method == method
                and (channel is None or r.channel == channel)]

    def too_soon(self) -> list[tuple[Received, Received]]:
        """Calls made again, for the same thing in the same place, before the Retry-After of a 429 it met."""
        early = []
        for index, limited in enumerate(self.received):
            if limited.status != 429 or not limited.retry_after:
                continue
            for later in self.received[index + 1:]:
                if (later.method, later.channel, later.thread_ts, later.about) == (
                        limited.method, limited.channel, limited.thread_ts, limited.about):
                    if later.at < limited.at + limited.retry_after - 0.001:
                        early.append((limited, later))
                    break
        return early


def posts_to(channel: str, *, replies: bool | None = None):
    """A storm's matcher: posts to `channel` (`replies`: only thread replies, or only top-level posts)."""
    def matches(method, params):
        if method != "chat.postMessage" or params.get("channel") != channel:
            return False
        return replies is None or bool(params.get("thread_ts")) == replies
    return matches


def request_posts(method, params):
    """Posts of a request to Engineering's approvals channel (not its thread replies)."""
    return posts_to(C_ENG_APPROVALS, replies=False)(method, params)


# --- Time ----------------------------------------------------------------------------------------------


@pytest.fixture
def clock(monkeypatch, settings) -> Clock:
    return simulated_clock(monkeypatch, settings, ledger_reads=True, jobs=True)


@pytest.fixture
def slack(fake_slack, clock):
    with SlackAtItsLimits(fake_slack, clock.monotonic) as limits:
        yield limits


# --- People and what they see -----------------------------------------------------------------------------


def add_the_crowd(fake_slack) -> None:
    for number, user in enumerate(CROWD, start=1):
        fake_slack.workspace.add_user(user, f"person{number}", tz="America/Los_Angeles",
                                      email=f"person{number}@example.com", real_name=f"Person {number}")
        fake_slack.workspace.channels[C_ENG].members.add(user)


def serving_slack(clock: Clock, send):
    """One of Slack's HTTP requests to us (a wait for Retry-After inside it would be recorded as such)."""
    clock.serving_slack = True
    try:
        return send()
    finally:
        clock.serving_slack = False


def ask_for_time_off(client, fake_slack, clock: Clock, user: str, start: date, end: date, n: int) -> None:
    """`/timeoff`, then the form sent as Slack sends it."""
    response = serving_slack(clock, lambda: post_command(client, "", user_id=user))
    assert response.status_code == 200 and response.content == b"", (user, response.content)
    view = fake_slack.last_call("views.open").params["view"]
    payload = view_submission_payload(user_id=user, view=view, values=request_values("vacation", start, end),
                                      view_id=f"V_BURST{n}", view_hash=f"1766000000.burst{n}")
    response = serving_slack(clock, lambda: post_interaction(client, payload))
    assert response.status_code == 200, (user, response.content)
    assert response.content == b"", (user, response.content)  # the form closes: sent


def requests_in_ledger(fake_slack) -> list:
    return [m for m in fake_slack.workspace.messages(C_ENG_APPROVALS)
            if (m.metadata or {}).get("event_type") == "timeoff_request"]


def requests_of(fake_slack, user: str) -> list:
    return [m for m in requests_in_ledger(fake_slack) if m.metadata["event_payload"]["user"] == user]


def dms(fake_slack, user: str) -> list[str]:
    return [m.text for m in fake_slack.workspace.messages(user)]


def receipts(fake_slack, user: str) -> list[str]:
    return [t for t in dms(fake_slack, user) if "Your request for" in t and " is with " in t]


def told_it_failed(fake_slack, user: str) -> list[str]:
    """Whatever `user` was told, by DM or ephemeral message, that says something did not go through."""
    ephemerals = [e.text for e in fake_slack.workspace.ephemerals if e.user == user]
    return [t for t in dms(fake_slack, user) + ephemerals if any(word in t for word in FAILURE_WORDS)]


def thread_replies(fake_slack, message) -> list[str]:
    return [m.text for m in fake_slack.workspace.replies(C_ENG_APPROVALS, message.ts) if m.ts != message.ts]


def nothing_waited_inside_slacks_requests(clock: Clock) -> bool:
    return not [seconds for seconds, serving in clock.sleeps if serving]


# --- 1. Twenty requests in a few seconds, the approvals channel answering 429 ----------------------------


def a_crowd_asks(client, fake_slack, clock: Clock) -> dict[str, tuple[date, date]]:
    """Twenty people ask for a day or two each, one after the other within a few seconds."""
    asked = {}
    for n, user in enumerate(CROWD):
        start = NEXT_MONDAY + timedelta(days=n % 5)
        end = start + timedelta(days=n % 2) if start.weekday() < 4 else start
        ask_for_time_off(client, fake_slack, clock, user, start, end, n)
        asked[user] = (start, end)
    return asked


@pytest.mark.parametrize("retry_after", [1, 2, 30])
def test_it_posts_each_of_twenty_requests_once_while_the_approvals_channel_answers_429(
        client, fake_slack, clock, slack, retry_after):
    install_config()
    add_the_crowd(fake_slack)
    slack.storm(request_posts, retry_after, seconds=40)

    asked = a_crowd_asks(client, fake_slack, clock)
    work_through_the_queue(clock)

    assert slack.limited(channel=C_ENG_APPROVALS), "Slack never limited the approvals channel"
    assert {r.retry_after for r in slack.limited(channel=C_ENG_APPROVALS)} >= {retry_after}
    ledger = requests_in_ledger(fake_slack)
    assert len(ledger) == len(CROWD), [m.metadata["event_payload"]["user"] for m in ledger]
    for user, (start, end) in asked.items():
        [message] = requests_of(fake_slack, user)
        payload = message.metadata["event_payload"]
        assert (payload["start"], payload["end"], payload["status"]) == (start.isoformat(), end.isoformat(),
                                                                         "pending"), (user, payload)
        assert len(receipts(fake_slack, user)) == 1, (user, dms(fake_slack, user))
        assert told_it_failed(fake_slack, user) == [], user
    assert DeliveryProblem.objects.count() == 0, list(DeliveryProblem.objects.values("error", "summary"))
    assert slack.too_soon() == [], [(a.method, a.channel, a.retry_after, round(b.at - a.at, 2))
                                    for a, b in slack.too_soon()][:5]
    assert nothing_waited_inside_slacks_requests(clock)


# --- 2. Ten approvals in a row, the announce channel and the threads answering 429 -------------------------


def click_approve(client, clock: Clock, approver: str, message):
    actions = next(b for b in message.blocks if b.get("type") == "actions")
    value = next(b["value"] for b in actions["elements"] if b["action_id"] == ids.APPROVE_ACTION)
    payload = block_actions_payload(user_id=approver, action_id=ids.APPROVE_ACTION, value=value,
                                    channel_id=message.channel, message_ts=message.ts, block_id=ids.DECISION_BLOCK)
    response = serving_slack(clock, lambda: post_interaction(client, payload))
    assert response.status_code == 200, response.content
    return response


def decision_dms(fake_slack, user: str) -> list[str]:
    return [t for t in dms(fake_slack, user) if "approved your :palm_tree:" in t]


def announcements_of(fake_slack, user: str) -> list[str]:
    return [m.text for m in fake_slack.workspace.messages(C_ENG) if f"<@{user}>" in m.text]


@pytest.mark.parametrize(("reply_retry_after", "announce_retry_after"), [(1, 2), (3, 30), (30, 30)])
def test_it_sends_each_thread_reply_and_announcement_once_when_ten_quick_approvals_meet_429s(
        client, fake_slack, clock, slack, reply_retry_after, announce_retry_after):
    install_config()
    add_the_crowd(fake_slack)
    asking = CROWD[:10]
    for n, user in enumerate(asking):
        ask_for_time_off(client, fake_slack, clock, user, NEXT_MONDAY, NEXT_FRIDAY, n)
    work_through_the_queue(clock)
    pending = [requests_of(fake_slack, user)[0] for user in asking]
    assert len(pending) == 10
    slack.storm(posts_to(C_ENG_APPROVALS, replies=True), reply_retry_after, seconds=30)
    slack.storm(posts_to(C_ENG), announce_retry_after, seconds=45)
    slack.received.clear()

    for message in pending:  # Bob goes down the channel, Approve after Approve
        click_approve(client, clock, BOB, message)
    work_through_the_queue(clock)

    assert slack.limited(channel=C_ENG), "Slack never limited the announce channel"
    assert [r for r in slack.limited(channel=C_ENG_APPROVALS) if r.thread_ts], "Slack never limited the threads"
    for user, asked in zip(asking, pending):
        [message] = requests_of(fake_slack, user)
        payload = message.metadata["event_payload"]
        assert (payload["id"], payload["status"], payload["decided_by"]) == (
            asked.metadata["event_payload"]["id"], "approved", BOB), (user, payload)
        assert thread_replies(fake_slack, message) == [f"Approved by <@{BOB}>"], user
        assert len(announcements_of(fake_slack, user)) == 1, (user, announcements_of(fake_slack, user))
        assert len(decision_dms(fake_slack, user)) == 1, (user, dms(fake_slack, user))
        assert told_it_failed(fake_slack, user) == [], user
    assert told_it_failed(fake_slack, BOB) == []
    assert DeliveryProblem.objects.count() == 0, list(DeliveryProblem.objects.values("error", "summary"))
    assert len(requests_in_ledger(fake_slack)) == 10  # nothing posted anew
    assert slack.too_soon() == [], [(a.channel, a.thread_ts, a.retry_after, round(b.at - a.at, 2))
                                    for a, b in slack.too_soon()][:5]
    assert nothing_waited_inside_slacks_requests(clock)


# --- 3. A Retry-After longer than the app waits inside a call ---------------------------------------------


@pytest.mark.parametrize("storm_seconds", [120, 300])
def test_it_delivers_a_request_later_when_the_approvals_channel_says_retry_after_120(
        client, fake_slack, clock, slack, storm_seconds):
    # Slack says "not for two minutes" (for one Retry-After, or again and again for five minutes): the
    # delivery is not held inside a call (README: up to 10 s), nor given up; it waits as a queued row
    # and posts when Slack said, and Alice hears nothing but her receipt.
    install_config()
    slack.storm(request_posts, 120, seconds=storm_seconds)

    ask_for_time_off(client, fake_slack, clock, ALICE, NEXT_MONDAY, NEXT_FRIDAY, 1)
    started = clock.monotonic()
    work_through_the_queue(clock, until=started + 100)

    [first] = slack.limited(channel=C_ENG_APPROVALS)
    assert first.retry_after == 120
    assert requests_in_ledger(fake_slack) == []  # still waiting, as Slack asked
    assert told_it_failed(fake_slack, ALICE) == []
    assert DeliveryProblem.objects.count() == 0
    assert max((seconds for seconds, _ in clock.sleeps), default=0) <= 10, clock.sleeps  # no worker asleep for 2 min
    # Meanwhile Alice looks: her request is listed as pending (README: "A request still being sent … is
    # listed already"), not as lost.
    listed = serving_slack(clock, lambda: post_command(client, "list", user_id=ALICE))
    assert listed.status_code == 200
    answer = listed.json()
    assert answer["text"].startswith("Your time off: 1 pending"), answer["text"]
    assert "Mon 10 Mar 2031 \u2013 Fri 14 Mar 2031" in json.dumps(answer["blocks"], ensure_ascii=False), answer["blocks"]

    work_through_the_queue(clock)

    [message] = requests_of(fake_slack, ALICE)
    assert message.metadata["event_payload"]["status"] == "pending"
    [posted] = [r for r in slack.received if r.method == "chat.postMessage" and r.channel == C_ENG_APPROVALS
                and r.status == 200]
    assert posted.at >= first.at + storm_seconds - 0.001  # it came when Slack took it, not before
    assert len(receipts(fake_slack, ALICE)) == 1, dms(fake_slack, ALICE)
    assert told_it_failed(fake_slack, ALICE) == [], told_it_failed(fake_slack, ALICE)
    assert DeliveryProblem.objects.count() == 0
    assert slack.too_soon() == [], [(a.retry_after, round(b.at - a.at, 2)) for a, b in slack.too_soon()]


# --- 4. `ratelimited` with HTTP 200 and no Retry-After ----------------------------------------------------


def calls_of(method: str, **where):
    def matches(called, params):
        return called == method and all(params.get(name) == value for name, value in where.items())
    return matches


def test_it_delivers_a_request_whose_post_slack_answers_ratelimited_at_http_200(client, fake_slack, clock, slack):
    install_config()
    # Each as often as six attempts, counted as README says, can take: the member look-up and the post
    # (attempts that got no further), then the receipt (after the post: further).
    members = slack.storm(calls_of("conversations.members"), times=1, http_200=True)
    posts = slack.storm(request_posts, times=3, http_200=True)
    receipt = slack.storm(calls_of("chat.postMessage", channel=ALICE), times=2, http_200=True)

    ask_for_time_off(client, fake_slack, clock, ALICE, NEXT_MONDAY, NEXT_FRIDAY, 1)
    work_through_the_queue(clock)

    assert (members.met, posts.met, receipt.met) == (1, 3, 2)
    [message] = requests_of(fake_slack, ALICE)
    assert message.metadata["event_payload"]["status"] == "pending"
    assert len(receipts(fake_slack, ALICE)) == 1, dms(fake_slack, ALICE)
    assert told_it_failed(fake_slack, ALICE) == [], told_it_failed(fake_slack, ALICE)
    assert DeliveryProblem.objects.count() == 0, list(DeliveryProblem.objects.values("error", "summary"))
    # Slack answered: it posted nothing, so no retry spends Tier 3 history calls looking for that post.
    refused = [r.at for r in slack.limited(channel=C_ENG_APPROVALS)]
    [posted] = [r.at for r in slack.received if r.method == "chat.postMessage" and r.channel == C_ENG_APPROVALS
                and r.status == 200 and not r.error]
    looked = [r for r in slack.received if r.method == "conversations.history" and min(refused) < r.at < posted]
    assert looked == [], len(looked)


def test_it_applies_a_decision_whose_calls_slack_answers_ratelimited_at_http_200(client, fake_slack, clock, slack):
    install_config()
    ask_for_time_off(client, fake_slack, clock, ALICE, NEXT_MONDAY, NEXT_FRIDAY, 1)
    work_through_the_queue(clock)
    [pending] = requests_of(fake_slack, ALICE)
    # The re-read under the lock and the rewrite (attempts that got no further), then each follow-up once
    # (README: "a decision whose thread reply, DMs and announcement each meet one passing fault still sends
    # them all").
    storms = [
        slack.storm(calls_of("conversations.history", channel=C_ENG_APPROVALS), times=1, http_200=True),
        slack.storm(calls_of("chat.update", channel=C_ENG_APPROVALS), times=2, http_200=True),
        slack.storm(posts_to(C_ENG_APPROVALS, replies=True), times=1, http_200=True),
        slack.storm(calls_of("chat.postMessage", channel=ALICE), times=1, http_200=True),
        slack.storm(posts_to(C_ENG), times=1, http_200=True),
    ]

    click_approve(client, clock, BOB, pending)
    work_through_the_queue(clock)

    assert [storm.met for storm in storms] == [1, 2, 1, 1, 1]
    [message] = requests_of(fake_slack, ALICE)
    payload = message.metadata["event_payload"]
    assert (payload["status"], payload["decided_by"]) == ("approved", BOB)
    assert thread_replies(fake_slack, message) == [f"Approved by <@{BOB}>"]
    assert len(decision_dms(fake_slack, ALICE)) == 1, dms(fake_slack, ALICE)
    assert len(announcements_of(fake_slack, ALICE)) == 1
    assert told_it_failed(fake_slack, ALICE) == [] and told_it_failed(fake_slack, BOB) == []
    assert DeliveryProblem.objects.count() == 0, list(DeliveryProblem.objects.values("error", "summary"))


def test_it_accepts_and_delivers_a_request_while_member_look_ups_answer_ratelimited_at_http_200(
        client, fake_slack, clock, slack):
    # Who is in which team is read from Slack (conversations.members, Tier 4). For a minute Slack answers
    # `ratelimited` with HTTP 200: membership is unknown for now, never "no team is configured for you".
    install_config()
    members = slack.storm(calls_of("conversations.members"), seconds=60, http_200=True)

    ask_for_time_off(client, fake_slack, clock, ALICE, NEXT_MONDAY, NEXT_FRIDAY, 1)
    work_through_the_queue(clock)

    assert members.met >= 2
    [message] = requests_of(fake_slack, ALICE)
    assert message.metadata["event_payload"]["team"] == "Engineering"
    assert len(receipts(fake_slack, ALICE)) == 1, dms(fake_slack, ALICE)
    assert [t for t in dms(fake_slack, ALICE) if "no team" in t] == []
    assert told_it_failed(fake_slack, ALICE) == []
    assert DeliveryProblem.objects.count() == 0


@pytest.mark.parametrize("answer", ["429", "http_200"])
def test_it_asks_the_person_to_wait_a_minute_when_slack_rate_limits_opening_the_form(
        client, fake_slack, clock, slack, answer):
    install_config()
    slack.storm(calls_of("views.open"), 30, times=1, http_200=answer == "http_200")

    response = serving_slack(clock, lambda: post_command(client, "", user_id=ALICE))

    assert response.status_code == 200
    text = response.json()["text"]
    assert "wait a minute" in text and "/timeoff" in text, text
    assert "will not help" not in text and "tell whoever" not in text.lower(), text
    # One try inside Slack's 3 s: nothing retried or waited out.
    assert len([r for r in slack.received if r.method == "views.open"]) == 1
    assert nothing_waited_inside_slacks_requests(clock)


# --- 5. The morning jobs on a day of 429s -------------------------------------------------------------------


def approved(user: str, start: date, end: date) -> LedgerEntry:
    return LedgerEntry(id=f"{user}-{start}", user=user, team="Engineering", leave_type="vacation", start=start,
                       end=end, start_half=None, end_half=None, days=Decimal(len(
                           [d for d in range((end - start).days + 1) if (start + timedelta(days=d)).weekday() < 5])),
                       status="approved", decided_by=BOB if user != BOB else HR)


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=LA)


def tick(clock: Clock, moment: datetime) -> str:
    """The clock's tick at `moment` (`run_jobs --at`), a minute of simulated time after the one before."""
    clock.move_on(60)
    try:
        return run_jobs(moment, "--team", "Engineering")
    except CommandError as failed:  # the tick reports a failed job (for cron); a later one retries it
        return str(failed)


def reminders_to(fake_slack, user: str) -> list[str]:
    return [t for t in dms(fake_slack, user) if t.startswith(":wave: A reminder")]


def channel_posts(fake_slack, start: str) -> list[str]:
    return [m.text for m in fake_slack.workspace.messages(C_ENG) if m.text.startswith(start)]


@pytest.mark.parametrize(("retry_after", "storm_seconds"), [(2, 5), (2, 25), (30, 25), (90, 25)])
def test_it_sends_each_morning_post_and_reminder_once_on_a_day_of_429s(
        fake_slack, clock, slack, retry_after, storm_seconds):
    # Slack limits every post and DM for a few seconds (waited out inside the call: done at the first tick)
    # or longer (the job fails on a passing fault and a later tick, no sooner than Retry-After, finishes it).
    install_config(standard_config(teams=(replace(ENGINEERING, digest_time=dt_time(9, 0)),)))
    post_entry(fake_slack, approved(DAVE, NEXT_MONDAY, NEXT_MONDAY))
    post_entry(fake_slack, approved(ALICE, NEXT_MONDAY + timedelta(days=1), NEXT_MONDAY + timedelta(days=2)))
    post_entry(fake_slack, approved(BOB, NEXT_MONDAY + timedelta(days=2), NEXT_MONDAY + timedelta(days=2)))
    friday = NEXT_MONDAY - timedelta(days=3)

    def busy_half_minute():  # every post and DM answered 429 for the next seconds from the first
        return slack.storm(lambda method, params: method == "chat.postMessage", retry_after, seconds=storm_seconds)

    storms = []
    for moment in (at(friday, 15), at(NEXT_MONDAY, 9), at(NEXT_MONDAY, 15), at(NEXT_MONDAY + timedelta(days=1), 9)):
        storms.append(busy_half_minute())
        for minutes in range(0, 6):  # the clock ticks every minute after the job's time
            tick(clock, moment + timedelta(minutes=minutes))

    assert all(storm.met for storm in storms), [storm.met for storm in storms]
    assert len(reminders_to(fake_slack, DAVE)) == 1, dms(fake_slack, DAVE)  # Friday: Dave is off on Monday
    assert len(reminders_to(fake_slack, ALICE)) == 1, dms(fake_slack, ALICE)  # Monday: Alice from Tuesday
    assert reminders_to(fake_slack, BOB) == [], dms(fake_slack, BOB)  # Tuesday's reminders are not due yet
    digests = channel_posts(fake_slack, ":calendar: Who's out")
    assert len(digests) == 1, digests
    assert all(f"<@{user}>" in digests[0] for user in (DAVE, ALICE, BOB)), digests
    out_today = channel_posts(fake_slack, ":sunrise: Out today")
    assert len(out_today) == 1 and f"<@{ALICE}>" in out_today[0], out_today
    runs = {(run.job, run.period): run for run in JobRun.objects.filter(team="Engineering")}
    for job, period in (("reminders", friday.isoformat()), ("weekly_digest", "2031-W11"),
                        ("reminders", NEXT_MONDAY.isoformat()), ("out_today", (NEXT_MONDAY + timedelta(days=1)).isoformat())):
        run = runs.get((job, period))
        assert run is not None, (job, period, sorted(runs))
        assert run.finished_at is not None and run.error == "", (job, period, run.error, run.retry_at)
        # Waited out inside the call when that was enough (README: up to 10 s, three retries), else taken over by a later tick.
        waited_out_in_the_call = retry_after <= 10 and 3 * retry_after >= storm_seconds
        assert run.attempts == (1 if waited_out_in_the_call else 2), (job, period, run.attempts)
    assert slack.too_soon() == [], [(a.channel, a.retry_after, round(b.at - a.at, 2)) for a, b in slack.too_soon()]


def test_it_posts_the_out_today_list_at_a_later_tick_after_ratelimited_at_http_200(fake_slack, clock, slack):
    install_config(standard_config(teams=(replace(ENGINEERING, digest_time=dt_time(9, 0)),)))
    tuesday = NEXT_MONDAY + timedelta(days=1)
    post_entry(fake_slack, approved(ALICE, tuesday, tuesday))
    storm = slack.storm(posts_to(C_ENG), times=1, http_200=True)

    tick(clock, at(tuesday, 9))

    assert storm.met == 1
    run = JobRun.objects.get(job="out_today", team="Engineering")
    # A passing fault: the run stays open for a later tick, not closed as Slack's refusal.
    assert (run.finished_at, run.error) == (None, "ratelimited"), (run.finished_at, run.error)
    assert run.retry_at is not None
    assert channel_posts(fake_slack, ":sunrise: Out today") == []

    for minute in range(1, 4):
        tick(clock, at(tuesday, 9, minute))

    posts = channel_posts(fake_slack, ":sunrise: Out today")
    assert len(posts) == 1 and f"<@{ALICE}>" in posts[0], posts
    run.refresh_from_db()
    assert run.finished_at is not None and run.error == "", (run.error, run.retry_at)
    assert DeliveryProblem.objects.count() == 0
