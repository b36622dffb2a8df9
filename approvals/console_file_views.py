"""The configuration file in the browser (issue 10, item 5): download it, upload one, preview, apply.

Download writes what `export_config` writes. An upload is validated as a
whole (every error named by its path in the file, as `import_config` prints
them) and kept in the session; the preview shows what applying it would add,
change and remove (`approvals.config_diff`, the same summary `import_config`
prints); *Apply* replaces the configuration atomically with `config_apply`.
Removing anything needs its own tick, as the command needs `--replace`. The
preview carries a fingerprint of the configuration it was computed against:
if someone changes the configuration meanwhile, applying shows the new
preview instead of applying blind.
"""

import hashlib
import json
import re
from dataclasses import dataclass

from django.conf import settings
from django.contrib import messages
from django.db import transaction
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from approvals import slack_directory
from approvals.config_diff import (
    ADDED,
    CHANGED,
    REMOVED,
    SECTIONS,
    ConfigDiff,
    config_diff,
)
from approvals.config_file import (
    ConfigError,
    config_from_text,
    config_to_dict,
    config_to_text,
    format_for_path,
)
from approvals.config_store import config_apply, config_from_database, renames_refused_now
from approvals.config_types import WorkspaceConfig
from approvals.console_views import console_permission, staff_required

SESSION_KEY = "console:config_upload"
MAX_UPLOAD_BYTES = settings.UPLOAD_MAX_BYTES  # a configuration of thousands of teams is far smaller
# Applying a file creates, changes and deletes rows of every configuration model.
APPLY_PERMISSIONS = tuple(f"approvals.{action}_{model}" for model in
                          ("team", "leavetype", "companyholiday", "blackout", "workspacepolicy")
                          for action in ("add", "change", "delete"))
# The whole configuration, as each of its pages would list it.
DOWNLOAD_PERMISSIONS = tuple(f"approvals.view_{model}" for model in
                             ("team", "leavetype", "companyholiday", "blackout", "workspacepolicy"))
SLACK_ID = re.compile(r"^[UWCGS][A-Z0-9_]{2,}$")


def fingerprint(config: WorkspaceConfig) -> str:
    text = json.dumps(config_to_dict(config), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class ShownField:
    key: str
    old: str
    new: str


@dataclass(frozen=True)
class ShownChange:
    kind: str
    name: str
    fields: tuple[ShownField, ...]


def _shown(value, directory) -> str:
    """A file value as HR reads it: people and channels by name, lists joined, nothing as '—'."""
    if value is None or value == [] or value == "":
        return "—"
    if isinstance(value, list):
        return ", ".join(_shown(item, directory) for item in value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str) and SLACK_ID.match(value) and directory is not None:
        found = directory.person(value) or directory.channel(value) or directory.usergroup(value)
        if found is not None:
            return found.label
    return str(value)


def _sections(diff: ConfigDiff, directory) -> list[tuple[str, list[ShownChange]]]:
    shown = []
    for section, (_one, many) in SECTIONS.items():
        changes = [ShownChange(kind=c.kind, name=c.name, fields=tuple(
            ShownField(f.key, _shown(f.old, directory), _shown(f.new, directory)) for f in c.fields))
            for c in diff.of(section)]
        if changes:
            shown.append((many[:1].upper() + many[1:], changes))
    return shown


@require_GET
@staff_required
def config_file(request):
    return render(request, "approvals/console/file/file.html", {
        "nav": "file",
        "may_apply": request.user.has_perms(APPLY_PERMISSIONS),
        "may_download": request.user.has_perms(DOWNLOAD_PERMISSIONS),
    })


@require_GET
@console_permission(*DOWNLOAD_PERMISSIONS)
def config_download(request):
    fmt = "yaml" if request.GET.get("format") == "yaml" else "json"
    text = config_to_text(config_from_database(), fmt)  # the rows, never a cached copy
    name = f"timeoff-config-{timezone.localdate().isoformat()}.{'yaml' if fmt == 'yaml' else 'json'}"
    response = HttpResponse(text, content_type="application/json; charset=utf-8" if fmt == "json"
                            else "application/yaml; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@require_POST
@staff_required
def config_upload(request):
    upload = request.FILES.get("file")
    errors = []
    too_large = getattr(request, "upload_too_large", None)  # cut off as it arrived (timeoff_site.upload_limit)
    if too_large is not None or (upload is not None and upload.size > MAX_UPLOAD_BYTES):
        name = too_large if too_large is not None else upload.name
        errors = [f"{name}: the file is larger than {MAX_UPLOAD_BYTES // 1024} KB; is it a configuration file?"]
    elif upload is None:
        errors = ["Choose a configuration file (.json, .yml or .yaml) to upload."]
    else:
        name = upload.name or "upload.json"
        try:
            text = upload.read().decode("utf-8")
        except UnicodeDecodeError:
            errors = [f"{name}: not a text file in UTF-8."]
        else:
            fmt = format_for_path(name)
            try:
                config = config_from_text(text, fmt, source=name)
            except ConfigError as error:
                errors = error.errors
            else:
                # What the file does to the teams there now: a rename to a name another team had before.
                errors = renames_refused_now(config)
                if not errors:
                    request.session[SESSION_KEY] = {"text": text, "format": fmt, "name": name}
                    return redirect("console:config_preview")
    return render(request, "approvals/console/file/file.html", {
        "nav": "file",
        "may_apply": request.user.has_perms(APPLY_PERMISSIONS),
        "may_download": request.user.has_perms(DOWNLOAD_PERMISSIONS),
        "upload_errors": errors,
        "upload_name": getattr(upload, "name", ""),
    }, status=400)


def _uploaded(request) -> tuple[dict | None, WorkspaceConfig | None]:
    upload = request.session.get(SESSION_KEY)
    if not upload:
        return None, None
    try:
        return upload, config_from_text(upload["text"], upload["format"], source=upload["name"])
    except (ConfigError, KeyError, TypeError):  # a session written by other code: start again
        request.session.pop(SESSION_KEY, None)
        return None, None


def _preview(request, upload: dict, config: WorkspaceConfig, *, status: int = 200, error: str = ""):
    current = config_from_database()
    diff = config_diff(current, config)
    # What it changes shows what is there now: only for those who may read the configuration (download it).
    may_read = request.user.has_perms(DOWNLOAD_PERMISSIONS)
    return render(request, "approvals/console/file/preview.html", {
        "nav": "file",
        "upload_name": upload["name"],
        "may_read": may_read,
        "diff": diff,
        "sections": _sections(diff, slack_directory.directory_cached()) if may_read else [],
        "removals": diff.removals,
        "dropped_channels": diff.of("past_approvals_channels"),
        "fingerprint": fingerprint(current),
        "may_apply": request.user.has_perms(APPLY_PERMISSIONS),
        "apply_error": error,
        "kinds": {"added": ADDED, "changed": CHANGED, "removed": REMOVED},
    }, status=status)


@require_GET
@staff_required
def config_preview(request):
    upload, config = _uploaded(request)
    if upload is None:
        messages.error(request, "Upload a configuration file first.")
        return redirect("console:config_file")
    return _preview(request, upload, config)


@require_POST
@staff_required
def config_apply_view(request):
    upload, config = _uploaded(request)
    if upload is None:
        messages.error(request, "Upload a configuration file first.")
        return redirect("console:config_file")
    if not request.user.has_perms(APPLY_PERMISSIONS):
        return _preview(request, upload, config, status=403,
                        error="Applying a file needs the permissions to add, change and delete teams, leave types, "
                              "holidays, blackouts and the workspace policy. Ask an administrator.")
    with transaction.atomic():
        current = config_from_database()
        if fingerprint(current) != request.POST.get("fingerprint"):
            return _preview(request, upload, config, status=409,
                            error="The configuration changed since this preview was made. Check the changes "
                                  "below again before applying.")
        diff = config_diff(current, config)
        if diff.removals and request.POST.get("confirm_removals") != "yes":
            return _preview(request, upload, config, status=400,
                            error="This file removes what is listed under “Removed”. Tick the box to confirm, "
                                  "or upload a file that keeps them.")
        try:
            config_apply(config=config)
        except ConfigError as error:  # checked on upload; the database may still refuse (a race)
            return _preview(request, upload, config, status=400, error="; ".join(error.errors))
    request.session.pop(SESSION_KEY, None)
    messages.success(request, f"Applied {upload['name']}: {diff.counts()}.")
    return redirect("console:config_file")


@require_http_methods(["POST"])
@staff_required
def config_discard(request):
    request.session.pop(SESSION_KEY, None)
    messages.success(request, "The uploaded file was discarded; nothing changed.")
    return redirect("console:config_file")
