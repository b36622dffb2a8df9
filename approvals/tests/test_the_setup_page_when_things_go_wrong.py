"""The Setup page as the one place HR looks when something breaks (README "The HR console" › Setup, and
"When things go wrong").

Each failure is made the way Slack makes it: the fake Slack changes (the bot taken out of a channel, a
channel archived, a token revoked, a scope not granted, 429s on conversations.history) and Slack's events
reach the app signed, as Slack sends them. Then HR opens the Setup page in a browser session (Django's test
client, a staff superuser): what it says is wrong, where (the element ids the page gives), that it is
announced (role="alert"), the fix it names, that nothing anyone typed reaches the page unescaped, that
"Check Slack again" brings it up to date, and that once HR fixes the cause the warning goes.

Tasks run at once (TASKS_BACKEND=immediate): the background check a page or an event asks for has run by
the time the page renders.
"""

import html
import re
import time
import types
from dataclasses import replace
from datetime import date

import pytest
from django.test import Client
from django.urls import reverse
from slack_sdk.http_retry import builtin_handlers

from approvals import block_ids as ids
from approvals import ledger_reader, slack_directory, slack_pauses
from approvals.slack_clients import background_client
from approvals.config_types import ApproverSource, LeaveTypeConfig, MemberSource, TeamConfig
from approvals.models import DeliveryProblem, Team
from fake_slack.personas import BOT, C_ENG, C_ENG_APPROVALS
from test_support.console_pages import team_post
from test_support.flows import (
    ALICE,
    BOB,
    DAVE,
    ENGINEERING,
    HR,
    click,
    install_config,
    open_request_form,
    posted_requests,
    request_time_off,
    request_values,
    standard_config,
    submit_request,
)
from test_support.setup_page import alerts, setup_page
from test_support.simulated_time import Clock
from test_support.slack_requests import SLACK_TEAM, event_envelope, post_event

pytestmark = pytest.mark.django_db

ASKED_FOR = "Vacation, Mon 10 Mar 2031 – Wed 12 Mar 2031"  # request_time_off's request, as HR's page shows it
HOSTILE = '<img src=x onerror="alert(1)">'
C_SUPPORT = "C_SUPPORT"


# --- HR in the console, Slack through its events ------------------------------------------------------


@pytest.fixture
def hr(django_user_model, fake_slack, directory):
    """Hannah from HR in a browser of her own: staff, with every console permission (she edits teams)."""
    hannah = django_user_model.objects.create_superuser("hannah", "hannah@example.com", "a-long-test-password")
    browser = Client()
    browser.force_login(hannah)
    return browser


@pytest.fixture
def slack():
    """Slack's side: signed requests to /slack/*, from no browser session."""
    return Client()


def channel_rows(page: str) -> dict[str, str]:
    """The channels table: the channel as shown (#name, or its id when Slack would not name it) -> the rest
    of its row as text."""
    if 'id="channels"' not in page:
        return {}
    table = page[page.index('id="channels"'):page.index("</table>", page.index('id="channels"'))]
    rows = {}
    for row in re.findall(r"<tr class=\"[^\"]*\">(.*?)</tr>", table, flags=re.S):
        cells = [re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", cell))).strip()
                 for cell in re.findall(r"<td>(.*?)</td>", row, flags=re.S)]
        rows[cells[0]] = " | ".join(cells[1:])
    return rows


def problem_rows(page: str) -> list[str]:
    if 'id="delivery-problems"' not in page:
        return []
    table = page[page.index('id="delivery-problems"'):page.index("</table>", page.index('id="delivery-problems"'))]
    return [re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " | ", row))).strip()
            for row in re.findall(r"<tr><td>(.*?)</tr>", table, flags=re.S)]


def slack_sends(slack, event: dict, event_id: str) -> None:
    response = post_event(slack, event_envelope(event, event_id=event_id))
    assert response.status_code == 200, (event["type"], response.status_code, response.content)


def now_ts() -> str:
    return f"{time.time():.6f}"


def bot_removed(fake_slack, channel: str) -> None:
    with fake_slack.workspace.lock:
        fake_slack.workspace.channels[channel].members.discard(BOT)


def bot_invited(fake_slack, channel: str) -> None:
    with fake_slack.workspace.lock:
        fake_slack.workspace.channels[channel].members.add(BOT)


def member_joined(user: str, channel: str, channel_type: str = "G") -> dict:
    return {"type": "member_joined_channel", "user": user, "channel": channel, "channel_type": channel_type,
            "team": SLACK_TEAM, "inviter": HR, "event_ts": now_ts()}


def deactivated(slack, fake_slack, user: str, event_id: str) -> None:
    """An admin deactivates `user` in Slack, and Slack sends user_change with `deleted: true`."""
    with fake_slack.workspace.lock:
        fake_slack.workspace.users[user].deleted = True
    slack_sends(slack, {"type": "user_change", "user": {"id": user, "team_id": SLACK_TEAM, "deleted": True},
                        "event_ts": now_ts(), "cache_ts": int(time.time())}, event_id)


def reactivated(slack, fake_slack, user: str, event_id: str) -> None:
    with fake_slack.workspace.lock:
        fake_slack.workspace.users[user].deleted = False
    slack_sends(slack, {"type": "user_change", "user": {"id": user, "team_id": SLACK_TEAM, "deleted": False},
                        "event_ts": now_ts(), "cache_ts": int(time.time())}, event_id)


# --- The bot taken out of the approvals channel ---------------------------------------------------------


def test_the_bot_removed_from_the_approvals_channel_is_shown_with_the_fix_at_once(slack, hr, fake_slack):
    install_config()
    request_time_off(slack, fake_slack, ALICE)  # all works: one request in the channel
    assert channel_rows(setup_page(hr))["#eng-approvals"].endswith("OK")

    bot_removed(fake_slack, C_ENG_APPROVALS)
    slack_sends(slack, {"type": "group_left", "channel": C_ENG_APPROVALS, "actor_id": HR, "event_ts": now_ts()},
                "Ev_BOT_OUT")
    page = setup_page(hr)  # no "Check again": the event asked for a new check

    rows = channel_rows(page)
    # A private channel the bot is not in is invisible to it: Slack says channel_not_found, and the page
    # names what it was used for, and the /invite that fixes it.
    [(shown, row)] = [(shown, row) for shown, row in rows.items() if "Engineering: approvals channel" in row]
    assert shown in ("#eng-approvals", C_ENG_APPROVALS)
    assert "/invite @Time off" in row, row
    assert not row.endswith("OK")


def test_a_public_approvals_channel_the_bot_left_says_to_invite_it_and_channel_left_asks_for_the_check(
        slack, hr, fake_slack):
    fake_slack.workspace.add_channel("C_PUB_APPROVALS", "timeoff-approvals", members=[BOB, DAVE, HR])
    install_config(standard_config(teams=(replace(ENGINEERING, approvals_channel="C_PUB_APPROVALS"),)))
    assert "The bot is not in it" not in channel_rows(setup_page(hr))["#timeoff-approvals"]

    bot_removed(fake_slack, "C_PUB_APPROVALS")
    slack_sends(slack, {"type": "channel_left", "channel": "C_PUB_APPROVALS", "actor_id": HR, "event_ts": now_ts()},
                "Ev_BOT_LEFT_PUBLIC")
    row = channel_rows(setup_page(hr))["#timeoff-approvals"]

    assert "the bot is not in it" in row
    assert "The bot is not in it: type /invite @Time off in the channel." in row

    bot_invited(fake_slack, "C_PUB_APPROVALS")
    slack_sends(slack, member_joined(BOT, "C_PUB_APPROVALS", "C"), "Ev_BOT_BACK_PUBLIC")
    row = channel_rows(setup_page(hr))["#timeoff-approvals"]
    assert "the bot is in it" in row and "/invite" not in row


def test_an_approvals_channel_nothing_can_be_posted_to_is_announced_not_only_a_table_row(slack, hr, fake_slack):
    # Every other thing that stops requests (the connection, a missing scope, nobody to approve, the ledger
    # unreadable) is announced with role="alert"; a channel no request can reach is the worst of them.
    install_config()
    request_time_off(slack, fake_slack, ALICE)  # delivered: the ledger is read and cached
    bot_removed(fake_slack, C_ENG_APPROVALS)
    slack_sends(slack, {"type": "group_left", "channel": C_ENG_APPROVALS, "actor_id": HR, "event_ts": now_ts()},
                "Ev_BOT_OUT_ALERT")
    view = open_request_form(slack, fake_slack, DAVE)
    submit_request(slack, DAVE, view, request_values("vacation", date(2031, 4, 7), date(2031, 4, 8)),
                   view_id="V_DAVE", view_hash="h_dave")  # refused by Slack: HR must find out from this page
    assert [p.user for p in DeliveryProblem.objects.all()] == [DAVE]

    page = setup_page(hr)

    assert [a for a in alerts(page) if "approvals channel" in a or "eng-approvals" in a
            or C_ENG_APPROVALS in a], alerts(page)


def test_a_request_that_could_not_be_posted_is_listed_for_hr_with_who_what_where_and_slacks_error(
        slack, hr, fake_slack):
    install_config()
    bot_removed(fake_slack, C_ENG_APPROVALS)  # no event reached the app: Slack's answer is the first word of it

    request_time_off(slack, fake_slack, ALICE)

    assert posted_requests(fake_slack) == [] or not any(c.response.get("ok") for c in posted_requests(fake_slack))
    [problem] = DeliveryProblem.objects.all()
    page = setup_page(hr)
    [row] = problem_rows(page)
    assert "Alice Adams" in row and ASKED_FOR in row and problem.error in row, row
    assert problem.error in ("channel_not_found", "not_in_channel")
    assert "#eng-approvals" in row or C_ENG_APPROVALS in row
    assert "never reached their approvers" in page  # and what to do about it
    assert "fix the channel or the app, then ask them to send the request again" in page


def test_check_again_shows_a_channel_lost_while_no_event_said_so(slack, hr, fake_slack):
    install_config()
    assert channel_rows(setup_page(hr))["#eng-approvals"].endswith("OK")
    bot_removed(fake_slack, C_ENG_APPROVALS)  # Slack's event was lost (or the app not subscribed to it)

    before = setup_page(hr)  # the last report is minutes old at most: shown as it is, with when it was made
    assert "#eng-approvals" in channel_rows(before) and "Checked " in before

    after = setup_page(hr, check_again=True)
    [row] = [row for row in channel_rows(after).values() if "Engineering: approvals channel" in row]
    assert "/invite @Time off" in row, row


def test_after_the_bot_is_invited_back_the_channel_and_ledger_warnings_go(slack, hr, fake_slack):
    install_config()
    request_time_off(slack, fake_slack, ALICE)
    bot_removed(fake_slack, C_ENG_APPROVALS)
    slack_sends(slack, {"type": "group_left", "channel": C_ENG_APPROVALS, "actor_id": HR, "event_ts": now_ts()},
                "Ev_BOT_OUT_2")
    page = setup_page(hr)
    assert any("/invite @Time off" in row for row in channel_rows(page).values())

    bot_invited(fake_slack, C_ENG_APPROVALS)
    slack_sends(slack, member_joined(BOT, C_ENG_APPROVALS), "Ev_BOT_IN_2")
    page = setup_page(hr)  # no "Check again": the event asked for one

    assert channel_rows(page)["#eng-approvals"].endswith("OK")
    assert not [a for a in alerts(page) if "eng-approvals" in a or C_ENG_APPROVALS in a], alerts(page)


def test_the_ledger_the_bot_cannot_read_is_announced_with_the_channel_and_the_invite(slack, hr, fake_slack):
    install_config()
    bot_removed(fake_slack, C_ENG_APPROVALS)  # before anything read the ledger: the page's own read meets it

    page = setup_page(hr)

    [ledger_alert] = [a for a in alerts(page) if a.startswith("The ledger cannot be read")]
    assert "#eng-approvals" in ledger_alert and "/invite @Time off" in ledger_alert, ledger_alert


def test_the_ledger_warning_goes_once_the_bot_is_back_and_hr_checks_again(slack, hr, fake_slack):
    install_config()
    bot_removed(fake_slack, C_ENG_APPROVALS)
    assert [a for a in alerts(setup_page(hr)) if a.startswith("The ledger cannot be read")]

    bot_invited(fake_slack, C_ENG_APPROVALS)
    slack_sends(slack, member_joined(BOT, C_ENG_APPROVALS), "Ev_BOT_IN_3")
    page = setup_page(hr, check_again=True)  # HR did what the page said, and asks it to look again

    assert not [a for a in alerts(page) if a.startswith("The ledger cannot be read")], alerts(page)
    assert channel_rows(page)["#eng-approvals"].endswith("OK")


# --- The announce channel archived ----------------------------------------------------------------------


def test_an_archived_announce_channel_is_shown_and_goes_once_unarchived(slack, hr, fake_slack):
    install_config()
    setup_page(hr)
    with fake_slack.workspace.lock:
        fake_slack.workspace.channels[C_ENG].is_archived = True
    slack_sends(slack, {"type": "channel_archive", "channel": C_ENG, "user": HR, "event_ts": now_ts()},
                "Ev_ARCHIVED")

    row = channel_rows(setup_page(hr))["#engineering"]
    assert "archived" in row and "It is archived: nothing can be posted there." in row

    with fake_slack.workspace.lock:
        fake_slack.workspace.channels[C_ENG].is_archived = False
    slack_sends(slack, {"type": "channel_unarchive", "channel": C_ENG, "user": HR, "event_ts": now_ts()},
                "Ev_UNARCHIVED")

    row = channel_rows(setup_page(hr))["#engineering"]
    assert "archived" not in row and row.endswith("OK"), row


def test_an_announcement_that_failed_is_listed_without_telling_hr_the_request_never_arrived(slack, hr, fake_slack):
    # The request reached its approvers and was approved: only the announcement failed. HR must not read
    # that it "never reached" them, nor ask Alice to send it again (a second request for the same days).
    install_config()
    request_time_off(slack, fake_slack, ALICE)
    [posted] = [c for c in posted_requests(fake_slack) if c.response.get("ok")]
    with fake_slack.workspace.lock:
        fake_slack.workspace.channels[C_ENG].is_archived = True

    click(slack, fake_slack, BOB, ids.APPROVE_ACTION, posted)

    [problem] = DeliveryProblem.objects.all()
    assert problem.error == "is_archived"
    page = setup_page(hr)
    [row] = problem_rows(page)
    assert "approved in the ledger" in row and "is_archived" in row and "#engineering" in row, row
    section = page[page.index('id="problems-heading"'):page.index('id="ledger-heading"')]
    assert "never reached their approvers" not in section, section
    assert "ask them to send the request again" not in section, section


def test_a_delivery_problem_names_people_as_slack_does_not_by_id(slack, hr, fake_slack, no_backoff):
    # The task writing the problem has only ids at hand ("U0BOB's approval is in the ledger, but …");
    # HR reads names, as everywhere else on the page.
    install_config()
    slack_directory.directory_refresh(background_client())
    request_time_off(slack, fake_slack, ALICE)
    [posted] = [c for c in posted_requests(fake_slack) if c.response.get("ok")]
    fake_slack.server_error("chat.postMessage", status=500, times=None)  # the thread reply, the DMs

    click(slack, fake_slack, BOB, ids.APPROVE_ACTION, posted)

    [problem] = DeliveryProblem.objects.all()
    assert problem.summary.startswith(f"{BOB}'s approval is in the ledger"), problem.summary
    [row] = problem_rows(setup_page(hr))
    bob = fake_slack.workspace.users[BOB].real_name
    assert f"{bob}'s approval is in the ledger" in row, row
    assert BOB not in row and ALICE not in row, row


def test_hr_marks_a_problem_resolved_and_it_leaves_the_list_but_not_the_record(slack, hr, fake_slack,
                                                                               django_user_model):
    install_config()
    bot_removed(fake_slack, C_ENG_APPROVALS)
    request_time_off(slack, fake_slack, ALICE)
    [problem] = DeliveryProblem.objects.all()
    page = setup_page(hr)
    assert len(problem_rows(page)) == 1 and "Mark resolved" in problem_rows(page)[0]

    response = hr.post(reverse("console:setup_problem_resolved", args=[problem.pk]), follow=True)

    assert response.status_code == 200 and "Marked resolved" in response.text
    page = setup_page(hr)
    assert problem_rows(page) == []
    assert "No delivery problems left to look at" in page and "1 problem marked resolved" in page
    problem.refresh_from_db()
    assert problem.resolved_by == "hannah" and problem.resolved_at is not None
    first_mark = problem.resolved_at
    hr.post(reverse("console:setup_problem_resolved", args=[problem.pk]))  # a second tab: the first mark stays
    problem.refresh_from_db()
    assert problem.resolved_at == first_mark

    # A new problem after that is listed: only what was marked leaves.
    DeliveryProblem.objects.create(request_id="r2", user=ALICE, team="Engineering", channel=C_ENG_APPROVALS,
                                   error="is_archived", summary="Sick day, Mon 17 Mar 2031", undelivered=True)
    [row] = problem_rows(setup_page(hr))
    assert "Sick day" in row, row


def test_marking_resolved_needs_a_post_from_staff_and_an_existing_problem(slack, hr, fake_slack, django_user_model):
    install_config()
    bot_removed(fake_slack, C_ENG_APPROVALS)
    request_time_off(slack, fake_slack, ALICE)
    [problem] = DeliveryProblem.objects.all()
    url = reverse("console:setup_problem_resolved", args=[problem.pk])

    assert hr.get(url).status_code == 405
    assert hr.post(reverse("console:setup_problem_resolved", args=[problem.pk + 1000])).status_code == 404
    employee = django_user_model.objects.create_user("eve", "eve@example.com", "a-long-test-password")
    browser = Client()
    browser.force_login(employee)
    assert browser.post(url).status_code in (302, 403)
    assert Client().post(url).status_code in (302, 403)
    problem.refresh_from_db()
    assert problem.resolved_at is None


# --- Nobody left to approve -------------------------------------------------------------------------------


def support_team(name: str = "Support") -> TeamConfig:
    return TeamConfig(name=name, members=MemberSource(users=(ALICE,)), approvers=ApproverSource(users=(BOB,)),
                      approvals_channel=C_ENG_APPROVALS)


def test_a_team_whose_approvers_and_hr_all_left_is_announced_and_goes_once_hr_names_an_approver(
        slack, hr, fake_slack):
    install_config(standard_config(teams=(support_team(),)))
    assert "teams-nobody-approves" not in setup_page(hr)

    deactivated(slack, fake_slack, BOB, "Ev_BOB_GONE")
    assert "teams-nobody-approves" not in setup_page(hr)  # HR (the fallback approvers) still decides
    deactivated(slack, fake_slack, HR, "Ev_HR_GONE")
    page = setup_page(hr)

    assert re.search(r'id="teams-nobody-approves" role="alert"', page)
    [said] = [a for a in alerts(page) if a.startswith("Nobody can approve the requests of")]
    assert "Support" in said
    assert "Name approvers on the team's page" in said and "set fallback approvers" in said

    support = Team.objects.get(name="Support")
    response = hr.post(reverse("console:team_edit", args=[support.pk]), team_post(
        name="Support", members_users="alice@example.com", members_channel="", members_usergroup="",
        approvers_users="Dave Diaz", approvers_channel="", approvals_channel="#eng-approvals",
        announce_channel="", holiday_country="", holiday_subdivision="", timezone="UTC", max_out="",
        digest_time="", nudge_after_hours=""))
    assert response.status_code == 302, response.content.decode()[:3000]

    page = setup_page(hr)
    assert "teams-nobody-approves" not in page
    assert not [a for a in alerts(page) if a.startswith("Nobody can approve")]


def test_the_warning_goes_when_hr_comes_back_to_slack(slack, hr, fake_slack):
    install_config(standard_config(teams=(support_team(),)))
    deactivated(slack, fake_slack, BOB, "Ev_BOB_GONE_2")
    deactivated(slack, fake_slack, HR, "Ev_HR_GONE_2")
    assert "teams-nobody-approves" in setup_page(hr)

    reactivated(slack, fake_slack, HR, "Ev_HR_BACK")

    assert "teams-nobody-approves" not in setup_page(hr)


def test_names_hr_typed_reach_the_nobody_approves_warning_escaped(slack, hr, fake_slack):
    install_config(standard_config(teams=(support_team(f"Ops {HOSTILE}"),)))
    deactivated(slack, fake_slack, BOB, "Ev_BOB_GONE_3")
    deactivated(slack, fake_slack, HR, "Ev_HR_GONE_3")

    page = setup_page(hr)

    assert HOSTILE not in page
    assert "Ops &lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in page
    [said] = [a for a in alerts(page) if a.startswith("Nobody can approve")]
    assert f"Ops {HOSTILE}" in said  # shown as typed, as text


# --- Typed text on the page ---------------------------------------------------------------------------------


def test_what_people_and_hr_typed_is_shown_as_text_in_the_channels_and_delivery_problems(slack, hr, fake_slack):
    with fake_slack.workspace.lock:
        fake_slack.workspace.users[ALICE].real_name = f"Alice {HOSTILE}"  # anyone sets their own Slack name
    fake_slack.workspace.add_channel("C_ODD", "odd<b>name</b>", members=[ALICE], bot_member=False)
    odd_type = LeaveTypeConfig(code="vacation", name="Vacation <script>alert(2)</script>", emoji=":palm_tree:",
                               requires_approval=True)
    team = replace(ENGINEERING, name=f"Eng {HOSTILE}", announce_channel="C_ODD")
    install_config(standard_config(teams=(team,), leave_types=(odd_type,)))
    slack_directory.directory_refresh(background_client())  # the console names Alice as Slack does now
    bot_removed(fake_slack, C_ENG_APPROVALS)

    request_time_off(slack, fake_slack, ALICE, note=f"see <!channel> {HOSTILE}")
    page = setup_page(hr, check_again=True)

    assert HOSTILE not in page and "<script>alert(2)" not in page and "<b>name</b>" not in page
    assert "<!channel>" not in page
    [row] = problem_rows(page)
    assert f"Alice {HOSTILE}" in row and "Vacation <script>alert(2)</script>" in row and f"Eng {HOSTILE}" in row, row
    assert "see <!channel>" not in row  # the note is not HR's to read here
    rows = channel_rows(page)
    assert any(f"Eng {HOSTILE}: announce channel" in row for row in rows.values()), rows


# --- Slack rate-limiting the ledger's reads ---------------------------------------------------------------


@pytest.fixture
def quick_clock(monkeypatch):
    """The ledger reader's waits for a 429's Retry-After, and the clients', on a clock that skips them."""
    clock = Clock()
    monkeypatch.setattr(ledger_reader, "time", types.SimpleNamespace(time=clock.time, sleep=clock.sleep))
    monkeypatch.setattr(builtin_handlers, "time", types.SimpleNamespace(sleep=clock.sleep, time=time.time,
                                                                        monotonic=time.monotonic))
    monkeypatch.setattr(slack_pauses, "time", types.SimpleNamespace(time=clock.time, sleep=clock.sleep))
    return clock


def test_slack_rate_limiting_the_ledger_reads_is_announced_with_what_to_check(slack, hr, fake_slack, quick_clock):
    install_config()
    fake_slack.rate_limit("conversations.history", retry_after=30, times=1)  # past what a call waits out

    page = setup_page(hr)  # its own read of the cold ledger meets the 429, waits it out and reads on

    assert fake_slack.calls("conversations.history")[0].status == 429
    assert "The ledger cannot be read" not in page and "request" in page
    [said] = [a for a in alerts(page) if "rate-limited" in a]
    assert "leave history" in said and "internal app" in said, said
    assert re.search(r'id="history-limited" role="alert"', page)
    assert "15 messages at a time" not in said  # pages were whole: a limit, not a distributed app's pages


def test_pages_of_fifteen_say_it_is_a_distributed_apps_limit(slack, hr, fake_slack):
    install_config()
    for n in range(40):  # history longer than one page of 15
        fake_slack.workspace.post_message(C_ENG_APPROVALS, f"chatter {n}", user=DAVE)
    fake_slack.workspace.history_page_cap = 15

    page = setup_page(hr)  # its own read of the cold ledger meets the pages of 15

    [said] = [a for a in alerts(page) if "15 messages at a time" in a]
    assert "Install the app as your company's own internal app" in said, said


# --- The token revoked --------------------------------------------------------------------------------------


def tokens_revoked() -> dict:
    return {"type": "tokens_revoked", "tokens": {"oauth": [], "bot": [BOT]}, "event_ts": now_ts()}


def test_a_revoked_token_is_on_the_page_as_soon_as_slack_says_so(slack, hr, fake_slack):
    install_config()
    assert "Connected to <strong>Fake Workspace</strong>" in setup_page(hr)  # and the bot's id is known now

    fake_slack.workspace.revoke_token()
    slack_sends(slack, tokens_revoked(), "Ev_REVOKED")
    page = setup_page(hr)  # HR opens the page after the app stopped working: no "Check again" pressed

    assert "Connected to" not in page
    [said] = [a for a in alerts(page) if "tokens_revoked" in a]  # the event's name
    assert "reinstall it to the workspace and set the new SLACK_BOT_TOKEN" in said, said


def test_check_again_after_the_token_was_revoked_names_the_fix_and_a_new_token_clears_it(slack, hr, fake_slack,
                                                                                          settings):
    install_config()
    setup_page(hr)
    fake_slack.workspace.revoke_token()
    slack_sends(slack, tokens_revoked(), "Ev_REVOKED_2")

    page = setup_page(hr, check_again=True)
    [said] = [a for a in alerts(page) if a.startswith("Slack refused the connection")]
    assert "token_revoked" in said and "reinstall it to the workspace and set the new SLACK_BOT_TOKEN" in said, said
    assert fake_slack.workspace.bot_token not in page

    # The app reinstalled: Slack issues a new bot token, and whoever runs the app sets it and restarts.
    with fake_slack.workspace.lock:
        fake_slack.workspace.bot_token = "xoxb-the-new-bot-token"
    settings.SLACK_BOT_TOKEN = "xoxb-the-new-bot-token"
    page = setup_page(hr, check_again=True)

    assert "Connected to <strong>Fake Workspace</strong>" in page
    assert not [a for a in alerts(page) if "refused" in a or "token" in a], alerts(page)
    assert "xoxb-the-new-bot-token" not in page


def test_an_invalid_token_names_the_setting_and_goes_once_the_right_one_is_set(slack, hr, fake_slack, settings):
    install_config()
    settings.SLACK_BOT_TOKEN = "xoxb-mistyped"  # the fake knows only its own token: invalid_auth

    page = setup_page(hr, check_again=True)
    [said] = [a for a in alerts(page) if a.startswith("Slack refused the connection")]
    assert "invalid_auth" in said and "set SLACK_BOT_TOKEN to the app's Bot User OAuth Token" in said, said
    assert "xoxb-mistyped" not in page

    settings.SLACK_BOT_TOKEN = fake_slack.workspace.bot_token
    page = setup_page(hr, check_again=True)
    assert "Connected to <strong>Fake Workspace</strong>" in page
    assert not [a for a in alerts(page) if "invalid_auth" in a]


# --- A members channel Slack will not show ---------------------------------------------------------------------


def test_a_members_channel_the_bot_cannot_see_is_named_with_the_invite_and_goes_once_invited(slack, hr, fake_slack):
    fake_slack.workspace.add_channel(C_SUPPORT, "support", members=[ALICE, DAVE], private=True,
                                     bot_member=False)
    team = TeamConfig(name="Support", members=MemberSource(channel=C_SUPPORT), approvers=ApproverSource(users=(BOB,)),
                      approvals_channel=C_ENG_APPROVALS)
    install_config(standard_config(teams=(team,)))

    page = setup_page(hr)
    [(shown, row)] = [(shown, row) for shown, row in channel_rows(page).items() if "Support: members channel" in row]
    assert "Slack cannot find it" in row and "/invite @Time off" in row, row

    bot_invited(fake_slack, C_SUPPORT)
    slack_sends(slack, member_joined(BOT, C_SUPPORT), "Ev_BOT_IN_SUPPORT")
    page = setup_page(hr)

    row = channel_rows(page)["#support"]
    assert row.endswith("OK"), row


def test_a_scope_slack_did_not_grant_names_the_scope_and_the_reinstall_and_goes_once_granted(slack, hr, fake_slack):
    fake_slack.workspace.add_channel(C_SUPPORT, "support", members=[ALICE], private=True)
    team = TeamConfig(name="Support", members=MemberSource(channel=C_SUPPORT), approvers=ApproverSource(users=(BOB,)),
                      approvals_channel=C_ENG_APPROVALS)
    install_config(standard_config(teams=(team,)))
    granted = fake_slack.workspace.granted_scopes
    with fake_slack.workspace.lock:  # installed from an old manifest: no private channels
        fake_slack.workspace.granted_scopes = tuple(s for s in granted if s not in ("groups:read", "groups:history"))

    page = setup_page(hr, check_again=True)

    [missing] = [a for a in alerts(page) if a.startswith("Missing scopes")]
    assert "groups:read" in missing and "reinstall the app" in missing, missing
    [row] = [row for row in channel_rows(page).values() if "Support: members channel" in row]
    assert "The app lacks the scope groups:read" in row and "reinstall the app" in row, row

    with fake_slack.workspace.lock:
        fake_slack.workspace.granted_scopes = granted
    page = setup_page(hr, check_again=True)

    assert not [a for a in alerts(page) if a.startswith("Missing scopes")]
    assert channel_rows(page)["#support"].endswith("OK")
    assert "Every scope the app needs is granted." in page
