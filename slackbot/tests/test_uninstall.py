"""`app_uninstalled` / `tokens_revoked` stop the workers' Slack calls cleanly, with one log line."""

import uuid

import pytest

from approvals import tasks
from approvals.models import DeliveryProblem
from approvals.request_services import Submission
from test_support.flows import ALICE, MONDAY, WEDNESDAY, install_config
from test_support.slack_requests import event_envelope, post_event

pytestmark = pytest.mark.django_db


def test_after_uninstall_tasks_call_slack_no_more(client, fake_slack, caplog):
    install_config()
    post_event(client, event_envelope({"type": "app_uninstalled"}, event_id="Ev_UN1"))
    fake_slack.clear_calls()

    tasks.publish_home.enqueue(ALICE)
    tasks.send_balance.enqueue(ALICE, None)

    assert fake_slack.calls() == []
    assert len([r for r in caplog.records if "Slack access revoked (app_uninstalled)" in r.getMessage()]) == 1
    assert fake_slack.calls() == []  # and nothing retried


def test_a_new_bot_token_ends_it(client, fake_slack, settings):
    install_config()
    post_event(client, event_envelope({"type": "tokens_revoked", "tokens": {"bot": ["B1"]}}, event_id="Ev_UN2"))
    settings.SLACK_BOT_TOKEN = fake_slack.workspace.bot_token + "-reinstalled"
    fake_slack.workspace.bot_token = settings.SLACK_BOT_TOKEN
    fake_slack.clear_calls()
    tasks.publish_home.enqueue(ALICE)
    assert [c.method for c in fake_slack.calls()].count("views.publish") == 1


def test_revoked_user_tokens_change_nothing(client, fake_slack):
    install_config()
    post_event(client, event_envelope({"type": "tokens_revoked", "tokens": {"oauth": ["U1"]}}, event_id="Ev_UN3"))
    fake_slack.clear_calls()
    tasks.publish_home.enqueue(ALICE)
    assert fake_slack.calls("views.publish")


def test_a_request_queued_when_the_app_was_uninstalled_is_kept_for_hr(client, fake_slack, caplog):
    # Nobody can be told in Slack any more, but the request must not vanish: HR sees it with the
    # undelivered ones, and the requester can send it again once the app is back.
    install_config()
    post_event(client, event_envelope({"type": "app_uninstalled"}, event_id="Ev_UN4"))
    fake_slack.clear_calls()
    submission = Submission(id=str(uuid.uuid4()), user=ALICE, leave_type="vacation", start=MONDAY, end=WEDNESDAY,
                            start_half=None, end_half=None, note="private", validated=True)

    tasks.deliver_request.enqueue(submission.as_task_data())

    assert fake_slack.calls() == []
    [problem] = DeliveryProblem.objects.all()
    assert (problem.request_id, problem.user, problem.error) == (submission.id, ALICE, "skipped: app_uninstalled")
    assert "Mon 10 Mar" in problem.summary and "private" not in problem.summary
