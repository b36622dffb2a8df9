"""The Slack app manifest (`slack-manifest.yml`) for this deployment's public URL, and its scopes.

The setup page shows the manifest ready to paste into Slack and compares the
scopes Slack granted with the ones it asks for. `slackbot`'s `slack_manifest`
command prints the same text (approvals never imports slackbot, DESIGN §3, so the
substitution lives here).
"""

import re
from functools import cache
from pathlib import Path
from urllib.parse import urlparse

import yaml
from django.conf import settings

PLACEHOLDER = "https://timeoff.example.com"
# https://, a host name (labels of letters, digits and hyphens), an optional port, an optional final /.
HOST_URL = re.compile(r"https://[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}"
                      r"[A-Za-z0-9])?)*(?::[0-9]{1,5})?/?")


def manifest_path() -> Path:
    return Path(settings.BASE_DIR) / "slack-manifest.yml"


class BadBaseUrl(ValueError):
    pass


def manifest_for_url(base_url: str, *, without_events: bool = False) -> str:
    """The manifest with every request URL on `base_url` (https, no path). Raises BadBaseUrl."""
    if not HOST_URL.fullmatch(base_url):
        # Only a scheme, a host name and a port: the URL is written into YAML as it is, so a space, a
        # newline, a `#`, a quote or user info could add lines of someone else's to the manifest.
        raise BadBaseUrl("the URL must be an https:// base URL without a path, e.g. https://timeoff.acme.com")
    parsed = urlparse(base_url)
    if parsed.scheme != "https" or not parsed.hostname or parsed.path not in ("", "/") or parsed.query:
        raise BadBaseUrl("the URL must be an https:// base URL without a path, e.g. https://timeoff.acme.com")
    text = manifest_path().read_text(encoding="utf-8").replace(PLACEHOLDER, base_url.rstrip("/"))
    if without_events:
        manifest = yaml.safe_load(text)
        manifest["settings"].pop("event_subscriptions", None)
        text = ("# First step only: no event subscriptions until the deployment has this app's signing secret.\n"
                + yaml.safe_dump(manifest, sort_keys=False))
    return text


@cache
def manifest_bot_scopes() -> tuple[str, ...]:
    """The bot scopes the manifest asks for: exactly those the code uses (a slackbot test checks)."""
    manifest = yaml.safe_load(manifest_path().read_text(encoding="utf-8"))
    return tuple(manifest["oauth_config"]["scopes"]["bot"])
