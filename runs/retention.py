"""Retention: the exchange log stays bounded, pruned by the cluster itself a small batch at a time.

Two rules, applied by ``retain_forever`` (a thread of ``manage.py runworkers``) and by
``manage.py prune_exchanges``:

1. The exchanges and kept files of runs finished longer ago than INTEGRATIONS_EXCHANGE_RETENTION_DAYS
   are removed.
2. A log keeps its first and its last INTEGRATIONS_EXCHANGES_KEPT_PER_RUN exchanges. Those between
   become one row of kind "pruned", in their place, saying how many they were and which attempts and
   times they spanned, so that one endless run cannot fill the disk. The run's last exchange (the one a
   repeated answer adds to, ``Run.last_exchange``) is never removed.
3. Webhook deliveries delivered longer ago than INTEGRATIONS_WEBHOOK_DELIVERY_RETENTION_DAYS are removed
   (failed, given up and pending ones stay: they are what someone has to look at).

A step reads which rows to remove from indexes, removes at most BATCH rows for each rule by id ranges
in SQL, and never loads a row: its memory does not grow with the log. Each run's rows go in a
transaction of their own, so on SQLite the engine's writes wait for it a few milliseconds at most.
"""

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.db.models import Case, F, IntegerField, Max, Q, Sum, Value, When
from django.db.models.functions import Coalesce

from . import clock
from .models import Exchange, ExchangeKind, Run, RunFile

log = logging.getLogger(__name__)

# Exchanges one step removes at most, for each rule.
BATCH = 1000
# Runs one step looks at, for each rule: a run whose log has nothing to remove costs an index probe.
RUNS_PER_STEP = 500
# Free SQLite pages handed back to the file system after a step (4 MiB of 4 KiB pages).
VACUUM_PAGES = 1024
# Seconds between steps while there is work, and while the database fails. When there is none, the
# next pass waits INTEGRATIONS_RETENTION_INTERVAL seconds.
BUSY_PAUSE = 1.0
FAULT_PAUSE = 10.0
# A pass looks again at runs that finished this long before the previous pass began, in case a
# worker's clock or a slow write-back put a finish time a little in the past.
FINISH_MARGIN = timedelta(minutes=5)


@dataclass
class Done:
    """What a step removed, and whether there is more to do now."""

    old: int = 0  # exchanges of runs finished before the retention
    middle: int = 0  # exchanges from the middle of long logs
    files: int = 0
    deliveries: int = 0  # webhook deliveries delivered before their retention
    more: bool = False


def remove_old_logs(run_ids, *, limit):
    """Remove up to ``limit`` exchanges of the runs ``run_ids``, and all their files; returns (exchanges, files)."""
    with transaction.atomic():
        # Each file row deleted removes its stored bytes once this commits (runs.models).
        files, _ = RunFile.objects.filter(run_id__in=run_ids).delete()
        # The database refuses to remove an exchange a run still points to.
        Run.objects.filter(pk__in=run_ids, last_exchange__isnull=False).update(last_exchange=None)
        marks = ", ".join(["%s"] * len(run_ids))
        removed = _delete_exchanges(
            f"{_qn('id')} IN (SELECT {_qn('id')} FROM {_table()} WHERE {_qn('run_id')} IN ({marks}) LIMIT %s)",
            [*run_ids, limit],
        )
    return removed, files


def prune_long_log(run_id, *, kept, limit):
    """Prune a run's log between its first and last ``kept`` exchanges, ``limit`` rows at most; returns how
    many exchanges were pruned.

    The first exchange after the first ``kept`` becomes (or already is) the row that stands for those
    pruned; one exchange alone between is left alone, as that row would take its place.
    """
    log_rows = Exchange.objects.filter(run_id=run_id)
    # Two probes of the (run, id) index: the newest row not among the last `kept`, and the last of the first.
    cut = _ids(log_rows.order_by("-id")[kept:kept + 1])
    if not cut:
        return 0
    head = _ids(log_rows.order_by("id")[kept - 1:kept]) if kept else [0]
    if cut[0] <= head[0]:
        return 0
    middle = log_rows.filter(id__gt=head[0], id__lte=cut[0])
    last_exchange = Run.objects.filter(pk=run_id).order_by().values_list("last_exchange_id", flat=True).first()
    if last_exchange is not None:
        middle = middle.exclude(id=last_exchange)
    with transaction.atomic():
        # Locked first, so that two clusters pruning the same log on PostgreSQL take turns and the
        # second counts what the first left.
        marker = middle.order_by("id").select_for_update().values("id", "kind", "pruned_count").first()
        if marker is None:
            return 0
        batch = middle.order_by("id")[:limit + 1]
        span = batch.aggregate(
            top=Max("id"),
            exchanges=Sum(Case(When(kind=ExchangeKind.PRUNED, then=F("pruned_count")), default=Value(1),
                                output_field=IntegerField())),
            last_attempt=Max(Coalesce("last_attempt", "attempt")),
            last_at=Max("last_at"),
        )
        already = marker["pruned_count"] if marker["kind"] == ExchangeKind.PRUNED else 0
        if span["top"] == marker["id"]:
            return 0  # it is alone between the first and the last
        keep = [marker["id"]] if last_exchange is None else [marker["id"], last_exchange]
        _delete_exchanges(
            f"{_qn('run_id')} = %s AND {_qn('id')} > %s AND {_qn('id')} <= %s "
            f"AND {_qn('id')} NOT IN ({', '.join(['%s'] * len(keep))})",
            [run_id, marker["id"], span["top"], *keep],
        )
        Exchange.objects.filter(pk=marker["id"]).update(
            kind=ExchangeKind.PRUNED, pruned_count=span["exchanges"], last_attempt=span["last_attempt"],
            last_at=span["last_at"], repeat_count=1, sent=True, method="", url="", request_headers={},
            request_body="", status_code=None, response_headers={}, response_body="", response_size=None,
            response_truncated=False, duration_ms=None, error="", failed_part="", decision="",
        )
    return span["exchanges"] - already


@dataclass
class Retention:
    """Walks over the runs whose logs retention shortens; each ``step()`` does a small part of the walk.

    Rule 1 walks the runs finished before the retention, oldest first, once: runs finishing later come
    after where it stands. Rule 2 walks, in passes, the runs whose log may have grown since the last
    pass: those not finished, then those that finished since it began (in the first pass, every run
    whose log is kept). Every walk reads the finish-time index (run_finished_idx) from where it stands.
    """

    days: int = field(default_factory=lambda: settings.INTEGRATIONS_EXCHANGE_RETENTION_DAYS)
    kept: int = field(default_factory=lambda: settings.INTEGRATIONS_EXCHANGES_KEPT_PER_RUN)
    old_after: tuple = None  # rule 1: (finished_at, id) of the last run whose log is gone
    unfinished_after: int = 0  # rule 2: the last run not finished whose log is short enough; None when past them
    finished_after: tuple = None  # rule 2: (finished_at, id) of the last finished run whose log is short enough
    finished_since: datetime = None  # rule 2: runs finished before this were shortened by an earlier pass
    pass_began: datetime = None  # set by the first step: making a Retention must not need the database

    def step(self):
        """Remove at most BATCH exchanges for each rule; returns Done."""
        now = clock.now()
        if self.pass_began is None:
            self.pass_began = now
        cutoff = now - timedelta(days=self.days)
        done = Done()
        old_more = self._old_logs(cutoff, done)
        long_more = self._long_logs(cutoff, now, done)
        done.deliveries = remove_delivered_webhooks(
            now - timedelta(days=settings.INTEGRATIONS_WEBHOOK_DELIVERY_RETENTION_DAYS), limit=BATCH)
        vacuum_more = _give_back_space() if done.old or done.middle or done.deliveries else False
        done.more = old_more or long_more or vacuum_more or done.deliveries == BATCH
        return done

    def finish(self):
        """Step until there is nothing left to do now; returns the sum of the steps."""
        total = Done(more=True)
        while total.more:
            done = self.step()
            total = Done(total.old + done.old, total.middle + done.middle, total.files + done.files,
                         total.deliveries + done.deliveries, done.more)
        return total

    def _old_logs(self, cutoff, done):
        chunk = _finished_runs(Run.objects.filter(finished_at__lt=cutoff), after=self.old_after)
        if not chunk:
            return False
        done.old, done.files = remove_old_logs([pk for pk, _ in chunk], limit=BATCH)
        if done.old < BATCH:  # every log of the chunk is gone
            pk, finished_at = chunk[-1]
            self.old_after = (finished_at, pk)
        return True

    def _long_logs(self, cutoff, now, done):
        if self.unfinished_after is not None:
            chunk = list(Run.objects.filter(finished_at__isnull=True, pk__gt=self.unfinished_after)
                         .order_by("pk").values_list("pk", flat=True)[:RUNS_PER_STEP])
            for pk in chunk:
                if not self._prune(pk, done):
                    return True  # this log may be longer still: the next step begins with it
                self.unfinished_after = pk
            if len(chunk) < RUNS_PER_STEP:
                self.unfinished_after = None
            return True
        chunk = _finished_runs(Run.objects.filter(finished_at__gte=self.finished_since or cutoff),
                               after=self.finished_after)
        for pk, finished_at in chunk:
            if not self._prune(pk, done):
                return True
            self.finished_after = (finished_at, pk)
        if len(chunk) == RUNS_PER_STEP:
            return True
        self.unfinished_after, self.finished_after = 0, None
        self.finished_since, self.pass_began = self.pass_began - FINISH_MARGIN, now
        return False

    def _prune(self, run_id, done):
        """Prune one long log within what is left of the step's batch; False if the batch ran out."""
        done.middle += prune_long_log(run_id, kept=self.kept, limit=BATCH - done.middle)
        return done.middle < BATCH


def remove_delivered_webhooks(cutoff, *, limit):
    """Remove up to ``limit`` webhook deliveries delivered before ``cutoff`` (read from the partial index
    delivery_delivered_idx); returns how many."""
    from webhooks.models import Delivery, DeliveryStatus  # webhooks depends on runs, not the other way

    ids = list(Delivery.objects.filter(status=DeliveryStatus.DELIVERED, delivered_at__lt=cutoff)
               .order_by("delivered_at").values_list("pk", flat=True)[:limit])
    if not ids:
        return 0
    return Delivery.objects.filter(pk__in=ids).delete()[0]


def _finished_runs(runs, *, after):
    """The next RUNS_PER_STEP of ``runs`` as (id, finished_at), in the order of the finish-time index."""
    if after:
        finished_at, pk = after
        runs = runs.filter(Q(finished_at__gt=finished_at) | Q(finished_at=finished_at, pk__gt=pk))
    return list(runs.order_by("finished_at", "pk").values_list("pk", "finished_at")[:RUNS_PER_STEP])


def retain_forever(stop):
    """Apply retention until the threading.Event ``stop`` is set.

    A step every BUSY_PAUSE seconds while there is work, the next pass INTEGRATIONS_RETENTION_INTERVAL
    seconds after one that found nothing more to do. A
    fault (the database is away) is logged once, and once more when it is over; meanwhile it tries
    again every FAULT_PAUSE seconds.
    """
    retention = Retention()
    fault = None
    while not stop.is_set():
        try:
            done = retention.step()
        except Exception as exc:  # the thread must outlive the database going away
            if fault is None:
                # A fault of ours (not the database's) deserves its traceback, once.
                log.warning("Retention paused: %s: %s", exc.__class__.__name__, exc,
                            exc_info=not isinstance(exc, DatabaseError))
            fault = exc
            connection.close()
            stop.wait(FAULT_PAUSE)
            continue
        if fault is not None:
            log.warning("Retention resumed.")
            fault = None
        if done.old or done.middle:
            log.info("Retention removed %d exchanges of old runs and %d from long logs.", done.old, done.middle)
        if done.deliveries:
            log.info("Retention removed %d delivered webhook deliveries.", done.deliveries)
        stop.wait(BUSY_PAUSE if done.more else settings.INTEGRATIONS_RETENTION_INTERVAL)


def _give_back_space():
    """On SQLite with incremental auto-vacuum, hand up to VACUUM_PAGES free pages back; True if more remain."""
    if connection.vendor != "sqlite":
        return False  # PostgreSQL's autovacuum makes the space reusable by itself
    if connection.in_atomic_block:
        return False  # executescript below would commit the caller's transaction
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA auto_vacuum")
        if cursor.fetchone()[0] != 2:  # INCREMENTAL; freed pages are still reused by later writes
            return False
        cursor.execute("PRAGMA freelist_count")
        free = cursor.fetchone()[0]
    if free:
        # Python's sqlite3 steps a statement that returns no rows only once, which frees one page:
        # executescript runs it to the end.
        connection.connection.executescript(f"PRAGMA incremental_vacuum({min(free, VACUUM_PAGES)})")
    return free > VACUUM_PAGES


def _ids(queryset):
    return list(queryset.values_list("id", flat=True))


def _qn(name):
    return connection.ops.quote_name(name)


def _table():
    return _qn(Exchange._meta.db_table)


def _delete_exchanges(where, params):
    """DELETE in SQL: Django's delete() would first load every row (and its bodies) to null Run.last_exchange."""
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {_table()} WHERE {where}", params)
        return cursor.rowcount
