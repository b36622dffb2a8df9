"""Answers promised by DM ("I'll DM you in a moment": `/timeoff balance`, `list`, `who`, HR's
`/timeoff for @person balance|list`) and the notices a task posts (a thread reply, an announcement, a
digest), while Slack stumbles as the real one does: a post answered after the client stopped waiting, a
429 with a long Retry-After, a post failing on every attempt, the look for an earlier post failing itself,
an install without `im:history`, two askings at once, and a task row of the release before.

Every assertion reads what Slack holds afterwards (the DMs and posts the fake made) or what crossed the
wire, and, where tasks run as rows on a simulated clock, the rows themselves.
"""

import json
from dataclasses import replace
from datetime import date, datetime
from datetime import time as dt_time
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core.cache import cache
from django.tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from approvals import block_ids as ids
from approvals import tasks
from approvals.balance_services import CHECKING_TEXT
from approvals.change_services import LIST_CHECKING_TEXT
from approvals.rules import APPROVED, LedgerEntry
from approvals.team_out_services import CHECKING_TEXT as WHO_CHECKING_TEXT
from fake_slack.personas import C_ENG, C_ENG_APPROVALS
from test_support.direct_messages import dm_channel, dm_to
from test_support.flows import (
    ALICE,
    BOB,
    DAVE,
    ENGINEERING,
    HR,
    MONDAY,
    WEDNESDAY,
    buttons_in,
    click,
    install_config,
    posted_requests,
    request_status,
    request_time_off,
    standard_config,
)
from test_support.job_runs import post_entry, run_jobs
from test_support.simulated_time import work_through_the_queue
from test_support.slack_faults import failing, failing_each, slow
from test_support.slack_requests import block_actions_payload, post_command, post_interaction

pytestmark = pytest.mark.django_db

LATE = 1.6  # past the one-second background timeout of `one_second_clients`
LA = ZoneInfo("America/Los_Angeles")

# What each command says at once on a cold cache, what its DM holds, and what the apology names.
ASKED = {
    "balance": (CHECKING_TEXT, "Your leave in", "work out your balance"),
    "list": (LIST_CHECKING_TEXT, "Your time off", "list your time off"),
    "who": (WHO_CHECKING_TEXT, "Engineering", "tell who's out"),
}


def ask(client, user: str, text: str) -> str:
    response = post_command(client, text, user_id=user)
    assert response.status_code == 200, response.content
    return response.json()["text"]


def dms_made_to(fake_slack, user: str) -> list[str]:
    """Every DM Slack made to `user`, as it stands now."""
    return [message.text for message in fake_slack.workspace.messages(user)]


def dm_blocks_made_to(fake_slack, user: str) -> list:
    return [message.blocks for message in fake_slack.workspace.messages(user)]


def apologies(texts: list[str]) -> list[str]:
    return [text for text in texts if text.startswith("Sorry, I couldn't")]


def answer_to(user: str, containing: str):
    """A matcher of the answer DM itself (not an apology), by what its text holds."""
    return dm_to(user, containing)


def looks_in(user: str):
    def matches(method, params) -> bool:
        return method == "conversations.history" and params.get("channel") == dm_channel(user)
    return matches


def opening_dm_of(user: str):
    def matches(method, params) -> bool:
        return method == "conversations.open" and user in str(params.get("users"))
    return matches


def failed_rows() -> list:
    return list(DBTaskResult.objects.filter(status=TaskResultStatus.FAILED))


# --- A DM answer Slack made but answered after the client stopped waiting -----------------------------


@pytest.mark.parametrize("command", ASKED)
def test_an_answer_slack_posts_but_answers_too_late_arrives_once(client, fake_slack, no_backoff,
                                                                  one_second_clients, command):
    install_config()
    checking, answer, _ = ASKED[command]

    with slow(fake_slack, dm_to(ALICE), LATE) as met:
        assert ask(client, ALICE, command) == checking

    assert met, "the answer was never sent"
    made = dms_made_to(fake_slack, ALICE)
    assert len(made) == 1 and answer in made[0], made


def test_an_answer_slack_posts_too_late_twice_running_still_arrives_once(client, fake_slack, no_backoff,
                                                                          one_second_clients):
    # The post answered late, then the look for it answered late too: the next try looks again and finds it.
    install_config()
    late = lambda method, params: dm_to(ALICE)(method, params) or looks_in(ALICE)(method, params)  # noqa: E731

    with slow(fake_slack, late, LATE, times=2) as met:
        assert ask(client, ALICE, "balance") == CHECKING_TEXT

    assert len(met) == 2
    made = dms_made_to(fake_slack, ALICE)
    assert len(made) == 1 and "Your leave in" in made[0], made


# --- A 429 with a long Retry-After on the answer --------------------------------------------------------


def test_an_answer_met_by_a_long_retry_after_is_not_retried_inside_the_call_and_arrives_once_after_it(
        client, fake_slack, clock):
    install_config()
    limited, posted = [], []
    real_handle = fake_slack.handle

    def handle(method, params, headers):
        if dm_to(ALICE)(method, params):
            if not limited:
                limited.append(clock.monotonic())
                return 429, {"Retry-After": "120"}, {"ok": False, "error": "ratelimited"}
            posted.append(clock.monotonic())
        return real_handle(method, params, headers)

    fake_slack.handle = handle
    try:
        assert ask(client, ALICE, "balance") == CHECKING_TEXT
        work_through_the_queue(clock)
    finally:
        del fake_slack.handle

    assert len(limited) == 1
    assert len(posted) == 1, "the answer was posted again before Slack's Retry-After, or more than once"
    assert posted[0] - limited[0] >= 120, posted[0] - limited[0]
    made = dms_made_to(fake_slack, ALICE)
    assert len(made) == 1 and "Your leave in" in made[0], made
    assert not [call for call in fake_slack.calls("conversations.history") if looks_in(ALICE)(call.method, call.params)], \
        "a 429 is no doubt: nothing to look for"


# --- Slack failing the answer through every attempt -----------------------------------------------------


@pytest.mark.parametrize("command", ASKED)
@pytest.mark.parametrize("fault", ["http_500", "internal_error"])
def test_an_answer_slack_fails_on_every_attempt_ends_with_one_apology(client, fake_slack, no_backoff, command,
                                                                      fault):
    install_config()
    checking, answer, what = ASKED[command]

    with failing(fake_slack, answer_to(ALICE, answer), fault, times=None) as met:
        assert ask(client, ALICE, command) == checking

    assert len(met) > 3, "the answer was not tried again"
    made = dms_made_to(fake_slack, ALICE)
    assert len(made) == 1, made
    assert made[0].startswith(f"Sorry, I couldn't {what}:") and "Slack kept failing" in made[0], made


def test_an_answer_slack_made_is_not_followed_by_an_apology_saying_it_could_not_be_given(client, fake_slack,
                                                                                         no_backoff):
    # Slack makes the balance DM and loses its answer; every look for it in Alice's DM then fails for the
    # rest of the task. Alice has her balance: she must not also read that it could not be worked out.
    install_config()

    with failing_each(fake_slack, (answer_to(ALICE, "Your leave in"), "answer_lost", None),
                      (looks_in(ALICE), "internal_error", None)) as (posts, looks):
        assert ask(client, ALICE, "balance") == CHECKING_TEXT

    assert posts and looks
    made = dms_made_to(fake_slack, ALICE)
    assert len([text for text in made if "Your leave in" in text]) == 1, made
    assert apologies(made) == [], made


# --- The look for an earlier answer failing itself ------------------------------------------------------


@pytest.mark.parametrize("fault", ["http_500", "internal_error", "gateway_502_html"])
@pytest.mark.parametrize("look", ["conversations.open", "conversations.history"])
def test_an_answer_in_doubt_arrives_once_though_the_look_for_it_fails_for_a_while(client, fake_slack, no_backoff,
                                                                                  look, fault):
    install_config()
    looking = opening_dm_of(ALICE) if look == "conversations.open" else looks_in(ALICE)

    with failing_each(fake_slack, (answer_to(ALICE, "Your leave in"), "answer_lost", 1),
                      (looking, fault, 5)) as (posts, looks):
        assert ask(client, ALICE, "balance") == CHECKING_TEXT

    assert posts and looks, "the look never failed"
    made = dms_made_to(fake_slack, ALICE)
    assert len(made) == 1 and "Your leave in" in made[0], made


@pytest.mark.parametrize("command", ASKED)
def test_an_answer_in_doubt_on_an_install_without_im_history_still_arrives(client, fake_slack, no_backoff, command):
    # An install granted im:write but not im:history: the look is refused for good (missing_scope). The answer
    # is sent again: a repeat at worst, never a silence, and never an apology.
    with fake_slack.workspace.lock:
        fake_slack.workspace.granted_scopes = tuple(s for s in fake_slack.workspace.granted_scopes
                                                    if s != "im:history")
    install_config()
    checking, answer, _ = ASKED[command]

    with failing(fake_slack, answer_to(ALICE, answer), "answer_lost") as met:
        assert ask(client, ALICE, command) == checking

    assert met
    refused = [call for call in fake_slack.calls("conversations.history") if looks_in(ALICE)(call.method, call.params)]
    assert refused and all(call.response.get("error") == "missing_scope" for call in refused)
    made = dms_made_to(fake_slack, ALICE)
    assert 1 <= len([text for text in made if answer in text]) <= 2, made
    assert apologies(made) == [], made


# --- Two askings at once ---------------------------------------------------------------------------------


def test_hr_asking_about_two_people_at_once_gets_both_answers_once_each(client, fake_slack, no_backoff, clock):
    # Both tasks wait as rows before either runs; each answer Slack made lost its answer, and each retry looks
    # in Hannah's DM: each finds its own answer, not the other's.
    install_config()
    first = ask(client, HR, f"for <@{ALICE}> balance")
    second = ask(client, HR, f"for <@{DAVE}> balance")
    assert "I'll DM you" in first and "I'll DM you" in second, (first, second)

    with failing(fake_slack, dm_to(HR), "answer_lost", times=2) as met:
        work_through_the_queue(clock)

    assert len(met) == 2
    made = dms_made_to(fake_slack, HR)
    assert len(made) == 2, made
    assert len([text for text in made if f"<@{ALICE}>" in text]) == 1, made
    assert len([text for text in made if f"<@{DAVE}>" in text]) == 1, made
    assert apologies(made) == []


def test_hr_listing_two_people_at_once_gets_both_lists(client, fake_slack, no_backoff, clock):
    install_config()
    assert "DM you" in ask(client, HR, f"for <@{ALICE}> list")
    assert "DM you" in ask(client, HR, f"for <@{DAVE}> list")

    with failing(fake_slack, dm_to(HR), "http_500", times=1):
        work_through_the_queue(clock)

    made = dms_made_to(fake_slack, HR)
    assert len(made) == 2, made
    assert {ALICE, DAVE} == {user for user in (ALICE, DAVE) for text in made if f"<@{user}>" in text}, made
    assert dms_made_to(fake_slack, ALICE) == [] and dms_made_to(fake_slack, DAVE) == []


def test_the_same_press_delivered_twice_is_refused_once(client, fake_slack):
    # Withdraw pressed on the receipt after Bob approved; the very same press (one action_ts) reaches the
    # app twice. It is one asking: one refusal.
    install_config()
    request_time_off(client, fake_slack, ALICE)
    receipt = next(call for call in fake_slack.calls("chat.postMessage") if call.params.get("channel") == ALICE)
    click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted_requests(fake_slack)[0])
    assert request_status(fake_slack)["status"] == APPROVED
    block_id, value = buttons_in(receipt.params["blocks"])[ids.WITHDRAW_ACTION]
    payload = block_actions_payload(user_id=ALICE, action_id=ids.WITHDRAW_ACTION, value=value, block_id=block_id,
                                    channel_id=receipt.response["channel"], message_ts=receipt.response["ts"])

    for _ in range(2):
        assert post_interaction(client, payload).status_code == 200

    refused = [text for text in dms_made_to(fake_slack, ALICE) if "nothing to withdraw" in text]
    assert len(refused) == 1, dms_made_to(fake_slack, ALICE)


# --- Notices a task posts, failing once, posted once in the same attempt --------------------------------


def request_and_approve(client, fake_slack, clock) -> None:
    request_time_off(client, fake_slack, ALICE)
    work_through_the_queue(clock)
    [posted] = posted_requests(fake_slack)
    assert click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted).status_code == 200
    work_through_the_queue(clock)


def thread_reply(method, params) -> bool:
    return (method == "chat.postMessage" and params.get("channel") == C_ENG_APPROVALS
            and bool(params.get("thread_ts")))


def announcement(method, params) -> bool:
    return method == "chat.postMessage" and params.get("channel") == C_ENG


@pytest.mark.parametrize("fault", ["http_500", "internal_error", "answer_lost", "dropped"])
@pytest.mark.parametrize("post", ["thread reply", "announcement"])
def test_a_notice_slack_fails_once_is_posted_once_in_the_same_task_attempt(client, fake_slack, no_backoff, clock,
                                                                          post, fault):
    install_config()
    matcher = thread_reply if post == "thread reply" else announcement

    with failing(fake_slack, matcher, fault) as met:
        request_and_approve(client, fake_slack, clock)

    assert met, "the notice was never posted"
    assert failed_rows() == [], [(row.task_path, row.exception_class_path) for row in failed_rows()]
    [request] = [m for m in fake_slack.workspace.messages(C_ENG_APPROVALS)
                 if m.metadata and m.metadata.get("event_type") == "timeoff_request"]
    assert request.metadata["event_payload"]["status"] == APPROVED
    replies = [m.text for m in fake_slack.workspace.replies(C_ENG_APPROVALS, request.ts) if m.ts != request.ts]
    assert replies == [f"Approved by <@{BOB}>"], replies
    assert len(fake_slack.workspace.messages(C_ENG)) == 1, [m.text for m in fake_slack.workspace.messages(C_ENG)]
    assert len([text for text in dms_made_to(fake_slack, ALICE) if "approved your :palm_tree:" in text]) == 1


def test_a_notice_slack_keeps_rate_limiting_is_not_hammered_inside_the_call(client, fake_slack, no_backoff, clock):
    # A 429 with a Retry-After too long to wait inside the call: the announcement is posted once the wait is
    # over, by the task's next attempt, and tried no more often than that.
    install_config()
    limited, posted = [], []
    real_handle = fake_slack.handle

    def handle(method, params, headers):
        if announcement(method, params):
            if not limited:
                limited.append(clock.monotonic())
                return 429, {"Retry-After": "60"}, {"ok": False, "error": "ratelimited"}
            posted.append(clock.monotonic())
        return real_handle(method, params, headers)

    fake_slack.handle = handle
    try:
        request_and_approve(client, fake_slack, clock)
    finally:
        del fake_slack.handle

    assert len(limited) == 1 and len(posted) == 1, (limited, posted)
    assert posted[0] - limited[0] >= 60
    assert len(fake_slack.workspace.messages(C_ENG)) == 1


def approved_leave(user: str, start: date, end: date) -> LedgerEntry:
    return LedgerEntry(id=f"{user}-{start}", user=user, team="Engineering", leave_type="vacation", start=start,
                       end=end, start_half=None, end_half=None, days=Decimal((end - start).days + 1),
                       status="approved", decided_by=BOB if user != BOB else HR)


@pytest.mark.parametrize("fault", ["http_500", "internal_error", "answer_lost"])
def test_the_mornings_digest_slack_fails_once_is_posted_once_by_the_same_tick(fake_slack, no_backoff, fault):
    install_config(standard_config(teams=(replace(ENGINEERING, digest_time=dt_time(9, 0)),)))
    post_entry(fake_slack, approved_leave(ALICE, MONDAY, WEDNESDAY))
    post_entry(fake_slack, approved_leave(DAVE, MONDAY, MONDAY))

    with failing(fake_slack, announcement, fault) as met:
        run_jobs(datetime(MONDAY.year, MONDAY.month, MONDAY.day, 9, 0, tzinfo=LA), "--team", "Engineering")

    assert met
    posts = [m.text for m in fake_slack.workspace.messages(C_ENG)]
    assert len(posts) == 1, posts
    assert ALICE in posts[0] and DAVE in posts[0], posts


# --- A task row of the release before --------------------------------------------------------------------


@pytest.mark.parametrize("row", ["balance", "list", "who"])
def test_an_answer_task_row_of_the_release_before_without_an_asking_still_answers(fake_slack, clock, row):
    install_config()
    _, answer, _ = ASKED[row]
    if row == "balance":
        tasks.send_balance.enqueue(ALICE, None, None)
    elif row == "list":
        tasks.send_leave_list.enqueue(ALICE, False, None)
    else:
        tasks.send_team_out.enqueue(ALICE, None)

    with failing(fake_slack, dm_to(ALICE), "http_500") as met:
        work_through_the_queue(clock)

    assert met
    made = dms_made_to(fake_slack, ALICE)
    assert len(made) == 1 and answer in made[0], made
    assert failed_rows() == []


def test_a_balance_row_of_the_release_before_that_gives_up_still_apologises_once(fake_slack, no_backoff):
    install_config()
    with failing(fake_slack, answer_to(ALICE, "Your leave in"), "http_503", times=None):
        tasks.send_balance.enqueue(ALICE, None, None)
    made = dms_made_to(fake_slack, ALICE)
    assert len(made) == 1 and made[0].startswith("Sorry, I couldn't work out your balance"), made


# --- What people typed, in the answers ------------------------------------------------------------------


HOSTILE = "<!channel> *all* <https://evil.example|click> & <@U_BOB>"


def everything_said(fake_slack, user: str) -> str:
    return json.dumps([dms_made_to(fake_slack, user), dm_blocks_made_to(fake_slack, user)])


def test_a_team_name_hr_typed_reaches_the_who_answer_escaped(client, fake_slack, no_backoff):
    install_config(standard_config(teams=(replace(ENGINEERING, name="R&D <!channel> <Ops>"),)))

    assert ask(client, ALICE, "who") == WHO_CHECKING_TEXT

    said = everything_said(fake_slack, ALICE)
    assert dms_made_to(fake_slack, ALICE), "no answer"
    assert "<!channel>" not in said and "<Ops>" not in said, said
    assert "&lt;!channel&gt;" in said, said


@pytest.mark.parametrize("who", ["alice", "hr"])
def test_a_note_alice_typed_reaches_the_list_answer_escaped_or_not_at_all(client, fake_slack, no_backoff, who):
    install_config()
    request_time_off(client, fake_slack, ALICE, note=HOSTILE)
    cache.clear()
    install_config()
    recipient = ALICE if who == "alice" else HR
    before = len(dms_made_to(fake_slack, recipient))

    text = ask(client, recipient, "list" if who == "alice" else f"for <@{ALICE}> list")

    assert "DM you" in text, text
    made = fake_slack.workspace.messages(recipient)[before:]
    assert made, "no answer"
    said = json.dumps([[m.text for m in made], [m.blocks for m in made]])
    assert "<!channel>" not in said and "<https://evil.example|click>" not in said, said
