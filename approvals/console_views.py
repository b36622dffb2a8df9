"""The HR console: server-rendered pages beside the Django admin (issue 10).

Views stay thin: reads come from selectors and the cached Slack directory,
writes go through services. Every page needs a signed-in staff user: anyone
else is sent to the sign-in page, and a signed-in non-staff user gets 403.
Pages work without JavaScript; `approvals/console.js` only adds suggestions
as you type, from `console:suggest`.
"""

import functools
import logging

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import Permission
from django.contrib.auth.views import LoginView
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseBadRequest, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST
from slack_sdk.errors import SlackApiError

from approvals import slack_directory
from approvals.console_selectors import teams_in_matching_order
from approvals.console_services import TeamNotFound, TeamOrderChanged, team_move
from approvals.sign_in_throttle import ConsoleSignInForm
from approvals.slack_clients import in_request_client
from approvals.task_queue import error_code, error_for_people

logger = logging.getLogger(__name__)

SEARCH_KINDS = {"all": "Everything", "people": "People", "channels": "Channels", "usergroups": "User groups"}
MAX_QUERY_LENGTH = 100
MAX_SUGGESTIONS = 8


class ConsoleLogin(LoginView):
    """The console's own sign-in (LOGIN_URL). The admin's refuses an account without staff status as a
    wrong password; this one signs any active account in, and the page it was going to then says the
    account is not an HR console account (403.html), which is what HR must fix."""

    template_name = "approvals/console/login.html"
    authentication_form = ConsoleSignInForm


def staff_required(view):
    """Signed in (else the sign-in page), and staff (else 403)."""

    @functools.wraps(view)
    @login_required
    def wrapped(request, *args, **kwargs):
        if not request.user.is_staff:
            raise PermissionDenied("The HR console is for staff users.")
        return view(request, *args, **kwargs)

    return wrapped


def permission_names(perms) -> list[tuple[str, str]]:
    """(name, code) of each permission: "approvals.record_adjustment" as the admin names it, "Can record
    balance adjustments", which is what HR looks for under Users or Groups."""
    named = {f"{p.content_type.app_label}.{p.codename}": p.name for p in Permission.objects.filter(
        codename__in=[perm.partition(".")[2] for perm in perms]).select_related("content_type")}
    return [(named.get(perm, perm), perm) for perm in perms]


def console_permission(*perms: str, any_of: bool = False):
    """A staff user (else sign-in or 403) with `perms` (all of them, or one with `any_of`), else 403."""

    def decorator(view):
        @functools.wraps(view)
        @staff_required
        def wrapped(request, *args, **kwargs):
            user = request.user
            allowed = any(user.has_perm(p) for p in perms) if any_of else user.has_perms(perms)
            if not allowed:
                return render(request, "approvals/console/config/forbidden.html",
                              {"perms": permission_names(perms), "any_of": any_of}, status=403)
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


@require_GET
@staff_required
def home(request):
    directory = slack_directory.directory_current()
    teams = teams_in_matching_order(directory=directory)
    return render(request, "approvals/console/home.html", {
        "nav": "teams",
        "teams": teams,
        "order": ",".join(str(team.id) for team in teams),  # sent with a move: team_move checks it
    })


@require_POST
@console_permission("approvals.change_team")  # the order decides which team, and so which approvers, a person has
def team_reorder(request, team_id: int):
    offset = {"up": -1, "down": 1}.get(request.POST.get("direction", ""))
    if offset is None:
        return HttpResponseBadRequest("direction must be up or down")
    seen = request.POST.get("order")  # the order the page showed (absent from an older page: not checked)
    try:
        seen_order = [int(pk) for pk in seen.split(",")] if seen else None
    except ValueError:
        return HttpResponseBadRequest("order must be team ids separated by commas")
    try:
        team = team_move(team_id=team_id, offset=offset, seen_order=seen_order)
    except TeamNotFound:
        messages.error(request, "That team no longer exists.")
    except TeamOrderChanged:
        messages.error(request, "Someone else changed the order of the teams since this page was loaded; "
                                "nothing was moved. Here is the order now: move the team again if it still "
                                "needs to.")
    else:
        messages.success(request, f"{team.name} moved {request.POST['direction']}.")
    return redirect("console:home")


def _search(query: str, kind: str, directory, *, limit: int) -> dict:
    wants = (lambda name: kind in ("all", name))
    return {
        "people": slack_directory.people_matching(query, directory=directory, limit=limit) if wants("people") else [],
        "channels": slack_directory.channels_matching(query, directory=directory, limit=limit)
        if wants("channels") else [],
        "usergroups": slack_directory.usergroups_matching(query, directory=directory, limit=limit)
        if wants("usergroups") else [],
    }


def _exact_email(query: str, found_people: list) -> tuple[object | None, str | None]:
    """(person, error) for an email address the cached directory does not know yet."""
    if "@" not in query.strip("@") or any(p.email.casefold() == query.casefold() for p in found_people):
        return None, None
    try:
        return slack_directory.person_by_email(in_request_client(), query), None
    except SlackApiError as exc:
        logger.warning("users.lookupByEmail failed error=%s", error_code(exc))
        return None, error_code(exc)
    except OSError as exc:  # timeouts and refused connections: the page still renders
        logger.warning("users.lookupByEmail failed error=%s", type(exc).__name__)
        return None, error_for_people(exc)


@require_GET
@staff_required
def search(request):
    """People, channels and user groups by name: a plain GET form and a results list."""
    query = request.GET.get("q", "").strip()[:MAX_QUERY_LENGTH]
    kind = request.GET.get("kind", "all")
    if kind not in SEARCH_KINDS:
        kind = "all"
    directory = slack_directory.directory_current()
    results = _search(query, kind, directory, limit=slack_directory.MAX_RESULTS) if query else {}
    lookup_error = None
    if query and kind in ("all", "people"):
        person, lookup_error = _exact_email(query, results["people"])
        if person is not None:
            results["people"] = [person, *results["people"]]
    return render(request, "approvals/console/search.html", {
        "nav": "search",
        "query": query,
        "kind": kind,
        "kinds": SEARCH_KINDS,
        "results": results,
        "found": any(results.values()),
        "directory": directory,
        "directory_error": slack_directory.directory_error_cached(),
        "lookup_error": lookup_error,
    })


@require_GET
@staff_required
def suggest(request):
    """Suggestions as you type, for console.js: JSON, from the cached directory only."""
    query = request.GET.get("q", "").strip()[:MAX_QUERY_LENGTH]
    kind = request.GET.get("kind", "all")
    if kind not in SEARCH_KINDS:
        kind = "all"
    directory = slack_directory.directory_current()
    found = _search(query, kind, directory, limit=MAX_SUGGESTIONS) if query else {}
    suggestions = (
        [{"value": p.email or f"@{p.name}",
          "label": " · ".join(filter(None, [p.label, f"@{p.name}", p.email, "guest" if p.guest else ""])),
          "id": p.id} for p in found.get("people", [])]
        + [{"value": c.label, "label": c.label + (" (private)" if c.is_private else ""), "id": c.id}
           for c in found.get("channels", [])]
        + [{"value": g.label, "label": " · ".join(filter(None, [g.label, g.name])), "id": g.id}
           for g in found.get("usergroups", [])]
    )
    return JsonResponse({"suggestions": suggestions, "ready": directory is not None})
