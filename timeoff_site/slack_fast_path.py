"""Slack's endpoints skip the middleware that serves browsers.

A request from Slack carries no cookie, session or CSRF token: its signature
alone says who sent it (slackbot.request_verification). Sessions, CSRF,
authentication, messages, the history's author, the Content-Security-Policy,
frame options and static files serve the console's pages; for Slack's
requests they are work without a purpose: about a fifth of an Approve click's
CPU, measured with bench/run.py, on endpoints that must answer in 3 s and
are the app's whole load (README, "Benchmark").

This middleware sits below the request observation (request id, metrics, the
log line) and Django's SecurityMiddleware (the HTTPS redirect, which Slack's
requests must pass like any other), and above everything else: a request
whose path starts with `/slack/` (where timeoff_site/urls.py mounts
slackbot.urls) goes straight to its view. Errors are answered as Django
answers them (a 404 for an unknown path, a 400 for a Host outside
ALLOWED_HOSTS or another suspicious request, a logged 500), and the
request_started/request_finished signals still run, so database connections
are kept and closed as usual.
The answer gets its Content-Length, as CommonMiddleware gives every other.
"""

from django.core.handlers.exception import convert_exception_to_response
from django.urls import get_resolver

SLACK_PATH_PREFIX = "/slack/"


class SlackFastPathMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        self.slack_response = convert_exception_to_response(self.call_view)

    def __call__(self, request):
        if request.path_info.startswith(SLACK_PATH_PREFIX):
            return self.slack_response(request)
        return self.get_response(request)

    @staticmethod
    def call_view(request):
        """Django's BaseHandler._get_response without the view middleware: resolve, call."""
        # ALLOWED_HOSTS, which CommonMiddleware checks for every other request: a Host not allowed is a 400.
        request.get_host()
        match = get_resolver(getattr(request, "urlconf", None)).resolve(request.path_info)
        request.resolver_match = match
        response = match.func(request, *match.args, **match.kwargs)
        if response is None:  # as Django refuses it, rather than a stack trace from the layers above
            raise ValueError(f"The view {match.func.__module__}.{match.func.__name__} didn't return an HttpResponse")
        # What CommonMiddleware adds for every other page: without it, gunicorn answers HTTP/1.1 in
        # chunks, a longer answer for Slack to read.
        if not response.streaming and not response.has_header("Content-Length"):
            response.headers["Content-Length"] = str(len(response.content))
        return response
