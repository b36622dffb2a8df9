"""The reliability and security bar (DESIGN §8) and "nothing is lost" (DESIGN §2.4), as Slack stresses them.

Each promise is checked end to end: signed requests to our three endpoints, the fake Slack as a real HTTP
server with its faults. The combinations here are the ones a day on a real, half-failing Slack brings
together: a fault on the second call of a flow rather than the first, a refusal for good after a success
was written, a long Retry-After on a follow-up after the ledger holds the decision, the reject form while
Slack is slow, a stale button whose re-read meets a rate limit, Slack retrying an event, and typed text
(`<!channel>`, `<@U…>`, `<https://x|y>`, `&amp;`) in the messages that tell people something failed.
"""

import json
import re
import threading
import time
from urllib.parse import urlencode

import pytest
from django.tasks import TaskResultStatus

from approvals import block_ids as ids
from approvals.models import DeliveryProblem
from fake_slack.personas import C_ENG, C_ENG_APPROVALS, HR
from test_support.flows import (
    ALICE,
    BOB,
    DAVE,
    press,
    dms_to,
    install_config,
    posted_requests,
    request_time_off,
)
from test_support.slack_faults import failing, slow
from test_support.slack_requests import (
    block_actions_payload,
    event_envelope,
    post_event,
    post_interaction,
    post_signed,
    signature_headers,
    view_submission_payload,
)

pytestmark = pytest.mark.django_db

# What a person may type that Slack's mrkdwn acts on, and a literal entity that must be shown as typed.
TYPED = "Fish &amp; chips <!channel> <@U_EVIL> <https://x.example|y> <!here>"
PINGS_OR_LINKS = re.compile(r"<(?:!channel|!here|!everyone|@U_EVIL|https://x\.example[^>]*)>")


# --- helpers -------------------------------------------------------------------------------------


def the_request(fake_slack):
    [message] = [m for m in fake_slack.workspace.messages(C_ENG_APPROVALS)
                 if (m.metadata or {}).get("event_type") == "timeoff_request"]
    return message


def requests_in_the_ledger(fake_slack) -> list:
    return [m for m in fake_slack.workspace.messages(C_ENG_APPROVALS)
            if (m.metadata or {}).get("event_type") == "timeoff_request"]


def status_of(fake_slack) -> str:
    return the_request(fake_slack).metadata["event_payload"]["status"]


def thread_of(fake_slack) -> list[str]:
    message = the_request(fake_slack)
    return [m.text for m in fake_slack.workspace.replies(C_ENG_APPROVALS, message.ts) if m.ts != message.ts]


def told_to(fake_slack, user) -> list[str]:
    """Everything `user` was told: ephemeral notes and the messages in their DM with the app, as they stand."""
    return ([e.text for e in fake_slack.workspace.ephemerals if e.user == user]
            + [m.text for m in fake_slack.workspace.messages(user)])


def announcements(fake_slack) -> list[str]:
    return [m.text for m in fake_slack.workspace.messages(C_ENG)]


def press_on(client, user, message, action_id):
    actions = next(b for b in message.blocks if b.get("type") == "actions")
    value = next(b["value"] for b in actions["elements"] if b["action_id"] == action_id)
    payload = block_actions_payload(user_id=user, action_id=action_id, value=value, channel_id=C_ENG_APPROVALS,
                                    message_ts=message.ts, block_id=actions["block_id"])
    return post_interaction(client, payload)


def submit_reason(client, user, form, reason, *, view_id="V_REASON"):
    form = json.loads(form) if isinstance(form, str) else form
    values = {ids.REASON_BLOCK: {ids.REASON_ACTION: {"type": "plain_text_input", "value": reason}}}
    return post_interaction(client, view_submission_payload(user_id=user, view=form, values=values, view_id=view_id))


def is_post_to(channel):
    return lambda method, params: (method == "chat.postMessage" and params.get("channel") == channel
                                   and not params.get("thread_ts"))


def is_dm_to_alice_saying(words):
    return lambda method, params: (method == "chat.postMessage" and params.get("channel") == ALICE
                                   and words in str(params.get("text")))


def is_thread_reply(method, params):
    return method == "chat.postMessage" and bool(params.get("thread_ts"))


def is_decision_rewrite(method, params):
    return method == "chat.update" and params.get("channel") == C_ENG_APPROVALS


def mrkdwn_of(call) -> list[str]:
    """The text and every mrkdwn text object of a message the app sent."""
    found = [call.params["text"]] if isinstance(call.params.get("text"), str) else []

    def walk(value):
        if isinstance(value, dict):
            if value.get("type") == "plain_text":
                return
            for key, item in value.items():
                if key == "text" and isinstance(item, str):
                    found.append(item)
                else:
                    walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(call.params.get("blocks") or [])
    return found


def everything_sent_in_mrkdwn(fake_slack) -> list[str]:
    return [text for call in fake_slack.calls() if call.method in ("chat.postMessage", "chat.update",
                                                                   "chat.postEphemeral")
            for text in mrkdwn_of(call)]


def assert_nothing_typed_pings_or_links(fake_slack):
    sent = everything_sent_in_mrkdwn(fake_slack)
    assert sent
    for text in sent:
        assert not PINGS_OR_LINKS.search(text), text


# --- Signatures and sizes: refused before anything happens --------------------------------------


@pytest.mark.parametrize("path", ["/slack/commands", "/slack/interactions", "/slack/events"])
def test_a_correctly_signed_body_over_the_size_limit_is_refused_and_nothing_reaches_slack(client, fake_slack,
                                                                                            settings, path):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    fake_slack.clear_calls()
    posted = the_request(fake_slack)
    actions = next(b for b in posted.blocks if b.get("type") == "actions")
    value = next(b["value"] for b in actions["elements"] if b["action_id"] == ids.APPROVE_ACTION)
    # A real approval, padded past the limit with a field Slack's payloads may carry (the message's text).
    payload = block_actions_payload(user_id=BOB, action_id=ids.APPROVE_ACTION, value=value,
                                    channel_id=C_ENG_APPROVALS, message_ts=posted.ts, block_id=actions["block_id"])
    payload["message"]["text"] = "x" * (settings.SLACK_MAX_BODY_BYTES + 10)
    body = urlencode({"payload": json.dumps(payload)})

    response = post_signed(client, path, body)

    assert response.status_code == 413
    assert b"Traceback" not in response.content
    assert fake_slack.calls() == []  # nothing parsed, nothing enqueued, nothing called
    assert status_of(fake_slack) == "pending"


@pytest.mark.parametrize("forgery", ["signed for another body", "signed six minutes ago", "wrong secret"])
def test_an_approval_click_with_a_bad_signature_decides_nothing(client, fake_slack, forgery):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    posted = the_request(fake_slack)
    fake_slack.clear_calls()
    actions = next(b for b in posted.blocks if b.get("type") == "actions")
    value = next(b["value"] for b in actions["elements"] if b["action_id"] == ids.APPROVE_ACTION)
    body = urlencode({"payload": json.dumps(block_actions_payload(
        user_id=BOB, action_id=ids.APPROVE_ACTION, value=value, channel_id=C_ENG_APPROVALS, message_ts=posted.ts,
        block_id=actions["block_id"]))}).encode()
    if forgery == "signed for another body":
        headers = signature_headers(body.replace(b"U_BOB", b"U_ALI"))
    elif forgery == "signed six minutes ago":
        headers = signature_headers(body, timestamp=int(time.time()) - 6 * 60)
    else:
        headers = signature_headers(body, secret="0" * 32)

    response = client.post("/slack/interactions", data=body, content_type="application/x-www-form-urlencoded",
                           headers=headers)

    assert response.status_code == 401
    assert b"Traceback" not in response.content
    assert fake_slack.calls() == []
    assert status_of(fake_slack) == "pending"
    assert not [text for text in dms_to(fake_slack, ALICE) if "approved your" in text]


# --- A fault on the second call of a flow ------------------------------------------------------


def test_a_long_rate_limit_on_the_receipt_after_the_request_was_posted_delivers_it_once(client, fake_slack,
                                                                                       no_sleeping, attempts):
    """The request's post is Slack's first chat.postMessage of the delivery; the receipt DM, the second,
    meets a 429 whose Retry-After is longer than a call waits out."""
    install_config()
    fake_slack.rate_limit("chat.postMessage", retry_after=40, times=1, after=1)

    request_time_off(client, fake_slack, ALICE, note="Ski week")

    assert len(requests_in_the_ledger(fake_slack)) == 1
    assert len(posted_requests(fake_slack)) == 1  # not posted a second time by the retry
    alice = told_to(fake_slack, ALICE)
    assert len([text for text in alice if "is with" in text]) == 1, alice  # her receipt, once
    assert not [text for text in alice if "did not reach" in text or "could not confirm" in text], alice
    assert ("deliver_request", 1, TaskResultStatus.FAILED) in attempts
    assert DeliveryProblem.objects.count() == 0


def test_a_gateway_error_on_the_second_history_page_never_refuses_a_request(client, fake_slack, no_sleeping):
    """The ledger is read page by page: the first page answers, the second meets a load balancer's 502."""
    install_config()
    fake_slack.workspace.history_page_cap = 15
    for i in range(40):  # enough chatter in the channel for several pages
        fake_slack.workspace.post_message(C_ENG_APPROVALS, f"chatter {i}", user=BOB)
    fake_slack.gateway_error("conversations.history", status=502, times=1, after=1)

    request_time_off(client, fake_slack, ALICE)

    assert [c for c in fake_slack.calls("conversations.history") if c.fault == "gateway"]  # the second page failed

    assert len(requests_in_the_ledger(fake_slack)) == 1
    alice = told_to(fake_slack, ALICE)
    assert not [text for text in alice if "did not reach" in text or "couldn't read" in text], alice
    assert DeliveryProblem.objects.count() == 0


def test_a_rate_limit_on_the_thread_reply_after_the_rewrite_leaves_one_decision_and_everything_said_once(
        client, fake_slack, no_sleeping, attempts):
    """The decision's rewrite is made; its thread reply (the decision's second write) meets a long 429."""
    install_config()
    request_time_off(client, fake_slack, ALICE)
    posted = the_request(fake_slack)
    real = fake_slack.handle
    met = []

    def long_rate_limit(method, params, headers):
        if is_thread_reply(method, params) and not met:
            met.append(params)
            return 429, {"Retry-After": "45"}, {"ok": False, "error": "ratelimited"}
        return real(method, params, headers)

    fake_slack.handle = long_rate_limit
    try:
        assert press_on(client, BOB, posted, ids.APPROVE_ACTION).status_code == 200
    finally:
        del fake_slack.handle
    assert met

    assert status_of(fake_slack) == "approved"
    assert thread_of(fake_slack) == [f"Approved by <@{BOB}>"]
    assert len(announcements(fake_slack)) == 1
    assert len([text for text in dms_to(fake_slack, ALICE) if "approved your" in text]) == 1
    assert not [text for text in told_to(fake_slack, BOB) if "could not" in text]
    assert ("decide_request", 1, TaskResultStatus.FAILED) in attempts


def test_a_long_rate_limit_on_the_decision_dm_after_the_ledger_write_sends_it_once_later(client, fake_slack,
                                                                                        no_sleeping, attempts):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    posted = the_request(fake_slack)
    real = fake_slack.handle
    limited = []

    def dm_rate_limited(method, params, headers):
        if is_dm_to_alice_saying("approved your")(method, params) and not limited:
            limited.append(params)
            return 429, {"Retry-After": "60"}, {"ok": False, "error": "ratelimited"}
        return real(method, params, headers)

    fake_slack.handle = dm_rate_limited
    try:
        assert press_on(client, BOB, posted, ids.APPROVE_ACTION).status_code == 200
    finally:
        del fake_slack.handle

    assert limited
    assert status_of(fake_slack) == "approved"
    assert len([c for c in fake_slack.calls("chat.update") if c.params.get("channel") == C_ENG_APPROVALS]) == 1
    assert len([text for text in dms_to(fake_slack, ALICE) if "approved your" in text]) == 1
    assert thread_of(fake_slack) == [f"Approved by <@{BOB}>"]
    assert len(announcements(fake_slack)) == 1
    assert told_to(fake_slack, BOB) == []  # nothing failed in the end
    assert ("decide_request", 1, TaskResultStatus.FAILED) in attempts


# --- A refusal for good after a success was written ------------------------------------------------


@pytest.mark.parametrize("error", ["account_inactive", "user_disabled", "cannot_dm_bot"])
def test_a_decision_dm_refused_for_good_still_leaves_the_thread_announcement_and_receipt_done(client, fake_slack,
                                                                                           no_sleeping, error):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    posted = the_request(fake_slack)

    with failing(fake_slack, is_dm_to_alice_saying("approved your"), error, times=None) as met:
        assert press_on(client, BOB, posted, ids.APPROVE_ACTION).status_code == 200
    assert met

    assert status_of(fake_slack) == "approved"
    assert thread_of(fake_slack) == [f"Approved by <@{BOB}>"]
    assert len(announcements(fake_slack)) == 1  # the refused DM did not stop the announcement
    assert [c for c in fake_slack.calls("chat.update") if str(c.params.get("channel")).startswith("D")]  # receipt
    told = told_to(fake_slack, BOB)
    assert not [text for text in told if "could not record" in text], told
    problem = DeliveryProblem.objects.get()
    assert problem.error == error and not problem.undelivered


def test_a_thread_reply_refused_for_good_after_the_rewrite_never_tells_the_approver_it_failed(client, fake_slack,
                                                                                           no_sleeping):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    posted = the_request(fake_slack)

    with failing(fake_slack, is_thread_reply, "is_archived", times=None) as met:
        assert press_on(client, BOB, posted, ids.APPROVE_ACTION).status_code == 200
    assert met

    assert status_of(fake_slack) == "approved"
    assert len([text for text in dms_to(fake_slack, ALICE) if "approved your" in text]) == 1
    assert len(announcements(fake_slack)) == 1
    told = told_to(fake_slack, BOB)
    assert not [text for text in told if "could not record" in text or "nothing was" in text.lower()], told
    problem = DeliveryProblem.objects.get()
    assert problem.error == "is_archived" and not problem.undelivered


def test_a_revoked_token_after_the_request_was_posted_is_never_recorded_as_undelivered(client, fake_slack,
                                                                                      no_sleeping):
    """Slack posted the request; then the app's token stops working (an admin revoked it) before the receipt."""
    install_config()
    with failing(fake_slack, is_dm_to_alice_saying("is with"), "invalid_auth", times=None) as met:
        request_time_off(client, fake_slack, ALICE)
    assert met

    assert len(requests_in_the_ledger(fake_slack)) == 1
    assert not [text for text in told_to(fake_slack, ALICE) if "did not reach" in text]
    assert not DeliveryProblem.objects.filter(undelivered=True).exists()  # HR is not asked to have it sent again
    assert DeliveryProblem.objects.get().error == "invalid_auth"


# --- Slow Slack -----------------------------------------------------------------------------------


def test_the_reject_form_slack_opened_too_slowly_still_records_the_reason_given_in_it_once(client, fake_slack,
                                                                                        no_backoff):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    posted = the_request(fake_slack)

    with slow(fake_slack, lambda method, params: method == "views.open", 2.0) as met:
        started = time.monotonic()
        response = press_on(client, BOB, posted, ids.REJECT_ACTION)
        elapsed = time.monotonic() - started
    assert met

    assert response.status_code == 200 and elapsed < 3.0  # answered inside Slack's 3 s
    [said] = told_to(fake_slack, BOB)
    assert "didn't open" in said and "Reject again" in said  # never "it failed": it may well be open
    # The form did open: Bob gives his reason in it.
    assert submit_reason(client, BOB, fake_slack.last_call("views.open").params["view"], "Release week").content == b""

    assert status_of(fake_slack) == "rejected"
    [reply] = thread_of(fake_slack)
    assert "Release week" in reply
    assert len([text for text in dms_to(fake_slack, ALICE) if "rejected your" in text and "Release week" in text]) == 1


def test_a_reason_submitted_while_slack_answers_the_rewrite_too_late_is_recorded_once(client, fake_slack,
                                                                                   no_backoff, one_second_clients):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    posted = the_request(fake_slack)
    assert press_on(client, BOB, posted, ids.REJECT_ACTION).status_code == 200
    form = fake_slack.last_call("views.open").params["view"]

    with slow(fake_slack, is_decision_rewrite, 1.5) as met:
        response = submit_reason(client, BOB, form, "Release week")
    assert met and response.status_code == 200 and response.content == b""

    assert status_of(fake_slack) == "rejected"
    assert len(thread_of(fake_slack)) == 1 and "Release week" in thread_of(fake_slack)[0]
    assert len([text for text in dms_to(fake_slack, ALICE) if "rejected your" in text]) == 1
    told = told_to(fake_slack, BOB)
    assert not [text for text in told if "could not record" in text], told


# --- Stale buttons and several approvers ---------------------------------------------------------------


@pytest.mark.parametrize("fault", ["rate_limited_429", "ratelimited_http_200", "internal_error", "http_503"])
def test_a_stale_approve_after_a_rejection_is_never_applied_though_the_re_read_fails_for_a_moment(
        client, fake_slack, no_sleeping, fault):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    as_first_posted = the_request(fake_slack)
    assert press_on(client, BOB, as_first_posted, ids.REJECT_ACTION).status_code == 200
    assert submit_reason(client, BOB, fake_slack.last_call("views.open").params["view"], "Release week").content == b""
    assert status_of(fake_slack) == "rejected"

    # Dave's channel still shows the message as first posted: he presses its Approve, and the first read of
    # the request meets Slack's passing fault.
    with failing(fake_slack, lambda method, params: method in ("conversations.history", "conversations.replies"),
                 fault, times=1):
        assert press_on(client, DAVE, as_first_posted, ids.APPROVE_ACTION).status_code == 200

    assert status_of(fake_slack) == "rejected"
    assert the_request(fake_slack).metadata["event_payload"].get("decided_by") == BOB
    alice = dms_to(fake_slack, ALICE)
    assert not [text for text in alice if "approved your" in text], alice
    assert len(announcements(fake_slack)) == 0
    assert len(thread_of(fake_slack)) == 1


@pytest.mark.django_db(transaction=True)
def test_an_approval_and_a_rejection_at_once_while_slack_is_slow_make_one_decision(client, fake_slack, no_backoff):
    from django.test import Client

    install_config()
    request_time_off(client, fake_slack, ALICE)
    posted = the_request(fake_slack)
    assert press_on(client, DAVE, posted, ids.REJECT_ACTION).status_code == 200
    form = fake_slack.last_call("views.open").params["view"]
    fake_slack.latency(0.3)  # every call of both decisions is slow: they overlap

    results = {}

    def bob_approves():
        results["bob"] = press_on(Client(), BOB, posted, ids.APPROVE_ACTION).status_code

    def dave_rejects():
        results["dave"] = submit_reason(Client(), DAVE, form, "Release week").status_code

    threads = [threading.Thread(target=bob_approves), threading.Thread(target=dave_rejects)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    fake_slack.latency(0)

    assert results == {"bob": 200, "dave": 200}
    status = status_of(fake_slack)
    assert status in ("approved", "rejected")
    assert len(thread_of(fake_slack)) == 1
    alice = dms_to(fake_slack, ALICE)
    assert len([text for text in alice if "approved your" in text or "rejected your" in text]) == 1, alice
    assert len(announcements(fake_slack)) == (1 if status == "approved" else 0)
    loser = DAVE if status == "approved" else BOB
    assert [text for text in told_to(fake_slack, loser) if "already" in text], told_to(fake_slack, loser)


# --- Duplicate events -------------------------------------------------------------------------------


def test_an_approvals_channel_archived_once_and_retried_by_slack_tells_hr_once(client, fake_slack, no_sleeping):
    install_config()
    event = {"type": "group_archive", "channel": C_ENG_APPROVALS, "user": BOB, "event_ts": "1766000000.000500"}
    # The first delivery's HR DM meets a rate limit; Slack, not hearing from us fast enough, retries the event.
    fake_slack.rate_limit("chat.postMessage", retry_after=1, times=1)
    for retry in (None, 1, 2):
        response = post_event(client, event_envelope(event, event_id="Ev_ARCHIVED"), retry_num=retry)
        assert response.status_code in (200, 503)

    assert [c for c in fake_slack.calls("chat.postMessage") if c.status == 429]  # the rate limit was met

    to_hr = [text for text in told_to(fake_slack, HR) if "archived" in text]
    assert len(to_hr) == 1, told_to(fake_slack, HR)


# --- Typed text, where people are told something failed ---------------------------------------------


def test_a_note_shown_back_when_slack_refused_the_request_pings_nobody(client, fake_slack, no_sleeping):
    install_config()
    with failing(fake_slack, is_post_to(C_ENG_APPROVALS), "channel_not_found", times=None):
        request_time_off(client, fake_slack, ALICE, note=TYPED)

    assert requests_in_the_ledger(fake_slack) == []
    [told] = [text for text in dms_to(fake_slack, ALICE) if "did not reach your approvers" in text]
    assert "Fish &amp;amp; chips" in told  # shown as she typed it, `&amp;` and all
    assert "&lt;!channel&gt;" in told
    assert_nothing_typed_pings_or_links(fake_slack)


def test_a_note_shown_back_when_slack_kept_failing_the_post_pings_nobody(client, fake_slack, no_sleeping):
    install_config()
    with failing(fake_slack, is_post_to(C_ENG_APPROVALS), "http_503", times=None):
        request_time_off(client, fake_slack, ALICE, note=TYPED)

    assert requests_in_the_ledger(fake_slack) == []
    [told] = [text for text in dms_to(fake_slack, ALICE) if "did not reach your approvers" in text]
    assert "Fish &amp;amp; chips" in told and "&lt;@U_EVIL&gt;" in told
    assert_nothing_typed_pings_or_links(fake_slack)


def test_a_note_shown_back_when_slack_posted_but_would_not_confirm_it_pings_nobody(client, fake_slack,
                                                                                 no_sleeping):
    install_config()
    real = fake_slack.handle

    def half_down(method, params, headers):
        if method == "conversations.history" and requests_in_the_ledger(fake_slack):
            return 500, {}, {"ok": False, "error": "fatal_error"}
        status, extra, body = real(method, params, headers)
        if is_post_to(C_ENG_APPROVALS)(method, params) and body.get("ok"):
            return 500, extra, {"ok": False, "error": "fatal_error"}
        return status, extra, body

    fake_slack.handle = half_down
    try:
        request_time_off(client, fake_slack, ALICE, note=TYPED)
    finally:
        del fake_slack.handle

    assert len(requests_in_the_ledger(fake_slack)) == 1  # Slack posted it once, whatever it answered
    alice = dms_to(fake_slack, ALICE)
    assert not [text for text in alice if "did not reach" in text], alice
    assert_nothing_typed_pings_or_links(fake_slack)


def test_a_typed_entity_survives_a_decision_rewrite_after_a_failed_first_try(client, fake_slack, no_sleeping):
    """The note lives only in the message: each rewrite reads it back, and must show what she typed, once."""
    install_config()
    request_time_off(client, fake_slack, ALICE, note=TYPED)
    posted = the_request(fake_slack)
    first_note = [t for t in mrkdwn_of(posted_requests(fake_slack)[0]) if "Fish" in t]
    assert first_note and "Fish &amp;amp; chips" in first_note[0]

    with failing(fake_slack, is_decision_rewrite, "internal_error", times=1):
        assert press_on(client, BOB, posted, ids.APPROVE_ACTION).status_code == 200

    assert status_of(fake_slack) == "approved"
    rewritten = [b["text"]["text"] for b in the_request(fake_slack).blocks
                 if isinstance(b.get("text"), dict) and "Fish" in b["text"].get("text", "")]
    assert rewritten and "Fish &amp;amp; chips" in rewritten[0], rewritten
    assert "&amp;amp;amp;" not in rewritten[0] and "&amp;lt;" not in rewritten[0]  # escaped once, not twice
    assert_nothing_typed_pings_or_links(fake_slack)


def test_a_reject_reason_with_pings_is_inert_when_the_rejection_could_not_be_recorded(client, fake_slack,
                                                                                    no_sleeping):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    posted = the_request(fake_slack)
    assert press_on(client, BOB, posted, ids.REJECT_ACTION).status_code == 200
    form = fake_slack.last_call("views.open").params["view"]

    with failing(fake_slack, is_decision_rewrite, "http_503", times=None):
        assert submit_reason(client, BOB, form, TYPED).content == b""

    assert status_of(fake_slack) == "pending"
    told = told_to(fake_slack, BOB)
    assert [text for text in told if "could not record your rejection" in text], told
    assert not [text for text in dms_to(fake_slack, ALICE) if "rejected" in text]
    assert_nothing_typed_pings_or_links(fake_slack)


# --- Changing one's own leave while Slack half fails -----------------------------------------------


def receipt_of(fake_slack):
    [receipt] = [m for m in fake_slack.workspace.messages(ALICE) if m.blocks and any(
        b.get("type") == "actions" for b in m.blocks)]
    return receipt


@pytest.mark.parametrize("fault", ["rate_limited_429", "ratelimited_http_200", "fatal_error", "answer_lost"])
def test_cancelling_approved_leave_whose_thread_note_fails_for_a_moment_is_done_and_told_once(client, fake_slack,
                                                                                           no_sleeping, fault):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    assert press_on(client, BOB, the_request(fake_slack), ids.APPROVE_ACTION).status_code == 200
    assert status_of(fake_slack) == "approved"
    receipt = receipt_of(fake_slack)
    replies_before = len(thread_of(fake_slack))

    with failing(fake_slack, is_thread_reply, fault, times=2) as met:
        press(client, ALICE, receipt.blocks, ids.CANCEL_ACTION, channel=receipt.channel, ts=receipt.ts)
    assert met

    assert status_of(fake_slack) == "cancelled"
    assert len(requests_in_the_ledger(fake_slack)) == 1
    new_replies = thread_of(fake_slack)[replies_before:]
    assert len(new_replies) == 1, new_replies  # the approvers hear of it once
    alice = told_to(fake_slack, ALICE)
    assert not [text for text in alice if "could not" in text or "couldn't" in text], alice
    assert DeliveryProblem.objects.count() == 0


@pytest.mark.parametrize("fault", ["rate_limited_429", "internal_error", "dropped"])
def test_withdrawing_a_request_when_the_second_rewrite_fails_for_a_moment_withdraws_it_once(client, fake_slack,
                                                                                         no_sleeping, fault):
    """Withdrawing rewrites the request's message and then her receipt: the second rewrite meets the fault."""
    install_config()
    request_time_off(client, fake_slack, ALICE)
    receipt = receipt_of(fake_slack)

    with failing(fake_slack, lambda method, params: method == "chat.update" and params.get("channel") == receipt.channel,
                 fault, times=2) as met:
        press(client, ALICE, receipt.blocks, ids.WITHDRAW_ACTION, channel=receipt.channel, ts=receipt.ts)
    assert met

    assert status_of(fake_slack) == "cancelled"  # a withdrawn request is cancelled in the ledger
    assert len([c for c in fake_slack.calls("chat.update") if c.params.get("channel") == C_ENG_APPROVALS]) == 1
    alice = told_to(fake_slack, ALICE)
    assert not [text for text in alice if "could not" in text or "couldn't" in text], alice
    assert not [text for text in told_to(fake_slack, BOB) if text], told_to(fake_slack, BOB)


def test_a_request_posted_before_the_app_was_uninstalled_is_not_listed_for_hr_as_never_delivered(
        client, fake_slack, no_sleeping, monkeypatch):
    """The request is posted; its receipt meets a 503, and before the delivery's next attempt Slack tells us
    the app was uninstalled (its tokens revoked): the next attempt is skipped. The request is in the ledger,
    so HR must not be asked to have it sent again."""
    from approvals import task_queue

    install_config()
    with failing(fake_slack, is_dm_to_alice_saying("is with"), "http_503", times=None) as met:
        real_access_lost = task_queue.slack_access_lost
        monkeypatch.setattr(task_queue, "slack_access_lost",
                            lambda: "app_uninstalled" if met else real_access_lost())
        request_time_off(client, fake_slack, ALICE)
    assert met

    assert len(requests_in_the_ledger(fake_slack)) == 1
    assert not DeliveryProblem.objects.filter(undelivered=True).exists(), list(
        DeliveryProblem.objects.values("error", "summary", "undelivered"))


def test_a_request_whose_post_failed_before_the_app_was_uninstalled_is_listed_for_hr_to_look_for_first(
        client, fake_slack, no_sleeping, monkeypatch):
    """The post to the approvals channel meets a 503 (Slack may have made it), then the app is uninstalled
    before the next attempt: HR's problem says it is unconfirmed, so they look before having it sent again."""
    from approvals import task_queue

    install_config()

    def is_the_post(method, params):
        return method == "chat.postMessage" and params.get("channel") == C_ENG_APPROVALS

    with failing(fake_slack, is_the_post, "http_503", times=None) as met:
        real_access_lost = task_queue.slack_access_lost
        monkeypatch.setattr(task_queue, "slack_access_lost",
                            lambda: "app_uninstalled" if met else real_access_lost())
        request_time_off(client, fake_slack, ALICE)
    assert met

    [problem] = DeliveryProblem.objects.all()
    assert problem.error == "unconfirmed: skipped: app_uninstalled", problem.error
