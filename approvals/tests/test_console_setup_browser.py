"""The Setup page in a real browser (Playwright, Debian's Chromium), against the fake Slack.

Hannah (HR) sees the connection and the channels' state, types the public address and gets
the manifest to copy. Set CONSOLE_SCREENSHOTS=<dir> to keep a screenshot for README.
"""

import pytest

from fake_slack.personas import C_NOBOT
from test_support.browser import PASSWORD, SKIP_WITHOUT_CHROMIUM, collect_console_errors, screenshot, sign_in
from test_support.flows import ENGINEERING, install_config, standard_config

playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    SKIP_WITHOUT_CHROMIUM,
]


def test_hr_checks_the_setup_and_copies_the_manifest(live_server, django_user_model, fake_slack, browser):
    from dataclasses import replace

    install_config(standard_config(teams=(replace(ENGINEERING, announce_channel=C_NOBOT),)))
    django_user_model.objects.create_user("hannah", "hannah@example.com", PASSWORD, is_staff=True)
    page = browser.new_page()
    errors = collect_console_errors(page)
    sign_in(page, live_server.url, "hannah", "/console/setup/", wait_for="#connection")
    assert "Connected to Fake Workspace" in page.inner_text("#connection")
    channels = page.inner_text("#channels")
    assert "#no-bot" in channels and "The bot is not in it" in channels

    page.fill("#id_url", "https://timeoff.acme.com")
    page.click("text=Show the manifest")
    page.wait_for_selector("#id_manifest")
    assert "https://timeoff.acme.com/slack/events" in page.input_value("#id_manifest")
    screenshot(page, "console-setup.png")
    # Readable on a phone: wide tables scroll in their own box, the page does not.
    page.set_viewport_size({"width": 375, "height": 700})
    for path in ("/console/setup/?url=https://timeoff.acme.com", "/console/whos-out/", "/console/balances/",
                 "/console/file/", "/console/history/", "/console/ledger/"):
        page.goto(f"{live_server.url}{path}")
        assert page.evaluate("document.documentElement.scrollWidth") <= 375, path
    assert [text for text in errors if "Content Security Policy" in text] == []


def test_hr_marks_a_delivery_problem_resolved(live_server, django_user_model, fake_slack, browser):
    from approvals.models import DeliveryProblem

    install_config()
    DeliveryProblem.objects.create(request_id="r1", user="U_ALICE", team="Engineering", channel="C_ENG_APPROVALS",
                                   error="not_in_channel", summary=":palm_tree: Vacation, Mon 10 Mar 2031",
                                   undelivered=True)
    django_user_model.objects.create_user("hannah", "hannah@example.com", PASSWORD, is_staff=True)
    page = browser.new_page()
    errors = collect_console_errors(page)
    sign_in(page, live_server.url, "hannah", "/console/setup/", wait_for="#delivery-problems")
    assert "Not delivered" in page.inner_text("#delivery-problems")

    page.get_by_role("button", name="Mark resolved").click()

    page.wait_for_selector("#resolved-problems")
    assert "Marked resolved" in page.inner_text("body")
    assert page.query_selector("#delivery-problems") is None
    assert "1 problem marked resolved" in page.inner_text("#resolved-problems")
    assert DeliveryProblem.objects.get().resolved_by == "hannah"
    assert [text for text in errors if "Content Security Policy" in text] == []
