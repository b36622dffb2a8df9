"""Per request: a request id, latency metrics, and one log line (DESIGN §9).

The outermost middleware, so its clock covers everything Django does for the
request, static files and redirects included. The request id comes from
`X-Request-ID` (a proxy's or load balancer's id, so their logs and ours join)
or is made here, and is echoed as `X-Request-ID` on the response. The Slack
routing labels the request with what it was (`approvals.observe.label_request`):
the slash command's handler, the action_id, the callback_id, the event type.
"""

import logging
import time

from django.conf import settings
from prometheus_client import Counter, Histogram

from approvals import observe

logger = logging.getLogger("timeoff_site.requests")

# Slack gives up on us after 3 s: buckets are fine below it, and 2.5 s / 3 s mark "near the deadline".
REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 5.0, 10.0)
LABELS = ["endpoint", "slack_kind", "slack_name"]

REQUESTS = Counter("timeoff_http_requests_total",
                   "HTTP requests by endpoint (the URL pattern), Slack kind and id, and status.",
                   [*LABELS, "status"])
REQUEST_DURATION = Histogram("timeoff_http_request_duration_seconds",
                             "HTTP request latency by endpoint (the URL pattern) and Slack kind and id.",
                             LABELS, buckets=REQUEST_BUCKETS)


def endpoint(request) -> str:
    """The URL pattern that answered (`slack/commands`, `console/teams/<int:pk>/`): bounded, unlike paths."""
    match = getattr(request, "resolver_match", None)
    if match is not None:
        return match.route or match.view_name or "unnamed"
    if request.path.startswith("/" + settings.STATIC_URL.lstrip("/")):
        return "static"
    return "unmatched"


class RequestObservationMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        request_id = observe.new_request_id(request.headers.get("X-Request-ID"))
        token = observe.request_started(request_id)
        # Also on the request: Django logs a 4xx or 5xx answer (django.request) after this middleware has
        # returned and the request's context is gone; log_format finds the id there.
        request.request_id = request_id
        status = 500
        try:
            response = self.get_response(request)
            status = response.status_code
            response["X-Request-ID"] = request_id
            return response
        finally:
            self.finish(request, status, time.perf_counter() - started)
            observe.request_finished(token)

    def finish(self, request, status: int, seconds: float) -> None:
        context = observe.current_request()
        labels = {"endpoint": endpoint(request), "slack_kind": context.slack_kind, "slack_name": context.slack_name}
        REQUEST_DURATION.labels(**labels).observe(seconds)
        REQUESTS.labels(**labels, status=str(status)).inc()
        # 4xx are ordinary (a stale button, a scanner's 404; Django's own django.request logger warns of them).
        level = logging.ERROR if status >= 500 else logging.INFO
        # The path, never the query string: it may carry anything a client typed.
        logger.log(level, "%s %s %s", request.method, request.path, status, extra={
            "event": "http_request", "http_method": request.method, "path": request.path,
            "endpoint": labels["endpoint"], "status": status, "duration_ms": round(seconds * 1000, 1),
            **({"slack_kind": context.slack_kind, "slack_name": context.slack_name} if context.slack_kind else {}),
            **({"enqueued_tasks": context.tasks} if context.tasks else {}),
        })
