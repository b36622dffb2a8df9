"""Answers promised to people while Slack is slow, rate-limited or half failing, end to end.

Each test drives a flow through the signed HTTP endpoints against the fake Slack, with a fault
injected, and checks what the contract says (DESIGN §3, §8): the requester is never left without
an answer, permanent errors are told to a person, transient faults are retried and never
remembered, nothing is posted twice, a success is never reported as a failure.
"""

import pytest
from django.core.cache import cache

from fake_slack.personas import C_ENG_APPROVALS
from test_support.flows import (
    ALICE,
    HR,
    MONDAY,
    WEDNESDAY,
    dms_to,
    install_config,
    request_time_off,
    request_values,
)
from test_support.slack_requests import post_command, post_interaction, view_submission_payload

pytestmark = pytest.mark.django_db


def cold_cache():
    """Later, on another day: the shared cache forgot the ledger and the directory."""
    cache.clear()


def test_list_on_a_cold_cache_with_the_ledger_refused_answers_the_person(client, fake_slack):
    # /timeoff list answers "I'll DM you in a moment"; the ledger read then meets a permanent refusal
    # (the bot was removed from the approvals channel). The person must still hear something, as
    # /timeoff balance and /timeoff who tell them, not wait for a DM that never comes.
    install_config()
    request_time_off(client, fake_slack, ALICE)
    cold_cache()
    fake_slack.workspace.channels[C_ENG_APPROVALS].members.discard(fake_slack.workspace.bot_user_id)
    before = len(dms_to(fake_slack, ALICE))

    response = post_command(client, "list", user_id=ALICE)

    assert response.status_code == 200
    assert "DM you" in response.json()["text"]
    told = dms_to(fake_slack, ALICE)[before:]
    assert told, "the person was promised a DM and got none"
    assert "can't list your time off" in told[-1] and "C_ENG_APPROVALS" in told[-1]


def test_hrs_list_of_someone_on_a_cold_cache_with_the_ledger_refused_answers_hr_only(client, fake_slack):
    install_config()
    request_time_off(client, fake_slack, ALICE)
    cold_cache()
    fake_slack.workspace.channels[C_ENG_APPROVALS].members.discard(fake_slack.workspace.bot_user_id)
    alice_before = len(dms_to(fake_slack, ALICE))

    response = post_command(client, f"for <@{ALICE}> list", user_id=HR)

    assert response.status_code == 200 and "DM you" in response.json()["text"]
    assert len(dms_to(fake_slack, ALICE)) == alice_before  # the list is HR's, never the person's
    assert any(f"can't list <@{ALICE}>'s time off" in dm for dm in dms_to(fake_slack, HR)), dms_to(fake_slack, HR)


@pytest.mark.parametrize("command", ["balance", "list", "who"])
def test_a_cold_answer_slack_keeps_failing_is_still_answered(client, fake_slack, command):
    # The cache is cold, so the answer is promised by DM; reading the ledger then meets Slack's
    # internal_error on every attempt (Slack half down: DMs still go out). When the task gives up, the
    # person must be told it failed and to try again, not left waiting for the promised DM.
    install_config()
    request_time_off(client, fake_slack, ALICE)
    cold_cache()
    fake_slack.fail("conversations.history", "internal_error", times=None)
    before = len(dms_to(fake_slack, ALICE))

    response = post_command(client, command, user_id=ALICE)

    assert response.status_code == 200
    assert "DM you" in response.json()["text"]
    assert len(fake_slack.calls("conversations.history")) > 1  # retried, as a passing fault is
    told = dms_to(fake_slack, ALICE)[before:]
    assert len(told) == 1, "the person was promised a DM and got none"
    assert "Slack kept failing (internal_error)" in told[0] and "try" in told[0], told


@pytest.mark.parametrize("command", ["balance", "who"])
def test_a_cold_answer_whose_connection_keeps_dropping_is_told_in_plain_words(client, fake_slack, no_backoff,
                                                                               command):
    # As above, with no answer from Slack at all: the person hears that the connection failed, not the
    # name of the exception that said so (URLError, ConnectionResetError).
    install_config()
    request_time_off(client, fake_slack, ALICE)
    cold_cache()
    fake_slack.drop_connection("conversations.history", times=None)
    before = len(dms_to(fake_slack, ALICE))

    post_command(client, command, user_id=ALICE)

    [told] = dms_to(fake_slack, ALICE)[before:]
    assert "Slack kept failing (connection failed)" in told and "try" in told, told
    assert "Error" not in told, told


def test_hr_recording_on_a_cold_cache_hears_why_it_was_refused_not_the_person(client, fake_slack):
    # HR records leave for Alice with `/timeoff for @alice …`; the cache is cold, so the form is
    # accepted and checked in the delivery task, which refuses it (it overlaps Alice's own request).
    # The refusal belongs to HR, who asked and waits for it: Alice did not send this request.
    install_config()
    request_time_off(client, fake_slack, ALICE)  # pending, Mon–Wed
    cold_cache()
    response = post_command(client, f"for <@{ALICE}|alice> {MONDAY} {WEDNESDAY} vacation", user_id=HR)
    assert response.status_code == 200 and response.content == b""
    form = fake_slack.last_call("views.open").params["view"]
    alice_before = dms_to(fake_slack, ALICE)

    answer = post_interaction(client, view_submission_payload(
        user_id=HR, view=form, values=request_values("vacation", MONDAY, WEDNESDAY), view_id="V_FOR"))

    assert answer.status_code == 200 and answer.content == b""  # accepted: checked in the task
    told_alice = dms_to(fake_slack, ALICE)[len(alice_before):]
    assert not [dm for dm in told_alice if "couldn't send your time-off request" in dm], told_alice
    [told_hr] = [dm for dm in dms_to(fake_slack, HR) if "overlaps" in dm]
    assert told_hr.startswith(f"I couldn't send the time off you recorded for <@{ALICE}>"), told_hr


@pytest.fixture
def views_open_made_then_500(fake_slack):
    """views.open opens the modal, then Slack answers 500 `fatal_error` ("some aspect of the operation may
    have succeeded"): the person sees the form."""
    real_handle = fake_slack.handle
    opened = []

    def half_down(name, params, headers):
        status, extra, body = real_handle(name, params, headers)
        if name == "views.open" and body.get("ok"):
            opened.append(body["view"]["id"])
            return 500, extra, {"ok": False, "error": "fatal_error"}
        return status, extra, body

    fake_slack.handle = half_down
    yield opened
    del fake_slack.handle


def test_a_form_slack_opened_though_its_answer_was_a_500_is_not_called_unopened(client, fake_slack,
                                                                                views_open_made_then_500):
    install_config()

    response = post_command(client, "", user_id=ALICE)

    assert views_open_made_then_500, "the form opened in Slack"
    text = response.json()["text"]
    assert "didn't let me open" not in text, text  # the person is looking at the form it says did not open
    assert "if the request form didn't open" in text, text
