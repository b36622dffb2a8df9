"""Slack half down, for the tests: calls that take effect though their answers are lost."""

from contextlib import contextmanager

from fake_slack.personas import C_ENG_APPROVALS


@contextmanager
def answers_lost(fake_slack, method: str, *, then_unreadable: bool, every_time: bool = False,
                 channel: str = C_ENG_APPROVALS):
    """`method` on `channel` (the approvals channel) takes effect but its answer is a 500, once
    (`every_time`: each time); with `then_unreadable`, every later conversations.history answers 500
    (Slack half down)."""
    real_handle = fake_slack.handle
    acted = []

    def half_down(name, params, headers):
        if name == "conversations.history" and acted and then_unreadable:
            return 500, {}, {"ok": False, "error": "fatal_error"}
        status, extra, body = real_handle(name, params, headers)
        if name == method and params.get("channel") == channel and body.get("ok") and (
                every_time or not acted):
            acted.append(params)
            return 500, extra, {"ok": False, "error": "fatal_error"}
        return status, extra, body

    fake_slack.handle = half_down
    try:
        yield acted
    finally:
        del fake_slack.handle
