"""`/timeoff who [team]`: who in my team, or the team named, is out today and the next 7 days
(approvals.team_out_services)."""

from approvals.config_store import current_config
from approvals.team_out_services import NoSuchTeam, team_asked_for, team_out_request
from slackbot.payloads import SlashCommand
from slackbot.responses import SlackResponse, ephemeral


def command_who(command: SlashCommand) -> SlackResponse:
    config = current_config()
    if not config.leave_types or not config.teams:
        return ephemeral("Time off isn't set up yet: HR has not configured any teams or leave types.")
    words = " ".join(command.words[1:])
    if not words:
        return ephemeral(*team_out_request(command.user_id))
    try:
        team = team_asked_for(config, words)
    except NoSuchTeam as refusal:
        return ephemeral(str(refusal))
    return ephemeral(*team_out_request(command.user_id, team.name))
