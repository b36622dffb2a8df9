"""Today's changes as the people they touch live them: fallback approvers Slack describes as unable to
decide (a guest, a bot, a deactivated account, someone of another organisation) have none of HR's powers
and none of HR's news, yet are still people whose own requests must not wait in silence; the Setup page
names every such person; `rate_limited` and `team_added_to_org` are passing faults; CSV cells that a
spreadsheet could run as a formula are quoted however they are disguised.

Requests are signed and shaped as Slack sends them and run through the fake Slack Web API; what people are
told is read off the fake's wire. The app learns who people are as it would in use (the Setup check, or a
task asking `users.info`), never by writing its cache.
"""

import time
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

import pytest

from approvals import block_ids as ids
from approvals.config_types import ApproverSource
from approvals.jobs import csv_safe
from approvals.models import DeliveryProblem
from approvals.rules import LedgerEntry
from fake_slack.personas import C_ENG, C_ENG_APPROVALS, C_GENERAL, DAVE
from test_support.console_pages import check_slack_again, signed_in_admin
from test_support.flows import (
    ALICE,
    BOB,
    ENGINEERING,
    HR,
    MONDAY,
    WEDNESDAY,
    buttons_in,
    dms_to,
    ephemerals_to,
    install_config,
    ledger_messages,
    press,
    request_time_off,
    standard_config,
)
from test_support.job_runs import post_entry
from test_support.slack_faults import failing
from test_support.slack_requests import (
    event_envelope,
    post_command,
    post_event,
)
from test_support.unable_deciders import GINA, add_bot, add_former, add_guest


ONLY_HR = "Only HR (the fallback approvers) can record or change time off for someone else."
BOB_ALONE = replace(ENGINEERING, approvers=ApproverSource(users=(BOB,)))


# --- People and steps, as Slack describes and sends them ------------------------------------------------


@pytest.fixture
def console(django_user_model, fake_slack):
    """An HR admin signed in to the console, in a browser of their own."""
    return signed_in_admin(django_user_model)


def answer_text(response) -> str:
    return response.json().get("text", "") if response.content else ""


def command(client, text: str, user: str):
    response = post_command(client, text, user_id=user)
    assert response.status_code == 200, response.content
    return response


def changeable_list(client, fake_slack, user: str) -> list:
    """`/timeoff cancel` by `user`: the blocks of the list it shows (ephemeral, or by DM on a cold cache)."""
    answer = command(client, "cancel", user).json()
    blocks = answer.get("blocks") or []
    if not buttons_in(blocks):
        dms = [c for c in fake_slack.calls("chat.postMessage") if c.params.get("channel") == user]
        blocks = (dms[-1].params.get("blocks") or []) if dms else []
    assert buttons_in(blocks), answer
    return blocks


def deactivate(client, fake_slack, user: str, event_id: str) -> None:
    """Slack deactivates `user`, then sends `user_change` with the whole profile, as it does."""
    with fake_slack.workspace.lock:
        fake_slack.workspace.users[user].deleted = True
        profile = fake_slack.workspace.users[user].to_api()
    response = post_event(client, event_envelope({"type": "user_change", "user": profile,
                                                  "event_ts": "1766000000.000400"}, event_id=event_id))
    assert response.status_code == 200, response.content


def requests_of(fake_slack, person: str) -> list[dict]:
    return [m.metadata["event_payload"] for m in ledger_messages(fake_slack)
            if m.metadata["event_type"] == "timeoff_request" and m.metadata["event_payload"]["user"] == person]


def pending_entry(entry_id: str, user: str, *, team: str, start: date = MONDAY, end: date = WEDNESDAY) -> LedgerEntry:
    days = sum(1 for n in range((end - start).days + 1) if (start + timedelta(n)).weekday() < 5)
    return LedgerEntry(id=entry_id, user=user, team=team, leave_type="vacation", start=start, end=end,
                       start_half=None, end_half=None, days=Decimal(days), status="pending", decided_by=None,
                       decided_at=None)


def thread_replies(fake_slack, ts: str) -> list[str]:
    return [call.params["text"] for call in fake_slack.calls("chat.postMessage")
            if call.params.get("channel") == C_ENG_APPROVALS and call.params.get("thread_ts") == ts]


def cannot_part(page: str) -> str:
    start = page.find("Named to decide leave, but they cannot")
    assert start >= 0, "the Setup page does not list who is named to decide but cannot"
    return page[start:start + 4000].split("</ul>")[0]


# =====================================================================================================
# A fallback approver who cannot decide is still a person whose own request must not wait in silence
# =====================================================================================================


@pytest.mark.django_db
def test_a_guest_fallback_approvers_own_request_that_nobody_may_decide_any_more_is_told_to_them(client, fake_slack):
    """Gina, a contractor the configuration names as the only fallback approver, asked for leave; Bob,
    Engineering's only approver, leaves. Nobody may decide her request now (nobody decides their own, and
    she cannot decide anyway). Any other requester hears so by DM; before today's change Gina heard it as
    HR. Now she has none of HR's news, so she must hear it as a requester, or her request waits for ever
    without her knowing."""
    add_guest(fake_slack)
    install_config(standard_config(fallback_approvers=(GINA,), teams=(BOB_ALONE,)))
    with fake_slack.workspace.lock:
        fake_slack.workspace.channels[C_ENG].members.add(GINA)  # a contractor in Engineering
    request_time_off(client, fake_slack, GINA)
    assert [r["status"] for r in requests_of(fake_slack, GINA)] == ["pending"]
    fake_slack.clear_calls()

    deactivate(client, fake_slack, BOB, "Ev_BOB_LEFT_GINA")

    told = dms_to(fake_slack, GINA)
    assert [text for text in told if "Nobody may decide" in text], told


# =====================================================================================================
# The Setup check describes everyone named to decide
# =====================================================================================================


@pytest.mark.django_db
def test_a_guest_fallback_approver_loses_hrs_powers_after_the_setup_check_even_where_many_approvers_are_named(
        client, fake_slack, console):
    """A company of many teams names 30 leads by id, plus Hannah and Gina (a guest) as fallback
    approvers. README: the Setup check "has Slack describe everyone named to decide, so this holds from the
    first check after they are named": after the check Gina is refused `/timeoff for` as anyone else."""
    add_guest(fake_slack)
    leads = tuple(f"U_LEAD{n:02d}" for n in range(30))
    for n, lead in enumerate(leads):
        fake_slack.workspace.add_user(lead, f"lead{n}", "UTC", f"lead{n}@example.com", real_name=f"Lead {n}")
    install_config(standard_config(
        fallback_approvers=(HR, GINA),
        teams=(replace(ENGINEERING, approvers=ApproverSource(users=(BOB, *leads))),)))
    check_slack_again(console)
    fake_slack.clear_calls()

    answer = answer_text(command(client, f"for <@{ALICE}|alice> {MONDAY} {WEDNESDAY} vacation", GINA))

    assert ONLY_HR in answer, answer
    assert fake_slack.calls("views.open") == []


@pytest.mark.django_db
def test_the_setup_check_asks_slack_about_each_fallback_approver_where_many_approvers_are_named(fake_slack,
                                                                                                console):
    leads = tuple(f"U_LEAD{n:02d}" for n in range(30))
    for n, lead in enumerate(leads):
        fake_slack.workspace.add_user(lead, f"lead{n}", "UTC", f"lead{n}@example.com", real_name=f"Lead {n}")
    add_guest(fake_slack)
    install_config(standard_config(
        fallback_approvers=(HR, GINA),
        teams=(replace(ENGINEERING, approvers=ApproverSource(users=(BOB, *leads))),)))
    fake_slack.clear_calls()

    check_slack_again(console)

    described = {call.params.get("user") for call in fake_slack.calls("users.info")}
    assert {HR, GINA} <= described, sorted(described)


@pytest.mark.django_db
@pytest.mark.parametrize("kind", ["bot", "deactivated"])
def test_the_setup_page_names_a_fallback_approver_who_is_a_bot_or_has_left(fake_slack, console, kind):
    """README: a fallback approver Slack describes as "a guest, a bot, a deactivated account or someone of
    another organisation" is named under "Named to decide leave, but they cannot", so HR can replace them."""
    unable = {"bot": add_bot, "deactivated": add_former}[kind](fake_slack)
    install_config(standard_config(fallback_approvers=(HR, unable)))

    page = check_slack_again(console)

    part = cannot_part(page)
    name = {"bot": "Payroll", "deactivated": "Gus Gone"}[kind]
    assert name in part or unable in part, part
    assert "Hannah" not in part and HR not in part, part


@pytest.mark.django_db
def test_the_setup_page_lists_no_fallback_approver_who_can_decide(fake_slack, console):
    """Hannah, an ordinary member, is never among those who cannot decide."""
    install_config(standard_config(fallback_approvers=(HR,)))

    page = check_slack_again(console)

    assert "Named to decide leave, but they cannot" not in page


# =====================================================================================================
# Whom a change of a removed team's request calls on
# =====================================================================================================


@pytest.mark.django_db
def test_withdrawing_a_removed_teams_request_does_not_call_on_a_fallback_approver_who_cannot_decide(
        client, fake_slack, console):
    """Marketing was removed from the configuration; Alice's pending request of it is HR's to decide. She
    withdraws it: the thread reply calls on those who could have decided it (Hannah), not Gina, a guest
    who has none of HR's powers and gets none of HR's news."""
    add_guest(fake_slack)
    install_config(standard_config(fallback_approvers=(HR, GINA)))
    ts = post_entry(fake_slack, pending_entry("marketing-alice", ALICE, team="Marketing"),
                    ts=f"{time.time() - 3 * 3600:.6f}")
    check_slack_again(console)
    blocks = changeable_list(client, fake_slack, ALICE)
    fake_slack.clear_calls()

    press(client, ALICE, blocks, ids.WITHDRAW_ACTION, channel=C_GENERAL, on_list=True)

    assert requests_of(fake_slack, ALICE)[0]["status"] == "cancelled"
    [reply] = [text for text in thread_replies(fake_slack, ts) if "Withdrawn" in text]
    assert f"<@{HR}>" in reply, reply
    assert GINA not in reply, reply


@pytest.mark.django_db
def test_hr_withdrawing_their_own_removed_teams_request_is_not_called_on_to_decide_it(client, fake_slack):
    """Hannah (HR) withdraws her own pending request of a removed team: nobody decides their own leave, so
    the thread reply calls on Dave, the other fallback approver, and names Hannah only as who withdrew it."""
    install_config(standard_config(fallback_approvers=(HR, DAVE)))
    ts = post_entry(fake_slack, pending_entry("marketing-hannah", HR, team="Marketing"),
                    ts=f"{time.time() - 3 * 3600:.6f}")
    blocks = changeable_list(client, fake_slack, HR)
    fake_slack.clear_calls()

    press(client, HR, blocks, ids.WITHDRAW_ACTION, channel=C_GENERAL, on_list=True)

    assert requests_of(fake_slack, HR)[0]["status"] == "cancelled"
    [reply] = [text for text in thread_replies(fake_slack, ts) if "Withdrawn" in text]
    assert f"<@{DAVE}>" in reply, reply
    assert reply.count(f"<@{HR}>") == 1, reply


# =====================================================================================================
# Passing faults: `rate_limited` and `team_added_to_org`
# =====================================================================================================


def to_approvals_channel(method, params) -> bool:
    return method == "chat.postMessage" and params.get("channel") == C_ENG_APPROVALS and not params.get("thread_ts")


@pytest.mark.django_db
def test_a_request_post_met_while_the_workspace_joins_an_enterprise_org_is_retried_and_delivered(
        client, fake_slack, no_sleeping):
    """Slack: the Web API is "intermittently unavailable until the transition is complete"; the request
    reaches its approvers once, and Alice is not told it failed."""
    install_config()
    with failing(fake_slack, to_approvals_channel, "team_added_to_org", times=1) as met:
        request_time_off(client, fake_slack, ALICE)

    assert met
    assert len(requests_of(fake_slack, ALICE)) == 1
    assert not [text for text in dms_to(fake_slack, ALICE) if "did not reach" in text], dms_to(fake_slack, ALICE)
    assert DeliveryProblem.objects.count() == 0


@pytest.mark.django_db
def test_a_form_slack_rate_limits_as_rate_limited_asks_the_person_to_wait_a_minute(client, fake_slack):
    """On Slack's 3-second path the form is tried once; the person hears it is a rate limit (wait, then try
    again), not that something is broken."""
    install_config()
    with failing(fake_slack, lambda method, params: method == "views.open", "rate_limited", times=1) as met:
        response = command(client, "", ALICE)

    assert len(met) == 1
    said = answer_text(response) + " ".join(ephemerals_to(fake_slack, ALICE) + dms_to(fake_slack, ALICE))
    assert "limiting" in said and "wait a minute" in said, said


# =====================================================================================================
# CSV cells a spreadsheet could run as a formula
# =====================================================================================================


@pytest.mark.parametrize("cell", [
    "\u200b=HYPERLINK(\"http://evil.example\")",  # zero-width space
    "\u200d+1",  # zero-width joiner
    "\ufeff-2+3",  # byte-order mark
    "\u200e@SUM(A1)",  # left-to-right mark
    "\u00ad=1",  # soft hyphen: draws nothing either
    "\uff1d1+1",  # full-width =
    "\uff0bcmd",  # full-width +
    "\uff0d1",  # full-width -
    "\uff20A1",  # full-width @
    " \u200b\u3000=1",  # spaces (ideographic too) and a zero-width space before it
])
def test_a_cell_that_starts_a_formula_behind_invisible_or_full_width_characters_is_quoted(cell):
    assert csv_safe(cell) == "'" + cell


@pytest.mark.parametrize("cell", ["", "Zoë", "Ｅｎｇｉｎｅｅｒｉｎｇ", "\u200bAlex", "a=b", "2026-12-24", "\u3000"])
def test_a_cell_that_starts_no_formula_is_left_as_typed(cell):
    assert csv_safe(cell) == cell
