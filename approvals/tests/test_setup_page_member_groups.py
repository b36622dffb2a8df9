"""The Setup page names a team whose members' user group Slack no longer lists (an admin disabled or deleted
it): nobody belongs to the team by it any more, and people fall to a later team, the default one, or none.

The fake Slack lists a disabled group, and reads its members, only when asked to include disabled groups,
as Slack's usergroups.list and usergroups.users.list do (`include_disabled`).
"""

import html
import re

import pytest
from django.urls import reverse
from slack_sdk.errors import SlackApiError

from approvals import slack_directory
from approvals.models import Team
from approvals.slack_clients import background_client
from approvals.directory import fetch_usergroup_members
from fake_slack.personas import ALICE, C_ENG_APPROVALS, S_ENG
from test_support.setup_page import setup_page

pytestmark = pytest.mark.django_db


@pytest.fixture
def hr(client, django_user_model, fake_slack):
    client.force_login(django_user_model.objects.create_superuser("hannah", "hannah@example.com", "a-long-password"))
    return client


def warning_items(page: str) -> list[str]:
    found = re.search(r'<div class="check check-warning" id="member-groups-not-listed">(.*?)</div>', page, re.S)
    assert found, "no warning about members' user groups"
    return [" ".join(html.unescape(re.sub(r"<[^>]+>", "", item)).split())
            for item in re.findall(r"<li>(.*?)</li>", found[1], re.S)]


def engineering_by_group() -> Team:
    return Team.objects.create(name="Engineering", position=0, approvals_channel=C_ENG_APPROVALS,
                               members_usergroup=S_ENG, approvers_users=["U_BOB"])


def test_a_team_whose_members_group_was_disabled_is_named_on_the_setup_page(hr, fake_slack):
    engineering_by_group()
    fake_slack.workspace.usergroups[S_ENG].disabled = True
    fetch_usergroup_members(background_client(), S_ENG)  # as a look for someone's team reads it

    page = setup_page(hr)

    assert warning_items(page) == [f"Engineering: {S_ENG}."]
    assert "Enable the group again in Slack, or choose another on the team's page." in " ".join(page.split())


def test_a_team_whose_members_group_is_enabled_gets_no_warning(hr, fake_slack):
    engineering_by_group()
    fetch_usergroup_members(background_client(), S_ENG)

    page = hr.get(reverse("console:setup")).text

    assert "member-groups-not-listed" not in page


def test_a_group_made_after_the_console_last_read_slacks_list_is_not_called_disabled(hr, fake_slack):
    """The console's list of user groups is read now and then: a group made since is not in it, yet fine."""
    slack_directory.directory_refresh(background_client())
    fake_slack.workspace.add_usergroup("S_NEW", "newcomers", [ALICE])
    Team.objects.create(name="Newcomers", position=0, approvals_channel=C_ENG_APPROVALS, members_usergroup="S_NEW",
                        approvers_users=["U_BOB"])
    fetch_usergroup_members(background_client(), "S_NEW")

    assert "member-groups-not-listed" not in hr.get(reverse("console:setup")).text


def test_the_fake_slack_hides_a_disabled_group_unless_asked_to_include_it(fake_slack):
    client = background_client()
    fake_slack.workspace.usergroups[S_ENG].disabled = True

    listed = [g["id"] for g in client.usergroups_list()["usergroups"]]
    everything = {g["id"]: g for g in client.usergroups_list(include_disabled=True)["usergroups"]}

    assert S_ENG not in listed
    assert everything[S_ENG]["date_delete"] > 0
    with pytest.raises(SlackApiError) as refused:
        client.usergroups_users_list(usergroup=S_ENG)
    assert refused.value.response["error"] == "no_such_subteam"
    assert client.usergroups_users_list(usergroup=S_ENG, include_disabled=True)["users"]
