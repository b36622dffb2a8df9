"""Settings for the test suite: the production settings module with test values.

The tests supply the values a developer would put in `.env`; services
(`DATABASE_URL`, `CACHE_URL`) still come from the environment, so `.ci/run` can
repeat the suite against PostgreSQL and Redis.
"""

import os

os.environ["ENV_FILE"] = ""
os.environ.setdefault("SECRET_KEY", "test-secret-key-not-for-production-0123456789")
os.environ.setdefault("DEBUG", "false")
os.environ.setdefault("SLACK_BOT_TOKEN", "xoxb-test-bot-token")
os.environ.setdefault("SLACK_SIGNING_SECRET", "test-signing-secret-0123456789abcdef")
os.environ.setdefault("SLACK_API_URL", "http://127.0.0.1:9/api/")  # replaced by the fake Slack fixture
os.environ.setdefault("TASKS_BACKEND", "immediate")
os.environ.setdefault("SECURE_SSL_REDIRECT", "false")
os.environ.setdefault("ALLOWED_HOSTS", "testserver,localhost,127.0.0.1")

from timeoff_site.settings import *  # noqa: E402,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast logins in tests

# A file, not SQLite's in-memory database: the worker-crash tests start real
# `db_worker` processes that must see the same database as the test.
# One file per test run (by process id), so two runs on one machine never share it.
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    import tempfile

    DATABASES["default"]["TEST"] = {  # noqa: F405
        "NAME": os.path.join(tempfile.gettempdir(), f"timeoff-test-{os.getpid()}.sqlite3")
    }

# The suite's own statements run on these connections too: creating and dropping the test database, and
# the TRUNCATE of every table after each transactional test, which on a busy machine take longer than
# a request's bound (DATABASE_STATEMENT_TIMEOUT, 0.8 s): generous bounds for the suite, after
# production's (PostgreSQL takes the last `-c`). The tests of the bounds put production's back on the
# connections they use (test_support.database_holds.production_bounds).
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":  # noqa: F405
    SUITE_DATABASE_BOUNDS = " -c statement_timeout=30000 -c lock_timeout=30000"
    DATABASES["default"]["OPTIONS"]["options"] += SUITE_DATABASE_BOUNDS  # noqa: F405
