"""The one place that builds Slack `WebClient`s.

Two clients, for two situations (DESIGN §3), and two variants of the second:

- `in_request_client()` is used inside an HTTP request that Slack is waiting on
  (opening or updating a modal). Slack gives us 3 s in all and a trigger_id
  expires after 3 s, so the timeout is short and nothing sleeps on a 429.
- `background_client()` is used by background tasks. It honours `Retry-After`
  on 429 (a short one inside the call, a longer one by raising: the task's next
  attempt waits), retries 5xx and connection errors with backoff, and waits longer.
  `ledger_post_client()` (posting a request) retries only 429s; `locked_write_client()` (a
  decision's write under its lock) never sleeps on a 429.

Every client built here (the ledger's post client too) is an `ObservedWebClient`: each call is counted in the metrics
(calls, errors, 429s and latency by method) and logged as one line, with the
request or task it belongs to. Their timeouts and retry handlers are as above.
"""

import json
import logging
import time
from functools import cache
from http.client import HTTPException, HTTPMessage
from io import BytesIO
from urllib.error import HTTPError, URLError

import urllib3

from django.conf import settings
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)

from approvals import metrics, slack_pauses

# Slack waits 3 s for our answer and a trigger_id lives 3 s: the call must end well before.
IN_REQUEST_TIMEOUT_SECONDS = 1.5
BACKGROUND_TIMEOUT_SECONDS = 15
BACKGROUND_MAX_RETRIES = 3
# Kept-alive connections to Slack per process for the in-request client (gunicorn.conf.py: 8 threads).
POOL_CONNECTIONS = 32
# A 429 whose Retry-After is at most this is waited out inside the call (BACKGROUND_MAX_RETRIES times at
# most); a longer one is raised, and the task's next attempt is due when Slack said
# (task_queue.retry_after_seconds): a worker thread never sleeps for minutes inside one call, nor a task
# outlives TASK_STUCK_AFTER_SECONDS asleep and is started a second time beside itself.
IN_CALL_RETRY_AFTER_MAX_SECONDS = 10
# A connection idle longer than this is closed, not reused: NATs and load balancers on the way drop
# idle connections, some without telling either end (AWS's NAT gateway after 350 s, Azure's load
# balancer after 4 minutes), and nothing is retried inside Slack's 3 s. Busy, it is always reused.
MAX_IDLE_SECONDS = 30

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
        """slack_sdk's, but an answer that is not JSON (a gateway's HTML error page) is an error with
        its HTTP status, as the first page's is (`api_call`), not a JSONDecodeError: a 502 on the
        tenth page is as transient as on the first."""
        method = api_url.rsplit("/", 1)[-1]
        started = time.perf_counter()
        try:
            answer = self._perform_urllib_http_request(url=api_url, args=req_args)
        except Exception as exc:
            _record(method, started, error=type(exc).__name__, status=None)
            raise
        response = {"status_code": int(answer["status"]), "headers": dict(answer["headers"]),
                    "data": answer["parsed_body"] if "parsed_body" in answer else _json_or_error(answer)}
        data = response.get("data") if isinstance(response.get("data"), dict) else {}
        error = None if data.get("ok") else str(data.get("error") or f"http_{response.get('status_code')}")
        _record(method, started, error=error, status=response.get("status_code"))
        return response

    def _perform_urllib_http_request_internal(self, url, req):
        try:
            answer = self._http_request(url, req)
        except HTTPError as exc:
            if exc.code == 429:
                method = url.split("?", 1)[0].rsplit("/", 1)[-1]
                metrics.slack_ratelimited(method)
                slack_pauses.note(slack_pauses.noted_place(method), _whole_seconds(retry_after_header(exc.headers)))
            raise
        return _parsed(answer)

    def _http_request(self, url, req) -> dict:
        """One HTTP request and its answer, as slack_sdk's urllib path gives them: {status, headers,
        body}, or HTTPError for an answer other than 2xx.

        An answer cut off mid-body (http.client's IncompleteRead) or otherwise broken is not an
        OSError, so slack_sdk would let it through as it is, and nothing would know it for what it
        is: a dropped connection, after which the call may have been made. It is raised as urllib's
        URLError, as a reset connection is (and as KeptAliveWebClient raises urllib3's)."""
        try:
            return super()._perform_urllib_http_request_internal(url, req)
        except HTTPException as exc:
            raise URLError(exc) from exc


class PatientWebClient(ObservedWebClient):
    """An ObservedWebClient for background work that keeps a short Retry-After for the whole app
    (slack_pauses): a call of a method that another call, task or process was just told to wait for
    waits out what is left (when `waits_out_429`, as its own 429 would be waited out) instead of
    meeting the same 429.

    A longer pause is not held here: the call is made, and Slack's 429 sends its task to a later
    attempt, when Slack said. Holding it would make a task wait on a clock other than the queue's
    (`run_after`) and the jobs' (`run_jobs --at`)."""

    def __init__(self, *args, waits_out_429: bool, **kwargs):
        super().__init__(*args, **kwargs)
        self.waits_out_429 = waits_out_429

    def api_call(self, api_method: str, **kwargs):
        where = slack_pauses.place(api_method, _channel_of(kwargs))
        wait = slack_pauses.seconds_left(where) if self.waits_out_429 else 0.0
        if 0 < wait <= IN_CALL_RETRY_AFTER_MAX_SECONDS:
            logger.info("slack api %s waits %.1fs: rate-limited", api_method, wait,
                        extra={"event": "slack_api_wait", "slack_method": api_method, "wait_seconds": round(wait, 1)})
            slack_pauses.wait(wait)
        met = slack_pauses.met_in_this_thread()
        slack_pauses.calling(where)
        try:
            response = super().api_call(api_method, **kwargs)
        finally:
            slack_pauses.calling(None)
        if wait > 0 or slack_pauses.met_in_this_thread() != met:
            slack_pauses.ended(where)  # Slack answered it after a pause: others need not wait on
        return response


def _channel_of(kwargs: dict) -> object:
    """The channel a call names, however slack_sdk sends its arguments (JSON body, form, query)."""
    for part in ("json", "data", "params"):
        arguments = kwargs.get(part)
        if isinstance(arguments, dict) and arguments.get("channel"):
            return arguments["channel"]
    return None


class KeptAliveWebClient(ObservedWebClient):
    """An ObservedWebClient whose HTTP requests reuse kept-alive connections (urllib3's pool).

    slack_sdk sends each call with urllib, on a new connection: against the real
    Slack that is a TCP and a TLS handshake, a round trip or two, before every
    `views.open`, inside the 3 s a trigger_id lives. Here a connection stays open
    between calls (urllib3 checks that the server has not closed it before
    reusing it). Nothing is retried, as before: no retry handler, and none of
    urllib3's own. Answers and errors are shaped as slack_sdk's urllib path gives
    them (HTTPError for a non-2xx answer, OSError subclasses for the network),
    so its handling of 429s, errors and timeouts is unchanged.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._pool = urllib3.PoolManager(
            # One connection per web thread at once is plenty; beyond it urllib3 would open and
            # discard extra ones (block=False), never wait.
            maxsize=POOL_CONNECTIONS, block=False, retries=False, ssl_context=self.ssl,
            # One bound for the whole call: a slow connect and then a slow answer, each inside its own
            # timeout, could otherwise add up past Slack's 3 s.
            timeout=urllib3.Timeout(total=self.timeout),
        )
        self._pool.pool_classes_by_scheme = {"http": _RecentHTTPConnectionPool,
                                             "https": _RecentHTTPSConnectionPool}

    def _http_request(self, url, req) -> dict:
        if self.proxy is not None or not url.lower().startswith(("http://", "https://")):
            return super()._http_request(url, req)
        try:
            answer = self._pool.request(req.get_method(), url, body=req.data, headers=dict(req.header_items()),
                                        redirect=False, preload_content=True)
        except urllib3.exceptions.TimeoutError as exc:  # connect or read: urllib raises TimeoutError
            raise TimeoutError(str(exc)) from exc
        except urllib3.exceptions.HTTPError as exc:  # refused, reset, a broken answer: urllib's URLError
            raise URLError(exc) from exc
        headers = HTTPMessage()  # what urllib's answers carry: get_content_charset(), items()
        for name, value in answer.headers.items():
            headers[name] = value
        if not 200 <= answer.status < 300:
            raise HTTPError(url, answer.status, answer.reason or "", headers, BytesIO(answer.data))
        if headers.get_content_type() == "application/gzip":
            return {"status": answer.status, "headers": headers, "body": answer.data}
        return {"status": answer.status, "headers": headers,
                "body": answer.data.decode(headers.get_content_charset() or "utf-8")}


class _RecentConnections:
    """A connection pool that reuses only connections used in the last MAX_IDLE_SECONDS."""

    def _get_conn(self, timeout=None):
        conn = super()._get_conn(timeout)
        returned = getattr(conn, "returned_at", None)
        if returned is not None and time.monotonic() - returned > MAX_IDLE_SECONDS:
            conn.close()  # its next request connects afresh
        return conn

    def _put_conn(self, conn):
        if conn is not None:
            conn.returned_at = time.monotonic()
        super()._put_conn(conn)


class _RecentHTTPConnectionPool(_RecentConnections, urllib3.HTTPConnectionPool):
    pass


class _RecentHTTPSConnectionPool(_RecentConnections, urllib3.HTTPSConnectionPool):
    pass


class ShortRateLimitRetryHandler(RateLimitErrorRetryHandler):
    """slack_sdk's 429 handler (sleep Retry-After, try again), for waits up to IN_CALL_RETRY_AFTER_MAX_SECONDS.

    A longer wait, or a Retry-After that is not whole seconds (slack_sdk's handler would raise
    ValueError on it), is not waited out here: the call raises the 429 as SlackApiError.
    """

    def _can_retry(self, *, state, request, response=None, error=None) -> bool:
        if response is None or response.status_code != 429:
            return False
        value = retry_after_header(response.headers)
        if value is None:
            return True  # slack_sdk's handler waits about a second
        return value.isdigit() and int(value) <= IN_CALL_RETRY_AFTER_MAX_SECONDS


def _parsed(answer: dict) -> dict:
    """A 2xx answer with its JSON parsed once (slack_sdk reads `parsed_body` when it is there).

    Slack refuses with `{"ok": false, "error": ...}`, always JSON: a 2xx answer that is not JSON
    (empty, a proxy's HTML page, JSON cut short) is something on the way mangling Slack's answer,
    after which the call may well have been made. It is raised as URLError, as a dropped connection
    is: transient, retried, never remembered as Slack's refusal (slack_sdk would make it an error
    named after the page's text, or let a JSONDecodeError through)."""
    body = answer.get("body")
    if not isinstance(body, str):  # a file's bytes (gzip): not ours to parse
        return answer
    try:
        parsed = json.loads(body)
    except ValueError:
        parsed = None
    if not isinstance(parsed, dict):
        raise URLError(f"HTTP {answer.get('status')} answer is not JSON ({len(body)} characters)")
    answer["parsed_body"] = parsed
    return answer


def _json_or_error(answer: dict) -> dict:
    try:
        return json.loads(answer["body"])
    except ValueError:
        return {"ok": False, "error": f"unexpected_response_body_http_{answer['status']}"}


def retry_after_header(headers) -> str | None:
    """A Slack answer's Retry-After header as sent (whole seconds from Slack), or None when it has none;
    header names in any case, values plain or in lists (as slack_sdk keeps them)."""
    value = next((v for k, v in (headers or {}).items() if k.lower() == "retry-after"), None)
    if isinstance(value, list):
        value = value[0] if value else None
    return None if value is None else str(value).strip()


def _whole_seconds(value: str | None) -> int | None:
    return int(value) if value is not None and value.isdigit() else None


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
    """For posting a request to the ledger, or a notice to a channel: retries only 429s (Slack did not
    act on them).

    After a 5xx or a dropped connection Slack may have posted anyway; re-sending
    blindly would post twice. The task retries instead, after looking in the
    channel for its request id (or the notice's tag: notifications.post_notice).
    """
    return _ledger_post_client(settings.SLACK_BOT_TOKEN, settings.SLACK_API_URL)


def locked_write_client() -> WebClient:
    """For a write made under a lock (a decision rewriting its request's message): retries 5xx and
    connection errors (the write is idempotent) but never sleeps out a 429's Retry-After, which could
    outlast the lock and let another approver's decision in meanwhile. The task's next attempt waits
    for Retry-After instead, and re-reads the message under the lock."""
    return _locked_write_client(settings.SLACK_BOT_TOKEN, settings.SLACK_API_URL)


# Cached per (token, URL): a WebClient holds no per-request state, and building
# one per call would cost more than the call itself on the hot path.
@cache
def _in_request_client(token: str, base_url: str) -> WebClient:
    return KeptAliveWebClient(token=token, base_url=base_url, timeout=IN_REQUEST_TIMEOUT_SECONDS, retry_handlers=[])


@cache
def _ledger_post_client(token: str, base_url: str) -> WebClient:
    return _patient_client(token, base_url, ShortRateLimitRetryHandler)


@cache
def _locked_write_client(token: str, base_url: str) -> WebClient:
    return _patient_client(token, base_url, ConnectionErrorRetryHandler, ServerErrorRetryHandler)


@cache
def _background_client(token: str, base_url: str) -> WebClient:
    return _patient_client(token, base_url, ConnectionErrorRetryHandler, ShortRateLimitRetryHandler,
                           ServerErrorRetryHandler)


def _patient_client(token: str, base_url: str, *retry_handlers) -> WebClient:
    """A background-task client: the longer timeout, and these retry handlers (each up to three times).
    It waits out a short pause of the app's (slack_pauses) only where it waits out Slack's short 429s."""
    return PatientWebClient(token=token, base_url=base_url, timeout=BACKGROUND_TIMEOUT_SECONDS,
                            retry_handlers=[handler(max_retry_count=BACKGROUND_MAX_RETRIES)
                                            for handler in retry_handlers],
                            waits_out_429=ShortRateLimitRetryHandler in retry_handlers)
