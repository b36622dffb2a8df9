"""App Home in depth, as an employee, an approver and HR see it: what is published (views.publish to the
fake Slack, which validates it as Slack does: 100 blocks, 3,000 characters a text, 250 kB a view) with
much leave, long and hostile names, people in no team, a ledger Slack refuses; and its buttons pressed
from the tab itself (block_actions with a `view` container: no channel, no message), also when the tab
is out of date, and the tab redrawn after changes.
"""

import json
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.cache import cache

from approvals import block_ids as ids
from approvals.config_types import HolidayConfig
from approvals.rules import APPROVED, PENDING, REJECTED, LedgerEntry
from approvals.selectors import local_today
from fake_slack.ledger_seed import seed_ledger
from fake_slack.personas import C_ENG_APPROVALS, CAROL
from test_support.flows import (
    ALICE,
    BOB,
    DAVE,
    ENGINEERING,
    HR,
    MEDICAL,
    MONDAY,
    SICK,
    VACATION,
    buttons_in,
    click,
    dms_to,
    install_config,
    open_app_home,
    posted_requests,
    request_status,
    request_time_off,
    standard_config,
)
from test_support.home_views import view_texts
from test_support.slack_requests import post_command, post_interaction, view_block_actions_payload

pytestmark = pytest.mark.django_db


# --- Helpers ----------------------------------------------------------------------------------------


def entry(entry_id, start, end, status=APPROVED, *, user=ALICE, team="Engineering", leave_type="vacation",
          reason=None) -> LedgerEntry:
    days = Decimal(sum(1 for n in range((end - start).days + 1) if (start + timedelta(n)).weekday() < 5))
    return LedgerEntry(id=entry_id, user=user, team=team, leave_type=leave_type, start=start, end=end,
                       start_half=None, end_half=None, days=days, status=status,
                       decided_by=None if status == PENDING else BOB,
                       decided_at=None if status == PENDING else 1764000000, reason=reason)


def seed(fake_slack, *entries) -> None:
    """The entries posted in Engineering's approvals channel, as our bot posts them (before any read)."""
    seed_ledger(fake_slack.workspace, channel=C_ENG_APPROVALS, entries=entries, noise_every=0)


def notes(view: dict) -> list[str]:
    """The context lines right under the header and the button: what the tab says about the person."""
    return [b["elements"][0]["text"] for b in view["blocks"][2:4] if b["type"] == "context"]


def last_home(fake_slack, user: str) -> dict | None:
    """The view Slack last accepted for `user`'s App Home."""
    calls = [c for c in fake_slack.calls("views.publish") if c.params["user_id"] == user and c.response.get("ok")]
    if not calls:
        return None
    view = calls[-1].params["view"]
    return json.loads(view) if isinstance(view, str) else view


def press_on_home(client, user: str, home: dict, action_id: str):
    """A click on the first `action_id` button of an App Home, as Slack sends it (no channel, no message)."""
    block_id, value = buttons_in(home["blocks"])[action_id]
    response = post_interaction(client, view_block_actions_payload(user_id=user, action_id=action_id, value=value,
                                                                   block_id=block_id, view=home))
    assert response.status_code == 200, response.content
    return response


def reopen(client, fake_slack, user: str, event_id: str) -> dict:
    """Open the tab again, past the few seconds in which a second open adds no publish."""
    cache.delete(f"home:started:{user}")
    return open_app_home(client, fake_slack, user, event_id)


# --- Someone in no team -----------------------------------------------------------------------------


def test_someone_in_no_team_is_told_on_app_home_whom_to_ask(client, fake_slack):
    # DESIGN §4: someone in no team is "told that no team is configured for them and who to ask".
    # `/timeoff balance` and `/timeoff` name the fallback approvers; App Home only says "ask HR".
    install_config()
    answers = [post_command(client, "balance", user_id=CAROL).json()["text"], *dms_to(fake_slack, CAROL)]
    assert any(f"ask <@{HR}>" in answer for answer in answers), answers  # the command names them

    home = open_app_home(client, fake_slack, CAROL, "Ev_NO_TEAM")

    [note] = notes(home)
    assert "No team is configured" in note
    assert f"<@{HR}>" in note, note


def test_hr_in_no_team_is_not_told_on_app_home_to_ask_hr(client, fake_slack):
    # HR (the fallback approvers) set teams up themselves; their own tab tells them to ask HR.
    install_config()

    home = open_app_home(client, fake_slack, HR, "Ev_HR_NO_TEAM")

    [note] = notes(home)
    assert "ask HR" not in note and f"ask <@{HR}>" not in note, note


# --- What the tab shows ------------------------------------------------------------------------------


def test_a_pending_request_for_days_already_past_stays_on_the_requesters_app_home(client, fake_slack):
    # A type that needs approval and allows a few past days (a doctor's visit yesterday, to be approved):
    # the request is sent and waits for the approvers, and the balance counts it as pending. The
    # requester's tab said "Nothing pending or coming up" and offered no Withdraw: the request was
    # nowhere on it (nor in `/timeoff list`), as is any pending request whose dates have gone by.
    team = replace(ENGINEERING, holiday_country=None, holiday_subdivision=None)
    visit = replace(MEDICAL, allow_past_days=7, private=False)
    install_config(standard_config(teams=(team,), leave_types=(VACATION, SICK, visit)))
    day = local_today(team.timezone) - timedelta(days=1)
    while day.weekday() >= 5:
        day -= timedelta(days=1)
    request_time_off(client, fake_slack, ALICE, leave_type="medical", start=day, end=day)
    assert request_status(fake_slack)["status"] == PENDING

    home = open_app_home(client, fake_slack, ALICE, "Ev_PAST_PENDING")

    shown = "\n".join(view_texts(home))
    assert "pending 1" in shown  # the balance counts it
    assert "Nothing pending" not in shown, shown
    assert ids.WITHDRAW_ACTION in buttons_in(home["blocks"]), shown


def test_app_home_that_cannot_read_the_ledger_does_not_say_hr_was_told_unless_they_were(client, fake_slack):
    # The bot was removed from the approvals channel: the tab says "I can't read the leave records right
    # now; HR has been told." Nothing told HR (no DM, no delivery problem, one log line), so nobody asks
    # them, while `/timeoff balance` in the same state asks the person to tell HR, by name.
    from approvals.models import DeliveryProblem

    install_config()
    request_time_off(client, fake_slack, ALICE)
    cache.clear()
    fake_slack.workspace.channels[C_ENG_APPROVALS].members.discard(fake_slack.workspace.bot_user_id)
    fake_slack.clear_calls()

    home = open_app_home(client, fake_slack, ALICE, "Ev_LEDGER_REFUSED")

    [note] = notes(home)[:1]
    assert "can't read the leave records" in note
    hr_told = bool(dms_to(fake_slack, HR)) or DeliveryProblem.objects.exists()
    if not hr_told:
        assert "HR has been told" not in note, note
        assert f"<@{HR}>" in note, note  # whom to tell, as /timeoff balance says


def test_an_open_that_read_the_ledger_before_a_decision_does_not_leave_the_older_tab(client, fake_slack,
                                                                                     monkeypatch):
    # Two publishes of one person's tab at once (an open, and the republish a decision asks for) on two
    # workers: the open read the ledger before Bob approved, the decision's republish after. Whichever
    # views.publish lands last is what Alice sees: here the open's, which still shows the request pending
    # with Edit / Withdraw, and nothing redraws it until the next change. (Slack's `hash` argument, or a
    # check that no later publish of hers started, keeps the older one from overwriting the newer.)
    from approvals import home_services

    install_config()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    open_app_home(client, fake_slack, ALICE, "Ev_RACE_SEEN")  # she looks at her tab: she is republished to
    built = home_services.home_view
    decided = []

    def decision_while_publishing(**kwargs):
        view = built(**kwargs)  # what the open read: the request pending
        if not decided:
            decided.append(True)
            click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted)  # meanwhile, on another worker
        return view

    monkeypatch.setattr(home_services, "home_view", decision_while_publishing)

    reopen(client, fake_slack, ALICE, "Ev_RACE_OPEN")

    assert request_status(fake_slack)["status"] == APPROVED
    publishes = [c for c in fake_slack.calls("views.publish") if c.params["user_id"] == ALICE and c.response.get("ok")]
    assert any(ids.CANCEL_ACTION in buttons_in(c.params["view"]["blocks"]) for c in publishes)  # the newer one
    home = last_home(fake_slack, ALICE)  # what Alice sees now
    assert ids.WITHDRAW_ACTION not in buttons_in(home["blocks"]), "\n".join(view_texts(home))
    assert ids.CANCEL_ACTION in buttons_in(home["blocks"])



def test_a_hash_kept_from_a_publish_whose_answer_was_lost_does_not_block_the_tab(client, fake_slack):
    # The cache holds a hash Slack no longer has (a publish landed, its answer did not reach us): the
    # first publish is refused, the hash forgotten, and the tab is drawn again and published.
    install_config()
    open_app_home(client, fake_slack, ALICE, "Ev_HASH_FIRST")
    cache.set(f"home:hash:{ALICE}", "1766000000.deadbeef", 3600)
    fake_slack.clear_calls()

    reopen(client, fake_slack, ALICE, "Ev_HASH_STALE")

    outcomes = [c.response.get("error") or "ok" for c in fake_slack.calls("views.publish")]
    assert outcomes == ["hash_conflict", "ok"], outcomes
    assert cache.get(f"home:hash:{ALICE}") == fake_slack.calls("views.publish")[-1].response["view"]["hash"]

def test_a_busy_approver_who_is_hr_with_long_names_gets_every_part_of_the_tab(client, fake_slack, settings):
    # The most a tab holds at once: 16 leave types with the longest names and emoji (two years of
    # balances), 40 requests waiting, 30 pending and 60 upcoming of their own, a crowded week, holidays,
    # and HR's console button. Slack must take it, and each part must be there or counted.
    settings.PUBLIC_URL = "https://hr.example"
    types = tuple(replace(VACATION, code=f"t{n:02d}", name=f"T{n:02d} " + "&" * 96, emoji=":" + "e" * 48 + ":")
                  for n in range(16))
    team = replace(ENGINEERING, name="E" * 100)
    install_config(standard_config(teams=(team,), leave_types=types, fallback_approvers=(HR, BOB)))
    today = local_today(team.timezone)
    seed(fake_slack,
         *[entry(f"own-{n}", today + timedelta(days=2 + n), today + timedelta(days=2 + n), user=BOB, team=team.name,
                 leave_type="t05") for n in range(60)],
         *[entry(f"mine-{n}", today + timedelta(days=400 + n), today + timedelta(days=400 + n), PENDING, user=BOB,
                 team=team.name, leave_type="t05") for n in range(30)],
         *[entry(f"dave-{n}", today + timedelta(days=3 + n), today + timedelta(days=3 + n), PENDING, user=DAVE,
                 team=team.name, leave_type=f"t{n % 16:02d}") for n in range(40)],
         entry("alice-out", today, today + timedelta(days=6), user=ALICE, team=team.name, leave_type="t01"))

    home = open_app_home(client, fake_slack, BOB, "Ev_BUSIEST")

    [publish] = [c for c in fake_slack.calls("views.publish") if c.params["user_id"] == BOB]
    assert publish.response["ok"], publish.response
    assert len(home["blocks"]) <= 100
    shown = "\n".join(view_texts(home))
    for part in ("*Pending*", "*Upcoming*", "*Waiting for your decision* (40)", "and 25 more in the approvals",
                 f"*Your leave in {today.year}*", f"*Your leave in {today.year + 1}*", "Who's out",
                 "Holidays coming up", "…and"):
        assert part in shown, part
    assert home["blocks"][-1]["block_id"] == "home_hr"


def test_hostile_names_notes_and_reasons_stay_inert_on_every_roles_tab(client, fake_slack):
    hostile = "<!channel> <!here|here> & <@U_HR> <https://evil.example|click>"
    team = replace(ENGINEERING, name="R&D <!here>")
    vacation = replace(VACATION, name="Vac <!everyone> & co", emoji=":palm_tree:")
    today = local_today(team.timezone)
    install_config(standard_config(teams=(team,), leave_types=(vacation, SICK, MEDICAL),
                                   holidays=(HolidayConfig(date=today + timedelta(days=3), name=hostile),)))
    seed(fake_slack, entry("rejected", MONDAY, MONDAY, REJECTED, team=team.name, reason=hostile),
         entry("waiting", MONDAY, MONDAY + timedelta(days=2), PENDING, user=DAVE, team=team.name),
         entry("out", today, today, user=DAVE, team=team.name))
    request_time_off(client, fake_slack, ALICE, start=MONDAY + timedelta(days=7), end=MONDAY + timedelta(days=8),
                     note=hostile)

    for user in (ALICE, BOB, HR):
        home = open_app_home(client, fake_slack, user, f"Ev_HOSTILE_{user}")
        shown = "\n".join(view_texts(home))
        for raw in ("<!channel>", "<!here", "<!everyone>", "<https://evil", "<@U_HR>"):
            assert raw not in shown, (user, raw)
    alices = "\n".join(view_texts(last_home(fake_slack, ALICE)))
    assert "&lt;!channel&gt;" in alices and "Vac &lt;!everyone&gt; &amp; co" in alices  # shown, escaped once
    assert "&amp;amp;" not in alices


# --- Buttons pressed on the tab ---------------------------------------------------------------------


def test_withdraw_and_edit_on_a_tab_drawn_before_the_approval_change_nothing_and_say_so_by_dm(client,
                                                                                              fake_slack):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    stale = open_app_home(client, fake_slack, ALICE, "Ev_STALE_OWN")
    click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted_requests(fake_slack)[-1])
    fake_slack.clear_calls()

    press_on_home(client, ALICE, stale, ids.WITHDRAW_ACTION)
    press_on_home(client, ALICE, stale, ids.EDIT_ACTION)

    assert request_status(fake_slack)["status"] == APPROVED
    assert fake_slack.calls("views.open") == []  # no form to fill in for leave already approved
    told = dms_to(fake_slack, ALICE)
    assert len(told) == 2 and all("already approved" in t for t in told), told


def test_approve_and_reject_on_an_approvers_tab_after_a_withdrawal_change_nothing_and_say_so_by_dm(client,
                                                                                                   fake_slack):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    bobs = open_app_home(client, fake_slack, BOB, "Ev_STALE_BOB")
    alices = open_app_home(client, fake_slack, ALICE, "Ev_ALICE_WITHDRAWS")
    press_on_home(client, ALICE, alices, ids.WITHDRAW_ACTION)
    assert request_status(fake_slack)["status"] == "cancelled"
    fake_slack.clear_calls()

    press_on_home(client, BOB, bobs, ids.APPROVE_ACTION)
    press_on_home(client, BOB, bobs, ids.REJECT_ACTION)

    assert request_status(fake_slack)["status"] == "cancelled"
    assert fake_slack.calls("views.open") == []  # no reason to ask for
    told = dms_to(fake_slack, BOB)
    assert len(told) == 2 and all(f"already cancelled by <@{ALICE}>" in t for t in told), told


def test_approvers_tabs_gain_a_request_when_it_is_sent_and_lose_it_when_withdrawn_from_the_tab(client, fake_slack):
    install_config()
    for user in (ALICE, BOB, DAVE):
        open_app_home(client, fake_slack, user, f"Ev_WATCH_{user}")
    fake_slack.clear_calls()

    request_time_off(client, fake_slack, ALICE)

    for approver in (BOB, DAVE):  # a listed approver and a member of the approvers channel
        assert ids.APPROVE_ACTION in buttons_in(last_home(fake_slack, approver)["blocks"]), approver
    alices = last_home(fake_slack, ALICE)
    assert ids.WITHDRAW_ACTION in buttons_in(alices["blocks"])
    fake_slack.clear_calls()

    press_on_home(client, ALICE, alices, ids.WITHDRAW_ACTION)

    assert request_status(fake_slack)["status"] == "cancelled"
    for user in (BOB, DAVE):
        assert ids.APPROVE_ACTION not in buttons_in(last_home(fake_slack, user)["blocks"]), user
    assert ids.WITHDRAW_ACTION not in buttons_in(last_home(fake_slack, ALICE)["blocks"])
    assert dms_to(fake_slack, ALICE) == []  # the tab shows it; nothing more to tell
