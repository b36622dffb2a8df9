"""The bare contenders the app's endpoints are compared with (DESIGN §10).

- `/bare/verify`: verifies the Slack signature with slack-sdk's
  SignatureVerifier and answers an empty 200. The floor for the endpoints that
  call Slack only in the background.
- `/slack/bare/verify`: the same view under `/slack/`, so past the browser's
  middleware as the app's Slack endpoints are (timeoff_site/slack_fast_path.py):
  for comparison, the floor on the app's own path.
- `/bare/open`: verifies, then calls `views.open` with a fixed modal through a
  WebClient(timeout=2), and answers an empty 200. The floor for `/timeoff`.
  The modal is the app's own request form as `/timeoff` opens it (run.py
  writes it to BENCH_MODAL_FILE), so the fake Slack does the same work
  validating it for both.
- `/bolt/commands` and `/bolt/commands-ack-first` (only when slack-bolt is installed):
  slack-bolt's Django adapter opening the same modal. The first runs the
  listener before answering (`process_before_response=True`), as ours does;
  the second is Bolt's default (the listener runs in Bolt's thread pool
  after `ack()`), so its latency does not include `views.open`.
"""

import importlib.util
import json
import os

from django.conf import settings
from django.http import HttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from slack_sdk import WebClient
from slack_sdk.signature import SignatureVerifier

with open(os.environ["BENCH_MODAL_FILE"]) as modal_file:
    MODAL = json.load(modal_file)

verifier = SignatureVerifier(settings.SLACK_SIGNING_SECRET)
client = WebClient(token=settings.SLACK_BOT_TOKEN, base_url=settings.SLACK_API_URL, timeout=2)


def verified(request) -> bool:
    return verifier.is_valid(
        body=request.body.decode("utf-8"),
        timestamp=request.headers.get("X-Slack-Request-Timestamp"),
        signature=request.headers.get("X-Slack-Signature"),
    )


@csrf_exempt
def verify(request):
    return HttpResponse(status=200 if verified(request) else 401)


@csrf_exempt
def verify_and_open(request):
    if not verified(request):
        return HttpResponse(status=401)
    client.views_open(trigger_id=request.POST["trigger_id"], view=MODAL)
    return HttpResponse(status=200)


urlpatterns = [
    path("bare/verify", verify),
    path("slack/bare/verify", verify),
    path("bare/open", verify_and_open),
]

if importlib.util.find_spec("slack_bolt") is not None:
    from slack_bolt import App
    from slack_bolt.adapter.django import SlackRequestHandler

    def bolt_app(*, process_before_response: bool) -> App:
        app = App(
            signing_secret=settings.SLACK_SIGNING_SECRET,
            client=WebClient(token=settings.SLACK_BOT_TOKEN, base_url=settings.SLACK_API_URL, timeout=2),
            process_before_response=process_before_response,
        )

        @app.command("/timeoff")
        def open_modal(ack, body, client):
            ack()
            client.views_open(trigger_id=body["trigger_id"], view=MODAL)

        return app

    in_request_handler = SlackRequestHandler(app=bolt_app(process_before_response=True))
    ack_first_handler = SlackRequestHandler(app=bolt_app(process_before_response=False))

    @csrf_exempt
    def bolt_in_request(request):
        return in_request_handler.handle(request)

    @csrf_exempt
    def bolt_ack_first(request):
        return ack_first_handler.handle(request)

    urlpatterns += [
        path("bolt/commands", bolt_in_request),
        path("bolt/commands-ack-first", bolt_ack_first),
    ]
