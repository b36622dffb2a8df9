"""Why the demo is off when it was asked for (DEMO=true): a system check, so `demo_slack`,
`runserver` and `manage.py check` all say it plainly instead of serving a half-working demo."""

from django.conf import settings
from django.core.checks import Error, register

from timeoff_site.loopback import is_local_http


def demo_problems() -> list[str]:
    """What keeps the demo from running against the built-in fake Slack; empty when it can."""
    problems = []
    if not settings.DEBUG:
        problems.append("DEBUG is off: the demo runs only on a development server (DEBUG=true).")
    if settings.SLACK_BOT_TOKEN != settings.DEMO_BOT_TOKEN:
        problems.append("SLACK_BOT_TOKEN is a real Slack token, not the development placeholder that "
                        "bin/write-dev-env writes: the demo never runs with real Slack credentials. Unset DEMO "
                        "to use your Slack workspace.")
    if not is_local_http(settings.SLACK_API_URL):
        problems.append(f"SLACK_API_URL must point at the demo's fake Slack on this machine "
                        f"(e.g. http://127.0.0.1:8765/api/), not {settings.SLACK_API_URL!r}.")
    return problems


@register()
def check_demo(app_configs=None, **kwargs):
    if not getattr(settings, "DEMO_REQUESTED", False):
        return []
    return [Error(f"DEMO=true, but the demo cannot start: {problem}", hint="bin/run starts the demo by itself "
                  "while .env holds the placeholder bot token (README: \"Try it without Slack\").", id="demo.E001")
            for problem in demo_problems()]
