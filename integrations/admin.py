"""The editing UI: integrations with their secrets, actions with their conditions and mappings."""

import threading
from urllib.parse import urlsplit

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.utils import flatten_fieldsets
from django.contrib.admin.widgets import AutocompleteSelect
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count
from django.forms.models import BaseInlineFormSet
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.template.defaultfilters import pluralize
from django.templatetags.static import static
from django.urls import path, reverse
from django.utils.decorators import method_decorator
from django.utils.html import format_html
from django.utils.text import capfirst
from django.utils.translation import ngettext
from django.views.decorators.debug import sensitive_post_parameters
from django_q.models import Failure, OrmQ, Schedule, Success
from rest_framework.authtoken.admin import TokenAdmin as BaseTokenAdmin
from rest_framework.authtoken.models import TokenProxy

from .forms import ActionForm, IntegrationForm, ManifestImportForm, SecretForm, keeping_for
from .models import (
    ACTION_PLACEHOLDERS,
    Action,
    ActionInput,
    ContinueCondition,
    Integration,
    ResponseMapping,
    Secret,
    StopCondition,
    mixed_outcome_errors,
)
from .placeholders import RUN_FACTS, action_placeholder_errors, check_integration_placeholders, integration_names

_page = threading.local()  # what a change page being rendered in this thread knows of its request
ADMIN_MEDIA = {"all": ["integrations/admin.css"]}
# What a help text of the action page says instead of the whole list of placeholders, shown once on the page.
PLACEHOLDERS_POINTER = "Placeholders may be used (see “Placeholders” at the top of the page)."
SHOWN_FIELDS_JS = ["integrations/shown-fields.js"]  # shows only the fields that apply to a choice (forms.shows)


def short_placeholder_help(field):
    """``field`` (a form field) with the placeholder list of its help text replaced by a pointer to the page's
    one list of placeholders (the “Placeholders” panel of the action page)."""
    if field is not None and ACTION_PLACEHOLDERS in str(field.help_text):
        field.help_text = str(field.help_text).replace(ACTION_PLACEHOLDERS, PLACEHOLDERS_POINTER)
    return field


def stored_state(value):
    return "set" if value else "not set"


class PageForm:
    """A ModelForm mixin: the inlines of its page reach the form through the instance they share.

    Django validates a change page's form first, then each inline formset, and
    saves only when all are valid; a check of the whole definition (the form's
    fields against the inlines' rows) therefore runs in an inline's clean() and
    puts its errors on the form's fields from there.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.instance._page_form = self


class PageCheckFormSet(BaseInlineFormSet):
    """An inline formset that also runs ``page_check`` (set by its ModelAdmin) once its own rows are clean.

    ``page_check`` puts each fault on the field at fault and returns whether it
    found one; this formset's error then keeps anything on the page from being saved.
    """

    page_check = None
    page_check_message = ""

    def clean(self):
        super().clean()
        if self.page_check is not None and self.page_check():
            raise ValidationError(self.page_check_message)


def kept_rows(formset):
    """The forms of ``formset`` that will be saved: not deleted, not left empty."""
    formset.is_valid()  # validates its rows (once; harmless from within its own clean())
    return [form for form in formset.forms if form.cleaned_data and not formset._should_delete_form(form)]


def row_values(formset, field):
    return [form.cleaned_data.get(field) for form in kept_rows(formset)]


def put_errors(form, errors):
    """Add ``errors`` ({field: [messages]}) to ``form``, except on fields that already have one."""
    found = False
    for field, messages_ in errors.items():
        if field in form.fields and not form.has_error(field):
            form.add_error(field, messages_)
            found = True
    return found


class IntegrationPageForm(PageForm, IntegrationForm):
    pass


class ActionPageForm(PageForm, ActionForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            short_placeholder_help(field)


class WriteOnlyAdminMixin:
    """Those who may only view see whether a write-only field is set, never its value.

    A read-only admin page displays every field's value, so for them each
    write-only field is swapped for the display method named in
    ``write_only_fields`` (which must also be in ``readonly_fields``).
    Those who edit get a page that keeps what they typed when it is shown
    again for an error, for them alone (get_form of a page, get_formset of an inline).
    """

    write_only_fields = {}

    def get_form(self, request, obj=None, **kwargs):
        return keeping_for(super().get_form(request, obj, **kwargs), request.user.pk)

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        formset.form = keeping_for(formset.form, request.user.pk)
        return formset

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None or self.has_change_permission(request, obj):
            return fieldsets

        def swap(field):
            if isinstance(field, (list, tuple)):
                return tuple(swap(item) for item in field)
            return self.write_only_fields.get(field, field)

        return [(name, {**options, "fields": swap(options["fields"])}) for name, options in fieldsets]


class KeptByRunsMixin:
    """Runs keep their action and integration (PROTECT): deleting one that runs refer to says so.

    Django would list every protected run (loading them all) under a heading
    about deleting them; the delete page shows one sentence per object instead,
    from ``kept_by_runs(obj, count)``, and deletes nothing.
    """

    def get_deleted_objects(self, objs, request):
        pks = [obj.pk for obj in objs]
        kept = self.model.objects.filter(pk__in=pks).annotate(run_count=Count("runs")).filter(run_count__gt=0)
        if kept:
            return [], {}, set(), [self.kept_by_runs(obj, obj.run_count) for obj in kept]
        return super().get_deleted_objects(objs, request)


class SecretInline(WriteOnlyAdminMixin, admin.TabularInline):
    model = Secret
    form = SecretForm
    formset = PageCheckFormSet
    fields = ["name", "value"]
    readonly_fields = ["value_state"]
    write_only_fields = {"value": "value_state"}
    extra = 0
    verbose_name_plural = "Secrets (read as {{ secrets.NAME }}; values are write-only)"

    @admin.display(description="value")
    def value_state(self, obj):
        return stored_state(obj.value)


class ActionLinkInline(admin.TabularInline):
    """The integration's actions, each a link to its own page, and a link to add one to this integration.

    Actions are edited on their own pages, so this table has no form rows (its
    template renders the formset's hidden fields only).
    """

    model = Action
    template = "admin/integrations/integration/action_links.html"
    fields = ["action_link", "method", "url", "polling_mode"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    @admin.display(description="name")
    def action_link(self, action):
        url = reverse("admin:integrations_action_change", args=[action.pk])
        return format_html('<a href="{}">{}</a>', url, action.name)


@admin.register(Integration)
class IntegrationAdmin(KeptByRunsMixin, WriteOnlyAdminMixin, admin.ModelAdmin):
    form = IntegrationPageForm
    list_display = ["thumbnail", "name", "slug", "auth_type", "action_count", "archived"]
    list_display_links = ["thumbnail", "name"]
    list_filter = ["archived", "auth_type"]
    search_fields = ["name", "slug", "description", "base_url"]
    # Explicit: the annotated (grouped) queryset of get_queryset loses Meta.ordering.
    ordering = ["name"]
    prepopulated_fields = {"slug": ["name"]}
    readonly_fields = ["auth_secret_state", "oauth_sign_in"]
    write_only_fields = {"auth_secret": "auth_secret_state"}
    actions = ["archive", "unarchive"]
    inlines = [SecretInline, ActionLinkInline]
    fieldsets = [
        ("Integration", {"fields": ["name", "slug", "image_url", "description", "base_url", "archived"]}),
        (
            "Authentication",
            {
                "fields": [
                    "auth_type",
                    "auth_username",
                    "auth_secret",
                    "api_key_name",
                    "oauth_authorize_url",
                    "oauth_token_url",
                    "oauth_client_id",
                    "oauth_scope",
                    "oauth_sign_in",
                ],
                "description": "Fill in the fields the chosen authentication needs; the others are ignored. "
                "Each may use {{ secrets.NAME }} and run facts such as {{ run.id }}, filled when a request is sent.",
            },
        ),
        ("Defaults", {"fields": ["default_headers"]}),
    ]

    class Media:
        css = ADMIN_MEDIA
        js = SHOWN_FIELDS_JS

    # Every field of this page may hold a secret (the auth secret, each secret's value, and
    # anything typed by mistake): none of them is shown on Django's error page.
    @method_decorator(sensitive_post_parameters())
    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        return super().changeform_view(request, object_id, form_url, extra_context)

    IMPORT_PERMISSIONS = ["integrations.add_integration", "integrations.change_integration",
                          "integrations.add_action", "integrations.change_action", "integrations.delete_action"]

    def get_urls(self):
        view = self.admin_site.admin_view(self.import_manifest_view)
        connect = self.admin_site.admin_view(self.oauth_connect_view)
        callback = self.admin_site.admin_view(self.oauth_callback_view)
        return [
            path("import-manifest/", view, name="integrations_integration_import_manifest"),
            path("oauth/callback/", callback, name="integrations_integration_oauth_callback"),
            path("<int:object_id>/oauth/connect/", connect, name="integrations_integration_oauth_connect"),
            *super().get_urls(),
        ]

    @admin.display(description="OAuth sign-in")
    def oauth_sign_in(self, integration):
        """Whether the integration is connected (never the token), a Connect button and the URI to register."""
        from .oauth_signin import state_of

        if integration is None or integration.pk is None:
            return "Save the integration, then connect it."
        connected, needs_reconnect, reason, connected_at = state_of(integration)
        if needs_reconnect:
            status = format_html('<strong class="oauth-state oauth-reconnect">Reconnect needed</strong>: {}', reason)
        elif connected:
            status = format_html('<strong class="oauth-state oauth-connected">Connected</strong> since {}',
                                 connected_at.strftime("%Y-%m-%d %H:%M UTC") if connected_at else "?")
        else:
            status = format_html('<strong class="oauth-state">{}</strong>', "Not connected")
        url = reverse("admin:integrations_integration_oauth_connect", args=[integration.pk])
        label = "Connect again" if connected else "Connect"
        return format_html(
            '<div>{}</div><p class="oauth-actions"><a class="button oauth-connect" href="{}">{}</a></p>'
            '<div class="help">Save changes first; Connect opens the provider\'s consent page. Register this '
            "redirect URI with the provider: <code>{}</code></div>",
            status, url, label, getattr(_page, "callback_uri", ""),
        )

    def change_view(self, request, object_id, form_url="", extra_context=None):
        from .oauth_signin import callback_url

        _page.callback_uri = callback_url(request)  # for oauth_sign_in(), which is not given the request
        return super().change_view(request, object_id, form_url, extra_context)

    def oauth_connect_view(self, request, object_id):
        """Connect: to the provider's consent page, with PKCE and a state kept in this admin's session."""
        from .models import AuthType
        from .oauth_signin import SignInError, start

        integration = self.get_object(request, str(object_id))
        if integration is None:
            raise Http404
        if not self.has_change_permission(request, integration):
            raise PermissionDenied
        change_url = reverse("admin:integrations_integration_change", args=[integration.pk])
        if integration.auth_type != AuthType.OAUTH2_CODE:
            self.message_user(request, f"Connect is for {AuthType.OAUTH2_CODE.label} authentication: choose it "
                                       "and save first.", messages.ERROR)
            return HttpResponseRedirect(change_url)
        try:
            return HttpResponseRedirect(start(request, integration))
        except SignInError as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return HttpResponseRedirect(change_url)

    def oauth_callback_view(self, request):
        """Where the provider sends the admin back: state checked, code exchanged, refresh token kept."""
        from .oauth_signin import SignInError, finish, take_flow

        try:
            flow = take_flow(request)
        except SignInError as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return HttpResponseRedirect(reverse("admin:integrations_integration_changelist"))
        integration = self.get_object(request, str(flow["integration"]))
        if integration is None:
            raise Http404
        if not self.has_change_permission(request, integration):
            raise PermissionDenied
        try:
            finish(request, integration, flow)
        except SignInError as exc:
            self.message_user(request, str(exc), messages.ERROR)
        else:
            self.message_user(request, f"Connected {integration.name}: runs now use OAuth sign-in tokens.",
                              messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:integrations_integration_change", args=[integration.pk]))

    def changelist_view(self, request, extra_context=None):
        extra = {"may_import_manifest": request.user.has_perms(self.IMPORT_PERMISSIONS), **(extra_context or {})}
        return super().changelist_view(request, extra)

    @method_decorator(sensitive_post_parameters("secrets"))
    def import_manifest_view(self, request):
        """A ChiefOnboarding manifest imported as an integration whose actions are its chains."""
        from .manifests import ManifestRefused, check_manifest, import_manifest, page_faults
        from .transfer import ImportRefused

        if not request.user.has_perms(self.IMPORT_PERMISSIONS):
            raise PermissionDenied
        form = ManifestImportForm(request.POST or None, request.FILES or None)
        faults = []
        if request.method == "POST":
            valid = form.is_valid()
            data = form.cleaned_data
            manifest = data.get("manifest")
            if isinstance(manifest, dict):
                # Every fault at once: the manifest is checked even when a field of the page is wrong, against
                # the ID=value lines that are right.
                name = data.get("name") or "Imported"
                faults = check_manifest(manifest, name=name, slug=data.get("slug") or "",
                                        secrets=getattr(form, "secret_lines", {}), replace=data.get("replace", False))
            # The page's own fields first, as they are named on it (each is marked below as well).
            labels = {name: capfirst(form[name].label) for name in form.fields}
            faults = [f"{labels[name]}: {message}" if name in labels else message
                      for name, field_errors in form.errors.items() for message in field_errors] + faults
            if valid and not faults:
                try:
                    integration, created = import_manifest(
                        manifest, name=data["name"], slug=data["slug"], secrets=data["secrets"],
                        replace=data["replace"])
                except ManifestRefused as exc:  # what was checked changed meanwhile
                    faults = exc.faults
                except ImportRefused as exc:
                    faults = page_faults(exc.errors, {})
                else:
                    steps = integration.actions.count()
                    self.message_user(request, f"{'Imported' if created else 'Replaced'} {integration.name} from "
                                               f"the manifest, with {steps} action{'s' if steps != 1 else ''}.",
                                      messages.SUCCESS)
                    return HttpResponseRedirect(reverse("admin:integrations_integration_change",
                                                        args=[integration.pk]))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Import a ChiefOnboarding manifest",
            "form": form,
            "adminform": helpers.AdminForm(form, [(None, {"fields": list(form.fields)})], {}),
            "faults": faults,
            "media": self.media + form.media,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/integrations/integration/import_manifest.html", context)

    def _create_formsets(self, request, obj, change):
        formsets, inline_instances = super()._create_formsets(request, obj, change)
        [secrets] = [formset for formset in formsets if formset.prefix == "secrets"]
        secrets.page_check = lambda: self.check_placeholders(obj, secrets)
        secrets.page_check_message = (
            "A placeholder above names nothing that can fill it (see the fields marked): "
            "add the secret here, or fix the placeholder."
        )
        return formsets, inline_instances

    @staticmethod
    def check_placeholders(integration, secrets):
        """Put an error on each field of the integration's form with a placeholder nothing can fill."""
        names = integration_names(secrets=row_values(secrets, "name"))
        return put_errors(integration._page_form, check_integration_placeholders(integration, names))

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(action_count=Count("actions"))

    def get_inlines(self, request, obj):
        if obj is None:
            return [SecretInline]  # a new integration has no actions to list
        return self.inlines

    def get_actions(self, request):
        actions = super().get_actions(request)
        # Integrations are archived, not deleted; one without runs can still be deleted from its page.
        actions.pop("delete_selected", None)
        return actions

    @staticmethod
    def kept_by_runs(integration, count):
        return (
            f"“{integration}” has {count} run{pluralize(count)}; runs keep their integration and action, so it "
            "cannot be deleted. Archive it instead: an archived integration cannot be run."
        )

    @admin.display(description="")
    def thumbnail(self, obj):
        # The form and the API accept only http(s) image URLs; a row written another way (a script, the
        # database) gets the default image rather than a javascript: or data: URL as the image's source.
        shown = obj.image_url if urlsplit(obj.image_url).scheme.lower() in ("http", "https") else ""
        return format_html(
            '<img src="{}" alt="" class="integration-thumbnail" width="32" height="32">',
            shown or static("integrations/default-integration.svg"),
        )

    @admin.display(description="actions", ordering="action_count")
    def action_count(self, obj):
        return obj.action_count

    @admin.display(description=Integration._meta.get_field("auth_secret").verbose_name)
    def auth_secret_state(self, obj):
        return stored_state(obj.auth_secret)

    @admin.action(description="Archive the selected integrations", permissions=["change"])
    def archive(self, request, queryset):
        self._set_archived(request, queryset, True)

    @admin.action(description="Unarchive the selected integrations", permissions=["change"])
    def unarchive(self, request, queryset):
        self._set_archived(request, queryset, False)

    def _set_archived(self, request, queryset, archived):
        count = queryset.set_archived(archived)
        verb = "archived" if archived else "unarchived"
        self.message_user(
            request, ngettext("%d integration %s.", "%d integrations %s.", count) % (count, verb), messages.SUCCESS
        )


class PositionedInline(admin.TabularInline):
    """Rows kept in the order of their position (ties: the order they were added)."""

    extra = 0

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        return short_placeholder_help(super().formfield_for_dbfield(db_field, request, **kwargs))


class ActionInputInline(PositionedInline):
    model = ActionInput
    formset = PageCheckFormSet
    fields = ["position", "name", "label", "required", "default", "choices"]
    verbose_name = "input"
    verbose_name_plural = "Inputs (the variables a run takes, read as {{ name }})"


class ContinueConditionInline(PositionedInline):
    model = ContinueCondition
    fields = ["position", "path", "operator", "value"]
    verbose_name = "continue condition"
    verbose_name_plural = "Continue if (the first response must meet every row, or the run fails)"


class StopConditionFormSet(BaseInlineFormSet):
    def clean(self):
        super().clean()
        kept = [
            form for form in self.forms
            if form.cleaned_data and not self._should_delete_form(form) and not form.has_error("outcome")
        ]
        for index, message in mixed_outcome_errors([form.instance for form in kept]).items():
            kept[index].add_error("outcome", message)


class StopConditionInline(PositionedInline):
    model = StopCondition
    formset = StopConditionFormSet
    fields = ["group", "position", "path", "target_field", "operator", "value", "outcome"]
    verbose_name = "stop condition"
    verbose_name_plural = (
        "Stop conditions (rows with the same group number must all match; groups are tried in order "
        "and the first that matches ends the run with its outcome; a blank group is a new group)"
    )

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        field = super().formfield_for_dbfield(db_field, request, **kwargs)
        if db_field.name == "group":
            field.widget.attrs["placeholder"] = "new"
        if db_field.name == "target_field":
            field.label = "Store what it finds as"
            field.help_text = ("A name for the value the path finds (stored at every attempt), so that later "
                               "requests and conditions read it as {{ name }}. Blank: not stored.")
        return field


class ResponseMappingInline(PositionedInline):
    model = ResponseMapping
    fields = ["position", "field", "path", "source", "required"]
    verbose_name = "response mapping"
    verbose_name_plural = "Response mappings (store a value from the response into a field of the run)"


POLLING_DESCRIPTION = """
<div data-shown-by="polling_mode" data-shown-for="poll">
<p>With a <strong>blank polling URL</strong> the request repeats itself, and the first request is poll 1:
its answer is checked against the stop conditions, its errors follow the error settings below, and it counts
toward the attempt limit (3 = three requests in all).</p>
<p>With a <strong>polling URL</strong>, the first request's answer is checked against the stop conditions too
(a job already done needs no poll). The first request is sent again only where that cannot repeat remote work:
it never reached the service, the answer was 429 or 503 with Retry-After, or the method is GET, PUT or DELETE;
or where “first request is safe to repeat” is ticked. The attempt limit then counts polls.</p>
<p>The stop conditions are the rows under “Stop conditions”, in “Conditions and mappings”.</p>
</div>
<div data-shown-by="polling_mode" data-shown-for="callback">
<p>When <strong>waiting for a callback</strong>, the run waits for the service to send a POST to
{{ run.callback_url }}: put that placeholder in the request (in its body, say). Each callback is checked against the
stop conditions (in “Conditions and mappings”; with none, the first callback ends the run as succeeded); one that
matches none keeps the run
waiting, until the time limit. The interval, backoff and error settings apply to sending the first request again
after an error.</p>
</div>
"""


class IdsOnlyAutocompleteSelect(AutocompleteSelect):
    """Django's autocomplete widget, which shows a posted value again without looking up text that is no id.

    Django's looks the posted values up to show them: text that is no id
    (1e999, a NUL, JSON) made the page a ValueError or a PostgreSQL error, a
    500, where the field's own "Select a valid choice" belongs.
    """

    def optgroups(self, name, value, attr=None):
        target = self.field.target_field
        ids = []
        for item in value:
            try:
                found = target.to_python(item)
            except ValidationError:
                continue
            if not isinstance(found, int) or -(2**63) <= found < 2**63:  # what a database column can hold
                ids.append(item)
        return super().optgroups(name, ids, attr)


def form_sections(sections, adminform, inline_admin_formsets):
    """The sections of a change page: ``sections`` ([(slug, title, {"fieldsets": names, "inlines": classes})])
    filled with the page's fieldsets (with their index, for their heading ids) and inline formsets.

    A fieldset or inline that no section names goes to the last section, so nothing is ever left out. The
    first section with an error is the one to open (``open``); else the first.
    """
    found = [{"slug": slug, "title": title, "fieldsets": [], "inlines": [], "has_errors": False, "open": False}
             for slug, title, _ in sections]
    fieldset_section = {name: index for index, (_, _, parts) in enumerate(sections) for name in parts["fieldsets"]}
    inline_section = {cls: index for index, (_, _, parts) in enumerate(sections) for cls in parts["inlines"]}
    form = adminform.form
    for index, fieldset in enumerate(adminform):
        section = found[fieldset_section.get(fieldset.name, len(found) - 1)]
        section["fieldsets"].append((index, fieldset))
        names = flatten_fieldsets([(fieldset.name, {"fields": fieldset.fields})])
        section["has_errors"] |= any(name in form.errors for name in names)
    for inline in inline_admin_formsets:
        section = found[inline_section.get(type(inline.opts), len(found) - 1)]
        section["inlines"].append(inline)
        section["has_errors"] |= inline.formset.is_bound and inline.formset.total_error_count() > 0
    sections_shown = [section for section in found if section["fieldsets"] or section["inlines"]]
    opened = next((section for section in sections_shown if section["has_errors"]), sections_shown[0])
    opened["open"] = True
    return sections_shown


def placeholders_for(action):
    """What the action page's one list of placeholders names: this action's own names, when it has them."""
    facts = [f"{{{{ {fact} }}}}" for fact in RUN_FACTS]
    if action is None or action.pk is None:
        return {"inputs": [], "fields": [], "secrets": [], "facts": facts}
    fields = [*action.mappings.values_list("field", flat=True),
              *action.stop_conditions.exclude(target_field="").values_list("target_field", flat=True)]
    return {
        "inputs": [f"{{{{ {name} }}}}" for name in action.inputs.values_list("name", flat=True)],
        "fields": [f"{{{{ {name} }}}}" for name in dict.fromkeys(fields)],
        "secrets": [f"{{{{ secrets.{name} }}}}" for name in action.integration.secrets.values_list("name", flat=True)],
        "facts": facts,
    }


@admin.register(Action)
class ActionAdmin(KeptByRunsMixin, WriteOnlyAdminMixin, admin.ModelAdmin):
    form = ActionPageForm
    list_display = ["name", "integration", "method", "url", "polling_mode"]
    list_filter = ["polling_mode", "method", "integration__archived", "integration"]
    list_select_related = ["integration"]
    search_fields = ["name", "slug", "url", "integration__name"]
    autocomplete_fields = ["integration", "next_action"]
    prepopulated_fields = {"slug": ["name"]}
    readonly_fields = ["client_certificate_state"]
    write_only_fields = {"client_certificate": "client_certificate_state"}
    inlines = [ActionInputInline, ContinueConditionInline, StopConditionInline, ResponseMappingInline]
    # The page's sections (tabs, with its script), as Cutover's own editor groups an action: each names the
    # fieldsets (by name) and inlines it holds. Anything not named lands in the last section.
    sections = [
        ("request", "Request", {"fieldsets": [None, "Request"], "inlines": [ActionInputInline]}),
        ("polling", "Polling", {"fieldsets": ["Polling"], "inlines": []}),
        (
            "conditions",
            "Conditions and mappings",
            {
                "fieldsets": ["Response"],
                "inlines": [ContinueConditionInline, StopConditionInline, ResponseMappingInline],
            },
        ),
        ("settings", "Settings", {"fieldsets": ["Settings"], "inlines": []}),
    ]
    fieldsets = [
        (None, {"fields": ["integration", "name", "slug", "description"]}),
        (
            "Request",
            {
                "fields": [
                    "method",
                    "url",
                    "headers",
                    "params",
                    "body_type",
                    "body",
                    ("connect_timeout", "read_timeout"),
                    "verify_tls",
                    "client_certificate",
                    "use_env_proxy",
                    "safe_to_repeat",
                    "save_as_file",
                    "files",
                ]
            },
        ),
        (
            "Polling",
            {
                "fields": [
                    "polling_mode",
                    "poll_method",
                    "poll_url",
                    "poll_headers",
                    "poll_params",
                    "poll_body_type",
                    "poll_body",
                    "poll_interval",
                    ("poll_max_attempts", "poll_timeout"),
                    ("poll_backoff", "poll_backoff_max", "poll_jitter"),
                    "max_consecutive_errors",
                    "on_connection_error",
                    "on_rate_limited",
                    "on_server_error",
                    "on_other_status",
                ],
                "description": POLLING_DESCRIPTION,
            },
        ),
        (
            "Response",
            {
                "fields": ["accepted_statuses", "convert_xml"],
                "description": "What the response must meet (“Continue if”) and the values stored from it "
                "(“Response mappings”) are the rows below.",
            },
        ),
        (
            "Settings",
            {
                "fields": [
                    "cancelable",
                    "cancel_webhook_url",
                    "cancel_webhook_method",
                    "cancel_webhook_body",
                    "include_context",
                    "execute_in_rehearsal",
                    "fixed_start_time",
                    "finish_on_success",
                    "next_action",
                    "auto_start",
                ]
            },
        ),
    ]

    class Media:
        css = ADMIN_MEDIA
        js = [*SHOWN_FIELDS_JS, "integrations/form-sections.js"]

    @method_decorator(sensitive_post_parameters("client_certificate"))
    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        return super().changeform_view(request, object_id, form_url, extra_context)

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        context["form_sections"] = form_sections(self.sections, context["adminform"],
                                                 context["inline_admin_formsets"])
        context["placeholders"] = placeholders_for(obj)
        return super().render_change_form(request, context, add, change, form_url, obj)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name in self.get_autocomplete_fields(request):
            kwargs["widget"] = IdsOnlyAutocompleteSelect(db_field, self.admin_site, using=kwargs.get("using"))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_urls(self):
        from runs.admin import run_now_view

        run_now = self.admin_site.admin_view(lambda request, object_id: run_now_view(self, request, object_id))
        return [path("<int:object_id>/run/", run_now, name="integrations_action_run"), *super().get_urls()]

    @admin.display(description="")
    def run_now_link(self, obj):
        return format_html('<a href="{}" class="run-now-link">Run now</a>',
                           reverse("admin:integrations_action_run", args=[obj.pk]))

    def get_list_display(self, request):
        if request.user.has_perm("runs.change_run"):
            return [*self.list_display, "run_now_link"]
        return self.list_display

    def _create_formsets(self, request, obj, change):
        formsets, inline_instances = super()._create_formsets(request, obj, change)
        rows = {formset.prefix: formset for formset in formsets}
        rows["inputs"].page_check = lambda: self.check_placeholders(obj, rows)
        rows["inputs"].page_check_message = (
            "A placeholder on this page names nothing that can fill it (see the fields marked): "
            "declare the input here, or fix the placeholder."
        )
        return formsets, inline_instances

    @staticmethod
    def check_placeholders(action, rows):
        """Put an error on each field and condition value of the page with a placeholder nothing can fill."""
        form = action._page_form
        if form.has_error("integration"):
            return False  # its secrets are unknown until an integration is chosen
        stop_rows, continue_rows = kept_rows(rows["stop_conditions"]), kept_rows(rows["continue_conditions"])
        errors, row_messages = action_placeholder_errors(
            action,
            inputs=row_values(rows["inputs"], "name"),
            fields=[*row_values(rows["mappings"], "field"), *row_values(rows["stop_conditions"], "target_field")],
            secrets=action.integration.secrets.values_list("name", flat=True),
            stop_values=[row.cleaned_data.get("value", "") for row in stop_rows],
            continue_values=[row.cleaned_data.get("value", "") for row in continue_rows],
        )
        found = put_errors(form, errors)
        for key, kept in (("stop_conditions", stop_rows), ("continue_conditions", continue_rows)):
            for index, message in row_messages.get(key, {}).items():
                found |= put_errors(kept[index], {"value": [message]})
        return found

    @staticmethod
    def kept_by_runs(action, count):
        return (
            f"“{action}” has {count} run{pluralize(count)}; runs keep their action, so it cannot be deleted. "
            "Archive its integration instead: an archived integration's actions cannot be run."
        )

    @admin.display(description=Action._meta.get_field("client_certificate").verbose_name)
    def client_certificate_state(self, obj):
        return stored_state(obj.client_certificate)


# --- The site -----------------------------------------------------------------------------------

# The site's names and its index: integrations_site/admin_site.py.


def superusers_only(model_admin_class):
    """``model_admin_class``, shown to superusers only (in the index and by URL), whatever else is granted."""

    class SuperusersOnly(model_admin_class):
        def has_module_permission(self, request):
            return request.user.is_superuser

        def has_view_permission(self, request, obj=None):
            return request.user.is_superuser and super().has_view_permission(request, obj)

        def has_add_permission(self, request, *args):
            return request.user.is_superuser and super().has_add_permission(request, *args)

        def has_change_permission(self, request, obj=None):
            return request.user.is_superuser and super().has_change_permission(request, obj)

        def has_delete_permission(self, request, obj=None):
            return request.user.is_superuser and super().has_delete_permission(request, obj)

    SuperusersOnly.__name__ = SuperusersOnly.__qualname__ = f"SuperusersOnly{model_admin_class.__name__}"
    return SuperusersOnly


# django-q2's task rows are the cluster's plumbing: a run's own page tells its story.
for _model in (Schedule, Success, Failure, OrmQ):
    if admin.site.is_registered(_model):
        _model_admin = type(admin.site.get_model_admin(_model))
        admin.site.unregister(_model)
        admin.site.register(_model, superusers_only(_model_admin))


admin.site.unregister(TokenProxy)


@admin.register(TokenProxy)
class TokenAdmin(BaseTokenAdmin):
    """API tokens: superusers manage everyone's; other staff see, make and revoke their own.

    A token acts for its user with that user's permissions, so making one's own
    needs no permission beyond being staff; nobody else's is shown.
    """

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        return queryset if request.user.is_superuser else queryset.filter(user=request.user)

    def get_fieldsets(self, request, obj=None):
        if request.user.is_superuser:
            return super().get_fieldsets(request, obj)
        description = (
            "Your API token: scripts send “Authorization: Token” and its key in a header, and act with your "
            "permissions. Delete it to revoke it."
        )
        return [(None, {"fields": [], "description": description})]

    def add_view(self, request, form_url="", extra_context=None):
        if not request.user.is_superuser:
            # One token each, and nothing to edit on it.
            extra_context = {**(extra_context or {}), "show_save_and_add_another": False,
                             "show_save_and_continue": False}
        return super().add_view(request, form_url, extra_context)

    def has_module_permission(self, request):
        return request.user.is_superuser or request.user.is_staff

    def has_view_permission(self, request, obj=None):
        if request.user.is_superuser:
            return super().has_view_permission(request, obj)
        return obj is None or obj.user_id == request.user.pk

    def has_add_permission(self, request):
        if request.user.is_superuser:
            return super().has_add_permission(request)
        return not TokenProxy.objects.filter(user=request.user).exists()

    def has_change_permission(self, request, obj=None):
        # A token has nothing to change but its user: only superusers move one.
        return request.user.is_superuser and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        if request.user.is_superuser:
            return super().has_delete_permission(request, obj)
        return obj is None or obj.user_id == request.user.pk

    def save_model(self, request, obj, form, change):
        if not request.user.is_superuser:
            obj.user = request.user
        super().save_model(request, obj, form, change)
