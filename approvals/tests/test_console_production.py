"""The console as production serves it: DEBUG off, static files collected, whitenoise serving them.

The release step runs `collectstatic` (Procfile, bin/run); whitenoise then
serves STATIC_ROOT. Here collectstatic writes into a temporary STATIC_ROOT and a
live server runs without Django's test static-files handler, so a stylesheet
loads only if collectstatic put it there: the bug of issue 10 (admin without CSS
when DEBUG is off) cannot come back unnoticed. Chromium then signs in and checks
that the styles apply under our Content-Security-Policy.

Set CONSOLE_SCREENSHOTS=<dir> to keep screenshots of the pages for README.
"""

import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import override_settings
from django.test.testcases import LiveServerThread

from approvals.models import Team
from fake_slack.personas import BOB, C_ENG, C_ENG_APPROVALS, C_ENG_LEADS
from test_support.browser import PASSWORD, SKIP_WITHOUT_CHROMIUM, collect_console_errors, screenshot, submit_sign_in

playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="session")
def collected_static(tmp_path_factory):
    """STATIC_ROOT after the release step's `collectstatic --no-input`."""
    root = tmp_path_factory.mktemp("staticfiles")
    with override_settings(STATIC_ROOT=root):
        call_command("collectstatic", interactive=False, verbosity=0)
    return root


def serve(static_root: Path):
    """A live server that serves static files only as production does: through whitenoise."""
    with override_settings(STATIC_ROOT=static_root, DEBUG=False):
        thread = LiveServerThread("127.0.0.1", static_handler=lambda application: application)
        thread.daemon = True
        thread.start()  # the handler, and whitenoise with it, is built now, under these settings
        thread.is_ready.wait()
    if thread.error:
        raise thread.error
    return thread


@pytest.fixture
def production_server(collected_static, fake_slack):
    thread = serve(collected_static)
    yield f"http://127.0.0.1:{thread.port}"
    thread.terminate()


def status_of(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_collectstatic_puts_the_console_and_admin_styles_in_static_root(collected_static):
    assert (collected_static / "approvals" / "console.css").is_file()
    assert (collected_static / "approvals" / "console.js").is_file()
    assert (collected_static / "admin" / "css" / "base.css").is_file()


def test_without_collectstatic_nothing_is_served(tmp_path, fake_slack):
    thread = serve(tmp_path)  # an empty STATIC_ROOT: the state issue 10 found
    try:
        assert status_of(f"http://127.0.0.1:{thread.port}/static/approvals/console.css") == 404
    finally:
        thread.terminate()


def test_the_collected_styles_are_served_with_debug_off(production_server, settings):
    assert settings.DEBUG is False
    assert status_of(f"{production_server}/static/approvals/console.css") == 200
    assert status_of(f"{production_server}/static/admin/css/base.css") == 200


@pytest.mark.browser
@SKIP_WITHOUT_CHROMIUM
def test_hr_signs_in_to_a_styled_console_with_debug_off(production_server, django_user_model, browser):
    from django.contrib.auth.models import Permission

    hannah = django_user_model.objects.create_user("hannah", "hannah@example.com", PASSWORD, is_staff=True,
                                                   first_name="Hannah", last_name="Hill")
    hannah.user_permissions.add(Permission.objects.get(codename="change_team"))  # she may reorder the teams
    Team.objects.create(name="Engineering", position=0, approvals_channel=C_ENG_APPROVALS, approvers_users=[BOB],
                        approvers_channel=C_ENG_LEADS, members_channel=C_ENG)
    Team.objects.create(name="Everyone else", position=1, approvals_channel=C_ENG_APPROVALS, is_default=True)

    page = browser.new_page()
    console_errors = collect_console_errors(page)
    stylesheets = {}
    page.on("response", lambda response: stylesheets.__setitem__(response.url, response.status)
            if response.request.resource_type == "stylesheet" else None)

    # The root sends HR to the console, which asks them to sign in: the console's own page, styled.
    page.goto(f"{production_server}/")
    page.wait_for_selector("#id_username")
    page.wait_for_load_state("load")  # stylesheets answered: their responses are recorded by now
    assert "/console/login/" in page.url and "next=/console/" in page.url
    assert stylesheets.get(f"{production_server}/static/approvals/console.css") == 200
    # The header is coloured by the console's stylesheet; a browser's default is transparent.
    header_background = page.eval_on_selector(".site-header", "el => getComputedStyle(el).backgroundColor")
    assert header_background not in ("rgba(0, 0, 0, 0)", "transparent")
    assert page.get_attribute("#id_username", "autocomplete") == "username"

    submit_sign_in(page, "hannah", wait_for="h1:text('Teams')")
    page.wait_for_load_state("load")  # (the heading can be there before the stylesheet's response is seen)
    assert page.url == f"{production_server}/console/"
    assert stylesheets.get(f"{production_server}/static/approvals/console.css") == 200
    styles = page.evaluate("""() => {
        const body = getComputedStyle(document.body);
        const header = getComputedStyle(document.querySelector('.site-header'));
        return {body: body.backgroundColor, margin: body.margin, header: header.display};
    }""")
    assert styles == {"body": "rgb(246, 246, 247)", "margin": "0px", "header": "flex"}
    assert page.locator(".team-name").all_inner_texts() == ["Engineering", "Everyone else default team"]
    assert "Bob Brown" in page.inner_text(".team-list")  # names, not Slack ids
    screenshot(page, "console-teams.png")

    # Reorder with the buttons (plain forms with their CSRF token).
    page.click("text=Move Everyone else up")
    page.wait_for_selector("text=Everyone else moved up.")
    assert page.locator(".team-name a").all_inner_texts() == ["Everyone else", "Engineering"]

    # Search works as a plain form; the suggestions script fills the datalist as HR types.
    page.click("nav >> text=People and channels")
    page.wait_for_load_state("load")  # the suggestions script is deferred: it listens once the page loaded
    page.fill("#id_q", "ali")
    page.wait_for_selector("#id_q_suggestions option", state="attached")  # no eval: the CSP forbids it
    assert page.eval_on_selector("#id_q_suggestions option", "o => o.value") == "alice@example.com"
    page.press("#id_q", "Enter")
    page.wait_for_selector(".results")
    assert "Alice Adams" in page.inner_text(".results")
    screenshot(page, "console-search.png")

    # In a list field (console_forms.PeopleField) it suggests for the last name and keeps the others.
    page.eval_on_selector("#id_q", "el => { el.dataset.suggestMultiple = 'true'; }")
    page.select_option("#id_kind", "people")
    page.fill("#id_q", "bob@example.com, dav")
    page.wait_for_selector("#id_q_suggestions option[value='bob@example.com, dave@example.com']",
                           state="attached")

    # Readable on a phone: nothing wider than the screen.
    page.set_viewport_size({"width": 375, "height": 700})
    page.goto(f"{production_server}/console/")
    assert page.evaluate("document.documentElement.scrollWidth") <= 375

    blocked = [text for text in console_errors if "Content Security Policy" in text]
    assert blocked == [], blocked
    assert console_errors == [], console_errors
