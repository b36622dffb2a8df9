"""What `/timeoff balance` and `/timeoff list` answer a person, as the tests read it: the text at once when
the cache is warm, else the DM that follows (the tests' tasks run at once)."""

import json

from test_support.flows import ALICE, dms_to
from test_support.slack_requests import post_command


def balance_of(client, fake_slack, user=ALICE, year=2031) -> str:
    """`/timeoff balance <year>`: answered at once when warm, else by DM."""
    response = post_command(client, f"balance {year}", user_id=user)
    assert response.status_code == 200, response.content
    text = response.json()["text"]
    if text.startswith("Checking your balance"):
        return dms_to(fake_slack, user)[-1]
    return text


def vacation_line(text: str) -> str:
    """The line of a balance that is Vacation's."""
    return next(line for line in text.splitlines() if "Vacation" in line)


def listed(client, user=ALICE) -> str:
    """`/timeoff list`: its text and blocks, as one string."""
    response = post_command(client, "list", user_id=user)
    assert response.status_code == 200, response.content
    body = response.json()
    return body["text"] + "\n" + json.dumps(body.get("blocks") or [], ensure_ascii=False)
