"""The run engine: start a run, do its due work (request, poll, time-out), take
callbacks, cancel and refire. Plain functions; the admin, the API, the
django-q2 tasks and the commands all call these.

Due work is found in the database (``Run.next_poll_at``), claimed with a
lease (``dispatch.claim_due``) and done here in batches: the lease is taken
over and the attempt counted in one conditional UPDATE before anything is
sent, so two workers never send for one run and a crashed attempt is never
sent again under the same number.
"""

import functools
import hashlib
import logging
import random
import secrets
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from email.utils import parsedate_to_datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, models, transaction
from django.db.models import Case, F, PositiveIntegerField, When
from django.utils import timezone

from integrations.models import AuthType, Backoff, ErrorPolicy, Outcome, PollingMode
from integrations.templating import UnknownPlaceholder

from . import oauth
from .definitions import definition_for, definitions_for
from .evaluation import mapped_fields, read_answer, stop_decision, unmet_conditions
from .http import SendError, send
from .models import ACTIVE, REFIREABLE, Exchange, ExchangeKind, FailedPart, Run, Status
from .outbound import build, cancel_part, context_for, poll_part, request_part
from .redaction import MASK

log = logging.getLogger(__name__)

_senders = None


class RunRefused(Exception):
    """The run cannot be started, cancelled or refired; the message says why."""


# --- status moves -----------------------------------------------------------------


def transition(run, status, reason="", *, now=None):
    """Move ``run`` (in memory) to ``status``; refuse a move the status chart does not allow."""
    run.check_transition(status)
    now = now or timezone.now()
    run.status = status
    if reason:
        run.reason = reason
    if status == Status.RUNNING and not run.started_at:
        run.started_at = now
    if status not in ACTIVE:
        run.finished_at = now
        run.next_poll_at = None
    return run


# --- starting -------------------------------------------------------------------


def start_run(action, variables=None, *, rehearsal=False, user=None, refired_from=None, previous_run=None):
    """Create a run of ``action``; its first request is sent by a worker as soon as it is due.

    Raises ValidationError when the variables do not fit, RunRefused when the
    action cannot run. Nothing is sent before both checks pass.
    """
    if action.integration.archived:
        raise RunRefused(f"The integration {action.integration} is archived: its actions cannot run.")
    variables = action.validate_variables(variables)
    now = timezone.now()
    start_at = max(now, action.fixed_start_time) if action.fixed_start_time else now
    run = Run(
        action=action,
        integration=action.integration,
        variables=variables,
        rehearsal=rehearsal,
        created_by=user,
        refired_from=refired_from,
        previous_run=previous_run,
        fields=dict(previous_run.fields) if previous_run else {},
        next_poll_at=start_at,
    )
    try:
        build(definition_for(action), run, request_part(action))
    except UnknownPlaceholder as exc:
        raise ValidationError({"variables": str(exc)}) from None
    run.save()
    return run


def refire(run, variables=None, *, user=None):
    """A new run with the same inputs (or ``variables`` edited by the person refiring), linked to ``run``."""
    if run.status not in REFIREABLE:
        raise RunRefused(f"Only failed, timed-out or cancelled runs can be refired; this one is {run.get_status_display().lower()}.")
    return start_run(
        run.action,
        run.variables if variables is None else variables,
        rehearsal=run.rehearsal,
        user=user,
        refired_from=run,
        previous_run=run.previous_run,
    )


# --- cancelling -------------------------------------------------------------------


def cancel(run, *, user=None):
    """Cancel an active run of a cancelable action, then call its cancel webhook if it has one."""
    if not run.action.cancelable:
        raise RunRefused(f"Runs of {run.action.name} cannot be cancelled (the action is not cancelable).")
    with transaction.atomic():
        run = Run.objects.select_for_update().select_related("action", "integration").get(pk=run.pk)
        if run.status not in ACTIVE:
            raise RunRefused(f"The run is already {run.get_status_display().lower()}.")
        who = f" by {user}" if user else ""
        transition(run, Status.CANCELLED, f"Cancelled{who}.")
        # Dropping the lease makes an in-flight worker's write a no-op.
        run.lease_token, run.lease_until = "", None
        run.save(update_fields=["status", "reason", "finished_at", "next_poll_at", "lease_token", "lease_until"])
    if run.action.cancel_webhook_url:
        definition = definition_for(run.action, run.integration)
        step = Step(run, definition, timezone.now())
        step.send_now(ExchangeKind.CANCEL_WEBHOOK, cancel_part(run.action))
        Exchange.objects.bulk_create(step.logged())
    return run


# --- callbacks --------------------------------------------------------------------


class CallbackRefused(Exception):
    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


def handle_callback(token, body, headers):
    """Evaluate a callback posted to a run: its stop conditions decide; no match keeps it waiting."""
    with transaction.atomic():
        run = (
            Run.objects.select_for_update()
            .select_related("action", "integration")
            .filter(callback_token=token)
            .first()
        )
        if run is None:
            raise CallbackRefused(404, "No run has this callback token.")
        if run.status not in ACTIVE:
            raise CallbackRefused(409, f"The run is already {run.get_status_display().lower()}.")
        if run.action.polling_mode != PollingMode.CALLBACK:
            raise CallbackRefused(409, "This run does not wait for callbacks: its action does not use them.")
        definition = definition_for(run.action, run.integration)
        now = timezone.now()
        step = Step(run, definition, now)
        exchange = step.record(ExchangeKind.CALLBACK, incoming=(headers, body))
        if run.status == Status.WAITING_CALLBACK:
            step.evaluate_callback(exchange)
            changes = step.changes()
            Exchange.objects.bulk_create(step.logged())
            Run.objects.filter(pk=run.pk).update(**changes)
        else:
            # The service answered before our request finished: kept, and
            # evaluated by the worker once the run waits for callbacks.
            exchange.decision = "Arrived before the request finished; evaluated once the run waits for callbacks."
            Exchange.objects.bulk_create(step.logged())
    return run


# --- due work -------------------------------------------------------------------------


def senders():
    """Threads that send a batch's requests at once, so one slow service does not hold the rest."""
    global _senders
    if _senders is None:
        _senders = ThreadPoolExecutor(max_workers=settings.INTEGRATIONS_SEND_THREADS, thread_name_prefix="send")
    return _senders


def process_batch(run_ids, token):
    """Do the due work of the runs in ``run_ids`` that are still leased under ``token``."""
    now = timezone.now()
    work_token = secrets.token_hex(16)
    runs = list(Run.objects.filter(pk__in=run_ids, lease_token=token, lease_until__gt=now))
    if not runs:
        return 0
    definitions = definitions_for(runs)
    for run in runs:
        run.action = definitions[run.action_id].action
    longest = max(run.action.connect_timeout + run.action.read_timeout for run in runs)
    lease_until = now + timedelta(seconds=2 * longest + settings.INTEGRATIONS_LEASE_SECONDS)
    # Take the lease over and count the poll before sending: a worker that
    # dies from here on leaves an attempt number that is never sent again.
    Run.objects.filter(pk__in=[run.pk for run in runs], lease_token=token, lease_until__gt=now).update(
        lease_token=work_token,
        lease_until=lease_until,
        attempt=Case(
            When(status=Status.POLLING, then=F("attempt") + 1),
            default=F("attempt"),
            output_field=PositiveIntegerField(),
        ),
    )
    taken = set(Run.objects.filter(pk__in=[run.pk for run in runs], lease_token=work_token).values_list("pk", flat=True))
    steps = []
    for run in runs:
        if run.pk not in taken:
            continue
        if run.status == Status.POLLING:
            run.attempt += 1
        steps.append(Step(run, definitions[run.action_id], now))

    for step in steps:
        step.prepare()
    futures = [(step, senders().submit(send, step.outbound)) for step in steps if step.outbound]
    for step, future in futures:
        try:
            step.received = future.result()
        except SendError as exc:
            step.send_error = exc
    for step in steps:
        try:
            step.conclude()
        except Exception as exc:  # a bug must end the run in words, not leave it leased
            log.exception("Run %s failed in the engine", step.run.pk)
            if step.run.status in ACTIVE:  # a run the error struck after it finished keeps its outcome
                step.finish(Status.FAILED, f"Internal error while handling the response: {exc.__class__.__name__}: {exc}")

    with transaction.atomic():
        Exchange.objects.bulk_create([exchange for step in steps for exchange in step.logged()])
        _write_back(steps, work_token)
    return len(steps)


def _write_back(steps, work_token):
    """Save each step's run (only while still leased under ``work_token``) and count its repeated answer.

    A batch writes one row per run and per repeated exchange; the ORM's
    update() compiles a query for each, which costs more CPU than the poll
    itself, so the statements are compiled once and sent with executemany.
    """
    qn = connection.ops.quote_name
    last_at = Exchange._meta.get_field("last_at")
    repeats = [(_db_value(last_at, step.now), step.repeat_of) for step in steps if step.repeat_of]
    groups = {}
    for step in steps:
        changes = {**step.changes(), "lease_token": "", "lease_until": None}
        groups.setdefault(tuple(changes), []).append((step.run.pk, changes))
    with connection.cursor() as cursor:
        if repeats:
            cursor.executemany(
                f"UPDATE {qn(Exchange._meta.db_table)} SET {qn('repeat_count')} = {qn('repeat_count')} + 1, "
                f"{qn('last_at')} = %s WHERE {qn('id')} = %s",
                repeats,
            )
        for names, rows in groups.items():
            fields = [Run._meta.get_field(name) for name in names]
            columns = ", ".join(f"{qn(field.column)} = %s" for field in fields)
            cursor.executemany(
                f"UPDATE {qn(Run._meta.db_table)} SET {columns} WHERE {qn('id')} = %s AND {qn('lease_token')} = %s",
                [[_db_value(field, changes[field.name]) for field in fields] + [pk, work_token]
                 for pk, changes in rows],
            )


_PLAIN = {"CharField", "TextField", "IntegerField", "PositiveIntegerField", "BooleanField"}


@functools.cache
def _digest_key():
    return hashlib.sha256(f"answer digest|{settings.SECRET_KEY}".encode()).digest()


def _db_value(field, value):
    if value is None or isinstance(value, (str, int)) and field.get_internal_type() in _PLAIN:
        return value
    if field.is_relation and isinstance(value, models.Model):
        value = value.pk
    return field.get_db_prep_save(value, connection)


@dataclass
class Step:
    """One run's due work in a batch: what to send, what came back, what changes."""

    run: Run
    definition: object
    now: object
    outbound: object = None
    part: str = ""
    received: object = None
    send_error: SendError = None
    exchanges: list = field(default_factory=list)
    repeat_of: int = None
    _access_token: str = None

    # -- before sending

    def prepare(self):
        run, action = self.run, self.definition.action
        if run.status == Status.PENDING and run.rehearsal and not action.execute_in_rehearsal:
            self._rehearse()
        elif run.status == Status.PENDING:
            transition(run, Status.RUNNING, "Sending the request.", now=self.now)
            self._build(ExchangeKind.REQUEST, request_part(action))
        elif run.status == Status.POLLING:
            if self._past_deadline():
                return
            self._build(ExchangeKind.POLL, poll_part(action))
        elif run.status == Status.WAITING_CALLBACK:
            self._past_deadline()

    def _rehearse(self):
        """Log the request this run would send, and send nothing (not even for an OAuth token)."""
        try:
            self.outbound = build(self.definition, self.run, request_part(self.definition.action), access_token=MASK)
        except UnknownPlaceholder as exc:
            return self._give_up_before_sending(ExchangeKind.REQUEST, str(exc))
        self.exchanges.append(self._exchange(ExchangeKind.REQUEST, sent=False, decision="Rehearsal: not sent."))
        self.outbound = None
        transition(self.run, Status.SKIPPED,
                   "Rehearsal: this action does not execute in rehearsal; the request it would send is logged.",
                   now=self.now)

    def _past_deadline(self):
        run = self.run
        if run.deadline_at and self.now >= run.deadline_at:
            waited = "waiting for a callback" if run.status == Status.WAITING_CALLBACK else "polling"
            limit = self.definition.action.poll_timeout
            transition(run, Status.TIMED_OUT, f"Timed out after {limit:g} s {waited}.", now=self.now)
            return True
        if run.status == Status.WAITING_CALLBACK:
            run.next_poll_at = run.deadline_at
        return False

    def _build(self, kind, part):
        self.part = kind
        try:
            token = self._token() if self.definition.integration.auth_type == AuthType.OAUTH2 else None
            self.outbound = build(self.definition, self.run, part, access_token=token)
        except UnknownPlaceholder as exc:
            self._give_up_before_sending(kind, str(exc))
        except oauth.TokenError as exc:
            self._give_up_before_sending(kind, str(exc))

    def _token(self):
        integration = self.definition.integration
        token = oauth.cached_token(integration)
        if token:
            self.definition.redactor.add(token)
            return token
        return oauth.fetch_token(self.definition, self.run, self._log_side_exchange)

    def _log_side_exchange(self, kind, outbound, received, error, decision):
        self.outbound, self.received, self.send_error = outbound, received, None
        self.exchanges.append(self._exchange(kind, error=error, decision=decision,
                                             failed=FailedPart.REQUEST if error else ""))
        self.outbound, self.received = None, None

    def _give_up_before_sending(self, kind, reason):
        self.exchanges.append(self._exchange(kind, sent=False, error=reason, failed=FailedPart.REQUEST))
        self.outbound = None
        if self.run.is_active:  # a cancel webhook that cannot be built leaves its run cancelled
            self.finish(Status.FAILED, reason)

    def send_now(self, kind, part):
        """Build, send and log one request at once (used by cancel)."""
        self._build(kind, part)
        if self.outbound is None:
            return
        try:
            self.received = send(self.outbound)
        except SendError as exc:
            self.send_error = exc
        self.exchanges.append(self._exchange(kind, error=str(self.send_error or ""),
                                             failed=FailedPart.REQUEST if self.send_error else ""))

    # -- after sending

    def conclude(self):
        if self.outbound is None:
            return
        if self.received and self.received.status == 401 and self.definition.integration.auth_type == AuthType.OAUTH2:
            # A revoked token would fail every request until it expires: the next one fetches a new token.
            oauth.forget_token(self.definition.integration)
        if self.part == ExchangeKind.REQUEST:
            self._after_request()
        else:
            self._after_poll()

    def _after_request(self):
        run, definition, action = self.run, self.definition, self.definition.action
        if self.send_error:
            self.exchanges.append(self._exchange(ExchangeKind.REQUEST, error=str(self.send_error), failed=FailedPart.REQUEST))
            return self.finish(Status.FAILED, f"The request failed: {self.send_error}")
        exchange = self._exchange(ExchangeKind.REQUEST)
        self.exchanges.append(exchange)
        received = self.received
        if not definition.accepts(received.status):
            exchange.failed_part = FailedPart.RESPONSE
            exchange.decision = f"Status {received.status} is not accepted ({action.accepted_statuses})."
            return self.finish(Status.FAILED, f"The service answered {received.status}, which is not an accepted status ({action.accepted_statuses}).")
        answer = self._answer()
        if answer.parse_error and definition.needs_body:
            exchange.failed_part = FailedPart.RESPONSE
            exchange.decision = answer.parse_error
            return self.finish(Status.FAILED, answer.parse_error)
        context = context_for(definition, run)
        unmet = unmet_conditions(definition.continue_conditions, answer, context)
        if unmet:
            exchange.failed_part = FailedPart.RESPONSE
            exchange.decision = "continue_if not met: " + "; ".join(unmet)
            return self.finish(Status.FAILED, "The response does not meet continue_if: " + "; ".join(unmet) + ".")
        notes = self._store(definition.request_mappings, answer)
        mode = action.polling_mode
        exchange.decision = notes
        if mode == PollingMode.NONE:
            self._decide(answer, exchange, finish_without_match=True)
            return
        if action.poll_timeout:
            run.deadline_at = self.now + timedelta(seconds=action.poll_timeout)
        if mode == PollingMode.POLL:
            transition(run, Status.POLLING, "Polling.", now=self.now)
            self._schedule(action.poll_interval)
            exchange.decision = " ".join(filter(None, [notes, f"Polling every {action.poll_interval:g} s."]))
        else:
            transition(run, Status.WAITING_CALLBACK, "Waiting for the callback.", now=self.now)
            run.next_poll_at = run.deadline_at
            exchange.decision = " ".join(filter(None, [notes, "Waiting for the callback."]))
            for early in run.exchanges.filter(kind=ExchangeKind.CALLBACK).order_by("id"):
                self.evaluate_callback(early)
                early.decision = self.definition.redactor.text(early.decision)
                early.save(update_fields=["decision", "failed_part"])
                if run.status != Status.WAITING_CALLBACK:
                    break

    def _after_poll(self):
        run, definition, action = self.run, self.definition, self.definition.action
        if self.send_error:
            kind = self.send_error.kind
            policy = ErrorPolicy.FAIL if kind == "blocked" else action.on_connection_error
            exchange = self._poll_exchange(error=str(self.send_error), failed=FailedPart.REQUEST)
            return self._on_error(policy, str(self.send_error), exchange)
        received = self.received
        answer = self._answer()
        exchange = self._poll_exchange()
        accepted = definition.accepts(received.status)
        if accepted and answer.parse_error and definition.needs_body:
            exchange.failed_part = FailedPart.RESPONSE
            exchange.decision = answer.parse_error
            return self.finish(Status.FAILED, answer.parse_error)
        if self._decide(answer, exchange, finish_without_match=False):
            return
        if accepted:
            run.consecutive_errors = 0
            return self._continue_polling(exchange, answer)
        if received.status == 429:
            policy = action.on_rate_limited
        elif received.status >= 500:
            policy = action.on_server_error
        else:
            policy = action.on_other_status
        exchange.failed_part = FailedPart.RESPONSE if policy != ErrorPolicy.KEEP_POLLING else ""
        self._on_error(policy, f"The service answered {received.status}.", exchange, answer)

    def _on_error(self, policy, message, exchange, answer=None):
        run, action = self.run, self.definition.action
        if policy == ErrorPolicy.FAIL:
            exchange.decision = " ".join(filter(None, [exchange.decision, "The run fails."]))
            return self.finish(Status.FAILED, f"Poll {run.attempt}: {message}")
        if policy == ErrorPolicy.KEEP_POLLING:
            run.consecutive_errors = 0
            exchange.decision = " ".join(filter(None, [exchange.decision, "Not an error here: polling goes on."]))
            return self._continue_polling(exchange, answer)
        run.consecutive_errors += 1
        if run.consecutive_errors >= action.max_consecutive_errors:
            exchange.decision = " ".join(filter(None, [exchange.decision, "Error limit reached: the run fails."]))
            return self.finish(
                Status.FAILED,
                f"{run.consecutive_errors} errors in a row while polling; the last: {message}",
            )
        exchange.decision = " ".join(filter(None, [
            exchange.decision,
            f"Error {run.consecutive_errors} of {action.max_consecutive_errors} in a row: retried at the next interval.",
        ]))
        self._continue_polling(exchange, answer, counts_as_error=True)

    def _continue_polling(self, exchange, answer, counts_as_error=False):
        run, action = self.run, self.definition.action
        if action.poll_max_attempts and run.attempt >= action.poll_max_attempts:
            return self.finish(Status.TIMED_OUT, f"No stop condition matched in {run.attempt} polls (the attempt limit).")
        self._schedule(action.poll_interval, retry_after=self._retry_after())

    def _decide(self, answer, exchange, *, finish_without_match):
        """Test the stop conditions; finish the run on a match. True when the run finished."""
        definition = self.definition
        matched, stored, decision = stop_decision(
            definition.stop_conditions, answer, context_for(definition, self.run)
        )
        if stored:
            self.run.fields.update(self._redacted(stored))
        exchange.decision = " ".join(filter(None, [exchange.decision, decision]))
        if matched is None and not finish_without_match:
            return False
        self._store(definition.result_mappings, answer)
        if matched is not None and matched.outcome == Outcome.FAILURE:
            self.finish(Status.FAILED, f"Stop condition matched: {decision}")
        elif matched is not None:
            self.finish(Status.SUCCEEDED, f"Stop condition matched: {decision}")
        else:
            self.finish(Status.SUCCEEDED, f"The service answered {answer.response.status}.")
        return True

    def evaluate_callback(self, exchange):
        """Stop conditions on a callback's body; no match keeps the run waiting."""
        headers, body = exchange.request_headers, exchange.request_body
        content_type = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
        answer = read_answer(200, headers, body, convert_xml=self.definition.action.convert_xml or "xml" in content_type)
        if answer.parse_error and self.definition.needs_body:
            exchange.failed_part = FailedPart.REQUEST
            exchange.decision = answer.parse_error + " Still waiting."
            return
        if not self.definition.stop_conditions:
            self._store(self.definition.result_mappings, answer)
            exchange.decision = "Callback received: the run succeeded (no stop conditions)."
            return self.finish(Status.SUCCEEDED, "Callback received.")
        if not self._decide(answer, exchange, finish_without_match=False):
            exchange.decision += " Still waiting."

    # -- bookkeeping

    def finish(self, status, reason):
        transition(self.run, status, self.definition.redactor.text(reason), now=self.now)

    def _answer(self):
        received = self.received
        return read_answer(received.status, received.headers, received.body,
                           convert_xml=self.definition.action.convert_xml, truncated=received.truncated)

    def _store(self, mappings, answer):
        if not mappings:
            return ""
        stored, missing = mapped_fields(mappings, answer)
        self.run.fields.update(self._redacted(stored))
        notes = []
        if stored:
            notes.append("Stored " + ", ".join(stored) + ".")
        if missing:
            notes.append("Found nothing for " + ", ".join(missing) + ".")
        return " ".join(notes)

    def _redacted(self, values):
        return {key: self.definition.redactor.value(value) for key, value in values.items()}

    def _schedule(self, interval, retry_after=None):
        action, run = self.definition.action, self.run
        delay = interval
        if action.poll_backoff == Backoff.EXPONENTIAL:
            delay = min(interval * 2 ** max(run.attempt - 1, 0), action.poll_backoff_max)
        if action.poll_jitter:
            delay *= random.uniform(0.9, 1.1)
        if retry_after is not None:
            delay = max(delay, retry_after)
        next_at = self.now + timedelta(seconds=delay)
        if run.deadline_at and next_at > run.deadline_at:
            next_at = run.deadline_at
        run.next_poll_at = next_at

    def _retry_after(self):
        if not self.received:
            return None
        value = next((v for k, v in self.received.headers.items() if k.lower() == "retry-after"), None)
        if not value:
            return None
        if value.strip().isdigit():
            return float(value)
        try:
            return max((parsedate_to_datetime(value) - self.now).total_seconds(), 0)
        except (TypeError, ValueError):
            return None

    def _poll_exchange(self, error="", failed=""):
        received, run = self.received, self.run
        answer = b"" if error or received is None else received.body
        status = "" if error or received is None else received.status
        # Keyed, so the stored digest of an answer that held a secret cannot be used to guess it.
        digest = hashlib.blake2b(f"{status}|{error}|".encode() + answer, key=_digest_key(), digest_size=32).hexdigest()
        if digest == run.last_answer_digest and run.last_exchange_id:
            # The same answer as the poll before: counted on that exchange, not
            # logged again, so what is decided about it is noted nowhere else.
            self.repeat_of = run.last_exchange_id
            return _Unlogged(failed_part=failed)
        run.last_answer_digest = digest
        exchange = self._exchange(ExchangeKind.POLL, error=error, failed=failed)
        self.exchanges.append(exchange)
        return exchange

    def record(self, kind, incoming):
        """Log a request that came in (a callback): its headers and body, redacted."""
        headers, body = incoming
        redact = self.definition.redactor
        exchange = Exchange(
            run=self.run,
            kind=kind,
            attempt=self.run.attempt,
            method="POST",
            url="/api/callbacks/***/",
            request_headers=redact.value(headers),
            request_body=redact.text(_capped(body)),
            created_at=self.now,
            last_at=self.now,
        )
        self.exchanges.append(exchange)
        return exchange

    def _exchange(self, kind, *, sent=True, error="", decision="", failed=""):
        redact = self.definition.redactor
        outbound, received = self.outbound, self.received
        exchange = Exchange(
            run=self.run,
            kind=kind,
            attempt=self.run.attempt,
            sent=sent,
            error=redact.text(error),
            decision=redact.text(decision),
            failed_part=failed,
            created_at=self.now,
            last_at=self.now,
        )
        if outbound is not None:
            exchange.method = outbound.method
            exchange.url = redact.text(outbound.url)
            exchange.request_headers = redact.value(outbound.headers)
            exchange.request_body = redact.text(_capped(outbound.body or b""))
        if received is not None and not error:
            exchange.status_code = received.status
            exchange.response_headers = redact.value(received.headers)
            exchange.response_body = redact.text(_capped(received.body))
            exchange.response_size = received.size
            exchange.response_truncated = received.truncated or len(received.body) > settings.INTEGRATIONS_MAX_LOGGED_BYTES
            exchange.duration_ms = round(received.duration * 1000, 2)
        return exchange

    def logged(self):
        """The exchanges to save; decisions are redacted here because conditions quote the values they compare."""
        for exchange in self.exchanges:
            exchange.decision = self.definition.redactor.text(exchange.decision)
        return self.exchanges

    def changes(self):
        run = self.run
        names = ["status", "reason", "fields", "consecutive_errors", "next_poll_at", "deadline_at",
                 "started_at", "finished_at", "last_answer_digest"]
        values = {name: getattr(run, name) for name in names}
        if self.exchanges and self.exchanges[-1].kind == ExchangeKind.POLL:
            values["last_exchange"] = self.exchanges[-1]
        return values


@dataclass
class _Unlogged:
    """What the engine notes about an exchange that is not saved (a repeated answer)."""

    decision: str = ""
    failed_part: str = ""


def _capped(data):
    limit = settings.INTEGRATIONS_MAX_LOGGED_BYTES
    if isinstance(data, bytes):
        return data[:limit].decode("utf-8", errors="replace")
    return (data or "")[:limit]
