"""A Slack that fails at random, as the real one sometimes does: nothing is lost, nothing is done twice.

Every background Web API call (posting, updating, reading the ledger, the
directory, App Home) meets, at random with a fixed seed, one of Slack's ways of
failing: a 429 with Retry-After, a 500 that did nothing, an `internal_error`,
a write that Slack made but whose answer was lost (a 500 after acting), or a
call made after which the connection closed with no answer (as a proxy resetting
it, or a timeout, leaves the client). People
request time off, an approver approves or rejects, requesters withdraw,
cancel and edit. Then, whatever the dice said:

- no request is in the ledger twice, and none is there that nobody sent;
- nobody is told that what they asked for did not happen when it did ("did not
  reach your approvers", "it is unchanged");
- whatever did not happen, the person who asked was told (or told that it
  could not be confirmed);
- no thread reply, announcement or digest is posted twice.

An ephemeral note that fails is sent again (Slack cannot be asked whether it
arrived: ephemerals are not kept), so it may arrive twice; it is spared the
faults that make a call and lose its answer, or the counts of what people were
told would blur. A DM a task sends is not spared: one in doubt is looked for in
the person's DM before it is sent again.
The retries' sleeps are skipped (the counts and kinds of retries stay as
configured). The forms open without faults: views.open answers inside the
request, where a failure is only "try again" (test_acknowledgement).
"""

import random
from dataclasses import replace
from datetime import date, datetime, timedelta
from datetime import time as dt_time
from decimal import Decimal
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
from django.core.management import CommandError, call_command

from approvals import block_ids as ids
from approvals.ledger_format import request_metadata
from approvals.rules import LedgerEntry
from fake_slack.personas import C_ENG, C_ENG_APPROVALS
from fake_slack.server import DROPPED
from test_support.flows import (
    ALICE,
    BOB,
    DAVE,
    ENGINEERING,
    MONDAY,
    install_config,
    open_request_form,
    request_values,
    standard_config,
    submit_request,
)
from test_support.slack_requests import block_actions_payload, post_command, post_interaction, view_submission_payload

pytestmark = pytest.mark.django_db

# Called from background tasks only; views.* answer the request and are left alone (see above).
UNRELIABLE = {"chat.postMessage", "chat.update", "chat.postEphemeral", "conversations.history",
              "conversations.replies", "conversations.members", "conversations.info", "users.info",
              "auth.test", "views.publish"}
WRITES = {"chat.postMessage", "chat.update"}
REQUESTS = 8


def unreliable(fake_slack, dice: random.Random, failure_rate: float):
    """Make `fake_slack` fail its background calls at `failure_rate`, each way as likely."""
    real_handle = fake_slack.handle

    def handle(method, params, headers):
        if method not in UNRELIABLE or dice.random() >= failure_rate:
            return real_handle(method, params, headers)
        way = dice.choice(["ratelimited", "server_error", "internal_error", "answer_lost", "dropped"])
        if way in ("answer_lost", "dropped") and method == "chat.postEphemeral":
            way = "server_error"  # an ephemeral note is spared what makes it and loses the answer
        if way == "ratelimited":
            return 429, {"Retry-After": "1"}, {"ok": False, "error": "ratelimited"}
        if way == "server_error":
            return 500, {}, {"ok": False, "error": "fatal_error"}
        if way == "internal_error":
            return 200, {}, {"ok": False, "error": "internal_error"}
        answer = real_handle(method, params, headers)
        if way == "dropped":
            return DROPPED, {}, answer[2]  # made, then the connection closed with no answer
        if method in WRITES and answer[2].get("ok"):
            return 500, {}, {"ok": False, "error": "fatal_error"}  # made, but nobody heard
        return answer

    fake_slack.handle = handle


def assert_no_notice_twice(fake_slack) -> None:
    """No reply twice in a request's thread, and no post twice in the announce channel (its texts name
    the person and the days)."""
    places = [[m.text for m in fake_slack.workspace.messages(C_ENG)]]
    for message in ledger(fake_slack):
        places.append([m.text for m in fake_slack.workspace.replies(C_ENG_APPROVALS, message.ts)
                       if m.ts != message.ts])
    for posts in places:
        twice = {text for text in posts if posts.count(text) > 1}
        assert not twice, twice


def ledger(fake_slack) -> list:
    return [m for m in fake_slack.workspace.messages(C_ENG_APPROVALS)
            if m.metadata and m.metadata.get("event_type") == "timeoff_request"]


def delivered_dms(fake_slack, user: str) -> list[str]:
    return [m.text for m in fake_slack.workspace.messages(user)]


def delivered_ephemerals(fake_slack, user: str) -> list[str]:
    return [e.text for e in fake_slack.workspace.ephemerals if e.user == user]


def approve(client, message) -> None:
    actions = next(b for b in message.blocks if b.get("type") == "actions")
    value = next(b["value"] for b in actions["elements"] if b["action_id"] == ids.APPROVE_ACTION)
    payload = block_actions_payload(user_id=BOB, action_id=ids.APPROVE_ACTION, value=value, channel_id=message.channel,
                                    message_ts=message.ts, block_id=ids.DECISION_BLOCK)
    assert post_interaction(client, payload).status_code == 200


@pytest.mark.parametrize("seed", range(1, 13))
def test_nothing_is_lost_or_done_twice_when_slack_fails_at_random(client, fake_slack, no_sleeping, seed):
    install_config()
    sent = {}  # the request's dates -> who sent it
    for n in range(REQUESTS):
        user = (ALICE, DAVE)[n % 2]
        view = open_request_form(client, fake_slack, user)
        unreliable(fake_slack, random.Random(seed * 1000 + n), failure_rate=0.45)
        day = MONDAY + timedelta(days=1, weeks=n)  # Tuesdays: no Californian holiday among them
        response = submit_request(client, user, view, request_values("vacation", day, day), view_id=f"V_REQ{n}")
        del fake_slack.handle
        assert response.status_code == 200 and response.content == b"", response.content
        sent[day.isoformat()] = user

    by_day = {}
    for message in ledger(fake_slack):
        payload = message.metadata["event_payload"]
        assert payload["start"] not in by_day, f"posted twice: {payload}"
        by_day[payload["start"]] = payload
    assert set(by_day) <= set(sent)
    for user in (ALICE, DAVE):
        missing = [day for day, sender in sent.items() if sender == user and day not in by_day]
        dms = delivered_dms(fake_slack, user)
        not_sent = [text for text in dms if "did not reach your approvers" in text]
        unconfirmed = [text for text in dms if "could not confirm" in text]
        assert len(not_sent) <= len(missing), (missing, not_sent)  # a request posted is never called lost
        assert len(not_sent) + len(unconfirmed) >= len(missing), (missing, dms)  # nor one lost left untold
        receipts = [text for text in dms if "I'll let you know when they decide" in text]
        posted = [day for day, payload in by_day.items() if payload["user"] == user]
        assert len(receipts) <= len(posted), (posted, receipts)  # no receipt twice, though Slack lost answers

    clicked = [m for m in ledger(fake_slack) if m.metadata["event_payload"]["status"] == "pending"]
    unreliable(fake_slack, random.Random(seed), failure_rate=0.45)
    for message in clicked:
        approve(client, message)
    del fake_slack.handle

    after = {m.ts: m.metadata["event_payload"] for m in ledger(fake_slack)}
    assert len(after) == len(by_day)  # an approval rewrites its message: none added, none lost
    unapproved = []
    for message in clicked:
        payload = after[message.ts]
        if payload["status"] == "approved":
            assert payload["decided_by"] == BOB
        else:
            assert payload["status"] == "pending", payload
            unapproved.append(payload["start"])
    told_bob = delivered_ephemerals(fake_slack, BOB) + delivered_dms(fake_slack, BOB)
    not_recorded = [text for text in told_bob if "record your approval" in text]
    unconfirmed = [text for text in told_bob if "confirm that your approval" in text]
    assert len(not_recorded) <= len(unapproved), (unapproved, not_recorded)
    assert len(not_recorded) + len(unconfirmed) >= len(unapproved), (unapproved, told_bob)
    assert_no_notice_twice(fake_slack)


def own_leave_buttons(client, user: str) -> list[tuple[str, str, str]]:
    """(request id, action id, value) of each Withdraw / Cancel leave button in `/timeoff list`."""
    response = post_command(client, "list", user_id=user)
    assert response.status_code == 200
    found = []
    for block in response.json().get("blocks", []):
        if block.get("type") == "actions" and block.get("block_id", "").startswith(ids.LIST_BLOCK_PREFIX):
            for button in block["elements"]:
                if button["action_id"] in (ids.WITHDRAW_ACTION, ids.CANCEL_ACTION):
                    found.append((block["block_id"], button["action_id"], button["value"]))
    return found


@pytest.mark.parametrize("seed", range(1, 9))
def test_withdrawals_and_cancellations_are_done_once_or_told_when_slack_fails_at_random(client, fake_slack,
                                                                                        no_sleeping, seed):
    install_config()
    for n in range(4):  # delivered and (half of them) approved while Slack is well
        user = (ALICE, DAVE)[n % 2]
        view = open_request_form(client, fake_slack, user)
        day = MONDAY + timedelta(days=1, weeks=n)
        assert submit_request(client, user, view, request_values("vacation", day, day),
                              view_id=f"V_REQ{n}").content == b""
    for message in ledger(fake_slack)[:2]:
        approve(client, message)
    before = {m.metadata["event_payload"]["id"]: m.metadata["event_payload"] for m in ledger(fake_slack)}
    assert len(before) == 4 and sorted(p["status"] for p in before.values()) == ["approved", "approved",
                                                                                 "pending", "pending"]
    buttons = {user: own_leave_buttons(client, user) for user in (ALICE, DAVE)}

    unreliable(fake_slack, random.Random(seed), failure_rate=0.6)
    for user, pressed in buttons.items():
        for block_id, action_id, value in pressed:
            payload = block_actions_payload(user_id=user, action_id=action_id, value=value, block_id=block_id,
                                            channel_id="D_X", message_ts="1766000000.000200")
            assert post_interaction(client, payload).status_code == 200
    del fake_slack.handle

    after = {m.metadata["event_payload"]["id"]: m.metadata["event_payload"] for m in ledger(fake_slack)}
    assert set(after) == set(before)  # a change rewrites its message: none added, none lost
    for user in (ALICE, DAVE):
        unchanged = [request_id for request_id, payload in after.items()
                     if payload["user"] == user and payload["status"] != "cancelled"]
        told = delivered_dms(fake_slack, user) + delivered_ephemerals(fake_slack, user)
        not_done = [text for text in told if "that request" in text and "It is unchanged" in text]
        unconfirmed = [text for text in told if "could not confirm" in text]
        assert len(not_done) <= len(unchanged), (unchanged, not_done)  # a change made is never called undone
        assert len(not_done) + len(unconfirmed) >= len(unchanged), (unchanged, told)
    for payload in after.values():
        if payload["status"] == "cancelled":
            assert payload["decided_by"] == payload["user"]
    assert_no_notice_twice(fake_slack)


def press_in(client, user: str, blocks: list, action_id: str, request_id: str) -> None:
    """Press `action_id` on request `request_id`'s row of a list."""
    block = next(b for b in blocks if b.get("block_id") == f"{ids.LIST_BLOCK_PREFIX}{request_id}")
    value = next(e["value"] for e in block["elements"] if e["action_id"] == action_id)
    payload = block_actions_payload(user_id=user, action_id=action_id, value=value, block_id=block["block_id"],
                                    channel_id="D_X", message_ts="1766000000.000200")
    assert post_interaction(client, payload).status_code == 200


@pytest.mark.parametrize("seed", range(1, 9))
def test_edits_and_rejections_are_done_once_or_told_when_slack_fails_at_random(client, fake_slack, no_sleeping,
                                                                               seed):
    install_config()
    for n in range(4):  # delivered while Slack is well
        user = (ALICE, DAVE)[n % 2]
        view = open_request_form(client, fake_slack, user)
        day = MONDAY + timedelta(days=1, weeks=n)
        assert submit_request(client, user, view, request_values("vacation", day, day),
                              view_id=f"V_REQ{n}").content == b""
    before = {m.metadata["event_payload"]["id"]: m for m in ledger(fake_slack)}
    assert len(before) == 4
    edited, rejected = {}, []
    for n, (request_id, message) in enumerate(before.items()):
        payload = message.metadata["event_payload"]
        if n < 2:  # its requester makes it two days: the form opens (views.open answers in the request)...
            press_in(client, payload["user"], post_command(client, "list", user_id=payload["user"]).json()["blocks"],
                     ids.EDIT_ACTION, request_id)
            form = fake_slack.last_call("views.open").params["view"]
            start = MONDAY.fromisoformat(payload["start"])
            values = request_values("vacation", start, start + timedelta(days=1))
            unreliable(fake_slack, random.Random(seed * 100 + n), failure_rate=0.6)  # ... and is sent
            response = post_interaction(client, view_submission_payload(
                user_id=payload["user"], view=form, values=values, view_id=f"V_EDIT{n}"))
            del fake_slack.handle
            assert response.status_code == 200 and response.content == b"", response.content
            edited[request_id] = (start + timedelta(days=1)).isoformat()
        else:  # the approver rejects it with a reason
            actions = next(b for b in message.blocks if b.get("type") == "actions")
            value = next(b["value"] for b in actions["elements"] if b["action_id"] == ids.REJECT_ACTION)
            assert post_interaction(client, block_actions_payload(
                user_id=BOB, action_id=ids.REJECT_ACTION, value=value, channel_id=message.channel,
                message_ts=message.ts, block_id=ids.DECISION_BLOCK)).status_code == 200
            modal = fake_slack.last_call("views.open").params["view"]
            reason = {ids.REASON_BLOCK: {ids.REASON_ACTION: {"type": "plain_text_input", "value": "Release week"}}}
            unreliable(fake_slack, random.Random(seed * 100 + n), failure_rate=0.6)
            response = post_interaction(client, view_submission_payload(
                user_id=BOB, view=modal, values=reason, view_id=f"V_REJ{n}"))
            del fake_slack.handle
            assert response.status_code == 200 and response.content == b"", response.content
            rejected.append(request_id)

    after = {m.metadata["event_payload"]["id"]: m.metadata["event_payload"] for m in ledger(fake_slack)}
    assert set(after) == set(before)  # rewritten, never posted again
    for user in (ALICE, DAVE):
        not_edited = [i for i, end in edited.items() if after[i]["user"] == user and after[i]["end"] != end]
        told = [m.text for m in fake_slack.workspace.messages(user)]
        not_done = [text for text in told if "could not edit your request" in text]
        unconfirmed = [text for text in told if "confirm that your edit" in text]
        assert len(not_done) <= len(not_edited), (not_edited, not_done)
        assert len(not_done) + len(unconfirmed) >= len(not_edited), (not_edited, told)
        for request_id, end in edited.items():
            if after[request_id]["user"] == user and after[request_id]["end"] == end:
                assert after[request_id]["status"] == "pending"
    not_rejected = [i for i in rejected if after[i]["status"] != "rejected"]
    told_bob = delivered_ephemerals(fake_slack, BOB) + delivered_dms(fake_slack, BOB)
    not_recorded = [text for text in told_bob if "record your rejection" in text]
    unconfirmed = [text for text in told_bob if "confirm that your rejection" in text]
    assert len(not_recorded) <= len(not_rejected), (not_rejected, not_recorded)
    assert len(not_recorded) + len(unconfirmed) >= len(not_rejected), (not_rejected, told_bob)
    for request_id in rejected:
        if after[request_id]["status"] == "rejected":
            assert (after[request_id]["decided_by"], after[request_id]["reason"]) == (BOB, "Release week")
    assert_no_notice_twice(fake_slack)


# --- The daily jobs ------------------------------------------------------------------------------


def tick(moment, *, may_fail: bool = False) -> None:
    """`run_jobs --at moment` for the team; it fails (for cron to see) when a job failed."""
    try:
        call_command("run_jobs", "--at", moment.isoformat(), "--team", "Engineering", stdout=StringIO())
    except CommandError:
        if not may_fail:
            raise


@pytest.mark.parametrize("seed", range(1, 7))
def test_each_daily_job_is_done_at_a_later_tick_when_slack_failed_at_random(fake_slack, no_sleeping, settings,
                                                                              seed):
    # What a tick could not do while Slack failed, a later tick of the same period does (DESIGN §6: each
    # job once per team per period), and what was done is not done again. A failed job's claim is taken
    # over once it is JOB_RUN_STALE_SECONDS old (30 minutes of the real clock): here at the next tick.
    settings.JOB_RUN_STALE_SECONDS = 0
    la = ZoneInfo("America/Los_Angeles")
    friday, monday, tuesday = date(2031, 3, 7), date(2031, 3, 10), date(2031, 3, 11)
    install_config(standard_config(teams=(replace(ENGINEERING, digest_time=dt_time(9, 0), nudge_after_hours=48),)))
    post_request(fake_slack, ALICE, monday, date(2031, 3, 12), "approved")  # reminded Friday, out Mon-Wed
    waiting_since = datetime(2031, 3, 8, 9, 0, tzinfo=la).timestamp()
    post_request(fake_slack, DAVE, date(2031, 3, 20), date(2031, 3, 20), "pending", ts=f"{waiting_since:.6f}")

    for day, hour in ((friday, 15), (monday, 9), (tuesday, 9), (tuesday, 10)):
        moment = datetime(day.year, day.month, day.day, hour, 0, tzinfo=la)
        unreliable(fake_slack, random.Random(seed * 10 + hour), failure_rate=0.6)
        tick(moment, may_fail=True)
        del fake_slack.handle
        tick(moment + timedelta(minutes=30))  # Slack well again

    reminders = [text for text in delivered_dms(fake_slack, ALICE) if "starts on Mon 10 Mar" in text]
    digests = [m.text for m in fake_slack.workspace.messages(C_ENG) if "Who's out" in m.text]
    out_today = [m.text for m in fake_slack.workspace.messages(C_ENG) if "Out today (Tue 11 Mar)" in m.text]
    nudges = [text for text in delivered_dms(fake_slack, BOB) if "waiting for a decision" in text]
    assert len(reminders) == 1 and len(nudges) == 1  # DMs: looked for in the DM before being sent again
    assert len(digests) == 1 and len(out_today) == 1  # posts: looked for before being made again


def post_request(fake_slack, user: str, start: date, end: date, status: str, ts: str | None = None) -> None:
    entry = LedgerEntry(id=f"{user}-{start}", user=user, team="Engineering", leave_type="vacation", start=start,
                        end=end, start_half=None, end_half=None, days=Decimal((end - start).days + 1), status=status,
                        decided_by=BOB if status != "pending" else None)
    fake_slack.workspace.post_message(C_ENG_APPROVALS, f"<@{user}> requests time off", metadata=request_metadata(entry),
                                      ts=ts)
