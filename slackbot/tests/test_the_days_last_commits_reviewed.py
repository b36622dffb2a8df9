"""The day's last commits reviewed at their edges, through the real endpoints and the fake Slack.

c82d13d: the `maybe-rewritten:` mark names the rewrite tried (RewriteTried: status before, after, who);
write_change and the give-ups read it (rewrite_was_this_change, rewrite_maybe_made(tried=...)). A rolling
deploy mixes it with the release before's `1`.
e1a3319: a reminder says "today" or "tomorrow" as of when its DM is sent (job_services.reminders_send).
d4bb285: once() no longer drops a post's doubt mark; the doubt lasts POSTED_DOUBT_SECONDS after the post.
da7f6d4: the settle claim is a lease until its task is queued (request_services.settle_queued).
"""

import json
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core.cache import cache
from django.utils import timezone as django_timezone

from approvals import block_ids as ids
from approvals import directory, notifications
from approvals.change_services import maybe_rewritten_key
from approvals.rules import LedgerEntry
from approvals.slack_clients import background_client
from fake_slack.personas import HR
from test_support.flows import (
    ALICE,
    BOB,
    DAVE,
    ENGINEERING,
    MONDAY,
    buttons_in,
    click,
    install_config,
    posted_requests,
    request_time_off,
    request_values,
    standard_config,
)
from test_support.half_down_slack import HalfDownSlack, dm_texts, the_entry, thread
from test_support.job_runs import post_entry, run_jobs
from test_support.person_steps import ephemerals, list_press, listed, send, send_user_change
from test_support.simulated_time import simulated_clock, work_through_the_queue
from test_support.slack_requests import block_actions_payload, view_submission_payload

pytestmark = pytest.mark.django_db

CHANGE_GIVES_UP_WITHIN = 170  # the change task's six attempts and their backoff, and a little more
COULD_NOT_CONFIRM = "could not confirm"
FRIDAY = MONDAY + timedelta(days=4)


@pytest.fixture
def slack(fake_slack, clock):
    half_down = HalfDownSlack(fake_slack, clock)
    fake_slack.handle = half_down.handle
    yield half_down
    del fake_slack.handle


def as_view(view) -> dict:
    return json.loads(view) if isinstance(view, str) else view


def alices_request(client, fake_slack, clock, *, approved: bool = False) -> tuple[str, str]:
    install_config()
    request_time_off(client, fake_slack, ALICE)
    work_through_the_queue(clock)
    [receipt] = fake_slack.workspace.messages(ALICE)
    if approved:
        approve(client, fake_slack, clock)
    return receipt.channel, receipt.ts


def approve(client, fake_slack, clock) -> None:
    [posted] = posted_requests(fake_slack)
    assert click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted).status_code == 200
    work_through_the_queue(clock)
    assert the_entry(fake_slack)["status"] == "approved"


def receipt_press(fake_slack, receipt_at: tuple[str, str], action_id: str, user: str = ALICE,
                  pressed_at: str | None = None) -> dict:
    message = fake_slack.workspace.message(*receipt_at)
    block_id, value = buttons_in(message.blocks)[action_id]
    payload = block_actions_payload(user_id=user, action_id=action_id, value=value, block_id=block_id,
                                    channel_id=receipt_at[0], message_ts=receipt_at[1])
    if pressed_at:
        payload["actions"][0]["action_ts"] = pressed_at
    return payload






def told(fake_slack, user: str) -> list[str]:
    return ephemerals(fake_slack, user) + dm_texts(fake_slack, user)


def told_since(fake_slack, user: str, before: tuple[int, int]) -> list[str]:
    """What `user` was told (ephemerals in #general, DMs) after `before` (told_so_far)."""
    return ephemerals(fake_slack, user)[before[0]:] + dm_texts(fake_slack, user)[before[1]:]


def told_so_far(fake_slack, user: str) -> tuple[int, int]:
    return len(ephemerals(fake_slack, user)), len(dm_texts(fake_slack, user))


def withdrawn_told(fake_slack, user: str = ALICE) -> list[str]:
    return [t for t in told(fake_slack, user) if t.startswith(":white_check_mark: Withdrawn")]


def alice_cancels_from_her_receipt(client, fake_slack, clock, receipt_at) -> None:
    send(client, receipt_press(fake_slack, receipt_at, ids.CANCEL_ACTION))
    work_through_the_queue(clock)
    entry = the_entry(fake_slack)
    assert (entry["status"], entry["decided_by"]) == ("cancelled", ALICE)


# --- c82d13d: the rewrite mark in a rolling deploy ---------------------------------------------------------


def test_the_rewrite_mark_is_a_plain_truthy_tuple_the_release_before_can_read(client, fake_slack, clock):
    # The release before reads the mark only for its truth, and unpickles it without RewriteTried.
    receipt_at = alices_request(client, fake_slack, clock, approved=True)
    alice_cancels_from_her_receipt(client, fake_slack, clock, receipt_at)

    mark = cache.get(maybe_rewritten_key(the_entry(fake_slack)["id"]))

    assert type(mark) is tuple and bool(mark)
    assert mark == ("approved", "cancelled", ALICE)


def test_a_stale_withdraw_press_after_a_cancellation_the_release_before_marked_is_not_told_withdrawn(
        client, fake_slack, clock):
    # Rolling deploy: Alice's cancellation of her approved leave ran on a worker of the release before, which
    # marked the rewrite `1` (and, once written, change-written for her cancellation). Her `/timeoff list`
    # from while it was pending still offers Withdraw; she presses it, and a worker of this release takes it.
    # Nothing was ever withdrawn: she must not read ":white_check_mark: Withdrawn: your …".
    install_config()
    request_time_off(client, fake_slack, ALICE)
    work_through_the_queue(clock)
    old_list = listed(client, fake_slack, clock, "list", ALICE)
    [receipt] = fake_slack.workspace.messages(ALICE)
    approve(client, fake_slack, clock)
    alice_cancels_from_her_receipt(client, fake_slack, clock, (receipt.channel, receipt.ts))
    cache.set(maybe_rewritten_key(the_entry(fake_slack)["id"]), 1, 24 * 3600)  # as the release before wrote it
    replies_before = thread(fake_slack)
    clock.move_on(600)

    send(client, list_press(old_list, ids.WITHDRAW_ACTION, ALICE, pressed_at="1766000600.000300"))
    work_through_the_queue(clock)

    assert withdrawn_told(fake_slack) == [], told(fake_slack, ALICE)
    assert thread(fake_slack) == replies_before


def test_a_cancellation_the_release_before_made_but_did_not_follow_up_is_followed_up_by_this_release(
        client, fake_slack, clock, slack, no_backoff):
    # Alice cancels; Slack makes the rewrite and its answer is lost (a 500), and Slack will not show the
    # channel for a while. The mark is the release before's `1` (its worker tried the rewrite). A worker of
    # this release runs the task's retries: once Slack is back, the thread says it was cancelled, once.
    receipt_at = alices_request(client, fake_slack, clock, approved=True)
    slack.rewrites = "made"
    send(client, receipt_press(fake_slack, receipt_at, ids.CANCEL_ACTION))
    work_through_the_queue(clock, until=clock.monotonic() + 5)
    assert slack.tried
    request_id = the_entry(fake_slack)["id"]
    cache.set(maybe_rewritten_key(request_id), 1, 24 * 3600)
    slack.back_up()
    work_through_the_queue(clock)

    entry = the_entry(fake_slack)
    assert (entry["status"], entry["decided_by"]) == ("cancelled", ALICE)
    assert len([t for t in thread(fake_slack) if t.startswith(f"Cancelled by <@{ALICE}>")]) == 1, thread(fake_slack)


def test_a_stale_withdraw_press_after_alice_cancelled_her_approved_leave_is_answered_that_there_is_nothing_to_withdraw(
        client, fake_slack, clock):
    # Her old `/timeoff list` offers Withdraw; the leave was approved, and she cancelled it herself. Her press
    # is answered (every press on a list is): not "Withdrawn", and not silence either.
    install_config()
    request_time_off(client, fake_slack, ALICE)
    work_through_the_queue(clock)
    old_list = listed(client, fake_slack, clock, "list", ALICE)
    [receipt] = fake_slack.workspace.messages(ALICE)
    approve(client, fake_slack, clock)
    alice_cancels_from_her_receipt(client, fake_slack, clock, (receipt.channel, receipt.ts))
    before = told_so_far(fake_slack, ALICE)
    clock.move_on(600)

    send(client, list_press(old_list, ids.WITHDRAW_ACTION, ALICE, pressed_at="1766000600.000300"))
    work_through_the_queue(clock)

    answers = told_since(fake_slack, ALICE, before)
    assert withdrawn_told(fake_slack) == [], answers
    assert [t for t in answers if "cancelled" in t and "withdraw" in t], answers


def test_a_stale_withdraw_press_after_hr_cancelled_the_approved_leave_is_refused_as_already_cancelled(
        client, fake_slack, clock):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    work_through_the_queue(clock)
    old_list = listed(client, fake_slack, clock, "list", ALICE)
    approve(client, fake_slack, clock)
    hr_list = listed(client, fake_slack, clock, f"for <@{ALICE}> list", HR)
    send(client, list_press(hr_list, ids.CANCEL_ACTION, HR, pressed_at="1766000300.000300"))
    work_through_the_queue(clock)
    entry = the_entry(fake_slack)
    assert (entry["status"], entry["decided_by"]) == ("cancelled", HR)
    assert cache.get(maybe_rewritten_key(entry["id"])) == ("approved", "cancelled", HR)
    replies_before = thread(fake_slack)
    before = told_so_far(fake_slack, ALICE)
    clock.move_on(600)

    send(client, list_press(old_list, ids.WITHDRAW_ACTION, ALICE, pressed_at="1766000600.000300"))
    work_through_the_queue(clock)

    answers = told_since(fake_slack, ALICE, before)
    assert withdrawn_told(fake_slack) == [], answers
    assert [t for t in answers if "already cancelled" in t and "nothing to withdraw" in t], answers
    assert thread(fake_slack) == replies_before


# --- c82d13d / da7f6d4: a cancellation whose rewrite met a 5xx, then gave up ---------------------------------


def test_a_cancellation_slack_made_though_it_answered_500_is_told_unconfirmed_then_recorded_and_followed_up_once(
        client, fake_slack, clock, slack, no_backoff):
    receipt_at = alices_request(client, fake_slack, clock, approved=True)
    slack.rewrites = "made"

    send(client, receipt_press(fake_slack, receipt_at, ids.CANCEL_ACTION))
    work_through_the_queue(clock, until=clock.monotonic() + CHANGE_GIVES_UP_WITHIN)

    assert the_entry(fake_slack)["status"] == "cancelled"
    said = dm_texts(fake_slack, ALICE)
    assert len([t for t in said if COULD_NOT_CONFIRM in t]) == 1, said
    assert not [t for t in said if "It is unchanged" in t], said

    slack.back_up()
    work_through_the_queue(clock)

    said = dm_texts(fake_slack, ALICE)
    assert len([t for t in said if "cancellation was recorded after all" in t]) == 1, said
    assert len([t for t in thread(fake_slack) if t.startswith(f"Cancelled by <@{ALICE}>")]) == 1, thread(fake_slack)


def test_a_cancellation_slack_did_not_make_behind_its_500_is_told_not_recorded_after_all(
        client, fake_slack, clock, slack, no_backoff):
    receipt_at = alices_request(client, fake_slack, clock, approved=True)
    slack.rewrites = "not made"

    send(client, receipt_press(fake_slack, receipt_at, ids.CANCEL_ACTION))
    work_through_the_queue(clock, until=clock.monotonic() + CHANGE_GIVES_UP_WITHIN)
    assert len([t for t in dm_texts(fake_slack, ALICE) if COULD_NOT_CONFIRM in t]) == 1, dm_texts(fake_slack, ALICE)

    slack.back_up()
    work_through_the_queue(clock)

    assert the_entry(fake_slack)["status"] == "approved"
    said = dm_texts(fake_slack, ALICE)
    assert len([t for t in said if "cancellation was not recorded after all" in t]) == 1, said
    assert not [t for t in thread(fake_slack) if t.startswith("Cancelled by")], thread(fake_slack)


# --- c82d13d: an edit that gave up, and what its mark says ---------------------------------------------------


def edit_to(client, fake_slack, receipt_at, leave_type: str, view_id: str = "V_EDIT") -> None:
    before = len(fake_slack.calls("views.open"))
    send(client, receipt_press(fake_slack, receipt_at, ids.EDIT_ACTION))
    [opened] = fake_slack.calls("views.open")[before:]
    payload = view_submission_payload(user_id=ALICE, view=as_view(opened.params["view"]),
                                      values=request_values(leave_type, MONDAY, FRIDAY), view_id=view_id,
                                      view_hash=f"1766000000.{view_id}")
    assert send(client, payload).content == b""


def test_an_edit_slack_made_behind_a_500_is_not_told_unchanged_and_is_followed_up_once(
        client, fake_slack, clock, slack, no_backoff):
    # The mark the edit writes before its own rewrite is (pending, pending, None): its give-up looks.
    receipt_at = alices_request(client, fake_slack, clock)
    slack.rewrites = "made"

    edit_to(client, fake_slack, receipt_at, "vacation")
    work_through_the_queue(clock, until=clock.monotonic() + CHANGE_GIVES_UP_WITHIN)

    assert the_entry(fake_slack)["end"] == FRIDAY.isoformat()
    said = dm_texts(fake_slack, ALICE)
    assert not [t for t in said if "It is unchanged" in t], said
    slack.back_up()
    work_through_the_queue(clock)
    assert len([t for t in thread(fake_slack) if t.startswith(f"Edited by <@{ALICE}>")]) == 1, thread(fake_slack)


def test_an_edit_into_a_type_needing_no_approval_slack_made_behind_a_500_is_not_told_unchanged(
        client, fake_slack, clock, slack, no_backoff):
    # Alice edits her pending vacation into sick leave, which needs no approval: the edit's rewrite records
    # it as approved, and its mark says (pending, approved, …). Slack makes the rewrite and answers 500, then
    # will not show the channel until the task gives up. edit_gave_up's `tried` says only a pending-to-pending
    # rewrite is an edit's, so it decides no write of the edit was tried and tells her "It is unchanged"
    # (and queues no settle: the thread never says it was edited) while the ledger holds her sick leave.
    receipt_at = alices_request(client, fake_slack, clock)
    slack.rewrites = "made"

    edit_to(client, fake_slack, receipt_at, "sick")
    work_through_the_queue(clock, until=clock.monotonic() + CHANGE_GIVES_UP_WITHIN)

    entry = the_entry(fake_slack)
    assert (entry["type"], entry["status"]) == ("sick", "approved")
    said = dm_texts(fake_slack, ALICE)
    assert not [t for t in said if "It is unchanged" in t], said

    slack.back_up()
    work_through_the_queue(clock)
    assert len([t for t in thread(fake_slack) if t.startswith(f"Edited by <@{ALICE}>")]) == 1, thread(fake_slack)


# --- e1a3319: a reminder's "today" and "tomorrow" as of when it is sent --------------------------------------


LA = ZoneInfo("America/Los_Angeles")
TUESDAY = MONDAY + timedelta(days=1)


@pytest.fixture
def exports_elsewhere(settings, tmp_path):
    settings.LEDGER_EXPORT_DIR = tmp_path / "exports"


def approved_leave(user: str, start: date) -> LedgerEntry:
    return LedgerEntry(id=f"{user}-{start}", user=user, team=ENGINEERING.name, leave_type="vacation", start=start,
                       end=start, start_half=None, end_half=None, days=Decimal(1), status="approved",
                       decided_by=BOB)


def reminders_to(fake_slack, user: str) -> list[str]:
    return [c.params["text"] for c in fake_slack.calls("chat.postMessage")
            if c.params.get("channel") == user and c.response.get("ok") and "A reminder" in c.params["text"]]


def real_time_at(monkeypatch, moment: datetime) -> None:
    monkeypatch.setattr(django_timezone, "now", lambda: moment.astimezone(timezone.utc))


def test_a_reminder_a_worker_sends_a_day_late_is_not_sent_once_the_leave_has_begun(
        fake_slack, monkeypatch, settings, exports_elsewhere):
    from approvals.job_services import jobs_run_due

    clock = simulated_clock(monkeypatch, settings, jobs=True)
    install_config(standard_config())
    post_entry(fake_slack, approved_leave(DAVE, TUESDAY))
    clock.move_to(datetime(2031, 3, 10, 15, 0, tzinfo=LA))
    jobs_run_due(datetime(2031, 3, 10, 15, 0, tzinfo=LA), team="Engineering")
    clock.move_to(datetime(2031, 3, 11, 15, 30, tzinfo=LA))  # the worker back a day later
    work_through_the_queue(clock)

    assert reminders_to(fake_slack, DAVE) == []


def test_a_reminder_sent_on_time_to_someone_in_tokyo_says_today(fake_slack, monkeypatch, exports_elsewhere):
    install_config(standard_config())
    post_entry(fake_slack, approved_leave(ALICE, TUESDAY))
    post_entry(fake_slack, approved_leave(DAVE, TUESDAY))
    cache.set(directory.timezone_key(ALICE), "Asia/Tokyo", 3600)
    cache.set(directory.timezone_key(DAVE), "America/New_York", 3600)
    on_time = datetime(2031, 3, 10, 15, 0, tzinfo=LA)  # Tuesday 08:00 in Tokyo
    real_time_at(monkeypatch, on_time)

    run_jobs(on_time)

    [alices] = reminders_to(fake_slack, ALICE)
    [daves] = reminders_to(fake_slack, DAVE)
    assert "starts today" in alices, alices
    assert "starts tomorrow" in daves, daves


def test_a_run_jobs_replay_of_an_instant_past_says_what_that_instant_would_have_said(
        fake_slack, monkeypatch, exports_elsewhere):
    # `run_jobs --at` Monday 15:00 (Los Angeles), typed at 15:30 the same afternoon: the same day for
    # everyone then and now, so the wording is the instant's: Dave in New York "tomorrow", Alice in Tokyo
    # (Tuesday morning) "today".
    install_config(standard_config())
    post_entry(fake_slack, approved_leave(ALICE, TUESDAY))
    post_entry(fake_slack, approved_leave(DAVE, TUESDAY))
    cache.set(directory.timezone_key(ALICE), "Asia/Tokyo", 3600)
    cache.set(directory.timezone_key(DAVE), "America/New_York", 3600)
    real_time_at(monkeypatch, datetime(2031, 3, 10, 15, 30, tzinfo=LA))

    run_jobs(datetime(2031, 3, 10, 15, 0, tzinfo=LA))

    [alices] = reminders_to(fake_slack, ALICE)
    [daves] = reminders_to(fake_slack, DAVE)
    assert "starts today" in alices, alices
    assert "starts tomorrow" in daves, daves


# --- d4bb285: a post's doubt mark, kept a day --------------------------------------------------------------



def deactivation_dms_to_hr(fake_slack) -> list[str]:
    return [t for t in dm_texts(fake_slack, HR) if "was deactivated" in t]


def test_hr_told_of_a_deactivation_then_a_reactivation_then_a_second_deactivation_the_same_hour_gets_two_dms(
        client, fake_slack, clock):
    # The first DM's doubt mark now outlives once()'s done mark by a day; forget_once drops both, so the
    # second deactivation's DM is posted anew, not found as the first.
    alices_request(client, fake_slack, clock)
    send_user_change(client, fake_slack, ALICE, deleted=True, event_id="Ev_GONE_1")
    work_through_the_queue(clock)
    assert len(deactivation_dms_to_hr(fake_slack)) == 1
    clock.move_on(1800)
    send_user_change(client, fake_slack, ALICE, deleted=False, event_id="Ev_BACK")
    work_through_the_queue(clock)
    clock.move_on(1800)
    send_user_change(client, fake_slack, ALICE, deleted=True, event_id="Ev_GONE_2")
    work_through_the_queue(clock)

    assert len(deactivation_dms_to_hr(fake_slack)) == 2, dm_texts(fake_slack, HR)


def test_two_refused_presses_of_a_stale_withdraw_minutes_apart_are_each_answered(client, fake_slack, clock):
    # Each press has its own key (its action_ts): the second answer is not taken for the first, found by a
    # doubt mark that now stays a day.
    receipt_at = alices_request(client, fake_slack, clock)
    first = receipt_press(fake_slack, receipt_at, ids.WITHDRAW_ACTION, pressed_at="1766000100.000100")
    second = receipt_press(fake_slack, receipt_at, ids.WITHDRAW_ACTION, pressed_at="1766000700.000100")
    approve(client, fake_slack, clock)
    before = len(dm_texts(fake_slack, ALICE))

    send(client, first)
    work_through_the_queue(clock)
    clock.move_on(600)
    send(client, second)
    work_through_the_queue(clock)

    refusals = [t for t in dm_texts(fake_slack, ALICE)[before:] if "nothing to withdraw" in t]
    assert len(refusals) == 2, dm_texts(fake_slack, ALICE)


def test_a_dm_told_outside_once_with_a_key_run_again_hours_later_is_sent_once(fake_slack):
    install_config()
    client = background_client()
    key = "answer-lost:an-asking"

    notifications.send_dm_once(client, key, ALICE, "What you asked for could not be sent.")
    notifications.send_dm_once(client, key, ALICE, "What you asked for could not be sent.")

    assert len([t for t in dm_texts(fake_slack, ALICE) if "could not be sent" in t]) == 1
