"""The daily jobs, for the tests: ledger entries put straight into the fake Slack, `run_jobs` at an
instant, and what the jobs posted."""

from datetime import datetime
from io import StringIO

from django.core.management import call_command

from approvals.ledger_format import request_metadata
from approvals.rules import LedgerEntry
from fake_slack.personas import C_ENG_APPROVALS


def post_entry(fake_slack, record: LedgerEntry, *, channel=C_ENG_APPROVALS, ts: str | None = None) -> str:
    """A request message in the approvals channel, as our bot posts it; returns its ts."""
    message = fake_slack.workspace.post_message(channel, f"<@{record.user}> requests time off",
                                                metadata=request_metadata(record), ts=ts)
    return message.ts


def run_jobs(moment: datetime, *args: str) -> str:
    """`manage.py run_jobs --at moment [args]`; what it printed."""
    out = StringIO()
    call_command("run_jobs", "--at", moment.isoformat(), *args, stdout=out)
    return out.getvalue()


def posts_in(fake_slack, channel: str) -> list[dict]:
    """The messages posted to `channel` that Slack took."""
    return [call.params for call in fake_slack.calls("chat.postMessage")
            if call.params.get("channel") == channel and call.response.get("ok")]
