"""The demo as bin/run starts it, for tests: `demo_slack`, the web server and the task worker.

Real processes on free ports, with the environment bin/run gives them (DEMO on,
DEBUG on, the placeholder bot token, SLACK_API_URL at the demo's Slack), on the
test database, so what a test drives is what a new user gets.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.error import URLError
from urllib.request import urlopen

import pytest
from django.conf import settings
from django.db import connection

from test_support.browser import SKIP_WITHOUT_CHROMIUM

BASE_DIR = Path(settings.BASE_DIR)
PLACEHOLDER_TOKEN = "xoxb-development-placeholder"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def database_url() -> str:
    db = connection.settings_dict
    if db["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{db['NAME']}"
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"postgres://{db['USER']}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def demo_environment(slack_port: int, **overrides) -> dict:
    return {
        **os.environ,
        "ENV_FILE": "",
        "DJANGO_SETTINGS_MODULE": "timeoff_site.settings",
        "SECRET_KEY": "demo-test-secret-key-0123456789-0123456789-0123456789",
        "DEBUG": "true",
        "DEMO": "true",
        "SLACK_BOT_TOKEN": PLACEHOLDER_TOKEN,
        "SLACK_SIGNING_SECRET": "0123456789abcdef0123456789abcdef",
        "SLACK_API_URL": f"http://127.0.0.1:{slack_port}/api/",
        "DATABASE_URL": database_url(),
        "CACHE_URL": os.environ.get("CACHE_URL", "dbcache://timeoff_cache"),
        "TASKS_BACKEND": "database",
        "LOG_FORMAT": "text",
        "LOG_LEVEL": "WARNING",
        **overrides,
    }


def manage(*args: str, env: dict) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "manage.py", *args], cwd=BASE_DIR, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def wait_until_answers(url: str, process: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args[2]} exited: {process.stdout.read()}")
        try:
            with urlopen(url, timeout=2):
                return
        except URLError as exc:
            if getattr(exc, "code", None):  # an HTTP error is an answer
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer in {seconds} s")


@dataclass
class DemoStack:
    url: str  # the web server, e.g. http://127.0.0.1:PORT
    slack_url: str
    processes: list = field(default_factory=list)

    def stop(self) -> str:
        output = []
        for process in reversed(self.processes):
            if process.poll() is None:
                process.terminate()
            try:
                out, _ = process.communicate(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                out, _ = process.communicate()
            output.append(out or "")
        return "\n".join(output)


def start_demo() -> DemoStack:
    slack_port, web_port = free_port(), free_port()
    env = demo_environment(slack_port)
    stack = DemoStack(url=f"http://127.0.0.1:{web_port}", slack_url=f"http://127.0.0.1:{slack_port}/")
    try:
        slack = manage("demo_slack", env=env)
        stack.processes.append(slack)
        wait_until_answers(f"{stack.slack_url}api/auth.test", slack)
        web = manage("runserver", "--noreload", "--skip-checks", f"127.0.0.1:{web_port}", env=env)
        stack.processes.append(web)
        stack.processes.append(manage("task_worker", "--no-reload", "--no-startup-delay", "--interval", "0.1",
                                      "--queue-name", "*", env=env))
        wait_until_answers(f"{stack.url}/healthz", web)
    except Exception:
        print(stack.stop())
        raise
    return stack


BROWSER_MARKS = (pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True))


def in_a_browser(test):
    """Marks a test that drives the demo in Chromium: slow, on a committed database, skipped without a browser."""
    for mark in (*BROWSER_MARKS, SKIP_WITHOUT_CHROMIUM):
        test = mark(test)
    return test
