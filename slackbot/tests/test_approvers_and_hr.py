"""What approvers and HR do, end to end: signed Slack-shaped requests against the fake Slack,
and the HR console through Django's test client."""

import json
from dataclasses import replace
from datetime import datetime, timedelta, timezone as dt_timezone
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission

from approvals import block_ids as ids
from approvals import messages
from approvals.config_types import ApproverSource, MemberSource
from fake_slack.personas import C_ENG, C_ENG_APPROVALS, C_ENG_LEADS, CAROL
from test_support.flows import (
    buttons_in,
    press,
    ALICE,
    BOB,
    DAVE,
    ENGINEERING,
    HR,
    MONDAY,
    WEDNESDAY,
    channel_updates,
    click,
    dms_to,
    ephemerals_to,
    install_config,
    ledger_messages,
    open_app_home,
    open_request_form,
    posted_requests,
    request_status,
    request_time_off,
    request_values,
    standard_config,
    submit_request,
)
from test_support.slack_requests import (
    block_actions_payload,
    event_envelope,
    post_command,
    post_event,
    post_interaction,
    view_block_actions_payload,
    view_submission_payload,
)

pytestmark = pytest.mark.django_db

FRIDAY = MONDAY + timedelta(days=4)






def listed(client, user, word="list") -> dict:
    response = post_command(client, word, user_id=user)
    assert response.status_code == 200
    return response.json()


def click_as_seen(client, user, action_id, posted):
    """Press a button on the request message as the approver's Slack client showed it when it was
    posted: Slack's payload carries that message (text and blocks) as the client had it."""
    ts = posted.response["ts"]
    channel = posted.response["channel"]
    buttons = [b for b in posted.params["blocks"] if b.get("type") == "actions"][0]["elements"]
    value = next(b["value"] for b in buttons if b["action_id"] == action_id)
    message = {"type": "message", "ts": ts, "text": posted.params["text"], "blocks": posted.params["blocks"],
               "bot_id": "B_TIMEOFF"}
    payload = block_actions_payload(user_id=user, action_id=action_id, value=value, channel_id=channel,
                                    message_ts=ts, block_id=ids.DECISION_BLOCK, message=message)
    return post_interaction(client, payload)


def reject_with(client, fake_slack, user, posted, reason):
    click(client, fake_slack, user, ids.REJECT_ACTION, posted)
    modal = fake_slack.last_call("views.open").params["view"]
    values = {ids.REASON_BLOCK: {ids.REASON_ACTION: {"type": "plain_text_input", "value": reason}}}
    return post_interaction(client, view_submission_payload(user_id=user, view=modal, values=values,
                                                            view_id="V_REJ"))


def second_request(client, fake_slack, user, start, end, view_id="V_REQ2"):
    """Another request, from a form of its own (each form its own view id: the same view sent twice is
    one request)."""
    view = open_request_form(client, fake_slack, user)
    response = submit_request(client, user, view, request_values("vacation", start, end), view_id=view_id,
                              view_hash=f"h-{view_id}")
    assert response.status_code == 200 and response.content == b"", response.content
    return response


def metadata_of(call) -> dict:
    metadata = call.params["metadata"]
    return (json.loads(metadata) if isinstance(metadata, str) else metadata)["event_payload"]


# --- Stale buttons --------------------------------------------------------------------------------


def test_approving_a_request_edited_a_moment_before_does_not_approve_dates_the_approver_never_saw(
        client, fake_slack):
    """Bob's client still shows Mon–Wed when he clicks Approve; Alice has just changed it to Mon–Fri.
    Bob approved three days, not five: the app must not record an approval of Mon–Fri in his name
    (tell him the request changed and let him look again)."""
    install_config()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    # Alice edits it from her list to Mon–Fri.
    press(client, ALICE, listed(client, ALICE)["blocks"], ids.EDIT_ACTION)
    form = fake_slack.last_call("views.open").params["view"]
    post_interaction(client, view_submission_payload(user_id=ALICE, view=form,
                                                     values=request_values("vacation", MONDAY, FRIDAY),
                                                     view_id="V_EDIT"))
    assert request_status(fake_slack)["end"] == FRIDAY.isoformat()
    edited = [c for c in fake_slack.calls("chat.update") if c.params["ts"] == posted.response["ts"]][-1]
    fake_slack.clear_calls()

    click_as_seen(client, BOB, ids.APPROVE_ACTION, posted)  # the message as Bob's client still had it

    payload = request_status(fake_slack)
    assert payload["status"] == "pending" and payload["end"] == FRIDAY.isoformat()
    [told] = ephemerals_to(fake_slack, BOB)
    assert "changed after you saw it" in told and "Nothing was approved" in told
    assert dms_to(fake_slack, ALICE) == []

    click(client, fake_slack, BOB, ids.APPROVE_ACTION, edited)  # the message as the edit redrew it

    now = request_status(fake_slack)
    assert (now["status"], now["end"]) == ("approved", FRIDAY.isoformat())


def test_approving_a_request_withdrawn_a_moment_before_changes_nothing_and_says_so(client, fake_slack):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    press(client, ALICE, listed(client, ALICE)["blocks"], ids.WITHDRAW_ACTION)
    assert request_status(fake_slack)["status"] == "cancelled"
    fake_slack.clear_calls()

    click_as_seen(client, BOB, ids.APPROVE_ACTION, posted)

    assert request_status(fake_slack)["status"] == "cancelled"
    assert channel_updates(fake_slack) == []
    assert dms_to(fake_slack, ALICE) == []
    assert [c for c in fake_slack.calls("chat.postMessage") if c.params["channel"] == C_ENG] == []
    [told] = ephemerals_to(fake_slack, BOB)
    assert "cancelled" in told or "withdrawn" in told


def test_a_reason_sent_after_the_request_was_withdrawn_rejects_nothing(client, fake_slack):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    click(client, fake_slack, BOB, ids.REJECT_ACTION, posted)
    modal = fake_slack.last_call("views.open").params["view"]
    press(client, ALICE, listed(client, ALICE)["blocks"], ids.WITHDRAW_ACTION)  # while Bob types
    fake_slack.clear_calls()

    values = {ids.REASON_BLOCK: {ids.REASON_ACTION: {"type": "plain_text_input", "value": "No"}}}
    response = post_interaction(client, view_submission_payload(user_id=BOB, view=modal, values=values,
                                                                view_id="V_REJ"))
    assert response.status_code == 200

    assert request_status(fake_slack)["status"] == "cancelled"
    assert channel_updates(fake_slack) == []
    assert not any("rejected your" in dm for dm in dms_to(fake_slack, ALICE))
    assert any("cancelled" in t for t in ephemerals_to(fake_slack, BOB))


def test_approving_after_the_request_was_approved_and_cancelled_does_not_reapprove(client, fake_slack):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted)
    press(client, ALICE, listed(client, ALICE)["blocks"], ids.CANCEL_ACTION)
    assert request_status(fake_slack)["status"] == "cancelled"
    fake_slack.clear_calls()

    click_as_seen(client, DAVE, ids.APPROVE_ACTION, posted)
    click_as_seen(client, BOB, ids.APPROVE_ACTION, posted)  # Bob's own earlier decision, clicked again

    assert request_status(fake_slack)["status"] == "cancelled"
    assert channel_updates(fake_slack) == []
    assert [c for c in fake_slack.calls("chat.postMessage") if c.params["channel"] in (C_ENG, ALICE)] == []


# --- The approvers channel changes between the post and the click -----------------------------------


def membership_event(kind, user, channel, event_id):
    return event_envelope({"type": kind, "user": user, "channel": channel, "channel_type": "G",
                           "team": "T_ACME", "event_ts": "1766000000.000500"}, event_id=event_id)


def test_someone_who_left_the_approvers_channel_can_no_longer_approve(client, fake_slack):
    install_config()
    request_time_off(client, fake_slack, ALICE)  # Dave (in #eng-leads) is asked
    [posted] = posted_requests(fake_slack)
    assert f"<@{DAVE}>" in posted.params["text"]
    with fake_slack.workspace.lock:
        fake_slack.workspace.channels[C_ENG_LEADS].members.discard(DAVE)
    post_event(client, membership_event("member_left_channel", DAVE, C_ENG_LEADS, "Ev_LEFT1"))
    fake_slack.clear_calls()

    click(client, fake_slack, DAVE, ids.APPROVE_ACTION, posted)

    assert request_status(fake_slack)["status"] == "pending"
    assert "not an approver for Engineering" in ephemerals_to(fake_slack, DAVE)[0]


def test_someone_who_joined_the_approvers_channel_after_the_post_may_approve(client, fake_slack):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    newcomer = "U_ERIN"
    fake_slack.workspace.add_user(newcomer, "erin", real_name="Erin Eve")
    with fake_slack.workspace.lock:
        fake_slack.workspace.channels[C_ENG_LEADS].members.add(newcomer)
    post_event(client, membership_event("member_joined_channel", newcomer, C_ENG_LEADS, "Ev_JOIN1"))
    fake_slack.clear_calls()

    click(client, fake_slack, newcomer, ids.APPROVE_ACTION, posted)

    payload = request_status(fake_slack)
    assert (payload["status"], payload["decided_by"]) == ("approved", newcomer)


def test_someone_who_left_the_approvers_channel_cannot_reject_either(client, fake_slack):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    with fake_slack.workspace.lock:
        fake_slack.workspace.channels[C_ENG_LEADS].members.discard(DAVE)
    post_event(client, membership_event("member_left_channel", DAVE, C_ENG_LEADS, "Ev_LEFT2"))
    fake_slack.clear_calls()

    click(client, fake_slack, DAVE, ids.REJECT_ACTION, posted)
    modal = fake_slack.last_call("views.open")
    if modal is not None:  # a modal opened from a cold cache: its submission must still be refused
        values = {ids.REASON_BLOCK: {ids.REASON_ACTION: {"type": "plain_text_input", "value": "no"}}}
        post_interaction(client, view_submission_payload(user_id=DAVE, view=modal.params["view"], values=values))
    assert request_status(fake_slack)["status"] == "pending"
    assert any("not an approver for Engineering" in t for t in ephemerals_to(fake_slack, DAVE))


# --- The reason, escaped -------------------------------------------------------------------------


def test_a_hostile_reason_reaches_the_thread_and_dm_escaped_and_the_metadata_as_typed(client, fake_slack):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    fake_slack.clear_calls()
    reason = "<!channel> <@U123> <http://x|y> &amp; R&D"

    reject_with(client, fake_slack, BOB, posted, reason)

    payload = request_status(fake_slack)
    assert payload["status"] == "rejected" and payload["reason"] == reason  # data, not mrkdwn
    escaped = "&lt;!channel&gt; &lt;@U123&gt; &lt;http://x|y&gt; &amp;amp; R&amp;D"
    [thread] = [c for c in fake_slack.calls("chat.postMessage") if c.params.get("thread_ts")]
    [dm] = [t for t in dms_to(fake_slack, ALICE) if "rejected your" in t]
    receipt_updates = [c for c in fake_slack.calls("chat.update") if str(c.params.get("channel")).startswith("D")]
    for text in [thread.params["text"], dm, json.dumps(thread.params.get("blocks") or [])]:
        for raw in ("<!channel>", "<@U123>", "<http://x|y>"):
            assert raw not in text, text
    assert escaped in thread.params["text"] or escaped in json.dumps(thread.params.get("blocks") or []), \
        thread.params["text"]
    assert escaped in dm, dm
    for update in receipt_updates + channel_updates(fake_slack):
        body = json.dumps([update.params.get("text"), update.params.get("blocks")])
        for raw in ("<!channel>", "<@U123>", "<http://x|y>"):
            assert raw not in body


# --- max_out at approval --------------------------------------------------------------------------


def test_max_out_lowered_after_both_were_posted_is_checked_at_approval(client, fake_slack):
    """Both requests were accepted while the team allowed two out; HR lowers max_out to 1; the second
    approval must be refused, as the README says capacity is re-checked at approval."""
    install_config(standard_config(teams=(replace(ENGINEERING, max_out=2),)))
    request_time_off(client, fake_slack, ALICE)
    second_request(client, fake_slack, DAVE, WEDNESDAY, FRIDAY)
    first, second = posted_requests(fake_slack)
    install_config(standard_config(teams=(replace(ENGINEERING, max_out=1),)))

    click(client, fake_slack, BOB, ids.APPROVE_ACTION, first)
    fake_slack.clear_calls()
    click(client, fake_slack, BOB, ids.APPROVE_ACTION, second)

    statuses = {m.metadata["event_payload"]["user"]: m.metadata["event_payload"]["status"]
                for m in ledger_messages(fake_slack) if m.metadata["event_type"] == "timeoff_request"}
    assert statuses == {ALICE: "approved", DAVE: "pending"}
    [told] = ephemerals_to(fake_slack, BOB)
    assert "can't approve" in told
    assert dms_to(fake_slack, DAVE) == []


def test_rejecting_is_never_blocked_by_max_out(client, fake_slack):
    install_config(standard_config(teams=(replace(ENGINEERING, max_out=2),)))
    request_time_off(client, fake_slack, ALICE)
    second_request(client, fake_slack, DAVE, WEDNESDAY, FRIDAY)
    first, second = posted_requests(fake_slack)
    install_config(standard_config(teams=(replace(ENGINEERING, max_out=1),)))
    click(client, fake_slack, BOB, ids.APPROVE_ACTION, first)

    reject_with(client, fake_slack, BOB, second, "Team is full")

    statuses = {m.metadata["event_payload"]["user"]: m.metadata["event_payload"]["status"]
                for m in ledger_messages(fake_slack) if m.metadata["event_type"] == "timeoff_request"}
    assert statuses[DAVE] == "rejected"


def test_hr_recording_leave_on_a_full_team_is_refused_with_why(client, fake_slack):
    install_config(standard_config(teams=(replace(ENGINEERING, max_out=1),)))
    request_time_off(client, fake_slack, ALICE)
    post_command(client, f"for <@{DAVE}|dave> {MONDAY} {WEDNESDAY} vacation", user_id=HR)
    form = fake_slack.last_call("views.open").params["view"]
    response = post_interaction(client, view_submission_payload(
        user_id=HR, view=form, values=request_values("vacation", MONDAY, WEDNESDAY), view_id="V_FOR"))
    assert response.json()["response_action"] == "errors"
    assert "full for Engineering" in json.dumps(response.json())
    assert not [m for m in ledger_messages(fake_slack) if m.metadata["event_payload"].get("user") == DAVE]


# --- Nobody approves their own leave ----------------------------------------------------------------


def hr_in_engineering():
    """Hannah (HR, the fallback approver) is also a member of Engineering."""
    return standard_config(teams=(replace(ENGINEERING, members=MemberSource(users=(HR,), channel=C_ENG)),))


def own_ledger_entries(fake_slack, user) -> list[dict]:
    return [m.metadata["event_payload"] for m in ledger_messages(fake_slack)
            if m.metadata["event_payload"].get("user") == user]


def test_hr_cannot_record_their_own_leave_from_slack(client, fake_slack):
    install_config(hr_in_engineering())

    response = post_command(client, f"for <@{HR}|hannah> {MONDAY} {WEDNESDAY} vacation", user_id=HR)

    assert response.json()["text"] == messages.own_leave_not_recorded_text()
    assert fake_slack.calls("views.open") == []


def test_a_record_form_sent_for_oneself_is_refused(client, fake_slack):
    # A Record form opened for someone else, its private_metadata changed to name the sender (a forged
    # payload, or a form of an earlier release): refused in the form, nothing recorded.
    install_config(hr_in_engineering())
    post_command(client, f"for <@{ALICE}|alice> {MONDAY} {WEDNESDAY} vacation", user_id=HR)
    form = {**fake_slack.last_call("views.open").params["view"], "private_metadata": json.dumps({"for": HR})}

    response = post_interaction(client, view_submission_payload(
        user_id=HR, view=form, values=request_values("vacation", MONDAY, WEDNESDAY), view_id="V_SELF"))

    assert response.json()["response_action"] == "errors"
    assert messages.own_leave_not_recorded_text() in json.dumps(response.json()["errors"])
    assert own_ledger_entries(fake_slack, HR) == []


def test_hr_cannot_approve_their_own_request_from_app_home_or_the_channel(client, fake_slack):
    install_config(hr_in_engineering())
    request_time_off(client, fake_slack, HR)

    home = open_app_home(client, fake_slack, HR, "Ev_SELF1")
    [posted] = posted_requests(fake_slack)
    click(client, fake_slack, HR, ids.APPROVE_ACTION, posted)

    assert ids.APPROVE_ACTION not in buttons_in(home["blocks"])
    assert request_status(fake_slack)["status"] == "pending"


def test_hr_recording_their_own_leave_in_the_console_is_refused(client, fake_slack, django_user_model):
    install_config(hr_in_engineering())
    hannah = django_user_model.objects.create_user("hannah", "hannah@example.com", "a-long-test-password",
                                                   is_staff=True)
    hannah.user_permissions.add(Permission.objects.get(codename="record_leave_for_others"))
    client.force_login(hannah)

    response = client.post("/console/leave/record", {"person": "hannah@example.com", "leave_type": "vacation",
                                                     "start": MONDAY.isoformat(), "end": WEDNESDAY.isoformat(),
                                                     "note": ""})

    assert response.status_code == 200
    assert "nobody approves their own" in response.content.decode()
    assert own_ledger_entries(fake_slack, HR) == []


def test_hr_cannot_edit_their_own_approved_leave_through_for_list(client, fake_slack):
    """HR's own pending request, edited via `/timeoff for @self list`, must not become approved."""
    install_config(hr_in_engineering())
    request_time_off(client, fake_slack, HR)
    body = listed(client, HR, f"for <@{HR}> list")
    assert ids.EDIT_ACTION in buttons_in(body.get("blocks") or [])
    press(client, HR, body["blocks"], ids.EDIT_ACTION)
    form = fake_slack.last_call("views.open").params["view"]
    post_interaction(client, view_submission_payload(user_id=HR, view=form,
                                                     values=request_values("vacation", MONDAY, FRIDAY),
                                                     view_id="V_SELFEDIT"))
    assert request_status(fake_slack)["status"] == "pending"


# --- Decisions while Slack fails for a moment ------------------------------------------------------


def thread_replies(fake_slack):
    return [c for c in fake_slack.calls("chat.postMessage") if c.params.get("thread_ts") and c.response.get("ok")]


def test_an_approval_whose_write_answer_was_lost_once_is_applied_and_told_once(client, fake_slack, no_backoff):
    from test_support.slack_faults import answers_lost

    install_config()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    fake_slack.clear_calls()
    with answers_lost(fake_slack, "chat.update", then_unreadable=False):
        click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted)

    payload = request_status(fake_slack)
    assert (payload["status"], payload["decided_by"]) == ("approved", BOB)
    assert len(thread_replies(fake_slack)) == 1
    assert len([t for t in dms_to(fake_slack, ALICE) if "approved your" in t]) == 1
    assert len([c for c in fake_slack.calls("chat.postMessage") if c.params["channel"] == C_ENG
                and c.response.get("ok")]) == 1
    told = ephemerals_to(fake_slack, BOB)
    assert not any("couldn't" in t or "could not" in t or "unchanged" in t or "try again" in t for t in told), told


def test_a_rejection_whose_reread_fails_for_a_moment_is_applied_once(client, fake_slack, no_backoff):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    click(client, fake_slack, BOB, ids.REJECT_ACTION, posted)
    modal = fake_slack.last_call("views.open").params["view"]
    fake_slack.clear_calls()
    fake_slack.server_error("conversations.history", status=503, times=2)
    values = {ids.REASON_BLOCK: {ids.REASON_ACTION: {"type": "plain_text_input", "value": "Release week"}}}
    post_interaction(client, view_submission_payload(user_id=BOB, view=modal, values=values, view_id="V_REJ"))

    payload = request_status(fake_slack)
    assert (payload["status"], payload["reason"]) == ("rejected", "Release week")
    assert len(thread_replies(fake_slack)) == 1
    assert len([t for t in dms_to(fake_slack, ALICE) if "rejected your" in t]) == 1
    assert not any("couldn't" in t or "unchanged" in t for t in ephemerals_to(fake_slack, BOB))


def test_an_approval_slack_refuses_for_good_is_not_told_as_done(client, fake_slack, no_backoff):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    fake_slack.clear_calls()
    fake_slack.fail("chat.update", "cant_update_message", times=None)

    click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted)

    assert request_status(fake_slack)["status"] == "pending"
    assert not any("approved" in t for t in dms_to(fake_slack, ALICE))
    assert [c for c in fake_slack.calls("chat.postMessage") if c.params["channel"] == C_ENG] == []
    assert thread_replies(fake_slack) == []
    told = ephemerals_to(fake_slack, BOB)
    assert told and any("approval" in t for t in told), told


def test_an_approval_retried_after_a_rate_limit_on_the_lookups_is_applied_once(client, fake_slack, no_sleeping):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    from django.core.cache import cache
    cache.clear()  # cold memberships: the click's task asks Slack who may decide
    fake_slack.rate_limit("conversations.members", times=5)
    fake_slack.clear_calls()

    click(client, fake_slack, DAVE, ids.APPROVE_ACTION, posted)

    payload = request_status(fake_slack)
    assert (payload["status"], payload["decided_by"]) == ("approved", DAVE)
    assert not any("not an approver" in t for t in ephemerals_to(fake_slack, DAVE))
    assert len(thread_replies(fake_slack)) == 1


# --- Nudges ----------------------------------------------------------------------------------------


def nudge_moment(after_hours: float) -> datetime:
    """A working weekday at 20:00 UTC (noon in Los Angeles) at least `after_hours` from now."""
    moment = datetime.now(dt_timezone.utc) + timedelta(hours=after_hours)
    moment = moment.replace(hour=20, minute=0, second=0, microsecond=0) + timedelta(days=1)
    while moment.weekday() >= 5 or (moment.month, moment.day) in ((12, 24), (12, 25), (12, 31), (1, 1)):
        moment += timedelta(days=1)
    return moment


def nudge_config():
    return standard_config(teams=(replace(ENGINEERING, nudge_after_hours=24),))


def test_approvers_are_nudged_once_after_nudge_after_hours(client, fake_slack):
    from test_support.job_runs import run_jobs

    install_config(nudge_config())
    request_time_off(client, fake_slack, ALICE)
    fake_slack.clear_calls()
    moment = nudge_moment(30)

    run_jobs(moment, "--team", "Engineering")
    run_jobs(moment + timedelta(hours=1), "--team", "Engineering")

    for approver in (BOB, DAVE):
        nudges = [t for t in dms_to(fake_slack, approver) if f"<@{ALICE}>" in t]
        assert len(nudges) == 1, (approver, dms_to(fake_slack, approver))
    assert not [t for t in dms_to(fake_slack, ALICE) if "waiting" in t]
    assert not dms_to(fake_slack, HR)


def test_nobody_is_nudged_about_their_own_request_nor_before_the_hours(client, fake_slack):
    from test_support.job_runs import run_jobs

    install_config(nudge_config())
    request_time_off(client, fake_slack, BOB)
    fake_slack.clear_calls()

    run_jobs(datetime.now(dt_timezone.utc) + timedelta(hours=2), "--team", "Engineering")
    assert dms_to(fake_slack, DAVE) == [] and dms_to(fake_slack, BOB) == []

    run_jobs(nudge_moment(30), "--team", "Engineering")
    assert [t for t in dms_to(fake_slack, DAVE) if f"<@{BOB}>" in t]
    assert dms_to(fake_slack, BOB) == []


def test_a_decided_or_withdrawn_request_is_not_nudged(client, fake_slack):
    from test_support.job_runs import run_jobs

    install_config(nudge_config())
    request_time_off(client, fake_slack, ALICE)
    second_request(client, fake_slack, DAVE, MONDAY + timedelta(days=14), MONDAY + timedelta(days=15))
    alices, daves = posted_requests(fake_slack)
    click(client, fake_slack, BOB, ids.APPROVE_ACTION, alices)
    press(client, DAVE, listed(client, DAVE)["blocks"], ids.WITHDRAW_ACTION)
    fake_slack.clear_calls()

    run_jobs(nudge_moment(30), "--team", "Engineering")

    assert dms_to(fake_slack, BOB) == [] and dms_to(fake_slack, DAVE) == []


def test_hr_is_nudged_for_a_request_only_they_can_decide(client, fake_slack):
    from test_support.job_runs import run_jobs

    solo = replace(ENGINEERING, approvers=ApproverSource(users=(BOB,)), nudge_after_hours=24)
    install_config(standard_config(teams=(solo,)))
    request_time_off(client, fake_slack, BOB)
    fake_slack.clear_calls()

    run_jobs(nudge_moment(30), "--team", "Engineering")

    assert [t for t in dms_to(fake_slack, HR) if f"<@{BOB}>" in t]
    assert dms_to(fake_slack, BOB) == []


# --- App Home for approvers ------------------------------------------------------------------------


def test_approve_on_an_app_home_drawn_before_an_edit_approves_nothing_and_says_so_by_dm(client, fake_slack):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    home = open_app_home(client, fake_slack, BOB, "Ev_STALE1")  # Mon–Wed
    block_id, value = buttons_in(home["blocks"])[ids.APPROVE_ACTION]
    press(client, ALICE, listed(client, ALICE)["blocks"], ids.EDIT_ACTION)
    form = fake_slack.last_call("views.open").params["view"]
    post_interaction(client, view_submission_payload(user_id=ALICE, view=form,
                                                     values=request_values("vacation", MONDAY, FRIDAY),
                                                     view_id="V_EDIT_HOME"))
    fake_slack.clear_calls()

    post_interaction(client, view_block_actions_payload(user_id=BOB, action_id=ids.APPROVE_ACTION, value=value,
                                                        block_id=block_id, view=home))

    assert request_status(fake_slack)["status"] == "pending"
    assert [t for t in dms_to(fake_slack, BOB) if "changed after you saw it" in t]


def test_an_approver_rejects_from_app_home_with_a_reason_and_is_answered_by_dm(client, fake_slack):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    home = open_app_home(client, fake_slack, BOB, "Ev_HR1")
    block_id, value = buttons_in(home["blocks"])[ids.REJECT_ACTION]
    fake_slack.clear_calls()

    post_interaction(client, view_block_actions_payload(user_id=BOB, action_id=ids.REJECT_ACTION, value=value,
                                                        block_id=block_id, view=home))
    modal = fake_slack.last_call("views.open").params["view"]
    values = {ids.REASON_BLOCK: {ids.REASON_ACTION: {"type": "plain_text_input", "value": "Busy week"}}}
    response = post_interaction(client, view_submission_payload(user_id=BOB, view=modal, values=values,
                                                                view_id="V_REJH"))
    assert response.status_code == 200

    payload = request_status(fake_slack)
    assert (payload["status"], payload["decided_by"], payload["reason"]) == ("rejected", BOB, "Busy week")
    assert len(thread_replies(fake_slack)) == 1
    assert any("rejected your" in dm and "Busy week" in dm for dm in dms_to(fake_slack, ALICE))


def test_a_second_approver_on_app_home_after_the_first_decided_is_told_who(client, fake_slack):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    daves_home = open_app_home(client, fake_slack, DAVE, "Ev_HR2")
    [posted] = posted_requests(fake_slack)
    click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted)
    fake_slack.clear_calls()

    block_id, value = buttons_in(daves_home["blocks"])[ids.REJECT_ACTION]
    post_interaction(client, view_block_actions_payload(user_id=DAVE, action_id=ids.REJECT_ACTION, value=value,
                                                        block_id=block_id, view=daves_home))
    assert request_status(fake_slack)["status"] == "approved"
    assert fake_slack.calls("views.open") == []
    assert any(f"already approved by <@{BOB}>" in t for t in dms_to(fake_slack, DAVE) + ephemerals_to(
        fake_slack, DAVE))


def platform_sharing_the_approvals_channel(lead="U_PLATLEAD"):
    from approvals.config_types import TeamConfig

    return TeamConfig(name="Platform", members=MemberSource(users=(CAROL,)), approvers=ApproverSource(users=(lead,)),
                      approvals_channel=C_ENG_APPROVALS, timezone="America/Los_Angeles")


def test_a_removed_teams_request_in_a_shared_channel_is_hrs_to_decide(client, fake_slack):
    """README: HR decides 'the requests still pending of a team removed from the configuration (anyone
    else who clicks them is told to ask HR)'. Engineering shares #eng-approvals with Platform; HR removes
    Engineering. Alice's pending request is HR's, not Platform's approvers'."""
    lead = "U_PLATLEAD"
    fake_slack.workspace.add_user(lead, "pat", real_name="Pat Lead")
    install_config(standard_config(teams=(ENGINEERING, platform_sharing_the_approvals_channel(lead))))
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    install_config(standard_config(teams=(platform_sharing_the_approvals_channel(lead),)))
    fake_slack.clear_calls()

    click(client, fake_slack, lead, ids.APPROVE_ACTION, posted)  # Platform's lead: not theirs to decide
    after_lead = request_status(fake_slack)["status"]
    click(client, fake_slack, HR, ids.APPROVE_ACTION, posted)  # HR: theirs
    final = request_status(fake_slack)

    assert after_lead == "pending", "Platform's approver decided a removed team's (Engineering's) request"
    assert (final["status"], final["decided_by"]) == ("approved", HR), ephemerals_to(fake_slack, HR)


def test_a_removed_teams_request_in_its_own_channel_is_hrs_to_decide(client, fake_slack):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    install_config(standard_config(teams=(replace(ENGINEERING, name="Sales", members=MemberSource(users=(CAROL,)),
                                                  approvals_channel="C_OLD_APPROVALS"),)))
    fake_slack.clear_calls()

    click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted)
    assert request_status(fake_slack)["status"] == "pending"
    click(client, fake_slack, HR, ids.APPROVE_ACTION, posted)
    final = request_status(fake_slack)
    assert (final["status"], final["decided_by"]) == ("approved", HR), ephemerals_to(fake_slack, HR)


def test_hr_app_home_shows_a_removed_teams_pending_request(client, fake_slack):
    from approvals.config_types import TeamConfig

    platform = TeamConfig(name="Platform", members=MemberSource(users=(CAROL,)),
                          approvers=ApproverSource(users=(BOB,)), approvals_channel=C_ENG_APPROVALS,
                          timezone="America/Los_Angeles")
    install_config(standard_config(teams=(ENGINEERING, platform)))
    request_time_off(client, fake_slack, ALICE)
    install_config(standard_config(teams=(platform,)))
    # HR may decide it (the test above); App Home should list it for them.

    home = open_app_home(client, fake_slack, HR, "Ev_HR3")

    assert ids.APPROVE_ACTION in buttons_in(home["blocks"]), json.dumps(home)[:2000]


# --- The console against a ledger with odd entries --------------------------------------------------

import csv  # noqa: E402
import io  # noqa: E402

from django.urls import reverse  # noqa: E402
from django.utils import timezone as dj_timezone  # noqa: E402

from approvals.rules import Adjustment, LedgerEntry  # noqa: E402
from fake_slack.ledger_seed import seed_ledger  # noqa: E402
from fake_slack.personas import C_OLD_APPROVALS  # noqa: E402
from fake_slack.workspace import Message  # noqa: E402
from approvals.ledger_format import adjustment_metadata, request_metadata  # noqa: E402

TODAY = dj_timezone.localdate()
NEXT_MONDAY = TODAY + timedelta(days=7 - TODAY.weekday())


def entry(entry_id, user, start, end, status="approved", leave_type="vacation", team="Engineering"):
    return LedgerEntry(id=entry_id, user=user, team=team, leave_type=leave_type, start=start, end=end,
                       start_half=None, end_half=None, days=Decimal((end - start).days + 1), status=status,
                       decided_by=BOB if status != "pending" else None)


@pytest.fixture
def hr_console(client, django_user_model, fake_slack):
    hannah = django_user_model.objects.create_user("hannah", "hannah@example.com", "a-long-test-password",
                                                   is_staff=True)
    for codename in ("record_adjustment", "view_leave_records", "record_leave_for_others"):
        hannah.user_permissions.add(Permission.objects.get(codename=codename))
    client.force_login(hannah)
    return client


@pytest.fixture
def odd_ledger(fake_slack):
    install_config(standard_config(teams=(replace(ENGINEERING, past_approvals_channels=(C_OLD_APPROVALS,)),)))
    workspace = fake_slack.workspace
    seed_ledger(workspace, channel=C_ENG_APPROVALS, entries=[
        entry("alice-approved", ALICE, NEXT_MONDAY, NEXT_MONDAY + timedelta(days=2)),
        entry("dave-cancelled", DAVE, NEXT_MONDAY, NEXT_MONDAY, status="cancelled"),
        entry("bob-rejected", BOB, NEXT_MONDAY + timedelta(days=1), NEXT_MONDAY + timedelta(days=1),
              status="rejected"),
    ], adjustments=[Adjustment(id="carry", user=ALICE, leave_type="vacation", days=Decimal(3),
                               year=NEXT_MONDAY.year, reason="carry-over", by="hannah")])
    seed_ledger(workspace, channel=C_OLD_APPROVALS, entries=[
        entry("dave-old-channel", DAVE, NEXT_MONDAY + timedelta(days=3), NEXT_MONDAY + timedelta(days=3))])
    # Another app's bot and a human post messages carrying our event types: never ledger entries.
    forged_bot = entry("forged-bot", BOB, NEXT_MONDAY + timedelta(days=2), NEXT_MONDAY + timedelta(days=4))
    with workspace.lock:
        workspace.insert_message(Message(C_ENG_APPROVALS, workspace.new_ts(), "forged", user="U_OTHERBOT",
                                         bot_id="B_OTHER", metadata=request_metadata(forged_bot)))
    workspace.post_message(C_ENG_APPROVALS, "me too", user=HR, metadata=request_metadata(
        entry("forged-human", HR, NEXT_MONDAY, NEXT_MONDAY + timedelta(days=4), team="Engineering")))
    workspace.post_message(C_ENG_APPROVALS, "free days", user=ALICE, metadata=adjustment_metadata(Adjustment(
        id="forged-adjustment", user=ALICE, leave_type="vacation", days=Decimal(100), year=NEXT_MONDAY.year,
        reason="gift", by="alice")))
    return workspace


def csv_rows(response) -> list[dict]:
    return list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))


def test_whos_out_ignores_cancelled_rejected_and_foreign_entries_and_reads_past_channels(hr_console, odd_ledger):
    page = hr_console.get(reverse("console:whos_out"), {"weeks": "2"}).text

    assert "Alice Adams" in page
    assert "Dave Diaz" in page  # his leave recorded in the team's earlier approvals channel
    assert "Bob Brown" not in page  # rejected, and another bot's message
    assert "Hannah Hill" not in page  # a human's message with our metadata


def test_waiting_for_a_decision_ignores_foreign_pending_entries(hr_console, fake_slack):
    install_config()
    fake_slack.workspace.post_message(C_ENG_APPROVALS, "pending?", user=ALICE, metadata=request_metadata(
        entry("forged-pending", ALICE, NEXT_MONDAY, NEXT_MONDAY, status="pending")))

    page = hr_console.get(reverse("console:whos_out")).text

    assert "Waiting for a decision (1)" not in page
    assert "Alice Adams" not in page


def test_the_ledger_csv_has_every_status_and_the_past_channel_but_nothing_foreign(hr_console, odd_ledger):
    response = hr_console.get(reverse("console:ledger_export"), {"download": "1", "year": NEXT_MONDAY.year})
    rows = csv_rows(response)
    by_id = {row["id"]: row for row in rows}

    assert {"alice-approved", "dave-cancelled", "bob-rejected", "dave-old-channel", "carry"} <= set(by_id)
    assert not {"forged-bot", "forged-human", "forged-adjustment"} & set(by_id)
    assert by_id["dave-cancelled"]["status"] == "cancelled" and by_id["bob-rejected"]["status"] == "rejected"
    assert by_id["dave-old-channel"]["channel"] == C_OLD_APPROVALS


def test_the_balances_count_only_our_adjustments_and_approved_leave(hr_console, odd_ledger):
    response = hr_console.get(reverse("console:balances"), {"team": "Engineering", "year": NEXT_MONDAY.year,
                                                            "download": "1"})
    rows = [r for r in csv_rows(response) if r["leave_type"] == "vacation"]
    alice = next(r for r in rows if r["user_id"] == ALICE)
    bob = next(r for r in rows if r["user_id"] == BOB)
    dave = next(r for r in rows if r["user_id"] == DAVE)

    assert Decimal(alice["adjustments"]) == 3
    assert Decimal(alice["taken"]) + Decimal(alice["pending"]) == 3  # Mon–Wed
    assert Decimal(bob["taken"]) == 0 and Decimal(bob["pending"]) == 0  # rejected and a forged entry
    assert Decimal(dave["taken"]) == 1  # the earlier channel's day; the cancelled one is not taken


# --- Console adjustments, seen in Slack -----------------------------------------------------------


def test_an_adjustment_made_in_the_console_shows_in_timeoff_balance(client, hr_console, fake_slack):
    from approvals.selectors import local_today

    install_config()
    year = local_today("America/Los_Angeles").year
    open_request_form(client, fake_slack, ALICE)  # warms her ledger and time zone
    hr_console.get(reverse("console:search"), {"q": "alice"})
    response = hr_console.post(reverse("console:adjust"), {
        "user": "alice@example.com", "leave_type": "vacation", "days": "2.5", "year": year,
        "reason": "carry-over"}, follow=True)
    assert response.status_code == 200 and "Recorded" in response.text

    answer = post_command(client, "balance", user_id=ALICE)
    text = answer.json()["text"] if answer.content else ""
    if not text:  # answered by DM a moment later on a cold cache
        text = dms_to(fake_slack, ALICE)[-1]
    assert "27.5" in text, text


def test_an_adjustment_made_in_the_console_shows_in_the_forms_preview(client, hr_console, fake_slack):
    install_config()
    open_request_form(client, fake_slack, ALICE)
    hr_console.get(reverse("console:search"), {"q": "alice"})
    response = hr_console.post(reverse("console:adjust"), {"user": "alice@example.com", "leave_type": "vacation",
                                                           "days": "-5", "year": 2027,
                                                           "reason": "correction"}, follow=True)
    assert "Recorded" in response.text, response.context["form"].errors if response.context.get("form") else ""
    adjustments = [m for m in fake_slack.workspace.messages(C_ENG_APPROVALS)
                   if m.metadata and m.metadata["event_type"] == "timeoff_adjustment"]
    assert len(adjustments) == 1
    fake_slack.clear_calls()

    view = open_request_form(client, fake_slack, ALICE, "2027-03-08 2027-03-10 vacation")

    preview = json.dumps(view["blocks"])
    assert "17" in preview, preview  # 25 − 5 − 3 days = 17 left after this request


# --- More of HR on behalf --------------------------------------------------------------------------


def test_hr_who_is_the_teams_only_approver_and_the_only_fallback_cannot_approve_their_own_request(
        client, fake_slack):
    team = replace(ENGINEERING, members=MemberSource(users=(HR,), channel=C_ENG), approvers=ApproverSource(users=(HR,)))
    install_config(standard_config(teams=(team,)))
    request_time_off(client, fake_slack, HR)
    # README: a request nobody at all could approve is not posted; the requester is told why by DM.
    assert posted_requests(fake_slack) == []
    assert dms_to(fake_slack, HR)


def test_hr_cancels_someones_approved_leave_and_approvers_team_and_person_are_told(client, fake_slack):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted)
    fake_slack.clear_calls()

    body = listed(client, HR, f"for <@{ALICE}> list")
    press(client, HR, body["blocks"], ids.CANCEL_ACTION)

    payload = request_status(fake_slack)
    assert (payload["status"], payload["decided_by"]) == ("cancelled", HR)
    assert len(thread_replies(fake_slack)) == 1
    assert [c for c in fake_slack.calls("chat.postMessage") if c.params["channel"] == C_ENG]  # the correction
    assert any(f"<@{HR}>" in dm for dm in dms_to(fake_slack, ALICE))


def test_leave_hr_recorded_in_the_console_can_be_cancelled_by_hr_from_slack(client, hr_console, fake_slack):
    install_config()
    hr_console.post("/console/leave/record", {"person": "alice@example.com", "leave_type": "vacation",
                                              "start": MONDAY.isoformat(), "end": WEDNESDAY.isoformat(),
                                              "note": ""})
    assert request_status(fake_slack)["status"] == "approved"
    fake_slack.clear_calls()

    press(client, HR, listed(client, HR, f"for <@{ALICE}> list")["blocks"], ids.CANCEL_ACTION)

    assert request_status(fake_slack)["status"] == "cancelled"


def test_a_second_approve_click_while_the_first_is_written_decides_once(client, fake_slack):
    """Bob double-clicks; Dave clicks too. One decision, one thread reply, one DM, one announcement."""
    install_config()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    fake_slack.clear_calls()
    for user in (BOB, BOB, DAVE):
        click(client, fake_slack, user, ids.APPROVE_ACTION, posted)
    assert request_status(fake_slack)["decided_by"] == BOB
    assert len(channel_updates(fake_slack)) == 1
    assert len(thread_replies(fake_slack)) == 1
    assert len([t for t in dms_to(fake_slack, ALICE) if "approved your" in t]) == 1
    assert len([c for c in fake_slack.calls("chat.postMessage") if c.params["channel"] == C_ENG]) == 1
