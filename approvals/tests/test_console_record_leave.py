"""HR records leave for someone from the console: checked now, delivered by a task, the person told."""

import time
from datetime import date, timedelta

import pytest
from django.urls import reverse

from fake_slack.personas import C_ENG_APPROVALS
from test_support.flows import ALICE, MONDAY, WEDNESDAY, dms_to, install_config

pytestmark = pytest.mark.django_db

URL = "/console/leave/record"


def form(**changes):
    return {"person": "alice@example.com", "leave_type": "vacation", "start": MONDAY.isoformat(),
            "end": WEDNESDAY.isoformat(), "note": "", **changes}


def ledger(fake_slack):
    return [m.metadata["event_payload"] for m in fake_slack.workspace.messages(C_ENG_APPROVALS) if m.metadata]


def test_hr_records_leave_by_email_and_the_person_is_told(admin_client, fake_slack):
    install_config()
    response = admin_client.post(URL, form(), follow=True)
    assert response.redirect_chain == [(URL, 302)]
    [payload] = ledger(fake_slack)
    assert (payload["user"], payload["status"], payload["recorded_by"]) == (ALICE, "approved", "admin")
    assert any("admin recorded time off for you" in dm for dm in dms_to(fake_slack, ALICE))


def test_a_rule_broken_is_shown_under_its_field_and_nothing_is_posted(admin_client, fake_slack):
    install_config()
    response = admin_client.post(URL, form(end=MONDAY.replace(day=MONDAY.day - 3).isoformat()))
    assert response.status_code == 200
    assert "is before the start" in " ".join(response.context["form"].errors["end"])
    assert ledger(fake_slack) == []


def test_someone_in_no_team_is_refused_in_words_for_hr(admin_client, fake_slack):
    install_config()
    response = admin_client.post(URL, form(person="carol@example.com"))
    assert response.status_code == 200
    [error] = response.context["form"].errors["person"]
    assert error == "They are in no team, so nobody could approve it; add them to a team first."
    assert ledger(fake_slack) == []


def test_staff_without_the_permission_may_not(client, fake_slack, django_user_model):
    install_config()
    user = django_user_model.objects.create_user("sam", password="pw", is_staff=True)
    client.force_login(user)
    assert client.get(URL).status_code == 403
    assert client.post(URL, form()).status_code == 403
    assert ledger(fake_slack) == []


def test_the_navigation_offers_record_leave_to_those_who_may_and_marks_it_current(admin_client, client, fake_slack,
                                                                                django_user_model):
    install_config()
    link = f'href="{URL}"'
    home = admin_client.get(reverse("console:home")).content.decode()
    nav = home.split('<nav class="site-nav"', 1)[1].split("</nav>", 1)[0]
    assert link in nav and ">Record leave</a>" in nav
    page = admin_client.get(URL).content.decode()
    assert f'{link} aria-current="page">Record leave</a>' in page
    client.force_login(django_user_model.objects.create_user("sam", password="pw", is_staff=True))
    assert link not in client.get(reverse("console:home")).content.decode()


def test_someone_in_no_team_because_slack_will_not_list_a_members_channel_is_told_to_hr_as_such(admin_client,
                                                                                                  fake_slack):
    """HR can fix it: the text names the channel (its id kept as Slack spells it) and Slack's error."""
    from dataclasses import replace

    from approvals.config_types import MemberSource
    from test_support.flows import ENGINEERING, standard_config

    fake_slack.workspace.add_channel("C0SECRET", "secret-eng", members=[ALICE], private=True, bot_member=False)
    install_config(standard_config(teams=(replace(ENGINEERING, members=MemberSource(channel="C0SECRET")),)))

    response = admin_client.post(URL, form())

    [error] = response.context["form"].errors["person"]
    assert error == ("They are in no team, but Slack would not list who is in the channel C0SECRET "
                     "(channel_not_found), which decides who is in Engineering: invite the app to that channel "
                     "or fix the team's settings.")
    assert ledger(fake_slack) == []


def test_an_approvals_channel_slack_will_not_show_is_said_and_nothing_is_recorded(admin_client, fake_slack):
    # The bot was removed from the approvals channel: the ledger cannot be read to check the request.
    install_config()
    fake_slack.workspace.channels[C_ENG_APPROVALS].members.discard(fake_slack.workspace.bot_user_id)

    response = admin_client.post(URL, form())

    assert response.status_code == 200
    [error] = response.context["form"].errors["person"]
    # A private channel (as approvals channels are) is not found by a bot outside it.
    assert "leave history cannot be read" in error and "channel_not_found" in error and C_ENG_APPROVALS in error
    assert ledger(fake_slack) == []


def test_leave_longer_than_a_year_is_refused_on_its_last_day(admin_client, fake_slack):
    # The Slack form refuses it before anything is checked; the console goes through the rules alone.
    install_config()
    response = admin_client.post(URL, form(end="9999-12-31"))
    assert response.status_code == 200
    [error] = response.context["form"].errors["end"]
    assert error.startswith("One request can cover at most a year")
    assert ledger(fake_slack) == []


def test_a_cold_ledger_is_read_in_the_background_not_by_the_page(admin_client, fake_slack, settings):
    # Slack rate-limits the history: a read waits out each Retry-After, for minutes. The page reads no
    # history itself; it asks the worker to, and says to send the form again.
    install_config()
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.dummy.DummyBackend"}}  # a worker, later
    fake_slack.rate_limit("conversations.history", retry_after=30, times=None)

    response = admin_client.post(URL, form())

    assert response.status_code == 200
    [error] = response.context["form"].errors["person"]
    assert error.startswith("The leave history is being read from Slack; send this again in a minute")
    assert fake_slack.calls("conversations.history") == [] and ledger(fake_slack) == []
    from django.tasks import task_backends

    # The ledger's read, and (Slack's names not read yet either) the names' read: both by the worker.
    assert sorted(result.task.name for result in task_backends["default"].results) == [
        "refresh_slack_directory", "warm_console_ledger"]


def test_a_slow_slack_is_a_clear_error_within_seconds_not_a_gateway_timeout(admin_client, fake_slack):
    # Slack answers users.info after 20 s: a page that waited (and retried) would be killed at gunicorn's
    # 30 s, and HR would see a 502 with no word of what happened.
    install_config()
    fake_slack.delay("users.info", 20, times=None)

    started = time.monotonic()
    response = admin_client.post(URL, form())

    assert time.monotonic() - started < 5
    assert response.status_code == 200
    [error] = response.context["form"].errors["person"]
    assert error == "Slack could not be asked just now (no answer in time); try again in a minute."  # no "TimeoutError"
    assert ledger(fake_slack) == []


def test_a_rate_limit_is_not_slept_out_by_the_page(admin_client, fake_slack):
    install_config()
    fake_slack.rate_limit("conversations.members", retry_after=8, times=None)

    started = time.monotonic()
    response = admin_client.post(URL, form())

    assert time.monotonic() - started < 5
    [error] = response.context["form"].errors["person"]
    assert error == "Slack could not be asked just now (ratelimited); try again in a minute."
    assert ledger(fake_slack) == []


@pytest.mark.parametrize("start", ["0001-01-01", "0026-12-21"], ids=["year-1", "year-26"])
def test_leave_more_than_five_years_back_is_refused_on_its_first_day(admin_client, fake_slack, start):
    # A date input takes "26" typed for the year as 0026: that was recorded, in the year 26; and year 1 with
    # sick leave's 3 past days was a server error (an OverflowError counting back from the first day there is).
    install_config()
    response = admin_client.post(URL, form(leave_type="sick", start=start, end=start))
    assert response.status_code == 200
    [error] = response.context["form"].errors["start"]
    assert error == (f"It starts in {int(start[:4])}: leave can be recorded at most 5 years back "
                     f"(from the start of {time.gmtime().tm_year - 5})")
    assert ledger(fake_slack) == []


def test_sick_leave_reported_late_is_still_recorded(admin_client, fake_slack):
    install_config()
    tuesday = date(time.gmtime().tm_year - 1, 11, 2)
    last_year = (tuesday + timedelta(days=(1 - tuesday.weekday()) % 7)).isoformat()  # last November's first
    response = admin_client.post(URL, form(leave_type="sick", start=last_year, end=last_year), follow=True)
    assert response.redirect_chain == [(URL, 302)]
    [payload] = ledger(fake_slack)
    assert (payload["start"], payload["status"]) == (last_year, "approved")


def test_a_busy_submission_lock_is_not_blamed_on_slack(admin_client, fake_slack, monkeypatch):
    """Alice's own form being sent holds her submission lock past the page's wait: our lock, not Slack."""
    from approvals import cache_lock, request_services

    install_config()
    admin_client.post(URL, form(start="2031-04-07", end="2031-04-07"), follow=True)  # caches warm, ledger read
    monkeypatch.setattr(request_services, "REQUEST_PATH_LOCK_WAIT_SECONDS", 0)
    assert cache_lock.acquire(f"lock:submit:{ALICE}", timeout=60, wait=0)

    response = admin_client.post(URL, form())

    assert response.status_code == 200
    [error] = response.context["form"].errors["person"]
    assert error == ("Other requests are being sent just now; try again in a minute. Nothing was "
                     "recorded.")
    assert [p["start"] for p in ledger(fake_slack)] == ["2031-04-07"]


def test_the_form_names_leave_types_as_people_read_them_not_by_slack_emoji_code(admin_client, fake_slack):
    install_config()
    page = admin_client.get(URL).text
    assert '<option value="vacation">Vacation</option>' in page
    assert ":palm_tree:" not in page
    # Laid out as the console's other forms, each box beside its label: "First day: afternoon only".
    assert '<div class="checkbox-row"><input type="checkbox" name="start_pm" id="id_start_pm">' \
           '<label for="id_start_pm">First day: afternoon only</label></div>' in page


def test_a_console_account_named_like_a_slack_id_is_not_a_mention(client, fake_slack, django_user_model):
    install_config()
    hr = django_user_model.objects.create_superuser("U0BOB12", "", "pw-not-a-secret")  # no email: not found in Slack
    client.force_login(hr)
    client.post(URL, form(), follow=True)
    [payload] = ledger(fake_slack)
    assert payload["recorded_by"] == "U0BOB12 (HR console)"
    [told] = [dm for dm in dms_to(fake_slack, ALICE) if "recorded time off for you" in dm]
    assert "<@" not in told and told.startswith("U0BOB12 (HR console) recorded")


def test_hr_known_from_slacks_names_is_recorded_by_slack_id_though_the_email_look_up_fails(
        client, fake_slack, django_user_model):
    """The console read Slack's names earlier; a passing fault of users.lookupByEmail now must not turn who
    recorded it from Hannah's Slack id into her console name."""
    from approvals import slack_directory
    from approvals.slack_clients import background_client
    from test_support.flows import HR

    install_config()
    slack_directory.directory_refresh(background_client())
    hannah = django_user_model.objects.create_superuser("hannah", fake_slack.workspace.users[HR].email, "pw-1234567")
    client.force_login(hannah)
    fake_slack.rate_limit("users.lookupByEmail", retry_after=30, times=None)

    client.post(URL, form(), follow=True)

    [payload] = ledger(fake_slack)
    assert payload["recorded_by"] == HR
