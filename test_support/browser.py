"""What every browser test shares: Debian's Chromium driven by Playwright, headless.

`playwright install` cannot download browsers here, so the tests launch the
system Chromium (`apt-get install chromium`; `bin/test` installs it in CI) and
skip, saying why, where there is none.
"""

import os
import shutil

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SKIP_WITHOUT_CHROMIUM = pytest.mark.skipif(
    not os.path.exists(CHROMIUM), reason="no Chromium at /usr/bin/chromium (apt-get install chromium)")
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
               "--disable-sync", "--no-first-run"]


def launch_chromium(playwright):
    """A headless Chromium from `sync_playwright()`; Django may then be called from its event loop's thread."""
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API runs an event loop
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS)
