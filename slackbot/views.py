"""The three Slack endpoints. Each verifies, parses and hands a plain payload to
the routing tables; the handlers never see Django's HttpRequest."""

from slackbot import routing
from slackbot.payloads import parse_command_body, parse_event_body, parse_interaction_body
from slackbot.request_verification import slack_request
from slackbot.responses import ack


@slack_request(parse_command_body, certificate_check=True)
def commands(request, command):
    if command is None:  # Slack checking our certificate (ssl_check=1): nothing to do but answer
        return ack()
    return routing.dispatch_command(command)


@slack_request(parse_interaction_body)
def interactions(request, payload):
    return routing.dispatch_interaction(payload)


@slack_request(parse_event_body)
def events(request, envelope):
    return routing.dispatch_event(envelope, retry_num=request.headers.get("X-Slack-Retry-Num"))
