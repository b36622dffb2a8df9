from django.apps import AppConfig


class DemoConfig(AppConfig):
    name = "demo"
    verbose_name = "Demo workspace"

    def ready(self):
        from demo import checks  # noqa: F401 (registers the system checks)
