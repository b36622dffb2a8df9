"""The HR console in a real browser: Debian's Chromium driven by Playwright.

It proves the admin works under our strict Content-Security-Policy (no inline
script, no CDN) and that HR can sign in and add a leave type. Skipped, with the
reason, where no browser is installed; `bin/test` installs one when it can.
"""


import pytest

from test_support.browser import PASSWORD, SKIP_WITHOUT_CHROMIUM, collect_console_errors, submit_sign_in

playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    SKIP_WITHOUT_CHROMIUM,
]


@pytest.fixture
def browser_page(browser):
    page = browser.new_page()
    page.csp_errors = collect_console_errors(page)
    return page


def test_hr_signs_in_and_adds_a_leave_type(live_server, django_user_model, browser_page):
    django_user_model.objects.create_superuser("hr", "hr@example.com", PASSWORD)
    page = browser_page
    page.goto(f"{live_server.url}/admin/")  # the admin sends a visitor to its login page
    submit_sign_in(page, "hr", wait_for="#content-main")
    assert "Time off — HR console" in page.content()

    page.goto(f"{live_server.url}/admin/approvals/leavetype/add/")
    page.fill("#id_code", "parental")
    page.fill("#id_name", "Parental leave")
    page.click("input[name=_save]")
    page.wait_for_selector(".messagelist")
    assert "Parental leave" in page.content()

    from approvals.models import LeaveType

    assert LeaveType.objects.filter(code="parental").exists()
    blocked = [text for text in page.csp_errors if "Content Security Policy" in text]
    assert blocked == [], blocked
