"""Balance adjustments and exports as HR uses them: the console's adjustment form (in a browser too),
the ledger and balances CSVs, the nightly CSV export, and the configuration file's names.

Alice, Bob and Dave are in Engineering (members of #engineering), whose approvals channel is
C_ENG_APPROVALS. Hannah (HR) is staff and may record adjustments and view leave records.
"""

import csv
import io
import json
import unicodedata
from dataclasses import replace
from datetime import date, datetime, timedelta
from datetime import timezone as dt_timezone
from decimal import Decimal
from pathlib import Path

import pytest
from django.contrib.auth.models import Permission
from django.core.cache import cache
from django.core.management import CommandError
from django.urls import reverse
from django.utils import timezone

from approvals.config_file import ConfigError, config_from_text
from approvals.config_store import invalidate_config
from approvals.ledger_format import ADJUSTMENT_EVENT_TYPE
from approvals.models import JobRun
from approvals.rules import Adjustment, LedgerEntry
from fake_slack.ledger_seed import seed_ledger
from fake_slack.personas import ALICE, BOB, C_ENG, C_ENG_APPROVALS, DAVE
from test_support.browser import PASSWORD, SKIP_WITHOUT_CHROMIUM, sign_in
from test_support.flows import install_config, standard_config
from test_support.job_runs import run_jobs

pytestmark = pytest.mark.django_db

YEAR = timezone.localdate().year


def add_hr_permissions(user) -> None:
    user.user_permissions.add(Permission.objects.get(codename="record_adjustment"),
                              Permission.objects.get(codename="view_leave_records"))


@pytest.fixture
def hr(client, django_user_model, fake_slack):
    """Hannah, signed in to the console, with the standard configuration installed."""
    invalidate_config()  # a shared cache (Redis in CI) outlives each test's transaction
    install_config()
    hannah = django_user_model.objects.create_user("hannah", "hannah@example.com", PASSWORD, is_staff=True)
    add_hr_permissions(hannah)
    client.force_login(hannah)
    return client


def adjustment_messages(fake_slack, channel=C_ENG_APPROVALS) -> list:
    return [m for m in fake_slack.workspace.messages(channel)
            if m.metadata and m.metadata.get("event_type") == ADJUSTMENT_EVENT_TYPE]


def adjust_form(**changes) -> dict:
    return {"user": ALICE, "leave_type": "vacation", "days": "2", "year": str(YEAR), "reason": "carry-over",
            **changes}


def hidden_inputs(html: str) -> dict:
    """The hidden fields a browser sends back with the form it was shown (the CSRF token, and any
    once-only token the form may carry)."""
    import re

    found = {}
    for tag in re.findall(r"<input[^>]*>", html):
        if 'type="hidden"' in tag and (name := re.search(r'name="([^"]*)"', tag)):
            value = re.search(r'value="([^"]*)"', tag)
            found[name[1]] = value[1] if value else ""
    return found


# --- Recording an adjustment in the console ----------------------------------------------------


def test_the_same_adjustment_form_sent_twice_records_one_adjustment(hr, fake_slack):
    """What the server sees when HR clicks "Record adjustment" again while Slack is slow (the browser test
    below shows Chromium sending both): the very form HR was shown, posted twice. HR meant one carry-over."""
    page = hr.get(reverse("console:adjust"))
    data = {**hidden_inputs(page.text), **adjust_form()}

    first = hr.post(reverse("console:adjust"), data)
    second = hr.post(reverse("console:adjust"), data)

    assert first.status_code == 302
    assert second.status_code in (200, 302)
    assert len(adjustment_messages(fake_slack)) == 1


def test_a_form_slack_refused_can_be_sent_again_and_one_whose_answer_was_lost_cannot(hr, fake_slack):
    """Nothing recorded (Slack refused the post): the same form, sent again, records it. Recorded perhaps
    (Slack's answer lost): sent again, it records nothing more and says to check the channel."""
    from test_support.slack_faults import failing

    def posting(method, params):
        return method == "chat.postMessage"

    page = hr.get(reverse("console:adjust"))
    data = {**hidden_inputs(page.text), **adjust_form()}
    with failing(fake_slack, posting, "not_in_channel"):
        refused = hr.post(reverse("console:adjust"), data, follow=True)
    assert "nothing was recorded" in refused.text and adjustment_messages(fake_slack) == []
    assert hr.post(reverse("console:adjust"), data).status_code == 302
    assert len(adjustment_messages(fake_slack)) == 1

    page = hr.get(reverse("console:adjust"))
    data = {**hidden_inputs(page.text), **adjust_form(days="1")}
    with failing(fake_slack, posting, "answer_lost"):
        lost = hr.post(reverse("console:adjust"), data, follow=True)
    assert "may have been recorded" in lost.text
    again = hr.post(reverse("console:adjust"), data, follow=True)
    assert "check the approvals channel before recording it again" in again.text
    assert len(adjustment_messages(fake_slack)) == 2  # the lost answer's post took effect; none more

def test_half_a_day_written_with_two_decimals_is_accepted(hr, fake_slack):
    """"0.50" is half a day, as the help text asks ("in steps of 0.5"); it is refused with
    "Ensure that there are no more than 1 decimal place."."""
    response = hr.post(reverse("console:adjust"), adjust_form(days="0.50"))

    assert response.status_code == 302, response.context["form"].errors
    [message] = adjustment_messages(fake_slack)
    assert message.metadata["event_payload"]["days"] == 0.5


def test_an_adjustment_for_a_bot_is_refused(hr, fake_slack):
    """An integration's bot user in the team's channel is no employee: days granted to it land in the
    ledger and give it a row on the Balances page."""
    fake_slack.workspace.add_user("U_JIRA", "jira", real_name="Jira Cloud", is_bot=True)
    fake_slack.workspace.channels[C_ENG].members.add("U_JIRA")

    response = hr.post(reverse("console:adjust"), adjust_form(user="U_JIRA"))

    assert adjustment_messages(fake_slack) == []
    assert response.status_code == 200


def test_an_adjustment_to_a_type_without_a_yearly_allowance_is_refused(hr, fake_slack):
    """Sick leave has no yearly allowance, so "+2 days of Sick leave" changes nothing anybody can use,
    yet HR is told "Recorded +2 days of Sick leave"; the form should say why it cannot."""
    response = hr.post(reverse("console:adjust"), adjust_form(leave_type="sick"))

    assert adjustment_messages(fake_slack) == []
    assert response.status_code == 200
    assert "leave_type" in response.context["form"].errors


def test_an_adjustment_of_a_leave_type_removed_since_stays_in_the_ledger_csv(hr, fake_slack):
    """Removing a leave type hides it from the balances; HR's record of what was granted is not lost."""
    vacation, sick, medical = standard_config().leave_types
    install_config(replace(standard_config(), leave_types=(vacation, sick, replace(medical, annual_allowance_days=Decimal(5)))))
    assert hr.post(reverse("console:adjust"), adjust_form(leave_type="medical", days="1.5")).status_code == 302
    install_config(replace(standard_config(), leave_types=standard_config().leave_types[:2]))
    hr.raise_request_exception = True

    page = hr.get(reverse("console:balances"), {"team": "Engineering", "year": YEAR})
    assert page.status_code == 200 and page.context["table"].leave_types == ("Vacation", "Sick leave")
    export = hr.get(reverse("console:ledger_export"), {"download": "1", "year": YEAR})
    [row] = csv.DictReader(io.StringIO(export.content.decode("utf-8-sig")))
    assert (row["kind"], row["user"], row["type"], row["days"], row["year"]) == (
        "adjustment", ALICE, "medical", "1.5", str(YEAR))


# --- The console's CSVs ----------------------------------------------------------------------------


@pytest.mark.parametrize("page", ["console:ledger_export", "console:balances"])
def test_the_console_csvs_open_in_excel_with_accents_intact(hr, fake_slack, page):
    """Excel opens a double-clicked .csv as the PC's ANSI code page unless it starts with a UTF-8 byte
    order mark: "Núñez" shows as "NÃºÃ±ez". HR opens these files in Excel."""
    fake_slack.workspace.users[ALICE].real_name = "Alicia Núñez"
    assert hr.post(reverse("console:adjust"), adjust_form(reason="Übertrag")).status_code == 302
    hr.get(reverse("console:balances"), {"team": "Engineering"})  # the ledger and memberships are read

    response = hr.get(reverse(page), {"download": "1", "year": YEAR, "team": "Engineering"})

    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert "Núñez" in response.content.decode("utf-8-sig")
    assert response.content.startswith(b"\xef\xbb\xbf")


# --- The nightly export ----------------------------------------------------------------------------

EXPORT_DAY = date(2031, 3, 11)


@pytest.fixture
def export_dir(settings, tmp_path):
    settings.LEDGER_EXPORT_DIR = tmp_path / "exports"
    return settings.LEDGER_EXPORT_DIR


def seed_alice_and_dave(fake_slack) -> None:
    install_config()
    entries = [LedgerEntry(id="alice-1", user=ALICE, team="Engineering", leave_type="vacation",
                           start=EXPORT_DAY, end=EXPORT_DAY + timedelta(days=1), start_half=None, end_half="am",
                           days=Decimal("1.5"), status="approved", decided_by=BOB)]
    adjustments = [Adjustment(id="carry", user=DAVE, leave_type="vacation", days=Decimal(2), year=2031,
                              reason="carry-over", by="hannah")]
    seed_ledger(fake_slack.workspace, channel=C_ENG_APPROVALS, entries=entries, adjustments=adjustments)


def export_rows(export_dir, day=EXPORT_DAY) -> list[dict]:
    with (export_dir / f"ledger-{day.isoformat()}.csv").open(newline="", encoding="utf-8-sig") as stream:
        return list(csv.DictReader(stream))


def at_two(day: int) -> datetime:
    return datetime(2031, 3, day, 2, 0, tzinfo=dt_timezone.utc)


def test_the_nightly_export_names_each_person_as_the_console_csv_does(fake_slack, export_dir):
    """HR's copy outside Slack is read when Slack's copy is gone, and then "U_DAVE" names nobody. The
    console's CSV has a user_name column; the nightly export has Slack ids only."""
    seed_alice_and_dave(fake_slack)

    run_jobs(at_two(11))

    rows = export_rows(export_dir)
    assert {row["user"]: row.get("user_name") for row in rows} == {ALICE: "Alice Adams", DAVE: "Dave Diaz"}


def test_a_night_slack_cannot_be_read_keeps_the_earlier_copies_and_exports_once_it_can(fake_slack, export_dir,
                                                                                     settings, no_sleeping):
    """A night Slack fails leaves neither an empty file where the copy should be nor the good copies
    rotated away, and the clock's next tick writes the night's export once Slack answers."""
    seed_alice_and_dave(fake_slack)
    settings.LEDGER_EXPORT_KEEP = 2
    run_jobs(at_two(10))
    run_jobs(at_two(11))
    cache.clear()  # tonight the ledger must be read from Slack
    fake_slack.fail("conversations.history", "internal_error", times=None)

    with pytest.raises(CommandError, match="failed"):
        run_jobs(at_two(12))

    assert sorted(p.name for p in export_dir.iterdir()) == ["ledger-2031-03-10.csv", "ledger-2031-03-11.csv"]
    assert all(len(export_rows(export_dir, date(2031, 3, day))) == 2 for day in (10, 11))

    fake_slack.clear_faults()
    JobRun.objects.filter(job="ledger_export").update(retry_at=timezone.now())  # its minute's wait is over
    run_jobs(datetime(2031, 3, 12, 3, 0, tzinfo=dt_timezone.utc))

    assert sorted(p.name for p in export_dir.iterdir()) == ["ledger-2031-03-11.csv", "ledger-2031-03-12.csv"]
    assert {row["id"] for row in export_rows(export_dir, date(2031, 3, 12))} == {"alice-1", "carry"}


# --- The configuration file's names ----------------------------------------------------------------

EXAMPLE = json.loads((Path(__file__).resolve().parents[2] / "examples" / "config.example.json").read_text())


def example_with_names(*, teams=(), leave_types=()) -> str:
    """The example file with its first teams and leave types renamed (holidays and blackouts follow)."""
    data = json.loads(json.dumps(EXAMPLE))
    renamed = {}
    for team, name in zip(data["teams"], teams, strict=False):
        renamed[team["name"]], team["name"] = name, name
    for section in ("holidays", "blackouts"):
        for entry in data[section]:
            entry["team"] = renamed.get(entry["team"], entry["team"])
    for leave_type, name in zip(data["leave_types"], leave_types, strict=False):
        leave_type["name"] = name
    return json.dumps(data, ensure_ascii=False)


def composed_and_decomposed(text: str) -> tuple[str, str]:
    """The same word twice: "é" as one code point (as most keyboards type it), and as "e" plus a combining
    accent (as macOS file names and text copied from some PDFs carry it). They look identical."""
    composed, decomposed = unicodedata.normalize("NFC", text), unicodedata.normalize("NFD", text)
    assert composed != decomposed
    return composed, decomposed


def test_two_team_names_that_differ_only_in_how_an_accent_is_encoded_are_refused():
    """The file refuses team names that differ only by case, because people cannot tell them apart;
    "Café" and "Café" are even harder to tell apart, and are two teams to the configuration."""
    with pytest.raises(ConfigError) as raised:
        config_from_text(example_with_names(teams=composed_and_decomposed("Café")), "json")
    assert any(error.startswith("teams[1].name") for error in raised.value.errors), raised.value.errors


def test_two_leave_type_names_that_differ_only_in_how_an_accent_is_encoded_are_refused():
    with pytest.raises(ConfigError) as raised:
        config_from_text(example_with_names(leave_types=composed_and_decomposed("Congé")), "json")
    assert any(error.startswith("leave_types[1].name") for error in raised.value.errors), raised.value.errors


# --- In a browser ----------------------------------------------------------------------------------


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
@SKIP_WITHOUT_CHROMIUM
def test_clicking_record_adjustment_again_while_slack_is_slow_records_it_once(live_server, django_user_model,
                                                                               browser, fake_slack):
    """Slack takes a second to answer; HR, seeing nothing happen, clicks the button again a quarter of a
    second later. Chromium sends both posts: two adjustments are recorded, and HR is shown a single
    "Recorded +3 days", so Alice silently gets 6."""
    pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    install_config()
    hannah = django_user_model.objects.create_user("hannah", "hannah@example.com", PASSWORD, is_staff=True)
    add_hr_permissions(hannah)
    fake_slack.delay("chat.postMessage", 1.0, times=None)
    page = browser.new_page()
    sign_in(page, live_server.url, "hannah", "/console/balances/adjust", wait_for="#id_days")
    page.fill("#id_user", ALICE)
    page.select_option("#id_leave_type", "vacation")
    page.fill("#id_days", "3")
    page.fill("#id_year", str(YEAR))
    page.fill("#id_reason", "carry-over")

    page.evaluate("""() => {
        const button = [...document.querySelectorAll("main button[type=submit]")].pop();
        button.click();
        setTimeout(() => button.click(), 250);
    }""")
    page.wait_for_selector("text=Recorded +3")
    for _ in range(100):  # every post the browser sent has been through to Slack (each asks users.info first)
        if len(fake_slack.calls("chat.postMessage")) >= len(fake_slack.calls("users.info")):
            break
        page.wait_for_timeout(50)

    assert len(adjustment_messages(fake_slack)) == 1
