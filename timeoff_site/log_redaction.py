"""A logging filter that keeps Slack tokens, the signing secret and other secrets out of every log line.

slack-sdk and our own error messages can carry a token (an `Authorization`
header in a debug line, a URL, an exception's repr). Redacting at the handler
means no code path has to remember to do it.
"""

import functools
import json
import logging
import re
from urllib.parse import urlsplit

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver

# Slack token shapes: bot/user/app/config tokens and app-level tokens.
TOKEN_PATTERN = re.compile(r"\b(xox[abeoprs]|xapp|xoxe\.xox[bp])-[A-Za-z0-9-]+")
SECRET_NAMES = ("SLACK_SIGNING_SECRET", "SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "SECRET_KEY", "METRICS_TOKEN",
                "SENTRY_DSN")
# Settings that hold passwords inside them: the database's, and the cache's (redis://:password@host).
CONTAINER_NAMES = ("DATABASES", "CACHES")
REDACTED = "[redacted]"


def redact(text: str) -> str:
    # Every line of every request passes here twice: the pattern runs only where a token could be
    # (each match holds "xox" or "xapp"), a tenth of the cost of running it on every line.
    if "xox" in text or "xapp" in text:
        text = TOKEN_PATTERN.sub(REDACTED, text)
    for secret in _configured_secrets():
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text


def _configured_secrets() -> tuple[str, ...]:
    return _secrets_in_settings() if settings.configured else ()


@functools.cache
def _secrets_in_settings() -> tuple[str, ...]:
    """Read once per process (forgotten when a test overrides one of them)."""
    values = [getattr(settings, name, "") or "" for name in SECRET_NAMES]
    values += _passwords(getattr(settings, "DATABASES", {})) + _passwords(getattr(settings, "CACHES", {}))
    # Very short values would redact ordinary words; real secrets are long.
    secrets = [value for value in values if isinstance(value, str) and len(value) >= 8]
    # As a JSON log line writes them: a `"` or `\` in a secret is escaped there, and an extra field is
    # redacted after it is written.
    secrets += [escaped for value in secrets if (escaped := json.dumps(value)[1:-1]) != value]
    return tuple(secrets)


def _passwords(connections: dict) -> list[str]:
    """Each connection's PASSWORD, and the password of its LOCATION when that is a URL with one (a
    driver's error can quote either)."""
    found = []
    for options in connections.values() if isinstance(connections, dict) else ():
        if not isinstance(options, dict):
            continue
        found.append(options.get("PASSWORD") or "")
        locations = options.get("LOCATION") or []
        for location in [locations] if isinstance(locations, str) else locations:
            try:
                found.append(urlsplit(str(location)).password or "")
            except ValueError:  # not a URL (a table name, a path)
                pass
    return found


@receiver(setting_changed)
def _forget_secrets(*, setting: str, **kwargs) -> None:
    if setting in SECRET_NAMES or setting in CONTAINER_NAMES:
        _secrets_in_settings.cache_clear()


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
