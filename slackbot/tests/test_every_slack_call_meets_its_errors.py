"""Each Slack Web API call site meets the errors its method documents, and one Slack never documented.

test_slack_error_kinds throws every passing fault at each background step of a request's life and at
every way into a form; test_transient_slack checks that a passing fault is never remembered as an
answer; test_unreliable_slack throws faults at random. What they leave out, and is here:

- The request path (`views.open`, `views.update`, inside Slack's 3 s): Slack's refusals for good and an
  error code Slack never documented, at every way into a form (only `/timeoff` met them before). The
  endpoint answers at once, with one try, and the person hears what the refusal means.
- Background writes refused for good with errors of the method's documentation that no test used
  (`restricted_action_read_only_channel`, `team_access_not_granted`, `no_permission`, `ekm_access_denied`,
  `msg_too_long`, `edit_window_closed`, `is_inactive`, `message_not_found`) or with `some_new_error`: one
  attempt (no retrying for ever), the person told once, HR's record, never a 500.
- Call sites no test failed: `conversations.open` refusing (`cannot_dm_bot`, `user_not_found`,
  `user_disabled`) while a DM in doubt is looked for, `chat.postEphemeral` refused (the note comes by DM),
  `views.publish` refused, `conversations.info` and `usergroups.list` inside the console's directory read,
  `chat.delete` of a post Slack kept without its metadata, `users.info` on the admin's adjustment page,
  the daily jobs' posts refused for good.

And what a write Slack made, whose answer was lost, is never later called a failure when the look that
follows is refused for good; `rate_limited` (chat.postMessage's spelling) is a rate limit. Everything goes
through signed requests and the fake Slack; the retries' sleeps are skipped.
"""

import json
from dataclasses import replace
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.core.cache import cache
from django.core.management import CommandError
from django.test import Client

from approvals import block_ids as ids
from approvals import slack_directory, tasks
from approvals.config_store import config_apply, invalidate_config
from approvals.models import DeliveryProblem
from approvals.rules import LedgerEntry
from approvals.slack_clients import background_client
from fake_slack.ledger_seed import ledger_config
from fake_slack.personas import C_ARCHIVED, C_ENG, C_ENG_APPROVALS, CAROL
from test_support.flows import (
    ALICE,
    BOB,
    ENGINEERING,
    MONDAY,
    click,
    install_config,
    posted_requests,
    press,
    request_time_off,
    request_values,
    standard_config,
)
from test_support.forms_opened import WAYS_IN
from test_support.job_runs import post_entry, run_jobs
from test_support.setup_page import setup_page
from test_support.slack_faults import PASSING_FAULTS, failing, failing_each
from test_support.slack_requests import event_envelope, post_event, post_interaction, view_submission_payload

pytestmark = pytest.mark.django_db

# An error code no Slack method documents: Slack adds codes without notice.
UNDOCUMENTED = "some_new_error"


# --- What Slack holds, what people were told ------------------------------------------------------


def requests_in_ledger(fake_slack) -> list:
    return [m for m in fake_slack.workspace.messages(C_ENG_APPROVALS)
            if (m.metadata or {}).get("event_type") == "timeoff_request"]


def delivered_dms(fake_slack, user: str) -> list[str]:
    """The DMs `user` has from the app, as Slack holds them (not the calls: a refused one is no DM)."""
    return [m.text for m in fake_slack.workspace.messages(user)]


def delivered_ephemerals(fake_slack, user: str) -> list[str]:
    return [e.text for e in fake_slack.workspace.ephemerals if e.user == user]


def told(fake_slack, user: str) -> list[str]:
    return delivered_ephemerals(fake_slack, user) + delivered_dms(fake_slack, user)


def attempt_numbers(attempts, task: str) -> list[int]:
    return sorted(attempt for name, attempt, _ in attempts if name == task)


def to_approvals_channel(method, params) -> bool:
    return method == "chat.postMessage" and params.get("channel") == C_ENG_APPROVALS and not params.get("thread_ts")


def rewrite_of_request(method, params) -> bool:
    return method == "chat.update" and params.get("channel") == C_ENG_APPROVALS


class After:
    """Matches the calls `then` matches once a call `first` matches was made: the look at the approvals
    channel that follows a write whose answer was lost, and not the reads before it."""

    def __init__(self, first):
        self.first, self.seen = first, False

    def wrote(self, method, params) -> bool:
        if self.first(method, params):
            self.seen = True
            return True
        return False

    def look(self, method, params) -> bool:
        return self.seen and method == "conversations.history" and params.get("channel") == C_ENG_APPROVALS


# === The request path: views.open / views.update refused for good ==================================

# Slack's refusal -> what the person must hear of it (modal_not_opened_text).
FORM_REFUSALS = {
    "expired_trigger_id": "took too long to open",  # views.open's documented errors
    "exchanged_trigger_id": "probably opened already",
    "view_too_large": "didn't let me open",
    "invalid_auth": "trying again will not help",  # the token: no click will help
    UNDOCUMENTED: "didn't let me open",
}
OPENING = [name for name, way in WAYS_IN.items() if way.method == "views.open"]


@pytest.mark.parametrize("error", list(FORM_REFUSALS))
@pytest.mark.parametrize("way_in", OPENING)
def test_a_form_slack_refuses_to_open_is_answered_at_once_and_its_refusal_told_in_words(client, fake_slack, way_in,
                                                                                         error):
    way = WAYS_IN[way_in]
    install_config()
    way.prepare(client, fake_slack)
    fake_slack.clear_calls()
    with failing(fake_slack, lambda method, params: method == "views.open", error) as met:
        response = way.send(client, fake_slack)

    assert response.status_code == 200, response.content  # never a 500
    assert len(met) == 1  # one try: the trigger_id opens one view, and a refusal is not a fault to retry
    [said] = way.told(fake_slack, response)
    assert FORM_REFUSALS[error] in said, said
    if error != "invalid_auth":
        assert "again" in said, said  # how to get the form: the same way in
    assert "Error" not in said and "Traceback" not in said, said


@pytest.mark.parametrize("error", ["not_found", "hash_conflict", "view_too_large", "invalid_auth", UNDOCUMENTED])
def test_a_preview_slack_refuses_to_redraw_is_acknowledged_and_nothing_else_is_said(client, fake_slack, error):
    # views.update's documented refusals (the form closed meanwhile: not_found; redrawn by another change:
    # hash_conflict) and one it never documented: the form stays as it is; its next change redraws it.
    way = WAYS_IN["a date in the form"]
    install_config()
    way.prepare(client, fake_slack)
    fake_slack.clear_calls()
    with failing(fake_slack, lambda method, params: method == "views.update", error) as met:
        response = way.send(client, fake_slack)

    assert response.status_code == 200 and response.content == b""
    assert len(met) == 1
    assert told(fake_slack, ALICE) == []


# === The request's post (chat.postMessage) refused for good ========================================

POST_REFUSALS = ["msg_too_long", "restricted_action_read_only_channel", "team_access_not_granted", "no_permission",
                 "ekm_access_denied", UNDOCUMENTED]


@pytest.mark.parametrize("error", POST_REFUSALS)
def test_a_request_post_refused_for_good_is_tried_once_told_once_and_recorded_for_hr(client, fake_slack, no_sleeping,
                                                                                    attempts, error):
    install_config()
    with failing(fake_slack, to_approvals_channel, error, times=None) as met:
        request_time_off(client, fake_slack, ALICE, note="Ski week")

    assert len(met) == 1 and attempt_numbers(attempts, "deliver_request") == [1]  # never retried for ever
    assert requests_in_ledger(fake_slack) == []
    [dm] = delivered_dms(fake_slack, ALICE)
    assert "did not reach your approvers" in dm and f"({error})" in dm and "Ski week" in dm, dm
    assert "try again in a few minutes" not in dm  # a refusal for good is not called passing
    assert list(DeliveryProblem.objects.values_list("error", flat=True)) == [error]


# === The decision's rewrite (chat.update) refused for good =========================================

UPDATE_REFUSALS = ["edit_window_closed", "msg_too_long", "is_inactive", "message_not_found", UNDOCUMENTED]


@pytest.mark.parametrize("error", UPDATE_REFUSALS)
def test_a_decision_slack_refuses_to_write_for_good_is_tried_once_and_told_to_the_approver(client, fake_slack,
                                                                                          no_sleeping, attempts,
                                                                                          error):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    with failing(fake_slack, rewrite_of_request, error, times=None) as met:
        click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted)

    assert len(met) == 1 and attempt_numbers(attempts, "decide_request") == [1]
    [request] = requests_in_ledger(fake_slack)
    assert request.metadata["event_payload"]["status"] == "pending"
    [note] = told(fake_slack, BOB)
    assert note.startswith("Sorry, I could not record your approval") and f"({error})" in note, note
    assert "trying again will not help" in note
    assert not [text for text in delivered_dms(fake_slack, ALICE) if "approved" in text]
    assert list(DeliveryProblem.objects.values_list("error", flat=True)) == [error]


# === A decision's follow-ups refused with an error Slack never documented ==========================

FOLLOWUPS = {
    "the thread reply": lambda method, params: method == "chat.postMessage" and bool(params.get("thread_ts")),
    "the announcement": lambda method, params: method == "chat.postMessage" and params.get("channel") == C_ENG,
    "the decision DM": lambda method, params: method == "chat.postMessage" and params.get("channel") == ALICE,
}


@pytest.mark.parametrize("what", list(FOLLOWUPS))
def test_an_undocumented_refusal_of_a_follow_up_leaves_the_decision_and_tells_hr_once(client, fake_slack, no_sleeping,
                                                                                      attempts, what):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    with failing(fake_slack, FOLLOWUPS[what], UNDOCUMENTED, times=None) as met:
        click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted)

    assert len(met) == 1 and attempt_numbers(attempts, "decide_request") == [1]
    [request] = requests_in_ledger(fake_slack)
    assert request.metadata["event_payload"]["status"] == "approved"  # a success is never undone
    assert told(fake_slack, BOB) == []  # the approver's part worked
    [(error, summary)] = DeliveryProblem.objects.values_list("error", "summary")
    assert error == UNDOCUMENTED and what in summary and "approved in the ledger" in summary


# === conversations.open refused while a DM in doubt is looked for ===================================


@pytest.mark.parametrize("error", ["cannot_dm_bot", "user_not_found", "user_disabled", UNDOCUMENTED])
def test_a_receipt_in_doubt_still_arrives_when_slack_refuses_to_open_the_dm_to_look(client, fake_slack, no_sleeping,
                                                                                   attempts, error):
    # The receipt's post is made and its answer lost; the look in Alice's DM must open it first, and
    # Slack refuses that for good. Nobody can know: sent again (a repeat rather than a silence), never
    # reported as failed, and the delivery is not stopped by it.
    install_config()

    def receipt(method, params):
        return method == "chat.postMessage" and params.get("channel") == ALICE

    with failing_each(fake_slack, (receipt, "answer_lost", 1),
                      (lambda method, params: method == "conversations.open", error, None)) as (lost, refused):
        request_time_off(client, fake_slack, ALICE)

    assert lost and refused
    assert len(requests_in_ledger(fake_slack)) == 1
    assert 1 <= len([text for text in delivered_dms(fake_slack, ALICE) if "is with" in text]) <= 2
    assert attempt_numbers(attempts, "deliver_request") == [1]
    assert DeliveryProblem.objects.count() == 0


# === chat.postEphemeral refused for good ============================================================


@pytest.mark.parametrize("error", ["restricted_action", "channel_not_found", UNDOCUMENTED])
def test_a_note_slack_will_not_show_in_the_channel_comes_by_dm_once(client, fake_slack, no_sleeping, error):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    with failing(fake_slack, lambda method, params: method == "chat.postEphemeral", error, times=None) as met:
        click(client, fake_slack, CAROL, ids.APPROVE_ACTION, posted)  # Carol approves nothing

    assert len(met) == 1
    assert delivered_ephemerals(fake_slack, CAROL) == []
    [dm] = delivered_dms(fake_slack, CAROL)
    assert "not an approver" in dm


# === views.publish refused for good =================================================================


def open_home(client, user: str, event_id: str):
    return post_event(client, event_envelope({"type": "app_home_opened", "user": user, "channel": "D_HOME",
                                              "tab": "home", "event_ts": "1766000000.000300"}, event_id=event_id))


@pytest.mark.parametrize("error", ["invalid_arguments", "invalid_auth", UNDOCUMENTED])
def test_an_app_home_slack_refuses_is_tried_once_and_the_next_open_publishes_it(client, fake_slack, no_sleeping,
                                                                               attempts, error):
    install_config()
    with failing(fake_slack, lambda method, params: method == "views.publish", error, times=None) as met:
        response = open_home(client, ALICE, "EvRefused")

    assert response.status_code == 200
    assert len(met) == 1 and attempt_numbers(attempts, "publish_home") == [1]  # no retry loop on a refusal
    assert told(fake_slack, ALICE) == []  # nothing to tell: the tab shows what it showed
    open_home(client, ALICE, "EvAgain")
    assert fake_slack.last_call("views.publish").response["ok"]  # not taken for a publish still to come


# === The console's directory: conversations.info (archived channels) and usergroups.list ===========


@pytest.fixture
def directory_read(fake_slack):
    """A directory read once, with an archived channel the configuration names (so conversations.info is
    asked of it); the next refresh may be enqueued at once."""
    install_config(standard_config(teams=(replace(ENGINEERING, announce_channel=C_ARCHIVED),)))
    first = slack_directory.directory_refresh(background_client())
    assert first is not None and [c.id for c in first.archived_channels] == [C_ARCHIVED]
    cache.delete(slack_directory.REFRESH_REQUESTED_KEY)
    return first


@pytest.mark.parametrize("fault", ["internal_error", "rate_limited_429", "http_503", "dropped"])
@pytest.mark.parametrize("method", ["conversations.info", "usergroups.list"])
def test_a_passing_fault_of_the_directory_read_keeps_the_names_and_is_retried(fake_slack, no_sleeping, attempts,
                                                                             directory_read, method, fault):
    with failing(fake_slack, lambda name, params: name == method, fault, times=None):
        tasks.refresh_slack_directory.enqueue()

    assert len(attempt_numbers(attempts, "refresh_slack_directory")) > 1  # retried
    assert slack_directory.directory_cached().fetched_at == directory_read.fetched_at  # the names stay
    assert slack_directory.directory_error_cached() is None  # never remembered as Slack's refusal


def test_an_undocumented_refusal_of_the_user_groups_is_told_on_the_console_not_retried(fake_slack, no_sleeping,
                                                                                      attempts, directory_read):
    with failing(fake_slack, lambda method, params: method == "usergroups.list", UNDOCUMENTED, times=None) as met:
        tasks.refresh_slack_directory.enqueue()

    assert len(met) == 1 and attempt_numbers(attempts, "refresh_slack_directory") == [1]
    assert slack_directory.directory_error_cached() == UNDOCUMENTED
    assert slack_directory.directory_cached().fetched_at == directory_read.fetched_at


def test_an_archived_channel_slack_will_not_describe_is_left_unnamed_and_the_rest_read(fake_slack, no_sleeping,
                                                                                      attempts, directory_read):
    with failing(fake_slack, lambda method, params: method == "conversations.info", UNDOCUMENTED, times=None):
        tasks.refresh_slack_directory.enqueue()

    assert attempt_numbers(attempts, "refresh_slack_directory") == [1]
    refreshed = slack_directory.directory_cached()
    assert refreshed.fetched_at > directory_read.fetched_at and refreshed.archived_channels == ()
    assert refreshed.person(ALICE) is not None
    assert slack_directory.directory_error_cached() is None


# === A write Slack made, its answer lost, then the look refused ====================================
#
# A write whose answer is lost is looked for by the next attempt (conversations.history). When that look
# is refused for good too, the write may well be there: the person must not be told it did not happen.
# A decision does this right (its give-up looks whatever the last fault was); a delivery, a withdrawal
# and an edit look only when the last fault was a passing one (`maybe_posted = transient(exc) and …`,
# `passing and rewrite_maybe_made(…)`), so a refusal of the look makes them say "did not reach" /
# "It is unchanged" of what Slack holds.

LOOK_REFUSALS = [UNDOCUMENTED, "ekm_access_denied"]


@pytest.mark.parametrize("error", LOOK_REFUSALS)
def test_a_decision_whose_look_is_refused_after_its_answer_was_lost_is_never_called_unrecorded(client, fake_slack,
                                                                                              no_sleeping, error):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    after = After(rewrite_of_request)
    # Four: the write client's own retries of a 5xx, each made by Slack and each answer lost.
    with failing_each(fake_slack, (after.wrote, "answer_lost", 4), (after.look, error, None)):
        click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted)

    [request] = requests_in_ledger(fake_slack)
    assert request.metadata["event_payload"]["status"] == "approved"
    notes = told(fake_slack, BOB)
    assert not [text for text in notes if "could not record" in text], notes
    assert [text for text in notes if "could not confirm" in text], notes


@pytest.mark.parametrize("error", LOOK_REFUSALS)
def test_a_request_posted_though_its_answer_was_lost_is_never_called_undelivered_when_the_look_is_refused(
        client, fake_slack, no_sleeping, error):
    install_config()
    after = After(to_approvals_channel)
    with failing_each(fake_slack, (after.wrote, "answer_lost", 1), (after.look, error, None)):
        request_time_off(client, fake_slack, ALICE, note="Ski week")

    assert len(requests_in_ledger(fake_slack)) == 1  # Slack holds it
    dms = delivered_dms(fake_slack, ALICE)
    assert not [text for text in dms if "did not reach your approvers" in text], dms


@pytest.mark.parametrize("error", ["missing_scope", "not_in_channel"])
def test_a_request_whose_look_is_refused_after_its_answer_was_lost_is_not_posted_twice(client, fake_slack,
                                                                                       no_sleeping, error):
    # Posting and reading need different grants (chat:write; channels:history / groups:history, membership):
    # Slack can take the post and refuse the read.
    install_config()
    after = After(to_approvals_channel)
    with failing_each(fake_slack, (after.wrote, "answer_lost", 1), (after.look, error, None)):
        request_time_off(client, fake_slack, ALICE)

    assert len(requests_in_ledger(fake_slack)) <= 1


def the_receipt(fake_slack):
    [receipt] = [m for m in fake_slack.workspace.messages(ALICE) if "is with" in m.text]
    return receipt


@pytest.mark.parametrize("error", LOOK_REFUSALS)
def test_a_withdrawal_made_though_its_answer_was_lost_is_never_called_unchanged_when_the_look_is_refused(
        client, fake_slack, no_sleeping, error):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    receipt = the_receipt(fake_slack)
    after = After(rewrite_of_request)
    with failing_each(fake_slack, (after.wrote, "answer_lost", 4), (after.look, error, None)):
        press(client, ALICE, receipt.blocks, ids.WITHDRAW_ACTION, channel=receipt.channel, ts=receipt.ts)

    [request] = requests_in_ledger(fake_slack)
    assert request.metadata["event_payload"]["status"] == "cancelled"  # Slack holds the withdrawal
    notes = told(fake_slack, ALICE)
    assert not [text for text in notes if "It is unchanged" in text], notes


def test_an_edit_made_though_its_answer_was_lost_is_never_called_unchanged_when_the_look_is_refused(
        client, fake_slack, no_sleeping):
    install_config()
    request_time_off(client, fake_slack, ALICE)  # Mon 10 – Wed 12 March
    receipt = the_receipt(fake_slack)
    press(client, ALICE, receipt.blocks, ids.EDIT_ACTION, channel=receipt.channel, ts=receipt.ts)
    form = fake_slack.last_call("views.open").params["view"]
    form = json.loads(form) if isinstance(form, str) else form
    tuesday = MONDAY + timedelta(days=1)
    after = After(rewrite_of_request)
    with failing_each(fake_slack, (after.wrote, "answer_lost", 4), (after.look, UNDOCUMENTED, None)):
        response = post_interaction(client, view_submission_payload(
            user_id=ALICE, view=form, values=request_values("vacation", MONDAY, tuesday), view_id="V_EDIT"))

    assert response.status_code == 200 and response.content == b""
    [request] = requests_in_ledger(fake_slack)
    assert request.metadata["event_payload"]["end"] == tuesday.isoformat()  # Slack holds the edit
    notes = told(fake_slack, ALICE)
    assert not [text for text in notes if "It is unchanged" in text], notes


# === `rate_limited`: chat.postMessage's own spelling of a rate limit ===============================
#
# chat.postMessage (and chat.postEphemeral, chat.meMessage) document `rate_limited` at HTTP 200:
# "Application has posted too many messages, read the Rate Limit documentation for more information".
# It is a rate limit as `ratelimited` is: tried again later, never a refusal for good.


def test_a_request_post_slack_rate_limits_as_rate_limited_is_retried_and_delivered(client, fake_slack, no_sleeping,
                                                                                  attempts):
    install_config()
    with failing(fake_slack, to_approvals_channel, "rate_limited", times=1) as met:
        request_time_off(client, fake_slack, ALICE)

    assert met
    assert len(requests_in_ledger(fake_slack)) == 1
    assert not [text for text in delivered_dms(fake_slack, ALICE) if "did not reach" in text]
    assert DeliveryProblem.objects.count() == 0


def test_an_announcement_slack_rate_limits_as_rate_limited_is_posted_later_not_given_up(client, fake_slack,
                                                                                       no_sleeping):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    to_announce = FOLLOWUPS["the announcement"]
    with failing(fake_slack, to_announce, "rate_limited", times=1) as met:
        click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted)

    assert met
    assert len(fake_slack.workspace.messages(C_ENG)) == 1
    assert DeliveryProblem.objects.count() == 0


# === chat.delete of a post Slack kept without its metadata =========================================


@pytest.mark.parametrize("fault", ["internal_error", "http_503"])
def test_a_post_without_its_metadata_is_deleted_though_the_delete_meets_a_passing_fault(client, fake_slack,
                                                                                       no_sleeping, monkeypatch,
                                                                                       fault):
    from approvals import ledger

    install_config()
    real_metadata = ledger.request_metadata
    monkeypatch.setattr(ledger, "request_metadata",
                        lambda entry: {**real_metadata(entry), "event_type": "timeoff request!"})  # Slack drops it
    with failing(fake_slack, lambda method, params: method == "chat.delete", fault) as met:
        request_time_off(client, fake_slack, ALICE)

    assert met
    assert fake_slack.workspace.messages(C_ENG_APPROVALS) == []  # no message that looks like a request


# === users.info on the admin's adjustment page (a browser waits) ===================================


@pytest.fixture
def adjustment_config():
    invalidate_config()
    config = ledger_config()
    config_apply(config=config)
    return config


def adjust_on_the_admin_page(admin_client) -> str:
    response = admin_client.post("/admin/approvals/adjust-balance/", {
        "user": ALICE, "leave_type": "vacation", "days": "2.5", "year": str(date.today().year),
        "reason": "carry-over"})
    assert response.status_code == 200
    [message] = [str(m) for m in response.context["messages"]]
    return message


@pytest.mark.parametrize("refusal", ["user_not_visible", UNDOCUMENTED])
def test_a_person_slack_will_not_describe_is_refused_on_the_adjustment_page_with_slacks_code(
        admin_client, fake_slack, adjustment_config, refusal):
    with failing(fake_slack, lambda method, params: method == "users.info", refusal, times=None):
        message = adjust_on_the_admin_page(admin_client)

    assert message.startswith("Balance not adjusted:") and f"({refusal})" in message
    assert not [c for c in fake_slack.calls("chat.postMessage") if c.params.get("metadata")]


def test_a_gateway_page_in_front_of_slack_is_never_quoted_on_the_adjustment_page(admin_client, fake_slack,
                                                                                no_sleeping, adjustment_config):
    with failing(fake_slack, lambda method, params: method == "users.info", "gateway_502_html", times=None):
        message = adjust_on_the_admin_page(admin_client)

    assert "<html" not in message.lower() and "http_502" in message, message


@pytest.mark.parametrize("fault", PASSING_FAULTS)
def test_a_passing_fault_looking_up_the_person_asks_hr_to_try_again(admin_client, fake_slack, no_sleeping,
                                                                   adjustment_config, fault):
    with failing(fake_slack, lambda method, params: method == "users.info", fault, times=None):
        message = adjust_on_the_admin_page(admin_client)

    assert message.startswith("Balance not adjusted:") and "try again" in message, message


# === The daily jobs' posts refused for good ========================================================


@pytest.fixture
def hr_console(fake_slack, django_user_model):
    hannah = django_user_model.objects.create_user("hannah", "hannah@example.com", "a-long-test-password",
                                                   is_staff=True)
    console = Client()
    console.force_login(hannah)
    return console


@pytest.mark.parametrize("error", ["restricted_action", UNDOCUMENTED])
def test_an_out_today_post_refused_for_good_is_shown_to_hr(fake_slack, hr_console, error):
    install_config(standard_config(teams=(replace(ENGINEERING, digest_time=time(9, 0)),)))
    tuesday = date(2031, 3, 11)
    post_entry(fake_slack, LedgerEntry(id="out-tuesday", user=ALICE, team="Engineering", leave_type="vacation",
                                       start=tuesday, end=tuesday, start_half=None, end_half=None, days=Decimal(1),
                                       status="approved", decided_by=BOB))
    to_announce = FOLLOWUPS["the announcement"]
    with failing(fake_slack, to_announce, error, times=None) as met:
        with pytest.raises(CommandError):  # the tick says a job failed (cron sees it)
            run_jobs(datetime(2031, 3, 11, 9, 0, tzinfo=ZoneInfo("America/Los_Angeles")), "--team", "Engineering")
    assert len(met) == 1  # closed, not retried every minute

    page = setup_page(hr_console, check_again=True)
    listed = page.split('id="jobs-refused-list"', 1)[-1].split("</ul>", 1)[0]
    assert "Out today" in listed and "Engineering" in listed and f"<code>{error}</code>" in listed, page[-4000:]
