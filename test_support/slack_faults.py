"""Slack half down, for the tests: calls that take effect though their answers are lost, calls that fail
the ways Slack's do, calls answered late."""

import time
from contextlib import contextmanager

from fake_slack.personas import C_ENG_APPROVALS
from fake_slack.server import DROPPED, GATEWAY_PAGE


@contextmanager
def answers_lost(fake_slack, method: str, *, then_unreadable: bool, every_time: bool = False,
                 channel: str = C_ENG_APPROVALS):
    """`method` on `channel` (the approvals channel) takes effect but its answer is a 500, once
    (`every_time`: each time); with `then_unreadable`, every later conversations.history answers 500
    (Slack half down)."""
    real_handle = fake_slack.handle
    acted = []

    def half_down(name, params, headers):
        if name == "conversations.history" and acted and then_unreadable:
            return 500, {}, {"ok": False, "error": "fatal_error"}
        status, extra, body = real_handle(name, params, headers)
        if name == method and params.get("channel") == channel and body.get("ok") and (
                every_time or not acted):
            acted.append(params)
            return 500, extra, {"ok": False, "error": "fatal_error"}
        return status, extra, body

    fake_slack.handle = half_down
    try:
        yield acted
    finally:
        del fake_slack.handle


# Every way Slack's Web API answers a call it could not (or would not yet) serve, as the real one does:
# https://docs.slack.dev/apis/web-api/rate-limits (429 with Retry-After), the `ok: false` errors every
# method lists (`internal_error`, `fatal_error`, `service_unavailable`, `request_timeout`, `ratelimited`
# with HTTP 200), the 5xx of its servers and the HTML page of the load balancers in front of them.
# `answer_lost`, `dropped` and the two mangled answers are made first: Slack acted, and its answer never
# reached the app whole — a 500, a closed connection, a proxy's HTML page with HTTP 200 (an egress or
# TLS-inspecting proxy), JSON cut short with HTTP 200.
MANGLED_200 = ("html_page_200", "cut_short_200")
PASSING_FAULTS = ("rate_limited_429", "http_500", "http_503", "gateway_502_html", "internal_error", "fatal_error",
                  "service_unavailable", "request_timeout", "ratelimited_http_200", "answer_lost", "dropped",
                  *MANGLED_200)
# The passing faults Slack acted on, whose answer never reached the app whole.
MADE_BUT_LOST = ("answer_lost", "dropped", *MANGLED_200)
PROXY_PAGE = "<html><head><title>Service Unavailable</title></head><body>Please try again later</body></html>"


def _faulty_answer(fault: str, act):
    """(status, headers, body) of `fault`; `act()` makes the call (for the faults Slack made)."""
    if fault == "rate_limited_429":
        return 429, {"Retry-After": "1"}, {"ok": False, "error": "ratelimited"}
    if fault == "http_500":
        return 500, {}, {"ok": False, "error": "fatal_error"}
    if fault == "http_503":
        return 503, {}, {"ok": False, "error": "service_unavailable"}
    if fault == "gateway_502_html":
        return 502, {}, GATEWAY_PAGE
    if fault in ("internal_error", "fatal_error", "service_unavailable", "request_timeout"):
        return 200, {}, {"ok": False, "error": fault}
    if fault == "ratelimited_http_200":
        return 200, {}, {"ok": False, "error": "ratelimited"}
    status, headers, body = act()
    if fault == "answer_lost" and body.get("ok"):
        return 500, {}, {"ok": False, "error": "fatal_error"}
    if fault == "dropped":
        return DROPPED, {}, body
    if fault == "html_page_200":
        return 200, {}, PROXY_PAGE
    if fault == "cut_short_200":
        return 200, {}, '{"ok": true, "channel": "C0", "ts": "17'
    return status, headers, body


@contextmanager
def failing(fake_slack, matches, fault: str, *, times: int | None = 1):
    """Calls for which `matches(method, params)` holds meet `fault` (one of PASSING_FAULTS, or any other
    string: an `ok: false` refusal with that error), the first `times` times (None: every time).
    Yields the params of the calls that met it. The fake's own faults (`fake_slack.fail`, `rate_limit`, …)
    pick calls by method; these by anything in them: a post to one channel, a DM, a thread reply."""
    with failing_each(fake_slack, (matches, fault, times)) as (met,):
        yield met


@contextmanager
def failing_each(fake_slack, *rules):
    """Several `failing` at once: each rule (matches, fault, times); the first rule a call matches decides.
    Yields, per rule, the params of the calls that met it."""
    real_handle = fake_slack.handle
    met = [[] for _ in rules]

    def handle(method, params, headers):
        for (matches, fault, times), seen in zip(rules, met):
            if matches(method, params) and (times is None or len(seen) < times):
                seen.append(params)
                if fault not in PASSING_FAULTS:
                    return 200, {}, {"ok": False, "error": fault}
                return _faulty_answer(fault, lambda: real_handle(method, params, headers))
        return real_handle(method, params, headers)

    fake_slack.handle = handle
    try:
        yield met
    finally:
        del fake_slack.handle


@contextmanager
def slow(fake_slack, matches, seconds: float, *, times: int | None = 1):
    """Calls for which `matches(method, params)` holds are made at once and answered `seconds` later (the
    first `times` times): past the client's timeout, the app cannot know that Slack made them."""
    real_handle = fake_slack.handle
    met = []

    def handle(method, params, headers):
        answer = real_handle(method, params, headers)
        if matches(method, params) and (times is None or len(met) < times):
            met.append(params)
            time.sleep(seconds)
        return answer

    fake_slack.handle = handle
    try:
        yield met
    finally:
        del fake_slack.handle
