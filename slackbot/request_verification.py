"""`@slack_request`: the one decorator every Slack endpoint wears.

In order, before any parsing: refuse bodies over the size limit, refuse
signature headers that are not shaped like Slack's, verify the signature over
the raw bytes with slack-sdk's `SignatureVerifier` (5-minute window), then
parse with the endpoint's parser. Failures are answered with a status code and
a log line, never a stack trace. The one exception: on the slash command URL,
Slack's certificate check (`ssl_check=1` and `token`, nothing else), which Slack
sends unsigned, is answered with an empty 200 and nothing is done with it.
https://docs.slack.dev/authentication/verifying-requests-from-slack/
"""

import logging
import re
from functools import wraps

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from slack_sdk.signature import SignatureVerifier

from slackbot.payloads import BadPayload, is_certificate_check
from slackbot.responses import SlackResponse

logger = logging.getLogger(__name__)

# Slack retries an event answered with anything but a 2xx (three times, over five minutes) unless the
# answer carries this header. A body too large or not parseable is refused the same way every time:
# sent on those refusals only, so a passing fault (a 5xx, a bad signature while a secret is rotated)
# is still retried. Slash commands and interactions are never retried; the header does nothing there.
# https://docs.slack.dev/apis/events-api/ ("Turning retries off")
NO_RETRY_HEADERS = {"X-Slack-No-Retry": "1"}


# Slack's timestamp is Unix seconds: ten ASCII digits until the year 2286. Anything
# else is refused before `SignatureVerifier` calls int() on it (int() of more than
# 4300 digits raises ValueError, and of fewer still costs time on an attacker's
# input). Twelve digits leave room and no leading zero makes a second spelling.
TIMESTAMP_SHAPE = re.compile(r"[1-9][0-9]{0,11}", re.ASCII)
# `v0=` and a lower-case hex HMAC-SHA256: exactly what Slack sends and
# SignatureVerifier computes, so nothing longer reaches hmac.compare_digest.
SIGNATURE_SHAPE = re.compile(r"v0=[0-9a-f]{64}", re.ASCII)


def header_problem(timestamp: str | None, signature: str | None) -> str | None:
    """Why these headers cannot be Slack's (a log reason), or None when they may be."""
    if not timestamp or not signature:
        return "missing_headers"
    if not TIMESTAMP_SHAPE.fullmatch(timestamp):
        return "bad_timestamp"
    if not SIGNATURE_SHAPE.fullmatch(signature):
        return "bad_signature_header"
    return None


def signature_is_valid(body: bytes, timestamp: str | None, signature: str | None) -> bool:
    """True when Slack signed this body recently. Never raises on odd input."""
    if header_problem(timestamp, signature) is not None or not settings.SLACK_SIGNING_SECRET:
        return False  # SignatureVerifier raises ValueError for an empty secret (slackbot.E001 says so)
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return False  # Slack only sends UTF-8; SignatureVerifier cannot verify anything else
    verifier = SignatureVerifier(settings.SLACK_SIGNING_SECRET)
    return verifier.is_valid(body=text, timestamp=timestamp, signature=signature)


def slack_request(parse, *, certificate_check: bool = False):
    """Wrap a view `view(request, payload) -> SlackResponse` with verification and parsing.

    `certificate_check`: the endpoint is a slash command URL, which Slack checks with an unsigned
    `ssl_check=1` form (`payloads.is_certificate_check`): answered with an empty 200 before the
    signature is looked at, and nothing else is done with it."""

    def decorator(view):
        @csrf_exempt
        @require_POST
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            declared = request.META.get("CONTENT_LENGTH") or "0"
            # ASCII digits: str.isdigit() is also true of "²", which int() refuses.
            if not (declared.isascii() and declared.isdigit()) or int(declared) > settings.SLACK_MAX_BODY_BYTES:
                logger.warning("slack request refused path=%s reason=too_large length=%s", request.path, declared)
                return refused("Request body too large.", status=413)
            body = request.body
            if len(body) > settings.SLACK_MAX_BODY_BYTES:
                return refused("Request body too large.", status=413)

            if certificate_check and is_certificate_check(body):
                return HttpResponse(status=200)

            timestamp = request.headers.get("X-Slack-Request-Timestamp")
            signature = request.headers.get("X-Slack-Signature")
            if problem := header_problem(timestamp, signature):
                # Lengths, not values: a hostile header must not fill the log.
                logger.warning("slack request refused path=%s reason=%s timestamp_length=%d signature_length=%d",
                               request.path, problem, len(timestamp or ""), len(signature or ""))
                return HttpResponse("Invalid signature.", status=401, content_type="text/plain")
            if not signature_is_valid(body, timestamp, signature):
                reason = "bad_signature" if settings.SLACK_SIGNING_SECRET else "no_signing_secret"
                logger.warning("slack request refused path=%s reason=%s", request.path, reason)
                return HttpResponse("Invalid signature.", status=401, content_type="text/plain")

            try:
                payload = parse(body.decode("utf-8"))
                response = view(request, payload, *args, **kwargs)
            except BadPayload as exc:
                logger.warning("slack request refused path=%s reason=bad_payload detail=%s", request.path, exc)
                return refused(f"Bad request: {exc}", status=400)
            # Accepted requests are logged once, by timeoff_site.metrics_middleware (with their Slack
            # kind, duration and enqueued tasks); only refusals are logged here.
            return to_http_response(response)

        return wrapper

    return decorator


def refused(text: str, *, status: int) -> HttpResponse:
    """A request refused for good: sending it again cannot help, so Slack need not retry it."""
    return HttpResponse(text, status=status, content_type="text/plain", headers=NO_RETRY_HEADERS)


def to_http_response(response: SlackResponse) -> HttpResponse:
    if response.body is None:
        return HttpResponse(status=response.status)
    return JsonResponse(response.body, status=response.status)
