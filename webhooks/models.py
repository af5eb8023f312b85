"""Webhook subscriptions (who wants to hear of which runs' ends) and their deliveries (the outbox).

A delivery row is written in the transaction that changes a run's status
(runs/events.py) and sent by the cluster (webhooks/delivery.py) until the
receiver answers 2xx or INTEGRATIONS_WEBHOOK_GIVE_UP_HOURS have passed.
"""

import base64
import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from integrations.crypto import EncryptedTextField
from integrations.models import Action, Integration
from runs import clock
from runs.events import Event
from runs.models import Run

SECRET_PREFIX = "whsec_"


def new_secret():
    """A Standard Webhooks signing secret: whsec_ and 24 random bytes in base64."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def validate_events(value):
    if not isinstance(value, list) or not value:
        raise ValidationError("Choose at least one event.")
    unknown = [name for name in value if name not in Event.values]
    if unknown:
        raise ValidationError(f"Unknown events: {', '.join(map(str, unknown))}. Known: {', '.join(Event.values)}.")
    if len(set(value)) != len(value):
        raise ValidationError("An event is listed twice.")


def validate_url(value):
    if not value.lower().startswith(("http://", "https://")):
        raise ValidationError("The URL must start with http:// or https://.")


class Subscription(models.Model):
    """A URL told of the runs' events it chose, optionally only for some integrations or actions."""

    name = models.CharField(max_length=200)
    url = models.URLField(max_length=2000, validators=[validate_url], help_text="Where the events are POSTed.")
    events = models.JSONField(default=list, validators=[validate_events], help_text="The events it is sent.")
    integrations = models.ManyToManyField(
        Integration, blank=True, related_name="+", help_text="Only runs of these integrations (none: all)."
    )
    actions = models.ManyToManyField(
        Action, blank=True, related_name="+", help_text="Only runs of these actions (none: all)."
    )
    # Shown once, when the subscription is made (or its secret rotated); encrypted at rest like every secret.
    secret = EncryptedTextField(default=new_secret, editable=False)
    enabled = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self):
        return self.name

    def wants(self, event, run):
        """Whether ``event`` of ``run`` is sent here (integrations and actions prefetched)."""
        if event not in self.events:
            return False
        integrations = {integration.pk for integration in self.integrations.all()}
        actions = {action.pk for action in self.actions.all()}
        return (not integrations or run.integration_id in integrations) and (not actions or run.action_id in actions)


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed, will try again"
    GIVEN_UP = "given_up", "Given up"


# Still to be sent: a delivery of these blocks the later deliveries of its run to its subscription.
UNSENT = [DeliveryStatus.PENDING, DeliveryStatus.FAILED]


class Delivery(models.Model):
    """One event of one run for one subscription: the outbox row, and what its attempts got back."""

    subscription = models.ForeignKey(Subscription, on_delete=models.CASCADE, related_name="deliveries")
    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="+")
    event = models.CharField(max_length=40, choices=Event.choices)
    webhook_id = models.CharField(max_length=64, unique=True, help_text="The webhook-id header, on every attempt.")
    # Made at the first attempt from the run as the API shows it, then sent unchanged on every retry.
    payload = models.JSONField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True, default=clock.now)
    lease_until = models.DateTimeField(null=True, blank=True, editable=False)
    lease_token = models.CharField(max_length=32, blank=True, editable=False)
    last_status_code = models.PositiveIntegerField(null=True, blank=True)
    last_answer = models.TextField(blank=True, help_text="The start of the last answer's body.")
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(default=clock.now)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        verbose_name_plural = "deliveries"
        indexes = [
            # The sender's query: unsent deliveries by due time.
            models.Index(fields=["next_attempt_at"], name="delivery_due_idx",
                         condition=models.Q(status__in=["pending", "failed"])),
            # Order per run: an earlier unsent delivery of the run to the subscription holds later ones back.
            models.Index(fields=["run", "subscription", "id"], name="delivery_run_order_idx"),
            models.Index(fields=["subscription", "-id"], name="delivery_subscription_idx"),
            # Retention: delivered ones, oldest first (runs/retention.py).
            models.Index(fields=["delivered_at"], name="delivery_delivered_idx",
                         condition=models.Q(status="delivered")),
        ]

    def __str__(self):
        return f"{self.event} of run {self.run_id} to {self.subscription}"
