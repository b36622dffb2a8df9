from django.apps import AppConfig


class SlackbotConfig(AppConfig):
    name = "slackbot"
    verbose_name = "Slack edge"

    def ready(self):
        from slackbot import checks  # noqa: F401  (registers the Slack settings checks)
