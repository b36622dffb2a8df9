"""What a handler returns: a plain response that the HTTP views and the Socket Mode
runner both know how to send back to Slack."""

from dataclasses import dataclass


@dataclass(frozen=True)
class SlackResponse:
    body: dict | None = None  # JSON body; None is an empty 200 (acknowledge / close the modal)
    status: int = 200


def ack() -> SlackResponse:
    return SlackResponse()


def ephemeral(text: str, blocks: list[dict] | None = None) -> SlackResponse:
    """A reply to a slash command that only the person who typed it sees."""
    body = {"response_type": "ephemeral", "text": text}
    if blocks:
        body["blocks"] = blocks
    return SlackResponse(body)


def view_errors(errors: dict[str, str]) -> SlackResponse:
    """Keep the modal open and show each message under its input block."""
    return SlackResponse({"response_action": "errors", "errors": errors})
