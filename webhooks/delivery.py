"""Sending the outbox: the cluster's webhooks thread claims due deliveries and POSTs them, signed.

Deliveries are claimed a few at a time under a lease read off the database's
clock (runs/clock.py), so several clusters share the work and a cluster
killed mid-send leaves its deliveries to be sent again once the lease lapses
(at least once: receivers dedup by webhook-id, the same on every attempt).
A run's deliveries to one subscription go in order: one waits while an
earlier one is still unsent. Requests go through the engine's one outbound
seam (runs/http.py: the address guard, timeouts, the answer's size cap). A
failed attempt is tried again after INTEGRATIONS_WEBHOOK_FIRST_RETRY seconds,
doubling up to MAX_DELAY, until INTEGRATIONS_WEBHOOK_GIVE_UP_HOURS after the
event; an endpoint that stays down is logged once per LOG_EVERY, not per attempt.
A receiver that answers 410 Gone says it is gone for good (as Standard Webhooks
suggests): its subscription is disabled and its unsent deliveries given up.
"""

import json
import logging
import secrets
import threading
import time
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.db import DatabaseError, close_old_connections, connection
from django.db.models import Exists, Min, OuterRef, Q
from rest_framework.utils.encoders import JSONEncoder

from runs import clock, wakeup
from runs.definitions import definition_for
from runs.http import Outbound, SendError, send
from runs.outages import Outage

from . import signing
from .models import UNSENT, Delivery, DeliveryStatus, Subscription

log = logging.getLogger(__name__)

CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 10.0
# Claimed at once: memory stays bounded however many deliveries wait (a receiver down for a day).
BATCH = 20
# A claim outlives the attempt's timeouts: a cluster still sending keeps it, a dead one loses it.
LEASE = timedelta(seconds=CONNECT_TIMEOUT + READ_TIMEOUT + 5)
MAX_DELAY = timedelta(hours=2)
# Seconds between looks for due deliveries when there were none, and after a fault.
IDLE = 0.5
# The longest an idle webhooks thread sleeps without a wake-up (runs.wakeup).
IDLE_MAX = 5.0
FAULT_PAUSE = 2.0
LOG_EVERY = 3600.0
# Bytes of an answer read (and kept, as text, in the delivery's last answer).
ANSWER_BYTES = 4096
ANSWER_KEPT = 1000
GONE = 410
GONE_ERROR = "The receiver answered 410 Gone: the subscription was disabled, its unsent deliveries given up."


def backoff(attempts):
    """The wait after the ``attempts``-th failed attempt: FIRST_RETRY, doubling, at most MAX_DELAY."""
    first = settings.INTEGRATIONS_WEBHOOK_FIRST_RETRY
    return min(timedelta(seconds=first * 2 ** min(attempts - 1, 30)), MAX_DELAY)


def give_up_at(delivery):
    return delivery.created_at + timedelta(hours=settings.INTEGRATIONS_WEBHOOK_GIVE_UP_HOURS)


class _PublicRequest:
    """What the API's serializers need of a request to show a run to nobody in particular: links under
    INTEGRATIONS_PUBLIC_URL, and the view of someone who may not change runs (no callback URL)."""

    user = AnonymousUser()
    versioning_scheme = None
    GET = query_params = {}

    def build_absolute_uri(self, location):
        return settings.INTEGRATIONS_PUBLIC_URL.rstrip("/") + location


def payload(delivery):
    """{"type", "timestamp", "data"}: the event, when it happened, and the run as the API's run detail shows it."""
    from runs.api import RunDetailSerializer, run_for_api

    data = RunDetailSerializer(run_for_api(delivery.run_id), context={"request": _PublicRequest()}).data
    document = {"type": delivery.event, "timestamp": delivery.created_at, "data": data}
    return json.loads(json.dumps(document, cls=JSONEncoder))


def claim(now, limit=BATCH):
    """Lease up to ``limit`` due deliveries whose run has no earlier unsent one for the same subscription."""
    free = Q(lease_until__isnull=True) | Q(lease_until__lt=now)
    earlier = Delivery.objects.filter(run=OuterRef("run"), subscription=OuterRef("subscription"),
                                      id__lt=OuterRef("id"), status__in=UNSENT)
    ids = list(Delivery.objects.filter(free, status__in=UNSENT, next_attempt_at__lte=now)
               .exclude(Exists(earlier)).order_by("next_attempt_at", "id").values_list("pk", flat=True)[:limit])
    if not ids:
        return []
    token = secrets.token_hex(16)
    Delivery.objects.filter(free, pk__in=ids, status__in=UNSENT).update(lease_token=token, lease_until=now + LEASE)
    claimed = list(Delivery.objects.filter(pk__in=ids, lease_token=token).select_related("subscription", "run__action"))
    for delivery in claimed:
        if delivery.payload is None:  # made once, so that every retry sends the same document
            delivery.payload = payload(delivery)
            Delivery.objects.filter(pk=delivery.pk).update(payload=delivery.payload)
    return claimed


def attempt(delivery, now):
    """POST ``delivery`` once (in a sending thread: no database here); returns a Received or a SendError."""
    # Keys sorted: the stored document comes back from PostgreSQL's jsonb in another order, and every retry
    # sends the same bytes.
    body = json.dumps(delivery.payload, separators=(",", ":"), sort_keys=True).encode()
    outbound = Outbound(
        "POST", delivery.subscription.url,
        headers=signing.headers(delivery.subscription.secret, delivery.webhook_id, int(now.timestamp()), body),
        body=body, connect_timeout=CONNECT_TIMEOUT, read_timeout=READ_TIMEOUT, max_bytes=ANSWER_BYTES,
    )
    try:
        return send(outbound)
    except SendError as exc:
        return exc


def conclude(delivery, result, now):
    """Write what the attempt got back, under the claim's lease: delivered, or when to try again, or given up."""
    redactor = definition_for(delivery.run.action).redactor
    changes = {"attempts": delivery.attempts + 1, "last_attempt_at": now, "lease_token": "", "lease_until": None}
    if isinstance(result, SendError):
        changes.update(last_status_code=None, last_answer="", last_error=redactor.text(str(result))[:2000])
    else:
        answer = result.body.decode("utf-8", "replace")
        changes.update(last_status_code=result.status, last_answer=redactor.text(answer)[:ANSWER_KEPT],
                       last_error="" if 200 <= result.status < 300 else f"The receiver answered {result.status}.")
    if not isinstance(result, SendError) and result.status == GONE:
        changes.update(status=DeliveryStatus.GIVEN_UP, next_attempt_at=None, last_error=GONE_ERROR)
        gone(delivery)
    elif changes["last_error"]:
        _down(delivery.subscription, changes["last_error"])
        next_at = min(now + backoff(changes["attempts"]), give_up_at(delivery))
        if now >= give_up_at(delivery):
            changes.update(status=DeliveryStatus.GIVEN_UP, next_attempt_at=None)
            log.warning("Webhook %s (%s of run %s) given up after %d attempts.", delivery.webhook_id,
                        delivery.event, delivery.run_id, changes["attempts"])
        else:
            changes.update(status=DeliveryStatus.FAILED, next_attempt_at=next_at)
    else:
        _up(delivery.subscription)
        changes.update(status=DeliveryStatus.DELIVERED, next_attempt_at=None, delivered_at=now)
    Delivery.objects.filter(pk=delivery.pk, lease_token=delivery.lease_token).update(**changes)


def gone(delivery):
    """Disable the subscription of ``delivery`` (its receiver answered 410) and give up its other unsent ones."""
    subscription = delivery.subscription
    Subscription.objects.filter(pk=subscription.pk).update(enabled=False)
    Delivery.objects.filter(subscription=subscription, status__in=UNSENT).exclude(pk=delivery.pk).update(
        status=DeliveryStatus.GIVEN_UP, next_attempt_at=None, last_error=GONE_ERROR)
    _failing.pop(subscription.pk, None)
    log.warning("Webhooks to %s (subscription %s) answered 410 Gone: the subscription is disabled.",
                subscription.name, subscription.pk)


def deliver_due(threads=1, limit=BATCH):
    """Claim the due deliveries (up to ``limit``), send them (``threads`` at once) and write what came back;
    returns how many."""
    claimed = claim(clock.now(), limit)
    if not claimed:
        return 0
    now = clock.now()
    results = _send_all(claimed, now, threads)
    for delivery, result in zip(claimed, results):
        conclude(delivery, result, clock.now())
    return len(claimed)


def _send_all(claimed, now, threads):
    """attempt() for each of ``claimed``, ``threads`` at a time, in daemon threads: a process that exits never
    waits for a receiver (concurrent.futures would join its threads at exit, past the stop grace)."""
    results = [None] * len(claimed)
    todo = iter(range(len(claimed)))
    lock = threading.Lock()

    def work():
        while True:
            with lock:
                index = next(todo, None)
            if index is None:
                return
            results[index] = attempt(claimed[index], now)

    if threads <= 1 or len(claimed) == 1:
        work()
        return results
    senders = [threading.Thread(target=work, name=f"webhook-{n}", daemon=True)
               for n in range(min(threads, len(claimed)))]
    for sender in senders:
        sender.start()
    for sender in senders:
        sender.join()
    return results


# Receivers that failed, by subscription id: (when it began, when last logged, failed attempts), so that one
# down for a day is logged once per LOG_EVERY, not once per attempt.
_failing = {}


def _down(subscription, error):
    now = time.monotonic()
    began, logged, failures = _failing.get(subscription.pk, (None, None, 0))
    if began is None:
        began = logged = now
        log.error("Webhooks to %s (subscription %s) failed: %s Trying again with backoff (logged once an hour "
                  "while it lasts).", subscription.name, subscription.pk, error)
    elif now - logged >= LOG_EVERY:
        logged = now
        log.error("Webhooks to %s (subscription %s) still failing after %.0f s (%d attempts): %s", subscription.name,
                  subscription.pk, now - began, failures + 1, error)
    _failing[subscription.pk] = (began, logged, failures + 1)


def _up(subscription):
    failed = _failing.pop(subscription.pk, None)
    if failed is not None:
        log.warning("Webhooks to %s (subscription %s) delivered again after %d failed attempts.", subscription.name,
                    subscription.pk, failed[2])


def redeliver(delivery):
    """Send ``delivery`` again now, with its webhook-id and payload (a receiver that has it dedups it)."""
    return Delivery.objects.filter(pk=delivery.pk).exclude(lease_until__gt=clock.now()).update(
        status=DeliveryStatus.PENDING, next_attempt_at=clock.now(), created_at=clock.now())


def deliver_forever(stop):
    """Deliver due webhooks until the threading.Event ``stop`` is set (the runworkers' webhooks thread).

    A database that is away is logged once a minute while it lasts; what was
    claimed and not written back is sent again when its lease lapses.
    """
    threads = settings.INTEGRATIONS_WEBHOOK_THREADS
    fault = Outage(log, "Delivering webhooks")
    waiter = wakeup.Waiter(look=IDLE)  # a new delivery goes within IDLE seconds, as before
    while not stop.is_set():
        try:
            close_old_connections()
            sent = deliver_due(threads, limit=max(BATCH, threads))
            # Nothing to send: sleep till the next delivery is due (a new one wakes it, runs.wakeup).
            slept = not sent and wakeup.sleep_while_idle(waiter, stop, next_due_in, IDLE_MAX, IDLE)
            fault.ok()
        except Exception as exc:  # the thread must outlive the database going away
            fault.failed(exc)
            if not isinstance(exc, DatabaseError):
                log.exception("Delivering webhooks")
            connection.close()
            waiter.close()
            stop.wait(FAULT_PAUSE)
            continue
        if not sent and not slept:
            stop.wait(IDLE)
    waiter.close()


def next_due_in():
    """Seconds until the next unsent delivery is due (negative: due already), None when there is none."""
    due = Delivery.objects.filter(status__in=UNSENT).aggregate(first=Min("next_attempt_at"))["first"]
    return None if due is None else (due - clock.now()).total_seconds()
