"""The newest changes, held up end to end at their edges.

HR hears once a day, from the ledger watch, of a removed team's requests waiting more than 48 hours: an HR
person who asked for that leave themselves, a guest or deactivated fallback approver, no fallback approvers
at all, the team made again under its name, a watch retried after Slack lost an answer. Reject pressed on a
removed team's request in an approvals channel it shared with a team still configured, by that team's
approver and by HR, and on a request of a team made again. Balances across year ends worked out only
through the year they show. The console's name search folding accents, emoji and characters that draw
nothing; a person labelled by id when no name of theirs can be seen.
"""

import json
import unicodedata
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from django.core.management.base import CommandError
from hypothesis import HealthCheck, given, settings as hypothesis_settings, strategies as st

from approvals import block_ids as ids
from approvals import directory, job_messages, slack_directory
from approvals.config_types import ApproverSource, MemberSource, TeamConfig
from approvals.models import JobRun
from approvals.notifications import NOTICE_TRIES_IN_CALL
from approvals.rules import LedgerEntry, balance_for, entry_days_by_year
from approvals.slack_clients import background_client
from fake_slack.personas import C_ENG_APPROVALS, C_ENG_LEADS, C_GENERAL, C_OLD_APPROVALS, CAROL, DAVE
from fake_slack.workspace import User
from test_support.flows import (
    ALICE,
    BOB,
    ENGINEERING,
    HR,
    VACATION,
    click,
    dms_to,
    ephemerals_to,
    install_config,
    open_request_form,
    posted_requests,
    request_values,
    standard_config,
    submit_request,
)
from test_support.job_runs import post_entry, run_jobs

pytestmark = pytest.mark.django_db

WATCH = datetime(2031, 3, 10, 2, 30, tzinfo=timezone.utc)  # the ledger watch's run (after 02:00 UTC)
HR_TWO = "U0HRTWO01"
HR_GUEST = "U0HRGUEST"
HR_GONE = "U0HRGONE1"
REMOVED_TEAM_WORDS = "a team no longer in the configuration"


def add_person(fake_slack, user_id: str, name: str, real_name: str = "", email: str = "", **fields) -> User:
    person = User(user_id, name, real_name=real_name, email=email or f"{name}@example.com", **fields)
    with fake_slack.workspace.lock:
        fake_slack.workspace.users[user_id] = person
    return person


def design_request(user=ALICE, *, hours_before: float = 72, team: str = "Design", suffix: str = "") -> LedgerEntry:
    return LedgerEntry(id=f"design-{user}-{hours_before}{suffix}", user=user, team=team, leave_type="vacation",
                       start=date(2031, 4, 1), end=date(2031, 4, 2), start_half=None, end_half=None,
                       days=Decimal(2), status="pending")


def post_waiting(fake_slack, record: LedgerEntry, hours_before: float = 72, channel=C_ENG_APPROVALS) -> None:
    post_entry(fake_slack, record, channel=channel, ts=f"{(WATCH - timedelta(hours=hours_before)).timestamp():.6f}")


def told_of_removed_teams(fake_slack, user) -> list[str]:
    return [text for text in dms_to(fake_slack, user) if REMOVED_TEAM_WORDS in text]


def told(fake_slack, user) -> str:
    return "\n".join(ephemerals_to(fake_slack, user) + dms_to(fake_slack, user))


def reject_forms_opened(fake_slack) -> list[dict]:
    views = []
    for call in fake_slack.calls("views.open"):
        view = call.params["view"]
        view = json.loads(view) if isinstance(view, str) else view
        if view.get("callback_id") == ids.REJECT_MODAL:
            views.append(view)
    return views


# =====================================================================================================
# The ledger watch tells HR of a removed team's requests
# =====================================================================================================


def test_an_hr_person_who_asked_for_leave_in_a_removed_team_is_told_only_of_the_others_and_a_colleague_of_all(
        fake_slack):
    """Two HR people decide removed teams' requests. One of them (Hana Two) asked for leave in Design, since
    removed, as Alice did: Hannah hears of both; Hana Two of Alice's only, never of her own."""
    add_person(fake_slack, HR_TWO, "hana.two", "Hana Two")
    install_config(standard_config(fallback_approvers=(HR, HR_TWO)))
    post_waiting(fake_slack, design_request(ALICE))
    post_waiting(fake_slack, design_request(HR_TWO), 80)

    run_jobs(WATCH)

    [to_hannah] = told_of_removed_teams(fake_slack, HR)
    [to_hana] = told_of_removed_teams(fake_slack, HR_TWO)
    assert f"<@{ALICE}>" in to_hannah and f"<@{HR_TWO}>" in to_hannah, to_hannah
    assert f"<@{ALICE}>" in to_hana and f"<@{HR_TWO}>" not in to_hana, to_hana


def test_hr_whose_only_waiting_removed_team_request_is_their_own_is_told_nothing(fake_slack):
    install_config(standard_config(fallback_approvers=(HR,)))
    post_waiting(fake_slack, design_request(HR))

    run_jobs(WATCH)

    assert told_of_removed_teams(fake_slack, HR) == []


def test_a_guest_or_deactivated_fallback_approver_is_not_told_of_a_removed_teams_request_and_hr_is(fake_slack):
    add_person(fake_slack, HR_GUEST, "gia.guest", "Gia Guest", is_restricted=True)
    add_person(fake_slack, HR_GONE, "gone.hr", "Gone Hr", deleted=True)
    install_config(standard_config(fallback_approvers=(HR_GUEST, HR_GONE, HR)))
    post_waiting(fake_slack, design_request(ALICE))

    out = run_jobs(WATCH)

    assert len(told_of_removed_teams(fake_slack, HR)) == 1, out
    assert told_of_removed_teams(fake_slack, HR_GUEST) == []
    assert told_of_removed_teams(fake_slack, HR_GONE) == []
    assert [call for call in fake_slack.calls("chat.postMessage")
            if call.params.get("channel") in (HR_GUEST, HR_GONE)] == []


def test_with_no_fallback_approvers_the_watch_still_runs_and_tells_nobody(fake_slack):
    install_config(standard_config(fallback_approvers=()))
    post_waiting(fake_slack, design_request(ALICE))

    out = run_jobs(WATCH)

    assert "ledger_watch" in out and "HR told of removed teams" not in out, out
    assert JobRun.objects.get(job="ledger_watch").error in ("", None)
    assert not any(REMOVED_TEAM_WORDS in (call.params.get("text") or "")
                   for call in fake_slack.calls("chat.postMessage")), "someone was told of Design's request"


def test_a_team_made_again_under_its_name_has_its_waiting_requests_back_and_hr_is_not_told_of_them(fake_slack):
    """Design was removed, then made again under the same name: its waiting request is Design's again,
    decided by its approver, so it is no removed team's and HR is not DMed about it."""
    design = TeamConfig(name="Design", members=MemberSource(users=(CAROL,)), approvers=ApproverSource(users=(DAVE,)),
                        approvals_channel=C_OLD_APPROVALS, timezone="UTC")
    install_config(standard_config(teams=(ENGINEERING, design), fallback_approvers=(HR,)))
    post_waiting(fake_slack, design_request(CAROL), channel=C_OLD_APPROVALS)
    post_waiting(fake_slack, design_request(ALICE, team="Gone"))  # a team that is still removed: named

    run_jobs(WATCH)

    [to_hannah] = told_of_removed_teams(fake_slack, HR)
    assert "Gone" in to_hannah and f"<@{ALICE}>" in to_hannah, to_hannah
    assert "Design" not in to_hannah and f"<@{CAROL}>" not in to_hannah, to_hannah


def test_the_removed_team_reminder_slack_made_but_lost_the_answer_of_reaches_hr_once(fake_slack):
    """Slack fails HR's DM for a moment (the watch ends that tick and is retried), then makes it and the
    connection drops before its answer: Hannah has the reminder once, not twice."""
    install_config(standard_config(fallback_approvers=(HR,)))
    post_waiting(fake_slack, design_request(ALICE))
    # This tick every try fails; on the next Slack makes the DM and the answer is lost.
    fake_slack.fail("chat.postMessage", "internal_error", times=NOTICE_TRIES_IN_CALL)
    fake_slack.drop_connection("chat.postMessage", times=1)

    for minutes in (0, 5, 10, 15):
        run = JobRun.objects.filter(job="ledger_watch").first()
        if run is not None and run.retry_at is not None:
            JobRun.objects.filter(id=run.id).update(retry_at=run.retry_at - timedelta(hours=1))
        try:
            run_jobs(WATCH + timedelta(minutes=minutes))
        except CommandError:
            pass

    tries = [call for call in fake_slack.calls("chat.postMessage") if call.params.get("channel") == HR]
    assert [call.fault for call in tries if call.fault][-1:] == ["dropped"], tries
    made = [m for m in fake_slack.workspace.messages(HR) if REMOVED_TEAM_WORDS in (m.text or "")]
    assert len(made) == 1, [m.text for m in made]
    assert JobRun.objects.get(job="ledger_watch").finished_at is not None


# =====================================================================================================
# Reject on a removed team's request
# =====================================================================================================

APRIL_7, APRIL_9 = date(2031, 4, 7), date(2031, 4, 9)
# Sales shares Engineering's approvals channel; Dave approves for it.
SALES_SHARING = TeamConfig(name="Sales", members=MemberSource(users=(CAROL,)), approvers=ApproverSource(users=(DAVE,)),
                           approvals_channel=C_ENG_APPROVALS, announce_channel=C_GENERAL,
                           timezone="America/Los_Angeles")


def carols_sales_request(client, fake_slack, team: TeamConfig = SALES_SHARING):
    install_config(standard_config(teams=(team, ENGINEERING)))
    view = open_request_form(client, fake_slack, CAROL)
    response = submit_request(client, CAROL, view, request_values("vacation", APRIL_7, APRIL_9), view_id="V_CAROL",
                              view_hash="h-V_CAROL")
    assert response.status_code == 200, response.content
    posted = posted_requests(fake_slack, team.approvals_channel)[-1]
    assert posted.response["channel"] == team.approvals_channel
    return posted


def test_an_approver_of_the_team_sharing_the_channel_pressing_reject_on_a_removed_teams_request_is_told_at_once(
        client, fake_slack):
    posted = carols_sales_request(client, fake_slack)
    install_config(standard_config(teams=(ENGINEERING,)))  # Sales removed
    fake_slack.clear_calls()

    click(client, fake_slack, BOB, ids.REJECT_ACTION, posted)

    assert reject_forms_opened(fake_slack) == [], "Bob was asked for a reason for a request only HR decides"
    assert "no longer configured" in told(fake_slack, BOB), told(fake_slack, BOB)


def test_hr_pressing_reject_on_a_removed_teams_request_in_a_channel_shared_with_a_live_team_is_asked_for_a_reason(
        client, fake_slack):
    """The DM says a removed team's requests are HR's now, "Approve or Reject on each": Hannah presses
    Reject on Carol's Sales request, in #eng-approvals which Sales shared with Engineering. She is asked
    for her reason, not told she does not approve for Engineering."""
    posted = carols_sales_request(client, fake_slack)
    install_config(standard_config(teams=(ENGINEERING,)))  # Sales removed
    # A working day's cache: Engineering's approvers' channel and profiles were read (their DMs, the nudges).
    directory.fetch_channel_members(background_client(), C_ENG_LEADS)
    for approver in (BOB, DAVE, HR):
        directory.fetch_user(background_client(), approver)
    fake_slack.clear_calls()

    click(client, fake_slack, HR, ids.REJECT_ACTION, posted)

    assert len(reject_forms_opened(fake_slack)) == 1, told(fake_slack, HR)
    assert "Engineering" not in told(fake_slack, HR), told(fake_slack, HR)


def test_an_approver_of_a_team_made_again_under_its_name_is_asked_for_a_reason(client, fake_slack):
    """Sales removed, then made again with Bob approving: its waiting request is Sales's again, and Bob
    pressing Reject on it is asked for his reason."""
    sales = replace(SALES_SHARING, approvals_channel=C_OLD_APPROVALS)
    fake_slack.workspace.channels[C_OLD_APPROVALS].members.update({DAVE, BOB, HR})
    posted = carols_sales_request(client, fake_slack, sales)
    install_config(standard_config(teams=(ENGINEERING,)))  # removed
    install_config(standard_config(teams=(replace(sales, approvers=ApproverSource(users=(BOB,))), ENGINEERING)))
    fake_slack.clear_calls()

    click(client, fake_slack, BOB, ids.REJECT_ACTION, posted)

    assert len(reject_forms_opened(fake_slack)) == 1, told(fake_slack, BOB)
    assert "no longer configured" not in told(fake_slack, BOB)


def test_hr_pressing_reject_on_their_own_removed_team_request_is_told_nobody_decides_their_own(client, fake_slack):
    sales = replace(SALES_SHARING, members=MemberSource(users=(HR,)), approvals_channel=C_OLD_APPROVALS)
    fake_slack.workspace.channels[C_OLD_APPROVALS].members.update({DAVE, HR})
    install_config(standard_config(teams=(sales, ENGINEERING), fallback_approvers=(HR,)))
    view = open_request_form(client, fake_slack, HR)
    submit_request(client, HR, view, request_values("vacation", APRIL_7, APRIL_9), view_id="V_HR", view_hash="h-V_HR")
    posted = posted_requests(fake_slack, C_OLD_APPROVALS)[-1]
    install_config(standard_config(teams=(ENGINEERING,), fallback_approvers=(HR,)))
    fake_slack.clear_calls()

    click(client, fake_slack, HR, ids.REJECT_ACTION, posted)

    assert reject_forms_opened(fake_slack) == []
    assert "can't decide your own" in told(fake_slack, HR), told(fake_slack, HR)


# =====================================================================================================
# Balances across year ends, worked out through the year they show
# =====================================================================================================

WORKWEEK = (0, 1, 2, 3, 4)


@st.composite
def spanning_entries(draw):
    start = draw(st.dates(min_value=date(2029, 10, 1), max_value=date(2031, 12, 31)))
    end = start + timedelta(days=draw(st.integers(min_value=0, max_value=900)))
    days = Decimal(draw(st.integers(min_value=0, max_value=1400))) / 2
    split = ()
    if draw(st.booleans()):
        years = list(range(start.year, end.year + 1))
        shares = [Decimal(draw(st.integers(min_value=0, max_value=500))) / 2 for _ in years]
        if draw(st.booleans()):  # recorded as counted when sent: it adds up
            shares[-1] = days - sum(shares[:-1], Decimal(0))
        split = tuple(zip(years, shares))
    status = draw(st.sampled_from(["approved", "pending"]))
    holidays = frozenset(draw(st.sets(st.dates(min_value=start, max_value=end), max_size=8)))
    entry = LedgerEntry(id="e", user=ALICE, team="Engineering", leave_type="vacation", start=start, end=end,
                        start_half=draw(st.sampled_from([None, "pm"])), end_half=draw(st.sampled_from([None, "am"])),
                        days=days, status=status, days_by_year=split)
    return entry, holidays


@hypothesis_settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spanning_entries())
def test_each_years_balance_counts_the_share_of_leave_that_crosses_year_ends_as_the_whole_split_says(case):
    entry, holidays = case
    whole = entry_days_by_year(entry, WORKWEEK, holidays)

    for year in range(entry.start.year - 1, entry.end.year + 2):
        balance = balance_for(ALICE, VACATION, year, entries=[entry], adjustments=[], workweek=WORKWEEK,
                              holiday_dates=holidays)
        counted = balance.taken if entry.status == "approved" else balance.pending
        assert counted == whole.get(year, Decimal(0)), (year, counted, whole)
    assert sum(whole.values(), Decimal(0)) == entry.days


def test_leave_from_christmas_to_february_two_years_on_counts_each_year_as_its_working_days():
    entry = LedgerEntry(id="long", user=ALICE, team="Engineering", leave_type="vacation", start=date(2030, 12, 30),
                        end=date(2032, 1, 2), start_half=None, end_half=None, days=Decimal(5), status="approved")

    by_year = {year: balance_for(ALICE, VACATION, year, entries=[entry], adjustments=[], workweek=WORKWEEK,
                                 holiday_dates=frozenset()).taken for year in (2030, 2031, 2032)}

    # Mon 30 and Tue 31 Dec 2030: 2 days; the 3 left all fall in 2031 (capped by what is left); none in 2032.
    assert by_year == {2030: Decimal(2), 2031: Decimal(3), 2032: Decimal(0)}


# =====================================================================================================
# The console's name search
# =====================================================================================================


@pytest.fixture
def people(fake_slack):
    add_person(fake_slack, "U0ZOE0001", "zoe", unicodedata.normalize("NFD", "Zoë Ávila"), "zoe@example.com")
    add_person(fake_slack, "U0DEV0001", "dev.\u200dteam", "Priya 👩\u200d💻 Rao", "priya@example.com")
    add_person(fake_slack, "U0KEN0001", "kenji", "Ｋｅｎｊｉ Ｓａｔｏ", "kenji@example.com")
    return slack_directory.directory_refresh(background_client())


def ids_of(found) -> list[str]:
    return [person.id for person in found]


def test_a_name_typed_with_composed_accents_finds_the_one_slack_holds_decomposed(people):
    typed = unicodedata.normalize("NFC", "zoë á")
    assert ids_of(slack_directory.people_matching(typed, directory=people)) == ["U0ZOE0001"]
    assert ids_of(slack_directory.people_matching(unicodedata.normalize("NFC", "ÁVILA"), directory=people)) == [
        "U0ZOE0001"]


def test_an_emoji_joined_by_a_zero_width_joiner_is_found_whether_the_joiner_is_typed_or_not(people):
    assert ids_of(slack_directory.people_matching("👩\u200d💻", directory=people)) == ["U0DEV0001"]
    assert ids_of(slack_directory.people_matching("priya 👩💻", directory=people)) == ["U0DEV0001"]


def test_a_query_of_only_characters_that_draw_nothing_suggests_nobody(people):
    assert slack_directory.people_matching("\u200d\u200b\u3164", directory=people) == []


def test_a_handle_typed_with_a_full_width_at_sign_is_found_as_with_a_plain_one(people):
    """A Japanese keyboard in full-width mode types "＠ｋｅｎｊｉ": the same as "@kenji", which finds Kenji."""
    assert ids_of(slack_directory.people_matching("@kenji", directory=people)) == ["U0KEN0001"]
    assert ids_of(slack_directory.people_matching("＠ｋｅｎｊｉ", directory=people)) == ["U0KEN0001"]


def test_a_query_with_two_spaces_between_the_words_finds_the_name_with_one(people):
    assert ids_of(slack_directory.people_matching("kenji  sato", directory=people)) == ["U0KEN0001"]


# =====================================================================================================
# Labels, and the reminder's words
# =====================================================================================================


def test_a_person_is_labelled_by_their_first_visible_name_else_by_their_id():
    assert slack_directory.Person(id="U1", name="bob.b", real_name="\u200d", display_name="\u3164").label == "bob.b"
    assert slack_directory.Person(id="U2", name="\u200b", real_name=" ", display_name="\u3164").label == "U2"
    assert slack_directory.Person(id="U3", name="x", real_name="Ana Ruiz").label == "Ana Ruiz"


def test_the_removed_team_reminder_escapes_the_teams_name_and_links_each_request():
    entry = replace(design_request(ALICE), team="R&D <ops>", channel=C_OLD_APPROVALS,
                    ts=f"{(WATCH - timedelta(days=3)).timestamp():.6f}")

    text = job_messages.nudge_text("R&D <ops>", [entry], {"vacation": VACATION}, WATCH, WATCH.date(),
                                   team_removed=True)

    assert "R&amp;D &lt;ops&gt;" in text and "<ops>" not in text, text
    assert f"<@{ALICE}>" in text and REMOVED_TEAM_WORDS in text, text
