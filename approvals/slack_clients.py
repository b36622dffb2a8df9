"""The one place that builds Slack `WebClient`s.

Two clients, for two situations (DESIGN §3):

- `in_request_client()` is used inside an HTTP request that Slack is waiting on
  (opening or updating a modal). Slack gives us 3 s in all and a trigger_id
  expires after 3 s, so the timeout is short and nothing sleeps on a 429.
- `background_client()` is used by background tasks. It honours `Retry-After`
  on 429, retries 5xx and connection errors with backoff, and waits longer.
"""

from functools import cache

from django.conf import settings
from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)

# Slack waits 3 s for our answer and a trigger_id lives 3 s: the call must end well before.
IN_REQUEST_TIMEOUT_SECONDS = 1.5
BACKGROUND_TIMEOUT_SECONDS = 15
BACKGROUND_MAX_RETRIES = 3


def in_request_client() -> WebClient:
    return _in_request_client(settings.SLACK_BOT_TOKEN, settings.SLACK_API_URL)


def background_client() -> WebClient:
    return _background_client(settings.SLACK_BOT_TOKEN, settings.SLACK_API_URL)


def ledger_post_client() -> WebClient:
    """For posting a request to the ledger: retries only 429s (Slack did not act on them).

    After a 5xx or a dropped connection Slack may have posted anyway; re-sending
    blindly would post the request twice. The delivery task retries instead,
    after looking for its request id in the channel.
    """
    return _ledger_post_client(settings.SLACK_BOT_TOKEN, settings.SLACK_API_URL)


# Cached per (token, URL): a WebClient holds no per-request state, and building
# one per call would cost more than the call itself on the hot path.
@cache
def _in_request_client(token: str, base_url: str) -> WebClient:
    return WebClient(token=token, base_url=base_url, timeout=IN_REQUEST_TIMEOUT_SECONDS, retry_handlers=[])


@cache
def _ledger_post_client(token: str, base_url: str) -> WebClient:
    return WebClient(
        token=token,
        base_url=base_url,
        timeout=BACKGROUND_TIMEOUT_SECONDS,
        retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=BACKGROUND_MAX_RETRIES)],
    )


@cache
def _background_client(token: str, base_url: str) -> WebClient:
    return WebClient(
        token=token,
        base_url=base_url,
        timeout=BACKGROUND_TIMEOUT_SECONDS,
        retry_handlers=[
            ConnectionErrorRetryHandler(max_retry_count=BACKGROUND_MAX_RETRIES),
            RateLimitErrorRetryHandler(max_retry_count=BACKGROUND_MAX_RETRIES),
            ServerErrorRetryHandler(max_retry_count=BACKGROUND_MAX_RETRIES),
        ],
    )
