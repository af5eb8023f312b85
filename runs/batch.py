"""A batch of due runs: take their leases over, send, and write each decision back as it comes.

The dispatcher leases due runs under a claim token and queues one task per
batch; the task calls ``process``:

1. load the runs still claimed under the token, and their definitions;
2. decide for each what it does (``due_work.prepare``): most send a request,
   some end without one (timed out, skipped in rehearsal);
3. wait for room in this process's send pool, then take the claim over in one
   conditional UPDATE per kind of run: the attempt is counted, the run marked
   in flight and leased for its own timeouts, all before anything is sent;
4. send each request in the pool; each answer is judged (``due_work.conclude``)
   and written back on its own, so no run waits for another run's service.

In a cluster's worker process the task returns once its requests are out: the
pool keeps sending while the worker takes the next task, and a writer thread
writes decisions back in small groups, waiting out a database that is down
(an answer is never dropped because the database blinked). When the worker
process ends (recycled or stopped) it finishes what is in flight first, up to
the group's stop deadline (runs.lifecycle); a batch that arrives while the
group stops gives its runs back unsent. In django-q2's synchronous mode
(tests) the task waits and writes back itself.
"""

import logging
import multiprocessing
import multiprocessing.util
import os
import queue
import secrets
import threading
import time
from dataclasses import dataclass, replace
from datetime import timedelta

from django.conf import settings
from django.db import InterfaceError, OperationalError, close_old_connections, connection, transaction
from django.db.models import Exists, F

from . import clock, due_work, events, files, heartbeats, lifecycle, metrics, oauth, scheduling, tallies
from .definitions import definitions_for
from .exchange_log import exchange
from .http import SendError, send
from .models import CHAIN_GOES_ON, FINISHED, WORKING, Exchange, ExchangeKind, FailedPart, Heartbeat, Run, RunFile, Status
from .outages import Outage
from .outbound import with_access_token

log = logging.getLogger(__name__)

# How long a decision waits for others to be written back with it.
GATHER = 0.02


@dataclass
class Done:
    """A decision ready to be written back, with the lease token it is written under."""

    decision: due_work.Decision
    token: str
    redactor: object


# --- the batch -----------------------------------------------------------------------------


def process(run_ids, claim_token, *, wait):
    """Do the due work of the runs in ``run_ids`` still claimed under ``claim_token``; returns how many.

    ``wait``: write every decision back before returning (django-q2's
    synchronous mode); otherwise hand the requests to this process's pool.
    """
    if lifecycle.stopping():
        _give_back(run_ids, claim_token)
        return 0
    now = clock.now()
    runs = list(Run.objects.filter(pk__in=run_ids, lease_token=claim_token))
    if not runs:
        return 0
    definitions = definitions_for(runs)
    sends, finished = [], []
    for run in runs:
        definition = definitions[run.action_id]
        run.action = definition.action
        try:
            uploads = files.available_files(run) if definition.action.files and run.status in (
                Status.PENDING, Status.RUNNING) else None
            planned = due_work.prepare(run, definition, now, uploads)
        except Exception as exc:  # our fault, not the batch's: this run fails and says why
            planned = due_work.internal_failure(run, definition, exc, "preparing the request", now)
        if isinstance(planned, due_work.Send):
            sends.append((run, definition, planned))
        else:
            finished.append(Done(planned, claim_token, definition.redactor))
    if finished:
        write_back(finished)

    pool = sender()
    stored = oauth.stored_tokens({d.integration.pk for _, d, s in sends if s.oauth is not None}) if sends else {}
    results = queue.SimpleQueue() if wait else None
    pending = list(sends)
    submitted = 0
    while pending:
        room = pool.reserve(len(pending))
        if lifecycle.stopping():  # these were never sent: others may take them at once
            pool.release(room)
            _give_back([run.pk for run, _, _ in pending], claim_token)
            break
        chunk, pending = pending[:room], pending[room:]
        taken, work_token = take_over(chunk, claim_token, clock.now())
        pool.release(room - len(taken))
        for run, definition, planned in chunk:
            if run.pk not in taken:
                continue
            run.attempt += 1
            run.polls += 1 if planned.counts_as_poll else 0
            job = (run, definition, planned, stored.get(definition.integration.pk))
            pool.submit(job, work_token, results if wait else None)
            submitted += 1
    handled = len(finished) + submitted
    while wait and submitted:
        # Each decision is written as soon as it comes, with any that came meanwhile.
        done = [results.get()]
        while True:
            try:
                done.append(results.get_nowait())
            except queue.Empty:
                break
        write_back(done)
        submitted -= len(done)
    return handled


def _give_back(run_ids, claim_token):
    from .dispatch import release

    release(run_ids, claim_token)


def take_over(sends, claim_token, now):
    """Lease the claimed runs of ``sends`` for sending, counting the attempt first; returns (ids taken, token).

    One conditional UPDATE per kind of run (lease length, whether the request
    counts as a poll, the status while it is out); a run claimed again by
    someone else meanwhile is left alone. Inside a cluster the UPDATE also
    requires this cluster's own heartbeat to be fresh, so a cluster others may
    already think dead never starts a request.
    """
    work_token = secrets.token_hex(16)
    me = heartbeats.holder()
    groups = {}
    for run, definition, planned in sends:
        outbound = planned.outbound
        lease = scheduling.lease_seconds(outbound.connect_timeout, outbound.read_timeout,
                                         token_call=planned.oauth is not None)
        groups.setdefault((lease, planned.counts_as_poll, planned.status), []).append(run.pk)
    taken = set()
    for (lease, counts_as_poll, status), ids in groups.items():
        rows = Run.objects.filter(pk__in=ids, lease_token=claim_token)
        if me:
            fresh = now - timedelta(seconds=heartbeats.STALE - heartbeats.FENCE_MARGIN)
            rows = rows.filter(Exists(Heartbeat.objects.filter(holder=me, seen_at__gte=fresh)))
        changes = {
            "lease_token": work_token,
            "lease_holder": me,
            "lease_until": now + timedelta(seconds=lease),
            "attempt": F("attempt") + 1,
            "in_flight": True,
            "status": status,
        }
        if counts_as_poll:
            changes["polls"] = F("polls") + 1
        if rows.update(**changes) == len(ids):
            taken.update(ids)
        else:
            taken.update(Run.objects.filter(pk__in=ids, lease_token=work_token).values_list("pk", flat=True))
    return taken, work_token


@dataclass
class Delivery:
    """A request as sent (with its OAuth token) and what came back: a Received or a SendError."""

    outbound: object
    result: object
    duration: float
    token_rows: list
    new_token: tuple | None


def deliver(run, definition, outbound, oauth_values, stored):
    """Send ``outbound``, first adding an OAuth token when the integration uses one (fetched if need be).

    ``oauth_values``: the authentication fields, filled (None: no OAuth);
    ``stored``: the token the batch found in the database. A token that
    cannot be had is this request's error: a failed token call never reached
    the service; a token URL that answers without a token fails the run.
    """
    token_calls, new_token = [], None
    if oauth_values is not None:
        try:
            access, expires_at, fetched = oauth.access_token(
                definition, oauth_values, stored, lambda token_request: _fetch(token_request, token_calls)
            )
        except oauth.TokenError as exc:
            error = SendError("auth", str(exc), reached=False)
            return Delivery(outbound, error, 0.0, _token_rows(run, definition, token_calls, "No access token."), None)
        except SendError as exc:
            error = SendError(exc.kind, f"The OAuth token request failed: {exc}", reached=False)
            return Delivery(outbound, error, 0.0, _token_rows(run, definition, token_calls, ""), None)
        outbound = with_access_token(outbound, access)
        if fetched:
            new_token = (definition.integration.pk, access, expires_at)
    result, duration = timed_send(outbound)
    return Delivery(outbound, result, duration, _token_rows(run, definition, token_calls, "Token received."), new_token)


def work(job):
    """Send one run's request and judge the answer (in a pool thread: no database here)."""
    run, definition, planned, stored = job
    try:
        delivery = deliver(run, definition, planned.outbound, planned.oauth, stored)
        metrics.request_sent(planned.kind, delivery.result)
        planned = replace(planned, outbound=delivery.outbound)
        decision = due_work.conclude(run, definition, planned, delivery.result, now=clock.estimate(),
                                     duration=delivery.duration)
        decision.exchanges[:0] = delivery.token_rows
        decision.new_token = delivery.new_token
        result = delivery.result
        if planned.oauth is not None and not isinstance(result, SendError) and result.status == 401:
            # A revoked token would fail every request until it expires: the next one fetches a new token.
            decision.refused_token = definition.integration.pk
        return decision
    except Exception as exc:
        return due_work.internal_failure(run, definition, exc, "sending the request or judging its answer",
                                         clock.estimate())
    finally:
        if connection.connection is not None:
            # Only an OAuth sign-in refresh (runs.oauth) opens one here: a sender thread keeps no connection.
            connection.close()


def timed_send(outbound):
    """send() and how long it took, also when it failed: (Received or SendError, seconds)."""
    started = time.monotonic()
    try:
        result = send(outbound)
    except SendError as exc:
        result = exc
    return result, time.monotonic() - started


def _fetch(token_request, token_calls):
    result, duration = timed_send(token_request)
    token_calls.append((token_request, result, duration, clock.estimate()))
    if isinstance(result, SendError):
        raise result
    return result


def _token_rows(run, definition, token_calls, decision):
    """The token calls as exchange rows, made once the token is known so that it is masked in them."""
    rows = []
    for token_request, result, duration, at in token_calls:
        failed = isinstance(result, SendError)
        rows.append(exchange(
            run, ExchangeKind.OAUTH_TOKEN, at=at, redactor=definition.redactor, outbound=token_request,
            received=None if failed else result, error=str(result) if failed else "", duration=duration,
            failed=FailedPart.REQUEST if failed else "", decision="" if failed else decision,
        ))
    return rows


def write_exchanges(rows):
    Exchange.objects.bulk_create(rows)


def keep_token(delivery):
    """Share a token fetched outside a batch (a cancel webhook's) with other processes."""
    if delivery.new_token:
        oauth.store(*delivery.new_token)


# --- writing decisions back -------------------------------------------------------------------


def write_back(done):
    """Save decisions: their exchange rows, repeat counts and run columns, each run only while still
    leased under its token. One transaction for all; if the database refuses something in it, each run on
    its own, and a run whose decision it refuses fails with the reason instead. A database that cannot be
    reached raises, so the caller can try again.

    Kept files are written to storage first, outside the transaction, and
    removed again for every decision that is not saved (or whose run was
    taken by another worker meanwhile).
    """
    stored = _store_files(done)
    try:
        try:
            with transaction.atomic():
                kept = _write(done, stored)
            saved = done
        except (OperationalError, InterfaceError):
            raise
        except Exception:
            saved, kept = [], set()
            for item in done:
                try:
                    with transaction.atomic():
                        kept |= _write([item], stored)
                    saved.append(item)
                except (OperationalError, InterfaceError):
                    raise
                except Exception as exc:
                    _write_failure(item, exc)
    except BaseException:
        files.discard(row for rows in stored.values() for row in rows)
        raise
    files.discard(row for rows in stored.values() for row in rows if row.file.name not in kept)
    _after_write(saved)


def _store_files(done):
    """{id(decision): [unsaved RunFile]}: the bytes of every file the decisions keep, written to storage."""
    stored = {}
    try:
        for item in done:
            for kept in item.decision.files:
                stored.setdefault(id(item.decision), []).append(files.store(item.decision.run_id, kept))
    except BaseException:
        files.discard(row for rows in stored.values() for row in rows)
        raise
    return stored


def _save_files(done, stored):
    """Add the file rows of the decisions whose runs are still leased under their tokens (a file of the same
    name is replaced); returns the storage names of the files saved."""
    items = [item for item in done if stored.get(id(item.decision))]
    if not items:
        return set()
    held = set(Run.objects.select_for_update().filter(
        pk__in=[item.decision.run_id for item in items],
        lease_token__in=[item.token for item in items],
    ).values_list("pk", "lease_token"))
    rows = [row for item in items if (item.decision.run_id, item.token) in held for row in stored[id(item.decision)]]
    for row in rows:
        RunFile.objects.filter(run_id=row.run_id, name=row.name).delete()
    RunFile.objects.bulk_create(rows)
    return {row.file.name for row in rows}


def _write(done, stored):
    """Write ``done`` back; returns the storage names of the files saved with it."""
    from .services import go_on_many

    kept = _save_files(done, stored)
    rows = [row for item in done for row in item.decision.exchanges]
    if rows:
        Exchange.objects.bulk_create(rows)
    events.record_decisions(done)
    qn = connection.ops.quote_name
    repeats = [(item.decision.repeat[2], item.decision.repeat[1], item.decision.repeat[0])
               for item in done if item.decision.repeat]
    with connection.cursor() as cursor:
        if repeats:
            last_at = Exchange._meta.get_field("last_at")
            cursor.executemany(
                f"UPDATE {qn(Exchange._meta.db_table)} SET {qn('repeat_count')} = {qn('repeat_count')} + 1, "
                f"{qn('last_at')} = %s, {qn('last_attempt')} = %s WHERE {qn('id')} = %s",
                [(last_at.get_db_prep_save(at, connection), attempt, pk) for at, attempt, pk in repeats],
            )
        groups, ending = {}, []
        for item in done:
            changes = {**item.decision.changes(), "lease_token": "", "lease_holder": "", "lease_until": None,
                       "in_flight": False}
            if item.decision.status in FINISHED:
                ending.append((item.decision.run_id, item.token, changes))
            else:
                groups.setdefault(tuple(changes), []).append((item.decision.run_id, item.token, changes))
        # The runs that end: locked (PostgreSQL; SQLite's IMMEDIATE transaction holds the write lock already)
        # where still working under their tokens, so the updates below end exactly those, and only those go
        # on into their chains' next runs and count in their tallies. A few statements for any number of
        # runs: a burst of finishing runs must not queue behind a round trip or two per run.
        decisions = {item.decision.run_id: item.decision for item in done}
        held = set()
        if ending:
            held = set(Run.objects.select_for_update().filter(
                pk__in=[pk for pk, _, _ in ending], lease_token__in={token for _, token, _ in ending},
                status__in=WORKING,
            ).order_by("pk").values_list("pk", "lease_token"))
        ended, going_on, finishing = [], [], {}
        for pk, token, changes in ending:
            if (pk, token) not in held:  # ended before (its lease is dropped below), or taken by another worker
                groups.setdefault(tuple(changes), []).append((pk, token, changes))
                continue
            finishing.setdefault(tuple(changes), []).append((pk, token, changes))
            decision = decisions[pk]
            ended.append(tallies.Ended(decision.action_id, decision.integration_id, decision.status,
                                       decision.cause, decision.started_at or decision.created_at,
                                       decision.finished_at))
            if decision.status in CHAIN_GOES_ON:
                going_on.append(pk)
        _update_many(cursor, finishing)
        go_on_many(going_on)
        tallies.record(ended)
        _update_many(cursor, groups)
    return kept


def _update_many(cursor, groups):
    """Write {column names: [(run id, lease token, changes)]}, each run only while leased under its token.

    The ORM's update() compiles a query per run, which costs more CPU than the
    poll: the statement is compiled once per set of columns and sent with
    executemany (psycopg sends the rows in one pipeline).
    """
    qn = connection.ops.quote_name
    for names, items in groups.items():
        fields = [Run._meta.get_field(name) for name in names]
        columns = ", ".join(f"{qn(field.column)} = %s" for field in fields)
        cursor.executemany(
            f"UPDATE {qn(Run._meta.db_table)} SET {columns} WHERE {qn('id')} = %s AND {qn('lease_token')} = %s",
            [[_db_value(field, changes[field.name]) for field in fields] + [pk, token]
             for pk, token, changes in items],
        )


def _after_write(done):
    """What follows a saved decision: tokens shared with other processes, callbacks that came early."""
    from .services import evaluate_early_callbacks

    for item in done:
        decision = item.decision
        try:
            if decision.new_token:
                oauth.store(*decision.new_token)
            if decision.refused_token:
                oauth.forget(decision.refused_token)
            if decision.status == Status.WAITING_CALLBACK and any(
                row.kind == ExchangeKind.REQUEST for row in decision.exchanges
            ):
                evaluate_early_callbacks(decision.run_id)
        except Exception as exc:
            log.error("After saving run %s: %s", decision.run_id, item.redactor.text(f"{exc.__class__.__name__}: {exc}"))


def _write_failure(item, exc):
    """The database refused a decision (a value it cannot store): the run fails and says so."""
    decision, redactor = item.decision, item.redactor
    message = redactor.text(f"{exc.__class__.__name__}: {exc}")
    log.error("Run %s: its decision could not be saved: %s", decision.run_id, message)
    with transaction.atomic():
        now = clock.now()
        failed = Run.objects.filter(pk=decision.run_id, lease_token=item.token, status__in=WORKING).update(
            status=Status.FAILED, reason=f"The result could not be saved: {message}"[:2000], finished_at=now,
            cause="internal", next_poll_at=None, lease_token="", lease_holder="", lease_until=None, in_flight=False,
        )
        events.record([(decision.run_id, Status.FAILED)] if failed else [])
        if failed:
            tallies.record([tallies.ended(Run.objects.get(pk=decision.run_id))])
        if failed and decision.exchanges:
            # The log keeps the exchange, without what the database refused (its headers and bodies).
            last = decision.exchanges[-1]
            Exchange.objects.create(
                run_id=decision.run_id, kind=last.kind, attempt=last.attempt, sent=last.sent, method=last.method,
                url=last.url, status_code=last.status_code, created_at=last.created_at, last_at=last.last_at,
                duration_ms=last.duration_ms, failed_part=FailedPart.RESPONSE,
                error=f"The answer could not be saved: {message}"[:2000],
                decision="Not saved: the database refused it; the run fails.",
            )


_PLAIN = {"CharField", "TextField", "IntegerField", "PositiveIntegerField", "BooleanField"}


def _db_value(field, value):
    if value is None or isinstance(value, (str, int)) and field.get_internal_type() in _PLAIN:
        return value
    if field.is_relation and hasattr(value, "pk"):
        value = value.pk
    return field.get_db_prep_save(value, connection)


# --- this process's send pool --------------------------------------------------------------------


class Sender:
    """Threads that send requests, up to INTEGRATIONS_SEND_THREADS at once (made as they are needed).

    In a worker process, decisions go to a writer thread that writes them
    back in small groups; the senders and the writer finish their work before
    the process exits.
    """

    def __init__(self, capacity):
        self.room = threading.Semaphore(capacity)
        self.jobs = queue.SimpleQueue()
        self.written = queue.SimpleQueue()
        self.senders = []
        self.busy = 0
        self.writer = None
        self.lock = threading.Lock()
        self.outage = Outage(log, "Writing answers back")

    def reserve(self, wanted):
        """Wait for room for at least one request; take room for up to ``wanted``. Returns how many."""
        self.room.acquire()
        taken = 1
        while taken < wanted and self.room.acquire(blocking=False):
            taken += 1
        return taken

    def release(self, count):
        for _ in range(count):
            self.room.release()

    def submit(self, job, token, results=None):
        """Send ``job`` (room reserved for it); its Done goes to ``results`` or, when None, to the writer."""
        if results is None:
            self._start_writer()
        with self.lock:
            self.busy += 1
            if self.busy > len(self.senders):
                sender = threading.Thread(target=self._send_forever, name=f"send-{len(self.senders)}", daemon=True)
                sender.start()
                self.senders.append(sender)
        self.jobs.put((job, token, results))

    def _send_forever(self):
        while True:
            item = self.jobs.get()
            if item is None:
                return
            job, token, results = item
            decision = work(job)
            (results if results is not None else self.written).put(Done(decision, token, job[1].redactor))
            with self.lock:
                self.busy -= 1
            self.room.release()

    def _start_writer(self):
        if self.writer is None:
            with self.lock:
                if self.writer is None:
                    self.writer = threading.Thread(target=self._write_forever, name="write-back", daemon=True)
                    self.writer.start()

    def _write_forever(self):
        """Write decisions back as they come, a few at a time: each waits at most GATHER seconds for others
        that arrive with it, so that one transaction saves them all (a transaction per poll would cost more
        than the poll)."""
        while True:
            item = self.written.get()
            if item is None:
                return
            items, stop = [item], False
            gather_until = time.monotonic() + GATHER
            while len(items) < 500:
                wait = gather_until - time.monotonic()
                try:
                    more = self.written.get(timeout=wait) if wait > 0 else self.written.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stop = True
                    break
                items.append(more)
            self._write_until_saved(items)
            if stop:
                return

    def _write_until_saved(self, items):
        """Write ``items`` back, trying again (at least every second) for as long as the database is down:
        their runs stay leased to this cluster meanwhile (runs.heartbeats), so nothing is lost or sent
        twice. Only a group stopping past its deadline gives up, and then the runs are taken over as
        interrupted."""
        delay = 0.0
        while True:
            try:
                close_old_connections()
                write_back(items)
                self.outage.ok()
                return
            except Exception as exc:  # the database went away: keep the decisions and try again
                self.outage.failed(exc)
            if lifecycle.remaining() == 0:
                log.error("Stopping: %d answers could not be written back; their runs will be taken over as "
                          "interrupted.", len(items))
                return
            delay = min(delay * 2 or 0.1, 1.0)
            time.sleep(delay)

    def drain(self):
        """Finish what is in flight and write it back, then stop (the process is ending); when the group is
        stopping, only until its deadline."""
        for _ in self.senders:
            self.jobs.put(None)
        for sender in self.senders:
            sender.join(timeout=lifecycle.remaining(margin=1.5))
        if self.writer is not None:
            self.written.put(None)
            self.writer.join(timeout=lifecycle.remaining(margin=0.5))


_sender = None
_sender_pid = None


def sender():
    """This process's Sender, made on first use (after a fork, anew)."""
    global _sender, _sender_pid
    if _sender is None or _sender_pid != os.getpid():
        _sender = Sender(settings.INTEGRATIONS_SEND_THREADS)
        _sender_pid = os.getpid()
        if multiprocessing.parent_process() is not None:
            # A worker process ends through multiprocessing, which runs these finalizers first.
            multiprocessing.util.Finalize(_sender, _sender.drain, exitpriority=100)
    return _sender

