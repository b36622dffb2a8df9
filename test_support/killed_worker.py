"""A task's worker killed for good at one point of its task (SIGKILL, the OOM killer, a lost host), for the
tests of README "A worker dies": the work runs in a thread of its own, stops at the chosen call holding
everything it held, and the test runs the task's service again, as the requeued task would.

"After Slack made X": Slack took the call and the worker never read the answer. "Before": the worker claimed
X and died before the call reached Slack.
"""

import threading
import time
from contextlib import contextmanager

from django.db import connections
from slack_sdk import WebClient


class DyingWorker:
    """A worker that stops for good at one point of its task. `stopped`: it got there; `gone`: the test is
    over, and the thread may end (raising SystemExit: nothing it would have done after that point counts)."""

    def __init__(self):
        self.stopped, self.gone = threading.Event(), threading.Event()
        self.thread: threading.Thread | None = None

    def is_it(self) -> bool:
        return threading.current_thread() is self.thread and not self.stopped.is_set()

    def die(self):
        self.stopped.set()
        self.gone.wait(60)
        raise SystemExit("worker killed")


def dies_after_slack_made(monkeypatch, worker: DyingWorker, method: str, matches) -> None:
    """The worker dies once Slack has made the `method` call whose parameters `matches`, before it reads the
    answer (or marks anything done)."""
    real = getattr(WebClient, method)

    def call_then_die(self, **params):
        response = real(self, **params)
        if worker.is_it() and matches(params):
            worker.die()
        return response

    monkeypatch.setattr(WebClient, method, call_then_die)


def dies_before_slack_made(monkeypatch, worker: DyingWorker, method: str, matches) -> None:
    """The worker dies with the call's claim taken and its note written, before the call reaches Slack."""
    real = getattr(WebClient, method)

    def die_instead(self, **params):
        if worker.is_it() and matches(params):
            worker.die()
        return real(self, **params)

    monkeypatch.setattr(WebClient, method, die_instead)


@contextmanager
def killed_while_running(worker: DyingWorker, work):
    """Run `work` (what a task's worker does) in its own thread until the worker dies; inside the block it
    is dead, and its task is run again by the test."""

    def run():
        try:
            work()
        except BaseException:
            pass
        finally:
            connections.close_all()

    worker.thread = threading.Thread(target=run, daemon=True)
    worker.thread.start()
    try:
        assert worker.stopped.wait(60), "the worker never got to where it dies"
        yield
    finally:
        worker.gone.set()
        worker.thread.join(30)


def recovery_requeues_the_task(settings) -> None:
    """The worker has been silent for TASK_STUCK_AFTER_SECONDS: recovery requeues its task, which runs again.
    (The database cache keeps whole seconds: a second more.)"""
    time.sleep(settings.TASK_STUCK_AFTER_SECONDS + 1)
