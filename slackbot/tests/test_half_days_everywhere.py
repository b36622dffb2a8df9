"""Half days, end to end: what the person, their approver and HR see when leave takes half a day.

README ("How it works", "Rules"): the request form offers "first day: afternoon only" and "last day:
morning only" (on a one-day request either makes it a half day); half days count 0.5 and are allowed
only where the type allows them; a morning and an afternoon of the same day do not overlap; a request
with no working days is refused; `max_out` counts people out on each half of a day. Each test drives the
app as Slack does (signed view_submissions with the form's half-day options, slash commands, button
clicks, the daily jobs through `run_jobs`) against the fake Slack, then reads what was posted, the
ledger's metadata, `/timeoff list` and `balance`, App Home, and the console's Who's out, Balances and
ledger CSV.
"""

import csv
import io
import itertools
import re
import types
from dataclasses import replace
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse
from django.utils import timezone as django_timezone

from approvals import block_ids as ids
from approvals.selectors import local_today
from fake_slack.personas import C_ENG, C_ENG_APPROVALS
from test_support.flows import (
    HR,
    ALICE,
    BOB,
    DAVE,
    ENGINEERING,
    MEDICAL,
    SICK,
    VACATION,
    buttons_in,
    click,
    dms_to,
    install_config,
    metadata_payload,
    open_app_home,
    open_request_form,
    posted_requests,
    press,
    request_values,
    standard_config,
    submit_request,
)
from test_support.job_runs import posts_in, run_jobs
from test_support.slack_requests import post_command, post_interaction, view_submission_payload

pytestmark = pytest.mark.django_db

LA = ZoneInfo("America/Los_Angeles")
AM = (ids.HALF_END_AM,)  # "Last day: morning only": on one day, the morning
PM = (ids.HALF_START_PM,)  # "First day: afternoon only": on one day, the afternoon
BOTH_ENDS = (ids.HALF_START_PM, ids.HALF_END_AM)

# Next year's second full week of March, clear of US/California holidays: App Home shows this year's and
# next year's balances, so leave there shows on every surface.
_NEXT_YEAR = local_today("America/Los_Angeles").year + 1
_MARCH_FIRST = date(_NEXT_YEAR, 3, 1)
MON = _MARCH_FIRST + timedelta(days=(7 - _MARCH_FIRST.weekday()) % 7 + 7)
TUE, WED, THU, FRI = (MON + timedelta(days=n) for n in range(1, 5))
YEAR = MON.year

_views = itertools.count(1)


@pytest.fixture(autouse=True)
def exports_elsewhere(settings, tmp_path):
    settings.LEDGER_EXPORT_DIR = tmp_path / "exports"


@pytest.fixture
def hr(fake_slack, django_user_model):
    """Hannah in the console, allowed to see everyone's leave records (Balances, ledger CSV)."""
    hannah = django_user_model.objects.create_user("hannah", "hannah@example.com", "a-long-test-password",
                                                   is_staff=True)
    hannah.user_permissions.add(Permission.objects.get(codename="view_leave_records"))
    console = Client()
    console.force_login(hannah)
    return console


# --- Steps --------------------------------------------------------------------------------------------


def config(**team_changes):
    team = replace(ENGINEERING, digest_time=time(9, 0), **team_changes)
    return standard_config(teams=(team,), leave_types=(VACATION, SICK, MEDICAL))


def day_text(day: date) -> str:
    """A day as the app's messages write it, with its year when it is not this year."""
    text = f"{day:%a} {day.day} {day:%b}"
    return text if day.year == local_today("America/Los_Angeles").year else f"{text} {day.year}"


def short_day(day: date) -> str:
    """A day as the daily jobs write it on a day of the same year."""
    return f"{day:%a} {day.day} {day:%b}"


def warm(client, fake_slack, *people):
    """Each person opens the form once: their team, time zone and ledger are read, so a submission is
    checked at once and refused in the form."""
    for person in people:
        open_request_form(client, fake_slack, person)


def send(client, fake_slack, user, start, end=None, halves=(), leave_type="vacation"):
    """`user` opens the form with `/timeoff` and sends it (a new modal each time, as Slack gives it)."""
    view = open_request_form(client, fake_slack, user)
    number = next(_views)
    response = submit_request(client, user, view, request_values(leave_type, start, end or start, halves=halves),
                              view_id=f"V_HALF_{number}", view_hash=f"1766000000.h{number}")
    assert response.status_code == 200, response.content
    return response


def refusal(response) -> dict:
    assert response.content, "the form closed: the request was accepted"
    body = response.json()
    assert body.get("response_action") == "errors", body
    return body["errors"]


def request_of(fake_slack, user):
    """The last request `user` posted to the approvals channel."""
    return [call for call in posted_requests(fake_slack) if metadata_payload(call)["user"] == user][-1]


def approve(client, fake_slack, posted):
    response = click(client, fake_slack, BOB if metadata_payload(posted)["user"] != BOB else DAVE,
                     ids.APPROVE_ACTION, posted)
    assert response.status_code == 200, response.content


def ledger_entries(fake_slack, user=None) -> list[dict]:
    """Every request in the approvals channel as its metadata says now (after any chat.update)."""
    found = [m.metadata["event_payload"] for m in fake_slack.workspace.messages(C_ENG_APPROVALS)
             if m.metadata and m.metadata.get("event_type") == "timeoff_request"]
    return [e for e in found if user is None or e["user"] == user]


def answered(client, text, user=ALICE) -> dict:
    """`/timeoff <text>`, asked twice: the first warms the cache (immediate tasks), the second answers
    from it, ephemerally."""
    post_command(client, text, user_id=user)
    response = post_command(client, text, user_id=user)
    assert response.status_code == 200, response.content
    return response.json()


def balance_of(text: str, year: int, name: str = "Vacation") -> dict[str, Decimal]:
    """{taken, pending, left} of one leave type in `year` from `/timeoff balance` or App Home's text."""
    part = text.split(f"*Your leave in {year}*", 1)[1]
    line = next(line for line in part.split("\n") if name in line)
    found = {key: Decimal(n) for key, n in re.findall(r"(taken|pending) ([\d.]+)", line)}
    left = re.search(r"\*([\d.]+) days? left\*", line)
    found["left"] = Decimal(left.group(1)) if left else None
    return found


def block_texts(blocks) -> list[str]:
    found = []
    for block in blocks or []:
        if isinstance(block.get("text"), dict):
            found.append(block["text"]["text"])
        for element in block.get("elements", []) or []:
            if isinstance(element, dict) and isinstance(element.get("text"), str):
                found.append(element["text"])
    return found


def home_text(client, fake_slack, user=ALICE) -> str:
    view = open_app_home(client, fake_slack, user, f"Ev_home_{next(_views)}")
    return "\n".join(block_texts(view["blocks"]))


def receipt_of(fake_slack, user=ALICE):
    """The receipt DM (the DM with Edit / Withdraw buttons) of `user`'s last request."""
    return [c for c in fake_slack.calls("chat.postMessage") if c.params.get("channel") == user
            and buttons_in(c.params.get("blocks"))][-1]


def receipt_now(fake_slack, receipt) -> tuple[str, list]:
    """The receipt as it reads now: rewritten with chat.update after each decision or change."""
    updates = [c for c in fake_slack.calls("chat.update") if c.params["channel"] == receipt.response["channel"]
               and c.params["ts"] == receipt.response["ts"]]
    params = updates[-1].params if updates else receipt.params
    return params["text"], params.get("blocks") or []


def press_on_receipt(client, fake_slack, receipt, action_id, user=ALICE):
    _, blocks = receipt_now(fake_slack, receipt)
    return press(client, user, blocks, action_id, channel=receipt.response["channel"], ts=receipt.response["ts"])


def edit_to(client, fake_slack, receipt, start, end, halves, user=ALICE):
    """*Edit* on the receipt, then the form sent back with new dates and halves."""
    press_on_receipt(client, fake_slack, receipt, ids.EDIT_ACTION, user)
    form = fake_slack.last_call("views.open").params["view"]
    number = next(_views)
    response = post_interaction(client, view_submission_payload(
        user_id=user, view=form, values=request_values("vacation", start, end, halves=halves),
        view_id=f"V_EDIT_{number}", view_hash=f"1766000000.e{number}"))
    assert response.status_code == 200, response.content
    return response


def whos_out(hr, monkeypatch, seen_on: date):
    """The console's Who's out for Engineering, seen at noon in California on `seen_on`."""
    from approvals import console_see_views

    moment = datetime.combine(seen_on, time(12, 0), tzinfo=LA)
    monkeypatch.setattr(console_see_views, "timezone", types.SimpleNamespace(
        now=lambda: moment, localdate=lambda: seen_on, make_aware=django_timezone.make_aware))
    for _ in range(3):  # the ledger is read in the background the first time
        response = hr.get(reverse("console:whos_out"), {"team": "Engineering", "weeks": "1"})
        assert response.status_code == 200
        if response.context["ledger"] is not None and response.context["calendars"]:
            break
    [calendar] = response.context["calendars"]
    return calendar, response


def cells_of(calendar, user) -> dict[date, object]:
    """{day: cell} of `user`'s row in the first week shown."""
    week = calendar.weeks[0]
    [row] = [row for row in week.rows if row.user == user]
    return {day.day: cell for day, cell in zip(week.days, row.cells)}


def console_vacation(hr, year: int, user=ALICE):
    response = hr.get(reverse("console:balances"), {"team": "Engineering", "year": year})
    assert response.status_code == 200
    [row] = [row for row in response.context["table"].rows if row.user == user]
    return next(b for b in row.balances if b.leave_type == "vacation")


def console_balance_csv(hr, year: int, user=ALICE) -> dict:
    response = hr.get(reverse("console:balances"), {"team": "Engineering", "year": year, "download": "1"})
    assert response["Content-Type"].startswith("text/csv"), response.content[:500]
    rows = csv.DictReader(io.StringIO(response.content.decode("utf-8-sig")))
    return next(r for r in rows if r["user_id"] == user and r["leave_type"] == "vacation")


def ledger_csv(hr, year: int) -> list[dict]:
    response = hr.get(reverse("console:ledger_export"), {"download": "1", "year": year})
    assert response.status_code == 200
    return [r for r in csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))) if r["kind"] == "request"]


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=LA)


def post_texts(fake_slack, channel) -> list[str]:
    """The text and blocks of each post to `channel`, as one string a post."""
    return [params["text"] + "\n" + "\n".join(block_texts(params.get("blocks"))) for params in posts_in(fake_slack, channel)]


# --- A multi-day request that starts and ends at noon ------------------------------------------------------


def test_an_afternoon_start_and_a_morning_end_count_two_days_in_slack(client, fake_slack):
    """Alice asks for Monday afternoon to Wednesday morning: Monday pm, Tuesday, Wednesday am, 2 working
    days. The approvers, her receipt, the decision DM, the announcement, `/timeoff list`, `/timeoff
    balance` and App Home all say 2 days and that it starts and ends at noon."""
    install_config(config())
    warm(client, fake_slack, ALICE)
    assert send(client, fake_slack, ALICE, MON, WED, BOTH_ENDS).content == b""

    dates = f"{day_text(MON)} – {day_text(WED)} (starts and ends at noon)"
    posted = request_of(fake_slack, ALICE)
    payload = metadata_payload(posted)
    assert (payload["start_half"], payload["end_half"], Decimal(str(payload["days"]))) == ("pm", "am", 2)
    assert f"{dates} (2 working days)" in posted.params["text"], posted.params["text"]
    assert f"After this request: 23 of 25 days of Vacation left in {YEAR}" in "\n".join(
        block_texts(posted.params["blocks"]))
    receipt = receipt_of(fake_slack)
    assert f"{dates} (2 working days)" in receipt.params["text"], receipt.params["text"]
    assert balance_of(answered(client, f"balance {YEAR}")["text"], YEAR) == {
        "taken": 0, "pending": 2, "left": 23}
    # Bob's App Home lists it waiting for his decision, halves and all.
    assert dates in home_text(client, fake_slack, BOB)

    approve(client, fake_slack, posted)

    decision = [d for d in dms_to(fake_slack, ALICE) if "approved your" in d]
    assert decision and f"{dates} (2 working days)" in decision[-1], decision
    [announcement] = posts_in(fake_slack, C_ENG)
    assert dates in announcement["text"], announcement["text"]
    listing = "\n".join(block_texts(answered(client, "list")["blocks"]))
    assert f"{dates} (2 working days)" in listing, listing
    assert balance_of(answered(client, f"balance {YEAR}")["text"], YEAR) == {
        "taken": 2, "pending": 0, "left": 23}
    home = home_text(client, fake_slack)
    assert f"{dates} (2 working days)" in home, home
    assert balance_of(home, YEAR) == {"taken": 2, "pending": 0, "left": 23}


def test_an_afternoon_start_and_a_morning_end_show_as_half_days_in_the_console(client, fake_slack, hr, monkeypatch):
    """HR's view of the same leave: Who's out marks Monday and Wednesday "½" and Tuesday whole; Balances
    and its CSV say 2 taken and 23 left; the ledger CSV keeps the halves and 2 days."""
    install_config(config())
    warm(client, fake_slack, ALICE)
    send(client, fake_slack, ALICE, MON, WED, BOTH_ENDS)
    approve(client, fake_slack, request_of(fake_slack, ALICE))

    calendar, _ = whos_out(hr, monkeypatch, MON)
    cells = cells_of(calendar, ALICE)
    assert [(cells[d].text, cells[d].half) for d in (MON, TUE, WED)] == [
        ("Vacation", True), ("Vacation", False), ("Vacation", True)]
    assert not cells[THU].text and not cells[FRI].text

    balance = console_vacation(hr, YEAR)
    assert (balance.taken, balance.pending, balance.remaining) == (2, 0, 23)
    row = console_balance_csv(hr, YEAR)
    assert (Decimal(row["taken"]), Decimal(row["left"])) == (2, 23), row
    [entry] = ledger_csv(hr, YEAR)
    assert (entry["start"], entry["end"], entry["start_half"], entry["end_half"], Decimal(entry["days"]),
            entry["status"]) == (MON.isoformat(), WED.isoformat(), "pm", "am", 2, "approved")


# --- The two halves of one day ---------------------------------------------------------------------------


def test_a_morning_and_an_afternoon_of_one_day_are_both_accepted_and_add_up_to_a_whole_day(client, fake_slack):
    """A dentist in the morning, a school play in the afternoon: two requests for the two halves of one
    Monday do not overlap (README: overlap is judged half by half). Both approved, they take one day;
    a third request for the whole of that Monday now overlaps."""
    install_config(config())
    warm(client, fake_slack, ALICE)
    assert send(client, fake_slack, ALICE, MON, MON, AM).content == b""
    approve(client, fake_slack, request_of(fake_slack, ALICE))
    assert send(client, fake_slack, ALICE, MON, MON, PM).content == b""
    approve(client, fake_slack, request_of(fake_slack, ALICE))

    entries = ledger_entries(fake_slack, ALICE)
    assert sorted((e.get("start_half") or "", e.get("end_half") or "", e["days"], e["status"]) for e in entries) == [
        ("", "am", 0.5, "approved"), ("pm", "", 0.5, "approved")]
    assert balance_of(answered(client, f"balance {YEAR}")["text"], YEAR) == {"taken": 1, "pending": 0, "left": 24}
    listing = "\n".join(block_texts(answered(client, "list")["blocks"]))
    assert f"{day_text(MON)} (morning)" in listing and f"{day_text(MON)} (afternoon)" in listing, listing

    whole_day = refusal(send(client, fake_slack, ALICE, MON, MON))
    # It meets both halves: the morning, the first of the day, is named.
    assert whole_day == {ids.START_BLOCK: f"This overlaps your approved leave on {day_text(MON)} (morning)"}, whole_day
    assert len(ledger_entries(fake_slack, ALICE)) == 2


def test_the_same_half_twice_is_refused_whether_pending_approved_or_part_of_longer_leave(client, fake_slack):
    """Tuesday morning is taken (approved). Asking for Tuesday morning again is refused; so is Friday of
    last week to Tuesday ending at noon, which takes that morning too. Tuesday afternoon, and Wednesday
    afternoon to Thursday, are not refused; asking for Wednesday afternoon again while it is pending is."""
    install_config(config())
    warm(client, fake_slack, ALICE)
    send(client, fake_slack, ALICE, TUE, TUE, AM)
    approve(client, fake_slack, request_of(fake_slack, ALICE))

    again = refusal(send(client, fake_slack, ALICE, TUE, TUE, AM))
    assert again == {ids.START_BLOCK: f"This overlaps your approved leave on {day_text(TUE)} (morning)"}
    longer = refusal(send(client, fake_slack, ALICE, MON - timedelta(days=3), TUE, AM))
    assert longer == {ids.START_BLOCK: f"This overlaps your approved leave on {day_text(TUE)} (morning)"}
    assert send(client, fake_slack, ALICE, TUE, TUE, PM).content == b""

    assert send(client, fake_slack, ALICE, WED, THU, PM).content == b""
    pending_again = refusal(send(client, fake_slack, ALICE, WED, WED, PM))
    assert pending_again == {ids.START_BLOCK: f"This overlaps your pending leave on {day_text(WED)} – "
                                              f"{day_text(THU)} (starts at noon)"}
    assert sorted((e["start"], e.get("start_half") or "", e.get("end_half") or "")
                  for e in ledger_entries(fake_slack, ALICE)) == [
        (TUE.isoformat(), "", "am"), (TUE.isoformat(), "pm", ""), (WED.isoformat(), "pm", "")]


def test_whos_out_in_the_console_shows_a_whole_day_for_a_morning_and_an_afternoon_taken_apart(
        client, fake_slack, hr, monkeypatch):
    """Alice is out all Monday, in two requests (morning, then afternoon). HR's Who's out should not
    show her as out half the day ("½")."""
    install_config(config())
    warm(client, fake_slack, ALICE)
    send(client, fake_slack, ALICE, MON, MON, AM)
    approve(client, fake_slack, request_of(fake_slack, ALICE))
    send(client, fake_slack, ALICE, MON, MON, PM)
    approve(client, fake_slack, request_of(fake_slack, ALICE))

    calendar, _ = whos_out(hr, monkeypatch, MON)
    monday = cells_of(calendar, ALICE)[MON]
    assert monday.text == "Vacation"
    assert not monday.half, "Who's out marks Alice '½' on a Monday she is out morning and afternoon"


# --- Half days that take no working day, and types without half days ---------------------------------------


@pytest.mark.parametrize("halves", [AM, PM], ids=["morning", "afternoon"])
def test_a_half_day_on_a_public_holiday_is_refused_as_not_a_working_day(client, fake_slack, halves):
    """Independence Day (4 July) is a US public holiday: half of it takes nothing, and the form says so
    under the dates, naming the holiday, instead of sending a request of 0 days."""
    install_config(config())
    warm(client, fake_slack, ALICE)
    fourth = next(date(year, 7, 4) for year in range(YEAR, YEAR + 5) if date(year, 7, 4).weekday() < 5)
    errors = refusal(send(client, fake_slack, ALICE, fourth, fourth, halves))
    assert errors == {ids.END_BLOCK: f"{day_text(fourth)} is not a working day for Engineering (Independence Day)"}
    assert posted_requests(fake_slack) == []


def test_a_half_day_on_a_saturday_is_refused_as_not_a_working_day(client, fake_slack):
    install_config(config())
    warm(client, fake_slack, ALICE)
    saturday = FRI + timedelta(days=1)
    errors = refusal(send(client, fake_slack, ALICE, saturday, saturday, PM))
    assert errors == {ids.END_BLOCK: f"{day_text(saturday)} is not a working day for Engineering"}
    assert posted_requests(fake_slack) == []


def test_a_half_day_typed_into_a_leave_type_without_half_days_is_refused_under_the_half_day_choice(
        client, fake_slack):
    """Medical appointment cannot be taken in half days. A form with the half-day choice still on it (Alice
    picked Vacation first, then Medical, and sent before the redraw came) is refused where she sees it."""
    install_config(config())
    warm(client, fake_slack, ALICE)
    view = open_request_form(client, fake_slack, ALICE, f"{MON} vacation")
    assert ids.HALF_BLOCK in [b.get("block_id") for b in view["blocks"]]
    response = submit_request(client, ALICE, view, request_values("medical", MON, MON, halves=AM),
                              view_id="V_MEDICAL_HALF", view_hash="1766000000.med")
    assert refusal(response) == {ids.HALF_BLOCK: "Medical appointment can't be taken in half days"}
    assert posted_requests(fake_slack) == []


# --- Editing a half day into a whole day and back --------------------------------------------------------


def test_editing_a_morning_into_a_whole_day_and_then_into_an_afternoon_counts_each_time(client, fake_slack):
    """Alice asks for Monday morning, edits it to the whole Monday, then to Monday afternoon only. Each
    edit rewrites the approvals message, its metadata and her receipt; her balance follows, and once
    approved she has 24.5 days left."""
    install_config(config())
    warm(client, fake_slack, ALICE)
    send(client, fake_slack, ALICE, MON, MON, AM)
    receipt = receipt_of(fake_slack)
    posted = request_of(fake_slack, ALICE)

    def message_now():
        updates = [c for c in fake_slack.calls("chat.update") if c.params["channel"] == posted.response["channel"]
                   and c.params["ts"] == posted.response["ts"]]
        return updates[-1].params

    assert edit_to(client, fake_slack, receipt, MON, MON, ()).content == b""
    [entry] = ledger_entries(fake_slack, ALICE)
    assert (entry.get("start_half"), entry.get("end_half"), entry["days"]) == (None, None, 1)
    assert f"{day_text(MON)} (1 working day)" in message_now()["text"], message_now()["text"]
    assert f"{day_text(MON)} (1 working day)" in receipt_now(fake_slack, receipt)[0]
    assert balance_of(answered(client, f"balance {YEAR}")["text"], YEAR)["pending"] == 1

    assert edit_to(client, fake_slack, receipt, MON, MON, PM).content == b""
    [entry] = ledger_entries(fake_slack, ALICE)
    assert (entry.get("start_half"), entry.get("end_half"), entry["days"]) == ("pm", None, 0.5)
    assert f"{day_text(MON)} (afternoon) (0.5 working days)" in message_now()["text"], message_now()["text"]
    assert f"{day_text(MON)} (afternoon) (0.5 working days)" in receipt_now(fake_slack, receipt)[0]
    assert balance_of(answered(client, f"balance {YEAR}")["text"], YEAR) == {"taken": 0, "pending": 0.5,
                                                                              "left": Decimal("24.5")}

    click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted)  # the buttons as first drawn: it changed since
    assert ledger_entries(fake_slack, ALICE)[0]["status"] == "pending", "approved what Bob had not seen"
    approve(client, fake_slack, replace_blocks(posted, message_now()))
    assert ledger_entries(fake_slack, ALICE)[0]["status"] == "approved"
    assert balance_of(answered(client, f"balance {YEAR}")["text"], YEAR) == {"taken": Decimal("0.5"), "pending": 0,
                                                                              "left": Decimal("24.5")}


def replace_blocks(posted, params):
    """The posted call as the message reads now (its buttons redrawn after an edit)."""
    return types.SimpleNamespace(params={**posted.params, "blocks": params["blocks"],
                                         "metadata": params.get("metadata", posted.params["metadata"])},
                                 response=posted.response)


# --- max_out and half days ------------------------------------------------------------------------------


def test_with_max_out_one_a_morning_and_someone_elses_afternoon_fit_but_a_second_morning_does_not(
        client, fake_slack):
    """At most one person of Engineering may be out at once. Alice out Monday morning and Dave Monday
    afternoon are never out together: both are accepted and approved. Bob then asking for Monday morning,
    or the whole Monday, is refused as full, naming the half that is full."""
    install_config(config(max_out=1))
    warm(client, fake_slack, ALICE, DAVE, BOB)
    assert send(client, fake_slack, ALICE, MON, MON, AM).content == b""
    assert send(client, fake_slack, DAVE, MON, MON, PM).content == b""
    dave = request_of(fake_slack, DAVE)
    assert f"Also out: <@{ALICE}> ({day_text(MON)} (morning), pending)" in "\n".join(
        block_texts(dave.params["blocks"]))

    approve(client, fake_slack, request_of(fake_slack, ALICE))
    approve(client, fake_slack, dave)
    assert sorted((e["user"], e["status"]) for e in ledger_entries(fake_slack)) == [
        (ALICE, "approved"), (DAVE, "approved")]

    morning = refusal(send(client, fake_slack, BOB, MON, MON, AM))
    assert morning == {ids.START_BLOCK: f"{day_text(MON)} (morning) is full for Engineering: 1 person is already "
                                        "out, and at most 1 can be out at once"}
    assert refusal(send(client, fake_slack, BOB, MON, MON)) == {
        ids.START_BLOCK: f"{day_text(MON)} is full for Engineering: 1 person is already out, and at most 1 can be "
                         "out at once"}
    # Friday afternoon to Monday ending at noon takes Monday morning: full too.
    assert ids.START_BLOCK in refusal(send(client, fake_slack, BOB, FRI - timedelta(days=7), MON, BOTH_ENDS))
    assert len(ledger_entries(fake_slack)) == 2


def test_with_max_out_one_two_mornings_of_the_same_day_are_one_too_many(client, fake_slack):
    install_config(config(max_out=1))
    warm(client, fake_slack, ALICE, DAVE)
    assert send(client, fake_slack, ALICE, TUE, TUE, AM).content == b""
    errors = refusal(send(client, fake_slack, DAVE, TUE, TUE, AM))
    assert errors == {ids.START_BLOCK: f"{day_text(TUE)} (morning) is full for Engineering: 1 person is already "
                                       "out, and at most 1 can be out at once"}
    # Dave takes the afternoon instead.
    assert send(client, fake_slack, DAVE, TUE, TUE, PM).content == b""


def test_with_max_out_two_two_mornings_fit_and_a_third_morning_does_not(client, fake_slack):
    install_config(config(max_out=2))
    warm(client, fake_slack, ALICE, DAVE, BOB)
    assert send(client, fake_slack, ALICE, WED, WED, AM).content == b""
    assert send(client, fake_slack, DAVE, TUE, WED, AM).content == b""
    errors = refusal(send(client, fake_slack, BOB, WED, WED, AM))
    assert errors == {ids.START_BLOCK: f"{day_text(WED)} (morning) is full for Engineering: 2 people are already "
                                       "out, and at most 2 can be out at once"}
    assert send(client, fake_slack, BOB, WED, WED, PM).content == b""


def test_approving_a_morning_and_someone_elses_afternoon_with_max_out_one_approves_both(client, fake_slack):
    """Capacity is checked again at approval, under the team's lock, against approved leave: an
    afternoon approved after a morning of someone else is not "full"."""
    install_config(config(max_out=1))
    warm(client, fake_slack, ALICE, DAVE)
    send(client, fake_slack, ALICE, THU, FRI, AM)  # Thursday, and Friday morning
    send(client, fake_slack, DAVE, FRI, FRI, PM)
    approve(client, fake_slack, request_of(fake_slack, DAVE))
    approve(client, fake_slack, request_of(fake_slack, ALICE))
    assert sorted((e["user"], e["status"]) for e in ledger_entries(fake_slack)) == [
        (ALICE, "approved"), (DAVE, "approved")]
    assert not [t for t in fake_slack.calls("chat.postEphemeral") if "full" in (t.params.get("text") or "")]


# --- The daily jobs name the half -------------------------------------------------------------------------


def test_the_reminder_names_the_half_and_the_private_type_only_to_the_person(client, fake_slack):
    """Monday: Alice is off sick in the afternoon (recorded at once: sick leave needs no approval), Dave
    takes the morning as vacation. Friday's reminders name the half, the days and, to Alice alone, her
    type: no "Enjoy!" for sick leave."""
    install_config(config())
    warm(client, fake_slack, ALICE, DAVE)
    send(client, fake_slack, ALICE, MON, MON, PM, leave_type="sick")
    send(client, fake_slack, DAVE, MON, MON, AM)
    approve(client, fake_slack, request_of(fake_slack, DAVE))
    assert {e["user"]: e["status"] for e in ledger_entries(fake_slack)} == {ALICE: "approved", DAVE: "approved"}
    fake_slack.clear_calls()

    run_jobs(at(FRI - timedelta(days=7), 15, 30))

    [alice] = [d for d in dms_to(fake_slack, ALICE) if "reminder" in d]
    assert f"your :face_with_thermometer: Sick leave starts on {short_day(MON)} ({short_day(MON)} (afternoon), " \
           "0.5 days)" in alice, alice
    assert "Enjoy" not in alice
    [dave] = [d for d in dms_to(fake_slack, DAVE) if "reminder" in d]
    assert f"({short_day(MON)} (morning), 0.5 days)" in dave and "Enjoy!" in dave, dave


def test_the_weekly_digest_and_the_out_today_post_name_the_half_and_show_private_types_as_away(
        client, fake_slack):
    """Monday's weekly digest and Tuesday's out-today post in #engineering: each person's half is named
    ("morning" / "afternoon"), and Alice's sick leave is only "away"."""
    install_config(config())
    warm(client, fake_slack, ALICE, DAVE)
    send(client, fake_slack, ALICE, MON, MON, PM, leave_type="sick")
    send(client, fake_slack, ALICE, TUE, TUE, AM, leave_type="sick")
    send(client, fake_slack, DAVE, MON, MON, AM)
    approve(client, fake_slack, request_of(fake_slack, DAVE))
    send(client, fake_slack, DAVE, TUE, WED, PM)
    approve(client, fake_slack, request_of(fake_slack, DAVE))
    fake_slack.clear_calls()

    run_jobs(at(MON, 9, 30))
    run_jobs(at(TUE, 9, 30))

    digest, out_today = post_texts(fake_slack, C_ENG)
    assert f"<@{ALICE}>: :calendar: away, {short_day(MON)} (afternoon); :calendar: away, {short_day(TUE)} (morning)" \
           in digest, digest
    assert f"<@{DAVE}>: :palm_tree: Vacation, {short_day(MON)} (morning); :palm_tree: Vacation, " \
           f"{short_day(TUE)} – {short_day(WED)} (starts at noon)" in digest, digest
    assert f"Out today, {short_day(TUE)}" in out_today, out_today
    assert f"<@{ALICE}>: :calendar: away, {short_day(TUE)} (morning)" in out_today, out_today
    assert f"<@{DAVE}>: :palm_tree: Vacation, {short_day(TUE)} – {short_day(WED)} (starts at noon)" in out_today
    for post in (digest, out_today):
        assert "Sick" not in post and "thermometer" not in post, post


def test_sick_leave_for_an_afternoon_is_announced_as_away_for_the_afternoon(client, fake_slack):
    install_config(config())
    warm(client, fake_slack, ALICE)
    send(client, fake_slack, ALICE, MON, MON, PM, leave_type="sick")
    [announcement] = post_texts(fake_slack, C_ENG)
    assert f"<@{ALICE}>" in announcement and f"{day_text(MON)} (afternoon)" in announcement, announcement
    assert "Sick" not in announcement and "thermometer" not in announcement, announcement


def test_a_morning_off_on_friday_still_gets_the_reminder_for_monday_that_afternoon(client, fake_slack):
    """Alice is off Friday morning and back after lunch: at 15:00 she is at work, so the reminder for her
    week off from Monday comes then. Dave, off Friday afternoon, handed over before his afternoon: no
    reminder for his Monday that Friday afternoon (README: not for leave that continues leave the person
    is already on that afternoon); he was reminded on Thursday, before Friday's half day."""
    install_config(config())
    warm(client, fake_slack, ALICE, DAVE)
    friday = MON - timedelta(days=3)
    for person, halves in ((ALICE, AM), (DAVE, PM)):
        send(client, fake_slack, person, friday, friday, halves)
        approve(client, fake_slack, request_of(fake_slack, person))
        send(client, fake_slack, person, MON, FRI)
        approve(client, fake_slack, request_of(fake_slack, person))
    fake_slack.clear_calls()

    run_jobs(at(friday - timedelta(days=1), 15, 30))
    thursday = {person: [d for d in dms_to(fake_slack, person) if "reminder" in d] for person in (ALICE, DAVE)}
    fake_slack.clear_calls()
    run_jobs(at(friday, 15, 30))
    friday_dms = {person: [d for d in dms_to(fake_slack, person) if "reminder" in d] for person in (ALICE, DAVE)}

    assert len(thursday[ALICE]) == 1 and "(morning)" in thursday[ALICE][0], thursday
    assert len(thursday[DAVE]) == 1 and "(afternoon)" in thursday[DAVE][0], thursday
    assert len(friday_dms[ALICE]) == 1 and f"{short_day(MON)} – {short_day(FRI)}" in friday_dms[ALICE][0], friday_dms
    assert friday_dms[DAVE] == [], friday_dms


# --- Who's out this week, from Slack ---------------------------------------------------------------------


def test_timeoff_who_and_app_home_name_the_half_of_someone_away(client, fake_slack):
    """Dave asks `/timeoff who` and opens App Home: Alice's sick afternoon on the coming Monday shows as
    "away" for the afternoon, never as sick leave."""
    import holidays

    install_config(config())
    today = local_today("America/Los_Angeles")
    monday = today + timedelta(days=7 - today.weekday())
    days_off = holidays.country_holidays("US", subdiv="CA", years=range(monday.year, monday.year + 2))
    if monday in days_off:
        pytest.skip("the coming Monday is a public holiday")
    warm(client, fake_slack, ALICE, DAVE)
    send(client, fake_slack, ALICE, monday, monday, PM, leave_type="sick")
    assert ledger_entries(fake_slack, ALICE)[0]["status"] == "approved"

    who = "\n".join([answered(client, "who", DAVE)["text"], *block_texts(answered(client, "who", DAVE)["blocks"])])
    with_year = monday.year != today.year
    monday_text = f"{monday:%a} {monday.day} {monday:%b}" + (f" {monday.year}" if with_year else "")
    assert f"<@{ALICE}>: :calendar: away, {monday_text} (afternoon)" in who, who
    # App Home: Dave's own balances name every type; the lines about Alice name none.
    home = [line for line in home_text(client, fake_slack, DAVE).split("\n") if f"<@{ALICE}>" in line]
    assert f"• <@{ALICE}>: :calendar: away, {monday_text} (afternoon)" in home, home
    for text in (who, *home):
        assert "Sick" not in text and "thermometer" not in text


# --- Cancelling an approved half day ---------------------------------------------------------------------


def test_cancelling_an_approved_half_day_gives_back_exactly_half_a_day_in_its_own_year(client, fake_slack, hr):
    """Alice has Tuesday 30 December morning approved, and a whole day in the new year. She cancels the
    half day from her receipt: its year is back to 25 exactly, the new year keeps its day taken, and the
    approvers and the team are told which half it was."""
    install_config(config())
    warm(client, fake_slack, ALICE)
    december = date(YEAR, 12, 30)
    while december.weekday() >= 5:  # a working day near the end of the year
        december -= timedelta(days=1)
    january = date(YEAR + 1, 1, 5)
    while january.weekday() >= 5:
        january += timedelta(days=1)
    send(client, fake_slack, ALICE, january, january)
    approve(client, fake_slack, request_of(fake_slack, ALICE))
    send(client, fake_slack, ALICE, december, december, AM)
    receipt = receipt_of(fake_slack)
    approve(client, fake_slack, request_of(fake_slack, ALICE))
    assert balance_of(answered(client, f"balance {YEAR}")["text"], YEAR) == {
        "taken": Decimal("0.5"), "pending": 0, "left": Decimal("24.5")}
    _, approved_receipt = receipt_now(fake_slack, receipt)  # rewritten with *Cancel leave* once approved
    fake_slack.clear_calls()

    press(client, ALICE, approved_receipt, ids.CANCEL_ACTION, channel=receipt.response["channel"],
          ts=receipt.response["ts"])

    statuses = {e["start"]: e["status"] for e in ledger_entries(fake_slack, ALICE)}
    assert statuses == {december.isoformat(): "cancelled", january.isoformat(): "approved"}
    assert balance_of(answered(client, f"balance {YEAR}")["text"], YEAR) == {"taken": 0, "pending": 0, "left": 25}
    assert balance_of(answered(client, f"balance {YEAR + 1}")["text"], YEAR + 1) == {
        "taken": 1, "pending": 0, "left": 24}
    this_year = console_vacation(hr, YEAR)
    assert (this_year.taken, this_year.pending, this_year.remaining) == (0, 0, 25)
    assert console_vacation(hr, YEAR + 1).remaining == 24
    assert console_balance_csv(hr, YEAR)["left"] == "25"
    # The thread tells the approvers, and #engineering hears the correction, with the half named.
    thread = [c.params["text"] for c in fake_slack.calls("chat.postMessage")
              if c.params.get("channel") == C_ENG_APPROVALS and c.params.get("thread_ts")]
    assert thread, "the approvers were not told in the thread"
    [correction] = post_texts(fake_slack, C_ENG)
    assert f"{day_text(december)} (morning)" in correction, correction


def test_cancelling_half_days_either_side_of_new_year_gives_half_a_day_back_to_each_year(client, fake_slack):
    """31 December afternoon to 2 January morning (New Year's Day a holiday): half a day in each year.
    Cancelled before it starts, each year is back to its full 25 days."""
    install_config(config())
    warm(client, fake_slack, ALICE)
    # The first New Year within reach whose 31 December and 2 January are both weekdays.
    year = next(y for y in range(YEAR, YEAR + 4) if date(y, 12, 31).weekday() < 5 and date(y + 1, 1, 2).weekday() < 5)
    start, end = date(year, 12, 31), date(year + 1, 1, 2)
    send(client, fake_slack, ALICE, start, end, BOTH_ENDS)
    receipt = receipt_of(fake_slack)
    [entry] = ledger_entries(fake_slack, ALICE)
    assert (entry["start_half"], entry["end_half"], entry["days"]) == ("pm", "am", 1)
    approve(client, fake_slack, request_of(fake_slack, ALICE))
    for charged in (year, year + 1):
        assert balance_of(answered(client, f"balance {charged}")["text"], charged)["taken"] == Decimal("0.5"), charged

    press_on_receipt(client, fake_slack, receipt, ids.CANCEL_ACTION)

    assert ledger_entries(fake_slack, ALICE)[0]["status"] == "cancelled"
    for charged in (year, year + 1):
        assert balance_of(answered(client, f"balance {charged}")["text"], charged) == {
            "taken": 0, "pending": 0, "left": 25}, charged


# --- The approver's side -----------------------------------------------------------------------------------


def test_the_reject_form_says_which_half_when_both_halves_of_a_day_wait(client, fake_slack):
    """Alice's morning and afternoon of one Monday both wait for Bob. The reject form names the request
    by its dates, not its type (which may be private): for two halves of one day, only the half tells
    Bob which one he is rejecting. Rejected, the afternoon is refused and the morning still waits."""
    install_config(config())
    warm(client, fake_slack, ALICE)
    send(client, fake_slack, ALICE, MON, MON, AM)
    send(client, fake_slack, ALICE, MON, MON, PM)
    afternoon = request_of(fake_slack, ALICE)

    click(client, fake_slack, BOB, ids.REJECT_ACTION, afternoon)
    reason_form = fake_slack.last_call("views.open").params["view"]
    assert reason_form["callback_id"] == ids.REJECT_MODAL
    intro = reason_form["blocks"][0]["text"]["text"]
    assert f"{day_text(MON)} (afternoon)" in intro, intro
    values = {ids.REASON_BLOCK: {ids.REASON_ACTION: {"type": "plain_text_input", "value": "Release demo at 2pm"}}}
    response = post_interaction(client, view_submission_payload(user_id=BOB, view=reason_form, values=values,
                                                                view_id="V_REJECT_PM"))
    assert response.status_code == 200 and response.content == b"", response.content

    assert sorted((e.get("start_half") or e.get("end_half"), e["status"]) for e in ledger_entries(fake_slack)) == [
        ("am", "pending"), ("pm", "rejected")]
    [told] = [d for d in dms_to(fake_slack, ALICE) if "Release demo at 2pm" in d]
    assert f"{day_text(MON)} (afternoon)" in told, told


def test_the_consoles_waiting_list_names_the_half_and_half_a_day(client, fake_slack, hr, monkeypatch):
    install_config(config())
    warm(client, fake_slack, ALICE)
    send(client, fake_slack, ALICE, MON, MON, AM)
    _, response = whos_out(hr, monkeypatch, MON - timedelta(days=7))
    [row] = response.context["waiting"]
    assert (row.user, row.dates, row.days) == (ALICE, f"{short_day(MON)} (morning)", "0.5 days")  # seen in its year


def test_an_approver_off_only_in_the_afternoon_is_at_work_for_the_morning_nudge(client, fake_slack):
    """Bob alone approves for Engineering; he has Monday afternoon off (approved by HR). At the 10:00
    nudge he is at his desk: he is nudged about Alice's waiting request as on any day, and HR is not told
    that the request waits on nobody at work."""
    team_changes = {"approvers": replace(ENGINEERING.approvers, users=(BOB,), channel=None), "nudge_after_hours": 1}
    install_config(config(**team_changes))
    warm(client, fake_slack, ALICE, BOB)
    send(client, fake_slack, BOB, MON, MON, PM)
    response = click(client, fake_slack, HR, ids.APPROVE_ACTION, request_of(fake_slack, BOB))
    assert response.status_code == 200
    assert ledger_entries(fake_slack, BOB)[0]["status"] == "approved"
    send(client, fake_slack, ALICE, WED, THU)
    fake_slack.clear_calls()

    run_jobs(at(MON, 10, 30))

    [nudge] = [d for d in dms_to(fake_slack, BOB) if "waiting for a decision" in d]
    assert "everyone who may decide them is on leave today" not in nudge, nudge
    to_hr = [d for d in dms_to(fake_slack, HR) if "waiting for a decision" in d]
    assert to_hr == [], f"HR is told Bob is away while he is at work on Monday morning: {to_hr}"
