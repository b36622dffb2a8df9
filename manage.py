#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""

import os
import sys


def main():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "timeoff_site.settings")
    from django.core.management import execute_from_command_line
    from django.db.utils import InterfaceError, OperationalError

    try:
        execute_from_command_line(sys.argv)
    except (OperationalError, InterfaceError) as error:
        # A database that cannot be opened (a wrong DATABASE_URL, a server not up yet, a volume not mounted)
        # or not migrated: one line for a cron job's mail or the journal, not a traceback.
        missing = "no such table" in str(error) or "does not exist" in str(error)
        hint = " Run `manage.py migrate` first." if missing else " Check DATABASE_URL and that the database is up."
        sys.stderr.write(f"The database could not be used: {str(error).strip()}.{hint}\n")
        sys.exit(1)


if __name__ == "__main__":
    main()
