"""`GET /metrics`: Prometheus text format (DESIGN §4, §9).

Who may read it: with `METRICS_TOKEN` set, only `Authorization: Bearer <token>`
(anything else: 401). Without a token the page is never open in production:
404 unless `DEBUG` is on (a developer's machine).

With `PROMETHEUS_MULTIPROC_DIR` set (gunicorn and the task workers, see
gunicorn.conf.py) a scrape adds up the samples every process on this host wrote
there; without it, this process's own registry answers. The task queue's depth
and age are read from the database at scrape time either way.
"""

import hmac

from django.conf import settings
from django.http import Http404, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from approvals.metrics import TaskQueueCollector

_queue_registry = CollectorRegistry(auto_describe=True)
_queue_registry.register(TaskQueueCollector())


@never_cache
@require_GET
def metrics(request):
    token = settings.METRICS_TOKEN
    if token:
        if not bearer_matches(request.headers.get("Authorization", ""), token):
            response = HttpResponse("Unauthorized.\n", status=401, content_type="text/plain")
            response["WWW-Authenticate"] = 'Bearer realm="metrics"'
            return response
    elif not settings.DEBUG:
        raise Http404("metrics are off: set METRICS_TOKEN")  # never open in production
    return HttpResponse(exposition(), content_type=CONTENT_TYPE_LATEST)


def bearer_matches(header: str, token: str) -> bool:
    scheme, _, given = header.partition(" ")
    # Constant-time comparison: the response time must not tell how much of a guess was right.
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


def exposition() -> bytes:
    if settings.PROMETHEUS_MULTIPROC_DIR:
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=settings.PROMETHEUS_MULTIPROC_DIR)
        return generate_latest(registry) + generate_latest(_queue_registry)
    return generate_latest(REGISTRY) + generate_latest(_queue_registry)
