"""Today's changes, tried the way real Slack and real HR would try them.

- Slack's Retry-After kept for the whole app (slack_pauses, PatientWebClient): a 429 without Retry-After,
  with "0", with a value no clock can hold; the cache failing one way or another.
- Someone who left (a deactivated account): "out today" and the weekly digest when Slack cannot say who
  left (users.info rate-limited, failing, unreachable); someone reactivated; a requester who left is told
  nothing; the Setup page when approvers and HR left while nothing was pending; a name typed in the console
  that a current and a former person share.
- Team merges in the console with names that differ by case or accents, and the export imported again.

What is read: the calls that reached the fake Slack, the HTTP answers, the console's pages.
"""

import io
import json
from contextlib import contextmanager
from dataclasses import replace
from datetime import date, datetime, time as clock_time
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from slack_sdk.errors import SlackApiError

from approvals import slack_directory, slack_pauses
from approvals.block_kit import mention
from approvals.config_store import invalidate_config
from approvals.config_types import ApproverSource, MemberSource, TeamConfig
from approvals.models import Team, WorkspacePolicy
from approvals.rules import LedgerEntry
from approvals.slack_clients import background_client, locked_write_client
from fake_slack.personas import C_ENG, C_ENG_APPROVALS, C_GENERAL
from test_support.console_pages import form_as_opened, page_text
from test_support.flows import (
    ALICE,
    BOB,
    ENGINEERING,
    HR,
    dms_to,
    install_config,
    request_time_off,
    standard_config,
)
from test_support.job_runs import post_entry, posts_in, run_jobs
from test_support.slack_requests import event_envelope, post_event

pytestmark = pytest.mark.django_db

LA = ZoneInfo("America/Los_Angeles")
# 2031, clear of US/CA holidays: Mon 10 – Wed 12 March.
MONDAY, TUESDAY, WEDNESDAY = date(2031, 3, 10), date(2031, 3, 11), date(2031, 3, 12)
ENG = replace(ENGINEERING, digest_time=clock_time(9, 0))
BOB_ALONE = replace(ENG, approvers=ApproverSource(users=(BOB,)))


# --- Slack's pause, for the whole app ---------------------------------------------------------------------


@pytest.fixture
def clock(pause_clock):
    return pause_clock


@contextmanager
def answered_429(fake_slack, method: str, headers: dict, *, times: int = 1):
    """`method` answered HTTP 429 with exactly these headers (none, "0", a huge value…), the first `times`
    times; yields the params of the calls that met it (the fake records only the calls it answered)."""
    real_handle = fake_slack.handle
    met = []

    def handle(name, params, request_headers):
        if name == method and len(met) < times:
            met.append(params)
            return 429, dict(headers), {"ok": False, "error": "ratelimited"}
        return real_handle(name, params, request_headers)

    fake_slack.handle = handle
    try:
        yield met
    finally:
        del fake_slack.handle


def a_message() -> str:
    return background_client().chat_postMessage(channel=C_ENG_APPROVALS, text="a request")["ts"]


def answered(fake_slack, method: str) -> list[str]:
    return [call.params.get("text") for call in fake_slack.calls(method) if call.status == 200]


def test_a_429_without_retry_after_makes_other_calls_wait_about_a_second_not_forever(fake_slack, clock):
    ts = a_message()
    with answered_429(fake_slack, "chat.update", {}) as met:
        with pytest.raises(SlackApiError):
            locked_write_client().chat_update(channel=C_ENG_APPROVALS, ts=ts, text="approved")
    background_client().chat_update(channel=C_ENG_APPROVALS, ts=ts, text="receipt")
    assert len(met) == 1
    assert answered(fake_slack, "chat.update") == ["receipt"]
    assert len(clock.waits) == 1 and 0 < clock.waits[0] <= 1.01, clock.waits


def test_a_retry_after_of_zero_holds_nobody_for_long(fake_slack, clock):
    ts = a_message()
    with answered_429(fake_slack, "chat.update", {"Retry-After": "0"}):
        with pytest.raises(SlackApiError):
            locked_write_client().chat_update(channel=C_ENG_APPROVALS, ts=ts, text="approved")
    background_client().chat_update(channel=C_ENG_APPROVALS, ts=ts, text="receipt")
    assert answered(fake_slack, "chat.update") == ["receipt"]
    assert sum(clock.waits) <= 1.01, clock.waits


@pytest.mark.parametrize("value", ["3600", "99999999999", "999999999999999999999999"])
def test_a_huge_retry_after_neither_crashes_nor_puts_a_worker_to_sleep(fake_slack, clock, value):
    with answered_429(fake_slack, "chat.postMessage", {"Retry-After": value}) as met:
        with pytest.raises(SlackApiError) as raised:
            background_client().chat_postMessage(channel=C_GENERAL, text="first")
        assert raised.value.response.status_code == 429
        # The next call is made at once (Slack may answer it), never slept on for hours or years.
        background_client().chat_postMessage(channel=C_GENERAL, text="second")
    assert len(met) == 1
    assert clock.waits == []
    assert answered(fake_slack, "chat.postMessage") == ["second"]
    # Slack answered after the pause: it is over for everyone.
    assert slack_pauses.seconds_left("chat.postMessage") == 0


def test_a_retry_after_that_is_not_whole_seconds_is_kept_as_a_short_pause(fake_slack, clock):
    ts = a_message()
    with answered_429(fake_slack, "chat.update", {"Retry-After": "2.5"}):
        with pytest.raises(SlackApiError):
            locked_write_client().chat_update(channel=C_ENG_APPROVALS, ts=ts, text="approved")
    background_client().chat_update(channel=C_ENG_APPROVALS, ts=ts, text="receipt")
    assert answered(fake_slack, "chat.update") == ["receipt"]
    assert sum(clock.waits) <= 1.01, clock.waits


def test_a_pause_on_one_method_does_not_hold_dms_or_profile_reads(fake_slack, clock):
    fake_slack.rate_limit("chat.update", retry_after=8)
    ts = a_message()
    with pytest.raises(SlackApiError):
        locked_write_client().chat_update(channel=C_ENG_APPROVALS, ts=ts, text="approved")
    background_client().chat_postMessage(channel=ALICE, text="your receipt")
    background_client().users_info(user=ALICE)
    assert clock.waits == []
    assert slack_pauses.seconds_left("chat.update") == pytest.approx(8, abs=0.5)


def test_a_cache_that_takes_the_pause_but_cannot_read_it_back_makes_no_call_fail(fake_slack, clock, monkeypatch):
    fake_slack.rate_limit("chat.postMessage", retry_after=2)
    with pytest.raises(SlackApiError):
        locked_write_client().chat_postMessage(channel=C_GENERAL, text="first")

    def down(*args, **kwargs):
        raise ConnectionError("cache down")

    monkeypatch.setattr(cache, "get", down)
    monkeypatch.setattr(cache, "delete", down)
    response = background_client().chat_postMessage(channel=C_GENERAL, text="second")
    assert response["ok"] is True
    assert answered(fake_slack, "chat.postMessage") == ["second"]


# --- Someone left: out today and the weekly digest --------------------------------------------------------


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=LA)


def leave(user: str, start=MONDAY, end=WEDNESDAY, team="Engineering") -> LedgerEntry:
    return LedgerEntry(id=f"{user}-{start}-{end}"[:60], user=user, team=team, leave_type="vacation", start=start,
                       end=end, start_half=None, end_half=None, days=Decimal((end - start).days + 1),
                       status="approved", decided_by=BOB)


def profile_change(client, fake_slack, user: str, *, deleted: bool, event_id: str):
    """Slack deactivates (or reactivates) `user`, then sends `user_change` with the whole profile."""
    with fake_slack.workspace.lock:
        fake_slack.workspace.users[user].deleted = deleted
        profile = fake_slack.workspace.users[user].to_api()
    response = post_event(client, event_envelope({"type": "user_change", "user": profile,
                                                  "event_ts": "1766000000.000400"}, event_id=event_id))
    assert response.status_code == 200, response.content
    return response


def many_people_out(fake_slack, count: int) -> list[str]:
    """`count` people of #engineering, each with Mon–Wed approved."""
    people = [f"U_P{n:03d}" for n in range(count)]
    with fake_slack.workspace.lock:
        for person in people:
            fake_slack.workspace.add_user(person, f"person{person[-3:]}", tz="America/Los_Angeles",
                                          email=f"{person.lower()}@example.com", real_name=f"Person {person[-3:]}")
            fake_slack.workspace.channels[C_ENG].members.add(person)
    for person in people:
        post_entry(fake_slack, leave(person))
    return people


def posted_text(post: dict) -> str:
    return post["text"] + json.dumps(post.get("blocks") or [])


def digest_posts(fake_slack) -> list[str]:
    return [posted_text(post) for post in posts_in(fake_slack, C_ENG)]


def shown_count(text: str, people) -> int:
    return sum(1 for person in people if mention(person) in text)


def test_out_today_names_everyone_when_users_info_is_rate_limited_for_a_long_while(client, fake_slack, no_sleeping):
    install_config(standard_config(teams=(ENG,)))
    people = many_people_out(fake_slack, 12)
    fake_slack.rate_limit("users.info", retry_after=120, times=None)

    said = run_jobs(at(TUESDAY, 9, 0), "--team", "Engineering")

    assert "failed" not in said, said
    [post] = digest_posts(fake_slack)
    assert shown_count(post, people) == 12, post


def test_the_weekly_digest_names_everyone_when_users_info_answers_errors(client, fake_slack, no_sleeping):
    install_config(standard_config(teams=(ENG,)))
    people = many_people_out(fake_slack, 8)
    fake_slack.fail("users.info", "internal_error", times=None)

    said = run_jobs(at(MONDAY, 9, 0), "--team", "Engineering")

    assert "failed" not in said, said
    posts = [p for p in digest_posts(fake_slack) if "Who's out" in p]
    assert posts and shown_count(posts[0], people) == 8, digest_posts(fake_slack)


def test_out_today_goes_out_at_its_hour_when_users_info_cannot_be_reached(client, fake_slack, no_sleeping):
    """users.info's connections dropped (a proxy resetting them) while chat.postMessage works: who is out
    is in the ledger, not in users.info; a post that did not need users.info yesterday should not wait
    on it today: naming someone who may have left is a lesser harm than no post at all."""
    install_config(standard_config(teams=(ENG,)))
    people = many_people_out(fake_slack, 3)
    fake_slack.drop_connection("users.info", times=None)

    try:
        run_jobs(at(TUESDAY, 9, 0), "--team", "Engineering")
    except Exception as exc:  # noqa: BLE001 - run_jobs says a job failed by raising CommandError
        failure = str(exc)
    else:
        failure = ""

    posts = digest_posts(fake_slack)
    assert posts and shown_count(posts[0], people) == 3, (failure, posts)


def test_someone_deactivated_then_reactivated_is_out_today_again(client, fake_slack):
    install_config(standard_config(teams=(ENG,)))
    post_entry(fake_slack, leave(ALICE))
    profile_change(client, fake_slack, ALICE, deleted=True, event_id="Ev_ALICE_GONE")
    run_jobs(at(MONDAY, 9, 0), "--team", "Engineering")  # the weekly digest: she is left out
    assert not [p for p in digest_posts(fake_slack) if mention(ALICE) in p], digest_posts(fake_slack)
    profile_change(client, fake_slack, ALICE, deleted=False, event_id="Ev_ALICE_BACK")
    fake_slack.clear_calls()

    run_jobs(at(TUESDAY, 9, 0), "--team", "Engineering")

    assert [p for p in digest_posts(fake_slack) if mention(ALICE) in p], digest_posts(fake_slack)


def test_out_today_of_a_team_whose_only_person_out_left_posts_nothing(client, fake_slack):
    install_config(standard_config(teams=(ENG,)))
    post_entry(fake_slack, leave(ALICE))
    profile_change(client, fake_slack, ALICE, deleted=True, event_id="Ev_ALICE_GONE_ONLY")
    fake_slack.clear_calls()

    said = run_jobs(at(TUESDAY, 9, 0), "--team", "Engineering")

    assert "nobody out" in said, said
    assert digest_posts(fake_slack) == []


def test_out_today_asks_slack_nothing_about_the_people_it_lists(client, fake_slack):
    # Who has left is known from Slack's user_change (the profile cached) or the directory: seventy people
    # out would otherwise be seventy users.info calls.
    install_config(standard_config(teams=(ENG,)))
    many_people_out(fake_slack, 5)
    run_jobs(at(TUESDAY, 9, 0), "--team", "Engineering")
    assert fake_slack.calls("users.info") == []


# --- Someone left: who is told about the requests nobody may decide -------------------------------------


def test_a_requester_who_left_is_not_told_that_nobody_may_decide_her_request(client, fake_slack):
    install_config(standard_config(teams=(BOB_ALONE,)))
    request_time_off(client, fake_slack, ALICE)
    profile_change(client, fake_slack, ALICE, deleted=True, event_id="Ev_ALICE_LEFT")
    profile_change(client, fake_slack, HR, deleted=True, event_id="Ev_HR_LEFT")
    fake_slack.clear_calls()

    profile_change(client, fake_slack, BOB, deleted=True, event_id="Ev_BOB_LEFT")

    assert dms_to(fake_slack, ALICE) == []
    assert dms_to(fake_slack, HR) == []
    assert not [c for c in fake_slack.calls("conversations.open") if ALICE in str(c.params.get("users"))]


def test_a_requester_still_here_is_told_once_when_her_last_approver_leaves_and_hr_has_left(client, fake_slack):
    install_config(standard_config(teams=(BOB_ALONE,)))
    request_time_off(client, fake_slack, ALICE)
    profile_change(client, fake_slack, HR, deleted=True, event_id="Ev_HR_LEFT_2")
    fake_slack.clear_calls()

    profile_change(client, fake_slack, BOB, deleted=True, event_id="Ev_BOB_LEFT_2")
    # An admin edits Bob's old profile: Slack sends user_change again, with another event id.
    profile_change(client, fake_slack, BOB, deleted=True, event_id="Ev_BOB_LEFT_2_EDIT")

    told = [t for t in dms_to(fake_slack, ALICE) if "Nobody may decide your request" in t]
    assert len(told) == 1, dms_to(fake_slack, ALICE)
    assert "withdraw" in told[0] and "<!" not in told[0]


def test_a_requester_is_told_again_when_her_approver_comes_back_and_leaves_again(client, fake_slack):
    """Bob leaves (Alice is told nobody may decide her request), comes back a week later (her request can
    be decided again), and leaves for good. She hears nothing the second time, and waits on someone gone."""
    install_config(standard_config(teams=(BOB_ALONE,)))
    request_time_off(client, fake_slack, ALICE)
    profile_change(client, fake_slack, HR, deleted=True, event_id="Ev_HR_LEFT_3")
    profile_change(client, fake_slack, BOB, deleted=True, event_id="Ev_BOB_LEFT_3")
    profile_change(client, fake_slack, BOB, deleted=False, event_id="Ev_BOB_BACK_3")
    fake_slack.clear_calls()

    profile_change(client, fake_slack, BOB, deleted=True, event_id="Ev_BOB_LEFT_AGAIN_3")

    assert [t for t in dms_to(fake_slack, ALICE) if "Nobody may decide your request" in t], \
        dms_to(fake_slack, ALICE)


# --- Someone left: the Setup page -------------------------------------------------------------------------


def nobody_approves_warning(admin_client) -> str:
    admin_client.get("/console/setup/")  # the first visit has the check run (at once, in tests)
    page = admin_client.get("/console/setup/").content.decode()
    assert 'id="connection"' in page, page[:2000]
    return page.split('id="teams-nobody-approves"', 1)[1].split("</p>", 1)[0] \
        if 'id="teams-nobody-approves"' in page else ""


def test_the_setup_page_names_a_team_whose_approver_and_hr_left_while_nothing_was_pending(client, fake_slack,
                                                                                          admin_client):
    """Nobody had a request waiting when Bob and Hannah left: the next person to ask is the first to hear
    that nobody can approve (README: the Setup page names the team, "approvers and fallback approvers the
    cache knows are deactivated count as none")."""
    install_config(standard_config(teams=(BOB_ALONE,)))
    profile_change(client, fake_slack, HR, deleted=True, event_id="Ev_HR_LEFT_4")
    profile_change(client, fake_slack, BOB, deleted=True, event_id="Ev_BOB_LEFT_4")

    assert "Engineering" in nobody_approves_warning(admin_client)


def test_the_setup_page_says_nothing_when_an_approver_left_but_hr_is_still_there(client, fake_slack,
                                                                                  admin_client):
    install_config(standard_config(teams=(BOB_ALONE,)))
    request_time_off(client, fake_slack, ALICE)
    profile_change(client, fake_slack, BOB, deleted=True, event_id="Ev_BOB_LEFT_5")

    assert nobody_approves_warning(admin_client) == ""


def test_the_setup_page_forgets_a_warning_once_the_approver_is_reactivated(client, fake_slack, admin_client):
    install_config(standard_config(teams=(BOB_ALONE,)))
    request_time_off(client, fake_slack, ALICE)
    profile_change(client, fake_slack, HR, deleted=True, event_id="Ev_HR_LEFT_6")
    profile_change(client, fake_slack, BOB, deleted=True, event_id="Ev_BOB_LEFT_6")
    assert "Engineering" in nobody_approves_warning(admin_client)

    profile_change(client, fake_slack, BOB, deleted=False, event_id="Ev_BOB_BACK_6")

    assert "Engineering" not in nobody_approves_warning(admin_client)


# --- Someone left: a name typed in the console --------------------------------------------------------------


FORMER_ALICE = "U_ALICE_OLD"
FRANK = "U_FRANK"


def with_former_people(fake_slack):
    """A former Alice Adams (the company's first Alice, handle alice.old) and Frank Fox, both deactivated."""
    fake_slack.workspace.add_user(FORMER_ALICE, "alice.old", real_name="Alice Adams", email="alice.old@example.com",
                                  tz="America/Los_Angeles", deleted=True)
    fake_slack.workspace.add_user(FRANK, "frank", real_name="Frank Fox", email="frank@example.com",
                                  tz="America/Los_Angeles", deleted=True)
    with fake_slack.workspace.lock:  # Slack keeps a deactivated account among the channel's members
        fake_slack.workspace.channels[C_ENG].members.add(FRANK)
    install_config(standard_config(teams=(ENG,)))
    slack_directory.directory_refresh(background_client())


def record_form_errors(admin_client, person: str) -> str:
    response = admin_client.post("/console/leave/record", {
        "person": person, "leave_type": "vacation", "start": MONDAY.isoformat(), "end": WEDNESDAY.isoformat(),
        "note": ""})
    assert response.status_code in (200, 302), response.status_code
    if response.status_code == 200 and response.context and response.context["form"].errors:
        return " ".join(" ".join(e) for e in response.context["form"].errors.values())
    return ""


def test_a_name_a_current_and_a_former_person_share_means_the_current_one(client, fake_slack, admin_client):
    with_former_people(fake_slack)
    errors = record_form_errors(admin_client, "Alice Adams")
    assert "has left" not in errors and "Several people" not in errors, errors


def test_the_handle_of_a_former_person_says_they_have_left(client, fake_slack, admin_client):
    with_former_people(fake_slack)
    errors = record_form_errors(admin_client, "@alice.old")
    assert "has left" in errors and "deactivated" in errors, errors


def test_the_email_of_a_former_person_says_they_have_left_whatever_its_case(client, fake_slack, admin_client):
    with_former_people(fake_slack)
    errors = record_form_errors(admin_client, "Frank@Example.COM")
    assert "Frank Fox" in errors and "has left" in errors, errors


def test_a_former_persons_mention_pasted_from_slack_is_not_told_by_dm_as_the_page_claims(client, fake_slack,
                                                                                        admin_client):
    """HR copies <@U_FRANK> from a Slack message into the form. Typed as his email, the console answers
    "Frank Fox has left"; pasted as his id, the leave is recorded (fine: a last holiday paid out), but the
    page then says "they are told by DM", and no DM can reach a deactivated account (none is sent)."""
    with_former_people(fake_slack)
    fake_slack.clear_calls()

    response = admin_client.post("/console/leave/record", {
        "person": f"<@{FRANK}>", "leave_type": "vacation", "start": MONDAY.isoformat(),
        "end": WEDNESDAY.isoformat(), "note": ""}, follow=True)

    page = page_text(response)
    assert dms_to(fake_slack, FRANK) == []
    assert not [p for p in digest_posts(fake_slack) if mention(FRANK) in p]
    assert "has left" in page or "they are told by DM" not in page, page[:1500]


def test_typing_a_former_person_as_a_teams_approver_says_they_have_left(client, fake_slack, admin_client):
    with_former_people(fake_slack)
    url = reverse("console:team_edit", args=[Team.objects.get(name="Engineering").pk])
    form = admin_client.get(url).context["form"]
    data = form_as_opened(form)
    data["approvers_users"] = "Frank Fox"

    response = admin_client.post(url, data)

    assert response.status_code == 200, "saved with a deactivated approver"
    assert "has left" in response.content.decode()
    assert FRANK not in Team.objects.get(name="Engineering").approvers_users


# --- Team merges with names that differ by case or accents -----------------------------------------------


PASSWORD = "a-long-test-password"
SAM = "U_SAM"
C_SALES_APPROVALS = "C_SALES_APPROVALS"
C_MKT_APPROVALS = "C_MKT_APPROVALS"


@pytest.fixture
def hr(django_user_model, fake_slack):
    fake_slack.workspace.add_user(SAM, "sam", tz="America/Los_Angeles", email="sam@example.com", real_name="Sam Stone")
    fake_slack.workspace.add_channel(C_SALES_APPROVALS, "sales-approvals", members=[SAM, HR], private=True)
    fake_slack.workspace.add_channel(C_MKT_APPROVALS, "mkt-approvals", members=[SAM, HR], private=True)
    invalidate_config()
    user = django_user_model.objects.create_superuser("hannah", "hannah@example.com", PASSWORD)
    browser = Client(raise_request_exception=False)
    browser.force_login(user)
    return browser


def simple_team(name: str, channel: str, past=()) -> TeamConfig:
    return TeamConfig(name=name, members=MemberSource(users=()), approvers=ApproverSource(users=(SAM,)),
                      approvals_channel=channel, timezone="America/Los_Angeles", past_names=tuple(past))


def merge(hr, gone: str, into: str):
    url = reverse("console:team_delete", args=[Team.objects.get(name=gone).pk])
    assert hr.get(url).status_code == 200
    response = hr.post(url, {"merge_into": str(Team.objects.get(name=into).pk)}, follow=True)
    assert response.status_code == 200
    return response


def export() -> str:
    out = io.StringIO()
    call_command("export_config", stdout=out)
    return out.getvalue()


def reimported(tmp_path, exported: str) -> str:
    Team.objects.all().delete()
    WorkspacePolicy.objects.all().delete()
    path = tmp_path / "config.json"
    path.write_text(exported)
    out = io.StringIO()
    call_command("import_config", str(path), "--no-input", stdout=out, stderr=io.StringIO())
    return export()


def test_a_merged_teams_earlier_name_in_another_case_than_a_team_now_moves_and_the_export_imports(hr, tmp_path):
    # Marketing was called "growth" once; HR made a "Growth" team since. The requests sent as "growth" were
    # Marketing's and become Engineering's; those sent as "Growth" stay Growth's.
    install_config(standard_config(teams=(ENG, simple_team("Marketing", C_MKT_APPROVALS, past=("growth",)),
                                          simple_team("Growth", C_SALES_APPROVALS))))

    response = merge(hr, "Marketing", "Engineering")

    assert "Marketing deleted" in page_text(response), page_text(response)[:2000]
    assert Team.objects.get(name="Engineering").past_names == ["Marketing", "growth"]
    assert Team.objects.get(name="Growth").past_names == []
    exported = export()
    assert json.loads(reimported(tmp_path, exported)) == json.loads(exported)


def test_a_merged_team_whose_name_another_team_had_in_another_case_keeps_that_teams_history(hr, tmp_path):
    # Support was called "OPS" once; then "Ops" was made and is merged into Engineering.
    install_config(standard_config(teams=(ENG, simple_team("Support", C_MKT_APPROVALS, past=("OPS",)),
                                          simple_team("Ops", C_SALES_APPROVALS))))

    merge(hr, "Ops", "Engineering")

    assert Team.objects.get(name="Engineering").past_names == ["Ops"]
    assert Team.objects.get(name="Support").past_names == ["OPS"]
    exported = export()
    assert json.loads(reimported(tmp_path, exported)) == json.loads(exported)


def test_a_merge_of_a_team_with_an_accented_name_written_two_ways_imports_again(hr, tmp_path):
    composed, decomposed = "Caf\u00e9", "Cafe\u0301"  # "Café" typed as one é, and as e and an accent
    install_config(standard_config(teams=(ENG, simple_team("Kitchen", C_MKT_APPROVALS, past=(decomposed,)),
                                          simple_team(composed, C_SALES_APPROVALS))))

    response = merge(hr, "Kitchen", "Engineering")

    assert "Kitchen deleted" in page_text(response), page_text(response)[:2000]
    exported = export()
    assert json.loads(reimported(tmp_path, exported)) == json.loads(exported)
    assert composed not in Team.objects.get(name="Engineering").past_names
