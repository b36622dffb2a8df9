"""HR (the fallback approvers) acting for someone else from Slack: `/timeoff for @person …` to record
leave, `… list`, `… cancel` and `… balance [YEAR]`, and the console's *Record leave* where it shares
the same services.

Every request is signed and shaped as Slack sends it; what people are told is read off the fake Slack's
wire (chat.postMessage, chat.postEphemeral, chat.update, views.open) and off the HTTP answers.
"""

import json
from dataclasses import replace
from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission

from approvals import block_ids as ids
from approvals import directory
from approvals.config_types import MemberSource
from fake_slack.personas import C_ENG, C_ENG_APPROVALS, CAROL, S_ENG
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
    ledger_messages,
    posted_requests,
    press,
    request_time_off,
    request_values,
    standard_config,
)
from test_support.slack_faults import failing
from test_support.slack_requests import post_command, post_interaction, view_submission_payload

pytestmark = pytest.mark.django_db

FRIDAY = MONDAY + timedelta(days=4)
OTHER_HR = "U_HR2"


# --- Small steps ------------------------------------------------------------------------------------


def command(client, text: str, user: str = HR):
    """`/timeoff <text>` by `user`, as Slack sends it; the HTTP answer."""
    response = post_command(client, text, user_id=user)
    assert response.status_code == 200, response.content
    return response


def answer_text(response) -> str:
    return response.json()["text"] if response.content else ""


def record_form(client, fake_slack, text: str, user: str = HR) -> dict:
    """`/timeoff for …` that opens the Record form; the view Slack was asked to open."""
    response = command(client, text, user)
    assert response.content == b"", response.json()
    return fake_slack.last_call("views.open").params["view"]


def send_form(client, view: dict, values: dict, *, user: str = HR, view_id: str = "V_FOR"):
    return post_interaction(client, view_submission_payload(user_id=user, view=view, values=values, view_id=view_id,
                                                            view_hash=f"h-{view_id}"))


def record(client, fake_slack, person: str, start=MONDAY, end=WEDNESDAY, leave_type="vacation", *, note="",
           user: str = HR, view_id: str = "V_FOR"):
    view = record_form(client, fake_slack, f"for <@{person}|{person.lower()}> {start} {end} {leave_type}", user)
    return send_form(client, view, request_values(leave_type, start, end, note=note), user=user, view_id=view_id)


def requests_of(fake_slack, person: str) -> list[dict]:
    """The ledger's request entries of `person` in Engineering's approvals channel, as they stand."""
    return [m.metadata["event_payload"] for m in ledger_messages(fake_slack)
            if m.metadata["event_type"] == "timeoff_request" and m.metadata["event_payload"]["user"] == person]


def every_text_sent(fake_slack) -> list[str]:
    """The text and blocks of every message, ephemeral, update and view the app sent to Slack, as JSON."""
    sent = []
    for method in ("chat.postMessage", "chat.postEphemeral", "chat.update", "views.open", "views.update",
                   "views.publish"):
        for call in fake_slack.calls(method):
            sent.append(json.dumps({k: call.params.get(k) for k in ("text", "blocks", "view")}))
    return sent


def metadata_of_posts(fake_slack) -> list:
    return [c.params.get("metadata") for c in fake_slack.calls("chat.postMessage") + fake_slack.calls("chat.update")]


# --- Only HR acts for someone else -----------------------------------------------------------------


@pytest.mark.parametrize("words", [f"{MONDAY} {WEDNESDAY} vacation", "", "list", "cancel", "balance",
                                   "balance 2031"])
def test_someone_not_in_hr_typing_for_a_colleague_is_refused_and_shown_nothing_of_theirs(client, fake_slack,
                                                                                        words):
    install_config()
    request_time_off(client, fake_slack, DAVE, start=MONDAY, end=WEDNESDAY, note="dentist in Denver")
    fake_slack.clear_calls()

    answer = answer_text(command(client, f"for <@{DAVE}|dave> {words}", ALICE))

    assert "Only HR" in answer, answer
    assert "dentist" not in answer and "2031" not in answer.replace(words, ""), answer
    assert fake_slack.calls("views.open") == []
    assert fake_slack.calls("chat.postMessage") == [] and fake_slack.calls("chat.update") == []


def test_a_record_form_forged_by_someone_not_in_hr_records_nothing(client, fake_slack):
    """Alice's client sends the Record form's metadata (`{"for": Dave}`) with a form of her own."""
    install_config()
    own_form = record_form(client, fake_slack, "", ALICE)
    forged = {**own_form, "private_metadata": json.dumps({"for": DAVE})}
    fake_slack.clear_calls()

    response = send_form(client, forged, request_values("vacation", MONDAY, WEDNESDAY), user=ALICE)

    assert response.json()["response_action"] == "errors"
    assert "Only HR" in json.dumps(response.json()["errors"])
    assert requests_of(fake_slack, DAVE) == [] and requests_of(fake_slack, ALICE) == []
    assert dms_to(fake_slack, DAVE) == []


def test_a_second_fallback_approver_may_record_for_someone_too(client, fake_slack):
    fake_slack.workspace.add_user(OTHER_HR, "harriet", real_name="Harriet Holm")
    install_config(standard_config(fallback_approvers=(HR, OTHER_HR)))

    response = record(client, fake_slack, ALICE, user=OTHER_HR)

    assert response.status_code == 200 and response.content == b"", response.content
    [entry] = requests_of(fake_slack, ALICE)
    assert (entry["status"], entry["decided_by"], entry["recorded_by"]) == ("approved", OTHER_HR, OTHER_HR)


# --- The person as Slack writes them in a command's text --------------------------------------------


@pytest.mark.parametrize("mention", [f"<@{ALICE}|alice>", f"<@{ALICE}>"], ids=["with-name", "id-only"])
def test_a_mention_as_slack_escapes_it_opens_the_record_form_for_that_person(client, fake_slack, mention):
    install_config()

    view = record_form(client, fake_slack, f"for {mention} {MONDAY} {WEDNESDAY} vacation")

    assert json.loads(view["private_metadata"]) == {"for": ALICE}
    assert f"<@{ALICE}>" in json.dumps(view["blocks"])  # the form says whose leave it records
    response = send_form(client, view, request_values("vacation", MONDAY, WEDNESDAY))
    assert response.content == b"", response.content
    [entry] = requests_of(fake_slack, ALICE)
    assert (entry["start"], entry["end"], entry["status"]) == (MONDAY.isoformat(), WEDNESDAY.isoformat(), "approved")


@pytest.mark.parametrize("person", [
    f"<!subteam^{S_ENG}|@eng>",
    f"<#{C_ENG}|engineering>",
    "@alice",
    "alice@example.com",
    "<mailto:alice@example.com|alice@example.com>",
    "<!here>",
    "<!channel>",
    f"<@{ALICE}|alice><@{DAVE}|dave>",
], ids=["usergroup", "channel", "plain-at-name", "email", "linked-email", "here", "channel-broadcast",
        "two-people-joined"])
def test_anything_but_one_persons_mention_is_asked_to_mention_them_and_nothing_happens(client, fake_slack, person):
    install_config()
    fake_slack.clear_calls()

    answer = answer_text(command(client, f"for {person} {MONDAY} {WEDNESDAY} vacation"))

    assert "Mention the person" in answer, answer
    # Said back to HR without re-broadcasting what they typed.
    for raw in ("<!here>", "<!channel>", "<!subteam^"):
        assert raw not in answer, answer
    assert fake_slack.calls("views.open") == []
    assert fake_slack.calls("chat.postMessage") == [] and ledger_messages(fake_slack) == []


@pytest.mark.parametrize("person", [f"<!subteam^{S_ENG}|@eng>", f"<#{C_ENG}|engineering>", "@alice"])
@pytest.mark.parametrize("what", ["list", "balance", "cancel"])
def test_listing_or_a_balance_for_a_group_or_a_channel_is_refused_not_answered_for_hr(client, fake_slack, person,
                                                                                      what):
    install_config()
    request_time_off(client, fake_slack, ALICE, note="family trip")
    fake_slack.clear_calls()

    answer = answer_text(command(client, f"for {person} {what}"))

    assert "Mention the person" in answer, answer
    assert "family trip" not in answer and f"<@{HR}>'s" not in answer
    assert fake_slack.calls("chat.postMessage") == []


def test_an_enterprise_grid_w_id_mention_is_taken_as_the_person(client, fake_slack):
    grid_person = "W0123ABCD"
    fake_slack.workspace.add_user(grid_person, "wendy", real_name="Wendy Wu", email="wendy@example.com")
    with fake_slack.workspace.lock:
        fake_slack.workspace.channels[C_ENG].members.add(grid_person)
    install_config()

    view = record_form(client, fake_slack, f"for <@{grid_person}|wendy> {MONDAY} {WEDNESDAY} vacation")

    assert json.loads(view["private_metadata"]) == {"for": grid_person}


# --- Who the person is ----------------------------------------------------------------------------


def test_hr_recording_for_themselves_is_pointed_to_timeoff_and_nothing_opens(client, fake_slack):
    install_config()
    fake_slack.clear_calls()

    answer = answer_text(command(client, f"for <@{HR}|hannah> {MONDAY} {WEDNESDAY} vacation"))

    assert "nobody approves their own" in answer and "`/timeoff`" in answer, answer
    assert fake_slack.calls("views.open") == [] and fake_slack.calls("chat.postMessage") == []


def test_a_record_form_for_someone_changed_into_one_for_hr_themselves_is_refused(client, fake_slack):
    install_config()
    view = record_form(client, fake_slack, f"for <@{ALICE}|alice> {MONDAY} {WEDNESDAY} vacation")
    for_self = {**view, "private_metadata": json.dumps({"for": HR})}
    fake_slack.clear_calls()

    response = send_form(client, for_self, request_values("vacation", MONDAY, WEDNESDAY))

    assert "nobody approves their own" in json.dumps(response.json().get("errors")), response.content
    assert requests_of(fake_slack, HR) == [] and requests_of(fake_slack, ALICE) == []


def test_hr_listing_their_own_leave_through_for_sees_it_as_their_own_list(client, fake_slack):
    """`/timeoff for @me list` is not a recording: it is answered (HR's own list), not refused."""
    install_config(standard_config(teams=(replace(ENGINEERING, members=MemberSource(channel=C_ENG, users=(HR,))),)))
    request_time_off(client, fake_slack, HR)

    answer = command(client, f"for <@{HR}|hannah> list").json()

    assert "Only HR" not in answer["text"] and "Mention" not in answer["text"], answer
    assert ids.WITHDRAW_ACTION in buttons_in(answer.get("blocks")), answer


def hr_was_told(fake_slack, response) -> str:
    """What HR was told about a recording: the form's errors, or their DMs after it."""
    if response.content:
        return json.dumps(response.json().get("errors"))
    return "\n".join(dms_to(fake_slack, HR))


def test_recording_for_someone_in_no_team_is_refused_to_hr_and_carol_hears_nothing(client, fake_slack):
    install_config()

    response = record(client, fake_slack, CAROL)

    told = hr_was_told(fake_slack, response)
    assert "no team" in told or "not in any team" in told, told
    assert "you are in no team" not in told.lower(), told  # about Carol, not HR
    assert ledger_messages(fake_slack) == []
    assert dms_to(fake_slack, CAROL) == []


def test_recording_for_an_apps_bot_user_in_the_team_channel_records_nothing(client, fake_slack):
    """A bot (an integration) sits in #engineering, so it 'belongs' to Engineering by the channel; it has no
    leave to take, and the ledger should not get an entry for it."""
    bot = "U_GITBOT"
    fake_slack.workspace.add_user(bot, "gitbot", real_name="Git Bot", is_bot=True, bot_id="B_GIT")
    with fake_slack.workspace.lock:
        fake_slack.workspace.channels[C_ENG].members.add(bot)
    install_config()

    response = command(client, f"for <@{bot}|gitbot> {MONDAY} {WEDNESDAY} vacation")
    if response.content == b"":
        view = fake_slack.last_call("views.open").params["view"]
        response = send_form(client, view, request_values("vacation", MONDAY, WEDNESDAY))
        told = hr_was_told(fake_slack, response)
    else:
        told = answer_text(response)

    assert requests_of(fake_slack, bot) == []
    assert "bot" in told.lower() or "app" in told.lower(), told


def test_recording_for_a_deactivated_account_sends_it_no_dm_and_tells_hr_the_truth(client, fake_slack):
    """Frank left last week; HR had listed him in Engineering by name. Whatever HR records (or is refused),
    no DM goes to a deactivated account, and HR is not told Frank 'is told by DM'."""
    frank = "U_FRANK"
    fake_slack.workspace.add_user(frank, "frank", real_name="Frank Fox", deleted=True)
    install_config(standard_config(teams=(replace(ENGINEERING, members=MemberSource(channel=C_ENG,
                                                                                     users=(frank,))),)))

    response = record(client, fake_slack, frank)

    assert dms_to(fake_slack, frank) == []
    assert not [c for c in fake_slack.calls("conversations.open") if frank in str(c.params.get("users"))]
    told = hr_was_told(fake_slack, response)
    if requests_of(fake_slack, frank):
        assert "deactivated" in told or not told, told
    else:
        assert "deactivated" in told, told


PARTNER = "U0PARTNER1"
PARTNER_TEAM = "T0GLOBEX1"


def add_partner(fake_slack):
    """Pat, of Globex (another organisation), in Acme's #engineering shared through Slack Connect."""
    from fake_slack.workspace import User

    class PartnerUser(User):
        def to_api(self):
            api = super().to_api()
            api["team_id"] = PARTNER_TEAM
            api["profile"] = {**api["profile"], "team": PARTNER_TEAM}
            return api

    with fake_slack.workspace.lock:
        fake_slack.workspace.users[PARTNER] = PartnerUser(PARTNER, "pat.globex", "Pat (Globex)", "UTC", None,
                                                          "pat@globex.example")
        fake_slack.workspace.channels[C_ENG].members.add(PARTNER)


def test_recording_for_someone_of_another_organisation_is_refused_in_words_about_them(client, fake_slack):
    add_partner(fake_slack)
    install_config()

    response = record(client, fake_slack, PARTNER)

    told = hr_was_told(fake_slack, response)
    assert requests_of(fake_slack, PARTNER) == []
    assert "another organisation" in told, told
    assert "you are in this workspace from another organisation" not in told, told  # HR is Acme's own
    assert dms_to(fake_slack, PARTNER) == []


def test_hrs_list_of_someone_of_another_organisation_says_why_it_is_empty(client, fake_slack):
    add_partner(fake_slack)
    install_config()

    answer = answer_text(command(client, f"for <@{PARTNER}|pat.globex> list"))
    if "DM you" in answer:
        answer = dms_to(fake_slack, HR)[-1]

    assert "another organisation" in answer, answer
    assert dms_to(fake_slack, PARTNER) == []


def test_recording_for_someone_of_another_organisation_the_cache_knows_is_refused_in_words_about_them(
        client, fake_slack):
    """Pat tried `/timeoff` earlier (and was told it is for Acme's people), so the cache knows who Pat is:
    HR's Record form is checked at once, and its error is about Pat, not about HR."""
    add_partner(fake_slack)
    install_config()
    command(client, "", PARTNER)  # Pat's own try: refused, and Pat's profile is cached
    fake_slack.clear_calls()

    response = record(client, fake_slack, PARTNER)

    told = hr_was_told(fake_slack, response)
    assert requests_of(fake_slack, PARTNER) == []
    assert "another organisation" in told, told
    assert "you are in this workspace" not in told, told


def test_hrs_balance_of_someone_of_another_organisation_is_about_them(client, fake_slack):
    add_partner(fake_slack)
    install_config()

    answer = answer_text(command(client, f"for <@{PARTNER}|pat.globex> balance"))
    if "DM you" in answer:
        answer = dms_to(fake_slack, HR)[-1]

    assert "another organisation" in answer, answer
    assert "you are in this workspace" not in answer, answer
    assert dms_to(fake_slack, PARTNER) == []


# --- Typed text reaches people escaped ---------------------------------------------------------------


@pytest.mark.parametrize("typed", ["<!channel>", "<@U_BOB|bob>", "<http://evil.example|payroll>", "R&amp;D",
                                   "<!subteam^S_ENG|@eng>"])
def test_text_hr_types_after_the_mention_is_said_back_escaped(client, fake_slack, typed):
    install_config()

    answer = answer_text(command(client, f"for <@{ALICE}|alice> {typed}"))

    assert "didn't understand" in answer, answer
    assert typed not in answer or typed == "R&amp;D", answer
    for raw in ("<!channel>", "<@U_BOB", "<http://evil", "<!subteam"):
        assert raw not in answer, answer
    assert fake_slack.calls("views.open") == []


HOSTILE_NOTE = "<!channel> cover by <@U_CAROL> & <!subteam^S_ENG|@eng> at <http://evil.example|payroll>"


def test_a_hostile_note_hr_records_reaches_alice_and_the_channels_only_escaped(client, fake_slack):
    install_config()

    response = record(client, fake_slack, ALICE, note=HOSTILE_NOTE)

    assert response.content == b"", response.content
    for sent in every_text_sent(fake_slack):
        for raw in ("<!channel>", "<@U_CAROL>", "<!subteam^", "<http://evil.example"):
            assert raw not in sent, sent
    assert "cover by" not in json.dumps(metadata_of_posts(fake_slack))  # a note is never metadata
    [posted] = posted_requests(fake_slack)
    assert "&amp;" in json.dumps([posted.params["text"], posted.params.get("blocks")])


def test_a_hostile_note_stays_escaped_when_hr_cancels_the_leave_later(client, fake_slack):
    install_config()
    record(client, fake_slack, ALICE, note=HOSTILE_NOTE)
    fake_slack.clear_calls()

    listed = command(client, f"for <@{ALICE}|alice> cancel").json()
    press(client, HR, listed["blocks"], ids.CANCEL_ACTION, channel="C_GENERAL", on_list=True)

    assert requests_of(fake_slack, ALICE)[0]["status"] == "cancelled"
    for sent in every_text_sent(fake_slack) + [json.dumps(listed)]:
        for raw in ("<!channel>", "<@U_CAROL>", "<!subteam^", "<http://evil.example"):
            assert raw not in sent, sent


# --- Balance for a year ----------------------------------------------------------------------------


def hr_balance(client, fake_slack, words: str) -> str:
    answer = answer_text(command(client, f"for <@{ALICE}|alice> {words}"))
    if "DM you" in answer:
        return dms_to(fake_slack, HR)[-1]
    return answer


@pytest.mark.parametrize("year", ["1999", "2100", "99999", "0", "-1", "2031.5", "２０３１", "next", "2031 2032",
                                  "31", "<!channel>"])
def test_a_balance_for_a_malformed_or_far_away_year_is_told_how_to_ask(client, fake_slack, year):
    install_config()
    fake_slack.clear_calls()

    answer = answer_text(command(client, f"for <@{ALICE}|alice> balance {year}"))

    assert f"`/timeoff for <@{ALICE}> balance`" in answer, answer
    assert "leave in" not in answer and "<!channel>" not in answer, answer
    assert fake_slack.calls("chat.postMessage") == []  # no DM to anyone, Alice least of all


def test_a_balance_for_a_year_with_leave_recorded_in_it_counts_it(client, fake_slack):
    install_config()
    record(client, fake_slack, ALICE)  # 3 days in 2031

    answer = hr_balance(client, fake_slack, "balance 2031")

    assert answer.startswith(f"*<@{ALICE}>'s leave in 2031*"), answer
    assert "22" in answer, answer  # 25 − 3
    assert "Your" not in answer


def test_a_balance_asked_in_capitals_is_the_same_answer(client, fake_slack):
    install_config()
    record(client, fake_slack, ALICE)

    assert hr_balance(client, fake_slack, "BALANCE 2031") == hr_balance(client, fake_slack, "balance 2031")


# --- Cancelling someone's approved leave -----------------------------------------------------------


def thread_replies(fake_slack, ts: str) -> list[str]:
    return [c.params["text"] for c in fake_slack.calls("chat.postMessage")
            if c.params.get("channel") == C_ENG_APPROVALS and c.params.get("thread_ts") == ts]


def test_hr_cancelling_alices_approved_leave_tells_the_approvers_in_the_thread_and_alice_by_dm(client,
                                                                                              fake_slack):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted)
    assert requests_of(fake_slack, ALICE)[0]["status"] == "approved"
    fake_slack.clear_calls()

    listed = command(client, f"for <@{ALICE}|alice> cancel").json()
    assert listed["text"] and f"<@{ALICE}>" in json.dumps(listed), listed
    press(client, HR, listed["blocks"], ids.CANCEL_ACTION, channel="C_GENERAL", on_list=True)

    entry = requests_of(fake_slack, ALICE)[0]
    assert (entry["status"], entry["decided_by"]) == ("cancelled", HR)
    [reply] = thread_replies(fake_slack, posted.response["ts"])
    assert reply.startswith(f"Cancelled by <@{HR}>") and f"<@{BOB}>" in reply and f"<@{DAVE}>" in reply, reply
    told_alice = [dm for dm in dms_to(fake_slack, ALICE)]
    assert len(told_alice) == 1 and f"<@{HR}>" in told_alice[0] and "Cancelled" in told_alice[0], told_alice
    [correction] = [c.params["text"] for c in fake_slack.calls("chat.postMessage") if c.params["channel"] == C_ENG]
    assert "will not be out" in correction and f"<@{ALICE}>" in correction
    [said] = ephemerals_to(fake_slack, HR)
    assert said.startswith(f":white_check_mark: Cancelled: <@{ALICE}>'s"), said
    assert not ephemerals_to(fake_slack, ALICE)


def test_hr_withdrawing_alices_pending_request_tells_alice_and_the_approvers(client, fake_slack):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    fake_slack.clear_calls()

    listed = command(client, f"for <@{ALICE}> list").json()
    press(client, HR, listed["blocks"], ids.WITHDRAW_ACTION, channel="C_GENERAL", on_list=True)

    assert requests_of(fake_slack, ALICE)[0]["status"] == "cancelled"
    [reply] = thread_replies(fake_slack, posted.response["ts"])
    assert reply.startswith(f"Withdrawn by <@{HR}>"), reply
    assert [dm for dm in dms_to(fake_slack, ALICE) if f"<@{HR}>" in dm], dms_to(fake_slack, ALICE)
    assert [c for c in fake_slack.calls("chat.postMessage") if c.params["channel"] == C_ENG] == []  # never announced


def test_a_cancel_button_from_hrs_list_pressed_by_someone_else_changes_nothing(client, fake_slack):
    """Dave sees the button values (a forwarded screenshot's, or a modified client): pressing it is refused."""
    install_config()
    record(client, fake_slack, ALICE)
    listed = command(client, f"for <@{ALICE}> cancel").json()
    fake_slack.clear_calls()

    press(client, DAVE, listed["blocks"], ids.CANCEL_ACTION, channel="C_GENERAL", on_list=True)

    assert requests_of(fake_slack, ALICE)[0]["status"] == "approved"
    assert fake_slack.calls("chat.update") == [] and dms_to(fake_slack, ALICE) == []
    told = ephemerals_to(fake_slack, DAVE) + dms_to(fake_slack, DAVE)
    assert told and "only the requester (or HR)" in told[0], told


# --- When Slack fails -------------------------------------------------------------------------------


def to_channel(channel: str, *, top_level: bool = True):
    def matches(method, params):
        return (method == "chat.postMessage" and params.get("channel") == channel
                and (not top_level or not params.get("thread_ts")))
    return matches


@pytest.mark.parametrize("fault", ["rate_limited_429", "internal_error"])
def test_recording_whose_post_slack_fails_once_is_recorded_once_and_alice_told_once(client, fake_slack, no_sleeping,
                                                                                   fault):
    install_config()

    with failing(fake_slack, to_channel(C_ENG_APPROVALS), fault) as met:
        response = record(client, fake_slack, ALICE)

    assert response.status_code == 200 and met
    [entry] = requests_of(fake_slack, ALICE)
    assert entry["status"] == "approved"
    assert len(posted_requests(fake_slack)) == 1
    assert len([dm for dm in dms_to(fake_slack, ALICE) if "recorded time off for you" in dm]) == 1
    assert not [dm for dm in dms_to(fake_slack, HR) if "couldn't" in dm], dms_to(fake_slack, HR)


def test_recording_slack_never_lets_us_post_is_told_to_hr_with_what_they_asked_and_not_to_alice(client, fake_slack,
                                                                                              no_sleeping):
    install_config()

    with failing(fake_slack, to_channel(C_ENG_APPROVALS), "internal_error", times=None):
        response = record(client, fake_slack, ALICE)

    assert response.status_code == 200
    assert requests_of(fake_slack, ALICE) == []
    assert not [dm for dm in dms_to(fake_slack, ALICE) if "recorded" in dm], dms_to(fake_slack, ALICE)
    told = dms_to(fake_slack, HR)
    assert told and f"<@{ALICE}>" in told[-1] and "Mon 10 Mar 2031" in told[-1], told  # what HR asked for
    assert [c for c in fake_slack.calls("chat.postMessage") if c.params.get("channel") == C_ENG] == []


@pytest.mark.parametrize("fault", ["rate_limited_429", "internal_error"])
def test_alices_dm_slack_fails_once_still_reaches_her_and_hr_hears_of_no_failure(client, fake_slack, no_sleeping,
                                                                                fault):
    install_config()

    with failing(fake_slack, to_channel(ALICE), fault) as met:
        record(client, fake_slack, ALICE)

    assert met
    assert requests_of(fake_slack, ALICE)[0]["status"] == "approved"
    assert len([dm for dm in dms_to(fake_slack, ALICE) if "recorded time off for you" in dm]) == 1
    assert not [dm for dm in dms_to(fake_slack, HR) if "couldn't" in dm], dms_to(fake_slack, HR)


@pytest.mark.parametrize("fault", ["rate_limited_429", "internal_error"])
def test_users_info_failing_while_hr_types_for_someone_opens_the_form_or_says_so(client, fake_slack, no_sleeping,
                                                                                fault):
    install_config()

    with failing(fake_slack, lambda method, params: method == "users.info", fault, times=None):
        response = command(client, f"for <@{ALICE}|alice> {MONDAY} {WEDNESDAY} vacation")

    if response.content:
        answer = answer_text(response)
        assert "try again" in answer.lower() or "slack" in answer.lower(), answer
    else:
        assert fake_slack.last_call("views.open") is not None
    assert ledger_messages(fake_slack) == [] and dms_to(fake_slack, ALICE) == []


@pytest.mark.parametrize("fault", ["rate_limited_429", "internal_error"])
def test_users_info_failing_once_while_a_recording_is_delivered_still_records_it_once(client, fake_slack, no_sleeping,
                                                                                     fault):
    from django.core.cache import cache

    install_config()
    view = record_form(client, fake_slack, f"for <@{ALICE}|alice> {MONDAY} {WEDNESDAY} vacation")
    cache.clear()  # the delivery asks Slack who Alice is

    with failing(fake_slack, lambda method, params: method == "users.info", fault) as met:
        response = send_form(client, view, request_values("vacation", MONDAY, WEDNESDAY))

    assert response.status_code == 200
    assert met
    [entry] = requests_of(fake_slack, ALICE)
    assert entry["status"] == "approved" and len(posted_requests(fake_slack)) == 1
    assert len([dm for dm in dms_to(fake_slack, ALICE) if "recorded time off for you" in dm]) == 1
    assert not [dm for dm in dms_to(fake_slack, HR) if "couldn't" in dm], dms_to(fake_slack, HR)


@pytest.mark.parametrize("fault", ["rate_limited_429", "internal_error"])
def test_a_cancellation_slack_fails_to_write_once_is_made_once_and_told_once(client, fake_slack, no_sleeping, fault):
    install_config()
    record(client, fake_slack, ALICE)
    listed = command(client, f"for <@{ALICE}> cancel").json()
    fake_slack.clear_calls()

    with failing(fake_slack, lambda method, params: method == "chat.update"
                 and params.get("channel") == C_ENG_APPROVALS, fault) as met:
        press(client, HR, listed["blocks"], ids.CANCEL_ACTION, channel="C_GENERAL", on_list=True)

    assert met
    assert requests_of(fake_slack, ALICE)[0]["status"] == "cancelled"
    assert len([dm for dm in dms_to(fake_slack, ALICE) if "Cancelled" in dm]) == 1, dms_to(fake_slack, ALICE)
    assert len([t for t in ephemerals_to(fake_slack, HR) + dms_to(fake_slack, HR) if "Cancelled:" in t]) == 1
    assert not [t for t in ephemerals_to(fake_slack, HR) + dms_to(fake_slack, HR) if "couldn't" in t]


def test_a_cancellation_slack_never_lets_us_write_tells_hr_and_alice_hears_nothing_false(client, fake_slack,
                                                                                         no_sleeping):
    install_config()
    record(client, fake_slack, ALICE)
    listed = command(client, f"for <@{ALICE}> cancel").json()
    fake_slack.clear_calls()

    with failing(fake_slack, lambda method, params: method == "chat.update"
                 and params.get("channel") == C_ENG_APPROVALS, "internal_error", times=None):
        press(client, HR, listed["blocks"], ids.CANCEL_ACTION, channel="C_GENERAL", on_list=True)

    assert requests_of(fake_slack, ALICE)[0]["status"] == "approved"
    assert not [dm for dm in dms_to(fake_slack, ALICE) if "Cancelled" in dm or "changed" in dm]
    assert [c for c in fake_slack.calls("chat.postMessage") if c.params["channel"] == C_ENG] == []
    told = ephemerals_to(fake_slack, HR) + dms_to(fake_slack, HR)
    assert told and not [t for t in told if t.startswith(":white_check_mark:")], told
    assert any("cancel" in t.lower() for t in told), told


@pytest.mark.parametrize("fault", ["rate_limited_429", "internal_error"])
def test_alices_dm_about_hrs_cancellation_failing_once_still_reaches_her_and_nothing_is_done_twice(
        client, fake_slack, no_sleeping, fault):
    install_config()
    record(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    listed = command(client, f"for <@{ALICE}> cancel").json()
    fake_slack.clear_calls()

    with failing(fake_slack, to_channel(ALICE), fault) as met:
        press(client, HR, listed["blocks"], ids.CANCEL_ACTION, channel="C_GENERAL", on_list=True)

    assert met
    assert requests_of(fake_slack, ALICE)[0]["status"] == "cancelled"
    assert len([c for c in fake_slack.calls("chat.update") if c.params["channel"] == C_ENG_APPROVALS]) == 1
    assert len(thread_replies(fake_slack, posted.response["ts"])) == 1
    assert len([dm for dm in dms_to(fake_slack, ALICE) if "Cancelled" in dm or "changed your" in dm]) == 1
    assert len([c for c in fake_slack.calls("chat.postMessage") if c.params["channel"] == C_ENG]) == 1
    assert not [t for t in ephemerals_to(fake_slack, HR) + dms_to(fake_slack, HR) if "couldn't" in t]


@pytest.mark.parametrize("fault", ["rate_limited_429", "internal_error"])
def test_the_thread_reply_about_hrs_cancellation_failing_once_is_posted_once(client, fake_slack, no_sleeping, fault):
    install_config()
    record(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    listed = command(client, f"for <@{ALICE}> cancel").json()
    fake_slack.clear_calls()

    with failing(fake_slack, lambda method, params: method == "chat.postMessage"
                 and params.get("thread_ts") == posted.response["ts"], fault) as met:
        press(client, HR, listed["blocks"], ids.CANCEL_ACTION, channel="C_GENERAL", on_list=True)

    assert met
    [reply] = thread_replies(fake_slack, posted.response["ts"])
    assert reply.startswith(f"Cancelled by <@{HR}>"), reply
    assert len([c for c in fake_slack.calls("chat.update") if c.params["channel"] == C_ENG_APPROVALS]) == 1


def test_hrs_confirmation_slack_will_not_show_as_an_ephemeral_comes_by_dm_and_the_cancel_is_made_once(
        client, fake_slack, no_sleeping):
    install_config()
    record(client, fake_slack, ALICE)
    listed = command(client, f"for <@{ALICE}> cancel").json()
    fake_slack.clear_calls()

    with failing(fake_slack, lambda method, params: method == "chat.postEphemeral", "internal_error", times=None):
        press(client, HR, listed["blocks"], ids.CANCEL_ACTION, channel="C_GENERAL", on_list=True)

    assert requests_of(fake_slack, ALICE)[0]["status"] == "cancelled"
    assert len([c for c in fake_slack.calls("chat.update") if c.params["channel"] == C_ENG_APPROVALS]) == 1
    [told] = [dm for dm in dms_to(fake_slack, HR) if "Cancelled" in dm]
    assert f"<@{ALICE}>'s" in told, told
    assert len([dm for dm in dms_to(fake_slack, ALICE) if "Cancelled" in dm or "changed your" in dm]) == 1


@pytest.mark.parametrize("fault", ["rate_limited_429", "internal_error"])
def test_users_info_failing_once_while_hr_cancels_still_cancels_once(client, fake_slack, no_sleeping, fault):
    from django.core.cache import cache

    install_config()
    record(client, fake_slack, ALICE)
    listed = command(client, f"for <@{ALICE}> cancel").json()
    cache.delete_many([directory.profile_key(ALICE), directory.timezone_key(ALICE)])  # a day later
    fake_slack.clear_calls()

    with failing(fake_slack, lambda method, params: method == "users.info", fault, times=2) as met:
        press(client, HR, listed["blocks"], ids.CANCEL_ACTION, channel="C_GENERAL", on_list=True)

    assert met

    assert requests_of(fake_slack, ALICE)[0]["status"] == "cancelled"
    assert len([c for c in fake_slack.calls("chat.update") if c.params["channel"] == C_ENG_APPROVALS]) == 1
    assert len([dm for dm in dms_to(fake_slack, ALICE) if "Cancelled" in dm or "changed your" in dm]) == 1


def test_a_button_on_hrs_list_pressed_after_hr_left_the_fallback_approvers_changes_nothing(client, fake_slack):
    install_config()
    record(client, fake_slack, ALICE)
    listed = command(client, f"for <@{ALICE}> cancel").json()
    install_config(standard_config(fallback_approvers=(DAVE,)))
    fake_slack.clear_calls()

    press(client, HR, listed["blocks"], ids.CANCEL_ACTION, channel="C_GENERAL", on_list=True)

    assert requests_of(fake_slack, ALICE)[0]["status"] == "approved"
    assert fake_slack.calls("chat.update") == [] and dms_to(fake_slack, ALICE) == []
    told = ephemerals_to(fake_slack, HR) + dms_to(fake_slack, HR)
    assert told and "only the requester (or HR)" in told[0], told


def test_recording_for_an_id_slack_has_no_user_for_records_nothing_and_tells_hr(client, fake_slack):
    install_config()

    response = record(client, fake_slack, "U_GHOST")

    assert requests_of(fake_slack, "U_GHOST") == []
    assert hr_was_told(fake_slack, response), "HR sent a form and heard nothing"
    assert dms_to(fake_slack, "U_GHOST") == []


def test_hrs_list_on_a_cold_cache_comes_to_hr_only_even_when_users_info_fails_once(client, fake_slack, no_sleeping):
    from django.core.cache import cache

    install_config()
    request_time_off(client, fake_slack, ALICE, note="family trip")
    cache.clear()
    alice_before = len(dms_to(fake_slack, ALICE))

    with failing(fake_slack, lambda method, params: method == "users.info", "rate_limited_429") as met:
        answer = answer_text(command(client, f"for <@{ALICE}|alice> list"))

    assert answer.startswith(f"Looking up <@{ALICE}>'s time off"), answer
    assert len(dms_to(fake_slack, ALICE)) == alice_before
    [listed] = [c for c in fake_slack.calls("chat.postMessage") if c.params["channel"] == HR and c.params.get("blocks")]
    assert f"<@{ALICE}>" in listed.params["text"] and ids.WITHDRAW_ACTION in buttons_in(listed.params["blocks"])
    assert met


def test_a_recording_whose_person_slack_never_describes_is_told_to_hr_and_not_posted(client, fake_slack,
                                                                                     no_sleeping):
    from django.core.cache import cache

    install_config()
    view = record_form(client, fake_slack, f"for <@{ALICE}|alice> {MONDAY} {WEDNESDAY} vacation")
    cache.clear()  # the delivery must ask Slack who Alice is

    with failing(fake_slack, lambda method, params: method == "users.info" and params.get("user") == ALICE,
                 "internal_error", times=None) as met:
        response = send_form(client, view, request_values("vacation", MONDAY, WEDNESDAY))

    assert response.status_code == 200 and met
    assert requests_of(fake_slack, ALICE) == []
    assert not [dm for dm in dms_to(fake_slack, ALICE) if "recorded" in dm], dms_to(fake_slack, ALICE)
    told = dms_to(fake_slack, HR)
    assert told and f"<@{ALICE}>" in told[-1] and "Mon 10 Mar 2031" in told[-1], told


@pytest.mark.parametrize("fault", ["rate_limited_429", "internal_error"])
def test_the_record_form_slack_will_not_open_is_said_to_hr_and_nothing_is_recorded(client, fake_slack, fault):
    install_config()

    with failing(fake_slack, lambda method, params: method == "views.open", fault) as met:
        answer = answer_text(command(client, f"for <@{ALICE}|alice> {MONDAY} {WEDNESDAY} vacation"))

    assert met
    assert "try again" in answer, answer
    assert ledger_messages(fake_slack) == [] and dms_to(fake_slack, ALICE) == []


def test_hr_cancelling_leave_of_someone_who_has_since_left_tells_the_thread_and_dms_nobody_gone(client, fake_slack):
    from test_support.slack_requests import event_envelope, post_event

    install_config()
    record(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    listed = command(client, f"for <@{ALICE}> cancel").json()
    with fake_slack.workspace.lock:
        fake_slack.workspace.users[ALICE].deleted = True
    post_event(client, event_envelope({"type": "user_change", "user": {"id": ALICE, "deleted": True}},
                                      event_id="Ev_ALICE_LEFT"))
    fake_slack.clear_calls()

    press(client, HR, listed["blocks"], ids.CANCEL_ACTION, channel="C_GENERAL", on_list=True)

    assert requests_of(fake_slack, ALICE)[0]["status"] == "cancelled"
    assert thread_replies(fake_slack, posted.response["ts"])
    assert dms_to(fake_slack, ALICE) == []
    assert [t for t in ephemerals_to(fake_slack, HR) if t.startswith(":white_check_mark: Cancelled")]


# --- The console's Record leave shares the rules ---------------------------------------------------


@pytest.fixture
def console(client, django_user_model, fake_slack):
    hannah = django_user_model.objects.create_user("hannah", "hannah@example.com", "a-long-test-password",
                                                   is_staff=True)
    hannah.user_permissions.add(Permission.objects.get(codename="record_leave_for_others"))
    client.force_login(hannah)
    return client


def console_record(console, person, **changes):
    data = {"person": person, "leave_type": "vacation", "start": MONDAY.isoformat(), "end": WEDNESDAY.isoformat(),
            "note": "", **changes}
    return console.post("/console/leave/record", data)


def test_the_console_refuses_to_record_for_hr_themselves(console, fake_slack):
    install_config()

    page = console_record(console, "hannah@example.com")

    assert page.status_code == 200
    assert "nobody approves their own" in page.text
    assert ledger_messages(fake_slack) == []


def test_the_console_refuses_to_record_for_someone_of_another_organisation(console, fake_slack):
    add_partner(fake_slack)
    install_config()

    page = console_record(console, PARTNER)

    assert ledger_messages(fake_slack) == []
    assert "another organisation" in page.text, page.text[:2000]
    assert dms_to(fake_slack, PARTNER) == []


def test_the_console_recording_for_a_bot_records_nothing(console, fake_slack):
    bot = "U_GITBOT"
    fake_slack.workspace.add_user(bot, "gitbot", real_name="Git Bot", is_bot=True, bot_id="B_GIT")
    with fake_slack.workspace.lock:
        fake_slack.workspace.channels[C_ENG].members.add(bot)
    install_config()

    console_record(console, bot)

    assert requests_of(fake_slack, bot) == []


def test_someone_of_another_organisation_in_a_teams_channel_has_no_balance_of_their_own_here(client, fake_slack):
    # Pat sits in #engineering (a Slack Connect channel), which makes Engineering's members.
    add_partner(fake_slack)
    install_config()

    answer = answer_text(command(client, "balance", PARTNER))
    if "DM you" in answer:
        answer = dms_to(fake_slack, PARTNER)[-1]

    assert "another organisation" in answer, answer
    assert "days left" not in answer and "Engineering" not in answer, answer
