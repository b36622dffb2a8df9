"""Slack's answers broken on the way: cut off halfway through, or a gateway's HTML page instead of JSON.

A cut-off answer is a dropped connection after which the call may have been
made (Slack acted, its answer was lost): never "Slack refused it". A gateway's
502 page is a passing fault on any page of a paged read, not a refusal.
"""

import pytest

from approvals import block_ids as ids
from approvals import directory
from approvals.models import DeliveryProblem
from approvals.slack_clients import background_client
from approvals.task_queue import error_code, slack_may_have_acted, transient
from fake_slack.personas import C_ENG_APPROVALS
from test_support.flows import ALICE, BOB, click, dms_to, ephemerals_to, install_config, posted_requests, request_time_off

pytestmark = pytest.mark.django_db


def ledger_statuses(fake_slack) -> list[str]:
    return [m.metadata["event_payload"]["status"] for m in fake_slack.workspace.messages(C_ENG_APPROVALS)
            if m.metadata and m.metadata["event_type"] == "timeoff_request"]


def test_a_request_whose_post_was_answered_halfway_is_posted_once_and_never_called_undelivered(
        client, fake_slack, no_backoff):
    install_config()
    fake_slack.truncate_answer("chat.postMessage")  # the delivery's first call: the request's post

    request_time_off(client, fake_slack, ALICE)

    assert ledger_statuses(fake_slack) == ["pending"]
    told = dms_to(fake_slack, ALICE)
    assert not any("did not reach your approvers" in text for text in told), told
    assert any("is with" in text for text in told), told  # the receipt, once the post was found
    assert not DeliveryProblem.objects.exists()


def test_an_approval_whose_write_was_answered_halfway_is_never_called_unchanged(client, fake_slack, no_backoff):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    fake_slack.truncate_answer("chat.update")

    click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted)

    assert ledger_statuses(fake_slack) == ["approved"]
    told = ephemerals_to(fake_slack, BOB)
    assert not any("refused" in text or "unchanged" in text for text in told), told
    assert any("approved" in text.lower() for text in dms_to(fake_slack, ALICE))


def test_a_cut_off_answer_counts_as_a_dropped_connection(fake_slack, no_backoff):
    fake_slack.truncate_answer("users.info", times=None)

    with pytest.raises(Exception) as raised:
        background_client().users_info(user=ALICE)

    assert transient(raised.value) and slack_may_have_acted(raised.value)


def test_a_gateway_page_on_a_later_page_of_members_is_passing_and_nothing_is_cached(fake_slack, no_backoff):
    many = [f"U{n:05d}" for n in range(450)]  # three pages of 200
    fake_slack.workspace.add_channel("C_BIG", "everyone", members=many)
    fake_slack.gateway_error("conversations.members", status=502, after=1)  # the second page

    with pytest.raises(Exception) as raised:
        directory.fetch_channel_members(background_client(), "C_BIG")

    assert transient(raised.value)
    assert directory.cached_channel_members("C_BIG") is None  # a passing fault says nothing of the channel
    assert directory.fetch_channel_members(background_client(), "C_BIG") == frozenset(many)


def test_a_gateway_page_on_the_first_page_is_passing_too(fake_slack, no_backoff):
    fake_slack.gateway_error("conversations.members", status=502, times=None)

    with pytest.raises(Exception) as raised:
        directory.fetch_channel_members(background_client(), C_ENG_APPROVALS)

    assert transient(raised.value)
    assert error_code(raised.value) == "http_502"  # what people and HR are shown: not the gateway's HTML
    assert directory.cached_channel_members(C_ENG_APPROVALS) is None
