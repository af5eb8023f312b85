"""Events a run's status change raises, and the outbox rows that tell webhook subscriptions about them.

Every place that moves a run into one of these statuses calls ``record`` in
the transaction that moves it, so the delivery rows (webhooks.Delivery) are
committed with the change or not at all: a crash between the two loses
nothing. With no enabled subscription it costs one query on a tiny table, and
only when a run reaches one of these statuses (a poll that changes nothing
costs nothing).
"""

import secrets

from django.db import models

from . import wakeup
from .models import CHAIN_GOES_ON, FINISHED, Run, Status


class Event(models.TextChoices):
    RUN_SUCCEEDED = "run.succeeded", "A run succeeded"
    RUN_FAILED = "run.failed", "A run failed"
    RUN_TIMED_OUT = "run.timed_out", "A run timed out"
    RUN_CANCELLED = "run.cancelled", "A run was cancelled"
    RUN_WAITING_CONFIRMATION = "run.waiting_confirmation", "A run waits for confirmation"
    RUN_WAITING_START = "run.waiting_start", "A run waits for a start"
    CHAIN_FINISHED = "chain.finished", "A chain finished"


# The status a run moves into, and the event that says so.
BY_STATUS = {
    Status.SUCCEEDED: Event.RUN_SUCCEEDED,
    Status.FAILED: Event.RUN_FAILED,
    Status.TIMED_OUT: Event.RUN_TIMED_OUT,
    Status.CANCELLED: Event.RUN_CANCELLED,
    Status.WAITING_CONFIRMATION: Event.RUN_WAITING_CONFIRMATION,
    Status.WAITING_START: Event.RUN_WAITING_START,
}
# A run that ends so ends its chain, unless its action has a next one (skipped: a rehearsal's step).
CHAIN_ENDS = FINISHED - {Status.SKIPPED}


def new_webhook_id():
    """A Standard Webhooks message id: the same on every retry of one delivery, so receivers dedup by it."""
    return "msg_" + secrets.token_urlsafe(18)


def record(changes):
    """Write the outbox rows for ``changes``, pairs (run id, status it moved into), in the caller's transaction.

    Call it only for changes that took effect. Returns how many rows were written.
    """
    changes = [(pk, status) for pk, status in changes if status in BY_STATUS]
    if not changes:
        return 0
    from webhooks.models import Delivery, Subscription

    subscriptions = list(Subscription.objects.filter(enabled=True).prefetch_related("integrations", "actions"))
    if not subscriptions:
        return 0
    runs = {run.pk: run for run in Run.objects.filter(pk__in=[pk for pk, _ in changes]).only(
        "id", "action_id", "integration_id", "previous_run_id", "action__next_action_id").select_related("action")}
    rows = []
    for pk, status in changes:
        run = runs.get(pk)
        if run is None:
            continue
        for event in events_of(run, status):
            for subscription in subscriptions:
                if subscription.wants(event, run):
                    rows.append(Delivery(subscription=subscription, run_id=pk, event=event,
                                         webhook_id=new_webhook_id()))
    Delivery.objects.bulk_create(rows)
    if rows:
        wakeup.notify()  # the webhooks thread sleeps while nothing is due
    return len(rows)


def recorded(run):
    """``run``, just created in the status it has, with its events recorded (a chain's next step)."""
    record([(run.pk, run.status)])
    return run


def events_of(run, status):
    """The events a run moving into ``status`` raises: its own, and chain.finished when its chain ends there."""
    events = [BY_STATUS[status]]
    in_chain = run.previous_run_id is not None or run.action.next_action_id is not None
    goes_on = status in CHAIN_GOES_ON and run.action.next_action_id is not None
    if in_chain and status in CHAIN_ENDS and not goes_on:
        events.append(Event.CHAIN_FINISHED)
    return events


def record_decisions(done):
    """Outbox rows for the decisions of a batch write-back whose runs are still leased under their tokens.

    Called in the write-back's transaction before its conditional updates: the
    rows are locked here (PostgreSQL), so exactly those updates take effect.
    """
    wanted = {(item.decision.run_id, item.token): item.decision.status for item in done
              if item.decision.status in BY_STATUS}
    if not wanted:
        return 0
    from webhooks.models import Subscription

    if not Subscription.objects.filter(enabled=True).exists():
        return 0
    held = Run.objects.select_for_update().filter(
        pk__in=[pk for pk, _ in wanted], lease_token__in=[token for _, token in wanted]
    ).values_list("pk", "lease_token")
    return record([(pk, wanted[pk, token]) for pk, token in held if (pk, token) in wanted])
