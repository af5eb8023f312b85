"""The variables form of "Run now" and "Refire": one field per input the action declares."""

from django import forms
from django.core.exceptions import ValidationError
from django.utils.html import format_html

from integrations.forms import SafeJSONField

from . import services


class VariablesForm(forms.Form):
    """The action's declared inputs as fields (label, default, choices, required), and the rehearsal toggle.

    An action that declares no inputs takes any variables: it gets one JSON
    field for them. ``start`` hands the values to the engine and puts what
    the engine refuses on the field at fault.
    """

    def __init__(self, action, *args, initial_variables=None, rehearsal=None, **kwargs):
        """``rehearsal`` None leaves the toggle out (a refire keeps the run's own)."""
        super().__init__(*args, **kwargs)
        self.action = action
        self.inputs = list(action.inputs.all())
        self.initial_variables = initial_variables = initial_variables or {}
        for spec in self.inputs:
            label = spec.label or spec.name
            # The admin renders help text as HTML (fieldset.html: help_text|safe), and a default is stored text
            # (typed by an admin, or brought in by an imported document): format_html escapes what it fills in.
            blank = ""
            if not spec.required or spec.default:
                blank = f" Left blank: {spec.default!r}." if spec.default else " Optional."
            help_text = format_html("Read as {{{{ {} }}}}.{}", spec.name, blank)
            initial = initial_variables.get(spec.name, spec.default)
            choices = spec.choice_list()
            if choices:
                options = [(choice, choice) for choice in choices]
                if not spec.required or spec.default:
                    options.insert(0, ("", f"(default: {spec.default})" if spec.default else "(none)"))
                field = forms.ChoiceField(label=label, choices=options, required=False, help_text=help_text)
            else:
                field = forms.CharField(label=label, required=False, help_text=help_text, strip=False,
                                        widget=forms.TextInput(attrs={"class": "vTextField"}))
            field.initial = "" if initial is None else str(initial)
            self.fields[spec.name] = field
        if not self.inputs:
            self.fields["variables"] = SafeJSONField(
                label="Variables", required=False, initial=initial_variables,
                help_text='The action declares no inputs: any variables, as a JSON object, e.g. {"name": "value"}.',
            )
        if rehearsal is not None:
            self.fields["rehearsal"] = forms.BooleanField(
                label="Rehearsal", required=False, initial=rehearsal,
                help_text="Log what would be sent without sending it (unless the action executes in rehearsal).",
            )

    def variables(self):
        if not self.inputs:
            return self.cleaned_data.get("variables") or {}
        # Blank fields are left out, so that the engine fills in defaults and names the missing required ones;
        # a value left as it was shown keeps its type (a refired run's number stays a number).
        values = {}
        for spec in self.inputs:
            value = self.cleaned_data.get(spec.name)
            if value:
                original = self.initial_variables.get(spec.name)
                values[spec.name] = original if original is not None and str(original) == value else value
        return values

    def start(self, *, user, refire_of=None):
        """Start the run (or refire ``refire_of``): the new run, or None with the engine's faults on the form.

        Raises services.RunRefused when the engine refuses for a reason no field can fix.
        """
        if not self.is_valid():
            return None
        try:
            if refire_of is not None:
                return services.refire(refire_of, self.variables(), user=user)
            return services.start_run(self.action, self.variables(),
                                      rehearsal=self.cleaned_data.get("rehearsal", False), user=user)
        except ValidationError as exc:
            self.put_errors(exc)
            return None

    def put_errors(self, exc):
        faults = exc.message_dict if hasattr(exc, "error_dict") else {None: exc.messages}
        for name, messages in faults.items():
            if name not in self.fields or name == "rehearsal":
                name = "variables" if "variables" in self.fields else None
            self.add_error(name, messages)
