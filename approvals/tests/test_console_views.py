"""The HR console's pages through Django's test client: who may see them, and what they show.

Hannah (HR) is a staff user; Ivan is a signed-in user who is not staff.
"""

import re

import pytest
from django.urls import reverse

from approvals.models import Team
from fake_slack.personas import ALICE, BOB, C_ENG, C_ENG_APPROVALS, C_ENG_LEADS, S_ENG

pytestmark = pytest.mark.django_db


@pytest.fixture
def team_editor(client, django_user_model, fake_slack):
    """Staff who may change teams: the order of teams decides each person's team."""
    from django.contrib.auth.models import Permission

    harry = django_user_model.objects.create_user("harry", "harry@example.com", "a-long-test-password", is_staff=True)
    harry.user_permissions.add(Permission.objects.get(codename="change_team"))
    client.force_login(harry)
    return client


@pytest.fixture
def teams():
    engineering = Team.objects.create(name="Engineering", position=0, approvals_channel=C_ENG_APPROVALS,
                                      approvers_users=[BOB], approvers_channel=C_ENG_LEADS,
                                      members_channel=C_ENG, members_users=[ALICE])
    support = Team.objects.create(name="Support", position=1, approvals_channel="C_UNKNOWN", members_usergroup=S_ENG)
    everyone = Team.objects.create(name="Everyone", position=2, approvals_channel=C_ENG_APPROVALS, is_default=True)
    return engineering, support, everyone


def test_root_redirects_to_the_console(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"] == "/console/"


def test_it_sends_anonymous_visitors_to_sign_in(client):
    response = client.get("/console/")
    assert response.status_code == 302
    assert response["Location"].startswith("/console/login/?next=/console/")


def test_it_refuses_signed_in_users_who_are_not_staff(client, django_user_model):
    ivan = django_user_model.objects.create_user("ivan", "ivan@example.com", "a-long-test-password")
    client.force_login(ivan)
    response = client.get("/console/")
    assert response.status_code == 403
    assert "not an HR console account" in response.text
    assert client.get(reverse("console:search"), {"q": "alice"}).status_code == 403
    assert client.get(reverse("console:suggest"), {"q": "alice"}).status_code == 403


def test_home_lists_teams_in_matching_order_with_names_not_ids(team_editor, teams):
    engineering, _support, _everyone = teams
    Team.objects.filter(pk=engineering.pk).update(position=5)  # now last in the matching order
    response = team_editor.get("/console/")  # who may change teams: their names link to their forms
    assert response.status_code == 200
    names = re.findall(r'<h2 class="team-name"><a href="[^"]+">([^<]+)</a>', response.text)
    assert names == ["Support", "Everyone", "Engineering"]
    assert reverse("console:team_edit", args=[engineering.pk]) in response.text
    # Names from the Slack directory, refreshed in the background (immediate in tests).
    assert "Bob Brown" in response.text
    assert "everyone in #eng-leads" in response.text
    assert "#eng-approvals" in response.text
    assert "everyone in @eng" in response.text
    assert "C_UNKNOWN" in response.text  # an id the directory does not know is shown as it is
    assert "default team" in response.text


def test_pages_have_navigation_and_nothing_inline_for_the_csp(hr_client, teams):
    response = hr_client.get("/console/")
    assert 'aria-current="page"' in response.text
    for target in (reverse("console:search"), reverse("admin:index"), reverse("admin:logout")):
        assert f'"{target}"' in response.text
    assert "Content-Security-Policy" in response.headers
    assert "style=" not in response.text and "<style" not in response.text
    assert re.findall(r"<script(?![^>]*\ssrc=)[^>]*>", response.text) == []
    assert "/static/approvals/console.css" in response.text


def test_home_without_teams_says_how_to_start(hr_client):
    response = hr_client.get("/console/")
    assert "No teams yet" in response.text


def test_moving_a_team_changes_the_matching_order(team_editor, teams):
    engineering, _support, everyone = teams
    response = team_editor.post(reverse("console:team_reorder", args=[everyone.pk]), {"direction": "up"})
    assert response.status_code == 302
    assert list(Team.objects.order_by("position").values_list("name", flat=True)) == [
        "Engineering", "Everyone", "Support"]
    team_editor.post(reverse("console:team_reorder", args=[engineering.pk]), {"direction": "down"}, follow=True)
    response = team_editor.post(reverse("console:team_reorder", args=[engineering.pk]), {"direction": "down"},
                              follow=True)
    assert "Engineering moved down." in response.text
    assert list(Team.objects.order_by("position").values_list("name", flat=True)) == [
        "Everyone", "Support", "Engineering"]


def test_moving_past_the_end_changes_nothing(team_editor, teams):
    engineering, _, _ = teams
    team_editor.post(reverse("console:team_reorder", args=[engineering.pk]), {"direction": "up"})
    assert list(Team.objects.order_by("position").values_list("name", flat=True)) == [
        "Engineering", "Support", "Everyone"]


def test_moving_a_team_refreshes_the_configuration_slack_reads(team_editor, teams):
    from approvals.config_store import current_config

    assert [team.name for team in current_config().teams] == ["Engineering", "Support", "Everyone"]
    team_editor.post(reverse("console:team_reorder", args=[teams[2].pk]), {"direction": "up"})
    assert [team.name for team in current_config().teams] == ["Engineering", "Everyone", "Support"]


def test_reorder_refuses_get_bad_directions_and_missing_teams(team_editor, teams):
    url = reverse("console:team_reorder", args=[teams[0].pk])
    assert team_editor.get(url).status_code == 405
    assert team_editor.post(url, {"direction": "sideways"}).status_code == 400
    response = team_editor.post(reverse("console:team_reorder", args=[999_999]), {"direction": "up"}, follow=True)
    assert "That team no longer exists." in response.text


def test_reorder_needs_the_permission_to_change_teams(hr_client, teams):
    # Staff alone may look, not move: the order decides which team (and which approvers) a person has.
    response = hr_client.post(reverse("console:team_reorder", args=[teams[2].pk]), {"direction": "up"})
    assert response.status_code == 403 and "approvals.change_team" in response.text
    assert list(Team.objects.order_by("position").values_list("name", flat=True)) == [
        "Engineering", "Support", "Everyone"]


def test_reorder_needs_the_csrf_token(client, django_user_model, teams):
    from django.test import Client

    hannah = django_user_model.objects.create_user("hannah", "h@example.com", "a-long-test-password", is_staff=True)
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(hannah)
    response = strict.post(reverse("console:team_reorder", args=[teams[2].pk]), {"direction": "up"})
    assert response.status_code == 403
    assert Team.objects.get(pk=teams[2].pk).position == 2


def test_the_favicon_is_our_own_static_file(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 301
    assert response["Location"] == "/static/approvals/favicon.svg"


def test_staff_who_may_not_change_teams_see_no_move_buttons(hr_client, teams):
    assert "Move Engineering down" not in hr_client.get(reverse("console:home")).text


def test_staff_who_may_change_teams_see_them(team_editor, teams):
    assert "Move Engineering down" in team_editor.get(reverse("console:home")).text
