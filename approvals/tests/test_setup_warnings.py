"""A private approvals channel hides requests from approvers who are not in it: the app says so in its log.

Against the fake Slack: C_ENG_APPROVALS is private (Bob, Dave and Hannah are in
it), C_GENERAL is public, C_NOBOT is public without our bot. Carol is in neither
private channel.
"""

import logging
import time

import pytest

from approvals import setup_warnings
from approvals.config_types import ApproverSource, MemberSource, TeamConfig
from approvals.setup_warnings import warn_if_approvers_cannot_see
from approvals.slack_clients import background_client
from fake_slack.personas import BOB, C_ENG_APPROVALS, C_ENG_LEADS, C_GENERAL, C_NOBOT, CAROL, DAVE, HANNAH

pytestmark = pytest.mark.django_db


def engineering(approvals_channel: str = C_ENG_APPROVALS) -> TeamConfig:
    return TeamConfig(name="Engineering", members=MemberSource(), approvers=ApproverSource(users=(BOB,)),
                      approvals_channel=approvals_channel)


def warnings_in(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "approvals.setup_warnings" and r.levelno == logging.WARNING]


@pytest.fixture
def caplog_info(caplog):
    caplog.set_level(logging.INFO, logger="approvals.setup_warnings")
    return caplog


def test_it_warns_when_an_approver_is_not_in_the_private_approvals_channel(fake_slack, caplog_info):
    missing = warn_if_approvers_cannot_see(background_client(), engineering(), {BOB, CAROL})
    assert missing == {CAROL}
    (warning,) = warnings_in(caplog_info)
    text = warning.getMessage()
    assert C_ENG_APPROVALS in text and "Engineering" in text and CAROL in text
    assert BOB not in text.split("missing=")[1]  # Bob is in the channel
    assert "private" in text and "invite" in text


def test_it_says_nothing_when_every_approver_is_a_member(fake_slack, caplog_info):
    assert warn_if_approvers_cannot_see(background_client(), engineering(), {BOB, DAVE, HANNAH}) == frozenset()
    assert warnings_in(caplog_info) == []


def test_a_public_channel_needs_no_membership(fake_slack, caplog_info):
    assert warn_if_approvers_cannot_see(background_client(), engineering(C_GENERAL), {CAROL}) == frozenset()
    assert warnings_in(caplog_info) == []
    assert fake_slack.calls("conversations.members") == []  # no need to read who is in it


def test_it_warns_once_per_channel_a_day(fake_slack, caplog_info):
    client = background_client()
    assert warn_if_approvers_cannot_see(client, engineering(), {BOB, CAROL}) == {CAROL}
    fake_slack.clear_calls()
    for _ in range(3):
        assert warn_if_approvers_cannot_see(client, engineering(), {BOB, CAROL}) == frozenset()
    assert len(warnings_in(caplog_info)) == 1
    assert fake_slack.calls() == []  # checked today: not even a Slack call
    # Another private channel is checked (and warned about) on its own.
    assert warn_if_approvers_cannot_see(client, engineering(C_ENG_LEADS), {BOB, CAROL}) == {CAROL}
    assert len(warnings_in(caplog_info)) == 2


def test_a_channel_found_fine_is_not_checked_again_the_same_day(fake_slack):
    client = background_client()
    warn_if_approvers_cannot_see(client, engineering(C_GENERAL), {BOB})
    fake_slack.clear_calls()
    warn_if_approvers_cannot_see(client, engineering(C_GENERAL), {BOB})
    assert fake_slack.calls() == []  # at most one conversations.info per channel a day (Tier 3)


@pytest.mark.parametrize("method, error", [("conversations.info", "internal_error"),
                                           ("conversations.info", "ratelimited"),
                                           ("conversations.info", "channel_not_found"),
                                           ("conversations.members", "internal_error"),
                                           ("conversations.members", "fatal_error")])
def test_a_failed_check_never_breaks_the_delivery_and_is_retried_later(fake_slack, caplog_info, monkeypatch,
                                                                        method, error):
    monkeypatch.setattr(setup_warnings, "RETRY_AFTER_FAILURE_SECONDS", 1)
    fake_slack.fail(method, error, times=1)
    client = background_client()
    assert warn_if_approvers_cannot_see(client, engineering(), {BOB, CAROL}) == frozenset()
    assert warnings_in(caplog_info) == []
    assert "could not check" in caplog_info.text
    time.sleep(2.05)  # past the short retry window (the database cache keeps whole seconds), not a whole day
    assert warn_if_approvers_cannot_see(client, engineering(), {BOB, CAROL}) == {CAROL}


def test_a_channel_without_our_bot_is_left_to_the_delivery_to_report(fake_slack, caplog_info):
    """Not being able to post there is the delivery's problem (reported to HR), not this warning's."""
    assert warn_if_approvers_cannot_see(background_client(), engineering(C_NOBOT), {CAROL}) == frozenset()
    assert warnings_in(caplog_info) == []


def test_no_approvers_no_warning(fake_slack, caplog_info):
    assert warn_if_approvers_cannot_see(background_client(), engineering(), frozenset()) == frozenset()
    assert warnings_in(caplog_info) == []
