"""The last hour's changes, as the people they touch see them: a deactivation or a lost channel told to HR
once per Slack event (not once for ever), an approval that waits on our own locks retried by its task and,
when it cannot get them at all, the approver told plainly that nothing was recorded.

Tasks wait as rows and run on a simulated clock (test_support.simulated_time), as in production, so the
task rows that de-duplicate events exist and a decision's retries are real rows.
"""

from dataclasses import replace

import pytest
from django.core.cache import cache

from approvals import request_services
from approvals.cache_lock import acquire, release
from approvals.models import DeliveryProblem
from fake_slack.personas import C_ENG, CAROL, HR
from test_support.command_answers import balance_of, vacation_line
from test_support.console_pages import hr_with_the_standard_configuration
from test_support.flows import (
    ALICE,
    BOB,
    ENGINEERING,
    dms_to,
    ephemerals_to,
    install_config,
    request_time_off,
    standard_config,
)
from test_support.posted import press_approve, the_request
from test_support.simulated_time import work_through_the_queue
from test_support.slack_requests import event_envelope, post_event

pytestmark = pytest.mark.django_db


def status_of(fake_slack) -> tuple[str, str | None]:
    payload = the_request(fake_slack).metadata["event_payload"]
    return payload["status"], payload.get("decided_by")


def told(fake_slack, user) -> list[str]:
    return ephemerals_to(fake_slack, user) + dms_to(fake_slack, user)


def a_pending_request(client, fake_slack, clock, config=None) -> str:
    install_config(config)
    request_time_off(client, fake_slack, ALICE, note="Ski week")
    work_through_the_queue(clock)
    return the_request(fake_slack).metadata["event_payload"]["id"]


def send_user_change(client, fake_slack, user: str, *, deleted: bool, event_id: str, retry_num=None):
    """Slack's `user_change`, with the whole profile, as it sends it."""
    with fake_slack.workspace.lock:
        fake_slack.workspace.users[user].deleted = deleted
        profile = fake_slack.workspace.users[user].to_api()
    response = post_event(client, event_envelope({"type": "user_change", "user": profile,
                                                  "event_ts": "1766000000.000400"}, event_id=event_id),
                          retry_num=retry_num)
    assert response.status_code == 200, response.content


def send_channel_event(client, kind: str, channel: str, *, event_id: str, retry_num=None):
    event = {"type": kind, "channel": channel, "user": HR, "event_ts": "1766000000.000500"}
    if kind == "channel_archive":
        event["is_moved"] = 0
    response = post_event(client, event_envelope(event, event_id=event_id), retry_num=retry_num)
    assert response.status_code == 200, response.content


def deactivation_dms_to_hr(fake_slack) -> list[str]:
    return [dm for dm in dms_to(fake_slack, HR) if "was deactivated" in dm]


def archive_dms_to_hr(fake_slack) -> list[str]:
    return [dm for dm in dms_to(fake_slack, HR) if "archived" in dm]


# --- Once per Slack event, not once for ever -------------------------------------------------------------


def test_a_person_deactivated_again_after_coming_back_is_reported_to_hr_again(client, fake_slack, clock):
    # The task row keyed by the event id is the record of *that* event only: a later deactivation is a new
    # event, and HR must hear of it, or leave waiting on someone gone would go unnoticed.
    a_pending_request(client, fake_slack, clock)
    send_user_change(client, fake_slack, ALICE, deleted=True, event_id="Ev_GONE_1")
    work_through_the_queue(clock)
    assert len(deactivation_dms_to_hr(fake_slack)) == 1, dms_to(fake_slack, HR)

    send_user_change(client, fake_slack, ALICE, deleted=False, event_id="Ev_BACK")
    work_through_the_queue(clock)
    send_user_change(client, fake_slack, ALICE, deleted=True, event_id="Ev_GONE_2")
    work_through_the_queue(clock)

    assert len(deactivation_dms_to_hr(fake_slack)) == 2, dms_to(fake_slack, HR)


def test_a_deactivation_slack_delivers_again_after_the_cache_was_emptied_queues_no_second_task(
        client, fake_slack, clock):
    # The retry finds the first delivery's task row and writes nothing: one look at the leaving, not two.
    from django_tasks_db.models import DBTaskResult

    a_pending_request(client, fake_slack, clock)
    send_user_change(client, fake_slack, ALICE, deleted=True, event_id="Ev_GONE_ONCE")
    work_through_the_queue(clock)
    departed_rows = DBTaskResult.objects.filter(task_path__endswith="flag_departed_user").count()
    assert departed_rows == 1

    cache.clear()
    send_user_change(client, fake_slack, ALICE, deleted=True, event_id="Ev_GONE_ONCE", retry_num=1)

    assert DBTaskResult.objects.filter(task_path__endswith="flag_departed_user").count() == departed_rows
    work_through_the_queue(clock)
    assert len(deactivation_dms_to_hr(fake_slack)) == 1, dms_to(fake_slack, HR)


def test_an_announce_channel_archived_again_after_it_came_back_is_reported_to_hr_again(client, fake_slack, clock):
    # Each archive is its own event: the one-task-per-event record must not silence the second.
    install_config()
    send_channel_event(client, "channel_archive", C_ENG, event_id="Ev_ARCHIVED_1")
    work_through_the_queue(clock)
    assert len(archive_dms_to_hr(fake_slack)) == 1, dms_to(fake_slack, HR)

    send_channel_event(client, "channel_unarchive", C_ENG, event_id="Ev_UNARCHIVED")
    work_through_the_queue(clock)
    cache.clear()  # whatever once-marks the first told are gone too: only the event id tells them apart
    send_channel_event(client, "channel_archive", C_ENG, event_id="Ev_ARCHIVED_2")
    work_through_the_queue(clock)

    assert len(archive_dms_to_hr(fake_slack)) == 2, dms_to(fake_slack, HR)


# --- An approval waiting on our own locks ---------------------------------------------------------------


def test_an_approval_whose_team_turn_never_comes_tells_the_approver_once_that_nothing_was_recorded(
        client, fake_slack, clock, short_lock_wait):
    # The team's max_out turn is held for longer than the task retries (another approval stuck at Slack).
    # Bob must not be left waiting in silence, nor asked to click again after every attempt: one message,
    # at the give-up, that says his approval was not recorded and that trying again later may help.
    team = replace(ENGINEERING, max_out=3)
    a_pending_request(client, fake_slack, clock, standard_config(teams=(team,)))
    holder = acquire(request_services.team_lock_key(team), timeout=24 * 3600, wait=0)
    assert holder is not None
    try:
        press_approve(client, fake_slack)
        work_through_the_queue(clock)
    finally:
        release(request_services.team_lock_key(team), holder)

    assert status_of(fake_slack) == ("pending", None)
    to_bob = told(fake_slack, BOB)
    about_it = [t for t in to_bob if "could not record your approval" in t]
    assert len(about_it) == 1, to_bob
    assert "try again" in about_it[0] and "unchanged" in about_it[0].lower(), about_it[0]
    assert not [t for t in to_bob if "click again" in t], to_bob
    # A lock of ours held a little long is no fault HR can fix: nothing for their problems page.
    assert not DeliveryProblem.objects.exists()


def test_an_approval_clicked_again_after_its_task_gave_up_on_a_busy_request_is_recorded(
        client, fake_slack, clock, short_lock_wait):
    # The request's lock held by a writer that changes nothing, for all of the first click's attempts: the
    # first click ends "not recorded"; once the lock is free, the approver's next click decides.
    request_id = a_pending_request(client, fake_slack, clock)
    holder = acquire(f"lock:decide:{request_id}", timeout=24 * 3600, wait=0)
    assert holder is not None
    press_approve(client, fake_slack)
    work_through_the_queue(clock)
    assert status_of(fake_slack) == ("pending", None)
    assert [t for t in told(fake_slack, BOB) if "could not record your approval" in t], told(fake_slack, BOB)

    release(f"lock:decide:{request_id}", holder)
    press_approve(client, fake_slack)
    work_through_the_queue(clock)

    assert status_of(fake_slack) == ("approved", BOB), told(fake_slack, BOB)


def test_someone_who_may_not_decide_is_told_so_at_once_though_the_request_is_busy(
        client, fake_slack, clock, short_lock_wait):
    # The busy lock is retried only for someone who may decide: a person in no team hears at once why
    # not, rather than after minutes of retries and a "could not record your approval".
    request_id = a_pending_request(client, fake_slack, clock)
    holder = acquire(f"lock:decide:{request_id}", timeout=24 * 3600, wait=0)
    assert holder is not None
    try:
        press_approve(client, fake_slack, user=CAROL)
        ran = work_through_the_queue(clock)
    finally:
        release(f"lock:decide:{request_id}", holder)

    to_carol = told(fake_slack, CAROL)
    assert [t for t in to_carol if "not an approver" in t], to_carol
    assert not [t for t in to_carol if "could not record" in t], to_carol
    assert ran <= 3, f"{ran} task attempts for a click that may not decide"
    assert status_of(fake_slack) == ("pending", None)


# --- An adjustment posted, then the cached ledger not updated ----------------------------------------------

ADJUST_URL = "/console/balances/adjust"


@pytest.fixture
def hr(admin_client, fake_slack):
    return hr_with_the_standard_configuration(admin_client)


def vacation_balance_line(client, fake_slack) -> str:
    from test_support.flows import MONDAY

    return vacation_line(balance_of(client, fake_slack, ALICE, MONDAY.year))


@pytest.mark.parametrize("busy_for", [1, 3])
def test_an_adjustment_whose_cache_update_failed_still_shows_in_the_persons_balance(hr, client, fake_slack,
                                                                                     monkeypatch, no_backoff,
                                                                                     busy_for):
    # README: "An adjustment Slack posted is Recorded, even when what follows it fails (the cache ...): the
    # next ledger read finds it". Alice asking for her balance right after must see the 2 days HR added:
    # HR was told "Recorded", and a balance that ignores it invites recording it a second time.
    import re

    from approvals import ledger_reader
    from approvals.cache_lock import LockBusy
    from test_support.flows import MONDAY

    request_time_off(client, fake_slack, ALICE)  # the ledger is read and cached
    before = vacation_balance_line(client, fake_slack)
    left_before = int(re.search(r"(\d+) days? left", before).group(1))

    # The ledger's lock is busy (a long read holds it) for the page's try and, with busy_for=3, for the
    # first two tries of the task that folds the adjustment in afterwards.
    tries = []
    real_record = ledger_reader.record_adjustment

    def busy(adjustment):
        tries.append(adjustment.id)
        if len(tries) <= busy_for:
            raise LockBusy("lock ledger is busy")
        return real_record(adjustment)

    monkeypatch.setattr(ledger_reader, "record_adjustment", busy)
    page = hr.get(ADJUST_URL)
    hidden = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page.content.decode()))
    response = hr.post(ADJUST_URL, {**hidden, "user": "alice@example.com", "leave_type": "vacation", "days": "2",
                                    "year": str(MONDAY.year), "reason": "carry-over"}, follow=True)
    assert response.status_code == 200
    assert any(str(m).startswith("Recorded") for m in response.context["messages"])

    after = vacation_balance_line(client, fake_slack)
    assert int(re.search(r"(\d+) days? left", after).group(1)) == left_before + 2, (before, after)
    assert len(tries) == busy_for + 1  # the page's try, then the task's until the lock was free
