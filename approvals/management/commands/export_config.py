"""`manage.py export_config [FILE]`: write the configuration in the format `import_config` reads."""

import os
import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from approvals.config_file import FORMATS, dump_config_file
from approvals.config_store import config_from_database


class Command(BaseCommand):
    help = (
        "Write the whole configuration to FILE (JSON, or YAML for .yml/.yaml) or, without FILE, "
        "to standard output (JSON unless --format yaml)."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", nargs="?", help="where to write; standard output when omitted")
        parser.add_argument(
            "--format", choices=FORMATS, help="json or yaml (default: from FILE's extension, else json)"
        )

    def handle(self, *args, **options):
        # From the rows, not the cached snapshot: an export must show what is committed.
        config = config_from_database()
        path = options["file"]
        if path is None:
            if self.stdout._out is None:  # started with standard output closed (`>&-`): Python gives None
                raise CommandError("cannot write the configuration to standard output: it is closed")
            try:
                dump_config_file(config, self.stdout, options["format"] or "json")
                self.stdout.flush()
            except (OSError, ValueError) as error:  # a full disk, a closed pipe, a file closed under us
                if self.stdout._out is sys.stdout:
                    _silence_stdout()
                raise CommandError(f"cannot write the configuration to standard output: {error}") from error
            return
        if options["format"] is None and Path(path).suffix.lower() not in (".json", ".yml", ".yaml"):
            # `out.toml` would be written as JSON without a word: say so, or have the format named.
            raise CommandError(f"{path}: name a .json, .yml or .yaml file, or give --format json|yaml")
        try:
            dump_config_file(config, path, options["format"])
        except OSError as error:
            raise CommandError(f"{path}: cannot write the file: {error}") from error
        self.stdout.write(f"Exported the configuration to {path}")


def _silence_stdout() -> None:
    """Python flushes standard output once more on exit; what is left in it would fail again and print a
    second error, with a traceback, after ours. What could not be written is dropped."""
    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    except (OSError, ValueError):
        pass
