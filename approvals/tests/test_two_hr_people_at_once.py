"""Two HR people in the console at the same time, as in a real company (Django's test client).

Hannah Hill and Harry Hart are both HR superusers, each signed in in their own browser. Each opens a page,
reads the form as the browser would send it back, changes what they meant to change and saves. What HR
expects (README, "The HR console"): a form someone else saved after you opened it is refused with a note
and keeps what you typed, never silently undoing their change; a page a colleague deleted meanwhile says
so on a console page (never a server error) and nothing is half-saved; two people adding the same name get
the name's error, not a server error; a configuration file applied over a colleague's edit shows the new
preview; and History names who changed what.
"""

import json
import re
from html.parser import HTMLParser

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from approvals.config_store import current_config
from approvals.models import Blackout, CompanyHoliday, LeaveType, Team, WorkspacePolicy
from fake_slack.personas import ALICE, BOB, C_ENG, C_ENG_APPROVALS, C_GENERAL, DAVE, HANNAH
from test_support.console_pages import errors_of, team_post

pytestmark = pytest.mark.django_db
PASSWORD = "a-long-test-password"
STALE = "after you opened it, so nothing was saved"
GONE = "a colleague may have deleted it since you"


# --- Two browsers ----------------------------------------------------------------------------------


def signed_in(django_user_model, username: str, first: str, last: str) -> Client:
    """A browser of its own (its own session), signed in as an HR superuser. A server error comes back as
    the 500 page a person would see, not as an exception in the test."""
    user = django_user_model.objects.create_superuser(username, f"{username}@example.com", PASSWORD,
                                                      first_name=first, last_name=last)
    browser = Client(raise_request_exception=False)
    browser.force_login(user)
    return browser


@pytest.fixture
def hannah(django_user_model, directory):
    return signed_in(django_user_model, "hannah", "Hannah", "Hill")


@pytest.fixture
def harry(django_user_model, directory):
    return signed_in(django_user_model, "harry", "Harry", "Hart")


@pytest.fixture
def engineering():
    return Team.objects.create(name="Engineering", position=0, approvals_channel=C_ENG_APPROVALS,
                               approvers_users=[BOB], members_channel=C_ENG, members_users=[ALICE], max_out=3)


@pytest.fixture
def platform(engineering):
    return Team.objects.create(name="Platform", position=1, approvals_channel=C_GENERAL, approvers_users=[DAVE])


@pytest.fixture
def sales(platform):
    return Team.objects.create(name="Sales", position=2, approvals_channel=C_GENERAL, approvers_users=[BOB])


@pytest.fixture
def vacation():
    return LeaveType.objects.create(code="vacation", name="Vacation", emoji=":palm_tree:",
                                    annual_allowance_days=25, position=0)


class _FormReader(HTMLParser):
    """The fields a browser would send for each <form> of a page: text and hidden inputs, ticked boxes,
    the selected option of each select, textareas."""

    def __init__(self):
        super().__init__()
        self.forms: list[dict] = []
        self._form = None
        self._select = None
        self._textarea = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self._form = {"attrs": attrs, "fields": []}
            self.forms.append(self._form)
        elif self._form is None:
            return
        elif tag == "input":
            kind, name = attrs.get("type", "text"), attrs.get("name")
            if not name or kind in ("submit", "button", "image", "file", "reset"):
                return
            if kind in ("checkbox", "radio"):
                if "checked" in attrs:
                    self._form["fields"].append((name, attrs.get("value") or "on"))
                return
            self._form["fields"].append((name, attrs.get("value") or ""))
        elif tag == "select":
            self._select = {"name": attrs.get("name"), "first": None, "chosen": None}
        elif tag == "option" and self._select is not None:
            value = attrs.get("value") or ""
            if self._select["first"] is None:
                self._select["first"] = value
            if "selected" in attrs:
                self._select["chosen"] = value
        elif tag == "textarea":
            self._textarea = (attrs.get("name"), [])

    def handle_data(self, data):
        if self._textarea is not None:
            self._textarea[1].append(data)

    def handle_endtag(self, tag):
        if tag == "select" and self._select is not None and self._form is not None:
            chosen = self._select["chosen"] if self._select["chosen"] is not None else self._select["first"]
            self._form["fields"].append((self._select["name"], chosen or ""))
            self._select = None
        elif tag == "textarea" and self._textarea is not None and self._form is not None:
            self._form["fields"].append((self._textarea[0], "".join(self._textarea[1]).strip("\n")))
            self._textarea = None
        elif tag == "form":
            self._form = None


def form_as_opened(page, **changes) -> dict:
    """The console form on `page` as the browser would send it, with `changes` typed in (None empties a
    box, a list ticks those boxes)."""
    assert page.status_code == 200, page.status_code
    reader = _FormReader()
    reader.feed(page.content.decode())
    forms = [form for form in reader.forms if "config-form" in form["attrs"].get("class", "")] or [
        form for form in reader.forms if form["attrs"].get("method", "").lower() == "post"]
    data: dict = {}
    for name, value in forms[0]["fields"]:
        if name in data:
            data[name] = (data[name] if isinstance(data[name], list) else [data[name]]) + [value]
        elif name == "workweek":
            data[name] = [value]
        else:
            data[name] = value
    data.pop("csrfmiddlewaretoken", None)
    for name, value in changes.items():
        data[name] = "" if value is None else value
    return data


def followed_text(response) -> str:
    return response.content.decode()


def history_rows(browser):
    page = browser.get(reverse("console:history"))
    assert page.status_code == 200
    return [(row.who, row.kind, row.what, row.name, tuple((c.field, c.old, c.new) for c in row.changes))
            for row in page.context["rows"]]


# --- A team saved by both ------------------------------------------------------------------------


def test_a_team_form_opened_before_a_colleagues_save_is_refused_and_her_change_stays(hannah, harry, engineering):
    url = reverse("console:team_edit", args=[engineering.pk])
    hannahs_page = hannah.get(url)  # Hannah opens Engineering's form and goes for a coffee
    harrys_page = harry.get(url)
    # Harry adds Dave as an approver, announces in #general and allows five people out, and saves.
    saved = harry.post(url, form_as_opened(harrys_page, approvers_users="bob@example.com, dave@example.com",
                                           announce_channel="#general", max_out="5"))
    assert saved.status_code == 302
    # Hannah comes back and sets the reminders to 12 hours on the form she opened before.
    response = hannah.post(url, form_as_opened(hannahs_page, nudge_after_hours="12"))

    assert response.status_code == 200
    assert STALE in followed_text(response)
    assert 'value="12"' in followed_text(response)  # what she typed is still in the form
    engineering.refresh_from_db()
    # Harry's change is all there, and nothing of Hannah's stale form was half-applied.
    assert engineering.approvers_users == [BOB, DAVE]
    assert engineering.announce_channel == C_GENERAL
    assert engineering.max_out == 5
    assert engineering.nudge_after_hours is None
    assert current_config().team_named("Engineering").max_out == 5  # Slack sees Harry's save


def test_saving_the_refused_form_again_is_a_knowing_choice_and_saves_it(hannah, harry, engineering):
    url = reverse("console:team_edit", args=[engineering.pk])
    hannahs_page = hannah.get(url)
    assert harry.post(url, form_as_opened(harry.get(url), max_out="5")).status_code == 302
    refused = hannah.post(url, form_as_opened(hannahs_page, nudge_after_hours="12"))
    assert STALE in followed_text(refused)
    # The refused page is the form she sends again: this time it saves what it shows.
    again = hannah.post(url, form_as_opened(refused))
    assert again.status_code == 302
    engineering.refresh_from_db()
    assert engineering.nudge_after_hours == 12
    assert engineering.max_out == 3  # her form still showed 3: she chose to replace Harry's change


def test_a_form_opened_after_a_colleagues_save_saves_without_a_conflict(hannah, harry, engineering):
    url = reverse("console:team_edit", args=[engineering.pk])
    assert harry.post(url, form_as_opened(harry.get(url), max_out="5")).status_code == 302
    response = hannah.post(url, form_as_opened(hannah.get(url), nudge_after_hours="12"))
    assert response.status_code == 302
    engineering.refresh_from_db()
    assert (engineering.max_out, engineering.nudge_after_hours) == (5, 12)


def test_a_colleague_moving_the_team_in_the_order_does_not_make_the_open_form_stale(hannah, harry, sales):
    url = reverse("console:team_edit", args=[sales.pk])
    hannahs_page = hannah.get(url)
    moved = harry.post(reverse("console:team_reorder", args=[sales.pk]), {"direction": "up"})
    assert moved.status_code == 302
    # The order is not on the team's form: Hannah's save goes through, and keeps Harry's order.
    response = hannah.post(url, form_as_opened(hannahs_page, max_out="2"))
    assert response.status_code == 302
    assert list(Team.objects.order_by("position").values_list("name", flat=True)) == [
        "Engineering", "Sales", "Platform"]
    sales.refresh_from_db()
    assert sales.max_out == 2


def test_two_people_moving_the_same_team_up_from_the_same_list_do_not_move_it_twice(hannah, harry, sales):
    # Both look at Engineering, Platform, Sales and want Sales above Platform (the first team whose
    # members include a person is theirs, so the order decides who approves whose leave).
    hannahs_page = followed_text(hannah.get(reverse("console:home")))
    harrys_page = followed_text(harry.get(reverse("console:home")))
    assert "Move Sales up" in hannahs_page and "Move Sales up" in harrys_page
    url = reverse("console:team_reorder", args=[sales.pk])
    assert harry.post(url, {"direction": "up", "order": order_shown(harrys_page)}).status_code == 302
    response = hannah.post(url, {"direction": "up", "order": order_shown(hannahs_page)}, follow=True)
    assert response.status_code == 200
    # Hannah's click on a list that was no longer there must not silently put Sales above Engineering.
    assert list(Team.objects.order_by("position").values_list("name", flat=True)) == [
        "Engineering", "Sales", "Platform"]
    assert "changed the order of the teams since this page was loaded" in followed_text(response)


def order_shown(page: str) -> str:
    """The team order a console page's Move buttons send back (each button's form carries it)."""
    [order] = set(re.findall(r'name="order" value="([^"]*)"', page))
    return order


# --- A team deleted by one while the other edits it ----------------------------------------------


def test_saving_a_team_a_colleague_deleted_says_so_and_brings_nothing_back(hannah, harry, engineering, platform):
    url = reverse("console:team_edit", args=[engineering.pk])
    hannahs_page = hannah.get(url)
    deleted = harry.post(reverse("console:team_delete", args=[engineering.pk]), {"merge_into": ""})
    assert deleted.status_code == 302
    response = hannah.post(url, form_as_opened(hannahs_page, max_out="4"))
    assert response.status_code == 404
    assert GONE in followed_text(response)
    assert reverse("console:home") in followed_text(response)  # a way back
    assert list(Team.objects.values_list("name", flat=True)) == ["Platform"]  # not made again


def test_deleting_a_team_a_colleague_already_deleted_is_a_console_page(hannah, harry, engineering, platform):
    url = reverse("console:team_delete", args=[engineering.pk])
    assert hannah.get(url).status_code == 200 and harry.get(url).status_code == 200
    assert harry.post(url, {"merge_into": ""}).status_code == 302
    response = hannah.post(url, {"merge_into": ""})
    assert response.status_code == 404
    assert GONE in followed_text(response)
    assert list(Team.objects.values_list("name", flat=True)) == ["Platform"]


def test_deleting_a_team_into_one_a_colleague_just_deleted_deletes_nothing(hannah, harry, engineering, platform):
    # Hannah chooses "its people join Platform"; meanwhile Harry deletes Platform.
    assert hannah.get(reverse("console:team_delete", args=[engineering.pk])).status_code == 200
    assert harry.post(reverse("console:team_delete", args=[platform.pk]), {"merge_into": ""}).status_code == 302
    response = hannah.post(reverse("console:team_delete", args=[engineering.pk]),
                           {"merge_into": str(platform.pk)}, follow=True)
    assert response.status_code == 200
    assert "no longer exists; choose again" in followed_text(response)
    assert Team.objects.filter(pk=engineering.pk).exists()  # not deleted with its leave under no team


def test_moving_a_team_a_colleague_deleted_says_so(hannah, harry, engineering, platform):
    assert harry.post(reverse("console:team_delete", args=[platform.pk]), {"merge_into": ""}).status_code == 302
    response = hannah.post(reverse("console:team_reorder", args=[platform.pk]), {"direction": "up"}, follow=True)
    assert response.status_code == 200
    assert "That team no longer exists." in followed_text(response)
    assert list(Team.objects.values_list("name", flat=True)) == ["Engineering"]


# --- A rename while the other saves under the old name --------------------------------------------


def test_a_rename_is_not_undone_by_a_colleague_saving_the_team_under_its_old_name(hannah, harry, engineering):
    url = reverse("console:team_edit", args=[engineering.pk])
    harrys_page = harry.get(url)
    renamed = hannah.post(url, form_as_opened(hannah.get(url), name="Software"), follow=True)
    assert "Renamed from Engineering." in followed_text(renamed)
    # Harry, whose form still says Engineering, changes the limit and saves.
    response = harry.post(url, form_as_opened(harrys_page, max_out="6"))
    assert response.status_code == 200
    assert STALE in followed_text(response)
    engineering.refresh_from_db()
    assert (engineering.name, engineering.max_out) == ("Software", 3)
    assert engineering.past_names == ["Engineering"]
    assert current_config().team_named("Software") is not None


# --- Two people adding the same name --------------------------------------------------------------


def test_two_people_adding_a_team_of_the_same_name_one_after_the_other(hannah, harry, engineering):
    url = reverse("console:team_add")
    hannahs_page, harrys_page = hannah.get(url), harry.get(url)
    assert harry.post(url, form_as_opened(harrys_page, **team_post())).status_code == 302
    response = hannah.post(url, form_as_opened(hannahs_page, **team_post(max_out="9")))
    assert response.status_code == 200
    assert errors_of(response, "name"), followed_text(response)[:2000]
    assert Team.objects.filter(name="Platform").count() == 1
    assert Team.objects.get(name="Platform").max_out == 3  # Harry's


def test_two_people_adding_a_team_of_the_same_name_at_the_same_instant_get_the_names_error(
        hannah, engineering, monkeypatch):
    # Both saves are checked before either is written (PostgreSQL's read committed: neither check sees
    # the other's row). Harry's row is written between Hannah's check and her write.
    # (In this one-connection test Harry's row is rolled back with Hannah's refused save; in production it
    # is his own committed transaction.)
    original_check = Team.full_clean
    written = []

    def harry_writes_after_the_check(self, *args, **kwargs):
        original_check(self, *args, **kwargs)
        if self.pk is None and self.name == "Platform" and not written:
            written.append(True)
            Team.objects.bulk_create([Team(name="Platform", position=7, approvals_channel=C_GENERAL,
                                           approvers_users=[DAVE])])

    monkeypatch.setattr(Team, "full_clean", harry_writes_after_the_check)
    response = hannah.post(reverse("console:team_add"), team_post(max_out="9"))
    assert written
    assert response.status_code == 200, f"HTTP {response.status_code} instead of the form with the name's error"
    assert errors_of(response, "name")
    assert not Team.objects.filter(name="Platform", max_out=9).exists()  # Hannah's was not saved


def test_two_people_adding_a_leave_type_of_the_same_code_one_after_the_other(hannah, harry):
    url = reverse("console:leave_type_add")
    data = {"name": "Parental leave", "code": "parental", "requires_approval": "on", "allow_past_days": "0"}
    assert harry.post(url, data).status_code == 302
    response = hannah.post(url, {**data, "name": "Parent leave"})
    assert response.status_code == 200
    assert errors_of(response, "code")
    assert list(LeaveType.objects.values_list("name", flat=True)) == ["Parental leave"]


def test_two_people_adding_a_leave_type_of_the_same_code_at_the_same_instant_get_the_codes_error(
        hannah, monkeypatch):
    original_check = LeaveType.full_clean
    written = []

    def harry_writes_after_the_check(self, *args, **kwargs):
        original_check(self, *args, **kwargs)
        if self.pk is None and self.code == "parental" and not written:
            written.append(True)
            LeaveType.objects.bulk_create([LeaveType(code="parental", name="Parental leave", position=3)])

    monkeypatch.setattr(LeaveType, "full_clean", harry_writes_after_the_check)
    response = hannah.post(reverse("console:leave_type_add"), {
        "name": "Parent leave", "code": "parental", "requires_approval": "on", "allow_past_days": "0"})
    assert written
    assert response.status_code == 200, f"HTTP {response.status_code} instead of the form with the code's error"
    assert errors_of(response, "code")
    assert not LeaveType.objects.filter(name="Parent leave").exists()  # Hannah's was not saved


# --- Leave types ------------------------------------------------------------------------------------


def test_a_stale_leave_type_form_is_refused_and_the_colleagues_allowance_stays(hannah, harry, vacation):
    url = reverse("console:leave_type_edit", args=[vacation.pk])
    hannahs_page = hannah.get(url)
    assert harry.post(url, form_as_opened(harry.get(url), annual_allowance_days="30")).status_code == 302
    response = hannah.post(url, form_as_opened(hannahs_page, emoji=":beach_with_umbrella:"))
    assert response.status_code == 200
    assert "Someone else saved this leave type " + STALE in followed_text(response)
    assert 'value=":beach_with_umbrella:"' in followed_text(response)
    vacation.refresh_from_db()
    assert (vacation.annual_allowance_days, vacation.emoji) == (30, ":palm_tree:")


def test_saving_a_leave_type_a_colleague_deleted_says_so_and_brings_nothing_back(hannah, harry, vacation):
    url = reverse("console:leave_type_edit", args=[vacation.pk])
    hannahs_page = hannah.get(url)
    assert harry.post(reverse("console:leave_type_delete", args=[vacation.pk])).status_code == 302
    response = hannah.post(url, form_as_opened(hannahs_page, annual_allowance_days="28"))
    assert response.status_code == 404
    assert GONE in followed_text(response)
    assert not LeaveType.objects.exists()
    # Deleting it again from a confirmation page opened before is the same console page.
    again = hannah.post(reverse("console:leave_type_delete", args=[vacation.pk]))
    assert again.status_code == 404 and GONE in followed_text(again)


# --- Company holidays and blackouts -------------------------------------------------------------------


def test_a_stale_company_holiday_form_is_refused(hannah, harry, engineering):
    holiday = CompanyHoliday.objects.create(date="2031-12-24", name="Company day")
    url = reverse("console:holiday_edit", args=[holiday.pk])
    hannahs_page = hannah.get(url)
    assert harry.post(url, form_as_opened(harry.get(url), date="2031-12-23")).status_code == 302
    response = hannah.post(url, form_as_opened(hannahs_page, name="Christmas Eve"))
    assert response.status_code == 200
    assert "Someone else saved this company holiday " + STALE in followed_text(response)
    holiday.refresh_from_db()
    assert (str(holiday.date), holiday.name) == ("2031-12-23", "Company day")
    assert CompanyHoliday.objects.count() == 1


def test_a_stale_blackout_form_is_refused(hannah, harry, engineering):
    blackout = Blackout.objects.create(start="2031-12-01", end="2031-12-10", team=engineering,
                                       reason="Release freeze")
    url = reverse("console:blackout_edit", args=[blackout.pk])
    hannahs_page = hannah.get(url)
    assert harry.post(url, form_as_opened(harry.get(url), end="2031-12-20", team="")).status_code == 302
    response = hannah.post(url, form_as_opened(hannahs_page, reason="Year-end release freeze"))
    assert response.status_code == 200
    assert "Someone else saved this blackout " + STALE in followed_text(response)
    blackout.refresh_from_db()
    assert (str(blackout.end), blackout.team_id, blackout.reason) == ("2031-12-20", None, "Release freeze")


def test_saving_a_holiday_a_colleague_deleted_says_so_and_brings_nothing_back(hannah, harry, engineering):
    holiday = CompanyHoliday.objects.create(date="2031-12-24", name="Company day")
    url = reverse("console:holiday_edit", args=[holiday.pk])
    hannahs_page = hannah.get(url)
    assert harry.post(reverse("console:holiday_delete", args=[holiday.pk])).status_code == 302
    response = hannah.post(url, form_as_opened(hannahs_page, name="Christmas Eve"))
    assert response.status_code == 404
    assert GONE in followed_text(response)
    assert not CompanyHoliday.objects.exists()


def test_a_holidays_team_deleted_by_a_colleague_takes_the_holiday_and_the_open_form_says_so(
        hannah, harry, engineering, platform):
    holiday = CompanyHoliday.objects.create(date="2031-12-24", name="Release day", team=engineering)
    blackout = Blackout.objects.create(start="2031-12-01", end="2031-12-10", team=engineering, reason="Freeze")
    holiday_page = hannah.get(reverse("console:holiday_edit", args=[holiday.pk]))
    blackout_page = hannah.get(reverse("console:blackout_edit", args=[blackout.pk]))
    assert harry.post(reverse("console:team_delete", args=[engineering.pk]), {"merge_into": ""}).status_code == 302
    for url, page in ((reverse("console:holiday_edit", args=[holiday.pk]), holiday_page),
                      (reverse("console:blackout_edit", args=[blackout.pk]), blackout_page)):
        response = hannah.post(url, form_as_opened(page))
        assert response.status_code == 404 and GONE in followed_text(response)
    assert not CompanyHoliday.objects.exists() and not Blackout.objects.exists()


def test_adding_a_holiday_for_a_team_a_colleague_just_deleted_is_refused_on_its_field(
        hannah, harry, engineering, platform):
    add_page = hannah.get(reverse("console:holiday_add"))
    assert f'<option value="{engineering.pk}">Engineering</option>' in followed_text(add_page)
    assert harry.post(reverse("console:team_delete", args=[engineering.pk]), {"merge_into": ""}).status_code == 302
    response = hannah.post(reverse("console:holiday_add"), form_as_opened(
        add_page, date="2031-12-24", name="Release day", team=str(engineering.pk)))
    assert response.status_code == 200
    assert errors_of(response, "team")
    assert not CompanyHoliday.objects.exists()  # not saved for every team instead


# --- Who may request ----------------------------------------------------------------------------------


def test_a_stale_who_may_request_form_is_refused_between_two_people(hannah, harry):
    url = reverse("console:policy")
    hannahs_page = hannah.get(url)
    assert harry.post(url, form_as_opened(harry.get(url), fallback_approvers="Hannah Hill")).status_code == 302
    response = hannah.post(url, form_as_opened(hannahs_page, requesters_channel="#engineering"))
    assert response.status_code == 200
    assert STALE in followed_text(response)
    policy = WorkspacePolicy.objects.get()
    assert (policy.fallback_approvers, policy.requesters_channel) == ([HANNAH], "")


def test_a_team_deleted_by_a_colleague_does_not_make_the_who_may_request_form_stale(hannah, harry, engineering,
                                                                                     platform):
    url = reverse("console:policy")
    assert hannah.post(url, form_as_opened(hannah.get(url), fallback_approvers="Hannah Hill")).status_code == 302
    hannahs_page = hannah.get(url)
    # Harry deletes Platform: nobody touches Who may request (the app keeps Platform's approvals channel
    # for the ledger on its own).
    assert harry.post(reverse("console:team_delete", args=[platform.pk]), {"merge_into": ""}).status_code == 302
    response = hannah.post(url, form_as_opened(hannahs_page, requesters_channel="#engineering"))
    # Nobody else saved Who may request: "Someone else saved …" would send her looking for a change
    # that was never made.
    assert response.status_code == 302, "refused as stale: " + ("yes" if STALE in followed_text(response) else "no")
    policy = WorkspacePolicy.objects.get()
    assert policy.requesters_channel == C_ENG
    assert C_GENERAL in policy.past_approvals_channels  # and the ledger still reads Platform's channel


# --- The configuration file while the other edits in the forms ---------------------------------------


def upload(browser, data: dict, name="config.json"):
    return browser.post(reverse("console:config_upload"), {
        "file": SimpleUploadedFile(name, json.dumps(data).encode(), content_type="application/json")})


def downloaded(browser) -> dict:
    response = browser.get(reverse("console:config_download"))
    assert response.status_code == 200
    return json.loads(response.content)


def test_applying_a_file_after_a_colleagues_form_save_shows_the_new_preview_and_applies_nothing(
        hannah, harry, engineering, vacation):
    config = downloaded(harry)
    config["leave_types"][0]["annual_allowance_days"] = 27
    assert upload(harry, config).status_code == 302
    preview = harry.get(reverse("console:config_preview"))
    assert preview.status_code == 200
    # Meanwhile Hannah sets Engineering's limit in the form.
    url = reverse("console:team_edit", args=[engineering.pk])
    assert hannah.post(url, form_as_opened(hannah.get(url), max_out="5")).status_code == 302

    response = harry.post(reverse("console:config_apply"), {"fingerprint": preview.context["fingerprint"]})
    assert response.status_code == 409
    assert "changed since this preview" in followed_text(response)
    # The new preview shows that the file would undo Hannah's change.
    assert "<code>max_out</code></td><td>5</td><td>3</td>" in followed_text(response)
    engineering.refresh_from_db()
    vacation.refresh_from_db()
    assert engineering.max_out == 5 and vacation.annual_allowance_days == 25


def test_a_team_form_opened_before_a_file_changed_the_team_is_refused(hannah, harry, engineering):
    url = reverse("console:team_edit", args=[engineering.pk])
    hannahs_page = hannah.get(url)
    config = downloaded(harry)
    config["teams"][0]["approvers"]["users"] = [BOB, DAVE]
    assert upload(harry, config).status_code == 302
    fingerprint = harry.get(reverse("console:config_preview")).context["fingerprint"]
    applied = harry.post(reverse("console:config_apply"), {"fingerprint": fingerprint})
    assert applied.status_code == 302
    response = hannah.post(url, form_as_opened(hannahs_page, nudge_after_hours="12"))
    assert response.status_code == 200
    assert STALE in followed_text(response)
    engineering.refresh_from_db()
    assert (engineering.approvers_users, engineering.nudge_after_hours) == ([BOB, DAVE], None)


def test_a_file_that_leaves_the_team_as_it_was_does_not_make_its_open_form_stale(hannah, harry, engineering,
                                                                                 vacation):
    url = reverse("console:team_edit", args=[engineering.pk])
    hannahs_page = hannah.get(url)
    config = downloaded(harry)
    config["leave_types"].append({"code": "parental", "name": "Parental leave"})
    assert upload(harry, config).status_code == 302
    fingerprint = harry.get(reverse("console:config_preview")).context["fingerprint"]
    assert harry.post(reverse("console:config_apply"), {"fingerprint": fingerprint}).status_code == 302
    assert LeaveType.objects.filter(code="parental").exists()
    response = hannah.post(url, form_as_opened(hannahs_page, nudge_after_hours="12"))
    assert response.status_code == 302
    engineering.refresh_from_db()
    assert engineering.nudge_after_hours == 12


def test_a_holiday_form_opened_before_a_file_removed_the_holiday_says_it_is_gone(hannah, harry, engineering):
    holiday = CompanyHoliday.objects.create(date="2031-12-24", name="Company day")
    url = reverse("console:holiday_edit", args=[holiday.pk])
    hannahs_page = hannah.get(url)
    config = downloaded(harry)
    config["holidays"] = []
    assert upload(harry, config).status_code == 302
    fingerprint = harry.get(reverse("console:config_preview")).context["fingerprint"]
    applied = harry.post(reverse("console:config_apply"), {"fingerprint": fingerprint, "confirm_removals": "yes"})
    assert applied.status_code == 302
    response = hannah.post(url, form_as_opened(hannahs_page, name="Christmas Eve"))
    assert response.status_code == 404 and GONE in followed_text(response)
    assert not CompanyHoliday.objects.exists()


# --- History ------------------------------------------------------------------------------------------


def test_history_names_who_changed_what_and_a_refused_save_adds_nothing(hannah, harry, engineering):
    url = reverse("console:team_edit", args=[engineering.pk])
    hannahs_page = hannah.get(url)
    assert harry.post(url, form_as_opened(harry.get(url), max_out="5")).status_code == 302
    assert STALE in followed_text(hannah.post(url, form_as_opened(hannahs_page, nudge_after_hours="12")))
    assert hannah.post(url, form_as_opened(hannah.get(url), approvers_users="bob@example.com, Dave Diaz")
                       ).status_code == 302

    rows = [row for row in history_rows(harry) if row[2] == "Team"]
    assert [(who, kind) for who, kind, *_ in rows[:2]] == [("Hannah Hill", "changed"), ("Harry Hart", "changed")]
    assert [field for field, *_ in rows[0][4]] == ["approvers_users"]
    assert rows[1][4] == (("max_out", "3", "5"),)
    # Hannah's refused form wrote nothing: no change to the reminders anywhere in the history.
    assert not any(field == "nudge_after_hours" for row in rows for field, *_ in row[4])
    # Each sees the same history, whoever made the change.
    assert history_rows(hannah) == history_rows(harry)
