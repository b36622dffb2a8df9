import io

import pytest
import yaml
from django.core.management import call_command
from django.core.management.base import CommandError


def test_it_prints_the_manifest_for_a_url():
    out = io.StringIO()
    call_command("slack_manifest", "--url", "https://timeoff.acme.com/", stdout=out)
    manifest = yaml.safe_load(out.getvalue())
    assert manifest["features"]["slash_commands"][0]["url"] == "https://timeoff.acme.com/slack/commands"
    assert manifest["settings"]["interactivity"]["request_url"] == "https://timeoff.acme.com/slack/interactions"
    assert manifest["settings"]["event_subscriptions"]["request_url"] == "https://timeoff.acme.com/slack/events"
    assert "metadata.message:read" in manifest["oauth_config"]["scopes"]["bot"]


@pytest.mark.parametrize("url", ["http://insecure.example.com", "timeoff.acme.com", "https://acme.com/sub/path"])
def test_it_refuses_urls_slack_cannot_use(url):
    with pytest.raises(CommandError):
        call_command("slack_manifest", "--url", url, stdout=io.StringIO())
