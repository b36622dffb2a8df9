"""Submissions checked without a lock and added only if nothing changed meanwhile (request_submit).

Two forms of one person sent at the same instant are both checked against the
same pending set; only one may be added on that check, and the other is
checked again and sees it. A form whose task could not be enqueued leaves
nothing behind, so it can be sent again. Two people's leave that is approved as
it is sent (a type that needs no approval) is checked against `max_out` under
the team's lock, as an approval is.
"""

import threading
from dataclasses import replace
from datetime import date

import pytest
from django.db import connections
from django.tasks import task_backends
from django.tasks.backends.dummy import DummyBackend

from approvals import ledger_reader, request_services
from approvals.config_store import current_config
from approvals.request_services import Submission, request_submit
from test_support.flows import ALICE, DAVE, ENGINEERING, install_config, open_request_form, standard_config

pytestmark = pytest.mark.django_db(transaction=True)  # threads see each other's writes

MONDAY, TUESDAY, FRIDAY = date(2031, 3, 10), date(2031, 3, 11), date(2031, 3, 14)


@pytest.fixture
def warm(client, fake_slack, settings):
    """Alice's caches and the ledger warm (her form opened, its warm-up run), then tasks recorded, not run."""
    install_config()
    open_request_form(client, fake_slack, ALICE)
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.dummy.DummyBackend"}}
    backend = task_backends["default"]
    assert isinstance(backend, DummyBackend)
    return backend


class DatabaseDown:
    """The delivery task, when its row cannot be written."""

    def enqueue(self, *args, **kwargs):
        raise ConnectionError("the database went away")


def submission(request_id: str, start: date, end: date) -> Submission:
    return Submission(id=request_id, user=ALICE, leave_type="vacation", start=start, end=end, start_half=None,
                      end_half=None, note="", validated=False)


def test_two_overlapping_forms_sent_at_once_are_not_both_accepted(warm, monkeypatch):
    both_checked = threading.Barrier(2, timeout=10)
    check = request_services.check_submission
    checks = []

    def check_together(*args, **kwargs):
        violations = check(*args, **kwargs)
        checks.append(violations)
        if len(checks) <= 2:
            both_checked.wait()  # each has checked the same pending set before either adds
        return violations

    monkeypatch.setattr(request_services, "check_submission", check_together)
    answers, enqueued = {}, []

    def send(request_id, start, end):
        try:
            answers[request_id] = request_submit(submission(request_id, start, end), dedup_key=f"dedup:{request_id}")
            enqueued.extend(task_backends["default"].results)  # each thread has its own backend instance
        finally:
            connections.close_all()

    threads = [threading.Thread(target=send, args=("first", MONDAY, TUESDAY)),
               threading.Thread(target=send, args=("second", TUESDAY, FRIDAY))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    accepted = [request_id for request_id, errors in answers.items() if errors == {}]
    refused = [errors for errors in answers.values() if errors]
    assert len(accepted) == 1 and len(refused) == 1
    assert "overlap" in " ".join(refused[0].values()).lower()
    assert len(checks) == 3  # the loser was checked a second time, against the winner
    assert [result.args[0]["id"] for result in enqueued] == accepted
    pending = ledger_reader.pending_entries(team.name for team in current_config().teams)
    assert [entry.id for entry in pending] == accepted


def test_the_same_form_sent_twice_is_added_once(warm):
    form = submission("only", MONDAY, TUESDAY)
    assert request_submit(form, dedup_key="dedup:same") == {}
    assert request_submit(form, dedup_key="dedup:same") == {}
    assert len(warm.results) == 1


def test_a_form_whose_task_was_not_enqueued_can_be_sent_again(warm, monkeypatch):
    form = submission("unlucky", MONDAY, TUESDAY)

    monkeypatch.setattr(request_services.tasks, "deliver_request", DatabaseDown())
    with pytest.raises(ConnectionError):
        request_submit(form, dedup_key="dedup:unlucky")
    monkeypatch.undo()
    assert ledger_reader.pending_entries(["Engineering"]) == []

    assert request_submit(form, dedup_key="dedup:unlucky") == {}  # neither a duplicate nor an overlap
    assert [result.args[0]["id"] for result in warm.results] == ["unlucky"]


def test_a_cold_form_whose_task_was_not_enqueued_can_be_sent_again(fake_slack, settings, monkeypatch):
    # Nothing of Alice's is cached (her form's warm-up never ran): the form is accepted unchecked, and its
    # task checks it. When that task cannot be enqueued, the form's claim is given back.
    install_config()
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.dummy.DummyBackend"}}
    form = submission("cold", MONDAY, TUESDAY)

    monkeypatch.setattr(request_services.tasks, "deliver_request", DatabaseDown())
    with pytest.raises(ConnectionError):
        request_submit(form, dedup_key="dedup:cold")
    monkeypatch.undo()

    assert request_submit(form, dedup_key="dedup:cold") == {}
    assert [result.args[0]["id"] for result in task_backends["default"].results] == ["cold"]


# --- max_out and leave approved as it is sent: two people at the same instant ---------------


def test_two_people_sending_leave_that_needs_no_approval_at_once_cannot_together_exceed_max_out(
        client, fake_slack, settings, monkeypatch):
    install_config(standard_config(teams=(replace(ENGINEERING, max_out=1),)))
    open_request_form(client, fake_slack, ALICE)
    open_request_form(client, fake_slack, DAVE)
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.dummy.DummyBackend"}}

    # Each waits, once it has checked, for the other to check too before either is added: without the
    # team's lock both would pass; with it, the second cannot check until the first is added, and the
    # first stops waiting for it after a moment (well inside the second's wait for the lock).
    both_checked = threading.Barrier(2, timeout=0.3)
    check = request_services.check_submission
    checks = []

    def check_together(*args, **kwargs):
        violations = check(*args, **kwargs)
        checks.append(violations)
        if len(checks) <= 2:
            try:
                both_checked.wait()
            except threading.BrokenBarrierError:
                pass
        return violations

    monkeypatch.setattr(request_services, "check_submission", check_together)
    answers = {}

    def send(user):
        try:
            form = Submission(id=f"sick-{user}", user=user, leave_type="sick", start=MONDAY, end=MONDAY,
                              start_half=None, end_half=None, note="", validated=False)
            answers[user] = request_submit(form, dedup_key=f"dedup:{user}")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=send, args=(user,)) for user in (ALICE, DAVE)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    accepted = [user for user, errors in answers.items() if errors == {}]
    # Sick leave is approved at once (requires_approval=False): no approval re-checks max_out, so one
    # of the two must be refused here, as two overlapping requests of one person are.
    assert len(accepted) == 1, answers
    [refused] = [errors for errors in answers.values() if errors]
    assert "full" in str(refused), refused  # told why: max_out, not "try again"


def test_one_after_the_other_leave_that_needs_no_approval_is_refused_past_max_out(client, fake_slack, settings):
    """As the race above, one after the other: the second is refused."""
    install_config(standard_config(teams=(replace(ENGINEERING, max_out=1),)))
    open_request_form(client, fake_slack, ALICE)
    open_request_form(client, fake_slack, DAVE)
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.dummy.DummyBackend"}}
    answers = {}
    for user in (ALICE, DAVE):
        form = Submission(id=f"sick-{user}", user=user, leave_type="sick", start=MONDAY, end=MONDAY,
                          start_half=None, end_half=None, note="", validated=False)
        answers[user] = request_submit(form, dedup_key=f"dedup:{user}")
    assert answers[ALICE] == {}
    assert "is full for Engineering" in " ".join(answers[DAVE].values())
