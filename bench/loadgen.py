"""A closed-loop HTTP load generator for signed Slack requests (asyncio, raw sockets).

Run as a child process of bench/run.py, so it shares no GIL with the fake Slack:

    python bench/loadgen.py SPEC.json  ->  one JSON line of results on stdout

SPEC: host, port, path, content_type, template (the request body with tokens
such as `__B_USER__` in it), tokens ({token: how to fill it per request}),
secret (the signing secret), concurrency, duration (seconds), max_requests,
start_n (the first request number; numbers make ids unique).

Each of `concurrency` clients sends one request on its keep-alive connection,
waits for the whole response, and sends the next, until `duration` has passed
or `max_requests` were sent. A client reconnects after
`requests_per_connection` requests or half a second, so that connections keep being spread
over gunicorn's workers (a keep-alive connection stays with the worker that
accepted it, and one unlucky deal would load one worker more than the other). Every body is made at send time (token replacement,
then signed with the current timestamp exactly as Slack signs: HMAC-SHA256 of
`v0:{timestamp}:{body}`), so ids never repeat and no signature goes stale.
Latency is from writing the request to reading the last byte of the answer.
The process's own CPU time is reported, so the reader can tell whether the
generator, not the server, was the limit.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import sys
import time
import uuid


def token_filler(kind, n: int):
    """The value of one token for request number n."""
    if kind == "seq":
        return str(n)
    if kind == "hex":
        return f"{n:010x}"
    if kind == "uuid":
        return f"00000000-0000-4000-8000-{n:012d}"
    if kind == "trigger":  # Slack's shape: <seconds>.<team number>.<hex>; single use
        return f"{int(time.time())}.4744562912.{uuid.uuid4().hex}"
    if kind == "now":
        return f"{time.time():.6f}"
    if isinstance(kind, dict) and "cycle" in kind:  # the n-th item, round robin
        values = kind["cycle"]
        return values[n % len(values)]
    if isinstance(kind, dict) and "per_round" in kind:  # one item per round of `every` requests
        values = kind["per_round"]
        return values[(n // kind["every"]) % len(values)]
    raise ValueError(f"unknown token kind {kind!r}")


class Requests:
    """Makes request n on demand: the body from the template, the signature, the head."""

    def __init__(self, spec: dict):
        self.template = spec["template"]
        self.tokens = list(spec["tokens"].items())
        self.secret = spec["secret"].encode()
        self.head = (
            f"POST {spec['path']} HTTP/1.1\r\n"
            f"Host: {spec['host']}:{spec['port']}\r\n"
            "User-Agent: Slackbot 1.0 (+https://api.slack.com/robots)\r\n"
            "Accept-Encoding: gzip,deflate\r\n"
            "Accept: application/json,*/*\r\n"
            f"Content-Type: {spec['content_type']}\r\n"
        )
        self.extra_headers = "".join(f"{k}: {v}\r\n" for k, v in spec.get("headers", {}).items())
        self.next_n = spec.get("start_n", 0)
        self.max_requests = spec.get("max_requests") or 10**9
        self.made = 0
        self.stop_at = float("inf")

    def next(self) -> bytes | None:
        if self.made >= self.max_requests or time.perf_counter() >= self.stop_at:
            return None
        n = self.next_n
        self.next_n += 1
        self.made += 1
        text = self.template
        for token, kind in self.tokens:
            text = text.replace(token, token_filler(kind, n))
        body = text.encode()
        timestamp = str(int(time.time()))
        signature = hmac.new(self.secret, b"v0:" + timestamp.encode() + b":" + body, hashlib.sha256).hexdigest()
        head = (f"{self.head}{self.extra_headers}Content-Length: {len(body)}\r\n"
                f"X-Slack-Request-Timestamp: {timestamp}\r\nX-Slack-Signature: v0={signature}\r\n\r\n")
        return head.encode() + body


class Results:
    def __init__(self):
        self.latencies: list[float] = []
        self.statuses: dict[int, int] = {}
        self.bodies: dict[str, int] = {}  # the first bytes of each answer, counted
        self.transport_errors = 0
        self.timeouts = 0
        self.last_done = 0.0
        self.done_at: list[float] = []

    def record(self, status: int, body: bytes, latency: float) -> None:
        self.latencies.append(latency)
        self.statuses[status] = self.statuses.get(status, 0) + 1
        key = body[:70].decode("utf-8", "replace")
        if len(self.bodies) < 50 or key in self.bodies:
            self.bodies[key] = self.bodies.get(key, 0) + 1
        self.last_done = time.perf_counter()
        self.done_at.append(self.last_done)


class Connection(asyncio.Protocol):
    """One client: a keep-alive connection that always has one request in flight."""

    def __init__(self, requests: Requests, results: Results, finished: asyncio.Future, timeout: float,
                 per_connection: int):
        self.requests, self.results, self.finished, self.timeout = requests, results, finished, timeout
        self.per_connection = per_connection
        self.transport = None
        self.buffer = bytearray()
        self.in_flight = False
        self.retry = False  # reconnect: after a timeout, a dropped connection, or per_connection requests
        self.sent = 0
        self.started = 0.0

    def connection_made(self, transport):
        self.transport = transport
        self.opened = time.perf_counter()
        self.send_next()

    def send_next(self):
        if self.sent >= self.per_connection or (self.sent and time.perf_counter() - self.opened > MAX_CONNECTION_AGE):
            self.in_flight, self.retry = False, True
            self.transport.close()
            return
        request = self.requests.next()
        if request is None:
            self.in_flight = False
            self.transport.close()
            return
        self.sent += 1
        self.buffer.clear()
        self.header_end = -1
        self.total = -1
        self.chunked = False
        self.in_flight = True
        self.started = time.perf_counter()
        self.transport.write(request)

    def check_timeout(self, now: float):
        if self.in_flight and now - self.started > self.timeout:
            self.results.timeouts += 1
            self.in_flight = False
            self.retry = True
            self.transport.abort()

    def data_received(self, data):
        self.buffer += data
        if self.header_end < 0:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            self.header_end = end + 4
            head = bytes(self.buffer[:end]).lower()
            self.status = int(head[9:12])
            marker = head.find(b"\r\ncontent-length:")
            if marker >= 0:
                line_end = head.find(b"\r\n", marker + 2)
                length = int(head[marker + 17:line_end if line_end >= 0 else None].strip())
                self.total = self.header_end + length
            else:
                self.chunked = b"transfer-encoding: chunked" in head
                if not self.chunked:
                    self.total = self.header_end  # no body (gunicorn always sends a length for Django)
        if self.chunked:
            if not self.buffer.endswith(b"0\r\n\r\n"):
                return
            body = bytes(self.buffer[self.header_end:])
        else:
            if len(self.buffer) < self.total:
                return
            body = bytes(self.buffer[self.header_end:self.total])
        self.in_flight = False
        self.results.record(self.status, body, time.perf_counter() - self.started)
        self.send_next()

    def connection_lost(self, exc):
        LIVE.discard(self)
        if self.in_flight:  # the server hung up on a request: count it
            self.results.transport_errors += 1
            self.in_flight, self.retry = False, True
        if self.retry:  # and carry on with a new connection
            asyncio.get_running_loop().create_task(reconnect(self))
            return
        if not self.finished.done():
            self.finished.set_result(None)


LIVE: set[Connection] = set()
MAX_CONNECTION_AGE = 0.5  # seconds: slow endpoints get their connections re-dealt too


def connect(requests, results, finished, spec):
    def factory():
        connection = Connection(requests, results, finished, spec.get("timeout", 10.0),
                                spec.get("requests_per_connection") or 10**9)
        connection.spec = spec
        LIVE.add(connection)
        return connection
    return asyncio.get_running_loop().create_connection(factory, spec["host"], spec["port"])


async def reconnect(old: Connection):
    try:
        await connect(old.requests, old.results, old.finished, old.spec)
    except OSError:
        old.results.transport_errors += 1
        if not old.finished.done():
            old.finished.set_result(None)


async def run(spec: dict) -> dict:
    loop = asyncio.get_running_loop()
    requests, results = Requests(spec), Results()
    concurrency = spec["concurrency"]
    finished = [loop.create_future() for _ in range(concurrency)]
    cpu0 = time.process_time()
    start = time.perf_counter()
    requests.stop_at = start + spec["duration"]
    for future in finished:
        await connect(requests, results, future, spec)

    async def watchdog():
        while True:
            await asyncio.sleep(0.5)
            now = time.perf_counter()
            for connection in list(LIVE):
                connection.check_timeout(now)

    watching = loop.create_task(watchdog())
    await asyncio.gather(*finished)
    watching.cancel()
    elapsed = (results.last_done or time.perf_counter()) - start
    cpu = time.process_time() - cpu0
    latencies = sorted(results.latencies)

    def pct(p):
        return latencies[min(len(latencies) - 1, int(p / 100 * len(latencies)))] * 1000 if latencies else None

    done = len(latencies)
    per_second = [0] * max(1, int(spec["duration"]))  # whole seconds of the run; the drain after it is left out
    for moment in results.done_at:
        if int(moment - start) < len(per_second):
            per_second[int(moment - start)] += 1
    return {
        "per_second": per_second,
        "sent": requests.made,
        "done": done,
        "next_n": requests.next_n,
        "elapsed": elapsed,
        "rps": done / elapsed if elapsed > 0 else 0.0,
        "p50_ms": pct(50),
        "p90_ms": pct(90),
        "p99_ms": pct(99),
        "max_ms": latencies[-1] * 1000 if latencies else None,
        "statuses": results.statuses,
        "bodies": results.bodies,
        "transport_errors": results.transport_errors,
        "timeouts": results.timeouts,
        "cpu_s": cpu,
        "cpu_us_per_request": cpu / max(1, requests.made) * 1e6,
    }


def main() -> None:
    with open(sys.argv[1]) as f:
        spec = json.load(f)
    result = asyncio.run(run(spec))
    result["pid"] = os.getpid()
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
