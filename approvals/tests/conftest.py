"""Fixtures shared by the console's tests."""

import pytest

from approvals import slack_directory
from approvals.slack_clients import background_client


@pytest.fixture
def hr_client(client, django_user_model, fake_slack):
    """Hannah from HR, signed in to the console as staff (no model permissions); Slack is the fake.
    A test file that needs more of her (a superuser, her name) defines its own."""
    hannah = django_user_model.objects.create_user("hannah", "hannah@example.com", "a-long-test-password",
                                                   is_staff=True)
    client.force_login(hannah)
    return client


@pytest.fixture
def directory(fake_slack):
    """The Slack directory (people, channels, user groups by name) read from the fake Slack, as the
    console's pickers and forms read it."""
    return slack_directory.directory_refresh(background_client())
