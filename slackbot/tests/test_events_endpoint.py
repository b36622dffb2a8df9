import pytest

from slackbot import routing
from slackbot.responses import ack
from test_support.slack_requests import event_envelope, post_event

pytestmark = pytest.mark.django_db


def test_url_verification_answers_the_challenge(client):
    response = post_event(client, {"token": "t", "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
                                   "type": "url_verification"})
    assert response.status_code == 200
    assert response.json() == {"challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}


def test_an_event_is_handled_once_however_often_slack_retries(client, monkeypatch):
    seen = []

    def record(event, envelope):
        seen.append(envelope["event_id"])
        return ack()

    monkeypatch.setitem(routing.EVENT_ROUTES, "app_home_opened", record)
    envelope = event_envelope({"type": "app_home_opened", "user": "U_ALICE", "tab": "home"}, event_id="Ev_ONCE")
    assert post_event(client, envelope).status_code == 200
    for retry in (1, 2, 3):
        assert post_event(client, envelope, retry_num=retry).status_code == 200
    other = event_envelope({"type": "app_home_opened", "user": "U_ALICE", "tab": "home"}, event_id="Ev_OTHER")
    post_event(client, other)
    assert seen == ["Ev_ONCE", "Ev_OTHER"]


def test_an_event_whose_handling_failed_is_handled_when_slack_retries_it(client, monkeypatch):
    from django.db import OperationalError

    handled = []

    def flaky(event, envelope):
        handled.append(envelope["event_id"])
        if len(handled) == 1:
            raise OperationalError("the database is down")
        return ack()

    monkeypatch.setitem(routing.EVENT_ROUTES, "app_home_opened", flaky)
    envelope = event_envelope({"type": "app_home_opened", "user": "U_ALICE", "tab": "home"}, event_id="Ev_FLAKY")
    with pytest.raises(OperationalError):
        post_event(client, envelope)  # Django answers 500, and Slack retries

    assert post_event(client, envelope, retry_num=1).status_code == 200
    assert post_event(client, envelope, retry_num=2).status_code == 200  # handled once: no more
    assert handled == ["Ev_FLAKY", "Ev_FLAKY"]


def test_unknown_event_types_are_acknowledged(client):
    response = post_event(client, event_envelope({"type": "reaction_added", "user": "U_ALICE"}, event_id="Ev_R"))
    assert response.status_code == 200


def test_slack_pausing_our_events_is_acknowledged_and_logged(client, caplog):
    # Slack's own envelope when an app gets over 30,000 events an hour; it is signed like any other.
    envelope = {"token": "legacy", "type": "app_rate_limited", "team_id": "T_ACME", "minute_rate_limited": 1518467820,
                "api_app_id": "A_TIMEOFF"}
    with caplog.at_level("WARNING", logger="slackbot.routing"):
        response = post_event(client, envelope)
    assert response.status_code == 200 and response.content == b""
    assert any("app_rate_limited" in record.getMessage() and "1518467820" in record.getMessage()
               for record in caplog.records)


def test_a_retry_while_the_first_delivery_is_still_handled_asks_slack_to_try_again_later(client, monkeypatch):
    # Slack retries an event it got no answer to within 3 s: the retry may arrive while the first
    # delivery is still at work. Answered 200, it would be lost should that delivery then fail.
    from django.db import OperationalError

    from slackbot import events

    handled, retried = [], []

    def slow_then_failing(event, envelope):
        handled.append(envelope["event_id"])
        if len(handled) == 1:
            retried.append(post_event(client, envelope, retry_num=1).status_code)  # Slack's retry, meanwhile
            raise OperationalError("the database is down")
        return ack()

    monkeypatch.setitem(routing.EVENT_ROUTES, "app_home_opened", slow_then_failing)
    envelope = event_envelope({"type": "app_home_opened", "user": "U_ALICE", "tab": "home"}, event_id="Ev_SLOW")
    with pytest.raises(OperationalError):
        post_event(client, envelope)
    assert retried == [503]  # "not now": Slack tries again a minute later

    assert post_event(client, envelope, retry_num=2).status_code == 200
    assert handled == ["Ev_SLOW", "Ev_SLOW"]
    assert post_event(client, envelope, retry_num=3).status_code == 200 and len(handled) == 2


def test_an_event_whose_first_delivery_died_unfinished_is_handled_by_a_later_retry(client, monkeypatch):
    # The process handling it was killed: no answer, no failure recorded. Past the time any request
    # may take, Slack's next retry handles it.
    import time

    from django.core.cache import cache

    from slackbot import events

    handled = []
    monkeypatch.setitem(routing.EVENT_ROUTES, "app_home_opened",
                        lambda event, envelope: handled.append(envelope["event_id"]) or ack())
    assert events.first_delivery("Ev_DIED")  # began, never finished
    envelope = event_envelope({"type": "app_home_opened", "user": "U_ALICE", "tab": "home"}, event_id="Ev_DIED")
    assert post_event(client, envelope, retry_num=1).status_code == 503
    # A minute later (Slack's second retry), the first delivery is long past any request's time.
    cache.set(events._delivery_key("Ev_DIED"), time.time() - 60, timeout=events.EVENT_DEDUP_SECONDS)
    assert post_event(client, envelope, retry_num=2).status_code == 200
    assert handled == ["Ev_DIED"]
    assert post_event(client, envelope, retry_num=3).status_code == 200 and handled == ["Ev_DIED"]


# --- On the production task backend, App Home's open is de-duplicated by its task's row ---------------


@pytest.fixture
def database_tasks(settings):
    settings.TASKS = {"default": {"BACKEND": "approvals.task_backend.DatabaseBackend"}}  # rows, as in production


def publish_rows() -> list:
    from django_tasks_db.models import DBTaskResult

    return list(DBTaskResult.objects.filter(task_path__endswith=".publish_home").values_list("args_kwargs", flat=True))


def test_an_app_home_open_is_queued_once_however_often_slack_retries_it(client, database_tasks):
    from django.core.cache import cache

    from slackbot import events

    envelope = event_envelope({"type": "app_home_opened", "user": "U_ALICE", "tab": "home"}, event_id="Ev_HOME")
    assert post_event(client, envelope).status_code == 200
    for retry in (1, 2, 3):
        assert post_event(client, envelope, retry_num=retry).status_code == 200
    assert publish_rows() == [{"args": ["U_ALICE", True], "kwargs": {}}]
    assert cache.get(events._delivery_key("Ev_HOME")) is None  # the row is the record: no cache round trips
    other = event_envelope({"type": "app_home_opened", "user": "U_ALICE", "tab": "home"}, event_id="Ev_HOME2")
    assert post_event(client, other).status_code == 200
    assert len(publish_rows()) == 2


@pytest.mark.django_db(transaction=True)  # the refused INSERT would spoil the test's own transaction
def test_an_app_home_open_whose_task_could_not_be_queued_is_queued_when_slack_retries_it(database_tasks,
                                                                                       monkeypatch):
    from django.db import OperationalError
    from django.db.backends import utils
    from django.test import Client

    real_execute = utils.CursorWrapper._execute
    refused = []

    def execute(self, sql, params, *rest):
        if sql.lstrip().upper().startswith("INSERT") and "task" in sql and not refused:
            refused.append(sql)
            raise OperationalError("database is locked")
        return real_execute(self, sql, params, *rest)

    monkeypatch.setattr(utils.CursorWrapper, "_execute", execute)
    client = Client(raise_request_exception=False)
    envelope = event_envelope({"type": "app_home_opened", "user": "U_ALICE", "tab": "home"}, event_id="Ev_LOCKED")
    assert post_event(client, envelope).status_code == 500  # Slack retries an event answered with a 5xx
    assert refused and publish_rows() == []
    assert post_event(client, envelope, retry_num=1).status_code == 200
    assert post_event(client, envelope, retry_num=2).status_code == 200
    assert len(publish_rows()) == 1


def test_a_task_enqueued_once_under_a_key_is_written_once(database_tasks):
    from django.tasks.signals import task_enqueued

    from approvals import tasks
    from approvals.task_backend import enqueued_once, enqueues_once

    assert enqueues_once()
    sent = []

    def receiver(sender, task_result, **kwargs):
        sent.append(task_result.id)

    task_enqueued.connect(receiver)
    try:
        with enqueued_once("a key") as first:
            result = tasks.publish_home.enqueue("U_ALICE", True)
            tasks.publish_home.enqueue("U_BOB", True)  # a second task in the same block: queued as usual
        with enqueued_once("a key") as again:
            tasks.publish_home.enqueue("U_ALICE", True)
    finally:
        task_enqueued.disconnect(receiver)
    assert (first.duplicate, again.duplicate) == (False, True)
    assert sorted(row["args"][0] for row in publish_rows()) == ["U_ALICE", "U_BOB"]
    assert len(sent) == 2 and sent[0] == result.id  # the duplicate sent no signal


def test_other_task_backends_keep_the_cache_marks(settings):
    from approvals.task_backend import enqueues_once

    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}
    assert not enqueues_once()
