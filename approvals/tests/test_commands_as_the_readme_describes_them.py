"""The management commands as README's "Management commands" and "The clock and the daily jobs" describe
them: what an operator types at a shell, in a cron line or a systemd unit.

Each command is run as a process (`.venv/bin/python manage.py …`) where README speaks of exit codes and
what is printed, against a database of its own (migrated once per module, copied per test) and the fake
Slack of the test; or through `call_command` where only the outcome matters. A refusal is a clear
message and a non-zero exit, never a Python traceback; a command run twice does its work once.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import time as clock
from dataclasses import replace
from datetime import date, datetime, time, timezone
from decimal import Decimal
from io import StringIO
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings as django_settings
from django.core.management import CommandError, call_command

from approvals.config_file import dump_config_file
from approvals.models import JobRun
from approvals.rules import LedgerEntry
from fake_slack.personas import C_ENG
from test_support.flows import ALICE, BOB, ENGINEERING, install_config, standard_config
from test_support.job_runs import post_entry, posts_in, run_jobs

BASE_DIR = Path(django_settings.BASE_DIR)
PYTHON = str(BASE_DIR / ".venv" / "bin" / "python") if (BASE_DIR / ".venv" / "bin" / "python").exists() \
    else sys.executable
EXAMPLE_PATH = BASE_DIR / "examples" / "config.example.json"

LA = ZoneInfo("America/Los_Angeles")
ENG = replace(ENGINEERING, digest_time=time(9, 0))
TUESDAY = date(2031, 3, 11)
TUESDAY_DIGEST = datetime(2031, 3, 11, 9, 0, tzinfo=LA)  # Engineering's 09:00 "out today"


# --- A process, as an operator runs one ----------------------------------------------------------


def command_env(database: Path, *, fake_slack=None, exports: Path | None = None, **extra) -> dict:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": os.environ.get("HOME", "/tmp"),
        "DJANGO_SETTINGS_MODULE": "timeoff_site.test_settings", "ENV_FILE": "",
        "DATABASE_URL": f"sqlite:///{database}", "TASKS_BACKEND": "immediate", "LOG_FORMAT": "text",
        "LEDGER_EXPORT_DIR": str(exports or database.parent / "exports"),
        "SLACK_API_URL": fake_slack.api_url if fake_slack else "http://127.0.0.1:9/api/",
    }
    if fake_slack is not None:
        env["SLACK_BOT_TOKEN"] = fake_slack.workspace.bot_token
    env.update(extra)
    return env


def manage(env: dict, *args: str, timeout: float = 20, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([PYTHON, "manage.py", *args], cwd=BASE_DIR, env=env, capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL, **kwargs)


def refused_cleanly(result: subprocess.CompletedProcess, *phrases: str, status: int = 1) -> None:
    """Exit status 1 (2: a usage error, as argparse exits), the reason on stderr, and no Python traceback."""
    output = result.stdout + result.stderr
    assert "Traceback" not in output, output[-3000:]
    assert result.returncode == status, (result.returncode, output[-3000:])
    for phrase in phrases:
        assert phrase in result.stderr, (phrase, result.stderr[-3000:])


@pytest.fixture(scope="module")
def migrated_template(tmp_path_factory) -> Path:
    """A database `manage.py migrate` made, once for the module; each test gets a copy."""
    path = tmp_path_factory.mktemp("migrated") / "template.sqlite3"
    result = manage(command_env(path), "migrate", "--no-input", timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    return path


@pytest.fixture
def database(migrated_template, tmp_path) -> Path:
    path = tmp_path / "timeoff.sqlite3"
    shutil.copyfile(migrated_template, path)
    return path


@pytest.fixture
def engineering_installed(database, fake_slack, tmp_path) -> dict:
    """Engineering (Los Angeles, digest at 09:00) imported with `import_config`, as HR would; the env to run
    commands with."""
    env = command_env(database, fake_slack=fake_slack, exports=tmp_path / "exports")
    config_path = tmp_path / "engineering.json"
    dump_config_file(standard_config(teams=(ENG,)), config_path)
    imported = manage(env, "import_config", str(config_path))
    assert imported.returncode == 0, imported.stderr[-3000:]
    return env


def alice_away_tuesday(fake_slack) -> None:
    post_entry(fake_slack, LedgerEntry(
        id="alice-tuesday", user=ALICE, team="Engineering", leave_type="vacation", start=TUESDAY, end=TUESDAY,
        start_half=None, end_half=None, days=Decimal(1), status="approved", decided_by=BOB))


# --- run_jobs: arguments a cron line may get wrong -------------------------------------------------


@pytest.mark.parametrize("at, phrase", [
    ("tomorrow", "not an ISO 8601 date and time"),
    ("2031-03-11T09:00:00", "give the UTC offset too"),
    ("2031-02-30T09:00:00+00:00", "not an ISO 8601 date and time"),
])
def test_run_jobs_with_an_instant_it_cannot_read_says_why_and_exits_non_zero_without_a_traceback(database, at,
                                                                                               phrase):
    result = manage(command_env(database), "run_jobs", "--at", at)
    refused_cleanly(result, "argument --at", phrase, status=2)  # a usage error, with the command's usage
    assert result.stdout == ""


def test_run_jobs_for_a_team_nobody_is_or_was_called_names_it_and_runs_nothing(engineering_installed, fake_slack):
    alice_away_tuesday(fake_slack)
    result = manage(engineering_installed, "run_jobs", "--at", TUESDAY_DIGEST.isoformat(), "--team", "Marketing")
    refused_cleanly(result, "no team is named 'Marketing'")
    assert posts_in(fake_slack, C_ENG) == []


# --- run_jobs from cron: output, exit codes and once per period ------------------------------------


def test_run_jobs_from_cron_posts_the_digest_once_and_says_so_and_nothing_the_second_time(engineering_installed,
                                                                                          fake_slack):
    alice_away_tuesday(fake_slack)
    first = manage(engineering_installed, "run_jobs", "--at", TUESDAY_DIGEST.isoformat(), "--team", "Engineering")
    assert first.returncode == 0, first.stderr[-3000:]
    assert "out_today Engineering 2031-03-11: 1 out" in first.stdout

    # Cron runs it again five minutes later: the period is done.
    again = manage(engineering_installed, "run_jobs", "--at", "2031-03-11T16:05:00Z", "--team", "Engineering")
    assert again.returncode == 0, again.stderr[-3000:]
    assert again.stdout.strip() == "Nothing due that has not run."
    posts = posts_in(fake_slack, C_ENG)
    assert len(posts) == 1 and ALICE in json.dumps(posts[0])


def test_run_jobs_exits_non_zero_naming_the_failed_job_when_slack_refuses_it_and_does_not_repeat_it(
        engineering_installed, fake_slack):
    alice_away_tuesday(fake_slack)
    fake_slack.fail("chat.postMessage", "channel_not_found", times=None)  # the bot was removed from #eng
    failed = manage(engineering_installed, "run_jobs", "--at", TUESDAY_DIGEST.isoformat(), "--team", "Engineering")
    refused_cleanly(failed, "1 job(s) failed")
    assert "out_today Engineering 2031-03-11: failed: channel_not_found" in failed.stdout

    # A refusal for good is not retried every few minutes (README): the next cron run has nothing to do.
    later = manage(engineering_installed, "run_jobs", "--at", "2031-03-11T09:10:00-07:00", "--team", "Engineering")
    assert later.returncode == 0 and later.stdout.strip() == "Nothing due that has not run."


@pytest.mark.django_db
def test_run_jobs_for_one_team_runs_none_of_the_workspace_wide_jobs(fake_slack, settings, tmp_path):
    settings.LEDGER_EXPORT_DIR = tmp_path / "exports"
    install_config(standard_config(teams=(ENG,)))
    night = datetime(2031, 3, 11, 2, 0, tzinfo=timezone.utc)  # maintenance, ledger watch and export are due

    out = run_jobs(night, "--team", "Engineering")
    assert "maintenance" not in out and "ledger" not in out
    assert not JobRun.objects.filter(team="").exists()
    assert not (tmp_path / "exports").exists() or list((tmp_path / "exports").iterdir()) == []

    everything = run_jobs(night)
    assert "maintenance" in everything and "ledger_export" in everything
    assert (tmp_path / "exports" / "ledger-2031-03-11.csv").exists()


@pytest.mark.django_db
def test_run_jobs_without_at_runs_what_is_due_now_once(fake_slack, settings, tmp_path):
    settings.LEDGER_EXPORT_DIR = tmp_path / "exports"
    install_config(standard_config(teams=(ENG,)))
    first, second = StringIO(), StringIO()
    call_command("run_jobs", stdout=first)
    call_command("run_jobs", stdout=second)
    assert "maintenance" in first.getvalue()  # due every hour: always one
    assert second.getvalue() == "Nothing due that has not run.\n"


@pytest.mark.django_db
@pytest.mark.parametrize("setting", ["REMINDER_TIME", "NUDGE_TIME", "LEDGER_EXPORT_TIME"])
@pytest.mark.parametrize("command", [("run_jobs",), ("run_scheduler", "--once")])
def test_a_job_time_that_is_not_hh_mm_is_named_before_anything_runs(fake_slack, settings, setting, command):
    install_config(standard_config(teams=(ENG,)))
    setattr(settings, setting, "3pm")
    with pytest.raises(CommandError, match=setting):
        call_command(*command, stdout=StringIO())
    assert not JobRun.objects.exists()
    assert fake_slack.calls() == []


# --- run_scheduler: the clock ----------------------------------------------------------------------


@pytest.mark.django_db
def test_two_ticks_of_the_clock_in_one_hour_enqueue_each_job_once(fake_slack, settings, tmp_path):
    settings.LEDGER_EXPORT_DIR = tmp_path / "exports"
    install_config(standard_config(teams=(ENG,)))
    first, second = StringIO(), StringIO()
    call_command("run_scheduler", "--once", stdout=first)
    runs = JobRun.objects.count()
    call_command("run_scheduler", "--once", stdout=second)
    assert first.getvalue() == f"{runs} job(s) enqueued\n" and runs >= 1
    assert second.getvalue() == "0 job(s) enqueued\n"
    assert JobRun.objects.count() == runs


@pytest.mark.parametrize("interval", ["-60", "0"])
def test_the_clock_refuses_an_interval_that_would_make_it_tick_without_pause(database, fake_slack, interval):
    # `--interval -60` (a typo for 60) or 0: every tick would follow the last at once, hammering the
    # database for as long as the clock runs. It should say so and stop, as `--nice 30` does.
    clock_process = subprocess.Popen([PYTHON, "manage.py", "run_scheduler", "--interval", interval], cwd=BASE_DIR,
                                     env=command_env(database, fake_slack=fake_slack), stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
    try:
        stdout, stderr = clock_process.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        clock_process.send_signal(signal.SIGTERM)
        stdout, stderr = clock_process.communicate(timeout=10)
        pytest.fail(f"run_scheduler --interval {interval} was still ticking after 10 s instead of refusing it")
    finally:
        if clock_process.poll() is None:
            clock_process.kill()
            clock_process.wait(5)
    assert clock_process.returncode != 0
    assert "Traceback" not in stdout + stderr
    assert "--interval" in stderr


# --- When the database is not there ----------------------------------------------------------------


@pytest.mark.parametrize("command", [
    ("run_jobs", "--at", "2031-03-11T09:00:00-07:00"),
    ("import_config", str(EXAMPLE_PATH), "--dry-run"),
])
def test_a_command_whose_database_cannot_be_opened_says_so_without_a_traceback(tmp_path, command):
    # A cron line or a systemd unit started before the database is reachable (a wrong DATABASE_URL, a
    # volume not mounted yet): the operator reads one line saying what failed, and the exit is non-zero.
    unreachable = tmp_path / "not-mounted" / "timeoff.sqlite3"
    result = manage(command_env(unreachable), *command)
    refused_cleanly(result)
    assert "database" in result.stderr.lower()


# --- import_config / export_config -----------------------------------------------------------------


def test_import_config_from_a_script_never_waits_for_an_answer_and_removes_nothing_unasked(database, tmp_path):
    env = command_env(database)
    first = manage(env, "import_config", str(EXAMPLE_PATH))
    assert first.returncode == 0, first.stderr[-3000:]
    assert first.stdout.endswith("Imported 3 teams, 4 leave types, 2 holidays, 1 blackout\n")

    again = manage(env, "import_config", str(EXAMPLE_PATH))
    assert again.returncode == 0
    assert again.stdout == "No changes: the configuration already matches the file.\n"

    data = json.loads(EXAMPLE_PATH.read_text())
    data["teams"] = [team for team in data["teams"] if team["name"] != "Operations"]
    smaller = tmp_path / "without-operations.json"
    smaller.write_text(json.dumps(data))
    started = clock.monotonic()
    refused = manage(env, "import_config", str(smaller))  # stdin is not a terminal: nobody to answer
    assert clock.monotonic() - started < 15
    refused_cleanly(refused, "--replace", "not changed")

    exported = manage(env, "export_config")
    assert exported.returncode == 0
    assert [team["name"] for team in json.loads(exported.stdout)["teams"]] == ["Engineering", "Sales", "Operations"]


def test_export_config_into_a_folder_that_does_not_exist_is_a_clear_error(database, tmp_path):
    env = command_env(database)
    target = tmp_path / "missing" / "config.json"
    result = manage(env, "export_config", str(target))
    refused_cleanly(result, "cannot write the file")
    assert not target.exists()


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full here to stand for a full disk")
def test_export_config_to_standard_output_on_a_full_disk_is_one_clear_line_and_exit_status_one(database):
    # `export_config > backup.json` on a full disk: the operator must see that the backup was not written.
    with open("/dev/full", "w") as full:
        result = subprocess.run([PYTHON, "manage.py", "export_config"], cwd=BASE_DIR, env=command_env(database),
                                stdout=full, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True, timeout=20)
    result.stdout = ""
    refused_cleanly(result, "cannot write the configuration to standard output", "No space left on device")
    assert "Exception ignored" not in result.stderr, result.stderr  # nothing more once it said so
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


# --- The other commands' refusals, as an operator meets them ---------------------------------------


@pytest.mark.parametrize("args, environ, phrase", [
    (("slack_manifest", "--url", "http://timeoff.example.com"), {}, "--url must be an https:// base URL"),
    (("slack_socket_mode",), {"SLACK_APP_TOKEN": ""}, "SLACK_APP_TOKEN is not set"),
    (("task_worker", "--no-reload", "--exclude-queues", "slow"), {"TASKS_BACKEND": "database"}, "--exclude-queues can only be used"),
    (("import_config", "/nonexistent/timeoff.json"), {}, "cannot read the file"),
    (("adjust_balance", "U_NOBODY", "vacation", "two", "--year", "2031", "--reason", "carry-over"), {},
     "Balance not adjusted"),
])
def test_each_command_refuses_what_it_cannot_do_with_one_clear_line_and_exit_status_one(database, args, environ,
                                                                                        phrase):
    result = manage(command_env(database, **environ), *args)
    refused_cleanly(result, phrase)


def test_slack_manifest_prints_the_manifest_for_the_public_url_and_exits_zero(database):
    result = manage(command_env(database), "slack_manifest", "--url", "https://timeoff.example.com")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "https://timeoff.example.com/slack/commands" in result.stdout
    assert "https://timeoff.example.com/slack/events" in result.stdout
    first_step = manage(command_env(database), "slack_manifest", "--url", "https://timeoff.example.com",
                        "--without-events")
    assert first_step.returncode == 0
    assert "https://timeoff.example.com/slack/commands" in first_step.stdout
    assert "/slack/events" not in first_step.stdout
