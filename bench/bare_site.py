"""Settings of the bare contenders: the production settings, another URLconf.

`DJANGO_SETTINGS_MODULE=bench.bare_site gunicorn timeoff_site.wsgi …` serves
bench/bare_urls.py with exactly the production middleware, logging and
environment handling, so the bare views are measured under the same gunicorn
and the same Django stack as the app's endpoints. Nothing else changes.
"""

from timeoff_site.settings import *  # noqa: F403 (production settings, read from the same environment)

ROOT_URLCONF = "bench.bare_urls"
