"""What happened is what people are told (DESIGN §8).

Once something is final (an adjustment posted to the ledger, a request rewritten, a DM sent), a later
step that fails (our cache or database for a moment, a Slack call after it) must not turn it into
"nothing happened"; and a step that failed must leave no trace that tells anyone it happened. A form sent
again after a failure records once.

Alice, Bob and Dave are in Engineering (members of #engineering), whose approvals channel is
C_ENG_APPROVALS; Bob approves for Engineering; the signed-in HR account is a superuser.
"""

import re

import pytest
from django.db import OperationalError

from approvals import tasks
from approvals.ledger_format import ADJUSTMENT_EVENT_TYPE
from fake_slack.personas import C_ENG_APPROVALS
from test_support.flows import ALICE, MONDAY, WEDNESDAY, install_config, open_app_home

pytestmark = pytest.mark.django_db

RECORD_URL = "/console/leave/record"
ADJUST_URL = "/console/balances/adjust"
YEAR = MONDAY.year


@pytest.fixture
def hr(admin_client, fake_slack):
    """HR signed in to the console, with the standard configuration installed. A page that fails answers
    500, as a browser sees it, rather than raising inside the test."""
    from approvals.config_store import invalidate_config

    invalidate_config()  # a shared cache (Redis in CI) outlives each test's transaction
    install_config()
    admin_client.raise_request_exception = False
    return admin_client


def fail_enqueue_of(monkeypatch, task, *, times: int = 1) -> dict:
    """The next `times` enqueues of `task` fail as the database fails a write it could not make (SQLite
    locked by another writer, PostgreSQL restarting). Returns how many faults are left to meet."""
    task_class = type(task)
    real_enqueue = task_class.enqueue
    left = {"faults": times}

    def enqueue(self, *args, **kwargs):
        if self.func is task.func and left["faults"]:
            left["faults"] -= 1
            raise OperationalError("database is locked")
        return real_enqueue(self, *args, **kwargs)

    monkeypatch.setattr(task_class, "enqueue", enqueue)
    return left


def adjustments_in_ledger(fake_slack) -> list[dict]:
    return [m.metadata["event_payload"] for m in fake_slack.workspace.messages(C_ENG_APPROVALS)
            if m.metadata and m.metadata.get("event_type") == ADJUSTMENT_EVENT_TYPE]


def requests_in_ledger(fake_slack) -> list[dict]:
    return [m.metadata["event_payload"] for m in fake_slack.workspace.messages(C_ENG_APPROVALS)
            if m.metadata and m.metadata.get("event_type") == "timeoff_request"]


def shown_messages(response) -> list[str]:
    if not response.context or "messages" not in response.context:
        return []  # a server error's page: no message at all
    return [str(m) for m in response.context["messages"]]


def adjustment_form(hr, **changes) -> dict:
    """The adjustment form as HR was shown it (its own id included), filled in."""
    page = hr.get(ADJUST_URL)
    hidden = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page.content.decode()))
    assert "submission" in hidden
    return {**hidden, "user": "alice@example.com", "leave_type": "vacation", "days": "2", "year": str(YEAR),
            "reason": "carry-over", **changes}


def leave_form(**changes) -> dict:
    return {"person": "alice@example.com", "leave_type": "vacation", "start": MONDAY.isoformat(),
            "end": WEDNESDAY.isoformat(), "note": "", **changes}


# --- An adjustment posted, then our own side failing ------------------------------------------------


def test_an_adjustment_posted_is_called_recorded_though_the_app_home_refresh_could_not_be_queued(
        hr, client, fake_slack, monkeypatch):
    """Alice has her App Home open, so recording an adjustment queues a refresh of it. The adjustment is
    posted to the ledger; then the database refuses the refresh's task row for a moment. The balance is
    adjusted: HR must be told so, not shown a server error that reads as "nothing happened" (and invites
    recording it again)."""
    open_app_home(client, fake_slack, ALICE, event_id="Ev_HOME_ADJ1")
    data = adjustment_form(hr)
    left = fail_enqueue_of(monkeypatch, tasks.publish_home)

    response = hr.post(ADJUST_URL, data, follow=True)

    assert left["faults"] == 0  # the refresh was tried after the post, and failed
    assert len(adjustments_in_ledger(fake_slack)) == 1  # the ledger holds it
    assert response.status_code == 200, response.status_code
    assert any(m.startswith("Recorded") for m in shown_messages(response)), shown_messages(response)


def test_the_same_adjustment_form_sent_again_after_a_failed_app_home_refresh_records_nothing_more(
        hr, client, fake_slack, monkeypatch):
    """HR, shown an error after the adjustment was in fact posted, presses the button again (or the browser
    resends the form). The form's id says it was recorded: Alice must not get the days twice."""
    open_app_home(client, fake_slack, ALICE, event_id="Ev_HOME_ADJ2")
    data = adjustment_form(hr)
    left = fail_enqueue_of(monkeypatch, tasks.publish_home)
    hr.post(ADJUST_URL, data, follow=True)
    assert left["faults"] == 0

    hr.post(ADJUST_URL, data, follow=True)  # the database answers again

    assert len(adjustments_in_ledger(fake_slack)) == 1, adjustments_in_ledger(fake_slack)


# --- Leave recorded in the console, whose delivery could not be queued ------------------------------


def test_leave_whose_delivery_could_not_be_queued_leaves_nothing_behind_that_refuses_it_sent_again(
        hr, fake_slack, monkeypatch):
    """HR records Alice's leave; the database refuses the delivery's task row for a moment, so nothing will
    ever post it, and HR is shown an error. Sent again, the same leave must be recorded: it must not be
    refused as overlapping leave Alice "already has", which exists nowhere (nobody is told that something
    happened that did not)."""
    left = fail_enqueue_of(monkeypatch, tasks.deliver_request)
    first = hr.post(RECORD_URL, leave_form(), follow=True)
    assert left["faults"] == 0
    assert not any(m.startswith("Recorded") for m in shown_messages(first))
    assert requests_in_ledger(fake_slack) == []

    again = hr.post(RECORD_URL, leave_form(), follow=True)

    errors = again.context["form"].errors if again.context and "form" in again.context else {}
    assert not errors, errors
    assert any(m.startswith("Recorded") for m in shown_messages(again)), shown_messages(again)
    assert [p["start"] for p in requests_in_ledger(fake_slack)] == [MONDAY.isoformat()]


ADMIN_ADJUST_URL = "/admin/approvals/adjust-balance/"


def test_an_adjustment_posted_from_the_admin_page_is_called_recorded_though_the_app_home_refresh_failed(
        hr, client, fake_slack, monkeypatch):
    """The admin's "Adjust a balance" page records through the same service: the adjustment is in the ledger,
    so the page says it is recorded, and the same form sent again adds nothing more."""
    open_app_home(client, fake_slack, ALICE, event_id="Ev_HOME_ADJ3")
    page = hr.get(ADMIN_ADJUST_URL).content.decode()
    hidden = {}
    for tag in re.findall(r"<input[^>]*>", page):
        if 'type="hidden"' in tag and (name := re.search(r'name="([^"]*)"', tag)):
            value = re.search(r'value="([^"]*)"', tag)
            hidden[name[1]] = value[1] if value else ""
    assert hidden.get("submission")
    data = {**hidden, "user": ALICE, "leave_type": "vacation", "days": "2", "year": str(YEAR),
            "reason": "carry-over"}
    left = fail_enqueue_of(monkeypatch, tasks.publish_home)

    first = hr.post(ADMIN_ADJUST_URL, data, follow=True)
    again = hr.post(ADMIN_ADJUST_URL, data, follow=True)

    assert left["faults"] == 0
    assert first.status_code == 200, first.status_code
    assert any(m.startswith("Recorded") for m in shown_messages(first)), shown_messages(first)
    assert again.status_code == 200
    assert len(adjustments_in_ledger(fake_slack)) == 1, adjustments_in_ledger(fake_slack)


def test_a_request_from_slack_whose_delivery_could_not_be_queued_is_accepted_when_sent_again(
        client, fake_slack, monkeypatch):
    """The same fault on Alice's own form in Slack: the delivery's task row is refused, Slack tells her the
    form could not be sent, and she sends it again. Nothing of the first is left to refuse the second as
    overlapping: it reaches Bob once."""
    from test_support.flows import open_request_form, posted_requests, request_values, submit_request

    install_config()
    view = open_request_form(client, fake_slack, ALICE)  # warm: checked in the modal, against the ledger
    left = fail_enqueue_of(monkeypatch, tasks.deliver_request)
    client.raise_request_exception = False
    first = submit_request(client, ALICE, view, request_values("vacation", MONDAY, WEDNESDAY))
    assert left["faults"] == 0
    assert first.status_code != 200 or b"errors" in first.content  # not closed as sent
    assert posted_requests(fake_slack) == []

    again_view = open_request_form(client, fake_slack, ALICE)
    again = submit_request(client, ALICE, again_view, request_values("vacation", MONDAY, WEDNESDAY))

    assert again.status_code == 200 and again.content == b"", again.content
    assert len(posted_requests(fake_slack)) == 1
