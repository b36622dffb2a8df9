"""`{{ code|slack_emoji }}`: a Slack emoji code (":palm_tree:") as the emoji itself, for the console's pages.

Slack's standard codes are the common aliases the `emoji` package knows. A workspace's own emoji
(":our-logo:") has no character: it stays as its code, which is how HR typed it.
"""

import emoji
from django import template

register = template.Library()


@register.filter
def slack_emoji(code: str) -> str:
    if not code:
        return ""
    return emoji.emojize(code, language="alias")
