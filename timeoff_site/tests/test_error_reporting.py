"""Optional Sentry (issue 13 point 6): on only with SENTRY_DSN, and no token or secret leaves."""

import json
import os
import subprocess
import sys
from pathlib import Path

from timeoff_site.error_reporting import scrub_breadcrumb, scrub_event

ROOT = Path(__file__).resolve().parents[2]


def an_event(settings) -> dict:
    """Shaped like what sentry-sdk's Django integration sends for an exception in a Slack request."""
    token, secret = settings.SLACK_BOT_TOKEN, settings.SLACK_SIGNING_SECRET
    return {
        "message": f"posting failed with {token}",
        "exception": {"values": [{
            "type": "SlackApiError",
            "value": f"The request to the Slack API failed. (token={token})",
            "stacktrace": {"frames": [{"function": "api_call", "vars": {
                "token": token, "self": "<WebClient>", "headers": {"Authorization": f"Bearer {token}"},
                "body": f"v0:1766000000:payload signed with {secret}", "channel": "C_ENG_APPROVALS"}}]},
        }]},
        "request": {
            "url": "https://timeoff.example.com/slack/interactions",
            "headers": [["X-Slack-Signature", "v0=abc123"], ["Content-Type", "application/json"],
                        ["Authorization", f"Bearer {token}"]],
            "data": {"payload": f"user typed xoxp-0000-1111-secret and {secret}"},
        },
        "extra": {"sys.argv": ["manage.py", "task_worker"]},
        "breadcrumbs": {"values": [{"category": "httplib", "data": {"url": f"https://slack.com/api/x?token={token}"}}]},
    }


def test_the_scrubber_removes_tokens_and_secrets_everywhere(settings):
    event = an_event(settings)
    scrubbed = scrub_event(event, {})
    text = json.dumps(scrubbed)
    for secret in (settings.SLACK_BOT_TOKEN, settings.SLACK_SIGNING_SECRET, "xoxp-0000-1111-secret", "v0=abc123"):
        assert secret not in text
    frame = scrubbed["exception"]["values"][0]["stacktrace"]["frames"][0]["vars"]
    assert frame["token"] == "[redacted]" and frame["headers"]["Authorization"] == "[redacted]"
    assert frame["channel"] == "C_ENG_APPROVALS"  # what helps debugging stays
    assert ["Content-Type", "application/json"] in scrubbed["request"]["headers"]
    assert ["X-Slack-Signature", "[redacted]"] in scrubbed["request"]["headers"]
    assert scrubbed["message"] == "posting failed with [redacted]"
    assert scrubbed["extra"] == {"sys.argv": ["manage.py", "task_worker"]}
    assert event["message"].endswith(settings.SLACK_BOT_TOKEN)  # a copy: the original is untouched


def test_breadcrumbs_are_scrubbed_too(settings):
    crumb = {"message": f"GET ?token={settings.SLACK_BOT_TOKEN}", "data": {"secret": "anything"}}
    assert scrub_breadcrumb(crumb, {}) == {"message": "GET ?token=[redacted]", "data": {"secret": "[redacted]"}}


def settings_in_a_process(**environ) -> dict:
    code = ("import json, sentry_sdk; import timeoff_site.settings as s; client = sentry_sdk.get_client();"
            "o = client.options if client.is_active() else {};"
            "print(json.dumps({'active': client.is_active(), 'pii': o.get('send_default_pii'),"
            "'before_send': getattr(o.get('before_send'), '__name__', None),"
            "'integrations': sorted(type(i).__name__ for i in getattr(client, 'integrations', {}).values())}))")
    env = {**os.environ, "ENV_FILE": "", "SECRET_KEY": "x" * 50, **environ}
    result = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True,
                            timeout=60, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_sentry_is_off_without_a_dsn():
    assert settings_in_a_process(SENTRY_DSN="")["active"] is False


def test_with_a_dsn_sentry_reports_through_the_scrubber_without_personal_data():
    state = settings_in_a_process(SENTRY_DSN="https://public@sentry.example.invalid/1")
    assert state["active"] is True
    assert state["pii"] is False
    assert state["before_send"] == "scrub_event"
    assert "DjangoIntegration" in state["integrations"]
