"""Form fields of the HR console that take Slack people, channels and user groups by name.

HR types `alice@example.com, @bob, Carol Chen`, `#eng-approvals` or `@eng`; the
field cleans that to the ids the configuration stores (`approvals.slack_directory`
resolves them, from the cached directory; an email it does not know yet is
looked up with `users.lookupByEmail`). A stored id is shown back by name, so a
form round-trips without anyone seeing an id. Each unresolvable value is an
error on its field, saying why and what was meant where it can tell.
"""

import functools
import re
import time

import holidays
from django import forms
from django.forms.utils import ErrorDict
from django.urls import reverse_lazy
from slack_sdk.errors import SlackApiError

from approvals import console_services, slack_directory
from approvals.config_fields import FIRST_DAY, LAST_DAY, time_zone_names
from approvals.models import (
    Blackout,
    CompanyHoliday,
    LeaveType,
    Team,
    WorkspacePolicy,
    default_workweek,
)
from approvals.slack_clients import in_request_client
from approvals.directory import TOKEN_ERRORS
from approvals.task_queue import error_code, transient

SEPARATORS = re.compile(r"[,;\n]+")


class SuggestInput(forms.TextInput):
    """A text box with suggestions as you type (approvals/console.js); plain without JavaScript."""

    template_name = "approvals/console/widgets/suggest_input.html"

    def __init__(self, kind: str, *, multiple: bool = False, attrs=None):
        attrs = {"autocomplete": "off", "data-suggest-url": reverse_lazy("console:suggest"),
                 "data-suggest-kind": kind, **(attrs or {})}
        if multiple:
            attrs["data-suggest-multiple"] = "true"
        super().__init__(attrs)


class _SlackField(forms.Field):
    kind = ""

    def __init__(self, *, directory=None, **kwargs):
        kwargs.setdefault("widget", SuggestInput(self.kind, multiple=getattr(self, "multiple", False)))
        super().__init__(**kwargs)
        self.directory = directory  # tests pass one; pages use the cached directory

    def _directory(self):
        return self.directory if self.directory is not None else slack_directory.directory_cached()


# How long one form may keep HR waiting on Slack while it looks up addresses the cached directory does not
# know yet (each call waits up to the in-request client's timeout): then the rest are named, not looked up.
LOOKUP_SECONDS = 3.0


def lookup_refused_text(item: str, exc: SlackApiError) -> str:
    """Slack refused for good to look someone up: what to fix, since trying again cannot help."""
    code = error_code(exc)
    if code == "missing_scope":
        needed = exc.response.get("needed") or "it needs"
        return (f"Slack will not look up {item} (missing_scope): the app lacks the scope {needed}. Paste the "
                "manifest from the Setup page into the app's App Manifest page and reinstall the app.")
    if code in TOKEN_ERRORS:
        return (f"Slack refused the app's token ({code}) while looking up {item}: check SLACK_BOT_TOKEN (the "
                "Setup page shows the connection).")
    return f"Slack refused to look up {item} ({code})."


def names_asked_for_if_unread() -> None:
    """After a form was sent: when Slack's names have not been read yet (a cold cache: its names were
    answered "still loading"), have them read, so that the "try again" HR is told finds them."""
    if slack_directory.directory_cached() is None:
        slack_directory.directory_refresh_soon()


class SlackLookups:
    """The look-ups one form asks of Slack: until LOOKUP_SECONDS have passed since the first, and none after
    Slack has not answered one (slow or unreachable: the next would wait as long)."""

    def __init__(self):
        self.deadline: float | None = None
        self.unanswered = False

    def allowed(self) -> bool:
        now = time.monotonic()
        if self.deadline is None:
            self.deadline = now + LOOKUP_SECONDS
        return not self.unanswered and now < self.deadline


class PeopleField(_SlackField):
    """Several people, by email, @handle or name, separated by commas; cleans to a list of user ids."""

    kind = "people"
    multiple = True
    default_error_messages = {"required": "Choose at least one person."}
    lookups: SlackLookups | None = None  # ConsoleForm gives its fields one; else each cleaning has its own

    def __init__(self, *, deciders: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.deciders = deciders  # the people named decide leave (approvers): guests are refused

    def prepare_value(self, value):
        if not isinstance(value, (list, tuple)):
            return value
        directory = self._directory()
        shown = []
        for user_id in value:
            # Someone who has left, by their email too: sent back as it is, it is refused as having left.
            person = (directory.person(user_id) or directory.former_person(user_id)) if directory else None
            shown.append((person.email or f"@{person.name}") if person else user_id)
        return ", ".join(shown)

    def to_python(self, value):
        if isinstance(value, (list, tuple)):
            return list(value)
        typed = [item.strip() for item in SEPARATORS.split(value or "") if item.strip()]
        directory = self._directory()
        lookups = self.lookups or SlackLookups()
        ids, problems = [], []
        for item in typed:
            ask = lookups.allowed()
            try:
                person = slack_directory.person_resolve(item, directory=directory,
                                                        client=in_request_client() if ask else None)
            except slack_directory.NotResolved as exc:
                if not ask and slack_directory.EMAIL.match(item):  # not asked: never taken for "nobody"
                    problems.append(f"Slack did not answer {'while' if lookups.unanswered else 'in time while'} "
                                    f"looking up {item}; try again.")
                else:
                    problems.append(str(exc))
            except SlackApiError as exc:  # refused or rate limited: named, never taken for "nobody"
                problems.append(f"Slack could not look up {item} just now ({error_code(exc)}); try again."
                                if transient(exc) else lookup_refused_text(item, exc))
            except OSError:  # Slack slow or unreachable
                lookups.unanswered = True
                problems.append(f"Slack did not answer while looking up {item}; try again.")
            else:
                if self.deciders and person.guest:
                    problems.append(f"{person.label} is a guest in Slack, and guests do not decide leave: the app "
                                    "would not let them approve. Choose a full member of the workspace.")
                elif person.id not in ids:
                    ids.append(person.id)
        if problems:
            raise forms.ValidationError(problems)
        return ids

    def validate(self, value):
        if self.required and not value:
            raise forms.ValidationError(self.error_messages["required"], code="required")


class ChannelField(_SlackField):
    """One channel, by #name; cleans to its id ("" when empty and not required). `posted_to`: the app posts
    there (approvals, announce), so an archived channel is refused; one whose members are read may be archived
    (Slack still answers its members)."""

    kind = "channels"

    def __init__(self, *args, posted_to: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.posted_to = posted_to

    def prepare_value(self, value):
        directory = self._directory()
        # An archived channel by its name: sent back as it is, it is refused as archived (channel_resolve).
        channel = (directory.channel(value) or directory.archived_channel(value)) if directory and value else None
        return channel.label if channel else value

    def to_python(self, value):
        value = (value or "").strip()
        if not value:
            return ""
        try:
            return slack_directory.channel_resolve(value, directory=self._directory(), posted_to=self.posted_to).id
        except slack_directory.NotResolved as exc:
            raise forms.ValidationError(str(exc), code="unknown_channel") from None


class UserGroupField(_SlackField):
    """One user group, by @handle; cleans to its id ("" when empty and not required)."""

    kind = "usergroups"

    def prepare_value(self, value):
        directory = self._directory()
        group = directory.usergroup(value) if directory and value else None
        return group.label if group else value

    def to_python(self, value):
        value = (value or "").strip()
        if not value:
            return ""
        try:
            return slack_directory.usergroup_resolve(value, directory=self._directory()).id
        except slack_directory.NotResolved as exc:
            raise forms.ValidationError(str(exc), code="unknown_usergroup") from None


# --- The configuration pages (issue 10, items 2 and 3) -----------------------------------------
#
# ModelForms over the configuration models: the model's `clean()` (from the one
# description in approvals/config_types.py) and its constraints check each value,
# and their errors land on the field they name. People and channels are typed by
# name and stored as ids (the fields above); countries, subdivisions and time
# zones are chosen from the lists the checks accept.

WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_SMALL_WORDS = {"and", "of", "the", "da", "de", "del", "la"}


class ConsoleBoundField(forms.BoundField):
    """A bound field that also knows its warnings: advice beside the field that does not stop a save.

    The widget's `aria-describedby` names its help, its errors and its warnings,
    so a screen reader reads them with the field.
    """

    @property
    def warnings(self) -> list[str]:
        return self.form.warnings.get(self.name, [])

    @property
    def aria_describedby(self):
        described = super().aria_describedby
        if described is None:  # set on the widget by hand
            return None
        if self.warnings and self.auto_id:
            described = f"{described} {self.auto_id}_warning".strip()
        return described


class ConsoleForm:
    """Mixin for the console's forms: warnings per field (`form.warnings`, set by the view), and the
    version of the row the form was made from (a hidden field), so that saving a form someone else's
    save has made stale is refused instead of silently undoing their change."""

    bound_field_class = ConsoleBoundField
    warnings: dict[str, list[str]] = {}  # the view sets each form's own; never mutated in place

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)
        self.fields["version"] = forms.CharField(widget=forms.HiddenInput, required=False, initial=(
            console_services.row_version(self.instance) if self.instance.pk is not None else ""))
        # Asking Slack for email addresses it has not listed yet: the form's fields share one budget.
        lookups = SlackLookups()
        for field in self.fields.values():
            if isinstance(field, PeopleField):
                field.lookups = lookups

    def saved_fields(self) -> dict:
        """What HR typed, as the services take it: model fields, without the version."""
        return {name: value for name, value in self.cleaned_data.items() if name != "version"}

    def version(self) -> str | None:
        """The version of the row this form was made from; None when the page did not say."""
        return self.cleaned_data.get("version") or None

    def stale(self, noun: str, current_version: str) -> None:
        """Someone saved the row after this form was made: say so, keep what was typed, and let a second
        save (now a choice made knowingly) replace their change."""
        self.add_error(None, f"Someone else saved this {noun} after you opened it, so nothing was saved. Saving "
                             "again replaces their changes with this form; to see them first, open the page "
                             "again.")
        self.data = self.data.copy()
        self.data[self.add_prefix("version")] = current_version

    def add_service_errors(self, error: forms.ValidationError) -> None:
        """Errors a service raised (keyed by model field) on their fields; others above the form."""
        by_field = error.error_dict if hasattr(error, "error_dict") else {None: error.error_list}
        for field, errors in by_field.items():
            self.add_error(field if field in self.fields else None, errors)


def _country_name(module: str) -> str:
    words = module.split("_")
    return " ".join(w if i and w in _SMALL_WORDS else w.capitalize() for i, w in enumerate(words))


@functools.cache
def holiday_country_choices() -> tuple[tuple[str, str], ...]:
    """Countries the `holidays` package supports, by name: ("US", "United States (US)")."""
    supported = holidays.list_supported_countries()
    found = {entry[1]: _country_name(module) for module, entry in holidays.registry.COUNTRIES.items()
             if entry[1] in supported}
    return tuple(sorted(((code, f"{name} ({code})") for code, name in found.items()), key=lambda c: c[1]))


@functools.cache
def holiday_subdivision_choices(country: str) -> tuple[tuple[str, str], ...]:
    """The subdivisions of `country` the `holidays` package knows: ("CA", "California (CA)")."""
    codes = holidays.list_supported_countries().get(country) or []  # none for an unknown country
    if not codes:
        return ()
    aliases = holidays.country_holidays(country).get_subdivision_aliases()
    choices = []
    for code in codes:
        # Aliases mix names and other codes (FR 971: GP, GUA, Guadeloupe): show a name.
        names = [alias for alias in aliases.get(code, []) if not alias.isupper()]
        choices.append((code, f"{names[0]} ({code})" if names else code))
    return tuple(choices)


@functools.cache
def timezone_choices() -> tuple[tuple[str, str], ...]:
    return tuple((name, name.replace("_", " ")) for name in sorted(time_zone_names()))


def _with_value(choices, value: str) -> list:
    """The choices, plus a stored value that is not among them (shown as it is, so nothing is lost)."""
    choices = list(choices)
    if value and value not in {code for code, _ in choices}:
        choices.append((value, value))
    return choices


class SelectAnyChoice(forms.ChoiceField):
    """A select whose value the model checks (its message says what is wrong and what would be right)."""

    def validate(self, value):
        if self.required and not value:
            raise forms.ValidationError(self.error_messages["required"], code="required")


class TeamForm(ConsoleForm, forms.ModelForm):
    members_users = PeopleField(label="Members", required=False,
                                help_text="People by name, @handle or email, separated by commas.")
    members_channel = ChannelField(label="Members channel", required=False,
                                   help_text="Everyone in this channel is a member, e.g. #engineering.")
    members_usergroup = UserGroupField(label="Members user group", required=False,
                                       help_text="Everyone in this user group is a member, e.g. @engineering.")
    approvers_users = PeopleField(label="Approvers", required=False, deciders=True,
                                  help_text="People who approve, by name, @handle or email. Nobody approves "
                                            "their own leave.")
    approvers_channel = ChannelField(label="Approvers channel", required=False,
                                     help_text="Everyone in this channel approves. Use a private channel.")
    approvals_channel = ChannelField(label="Approvals channel", required=True, posted_to=True,
                                     help_text="Requests are posted here, and this channel keeps the team's leave "
                                               "record. Invite the bot to it.")
    announce_channel = ChannelField(label="Announce channel", required=False, posted_to=True,
                                    help_text="Approved leave and the daily digest are posted here. "
                                              "Empty: no announcements.")
    holiday_country = SelectAnyChoice(label="Public holidays of", required=False,
                                      help_text="Their public holidays are not working days. Empty: none.")
    holiday_subdivision = SelectAnyChoice(label="State or region", required=False,
                                          help_text="For regional public holidays. Empty: national ones only.")
    workweek = forms.TypedMultipleChoiceField(
        label="Working days", coerce=int, choices=list(enumerate(WEEKDAY_NAMES)), initial=default_workweek,
        widget=forms.CheckboxSelectMultiple, error_messages={"required": "Tick at least one working day."})
    timezone = SelectAnyChoice(label="Time zone", initial="UTC",
                               help_text="When the team's day starts, for the digest and reminders.")
    digest_time = forms.TimeField(label="Daily digest at", required=False,
                                  widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
                                  help_text="Local time of the who's-out post in the announce channel. "
                                            "Empty: no digest.")

    class Meta:
        model = Team
        fields = ("name", "is_default", "members_users", "members_channel", "members_usergroup",
                  "approvers_users", "approvers_channel", "approvals_channel", "announce_channel",
                  "holiday_country", "holiday_subdivision", "workweek", "timezone", "max_out",
                  "digest_time", "nudge_after_hours")
        labels = {"name": "Name", "is_default": "Default team", "max_out": "Most people out at once",
                  "nudge_after_hours": "Remind approvers after (hours)"}
        help_texts = {
            "is_default": "People who match no team belong to this one. At most one team is the default.",
            "max_out": "A request is refused when more people would be out on a day. Empty: no limit.",
            "nudge_after_hours": "Approvers are reminded of requests pending this long. Empty: no reminders.",
        }
        widgets = {"max_out": forms.NumberInput(attrs={"min": 1}),
                   "nudge_after_hours": forms.NumberInput(attrs={"min": 1})}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        country = self.chosen_country()
        self.fields["holiday_country"].choices = [("", "No public holidays"),
                                                  *_with_value(holiday_country_choices(), country)]
        self.fields["holiday_subdivision"].choices = [
            ("", "The whole country" if country else "Choose a country first"),
            *_with_value(holiday_subdivision_choices(country), self._value_of("holiday_subdivision")),
        ]
        self.fields["timezone"].choices = _with_value(timezone_choices(), self._value_of("timezone"))
        self.fields["holiday_subdivision"].widget.attrs["data-subdivisions-url"] = reverse_lazy(
            "console:holiday_subdivisions")
        self.fields["holiday_country"].widget.attrs["data-subdivisions-for"] = self["holiday_subdivision"].auto_id

    def redisplay_unchecked(self) -> None:
        """Show what was typed again without checking it: no errors, nothing saved (a country changed)."""
        self._errors = ErrorDict()

    def _value_of(self, name: str) -> str:
        value = self[name].data if self.is_bound else self[name].initial
        return value if isinstance(value, str) else ""

    def chosen_country(self) -> str:
        return self._value_of("holiday_country")


class LeaveTypeForm(ConsoleForm, forms.ModelForm):
    class Meta:
        model = LeaveType
        fields = ("name", "code", "emoji", "requires_approval", "annual_allowance_days", "allow_half_days",
                  "max_consecutive_days", "allow_past_days", "private")
        labels = {"code": "Code", "annual_allowance_days": "Days a year", "allow_half_days": "Half days allowed",
                  "max_consecutive_days": "Longest request (working days)",
                  "allow_past_days": "May start this many days ago", "private": "Private"}
        help_texts = {
            "code": "A short lowercase code every request of this type records, like vacation. Changing it later "
                    "separates the requests already made from this type.",
            "emoji": "A Slack emoji code, like :palm_tree:.",
            "requires_approval": "Untick for leave recorded as approved at once, like sick leave.",
            "annual_allowance_days": "Per person and year, in steps of 0.5. Empty: no limit.",
            "max_consecutive_days": "Empty: no limit.",
            "allow_past_days": "0: no dates in the past. Sick leave may allow a few.",
            "private": "Only the approvers and the requester see the type and the note; others see \"away\".",
        }
        widgets = {"annual_allowance_days": forms.NumberInput(attrs={"step": "0.5", "min": 0}),
                   "max_consecutive_days": forms.NumberInput(attrs={"min": 1}),
                   "allow_past_days": forms.NumberInput(attrs={"min": 0})}


class DayInput(forms.DateInput):
    """The browser's date picker, offering the years a holiday or blackout may fall in (the model checks them)."""

    def __init__(self):
        super().__init__(attrs={"type": "date", "min": FIRST_DAY.isoformat(), "max": LAST_DAY.isoformat()},
                         format="%Y-%m-%d")


class HolidayForm(ConsoleForm, forms.ModelForm):
    class Meta:
        model = CompanyHoliday
        fields = ("date", "name", "team")
        labels = {"team": "For"}
        help_texts = {"name": "As people will see it, like Company day."}
        widgets = {"date": DayInput()}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["team"].empty_label = "Every team"
        self.fields["team"].help_text = ""


class BlackoutForm(ConsoleForm, forms.ModelForm):
    class Meta:
        model = Blackout
        fields = ("start", "end", "team", "reason")
        labels = {"start": "First day", "end": "Last day", "team": "For"}
        help_texts = {"end": "Inclusive.", "reason": "Shown to people whose request falls in it."}
        widgets = {"start": DayInput(), "end": DayInput()}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["team"].empty_label = "Every team"
        self.fields["team"].help_text = ""


class WorkspacePolicyForm(ConsoleForm, forms.ModelForm):
    requesters_users = PeopleField(label="People who may request", required=False,
                                   help_text="By name, @handle or email. Empty, with no channel: everyone may.")
    requesters_channel = ChannelField(label="Members of this channel may request", required=False,
                                      help_text="For example #staff.")
    fallback_approvers = PeopleField(label="Fallback approvers", required=False, deciders=True,
                                     help_text="They decide when a team has nobody else, such as an approver's "
                                               "own leave. Usually HR.")

    class Meta:
        model = WorkspacePolicy
        fields = ("requesters_users", "requesters_channel", "fallback_approvers")
