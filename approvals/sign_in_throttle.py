"""Failed sign-ins to the console and the admin, counted per account in the shared cache.

Five wrong passwords for one account in 15 minutes lock that account's sign-in
for the rest of those 15 minutes, on every host (the count is in the shared
cache), and the right password is refused meanwhile too: otherwise the lock
would only slow a guesser down. It counts per account, not per address: behind
a load balancer every request comes from the balancer's address, and one
address locked would be everyone locked.
"""

import hashlib

from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.core.cache import cache
from django.core.exceptions import ValidationError

FAILURES_ALLOWED = 5
WINDOW_SECONDS = 15 * 60
LOCKED_MESSAGE = ("Too many wrong passwords for this account: sign-in is locked for 15 minutes. Wait, or ask "
                  "another HR admin to set a new password for it.")


def _key(username: str) -> str:
    # Hashed: the key holds no name, and any name (spaces, 300 characters) makes a valid key.
    digest = hashlib.sha256(username.strip().casefold().encode()).hexdigest()
    return f"sign-in-failures:{digest}"


def locked_out(username: str) -> bool:
    return (cache.get(_key(username)) or 0) >= FAILURES_ALLOWED


def record_failure(username: str) -> None:
    """One more failure, in a window that starts at the first one (not renewed by later ones)."""
    key = _key(username)
    cache.add(key, 0, WINDOW_SECONDS)
    try:
        cache.incr(key)
    except ValueError:  # expired between the two calls
        cache.set(key, 1, WINDOW_SECONDS)


def forget_failures(username: str) -> None:
    cache.delete(_key(username))


class ThrottledSignIn:
    """For Django's authentication forms: refuse a locked account before checking its password, count a
    failed attempt, and clear the count on success."""

    def clean(self):
        username = self.cleaned_data.get("username") or ""
        if username and locked_out(username):
            raise ValidationError(LOCKED_MESSAGE, code="locked_out")
        try:
            cleaned = super().clean()
        except ValidationError:
            if username:
                record_failure(username)
            raise
        forget_failures(username)
        return cleaned


class ConsoleSignInForm(ThrottledSignIn, AuthenticationForm):
    pass


class AdminSignInForm(ThrottledSignIn, AdminAuthenticationForm):
    pass
