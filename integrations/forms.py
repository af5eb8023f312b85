"""Form pieces shared by the admin (and later the API): JSON text, durations, write-only secrets."""

import json

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.forms.boundfield import BoundField
from django.utils.html import format_html

from . import safejson
from .crypto import seal, unseal
from .models import AUTH_FIELDS, CANCEL_WEBHOOK_FIELDS, POLLING_FIELDS, Action, AuthType, Integration, Secret
from .transfer import too_large
from .validators import json_map, parse_json_text, parse_seconds


class MonospaceTextarea(forms.Textarea):
    """A textarea for JSON, XML and other text where columns matter."""

    def __init__(self, attrs=None):
        defaults = {"class": "vLargeTextField monospace", "rows": 6, "spellcheck": "false"}
        super().__init__({**defaults, **(attrs or {})})


class SafeJSONField(forms.JSONField):
    """JSON typed as text, parsed with safejson's limits (faults named by line and column, or by place).

    Django's JSONField reads 1e999, lone surrogates and any depth, and its
    bound_data re-reads what was typed when the form is shown again: both
    parse here, so that a refused value is shown back as typed, never a 500.
    """

    def __init__(self, **kwargs):
        kwargs.setdefault("widget", MonospaceTextarea(attrs={"rows": 4}))
        super().__init__(**kwargs)

    def to_python(self, value):
        if self.disabled:
            return value
        if value in self.empty_values:
            return None
        if isinstance(value, (dict, list, int, float)):
            return value
        return parse_json_text(value)

    def bound_data(self, data, initial):
        if self.disabled or data is None:
            return super().bound_data(data, initial)
        try:
            return safejson.loads(data)
        except safejson.Fault:
            return forms.fields.InvalidJSONInput(data)

    def prepare_value(self, value):
        if isinstance(value, forms.fields.InvalidJSONInput):
            return value  # what the person typed, so that they can fix it
        return json.dumps(value, ensure_ascii=False, indent=2, cls=self.encoder)


class JSONTextField(SafeJSONField):
    """A JSON object typed as text: shown indented, blank means {}.

    The model field's validators (e.g. validate_string_map) run afterwards, in the model's full_clean.
    """

    def to_python(self, value):
        if self.disabled:
            return value
        return json_map(super().to_python(value))


class DurationSecondsField(forms.Field):
    """Seconds, typed as a number (10, 2.5) or an ISO 8601 duration (PT10M); cleans to a float."""

    widget = forms.TextInput

    def to_python(self, value):
        if value in self.empty_values:
            return None
        return parse_seconds(value)

    def prepare_value(self, value):
        if isinstance(value, float) and value.is_integer():
            return int(value)  # 600, not 600.0
        return value

    def widget_attrs(self, widget):
        return {**super().widget_attrs(widget), "class": "duration-input"}


class HttpsURLField(forms.URLField):
    """A URL typed without its scheme is taken as https (Django 6's default)."""

    def __init__(self, **kwargs):
        super().__init__(assume_scheme="https", **kwargs)


# What a write-only widget hands its field besides text.
CLEAR = object()
CONTRADICTION = object()
LOST = object()  # a kept value that could not be read back
# What a write-only field cleans to when left blank: keep the stored value.
KEEP = object()

# How long a page may be left open and still send back the values it keeps.
KEPT_MAX_AGE = 24 * 3600


class WriteOnlyWidget(forms.Widget):
    """An input that never shows the stored value: only whether one is set, and a "clear" box.

    A value typed into a page shown again for an error elsewhere is not asked
    for again: the page keeps it encrypted (crypto.seal) in a hidden input and
    says so, never showing it. Only the user it was kept for (``keep_for``, set
    by the form) can send it back.
    """

    def __init__(self, *, multiline=False, clearable=True, attrs=None):
        super().__init__(attrs)
        if multiline:
            self.input = MonospaceTextarea(attrs={"rows": 4})
        else:
            # new-password: browsers must not fill in the admin's own saved password.
            self.input = forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"})
        self.clearable = clearable
        self.is_set = False
        self.keep_for = None  # None: nothing is kept

    def __deepcopy__(self, memo):
        copy = super().__deepcopy__(memo)
        copy.input = self.input.__deepcopy__(memo)
        return copy

    @staticmethod
    def clear_name(name):
        return f"{name}-clear"

    @staticmethod
    def kept_name(name):
        return f"{name}-kept"

    def render(self, name, value, attrs=None, renderer=None):
        """``value``: what was typed, on a page shown again (WriteOnlyBoundField); never the stored value."""
        attrs = self.build_attrs(self.attrs, attrs)
        field = self.input.render(name, None, attrs, renderer)
        state = format_html(
            '<span class="write-only-state">Stored value: <strong>{}</strong></span>',
            "set" if self.is_set else "not set",
        )
        if value and self.keep_for is not None:
            token = seal(value, owner=self.keep_for)
            state = format_html(
                '{}<input type="hidden" name="{}" value="{}">'
                '<span class="write-only-state write-only-kept">Typed value: <strong>kept, not shown</strong> '
                "(type again to replace it)</span>",
                state,
                self.kept_name(name),
                token,
            )
        clear = ""
        if self.clearable and self.is_set:
            clear_id = f"{attrs['id']}-clear" if attrs.get("id") else None
            box = forms.CheckboxInput().render(self.clear_name(name), False, {"id": clear_id} if clear_id else {})
            clear = format_html(
                '<span class="write-only-clear">{} <label for="{}" class="vCheckboxLabel">clear</label></span>',
                box,
                clear_id or "",
            )
        return format_html('<div class="write-only">{}{}{}</div>', field, state, clear)

    def value_from_datadict(self, data, files, name):
        value = self.input.value_from_datadict(data, files, name)
        if self.clearable and forms.CheckboxInput().value_from_datadict(data, files, self.clear_name(name)):
            return CONTRADICTION if value else CLEAR
        token = data.get(self.kept_name(name))
        if not value and token and self.keep_for is not None:
            try:
                return unseal(token, owner=self.keep_for, max_age=KEPT_MAX_AGE)
            except ValueError:
                return LOST
        return value

    def value_omitted_from_data(self, data, files, name):
        return all(key not in data for key in (name, self.clear_name(name), self.kept_name(name)))


class WriteOnlyBoundField(BoundField):
    def value(self):
        """What was typed, on a page shown again, unless it was refused; never the stored value."""
        if not self.form.is_bound or self.errors:
            return None
        data = self.field.bound_data(self.data, None)
        return data if isinstance(data, str) else None


class WriteOnlyField(forms.CharField):
    """Text that is written, never read back: blank keeps the stored value, "clear" removes it."""

    widget = WriteOnlyWidget
    bound_field_class = WriteOnlyBoundField

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.stored = False

    def set_stored(self, stored):
        """Tell the field whether the object already holds a value (a blank entry then keeps it)."""
        self.stored = stored
        self.widget.is_set = stored
        if stored:
            self.required = False

    def clean(self, value):
        if value is CONTRADICTION:
            raise ValidationError("Type a new value or tick “clear”, not both.", code="contradiction")
        if value is CLEAR:
            return ""
        if value is LOST:
            raise ValidationError(
                "The value typed before could not be kept (the page is a day old, or not yours): type it again.",
                code="lost",
            )
        if value in self.empty_values and self.stored:
            return KEEP
        return super().clean(value)

    def has_changed(self, initial, data):
        return data is CLEAR or data is CONTRADICTION or data is LOST or bool(data)


class WriteOnlyFieldsMixin:
    """For a ModelForm with WriteOnlyFields: tells them what is stored, and keeps it when left blank.

    ``keep_for``: whom the page keeps typed values for while it is shown again
    for an error (e.g. the user's id, see keeping_for()); None keeps nothing.
    """

    keep_for = None

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name, field in self.fields.items():
            if isinstance(field, WriteOnlyField):
                field.set_stored(bool(getattr(self.instance, name, "")))
                field.widget.keep_for = self.keep_for

    def clean(self):
        cleaned_data = super().clean()
        for name in [name for name, value in cleaned_data.items() if value is KEEP]:
            # Absent from cleaned_data, the field is left alone by construct_instance.
            del cleaned_data[name]
        return cleaned_data


def shows(form, name, fields_for):
    """Mark ``form``'s field ``name`` as choosing which fields apply: ``fields_for`` maps each of its values
    ("true"/"false" for a checkbox) to the fields it reads. The admin's script hides the others."""
    if name in form.fields:
        data = {str(value): fields for value, fields in fields_for.items()}
        form.fields[name].widget.attrs["data-shows"] = json.dumps(data)


# The rows of the integration page each kind of authentication shows: its fields, and for OAuth sign-in the
# row with its state and Connect button.
AUTH_ROWS = {**AUTH_FIELDS, AuthType.OAUTH2_CODE: [*AUTH_FIELDS[AuthType.OAUTH2_CODE], "oauth_sign_in"]}


class IntegrationForm(WriteOnlyFieldsMixin, forms.ModelForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        shows(self, "auth_type", AUTH_ROWS)

    class Meta:
        model = Integration
        fields = "__all__"
        field_classes = {
            "image_url": HttpsURLField,
            "default_headers": JSONTextField,
            "auth_secret": WriteOnlyField,
        }
        widgets = {
            "auth_secret": WriteOnlyWidget(),
            "oauth_token_url": forms.TextInput(attrs={"class": "vURLField"}),
            "oauth_authorize_url": forms.TextInput(attrs={"class": "vURLField"}),
        }


class SecretForm(WriteOnlyFieldsMixin, forms.ModelForm):
    class Meta:
        model = Secret
        fields = "__all__"
        field_classes = {"value": WriteOnlyField}
        # A secret without a value makes no sense: delete the row instead of clearing it.
        widgets = {"value": WriteOnlyWidget(clearable=False)}


class ActionForm(WriteOnlyFieldsMixin, forms.ModelForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        shows(self, "polling_mode", POLLING_FIELDS)
        shows(self, "cancelable", {"true": CANCEL_WEBHOOK_FIELDS, "false": []})

    class Meta:
        model = Action
        fields = "__all__"
        field_classes = {
            "headers": JSONTextField,
            "params": JSONTextField,
            "poll_headers": JSONTextField,
            "poll_params": JSONTextField,
            "files": JSONTextField,
            "connect_timeout": DurationSecondsField,
            "read_timeout": DurationSecondsField,
            "poll_interval": DurationSecondsField,
            "poll_timeout": DurationSecondsField,
            "poll_backoff_max": DurationSecondsField,
            "client_certificate": WriteOnlyField,
        }
        widgets = {
            "url": forms.TextInput(attrs={"class": "vURLField"}),
            "poll_url": forms.TextInput(attrs={"class": "vURLField"}),
            "cancel_webhook_url": forms.TextInput(attrs={"class": "vURLField"}),
            "body": MonospaceTextarea(),
            "poll_body": MonospaceTextarea(),
            "cancel_webhook_body": MonospaceTextarea(),
            "client_certificate": WriteOnlyWidget(multiline=True),
        }


def keeping_for(form_class, owner):
    """A subclass of ``form_class`` (with WriteOnlyFieldsMixin) that keeps typed values for ``owner``."""
    return type(form_class.__name__, (form_class,), {"keep_for": owner})


class UnechoedTextarea(forms.Textarea):
    """A textarea that never shows what was typed in it (its page may come back with errors)."""

    def format_value(self, value):
        return None


class ManifestImportForm(forms.Form):
    """A ChiefOnboarding manifest to import: pasted or uploaded, with the values of its initial data."""

    name = forms.CharField(max_length=200, help_text="The integration's name.")
    slug = forms.SlugField(required=False, help_text="Blank: made from the name.")
    manifest = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 14, "class": "vLargeTextField monospace"}),
        help_text='The manifest as JSON: {"execute": [...], "headers": {...}, "initial_data_form": [...]}.',
    )
    manifest_file = forms.FileField(required=False, label="or a manifest file", help_text="A .json file.")
    secrets = forms.CharField(
        required=False, widget=UnechoedTextarea(attrs={"rows": 3, "class": "vLargeTextField monospace",
                                                       "autocomplete": "off", "spellcheck": "false"}),
        help_text="The values of the manifest's initial_data_form entries, one ID=value a line; kept encrypted "
        "as the integration's secrets, never shown again (type them again if the page comes back).",
    )
    replace = forms.BooleanField(required=False, help_text="Replace the integration with this slug, if there is "
                                 "one (its secrets are kept).")

    def clean_secrets(self):
        """{ID: value} of the ID=value lines; every line that is not one is named (by number, never its text,
        which may hold a secret). The lines that are right are kept in ``secret_lines`` even then, so that the
        page can still check the manifest against them."""
        secrets, faults = {}, []
        for number, line in enumerate(self.cleaned_data["secrets"].splitlines(), start=1):
            if not line.strip():
                continue
            key, equals, value = line.partition("=")
            if not equals or not key.strip():
                faults.append(ValidationError(f"Line {number} is not ID=value."))
                continue
            secrets[key.strip()] = value
        self.secret_lines = secrets
        if faults:
            raise ValidationError(faults)
        return secrets

    def clean(self):
        cleaned = super().clean()
        upload, text = cleaned.get("manifest_file"), cleaned.get("manifest", "")
        if upload and text.strip():
            raise ValidationError("Paste the manifest or choose a file, not both.")
        size = upload.size if upload else len(text.encode("utf-8", "surrogatepass"))
        if size > settings.INTEGRATIONS_IMPORT_MAX_BYTES:
            self.add_error("manifest_file" if upload else "manifest", too_large("The manifest", size))
            return cleaned
        if upload:
            try:
                text = upload.read().decode("utf-8")
            except UnicodeDecodeError:
                self.add_error("manifest_file", "The file is not UTF-8 text.")
                return cleaned
        if not text.strip():
            self.add_error("manifest", "Paste the manifest, or choose its file.")
            return cleaned
        try:
            cleaned["manifest"] = parse_json_text(text)
        except ValidationError as exc:
            self.add_error("manifest_file" if upload else "manifest", exc.messages)
        return cleaned
