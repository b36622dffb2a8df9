"""An approver's week, end to end: Bob approves for Engineering (listed by name) and for Design (through
Design's approvers channel); Dave approves for Engineering through #eng-leads and asks for leave himself;
people go on leave, leave the company, edit and withdraw while approvers decide; Slack delivers some
clicks twice. Everything is asserted on what crossed the wire to the fake Slack."""

import json
from dataclasses import replace
from datetime import datetime, timedelta, timezone as dt_timezone

import pytest

from approvals import block_ids as ids
from approvals import messages
from approvals.config_types import ApproverSource, MemberSource, TeamConfig
from fake_slack.personas import C_ENG, C_ENG_APPROVALS
from test_support.flows import (
    ALICE,
    BOB,
    DAVE,
    ENGINEERING,
    HR,
    MONDAY,
    WEDNESDAY,
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
    press,
    request_time_off,
    request_values,
    standard_config,
    submit_request,
)
from test_support.job_runs import run_jobs
from test_support.slack_requests import (
    block_actions_payload,
    event_envelope,
    post_command,
    post_event,
    post_interaction,
    view_block_actions_payload,
    view_submission_payload,
)
from test_support.posted import posts_to

pytestmark = pytest.mark.django_db

ERIN = "U_ERIN"  # a designer
C_DESIGN = "C_DESIGN"
C_DESIGN_LEADS = "C_DESIGN_LEADS"
C_DESIGN_APPROVALS = "C_DESIGN_APPROVALS"
C_ENG_APPROVALS_2 = "C_ENG_APPROVALS_2"

FRIDAY = MONDAY + timedelta(days=4)
NEXT_MONDAY = MONDAY + timedelta(days=7)
NEXT_WEDNESDAY = MONDAY + timedelta(days=9)

DESIGN = TeamConfig(
    name="Design",
    members=MemberSource(channel=C_DESIGN),
    approvers=ApproverSource(channel=C_DESIGN_LEADS),
    approvals_channel=C_DESIGN_APPROVALS,
    announce_channel=C_DESIGN,
    holiday_country="US",
    holiday_subdivision="CA",
    timezone="America/Los_Angeles",
)


@pytest.fixture
def design(fake_slack):
    """Design: Erin works there; Bob sits in #design-leads, so he approves for Design too."""
    workspace = fake_slack.workspace
    workspace.add_user(ERIN, "erin", tz="America/Los_Angeles", email="erin@example.com", real_name="Erin Ellis")
    workspace.add_channel(C_DESIGN, "design", members=[ERIN])
    workspace.add_channel(C_DESIGN_LEADS, "design-leads", members=[BOB], private=True)
    workspace.add_channel(C_DESIGN_APPROVALS, "design-approvals", members=[BOB, HR], private=True)
    return workspace


def two_teams(**changes):
    return standard_config(teams=(ENGINEERING, DESIGN), **changes)


# --- What crossed the wire ----------------------------------------------------------------------------


def metadata_of(call) -> dict:
    metadata = call.params["metadata"]
    return (json.loads(metadata) if isinstance(metadata, str) else metadata)["event_payload"]


def status_of(fake_slack, posted) -> dict:
    channel, ts = posted.response["channel"], posted.response["ts"]
    [message] = [m for m in fake_slack.workspace.messages(channel) if m.ts == ts]
    return message.metadata["event_payload"]


def thread_replies(fake_slack, posted=None) -> list[str]:
    return [c.params["text"] for c in fake_slack.calls("chat.postMessage")
            if c.params.get("thread_ts") and c.response.get("ok")
            and (posted is None or c.params["thread_ts"] == posted.response["ts"])]


def told(fake_slack, user) -> list[str]:
    """Everything said to `user` privately: ephemerals and DMs."""
    return ephemerals_to(fake_slack, user) + dms_to(fake_slack, user)


def decision_dms(fake_slack, user) -> list[str]:
    return [t for t in dms_to(fake_slack, user) if "approved your" in t or "rejected your" in t]


def request_updates(fake_slack, posted) -> list:
    """chat.update calls that rewrote this request's message."""
    return [c for c in channel_updates(fake_slack) if c.params.get("ts") == posted.response["ts"]]


def reject_modal_for(client, fake_slack, user, posted):
    fake_slack.clear_calls()
    click(client, fake_slack, user, ids.REJECT_ACTION, posted)
    call = fake_slack.last_call("views.open")
    assert call is not None, told(fake_slack, user)
    return call.params["view"]


def send_reason(client, user, modal, reason, view_id="V_REJ"):
    values = {ids.REASON_BLOCK: {ids.REASON_ACTION: {"type": "plain_text_input", "value": reason}}}
    return post_interaction(client, view_submission_payload(user_id=user, view=modal, values=values,
                                                            view_id=view_id))


def another_request(client, fake_slack, user, start, end, view_id, leave_type="vacation"):
    view = open_request_form(client, fake_slack, user)
    response = submit_request(client, user, view, request_values(leave_type, start, end), view_id=view_id,
                              view_hash=f"h-{view_id}")
    assert response.status_code == 200 and response.content == b"", response.content
    return response


def deactivate(client, fake_slack, user, event_id):
    with fake_slack.workspace.lock:
        fake_slack.workspace.users[user].deleted = True
    post_event(client, event_envelope({"type": "user_change", "user": {"id": user, "deleted": True}},
                                      event_id=event_id))


def home_press(client, user, home, action_id, view_id="V_HOME"):
    block_id, value = buttons_in(home["blocks"])[action_id]
    return post_interaction(client, view_block_actions_payload(user_id=user, action_id=action_id, value=value,
                                                               block_id=block_id, view=home, view_id=view_id))


def listed(client, user) -> dict:
    response = post_command(client, "list", user_id=user)
    assert response.status_code == 200
    return response.json()


# --- Monday: an approver for two teams ------------------------------------------------------------------


def test_an_approver_for_two_teams_is_asked_in_each_teams_own_channel(client, fake_slack, design):
    install_config(two_teams())
    request_time_off(client, fake_slack, ALICE)
    another_request(client, fake_slack, ERIN, MONDAY, WEDNESDAY, "V_ERIN")

    [alices] = posted_requests(fake_slack, C_ENG_APPROVALS)
    [erins] = posted_requests(fake_slack, C_DESIGN_APPROVALS)
    assert f"<@{BOB}>" in alices.params["text"] and f"<@{DAVE}>" in alices.params["text"]
    assert f"<@{BOB}>" in erins.params["text"]
    assert f"<@{DAVE}>" not in erins.params["text"]  # Dave approves for Engineering only
    assert metadata_of(erins)["team"] == "Design"


def test_an_approver_for_two_teams_approves_both_and_each_team_channel_hears_only_its_own(
        client, fake_slack, design):
    install_config(two_teams())
    request_time_off(client, fake_slack, ALICE)
    another_request(client, fake_slack, ERIN, MONDAY, WEDNESDAY, "V_ERIN")
    [alices] = posted_requests(fake_slack, C_ENG_APPROVALS)
    [erins] = posted_requests(fake_slack, C_DESIGN_APPROVALS)
    fake_slack.clear_calls()

    click(client, fake_slack, BOB, ids.APPROVE_ACTION, alices)
    click(client, fake_slack, BOB, ids.APPROVE_ACTION, erins)

    assert (status_of(fake_slack, alices)["status"], status_of(fake_slack, alices)["decided_by"]) == ("approved", BOB)
    assert (status_of(fake_slack, erins)["status"], status_of(fake_slack, erins)["decided_by"]) == ("approved", BOB)
    [eng_news] = posts_to(fake_slack, C_ENG)
    [design_news] = posts_to(fake_slack, C_DESIGN)
    assert f"<@{ALICE}> will be out" in eng_news and ERIN not in eng_news
    assert f"<@{ERIN}> will be out" in design_news and ALICE not in design_news
    assert len(decision_dms(fake_slack, ALICE)) == 1 and len(decision_dms(fake_slack, ERIN)) == 1
    assert thread_replies(fake_slack, alices) == [f"Approved by <@{BOB}>"]
    assert thread_replies(fake_slack, erins) == [f"Approved by <@{BOB}>"]
    assert told(fake_slack, BOB) == []  # nothing refused, nothing to explain


def test_an_approver_for_one_team_is_refused_on_the_other_teams_request(client, fake_slack, design):
    install_config(two_teams())
    another_request(client, fake_slack, ERIN, MONDAY, WEDNESDAY, "V_ERIN")
    [erins] = posted_requests(fake_slack, C_DESIGN_APPROVALS)
    fake_slack.clear_calls()

    click(client, fake_slack, DAVE, ids.APPROVE_ACTION, erins)
    click(client, fake_slack, DAVE, ids.REJECT_ACTION, erins)

    assert status_of(fake_slack, erins)["status"] == "pending"
    assert fake_slack.calls("views.open") == []  # no reason asked of someone who may not reject
    said = told(fake_slack, DAVE)
    assert said and all("not an approver for Design" in t for t in said), said
    assert dms_to(fake_slack, ERIN) == []


def test_app_home_lists_what_waits_for_an_approver_of_two_teams_and_nothing_else(client, fake_slack, design):
    install_config(two_teams())
    request_time_off(client, fake_slack, ALICE)
    another_request(client, fake_slack, ERIN, MONDAY, WEDNESDAY, "V_ERIN")

    bobs = json.dumps(open_app_home(client, fake_slack, BOB, "Ev_BOB_HOME")["blocks"])
    daves = json.dumps(open_app_home(client, fake_slack, DAVE, "Ev_DAVE_HOME")["blocks"])

    assert f"<@{ALICE}>" in bobs and f"<@{ERIN}>" in bobs
    assert bobs.count(f'"action_id": "{ids.APPROVE_ACTION}"') == 2
    assert f"<@{ALICE}>" in daves and f"<@{ERIN}>" not in daves
    assert daves.count(f'"action_id": "{ids.APPROVE_ACTION}"') == 1


def test_an_approver_for_two_teams_approves_the_other_teams_request_from_app_home(client, fake_slack, design):
    install_config(two_teams())
    request_time_off(client, fake_slack, ALICE)
    another_request(client, fake_slack, ERIN, MONDAY, WEDNESDAY, "V_ERIN")
    [erins] = posted_requests(fake_slack, C_DESIGN_APPROVALS)
    home = open_app_home(client, fake_slack, BOB, "Ev_BOB_HOME2")
    # Erin's request starts at the same date as Alice's: pick the Approve of Erin's by its value.
    erin_value = next(e["value"] for b in home["blocks"] if b.get("type") == "actions" for e in b["elements"]
                      if e.get("action_id") == ids.APPROVE_ACTION and ERIN in e.get("value", ""))
    block_id = next(b["block_id"] for b in home["blocks"] if b.get("type") == "actions"
                    and any(e.get("value") == erin_value for e in b["elements"]))
    fake_slack.clear_calls()

    post_interaction(client, view_block_actions_payload(user_id=BOB, action_id=ids.APPROVE_ACTION, value=erin_value,
                                                        block_id=block_id, view=home))

    assert status_of(fake_slack, erins)["status"] == "approved"
    assert thread_replies(fake_slack, erins) == [f"Approved by <@{BOB}>"]
    assert [c for c in fake_slack.calls("chat.postMessage") if c.params.get("thread_ts")][0].params["channel"] \
        == C_DESIGN_APPROVALS
    assert [t for t in posts_to(fake_slack, C_DESIGN) if f"<@{ERIN}> will be out" in t]
    assert posts_to(fake_slack, C_ENG) == []
    assert all(m.metadata["event_payload"]["status"] == "pending" for m in ledger_messages(fake_slack))  # Alice's


# --- Tuesday: approvers who ask for leave themselves ---------------------------------------------------


def test_an_approver_asking_for_leave_is_decided_by_the_other_approver_not_himself(client, fake_slack):
    install_config()
    request_time_off(client, fake_slack, DAVE)  # Dave is in #eng-leads: he approves for his own team
    [daves] = posted_requests(fake_slack)
    assert f"<@{BOB}>" in daves.params["text"]
    assert f"<@{DAVE}>" not in daves.params["text"].split(" — for ")[-1]  # not asked to approve himself
    fake_slack.clear_calls()

    click(client, fake_slack, DAVE, ids.APPROVE_ACTION, daves)
    click(client, fake_slack, DAVE, ids.REJECT_ACTION, daves)
    assert status_of(fake_slack, daves)["status"] == "pending"
    assert fake_slack.calls("views.open") == []
    said = told(fake_slack, DAVE)
    assert said and all(t == messages.own_request_text() for t in said), said

    click(client, fake_slack, BOB, ids.APPROVE_ACTION, daves)
    assert (status_of(fake_slack, daves)["status"], status_of(fake_slack, daves)["decided_by"]) == ("approved", BOB)
    [dm] = decision_dms(fake_slack, DAVE)
    assert f"<@{BOB}> approved your" in dm


def test_an_approvers_own_request_is_not_waiting_on_his_app_home(client, fake_slack):
    install_config()
    request_time_off(client, fake_slack, DAVE)
    home = json.dumps(open_app_home(client, fake_slack, DAVE, "Ev_DAVE_OWN")["blocks"])
    assert ids.APPROVE_ACTION not in home  # his own request waits for Bob, not for him
    bobs = json.dumps(open_app_home(client, fake_slack, BOB, "Ev_BOB_DAVES")["blocks"])
    assert ids.APPROVE_ACTION in bobs and f"<@{DAVE}>" in bobs


def test_the_only_approver_asking_for_leave_is_decided_by_hr(client, fake_slack):
    solo = replace(ENGINEERING, approvers=ApproverSource(users=(BOB,)))
    install_config(standard_config(teams=(solo,)))
    request_time_off(client, fake_slack, BOB)
    [bobs] = posted_requests(fake_slack)
    assert f"<@{HR}>" in bobs.params["text"]
    fake_slack.clear_calls()

    click(client, fake_slack, BOB, ids.APPROVE_ACTION, bobs)
    assert status_of(fake_slack, bobs)["status"] == "pending"
    assert told(fake_slack, BOB) == [messages.own_request_text()]

    click(client, fake_slack, HR, ids.APPROVE_ACTION, bobs)
    payload = status_of(fake_slack, bobs)
    assert (payload["status"], payload["decided_by"]) == ("approved", HR)
    [dm] = decision_dms(fake_slack, BOB)
    assert f"<@{HR}> approved your" in dm
    assert [t for t in posts_to(fake_slack, C_ENG) if f"<@{BOB}> will be out" in t]


def test_hr_may_not_decide_a_teams_request_when_its_only_approver_is_not_the_requester(client, fake_slack):
    solo = replace(ENGINEERING, approvers=ApproverSource(users=(BOB,)))
    install_config(standard_config(teams=(solo,)))
    request_time_off(client, fake_slack, ALICE)
    [alices] = posted_requests(fake_slack)
    assert f"<@{HR}>" not in alices.params["text"]
    fake_slack.clear_calls()

    click(client, fake_slack, HR, ids.APPROVE_ACTION, alices)

    assert status_of(fake_slack, alices)["status"] == "pending"
    assert any("not an approver for Engineering" in t for t in told(fake_slack, HR))


# --- Wednesday: an approver on leave, an approver who leaves the company ---------------------------------


def test_an_approver_on_leave_still_may_decide_and_is_shown_as_out(client, fake_slack):
    install_config()
    request_time_off(client, fake_slack, BOB, start=MONDAY, end=FRIDAY)
    [bobs] = posted_requests(fake_slack)
    click(client, fake_slack, DAVE, ids.APPROVE_ACTION, bobs)
    assert status_of(fake_slack, bobs)["status"] == "approved"

    another_request(client, fake_slack, ALICE, WEDNESDAY, WEDNESDAY, "V_ALICE_WED")
    [alices] = [c for c in posted_requests(fake_slack) if metadata_of(c)["user"] == ALICE]
    assert f"<@{BOB}>" in json.dumps(alices.params["blocks"])  # "Also out: @Bob"
    fake_slack.clear_calls()

    click(client, fake_slack, BOB, ids.APPROVE_ACTION, alices)

    assert (status_of(fake_slack, alices)["status"], status_of(fake_slack, alices)["decided_by"]) == ("approved", BOB)


def test_an_approver_who_left_the_company_is_not_asked_for_the_next_request(client, fake_slack):
    install_config()
    request_time_off(client, fake_slack, ALICE)  # Bob and Dave are asked, and known to be active
    deactivate(client, fake_slack, DAVE, "Ev_DAVE_GONE")
    fake_slack.clear_calls()

    another_request(client, fake_slack, ALICE, NEXT_MONDAY, NEXT_WEDNESDAY, "V_ALICE_2")

    [second] = posted_requests(fake_slack)
    assert f"<@{BOB}>" in second.params["text"]
    assert f"<@{DAVE}>" not in second.params["text"]


def test_when_the_only_approver_leaves_the_company_hr_is_asked_and_decides(client, fake_slack):
    solo = replace(ENGINEERING, approvers=ApproverSource(users=(BOB,)))
    install_config(standard_config(teams=(solo,)))
    request_time_off(client, fake_slack, ALICE)  # Bob was asked while he was still here
    [first] = posted_requests(fake_slack)
    deactivate(client, fake_slack, BOB, "Ev_BOB_GONE")
    fake_slack.clear_calls()

    another_request(client, fake_slack, ALICE, NEXT_MONDAY, NEXT_WEDNESDAY, "V_ALICE_3")
    [second] = posted_requests(fake_slack)
    assert f"<@{HR}>" in second.params["text"] and f"<@{BOB}>" not in second.params["text"]

    # HR decides the one Bob was asked about, too: nobody else is left to.
    click(client, fake_slack, HR, ids.APPROVE_ACTION, first)
    reject_modal = reject_modal_for(client, fake_slack, HR, second)
    send_reason(client, HR, reject_modal, "Overlaps the launch")

    assert (status_of(fake_slack, first)["status"], status_of(fake_slack, first)["decided_by"]) == ("approved", HR)
    assert (status_of(fake_slack, second)["status"], status_of(fake_slack, second)["reason"]) == (
        "rejected", "Overlaps the launch")


def test_hr_sees_on_app_home_what_waits_for_an_approver_who_left(client, fake_slack):
    solo = replace(ENGINEERING, approvers=ApproverSource(users=(BOB,)))
    install_config(standard_config(teams=(solo,)))
    request_time_off(client, fake_slack, ALICE)
    deactivate(client, fake_slack, BOB, "Ev_BOB_GONE2")

    home = json.dumps(open_app_home(client, fake_slack, HR, "Ev_HR_HOME")["blocks"])

    assert f"<@{ALICE}>" in home and ids.APPROVE_ACTION in home


def test_an_approver_who_left_the_company_is_not_nudged(client, fake_slack):
    install_config(standard_config(teams=(replace(ENGINEERING, nudge_after_hours=24),)))
    request_time_off(client, fake_slack, ALICE)
    deactivate(client, fake_slack, DAVE, "Ev_DAVE_GONE2")
    fake_slack.clear_calls()

    run_jobs(nudge_moment(30), "--team", "Engineering")

    assert [t for t in dms_to(fake_slack, BOB) if f"<@{ALICE}>" in t]
    assert dms_to(fake_slack, DAVE) == []


def nudge_moment(after_hours: float) -> datetime:
    """A working weekday at 20:00 UTC (noon in Los Angeles) at least `after_hours` from now."""
    moment = datetime.now(dt_timezone.utc) + timedelta(hours=after_hours)
    moment = moment.replace(hour=20, minute=0, second=0, microsecond=0) + timedelta(days=1)
    while moment.weekday() >= 5 or (moment.month, moment.day) in ((12, 24), (12, 25), (12, 31), (1, 1)):
        moment += timedelta(days=1)
    return moment


def test_an_approver_nudged_decides_and_is_not_nudged_again(client, fake_slack):
    install_config(standard_config(teams=(replace(ENGINEERING, nudge_after_hours=24),)))
    request_time_off(client, fake_slack, ALICE)
    [alices] = posted_requests(fake_slack)
    moment = nudge_moment(30)
    run_jobs(moment, "--team", "Engineering")
    [nudge] = [t for t in dms_to(fake_slack, BOB) if f"<@{ALICE}>" in t]
    assert "Open the request" in nudge
    click(client, fake_slack, BOB, ids.APPROVE_ACTION, alices)
    fake_slack.clear_calls()

    run_jobs(moment + timedelta(days=1), "--team", "Engineering")

    assert dms_to(fake_slack, BOB) == [] and dms_to(fake_slack, DAVE) == []


# --- Thursday: reasons --------------------------------------------------------------------------------


def test_a_reason_typed_on_several_lines_reaches_the_requester_and_thread_whole(client, fake_slack):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    modal = reject_modal_for(client, fake_slack, BOB, posted)

    send_reason(client, BOB, modal, "  Release week.\nCould you take the week after?  ")

    assert status_of(fake_slack, posted)["reason"] == "Release week.\nCould you take the week after?"
    [dm] = decision_dms(fake_slack, ALICE)
    assert "Release week.\nCould you take the week after?" in dm
    [reply] = thread_replies(fake_slack, posted)
    assert "Release week.\nCould you take the week after?" in reply
    assert posts_to(fake_slack, C_ENG) == []  # a rejection is not announced


def test_a_reason_longer_than_the_form_allows_is_cut_and_still_told_to_everyone(client, fake_slack):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    modal = reject_modal_for(client, fake_slack, BOB, posted)
    reason = "R&D <needs> you " * 200  # 3,200 characters, each & < > growing when escaped

    response = send_reason(client, BOB, modal, reason)

    assert response.status_code == 200
    payload = status_of(fake_slack, posted)
    assert payload["status"] == "rejected"
    assert payload["reason"] == reason.strip()[:messages.MAX_REASON_CHARS]
    assert len(decision_dms(fake_slack, ALICE)) == 1
    assert len(thread_replies(fake_slack, posted)) == 1
    assert all(c.response.get("ok") for c in fake_slack.calls("chat.update")), [
        c.response for c in fake_slack.calls("chat.update")]
    assert not [c for c in fake_slack.calls() if not c.response.get("ok") and c.method.startswith("chat.")]


def test_a_reason_of_only_spaces_and_newlines_keeps_the_form_open(client, fake_slack):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    modal = reject_modal_for(client, fake_slack, BOB, posted)

    body = send_reason(client, BOB, modal, " \n\t \n").json()

    assert body["response_action"] == "errors" and ids.REASON_BLOCK in body["errors"]
    assert status_of(fake_slack, posted)["status"] == "pending"
    assert decision_dms(fake_slack, ALICE) == []


def test_a_reason_that_tries_to_ping_the_channel_pings_nobody_in_the_message_receipt_or_dm(client, fake_slack):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    modal = reject_modal_for(client, fake_slack, BOB, posted)

    send_reason(client, BOB, modal, "<!here> ask <@U_HR> & see <https://evil.example|the wiki>")

    everything = json.dumps([[c.params.get("text"), c.params.get("blocks")]
                             for c in fake_slack.calls() if c.method in ("chat.postMessage", "chat.update")])
    for raw in ("<!here>", "<@U_HR>", "<https://evil.example"):
        assert raw not in everything
    assert "&lt;!here&gt;" in everything


# --- Friday: clicks that cross ------------------------------------------------------------------------


def test_the_same_approve_click_delivered_twice_approves_once_and_tells_everyone_once(client, fake_slack):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    buttons = [b for b in posted.params["blocks"] if b.get("type") == "actions"][0]["elements"]
    value = next(b["value"] for b in buttons if b["action_id"] == ids.APPROVE_ACTION)
    payload = block_actions_payload(user_id=BOB, action_id=ids.APPROVE_ACTION, value=value,
                                    channel_id=C_ENG_APPROVALS, message_ts=posted.response["ts"],
                                    block_id=ids.DECISION_BLOCK)
    fake_slack.clear_calls()

    first = post_interaction(client, payload)
    again = post_interaction(client, payload)  # Slack's client sent it again (a slow network, a double tap)

    assert first.status_code == again.status_code == 200
    assert len(request_updates(fake_slack, posted)) == 1
    assert thread_replies(fake_slack, posted) == [f"Approved by <@{BOB}>"]
    assert len(decision_dms(fake_slack, ALICE)) == 1
    assert len([t for t in posts_to(fake_slack, C_ENG) if f"<@{ALICE}> will be out" in t]) == 1


def test_the_same_reason_sent_twice_rejects_once_and_tells_once(client, fake_slack):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    modal = reject_modal_for(client, fake_slack, BOB, posted)
    fake_slack.clear_calls()

    send_reason(client, BOB, modal, "Release week")
    send_reason(client, BOB, modal, "Release week")

    assert status_of(fake_slack, posted)["status"] == "rejected"
    assert len(request_updates(fake_slack, posted)) == 1
    assert len(thread_replies(fake_slack, posted)) == 1
    assert len(decision_dms(fake_slack, ALICE)) == 1


def test_a_reason_sent_after_another_approver_approved_rejects_nothing_and_says_who(client, fake_slack):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    modal = reject_modal_for(client, fake_slack, DAVE, posted)  # Dave starts typing a reason...
    click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted)  # ... while Bob approves
    fake_slack.clear_calls()

    send_reason(client, DAVE, modal, "Release week")

    payload = status_of(fake_slack, posted)
    assert (payload["status"], payload["decided_by"]) == ("approved", BOB)
    assert channel_updates(fake_slack) == []
    assert decision_dms(fake_slack, ALICE) == []
    assert any(f"already approved by <@{BOB}>" in t for t in told(fake_slack, DAVE)), told(fake_slack, DAVE)


def test_a_reject_after_an_approval_asks_for_no_reason_and_says_who_decided(client, fake_slack):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted)
    fake_slack.clear_calls()

    click(client, fake_slack, DAVE, ids.REJECT_ACTION, posted)  # his Slack had not redrawn the message

    assert fake_slack.calls("views.open") == []
    assert any(f"already approved by <@{BOB}>" in t for t in told(fake_slack, DAVE)), told(fake_slack, DAVE)
    assert status_of(fake_slack, posted)["status"] == "approved"


def test_rejecting_a_request_edited_meanwhile_rejects_it_as_it_stands(client, fake_slack):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    modal = reject_modal_for(client, fake_slack, BOB, posted)
    press(client, ALICE, listed(client, ALICE)["blocks"], ids.EDIT_ACTION)
    form = fake_slack.last_call("views.open").params["view"]
    post_interaction(client, view_submission_payload(user_id=ALICE, view=form,
                                                     values=request_values("vacation", MONDAY, FRIDAY),
                                                     view_id="V_EDIT"))
    fake_slack.clear_calls()

    send_reason(client, BOB, modal, "Not that week")

    payload = status_of(fake_slack, posted)
    assert (payload["status"], payload["end"]) == ("rejected", FRIDAY.isoformat())
    [dm] = decision_dms(fake_slack, ALICE)
    assert "Not that week" in dm


# --- max_out ------------------------------------------------------------------------------------------


def test_approving_past_max_out_is_refused_then_allowed_once_the_other_leave_is_cancelled(client, fake_slack):
    install_config(standard_config(teams=(replace(ENGINEERING, max_out=2),)))
    request_time_off(client, fake_slack, ALICE)
    another_request(client, fake_slack, DAVE, WEDNESDAY, FRIDAY, "V_DAVE")
    alices, daves = posted_requests(fake_slack)
    install_config(standard_config(teams=(replace(ENGINEERING, max_out=1),)))
    click(client, fake_slack, BOB, ids.APPROVE_ACTION, alices)
    fake_slack.clear_calls()

    click(client, fake_slack, BOB, ids.APPROVE_ACTION, daves)
    assert status_of(fake_slack, daves)["status"] == "pending"
    [refusal] = told(fake_slack, BOB)
    assert "can't approve" in refusal
    assert decision_dms(fake_slack, DAVE) == [] and posts_to(fake_slack, C_ENG) == []

    press(client, ALICE, listed(client, ALICE)["blocks"], ids.CANCEL_ACTION)  # Alice stays after all
    fake_slack.clear_calls()
    click(client, fake_slack, BOB, ids.APPROVE_ACTION, daves)

    assert (status_of(fake_slack, daves)["status"], status_of(fake_slack, daves)["decided_by"]) == ("approved", BOB)
    assert len(decision_dms(fake_slack, DAVE)) == 1


# --- The approvals channel moved ----------------------------------------------------------------------


def test_a_request_left_in_the_old_approvals_channel_is_rejected_there_and_its_people_are_told(
        client, fake_slack):
    fake_slack.workspace.add_channel(C_ENG_APPROVALS_2, "eng-approvals-2", members=[BOB, DAVE, HR], private=True)
    install_config()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    install_config(standard_config(teams=(replace(ENGINEERING, approvals_channel=C_ENG_APPROVALS_2),)))

    modal = reject_modal_for(client, fake_slack, DAVE, posted)
    fake_slack.clear_calls()
    send_reason(client, DAVE, modal, "Moved to Q2")

    payload = status_of(fake_slack, posted)
    assert (payload["status"], payload["decided_by"]) == ("rejected", DAVE)
    [update] = request_updates(fake_slack, posted)
    assert update.params["channel"] == C_ENG_APPROVALS
    assert thread_replies(fake_slack, posted) == [f"Rejected by <@{DAVE}>: Moved to Q2"]
    assert [c for c in fake_slack.calls("chat.postMessage") if c.params.get("thread_ts")][0].params["channel"] \
        == C_ENG_APPROVALS
    [dm] = decision_dms(fake_slack, ALICE)
    assert "Moved to Q2" in dm


def test_a_request_left_in_the_old_approvals_channel_still_waits_on_app_home_and_is_approved_there(
        client, fake_slack):
    fake_slack.workspace.add_channel(C_ENG_APPROVALS_2, "eng-approvals-2", members=[BOB, DAVE, HR], private=True)
    install_config()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    install_config(standard_config(teams=(replace(ENGINEERING, approvals_channel=C_ENG_APPROVALS_2),)))

    home = open_app_home(client, fake_slack, BOB, "Ev_MOVED_HOME")
    assert ids.APPROVE_ACTION in buttons_in(home["blocks"])
    fake_slack.clear_calls()
    home_press(client, BOB, home, ids.APPROVE_ACTION)

    assert status_of(fake_slack, posted)["status"] == "approved"
    [update] = request_updates(fake_slack, posted)
    assert update.params["channel"] == C_ENG_APPROVALS
    assert [t for t in posts_to(fake_slack, C_ENG) if f"<@{ALICE}> will be out" in t]
    assert posted_requests(fake_slack, C_ENG_APPROVALS_2) == []  # nothing re-posted in the new channel


def test_approving_in_an_old_approvals_channel_since_archived_tells_the_approver_and_nobody_else(
        client, fake_slack, no_backoff):
    fake_slack.workspace.add_channel(C_ENG_APPROVALS_2, "eng-approvals-2", members=[BOB, DAVE, HR], private=True)
    install_config()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    home = open_app_home(client, fake_slack, BOB, "Ev_ARCH_HOME")
    install_config(standard_config(teams=(replace(ENGINEERING, approvals_channel=C_ENG_APPROVALS_2),)))
    with fake_slack.workspace.lock:
        fake_slack.workspace.channels[C_ENG_APPROVALS].is_archived = True
    fake_slack.clear_calls()

    home_press(client, BOB, home, ids.APPROVE_ACTION)

    assert status_of(fake_slack, posted)["status"] == "pending"
    assert decision_dms(fake_slack, ALICE) == []
    assert posts_to(fake_slack, C_ENG) == []
    said = dms_to(fake_slack, BOB)
    assert said, "Bob clicked Approve and heard nothing"
    assert not any("approved" in t.lower() and "not" not in t.lower() and "couldn" not in t.lower() for t in said)



# --- A request that stopped needing a decision ----------------------------------------------------------


def edit_into_sick_leave(client, fake_slack):
    """Alice turns her pending vacation into sick leave, which needs no approval: recorded as approved at once."""
    press(client, ALICE, listed(client, ALICE)["blocks"], ids.EDIT_ACTION)
    form = fake_slack.last_call("views.open").params["view"]
    response = post_interaction(client, view_submission_payload(user_id=ALICE, view=form,
                                                                values=request_values("sick", MONDAY, WEDNESDAY),
                                                                view_id="V_EDIT_SICK"))
    assert response.status_code == 200 and response.content == b"", response.content


def test_approving_a_request_since_turned_into_leave_that_needs_no_approval_says_so_plainly(client, fake_slack):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    edit_into_sick_leave(client, fake_slack)
    assert status_of(fake_slack, posted)["status"] == "approved"
    fake_slack.clear_calls()

    click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted)  # his Slack still shows the buttons

    assert request_updates(fake_slack, posted) == [] and decision_dms(fake_slack, ALICE) == []
    [said] = told(fake_slack, BOB)
    # Nobody approved it: it needs no approval. "already approved by  <date>" names no one.
    assert "by  " not in said and not said.rstrip(".").endswith("by"), said
    assert "approved by <@" in said or "no approval" in said or "changed" in said, said


def test_reject_on_a_request_since_turned_into_leave_that_needs_no_approval_asks_for_no_reason(client, fake_slack):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    edit_into_sick_leave(client, fake_slack)
    fake_slack.clear_calls()

    click(client, fake_slack, DAVE, ids.REJECT_ACTION, posted)

    # README: Reject on a request already decided or withdrawn says so instead of opening a form.
    assert fake_slack.calls("views.open") == [], "a reason was asked for leave nobody can reject any more"
    assert told(fake_slack, DAVE), "Dave clicked Reject and heard nothing"


def test_a_reason_of_only_invisible_characters_keeps_the_form_open(client, fake_slack):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    modal = reject_modal_for(client, fake_slack, BOB, posted)

    # Zero-width spaces and a word joiner pasted from a document: Slack's min_length of 2 lets them through.
    response = send_reason(client, BOB, modal, "\u200b\u200b\u2060")

    assert response.status_code == 200
    assert status_of(fake_slack, posted)["status"] == "pending", "rejected with a reason the requester cannot see"
    body = response.json()
    assert body["response_action"] == "errors" and ids.REASON_BLOCK in body["errors"]
