"""A month in which approvers are away, and the requests that wait on them.

Bob approves for Engineering. He asks for two weeks' vacation: nobody approves their own leave, so
Hannah (HR, the fallback approver) decides it. While he is away, Alice and Dave ask for leave; the
approvals message, the receipts, the nudges after `nudge_after_hours` and HR's App Home are read off
the fake Slack's wire. With a second approver (Dave, through #eng-leads) the other decides, and both
may click at once. An approver asks for leave over requests they must decide, decides while on leave,
comes back to decide leave already taken, leaves the approvers channel, or has their account
deactivated while requests wait; HR steps in only where README says the fallback approvers decide.
"""

import json
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone as dt_timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import holidays
import pytest

from approvals import block_ids as ids
from approvals.config_types import ApproverSource
from approvals.rules import LedgerEntry
from fake_slack.personas import C_ENG, C_ENG_LEADS
from test_support.flows import (
    ALICE,
    BOB,
    DAVE,
    ENGINEERING,
    HR,
    MONDAY,
    buttons_in,
    channel_updates,
    click,
    dms_to,
    ephemerals_to,
    install_config,
    ledger_messages,
    open_app_home,
    open_request_form,
    posted_requests,
    request_values,
    standard_config,
    submit_request,
)
from test_support.job_runs import post_entry, run_jobs
from test_support.slack_requests import (
    event_envelope,
    post_event,
    post_interaction,
    view_block_actions_payload,
    view_submission_payload,
)

pytestmark = pytest.mark.django_db

LA = ZoneInfo("America/Los_Angeles")
CA_HOLIDAYS = holidays.country_holidays("US", subdiv="CA", years=range(2018, 2040))

# Bob's two weeks (2031): Mon 10 Mar – Fri 21 Mar. The team's requests fall inside them.
BOBS_FIRST_DAY = MONDAY
BOBS_LAST_DAY = MONDAY + timedelta(days=11)
AWAY_MONDAY = MONDAY + timedelta(days=7)
AWAY_WEDNESDAY = MONDAY + timedelta(days=9)

BOB_ALONE = replace(ENGINEERING, approvers=ApproverSource(users=(BOB,)), nudge_after_hours=24)
BOB_AND_DAVE = replace(ENGINEERING, nudge_after_hours=24)  # Bob by name, Dave through #eng-leads
BOB_THROUGH_THE_CHANNEL = replace(ENGINEERING, approvers=ApproverSource(channel=C_ENG_LEADS), nudge_after_hours=24)


# --- Steps -------------------------------------------------------------------------------------------


def mention(user: str) -> str:
    return f"<@{user}>"


def status_of(fake_slack, posted) -> dict:
    channel, ts = posted.response["channel"], posted.response["ts"]
    [message] = [m for m in fake_slack.workspace.messages(channel) if m.ts == ts]
    return message.metadata["event_payload"]


def ask(client, fake_slack, user, start, end, view_id, leave_type="vacation"):
    """`user` sends the request form for these dates; returns the request's message as posted."""
    before = len(posted_requests(fake_slack))
    view = open_request_form(client, fake_slack, user)
    response = submit_request(client, user, view, request_values(leave_type, start, end), view_id=view_id,
                              view_hash=f"h-{view_id}")
    assert response.status_code == 200 and response.content == b"", response.content
    posted = posted_requests(fake_slack)
    assert len(posted) == before + 1, dms_to(fake_slack, user)
    return posted[-1]


def bob_goes_on_vacation(client, fake_slack, start=BOBS_FIRST_DAY, end=BOBS_LAST_DAY):
    """Bob asks for his two weeks and Hannah approves them; returns his request's message."""
    posted = ask(client, fake_slack, BOB, start, end, "V_BOB")
    click(client, fake_slack, HR, ids.APPROVE_ACTION, posted)
    assert status_of(fake_slack, posted)["status"] == "approved", dms_to(fake_slack, HR) + ephemerals_to(fake_slack, HR)
    return posted


def told(fake_slack, user) -> list[str]:
    return ephemerals_to(fake_slack, user) + dms_to(fake_slack, user)


def waiting_on_home(client, fake_slack, user, event_id) -> tuple[dict, str]:
    """`user`'s App Home and the text of its "Waiting for your decision" part ("" when there is none)."""
    home = open_app_home(client, fake_slack, user, event_id)
    text = json.dumps(home["blocks"])
    start = text.find("Waiting for your decision")
    return home, (text[start:] if start >= 0 else "")


def home_press(client, user, home, action_id):
    block_id, value = buttons_in(home["blocks"])[action_id]
    return post_interaction(client, view_block_actions_payload(user_id=user, action_id=action_id, value=value,
                                                               block_id=block_id, view=home))


def deactivate(client, fake_slack, user, event_id):
    with fake_slack.workspace.lock:
        fake_slack.workspace.users[user].deleted = True
    post_event(client, event_envelope({"type": "user_change", "user": {"id": user, "deleted": True}},
                                      event_id=event_id))


def leave_channel(client, fake_slack, user, channel, event_id):
    with fake_slack.workspace.lock:
        fake_slack.workspace.channels[channel].members.discard(user)
    post_event(client, event_envelope({"type": "member_left_channel", "user": user, "channel": channel,
                                       "channel_type": "G", "team": "T_ACME", "event_ts": "1766000000.000500"},
                                      event_id=event_id))


def nudge_moment(after_hours: float) -> datetime:
    """A working weekday at 20:00 UTC (noon in Los Angeles) at least `after_hours` from now."""
    moment = datetime.now(dt_timezone.utc) + timedelta(hours=after_hours)
    moment = moment.replace(hour=20, minute=0, second=0, microsecond=0) + timedelta(days=1)
    while moment.weekday() >= 5 or moment.astimezone(LA).date() in CA_HOLIDAYS:
        moment += timedelta(days=1)
    return moment


def nudges_to(fake_slack, user) -> list[str]:
    return [t for t in dms_to(fake_slack, user) if "waiting for a decision" in t]


def working_day_back(days: int) -> date:
    """A Tuesday, Wednesday or Thursday at least `days` before Los Angeles' today, not a public holiday."""
    day = datetime.now(LA).date() - timedelta(days=days)
    while day.weekday() not in (1, 2, 3) or day in CA_HOLIDAYS:
        day -= timedelta(days=1)
    return day


# --- Bob's own vacation ------------------------------------------------------------------------------


def test_bobs_own_vacation_is_put_to_hr_who_approves_it_and_the_team_hears(client, fake_slack):
    install_config(standard_config(teams=(BOB_ALONE,)))

    posted = ask(client, fake_slack, BOB, BOBS_FIRST_DAY, BOBS_LAST_DAY, "V_BOB")

    assert mention(HR) in posted.params["text"] and mention(BOB) in posted.params["text"]
    assert posted.params["text"].count(mention(BOB)) == 1  # named as the requester, not called on to decide
    [receipt] = [t for t in dms_to(fake_slack, BOB) if "is with" in t]
    assert mention(HR) in receipt, receipt
    click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted)
    assert status_of(fake_slack, posted)["status"] == "pending"
    assert any("can't decide your own request" in t for t in told(fake_slack, BOB))

    click(client, fake_slack, HR, ids.APPROVE_ACTION, posted)

    payload = status_of(fake_slack, posted)
    assert (payload["status"], payload["decided_by"]) == ("approved", HR)
    assert [t for t in dms_to(fake_slack, BOB) if "approved your" in t and mention(HR) in t]
    assert [c for c in fake_slack.calls("chat.postMessage") if c.params["channel"] == C_ENG
            and mention(BOB) in c.params["text"]]


# --- Requests while the only approver is away -------------------------------------------------------


def test_a_request_sent_while_bob_is_away_waits_on_him_and_shows_that_he_is_out_then(client, fake_slack):
    """The request still calls on Bob (README: no stand-in while away), but whoever reads it sees, in
    "who else is out then", that Bob is away those days."""
    install_config(standard_config(teams=(BOB_ALONE,)))
    bob_goes_on_vacation(client, fake_slack)
    fake_slack.clear_calls()

    posted = ask(client, fake_slack, ALICE, AWAY_MONDAY, AWAY_WEDNESDAY, "V_ALICE")

    assert mention(BOB) in posted.params["text"]
    assert mention(HR) not in posted.params["text"]
    context = json.dumps([b for b in posted.params["blocks"] if b.get("type") == "context"])
    assert mention(BOB) in context or BOB in context, context  # Bob listed among those out then
    [receipt] = [t for t in dms_to(fake_slack, ALICE) if "is with" in t]
    assert mention(BOB) in receipt, receipt
    assert status_of(fake_slack, posted)["status"] == "pending"


def test_hr_may_not_decide_for_a_team_whose_only_approver_is_merely_on_leave(client, fake_slack):
    """README: the fallback approvers decide when a team's approvers leave nobody but the requester.
    Bob on vacation is still Engineering's approver: HR's click is refused, and HR's App Home does not
    offer the request."""
    install_config(standard_config(teams=(BOB_ALONE,)))
    bob_goes_on_vacation(client, fake_slack)
    posted = ask(client, fake_slack, ALICE, AWAY_MONDAY, AWAY_WEDNESDAY, "V_ALICE")
    fake_slack.clear_calls()

    click(client, fake_slack, HR, ids.APPROVE_ACTION, posted)

    assert status_of(fake_slack, posted)["status"] == "pending"
    assert any("not an approver for Engineering" in t for t in told(fake_slack, HR)), told(fake_slack, HR)
    _, waiting = waiting_on_home(client, fake_slack, HR, "Ev_HR_HOME1")
    assert mention(ALICE) not in waiting and ALICE not in waiting, waiting


def test_bob_decides_from_his_phone_while_on_vacation(client, fake_slack):
    install_config(standard_config(teams=(BOB_ALONE,)))
    bob_goes_on_vacation(client, fake_slack)
    posted = ask(client, fake_slack, ALICE, AWAY_MONDAY, AWAY_WEDNESDAY, "V_ALICE")
    home, waiting = waiting_on_home(client, fake_slack, BOB, "Ev_BOB_HOME1")
    assert ALICE in waiting, waiting
    fake_slack.clear_calls()

    response = home_press(client, BOB, home, ids.APPROVE_ACTION)

    assert response.status_code == 200
    payload = status_of(fake_slack, posted)
    assert (payload["status"], payload["decided_by"]) == ("approved", BOB)
    assert [t for t in dms_to(fake_slack, ALICE) if "approved your" in t]


def test_the_only_approver_away_is_nudged_for_his_return_and_hr_is_told_nobody_decides(client, fake_slack):
    """Bob is away from tomorrow: the nudge after `nudge_after_hours` still goes to him (he reads it on his
    return), and HR, who can give the team another approver, is told the request waits on nobody at work.
    Nobody nudges the requester."""
    install_config(standard_config(teams=(BOB_ALONE,)))
    today = datetime.now(LA).date()
    bob_goes_on_vacation(client, fake_slack, today + timedelta(days=1), today + timedelta(days=15))
    ask(client, fake_slack, ALICE, MONDAY, MONDAY + timedelta(days=2), "V_ALICE")
    fake_slack.clear_calls()

    run_jobs(nudge_moment(30), "--team", "Engineering")

    [nudge] = nudges_to(fake_slack, BOB)
    assert mention(ALICE) in nudge and "Open the request" in nudge
    assert nudges_to(fake_slack, ALICE) == []
    [to_hr] = nudges_to(fake_slack, HR)
    assert "on leave today" in to_hr and mention(ALICE) in to_hr and "add an approver" in to_hr, to_hr
    assert mention(BOB) not in to_hr.split(":")[0]  # nobody pinged in its heading


def test_the_only_approver_back_at_work_is_nudged_and_hr_is_not(client, fake_slack):
    """Bob's vacation is over by the time of the nudge: he is nudged, HR hears nothing."""
    install_config(standard_config(teams=(BOB_ALONE,)))
    ask(client, fake_slack, ALICE, MONDAY, MONDAY + timedelta(days=2), "V_ALICE")
    fake_slack.clear_calls()

    run_jobs(nudge_moment(30), "--team", "Engineering")

    assert [t for t in nudges_to(fake_slack, BOB) if mention(ALICE) in t]
    assert nudges_to(fake_slack, HR) == []


def test_bob_back_from_vacation_approves_leave_that_was_taken_while_he_was_away(client, fake_slack):
    """Alice asked before Bob left; her days passed while he was away. Approving them afterwards records
    them, tells Alice, and does not announce to the team that she "will be out"."""
    install_config(standard_config(teams=(BOB_ALONE,)))
    day = working_day_back(7)
    entry = LedgerEntry(id="5b0c3d1e-0000-4000-8000-00000000a11c", user=ALICE, team="Engineering",
                        leave_type="vacation", start=day, end=day, start_half=None, end_half=None, days=Decimal(1),
                        status="pending")
    post_entry(fake_slack, entry)
    home, waiting = waiting_on_home(client, fake_slack, BOB, "Ev_BOB_HOME2")
    assert ALICE in waiting, waiting
    fake_slack.clear_calls()

    home_press(client, BOB, home, ids.APPROVE_ACTION)

    [message] = [m for m in ledger_messages(fake_slack) if m.metadata["event_payload"]["id"] == entry.id]
    assert (message.metadata["event_payload"]["status"], message.metadata["event_payload"]["decided_by"]) == (
        "approved", BOB)
    assert [t for t in dms_to(fake_slack, ALICE) if "approved your" in t]
    assert [c.params["text"] for c in fake_slack.calls("chat.postMessage") if c.params["channel"] == C_ENG] == []


# --- Two approvers, one away --------------------------------------------------------------------------


def test_with_bob_away_dave_decides_and_bobs_later_click_is_told_who(client, fake_slack):
    install_config(standard_config(teams=(BOB_AND_DAVE,)))
    bob = ask(client, fake_slack, BOB, BOBS_FIRST_DAY, BOBS_LAST_DAY, "V_BOB")
    assert mention(DAVE) in bob.params["text"]  # Bob's own leave goes to Dave, not HR
    click(client, fake_slack, DAVE, ids.APPROVE_ACTION, bob)
    assert status_of(fake_slack, bob)["decided_by"] == DAVE
    alices = ask(client, fake_slack, ALICE, AWAY_MONDAY, AWAY_WEDNESDAY, "V_ALICE")
    assert mention(BOB) in alices.params["text"] and mention(DAVE) in alices.params["text"]

    click(client, fake_slack, DAVE, ids.APPROVE_ACTION, alices)
    fake_slack.clear_calls()
    click(client, fake_slack, BOB, ids.REJECT_ACTION, alices)

    assert status_of(fake_slack, alices)["decided_by"] == DAVE
    assert fake_slack.last_call("views.open") is None  # no reason asked for a request already decided
    [note] = told(fake_slack, BOB)
    assert note.startswith(f"This request was already approved by {mention(DAVE)}"), note


def test_bob_rejecting_from_vacation_while_dave_approves_decides_once(client, fake_slack):
    """Bob opens the reason form; Dave approves meanwhile; Bob's reason then arrives. One decision."""
    install_config(standard_config(teams=(BOB_AND_DAVE,)))
    alices = ask(client, fake_slack, ALICE, AWAY_MONDAY, AWAY_WEDNESDAY, "V_ALICE")
    fake_slack.clear_calls()
    click(client, fake_slack, BOB, ids.REJECT_ACTION, alices)
    modal = fake_slack.last_call("views.open").params["view"]

    click(client, fake_slack, DAVE, ids.APPROVE_ACTION, alices)
    values = {ids.REASON_BLOCK: {ids.REASON_ACTION: {"type": "plain_text_input", "value": "Release week"}}}
    post_interaction(client, view_submission_payload(user_id=BOB, view=modal, values=values, view_id="V_REJ"))

    payload = status_of(fake_slack, alices)
    assert (payload["status"], payload["decided_by"]) == ("approved", DAVE)
    assert len([c for c in channel_updates(fake_slack) if c.params.get("ts") == alices.response["ts"]]) == 1
    assert [t for t in dms_to(fake_slack, ALICE) if "rejected your" in t] == []
    assert len([t for t in dms_to(fake_slack, ALICE) if "approved your" in t]) == 1
    assert any(f"already approved by {mention(DAVE)}" in t for t in told(fake_slack, BOB)), told(fake_slack, BOB)


def test_both_approvers_at_work_are_nudged(client, fake_slack):
    install_config(standard_config(teams=(BOB_AND_DAVE,)))
    ask(client, fake_slack, ALICE, AWAY_MONDAY, AWAY_WEDNESDAY, "V_ALICE")
    fake_slack.clear_calls()

    run_jobs(nudge_moment(30), "--team", "Engineering")

    assert [t for t in nudges_to(fake_slack, DAVE) if mention(ALICE) in t]
    assert [t for t in nudges_to(fake_slack, BOB) if mention(ALICE) in t]
    assert nudges_to(fake_slack, HR) == []


def test_with_bob_on_vacation_only_dave_is_nudged(client, fake_slack):
    """Bob's approved vacation covers the day of the nudge: Dave, who is in, is nudged; Bob, on the
    beach, is left alone, and HR need not step in."""
    install_config(standard_config(teams=(BOB_AND_DAVE,)))
    moment = nudge_moment(30)
    nudge_day = moment.astimezone(LA).date()
    bob = ask(client, fake_slack, BOB, nudge_day - timedelta(days=1), nudge_day + timedelta(days=1), "V_BOB")
    click(client, fake_slack, DAVE, ids.APPROVE_ACTION, bob)
    ask(client, fake_slack, ALICE, nudge_day + timedelta(days=20), nudge_day + timedelta(days=21), "V_ALICE")
    fake_slack.clear_calls()

    run_jobs(moment, "--team", "Engineering")

    assert [t for t in nudges_to(fake_slack, DAVE) if mention(ALICE) in t]
    assert nudges_to(fake_slack, BOB) == []
    assert nudges_to(fake_slack, HR) == []


# --- An approver's own leave over requests they decide ------------------------------------------------


def test_dave_asks_for_the_same_days_as_alice_and_still_decides_hers_but_not_his(client, fake_slack):
    install_config(standard_config(teams=(BOB_AND_DAVE,)))
    alices = ask(client, fake_slack, ALICE, AWAY_MONDAY, AWAY_WEDNESDAY, "V_ALICE")
    daves = ask(client, fake_slack, DAVE, AWAY_MONDAY, AWAY_WEDNESDAY, "V_DAVE")
    assert mention(BOB) in daves.params["text"]
    assert daves.params["text"].count(mention(DAVE)) == 1  # the requester, not an approver of his own

    _, waiting = waiting_on_home(client, fake_slack, DAVE, "Ev_DAVE_HOME1")
    assert ALICE in waiting and DAVE not in waiting.replace("Waiting for your decision", ""), waiting
    click(client, fake_slack, DAVE, ids.APPROVE_ACTION, daves)
    assert status_of(fake_slack, daves)["status"] == "pending"
    click(client, fake_slack, DAVE, ids.APPROVE_ACTION, alices)
    assert status_of(fake_slack, alices)["decided_by"] == DAVE

    click(client, fake_slack, BOB, ids.APPROVE_ACTION, daves)
    assert status_of(fake_slack, daves)["decided_by"] == BOB


def test_a_full_team_keeps_the_approver_from_approving_leave_over_his_own_approved_days(client, fake_slack):
    """max_out 1: Bob's approved vacation fills the team, so Alice's request over it is refused when
    sent, naming why."""
    install_config(standard_config(teams=(replace(BOB_ALONE, max_out=1),)))
    bob_goes_on_vacation(client, fake_slack)
    view = open_request_form(client, fake_slack, ALICE)

    response = submit_request(client, ALICE, view, request_values("vacation", AWAY_MONDAY, AWAY_WEDNESDAY),
                              view_id="V_FULL")

    text = response.content.decode() + "\n".join(dms_to(fake_slack, ALICE))
    assert "is full for Engineering" in text, text


# --- The approver leaves ------------------------------------------------------------------------------


def test_when_bob_is_deactivated_hr_hears_decides_and_is_nudged_in_his_place(client, fake_slack):
    install_config(standard_config(teams=(BOB_ALONE,)))
    posted = ask(client, fake_slack, ALICE, MONDAY, MONDAY + timedelta(days=2), "V_ALICE")

    deactivate(client, fake_slack, BOB, "Ev_BOB_GONE")

    assert [t for t in dms_to(fake_slack, HR) if "only approver left for 1 pending" in t], dms_to(fake_slack, HR)
    _, waiting = waiting_on_home(client, fake_slack, HR, "Ev_HR_HOME2")
    assert ALICE in waiting, waiting
    fake_slack.clear_calls()
    run_jobs(nudge_moment(30), "--team", "Engineering")
    assert [t for t in nudges_to(fake_slack, HR) if mention(ALICE) in t]
    assert nudges_to(fake_slack, BOB) == []
    click(client, fake_slack, HR, ids.APPROVE_ACTION, posted)
    assert status_of(fake_slack, posted)["decided_by"] == HR


def test_hr_is_told_when_the_only_approver_in_the_approvers_channel_is_deactivated(client, fake_slack):
    """README "Someone leaves": an approver by name, or in the approvers channel as far as Slack still
    lists them."""
    with fake_slack.workspace.lock:
        fake_slack.workspace.channels[C_ENG_LEADS].members.discard(DAVE)
    install_config(standard_config(teams=(BOB_THROUGH_THE_CHANNEL,)))
    posted = ask(client, fake_slack, ALICE, MONDAY, MONDAY + timedelta(days=2), "V_ALICE")
    assert mention(BOB) in posted.params["text"]

    deactivate(client, fake_slack, BOB, "Ev_BOB_GONE2")

    assert [t for t in dms_to(fake_slack, HR) if "only approver left for 1 pending" in t], dms_to(fake_slack, HR)
    click(client, fake_slack, HR, ids.APPROVE_ACTION, posted)
    assert status_of(fake_slack, posted)["decided_by"] == HR


def test_hr_is_not_told_that_their_own_request_now_waits_on_them(client, fake_slack):
    """Hannah works in Engineering too and asked Bob for leave. Bob's account is deactivated: her request
    now has nobody at all who may decide it (nobody approves their own). Telling her it "now waits on
    you: decide them from your App Home" sends her to a request she cannot decide; she should hear that
    nobody can, and to give the team another approver."""
    with fake_slack.workspace.lock:
        fake_slack.workspace.channels[C_ENG].members.add(HR)
    install_config(standard_config(teams=(BOB_ALONE,)))
    hannahs = ask(client, fake_slack, HR, MONDAY, MONDAY + timedelta(days=2), "V_HR")
    assert mention(BOB) in hannahs.params["text"]

    deactivate(client, fake_slack, BOB, "Ev_BOB_GONE3")

    _, waiting = waiting_on_home(client, fake_slack, HR, "Ev_HR_HOME3")
    assert "Waiting for your decision" not in waiting  # App Home rightly offers her nothing to decide
    told_hr = [t for t in dms_to(fake_slack, HR) if "only approver left" in t]
    assert not [t for t in told_hr if "now wait on you" in t], told_hr
    assert [t for t in dms_to(fake_slack, HR) if "Nobody may decide 1 pending request(s) now" in t
            and mention(HR) in t and "another approver" in t], dms_to(fake_slack, HR)


def test_hr_is_told_when_the_only_approver_leaves_the_approvers_channel_with_requests_waiting(client, fake_slack):
    """Bob moves to another role and leaves #eng-leads, the team's only source of approvers. Alice's
    request now waits on HR as much as when an account is deactivated: HR should hear so, as they do
    then, rather than find out from a nudge the next working day."""
    with fake_slack.workspace.lock:
        fake_slack.workspace.channels[C_ENG_LEADS].members.discard(DAVE)
    install_config(standard_config(teams=(BOB_THROUGH_THE_CHANNEL,)))
    posted = ask(client, fake_slack, ALICE, MONDAY, MONDAY + timedelta(days=2), "V_ALICE")
    fake_slack.clear_calls()

    leave_channel(client, fake_slack, BOB, C_ENG_LEADS, "Ev_BOB_LEFT")

    _, waiting = waiting_on_home(client, fake_slack, HR, "Ev_HR_HOME4")
    assert ALICE in waiting, waiting  # HR's App Home offers it at once
    click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted)
    assert status_of(fake_slack, posted)["status"] == "pending"  # Bob may no longer decide
    told = [t for t in dms_to(fake_slack, HR) if f"left <#{C_ENG_LEADS}>" in t and "now wait on you" in t]
    assert len(told) == 1, dms_to(fake_slack, HR)
    leave_channel(client, fake_slack, BOB, C_ENG_LEADS, "Ev_BOB_LEFT")  # Slack delivers the event again
    assert len([t for t in dms_to(fake_slack, HR) if f"left <#{C_ENG_LEADS}>" in t]) == 1


def test_after_bob_leaves_the_approvers_channel_hr_decides_and_is_nudged(client, fake_slack):
    with fake_slack.workspace.lock:
        fake_slack.workspace.channels[C_ENG_LEADS].members.discard(DAVE)
    install_config(standard_config(teams=(BOB_THROUGH_THE_CHANNEL,)))
    posted = ask(client, fake_slack, ALICE, MONDAY, MONDAY + timedelta(days=2), "V_ALICE")
    leave_channel(client, fake_slack, BOB, C_ENG_LEADS, "Ev_BOB_LEFT2")
    fake_slack.clear_calls()

    run_jobs(nudge_moment(30), "--team", "Engineering")

    assert [t for t in nudges_to(fake_slack, HR) if mention(ALICE) in t]
    assert nudges_to(fake_slack, BOB) == []
    click(client, fake_slack, HR, ids.APPROVE_ACTION, posted)
    assert status_of(fake_slack, posted)["decided_by"] == HR


def test_alices_receipt_names_who_decides_once_her_approver_is_gone(client, fake_slack):
    """Alice's receipt said her request "is with @Bob". Once Bob's account is deactivated it is with
    HR; the receipt, which README says "always says where the request stands", should say so rather
    than keep her waiting on someone who is gone."""
    install_config(standard_config(teams=(BOB_ALONE,)))
    ask(client, fake_slack, ALICE, MONDAY, MONDAY + timedelta(days=2), "V_ALICE")
    fake_slack.clear_calls()

    deactivate(client, fake_slack, BOB, "Ev_BOB_GONE4")

    receipts = [c.params.get("text", "") for c in fake_slack.calls("chat.update")
                if str(c.params.get("channel", "")).startswith("D")] + dms_to(fake_slack, ALICE)
    assert [t for t in receipts if "is with" in t and mention(HR) in t], receipts
