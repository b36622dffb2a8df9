"""When Slack will not open the global shortcut's modal, the person is told why in a DM.

A shortcut has no channel to answer in and its trigger opens one view within 3 s,
so, as for App Home's buttons, the note goes through tasks.tell_user. Signed
`shortcut` payloads; the fake Slack fails views.open; the assertions are on the
DM that crossed the wire.
"""

import pytest

from approvals import block_ids as ids
from fake_slack.personas import CAROL
from test_support.flows import ALICE, dms_to, install_config
from test_support.slack_requests import post_interaction, shortcut_payload

pytestmark = pytest.mark.django_db


def use_the_shortcut(client, user: str = ALICE):
    response = post_interaction(client, shortcut_payload(user_id=user, callback_id=ids.REQUEST_SHORTCUT))
    assert response.status_code == 200 and response.content == b""  # acknowledged all the same
    return response


def test_a_rate_limited_form_says_to_wait_then_use_the_shortcut_again(client, fake_slack):
    install_config()
    fake_slack.rate_limit("views.open", retry_after=30)
    use_the_shortcut(client)
    assert len(fake_slack.calls("views.open")) == 1  # not slept on, not retried with a spent trigger
    assert dms_to(fake_slack, ALICE) == [
        "Slack is limiting how often this app may open forms just now; please wait a minute, "
        "then use the “Request time off” shortcut again."]


def test_an_expired_trigger_says_the_form_took_too_long(client, fake_slack):
    install_config()
    fake_slack.fail("views.open", error="expired_trigger_id")
    use_the_shortcut(client)
    assert dms_to(fake_slack, ALICE) == [
        "The request form took too long to open (Slack allows 3 seconds); "
        "please use the “Request time off” shortcut again."]


def test_a_slow_views_open_says_the_form_may_have_opened(client, fake_slack):
    install_config()
    fake_slack.delay("views.open", 2.5, times=1)  # past the in-request client's timeout
    use_the_shortcut(client)
    [told] = dms_to(fake_slack, ALICE)
    assert told.startswith("Slack was slow to answer: if the request form didn't open")


def test_a_refusal_whose_modal_did_not_open_is_told_in_a_dm(client, fake_slack):
    install_config()
    use_the_shortcut(client, CAROL)  # warms her memberships: now she is known to be in no team
    fake_slack.fail("views.open", error="internal_error")
    use_the_shortcut(client, CAROL)
    [told] = dms_to(fake_slack, CAROL)
    assert told.startswith("Sorry,") and "no team is configured for you" in told


def test_a_form_that_opened_sends_no_dm(client, fake_slack):
    install_config()
    use_the_shortcut(client)
    assert fake_slack.last_call("views.open").response["ok"] is True
    assert dms_to(fake_slack, ALICE) == []
