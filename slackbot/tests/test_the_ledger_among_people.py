"""The ledger living in a real approvals channel, full of people and other apps (DESIGN §5, README
"The ledger").

People chat in the channel and in request threads; an admin deletes a request message; another app
posts messages whose metadata imitates ours; our own bot posts things that are not requests; the
channel is long, renamed, made private, archived and unarchived; the bot is removed and invited back.
Balances, lists, App Home, the digests, the console and the nightly ledger watch must stay right, and
HR must hear of a deleted request exactly once. Everything is checked on what people see and on
what crossed the wire to the fake Slack.
"""

import copy
import json
from dataclasses import replace
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core.management import CommandError
from django.urls import reverse

from approvals import block_ids as ids
from approvals.ledger_format import adjustment_metadata, request_metadata
from approvals.models import LedgerSnapshot
from approvals.rules import Adjustment, LedgerEntry
from fake_slack.ledger_seed import seed_ledger
from fake_slack.personas import C_ENG, C_ENG_APPROVALS, C_OLD_APPROVALS
from fake_slack.workspace import Message
from test_support.command_answers import balance_of, listed, vacation_line
from test_support.flows import (
    ALICE,
    BOB,
    DAVE,
    ENGINEERING,
    HR,
    buttons_in,
    dms_to,
    ephemerals_to,
    install_config,
    open_app_home,
    posted_requests,
    request_time_off,
    standard_config,
)
from test_support.job_runs import post_entry, posts_in, run_jobs
from test_support.slack_requests import block_actions_payload, post_command, post_interaction

pytestmark = pytest.mark.django_db

LA = ZoneInfo("America/Los_Angeles")
ENG = replace(ENGINEERING, digest_time=time(9, 0), nudge_after_hours=48)
MONDAY, TUESDAY, WEDNESDAY = date(2031, 3, 10), date(2031, 3, 11), date(2031, 3, 12)
OTHER_APP_USER, OTHER_APP_BOT = "U_HRIS_SYNC", "B_HRIS_SYNC"


@pytest.fixture(autouse=True)
def export_dir(settings, tmp_path):
    settings.LEDGER_EXPORT_DIR = tmp_path / "exports"
    return settings.LEDGER_EXPORT_DIR


def install(*teams, **changes):
    return install_config(standard_config(teams=teams or (ENG,), **changes))


def entry(entry_id="alice-march", user=ALICE, start=MONDAY, end=WEDNESDAY, status="approved",
          leave_type="vacation", days=None, **changes) -> LedgerEntry:
    values = dict(id=entry_id, user=user, team="Engineering", leave_type=leave_type, start=start, end=end,
                  start_half=None, end_half=None,
                  days=Decimal(days if days is not None else sum(
                      1 for n in range((end - start).days + 1) if (start + timedelta(n)).weekday() < 5)),
                  status=status, decided_by=None if status == "pending" else BOB,
                  decided_at=None if status == "pending" else 1790000000)
    return LedgerEntry(**{**values, **changes})


def utc(day: date, hour: int = 2) -> datetime:
    return datetime(day.year, day.month, day.day, hour, 0, tzinfo=timezone.utc)


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=LA)


# --- What lives in the channel besides our requests ------------------------------------------


def another_app_posts(fake_slack, text: str, metadata: dict, *, channel=C_ENG_APPROVALS, blocks=None,
                      ts: str | None = None) -> Message:
    """Another installed app (an HR-system sync, say) posts a message with metadata, as Slack shows it:
    its own bot user and bot id."""
    workspace = fake_slack.workspace
    with workspace.lock:
        message = Message(channel, ts or workspace.new_ts(), text, user=OTHER_APP_USER, bot_id=OTHER_APP_BOT,
                          blocks=copy.deepcopy(blocks), metadata=copy.deepcopy(metadata))
        workspace.insert_message(message)
        return copy.deepcopy(message)


def people_chat(fake_slack, *, channel=C_ENG_APPROVALS, count=3, thread_ts=None, broadcast=False):
    people = (BOB, DAVE, HR)
    for number in range(count):
        fake_slack.workspace.post_message(channel, f"chat {number}: who covers on-call?", user=people[number % 3],
                                          thread_ts=thread_ts, reply_broadcast=broadcast)


def admin_deletes(fake_slack, channel: str, ts: str) -> None:
    """A workspace admin deletes a message in Slack's client: a message with replies leaves a tombstone
    ("This message was deleted."), one without disappears."""
    workspace = fake_slack.workspace
    with workspace.lock:
        message = workspace.find_message(channel, ts)
        if any(m.thread_ts == ts for m in workspace.all_messages(channel) if m.is_reply):
            message.subtype, message.text, message.blocks, message.metadata = (
                "tombstone", "This message was deleted.", None, None)
            message.user, message.bot_id = "USLACKBOT", None
        else:
            workspace.delete_message(message)


def remove_bot(fake_slack, channel=C_ENG_APPROVALS):
    with fake_slack.workspace.lock:
        fake_slack.workspace.channels[channel].members.discard(fake_slack.workspace.bot_user_id)


def invite_bot(fake_slack, channel=C_ENG_APPROVALS):
    with fake_slack.workspace.lock:
        fake_slack.workspace.channels[channel].members.add(fake_slack.workspace.bot_user_id)


# --- What people see --------------------------------------------------------------------------


def home_text(client, fake_slack, user, event_id) -> str:
    return json.dumps(open_app_home(client, fake_slack, user, event_id), ensure_ascii=False)


def delivered_dms(fake_slack, user) -> list[str]:
    return [call.params["text"] for call in fake_slack.calls("chat.postMessage")
            if call.params.get("channel") == user and call.response.get("ok")]


def hr_alerts(fake_slack) -> list[str]:
    return [text for text in delivered_dms(fake_slack, HR) if "disappeared" in text]


def everything(post: dict) -> str:
    return post["text"] + "\n" + json.dumps(post.get("blocks") or [], ensure_ascii=False)


# =================================================================================================
# People and other apps in the channel
# =================================================================================================


def test_chat_and_thread_replies_between_requests_leave_the_balance_and_list_right(client, fake_slack):
    install()
    people_chat(fake_slack)
    approved_ts = post_entry(fake_slack, entry())
    people_chat(fake_slack, count=4, thread_ts=approved_ts)
    people_chat(fake_slack, count=1, thread_ts=approved_ts, broadcast=True)  # "Also send to #eng-approvals"
    post_entry(fake_slack, entry("alice-april", start=date(2031, 4, 1), end=date(2031, 4, 1), status="pending"))
    people_chat(fake_slack, count=5)

    assert "*21 days left* — allowance 25, taken 3, pending 1" in vacation_line(balance_of(client, fake_slack))
    shown = listed(client)
    assert "1 pending, 1 coming up" in shown
    assert "Mon 10 Mar 2031 – Wed 12 Mar 2031" in shown and "Tue 1 Apr 2031" in shown


def test_another_apps_imitation_of_an_approved_request_never_counts(client, fake_slack):
    install()
    post_entry(fake_slack, entry())
    forged = entry("hris-import-1", start=date(2031, 6, 2), end=date(2031, 6, 13))
    another_app_posts(fake_slack, "Imported from the HR system", request_metadata(forged))

    assert "*22 days left* — allowance 25, taken 3, pending 0" in vacation_line(balance_of(client, fake_slack))
    assert "Jun" not in listed(client)
    assert "Jun 2031" not in home_text(client, fake_slack, ALICE, "Ev-home-1")


def test_another_apps_imitation_with_a_real_requests_id_changes_nothing(client, fake_slack):
    install()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    real = json.loads(json.dumps(posted.params["metadata"])) if isinstance(posted.params["metadata"], dict) \
        else json.loads(posted.params["metadata"])
    cancelled = copy.deepcopy(real)
    cancelled["event_payload"].update(status="cancelled", decided_by=OTHER_APP_USER, decided_at=1790000000)
    another_app_posts(fake_slack, "cancelled by sync", cancelled)

    # Bob, the approver, still has it to decide, in App Home, and Alice still has it pending.
    home = open_app_home(client, fake_slack, BOB, "Ev-home-2")
    assert ids.APPROVE_ACTION in json.dumps(home)
    assert "Waiting for your decision* (1)" in json.dumps(home)
    assert "1 pending" in listed(client)


def test_another_apps_imitation_is_not_in_digests_or_whos_out(client, fake_slack):
    install()
    another_app_posts(fake_slack, "sync", request_metadata(entry("hris-2", start=TUESDAY, end=TUESDAY)))
    post_entry(fake_slack, entry("dave-tuesday", user=DAVE, start=TUESDAY, end=TUESDAY))
    run_jobs(at(TUESDAY, 9, 0), "--team", "Engineering")
    [post] = posts_in(fake_slack, C_ENG)
    assert "<@U_DAVE>" in everything(post)
    assert "<@U_ALICE>" not in everything(post)


def test_another_apps_imitation_of_a_pending_request_is_not_waiting_for_approvers(client, fake_slack):
    install()
    forged = entry("hris-pending", start=date(2031, 5, 5), end=date(2031, 5, 5), status="pending")
    another_app_posts(fake_slack, "sync", request_metadata(forged))
    home = json.dumps(open_app_home(client, fake_slack, BOB, "Ev-home-3"))
    assert "Waiting for your decision" not in home
    assert "hris-pending" not in home


def test_our_own_notices_digests_and_reminders_in_the_channel_are_not_requests(client, fake_slack):
    install()
    post_entry(fake_slack, entry())
    workspace = fake_slack.workspace
    workspace.post_message(C_ENG_APPROVALS, "Reminder: 2 requests are waiting for a decision.")
    workspace.post_message(C_ENG_APPROVALS, "Out today: Alice", metadata={"event_type": "timeoff_notice",
                                                                            "event_payload": {"key": "abc123"}})
    workspace.post_message(C_ENG_APPROVALS, "Approved by Bob", metadata={"event_type": "timeoff_notice",
                                                                           "event_payload": {"key": "def456"}},
                           thread_ts=workspace.messages(C_ENG_APPROVALS)[0].ts, reply_broadcast=True)
    assert "*22 days left* — allowance 25, taken 3, pending 0" in vacation_line(balance_of(client, fake_slack))
    assert "Your time off: 0 pending, 1 coming up." in listed(client)


@pytest.mark.parametrize("payload_change", [
    {"days": "three"},
    {"start": "next monday"},
    {"status": "done"},
    {"end": "2031-03-01"},  # before its start
    {"v": "1"},
    {"v": 2},
    {"days": None},
    {"user": ""},
])
def test_a_request_message_whose_metadata_this_version_cannot_read_crashes_nothing(client, fake_slack,
                                                                                   payload_change):
    install()
    post_entry(fake_slack, entry())
    odd = request_metadata(entry("odd-1", start=date(2031, 7, 7), end=date(2031, 7, 11)))
    odd["event_payload"].update(payload_change)
    odd["event_payload"] = {k: v for k, v in odd["event_payload"].items() if v is not None}
    fake_slack.workspace.post_message(C_ENG_APPROVALS, "a request", metadata=odd)

    assert "*22 days left*" in vacation_line(balance_of(client, fake_slack))
    assert "Jul 2031" not in listed(client)
    home = open_app_home(client, fake_slack, BOB, "Ev-odd")
    assert home["type"] == "home" and "Waiting for your decision" not in json.dumps(home)


def test_a_long_channel_of_chat_is_read_page_by_page_and_every_request_counts(client, fake_slack):
    install()
    entries = [entry(f"alice-{n}", start=date(2031, 1, 6) + timedelta(weeks=n),
                     end=date(2031, 1, 6) + timedelta(weeks=n), days=1) for n in range(20)]
    # Twenty requests, each among 60 messages of chat: about 1,200 messages, seven pages of 200.
    seed_ledger(fake_slack.workspace, channel=C_ENG_APPROVALS, entries=entries, noise_every=1)
    workspace = fake_slack.workspace
    for number in range(1200):
        workspace.post_message(C_ENG_APPROVALS, f"standup note {number}", user=(BOB, DAVE, HR)[number % 3],
                               ts=f"{1700000000 + number}.000000")
    fake_slack.clear_calls()
    assert "*5 days left* — allowance 25, taken 20, pending 0" in vacation_line(balance_of(client, fake_slack))
    reads = [call for call in fake_slack.calls("conversations.history") if call.params["channel"] == C_ENG_APPROVALS]
    assert len(reads) >= 7 and all(call.response.get("ok") for call in reads)


# =================================================================================================
# A request message deleted by an admin
# =================================================================================================


def test_a_click_on_app_home_for_a_request_an_admin_deleted_says_it_no_longer_exists(client, fake_slack):
    install()
    pending_ts = post_entry(fake_slack, entry("alice-may", start=date(2031, 5, 5), end=date(2031, 5, 5),
                                              status="pending"))
    home = open_app_home(client, fake_slack, BOB, "Ev-home-del")
    admin_deletes(fake_slack, C_ENG_APPROVALS, pending_ts)
    fake_slack.clear_calls()
    block_id, value = buttons_in(home["blocks"])[ids.APPROVE_ACTION]
    payload = block_actions_payload(user_id=BOB, action_id=ids.APPROVE_ACTION, value=value, block_id=block_id,
                                    channel_id=None, message_ts=None)
    payload["container"] = {"type": "view", "view_id": "V_HOME"}
    payload.pop("message", None)
    payload.pop("channel", None)
    payload["view"] = {"id": "V_HOME", "type": "home"}
    response = post_interaction(client, payload)
    assert response.status_code == 200
    assert [c for c in fake_slack.calls("chat.update") if c.params.get("channel") == C_ENG_APPROVALS] == []
    said = dms_to(fake_slack, BOB) + ephemerals_to(fake_slack, BOB)
    assert "This request no longer exists (its message was deleted)." in said, said
    assert dms_to(fake_slack, ALICE) == []


def test_withdrawing_a_request_an_admin_deleted_tells_the_requester_it_is_gone(client, fake_slack):
    install()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    admin_deletes(fake_slack, C_ENG_APPROVALS, posted.response["ts"])
    body = post_command(client, "list", user_id=ALICE).json()
    fake_slack.clear_calls()
    block_id, value = buttons_in(body["blocks"])[ids.WITHDRAW_ACTION]
    payload = block_actions_payload(user_id=ALICE, action_id=ids.WITHDRAW_ACTION, value=value, block_id=block_id,
                                    channel_id="C_GENERAL", message_ts="1766000000.000200")
    payload["container"]["is_ephemeral"] = True
    payload.pop("message")
    assert post_interaction(client, payload).status_code == 200
    said = dms_to(fake_slack, ALICE) + ephemerals_to(fake_slack, ALICE) + [
        json.dumps(p.body) for p in fake_slack.workspace.response_url_posts]
    assert "I couldn't change that request: it no longer exists (its message was deleted)." in said, said
    assert [c for c in fake_slack.calls("chat.postMessage") if c.params.get("channel") == C_ENG_APPROVALS] == []


def test_after_the_nightly_read_a_deleted_pending_request_leaves_the_approvers_app_home(client, fake_slack):
    install()
    doomed_ts = post_entry(fake_slack, entry("alice-may", start=date(2031, 5, 5), end=date(2031, 5, 5),
                                             status="pending"))
    assert "Waiting for your decision* (1)" in home_text(client, fake_slack, BOB, "Ev-h1")
    admin_deletes(fake_slack, C_ENG_APPROVALS, doomed_ts)
    run_jobs(utc(MONDAY))  # the nightly ledger watch reads the whole ledger again
    # Dave, the other approver (in #eng-leads), opens his App Home after the night.
    assert "Waiting for your decision" not in home_text(client, fake_slack, DAVE, "Ev-h2")


# =================================================================================================
# The nightly ledger watch
# =================================================================================================


def test_a_deleted_request_with_a_thread_is_told_to_hr_exactly_once(fake_slack):
    install()
    post_entry(fake_slack, entry("kept"), ts="1790000000.000100")
    doomed_ts = post_entry(fake_slack, entry("doomed", user=DAVE), ts="1790000100.000100")
    fake_slack.workspace.post_message(C_ENG_APPROVALS, "Approved by Bob", thread_ts=doomed_ts)
    people_chat(fake_slack, count=2, thread_ts=doomed_ts)
    run_jobs(utc(MONDAY))
    admin_deletes(fake_slack, C_ENG_APPROVALS, doomed_ts)  # a tombstone stays: it had replies
    for day in (TUESDAY, WEDNESDAY, date(2031, 3, 13)):
        run_jobs(utc(day))
    [alert] = hr_alerts(fake_slack)
    assert "doomed" in alert and "<@U_DAVE>" in alert
    assert "kept" not in alert


def test_deleting_chat_an_imitation_or_our_notices_is_not_told_to_hr(fake_slack):
    install()
    post_entry(fake_slack, entry("kept"), ts="1790000000.000100")
    chat = fake_slack.workspace.post_message(C_ENG_APPROVALS, "lunch?", user=DAVE, ts="1790000050.000100")
    forged = another_app_posts(fake_slack, "sync", request_metadata(entry("forged")), ts="1790000060.000100")
    notice = fake_slack.workspace.post_message(C_ENG_APPROVALS, "Out today", ts="1790000070.000100",
                                               metadata={"event_type": "timeoff_notice",
                                                         "event_payload": {"key": "k1"}})
    run_jobs(utc(MONDAY))
    for message in (chat, forged, notice):
        admin_deletes(fake_slack, C_ENG_APPROVALS, message.ts)
    run_jobs(utc(TUESDAY))
    assert hr_alerts(fake_slack) == []


def test_an_imitation_with_the_deleted_requests_id_does_not_hide_the_deletion(fake_slack):
    install()
    post_entry(fake_slack, entry("kept"), ts="1790000000.000100")
    doomed = entry("doomed", user=DAVE)
    doomed_ts = post_entry(fake_slack, doomed, ts="1790000100.000100")
    run_jobs(utc(MONDAY))
    admin_deletes(fake_slack, C_ENG_APPROVALS, doomed_ts)
    another_app_posts(fake_slack, "restored by sync", request_metadata(doomed))
    run_jobs(utc(TUESDAY))
    [alert] = hr_alerts(fake_slack)
    assert "doomed" in alert


@pytest.mark.parametrize("change", ["renamed", "made_private", "archived", "archived_and_unarchived"])
def test_the_channel_changing_in_slack_is_no_deletion(fake_slack, change):
    install()
    post_entry(fake_slack, entry("kept"), ts="1790000000.000100")
    post_entry(fake_slack, entry("also-kept", user=DAVE), ts="1790000100.000100")
    run_jobs(utc(MONDAY))
    channel = fake_slack.workspace.channels[C_ENG_APPROVALS]
    if change == "renamed":
        channel.name = "eng-time-off"
    elif change == "made_private":
        channel.is_private = True
    else:
        channel.is_archived = True
    run_jobs(utc(TUESDAY))
    if change == "archived_and_unarchived":
        channel.is_archived = False
        run_jobs(utc(WEDNESDAY))
    assert hr_alerts(fake_slack) == []
    assert set(LedgerSnapshot.objects.get().entries) == {"kept", "also-kept"}


def test_a_deletion_while_the_bot_was_removed_is_told_once_after_it_is_invited_back(fake_slack):
    install()
    post_entry(fake_slack, entry("kept"), ts="1790000000.000100")
    doomed_ts = post_entry(fake_slack, entry("doomed", user=DAVE), ts="1790000100.000100")
    run_jobs(utc(MONDAY))
    remove_bot(fake_slack)
    admin_deletes(fake_slack, C_ENG_APPROVALS, doomed_ts)
    with pytest.raises(CommandError):
        run_jobs(utc(TUESDAY))
    assert hr_alerts(fake_slack) == []
    invite_bot(fake_slack)
    for day in (WEDNESDAY, date(2031, 3, 13)):
        run_jobs(utc(day))
    [alert] = hr_alerts(fake_slack)
    assert "doomed" in alert


def test_a_deletion_deep_in_a_long_channel_is_told_once(fake_slack):
    install()
    entries = [entry(f"r{n}", start=date(2031, 1, 6) + timedelta(weeks=n), end=date(2031, 1, 6) + timedelta(weeks=n),
                     days=1) for n in range(30)]
    ts_of = seed_ledger(fake_slack.workspace, channel=C_ENG_APPROVALS, entries=entries, noise_every=1)
    for number in range(700):
        fake_slack.workspace.post_message(C_ENG_APPROVALS, f"note {number}", user=BOB)
    run_jobs(utc(MONDAY))
    admin_deletes(fake_slack, C_ENG_APPROVALS, ts_of["r5"])
    run_jobs(utc(TUESDAY))
    run_jobs(utc(WEDNESDAY))
    [alert] = hr_alerts(fake_slack)
    assert "r5" in alert


def test_a_deleted_request_is_told_once_with_two_teams_sharing_hr(fake_slack):
    sales = replace(ENG, name="Sales", members=ENG.members.__class__(users=(HR,)),
                    approvals_channel=C_OLD_APPROVALS, announce_channel=None)
    install(ENG, sales)
    post_entry(fake_slack, entry("kept"), ts="1790000000.000100")
    doomed_ts = post_entry(fake_slack, entry("doomed", user=DAVE), ts="1790000100.000100")
    post_entry(fake_slack, entry("sales-kept", user=HR, team="Sales"), channel=C_OLD_APPROVALS,
               ts="1790000000.000200")
    run_jobs(utc(MONDAY))
    admin_deletes(fake_slack, C_ENG_APPROVALS, doomed_ts)
    run_jobs(utc(TUESDAY))
    [alert] = hr_alerts(fake_slack)
    assert "doomed" in alert


# =================================================================================================
# The channel archived, the bot removed and invited back: what people and HR see
# =================================================================================================


def test_a_request_into_an_archived_approvals_channel_tells_the_requester(client, fake_slack):
    install()
    fake_slack.workspace.channels[C_ENG_APPROVALS].is_archived = True
    request_time_off(client, fake_slack, ALICE)
    [said] = delivered_dms(fake_slack, ALICE)
    assert said.startswith(":warning: Your time-off request did not reach your approvers"), said
    assert "(is_archived)" in said and "Mon 10 Mar 2031 – Wed 12 Mar 2031" in said
    assert [c for c in fake_slack.calls("chat.postMessage")
            if c.params.get("channel") == C_ENG_APPROVALS and c.response.get("ok")] == []


def test_after_unarchiving_requests_reach_approvers_again(client, fake_slack):
    install()
    channel = fake_slack.workspace.channels[C_ENG_APPROVALS]
    channel.is_archived = True
    channel.is_archived = False
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    assert posted.response.get("ok")


def test_balance_while_the_bot_is_out_of_the_channel_asks_hr_to_invite_it(client, fake_slack):
    install()
    post_entry(fake_slack, entry())
    remove_bot(fake_slack)
    answer = balance_of(client, fake_slack)
    assert f"<#{C_ENG_APPROVALS}>" in answer and "member of that channel" in answer
    assert "days left" not in answer


def test_after_the_bot_is_invited_back_the_balance_is_right_again(client, fake_slack):
    install()
    post_entry(fake_slack, entry())
    remove_bot(fake_slack)
    balance_of(client, fake_slack)
    invite_bot(fake_slack)
    fake_slack.clear_calls()
    assert "*22 days left* — allowance 25, taken 3, pending 0" in vacation_line(balance_of(client, fake_slack))


def test_app_home_while_the_bot_is_out_of_the_channel_says_so_and_recovers(client, fake_slack):
    install()
    post_entry(fake_slack, entry())
    remove_bot(fake_slack)
    home = home_text(client, fake_slack, DAVE, "Ev-out-1")
    assert "still a member of that channel" in home
    invite_bot(fake_slack)
    home = home_text(client, fake_slack, ALICE, "Ev-out-2")
    assert "still a member of that channel" not in home
    assert "Mon 10 Mar 2031" in home


@pytest.fixture
def hr_client(client, django_user_model, fake_slack):
    from django.contrib.auth.models import Permission

    hannah = django_user_model.objects.create_user("hannah", "hannah@example.com", "a-long-test-password",
                                                   is_staff=True)
    hannah.user_permissions.add(Permission.objects.get(codename="view_leave_records"))
    client.force_login(hannah)
    return client


def test_setup_says_the_approvals_channel_is_archived(hr_client, fake_slack):
    install()
    fake_slack.workspace.channels[C_ENG_APPROVALS].is_archived = True
    hr_client.post(reverse("console:setup_check"))
    page = hr_client.get(reverse("console:setup")).text
    assert "It is archived: nothing can be posted there." in page


def test_setup_stops_saying_the_ledger_cannot_be_read_once_the_bot_is_back(hr_client, client, fake_slack):
    install()
    post_entry(fake_slack, entry())
    remove_bot(fake_slack)
    page = hr_client.get(reverse("console:setup")).text
    assert "The ledger cannot be read" in page
    invite_bot(fake_slack)
    # Alice asks for her balance: the ledger is read from Slack again, fine.
    assert "days left" in balance_of(hr_client, fake_slack, ALICE)
    hr_client.post(reverse("console:setup_check"))
    page = hr_client.get(reverse("console:setup")).text
    assert "The bot is not in it" not in page
    assert "The ledger cannot be read" not in page, "Setup still says the ledger cannot be read"


def test_whos_out_in_the_console_ignores_imitations_and_chat(hr_client, fake_slack):
    from django.utils import timezone as dj_timezone

    install()
    today = dj_timezone.localdate()
    next_monday = today + timedelta(days=7 - today.weekday())
    people_chat(fake_slack)
    post_entry(fake_slack, entry("dave-next", user=DAVE, start=next_monday, end=next_monday))
    another_app_posts(fake_slack, "sync", request_metadata(entry("forged-next", start=next_monday,
                                                                   end=next_monday + timedelta(days=1))))
    page = hr_client.get(reverse("console:whos_out")).text
    assert "Dave Diaz" in page
    assert "Alice Adams" not in page




def test_another_apps_imitated_balance_adjustment_never_counts(client, fake_slack):
    install()
    post_entry(fake_slack, entry())
    gift = Adjustment(id="hris-gift", user=ALICE, leave_type="vacation", days=Decimal(10), year=2031,
                      reason="synced from HRIS", by="hris")
    another_app_posts(fake_slack, "Adjustment synced", adjustment_metadata(gift))
    assert "*22 days left* — allowance 25, taken 3, pending 0" in vacation_line(balance_of(client, fake_slack))


def test_the_nightly_watch_run_twice_in_a_night_tells_hr_once(fake_slack):
    install()
    post_entry(fake_slack, entry("kept"), ts="1790000000.000100")
    doomed_ts = post_entry(fake_slack, entry("doomed", user=DAVE), ts="1790000100.000100")
    run_jobs(utc(MONDAY))
    admin_deletes(fake_slack, C_ENG_APPROVALS, doomed_ts)
    run_jobs(utc(TUESDAY))
    run_jobs(utc(TUESDAY, 3))  # a second clock, an hour later
    assert len(hr_alerts(fake_slack)) == 1


def test_each_hr_person_is_told_of_a_deletion_once(fake_slack):
    install(fallback_approvers=(HR, DAVE))
    post_entry(fake_slack, entry("kept"), ts="1790000000.000100")
    doomed_ts = post_entry(fake_slack, entry("doomed"), ts="1790000100.000100")
    run_jobs(utc(MONDAY))
    admin_deletes(fake_slack, C_ENG_APPROVALS, doomed_ts)
    run_jobs(utc(TUESDAY))
    run_jobs(utc(WEDNESDAY))
    assert len(hr_alerts(fake_slack)) == 1
    assert len([t for t in delivered_dms(fake_slack, DAVE) if "disappeared" in t]) == 1


def test_a_night_slack_refuses_hrs_dm_still_tells_hr_once_later(fake_slack, no_backoff):
    install()
    post_entry(fake_slack, entry("kept"), ts="1790000000.000100")
    doomed_ts = post_entry(fake_slack, entry("doomed", user=DAVE), ts="1790000100.000100")
    run_jobs(utc(MONDAY))
    admin_deletes(fake_slack, C_ENG_APPROVALS, doomed_ts)
    fake_slack.server_error("chat.postMessage", times=None)
    try:
        run_jobs(utc(TUESDAY))
    except CommandError:
        pass
    fake_slack.clear_faults()
    for day in (WEDNESDAY, date(2031, 3, 13)):
        run_jobs(utc(day))
    [alert] = hr_alerts(fake_slack)
    assert "doomed" in alert


def test_whos_out_stops_saying_the_ledger_cannot_be_read_once_the_bot_is_back(hr_client, fake_slack):
    install()
    post_entry(fake_slack, entry())
    remove_bot(fake_slack)
    assert "The ledger cannot be read from Slack" in hr_client.get(reverse("console:whos_out")).text
    invite_bot(fake_slack)
    assert "days left" in balance_of(hr_client, fake_slack, ALICE)  # the ledger is read again, fine
    page = hr_client.get(reverse("console:whos_out")).text
    assert "The ledger cannot be read from Slack" not in page, "Who's out still says the ledger cannot be read"


def test_setup_shows_a_renamed_approvals_channel_by_its_new_name(hr_client, fake_slack):
    install()
    hr_client.get(reverse("console:setup"))
    fake_slack.workspace.channels[C_ENG_APPROVALS].name = "eng-time-off"
    hr_client.post(reverse("console:setup_check"))
    page = hr_client.get(reverse("console:setup")).text
    assert "eng-time-off" in page
