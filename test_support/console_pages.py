"""The console's pages, for the tests: a team form filled in as HR would, or sent as it opened with
changes typed over it, and what a page shows (its text, what stands under a field); an HR admin signed
in, and their press of *Check Slack again* on the Setup page."""

import html
import re

from django.test import Client
from django.urls import reverse

from approvals.models import Team
from test_support.setup_page import setup_page


def signed_in_admin(django_user_model) -> Client:
    """An HR admin signed in to the console, in a browser of their own (apart from Slack's requests)."""
    admin = django_user_model.objects.create_user("hilda", "hilda@example.com", "a-long-test-password",
                                                  is_staff=True)
    browser = Client()
    browser.force_login(admin)
    return browser


def hr_with_the_standard_configuration(admin_client):
    """HR signed in to the console (Django's `admin_client`), with the standard configuration installed; a
    failing page answers 500 rather than raising in the test."""
    from approvals.config_store import invalidate_config
    from test_support.flows import install_config

    invalidate_config()
    install_config()
    admin_client.raise_request_exception = False
    return admin_client


def check_slack_again(console) -> str:
    """HR presses *Check Slack again* on the Setup page: Slack describes everyone named to decide."""
    return setup_page(console, check_again=True)


def team_post(**changes):
    """The team form as HR fills it in (people by email and name, channels by #name); `changes` replace
    fields, None leaves one out."""
    data = {"name": "Platform", "members_users": "alice@example.com", "members_channel": "#engineering",
            "members_usergroup": "@eng", "approvers_users": "bob@example.com, Dave Diaz",
            "approvers_channel": "#eng-leads", "approvals_channel": "#eng-approvals", "announce_channel": "#general",
            "holiday_country": "US", "holiday_subdivision": "CA", "workweek": ["0", "1", "2", "3", "4"],
            "timezone": "America/Los_Angeles", "max_out": "3", "digest_time": "09:00", "nudge_after_hours": "48"}
    data.update(changes)
    return {key: value for key, value in data.items() if value is not None}


def form_as_opened(form) -> dict:
    """What a console form sends when submitted as it opened (a Django form from the page's context)."""
    data = {}
    for field_name in form.fields:
        value = form[field_name].value()
        if isinstance(value, bool):
            if value:
                data[field_name] = "on"
        elif isinstance(value, (list, tuple)):
            data[field_name] = [str(v) for v in value]
        elif value is not None:
            data[field_name] = str(value)
    return data


def edit_team(hr, team_name: str, **changes):
    """The console's team form, sent as it opened with `changes` typed over it; the save redirects."""
    url = reverse("console:team_edit", args=[Team.objects.get(name=team_name).pk])
    data = form_as_opened(hr.get(url).context["form"])
    data.update(changes)
    response = hr.post(url, data)
    assert response.status_code == 302, page_text(response)[:3000]
    return response


def page_text(response) -> str:
    """What HR reads on a page: tags dropped, entities decoded, white space squeezed."""
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", response.content.decode())))


def errors_of(response, field: str) -> list[str]:
    """The errors shown under one field of a form."""
    match = re.search(rf'<ul class="errorlist" id="id_{field}_error">(.*?)</ul>', response.text, re.DOTALL)
    return re.findall(r"<li>(.*?)</li>", match[1]) if match else []


def warnings_of(response, field: str) -> list[str]:
    """The warnings shown beside one field (they do not stop a save)."""
    match = re.search(rf'<ul class="warnings" id="id_{field}_warning">(.*?)</ul>', response.text, re.DOTALL)
    return re.findall(r"<li>(.*?)</li>", match[1]) if match else []
