"""The daily messages people receive from the clock, read as they arrive: the reminder DM the working day
before leave, the "out today" post, the weekly who's-out digest and the approvers' nudges.

What people typed (a note, a leave type's name) never pings anyone in them; a Sunday–Thursday team's
nudges wait for its own working days; leave cancelled after its reminder leaves the next posts; and
when Slack fails part-way (a 429 with a long Retry-After, a lookup that errs, a DM rate-limited while HR
changes the approvers), a later run finishes the work without sending anything twice. Every assertion is
on what reached the fake Slack.
"""

import json
from dataclasses import replace
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core.management import CommandError

from approvals import block_ids as ids
from approvals.config_types import ApproverSource, LeaveTypeConfig, MemberSource, TeamConfig
from approvals.models import JobRun
from approvals.rules import LedgerEntry
from fake_slack.personas import C_ENG, C_ENG_APPROVALS, C_GENERAL, CAROL
from test_support.direct_messages import dm_to
from test_support.flows import (ALICE, BOB, DAVE, ENGINEERING, MEDICAL, SICK, VACATION, click, install_config,
                                open_request_form, posted_requests, request_time_off, request_values,
                                standard_config, submit_request)
from test_support.job_runs import post_entry, posts_in, run_jobs
from test_support.simulated_time import simulated_clock
from test_support.slack_faults import failing
from test_support.slack_requests import block_actions_payload, post_command, post_interaction

pytestmark = pytest.mark.django_db

LA = ZoneInfo("America/Los_Angeles")
JERUSALEM = ZoneInfo("Asia/Jerusalem")
ENG = replace(ENGINEERING, digest_time=time(9, 0), nudge_after_hours=24)

# March 2031 in Los Angeles: no public holiday in these days.
THURSDAY, FRIDAY = date(2031, 3, 6), date(2031, 3, 7)
MONDAY, TUESDAY, WEDNESDAY = date(2031, 3, 10), date(2031, 3, 11), date(2031, 3, 12)

HOSTILE = ("<!channel>", "<!here>", "<!everyone>", "<@U_CAROL>", "<#C_GENERAL>", "<https://evil.example|")


@pytest.fixture(autouse=True)
def export_dir(settings, tmp_path):
    settings.LEDGER_EXPORT_DIR = tmp_path / "exports"
    return settings.LEDGER_EXPORT_DIR


def at(day: date, hour: int, minute: int = 0, zone=LA) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone)


def entry(user=ALICE, start=TUESDAY, end=None, status="approved", leave_type="vacation", team="Engineering",
          days="1", **changes) -> LedgerEntry:
    end = end or start
    values = dict(id=f"{user}-{start}-{end}-{leave_type}-{status}-{team}".replace(" ", "_")[:60], user=user,
                  team=team, leave_type=leave_type, start=start, end=end, start_half=None, end_half=None,
                  days=Decimal(days), status=status, decided_by=BOB if status != "pending" else None)
    return LedgerEntry(**{**values, **changes})


def dm_texts(fake_slack, user) -> list[str]:
    """What the app's DM with `user` holds now (whatever answers Slack lost on the way)."""
    return [message.text or "" for message in fake_slack.workspace.messages(user)]


def reminders_in_dm(fake_slack, user) -> list[str]:
    return [text for text in dm_texts(fake_slack, user) if "A reminder" in text]


def nudges_in_dm(fake_slack, user) -> list[str]:
    return [text for text in dm_texts(fake_slack, user) if "waiting for a decision" in text]


def everything(post: dict) -> str:
    return str(post.get("text")) + "\n" + json.dumps(post.get("blocks") or [], ensure_ascii=False)


def every_text_sent(fake_slack) -> str:
    """The text and blocks of every message the app posted or rewrote, anywhere."""
    said = []
    for method in ("chat.postMessage", "chat.update", "chat.postEphemeral"):
        for call in fake_slack.calls(method):
            blocks = call.params.get("blocks")
            said.append(f"{call.params.get('text')}\n{blocks if isinstance(blocks, str) else json.dumps(blocks)}")
    return "\n".join(said)


def cancel_from_the_list(client, user: str) -> None:
    """`/timeoff list`, then *Cancel leave* on the one leave it offers to cancel, as Slack sends the click."""
    listed = post_command(client, "list", user_id=user).json()
    [(block_id, value)] = [(block["block_id"], element["value"]) for block in listed["blocks"]
                           if block.get("type") == "actions" for element in block["elements"]
                           if element.get("action_id") == ids.CANCEL_ACTION]
    response = post_interaction(client, block_actions_payload(
        user_id=user, action_id=ids.CANCEL_ACTION, value=value, block_id=block_id, channel_id="D_X",
        message_ts="1766000000.000200"))
    assert response.status_code == 200


def request_from_a_form_of_its_own(client, fake_slack, user, start, end, view_id):
    view = open_request_form(client, fake_slack, user)
    response = submit_request(client, user, view, request_values("vacation", start, end), view_id=view_id,
                              view_hash=f"h-{view_id}")
    assert response.status_code == 200 and response.content == b"", response.content


# --- What people typed never pings ------------------------------------------------------------


def test_a_note_full_of_mentions_reaches_no_nudge_reminder_digest_or_out_today_post(client, fake_slack):
    install_config(standard_config(teams=(ENG,)))
    note = "Cover for me <!channel> <!here> <!everyone> <@U_CAROL> <#C_GENERAL> <https://evil.example|click>"
    request_time_off(client, fake_slack, ALICE, start=MONDAY, end=WEDNESDAY, note=note)
    [posted] = posted_requests(fake_slack)

    nudged = run_jobs(at(THURSDAY, 10), "--team", "Engineering")  # pending for years by this clock
    click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted)
    run_jobs(at(FRIDAY, 15), "--team", "Engineering")
    run_jobs(at(MONDAY, 9), "--team", "Engineering")
    run_jobs(at(TUESDAY, 9), "--team", "Engineering")

    # Each daily message went out ...
    assert "1 waiting" in nudged
    assert len(nudges_in_dm(fake_slack, BOB)) == 1
    assert len(reminders_in_dm(fake_slack, ALICE)) == 1
    digest, out_today = posts_in(fake_slack, C_ENG)[-2:]
    assert "Who's out, Mon 10 Mar" in everything(digest) and "<@U_ALICE>" in everything(digest)
    assert "Out today, Tue 11 Mar" in everything(out_today) and "<@U_ALICE>" in everything(out_today)
    # ... and nothing anybody typed pings or links anywhere the app wrote.
    said = every_text_sent(fake_slack)
    for raw in HOSTILE:
        assert raw not in said, raw
    assert posts_in(fake_slack, C_GENERAL) == []


def test_a_leave_type_named_with_mentions_is_escaped_in_the_reminder_and_the_nudge(fake_slack):
    odd = LeaveTypeConfig(code="offsite", name="Offsite <!here> & <@U_CAROL>", emoji=":tent:",
                          requires_approval=True)
    install_config(standard_config(teams=(ENG,), leave_types=(VACATION, SICK, MEDICAL, odd)))
    post_entry(fake_slack, entry(leave_type="offsite", start=MONDAY))
    now = at(FRIDAY, 15)
    post_entry(fake_slack, entry(user=DAVE, leave_type="offsite", status="pending", start=date(2031, 3, 20)),
               ts=f"{now.timestamp() - 72 * 3600:.6f}")

    run_jobs(at(FRIDAY, 15), "--team", "Engineering")

    [reminder] = reminders_in_dm(fake_slack, ALICE)
    assert "Offsite &lt;!here&gt; &amp; &lt;@U_CAROL&gt;" in reminder
    assert "<!here>" not in reminder and "<@U_CAROL>" not in reminder
    [nudge] = nudges_in_dm(fake_slack, BOB)
    assert "Offsite &lt;!here&gt; &amp; &lt;@U_CAROL&gt;" in nudge
    assert "<!here>" not in nudge and "<@U_CAROL>" not in nudge


# --- Leave that changes after its reminder ----------------------------------------------------


def test_leave_cancelled_after_its_reminder_is_in_neither_mondays_digest_nor_tuesdays_out_today(client,
                                                                                                  fake_slack):
    install_config(standard_config(teams=(replace(ENG, nudge_after_hours=None),)))
    request_time_off(client, fake_slack, ALICE, start=MONDAY, end=WEDNESDAY)
    request_from_a_form_of_its_own(client, fake_slack, DAVE, TUESDAY, TUESDAY, "V_DAVE")
    alices, daves = posted_requests(fake_slack)
    click(client, fake_slack, BOB, ids.APPROVE_ACTION, alices)
    click(client, fake_slack, BOB, ids.APPROVE_ACTION, daves)

    run_jobs(at(FRIDAY, 15), "--team", "Engineering")  # reads the ledger (and keeps it) for the reminders
    assert len(reminders_in_dm(fake_slack, ALICE)) == 1
    cancel_from_the_list(client, ALICE)  # plans change over the weekend

    run_jobs(at(MONDAY, 9), "--team", "Engineering")
    run_jobs(at(TUESDAY, 9), "--team", "Engineering")
    digest, out_today = posts_in(fake_slack, C_ENG)[-2:]
    assert "Who's out, Mon 10 Mar" in everything(digest)
    assert "Out today, Tue 11 Mar" in everything(out_today)
    for post in (digest, out_today):
        assert "<@U_DAVE>" in everything(post)
        assert "<@U_ALICE>" not in everything(post)


# --- A Sunday–Thursday team ---------------------------------------------------------------------


def test_a_sunday_to_thursday_team_nudges_on_sunday_morning_not_over_its_weekend(fake_slack):
    tel_aviv = TeamConfig(name="Tel Aviv", members=MemberSource(users=(ALICE, DAVE)),
                          approvers=ApproverSource(users=(BOB,)), approvals_channel=C_ENG_APPROVALS,
                          announce_channel=C_GENERAL, timezone="Asia/Jerusalem", workweek=(6, 0, 1, 2, 3),
                          digest_time=None, nudge_after_hours=24)
    install_config(standard_config(teams=(tel_aviv,)))
    posted = at(date(2027, 6, 10), 9, zone=JERUSALEM)  # Thursday morning, the last day of its week
    post_entry(fake_slack, entry(status="pending", team="Tel Aviv", start=date(2027, 6, 21)),
               ts=f"{posted.timestamp():.6f}")
    ran = []
    moment = at(date(2027, 6, 10), 9, 30, zone=JERUSALEM)
    while moment <= at(date(2027, 6, 13), 18, zone=JERUSALEM):
        out = run_jobs(moment, "--team", "Tel Aviv")
        if "nudges Tel Aviv" in out:
            ran.append((moment.astimezone(JERUSALEM).replace(tzinfo=None), out))
        moment += timedelta(minutes=30)
    assert [when for when, _ in ran] == [datetime(2027, 6, 10, 10, 0), datetime(2027, 6, 13, 10, 0)]
    assert "0 waiting" in ran[0][1] and "1 waiting" in ran[1][1]
    [nudge] = nudges_in_dm(fake_slack, BOB)
    assert "<@U_ALICE>: :palm_tree: Vacation, Mon 21 Jun — waiting 3 days" in nudge
    assert nudges_in_dm(fake_slack, ALICE) == []


# --- Slack failing part-way -----------------------------------------------------------------------


def test_an_out_today_post_met_with_a_long_retry_after_goes_out_once_after_it_not_before(fake_slack, monkeypatch,
                                                                                        settings):
    clock = simulated_clock(monkeypatch, settings, jobs=True)
    install_config(standard_config(teams=(ENG,)))
    post_entry(fake_slack, entry(start=TUESDAY))
    fake_slack.rate_limit("chat.postMessage", retry_after=300, times=None)

    with pytest.raises(CommandError):
        run_jobs(at(TUESDAY, 9), "--team", "Engineering")
    fake_slack.clear_faults()
    run = JobRun.objects.get(job="out_today")
    assert run.finished_at is None and run.error == "ratelimited"
    assert (run.retry_at - clock.now()).total_seconds() >= 295  # not before Slack said
    attempts = len([c for c in fake_slack.calls("chat.postMessage") if c.params.get("channel") == C_ENG])

    clock.move_on(90)
    run_jobs(at(TUESDAY, 9, 2), "--team", "Engineering")  # a minute and a half on: still Slack's pause
    assert len([c for c in fake_slack.calls("chat.postMessage")
                if c.params.get("channel") == C_ENG]) == attempts
    assert posts_in(fake_slack, C_ENG) == []

    clock.move_on(240)
    assert "out_today Engineering 2031-03-11: 1 out" in run_jobs(at(TUESDAY, 9, 6), "--team", "Engineering")
    run_jobs(at(TUESDAY, 9, 7), "--team", "Engineering")
    [post] = [m for m in fake_slack.workspace.messages(C_ENG) if "Out today" in (m.text or "")]
    assert "<@U_ALICE>" in post.text
    assert JobRun.objects.get(job="out_today").finished_at is not None


def test_reminders_stopped_by_a_failing_time_zone_lookup_finish_later_and_nobody_gets_two(fake_slack, no_sleeping):
    install_config(standard_config(teams=(replace(ENG, digest_time=None, nudge_after_hours=None),)))
    for user in (ALICE, DAVE):
        post_entry(fake_slack, entry(user=user, start=MONDAY, end=TUESDAY, days="2"))
    # Nobody has used the app lately: their time zones are asked of Slack, which fails for Dave's.
    with failing(fake_slack, lambda method, params: method == "users.info" and params.get("user") == DAVE,
                 "service_unavailable", times=None):
        with pytest.raises(CommandError):
            run_jobs(at(FRIDAY, 15), "--team", "Engineering")
    assert len(reminders_in_dm(fake_slack, ALICE)) == 1
    assert reminders_in_dm(fake_slack, DAVE) == []
    run = JobRun.objects.get(job="reminders")
    assert run.finished_at is None and run.retry_at is not None
    JobRun.objects.filter(id=run.id).update(retry_at=run.retry_at - timedelta(hours=1))

    out = run_jobs(at(FRIDAY, 15, 5), "--team", "Engineering")
    assert "reminders Engineering" in out
    run_jobs(at(FRIDAY, 16), "--team", "Engineering")
    [alices] = reminders_in_dm(fake_slack, ALICE)
    [daves] = reminders_in_dm(fake_slack, DAVE)
    assert "starts on Mon 10 Mar" in alices and "starts on Mon 10 Mar" in daves


def test_a_nudge_cut_short_by_a_rate_limit_reaches_the_approvers_of_the_moment_once(fake_slack, no_sleeping):
    team = replace(ENG, approvers=ApproverSource(users=(BOB, DAVE)), digest_time=None)
    install_config(standard_config(teams=(team,)))
    now = at(WEDNESDAY, 10)
    post_entry(fake_slack, entry(status="pending", start=date(2031, 3, 24)), ts=f"{now.timestamp() - 50 * 3600:.6f}")

    with failing(fake_slack, dm_to(DAVE), "rate_limited_429", times=None):
        with pytest.raises(CommandError):
            run_jobs(now, "--team", "Engineering")
    assert len(nudges_in_dm(fake_slack, BOB)) == 1 and nudges_in_dm(fake_slack, DAVE) == []
    # Before the retry, HR replaces Dave with Carol as the team's second approver.
    install_config(standard_config(teams=(replace(team, approvers=ApproverSource(users=(BOB, CAROL))),)))
    run = JobRun.objects.get(job="nudges")
    JobRun.objects.filter(id=run.id).update(retry_at=run.retry_at - timedelta(hours=1))

    run_jobs(now + timedelta(minutes=5), "--team", "Engineering")

    assert len(nudges_in_dm(fake_slack, BOB)) == 1
    assert nudges_in_dm(fake_slack, DAVE) == []
    [carols] = nudges_in_dm(fake_slack, CAROL)
    assert "<@U_ALICE>: :palm_tree: Vacation, Mon 24 Mar — waiting 2 days" in carols


@pytest.mark.parametrize("fault", ["http_500", "rate_limited_429", "answer_lost"])
def test_the_weekly_digest_slack_fails_once_is_posted_once_by_the_next_run(fake_slack, no_sleeping, fault):
    install_config(standard_config(teams=(replace(ENG, nudge_after_hours=None),)))
    post_entry(fake_slack, entry(start=TUESDAY, end=WEDNESDAY, days="2"))

    def to_the_announce_channel(method, params):
        return method == "chat.postMessage" and params.get("channel") == C_ENG

    with failing(fake_slack, to_the_announce_channel, fault, times=None) as met:
        try:
            run_jobs(at(MONDAY, 9), "--team", "Engineering")
        except CommandError:  # not posted, or posted and not yet found: the next run's
            pass
    assert met  # Slack did fail it
    run = JobRun.objects.get(job="weekly_digest")
    if run.finished_at is None:
        assert run.retry_at is not None
        JobRun.objects.filter(id=run.id).update(retry_at=run.retry_at - timedelta(hours=1))

    run_jobs(at(MONDAY, 9, 5), "--team", "Engineering")
    run_jobs(at(MONDAY, 9, 6), "--team", "Engineering")

    digests = [m for m in fake_slack.workspace.messages(C_ENG) if "Who's out" in (m.text or "")]
    assert len(digests) == 1
    assert "<@U_ALICE>" in digests[0].text
    assert JobRun.objects.get(job="weekly_digest").finished_at is not None


def test_two_clocks_and_a_worker_post_the_out_today_once_after_a_five_minute_retry_after(fake_slack, monkeypatch,
                                                                                       settings):
    from approvals.job_services import jobs_run_due
    from test_support.simulated_time import work_through_the_queue

    clock = simulated_clock(monkeypatch, settings, jobs=True)
    install_config(standard_config(teams=(ENG,)))
    post_entry(fake_slack, entry(start=TUESDAY))
    posts_to_the_channel = []  # (simulated time, HTTP status) of each post to the announce channel
    real_handle = fake_slack.handle

    def handle(method, params, headers):
        if method == "chat.postMessage" and params.get("channel") == C_ENG:
            if not posts_to_the_channel:
                posts_to_the_channel.append((clock.now(), 429))
                return 429, {"Retry-After": "300"}, {"ok": False, "error": "ratelimited"}
            posts_to_the_channel.append((clock.now(), 200))
        return real_handle(method, params, headers)

    fake_slack.handle = handle
    try:
        for minute in range(15):  # two clocks ticking each minute from 09:00, one worker between ticks
            moment = at(TUESDAY, 9, minute)
            jobs_run_due(moment)
            jobs_run_due(moment)
            work_through_the_queue(clock, until=clock.monotonic() + 60)
    finally:
        del fake_slack.handle

    (limited_at, first), *later = posts_to_the_channel
    assert first == 429
    assert [status for _, status in later] == [200]  # one post after it, not one per clock or per attempt
    assert (later[0][0] - limited_at).total_seconds() >= 300  # and not before Slack said
    [post] = [m for m in fake_slack.workspace.messages(C_ENG) if "Out today" in (m.text or "")]
    assert "<@U_ALICE>" in post.text


def test_leave_cancelled_while_the_out_today_post_waits_for_its_retry_is_not_announced(client, fake_slack,
                                                                                        no_sleeping):
    install_config(standard_config(teams=(replace(ENG, nudge_after_hours=None),)))
    request_time_off(client, fake_slack, ALICE, start=TUESDAY, end=WEDNESDAY)
    request_from_a_form_of_its_own(client, fake_slack, DAVE, TUESDAY, TUESDAY, "V_DAVE")
    alices, daves = posted_requests(fake_slack)
    click(client, fake_slack, BOB, ids.APPROVE_ACTION, alices)
    click(client, fake_slack, BOB, ids.APPROVE_ACTION, daves)

    def to_the_announce_channel(method, params):
        return method == "chat.postMessage" and params.get("channel") == C_ENG

    with failing(fake_slack, to_the_announce_channel, "http_503", times=None):
        with pytest.raises(CommandError):
            run_jobs(at(TUESDAY, 9), "--team", "Engineering")
    assert not [m for m in fake_slack.workspace.messages(C_ENG) if "Out today" in (m.text or "")]
    cancel_from_the_list(client, ALICE)  # her day off is called off before Slack answers again
    run = JobRun.objects.get(job="out_today")
    JobRun.objects.filter(id=run.id).update(retry_at=run.retry_at - timedelta(hours=1))

    run_jobs(at(TUESDAY, 9, 5), "--team", "Engineering")

    [post] = [m for m in fake_slack.workspace.messages(C_ENG) if "Out today" in (m.text or "")]
    assert "<@U_DAVE>" in post.text and "<@U_ALICE>" not in post.text
    assert "<@U_ALICE>" not in json.dumps(post.blocks)
