"""Slack's rate limits by design (DESIGN §8): ledger reads are incremental, single-flight and budgeted.

`conversations.history` is Tier 3: about 50 calls a minute for the whole app,
shared by the ledger's refreshes, the decision's re-read and the delivery check.
The ledger of these tests is the realistic one (400 requests, two channels of
several pages each, fake_slack.ledger_seed).

`clock` is the ledger reader's view of time: it stands still unless the test
moves it on, and sleeping (waiting for the budget) moves it at once.
"""

import threading
import time
from collections import Counter
from dataclasses import replace
from datetime import date

import pytest
from django.core.cache import cache
from django.db import connections
from slack_sdk import WebClient

from approvals import ledger_reader
from approvals.config_store import invalidate_config
from approvals.ledger import read_request_at
from approvals.ledger_format import request_metadata
from approvals.ledger_reader import cached_ledger, current_ledger, read_ledger, refresh_if_stale
from approvals.rules import PENDING
from approvals.slack_clients import background_client
from fake_slack.ledger_seed import engineering_holidays, ledger_config, realistic_ledger, seed_realistic_ledger
from fake_slack.personas import ALICE, C_ENG, C_ENG_APPROVALS, C_OLD_APPROVALS
from test_support.flows import install_config, open_request_form

TODAY = date.today()
MINUTE = 60


class Clock:
    """Time that stands still unless moved: `later` moves it on, and so does `sleep`, without waiting."""

    def __init__(self):
        self.start = time.time()
        self.offset = 0.0
        self.slept = 0.0

    def time(self) -> float:
        return self.start + self.offset

    def sleep(self, seconds: float) -> None:
        self.offset += seconds
        self.slept += seconds

    def later(self, seconds: float) -> None:
        self.offset += seconds


class ClockedClient:
    """A WebClient that notes the reader's clock at each conversations.history call."""

    def __init__(self, client: WebClient, clock: Clock, after_each=None):
        self._client, self._clock, self._after_each = client, clock, after_each
        self.history_at: list[float] = []

    def conversations_history(self, **kwargs):
        self.history_at.append(self._clock.time())
        try:
            return self._client.conversations_history(**kwargs)
        finally:
            if self._after_each:
                self._after_each(len(self.history_at))

    def __getattr__(self, name):
        return getattr(self._client, name)


@pytest.fixture
def clock(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(ledger_reader, "time", clock)
    return clock


@pytest.fixture
def ledger_data(fake_slack):
    data = realistic_ledger(today=TODAY, holiday_dates=engineering_holidays(TODAY))
    return seed_realistic_ledger(fake_slack.workspace, data, members_channel=C_ENG)


@pytest.fixture
def config():
    return ledger_config()


def history(fake_slack) -> list:
    return fake_slack.calls("conversations.history")


def pages_of_a_full_read(fake_slack) -> int:
    return sum(-(-len(fake_slack.workspace.messages(c)) // ledger_reader.HISTORY_PAGE_SIZE)
               for c in (C_ENG_APPROVALS, C_OLD_APPROVALS))


def post_new_request(fake_slack, data, *, user: str = ALICE, request_id: str = "new-request") -> str:
    """Our bot posts a request Slack holds but the cache does not (another deployment, a lost write)."""
    entry = replace(next(e for e in data.entries if e.status == PENDING), id=request_id, user=user)
    return fake_slack.workspace.post_message(C_ENG_APPROVALS, "request", metadata=request_metadata(entry)).ts


# --- Incremental ---------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_stale_ledger_is_refreshed_with_new_messages_only(ledger_data, fake_slack, config, clock):
    read_ledger(background_client(), config)
    newest_seen = {c: fake_slack.workspace.messages(c)[-1].ts for c in (C_ENG_APPROVALS, C_OLD_APPROVALS)}
    post_new_request(fake_slack, ledger_data)
    clock.later(10 * MINUTE)
    fake_slack.clear_calls()

    refresh_if_stale(background_client(), config)

    calls = history(fake_slack)
    assert sorted(c.params["channel"] for c in calls) == [C_ENG_APPROVALS, C_OLD_APPROVALS]  # one page each
    for call in calls:  # only what is newer than the newest message seen, less a minute's overlap
        assert float(call.params["oldest"]) == pytest.approx(float(newest_seen[call.params["channel"]]) - 60)
    assert "new-request" in cached_ledger(config).entries
    assert len(cached_ledger(config).entries) == len(ledger_data.entries) + 1


@pytest.mark.django_db
def test_many_form_opens_make_one_small_refresh(client, fake_slack, ledger_data, clock):
    invalidate_config()
    install_config(ledger_config())
    fake_slack.enforce_rate_limits()  # Slack's tiers: conversations.history 50 a minute
    open_request_form(client, fake_slack, ALICE)  # a cold cache: the one full read
    assert len(history(fake_slack)) == pages_of_a_full_read(fake_slack)
    people = sorted({e.user for e in ledger_data.entries})

    for _ in range(3):  # three busy stretches, ten minutes apart
        clock.later(10 * MINUTE)
        # Each person's warm-up is claimed for a minute (request_form_opened); ten minutes on, those
        # claims have expired, but the cache keeps its own time, which this clock does not move.
        cache.delete_many([f"warm:{person}" for person in [ALICE, *people]])
        fake_slack.clear_calls()
        for person in people:  # 20 people open /timeoff
            open_request_form(client, fake_slack, person)
        calls = history(fake_slack)
        assert len(calls) == 2, [c.params for c in calls]  # one new-messages page per channel, for all 20
        assert all(c.params.get("oldest") for c in calls)

    assert all(c.status == 200 for c in fake_slack.calls())


@pytest.mark.django_db
def test_the_whole_ledger_is_read_again_once_a_day(ledger_data, fake_slack, config, clock):
    # Incremental reads do not see a deleted message; the daily reconciliation does.
    read_ledger(background_client(), config)
    gone = next(e for e in ledger_data.entries if ledger_data.channel_of[e.id] == C_ENG_APPROVALS)
    with fake_slack.workspace.lock:
        ws = fake_slack.workspace
        ws.delete_message(ws.find_message(C_ENG_APPROVALS, ledger_data.ts_of[gone.id]))

    for hours in range(1, 24):
        clock.later(60 * MINUTE)
        fake_slack.clear_calls()
        refresh_if_stale(background_client(), config)
        assert len(history(fake_slack)) == 2 and all(c.params.get("oldest") for c in history(fake_slack)), hours
    assert gone.id in cached_ledger(config).entries

    clock.later(60 * MINUTE)
    fake_slack.clear_calls()
    refresh_if_stale(background_client(), config)

    assert len(history(fake_slack)) == pages_of_a_full_read(fake_slack)
    assert not any(c.params.get("oldest") for c in history(fake_slack))
    assert gone.id not in cached_ledger(config).entries


@pytest.mark.django_db
def test_a_new_approvals_channel_is_read_alone(ledger_data, fake_slack, config, clock):
    read_ledger(background_client(), config)
    fake_slack.workspace.add_channel("C_SALES_APPROVALS", "sales-approvals")
    sales = replace(config.teams[0], name="Sales", approvals_channel="C_SALES_APPROVALS", past_approvals_channels=())
    wider = replace(config, teams=(*config.teams, sales))
    assert cached_ledger(wider) is None  # cold until the new channel is read
    fake_slack.clear_calls()

    ledger = current_ledger(background_client(), wider)

    assert [c.params["channel"] for c in history(fake_slack)] == ["C_SALES_APPROVALS"]
    assert len(ledger.entries) == len(ledger_data.entries)


@pytest.mark.django_db
def test_our_own_write_during_a_read_is_kept(ledger_data, fake_slack, config, clock):
    # A decision recorded while a refresh is reading must survive the refresh's store.
    read_ledger(background_client(), config)
    clock.later(10 * MINUTE)
    entry = next(e for e in ledger_data.entries if e.status == PENDING)
    decided = replace(entry, status="approved", decided_by="U_BOB", decided_at=1766000000)
    writes = []

    def decide_meanwhile(calls_so_far):
        if calls_so_far == 1:
            ledger_reader.record_entry(decided)
            writes.append(decided)

    refresh_if_stale(ClockedClient(background_client(), clock, after_each=decide_meanwhile), config)

    assert writes and cached_ledger(config).entries[entry.id] == decided


# --- Budgeted ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_full_read_spends_at_most_the_budget_each_minute(ledger_data, fake_slack, config, clock, monkeypatch):
    monkeypatch.setattr(ledger_reader, "HISTORY_CALLS_PER_MINUTE", 2)
    reader = ClockedClient(background_client(), clock)

    ledger = current_ledger(reader, config)  # cold: it needs every page, so it waits for the next minutes

    assert len(ledger.entries) == len(ledger_data.entries)
    assert len(reader.history_at) == pages_of_a_full_read(fake_slack) > 2
    for start in reader.history_at:  # in any minute, not only each clock minute
        assert sum(start <= at < start + MINUTE for at in reader.history_at) <= 2
    assert clock.slept > 0


@pytest.mark.django_db
def test_a_background_refresh_stops_when_the_budget_is_spent_and_goes_on_later(ledger_data, fake_slack, config,
                                                                                clock, monkeypatch):
    read_ledger(background_client(), config)
    monkeypatch.setattr(ledger_reader, "HISTORY_CALLS_PER_MINUTE", 1)
    post_new_request(fake_slack, ledger_data)
    clock.later(10 * MINUTE)
    fake_slack.clear_calls()

    refresh_if_stale(background_client(), config)  # one call this minute: the channel read longest ago
    refresh_if_stale(background_client(), config)  # nothing left this minute: no call, no wait
    assert [c.params["channel"] for c in history(fake_slack)] == [C_ENG_APPROVALS]
    assert clock.slept == 0
    assert "new-request" in cached_ledger(config).entries

    clock.later(MINUTE)
    refresh_if_stale(background_client(), config)  # the next minute: the other channel
    assert [c.params["channel"] for c in history(fake_slack)] == [C_ENG_APPROVALS, C_OLD_APPROVALS]


@pytest.mark.django_db
def test_refreshes_leave_slacks_limit_to_decisions(ledger_data, fake_slack, config, clock, monkeypatch):
    # A ledger of many pages (small pages here) read from cold while approvers decide: Slack's
    # 50 calls a minute are enforced, and no call, the refresh's or a decision's, is refused.
    monkeypatch.setattr(ledger_reader, "HISTORY_PAGE_SIZE", 10)
    fake_slack.enforce_rate_limits(clock=clock.time)
    request_ts = ledger_data.ts_of[ledger_data.entries[-1].id]
    decider = WebClient(token=fake_slack.workspace.bot_token, base_url=fake_slack.api_url, retry_handlers=[])
    decisions = []

    def approver_clicks(calls_so_far):
        if calls_so_far % 2 == 0:  # one decision re-read for every two pages: 15 a minute at the budget's pace
            decisions.append(read_request_at(decider, channel=ledger_data.channel_of[ledger_data.entries[-1].id],
                                             ts=request_ts))

    no_retries = WebClient(token=fake_slack.workspace.bot_token, base_url=fake_slack.api_url, retry_handlers=[])
    reader = ClockedClient(no_retries, clock, after_each=approver_clicks)

    ledger = current_ledger(reader, config)

    assert len(reader.history_at) > 50  # more than Slack allows in one minute
    assert len(ledger.entries) == len(ledger_data.entries)
    assert len(decisions) > 25 and all(d is not None for d in decisions)
    assert {c.status for c in history(fake_slack)} == {200}


# --- Single flight -----------------------------------------------------------------------------


def race(attempt, contenders: int = 8) -> list:
    """Run `attempt` in several threads released at once (as several processes would); their results."""
    start = threading.Barrier(contenders)
    results: list = [None] * contenders

    def run(i):
        try:
            start.wait()
            results[i] = attempt()
        except Exception as exc:  # noqa: BLE001 - returned to the test
            results[i] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(contenders)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def duplicate_reads(fake_slack) -> list:
    pages = Counter((c.params["channel"], c.params.get("cursor"), c.params.get("oldest")) for c in history(fake_slack))
    return [page for page, times in pages.items() if times > 1]


@pytest.mark.django_db(transaction=True)
def test_warmers_in_many_processes_refresh_once(ledger_data, fake_slack, config):
    fake_slack.latency(0.05)  # each call takes a while, so the warmers overlap

    results = race(lambda: refresh_if_stale(background_client(), config))

    assert results == [None] * 8
    assert duplicate_reads(fake_slack) == []
    assert len(history(fake_slack)) == pages_of_a_full_read(fake_slack)
    assert len(cached_ledger(config).entries) == len(ledger_data.entries)


@pytest.mark.django_db(transaction=True)
def test_tasks_that_need_a_cold_ledger_wait_for_one_read(ledger_data, fake_slack, config):
    fake_slack.latency(0.05)

    results = race(lambda: len(current_ledger(background_client(), config).entries))

    assert results == [len(ledger_data.entries)] * 8
    assert duplicate_reads(fake_slack) == []
    assert len(history(fake_slack)) == pages_of_a_full_read(fake_slack)


@pytest.mark.django_db
def test_a_reader_that_waits_too_long_for_another_is_told_to_retry(ledger_data, fake_slack, config, monkeypatch):
    from approvals.cache_lock import acquire, release
    from approvals.task_queue import transient

    monkeypatch.setattr(ledger_reader, "COLD_WAIT_SECONDS", 0.2)
    token = acquire(ledger_reader.REFRESH_LOCK, timeout=30, wait=0)  # another process is reading
    try:
        with pytest.raises(ledger_reader.LedgerBusy) as raised:
            current_ledger(background_client(), config)
        assert transient(raised.value)  # the task retries later
        refresh_if_stale(background_client(), config)  # a warm-up does not wait at all
        assert history(fake_slack) == []
    finally:
        release(ledger_reader.REFRESH_LOCK, token)
    assert cache.get(ledger_reader.LEDGER_KEY) is None
