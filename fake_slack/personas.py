"""The standard people and channels every test starts with (see conftest.py).

Team roles (employee, approver, HR) live in the app's database, not in Slack;
the names here say which role each persona is meant to play there.
"""

from fake_slack.workspace import DEFAULT_BOT_USER_ID, Workspace

ALICE = "U_ALICE"  # employee in Engineering
BOB = "U_BOB"  # approver for Engineering
CAROL = "U_CAROL"  # in no team
DAVE = "U_DAVE"  # Engineering member, also in the approvers channel C_ENG_LEADS
HANNAH = "U_HR"  # HR / fallback approver
HR = HANNAH
BOT = DEFAULT_BOT_USER_ID

C_ENG = "C_ENG"
C_ENG_LEADS = "C_ENG_LEADS"
C_ENG_APPROVALS = "C_ENG_APPROVALS"
C_OLD_APPROVALS = "C_OLD_APPROVALS"
C_GENERAL = "C_GENERAL"
C_NOBOT = "C_NOBOT"
C_ARCHIVED = "C_ARCHIVED"

S_ENG = "S_ENG"

PEOPLE = [
    # id, name, real name, tz, email
    (ALICE, "alice", "Alice Adams", "America/Los_Angeles", "alice@example.com"),
    (BOB, "bob", "Bob Brown", "Europe/London", "bob@example.com"),
    (CAROL, "carol", "Carol Chen", "UTC", "carol@example.com"),
    (DAVE, "dave", "Dave Diaz", "America/New_York", "dave@example.com"),
    (HANNAH, "hannah", "Hannah Hill", "UTC", "hannah@example.com"),
]


def seed(workspace: Workspace) -> None:
    """Add the personas, channels and user group to `workspace` (or a FakeSlack)."""
    for user_id, name, real_name, tz, email in PEOPLE:
        workspace.add_user(user_id, name, tz=tz, email=email, real_name=real_name)
    everyone = [p[0] for p in PEOPLE]
    workspace.add_channel(C_ENG, "engineering", members=[ALICE, DAVE, BOB])
    workspace.add_channel(C_ENG_LEADS, "eng-leads", members=[BOB, DAVE], private=True)
    workspace.add_channel(C_ENG_APPROVALS, "eng-approvals", members=[BOB, DAVE, HANNAH], private=True)
    workspace.add_channel(C_OLD_APPROVALS, "old-approvals", private=True)
    workspace.add_channel(C_GENERAL, "general", members=everyone)
    workspace.add_channel(C_NOBOT, "no-bot", members=everyone, bot_member=False)
    workspace.add_channel(C_ARCHIVED, "old-team", members=[ALICE, BOB], archived=True)
    workspace.add_usergroup(S_ENG, "eng", [ALICE, DAVE])
