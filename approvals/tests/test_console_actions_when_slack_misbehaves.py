"""The console's pages that ask Slack while HR waits, as Slack really misbehaves: Record leave, Adjust a
balance, people typed by email (users.lookupByEmail), the Setup page's *Check Slack again*, the names
behind the forms, and an uploaded configuration file.

HR expects each page to answer within seconds, to say in plain words what happened and what to do, never
to say "done" when nothing was done nor "not done" when Slack did it, never to record anything twice, and
never to show a token or a stack trace.

Alice, Bob and Dave are in Engineering (members of #engineering), whose approvals channel is
C_ENG_APPROVALS; the signed-in HR account is a superuser (every permission).
"""

import html
import re
import time

import pytest
from django.urls import reverse

from approvals.ledger_format import ADJUSTMENT_EVENT_TYPE
from approvals.models import DeliveryProblem
from fake_slack.personas import C_ENG_APPROVALS
from test_support.console_pages import page_text
from test_support.flows import ALICE, MONDAY, WEDNESDAY, dms_to, install_config
from test_support.setup_page import alerts, setup_page
from test_support.slack_faults import MADE_BUT_LOST, answers_lost, failing, slow

pytestmark = pytest.mark.django_db

RECORD_URL = "/console/leave/record"
ADJUST_URL = "/console/balances/adjust"
YEAR = MONDAY.year
SECRETS = ("xoxb-", "xoxp-", "Traceback", "SlackApiError", "URLError", "Exception")


@pytest.fixture
def hr(admin_client, fake_slack):
    """HR signed in to the console, with the standard configuration installed."""
    from approvals.config_store import invalidate_config

    invalidate_config()  # a shared cache (Redis in CI) outlives each test's transaction
    install_config()
    return admin_client


def method_is(name):
    return lambda method, params: method == name


def posted_to_approvals(method, params):
    return method == "chat.postMessage" and params.get("channel") == C_ENG_APPROVALS


def requests_in_ledger(fake_slack) -> list[dict]:
    return [m.metadata["event_payload"] for m in fake_slack.workspace.messages(C_ENG_APPROVALS)
            if m.metadata and m.metadata.get("event_type") == "timeoff_request"]


def adjustments_in_ledger(fake_slack) -> list[dict]:
    return [m.metadata["event_payload"] for m in fake_slack.workspace.messages(C_ENG_APPROVALS)
            if m.metadata and m.metadata.get("event_type") == ADJUSTMENT_EVENT_TYPE]


def leave_form(**changes) -> dict:
    return {"person": "alice@example.com", "leave_type": "vacation", "start": MONDAY.isoformat(),
            "end": WEDNESDAY.isoformat(), "note": "", **changes}


def shown_messages(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


def assert_nothing_secret_or_technical(response) -> None:
    text = response.content.decode()
    for word in SECRETS:
        assert word not in text, word


def adjustment_form(hr, **changes) -> dict:
    """The adjustment form as HR was shown it (its own id included), filled in."""
    page = hr.get(ADJUST_URL)
    hidden = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page.content.decode()))
    assert "submission" in hidden
    return {**hidden, "user": "alice@example.com", "leave_type": "vacation", "days": "2", "year": str(YEAR),
            "reason": "carry-over", **changes}


# --- Record leave -------------------------------------------------------------------------------


@pytest.mark.parametrize("worker", ["runs at once", "runs later"])
def test_pressing_record_twice_records_the_leave_once(hr, fake_slack, settings, worker):
    """HR presses *Record* again because the page seemed slow: the person has one leave, not two."""
    if worker == "runs later":  # the worker is busy: the first press is not in the ledger yet
        hr.post(RECORD_URL, leave_form(start="2031-04-07", end="2031-04-07"))  # the ledger is read, warm
        settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.dummy.DummyBackend"}}
    first = hr.post(RECORD_URL, leave_form(), follow=True)
    second = hr.post(RECORD_URL, leave_form(), follow=True)

    assert any(m.startswith("Recorded") for m in shown_messages(first))
    assert not any(m.startswith("Recorded") for m in shown_messages(second))
    assert second.context["form"].errors  # said under the form, why nothing more was recorded
    if worker == "runs at once":
        assert [p["start"] for p in requests_in_ledger(fake_slack)] == [MONDAY.isoformat()]


@pytest.mark.parametrize("fault", ["rate_limited_429", "ratelimited_http_200", "internal_error", "fatal_error",
                                   "http_503", "gateway_502_html", "dropped", "html_page_200"])
def test_a_person_typed_by_email_while_slack_falters_is_a_try_again_not_no_such_person(hr, fake_slack, fault):
    started = time.monotonic()
    with failing(fake_slack, method_is("users.lookupByEmail"), fault, times=None) as met:
        response = hr.post(RECORD_URL, leave_form())

    assert met, "the address was looked up in Slack"
    assert time.monotonic() - started < 5
    assert response.status_code == 200
    [error] = response.context["form"].errors["person"]
    assert "try again" in error and "alice@example.com" in error
    assert "No one" not in error
    assert requests_in_ledger(fake_slack) == []
    assert_nothing_secret_or_technical(response)


def test_a_long_retry_after_on_the_email_lookup_is_not_slept_out_by_the_page(hr, fake_slack):
    fake_slack.rate_limit("users.lookupByEmail", retry_after=45, times=None)
    started = time.monotonic()
    response = hr.post(RECORD_URL, leave_form())
    assert time.monotonic() - started < 5
    [error] = response.context["form"].errors["person"]
    assert "ratelimited" in error and "try again" in error
    assert requests_in_ledger(fake_slack) == []


def test_an_address_slack_knows_nobody_by_is_said_so(hr, fake_slack):
    response = hr.post(RECORD_URL, leave_form(person="nobody@example.com"))
    [error] = response.context["form"].errors["person"]
    assert error == "No one in this Slack workspace has the email address nobody@example.com."
    assert [c.params["email"] for c in fake_slack.calls("users.lookupByEmail")] == ["nobody@example.com"]
    assert requests_in_ledger(fake_slack) == []


@pytest.mark.parametrize(("refusal", "what_to_do"), [
    ("missing_scope", "users:read.email"),
    ("invalid_auth", "SLACK_BOT_TOKEN"),
])
def test_a_lookup_slack_refuses_for_good_says_what_to_fix_not_to_try_again(hr, fake_slack, refusal, what_to_do):
    """Trying again cannot help until whoever looks after the app acts: the page says what to fix (the
    scope Slack names, the token setting), as the Setup page does for the same refusals."""
    extra = {"needed": "users:read.email", "provided": "users:read"} if refusal == "missing_scope" else {}
    fake_slack.fail("users.lookupByEmail", refusal, times=None, **extra)

    response = hr.post(RECORD_URL, leave_form())

    [error] = response.context["form"].errors["person"]
    assert refusal in error  # Slack's error, as the README promises
    assert "No one" not in error
    assert what_to_do in error
    assert "try again" not in error
    assert requests_in_ledger(fake_slack) == []
    assert_nothing_secret_or_technical(response)


def test_recorded_leave_whose_post_slack_made_but_whose_answer_was_lost_is_in_the_ledger_once(hr, fake_slack,
                                                                                             no_backoff):
    with answers_lost(fake_slack, "chat.postMessage", then_unreadable=False) as acted:
        response = hr.post(RECORD_URL, leave_form(), follow=True)

    assert acted
    assert any(m.startswith("Recorded") for m in shown_messages(response))
    [payload] = requests_in_ledger(fake_slack)
    assert (payload["user"], payload["status"]) == (ALICE, "approved")
    assert len([dm for dm in dms_to(fake_slack, ALICE) if "recorded time off for you" in dm]) == 1


@pytest.mark.parametrize("refusal", ["is_archived", "not_in_channel", "channel_not_found"])
def test_recorded_leave_slack_will_not_post_is_shown_to_hr_and_the_person_hears_nothing_false(hr, fake_slack,
                                                                                              refusal):
    """The person asked for nothing: they are not told their request failed, nor that leave was recorded.
    HR sees the request among the Setup page's delivery problems, not delivered."""
    with failing(fake_slack, posted_to_approvals, refusal, times=None):
        hr.post(RECORD_URL, leave_form(), follow=True)

    assert requests_in_ledger(fake_slack) == []
    assert not any("recorded time off for you" in dm for dm in dms_to(fake_slack, ALICE))
    assert not any("did not reach" in dm or "couldn't send" in dm for dm in dms_to(fake_slack, ALICE))
    [problem] = DeliveryProblem.objects.all()
    assert (problem.user, problem.error, problem.undelivered) == (ALICE, refusal, True)
    page = setup_page(hr)
    assert "Not delivered" in page and refusal in page


@pytest.mark.parametrize("page", ["record", "adjust"])
def test_a_name_typed_before_the_names_were_read_is_found_when_hr_tries_again_as_told(hr, fake_slack, page):
    """On a cold cache (a fresh deploy, a cleared Redis) a name cannot be matched yet: the page says the list
    is loading and to try again in a moment. Trying again then finds the person: the page asked for the list."""
    url, data, field = ((RECORD_URL, leave_form(person="Alice Adams"), "person") if page == "record" else
                        (ADJUST_URL, adjustment_form(hr, user="Alice Adams"), "user"))
    from django.core.cache import cache

    from approvals import slack_directory

    cache.delete(slack_directory.SNAPSHOT_KEY)
    cache.delete(slack_directory.REFRESH_REQUESTED_KEY)

    first = hr.post(url, data)
    assert first.context["form"].errors[field] == [slack_directory.LOADING]

    again = hr.post(url, data, follow=True)
    assert field not in (again.context["form"].errors if again.context.get("form") else {}), \
        "tried again as told, and the names were still not there"
    assert any(m.startswith("Recorded") for m in shown_messages(again))


# --- Adjust a balance ---------------------------------------------------------------------------


@pytest.mark.parametrize("fault", MADE_BUT_LOST)
def test_an_adjustment_slack_made_though_its_answer_was_lost_is_not_called_not_adjusted(hr, fake_slack, fault):
    """Slack posted it: the page may say it is not sure, but never "Balance not adjusted"."""
    data = adjustment_form(hr)
    with failing(fake_slack, posted_to_approvals, fault) as met:
        response = hr.post(ADJUST_URL, data, follow=True)

    assert met
    assert len(adjustments_in_ledger(fake_slack)) == 1
    [message] = shown_messages(response)
    assert "may have been recorded" in message
    assert "not adjusted" not in message.lower()
    assert_nothing_secret_or_technical(response)


def test_the_same_adjustment_form_sent_again_after_a_lost_answer_records_nothing_more(hr, fake_slack):
    data = adjustment_form(hr)
    with failing(fake_slack, posted_to_approvals, "answer_lost"):
        hr.post(ADJUST_URL, data, follow=True)
    again = hr.post(ADJUST_URL, data, follow=True)
    [message] = shown_messages(again)
    assert "check the approvals channel" in message
    assert len(adjustments_in_ledger(fake_slack)) == 1


def test_an_adjustment_slack_rate_limits_for_long_says_nothing_was_recorded_and_to_try_later(hr, fake_slack):
    """A 429 is not a refusal: Slack did nothing, and will take it later. The same form then records it once."""
    data = adjustment_form(hr)
    fake_slack.rate_limit("chat.postMessage", retry_after=120, times=1)
    started = time.monotonic()
    response = hr.post(ADJUST_URL, data, follow=True)

    assert time.monotonic() - started < 5
    [message] = shown_messages(response)
    assert "nothing was recorded" in message
    assert "try again" in message
    assert "refused" not in message  # HR would look for something to fix
    assert adjustments_in_ledger(fake_slack) == []

    assert hr.post(ADJUST_URL, data).status_code == 302
    assert len(adjustments_in_ledger(fake_slack)) == 1


def test_an_adjustment_page_does_not_sleep_through_repeated_short_rate_limits(hr, fake_slack, pause_clock):
    """Slack answers every post 429 with Retry-After: 10. A page that slept each out (three retries, and the
    app-wide pause before the call) would hold HR for 40 s, past gunicorn's 30 s: a 502 and no word."""
    data = adjustment_form(hr)
    fake_slack.rate_limit("chat.postMessage", retry_after=10, times=None)
    started = time.monotonic()
    response = hr.post(ADJUST_URL, data, follow=True)
    waited = time.monotonic() - started + sum(pause_clock.waits)

    assert waited < 10, f"HR waited {waited:.0f} s"
    [message] = shown_messages(response)
    assert "nothing was recorded" in message
    assert adjustments_in_ledger(fake_slack) == []


def test_an_adjustment_post_slack_answers_late_does_not_hold_the_page(hr, fake_slack):
    """Slack posts it and answers 20 s later: HR is told within seconds that it may have been recorded."""
    data = adjustment_form(hr)
    started = time.monotonic()
    with slow(fake_slack, posted_to_approvals, 20):
        response = hr.post(ADJUST_URL, data, follow=True)
    elapsed = time.monotonic() - started

    assert len(adjustments_in_ledger(fake_slack)) == 1
    [message] = shown_messages(response)
    assert "may have been recorded" in message
    assert elapsed < 5, f"HR waited {elapsed:.0f} s"


@pytest.mark.parametrize("fault", ["rate_limited_429", "ratelimited_http_200", "fatal_error", "dropped"])
def test_a_person_slack_cannot_look_up_just_now_posts_nothing_and_says_try_again(hr, fake_slack, fault):
    data = adjustment_form(hr)
    with failing(fake_slack, method_is("users.lookupByEmail"), fault, times=None):
        response = hr.post(ADJUST_URL, data)

    assert response.status_code == 200
    [error] = response.context["form"].errors["user"]
    assert "try again" in error and "No one" not in error
    assert adjustments_in_ledger(fake_slack) == []
    assert_nothing_secret_or_technical(response)


@pytest.mark.parametrize("refusal", ["channel_not_found", "not_in_channel", "is_archived", "invalid_auth"])
def test_an_adjustment_slack_refuses_for_good_says_nothing_was_recorded_and_may_be_sent_again(hr, fake_slack,
                                                                                              refusal):
    data = adjustment_form(hr)
    with failing(fake_slack, posted_to_approvals, refusal):
        response = hr.post(ADJUST_URL, data, follow=True)
    [message] = shown_messages(response)
    assert message.startswith("Balance not adjusted") and "nothing was recorded" in message and refusal in message
    assert_nothing_secret_or_technical(response)
    assert adjustments_in_ledger(fake_slack) == []
    assert hr.post(ADJUST_URL, data).status_code == 302  # fixed in Slack, the same form records it
    assert len(adjustments_in_ledger(fake_slack)) == 1


# --- Setup: Check Slack again -------------------------------------------------------------------


@pytest.mark.parametrize("fault", ["rate_limited_429", "ratelimited_http_200", "internal_error", "fatal_error",
                                   "http_503", "gateway_502_html", "dropped", "html_page_200", "request_timeout"])
def test_check_again_while_slack_falters_says_it_could_not_ask_and_to_check_shortly(hr, fake_slack, fault,
                                                                                    no_sleeping):
    with failing(fake_slack, method_is("auth.test"), fault, times=None):
        started = time.monotonic()
        page = setup_page(hr, check_again=True)
    assert time.monotonic() - started < 10
    text = re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page)))
    assert "Slack could not be asked just now" in text
    assert "check again shortly" in text
    assert "Slack refused the connection" not in text
    assert not any(word in page for word in SECRETS)


def test_check_again_after_a_blip_shows_the_connection_again(hr, fake_slack, no_sleeping):
    with failing(fake_slack, method_is("auth.test"), "fatal_error", times=None):
        setup_page(hr, check_again=True)
    page = setup_page(hr, check_again=True)
    assert "Slack could not be asked just now" not in page
    assert "Connected to" in page


def test_a_channel_slack_could_not_describe_for_a_moment_is_not_announced_as_needing_attention(hr, fake_slack,
                                                                                               no_sleeping):
    """conversations.info rate-limited for the approvals channel: nothing is wrong with the channel. HR is
    told Slack could not say just now, not sent to fix a channel that needs nothing."""
    with failing(fake_slack, lambda m, p: m == "conversations.info" and p.get("channel") == C_ENG_APPROVALS,
                 "ratelimited_http_200", times=None):
        page = setup_page(hr, check_again=True)
    assert not any("need attention" in alert or "needs attention" in alert for alert in alerts(page)), alerts(page)
    text = re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page)))
    assert "ratelimited" in text and "again" in text[text.index("ratelimited"):][:200]


# --- A configuration file -----------------------------------------------------------------------


def test_an_uploaded_file_naming_people_by_email_is_refused_by_place_without_asking_slack(hr, fake_slack):
    """The file names people by Slack id: an address is refused where it is, at once, even with Slack down;
    nothing changes."""
    import json

    from django.core.files.uploadedfile import SimpleUploadedFile

    from approvals.config_store import config_from_database

    before = config_from_database()
    text = json.dumps({"version": 1, "fallback_approvers": {"users": ["hannah@example.com"]},
                       "teams": [{"name": "Engineering", "members": {"channel": "C_ENG"},
                                  "approvers": {"users": ["bob@example.com"]},
                                  "approvals_channel": C_ENG_APPROVALS}],
                       "leave_types": [{"code": "vacation", "name": "Vacation"}]})
    fake_slack.clear_calls()
    with failing(fake_slack, lambda m, p: True, "fatal_error", times=None):
        started = time.monotonic()
        response = hr.post(reverse("console:config_upload"),
                           {"file": SimpleUploadedFile("config.json", text.encode(), "application/json")})
    assert time.monotonic() - started < 5
    assert response.status_code == 400
    shown = page_text(response)
    assert "fallback_approvers.users[0]: 'hannah@example.com' must be a Slack user id" in shown
    assert "teams[0].approvers.users[0]: 'bob@example.com' must be a Slack user id" in shown
    assert [c.method for c in fake_slack.calls() if c.method == "users.lookupByEmail"] == []
    assert config_from_database() == before
