"""People Slack describes as unable to decide leave, as the fake's users.info tells them, for the tests of
what a configuration file may name as approvers or fallback approvers: a guest, someone of another
organisation (Slack Connect), another app's bot, someone who has left."""

from fake_slack.personas import C_GENERAL
from fake_slack.workspace import User

GINA = "U_GINA"  # a guest (a contractor) a configuration file names as a fallback approver
PAT = "U0PATGLOBX"  # Pat, of Globex: another organisation, in a channel Acme shares through Slack Connect
GLOBEX = "T0GLOBEX42"
PAYROLL_BOT = "U_PAYROLLBOT"  # another app's bot user
GONE = "U_GONE"  # someone who has left: a deactivated account


class PersonOfAnotherOrganisation(User):
    """users.info's answer for someone in a shared channel: their own workspace's `team_id`."""

    def to_api(self) -> dict:
        api = super().to_api()
        api["team_id"] = GLOBEX
        api["profile"] = {**api["profile"], "team": GLOBEX}
        return api


def add_guest(fake_slack, *, single_channel: bool = False) -> str:
    """Gina, a multi-channel guest (`single_channel`: a single-channel one), in #general."""
    person = fake_slack.workspace.add_user(GINA, "gina", "UTC", "gina@contractor.example", real_name="Gina Gray")
    with fake_slack.workspace.lock:
        person.is_restricted = True
        person.is_ultra_restricted = single_channel
        fake_slack.workspace.channels[C_GENERAL].members.add(GINA)
    return GINA


def add_partner(fake_slack) -> str:
    """Pat of Globex, in #general (shared with Globex)."""
    with fake_slack.workspace.lock:
        fake_slack.workspace.users[PAT] = PersonOfAnotherOrganisation(PAT, "pat.globex", "Pat (Globex)",
                                                                     "Europe/Berlin", None, "pat@globex.example")
        fake_slack.workspace.channels[C_GENERAL].members.add(PAT)
    return PAT


def add_bot(fake_slack) -> str:
    fake_slack.workspace.add_user(PAYROLL_BOT, "payroll", real_name="Payroll", is_bot=True, bot_id="B_PAYROLL")
    return PAYROLL_BOT


def add_former(fake_slack) -> str:
    fake_slack.workspace.add_user(GONE, "gus", "UTC", "gus@example.com", real_name="Gus Gone", deleted=True)
    return GONE
