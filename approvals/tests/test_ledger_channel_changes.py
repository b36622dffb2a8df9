"""The approvals channel changing the way Slack channels change: a request message deleted (with or
without a thread), posted twice, written by another version of the app or by another app; the channel
archived, renamed, made private, the bot removed from it; our bot's id unknown; 15-message pages, long
threads, other people's and apps' messages and subtypes between entries; adjustments with odd values.
Nothing decided, counted or rewritten wrongly, the daily jobs of other teams go on, and the right
person is told."""

import json
from dataclasses import replace
from datetime import date, datetime
from datetime import time as dtime
from decimal import Decimal
from io import StringIO
from zoneinfo import ZoneInfo

import pytest
from django.core.cache import cache
from django.core.management import CommandError, call_command

from approvals import balance_services, ledger_reader
from approvals import block_ids as ids
from approvals.config_types import ApproverSource, MemberSource, TeamConfig
from approvals.directory import BOT_ID_KEY
from approvals.ledger_format import request_metadata
from approvals.models import DeliveryProblem, JobRun
from approvals.rules import APPROVED, PENDING, LedgerEntry
from approvals.slack_clients import background_client
from fake_slack.ledger_seed import engineering_holidays, ledger_config, realistic_ledger, seed_realistic_ledger
from fake_slack.personas import C_ENG_APPROVALS, C_GENERAL, C_OLD_APPROVALS
from fake_slack.workspace import Message
from test_support.flows import (
    ALICE,
    BOB,
    DAVE,
    MONDAY,
    WEDNESDAY,
    channel_updates,
    click,
    dms_to,
    ephemerals_to,
    install_config,
    metadata_payload,
    open_request_form,
    request_values,
    submit_request,
    posted_requests,
    request_time_off,
    standard_config,
)
from test_support.slack_requests import block_actions_payload, post_interaction

pytestmark = pytest.mark.django_db

OTHER_APP_BOT = "U_OTHERAPP"


def told(fake_slack, user):
    return ephemerals_to(fake_slack, user) + dms_to(fake_slack, user)


def request_twice(client, fake_slack):
    for number, day in enumerate((MONDAY, WEDNESDAY)):
        view = open_request_form(client, fake_slack, ALICE)
        submit_request(client, ALICE, view, request_values("vacation", day, day), view_id=f"V_P{number}",
                       view_hash=f"h{number}")


def ledger_message(fake_slack, ts):
    return fake_slack.workspace.message(C_ENG_APPROVALS, ts)


# --- A deleted request message ------------------------------------------------------------------


def test_click_on_a_deleted_request_does_not_decide_the_message_before_it(client, fake_slack):
    install_config()
    request_twice(client, fake_slack)
    first, second = posted_requests(fake_slack)
    ws = fake_slack.workspace
    with ws.lock:
        ws.delete_message(ws.find_message(C_ENG_APPROVALS, second.response["ts"]))
    fake_slack.clear_calls()

    click(client, fake_slack, BOB, ids.APPROVE_ACTION, second)

    assert channel_updates(fake_slack) == []
    assert ledger_message(fake_slack, first.response["ts"]).metadata["event_payload"]["status"] == PENDING
    assert any("no longer exists" in t for t in told(fake_slack, BOB))


# --- The same request id twice in the channel ----------------------------------------------------


def test_a_duplicate_post_decided_on_its_older_copy_stays_decided_after_the_next_full_read(client, fake_slack):
    config = install_config()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    # A retry whose look for its earlier post failed posted it again (same id, same metadata).
    original = ledger_message(fake_slack, posted.response["ts"])
    fake_slack.workspace.post_message(C_ENG_APPROVALS, original.text, metadata=original.metadata,
                                      blocks=original.blocks)
    click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted)  # Bob approves on the first copy
    request_id = metadata_payload(posted)["id"]
    assert ledger_message(fake_slack, posted.response["ts"]).metadata["event_payload"]["status"] == APPROVED

    cache.clear()  # the next day's full read, once our own write has been folded away
    ledger = ledger_reader.current_ledger(background_client(), config)

    assert ledger.entries[request_id].status == APPROVED
    assert len([e for e in ledger.entries.values() if e.user == ALICE]) == 1


def test_a_duplicate_post_counts_once_in_the_balance(client, fake_slack):
    config = install_config()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    original = ledger_message(fake_slack, posted.response["ts"])
    fake_slack.workspace.post_message(C_ENG_APPROVALS, original.text, metadata=original.metadata)
    cache.clear()
    ledger = ledger_reader.current_ledger(background_client(), config)
    assert len(ledger.for_user(ALICE)) == 1


# --- Bot unknown, another app's forged request ---------------------------------------------------


def test_a_decision_while_auth_test_refuses_tells_the_approver_and_writes_nothing(client, fake_slack):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    cache.delete(BOT_ID_KEY)
    fake_slack.fail("auth.test", "not_allowed_token_type", times=None)
    fake_slack.clear_calls()

    click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted)

    assert channel_updates(fake_slack) == []
    texts = told(fake_slack, BOB)
    assert texts, "the approver hears nothing"
    # Slack refused to say who our bot is (auth.test): not "something went wrong on our side".
    assert "our side" not in texts[-1], texts[-1]
    assert "bot_user_unknown" in DeliveryProblem.objects.get().error


def test_another_apps_valid_looking_request_is_not_decided(client, fake_slack):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    payload = metadata_payload(posted)
    forged = fake_slack.workspace.post_message(C_ENG_APPROVALS, "forged", user=OTHER_APP_BOT,
                                               metadata={"event_type": "timeoff_request",
                                                         "event_payload": {**payload, "id": "forged-1"}},
                                               blocks=posted.params["blocks"])
    fake_slack.clear_calls()
    buttons = [b for b in posted.params["blocks"] if b.get("type") == "actions"][0]["elements"]
    value = json.loads(next(b["value"] for b in buttons if b["action_id"] == ids.APPROVE_ACTION))
    value["id"] = "forged-1"
    post_interaction(client, block_actions_payload(user_id=BOB, action_id=ids.APPROVE_ACTION,
                                                   value=json.dumps(value), channel_id=C_ENG_APPROVALS,
                                                   message_ts=forged.ts, block_id=ids.DECISION_BLOCK))
    assert channel_updates(fake_slack) == []


# --- The channel archived, the bot removed --------------------------------------------------------


def test_a_decision_in_an_archived_channel_tells_the_approver_and_hr(client, fake_slack):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    fake_slack.workspace.channels[C_ENG_APPROVALS].is_archived = True
    fake_slack.clear_calls()

    click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted)

    assert ledger_message(fake_slack, posted.response["ts"]).metadata["event_payload"]["status"] == PENDING
    texts = told(fake_slack, BOB)
    assert texts, "the approver hears nothing"
    assert any("will not help" in t or "refused" in t for t in texts), texts
    assert DeliveryProblem.objects.exists()
    assert dms_to(fake_slack, ALICE) == []  # no decision DM for a decision not recorded


def test_a_decision_after_the_bot_was_removed_tells_the_approver_and_hr(client, fake_slack):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    fake_slack.workspace.channels[C_ENG_APPROVALS].members.discard(fake_slack.workspace.bot_user_id)
    fake_slack.clear_calls()

    click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted)

    texts = told(fake_slack, BOB)
    assert texts, "the approver hears nothing"
    assert DeliveryProblem.objects.exists()
    assert dms_to(fake_slack, ALICE) == []


def test_a_renamed_channel_made_private_changes_nothing(client, fake_slack):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    channel = fake_slack.workspace.channels[C_ENG_APPROVALS]
    channel.name, channel.is_private = "eng-approvals-2031", True
    click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted)
    assert ledger_message(fake_slack, posted.response["ts"]).metadata["event_payload"]["status"] == APPROVED


# --- Metadata of another version ------------------------------------------------------------------


@pytest.mark.parametrize("version", [None, 2])
def test_a_request_of_another_version_is_not_rewritten(client, fake_slack, version):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    ws = fake_slack.workspace
    with ws.lock:
        msg = ws.find_message(C_ENG_APPROVALS, posted.response["ts"])
        payload = dict(msg.metadata["event_payload"])
        if version is None:
            payload.pop("v")
        else:
            payload["v"] = version
            payload["approver_group"] = "S_NEW"
        msg.metadata = {"event_type": "timeoff_request", "event_payload": payload}
        before = json.dumps(msg.metadata, sort_keys=True)
    fake_slack.clear_calls()

    click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted)

    assert channel_updates(fake_slack) == []
    assert json.dumps(ledger_message(fake_slack, posted.response["ts"]).metadata, sort_keys=True) == before
    assert told(fake_slack, BOB)


def test_a_request_of_a_newer_version_is_said_to_be_another_versions(client, fake_slack):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    ws = fake_slack.workspace
    with ws.lock:
        msg = ws.find_message(C_ENG_APPROVALS, posted.response["ts"])
        msg.metadata = {"event_type": "timeoff_request", "event_payload": {**msg.metadata["event_payload"], "v": 2}}
    fake_slack.clear_calls()

    click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted)

    [text] = told(fake_slack, BOB)
    # The message is there, written by a newer version of the app: saying it was deleted is untrue.
    assert "deleted" not in text and "no longer exists" not in text, text
    assert "another version of this app" in text and "Nothing was changed" in text, text


# --- Slack's history limits: 15-message pages ----------------------------------------------------


def test_pages_of_15_read_the_same_ledger(fake_slack, monkeypatch):
    monkeypatch.setattr(ledger_reader, "HISTORY_CALLS_PER_MINUTE", 10_000)  # the budget's waits are tested elsewhere

    today = date.today()
    data = seed_realistic_ledger(fake_slack.workspace,
                                 realistic_ledger(today=today, holiday_dates=engineering_holidays(today)))
    fake_slack.workspace.history_page_cap = 15
    ledger = ledger_reader.read_ledger(background_client(), ledger_config())
    assert ledger.entries == {entry.id: entry for entry in data.entries}
    assert ledger.adjustments == {a.id: a for a in data.adjustments}
    assert ledger.truncated is False


# --- Other people's messages, other apps, subtypes ------------------------------------------------


def _insert(fake_slack, **fields):

    ws = fake_slack.workspace
    with ws.lock:
        msg = Message(channel=C_ENG_APPROVALS, ts=ws.new_ts(), **fields)
        ws.insert_message(msg)
    return msg


def test_subtyped_and_other_authors_messages_with_valid_metadata_are_not_entries(fake_slack):
    config = install_config()
    real = LedgerEntry(id="real-1", user=ALICE, team="Engineering", leave_type="vacation", start=MONDAY,
                       end=WEDNESDAY, start_half=None, end_half=None, days=Decimal(3), status=PENDING)
    fake_slack.workspace.post_message(C_ENG_APPROVALS, "request", metadata=request_metadata(real))
    forged = replace(real, status=APPROVED, decided_by=DAVE, decided_at=1766000000)
    other = lambda i: request_metadata(replace(real, id=f"forged-{i}"))  # noqa: E731
    _insert(fake_slack, user=DAVE, subtype="channel_join", text="<@U_DAVE> has joined the channel")
    _insert(fake_slack, bot_id="B_OTHER", subtype="bot_message", text="legacy bot", metadata=other(1))
    _insert(fake_slack, user=OTHER_APP_BOT, bot_id="B_OTHER", text="app", metadata=request_metadata(forged))
    _insert(fake_slack, user=DAVE, subtype="thread_broadcast", text="bc", metadata=other(2),
            thread_ts=fake_slack.workspace.messages(C_ENG_APPROVALS)[0].ts, reply_broadcast=True)
    _insert(fake_slack, user="USLACKBOT", subtype="tombstone", text="This message was deleted.")
    ledger = ledger_reader.current_ledger(background_client(), config)
    assert set(ledger.entries) == {"real-1"}
    assert ledger.entries["real-1"].status == PENDING


# --- Adjustments with odd values -------------------------------------------------------------------


@pytest.mark.parametrize("days", [1e27, 1e-7, -0.0, 0.1 + 0.2, 123456789.123456789, -1e27])
def test_an_adjustment_with_odd_days_does_not_break_the_balance(fake_slack, days):

    install_config()
    year = date.today().year
    fake_slack.workspace.post_message(C_ENG_APPROVALS, "adjusted", metadata={
        "event_type": "timeoff_adjustment",
        "event_payload": {"v": 1, "id": "adj-odd", "user": ALICE, "type": "vacation", "days": days, "year": year,
                          "reason": "odd", "by": "hr"}})
    fake_slack.clear_calls()
    balance_services.balance_send(background_client(), ALICE, year)
    texts = dms_to(fake_slack, ALICE)
    assert texts, "no balance DM"
    assert "E+" not in texts[-1] and "E-" not in texts[-1] and "e+" not in texts[-1], texts[-1]


def test_a_request_after_an_odd_adjustment_is_still_checked(client, fake_slack):
    install_config()
    fake_slack.workspace.post_message(C_ENG_APPROVALS, "adjusted", metadata={
        "event_type": "timeoff_adjustment",
        "event_payload": {"v": 1, "id": "adj-neg", "user": ALICE, "type": "vacation", "days": -1e27,
                          "year": MONDAY.year, "reason": "odd", "by": "hr"}})
    request_time_off(client, fake_slack, ALICE)
    assert posted_requests(fake_slack) == []  # far over the allowance: refused


# --- Withdrawal when the channel changed -----------------------------------------------------------


def _receipt_press(client, fake_slack, action_id):
    [receipt] = [c for c in fake_slack.calls("chat.postMessage") if c.params.get("channel") == ALICE
                 and c.params.get("blocks")]
    for block in receipt.params["blocks"]:
        for element in block.get("elements", []) if block.get("type") == "actions" else []:
            if element.get("action_id") == action_id:
                payload = block_actions_payload(user_id=ALICE, action_id=action_id, value=element["value"],
                                                block_id=block["block_id"], channel_id=receipt.response["channel"],
                                                message_ts=receipt.response["ts"])
                return post_interaction(client, payload)
    raise AssertionError("no such button")


@pytest.mark.parametrize("change", ["archived", "bot_removed"])
def test_a_withdrawal_in_a_changed_channel_tells_the_requester_and_hr(client, fake_slack, change):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    channel = fake_slack.workspace.channels[C_ENG_APPROVALS]
    if change == "archived":
        channel.is_archived = True
    else:
        channel.members.discard(fake_slack.workspace.bot_user_id)
    before = len(dms_to(fake_slack, ALICE))
    _receipt_press(client, fake_slack, ids.WITHDRAW_ACTION)
    assert ledger_message(fake_slack, posted.response["ts"]).metadata["event_payload"]["status"] == PENDING
    texts = dms_to(fake_slack, ALICE)[before:]
    assert texts and "our side" not in texts[-1]
    assert DeliveryProblem.objects.exists()


def test_a_withdrawal_of_another_versions_request_says_so_and_changes_nothing(client, fake_slack):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    with fake_slack.workspace.lock:
        message = fake_slack.workspace.find_message(C_ENG_APPROVALS, posted.response["ts"])
        message.metadata = {"event_type": "timeoff_request",
                            "event_payload": {**message.metadata["event_payload"], "v": 2}}
    before = len(dms_to(fake_slack, ALICE))

    _receipt_press(client, fake_slack, ids.WITHDRAW_ACTION)

    assert channel_updates(fake_slack) == []
    assert ledger_message(fake_slack, posted.response["ts"]).metadata["event_payload"]["v"] == 2
    [text] = dms_to(fake_slack, ALICE)[before:]
    assert "another version of this app" in text and "deleted" not in text, text


# --- The daily jobs when one approvals channel changed ---------------------------------------------


def _jobs_with_one_channel_changed(fake_slack, change, settings, tmp_path):



    settings.LEDGER_EXPORT_DIR = tmp_path
    fine = TeamConfig(name="Fine", members=MemberSource(users=(ALICE,)), approvers=ApproverSource(users=(BOB,)),
                      approvals_channel=C_ENG_APPROVALS, announce_channel=C_GENERAL, timezone="UTC",
                      digest_time=dtime(9, 0))
    broken = replace(fine, name="Broken", members=MemberSource(users=(DAVE,)), approvals_channel=C_OLD_APPROVALS)
    install_config(standard_config(teams=(fine, broken)))
    day = date(2031, 3, 11)
    entry = LedgerEntry(id="fine-1", user=ALICE, team="Fine", leave_type="vacation", start=day, end=day,
                        start_half=None, end_half=None, days=Decimal(1), status=APPROVED, decided_by=BOB)
    fake_slack.workspace.post_message(C_ENG_APPROVALS, "req", metadata=request_metadata(entry))
    ch = fake_slack.workspace.channels[C_OLD_APPROVALS]
    if change == "archived":
        ch.is_archived = True
    else:
        ch.members.discard(fake_slack.workspace.bot_user_id)
    out = StringIO()
    try:
        call_command("run_jobs", "--at", datetime(2031, 3, 11, 9, 30, tzinfo=ZoneInfo("UTC")).isoformat(),
                     stdout=out)
    except CommandError:
        pass
    posts = [c.params for c in fake_slack.calls("chat.postMessage") if c.params.get("channel") == C_GENERAL
             and c.response.get("ok")]
    return posts, {(run.job, run.team): run.error for run in JobRun.objects.all()}


def test_daily_jobs_go_on_when_an_approvals_channel_is_archived(fake_slack, settings, tmp_path):
    posts, runs = _jobs_with_one_channel_changed(fake_slack, "archived", settings, tmp_path)
    assert len(posts) == 1 and runs[("out_today", "Fine")] == ""


def test_one_teams_approvals_channel_losing_the_bot_does_not_stop_the_other_teams_jobs(fake_slack, settings,
                                                                                      tmp_path):
    posts, runs = _jobs_with_one_channel_changed(fake_slack, "bot_removed", settings, tmp_path)
    # Fine's entries are all in Fine's own channel, which Slack still shows.
    assert len(posts) == 1, runs
    assert runs[("out_today", "Fine")] == "", runs
    # Broken's own jobs, and those that need every channel, fail with Slack's word, not a class name.
    assert runs[("out_today", "Broken")] == runs[("ledger_export", "")] == "channel_not_found", runs


# --- A request whose thread has many replies; a deleted one that leaves a tombstone ---------------------


def test_a_request_with_a_long_thread_is_decided_once_with_15_message_pages(client, fake_slack):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    ts = posted.response["ts"]
    for number in range(250):
        fake_slack.workspace.post_message(C_ENG_APPROVALS, f"reply {number}", user=DAVE if number % 2 else BOB,
                                          thread_ts=ts, reply_broadcast=number % 50 == 0)
    fake_slack.workspace.history_page_cap = 15
    fake_slack.clear_calls()
    click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted)
    assert ledger_message(fake_slack, ts).metadata["event_payload"]["status"] == APPROVED
    replies = [c for c in fake_slack.calls("chat.postMessage") if c.params.get("thread_ts") == ts]
    assert len(replies) == 1


def test_a_click_on_a_request_deleted_with_its_thread_left_as_a_tombstone(client, fake_slack):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    ts = posted.response["ts"]
    fake_slack.workspace.post_message(C_ENG_APPROVALS, "question", user=DAVE, thread_ts=ts)
    background_client().chat_delete(channel=C_ENG_APPROVALS, ts=ts)  # leaves a tombstone
    fake_slack.clear_calls()
    click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted)
    assert channel_updates(fake_slack) == []
    assert any("no longer exists" in t for t in told(fake_slack, BOB))


# --- Which of two messages of one request the ledger reads ------------------------------------------


@pytest.mark.django_db(False)
def test_the_copy_that_says_where_a_request_stands_is_read():
    pending = LedgerEntry(id="r1", user=ALICE, team="Engineering", leave_type="vacation", start=MONDAY,
                          end=WEDNESDAY, start_half=None, end_half=None, days=Decimal(3), status=PENDING,
                          ts="1900000000.000100")
    newer_pending = replace(pending, ts="1900000100.000100")
    approved = replace(pending, status=APPROVED, decided_by=BOB, decided_at=1900000200)
    cancelled_later = replace(approved, status="cancelled", decided_by=ALICE, decided_at=1900000300)
    edited_in_place = replace(pending, end=MONDAY, days=Decimal(1))  # the same message, read again

    assert ledger_reader.current_copy(pending, newer_pending) is newer_pending
    assert ledger_reader.current_copy(approved, newer_pending) is approved
    assert ledger_reader.current_copy(newer_pending, approved) is approved
    assert ledger_reader.current_copy(approved, cancelled_later) is cancelled_later
    assert ledger_reader.current_copy(pending, edited_in_place) is edited_in_place
