"""Slack's Web API answering in shapes that are valid but surprising, end to end.

Slack's docs say a history page "may hold fewer messages than asked, even none, with more to come"; a
last page may say `has_more: true` with an empty `next_cursor`, or carry no `response_metadata` at all.
An approvals channel holds more than our requests: people joining, other apps' `bot_message`s (some
imitating our metadata, some copying our buttons), replies "also sent to the channel", tombstones of
deleted messages and `message_changed` shapes. Metadata may carry fields a newer release added, or a
newer `v`. users.info may lack `tz` and email (an Enterprise Grid person with a W id, `tz_offset` only);
a channel of people may hold thousands over many pages; a user group may be disabled; and any `ok`
answer may carry `warning` and `response_metadata.warnings`.

Every test here checks what people see (requests, decisions, App Home, the daily jobs, the console's
Setup page) with the fake Slack answering as the real one can.
"""

import base64
import copy
import json
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core.cache import cache

from approvals import block_ids as ids
from approvals.ledger_format import request_metadata
from approvals.messages import decision_value
from approvals.models import DeliveryProblem
from approvals.rules import LedgerEntry
from fake_slack.personas import C_ENG, C_ENG_APPROVALS, C_ENG_LEADS, S_ENG
from fake_slack.workspace import Message, User
from test_support.command_answers import balance_of, listed, vacation_line
from test_support.flows import (
    ALICE,
    BOB,
    DAVE,
    ENGINEERING,
    HR,
    click,
    dms_to,
    ephemerals_to,
    install_config,
    metadata_payload,
    open_request_form,
    open_app_home,
    posted_requests,
    request_status,
    request_time_off,
    request_values,
    standard_config,
    submit_request,
)
from test_support.home_views import shown_text, waiting_count
from test_support.job_runs import post_entry, posts_in, run_jobs
from test_support.setup_page import alerts, setup_page
from test_support.slack_faults import answers_lost
from test_support.slack_requests import block_actions_payload, post_interaction

pytestmark = pytest.mark.django_db

LA = ZoneInfo("America/Los_Angeles")
ENG = replace(ENGINEERING, digest_time=time(9, 0))
MONDAY, TUESDAY, WEDNESDAY = date(2031, 3, 10), date(2031, 3, 11), date(2031, 3, 12)
APRIL_1 = date(2031, 4, 1)
OTHER_APP_USER, OTHER_APP_BOT = "U_HRIS_SYNC", "B_HRIS_SYNC"


@pytest.fixture(autouse=True)
def export_dir(settings, tmp_path):
    settings.LEDGER_EXPORT_DIR = tmp_path / "exports"
    return settings.LEDGER_EXPORT_DIR


def install(**changes):
    return install_config(standard_config(teams=(replace(ENG, **changes),)))


def entry(entry_id="alice-march", user=ALICE, start=MONDAY, end=WEDNESDAY, status="approved",
          leave_type="vacation") -> LedgerEntry:
    days = sum(1 for n in range((end - start).days + 1) if (start + timedelta(n)).weekday() < 5)
    return LedgerEntry(id=entry_id, user=user, team="Engineering", leave_type=leave_type, start=start, end=end,
                       start_half=None, end_half=None, days=Decimal(days), status=status,
                       decided_by=None if status == "pending" else BOB,
                       decided_at=None if status == "pending" else 1790000000)


def utc(day: date, hour: int = 2) -> datetime:
    return datetime(day.year, day.month, day.day, hour, 0, tzinfo=timezone.utc)


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=LA)


def cursor_at(ts: str) -> str:
    """A history cursor whose page starts at the message `ts` (Slack's cursors are opaque base64)."""
    return base64.b64encode(f"next_ts:{ts}".encode()).decode()


@contextmanager
def answering(fake_slack, rewrite):
    """Every call is made as usual, then its answer goes through `rewrite(method, params, body)`, which
    returns the body Slack sends instead (or the same one)."""
    real = fake_slack.handle

    def handle(method, params, headers):
        status, extra, body = real(method, params, headers)
        if isinstance(body, dict) and body.get("ok"):
            body = rewrite(method, params, copy.deepcopy(body))
        return status, extra, body

    before = fake_slack.__dict__.get("handle")
    fake_slack.handle = handle
    try:
        yield
    finally:
        if before is None:
            fake_slack.__dict__.pop("handle", None)
        else:
            fake_slack.handle = before


def empty_first_pages(*, only_limit=None):
    """History's first page (no cursor) answered empty, with more to come and a cursor to the rest, as Slack
    may answer any page. `only_limit`: only calls asking for that many messages."""

    def rewrite(method, params, body):
        if method != "conversations.history" or params.get("cursor") or not body.get("messages"):
            return body
        if only_limit is not None and str(params.get("limit")) != str(only_limit):
            return body
        return {**body, "messages": [], "has_more": True,
                "response_metadata": {"next_cursor": cursor_at(body["messages"][0]["ts"])}}

    return rewrite


def everything(post: dict) -> str:
    return post["text"] + "\n" + json.dumps(post.get("blocks") or [], ensure_ascii=False)


def hr_alerts(fake_slack) -> list[str]:
    return [c.params["text"] for c in fake_slack.calls("chat.postMessage")
            if c.params.get("channel") == HR and c.response.get("ok") and "disappeared" in c.params["text"]]


def status_at(fake_slack, ts: str) -> dict:
    """The metadata payload of our request message at `ts` in Engineering's approvals channel."""
    return fake_slack.workspace.message(C_ENG_APPROVALS, ts).metadata["event_payload"]


def channel_writes(fake_slack) -> list:
    return [c for c in fake_slack.calls("chat.update")
            if c.params.get("channel") == C_ENG_APPROVALS and c.response.get("ok")]


def another_app_posts(fake_slack, text, metadata=None, *, blocks=None, subtype=None, user=OTHER_APP_USER) -> Message:
    """Another installed app posts to the approvals channel, as Slack shows it: its own bot id, and its bot
    user (or, for a legacy `bot_message`, none)."""
    workspace = fake_slack.workspace
    with workspace.lock:
        message = Message(C_ENG_APPROVALS, workspace.new_ts(), text, user=user, bot_id=OTHER_APP_BOT,
                          blocks=copy.deepcopy(blocks), metadata=copy.deepcopy(metadata), subtype=subtype)
        workspace.insert_message(message)
        return copy.deepcopy(message)


@dataclass
class SlackUser(User):
    """A person as users.info / users.list answer for them, with fields left out (`missing`) or replaced
    (`answer`)."""

    answer: dict = field(default_factory=dict)
    missing: tuple = ()

    def to_api(self) -> dict:
        api = super().to_api()
        api.update(self.answer)
        for key in self.missing:
            api.pop(key, None)
        return api


def add_person(fake_slack, user_id, name, *, channels=(), **kwargs) -> SlackUser:
    person = SlackUser(user_id, name, **kwargs)
    with fake_slack.workspace.lock:
        fake_slack.workspace.users[user_id] = person
        for channel in channels:
            fake_slack.workspace.channels[channel].members.add(user_id)
    return person


# =====================================================================================================
# History pages that hold fewer messages than asked, or end oddly
# =====================================================================================================


def test_an_approval_is_recorded_when_slack_answers_the_messages_read_with_an_empty_page_and_more_to_come(
        client, fake_slack):
    install()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)

    # The decision re-reads the one message (limit=1): Slack answers no message yet, with a cursor to it.
    with answering(fake_slack, empty_first_pages(only_limit=1)):
        assert click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted).status_code == 200

    told = ephemerals_to(fake_slack, BOB) + dms_to(fake_slack, BOB)
    assert not [text for text in told if "no longer exists" in text], told
    assert request_status(fake_slack)["status"] == "approved"
    assert [text for text in dms_to(fake_slack, ALICE) if "approved" in text]


def test_a_cold_ledger_read_past_empty_first_pages_counts_every_request(client, fake_slack):
    install()
    post_entry(fake_slack, entry())
    post_entry(fake_slack, entry("alice-april", start=APRIL_1, end=APRIL_1, status="pending"))

    with answering(fake_slack, empty_first_pages()):
        balance = balance_of(client, fake_slack)
        shown = listed(client)
        home = open_app_home(client, fake_slack, BOB, "Ev-empty-home")

    assert "*21 days left* — allowance 25, taken 3, pending 1" in vacation_line(balance)
    assert "1 pending, 1 coming up" in shown
    assert waiting_count(home) == 1


@pytest.mark.parametrize("ending", ["has_more_with_empty_cursor", "no_response_metadata", "null_cursor"])
def test_a_last_page_that_ends_oddly_ends_the_read_with_every_request_counted(client, fake_slack, ending):
    install()
    post_entry(fake_slack, entry())
    fake_slack.workspace.post_message(C_ENG_APPROVALS, "who covers on-call?", user=DAVE)

    def rewrite(method, params, body):
        if method != "conversations.history" or body.get("response_metadata", {}).get("next_cursor"):
            return body
        if ending == "has_more_with_empty_cursor":
            return {**body, "has_more": True, "response_metadata": {"next_cursor": ""}}
        if ending == "no_response_metadata":
            return {key: value for key, value in body.items() if key != "response_metadata"}
        return {**body, "response_metadata": {"next_cursor": None}}

    with answering(fake_slack, rewrite):
        balance = balance_of(client, fake_slack)

    assert "*22 days left* — allowance 25, taken 3, pending 0" in vacation_line(balance)
    reads = [c for c in fake_slack.calls("conversations.history") if c.params.get("channel") == C_ENG_APPROVALS]
    assert 1 <= len(reads) <= 3, len(reads)  # read once, never asked again and again for the same page


def test_an_empty_page_with_more_to_come_does_not_tell_hr_the_app_is_distributed(client, hr_client, fake_slack):
    # An internal app's history page may hold fewer messages than asked, even none. That is not "15 messages at
    # a time", what Slack does for an app distributed outside the Marketplace.
    install()
    for number in range(3):
        post_entry(fake_slack, entry(f"alice-{number}", start=MONDAY + timedelta(weeks=number),
                                     end=MONDAY + timedelta(weeks=number)))
    with answering(fake_slack, empty_first_pages()):
        balance = balance_of(client, fake_slack)
    assert "taken 3" in vacation_line(balance)

    page = setup_page(hr_client)

    shown = " ".join(alerts(page))
    assert "15 messages at a time" not in shown, shown


def test_a_request_whose_post_answer_was_lost_is_found_past_an_empty_page_and_posted_once(client, fake_slack,
                                                                                          no_sleeping):
    install()
    with answering(fake_slack, empty_first_pages()):
        with answers_lost(fake_slack, "chat.postMessage", then_unreadable=False) as lost:
            request_time_off(client, fake_slack, ALICE)
    assert lost  # the post was made, and its answer lost

    requests = [m for m in fake_slack.workspace.messages(C_ENG_APPROVALS)
                if (m.metadata or {}).get("event_type") == "timeoff_request"]
    assert len(requests) == 1
    assert len([text for text in dms_to(fake_slack, ALICE) if "is with" in text]) == 1
    assert not [text for text in dms_to(fake_slack, ALICE) if "couldn't" in text or "did not reach" in text]


def test_the_morning_post_reads_the_ledger_past_empty_pages_and_names_each_person_once(fake_slack):
    install()
    post_entry(fake_slack, entry("dave-tuesday", user=DAVE, start=TUESDAY, end=TUESDAY))
    post_entry(fake_slack, entry("alice-tuesday", start=TUESDAY, end=WEDNESDAY))

    with answering(fake_slack, empty_first_pages()):
        run_jobs(at(TUESDAY, 9, 0), "--team", "Engineering")

    [post] = posts_in(fake_slack, C_ENG)
    shown = everything(post)
    assert shown.count("<@U_DAVE>") >= 1 and "<@U_ALICE>" in shown
    assert post["text"].count("<@U_ALICE>") <= 1 and post["text"].count("<@U_DAVE>") <= 1


# =====================================================================================================
# An approvals channel full of other kinds of messages
# =====================================================================================================


def fill_channel_with_odd_messages(fake_slack, real_ts: str, real: dict) -> list[dict]:
    """Someone joins; another app posts a legacy `bot_message` imitating an approved request; a deleted
    chat message leaves a tombstone. Returns the shapes Slack's history adds that the fake cannot store: a
    reply also sent to the channel (`thread_broadcast`, whose `root` carries our request's metadata) and a
    `message_changed` whose inner message is ours with a status the request never had."""
    workspace = fake_slack.workspace
    with workspace.lock:
        workspace.insert_message(Message(C_ENG_APPROVALS, workspace.new_ts(), f"<@{DAVE}> has joined the channel",
                                         user=DAVE, subtype="channel_join"))
        chat = Message(C_ENG_APPROVALS, workspace.new_ts(), "This message was deleted.", user="USLACKBOT",
                       subtype="tombstone")
        workspace.insert_message(chat)
        workspace.insert_message(Message(C_ENG_APPROVALS, workspace.new_ts(), "on it", user=BOB,
                                         thread_ts=chat.ts))
    forged = request_metadata(entry("hris-import", start=date(2031, 6, 2), end=date(2031, 6, 13)))
    another_app_posts(fake_slack, "Imported from the HR system", forged, subtype="bot_message", user=None)
    cancelled = copy.deepcopy(real)
    cancelled["event_payload"].update(status="cancelled", decided_by=ALICE, decided_at=1790000000)
    ours = {"type": "message", "user": fake_slack.workspace.bot_user_id, "bot_id": fake_slack.workspace.bot_id,
            "ts": real_ts, "text": "cancelled", "metadata": cancelled}
    return [
        {"type": "message", "subtype": "thread_broadcast", "user": DAVE, "ts": workspace.new_ts(),
         "thread_ts": real_ts, "text": "I can cover", "root": {**ours, "metadata": real, "text": "request"}},
        {"type": "message", "subtype": "message_changed", "hidden": True, "ts": workspace.new_ts(),
         "message": ours, "previous_message": {**ours, "metadata": real}},
    ]


def splice_into_history(extra: list[dict]):
    def rewrite(method, params, body):
        if (method == "conversations.history" and params.get("channel") == C_ENG_APPROVALS
                and not params.get("cursor") and str(params.get("limit")) != "1"):
            return {**body, "messages": [*extra, *body.get("messages", [])]}
        return body

    return rewrite


def test_a_channel_of_joins_tombstones_broadcasts_and_edits_leaves_the_request_as_it_is(client, fake_slack):
    install()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    real = posted.params["metadata"]
    real = json.loads(real) if isinstance(real, str) else real
    extra = fill_channel_with_odd_messages(fake_slack, posted.response["ts"], real)

    with answering(fake_slack, splice_into_history(extra)):
        cache.clear()  # a cold read: the whole channel, odd messages and all
        balance = balance_of(client, fake_slack)
        shown = listed(client)
        home = open_app_home(client, fake_slack, BOB, "Ev-odd-home")
        assert click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted).status_code == 200

    assert "*22 days left* — allowance 25, taken 0, pending 3" in vacation_line(balance)
    assert "1 pending" in shown and "Jun 2031" not in shown
    assert waiting_count(home) == 1
    assert status_at(fake_slack, posted.response["ts"])["status"] == "approved"
    assert len([text for text in dms_to(fake_slack, ALICE) if "approved" in text]) == 1


def test_approve_pressed_on_another_apps_copy_of_a_request_changes_nothing(client, fake_slack):
    # A mirroring app re-posts our request message to the channel, buttons and metadata included.
    install()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    metadata = posted.params["metadata"]
    metadata = json.loads(metadata) if isinstance(metadata, str) else metadata
    copied = another_app_posts(fake_slack, posted.params["text"], metadata, blocks=posted.params["blocks"])
    buttons = [b for b in posted.params["blocks"] if b.get("type") == "actions"][0]["elements"]
    value = next(b["value"] for b in buttons if b["action_id"] == ids.APPROVE_ACTION)
    writes_before = len(channel_writes(fake_slack))

    payload = block_actions_payload(user_id=BOB, action_id=ids.APPROVE_ACTION, value=value,
                                    block_id=ids.DECISION_BLOCK, channel_id=C_ENG_APPROVALS, message_ts=copied.ts)
    assert post_interaction(client, payload).status_code == 200

    assert status_at(fake_slack, posted.response["ts"])["status"] == "pending"
    assert len(channel_writes(fake_slack)) == writes_before
    assert not posts_in(fake_slack, C_ENG)  # nobody announced as out
    assert not [text for text in dms_to(fake_slack, ALICE) if "approved" in text]
    assert ephemerals_to(fake_slack, BOB) + dms_to(fake_slack, BOB)  # Bob is told why nothing happened


# =====================================================================================================
# Metadata from a newer release of the app
# =====================================================================================================


def test_a_request_carrying_fields_a_newer_release_added_counts_and_can_be_approved(client, fake_slack):
    install()
    pending = entry("alice-newer", start=APRIL_1, end=date(2031, 4, 2), status="pending")
    newer = request_metadata(pending)
    newer["event_payload"].update(source={"system": "hris", "ref": 42}, tags=["q2"], approver_note="ok")
    message = fake_slack.workspace.post_message(C_ENG_APPROVALS, f"<@{ALICE}> requests time off", metadata=newer,
                                                blocks=[{"type": "section", "text": {"type": "mrkdwn",
                                                                                     "text": "request"}}])

    assert "*23 days left* — allowance 25, taken 0, pending 2" in vacation_line(balance_of(client, fake_slack))
    home = open_app_home(client, fake_slack, BOB, "Ev-newer-home")
    assert waiting_count(home) == 1

    payload = block_actions_payload(user_id=BOB, action_id=ids.APPROVE_ACTION, value=decision_value(pending),
                                    block_id=ids.DECISION_BLOCK, channel_id=C_ENG_APPROVALS, message_ts=message.ts)
    assert post_interaction(client, payload).status_code == 200

    assert fake_slack.workspace.message(C_ENG_APPROVALS, message.ts).metadata["event_payload"]["status"] == "approved"


def test_approving_a_request_a_newer_release_posted_keeps_the_fields_it_added(client, fake_slack):
    # A rolling deploy (README "Upgrades"): the newer release posted Alice's request with fields this one
    # does not know; Bob's approval is run by this release. Its rewrite must not drop the newer release's
    # record (nor let it change what this release writes).
    install()
    pending = entry("alice-newer-kept", start=APRIL_1, end=date(2031, 4, 2), status="pending")
    newer = request_metadata(pending)
    newer["event_payload"].update(source={"system": "hris", "ref": 42}, tags=["q2"])
    message = fake_slack.workspace.post_message(C_ENG_APPROVALS, f"<@{ALICE}> requests time off", metadata=newer,
                                                blocks=[{"type": "section", "text": {"type": "mrkdwn",
                                                                                     "text": "request"}}])

    payload = block_actions_payload(user_id=BOB, action_id=ids.APPROVE_ACTION, value=decision_value(pending),
                                    block_id=ids.DECISION_BLOCK, channel_id=C_ENG_APPROVALS, message_ts=message.ts)
    assert post_interaction(client, payload).status_code == 200

    written = fake_slack.workspace.message(C_ENG_APPROVALS, message.ts).metadata["event_payload"]
    assert (written["status"], written["decided_by"]) == ("approved", BOB)
    assert (written["source"], written["tags"]) == ({"system": "hris", "ref": 42}, ["q2"])


def test_a_request_a_newer_release_rewrote_with_a_newer_version_is_not_told_to_hr_as_deleted(fake_slack):
    # README, "The ledger": a message whose metadata this version cannot read (a newer release wrote it,
    # then was rolled back) was recorded by another version of the app, not deleted.
    install()
    post_entry(fake_slack, entry("kept"), ts="1790000000.000100")
    rewritten_ts = post_entry(fake_slack, entry("rewritten", user=DAVE, status="pending"), ts="1790000100.000100")
    run_jobs(utc(MONDAY))  # the nightly watch's snapshot holds both

    with fake_slack.workspace.lock:
        message = fake_slack.workspace.find_message(C_ENG_APPROVALS, rewritten_ts)
        message.metadata["event_payload"].update(v=2, status="approved", decided_by=BOB, decided_at=1790000200)
    run_jobs(utc(TUESDAY))

    assert hr_alerts(fake_slack) == []


# =====================================================================================================
# People as users.info describes them
# =====================================================================================================


def test_a_grid_person_with_a_w_id_no_email_and_only_a_tz_offset_requests_and_is_reminded(client, fake_slack):
    person = "W0TZOFF01"
    add_person(fake_slack, person, "kai", real_name="Kai Kim", tz="UTC", channels=[C_ENG],
               answer={"tz": None, "tz_label": None, "tz_offset": -7 * 3600, "enterprise_user": {
                   "enterprise_id": "E0ACME001", "enterprise_name": "Acme Org", "id": person, "teams": ["T_ACME"]}},
               missing=("tz",))
    install()

    request_time_off(client, fake_slack, person)
    [posted] = posted_requests(fake_slack)
    assert metadata_payload(posted)["user"] == person
    assert click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted).status_code == 200
    assert request_status(fake_slack)["status"] == "approved"
    assert "Mon 10 Mar 2031" in listed(client, person)
    assert "Mar" in shown_text(open_app_home(client, fake_slack, person, "Ev-w-home"))

    run_jobs(at(date(2031, 3, 7), 15, 30), "--team", "Engineering")  # the working day before, in the afternoon
    reminders = [text for text in dms_to(fake_slack, person) if "Mon 10 Mar" in text or "Monday" in text]
    assert reminders, dms_to(fake_slack, person)


def test_a_deactivated_person_with_approved_leave_gets_no_reminder_and_nothing_goes_to_hr(fake_slack):
    add_person(fake_slack, "U0GONE001", "gone", real_name="Gone Person", channels=[C_ENG], answer={"deleted": True})
    install()
    post_entry(fake_slack, entry("gone-monday", user="U0GONE001", start=MONDAY, end=MONDAY))
    post_entry(fake_slack, entry("alice-monday", start=MONDAY, end=MONDAY))

    run_jobs(at(date(2031, 3, 7), 15, 30), "--team", "Engineering")

    assert not [c for c in fake_slack.calls("chat.postMessage") if c.params.get("channel") == "U0GONE001"]
    assert not [c for c in fake_slack.calls("conversations.open") if "U0GONE001" in str(c.params.get("users"))]
    assert dms_to(fake_slack, ALICE)  # the others are reminded
    assert not DeliveryProblem.objects.exists()


# =====================================================================================================
# Thousands of members, a disabled user group
# =====================================================================================================


def test_someone_on_the_last_of_many_member_pages_lands_in_their_team_though_a_page_came_back_empty(client,
                                                                                                     fake_slack):
    workspace = fake_slack.workspace
    crowd = [f"U{number:07d}" for number in range(2600)]  # all sort before U_ALICE: she is on the last page
    with workspace.lock:
        for user in crowd:
            workspace.add_user(user, f"p{user[1:]}")
    workspace.add_channel("C_ALLSTAFF", "all-staff", members=[*crowd, ALICE, DAVE, BOB])
    install(members=replace(ENG.members, channel="C_ALLSTAFF"), announce_channel=C_ENG)
    pages = []

    def one_page_empty(method, params, body):
        if method == "conversations.members" and params.get("channel") == "C_ALLSTAFF":
            pages.append(params)
            if len(pages) == 4:  # Slack hands back fewer than asked, here none, with the cursor going on
                return {**body, "members": []}
        return body

    with answering(fake_slack, one_page_empty):
        request_time_off(client, fake_slack, ALICE)

    [posted] = posted_requests(fake_slack)
    assert metadata_payload(posted)["user"] == ALICE and posted.response["ok"]
    assert len(pages) >= 13  # 2,603 members, 200 a page


def test_an_approvers_channel_of_two_thousand_posts_a_request_slack_takes_and_its_last_member_approves(
        client, fake_slack):
    workspace = fake_slack.workspace
    leads = [f"U{number:07d}" for number in range(2000)]
    with workspace.lock:
        for user in leads:
            workspace.add_user(user, f"lead{user[1:]}")
            workspace.channels[C_ENG_LEADS].members.add(user)
    install()

    request_time_off(client, fake_slack, ALICE)

    [posted] = posted_requests(fake_slack)
    assert posted.response["ok"], posted.response
    assert len([m for m in workspace.messages(C_ENG_APPROVALS) if m.metadata]) == 1
    assert click(client, fake_slack, leads[-1], ids.APPROVE_ACTION, posted).status_code == 200
    status = request_status(fake_slack)
    assert (status["status"], status["decided_by"]) == ("approved", leads[-1])


@pytest.mark.parametrize("answer", [{"ok": True, "users": []}, {"ok": False, "error": "no_such_subteam"}],
                         ids=["empty", "no_such_subteam"])
def test_a_member_of_a_disabled_user_group_is_told_whom_to_ask_and_nothing_is_posted(client, fake_slack, answer):
    install(members=replace(ENG.members, channel=None, usergroup=S_ENG))

    def disabled(method, params, body):
        if method == "usergroups.users.list" and params.get("usergroup") == S_ENG:
            return answer
        if method == "usergroups.list":
            return {**body, "usergroups": [g for g in body.get("usergroups", []) if g.get("id") != S_ENG]}
        return body

    with answering(fake_slack, disabled):
        view = open_request_form(client, fake_slack, ALICE)  # the form opens; the team is looked up meanwhile
        response = submit_request(client, ALICE, view, request_values("vacation", MONDAY, WEDNESDAY))

    assert posted_requests(fake_slack) == []
    assert response.status_code == 200
    told = response.content.decode() + "\n".join(dms_to(fake_slack, ALICE))
    assert "no team" in told or "couldn't read who is in" in told, told
    assert "ask HR" in told, told  # whom to ask (a form's error is plain text: no mention)


# =====================================================================================================
# 200 answers carrying warnings
# =====================================================================================================


def with_warnings(method, params, body):
    meta = dict(body.get("response_metadata") or {})
    meta["warnings"] = ["superfluous_charset", "missing_charset"]
    meta.setdefault("messages", []).append("[WARN] A Content-Type charset was not understood")
    return {**body, "warning": "superfluous_charset,missing_charset", "response_metadata": meta}


def test_every_answer_warning_still_lets_a_request_be_sent_decided_announced_and_digested(client, fake_slack):
    install()
    with answering(fake_slack, with_warnings):
        request_time_off(client, fake_slack, ALICE)
        [posted] = posted_requests(fake_slack)
        home = open_app_home(client, fake_slack, BOB, "Ev-warn-home")
        assert waiting_count(home) == 1
        assert click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted).status_code == 200
        run_jobs(at(MONDAY, 9, 0), "--team", "Engineering")

    assert len([m for m in fake_slack.workspace.messages(C_ENG_APPROVALS) if m.metadata
                and m.metadata["event_type"] == "timeoff_request"]) == 1
    assert request_status(fake_slack)["status"] == "approved"
    assert len([text for text in dms_to(fake_slack, ALICE) if "approved" in text]) == 1
    announced = posts_in(fake_slack, C_ENG)
    assert len([p for p in announced if "<@U_ALICE>" in everything(p)]) >= 2  # the approval, then the morning post
    assert not DeliveryProblem.objects.exists()


def test_warnings_on_the_ledger_read_and_members_leave_the_balance_and_setup_page_right(client, hr_client,
                                                                                         fake_slack):
    install()
    post_entry(fake_slack, entry())
    with answering(fake_slack, with_warnings):
        balance = balance_of(client, fake_slack)
        page = setup_page(hr_client, check_again=True)

    assert "*22 days left* — allowance 25, taken 3, pending 0" in vacation_line(balance)
    shown = " ".join(alerts(page))
    assert "cannot be read" not in shown and "15 messages at a time" not in shown, shown


def test_the_delivery_check_reads_its_three_newest_pages_past_an_empty_first_one(fake_slack, monkeypatch):
    """The look for an earlier post reads the three newest pages that hold messages: an empty first page
    with more to come (Slack's right) does not make it stop one page short and post the request twice."""
    from approvals import ledger
    from approvals.ledger import find_recent_request, post_request
    from approvals.slack_clients import background_client

    monkeypatch.setattr(ledger, "HISTORY_PAGE_SIZE", 2)
    posted = post_request(background_client(), channel=C_ENG_APPROVALS, entry=entry("req-empty-page", status="pending"),
                          text="request", blocks=[])
    for n in range(5):  # the request is on the third page of two
        fake_slack.workspace.post_message(C_ENG_APPROVALS, f"newer {n}")

    with answering(fake_slack, empty_first_pages()):
        found = find_recent_request(background_client(), channel=C_ENG_APPROVALS, request_id="req-empty-page")

    assert found is not None and found.ts == posted


def test_an_approval_met_by_nothing_but_empty_pages_is_not_told_the_request_was_deleted(client, fake_slack,
                                                                                        no_sleeping):
    """Slack answers the one-message re-read with empty pages, more to come, page after page: a passing fault
    the decision's task tries again, never "this request no longer exists"."""
    install()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)

    def always_empty(method, params, body):
        if method != "conversations.history" or str(params.get("limit")) != "1" or not body.get("messages"):
            return body
        return {**body, "messages": [], "has_more": True,
                "response_metadata": {"next_cursor": cursor_at(body["messages"][0]["ts"])}}

    with answering(fake_slack, always_empty):
        assert click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted).status_code == 200

    told = ephemerals_to(fake_slack, BOB) + dms_to(fake_slack, BOB)
    assert not [text for text in told if "no longer exists" in text or "deleted" in text], told
    assert request_status(fake_slack)["status"] == "pending"
