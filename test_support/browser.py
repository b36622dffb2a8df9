"""What every browser test shares: Debian's Chromium driven by Playwright, headless.

`playwright install` cannot download browsers here, so the tests launch the
system Chromium (`apt-get install chromium`; `bin/test` installs it in CI) and
skip, saying why, where there is none.

Also the steps the console's browser tests all take: open a browser
(`chromium()`; the root conftest's `browser` fixture), collect the page's
console errors (a Content-Security-Policy refusal is one), sign in through the
admin's login page with `PASSWORD`, and keep a screenshot for README when
CONSOLE_SCREENSHOTS names a folder.

Playwright is imported only inside `chromium()`: the test modules skip, with
`pytest.importorskip`, where it is not installed, and importing this module
(as the root conftest does) must not fail there first.
"""

import os
import shutil
from contextlib import contextmanager
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SKIP_WITHOUT_CHROMIUM = pytest.mark.skipif(
    not os.path.exists(CHROMIUM), reason="no Chromium at /usr/bin/chromium (apt-get install chromium)")
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
               "--disable-sync", "--no-first-run"]

PASSWORD = "a-long-test-password"  # for the users the tests create and sign in as


def launch_chromium(playwright):
    """A headless Chromium from `sync_playwright()`; Django may then be called from its event loop's thread."""
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API runs an event loop
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS)


@contextmanager
def chromium():
    """A launched headless Chromium for the `with` block, closed when it ends."""
    from playwright.sync_api import sync_playwright  # here, not at the top: see the module's docstring

    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            yield browser
        finally:
            browser.close()


def collect_console_errors(page) -> list[str]:
    """The list to which the page's console errors are added, as they come (a CSP refusal is one)."""
    errors = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    return errors


def sign_in(page, base_url: str, username: str, next_path: str = "/console/", wait_for: str | None = None) -> None:
    """Sign in as `username` on the admin's login page, which then sends the browser on to `next_path`."""
    page.goto(f"{base_url}/admin/login/?next={next_path}")
    submit_sign_in(page, username, wait_for)


def submit_sign_in(page, username: str, wait_for: str | None = None) -> None:
    """Fill in and send the login form the page already shows; then wait for `wait_for`, if given.

    For a test that reaches the login page by a redirect and checks it first.
    """
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit], main button[type=submit]")  # the admin's sign-in page, or the console's
    if wait_for:
        page.wait_for_selector(wait_for)


def screenshot(page, name: str) -> None:
    """A full-page PNG called `name` in the folder CONSOLE_SCREENSHOTS names (README's screenshots); unset, none."""
    if directory := os.environ.get("CONSOLE_SCREENSHOTS"):
        Path(directory).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(directory) / name), full_page=True)
