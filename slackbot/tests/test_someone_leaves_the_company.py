"""Someone leaves the company while leave is in flight, as Slack tells it.

Slack deactivates the account: the app hears a `user_change` event whose user carries `deleted: true`,
and `users.info` answers `deleted: true` from then on. Slack still takes a `chat.postMessage` to a
deactivated user's id (python-slack-sdk#1156: it "succeeds with no error"; the DM lands in an archived
conversation nobody reads), while `conversations.open` answers `user_disabled`: the app has to know
from `users.info` whom not to write to. README, "Someone leaves", is the promise.

Alice (Engineering) leaves with a request pending, or with approved leave ahead; Bob (her approver)
leaves; Hannah (HR, the only fallback approver) leaves; HR records leave for someone who has left;
someone comes back. What is read: the calls that reached the fake Slack, the HTTP answers, the console.
"""

import json
from dataclasses import replace
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import pytest

from approvals import block_ids as ids
from approvals import slack_directory
from approvals.block_kit import mention
from approvals.config_types import ApproverSource
from approvals.models import DeliveryProblem
from approvals.slack_clients import background_client
from fake_slack.personas import C_ENG, C_ENG_APPROVALS
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
    open_app_home,
    open_request_form,
    posted_requests,
    press,
    request_time_off,
    request_values,
    standard_config,
    submit_request,
)
from test_support.job_runs import posts_in, run_jobs
from test_support.slack_faults import failing
from test_support.slack_requests import (
    event_envelope,
    post_command,
    post_event,
    post_interaction,
    view_submission_payload,
)

pytestmark = pytest.mark.django_db

LA = ZoneInfo("America/Los_Angeles")
# 2031, clear of US/CA holidays: Alice's leave is Mon 10 – Wed 12 March.
FRIDAY, MONDAY, TUESDAY, WEDNESDAY = date(2031, 3, 7), date(2031, 3, 10), date(2031, 3, 11), date(2031, 3, 12)
ENG = replace(ENGINEERING, digest_time=time(9, 0), nudge_after_hours=48)
BOB_ALONE = replace(ENG, approvers=ApproverSource(users=(BOB,)))  # no approvers channel: Bob is the only one


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=LA)


def profile_change(client, fake_slack, user: str, *, deleted: bool, event_id: str):
    """Slack deactivates (or reactivates) `user`, then sends `user_change` with the whole profile, as it does."""
    with fake_slack.workspace.lock:
        fake_slack.workspace.users[user].deleted = deleted
        profile = fake_slack.workspace.users[user].to_api()
    response = post_event(client, event_envelope({"type": "user_change", "user": profile,
                                                  "event_ts": "1766000000.000400"}, event_id=event_id))
    assert response.status_code == 200, response.content
    return response


def deactivate(client, fake_slack, user: str, event_id: str):
    return profile_change(client, fake_slack, user, deleted=True, event_id=event_id)


def reactivate(client, fake_slack, user: str, event_id: str):
    return profile_change(client, fake_slack, user, deleted=False, event_id=event_id)


def request_payload(fake_slack, posted) -> dict:
    message = fake_slack.workspace.find_message(posted.response["channel"], posted.response["ts"])
    return message.metadata["event_payload"]


def announcements(fake_slack) -> list[str]:
    return [post["text"] for post in posts_in(fake_slack, C_ENG)]


def home_text(client, fake_slack, user: str, event_id: str) -> str:
    return json.dumps(open_app_home(client, fake_slack, user, event_id)["blocks"])


def approved_leave_of(client, fake_slack, user=ALICE):
    """`user` asks for Mon 10 – Wed 12 March 2031 and Bob approves it."""
    request_time_off(client, fake_slack, user)
    [posted] = posted_requests(fake_slack)
    click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted)
    assert request_payload(fake_slack, posted)["status"] == "approved"
    return posted


# --- The requester leaves with a request pending ---------------------------------------------------


def test_approvers_still_find_a_departed_persons_pending_request_on_their_app_home(client, fake_slack):
    install_config(standard_config(teams=(ENG,)))
    request_time_off(client, fake_slack, ALICE)
    deactivate(client, fake_slack, ALICE, "Ev_ALICE_GONE_HOME")

    waiting = home_text(client, fake_slack, BOB, "Ev_BOB_HOME")
    assert "Waiting for your decision" in waiting and mention(ALICE) in waiting, waiting


def test_approving_a_departed_persons_request_records_it_in_the_thread_but_tells_the_team_nothing(client,
                                                                                                    fake_slack):
    """Alice left last week; Bob approves what she asked for (so that it is paid out, say). The ledger
    and the thread record it, and no DM goes to her account. "<@Alice> will be out Mon 10 Mar – Wed 12"
    in #engineering would be untrue: she is not out, she is gone (README leaves out announcements for
    the same reason when leave is recorded after it is over)."""
    install_config(standard_config(teams=(ENG,)))
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    deactivate(client, fake_slack, ALICE, "Ev_ALICE_GONE_APPROVE")
    fake_slack.clear_calls()

    click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted)

    assert request_payload(fake_slack, posted)["status"] == "approved"
    replies = [c.params["text"] for c in fake_slack.calls("chat.postMessage")
               if c.params.get("channel") == C_ENG_APPROVALS and c.params.get("thread_ts") == posted.response["ts"]]
    assert replies, "the approval was not narrated in the request's thread"
    assert dms_to(fake_slack, ALICE) == []
    assert not [c for c in fake_slack.calls("conversations.open") if ALICE in str(c.params.get("users"))]
    assert not [text for text in announcements(fake_slack) if "will be out" in text], announcements(fake_slack)


def test_rejecting_a_departed_persons_request_sends_her_no_dm(client, fake_slack):
    install_config(standard_config(teams=(ENG,)))
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    deactivate(client, fake_slack, ALICE, "Ev_ALICE_GONE_REJECT")
    fake_slack.clear_calls()

    click(client, fake_slack, BOB, ids.REJECT_ACTION, posted)
    modal = fake_slack.last_call("views.open").params["view"]
    values = {ids.REASON_BLOCK: {ids.REASON_ACTION: {"type": "plain_text_input", "value": "She has left"}}}
    response = post_interaction(client, view_submission_payload(user_id=BOB, view=modal, values=values,
                                                                view_id="V_REASON"))

    assert response.status_code == 200
    assert request_payload(fake_slack, posted)["status"] == "rejected"
    assert dms_to(fake_slack, ALICE) == []


def test_a_decision_dm_slack_refuses_for_a_departed_person_is_tried_once_and_shown_to_hr(client, fake_slack,
                                                                                           admin_client, attempts):
    """The `user_change` event has not come yet (the app was down when Slack sent it; Alice's profile is
    cached as active for a day) and Slack refuses the DM about Bob's decision for her disabled account.
    The decision stands, the DM is not tried over and over, and HR can see that she was not told."""
    install_config(standard_config(teams=(ENG,)))
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    with fake_slack.workspace.lock:
        fake_slack.workspace.users[ALICE].deleted = True  # no event: the app does not know yet
    fake_slack.clear_calls()

    def dm_to_alice(method, params):
        return method == "chat.postMessage" and params.get("channel") == ALICE

    with failing(fake_slack, dm_to_alice, "user_disabled", times=None) as refused:
        click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted)

    assert request_payload(fake_slack, posted)["status"] == "approved"
    assert 1 <= len(refused) <= 2, refused  # the outcome DM, perhaps the receipt's update: not retried
    assert len([a for a in attempts if a[1] > 1]) == 0, attempts
    assert not [t for t in ephemerals_to(fake_slack, BOB) if "try again" in t.lower()]  # Bob's click worked
    page = admin_client.get("/console/setup/").content.decode()
    problems = page.split('id="delivery-problems"', 1)[1].split("</table>", 1)[0] if 'id="delivery-problems"' in page \
        else ""
    assert "user_disabled" in problems, page[page.find("Recent delivery problems"):][:2000]


def test_hr_can_withdraw_a_departed_persons_pending_request_and_she_is_not_told(client, fake_slack):
    install_config(standard_config(teams=(ENG,)))
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    deactivate(client, fake_slack, ALICE, "Ev_ALICE_GONE_WITHDRAW")
    assert [dm for dm in dms_to(fake_slack, HR) if "was deactivated" in dm and "/timeoff for @person list" in dm]
    fake_slack.clear_calls()

    listed = post_command(client, f"for <@{ALICE}> list", user_id=HR).json()
    press(client, HR, listed["blocks"], ids.WITHDRAW_ACTION, channel="C_GENERAL", on_list=True)

    assert request_payload(fake_slack, posted)["status"] == "cancelled"
    assert dms_to(fake_slack, ALICE) == []


# --- The requester leaves with approved leave ahead ------------------------------------------------


def test_a_departed_person_gets_no_reminder_and_none_is_counted(client, fake_slack):
    install_config(standard_config(teams=(ENG,)))
    approved_leave_of(client, fake_slack)
    deactivate(client, fake_slack, ALICE, "Ev_ALICE_GONE_REMIND")
    fake_slack.clear_calls()

    said = run_jobs(at(FRIDAY, 15, 0), "--team", "Engineering")

    assert "reminders Engineering 2031-03-07: 0 reminder(s)" in said, said
    assert dms_to(fake_slack, ALICE) == []


def test_the_out_today_post_does_not_say_a_departed_person_is_out(client, fake_slack):
    """Alice left on Friday with Mon–Wed approved. Tuesday's "Out today in Engineering: @Alice" tells her
    team she is off and back on Thursday: she is not coming back."""
    install_config(standard_config(teams=(ENG,)))
    approved_leave_of(client, fake_slack)
    deactivate(client, fake_slack, ALICE, "Ev_ALICE_GONE_OUT")
    fake_slack.clear_calls()

    run_jobs(at(TUESDAY, 9, 0), "--team", "Engineering")

    posts = announcements(fake_slack)
    assert not [text for text in posts if mention(ALICE) in text], posts


def test_the_weekly_digest_does_not_list_a_departed_person(client, fake_slack):
    install_config(standard_config(teams=(ENG,)))
    approved_leave_of(client, fake_slack)
    deactivate(client, fake_slack, ALICE, "Ev_ALICE_GONE_DIGEST")
    fake_slack.clear_calls()

    run_jobs(at(MONDAY, 9, 0), "--team", "Engineering")

    [digest] = [text for text in announcements(fake_slack) if "Who's out" in text or "Nobody in" in text]
    assert mention(ALICE) not in digest, digest


def test_the_weekly_digest_still_lists_the_colleagues_who_stay(client, fake_slack):
    install_config(standard_config(teams=(ENG,)))
    approved_leave_of(client, fake_slack)
    view = open_request_form(client, fake_slack, DAVE)
    submit_request(client, DAVE, view, request_values("vacation", MONDAY, TUESDAY), view_id="V_DAVE", view_hash="hd")
    dave_posted = posted_requests(fake_slack)[-1]
    click(client, fake_slack, BOB, ids.APPROVE_ACTION, dave_posted)
    deactivate(client, fake_slack, ALICE, "Ev_ALICE_GONE_DIGEST2")
    fake_slack.clear_calls()

    run_jobs(at(MONDAY, 9, 0), "--team", "Engineering")

    [digest] = [text for text in announcements(fake_slack) if "Who's out" in text]
    assert mention(DAVE) in digest, digest


# --- An approver leaves ------------------------------------------------------------------------------


def test_a_request_sent_after_an_approver_left_neither_mentions_nor_waits_on_them(client, fake_slack):
    install_config(standard_config(teams=(ENG,)))  # Bob by name, and #eng-leads (Bob, Dave)
    deactivate(client, fake_slack, BOB, "Ev_BOB_GONE_NEW")
    fake_slack.clear_calls()

    request_time_off(client, fake_slack, ALICE)

    [posted] = posted_requests(fake_slack)
    assert mention(BOB) not in posted.params["text"] and mention(DAVE) in posted.params["text"], posted.params["text"]
    receipts = dms_to(fake_slack, ALICE)
    assert receipts and not [t for t in receipts if mention(BOB) in t], receipts


def test_a_request_whose_only_approver_left_goes_to_hr_at_once(client, fake_slack):
    install_config(standard_config(teams=(BOB_ALONE,)))
    deactivate(client, fake_slack, BOB, "Ev_BOB_GONE_ALONE")
    fake_slack.clear_calls()

    request_time_off(client, fake_slack, ALICE)

    [posted] = posted_requests(fake_slack)
    assert mention(HR) in posted.params["text"] and mention(BOB) not in posted.params["text"], posted.params["text"]
    assert [t for t in dms_to(fake_slack, ALICE) if mention(HR) in t], dms_to(fake_slack, ALICE)
    assert "Waiting for your decision" in home_text(client, fake_slack, HR, "Ev_HR_HOME_ALONE")
    click(client, fake_slack, HR, ids.APPROVE_ACTION, posted)
    assert request_payload(fake_slack, posted)["decided_by"] == HR


# --- HR (the only fallback approver) has left too -------------------------------------------------


def test_a_request_nobody_left_may_decide_is_not_posted_and_the_requester_is_told_with_what_she_asked(client,
                                                                                                       fake_slack):
    """Bob was Engineering's only approver and Hannah the only fallback approver; both have left. README:
    "A request nobody at all could approve … is not posted: the requester is told why by DM, with what
    they asked for"."""
    install_config(standard_config(teams=(BOB_ALONE,)))
    deactivate(client, fake_slack, HR, "Ev_HR_GONE_1")
    deactivate(client, fake_slack, BOB, "Ev_BOB_GONE_1")
    fake_slack.clear_calls()

    view = open_request_form(client, fake_slack, ALICE)
    response = submit_request(client, ALICE, view, request_values("vacation", MONDAY, WEDNESDAY, note="Family visit"))

    assert response.status_code == 200
    assert posted_requests(fake_slack) == []
    told = dms_to(fake_slack, ALICE) + ([json.dumps(response.json())] if response.content else [])
    assert [t for t in told if "Family visit" in t or "10 Mar" in t], told
    assert dms_to(fake_slack, HR) == [] and dms_to(fake_slack, BOB) == []


def test_when_the_requester_leaves_and_hr_has_left_too_the_console_still_lists_her_pending_request(
        client, fake_slack, admin_client):
    install_config(standard_config(teams=(ENG,)))
    request_time_off(client, fake_slack, ALICE)
    deactivate(client, fake_slack, HR, "Ev_HR_GONE_2")
    fake_slack.clear_calls()

    deactivate(client, fake_slack, ALICE, "Ev_ALICE_GONE_2")

    assert dms_to(fake_slack, HR) == []  # a DM to a departed HR person is not sent
    [problem] = DeliveryProblem.objects.filter(error="user_deactivated")
    assert problem.user == ALICE
    page = admin_client.get("/console/setup/").content.decode()
    assert "user_deactivated" in page and "decide or withdraw it" in page, page[:3000]


def test_when_the_only_approver_and_hr_have_both_left_the_setup_page_says_nobody_decides_for_the_team(
        client, fake_slack, admin_client):
    """Alice's request waits on Bob; Hannah (the only fallback approver) left last month; now Bob leaves.
    No DM can tell HR (the only person to tell is gone): the setup page, which "names the teams nobody can
    approve for … whose people would otherwise hear it only when they send a request", is where HR's
    successor looks. A team whose named approver and fallback approvers are all deactivated is such a team."""
    install_config(standard_config(teams=(BOB_ALONE,)))
    request_time_off(client, fake_slack, ALICE)
    deactivate(client, fake_slack, HR, "Ev_HR_GONE_3")
    deactivate(client, fake_slack, BOB, "Ev_BOB_GONE_3")

    admin_client.get("/console/setup/")  # the first visit has the check run (at once, in tests)
    page = admin_client.get("/console/setup/").content.decode()

    assert 'id="connection"' in page  # the check ran and its report is shown
    warning = page.split('id="teams-nobody-approves"', 1)[1].split("</p>", 1)[0] \
        if 'id="teams-nobody-approves"' in page else ""
    assert "Engineering" in warning, page[page.find("<main"):][:3000]


def test_when_the_only_approver_and_hr_have_both_left_the_requester_is_not_left_waiting_on_someone_gone(
        client, fake_slack):
    """Alice's receipt says her request "is with @Bob". Bob leaves, and Hannah, the only fallback approver,
    had left already: nobody may decide it now. When HR is there, her receipt is rewritten to say it "is
    with @Hannah" (README, "Someone leaves"); here it goes on naming someone who is gone, and nobody at all
    is told. For a new request README says the requester is told why nobody can decide it; a request
    already waiting should not be left saying less."""
    install_config(standard_config(teams=(BOB_ALONE,)))
    request_time_off(client, fake_slack, ALICE)
    deactivate(client, fake_slack, HR, "Ev_HR_GONE_5")
    fake_slack.clear_calls()

    deactivate(client, fake_slack, BOB, "Ev_BOB_GONE_5")

    receipts = [c.params.get("text", "") for c in fake_slack.calls("chat.update")
                if str(c.params.get("channel", "")).startswith("D")]
    told = receipts + dms_to(fake_slack, ALICE)
    assert told, "Alice was told nothing; her receipt still says her request is with Bob"
    assert not [t for t in told if "is with" in t and mention(BOB) in t], told


def test_hr_who_left_cannot_decide_a_request_any_more(client, fake_slack):
    install_config(standard_config(teams=(ENG,)))
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    deactivate(client, fake_slack, HR, "Ev_HR_GONE_4")

    click(client, fake_slack, HR, ids.APPROVE_ACTION, posted)

    assert request_payload(fake_slack, posted)["status"] == "pending"


# --- HR records leave for someone who has left -------------------------------------------------------


FRANK = "U_FRANK"


def frank_in_engineering(fake_slack):
    """Frank, listed in Engineering by name, whose account has been deactivated."""
    fake_slack.workspace.add_user(FRANK, "frank", real_name="Frank Fox", email="frank@example.com",
                                  tz="America/Los_Angeles", deleted=True)
    install_config(standard_config(teams=(replace(ENG, members=replace(ENG.members, users=(FRANK,))),)))


def test_leave_hr_records_from_slack_for_someone_who_left_is_not_announced(client, fake_slack):
    """`/timeoff for @Frank` for days ahead (his last holiday, paid out): "Frank will be out …" in his
    old team's channel would be untrue, and no DM reaches his account."""
    frank_in_engineering(fake_slack)
    fake_slack.clear_calls()

    response = post_command(client, f"for <@{FRANK}|frank> {MONDAY} {WEDNESDAY} vacation", user_id=HR)
    assert response.status_code == 200
    if response.content == b"":
        view = fake_slack.last_call("views.open").params["view"]
        submit_request(client, HR, view, request_values("vacation", MONDAY, WEDNESDAY), view_id="V_FRANK",
                       view_hash="hf")

    assert dms_to(fake_slack, FRANK) == []
    assert not [text for text in announcements(fake_slack) if mention(FRANK) in text], announcements(fake_slack)


def test_the_console_names_a_departed_person_as_such_when_hr_records_leave_for_them(client, fake_slack,
                                                                                      admin_client):
    """HR types Frank's email. "No one in this Slack workspace has the email address frank@…" is not
    true: he is there, deactivated. HR should be told that, not sent to check the spelling."""
    frank_in_engineering(fake_slack)
    slack_directory.directory_refresh(background_client())  # the console's people, as its pickers read them

    response = admin_client.post("/console/leave/record", {
        "person": "frank@example.com", "leave_type": "vacation", "start": MONDAY.isoformat(),
        "end": WEDNESDAY.isoformat(), "note": ""})

    page = response.content.decode()
    if response.status_code == 200 and response.context and response.context["form"].errors:
        errors = " ".join(" ".join(e) for e in response.context["form"].errors.values())
        assert "deactivated" in errors.lower(), errors
    else:  # recorded: then no DM goes to his account, and no "will be out"
        assert dms_to(fake_slack, FRANK) == []
        assert not [text for text in announcements(fake_slack) if mention(FRANK) in text]
    assert "Traceback" not in page


# --- Someone comes back ------------------------------------------------------------------------------


def test_an_approver_who_comes_back_is_mentioned_and_decides_again(client, fake_slack):
    install_config(standard_config(teams=(BOB_ALONE,)))
    deactivate(client, fake_slack, BOB, "Ev_BOB_GONE_BACK")
    reactivate(client, fake_slack, BOB, "Ev_BOB_BACK")
    fake_slack.clear_calls()

    request_time_off(client, fake_slack, ALICE)

    [posted] = posted_requests(fake_slack)
    assert mention(BOB) in posted.params["text"], posted.params["text"]
    click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted)
    assert request_payload(fake_slack, posted)["decided_by"] == BOB


def test_someone_who_comes_back_gets_their_reminder_again(client, fake_slack):
    install_config(standard_config(teams=(ENG,)))
    approved_leave_of(client, fake_slack)
    deactivate(client, fake_slack, ALICE, "Ev_ALICE_GONE_BACK")
    reactivate(client, fake_slack, ALICE, "Ev_ALICE_BACK")
    fake_slack.clear_calls()

    said = run_jobs(at(FRIDAY, 15, 0), "--team", "Engineering")

    assert "1 reminder(s)" in said, said
    assert [t for t in dms_to(fake_slack, ALICE) if "reminder" in t], dms_to(fake_slack, ALICE)


def test_a_profile_change_of_someone_still_gone_tells_hr_nothing_new(client, fake_slack):
    """Slack sends `user_change` for a deactivated account again (an admin edits the old profile): it is
    still gone; HR heard once."""
    install_config(standard_config(teams=(ENG,)))
    request_time_off(client, fake_slack, ALICE)
    deactivate(client, fake_slack, ALICE, "Ev_ALICE_GONE_EDIT1")
    with fake_slack.workspace.lock:
        fake_slack.workspace.users[ALICE].real_name = "Alice Adams (former)"
    deactivate(client, fake_slack, ALICE, "Ev_ALICE_GONE_EDIT2")

    assert len([dm for dm in dms_to(fake_slack, HR) if "was deactivated" in dm]) == 1
    assert DeliveryProblem.objects.filter(error="user_deactivated").count() == 1
