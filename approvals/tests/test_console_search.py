"""Searching people, channels and user groups by name in the console: the no-JavaScript form and the JSON suggestions."""

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_the_search_page_is_a_plain_get_form(hr_client):
    response = hr_client.get(reverse("console:search"))
    assert response.status_code == 200
    assert '<form class="search-form" method="get"' in response.text
    assert '<label for="id_q">' in response.text
    assert "Private channels appear here once the bot has been invited" in response.text


def test_it_finds_people_by_real_name_with_initials(hr_client):
    response = hr_client.get(reverse("console:search"), {"q": "brown"})
    assert "Bob Brown" in response.text
    assert ">BB</span>" in response.text
    assert "bob@example.com" in response.text
    assert "Alice Adams" not in response.text


def test_it_finds_channels_by_name_with_or_without_the_hash(hr_client):
    for query in ("#eng", "eng"):
        response = hr_client.get(reverse("console:search"), {"q": query, "kind": "channels"})
        assert "#engineering" in response.text
        assert "#eng-leads" in response.text
        assert "#old-team" not in response.text  # archived
    response = hr_client.get(reverse("console:search"), {"q": "no-bot", "kind": "channels"})
    assert "the bot is not in this channel" in response.text


def test_it_finds_user_groups_by_handle(hr_client):
    response = hr_client.get(reverse("console:search"), {"q": "@eng", "kind": "usergroups"})
    assert "@eng" in response.text
    assert "2 members" in response.text


def test_it_says_when_nothing_matches(hr_client):
    response = hr_client.get(reverse("console:search"), {"q": "zebra"})
    assert "Nothing matches “zebra”." in response.text


def test_it_escapes_what_was_typed(hr_client):
    response = hr_client.get(reverse("console:search"), {"q": "<script>alert(1)</script>"})
    assert "<script>alert(1)" not in response.text
    assert "&lt;script&gt;" in response.text


def test_an_exact_email_unknown_to_the_cache_is_looked_up(hr_client, fake_slack):
    hr_client.get(reverse("console:search"))  # fills the directory
    fake_slack.add_user("U_NEW", "nina", email="nina@example.com", real_name="Nina New")
    response = hr_client.get(reverse("console:search"), {"q": "NINA@example.com"})
    assert "Nina New" in response.text
    assert fake_slack.last_call("users.lookupByEmail").params["email"] == "NINA@example.com"


def test_a_failed_email_lookup_is_said_not_hidden(hr_client, fake_slack):
    hr_client.get(reverse("console:search"))
    fake_slack.fail("users.lookupByEmail", "ratelimited")
    response = hr_client.get(reverse("console:search"), {"q": "someone@example.com"})
    assert response.status_code == 200
    assert "could not look up that email address" in response.text


def test_a_cold_directory_says_it_is_loading(hr_client, settings):
    settings.TASKS = {"default": {"BACKEND": "django.tasks.backends.dummy.DummyBackend"}}  # no worker has run yet
    response = hr_client.get(reverse("console:search"), {"q": "alice"})
    assert response.status_code == 200
    assert "being read from Slack" in response.text
    from django.tasks import task_backends

    assert [result.task.name for result in task_backends["default"].results] == ["refresh_slack_directory"]
    hr_client.get(reverse("console:search"), {"q": "bob"})
    assert len(task_backends["default"].results) == 1  # one refresh asked for, however many pages ask


def test_a_permanent_slack_error_is_shown(hr_client, fake_slack):
    fake_slack.fail("users.list", "missing_scope", times=None)
    response = hr_client.get(reverse("console:search"), {"q": "alice"})
    assert "missing_scope" in response.text


def test_suggestions_are_json_from_the_cache(hr_client, fake_slack):
    response = hr_client.get(reverse("console:suggest"), {"q": "ali", "kind": "people"})
    assert response.status_code == 200
    suggestions = response.json()["suggestions"]
    assert suggestions[0]["value"] == "alice@example.com"
    assert suggestions[0]["id"] == "U_ALICE"
    assert "Alice Adams" in suggestions[0]["label"]
    fake_slack.clear_calls()
    hr_client.get(reverse("console:suggest"), {"q": "bo", "kind": "all"})
    assert fake_slack.calls() == []  # typing never waits on Slack once the directory is cached


def test_suggestions_for_channels(hr_client):
    suggestions = hr_client.get(reverse("console:suggest"), {"q": "#gen", "kind": "channels"}).json()["suggestions"]
    assert [s["value"] for s in suggestions] == ["#general"]
