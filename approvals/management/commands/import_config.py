"""`manage.py import_config FILE`: replace the whole configuration with a file (DESIGN §4).

The file is validated as a whole first; on any error every problem is printed
and nothing changes. Then the command prints what will change (the same summary
as the console's upload preview, `approvals.config_diff`) and applies it
atomically. Removing anything (a team made in the admin since the file was
written, say) needs `--replace` or a "yes" at the prompt: issue 10 found a team
silently replaced. `--dry-run` prints the summary and changes nothing.
"""

import sys

from django.core.management.base import BaseCommand, CommandError
from django.db import OperationalError, transaction

from approvals.config_diff import config_diff
from approvals.config_file import FORMATS, ConfigError, load_config_file
from approvals.config_store import config_apply, config_from_database
from approvals.database_timeouts import cut_short


def _count(number: int, singular: str, plural: str) -> str:
    return f"{number} {singular if number == 1 else plural}"


class Command(BaseCommand):
    help = (
        "Replace the whole configuration (teams, approvers, channels, leave types, holidays, blackouts) "
        "with FILE: JSON, or YAML for .yml/.yaml. Nothing changes unless the whole file is valid. "
        "Prints what will change first; removing anything needs --replace or confirmation."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="configuration file (.json, .yml or .yaml)")
        parser.add_argument("--format", choices=FORMATS, dest="fmt",
                            help="the file's format, when its extension does not say (.yml/.yaml: YAML, else JSON)")
        parser.add_argument("--replace", action="store_true",
                            help="also remove what the file does not list (teams, leave types, holidays, blackouts)")
        parser.add_argument("--dry-run", action="store_true", help="print what would change, change nothing")
        parser.add_argument("--no-input", action="store_false", dest="interactive",
                            help="never ask: without --replace, refuse a file that would remove anything")

    def handle(self, *args, **options):
        path = options["file"]
        try:
            config = load_config_file(path, options["fmt"])
        except ConfigError as error:
            self._refuse(path, error)
        diff = config_diff(config_from_database(), config)
        if diff.empty:
            self.stdout.write("No changes: the configuration already matches the file.")
        else:
            self.stdout.write(f"Changes: {diff.counts()}")
            for line in diff.lines():
                self.stdout.write(f"  {line}")
        if options["dry_run"]:
            self.stdout.write("Dry run: nothing was changed.")
            return
        if diff.empty:
            return
        if diff.removals and not options["replace"] and not self._confirmed(diff, options["interactive"]):
            raise CommandError(
                f"{path} would remove {_count(len(diff.removals), 'entry', 'entries')} listed with '-' above; "
                "run again with --replace to remove them. The configuration was not changed."
            )
        try:
            with transaction.atomic():
                # What HR confirmed is what changes: someone may have edited the admin meanwhile.
                if config_diff(config_from_database(), config) != diff:
                    raise CommandError("The configuration changed while you were deciding; nothing was changed. "
                                       "Run the command again to see the new summary.")
                try:
                    config_apply(config=config)
                except ConfigError as error:
                    self._refuse(path, error)
        except OperationalError as error:
            # PostgreSQL cut a statement short (DATABASE_STATEMENT_TIMEOUT, or DATABASE_LOCK_TIMEOUT: the
            # console saving the same rows): the transaction failed with it, so nothing changed.
            if not cut_short(error):
                raise
            raise CommandError(f"The database did not answer in time ({str(error).strip()}); the configuration "
                               "was not changed. Run the command again (with DATABASE_STATEMENT_TIMEOUT=0 and "
                               "DATABASE_LOCK_TIMEOUT=0 in its environment to wait as long as it takes).") from error
        self.stdout.write(
            "Imported "
            + ", ".join(
                (
                    _count(len(config.teams), "team", "teams"),
                    _count(len(config.leave_types), "leave type", "leave types"),
                    _count(len(config.holidays), "holiday", "holidays"),
                    _count(len(config.blackouts), "blackout", "blackouts"),
                )
            )
        )

    def _refuse(self, path, error: ConfigError):
        for message in error.errors:
            self.stderr.write(message)
        raise CommandError(
            f"{path}: {_count(error.count, 'error', 'errors')}; the configuration was not changed."
        ) from error

    def _confirmed(self, diff, interactive: bool) -> bool:
        if not interactive or not sys.stdin.isatty():
            return False
        answer = input(f"Remove {_count(len(diff.removals), 'entry', 'entries')} listed with '-' above? "
                       "Type 'yes' to continue: ")
        return answer.strip().lower() == "yes"
