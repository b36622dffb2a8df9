"""The demo workspace in a real browser, started as bin/run starts it.

A new user's first minutes: Alice asks for time off in the modal (its preview
follows her dates), Bob approves it from the approvals channel, or rejects it
with a reason; Alice reads the outcome in her DM; the team channel hears who
will be out; App Home shows what waits. Debian's Chromium through Playwright;
skipped, with the reason, where no browser is installed.
"""

import re
import time
from datetime import date, timedelta

import pytest

from test_support.browser import SKIP_WITHOUT_CHROMIUM, collect_console_errors

playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    SKIP_WITHOUT_CHROMIUM,
]

# Two years ahead: clear of the demo ledger (which ends three months ahead) and of every allowance.
FIRST_DAY = date(date.today().year + 2, 6, 7)
while FIRST_DAY.weekday() != 0:
    FIRST_DAY += timedelta(days=1)
LAST_DAY = FIRST_DAY + timedelta(days=2)  # Monday to Wednesday: 3 working days


@pytest.fixture
def page(browser):
    page = browser.new_page(viewport={"width": 1300, "height": 900})
    page.console_errors = collect_console_errors(page)
    page.set_default_timeout(20_000)
    return page


def be(page, demo, person: str) -> None:
    """Pick who you are on the start page, as a new user would: the site's root leads there."""
    page.goto(f"{demo.url}/")
    assert page.url == f"{demo.url}/demo/"
    page.click(f"a:has-text('{person}')")
    page.wait_for_selector("#composer")


def open_channel(page, name: str) -> None:
    page.click(f"nav.sidebar a:has-text('{name}')")
    page.wait_for_selector(".channel-title")


def wait_for(page, *texts: str, seconds: float = 30):
    """The newest message with all these texts. The task worker posts a moment after a click: wait,
    reloading as the page itself would."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = page.locator("article.message")
        for text in texts:
            found = found.filter(has_text=text)
        if found.count():
            return found.last
        page.wait_for_timeout(500)
        page.reload()
    raise AssertionError(f"no message with {texts!r} after {seconds} s:\n{page.inner_text('main')}")


def request_time_off(page, note: str) -> None:
    page.fill("#composer", "/timeoff")
    page.press("#composer", "Enter")
    modal = page.wait_for_selector("form.modal")
    assert "Request time off" in modal.inner_text()
    # Each change is a block_actions the app answers with views.update: the page comes back redrawn.
    # Its script (deferred) listens only once the page has loaded, a moment after the form shows.
    page.wait_for_load_state("load")
    with page.expect_navigation():
        page.select_option("form.modal select", "vacation")
    with page.expect_navigation():
        page.fill("form.modal input[type=date] >> nth=0", FIRST_DAY.isoformat())
    with page.expect_navigation():
        page.fill("form.modal input[type=date] >> nth=1", LAST_DAY.isoformat())
    # A locator, not wait_for_function: polling a string of JavaScript is an eval, which the page's CSP refuses.
    page.locator("form.modal", has_text="3 working days").wait_for()
    page.fill("form.modal textarea", note)
    page.click("#modal-submit")
    page.wait_for_selector("form.modal", state="detached")


def test_a_request_from_submission_to_approval(demo, page):
    be(page, demo, "Alice Adams")
    request_time_off(page, "Family wedding <script>alert(1)</script> & <@U_BOB>")

    open_channel(page, "Time Off")
    receipt = wait_for(page, "Your request for")
    assert "3 working days" in receipt.inner_text()
    assert "Bob Brown" in receipt.inner_text()  # the approvers, shown by name

    be(page, demo, "Bob Brown")
    open_channel(page, "eng-approvals")
    request = wait_for(page, "Family wedding")
    text = request.inner_text()
    assert "Alice Adams" in text and "3 working days" in text
    # What Alice typed is text, never markup or a mention.
    assert "<script>alert(1)</script> & <@U_BOB>" in text
    assert request.locator("script").count() == 0
    request.locator("button", has_text="Approve").click()
    decided = wait_for(page, "Family wedding", "Approved by")
    assert decided.locator("button", has_text="Approve").count() == 0  # the buttons are gone
    decided.locator("a.replies").click()
    page.wait_for_selector("aside.thread")
    assert "Approved by @Bob Brown" in page.inner_text("aside.thread")

    page.click("#open-home")
    page.wait_for_selector(".app-home")
    deadline = time.monotonic() + 30
    while "Waiting for your decision" not in page.inner_text(".app-home") and time.monotonic() < deadline:
        page.wait_for_timeout(500)
        page.reload()
    assert "Request time off" in page.inner_text(".app-home")

    be(page, demo, "Alice Adams")
    open_channel(page, "Time Off")
    assert re.search(r"Bob Brown\s+approved your", wait_for(page, "approved your").inner_text())
    open_channel(page, "engineering")
    assert "will be out" in wait_for(page, "Alice Adams will be out").inner_text()

    blocked = [text for text in page.console_errors if "Content Security Policy" in text]
    assert blocked == [], blocked


def test_the_shortcut_opens_the_same_form(demo, page):
    be(page, demo, "Dave Diaz")
    page.click("button.shortcut:has-text('Request time off')")
    modal = page.wait_for_selector("form.modal")
    assert "Request time off" in modal.inner_text() and "Leave type" in modal.inner_text()


def test_a_rejection_with_a_reason(demo, page):
    be(page, demo, "Alice Adams")
    request_time_off(page, "Ski trip")

    be(page, demo, "Bob Brown")
    open_channel(page, "eng-approvals")
    request = wait_for(page, "Ski trip")
    request.locator("button", has_text="Reject").click()
    modal = page.wait_for_selector("form.modal")
    assert "Reject request" in modal.inner_text()
    page.click("#modal-submit")  # no reason: the form is not sent
    assert page.locator("form.modal").count() == 1
    page.fill("form.modal textarea", "Team offsite that week")
    page.click("#modal-submit")
    page.wait_for_selector("form.modal", state="detached")
    rejected = wait_for(page, "Ski trip", "Rejected by")
    assert "Team offsite that week" in rejected.inner_text()

    be(page, demo, "Alice Adams")
    open_channel(page, "Time Off")
    dm = wait_for(page, "rejected your").inner_text()
    assert "Reason: Team offsite that week" in dm
