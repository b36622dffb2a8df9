"""What a handler returns: a plain response that the HTTP views and the Socket Mode
runner both know how to send back to Slack."""

from dataclasses import dataclass

from slack_sdk.errors import SlackApiError

from approvals.directory import TOKEN_ERRORS
from approvals.task_queue import RATE_LIMIT_ERRORS, error_code, is_timeout, slack_may_have_acted


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


# A trigger_id lives 3 s and opens one view (https://docs.slack.dev/reference/methods/views.open#errors):
# past 3 s Slack says expired_trigger_id; once it has opened a view, exchanged_trigger_id (or
# trigger_exchanged), which is a second click or submission of something that already opened the form.
EXPIRED_TRIGGER_ERRORS = {"expired_trigger_id"}
EXCHANGED_TRIGGER_ERRORS = {"exchanged_trigger_id", "trigger_exchanged"}
# Slack's own trouble answered with HTTP 200: worded as a 5xx is (the 503 of the same fault says
# `service_unavailable` too), not as a refusal. `request_timeout` is among slack_may_have_acted's already.
SLACK_TROUBLE_ERRORS = {"service_unavailable", "request_timeout"}
# The app's own access, not the moment: trying again cannot help until whoever installed it acts.
ACCESS_ERRORS = TOKEN_ERRORS | {"missing_scope", "no_permission", "not_allowed_token_type", "team_access_not_granted"}


def modal_not_opened_text(exc: Exception, *, form: str, again: str) -> str:
    """What to tell a person whose `form` did not open because views.open failed with `exc`: by cause,
    since a slow Slack may well have opened it (we stop waiting inside Slack's 3 s) and a rate limit
    asks them to wait, not to click at once. `again` says how to retry ("try `/timeoff` again")."""
    status = getattr(getattr(exc, "response", None), "status_code", None)
    error = exc.response.get("error") if isinstance(exc, SlackApiError) else None
    if status == 429 or error in RATE_LIMIT_ERRORS:
        return f"Slack is limiting how often this app may open forms just now; please wait a minute, then {again}."
    if is_timeout(exc):
        return f"Slack was slow to answer: if {form} didn't open, please {again}."
    if slack_may_have_acted(exc) or error in SLACK_TROUBLE_ERRORS:
        # A 5xx, `internal_error`, `fatal_error` or a dropped connection: Slack may have opened it all the
        # same ("some aspect of the operation may have succeeded"), and the person may be looking at it.
        # Slack's error code is worth quoting to an admin; an exception's class name is not.
        trouble = (f"Slack had trouble answering ({error_code(exc)})" if isinstance(exc, SlackApiError)
                   else "The connection to Slack failed")
        return f"{trouble}: if {form} didn't open, please {again}."
    if error in EXPIRED_TRIGGER_ERRORS:
        return f"{form[0].upper()}{form[1:]} took too long to open (Slack allows 3 seconds); please {again}."
    if error in EXCHANGED_TRIGGER_ERRORS:
        return (f"{form[0].upper()}{form[1:]} was probably opened already, by an earlier click; if it isn't "
                f"showing, please {again}.")
    if error in ACCESS_ERRORS:
        return (f"This app's access to Slack is not working ({error}), so {form} can't open; trying again will "
                "not help. Please tell whoever looks after the app in your workspace.")
    return f"Slack didn't let me open {form}; please {again}."
