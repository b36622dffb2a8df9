"""Today's DM and pause changes, as real Slack and a real deployment make them go wrong.

1. The DMs a task sends (the receipt, the decision, the day-before reminder, the note that a request did not
   reach its approvers) go through `notifications.send_dm_once` → `post_notice(channel=<user id>)`: posted
   with the client that retries only 429s and tagged `{"event_type": "timeoff_notice", ...}`; after a
   failure Slack may have acted on, the next attempt looks in the person's DM (its id kept in the shared
   cache as `dm-channel:<user>` from an earlier post's answer, else `conversations.open`, scope im:write;
   then `conversations.history`, scope im:history) for the tag before posting again.
2. `chat.postMessage`'s Retry-After pause is kept per channel (`slack_pauses.place`).
3. `send_receipt(..., key=...)`, and `tasks.tell_user(..., key=...)`: a DM task row that carries a key.

Here: an install from before the new scopes, a shared cache flushed between a lost answer and the retry, a
DM id kept from long ago that Slack no longer knows, a DM with hundreds of the app's messages since the
doubt, Enterprise Grid user ids (W…), a 429 in the approvals channel while DMs and other channels post, and
a task row with the new `key` argument met by a worker of the release before (adf0715) and of this one.

Every assertion reads what Slack holds afterwards (`fake_slack.workspace.messages(user)`: the DMs Slack
made) or what crossed the wire, not what the app believes it sent.
"""

import html
import re
import subprocess
import types
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.core.cache import cache
from django.core.management.base import CommandError
from django.tasks import TaskResultStatus
from django.test import Client
from django.utils import timezone
from django_tasks_db.models import DBTaskResult
from slack_sdk.http_retry import builtin_handlers

from approvals import block_ids as ids
from approvals import notifications, slack_directory, task_queue, tasks
from approvals.management.commands.task_worker import Worker
from approvals.models import DeliveryProblem
from approvals.rules import LedgerEntry
from approvals.slack_clients import background_client, ledger_post_client
from fake_slack.personas import C_ENG, C_ENG_APPROVALS
from test_support.direct_messages import dm_channel, dm_to, is_decision
from test_support.flows import (
    ALICE,
    BOB,
    DAVE,
    HR,
    MONDAY,
    WEDNESDAY,
    click,
    install_config,
    posted_requests,
    request_time_off,
)
from test_support.job_runs import post_entry, run_jobs
from test_support.setup_page import alerts, setup_page
from test_support.slack_faults import failing, failing_each
from test_support.task_rows import run_queued_tasks

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
BEFORE = "adf0715"  # the release before today's DM changes (b990966) and today's pause change (b4638b1)

LA = ZoneInfo("America/Los_Angeles")
FRIDAY = MONDAY - timedelta(days=3)  # the working day before Alice's leave: reminders go out at 15:00
REMINDED = (ALICE, BOB, DAVE)
REMINDER = ":wave: A reminder"
NOT_DELIVERED = "did not reach your approvers"
DM_SCOPES = ("im:write", "im:history")
GRID_USER = "W0GRIDPAT"  # an Enterprise Grid user id: Slack gives org-wide users ids starting with W


# --- What Slack holds, what crossed the wire ----------------------------------------------------------


def decision_dm_to(user: str):
    return lambda method, params: dm_to(user)(method, params) and is_decision(str(params.get("text")))


def dms_in_slack(fake_slack, user: str) -> list[str]:
    return [m.text for m in fake_slack.workspace.messages(user)]


def decision_dms(fake_slack, user: str = ALICE) -> list[str]:
    return [text for text in dms_in_slack(fake_slack, user) if is_decision(text)]


def receipts(fake_slack, user: str = ALICE) -> list[str]:
    return [text for text in dms_in_slack(fake_slack, user) if not is_decision(text)]


def looks_in_dm(fake_slack, user: str) -> list:
    return [c for c in fake_slack.calls("conversations.history") if c.params.get("channel") == dm_channel(user)]


def the_request(fake_slack, user: str = ALICE) -> dict:
    [payload] = [m.metadata["event_payload"] for m in fake_slack.workspace.messages(C_ENG_APPROVALS)
                 if m.metadata and m.metadata.get("event_type") == "timeoff_request"
                 and m.metadata["event_payload"]["user"] == user]
    return payload


def requests_starting(fake_slack, start: date) -> list[dict]:
    return [m.metadata["event_payload"] for m in fake_slack.workspace.messages(C_ENG_APPROVALS)
            if m.metadata and m.metadata.get("event_type") == "timeoff_request"
            and m.metadata["event_payload"]["start"] == start.isoformat()]


def thread_replies(fake_slack, ts: str) -> list[str]:
    return [m.text for m in fake_slack.workspace.replies(C_ENG_APPROVALS, ts) if m.ts != ts]


def announcements_of(fake_slack, user: str) -> list[str]:
    return [m.text for m in fake_slack.workspace.messages(C_ENG) if user in m.text]


def without_dm_scopes(fake_slack) -> None:
    """The app as installed from the manifest before im:write and im:history were added."""
    with fake_slack.workspace.lock:
        fake_slack.workspace.granted_scopes = tuple(s for s in fake_slack.workspace.granted_scopes
                                                    if s not in DM_SCOPES)


# --- The day-before reminder --------------------------------------------------------------------------


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=LA)


def approved_leave(user: str) -> LedgerEntry:
    return LedgerEntry(id=f"{user}-{MONDAY}", user=user, team="Engineering", leave_type="vacation", start=MONDAY,
                       end=WEDNESDAY, start_half=None, end_half=None, days=Decimal(3), status="approved",
                       decided_by=BOB if user != BOB else HR)


def approved_leave_for_everyone(fake_slack, settings) -> None:
    settings.JOB_RUN_STALE_SECONDS = 0  # a claim whose tick failed is taken over by the next tick at once
    install_config()
    for user in REMINDED:
        post_entry(fake_slack, approved_leave(user))


def reminders_ticking_until_done(first: datetime, *, between_ticks=lambda: None, ticks: int = 6) -> list[str]:
    """`run_jobs` for Engineering every ten minutes from `first`, as cron runs it, until a tick fails nothing;
    `between_ticks()` runs after a tick that failed."""
    said = []
    for n in range(ticks):
        try:
            said.append(run_jobs(first + timedelta(minutes=10 * n), "--team", "Engineering"))
            return said
        except CommandError as failed:
            said.append(f"failed: {failed}")
            between_ticks()
    return said


def reminders(fake_slack, user: str) -> list[str]:
    return [text for text in dms_in_slack(fake_slack, user) if REMINDER in text]


# --- HR's Setup page ------------------------------------------------------------------------------------


@pytest.fixture
def hr(django_user_model, fake_slack):
    """Hannah from HR in a browser of her own: a staff superuser, with the Slack directory read."""
    slack_directory.directory_refresh(background_client())
    hannah = django_user_model.objects.create_superuser("hannah", "hannah@example.com", "a-long-test-password")
    browser = Client()
    browser.force_login(hannah)
    return browser


def scope_rows(page: str) -> dict[str, str]:
    """The Scopes table: scope -> what the Granted column says."""
    table = page[page.index('id="scopes"'):page.index("</table>", page.index('id="scopes"'))]
    rows = {}
    for row in re.findall(r"<tr>(.*?)</tr>", table, flags=re.S):
        cells = [re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", cell))).strip()
                 for cell in re.findall(r"<td>(.*?)</td>", row, flags=re.S)]
        if cells:
            rows[cells[0]] = cells[1]
    return rows


# === (1) An install from before the new scopes ===========================================================


def test_it_names_the_missing_dm_scopes_on_the_setup_page_and_asks_for_a_reinstall(hr, fake_slack):
    install_config()
    without_dm_scopes(fake_slack)

    page = setup_page(hr, check_again=True)

    [missing] = [a for a in alerts(page) if a.startswith("Missing scopes")]
    assert "im:write" in missing and "im:history" in missing, missing
    assert "reinstall the app" in missing, missing
    rows = scope_rows(page)
    assert rows["im:write"] == "missing" and rows["im:history"] == "missing", rows
    assert [scope for scope, granted in rows.items() if granted == "missing"] == ["im:history", "im:write"], rows

    # Reinstalled from the manifest: the warning goes.
    with fake_slack.workspace.lock:
        fake_slack.workspace.granted_scopes = (*fake_slack.workspace.granted_scopes, *DM_SCOPES)
    page = setup_page(hr, check_again=True)
    assert not [a for a in alerts(page) if a.startswith("Missing scopes")]
    assert "Every scope the app needs is granted." in page


def test_it_requests_approves_and_reminds_as_before_on_an_install_without_the_dm_scopes(client, fake_slack, settings,
                                                                                        no_backoff, hr):
    # Nothing in doubt: nothing is looked for, so the missing scopes are never met; each DM arrives once.
    without_dm_scopes(fake_slack)
    approved_leave_for_everyone(fake_slack, settings)
    request_time_off(client, fake_slack, ALICE, start=MONDAY + timedelta(days=7), end=WEDNESDAY + timedelta(days=7))
    [posted] = posted_requests(fake_slack)
    click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted)
    said = reminders_ticking_until_done(at(FRIDAY, 15))

    assert not said[-1].startswith("failed"), said
    assert len(receipts(fake_slack)) == 2, dms_in_slack(fake_slack, ALICE)  # her receipt, and her reminder
    assert len(decision_dms(fake_slack)) == 1, dms_in_slack(fake_slack, ALICE)
    assert [len(reminders(fake_slack, p)) for p in REMINDED] == [1, 1, 1]
    assert len(posted_requests(fake_slack)) == 1
    assert [p["status"] for p in requests_starting(fake_slack, MONDAY + timedelta(days=7))] == ["approved"]
    assert fake_slack.calls("conversations.open") == [] and looks_in_dm(fake_slack, ALICE) == []
    assert DeliveryProblem.objects.count() == 0
    assert 'id="delivery-problems"' not in setup_page(hr, check_again=True)


def test_it_still_delivers_each_lost_dm_at_least_once_on_an_install_without_the_dm_scopes(client, fake_slack,
                                                                                         settings, no_backoff, hr):
    # The receipt, the decision and Bob's reminder each lose their answer; the look is refused (missing_scope,
    # for good): each is sent again, a repeat rather than a silence, and nothing is reported as failed.
    without_dm_scopes(fake_slack)
    approved_leave_for_everyone(fake_slack, settings)
    later_monday, later_wednesday = MONDAY + timedelta(days=7), WEDNESDAY + timedelta(days=7)

    with failing(fake_slack, dm_to(ALICE), "answer_lost") as lost_receipt:
        request_time_off(client, fake_slack, ALICE, start=later_monday, end=later_wednesday)
    [posted] = posted_requests(fake_slack)
    with failing(fake_slack, decision_dm_to(ALICE), "answer_lost") as lost_decision:
        click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted)
    with failing(fake_slack, dm_to(BOB, REMINDER), "answer_lost") as lost_reminder:
        said = reminders_ticking_until_done(at(FRIDAY, 15))

    assert lost_receipt and lost_decision and lost_reminder
    assert not said[-1].startswith("failed"), said
    refused = [c.response.get("error") for c in fake_slack.calls("conversations.open") + looks_in_dm(fake_slack, ALICE)
               + looks_in_dm(fake_slack, BOB)]
    assert refused and set(refused) == {"missing_scope"}, refused
    the_receipts = [t for t in receipts(fake_slack) if REMINDER not in t]
    assert 1 <= len(the_receipts) <= 2, dms_in_slack(fake_slack, ALICE)
    # As it stands, each exactly twice: the README's "an older install sends again".
    assert (len(the_receipts), len(decision_dms(fake_slack)), len(reminders(fake_slack, BOB))) == (2, 2, 2)
    assert 1 <= len(decision_dms(fake_slack)) <= 2, dms_in_slack(fake_slack, ALICE)
    assert 1 <= len(reminders(fake_slack, BOB)) <= 2, dms_in_slack(fake_slack, BOB)
    assert [len(reminders(fake_slack, p)) for p in (ALICE, DAVE)] == [1, 1]
    assert len(posted_requests(fake_slack)) == 1
    assert [p["status"] for p in requests_starting(fake_slack, later_monday)] == ["approved"]
    assert DeliveryProblem.objects.count() == 0
    assert 'id="delivery-problems"' not in setup_page(hr, check_again=True)


# === (2) The shared cache loses the doubt mark between attempts =========================================


def test_it_still_reminds_everyone_when_the_cache_is_flushed_between_a_lost_reminder_and_the_next_tick(
        fake_slack, settings, no_backoff):
    """Redis flushed (or the database cache cleared) after the tick whose DM to Bob lost its answer: the
    doubt mark (`maybe-notice:`) and the once-marks (`done:`) are gone. What happens: the next tick does not
    know Bob's reminder may be there, nor that Alice was reminded, and sends both again. A repeat, never a
    silence: everyone is reminded at least once."""
    approved_leave_for_everyone(fake_slack, settings)
    flushed = []

    def flush():
        cache.clear()
        flushed.append(True)

    # Its looks fail too, for the rest of that tick (each post is tried again inside the call, after a look).
    with failing_each(fake_slack, (dm_to(BOB, REMINDER), "answer_lost", 1),
                      (looks_in_the_dm_of(BOB), "internal_error", LOOKS_IN_A_CALL)) as (met, _):
        said = reminders_ticking_until_done(at(FRIDAY, 15), between_ticks=flush)

    assert met and flushed, said
    assert not said[-1].startswith("failed"), said
    counts = {p: len(reminders(fake_slack, p)) for p in REMINDED}
    assert all(count >= 1 for count in counts.values()), counts
    # As it stands: Alice (before Bob in the run) and Bob are reminded twice, Dave once.
    assert counts == {ALICE: 2, BOB: 2, DAVE: 1}, counts


def test_it_still_sends_the_decision_dm_when_the_cache_is_flushed_before_the_decisions_retry(client, fake_slack,
                                                                                            no_backoff, monkeypatch):
    """The decision DM loses its answer; the task's retry waits in the queue; Redis is flushed meanwhile. The
    retry cannot know the DM is in doubt: Alice gets it again (a repeat), never not at all; the decision stands."""
    install_config()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    flushed = []
    real_enqueue_later = task_queue.enqueue_later

    def flushed_while_waiting(this_task, delay, *args, **kwargs):
        if not flushed:
            cache.clear()
            flushed.append(this_task.name)
        return real_enqueue_later(this_task, delay, *args, **kwargs)

    monkeypatch.setattr(task_queue, "enqueue_later", flushed_while_waiting)
    with failing_each(fake_slack, (decision_dm_to(ALICE), "answer_lost", 1),
                      (looks_in_the_dm_of(ALICE), "internal_error", LOOKS_IN_A_CALL)) as (met, _):
        response = click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted)

    assert response.status_code == 200 and met and flushed == ["decide_request"], flushed
    request = the_request(fake_slack)
    assert (request["status"], request["decided_by"]) == ("approved", BOB)
    decisions = decision_dms(fake_slack)
    assert 1 <= len(decisions) <= 2, dms_in_slack(fake_slack, ALICE)
    # As it stands: the retry, its once-marks gone, sends the decision DM again and the thread reply the
    # first attempt made too (repeats); the announcement, never reached by the first attempt, goes once.
    assert len(decisions) == 2, dms_in_slack(fake_slack, ALICE)
    assert thread_replies(fake_slack, posted.response["ts"]) == [f"Approved by <@{BOB}>"] * 2
    # Nothing tells Bob his approval failed or came too late.
    assert dms_in_slack(fake_slack, BOB) == [], dms_in_slack(fake_slack, BOB)
    assert [c for c in fake_slack.calls("chat.postEphemeral") if c.params.get("user") == BOB] == []
    assert len(announcements_of(fake_slack, ALICE)) == 1


# === (3) A DM id kept from long ago that Slack no longer knows ============================================


def test_it_still_sends_a_lost_decision_dm_when_the_kept_dm_id_is_one_slack_no_longer_knows(client, fake_slack,
                                                                                           no_backoff):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    assert cache.get(f"dm-channel:{ALICE}") == dm_channel(ALICE)  # kept from the receipt's answer
    cache.set(f"dm-channel:{ALICE}", "D0STALE0001", notifications.DM_CHANNEL_SECONDS)

    with failing(fake_slack, decision_dm_to(ALICE), "answer_lost") as met:
        response = click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted)

    assert response.status_code == 200 and met
    stale_looks = [c for c in fake_slack.calls("conversations.history") if c.params.get("channel") == "D0STALE0001"]
    assert stale_looks and {c.response.get("error") for c in stale_looks} == {"channel_not_found"}
    decisions = decision_dms(fake_slack)
    # As it stands: the look cannot tell, so the DM is sent again (a repeat, not a silence).
    assert 1 <= len(decisions) <= 2, dms_in_slack(fake_slack, ALICE)
    assert len(decisions) == 2, dms_in_slack(fake_slack, ALICE)
    assert the_request(fake_slack)["status"] == "approved"
    assert DeliveryProblem.objects.count() == 0
    # The post's answer put the right id back: the next look asks the right DM.
    assert cache.get(f"dm-channel:{ALICE}") == dm_channel(ALICE)


# === (4) A look through hundreds of the app's messages ===================================================


@pytest.mark.parametrize("page_cap, since", [(None, 250), (15, 300)], ids=["pages-of-100", "pages-of-15"])
def test_it_finds_a_lost_decision_dm_on_a_later_page_of_a_busy_dm(client, fake_slack, no_backoff, page_cap, since):
    # After the decision DM Slack made (its answer lost), the app posted `since` more DMs to Alice (her list
    # and balance sent as DMs, say) before the retry looks: the tagged DM is pages down, newest first.
    assert since + 2 < notifications.NOTICE_LOOK_PAGES * (page_cap or 100)
    install_config()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    with fake_slack.workspace.lock:
        fake_slack.workspace.history_page_cap = page_cap
    real_handle = fake_slack.handle
    lost = []

    def busy_dm(method, params, headers):
        status, extra, body = real_handle(method, params, headers)
        if decision_dm_to(ALICE)(method, params) and body.get("ok") and not lost:
            lost.append(body["ts"])
            for n in range(since):
                fake_slack.workspace.post_message(ALICE, f"Your time off, as you asked ({n})")
            return 500, {}, {"ok": False, "error": "fatal_error"}
        return status, extra, body

    fake_slack.handle = busy_dm
    try:
        response = click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted)
    finally:
        del fake_slack.handle

    assert response.status_code == 200 and lost
    looks = looks_in_dm(fake_slack, ALICE)
    assert len(looks) >= 3 and all(c.response.get("ok") for c in looks), [c.response.get("error") for c in looks]
    assert any(c.params.get("cursor") for c in looks), "the look never turned a page"
    assert len(decision_dms(fake_slack)) == 1, len(decision_dms(fake_slack))
    assert the_request(fake_slack)["status"] == "approved"


def test_it_sends_a_lost_dm_again_rather_than_never_when_it_lies_beyond_the_pages_a_look_reads(client, fake_slack,
                                                                                              no_backoff):
    # Fifteen a page (an app distributed outside the Marketplace) and more messages since than
    # NOTICE_LOOK_PAGES pages hold: the look stops and the DM is sent again: a repeat, not a silence.
    install_config()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    with fake_slack.workspace.lock:
        fake_slack.workspace.history_page_cap = 15
    since = notifications.NOTICE_LOOK_PAGES * 15 + 30
    real_handle = fake_slack.handle
    lost = []

    def busy_dm(method, params, headers):
        status, extra, body = real_handle(method, params, headers)
        if decision_dm_to(ALICE)(method, params) and body.get("ok") and not lost:
            lost.append(body["ts"])
            for n in range(since):
                fake_slack.workspace.post_message(ALICE, f"Your time off, as you asked ({n})")
            return 500, {}, {"ok": False, "error": "fatal_error"}
        return status, extra, body

    fake_slack.handle = busy_dm
    try:
        click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted)
    finally:
        del fake_slack.handle

    assert lost
    assert len(looks_in_dm(fake_slack, ALICE)) == notifications.NOTICE_LOOK_PAGES
    assert len(decision_dms(fake_slack)) == 2
    assert the_request(fake_slack)["status"] == "approved"


# === (5) Enterprise Grid user ids ===========================================================================


@pytest.fixture
def grid_user(fake_slack):
    """Pat, an org-wide Enterprise Grid user (W…), in Engineering's channel."""
    fake_slack.workspace.add_user(GRID_USER, "pat", tz="America/Los_Angeles", email="pat@example.com",
                                  real_name="Pat Grid")
    with fake_slack.workspace.lock:
        fake_slack.workspace.channels[C_ENG].members.add(GRID_USER)
    return GRID_USER


def test_it_looks_for_a_lost_receipt_to_a_grid_user_and_sends_it_once(client, fake_slack, no_backoff, grid_user):
    install_config()
    with failing(fake_slack, dm_to(grid_user), "answer_lost") as met:
        request_time_off(client, fake_slack, grid_user)

    assert met
    opened = [c for c in fake_slack.calls("conversations.open") if c.params.get("users") == grid_user]
    assert opened and opened[0].response.get("ok"), [c.response for c in opened]
    assert looks_in_dm(fake_slack, grid_user), "the receipt was sent again without looking"
    assert len(dms_in_slack(fake_slack, grid_user)) == 1, dms_in_slack(fake_slack, grid_user)
    assert len(posted_requests(fake_slack)) == 1


def test_it_looks_for_a_lost_decision_dm_to_a_grid_user_and_sends_it_once(client, fake_slack, no_backoff, grid_user):
    install_config()
    request_time_off(client, fake_slack, grid_user)
    [posted] = posted_requests(fake_slack)

    with failing(fake_slack, decision_dm_to(grid_user), "answer_lost") as met:
        click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted)

    assert met
    assert looks_in_dm(fake_slack, grid_user), "the decision DM was sent again without looking"
    assert len(decision_dms(fake_slack, grid_user)) == 1, dms_in_slack(fake_slack, grid_user)
    assert len(dms_in_slack(fake_slack, grid_user)) == 2  # the receipt (rewritten) and the decision
    assert the_request(fake_slack, grid_user)["status"] == "approved"


# === (6) A 429 in the approvals channel holds no DM and no other channel =================================


def answered_at(fake_slack, pause_clock):
    """Record, for each chat.postMessage Slack receives, (channel, in a thread, how many waits came before)."""
    arrivals = []
    real_handle = fake_slack.handle

    def handle(method, params, headers):
        if method == "chat.postMessage":
            arrivals.append((params.get("channel"), bool(params.get("thread_ts")), len(pause_clock.waits)))
        return real_handle(method, params, headers)

    return arrivals, handle


def approvals_429_once(handle, retry_after: int):
    met = []

    def limited(method, params, headers):
        if method == "chat.postMessage" and params.get("channel") == C_ENG_APPROVALS and not met:
            met.append(params)
            return 429, {"Retry-After": str(retry_after)}, {"ok": False, "error": "ratelimited"}
        return handle(method, params, headers)

    return met, limited


def test_it_sends_the_decision_dm_and_announcement_at_once_while_the_approvals_channel_waits_out_a_429(
        client, fake_slack, pause_clock, monkeypatch):
    """Another worker posting to the approvals channel is told 429 Retry-After 5 and sleeps it out. Two
    seconds in, Bob's approval is written: its thread reply (the approvals channel's next post) waits the
    three seconds left; the decision DM and the announcement in #engineering wait for nothing."""
    install_config()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    arrivals, recording = answered_at(fake_slack, pause_clock)
    met, limited = approvals_429_once(recording, 5)
    other_worker_slept = []

    def other_worker_sleeps(seconds):
        # slack_sdk's 429 handler in the other worker; meanwhile this worker applies Bob's approval.
        other_worker_slept.append(seconds)
        pause_clock.skipped += 2
        del arrivals[:]
        assert click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted).status_code == 200
        pause_clock.skipped += max(seconds - 2 - sum(pause_clock.waits), 0)

    monkeypatch.setattr(builtin_handlers, "time", types.SimpleNamespace(sleep=other_worker_sleeps))
    fake_slack.handle = limited
    try:
        ledger_post_client().chat_postMessage(channel=C_ENG_APPROVALS, text="Dave's request")
    finally:
        del fake_slack.handle

    assert met and other_worker_slept == [pytest.approx(5, abs=1)]  # Retry-After, and slack_sdk's jitter
    assert pause_clock.waits == [pytest.approx(3, abs=0.2)], pause_clock.waits
    thread_reply = [a for a in arrivals if a[0] == C_ENG_APPROVALS and a[1]]
    dm = [a for a in arrivals if a[0] == ALICE]
    announcement = [a for a in arrivals if a[0] == C_ENG]
    assert [a[2] for a in thread_reply] == [1], arrivals  # it waited what was left first
    assert len(dm) == 1 and len(announcement) == 1, arrivals
    assert dm[0][2] == announcement[0][2] == 1, arrivals  # no wait of their own
    assert len(decision_dms(fake_slack)) == 1 and len(announcements_of(fake_slack, ALICE)) == 1
    assert thread_replies(fake_slack, posted.response["ts"]) == [f"Approved by <@{BOB}>"]


def test_it_sends_reminders_without_waiting_while_the_approvals_channel_waits_out_a_429(fake_slack, settings,
                                                                                        pause_clock, monkeypatch):
    """The day-before reminders are DMs only: a 429 another worker met in the approvals channel holds none
    of them (a pause kept for the whole of chat.postMessage would hold each for what is left)."""
    approved_leave_for_everyone(fake_slack, settings)
    arrivals, recording = answered_at(fake_slack, pause_clock)
    met, limited = approvals_429_once(recording, 5)
    said, waits_for_reminders = [], []

    def other_worker_sleeps(seconds):
        pause_clock.skipped += 1
        said.append(run_jobs(at(FRIDAY, 15), "--team", "Engineering"))
        waits_for_reminders.extend(pause_clock.waits)
        # Posts elsewhere did not end the approvals channel's pause: its next post waits what is left.
        background_client().chat_postMessage(channel=C_ENG_APPROVALS, text="Out today: nobody")
        pause_clock.skipped += max(seconds - 1 - sum(pause_clock.waits), 0)

    monkeypatch.setattr(builtin_handlers, "time", types.SimpleNamespace(sleep=other_worker_sleeps))
    fake_slack.handle = limited
    try:
        ledger_post_client().chat_postMessage(channel=C_ENG_APPROVALS, text="Dave's request")
    finally:
        del fake_slack.handle

    assert met and said and "3 reminder(s)" in said[0], said
    assert waits_for_reminders == [], waits_for_reminders
    assert [len(reminders(fake_slack, p)) for p in REMINDED] == [1, 1, 1]
    assert [a[2] for a in arrivals if a[0] in REMINDED] == [0, 0, 0], arrivals
    assert pause_clock.waits == [pytest.approx(4, abs=0.2)], pause_clock.waits


# === (7) A rolling deploy: a `tell_user` row with the new `key` ===========================================


def release_before(path: str, name: str) -> types.ModuleType:
    """The module at `path` as the release before has it, run beside this release's modules."""
    shown = subprocess.run(["git", "-C", str(ROOT), "show", f"{BEFORE}:{path}"], capture_output=True, text=True)
    if shown.returncode != 0:
        pytest.skip(f"the release before ({BEFORE}) is not in this checkout's git history")
    module = types.ModuleType(name)
    module.__file__ = f"{BEFORE}:{path}"
    exec(compile(shown.stdout, module.__file__, "exec"), module.__dict__)
    return module


# A post in doubt is looked for, and tried again, inside the call: the looks of one call, all failing, leave
# it to the task's next attempt.
LOOKS_IN_A_CALL = notifications.NOTICE_TRIES_IN_CALL - 1


def looks_in_the_dm_of(user: str):
    return lambda method, params: method == "conversations.history" and params.get("channel") == dm_channel(user)


def claim_and_run(row: DBTaskResult, worker_id: str) -> DBTaskResult:
    row.claim(worker_id)
    Worker(queue_names=["*"], interval=0, batch=True, backend_name="default", startup_delay=False, max_tasks=None,
           worker_id=worker_id, excluded_queue_names=[]).run_task(row)
    return DBTaskResult.objects.get(id=row.id)


def to_approvals(method, params) -> bool:
    return method == "chat.postMessage" and params.get("channel") == C_ENG_APPROVALS


def keyed_tell_user_row(client, fake_slack, settings, fault: str) -> DBTaskResult:
    """The approvals channel refuses Alice's request for good (the bot was removed); the DM telling her so
    meets `fault`: this release's web enqueues `tell_user` with its key. The row, as it waits."""
    settings.TASKS = {"default": {"BACKEND": "approvals.task_backend.DatabaseBackend"}}
    install_config()
    # Its looks fail too, for the rest of that attempt (the post is tried again inside the call, after a look).
    with failing_each(fake_slack, (to_approvals, "not_in_channel", None),
                      (dm_to(ALICE, NOT_DELIVERED), fault, 1),
                      (looks_in_the_dm_of(ALICE), "internal_error", LOOKS_IN_A_CALL)) as (refused, met, _):
        request_time_off(client, fake_slack, ALICE)
        run_queued_tasks("deliver_request")
    assert refused and met
    [row] = DBTaskResult.objects.filter(task_path=tasks.tell_user.module_path, status=TaskResultStatus.READY)
    arguments = row.args_kwargs
    key = arguments["kwargs"].get("key") or (arguments["args"][3:] or [""])[0]  # by name, or fourth
    assert arguments["args"][:3] == ["", ALICE, arguments["args"][2]] and NOT_DELIVERED in arguments["args"][2]
    assert str(key).startswith("undelivered-dm:"), arguments
    return row


def test_a_keyed_tell_user_row_taken_by_a_worker_of_the_release_before_is_handed_back_not_failed(
        client, fake_slack, settings, no_backoff, monkeypatch):
    row = keyed_tell_user_row(client, fake_slack, settings, "answer_lost")
    told_before = len([t for t in dms_in_slack(fake_slack, ALICE) if NOT_DELIVERED in t])
    old_tasks = release_before("approvals/tasks.py", "approvals.tasks")

    with monkeypatch.context() as release_before_worker:
        release_before_worker.setattr(tasks, "tell_user", old_tasks.tell_user)  # tell_user(channel, user, text)
        row = claim_and_run(row, f"{BEFORE}-worker")

    assert row.status == TaskResultStatus.READY, (row.status, row.traceback)
    assert "arguments not what tell_user takes" in row.traceback, row.traceback
    assert len([t for t in dms_in_slack(fake_slack, ALICE) if NOT_DELIVERED in t]) == told_before == 1


def test_a_keyed_tell_user_row_is_run_by_this_releases_worker_and_alice_is_told_once(client, fake_slack, settings,
                                                                                    no_backoff):
    # The DM Slack made (its answer lost) is found by the look: not sent again.
    row = keyed_tell_user_row(client, fake_slack, settings, "answer_lost")
    DBTaskResult.objects.filter(id=row.id).update(run_after=timezone.now())

    row = claim_and_run(row, "this-release-worker")

    assert row.status == TaskResultStatus.SUCCESSFUL, (row.status, row.traceback)
    told = [t for t in dms_in_slack(fake_slack, ALICE) if NOT_DELIVERED in t]
    assert len(told) == 1, dms_in_slack(fake_slack, ALICE)


def test_alice_is_told_her_request_did_not_reach_her_approvers_though_that_dm_first_met_a_500(client, fake_slack,
                                                                                             no_backoff):
    # Slack did not make the DM (a 500 it did not act on): the task sent for it with its key must tell her.
    install_config()
    with failing_each(fake_slack, (to_approvals, "not_in_channel", None),
                      (dm_to(ALICE, NOT_DELIVERED), "http_500", 1)) as (refused, met):
        request_time_off(client, fake_slack, ALICE)

    assert refused and met
    assert refused and posted_requests(fake_slack) == []  # refused before it reached the fake's ledger
    told = [t for t in dms_in_slack(fake_slack, ALICE) if NOT_DELIVERED in t]
    assert len(told) == 1, dms_in_slack(fake_slack, ALICE)
