"""The console's History page: who changed which configuration, and when (django-simple-history).

Hannah (HR) is a superuser who edits in the admin and the console; a command has no user.
"""

import io
import json
from pathlib import Path

import pytest
from django.core.management import call_command
from django.urls import reverse

from approvals.config_file import parse_config
from approvals.config_store import config_apply
from approvals.models import LeaveType, Team
from fake_slack.personas import BOB, C_ENG_APPROVALS

pytestmark = pytest.mark.django_db

EXAMPLE_PATH = Path(__file__).resolve().parents[2] / "examples" / "config.example.json"


@pytest.fixture
def hr_client(client, django_user_model, fake_slack):
    hannah = django_user_model.objects.create_superuser("hannah", "hannah@example.com", "a-long-test-password",
                                                        first_name="Hannah", last_name="Hill")
    client.force_login(hannah)
    return client


def test_a_change_in_the_admin_is_shown_with_who_made_it(hr_client):
    response = hr_client.post(reverse("admin:approvals_leavetype_add"), {
        "code": "parental", "name": "Parental leave", "emoji": "", "requires_approval": "on",
        "allow_past_days": "0", "position": "0"})
    assert response.status_code == 302, response.text[:3000]
    leave_type = LeaveType.objects.get(code="parental")
    hr_client.post(reverse("admin:approvals_leavetype_change", args=[leave_type.pk]), {
        "code": "parental", "name": "Parental leave", "emoji": "", "requires_approval": "on",
        "allow_past_days": "0", "position": "0", "annual_allowance_days": "20"})

    page = hr_client.get(reverse("console:history"))
    assert page.status_code == 200
    rows = page.context["rows"]
    assert [(row.who, row.kind, row.what, row.name) for row in rows] == [
        ("Hannah Hill", "changed", "Leave type", "Parental leave"),
        ("Hannah Hill", "created", "Leave type", "Parental leave"),
    ]
    assert [(c.field, c.old, c.new) for c in rows[0].changes] == [("annual_allowance_days", "—", "20.0")]
    assert "<strong>Hannah Hill</strong> changed leave type <strong>Parental leave</strong>" in page.text


def test_an_import_from_the_command_line_has_no_user(hr_client):
    call_command("import_config", str(EXAMPLE_PATH), stdout=io.StringIO())
    rows = hr_client.get(reverse("console:history")).context["rows"]
    assert rows and {row.who for row in rows} == {"a command (import_config) or the system"}
    assert ("created", "Team", "Engineering") in {(row.kind, row.what, row.name) for row in rows}


def test_saves_that_change_nothing_are_left_out(hr_client):
    config = parse_config(json.loads(EXAMPLE_PATH.read_text()))
    config_apply(config=config)
    before = len(hr_client.get(reverse("console:history")).context["rows"])
    config_apply(config=config)  # saves every team and leave type again, unchanged
    assert len(hr_client.get(reverse("console:history")).context["rows"]) == before


def test_people_and_channels_are_shown_by_name(hr_client):
    team = Team.objects.create(name="Engineering", approvals_channel="C0OLD", approvers_users=["U0SOMEONE"])
    hr_client.get(reverse("console:search"), {"q": "bob"})  # reads the directory (immediate tasks)
    team.approvers_users = [BOB]
    team.approvals_channel = C_ENG_APPROVALS
    team.save()
    changes = {c.field: (c.old, c.new) for c in hr_client.get(reverse("console:history")).context["rows"][0].changes}
    assert changes["approvers_users"] == ("U0SOMEONE", "Bob Brown")
    assert changes["approvals_channel"] == ("C0OLD", "#eng-approvals")


def test_a_deleted_team_is_listed(hr_client):
    team = Team.objects.create(name="Short-lived", approvals_channel="C0X", approvers_users=["U0X"])
    team.delete()
    rows = hr_client.get(reverse("console:history")).context["rows"]
    assert (rows[0].kind, rows[0].name) == ("deleted", "Short-lived")


def test_staff_only(client, django_user_model):
    ivan = django_user_model.objects.create_user("ivan", "ivan@example.com", "a-long-test-password")
    client.force_login(ivan)
    assert client.get(reverse("console:history")).status_code == 403
