"""Log line formats: one JSON object per line (the default), or readable text (`LOG_FORMAT=text`).

Both add the ids of the request and task the line belongs to (from
`approvals.observe`: request id, Slack team and user, task id and attempt) and
any `extra={…}` fields the caller gave, and both pass the finished line through
`log_redaction.redact`: the handler's `RedactSecretsFilter` cleans the message
and traceback, this cleans the extra fields too, so a token that slipped into
any field is still replaced.
"""

import json
import logging
from datetime import UTC, datetime

from django.http import HttpRequest

from approvals import observe
from timeoff_site.log_redaction import redact

# Attributes every LogRecord has; anything else on a record came from `extra=`.
_STANDARD = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName"}


def extra_fields(record: logging.LogRecord) -> dict:
    fields = observe.context_fields()
    request = record.__dict__.get("request")
    if "request_id" not in fields and isinstance(request, HttpRequest) and hasattr(request, "request_id"):
        fields["request_id"] = request.request_id  # django.request's line, logged after our middleware ended
    fields.update((key, _loggable(value)) for key, value in record.__dict__.items() if key not in _STANDARD)
    return fields


def _loggable(value):
    """A request (Django's `django.request` logger passes it with every 4xx and 5xx) as its method and
    path: its text form holds the query string, where a search term, an email or a token may be."""
    if isinstance(value, HttpRequest):
        return f"{value.method} {value.path}"
    return value


class JsonFormatter(logging.Formatter):
    """`{"ts": …, "level": …, "logger": …, "message": …, "request_id": …, …}` on one line."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        line.update(extra_fields(record))
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line["exception"] = record.exc_text
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return redact(json.dumps(line, default=str, ensure_ascii=False))


class TextFormatter(logging.Formatter):
    """`2026-12-01 12:00:00,000 INFO name message key=value …` for reading in a terminal."""

    def __init__(self):
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        fields = extra_fields(record)
        if fields:
            first, newline, rest = line.partition("\n")  # fields go on the message's line, before a traceback
            pairs = " ".join(f"{key}={value}" for key, value in fields.items())
            line = f"{first} {pairs}{newline}{rest}"
        return redact(line)
