"""`manage.py import_config FILE`: replace the whole configuration with a file (DESIGN §4).

The file is validated as a whole first; on any error every problem is printed
and nothing changes.
"""

from django.core.management.base import BaseCommand, CommandError

from approvals.config_file import ConfigError, load_config_file
from approvals.config_store import config_apply


def _count(number: int, singular: str, plural: str) -> str:
    return f"{number} {singular if number == 1 else plural}"


class Command(BaseCommand):
    help = (
        "Replace the whole configuration (teams, approvers, channels, leave types, holidays, blackouts) "
        "with FILE: JSON, or YAML for .yml/.yaml. Nothing changes unless the whole file is valid."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="configuration file (.json, .yml or .yaml)")

    def handle(self, *args, **options):
        path = options["file"]
        try:
            config = load_config_file(path)
            config_apply(config=config)
        except ConfigError as error:
            for message in error.errors:
                self.stderr.write(message)
            raise CommandError(
                f"{path}: {_count(len(error.errors), 'error', 'errors')}; the configuration was not changed."
            ) from error
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
