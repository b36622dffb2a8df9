"""A logging filter that keeps Slack tokens and the signing secret out of every log line.

slack-sdk and our own error messages can carry a token (an `Authorization`
header in a debug line, a URL, an exception's repr). Redacting at the handler
means no code path has to remember to do it.
"""

import logging
import re

from django.conf import settings

# Slack token shapes: bot/user/app/config tokens and app-level tokens.
TOKEN_PATTERN = re.compile(r"\b(xox[abeoprs]|xapp|xoxe\.xox[bp])-[A-Za-z0-9-]+")
REDACTED = "[redacted]"


def redact(text: str) -> str:
    text = TOKEN_PATTERN.sub(REDACTED, text)
    for secret in _configured_secrets():
        text = text.replace(secret, REDACTED)
    return text


def _configured_secrets() -> list[str]:
    if not settings.configured:
        return []
    names = ("SLACK_SIGNING_SECRET", "SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SECRET_KEY")
    # Very short values would redact ordinary words; real secrets are long.
    return [value for name in names if len(value := getattr(settings, name, "") or "") >= 8]


class RedactSecretsFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        record.msg = redact(message)
        record.args = None
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True
