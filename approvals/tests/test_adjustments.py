"""Balance adjustments: `manage.py adjust_balance`, the admin form, and the balances they change.

Alice is in Engineering (members of #engineering), whose approvals channel is
C_ENG_APPROVALS; Carol is in no team; Hannah is HR.
"""

import io
import json
import time
from dataclasses import replace
from datetime import date
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse

from approvals.balances import balances_for
from approvals.config_store import config_apply, invalidate_config
from approvals.ledger_reader import cached_ledger, read_ledger
from fake_slack.ledger_seed import (
    ENGINEERING,
    engineering_holidays,
    ledger_config,
    realistic_ledger,
    seed_realistic_ledger,
)
from fake_slack.personas import ALICE, C_ENG_APPROVALS, C_NOBOT, CAROL, DAVE, HR
from approvals.slack_clients import background_client
from test_support.slack_faults import answers_lost

pytestmark = pytest.mark.django_db

YEAR = date.today().year
ADMIN_URL = "/admin/approvals/adjust-balance/"


@pytest.fixture(autouse=True)
def config():
    invalidate_config()  # a shared cache (Redis in CI) outlives each test's transaction
    config = ledger_config()
    config_apply(config=config)
    return config


def adjust(*args) -> str:
    stdout = io.StringIO()
    call_command("adjust_balance", *args, stdout=stdout)
    return stdout.getvalue()


def posted_adjustments(fake_slack) -> list:
    return [call for call in fake_slack.calls("chat.postMessage") if call.params.get("metadata")]


def metadata_of(call) -> dict:
    metadata = call.params["metadata"]
    return json.loads(metadata) if isinstance(metadata, str) else metadata


# --- The command ------------------------------------------------------------------------


def test_it_posts_an_adjustment_to_the_users_approvals_channel(fake_slack):
    out = adjust(ALICE, "vacation", "3", "--year", str(YEAR), "--reason", "carry-over", "--by", HR)

    [call] = posted_adjustments(fake_slack)
    assert call.params["channel"] == C_ENG_APPROVALS
    assert call.response["ok"] is True
    metadata = metadata_of(call)
    assert metadata["event_type"] == "timeoff_adjustment"
    payload = metadata["event_payload"]
    assert payload == {"v": 1, "id": payload["id"], "user": ALICE, "type": "vacation", "days": 3.0, "year": YEAR,
                       "reason": "carry-over", "by": HR}
    assert call.params["text"] == (
        f"Balance adjustment for <@{ALICE}>: +3 days of Vacation in {YEAR} (carry-over) — by <@{HR}>")
    assert out == f"Recorded adjustment {payload['id']}: +3 days of vacation for {ALICE} in {YEAR} (carry-over).\n"
    # It is in the ledger for whoever reads it next.
    ledger = read_ledger(background_client(), ledger_config())
    assert ledger.adjustments[payload["id"]].days == Decimal(3)


def test_a_negative_half_day_and_the_default_author(fake_slack, monkeypatch):
    monkeypatch.setattr("getpass.getuser", lambda: "hannah")

    adjust(DAVE, "vacation", "-1.5", "--year", str(YEAR - 1), "--reason", "correction")

    payload = metadata_of(posted_adjustments(fake_slack)[0])["event_payload"]
    assert (payload["user"], payload["days"], payload["year"], payload["by"]) == (DAVE, -1.5, YEAR - 1, "hannah")
    assert posted_adjustments(fake_slack)[0].params["text"].endswith(
        f"-1.5 days of Vacation in {YEAR - 1} (correction) — by hannah")


def test_it_updates_a_warm_ledger_in_place(fake_slack, config):
    read_ledger(background_client(), config)

    adjust(ALICE, "vacation", "2", "--year", str(YEAR), "--reason", "opening balance", "--by", HR)

    [adjustment] = cached_ledger(config).adjustments_for(ALICE)
    assert (adjustment.days, adjustment.reason) == (Decimal(2), "opening balance")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((ALICE, "holiday", "3"), "'holiday' is not a leave type (known types: vacation, sick, medical)"),
        ((ALICE, "vacation", "three"), "'three' is not a number of days (e.g. 3, 2.5 or -1)"),
        ((ALICE, "vacation", "NaN"), "'NaN' is not a number of days"),
        ((ALICE, "vacation", "0"), "the days must not be 0"),
        ((ALICE, "vacation", "1.25"), "the days must be whole or half days, not 1.25"),
        ((ALICE, "vacation", "400"), "400 days is more than a year"),
        ((ALICE, "vacation", "1", "--year", "1999"), f"the year must be between {YEAR - 5} and {YEAR + 5}, not 1999"),
        ((ALICE, "vacation", "1", "--year", str(YEAR + 6)),
         f"the year must be between {YEAR - 5} and {YEAR + 5}, not {YEAR + 6}"),
        ((ALICE, "vacation", "1", "--reason", "   "), "a reason is required"),
        (("alice", "vacation", "1"), "'alice' must be a Slack user id like U0123ABCD"),
        (("U_NOBODY", "vacation", "1"), "Slack has no user U_NOBODY"),
        ((CAROL, "vacation", "1"), f"{CAROL} is in no team, so there is no approvals channel to record it in"),
    ],
)
def test_each_bad_input_is_a_clear_error_and_posts_nothing(fake_slack, args, message):
    options = {"--year": str(YEAR), "--reason": "carry-over", "--by": HR}
    given = list(args)
    for name, value in options.items():
        if name not in given:
            given += [name, value]

    with pytest.raises(CommandError) as raised:
        adjust(*given)

    assert str(raised.value).startswith("Balance not adjusted: ")
    assert message in str(raised.value)
    assert posted_adjustments(fake_slack) == []


def test_missing_year_or_reason_is_a_usage_error(fake_slack):
    with pytest.raises(CommandError, match="--year"):
        adjust(ALICE, "vacation", "1", "--reason", "x")
    with pytest.raises(CommandError, match="--reason"):
        adjust(ALICE, "vacation", "1", "--year", str(YEAR))


def test_a_channel_the_bot_cannot_post_to_is_a_clear_error(fake_slack, config):
    config_apply(config=replace(config, teams=(replace(ENGINEERING, approvals_channel=C_NOBOT),)))

    with pytest.raises(CommandError) as raised:
        adjust(ALICE, "vacation", "1", "--year", str(YEAR), "--reason", "carry-over")

    assert str(raised.value) == (
        f"Balance not adjusted: Slack refused to post to the Engineering approvals channel {C_NOBOT} "
        "(not_in_channel); nothing was recorded.")


def test_a_revoked_token_is_a_clear_error(fake_slack):
    fake_slack.workspace.revoke_token()

    with pytest.raises(CommandError, match=f"Slack could not look up {ALICE} \\(token_revoked\\)"):
        adjust(ALICE, "vacation", "1", "--year", str(YEAR), "--reason", "carry-over")


def test_slack_refusing_to_post_is_a_clear_error(fake_slack):
    fake_slack.fail("chat.postMessage", "restricted_action", times=None)

    with pytest.raises(CommandError, match="Slack refused to post .* \\(restricted_action\\); nothing was recorded"):
        adjust(ALICE, "vacation", "1", "--year", str(YEAR), "--reason", "carry-over")


def test_slack_failing_in_a_way_that_may_have_posted_says_to_look_first(fake_slack):
    # fatal_error: "some aspect of the operation may have succeeded" (Slack's docs).
    fake_slack.fail("chat.postMessage", "fatal_error", times=None)

    with pytest.raises(CommandError, match="may have been recorded all the same; check .* before recording it again"):
        adjust(ALICE, "vacation", "1", "--year", str(YEAR), "--reason", "carry-over")


def test_an_adjustment_slack_posted_though_its_answer_was_lost_is_posted_once(fake_slack, no_backoff):
    with answers_lost(fake_slack, "chat.postMessage", then_unreadable=False), \
            pytest.raises(CommandError, match="may have been recorded all the same"):
        adjust(ALICE, "vacation", "1", "--year", str(YEAR), "--reason", "carry-over")

    assert len([m for m in fake_slack.workspace.messages(C_ENG_APPROVALS) if m.metadata]) == 1


# --- The admin page ---------------------------------------------------------------------


def form(**changes) -> dict:
    return {"user": ALICE, "leave_type": "vacation", "days": "2.5", "year": str(YEAR), "reason": "carry-over",
            **changes}


def test_the_admin_page_needs_a_staff_login(client, django_user_model, fake_slack):
    response = client.get(ADMIN_URL)
    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")

    client.force_login(django_user_model.objects.create_user("eve", password="x", is_staff=False))
    assert client.get(ADMIN_URL).status_code == 302
    assert client.post(ADMIN_URL, form()).status_code == 302
    assert posted_adjustments(fake_slack) == []


def test_the_admin_index_links_to_the_page(admin_client):
    assert reverse("admin:approvals_adjust_balance") == ADMIN_URL
    response = admin_client.get("/admin/")
    assert ADMIN_URL in response.content.decode()


@pytest.fixture
def staff_without_permission(client, django_user_model):
    user = django_user_model.objects.create_user("sam", password="pw", is_staff=True)
    client.force_login(user)
    return client


def test_staff_status_alone_may_not_record_an_adjustment(staff_without_permission, fake_slack):
    assert staff_without_permission.get(ADMIN_URL).status_code == 403
    assert staff_without_permission.post(ADMIN_URL, form()).status_code == 403
    assert posted_adjustments(fake_slack) == [] and fake_slack.calls() == []
    assert ADMIN_URL not in staff_without_permission.get("/admin/").content.decode()  # no link either


def test_the_permission_lets_staff_record_one(staff_without_permission, fake_slack, django_user_model):
    from django.contrib.auth.models import Permission

    user = django_user_model.objects.get(username="sam")
    user.user_permissions.add(Permission.objects.get(codename="record_adjustment"))
    response = staff_without_permission.post(ADMIN_URL, form(), follow=True)
    assert response.redirect_chain == [(ADMIN_URL, 302)]
    assert len(posted_adjustments(fake_slack)) == 1
    assert ADMIN_URL in staff_without_permission.get("/admin/").content.decode()


def test_the_admin_form_offers_the_configured_types(admin_client):
    response = admin_client.get(ADMIN_URL)

    assert response.status_code == 200
    assert response.context["form"].fields["leave_type"].choices == [
        ("vacation", "Vacation"), ("sick", "Sick leave"), ("medical", "Medical appointment")]
    assert response.context["form"]["year"].value() == YEAR


def test_posting_the_admin_form_records_the_adjustment(admin_client, admin_user, fake_slack):
    response = admin_client.post(ADMIN_URL, form(), follow=True)

    assert response.redirect_chain == [(ADMIN_URL, 302)]
    [call] = posted_adjustments(fake_slack)
    assert call.params["channel"] == C_ENG_APPROVALS
    payload = metadata_of(call)["event_payload"]
    assert (payload["user"], payload["type"], payload["days"], payload["year"], payload["reason"], payload["by"]) == (
        ALICE, "vacation", 2.5, YEAR, "carry-over", admin_user.get_username())
    assert call.params["text"].endswith(f"— by {admin_user.get_username()}")
    messages = [str(m) for m in response.context["messages"]]
    assert messages == [f"Recorded +2.5 days of vacation for {ALICE} in {YEAR} (carry-over)."]


def test_the_admin_form_shows_bad_input_and_posts_nothing(admin_client, fake_slack):
    response = admin_client.post(ADMIN_URL, form(days="0.3", reason="", user="alice"))

    assert response.status_code == 200
    errors = response.context["form"].errors
    assert errors == {
        "user": ["'alice' must be a Slack user id like U0123ABCD."],
        "days": ["The days must be whole or half days, not 0.3."],
        "reason": ["This field is required."],
    }
    assert "The days must be whole or half days, not 0.3." in response.content.decode()
    assert posted_adjustments(fake_slack) == []
    assert fake_slack.calls() == []


def test_the_admin_form_shows_what_slack_said(admin_client, fake_slack):
    response = admin_client.post(ADMIN_URL, form(user=CAROL))

    assert response.status_code == 200
    assert [str(m) for m in response.context["messages"]] == [
        f"Balance not adjusted: {CAROL} is in no team, so there is no approvals channel to record it in."]
    assert posted_adjustments(fake_slack) == []


# --- Balances reflect adjustments ---------------------------------------------------------


def test_balances_reflect_adjustments_in_the_realistic_ledger(fake_slack, config):
    today = date.today()
    seed_realistic_ledger(fake_slack.workspace,
                          realistic_ledger(today=today, holiday_dates=engineering_holidays(today)))
    before = balances_for(config=config, ledger=read_ledger(background_client(), config), user=ALICE,
                          team=ENGINEERING, year=YEAR)[0]

    adjust(ALICE, "vacation", "3", "--year", str(YEAR), "--reason", "carry-over", "--by", HR)
    adjust(ALICE, "vacation", "-0.5", "--year", str(YEAR), "--reason", "correction", "--by", HR)

    for ledger in (cached_ledger(config), read_ledger(background_client(), config)):  # in place, and from Slack
        after = balances_for(config=config, ledger=ledger, user=ALICE, team=ENGINEERING, year=YEAR)[0]
        assert after.adjustments == before.adjustments + Decimal("2.5")
        assert after.remaining == before.remaining + Decimal("2.5")
        assert (after.taken, after.pending) == (before.taken, before.pending)


def test_a_passing_slack_fault_is_a_clear_error_and_posts_nothing(admin_client, fake_slack):
    fake_slack.fail("conversations.members", error="internal_error", times=None)
    response = admin_client.post(ADMIN_URL, form())
    assert response.status_code == 200
    [message] = [str(m) for m in response.context["messages"]]
    assert "(internal_error); try again in a minute" in message  # Slack's code, not "SlackApiError"
    assert posted_adjustments(fake_slack) == []


def test_a_slow_slack_is_a_clear_error_within_seconds(admin_client, fake_slack):
    # A browser waits on this page: Slack's slowness must not hold it past gunicorn's 30 s.
    fake_slack.delay("users.info", 20, times=None)
    started = time.monotonic()
    response = admin_client.post(ADMIN_URL, form())
    assert time.monotonic() - started < 5
    [message] = [str(m) for m in response.context["messages"]]
    assert message.startswith("Balance not adjusted: Slack could not be reached (no answer in time)")
    assert "Error" not in message  # no URLError or TimeoutError: words HR can act on
    assert posted_adjustments(fake_slack) == []
