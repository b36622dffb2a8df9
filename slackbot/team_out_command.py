"""`/timeoff who`: who in my team is out today and the next 7 days (approvals.team_out_services)."""

from approvals.config_store import current_config
from approvals.team_out_services import team_out_request
from slackbot.payloads import SlashCommand
from slackbot.responses import SlackResponse, ephemeral

USAGE_TEXT = "Use `/timeoff who` to see who in your team is out today and in the next 7 days."


def command_who(command: SlashCommand) -> SlackResponse:
    config = current_config()
    if not config.leave_types or not config.teams:
        return ephemeral("Time off isn't set up yet: HR has not configured any teams or leave types.")
    if len(command.words) > 1:
        return ephemeral(USAGE_TEXT)
    return ephemeral(*team_out_request(command.user_id))
