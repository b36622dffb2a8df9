"""Suite-wide fixtures.

`fake_slack`: a fresh fake Slack workspace per test, seeded with the personas
in `fake_slack.personas`, with `settings.SLACK_API_URL` pointing at it. One
HTTP server serves the whole session; each test resets its state.

`no_backoff`: the clients' retries without their sleeping.

`attempts`: (task name, attempt, status) of every task attempt that finishes.

`browser`: a headless Chromium for a browser test (`test_support.browser`).

`clock`: tasks as rows run by one worker on a simulated clock (`test_support.simulated_time`); a file
that needs more of the clock simulated (ledger reads, daily jobs) defines its own.

`short_lock_wait`: an approver's task waits 0.3 s for a busy request or team lock (10 s in production).
"""

import pytest
from django.db import connections

from fake_slack import FakeSlack
from fake_slack.personas import seed
from test_support.browser import chromium


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


class PauseClock:
    """The app-wide Retry-After pause's clock (approvals.slack_pauses) and every 429 wait, moved on instead of
    slept; `waits` records each wait."""

    def __init__(self):
        self.skipped = 0.0
        self.waits: list[float] = []

    def time(self) -> float:
        import time

        return time.time() + self.skipped

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.skipped += seconds


@pytest.fixture
def pause_clock(monkeypatch):
    """A PauseClock for the pause, and for the waits of slack_sdk's 429 handler (a call's own 429)."""
    import types

    from slack_sdk.http_retry import builtin_handlers

    from approvals import slack_pauses

    clock = PauseClock()
    monkeypatch.setattr(slack_pauses, "time", clock)
    monkeypatch.setattr(builtin_handlers, "time", types.SimpleNamespace(sleep=clock.sleep))
    return clock


@pytest.fixture
def clock(monkeypatch, settings):
    from test_support.simulated_time import simulated_clock

    return simulated_clock(monkeypatch, settings)


@pytest.fixture
def short_lock_wait(monkeypatch):
    from approvals import request_services

    monkeypatch.setattr(request_services, "DECISION_LOCK_WAIT_SECONDS", 0.3)


@pytest.fixture
def one_second_clients(monkeypatch):
    """The background clients with a timeout of one second instead of BACKGROUND_TIMEOUT_SECONDS: a Slack
    that answers later has made the call, and the app has stopped waiting for it."""
    from approvals import slack_clients

    built = (slack_clients._background_client, slack_clients._ledger_post_client, slack_clients._locked_write_client)
    monkeypatch.setattr(slack_clients, "BACKGROUND_TIMEOUT_SECONDS", 1)
    for client in built:
        client.cache_clear()
    yield
    for client in built:
        client.cache_clear()


@pytest.fixture
def no_backoff(monkeypatch):
    """Every client's retry handlers as configured (counts and kinds), minus their sleeping."""
    from slack_sdk.http_retry.builtin_interval_calculators import BackoffRetryIntervalCalculator

    monkeypatch.setattr(BackoffRetryIntervalCalculator, "calculate_sleep_duration", lambda self, attempt: 0)


@pytest.fixture
def no_sleeping(no_backoff, monkeypatch):
    """As no_backoff, and the in-call waits for a 429's Retry-After skipped too."""
    import time
    import types

    from slack_sdk.http_retry import builtin_handlers

    from approvals import slack_pauses

    monkeypatch.setattr(builtin_handlers, "time", types.SimpleNamespace(sleep=lambda seconds: None))
    # and the app's own wait for a pause that another call met
    monkeypatch.setattr(slack_pauses, "time", types.SimpleNamespace(sleep=lambda seconds: None, time=time.time))


@pytest.fixture
def attempts():
    """(task name, attempt, status) of every task attempt, in the order they finished."""
    from django.tasks.signals import task_finished

    finished = []

    def record(sender, task_result, **kwargs):
        finished.append((task_result.task.name, task_result.kwargs.get("attempt", 1), task_result.status))

    task_finished.connect(record)
    yield finished
    task_finished.disconnect(record)


@pytest.fixture
def browser():
    # Playwright is imported only now: a browser test module skips first where it is not installed.
    with chromium() as browser:
        yield browser
        # Inside Playwright's sync API the ORM runs in another context, with database connections of its
        # own that nothing else closes: left open, the last keeps PostgreSQL from dropping the test database.
        connections.close_all()


@pytest.fixture(autouse=True)
def empty_shared_cache(request, settings):
    """Each test starts, and a database test ends, with an empty shared cache.

    Redis (CACHE_URL=redis://… in CI's second run) keeps everything between tests.
    The database cache is rolled back with an ordinary database test, but a
    transactional test commits it, and Django's flush after such a test does not
    empty the cache table (it is not a model): clear it before the flush.
    """
    from django.core.cache import cache

    uses_database = request.node.get_closest_marker("django_db") is not None
    if uses_database:
        request.getfixturevalue("_django_db_helper")  # the database is ready; our teardown runs first
    redis = "redis" in settings.CACHES["default"]["BACKEND"].lower()
    if redis:
        cache.clear()
    yield
    if uses_database or redis:
        cache.clear()
