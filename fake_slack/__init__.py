"""A fake Slack Web API for the test suite (DESIGN §11).

`FakeSlack` runs a real HTTP server in the test process; point a
`slack_sdk.WebClient` (or `settings.SLACK_API_URL`) at `fake.api_url`.
The `fake_slack` pytest fixture (repo-root conftest.py) seeds the personas in
`fake_slack.personas`.
"""

from fake_slack.server import Call, FakeSlack
from fake_slack.workspace import Channel, Ephemeral, Message, ResponseUrlPost, User, UserGroup, Workspace

__all__ = ["Call", "Channel", "Ephemeral", "FakeSlack", "Message", "ResponseUrlPost", "User", "UserGroup",
           "Workspace"]
