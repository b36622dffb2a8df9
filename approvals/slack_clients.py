"""The one place that builds Slack `WebClient`s.

Two clients, for two situations (DESIGN §3):

- `in_request_client()` is used inside an HTTP request that Slack is waiting on
  (opening or updating a modal). Slack gives us 3 s in all and a trigger_id
  expires after 3 s, so the timeout is short and nothing sleeps on a 429.
- `background_client()` is used by background tasks. It honours `Retry-After`
  on 429, retries 5xx and connection errors with backoff, and waits longer.

Every client built here (the ledger's post client too) is an `ObservedWebClient`: each call is counted in the metrics
(calls, errors, 429s and latency by method) and logged as one line, with the
request or task it belongs to. Their timeouts and retry handlers are as above.
"""

import logging
import time
from functools import cache
from urllib.error import HTTPError

from django.conf import settings
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)

from approvals import metrics

# Slack waits 3 s for our answer and a trigger_id lives 3 s: the call must end well before.
IN_REQUEST_TIMEOUT_SECONDS = 1.5
BACKGROUND_TIMEOUT_SECONDS = 15
BACKGROUND_MAX_RETRIES = 3

logger = logging.getLogger(__name__)


class ObservedWebClient(WebClient):
    """A WebClient that records each Web API call: metrics and one log line. Nothing else changes.

    Every method (`chat_postMessage`, …) goes through `api_call`; a SlackResponse's
    cursor iteration goes through `_request_for_pagination`; every HTTP answer,
    retried ones included, through `_perform_urllib_http_request_internal` (where
    the 429s that the retry handler waits out are seen). The last two are
    slack_sdk internals, stable in the pinned 3.48.
    """

    def api_call(self, api_method: str, **kwargs):
        started = time.perf_counter()
        try:
            response = super().api_call(api_method, **kwargs)
        except SlackApiError as exc:
            _record(api_method, started, error=_slack_error(exc.response), status=exc.response.status_code)
            raise
        except Exception as exc:  # connection refused, timeout: the exception's name is the error
            _record(api_method, started, error=type(exc).__name__, status=None)
            raise
        _record(api_method, started, error=None, status=response.status_code)
        return response

    def _request_for_pagination(self, api_url: str, req_args: dict) -> dict:
        method = api_url.rsplit("/", 1)[-1]
        started = time.perf_counter()
        try:
            response = super()._request_for_pagination(api_url=api_url, req_args=req_args)
        except Exception as exc:
            _record(method, started, error=type(exc).__name__, status=None)
            raise
        data = response.get("data") if isinstance(response.get("data"), dict) else {}
        error = None if data.get("ok") else str(data.get("error") or f"http_{response.get('status_code')}")
        _record(method, started, error=error, status=response.get("status_code"))
        return response

    def _perform_urllib_http_request_internal(self, url, req):
        try:
            return super()._perform_urllib_http_request_internal(url, req)
        except HTTPError as exc:
            if exc.code == 429:
                metrics.slack_ratelimited(url.split("?", 1)[0].rsplit("/", 1)[-1])
            raise


def _slack_error(response) -> str:
    return str(response.get("error") or f"http_{response.status_code}")


def _record(method: str, started: float, *, error: str | None, status: int | None) -> None:
    seconds = time.perf_counter() - started
    metrics.slack_call_finished(method, seconds, error=error)
    # One line per call; tokens never reach it (neither the URL nor the arguments are logged).
    logger.log(logging.WARNING if error else logging.INFO, "slack api %s %s", method, error or "ok", extra={
        "event": "slack_api_call", "slack_method": method, "outcome": "error" if error else "ok",
        "status": status, "duration_ms": round(seconds * 1000, 1), **({"error": error} if error else {}),
    })


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
    return ObservedWebClient(token=token, base_url=base_url, timeout=IN_REQUEST_TIMEOUT_SECONDS, retry_handlers=[])


@cache
def _ledger_post_client(token: str, base_url: str) -> WebClient:
    return ObservedWebClient(
        token=token,
        base_url=base_url,
        timeout=BACKGROUND_TIMEOUT_SECONDS,
        retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=BACKGROUND_MAX_RETRIES)],
    )


@cache
def _background_client(token: str, base_url: str) -> WebClient:
    return ObservedWebClient(
        token=token,
        base_url=base_url,
        timeout=BACKGROUND_TIMEOUT_SECONDS,
        retry_handlers=[
            ConnectionErrorRetryHandler(max_retry_count=BACKGROUND_MAX_RETRIES),
            RateLimitErrorRetryHandler(max_retry_count=BACKGROUND_MAX_RETRIES),
            ServerErrorRetryHandler(max_retry_count=BACKGROUND_MAX_RETRIES),
        ],
    )
