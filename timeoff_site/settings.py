"""Settings, read from the environment (and an optional `.env` file) by django-environ.

Every variable is listed in `.env.example` and documented in README.md. Nothing
else in the project reads `os.environ`. Missing or malformed Slack settings do
not crash here: they are reported by system checks (`slackbot/checks.py`), so
`manage.py check` names the problem instead of a stack trace on the first request.
"""

import os
from collections.abc import MutableMapping
from pathlib import Path

import environ
from django.utils.csp import CSP

from timeoff_site.loopback import is_local_http

BASE_DIR = Path(__file__).resolve().parent.parent

class _EscapedEnviron(MutableMapping):
    """os.environ as django-environ reads it, each `$` escaped. django-environ takes a value that starts
    with `$` for the name of another variable to read instead (a SECRET_KEY from Django's own generator
    starts so about once in fifty, and the error would print it); with `escape_proxy` it turns each `\\$`
    back into `$`, so every value is read exactly as written."""

    def __getitem__(self, key):
        return os.environ[key].replace("$", "\\$")

    def __setitem__(self, key, value):
        os.environ[key] = value

    def __delitem__(self, key):
        del os.environ[key]

    def __iter__(self):
        return iter(os.environ)

    def __len__(self):
        return len(os.environ)


class LiteralEnv(environ.Env):
    ENVIRON = _EscapedEnviron()

    def __init__(self, **scheme):
        super().__init__(**scheme)
        self.escape_proxy = True

    def list(self, var, cast=None, default=environ.Env.NOTSET):
        """A comma-separated list, each item without the spaces around it ("a, b"), empty ones left out."""
        return [item.strip() if isinstance(item, str) else item for item in super().list(var, cast, default)
                if not isinstance(item, str) or item.strip()]


env = LiteralEnv()
# ENV_FILE="" skips the file (the test settings do, so a developer's .env never leaks into tests).
ENV_FILE = env.str("ENV_FILE", default=str(BASE_DIR / ".env"))
if ENV_FILE:
    environ.Env.read_env(ENV_FILE, overwrite=False)

DEBUG = env.bool("DEBUG", default=False)
# No default: a missing SECRET_KEY must stop the process, not run with a known key.
SECRET_KEY = env.str("SECRET_KEY")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "approvals",
    "slackbot",
    "django_tasks_db",
    "simple_history",  # who changed which configuration row, and when (the console's History page)
    "timeoff_site.apps.SiteConfig",  # metrics receivers (task attempts, delivery problems)
]

MIDDLEWARE = [
    # Outermost: a request id, latency metrics and one log line for every request (DESIGN §9).
    "timeoff_site.metrics_middleware.RequestObservationMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Slack's requests go straight to their views from here: the rest serves browsers.
    "timeoff_site.slack_fast_path.SlackFastPathMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "simple_history.middleware.HistoryRequestMiddleware",  # records the signed-in user as the history's author
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "timeoff_site.private_pages.PrivatePagesMiddleware",  # console and demo pages: Cache-Control no-store
]

ROOT_URLCONF = "timeoff_site.urls"
WSGI_APPLICATION = "timeoff_site.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.csp",
                "approvals.console_context.slack_names",
            ],
        },
    },
]

# --- Services -----------------------------------------------------------------

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
# Seconds PostgreSQL may spend on one statement, and wait for a lock inside it, in a process that answers
# Slack (and any process not named in approvals/database_timeouts.py); 0 is no bound. Slack waits 3 s for
# an answer; Redis may take up to CACHE_TIMEOUT (2 s) on a command and still answer; the network both ways
# and our own CPU take about 0.2 s: 0.8 s is what is left for the one INSERT a warm request makes (it
# takes a millisecond when nothing holds it). A lock wait gets less, and an error of its own ("canceling
# statement due to lock timeout"), so the log tells a held lock (a migration, a long transaction) from
# a slow server. The background processes (task worker, clock, run_jobs) answer nobody within 3 s and
# run longer statements (pruning, ANALYZE): one bound, for statements and lock waits, of their own.
DATABASE_STATEMENT_TIMEOUT = env.float("DATABASE_STATEMENT_TIMEOUT", default=0.8)
DATABASE_LOCK_TIMEOUT = env.float("DATABASE_LOCK_TIMEOUT", default=0.5)
DATABASE_BACKGROUND_STATEMENT_TIMEOUT = env.float("DATABASE_BACKGROUND_STATEMENT_TIMEOUT", default=60.0)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web processes and the worker share one SQLite file: wait for locks instead of
    # failing, and take the write lock up front so two writers never deadlock.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"timeout": 20, "transaction_mode": "IMMEDIATE", "init_command": "PRAGMA journal_mode=WAL;"}
    )
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", 60)
    # No `SELECT 1` before each request's first query (CONN_HEALTH_CHECKS): on the Slack endpoints
    # it is a second round trip beside the one INSERT they make. A connection that died meanwhile
    # (PostgreSQL restarted, a proxy dropped it) fails its query instead: the task backend checks
    # it then and writes its row once more on a new connection (approvals/task_backend.py), and
    # Django closes a connection that failed when the request ends.
    DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", env.bool("DATABASE_HEALTH_CHECKS", default=False))
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        _options = DATABASES["default"].setdefault("OPTIONS", {})
        # A server that takes the connection and never answers (hung, or a half-open network path) would
        # hold a request, /readyz and /metrics included, for as long as the kernel waits: minutes.
        _options.setdefault("connect_timeout", env.int("DATABASE_CONNECT_TIMEOUT", default=2))  # libpq's least
        # A connection whose server went away without closing it (a failover, a NAT that forgot it) is
        # otherwise found dead after the kernel's defaults: 2 hours idle, or 15 minutes of retransmitting
        # a query, each holding a thread. Keepalives close an idle one within about 13 s; tcp_user_timeout
        # (Linux) fails a query whose packets go unacknowledged for 5 s, and which no statement_timeout
        # can end, as the server never sees it. DATABASE_URL's own (`?keepalives_idle=30`) take precedence.
        for _name, _value in {"keepalives": 1, "keepalives_idle": 10, "keepalives_interval": 3,
                              "keepalives_count": 3, "tcp_user_timeout": 5000}.items():
            _options.setdefault(_name, _value)
        # PostgreSQL cuts a statement short (and with it the lock wait inside it) at these bounds, sent as
        # startup options: no round trip, in any request. See approvals/database_timeouts.py for who gets
        # which bound (migrations none, the task worker and the clock a longer one). After the URL's own
        # `options`, so these win (PostgreSQL takes the last `-c` of a name).
        _options["options"] = " ".join(filter(None, [
            _options.get("options", ""),
            f"-c statement_timeout={round(DATABASE_STATEMENT_TIMEOUT * 1000)}",
            f"-c lock_timeout={round(DATABASE_LOCK_TIMEOUT * 1000)}",
        ]))

# The shared cache holds configuration snapshots, de-duplication keys and locks.
# Django's database and local-memory caches cull entries past MAX_ENTRIES (300 by
# default), which would drop locks and de-duplication keys early: raise it far
# beyond what we store. Redis does not cull (run it with noeviction/volatile-ttl).
CACHES = {"default": env.cache_url("CACHE_URL", default="dbcache://timeoff_cache")}
if CACHES["default"]["BACKEND"] == "django.core.cache.backends.redis.RedisCache":
    CACHES["default"]["BACKEND"] = "timeoff_site.redis_cache.RedisCache"  # one client per pool, not per call
    # Every command we send answers in a millisecond (no blocking commands): a Redis that does not answer
    # in seconds is down, and a request waiting on it must fail inside Slack's 3 s, not hang.
    CACHES["default"].setdefault("OPTIONS", {}).update({
        "socket_connect_timeout": env.float("CACHE_CONNECT_TIMEOUT", default=1.0),
        "socket_timeout": env.float("CACHE_TIMEOUT", default=2.0),
    })
if CACHES["default"]["BACKEND"] == "django.core.cache.backends.db.DatabaseCache":
    # A write the database refuses (SQLite locked, PostgreSQL restarting) raises, as on Redis: Django's
    # own passes it silently, and a de-duplication key or a retry's mark would quietly not be there.
    CACHES["default"]["BACKEND"] = "timeoff_site.db_cache.DatabaseCache"
if CACHES["default"]["BACKEND"] in (
    "timeoff_site.db_cache.DatabaseCache",
    "django.core.cache.backends.db.DatabaseCache",
    "django.core.cache.backends.locmem.LocMemCache",
):
    CACHES["default"].setdefault("OPTIONS", {}).update({"MAX_ENTRIES": 1_000_000, "CULL_FREQUENCY": 10})

TASKS_BACKEND = env.str("TASKS_BACKEND", default="database")
TASKS = {
    "default": {
        "BACKEND": {
            # django-tasks-db's backend with a cheaper enqueue (one INSERT, the same row): approvals/task_backend.py
            "database": "approvals.task_backend.DatabaseBackend",
            "immediate": "django.tasks.backends.immediate.ImmediateBackend",
        }.get(TASKS_BACKEND, TASKS_BACKEND)
    }
}

# A task RUNNING longer than this, whose worker has not beaten for it for as long, was
# orphaned by a dead worker and is requeued (every task is idempotent). The heartbeat
# (approvals.task_queue.task_heartbeat), not the task's age, tells: a full ledger read
# paced by Slack's rate limits can run for longer than any timeout.
TASK_STUCK_AFTER_SECONDS = env.int("TASK_STUCK_AFTER_SECONDS", default=10 * 60)
TASK_RECOVERY_INTERVAL_SECONDS = env.int("TASK_RECOVERY_INTERVAL_SECONDS", default=60)
# During a rolling deploy a worker hands a task row its release cannot run (a task or arguments of the
# other release) back to the queue for a worker that can; a row nobody has run this long after it was
# enqueued is failed (approvals.task_queue.task_hand_over). Longer than a deploy takes.
TASK_HANDOVER_MAX_SECONDS = env.int("TASK_HANDOVER_MAX_SECONDS", default=60 * 60)

# --- Slack ----------------------------------------------------------------------

SLACK_BOT_TOKEN = env.str("SLACK_BOT_TOKEN", default="")
SLACK_SIGNING_SECRET = env.str("SLACK_SIGNING_SECRET", default="")
SLACK_APP_TOKEN = env.str("SLACK_APP_TOKEN", default="")
# Socket Mode: envelopes answered at once (each holds a thread while its handler runs, views.open included).
SOCKET_MODE_THREADS = env.int("SOCKET_MODE_THREADS", default=32)
SLACK_API_URL = env.str("SLACK_API_URL", default="https://slack.com/api/")
# The deployment's public URL (https://timeoff.acme.com): App Home links HR to its console.
PUBLIC_URL = env.str("PUBLIC_URL", default="")
# Most of Slack's payloads are a few kilobytes, but a click on App Home or in a modal carries the whole
# view, percent-encoded: up to 100 blocks, and a character outside ASCII is 9 bytes once encoded (an App
# Home of Japanese names and notes passed 256 KiB). Anything larger than this is not from Slack.
SLACK_MAX_BODY_BYTES = 1024 * 1024
# The console's configuration file upload: larger is not a configuration file (thousands of teams are
# far smaller). Cut off as it arrives (timeoff_site/upload_limit.py), never spooled to disk whole.
UPLOAD_MAX_BYTES = 1024 * 1024
FILE_UPLOAD_HANDLERS = [
    "timeoff_site.upload_limit.CappedUploadHandler",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]

# --- The local demo workspace (/demo/, `manage.py demo_slack`) ---------------------
# bin/run sets DEMO=true when .env still holds the placeholder bot token that
# bin/write-dev-env writes: there is no Slack to talk to, so the app talks to the
# built-in fake Slack instead. The demo is on only with DEBUG, that placeholder and
# a Slack API on this machine (http, a loopback host, a port): never with a real
# token, nor against slack.com, whatever server runs it (gunicorn runs no system
# checks). The demo app is installed whenever DEMO is asked for, so that its system
# check (demo.E001) can say plainly why the demo is off.
DEMO_BOT_TOKEN = "xoxb-development-placeholder"
DEMO_REQUESTED = env.bool("DEMO", default=False)
DEMO = DEMO_REQUESTED and DEBUG and SLACK_BOT_TOKEN == DEMO_BOT_TOKEN and is_local_http(SLACK_API_URL)
if DEMO_REQUESTED:
    INSTALLED_APPS.append("demo")

# --- Security -------------------------------------------------------------------

# Behind a load balancer that terminates TLS and sets X-Forwarded-Proto.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
# Load balancers probe health over plain HTTP.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
# HSTS preload is a commitment for the whole domain that a company makes, not an app.
SILENCED_SYSTEM_CHECKS = ["security.W021"]

# Every page is served from our own origin: no CDN, no inline script.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "frame-ancestors": [CSP.NONE],
    "form-action": [CSP.SELF],
}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "console:login"  # the console's own: see approvals.console_views.ConsoleLogin
LOGIN_REDIRECT_URL = "console:home"

# --- Static files, i18n ---------------------------------------------------------

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        # Compressed, not hashed: pages render even before collectstatic has run.
        "BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"
    },
}
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Logging, metrics, error reporting ----------------------------------------------

LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
# One JSON object per line (request, Slack API call, task attempt; DESIGN §9), or `text` for reading locally.
LOG_FORMAT = env.str("LOG_FORMAT", default="json")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact_secrets": {"()": "timeoff_site.log_redaction.RedactSecretsFilter"}},
    "formatters": {
        "json": {"()": "timeoff_site.log_format.JsonFormatter"},
        "text": {"()": "timeoff_site.log_format.TextFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "text" if LOG_FORMAT == "text" else "json",
            "filters": ["redact_secrets"],
        },
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # slack_sdk logs request bodies at DEBUG; never let that through by accident.
        "slack_sdk": {"level": "INFO"},
        # Our own line per task attempt (approvals.tasks.attempts) replaces django.tasks' INFO lines;
        # its failures still log, with the traceback.
        "django.tasks": {"level": "WARNING"},
        # Our middleware's line per request replaces runserver's own.
        "django.server": {"level": "WARNING"},
    },
}

# `/metrics` answers only `Authorization: Bearer <METRICS_TOKEN>`; without a token, only when DEBUG is on.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
# prometheus-client's multiprocess mode (gunicorn workers and task workers on one host write here and a
# scrape adds them up). prometheus-client reads the variable itself when imported; this copy tells the
# view which registry to serve. The directory must exist before the first metric is written.
PROMETHEUS_MULTIPROC_DIR = env.str("PROMETHEUS_MULTIPROC_DIR", default="")
if PROMETHEUS_MULTIPROC_DIR:
    Path(PROMETHEUS_MULTIPROC_DIR).mkdir(parents=True, exist_ok=True)

# Optional: report errors to Sentry, with tokens and secrets scrubbed (timeoff_site/error_reporting.py).
SENTRY_DSN = env.str("SENTRY_DSN", default="")
SENTRY_ENVIRONMENT = env.str("SENTRY_ENVIRONMENT", default="")
if SENTRY_DSN:
    from timeoff_site.error_reporting import init_sentry

    init_sentry(SENTRY_DSN, environment=SENTRY_ENVIRONMENT)

# --- Daily jobs: the clock (`manage.py run_scheduler`) and `run_jobs --at` (approvals.jobs) ----------
# Local times in each team's time zone (HH:MM); the ledger's nightly export and watch run in UTC.
REMINDER_TIME = env.str("REMINDER_TIME", default="15:00")  # the reminder DM, the working day before leave
NUDGE_TIME = env.str("NUDGE_TIME", default="10:00")  # approvers' nudges (teams with nudge_after_hours)
LEDGER_EXPORT_TIME = env.str("LEDGER_EXPORT_TIME", default="02:00")  # UTC
# HR's copy of the ledger outside Slack: ledger-YYYY-MM-DD.csv, the newest LEDGER_EXPORT_KEEP kept.
# A relative path is taken from the project directory (beside manage.py).
LEDGER_EXPORT_DIR = BASE_DIR / env.str("LEDGER_EXPORT_DIR", default="exports")
LEDGER_EXPORT_KEEP = env.int("LEDGER_EXPORT_KEEP", default=30)
SCHEDULER_INTERVAL_SECONDS = env.int("SCHEDULER_INTERVAL_SECONDS", default=60)  # how often the clock ticks
JOB_RUN_STALE_SECONDS = env.int("JOB_RUN_STALE_SECONDS", default=30 * 60)  # an unfinished claim is taken over
JOB_RUN_KEEP_DAYS = env.int("JOB_RUN_KEEP_DAYS", default=60)  # job-run rows are deleted after this
