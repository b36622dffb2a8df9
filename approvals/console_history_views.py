"""The console's History page (issue 10, item 7): who changed which configuration, and when.

django-simple-history keeps a historical row for every save and delete of the
configuration models (`history = HistoricalRecords()` in approvals.models),
with the signed-in user its middleware saw; changes made by a command
(`import_config`) have no user. Saves that changed nothing (an import keeps
unchanged rows but saves them) are left out.
"""

from dataclasses import dataclass
from datetime import datetime

from django.core.exceptions import ObjectDoesNotExist
from django.shortcuts import render
from django.views.decorators.http import require_GET

from approvals import slack_directory
from approvals.console_file_views import _shown
from approvals.console_views import staff_required
from approvals.models import Blackout, CompanyHoliday, LeaveType, Team, WorkspacePolicy

HISTORY_MODELS = (Team, LeaveType, CompanyHoliday, Blackout, WorkspacePolicy)
SHOWN = 100
READ_PER_MODEL = 300  # no-op saves are skipped, so read more than are shown
KINDS = {"+": "created", "~": "changed", "-": "deleted"}
NOT_SHOWN = {"id", "position"}  # the order is shown on the Teams page; positions change with every move


@dataclass(frozen=True)
class FieldChange:
    field: str
    old: str
    new: str


@dataclass(frozen=True)
class HistoryRow:
    when: datetime
    who: str
    kind: str
    what: str  # "Team", "Leave type", …
    name: str
    changes: tuple[FieldChange, ...]


def _verbose(model) -> str:
    return str(model._meta.verbose_name)[:1].upper() + str(model._meta.verbose_name)[1:]


def _name(record) -> str:
    try:
        return str(record.instance)
    except ObjectDoesNotExist:  # a holiday whose team was deleted since: its __str__ cannot fetch the team
        return getattr(record, "name", "") or getattr(record, "reason", "") or f"#{record.id}"


def may_see(user, model) -> bool:
    """The history of a model is for those who may list it (its view or change permission), as its page."""
    label = f"{model._meta.app_label}.%s_{model._meta.model_name}"
    return user.has_perm(label % "view") or user.has_perm(label % "change")


def _value(model, field_name: str, value, directory) -> str:
    """A field's value as HR reads it: a team by its name (a holiday or blackout "for every team" when
    none), as it was called when it was last seen if it has been deleted since; the rest as `_shown`."""
    field = model._meta.get_field(field_name)
    if not field.is_relation:
        return _shown(value, directory)
    if value is None:
        return "every team" if field.related_model is Team else "—"
    found = field.related_model.objects.filter(pk=value).first()
    if found is None and hasattr(field.related_model, "history"):
        found = field.related_model.history.filter(id=value).order_by("-history_date").first()
    return (getattr(found, "name", "") or str(found)) if found is not None else str(value)


def config_history(*, limit: int = SHOWN, directory=None, models=HISTORY_MODELS) -> list[HistoryRow]:
    records = []
    for model in models:
        records.extend(model.history.select_related("history_user").order_by("-history_date", "-history_id")
                       [:READ_PER_MODEL])
    records.sort(key=lambda record: record.history_date, reverse=True)
    rows = []
    for record in records:
        changes: tuple[FieldChange, ...] = ()
        if record.history_type == "~":
            previous = record.prev_record
            if previous is not None:
                delta = record.diff_against(previous, excluded_fields=NOT_SHOWN)
                changes = tuple(FieldChange(c.field, _value(record.instance_type, c.field, c.old, directory),
                                            _value(record.instance_type, c.field, c.new, directory))
                                for c in delta.changes)
                if not changes:
                    continue  # saved unchanged, or only moved in the order
        user = record.history_user
        rows.append(HistoryRow(
            when=record.history_date,
            who=(user.get_full_name() or user.get_username()) if user else "a command (import_config) or the system",
            kind=KINDS.get(record.history_type, record.history_type),
            what=_verbose(record.instance_type),
            name=_name(record),
            changes=changes,
        ))
        if len(rows) >= limit:
            break
    return rows


@require_GET
@staff_required
def history(request):
    models = tuple(model for model in HISTORY_MODELS if may_see(request.user, model))
    return render(request, "approvals/console/history.html", {
        "nav": "history",
        "rows": config_history(directory=slack_directory.directory_current(), models=models),
        "shown": SHOWN,
        "hidden": [_verbose(model) for model in HISTORY_MODELS if model not in models],
    })
