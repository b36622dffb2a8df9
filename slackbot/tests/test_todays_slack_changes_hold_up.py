"""Today's changes, met the way real Slack meets them.

Channel events (the bot removed from, or Slack archiving or deleting, a channel the configuration uses)
arrive over HTTP and over Socket Mode, first deliveries and retries, for channels two teams share. Edits
come from forms opened at different moments: HR's, the requester's own two tabs, a form redrawn by
`views.update` as dates change, a form whose private_metadata a client tampered with. HR acts for
people who are not the company's staff (another organisation's, an app's bot). Approvals meet a
cancellation before their thread reply went out, and a second click.

Everything is signed and shaped as Slack sends it; the assertions are on what crossed the wire to the
fake Slack (DMs, thread replies, rewritten messages and their metadata, views) and on the HTTP answers.
"""

import json
import time
from dataclasses import replace
from datetime import timedelta

import pytest
from django.core.cache import cache
from slack_sdk.socket_mode.request import SocketModeRequest

from approvals import block_ids as ids
from approvals.config_types import ApproverSource, MemberSource, TeamConfig
from approvals.setup_checks import REQUESTED_KEY
from fake_slack.personas import BOT, C_ENG, C_ENG_APPROVALS, C_ENG_LEADS, C_GENERAL, C_OLD_APPROVALS, CAROL
from slackbot.socket_mode import answer
from test_support.flows import (
    ALICE,
    BOB,
    DAVE,
    ENGINEERING,
    HR,
    MONDAY,
    WEDNESDAY,
    buttons_in,
    dms_to,
    install_config,
    open_request_form,
    request_values,
    standard_config,
)
from test_support.simulated_time import work_through_the_queue
from test_support.slack_faults import failing
from test_support.slack_requests import (
    SLACK_TEAM,
    block_actions_payload,
    event_envelope,
    new_trigger_id,
    post_command,
    post_event,
    post_interaction,
    slack_user,
    view_submission_payload,
)

pytestmark = pytest.mark.django_db

TUESDAY = MONDAY + timedelta(days=1)
THURSDAY = MONDAY + timedelta(days=3)
FRIDAY = MONDAY + timedelta(days=4)
OTHER_HR = "U_HR2"
C_SUPPORT_OUT = "C_SUPPORT_OUT"

SUPPORT = TeamConfig(
    name="Support",
    members=MemberSource(users=(CAROL,)),
    approvers=ApproverSource(users=(BOB,)),
    approvals_channel=C_ENG_APPROVALS,  # one approvals channel for both teams, as small companies do
    announce_channel=C_GENERAL,
    timezone="UTC",
)


def as_view(view) -> dict:
    return json.loads(view) if isinstance(view, str) else view


def metadata_of(params) -> dict:
    metadata = params.get("metadata")
    return json.loads(metadata) if isinstance(metadata, str) else (metadata or {})


# --- Channel events ---------------------------------------------------------------------------------


def channel_event(kind: str, channel: str) -> dict:
    shaped = {"type": kind, "channel": channel, "event_ts": f"{time.time():.6f}"}
    if kind.endswith("_left"):
        shaped["actor_id"] = "U_ADMIN"
    elif kind in ("channel_archive", "channel_unarchive"):
        shaped["user"] = "U_ADMIN"
    return shaped


def over_socket_mode(envelope: dict, envelope_id: str, retry_attempt: int | None = None):
    """The envelope as Slack sends it over Socket Mode; the acknowledgement the app would send back."""
    return answer(SocketModeRequest("events_api", envelope_id, envelope, retry_attempt=retry_attempt,
                                    retry_reason="timeout" if retry_attempt else None))


def setup_checked(fake_slack) -> bool:
    return bool(fake_slack.calls("conversations.info"))


def test_a_channel_lost_over_socket_mode_tells_hr_once_across_slacks_retries(fake_slack):
    install_config()
    envelope = event_envelope(channel_event("channel_archive", C_ENG_APPROVALS), event_id="Ev_SOCK_LOST")

    acks = [over_socket_mode(envelope, "env-1"), over_socket_mode(envelope, "env-2", retry_attempt=1),
            over_socket_mode(envelope, "env-3", retry_attempt=2)]

    assert [ack.envelope_id for ack in acks if ack is not None] == ["env-1", "env-2", "env-3"]
    [told] = dms_to(fake_slack, HR)
    assert told.startswith(f":warning: <#{C_ENG_APPROVALS}> was archived"), told
    assert "• Engineering: approvals channel" in told and "Unarchive it" in told
    assert setup_checked(fake_slack)


@pytest.mark.parametrize("transport", ["http", "socket_mode"])
def test_a_retry_whose_first_delivery_never_reached_the_app_still_tells_hr(client, fake_slack, transport):
    # The first delivery was lost on the way (a load balancer's timeout, a dropped WebSocket): Slack's
    # retry is all the app ever sees of this loss.
    install_config()
    envelope = event_envelope(channel_event("group_left", C_ENG_APPROVALS), event_id="Ev_ONLY_RETRY")

    if transport == "http":
        assert post_event(client, envelope, retry_num=1).status_code == 200
    else:
        assert over_socket_mode(envelope, "env-r", retry_attempt=1).envelope_id == "env-r"

    [told] = dms_to(fake_slack, HR)
    assert told.startswith(f":warning: I was removed from <#{C_ENG_APPROVALS}>"), told


def test_a_channel_two_teams_use_is_told_to_each_hr_once_with_both_teams_uses(client, fake_slack):
    fake_slack.workspace.add_user(OTHER_HR, "harriet", real_name="Harriet Holm")
    install_config(standard_config(teams=(ENGINEERING, SUPPORT), fallback_approvers=(HR, OTHER_HR)))
    envelope = event_envelope(channel_event("group_deleted", C_ENG_APPROVALS), event_id="Ev_TWO_TEAMS")

    assert post_event(client, envelope).status_code == 200
    assert post_event(client, envelope, retry_num=1).status_code == 200
    assert over_socket_mode(envelope, "env-dup", retry_attempt=2) is not None

    for hr in (HR, OTHER_HR):
        [told] = dms_to(fake_slack, hr)
        assert told.startswith(f":warning: <#{C_ENG_APPROVALS}> was deleted"), told
        assert "• Engineering: approvals channel" in told and "• Support: approvals channel" in told, told
        assert "Choose another channel" in told


def test_the_bot_removed_from_a_public_members_channel_another_team_announces_in_is_told(client, fake_slack):
    # #engineering makes Engineering's members (readable from outside) and is Support's announce channel
    # (which the bot must be in to post): losing it is a loss.
    install_config(standard_config(teams=(replace(ENGINEERING, announce_channel=None),
                                          replace(SUPPORT, approvals_channel=C_OLD_APPROVALS,
                                                  announce_channel=C_ENG))))

    assert post_event(client, event_envelope(channel_event("channel_left", C_ENG), event_id="Ev_MEMBERS")
                      ).status_code == 200

    [told] = dms_to(fake_slack, HR)
    assert "• Support: announce channel" in told and "• Engineering: members channel" in told, told
    assert "Invite me back" in told


def test_the_bot_removed_from_a_public_channel_both_teams_only_read_members_of_tells_nobody(client, fake_slack):
    install_config(standard_config(teams=(ENGINEERING, replace(SUPPORT, members=MemberSource(channel=C_ENG_LEADS),
                                                               approvals_channel=C_OLD_APPROVALS))))

    post_event(client, event_envelope(channel_event("channel_left", C_ENG_LEADS), event_id="Ev_LEADS"))

    assert dms_to(fake_slack, HR) == []


def test_the_bot_invited_back_after_it_was_removed_checks_the_setup_again(client, fake_slack):
    install_config()
    post_event(client, event_envelope(channel_event("channel_left", C_ENG_APPROVALS), event_id="Ev_OUT"))
    assert len(dms_to(fake_slack, HR)) == 1
    cache.delete(REQUESTED_KEY)  # as if a while later
    fake_slack.clear_calls()

    joined = {"type": "member_joined_channel", "user": BOT, "channel": C_ENG_APPROVALS, "channel_type": "G",
              "team": SLACK_TEAM, "inviter": "U_ADMIN", "event_ts": f"{time.time():.6f}"}
    ack = over_socket_mode(event_envelope(joined, event_id="Ev_BACK"), "env-back")

    assert ack.envelope_id == "env-back"
    assert setup_checked(fake_slack), [c.method for c in fake_slack.calls()]
    assert dms_to(fake_slack, HR) == []


# --- Edits from forms opened at different moments -----------------------------------------------------


class Office:
    """Engineering as the flows' standard configuration has it; every click's work waits as a task row."""

    def __init__(self, client, fake_slack, clock, config=None):
        self.client, self.fake, self.clock = client, fake_slack, clock
        install_config(config)
        self.sent = 0
        self.receipts = {}

    def run(self, **kwargs) -> int:
        return work_through_the_queue(self.clock, **kwargs)

    def ask(self, start=MONDAY, end=WEDNESDAY, *, note="Ski week") -> str:
        form = open_request_form(self.client, self.fake, ALICE)
        assert self.send(ALICE, form, start, end, note=note).content == b""
        self.run()
        posted = [c for c in self.fake.calls("chat.postMessage") if c.params.get("channel") == C_ENG_APPROVALS
                  and not c.params.get("thread_ts") and c.response.get("ok")
                  and metadata_of(c.params).get("event_type") == "timeoff_request"]
        request_id = metadata_of(posted[-1].params)["event_payload"]["id"]
        receipt = next(c for c in self.fake.calls("chat.postMessage") if c.params.get("channel") == ALICE
                       and c.response.get("ok") and request_id in json.dumps(c.params.get("blocks") or []))
        self.receipts[request_id] = (receipt.response["channel"], receipt.response["ts"])
        return request_id

    def send(self, user, form, start, end, *, leave_type="vacation", note="", view_id=None, view_hash=None):
        """`user` sends `form` (as Slack sends a submission): the HTTP answer."""
        self.sent += 1
        view_id = view_id or f"V_SENT{self.sent}"
        response = post_interaction(self.client, view_submission_payload(
            user_id=user, view=form, values=request_values(leave_type, start, end, note=note),
            view_id=view_id, view_hash=view_hash or f"1766000000.{view_id}"))
        assert response.status_code == 200, response.content
        return response

    def alices_form(self, request_id) -> dict:
        """Alice presses Edit on her receipt DM (as it stands now): the form Slack was asked to open."""
        channel, ts = self.receipts[request_id]
        block_id, value = buttons_in(self.fake.workspace.message(channel, ts).blocks)[ids.EDIT_ACTION]
        return self._opened(ALICE, block_actions_payload(user_id=ALICE, action_id=ids.EDIT_ACTION, value=value,
                                                         block_id=block_id, channel_id=channel, message_ts=ts))

    def hrs_form(self) -> dict:
        """HR types `/timeoff for @alice list` and presses Edit on Alice's pending request."""
        response = post_command(self.client, f"for <@{ALICE}|alice> list", user_id=HR)
        assert response.status_code == 200, response.content
        blocks = response.json().get("blocks") or []
        if ids.EDIT_ACTION not in buttons_in(blocks):
            self.run()
            blocks = [c.params.get("blocks") for c in self.fake.calls("chat.postMessage")
                      if c.params.get("channel") == HR and ids.EDIT_ACTION in buttons_in(c.params.get("blocks"))][-1]
        block_id, value = buttons_in(blocks)[ids.EDIT_ACTION]
        payload = block_actions_payload(user_id=HR, action_id=ids.EDIT_ACTION, value=value, block_id=block_id,
                                        channel_id=C_GENERAL, message_ts="1766000000.000400")
        payload["container"]["is_ephemeral"] = True
        payload.pop("message")
        return self._opened(HR, payload)

    def _opened(self, user, payload) -> dict:
        before = len(self.fake.calls("views.open"))
        response = post_interaction(self.client, payload)
        assert response.status_code == 200, response.content
        self.run()
        opened = self.fake.calls("views.open")[before:]
        assert opened and opened[-1].response.get("ok"), f"no form opened for {user}: {dms_to(self.fake, user)}"
        view = as_view(opened[-1].params["view"])
        return {**view, "id": opened[-1].response["view"]["id"], "hash": opened[-1].response["view"]["hash"]}

    def message(self, request_id):
        [message] = [m for m in self.fake.workspace.messages(C_ENG_APPROVALS)
                     if m.metadata and m.metadata.get("event_type") == "timeoff_request"
                     and m.metadata["event_payload"]["id"] == request_id]
        return message

    def dates(self, request_id) -> tuple[str, str]:
        payload = self.message(request_id).metadata["event_payload"]
        return payload["start"], payload["end"]

    def thread(self, request_id) -> list[str]:
        return [m.text for m in self.fake.workspace.replies(C_ENG_APPROVALS, self.message(request_id).ts)[1:]]

    def edits_told(self, request_id) -> list[str]:
        return [t for t in self.thread(request_id) if t.startswith("Edited by")]

    def refusals_to(self, user) -> list[str]:
        return [c.params["text"] for c in self.fake.calls("chat.postMessage")
                if c.params.get("channel") == user and c.response.get("ok")
                and c.params.get("text", "").startswith("I couldn't change that request")]


def form_errors(response) -> str:
    return json.dumps(response.json().get("errors")) if response.content else ""


def refused_as_changed_since(response) -> bool:
    return "Someone else changed this request after you opened this form" in form_errors(response)


def test_hr_then_alice_from_an_old_form_then_hr_from_an_old_tab_each_meets_the_change_they_did_not_see(
        client, fake_slack, clock):
    office = Office(client, fake_slack, clock)
    request_id = office.ask()
    alices_old_form = office.alices_form(request_id)
    hrs_first_tab = office.hrs_form()
    hrs_second_tab = office.hrs_form()
    assert json.loads(hrs_first_tab["private_metadata"]).get("v"), hrs_first_tab["private_metadata"]

    # HR shortens it to Monday and Tuesday.
    assert office.send(HR, hrs_first_tab, MONDAY, TUESDAY).content == b""
    office.run()
    assert office.dates(request_id) == (MONDAY.isoformat(), TUESDAY.isoformat())
    assert [t.split(":")[0] for t in office.edits_told(request_id)] == [f"Edited by <@{HR}>"]

    # Alice's form still holds Monday to Wednesday: sent, it would quietly put Wednesday back.
    refused = office.send(ALICE, alices_old_form, MONDAY, FRIDAY)
    office.run()
    assert refused_as_changed_since(refused), refused.content
    assert office.dates(request_id) == (MONDAY.isoformat(), TUESDAY.isoformat())

    # She presses Edit again: the form opens on HR's dates and is written.
    fresh = office.alices_form(request_id)
    by_block = {b.get("block_id"): b for b in fresh["blocks"]}
    assert by_block[ids.END_BLOCK]["element"]["initial_date"] == TUESDAY.isoformat()
    assert office.send(ALICE, fresh, MONDAY, THURSDAY).content == b""
    office.run()
    assert office.dates(request_id) == (MONDAY.isoformat(), THURSDAY.isoformat())

    # HR's other tab, opened before either change, would undo Alice's.
    stale = office.send(HR, hrs_second_tab, TUESDAY, WEDNESDAY)
    office.run()
    assert office.dates(request_id) == (MONDAY.isoformat(), THURSDAY.isoformat()), (stale.content,
                                                                                    dms_to(fake_slack, HR))
    assert refused_as_changed_since(stale) or office.refusals_to(HR), stale.content

    # A fresh form of HR's is written.
    assert office.send(HR, office.hrs_form(), TUESDAY, WEDNESDAY).content == b""
    office.run()
    assert office.dates(request_id) == (TUESDAY.isoformat(), WEDNESDAY.isoformat())
    assert len(office.edits_told(request_id)) == 3, office.thread(request_id)
    assert office.refusals_to(ALICE) == []


def test_an_old_form_sent_as_it_opened_after_hr_changed_the_request_undoes_nothing(client, fake_slack, clock):
    office = Office(client, fake_slack, clock)
    request_id = office.ask()
    alices_old_form = office.alices_form(request_id)
    assert office.send(HR, office.hrs_form(), MONDAY, TUESDAY).content == b""
    office.run()
    fake_slack.clear_calls()

    response = office.send(ALICE, alices_old_form, MONDAY, WEDNESDAY)
    office.run()

    assert refused_as_changed_since(response), response.content
    assert office.dates(request_id) == (MONDAY.isoformat(), TUESDAY.isoformat())
    assert [c for c in fake_slack.calls("chat.update") if c.params.get("channel") == C_ENG_APPROVALS] == []


@pytest.mark.parametrize("when", ["the first was written", "the first still waits in its task"])
def test_alices_own_two_tabs_are_each_sent_and_the_last_one_stands(client, fake_slack, clock, when):
    office = Office(client, fake_slack, clock)
    request_id = office.ask()
    laptop, phone = office.alices_form(request_id), office.alices_form(request_id)

    assert office.send(ALICE, laptop, MONDAY, THURSDAY).content == b""
    if when == "the first was written":
        office.run()
    second = office.send(ALICE, phone, MONDAY, FRIDAY)
    office.run()

    assert second.content == b"", second.content
    assert office.dates(request_id) == (MONDAY.isoformat(), FRIDAY.isoformat())
    assert len(office.edits_told(request_id)) == 2, office.thread(request_id)
    assert office.refusals_to(ALICE) == []


def test_alices_old_form_sent_while_hrs_edit_waits_is_refused_by_a_dm_without_raw_mrkdwn(
        client, fake_slack, clock):
    office = Office(client, fake_slack, clock)
    request_id = office.ask()
    alices_old_form = office.alices_form(request_id)
    assert office.send(HR, office.hrs_form(), MONDAY, TUESDAY).content == b""  # its task waits

    response = office.send(ALICE, alices_old_form, MONDAY, FRIDAY)  # the form cannot know yet
    assert response.content == b"", response.content
    office.run()

    assert office.dates(request_id) == (MONDAY.isoformat(), TUESDAY.isoformat())
    [refusal] = office.refusals_to(ALICE)
    assert "&lt;@" not in refusal, refusal  # Slack would show a raw "<@U_HR>"
    assert "someone else changed it after you opened the form (it is now Mon 10 Mar 2031 – Tue 11 Mar 2031)" \
        in refusal, refusal
    assert len(office.edits_told(request_id)) == 1, office.thread(request_id)


def test_the_edit_form_redrawn_as_dates_change_keeps_its_version_and_still_meets_hrs_change(client, fake_slack,
                                                                                            clock):
    office = Office(client, fake_slack, clock)
    request_id = office.ask()
    form = office.alices_form(request_id)
    opened_version = json.loads(form["private_metadata"])["v"]

    # Alice picks Friday as the last day: Slack sends the datepicker's block_actions from the view.
    values = request_values("vacation", MONDAY, FRIDAY)
    payload = {
        "type": "block_actions", "user": slack_user(ALICE), "api_app_id": "A_TIMEOFF",
        "token": "verification-token-unused", "container": {"type": "view", "view_id": form["id"]},
        "trigger_id": new_trigger_id(), "team": {"id": SLACK_TEAM, "domain": "acme"},
        "view": {**form, "team_id": SLACK_TEAM, "state": {"values": values}},
        "actions": [{"action_id": ids.END_ACTION, "block_id": ids.END_BLOCK, "type": "datepicker",
                     "selected_date": FRIDAY.isoformat(), "initial_date": WEDNESDAY.isoformat(),
                     "action_ts": f"{time.time():.6f}"}],
    }
    assert post_interaction(client, payload).status_code == 200
    [redraw] = fake_slack.calls("views.update")
    assert redraw.response.get("ok"), redraw.response
    redrawn = as_view(redraw.params["view"])
    assert json.loads(redrawn["private_metadata"]) == json.loads(form["private_metadata"])
    assert json.loads(redrawn["private_metadata"])["v"] == opened_version

    # HR changes the request meanwhile; Alice sends the redrawn form.
    assert office.send(HR, office.hrs_form(), MONDAY, TUESDAY).content == b""
    office.run()
    response = office.send(ALICE, {**redrawn, "id": form["id"]}, MONDAY, FRIDAY, view_id=form["id"],
                           view_hash=redraw.response["view"]["hash"])
    office.run()

    assert refused_as_changed_since(response), response.content
    assert office.dates(request_id) == (MONDAY.isoformat(), TUESDAY.isoformat())


@pytest.mark.parametrize("tampered", ["0123456789ab", "", 12, 1.5, None, True, ["x"], {"v": "x"}, "v" * 2500],
                         ids=["other-version", "empty", "int", "float", "null", "bool", "list", "object", "long"])
def test_a_tampered_version_in_the_form_is_answered_and_writes_at_most_the_form(client, fake_slack, clock, tampered):
    # Nobody else changed the request: whatever the version says, Alice's own edit is hers to make.
    office = Office(client, fake_slack, clock)
    request_id = office.ask()
    form = office.alices_form(request_id)
    metadata = {**json.loads(form["private_metadata"]), "v": tampered}

    response = office.send(ALICE, {**form, "private_metadata": json.dumps(metadata)}, MONDAY, FRIDAY)
    office.run()

    assert response.status_code == 200 and response.content == b"", response.content
    assert office.dates(request_id) == (MONDAY.isoformat(), FRIDAY.isoformat())
    assert office.refusals_to(ALICE) == []


def test_a_version_tampered_to_another_string_after_hrs_change_does_not_undo_it(client, fake_slack, clock):
    office = Office(client, fake_slack, clock)
    request_id = office.ask()
    form = office.alices_form(request_id)
    assert office.send(HR, office.hrs_form(), MONDAY, TUESDAY).content == b""
    office.run()
    metadata = {**json.loads(form["private_metadata"]), "v": "not-a-version"}

    response = office.send(ALICE, {**form, "private_metadata": json.dumps(metadata)}, MONDAY, FRIDAY)
    office.run()

    assert refused_as_changed_since(response), response.content
    assert office.dates(request_id) == (MONDAY.isoformat(), TUESDAY.isoformat())


def test_hrs_edit_whose_rewrite_answer_slack_lost_is_not_undone_by_alices_older_form(client, fake_slack, clock):
    # HR's edit stands (Slack made it, its answer was lost, the retry finds it): it is HR's change all the
    # same, and Alice's form, opened before it, must not quietly put her old dates back.
    office = Office(client, fake_slack, clock)
    request_id = office.ask()
    alices_old_form = office.alices_form(request_id)
    assert office.send(HR, office.hrs_form(), MONDAY, TUESDAY).content == b""

    def rewrite(method, params):
        return method == "chat.update" and params.get("channel") == C_ENG_APPROVALS

    with failing(fake_slack, rewrite, "answer_lost", times=4) as met:
        office.run()
    assert len(met) == 4
    assert office.dates(request_id) == (MONDAY.isoformat(), TUESDAY.isoformat())
    assert len(office.edits_told(request_id)) == 1, office.thread(request_id)

    response = office.send(ALICE, alices_old_form, MONDAY, FRIDAY)
    office.run()

    assert office.dates(request_id) == (MONDAY.isoformat(), TUESDAY.isoformat()), (
        "HR's edit was undone by a form opened before it", response.content, office.thread(request_id))
    assert refused_as_changed_since(response) or office.refusals_to(ALICE), response.content


# --- HR acting for people who are not staff -------------------------------------------------------------


def add_git_bot(fake_slack) -> str:
    bot = "U_GITBOT"
    fake_slack.workspace.add_user(bot, "gitbot", real_name="Git Bot", is_bot=True, bot_id="B_GIT")
    with fake_slack.workspace.lock:
        fake_slack.workspace.channels[C_ENG].members.add(bot)
    return bot


def ledger_entries(fake_slack) -> list[dict]:
    return [m.metadata["event_payload"] for m in fake_slack.workspace.messages(C_ENG_APPROVALS)
            if m.metadata and m.metadata.get("event_type") == "timeoff_request"]


@pytest.mark.parametrize("typed", ["<@B_GIT>", "<@B_GIT|gitbot>"])
def test_a_bot_id_typed_as_a_mention_is_asked_to_mention_a_person(client, fake_slack, typed):
    add_git_bot(fake_slack)
    install_config()
    fake_slack.clear_calls()

    response = post_command(client, f"for {typed} {MONDAY} {WEDNESDAY} vacation", user_id=HR)

    assert response.status_code == 200 and "Mention the person" in response.json()["text"], response.content
    assert fake_slack.calls("views.open") == [] and fake_slack.calls("chat.postMessage") == []


@pytest.mark.parametrize("warm", [False, True], ids=["profile-cold", "profile-cached"])
def test_an_apps_bot_user_listed_by_name_in_a_team_gets_no_leave_recorded(client, fake_slack, warm):
    bot = add_git_bot(fake_slack)
    install_config(standard_config(teams=(replace(ENGINEERING, members=MemberSource(channel=C_ENG, users=(bot,))),)))
    if warm:
        post_command(client, f"for <@{bot}|gitbot> list", user_id=HR)  # the app asks Slack who it is

    response = post_command(client, f"for <@{bot}|gitbot> {MONDAY} {WEDNESDAY} vacation", user_id=HR)
    told = response.json().get("text", "") if response.content else ""
    if not told:
        view = fake_slack.last_call("views.open").params["view"]
        sent = post_interaction(client, view_submission_payload(user_id=HR, view=as_view(view), values=request_values(
            "vacation", MONDAY, WEDNESDAY), view_id="V_BOT", view_hash="h-bot"))
        told = form_errors(sent) + "\n".join(dms_to(fake_slack, HR))

    assert [e for e in ledger_entries(fake_slack) if e["user"] == bot] == []
    assert "they are a bot (an app's user), not a person" in told, told
    assert dms_to(fake_slack, bot) == []


PARTNER = "U0PARTNER1"


def add_partner(fake_slack) -> None:
    """Pat, of Globex (another organisation), seen in Acme's Slack through a shared channel."""
    from fake_slack.workspace import User

    class PartnerUser(User):
        def to_api(self):
            api = super().to_api()
            api["team_id"] = "T0GLOBEX1"
            api["profile"] = {**api["profile"], "team": "T0GLOBEX1"}
            return api

    with fake_slack.workspace.lock:
        fake_slack.workspace.users[PARTNER] = PartnerUser(PARTNER, "pat.globex", "Pat (Globex)", "UTC", None,
                                                          "pat@globex.example")


def partner_named_in_engineering():
    return install_config(standard_config(teams=(replace(ENGINEERING, members=MemberSource(
        channel=C_ENG, users=(PARTNER,))),)))


def answer_or_dm(client, fake_slack, text: str, user: str, to: str) -> str:
    before = len(fake_slack.calls("chat.postMessage"))
    response = post_command(client, text, user_id=user)
    assert response.status_code == 200, response.content
    said = response.json().get("text", "")
    later = [c.params["text"] for c in fake_slack.calls("chat.postMessage")[before:] if c.params.get("channel") == to]
    return "\n".join([said, *later])


@pytest.mark.parametrize("warm", [False, True], ids=["profile-cold", "profile-cached"])
def test_hrs_balance_of_someone_of_another_organisation_named_in_a_team_is_about_them(client, fake_slack, warm):
    add_partner(fake_slack)
    partner_named_in_engineering()
    if warm:
        post_command(client, "", user_id=PARTNER)  # Pat's own try: refused, Pat's profile cached
    fake_slack.clear_calls()

    told = answer_or_dm(client, fake_slack, f"for <@{PARTNER}|pat.globex> balance", HR, HR)

    assert "another organisation" in told, told
    assert "days left" not in told and "Vacation" not in told, told
    assert dms_to(fake_slack, PARTNER) == []


@pytest.mark.parametrize("where", ["named in the team", "in the team's channel"])
def test_someone_of_another_organisation_in_a_team_asking_once_its_ledger_is_warm_has_no_balance_here(
        client, fake_slack, clock, where):
    # Alice's request warms Engineering's ledger; Pat's profile is cold when Pat first asks.
    add_partner(fake_slack)
    if where == "named in the team":
        config = partner_named_in_engineering()
    else:
        with fake_slack.workspace.lock:
            fake_slack.workspace.channels[C_ENG].members.add(PARTNER)
        config = standard_config()
    Office(client, fake_slack, clock, config).ask()
    fake_slack.clear_calls()

    before = len(fake_slack.calls("chat.postMessage"))
    response = post_command(client, "balance", user_id=PARTNER)
    work_through_the_queue(clock)
    told = "\n".join([response.json().get("text", ""), *[c.params["text"] for c in
                                                          fake_slack.calls("chat.postMessage")[before:]
                                                          if c.params.get("channel") == PARTNER]])

    assert "another organisation" in told, told
    assert "days left" not in told and "Engineering" not in told, told


def test_someone_of_another_organisation_named_in_a_team_listing_their_leave_is_told_why_there_is_none(
        client, fake_slack, clock):
    add_partner(fake_slack)
    Office(client, fake_slack, clock, partner_named_in_engineering()).ask()
    fake_slack.clear_calls()

    before = len(fake_slack.calls("chat.postMessage"))
    response = post_command(client, "list", user_id=PARTNER)
    work_through_the_queue(clock)
    told = "\n".join([response.json().get("text", ""), *[c.params["text"] for c in
                                                           fake_slack.calls("chat.postMessage")[before:]
                                                           if c.params.get("channel") == PARTNER]])

    assert "another organisation" in told, told


def test_hr_recording_for_someone_of_another_organisation_named_in_a_team_is_refused_in_words_about_them(
        client, fake_slack):
    add_partner(fake_slack)
    partner_named_in_engineering()

    response = post_command(client, f"for <@{PARTNER}|pat.globex> {MONDAY} {WEDNESDAY} vacation", user_id=HR)
    told = response.json().get("text", "") if response.content else ""
    if not told:
        view = fake_slack.last_call("views.open").params["view"]
        sent = post_interaction(client, view_submission_payload(user_id=HR, view=as_view(view), values=request_values(
            "vacation", MONDAY, WEDNESDAY), view_id="V_PAT", view_hash="h-pat"))
        told = form_errors(sent) + "\n".join(dms_to(fake_slack, HR))

    assert [e for e in ledger_entries(fake_slack) if e["user"] == PARTNER] == []
    assert "another organisation" in told and "you are in this workspace" not in told, told
    assert dms_to(fake_slack, PARTNER) == []


# --- Decisions meeting a cancellation -------------------------------------------------------------------


class Decisions(Office):
    def approve(self, request_id, approver=BOB, *, value=None):
        message = self.message(request_id)
        value = value or buttons_in(message.blocks)[ids.APPROVE_ACTION][1]
        response = post_interaction(self.client, block_actions_payload(
            user_id=approver, action_id=ids.APPROVE_ACTION, value=value, channel_id=C_ENG_APPROVALS,
            message_ts=message.ts, block_id=ids.DECISION_BLOCK))
        assert response.status_code == 200 and response.content == b"", response.content
        return value

    def cancel_from_list(self):
        response = post_command(self.client, "cancel", user_id=ALICE)
        assert response.status_code == 200, response.content
        blocks = response.json().get("blocks") or []
        if ids.CANCEL_ACTION not in buttons_in(blocks):
            self.run(until=self.clock.monotonic() + 1)
            blocks = [c.params.get("blocks") for c in self.fake.calls("chat.postMessage")
                      if c.params.get("channel") == ALICE and ids.CANCEL_ACTION in buttons_in(c.params.get("blocks"))
                      ][-1]
        block_id, value = buttons_in(blocks)[ids.CANCEL_ACTION]
        payload = block_actions_payload(user_id=ALICE, action_id=ids.CANCEL_ACTION, value=value, block_id=block_id,
                                        channel_id=C_GENERAL, message_ts="1766000000.000300")
        payload["container"]["is_ephemeral"] = True
        payload.pop("message")
        assert post_interaction(self.client, payload).status_code == 200

    def said_to(self, user) -> list[str]:
        said = [c.params["text"] for c in self.fake.calls("chat.postEphemeral")
                if c.params.get("user") == user and c.response.get("ok")]
        return said + [c.params["text"] for c in self.fake.calls("chat.postMessage")
                       if c.params.get("channel") == user and c.response.get("ok")]


def test_an_approval_clicked_twice_around_a_cancellation_is_narrated_once_and_nobody_is_told_a_falsehood(
        client, fake_slack, clock):
    # Bob's approval is written but its thread reply meets a 429 (Retry-After 30 s); Slack delivers Bob's
    # click again; Alice cancels; Dave presses Approve on the request as he saw it.
    office = Decisions(client, fake_slack, clock)
    request_id = office.ask()
    value = office.approve(request_id)
    fake_slack.rate_limit("chat.postMessage", retry_after=30, times=1)
    office.run(until=clock.monotonic() + 5)
    assert office.message(request_id).metadata["event_payload"]["status"] == "approved"
    assert office.thread(request_id) == []

    office.approve(request_id, value=value)  # the same click, delivered again
    office.cancel_from_list()
    office.approve(request_id, DAVE, value=value)
    office.run()

    payload = office.message(request_id).metadata["event_payload"]
    assert (payload["status"], payload["decided_by"]) == ("cancelled", ALICE), payload
    thread = office.thread(request_id)
    assert sorted(t.split(" by ")[0] for t in thread) == ["Approved", "Cancelled"], thread
    assert not [t for t in thread if t.startswith(f"Approved by <@{DAVE}>")], thread
    assert not [t for t in office.said_to(BOB) if "already" in t], office.said_to(BOB)
    dave = office.said_to(DAVE)
    assert dave and "cancelled" in dave[-1].lower(), dave


def test_an_approval_slack_made_though_its_answer_was_lost_is_listed_as_approved_at_once(client, fake_slack,
                                                                                         clock):
    office = Decisions(client, fake_slack, clock)
    request_id = office.ask()
    office.approve(request_id)

    def approval(method, params):
        return (method == "chat.update" and params.get("channel") == C_ENG_APPROVALS
                and '"status": "approved"' in json.dumps(params.get("metadata")))

    with failing(fake_slack, approval, "answer_lost", times=4):
        office.run()
    assert office.message(request_id).metadata["event_payload"]["status"] == "approved"
    fake_slack.clear_calls()

    response = post_command(client, "list", user_id=ALICE)
    blocks = response.json().get("blocks") or []
    if not buttons_in(blocks):
        office.run()
        blocks = [c.params.get("blocks") for c in fake_slack.calls("chat.postMessage")
                  if c.params.get("channel") == ALICE][-1]

    assert set(buttons_in(blocks)) == {ids.CANCEL_ACTION}, blocks  # approved leave: Cancel, not Edit/Withdraw
    assert len([t for t in office.said_to(ALICE) if "approved your" in t]) <= 1
