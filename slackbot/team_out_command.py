"""`/timeoff who [team]`: who in my team, or the team named, is out today and the next 7 days
(approvals.team_out_services)."""

import re

from approvals.block_kit import unescape
from approvals.config_store import current_config
from approvals.team_out_services import NoSuchTeam, team_asked_for, team_out_request
from slackbot.payloads import SlashCommand
from slackbot.responses import SlackResponse, ephemeral

# A channel as Slack escapes one typed in a slash command (`<#C0123|eng>`; the name may be left out).
CHANNEL_REFERENCE = re.compile(r"^<#([CG][A-Z0-9_]{2,31})(?:\|[^>]*)?>$")  # ids of 32 at most (config_fields)


def command_who(command: SlashCommand) -> SlackResponse:
    config = current_config()
    if not config.leave_types or not config.teams:
        return ephemeral("Time off isn't set up yet: HR has not configured any teams or leave types.")
    words = " ".join(command.words[1:])
    if not words:
        return ephemeral(*team_out_request(command.user_id))
    channel = CHANNEL_REFERENCE.match(words)
    try:
        if channel is not None:
            team = team_asked_for(config, channel=channel.group(1))
        else:  # `&`, `<` and `>` typed come as `&amp;`, `&lt;`, `&gt;` in a command's text
            team = team_asked_for(config, name=unescape(words))
    except NoSuchTeam as refusal:
        return ephemeral(str(refusal))
    return ephemeral(*team_out_request(command.user_id, team.name))
