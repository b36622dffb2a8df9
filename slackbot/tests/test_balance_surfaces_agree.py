"""One person's balance, read on every surface, agrees everywhere and with README's rules.

Alice's history is built through the real flows (signed Slack requests, the console, the fake Slack):
approved, pending, rejected, cancelled and withdrawn requests, half days, a request across the year end,
a pending request edited from one year into the next, leave HR records for her, console adjustments
(opening balance, carry-over, a negative correction, one for the next year), sick leave (no yearly
allowance), holidays inside a request (a public one and a company day); then Vacation is renamed and
Alice is moved to a team with a Sunday–Thursday week, where she asks for more.

Every surface is then read — `/timeoff balance YEAR`, the form's live preview, the approvals message's
balance line, App Home, the console's Balances page and its CSV, Who's out and the ledger CSV — and
compared with a hand computation (allowance + that year's adjustments − approved − pending days in that
year; a request across the year end split on working days, the stored total kept) and with each other:
on a warm cache (the slices: ledger_reader.person_view) and on a cold one (cache cleared, read from Slack).
"""

import csv
import io
import json
import re
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone as dt_timezone
from decimal import Decimal

import holidays as holidays_package
import pytest
from django.contrib.auth.models import Permission
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from approvals import block_ids as ids
from approvals.config_types import ApproverSource, HolidayConfig, MemberSource, TeamConfig
from approvals.selectors import local_today
from fake_slack.personas import ALICE, BOB, C_ENG, C_ENG_APPROVALS, DAVE, HR
from test_support.flows import (
    ENGINEERING,
    SICK,
    VACATION,
    click,
    dms_to,
    install_config,
    open_app_home,
    open_request_form,
    posted_requests,
    press,
    request_values,
    standard_config,
    submit_request,
)
from test_support.slack_requests import post_command, post_interaction, view_submission_payload

pytestmark = pytest.mark.django_db

C_SUP = "C_SUP"
C_SUP_APPROVALS = "C_SUP_APPROVALS"
THIS_YEAR = local_today("America/Los_Angeles").year  # Alice's zone
Y = THIS_YEAR + 1  # the year the history is in (all of it ahead, whatever today is)
Y2 = Y + 1
SUNDAY_TO_THURSDAY = (6, 0, 1, 2, 3)


def weekday_on_or_after(day: date, weekday: int) -> date:
    return day + timedelta(days=(weekday - day.weekday()) % 7)


def last_weekday_of_may(year: int) -> date:
    day = date(year, 5, 31)
    return day - timedelta(days=day.weekday())  # Memorial Day: the last Monday


MEMORIAL = last_weekday_of_may(Y)
COMPANY_DAY = MEMORIAL + timedelta(days=2)  # a company holiday, the Wednesday after


# --- Alice's requests (vacation unless said), as (start, end, halves) ---------------------------
J = (weekday_on_or_after(date(Y, 1, 11), 0), None, (ids.HALF_END_AM,))  # Mon–Wed, last morning only
J = (J[0], J[0] + timedelta(days=2), J[2])
SICK_DAY = weekday_on_or_after(date(Y, 1, 20), 2)
A = (weekday_on_or_after(date(Y, 3, 8), 0), None, ())
A = (A[0], A[0] + timedelta(days=4), ())  # Mon–Fri, approved
B = (weekday_on_or_after(date(Y, 4, 5), 0), None, (ids.HALF_START_PM,))
B = (B[0], B[0] + timedelta(days=2), B[2])  # Mon pm–Wed, pending
C = (weekday_on_or_after(date(Y, 5, 3), 0), None, ())
C = (C[0], C[0] + timedelta(days=1), ())  # rejected
H = (MEMORIAL - timedelta(days=7), MEMORIAL + timedelta(days=4), ())  # two weeks round Memorial Day, approved
D = (weekday_on_or_after(date(Y, 6, 7), 0), None, ())
D = (D[0], D[0] + timedelta(days=2), ())  # approved, then cancelled
E = (weekday_on_or_after(date(Y, 6, 14), 0), None, ())
E = (E[0], E[0] + timedelta(days=1), ())  # pending, then withdrawn
HR_DAY = weekday_on_or_after(date(Y, 8, 2), 0)  # recorded by HR
F_START = weekday_on_or_after(date(Y, 12, 21), 0)  # across the year end: Mon .. Tue of the week after next
F = (F_START, F_START + timedelta(days=8), ())
G_BEFORE = (weekday_on_or_after(date(Y, 11, 1), 0), None, ())
G_BEFORE = (G_BEFORE[0], G_BEFORE[0] + timedelta(days=2), ())
G_AFTER = (weekday_on_or_after(date(Y2, 2, 7), 0), None, (ids.HALF_END_AM,))
G_AFTER = (G_AFTER[0], G_AFTER[0] + timedelta(days=2), G_AFTER[2])  # edited into next year, 2.5 days
K = (weekday_on_or_after(date(Y, 10, 3), 6), None, ())
K = (K[0], K[0] + timedelta(days=4), ())  # Sun–Thu, asked in Support

ADJUSTMENTS = [("2", Y, "opening balance"), ("5", Y, "carry-over"), ("-1.5", Y, "correction")]  # Y2: too far ahead


# --- The hand computation ----------------------------------------------------------------------


def calendar(workweek, country: bool):
    public = holidays_package.country_holidays("US", subdiv="CA", years=range(Y - 1, Y2 + 2)) if country else {}

    def working(day: date) -> bool:
        return day.weekday() in workweek and day not in public and day != COMPANY_DAY
    return working


ENG_DAY = calendar((0, 1, 2, 3, 4), True)
SUP_DAY = calendar(SUNDAY_TO_THURSDAY, False)


def days_of(start: date, end: date, halves=(), working=ENG_DAY) -> dict[int, Decimal]:
    """Working days by year (halves off the first/last day)."""
    found: dict[int, Decimal] = {}
    day = start
    while day <= end:
        if working(day):
            share = Decimal(1)
            if day == start and ids.HALF_START_PM in halves:
                share -= Decimal("0.5")
            if day == end and ids.HALF_END_AM in halves:
                share -= Decimal("0.5")
            found[day.year] = found.get(day.year, Decimal(0)) + share
        day += timedelta(days=1)
    return found


def total(start, end, halves=(), working=ENG_DAY) -> Decimal:
    return sum(days_of(start, end, halves, working).values(), Decimal(0))


def split(start, end, halves, stored: Decimal, working) -> dict[int, Decimal]:
    """The stored total split by year on `working`'s calendar (README: the record's total is kept)."""
    shares = days_of(start, end, halves, working)
    years = sorted(shares)
    left, result = stored, {}
    for year in years[:-1]:
        result[year] = min(shares[year], left)
        left -= result[year]
    result[years[-1]] = left
    return result


def expected(moved: bool, extra=()) -> dict[int, dict[str, Decimal]]:
    """Alice's vacation per year: allowance, adjustments, taken, pending, left."""
    working = SUP_DAY if moved else ENG_DAY  # balances count on the person's team now (balances.balances_for)
    approved = [(J, ENG_DAY), (A, ENG_DAY), (H, ENG_DAY), ((HR_DAY, HR_DAY, ()), ENG_DAY), (F, ENG_DAY)]
    pending = [(B, ENG_DAY), (G_AFTER, ENG_DAY)] + ([(K, SUP_DAY)] if moved else [])
    result = {}
    for year in (Y, Y2):
        taken = sum((split(*r, total(*r, working=cal), working).get(year, Decimal(0)) for r, cal in approved),
                    Decimal(0))
        waiting = sum((split(*r, total(*r, working=cal), working).get(year, Decimal(0)) for r, cal in pending),
                      Decimal(0))
        adjusted = sum((Decimal(d) for d, y, _ in [*ADJUSTMENTS, *extra] if y == year), Decimal(0))
        result[year] = {"allowance": Decimal(25), "adjustments": adjusted, "taken": taken, "pending": waiting,
                        "left": Decimal(25) + adjusted - taken - waiting}
    return result


def sick_taken(year: int) -> Decimal:
    return Decimal(1) if year == SICK_DAY.year else Decimal(0)


def num(value: Decimal) -> str:
    return "0" if value == 0 else format(value.normalize(), "f")


# --- Configuration ---------------------------------------------------------------------------

SUPPORT = TeamConfig(name="Support", members=MemberSource(channel=C_SUP), approvers=ApproverSource(users=(DAVE,)),
                     approvals_channel=C_SUP_APPROVALS, workweek=SUNDAY_TO_THURSDAY, timezone="Asia/Dubai")


def config(*, moved: bool = False, renamed: bool = False):
    vacation = replace(VACATION, name="Annual leave") if renamed else VACATION
    support = replace(SUPPORT, members=MemberSource(users=(ALICE,), channel=C_SUP)) if moved else SUPPORT
    teams = (support, ENGINEERING) if moved else (ENGINEERING, support)  # matched in order: Support first
    return standard_config(teams=teams, leave_types=(vacation, SICK),
                           holidays=(HolidayConfig(date=COMPANY_DAY, name="Company day"),))


# --- Flows -------------------------------------------------------------------------------------


def ask(client, fake_slack, text: str, user=ALICE) -> str:
    """`/timeoff text`'s answer: ephemeral, or the DM that follows on a cold cache."""
    before = len(dms_to(fake_slack, user))
    response = post_command(client, text, user_id=user)
    assert response.status_code == 200, response.content
    answer = response.json()["text"]
    if answer.startswith("Checking your balance"):
        dms = dms_to(fake_slack, user)[before:]
        assert dms, "the balance DM never came"
        return dms[-1]
    return answer


_views: list = []


def send(client, fake_slack, request, leave_type="vacation", user=ALICE, channel=C_ENG_APPROVALS):
    start, end, halves = request
    view = open_request_form(client, fake_slack, user)
    before = len(posted_requests(fake_slack, channel))
    _views.append(1)
    response = submit_request(client, user, view, request_values(leave_type, start, end, halves=halves),
                              view_id=f"V_REQ{len(_views)}", view_hash=f"h{len(_views)}")
    assert response.content == b"", response.content
    posts = posted_requests(fake_slack, channel)
    assert len(posts) == before + 1, "not posted"
    return posts[-1]


def reject(client, fake_slack, posted):
    click(client, fake_slack, BOB, ids.REJECT_ACTION, posted)
    modal = fake_slack.last_call("views.open").params["view"]
    values = {ids.REASON_BLOCK: {ids.REASON_ACTION: {"type": "plain_text_input", "value": "Release week"}}}
    post_interaction(client, view_submission_payload(user_id=BOB, view=modal, values=values, view_id=f"V_REJ{len(_views)}"))
    _views.append(1)


def own_list(client, word="list") -> list:
    response = post_command(client, word, user_id=ALICE)
    assert response.status_code == 200
    return response.json()["blocks"]


def press_for(client, fake_slack, request_id: str, action_id: str, word="list"):
    """Press `action_id` on the row of `request_id` in Alice's `/timeoff list`."""
    blocks = own_list(client, word)
    for block in blocks:
        if block.get("type") != "actions":
            continue
        for element in block["elements"]:
            if element.get("action_id") == action_id and request_id in element.get("value", ""):
                press(client, ALICE, [block], action_id, channel=C_ENG, on_list=True)
                return
    raise AssertionError(f"no {action_id} for {request_id} in {json.dumps(blocks)[:2000]}")


def request_id(posted) -> str:
    metadata = posted.params["metadata"]
    metadata = json.loads(metadata) if isinstance(metadata, str) else metadata
    return metadata["event_payload"]["id"]


@pytest.fixture
def hr(fake_slack, django_user_model):
    hannah = django_user_model.objects.create_user("hannah", "hannah@example.com", "a-long-test-password",
                                                   is_staff=True)
    for codename in ("record_adjustment", "view_leave_records", "record_leave_for_others"):
        hannah.user_permissions.add(Permission.objects.get(codename=codename))
    console = Client()
    console.force_login(hannah)
    return console


def adjust(hr, days: str, year: int, reason: str):
    hr.get(reverse("console:search"), {"q": "alice"})  # the directory is read (immediate tasks)
    response = hr.post(reverse("console:adjust"), {"user": "alice@example.com", "leave_type": "vacation",
                                                   "days": days, "year": year, "reason": reason}, follow=True)
    assert "Recorded" in response.text, response.context["form"].errors


@pytest.fixture
def history(client, fake_slack, hr):
    fake_slack.workspace.add_channel(C_SUP, "support", members=[DAVE])
    fake_slack.workspace.add_channel(C_SUP_APPROVALS, "support-approvals", members=[DAVE, HR], private=True)
    install_config(config())
    ids_of = {}

    ids_of["J"] = request_id(posted := send(client, fake_slack, J))
    click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted)
    send(client, fake_slack, (SICK_DAY, SICK_DAY, ()), leave_type="sick")  # needs no approval
    posted = send(client, fake_slack, A)
    click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted)
    send(client, fake_slack, B)
    reject(client, fake_slack, send(client, fake_slack, C))
    posted = send(client, fake_slack, H)
    click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted)
    ids_of["D"] = request_id(posted := send(client, fake_slack, D))
    click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted)
    press_for(client, fake_slack, ids_of["D"], ids.CANCEL_ACTION, "cancel")
    ids_of["E"] = request_id(send(client, fake_slack, E))
    press_for(client, fake_slack, ids_of["E"], ids.WITHDRAW_ACTION)
    posted = send(client, fake_slack, F)
    click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted)
    # HR records a day for her.
    response = post_command(client, f"for <@{ALICE}|alice> {HR_DAY} {HR_DAY} vacation", user_id=HR)
    assert response.status_code == 200 and response.content == b"", response.content
    form = fake_slack.last_call("views.open").params["view"]
    post_interaction(client, view_submission_payload(user_id=HR, view=form, values=request_values(
        "vacation", HR_DAY, HR_DAY), view_id="V_FOR"))
    for days, year, reason in ADJUSTMENTS:
        adjust(hr, days, year, reason)
    # A pending request edited from this year into the next.
    ids_of["G"] = request_id(send(client, fake_slack, G_BEFORE))
    press_for(client, fake_slack, ids_of["G"], ids.EDIT_ACTION)
    form = fake_slack.last_call("views.open").params["view"]
    start, end, halves = G_AFTER
    response = post_interaction(client, view_submission_payload(
        user_id=ALICE, view=form, values=request_values("vacation", start, end, halves=halves), view_id="V_EDIT"))
    assert response.content == b"", response.content
    return ids_of


def move_alice(client, fake_slack):
    """Vacation renamed; Alice moved to Support (Sunday–Thursday), where she asks for K."""
    install_config(config(moved=True, renamed=True))
    posted = send(client, fake_slack, K, channel=C_SUP_APPROVALS)
    return posted


# --- Reading the surfaces ----------------------------------------------------------------------

LINE = re.compile(r"• (?P<name>.+?): (?:\*(?P<n>[\d.]+) days? (?P<kind>left|over the allowance)\*|no yearly limit)"
                  r" — (?P<rest>.*)")


def parse_balance_text(text: str) -> dict[int, dict[str, dict[str, Decimal | None]]]:
    """{year: {type name: {allowance, adjustments, taken, pending, left}}} from `/timeoff balance`'s mrkdwn."""
    found: dict = {}
    year = None
    for line in text.split("\n"):
        if m := re.match(r"\*Your leave in (\d{4})\*", line):
            year = int(m.group(1))
            found[year] = {}
            continue
        m = LINE.match(line.strip())
        if not m:
            continue
        values = {"allowance": None, "adjustments": Decimal(0)}
        for part in m.group("rest").split(", "):
            key, number = part.split(" ", 1)
            values[key] = Decimal(number.replace("+", ""))
        if m.group("n") is None:
            values["left"] = None
        else:
            values["left"] = Decimal(m.group("n")) * (1 if m.group("kind") == "left" else -1)
        name = m.group("name").split(" ", 1)[1] if m.group("name").startswith(":") else m.group("name")
        found[year][name] = values
    return found


def home_text(client, fake_slack, event_id: str) -> str:
    view = open_app_home(client, fake_slack, ALICE, event_id)
    lines = []
    for block in view["blocks"]:
        if block.get("type") == "section" and "text" in block:
            lines.extend(block["text"]["text"].split("\n"))
    return "\n".join(lines)


def console_balances(hr, team: str, year: int) -> dict:
    response = hr.get(reverse("console:balances"), {"team": team, "year": year})
    assert response.status_code == 200
    table = response.context["table"]
    assert table is not None, response.text[:2000]
    rows = {row.user: row for row in table.rows}
    assert ALICE in rows, [r.user for r in table.rows]
    return {b.leave_type: b for b in rows[ALICE].balances}


def console_csv(hr, team: str, year: int) -> dict:
    response = hr.get(reverse("console:balances"), {"team": team, "year": year, "download": "1"})
    assert response["Content-Type"].startswith("text/csv"), response.text[:2000]
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    return {r["leave_type"]: r for r in rows if r["user_id"] == ALICE}


def ledger_rows(hr, year: int) -> list[dict]:
    response = hr.get(reverse("console:ledger_export"), {"download": "1", "year": year})
    assert response.status_code == 200
    return list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))


def preview_line(client, fake_slack, start: date, end: date) -> str:
    view = open_request_form(client, fake_slack, ALICE, f"{start} {end} vacation")
    return json.dumps(view["blocks"])


def after_line(text: str, year: int) -> str | None:
    m = re.search(r"After this request: ([^\"\\]*?) in " + str(year), text)
    return m.group(0) if m else None


# --- The checks --------------------------------------------------------------------------------


def check_every_surface(client, fake_slack, hr, history_ids, *, moved: bool, name: str, team: str, label: str,
                        extra=()):
    want = expected(moved, extra)
    # `/timeoff balance YEAR`
    for year in (Y, Y2):
        text = ask(client, fake_slack, f"balance {year}")
        got = parse_balance_text(text)
        assert got.get(year), f"{label}: no balance for {year}: {text}"
        assert name in got[year], f"{label}: {name} not in {text}"
        assert got[year][name] == want[year], f"{label} /timeoff balance {year}: {got[year][name]} != {want[year]}"
        sick = got[year]["Sick leave"]
        assert (sick["allowance"], sick["left"], sick["taken"], sick["pending"]) == (
            None, None, sick_taken(year), Decimal(0)), f"{label}: sick {year}: {sick}"
    # App Home: this year's and next year's
    home = parse_balance_text(home_text(client, fake_slack, f"Ev_{label}"))
    for year in (THIS_YEAR, THIS_YEAR + 1):
        if year in (Y, Y2):
            assert year in home, f"{label}: App Home shows no {year}: {home}"
            assert home[year][name] == want[year], f"{label} App Home {year}: {home[year][name]} != {want[year]}"
    # The console's Balances page and its CSV
    for year in (Y, Y2):
        page = console_balances(hr, team, year)["vacation"]
        assert (page.allowance, page.adjustments, page.taken, page.pending, page.remaining) == tuple(
            want[year].values()), f"{label} console {year}: {page} != {want[year]}"
        row = console_csv(hr, team, year)["vacation"]
        assert [row[k] for k in ("allowance", "adjustments", "taken", "pending", "left")] == [
            num(v) for v in want[year].values()], f"{label} balances CSV {year}: {row} != {want[year]}"
        assert row["leave_type_name"] == name and row["team"] == team
        sick = console_csv(hr, team, year)["sick"]
        assert (sick["allowance"], sick["left"], sick["taken"]) == ("", "", num(sick_taken(year)))
    # The form's live preview: one more day in each year
    for year, day in ((Y, weekday_on_or_after(date(Y, 9, 13), 1)), (Y2, weekday_on_or_after(date(Y2, 4, 4), 1))):
        preview = preview_line(client, fake_slack, day, day)
        left = want[year]["left"] - 1
        allowed = want[year]["allowance"] + want[year]["adjustments"]
        wanted = (f"After this request: {num(left)} of {num(allowed)} days of {name} left in {year}" if left >= 0 else
                  f"After this request: {num(-left)} days over the {num(allowed)} days of {name} in {year}")
        assert after_line(preview, year) == wanted, f"{label} preview {year}: {after_line(preview, year)!r} != {wanted!r}"
    # Ledger CSV: the adjustments of each year; each request in the year(s) it meets, as the ledger has it
    for year in (Y, Y2):
        rows = [r for r in ledger_rows(hr, year) if r["user"] == ALICE]
        adjusted = sum((Decimal(r["days"]) for r in rows if r["kind"] == "adjustment" and r["type"] == "vacation"),
                       Decimal(0))
        assert adjusted == want[year]["adjustments"], f"{label} ledger CSV {year}: adjustments {adjusted}"
        assert all(r["year"] == str(year) for r in rows if r["kind"] == "adjustment")
        requests = [r for r in rows if r["kind"] == "request"]
        # Every active vacation request that meets the year is in it, with its whole stored days; the
        # year's share of them (split as README says) adds up to taken + pending.
        active = [r for r in requests if r["type"] == "vacation" and r["status"] in ("approved", "pending")]
        shares = Decimal(0)
        working = SUP_DAY if moved else ENG_DAY
        for r in active:
            start, end = date.fromisoformat(r["start"]), date.fromisoformat(r["end"])
            halves = ((ids.HALF_START_PM,) if r["start_half"] == "pm" else ()) + (
                (ids.HALF_END_AM,) if r["end_half"] == "am" else ())
            shares += split(start, end, halves, Decimal(r["days"]), working).get(year, Decimal(0))
        assert shares == want[year]["taken"] + want[year]["pending"], (
            f"{label} ledger CSV {year}: active days {shares} != {want[year]}")
        if year == Y:
            statuses = sorted(r["status"] for r in requests if r["type"] == "vacation")
            assert statuses.count("rejected") == 1 and statuses.count("cancelled") == 2, statuses
        # The edited request is only in the year it now lies in
        edited = [r for r in requests if r["id"] == history_ids["G"]]
        assert bool(edited) == (year == Y2), f"{label} ledger CSV {year}: edited request {edited}"
        if edited:
            assert (edited[0]["start"], edited[0]["days"], edited[0]["status"]) == (
                G_AFTER[0].isoformat(), "2.5", "pending")


def test_every_surface_agrees_on_a_warm_cache_before_the_move(client, fake_slack, hr, history):
    check_every_surface(client, fake_slack, hr, history, moved=False, name="Vacation", team="Engineering", label="warm")


def test_every_surface_agrees_on_a_cold_cache_before_the_move(client, fake_slack, hr, history):
    cache.clear()
    check_every_surface(client, fake_slack, hr, history, moved=False, name="Vacation", team="Engineering", label="cold")


def test_every_surface_agrees_on_a_warm_cache_after_the_rename_and_the_move(client, fake_slack, hr, history):
    move_alice(client, fake_slack)
    check_every_surface(client, fake_slack, hr, history, moved=True, name="Annual leave", team="Support",
                        label="warm-moved")


def test_every_surface_agrees_on_a_cold_cache_after_the_rename_and_the_move(client, fake_slack, hr, history):
    move_alice(client, fake_slack)
    cache.clear()
    check_every_surface(client, fake_slack, hr, history, moved=True, name="Annual leave", team="Support",
                        label="cold-moved")


# --- The approvals message's balance line --------------------------------------------------------

NEW_DAY = weekday_on_or_after(date(Y2, 4, 4), 1)  # a Tuesday: a working day in both teams


def balance_line_of(posted, year: int) -> str | None:
    return after_line(json.dumps(posted.params["blocks"]), year)


def wanted_after(want, year: int, name: str, days: Decimal = Decimal(1)) -> str:
    left = want[year]["left"] - days
    allowed = want[year]["allowance"] + want[year]["adjustments"]
    if left >= 0:
        return f"After this request: {num(left)} of {num(allowed)} days of {name} left in {year}"
    return f"After this request: {num(-left)} days over the {num(allowed)} days of {name} in {year}"


@pytest.mark.parametrize("cold", [False, True], ids=["warm", "cold"])
@pytest.mark.parametrize("moved", [False, True], ids=["before-move", "after-move"])
def test_the_approvals_message_shows_the_same_balance_after(client, fake_slack, hr, history, cold, moved):
    channel = C_ENG_APPROVALS
    name = "Vacation"
    if moved:
        move_alice(client, fake_slack)
        channel, name = C_SUP_APPROVALS, "Annual leave"
    want = expected(moved)
    view = open_request_form(client, fake_slack, ALICE)
    if cold:
        cache.clear()  # went cold before the submission: checked and posted from the ledger read from Slack
    response = submit_request(client, ALICE, view, request_values("vacation", NEW_DAY, NEW_DAY),
                              view_id="V_LAST", view_hash="h_last")
    assert response.content == b"", response.content
    posted = posted_requests(fake_slack, channel)[-1]
    assert balance_line_of(posted, Y2) == wanted_after(want, Y2, name)
    # And `/timeoff balance` says the same afterwards
    text = ask(client, fake_slack, f"balance {Y2}")
    got = parse_balance_text(text)[Y2][name]
    assert got["left"] == want[Y2]["left"] - 1 and got["pending"] == want[Y2]["pending"] + 1, text


def test_a_request_across_the_year_end_shows_both_years_balance_in_the_message(client, fake_slack, hr, history):
    # A request from the week before Christmas of Y2 into Y2+1: the message shows each year's balance after.
    start = weekday_on_or_after(date(Y2, 12, 20), 0)
    end = start + timedelta(days=15)
    want = expected(False)
    posted = send(client, fake_slack, (start, end, ()))
    shares = days_of(start, end)
    assert balance_line_of(posted, Y2) == wanted_after(want, Y2, "Vacation", shares[Y2])
    assert balance_line_of(posted, Y2 + 1) == (
        f"After this request: {num(25 - shares[Y2 + 1])} of 25 days of Vacation left in {Y2 + 1}")


def test_the_edited_request_still_shows_the_approvers_the_balance_after_it(client, fake_slack, hr, history):
    # The pending request edited from Y into Y2 is rewritten in place: the approvers who decide it should
    # still see the balance left after it (README: "the balance left after it"), now in Y2's terms.
    want = expected(False)
    message = next(m for m in fake_slack.workspace.messages(C_ENG_APPROVALS)
                   if m.metadata and m.metadata["event_payload"].get("id") == history["G"])
    assert message.metadata["event_payload"]["start"] == G_AFTER[0].isoformat()
    rendered = json.dumps(message.blocks)
    assert after_line(rendered, Y) is None, rendered  # nothing stale about the year it left
    assert after_line(rendered, Y2) == (
        f"After this request: {num(want[Y2]['left'])} of 25 days of Vacation left in {Y2}"), rendered


# --- Who's out --------------------------------------------------------------------------------


def alice_cells(hr, team: str) -> dict[date, object]:
    response = hr.get(reverse("console:whos_out"), {"team": team, "weeks": "12"})
    assert response.status_code == 200
    found = {}
    for calendar_ in response.context["calendars"]:
        for week in calendar_.weeks:
            for row in week.rows:
                if row.user == ALICE:
                    for day, cell in zip(week.days, row.cells):
                        if cell.text:
                            found[day.day] = cell
    return found


@pytest.mark.parametrize("cold", [False, True], ids=["warm", "cold"])
def test_whos_out_shows_her_days_as_the_balance_counts_them(client, fake_slack, hr, history, cold, monkeypatch):
    import types

    from django.utils import timezone as django_timezone

    from approvals import console_see_views

    # The page shows the weeks from today: seen from a week before her January leave, whatever today is.
    seen_from = datetime.combine(J[0] - timedelta(days=7), datetime.min.time(), tzinfo=dt_timezone.utc)
    monkeypatch.setattr(console_see_views, "timezone", types.SimpleNamespace(
        now=lambda: seen_from, localdate=lambda: seen_from.date(), make_aware=django_timezone.make_aware))
    move_alice(client, fake_slack)
    if cold:
        cache.clear()
    cells = alice_cells(hr, "Engineering")  # leave stays with the team it was requested in
    j_days = [J[0] + timedelta(days=n) for n in range(3)]
    assert [d for d in j_days if d in cells] == j_days, cells
    assert [cells[d].half for d in j_days] == [False, False, True]
    assert {cells[d].text for d in j_days} == {"Annual leave"}  # the type's name now
    assert cells[SICK_DAY].text == "away"  # private
    # As many days as the balance counts for it: 2.5
    assert sum(Decimal("0.5") if cells[d].half else Decimal(1) for d in j_days) == total(*J)
    assert not {d for d in alice_cells(hr, "Support") if d <= SICK_DAY}  # not moved to her new team


# --- Over the allowance -------------------------------------------------------------------------


@pytest.mark.parametrize("cold", [False, True], ids=["warm", "cold"])
def test_every_surface_says_how_far_over_after_a_big_negative_correction(client, fake_slack, hr, history, cold):
    extra = [("-10", Y, "correction: double-counted carry-over")]
    for days, year, reason in extra:
        adjust(hr, days, year, reason)
    assert expected(False, extra)[Y]["left"] < 0  # the test's premise
    if cold:
        cache.clear()
    check_every_surface(client, fake_slack, hr, history, moved=False, name="Vacation", team="Engineering",
                        label="over-cold" if cold else "over-warm", extra=extra)


# --- A request still being sent (in the pending set, not in Slack yet) --------------------------


def test_a_request_in_flight_counts_the_same_everywhere_it_is_counted(client, fake_slack, hr, history, settings):
    want = expected(False)
    hr.get(reverse("console:balances"), {"team": "Engineering", "year": Y2})  # warm, as HR had it open
    view = open_request_form(client, fake_slack, ALICE)
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.dummy.DummyBackend"}}  # no worker from here
    response = submit_request(client, ALICE, view, request_values("vacation", NEW_DAY, NEW_DAY + timedelta(days=1)),
                              view_id="V_FLIGHT", view_hash="h_flight")
    assert response.content == b"", response.content
    left = want[Y2]["left"] - 2
    text = ask(client, fake_slack, f"balance {Y2}")
    assert parse_balance_text(text)[Y2]["Vacation"]["left"] == left, text
    page = console_balances(hr, "Engineering", Y2)["vacation"]
    assert (page.pending, page.remaining) == (want[Y2]["pending"] + 2, left)
    row = console_csv(hr, "Engineering", Y2)["vacation"]
    assert (row["pending"], row["left"]) == (num(want[Y2]["pending"] + 2), num(left))
    later = weekday_on_or_after(date(Y2, 9, 5), 1)
    preview = preview_line(client, fake_slack, later, later)
    assert after_line(preview, Y2) == wanted_after(want, Y2, "Vacation", Decimal(3)), preview


# --- Editing, after the move, a request recorded in the old team -----------------------------------


def test_an_edit_after_the_move_previews_the_days_it_stores_and_the_balance_counts(client, fake_slack, hr, history):
    # B (pending) was asked in Engineering (Monday–Friday); Alice is now in Support (Sunday–Thursday).
    # She edits it to a whole Monday–Friday week: the form's preview, the stored request and the balance
    # must count the same days.
    move_alice(client, fake_slack)
    b_id = next(m.metadata["event_payload"]["id"] for m in fake_slack.workspace.messages(C_ENG_APPROVALS)
                if m.metadata and m.metadata["event_payload"].get("start") == B[0].isoformat())
    press_for(client, fake_slack, b_id, ids.EDIT_ACTION)
    form = fake_slack.last_call("views.open").response["view"]
    monday = weekday_on_or_after(date(Y, 4, 19), 0)
    friday = monday + timedelta(days=4)
    from slackbot.tests.test_modal_lifecycle import date_changed

    redraw = date_changed(ALICE, form, request_values("vacation", monday, friday))
    post_interaction(client, redraw)
    shown = json.dumps(fake_slack.workspace.view(form["id"])["blocks"])
    previewed = re.search(r"\*(\d+(?:\.\d+)?) working days?\*", shown)
    response = post_interaction(client, view_submission_payload(
        user_id=ALICE, view=form, values=request_values("vacation", monday, friday), view_id="V_EDIT_B"))
    assert response.content == b"", response.content
    stored = next(m.metadata["event_payload"] for m in fake_slack.workspace.messages(C_ENG_APPROVALS)
                  if m.metadata and m.metadata["event_payload"].get("id") == b_id)
    assert stored["start"] == monday.isoformat(), stored
    assert previewed is not None, shown
    assert Decimal(previewed.group(1)) == Decimal(str(stored["days"])), (
        f"the form previewed {previewed.group(1)} working days; the request stores {stored['days']}")


def test_an_edit_after_the_move_is_judged_on_one_calendar_by_the_form_and_the_task(client, fake_slack, hr, history):
    # B is Engineering's leave (Monday–Friday; leave stays with the team it was requested in). Edited to a
    # Sunday after Alice moved to Support (Sunday–Thursday): the form and the task must agree on whether
    # that is a working day — either the form refuses it, or the edit is written. Not: the form closes,
    # then a DM says the request is unchanged.
    move_alice(client, fake_slack)
    b_id = next(m.metadata["event_payload"]["id"] for m in fake_slack.workspace.messages(C_ENG_APPROVALS)
                if m.metadata and m.metadata["event_payload"].get("start") == B[0].isoformat())
    press_for(client, fake_slack, b_id, ids.EDIT_ACTION)
    form = fake_slack.last_call("views.open").response["view"]
    sunday = weekday_on_or_after(date(Y, 4, 18), 6)
    before = len(dms_to(fake_slack, ALICE))
    response = post_interaction(client, view_submission_payload(
        user_id=ALICE, view=form, values=request_values("vacation", sunday, sunday), view_id="V_EDIT_SUN"))
    stored = next(m.metadata["event_payload"] for m in fake_slack.workspace.messages(C_ENG_APPROVALS)
                  if m.metadata and m.metadata["event_payload"].get("id") == b_id)
    refused_in_form = response.content != b"" and "errors" in response.json()
    written = stored["start"] == sunday.isoformat()
    assert refused_in_form or written, (
        f"the form accepted the edit, the task did not write it: {dms_to(fake_slack, ALICE)[before:]}")
