"""One run's due work, as decisions: what to send, and what its answer means.

``prepare(run, definition, now)`` says what a due run sends (a ``Send``), or
what happens to it without sending anything (a ``Decision``: timed out,
skipped in rehearsal, refused). ``conclude(...)`` takes what came back and
returns the ``Decision``. Neither touches the database or the network:
runs/batch.py takes the leases, sends, and writes the decisions back.

The rules (SPEC, "The first request and polling"):

1. A run sends its first request (status running) until the service accepts
   it; then it polls (polling), waits for a callback, or ends.
2. With a blank polling URL the request repeats itself: the first request is
   poll 1, its errors follow the per-kind error policies and it counts
   toward the attempt limit.
3. Otherwise a failed first request is sent again only where that cannot
   repeat remote work: it never reached the service, a 429, a 503 with
   Retry-After, an idempotent method, or an action marked safe to repeat.
4. Every answer, the first one included, is checked against the stop
   conditions; the first group that matches ends the run with its outcome.
"""

import logging
import traceback
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError

from integrations.models import TOKEN_AUTH_TYPES, ErrorPolicy, Outcome, PollingMode
from integrations.templating import UnknownPlaceholder, render_text
from integrations.validators import check_file_name

from . import causes, exchange_log, scheduling
from .evaluation import mapped_fields, read_answer, stop_decision, unmet_conditions
from .http import Outbound, SendError
from .models import ACTIVE, WORKING, ExchangeKind, FailedPart, Status, check_transition
from .outbound import BuildError, auth_values, build, context_for, poll_part, request_part
from .redaction import MASK

log = logging.getLogger(__name__)

# Methods that the HTTP specification makes idempotent: sending them again does no more than once.
IDEMPOTENT = {"GET", "HEAD", "PUT", "DELETE", "OPTIONS"}


@dataclass
class Decision:
    """What becomes of a run after a step: its new state and the exchange rows that tell why."""

    run_id: int
    status: str
    reason: str
    next_poll_at: datetime | None
    fields: dict
    consecutive_errors: int
    started_at: datetime | None
    deadline_at: datetime | None
    finished_at: datetime | None
    last_answer_digest: str
    # Why a failed or timed-out run ended, reduced to its kind (runs.causes); blank otherwise.
    cause: str = ""
    exchanges: list = field(default_factory=list)
    # What the conditions and policies said, in words, and which side of this step's exchange went
    # wrong: written on its exchange row.
    notes: list = field(default_factory=list)
    failed_part: str = ""
    # A repeated answer: (exchange id, attempt, time) whose repeat count grows instead of a new row.
    repeat: tuple | None = None
    # An OAuth token fetched for this step (integration id, token, expires at), or one the service refused.
    new_token: tuple | None = None
    refused_token: int | None = None
    # Response bodies kept as files of the run (save_as_file): KeptFile, written back with the decision.
    files: list = field(default_factory=list)
    # The run's facts its tally needs when the decision ends it (runs.tallies).
    action_id: int | None = None
    integration_id: int | None = None
    created_at: datetime | None = None

    COLUMNS = ("status", "reason", "next_poll_at", "fields", "consecutive_errors", "started_at", "deadline_at",
               "finished_at", "last_answer_digest", "cause")

    def changes(self):
        """The run's columns this decision writes; the last new poll row becomes the one repeats are counted on."""
        values = {name: getattr(self, name) for name in self.COLUMNS}
        polls = [row for row in self.exchanges if row.kind == ExchangeKind.POLL and row.error != INTERRUPTED]
        if polls and self.repeat is None:
            values["last_exchange"] = polls[-1]
        return values

    @property
    def finished(self):
        """Decided: the engine has nothing more to do for the run (it may still wait for a person's confirmation)."""
        return self.status not in WORKING


@dataclass
class Send:
    """A request a due run sends: the first request or a poll."""

    kind: str
    outbound: Outbound
    first: bool  # the run's first request (possibly again), not a poll
    counts_as_poll: bool  # toward the attempt limit
    attempt: int
    oauth: dict | None  # the authentication fields, filled, when an OAuth token must be added
    notes: list = field(default_factory=list)  # exchange rows logged before this one
    status: str = ""  # the run's status while the request is out
    save_as: str = ""  # the file name its answer is kept as (save_as_file, filled), if it may be kept


@dataclass
class KeptFile:
    """A response body to keep as a file of the run."""

    name: str
    content_type: str
    data: bytes


INTERRUPTED = "Interrupted: the worker sending this request stopped before its answer was recorded."


# --- the state a decision starts from -----------------------------------------------


def unchanged(run):
    """A Decision that leaves ``run`` as it is (fields copied, so the caller's run is never modified)."""
    return Decision(
        run_id=run.pk,
        status=run.status,
        reason=run.reason,
        next_poll_at=run.next_poll_at,
        fields=dict(run.fields),
        consecutive_errors=run.consecutive_errors,
        started_at=run.started_at,
        deadline_at=run.deadline_at,
        finished_at=run.finished_at,
        last_answer_digest=run.last_answer_digest,
        cause=run.cause,
        action_id=run.action_id,
        integration_id=run.integration_id,
        created_at=run.created_at,
    )


def move(decision, status, reason, now, cause=""):
    """``decision`` with the run moved to ``status``; refuses a move the status chart does not allow, and a
    failed or timed-out end that does not name its ``cause`` (runs.causes)."""
    if status != decision.status:
        check_transition(decision.status, status)
    causes.check(status, cause)
    decision.status = status
    decision.reason = reason
    decision.cause = cause
    if status not in ACTIVE:
        decision.finished_at = now
    if status not in WORKING:
        decision.next_poll_at = None
    return decision


def succeed(decision, definition, reason, now):
    """``decision`` with the run succeeded, or waiting for a person to confirm it when the action does not
    finish on success (Cutover's "finish on success" off)."""
    if definition.action.finish_on_success:
        return move(decision, Status.SUCCEEDED, reason, now)
    return move(decision, Status.WAITING_CONFIRMATION, f"{reason} {WAITING_FOR_CONFIRMATION}", now)


WAITING_FOR_CONFIRMATION = "Waiting for a person to confirm success."


# --- before sending --------------------------------------------------------------------


def prepare(run, definition, now, files=None):
    """What the due ``run`` does now: a Send, or a Decision reached without sending.

    ``files``: {name: RunFile} the run may upload (runs.files.available_files), for an action with ``files``.
    """
    action = definition.action
    files = {} if files is None else files
    if run.status == Status.PENDING and run.rehearsal and not action.execute_in_rehearsal:
        return _rehearse(run, definition, now, files)
    if run.status in (Status.PENDING, Status.RUNNING):
        if run.deadline_at and now >= run.deadline_at:
            return _timed_out(run, definition, now)
        if run.in_flight and not _repeatable(action, poll_one=False):
            return _interrupted_first_request(run, definition, now)
        return _send(run, definition, now, first=True, files=files)
    if run.status == Status.POLLING:
        if run.deadline_at and now >= run.deadline_at:
            return _timed_out(run, definition, now)
        return _send(run, definition, now, first=False, files=files)
    if run.status == Status.WAITING_CALLBACK:
        if run.deadline_at and now >= run.deadline_at:
            return _timed_out(run, definition, now)
        decision = unchanged(run)
        decision.next_poll_at = run.deadline_at
        return decision
    return unchanged(run)  # finished meanwhile: nothing to do


def _send(run, definition, now, *, first, files):
    action = definition.action
    blank_poll_url = not action.poll_url
    part = request_part(action) if first else poll_part(action)
    kind = ExchangeKind.REQUEST if first else ExchangeKind.POLL
    attempt = run.attempt + 1
    counts_as_poll = not first or (action.polling_mode == PollingMode.POLL and blank_poll_url)
    oauth = None
    try:
        context = context_for(definition, run, attempt)
        values = auth_values(definition.integration, context)
        redact_auth(definition, values)
        if definition.integration.auth_type in TOKEN_AUTH_TYPES:
            oauth = values
        outbound = build(definition, run, part, attempt=attempt, context=context, files=files)
        save_as = _file_name(action, context) if _keeps_file(action, first) else ""
    except (UnknownPlaceholder, BuildError) as exc:
        return _not_built(run, definition, kind, str(exc), now, getattr(exc, "name", None))
    if save_as:
        outbound = replace(outbound, max_bytes=settings.INTEGRATIONS_MAX_FILE_BYTES)
    notes = []
    if run.in_flight:
        notes.append(exchange_log.exchange(
            run, ExchangeKind.REQUEST if run.status != Status.POLLING else ExchangeKind.POLL,
            at=now, redactor=definition.redactor, error=INTERRUPTED, failed=FailedPart.REQUEST,
            decision="Its answer is unknown; the request is sent again." if first else "The next poll follows.",
        ))
    status = Status.RUNNING if run.status == Status.PENDING else run.status
    return Send(kind=kind, outbound=outbound, first=first, counts_as_poll=counts_as_poll, attempt=attempt,
                oauth=oauth, notes=notes, status=status, save_as=save_as)


def _repeats_itself(action):
    """Polling with a blank polling URL: every poll sends the request again."""
    return action.polling_mode == PollingMode.POLL and not action.poll_url


def _keeps_file(action, first):
    """May this request's answer be kept as the action's file? The first request's; with a request that
    repeats itself, each answer, the one that ends the run succeeded being the one kept."""
    return bool(action.save_as_file) and (first or _repeats_itself(action))


def _file_name(action, context):
    name = render_text(action.save_as_file, context)
    try:
        check_file_name(name)
    except ValidationError as exc:
        raise BuildError(f"save_as_file: {exc.messages[0]}") from None
    return name


def redact_auth(definition, values):
    """Values filled into the authentication fields are secrets wherever they came from."""
    integration = definition.integration
    if integration.auth_type == "none":
        return
    definition.redactor.add(values["auth_secret"])
    if integration.auth_type == "basic":
        definition.redactor.add_basic_auth(values["auth_username"], values["auth_secret"])


def _repeatable(action, *, poll_one):
    """May the first request be sent again although it may have reached the service?"""
    return poll_one or action.safe_to_repeat or action.method in IDEMPOTENT


def _rehearse(run, definition, now, files):
    """Log the request this run would send, and send nothing (not even for an OAuth token)."""
    decision = unchanged(run)
    try:
        outbound = build(definition, run, request_part(definition.action), attempt=0, access_token=MASK, files=files)
    except (UnknownPlaceholder, BuildError) as exc:
        return _not_built(run, definition, ExchangeKind.REQUEST, str(exc), now)
    decision.exchanges.append(exchange_log.exchange(
        run, ExchangeKind.REQUEST, at=now, redactor=definition.redactor, outbound=outbound, sent=False,
        decision="Rehearsal: not sent.",
    ))
    return move(decision, Status.SKIPPED,
                "Rehearsal: this action does not execute in rehearsal; the request it would send is logged.", now)


def _timed_out(run, definition, now):
    waiting = {Status.WAITING_CALLBACK: "waiting for a callback", Status.POLLING: "polling"}
    what = waiting.get(run.status, "trying to send the first request")
    limit = definition.action.poll_timeout
    return move(unchanged(run), Status.TIMED_OUT, f"Timed out after {limit:g} s {what}.", now, "time_limit")


def _not_built(run, definition, kind, message, now, missing=None):
    decision = unchanged(run)
    decision.exchanges.append(exchange_log.exchange(
        run, kind, at=now, redactor=definition.redactor, sent=False, error=message, failed=FailedPart.REQUEST,
        decision="Not sent: the request could not be built.",
    ))
    root = _mapping_found_nothing(run, definition, missing)
    what = "The request" if kind == ExchangeKind.REQUEST else "The poll"
    reason = definition.redactor.text(f"{what} could not be built: {root or message}")
    return move(decision, Status.FAILED, reason, now, "template")


def _mapping_found_nothing(run, definition, name):
    """The root cause when placeholder ``name`` is the field of one of the action's request mappings that found
    nothing in the first request's answer (the one exchange those mappings read); "" otherwise."""
    if name is None or name in run.fields:
        return ""
    for mapping in definition.request_mappings:
        if mapping.field == name:
            return (f"the mapping {mapping.field} <- {mapping.path} found nothing in the answer to the first request "
                    f"(attempt {run.attempt}), so {{{{ {name} }}}} has no value.")
    return ""


def _interrupted_first_request(run, definition, now):
    method = definition.action.method
    decision = unchanged(run)
    decision.exchanges.append(exchange_log.exchange(
        run, ExchangeKind.REQUEST, at=now, redactor=definition.redactor, error=INTERRUPTED,
        failed=FailedPart.REQUEST, decision="Not sent again: it may have reached the service.",
    ))
    reason = (
        f"The worker sending the first request (attempt {run.attempt}) stopped before its answer was recorded. "
        f"The request may have reached the service, and a {method} is not sent twice unless the action says "
        "it is safe to repeat. Refire the run to send it again."
    )
    return move(decision, Status.FAILED, reason, now, "interrupted")


# --- after sending -----------------------------------------------------------------------


@dataclass
class _Step:
    """The facts one answer is judged on (read-only once made)."""

    run: object
    definition: object
    send: Send
    now: datetime
    received: object  # Received, or None when the request failed
    error: SendError | None
    duration: float


def conclude(run, definition, send, result, *, now, duration):
    """The Decision for ``run`` after ``send`` got ``result`` (a Received, or the SendError) in ``duration`` s.

    ``run`` is the run as it was taken (its attempt and polls already counted).
    """
    error = result if isinstance(result, SendError) else None
    step = _Step(run, definition, send, now, None if error else result, error, duration)
    decision = unchanged(run)
    decision.status = send.status
    if run.started_at is None:
        decision.started_at = now - timedelta(seconds=duration)
        if definition.action.poll_timeout and definition.action.polling_mode != PollingMode.NONE:
            decision.deadline_at = decision.started_at + timedelta(seconds=definition.action.poll_timeout)
    decision = _judge(step, decision)
    _keep_file(step, decision)
    return _log(step, decision)


def _judge(step, decision):
    run, definition, action, received = step.run, step.definition, step.definition.action, step.received
    if step.error is not None:
        # Refused by our own guard, or no OAuth token to be had: sending again cannot help.
        policy = ErrorPolicy.FAIL if step.error.kind in ("blocked", "auth") else action.on_connection_error
        return _on_error(step, decision, policy, str(step.error), repeat_safe=not step.error.reached,
                         cause=causes.send_error(step.error.kind))

    if step.send.save_as and received.truncated and definition.accepts(received.status):
        decision.failed_part = FailedPart.RESPONSE
        limit = settings.INTEGRATIONS_MAX_FILE_BYTES
        if received.compressed:
            read = (f"it came {received.headers['Content-Encoding']}-compressed, and reading stopped once "
                    f"{limit:,} bytes had been decompressed")
        elif received.headers.get("Content-Length", "").isdigit():
            read = f"it is {received.size:,} bytes (Content-Length), and reading stopped after {limit:,}"
        else:
            read = f"reading stopped after {limit:,} bytes"
        return _fail(step, decision, "Too large to keep as a file.", "too_large", (
            f"The response is larger than INTEGRATIONS_MAX_FILE_BYTES ({limit:,} bytes): {read}. It cannot be kept "
            f"as the file {step.send.save_as!r}."
        ))
    answer = read_answer(received.status, received.headers, received.body,
                         convert_xml=action.convert_xml, truncated=received.truncated)
    _note(decision, [answer.cleaned])
    accepted = definition.accepts(received.status)
    context = context_for(definition, run)
    notes = []
    if accepted and answer.parse_error and definition.needs_body:
        decision.failed_part = FailedPart.RESPONSE
        return _fail(step, decision, answer.parse_error, "unreadable", answer.parse_error)
    if accepted and step.send.first:
        unmet = unmet_conditions(definition.continue_conditions, answer, context, definition.redactor)
        if unmet:
            decision.failed_part = FailedPart.RESPONSE
            return _fail(step, decision, "continue_if not met: " + "; ".join(unmet), "continue_if",
                         "The response does not meet continue_if: " + "; ".join(unmet) + ".")
        if (failed := _stored_or_failed(step, decision, notes, definition.request_mappings, answer)) is not None:
            return failed

    matched, stored, said = stop_decision(definition.stop_conditions, answer, context, definition.redactor)
    decision.fields.update(_redacted(definition, stored))
    notes.append(said)
    if matched is not None:
        failed = matched.outcome == Outcome.FAILURE
        if failed:
            notes.append(_store(decision, definition, definition.result_mappings, answer)[0])
        elif (unfound := _stored_or_failed(step, decision, notes, definition.result_mappings, answer)) is not None:
            return unfound
        if failed:
            decision.failed_part = FailedPart.RESPONSE
        reason = f"Stop condition matched: {said}"
        if failed:
            return _note(move(decision, Status.FAILED, reason, step.now, causes.outcome(matched)), notes)
        return _note(succeed(decision, definition, reason, step.now), notes)

    if not accepted:
        # No stop condition matched, and the status is not accepted: the error policy decides, and says so
        # (the conditions' "no match" would contradict the headline).
        _note(decision, notes[:-1])
        if received.status == 429:
            policy, safe = action.on_rate_limited, True
        elif received.status >= 500:
            policy = action.on_server_error
            safe = received.status == 503 and scheduling.retry_after_seconds(received.headers) is not None
        else:
            policy, safe = action.on_other_status, False
        message = (f"The service answered {received.status}, which is not an accepted status "
                   f"({action.accepted_statuses}).")
        said = f"{received.status} is not an accepted status ({action.accepted_statuses})"
        return _on_error(step, decision, policy, message, repeat_safe=safe, said=said,
                         cause=causes.status(received.status))

    decision.consecutive_errors = 0
    if step.send.first:
        if action.polling_mode == PollingMode.NONE:
            if (failed := _stored_or_failed(step, decision, notes, definition.result_mappings, answer)) is not None:
                return failed
            return _note(succeed(decision, definition, f"The service answered {received.status}.", step.now), notes)
        if action.polling_mode == PollingMode.CALLBACK:
            move(decision, Status.WAITING_CALLBACK, "Waiting for the callback.", step.now)
            decision.next_poll_at = decision.deadline_at
            return _note(decision, notes + ["Waiting for the callback."])
        move(decision, Status.POLLING, "Polling.", step.now)
    return _note(_next_poll(step, decision), notes)


def _keep_file(step, decision):
    """Keep the answer as the action's file when the run goes on (or ends succeeded) with it."""
    received, action = step.received, step.definition.action
    if not step.send.save_as or received is None or not step.definition.accepts(received.status):
        return
    if decision.status == Status.SUCCEEDED or decision.status != Status.FAILED and not _repeats_itself(action):
        content_type = received.headers.get("Content-Type", "")
        decision.files.append(KeptFile(step.send.save_as, content_type, received.body))
        _note(decision, [f"Kept as the file {step.send.save_as} ({len(received.body)} bytes)."])


def _on_error(step, decision, policy, message, *, repeat_safe, cause, said="The request failed"):
    """Apply the action's policy for an error (a failed request or an unaccepted status, ``cause``); the log's
    row says what the policy decided, beginning with ``said`` (what went wrong, in a few words)."""
    run, action = step.run, step.definition.action
    if step.error is not None:
        decision.failed_part = FailedPart.REQUEST
    else:
        decision.failed_part = FailedPart.RESPONSE if policy != ErrorPolicy.KEEP_POLLING else ""
    which = "The first request" if step.send.first else f"Poll {run.polls}"
    if action.polling_mode == PollingMode.NONE:
        policy = ErrorPolicy.FAIL
    elif step.send.first and policy != ErrorPolicy.FAIL:
        poll_one = step.send.counts_as_poll
        if not (repeat_safe or _repeatable(action, poll_one=poll_one)):
            _note(decision, ["Not sent again: it may have reached the service."])
            return _fail(step, decision, None, cause, (
                f"The first request failed: {message} It is not sent again: it may have reached the service, "
                f"and a {action.method} is repeated only when the action says it is safe to repeat."
            ))
    if policy == ErrorPolicy.FAIL:
        return _fail(step, decision, f"{said}: the run fails.", cause, f"{which}: {message}" if not step.send.first
                     else f"The first request failed: {message}")
    if policy == ErrorPolicy.KEEP_POLLING:
        decision.consecutive_errors = 0
        decision = _next_poll(step, decision, last=message)
        return _note(decision, [f"{said}: not an error here, polling goes on: {_retried(step, decision)}."])
    errors = run.consecutive_errors + 1
    decision.consecutive_errors = errors
    if errors >= action.max_consecutive_errors:
        _note(decision, [f"{said}. Error limit reached ({errors} in a row): the run fails."])
        where = "sending the first request" if step.send.first else "while polling"
        return _fail(step, decision, None, cause, f"{errors} errors in a row {where}; the last: {message}")
    decision = _next_poll(step, decision, last=message)
    return _note(decision, [f"{said}. Error {errors} of {action.max_consecutive_errors} in a row: "
                            f"{_retried(step, decision)}."])


def _retried(step, decision):
    """When the next attempt goes out, in words for the log: "retried in 3 s (Retry-After)"."""
    if decision.finished or decision.next_poll_at is None:
        return "no attempt left"
    seconds = max((decision.next_poll_at - step.now).total_seconds(), 0)
    if decision.deadline_at is not None and decision.next_poll_at == decision.deadline_at:
        return f"the run times out in {_seconds(seconds)} (its deadline comes before the next attempt)"
    headers = step.received.headers if step.received is not None else None
    asked = scheduling.retry_after_seconds(headers)
    why = " (Retry-After)" if asked is not None and abs(min(asked, scheduling.MAX_RETRY_AFTER) - seconds) < 0.01 else ""
    return f"retried in {_seconds(seconds)}{why}"


def _seconds(seconds):
    return f"{seconds:.0f} s" if seconds >= 10 or float(seconds).is_integer() else f"{seconds:.1f} s"


def _next_poll(step, decision, last=""):
    """Schedule the next attempt, unless the attempt limit is reached."""
    run, action = step.run, step.definition.action
    limit = action.poll_max_attempts
    if limit and step.send.counts_as_poll and run.polls >= limit:
        tail = f"; the last: {last.rstrip('.')}" if last else ""
        return move(decision, Status.TIMED_OUT,
                    f"No stop condition matched in {run.polls} polls (the attempt limit){tail}.", step.now,
                    "attempts")
    delay = scheduling.backoff_delay(
        action.poll_interval, run.polls, exponential=action.poll_backoff == "exponential", cap=action.poll_backoff_max
    )
    headers = step.received.headers if step.received is not None else None
    decision.next_poll_at = scheduling.next_due(
        step.now, delay, jitter=action.poll_jitter, retry_after=scheduling.retry_after_seconds(headers),
        deadline=decision.deadline_at,
    )
    if decision.status == Status.POLLING and decision.reason != "Polling.":
        decision.reason = "Polling."
    return decision


def _fail(step, decision, note, cause, reason):
    _note(decision, [note])
    return move(decision, Status.FAILED, step.definition.redactor.text(reason), step.now, cause)


def _note(decision, notes):
    decision.notes.extend(note for note in notes if note)
    return decision


def _store(decision, definition, mappings, answer):
    """Store what ``mappings`` find; returns (notes, the reason the run fails when a required mapping found
    nothing, else "")."""
    if not mappings:
        return "", ""
    stored, missing, required = mapped_fields(mappings, answer)
    decision.fields.update(_redacted(definition, stored))
    notes = []
    if stored:
        notes.append("Stored " + ", ".join(stored) + ".")
    if missing:
        notes.append("Found nothing for " + ", ".join(missing) + ".")
    unfound = ""
    if required:
        which = "mapping" if len(required) == 1 else "mappings"
        unfound = (f"The required {which} {', '.join(required)} found nothing in the answer"
                   f"{'' if answer.response.status is None else f' ({answer.response.status})'}.")
    return " ".join(notes), unfound


def _stored_or_failed(step, decision, notes, mappings, answer):
    """Store what ``mappings`` find (their notes added to ``notes``); the decision failing the run when a
    required mapping found nothing, else None."""
    said, unfound = _store(decision, step.definition, mappings, answer)
    notes.append(said)
    if not unfound:
        return None
    decision.failed_part = FailedPart.RESPONSE
    _note(decision, notes)
    return _fail(step, decision, "A required mapping found nothing: the run fails.", "mapping", unfound)


def _redacted(definition, values):
    return {key: definition.redactor.value(value) for key, value in values.items()}


def _log(step, decision):
    """The exchange row of this step, with what was decided; a poll whose answer and decision repeat the
    previous poll's adds to that row's count instead (and costs no row to build)."""
    run, redactor, received, error = step.run, step.definition.redactor, step.received, step.error
    # Conditions and errors quote the values they saw, secrets included.
    decision.reason = redactor.text(decision.reason)
    words = " ".join(decision.notes)
    if decision.status == Status.POLLING and step.send.first and not error:
        words = " ".join(filter(None, [words, f"Polling every {step.definition.action.poll_interval:g} s."]))
    decision.exchanges = list(step.send.notes)
    if step.send.kind == ExchangeKind.POLL and not step.send.notes:
        digest = exchange_log.answer_digest(received.status if received else "", str(error or ""),
                                            received.body if received else b"", words)
        if digest == run.last_answer_digest and run.last_exchange_id and not decision.finished:
            decision.repeat = (run.last_exchange_id, step.send.attempt, step.now)
            return decision
        decision.last_answer_digest = digest
    row = exchange_log.exchange(
        run, step.send.kind, at=step.now, redactor=redactor, outbound=step.send.outbound, received=received,
        error=str(error or ""), failed=decision.failed_part, duration=step.duration, attempt=step.send.attempt,
    )
    exchange_log.finish_decision(row, redactor, words)
    decision.exchanges.append(row)
    return decision


# --- callbacks ----------------------------------------------------------------------------


def judge_callback(run, definition, row, now):
    """The Decision for a callback (``row``, its logged exchange) posted to a run that waits for one."""
    from urllib3 import HTTPHeaderDict

    headers = HTTPHeaderDict(row.request_headers)
    content_type = (headers.get("Content-Type") or "").lower()
    answer = read_answer(200, headers, row.request_body,
                         convert_xml=definition.action.convert_xml or "xml" in content_type)
    decision = unchanged(run)
    redactor = definition.redactor

    def decided(words):
        exchange_log.finish_decision(row, redactor, " ".join(filter(None, [answer.cleaned, words])))

    if answer.parse_error and definition.needs_body:
        row.failed_part = FailedPart.REQUEST
        decided(answer.parse_error + " Still waiting.")
        return decision
    if not definition.stop_conditions:
        stored, unfound = _store(decision, definition, definition.result_mappings, answer)
        if unfound:
            row.failed_part = FailedPart.REQUEST
            decided(" ".join(filter(None, [stored, "Callback received: a required mapping found nothing, the run "
                                                   "fails."])))
            return move(decision, Status.FAILED, redactor.text(unfound), now, "mapping")
        decided(" ".join(filter(None, [stored, "Callback received: the run succeeded (no stop conditions)."])))
        return succeed(decision, definition, "Callback received.", now)
    matched, stored, said = stop_decision(definition.stop_conditions, answer, context_for(definition, run),
                                        definition.redactor)
    decision.fields.update(_redacted(definition, stored))
    if matched is None:
        decided(f"{said} Still waiting.")
        return decision
    stored, unfound = _store(decision, definition, definition.result_mappings, answer)
    notes = [said, stored]
    if matched.outcome != Outcome.FAILURE and unfound:
        row.failed_part = FailedPart.REQUEST
        decided(" ".join(filter(None, [*notes, "A required mapping found nothing: the run fails."])))
        return move(decision, Status.FAILED, redactor.text(unfound), now, "mapping")
    if matched.outcome == Outcome.FAILURE:
        row.failed_part = FailedPart.REQUEST
    decided(" ".join(filter(None, notes)))
    reason = redactor.text(f"Stop condition matched: {said}")
    if matched.outcome == Outcome.FAILURE:
        return move(decision, Status.FAILED, reason, now, causes.outcome(matched))
    return succeed(decision, definition, reason, now)


# --- faults --------------------------------------------------------------------------------


def internal_failure(run, definition, exc, stage, now):
    """A fault in our own code while handling ``run``: the run fails with the reason, the rest goes on.

    The traceback is logged with secrets masked (exception texts quote values).
    """
    redactor = definition.redactor if definition is not None else None
    text = "".join(traceback.format_exception(exc))
    message = f"{exc.__class__.__name__}: {exc}"
    if redactor is not None:
        text, message = redactor.text(text), redactor.text(message)
    log.error("Run %s failed while %s:\n%s", run.pk, stage, text)
    decision = unchanged(run)
    if run.status not in WORKING:
        return decision
    return move(decision, Status.FAILED, f"Internal error while {stage}: {message}"[:2000], now, "internal")
