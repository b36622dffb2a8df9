"""Guests in the console: a multi- or single-channel guest (a contractor, a client) may request leave like
anyone, but never decides it (directory._cannot_approve), so HR cannot name one as an approver or a fallback
approver: the form says why, by name, and saves nothing. Suggestions mark guests so HR sees it before typing.

Hannah (HR) is a superuser; Gina is a multi-channel guest, Sam a single-channel guest.
"""

import html
import re

import pytest
from django.urls import reverse

from approvals import slack_directory
from approvals.config_store import current_config
from approvals.models import Team, WorkspacePolicy
from approvals.slack_clients import background_client
from approvals.tests.test_console_names_on_a_real_workspace import version_on
from fake_slack.personas import BOB, C_ENG_APPROVALS, DAVE
from fake_slack.workspace import User
from test_support.console_pages import errors_of, team_post

pytestmark = pytest.mark.django_db

GINA = "U0GUEST01"
SAM = "U0GUEST02"


@pytest.fixture
def hr_client(client, django_user_model, fake_slack):
    client.force_login(django_user_model.objects.create_superuser("hannah", "hannah@example.com", "a-long-password"))
    return client


@pytest.fixture
def guests(fake_slack):
    with fake_slack.workspace.lock:
        fake_slack.workspace.users[GINA] = User(GINA, "gina", "Gina Guest", email="gina@contractor.example",
                                                is_restricted=True)
        fake_slack.workspace.users[SAM] = User(SAM, "sam", "Sam Single", email="sam@client.example",
                                               is_restricted=True, is_ultra_restricted=True)
    return slack_directory.directory_refresh(background_client())


def test_the_directory_knows_who_is_a_guest_from_slacks_user_list(guests):
    assert guests.person(GINA).guest and guests.person(SAM).guest
    assert not guests.person(BOB).guest


def test_a_guest_typed_as_an_approver_is_refused_by_name_and_the_team_is_unchanged(hr_client, guests):
    team = Team.objects.create(name="Engineering", position=0, approvals_channel=C_ENG_APPROVALS,
                               approvers_users=[BOB])
    url = reverse("console:team_edit", args=[team.pk])
    page = hr_client.get(url)

    response = hr_client.post(url, team_post(name="Engineering", approvers_users="bob@example.com, Gina Guest",
                                             version=version_on(page)))

    assert response.status_code == 200
    assert [html.unescape(e) for e in errors_of(response, "approvers_users")] == [
        "Gina Guest is a guest in Slack, and guests do not decide leave: the app would not let them approve. "
        "Choose a full member of the workspace."]
    team.refresh_from_db()
    assert team.approvers_users == [BOB]


def test_a_single_channel_guest_typed_by_email_as_a_fallback_approver_is_refused(hr_client, guests):
    url = reverse("console:policy")
    page = hr_client.get(url)

    response = hr_client.post(url, {"fallback_approvers": "Hannah Hill, sam@client.example",
                                    "version": version_on(page)})

    assert response.status_code == 200
    [error] = [html.unescape(e) for e in errors_of(response, "fallback_approvers")]
    assert error.startswith("Sam Single is a guest in Slack")
    assert current_config().fallback_approvers == ()


def test_a_guest_may_be_a_member_of_a_team_and_someone_who_may_request(hr_client, guests):
    team = Team.objects.create(name="Engineering", position=0, approvals_channel=C_ENG_APPROVALS,
                               approvers_users=[BOB])
    url = reverse("console:team_edit", args=[team.pk])
    page = hr_client.get(url)

    response = hr_client.post(url, team_post(name="Engineering", members_users="Gina Guest, sam@client.example",
                                             approvers_users="bob@example.com", version=version_on(page)))

    assert response.status_code == 302, errors_of(response, "members_users")
    team.refresh_from_db()
    assert team.members_users == [GINA, SAM] and team.approvers_users == [BOB]

    page = hr_client.get(reverse("console:policy"))
    response = hr_client.post(reverse("console:policy"), {"requesters_users": "Gina Guest",
                                                          "version": version_on(page)})
    assert response.status_code == 302, errors_of(response, "requesters_users")
    assert current_config().requesters_users == (GINA,)


def test_suggestions_mark_guests_and_only_guests(hr_client, guests):
    found = hr_client.get(reverse("console:suggest"), {"q": "g", "kind": "people"}).json()["suggestions"]

    labels = {suggestion["id"]: suggestion["label"] for suggestion in found}
    assert labels[GINA].endswith(" · guest")
    assert all("guest" not in label for user, label in labels.items() if user not in (GINA, SAM))


def test_the_setup_page_names_guests_and_leavers_a_configuration_file_made_approvers(hr_client, fake_slack, guests):
    """import_config takes Slack ids, so a file can name a guest; and a person may become a guest or leave
    after HR named them. The Setup page says who, as what, and why."""
    Team.objects.create(name="Engineering", position=0, approvals_channel=C_ENG_APPROVALS,
                        approvers_users=[BOB, GINA])
    policy, _ = WorkspacePolicy.objects.get_or_create(id=WorkspacePolicy.SINGLETON_ID)
    policy.fallback_approvers = [SAM, DAVE]
    policy.save()
    fake_slack.workspace.users[DAVE].deleted = True
    slack_directory.directory_refresh(background_client())

    page = hr_client.get(reverse("console:setup"))

    assert page.status_code == 200
    found = re.search(r'<div class="check check-warning" id="deciders-who-cannot">(.*?)</div>', page.text, re.S)
    assert found, "no warning about approvers who cannot decide"
    items = [" ".join(html.unescape(re.sub(r"<[^>]+>", "", item)).split())
             for item in re.findall(r"<li>(.*?)</li>", found[1], re.S)]
    assert items == [
        "Gina Guest, an approver of Engineering, is a guest in Slack, and guests do not decide leave.",
        "Sam Single, a fallback approver, is a guest in Slack, and guests do not decide leave.",
        "Dave Diaz, a fallback approver, has left: their Slack account is deactivated."]


def test_the_setup_page_warns_of_nobody_when_every_approver_can_decide(hr_client, guests):
    Team.objects.create(name="Engineering", position=0, approvals_channel=C_ENG_APPROVALS, approvers_users=[BOB])

    page = hr_client.get(reverse("console:setup"))

    assert page.status_code == 200 and "deciders-who-cannot" not in page.text
