"""A DM Slack made but whose answer never reached us is not sent again (README "Slack posts, but the
answer is lost").

The receipt, the decision and the reminder are posted with the client that does not retry inside the
call; the task's next attempt looks in the person's DM with the app (`conversations.open`, `im:write`;
`conversations.history`, `im:history`) for the DM carrying its key's tag before it sends it again. An
install from before those scopes cannot look: it sends again, a repeat rather than a silence.
"""

import pytest

from approvals import block_ids as ids
from fake_slack.personas import C_ENG_APPROVALS, CAROL
from test_support.direct_messages import is_decision
from test_support.flows import (
    ALICE,
    BOB,
    MONDAY,
    WEDNESDAY,
    click,
    install_config,
    open_request_form,
    posted_requests,
    request_time_off,
    request_values,
    submit_request,
)
from test_support.slack_faults import MADE_BUT_LOST, failing

pytestmark = pytest.mark.django_db


def to_alice(method, params) -> bool:
    return method == "chat.postMessage" and params.get("channel") == ALICE


def receipt_to_alice(method, params) -> bool:
    return to_alice(method, params) and "approved your" not in str(params.get("text"))


def decision_to_alice(method, params) -> bool:
    return to_alice(method, params) and is_decision(str(params.get("text")))


def dms_made_to(fake_slack, user) -> list:
    """Every DM Slack made to `user`, as it stands now (a receipt rewritten by a decision says so)."""
    return list(fake_slack.workspace.messages(user))


def looks_in_the_dm(fake_slack) -> list:
    return [c for c in fake_slack.calls("conversations.history") if str(c.params.get("channel", "")).startswith("D")]


@pytest.mark.parametrize("fault", MADE_BUT_LOST)
def test_a_receipt_slack_made_is_sent_once_and_is_the_one_the_decision_rewrites(client, fake_slack, no_backoff,
                                                                               fault):
    install_config()
    with failing(fake_slack, receipt_to_alice, fault) as met:
        request_time_off(client, fake_slack, ALICE)
    assert met, "the receipt was never sent"
    assert looks_in_the_dm(fake_slack), "the retry sent the receipt again without looking"

    [posted] = posted_requests(fake_slack)
    click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted)

    dms = dms_made_to(fake_slack, ALICE)
    receipts = [m for m in dms if not is_decision(m.text)]
    assert len(receipts) == 1, [m.text for m in dms]
    # The receipt found in the DM is rewritten by the decision: its buttons now say what may still be done.
    [receipt] = receipts
    assert any(c.params.get("ts") == receipt.ts for c in fake_slack.calls("chat.update")
               if c.params.get("channel", "").startswith("D")), "the receipt found was not rewritten"
    assert len([m for m in dms if is_decision(m.text)]) == 1


@pytest.mark.parametrize("fault", MADE_BUT_LOST)
def test_a_decision_dm_slack_made_is_sent_once(client, fake_slack, no_backoff, fault):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    with failing(fake_slack, decision_to_alice, fault) as met:
        click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted)
    assert met, "the decision DM was never sent"

    decisions = [m.text for m in dms_made_to(fake_slack, ALICE) if is_decision(m.text)]
    assert len(decisions) == 1, decisions
    [request] = [m for m in fake_slack.workspace.messages(C_ENG_APPROVALS) if m.metadata]
    assert request.metadata["event_payload"]["status"] == "approved"


def test_a_dm_slack_refused_with_a_500_is_sent_by_the_next_attempt(client, fake_slack, no_backoff):
    # A 500 Slack did not act on: the look finds nothing, the DM is sent; once, and never lost.
    install_config()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    with failing(fake_slack, decision_to_alice, "http_500") as met:
        click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted)
    assert met
    decisions = [m.text for m in dms_made_to(fake_slack, ALICE) if is_decision(m.text)]
    assert len(decisions) == 1, decisions


def test_an_install_without_the_dm_scopes_sends_again_rather_than_not_at_all(client, fake_slack, no_backoff):
    # An install from before im:write and im:history: Slack refuses the look (missing_scope), for good.
    # The DM is sent again (a repeat rather than a silence), and nothing fails.
    with fake_slack.workspace.lock:
        fake_slack.workspace.granted_scopes = tuple(
            s for s in fake_slack.workspace.granted_scopes if s not in ("im:write", "im:history"))
    install_config()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    with failing(fake_slack, decision_to_alice, "answer_lost") as met:
        click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted)
    assert met

    looks = looks_in_the_dm(fake_slack)
    assert looks and all(c.response.get("error") == "missing_scope" for c in looks)
    decisions = [m.text for m in dms_made_to(fake_slack, ALICE) if is_decision(m.text)]
    assert len(decisions) == 2, decisions
    [request] = [m for m in fake_slack.workspace.messages(C_ENG_APPROVALS) if m.metadata]
    assert request.metadata["event_payload"]["status"] == "approved"


def test_an_install_without_the_dm_scopes_sends_a_first_dm_again_when_slack_will_not_open_it(
        client, fake_slack, no_backoff):
    # The very first DM to Alice (her receipt) is lost: her DM's id is not known yet and Slack will not
    # give it (no im:write). The receipt is sent again rather than not at all.
    with fake_slack.workspace.lock:
        fake_slack.workspace.granted_scopes = tuple(
            s for s in fake_slack.workspace.granted_scopes if s not in ("im:write", "im:history"))
    install_config()
    with failing(fake_slack, receipt_to_alice, "answer_lost") as met:
        request_time_off(client, fake_slack, ALICE)
    assert met
    opened = fake_slack.calls("conversations.open")
    assert opened and all(c.response.get("error") == "missing_scope" for c in opened)
    assert len(dms_made_to(fake_slack, ALICE)) == 2
    assert len(posted_requests(fake_slack)) == 1


def test_the_look_in_a_dm_slack_made_before_uses_its_known_id(client, fake_slack, no_backoff):
    # The receipt's answer told us Alice's DM id; a later lost DM is looked for there without asking again.
    install_config()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    with failing(fake_slack, decision_to_alice, "answer_lost"):
        click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted)
    assert fake_slack.calls("conversations.open") == []
    assert looks_in_the_dm(fake_slack)
    assert len([m for m in dms_made_to(fake_slack, ALICE) if is_decision(m.text)]) == 1


@pytest.mark.parametrize("fault", MADE_BUT_LOST)
def test_a_refusal_told_by_dm_that_slack_made_is_told_once(client, fake_slack, no_backoff, fault):
    # Carol is in no team, and the cache went cold between opening the form and sending it: the request
    # is checked in its task and refused by DM. That DM's answer is lost: she is not told twice.
    from django.core.cache import cache

    install_config()
    view = open_request_form(client, fake_slack, CAROL)
    cache.clear()
    to_carol = lambda method, params: method == "chat.postMessage" and params.get("channel") == CAROL  # noqa: E731
    with failing(fake_slack, to_carol, fault) as met:
        assert submit_request(client, CAROL, view, request_values("vacation", MONDAY, WEDNESDAY)).content == b""
    assert met
    told = [m.text for m in dms_made_to(fake_slack, CAROL)]
    assert len(told) == 1 and "no team is configured for you" in told[0], told
    assert posted_requests(fake_slack) == []


def test_an_effect_sent_anew_after_forget_once_is_posted_anew_though_its_first_post_was_in_doubt(fake_slack,
                                                                                                no_backoff):
    # HR heard once that someone left (that DM's answer was lost, and it was found); they came back and left
    # again: the same effect is sent anew, and the look must not find the first DM and stay silent.
    from approvals.notifications import forget_once, once, send_dm_once
    from approvals.slack_clients import background_client

    key = "departed-dm:U_DAVE:U_HR"
    with failing(fake_slack, lambda method, params: method == "chat.postMessage", "answer_lost") as met:
        once(key, lambda: send_dm_once(background_client(), key, "U_HR", "Dave has left"))
    assert met, "the DM's answer was never lost"
    assert [m.text for m in dms_made_to(fake_slack, "U_HR")] == ["Dave has left"]
    assert fake_slack.calls("conversations.history"), "the DM was not looked for"

    forget_once(key)
    once(key, lambda: send_dm_once(background_client(), key, "U_HR", "Dave has left again"))
    assert [m.text for m in dms_made_to(fake_slack, "U_HR")] == ["Dave has left", "Dave has left again"]
