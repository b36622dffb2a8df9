from django.apps import AppConfig
from django.db.models.signals import post_migrate, pre_migrate


class ApprovalsConfig(AppConfig):
    name = "approvals"
    verbose_name = "Time off configuration"

    def ready(self):
        from approvals import config_store, database_timeouts

        # Any change to a configuration row drops the cached snapshot (DESIGN §2).
        config_store.connect_invalidation_receivers()
        # `migrate` runs without the statement and lock timeouts of the web (approvals/database_timeouts.py).
        # Django sends these once per app: `sender=self` runs them once per migrate.
        pre_migrate.connect(database_timeouts.migration_unbounded, sender=self)
        post_migrate.connect(database_timeouts.migration_bounded_again, sender=self)
