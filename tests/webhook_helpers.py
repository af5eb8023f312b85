"""Helpers for webhook tests: a subscription to a local receiver, and a receiver's checks of what it got."""

import pytest
from standardwebhooks.webhooks import Webhook

from runs.events import Event
from webhooks.delivery import deliver_due
from webhooks.models import Delivery, Subscription


def subscribe(url, events=None, *, integrations=(), actions=(), **fields):
    """A subscription of ``url`` to ``events`` (all by default)."""
    subscription = Subscription.objects.create(name=fields.pop("name", "Receiver"), url=url,
                                               events=list(events or Event.values), **fields)
    subscription.integrations.set(integrations)
    subscription.actions.set(actions)
    return subscription


def deliver_all(limit=20):
    """Send every delivery due now, round after round, until none is left due; returns how many were sent."""
    sent = 0
    for _ in range(limit):
        count = deliver_due()
        if not count:
            return sent
        sent += count
    raise AssertionError(f"Deliveries still due after {limit} rounds.")


def verified(request, secret):
    """The payload of a received webhook, verified as a receiver verifies it (raises if the signature is wrong)."""
    return Webhook(secret).verify(request.body, request.headers)


def events_for(run):
    return list(Delivery.objects.filter(run=run).order_by("id").values_list("event", flat=True))


def grant_group_permissions():
    """Give the staff groups their webhooks permissions, as webhooks' 0002 migration does (a transactional
    test's flush leaves groups made again by the `groups` fixture without them)."""
    from importlib import import_module

    from django.contrib.auth.models import Group, Permission

    for name, models in import_module("webhooks.migrations.0002_groups").GRANTS.items():
        group = Group.objects.get(name=name)
        for model, actions in models.items():
            group.permissions.add(*Permission.objects.filter(
                content_type__app_label="webhooks", codename__in=[f"{action}_{model}" for action in actions]))


@pytest.fixture
def webhook_groups(groups):
    """The staff groups, with their webhooks permissions."""
    grant_group_permissions()
