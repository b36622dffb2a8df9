"""Every DM a task sends for its effect reaches its person once, while Slack half fails (README "Slack posts,
but the answer is lost").

The day-before reminder, HR's DM when HR cancels or edits someone's leave, the "nobody may decide your
request" DM when an approver leaves, HR's DMs about lost channels: each is posted with the client that does
not retry inside the call, tagged `{"event_type": "timeoff_notice", "event_payload": {"key": <hash>}}`. After
a failure Slack may have acted on (a 500 after posting, a dropped connection, a proxy's page or JSON cut short
with HTTP 200), the next attempt looks in the person's DM with the app (`conversations.open`, then that DM's
`conversations.history` with `include_all_metadata`) and posts only when its tag is not there.

Every assertion reads what Slack's workspace holds afterwards (`fake_slack.workspace.messages(user)`: the DMs
Slack made), not what the app believes it sent.
"""

import json
import re
from dataclasses import replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core.cache import cache
from django.core.management.base import CommandError

from approvals import block_ids as ids
from approvals.config_types import ApproverSource
from approvals.rules import LedgerEntry
from fake_slack.personas import C_ENG, C_ENG_APPROVALS, C_GENERAL, CAROL
from test_support.direct_messages import dm_channel, dm_to, is_decision
from test_support.flows import (
    ALICE,
    BOB,
    DAVE,
    ENGINEERING,
    HR,
    MONDAY,
    WEDNESDAY,
    click,
    install_config,
    open_request_form,
    posted_requests,
    press,
    request_time_off,
    request_values,
    standard_config,
    submit_request,
)
from test_support.job_runs import post_entry, run_jobs
from test_support.slack_faults import MADE_BUT_LOST, failing, failing_each
from test_support.slack_requests import (
    event_envelope,
    post_command,
    post_event,
    post_interaction,
    view_submission_payload,
)

pytestmark = pytest.mark.django_db

# Faults of a look in the DM that a later attempt does not meet; with how many times in a row each is met:
# enough to outlast the background client's own retries (three) where it retries inside the call.
LOOK_FAULTS = [("rate_limited_429", 5), ("http_500", 5), ("internal_error", 2)]

LA = ZoneInfo("America/Los_Angeles")
FRIDAY = MONDAY - timedelta(days=3)  # the working day before Alice's leave: reminders go out at 15:00
NEXT_MONDAY = MONDAY + timedelta(days=7)
NEXT_WEDNESDAY = MONDAY + timedelta(days=9)
TUESDAY = MONDAY + timedelta(days=1)
OTHER_HR = "U_HR2"
BOB_ALONE = replace(ENGINEERING, approvers=ApproverSource(users=(BOB,)))  # Bob is the team's only approver
REMINDED = (ALICE, BOB, DAVE)  # the reminders job goes through people in this order (by user id)

REMINDER = ":wave: A reminder"
HR_CHANGED = f"<@{HR}> changed your time off"
NOBODY_DECIDES = "Nobody may decide your request"
LEFT_TO_HR = "They were the only approver left"
NOT_DELIVERED = "did not reach your approvers"


def opening_dm_of(user: str):
    def matches(method, params) -> bool:
        return method == "conversations.open" and user in str(params.get("users", ""))
    return matches


def reading_dm_of(user: str):
    def matches(method, params) -> bool:
        return method == "conversations.history" and params.get("channel") == dm_channel(user)
    return matches


# --- What Slack holds -------------------------------------------------------------------------------


def dms_in_slack(fake_slack, user: str) -> list[str]:
    """The text of every message Slack holds in `user`'s DM with the app, oldest first, as it stands now."""
    return [m.text for m in fake_slack.workspace.messages(user)]


def dms_saying(fake_slack, user: str, words: str) -> list[str]:
    return [text for text in dms_in_slack(fake_slack, user) if words in text]


def looks_in_dm(fake_slack, user: str) -> list:
    return [c for c in fake_slack.calls("conversations.history") if c.params.get("channel") == dm_channel(user)]


def opens_of(fake_slack, user: str) -> list:
    return [c for c in fake_slack.calls("conversations.open") if user in str(c.params.get("users", ""))]


def the_request(fake_slack, user: str = ALICE) -> dict:
    [payload] = [m.metadata["event_payload"] for m in fake_slack.workspace.messages(C_ENG_APPROVALS)
                 if m.metadata and m.metadata.get("event_type") == "timeoff_request"
                 and m.metadata["event_payload"]["user"] == user]
    return payload


def requests_in_ledger(fake_slack) -> list[dict]:
    return [m.metadata["event_payload"] for m in fake_slack.workspace.messages(C_ENG_APPROVALS)
            if m.metadata and m.metadata.get("event_type") == "timeoff_request"]


def thread_of(fake_slack, ts: str) -> list[str]:
    return [m.text for m in fake_slack.workspace.replies(C_ENG_APPROVALS, ts) if m.ts != ts]


def decision_dms(fake_slack, user: str = ALICE) -> list[str]:
    return [text for text in dms_in_slack(fake_slack, user) if is_decision(text)]


# --- Steps --------------------------------------------------------------------------------------------


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=LA)


def approved_leave(user: str, start: date = MONDAY, end: date = WEDNESDAY) -> LedgerEntry:
    return LedgerEntry(id=f"{user}-{start}", user=user, team="Engineering", leave_type="vacation", start=start,
                       end=end, start_half=None, end_half=None, days=Decimal((end - start).days + 1),
                       status="approved", decided_by=BOB if user != BOB else HR)


def reminders_ticking_until_done(first: datetime, *, ticks: int = 6) -> list[str]:
    """`run_jobs` for Engineering every ten minutes from `first`, as cron runs it, until a tick fails nothing
    (a failed tick is cron's exit status, and the next tick takes the job over); what each tick printed."""
    said = []
    for n in range(ticks):
        try:
            said.append(run_jobs(first + timedelta(minutes=10 * n), "--team", "Engineering"))
            return said
        except CommandError as failed:
            said.append(f"failed: {failed}")
    return said


def approved_leave_for_everyone(fake_slack, settings) -> None:
    settings.JOB_RUN_STALE_SECONDS = 0  # a claim whose tick failed is taken over by the next tick at once
    install_config()
    for user in REMINDED:
        post_entry(fake_slack, approved_leave(user))


def command(client, text: str, user: str = HR) -> dict:
    """`/timeoff <text>`, sent twice so the second is answered from a warm cache (tasks run at once)."""
    post_command(client, text, user_id=user)
    response = post_command(client, text, user_id=user)
    assert response.status_code == 200, response.content
    return response.json()


def hr_records_leave_for_alice(client, fake_slack) -> None:
    response = post_command(client, f"for <@{ALICE}|alice> {MONDAY} {WEDNESDAY} vacation", user_id=HR)
    assert response.status_code == 200 and response.content == b"", response.content
    view = fake_slack.last_call("views.open").params["view"]
    response = post_interaction(client, view_submission_payload(
        user_id=HR, view=view, values=request_values("vacation", MONDAY, WEDNESDAY), view_id="V_FOR",
        view_hash="h-V_FOR"))
    assert response.status_code == 200 and response.content == b"", response.content
    assert the_request(fake_slack)["status"] == "approved"


def hr_edit_form_for_alice(client, fake_slack) -> dict:
    listed = command(client, f"for <@{ALICE}> list")["blocks"]
    press(client, HR, listed, ids.EDIT_ACTION, channel=C_GENERAL, on_list=True)
    form = fake_slack.last_call("views.open").params["view"]
    return json.loads(form) if isinstance(form, str) else form


def send_edit(client, user: str, form: dict, start: date, end: date, *, view_id: str = "V_HR_EDIT"):
    response = post_interaction(client, view_submission_payload(
        user_id=user, view=form, values=request_values("vacation", start, end), view_id=view_id,
        view_hash=f"{view_id}.hash"))
    assert response.status_code == 200, response.content
    return response


def profile_change(client, fake_slack, user: str, *, deleted: bool, event_id: str) -> None:
    """Slack deactivates `user`, then sends `user_change` with the whole profile, as it does."""
    with fake_slack.workspace.lock:
        fake_slack.workspace.users[user].deleted = deleted
        profile = fake_slack.workspace.users[user].to_api()
    response = post_event(client, event_envelope({"type": "user_change", "user": profile,
                                                  "event_ts": "1766000000.000400"}, event_id=event_id))
    assert response.status_code == 200, response.content


def deactivate(client, fake_slack, user: str, event_id: str) -> None:
    profile_change(client, fake_slack, user, deleted=True, event_id=event_id)


def archive(client, channel: str, event_id: str = "Ev_ARCHIVED_1") -> None:
    event = {"type": "channel_archive", "channel": channel, "user": "U_ADMIN", "event_ts": "1766000000.000500"}
    response = post_event(client, event_envelope(event, event_id=event_id))
    assert response.status_code == 200, response.content


def two_hr_people(fake_slack) -> None:
    fake_slack.workspace.add_user(OTHER_HR, "harriet", real_name="Harriet Holm")
    install_config(standard_config(fallback_approvers=(HR, OTHER_HR)))


# --- (1) The day-before reminder ---------------------------------------------------------------------


@pytest.mark.parametrize("fault", MADE_BUT_LOST)
@pytest.mark.parametrize("lost", [ALICE, BOB], ids=["first-of-the-run", "middle-of-the-run"])
def test_it_reminds_everyone_once_when_slack_made_one_reminder_and_lost_its_answer(fake_slack, settings,
                                                                                   no_backoff, fault, lost):
    approved_leave_for_everyone(fake_slack, settings)

    with failing(fake_slack, dm_to(lost, REMINDER), fault) as met:
        said = reminders_ticking_until_done(at(FRIDAY, 15))

    assert met, "the reminder was never sent"
    # The tick that met the fault finished the run: the post was tried again inside the call, after a look.
    assert len(said) == 1 and "3 reminder(s)" in said[0], said
    for person in REMINDED:
        reminded = dms_saying(fake_slack, person, REMINDER)
        assert len(reminded) == 1, (person, dms_in_slack(fake_slack, person), said)
        assert "starts on Mon 10 Mar" in reminded[0], reminded
        assert len(dms_in_slack(fake_slack, person)) == 1, dms_in_slack(fake_slack, person)
    # The try after the failure looked in the DM of the person whose reminder was in doubt, and only there.
    assert looks_in_dm(fake_slack, lost), "the reminder was sent again without looking"
    assert [p for p in REMINDED if p != lost and looks_in_dm(fake_slack, p)] == []
    # A later tick has nothing left to do: nobody is reminded again.
    assert "Nothing due" in run_jobs(at(FRIDAY, 16), "--team", "Engineering")
    assert [len(dms_in_slack(fake_slack, p)) for p in REMINDED] == [1, 1, 1]


@pytest.mark.parametrize("fault", MADE_BUT_LOST)
def test_it_reminds_the_last_of_the_run_once_when_its_reminder_slack_made_lost_its_answer(fake_slack, settings,
                                                                                          no_backoff, fault):
    approved_leave_for_everyone(fake_slack, settings)

    with failing(fake_slack, dm_to(DAVE, REMINDER), fault) as met:
        reminders_ticking_until_done(at(FRIDAY, 15))

    assert met
    assert [len(dms_saying(fake_slack, p, REMINDER)) for p in REMINDED] == [1, 1, 1], {
        p: dms_in_slack(fake_slack, p) for p in REMINDED}


def test_it_reminds_everyone_once_when_every_reminder_of_the_run_lost_its_answer(fake_slack, settings, no_backoff):
    # Slack made each DM and each answer was a 500: every tick gets one further.
    approved_leave_for_everyone(fake_slack, settings)
    reminder = lambda method, params: (method == "chat.postMessage"  # noqa: E731
                                       and REMINDER in str(params.get("text")))

    with failing(fake_slack, reminder, "answer_lost", times=3) as met:
        said = reminders_ticking_until_done(at(FRIDAY, 15))

    assert len(met) == 3, said
    assert [len(dms_in_slack(fake_slack, p)) for p in REMINDED] == [1, 1, 1], {
        p: dms_in_slack(fake_slack, p) for p in REMINDED}


# --- (2) HR cancels or edits someone's leave -----------------------------------------------------------


@pytest.mark.parametrize("fault", MADE_BUT_LOST)
def test_it_tells_alice_once_that_hr_cancelled_her_leave_when_that_dm_lost_its_answer(client, fake_slack,
                                                                                       no_backoff, fault):
    install_config()
    hr_records_leave_for_alice(client, fake_slack)
    [posted] = posted_requests(fake_slack)
    listed = command(client, f"for <@{ALICE}> cancel")

    with failing(fake_slack, dm_to(ALICE, HR_CHANGED), fault) as met:
        press(client, HR, listed["blocks"], ids.CANCEL_ACTION, channel=C_GENERAL, on_list=True)

    assert met, "the DM about the change was never sent"
    assert the_request(fake_slack)["status"] == "cancelled"
    told = dms_saying(fake_slack, ALICE, HR_CHANGED)
    assert len(told) == 1, dms_in_slack(fake_slack, ALICE)
    assert "Cancelled" in told[0], told
    assert looks_in_dm(fake_slack, ALICE), "the DM was sent again without looking"
    # Nothing else of the cancellation was done twice.
    assert len(thread_of(fake_slack, posted.response["ts"])) == 1, thread_of(fake_slack, posted.response["ts"])
    assert len([m for m in fake_slack.workspace.messages(C_ENG) if "will not be out" in m.text]) == 1


@pytest.mark.parametrize("fault", MADE_BUT_LOST)
def test_it_tells_alice_once_that_hr_edited_her_request_when_that_dm_lost_its_answer(client, fake_slack,
                                                                                      no_backoff, fault):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    form = hr_edit_form_for_alice(client, fake_slack)

    with failing(fake_slack, dm_to(ALICE, HR_CHANGED), fault) as met:
        assert send_edit(client, HR, form, MONDAY, TUESDAY).content == b""

    assert met
    request = the_request(fake_slack)
    assert (request["end"], request["status"]) == (TUESDAY.isoformat(), "pending")
    told = dms_saying(fake_slack, ALICE, HR_CHANGED)
    assert len(told) == 1 and "Tue 11" in told[0], dms_in_slack(fake_slack, ALICE)
    # Her DM holds her receipt (rewritten to the new dates) and HR's one DM: nothing twice.
    assert len(dms_in_slack(fake_slack, ALICE)) == 2, dms_in_slack(fake_slack, ALICE)
    edits = [t for t in thread_of(fake_slack, posted.response["ts"]) if t.startswith(f"Edited by <@{HR}>")]
    assert len(edits) == 1, thread_of(fake_slack, posted.response["ts"])


# --- (3) An approver leaves the company; a channel is lost -------------------------------------------


@pytest.mark.parametrize("fault", MADE_BUT_LOST)
def test_it_tells_alice_once_that_nobody_may_decide_her_request_when_that_dm_lost_its_answer(client, fake_slack,
                                                                                              no_backoff, fault):
    # Bob is Engineering's only approver and Hannah, the only fallback approver, has left: when Bob leaves,
    # nobody may decide Alice's request.
    install_config(standard_config(teams=(BOB_ALONE,)))
    request_time_off(client, fake_slack, ALICE)
    deactivate(client, fake_slack, HR, "Ev_HR_GONE")

    with failing(fake_slack, dm_to(ALICE, NOBODY_DECIDES), fault) as met:
        deactivate(client, fake_slack, BOB, "Ev_BOB_GONE")

    assert met, "Alice was never told"
    told = dms_saying(fake_slack, ALICE, NOBODY_DECIDES)
    assert len(told) == 1, dms_in_slack(fake_slack, ALICE)
    assert looks_in_dm(fake_slack, ALICE)
    assert the_request(fake_slack)["status"] == "pending"
    assert dms_in_slack(fake_slack, HR) == [] and dms_in_slack(fake_slack, BOB) == []  # both gone


@pytest.mark.parametrize("fault", MADE_BUT_LOST)
def test_it_tells_hr_once_of_requests_left_to_them_when_an_approver_leaves_and_that_dm_lost_its_answer(
        client, fake_slack, no_backoff, fault):
    # Hannah has had no DM from the app yet: the look first asks Slack for her DM's id.
    install_config(standard_config(teams=(BOB_ALONE,)))
    request_time_off(client, fake_slack, ALICE)

    with failing(fake_slack, dm_to(HR, LEFT_TO_HR), fault) as met:
        deactivate(client, fake_slack, BOB, "Ev_BOB_GONE")

    assert met
    told = dms_saying(fake_slack, HR, LEFT_TO_HR)
    assert len(told) == 1, dms_in_slack(fake_slack, HR)
    assert opens_of(fake_slack, HR) and looks_in_dm(fake_slack, HR)
    assert the_request(fake_slack)["status"] == "pending"


@pytest.mark.parametrize("fault", MADE_BUT_LOST)
@pytest.mark.parametrize("lost", [HR, OTHER_HR], ids=["first-hr", "second-hr"])
def test_it_tells_each_hr_person_once_of_an_archived_channel_when_one_dm_lost_its_answer(client, fake_slack,
                                                                                        no_backoff, fault, lost):
    two_hr_people(fake_slack)

    with failing(fake_slack, dm_to(lost), fault) as met:
        archive(client, C_ENG)

    assert met, "HR was never told"
    for hr in (HR, OTHER_HR):
        told = dms_in_slack(fake_slack, hr)
        assert len(told) == 1, (hr, told)
        assert told[0].startswith(f":warning: <#{C_ENG}> was archived"), told
    assert looks_in_dm(fake_slack, lost)


def test_slacks_retry_of_the_archive_event_after_a_lost_answer_tells_hr_nothing_more(client, fake_slack,
                                                                                     no_backoff):
    two_hr_people(fake_slack)
    with failing(fake_slack, dm_to(HR), "answer_lost") as met:
        archive(client, C_ENG, event_id="Ev_ARCHIVED_2")
    response = post_event(client, event_envelope(
        {"type": "channel_archive", "channel": C_ENG, "user": "U_ADMIN", "event_ts": "1766000000.000500"},
        event_id="Ev_ARCHIVED_2"), retry_num=1)

    assert met and response.status_code == 200
    assert [len(dms_in_slack(fake_slack, hr)) for hr in (HR, OTHER_HR)] == [1, 1]


# --- (4) The look in the DM meets a passing fault -----------------------------------------------------


@pytest.mark.parametrize("fault,times", LOOK_FAULTS, ids=[f for f, _ in LOOK_FAULTS])
def test_a_decision_dm_in_doubt_arrives_once_though_reading_the_dm_fails_for_a_while(client, fake_slack,
                                                                                    no_sleeping, fault, times):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)

    with failing_each(fake_slack, (lambda m, p: dm_to(ALICE)(m, p) and is_decision(str(p.get("text"))),
                                    "answer_lost", 1),
                       (reading_dm_of(ALICE), fault, times)) as (lost, looked):
        response = click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted)

    assert response.status_code == 200
    assert lost and looked, "the DM was not in doubt, or the look never met the fault"
    assert len(decision_dms(fake_slack)) == 1, dms_in_slack(fake_slack, ALICE)
    assert len(dms_in_slack(fake_slack, ALICE)) == 2  # her receipt (rewritten) and the decision
    request = the_request(fake_slack)
    assert (request["status"], request["decided_by"]) == ("approved", BOB)
    assert thread_of(fake_slack, posted.response["ts"]) == [f"Approved by <@{BOB}>"]
    assert len([m for m in fake_slack.workspace.messages(C_ENG) if ALICE in m.text]) == 1
    assert dms_in_slack(fake_slack, BOB) == []  # nothing failed that Bob must hear of


@pytest.mark.parametrize("fault,times", LOOK_FAULTS, ids=[f for f, _ in LOOK_FAULTS])
@pytest.mark.parametrize("step", ["conversations.open", "conversations.history"])
def test_a_receipt_in_doubt_arrives_once_though_the_look_in_a_new_dm_fails_for_a_while(client, fake_slack,
                                                                                     no_sleeping, fault, times,
                                                                                     step):
    # The receipt is the first DM to Alice: the look must ask Slack for her DM's id first.
    install_config()
    failing_step = opening_dm_of(ALICE) if step == "conversations.open" else reading_dm_of(ALICE)

    with failing_each(fake_slack, (dm_to(ALICE), "answer_lost", 1), (failing_step, fault, times)) as (lost, met):
        request_time_off(client, fake_slack, ALICE)

    assert lost and met
    assert len(posted_requests(fake_slack)) == 1 and len(requests_in_ledger(fake_slack)) == 1
    assert len(dms_in_slack(fake_slack, ALICE)) == 1, dms_in_slack(fake_slack, ALICE)
    assert the_request(fake_slack)["status"] == "pending"
    # The receipt found is the one a decision rewrites, and the decision DM follows once.
    [posted] = posted_requests(fake_slack)
    click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted)
    dms = dms_in_slack(fake_slack, ALICE)
    assert len(dms) == 2 and len(decision_dms(fake_slack)) == 1, dms
    assert "approved your request for" in dms[0], dms


@pytest.mark.parametrize("fault,times", LOOK_FAULTS, ids=[f for f, _ in LOOK_FAULTS])
@pytest.mark.parametrize("step", ["conversations.open", "conversations.history"])
def test_a_reminder_in_doubt_arrives_once_though_the_next_ticks_look_fails_for_a_while(fake_slack, settings,
                                                                                      no_sleeping, fault, times,
                                                                                      step):
    approved_leave_for_everyone(fake_slack, settings)
    failing_step = opening_dm_of(BOB) if step == "conversations.open" else reading_dm_of(BOB)

    with failing_each(fake_slack, (dm_to(BOB, REMINDER), "answer_lost", 1),
                       (failing_step, fault, times)) as (lost, met):
        said = reminders_ticking_until_done(at(FRIDAY, 15))

    assert lost and met, said
    assert not said[-1].startswith("failed"), said
    assert [len(dms_saying(fake_slack, p, REMINDER)) for p in REMINDED] == [1, 1, 1], {
        p: dms_in_slack(fake_slack, p) for p in REMINDED}


@pytest.mark.parametrize("fault,times", LOOK_FAULTS, ids=[f for f, _ in LOOK_FAULTS])
def test_hr_hears_of_a_lost_channel_once_though_opening_their_dm_fails_for_a_while(client, fake_slack,
                                                                                  no_sleeping, fault, times):
    two_hr_people(fake_slack)

    with failing_each(fake_slack, (dm_to(HR), "answer_lost", 1), (opening_dm_of(HR), fault, times)) as (lost, met):
        archive(client, C_ENG_APPROVALS)

    assert lost and met
    assert [len(dms_in_slack(fake_slack, hr)) for hr in (HR, OTHER_HR)] == [1, 1], {
        hr: dms_in_slack(fake_slack, hr) for hr in (HR, OTHER_HR)}


# --- (5) Tags are per effect ----------------------------------------------------------------------------


@pytest.mark.parametrize("fault", ["internal_error", "http_500", "gateway_502_html"])
def test_the_look_finding_the_receipt_still_sends_the_decision_dm(client, fake_slack, no_backoff, fault):
    # Slack did not make the decision DM, though its answer leaves that in doubt: the look finds only the
    # receipt, whose tag is the receipt's, and the decision DM is sent.
    install_config()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    decision = lambda m, p: dm_to(ALICE)(m, p) and is_decision(str(p.get("text")))  # noqa: E731

    with failing_each(fake_slack, (decision, fault, 2)) as (met,):
        click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted)

    assert met
    seen = [m for c in looks_in_dm(fake_slack, ALICE) if c.response.get("ok") for m in c.response["messages"]]
    assert seen, "the decision DM was sent again without looking"
    assert any((m.get("metadata") or {}).get("event_type") == "timeoff_notice" for m in seen), seen
    assert len(decision_dms(fake_slack)) == 1, dms_in_slack(fake_slack, ALICE)
    assert the_request(fake_slack)["status"] == "approved"


def test_the_look_finding_an_earlier_decision_dm_still_sends_this_requests_decision_dm(client, fake_slack,
                                                                                       no_backoff):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    view = open_request_form(client, fake_slack, ALICE)
    assert submit_request(client, ALICE, view, request_values("vacation", NEXT_MONDAY, NEXT_WEDNESDAY),
                          view_id="V_REQ2", view_hash="h2").status_code == 200
    first, second = posted_requests(fake_slack)
    click(client, fake_slack, BOB, ids.APPROVE_ACTION, first)
    assert len(decision_dms(fake_slack)) == 1

    with failing_each(fake_slack, (lambda m, p: dm_to(ALICE)(m, p) and is_decision(str(p.get("text"))),
                                    "internal_error", 1)) as (met,):
        click(client, fake_slack, BOB, ids.APPROVE_ACTION, second)

    assert met and looks_in_dm(fake_slack, ALICE)
    decisions = decision_dms(fake_slack)
    assert len(decisions) == 2, decisions
    assert "Mon 10 Mar" in decisions[0] and "Mon 17 Mar" in decisions[1], decisions


def test_a_reminder_in_doubt_is_sent_when_the_look_finds_only_other_dms(client, fake_slack, settings, no_backoff):
    # Alice's DM holds her receipt and the decision of the leave: the reminder, in doubt but never made,
    # is still sent.
    settings.JOB_RUN_STALE_SECONDS = 0
    install_config()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted)
    assert len(dms_in_slack(fake_slack, ALICE)) == 2

    with failing_each(fake_slack, (dm_to(ALICE, REMINDER), "internal_error", 1)) as (met,):
        said = reminders_ticking_until_done(at(FRIDAY, 15))

    assert met and looks_in_dm(fake_slack, ALICE), said
    assert len(dms_saying(fake_slack, ALICE, REMINDER)) == 1, dms_in_slack(fake_slack, ALICE)
    assert len(dms_in_slack(fake_slack, ALICE)) == 3


# --- (6) Someone who has left gets nothing --------------------------------------------------------------


def test_a_deactivated_person_gets_no_reminder_and_their_dm_is_never_opened(client, fake_slack, settings):
    approved_leave_for_everyone(fake_slack, settings)
    deactivate(client, fake_slack, BOB, "Ev_BOB_GONE_REMIND")
    fake_slack.clear_calls()

    said = reminders_ticking_until_done(at(FRIDAY, 15))

    assert not said[-1].startswith("failed"), said
    assert dms_in_slack(fake_slack, BOB) == []
    assert opens_of(fake_slack, BOB) == [] and looks_in_dm(fake_slack, BOB) == []
    assert [c for c in fake_slack.calls("chat.postMessage") if c.params.get("channel") == BOB] == []
    assert [len(dms_saying(fake_slack, p, REMINDER)) for p in (ALICE, DAVE)] == [1, 1]


def test_a_deactivated_hr_person_gets_no_dm_about_a_lost_channel_and_their_dm_is_never_opened(client, fake_slack,
                                                                                            no_backoff):
    two_hr_people(fake_slack)
    deactivate(client, fake_slack, OTHER_HR, "Ev_HR2_GONE")
    fake_slack.clear_calls()

    with failing(fake_slack, dm_to(HR), "answer_lost") as met:
        archive(client, C_ENG)

    assert met
    assert len(dms_in_slack(fake_slack, HR)) == 1
    assert dms_in_slack(fake_slack, OTHER_HR) == []
    assert opens_of(fake_slack, OTHER_HR) == [] and looks_in_dm(fake_slack, OTHER_HR) == []
    assert [c for c in fake_slack.calls("chat.postMessage") if c.params.get("channel") == OTHER_HR] == []


def test_a_deactivated_requester_gets_no_dm_when_hr_cancels_her_leave_and_her_dm_is_never_opened(
        client, fake_slack, no_backoff):
    install_config()
    hr_records_leave_for_alice(client, fake_slack)
    listed = command(client, f"for <@{ALICE}> cancel")
    before = len(dms_in_slack(fake_slack, ALICE))
    deactivate(client, fake_slack, ALICE, "Ev_ALICE_GONE")
    cache.delete(f"dm-channel:{ALICE}")  # as on another host, or after the cache lapsed
    fake_slack.clear_calls()

    press(client, HR, listed["blocks"], ids.CANCEL_ACTION, channel=C_GENERAL, on_list=True)

    assert the_request(fake_slack)["status"] == "cancelled"
    assert len(dms_in_slack(fake_slack, ALICE)) == before  # the receipt she has may be rewritten; nothing new
    assert opens_of(fake_slack, ALICE) == []
    assert [c for c in fake_slack.calls("chat.postMessage") if c.params.get("channel") == ALICE] == []


# --- (7) What the DMs' metadata says --------------------------------------------------------------------


TAG = re.compile(r"[0-9a-f]{32}")


@pytest.mark.parametrize("leave_type", ["vacation", "medical"])
def test_every_dm_a_task_sends_carries_only_an_opaque_tag_in_its_metadata(client, fake_slack, settings,
                                                                         no_backoff, leave_type):
    settings.JOB_RUN_STALE_SECONDS = 0
    install_config()
    # Alice: her receipt, the decision, the day-before reminder (one of them lost and looked for), HR's DM
    # when HR cancels; Hannah: a lost channel; Carol: a request refused in its task.
    view = open_request_form(client, fake_slack, ALICE)
    assert submit_request(client, ALICE, view, request_values(leave_type, MONDAY, WEDNESDAY,
                                                              note="Dentist Dr. Who")).status_code == 200
    [posted] = posted_requests(fake_slack)
    with failing(fake_slack, lambda m, p: dm_to(ALICE)(m, p) and is_decision(str(p.get("text"))), "answer_lost"):
        click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted)
    reminders_ticking_until_done(at(FRIDAY, 15))
    listed = command(client, f"for <@{ALICE}> cancel")
    press(client, HR, listed["blocks"], ids.CANCEL_ACTION, channel=C_GENERAL, on_list=True)
    archive(client, C_ENG)
    view = open_request_form(client, fake_slack, CAROL)
    cache.clear()
    submit_request(client, CAROL, view, request_values("vacation", MONDAY, WEDNESDAY), view_id="V_CAROL")

    dms = {person: fake_slack.workspace.messages(person) for person in (ALICE, HR, CAROL)}
    assert len(dms[ALICE]) == 4, [m.text for m in dms[ALICE]]  # receipt, decision, reminder, HR's change
    assert len(dms[HR]) == 1 and len(dms[CAROL]) == 1, {p: [m.text for m in ms] for p, ms in dms.items()}
    said = {"U_", "ALICE", "alice", "Alice", "2031", "03-10", "vacation", "medical", "Vacation", "Medical",
            "Dentist", "Engineering", C_ENG, C_ENG_APPROVALS, the_request(fake_slack)["id"]}
    tags = []
    for person, messages in dms.items():
        for message in messages:
            metadata = message.metadata
            assert metadata is not None, (person, message.text)
            assert set(metadata) == {"event_type", "event_payload"}, metadata
            assert metadata["event_type"] == "timeoff_notice", metadata
            assert set(metadata["event_payload"]) == {"key"}, metadata
            key = metadata["event_payload"]["key"]
            assert TAG.fullmatch(key), key
            assert not [word for word in said if word in json.dumps(metadata)], metadata
            tags.append(key)
    assert len(set(tags)) == len(tags), tags  # one tag per effect


# --- Beyond the list: the DM that says a request could not be sent ---------------------------------------


@pytest.mark.parametrize("fault", ["answer_lost", "dropped"])
def test_alice_is_told_once_that_her_request_could_not_be_sent_when_that_dm_lost_its_answer(client, fake_slack,
                                                                                           no_backoff, fault):
    # The approvals channel refuses the post for good (the bot was removed); Alice's DM saying so is made by
    # Slack, and its answer lost. README: the DMs a task sends are posted once.
    install_config()
    to_approvals = lambda m, p: m == "chat.postMessage" and p.get("channel") == C_ENG_APPROVALS  # noqa: E731

    with failing_each(fake_slack, (to_approvals, "not_in_channel", None),
                       (dm_to(ALICE, NOT_DELIVERED), fault, 1)) as (refused, lost):
        request_time_off(client, fake_slack, ALICE)

    assert refused and lost
    assert requests_in_ledger(fake_slack) == []
    told = dms_saying(fake_slack, ALICE, NOT_DELIVERED)
    assert len(told) == 1, dms_in_slack(fake_slack, ALICE)
