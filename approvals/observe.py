"""What the current request or task is, for log lines and metric labels (DESIGN §9).

The site's middleware opens a `RequestContext` for each HTTP request (its id
comes from `X-Request-ID` or is made here); the Slack routing names what the
request is (`label_request("block_actions", "approve", team=…, user=…)`); a
task attempt opens a `TaskContext`. Everything that logs or counts below them
(the Slack client, the request log line, the metrics) reads these contextvars,
so nothing has to pass an id down by hand. contextvars are per thread under
gunicorn's threads and per task under asyncio, so concurrent requests never
see each other's context.

Socket Mode's listener opens a `RequestContext` for each envelope as the
middleware does for a request. Outside both (a management command)
`label_request` does nothing: there is no line to label.
"""

import re
import uuid
from contextvars import ContextVar
from dataclasses import dataclass, field

# A label value is one of a bounded set: Slack's own ids and event types are short
# words; anything else (a hostile or malformed value) becomes "other", so a
# signed-but-odd payload cannot create a new time series per request.
LABEL_SHAPE = re.compile(r"[A-Za-z0-9_.:-]{1,64}", re.ASCII)
# Request ids come from a proxy (nginx's $request_id, a load balancer's trace id): keep the shape sane.
REQUEST_ID_SHAPE = re.compile(r"[A-Za-z0-9._:-]{1,128}", re.ASCII)
SLACK_ID_SHAPE = re.compile(r"[A-Z0-9_]{2,32}", re.ASCII)


@dataclass
class RequestContext:
    request_id: str
    slack_kind: str = ""  # command, block_actions, view_submission, event, …
    slack_name: str = ""  # the routed handler, action_id, callback_id or event type
    team: str | None = None  # Slack team id
    user: str | None = None  # Slack user id
    # Tasks this request enqueued: their attempts log their task_id, so a worker's lines join the request's.
    tasks: list[str] = field(default_factory=list)


@dataclass
class TaskContext:
    task_id: str
    task: str
    attempt: int


_request: ContextVar[RequestContext | None] = ContextVar("timeoff_request", default=None)
_task: ContextVar[TaskContext | None] = ContextVar("timeoff_task", default=None)


def new_request_id(given: str | None = None) -> str:
    """The caller's id when it is shaped like one, else a fresh one."""
    if given and REQUEST_ID_SHAPE.fullmatch(given):
        return given
    return uuid.uuid4().hex


def request_started(request_id: str):
    """Open the request's context; returns the token `request_finished` needs."""
    return _request.set(RequestContext(request_id=request_id))


def request_finished(token) -> None:
    _request.reset(token)


def current_request() -> RequestContext | None:
    return _request.get()


def label_request(kind: str, name: str | None = None, *, team=None, user=None) -> None:
    """Say what the current Slack request is: its kind, the id it was routed by, who sent it.

    `team` and `user` may be an id or Slack's `{"id": …}` object; anything not shaped
    like a Slack id is dropped.
    """
    context = _request.get()
    if context is None:
        return
    context.slack_kind = label_value(kind)
    context.slack_name = label_value(name) if name else ""
    context.team = slack_id(team)
    context.user = slack_id(user)


def task_enqueued(task_id: str) -> None:
    context = _request.get()
    if context is not None:
        context.tasks.append(task_id)


def task_started(task_id: str, task: str, attempt: int):
    return _task.set(TaskContext(task_id=task_id, task=task, attempt=attempt))


def task_finished(token) -> None:
    _task.reset(token)


def current_task() -> TaskContext | None:
    return _task.get()


def context_fields() -> dict:
    """The ids of the request and the task this line belongs to, for a log line."""
    fields = {}
    if (request := _request.get()) is not None:
        fields["request_id"] = request.request_id
        if request.team:
            fields["slack_team"] = request.team
        if request.user:
            fields["slack_user"] = request.user
    if (task := _task.get()) is not None:
        fields["task_id"] = task.task_id
        fields["task"] = task.task
        fields["attempt"] = task.attempt
    return fields


def label_value(value) -> str:
    return value if isinstance(value, str) and LABEL_SHAPE.fullmatch(value) else "other"


def slack_id(value) -> str | None:
    if isinstance(value, dict):
        value = value.get("id")
    return value if isinstance(value, str) and SLACK_ID_SHAPE.fullmatch(value) else None
