"""Whether a URL is a server on this machine: the demo runs only against the fake Slack it starts."""

from urllib.parse import urlsplit

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def is_local_http(url: str) -> bool:
    """http, a loopback host and a port: http://127.0.0.1:8765/api/, not https://slack.com/api/."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:  # a port that is not a number, or out of range
        return False
    return parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS and port is not None
