"""Reads for the HR console pages: configuration rows with the Slack names HR knows them by.

Names come from the cached Slack directory (`approvals.slack_directory`); an
id the directory does not know (yet) is shown as it is, never looked up here,
so a page never waits on Slack.
"""

from dataclasses import dataclass

from approvals.models import Team
from approvals.slack_directory import Directory


@dataclass(frozen=True)
class TeamRow:
    id: int
    name: str
    is_default: bool
    approvals_channel: str  # "#name", or the id when the directory does not know it
    approvers: tuple[str, ...]  # names of approver people, then "everyone in #channel"
    members: tuple[str, ...]


def _channel_label(directory: Directory | None, channel_id: str) -> str:
    return directory.channel_label(channel_id) if directory and channel_id else channel_id


def _person_label(directory: Directory | None, user_id: str) -> str:
    return directory.person_label(user_id) if directory else user_id


def _group_label(directory: Directory | None, group_id: str) -> str:
    group = directory.usergroup(group_id) if directory else None
    return group.label if group else group_id


def teams_in_matching_order(*, directory: Directory | None) -> list[TeamRow]:
    """Every team, in the order people are matched to teams (DESIGN §4)."""
    rows = []
    for team in Team.objects.order_by("position", "name"):
        approvers = [_person_label(directory, user) for user in team.approvers_users]
        if team.approvers_channel:
            approvers.append(f"everyone in {_channel_label(directory, team.approvers_channel)}")
        members = [_person_label(directory, user) for user in team.members_users]
        if team.members_channel:
            members.append(f"everyone in {_channel_label(directory, team.members_channel)}")
        if team.members_usergroup:
            members.append(f"everyone in {_group_label(directory, team.members_usergroup)}")
        rows.append(TeamRow(id=team.pk, name=team.name, is_default=team.is_default,
                            approvals_channel=_channel_label(directory, team.approvals_channel),
                            approvers=tuple(approvers), members=tuple(members)))
    return rows
