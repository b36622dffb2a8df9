"""Today's four changes, reviewed as the people they touch see them: a message's claim as a lease then a
30-day mark, with a notice's doubt noted before it is posted (40f91f2); an adjustment folded in by a task when
the cached ledger's update failed (8828110); the metadata keys a newer release added, carried on by a rewrite
(LedgerEntry.extra); and a requester told once that their change is unconfirmed (settle_told_key).

Where a change holds up, a test here says so and keeps it so: a post Slack refused (a 429, a refusal for
good, a bug of ours) spends no look in the person's DM on its retry, a give-up after 429s says "I couldn't"
and not "it may have reached you", an adjustment folded in twice or in half days counts once and exactly,
a newer release's keys never reach a DM, App Home or the export, and a change told "unconfirmed" after an
earlier one was settled is told again. Where it does not, the test fails and its comment says what a
person meets.

Tasks wait as rows and run on a simulated clock (test_support.simulated_time). The database cache (and
Redis, in CI's second run) keeps time by the real clock: where a claim's lease must run out, the test
shortens it (`TASK_STUCK_AFTER_SECONDS`, of which it is half) and waits for it.
"""

import csv
import io
import json
import re
import time

import pytest
from django.core.cache import cache
from django.db import OperationalError
from django.urls import reverse
from django_tasks_db.models import DBTaskResult
from slack_sdk import WebClient

from approvals import block_ids as ids
from approvals import ledger_reader, notifications, request_services, tasks
from approvals.balance_services import CHECKING_TEXT
from approvals.cache_lock import LockBusy
from approvals.config_store import current_config
from fake_slack.personas import C_ENG, C_ENG_APPROVALS, CAROL, HR
from test_support.command_answers import balance_of, vacation_line
from test_support.console_pages import hr_with_the_standard_configuration
from test_support.direct_messages import dm_channel, is_decision
from test_support.flows import (
    ALICE,
    BOB,
    MONDAY,
    dms_to,
    install_config,
    press,
    request_status,
    request_time_off,
)
from test_support.person_steps import send_user_change
from test_support.posted import press_approve, the_request
from test_support.simulated_time import work_through_the_queue
from test_support.slack_faults import failing
from test_support.slack_requests import event_envelope, post_command, post_event

pytestmark = pytest.mark.django_db


def a_pending_request(client, fake_slack, clock) -> str:
    install_config()
    request_time_off(client, fake_slack, ALICE, note="Ski week")
    work_through_the_queue(clock)
    return the_request(fake_slack).metadata["event_payload"]["id"]


def decision_dms(fake_slack) -> list[str]:
    return [text for text in dms_to(fake_slack, ALICE) if is_decision(text)]


def looks_in_the_dm_of(fake_slack, user: str) -> list:
    """conversations.history calls in `user`'s DM with the app: the look for a post Slack may have made."""
    return [call for call in fake_slack.calls("conversations.history")
            if call.params.get("channel") == dm_channel(user)]


class CacheRefusing:
    """The shared cache as `notifications` sees it, refusing one write (`set`) of `key` once: Redis blinking,
    SQLite's "database is locked", a PostgreSQL failover, at that moment."""

    def __init__(self, key: str):
        self.key, self.refused = key, 0

    def __getattr__(self, name):
        return getattr(cache, name)

    def set(self, key, *args, **kwargs):
        if key == self.key and not self.refused:
            self.refused += 1
            raise OperationalError("the database system is shutting down")
        return cache.set(key, *args, **kwargs)



def deactivation_dms_to_hr(fake_slack) -> list[str]:
    return [text for text in dms_to(fake_slack, HR) if "was deactivated" in text]


# --- once(): a lease while the effect runs, then a 30-day mark -------------------------------------------


def test_a_decision_dm_whose_done_mark_the_cache_refused_is_not_sent_again_by_a_later_attempt(
        client, fake_slack, clock, monkeypatch, settings):
    # Bob approves. Alice's decision DM goes out; as its lease is made the 30-day mark the cache blinks (the
    # write is refused), and once() only logs it. The announcement that follows meets Slack's 429 with a
    # Retry-After of ten minutes, so the task's next attempt comes after the lease has run out. That attempt
    # must find the DM (post_notice keeps its doubt mark until once() has marked the effect done), not tell
    # Alice a second time that her leave was approved (README "A worker dies", "Our own services blink").
    settings.TASK_STUCK_AFTER_SECONDS = 2  # 10 minutes in production; the lease is half of it
    request_id = a_pending_request(client, fake_slack, clock)
    refused = []
    real_renew = notifications.renew

    def renew_refused_once(key, token, timeout):  # the lease made the 30-day mark, in the shared cache
        if key == f"done:decision-dm:{request_id}:approved" and not refused:
            refused.append(key)
            raise OperationalError("the database system is shutting down")
        return real_renew(key, token, timeout)

    monkeypatch.setattr(notifications, "renew", renew_refused_once)
    real_handle = fake_slack.handle
    limited = []

    def announcement_rate_limited(method, params, headers):
        if (method == "chat.postMessage" and params.get("channel") == C_ENG and not params.get("thread_ts")
                and not limited):
            limited.append(params)
            return 429, {"Retry-After": "600"}, {"ok": False, "error": "ratelimited"}
        return real_handle(method, params, headers)

    fake_slack.handle = announcement_rate_limited
    try:
        press_approve(client, fake_slack)
        work_through_the_queue(clock, until=clock.monotonic() + 60)  # the first attempt, then Slack's wait
        assert limited and refused
        assert len(decision_dms(fake_slack)) == 1
        time.sleep(notifications.once_lease_seconds() + 1.5)  # Retry-After outlasts the lease (real clock)
        work_through_the_queue(clock)
    finally:
        del fake_slack.handle

    assert posts_to_announce(fake_slack), "the announcement never went out"
    assert len(decision_dms(fake_slack)) == 1, decision_dms(fake_slack)


def posts_to_announce(fake_slack) -> list[str]:
    return [call.params["text"] for call in fake_slack.calls("chat.postMessage")
            if call.params.get("channel") == C_ENG and call.response.get("ok")]


def test_hr_hears_of_a_second_deactivation_though_the_reactivation_came_while_the_first_dm_was_being_sent(
        client, fake_slack, clock, monkeypatch):
    # An admin deactivates Alice by mistake and reactivates her at once: the reactivation's event arrives
    # while the task telling HR of the first is still waiting for Slack's answer to its DM, and forgets
    # that DM's once-mark (forget_once) so that a later deactivation is told again. Before today the claim
    # was written before the DM and stayed forgotten; now once() writes the 30-day mark after the DM, over
    # the forgetting. When Alice really leaves a week later, HR must hear of it.
    a_pending_request(client, fake_slack, clock)
    real_post = WebClient.chat_postMessage
    reactivated = []

    def post(self, **params):
        response = real_post(self, **params)
        if params.get("channel") == HR and "was deactivated" in str(params.get("text")) and not reactivated:
            reactivated.append(True)  # Slack made the DM; its answer is on its way back
            send_user_change(client, fake_slack, ALICE, deleted=False, event_id="Ev_BACK_AT_ONCE")
        return response

    monkeypatch.setattr(WebClient, "chat_postMessage", post)
    send_user_change(client, fake_slack, ALICE, deleted=True, event_id="Ev_GONE_BY_MISTAKE")
    work_through_the_queue(clock)
    assert reactivated and len(deactivation_dms_to_hr(fake_slack)) == 1

    send_user_change(client, fake_slack, ALICE, deleted=True, event_id="Ev_GONE_FOR_GOOD")
    work_through_the_queue(clock)

    assert len(deactivation_dms_to_hr(fake_slack)) == 2, dms_to(fake_slack, HR)


def test_a_second_deactivation_after_a_reactivation_is_told_without_a_look_in_hrs_dm(client, fake_slack, clock):
    # forget_once forgets the doubt mark with the done mark: the DM sent anew posts anew, spending none of
    # conversations.history's budget on a look for the first.
    a_pending_request(client, fake_slack, clock)
    send_user_change(client, fake_slack, ALICE, deleted=True, event_id="Ev_GONE_1")
    work_through_the_queue(clock)
    send_user_change(client, fake_slack, ALICE, deleted=False, event_id="Ev_BACK")
    send_user_change(client, fake_slack, ALICE, deleted=True, event_id="Ev_GONE_2")
    work_through_the_queue(clock)

    assert len(deactivation_dms_to_hr(fake_slack)) == 2, dms_to(fake_slack, HR)
    assert looks_in_the_dm_of(fake_slack, HR) == []


# --- post_notice: the doubt noted before every post ----------------------------------------------------------


def test_a_decision_dm_answered_429_is_sent_once_by_the_retry_without_a_look(client, fake_slack, clock):
    # A 429 (its Retry-After too long to wait out in the call) posted nothing: its doubt mark is taken back,
    # and the retry posts without looking in Alice's DM.
    a_pending_request(client, fake_slack, clock)
    real_handle = fake_slack.handle
    limited = []

    def dm_rate_limited(method, params, headers):
        if (method == "chat.postMessage" and params.get("channel") == ALICE
                and "approved your" in str(params.get("text")) and len(limited) < 2):
            limited.append(params)
            return 429, {"Retry-After": "30"}, {"ok": False, "error": "ratelimited"}
        return real_handle(method, params, headers)

    fake_slack.handle = dm_rate_limited
    try:
        press_approve(client, fake_slack)
        work_through_the_queue(clock)
    finally:
        del fake_slack.handle

    assert len(limited) == 2
    assert len(decision_dms(fake_slack)) == 1, dms_to(fake_slack, ALICE)
    assert looks_in_the_dm_of(fake_slack, ALICE) == []


def test_a_decision_dm_whose_post_met_a_bug_of_ours_is_sent_once_later_without_a_look(client, fake_slack, clock,
                                                                                      monkeypatch):
    # Our own bug (a KeyError) raised from the post, after its doubt mark was noted: nothing reached Slack,
    # so the mark is taken back; the settle that follows the give-up sends the DM without a look.
    a_pending_request(client, fake_slack, clock)
    real_post = WebClient.chat_postMessage
    raised = []

    def post(self, **params):
        if params.get("channel") == ALICE and "approved your" in str(params.get("text")) and not raised:
            raised.append(True)
            raise KeyError("channel")
        return real_post(self, **params)

    monkeypatch.setattr(WebClient, "chat_postMessage", post)
    press_approve(client, fake_slack)
    work_through_the_queue(clock)

    assert raised
    assert len(decision_dms(fake_slack)) == 1, dms_to(fake_slack, ALICE)
    assert looks_in_the_dm_of(fake_slack, ALICE) == []


def test_a_note_slack_refused_as_an_ephemeral_comes_by_dm_without_a_look(client, fake_slack, clock):
    # Carol (no approver) presses Approve; Slack refuses the ephemeral "not an approver" for good, and the
    # note comes by DM under the same key: no look in her DM for a post never made.
    a_pending_request(client, fake_slack, clock)
    with failing(fake_slack, lambda method, params: method == "chat.postEphemeral", "user_not_in_channel",
                 times=None):
        press_approve(client, fake_slack, user=CAROL)
        work_through_the_queue(clock)

    assert len([text for text in dms_to(fake_slack, CAROL) if "not an approver" in text]) == 1, \
        dms_to(fake_slack, CAROL)
    assert looks_in_the_dm_of(fake_slack, CAROL) == []


def test_a_balance_answer_slack_rate_limited_until_the_give_up_is_told_as_not_sent(client, fake_slack, clock):
    # Every post of Alice's balance answer meets a 429: none was made. The give-up's last look
    # (posted_after_all) must say "not sent" without looking, so she reads "I couldn't", not "it may be above".
    install_config()
    real_handle = fake_slack.handle
    limited = []

    def answers_rate_limited(method, params, headers):
        if (method == "chat.postMessage" and params.get("channel") == ALICE
                and "Your leave in" in str(params.get("text"))):
            limited.append(params)
            return 429, {"Retry-After": "30"}, {"ok": False, "error": "ratelimited"}
        return real_handle(method, params, headers)

    fake_slack.handle = answers_rate_limited
    try:
        response = post_command(client, "balance", user_id=ALICE)
        assert response.json()["text"] == CHECKING_TEXT
        work_through_the_queue(clock)
    finally:
        del fake_slack.handle

    assert len(limited) > 1
    sorry = [text for text in dms_to(fake_slack, ALICE) if text.startswith("Sorry")]
    assert len(sorry) == 1 and "I couldn't work out your balance" in sorry[0], sorry
    assert looks_in_the_dm_of(fake_slack, ALICE) == []


def test_a_dm_slack_made_is_not_sent_again_because_the_cache_refused_to_keep_the_dm_channels_id(
        client, fake_slack, clock, monkeypatch):
    # Slack made Alice's decision DM and answered; post_notice settled its doubt mark, then kept her DM
    # channel's id (`dm-channel:`) and the cache refused that write. _settled's own comment says "our cache
    # failing now is no failure of the post", but this write's failure is raised as the post's: the claim
    # is given back and the next attempt, finding no doubt, posts the DM again. (Older than today: the
    # write came after the post before too; the doubt mark noted before the post now could have caught it.)
    a_pending_request(client, fake_slack, clock)
    refusing = CacheRefusing(f"dm-channel:{ALICE}")
    monkeypatch.setattr(notifications, "cache", refusing)
    press_approve(client, fake_slack)
    work_through_the_queue(clock)

    assert refusing.refused == 1
    assert len(decision_dms(fake_slack)) == 1, decision_dms(fake_slack)


# --- LedgerEntry.extra: a newer release's keys, carried on ------------------------------------------------

MARKER = "newer-release-marker-7Q"


def a_request_a_newer_release_wrote(client, fake_slack, clock, extra: dict) -> str:
    """Alice's pending request, its metadata carrying keys this release does not know (as a newer release
    writes them, during a rolling deploy or after a rollback). Returns the message's ts."""
    install_config()
    request_time_off(client, fake_slack, ALICE, note="Ski week")
    work_through_the_queue(clock)
    ts = the_request(fake_slack).ts
    with fake_slack.workspace.lock:
        fake_slack.workspace.find_message(C_ENG_APPROVALS, ts).metadata["event_payload"].update(extra)
    return ts


def withdraw_on_the_receipt(client, fake_slack):
    receipt = next(call for call in fake_slack.calls("chat.postMessage")
                   if call.params.get("channel") == ALICE and "is with" in str(call.params.get("text")))
    press(client, ALICE, receipt.params["blocks"], ids.WITHDRAW_ACTION, channel=receipt.response["channel"],
          ts=receipt.response["ts"])


def test_a_withdrawal_keeps_the_keys_a_newer_release_wrote(client, fake_slack, clock):
    # The commit names decision, withdrawal and edit; its tests cover the approval and the edit.
    ts = a_request_a_newer_release_wrote(client, fake_slack, clock, {"source": {"system": "hris", "ref": 42}})
    withdraw_on_the_receipt(client, fake_slack)
    work_through_the_queue(clock)

    payload = fake_slack.workspace.message(C_ENG_APPROVALS, ts).metadata["event_payload"]
    assert (payload["status"], payload["decided_by"]) == ("cancelled", ALICE), payload
    assert payload["source"] == {"system": "hris", "ref": 42}, payload


@pytest.mark.parametrize("extra,kept", [
    ({"tags": ["q2", {"k": [1, 2.5, True]}], "place": "Zürich ✈", "big": 2 ** 53},
     {"tags": ["q2", {"k": [1, 2.5, True]}], "place": "Zürich ✈", "big": 2 ** 53}),
    ({"flag": None}, {"flag": None}),
    ({"source": {"system": "hris", "ref": None}}, {"source": {"system": "hris"}}),
], ids=["nested-unicode-big", "null", "null-inside"])
def test_approving_a_request_with_a_newer_releases_keys_keeps_it_in_the_ledger(client, fake_slack, clock, extra,
                                                                               kept):
    # Whatever a newer release's key holds, Bob's approval must leave a record in the ledger. A null is
    # what ledger_format's own rule never sends ("never sent as null": Slack documents strings, numbers and
    # booleans), and the fake, reading Slack's rules strictly, keeps no metadata with a null anywhere: were
    # the keys written back null and all, chat.update would drop the whole metadata and Alice's approved
    # leave would leave the ledger. They are written back without their nulls (a null reads as missing).
    ts = a_request_a_newer_release_wrote(client, fake_slack, clock, extra)
    press_approve(client, fake_slack)
    work_through_the_queue(clock)

    message = fake_slack.workspace.message(C_ENG_APPROVALS, ts)
    assert message.metadata is not None, "the approval's rewrite left the request without its record"
    payload = message.metadata["event_payload"]
    assert (payload["status"], payload["decided_by"]) == ("approved", BOB), payload
    assert {key: payload.get(key) for key in extra} == kept, payload


def app_home_of(client, fake_slack, clock, user: str, event_id: str) -> dict:
    """`user` opens the app's Home tab; the view published for them once the queue has run."""
    post_event(client, event_envelope({"type": "app_home_opened", "user": user, "channel": "D_HOME", "tab": "home",
                                       "event_ts": "1766000000.000300"}, event_id=event_id))
    work_through_the_queue(clock)
    view = [call for call in fake_slack.calls("views.publish") if call.params["user_id"] == user][-1].params["view"]
    return json.loads(view) if isinstance(view, str) else view


def test_a_newer_releases_keys_reach_no_dm_no_app_home_and_no_export(client, fake_slack, clock, admin_client):
    # They are carried, never read: nothing a person sees shows them, and the export still works.
    ts = a_request_a_newer_release_wrote(client, fake_slack, clock, {"source": {"system": MARKER, "ref": 42},
                                                                     "label": MARKER})
    home_pending = app_home_of(client, fake_slack, clock, BOB, "Ev_HOME_BOB")
    press_approve(client, fake_slack)
    work_through_the_queue(clock)
    home_after = app_home_of(client, fake_slack, clock, ALICE, "Ev_HOME_ALICE")
    admin_client.raise_request_exception = False
    exported = admin_client.get(reverse("console:ledger_export"), {"download": "1", "year": str(MONDAY.year)})

    assert request_status(fake_slack)["label"] == MARKER  # carried on
    assert exported.status_code == 200, exported.content[:500]
    rows = list(csv.reader(io.StringIO(exported.content.decode())))
    assert any(fake_slack.workspace.message(C_ENG_APPROVALS, ts).metadata["event_payload"]["id"] in row
               for row in rows)
    assert MARKER not in exported.content.decode()
    shown = [call.params for method in ("chat.postMessage", "chat.postEphemeral", "views.publish")
             for call in fake_slack.calls(method)]
    shown += [call.params for call in fake_slack.calls("chat.update")
              if call.params.get("channel") != C_ENG_APPROVALS]  # the receipt; the request's own is the record
    assert not [params for params in shown if MARKER in json.dumps(params.get("text", "")) + json.dumps(
        params.get("blocks", "")) + json.dumps(params.get("view", ""))], "a newer release's key was shown"
    assert "Vacation" in json.dumps(home_pending) and "Vacation" in json.dumps(home_after)  # the request is shown
    assert MARKER not in json.dumps(home_pending) + json.dumps(home_after)


def test_the_ledger_cache_and_the_pending_set_keep_a_newer_releases_keys(client, fake_slack, clock):
    # The approval's write is laid over the cached ledger with its extra keys; a later rewrite from the
    # cache (or a release reading the pending set's plain tuple) has them too.
    ts = a_request_a_newer_release_wrote(client, fake_slack, clock, {"source": {"system": "hris", "ref": 42}})
    request_id = fake_slack.workspace.message(C_ENG_APPROVALS, ts).metadata["event_payload"]["id"]
    press_approve(client, fake_slack)
    work_through_the_queue(clock)

    cached = ledger_reader.person_view(current_config(), ALICE).entries[request_id]
    assert dict(cached.extra) == {"source": {"system": "hris", "ref": 42}}, cached
    assert ledger_reader.entry_from_plain(ledger_reader.entry_as_plain(cached)).extra == cached.extra
    ledger_reader.pending_add(cached)
    [pending] = [entry for entry in ledger_reader.pending_entries([cached.team]) if entry.id == request_id]
    assert pending.extra == cached.extra


# --- fold_adjustment --------------------------------------------------------------------------------------

ADJUST_URL = "/console/balances/adjust"


@pytest.fixture
def hr(admin_client, fake_slack):
    return hr_with_the_standard_configuration(admin_client)


def days_left(client, fake_slack) -> float:
    line = vacation_line(balance_of(client, fake_slack, ALICE, MONDAY.year))
    return float(re.search(r"([\d.]+) days? left", line).group(1))


def record_adjustment(hr, days: str) -> None:
    page = hr.get(ADJUST_URL)
    hidden = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page.content.decode()))
    response = hr.post(ADJUST_URL, {**hidden, "user": "alice@example.com", "leave_type": "vacation", "days": days,
                                    "year": str(MONDAY.year), "reason": "carry-over"}, follow=True)
    assert response.status_code == 200
    said = [str(message) for message in response.context["messages"]]
    assert any(message.startswith("Recorded") for message in said), said


class CacheUpdateFailing:
    """ledger_reader.record_adjustment fails the first `times` times (None: until `answers_again`)."""

    def __init__(self, monkeypatch, times: int | None, fault: Exception):
        self.real, self.times, self.fault, self.tries, self.failing = (
            ledger_reader.record_adjustment, times, fault, [], True)
        monkeypatch.setattr(ledger_reader, "record_adjustment", self.update)

    def update(self, adjustment):
        self.tries.append(adjustment)
        if self.failing and (self.times is None or len(self.tries) <= self.times):
            raise self.fault
        return self.real(adjustment)

    def answers_again(self):
        self.failing = False


@pytest.mark.parametrize("days", ["0.5", "-2.5", "2"])
def test_an_adjustment_folded_in_by_its_task_twice_counts_once_and_exactly(hr, client, fake_slack, clock,
                                                                           monkeypatch, days):
    # The fold task's row run twice (recovered after its worker died once it had folded): the balance
    # moves by the adjustment once, half days and negative ones kept exact through the float of the
    # metadata and the task's JSON arguments.
    request_time_off(client, fake_slack, ALICE)
    work_through_the_queue(clock)
    before = days_left(client, fake_slack)
    CacheUpdateFailing(monkeypatch, 1, LockBusy("lock ledger is busy"))  # the page's own update
    record_adjustment(hr, days)
    [row] = DBTaskResult.objects.filter(task_path__endswith=".fold_adjustment")
    work_through_the_queue(clock)
    tasks.fold_adjustment.enqueue(*row.args_kwargs["args"])  # the same row, run again
    work_through_the_queue(clock)

    assert days_left(client, fake_slack) == before + float(days)


def test_an_adjustment_whose_fold_task_gave_up_shows_in_the_balance_once_the_cache_answers(hr, client, fake_slack,
                                                                                           clock, monkeypatch):
    # README (console, Record leave): the fold task is retried while the cache does not answer (ten attempts
    # over about 40 minutes); when it gives up, it reads the ledger's new messages instead, which finds the
    # adjustment, so Alice's balance holds the 2 days HR was told were "Recorded" without waiting for someone
    # to open the form. The ledger's reads run on the real clock: its channels are due for an incremental
    # read (they would be, 40 minutes on) with its interval set to nothing.
    monkeypatch.setattr(ledger_reader, "INCREMENTAL_EVERY_SECONDS", 0)
    request_time_off(client, fake_slack, ALICE)
    work_through_the_queue(clock)
    before = days_left(client, fake_slack)
    update = CacheUpdateFailing(monkeypatch, None, OperationalError("Redis is loading"))
    record_adjustment(hr, "2")
    work_through_the_queue(clock)
    assert len(update.tries) > 2  # the page's try, then the task's until it gave up
    assert not DBTaskResult.objects.filter(task_path__endswith=".fold_adjustment", status="READY").exists()
    update.answers_again()

    assert days_left(client, fake_slack) == before + 2


# --- settle_told_key: told once that a change is unconfirmed --------------------------------------------

CHANGE_GIVES_UP_WITHIN = 170  # the change task's six attempts with their backoff, and a little more


def withdrawal_rewrites_failing_then_history_unreadable(fake_slack):
    """Each rewrite of the request fails (not made), and once one was tried Slack will not show the
    approvals channel's history: the withdrawal's task gives up unconfirmed."""
    real_handle = fake_slack.handle
    tried = []

    def half_down(name, params, headers):
        if name == "conversations.history" and tried:
            return 500, {}, {"ok": False, "error": "fatal_error"}
        if name == "chat.update" and params.get("channel") == C_ENG_APPROVALS:
            tried.append(params)
            return 500, {}, {"ok": False, "error": "fatal_error"}
        return real_handle(name, params, headers)

    return half_down


def dms_saying(fake_slack, words: str) -> list[str]:
    return [message.text for message in fake_slack.workspace.messages(ALICE) if words in message.text]


@pytest.mark.parametrize("settled_by", ["this release", "the release before"])
def test_a_second_withdrawal_after_the_first_was_settled_is_told_unconfirmed_too(client, fake_slack, clock,
                                                                                no_backoff, monkeypatch,
                                                                                settled_by):
    # Alice withdraws; Slack fails the rewrite and will not show the request: she is told "I could not
    # confirm", and the settle that follows tells her it was not recorded after all. She presses Withdraw
    # again, Slack fails the same way: this is a new press, and she must be told "I could not confirm" about
    # it too, not left in silence while its settle retries (up to 40 minutes).
    # During a rolling deploy (README "Upgrades") the first settle may be run by a worker of the release
    # before, whose settle_over deletes only the claim (`cache.delete(key)`): the told mark this release
    # wrote then outlives the settle, for SETTLE_TOLD_SECONDS (15 minutes; a second here, and the second
    # press comes after it), never for the settle's two hours.
    from approvals import change_services

    monkeypatch.setattr(change_services, "SETTLE_TOLD_SECONDS", 1)
    install_config()
    request_time_off(client, fake_slack, ALICE)
    work_through_the_queue(clock)
    release_before = [False]
    this_release_settle_over = request_services.settle_over
    monkeypatch.setattr(request_services, "settle_over",
                        lambda key: cache.delete(key) if release_before[0] else this_release_settle_over(key))

    for press_number in (1, 2):
        fake_slack.handle = withdrawal_rewrites_failing_then_history_unreadable(fake_slack)
        try:
            withdraw_on_the_receipt(client, fake_slack)
            work_through_the_queue(clock, until=clock.monotonic() + CHANGE_GIVES_UP_WITHIN)
        finally:
            del fake_slack.handle
        assert len(dms_saying(fake_slack, "could not confirm that your withdrawal")) == press_number, \
            dms_saying(fake_slack, "")
        release_before[0] = settled_by == "the release before"
        work_through_the_queue(clock)  # Slack answers again: the settle looks, and tells her
        release_before[0] = False
        time.sleep(2.5)  # past the told mark's life (the database cache keeps whole seconds)
        assert request_status(fake_slack)["status"] == "pending"
        assert len(dms_saying(fake_slack, "withdrawal was not recorded after all")) == press_number
