"""The app installed as a distributed app: Slack answers conversations.history at one call a minute.

SLACK.md ("Rate limits"): since 2025-05-29 new installs of apps distributed outside the Marketplace get
`conversations.history` and `conversations.replies` at 1 request a minute with at most 15 messages a page;
internal apps keep Tier 3. The README says to install the app as the company's own internal app, and the
setup page says how to check. Here someone did not: the fake Slack plays that Slack. Every page of history
holds at most 15 messages whatever `limit` asks, a second history call within a minute is answered HTTP 429
with a `Retry-After` of up to 60 seconds, and the approvals channel holds a few hundred ledger messages (about
twenty pages of 15).

What people should still get (README "When things go wrong", "The ledger"):
- Slack's requests to us are answered inside the 3 s deadline, a cold submission included: accepted, checked
  in its task, and the requester told by DM if it is refused;
- every request posted once, never lost, never twice; each decision applied once (a decision re-reads its
  message with latest/inclusive/limit=1);
- `/timeoff balance` on a cold cache answers "I'll DM you" and the DM comes;
- the ledger's reads keep to their budget (HISTORY_CALLS_PER_MINUTE) and wait out Retry-After rather than
  calling again at once;
- no thread serving one of Slack's requests sleeps; the background waits at most a minute at a time;
- HR's setup page says, in plain words, that Slack is limiting the app's reads of history, which is what
  happens when the app is not installed as an internal app.

Time is simulated as in test_a_busy_monday_morning: tasks wait as rows, one worker runs them in order, and
every wait (a client's wait for Retry-After, the ledger reader's pause, a task's run_after) moves a clock on
instead of sleeping. The fake Slack counts its one-a-minute on that clock.
"""

import re
import time
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.urls import reverse

from approvals import block_ids as ids
from approvals import ledger_reader
from approvals.models import DeliveryProblem
from approvals.rules import APPROVED, LedgerEntry
from fake_slack.ledger_seed import seed_ledger
from fake_slack.personas import BOB, C_ENG, C_ENG_APPROVALS, DAVE
from test_support.simulated_time import Clock, simulated_clock, work_through_the_queue
from test_support.flows import ALICE, install_config, request_values
from test_support.slack_requests import block_actions_payload, post_command, post_interaction, view_submission_payload

pytestmark = pytest.mark.django_db

ONE_A_MINUTE = {"conversations.history": 1, "conversations.replies": 1}
PAGE_CAP = 15  # Slack's page for apps distributed outside the Marketplace
QUICK_SECONDS = 2.0  # well inside Slack's 3 s

THIS_YEAR = date.today().year
# Alice's approved leave already in the ledger: two days this year (her balance), and a week far ahead
# that a new request overlaps.
ALICE_THIS_YEAR = date(THIS_YEAR, 2, 3) + timedelta(days=(1 - date(THIS_YEAR, 2, 3).weekday()) % 7)  # a Tuesday
ALICE_AHEAD = (date(2031, 3, 10), date(2031, 3, 12))  # Mon–Wed, 3 working days
# What Alice asks for now: clear of her own leave and of US/CA holidays.
NEW_DATES = (date(2031, 4, 7), date(2031, 4, 9))
OTHERS = [f"U_EMP{n:02d}" for n in range(1, 20)]


# --- Simulated time ---------------------------------------------------------------------------------


@pytest.fixture
def clock(monkeypatch, settings):
    """The ledger reader's clock and pauses on the simulated clock too."""
    return simulated_clock(monkeypatch, settings, ledger_reads=True)


# --- Slack as a distributed app meets it ---------------------------------------------------------------


@dataclass
class Received:
    at: float  # simulated
    method: str
    params: dict
    status: int
    retry_after: int
    task_name: str
    serving_slack: bool

    @property
    def reads_one_message(self) -> bool:
        """A decision's or a change's re-read of its message (latest=ts, inclusive, limit=1)."""
        return bool(self.params.get("latest")) and str(self.params.get("limit")) == "1"


class SlowHistorySlack:
    """The fake Slack with Slack's tiers enforced on the simulated clock, conversations.history and .replies
    at one call a minute, pages of at most 15 messages; every call recorded with its simulated time."""

    def __init__(self, fake_slack, clock: Clock):
        self.fake_slack, self.clock = fake_slack, clock
        self.received: list[Received] = []

    def __enter__(self):
        self.fake_slack.workspace.history_page_cap = PAGE_CAP
        self.fake_slack.enforce_rate_limits(ONE_A_MINUTE, clock=self.clock.monotonic)
        real_handle = self.fake_slack.handle

        def handle(method, params, headers):
            now = self.clock.monotonic()
            status, extra, body = real_handle(method, params, headers)
            self.received.append(Received(now, method, dict(params), status,
                                          int(extra.get("Retry-After", 0)) if status == 429 else 0,
                                          self.clock.task_name, self.clock.serving_slack))
            return status, extra, body

        self.fake_slack.handle = handle
        return self

    def __exit__(self, *exc):
        del self.fake_slack.handle
        self.fake_slack.rate_limits_off()
        self.fake_slack.workspace.history_page_cap = None

    def history(self) -> list[Received]:
        return [r for r in self.received if r.method == "conversations.history"]

    def ledger_reads(self) -> list[Received]:
        """The history calls that read pages of the ledger (not one message's re-read)."""
        return [r for r in self.history() if not r.reads_one_message]


def seed_the_approvals_channel(fake_slack) -> int:
    """A few hundred ledger messages (with the chat among them) in Engineering's approvals channel, Alice's
    approved leave among them. Returns how many top-level messages the channel holds."""
    entries = []
    start = date(THIS_YEAR - 1, 1, 5)
    day = start
    for number in range(240):
        while day.weekday() >= 5:
            day += timedelta(days=1)
        entries.append(LedgerEntry(id=f"seeded-{number:03d}", user=OTHERS[number % len(OTHERS)], team="Engineering",
                                   leave_type="vacation", start=day, end=day, start_half=None, end_half=None,
                                   days=Decimal(1), status=APPROVED, decided_by=BOB, decided_at=1700000000))
        day += timedelta(days=1)
    entries.append(LedgerEntry(id="alice-this-year", user=ALICE, team="Engineering", leave_type="vacation",
                               start=ALICE_THIS_YEAR, end=ALICE_THIS_YEAR + timedelta(days=1), start_half=None,
                               end_half=None, days=Decimal(2), status=APPROVED, decided_by=BOB,
                               decided_at=1700000000))
    entries.append(LedgerEntry(id="alice-ahead", user=ALICE, team="Engineering", leave_type="vacation",
                               start=ALICE_AHEAD[0], end=ALICE_AHEAD[1], start_half=None, end_half=None,
                               days=Decimal(3), status=APPROVED, decided_by=BOB, decided_at=1700000000))
    seed_ledger(fake_slack.workspace, channel=C_ENG_APPROVALS, entries=entries)
    return len(fake_slack.workspace.messages(C_ENG_APPROVALS))


@pytest.fixture
def distributed_app(fake_slack, clock):
    """Engineering configured, a few hundred messages in its approvals channel, a cold cache, and Slack
    answering history at one call a minute in pages of 15."""
    install_config()
    messages = seed_the_approvals_channel(fake_slack)
    assert messages // PAGE_CAP >= 15  # a full read takes a quarter of an hour at Slack's pace
    with SlowHistorySlack(fake_slack, clock) as slack:
        yield slack


# --- What people do ----------------------------------------------------------------------------------------


def timed(clock: Clock, send):
    """One of Slack's HTTP requests to us: its answer, and how long it took (real time)."""
    clock.serving_slack = True
    started = time.monotonic()
    try:
        response = send()
    finally:
        clock.serving_slack = False
    return response, time.monotonic() - started


def open_form(client, fake_slack, clock: Clock, user: str) -> dict:
    before = len(fake_slack.calls("views.open"))
    response, seconds = timed(clock, lambda: post_command(client, "", user_id=user))
    assert response.status_code == 200 and response.content == b"", response.content
    assert seconds < QUICK_SECONDS, seconds
    [opened] = [c for c in fake_slack.calls("views.open")[before:] if c.response.get("ok")]
    return opened.params["view"]


def send_form(client, clock: Clock, user: str, view: dict, dates, *, view_id="V_REQ1"):
    payload = view_submission_payload(user_id=user, view=view, values=request_values("vacation", *dates),
                                      view_id=view_id, view_hash="h1")
    return timed(clock, lambda: post_interaction(client, payload))


def requests_of(fake_slack, user: str) -> list:
    """The request messages of `user` posted since the seeding (the seeded ones have `seeded-`/`alice-` ids)."""
    return [m for m in fake_slack.workspace.messages(C_ENG_APPROVALS)
            if (m.metadata or {}).get("event_type") == "timeoff_request"
            and m.metadata["event_payload"].get("user") == user
            and not m.metadata["event_payload"]["id"].startswith(("seeded-", "alice-"))]


def dms(fake_slack, user: str) -> list[str]:
    return [m.text for m in fake_slack.workspace.messages(user)]


def receipts(fake_slack, user: str) -> list[str]:
    return [t for t in dms(fake_slack, user) if "Your request for" in t and " is with " in t]


def failure_notes(fake_slack, user: str) -> list[str]:
    words = ("did not reach", "didn't reach", "send it again", "Slack kept failing", "taking longer than usual",
             "something went wrong")
    return [t for t in dms(fake_slack, user) if any(w in t for w in words)]


def cold_request(client, fake_slack, clock: Clock, slack: SlowHistorySlack, dates=NEW_DATES):
    """Alice opens the form and sends it at once, before any warm-up has run: the cache is cold."""
    view = open_form(client, fake_slack, clock, ALICE)
    response, seconds = send_form(client, clock, ALICE, view, dates)
    work_through_the_queue(clock)
    return response, seconds


# --- Submissions on a cold cache -------------------------------------------------------------------------


def test_a_cold_request_is_accepted_at_once_and_then_posted_exactly_once(client, fake_slack, clock,
                                                                          distributed_app):
    response, seconds = cold_request(client, fake_slack, clock, distributed_app)

    assert response.status_code == 200 and response.content == b"", response.content  # the form closes
    assert seconds < QUICK_SECONDS, seconds
    assert distributed_app.history() and any(r.status == 429 for r in distributed_app.history()), \
        "Slack never limited the history reads"
    posted = requests_of(fake_slack, ALICE)
    assert len(posted) == 1, [m.metadata["event_payload"] for m in posted]
    payload = posted[0].metadata["event_payload"]
    assert (payload["start"], payload["end"], payload["status"]) == (NEW_DATES[0].isoformat(),
                                                                     NEW_DATES[1].isoformat(), "pending")
    assert len(receipts(fake_slack, ALICE)) == 1, dms(fake_slack, ALICE)
    assert failure_notes(fake_slack, ALICE) == [], dms(fake_slack, ALICE)
    assert DeliveryProblem.objects.count() == 0


def test_a_cold_request_that_overlaps_her_own_leave_is_refused_by_dm_and_never_posted(client, fake_slack, clock,
                                                                                      distributed_app):
    response, seconds = cold_request(client, fake_slack, clock, distributed_app, dates=ALICE_AHEAD)

    # Overlap needs the ledger: on a cold cache the form is accepted and the task checks it.
    assert response.status_code == 200 and response.content == b"", response.content
    assert seconds < QUICK_SECONDS, seconds
    assert requests_of(fake_slack, ALICE) == []
    refusals = [t for t in dms(fake_slack, ALICE) if "overlap" in t.lower()]
    assert len(refusals) == 1, dms(fake_slack, ALICE)
    assert receipts(fake_slack, ALICE) == []


# --- The ledger's reads ---------------------------------------------------------------------------------------


def test_the_ledger_reads_keep_to_their_budget_and_wait_out_retry_after(client, fake_slack, clock,
                                                                       distributed_app):
    cold_request(client, fake_slack, clock, distributed_app)

    reads = distributed_app.ledger_reads()
    assert reads
    for read in reads:  # in any minute, never more than the reader's budget
        in_that_minute = [r for r in reads if read.at <= r.at < read.at + 60]
        assert len(in_that_minute) <= ledger_reader.HISTORY_CALLS_PER_MINUTE
    # After a 429, no read comes back before Slack's Retry-After has passed: it pauses, it does not hammer.
    early = []
    for index, limited in enumerate(reads):
        if limited.status == 429:
            following = reads[index + 1:index + 2]
            if following and following[0].at < limited.at + limited.retry_after - 0.01:
                early.append((limited.at, limited.retry_after, following[0].at))
    assert early == [], early[:5]
    refused, served = [r for r in reads if r.status == 429], [r for r in reads if r.status == 200]
    # Slack at one call a minute: at most about one refusal for every page it served.
    assert len(refused) <= len(served) + 2, (len(refused), len(served))


def test_no_thread_serving_slack_sleeps_and_background_waits_are_a_minute_at_most(client, fake_slack, clock,
                                                                                   distributed_app):
    cold_request(client, fake_slack, clock, distributed_app)
    balance, seconds = timed(clock, lambda: post_command(client, "balance", user_id=ALICE))
    assert balance.status_code == 200 and seconds < QUICK_SECONDS
    work_through_the_queue(clock)

    assert [s for s, serving in clock.sleeps if serving] == [], "a request to us waited out Slack's Retry-After"
    assert not [r for r in distributed_app.received if r.serving_slack and r.method == "conversations.history"]
    background = [s for s, serving in clock.sleeps if not serving]
    assert background, "nothing waited for Slack: the limit was never met"
    assert max(background) <= ledger_reader.PAUSE_MAX_SECONDS, max(background)


# --- Balance ----------------------------------------------------------------------------------------------------


def test_balance_on_a_cold_cache_answers_now_and_sends_the_balance_by_dm(client, fake_slack, clock,
                                                                        distributed_app):
    response, seconds = timed(clock, lambda: post_command(client, "balance", user_id=ALICE))

    assert response.status_code == 200 and seconds < QUICK_SECONDS
    assert "DM you" in response.json()["text"], response.json()
    work_through_the_queue(clock)
    balances = [t for t in dms(fake_slack, ALICE) if "Vacation" in t]
    assert len(balances) == 1, dms(fake_slack, ALICE)
    # 25 days a year, 2 taken this year (read back from the ledger, page by page).
    assert re.search(r"\b23\b", balances[0]), balances[0]
    assert failure_notes(fake_slack, ALICE) == [], dms(fake_slack, ALICE)


# --- Decisions ----------------------------------------------------------------------------------------------------


def test_two_approvers_clicking_at_once_apply_the_decision_once_with_one_message_reads(
        client, fake_slack, clock, distributed_app):
    # Alice's request reaches the channel first, while history is still at Tier 3 (the ledger read and
    # cached); then Slack limits history to one call a minute.
    fake_slack.rate_limits_off()
    cold_request(client, fake_slack, clock, distributed_app)
    [message] = requests_of(fake_slack, ALICE)
    fake_slack.enforce_rate_limits(ONE_A_MINUTE, clock=clock.monotonic)
    clock.sleep(60)  # a minute on: the limit starts afresh
    distributed_app.received.clear()
    updates_before = len([c for c in fake_slack.calls("chat.update") if c.params.get("channel") == C_ENG_APPROVALS])
    announced_before = len(fake_slack.workspace.messages(C_ENG))
    dms_before = len(dms(fake_slack, ALICE))

    actions = next(b for b in message.blocks if b.get("type") == "actions")
    value = next(b["value"] for b in actions["elements"] if b["action_id"] == ids.APPROVE_ACTION)
    clicks = []
    for approver in (BOB, DAVE):
        payload = block_actions_payload(user_id=approver, action_id=ids.APPROVE_ACTION, value=value,
                                        channel_id=C_ENG_APPROVALS, message_ts=message.ts,
                                        block_id=ids.DECISION_BLOCK)
        clicks.append(timed(clock, lambda payload=payload: post_interaction(client, payload)))
    work_through_the_queue(clock)

    assert all(r.status_code == 200 and s < QUICK_SECONDS for r, s in clicks), [(r.status_code, s) for r, s in clicks]
    now = fake_slack.workspace.message(C_ENG_APPROVALS, message.ts)
    assert now.metadata["event_payload"]["status"] == "approved"
    rewrites = [c for c in fake_slack.calls("chat.update") if c.params.get("channel") == C_ENG_APPROVALS
                and c.response.get("ok")][updates_before:]
    assert len(rewrites) == 1, len(rewrites)
    approvals = [t for t in dms(fake_slack, ALICE)[dms_before:] if "approved" in t.lower()]
    assert len(approvals) == 1, dms(fake_slack, ALICE)[dms_before:]
    announcements = fake_slack.workspace.messages(C_ENG)[announced_before:]
    assert len(announcements) == 1, [m.text for m in announcements]
    # The decisions read their message, one message a call, and never page through the channel.
    decisions = [r for r in distributed_app.history() if r.task_name == "decide_request"]
    assert decisions, "the decision never re-read its message"
    for read in decisions:
        assert read.params.get("latest") == message.ts and str(read.params.get("limit")) == "1", read.params
        assert str(read.params.get("inclusive")).lower() in ("1", "true"), read.params


# --- The setup page ------------------------------------------------------------------------------------------------


def test_the_setup_page_warns_hr_that_slack_is_limiting_history_reads(client, fake_slack, clock, distributed_app,
                                                                      django_user_model):
    hannah = django_user_model.objects.create_user("hannah", "hannah@example.com", "a-long-test-password",
                                                   is_staff=True)
    client.force_login(hannah)
    cold_request(client, fake_slack, clock, distributed_app)
    assert any(r.status == 429 for r in distributed_app.history())

    page = client.get(reverse("console:setup"))
    work_through_the_queue(clock)  # the page's background checks
    page = client.get(reverse("console:setup"))

    assert page.status_code == 200
    # A warning (not the page's standing advice): an alert or a warning box that says reads of the leave
    # history are being limited by Slack, and what that means for HR.
    warnings = re.findall(r'<(?:p|div)[^>]*class="check check-(?:warning|error)"[^>]*>(.*?)</(?:p|div)>', page.text,
                          flags=re.S)
    said = [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", w)) for w in warnings]
    limited = [w for w in said if re.search(r"rate[- ]limit|limit(?:s|ing|ed)? (?:the app'?s? )?read|"
                                            r"one (?:call|request) a minute|internal app", w, flags=re.I)]
    assert limited, (said, [re.sub(r"\s+", " ", m) for m in re.findall(r"[^.]*limit[^.]*", page.text)])
    # Pages of 15 messages with more to come say it is a distributed app's limit, not a busy minute.
    [shown] = re.findall(r'id="history-limited"[^>]*>(.*?)</p>', page.text, flags=re.S)
    assert "15 messages at a time" in shown and "internal app" in shown, shown
