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
