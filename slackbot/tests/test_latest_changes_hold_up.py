"""The latest changes, held up end to end at their edges.

People of another organisation (Slack Connect) and Acme's own guests on App Home and `/timeoff who`, with a
passing fault reading Acme's own workspace ids; Reject pressed by a listed approver the cache knows cannot
decide, and by those it knows can (or knows nothing of, or knew under an earlier release); the one-message
re-read of a request met by empty pages, for a decision and for a withdrawal; a part-hour `tz_offset` in
either season; an entry's days split by year, and day counts written as recorded; console names compared
after NFKC; a first Socket Mode delivery.
"""

import json
import time
import unicodedata
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core.cache import cache
from hypothesis import HealthCheck, given, settings as hypothesis_settings, strategies as st
from slack_sdk.socket_mode.request import SocketModeRequest

from approvals import block_ids as ids
from approvals import directory, rules, slack_directory
from approvals.block_kit import days_text
from approvals.config_fields import has_visible_text
from approvals.config_types import ApproverSource
from approvals.rules import LedgerEntry, balance_for, days_by_year, entry_days_by_year
from approvals.slack_clients import background_client
from fake_slack.personas import C_ENG, C_ENG_APPROVALS, C_ENG_LEADS
from fake_slack.workspace import User
from slackbot.tests.test_people_from_other_workspaces import (
    OTHER_ORGANISATION,
    PAT,
    add_partner,
    alice_is_away_this_week,
    answered,
    open_home,
    partner_command,
)
from slackbot.tests.test_this_sessions_changes_hold_up import add_person, answering, cursor_at, empty_pages_then
from test_support.flows import (
    ALICE,
    BOB,
    DAVE,
    ENGINEERING,
    HR,
    VACATION,
    buttons_in,
    click,
    dms_to,
    ephemerals_to,
    install_config,
    posted_requests,
    press,
    request_status,
    request_time_off,
    standard_config,
)
from test_support.home_views import shown_text
from test_support.job_runs import post_entry

pytestmark = pytest.mark.django_db

GUEST = "U0GUESTAC1"  # Acme's own multi-channel guest (a contractor): not of another organisation
WORKWEEK = (0, 1, 2, 3, 4)


def add_guest(fake_slack, *channels: str, user: str = GUEST) -> User:
    person = User(user, "gia.contractor", "Gia (contractor)", "America/Los_Angeles", email="gia@contractor.example",
                  is_restricted=True)
    with fake_slack.workspace.lock:
        fake_slack.workspace.users[user] = person
        for channel in channels:
            fake_slack.workspace.channels[channel].members.add(user)
    return person


def reject_forms_opened(fake_slack) -> list[dict]:
    views = []
    for call in fake_slack.calls("views.open"):
        view = call.params["view"]
        view = json.loads(view) if isinstance(view, str) else view
        if view.get("callback_id") == ids.REJECT_MODAL:
            views.append(view)
    return views


def told(fake_slack, user: str) -> str:
    return "\n".join(ephemerals_to(fake_slack, user) + dms_to(fake_slack, user))


# =====================================================================================================
# People of another organisation, and Acme's own guests, on App Home and `/timeoff who`
# =====================================================================================================


def test_app_home_of_someone_of_another_organisation_shows_no_team_leave_after_slack_failed_to_name_our_workspace(
        client, fake_slack, no_sleeping):
    """Pat (Globex) sits in #engineering and opens App Home while Slack fails for a moment to say which
    workspace is Acme's (auth.test). That says nothing of Pat: the tab that is published shows none of
    Engineering's leave, and says why time off here is not for Pat."""
    add_partner(fake_slack, C_ENG)
    install_config()
    alice_is_away_this_week(client, fake_slack)
    cache.delete_many([directory.WORKSPACE_ID_KEY, directory.ENTERPRISE_ID_KEY, directory.BOT_ID_KEY,
                       directory.profile_key(PAT), directory.timezone_key(PAT)])
    fake_slack.fail("auth.test", "internal_error", times=2)

    home = open_home(client, fake_slack, PAT, "Ev_PAT_HOME_BLIP")

    shown = shown_text(home)
    assert f"<@{ALICE}>" not in shown and "Vacation" not in shown, shown
    assert OTHER_ORGANISATION in shown, shown


def test_a_passing_fault_naming_our_workspace_is_not_remembered_as_pat_being_one_of_ours(client, fake_slack):
    """The app reads Pat's profile while auth.test fails for a moment: nothing is remembered of Pat, so
    the next look (Slack answering again) knows Pat is of another organisation, not Acme's for a day."""
    add_partner(fake_slack, C_ENG)
    install_config()
    cache.delete_many([directory.WORKSPACE_ID_KEY, directory.ENTERPRISE_ID_KEY, directory.BOT_ID_KEY])
    fake_slack.fail("auth.test", "internal_error", times=1)

    first = directory.fetch_user(background_client(), PAT)

    assert first is None, first  # Slack could not say just now
    cached = directory.cached_profile(PAT)
    assert cached is None or cached["external"] is True, cached
    assert directory.fetch_user(background_client(), PAT)["external"] is True
    assert directory.is_outsider(directory.cached_profile(PAT))


def test_app_home_of_a_guest_in_the_team_still_shows_who_of_the_team_is_out(client, fake_slack):
    """Gia is Acme's own guest (a contractor, `is_restricted`) in #engineering: guests may request leave
    like the team's other members (README), so App Home shows her Engineering's week, not the note for
    people of another organisation."""
    add_guest(fake_slack, C_ENG)
    install_config()
    alice_is_away_this_week(client, fake_slack)

    home = open_home(client, fake_slack, GUEST, "Ev_GUEST_HOME")

    shown = shown_text(home)
    assert OTHER_ORGANISATION not in shown, shown
    assert f"<@{ALICE}>" in shown, shown


def test_who_is_out_answers_a_guest_of_the_team_with_the_teams_leave(client, fake_slack):
    """Gia (Acme's guest in #engineering) asks `/timeoff who` after the app read her profile: she is told
    who of Engineering is out, as any member is."""
    add_guest(fake_slack, C_ENG)
    install_config()
    alice_is_away_this_week(client, fake_slack)
    assert directory.fetch_user(background_client(), GUEST)["guest"] is True
    fake_slack.clear_calls()

    response = partner_command(client, "who", channel=C_ENG, user=GUEST)

    heard = "\n".join([answered(response), told(fake_slack, GUEST)])
    assert OTHER_ORGANISATION not in heard, heard
    assert f"<@{ALICE}>" in heard or "Alice" in heard, heard


# =====================================================================================================
# Reject pressed by a listed approver: refused at once only when the cache knows they cannot decide
# =====================================================================================================


def test_a_guest_in_the_approvers_channel_pressing_reject_is_told_at_once_and_asked_for_no_reason(
        client, fake_slack):
    """Gia, Acme's guest, was invited to #eng-leads (the approvers channel): guests do not decide staff's
    leave. The app knows who she is, so Reject tells her she is no approver for Engineering instead of
    asking for a reason; Alice's request stays pending."""
    add_guest(fake_slack, C_ENG_LEADS, C_ENG_APPROVALS)
    install_config()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    assert directory.fetch_user(background_client(), GUEST)["guest"] is True
    fake_slack.clear_calls()

    assert click(client, fake_slack, GUEST, ids.REJECT_ACTION, posted).status_code == 200

    assert reject_forms_opened(fake_slack) == []
    assert "not an approver for Engineering" in told(fake_slack, GUEST), told(fake_slack, GUEST)
    assert request_status(fake_slack)["status"] == "pending"


def test_an_approver_the_cache_knows_nothing_of_is_asked_for_a_reason(client, fake_slack):
    """Dave sits in #eng-leads; his profile is not in the cache just now (it lapsed). Knowing nothing is
    no reason to refuse: Reject opens the reason form, and the reason he gives rejects the request."""
    install_config()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    cache.delete_many([directory.profile_key(DAVE), directory.timezone_key(DAVE)])
    fake_slack.clear_calls()

    assert click(client, fake_slack, DAVE, ids.REJECT_ACTION, posted).status_code == 200

    assert len(reject_forms_opened(fake_slack)) == 1, told(fake_slack, DAVE)
    assert "not an approver" not in told(fake_slack, DAVE)


def test_an_approver_whose_profile_an_earlier_release_cached_is_asked_for_a_reason(client, fake_slack):
    """During a rolling deploy the cache holds Dave's profile as the release before wrote it, without the
    "external" and "guest" it now records: he is one of Acme's approvers, and Reject asks for his reason."""
    install_config()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    cache.set(directory.profile_key(DAVE), {"tz": "America/New_York", "deleted": False, "bot": False},
              directory.TIMEZONE_TTL_SECONDS)
    fake_slack.clear_calls()

    assert click(client, fake_slack, DAVE, ids.REJECT_ACTION, posted).status_code == 200

    assert len(reject_forms_opened(fake_slack)) == 1, told(fake_slack, DAVE)
    assert "not an approver" not in told(fake_slack, DAVE)


def test_hr_who_is_also_a_teams_listed_approver_is_asked_for_a_reason(client, fake_slack):
    """Hannah (HR, a fallback approver) is also one of Engineering's listed approvers, and the app knows her
    profile: Reject asks for her reason like any approver's."""
    team = replace(ENGINEERING, approvers=ApproverSource(users=(BOB, HR), channel=C_ENG_LEADS))
    install_config(standard_config(teams=(team,)))
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    assert directory.fetch_user(background_client(), HR) is not None
    fake_slack.clear_calls()

    assert click(client, fake_slack, HR, ids.REJECT_ACTION, posted).status_code == 200

    assert len(reject_forms_opened(fake_slack)) == 1, told(fake_slack, HR)
    assert "not an approver" not in told(fake_slack, HR)


# =====================================================================================================
# The one-message re-read of a request met by empty pages
# =====================================================================================================


def test_four_empty_pages_before_the_request_do_not_hold_up_an_approval(client, fake_slack, attempts):
    """Slack answers the re-read with four empty pages, more to come, then the request: the approval is
    recorded at the first try, and Bob hears nothing of a deleted request."""
    install_config()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    attempts.clear()

    with answering(fake_slack, empty_pages_then(4)):
        assert click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted).status_code == 200

    assert request_status(fake_slack)["status"] == "approved"
    assert [a for a in attempts if str(a[2]).endswith("FAILED")] == [], attempts
    assert "no longer exists" not in told(fake_slack, BOB)


def test_an_approval_of_a_deleted_request_whose_last_page_is_empty_is_told_it_is_gone(client, fake_slack,
                                                                                     no_sleeping):
    """Alice's request message was deleted and Slack's answer to the re-read is an empty page with nothing
    more to come: that is the end of the channel, not a passing fault. Bob is told the request no longer
    exists (once), and nothing is rewritten."""
    install_config()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    fake_slack.workspace.delete_message(fake_slack.workspace.find_message(C_ENG_APPROVALS, posted.response["ts"]))
    fake_slack.clear_calls()

    def nothing_more(method, params, body):
        if method == "conversations.history" and str(params.get("limit")) == "1":
            return {**body, "messages": [], "has_more": False, "response_metadata": {"next_cursor": ""}}
        return body

    with answering(fake_slack, nothing_more):
        click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted)

    gone = [text for text in ephemerals_to(fake_slack, BOB) + dms_to(fake_slack, BOB) if "no longer exists" in text]
    assert len(gone) == 1, told(fake_slack, BOB)
    assert [c for c in fake_slack.calls("chat.update") if c.params.get("channel") == C_ENG_APPROVALS] == []


def test_withdrawing_while_slack_answers_the_re_read_only_with_empty_pages_is_not_called_deleted(
        client, fake_slack, no_sleeping):
    """Alice withdraws her request from her receipt while Slack answers the re-read of its message with
    empty pages, more to come, page after page. Her request is still there: she is never told it was
    deleted, it is not marked withdrawn behind her back, and she hears that it was not done."""
    install_config()
    request_time_off(client, fake_slack, ALICE)
    receipt = [c for c in fake_slack.calls("chat.postMessage")
               if c.params.get("channel") == ALICE and buttons_in(c.params.get("blocks"))][0]
    fake_slack.clear_calls()

    def always_empty(method, params, body):
        if method != "conversations.history" or str(params.get("limit")) != "1" or not body.get("messages"):
            return body
        return {**body, "messages": [], "has_more": True,
                "response_metadata": {"next_cursor": cursor_at(body["messages"][0]["ts"])}}

    with answering(fake_slack, always_empty):
        press(client, ALICE, receipt.params["blocks"], ids.WITHDRAW_ACTION, channel=receipt.response["channel"],
              ts=receipt.response["ts"])

    heard = told(fake_slack, ALICE)
    assert "no longer exists" not in heard and "deleted" not in heard, heard
    assert request_status(fake_slack)["status"] == "pending"
    assert "could not withdraw" in heard and "unchanged" in heard, heard


# =====================================================================================================
# A part-hour offset without a zone: the zone at that offset now
# =====================================================================================================


class _At:
    """`datetime` as directory sees it, with `now` fixed at an instant."""

    def __init__(self, moment: datetime):
        self.moment = moment

    def now(self, tz=None):
        return self.moment.astimezone(tz) if tz is not None else self.moment.replace(tzinfo=None)


@pytest.mark.parametrize("moment, expected", [
    (datetime(2031, 1, 15, 12, 0, tzinfo=timezone.utc), "Australia/Adelaide"),  # South Australia's summer
    (datetime(2031, 7, 15, 12, 0, tzinfo=timezone.utc), "Australia/Lord_Howe"),  # Lord Howe's winter
])
def test_someone_at_ten_and_a_half_hours_ahead_is_placed_where_that_is_the_time_now(fake_slack, monkeypatch,
                                                                                    moment, expected):
    """Slack gives Lee only `tz_offset` +10:30 (a profile still being set up). In January that is
    Adelaide's summer time; in July Adelaide is at +9:30 and +10:30 is Lord Howe's: Lee's day must start
    and end where Slack says it does, so the zone taken keeps +10:30 at that moment."""
    person = add_person(fake_slack, "W0PLUS1030", "lee", "Lee Part", "lee@example.com")
    original = person.to_api

    def to_api():
        api = original()
        api.pop("tz", None)
        api.update(tz_offset=37800)
        return api

    person.to_api = to_api
    monkeypatch.setattr(directory, "datetime", _At(moment))

    zone = directory.fetch_timezone(background_client(), "W0PLUS1030")

    assert zone == expected
    assert moment.astimezone(ZoneInfo(zone)).utcoffset() == timedelta(hours=10, minutes=30)


# =====================================================================================================
# An entry's days split by year; day counts written as recorded
# =====================================================================================================


def old_split(entry: LedgerEntry, workweek, holiday_dates) -> dict[int, Decimal]:
    """The split as the release before counted it: the whole calendar first, then shared out by year."""
    if entry.start.year >= entry.end.year:
        return {entry.start.year: entry.days}
    recorded = dict(entry.days_by_year)
    if (set(recorded) == set(range(entry.start.year, entry.end.year + 1))
            and sum(recorded.values(), Decimal(0)) == entry.days):
        return recorded
    calendar = days_by_year(entry, workweek, holiday_dates)
    years = sorted(calendar)
    left, result = entry.days, {}
    for year in years[:-1]:
        share = max(Decimal(0), min(calendar[year], left))
        result[year] = share
        left -= share
    result[years[-1]] = left
    return result


@st.composite
def entries(draw):
    start = draw(st.dates(min_value=date(2024, 1, 1), max_value=date(2032, 12, 31)))
    end = start + timedelta(days=draw(st.integers(min_value=0, max_value=1300)))
    start_half = draw(st.sampled_from([None, "pm"]))
    end_half = draw(st.sampled_from([None, "am"]))
    days = Decimal(draw(st.integers(min_value=0, max_value=1800))) / 2
    if draw(st.booleans()):
        days = draw(st.decimals(min_value=0, max_value=2000, places=3, allow_nan=False, allow_infinity=False))
    split = ()
    if draw(st.booleans()):
        years = range(start.year, end.year + 1)
        split = tuple((year, Decimal(draw(st.integers(min_value=0, max_value=400))) / 2) for year in years)
        if draw(st.booleans()):  # a split that adds up: recorded when it was sent
            split = split[:-1] + ((end.year, days - sum((d for _, d in split[:-1]), Decimal(0))),)
    entry = LedgerEntry(id="e", user=ALICE, team="Engineering", leave_type="vacation", start=start, end=end,
                        start_half=start_half, end_half=end_half, days=days, status="approved",
                        days_by_year=split)
    workweek = tuple(sorted(draw(st.sets(st.integers(min_value=0, max_value=6), min_size=1))))
    holidays = frozenset(draw(st.sets(st.dates(min_value=start, max_value=end), max_size=12)))
    return entry, workweek, holidays


@hypothesis_settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(entries())
def test_an_entrys_days_split_by_year_always_add_up_to_its_days_and_count_as_before(case):
    """Whatever the entry (across several year ends, half days, holidays, a workweek of any days, a total
    larger or smaller than the calendar says, a split recorded with it or not): every year it touches gets
    a share, the shares add up to its days, none is negative when the days are not, and each is what the
    release before counted, so no balance moves on upgrade."""
    entry, workweek, holidays = case

    split = entry_days_by_year(entry, workweek, holidays)

    assert set(split) == set(range(entry.start.year, entry.end.year + 1))
    assert sum(split.values(), Decimal(0)) == entry.days
    if not entry.days_by_year:
        assert all(share >= 0 for share in split.values()), split
    assert split == old_split(entry, workweek, holidays)


def test_the_balance_of_leave_written_by_hand_until_9999_with_its_working_days_counted_comes_quickly():
    """Another tool wrote leave for Alice from this January "until 9999", with the working days it takes
    counted honestly. Her balance is worked out for every answer that shows it (`/timeoff balance`, App
    Home, each request's check): it must not take seconds each time."""
    start = date(2031, 1, 6)
    end = date(9999, 12, 31)
    endless = LedgerEntry(id="endless", user=ALICE, team="Engineering", leave_type="vacation", start=start, end=end,
                          start_half=None, end_half=None, days=Decimal(0), status="approved")
    endless = replace(endless, days=rules.request_days(endless, WORKWEEK, frozenset()))

    began = time.perf_counter()
    balance = balance_for(ALICE, VACATION, 2031, entries=[endless], adjustments=[], workweek=WORKWEEK,
                          holiday_dates=frozenset())
    took = time.perf_counter() - began

    assert balance.taken == 258  # the working days of 2031 from Monday 6 January (1 January is a Wednesday)
    assert took < 1.0, f"one balance took {took:.1f} s"


def test_app_home_writes_a_hand_written_day_count_in_full_never_in_scientific_notation(client, fake_slack):
    """A record another tool wrote says Alice's leave next month takes 1234567 days (a typo). App Home lists
    it with that number written out, as recorded: not "1.23457e+06"."""
    install_config()
    today = datetime.now(ZoneInfo("America/Los_Angeles")).date()
    start = date(today.year + 1, 2, 3)
    post_entry(fake_slack, LedgerEntry(id="typo", user=ALICE, team="Engineering", leave_type="vacation",
                                       start=start, end=start + timedelta(days=2), start_half=None, end_half=None,
                                       days=Decimal(1234567), status="approved", decided_by=BOB,
                                       decided_at=1790000000))

    from test_support.flows import open_app_home

    shown = shown_text(open_app_home(client, fake_slack, ALICE, "Ev_ALICE_HOME_TYPO"))

    assert "1234567 working days" in shown, shown
    assert "e+" not in shown, shown


@hypothesis_settings(max_examples=200, deadline=None)
@given(st.decimals(min_value=0, max_value=10 ** 9, places=6, allow_nan=False, allow_infinity=False))
def test_a_day_count_is_written_as_the_number_it_is(value):
    """"1 working day", "2.5 working days", "0.125 working days": the number read back is the number
    recorded, never rounded, never in scientific notation, singular for exactly one day."""
    text = days_text(value)
    number, words = text.split(" ", 1)

    assert "e" not in number.lower(), text
    assert Decimal(number) == value, text
    assert words == ("working day" if value == 1 else "working days"), text


def test_a_day_count_recorded_as_a_float_reads_as_its_shortest_decimal():
    """Metadata written by an earlier release holds floats: 1.0 is one working day, 0.1 is 0.1 (not
    0.1000000000000000055511151231257827)."""
    assert days_text(1.0) == "1 working day"
    assert days_text(0.1) == "0.1 working days"
    assert days_text(Decimal("3.50")) == "3.5 working days"


# =====================================================================================================
# Console names compared after NFKC
# =====================================================================================================


def test_the_consoles_suggestions_find_a_name_slack_holds_decomposed_as_hr_types_it(fake_slack):
    """Slack holds "José Ruiz" as J o s e + a combining accent (as macOS often writes it). HR types "José"
    with one é into the console's people search: it is the same name on screen, so José is suggested,
    as typing his whole name finds him."""
    add_person(fake_slack, "U0JOSE001", "jruiz", unicodedata.normalize("NFD", "José Ruiz"), "jose@example.com")
    found_directory = slack_directory.directory_refresh(background_client())

    typed = unicodedata.normalize("NFC", "José")
    suggested = slack_directory.people_matching(typed, directory=found_directory)

    assert slack_directory.person_resolve(typed + " Ruiz", directory=found_directory).id == "U0JOSE001"
    assert [p.id for p in suggested] == ["U0JOSE001"], suggested


def test_a_name_slack_holds_in_full_width_letters_is_found_as_hr_types_it(fake_slack):
    """A name in full-width letters (as a Japanese keyboard may type it) is the same name as the one HR
    types in plain letters."""
    add_person(fake_slack, "U0KENJI01", "kenji", "Ｋｅｎｊｉ Ｓａｔｏ", "kenji@example.com")
    found_directory = slack_directory.directory_refresh(background_client())

    assert slack_directory.person_resolve("Kenji Sato", directory=found_directory).id == "U0KENJI01"


def test_someone_whose_every_name_draws_nothing_is_labelled_by_something_a_reader_can_see(fake_slack):
    """Someone's real name, display name and handle are all Hangul fillers (they draw nothing): the console
    cannot show a blank where a person is named, so it names them by their Slack id."""
    add_person(fake_slack, "U0BLANK01", "\u3164", "\u3164\u3164", "")
    found_directory = slack_directory.directory_refresh(background_client())

    label = found_directory.person_label("U0BLANK01")

    assert has_visible_text(label), repr(label)
    assert found_directory.person("U0BLANK01").initials == "?"


# =====================================================================================================
# Socket Mode: a first delivery
# =====================================================================================================


def test_a_first_event_delivery_over_socket_mode_is_handled_as_the_first_not_as_a_retry(fake_slack, monkeypatch):
    """Slack's first delivery of an event over Socket Mode says `retry_attempt` 0; over HTTP it carries no
    retry header at all. Both reach the handler as a first delivery; a real retry says which it is."""
    from slackbot import routing, socket_mode
    from test_support.slack_requests import event_envelope

    seen = []
    real = routing.dispatch_event

    def dispatch(envelope, retry_num=None):
        seen.append(retry_num)
        return real(envelope, retry_num=retry_num)

    monkeypatch.setattr(routing, "dispatch_event", dispatch)
    envelope = event_envelope({"type": "app_home_opened", "user": ALICE, "tab": "home"}, event_id="Ev_SOCK_FIRST")

    first = socket_mode.answer(SocketModeRequest("events_api", "env-first", envelope, retry_attempt=0))
    again = socket_mode.answer(SocketModeRequest("events_api", "env-again", envelope, retry_attempt=2))

    assert first is not None and first.envelope_id == "env-first"
    assert again is not None and again.envelope_id == "env-again"
    assert seen == [None, "2"]
