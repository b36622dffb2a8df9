"""Names Slack supplies, which anyone may set for themselves, as the HR console shows them."""

import pytest

from approvals.models import Team
from fake_slack.personas import ALICE, BOB, C_ENG_APPROVALS, C_ENG_LEADS

pytestmark = pytest.mark.django_db

RLO, ZWSP = "\u202e", "\u200b"  # right-to-left override, zero-width space


def test_a_right_to_left_override_in_a_slack_name_does_not_turn_the_console_around(hr_client, fake_slack):
    # Bob set his Slack name to end in U+202E: the console listed the approvers as "Bob Brown‮, Alice
    # Adams, everyone in #eng-leads", which a browser shows as "Bob Brown ,sgnael-gne# ni enoyreve ,smadA
    # ecilA": who else approves could not be read. A zero-width space made a second "Alice Adams".
    fake_slack.workspace.users[BOB].real_name = f"Bob Brown{RLO}"
    fake_slack.workspace.users[ALICE].real_name = f"Alice{ZWSP} Adams"
    Team.objects.create(name="Engineering", position=0, approvals_channel=C_ENG_APPROVALS,
                        approvers_users=[BOB, ALICE], approvers_channel=C_ENG_LEADS)

    page = hr_client.get("/console/").text
    assert RLO not in page and ZWSP not in page
    assert "Bob Brown, Alice Adams, everyone in #eng-leads" in page

    found = hr_client.get("/console/search/suggest", {"q": "bob"}).json()["suggestions"]
    assert [s["label"] for s in found if s["id"] == BOB] == ["Bob Brown · @bob · bob@example.com"]
