"""One ledger message at a time: the decision's re-read, the delivery check, posts and updates.

Only our own bot writes the ledger (DESIGN §8): a message with our metadata that
someone else posted is never taken as a request, and when our bot's user id is
unknown the ledger is unavailable rather than open. Slack answers `ok` and drops
metadata it cannot use, with a warning: we log it.
"""

import logging
from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest
from slack_sdk.errors import SlackApiError

from approvals import ledger
from approvals.ledger import find_recent_request, post_request, read_request_at, update_request
from approvals.ledger_reader import LedgerUnavailable
from approvals.ledger_format import request_metadata
from approvals.rules import APPROVED, PENDING, LedgerEntry
from approvals.slack_clients import background_client
from fake_slack.personas import ALICE, BOB, C_ENG_APPROVALS, DAVE

pytestmark = pytest.mark.django_db

REQUEST = LedgerEntry(id="req-1", user=ALICE, team="Engineering", leave_type="vacation", start=date(2031, 3, 10),
                      end=date(2031, 3, 12), start_half=None, end_half=None, days=Decimal(3), status=PENDING)


def post(fake_slack, entry=REQUEST, **kwargs) -> str:
    return post_request(background_client(), channel=C_ENG_APPROVALS, entry=entry, text="request", blocks=[],
                        **kwargs)


def forge(fake_slack, entry=REQUEST, user=DAVE) -> str:
    """A member (or their workflow) posts a message carrying our metadata."""
    return fake_slack.workspace.post_message(C_ENG_APPROVALS, "looks official", metadata=request_metadata(entry),
                                             user=user).ts


def test_our_own_request_is_read_back_at_its_ts(fake_slack):
    ts = post(fake_slack)
    found = read_request_at(background_client(), channel=C_ENG_APPROVALS, ts=ts)
    assert found.entry == REQUEST and found.ts == ts
    assert (found.entry.channel, found.entry.ts) == (C_ENG_APPROVALS, ts)  # where its message is
    assert find_recent_request(background_client(), channel=C_ENG_APPROVALS, request_id="req-1").ts == ts


def test_the_decisions_re_read_ignores_a_message_someone_else_posted(fake_slack):
    forged_ts = forge(fake_slack, replace(REQUEST, status=APPROVED, decided_by=DAVE, decided_at=1766000000))

    assert read_request_at(background_client(), channel=C_ENG_APPROVALS, ts=forged_ts) is None


def test_the_delivery_check_ignores_a_message_someone_else_posted(fake_slack):
    forge(fake_slack)  # with the request's own id: it must still be posted

    assert find_recent_request(background_client(), channel=C_ENG_APPROVALS, request_id="req-1") is None
    ts = post(fake_slack)
    assert find_recent_request(background_client(), channel=C_ENG_APPROVALS, request_id="req-1").ts == ts


@pytest.mark.parametrize("newer, found", [(5, True), (6, False)])
def test_the_delivery_check_looks_through_the_newest_pages_only(fake_slack, monkeypatch, newer, found):
    # Pages of 2 here: the request under 5 newer messages is on the third page (RECENT_PAGES), under 6 on
    # the fourth: a delivery retried minutes after its post never needs to look that far back.
    monkeypatch.setattr(ledger, "HISTORY_PAGE_SIZE", 2)
    ts = post(fake_slack)
    for n in range(newer):
        fake_slack.workspace.post_message(C_ENG_APPROVALS, f"newer {n}")
    fake_slack.clear_calls()

    result = find_recent_request(background_client(), channel=C_ENG_APPROVALS, request_id="req-1")

    assert (result.ts if result else None) == (ts if found else None)
    assert len(fake_slack.calls("conversations.history")) == ledger.RECENT_PAGES == 3


@pytest.mark.parametrize("read", [
    lambda client, ts: read_request_at(client, channel=C_ENG_APPROVALS, ts=ts),
    lambda client, ts: find_recent_request(client, channel=C_ENG_APPROVALS, request_id="req-1"),
], ids=["decision-re-read", "delivery-check"])
def test_single_reads_are_unavailable_when_our_bot_is_unknown(fake_slack, read):
    ts = post(fake_slack)
    forge(fake_slack)
    fake_slack.fail("auth.test", "invalid_auth", times=None)

    with pytest.raises(LedgerUnavailable) as raised:
        read(background_client(), ts)

    assert raised.value.error == "bot_user_unknown"
    assert fake_slack.calls("conversations.history") == []  # nothing read, nothing trusted


def test_a_passing_auth_test_fault_is_raised_for_the_task_to_retry(fake_slack):
    ts = post(fake_slack)
    fake_slack.fail("auth.test", "internal_error")

    with pytest.raises(SlackApiError):
        read_request_at(background_client(), channel=C_ENG_APPROVALS, ts=ts)

    assert read_request_at(background_client(), channel=C_ENG_APPROVALS, ts=ts).entry == REQUEST


def test_a_pending_request_keeps_its_metadata_in_slack(fake_slack):
    # Slack drops metadata with a null value: a pending request has no decision, and sends none.
    ts = post(fake_slack)

    stored = fake_slack.workspace.message(C_ENG_APPROVALS, ts)
    assert stored.metadata is not None
    assert None not in stored.metadata["event_payload"].values()
    assert "warning" not in fake_slack.last_call("chat.postMessage").response


def test_an_update_keeps_its_metadata_in_slack(fake_slack):
    ts = post(fake_slack)
    decided = replace(REQUEST, status=APPROVED, decided_by=BOB, decided_at=1766000000)
    update_request(background_client(), channel=C_ENG_APPROVALS, ts=ts, entry=decided, text="approved", blocks=[])

    assert read_request_at(background_client(), channel=C_ENG_APPROVALS, ts=ts).entry == decided


def test_slacks_warnings_on_posts_and_updates_are_logged(fake_slack, monkeypatch, caplog):
    # Metadata Slack cannot use is dropped with `ok: true` and a warning: it must not pass silently. A post
    # left without its record is deleted and refused (metadata_dropped); an update's warning is logged.
    ts = post(fake_slack)
    unusable = {"event_type": "timeoff_request", "event_payload": {"v": 1, "id": "req-1", "reason": None}}
    monkeypatch.setattr(ledger, "request_metadata", lambda entry: unusable)
    caplog.set_level(logging.WARNING, logger="approvals.ledger")

    with pytest.raises(SlackApiError) as refused:
        post(fake_slack)
    update_request(background_client(), channel=C_ENG_APPROVALS, ts=ts, entry=REQUEST, text="again", blocks=[])

    assert refused.value.response["error"] == ledger.METADATA_DROPPED
    assert [m.ts for m in fake_slack.workspace.messages(C_ENG_APPROVALS)] == [ts]  # the bare post was deleted
    warned = [r.getMessage() for r in caplog.records if r.name == "approvals.ledger"]
    assert len(warned) == 2
    assert all("invalid_metadata_format" in line and "id=req-1" in line for line in warned)
    assert "method=chat.postMessage" in warned[0] and "method=chat.update" in warned[1]
