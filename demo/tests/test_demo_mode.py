"""The demo runs only where it must: DEMO asked for, DEBUG on, and no real Slack token.

With real credentials or DEBUG off, /demo/ does not exist (404) and `demo_slack`
refuses to start, saying why.
"""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.http import Http404

from demo import views
from demo.company import demo_channel_ids
from demo.tests.demo_stack import BASE_DIR, PLACEHOLDER_TOKEN, demo_environment, free_port

REAL_TOKEN = "xoxb-1234567890-0987654321-realLookingToken"
PROBE = """
import json, django
django.setup()
from django.conf import settings
from django.urls import Resolver404, resolve
try:
    resolve("/demo/")
    routed = True
except Resolver404:
    routed = False
print(json.dumps({"demo": settings.DEMO, "installed": "demo" in settings.INSTALLED_APPS, "routed": routed,
                  "root": resolve("/").url_name}))
"""


def probe(**env) -> dict:
    result = subprocess.run([sys.executable, "-c", PROBE], cwd=BASE_DIR, env=demo_environment(free_port(), **env),
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def demo_slack(*args, **env) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "manage.py", "demo_slack", *args], cwd=BASE_DIR,
                          env=demo_environment(free_port(), **env), capture_output=True, text=True, timeout=60)


def test_the_placeholder_is_the_token_bin_write_dev_env_writes():
    template = (Path(settings.BASE_DIR) / "bin" / "write-dev-env").read_text()
    assert f"SLACK_BOT_TOKEN={settings.DEMO_BOT_TOKEN}\n" in template
    assert PLACEHOLDER_TOKEN == settings.DEMO_BOT_TOKEN
    bin_run = (Path(settings.BASE_DIR) / "bin" / "run").read_text()
    assert f'"$bot_token" = "{settings.DEMO_BOT_TOKEN}"' in bin_run


@pytest.mark.slow
def test_demo_mode_is_on_only_with_debug_and_the_placeholder_token():
    assert probe() == {"demo": True, "installed": True, "routed": True, "root": "demo-root"}  # / leads to it
    assert probe(SLACK_BOT_TOKEN=REAL_TOKEN) == {"demo": False, "installed": True, "routed": False, "root": "root"}
    assert probe(DEBUG="false") == {"demo": False, "installed": True, "routed": False, "root": "root"}
    assert probe(DEMO="false") == {"demo": False, "installed": False, "routed": False, "root": "root"}


@pytest.mark.slow
def test_demo_slack_refuses_to_start_with_real_credentials():
    result = demo_slack(SLACK_BOT_TOKEN=REAL_TOKEN)
    assert result.returncode != 0
    assert "demo.E001" in result.stderr
    assert "SLACK_BOT_TOKEN is a real Slack token" in result.stderr
    assert "never runs with real Slack credentials" in result.stderr
    assert REAL_TOKEN not in result.stdout + result.stderr  # a token never appears in output

    skipped = demo_slack("--skip-checks", SLACK_BOT_TOKEN=REAL_TOKEN)
    assert skipped.returncode != 0
    assert "Refusing to start the demo workspace: SLACK_BOT_TOKEN is a real Slack token" in skipped.stderr


@pytest.mark.slow
def test_demo_slack_refuses_with_debug_off_or_slack_elsewhere():
    result = demo_slack("--skip-checks", DEBUG="false")
    assert result.returncode != 0 and "DEBUG is off" in result.stderr
    result = demo_slack("--skip-checks", SLACK_API_URL="https://slack.com/api/")
    assert result.returncode != 0 and "SLACK_API_URL must point at the demo's fake Slack" in result.stderr


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_demo_slack_does_not_replace_another_workspaces_configuration():
    from dataclasses import replace

    from test_support.flows import ENGINEERING, install_config, standard_config

    install_config(standard_config(teams=(replace(ENGINEERING, approvals_channel="C0REALAPPROVALS"),)))
    port = free_port()
    env = demo_environment(port)
    result = subprocess.run([sys.executable, "manage.py", "demo_slack"], cwd=BASE_DIR, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "holds another workspace's configuration" in result.stderr
    assert "C0REALAPPROVALS" in result.stderr and "--replace-config" in result.stderr

    # The advice works as typed: without DEMO=true the command does not exist, and it serves only on the
    # demo's loopback SLACK_API_URL, the one bin/run gave this run.
    advice = re.search(r"`DEMO=true SLACK_API_URL=(\S+) \.venv/bin/python manage\.py demo_slack --replace-config`",
                       result.stderr)
    assert advice, result.stderr
    assert advice.group(1) == f"http://127.0.0.1:{port}/api/"
    typed = {name: value for name, value in env.items() if name not in ("DEMO", "SLACK_API_URL")}
    typed.update(DEMO="true", SLACK_API_URL=advice.group(1))
    replacing = subprocess.Popen([sys.executable, "manage.py", "demo_slack", "--replace-config"], cwd=BASE_DIR,
                                 env=typed, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        started = next((line for line in replacing.stdout if "Demo Slack workspace on" in line), None)
        assert started, "demo_slack --replace-config did not start"
    finally:
        replacing.terminate()
        replacing.wait(timeout=30)
    # Replaced whole: no team keeps the other workspace's channel among the ones its ledger reads.
    from approvals.config_store import config_from_database
    from approvals.ledger_reader import ledger_channels

    assert "C0REALAPPROVALS" not in ledger_channels(config_from_database())
    assert set(ledger_channels(config_from_database())) <= demo_channel_ids()


@pytest.mark.django_db
def test_demo_is_404_without_demo_mode(client):
    assert settings.DEMO is False
    for path in ("/demo/", "/demo/U_ALICE/", "/demo/poll", "/demo/U_ALICE/command"):
        assert client.get(path).status_code == 404
        assert client.post(path).status_code == 404


@pytest.mark.parametrize("view, args", [
    (views.welcome, ()), (views.channel, ("U_ALICE",)), (views.app_home, ("U_ALICE",)), (views.poll, ()),
])
def test_every_demo_view_refuses_without_demo_mode_even_if_routed(rf, settings, view, args):
    settings.DEMO = False
    with pytest.raises(Http404):
        view(rf.get("/demo/"), *args)


@pytest.mark.parametrize("view, args", [
    (views.command, ("U_ALICE",)), (views.click, ("U_ALICE",)), (views.modal, ("U_ALICE", "V1")),
    (views.open_home, ("U_ALICE",)),
])
def test_every_demo_action_refuses_without_demo_mode_even_if_routed(rf, settings, view, args):
    settings.DEMO = False
    request = rf.post("/demo/", {"text": "/timeoff"})
    request._dont_enforce_csrf_checks = True
    with pytest.raises(Http404):
        view(request, *args)


def test_the_demo_settings_block_is_one_place():
    text = (Path(settings.BASE_DIR) / "timeoff_site" / "settings.py").read_text()
    assert len(re.findall(r"^DEMO = ", text, re.MULTILINE)) == 1
