"""The "Adjust a balance" page of the admin: /admin/approvals/adjust-balance/.

A plain form in front of `adjustments.adjustment_record`, for HR who prefer
the browser to `manage.py adjust_balance`. It is an admin page, not a model
admin (adjustments live in Slack, not in the database), so its URL is added
to the admin site's own. Imported at the end of `approvals/admin.py`.
"""

import uuid
from datetime import date
from decimal import Decimal

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path

from approvals.adjustments import AdjustmentError, adjustment_errors, adjustment_record
from approvals.config_store import current_config
from approvals.config_types import WorkspaceConfig
from approvals.rules import Adjustment, format_days
from approvals.slack_clients import in_request_client

URL_NAME = "approvals_adjust_balance"


class AdjustmentForm(forms.Form):
    user = forms.CharField(
        label="Slack user id", max_length=32, help_text="e.g. U0123ABCD (their Slack profile › ⋮ › Copy member ID)"
    )
    leave_type = forms.ChoiceField(label="Leave type")
    # Two decimal places, as people write half a day ("0.50"); whole or half days is the service's check.
    days = forms.DecimalField(
        max_digits=6, decimal_places=2, help_text="Days to add, in steps of 0.5; negative to take days away."
    )
    year = forms.IntegerField(help_text="The leave year it applies to.")
    reason = forms.CharField(max_length=200, help_text="e.g. carry-over, opening balance, correction.")
    # This form's id, made when it is drawn: the same form sent twice (a second click while Slack is slow)
    # records one adjustment (adjustments.adjustment_record).
    submission = forms.CharField(widget=forms.HiddenInput, required=False, max_length=64)

    def __init__(self, *args, config: WorkspaceConfig, **kwargs):
        super().__init__(*args, **kwargs)
        self.config = config
        self.fields["submission"].initial = uuid.uuid4().hex
        self.fields["leave_type"].choices = [(t.code, t.name) for t in config.leave_types]
        self.fields["year"].initial = date.today().year

    def clean(self):
        data = super().clean()
        # The service's own checks, under their fields, before anything reaches Slack.
        errors = adjustment_errors(
            config=self.config, user=data.get("user", "").strip(), leave_type=data.get("leave_type", ""),
            days=data.get("days", Decimal(1)), year=data.get("year", date.today().year),
            reason=data.get("reason", "-"), by="admin",
        )
        for field, error in errors.items():
            if field in data:  # a field Django already refused keeps its own message
                self.add_error(field, error[:1].upper() + error[1:] + ".")
        return data

    def record(self, *, by: str) -> Adjustment:
        """Write the cleaned adjustment to the ledger as `by`; AdjustmentError when Slack refuses it.

        Who they are, which team they are in, and the post itself go through the in-request client (short
        timeout, no retries): a browser is waiting, and the ledger client's waits for Slack's 429s could
        outlast gunicorn's 30 s. A post whose answer does not come in time "may have been recorded"."""
        data = self.cleaned_data
        return adjustment_record(
            client=in_request_client(), config=self.config, user=data["user"], leave_type=data["leave_type"],
            days=data["days"], year=data["year"], reason=data["reason"], by=by,
            submission=data.get("submission") or None, post_client=in_request_client(),
        )


def signed_days(days: Decimal) -> str:
    """"+3 days", "-0.5 days": never "+1E+2"."""
    return f"{'+' if days > 0 else '-'}{format_days(abs(days))}"


PERMISSION = "approvals.record_adjustment"


def adjust_balance_view(request):
    # Staff status alone is not enough: an adjustment can take days away from anyone.
    if not request.user.has_perm(PERMISSION):
        raise PermissionDenied("Recording a balance adjustment needs the 'Can record balance adjustments' permission.")
    config = current_config()
    form = AdjustmentForm(request.POST or None, config=config)
    if request.method == "POST" and form.is_valid():
        try:
            adjustment = form.record(by=request.user.get_username())
        except AdjustmentError as error:
            # Slack may have made it and lost its answer: never "not adjusted" then.
            messages.error(request, f"{'Not confirmed' if error.maybe_recorded else 'Balance not adjusted'}: {error}.")
        else:
            messages.success(
                request,
                f"Recorded {signed_days(adjustment.days)} of {adjustment.leave_type} for {adjustment.user} "
                f"in {adjustment.year} ({adjustment.reason}).",
            )
            return redirect(f"admin:{URL_NAME}")  # a reload must not post it twice
    context = {
        **admin.site.each_context(request),
        "title": "Adjust a balance",
        "form": form,
        "leave_types_configured": bool(config.leave_types),
    }
    return TemplateResponse(request, "approvals/adjust_balance.html", context)


def _with_adjustment_url(get_urls):
    def urls():
        view = admin.site.admin_view(adjust_balance_view)  # staff only; others go to the login page
        return [path("approvals/adjust-balance/", view, name=URL_NAME), *get_urls()]

    urls.adjustment_url_added = True
    return urls


if not getattr(admin.site.get_urls, "adjustment_url_added", False):  # once, even if imported twice
    admin.site.get_urls = _with_adjustment_url(admin.site.get_urls)
