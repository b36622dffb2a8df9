"""The calendar's hard days, end to end through Slack.

Leave across New Year (Mon 28 Dec 2026 – Tue 5 Jan 2027) in a team keeping US (California) holidays and
one keeping British bank holidays, with a company day on New Year's Eve; 29 February typed and picked;
the reminder the working day before leave when that day lies across a weekend, a bank holiday and New
Year; the "out today" post and the weekly digest on the days the clocks change, at the team's
`digest_time` on the missing and on the repeated hour; and people in UTC+14 and UTC-11 asking for
"today" a few minutes either side of midnight UTC.

Everything goes through signed, Slack-shaped requests to our endpoints against the fake Slack, and the
daily jobs through `run_jobs --at`. Where a test needs an instant for "now" in a request, the app's clock
for "what day is it where" (the one `approvals.selectors` reads) is set to it, as the other flow tests do.
"""

import json
import re
import types
from dataclasses import replace
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from approvals import block_ids as ids
from approvals.config_types import ApproverSource, HolidayConfig, MemberSource, TeamConfig
from approvals.rules import LedgerEntry
from fake_slack.personas import ALICE, BOB, C_ENG, C_ENG_APPROVALS, C_GENERAL, DAVE, HR
from test_support.flows import (
    ENGINEERING,
    VACATION,
    click,
    install_config,
    metadata_payload,
    open_request_form,
    posted_requests,
    request_values,
    standard_config,
    submit_request,
)
from test_support.job_runs import post_entry, posts_in, run_jobs
from test_support.slack_requests import post_command

pytestmark = pytest.mark.django_db

UTC = timezone.utc
LA = ZoneInfo("America/Los_Angeles")
LONDON = ZoneInfo("Europe/London")

LENA = "U_LENA"  # works in London
C_LDN = "C_LDN"
C_LDN_APPROVALS = "C_LDN_APPROVALS"

NEW_YEAR_START = date(2026, 12, 28)  # a Monday: Boxing Day (observed) in Britain, a working day in California
NEW_YEAR_END = date(2027, 1, 5)  # a Tuesday
COMPANY_DAY = HolidayConfig(date=date(2026, 12, 31), name="Company day")

LONDON_TEAM = TeamConfig(name="London", members=MemberSource(users=(LENA,)), approvers=ApproverSource(users=(BOB,)),
                         approvals_channel=C_LDN_APPROVALS, announce_channel=C_LDN, holiday_country="GB",
                         holiday_subdivision="ENG", timezone="Europe/London")


@pytest.fixture(autouse=True)
def export_dir(settings, tmp_path):
    settings.LEDGER_EXPORT_DIR = tmp_path / "exports"
    return settings.LEDGER_EXPORT_DIR


# --- Set-up --------------------------------------------------------------------------------------------


def clock_at(monkeypatch, moment: datetime) -> None:
    """The instant the app takes for "now" when it works out what day it is in a time zone."""
    from approvals import selectors

    monkeypatch.setattr(selectors, "time", types.SimpleNamespace(time=lambda: moment.timestamp()))


def two_offices(fake_slack, *, allowance=Decimal(25)):
    """Engineering (California holidays, Los Angeles time) and London (English bank holidays), with the
    whole company off on New Year's Eve 2026."""
    fake_slack.workspace.add_user(LENA, "lena", tz="Europe/London", real_name="Lena Lewis")
    fake_slack.workspace.add_channel(C_LDN, "london", members=[LENA, BOB])
    fake_slack.workspace.add_channel(C_LDN_APPROVALS, "london-approvals", members=[BOB, HR], private=True)
    vacation = replace(VACATION, annual_allowance_days=allowance)
    config = standard_config(teams=(ENGINEERING, LONDON_TEAM), holidays=(COMPANY_DAY,))
    return install_config(replace(config, leave_types=(vacation,) + config.leave_types[1:]))


def send(client, fake_slack, user, start, end, leave_type="vacation", *, view_id="V_REQ1"):
    open_request_form(client, fake_slack, user)  # warms the person's team, time zone and ledger
    view = open_request_form(client, fake_slack, user)
    return submit_request(client, user, view, request_values(leave_type, start, end), view_id=view_id,
                          view_hash=f"h-{view_id}")


def errors_of(response) -> dict:
    if not response.content:
        return {}
    body = response.json()
    return body.get("errors", {}) if body.get("response_action") == "errors" else {}


def dms(fake_slack, user) -> list[str]:
    """The DMs to `user` that Slack took."""
    return [c.params["text"] for c in fake_slack.calls("chat.postMessage")
            if c.params.get("channel") == user and c.response.get("ok")]


def balance(client, fake_slack, user, text="balance") -> str:
    """`/timeoff balance`'s answer: asked twice, the first warming the cache; or the DM of a cold cache."""
    post_command(client, text, user_id=user)
    before = len(dms(fake_slack, user))
    response = post_command(client, text, user_id=user)
    assert response.status_code == 200, response.content
    answer = response.json()["text"]
    if answer.startswith("Checking your balance"):
        answer = dms(fake_slack, user)[before:][-1]
    return answer


def vacation_line(answer: str, year: int) -> str:
    part = answer.split(f"*Your leave in {year}*", 1)
    assert len(part) == 2, answer
    for line in part[1].split("\n")[1:]:
        if line.startswith("*Your leave in"):
            break
        if "Vacation:" in line:
            return line.strip()
    raise AssertionError(f"no Vacation line for {year} in {answer}")


def after_lines(blocks) -> list[str]:
    return re.findall(r"After this request: [^\"\\]*? in \d{4}", json.dumps(blocks))


# === Leave across New Year with public holidays and a company day =============================================


def approved(client, fake_slack, user, start, end, channel, *, view_id):
    """`user` sends the request through the form and Bob approves it on its message."""
    response = send(client, fake_slack, user, start, end, view_id=view_id)
    assert errors_of(response) == {}, response.content
    post = posted_requests(fake_slack, channel)[-1]
    click(client, fake_slack, BOB, ids.APPROVE_ACTION, post)
    return post


def test_leave_across_new_year_counts_each_offices_holidays_and_the_company_day_in_its_own_year(
        client, fake_slack, monkeypatch):
    """California works on Mon 28 Dec and is off on New Year's Day; England is off on Mon 28 Dec (Boxing
    Day observed) and New Year's Day; everyone is off on the company day, Thu 31 Dec. The same dates are
    5 working days for Alice (3 in 2026, 2 in 2027) and 4 for Lena (2 and 2)."""
    two_offices(fake_slack)
    clock_at(monkeypatch, datetime(2026, 12, 10, 10, 0, tzinfo=LA))

    assert send(client, fake_slack, ALICE, NEW_YEAR_START, NEW_YEAR_END).content == b""
    assert send(client, fake_slack, LENA, NEW_YEAR_START, NEW_YEAR_END, view_id="V_REQ2").content == b""

    [alices] = posted_requests(fake_slack, C_ENG_APPROVALS)
    [lenas] = posted_requests(fake_slack, C_LDN_APPROVALS)
    assert "Vacation, Mon 28 Dec 2026 – Tue 5 Jan 2027 (5 working days)" in alices.params["text"]
    assert "Vacation, Mon 28 Dec 2026 – Tue 5 Jan 2027 (4 working days)" in lenas.params["text"]
    assert (metadata_payload(alices)["days"], metadata_payload(lenas)["days"]) == (5, 4)
    assert after_lines(alices.params["blocks"]) == [
        "After this request: 22 of 25 days of Vacation left in 2026",
        "After this request: 23 of 25 days of Vacation left in 2027"]
    assert after_lines(lenas.params["blocks"]) == [
        "After this request: 23 of 25 days of Vacation left in 2026",
        "After this request: 23 of 25 days of Vacation left in 2027"]
    # Each receipt DM says the days her own office counts, and who decides.
    [alice_receipt] = dms(fake_slack, ALICE)
    [lena_receipt] = dms(fake_slack, LENA)
    assert "Mon 28 Dec 2026 – Tue 5 Jan 2027 (5 working days)" in alice_receipt, alice_receipt
    assert "Mon 28 Dec 2026 – Tue 5 Jan 2027 (4 working days)" in lena_receipt, lena_receipt
    assert "(London)" in lena_receipt and "<@U_BOB>" in lena_receipt, lena_receipt


def test_balance_in_late_december_shows_both_years_and_in_january_only_the_new_one(client, fake_slack, monkeypatch):
    two_offices(fake_slack)
    clock_at(monkeypatch, datetime(2026, 12, 10, 10, 0, tzinfo=LA))
    approved(client, fake_slack, ALICE, NEW_YEAR_START, NEW_YEAR_END, C_ENG_APPROVALS, view_id="V_A")
    approved(client, fake_slack, LENA, NEW_YEAR_START, NEW_YEAR_END, C_LDN_APPROVALS, view_id="V_L")

    clock_at(monkeypatch, datetime(2026, 12, 30, 9, 0, tzinfo=LA))
    december = balance(client, fake_slack, ALICE)
    assert december.index("*Your leave in 2026*") < december.index("*Your leave in 2027*"), december
    assert vacation_line(december, 2026) == "• :palm_tree: Vacation: *22 days left* — allowance 25, taken 3, pending 0"
    assert vacation_line(december, 2027) == "• :palm_tree: Vacation: *23 days left* — allowance 25, taken 2, pending 0"

    # Half past midnight on New Year's Day in London is still New Year's Eve afternoon in Los Angeles:
    # Lena's year has turned, Alice's has not.
    clock_at(monkeypatch, datetime(2027, 1, 1, 0, 30, tzinfo=LONDON))
    lena = balance(client, fake_slack, LENA)
    assert "2026" not in lena, lena
    assert vacation_line(lena, 2027) == "• :palm_tree: Vacation: *23 days left* — allowance 25, taken 2, pending 0"
    assert "*Your leave in 2026*" in balance(client, fake_slack, ALICE)

    clock_at(monkeypatch, datetime(2027, 1, 4, 9, 0, tzinfo=LA))
    january = balance(client, fake_slack, ALICE)
    assert "2026" not in january, january
    assert vacation_line(january, 2027) == "• :palm_tree: Vacation: *23 days left* — allowance 25, taken 2, pending 0"
    # Last year's days are still there when asked for.
    assert vacation_line(balance(client, fake_slack, ALICE, "balance 2026"), 2026) == (
        "• :palm_tree: Vacation: *22 days left* — allowance 25, taken 3, pending 0")


def test_each_year_of_leave_across_new_year_is_held_to_that_years_allowance_only(client, fake_slack, monkeypatch):
    """With 3 days a year, Alice's 5 working days across New Year fit: 3 are 2026's, 2 are 2027's. What is
    left afterwards is each year's own: one day in 2027, none in 2026."""
    two_offices(fake_slack, allowance=Decimal(3))
    clock_at(monkeypatch, datetime(2026, 12, 10, 10, 0, tzinfo=LA))

    assert errors_of(send(client, fake_slack, ALICE, NEW_YEAR_START, NEW_YEAR_END)) == {}
    [post] = posted_requests(fake_slack, C_ENG_APPROVALS)
    assert after_lines(post.params["blocks"]) == [
        "After this request: 0 of 3 days of Vacation left in 2026",
        "After this request: 1 of 3 days of Vacation left in 2027"]

    january = send(client, fake_slack, ALICE, date(2027, 1, 6), date(2027, 1, 7), view_id="V_JAN")
    assert list(errors_of(january).values()) == [
        "You have 1 day of Vacation left in 2027; this request needs 2"], january.content
    december = send(client, fake_slack, ALICE, date(2026, 12, 22), date(2026, 12, 22), view_id="V_DEC")
    assert "left in 2026; this request needs 1" in " ".join(errors_of(december).values()), december.content
    one_day = send(client, fake_slack, ALICE, date(2027, 1, 6), date(2027, 1, 6), view_id="V_ONE")
    assert errors_of(one_day) == {}, one_day.content
    assert len(posted_requests(fake_slack, C_ENG_APPROVALS)) == 2


# === The reminder the working day before, across Christmas, a weekend and New Year ============================


def reminders(fake_slack, user) -> list[str]:
    return [text for text in dms(fake_slack, user) if "A reminder" in text]


def sweep(start: datetime, end: datetime, step: timedelta, *args: str) -> list[tuple[datetime, str]]:
    """`run_jobs --at` every `step` from `start` to `end`, as cron would; (instant, what it printed)."""
    runs, moment = [], start
    while moment <= end:
        runs.append((moment, run_jobs(moment, *args)))
        moment += step
    return runs


def when_ran(runs, needle: str, zone) -> list[datetime]:
    return [moment.astimezone(zone).replace(tzinfo=None) for moment, out in runs if needle in out]


def test_leave_approved_in_slack_across_new_year_is_reminded_once_on_christmas_eve_in_both_offices(
        client, fake_slack, monkeypatch):
    """Alice's first day off is Mon 28 Dec (Christmas Day, Friday, is California's last day off before
    it); Lena's is Tue 29 Dec (Boxing Day observed on Monday). Both are reminded on Thursday 24 December at
    three o'clock, their team's time, and on no other day of the holidays."""
    two_offices(fake_slack)
    clock_at(monkeypatch, datetime(2026, 12, 10, 10, 0, tzinfo=LA))
    approved(client, fake_slack, ALICE, NEW_YEAR_START, NEW_YEAR_END, C_ENG_APPROVALS, view_id="V_A")
    approved(client, fake_slack, LENA, NEW_YEAR_START, NEW_YEAR_END, C_LDN_APPROVALS, view_id="V_L")

    london = sweep(datetime(2026, 12, 23, 12, 0, tzinfo=LONDON), datetime(2026, 12, 29, 18, 0, tzinfo=LONDON),
                   timedelta(hours=1), "--team", "London")
    la = sweep(datetime(2026, 12, 23, 12, 0, tzinfo=LA), datetime(2026, 12, 29, 18, 0, tzinfo=LA),
               timedelta(hours=1), "--team", "Engineering")

    assert when_ran(london, "reminders London", LONDON) == [
        datetime(2026, 12, 23, 15, 0), datetime(2026, 12, 24, 15, 0), datetime(2026, 12, 29, 15, 0)]
    assert when_ran(la, "reminders Engineering", LA) == [
        datetime(2026, 12, 23, 15, 0), datetime(2026, 12, 24, 15, 0), datetime(2026, 12, 28, 15, 0),
        datetime(2026, 12, 29, 15, 0)]
    [for_lena] = reminders(fake_slack, LENA)
    [for_alice] = reminders(fake_slack, ALICE)
    assert "starts on Tue 29 Dec" in for_lena and "Tue 5 Jan 2027" in for_lena and "4 days" in for_lena, for_lena
    assert "starts on Mon 28 Dec" in for_alice and "Tue 5 Jan 2027" in for_alice and "5 days" in for_alice, for_alice


def lena_leave(start, end, days, entry_id) -> LedgerEntry:
    return LedgerEntry(id=entry_id, user=LENA, team="London", leave_type="vacation", start=start, end=end,
                       start_half=None, end_half=None, days=Decimal(days), status="approved", decided_by=BOB)


def test_leave_starting_on_the_first_working_day_of_the_year_is_reminded_before_the_company_day(fake_slack):
    """Mon 4 Jan 2027 in London: New Year's Day is a Friday, the company day Thursday 31 December, then the
    weekend. The reminder comes on Wednesday 30 December and names the date with its year."""
    two_offices(fake_slack)
    post_entry(fake_slack, lena_leave(date(2027, 1, 4), date(2027, 1, 8), 5, "lena-jan"), channel=C_LDN_APPROVALS)

    runs = sweep(datetime(2026, 12, 29, 12, 0, tzinfo=LONDON), datetime(2027, 1, 4, 18, 0, tzinfo=LONDON),
                 timedelta(hours=1), "--team", "London")

    assert when_ran(runs, "reminders London", LONDON) == [
        datetime(2026, 12, 29, 15, 0), datetime(2026, 12, 30, 15, 0), datetime(2027, 1, 4, 15, 0)]
    [reminder] = reminders(fake_slack, LENA)
    assert "starts on Mon 4 Jan 2027" in reminder, reminder


def test_leave_starting_on_new_years_day_is_reminded_for_its_first_working_day_after_the_weekend(fake_slack):
    """Leave booked from Fri 1 Jan 2027 (a holiday) to Wed 6 Jan: its first working day is Monday 4th, so it
    is reminded on Wed 30 December (the 31st is the company day) and says Monday, not Friday."""
    two_offices(fake_slack)
    post_entry(fake_slack, lena_leave(date(2027, 1, 1), date(2027, 1, 6), 3, "lena-nyd"), channel=C_LDN_APPROVALS)

    assert "0 reminder(s)" in run_jobs(datetime(2026, 12, 29, 15, 0, tzinfo=LONDON), "--team", "London")
    assert "1 reminder(s)" in run_jobs(datetime(2026, 12, 30, 15, 0, tzinfo=LONDON), "--team", "London")
    for day in (31, 1, 2, 3):
        moment = datetime(2026 if day == 31 else 2027, 12 if day == 31 else 1, day, 15, 0, tzinfo=LONDON)
        assert "reminders" not in run_jobs(moment, "--team", "London")
    [reminder] = reminders(fake_slack, LENA)
    assert "starts on Mon 4 Jan 2027" in reminder, reminder


# === 29 February =================================================================================================


def pickers(view) -> dict:
    return {b["block_id"]: b["element"].get("initial_date") for b in view["blocks"] if b.get("type") == "input"}


def typed(client, fake_slack, monkeypatch, text, moment, user=ALICE):
    """`/timeoff text` at `moment`, after the person's time zone is known (her "today" is hers)."""
    install_config()
    open_request_form(client, fake_slack, user)
    clock_at(monkeypatch, moment)
    opened = len(fake_slack.calls("views.open"))
    response = post_command(client, text, user_id=user)
    assert response.status_code == 200, response.content
    if len(fake_slack.calls("views.open")) > opened:
        return fake_slack.last_call("views.open").params["view"]
    return response.json()["text"]


@pytest.mark.parametrize("moment", [
    datetime(2026, 12, 20, 10, 0, tzinfo=LA),  # next February is 2027's
    datetime(2027, 1, 10, 10, 0, tzinfo=LA),  # this February (2027) has 28 days
    datetime(2027, 2, 15, 10, 0, tzinfo=LA),  # in February 2027 itself
    datetime(2028, 4, 15, 10, 0, tzinfo=LA),  # 2028's leap day is six weeks back, the next in 2032
], ids=["december-2026", "january-2027", "february-2027", "april-2028"])
def test_feb_29_typed_in_a_year_without_one_asks_for_the_year(client, fake_slack, monkeypatch, moment):
    answer = typed(client, fake_slack, monkeypatch, "feb 29", moment)
    answer = answer if isinstance(answer, dict) else answer.split("\n")[0]
    assert answer == "Give the year with `feb 29`: 29 February is only in leap years.", (
        f"/timeoff feb 29 typed on {moment.date()} opened the form on {pickers(answer) if isinstance(answer, dict) else answer}")


@pytest.mark.parametrize("moment", [
    datetime(2027, 12, 20, 10, 0, tzinfo=LA),
    datetime(2028, 2, 3, 10, 0, tzinfo=LA),
], ids=["december-2027", "february-2028"])
def test_feb_29_typed_ahead_of_a_leap_february_opens_the_form_on_it(client, fake_slack, monkeypatch, moment):
    view = typed(client, fake_slack, monkeypatch, "feb 29", moment)
    assert isinstance(view, dict), view
    assert (pickers(view)[ids.START_BLOCK], pickers(view)[ids.END_BLOCK]) == ("2028-02-29", "2028-02-29")


def test_29_feb_2028_with_its_year_opens_the_form_on_the_leap_day(client, fake_slack, monkeypatch):
    view = typed(client, fake_slack, monkeypatch, "29 Feb 2028 vacation", datetime(2027, 1, 10, 10, 0, tzinfo=LA))
    assert isinstance(view, dict), view
    assert (pickers(view)[ids.START_BLOCK], pickers(view)[ids.END_BLOCK]) == ("2028-02-29", "2028-02-29")


def test_a_leap_day_of_a_year_without_one_is_no_date(client, fake_slack, monkeypatch):
    answer = typed(client, fake_slack, monkeypatch, "2027-02-29", datetime(2027, 1, 10, 10, 0, tzinfo=LA))
    assert isinstance(answer, str), pickers(answer)
    assert answer.split("\n")[0] == "There is no such date as `2027-02-29`.", answer
    assert posted_requests(fake_slack) == []


def test_leave_starting_and_leave_ending_on_29_february_count_it_as_a_working_day_of_2028(
        client, fake_slack, monkeypatch):
    install_config()
    clock_at(monkeypatch, datetime(2027, 1, 10, 10, 0, tzinfo=LA))

    alice = send(client, fake_slack, ALICE, date(2028, 2, 29), date(2028, 3, 3))
    dave = send(client, fake_slack, DAVE, date(2028, 2, 24), date(2028, 2, 29), view_id="V_DAVE")
    one_day = send(client, fake_slack, ALICE, date(2028, 2, 28), date(2028, 2, 28), view_id="V_MON")

    assert (errors_of(alice), errors_of(dave), errors_of(one_day)) == ({}, {}, {})
    posts = {metadata_payload(p)["start"]: p for p in posted_requests(fake_slack)}
    assert set(posts) == {"2028-02-29", "2028-02-24", "2028-02-28"}
    assert "Vacation, Tue 29 Feb 2028 – Fri 3 Mar 2028 (4 working days)" in posts["2028-02-29"].params["text"]
    assert "Vacation, Thu 24 Feb 2028 – Tue 29 Feb 2028 (4 working days)" in posts["2028-02-24"].params["text"]
    assert metadata_payload(posts["2028-02-29"])["end"] == "2028-03-03"
    assert metadata_payload(posts["2028-02-24"])["end"] == "2028-02-29"
    assert after_lines(posts["2028-02-28"].params["blocks"]) == [
        "After this request: 20 of 25 days of Vacation left in 2028"]
    # Dave's leave ending on the leap day shows to Alice's approvers as "out then".
    assert "<@U_DAVE>" in json.dumps(posts["2028-02-28"].params["blocks"])


def test_leave_overlapping_on_the_leap_day_alone_is_refused_naming_the_leave_it_meets(client, fake_slack, monkeypatch):
    install_config()
    clock_at(monkeypatch, datetime(2027, 1, 10, 10, 0, tzinfo=LA))
    assert errors_of(send(client, fake_slack, ALICE, date(2028, 2, 24), date(2028, 2, 29))) == {}

    response = send(client, fake_slack, ALICE, date(2028, 2, 29), date(2028, 3, 2), view_id="V_2")

    message = " ".join(errors_of(response).values())
    assert message == "This overlaps your pending leave on Thu 24 Feb 2028 – Tue 29 Feb 2028", response.content
    assert len(posted_requests(fake_slack)) == 1


# === The out-today post and the weekly digest on the days the clocks change ===================================


def every_day_team(name, zone, digest, announce) -> TeamConfig:
    return TeamConfig(name=name, members=MemberSource(users=(ALICE, DAVE)), approvers=ApproverSource(users=(BOB,)),
                      approvals_channel=C_ENG_APPROVALS, announce_channel=announce, timezone=zone,
                      workweek=(0, 1, 2, 3, 4, 5, 6), digest_time=digest)


def dave_out(team_name, day) -> LedgerEntry:
    return LedgerEntry(id=f"dave-{team_name}-{day}", user=DAVE, team=team_name, leave_type="vacation", start=day,
                       end=day, start_half=None, end_half=None, days=Decimal(1), status="approved", decided_by=BOB)


# (zone, the Sunday its clocks change, the team's digest_time in the missing or repeated hour,
#  the instant (UTC) the post is due: the first instant whose wall clock reads that time or later).
CLOCK_CHANGES = [
    # Spring forward: 02:00 → 03:00. 02:30 never happens; the post goes at 03:00 EDT.
    ("America/New_York", date(2027, 3, 14), time(2, 30), datetime(2027, 3, 14, 7, 0, tzinfo=UTC)),
    # Fall back: 01:00–02:00 happens twice. The post goes at the first 01:30 (EDT), not the second (EST).
    ("America/New_York", date(2027, 11, 7), time(1, 30), datetime(2027, 11, 7, 5, 30, tzinfo=UTC)),
    # London springs forward 01:00 → 02:00: 01:30 never happens; the post goes at 02:00 BST.
    ("Europe/London", date(2027, 3, 28), time(1, 30), datetime(2027, 3, 28, 1, 0, tzinfo=UTC)),
    # London falls back 02:00 BST → 01:00 GMT: the first 01:30 is BST.
    ("Europe/London", date(2027, 10, 31), time(1, 30), datetime(2027, 10, 31, 0, 30, tzinfo=UTC)),
    # Sydney falls back on the first Sunday of April, 03:00 AEDT → 02:00 AEST: the first 02:30 is AEDT.
    ("Australia/Sydney", date(2027, 4, 4), time(2, 30), datetime(2027, 4, 3, 15, 30, tzinfo=UTC)),
    # Sydney springs forward on the first Sunday of October, 02:00 → 03:00: the post goes at 03:00 AEDT.
    ("Australia/Sydney", date(2027, 10, 3), time(2, 30), datetime(2027, 10, 2, 16, 0, tzinfo=UTC)),
]


@pytest.mark.parametrize("zone, day, odd_time, due_at", CLOCK_CHANGES,
                         ids=[f"{z.split('/')[1]}-{d}" for z, d, _, _ in CLOCK_CHANGES])
def test_on_the_day_the_clocks_change_each_post_goes_out_once_at_its_local_time(fake_slack, zone, day, odd_time,
                                                                               due_at):
    """Two seven-day teams in one zone: one posting in the hour the clocks skip or repeat, one at 09:00.
    Cron runs `run_jobs` every five minutes from the local midnight to eleven: each team posts exactly once,
    the odd hour's at the first instant its time has come, the other at 09:00 local."""
    local_zone = ZoneInfo(zone)
    night = every_day_team("Night", zone, odd_time, C_ENG)
    morning = every_day_team("Morning", zone, time(9, 0), C_GENERAL)
    install_config(standard_config(teams=(night, morning)))
    post_entry(fake_slack, dave_out("Night", day))
    post_entry(fake_slack, dave_out("Morning", day))

    start = datetime(day.year, day.month, day.day, 0, 0, tzinfo=local_zone).astimezone(UTC)
    end = datetime(day.year, day.month, day.day, 11, 0, tzinfo=local_zone).astimezone(UTC)
    runs = sweep(start, end, timedelta(minutes=5))

    night_runs = [moment for moment, out in runs if "Night" in out and ("out_today" in out or "weekly" in out)]
    morning_runs = [moment for moment, out in runs if "Morning" in out and ("out_today" in out or "weekly" in out)]
    assert night_runs == [due_at], [m.astimezone(local_zone).isoformat() for m in night_runs]
    assert [m.astimezone(local_zone).replace(tzinfo=None) for m in morning_runs] == [
        datetime(day.year, day.month, day.day, 9, 0)]
    written = f"{day:%a} {day.day} {day:%b}"
    for channel in (C_ENG, C_GENERAL):
        [post] = posts_in(fake_slack, channel)
        assert f"Out today, {written}" in post["blocks"][0]["text"]["text"], post
        assert "<@U_DAVE>" in json.dumps(post["blocks"])


def test_a_monday_to_friday_team_in_london_digests_monday_after_the_spring_change_at_nine_not_eight(fake_slack):
    """The Monday after London's clocks went forward (29 March 2027, Easter Monday in England: the digest
    moves to Tuesday 30th) goes out at 09:00 BST, 08:00 UTC, not at 09:00 UTC."""
    team = replace(LONDON_TEAM, digest_time=time(9, 0), announce_channel=C_GENERAL, members=MemberSource(users=(DAVE,)),
                   approvals_channel=C_ENG_APPROVALS)
    install_config(standard_config(teams=(team,)))
    post_entry(fake_slack, dave_out("London", date(2027, 3, 30)))

    runs = sweep(datetime(2027, 3, 29, 0, 0, tzinfo=UTC), datetime(2027, 3, 30, 12, 0, tzinfo=UTC),
                 timedelta(minutes=15), "--team", "London")

    posted = [moment for moment, out in runs if "weekly_digest London" in out or "out_today London" in out]
    assert posted == [datetime(2027, 3, 30, 8, 0, tzinfo=UTC)], posted
    [digest] = posts_in(fake_slack, C_GENERAL)
    assert "Who's out, Tue 30 Mar – Tue 6 Apr" in digest["blocks"][0]["text"]["text"], digest


# === "Today" near midnight UTC in UTC+14 and UTC-11 =============================================================


KIRITIMATI = "Pacific/Kiritimati"
PAGO_PAGO = "Pacific/Pago_Pago"
# A team that keeps UTC and has no public holidays: its day is the one that ends at midnight UTC.
UTC_TEAM = replace(ENGINEERING, timezone="UTC", holiday_country=None, holiday_subdivision=None)
BEFORE_MIDNIGHT = datetime(2026, 12, 31, 23, 50, tzinfo=UTC)  # 1 Jan 13:50 in Kiritimati, 31 Dec 12:50 in Pago Pago
AFTER_MIDNIGHT = datetime(2027, 1, 1, 0, 10, tzinfo=UTC)  # 1 Jan 14:10 in Kiritimati, 31 Dec 13:10 in Pago Pago


def lives_in(fake_slack, user, zone) -> None:
    with fake_slack.workspace.lock:
        fake_slack.workspace.users[user].tz = zone
        fake_slack.workspace.users[user].tz_offset = None


def far_away(fake_slack, monkeypatch, moment):
    lives_in(fake_slack, ALICE, KIRITIMATI)
    lives_in(fake_slack, DAVE, PAGO_PAGO)
    install_config(standard_config(teams=(UTC_TEAM,)))
    clock_at(monkeypatch, moment)


def test_ten_minutes_before_midnight_utc_kiritimatis_today_is_already_new_years_day(client, fake_slack, monkeypatch):
    far_away(fake_slack, monkeypatch, BEFORE_MIDNIGHT)
    open_request_form(client, fake_slack, ALICE)  # her time zone is known from here on

    view = open_request_form(client, fake_slack, ALICE, "today")
    assert pickers(view)[ids.START_BLOCK] == "2027-01-01", pickers(view)

    yesterday = send(client, fake_slack, ALICE, date(2026, 12, 31), date(2026, 12, 31))
    assert "can't start in the past" in errors_of(yesterday).get(ids.START_BLOCK, ""), yesterday.content
    today = send(client, fake_slack, ALICE, date(2027, 1, 1), date(2027, 1, 1), view_id="V_TODAY")
    assert errors_of(today) == {}, today.content
    [post] = posted_requests(fake_slack)
    assert metadata_payload(post)["start"] == "2027-01-01"


def test_ten_minutes_after_midnight_utc_pago_pagos_today_is_still_new_years_eve(client, fake_slack, monkeypatch):
    far_away(fake_slack, monkeypatch, AFTER_MIDNIGHT)
    open_request_form(client, fake_slack, DAVE)

    view = open_request_form(client, fake_slack, DAVE, "today")
    assert pickers(view)[ids.START_BLOCK] == "2026-12-31", pickers(view)

    response = send(client, fake_slack, DAVE, date(2026, 12, 31), date(2026, 12, 31))
    assert errors_of(response) == {}, response.content
    [post] = posted_requests(fake_slack)
    assert metadata_payload(post)["start"] == "2026-12-31"
    # The day is 2026's: that year's allowance pays for it.
    assert after_lines(post.params["blocks"]) == ["After this request: 24 of 25 days of Vacation left in 2026"]
    [receipt] = dms(fake_slack, DAVE)
    assert "Thu 31 Dec" in receipt, receipt


def test_at_the_same_instant_sick_leave_three_days_back_is_counted_from_each_persons_own_day(
        client, fake_slack, monkeypatch):
    """Ten past midnight UTC on New Year's Day: for Alice (Kiritimati) it is Friday 1 January, so Monday 28
    December is four days back; for Dave (Pago Pago) it is Thursday 31 December, so it is three."""
    far_away(fake_slack, monkeypatch, AFTER_MIDNIGHT)

    alices = send(client, fake_slack, ALICE, date(2026, 12, 28), date(2026, 12, 28), "sick")
    daves = send(client, fake_slack, DAVE, date(2026, 12, 28), date(2026, 12, 28), "sick", view_id="V_DAVE")
    alices_29th = send(client, fake_slack, ALICE, date(2026, 12, 29), date(2026, 12, 29), "sick", view_id="V_A29")

    assert "at most 3 days in the past" in errors_of(alices).get(ids.START_BLOCK, ""), alices.content
    assert errors_of(daves) == {}, daves.content
    assert errors_of(alices_29th) == {}, alices_29th.content
    recorded = sorted((metadata_payload(p)["user"], metadata_payload(p)["start"]) for p in posted_requests(fake_slack))
    assert recorded == [(ALICE, "2026-12-29"), (DAVE, "2026-12-28")]
