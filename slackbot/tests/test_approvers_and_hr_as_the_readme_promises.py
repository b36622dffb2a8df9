"""Approvers, HR acting for someone, and someone leaving, as README's "Approvers", "HR on behalf" and
"Someone leaves" promise them.

Everything goes through signed requests shaped as Slack sends them (slash commands, button clicks, modal
submissions, `user_change` and `member_left_channel` events) against the fake Slack, and what is checked
is what crossed the wire: the messages, DMs and ephemerals people get, the request's metadata, App Home,
and the console HR reads.
"""

import csv
import io
import json
import uuid
from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import holidays
import pytest
from django.urls import reverse

from approvals import block_ids as ids
from approvals import slack_directory
from approvals.config_types import ApproverSource, MemberSource, TeamConfig
from approvals.models import DeliveryProblem
from approvals.rules import APPROVED, LedgerEntry
from approvals.slack_clients import background_client
from fake_slack.personas import C_ENG, C_ENG_APPROVALS, C_ENG_LEADS, CAROL
from fake_slack.workspace import User
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
    request_values,
    standard_config,
    submit_request,
)
from test_support.job_runs import post_entry
from test_support.slack_requests import (
    event_envelope,
    post_command,
    post_event,
    post_interaction,
    view_block_actions_payload,
    view_submission_payload,
)

pytestmark = pytest.mark.django_db

LA = ZoneInfo("America/Los_Angeles")
CA_HOLIDAYS = holidays.country_holidays("US", subdiv="CA", years=range(2020, 2040))
FRIDAY = MONDAY + timedelta(days=4)
NEXT_MONDAY = MONDAY + timedelta(days=7)
NEXT_WEDNESDAY = MONDAY + timedelta(days=9)

GUEST = "U0GUEST07"
C_SALES = "C_SALES"
C_SALES_APPROVALS = "C_SALES_APPROVALS"

BOB_ALONE = replace(ENGINEERING, approvers=ApproverSource(users=(BOB,)))
THROUGH_THE_CHANNEL = replace(ENGINEERING, approvers=ApproverSource(channel=C_ENG_LEADS))


# --- Steps -------------------------------------------------------------------------------------------


def mention(user: str) -> str:
    return f"<@{user}>"


def add_guest(fake_slack, user: str = GUEST, *, channels=()) -> None:
    """A contractor invited to a few channels: a multi-channel guest (`is_restricted`)."""
    workspace = fake_slack.workspace
    person = workspace.add_user(user, "gwen", email="gwen@contractor.example", real_name="Gwen Guest")
    with workspace.lock:
        person.is_restricted = True
        for channel in channels:
            workspace.channels[channel].members.add(user)


def add_sales(fake_slack) -> TeamConfig:
    """A second team, Sales (Carol), whose requests Bob approves too, in an approvals channel of its own."""
    fake_slack.workspace.add_channel(C_SALES, "sales", members=[CAROL])
    fake_slack.workspace.add_channel(C_SALES_APPROVALS, "sales-approvals", members=[BOB, HR], private=True)
    return TeamConfig(name="Sales", members=MemberSource(channel=C_SALES), approvers=ApproverSource(users=(BOB,)),
                      approvals_channel=C_SALES_APPROVALS, announce_channel=C_SALES, holiday_country="US",
                      holiday_subdivision="CA", timezone="America/Los_Angeles")


def ask(client, fake_slack, user, start=MONDAY, end=WEDNESDAY, *, channel=C_ENG_APPROVALS, view_id=None):
    """`user` sends the request form; returns the chat.postMessage call that posted it."""
    before = len(posted_requests(fake_slack, channel))
    view = open_request_form(client, fake_slack, user)
    view_id = view_id or f"V_{uuid.uuid4().hex[:8]}"
    response = submit_request(client, user, view, request_values("vacation", start, end), view_id=view_id,
                              view_hash=f"h-{view_id}")
    assert response.status_code == 200 and response.content == b"", response.content
    posted = posted_requests(fake_slack, channel)
    assert len(posted) == before + 1, dms_to(fake_slack, user)
    return posted[-1]


def status_of(fake_slack, posted) -> dict:
    message = fake_slack.workspace.find_message(posted.response["channel"], posted.response["ts"])
    return message.metadata["event_payload"]


def told(fake_slack, user) -> list[str]:
    return ephemerals_to(fake_slack, user) + dms_to(fake_slack, user)


def deactivate(client, fake_slack, user: str, event_id: str, *, retry_num=None):
    """Slack deactivates `user` and sends `user_change` with the whole profile, as it does."""
    with fake_slack.workspace.lock:
        fake_slack.workspace.users[user].deleted = True
        profile = fake_slack.workspace.users[user].to_api()
    response = post_event(client, event_envelope({"type": "user_change", "user": profile,
                                                  "event_ts": "1766000000.000400"}, event_id=event_id),
                          retry_num=retry_num)
    assert response.status_code == 200, response.content


def leave_channel(client, fake_slack, user: str, channel: str, event_id: str, *, retry_num=None):
    with fake_slack.workspace.lock:
        fake_slack.workspace.channels[channel].members.discard(user)
    response = post_event(client, event_envelope({"type": "member_left_channel", "user": user, "channel": channel,
                                                  "channel_type": "G", "team": "T_ACME",
                                                  "event_ts": "1766000000.000500"}, event_id=event_id),
                          retry_num=retry_num)
    assert response.status_code == 200, response.content


def reject_form_for(client, fake_slack, approver, posted) -> dict:
    assert click(client, fake_slack, approver, ids.REJECT_ACTION, posted).status_code == 200
    form = fake_slack.last_call("views.open").params["view"]
    form = json.loads(form) if isinstance(form, str) else form
    assert form["callback_id"] == ids.REJECT_MODAL
    return form


def send_reason(client, approver, form, reason):
    values = {ids.REASON_BLOCK: {ids.REASON_ACTION: {"type": "plain_text_input", "value": reason}}}
    return post_interaction(client, view_submission_payload(user_id=approver, view=form, values=values,
                                                            view_id="V_REJECT"))


def receipts_to(fake_slack, user) -> list[str]:
    """Every text of `user`'s receipt as posted and rewritten, and the DMs they got."""
    dm = "D" + user[1:]
    rewritten = [c.params.get("text", "") for c in fake_slack.calls("chat.update") if c.params.get("channel") == dm]
    return dms_to(fake_slack, user) + rewritten


def working_day_ahead(days: int):
    """A Tuesday–Thursday at least `days` after Los Angeles' today, not a public holiday."""
    day = datetime.now(LA).date() + timedelta(days=days)
    while day.weekday() not in (1, 2, 3) or day in CA_HOLIDAYS:
        day += timedelta(days=1)
    return day


# --- Who may decide --------------------------------------------------------------------------------


@pytest.mark.parametrize("reason", ["\u3164", "\u2800\u2800\u2800", "\u115f\u1160", " \u3164 \u200b "],
                         ids=["hangul-filler", "braille-blanks", "hangul-choseong-jungseong-fillers",
                              "filler-among-spaces"])
def test_a_reason_of_only_blank_looking_characters_keeps_the_reject_form_open(client, fake_slack, reason):
    """README: a reason of only spaces or invisible characters keeps the form open ("Say why"). The Hangul
    filler and the blank Braille pattern are the characters people paste to get past "required" fields:
    they show nothing, and Alice would read a rejection with no reason at all."""
    install_config()
    posted = ask(client, fake_slack, ALICE)
    form = reject_form_for(client, fake_slack, BOB, posted)

    response = send_reason(client, BOB, form, reason)

    assert response.status_code == 200
    answer = response.json() if response.content else {}
    assert answer.get("response_action") == "errors" and "Say why" in json.dumps(answer), response.content
    assert status_of(fake_slack, posted)["status"] == "pending"
    assert not [t for t in dms_to(fake_slack, ALICE) if "rejected" in t]


def test_a_guest_named_as_an_approver_in_the_configuration_does_not_decide_and_hr_does(client, fake_slack):
    """A configuration file (which the console's checks do not stand between) names a contractor, a guest,
    as Engineering's only approver. README: guests never decide; when that leaves nobody, the fallback
    approvers do. The request says so, the guest's click changes nothing, Hannah's approves."""
    add_guest(fake_slack, channels=[C_ENG_APPROVALS])
    install_config(standard_config(teams=(replace(ENGINEERING, approvers=ApproverSource(users=(GUEST,))),)))
    posted = ask(client, fake_slack, ALICE)
    assert mention(GUEST) not in posted.params["text"] and mention(HR) in posted.params["text"], posted.params["text"]

    click(client, fake_slack, GUEST, ids.APPROVE_ACTION, posted)
    assert status_of(fake_slack, posted)["status"] == "pending"
    assert [t for t in told(fake_slack, GUEST) if "not an approver for Engineering" in t], told(fake_slack, GUEST)

    click(client, fake_slack, HR, ids.APPROVE_ACTION, posted)
    assert status_of(fake_slack, posted)["status"] == "approved"
    assert status_of(fake_slack, posted)["decided_by"] == HR


def test_capacity_is_checked_again_when_approving_from_app_home(client, fake_slack):
    """README: capacity (max_out) is re-checked at approval, and App Home's buttons behave exactly like the
    channel's. Both requests were accepted while two could be out; HR then lowers max_out to one. Bob
    approves Alice's in the channel and Dave's from App Home: the second is refused, and Bob is told why."""
    install_config(standard_config(teams=(replace(ENGINEERING, max_out=2),)))
    alices = ask(client, fake_slack, ALICE, MONDAY, WEDNESDAY)
    daves = ask(client, fake_slack, DAVE, WEDNESDAY, FRIDAY)
    install_config(standard_config(teams=(replace(ENGINEERING, max_out=1),)))
    click(client, fake_slack, BOB, ids.APPROVE_ACTION, alices)
    assert status_of(fake_slack, alices)["status"] == "approved"
    home = open_app_home(client, fake_slack, BOB, "Ev_HOME_CAP")
    [(dave_block, approve)] = [(b, e) for b in home["blocks"] if b.get("type") == "actions"
                               for e in b["elements"] if e.get("action_id") == ids.APPROVE_ACTION
                               and json.loads(e["value"]).get("user") == DAVE]
    fake_slack.clear_calls()

    post_interaction(client, view_block_actions_payload(user_id=BOB, action_id=ids.APPROVE_ACTION,
                                                        value=approve["value"], block_id=dave_block["block_id"],
                                                        view=home))

    assert status_of(fake_slack, daves)["status"] == "pending"
    assert [t for t in told(fake_slack, BOB) if "can't approve" in t], told(fake_slack, BOB)
    assert dms_to(fake_slack, DAVE) == []


# --- Someone leaves: an approver ---------------------------------------------------------------------


def test_when_the_last_approver_leaves_and_only_a_guest_stays_in_the_channel_hr_is_told_and_decides(
        client, fake_slack):
    """#eng-leads holds Bob and a contractor (a guest). Bob leaves it: the guest may not decide, so Alice's
    request now has nobody but HR. README: the fallback approvers are told, once."""
    with fake_slack.workspace.lock:
        fake_slack.workspace.channels[C_ENG_LEADS].members.discard(DAVE)
    add_guest(fake_slack, channels=[C_ENG_LEADS])
    install_config(standard_config(teams=(THROUGH_THE_CHANNEL,)))
    posted = ask(client, fake_slack, ALICE)
    assert mention(BOB) in posted.params["text"]
    fake_slack.clear_calls()

    leave_channel(client, fake_slack, BOB, C_ENG_LEADS, "Ev_BOB_LEFT_G")

    told_hr = [t for t in dms_to(fake_slack, HR) if "only approver left for 1 pending" in t and "Engineering" in t]
    assert len(told_hr) == 1, dms_to(fake_slack, HR)
    click(client, fake_slack, HR, ids.APPROVE_ACTION, posted)
    assert status_of(fake_slack, posted)["decided_by"] == HR


def test_an_approver_named_on_the_team_who_leaves_the_approvers_channel_is_still_its_approver(client, fake_slack):
    """Bob is Engineering's approver by name and also sits in #eng-leads. Leaving that channel takes no
    approver away: HR hears nothing, and Bob still decides."""
    with fake_slack.workspace.lock:
        fake_slack.workspace.channels[C_ENG_LEADS].members.discard(DAVE)
    install_config()
    posted = ask(client, fake_slack, ALICE)
    fake_slack.clear_calls()

    leave_channel(client, fake_slack, BOB, C_ENG_LEADS, "Ev_BOB_LEFT_N")

    assert dms_to(fake_slack, HR) == []
    click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted)
    assert status_of(fake_slack, posted)["decided_by"] == BOB


def test_alices_receipt_says_her_request_is_with_hr_once_the_last_approver_left_the_approvers_channel(
        client, fake_slack):
    """README: when the last approver leaves the approvers channel, the same happens as when they are
    deactivated: each requester's receipt then says the request "is with" the fallback approvers."""
    with fake_slack.workspace.lock:
        fake_slack.workspace.channels[C_ENG_LEADS].members.discard(DAVE)
    install_config(standard_config(teams=(THROUGH_THE_CHANNEL,)))
    ask(client, fake_slack, ALICE)
    fake_slack.clear_calls()

    leave_channel(client, fake_slack, BOB, C_ENG_LEADS, "Ev_BOB_LEFT_R")

    receipts = receipts_to(fake_slack, ALICE)
    assert [t for t in receipts if "is with" in t and mention(HR) in t], receipts
    assert not [t for t in receipts if "is with" in t and mention(BOB) in t], receipts


def test_when_the_last_approver_leaves_the_channel_after_hr_left_alice_is_told_once_nobody_may_decide(
        client, fake_slack):
    """README: when no fallback approver can step in (they have left too), each requester whose request
    nobody may decide any more is told so by DM, once; the same happens, once per leaving, when an approver
    leaves a team's approvers channel and takes the last approver with them."""
    with fake_slack.workspace.lock:
        fake_slack.workspace.channels[C_ENG_LEADS].members.discard(DAVE)
    install_config(standard_config(teams=(THROUGH_THE_CHANNEL,)))
    ask(client, fake_slack, ALICE)
    deactivate(client, fake_slack, HR, "Ev_HR_GONE_C")
    fake_slack.clear_calls()

    leave_channel(client, fake_slack, BOB, C_ENG_LEADS, "Ev_BOB_LEFT_S")
    leave_channel(client, fake_slack, BOB, C_ENG_LEADS, "Ev_BOB_LEFT_S", retry_num=1)  # Slack's retry

    nobody = [t for t in dms_to(fake_slack, ALICE) if "Nobody may decide your request" in t]
    assert len(nobody) == 1, dms_to(fake_slack, ALICE)
    assert "stays pending" in nobody[0] and "withdraw" in nobody[0], nobody[0]


def test_alice_is_not_told_to_ask_hr_who_has_left_to_add_an_approver(client, fake_slack):
    """Hannah, the only fallback approver, left; now Bob, the only approver, leaves too. Alice is told nobody
    may decide her request and to "ask … to add an approver". Sending her to Hannah, whose account is
    deactivated, leaves her asking someone who is gone: she should be told to ask HR (whoever that is now),
    not mention a deactivated account."""
    install_config(standard_config(teams=(BOB_ALONE,)))
    ask(client, fake_slack, ALICE)
    deactivate(client, fake_slack, HR, "Ev_HR_GONE_D")
    fake_slack.clear_calls()

    deactivate(client, fake_slack, BOB, "Ev_BOB_GONE_D")

    [nobody] = [t for t in dms_to(fake_slack, ALICE) if "Nobody may decide your request" in t]
    ask_part = nobody.split("ask", 1)[1] if "ask" in nobody else nobody
    assert mention(HR) not in ask_part, nobody


def test_hr_is_told_only_of_the_requests_that_now_wait_on_them(client, fake_slack):
    """Bob (by name) and Dave (in #eng-leads) approve for Engineering. Dave asks for leave: only Bob may
    decide it. Alice asks too: Bob and Dave may. Bob is deactivated: Dave's request now waits on HR, Alice's
    still on Dave. HR is told of one request, not two; Alice's receipt keeps naming Dave."""
    with fake_slack.workspace.lock:
        fake_slack.workspace.channels[C_ENG_LEADS].members.discard(BOB)
    install_config()
    daves = ask(client, fake_slack, DAVE, MONDAY, WEDNESDAY)
    alices = ask(client, fake_slack, ALICE, NEXT_MONDAY, NEXT_WEDNESDAY)
    assert mention(DAVE) in alices.params["text"]
    fake_slack.clear_calls()

    deactivate(client, fake_slack, BOB, "Ev_BOB_GONE_E")

    told_hr = [t for t in dms_to(fake_slack, HR) if "only approver left" in t]
    assert len(told_hr) == 1 and "for 1 pending" in told_hr[0], told_hr
    assert not [t for t in receipts_to(fake_slack, ALICE) if "is with" in t and mention(HR) in t]
    assert [t for t in receipts_to(fake_slack, DAVE) if "is with" in t and mention(HR) in t], \
        receipts_to(fake_slack, DAVE)
    click(client, fake_slack, DAVE, ids.APPROVE_ACTION, alices)
    assert status_of(fake_slack, alices)["decided_by"] == DAVE
    click(client, fake_slack, HR, ids.APPROVE_ACTION, daves)
    assert status_of(fake_slack, daves)["decided_by"] == HR


def test_an_approver_of_two_teams_deactivated_tells_hr_once_of_every_request_now_theirs(client, fake_slack):
    """Bob is the only approver of Engineering and of Sales; Alice and Carol each wait on him. Bob leaves:
    each fallback approver gets one DM, counting both requests and naming both teams, and may decide both."""
    sales = add_sales(fake_slack)
    install_config(standard_config(teams=(BOB_ALONE, sales)))
    alices = ask(client, fake_slack, ALICE)
    carols = ask(client, fake_slack, CAROL, channel=C_SALES_APPROVALS)
    fake_slack.clear_calls()

    deactivate(client, fake_slack, BOB, "Ev_BOB_GONE_T")

    told_hr = [t for t in dms_to(fake_slack, HR) if "only approver left" in t]
    assert len(told_hr) == 1, dms_to(fake_slack, HR)
    assert "2 pending" in told_hr[0] and "Engineering" in told_hr[0] and "Sales" in told_hr[0], told_hr[0]
    for posted in (alices, carols):
        click(client, fake_slack, HR, ids.APPROVE_ACTION, posted)
        assert status_of(fake_slack, posted)["decided_by"] == HR


# --- Someone leaves: a requester ---------------------------------------------------------------------


def test_a_requester_leaving_with_two_pending_requests_is_listed_twice_for_hr_and_told_once(client, fake_slack):
    """README: each of their pending requests is listed for HR among the delivery problems
    (`user_deactivated`), and every fallback approver is told by DM, once, however often Slack sends the
    event. Alice gets nothing more."""
    install_config()
    ask(client, fake_slack, ALICE, MONDAY, WEDNESDAY)
    ask(client, fake_slack, ALICE, NEXT_MONDAY, NEXT_WEDNESDAY)
    fake_slack.clear_calls()

    deactivate(client, fake_slack, ALICE, "Ev_ALICE_GONE")
    deactivate(client, fake_slack, ALICE, "Ev_ALICE_GONE", retry_num=1)
    deactivate(client, fake_slack, ALICE, "Ev_ALICE_GONE_AGAIN")  # a later profile event, still deactivated

    rows = DeliveryProblem.objects.filter(user=ALICE, error="user_deactivated")
    assert rows.count() == 2
    told_hr = [t for t in dms_to(fake_slack, HR) if mention(ALICE) in t and "deactivated" in t]
    assert len(told_hr) == 1 and "2 pending" in told_hr[0], dms_to(fake_slack, HR)
    assert dms_to(fake_slack, ALICE) == []


def test_the_console_marks_someone_deactivated_on_whos_out_balances_and_the_csv_as_soon_as_slack_says_so(
        client, fake_slack, django_user_model):
    """README: the console keeps naming them (Who's out, Balances, the CSV), marked "(deactivated)" from the
    moment Slack's `user_change` says so, not at its next read of Slack's names."""
    install_config()
    day = working_day_ahead(7)
    leave = LedgerEntry(id=str(uuid.uuid4()), user=ALICE, team="Engineering", leave_type="vacation", start=day,
                        end=day, start_half=None, end_half=None, days=Decimal(1), status=APPROVED, decided_by=BOB,
                        decided_at=1764000000)
    post_entry(fake_slack, leave)
    slack_directory.directory_refresh(background_client())
    hr = client
    hr.force_login(django_user_model.objects.create_superuser("hannah", "hannah@example.com", "pw-x7!long-enough"))
    for page in ("console:whos_out", "console:balances"):
        hr.get(reverse(page))  # the first visit has the worker read the ledger (at once, in tests)
    assert "Alice Adams" in hr.get(reverse("console:whos_out")).text

    deactivate(client, fake_slack, ALICE, "Ev_ALICE_GONE_C")

    whos_out = hr.get(reverse("console:whos_out")).text
    assert "Alice Adams (deactivated)" in whos_out, whos_out[whos_out.find("<main"):][:3000]
    balances = hr.get(reverse("console:balances")).text
    assert "Alice Adams (deactivated)" in balances, balances[balances.find("<main"):][:3000]
    exported = hr.get(reverse("console:ledger_export"), {"download": "1", "year": str(day.year)})
    rows = list(csv.reader(io.StringIO(b"".join(exported.streaming_content).decode()
                                       if exported.streaming else exported.content.decode())))
    assert [r for r in rows if any("Alice Adams (deactivated)" in cell for cell in r)], rows[:5]


# --- HR on behalf ------------------------------------------------------------------------------------


def test_leave_hr_records_is_written_as_recorded_by_them_approved_and_asks_nobody(client, fake_slack):
    """README: `/timeoff for @person …` is recorded as approved at once, with `recorded_by` in the metadata,
    and the person told by DM: no Approve / Reject for anyone to press."""
    install_config()
    answer = post_command(client, f"for <@{ALICE}|alice> {NEXT_MONDAY.isoformat()} {NEXT_WEDNESDAY.isoformat()} "
                                  "vacation", user_id=HR)
    assert answer.status_code == 200 and answer.content == b"", answer.content
    form = fake_slack.last_call("views.open").params["view"]
    form = json.loads(form) if isinstance(form, str) else form
    sent = submit_request(client, HR, form, request_values("vacation", NEXT_MONDAY, NEXT_WEDNESDAY),
                          view_id="V_REC1", view_hash="h-rec1")
    assert sent.status_code == 200 and sent.content == b"", sent.content

    [posted] = posted_requests(fake_slack)
    payload = status_of(fake_slack, posted)
    assert (payload["user"], payload["status"], payload.get("recorded_by")) == (ALICE, "approved", HR), payload
    assert buttons_in(posted.params["blocks"]).keys().isdisjoint({ids.APPROVE_ACTION, ids.REJECT_ACTION})
    assert [t for t in dms_to(fake_slack, ALICE) if mention(HR) in t], dms_to(fake_slack, ALICE)
    assert dms_to(fake_slack, BOB) == []


# --- More of who may decide, and who is told -----------------------------------------------------------


class OutsiderUser(User):
    """Someone of another organisation, in a channel shared through Slack Connect: users.info gives their
    own workspace as `team_id`."""

    def to_api(self) -> dict:
        api = super().to_api()
        api["team_id"] = PARTNER_TEAM
        api["profile"] = {**api["profile"], "team": PARTNER_TEAM}
        return api


PARTNER = "U0PARTNER9"
PARTNER_TEAM = "T_GLOBEX"


def test_someone_of_another_organisation_named_as_an_approver_does_not_decide_and_hr_does(client, fake_slack):
    """A configuration file names a partner company's lead (in a Slack Connect channel) as Engineering's
    approver. README: people of another organisation never decide; that leaves nobody, so HR does."""
    with fake_slack.workspace.lock:
        fake_slack.workspace.users[PARTNER] = OutsiderUser(PARTNER, "pat.globex", "Pat (Globex)",
                                                           email="pat@globex.example")
        fake_slack.workspace.channels[C_ENG_APPROVALS].members.add(PARTNER)
    install_config(standard_config(teams=(replace(ENGINEERING, approvers=ApproverSource(users=(PARTNER,))),)))
    posted = ask(client, fake_slack, ALICE)
    assert mention(PARTNER) not in posted.params["text"] and mention(HR) in posted.params["text"]

    click(client, fake_slack, PARTNER, ids.APPROVE_ACTION, posted)
    assert status_of(fake_slack, posted)["status"] == "pending"
    assert [t for t in told(fake_slack, PARTNER) if "not an approver for Engineering" in t], told(fake_slack, PARTNER)
    click(client, fake_slack, HR, ids.APPROVE_ACTION, posted)
    assert status_of(fake_slack, posted)["decided_by"] == HR


def test_a_request_only_a_guest_fallback_approver_could_decide_is_not_posted_and_the_requester_is_told(
        client, fake_slack):
    """Bob is Engineering's only approver and asks for leave; the only fallback approver is a guest, who
    may not decide either. README: a request nobody at all could approve is not posted, and the requester
    is told why by DM, with what they asked for."""
    add_guest(fake_slack)
    install_config(standard_config(teams=(BOB_ALONE,), fallback_approvers=(GUEST,)))
    view = open_request_form(client, fake_slack, BOB)
    submit_request(client, BOB, view, request_values("vacation", MONDAY, WEDNESDAY), view_id="V_BOB_G")

    assert posted_requests(fake_slack) == []
    said = told(fake_slack, BOB)
    assert [t for t in said if "Mon 10 Mar" in t and "Wed 12 Mar" in t], said


def test_each_fallback_approver_is_told_of_the_requests_that_wait_on_them_and_not_of_their_own(client, fake_slack):
    """Hannah and Carol are the fallback approvers; Hannah works in Engineering too. Alice and Hannah each
    wait on Bob. Bob leaves: Alice's request now waits on Hannah and Carol, Hannah's on Carol alone.
    Carol is told of two requests; Hannah of one (Alice's), never that her own waits on her."""
    with fake_slack.workspace.lock:
        fake_slack.workspace.channels[C_ENG].members.add(HR)
    install_config(standard_config(teams=(BOB_ALONE,), fallback_approvers=(HR, CAROL)))
    ask(client, fake_slack, ALICE, MONDAY, WEDNESDAY)
    hannahs = ask(client, fake_slack, HR, NEXT_MONDAY, NEXT_WEDNESDAY)
    fake_slack.clear_calls()

    deactivate(client, fake_slack, BOB, "Ev_BOB_GONE_F")

    to_carol = [t for t in dms_to(fake_slack, CAROL) if "only approver left" in t]
    to_hannah = [t for t in dms_to(fake_slack, HR) if "only approver left" in t]
    assert len(to_carol) == 1 and "for 2 pending" in to_carol[0], to_carol
    assert len(to_hannah) == 1 and "for 1 pending" in to_hannah[0], to_hannah
    assert "Nobody may decide" not in to_hannah[0] + to_carol[0]
    assert [t for t in receipts_to(fake_slack, HR) if "is with" in t and mention(CAROL) in t
            and mention(HR) not in t.split("is with", 1)[1]], receipts_to(fake_slack, HR)
    click(client, fake_slack, HR, ids.APPROVE_ACTION, hannahs)
    assert status_of(fake_slack, hannahs)["status"] == "pending"
    click(client, fake_slack, CAROL, ids.APPROVE_ACTION, hannahs)
    assert status_of(fake_slack, hannahs)["decided_by"] == CAROL


def test_an_approver_who_comes_back_and_leaves_again_is_told_to_hr_again(client, fake_slack):
    """README: once for those requests however often Slack sends the event, and again should the person be
    reactivated and then deactivated once more. Bob, Engineering's only approver, leaves, comes back, and
    leaves again while Alice's request waits."""
    install_config(standard_config(teams=(BOB_ALONE,)))
    ask(client, fake_slack, ALICE)
    deactivate(client, fake_slack, BOB, "Ev_BOB_OUT_1")
    deactivate(client, fake_slack, BOB, "Ev_BOB_OUT_1", retry_num=1)
    with fake_slack.workspace.lock:
        fake_slack.workspace.users[BOB].deleted = False
        profile = fake_slack.workspace.users[BOB].to_api()
    post_event(client, event_envelope({"type": "user_change", "user": profile}, event_id="Ev_BOB_BACK"))
    assert len([t for t in dms_to(fake_slack, HR) if "only approver left" in t]) == 1

    deactivate(client, fake_slack, BOB, "Ev_BOB_OUT_2")

    assert len([t for t in dms_to(fake_slack, HR) if "only approver left" in t]) == 2, dms_to(fake_slack, HR)


# --- The Setup page when nobody can decide ----------------------------------------------------------------


def nobody_approves_warning(admin_client) -> str:
    admin_client.get("/console/setup/")  # the first visit has the check run (at once, in tests)
    page = admin_client.get("/console/setup/").content.decode()
    assert 'id="connection"' in page
    if 'id="teams-nobody-approves"' not in page:
        return ""
    return page.split('id="teams-nobody-approves"', 1)[1].split("</p>", 1)[0]


def test_the_setup_page_names_a_team_whose_approvers_channel_member_and_hr_have_both_left(
        client, fake_slack, admin_client):
    """Engineering's approvers are #eng-leads, where Bob alone sits; Hannah, the only fallback approver, and
    then Bob are deactivated (Slack still lists Bob among the channel's members). README: the Setup page
    names the team among those nobody can approve for; approvers the cache knows are deactivated count as
    none."""
    with fake_slack.workspace.lock:
        fake_slack.workspace.channels[C_ENG_LEADS].members.discard(DAVE)
    install_config(standard_config(teams=(THROUGH_THE_CHANNEL,)))
    ask(client, fake_slack, ALICE)
    deactivate(client, fake_slack, HR, "Ev_HR_GONE_S1")
    deactivate(client, fake_slack, BOB, "Ev_BOB_GONE_S1")

    assert "Engineering" in nobody_approves_warning(admin_client)


def test_the_setup_page_names_a_team_left_with_only_a_guest_in_its_approvers_channel(
        client, fake_slack, admin_client):
    """Hannah, the only fallback approver, has left. Bob leaves #eng-leads, where only a contractor (a
    guest) remains: guests do not decide leave, so nobody can approve for Engineering, and Alice was told
    so. The Setup page should name the team too."""
    with fake_slack.workspace.lock:
        fake_slack.workspace.channels[C_ENG_LEADS].members.discard(DAVE)
    add_guest(fake_slack, channels=[C_ENG_LEADS])
    install_config(standard_config(teams=(THROUGH_THE_CHANNEL,)))
    ask(client, fake_slack, ALICE)
    deactivate(client, fake_slack, HR, "Ev_HR_GONE_S2")
    leave_channel(client, fake_slack, BOB, C_ENG_LEADS, "Ev_BOB_LEFT_S2")
    assert [t for t in dms_to(fake_slack, ALICE) if "Nobody may decide your request" in t]

    assert "Engineering" in nobody_approves_warning(admin_client)


def test_a_request_of_a_removed_team_is_decided_by_hr_but_not_by_a_guest_listed_among_them(client, fake_slack):
    """A removed team's pending request is HR's (the fallback approvers') to decide; a guest a configuration
    file lists among them decides it no more than any other request."""
    add_guest(fake_slack, channels=[C_ENG_APPROVALS])
    install_config(standard_config(fallback_approvers=(HR, GUEST)))
    posted = ask(client, fake_slack, ALICE)
    sales = add_sales(fake_slack)
    install_config(standard_config(fallback_approvers=(HR, GUEST), teams=(sales,)))  # Engineering removed

    click(client, fake_slack, GUEST, ids.APPROVE_ACTION, posted)
    assert status_of(fake_slack, posted)["status"] == "pending"
    assert [t for t in told(fake_slack, GUEST) if "no longer configured" in t], told(fake_slack, GUEST)

    click(client, fake_slack, HR, ids.APPROVE_ACTION, posted)
    assert (status_of(fake_slack, posted)["status"], status_of(fake_slack, posted)["decided_by"]) == ("approved", HR)
