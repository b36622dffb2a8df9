"""The See pages in a real browser (Playwright, Debian's Chromium): who's out, the ledger CSV, adjustments.

Hannah (HR) has the permission to adjust balances; Sam is staff without it. The ledger is in
the fake Slack. Set CONSOLE_SCREENSHOTS=<dir> to keep screenshots for README.
"""

import csv
import io
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone

from approvals.rules import LedgerEntry
from fake_slack.ledger_seed import seed_ledger
from fake_slack.personas import ALICE, BOB, C_ENG_APPROVALS, DAVE
from test_support.browser import PASSWORD, SKIP_WITHOUT_CHROMIUM, collect_console_errors, screenshot, sign_in
from test_support.flows import install_config

playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    SKIP_WITHOUT_CHROMIUM,
]


@pytest.fixture
def ledger(fake_slack):
    install_config()
    today = timezone.localdate()
    monday = today + timedelta(days=7 - today.weekday())
    entries = [
        LedgerEntry(id="alice-vacation", user=ALICE, team="Engineering", leave_type="vacation", start=monday,
                    end=monday + timedelta(days=1), start_half=None, end_half=None, days=Decimal(2),
                    status="approved", decided_by=BOB),
        LedgerEntry(id="dave-sick", user=DAVE, team="Engineering", leave_type="sick", start=monday,
                    end=monday, start_half=None, end_half=None, days=Decimal(1), status="approved", decided_by=BOB),
    ]
    seed_ledger(fake_slack.workspace, channel=C_ENG_APPROVALS, entries=entries)
    return monday


def test_hr_sees_whos_out_downloads_the_csv_and_adjusts_a_balance(live_server, django_user_model, browser,
                                                                   ledger, fake_slack):
    hannah = django_user_model.objects.create_user("hannah", "hannah@example.com", PASSWORD, is_staff=True)
    hannah.user_permissions.add(Permission.objects.get(codename="record_adjustment"),
                                Permission.objects.get(codename="view_leave_records"))
    page = browser.new_page(accept_downloads=True)
    errors = collect_console_errors(page)

    sign_in(page, live_server.url, "hannah", "/console/whos-out/", wait_for="h1:text(\"Who's out\")")
    calendar = page.inner_text("main")
    assert "Alice Adams" in calendar and "Vacation" in calendar
    assert "Dave Diaz" in calendar and "away" in calendar and "Sick leave" not in calendar
    screenshot(page, "console-whos-out.png")

    page.click("nav >> text=Ledger CSV")
    page.fill("#id_year", str(ledger.year))
    with page.expect_download() as download_info:
        page.click("text=Download CSV")
    download = download_info.value
    assert download.suggested_filename == f"ledger-{ledger.year}.csv"
    rows = list(csv.DictReader(io.StringIO(Path(download.path()).read_text())))
    assert {row["id"] for row in rows} == {"alice-vacation", "dave-sick"}
    assert {row["user_name"] for row in rows} == {"Alice Adams", "Dave Diaz"}

    page.click("nav >> text=Balances")
    page.wait_for_selector("#balances")
    assert "Alice Adams" in page.inner_text("#balances")
    screenshot(page, "console-balances.png")
    page.click("text=Adjust a balance")
    page.fill("#id_user", "alice@example.com")
    page.select_option("#id_leave_type", "vacation")
    page.fill("#id_days", "3")
    page.fill("#id_year", str(timezone.localdate().year))
    page.fill("#id_reason", "carry-over")
    page.click("text=Record adjustment")
    page.wait_for_selector("text=Recorded +3")
    assert "for Alice Adams" in page.inner_text(".messages")
    assert any("carry-over" in str(call.params) for call in fake_slack.calls("chat.postMessage"))
    assert [text for text in errors if "Content Security Policy" in text] == []


def test_staff_without_the_permission_cannot_adjust_balances(live_server, django_user_model, browser, ledger,
                                                             fake_slack):
    sam = django_user_model.objects.create_user("sam", "sam@example.com", PASSWORD, is_staff=True)
    sam.user_permissions.add(Permission.objects.get(codename="view_leave_records"))  # may see, not adjust
    page = browser.new_page()
    sign_in(page, live_server.url, "sam", "/console/balances/", wait_for="#balances")
    assert page.locator("text=Adjust a balance").count() == 0
    response = page.goto(f"{live_server.url}/console/balances/adjust")
    assert response.status == 403
    assert "Can record balance adjustments" in page.inner_text("#adjust-denied")
    assert page.locator("#id_days").count() == 0
    assert not fake_slack.calls("chat.postMessage")
