"""Optional error reporting to Sentry (`SENTRY_DSN`), with secrets scrubbed before anything leaves.

Initialised from settings only when the DSN is set. `send_default_pii=False`
keeps cookies, user details and request bodies out; `scrub_event` then walks
what is left (messages, exception values, stack frames' variables, headers,
breadcrumbs) and replaces Slack tokens, the signing secret and anything under
a secret-looking key, reusing the log redaction.
"""

import re

from timeoff_site.log_redaction import REDACTED, redact

# Keys whose values are secrets whatever they look like (headers, settings, local variables).
SECRET_KEYS = re.compile(r"token|secret|signature|authorization|password|passwd|cookie|session|api_?key|dsn",
                         re.IGNORECASE)


def init_sentry(dsn: str, *, environment: str | None = None) -> None:
    import sentry_sdk
    from sentry_sdk.integrations.django import DjangoIntegration

    sentry_sdk.init(
        dsn=dsn,
        environment=environment or None,
        integrations=[DjangoIntegration()],
        send_default_pii=False,
        before_send=scrub_event,
        before_breadcrumb=scrub_breadcrumb,
    )


def scrub_event(event: dict, hint: dict | None = None) -> dict:
    return scrub(event)


def scrub_breadcrumb(crumb: dict, hint: dict | None = None) -> dict:
    return scrub(crumb)


def scrub(value, key: str | None = None):
    """A copy of `value` with secret-looking keys blanked and tokens redacted in every string."""
    if key is not None and SECRET_KEYS.search(key) and value not in (None, "", [], {}):
        return REDACTED
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: scrub(v, k if isinstance(k, str) else None) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        # Sentry sends headers as [name, value] pairs: a pair named like a secret is one.
        if len(value) == 2 and isinstance(value[0], str) and SECRET_KEYS.search(value[0]):
            return [value[0], REDACTED]
        return [scrub(item) for item in value]
    return value
