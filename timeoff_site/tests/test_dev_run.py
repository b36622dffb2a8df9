"""bin/run, the one-command development setup: its .env holds secrets and its server stays on this machine.

The .env is written by bin/write-dev-env (bin/run calls it), so it is tested here
without installing anything or starting a server.
"""

import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
WRITE_DEV_ENV = ROOT / "bin" / "write-dev-env"
RUN = ROOT / "bin" / "run"


def write_dev_env(path: Path, *, umask: int = 0o022) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(WRITE_DEV_ENV), str(path)], capture_output=True, text=True,
                          umask=umask, check=True, timeout=30)


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def settings_in(path: Path) -> dict[str, str]:
    lines = path.read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))


@pytest.mark.parametrize("umask", [0o022, 0o000], ids=["usual-umask", "no-umask"])
def test_it_writes_a_development_env_readable_by_its_owner_only(tmp_path, umask):
    env = tmp_path / ".env"
    result = write_dev_env(env, umask=umask)
    assert mode_of(env) == 0o600
    assert "mode 600" in result.stdout
    values = settings_in(env)
    assert values["DEBUG"] == "true"
    assert values["LOG_FORMAT"] == "text"  # for a person reading the terminal
    assert len(values["SECRET_KEY"]) >= 50
    assert re.fullmatch(r"[0-9a-f]{32}", values["SLACK_SIGNING_SECRET"])
    assert values["SLACK_BOT_TOKEN"].startswith("xoxb-")
    assert values["SECRET_KEY"] not in result.stdout + result.stderr  # secrets are not printed


def test_each_env_gets_its_own_secrets(tmp_path):
    write_dev_env(tmp_path / "one")
    write_dev_env(tmp_path / "two")
    one, two = settings_in(tmp_path / "one"), settings_in(tmp_path / "two")
    assert one["SECRET_KEY"] != two["SECRET_KEY"]
    assert one["SLACK_SIGNING_SECRET"] != two["SLACK_SIGNING_SECRET"]


def test_an_existing_env_is_kept_as_it_is(tmp_path):
    env = tmp_path / ".env"
    env.write_text("SLACK_BOT_TOKEN=xoxb-the-real-one\n")
    env.chmod(0o600)
    result = write_dev_env(env)
    assert env.read_text() == "SLACK_BOT_TOKEN=xoxb-the-real-one\n"
    assert mode_of(env) == 0o600
    assert result.stdout == ""


@pytest.mark.parametrize("loose", [0o644, 0o640, 0o666, 0o604])
def test_an_env_others_can_read_is_tightened_with_a_message(tmp_path, loose):
    env = tmp_path / ".env"
    env.write_text("SLACK_BOT_TOKEN=xoxb-the-real-one\n")
    env.chmod(loose)
    result = write_dev_env(env)
    assert mode_of(env) == 0o600
    assert env.read_text() == "SLACK_BOT_TOKEN=xoxb-the-real-one\n"
    assert f"mode {loose:03o}" in result.stdout and "600" in result.stdout


def test_bin_run_is_valid_bash():
    subprocess.run(["bash", "-n", str(RUN)], check=True, timeout=30)


def commands_of(script: Path) -> list[str]:
    """The script's command lines, without comments or echoed text."""
    lines = (line.strip() for line in script.read_text().splitlines())
    return [line for line in lines if line and not line.startswith(("#", "echo "))]


def test_bin_run_serves_on_the_loopback_interface_only():
    runserver = [line for line in commands_of(RUN) if "manage.py runserver" in line]
    assert runserver == ['.venv/bin/python manage.py runserver "127.0.0.1:${port}"']
    assert 'port="${PORT:-8000}"' in commands_of(RUN)
    assert "0.0.0.0" not in RUN.read_text()


def test_bin_run_writes_the_env_before_using_it_and_runs_our_worker():
    commands = commands_of(RUN)
    position = {name: next(i for i, line in enumerate(commands) if name in line)
                for name in ("bin/setup", "bin/write-dev-env .env", "manage.py migrate", "manage.py task_worker",
                             "manage.py runserver")}
    assert list(position) == sorted(position, key=position.get)
    assert not any("cat > .env" in line for line in commands)  # nobody writes .env but write-dev-env
    assert os.access(WRITE_DEV_ENV, os.X_OK)
