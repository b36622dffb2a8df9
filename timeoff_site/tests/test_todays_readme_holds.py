"""Today's README sentences, each played the way the person it speaks of meets it.

The README lines changed today (`git diff b09c5c9..HEAD -- README.md`) that no test pinned yet: an employee
types `/timeoff` or presses a button (signed, Slack-shaped requests to the endpoints), HR reads the Setup
page in the console, an operator runs `manage.py export_config` in a shell. What people are told is read
off the fake Slack Web API's wire; the app learns who people are as it would in use (the Setup check, a
task asking `users.info`), never by writing its cache.
"""

import json
import os
import shutil
import subprocess
import sys
from dataclasses import replace
from datetime import date, datetime, time
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings as django_settings
from django.core.management import CommandError

from approvals import block_ids as ids
from approvals.config_types import ApproverSource
from approvals.models import DeliveryProblem
from approvals.rules import LedgerEntry
from fake_slack.personas import C_ENG, C_ENG_APPROVALS, CAROL
from test_support.command_answers import balance_of
from test_support.console_pages import check_slack_again, signed_in_admin
from test_support.flows import (
    ALICE,
    BOB,
    ENGINEERING,
    HR,
    MONDAY,
    WEDNESDAY,
    click,
    dms_to,
    ephemerals_to,
    install_config,
    posted_requests,
    press,
    request_time_off,
    standard_config,
)
from test_support.job_runs import post_entry, posts_in, run_jobs
from test_support.setup_page import alerts
from test_support.slack_faults import failing, failing_each
from test_support.slack_requests import post_command
from test_support.unable_deciders import GINA, PAT, PAYROLL_BOT, add_bot, add_former, add_guest, add_partner

pytestmark = pytest.mark.django_db


ONLY_HR = "Only HR (the fallback approvers) can"
LA = ZoneInfo("America/Los_Angeles")


# --- People Slack describes as unable to decide, as the fake's users.info tells them -------------------


UNABLE = {"guest": add_guest, "bot": add_bot, "deactivated": add_former, "another-organisation": add_partner}


@pytest.fixture
def console(django_user_model, fake_slack):
    """An HR admin signed in to the console, in a browser of their own."""
    return signed_in_admin(django_user_model)


@pytest.fixture(autouse=True)
def export_dir(settings, tmp_path):
    settings.LEDGER_EXPORT_DIR = tmp_path / "exports"  # the nightly export runs with the ledger watch
    return settings.LEDGER_EXPORT_DIR


def cannot_part(page: str) -> str:
    """The list under "Named to decide leave, but they cannot"."""
    start = page.find("Named to decide leave, but they cannot")
    assert start >= 0, "the Setup page does not list who is named to decide but cannot"
    return page[start:start + 4000].split("</ul>")[0]


def answer_text(response) -> str:
    return response.json().get("text", "") if response.content else ""


def said_to(fake_slack, user: str) -> str:
    return " ".join(ephemerals_to(fake_slack, user) + dms_to(fake_slack, user))


# =====================================================================================================
# "Until Slack has described someone, they count as able."
# =====================================================================================================


def test_a_fallback_approver_slack_has_not_described_yet_can_record_leave_for_someone(client, fake_slack):
    """Gina is a guest, but nothing has asked Slack about her yet (no Setup check, no task): the request
    path never waits on Slack to find out, so until then she keeps HR's powers."""
    add_guest(fake_slack)
    install_config(standard_config(fallback_approvers=(HR, GINA)))

    response = post_command(client, f"for <@{ALICE}|alice> {MONDAY} {WEDNESDAY} vacation", user_id=GINA)

    assert response.status_code == 200, response.content
    assert ONLY_HR not in answer_text(response), answer_text(response)
    [opened] = fake_slack.calls("views.open")
    assert json.loads(opened.params["view"]["private_metadata"]) == {"for": ALICE}


# =====================================================================================================
# "… and is not named to people as whom to ask ("ask @Hannah to add you to a team")"
# =====================================================================================================


@pytest.mark.parametrize("kind", ["guest", "bot", "deactivated"])
def test_someone_in_no_team_is_pointed_to_hr_who_can_help_not_to_a_fallback_approver_who_cannot(
        client, fake_slack, console, kind):
    """Carol is in no team. Asking a guest, a bot or an account that has left to add her to a team would
    leave her waiting for nothing: she is pointed to Hannah alone."""
    unable = UNABLE[kind](fake_slack)
    install_config(standard_config(fallback_approvers=(HR, unable)))
    check_slack_again(console)
    fake_slack.clear_calls()

    response = post_command(client, "", user_id=CAROL)
    said = answer_text(response) + " " + said_to(fake_slack, CAROL)

    assert "no team is configured for you" in said.lower(), said
    assert f"<@{HR}>" in said, said
    assert unable not in said, said


def test_when_the_ledger_cannot_be_read_people_are_told_to_ask_hr_who_can_help_not_a_guest(
        client, fake_slack, console):
    """The bot was removed from the approvals channel: Alice's balance cannot be worked out, and she is told
    whom to ask to check it. Gina, a guest named as a fallback approver, can do nothing about it."""
    add_guest(fake_slack)
    install_config(standard_config(fallback_approvers=(HR, GINA)))
    ledger_reads = lambda method, params: method == "conversations.history" and params.get("channel") == C_ENG_APPROVALS
    with failing(fake_slack, ledger_reads, "not_in_channel", times=None):
        check_slack_again(console)  # Slack describes Gina as a guest
        fake_slack.clear_calls()
        text = balance_of(client, fake_slack, ALICE, 2031)

    assert "can't work out your balance" in text, text
    assert f"<@{HR}>" in text, text
    assert GINA not in text, text


# =====================================================================================================
# The Setup page: "someone of another organisation by name when the console's list of people holds them,
# else by Slack id; a bot, or an id Slack has no user for, by id"
# =====================================================================================================


def test_the_setup_page_names_a_bot_fallback_approver_by_its_id(fake_slack, console):
    """A bot has no place in the console's list of people: HR finds it in the configuration by its id."""
    add_bot(fake_slack)
    install_config(standard_config(fallback_approvers=(HR, PAYROLL_BOT)))

    part = cannot_part(check_slack_again(console))

    assert PAYROLL_BOT in part and "bot" in part, part
    assert HR not in part, part


def test_the_setup_page_names_someone_of_another_organisation_by_id_when_the_people_list_lacks_them(
        fake_slack, console):
    """Slack's user list of this workspace does not hold Pat of Globex: the page names him by his Slack id,
    and says why he cannot decide."""
    add_partner(fake_slack)
    install_config(standard_config(fallback_approvers=(HR, PAT)))
    real_handle = fake_slack.handle

    def without_pat(method, params, headers):
        status, extra, body = real_handle(method, params, headers)
        if method == "users.list" and isinstance(body, dict) and body.get("members"):
            body = {**body, "members": [m for m in body["members"] if m.get("id") != PAT]}
        return status, extra, body

    fake_slack.handle = without_pat
    try:
        part = cannot_part(check_slack_again(console))
    finally:
        del fake_slack.handle

    assert PAT in part and "another organisation" in part, part
    assert HR not in part, part


# =====================================================================================================
# "its check has Slack describe everyone named to decide (`users.info`, kept a day; the fallback approvers
# first, up to 100 people a check)"
# =====================================================================================================


def test_a_second_check_the_same_day_does_not_ask_slack_again_about_people_it_described(fake_slack, console):
    """Slack's answers are kept a day: pressing *Check Slack again* twice costs no second round of
    `users.info` for the people already described."""
    add_guest(fake_slack)
    install_config(standard_config(fallback_approvers=(HR, GINA)))
    check_slack_again(console)
    assert {HR, GINA, BOB} <= {c.params.get("user") for c in fake_slack.calls("users.info")}
    fake_slack.clear_calls()

    check_slack_again(console)

    asked_again = {c.params.get("user") for c in fake_slack.calls("users.info")} & {HR, GINA, BOB}
    assert asked_again == set(), asked_again


def test_one_check_asks_slack_about_at_most_100_people_and_the_fallback_approvers_first(fake_slack, console):
    """A configuration naming 150 approvers: one check describes at most 100 of them (Slack's rate limits),
    and the fallback approvers, whose powers hang on it, are among those."""
    many = tuple(f"U0APPR{n:04d}" for n in range(150))
    add_guest(fake_slack)
    team = replace(ENGINEERING, approvers=ApproverSource(users=(BOB, *many)))
    install_config(standard_config(teams=(team,), fallback_approvers=(HR, GINA)))
    fake_slack.clear_calls()

    check_slack_again(console)

    described = [c.params.get("user") for c in fake_slack.calls("users.info")]
    named = {HR, GINA, BOB, *many}
    asked = {user for user in described if user in named}
    assert len(asked) == 100, len(asked)  # everyone named is described, up to 100 a check
    assert {HR, GINA} <= set(described), described[:10]


# =====================================================================================================
# The removed teams' requests: "no fallback approver is set, those set cannot decide (… are guests …)"
# =====================================================================================================


def test_the_setup_page_says_nobody_decides_a_removed_teams_request_when_the_only_fallback_approver_is_a_guest(
        fake_slack, console):
    add_guest(fake_slack)
    install_config(standard_config(fallback_approvers=(GINA,)))
    days = Decimal(3)
    post_entry(fake_slack, LedgerEntry(id="marketing-alice", user=ALICE, team="Marketing", leave_type="vacation",
                                       start=MONDAY, end=WEDNESDAY, start_half=None, end_half=None, days=days,
                                       status="pending", decided_by=None, decided_at=None))

    page = check_slack_again(console)

    assert [text for text in alerts(page) if "Nobody can decide 1 request of Marketing" in text], alerts(page)


# =====================================================================================================
# "A withdrawal, a cancellation or an edit whose rewrite's answer was lost is looked at the same way
# whatever failed after it, and never told as "unchanged" while it may be made."
# =====================================================================================================


class After:
    """The look at the approvals channel that follows a rewrite whose answer was lost."""

    def __init__(self):
        self.seen = False

    def wrote(self, method, params) -> bool:
        if method == "chat.update" and params.get("channel") == C_ENG_APPROVALS:
            self.seen = True
            return True
        return False

    def look(self, method, params) -> bool:
        return self.seen and method == "conversations.history" and params.get("channel") == C_ENG_APPROVALS


def test_a_cancellation_made_though_its_answer_was_lost_is_never_called_unchanged_when_the_look_is_refused(
        client, fake_slack, no_sleeping):
    """Alice cancels approved leave from her receipt; Slack makes the rewrite each time but every answer
    is lost, and the last look at the channel is refused for good. The leave is cancelled in Slack: she
    must not be told it is unchanged (she would cancel again, or plan around leave she no longer has)."""
    install_config()
    request_time_off(client, fake_slack, ALICE)
    [posted] = posted_requests(fake_slack)
    click(client, fake_slack, BOB, ids.APPROVE_ACTION, posted)
    [receipt] = [m for m in fake_slack.workspace.messages(ALICE) if "approved your request for" in m.text]
    after = After()
    with failing_each(fake_slack, (after.wrote, "answer_lost", 4), (after.look, "some_new_error", None)):
        press(client, ALICE, receipt.blocks, ids.CANCEL_ACTION, channel=receipt.channel, ts=receipt.ts)

    [request] = [m for m in fake_slack.workspace.messages(C_ENG_APPROVALS)
                 if (m.metadata or {}).get("event_type") == "timeoff_request"]
    assert request.metadata["event_payload"]["status"] == "cancelled"  # Slack holds the cancellation
    notes = [m.text for m in fake_slack.workspace.messages(ALICE)] + \
        [e.text for e in fake_slack.workspace.ephemerals if e.user == ALICE]
    assert not [text for text in notes if "unchanged" in text.lower()], notes


# =====================================================================================================
# "A Slack fault that passes is not an answer": `rate_limited`, `team_added_to_org` on a member look-up
# =====================================================================================================


@pytest.mark.parametrize("error", ["team_added_to_org", "rate_limited", "service_unavailable", "request_timeout"])
def test_a_member_look_up_meeting_a_passing_fault_never_tells_alice_she_is_in_no_team(client, fake_slack,
                                                                                      no_sleeping, error):
    """Slack cannot list Engineering's members for a moment (the workspace moving into an Enterprise Grid
    org, say): Alice's request is accepted, checked once Slack answers, and reaches Bob once."""
    install_config()
    members = lambda method, params: method == "conversations.members" and params.get("channel") == C_ENG
    with failing(fake_slack, members, error, times=2) as met:
        request_time_off(client, fake_slack, ALICE)

    assert met, "the member look-up was never made"
    said = said_to(fake_slack, ALICE)
    assert "no team is configured" not in said.lower(), said
    assert "did not reach" not in said, said
    assert len(posted_requests(fake_slack)) == 1


# =====================================================================================================
# "deleted (tried three times within the call after a passing fault; a delete whose answer was lost and
# that finds the message gone has worked)"
# =====================================================================================================


def test_a_post_without_its_metadata_whose_delete_answer_was_lost_is_gone_and_told_once(client, fake_slack,
                                                                                       no_sleeping, monkeypatch):
    from approvals import ledger

    install_config()
    real_metadata = ledger.request_metadata
    monkeypatch.setattr(ledger, "request_metadata",
                        lambda entry: {**real_metadata(entry), "event_type": "timeoff request!"})  # Slack drops it
    with failing(fake_slack, lambda method, params: method == "chat.delete", "answer_lost") as met:
        request_time_off(client, fake_slack, ALICE, note="Ski week")

    assert met
    assert fake_slack.workspace.messages(C_ENG_APPROVALS) == []  # no message that looks like a request
    told = [text for text in dms_to(fake_slack, ALICE) if "did not reach" in text]
    assert len(told) == 1, dms_to(fake_slack, ALICE)
    problems = list(DeliveryProblem.objects.values_list("error", flat=True))
    assert problems == ["metadata_dropped"], problems


# =====================================================================================================
# Setup: jobs refused for good: "the next run is tried as usual"
# =====================================================================================================


def test_after_an_out_today_post_is_refused_the_next_days_post_is_tried_and_made(fake_slack):
    """Someone restricted posting in #engineering on Tuesday; HR lifted it. Wednesday's "out today" is
    posted: one refusal does not stop the job for good."""
    install_config(standard_config(teams=(replace(ENGINEERING, digest_time=time(9, 0)),)))
    tuesday, wednesday = date(2031, 3, 11), date(2031, 3, 12)
    post_entry(fake_slack, LedgerEntry(id="out-two-days", user=ALICE, team="Engineering", leave_type="vacation",
                                       start=tuesday, end=wednesday, start_half=None, end_half=None,
                                       days=Decimal(2), status="approved", decided_by=BOB))
    to_announce = lambda method, params: method == "chat.postMessage" and params.get("channel") == C_ENG
    with failing(fake_slack, to_announce, "restricted_action", times=None) as met:
        with pytest.raises(CommandError):
            run_jobs(datetime(2031, 3, 11, 9, 0, tzinfo=LA), "--team", "Engineering")
    assert len(met) == 1

    run_jobs(datetime(2031, 3, 12, 9, 0, tzinfo=LA), "--team", "Engineering")

    posted = posts_in(fake_slack, C_ENG)
    assert len(posted) == 1 and f"<@{ALICE}>" in posted[0]["text"], posted


# =====================================================================================================
# export_config: "An export that cannot be written (a full disk, a folder that is not there, standard
# output closed) says so in one line on stderr and exits with status 1"
# =====================================================================================================

BASE_DIR = Path(django_settings.BASE_DIR)
PYTHON = str(BASE_DIR / ".venv" / "bin" / "python") if (BASE_DIR / ".venv" / "bin" / "python").exists() \
    else sys.executable


def command_env(database: Path) -> dict:
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/tmp"),
        "DJANGO_SETTINGS_MODULE": "timeoff_site.test_settings", "ENV_FILE": "",
        "DATABASE_URL": f"sqlite:///{database}", "TASKS_BACKEND": "immediate", "LOG_FORMAT": "text",
        "LEDGER_EXPORT_DIR": str(database.parent / "exports"), "SLACK_API_URL": "http://127.0.0.1:9/api/",
    }


@pytest.fixture(scope="module")
def migrated_template(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("migrated") / "template.sqlite3"
    result = subprocess.run([PYTHON, "manage.py", "migrate", "--no-input"], cwd=BASE_DIR, env=command_env(path),
                            capture_output=True, text=True, timeout=180, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stderr[-3000:]
    return path


@pytest.fixture
def database(migrated_template, tmp_path) -> Path:
    path = tmp_path / "timeoff.sqlite3"
    shutil.copyfile(migrated_template, path)
    return path


def said_in_one_line_with_status_one(returncode: int, stderr: str, phrase: str) -> None:
    # A backup from cron: the operator's mail must say plainly that no backup was written.
    assert "Traceback" not in stderr, stderr[-3000:]
    assert returncode == 1, (returncode, stderr[-3000:])
    assert len(stderr.strip().splitlines()) == 1, stderr
    assert phrase in stderr, stderr


def test_export_config_into_a_folder_that_is_not_there_says_so_in_one_line(database, tmp_path):
    result = subprocess.run([PYTHON, "manage.py", "export_config", str(tmp_path / "missing" / "config.json")],
                            cwd=BASE_DIR, env=command_env(database), capture_output=True, text=True, timeout=30,
                            stdin=subprocess.DEVNULL)

    said_in_one_line_with_status_one(result.returncode, result.stderr, "cannot write the file")


def test_export_config_to_a_pipe_whose_reader_has_gone_says_so_in_one_line(database):
    """`export_config | ssh backup 'cat > config.json'` with the far end gone: a closed pipe."""
    process = subprocess.Popen([PYTHON, "manage.py", "export_config"], cwd=BASE_DIR, env=command_env(database),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    process.stdout.close()  # nobody reads what it writes
    stderr = process.stderr.read().decode()
    returncode = process.wait(timeout=30)

    said_in_one_line_with_status_one(returncode, stderr, "cannot write the configuration to standard output")


def test_export_config_with_standard_output_closed_says_so_in_one_line(database):
    """`export_config >&-`: standard output closed before the command starts."""
    result = subprocess.run(["/bin/sh", "-c", f"exec >&-; exec '{PYTHON}' manage.py export_config"], cwd=BASE_DIR,
                            env=command_env(database), stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
                            timeout=30)

    said_in_one_line_with_status_one(result.returncode, result.stderr, "standard output")
