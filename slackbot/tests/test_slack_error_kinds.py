"""Every way Slack fails a call, at every background step of a request's life: done once, or the person told.

A request goes from `/timeoff` to its approvers and is approved; one step of it
(the post to the approvals channel, the receipt DM, the decision's rewrite, its
thread reply, the requester's DM, the announcement, the receipt's rewrite, and
the reads behind them: the ledger, the directory, the bot's own id) meets one of
Slack's failures, twice (the client's own retry and the task's next attempt):
a 429 with Retry-After, a 500, a 503, a gateway's HTML 502, `ok: false` with
`internal_error`, `fatal_error`, `service_unavailable`, `request_timeout` or
`ratelimited` at HTTP 200, a call Slack made whose answer was a 500, a call Slack
made after which the connection closed, a call Slack made whose answer reached the app as a
proxy's HTML page or JSON cut short, with HTTP 200. Whatever it met:

- the request is in the approvals channel once, and its decision once;
- its thread reply and its announcement are posted once;
- nobody is told that something failed, since in the end nothing did.

And when Slack keeps failing the post or the decision until the task gives up,
the person who asked is told, and nothing is in the ledger that was not there.

In the request, every way into a form meets each failure of its `views.open`
(or the preview's `views.update`): the endpoint answers at once, with one try,
and the person is told what to do: wait (a rate limit), look whether the form
opened after all (Slack may have acted), or try again.

test_unreliable_slack throws these at random; here each one meets each step,
DMs too (a DM Slack made and lost is looked for in the person's DM before it
is sent again). Everything is through signed requests and the fake Slack; the
retries' sleeps are skipped.
"""

import re
import time

import pytest

from approvals import block_ids as ids
from fake_slack.personas import C_ENG, C_ENG_APPROVALS
from test_support.flows import ALICE, BOB, dms_to, install_config, request_time_off
from test_support.forms_opened import WAYS_IN
from test_support.slack_faults import MANGLED_200, PASSING_FAULTS, failing
from test_support.slack_requests import block_actions_payload, post_interaction

pytestmark = pytest.mark.django_db


def _dm_to_alice(params, words):
    return params.get("channel") == ALICE and words in str(params.get("text"))


# Each background step of a request's life, as the call that makes it.
STEPS = {
    "request post": lambda method, params: (method == "chat.postMessage" and params.get("channel") == C_ENG_APPROVALS
                                            and not params.get("thread_ts")),
    "receipt DM": lambda method, params: method == "chat.postMessage" and _dm_to_alice(params, "is with"),
    "decision rewrite": lambda method, params: method == "chat.update" and params.get("channel") == C_ENG_APPROVALS,
    "thread reply": lambda method, params: method == "chat.postMessage" and bool(params.get("thread_ts")),
    "decision DM": lambda method, params: method == "chat.postMessage" and _dm_to_alice(params, "approved your"),
    "announcement": lambda method, params: method == "chat.postMessage" and params.get("channel") == C_ENG,
    "receipt rewrite": lambda method, params: method == "chat.update" and str(params.get("channel")).startswith("D"),
    "ledger read": lambda method, params: method == "conversations.history",
    "user lookup": lambda method, params: method == "users.info",
    "channel members": lambda method, params: method == "conversations.members",
    "bot identity": lambda method, params: method == "auth.test",
}
MADE_THEN_LOST = {"answer_lost", "dropped", *MANGLED_200}


def ledger(fake_slack) -> list:
    return [m for m in fake_slack.workspace.messages(C_ENG_APPROVALS)
            if (m.metadata or {}).get("event_type") == "timeoff_request"]


def approve(client, message) -> None:
    actions = next(b for b in message.blocks if b.get("type") == "actions")
    value = next(b["value"] for b in actions["elements"] if b["action_id"] == ids.APPROVE_ACTION)
    response = post_interaction(client, block_actions_payload(
        user_id=BOB, action_id=ids.APPROVE_ACTION, value=value, channel_id=C_ENG_APPROVALS, message_ts=message.ts,
        block_id=ids.DECISION_BLOCK))
    assert response.status_code == 200 and response.content == b""


def told_to(fake_slack, user) -> list[str]:
    """What `user` was told: ephemeral notes and DMs, as delivered."""
    return ([e.text for e in fake_slack.workspace.ephemerals if e.user == user]
            + [m.text for m in fake_slack.workspace.messages(user)])


@pytest.mark.parametrize("fault", PASSING_FAULTS)
@pytest.mark.parametrize("step", list(STEPS))
def test_a_request_and_its_approval_are_done_once_whatever_slack_fails_twice(client, fake_slack, no_sleeping, step,
                                                                             fault):
    install_config()
    with failing(fake_slack, STEPS[step], fault, times=2) as met:
        request_time_off(client, fake_slack, ALICE, note="Ski week")
        [posted] = ledger(fake_slack)
        approve(client, posted)
    assert met, "the step was never reached"

    [decided] = ledger(fake_slack)
    assert decided.metadata["event_payload"]["status"] == "approved"
    replies = [m for m in fake_slack.workspace.replies(C_ENG_APPROVALS, decided.ts) if m.ts != decided.ts]
    assert [r.text for r in replies] == [f"Approved by <@{BOB}>"]
    assert len(fake_slack.workspace.messages(C_ENG)) == 1  # the announcement
    alice = told_to(fake_slack, ALICE)
    assert len([text for text in alice if "approved your :palm_tree:" in text]) == 1, alice  # the decision DM
    assert len([text for text in alice if "approved your request for" in text]) == 1, alice  # the receipt, rewritten
    assert told_to(fake_slack, BOB) == []  # nothing failed in the end: nothing to tell


@pytest.mark.parametrize("fault", PASSING_FAULTS)
def test_a_post_slack_keeps_failing_is_told_to_the_requester_and_in_the_ledger_at_most_once(client, fake_slack,
                                                                                            no_sleeping, fault):
    install_config()
    with failing(fake_slack, STEPS["request post"], fault, times=None):
        request_time_off(client, fake_slack, ALICE, note="Ski week")

    if fault in MADE_THEN_LOST:
        # Slack made the post each time it was sent, and lost its answer: the retry found it and sent no other.
        assert len(ledger(fake_slack)) == 1
        assert not [text for text in dms_to(fake_slack, ALICE) if "did not reach" in text]
    else:
        assert ledger(fake_slack) == []
        [told] = [text for text in dms_to(fake_slack, ALICE) if "did not reach your approvers" in text]
        assert "Slack kept failing" in told and "Ski week" in told  # why, and what they asked for


@pytest.mark.parametrize("fault", PASSING_FAULTS)
def test_a_decision_slack_keeps_failing_is_told_to_the_approver_and_applied_at_most_once(client, fake_slack,
                                                                                        no_sleeping, fault):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    [posted] = ledger(fake_slack)
    with failing(fake_slack, STEPS["decision rewrite"], fault, times=None):
        approve(client, posted)

    [message] = ledger(fake_slack)
    status = message.metadata["event_payload"]["status"]
    if fault in MADE_THEN_LOST:
        assert status == "approved"  # Slack made the rewrite: the re-read found it, and it was not told as failed
        assert not [text for text in told_to(fake_slack, BOB) if "could not" in text]
        assert len([text for text in dms_to(fake_slack, ALICE) if "approved your :palm_tree:" in text]) == 1
    else:
        assert status == "pending"
        [told] = told_to(fake_slack, BOB)
        assert told.startswith("Sorry, I could not record your approval: Slack kept failing") and "try again" in told
        assert not [text for text in dms_to(fake_slack, ALICE) if "approved" in text]
    assert len(fake_slack.workspace.messages(C_ENG)) == (1 if status == "approved" else 0)


# --- In the request: a form Slack fails to open ------------------------------------------------

# Slack in trouble (`service_unavailable` at HTTP 200 too, as at 503): the form may have opened.
MAY_HAVE_OPENED = {"http_500", "http_503", "gateway_502_html", "internal_error", "fatal_error", "request_timeout",
                   "service_unavailable", "answer_lost", "dropped", *MANGLED_200}
LIMITED = {"rate_limited_429", "ratelimited_http_200"}


@pytest.mark.parametrize("fault", PASSING_FAULTS)
@pytest.mark.parametrize("way_in", list(WAYS_IN))
def test_a_form_slack_fails_to_open_is_answered_at_once_and_the_person_told_what_to_do(client, fake_slack, way_in,
                                                                                      fault):
    way = WAYS_IN[way_in]
    install_config()
    way.prepare(client, fake_slack)
    fake_slack.clear_calls()
    with failing(fake_slack, lambda method, params: method == way.method, fault) as met:
        started = time.monotonic()
        response = way.send(client, fake_slack)
        elapsed = time.monotonic() - started

    assert response.status_code == 200, response.content
    assert elapsed < 2.9  # nothing waits out a Retry-After or retries inside Slack's 3 s
    assert len(met) == 1  # one try: the trigger_id opens one view
    if way.told is None:
        return  # the preview says nothing: the next change of the form redraws it
    [said] = way.told(fake_slack, response)
    if fault in LIMITED:
        assert "please wait a minute, then" in said, said
    elif fault in ("dropped", *MANGLED_200):  # no answer of Slack's whole: nothing of Slack's to quote
        assert said.startswith("The connection to Slack failed: if ") and "didn't open, please" in said, said
    elif fault in MAY_HAVE_OPENED:
        assert said.startswith("Slack had trouble answering (") and "didn't open, please" in said, said
    else:
        assert "again" in said, said
    assert not re.search(r"[a-z]Error\b", said), said  # Slack's error codes, never a Python class name
