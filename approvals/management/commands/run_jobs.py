"""`manage.py run_jobs --at ISO-DATETIME [--team NAME]`: run every job due at that instant, once.

For cron users (run it every few minutes with `--at` omitted: now) and for tests.
Each job runs here, in this process, unless a clock or an earlier run already
claimed it for its period (approvals.job_services); then it does nothing.
"""

import argparse
from datetime import datetime

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from approvals.config_store import current_config
from approvals.config_types import TeamNameUnclear
from approvals.database_timeouts import background_timeouts
from approvals.job_services import job_times, jobs_run_due


def instant(value: str) -> datetime:
    """`--at`'s value. An argparse type: its refusal is argparse's usage error ("argument --at: …", exit 2),
    since Django reads a command's arguments before it catches CommandError, which would be a traceback."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not an ISO 8601 date and time: {value!r} (e.g. 2027-01-04T09:00:00+01:00)") from None
    if moment.tzinfo is None:
        # The example is the instant read back with an offset, not `value` with one appended: a date alone
        # with an offset ("2031-03-10+00:00") is read as a naive midnight, and would be refused again.
        raise argparse.ArgumentTypeError(f"give the UTC offset too, e.g. {moment.isoformat()}+00:00 "
                                         "(jobs are due in each team's zone)")
    return moment


class Command(BaseCommand):
    help = "Run every daily or hourly job due at the given instant (default: now) that has not run for its period."

    def add_arguments(self, parser):
        parser.add_argument("--at", type=instant, default=None,
                            help="ISO 8601 instant with offset, e.g. 2027-01-04T09:00:00+01:00 (default: now)")
        parser.add_argument("--team", default=None, help="Only this team's jobs (no workspace-wide jobs).")

    def handle(self, *args, **options):
        # The jobs run here, as in a task worker: under its bound (approvals/database_timeouts.py).
        with background_timeouts():
            self.run_due(*args, **options)

    def run_due(self, *args, at=None, team=None, **options):
        try:
            job_times()
        except ValueError as exc:
            raise CommandError(f"REMINDER_TIME, NUDGE_TIME or LEDGER_EXPORT_TIME is not HH:MM: {exc}")
        if team is not None:
            # A team's earlier name finds it too (a cron line written before a rename keeps working).
            try:
                team = current_config().team_called(team, any_case=True).name
            except TeamNameUnclear as unclear:
                if unclear.ambiguous:
                    raise CommandError(f"--team: no team is named {team!r} now; "
                                       f"{' and '.join(map(repr, unclear.teams))} were named so before: "
                                       "give one of their names") from None
                raise CommandError(f"--team: no team is named {team!r}, now or before") from None
        outcomes = jobs_run_due(at or timezone.now(), team=team, inline=True)
        for job, outcome in outcomes:
            scope = f" {job.team}" if job.team else ""
            self.stdout.write(f"{job.job}{scope} {job.period}: {outcome}")
        if not outcomes:
            self.stdout.write("Nothing due that has not run.")
        failed = [job for job, outcome in outcomes if outcome.startswith("failed")]
        if failed:
            raise CommandError(f"{len(failed)} job(s) failed; see the log")
