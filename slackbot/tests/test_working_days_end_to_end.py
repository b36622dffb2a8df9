"""Working days as real teams live them, end to end: signed Slack payloads against the fake Slack.

A Sunday–Thursday team in Riyadh taking leave round Eid with half days at both ends; a company day HR
adds after leave was approved (inside one year, and in the first year of leave across the year end); the
form's first preview before the person's team is known; a one-day request with both halves ticked; a
morning and an afternoon of the same day; half days forged onto a whole-day leave type; and the leave year
of a team far ahead of UTC. The days each surface shows (the form's preview, the approvals message, its
metadata, `/timeoff list`, `/timeoff balance`, App Home, the console's Balances page, the ledger CSV) are
compared with each other.
"""

import json
import re
from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from approvals import block_ids as ids
from approvals.config_store import current_config
from approvals.config_types import ApproverSource, HolidayConfig, MemberSource, TeamConfig
from approvals.selectors import RequestDraft, request_preview_cached
from fake_slack.personas import ALICE, BOB, HR
from test_support.flows import (
    ENGINEERING,
    click,
    dms_to,
    install_config,
    metadata_payload,
    open_request_form,
    posted_requests,
    request_values,
    standard_config,
    submit_request,
)
from test_support.slack_requests import post_command

pytestmark = pytest.mark.django_db

SAMI = "U_SAMI"
C_RUH = "C_RUH"
C_RUH_APPROVALS = "C_RUH_APPROVALS"
SUNDAY_TO_THURSDAY = (6, 0, 1, 2, 3)


def preview_text(view: dict) -> str:
    [block] = [b for b in view["blocks"] if b.get("block_id") == "preview"]
    return " ".join(e["text"] for e in block["elements"])


def balance_answer(client, fake_slack, user: str, text: str) -> str:
    """`/timeoff balance …`'s answer: ephemeral, or the DM that follows on a cold cache."""
    before = len(dms_to(fake_slack, user))
    response = post_command(client, text, user_id=user)
    assert response.status_code == 200, response.content
    answer = response.json()["text"]
    if answer.startswith("Checking your balance"):
        answer = dms_to(fake_slack, user)[before:][-1]
    return answer


def vacation_line(answer: str, year: int) -> dict[str, Decimal]:
    """{taken, pending, left} of Vacation in `year` from a balance answer."""
    part = answer.split(f"*Your leave in {year}*", 1)[1]
    line = next(line for line in part.split("\n") if "Vacation" in line)
    found = {key: Decimal(n) for key, n in re.findall(r"(taken|pending) ([\d.]+)", line)}
    found["left"] = Decimal(re.search(r"\*([\d.]+) days? left\*", line).group(1))
    return found


def listed_days(client, user: str) -> list[str]:
    response = post_command(client, "list", user_id=user)
    assert response.status_code == 200
    return re.findall(r"\(([\d.]+) working days?\)", json.dumps(response.json()["blocks"]))


@pytest.fixture
def hr(django_user_model):
    hannah = django_user_model.objects.create_user("hannah", "hannah@example.com", "a-long-test-password",
                                                   is_staff=True)
    hannah.user_permissions.add(Permission.objects.get(codename="view_leave_records"))
    console = Client()
    console.force_login(hannah)
    return console


def console_vacation(hr, team: str, user: str, year: int):
    response = hr.get(reverse("console:balances"), {"team": team, "year": year})
    assert response.status_code == 200
    [row] = [row for row in response.context["table"].rows if row.user == user]
    return next(b for b in row.balances if b.leave_type == "vacation")


# --- A Sunday–Thursday team round Eid -----------------------------------------------------------------


def riyadh(fake_slack) -> None:
    fake_slack.workspace.add_user(SAMI, "sami", tz="Asia/Riyadh", real_name="Sami Saleh")
    fake_slack.workspace.add_channel(C_RUH, "riyadh", members=[SAMI, BOB])
    fake_slack.workspace.add_channel(C_RUH_APPROVALS, "riyadh-approvals", members=[BOB, HR], private=True)
    team = TeamConfig(name="Riyadh", members=MemberSource(users=(SAMI,)), approvers=ApproverSource(users=(BOB,)),
                      approvals_channel=C_RUH_APPROVALS, announce_channel=C_RUH, holiday_country="SA",
                      workweek=SUNDAY_TO_THURSDAY, timezone="Asia/Riyadh")
    install_config(standard_config(teams=(team,)))


def test_a_sunday_to_thursday_team_sees_the_same_days_round_eid_on_every_surface(client, fake_slack):
    """Sun 7 – Thu 18 Mar 2027 with the first afternoon and the last morning only: Eid al-Fitr (as the
    package gives it for SA in 2027) and the Friday–Saturday weekends are off. The preview, the approvals
    message, its metadata, the list and the balance all say the same number of days."""
    import holidays as holidays_package

    eid = holidays_package.country_holidays("SA", years=2027)
    working = [d for d in (date(2027, 3, 7 + n) for n in range(12))
               if d.weekday() in SUNDAY_TO_THURSDAY and d not in eid]
    expected = Decimal(len(working)) - Decimal("0.5") * ((date(2027, 3, 7) in working) + (date(2027, 3, 18) in working))
    assert expected < 9  # Eid takes some of the ten Sunday–Thursday days
    shown = f"{expected.normalize():f}"

    riyadh(fake_slack)
    open_request_form(client, fake_slack, SAMI)  # warms his team, time zone and ledger
    view = open_request_form(client, fake_slack, SAMI, "2027-03-07 2027-03-18 vacation")
    halves = (ids.HALF_START_PM, ids.HALF_END_AM)
    preview = request_preview_cached(current_config(), SAMI,
                                     RequestDraft("vacation", date(2027, 3, 7), date(2027, 3, 18), "pm", "am"))
    assert preview.startswith(f"*{shown} working days*: Sun 7 Mar 2027 – Thu 18 Mar 2027 (starts and ends at noon)")
    response = submit_request(client, SAMI, view,
                              request_values("vacation", date(2027, 3, 7), date(2027, 3, 18), halves=halves))
    assert response.content == b"", response.content

    [posted] = posted_requests(fake_slack, C_RUH_APPROVALS)
    assert f"({shown} working days)" in posted.params["text"]
    payload = metadata_payload(posted)
    assert (payload["start_half"], payload["end_half"], Decimal(str(payload["days"]))) == ("pm", "am", expected)
    assert f"After this request: {(25 - expected).normalize():f} of 25 days of Vacation left in 2027" in json.dumps(
        posted.params["blocks"])
    assert listed_days(client, SAMI) == [shown]
    assert vacation_line(balance_answer(client, fake_slack, SAMI, "balance 2027"), 2027) == {
        "taken": Decimal(0), "pending": expected, "left": 25 - expected}


# --- A company day added after leave across the year end was approved ------------------------------------


def test_a_company_day_added_after_approval_leaves_next_years_balance_alone(client, fake_slack, hr):
    """Alice (US/California) has Tue 26 Dec 2028 – Fri 5 Jan 2029 approved: 4 working days in 2028
    (Christmas is Mon 25) and 4 in 2029 (New Year's Day is Mon 1). HR then makes Fri 29 Dec 2028 a company
    day. Her days in 2029 did not change, so her 2029 balance must still count 4; and whatever 2028 counts,
    the two years together are what `/timeoff list` says the leave takes."""
    install_config()
    open_request_form(client, fake_slack, ALICE)
    view = open_request_form(client, fake_slack, ALICE)
    submit_request(client, ALICE, view, request_values("vacation", date(2028, 12, 26), date(2029, 1, 5)))
    [posted] = posted_requests(fake_slack)
    assert metadata_payload(posted)["days"] == 8
    click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted)
    before = balance_answer(client, fake_slack, ALICE, "balance 2029")
    assert vacation_line(before, 2029)["taken"] == 4

    install_config(standard_config(holidays=(HolidayConfig(date=date(2028, 12, 29), name="Company day"),)))

    [total] = listed_days(client, ALICE)
    taken = {year: vacation_line(balance_answer(client, fake_slack, ALICE, f"balance {year}"), year)["taken"]
             for year in (2028, 2029)}
    console = {year: console_vacation(hr, "Engineering", ALICE, year).taken for year in (2028, 2029)}
    assert taken == console, f"/timeoff balance {taken} and the console {console} disagree"
    assert taken[2028] + taken[2029] == Decimal(total), f"{taken} do not add up to the listed {total} days"
    assert taken[2029] == 4, f"2029 is charged {taken[2029]} days for the 4 working days Alice takes in it"


def test_a_company_day_added_inside_approved_leave_keeps_its_recorded_days_on_every_surface(client, fake_slack,
                                                                                          hr):
    """Alice's Mon 8 – Fri 12 Mar 2027 is approved as 5 working days; HR then makes Wed 10 Mar a company
    day. The record (the message's `days`) is what every surface counts: the list, `/timeoff balance`,
    App Home, the console's Balances page and the ledger CSV all still say 5, none of them 4."""
    import csv
    import io

    from test_support.flows import open_app_home

    install_config()
    open_request_form(client, fake_slack, ALICE)
    view = open_request_form(client, fake_slack, ALICE)
    submit_request(client, ALICE, view, request_values("vacation", date(2027, 3, 8), date(2027, 3, 12)))
    [posted] = posted_requests(fake_slack)
    click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted)

    install_config(standard_config(holidays=(HolidayConfig(date=date(2027, 3, 10), name="Company day"),)))

    assert listed_days(client, ALICE) == ["5"]
    assert vacation_line(balance_answer(client, fake_slack, ALICE, "balance 2027"), 2027)["taken"] == 5
    home = open_app_home(client, fake_slack, ALICE, "Ev_HOME_AFTER_COMPANY_DAY")
    home_text = "\n".join(b["text"]["text"] for b in home["blocks"] if b.get("type") == "section")
    assert vacation_line(home_text, 2027)["taken"] == 5
    assert console_vacation(hr, "Engineering", ALICE, 2027).taken == 5
    export = hr.get(reverse("console:ledger_export"), {"download": "1", "year": 2027})
    [row] = [r for r in csv.DictReader(io.StringIO(export.content.decode().lstrip("\ufeff")))
             if r["kind"] == "request"]
    assert (row["status"], Decimal(row["days"])) == ("approved", 5)


# --- The form's preview -------------------------------------------------------------------------------


def test_the_first_preview_says_on_what_week_it_counts_while_the_team_is_unknown(client, fake_slack):
    """Engineering works Sunday–Thursday here. Alice types `/timeoff` for a Friday and a Saturday before
    the app knows her team (its members are a channel, not read yet): the form must not present a count on
    a Monday–Friday week as hers, which her team's week contradicts (the submission is refused for it)."""
    install_config(standard_config(teams=(replace(ENGINEERING, workweek=SUNDAY_TO_THURSDAY, holiday_country="IL",
                                                  holiday_subdivision=None, timezone="Asia/Jerusalem"),)))
    first = preview_text(open_request_form(client, fake_slack, ALICE, "2027-03-05 2027-03-06 vacation"))
    warm = preview_text(open_request_form(client, fake_slack, ALICE, "2027-03-05 2027-03-06 vacation"))
    assert warm.startswith("*0 working days*"), warm
    assert "1 working day" not in first or "counted Monday–Friday without holidays until your team is known" in first, (
        f"the first preview counts a Monday–Friday week as hers: {first!r}")


def test_the_preview_of_one_day_with_both_halves_ticked_says_to_choose_one(client, fake_slack):
    """Ticking both "First day: afternoon only" and "Last day: morning only" on a one-day request is
    refused when sent ("Choose the morning or the afternoon …"). The live preview should say so too, not
    "0 working days" for an ordinary Monday."""
    install_config()
    open_request_form(client, fake_slack, ALICE)
    preview = request_preview_cached(current_config(), ALICE,
                                     RequestDraft("vacation", date(2027, 3, 8), date(2027, 3, 8), "pm", "am"))
    view = open_request_form(client, fake_slack, ALICE)
    refused = submit_request(client, ALICE, view, request_values(
        "vacation", date(2027, 3, 8), date(2027, 3, 8), halves=(ids.HALF_START_PM, ids.HALF_END_AM)))
    assert refused.json()["errors"] == {
        ids.HALF_BLOCK: "Choose the morning or the afternoon for a one-day request, not both"}
    assert "0 working days" not in preview, preview
    assert "morning or the afternoon" in preview, preview


# --- Half days of the same date ------------------------------------------------------------------------


def test_a_morning_and_an_afternoon_of_the_same_day_are_two_requests_and_a_second_afternoon_is_refused(
        client, fake_slack):
    """Alice asks for Mon 8 Mar 2027 morning only, then for its afternoon (a dentist, then a school play):
    both go to her approvers as half a day each. A second request for that afternoon overlaps."""
    install_config()
    open_request_form(client, fake_slack, ALICE)
    monday = date(2027, 3, 8)
    sent = []
    for number, halves in enumerate(((ids.HALF_END_AM,), (ids.HALF_START_PM,), (ids.HALF_START_PM,))):
        view = open_request_form(client, fake_slack, ALICE)
        sent.append(submit_request(client, ALICE, view, request_values("vacation", monday, monday, halves=halves),
                                   view_id=f"V_HALF{number}", view_hash=f"h{number}"))
    assert [r.content for r in sent[:2]] == [b"", b""]
    assert sent[2].json()["errors"] == {ids.START_BLOCK: "This overlaps your pending leave on Mon 8 Mar 2027 (afternoon)"}
    posted = [metadata_payload(call) for call in posted_requests(fake_slack)]
    assert [(p.get("start_half"), p.get("end_half"), p["days"]) for p in posted] == [(None, "am", 0.5), ("pm", None, 0.5)]
    assert vacation_line(balance_answer(client, fake_slack, ALICE, "balance 2027"), 2027)["pending"] == 1


# --- Half days forged onto a whole-day leave type ---------------------------------------------------------


def test_half_days_forged_onto_a_whole_day_type_are_refused_and_nothing_is_posted(client, fake_slack):
    """The form for Medical appointment (no half days) has no half-day block; a payload that adds one
    anyway is refused, and no request reaches the approvals channel with a half day on it."""
    install_config()
    open_request_form(client, fake_slack, ALICE)
    view = open_request_form(client, fake_slack, ALICE, "2027-03-08 2027-03-09 medical")
    assert ids.HALF_BLOCK not in [b.get("block_id") for b in view["blocks"]]
    response = submit_request(client, ALICE, view, request_values(
        "medical", date(2027, 3, 8), date(2027, 3, 9), halves=(ids.HALF_START_PM,)))
    assert response.json()["response_action"] == "errors"
    assert "can't be taken in half days" in json.dumps(response.json()["errors"])
    assert posted_requests(fake_slack) == []


# --- The leave year of a team far from UTC -------------------------------------------------------------


def test_the_consoles_balances_open_on_the_year_the_team_is_in(client, fake_slack, hr, monkeypatch):
    """08:00 on Fri 1 Jan 2027 in Auckland is still 31 Dec 2026 in UTC. Alice, in Auckland with her team,
    is told her 2027 balance by `/timeoff balance`; HR opening the team's Balances page then must see
    2027 too, as the console's Who's out already counts the team's own today, not last year's."""
    import types
    from datetime import datetime, timezone

    from approvals import console_see_views, selectors

    fake_slack.workspace.users[ALICE].tz = "Pacific/Auckland"
    install_config(standard_config(teams=(replace(ENGINEERING, timezone="Pacific/Auckland", holiday_country="NZ",
                                                  holiday_subdivision=None),)))
    open_request_form(client, fake_slack, ALICE)  # warms her team, time zone and ledger
    moment = datetime(2026, 12, 31, 19, 0, tzinfo=timezone.utc)
    monkeypatch.setattr(selectors, "time", types.SimpleNamespace(time=moment.timestamp))
    monkeypatch.setattr(console_see_views, "timezone",
                        types.SimpleNamespace(now=lambda: moment, localdate=lambda: moment.date()))

    assert balance_answer(client, fake_slack, ALICE, "balance").startswith("*Your leave in 2027* (Engineering)")
    response = hr.get(reverse("console:balances"), {"team": "Engineering"})
    assert response.status_code == 200
    assert response.context["year"] == 2027, f"the Balances page opens on {response.context['year']}"


def test_a_request_ending_at_noon_on_christmas_day_is_recorded_without_the_half(client, fake_slack):
    # Wed 24 – Thu 25 Dec 2031, "last day: morning only": Christmas Day is a holiday, so the flag takes
    # nothing, and the record and its message do not say "(ends at noon)" of it.
    install_config()
    view = open_request_form(client, fake_slack, ALICE)
    response = submit_request(client, ALICE, view, request_values("vacation", date(2031, 12, 24), date(2031, 12, 25),
                                                                    halves=(ids.HALF_END_AM,)))
    assert response.status_code == 200, response.content
    [posted] = posted_requests(fake_slack)
    payload = metadata_payload(posted)
    assert (payload.get("end_half"), payload["days"]) == (None, 1), payload
    assert "noon" not in posted.params["text"], posted.params["text"]
