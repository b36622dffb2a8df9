"""Reading the demo's fake Slack: what each person would see in their Slack client.

Over HTTP, from the fake's read-only inspection endpoint (fake_slack/inspection.py),
because the fake runs in its own process (`manage.py demo_slack`). Only reads:
every change goes through the app's Slack endpoints.
"""

from __future__ import annotations

import json
from urllib.error import HTTPError, URLError
from urllib.parse import urlencode, urljoin
from urllib.request import Request, urlopen

from django.conf import settings


class SlackUnavailable(Exception):
    """The demo's fake Slack does not answer (demo_slack is not running)."""


def inspect(what: str, **params) -> dict:
    base = urljoin(settings.SLACK_API_URL, "../_inspect/")
    url = base + what + ("?" + urlencode(params) if params else "")
    request = Request(url, headers={"Authorization": f"Bearer {settings.SLACK_BOT_TOKEN}"})
    try:
        with urlopen(request, timeout=5) as response:
            return json.loads(response.read().decode())
    except HTTPError as exc:
        if exc.code in (400, 404):
            return {"ok": False, "error": exc.read().decode("utf-8", "replace")}
        raise SlackUnavailable(f"the demo's Slack answered {exc.code}") from None
    except (URLError, TimeoutError, OSError, ValueError) as exc:
        raise SlackUnavailable(str(exc)) from None


def fake_base_url() -> str:
    return urljoin(settings.SLACK_API_URL, "../")
