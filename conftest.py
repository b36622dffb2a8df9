"""Suite-wide fixtures.

`fake_slack`: a fresh fake Slack workspace per test, seeded with the personas
in `fake_slack.personas`, with `settings.SLACK_API_URL` pointing at it. One
HTTP server serves the whole session; each test resets its state.
"""

import pytest

from fake_slack import FakeSlack
from fake_slack.personas import seed


@pytest.fixture(scope="session")
def fake_slack_server():
    server = FakeSlack().start()
    yield server
    server.stop()


@pytest.fixture
def fake_slack(fake_slack_server, settings):
    fake_slack_server.reset()
    seed(fake_slack_server.workspace)
    settings.SLACK_API_URL = fake_slack_server.api_url
    settings.SLACK_BOT_TOKEN = fake_slack_server.workspace.bot_token
    yield fake_slack_server
    fake_slack_server.reset()  # no faults or latency leak into the next test


@pytest.fixture(autouse=True)
def empty_shared_cache(settings):
    """Each test starts with an empty shared cache.

    The database cache lives in the test database and is rolled back with it;
    Redis (CACHE_URL=redis://… in CI's second run) keeps everything, so clear it.
    """
    if "redis" in settings.CACHES["default"]["BACKEND"].lower():
        from django.core.cache import cache

        cache.clear()
    yield
