"""The daily jobs in far time zones (+14, -11, +5:45), across DST changes, over the year end, at Slack's
limits (70 people out, 200 requests to nudge, 100 of one's own entries, 30 leave types), and when HR
changes a team's week under its digest: each job once per team and period, nothing Slack refuses, the
rest counted."""

import random
import re
from dataclasses import replace
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core.management import CommandError

from approvals import jobs
from approvals.config_types import ApproverSource, HolidayConfig, LeaveTypeConfig, MemberSource, TeamConfig
from approvals.models import JobRun
from approvals.rules import LedgerEntry
from fake_slack.personas import C_ENG, C_ENG_APPROVALS, C_GENERAL, C_NOBOT, C_OLD_APPROVALS
from fake_slack.server import MAX_BLOCKS_TEXT, MAX_MESSAGE_BLOCKS, MAX_TEXT, blocks_text_length
from test_support.flows import (ALICE, BOB, DAVE, ENGINEERING, MEDICAL, SICK, VACATION, install_config,
                                open_app_home, standard_config)
from test_support.slack_requests import post_command
from test_support.job_runs import post_entry, posts_in, run_jobs

pytestmark = pytest.mark.django_db

UTC = timezone.utc


@pytest.fixture(autouse=True)
def export_dir(settings, tmp_path):
    settings.LEDGER_EXPORT_DIR = tmp_path / "exports"
    return settings.LEDGER_EXPORT_DIR


def entry(user=ALICE, start=date(2031, 3, 10), end=date(2031, 3, 12), status="approved", leave_type="vacation",
          team="Engineering", **changes) -> LedgerEntry:
    values = dict(id=f"{user}-{start}-{leave_type}-{status}-{team}"[:60], user=user, team=team,
                  leave_type=leave_type, start=start, end=end, start_half=None, end_half=None, days=Decimal(3),
                  status=status, decided_by=BOB if status != "pending" else None)
    return LedgerEntry(**{**values, **changes})


def refused(fake_slack) -> list:
    return [(call.method, call.response.get("error")) for call in fake_slack.calls()
            if call.response is not None and not call.response.get("ok", True)]


def team(name, zone, *, workweek=(0, 1, 2, 3, 4), announce=C_ENG, digest=time(9, 0), **changes) -> TeamConfig:
    return TeamConfig(name=name, members=MemberSource(users=(ALICE,)), approvers=ApproverSource(users=(BOB,)),
                      approvals_channel=C_ENG_APPROVALS, announce_channel=announce, timezone=zone,
                      workweek=workweek, digest_time=digest, **changes)


def sweep(start: datetime, end: datetime, step: timedelta, *args: str) -> list[str]:
    outs = []
    moment = start
    while moment <= end:
        outs.append(run_jobs(moment, *args))
        moment += step
    return outs


# --- DST ------------------------------------------------------------------------------------


@pytest.mark.parametrize("zone,day", [("America/New_York", date(2031, 3, 9)), ("Europe/Berlin", date(2031, 3, 30))])
def test_spring_forward_digest_at_0230_runs_once(fake_slack, zone, day):
    # Sunday: a Sunday-Thursday team's weekly digest day; an every-day team's out-today day.
    sun_thu = team("SunThu", zone, workweek=(6, 0, 1, 2, 3), announce=C_ENG, digest=time(2, 30))
    every = team("Every", zone, workweek=(0, 1, 2, 3, 4, 5, 6), announce=C_GENERAL, digest=time(2, 30))
    install_config(standard_config(teams=(sun_thu, every)))
    post_entry(fake_slack, entry(user=DAVE, team="Every", start=day, end=day))
    local = ZoneInfo(zone)
    start = datetime(day.year, day.month, day.day, 0, 0, tzinfo=local).astimezone(UTC)
    sweep(start, start + timedelta(hours=6), timedelta(minutes=15))
    assert len(posts_in(fake_slack, C_ENG)) == 1
    assert len(posts_in(fake_slack, C_GENERAL)) == 1
    assert refused(fake_slack) == []


@pytest.mark.parametrize("zone,day", [("America/New_York", date(2031, 11, 2)), ("Europe/Berlin", date(2031, 10, 26))])
def test_fall_back_digest_at_0130_runs_once(fake_slack, zone, day):
    sun_thu = team("SunThu", zone, workweek=(6, 0, 1, 2, 3), announce=C_ENG, digest=time(1, 30))
    every = team("Every", zone, workweek=(0, 1, 2, 3, 4, 5, 6), announce=C_GENERAL, digest=time(1, 30))
    install_config(standard_config(teams=(sun_thu, every)))
    post_entry(fake_slack, entry(user=DAVE, team="Every", start=day, end=day))
    local = ZoneInfo(zone)
    start = datetime(day.year, day.month, day.day, 0, 0, tzinfo=local).astimezone(UTC)
    sweep(start, start + timedelta(hours=6), timedelta(minutes=15))
    assert len(posts_in(fake_slack, C_ENG)) == 1
    assert len(posts_in(fake_slack, C_GENERAL)) == 1


# --- Far time zones ------------------------------------------------------------------------


def test_far_zones_each_team_posts_once_per_local_day(fake_slack):
    kiri = team("Kiri", "Pacific/Kiritimati", announce=C_ENG)
    pago = team("Pago", "Pacific/Pago_Pago", announce=C_GENERAL)
    ktm = team("Ktm", "Asia/Kathmandu", announce=C_OLD_APPROVALS)
    install_config(standard_config(teams=(kiri, pago, ktm)))
    for name in ("Kiri", "Pago", "Ktm"):
        post_entry(fake_slack, entry(team=name, start=date(2031, 3, 8), end=date(2031, 3, 16)))
    outs = sweep(datetime(2031, 3, 8, 0, 0, tzinfo=UTC), datetime(2031, 3, 15, 12, 0, tzinfo=UTC), timedelta(hours=1))
    assert not [o for o in outs if "failed" in o]
    expected_days = ["Mon 10 Mar", "Tue 11 Mar", "Wed 12 Mar", "Thu 13 Mar", "Fri 14 Mar"]
    for channel in (C_ENG, C_GENERAL, C_OLD_APPROVALS):
        titles = [p["blocks"][0]["text"]["text"] for p in posts_in(fake_slack, channel)]
        assert len(titles) == 5, (channel, titles)
        assert all(day in title for day, title in zip(expected_days, titles)), (channel, titles)
    assert refused(fake_slack) == []


# --- Scale and Slack's limits ---------------------------------------------------------------

HEAVY_NAME = "&" * 100  # every character escapes to 5
HEAVY_TYPE = LeaveTypeConfig(code="heavy", name=HEAVY_NAME, emoji=":" + "e" * 48 + ":", requires_approval=True,
                             allow_half_days=True)
HEAVY_TEAM = "&" * 100


def heavy_config(**team_changes):
    eng = replace(ENGINEERING, name=HEAVY_TEAM, digest_time=time(9, 0), nudge_after_hours=48, **team_changes)
    return standard_config(teams=(eng,), leave_types=(VACATION, SICK, MEDICAL, HEAVY_TYPE),
                           # The most names one day can have: a company day for every team and one for this team.
                           holidays=(HolidayConfig(date=date(2031, 3, 14), name=f"{HEAVY_NAME[:-2]}01"),
                                     HolidayConfig(date=date(2031, 3, 14), name=f"{HEAVY_NAME[:-2]}02",
                                                   team=HEAVY_TEAM)))


def shown_and_more(blocks) -> tuple[int, int]:
    text = "\n".join(b["text"]["text"] for b in blocks if b["type"] == "section")
    shown = text.count("• <@")
    more = re.search(r"…and (\d+) more", text)
    return shown, int(more.group(1)) if more else 0


def check_message(params):
    blocks = params["blocks"]
    assert len(blocks) <= MAX_MESSAGE_BLOCKS
    assert all(len(b["text"]["text"]) <= 3000 for b in blocks if b["type"] == "section")
    assert blocks_text_length(blocks) <= MAX_BLOCKS_TEXT
    assert len(params["text"]) <= MAX_TEXT


@pytest.mark.parametrize("day,what", [(date(2031, 3, 11), "out today"), (date(2031, 3, 10), "weekly")])
def test_seventy_out_with_heavy_names_post_within_limits_and_count_the_rest(fake_slack, day, what):
    install_config(heavy_config())
    people = [f"U{n:010d}" for n in range(70)]
    for person in people:
        post_entry(fake_slack, entry(user=person, team=HEAVY_TEAM, leave_type="heavy", start=date(2031, 3, 10),
                                     end=date(2031, 3, 13), end_half="am"))
    out = run_jobs(datetime(day.year, day.month, day.day, 9, 5, tzinfo=ZoneInfo("America/Los_Angeles")))
    assert "failed" not in out, out
    [post] = posts_in(fake_slack, C_ENG)
    check_message(post)
    shown, more = shown_and_more(post["blocks"])
    assert shown + more == 70 and shown > 0
    assert refused(fake_slack) == []


def test_nudge_for_two_hundred_pending_with_heavy_names(fake_slack):
    install_config(heavy_config())
    now = datetime(2031, 3, 11, 10, 0, tzinfo=ZoneInfo("America/Los_Angeles"))
    for n in range(200):
        post_entry(fake_slack, entry(user=f"U{n:010d}", team=HEAVY_TEAM, leave_type="heavy", status="pending",
                                     start=date(2031, 3, 17), end=date(2032, 1, 2), start_half="pm", end_half="am",
                                     id=f"req-{n:04d}"),
                   ts=f"{now.timestamp() - 9000 * 3600 + n:.6f}")
    out = run_jobs(now)
    assert "failed" not in out, out
    nudges = [c.params["text"] for c in fake_slack.calls("chat.postMessage")
              if c.params.get("channel") == BOB and "waiting" in c.params.get("text", "")]
    assert len(nudges) == 1, out
    assert len(nudges[0]) <= MAX_TEXT
    assert "…and 150 more" in nudges[0]
    assert refused(fake_slack) == []


THIRTY_TYPES = tuple(LeaveTypeConfig(code=f"t{n:02d}", name=("&" * 97) + f"{n:03d}", emoji=":" + "e" * 48 + ":",
                                     requires_approval=True, allow_half_days=True,
                                     annual_allowance_days=Decimal(25))
                     for n in range(30))


def many_config():
    eng = replace(ENGINEERING, name=HEAVY_TEAM, digest_time=time(9, 0))
    return standard_config(teams=(eng,), leave_types=THIRTY_TYPES,
                           holidays=tuple(HolidayConfig(date=date(2026, 12, 24) + timedelta(days=n),
                                                        name=HEAVY_NAME) for n in range(5)))


def seed_many(fake_slack, user=ALICE, count=100):
    base = date(2027, 1, 4)
    for n in range(count):
        status = ("pending", "approved", "rejected")[n % 3]
        start = base + timedelta(days=2 * n)
        post_entry(fake_slack, entry(user=user, team=HEAVY_TEAM, leave_type=f"t{n % 30:02d}", status=status,
                                     start=start, end=start + timedelta(days=1), start_half="pm",
                                     id=f"{user}-{n:04d}", reason="&" * 500, decided_at=1796000000 + n
                                     if status != "pending" else None),
                   ts=f"{1790000000 + n}.000100")


def test_list_with_a_hundred_entries_fits_an_ephemeral(client, fake_slack):
    install_config(many_config())
    seed_many(fake_slack)
    for _ in range(2):  # cold (the answer comes by DM), then warm (the ephemeral itself)
        response = post_command(client, "list", user_id=ALICE)  # asserts Slack would show it
        assert response.status_code == 200
    answers = [response.json()] + [c.params for c in fake_slack.calls("chat.postMessage")
                                   if c.params.get("channel") == ALICE and c.params.get("blocks")]
    assert answers[-1]["blocks"] and "more, with later dates" in str(answers[-1]["blocks"])
    for answer in answers:
        if answer.get("blocks"):
            check_message(answer)
    assert refused(fake_slack) == []


def test_balance_with_thirty_types(client, fake_slack):
    install_config(many_config())
    seed_many(fake_slack)
    for _ in range(2):
        response = post_command(client, "balance 2027", user_id=ALICE)
        assert response.status_code == 200
    texts = [response.json()["text"]] + [c.params["text"] for c in fake_slack.calls("chat.postMessage")
                                         if c.params.get("channel") == ALICE]
    assert texts[-1].endswith("more leave types.")
    assert all(len(t) <= MAX_TEXT for t in texts)
    assert refused(fake_slack) == []


def test_app_home_for_a_busy_approver_with_a_hundred_entries(client, fake_slack):
    install_config(many_config())
    seed_many(fake_slack, user=BOB)  # Bob requests too (Dave and HR approve his)
    for n in range(150):
        start = date(2027, 2, 1) + timedelta(days=n)
        post_entry(fake_slack, entry(user=f"U{n:010d}", team=HEAVY_TEAM, leave_type=f"t{n % 30:02d}",
                                     status="pending", start=start, end=start, id=f"wait-{n:04d}"),
                   ts=f"{1791000000 + n}.000100")
    for n in range(70):  # out this week
        post_entry(fake_slack, entry(user=f"W{n:010d}", team=HEAVY_TEAM, leave_type=f"t{n % 30:02d}",
                                     start=date(2026, 11, 30), end=date(2026, 12, 31), id=f"out-{n:04d}"),
                   ts=f"{1764000000 + n}.000100")
    views = [open_app_home(client, fake_slack, BOB, event_id=f"Ev_{n}") for n in range(2)]
    for view in views:
        assert len(view["blocks"]) <= 100
    assert refused(fake_slack) == []
    text = str(views[-1]["blocks"])
    assert "Waiting for your decision* (150)" in text and "and 135 more" in text


# --- A team's week changing under its digest ------------------------------------------------


def test_switching_to_a_sunday_week_gives_that_sunday_its_out_today_post(fake_slack):
    la = ZoneInfo("America/Los_Angeles")
    mon_fri = team("Week", "America/Los_Angeles", workweek=(0, 1, 2, 3, 4))
    install_config(standard_config(teams=(mon_fri,)))
    run_jobs(datetime(2031, 3, 10, 9, 5, tzinfo=la))  # Monday: the weekly digest, named 2031-W11
    assert len(posts_in(fake_slack, C_ENG)) == 1
    install_config(standard_config(teams=(replace(mon_fri, workweek=(6, 0, 1, 2, 3)),)))  # from Wednesday
    out = run_jobs(datetime(2031, 3, 16, 9, 5, tzinfo=la))  # the first Sunday of the new week
    # Sunday reads as the digest's day, and the digest named after its ISO week (W11) went out on Monday
    # 10th: the Sunday gets its "out today" post rather than nothing; the next week's digest is Sunday's.
    assert "out_today Week 2031-03-16" in out, out
    out = run_jobs(datetime(2031, 3, 23, 9, 5, tzinfo=la))
    assert "weekly_digest Week" in out, out
    assert len(posts_in(fake_slack, C_ENG)) == 2


@pytest.mark.django_db(False)
def test_due_jobs_invariants_over_random_weeks_zones_and_holidays():
    rng = random.Random(7)
    zones = ["Pacific/Kiritimati", "Pacific/Pago_Pago", "Asia/Kathmandu", "America/New_York", "Europe/Berlin",
             "Australia/Lord_Howe", "UTC"]
    problems = []
    for trial in range(80):
        workweek = tuple(sorted(rng.sample(range(7), rng.randint(1, 7))))
        zone = rng.choice(zones)
        digest = time(rng.randint(0, 23), rng.choice([0, 15, 30, 45]))
        start = date(2031, 1, 1) + timedelta(days=rng.randint(0, 700))
        holidays = tuple(HolidayConfig(date=start + timedelta(days=offset), name=f"H{n}")
                         for n, offset in enumerate(rng.sample(range(31), rng.randint(0, 6))))
        t = replace(team("T", zone, workweek=workweek, digest=digest), nudge_after_hours=1)
        config = standard_config(teams=(t,), holidays=holidays)
        seen: dict[tuple, set] = {}
        moment = datetime(start.year, start.month, start.day, tzinfo=UTC)
        while moment < datetime(start.year, start.month, start.day, tzinfo=UTC) + timedelta(days=28):
            for due in jobs.due_jobs(config, moment, team="T"):
                seen.setdefault((due.job, due.period), set()).add(due.day)
            moment += timedelta(minutes=30)
        posting_days = {}
        for (job, period), days in seen.items():
            if len(days) > 1:
                problems.append((trial, workweek, zone, job, period, sorted(days)))
            if job in (jobs.OUT_TODAY, jobs.WEEKLY_DIGEST):
                for day in days:
                    posting_days.setdefault(day, []).append(job)
        holiday_dates = {h.date for h in holidays}
        for offset in range(1, 27):
            day = (start + timedelta(days=offset)).isoformat()
            d = date.fromisoformat(day)
            working = d.weekday() in workweek and d not in holiday_dates
            if working and len(posting_days.get(day, [])) != 1:
                problems.append((trial, workweek, zone, "digest days", day, posting_days.get(day)))
            if not working and posting_days.get(day):
                problems.append((trial, workweek, zone, "off day post", day, posting_days.get(day)))
    assert problems == []


def test_one_teams_refused_post_does_not_stop_the_others(fake_slack):
    broken = team("Broken", "Pacific/Kiritimati", announce=C_NOBOT)
    fine = team("Fine", "Pacific/Kiritimati", announce=C_GENERAL)
    install_config(standard_config(teams=(broken, fine)))
    for name in ("Broken", "Fine"):
        post_entry(fake_slack, entry(team=name, start=date(2031, 3, 11), end=date(2031, 3, 11)))
    moment = datetime(2031, 3, 11, 9, 30, tzinfo=ZoneInfo("Pacific/Kiritimati"))
    with pytest.raises(CommandError):
        run_jobs(moment)
    assert len(posts_in(fake_slack, C_GENERAL)) == 1
    assert "Nothing due" in run_jobs(moment)  # the same instant again: nothing runs twice
    assert len(posts_in(fake_slack, C_GENERAL)) == 1
    assert JobRun.objects.get(job="out_today", team="Broken").error == "not_in_channel"


def test_year_end_in_kiritimati_reminder_and_digest(fake_slack):
    kiri = team("Kiri", "Pacific/Kiritimati", announce=C_GENERAL, holiday_country="US")
    install_config(standard_config(teams=(kiri,)))
    post_entry(fake_slack, entry(user=ALICE, team="Kiri", start=date(2032, 1, 2), end=date(2032, 1, 6)))
    post_entry(fake_slack, entry(user=DAVE, team="Kiri", start=date(2031, 12, 29), end=date(2032, 1, 9)))
    z = ZoneInfo("Pacific/Kiritimati")
    out = run_jobs(datetime(2031, 12, 31, 15, 0, tzinfo=z))  # Wednesday; 1 Jan is a holiday
    assert "reminders Kiri 2031-12-31: 1 reminder(s)" in out, out
    reminders = [t for t in [c.params["text"] for c in fake_slack.calls("chat.postMessage")
                              if c.params.get("channel") == ALICE] if "reminder" in t]
    [reminder] = reminders
    assert "starts on Fri 2 Jan 2032" in reminder, reminder
    out = run_jobs(datetime(2032, 1, 2, 9, 0, tzinfo=z))  # Friday
    post = posts_in(fake_slack, C_GENERAL)[-1]
    body = str(post["blocks"])
    assert "Out today, Fri 2 Jan" in body and "Mon 29 Dec 2031 – Fri 9 Jan" in body, body


def test_a_day_closed_after_its_weekly_digest_leaves_the_next_day_its_out_today_post(fake_slack):
    la = ZoneInfo("America/Los_Angeles")
    week = team("Week", "America/Los_Angeles")
    install_config(standard_config(teams=(week,)))
    post_entry(fake_slack, entry(team="Week", start=date(2031, 3, 10), end=date(2031, 3, 14)))
    run_jobs(datetime(2031, 3, 10, 9, 5, tzinfo=la))  # Monday 09:05: the weekly digest
    assert len(posts_in(fake_slack, C_ENG)) == 1
    # At 11:00 HR closes the office for the day (snow): Monday becomes a company day off.
    install_config(standard_config(teams=(week,), holidays=(HolidayConfig(date=date(2031, 3, 10), name="Snow day"),)))
    out = run_jobs(datetime(2031, 3, 11, 9, 5, tzinfo=la))  # Tuesday
    # Tuesday is a working day with someone out: its "out today" post is due (the week's digest went out).
    assert len(posts_in(fake_slack, C_ENG)) == 2, out


def test_a_reminder_speaks_of_the_persons_own_day(fake_slack):
    """Monday's leave, reminded on the team's Friday afternoon (Los Angeles): "on Mon 10 Mar" both in
    Tokyo, where it is already Saturday, and for someone whose zone is not known (the team's Friday)."""
    from django.core.cache import cache

    from approvals import directory

    la = team("LA", "America/Los_Angeles", announce=C_GENERAL)
    install_config(standard_config(teams=(la,)))
    post_entry(fake_slack, entry(user=ALICE, team="LA", start=date(2031, 3, 10), end=date(2031, 3, 12)))
    post_entry(fake_slack, entry(user=DAVE, team="LA", start=date(2031, 3, 10), end=date(2031, 3, 10)))
    cache.set(directory.timezone_key(ALICE), "Asia/Tokyo", 3600)
    cache.delete(directory.timezone_key(DAVE))

    out = run_jobs(datetime(2031, 3, 7, 15, 0, tzinfo=ZoneInfo("America/Los_Angeles")))  # a Friday

    assert "reminders LA 2031-03-07: 2 reminder(s)" in out, out
    texts = {c.params["channel"]: c.params["text"] for c in fake_slack.calls("chat.postMessage")
             if "reminder" in c.params["text"]}
    assert "starts on Mon 10 Mar" in texts[ALICE], texts[ALICE]
    assert "starts on Mon 10 Mar" in texts[DAVE], texts[DAVE]


def test_a_reminder_read_on_the_first_day_off_says_today(fake_slack):
    """Leave starting on a Tuesday: the Monday 15:00 reminder in Los Angeles is Tuesday 08:00 in Tokyo."""
    from django.core.cache import cache

    from approvals import directory

    la = team("LA", "America/Los_Angeles", announce=C_GENERAL)
    install_config(standard_config(teams=(la,)))
    post_entry(fake_slack, entry(user=ALICE, team="LA", start=date(2031, 3, 11), end=date(2031, 3, 12)))
    post_entry(fake_slack, entry(user=DAVE, team="LA", start=date(2031, 3, 11), end=date(2031, 3, 11)))
    cache.set(directory.timezone_key(ALICE), "Asia/Tokyo", 3600)
    cache.set(directory.timezone_key(DAVE), "America/New_York", 3600)

    run_jobs(datetime(2031, 3, 10, 15, 0, tzinfo=ZoneInfo("America/Los_Angeles")))

    texts = {c.params["channel"]: c.params["text"] for c in fake_slack.calls("chat.postMessage")
             if "reminder" in c.params["text"]}
    assert "starts today" in texts[ALICE], texts[ALICE]
    assert "starts tomorrow" in texts[DAVE], texts[DAVE]
