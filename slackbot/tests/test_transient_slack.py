"""Transient is not permanent (DESIGN §8), end to end.

A passing Slack fault (`internal_error`, `ratelimited` after the client's own
retries, 5xx) while the app looks up members or reads the ledger is never
remembered as an answer: no "no team is configured for you", no "you are not an
approver", no "Slack refused to show the approvals channel". The task that met
it retries, and the request is delivered or the decision recorded.
"""

import types
import uuid
from datetime import datetime, timezone

import pytest
from django.core.cache import cache
from django.tasks import TaskResultStatus
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

from approvals import block_ids as ids
from approvals import directory, request_services, selectors
from approvals.ledger_reader import PAUSE_MAX_SECONDS
from approvals.models import DeliveryProblem
from approvals.request_services import Submission
from approvals.slack_clients import BACKGROUND_MAX_RETRIES, background_client
from fake_slack.personas import C_ENG_LEADS
from test_support.flows import (
    ALICE,
    BOB,
    DAVE,
    MONDAY,
    WEDNESDAY,
    channel_updates,
    click,
    dms_to,
    ephemerals_to,
    install_config,
    metadata_payload,
    open_request_form,
    posted_requests,
    request_time_off,
    request_values,
    submit_request,
)

pytestmark = pytest.mark.django_db

CALLS_PER_ATTEMPT = 1 + BACKGROUND_MAX_RETRIES  # the background client retries a 429 three times


@pytest.fixture(autouse=True)
def no_retry_after_sleep(monkeypatch):
    """The client's 429 retries as configured (counts), minus sleeping for Retry-After."""
    def next_attempt(self, *, state, request, response=None, error=None):
        state.next_attempt_requested = True
        state.increment_current_attempt()

    monkeypatch.setattr(RateLimitErrorRetryHandler, "prepare_for_next_attempt", next_attempt)


def test_a_member_lookup_failing_for_a_moment_is_not_no_team(client, fake_slack, attempts):
    install_config()
    # The first member look-up of the warm-up meets Slack's internal_error: Alice's team
    # channel or the approvers' channel. Either way nothing may be remembered as "nobody".
    fake_slack.fail("conversations.members", "internal_error")

    view = open_request_form(client, fake_slack, ALICE)
    response = submit_request(client, ALICE, view, request_values("vacation", MONDAY, WEDNESDAY))

    assert response.status_code == 200 and response.content == b""  # no "no team is configured for you"
    assert ("warm_requester", 1, TaskResultStatus.FAILED) in attempts  # the warm-up retried
    assert ("warm_requester", 2, TaskResultStatus.SUCCESSFUL) in attempts
    [posted] = posted_requests(fake_slack)
    assert f"<@{BOB}>" in posted.params["text"] and f"<@{DAVE}>" in posted.params["text"]  # both approvers
    assert DeliveryProblem.objects.count() == 0


def test_an_approvers_channel_failing_for_a_moment_is_not_you_are_not_an_approver(client, fake_slack, attempts):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    cache.delete(f"directory:channel:{C_ENG_LEADS}")  # ten minutes later: the members are asked for again
    fake_slack.fail("conversations.members", "fatal_error")

    click(client, fake_slack, DAVE, ids.APPROVE_ACTION, posted)  # Dave approves as a member of the leads channel

    assert not any("not an approver" in text for text in ephemerals_to(fake_slack, DAVE))
    assert ("decide_request", 1, TaskResultStatus.FAILED) in attempts
    assert ("decide_request", 2, TaskResultStatus.SUCCESSFUL) in attempts
    [message] = [m for m in fake_slack.workspace.messages(posted.params["channel"]) if m.metadata]
    assert message.metadata["event_payload"]["status"] == "approved"
    assert directory.cached_channel_members(C_ENG_LEADS) == {BOB, DAVE}


def test_a_rate_limited_ledger_delays_a_cold_submission_and_delivers_it(client, fake_slack, attempts):
    install_config()
    # The warm-up meets a history rate-limited for longer than a ledger read pauses (a shorter
    # Retry-After is waited out inside the read) at every attempt, and leaves the ledger cold, so the
    # submission is accepted unchecked and checked in its task...
    fake_slack.rate_limit("conversations.history", retry_after=PAUSE_MAX_SECONDS + 1, times=None)
    view = open_request_form(client, fake_slack, ALICE)
    fake_slack.clear_faults()
    # ...whose first attempt is rate-limited too: it must be retried, not refused.
    fake_slack.rate_limit("conversations.history", retry_after=PAUSE_MAX_SECONDS + 1, times=1)

    response = submit_request(client, ALICE, view, request_values("vacation", MONDAY, WEDNESDAY))

    assert response.status_code == 200 and response.content == b""
    assert ("deliver_request", 1, TaskResultStatus.FAILED) in attempts
    assert ("deliver_request", 2, TaskResultStatus.SUCCESSFUL) in attempts
    [posted] = posted_requests(fake_slack)
    assert metadata_payload(posted)["user"] == ALICE
    [receipt] = dms_to(fake_slack, ALICE)
    assert "refused" not in receipt and "couldn't read the leave history" not in receipt
    assert DeliveryProblem.objects.count() == 0


def test_a_permanently_unreadable_ledger_still_refuses_a_cold_submission(client, fake_slack, attempts):
    install_config()
    fake_slack.fail("conversations.history", "missing_scope", times=None)
    view = open_request_form(client, fake_slack, ALICE)

    submit_request(client, ALICE, view, request_values("vacation", MONDAY, WEDNESDAY))

    assert posted_requests(fake_slack) == []
    [told] = dms_to(fake_slack, ALICE)
    assert "couldn't read the leave history" in told
    assert [(name, attempt) for name, attempt, _ in attempts if name == "deliver_request"] == [("deliver_request", 1)]
    assert DeliveryProblem.objects.get().error == "missing_scope"


@pytest.mark.parametrize("limited", [True, False])
def test_a_rate_limited_time_zone_never_refuses_todays_leave_as_past(client, fake_slack, monkeypatch, limited):
    # Alice (Los Angeles) asks at 20:00 on Monday for leave from that Monday: in UTC it is already
    # Tuesday. The cache is cold, so the delivery task checks the rules with her time zone; a
    # rate-limited users.info makes the task try again, never take UTC's day instead.
    evening = datetime(2031, 3, 11, 3, 0, tzinfo=timezone.utc).timestamp()  # Mon 10 Mar 20:00 PDT
    monkeypatch.setattr(selectors, "time", types.SimpleNamespace(time=lambda: evening))
    install_config()
    view = open_request_form(client, fake_slack, ALICE)
    cache.clear()
    fake_slack.clear_calls()
    if limited:
        fake_slack.rate_limit("users.info", retry_after=1, times=CALLS_PER_ATTEMPT)  # one attempt's worth

    response = submit_request(client, ALICE, view, request_values("vacation", MONDAY, WEDNESDAY))

    assert response.status_code == 200 and response.content == b""
    assert not any("in the past" in text for text in dms_to(fake_slack, ALICE))
    assert len(posted_requests(fake_slack)) == 1
    her_time_zone = [c for c in fake_slack.calls("users.info") if c.params["user"] == ALICE]
    assert len(her_time_zone) == (CALLS_PER_ATTEMPT + 1 if limited else 1)


def test_a_cold_form_sent_before_midnight_is_checked_on_the_day_it_was_sent(fake_slack, monkeypatch):
    # Alice (Los Angeles) sent leave for Monday at 23:59 on Monday, with a cold cache: the task checks it.
    # It runs two minutes later, on Tuesday in her zone: Monday was today when she sent it.
    sent = datetime(2031, 3, 11, 6, 59, tzinfo=timezone.utc).timestamp()  # Mon 10 Mar 23:59 PDT
    install_config()
    monkeypatch.setattr(selectors, "time", types.SimpleNamespace(time=lambda: sent + 120))  # Tue 00:01 PDT
    submission = Submission(id=str(uuid.uuid4()), user=ALICE, leave_type="vacation", start=MONDAY, end=MONDAY,
                            start_half=None, end_half=None, note="", validated=False, submitted_at=sent)

    request_services.request_deliver(background_client(), Submission.from_task_data(submission.as_task_data()))

    assert not any("in the past" in text for text in dms_to(fake_slack, ALICE))
    assert len(posted_requests(fake_slack)) == 1


def test_a_decision_write_met_by_a_429_is_retried_by_the_task_not_slept_out_under_its_lock(client, fake_slack,
                                                                                         attempts):
    # Sleeping out Retry-After inside the write (3 × 50 s) would outlast the decision's lock (120 s) and
    # let another approver's decision in meanwhile: the write gives up at once, and the task's next
    # attempt (after Retry-After) re-reads the message under the lock and writes it, once.
    install_config()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    fake_slack.rate_limit("chat.update", retry_after=50, times=1)

    click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted)

    decisions = [(attempt, status) for name, attempt, status in attempts if name == "decide_request"]
    assert decisions == [(2, TaskResultStatus.SUCCESSFUL), (1, TaskResultStatus.FAILED)]
    updates = channel_updates(fake_slack)
    assert [c.status for c in updates] == [429, 200]
    assert metadata_payload(updates[-1])["status"] == "approved"
    assert len([t for t in dms_to(fake_slack, ALICE) if "approved" in t]) == 1
