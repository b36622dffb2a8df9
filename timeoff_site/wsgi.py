import logging
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "timeoff_site.settings")
# Python's warnings (WhiteNoise's "No directory at …/staticfiles/" on a host that never ran collectstatic)
# go to stderr as plain text; through logging they are JSON lines like the rest, redacted.
logging.captureWarnings(True)
application = get_wsgi_application()
