"""HR configures a team and a leave type in a real browser, knowing no Slack id (issue 10, items 2, 3 and 9).

Debian's Chromium, driven by Playwright, against a live server and the fake
Slack. Skipped, with the reason, where no browser is installed. Set
CONSOLE_SCREENSHOTS=<dir> to keep screenshots of the pages for README.
"""

import pytest

from approvals import slack_directory
from approvals.models import LeaveType, Team
from approvals.slack_clients import background_client
from fake_slack.personas import BOB, C_ENG, C_ENG_APPROVALS, C_NOBOT, DAVE
from test_support.browser import PASSWORD, SKIP_WITHOUT_CHROMIUM, chromium, collect_console_errors, screenshot, sign_in

playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    SKIP_WITHOUT_CHROMIUM,
]


@pytest.fixture
def browser(fake_slack):
    # The console reads names from the cached directory, which a task fills in the background: warm it now.
    slack_directory.directory_refresh(background_client())
    with chromium() as browser:
        yield browser


def new_page(browser):
    page = browser.new_page()
    page.console_errors = collect_console_errors(page)
    return page


def test_hr_creates_a_team_by_names_sees_warnings_and_edits_a_leave_type(live_server, django_user_model, browser):
    django_user_model.objects.create_superuser("hannah", "hannah@example.com", PASSWORD)
    LeaveType.objects.create(code="vacation", name="Vacation", emoji=":palm_tree:", annual_allowance_days=25)
    page = new_page(browser)
    sign_in(page, live_server.url, "hannah", wait_for="h1:text('Teams')")

    # Create a team: approvers by email, channels by name, regions from the country chosen.
    page.click("text=Add a team")
    page.wait_for_selector("h1:text('Add a team')")
    assert page.locator("input[name=workweek]:checked").count() == 5  # Monday to Friday
    page.wait_for_load_state("load")  # console.js is deferred: it listens once the page loaded
    page.fill("#id_name", "Platform")
    page.fill("#id_members_channel", "#engineering")
    page.fill("#id_approvers_users", "bob@example.com, dav")
    # Suggestions as you type, for the last name in the list (console.js, from the cached directory).
    page.wait_for_selector("#id_approvers_users_suggestions option[value='bob@example.com, dave@example.com']",
                           state="attached")
    page.fill("#id_approvers_users", "bob@example.com, dave@example.com")
    page.fill("#id_approvals_channel", "#eng-approvals")
    page.fill("#id_announce_channel", "#no-bot")
    assert not page.is_visible("button[name=_refresh]")  # with JavaScript, regions follow the country at once
    page.select_option("#id_holiday_country", "US")
    page.wait_for_selector("#id_holiday_subdivision option[value=CA]", state="attached")
    page.select_option("#id_holiday_subdivision", "CA")
    page.select_option("#id_timezone", "America/Los_Angeles")
    page.fill("#id_digest_time", "09:00")
    page.click(".form-actions button[type=submit]")

    page.wait_for_selector("text=Platform saved. Check the warnings below.")
    team = Team.objects.get(name="Platform")
    assert (team.approvers_users, team.members_channel) == ([BOB, DAVE], C_ENG)
    assert (team.approvals_channel, team.announce_channel) == (C_ENG_APPROVALS, C_NOBOT)
    assert (team.holiday_country, team.holiday_subdivision, team.workweek) == ("US", "CA", [0, 1, 2, 3, 4])
    # The warning sits beside its field, and the field names it for screen readers.
    warning = page.inner_text("#id_announce_channel_warning")
    assert "The bot is not in #no-bot" in warning
    assert page.get_attribute("#id_announce_channel", "aria-describedby") == (
        "id_announce_channel_helptext id_announce_channel_warning")
    assert page.input_value("#id_approvers_users") == "bob@example.com, dave@example.com"  # names, not ids
    assert page.input_value("#id_announce_channel") == "#no-bot"
    screenshot(page, "console-team-form.png")

    # A mistake is an error on its field, with a summary that links to it.
    page.fill("#id_approvers_users", "zed")
    page.click(".form-actions button[type=submit]")
    page.wait_for_selector(".error-summary")
    assert page.inner_text("#id_approvers_users_error") == "No one in this Slack workspace is called zed."
    assert page.get_attribute("#id_approvers_users", "aria-invalid") == "true"

    # Readable on a phone: nothing wider than the screen.
    page.set_viewport_size({"width": 375, "height": 700})
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    screenshot(page, "console-team-form-phone.png")
    page.set_viewport_size({"width": 1280, "height": 800})

    # The team list shows it, by name.
    page.click("nav >> text=Teams")
    assert "Platform" in page.inner_text(".team-list")
    assert "Bob Brown" in page.inner_text(".team-list")

    # Edit a leave type.
    page.click("nav >> text=Leave types")
    page.click("text=Edit Vacation")
    page.fill("#id_annual_allowance_days", "27.5")
    page.check("#id_allow_half_days")
    page.click(".form-actions button[type=submit]")
    page.wait_for_selector("text=Vacation saved.")
    vacation = LeaveType.objects.get(code="vacation")
    assert (str(vacation.annual_allowance_days), vacation.allow_half_days) == ("27.5", True)
    screenshot(page, "console-leave-types.png")
    page.set_viewport_size({"width": 375, "height": 700})  # the table becomes a list on a phone
    assert page.evaluate("document.documentElement.scrollWidth") <= 375

    blocked = [text for text in page.console_errors if "Content Security Policy" in text]
    assert blocked == [], blocked
    assert page.console_errors == [], page.console_errors


def test_a_staff_user_without_permission_is_refused(live_server, django_user_model, browser):
    django_user_model.objects.create_user("ivan", "ivan@example.com", PASSWORD, is_staff=True)
    page = new_page(browser)
    sign_in(page, live_server.url, "ivan", wait_for="h1:text('Teams')")
    assert page.locator("text=Add a team").count() == 0
    response = page.goto(f"{live_server.url}/console/teams/new")
    assert response.status == 403
    assert "does not have the permission this page needs" in page.inner_text("main")
    response = page.goto(f"{live_server.url}/console/leave-types/")
    assert response.status == 403
