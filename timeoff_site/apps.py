from django.apps import AppConfig


class SiteConfig(AppConfig):
    """The site itself as an app, for what every process must set up at start (web and task workers)."""

    name = "timeoff_site"
    verbose_name = "Site"

    def ready(self):
        from approvals import metrics

        # Task attempts and delivery problems are counted in every process that runs tasks.
        metrics.connect_receivers()
