"""HR on behalf, in the console: record leave for someone (DESIGN §6, Change).

The same rules as a request from Slack, checked now with Slack's answers (their
team, their time zone) and the cached ledger; the request is then delivered by a task, recorded as approved
with `recorded_by`, and the person is told by DM. Changing or cancelling someone's
leave is `/timeoff for @person list` in Slack.
"""

import uuid

from django import forms
from django.contrib import messages
from django.shortcuts import redirect, render
from slack_sdk.errors import SlackClientError

from approvals import ledger_reader, rules, slack_directory
from approvals.block_kit import SLACK_USER_ID
from approvals.cache_lock import LockBusy
from approvals.config_store import current_config
from approvals.console_forms import PeopleField, names_asked_for_if_unread
from approvals.console_views import console_permission
from approvals.console_tasks import ledger_error_cached, warm_soon
from approvals.request_services import LedgerCold, Submission, request_record_for
from approvals.slack_clients import in_request_client
from approvals.task_queue import INFRASTRUCTURE_FAULTS, error_for_people

# The service's fields to this form's.
FORM_FIELDS = {"user": "person", rules.FIELD_TYPE: "leave_type", rules.FIELD_START: "start",
               rules.FIELD_END: "end", rules.FIELD_HALF: "start_pm"}


class RecordLeaveForm(forms.Form):
    person = PeopleField(label="Person", help_text="Their email, @handle or name.")
    leave_type = forms.ChoiceField(label="Leave type")
    start = forms.DateField(label="First day", widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label="Last day (inclusive)", widget=forms.DateInput(attrs={"type": "date"}))
    start_pm = forms.BooleanField(label="First day: afternoon only", required=False)
    end_am = forms.BooleanField(label="Last day: morning only", required=False)
    note = forms.CharField(label="Note for the approvals channel", required=False, max_length=500,
                           widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args, leave_types, **kwargs):
        kwargs.setdefault("label_suffix", "")  # as the console's other forms: "First day", not "First day:"
        super().__init__(*args, **kwargs)
        # By name: an emoji code (":palm_tree:") is Slack's to draw, and a browser shows it as typed.
        self.fields["leave_type"].choices = [(t.code, t.name) for t in leave_types]

    def clean_person(self):
        people = self.cleaned_data["person"]
        if len(people) != 1:
            raise forms.ValidationError("Choose one person.")
        return people[0]


def recorded_by(request) -> str:
    """Who records it, as the ledger shows it: their Slack id when their email is in Slack, else their name."""
    email = (request.user.email or "").strip()
    if email:
        # The names the console read from Slack first: a passing fault of a look-up must not turn who
        # recorded it from their Slack id into their console name.
        directory = slack_directory.directory_cached()
        found = next((p for p in (directory.people if directory else ()) if p.email.casefold() == email.casefold()),
                     None)
        if found is None:
            try:
                found = slack_directory.person_by_email(in_request_client(), email)
            except (SlackClientError, OSError):
                found = None
        if found is not None:
            return found.id
    name = request.user.get_full_name() or request.user.get_username()
    # Messages show a Slack id as a mention (block_kit.person): a console account named like one
    # ("U123ABC") would ping whoever has that id, so its name says where it came from.
    return f"{name} (HR console)" if SLACK_USER_ID.match(name) else name


def record_for(submission: Submission) -> dict[str, str]:
    """`request_record_for`; when the ledger is cold, it is read in the background (a worker may wait
    out Slack's rate limits for minutes; a page may not) and LedgerCold raised, unless it is there
    already (an immediate task backend has read it).

    Slack is asked with the in-request client: a short timeout, no retries, no sleeping out a 429.
    The background client's retries (15 s a try, up to four tries, Retry-After slept) would hold the
    page past gunicorn's 30 s, and HR would see a 502 instead of "try again in a minute"."""
    try:
        return request_record_for(in_request_client(), submission)
    except LedgerCold:
        warm_soon()
        if ledger_reader.cached_ledger(current_config()) is None:
            raise
    return request_record_for(in_request_client(), submission)


@console_permission("approvals.record_leave_for_others")
def record_leave(request):
    config = current_config()
    form = RecordLeaveForm(request.POST or None, leave_types=config.leave_types)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        submission = Submission(
            id=str(uuid.uuid4()), user=data["person"], leave_type=data["leave_type"], start=data["start"],
            end=data["end"], start_half="pm" if data["start_pm"] else None, end_half="am" if data["end_am"] else None,
            note=data["note"].strip(), validated=False, recorded_by=recorded_by(request))
        try:
            errors = record_for(submission)
        except LockBusy:  # a TimeoutError, so an OSError: but ours, not Slack's
            errors = {"user": "Other requests are being sent just now; try again in a minute. "
                              "Nothing was recorded."}
        except INFRASTRUCTURE_FAULTS:  # the task row not written (the database or cache failing for a moment)
            errors = {"user": "Our database or cache failed for a moment, so nothing was recorded; try again in "
                              "a minute."}
        except (SlackClientError, OSError) as exc:
            errors = {"user": f"Slack could not be asked just now ({error_for_people(exc)}); try again in a minute."}
        except LedgerCold:
            problem = ledger_error_cached()
            errors = {"user": f"The leave history cannot be read: {problem}. The setup page says how to fix it; "
                              "nothing was recorded." if problem else
                      "The leave history is being read from Slack; send this again in a minute. Nothing was "
                      "recorded."}
        for field, message in errors.items():
            form.add_error(FORM_FIELDS.get(field, None), message)
        if not errors:
            messages.success(request, "Recorded: it will appear in the approvals channel in a moment, and they "
                                      "are told by DM.")
            return redirect("console:record_leave")
    if request.method == "POST":
        names_asked_for_if_unread()
    return render(request, "approvals/console/record_leave.html", {"nav": "record", "form": form})
