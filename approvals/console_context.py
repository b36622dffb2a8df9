"""What every console page may say: whether Slack's names of people and channels can be shown yet.

A context processor (settings.TEMPLATES). Its values are functions, which a template calls only where
it uses them (`approvals/console/_slack_names_state.html`): other pages, the admin's and the demo's
among them, read nothing.
"""

from approvals import slack_directory


def _names_error() -> str | None:
    """Slack's error when it refused for good to list the workspace (`missing_scope`, …), else None."""
    return slack_directory.directory_error_cached()


def _names_pending() -> bool:
    """The workspace's directory has not been read yet: pages show Slack ids in place of names."""
    return slack_directory.directory_cached() is None and slack_directory.directory_error_cached() is None


def slack_names(request) -> dict:
    return {"slack_names_error": _names_error, "slack_names_pending": _names_pending}
