"""Console form fields that take people, channels and user groups by name and store ids (issue 10, item 1)."""

import pytest
from django import forms

from approvals.console_forms import ChannelField, PeopleField, UserGroupField

pytestmark = pytest.mark.django_db


class TeamPeopleForm(forms.Form):
    approvers = PeopleField(label="Approvers")
    members_channel = ChannelField(label="Members channel", required=False)
    members_usergroup = UserGroupField(label="Members user group", required=False)


def test_names_emails_and_handles_clean_to_ids(directory):
    form = TeamPeopleForm({"approvers": "bob@example.com, @dave; Hannah Hill, Bob Brown",
                           "members_channel": "#engineering", "members_usergroup": "@eng"})
    assert form.is_valid(), form.errors
    assert form.cleaned_data == {"approvers": ["U_BOB", "U_DAVE", "U_HR"], "members_channel": "C_ENG",
                                 "members_usergroup": "S_ENG"}


def test_each_unknown_name_is_an_error_on_its_field(directory):
    form = TeamPeopleForm({"approvers": "bob@example.com, zed, nobody@example.com",
                           "members_channel": "#secret", "members_usergroup": "@design"})
    assert not form.is_valid()
    assert form.errors["approvers"] == [
        "No one in this Slack workspace is called zed.",
        "No one in this Slack workspace has the email address nobody@example.com.",
    ]
    assert form.errors["members_channel"][0].startswith("No channel #secret that the app can see.")
    assert form.errors["members_usergroup"] == ["No user group @design in this Slack workspace."]


def test_a_slack_failure_is_not_taken_for_nobody(directory, fake_slack):
    fake_slack.fail("users.lookupByEmail", "ratelimited")
    form = TeamPeopleForm({"approvers": "newcomer@example.com"})
    assert not form.is_valid()
    assert form.errors["approvers"] == ["Slack could not look up newcomer@example.com just now (ratelimited); try again."]


def test_approvers_are_required(directory):
    form = TeamPeopleForm({"approvers": " , "})
    assert form.errors["approvers"] == ["Choose at least one person."]


def test_stored_ids_are_shown_by_name_and_round_trip(directory):
    form = TeamPeopleForm(initial={"approvers": ["U_BOB", "U_UNKNOWN"], "members_channel": "C_ENG_LEADS",
                                   "members_usergroup": "S_ENG"})
    html = form.as_div()
    assert 'value="bob@example.com, U_UNKNOWN"' in html
    assert 'value="#eng-leads"' in html
    assert 'value="@eng"' in html
    again = TeamPeopleForm({"approvers": "bob@example.com, U_UNKNOWN", "members_channel": "#eng-leads",
                            "members_usergroup": "@eng"})
    assert again.is_valid(), again.errors
    assert again.cleaned_data["approvers"] == ["U_BOB", "U_UNKNOWN"]


def test_the_widget_is_a_labelled_text_box_with_suggestions(directory):
    html = TeamPeopleForm().as_div()
    assert '<label for="id_approvers">Approvers:</label>' in html
    assert 'data-suggest-url="/console/search/suggest"' in html
    assert 'data-suggest-kind="people"' in html and 'data-suggest-multiple="true"' in html
    assert 'list="id_approvers_suggestions"' in html
    assert '<datalist id="id_approvers_suggestions"></datalist>' in html
    assert 'data-suggest-kind="channels"' in html


def test_names_wait_for_the_directory(fake_slack):
    form = TeamPeopleForm({"approvers": "Bob Brown", "members_channel": "#general"})
    assert not form.is_valid()
    assert "still loading" in form.errors["approvers"][0]
    assert "still loading" in form.errors["members_channel"][0]
