"""Channels that change in Slack under a team HR configured, as HR reads it in the console and as people
feel it in Slack: a team's approvals channel archived, unarchived, renamed; a past approvals channel or a
members channel archived; a private channel the bot was never invited to; a channel deleted.

Slack changes the way the real one does (the fake Slack's workspace changes, and Slack's events reach the
app signed, as Slack sends them, sometimes twice or late). The console names a channel the configuration
uses by its name, "#name (archived)" once Slack says it is archived (read with conversations.info at the
console's read of Slack's names), or by its id with what to do when the app cannot see it.
"""

import csv
import html
import io
import re
import time
from dataclasses import replace
from datetime import date, timedelta

import pytest
from django.test import Client
from django.urls import reverse

from approvals import slack_directory
from approvals.config_types import MemberSource
from approvals.models import DeliveryProblem, Team
from approvals.slack_clients import background_client
from approvals.tasks import refresh_slack_directory
from approvals.tests.test_console_see import NEXT_MONDAY, entry
from fake_slack.ledger_seed import seed_ledger
from fake_slack.personas import ALICE, BOB, BOT, C_ENG, C_ENG_APPROVALS, C_OLD_APPROVALS, DAVE, HR
from test_support.console_pages import errors_of, team_post, warnings_of
from test_support.flows import (
    ENGINEERING,
    dms_to,
    install_config,
    open_request_form,
    posted_requests,
    request_time_off,
    request_values,
    standard_config,
    submit_request,
)
from test_support.setup_page import alerts, setup_page
from test_support.slack_faults import failing
from test_support.slack_requests import SLACK_TEAM, event_envelope, post_event

pytestmark = pytest.mark.django_db

LATER_MONDAY, LATER_TUESDAY = date(2031, 4, 7), date(2031, 4, 8)
LATER_ASKED_FOR = "Mon 7 Apr 2031 – Tue 8 Apr 2031"
C_NEW_APPROVALS = "C_NEW_APPROVALS"
C_PRIVATE_NO_BOT = "C_HIDDEN_APPROVALS"


# --- HR in the console, Slack through its events ---------------------------------------------------------


@pytest.fixture
def hr(django_user_model, fake_slack):
    """Hannah from HR in a browser of her own: a superuser (she edits teams and reads the exports)."""
    hannah = django_user_model.objects.create_superuser("hannah", "hannah@example.com", "a-long-test-password")
    browser = Client()
    browser.force_login(hannah)
    return browser


@pytest.fixture
def slack():
    """Slack's side: signed requests to /slack/*, from no browser session."""
    return Client()


def now_ts() -> str:
    return f"{time.time():.6f}"


def slack_sends(slack, event: dict, event_id: str, *, retry_num: int | None = None) -> None:
    response = post_event(slack, event_envelope(event, event_id=event_id), retry_num=retry_num)
    assert response.status_code == 200, (event["type"], response.status_code, response.content)


def archive(fake_slack, slack, channel: str, event_id: str, *, private: bool = True) -> None:
    """Someone archives `channel` in Slack, and Slack tells the app."""
    with fake_slack.workspace.lock:
        fake_slack.workspace.channels[channel].is_archived = True
    kind = "group_archive" if private else "channel_archive"
    slack_sends(slack, {"type": kind, "channel": channel, "user": HR, "event_ts": now_ts()}, event_id)


def unarchive(fake_slack, slack, channel: str, event_id: str, *, private: bool = True) -> None:
    with fake_slack.workspace.lock:
        fake_slack.workspace.channels[channel].is_archived = False
    kind = "group_unarchive" if private else "channel_unarchive"
    slack_sends(slack, {"type": kind, "channel": channel, "user": HR, "event_ts": now_ts()}, event_id)


def names_read_again():
    """The console's read of Slack's names, as the background task runs it."""
    refresh_slack_directory.enqueue()
    return slack_directory.directory_cached()


def shown(fragment: str) -> str:
    """What a browser shows of an HTML fragment: tags dropped, entities decoded, white space collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def team_row(page, team_name: str) -> str:
    found = re.search(rf'<li class="team" id="team-\d+">.*?>{re.escape(team_name)}<.*?</li>', page.text, re.S)
    assert found, f"{team_name} is not on the Teams page"
    return shown(found[0])


def field_value(page, name: str) -> str:
    found = re.search(rf'<input type="text" name="{name}"(?: value="([^"]*)")?', page.text)
    assert found, f"no {name} field on the page"
    return html.unescape(found[1] or "")


def version_on(page) -> str:
    found = re.search(r'<input type="hidden" name="version"(?: value="([^"]*)")?', page.text)
    return found[1] or ""


def channel_rows(page: str) -> dict[str, str]:
    """The Setup page's channels table: the channel as shown -> the rest of its row as text."""
    if 'id="channels"' not in page:
        return {}
    table = page[page.index('id="channels"'):page.index("</table>", page.index('id="channels"'))]
    rows = {}
    for row in re.findall(r"<tr class=\"[^\"]*\">(.*?)</tr>", table, flags=re.S):
        cells = [shown(cell) for cell in re.findall(r"<td>(.*?)</td>", row, flags=re.S)]
        rows[cells[0]] = " | ".join(cells[1:])
    return rows


def problem_rows(page: str) -> list[str]:
    if 'id="delivery-problems"' not in page:
        return []
    table = page[page.index('id="delivery-problems"'):page.index("</table>", page.index('id="delivery-problems"'))]
    return [shown(row.replace("</td>", " | ")) for row in re.findall(r"<tr><td>(.*?)</tr>", table, flags=re.S)]


def csv_rows(response) -> list[dict]:
    return list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))


def engineering_form(hr):
    team = Team.objects.get(name="Engineering")
    url = reverse("console:team_edit", args=[team.pk])
    return url, hr.get(url)


def engineering_post(page, **changes):
    """The Engineering form sent as it opened (what HR sees in each field), with `changes`."""
    fields = ("members_users", "members_channel", "members_usergroup", "approvers_users", "approvers_channel",
              "approvals_channel", "announce_channel")
    data = {name: field_value(page, name) for name in fields}
    return team_post(name="Engineering", version=version_on(page), **{**data, **changes})


def send_later_request(slack, fake_slack, user: str = ALICE):
    view = open_request_form(slack, fake_slack, user)
    response = submit_request(slack, user, view, request_values("vacation", LATER_MONDAY, LATER_TUESDAY),
                              view_id="V_LATER", view_hash="h_later")
    assert response.status_code == 200, response.content
    return response


def delivered(fake_slack, channel: str = C_ENG_APPROVALS) -> list:
    return [c for c in posted_requests(fake_slack, channel) if c.response.get("ok")]


# --- One archived approvals channel, named alike on every page -------------------------------------------


def test_an_archived_approvals_channel_is_named_alike_on_the_teams_page_the_form_and_the_setup_page(
        slack, hr, fake_slack):
    install_config()
    names_read_again()
    request_time_off(slack, fake_slack, ALICE)  # delivered: the channel worked until now
    archive(fake_slack, slack, C_ENG_APPROVALS, "Ev_ARCHIVE_APPROVALS")
    names_read_again()  # the console's next read of Slack's names
    send_later_request(slack, fake_slack, DAVE)  # refused by Slack: is_archived
    assert [(p.user, p.error) for p in DeliveryProblem.objects.all()] == [(DAVE, "is_archived")]

    teams = team_row(hr.get(reverse("console:home")), "Engineering")
    assert "#eng-approvals (archived)" in teams and C_ENG_APPROVALS not in teams, teams

    url, form = engineering_form(hr)
    assert form.status_code == 200
    assert field_value(form, "approvals_channel") == "#eng-approvals"
    [warning] = [html.unescape(w) for w in warnings_of(form, "approvals_channel")]
    assert warning.startswith("#eng-approvals is archived in Slack"), warning

    page = setup_page(hr, check_again=True)
    assert "It is archived: nothing can be posted there." in channel_rows(page)["#eng-approvals"]
    [problem] = problem_rows(page)
    assert "Engineering, #eng-approvals (archived)" in problem and LATER_ASKED_FOR in problem, problem
    assert C_ENG_APPROVALS not in problem


def test_the_request_refused_while_the_channel_was_archived_is_told_once_and_the_next_goes_through_after_the_fix(
        slack, hr, fake_slack):
    # The channel is archived, and archiving took the bot out of it too; HR unarchives it and invites the bot
    # back. Nothing sent while it was archived is posted behind the requester's back, the next request is
    # posted once, and the Setup page names the channel as working again.
    install_config()
    open_request_form(slack, fake_slack, DAVE)  # the ledger is warm
    archive(fake_slack, slack, C_ENG_APPROVALS, "Ev_ARCHIVE_BOTH")
    with fake_slack.workspace.lock:
        fake_slack.workspace.channels[C_ENG_APPROVALS].members.discard(BOT)
    slack_sends(slack, {"type": "group_left", "channel": C_ENG_APPROVALS, "actor_id": HR, "event_ts": now_ts()},
                "Ev_BOT_OUT_BOTH")
    send_later_request(slack, fake_slack, DAVE)
    assert delivered(fake_slack) == []
    assert len([t for t in dms_to(fake_slack, DAVE) if LATER_ASKED_FOR in t]) == 1
    assert DeliveryProblem.objects.filter(user=DAVE).count() == 1

    unarchive(fake_slack, slack, C_ENG_APPROVALS, "Ev_UNARCHIVE_BOTH")
    with fake_slack.workspace.lock:
        fake_slack.workspace.channels[C_ENG_APPROVALS].members.add(BOT)
    slack_sends(slack, {"type": "member_joined_channel", "user": BOT, "channel": C_ENG_APPROVALS,
                        "channel_type": "G", "team": SLACK_TEAM, "inviter": HR, "event_ts": now_ts()},
                "Ev_BOT_BACK_BOTH")
    fake_slack.clear_calls()

    request_time_off(slack, fake_slack, ALICE)

    [post] = delivered(fake_slack)
    assert post.params["channel"] == C_ENG_APPROVALS
    requests = [m.metadata["event_payload"] for m in fake_slack.workspace.messages(C_ENG_APPROVALS)
                if m.metadata and m.metadata.get("event_type") == "timeoff_request"]
    assert [(r["user"], r["start"]) for r in requests] == [(ALICE, "2031-03-10")]
    assert DeliveryProblem.objects.count() == 1
    page = setup_page(hr)
    assert channel_rows(page)["#eng-approvals"].endswith("OK"), channel_rows(page)
    assert not [a for a in alerts(page) if "eng-approvals" in a], alerts(page)


def test_a_channel_unarchived_as_the_form_said_is_taken_by_the_form_and_no_longer_called_archived(
        slack, hr, fake_slack):
    # The form told HR "choose another channel, or unarchive it in Slack first". HR unarchives it; Slack
    # says so (channel_unarchive). Saving the form again must not answer that it is still archived.
    install_config()
    archive(fake_slack, slack, C_ENG_APPROVALS, "Ev_ARCHIVE_FORM")
    names_read_again()
    url, page = engineering_form(hr)
    refused = hr.post(url, engineering_post(page, max_out="4"))
    assert refused.status_code == 200
    assert html.unescape(errors_of(refused, "approvals_channel")[0]).startswith("#eng-approvals is archived")

    unarchive(fake_slack, slack, C_ENG_APPROVALS, "Ev_UNARCHIVE_FORM")
    url, page = engineering_form(hr)
    saved = hr.post(url, engineering_post(page, max_out="4"))

    assert saved.status_code == 302, [html.unescape(e) for e in errors_of(saved, "approvals_channel")]
    team = Team.objects.get(name="Engineering")
    assert (team.approvals_channel, team.max_out) == (C_ENG_APPROVALS, 4)
    assert "(archived)" not in team_row(hr.get(reverse("console:home")), "Engineering")


def test_an_archived_channel_pasted_as_its_id_or_its_slack_link_is_refused_as_archived_like_its_name(
        hr, fake_slack):
    # HR copies the channel from Slack (its link or its id) rather than typing its name: it is still archived,
    # and nothing could be posted there.
    fake_slack.workspace.add_channel("C_LAST_YEAR", "eng-approvals-2030", members=[BOB, DAVE, HR], private=True)
    install_config(standard_config(teams=(replace(ENGINEERING, past_approvals_channels=("C_LAST_YEAR",)),)))
    with fake_slack.workspace.lock:
        fake_slack.workspace.channels["C_LAST_YEAR"].is_archived = True
    names_read_again()

    for typed in ("C_LAST_YEAR", "<#C_LAST_YEAR|eng-approvals-2030>"):
        url, page = engineering_form(hr)
        response = hr.post(url, engineering_post(page, approvals_channel=typed))
        assert response.status_code == 200, typed
        errors = [html.unescape(e) for e in errors_of(response, "approvals_channel")]
        assert errors and "archived" in errors[0], (typed, errors)
        assert Team.objects.get(name="Engineering").approvals_channel == C_ENG_APPROVALS


# --- Channels the app only reads, archived ----------------------------------------------------------------


@pytest.fixture
def archived_past_approvals_channel(fake_slack):
    """Engineering moved to a new approvals channel this year; last year's, archived, holds Alice's approved
    leave (three working days) and stays among its past approvals channels."""
    fake_slack.workspace.add_channel(C_NEW_APPROVALS, "eng-approvals-new", members=[BOB, DAVE, HR], private=True)
    install_config(standard_config(teams=(replace(ENGINEERING, approvals_channel=C_NEW_APPROVALS,
                                                  past_approvals_channels=(C_OLD_APPROVALS,)),)))
    seed_ledger(fake_slack.workspace, channel=C_OLD_APPROVALS, adjustments=[], entries=[
        entry("alice-old-channel", ALICE, "vacation", NEXT_MONDAY, NEXT_MONDAY + timedelta(days=2))])
    with fake_slack.workspace.lock:
        fake_slack.workspace.channels[C_OLD_APPROVALS].is_archived = True
    names_read_again()


def test_an_archived_past_approvals_channel_is_named_on_the_form_and_its_leave_still_counts_in_the_console(
        hr, fake_slack, archived_past_approvals_channel):
    url, page = engineering_form(hr)
    assert "Earlier approvals channels, still read for balances and history: #old-approvals (archived)" in \
        shown(page.text)

    hr.get(reverse("console:balances"), {"team": "Engineering"})  # the ledger and memberships are read
    rows = csv_rows(hr.get(reverse("console:ledger_export"), {"download": "1", "year": NEXT_MONDAY.year}))
    [alice] = [row for row in rows if row["id"] == "alice-old-channel"]
    assert (alice["channel"], alice["status"], alice["user_name"]) == (C_OLD_APPROVALS, "approved", "Alice Adams")
    balances = csv_rows(hr.get(reverse("console:balances"), {"team": "Engineering", "year": NEXT_MONDAY.year,
                                                             "download": "csv"}))
    [vacation] = [row for row in balances if row["user_id"] == ALICE and row["leave_type"] == "vacation"]
    assert (vacation["taken"], vacation["left"]) == ("3", "22"), vacation
    whos_out = hr.get(reverse("console:whos_out"))
    assert whos_out.status_code == 200
    assert "The ledger cannot be read" not in whos_out.text and "Alice Adams" in shown(whos_out.text)


def test_an_archived_past_approvals_channel_is_not_announced_as_a_channel_that_needs_attention(
        hr, fake_slack, archived_past_approvals_channel):
    # Nothing is posted to a past approvals channel: archived, its history is read as before, and HR has
    # nothing to fix (the README's advice is to start a new approvals channel each year or two).
    page = setup_page(hr, check_again=True)

    assert "#old-approvals" in channel_rows(page)
    assert "nothing can be posted there" not in channel_rows(page)["#old-approvals"], channel_rows(page)
    assert not [a for a in alerts(page) if "old-approvals" in a], alerts(page)


def test_a_team_whose_members_channel_was_archived_still_saves_a_change_to_something_else(slack, hr, fake_slack):
    # An archived members channel breaks nothing (its members can still be read); HR changing the team's
    # most-people-out limit is not refused because of it.
    fake_slack.workspace.add_channel("C_ENG_PEOPLE", "eng-people", members=[ALICE, DAVE])
    install_config(standard_config(teams=(replace(ENGINEERING, members=MemberSource(channel="C_ENG_PEOPLE")),)))
    archive(fake_slack, slack, "C_ENG_PEOPLE", "Ev_ARCHIVE_PEOPLE", private=False)
    names_read_again()
    assert dms_to(fake_slack, HR) == []  # nothing to tell HR: it still works
    request_time_off(slack, fake_slack, ALICE)
    assert len(delivered(fake_slack)) == 1  # Alice is still in Engineering

    url, page = engineering_form(hr)
    assert field_value(page, "members_channel") == "#eng-people"
    response = hr.post(url, engineering_post(page, max_out="4"))

    assert response.status_code == 302, [html.unescape(e) for e in errors_of(response, "members_channel")]
    team = Team.objects.get(name="Engineering")
    assert (team.members_channel, team.max_out) == ("C_ENG_PEOPLE", 4)


# --- The console's read of Slack's names, when conversations.info fails -----------------------------------


def is_info(method, params):
    return method == "conversations.info"


@pytest.mark.parametrize("fault", ["rate_limited_429", "http_500", "internal_error", "ratelimited_http_200"])
def test_a_read_of_names_whose_channel_info_fails_keeps_the_names_shown_before(
        slack, hr, fake_slack, no_sleeping, fault):
    install_config()
    archive(fake_slack, slack, C_ENG_APPROVALS, "Ev_ARCHIVE_NAMES")
    before = names_read_again()
    assert before.channel_label(C_ENG_APPROVALS) == "#eng-approvals (archived)"
    with fake_slack.workspace.lock:
        fake_slack.workspace.users[BOB].real_name = "Robert Brown"  # only a read that finishes shows it

    with failing(fake_slack, is_info, fault, times=None) as met:
        try:
            refresh_slack_directory.enqueue()
        except Exception:  # the task's own retries are its business: what HR sees is what matters
            pass
    assert met, "conversations.info was never asked"

    after = slack_directory.directory_cached()
    assert after is not None and after.people and after.channels
    assert after.channel_label(C_ENG_APPROVALS) == "#eng-approvals (archived)"
    teams = team_row(hr.get(reverse("console:home")), "Engineering")
    assert "#eng-approvals (archived)" in teams and "Bob Brown" in teams, teams


def test_a_first_read_of_names_whose_channel_info_fails_once_names_the_archived_channel_on_its_retry(
        slack, hr, fake_slack, no_sleeping):
    install_config()
    archive(fake_slack, slack, C_ENG_APPROVALS, "Ev_ARCHIVE_FIRST")

    with failing(fake_slack, is_info, "http_503", times=1) as met:
        try:
            refresh_slack_directory.enqueue()
        except Exception:
            pass
    assert met

    names = slack_directory.directory_cached() or names_read_again()
    assert names.channel_label(C_ENG_APPROVALS) == "#eng-approvals (archived)"
    assert "#eng-approvals (archived)" in team_row(hr.get(reverse("console:home")), "Engineering")


# --- A private channel the bot is not in ------------------------------------------------------------------


def test_a_private_approvals_channel_the_bot_was_never_invited_to_is_shown_by_id_with_the_invite(
        slack, hr, fake_slack):
    fake_slack.workspace.add_channel(C_PRIVATE_NO_BOT, "eng-secret", members=[BOB, DAVE, HR], private=True,
                                     bot_member=False)
    install_config(standard_config(teams=(replace(ENGINEERING, approvals_channel=C_PRIVATE_NO_BOT),)))
    names_read_again()

    home = hr.get(reverse("console:home"))
    assert home.status_code == 200 and C_PRIVATE_NO_BOT in team_row(home, "Engineering")
    url, form = engineering_form(hr)
    assert form.status_code == 200
    [warning] = [html.unescape(w) for w in warnings_of(form, "approvals_channel")]
    assert C_PRIVATE_NO_BOT in warning and "/invite" in warning, warning
    for name in ("whos_out", "balances", "ledger_export"):
        page = hr.get(reverse(f"console:{name}"))
        assert page.status_code == 200, name
    whos_out = shown(hr.get(reverse("console:whos_out")).text)
    assert "The ledger cannot be read" in whos_out and C_PRIVATE_NO_BOT in whos_out and "/invite" in whos_out
    rows = channel_rows(setup_page(hr, check_again=True))
    [(name, row)] = [(name, row) for name, row in rows.items() if "Engineering: approvals channel" in row]
    assert name == C_PRIVATE_NO_BOT and "/invite @Time off" in row, rows
    # The form's own field names the channel as HR can recognise it: its id, not an empty box.
    assert field_value(form, "approvals_channel") == C_PRIVATE_NO_BOT


# --- Names anyone may give a channel -------------------------------------------------------------------------


HOSTILE = '<img src=x onerror="alert(1)">'


def test_an_archived_channels_hostile_name_is_text_on_every_page_that_names_it(slack, hr, fake_slack):
    fake_slack.workspace.add_channel("C_ODD", f"odd{HOSTILE}", members=[BOB, DAVE, HR], private=True)
    install_config(standard_config(teams=(replace(ENGINEERING, approvals_channel="C_ODD",
                                                  past_approvals_channels=(C_ENG_APPROVALS,)),)))
    archive(fake_slack, slack, "C_ODD", "Ev_ARCHIVE_ODD")
    names_read_again()
    send_later_request(slack, fake_slack, DAVE)  # refused by Slack: a delivery problem names the channel
    assert DeliveryProblem.objects.filter(channel="C_ODD").exists()

    url, _ = engineering_form(hr)
    for page in (hr.get(reverse("console:home")), hr.get(url), hr.get(reverse("console:setup"))):
        assert page.status_code == 200
        assert HOSTILE not in page.text and "<img src=x" not in page.text
        assert f"#odd{HOSTILE}" in shown(page.text)
    assert f"#odd{HOSTILE} (archived)" in team_row(hr.get(reverse("console:home")), "Engineering")


# --- Slack's events twice, or out of order ----------------------------------------------------------------


def test_an_archive_event_delivered_again_tells_hr_once_and_an_unarchive_first_leaves_setup_right(
        slack, hr, fake_slack):
    install_config()
    archive(fake_slack, slack, C_ENG_APPROVALS, "Ev_ARCHIVE_TWICE")
    slack_sends(slack, {"type": "group_archive", "channel": C_ENG_APPROVALS, "user": HR, "event_ts": now_ts()},
                "Ev_ARCHIVE_TWICE", retry_num=1)
    assert len([t for t in dms_to(fake_slack, HR) if "was archived" in t]) == 1

    # HR unarchives it at once; Slack's late retry of the archive event arrives after the unarchive.
    unarchive(fake_slack, slack, C_ENG_APPROVALS, "Ev_UNARCHIVE_TWICE")
    slack_sends(slack, {"type": "group_archive", "channel": C_ENG_APPROVALS, "user": HR, "event_ts": now_ts()},
                "Ev_ARCHIVE_TWICE", retry_num=2)

    assert len([t for t in dms_to(fake_slack, HR) if "was archived" in t]) == 1
    row = channel_rows(setup_page(hr))["#eng-approvals"]
    assert "archived" not in row and row.endswith("OK"), row
    request_time_off(slack, fake_slack, ALICE)
    assert len(delivered(fake_slack)) == 1


def test_an_approver_leaving_told_twice_around_a_rename_tells_nobody_while_another_approver_remains(slack, hr, fake_slack):
    # Dave leaves the private approvers channel; Slack delivers member_left_channel, then its retry after the
    # rename of the channel reached the app. Bob is still a listed approver: nobody is told anything.
    install_config()
    request_time_off(slack, fake_slack, ALICE)
    with fake_slack.workspace.lock:
        fake_slack.workspace.channels["C_ENG_LEADS"].members.discard(DAVE)
    left = {"type": "member_left_channel", "user": DAVE, "channel": "C_ENG_LEADS", "channel_type": "G",
            "team": SLACK_TEAM}
    slack_sends(slack, left, "Ev_DAVE_LEFT")
    with fake_slack.workspace.lock:
        fake_slack.workspace.channels["C_ENG_LEADS"].name = "eng-leads-2031"
    slack_sends(slack, {"type": "channel_rename", "channel": {"id": "C_ENG_LEADS", "name": "eng-leads-2031",
                                                              "created": 1360782804}, "event_ts": now_ts()},
                "Ev_LEADS_RENAMED")
    slack_sends(slack, left, "Ev_DAVE_LEFT", retry_num=1)

    assert dms_to(fake_slack, HR) == []
    names_read_again()
    assert "#eng-leads-2031" in team_row(hr.get(reverse("console:home")), "Engineering")
