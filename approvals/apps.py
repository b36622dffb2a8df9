from django.apps import AppConfig


class ApprovalsConfig(AppConfig):
    name = "approvals"
    verbose_name = "Time off configuration"

    def ready(self):
        from approvals import config_store

        # Any change to a configuration row drops the cached snapshot (DESIGN §2).
        config_store.connect_invalidation_receivers()
