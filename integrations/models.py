"""What an admin defines: integrations, their secrets, actions and conditions."""

import json
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone
from django.utils.text import slugify

from .conditions import Operator, validate_operator_value
from .crypto import EncryptedTextField
from .paths import validate_path
from .placeholders import RUN_FACTS, action_placeholder_errors, check_integration_placeholders, integration_names
from .validators import (
    MAX_BACKOFF_CAP,
    MAX_CONNECT_TIMEOUT,
    MAX_CONSECUTIVE_ERRORS,
    MAX_POLL_ATTEMPTS,
    MAX_POLL_INTERVAL,
    MAX_POLL_TIMEOUT,
    MAX_READ_TIMEOUT,
    SecondsRange,
    validate_absolute_url,
    validate_base_url,
    validate_body,
    validate_file_name,
    validate_files,
    validate_header_name,
    validate_headers,
    validate_identifier,
    validate_single_line,
    validate_statuses,
    validate_string_map,
    validate_template,
    validate_url,
    validate_variable_name,
)

# What placeholders can read (see runs.outbound.context_for), said once for every help text that needs it.
_RUN_FACTS = ", ".join(f"{{{{ {fact} }}}}" for fact in RUN_FACTS)
ACTION_PLACEHOLDERS = (
    "Placeholders: {{ name }} of an input, or of a field stored from a response once one has stored it "
    f"({{{{ job.id }}}} reads inside a stored value); {{{{ secrets.NAME }}}}; and {_RUN_FACTS}."
)
INTEGRATION_PLACEHOLDERS = (
    f"Placeholders: {{{{ secrets.NAME }}}} and {_RUN_FACTS}; an action's inputs and stored fields cannot be "
    "used here (they belong in the action)."
)
JSON_OBJECT = (
    'A JSON object of names to values (text, a number or true/false), e.g. {"Accept": "application/json"}; '
    "blank is {}."
)
PATH_HELP = (
    "Where to look in the response: $.data.items[0].id (JSONPath) or data.items.0.id (dot notation) in the "
    "body, @status, @headers.Name or @body. No placeholders."
)


class Method(models.TextChoices):
    GET = "GET", "GET"
    POST = "POST", "POST"
    PUT = "PUT", "PUT"
    PATCH = "PATCH", "PATCH"
    DELETE = "DELETE", "DELETE"


class BodyType(models.TextChoices):
    NONE = "none", "No body"
    JSON = "json", "JSON"
    FORM = "form", "Form (application/x-www-form-urlencoded)"
    RAW = "raw", "Raw text (XML, plain text…)"


class AuthType(models.TextChoices):
    NONE = "none", "None"
    BASIC = "basic", "Basic (username and password)"
    BEARER = "bearer", "Bearer token"
    API_KEY_HEADER = "api_key_header", "API key in a header"
    API_KEY_QUERY = "api_key_query", "API key in a query parameter"
    OAUTH2 = "oauth2_client_credentials", "OAuth 2.0 client credentials"
    OAUTH2_CODE = "oauth2_authorization_code", "OAuth sign-in (authorization code, refresh token)"


# The fields each kind of authentication reads (all required but these optional ones).
AUTH_FIELDS = {
    AuthType.NONE: [],
    AuthType.BASIC: ["auth_username", "auth_secret"],
    AuthType.BEARER: ["auth_secret"],
    AuthType.API_KEY_HEADER: ["api_key_name", "auth_secret"],
    AuthType.API_KEY_QUERY: ["api_key_name", "auth_secret"],
    AuthType.OAUTH2: ["oauth_token_url", "oauth_client_id", "auth_secret", "oauth_scope"],
    AuthType.OAUTH2_CODE: ["oauth_authorize_url", "oauth_token_url", "oauth_client_id", "auth_secret", "oauth_scope"],
}
# The kinds that add an access token fetched from the token URL (runs.oauth).
TOKEN_AUTH_TYPES = {AuthType.OAUTH2, AuthType.OAUTH2_CODE}
OPTIONAL_AUTH_FIELDS = {"oauth_scope"}


class IntegrationQuerySet(models.QuerySet):
    def active(self):
        return self.filter(archived=False)

    def set_archived(self, archived):
        """Archive (or unarchive) these integrations, as the admin's actions and the API do; how many changed.

        Their ``updated_at`` moves forward, so every process's definition snapshot of their actions is renewed
        (runs.definitions) and an ETag taken before no longer matches.
        """
        return self.exclude(archived=archived).update(archived=archived, updated_at=timezone.now())


class Integration(models.Model):
    """A connection to one third-party service."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=100, unique=True, help_text="Short unique name used by the API and commands.")
    description = models.TextField(blank=True)
    image_url = models.URLField("image URL", blank=True, help_text="Logo shown in lists; a default image when blank.")
    base_url = models.CharField(
        "base URL",
        max_length=2000,
        blank=True,
        validators=[validate_base_url],
        help_text="Actions may use URLs relative to this, e.g. https://api.example.com/v2. " + INTEGRATION_PLACEHOLDERS,
    )
    auth_type = models.CharField("authentication", max_length=32, choices=AuthType.choices, default=AuthType.NONE)
    auth_username = models.CharField(
        "username", max_length=200, blank=True, validators=[validate_template], help_text="Basic authentication."
    )
    auth_secret = EncryptedTextField(
        "password, token or key",
        blank=True,
        validators=[validate_template],
        help_text="Basic password, bearer token, API key or OAuth client secret. Write-only. May be a placeholder "
        "such as {{ secrets.PASSWORD }}; a value that contains '{{' itself must be a secret, referenced so.",
    )
    api_key_name = models.CharField(
        "API key name",
        max_length=200,
        blank=True,
        validators=[validate_template, validate_single_line],
        help_text="Header or query parameter that carries the API key, e.g. X-API-Key.",
    )
    oauth_authorize_url = models.CharField(
        "OAuth authorize URL",
        max_length=2000,
        blank=True,
        validators=[validate_absolute_url],
        help_text="OAuth sign-in: the provider's page where an admin consents (Connect sends the browser there).",
    )
    oauth_token_url = models.CharField(
        "OAuth token URL", max_length=2000, blank=True, validators=[validate_absolute_url]
    )
    oauth_client_id = models.CharField("OAuth client id", max_length=500, blank=True, validators=[validate_template])
    oauth_scope = models.CharField("OAuth scope", max_length=1000, blank=True, validators=[validate_template])
    default_headers = models.JSONField(
        default=dict,
        blank=True,
        validators=[validate_headers],
        help_text="Headers sent with every request of every action (not with OAuth token requests); an action's own "
        "headers win. " + JSON_OBJECT + " " + INTEGRATION_PLACEHOLDERS,
    )
    archived = models.BooleanField(default=False, help_text="Archived integrations cannot be run.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = IntegrationQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name

    def save(self, *args, **kwargs):
        if not self.slug:
            self.slug = slugify(self.name)[:100]
        super().save(*args, **kwargs)

    def clean(self):
        errors = {}
        for field in AUTH_FIELDS.get(self.auth_type, []):
            if field not in OPTIONAL_AUTH_FIELDS and not getattr(self, field):
                label = self._meta.get_field(field).verbose_name
                errors[field] = f"Required for {AuthType(self.auth_type).label} authentication ({label})."
        if self.auth_type == AuthType.API_KEY_HEADER and self.api_key_name and "api_key_name" not in errors:
            try:
                validate_header_name(self.api_key_name, placeholders=True)
            except ValidationError as exc:
                errors["api_key_name"] = exc.messages
        if errors:
            raise ValidationError(errors)

    def placeholder_errors(self):
        """{field: [message]} for placeholders of this integration's own fields that nothing can fill (as saved)."""
        names = integration_names(secrets=self.secrets.values_list("name", flat=True))
        return check_integration_placeholders(self, names)

    def secret_names(self):
        """The names of this integration's secrets, in order (never their values)."""
        return [secret.name for secret in self.secrets.all()]

    def secret_values(self):
        """Every secret value of this integration: what must never be shown or logged."""
        values = [secret.value for secret in self.secrets.all()]
        if self.auth_secret and "{{" not in self.auth_secret:
            # A template ({{ secrets.TOKEN }}) is not itself secret: what it is filled with is.
            values.append(self.auth_secret)
        return [value for value in values if value]


class SealedTextField(EncryptedTextField):
    """An encrypted column whose value never leaves the database: serialized (dumpdata) as blank."""

    def value_to_string(self, obj):
        return ""


class OAuthConnection(models.Model):
    """What OAuth sign-in left with an integration: its refresh token (encrypted, never shown) and its state.

    Written by the admin's Connect callback and by the engine when the
    provider rotates the refresh token; the engine refreshes under a lock on
    this row (runs.oauth), so one refresh per integration runs at a time.
    """

    integration = models.OneToOneField(Integration, on_delete=models.CASCADE, related_name="oauth_connection")
    refresh_token = SealedTextField(blank=True)
    connected_at = models.DateTimeField(null=True, blank=True)
    refreshed_at = models.DateTimeField(null=True, blank=True)
    needs_reconnect = models.BooleanField(default=False)
    reason = models.TextField(blank=True, help_text="Why the integration must be connected again.")

    def __str__(self):
        return f"OAuth sign-in of {self.integration}"


class Secret(models.Model):
    """A named value of an integration, read as {{ secrets.NAME }}; encrypted at rest."""

    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="secrets")
    name = models.CharField(max_length=100, validators=[validate_identifier])
    value = EncryptedTextField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["integration", "name"], name="unique_secret_name_per_integration"),
        ]

    def __str__(self):
        return self.name


class PollingMode(models.TextChoices):
    NONE = "none", "No polling: the first response decides"
    POLL = "poll", "Synchronous: poll until a stop condition matches"
    CALLBACK = "callback", "Wait for callback"


class Backoff(models.TextChoices):
    FIXED = "fixed", "Fixed interval"
    EXPONENTIAL = "exponential", "Exponential, up to a cap"


class ErrorPolicy(models.TextChoices):
    RETRY = "retry", "Retry at the next interval (counts toward the error limit)"
    FAIL = "fail", "Fail the run at once"
    KEEP_POLLING = "keep_polling", "Keep polling (not an error, e.g. 404 = not there yet)"


# The settings each polling mode reads. Waiting for a callback sends no polls, but the first request is
# sent again after an error as the interval, backoff and error settings say, and the time limit ends the wait.
RETRY_FIELDS = [
    "poll_interval",
    "poll_backoff",
    "poll_backoff_max",
    "poll_jitter",
    "max_consecutive_errors",
    "on_connection_error",
    "on_rate_limited",
    "on_server_error",
    "on_other_status",
]
POLLING_FIELDS = {
    PollingMode.NONE: [],
    PollingMode.POLL: [
        "poll_method",
        "poll_url",
        "poll_headers",
        "poll_params",
        "poll_body_type",
        "poll_body",
        "poll_max_attempts",
        "poll_timeout",
        *RETRY_FIELDS,
    ],
    PollingMode.CALLBACK: ["poll_timeout", *RETRY_FIELDS],
}
# Read only when a run of a cancelable action is cancelled.
CANCEL_WEBHOOK_FIELDS = ["cancel_webhook_url", "cancel_webhook_method", "cancel_webhook_body"]


class ActionQuerySet(models.QuerySet):
    def runnable(self):
        return self.filter(integration__archived=False)


class Action(models.Model):
    """One operation of an integration: a request, then optionally polling."""

    # Runs protect an integration and its actions; without runs, deleting an
    # integration takes its actions with it.
    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="actions")
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=100, help_text="Unique within the integration.")
    description = models.TextField(blank=True)

    # Request
    method = models.CharField(max_length=10, choices=Method.choices, default=Method.GET)
    url = models.CharField(
        "URL",
        max_length=2000,
        help_text="Absolute, or relative to the integration's base URL; values filled in are percent-encoded. "
        + ACTION_PLACEHOLDERS,
    )
    headers = models.JSONField(
        default=dict,
        blank=True,
        validators=[validate_headers],
        help_text="Headers of the request, over the integration's default headers. " + JSON_OBJECT + " "
        + ACTION_PLACEHOLDERS,
    )
    params = models.JSONField(
        "query parameters",
        default=dict,
        blank=True,
        validators=[validate_string_map],
        help_text="Added to the URL's query string. " + JSON_OBJECT + " " + ACTION_PLACEHOLDERS,
    )
    body_type = models.CharField(max_length=10, choices=BodyType.choices, default=BodyType.NONE)
    body = models.TextField(
        blank=True,
        help_text="As the body type says: JSON; a JSON object of form fields; or raw text. In JSON, a text that is "
        'exactly one placeholder takes its value\'s type ("{{ count }}" sends 3, not "3"). ' + ACTION_PLACEHOLDERS,
    )
    connect_timeout = models.FloatField(
        default=5,
        validators=[SecondsRange("connect timeout", 0.1, MAX_CONNECT_TIMEOUT)],
        help_text=f"Seconds to wait for the connection; at most {MAX_CONNECT_TIMEOUT}.",
    )
    read_timeout = models.FloatField(
        default=30,
        validators=[SecondsRange("read timeout", 0.1, MAX_READ_TIMEOUT)],
        help_text=f"Seconds to wait for each part of the answer; at most {MAX_READ_TIMEOUT}.",
    )
    accepted_statuses = models.CharField(
        max_length=200,
        default="2xx",
        validators=[validate_statuses],
        help_text="Codes (200), classes (2xx) or ranges (200-299), separated by commas.",
    )
    verify_tls = models.BooleanField("verify TLS certificates", default=True)
    client_certificate = EncryptedTextField(
        blank=True, help_text="PEM client certificate followed by its private key. Write-only."
    )
    use_env_proxy = models.BooleanField(
        "use proxy from environment", default=True, help_text="Honour HTTP_PROXY, HTTPS_PROXY and NO_PROXY."
    )
    convert_xml = models.BooleanField("convert XML response to JSON", default=False)
    safe_to_repeat = models.BooleanField(
        "first request is safe to repeat",
        default=False,
        help_text="Tick when sending the first request twice does no harm (it creates nothing, or the service "
        "ignores repeats). Otherwise a first request that may have reached the service is sent again only for "
        "GET, PUT and DELETE, or after a 429 or a 503 with Retry-After.",
    )
    save_as_file = models.CharField(
        "save response as file",
        max_length=255,
        blank=True,
        validators=[validate_file_name],
        help_text="Keep the response body as a file of the run with this name (e.g. report.pdf), for a later "
        "action of the chain to upload and for people to download. The first request's answer is kept; with "
        "a blank polling URL (the request repeats itself), the answer that ends the run succeeded. Blank: off. "
        "At most INTEGRATIONS_MAX_FILE_BYTES; a larger answer fails the run. " + ACTION_PLACEHOLDERS,
    )
    files = models.JSONField(
        "upload files",
        default=dict,
        blank=True,
        validators=[validate_files],
        help_text='Send the request as multipart/form-data with these files: {"form field": "file name"}, each '
        "a file saved (save_as_file) by this run or an earlier run of its chain. A JSON or form body's "
        "top-level fields go with them as form fields. A file that is not there fails the run before anything "
        "is sent. The first request only: polls never upload.",
    )

    # Polling
    polling_mode = models.CharField(
        max_length=10,
        choices=PollingMode.choices,
        default=PollingMode.NONE,
        help_text="What happens after the first request: nothing more, polls until a stop condition matches, or "
        "waiting for the service to call {{ run.callback_url }}.",
    )
    poll_method = models.CharField(
        max_length=10,
        choices=Method.choices,
        blank=True,
        help_text="Blank: GET for a polling URL; the request's own method when the request repeats itself.",
    )
    poll_url = models.CharField(
        "polling URL",
        max_length=2000,
        blank=True,
        help_text="Blank: the request repeats itself, and the first request is poll 1. Otherwise a separate "
        "request, which may use fields stored from the first response (e.g. jobs/{{ job_id }}). "
        + ACTION_PLACEHOLDERS,
    )
    poll_headers = models.JSONField(
        "polling headers",
        default=dict,
        blank=True,
        validators=[validate_headers],
        help_text="With a polling URL, the polling request's headers; with a blank polling URL, added over the "
        "request's headers. " + JSON_OBJECT + " " + ACTION_PLACEHOLDERS,
    )
    poll_params = models.JSONField(
        "polling query parameters",
        default=dict,
        blank=True,
        validators=[validate_string_map],
        help_text="With a polling URL, the polling request's query parameters; with a blank polling URL, added over "
        "the request's. " + JSON_OBJECT + " " + ACTION_PLACEHOLDERS,
    )
    poll_body_type = models.CharField(
        "polling body type", max_length=10, choices=BodyType.choices, default=BodyType.NONE
    )
    poll_body = models.TextField(
        "polling body",
        blank=True,
        help_text="Of the polling body type. With a blank polling URL, blank repeats the request's body. "
        + ACTION_PLACEHOLDERS,
    )
    poll_interval = models.FloatField(
        "interval",
        default=10,
        validators=[SecondsRange("interval", 1, MAX_POLL_INTERVAL)],
        help_text="Seconds between polls (at least 1, at most a day); an ISO 8601 duration such as PT10M is accepted.",
    )
    poll_max_attempts = models.PositiveIntegerField(
        "attempt limit",
        null=True,
        blank=True,
        validators=[
            MinValueValidator(1, "The attempt limit must be at least 1, not %(show_value)s; blank means no limit."),
            MaxValueValidator(
                MAX_POLL_ATTEMPTS, "The attempt limit may be at most %(limit_value)s, not %(show_value)s."
            ),
        ],
        help_text="The run times out after this many attempts. With a blank polling URL the first request counts "
        "(3 = three requests in all); with a polling URL only polls count. Blank: no limit.",
    )
    poll_timeout = models.FloatField(
        "time limit",
        null=True,
        blank=True,
        validators=[SecondsRange("time limit", 1, MAX_POLL_TIMEOUT)],
        help_text="Seconds (or ISO 8601 duration, at most P366D) after which a polling or waiting run times out. "
        "Blank: no limit.",
    )
    poll_backoff = models.CharField("backoff", max_length=12, choices=Backoff.choices, default=Backoff.FIXED)
    poll_backoff_max = models.FloatField(
        "backoff cap",
        default=300,
        validators=[SecondsRange("backoff cap", 1, MAX_BACKOFF_CAP)],
        help_text="Exponential backoff only: the longest interval, in seconds (at least the interval, at most a day).",
    )
    poll_jitter = models.BooleanField("jitter", default=False, help_text="Spread polls by up to ±10%.")
    max_consecutive_errors = models.PositiveIntegerField(
        default=3,
        validators=[
            MinValueValidator(1, "Give at least 1, not %(show_value)s: a run fails at its first error then."),
            MaxValueValidator(MAX_CONSECUTIVE_ERRORS, "At most %(limit_value)s errors in a row, not %(show_value)s."),
        ],
        help_text="A run fails after this many errors in a row while polling (the first request counts when it "
        "is poll 1).",
    )
    on_connection_error = models.CharField(
        "on connection error or timeout", max_length=14, choices=ErrorPolicy.choices, default=ErrorPolicy.RETRY
    )
    on_rate_limited = models.CharField("on 429", max_length=14, choices=ErrorPolicy.choices, default=ErrorPolicy.RETRY)
    on_server_error = models.CharField("on 5xx", max_length=14, choices=ErrorPolicy.choices, default=ErrorPolicy.RETRY)
    on_other_status = models.CharField(
        "on other status codes", max_length=14, choices=ErrorPolicy.choices, default=ErrorPolicy.FAIL
    )

    # Settings
    cancelable = models.BooleanField(default=True)
    cancel_webhook_url = models.CharField(
        "cancel webhook URL", max_length=2000, blank=True,
        help_text="Called when a run is cancelled. Blank: nothing is called. " + ACTION_PLACEHOLDERS,
    )
    cancel_webhook_method = models.CharField(
        "cancel webhook method", max_length=10, choices=Method.choices, default=Method.POST
    )
    cancel_webhook_body = models.TextField(
        "cancel webhook JSON body",
        blank=True,
        help_text="JSON sent to the cancel webhook; blank sends no body. " + ACTION_PLACEHOLDERS,
    )
    include_context = models.BooleanField(
        "include context in request",
        default=False,
        help_text="Add run, action and integration facts to a JSON body under \"context\".",
    )
    execute_in_rehearsal = models.BooleanField(
        default=False, help_text="When off, a rehearsal run logs the request it would send but sends nothing."
    )
    auto_start = models.BooleanField(
        default=True,
        help_text="As the next action of a chain, start by itself; otherwise wait for a person (Start on the "
        "run's page) or the API.",
    )
    fixed_start_time = models.DateTimeField(
        null=True, blank=True, help_text="Runs started before this time wait until it."
    )
    finish_on_success = models.BooleanField(
        default=True,
        help_text="When the conditions say success, the run ends as succeeded; otherwise it waits for a person "
        "(or the API) to confirm or reject the success.",
    )
    next_action = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="previous_actions",
        help_text="A chain: the action that follows a succeeded run, with every variable and field stored so far "
        "(its placeholders may read them).",
    )

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ActionQuerySet.as_manager()

    class Meta:
        ordering = ["integration__name", "name"]
        constraints = [
            models.UniqueConstraint(fields=["integration", "slug"], name="unique_action_slug_per_integration"),
        ]

    def __str__(self):
        return f"{self.integration} · {self.name}"

    def save(self, *args, **kwargs):
        if not self.slug:
            self.slug = slugify(self.name)[:100]
        super().save(*args, **kwargs)

    def clean(self):
        errors = {}
        try:
            # The integration may be unsaved yet (an import checks it with its actions).
            base_url = self.integration.base_url
        except Integration.DoesNotExist:
            base_url = ""

        def check(field, validate, *args, **kwargs):
            try:
                validate(*args, **kwargs)
            except ValidationError as exc:
                errors.setdefault(field, []).extend(exc.messages)

        check("url", validate_url, self.url, base_url=base_url)
        check("body", validate_body, self.body_type, self.body)
        if self.body and self.body_type == BodyType.NONE:
            errors.setdefault("body_type", []).append("Choose a body type, or clear the body.")
        if self.polling_mode != PollingMode.NONE:
            check("poll_url", validate_url, self.poll_url, base_url=base_url)
            check("poll_body", validate_body, self.poll_body_type, self.poll_body)
        if self.cancel_webhook_url:
            check("cancel_webhook_url", validate_url, self.cancel_webhook_url, base_url=base_url)
        if self.cancel_webhook_body:
            check("cancel_webhook_body", validate_body, "json", self.cancel_webhook_body)
        if (
            self.poll_backoff == Backoff.EXPONENTIAL
            and self.poll_backoff_max is not None
            and self.poll_interval
            and self.poll_backoff_max < self.poll_interval
        ):
            errors.setdefault("poll_backoff_max", []).append(
                f"The cap ({self.poll_backoff_max:g} s) must be at least the interval ({self.poll_interval:g} s)."
            )
        if self.files and self.body and self.body_type == BodyType.RAW:
            errors.setdefault("body_type", []).append(
                "A request that uploads files is sent as form fields: use a JSON object or form body, or none."
            )
        if self.files and self.body and self.body_type == BodyType.JSON and not isinstance(_parsed(self.body), dict):
            errors.setdefault("body", []).append(
                "A request that uploads files sends the body's top-level fields as form fields: "
                "the JSON body must be an object."
            )
        if self.next_action_id and self.next_action_id == self.pk:
            errors.setdefault("next_action", []).append("An action cannot follow itself.")
        elif self.next_action_id and self.pk and self._chain_leads_back():
            # Every run of a loop would start the next one, for ever.
            errors.setdefault("next_action", []).append(
                "This chain would lead back to this action: a chain cannot loop.")
        if errors:
            raise ValidationError(errors)

    def placeholder_errors(self):
        """{field: [message]} for placeholders of this action and its condition rows that nothing can fill (as saved).

        The admin and the API check a definition before saving it; this checks one already saved.
        """
        stop_conditions, continue_conditions = list(self.stop_conditions.all()), list(self.continue_conditions.all())
        errors, rows = action_placeholder_errors(
            self,
            inputs=self.inputs.values_list("name", flat=True),
            fields=[*self.mappings.values_list("field", flat=True), *(row.target_field for row in stop_conditions)],
            secrets=self.integration.secrets.values_list("name", flat=True),
            stop_values=[row.value for row in stop_conditions],
            continue_values=[row.value for row in continue_conditions],
        )
        for key, model in (("stop_conditions", StopCondition), ("continue_conditions", ContinueCondition)):
            for index, message in sorted(rows.get(key, {}).items()):
                errors.setdefault(model._meta.verbose_name_plural, []).append(f"Row {index + 1}: {message}")
        return errors

    def _chain_leads_back(self):
        """Does following next_action from this action's next action come back to this action?"""
        seen, current = set(), self.next_action_id
        while current and current not in seen:
            if current == self.pk:
                return True
            seen.add(current)
            current = Action.objects.filter(pk=current).values_list("next_action_id", flat=True).first()
        return False

    def carried_names(self):
        """(input names, stored field names) of the actions that lead into this one along chains, however far
        back: a run of this action in a chain carries their values."""
        inputs, fields = [], []
        seen, frontier = {self.pk}, [self.pk]
        while frontier:
            before = list(Action.objects.filter(next_action__in=frontier).exclude(pk__in=seen).prefetch_related(
                "inputs", "mappings", "stop_conditions"))
            for action in before:
                inputs.extend(row.name for row in action.inputs.all())
                fields.extend(row.field for row in action.mappings.all())
                fields.extend(row.target_field for row in action.stop_conditions.all() if row.target_field)
            frontier = [action.pk for action in before]
            seen.update(frontier)
        return inputs, fields

    def validate_variables(self, variables):
        """The variables a run will get: declared defaults filled in, optional inputs left out as "";
        ValidationError names each fault."""
        if variables is None:
            variables = {}
        if not isinstance(variables, dict):
            raise ValidationError({"variables": "Variables must be an object of names to values."})
        variables = dict(variables)
        declared = {item.name: item for item in self.inputs.all()}
        errors = {}
        if declared:
            for name in variables:
                if name not in declared:
                    errors[name] = f"This action takes no variable {name!r}; it takes: {', '.join(declared)}."
        for name, spec in declared.items():
            value = variables.get(name)
            if value in (None, ""):
                if spec.default != "":
                    variables[name] = spec.default
                elif spec.required:
                    errors[name] = f"{spec.label or name} is required."
                elif name not in variables:
                    variables[name] = ""  # an optional input left out still fills its placeholders
                continue
            choices = spec.choice_list()
            if choices and str(value) not in choices:
                errors[name] = f"{value!r} is not one of the choices: {', '.join(choices)}."
        if errors:
            raise ValidationError(errors)
        return variables


class ActionInput(models.Model):
    """A variable an action expects; "Run now" shows these as a form."""

    action = models.ForeignKey(Action, on_delete=models.CASCADE, related_name="inputs")
    position = models.PositiveIntegerField(default=0)
    name = models.CharField(
        max_length=100,
        validators=[validate_variable_name],
        help_text="Letters, digits and underscores; the action reads the value as {{ name }}.",
    )
    label = models.CharField(max_length=200, blank=True, help_text="Shown on the Run now form; blank: the name.")
    required = models.BooleanField(default=True, help_text="A run must give a value (or the default is used).")
    default = models.CharField(max_length=1000, blank=True, help_text="Used when a run gives no value.")
    choices = models.CharField(max_length=2000, blank=True, help_text="Allowed values, separated by commas.")

    class Meta:
        ordering = ["position", "id"]
        constraints = [models.UniqueConstraint(fields=["action", "name"], name="unique_input_name_per_action")]

    def __str__(self):
        return self.name

    def choice_list(self):
        return [item.strip() for item in self.choices.split(",") if item.strip()]

    def clean(self):
        choices = self.choice_list()
        if self.default and choices and self.default not in choices:
            raise ValidationError({"default": "The default must be one of the choices."})


class Outcome(models.TextChoices):
    SUCCESS = "success", "Success"
    FAILURE = "failure", "Failure"


class ConditionBase(models.Model):
    """A test on a response: the value at a path, an operator and a value."""

    position = models.PositiveIntegerField(default=0)
    path = models.CharField(max_length=500, validators=[validate_path], help_text=PATH_HELP)
    operator = models.CharField(
        max_length=12,
        choices=Operator.choices,
        default=Operator.EQUALS,
        help_text="How the value found is tested against the value.",
    )
    value = models.CharField(
        max_length=2000,
        blank=True,
        validators=[validate_template],
        help_text="Compared with what the path finds: text or a number; 'one of' takes a JSON list or values "
        "separated by commas, 'matches regex' a regular expression, <, <=, > and >= a number, 'exists' nothing. "
        + ACTION_PLACEHOLDERS,
    )

    class Meta:
        abstract = True
        ordering = ["position", "id"]

    def clean(self):
        validate_operator_value(self.operator, self.value)


class StopCondition(ConditionBase):
    """One test of a stop group: rows with the same group number must all match (AND);
    groups are tried in order and the first that matches ends the run with its outcome."""

    action = models.ForeignKey(Action, on_delete=models.CASCADE, related_name="stop_conditions")
    group = models.PositiveIntegerField(
        blank=True,
        validators=[MinValueValidator(1)],
        help_text="Rows with the same group number must all match; groups are tried in order. "
        "Blank: a new group of its own.",
    )
    target_field = models.CharField(
        max_length=100, blank=True, validators=[validate_variable_name],
        help_text="Run field that stores the value found, at every attempt; requests and conditions after it read "
        "it as {{ name }}.",
    )
    outcome = models.CharField(
        max_length=10,
        choices=Outcome.choices,
        default=Outcome.SUCCESS,
        help_text="How the run ends when this row's group matches.",
    )

    class Meta(ConditionBase.Meta):
        ordering = ["group", "position", "id"]

    def __str__(self):
        return f"{self.path} {Operator(self.operator).label} {self.value} → {self.outcome}"

    def save(self, *args, **kwargs):
        if self.group is None:
            last = StopCondition.objects.filter(action_id=self.action_id).aggregate(last=models.Max("group"))["last"]
            self.group = (last or 0) + 1
        super().save(*args, **kwargs)


@dataclass(frozen=True)
class StopGroup:
    """Stop conditions that end a run together: all of ``rows`` must match; they share one outcome."""

    number: int | None
    rows: tuple

    @property
    def outcome(self):
        return self.rows[0].outcome


def stop_groups(rows):
    """``rows`` (stop conditions, in their order) as StopGroups, in the order they are tried.

    Groups go by number; a row without a number yet (a new row) is a group of
    its own, after the numbered ones, as it will be once saved.
    """
    groups = {}
    for index, row in enumerate(rows):
        key = (0, row.group) if row.group is not None else (1, index)
        groups.setdefault(key, []).append(row)
    return [StopGroup(key[1] if key[0] == 0 else None, tuple(members)) for key, members in sorted(groups.items())]


def mixed_outcome_errors(rows):
    """{index of a row in ``rows``: message} for the rows of each group whose rows differ in outcome.

    A group has one outcome; the admin and the API refuse a definition with these errors.
    """
    index_of = {id(row): index for index, row in enumerate(rows)}
    errors = {}
    for group in stop_groups(rows):
        outcomes = sorted({row.outcome for row in group.rows})
        if len(outcomes) > 1:
            message = (
                f"Group {group.number} mixes outcomes ({', '.join(outcomes)}): its rows must all match "
                "together, so they share one outcome. Give them one outcome, or separate group numbers."
            )
            for row in group.rows:
                errors[index_of[id(row)]] = message
    return errors


class ContinueCondition(ConditionBase):
    """The first response must meet every one of these, or the run fails (continue_if)."""

    action = models.ForeignKey(Action, on_delete=models.CASCADE, related_name="continue_conditions")

    class Meta(ConditionBase.Meta):
        pass

    def __str__(self):
        return f"{self.path} {Operator(self.operator).label} {self.value}"


class MappingSource(models.TextChoices):
    REQUEST = "request", "First response"
    RESULT = "result", "Final response (the poll or callback that ended the run)"


class ResponseMapping(models.Model):
    """Store the value at a path into a named field of the run (store_data)."""

    action = models.ForeignKey(Action, on_delete=models.CASCADE, related_name="mappings")
    position = models.PositiveIntegerField(default=0)
    field = models.CharField(
        max_length=100,
        validators=[validate_variable_name],
        help_text="Run field to store into; later requests, conditions and the next action of a chain read it as "
        "{{ name }}.",
    )
    path = models.CharField(max_length=500, validators=[validate_path], help_text=PATH_HELP)
    source = models.CharField(
        max_length=10,
        choices=MappingSource.choices,
        default=MappingSource.REQUEST,
        help_text="Which response: the first, or the one that ended the run (the last poll or the callback).",
    )
    required = models.BooleanField(
        default=False,
        help_text="The path must find a value: when it finds nothing the run fails, naming the path "
        "(ChiefOnboarding's store_data). Otherwise the run goes on without the field.",
    )

    class Meta:
        ordering = ["position", "id"]

    def __str__(self):
        return f"{self.field} ← {self.path}"



def _touch_parent(sender, instance, **kwargs):
    """A change to a row of an action or integration moves its parent's updated_at,
    so that the engine's cached definition of that action is refreshed."""
    if isinstance(instance, Secret):
        Integration.objects.filter(pk=instance.integration_id).update(updated_at=timezone.now())
    else:
        Action.objects.filter(pk=instance.action_id).update(updated_at=timezone.now())


for _model in (Secret, ActionInput, StopCondition, ContinueCondition, ResponseMapping):
    models.signals.post_save.connect(_touch_parent, sender=_model, dispatch_uid=f"touch-{_model.__name__}")
    models.signals.post_delete.connect(_touch_parent, sender=_model, dispatch_uid=f"touch-del-{_model.__name__}")


def _parsed(text):
    """``text`` as JSON, or None when it is not JSON (its own validator names that fault)."""
    try:
        return json.loads(text)
    except ValueError:
        return None
