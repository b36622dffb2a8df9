"""People in the situations real workspaces have, end to end: signed requests as Slack sends them, the fake
Slack as a real server, and what people read asserted on the wire.

Acme has two teams. Engineering (#engineering; Bob by name and #eng-leads approve) comes first in the
teams' order, Sales (#sales; Sam by name approves) second. Zoe sits in both members channels; Sam approves
for Sales but works in Engineering in some tests; Hannah is HR (the fallback approver) and in some tests
approves for a team too. Others: two people named Alex Kim, someone Slack knows no email address of,
an Enterprise Grid approver with a W id, someone HR moves from Engineering to Sales while a request waits,
a team whose approvers channel holds only the requester, someone deactivated with leave pending and
approved, and a guest (a contractor) who asks for leave.
"""

import json
from dataclasses import replace
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from approvals import block_ids as ids
from approvals.config_types import ApproverSource, MemberSource, TeamConfig
from fake_slack.personas import C_ENG, C_ENG_APPROVALS, C_ENG_LEADS, CAROL
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
    dms_to,
    ephemerals_to,
    install_config,
    open_app_home,
    open_request_form,
    posted_requests,
    request_time_off,
    request_values,
    standard_config,
    submit_request,
)
from test_support.job_runs import posts_in, run_jobs
from test_support.request_form import open_form
from test_support.slack_requests import (
    block_actions_payload,
    event_envelope,
    post_command,
    post_event,
    post_interaction,
    view_submission_payload,
)

pytestmark = pytest.mark.django_db

LA = ZoneInfo("America/Los_Angeles")
TUESDAY = date(2031, 3, 11)
APRIL_MONDAY, APRIL_WEDNESDAY = date(2031, 4, 7), date(2031, 4, 9)
MONDAY_AT_NINE = datetime(2031, 3, 10, 9, 0, tzinfo=LA)

SAM = "U_SAM"  # approves for Sales
ZOE = "U_ZOE"  # in #engineering and #sales
C_SALES = "C_SALES"
C_SALES_APPROVALS = "C_SALES_APPROVALS"

ENG = replace(ENGINEERING, digest_time=time(9, 0))
SALES = TeamConfig(
    name="Sales",
    members=MemberSource(channel=C_SALES),
    approvers=ApproverSource(users=(SAM,)),
    approvals_channel=C_SALES_APPROVALS,
    announce_channel=C_SALES,
    holiday_country="US",
    holiday_subdivision="CA",
    timezone="America/Los_Angeles",
    digest_time=time(9, 0),
)


@pytest.fixture
def acme(fake_slack):
    """Sales next to Engineering: Sam leads it, Carol works there, and Zoe is in both teams' channels."""
    workspace = fake_slack.workspace
    workspace.add_user(SAM, "sam", tz="America/Los_Angeles", email="sam@example.com", real_name="Sam Stone")
    workspace.add_user(ZOE, "zoe", tz="America/Los_Angeles", email="zoe@example.com", real_name="Zoe Zhang")
    workspace.add_channel(C_SALES, "sales", members=[CAROL, SAM, ZOE])
    workspace.add_channel(C_SALES_APPROVALS, "sales-approvals", members=[SAM, HR], private=True)
    with workspace.lock:
        workspace.channels[C_ENG].members.add(ZOE)
    return workspace


def two_teams(*teams, **changes):
    return standard_config(teams=teams or (ENG, SALES), **changes)


# --- What crossed the wire ---------------------------------------------------------------------------


def status_of(fake_slack, posted) -> dict:
    message = fake_slack.workspace.find_message(posted.response["channel"], posted.response["ts"])
    return message.metadata["event_payload"]


def told(fake_slack, user) -> list[str]:
    return ephemerals_to(fake_slack, user) + dms_to(fake_slack, user)


def receipts_of(fake_slack, user) -> list[str]:
    return [t for t in dms_to(fake_slack, user) if t.startswith("Your request for ")]


def home_text(client, fake_slack, user, event_id) -> str:
    return json.dumps(open_app_home(client, fake_slack, user, event_id)["blocks"])


def ask(client, fake_slack, user, start, end, *, leave_type="vacation", view_id="V_REQ"):
    """`user` sends the request form for these dates."""
    view = open_request_form(client, fake_slack, user)
    response = submit_request(client, user, view, request_values(leave_type, start, end), view_id=view_id,
                              view_hash=f"h-{view_id}")
    assert response.status_code == 200, response.content
    return response


def approved(client, fake_slack, user, approver, channel, start=MONDAY, end=WEDNESDAY, view_id="V_APPROVED"):
    """`user` asks for these days in `channel`'s team and `approver` approves them; the posted request."""
    ask(client, fake_slack, user, start, end, view_id=view_id)
    posted = posted_requests(fake_slack, channel)[-1]
    assert status_of(fake_slack, posted)["user"] == user, dms_to(fake_slack, user)
    assert click(client, fake_slack, approver, ids.APPROVE_ACTION, posted).status_code == 200
    assert status_of(fake_slack, posted)["status"] == "approved", told(fake_slack, approver)
    return posted


def move(client, fake_slack, user, *, leaving: str, joining: str, n: int) -> None:
    """HR moves `user` from one team's members channel to another's; Slack sends both channel events."""
    with fake_slack.workspace.lock:
        fake_slack.workspace.channels[leaving].members.discard(user)
        fake_slack.workspace.channels[joining].members.add(user)
    for kind, channel in (("member_left_channel", leaving), ("member_joined_channel", joining)):
        post_event(client, event_envelope({"type": kind, "user": user, "channel": channel, "channel_type": "C",
                                           "team": "T_ACME"}, event_id=f"Ev_MOVE_{n}_{kind}"))


def deactivate(client, fake_slack, user, event_id):
    with fake_slack.workspace.lock:
        fake_slack.workspace.users[user].deleted = True
        profile = fake_slack.workspace.users[user].to_api()
    post_event(client, event_envelope({"type": "user_change", "user": profile, "event_ts": "1766000000.000400"},
                                      event_id=event_id))


# --- Someone in two teams: the first in the teams' order, everywhere ---------------------------------


def engineering_decides(client, fake_slack, posted, person: str) -> None:
    """The request is still Engineering's: Sam (Sales) is refused, Bob approves, and only #engineering hears."""
    click(client, fake_slack, SAM, ids.APPROVE_ACTION, posted)
    assert status_of(fake_slack, posted)["status"] == "pending"
    assert "You are not an approver for Engineering, so you can't decide this request." in told(fake_slack, SAM)

    click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted)
    assert (status_of(fake_slack, posted)["status"], status_of(fake_slack, posted)["decided_by"]) == (
        "approved", BOB)
    assert [p["text"] for p in posts_in(fake_slack, C_ENG)] == [
        f":palm_tree: <@{person}> will be out Mon 10 Mar 2031 – Wed 12 Mar 2031 (Vacation)."]
    assert posts_in(fake_slack, C_SALES) == []


def test_someone_in_two_teams_is_told_by_the_forms_preview_that_the_first_teams_approvers_decide(
        client, fake_slack, acme):
    install_config(two_teams(ENG, SALES))
    form = open_form(client, fake_slack, ZOE)
    form.pick_type("vacation")
    form.pick_dates(MONDAY, WEDNESDAY)
    assert "Decided by the Engineering approvers." in form.preview(), form.preview()

    install_config(two_teams(SALES, ENG))  # HR puts Sales first
    form = open_form(client, fake_slack, ZOE)
    form.pick_type("vacation")
    form.pick_dates(MONDAY, WEDNESDAY)
    assert "Decided by the Sales approvers." in form.preview(), form.preview()


def test_someone_in_two_teams_asks_the_first_teams_approvers_and_their_receipt_and_list_say_so(
        client, fake_slack, acme):
    install_config(two_teams())
    request_time_off(client, fake_slack, ZOE)

    [posted] = posted_requests(fake_slack, C_ENG_APPROVALS)
    assert posted_requests(fake_slack, C_SALES_APPROVALS) == []
    assert status_of(fake_slack, posted)["team"] == "Engineering"
    assert f"<@{SAM}>" not in posted.params["text"]
    [receipt] = receipts_of(fake_slack, ZOE)
    assert receipt.endswith(" (Engineering). I'll let you know when they decide."), receipt
    assert f"<@{BOB}>" in receipt and f"<@{SAM}>" not in receipt
    assert post_command(client, "list", user_id=ZOE).json()["text"].startswith("Your time off: 1 pending")

    click(client, fake_slack, SAM, ids.APPROVE_ACTION, posted)  # Sales' approver may not decide it
    assert status_of(fake_slack, posted)["status"] == "pending"
    assert "You are not an approver for Engineering, so you can't decide this request." in told(fake_slack, SAM)


def soon() -> date:
    """A Tuesday, Wednesday or Thursday within Los Angeles' next week, not a public holiday there."""
    import holidays

    day = datetime.now(LA).date() + timedelta(days=1)
    while day.weekday() not in (1, 2, 3) or day in holidays.US(subdiv="CA", years=day.year):
        day += timedelta(days=1)
    return day


def test_someone_in_two_teams_sees_the_first_teams_colleagues_out_on_app_home_and_in_who(client, fake_slack, acme):
    install_config(two_teams())
    day = soon()
    approved(client, fake_slack, ALICE, BOB, C_ENG_APPROVALS, day, day, view_id="V_ALICE")
    approved(client, fake_slack, CAROL, SAM, C_SALES_APPROVALS, day, day, view_id="V_CAROL")
    fake_slack.clear_calls()

    who = post_command(client, "who", user_id=ZOE)
    who_text = (who.json()["text"] if who.content else "") + "\n".join(dms_to(fake_slack, ZOE))
    assert "Engineering" in who_text and f"<@{ALICE}>" in who_text, who_text
    assert f"<@{CAROL}>" not in who_text, who_text
    home_text(client, fake_slack, ZOE, "Ev_ZOE_HOME_1")  # the team's slices warm from here
    home = home_text(client, fake_slack, ZOE, "Ev_ZOE_HOME_2")
    assert "(Engineering)" in home and f"<@{ALICE}>" in home, home
    assert f"<@{CAROL}>" not in home and "(Sales)" not in home, home


def test_the_weekly_digest_lists_someone_in_two_teams_only_in_the_first_teams_channel(client, fake_slack, acme):
    install_config(two_teams())
    approved(client, fake_slack, ZOE, BOB, C_ENG_APPROVALS, view_id="V_ZOE")
    fake_slack.clear_calls()

    run_jobs(MONDAY_AT_NINE)

    eng = [p["text"] for p in posts_in(fake_slack, C_ENG) if "Who's out" in p["text"]]
    sales = [p["text"] for p in posts_in(fake_slack, C_SALES)]
    assert len(eng) == 1 and f"<@{ZOE}>" in eng[0], eng
    assert sales and not [t for t in sales if f"<@{ZOE}>" in t], sales


# --- Approvers who ask for leave themselves -----------------------------------------------------------


def test_an_approver_of_sales_who_works_in_engineering_asks_engineerings_approvers_and_still_decides_sales(
        client, fake_slack, acme):
    with acme.lock:
        acme.channels[C_ENG].members.add(SAM)
    install_config(two_teams())
    ask(client, fake_slack, CAROL, APRIL_MONDAY, APRIL_WEDNESDAY, view_id="V_CAROL")
    request_time_off(client, fake_slack, SAM)

    [sams] = posted_requests(fake_slack, C_ENG_APPROVALS)
    assert f"<@{BOB}>" in sams.params["text"] and f"<@{SAM}>" in sams.params["text"].split(" — for ")[0]
    assert f"<@{SAM}>" not in sams.params["text"].split(" — for ")[1]  # not among its approvers
    assert f"<@{HR}>" not in sams.params["text"]  # Engineering has approvers: HR is not asked

    click(client, fake_slack, SAM, ids.APPROVE_ACTION, sams)
    assert status_of(fake_slack, sams)["status"] == "pending"
    assert "You can't decide your own request; another approver will." in told(fake_slack, SAM)

    [carols] = posted_requests(fake_slack, C_SALES_APPROVALS)
    click(client, fake_slack, SAM, ids.APPROVE_ACTION, carols)
    assert (status_of(fake_slack, carols)["status"], status_of(fake_slack, carols)["decided_by"]) == ("approved", SAM)
    click(client, fake_slack, BOB, ids.APPROVE_ACTION, sams)
    assert status_of(fake_slack, sams)["decided_by"] == BOB
    announced = [p["text"] for p in posts_in(fake_slack, C_ENG) if f"<@{SAM}>" in p["text"]]
    assert announced and not [p for p in posts_in(fake_slack, C_SALES) if f"<@{SAM}>" in p["text"]]


def test_hr_who_approves_for_sales_and_works_there_asks_the_other_sales_approver_not_themselves(
        client, fake_slack, acme):
    with acme.lock:
        acme.channels[C_SALES].members.add(HR)
    install_config(two_teams(ENG, replace(SALES, approvers=ApproverSource(users=(SAM, HR)))))

    request_time_off(client, fake_slack, HR)

    [posted] = posted_requests(fake_slack, C_SALES_APPROVALS)
    approvers = posted.params["text"].split(" — for ")[1]
    assert f"<@{SAM}>" in approvers and f"<@{HR}>" not in approvers, posted.params["text"]
    [receipt] = receipts_of(fake_slack, HR)
    assert receipt.endswith(f"is with <@{SAM}> (Sales). I'll let you know when they decide."), receipt
    click(client, fake_slack, HR, ids.APPROVE_ACTION, posted)
    assert status_of(fake_slack, posted)["status"] == "pending"
    assert "You can't decide your own request; another approver will." in told(fake_slack, HR)


def test_hr_who_is_a_teams_only_approver_asks_another_fallback_approver(client, fake_slack, acme):
    other_hr = "U_HR2"
    acme.add_user(other_hr, "harriet", email="harriet@example.com", real_name="Harriet Holm")
    with acme.lock:
        acme.channels[C_SALES].members.add(HR)
    install_config(two_teams(ENG, replace(SALES, approvers=ApproverSource(users=(HR,))),
                             fallback_approvers=(HR, other_hr)))

    request_time_off(client, fake_slack, HR)

    [posted] = posted_requests(fake_slack, C_SALES_APPROVALS)
    approvers = posted.params["text"].split(" — for ")[1]
    assert f"<@{other_hr}>" in approvers and f"<@{HR}>" not in approvers, posted.params["text"]
    click(client, fake_slack, other_hr, ids.APPROVE_ACTION, posted)
    assert (status_of(fake_slack, posted)["status"], status_of(fake_slack, posted)["decided_by"]) == (
        "approved", other_hr)
    assert [t for t in dms_to(fake_slack, HR) if t.startswith(f":white_check_mark: <@{other_hr}> approved your")]


# --- Two people of one name ---------------------------------------------------------------------------

KIM_1, KIM_2 = "U0KIM0001", "U0KIM0002"


def test_two_people_of_one_name_ask_for_the_same_days_and_each_request_and_decision_is_their_own(
        client, fake_slack):
    for user, handle, email in ((KIM_1, "alex.kim", "alex.kim@example.com"), (KIM_2, "akim", "akim@example.com")):
        fake_slack.workspace.add_user(user, handle, tz="America/Los_Angeles", email=email, real_name="Alex Kim")
        with fake_slack.workspace.lock:
            fake_slack.workspace.channels[C_ENG].members.add(user)
    install_config()

    ask(client, fake_slack, KIM_1, MONDAY, WEDNESDAY, view_id="V_KIM1")
    ask(client, fake_slack, KIM_2, MONDAY, WEDNESDAY, view_id="V_KIM2")  # not "overlapping" the other's

    first, second = posted_requests(fake_slack)
    assert (status_of(fake_slack, first)["user"], status_of(fake_slack, second)["user"]) == (KIM_1, KIM_2)
    also_out = str(second.params["blocks"])
    assert f"<@{KIM_1}>" in also_out, also_out  # the other Alex Kim, told apart by their Slack id
    click(client, fake_slack, BOB, ids.APPROVE_ACTION, first)
    assert [t for t in dms_to(fake_slack, KIM_1) if "approved your" in t]
    assert not [t for t in dms_to(fake_slack, KIM_2) if "approved your" in t]
    assert post_command(client, "list", user_id=KIM_2).json()["text"].startswith("Your time off: 1 pending")


# --- Someone Slack knows no email address of -----------------------------------------------------


def test_someone_slack_has_no_email_address_for_is_recorded_for_by_hr_and_told(client, fake_slack):
    fake_slack.workspace.add_user("U0NOMAIL1", "nomail", real_name="No Mail")
    with fake_slack.workspace.lock:
        person = fake_slack.workspace.users["U0NOMAIL1"]
        person.email = None
        fake_slack.workspace.channels[C_ENG].members.add("U0NOMAIL1")
    install_config()

    response = post_command(client, f"for <@U0NOMAIL1|nomail> {MONDAY} {WEDNESDAY} vacation", user_id=HR)
    assert response.status_code == 200 and response.content == b"", response.content
    view = fake_slack.last_call("views.open").params["view"]
    view = json.loads(view) if isinstance(view, str) else view
    values = request_values("vacation", MONDAY, WEDNESDAY)
    assert post_interaction(client, view_submission_payload(user_id=HR, view=view, values={
        k: v for k, v in values.items() if k in {b.get("block_id") for b in view["blocks"]}},
        view_id="V_REC")).status_code == 200

    [posted] = posted_requests(fake_slack)
    assert (status_of(fake_slack, posted)["user"], status_of(fake_slack, posted)["status"]) == ("U0NOMAIL1",
                                                                                                  "approved")
    assert [t for t in dms_to(fake_slack, "U0NOMAIL1") if t.startswith(f"<@{HR}> recorded time off for you: ")]


# --- An Enterprise Grid approver (a W id) -------------------------------------------------------------

W_LEAD = "W0456EFGH"


def test_an_enterprise_grid_approver_in_the_approvers_channel_approves_from_app_home(client, fake_slack):
    fake_slack.workspace.add_user(W_LEAD, "liam", email="liam@example.com", real_name="Liam Grid")
    with fake_slack.workspace.lock:
        fake_slack.workspace.channels[C_ENG_LEADS].members.add(W_LEAD)
    install_config()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    assert f"<@{W_LEAD}>" in posted.params["text"]

    home = open_app_home(client, fake_slack, W_LEAD, "Ev_W_HOME")
    assert "Waiting for your decision" in json.dumps(home["blocks"])
    block_id, value = buttons_in(home["blocks"])[ids.APPROVE_ACTION]
    payload = block_actions_payload(user_id=W_LEAD, action_id=ids.APPROVE_ACTION, value=value, block_id=block_id,
                                    channel_id="D_HOME", message_ts="1766000000.000200")
    payload.pop("message", None)
    payload.pop("channel", None)
    payload["container"] = {"type": "view", "view_id": "V_HOME"}
    payload["view"] = {"id": "V_HOME", "type": "home", "blocks": home["blocks"], "hash": "hh"}
    assert post_interaction(client, payload).status_code == 200

    assert (status_of(fake_slack, posted)["status"], status_of(fake_slack, posted)["decided_by"]) == (
        "approved", W_LEAD)
    assert f":white_check_mark: <@{W_LEAD}> approved your " in "".join(dms_to(fake_slack, ALICE))


# --- Moved from one team to another between requesting and approval -----------------------------------


def test_after_a_move_to_sales_engineerings_approvers_decide_the_request_and_engineering_hears(
        client, fake_slack, acme):
    install_config(two_teams())
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack, C_ENG_APPROVALS)
    move(client, fake_slack, ALICE, leaving=C_ENG, joining=C_SALES, n=1)
    fake_slack.clear_calls()

    engineering_decides(client, fake_slack, posted, ALICE)


def test_after_a_move_a_request_still_engineerings_is_held_to_engineerings_max_out_not_sales(
        client, fake_slack, acme):
    install_config(two_teams(replace(ENG, max_out=1), replace(SALES, max_out=1)))
    request_time_off(client, fake_slack, ALICE)  # pending in Engineering, Mon–Wed
    [alices] = posted_requests(fake_slack, C_ENG_APPROVALS)
    approved(client, fake_slack, CAROL, SAM, C_SALES_APPROVALS, view_id="V_CAROL")  # Sales is full Mon–Wed
    move(client, fake_slack, ALICE, leaving=C_ENG, joining=C_SALES, n=2)
    fake_slack.clear_calls()

    click(client, fake_slack, BOB, ids.APPROVE_ACTION, alices)

    assert status_of(fake_slack, alices)["status"] == "approved", told(fake_slack, BOB)


def test_after_a_move_a_request_still_engineerings_is_refused_when_engineering_is_full(client, fake_slack, acme):
    """Both were sent while two could be out; HR then lowers Engineering's max_out to one and moves Alice to
    Sales. Her request is still Engineering's: Dave's approved leave fills Engineering, so Bob is refused."""
    install_config(two_teams(replace(ENG, max_out=2), replace(SALES, max_out=1)))
    request_time_off(client, fake_slack, ALICE)  # pending in Engineering, Mon–Wed
    [alices] = posted_requests(fake_slack, C_ENG_APPROVALS)
    approved(client, fake_slack, DAVE, BOB, C_ENG_APPROVALS, view_id="V_DAVE")
    install_config(two_teams(replace(ENG, max_out=1), replace(SALES, max_out=1)))
    move(client, fake_slack, ALICE, leaving=C_ENG, joining=C_SALES, n=3)
    fake_slack.clear_calls()

    click(client, fake_slack, BOB, ids.APPROVE_ACTION, alices)

    assert status_of(fake_slack, alices)["status"] == "pending"
    assert [t for t in told(fake_slack, BOB) if t.startswith("You can't approve this yet: ")
            and "is full for Engineering: 1 person is already out, and at most 1 can be out at once" in t], \
        told(fake_slack, BOB)


def test_after_a_move_new_leave_goes_to_sales_and_old_leave_still_counts_as_hers(client, fake_slack, acme):
    install_config(two_teams())
    approved(client, fake_slack, ALICE, BOB, C_ENG_APPROVALS, view_id="V_ALICE")
    move(client, fake_slack, ALICE, leaving=C_ENG, joining=C_SALES, n=4)
    fake_slack.clear_calls()

    view = open_request_form(client, fake_slack, ALICE)
    overlapping = submit_request(client, ALICE, view, request_values("vacation", TUESDAY, TUESDAY),
                                 view_id="V_OVER", view_hash="ho")
    assert posted_requests(fake_slack, C_SALES_APPROVALS) == []
    said = overlapping.content.decode() + "\n".join(dms_to(fake_slack, ALICE))
    assert "This overlaps your approved leave on Mon 10 Mar 2031 – Wed 12 Mar 2031" in said, said

    ask(client, fake_slack, ALICE, APRIL_MONDAY, APRIL_WEDNESDAY, view_id="V_APRIL")
    [april] = posted_requests(fake_slack, C_SALES_APPROVALS)
    assert status_of(fake_slack, april)["team"] == "Sales" and f"<@{SAM}>" in april.params["text"]
    assert post_command(client, "list", user_id=ALICE).json()["text"].startswith("Your time off: 1 pending, 1 coming")


def test_after_a_move_earlier_leave_stays_in_the_old_teams_digest_and_not_the_new_ones(client, fake_slack, acme):
    """README: leave is the team's it was requested in: someone HR moves to another team keeps their earlier
    leave in the old team's posts."""
    install_config(two_teams())
    approved(client, fake_slack, ALICE, BOB, C_ENG_APPROVALS, view_id="V_ALICE")
    move(client, fake_slack, ALICE, leaving=C_ENG, joining=C_SALES, n=5)
    fake_slack.clear_calls()

    run_jobs(MONDAY_AT_NINE)

    eng = [p["text"] for p in posts_in(fake_slack, C_ENG) if "Who's out" in p["text"]]
    assert len(eng) == 1 and f"<@{ALICE}>" in eng[0], eng
    assert not [p["text"] for p in posts_in(fake_slack, C_SALES) if f"<@{ALICE}>" in p["text"]]


def test_someone_in_two_teams_whose_teams_hr_reorders_while_a_request_waits_is_decided_by_the_team_it_records(
        client, fake_slack, acme):
    install_config(two_teams(ENG, SALES))
    request_time_off(client, fake_slack, ZOE)
    [posted] = posted_requests(fake_slack, C_ENG_APPROVALS)
    install_config(two_teams(SALES, ENG))  # Zoe is Sales' now, for what she asks next
    fake_slack.clear_calls()

    engineering_decides(client, fake_slack, posted, ZOE)


# --- Approvers who are away, or are the requester ----------------------------------------------------


def test_with_the_only_approver_on_leave_that_day_the_receipt_still_names_him_and_hr_may_not_decide(
        client, fake_slack):
    bob_alone = replace(ENGINEERING, approvers=ApproverSource(users=(BOB,)))
    install_config(standard_config(teams=(bob_alone,)))
    ask(client, fake_slack, BOB, MONDAY, WEDNESDAY, view_id="V_BOB")  # his own: HR decides it
    [bobs] = posted_requests(fake_slack)
    click(client, fake_slack, HR, ids.APPROVE_ACTION, bobs)
    assert status_of(fake_slack, bobs)["status"] == "approved"
    fake_slack.clear_calls()

    ask(client, fake_slack, ALICE, TUESDAY, TUESDAY, view_id="V_ALICE")

    [alices] = posted_requests(fake_slack)
    [receipt] = receipts_of(fake_slack, ALICE)
    assert receipt.endswith(f"is with <@{BOB}> (Engineering). I'll let you know when they decide."), receipt
    click(client, fake_slack, HR, ids.APPROVE_ACTION, alices)
    assert status_of(fake_slack, alices)["status"] == "pending"
    assert "You are not an approver for Engineering, so you can't decide this request." in told(fake_slack, HR)


C_SOLO = "C_SOLO_LEADS"


def test_a_team_whose_approvers_channel_holds_only_the_requester_asks_hr(client, fake_slack):
    fake_slack.workspace.add_channel(C_SOLO, "solo-leads", members=[DAVE], private=True)
    install_config(standard_config(teams=(replace(ENGINEERING, approvers=ApproverSource(channel=C_SOLO)),)))

    request_time_off(client, fake_slack, DAVE)

    [daves] = posted_requests(fake_slack)
    approvers = daves.params["text"].split(" — for ")[1]
    assert f"<@{HR}>" in approvers and f"<@{DAVE}>" not in approvers, daves.params["text"]
    [receipt] = receipts_of(fake_slack, DAVE)
    assert receipt.endswith(f"is with <@{HR}> (Engineering). I'll let you know when they decide."), receipt
    click(client, fake_slack, HR, ids.APPROVE_ACTION, daves)
    assert (status_of(fake_slack, daves)["status"], status_of(fake_slack, daves)["decided_by"]) == ("approved", HR)

    fake_slack.clear_calls()
    ask(client, fake_slack, ALICE, APRIL_MONDAY, APRIL_WEDNESDAY, view_id="V_ALICE")  # Dave decides Alice's
    alices = posted_requests(fake_slack)[-1]
    assert f"<@{DAVE}>" in alices.params["text"].split(" — for ")[1]
    click(client, fake_slack, HR, ids.APPROVE_ACTION, alices)
    assert status_of(fake_slack, alices)["status"] == "pending"


# --- Someone deactivated with leave pending and approved ----------------------------------------------


def test_someone_deactivated_with_pending_and_approved_leave_hr_is_told_of_the_pending_one_only(
        client, fake_slack):
    install_config()
    approved(client, fake_slack, ALICE, BOB, C_ENG_APPROVALS, view_id="V_MARCH")
    ask(client, fake_slack, ALICE, APRIL_MONDAY, APRIL_WEDNESDAY, view_id="V_APRIL")
    april = posted_requests(fake_slack)[-1]
    fake_slack.clear_calls()

    deactivate(client, fake_slack, ALICE, "Ev_ALICE_GONE")

    assert [t for t in dms_to(fake_slack, HR) if "was deactivated" in t] == [
        f"<@{ALICE}>'s Slack account was deactivated with 1 pending time-off request(s). "
        "Decide or withdraw them (`/timeoff for @person list`)."]
    hr_list = post_command(client, f"for <@{ALICE}|alice> list", user_id=HR)
    assert hr_list.status_code == 200
    listed = json.dumps(hr_list.json()) if hr_list.content else json.dumps([c.params for c in
                                                                           fake_slack.calls("chat.postMessage")])
    assert "1 pending" in listed and "1 coming up" in listed, listed

    click(client, fake_slack, BOB, ids.APPROVE_ACTION, april)
    assert status_of(fake_slack, april)["status"] == "approved"
    assert dms_to(fake_slack, ALICE) == []
    assert not [p for p in posts_in(fake_slack, C_ENG) if f"<@{ALICE}>" in p["text"]]


# --- A guest ----------------------------------------------------------------------------------------

GUEST = "U0GUEST09"


def test_a_guest_in_the_approvers_channel_who_asks_for_leave_goes_to_the_staff_approvers(client, fake_slack):
    fake_slack.workspace.add_user(GUEST, "gus", tz="America/Los_Angeles", email="gus@contractor.example",
                                  real_name="Gus Guest")
    with fake_slack.workspace.lock:
        fake_slack.workspace.users[GUEST].is_restricted = True
        for channel in (C_ENG, C_ENG_LEADS):
            fake_slack.workspace.channels[channel].members.add(GUEST)
    install_config()
    request_time_off(client, fake_slack, ALICE)  # Alice's, which the guest may not decide

    request_time_off(client, fake_slack, GUEST)

    alices, guests = posted_requests(fake_slack)
    for posted in (alices, guests):
        assert f"<@{GUEST}>" not in posted.params["text"].split(" — for ")[1], posted.params["text"]
    [receipt] = receipts_of(fake_slack, GUEST)
    assert f"<@{BOB}>" in receipt and receipt.endswith(" (Engineering). I'll let you know when they decide.")
    click(client, fake_slack, BOB, ids.APPROVE_ACTION, guests)
    assert status_of(fake_slack, guests)["status"] == "approved"
    assert [t for t in dms_to(fake_slack, GUEST) if t.startswith(f":white_check_mark: <@{BOB}> approved your")]
    assert [p["text"] for p in posts_in(fake_slack, C_ENG) if f"<@{GUEST}>" in p["text"]] == [
        f":palm_tree: <@{GUEST}> will be out Mon 10 Mar 2031 – Wed 12 Mar 2031 (Vacation)."]
