"""Webhooks in the admin: subscriptions (the signing secret shown once, on a page of its own, when one is made
or its secret rotated) and their deliveries (read-only: status, attempts, last answer; Redeliver)."""

from django import forms
from django.contrib import admin, messages
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html

from runs.events import Event

from .delivery import redeliver
from .models import Delivery, Subscription, new_secret, validate_url


class SubscriptionForm(forms.ModelForm):
    url = forms.URLField(max_length=2000, assume_scheme="https", label="URL", validators=[validate_url],
                         widget=forms.URLInput(attrs={"class": "vTextField", "size": 80}),
                         help_text="Where the events are POSTed.")
    events = forms.MultipleChoiceField(choices=Event.choices, widget=forms.CheckboxSelectMultiple,
                                       help_text="The events sent to the URL.")

    class Meta:
        model = Subscription
        fields = ["name", "url", "events", "integrations", "actions", "enabled"]


@admin.register(Subscription)
class SubscriptionAdmin(admin.ModelAdmin):
    form = SubscriptionForm
    list_display = ["name", "url", "event_list", "enabled", "deliveries_link"]
    list_filter = ["enabled"]
    search_fields = ["name", "url"]
    filter_horizontal = ["integrations", "actions"]
    actions = ["rotate_secret"]

    @admin.display(description="Events")
    def event_list(self, subscription):
        return ", ".join(subscription.events)

    @admin.display(description="Deliveries")
    def deliveries_link(self, subscription):
        url = reverse("admin:webhooks_delivery_changelist") + f"?subscription__id__exact={subscription.pk}"
        return format_html('<a href="{}">Deliveries</a>', url)

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)

    def response_add(self, request, obj, post_url_continue=None):
        # The secret is shown on this answer only: never in a message (kept in the session) nor on a later page.
        return self.secret_page(request, obj, "The subscription was added.")

    @admin.action(description="Rotate the signing secret of the selected subscription", permissions=["change"])
    def rotate_secret(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, "Select one subscription to rotate its secret.", messages.WARNING)
            return None
        subscription = queryset.get()
        subscription.secret = new_secret()
        subscription.save(update_fields=["secret"])
        return self.secret_page(request, subscription, "The old secret no longer verifies.")

    def secret_page(self, request, subscription, said):
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": f"Signing secret of {subscription}",
            "subscription": subscription,
            "said": said,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/webhooks/subscription/secret.html", context)


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = ["id", "subscription", "run_link", "event", "status", "attempts", "last_status_code",
                    "answer_excerpt", "next_attempt_at", "created_at"]
    list_filter = ["status", "event", "subscription"]
    list_select_related = ["subscription"]
    search_fields = ["webhook_id"]
    actions = ["redeliver_selected"]
    fields = ["subscription", "run", "event", "webhook_id", "status", "attempts", "next_attempt_at",
              "last_status_code", "last_answer", "last_error", "created_at", "last_attempt_at", "delivered_at",
              "payload"]

    def get_readonly_fields(self, request, obj=None):
        return self.fields

    def has_add_permission(self, request):
        return False

    @admin.display(description="Run", ordering="run")
    def run_link(self, delivery):
        return format_html('<a href="{}">#{}</a>', reverse("admin:runs_run_change", args=[delivery.run_id]),
                           delivery.run_id)

    @admin.display(description="Last answer")
    def answer_excerpt(self, delivery):
        text = delivery.last_error or delivery.last_answer
        return text[:80] + ("…" if len(text) > 80 else "")

    @admin.action(description="Redeliver the selected deliveries", permissions=["change"])
    def redeliver_selected(self, request, queryset):
        count = sum(redeliver(delivery) for delivery in queryset)
        self.message_user(request, f"{count} deliver{'y' if count == 1 else 'ies'} will be sent again now.",
                          messages.SUCCESS)
