"""System checks for the Slack settings.

A missing or malformed setting is reported by `manage.py check` (and at every
`runserver`/`migrate`) with an id, instead of failing on the first request.
"""

import re
from urllib.parse import urlparse

from django.conf import settings
from django.core.checks import Error, Tags, register

BOT_TOKEN_PATTERN = re.compile(r"^xoxb-[A-Za-z0-9-]+$")
APP_TOKEN_PATTERN = re.compile(r"^xapp-[A-Za-z0-9-]+$")
MIN_SIGNING_SECRET_LENGTH = 20


@register(Tags.security)
def check_slack_settings(app_configs=None, **kwargs):
    errors = []
    secret = settings.SLACK_SIGNING_SECRET
    if not secret:
        errors.append(
            Error(
                "SLACK_SIGNING_SECRET is not set.",
                hint="Copy it from your Slack app's Basic Information page into the environment or .env.",
                id="slackbot.E001",
            )
        )
    elif len(secret) < MIN_SIGNING_SECRET_LENGTH or any(c.isspace() for c in secret):
        errors.append(
            Error(
                "SLACK_SIGNING_SECRET is malformed (too short or contains white space).",
                hint="Slack signing secrets are 32 characters; check for a truncated or quoted value.",
                id="slackbot.E002",
            )
        )

    token = settings.SLACK_BOT_TOKEN
    if not token:
        errors.append(
            Error(
                "SLACK_BOT_TOKEN is not set.",
                hint="Install the app to your workspace and copy the Bot User OAuth Token (xoxb-…).",
                id="slackbot.E003",
            )
        )
    elif not BOT_TOKEN_PATTERN.match(token):
        errors.append(
            Error(
                "SLACK_BOT_TOKEN is malformed: a bot token starts with 'xoxb-'.",
                hint="Use the Bot User OAuth Token, not a user (xoxp-) or app-level (xapp-) token.",
                id="slackbot.E004",
            )
        )

    app_token = settings.SLACK_APP_TOKEN
    if app_token and not APP_TOKEN_PATTERN.match(app_token):
        errors.append(
            Error(
                "SLACK_APP_TOKEN is malformed: an app-level token starts with 'xapp-'.",
                hint="Create an app-level token with the connections:write scope (Socket Mode only).",
                id="slackbot.E005",
            )
        )

    url = urlparse(settings.SLACK_API_URL)
    if url.scheme not in ("http", "https") or not url.netloc or not settings.SLACK_API_URL.endswith("/"):
        errors.append(
            Error(
                f"SLACK_API_URL is malformed: {settings.SLACK_API_URL!r}.",
                hint="An http(s) URL ending in '/', such as https://slack.com/api/.",
                id="slackbot.E006",
            )
        )
    return errors
