"""Today's changes, held up end to end against their edges.

The form's de-duplication key naming the clicker (and read by both releases during a rolling deploy); a
delivery skipped because the app was uninstalled; the one-message re-read of a request past empty pages,
and a passing fault between them; the "distributed app" warning; records a newer release wrote and the
nightly ledger watch; a person's zone from a part-hour `tz_offset`; the Setup page's warning about a
team's members' user group; console names that draw nothing and namesakes that look alike.
"""

import base64
import copy
import html
import re
import unicodedata
from contextlib import contextmanager
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core.cache import cache
from django.urls import reverse

from approvals.directory import fetch_usergroup_members
from approvals import block_ids as ids
from approvals import slack_directory
from approvals.ledger_format import adjustment_metadata
from approvals.models import DeliveryProblem, Team
from approvals.request_services import SUBMISSION_DEDUP_SECONDS
from approvals.rules import Adjustment, LedgerEntry
from approvals.slack_clients import background_client
from fake_slack.personas import C_ENG_APPROVALS, S_ENG
from fake_slack.workspace import User
from test_support.flows import (
    ALICE,
    BOB,
    DAVE,
    HR,
    MONDAY,
    WEDNESDAY,
    click,
    dms_to,
    ephemerals_to,
    install_config,
    metadata_payload,
    open_request_form,
    posted_requests,
    request_status,
    request_time_off,
    request_values,
    submit_request,
)
from test_support.job_runs import post_entry, run_jobs
from test_support.setup_page import alerts, setup_page

pytestmark = pytest.mark.django_db

TUESDAY = MONDAY + timedelta(days=1)


@pytest.fixture(autouse=True)
def export_dir(settings, tmp_path):
    settings.LEDGER_EXPORT_DIR = tmp_path / "exports"
    return settings.LEDGER_EXPORT_DIR


@pytest.fixture
def hr(client, django_user_model, fake_slack):
    """Hannah from HR, signed in to the console (a separate test client from the one Slack's requests use)."""
    from django.test import Client

    console = Client()
    console.force_login(django_user_model.objects.create_superuser("hannah", "hannah@example.com",
                                                                   "a-long-password"))
    return console


# --- helpers ---------------------------------------------------------------------------------------


def cursor_at(ts: str) -> str:
    """A history cursor whose page starts at the message `ts` (the fake's cursors, as Slack's, are base64)."""
    return base64.b64encode(f"next_ts:{ts}".encode()).decode()


@contextmanager
def answering(fake_slack, rewrite):
    """Every call is made as usual, then its answer goes through `rewrite(method, params, body)`."""
    real = fake_slack.handle

    def handle(method, params, headers):
        status, extra, body = real(method, params, headers)
        if isinstance(body, dict) and body.get("ok"):
            body = rewrite(method, params, copy.deepcopy(body))
        return status, extra, body

    fake_slack.handle = handle
    try:
        yield
    finally:
        fake_slack.__dict__.pop("handle", None)


def empty_pages_then(count: int, *, then_fail_once: str | None = None, only_limit=1):
    """The one-message read (limit=1) is answered by `count` empty pages, each with more to come and a cursor
    to the message, before Slack serves it; `then_fail_once`: the page after the empty ones fails once with
    that error before it is served."""
    served = {"empty": 0, "failed": 0}

    def rewrite(method, params, body):
        if method != "conversations.history" or str(params.get("limit")) != str(only_limit):
            return body
        if not body.get("messages"):
            return body
        if served["empty"] < count:
            served["empty"] += 1
            return {**body, "messages": [], "has_more": True,
                    "response_metadata": {"next_cursor": cursor_at(body["messages"][0]["ts"])}}
        if then_fail_once and not served["failed"]:
            served["failed"] += 1
            return {"ok": False, "error": then_fail_once}
        return body

    return rewrite


def entry(entry_id, user=ALICE, start=MONDAY, end=WEDNESDAY, status="approved") -> LedgerEntry:
    days = sum(1 for n in range((end - start).days + 1) if (start + timedelta(n)).weekday() < 5)
    return LedgerEntry(id=entry_id, user=user, team="Engineering", leave_type="vacation", start=start, end=end,
                       start_half=None, end_half=None, days=Decimal(days), status=status,
                       decided_by=None if status == "pending" else BOB,
                       decided_at=None if status == "pending" else 1790000000)


def utc(day: date, hour: int = 2) -> datetime:
    return datetime(day.year, day.month, day.day, hour, 0, tzinfo=timezone.utc)


def hr_told_of_deleted_records(fake_slack) -> list[str]:
    return [c.params["text"] for c in fake_slack.calls("chat.postMessage")
            if c.params.get("channel") == HR and c.response.get("ok") and "disappeared" in c.params["text"]]


def requests_in_the_channel(fake_slack) -> list:
    return [m for m in fake_slack.workspace.messages(C_ENG_APPROVALS)
            if (m.metadata or {}).get("event_type") == "timeoff_request"]


def is_dm_to_alice_saying(words):
    return lambda method, params: (method == "chat.postMessage" and params.get("channel") == ALICE
                                   and words in str(params.get("text")))


def add_person(fake_slack, user_id, name, real_name, email, **fields) -> User:
    person = User(user_id, name, real_name=real_name, email=email, **fields)
    with fake_slack.workspace.lock:
        fake_slack.workspace.users[user_id] = person
    return person


def page_text(response) -> str:
    assert response.status_code == 200, response.content[:2000]
    text = re.sub(r"<script\b.*?</script>", " ", response.content.decode(), flags=re.S)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", text)).split())


def member_group_warning(page: str) -> list[str]:
    found = re.search(r'<div class="check check-warning" id="member-groups-not-listed">(.*?)</div>', page, re.S)
    if not found:
        return []
    return [" ".join(html.unescape(re.sub(r"<[^>]+>", "", item)).split())
            for item in re.findall(r"<li>(.*?)</li>", found[1], re.S)]


# =====================================================================================================
# The form's de-duplication key names the clicker
# =====================================================================================================


def test_hr_pressing_send_twice_on_leave_recorded_for_alice_records_it_once(client, fake_slack):
    """HR records leave for Alice and the click reaches us twice (a double click, or Slack's retry): one
    approved request in the ledger, not two."""
    install_config()
    view = open_request_form(client, fake_slack, HR, f"for <@{ALICE}|alice>")
    for _ in range(2):
        response = submit_request(client, HR, view, request_values("vacation", MONDAY, WEDNESDAY),
                                  view_id="V_HR_FOR_ALICE", view_hash="h-hr")
        assert response.status_code == 200, response.content

    recorded = posted_requests(fake_slack)
    assert len(recorded) == 1, [metadata_payload(c) for c in recorded]
    assert metadata_payload(recorded[0])["user"] == ALICE


def test_a_form_sent_again_while_the_release_before_still_serves_is_taken_as_already_sent(client, fake_slack):
    """During a rolling deploy Alice's first click reaches a web machine of the release before, which claims
    the form under its key (`submission:<view id>:<hash>`) and sends the request; Slack's retry of the
    same submission reaches the new release. README, "The shared cache": the de-duplication claims are
    shared by every release. The form closes as sent; the request is not sent, or refused, a second time."""
    install_config()
    view = open_request_form(client, fake_slack, ALICE)
    first = submit_request(client, ALICE, view, request_values("vacation", MONDAY, WEDNESDAY), view_id="V_ROLL",
                           view_hash="h-roll")
    assert first.status_code == 200 and first.content == b"", first.content
    [posted] = posted_requests(fake_slack)
    request_id = metadata_payload(posted)["id"]
    # What the release before leaves in the shared cache for that first click: its claim, under its key.
    cache.set("submission:V_ROLL:h-roll", request_id, SUBMISSION_DEDUP_SECONDS)

    again = submit_request(client, ALICE, view, request_values("vacation", MONDAY, WEDNESDAY), view_id="V_ROLL",
                           view_hash="h-roll")

    assert again.status_code == 200
    assert again.content == b"", again.content  # closed as sent, not an error on a form that was sent
    assert len(posted_requests(fake_slack)) == 1
    assert not [t for t in dms_to(fake_slack, ALICE) if "overlap" in t.lower()], dms_to(fake_slack, ALICE)


# =====================================================================================================
# A delivery skipped because the app was uninstalled
# =====================================================================================================


def test_a_request_the_app_never_got_to_post_before_it_was_uninstalled_is_listed_as_never_delivered(
        client, fake_slack, no_sleeping, monkeypatch):
    """Uninstalled before the delivery ran at all: nothing reached Slack, so HR sees it among the requests
    never delivered, to be sent again once the app is back, and not as something to look for first."""
    from approvals import task_queue

    install_config()
    view = open_request_form(client, fake_slack, ALICE)  # the form opens while the app is still installed
    monkeypatch.setattr(task_queue, "slack_access_lost", lambda: "app_uninstalled")
    response = submit_request(client, ALICE, view, request_values("vacation", MONDAY, WEDNESDAY))
    assert response.status_code == 200, response.content

    assert requests_in_the_channel(fake_slack) == []
    [problem] = DeliveryProblem.objects.all()
    assert problem.undelivered is True
    assert problem.error == "skipped: app_uninstalled", problem.error
    assert problem.user == ALICE


def test_a_posted_request_whose_skipped_delivery_is_run_again_is_told_to_hr_once(client, fake_slack, no_sleeping,
                                                                                   monkeypatch):
    """The request is in the ledger; its follow-ups were left unsent when the app was uninstalled. Should
    the skipped task run a second time (a worker that died before marking its row done, the row recovered),
    HR's list still holds one row for it, as for any delivery problem (once per request)."""
    from approvals import request_services, task_queue, tasks

    install_config()
    from test_support.slack_faults import failing

    with failing(fake_slack, is_dm_to_alice_saying("is with"), "http_503", times=None) as met:
        with_the_app = task_queue.slack_access_lost
        monkeypatch.setattr(task_queue, "slack_access_lost", lambda: "app_uninstalled" if met else with_the_app())
        request_time_off(client, fake_slack, ALICE)
    assert met
    assert len(requests_in_the_channel(fake_slack)) == 1
    request_id = requests_in_the_channel(fake_slack)[0].metadata["event_payload"]["id"]
    assert request_services.request_delivered(request_id)
    rows = DeliveryProblem.objects.filter(request_id=request_id).count()
    assert rows == 1

    submission = request_services.Submission(id=request_id, user=ALICE, leave_type="vacation", start=MONDAY,
                                             end=WEDNESDAY, start_half=None, end_half=None, note="", validated=True)
    tasks.delivery_skipped("app_uninstalled", submission.as_task_data())  # the same skip, run again

    problems = list(DeliveryProblem.objects.filter(request_id=request_id).values("error", "undelivered"))
    assert len(problems) == 1, problems
    assert problems[0]["undelivered"] is False


# =====================================================================================================
# The one-message re-read of a request follows empty pages
# =====================================================================================================


def test_an_approval_is_recorded_though_slack_answers_the_re_read_with_three_empty_pages_first(client, fake_slack):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)

    with answering(fake_slack, empty_pages_then(3)):
        assert click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted).status_code == 200

    told = ephemerals_to(fake_slack, BOB) + dms_to(fake_slack, BOB)
    assert not [text for text in told if "no longer exists" in text or "deleted" in text], told
    assert request_status(fake_slack)["status"] == "approved"


def test_a_passing_fault_on_the_page_after_an_empty_one_never_tells_the_approver_the_request_is_gone(
        client, fake_slack, no_sleeping):
    """Slack answers the re-read with an empty page and more to come, then fails the next page for a moment
    (`internal_error`): the request is still there, so Bob is not told it was deleted, and his approval is
    recorded once Slack answers."""
    install_config()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)

    with answering(fake_slack, empty_pages_then(1, then_fail_once="internal_error")):
        assert click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted).status_code == 200

    told = ephemerals_to(fake_slack, BOB) + dms_to(fake_slack, BOB)
    assert not [text for text in told if "no longer exists" in text or "deleted" in text], told
    assert request_status(fake_slack)["status"] == "approved"
    assert len([t for t in dms_to(fake_slack, ALICE) if "approved" in t]) == 1, dms_to(fake_slack, ALICE)


def test_approving_a_deleted_request_past_empty_pages_never_approves_the_one_before_it(client, fake_slack):
    """Dave's request was posted before Alice's; Alice's message is deleted, and the re-read (the newest
    message at or before its ts) meets empty pages before reaching Dave's: Dave's is left pending."""
    install_config()
    request_time_off(client, fake_slack, DAVE, start=MONDAY + timedelta(weeks=2), end=WEDNESDAY + timedelta(weeks=2))
    request_time_off(client, fake_slack, ALICE)
    dave_post, alice_post = posted_requests(fake_slack)
    fake_slack.workspace.delete_message(fake_slack.workspace.find_message(C_ENG_APPROVALS, alice_post.response["ts"]))

    with answering(fake_slack, empty_pages_then(2)):
        click(client, fake_slack, BOB, ids.APPROVE_ACTION, alice_post)

    dave = fake_slack.workspace.find_message(C_ENG_APPROVALS, dave_post.response["ts"])
    assert dave.metadata["event_payload"]["status"] == "pending"


# =====================================================================================================
# "Distributed app": two short pages in a row, none empty
# =====================================================================================================


def test_slack_serving_fifteen_messages_a_page_is_named_on_the_setup_page(client, hr, fake_slack):
    """A channel of 40 requests read 15 at a time, though 200 were asked for: HR is told the app reads
    Slack as a distributed app does."""
    install_config()
    for n in range(40):
        post_entry(fake_slack, entry(f"r{n}", start=MONDAY + timedelta(weeks=n), end=MONDAY + timedelta(weeks=n)))
    fake_slack.workspace.history_page_cap = 15
    from approvals import ledger_reader

    ledger = ledger_reader.read_ledger(background_client(), install_config())
    assert len(ledger.entries) == 40

    shown = " ".join(alerts(setup_page(hr)))
    assert "15 messages at a time" in shown, shown


def test_one_short_page_then_the_last_does_not_call_the_app_distributed(client, hr, fake_slack):
    """20 requests in pages of 15 then 5: only one page was short with more to come; an internal app's
    page may be short now and then, so no warning."""
    install_config()
    for n in range(20):
        post_entry(fake_slack, entry(f"r{n}", start=MONDAY + timedelta(weeks=n), end=MONDAY + timedelta(weeks=n)))
    fake_slack.workspace.history_page_cap = 15
    from approvals import ledger_reader

    ledger = ledger_reader.read_ledger(background_client(), install_config())
    assert len(ledger.entries) == 20

    shown = " ".join(alerts(setup_page(hr)))
    assert "15 messages at a time" not in shown, shown


# =====================================================================================================
# Records a newer release wrote, and the nightly ledger watch
# =====================================================================================================


def test_a_record_a_newer_release_rewrote_is_told_to_hr_once_its_message_is_deleted_later(fake_slack):
    """Kept in the watch's snapshot while this version cannot read it, so that its message, deleted on a
    later night, is missed and HR told."""
    install_config()
    post_entry(fake_slack, entry("kept"), ts="1790000000.000100")
    rewritten = post_entry(fake_slack, entry("rewritten", user=DAVE, status="pending"), ts="1790000100.000100")
    run_jobs(utc(MONDAY))
    with fake_slack.workspace.lock:
        message = fake_slack.workspace.find_message(C_ENG_APPROVALS, rewritten)
        message.metadata["event_payload"].update(v=2, status="approved", decided_by=BOB, decided_at=1790000200)
    run_jobs(utc(TUESDAY))
    assert hr_told_of_deleted_records(fake_slack) == []

    fake_slack.workspace.delete_message(fake_slack.workspace.find_message(C_ENG_APPROVALS, rewritten))
    run_jobs(utc(WEDNESDAY))

    told = hr_told_of_deleted_records(fake_slack)
    assert told, "HR was not told of the deleted record"
    assert DAVE in " ".join(told) or "rewritten" in " ".join(told), told


def test_an_adjustment_a_newer_release_rewrote_is_not_told_to_hr_as_deleted(fake_slack):
    install_config()
    post_entry(fake_slack, entry("kept"), ts="1790000000.000100")
    adjustment = Adjustment(id="adj-carry", user=ALICE, leave_type="vacation", days=Decimal(3), year=2031,
                            reason="carry-over", by=HR)
    message = fake_slack.workspace.post_message(C_ENG_APPROVALS, "adjustment", metadata=adjustment_metadata(adjustment),
                                                ts="1790000100.000100")
    run_jobs(utc(MONDAY))

    with fake_slack.workspace.lock:
        found = fake_slack.workspace.find_message(C_ENG_APPROVALS, message.ts)
        found.metadata["event_payload"].update(v=2, days="three")
    run_jobs(utc(TUESDAY))

    assert hr_told_of_deleted_records(fake_slack) == []


# =====================================================================================================
# A person's zone from a part-hour tz_offset
# =====================================================================================================


@pytest.mark.parametrize("offset", [19800, 20700, -34200, 34200, 31500, 16200, 23400])
def test_someone_slack_gives_only_a_part_hour_offset_is_placed_in_a_zone_at_that_offset(fake_slack, offset):
    """India's +5:30, Nepal's +5:45, the Marquesas' -9:30…: zones that keep their offset all year, so the
    person's day starts and ends where Slack says it does."""
    from approvals.directory import fetch_user

    person = add_person(fake_slack, "W0PARTHR1", "parthour", "Part Hour", "part@example.com")
    original = person.to_api

    def to_api():
        api = original()
        api.pop("tz", None)
        api.update(tz_offset=offset)
        return api

    person.to_api = to_api
    profile = fetch_user(background_client(), "W0PARTHR1")

    zone = profile["tz"]
    assert isinstance(zone, str) and zone, profile
    assert ZoneInfo(zone).utcoffset(datetime.now(timezone.utc).replace(tzinfo=None)) == timedelta(seconds=offset)


@pytest.mark.parametrize("offset", [1800, -1800, 3600 * 15, True])
def test_an_offset_no_zone_keeps_is_taken_as_utc(offset):
    from approvals.directory import _zone_of

    assert _zone_of({"tz_offset": offset}) == "UTC"


# =====================================================================================================
# The Setup page names a team whose members' user group Slack no longer lists
# =====================================================================================================


def engineering_by_group(name="Engineering") -> Team:
    return Team.objects.create(name=name, position=0, approvals_channel=C_ENG_APPROVALS,
                               members_usergroup=S_ENG, approvers_users=[BOB])


def test_a_team_whose_members_group_was_deleted_is_named_on_the_setup_page(hr, fake_slack):
    engineering_by_group()
    with fake_slack.workspace.lock:
        del fake_slack.workspace.usergroups[S_ENG]
    fetch_usergroup_members(background_client(), S_ENG)  # as a look for someone's team reads it

    assert member_group_warning(setup_page(hr)) == [f"Engineering: {S_ENG}."]


def test_a_team_name_in_the_member_group_warning_is_shown_as_text(hr, fake_slack):
    engineering_by_group('<img src=x onerror="alert(1)">Eng')
    fake_slack.workspace.usergroups[S_ENG].disabled = True
    fetch_usergroup_members(background_client(), S_ENG)  # as a look for someone's team reads it

    page = setup_page(hr)

    assert "<img src=x" not in page
    assert member_group_warning(page) == [f'<img src=x onerror="alert(1)">Eng: {S_ENG}.']


def test_a_group_created_after_the_console_last_read_slack_is_not_called_disabled_or_deleted(hr, fake_slack):
    """The console read Slack's user groups a few minutes ago; an admin then creates @eng-new and HR names it
    as Engineering's members in the configuration file. The group is there and enabled (people in it
    request and land in Engineering): the Setup page must not say Slack no longer lists it."""
    from fake_slack.workspace import UserGroup

    slack_directory.directory_refresh(background_client())  # fresh: not read again for ten minutes
    with fake_slack.workspace.lock:
        fake_slack.workspace.usergroups["S_ENG_NEW"] = UserGroup("S_ENG_NEW", "eng-new", users=[ALICE])
    Team.objects.create(name="Engineering", position=0, approvals_channel=C_ENG_APPROVALS,
                        members_usergroup="S_ENG_NEW", approvers_users=[BOB])

    page = setup_page(hr)

    assert member_group_warning(page) == [], member_group_warning(page)


# =====================================================================================================
# Console names: names that draw nothing, namesakes that look alike
# =====================================================================================================


def test_a_name_slack_holds_decomposed_is_found_when_hr_types_it_as_a_keyboard_does(fake_slack):
    """Slack keeps a name as the person's device typed it: "José" may come as J o s e + a combining accent
    (macOS often writes so). HR types "José Ruiz" with one é: that is the same name on screen, and finds
    him."""
    decomposed = unicodedata.normalize("NFD", "José Ruiz")
    add_person(fake_slack, "U0JOSE001", "jose", decomposed, "jose@example.com")
    directory = slack_directory.directory_refresh(background_client())

    found = slack_directory.person_resolve(unicodedata.normalize("NFC", "José Ruiz"), directory=directory)

    assert found.id == "U0JOSE001"


def test_two_people_whose_names_look_the_same_but_are_composed_differently_are_told_apart(hr, fake_slack):
    """"José Ruiz" with one é and "José Ruiz" with e and an accent read exactly the same: the console names
    each with their address, as for any namesakes, never the same name twice."""
    add_person(fake_slack, "U0JOSE001", "jose", unicodedata.normalize("NFC", "José Ruiz"), "jose@example.com")
    add_person(fake_slack, "U0JOSE002", "jose2", unicodedata.normalize("NFD", "José Ruiz"), "jose2@example.com")
    slack_directory.directory_refresh(background_client())
    Team.objects.create(name="Engineering", position=0, approvals_channel=C_ENG_APPROVALS,
                        approvers_users=["U0JOSE001", "U0JOSE002"])

    shown = page_text(hr.get(reverse("console:home")))

    assert "(jose@example.com)" in shown and "(jose2@example.com)" in shown, shown[-400:]


def test_a_real_name_of_only_combining_marks_gives_way_to_the_handle_and_its_initials(fake_slack):
    add_person(fake_slack, "U0MARKS01", "mara.kent", "\u0301\u0301\u0301", "marks@example.com")
    directory = slack_directory.directory_refresh(background_client())

    person = directory.person("U0MARKS01")

    assert person.label == "mara.kent"
    assert person.initials == "MK"


def test_someone_typed_by_name_is_ambiguous_with_a_lookalike_padded_with_hangul_fillers(fake_slack):
    """"Bob Brown" and "Bob Brown\u3164" (a filler that draws nothing) look the same: HR typing the name
    is asked which one, never handed the lookalike."""
    add_person(fake_slack, "U0BOBFILL", "bobfill", "Bob Brown\u3164", "bobfill@example.com")
    directory = slack_directory.directory_refresh(background_client())

    with pytest.raises(slack_directory.NotResolved) as refused:
        slack_directory.person_resolve("Bob Brown", directory=directory)

    assert "Several people" in str(refused.value)
