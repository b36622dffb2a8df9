"""Create the database cache table, so `migrate` alone prepares a fresh install.

The default CACHE_URL (dbcache://timeoff_cache) stores the configuration
snapshot, locks and de-duplication keys in a table that only
`createcachetable` makes. The command creates the tables of every configured
database cache that are missing and does nothing for Redis or local memory.
"""

from django.core.management import call_command
from django.db import migrations


def create_cache_table(apps, schema_editor):
    call_command("createcachetable", database=schema_editor.connection.alias, verbosity=0)


class Migration(migrations.Migration):
    dependencies = [
        ("approvals", "0001_initial"),
    ]

    operations = [
        # Nothing to undo: the cache table belongs to the cache configuration, not to this app.
        migrations.RunPython(create_cache_table, migrations.RunPython.noop),
    ]
