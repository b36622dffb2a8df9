"""What is due when, and what each job says: pure functions, a fixed clock, no database."""

from dataclasses import replace
from datetime import date, datetime, time, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from approvals import job_messages, jobs
from approvals.config_types import (
    ApproverSource,
    HolidayConfig,
    MemberSource,
    TeamConfig,
)
from approvals.rules import LedgerEntry
from test_support.flows import (
    ALICE,
    BOB,
    DAVE,
    ENGINEERING,
    MEDICAL,
    SICK,
    VACATION,
    standard_config,
)

LA = ZoneInfo("America/Los_Angeles")
TOKYO = ZoneInfo("Asia/Tokyo")
ENG = replace(ENGINEERING, digest_time=time(9, 0), nudge_after_hours=48)
TOKYO_TEAM = TeamConfig(name="Tokyo", members=MemberSource(users=("U_KEN",)), approvers=ApproverSource(users=(BOB,)),
                        approvals_channel="C_TOKYO_APPROVALS", announce_channel="C_TOKYO", timezone="Asia/Tokyo",
                        digest_time=time(9, 0))
CONFIG = standard_config(teams=(ENG, TOKYO_TEAM))
LEAVE_TYPES = {t.code: t for t in (VACATION, SICK, MEDICAL)}


def at(day: date, hour: int, minute: int = 0, zone=LA) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone)


def entry(user=ALICE, start=date(2031, 3, 10), end=date(2031, 3, 12), status="approved", leave_type="vacation",
          team="Engineering", **changes) -> LedgerEntry:
    values = dict(id=f"{user}-{start}-{leave_type}-{status}", user=user, team=team, leave_type=leave_type,
                  start=start, end=end, start_half=None, end_half=None, days=Decimal(3), status=status,
                  channel="C_ENG_APPROVALS", ts="1900000000.000100")
    return LedgerEntry(**{**values, **changes})


def names(due) -> set[tuple[str, str, str]]:
    return {(d.job, d.team, d.period) for d in due}


# --- When ------------------------------------------------------------------------------------


def test_nothing_of_a_team_is_due_before_its_time():
    due = jobs.due_jobs(CONFIG, at(date(2031, 3, 11), 8, 59), team="Engineering")
    assert due == []


def test_the_out_today_post_and_nudges_are_due_at_their_local_time_on_a_working_day():
    due = jobs.due_jobs(CONFIG, at(date(2031, 3, 11), 10, 0), team="Engineering")  # a Tuesday
    assert names(due) == {("out_today", "Engineering", "2031-03-11"), ("nudges", "Engineering", "2031-03-11")}
    assert all(d.day == "2031-03-11" for d in due)


def test_everything_is_still_due_later_the_same_day_so_a_late_clock_catches_up():
    due = jobs.due_jobs(CONFIG, at(date(2031, 3, 11), 23, 59), team="Engineering")
    assert names(due) == {("out_today", "Engineering", "2031-03-11"), ("nudges", "Engineering", "2031-03-11"),
                          ("reminders", "Engineering", "2031-03-11")}


def test_monday_brings_the_weekly_digest_instead_of_the_out_today_post():
    due = jobs.due_jobs(CONFIG, at(date(2031, 3, 10), 9, 0), team="Engineering")
    assert names(due) == {("weekly_digest", "Engineering", "2031-W11")}


def test_when_monday_is_a_holiday_the_weekly_digest_moves_to_tuesday():
    config = standard_config(teams=(ENG,), holidays=(HolidayConfig(date=date(2031, 3, 10), name="Company day"),))
    assert jobs.due_jobs(config, at(date(2031, 3, 10), 9, 0), team="Engineering") == []
    due = jobs.due_jobs(config, at(date(2031, 3, 11), 9, 0), team="Engineering")
    assert names(due) == {("weekly_digest", "Engineering", "2031-W11")}


def test_a_sunday_to_thursday_team_gets_its_weekly_digest_on_sunday():
    # Its week begins on Sunday: the digest then, and Monday is an ordinary day.
    team = replace(ENG, name="Tel Aviv", workweek=(6, 0, 1, 2, 3), timezone="Asia/Jerusalem",
                   holiday_country=None, holiday_subdivision=None)
    config = standard_config(teams=(team,))
    jerusalem = ZoneInfo("Asia/Jerusalem")
    sunday, monday = date(2031, 3, 9), date(2031, 3, 10)
    assert names(jobs.due_jobs(config, at(sunday, 9, 0, jerusalem), team="Tel Aviv")) == {
        ("weekly_digest", "Tel Aviv", "2031-W10")}
    assert names(jobs.due_jobs(config, at(monday, 9, 0, jerusalem), team="Tel Aviv")) == {
        ("out_today", "Tel Aviv", "2031-03-10")}


def test_a_weekly_digest_moved_past_a_holiday_keeps_its_weeks_name():
    # Sunday a holiday: Monday sends the week's digest, named by the week it belongs to, so the next
    # Sunday's digest is a week of its own.
    team = replace(ENG, name="Tel Aviv", workweek=(6, 0, 1, 2, 3), timezone="Asia/Jerusalem",
                   holiday_country=None, holiday_subdivision=None)
    config = standard_config(teams=(team,), holidays=(HolidayConfig(date=date(2031, 3, 9), name="Holiday"),))
    jerusalem = ZoneInfo("Asia/Jerusalem")
    assert names(jobs.due_jobs(config, at(date(2031, 3, 10), 9, 0, jerusalem), team="Tel Aviv")) == {
        ("weekly_digest", "Tel Aviv", "2031-W10")}
    assert names(jobs.due_jobs(config, at(date(2031, 3, 16), 9, 0, jerusalem), team="Tel Aviv")) == {
        ("weekly_digest", "Tel Aviv", "2031-W11")}


def test_the_week_starts_after_the_teams_days_off():
    assert jobs.week_start(date(2031, 3, 12), (0, 1, 2, 3, 4)) == date(2031, 3, 10)  # Monday
    assert jobs.week_start(date(2031, 3, 12), (6, 0, 1, 2, 3)) == date(2031, 3, 9)  # Sunday
    assert jobs.week_start(date(2031, 3, 12), (5, 6, 0, 1, 2)) == date(2031, 3, 8)  # Saturday
    assert jobs.week_start(date(2031, 3, 12), tuple(range(7))) == date(2031, 3, 10)  # no days off: Monday


def test_nothing_is_due_on_weekends_or_public_holidays():
    assert jobs.due_jobs(CONFIG, at(date(2031, 3, 15), 16, 0), team="Engineering") == []  # Saturday
    assert jobs.due_jobs(CONFIG, at(date(2031, 7, 4), 16, 0), team="Engineering") == []  # US Independence Day


def test_a_team_in_tokyo_gets_its_digest_at_its_own_nine_oclock():
    before = at(date(2031, 3, 11), 8, 59, TOKYO)
    nine = at(date(2031, 3, 11), 9, 0, TOKYO)
    assert jobs.due_jobs(CONFIG, before, team="Tokyo") == []
    assert names(jobs.due_jobs(CONFIG, nine, team="Tokyo")) == {("out_today", "Tokyo", "2031-03-11")}
    # 09:00 in Tokyo is midnight in London and the evening before in Los Angeles.
    assert nine.astimezone(timezone.utc).hour == 0
    assert jobs.due_jobs(CONFIG, nine, team="Engineering")[0].day == "2031-03-10"


def test_teams_without_digest_time_or_announce_channel_get_no_digest():
    quiet = replace(ENG, digest_time=None, nudge_after_hours=None)
    silent = replace(ENG, name="Silent", announce_channel=None)
    config = standard_config(teams=(quiet, silent))
    due = jobs.due_jobs(config, at(date(2031, 3, 11), 16, 0))
    assert {d.job for d in due if d.team} == {"reminders", "nudges"}
    assert {d.team for d in due if d.job == "nudges"} == {"Silent"}


def test_workspace_jobs_are_hourly_maintenance_and_the_nightly_ledger_jobs_in_utc():
    early = jobs.due_jobs(CONFIG, datetime(2031, 3, 11, 1, 30, tzinfo=timezone.utc))
    assert {(d.job, d.period) for d in early if not d.team} == {("maintenance", "2031-03-11T01")}
    night = jobs.due_jobs(CONFIG, datetime(2031, 3, 11, 2, 0, tzinfo=timezone.utc))
    assert {(d.job, d.period) for d in night if not d.team} == {
        ("maintenance", "2031-03-11T02"), ("ledger_watch", "2031-03-11"), ("ledger_export", "2031-03-11")}
    assert not [d for d in jobs.due_jobs(CONFIG, datetime(2031, 3, 11, 2, 0, tzinfo=timezone.utc), team="Tokyo")
                if not d.team]


def test_a_due_job_survives_the_task_queue_as_plain_data():
    job = jobs.due_jobs(CONFIG, at(date(2031, 3, 11), 10, 0), team="Engineering")[0]
    assert jobs.DueJob.from_task_data(job.as_task_data()) == job
    assert job.instant == at(date(2031, 3, 11), 10, 0)


# --- Who -----------------------------------------------------------------------------------


def test_reminders_go_the_working_day_before_even_across_a_weekend():
    monday_leave = entry(start=date(2031, 3, 10))
    saturday_start = entry(user=DAVE, start=date(2031, 3, 8), end=date(2031, 3, 11))  # first working day Monday
    already_out = entry(user=BOB, start=date(2031, 3, 6), end=date(2031, 3, 12))
    pending = entry(status="pending", user="U_P")
    holidays = jobs.team_calendar(CONFIG, ENG, date(2031, 3, 7))
    found = jobs.reminders_due([monday_leave, saturday_start, already_out, pending], ENG, date(2031, 3, 7), holidays)
    assert found == [monday_leave, saturday_start]
    assert jobs.reminders_due([monday_leave], ENG, date(2031, 3, 6), holidays) == []  # Thursday: too early


def test_reminders_skip_a_holiday_to_find_the_working_day_before():
    config = standard_config(teams=(ENG,), holidays=(HolidayConfig(date=date(2031, 3, 10), name="Company day"),))
    holidays = jobs.team_calendar(config, ENG, date(2031, 3, 7))
    tuesday = entry(start=date(2031, 3, 11))
    assert jobs.reminders_due([tuesday], ENG, date(2031, 3, 7), holidays) == [tuesday]


def test_who_is_out_counts_approved_leave_of_the_team_on_working_days():
    holidays = jobs.team_calendar(CONFIG, ENG, date(2031, 3, 11))
    mine = entry()
    other_team = entry(user="U_KEN", team="Tokyo")
    rejected = entry(user=DAVE, status="rejected")
    weekend_only = entry(user=BOB, start=date(2031, 3, 15), end=date(2031, 3, 16))
    out = jobs.out_between([mine, other_team, rejected, weekend_only], ENG, date(2031, 3, 11), date(2031, 3, 18),
                           holidays)
    assert out == [mine]


def test_requests_wait_for_nudges_once_older_than_the_team_setting():
    now = at(date(2031, 3, 11), 10, 0)
    old = entry(status="pending", ts=f"{now.timestamp() - 49 * 3600:.6f}")
    young = entry(user=DAVE, status="pending", ts=f"{now.timestamp() - 47 * 3600:.6f}")
    unposted = entry(user=BOB, status="pending", ts=None, channel=None)
    assert jobs.waiting_requests([old, young, unposted], ENG, now) == [old]


def test_approvers_away_are_those_with_approved_leave_on_the_morning_of_that_day():
    day = date(2031, 3, 11)
    on_vacation = entry(user=BOB, start=date(2031, 3, 10), end=date(2031, 3, 12))
    morning_off = entry(user=DAVE, start=day, end=day, end_half="am", days=Decimal("0.5"))
    afternoon_off = entry(user="U_FRED", start=day, end=day, start_half="pm", days=Decimal("0.5"))
    only_asked = entry(user=ALICE, status="pending")
    back_yesterday = entry(user="U_ERIN", start=date(2031, 3, 3), end=date(2031, 3, 10))
    assert jobs.people_away([on_vacation, morning_off, afternoon_off, only_asked, back_yesterday], day) == {
        BOB, DAVE}


def test_message_links_use_the_archives_form():
    assert jobs.message_link("C_ENG_APPROVALS", "1766000000.000100") == \
        "https://slack.com/archives/C_ENG_APPROVALS/p1766000000000100"


# --- What the posts say ----------------------------------------------------------------------


def test_private_types_are_only_away_in_the_out_today_post():
    sick = entry(user=DAVE, leave_type="sick")
    text, blocks = job_messages.out_today_message("Engineering", date(2031, 3, 11), [entry(), sick], LEAVE_TYPES)
    body = "\n".join(b["text"]["text"] for b in blocks if b["type"] == "section")
    assert "<@U_ALICE>: :palm_tree: Vacation" in body
    assert "<@U_DAVE>: :calendar: away" in body
    assert "Sick" not in text + body and "thermometer" not in body


def test_the_weekly_digest_lists_everyone_and_the_holidays_without_private_types():
    medical = entry(user=DAVE, leave_type="medical", start=date(2031, 3, 13), end=date(2031, 3, 13))
    gone_type = entry(user=BOB, leave_type="retired-type")
    text, blocks = job_messages.weekly_digest_message(
        "R&D <team>", date(2031, 3, 10), date(2031, 3, 17), [entry(), medical, gone_type], LEAVE_TYPES,
        {date(2031, 3, 14): "Company <day>"})
    flat = str(blocks) + text
    assert "Medical" not in flat and "retired-type" not in flat
    assert "R&amp;D &lt;team&gt;" in flat and "<team>" not in flat
    assert "Fri 14 Mar: Company &lt;day&gt;" in flat
    empty_text, _ = job_messages.weekly_digest_message("Eng", date(2031, 3, 10), date(2031, 3, 17), [], {}, {})
    assert "Nobody" in empty_text


def test_long_lines_fill_sections_without_cutting_anyone_out():
    # A valid label can be 151 characters (a 50-character emoji and a 100-character name): 15 such lines
    # outgrow one section's 3,000 characters, which Slack would refuse and we used to cut mid-name.
    long_type = replace(VACATION, name="N" * 100, emoji=":" + "e" * 48 + ":")
    out = [entry(user=f"U0LONG{n:04d}") for n in range(40)]
    text, blocks = job_messages.out_today_message("Engineering", date(2031, 3, 11), out, {"vacation": long_type})
    sections = [b["text"]["text"] for b in blocks if b["type"] == "section"][1:]
    assert len(sections) > 2 and all(len(s) <= 3000 for s in sections)
    lines = "\n".join(sections).split("\n")
    assert lines == [f"• <@U0LONG{n:04d}>: {long_type.label}, Mon 10 Mar – Wed 12 Mar" for n in range(40)]


def test_a_busy_week_stays_within_the_text_slack_takes_in_one_message():
    # 300 people out: every line fits in 45 sections, but not in the ~12,000 characters Slack takes for
    # a message's blocks together (msg_blocks_too_long): those that do not fit are counted, not dropped.
    from fake_slack.server import MAX_BLOCKS_TEXT, blocks_text_length

    out = [entry(user=f"U0BUSY{n:04d}") for n in range(300)]
    text, blocks = job_messages.weekly_digest_message("Engineering", date(2031, 3, 10), date(2031, 3, 17), out,
                                                      LEAVE_TYPES, {date(2031, 3, 14): "Company day"})
    assert blocks_text_length(blocks) <= job_messages.BLOCKS_TEXT_BUDGET < MAX_BLOCKS_TEXT
    lines = "\n".join(b["text"]["text"] for b in blocks[1:-1]).split("\n")
    shown, more = lines[:-1], lines[-1]
    assert shown == [f"• <@U0BUSY{n:04d}>: :palm_tree: Vacation, Mon 10 Mar – Wed 12 Mar" for n in range(len(shown))]
    assert more == f"…and {300 - len(shown)} more." and len(shown) > 100
    assert blocks[-1]["type"] == "context" and "Company day" in blocks[-1]["elements"][0]["text"]
    # The notification text names as many as Slack's advised 4,000 characters hold, and counts the rest.
    assert len(text) <= 4000 and "U0BUSY0000" in text and text.endswith(" more")


def test_someone_out_twice_in_the_week_is_one_line_and_the_count_of_the_rest_counts_people():
    # 300 people out twice each: counting lines of leave, "…and 341 more" read as more people than the team has.
    out = [entry(user=f"U0TWICE{n:03d}", id=f"{n}-{half}", start=start, end=start)
           for n in range(300) for half, start in (("a", date(2031, 3, 10)), ("b", date(2031, 3, 13)))]
    _, blocks = job_messages.weekly_digest_message("Engineering", date(2031, 3, 10), date(2031, 3, 17), out,
                                                   LEAVE_TYPES, {})
    lines = "\n".join(b["text"]["text"] for b in blocks[1:]).split("\n")
    shown, more = lines[:-1], lines[-1]
    assert shown[0] == "• <@U0TWICE000>: :palm_tree: Vacation, Mon 10 Mar; :palm_tree: Vacation, Thu 13 Mar"
    assert len({line.split(">")[0] for line in shown}) == len(shown)  # each person once
    assert more == f"…and {300 - len(shown)} more."


def test_thousands_out_at_once_still_make_a_post_slack_takes():
    # 2,600 people out: naming them all in the text made 40,000 characters, and Slack refused the post.
    out = [entry(user=f"U0MANY{n:04d}") for n in range(2600)]
    for text, _ in (job_messages.out_today_message("Everyone", date(2031, 3, 11), out, LEAVE_TYPES),
                    job_messages.weekly_digest_message("Everyone", date(2031, 3, 10), date(2031, 3, 17), out,
                                                       LEAVE_TYPES, {})):
        assert len(text) <= 4000 and text.endswith(" more")


def test_what_does_not_fit_in_a_message_is_counted_not_dropped():
    from approvals.block_kit import sections

    lines = [f"{n:04d} " + "x" * 995 for n in range(10)]  # 1,000 characters: two lines a section
    texts = [block["text"]["text"] for block in sections(lines, limit=2)]
    assert texts == ["\n".join(lines[:2]), "\n".join(lines[2:4] + ["…and 6 more."])]
    full = ["y" * 1499, "y" * 1499, "z" * 10]  # the count takes the place of a line that no longer fits
    assert [block["text"]["text"] for block in sections(full, limit=1)] == ["y" * 1499 + "\n…and 2 more."]
    short = [f"line {n}" for n in range(100)]  # 6-7 characters each: the total is the limit here
    assert [block["text"]["text"] for block in sections(short, limit=45, total=40)] == [
        "line 0\nline 1\nline 2\n…and 97 more."]
    assert sections([], limit=3) == [] and sections(["one"], limit=1)[0]["text"]["text"] == "one"


def test_the_reminder_names_the_requesters_own_type_and_day():
    text = job_messages.reminder_text(entry(), VACATION, date(2031, 3, 10), date(2031, 3, 7))
    assert "Vacation starts on Mon 10 Mar" in text
    assert "starts tomorrow" in job_messages.reminder_text(entry(), VACATION, date(2031, 3, 10), date(2031, 3, 9))


def test_a_nudge_names_and_links_each_request_but_not_a_private_type():
    now = at(date(2031, 3, 11), 10, 0)
    waiting = [entry(ts=f"{now.timestamp() - 72 * 3600:.6f}", status="pending"),
               entry(user=DAVE, leave_type="medical", ts=f"{now.timestamp() - 50 * 3600:.6f}", status="pending")]
    text = job_messages.nudge_text("Engineering", waiting, LEAVE_TYPES, now)
    assert "<@U_ALICE>: :palm_tree: Vacation, Mon 10 Mar – Wed 12 Mar — waiting 3 days" in text
    assert "<@U_DAVE>: :calendar: away" in text and "Medical" not in text
    assert text.count("<https://slack.com/archives/C_ENG_APPROVALS/p") == 2


def test_a_nudge_for_a_large_backlog_names_the_oldest_and_counts_the_rest_within_slacks_limit():
    now = at(date(2031, 3, 11), 10, 0)
    waiting = [entry(id=f"r{n:04d}", ts=f"{now.timestamp() - (900 - n) * 3600:.6f}", status="pending")
               for n in range(800)]
    text = job_messages.nudge_text("Engineering", waiting, LEAVE_TYPES, now)
    assert text.count("<https://slack.com/archives/") == job_messages.NUDGE_LINES_MAX
    assert "waiting 37 days" in text  # the oldest (900 hours) is named
    assert text.endswith(f"…and {800 - job_messages.NUDGE_LINES_MAX} more, newer: see the approvals channel "
                         "or the app's Home tab.")
    assert len(text) < 40_000


# --- The watch and the export ------------------------------------------------------------------


def test_a_vanished_record_is_deleted_unless_it_aged_out_or_its_channel_went():
    previous = {"kept": ["U1", "C1", "1800000000.000000"], "deleted": ["U2", "C1", "1800000100.000000"],
                "old": ["U3", "C1", "1700000000.000000"], "moved": ["U4", "C_GONE", "1800000200.000000"]}
    current = {"kept": ["U1", "C1", "1800000000.000000"], "new": ["U5", "C1", "1800000300.000000"]}
    deleted, aged_out = jobs.vanished_records(previous, current, channels={"C1"},
                                              oldest_by_channel={"C1": "1750000000.000000"})
    assert [g.id for g in deleted] == ["deleted"]
    assert {g.id for g in aged_out} == {"old", "moved"}


def test_how_far_back_the_read_reached_is_judged_channel_by_channel():
    # C1's read stopped at its page limit (or its retention is shorter): a record there older than what
    # was reached in C1 aged out, though C2's history reaches further back. A record whose place the
    # snapshot does not know (an adjustment, before adjustments had one) is not called deleted either.
    previous = {"c1-old": ["U1", "C1", "1790000000.000000"], "c1-deleted": ["U2", "C1", "1810000000.000000"],
                "c2-deleted": ["U3", "C2", "1790000000.000000"], "placeless": ["U4", None, None],
                "c3-emptied": ["U5", "C3", "1800000000.000000"]}
    reached = {"C1": "1800000000.000000", "C2": "1700000000.000000"}
    deleted, aged_out = jobs.vanished_records(previous, {}, channels={"C1", "C2", "C3"}, oldest_by_channel=reached)
    assert [g.id for g in deleted] == ["c1-deleted", "c2-deleted"]
    assert {g.id for g in aged_out} == {"c1-old", "placeless", "c3-emptied"}


@pytest.mark.parametrize("typed", ["=1+1", "  =1+1", "\u00a0=1+1", "\n=1+1", "\r\n@SUM(A1)", "\t-2", "\tplain",
                                   "\u200d=1+1", "\ufeff=1+1", "\u200b \u200e+1", "\uff1dHYPERLINK(1)", "\ufe62cmd"])
def test_a_cell_that_could_start_a_formula_is_quoted(typed):
    assert jobs.csv_safe(typed) == "'" + typed


@pytest.mark.parametrize("typed", ["plain", " plain", "café = good", "", None, "\u200d", "\u200dplain", "１ day"])
def test_a_cell_that_cannot_start_a_formula_is_left_as_it_is(typed):
    assert jobs.csv_safe(typed) == ("" if typed is None else typed)


def test_the_export_has_a_row_per_record_and_no_formulas():
    rows = jobs.ledger_csv_rows([entry(status="rejected", reason="=HYPERLINK(\"http://x\")")])
    assert rows[0] == jobs.CSV_HEADER
    assert rows[1][jobs.CSV_HEADER.index("reason")] == "'=HYPERLINK(\"http://x\")"
    assert rows[1][jobs.CSV_HEADER.index("start")] == "2031-03-10"


