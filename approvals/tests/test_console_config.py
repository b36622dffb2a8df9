"""The console's configuration pages through Django's test client (issue 10, items 2 and 3).

Hannah (HR) is a superuser; Ivan is staff with no permissions; Vera is staff who may only view.
People and channels are typed by name and stored as ids; pages show names.
"""

import datetime
import re
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from approvals.config_store import current_config
from approvals.models import Blackout, CompanyHoliday, LeaveType, Team, WorkspacePolicy
from fake_slack.personas import (
    ALICE,
    BOB,
    C_ENG,
    C_ENG_APPROVALS,
    C_ENG_LEADS,
    C_GENERAL,
    C_NOBOT,
    DAVE,
    HANNAH,
)
from test_support.console_pages import errors_of, team_post, warnings_of

pytestmark = pytest.mark.django_db
PASSWORD = "a-long-test-password"


@pytest.fixture
def hr_client(client, django_user_model, directory):
    hannah = django_user_model.objects.create_superuser("hannah", "hannah@example.com", PASSWORD)
    client.force_login(hannah)
    return client


@pytest.fixture
def engineering():
    return Team.objects.create(name="Engineering", position=0, approvals_channel=C_ENG_APPROVALS,
                               approvers_users=[BOB], members_channel=C_ENG, members_users=[ALICE])


# --- Teams ---------------------------------------------------------------------------------------


def test_a_new_team_starts_with_monday_to_friday_utc_and_lists_to_choose_from(hr_client):
    response = hr_client.get(reverse("console:team_add"))
    assert response.status_code == 200
    for day in range(5):
        assert re.search(rf'<input type="checkbox" name="workweek" value="{day}"[^>]* checked', response.text)
    for day in (5, 6):
        assert not re.search(rf'<input type="checkbox" name="workweek" value="{day}"[^>]* checked', response.text)
    assert '<option value="UTC" selected>UTC</option>' in response.text
    assert '<option value="Europe/Paris">Europe/Paris</option>' in response.text
    assert '<option value="US">United States (US)</option>' in response.text
    assert "Choose a country first" in response.text
    # Labelled, and the checkboxes in a fieldset with a legend.
    assert '<label for="id_approvals_channel">Approvals channel</label>' in response.text
    assert "<legend>Working days</legend>" in response.text


def test_hr_creates_a_team_by_names_and_the_database_stores_ids(hr_client, engineering):
    Team.objects.filter(pk=engineering.pk).update(approvals_channel=C_GENERAL)  # each team has its own
    response = hr_client.post(reverse("console:team_add"), team_post())
    team = Team.objects.get(name="Platform")
    assert response.status_code == 302
    assert response["Location"] == reverse("console:team_edit", args=[team.pk])
    assert team.members_users == [ALICE]
    assert (team.members_channel, team.members_usergroup) == (C_ENG, "S_ENG")
    assert team.approvers_users == [BOB, DAVE]
    assert (team.approvers_channel, team.approvals_channel, team.announce_channel) == (
        C_ENG_LEADS, C_ENG_APPROVALS, C_GENERAL)
    assert (team.holiday_country, team.holiday_subdivision, team.timezone) == ("US", "CA", "America/Los_Angeles")
    assert team.workweek == [0, 1, 2, 3, 4]
    assert (team.max_out, team.digest_time, team.nudge_after_hours) == (3, datetime.time(9, 0), 48)
    assert team.position == engineering.position + 1  # matched last
    assert current_config().team_named("Platform").approvers.users == (BOB, DAVE)  # Slack sees it at once

    page = hr_client.get(response["Location"])
    assert "Platform saved." in page.text
    assert 'value="alice@example.com"' in page.text and 'value="#eng-approvals"' in page.text
    assert 'value="@eng"' in page.text
    assert '<option value="CA" selected>California (CA)</option>' in page.text
    assert C_ENG_APPROVALS not in page.text  # names, not ids


def test_errors_are_tied_to_their_fields_and_nothing_is_saved(hr_client):
    response = hr_client.post(reverse("console:team_add"), team_post(
        name=" ", approvers_users="zed", approvers_channel="", approvals_channel="#nowhere", workweek=None,
        max_out="0", holiday_subdivision="ZZ", digest_time="25:00"))
    assert response.status_code == 200
    assert not Team.objects.filter(name="Platform").exists()
    assert errors_of(response, "name") == ["This field is required."]
    assert errors_of(response, "approvers_users") == ["No one in this Slack workspace is called zed."]
    assert errors_of(response, "approvals_channel")[0].startswith("No channel #nowhere that the app can see.")
    assert errors_of(response, "workweek") == ["Tick at least one working day."]
    assert errors_of(response, "digest_time") == ["Enter a valid time."]
    # The control says it is invalid and names its error (and its help) for screen readers.
    assert re.search(r'<input[^>]*aria-describedby="id_approvers_users_helptext id_approvers_users_error"'
                     r'[^>]*aria-invalid="true"|<input[^>]*aria-invalid="true"[^>]*'
                     r'aria-describedby="id_approvers_users_helptext id_approvers_users_error"', response.text)
    assert 'role="alert"' in response.text and 'href="#id_approvers_users"' in response.text
    assert 'value="zed"' in response.text  # what HR typed is kept


def test_the_models_checks_speak_for_the_one_field_description(hr_client, engineering):
    response = hr_client.post(reverse("console:team_add"), team_post(max_out="0"))
    assert errors_of(response, "max_out") == ["Must be a whole number from 1 to 10000."]
    response = hr_client.post(reverse("console:team_add"), team_post(holiday_subdivision="ZZ"))
    assert errors_of(response, "holiday_subdivision")[0].startswith("Unknown subdivision &#x27;ZZ&#x27; for US")
    response = hr_client.post(reverse("console:team_add"), team_post(approvers_users="", approvers_channel=""))
    assert errors_of(response, "approvers_users") == [
        "A team needs at least one approver: list users or set a channel."]
    response = hr_client.post(reverse("console:team_add"), team_post(name="Engineering"))
    assert errors_of(response, "name") == ["Team with this Name already exists."]


def test_only_one_default_team(hr_client, engineering):
    Team.objects.filter(pk=engineering.pk).update(is_default=True)
    response = hr_client.post(reverse("console:team_add"), team_post(is_default="on"))
    assert errors_of(response, "is_default") == ["Another team is already the default team; untick it there first."]


def test_a_subdivision_needs_a_country_and_without_javascript_the_form_lists_the_regions(hr_client):
    response = hr_client.post(reverse("console:team_add"), team_post(holiday_country="", holiday_subdivision="CA"))
    assert errors_of(response, "holiday_subdivision") == ["Set a country as well, or leave the subdivision empty."]
    response = hr_client.post(reverse("console:team_add"), team_post(holiday_country="DE", holiday_subdivision="",
                                                                      _refresh="1"))
    assert response.status_code == 200
    assert not Team.objects.exists()  # nothing checked, nothing saved
    assert '<option value="BY">Bayern (BY)</option>' in response.text
    assert "errorlist" not in response.text
    assert 'value="bob@example.com, Dave Diaz"' in response.text  # the rest of the form is kept


def test_subdivisions_as_json_for_the_script(hr_client):
    data = hr_client.get(reverse("console:holiday_subdivisions"), {"country": "GB"}).json()
    assert {"value": "SCT", "label": "Scotland (SCT)"} in data["subdivisions"]
    assert hr_client.get(reverse("console:holiday_subdivisions"), {"country": "XX"}).json() == {"subdivisions": []}


def test_every_subdivision_the_form_offers_can_be_saved(hr_client):
    # BR's "São Paulo Capital" is 17 characters: the column held 16, and choosing it was refused.
    response = hr_client.post(reverse("console:team_add"), team_post(holiday_country="BR",
                                                                      holiday_subdivision="São Paulo Capital"))
    assert response.status_code == 302, errors_of(response, "holiday_subdivision")
    assert Team.objects.get(name="Platform").holiday_subdivision == "São Paulo Capital"


def test_overlong_values_posted_by_hand_are_field_errors(hr_client):
    response = hr_client.post(reverse("console:team_add"), team_post(
        holiday_country="BR", holiday_subdivision="S" * 1000, timezone="/".join(["Europe"] * 5000)))
    assert response.status_code == 200
    assert "at most 64 characters" in errors_of(response, "holiday_subdivision")[0]
    assert "at most 64 characters" in errors_of(response, "timezone")[0]  # zoneinfo raised RecursionError
    assert not Team.objects.exists()


def test_warnings_beside_the_fields_do_not_stop_a_save(hr_client):
    response = hr_client.post(reverse("console:team_add"), team_post(
        approvals_channel="#no-bot", announce_channel="#no-bot", approvers_channel="#general"), follow=True)
    assert Team.objects.filter(name="Platform", approvals_channel=C_NOBOT).exists()
    assert "Platform saved. Check the warnings below." in response.text
    assert warnings_of(response, "approvals_channel") == [
        ("The bot is not in #no-bot: requests cannot be posted there until someone invites it "
        "(type /invite @Time Off in that channel).")]
    assert warnings_of(response, "announce_channel")[0].startswith("The bot is not in #no-bot: nothing can be")
    assert warnings_of(response, "approvers_channel") == [
        ("#general is public: anyone who joins it can approve requests. Use a private channel, or list the "
        "approvers by name.")]
    assert re.search(r'<select name="approvals_channel"|<input[^>]*name="approvals_channel"[^>]*'
                     r'aria-describedby="id_approvals_channel_helptext id_approvals_channel_warning"', response.text)


def test_a_public_approvals_channel_is_warned_about_once_a_leave_type_is_private(hr_client):
    response = hr_client.post(reverse("console:team_add"), team_post(approvals_channel="#general"), follow=True)
    assert warnings_of(response, "approvals_channel") == []  # no private type: nothing to hide there
    LeaveType.objects.create(code="medical", name="Medical appointment", private=True)
    team = Team.objects.get(name="Platform")
    response = hr_client.get(reverse("console:team_edit", args=[team.pk]))
    assert warnings_of(response, "approvals_channel") == [
        ("#general is public: anyone in the workspace can read and search the private leave types and the notes "
         "posted there. Use a private channel.")]


def test_it_warns_of_approvers_outside_a_private_approvals_channel(hr_client):
    # #eng-approvals is private, with Bob, Dave and Hannah in it; Alice is not.
    response = hr_client.post(reverse("console:team_add"), team_post(approvers_users="alice@example.com, @bob"),
                              follow=True)
    assert warnings_of(response, "approvers_users") == [
        ("Alice Adams is not in #eng-approvals, which is private: they would not see the requests. "
        "Invite them to the channel.")]
    response = hr_client.get(reverse("console:team_edit", args=[Team.objects.get(name="Platform").pk]))
    assert warnings_of(response, "approvers_users")  # on every visit, not only after saving
    assert warnings_of(response, "approvals_channel") == []


def test_it_warns_of_people_in_the_approvers_channel_who_cannot_see_the_private_approvals_channel(hr_client):
    # #eng-approvals has Bob, Dave and Hannah; the approvals channel #eng-leads only Bob and Dave.
    response = hr_client.post(reverse("console:team_add"), team_post(
        approvers_users="", approvers_channel="#eng-approvals", approvals_channel="#eng-leads"), follow=True)
    assert warnings_of(response, "approvers_channel") == [
        ("Hannah Hill is in #eng-approvals but not in #eng-leads, which is private: they would not see "
        "the requests. Invite them to it.")]


def test_no_warning_when_all_is_well(hr_client, engineering):
    response = hr_client.get(reverse("console:team_edit", args=[engineering.pk]))
    assert response.status_code == 200
    assert 'class="warnings"' not in response.text


def test_changing_the_approvals_channel_keeps_the_old_one_for_the_ledger(hr_client, engineering):
    response = hr_client.post(reverse("console:team_edit", args=[engineering.pk]), team_post(
        name="Engineering", approvals_channel="#general"))
    assert response.status_code == 302
    engineering.refresh_from_db()
    assert engineering.approvals_channel == C_GENERAL
    assert engineering.past_approvals_channels == [C_ENG_APPROVALS]
    assert current_config().team_named("Engineering").ledger_channels == (C_GENERAL, C_ENG_APPROVALS)
    page = hr_client.get(reverse("console:team_edit", args=[engineering.pk]))
    assert "Earlier approvals channels, still read for balances and history: #eng-approvals." in page.text


def test_editing_shows_the_stored_ids_by_name(hr_client, engineering):
    response = hr_client.get(reverse("console:team_edit", args=[engineering.pk]))
    assert 'value="bob@example.com"' in response.text
    assert 'value="#engineering"' in response.text
    assert "U_BOB" not in response.text


def test_deleting_a_team_asks_first_and_says_what_goes_with_it(hr_client, engineering):
    CompanyHoliday.objects.create(date=datetime.date(2031, 12, 24), name="Eve", team=engineering)
    url = reverse("console:team_delete", args=[engineering.pk])
    response = hr_client.get(url)
    assert "Delete the team Engineering?" in response.text
    assert "1 company holiday(s) and 0 blackout(s) are deleted with it" in response.text
    assert Team.objects.filter(pk=engineering.pk).exists()
    response = hr_client.post(url, follow=True)
    assert "Engineering deleted." in response.text
    assert not Team.objects.exists() and not CompanyHoliday.objects.exists()
    assert current_config().teams == ()
    assert hr_client.post(url).status_code == 404


def test_missing_rows_are_404(hr_client):
    for name in ("console:team_edit", "console:team_delete", "console:leave_type_edit", "console:holiday_delete",
                 "console:blackout_edit"):
        assert hr_client.get(reverse(name, args=[999_999])).status_code == 404


def test_the_services_take_model_fields_by_keyword_and_validate_them(engineering):
    from django.core.exceptions import ValidationError

    from approvals import console_services

    with pytest.raises(TypeError):
        console_services.team_update(team_id=engineering.pk, position=9)  # the order is team_move's
    with pytest.raises(TypeError):
        console_services.team_update(engineering.pk, name="X")  # keyword-only
    with pytest.raises(ValidationError) as refused:
        console_services.team_update(team_id=engineering.pk, timezone="Mars/Olympus", workweek=[])
    assert set(refused.value.error_dict) == {"timezone", "workweek"}
    with pytest.raises(console_services.TeamNotFound):
        console_services.team_delete(team_id=999_999)
    team = console_services.team_update(team_id=engineering.pk, approvals_channel=C_GENERAL)
    team = console_services.team_update(team_id=engineering.pk, approvals_channel=C_ENG_APPROVALS)
    assert team.past_approvals_channels == [C_GENERAL]  # moving back takes it out of the past


# --- Leave types, holidays, blackouts, policy ----------------------------------------------------


def test_leave_types_list_create_edit_delete(hr_client):
    LeaveType.objects.create(code="vacation", name="Vacation", emoji=":palm_tree:", annual_allowance_days=25)
    response = hr_client.get(reverse("console:leave_types"))
    assert "\U0001f334</span> Vacation" in response.text and "25" in response.text

    response = hr_client.post(reverse("console:leave_type_add"), {
        "name": "Sick leave", "code": "sick", "emoji": ":face_with_thermometer:", "allow_past_days": "3",
        "annual_allowance_days": "10.5", "allow_half_days": "on"})
    assert response.status_code == 302 and response["Location"] == reverse("console:leave_types")
    sick = LeaveType.objects.get(code="sick")
    assert (sick.annual_allowance_days, sick.allow_past_days, sick.allow_half_days) == (Decimal("10.5"), 3, True)
    assert sick.requires_approval is False  # an unticked box
    assert sick.position == 1
    assert current_config().leave_type("sick").name == "Sick leave"

    url = reverse("console:leave_type_edit", args=[sick.pk])
    response = hr_client.post(url, {"name": "Sick", "code": "sick", "emoji": "nope", "allow_past_days": "3",
                                    "annual_allowance_days": "10.3"})
    assert errors_of(response, "emoji") == ["Must be a Slack emoji code like :palm_tree: (or empty)."]
    assert errors_of(response, "annual_allowance_days")[0].startswith("Must be a number of days")
    response = hr_client.post(url, {"name": "Sick", "code": "sick", "emoji": "", "allow_past_days": "3"})
    assert response.status_code == 302
    assert current_config().leave_type("sick").name == "Sick"

    response = hr_client.post(reverse("console:leave_type_add"), {"name": "Again", "code": "sick",
                                                                   "allow_past_days": "0"})
    assert errors_of(response, "code") == ["Leave type with this Code already exists."]
    response = hr_client.post(reverse("console:leave_type_add"), {"name": "Bad", "code": "Bad Code",
                                                                   "allow_past_days": "0"})
    assert errors_of(response, "code")

    assert "stay in Slack" in hr_client.get(reverse("console:leave_type_delete", args=[sick.pk])).text
    response = hr_client.post(reverse("console:leave_type_delete", args=[sick.pk]), follow=True)
    assert "Sick deleted." in response.text
    assert current_config().leave_type("sick") is None


def test_a_leave_type_past_what_the_request_forms_menu_can_offer_is_refused_with_the_limit(hr_client):
    from approvals.config_fields import LEAVE_TYPES_MAX

    LeaveType.objects.bulk_create(LeaveType(code=f"type{n}", name=f"Type {n}", position=n)
                                  for n in range(LEAVE_TYPES_MAX))
    response = hr_client.post(reverse("console:leave_type_add"), {"name": "One more", "code": "one_more",
                                                                   "allow_past_days": "0"})
    assert response.status_code == 200
    assert f"There are {LEAVE_TYPES_MAX} leave types already" in response.text
    assert not LeaveType.objects.filter(code="one_more").exists()


def test_the_leave_types_list_shows_slack_emoji_codes_as_emoji(hr_client):
    LeaveType.objects.create(code="vacation", name="Vacation", emoji=":palm_tree:")
    LeaveType.objects.create(code="offsite", name="Offsite", emoji=":our-logo:")  # the workspace's own emoji
    page = hr_client.get(reverse("console:leave_types")).content.decode()
    assert '<span title=":palm_tree:">\U0001f334</span> Vacation' in page
    assert '<span title=":our-logo:">:our-logo:</span> Offsite' in page


def test_holidays_and_blackouts(hr_client, engineering):
    response = hr_client.post(reverse("console:holiday_add"), {"date": "2031-12-24", "name": "Company day",
                                                               "team": ""})
    assert response.status_code == 302
    holiday = CompanyHoliday.objects.get()
    assert holiday.team is None
    response = hr_client.post(reverse("console:holiday_edit", args=[holiday.pk]),
                              {"date": "2031-12-24", "name": "", "team": str(engineering.pk)})
    assert errors_of(response, "name") == ["This field is required."]
    hr_client.post(reverse("console:holiday_edit", args=[holiday.pk]),
                   {"date": "2031-12-24", "name": "Eve", "team": str(engineering.pk)})
    assert current_config().holidays_for("Engineering")[0].name == "Eve"

    response = hr_client.post(reverse("console:blackout_add"), {"start": "2031-12-20", "end": "2031-12-10",
                                                                "team": "", "reason": "Freeze"})
    assert errors_of(response, "end") == ["Must not be before start (2031-12-20)."]
    response = hr_client.post(reverse("console:blackout_add"), {"start": "2031-12-10", "end": "2031-12-20",
                                                                "team": str(engineering.pk), "reason": "Freeze"})
    assert response.status_code == 302
    blackout = Blackout.objects.get()
    page = hr_client.get(reverse("console:holidays"))
    assert "Eve" in page.text and "Freeze" in page.text and "Engineering" in page.text
    assert current_config().blackouts_for("Engineering")[0].reason == "Freeze"

    hr_client.post(reverse("console:blackout_delete", args=[blackout.pk]))
    hr_client.post(reverse("console:holiday_delete", args=[holiday.pk]))
    assert not Blackout.objects.exists() and not CompanyHoliday.objects.exists()
    assert current_config().holidays == () and current_config().blackouts == ()


def test_a_second_company_day_or_blackout_for_the_same_days_and_teams_is_refused(hr_client, engineering):
    day = {"date": "2031-12-24", "name": "Company day", "team": ""}
    assert hr_client.post(reverse("console:holiday_add"), day).status_code == 302
    response = hr_client.post(reverse("console:holiday_add"), {**day, "name": "Christmas Eve"})
    assert errors_of(response, "date") == ["2031-12-24 is already a company day for every team: Company day."]
    # The same date for one team only is another scope, and editing the first keeps its own date.
    assert hr_client.post(reverse("console:holiday_add"), {**day, "team": str(engineering.pk)}).status_code == 302
    first = CompanyHoliday.objects.get(team=None)
    assert hr_client.post(reverse("console:holiday_edit", args=[first.pk]), {**day, "name": "Eve"}).status_code == 302
    assert CompanyHoliday.objects.count() == 2

    freeze = {"start": "2031-12-10", "end": "2031-12-20", "team": str(engineering.pk), "reason": "Freeze"}
    assert hr_client.post(reverse("console:blackout_add"), freeze).status_code == 302
    response = hr_client.post(reverse("console:blackout_add"), {**freeze, "reason": "Again"})
    assert errors_of(response, "start") == [
        "There is already a blackout from 2031-12-10 to 2031-12-20 for Engineering."]
    assert Blackout.objects.count() == 1


def test_requesters_and_fallback_approvers_by_name(hr_client):
    response = hr_client.get(reverse("console:policy"))
    assert "everyone in the workspace" in response.text
    assert warnings_of(response, "fallback_approvers")  # nobody decides when a team has no one else
    response = hr_client.post(reverse("console:policy"), {"requesters_users": "alice@example.com",
                                                          "requesters_channel": "#engineering",
                                                          "fallback_approvers": "Hannah Hill"})
    assert response.status_code == 302
    policy = WorkspacePolicy.objects.get()
    assert (policy.requesters_users, policy.requesters_channel, policy.fallback_approvers) == (
        [ALICE], C_ENG, [HANNAH])
    assert current_config().fallback_approvers == (HANNAH,)
    page = hr_client.get(reverse("console:policy"))
    assert "Alice Adams, everyone in #engineering" in page.text
    assert 'value="hannah@example.com"' in page.text
    response = hr_client.post(reverse("console:policy"), {"requesters_channel": "#secret",
                                                          "fallback_approvers": "nobody@example.com"})
    assert errors_of(response, "requesters_channel")[0].startswith("No channel #secret")
    assert errors_of(response, "fallback_approvers") == [
        "No one in this Slack workspace has the email address nobody@example.com."]


# --- Who may do what -----------------------------------------------------------------------------


@pytest.fixture
def ivan_client(client, django_user_model, directory):
    ivan = django_user_model.objects.create_user("ivan", "ivan@example.com", PASSWORD, is_staff=True)
    client.force_login(ivan)
    return client


def test_staff_without_permissions_get_403_everywhere_and_change_nothing(ivan_client, engineering):
    leave_type = LeaveType.objects.create(code="vacation", name="Vacation")
    holiday = CompanyHoliday.objects.create(date=datetime.date(2031, 12, 24), name="Eve")
    blackout = Blackout.objects.create(start=datetime.date(2031, 12, 1), end=datetime.date(2031, 12, 2))
    pages = [reverse("console:team_add"), reverse("console:team_edit", args=[engineering.pk]),
             reverse("console:team_delete", args=[engineering.pk]), reverse("console:leave_types"),
             reverse("console:leave_type_add"), reverse("console:leave_type_edit", args=[leave_type.pk]),
             reverse("console:leave_type_delete", args=[leave_type.pk]), reverse("console:holidays"),
             reverse("console:holiday_add"), reverse("console:holiday_edit", args=[holiday.pk]),
             reverse("console:holiday_delete", args=[holiday.pk]), reverse("console:blackout_add"),
             reverse("console:blackout_edit", args=[blackout.pk]),
             reverse("console:blackout_delete", args=[blackout.pk]), reverse("console:policy")]
    for url in pages:
        assert ivan_client.get(url).status_code == 403, url
        if url not in (reverse("console:leave_types"), reverse("console:holidays")):  # lists are GET only
            assert ivan_client.post(url, team_post()).status_code == 403, url
    assert "does not have the permission this page needs" in ivan_client.get(pages[0]).text
    assert "approvals.add_team" in ivan_client.get(pages[0]).text
    assert Team.objects.count() == 1 and LeaveType.objects.count() == 1
    assert CompanyHoliday.objects.count() == 1 and Blackout.objects.count() == 1
    assert not WorkspacePolicy.objects.exists()
    home = ivan_client.get(reverse("console:home"))
    assert home.status_code == 200 and "Add a team" not in home.text


def test_each_page_needs_its_own_permission(ivan_client, django_user_model, engineering):
    ivan = django_user_model.objects.get(username="ivan")
    ivan.user_permissions.add(Permission.objects.get(codename="view_leavetype"),
                              Permission.objects.get(codename="change_team"))
    LeaveType.objects.create(code="vacation", name="Vacation")
    response = ivan_client.get(reverse("console:leave_types"))
    assert response.status_code == 200
    assert "Add a leave type" not in response.text and "Edit" not in response.text
    assert ivan_client.get(reverse("console:leave_type_add")).status_code == 403
    assert ivan_client.get(reverse("console:team_edit", args=[engineering.pk])).status_code == 200
    assert ivan_client.get(reverse("console:team_delete", args=[engineering.pk])).status_code == 403
    assert ivan_client.get(reverse("console:team_add")).status_code == 403


def test_signed_out_visitors_are_sent_to_sign_in(client):
    response = client.get(reverse("console:leave_types"))
    assert response.status_code == 302 and response["Location"].startswith("/console/login/")


def test_forms_need_the_csrf_token(django_user_model, directory):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(django_user_model.objects.create_superuser("hr", "hr@example.com", PASSWORD))
    assert strict.post(reverse("console:team_add"), team_post()).status_code == 403
    assert not Team.objects.exists()


def test_pages_have_nothing_inline_for_the_csp(hr_client, engineering):
    for url in (reverse("console:team_add"), reverse("console:team_edit", args=[engineering.pk]),
                reverse("console:leave_types"), reverse("console:holidays"), reverse("console:policy"),
                reverse("console:leave_type_add")):
        response = hr_client.get(url)
        assert response.status_code == 200, url
        assert "style=" not in response.text and "<style" not in response.text
        assert re.findall(r"<script(?![^>]*\ssrc=)[^>]*>", response.text) == []


def test_a_team_name_that_differs_only_by_case_is_refused(hr_client, engineering):
    # "Engineering" and "engineering" would read as one team and be two.
    response = hr_client.post(reverse("console:team_add"), team_post(name="engineering"))
    assert response.status_code == 200
    assert "Another team has this name, but for upper and lower case." in response.text
    assert list(Team.objects.values_list("name", flat=True)) == ["Engineering"]


# --- Names people tell apart, dates in reason ----------------------------------------------------


def test_a_leave_type_named_like_another_is_refused_whatever_the_case(hr_client):
    # Two types called Vacation would be two identical labels in /timeoff's list, balances and exports.
    vacation = LeaveType.objects.create(code="vacation", name="Vacation", position=0)
    sick = LeaveType.objects.create(code="sick", name="Sick leave", position=1)
    for name in ("Vacation", "vacation"):
        response = hr_client.post(reverse("console:leave_type_add"), {"name": name, "code": "vac2",
                                                                       "allow_past_days": "0"})
        assert response.status_code == 200
        assert errors_of(response, "name") == [
            "Another leave type (vacation) is already called Vacation: give each its own name, or people "
            "cannot tell them apart."]
    assert not LeaveType.objects.filter(code="vac2").exists()
    response = hr_client.post(reverse("console:leave_type_edit", args=[sick.pk]),
                              {"name": "VACATION", "code": "sick", "allow_past_days": "3"})
    assert errors_of(response, "name")[0].startswith("Another leave type (vacation) is already called Vacation")
    # A type keeps its own name, in any case.
    response = hr_client.post(reverse("console:leave_type_edit", args=[vacation.pk]),
                              {"name": "VACATION", "code": "vacation", "allow_past_days": "0"})
    assert response.status_code == 302
    assert LeaveType.objects.get(code="vacation").name == "VACATION"


def test_holiday_and_blackout_dates_out_of_all_reason_are_refused_on_their_fields(hr_client, engineering):
    # A holiday on 9999-12-31 broke the admin's date drill-down (year 10000); 1900 or 2999 is a typo.
    response = hr_client.post(reverse("console:holiday_add"), {"date": "9999-12-31", "name": "Typo", "team": ""})
    assert errors_of(response, "date") == ["9999-12-31 is not between 2000 and 2100; check the year."]
    response = hr_client.post(reverse("console:blackout_add"), {"start": "1900-12-14", "end": "2999-12-23",
                                                                "team": "", "reason": "Freeze"})
    assert errors_of(response, "start") == ["1900-12-14 is not between 2000 and 2100; check the year."]
    assert errors_of(response, "end") == ["2999-12-23 is not between 2000 and 2100; check the year."]
    assert not CompanyHoliday.objects.exists() and not Blackout.objects.exists()
    # The browser's date picker offers those years only.
    page = hr_client.get(reverse("console:holiday_add")).text
    assert re.search(r'<input type="date" name="date"[^>]*min="2000-01-01"[^>]*max="2100-12-31"', page) or \
        re.search(r'<input type="date" name="date"[^>]*max="2100-12-31"[^>]*min="2000-01-01"', page)
    # Leap days are days.
    response = hr_client.post(reverse("console:holiday_add"), {"date": "2028-02-29", "name": "Leap", "team": ""})
    assert response.status_code == 302
    assert current_config().holidays[0].date == datetime.date(2028, 2, 29)
