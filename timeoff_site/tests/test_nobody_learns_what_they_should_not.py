"""Nobody learns from the app what they should not: a privacy officer's walk through every flow.

DESIGN §5 and the README ("Private leave types", "Permissions", "Observability"): the note a requester
types is for the approvals channel and their own DM; a private leave type (sick leave, a medical
appointment) is named only there; the text people type (notes, reject reasons, adjustment reasons) and
a private type's name never reach the logs; no secret reaches a log line, a page or an error response.

Each test drives real flows (signed requests to the real endpoints, the fake Slack, the console through
Django's test client, the daily jobs through `run_jobs`) with a distinctive note, reject reason and
adjustment reason, then reads everything written: every log record at every level (as caplog holds it
and as the configured JSON console handler writes it), `/metrics`, and the pages a user without the
relevant permission can open.
"""

import io
import json
import logging
import re
from dataclasses import replace
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import Permission
from django.core.management import CommandError
from django.test import Client

from approvals import block_ids as ids
from approvals.selectors import local_today
from fake_slack.personas import C_ENG, C_ENG_APPROVALS
from test_support.flows import (
    ALICE,
    BOB,
    DAVE,
    ENGINEERING,
    HR,
    MEDICAL,
    SICK,
    VACATION,
    click,
    install_config,
    open_app_home,
    posted_requests,
    press,
    reject_in_the_channel,
    request_time_off,
    request_values,
    standard_config,
)
from test_support.job_runs import run_jobs
from test_support.slack_requests import post_command, post_interaction, view_submission_payload

pytestmark = pytest.mark.django_db

NOTE = "Chemo at St Mary's"
EDITED_NOTE = "Second chemo round, oncology ward"
REASON = "Not during the Okafor audit, sorry"
ADJUSTMENT_REASON = "Granted after the Brightwater tribunal ruling"
LA = ZoneInfo("America/Los_Angeles")

# What must never be in a log line: the text people typed, and a private type's code, name or emoji.
TYPED = re.compile(r"chemo|st mary|oncology|okafor|brightwater", re.IGNORECASE)
PRIVATE_TYPE = re.compile(r"\bmedical\b|medical appointment|:hospital:|\bsick\b|sick leave|thermometer",
                          re.IGNORECASE)
PEOPLE_AND_TEAMS = (ALICE, BOB, DAVE, HR, "Engineering", "T_ACME")


def private_config(**team_changes):
    team = replace(ENGINEERING, digest_time=time(9, 0), nudge_after_hours=1, **team_changes)
    medical = replace(MEDICAL, annual_allowance_days=Decimal(5))  # so HR can adjust it, with a reason
    return standard_config(teams=(team,), leave_types=(VACATION, SICK, medical))


def next_monday(weeks_ahead: int = 1):
    """A working Monday `weeks_ahead` weeks on (inside `/timeoff who`'s window for 1), no US/CA holiday."""
    import holidays

    today = local_today("America/Los_Angeles")
    monday = today + timedelta(days=7 - today.weekday()) + timedelta(weeks=weeks_ahead - 1)
    days_off = holidays.country_holidays("US", subdiv="CA", years=range(monday.year, monday.year + 2))
    while monday in days_off or monday + timedelta(days=3) in days_off:
        monday += timedelta(days=7)
    return monday


@pytest.fixture(autouse=True)
def exports_elsewhere(settings, tmp_path):
    settings.LEDGER_EXPORT_DIR = tmp_path / "exports"
    return settings.LEDGER_EXPORT_DIR


@pytest.fixture
def logs(caplog):
    """Every record at every level as caplog holds it (the loggers production quiets stay as production
    sets them: slack_sdk at INFO, django.tasks at WARNING), and what the configured console handler writes
    (the JSON formatter, after the redaction filter). Call `.start()` once the configuration is installed."""
    handler = logging.getHandlerByName("console")
    buffer = io.StringIO()

    class Logs:
        started = False

        def start(self):
            caplog.clear()
            buffer.seek(0)
            buffer.truncate()
            self.started = True

        def lines(self) -> list[tuple[str, str]]:
            """(where, text) of every record and every line written."""
            assert self.started
            found = []
            for record in caplog.records:
                fields = {key: value for key, value in record.__dict__.items() if key not in ("exc_info", "exc_text")}
                text = record.getMessage() + "\n" + json.dumps(fields, default=str, ensure_ascii=False)
                if record.exc_text:  # the traceback as written (the console handler's filter sets it)
                    text += "\n" + record.exc_text
                elif record.exc_info:
                    text += "\n" + logging.Formatter().formatException(record.exc_info)
                found.append((f"{record.name} {record.levelname}: {record.getMessage()[:120]}", text))
            found += [("console handler", line) for line in buffer.getvalue().splitlines()]
            return found

        def matching(self, pattern: re.Pattern) -> list[str]:
            return [f"{where} [{match.group(0)}]" for where, text in self.lines() if (match := pattern.search(text))]

    caplog.set_level(logging.DEBUG)
    previous = handler.setStream(buffer)
    yield Logs()
    handler.setStream(previous)


def staff(django_user_model, username: str, *permissions: str, is_staff: bool = True) -> Client:
    user = django_user_model.objects.create_user(username, f"{username}@example.com", "pw-long-enough-1",
                                                 is_staff=is_staff)
    user.user_permissions.set(Permission.objects.filter(codename__in=permissions))
    browser = Client()
    browser.force_login(user)
    browser.raise_request_exception = False
    return browser


def receipt_of(fake_slack, user=ALICE):
    """The requester's latest DM with buttons (a receipt)."""
    return [c for c in fake_slack.calls("chat.postMessage") if c.params.get("channel") == user
            and c.response.get("ok") and any(b.get("type") == "actions" for b in c.params.get("blocks") or [])][-1]


def current_blocks(fake_slack, receipt) -> list[dict]:
    updates = [c for c in fake_slack.calls("chat.update") if c.params["channel"] == receipt.response["channel"]
               and c.params["ts"] == receipt.response["ts"]]
    return (updates[-1].params if updates else receipt.params)["blocks"]


def press_on_receipt(client, fake_slack, receipt, action_id: str):
    return press(client, ALICE, current_blocks(fake_slack, receipt), action_id,
                 channel=receipt.response["channel"], ts=receipt.response["ts"])


def metric_label_values(text: str) -> list[tuple[str, str]]:
    """(series, label value) of every labelled sample in a Prometheus text scrape."""
    found = []
    for line in text.splitlines():
        if line.startswith("#") or "{" not in line:
            continue
        series, labels = line.split("{", 1)
        for value in re.findall(r'="((?:[^"\\]|\\.)*)"', labels.rsplit("}", 1)[0]):
            found.append((series, value))
    return found


# --- Logs: every flow a person goes through ------------------------------------------------------


def test_no_log_line_holds_a_note_a_reject_reason_or_a_private_type_through_requests_decisions_and_changes(
        client, fake_slack, logs):
    install_config(private_config())
    monday = next_monday()
    logs.start()

    # A medical appointment with a note, rejected with a reason.
    request_time_off(client, fake_slack, ALICE, leave_type="medical", note=NOTE, start=monday, end=monday)
    [rejected] = posted_requests(fake_slack)
    reject_in_the_channel(client, fake_slack, BOB, rejected, REASON)
    assert REASON in json.dumps([c.params for c in fake_slack.calls("chat.postMessage") if c.params["channel"] == ALICE]
                                + [c.params for c in fake_slack.calls("chat.update")])  # Alice is told why

    # Vacation on Thursday, edited into sick leave on Thursday-Friday with another note, then cancelled.
    thursday = monday + timedelta(days=3)
    request_time_off(client, fake_slack, ALICE, leave_type="vacation", note=NOTE, start=thursday, end=thursday)
    receipt = receipt_of(fake_slack)
    press_on_receipt(client, fake_slack, receipt, ids.EDIT_ACTION)
    form = fake_slack.last_call("views.open").params["view"]
    form = json.loads(form) if isinstance(form, str) else form
    edited = post_interaction(client, view_submission_payload(
        user_id=ALICE, view=form, values=request_values("sick", thursday, thursday + timedelta(days=1),
                                                        note=EDITED_NOTE), view_id="V_EDIT_SICK"))
    assert edited.status_code == 200 and edited.content == b"", edited.content
    press_on_receipt(client, fake_slack, receipt, ids.CANCEL_ACTION)
    assert "will not be out" in [c.params["text"] for c in fake_slack.calls("chat.postMessage")
                                 if c.params["channel"] == C_ENG][-1]

    # A medical appointment the week after, approved, and another withdrawn while pending.
    later = next_monday(weeks_ahead=2)
    request_time_off(client, fake_slack, ALICE, leave_type="medical", note=NOTE, start=later, end=later)
    approved = posted_requests(fake_slack)[-1]
    assert click(client, fake_slack, BOB, ids.APPROVE_ACTION, approved).status_code == 200
    request_time_off(client, fake_slack, ALICE, leave_type="medical", note=NOTE, start=later + timedelta(days=1),
                     end=later + timedelta(days=1))
    press_on_receipt(client, fake_slack, receipt_of(fake_slack), ids.WITHDRAW_ACTION)

    # Everyone looks, and the daily jobs run (digest, reminders, out-today posts, nudges).
    post_command(client, "list", user_id=ALICE)
    post_command(client, "who", user_id=DAVE, channel_id=C_ENG)
    open_app_home(client, fake_slack, ALICE, "Ev_alice_home")
    open_app_home(client, fake_slack, BOB, "Ev_bob_home")
    for offset in range(-3, 2):
        run_jobs(datetime.combine(monday + timedelta(days=offset), time(10, 0), tzinfo=LA))

    assert len(posted_requests(fake_slack)) == 4
    assert logs.lines(), "nothing was logged: the flows did not run"
    assert any(where == "console handler" for where, _ in logs.lines()), "the JSON console handler wrote nothing"
    assert logs.matching(TYPED) == [], "what people typed is in the logs"
    assert logs.matching(PRIVATE_TYPE) == [], "a private leave type is named in the logs"


def test_giving_up_after_slack_refusals_and_5xx_logs_and_shows_staff_neither_the_note_nor_the_private_type(
        client, fake_slack, logs, no_backoff, django_user_model):
    install_config(private_config())
    monday = next_monday()
    real_handle = fake_slack.handle
    refusing = {"approvals": True}

    def refusing_the_approvals_channel(name, params, headers):
        if name == "chat.postMessage" and params.get("channel") == C_ENG_APPROVALS and refusing["approvals"]:
            return 200, {}, {"ok": False, "error": "not_in_channel"}
        if name == "chat.postMessage" and params.get("channel") == C_ENG:
            return 200, {}, {"ok": False, "error": "channel_not_found"}  # the announcement refused for good
        return real_handle(name, params, headers)

    fake_slack.handle = refusing_the_approvals_channel
    logs.start()
    try:
        # Refused for good: the request never reaches its approvers (a delivery problem for HR).
        request_time_off(client, fake_slack, ALICE, leave_type="medical", note=NOTE, start=monday, end=monday)
        # Sick leave is recorded, but its announcement is refused for good (a follow-up problem).
        refusing["approvals"] = False
        thursday = monday + timedelta(days=3)
        request_time_off(client, fake_slack, ALICE, leave_type="sick", note=NOTE, start=thursday, end=thursday)
        # Slack answering 500 to every post of a third request, until the delivery gives up.
        fake_slack.server_error("chat.postMessage", status=500, times=None)
        request_time_off(client, fake_slack, ALICE, leave_type="medical", note=NOTE, start=monday + timedelta(days=1),
                         end=monday + timedelta(days=1))
    finally:
        del fake_slack.handle

    from approvals.models import DeliveryProblem

    assert DeliveryProblem.objects.exists(), "the refusals were not recorded for HR"
    assert logs.matching(TYPED) == [], "what Alice typed is in the logs of a give-up"
    assert logs.matching(PRIVATE_TYPE) == [], "a private leave type is named in the logs of a give-up"

    # Any staff account reads the Setup page's delivery problems; one allowed to read problems reads the admin's.
    nobody_special = staff(django_user_model, "sam")
    watcher = staff(django_user_model, "vera", "view_deliveryproblem")
    pages = {"setup (staff)": nobody_special.get("/console/setup/"),
             "setup (watcher)": watcher.get("/console/setup/"),
             "admin problems": watcher.get("/admin/approvals/deliveryproblem/")}
    pages.update({f"admin problem {p.pk}": watcher.get(f"/admin/approvals/deliveryproblem/{p.pk}/change/")
                  for p in DeliveryProblem.objects.all()})
    assert {name: page.status_code for name, page in pages.items()} == {name: 200 for name in pages}
    shown = {name: page.content.decode() for name, page in pages.items()}
    assert [name for name, html in shown.items() if TYPED.search(html)] == [], "a note is shown to staff"
    assert [name for name, html in shown.items() if re.search(r"Medical appointment|Sick leave|:hospital:", html)] \
        == [], "a private type is named to staff who may not see leave records"


def test_the_setup_check_the_ledger_csv_the_nightly_export_and_an_adjustment_log_no_reason_or_private_type(
        client, fake_slack, logs, django_user_model):
    install_config(private_config())
    monday = next_monday()
    request_time_off(client, fake_slack, ALICE, leave_type="medical", note=NOTE, start=monday, end=monday)
    hr = staff(django_user_model, "hannah", "view_leave_records", "record_adjustment")
    logs.start()

    checked = hr.post("/console/setup/check", follow=True)
    assert checked.status_code == 200
    csv_file = hr.get("/console/ledger/", {"year": str(monday.year), "download": "1"})
    hr.get("/console/ledger/", {"year": str(monday.year), "download": "1"})  # once the ledger is warm
    adjusted = hr.post("/console/balances/adjust", {"user": "alice@example.com", "leave_type": "medical",
                                                     "days": "2", "year": str(monday.year),
                                                     "reason": ADJUSTMENT_REASON})
    assert adjusted.status_code == 302, adjusted.content.decode()[-2000:]
    run_jobs(datetime.combine(monday - timedelta(days=1), time(2, 30), tzinfo=UTC))  # the nightly export

    assert csv_file.status_code == 200
    assert logs.lines()
    assert logs.matching(TYPED) == [], "a note or an adjustment's reason is in the logs"
    assert logs.matching(PRIVATE_TYPE) == [], "a private leave type is named in the logs"


# --- Metrics -------------------------------------------------------------------------------------


def test_no_metric_label_holds_a_person_a_team_a_note_or_a_private_type(client, fake_slack, settings, no_backoff):
    install_config(private_config())
    monday = next_monday()
    request_time_off(client, fake_slack, ALICE, leave_type="medical", note=NOTE, start=monday, end=monday)
    [posted] = posted_requests(fake_slack)
    reject_in_the_channel(client, fake_slack, BOB, posted, REASON)
    request_time_off(client, fake_slack, ALICE, leave_type="sick", note=NOTE, start=monday, end=monday)
    post_command(client, "who Engineering", user_id=DAVE)
    open_app_home(client, fake_slack, BOB, "Ev_bob_metrics")
    run_jobs(datetime.combine(monday, time(10, 0), tzinfo=LA))
    fake_slack.fail("chat.postMessage", "not_in_channel", times=None)  # and a request Slack refuses for good
    request_time_off(client, fake_slack, ALICE, leave_type="medical", note=NOTE, start=monday + timedelta(days=1),
                     end=monday + timedelta(days=1))

    settings.METRICS_TOKEN = "a-metrics-token-long-enough"
    with_token = client.get("/metrics", headers={"Authorization": f"Bearer {settings.METRICS_TOKEN}"})
    settings.METRICS_TOKEN = ""
    closed = client.get("/metrics")  # production: DEBUG off
    settings.DEBUG = True
    open_on_a_laptop = client.get("/metrics")

    assert (with_token.status_code, closed.status_code, open_on_a_laptop.status_code) == (200, 404, 200)
    assert "U_ALICE" not in closed.content.decode() and "Engineering" not in closed.content.decode()
    for scrape in (with_token, open_on_a_laptop):
        text = scrape.content.decode()
        assert "timeoff_http_requests_total" in text and "timeoff_slack_api_calls_total" in text
        values = metric_label_values(text)
        assert values
        assert [(s, v) for s, v in values if any(who in v for who in PEOPLE_AND_TEAMS)] == [], "a person or a team"
        assert [(s, v) for s, v in values if TYPED.search(v)] == [], "what people typed"
        assert [(s, v) for s, v in values if PRIVATE_TYPE.search(v)] == [], "a private leave type"
        assert [(s, v) for s, v in values if re.search(r"\b[UWTCDG][A-Z0-9_]{6,}\b", v)] == [], "a Slack id"


# --- Errors in production ------------------------------------------------------------------------


@pytest.fixture
def secrets_configured(settings):
    """Every kind of secret the README lists, configured (and long enough to be redacted)."""
    settings.DEBUG = False
    settings.METRICS_TOKEN = "metrics-token-" + "7" * 20
    settings.SENTRY_DSN = "https://0123456789abcdef0123@o1.ingest.sentry.io/42"
    settings.SLACK_APP_TOKEN = "xapp-1-A0TEST-123-" + "a" * 30
    with pytest.warns(UserWarning, match="Overriding setting DATABASES"):
        settings.DATABASES = {**settings.DATABASES, "reports": {"ENGINE": "django.db.backends.postgresql",
                                                                "PASSWORD": "db-password-hunter2-x"}}
    settings.SECRET_KEY = "django-insecure-secret-key-" + "k" * 30
    return [settings.SLACK_BOT_TOKEN, settings.SLACK_SIGNING_SECRET, settings.SLACK_APP_TOKEN, settings.SECRET_KEY,
            settings.METRICS_TOKEN, "db-password-hunter2-x", settings.SENTRY_DSN]


def failing_with_every_secret(secrets):
    def fail(*args, **kwargs):
        raise RuntimeError("could not go on: " + " ".join(secrets) + f" note={NOTE}")

    return fail


def test_a_500_on_a_console_page_or_a_slack_endpoint_shows_no_secret_and_no_traceback(
        client, fake_slack, monkeypatch, secrets_configured, django_user_model, logs):
    from approvals import console_see_views
    from slackbot import routing

    install_config(private_config())
    monkeypatch.setattr(console_see_views, "current_config", failing_with_every_secret(secrets_configured))
    monkeypatch.setattr(routing, "dispatch_command", failing_with_every_secret(secrets_configured))
    hr = staff(django_user_model, "hannah", "view_leave_records")
    client.raise_request_exception = False
    logs.start()

    responses = {"console": hr.get("/console/whos-out/"),
                 "slack command": post_command(client, "", user_id=ALICE)}

    for where, response in responses.items():
        body = response.content.decode()
        assert response.status_code == 500, (where, response.status_code)
        assert [secret for secret in secrets_configured if secret in body] == [], where
        assert "Traceback" not in body and "RuntimeError" not in body and "could not go on" not in body, where
        assert "Chemo" not in body, where
    # The traceback goes to the log, with every secret redacted.
    written = "\n".join(text for where, text in logs.lines() if where == "console handler")
    assert "could not go on" in written
    assert [secret for secret in secrets_configured if secret in written] == []


def test_slack_errors_that_echo_a_token_or_a_url_holding_one_are_logged_without_it(
        client, fake_slack, settings, logs, no_backoff):
    install_config(private_config())
    token = settings.SLACK_BOT_TOKEN
    echoed = {"response_metadata": {"messages": [
        f"[ERROR] token {token} is not valid for this workspace",
        f"[ERROR] see https://slack.com/api/auth.test?token={token}&pretty=1"]},
        "warning": f"superfluous_charset; token={token}", "needed": f"https://hooks.slack.com/x?t={token}"}
    fake_slack.fail("chat.postMessage", "invalid_auth", times=None, **echoed)
    fake_slack.fail("views.publish", "invalid_auth", times=None, **echoed)
    fake_slack.fail("conversations.history", "invalid_auth", times=None, **echoed)
    logs.start()

    request_time_off(client, fake_slack, ALICE, leave_type="medical", note=NOTE, start=next_monday(),
                     end=next_monday())
    open_app_home(client, fake_slack, BOB, "Ev_bob_refused") if fake_slack.calls("views.publish") else None
    with pytest.raises(CommandError):  # the jobs cannot read the ledger: Slack refuses the token
        run_jobs(datetime.combine(next_monday(), time(10, 0), tzinfo=LA))

    assert [c for c in fake_slack.calls("chat.postMessage") if c.response.get("error") == "invalid_auth"]
    lines = logs.lines()
    assert any("invalid_auth" in text for _, text in lines), "the refusal was not logged"
    assert [where for where, text in lines if token in text] == [], "the bot token is in the logs"
    assert [where for where, text in lines if "xoxb-" in text] == []
    assert logs.matching(TYPED) == [] and logs.matching(PRIVATE_TYPE) == []


# --- The console for staff without the permission, and for accounts that are not staff -----------


def test_staff_without_the_leave_records_permission_see_no_note_or_private_type_anywhere_in_the_console(
        client, fake_slack, django_user_model):
    install_config(private_config())
    monday = next_monday()
    request_time_off(client, fake_slack, ALICE, leave_type="medical", note=NOTE, start=monday, end=monday)
    [posted] = posted_requests(fake_slack)
    assert click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted).status_code == 200
    request_time_off(client, fake_slack, ALICE, leave_type="sick", note=NOTE, start=monday + timedelta(days=2),
                     end=monday + timedelta(days=2))
    # The console's ledger warms: someone who may read it opens it first.
    reader = staff(django_user_model, "hannah", "view_leave_records")
    assert reader.get("/console/whos-out/").status_code == 200
    full_csv = reader.get("/console/ledger/", {"year": str(monday.year), "download": "1"})
    assert full_csv.status_code == 200 and "medical" in full_csv.content.decode()  # HR's copy names the type

    # Staff with every other permission HR hands out, but not "view leave records".
    others = Permission.objects.filter(content_type__app_label="approvals").exclude(codename="view_leave_records")
    busy = staff(django_user_model, "olga", *others.values_list("codename", flat=True))
    year = str(monday.year)
    urls = ["/console/", "/console/whos-out/", "/console/whos-out/?team=Engineering&weeks=4",
            f"/console/ledger/?year={year}&download=1", f"/console/balances/?team=Engineering&year={year}",
            f"/console/balances/?team=Engineering&year={year}&download=1", "/console/balances/adjust",
            f"/console/balances/adjust?user={ALICE}", "/console/search/?q=alice", "/console/search/suggest?q=ali",
            "/console/setup/", "/console/history/", "/console/leave/record", "/admin/",
            "/admin/approvals/deliveryproblem/"]
    pages = {url: busy.get(url) for url in urls}
    # Pages about the configuration name every leave type (olga may view leave types): none names a person's.
    CONFIGURATION_PAGES = {"/console/leave/record", "/console/balances/adjust", f"/console/balances/adjust?user={ALICE}",
                           "/console/history/"}
    assert pages["/console/whos-out/"].status_code == 200 and "Alice" in pages["/console/whos-out/"].content.decode()
    assert {url: pages[url].status_code for url in urls if "/ledger/" in url or "/balances/?" in url} == {
        url: 403 for url in urls if "/ledger/" in url or "/balances/?" in url}
    shown = {url: page.content.decode() for url, page in pages.items()}
    assert [url for url, html in shown.items() if TYPED.search(html)] == [], "a note shown"
    assert [url for url, html in shown.items() if re.search(r"Medical appointment|Sick leave|:hospital:", html)
            and url not in CONFIGURATION_PAGES] == [], \
        "a private type named against someone"


def test_an_account_without_staff_status_gets_nothing_of_anyones_leave(client, fake_slack, django_user_model):
    install_config(private_config())
    monday = next_monday()
    request_time_off(client, fake_slack, ALICE, leave_type="medical", note=NOTE, start=monday, end=monday)
    everything = Permission.objects.filter(content_type__app_label="approvals")
    employee = staff(django_user_model, "eve", *everything.values_list("codename", flat=True), is_staff=False)
    year = str(monday.year)
    urls = ["/console/", "/console/whos-out/", f"/console/ledger/?year={year}&download=1",
            f"/console/balances/?team=Engineering&year={year}&download=1", "/console/balances/adjust",
            "/console/search/?q=alice", "/console/search/suggest?q=ali", "/console/setup/", "/console/history/",
            "/console/leave/record", "/console/file/download", "/admin/", "/admin/approvals/deliveryproblem/",
            "/admin/django_tasks_database/dbtaskresult/", "/metrics"]
    pages = {url: employee.get(url) for url in urls}
    answered = {url: page.status_code for url, page in pages.items()}
    assert all(status in (302, 401, 403, 404) for status in answered.values()), answered
    for url, page in pages.items():
        if page.status_code == 302:
            assert "/login" in page["Location"], (url, page["Location"])
        body = page.content.decode()
        assert "Alice" not in body and not TYPED.search(body) and not PRIVATE_TYPE.search(body), url

