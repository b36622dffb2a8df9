"""Form fields of the HR console that take Slack people, channels and user groups by name.

HR types `alice@example.com, @bob, Carol Chen`, `#eng-approvals` or `@eng`; the
field cleans that to the ids the configuration stores (`approvals.slack_directory`
resolves them, from the cached directory; an email it does not know yet is
looked up with `users.lookupByEmail`). A stored id is shown back by name, so a
form round-trips without anyone seeing an id. Each unresolvable value is an
error on its field, saying why and what was meant where it can tell.
"""

import re

from django import forms
from django.urls import reverse_lazy
from slack_sdk.errors import SlackApiError

from approvals import slack_directory
from approvals.slack_clients import in_request_client
from approvals.task_queue import error_code

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


class PeopleField(_SlackField):
    """Several people, by email, @handle or name, separated by commas; cleans to a list of user ids."""

    kind = "people"
    multiple = True
    default_error_messages = {"required": "Choose at least one person."}

    def prepare_value(self, value):
        if not isinstance(value, (list, tuple)):
            return value
        directory = self._directory()
        shown = []
        for user_id in value:
            person = directory.person(user_id) if directory else None
            shown.append((person.email or f"@{person.name}") if person else user_id)
        return ", ".join(shown)

    def to_python(self, value):
        if isinstance(value, (list, tuple)):
            return list(value)
        typed = [item.strip() for item in SEPARATORS.split(value or "") if item.strip()]
        directory = self._directory()
        ids, problems = [], []
        for item in typed:
            try:
                person = slack_directory.person_resolve(item, directory=directory, client=in_request_client())
            except slack_directory.NotResolved as exc:
                problems.append(str(exc))
            except SlackApiError as exc:  # refused or rate limited: named, never taken for "nobody"
                problems.append(f"Slack could not look up {item} just now ({error_code(exc)}); try again.")
            except OSError:  # Slack slow or unreachable
                problems.append(f"Slack did not answer while looking up {item}; try again.")
            else:
                if person.id not in ids:
                    ids.append(person.id)
        if problems:
            raise forms.ValidationError(problems)
        return ids

    def validate(self, value):
        if self.required and not value:
            raise forms.ValidationError(self.error_messages["required"], code="required")


class ChannelField(_SlackField):
    """One channel, by #name; cleans to its id ("" when empty and not required)."""

    kind = "channels"

    def prepare_value(self, value):
        directory = self._directory()
        channel = directory.channel(value) if directory and value else None
        return channel.label if channel else value

    def to_python(self, value):
        value = (value or "").strip()
        if not value:
            return ""
        try:
            return slack_directory.channel_resolve(value, directory=self._directory()).id
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
