"""Whether this deployment may still talk to Slack: after `app_uninstalled` or `tokens_revoked`
every call would fail with `invalid_auth` / `token_revoked`, over and over, in every worker.

The events set a mark in the shared cache, tied to the token it revoked (a
fingerprint, never the token), so installing the app again with a new token
ends it by itself. Tasks check it before they run and stop with one log line.
"""

import hashlib
import logging

from django.conf import settings
from django.core.cache import cache

logger = logging.getLogger(__name__)

REVOKED_KEY = "slack:revoked"


def token_fingerprint(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()[:16]


def slack_access_revoked(reason: str) -> None:
    """Slack told us the app was uninstalled or its tokens revoked: stop calling it."""
    cache.set(REVOKED_KEY, {"token": token_fingerprint(settings.SLACK_BOT_TOKEN), "reason": reason}, None)
    logger.error("Slack access revoked (%s): background Slack calls stop until the app is installed again with "
                 "a new bot token", reason)


def slack_access_lost() -> str | None:
    """Why Slack may not be called with the configured token, or None when it may."""
    mark = cache.get(REVOKED_KEY)
    if isinstance(mark, dict) and mark.get("token") == token_fingerprint(settings.SLACK_BOT_TOKEN):
        return str(mark.get("reason"))
    return None
