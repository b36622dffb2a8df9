"""The numbers README.md gives, held at their edges: the value just allowed and the first one refused, an
entry just inside and just outside the time it is kept.

Each test goes through what a user or an operator touches: the console through Django's test client,
Slack's signed requests, App Home opened as Slack sends it, management commands through call_command,
and the alert rules through promtool.
"""

import io
import json
import logging
import shutil
import subprocess
from dataclasses import replace
from datetime import timedelta

import pytest
import yaml
from django.conf import settings as django_settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.db import connection
from django.urls import reverse

from approvals.config_types import HolidayConfig, LeaveTypeConfig
from approvals.models import LeaveType
from approvals.rules import format_day
from approvals.selectors import local_today
from fake_slack.personas import ALICE
from test_support.flows import ENGINEERING, install_config, open_app_home, standard_config
from test_support.slack_requests import command_fields, post_signed

ALERTS = django_settings.BASE_DIR / "deploy" / "prometheus" / "alerts.yml"


# --- helpers ---------------------------------------------------------------------------------------------


def published_text(client, fake_slack, user: str, event_id: str) -> str:
    """Every text of the App Home view the app last published for `user`, one per line."""
    blocks = open_app_home(client, fake_slack, user, event_id)["blocks"]
    return "\n".join(text["text"] for block in blocks
                     for text in [block.get("text") or {}, *block.get("elements", [])] if isinstance(text, dict)
                     and isinstance(text.get("text"), str))


def holidays_line(text: str) -> str:
    lines = [line for line in text.splitlines() if "Holidays coming up" in line]
    return lines[0] if lines else ""


def without_public_holidays():
    return replace(ENGINEERING, holiday_country=None, holiday_subdivision=None)


def database_cache_only():
    if "DatabaseCache" not in django_settings.CACHES["default"]["BACKEND"]:
        pytest.skip("ages the database cache's rows; Redis keeps its own clock")


def let_the_shared_cache_age(seconds: float) -> None:
    """Time passes for the shared cache (the embedded database cache): every entry is `seconds` nearer its
    expiry, as if that long had gone by since it was written."""
    table = connection.ops.quote_name(django_settings.CACHES["default"]["LOCATION"])
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT cache_key, expires FROM {table}")
        rows = cursor.fetchall()
        for key, expires in rows:
            if isinstance(expires, str):
                from django.utils.dateparse import parse_datetime

                expires = parse_datetime(expires)
            if expires.tzinfo is None:
                from datetime import UTC

                expires = expires.replace(tzinfo=UTC)
            moved = connection.ops.adapt_datetimefield_value(expires - timedelta(seconds=seconds))
            cursor.execute(f"UPDATE {table} SET expires = %s WHERE cache_key = %s", [moved, key])


def publishes_for(fake_slack, user: str) -> int:
    return len([c for c in fake_slack.calls("views.publish") if c.params["user_id"] == user])


def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        pytest.skip("promtool is not installed (Debian: apt-get install prometheus); the rules were not evaluated")
    return found


def alert_fires(tmp_path, alert: str, series: dict[str, str], at: str, expected_labels: list[dict],
                summary: str = "") -> None:
    """promtool evaluates `alert` at `at` over `series` (one value a minute) and expects these alerts (with
    this summary)."""
    rules = yaml.safe_load(ALERTS.read_text())
    rule = next(r for g in rules["groups"] for r in g["rules"] if r.get("alert") == alert)
    test = {"rule_files": [str(ALERTS)], "evaluation_interval": "1m", "tests": [{
        "interval": "1m",
        "input_series": [{"series": name, "values": values} for name, values in series.items()],
        "alert_rule_test": [{"eval_time": at, "alertname": alert,
                             "exp_alerts": [{"exp_labels": {**labels, **rule["labels"]},
                                            "exp_annotations": {**rule["annotations"], "summary": summary}}
                                           for labels in expected_labels]}],
    }]}
    path = tmp_path / "numbers_test.yml"
    path.write_text(yaml.safe_dump(test, sort_keys=False))
    result = subprocess.run([promtool(), "test", "rules", str(path)], capture_output=True, text=True, timeout=60,
                            check=False)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture
def superuser_client(client, django_user_model, fake_slack):
    hannah = django_user_model.objects.create_superuser("hannah", "hannah@example.com", "a-long-test-password",
                                                        first_name="Hannah", last_name="Hill")
    client.force_login(hannah)
    return client


# --- Who's out: "for the coming 1–12 weeks" --------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("asked, shown", [("12", 12), ("13", 12), ("1", 1), ("0", 1)])
def test_whos_out_shows_between_one_and_twelve_weeks(superuser_client, asked, shown):
    install_config()
    response = superuser_client.get(reverse("console:whos_out"), {"weeks": asked})
    assert response.status_code == 200
    assert response.context["weeks"] == shown
    [engineering] = response.context["calendars"]
    assert len(engineering.weeks) == shown


# --- App Home: "your team's next holidays (… at most three within 90 days, in one line)" -----------------


@pytest.mark.django_db
def test_app_home_names_a_holiday_90_days_ahead_but_not_one_91_days_ahead(client, fake_slack):
    today = local_today(ENGINEERING.timezone)
    install_config(standard_config(teams=(without_public_holidays(),), holidays=(
        HolidayConfig(date=today + timedelta(days=90), name="Ninety days out"),
        HolidayConfig(date=today + timedelta(days=91), name="Ninety-one days out"))))

    line = holidays_line(published_text(client, fake_slack, ALICE, "Ev_NINETY"))

    ninety = today + timedelta(days=90)
    assert f"{format_day(ninety, with_year=ninety.year != today.year)}, Ninety days out" in line, line
    assert "Ninety-one days out" not in line


@pytest.mark.django_db
def test_app_home_names_at_most_three_holidays_of_the_next_90_days(client, fake_slack):
    today = local_today(ENGINEERING.timezone)
    names = ["First", "Second", "Third", "Fourth"]
    install_config(standard_config(teams=(without_public_holidays(),), holidays=tuple(
        HolidayConfig(date=today + timedelta(days=10 * (n + 1)), name=name) for n, name in enumerate(names))))

    line = holidays_line(published_text(client, fake_slack, ALICE, "Ev_THREE"))

    assert all(f", {name}" in line for name in names[:3]), line
    assert "Fourth" not in line


# --- App Home: "opening the tab again within 5 s of a publish of it adds no other either" -----------------


@pytest.mark.django_db
def test_opening_app_home_again_within_five_seconds_publishes_nothing_more_but_six_seconds_later_it_does(client, fake_slack):
    database_cache_only()
    install_config()
    open_app_home(client, fake_slack, ALICE, "Ev_OPEN_1")
    assert publishes_for(fake_slack, ALICE) == 1

    let_the_shared_cache_age(4)
    open_app_home(client, fake_slack, ALICE, "Ev_OPEN_2")
    assert publishes_for(fake_slack, ALICE) == 1, "an open 4 s after a publish shows the same tab again"

    # The database cache keeps whole seconds and rounds a claim's end up: 6 s is past it in every case.
    let_the_shared_cache_age(2.1)
    open_app_home(client, fake_slack, ALICE, "Ev_OPEN_3")
    assert publishes_for(fake_slack, ALICE) == 2, "an open 6 s after a publish publishes again"


# --- History: "lists the latest 100 changes to the configuration" ----------------------------------------


@pytest.mark.django_db
def test_history_lists_the_latest_hundred_changes_and_no_more(superuser_client):
    for n in range(101):
        LeaveType.objects.create(code=f"type{n:03d}", name=f"Type {n:03d}", emoji="", requires_approval=True,
                                 allow_past_days=0, position=n)

    rows = superuser_client.get(reverse("console:history")).context["rows"]

    assert len(rows) == 100
    names = [row.name for row in rows]
    assert names[0] == "Type 100" and "Type 001" in names
    assert "Type 000" not in names  # the 101st change back


@pytest.mark.django_db
def test_history_still_shows_a_change_after_imports_that_changed_nothing(superuser_client, tmp_path):
    """A company with thirty leave types that imports its unchanged file from version control ten times
    (a CI job, say): HR's last real change is among the latest 100 changes, and History shows it."""
    types = tuple(LeaveTypeConfig(code=f"type{n:02d}", name=f"Type {n:02d}") for n in range(31))
    install_config(standard_config(leave_types=types))
    vacation = LeaveType.objects.get(code="type00")
    vacation.annual_allowance_days = 30
    vacation.save()  # HR's change

    out = io.StringIO()
    call_command("export_config", stdout=out)
    path = tmp_path / "config.json"
    path.write_text(out.getvalue())
    for _ in range(10):
        call_command("import_config", str(path), stdout=io.StringIO())

    rows = superuser_client.get(reverse("console:history")).context["rows"]
    changed = [row for row in rows if row.kind == "changed" and row.name.startswith("Type 00")]
    assert changed, [(row.kind, row.what, row.name) for row in rows[:10]]
    assert [(c.field, c.new) for c in changed[0].changes] == [("annual_allowance_days", "30.0")]


# --- Configuration file: "of at most 1 MB (UPLOAD_MAX_BYTES): a larger file … refused" ---------------------


def config_file_of_size(size: int) -> bytes:
    from approvals.config_file import config_to_text

    text = config_to_text(standard_config(), "json").encode()
    assert len(text) < size
    return text + b" " * (size - len(text))  # trailing white space: still the same JSON


@pytest.mark.django_db
def test_a_configuration_file_of_exactly_one_mebibyte_is_taken(superuser_client):
    upload = SimpleUploadedFile("config.json", config_file_of_size(django_settings.UPLOAD_MAX_BYTES),
                                content_type="application/json")
    response = superuser_client.post(reverse("console:config_upload"), {"file": upload})
    assert response.status_code == 302, response.text[:2000]
    assert response["Location"] == reverse("console:config_preview")


@pytest.mark.django_db
def test_a_configuration_file_one_byte_over_one_mebibyte_is_refused(superuser_client):
    upload = SimpleUploadedFile("config.json", config_file_of_size(django_settings.UPLOAD_MAX_BYTES + 1),
                                content_type="application/json")
    response = superuser_client.post(reverse("console:config_upload"), {"file": upload})
    assert response.status_code == 400
    assert "config.json: the file is larger than 1024 KB; is it a configuration file?" in response.text


# --- Slack's requests: "over 1 MiB: 413", "a 5-minute window", "the timestamp must be 1–12 digits" --------


def help_body(size: int) -> bytes:
    """A `/timeoff help` command padded to `size` bytes (a long response_url, which the app ignores)."""
    from urllib.parse import urlencode

    fields = command_fields("help", user_id=ALICE)
    body = urlencode(fields).encode()
    fields["response_url"] += "x" * (size - len(body))
    body = urlencode(fields).encode()
    assert len(body) == size
    return body


@pytest.mark.django_db
def test_a_slack_request_of_exactly_one_mebibyte_is_answered(client, fake_slack):
    install_config()
    response = post_signed(client, "/slack/commands", help_body(django_settings.SLACK_MAX_BODY_BYTES))
    assert response.status_code == 200, response.content[:500]


@pytest.mark.django_db
def test_a_slack_request_one_byte_over_one_mebibyte_is_refused_with_413(client, fake_slack):
    install_config()
    response = post_signed(client, "/slack/commands", help_body(django_settings.SLACK_MAX_BODY_BYTES + 1))
    assert response.status_code == 413
    assert response["X-Slack-No-Retry"] == "1"


@pytest.mark.django_db
def test_a_request_signed_a_little_under_five_minutes_ago_is_answered(client, fake_slack):
    import time

    install_config()
    response = post_signed(client, "/slack/commands", help_body(2000), timestamp=int(time.time()) - 298)
    assert response.status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize("digits, reason", [(12, "bad_signature"), (13, "bad_timestamp")])
def test_a_timestamp_of_twelve_digits_is_checked_and_one_of_thirteen_is_refused_unread(client, fake_slack, caplog,
                                                                                      digits, reason):
    install_config()
    with caplog.at_level(logging.WARNING):
        response = post_signed(client, "/slack/commands", help_body(2000), timestamp=int("1" * digits))
    assert response.status_code == 401
    assert f"reason={reason}" in caplog.text, caplog.text


# --- Logs: "secrets shorter than 8 characters are not looked for" ------------------------------------------


@pytest.mark.parametrize("secret, redacted", [("k3y-abcd", True), ("k3y-abc", False)])
def test_a_secret_of_eight_characters_is_redacted_and_one_of_seven_is_not(settings, secret, redacted):
    from timeoff_site.log_format import JsonFormatter

    settings.METRICS_TOKEN = secret
    record = logging.makeLogRecord({"name": "x", "levelname": "INFO", "msg": f"the token is {secret}"})
    line = json.loads(JsonFormatter().format(record))
    assert (line["message"] == "the token is [redacted]") is redacted, line


# --- Commands: "an interval under 1 second … is refused" -------------------------------------------------


@pytest.mark.django_db
def test_the_clock_refuses_an_interval_just_under_one_second(fake_slack):
    with pytest.raises(CommandError, match="at least 1 second, not 0.99"):
        call_command("run_scheduler", "--interval", "0.99", stdout=io.StringIO())


@pytest.mark.django_db
def test_the_clock_refuses_a_configured_interval_just_under_one_second(fake_slack, settings):
    settings.SCHEDULER_INTERVAL_SECONDS = 0.99
    with pytest.raises(CommandError, match="SCHEDULER_INTERVAL_SECONDS"):
        call_command("run_scheduler", stdout=io.StringIO())


# --- Alert rules: "the queue stalled (oldest runnable task older than 2 minutes) or growing" ---------------


QUEUE = 'queue="default", instance="web-1:8000", job="timeoff"'


def test_a_queue_whose_oldest_task_waited_two_minutes_does_not_page(tmp_path):
    alert_fires(tmp_path, "TimeoffTaskQueueStalled",
                {f"timeoff_task_queue_oldest_age_seconds{{{QUEUE}}}": "120x20"}, "15m", [])


def test_a_queue_whose_oldest_task_waited_longer_than_two_minutes_pages(tmp_path):
    alert_fires(tmp_path, "TimeoffTaskQueueStalled",
                {f"timeoff_task_queue_oldest_age_seconds{{{QUEUE}}}": "121x20"}, "15m", [{"queue": "default"}],
                summary="Queue default: the oldest runnable task has waited 2m 1s")


@pytest.mark.parametrize("ready, fires", [(200, False), (201, True)])
def test_a_queue_grows_past_two_hundred_ready_tasks(tmp_path, ready, fires):
    series = f'timeoff_task_queue_depth{{status="ready", {QUEUE}}}'
    alert_fires(tmp_path, "TimeoffTaskQueueGrowing", {series: f"{ready}x30"}, "20m",
                [{"queue": "default"}] if fires else [], summary=f"Queue default holds {ready} runnable tasks")
