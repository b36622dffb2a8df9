"""Slack refuses a request's post for good (DESIGN §8, issue 4 point 4).

channel_not_found, not_in_channel, is_archived, invalid_auth, account_inactive: no
retry can help, so the delivery ends at once, the requester is told by DM what did
not reach the approvers (what they asked for shown back), and HR finds the problem
in the admin (a DeliveryProblem row) and in the log. When the token itself is dead,
the DM fails too: that is logged, and the task still ends.
"""

import logging
from dataclasses import replace

import pytest
from django.tasks import TaskResultStatus
from django.tasks.signals import task_finished
from django.urls import reverse

from approvals.models import DeliveryProblem
from fake_slack.personas import BOT, C_ARCHIVED, C_ENG_APPROVALS, C_NOBOT
from test_support.flows import (
    ALICE,
    ENGINEERING,
    MONDAY,
    VACATION,
    WEDNESDAY,
    dms_to,
    install_config,
    open_request_form,
    request_time_off,
    request_values,
    standard_config,
    submit_request,
)

pytestmark = pytest.mark.django_db

ASKED_FOR = "Vacation, Mon 10 Mar 2031 – Wed 12 Mar 2031"  # what request_time_off asks for, as shown back
NOT_DELIVERED = "did not reach your approvers"


@pytest.fixture
def finished_tasks():
    """(task name, status) of every task run, in order."""
    finished = []

    def record(sender, task_result, **kwargs):
        finished.append((task_result.task.name, task_result.status))

    task_finished.connect(record)
    yield finished
    task_finished.disconnect(record)


def approvals_channel(channel: str):
    install_config(standard_config(teams=(replace(ENGINEERING, approvals_channel=channel),)))


def posts_to(fake_slack, channel: str) -> list:
    """Every chat.postMessage attempt to `channel`, refused or not."""
    return [call for call in fake_slack.calls("chat.postMessage") if call.params.get("channel") == channel]


def dm_attempts(fake_slack, user: str) -> list:
    return [call for call in fake_slack.calls("chat.postMessage") if call.params.get("channel") == user]


def request_after_losing_the_channel(client, fake_slack, channel: str):
    """The app worked (the bot read the channel when the form opened), then the bot was removed from it."""
    approvals_channel(channel)
    members = fake_slack.workspace.channels[channel].members
    members.add(BOT)
    view = open_request_form(client, fake_slack, ALICE)  # warms the ledger from the channel
    members.discard(BOT)
    response = submit_request(client, ALICE, view, request_values("vacation", MONDAY, WEDNESDAY))
    assert response.status_code == 200 and response.content == b""


def send_request_meeting(error: str, client, fake_slack) -> str:
    """Send Alice's request into `error`; returns the approvals channel it was meant for."""
    if error == "not_in_channel":
        request_after_losing_the_channel(client, fake_slack, C_NOBOT)
        return C_NOBOT
    if error == "is_archived":
        approvals_channel(C_ARCHIVED)
        request_time_off(client, fake_slack, ALICE)
        return C_ARCHIVED
    install_config()
    # A dead token fails every call, the DM that reports the failure included.
    fake_slack.fail("chat.postMessage", error, times=None if error in ("invalid_auth", "account_inactive") else 1)
    request_time_off(client, fake_slack, ALICE)
    return C_ENG_APPROVALS


PERMANENT = ["channel_not_found", "not_in_channel", "is_archived", "invalid_auth", "account_inactive"]


@pytest.mark.parametrize("error", PERMANENT)
def test_a_refused_post_is_not_retried(client, fake_slack, finished_tasks, error):
    channel = send_request_meeting(error, client, fake_slack)

    [post] = posts_to(fake_slack, channel)  # one attempt, no retry
    assert post.response == {"ok": False, "error": error}
    assert [m for m in fake_slack.workspace.messages(channel) if m.metadata] == []
    # The task ended cleanly: it did not fail into a retry, nor re-enqueue itself.
    assert [status for name, status in finished_tasks if name == "deliver_request"] == [TaskResultStatus.SUCCESSFUL]


@pytest.mark.parametrize("error", PERMANENT)
def test_a_refused_post_is_recorded_for_hr(client, fake_slack, caplog, error):
    channel = send_request_meeting(error, client, fake_slack)

    [problem] = DeliveryProblem.objects.all()
    assert (problem.user, problem.team, problem.channel, problem.error) == (ALICE, "Engineering", channel, error)
    assert ASKED_FOR in problem.summary
    assert len(problem.request_id) == 36  # the request's uuid
    [line] = [r for r in caplog.records if r.getMessage().startswith("request not delivered")]
    assert line.levelno == logging.ERROR
    assert f"error={error}" in line.getMessage() and f"channel={channel}" in line.getMessage()


def test_hr_sees_the_request_as_typed_not_as_slack_markup(client, fake_slack):
    # The console's page escapes what it shows: the summary is plain text, not mrkdwn escaped twice.
    install_config(standard_config(leave_types=(replace(VACATION, name="R&D <days>"),)))
    fake_slack.fail("chat.postMessage", "channel_not_found")
    request_time_off(client, fake_slack, ALICE, note="private matter")

    [problem] = DeliveryProblem.objects.all()
    assert problem.summary == ":palm_tree: R&D <days>, Mon 10 Mar 2031 – Wed 12 Mar 2031"


@pytest.mark.parametrize("error", ["channel_not_found", "not_in_channel", "is_archived"])
def test_the_requester_is_told_what_did_not_reach_the_approvers(client, fake_slack, error):
    channel = send_request_meeting(error, client, fake_slack)

    [dm] = dms_to(fake_slack, ALICE)  # this one, and no "your request is with …" receipt
    assert NOT_DELIVERED in dm and "HR has been told" in dm
    assert f"<#{channel}>" in dm and error in dm
    assert ASKED_FOR in dm
    [message] = fake_slack.workspace.messages(ALICE)
    assert NOT_DELIVERED in message.text


@pytest.mark.parametrize("error", ["invalid_auth", "account_inactive"])
def test_with_a_dead_token_the_dm_fails_too_and_is_logged(client, fake_slack, caplog, finished_tasks, error):
    send_request_meeting(error, client, fake_slack)

    [dm] = dm_attempts(fake_slack, ALICE)  # tried once, not retried
    assert NOT_DELIVERED in dm.params["text"] and ASKED_FOR in dm.params["text"]
    assert dm.response["error"] == error
    assert fake_slack.workspace.messages(ALICE) == []
    assert DeliveryProblem.objects.filter(error=error).count() == 1  # recorded all the same
    [line] = [r for r in caplog.records if r.getMessage().startswith(f"could not tell user={ALICE}")]
    assert line.levelno == logging.ERROR and f"error={error}" in line.getMessage()
    assert [status for name, status in finished_tasks if name == "deliver_request"] == [TaskResultStatus.SUCCESSFUL]


def test_a_revoked_token_fails_every_call_and_still_ends_the_delivery(client, fake_slack, finished_tasks):
    install_config()
    view = open_request_form(client, fake_slack, ALICE)  # warm caches: the submission validates in the modal
    fake_slack.workspace.revoke_token(error="account_inactive")
    submit_request(client, ALICE, view, request_values("vacation", MONDAY, WEDNESDAY))

    assert [c.response["error"] for c in posts_to(fake_slack, C_ENG_APPROVALS)] == ["account_inactive"]
    assert len(dm_attempts(fake_slack, ALICE)) == 1
    assert DeliveryProblem.objects.get().error == "account_inactive"
    assert [status for name, status in finished_tasks if name == "deliver_request"] == [TaskResultStatus.SUCCESSFUL]


def test_a_channel_the_bot_never_could_read_is_reported_before_posting(client, fake_slack):
    """The ledger cannot be read, so the request cannot be checked: refused, and recorded for HR."""
    approvals_channel(C_NOBOT)
    request_time_off(client, fake_slack, ALICE)

    assert posts_to(fake_slack, C_NOBOT) == []
    [dm] = dms_to(fake_slack, ALICE)
    assert "HR has been told" in dm and ASKED_FOR in dm
    problem = DeliveryProblem.objects.get()
    assert (problem.channel, problem.error) == (C_NOBOT, "not_in_channel")


def test_a_passing_fault_is_not_taken_for_a_permanent_one(client, fake_slack):
    install_config()
    fake_slack.fail("chat.postMessage", "ratelimited")  # HTTP 200 with ok=false: retried by the task
    request_time_off(client, fake_slack, ALICE)
    assert len([m for m in fake_slack.workspace.messages(C_ENG_APPROVALS) if m.metadata]) == 1
    assert not DeliveryProblem.objects.exists()


# --- In the admin -----------------------------------------------------------------------------


def result_list(response) -> str:
    """The changelist's table, without the filters beside it."""
    html = response.content.decode()
    return html[html.index('id="result_list"'):html.index("</table>", html.index('id="result_list"'))]


def test_hr_sees_the_problems_newest_first_in_the_admin(client, fake_slack, admin_client):
    send_request_meeting("channel_not_found", client, fake_slack)
    older = DeliveryProblem.objects.get()
    DeliveryProblem.objects.create(request_id="r2", user="U_DAVE", team="Engineering", channel=C_ARCHIVED,
                                   error="is_archived", summary="Sick leave, Fri 14 Mar 2031")

    response = admin_client.get(reverse("admin:approvals_deliveryproblem_changelist"))
    assert response.status_code == 200
    rows = result_list(response)
    assert rows.index("is_archived") < rows.index("channel_not_found")  # newest first
    for shown in (ALICE, "Engineering", C_ENG_APPROVALS, ASKED_FOR, "Sick leave, Fri 14 Mar 2031"):
        assert shown in rows
    filtered = admin_client.get(reverse("admin:approvals_deliveryproblem_changelist") + "?error=is_archived")
    assert "is_archived" in result_list(filtered) and "channel_not_found" not in result_list(filtered)

    detail = admin_client.get(reverse("admin:approvals_deliveryproblem_change", args=[older.pk]))
    assert detail.status_code == 200 and ASKED_FOR in detail.content.decode()


def test_the_problems_are_read_only(admin_client):
    problem = DeliveryProblem.objects.create(request_id="r1", user=ALICE, team="Engineering", channel=C_NOBOT,
                                             error="not_in_channel", summary="Vacation")
    assert admin_client.get(reverse("admin:approvals_deliveryproblem_add")).status_code == 403
    change_url = reverse("admin:approvals_deliveryproblem_change", args=[problem.pk])
    assert 'name="_save"' not in admin_client.get(change_url).content.decode()
    response = admin_client.post(change_url, {"error": "fixed", "summary": "edited"})
    assert response.status_code == 403
    problem.refresh_from_db()
    assert problem.error == "not_in_channel"


def test_a_post_slack_keeps_without_its_metadata_is_deleted_and_reported_not_left_as_a_record(client, fake_slack,
                                                                                             monkeypatch):
    # Slack posts a message whose metadata it cannot use without it, with only a warning: that message
    # is no record (the ledger cannot see it; its buttons find no request), but looked delivered.
    from approvals import ledger

    install_config()
    real_metadata = ledger.request_metadata
    monkeypatch.setattr(ledger, "request_metadata",
                        lambda entry: {**real_metadata(entry), "event_type": "timeoff request!"})

    request_time_off(client, fake_slack, ALICE)

    [post] = fake_slack.calls("chat.postMessage")[:1]
    assert post.params["channel"] == C_ENG_APPROVALS and post.response["ok"]  # posted, with a warning
    assert [c.params["ts"] for c in fake_slack.calls("chat.delete")] == [post.response["ts"]]
    assert fake_slack.workspace.messages(C_ENG_APPROVALS) == []
    [dm] = dms_to(fake_slack, ALICE)
    assert NOT_DELIVERED in dm and ASKED_FOR in dm
    assert DeliveryProblem.objects.get().error == "metadata_dropped"
