"""Liveness and readiness probes for the load balancer and the orchestrator."""

import logging

from django.core.cache import cache
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from approvals.database_timeouts import cut_short

logger = logging.getLogger(__name__)


# GET or HEAD (uptime monitors probe with HEAD).
@never_cache
@require_safe
def healthz(request):
    """200 whenever the process can serve a request; it touches no service."""
    return JsonResponse({"status": "ok"})


@never_cache
@require_safe
def readyz(request):
    """200 only when the database and the cache both answer; 503 naming what failed."""
    failed = {}
    try:
        database_answers()
    except Exception as exc:  # any driver error means "not ready"
        # A statement cut short at DATABASE_STATEMENT_TIMEOUT: named as PostgreSQL named it (QueryCanceled).
        failed["database"] = type(exc.__cause__ if cut_short(exc) else exc).__name__
    try:
        cache.set("readyz:probe", "ok", timeout=10)
        if cache.get("readyz:probe") != "ok":
            failed["cache"] = "value not read back"
    except Exception as exc:
        failed["cache"] = type(exc).__name__
    if failed:
        logger.warning("not ready: %s", failed)
        return JsonResponse({"status": "unavailable", "failed": failed}, status=503)
    return JsonResponse({"status": "ok"})


def database_answers() -> None:
    """`SELECT 1`, on a new connection if the kept one fails: a connection the database server closed
    when it restarted (kept up to CONN_MAX_AGE) says nothing of the database now. (SQLite has no server.)

    Bounded as every statement of a web process is (DATABASE_STATEMENT_TIMEOUT): a server that holds
    even this is not ready. Not tried again then: the server answered, on a connection that works, and
    a new one would wait as long again, after connecting; the probe's answer would come too late."""
    kept = connection.connection is not None
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:
        if not kept or connection.vendor == "sqlite" or cut_short(exc):
            raise
        connection.close()
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
