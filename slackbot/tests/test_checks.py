"""Missing or malformed Slack settings are system-check errors with ids."""

import pytest

from slackbot.checks import check_slack_settings


def error_ids():
    return [error.id for error in check_slack_settings()]


def test_good_settings_pass():
    assert error_ids() == []


@pytest.mark.parametrize(
    "name, value, expected",
    [
        ("SLACK_SIGNING_SECRET", "", "slackbot.E001"),
        ("SLACK_SIGNING_SECRET", "short", "slackbot.E002"),
        ("SLACK_SIGNING_SECRET", "has white space in it 0123456789", "slackbot.E002"),
        ("SLACK_BOT_TOKEN", "", "slackbot.E003"),
        ("SLACK_BOT_TOKEN", "xoxp-a-user-token", "slackbot.E004"),
        ("SLACK_BOT_TOKEN", "xapp-1-app-level", "slackbot.E004"),
        ("SLACK_APP_TOKEN", "xoxb-not-an-app-token", "slackbot.E005"),
        ("SLACK_API_URL", "slack.com/api", "slackbot.E006"),
        ("SLACK_API_URL", "https://slack.com/api", "slackbot.E006"),
    ],
)
def test_bad_settings_are_reported_with_their_id(settings, name, value, expected):
    setattr(settings, name, value)
    assert error_ids() == [expected]


def test_manage_py_check_reports_them(settings):
    from django.core.management import call_command
    from django.core.management.base import SystemCheckError

    settings.SLACK_BOT_TOKEN = ""
    with pytest.raises(SystemCheckError, match="slackbot.E003"):
        call_command("check")
