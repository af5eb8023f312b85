"""Retention removes webhook deliveries delivered longer ago than INTEGRATIONS_WEBHOOK_DELIVERY_RETENTION_DAYS;
failed, given-up and pending ones stay, whatever their age (they are what someone has to look at)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from runs.events import Event
from runs.retention import Retention
from runs.services import start_run
from tests.api_helpers import job_action
from webhooks.models import Delivery, DeliveryStatus, Subscription

pytestmark = pytest.mark.usefixtures("q_sync")


def test_delivered_deliveries_past_the_retention_go_and_the_others_stay(db, server, settings):
    settings.INTEGRATIONS_WEBHOOK_DELIVERY_RETENTION_DAYS = 7
    run = start_run(job_action(server))
    subscription = Subscription.objects.create(name="Hook", url="https://hooks.example.com/",
                                               events=[Event.RUN_SUCCEEDED])
    now = timezone.now()

    def delivery(name, status, days_ago):
        at = now - timedelta(days=days_ago)
        return Delivery.objects.create(
            subscription=subscription, run=run, event=Event.RUN_SUCCEEDED, webhook_id=f"msg_{name}", status=status,
            created_at=at, last_attempt_at=at, delivered_at=at if status == DeliveryStatus.DELIVERED else None)

    old_delivered = delivery("old", DeliveryStatus.DELIVERED, 8)
    kept = [delivery("recent", DeliveryStatus.DELIVERED, 6), delivery("failed", DeliveryStatus.FAILED, 40),
            delivery("given_up", DeliveryStatus.GIVEN_UP, 40), delivery("pending", DeliveryStatus.PENDING, 40)]

    done = Retention().finish()

    assert done.deliveries == 1
    assert not Delivery.objects.filter(pk=old_delivered.pk).exists()
    assert sorted(Delivery.objects.values_list("pk", flat=True)) == sorted(item.pk for item in kept)
    assert Retention().finish().deliveries == 0
