"""The demo's pages, in process: what each person sees of the fake workspace."""

from datetime import date

import pytest

from demo import company


@pytest.fixture
def demo_on(settings):
    settings.DEMO = True
    settings.INSTALLED_APPS = [*settings.INSTALLED_APPS, "demo"]
    settings.ROOT_URLCONF = "demo.tests.urls_with_demo"


@pytest.fixture
def acme(fake_slack, demo_on):
    fake_slack.reset()
    company.seed_workspace(fake_slack.workspace, today=date.today())
    return fake_slack


@pytest.mark.django_db
def test_the_start_page_offers_the_people_and_their_roles(client, acme):
    page = client.get("/demo/").content.decode()
    assert "Alice Adams" in page and "Approver, Engineering (team lead)" in page and "Hannah Hill" in page
    assert 'href="/demo/U_BOB/"' in page


@pytest.mark.django_db
def test_an_approver_sees_the_approvals_channel_with_its_buttons(client, acme):
    response = client.get(f"/demo/{company.BOB.id}/c/{company.C_ENG_APPROVALS}/")
    page = response.content.decode()
    assert response.status_code == 200
    assert "eng-approvals" in page and "timeoff_request" in page
    assert 'action="/demo/U_BOB/click"' in page and ">Approve</button>" in page
    assert "@Alice Adams" in page or "@Dave Diaz" in page  # mentions by name
    assert "unsupported" not in page
    assert 'data-version="' in page and 'data-poll-url="/demo/poll"' in page


@pytest.mark.django_db
def test_a_private_channel_is_not_shown_to_someone_outside_it(client, acme):
    assert client.get(f"/demo/{company.ALICE.id}/c/{company.C_ENG_APPROVALS}/").status_code == 404
    assert client.get("/demo/U_NOBODY/").status_code == 404


@pytest.mark.django_db
def test_a_thread_and_an_empty_dm(client, acme):
    top = acme.workspace.messages(company.C_ENG_APPROVALS)
    parent = next(m for m in top if any(r.is_reply for r in acme.workspace.replies(company.C_ENG_APPROVALS, m.ts)))
    page = client.get(f"/demo/{company.BOB.id}/c/{company.C_ENG_APPROVALS}/?thread={parent.ts}").content.decode()
    assert '<aside class="thread"' in page
    page = client.get(f"/demo/{company.ALICE.id}/c/D_ALICE/").content.decode()
    assert "No messages yet." in page and "D_ALICE" not in acme.workspace.channels


@pytest.mark.django_db
def test_a_notices_tag_is_not_shown_as_ledger_metadata(client, acme):
    # Thread replies and announcements carry a timeoff_notice tag (a retry's way to find them): machinery.
    parent = acme.workspace.messages(company.C_ENG_APPROVALS)[-1]
    acme.workspace.post_message(company.C_ENG_APPROVALS, "Approved by someone", thread_ts=parent.ts,
                                metadata={"event_type": "timeoff_notice", "event_payload": {"key": "ab12"}})
    page = client.get(f"/demo/{company.BOB.id}/c/{company.C_ENG_APPROVALS}/?thread={parent.ts}").content.decode()
    assert "Approved by someone" in page and "timeoff_request" in page
    assert "timeoff_notice" not in page


@pytest.mark.django_db
def test_app_home_before_the_app_published_it(client, acme):
    page = client.get(f"/demo/{company.ALICE.id}/home/").content.decode()
    assert "has not published your Home tab yet" in page
    # A page reached by its address (not by the sidebar, which tells the app) offers to open the tab.
    assert f'action="/demo/{company.ALICE.id}/home/open"' in page and "Open the Home tab" in page


@pytest.mark.django_db
def test_a_modal_is_drawn_over_the_channel(client, acme):
    from slack_sdk import WebClient

    from slackbot.modals import reject_modal

    web = WebClient(token=acme.workspace.bot_token, base_url=acme.api_url)
    view = web.views_open(trigger_id="1.2.abc", view=reject_modal(private_metadata={"id": "r"},
                                                                 requester=company.ALICE.id, summary="x"))["view"]
    page = client.get(f"/demo/{company.BOB.id}/?modal={view['id']}").content.decode()
    assert '<form class="modal" method="post" action="/demo/U_BOB/modal/' in page
    assert "Reject request" in page and "required minlength=\"2\"" in page


@pytest.mark.django_db
def test_the_sidebar_offers_the_shortcuts_the_manifest_declares(client, acme):
    page = client.get(f"/demo/{company.ALICE.id}/").content.decode()
    assert 'action="/demo/U_ALICE/shortcut"' in page and "⚡ Request time off" in page
    assert 'name="callback_id" value="timeoff_request_shortcut"' in page
    refused = client.post(f"/demo/{company.ALICE.id}/shortcut", {"callback_id": "made_up"})
    assert refused.status_code == 404  # Slack offers only what the manifest declares


@pytest.mark.django_db
def test_it_says_so_when_the_demos_slack_is_not_running(client, demo_on, settings):
    settings.SLACK_API_URL = "http://127.0.0.1:9/api/"
    response = client.get("/demo/")
    assert response.status_code == 503
    assert "is not running" in response.content.decode()


@pytest.mark.django_db
def test_poll_answers_the_workspace_version(client, acme):
    first = client.get("/demo/poll").json()["version"]
    acme.workspace.post_message(company.C_GENERAL, "news", user=company.ALICE.id)
    assert client.get("/demo/poll").json()["version"] != first


@pytest.mark.django_db
def test_the_demos_pages_are_kept_by_no_browser_cache(client, acme):
    for path in ("/demo/", f"/demo/{company.BOB.id}/c/{company.C_ENG_APPROVALS}/"):
        response = client.get(path)
        assert response.status_code == 200
        assert "no-store" in response["Cache-Control"] and "private" in response["Cache-Control"], path


def test_an_app_error_reads_as_slack_says_it_never_as_the_error_pages_markup():
    from demo.slack_payloads import AppAnswer
    from demo.views import _failure_text

    page = AppAnswer(status=500, body=None, text="<!DOCTYPE html>\n<html lang=\"en\"><head><title>Server error</title>")
    assert _failure_text(page) == ("The app answered HTTP 500; its log (the terminal running `bin/run`) says why.")
    assert _failure_text(AppAnswer(status=0, body=None)) == (
        "The app did not answer (is it running?); see the terminal running `bin/run`.")
    assert _failure_text(AppAnswer(status=400, body=None, text="bad form")) == "The app answered HTTP 400: bad form"
