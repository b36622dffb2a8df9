"""The configuration file in a real browser (Playwright, Debian's Chromium): upload, preview, apply.

Hannah (HR, a superuser) downloads the configuration, uploads a changed file, reads what it
will change, ticks the removal box and applies it. Then the History page shows her changes.
Set CONSOLE_SCREENSHOTS=<dir> to keep screenshots for README.
"""

import json
from pathlib import Path

import pytest

from approvals.config_file import parse_config
from approvals.config_store import config_apply
from approvals.models import Team
from test_support.browser import PASSWORD, SKIP_WITHOUT_CHROMIUM, collect_console_errors, screenshot, sign_in

playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    SKIP_WITHOUT_CHROMIUM,
]

EXAMPLE = json.loads((Path(__file__).resolve().parents[2] / "examples" / "config.example.json").read_text())


def test_hr_uploads_a_configuration_file_sees_the_preview_and_applies_it(live_server, django_user_model, browser,
                                                                         fake_slack, tmp_path):
    django_user_model.objects.create_superuser("hannah", "hannah@example.com", PASSWORD, first_name="Hannah",
                                               last_name="Hill")
    config_apply(config=parse_config(EXAMPLE))
    page = browser.new_page(accept_downloads=True)
    errors = collect_console_errors(page)

    sign_in(page, live_server.url, "hannah", "/console/file/", wait_for="h1:text('Configuration file')")

    with page.expect_download() as download_info:
        page.click("text=Download JSON")
    downloaded = tmp_path / "downloaded.json"
    download_info.value.save_as(downloaded)
    data = json.loads(downloaded.read_text())
    assert data == EXAMPLE

    # A file with a mistake: the error names its place in the file.
    bad = json.loads(json.dumps(data))
    bad["teams"][0]["max_out"] = "three"
    (tmp_path / "bad.json").write_text(json.dumps(bad))
    page.set_input_files("#id_file", str(tmp_path / "bad.json"))
    page.click("text=Upload and preview")
    page.wait_for_selector("#upload-errors")
    assert "teams[0].max_out" in page.inner_text("#upload-errors")

    # Sales gets a limit, Operations goes, a leave type is added.
    data["teams"][1]["max_out"] = 4
    data["teams"] = [team for team in data["teams"] if team["name"] != "Operations"]
    data["holidays"] = [h for h in data["holidays"] if h["team"] != "Operations"]
    data["blackouts"] = [b for b in data["blackouts"] if b["team"] != "Operations"]
    data["leave_types"].append({"code": "parental", "name": "Parental leave"})
    (tmp_path / "new.json").write_text(json.dumps(data))
    page.set_input_files("#id_file", str(tmp_path / "new.json"))
    page.click("text=Upload and preview")
    page.wait_for_selector("h1:text('What new.json changes')")
    summary = page.inner_text("#diff-summary")
    assert "1 team changed" in summary and "1 team removed" in summary and "1 leave type added" in summary
    assert "max_out" in page.inner_text("main")
    screenshot(page, "console-file-preview.png")
    assert Team.objects.filter(name="Operations").exists()  # a preview changes nothing

    page.check("#id_confirm_removals")
    page.click("text=Apply these changes")
    page.wait_for_selector("text=Applied new.json")
    assert not Team.objects.filter(name="Operations").exists()
    assert Team.objects.get(name="Sales").max_out == 4

    page.click("nav >> text=History")
    page.wait_for_selector("#history")
    history = page.inner_text("#history")
    assert "Hannah Hill deleted team Operations" in history
    assert "Hannah Hill changed team Sales" in history
    screenshot(page, "console-history.png")

    assert [text for text in errors if "Content Security Policy" in text] == []
