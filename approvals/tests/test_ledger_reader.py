"""The ledger reader against the fake Slack over HTTP, with a ledger of realistic size.

400 requests and their adjustments over 20 people and two years, in
Engineering's current and past approvals channels, among chat and other apps'
messages: each channel takes two history pages of 200.
"""

import time
import types
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.cache import cache
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from approvals import ledger_reader
from approvals.config_types import TeamConfig
from approvals.ledger_format import request_metadata
from approvals.ledger_reader import (
    LEDGER_KEY,
    LedgerUnavailable,
    cached_ledger,
    current_ledger,
    pending_add,
    pending_entries,
    pending_remove,
    read_ledger,
    record_adjustment,
    record_entry,
)
from approvals.rules import APPROVED, CANCELLED, PENDING, Adjustment, LedgerEntry
from fake_slack.ledger_seed import (
    ENGINEERING,
    engineering_holidays,
    ledger_config,
    realistic_ledger,
    seed_realistic_ledger,
)
from fake_slack.personas import ALICE, C_ENG_APPROVALS, C_NOBOT, C_OLD_APPROVALS, CAROL, DAVE, HR
from approvals.slack_clients import background_client
from approvals.task_queue import transient

pytestmark = pytest.mark.django_db

TODAY = date.today()


@pytest.fixture
def ledger_data(fake_slack):
    data = realistic_ledger(today=TODAY, holiday_dates=engineering_holidays(TODAY))
    return seed_realistic_ledger(fake_slack.workspace, data)


@pytest.fixture
def config():
    return ledger_config()


def history_calls(fake_slack, channel: str) -> list:
    return [call for call in fake_slack.calls("conversations.history") if call.params["channel"] == channel]


def new_entry(**changes) -> LedgerEntry:
    start = TODAY + timedelta(days=60)
    entry = LedgerEntry(id="in-flight-1", user=CAROL, team="Engineering", leave_type="vacation", start=start,
                        end=start + timedelta(days=1), start_half=None, end_half=None, days=Decimal(2),
                        status=PENDING)
    return replace(entry, **changes)


def test_the_realistic_ledger_spans_several_pages_in_both_channels(ledger_data, fake_slack):
    for channel in (C_ENG_APPROVALS, C_OLD_APPROVALS):
        top_level = fake_slack.workspace.messages(channel)
        assert len(top_level) > ledger_reader.HISTORY_PAGE_SIZE, channel  # more than one page
        assert any(m.metadata is None for m in top_level)  # chat among the entries
    assert len(ledger_data.entries) == 400
    assert len({e.user for e in ledger_data.entries}) == 20
    assert {e.status for e in ledger_data.entries} == {PENDING, APPROVED, "rejected", CANCELLED}
    assert {e.leave_type for e in ledger_data.entries} == {"vacation", "sick", "medical"}
    assert max(e.end for e in ledger_data.entries) - min(e.start for e in ledger_data.entries) > timedelta(days=700)


def test_it_reads_every_page_of_both_channels_with_metadata(ledger_data, fake_slack, config):
    read_ledger(background_client(), config)

    for channel in (C_ENG_APPROVALS, C_OLD_APPROVALS):
        calls = history_calls(fake_slack, channel)
        assert len(calls) >= 2, channel
        assert all(call.params["include_all_metadata"] in ("1", "true", True) for call in calls)
        assert all(int(call.params["limit"]) == ledger_reader.HISTORY_PAGE_SIZE for call in calls)
        assert "cursor" not in calls[0].params
        # Each later page asks for the cursor the page before it handed out.
        for before, after in zip(calls, calls[1:]):
            assert after.params["cursor"] == before.response["response_metadata"]["next_cursor"]
        assert calls[-1].response["has_more"] is False


def test_it_keeps_only_ledger_entries_newest_state_per_id(ledger_data, config):
    ledger = read_ledger(background_client(), config)

    assert ledger.entries == {entry.id: entry for entry in ledger_data.entries}
    assert ledger.adjustments == {adjustment.id: adjustment for adjustment in ledger_data.adjustments}
    # Chat, another app's events and a v2 event are not entries.
    assert not any(entry_id.startswith("future-") for entry_id in ledger.entries)
    assert ledger.channels == (C_ENG_APPROVALS, C_OLD_APPROVALS)
    assert ledger.oldest_ts == min(ledger_data.ts_of.values())
    assert ledger.truncated is False


def test_an_updated_message_reads_with_its_new_status(ledger_data, fake_slack, config):
    client = background_client()
    entry = next(e for e in ledger_data.entries if e.status == PENDING)
    channel = ledger_data.channel_of[entry.id]
    cancelled = replace(entry, status=CANCELLED, decided_by=entry.user, decided_at=1766000000)
    client.chat_update(channel=channel, ts=ledger_data.ts_of[entry.id], text="Cancelled",
                       metadata=request_metadata(cancelled))

    assert read_ledger(client, config).entries[entry.id] == cancelled


def test_a_request_posted_twice_reads_as_its_newest_message(ledger_data, fake_slack, config):
    # The current channel is read first; the newer copy is in the past channel, and still wins.
    entry = next(e for e in ledger_data.entries if ledger_data.channel_of[e.id] == C_ENG_APPROVALS)
    newer = replace(entry, status=CANCELLED)
    older_ts = float(ledger_data.ts_of[entry.id])
    fake_slack.workspace.post_message(C_OLD_APPROVALS, "copy", metadata=request_metadata(newer), ts=older_ts + 0.1)

    assert read_ledger(background_client(), config).entries[entry.id] == newer


def test_entries_are_indexed_by_user(ledger_data, config):
    ledger = read_ledger(background_client(), config)

    for user in (ALICE, DAVE, "U_EMP07"):
        assert sorted(e.id for e in ledger.for_user(user)) == sorted(e.id for e in ledger_data.entries_of(user))
        assert sorted(a.id for a in ledger.adjustments_for(user)) == sorted(
            a.id for a in ledger_data.adjustments_of(user))
    assert ledger.for_user(CAROL) == []
    some = ledger_data.entries_of(ALICE)[0]
    assert some.id not in {e.id for e in ledger.without(some.id)}
    assert len(ledger.without(some.id)) == len(ledger_data.entries) - 1


def test_a_second_read_comes_from_the_cache(ledger_data, fake_slack, config):
    client = background_client()
    first = current_ledger(client, config)
    fake_slack.clear_calls()

    second = current_ledger(client, config)

    assert fake_slack.calls() == []
    assert second.entries == first.entries and second.adjustments == first.adjustments
    assert cached_ledger(config).entries == first.entries


def test_a_ledger_missing_a_configured_channel_is_cold(ledger_data, config):
    read_ledger(background_client(), config)
    sales = TeamConfig(name="Sales", approvals_channel="C_SALES_APPROVALS")

    assert cached_ledger(replace(config, teams=(ENGINEERING, sales))) is None
    assert cached_ledger(config) is not None


def test_record_entry_updates_the_cache_in_place(ledger_data, fake_slack, config):
    read_ledger(background_client(), config)
    fake_slack.clear_calls()
    entry = next(e for e in ledger_data.entries_of(ALICE) if e.status == PENDING)
    approved = replace(entry, status=APPROVED, decided_by="U_BOB", decided_at=1766000000)
    posted = new_entry(id="posted-just-now", user=ALICE)

    record_entry(approved)
    record_entry(posted)

    ledger = cached_ledger(config)
    assert ledger.entries[entry.id] == approved
    assert ledger.entries["posted-just-now"] == posted
    assert len(ledger.entries) == len(ledger_data.entries) + 1
    assert fake_slack.calls() == []


def test_record_adjustment_updates_the_cache_in_place(ledger_data, config):
    read_ledger(background_client(), config)
    adjustment = Adjustment(id="adj-new", user=DAVE, leave_type="vacation", days=Decimal("1.5"), year=TODAY.year,
                            reason="correction", by=HR)

    record_adjustment(adjustment)

    assert cached_ledger(config).adjustments["adj-new"] == adjustment
    assert adjustment in cached_ledger(config).adjustments_for(DAVE)


def test_writes_to_a_cold_cache_do_not_invent_a_ledger(config):
    record_entry(new_entry())
    record_adjustment(Adjustment(id="a", user=DAVE, leave_type="vacation", days=Decimal(1), year=2026, reason="r",
                                 by=HR))

    assert cache.get(LEDGER_KEY) is None
    assert cached_ledger(config) is None


def test_pending_requests_are_merged_into_every_read(ledger_data, config):
    read_ledger(background_client(), config)
    in_flight = new_entry()

    pending_add(in_flight)

    ledger = cached_ledger(config)
    assert ledger.entries[in_flight.id] == in_flight
    assert ledger.for_user(CAROL) == [in_flight]
    assert len(ledger.entries) == len(ledger_data.entries) + 1


def test_the_posted_state_wins_over_the_pending_one(ledger_data, config):
    read_ledger(background_client(), config)
    entry = ledger_data.entries_of(ALICE)[0]

    pending_add(replace(entry, status=PENDING, days=Decimal(99)))

    assert cached_ledger(config).entries[entry.id] == entry


def test_record_entry_takes_a_request_out_of_the_pending_set(ledger_data, config):
    read_ledger(background_client(), config)
    in_flight = new_entry()
    pending_add(in_flight)
    posted = replace(in_flight, status=APPROVED, decided_by="U_BOB", decided_at=1766000000)

    record_entry(posted)

    assert pending_entries(["Engineering"]) == []
    assert cached_ledger(config).entries[in_flight.id] == posted


def test_pending_remove_drops_a_refused_request(ledger_data, config):
    read_ledger(background_client(), config)
    in_flight = new_entry()
    other = new_entry(id="in-flight-2", user=DAVE)
    pending_add(in_flight)
    pending_add(other)

    pending_remove(in_flight.id)

    assert pending_entries(["Engineering"]) == [other]
    ledger = cached_ledger(config)
    assert in_flight.id not in ledger.entries and other.id in ledger.entries


def test_pending_requests_are_merged_into_a_fresh_read_too(ledger_data, config):
    in_flight = new_entry()
    pending_add(in_flight)

    ledger = current_ledger(background_client(), config)

    assert ledger.entries[in_flight.id] == in_flight


def test_a_read_fetches_a_bounded_number_of_pages(ledger_data, fake_slack, config, monkeypatch):
    monkeypatch.setattr(ledger_reader, "MAX_PAGES_PER_CHANNEL", 1)

    ledger = read_ledger(background_client(), config)

    assert ledger.truncated is True
    assert len(history_calls(fake_slack, C_ENG_APPROVALS)) == 1
    assert len(history_calls(fake_slack, C_OLD_APPROVALS)) == 1
    # Newest first: what was read is each channel's newest page.
    assert 0 < len(ledger.entries) < len(ledger_data.entries)
    newest = max(ledger_data.entries, key=lambda e: float(ledger_data.ts_of[e.id]))
    assert newest.id in ledger.entries


@pytest.mark.parametrize(
    ("team_changes", "channel", "error"),
    [
        ({"approvals_channel": C_NOBOT}, C_NOBOT, "not_in_channel"),  # public, the bot was never invited
        ({"past_approvals_channels": (C_OLD_APPROVALS, "C_DELETED")}, "C_DELETED", "channel_not_found"),
    ],
)
def test_unreadable_history_is_a_clear_error(ledger_data, fake_slack, team_changes, channel, error):
    config = ledger_config(teams=(replace(ENGINEERING, **team_changes),))

    with pytest.raises(LedgerUnavailable) as raised:
        current_ledger(background_client(), config)

    assert raised.value.channel == channel
    assert raised.value.error == error
    assert str(raised.value) == f"cannot read the history of <#{channel}> ({error})"
    assert cache.get(LEDGER_KEY) is None  # a partial ledger is never cached


def test_a_slack_fault_mid_read_is_a_clear_error(ledger_data, fake_slack, config):
    fake_slack.fail("conversations.history", "missing_scope", needed="channels:history")

    with pytest.raises(LedgerUnavailable) as raised:
        read_ledger(background_client(), config)

    assert (raised.value.channel, raised.value.error) == (C_ENG_APPROVALS, "missing_scope")


def test_a_ledger_the_cache_drops_is_still_returned(ledger_data, config, monkeypatch):
    # memcached, for one, drops a value over 1 MB without an error; a big ledger can be that.
    real_set_many = cache.set_many
    monkeypatch.setattr(cache, "set_many", lambda values, *args, **kwargs: real_set_many(
        {key: value for key, value in values.items() if key != LEDGER_KEY}, *args, **kwargs))

    ledger = current_ledger(background_client(), config)

    assert ledger is not None and len(ledger.entries) == len(ledger_data.entries)


def test_ledger_metadata_posted_by_someone_else_is_ignored(ledger_data, fake_slack, config):
    # Another app (or a person's workflow) in the channel cannot forge or overturn a request.
    real = next(e for e in ledger_data.entries_of(ALICE) if e.status == PENDING)
    forged_approval = replace(real, status=APPROVED, decided_by=DAVE, decided_at=1766000000)
    fake_slack.workspace.post_message(C_ENG_APPROVALS, "approved!", metadata=request_metadata(forged_approval),
                                      user=DAVE)
    fake_slack.workspace.post_message(C_ENG_APPROVALS, "free leave", user=DAVE,
                                      metadata=request_metadata(new_entry(id="forged-1", user=DAVE)))
    ledger = read_ledger(background_client(), config)
    assert ledger.entries[real.id].status == PENDING
    assert "forged-1" not in ledger.entries


def test_a_slow_re_read_cannot_drop_a_write_made_meanwhile(ledger_data, fake_slack, config):
    # A background re-read collects Slack's history, then our own post lands, then the re-read
    # stores what it collected: the post must still be in every read until Slack shows it.
    client = background_client()
    read_ledger(client, config)
    stale_read = cache.get(ledger_reader.LEDGER_KEY)
    posted = new_entry(id="posted-during-read", user=ALICE)
    record_entry(posted)
    ledger_reader.store_ledger(stale_read)  # the re-read finishes
    assert cached_ledger(config).entries["posted-during-read"] == posted


def test_the_request_path_reads_the_whole_ledger_only_when_it_changed(ledger_data, config, monkeypatch):
    read_ledger(background_client(), config)
    big_reads = []
    real_get = cache.get
    monkeypatch.setattr(cache, "get", lambda key, *args, **kwargs: (
        big_reads.append(key) if key == LEDGER_KEY else None) or real_get(key, *args, **kwargs))

    first = cached_ledger(config)
    second = cached_ledger(config)
    assert second.entries == first.entries
    assert big_reads.count(LEDGER_KEY) <= 1  # the version key said nothing changed

    record_entry(new_entry(id="posted-now", user=ALICE))  # a write: a new version
    assert "posted-now" in cached_ledger(config).entries


# --- Trust: only our bot's messages, and never "anyone" when we do not know who we are -----


@pytest.mark.parametrize("error", ["invalid_auth", "account_inactive"])
def test_the_ledger_is_unavailable_when_our_bot_is_unknown(ledger_data, fake_slack, config, error):
    # auth.test refused: a forged approval must not count because every author is then "trusted".
    real = next(e for e in ledger_data.entries_of(ALICE) if e.status == PENDING)
    fake_slack.workspace.post_message(C_ENG_APPROVALS, "approved!", user=DAVE,
                                      metadata=request_metadata(replace(real, status=APPROVED, decided_by=DAVE)))
    fake_slack.fail("auth.test", error, times=None)

    with pytest.raises(LedgerUnavailable) as raised:
        read_ledger(background_client(), config)

    assert raised.value.error == "bot_user_unknown"
    assert cache.get(LEDGER_KEY) is None
    with pytest.raises(LedgerUnavailable):
        current_ledger(background_client(), config)


def test_a_passing_auth_test_fault_is_raised_not_trusted(ledger_data, fake_slack, config):
    fake_slack.fail("auth.test", "internal_error")

    with pytest.raises(SlackApiError) as raised:
        current_ledger(background_client(), config)

    assert transient(raised.value)
    assert cache.get(LEDGER_KEY) is None
    assert len(current_ledger(background_client(), config).entries) == len(ledger_data.entries)


# --- Transient is not permanent ----------------------------------------------------------


@pytest.mark.parametrize("fault", ["ratelimited", "internal_error", "fatal_error", "http_500"])
def test_a_passing_fault_is_raised_as_it_is_and_nothing_is_cached(ledger_data, fake_slack, config, fault):
    # After the client's own retries: four 429s or 500s in a row (one call and three retries).
    client = WebClient(token=fake_slack.workspace.bot_token, base_url=fake_slack.api_url, retry_handlers=[])
    if fault == "ratelimited":  # longer than a read waits for (a shorter one: see the test below)
        fake_slack.rate_limit("conversations.history", retry_after=ledger_reader.PAUSE_MAX_SECONDS + 1)
    elif fault == "http_500":
        fake_slack.server_error("conversations.history", status=500)
    else:
        fake_slack.fail("conversations.history", fault)

    with pytest.raises(SlackApiError) as raised:
        current_ledger(client, config)

    assert not isinstance(raised.value, LedgerUnavailable)
    assert transient(raised.value)  # the task that asked retries later
    assert cache.get(LEDGER_KEY) is None  # nothing partial, nothing "unreadable" remembered
    assert len(current_ledger(client, config).entries) == len(ledger_data.entries)


def test_a_full_read_rate_limited_midway_waits_as_slack_says_and_goes_on(ledger_data, fake_slack, config,
                                                                          monkeypatch):
    # Past what the client waits out inside a call (10 s): the read keeps its pages, waits (holding its
    # lock) and reads the page again, rather than failing and starting over.
    clock = [time.time()]
    slept = []

    def sleep(seconds):
        slept.append(seconds)
        clock[0] += seconds

    monkeypatch.setattr(ledger_reader, "time", types.SimpleNamespace(time=lambda: clock[0], sleep=sleep))
    real_handle = fake_slack.handle
    calls = []

    def second_page_limited(method, params, headers):  # each channel takes two pages
        if method == "conversations.history":
            calls.append(params.get("cursor"))
            if len(calls) == 2:
                return 429, {"Retry-After": "20"}, {"ok": False, "error": "ratelimited"}
        return real_handle(method, params, headers)

    fake_slack.handle = second_page_limited
    try:
        ledger = current_ledger(background_client(), config)
    finally:
        del fake_slack.handle

    assert len(ledger.entries) == len(ledger_data.entries)
    assert sum(slept) >= 20 and calls[1] == calls[2]  # waited, then the same page again


def test_a_background_refresh_shrugs_off_a_passing_fault(ledger_data, fake_slack, config):
    fake_slack.fail("conversations.history", "internal_error")

    ledger_reader.refresh_if_stale(background_client(), config)  # logged, not raised: best effort

    assert cache.get(LEDGER_KEY) is None
    ledger_reader.refresh_if_stale(background_client(), config)
    assert len(cached_ledger(config).entries) == len(ledger_data.entries)


def test_a_background_refresh_reports_a_permanent_refusal(ledger_data, fake_slack, config):
    fake_slack.fail("conversations.history", "not_in_channel")

    with pytest.raises(LedgerUnavailable):
        ledger_reader.refresh_if_stale(background_client(), config)


def test_each_entry_knows_where_its_message_is(ledger_data, config):
    ledger = read_ledger(background_client(), config)

    for entry in ledger_data.entries[:50]:
        read = ledger.entries[entry.id]
        assert (read.channel, read.ts) == (ledger_data.channel_of[entry.id], ledger_data.ts_of[entry.id])
