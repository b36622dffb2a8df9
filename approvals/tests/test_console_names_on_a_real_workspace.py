"""HR's console on a workspace as a real company's looks: people who share a name, display names that
differ from real names, bots and Slackbot, people who left, names anyone may set to hostile text, a
directory refresh that Slack interrupts half way, people and channels renamed in Slack, and forms sent
after the directory moved under them. HR never types or reads a Slack id.

Hannah (HR) is a superuser; names are typed as HR knows them.
"""

import csv
import html
import io
import re
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from django.urls import reverse

from approvals import slack_directory
from approvals.config_store import current_config
from approvals.models import Team, WorkspacePolicy
from approvals.slack_clients import background_client
from approvals.tasks import refresh_slack_directory
from approvals.tests.test_console_see import NEXT_MONDAY, entry
from fake_slack.ledger_seed import seed_ledger
from fake_slack.personas import ALICE, BOB, C_ARCHIVED, C_ENG, C_ENG_APPROVALS, DAVE, HANNAH, S_ENG
from fake_slack.workspace import User
from test_support.console_pages import errors_of, team_post
from test_support.flows import install_config
from test_support.slack_faults import failing
from test_support.slack_requests import event_envelope, post_event

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-test-password"


@dataclass
class ProfiledUser(User):
    """A Slack user with the profile fields the fake fills in otherwise (a display name of its own) and
    top-level fields it leaves out (`is_restricted` for a guest, `is_bot`)."""

    profile: dict = field(default_factory=dict)
    answer: dict = field(default_factory=dict)

    def to_api(self) -> dict:
        api = super().to_api()
        api["profile"] = {**api["profile"], **self.profile}
        api.update(self.answer)
        return api


def person(fake_slack, user_id, handle, real_name, email=None, *, display_name=None, deleted=False,
           is_bot=False, answer=None):
    user = ProfiledUser(user_id, handle, real_name, "UTC", None, email, is_bot, deleted,
                        profile={} if display_name is None else {"display_name": display_name,
                                                                 "display_name_normalized": display_name},
                        answer=answer or {})
    with fake_slack.workspace.lock:
        fake_slack.workspace.users[user_id] = user
    return user


def refreshed():
    """The directory read again, as the background task reads it."""
    refresh_slack_directory.enqueue()
    return slack_directory.directory_cached()


@pytest.fixture
def hr_client(client, django_user_model, fake_slack):
    client.force_login(django_user_model.objects.create_superuser("hannah", "hannah@example.com", PASSWORD))
    return client


def version_on(page) -> str:
    found = re.search(r'<input type="hidden" name="version"(?: value="([^"]*)")?', page.text)
    return found[1] or ""


def field_value(page, name: str) -> str:
    found = re.search(rf'<input type="text" name="{name}"(?: value="([^"]*)")?', page.text)
    assert found, f"no {name} field on the page"
    return html.unescape(found[1] or "")


def team_row(page, team_name: str) -> str:
    """The Teams page's entry of one team: its members, approvers and approvals channel as shown."""
    found = re.search(rf'<li class="team" id="team-\d+">.*?>{re.escape(team_name)}<.*?</li>', page.text, re.S)
    assert found, f"{team_name} is not on the Teams page"
    return found[0]


def shown(fragment: str) -> str:
    """What a browser shows of an HTML fragment: tags dropped, entities decoded, white space collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def csv_rows(response) -> list[dict]:
    return list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))


# --- People who share a name ------------------------------------------------------------------------


@pytest.fixture
def two_alex_kims(fake_slack):
    person(fake_slack, "U0KIM0001", "alex.kim", "Alex Kim", "alex.kim@example.com")
    person(fake_slack, "U0KIM0002", "akim", "Alex Kim", "akim@example.com")
    return slack_directory.directory_refresh(background_client())


def test_two_alex_kims_approving_one_team_are_each_named_with_their_email_on_the_teams_page(hr_client,
                                                                                            two_alex_kims):
    Team.objects.create(name="Engineering", position=0, approvals_channel=C_ENG_APPROVALS,
                        approvers_users=["U0KIM0001", "U0KIM0002", BOB])

    row = shown(team_row(hr_client.get(reverse("console:home")), "Engineering"))

    assert "Alex Kim (alex.kim@example.com), Alex Kim (akim@example.com), Bob Brown" in row
    assert "U0KIM" not in row


def test_a_team_form_naming_two_alex_kims_opens_with_each_ones_address_and_saves_back_the_same_two(
        hr_client, two_alex_kims):
    team = Team.objects.create(name="Engineering", position=0, approvals_channel=C_ENG_APPROVALS,
                               approvers_users=["U0KIM0002", "U0KIM0001"], members_channel=C_ENG)
    url = reverse("console:team_edit", args=[team.pk])
    page = hr_client.get(url)
    approvers = field_value(page, "approvers_users")
    assert "U0KIM" not in approvers

    # HR changes only the most-people-out limit and saves the form as it opened.
    response = hr_client.post(url, team_post(name="Engineering", approvers_users=approvers,
                                             members_users="", members_channel="#engineering",
                                             members_usergroup="", approvers_channel="",
                                             max_out="4", version=version_on(page)))

    assert response.status_code == 302, errors_of(response, "approvers_users")
    team.refresh_from_db()
    assert (team.approvers_users, team.max_out) == (["U0KIM0002", "U0KIM0001"], 4)


def test_namesakes_whose_names_differ_only_in_case_are_told_apart_like_any_namesakes(hr_client, fake_slack):
    # Slack keeps whatever case people type: "Alex Kim" and "alex kim" read as one name to HR, and the
    # console's own forms refuse "alex kim" as naming several people.
    person(fake_slack, "U0KIM0001", "alex.kim", "Alex Kim", "alex.kim@example.com")
    person(fake_slack, "U0KIM0002", "akim", "alex kim", "akim@example.com")
    slack_directory.directory_refresh(background_client())
    Team.objects.create(name="Engineering", position=0, approvals_channel=C_ENG_APPROVALS,
                        approvers_users=["U0KIM0001", "U0KIM0002"])

    row = shown(team_row(hr_client.get(reverse("console:home")), "Engineering"))

    assert "alex.kim@example.com" in row and "akim@example.com" in row, row
    response = hr_client.post(reverse("console:team_add"), team_post(name="Platform", approvers_users="Alex Kim"))
    assert response.status_code == 200
    assert "Several people are called Alex Kim" in " ".join(errors_of(response, "approvers_users"))


def test_an_at_handle_is_that_person_though_anothers_display_name_is_the_same_word(hr_client, fake_slack):
    # Alex's handle is "alex"; Alexandra chose "alex" as her display name. "@alex" means Alex; a bare
    # "alex" could be either, and the form says so rather than guess.
    person(fake_slack, "U0ALEX001", "alex", "Alex Adams", "alex@example.com")
    person(fake_slack, "U0ALEXB01", "alexandra.b", "Alexandra Brown", "ab@example.com", display_name="alex")
    slack_directory.directory_refresh(background_client())

    unclear = hr_client.post(reverse("console:team_add"), team_post(approvers_users="alex"))
    assert unclear.status_code == 200 and not Team.objects.exists()
    [error] = errors_of(unclear, "approvers_users")
    assert "alex@example.com" in html.unescape(error) and "ab@example.com" in html.unescape(error)

    saved = hr_client.post(reverse("console:team_add"), team_post(approvers_users="@alex"))
    assert saved.status_code == 302
    assert Team.objects.get(name="Platform").approvers_users == ["U0ALEX001"]


def test_a_display_name_that_differs_from_the_real_name_finds_the_person_who_is_shown_by_real_name(
        hr_client, fake_slack):
    person(fake_slack, "U0MEG0001", "margaret.o", "Margaret O'Brien", "mob@example.com", display_name="Meg")
    slack_directory.directory_refresh(background_client())

    response = hr_client.post(reverse("console:team_add"), team_post(approvers_users="Meg"))

    assert response.status_code == 302, errors_of(response, "approvers_users")
    assert Team.objects.get(name="Platform").approvers_users == ["U0MEG0001"]
    row = shown(team_row(hr_client.get(reverse("console:home")), "Platform"))
    assert "Margaret O'Brien" in row


# --- Who cannot be chosen -----------------------------------------------------------------------------


def test_bots_slackbot_and_people_who_left_are_not_offered_and_typing_them_saves_nothing(hr_client, fake_slack):
    person(fake_slack, "U0JIRA001", "jira", "Jira Cloud", is_bot=True)
    person(fake_slack, "USLACKBOT", "slackbot", "Slackbot")
    person(fake_slack, "U0GONE001", "gina", "Gina Gone", "gina@example.com", deleted=True)
    slack_directory.directory_refresh(background_client())

    for typed in ("jira", "slackbot", "gina"):
        offered = hr_client.get(reverse("console:suggest"), {"q": typed, "kind": "people"}).json()["suggestions"]
        assert offered == [], (typed, offered)

    response = hr_client.post(reverse("console:team_add"), team_post(
        approvers_users="Jira Cloud, Slackbot, gina@example.com"))

    assert response.status_code == 200 and not Team.objects.exists()
    errors = [html.unescape(e) for e in errors_of(response, "approvers_users")]
    assert len(errors) == 3, errors
    assert "No one in this Slack workspace is called Jira Cloud" in errors[0]
    assert "No one in this Slack workspace is called Slackbot" in errors[1]
    assert errors[2].startswith("Gina Gone (gina@example.com) has left: their Slack account is deactivated")


def test_an_approver_who_left_is_named_on_the_team_form_not_shown_as_a_slack_id(hr_client, fake_slack):
    person(fake_slack, "U0GONE001", "gina", "Gina Gone", "gina@example.com", deleted=True)
    slack_directory.directory_refresh(background_client())
    team = Team.objects.create(name="Engineering", position=0, approvals_channel=C_ENG_APPROVALS,
                               approvers_users=[BOB, "U0GONE001"])

    assert "Bob Brown, Gina Gone (deactivated)" in shown(team_row(hr_client.get(reverse("console:home")),
                                                                  "Engineering"))
    approvers = field_value(hr_client.get(reverse("console:team_edit", args=[team.pk])), "approvers_users")
    assert "U0GONE001" not in approvers, f"the form shows HR a Slack id: {approvers!r}"
    assert "bob@example.com" in approvers


# --- Names anyone may set to anything -----------------------------------------------------------------


HOSTILE = {
    "U0EVIL001": '<script>alert("x")</script>',
    "U0EVIL002": "<!channel> Party <@U_BOB>",
    "U0EVIL003": '"><img src=x onerror=alert(1)>',
}


def test_hostile_names_are_shown_as_text_on_the_teams_and_policy_pages_and_in_suggestions(hr_client, fake_slack):
    for number, (user_id, name) in enumerate(HOSTILE.items()):
        person(fake_slack, user_id, f"evil{number}", name, f"evil{number}@example.com")
    long_name = "Maximiliane " + "von und zu " * 60 + "Hohenberg"
    person(fake_slack, "U0LONG001", "maxi", long_name, "maxi@example.com")
    slack_directory.directory_refresh(background_client())
    Team.objects.create(name="Engineering", position=0, approvals_channel=C_ENG_APPROVALS,
                        approvers_users=[*HOSTILE, "U0LONG001"])
    WorkspacePolicy.objects.update_or_create(id=WorkspacePolicy.SINGLETON_ID,
                                             defaults={"fallback_approvers": list(HOSTILE)})

    for page in (hr_client.get(reverse("console:home")), hr_client.get(reverse("console:policy"))):
        assert page.status_code == 200
        for name in HOSTILE.values():
            assert name not in page.text
            assert html.escape(name, quote=False) in page.text.replace("&#x27;", "'").replace("&quot;", '"')
        assert "<script>alert" not in page.text and "<img src=x" not in page.text
    assert long_name in shown(hr_client.get(reverse("console:home")).text)

    labels = [s["label"] for s in hr_client.get(reverse("console:suggest"), {"q": "evil", "kind": "people"}
                                                ).json()["suggestions"]]
    assert sorted(label.split(" · ")[0] for label in labels) == sorted(HOSTILE.values())
    search = hr_client.get(reverse("console:search"), {"q": "evil"}).text
    assert "<script>alert" not in search and "<img src=x" not in search and "&lt;script&gt;" in search


# --- The directory refresh when Slack interrupts it ---------------------------------------------------


def nth_page(method: str, n: int):
    """A matcher for the `n`th page (1-based, n ≥ 2) of a paged read of `method`, retries included."""
    cursors: list[str] = []

    def matches(called, params):
        cursor = params.get("cursor") or ""
        if called != method or not cursor:
            return False
        if cursor not in cursors:
            cursors.append(cursor)
        return cursors.index(cursor) == n - 2

    return matches


@pytest.fixture
def large_workspace(fake_slack):
    """600 people besides the personas (three full pages of users.list and a bit), read once."""
    for number in range(600):
        person(fake_slack, f"U_MANY{number:03d}", f"person{number:03d}", f"Person {number:03d}",
               f"p{number}@example.com")
    before = slack_directory.directory_refresh(background_client())
    assert len(before.people) == 605
    return before


@pytest.mark.parametrize("fault", ["http_500", "internal_error", "ratelimited_http_200"])
def test_a_refresh_failing_on_the_third_page_of_people_keeps_every_name_shown_before(
        hr_client, fake_slack, large_workspace, no_backoff, fault):
    Team.objects.create(name="Engineering", position=0, approvals_channel=C_ENG_APPROVALS,
                        approvers_users=["U_MANY599", BOB])  # on the last page
    fake_slack.workspace.users[BOB].real_name = "Robert Brown"

    with failing(fake_slack, nth_page("users.list", 3), fault, times=None) as met:
        try:
            refresh_slack_directory.enqueue()
        except Exception:  # the task's own retries are its business: what HR sees is what matters
            pass
    assert met, "the third page was never asked for"

    after = slack_directory.directory_cached()
    assert len(after.people) == 605
    row = shown(team_row(hr_client.get(reverse("console:home")), "Engineering"))
    assert "Person 599, Bob Brown" in row
    assert "being read from Slack" not in hr_client.get(reverse("console:home")).text


def test_a_refresh_told_to_wait_longer_than_a_minute_on_the_third_page_keeps_every_name(
        hr_client, fake_slack, large_workspace, no_sleeping):
    Team.objects.create(name="Engineering", position=0, approvals_channel=C_ENG_APPROVALS,
                        approvers_users=["U_MANY599"])
    fake_slack.clear_calls()
    fake_slack.rate_limit("users.list", retry_after=120, times=None, after=2)

    try:
        refresh_slack_directory.enqueue()
    except Exception:
        pass

    assert [c.status for c in fake_slack.calls("users.list")][:3] == [200, 200, 429]
    assert len(slack_directory.directory_cached().people) == 605
    assert "Person 599" in shown(team_row(hr_client.get(reverse("console:home")), "Engineering"))


def test_a_refresh_whose_channel_list_fails_after_the_people_were_read_changes_no_name(
        hr_client, fake_slack, no_backoff):
    before = slack_directory.directory_refresh(background_client())
    install_config()
    fake_slack.workspace.users[BOB].real_name = "Robert Brown"
    for number in range(250):  # two pages of channels
        fake_slack.workspace.add_channel(f"C_MANY{number:03d}", f"room-{number:03d}")

    with failing(fake_slack, nth_page("conversations.list", 2), "http_503", times=None):
        try:
            refresh_slack_directory.enqueue()
        except Exception:
            pass

    after = slack_directory.directory_cached()
    assert after == before  # neither the new name alone nor half the channels
    row = shown(team_row(hr_client.get(reverse("console:home")), "Engineering"))
    assert "Bob Brown" in row and "#eng-approvals" in row


def test_a_refresh_interrupted_then_done_shows_everyone_on_every_page(hr_client, fake_slack, large_workspace,
                                                                      no_sleeping):
    # A 429 with a short Retry-After on the third page is waited out, and the read goes on from there.
    person(fake_slack, "U_MANY700", "newcomer", "Nora Newcomer", "nora@example.com")
    Team.objects.create(name="Engineering", position=0, approvals_channel=C_ENG_APPROVALS,
                        approvers_users=["U_MANY700"])
    fake_slack.clear_calls()
    fake_slack.rate_limit("users.list", retry_after=2, times=1, after=2)

    refresh_slack_directory.enqueue()

    assert len(slack_directory.directory_cached().people) == 606
    assert "Nora Newcomer" in shown(team_row(hr_client.get(reverse("console:home")), "Engineering"))
    # Two pages, the 429, then the third page again and the fourth: no page read twice.
    assert [c.status for c in fake_slack.calls("users.list")] == [200, 200, 429, 200, 200]


# --- Renamed in Slack ----------------------------------------------------------------------------------


def test_a_person_channel_and_user_group_renamed_in_slack_are_shown_by_their_new_names_after_the_refresh(
        hr_client, fake_slack):
    slack_directory.directory_refresh(background_client())
    install_config()
    team = Team.objects.get(name="Engineering")
    team.approvers_users, team.members_usergroup = [BOB], S_ENG
    team.save()
    WorkspacePolicy.objects.update_or_create(id=WorkspacePolicy.SINGLETON_ID,
                                             defaults={"fallback_approvers": [BOB]})
    seed_ledger(fake_slack.workspace, channel=C_ENG_APPROVALS, adjustments=[], entries=[
        entry("bob-vacation", BOB, "vacation", NEXT_MONDAY, NEXT_MONDAY + timedelta(days=1))])
    assert "Bob Brown" in shown(team_row(hr_client.get(reverse("console:home")), "Engineering"))

    with fake_slack.workspace.lock:
        fake_slack.workspace.users[BOB].real_name = "Roberta Brown-Okafor"
        fake_slack.workspace.channels[C_ENG_APPROVALS].name = "eng-timeoff"
        fake_slack.workspace.usergroups[S_ENG].handle = "engineers"
    refreshed()

    row = shown(team_row(hr_client.get(reverse("console:home")), "Engineering"))
    assert "Roberta Brown-Okafor" in row and "#eng-timeoff" in row and "@engineers" in row
    assert "Bob Brown" not in row and "#eng-approvals" not in row
    assert "Roberta Brown-Okafor" in shown(hr_client.get(reverse("console:policy")).text)
    whos_out = shown(hr_client.get(reverse("console:whos_out")).text)
    assert "Roberta Brown-Okafor" in whos_out and "Bob Brown" not in whos_out
    rows = csv_rows(hr_client.get(reverse("console:ledger_export"), {"download": "1", "year": NEXT_MONDAY.year}))
    assert {row["user_name"] for row in rows if row["user"] == BOB} == {"Roberta Brown-Okafor"}
    # The form shows the renamed channel and user group by their new names, and saves back the same ids.
    page = hr_client.get(reverse("console:team_edit", args=[team.pk]))
    assert field_value(page, "approvals_channel") == "#eng-timeoff"
    assert field_value(page, "members_usergroup") == "@engineers"


# --- A form sent after the directory moved under it ---------------------------------------------------


def test_a_name_that_became_ambiguous_before_the_form_was_sent_is_refused_and_nothing_is_saved(
        hr_client, fake_slack):
    person(fake_slack, "U0KIM0001", "alex.kim", "Alex Kim", "alex.kim@example.com")
    slack_directory.directory_refresh(background_client())
    team = Team.objects.create(name="Engineering", position=0, approvals_channel=C_ENG_APPROVALS,
                               approvers_users=[BOB])
    url = reverse("console:team_edit", args=[team.pk])
    page = hr_client.get(url)  # HR opens the form and types "Alex Kim"; a second Alex Kim joins meanwhile
    person(fake_slack, "U0KIM0002", "akim", "Alex Kim", "akim@example.com")
    refreshed()

    response = hr_client.post(url, team_post(name="Engineering", approvers_users="bob@example.com, Alex Kim",
                                             version=version_on(page)))

    assert response.status_code == 200
    [error] = [html.unescape(e) for e in errors_of(response, "approvers_users")]
    assert "Several people are called Alex Kim" in error
    assert "alex.kim@example.com" in error and "akim@example.com" in error
    team.refresh_from_db()
    assert team.approvers_users == [BOB] and team.members_channel == ""


def test_a_fallback_approver_who_left_before_the_form_was_sent_is_refused_by_name_and_nothing_is_saved(
        hr_client, fake_slack):
    slack_directory.directory_refresh(background_client())
    url = reverse("console:policy")
    page = hr_client.get(url)  # HR types Dave as a fallback approver; Dave's account is deactivated meanwhile
    fake_slack.workspace.users[DAVE].deleted = True
    refreshed()

    response = hr_client.post(url, {"fallback_approvers": "Hannah Hill, Dave Diaz", "version": version_on(page)})

    assert response.status_code == 200
    assert [html.unescape(e) for e in errors_of(response, "fallback_approvers")] == [
        "Dave Diaz has left: their Slack account is deactivated."]
    assert not WorkspacePolicy.objects.filter(id=WorkspacePolicy.SINGLETON_ID).exists() or \
        WorkspacePolicy.objects.get(id=WorkspacePolicy.SINGLETON_ID).fallback_approvers == []
    assert current_config().fallback_approvers == ()


def test_a_person_gone_from_slack_entirely_is_not_taken_for_someone_else(hr_client, fake_slack):
    # Carol's account is removed from the list Slack gives (a Slack Connect colleague whose shared channel
    # was disconnected); "Carol" must not quietly match Caroline, who joined since.
    slack_directory.directory_refresh(background_client())
    page = hr_client.get(reverse("console:team_add"))
    with fake_slack.workspace.lock:
        del fake_slack.workspace.users["U_CAROL"]
    person(fake_slack, "U0CARO001", "caroline", "Caroline Chen", "caroline@example.com")
    refreshed()

    response = hr_client.post(reverse("console:team_add"), team_post(approvers_users="Carol Chen",
                                                                     version=version_on(page)))

    assert response.status_code == 200 and not Team.objects.exists()
    [error] = [html.unescape(e) for e in errors_of(response, "approvers_users")]
    assert error.startswith("No one in this Slack workspace is called Carol Chen.")


def test_channels_archived_or_unseen_and_a_deleted_user_group_are_refused_with_what_to_do(hr_client, fake_slack):
    slack_directory.directory_refresh(background_client())
    page = hr_client.get(reverse("console:team_add"))
    fake_slack.workspace.add_channel("C_SECRET", "secret-plans", members=[BOB], private=True, bot_member=False)
    with fake_slack.workspace.lock:
        fake_slack.workspace.channels[C_ENG_APPROVALS].is_archived = True
        del fake_slack.workspace.usergroups[S_ENG]
    refreshed()

    response = hr_client.post(reverse("console:team_add"), team_post(
        approvals_channel="#eng-approvals", approvers_channel="#secret-plans", members_usergroup="@eng",
        version=version_on(page)))

    assert response.status_code == 200 and not Team.objects.exists()
    [archived] = errors_of(response, "approvals_channel")
    [unseen] = errors_of(response, "approvers_channel")
    [group] = errors_of(response, "members_usergroup")
    assert "archived" in archived
    assert "/invite" in unseen and "secret-plans" in unseen
    assert group.startswith("No user group @eng in this Slack workspace")


# --- Names in the exports -----------------------------------------------------------------------------


def test_the_ledger_csv_names_namesakes_apart_and_no_name_runs_as_a_formula_or_turns_text_around(
        hr_client, fake_slack):
    names = {
        "U0KIM0001": "Alex Kim",
        "U0KIM0002": "Alex Kim",
        "U0MINUS01": "-2+3",
        "U0NBSP001": "\u00a0=1+1",
        "U0AT00001": "@SUM(A1:A9)",
        "U0PLUS001": "+44 Lee",
        "U0RLO0001": "Ruth \u202eLoveless",
    }
    for number, (user_id, name) in enumerate(names.items()):
        person(fake_slack, user_id, f"p{number}", name, f"p{number}@example.com")
    slack_directory.directory_refresh(background_client())
    install_config()
    seed_ledger(fake_slack.workspace, channel=C_ENG_APPROVALS, adjustments=[], entries=[
        entry(f"leave-{user_id}", user_id, "vacation", NEXT_MONDAY, NEXT_MONDAY) for user_id in names])

    rows = csv_rows(hr_client.get(reverse("console:ledger_export"), {"download": "1", "year": NEXT_MONDAY.year}))

    by_user = {row["user"]: row["user_name"] for row in rows}
    assert by_user["U0KIM0001"] == "Alex Kim (p0@example.com)"
    assert by_user["U0KIM0002"] == "Alex Kim (p1@example.com)"
    for user_id in ("U0MINUS01", "U0NBSP001", "U0AT00001", "U0PLUS001"):
        assert by_user[user_id] == "'" + names[user_id], by_user[user_id]
    assert by_user["U0RLO0001"] == "Ruth Loveless"


def test_the_balances_csv_names_namesakes_apart_and_people_who_left(hr_client, fake_slack):
    person(fake_slack, "U0KIM0001", "alex.kim", "Alex Kim", "alex.kim@example.com")
    person(fake_slack, "U0KIM0002", "akim", "Alex Kim", "akim@example.com")
    person(fake_slack, "U0GONE001", "gina", "Gina Gone", "gina@example.com", deleted=True)
    slack_directory.directory_refresh(background_client())
    install_config()
    team = Team.objects.get(name="Engineering")
    team.members_channel, team.members_users = "", ["U0KIM0001", "U0KIM0002", "U0GONE001", ALICE]
    team.save()
    seed_ledger(fake_slack.workspace, channel=C_ENG_APPROVALS, adjustments=[], entries=[
        entry("gina-leave", "U0GONE001", "vacation", NEXT_MONDAY, NEXT_MONDAY)])
    hr_client.get(reverse("console:balances"), {"team": "Engineering"})  # memberships and the ledger are read

    response = hr_client.get(reverse("console:balances"), {"team": "Engineering", "year": NEXT_MONDAY.year,
                                                           "download": "csv"})

    assert response.status_code == 200, response.content[:500]
    names = {row["user_id"]: row["name"] for row in csv_rows(response)}
    assert names["U0KIM0001"] == "Alex Kim (alex.kim@example.com)"
    assert names["U0KIM0002"] == "Alex Kim (akim@example.com)"
    assert names["U0GONE001"] == "Gina Gone (deactivated)"
    assert names[ALICE] == "Alice Adams"


# --- Channels the directory no longer lists -----------------------------------------------------------


def test_a_team_whose_approvals_channel_was_archived_names_the_channel_not_its_id(hr_client, fake_slack):
    # The channel was archived in Slack after HR chose it: after the console's next read of Slack's names, the
    # Teams page still names it, as HR knows it, and says it is archived.
    Team.objects.create(name="Old team", position=0, approvals_channel=C_ARCHIVED, approvers_users=[HANNAH])
    slack_directory.directory_refresh(background_client())

    row = shown(team_row(hr_client.get(reverse("console:home")), "Old team"))

    assert C_ARCHIVED not in row, row
    assert "#old-team (archived)" in row, row


def test_the_form_of_a_team_whose_channel_was_archived_names_it_and_saving_it_says_to_choose_another(
        hr_client, fake_slack):
    team = Team.objects.create(name="Old team", position=0, approvals_channel=C_ARCHIVED, approvers_users=[HANNAH])
    slack_directory.directory_refresh(background_client())
    url = reverse("console:team_edit", args=[team.pk])

    page = hr_client.get(url)
    assert field_value(page, "approvals_channel") == "#old-team"
    response = hr_client.post(url, team_post(name="Old team", approvals_channel="#old-team",
                                             approvers_users="hannah@example.com", version=version_on(page)))

    [error] = [html.unescape(e) for e in errors_of(response, "approvals_channel")]
    assert error.startswith("#old-team is archived in Slack"), error
    assert Team.objects.get().approvals_channel == C_ARCHIVED  # nothing saved


def test_someone_deactivated_is_marked_so_on_the_teams_page_as_soon_as_slack_says_so(client, hr_client, fake_slack):
    # Slack's user_change says Bob left: the console names him "(deactivated)" and stops offering him at
    # once, not at its next read of Slack's names.
    install_config()  # Engineering, which Bob approves for
    slack_directory.directory_refresh(background_client())
    fake_slack.workspace.users[BOB].deleted = True
    profile = fake_slack.workspace.users[BOB].to_api()

    response = post_event(client, event_envelope({"type": "user_change", "user": profile}, event_id="Ev_BOB_LEFT"))

    assert response.status_code == 200
    assert "Bob Brown (deactivated)" in shown(team_row(hr_client.get(reverse("console:home")), "Engineering"))
    assert BOB not in [p.id for p in slack_directory.people_matching("Bob")]
