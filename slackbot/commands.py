"""Handlers for `/timeoff` and its sub-commands. Each takes a SlashCommand and
returns a SlackResponse."""

from slackbot.payloads import SlashCommand
from slackbot.responses import SlackResponse, ephemeral

HELP_TEXT = (
    "*/timeoff* — request time off and see your leave.\n"
    "• `/timeoff` opens the request form.\n"
    "• `/timeoff 2026-12-21 2026-12-23 vacation` opens it filled in (start, end, leave type); dates may also be "
    "written `21 Dec`, `Dec 21-23`, `tomorrow` or `friday`.\n"
    "• `/timeoff balance` shows your allowance, taken, pending and remaining days this year, and next year's "
    "once you have leave in it (`/timeoff balance 2025` for another year).\n"
    "• `/timeoff list` shows your pending and upcoming leave, with buttons to edit, withdraw or cancel it.\n"
    "• `/timeoff cancel` picks a request to withdraw or leave to cancel.\n"
    "• `/timeoff who` shows who in your team is out today and in the next 7 days "
    "(`/timeoff who Design` for another team).\n"
    "• HR: `/timeoff for @person [dates] [type]` records time off for them; `/timeoff for @person list` "
    "shows theirs to change, `/timeoff for @person balance` their balance.\n"
    "• `/timeoff help` shows this message.\n"
    "Your request goes to your team's approvers; you get a DM when they decide."
)


def command_help(command: SlashCommand) -> SlackResponse:
    return ephemeral(HELP_TEXT)
