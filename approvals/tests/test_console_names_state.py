"""The console says why it shows Slack ids where names belong: the workspace's names are still being
read from Slack (the first pages after an install), or Slack refused to list them."""

from unittest import mock

import pytest
from django.core.cache import cache
from django.urls import reverse

from approvals import slack_directory
from approvals.models import Team
from fake_slack.personas import BOB, C_ENG, C_ENG_APPROVALS

pytestmark = pytest.mark.django_db

# The pages that show people and channels by name, or by id until the names are known.
PAGES = ["console:home", "console:policy", "console:whos_out", "console:balances", "console:history"]
LOADING = "The names of people and channels are being read from Slack; until then their Slack ids are shown."


@pytest.fixture
def hr(admin_client, fake_slack):
    """HR, signed in to the console with every permission; Slack is the fake."""
    return admin_client


@pytest.fixture
def engineering(db):
    return Team.objects.create(name="Engineering", position=0, members_channel=C_ENG,
                               approvals_channel=C_ENG_APPROVALS, approvers_users=[BOB])


@pytest.fixture
def no_worker_yet(settings):
    """Tasks are recorded, not run: the directory's refresh waits for a worker that has not come."""
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.dummy.DummyBackend"}}


@pytest.mark.parametrize("page", PAGES)
def test_a_page_shown_before_the_names_are_read_says_so_with_a_reload_link(hr, engineering, no_worker_yet,
                                                                          page):
    response = hr.get(reverse(page))

    assert response.status_code == 200
    assert LOADING in response.text
    assert f'<a href="{reverse(page)}">Reload</a> in a moment.' in response.text


def test_the_teams_page_shows_ids_until_the_names_are_read_then_names_and_no_notice(hr, engineering,
                                                                                     settings):
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.dummy.DummyBackend"}}
    before = hr.get(reverse("console:home")).text
    assert LOADING in before and BOB in before and "Bob Brown" not in before

    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}
    cache.delete(slack_directory.REFRESH_REQUESTED_KEY)  # the refresh asked for above never ran
    after = hr.get(reverse("console:home")).text
    assert "Bob Brown" in after and "#engineering" in after
    assert "being read from Slack" not in after and "names-refused" not in after


@pytest.mark.parametrize("page", PAGES)
def test_a_page_says_slack_refused_to_list_the_workspace_and_where_to_look(hr, engineering, fake_slack,
                                                                          page):
    fake_slack.fail("users.list", "missing_scope", times=None)

    response = hr.get(reverse(page))

    assert response.status_code == 200
    assert ("Slack refused to list the workspace's people and channels (<code>missing_scope</code>), so Slack ids "
            "are shown in place of names.") in response.text
    assert f'on <a href="{reverse("console:setup")}">Setup</a>' in response.text
    assert "being read from Slack; until then" not in response.text


def test_pages_outside_the_console_read_nothing_of_the_directory(client, fake_slack):
    # The admin's login page renders with the same context processors: the names' state is read only
    # where a console page shows it.
    with mock.patch.object(slack_directory, "directory_cached") as cached, \
            mock.patch.object(slack_directory, "directory_error_cached") as error:
        assert client.get(reverse("admin:login")).status_code == 200
    cached.assert_not_called()
    error.assert_not_called()
