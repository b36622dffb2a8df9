"""The configuration admin, driven through Django's test client as a logged-in superuser (`admin_client`)."""

import json
from pathlib import Path

import pytest
from django import forms
from django.core.cache import cache
from django.urls import reverse

from approvals.admin import SlackIdListField
from approvals.config_file import USER, parse_config
from approvals.config_store import config_apply, current_config, invalidate_config
from approvals.models import Blackout, CompanyHoliday, LeaveType, Team, WorkspacePolicy

EXAMPLE_PATH = Path(__file__).resolve().parents[2] / "examples" / "config.example.json"

pytestmark = pytest.mark.django_db

MODELS = [WorkspacePolicy, Team, LeaveType, CompanyHoliday, Blackout]


@pytest.fixture(autouse=True)
def example_config():
    invalidate_config()  # a shared cache (Redis in CI) outlives each test's transaction
    config_apply(config=parse_config(json.loads(EXAMPLE_PATH.read_text())))


@pytest.fixture
def local_cache(settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "admin"}}
    cache.clear()
    yield cache
    cache.clear()


def admin_url(model, view: str, *args) -> str:
    return reverse(f"admin:approvals_{model._meta.model_name}_{view}", args=args)


def form_data(response) -> dict:
    """What the browser would post back for the change form (and its inlines) as rendered."""
    data = {}
    form_list = [response.context["adminform"].form]
    for inline in response.context["inline_admin_formsets"]:
        management = inline.formset.management_form
        data.update({f"{inline.formset.prefix}-{name}": value for name, value in management.initial.items()})
        form_list.extend(inline.formset.forms)
    for form in form_list:
        for bound in form:
            value = bound.value()
            if isinstance(bound.field.widget, forms.CheckboxInput):
                if value:
                    data[bound.html_name] = "on"
            elif isinstance(bound.field, forms.MultipleChoiceField):
                data[bound.html_name] = [str(item) for item in value or []]
            else:
                shown = bound.field.widget.format_value(bound.field.prepare_value(value))
                data[bound.html_name] = "" if shown is None else shown
    return data


def changelist_data(response) -> dict:
    """The changelist's list_editable formset, as rendered."""
    formset = response.context["cl"].formset
    data = {f"form-{name}": value for name, value in formset.management_form.initial.items()}
    for form in formset.forms:
        for bound in form:
            data[bound.html_name] = bound.field.widget.format_value(bound.field.prepare_value(bound.value()))
    data["_save"] = "Save"
    return data


# --- Pages render -----------------------------------------------------------------------


@pytest.mark.parametrize("model", MODELS, ids=lambda model: model.__name__)
def test_changelist_and_change_form_render(admin_client, model):
    row = model.objects.first()

    changelist = admin_client.get(admin_url(model, "changelist"))
    change = admin_client.get(admin_url(model, "change", row.pk))

    assert changelist.status_code == 200
    assert change.status_code == 200
    assert str(row) in changelist.text or str(row.pk) in changelist.text


@pytest.mark.parametrize("model", [Team, LeaveType, CompanyHoliday, Blackout], ids=lambda model: model.__name__)
def test_add_form_renders(admin_client, model):
    assert admin_client.get(admin_url(model, "add")).status_code == 200


def test_the_team_form_shows_id_lists_as_text_and_has_holiday_and_blackout_inlines(admin_client):
    engineering = Team.objects.get(name="Engineering")

    response = admin_client.get(admin_url(Team, "change", engineering.pk))

    assert 'value="U05ENGLEAD, U05CTOANNA"' in response.text
    assert "Year-end release freeze" in response.text
    assert [inline.formset.prefix for inline in response.context["inline_admin_formsets"]] == [
        "company_holidays",
        "blackouts",
    ]


def test_teams_can_be_found_by_a_member_or_approver_id(admin_client):
    response = admin_client.get(admin_url(Team, "changelist"), {"q": "U05CTOANNA"})

    assert [team.name for team in response.context["cl"].result_list] == ["Engineering"]


# --- Editing ----------------------------------------------------------------------------


def test_the_id_list_field_reports_each_malformed_id(admin_client):
    sales = Team.objects.get(name="Sales")
    url = admin_url(Team, "change", sales.pk)
    data = form_data(admin_client.get(url))
    data["members_users"] = "U07BENSALES, bogus,u07cat  #sales"

    response = admin_client.post(url, data)

    assert response.status_code == 200  # the form again, with errors
    assert response.context["adminform"].form.errors["members_users"] == [
        "'bogus' must be a Slack user id like U0123ABCD.",
        "'u07cat' must be a Slack user id like U0123ABCD.",
        "'#sales' must be a Slack user id like U0123ABCD.",
    ]
    assert Team.objects.get(pk=sales.pk).members_users == ["U07BENSALES", "U07CATSALES", "U07DANSALES"]


def test_the_id_list_field_turns_text_into_a_list():
    field = SlackIdListField(kind=USER)

    assert field.clean("U01, U02\nU03  U04,") == ["U01", "U02", "U03", "U04"]
    assert field.clean("") == []
    assert field.prepare_value(["U01", "U02"]) == "U01, U02"


def test_a_saved_team_stores_lists_and_the_checked_weekdays(admin_client):
    sales = Team.objects.get(name="Sales")
    url = admin_url(Team, "change", sales.pk)
    data = form_data(admin_client.get(url))
    data.update(members_users="U07BENSALES U07EVESALES", workweek=["6", "0", "1"], approvers_users="U0BOSS")

    response = admin_client.post(url, data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    sales.refresh_from_db()
    assert sales.members_users == ["U07BENSALES", "U07EVESALES"]
    assert sales.approvers_users == ["U0BOSS"]
    assert sales.workweek == [0, 1, 6]


def test_a_team_without_approvers_is_refused(admin_client):
    sales = Team.objects.get(name="Sales")
    url = admin_url(Team, "change", sales.pk)
    data = form_data(admin_client.get(url))
    data.update(approvers_users="", approvers_channel="")

    response = admin_client.post(url, data)

    assert "A team needs at least one approver" in response.context["adminform"].form.errors["approvers_users"][0]


def test_a_second_default_team_is_refused(admin_client):
    sales = Team.objects.get(name="Sales")
    url = admin_url(Team, "change", sales.pk)
    data = form_data(admin_client.get(url))
    data["is_default"] = "on"

    response = admin_client.post(url, data)

    assert response.context["adminform"].form.errors["is_default"] == [
        "Another team is already the default team; untick it there first."
    ]


def test_changing_the_approvals_channel_keeps_the_old_one(admin_client):
    engineering = Team.objects.get(name="Engineering")
    url = admin_url(Team, "change", engineering.pk)
    data = form_data(admin_client.get(url))
    data["approvals_channel"] = "C0NEWENG"

    response = admin_client.post(url, data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    engineering.refresh_from_db()
    assert engineering.approvals_channel == "C0NEWENG"
    assert engineering.past_approvals_channels == ["C01OLDAPPROVE", "C06ENGAPPROVE"]
    assert current_config().team_named("Engineering").ledger_channels == (
        "C0NEWENG",
        "C01OLDAPPROVE",
        "C06ENGAPPROVE",
    )


def test_renaming_a_team_keeps_its_old_name_so_its_requests_stay_its_own(admin_client):
    engineering = Team.objects.get(name="Engineering")
    url = admin_url(Team, "change", engineering.pk)
    data = form_data(admin_client.get(url))
    assert data["past_names"] == "R&D"  # one a line
    data["name"] = "Software"

    response = admin_client.post(url, data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    engineering.refresh_from_db()
    assert engineering.past_names == ["R&D", "Engineering"]
    assert current_config().team_recorded_as("Engineering").name == "Software"


def test_a_team_is_not_renamed_in_the_admin_to_a_name_another_team_had(admin_client):
    # Engineering was called R&D: the requests recorded under R&D are its leave, and would move to Sales.
    sales = Team.objects.get(name="Sales")
    url = admin_url(Team, "change", sales.pk)
    data = form_data(admin_client.get(url))
    data["name"] = "R&D"

    response = admin_client.post(url, data)

    assert response.context["adminform"].form.errors["name"] == [
        "Engineering used to be called R&D, and the requests in Slack recorded under R&D are its leave: this "
        "team, renamed R&D, would take them. Give it a name no other team had."]
    assert Team.objects.get(pk=sales.pk).name == "Sales"


def test_earlier_names_typed_in_the_admin_are_checked_as_the_file_checks_them(admin_client):
    sales = Team.objects.get(name="Sales")
    url = admin_url(Team, "change", sales.pk)
    data = form_data(admin_client.get(url))
    data["past_names"] = "Revenue, Europe\nRevenue, Europe\n" + "x" * 101

    response = admin_client.post(url, data)

    assert response.context["adminform"].form.errors["past_names"] == [
        "Line 2: 'Revenue, Europe' is listed twice.", "Line 3: must be at most 100 characters."]


def test_saving_a_team_without_changing_its_channel_leaves_the_history_alone(admin_client):
    sales = Team.objects.get(name="Sales")
    url = admin_url(Team, "change", sales.pk)
    data = form_data(admin_client.get(url))
    data["max_out"] = "5"

    admin_client.post(url, data)

    sales.refresh_from_db()
    assert sales.max_out == 5
    assert sales.past_approvals_channels == []


def test_a_blackout_ending_before_it_starts_is_refused(admin_client):
    response = admin_client.post(
        admin_url(Blackout, "add"), {"start": "2026-12-14", "end": "2026-12-01", "team": "", "reason": "Freeze"}
    )

    assert response.context["adminform"].form.errors["end"] == ["Must not be before start (2026-12-14)."]


def test_a_leave_type_named_like_another_is_refused(admin_client):
    unpaid = LeaveType.objects.get(code="unpaid")
    url = admin_url(LeaveType, "change", unpaid.pk)
    data = form_data(admin_client.get(url))
    data["name"] = "vacation"

    response = admin_client.post(url, data)

    assert response.context["adminform"].form.errors["name"] == [
        "Another leave type (vacation) is already called Vacation: give each its own name, or people cannot "
        "tell them apart."
    ]
    assert LeaveType.objects.get(code="unpaid").name == "Unpaid leave"


def test_a_holiday_in_the_year_9999_is_refused_so_the_date_drill_down_never_reaches_it(admin_client):
    # Django's date hierarchy links each year of the list; the link of 9999 asked for dates before the
    # year 10000 and answered 500.
    response = admin_client.post(admin_url(CompanyHoliday, "add"), {"date": "9999-12-31", "name": "Typo", "team": ""})

    assert response.context["adminform"].form.errors["date"] == [
        "9999-12-31 is not between 2000 and 2100; check the year."
    ]
    assert not CompanyHoliday.objects.filter(name="Typo").exists()
    assert admin_client.get(admin_url(CompanyHoliday, "changelist")).status_code == 200


# --- The workspace policy is a singleton ---------------------------------------------------


def test_the_workspace_policy_can_be_edited_but_not_added_again_or_deleted(admin_client):
    policy = WorkspacePolicy.objects.get()
    url = admin_url(WorkspacePolicy, "change", policy.pk)
    data = form_data(admin_client.get(url))
    data["fallback_approvers"] = "U02HRMAYA7, U02HRNOAH"

    assert admin_client.post(url, data).status_code == 302
    assert WorkspacePolicy.objects.get().fallback_approvers == ["U02HRMAYA7", "U02HRNOAH"]
    assert admin_client.get(admin_url(WorkspacePolicy, "add")).status_code == 403
    assert admin_client.get(admin_url(WorkspacePolicy, "delete", policy.pk)).status_code == 403


def test_the_workspace_policy_can_be_added_when_there_is_none(admin_client):
    WorkspacePolicy.objects.all().delete()

    response = admin_client.post(
        admin_url(WorkspacePolicy, "add"),
        {"requesters_users": "", "requesters_channel": "C0EVERYONE", "fallback_approvers": "U02HRMAYA7"},
    )

    assert response.status_code == 302
    assert current_config().requesters_channel == "C0EVERYONE"


# --- Every admin change reaches the cached snapshot -------------------------------------------


def test_an_admin_edit_invalidates_the_snapshot(admin_client, local_cache):
    assert current_config().leave_type("vacation").annual_allowance_days == 25
    vacation = LeaveType.objects.get(code="vacation")
    url = admin_url(LeaveType, "change", vacation.pk)
    data = form_data(admin_client.get(url))
    data["annual_allowance_days"] = "27.5"

    assert admin_client.post(url, data).status_code == 302

    assert str(current_config().leave_type("vacation").annual_allowance_days) == "27.5"


def test_an_inline_holiday_added_on_a_team_invalidates_the_snapshot(admin_client, local_cache):
    assert len(current_config().holidays_for("Operations")) == 1
    operations = Team.objects.get(name="Operations")
    url = admin_url(Team, "change", operations.pk)
    data = form_data(admin_client.get(url))
    data.update(
        {
            "company_holidays-TOTAL_FORMS": "1",
            "company_holidays-0-date": "2026-10-03",
            "company_holidays-0-name": "Unity day off",
            "company_holidays-0-team": str(operations.pk),
        }
    )

    response = admin_client.post(url, data)

    assert response.status_code == 302, response.context["adminform"].form.errors
    assert [h.name for h in current_config().holidays_for("Operations")] == ["Unity day off", "Company day"]


def test_a_bulk_delete_action_invalidates_the_snapshot(admin_client, local_cache):
    assert len(current_config().leave_types) == 4
    codes = ["personal", "unpaid"]

    response = admin_client.post(
        admin_url(LeaveType, "changelist"),
        {
            "action": "delete_selected",
            "_selected_action": [str(pk) for pk in LeaveType.objects.filter(code__in=codes).values_list("pk", flat=True)],
            "post": "yes",
        },
    )

    assert response.status_code == 302
    assert [leave_type.code for leave_type in current_config().leave_types] == ["vacation", "sick"]


def test_reordering_teams_in_the_list_changes_the_matching_order(admin_client, local_cache):
    assert [team.name for team in current_config().teams] == ["Engineering", "Sales", "Operations"]
    url = admin_url(Team, "changelist")
    data = changelist_data(admin_client.get(url))
    row_of = {value: key.removesuffix("-id") for key, value in data.items() if key.endswith("-id")}

    data[row_of[str(Team.objects.get(name="Operations").pk)] + "-position"] = "0"
    data[row_of[str(Team.objects.get(name="Engineering").pk)] + "-position"] = "5"
    assert admin_client.post(url, data).status_code == 302

    assert [team.name for team in current_config().teams] == ["Operations", "Sales", "Engineering"]
