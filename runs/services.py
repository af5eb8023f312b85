"""What people and services do to runs: start, refire, cancel, post callbacks, and move chains on.

The admin, the API and the commands call these; they raise domain errors
(RunRefused and its kinds) whose messages say why in words, and the views
map those to HTTP codes. Due work (sending and polling) is in runs/batch.py.
"""

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import prefetch_related_objects

from integrations.models import TOKEN_AUTH_TYPES, PollingMode
from integrations.templating import UnknownPlaceholder

from . import batch, clock, due_work, events, exchange_log, tallies, wakeup
from .definitions import definition_for
from .models import ACTIVE, CHAIN_GOES_ON, FINISHED, REFIREABLE, WORKING, ExchangeKind, FailedPart, Run, Status
from .outbound import BuildError, auth_values, build, cancel_part, context_for, request_part


class RunRefused(Exception):
    """The run cannot be started, cancelled or refired, or take a callback; the message says why."""


class RunNotFound(RunRefused):
    pass


class RunFinished(RunRefused):
    pass


class NotCancelable(RunRefused):
    pass


class NotRefireable(RunRefused):
    pass


class NotWaitingForCallback(RunRefused):
    pass


class NotWaiting(RunRefused):
    """The run does not wait for what a person asked to do (start it, confirm or reject its success)."""


# --- starting ----------------------------------------------------------------------------------


def start_run(action, variables=None, *, rehearsal=False, user=None, refired_from=None, previous_run=None,
              wait_for_start=False, schedule=None, tick=None):
    """Create a run of ``action``; its first request is sent by a worker as soon as it is due.

    A run of a chain (``previous_run``) carries the previous run's variables
    and stored fields; ``variables`` override them, and only those the action
    declares are checked. ``wait_for_start``: the run waits for a person or
    the API to start it. ``schedule`` and ``tick``: the schedule that starts it, for that tick
    (runs.schedules). Raises ValidationError when the variables do not fit,
    RunRefused when the action cannot run. Nothing is sent before both checks pass.
    """
    run = _new_run(action, variables, rehearsal=rehearsal, user=user, refired_from=refired_from,
                   previous_run=previous_run, wait_for_start=wait_for_start, schedule=schedule, tick=tick)
    run.save()
    if run.next_poll_at is not None:
        wakeup.notify()
    return run


def _new_run(action, variables=None, *, rehearsal=False, user=None, refired_from=None, previous_run=None,
             wait_for_start=False, schedule=None, tick=None):
    """start_run's run, checked and not saved yet."""
    if action.integration.archived:
        raise RunRefused(f"The integration {action.integration} is archived: its actions cannot run.")
    if previous_run is not None:
        variables = _chained_variables(action, {**previous_run.variables, **(variables or {})})
    else:
        variables = action.validate_variables(variables)
    run = Run(
        action=action,
        integration=action.integration,
        variables=variables,
        rehearsal=rehearsal,
        created_by=user,
        refired_from=refired_from,
        previous_run=previous_run,
        fields=dict(previous_run.fields) if previous_run else {},
        schedule=schedule,
        tick_at=tick,
    )
    if wait_for_start:
        run.status, run.reason = Status.WAITING_START, "Waiting for a person or the API to start it."
    else:
        run.next_poll_at, run.reason = _start_at(action)
        if schedule is not None and not run.reason:
            run.reason = f"Started by the schedule {schedule.name} for its tick at {tick:%Y-%m-%d %H:%M:%S %Z}."
    definition = definition_for(action)
    try:
        auth_values(definition.integration, context_for(definition, run, 1))
        build(definition, run, request_part(action), attempt=1)
    except (UnknownPlaceholder, BuildError) as exc:
        raise ValidationError({"variables": definition.redactor.text(str(exc))}) from None
    return run


def _start_at(action, reason=""):
    """(When a run of ``action`` started now is due, the reason it says): the action's fixed start time
    when that is later."""
    now = clock.now()
    start_at = max(now, action.fixed_start_time) if action.fixed_start_time else now
    if start_at > now:
        reason = f"Scheduled: the action starts at its fixed start time, {start_at:%Y-%m-%d %H:%M:%S %Z}."
    return start_at, reason


def _chained_variables(action, variables):
    """Variables carried along a chain: those ``action`` declares are checked (defaults fill the blanks),
    the others pass through untouched for later steps."""
    if not isinstance(variables, dict):
        return action.validate_variables(variables)  # refused with the usual message
    declared = {item.name for item in action.inputs.all()}  # prefetched by go_on_many
    if not declared:
        return action.validate_variables(variables)
    checked = action.validate_variables({name: value for name, value in variables.items() if name in declared})
    return {**{name: value for name, value in variables.items() if name not in declared}, **checked}


def refire(run, variables=None, *, user=None):
    """A new run with the same inputs (or ``variables`` edited by the person refiring), linked to ``run``."""
    if run.status not in REFIREABLE:
        raise NotRefireable(
            "Only failed, timed-out or cancelled runs can be refired; "
            f"this one is {run.get_status_display().lower()}."
        )
    return start_run(
        run.action,
        run.variables if variables is None else variables,
        rehearsal=run.rehearsal,
        user=user,
        refired_from=run,
        previous_run=run.previous_run,
    )


# --- chains --------------------------------------------------------------------------------------


def go_on(run_id):
    """The next run of a chain, after run ``run_id`` succeeded (or was skipped in rehearsal): None when its
    action names no next action, or the next run exists already.

    Call it in the transaction whose conditional update ended the run, and
    only when that update took effect: then the next run is created once,
    however many workers raced to end the run. A next action with auto start
    is due at once, any other waits for a start. A next run that cannot start
    (variables that do not fit, an archived integration) is created failed,
    with the reason, so that it shows in the chain and can be refired.
    """
    run = Run.objects.select_related("action__next_action__integration", "created_by").get(pk=run_id)
    follower = run.action.next_action
    if follower is None:
        return None
    try:
        with transaction.atomic():  # a savepoint: a refusal or a duplicate leaves the caller's transaction usable
            following = _following(run, follower)
            following.save()
            if following.next_poll_at is not None:
                wakeup.notify()
            if following.status == Status.FAILED:
                tallies.record([tallies.ended(following)])
            return events.recorded(following)
    except IntegrityError:
        return None  # its next run exists already


def go_on_many(run_ids):
    """go_on for many runs that ended in the caller's transaction (the write-back of a batch): the runs and
    their next actions read in one query, the next runs written in one INSERT and their events and tallies
    recorded in one go, so that a burst of finishing runs costs a few statements, not a few per run.

    Same rules as go_on; when one of the next runs exists already, each run goes on on its own (go_on).
    Returns the next runs made.
    """
    runs = list(Run.objects.filter(pk__in=run_ids, action__next_action__isnull=False).select_related(
        "action__next_action__integration", "created_by"))
    if not runs:
        return []
    followers = {}
    for run in runs:  # one instance per next action, its inputs read once
        run.action.next_action = followers.setdefault(run.action.next_action_id, run.action.next_action)
    prefetch_related_objects(list(followers.values()), "inputs")
    made = [_following(run, run.action.next_action) for run in runs]
    try:
        with transaction.atomic():  # a savepoint, as in go_on
            Run.objects.bulk_create(made)
    except IntegrityError:
        return [following for following in map(go_on, [run.pk for run in runs]) if following is not None]
    tallies.record([tallies.ended(following) for following in made if following.status == Status.FAILED])
    events.record([(following.pk, following.status) for following in made])
    if any(following.next_poll_at is not None for following in made):
        wakeup.notify()
    return made


def _following(run, follower):
    """The next run of ``run``'s chain, into ``follower``, not saved: waiting for a start, due at once, or
    failed with the reason when it cannot start."""
    try:
        return _new_run(follower, rehearsal=run.rehearsal, user=run.created_by, previous_run=run,
                        wait_for_start=not follower.auto_start)
    except (ValidationError, RunRefused) as exc:
        messages = exc.messages if isinstance(exc, ValidationError) else [str(exc)]
        return Run(
            action=follower, integration=follower.integration, variables=run.variables,
            fields=dict(run.fields), rehearsal=run.rehearsal, created_by=run.created_by, previous_run=run,
            status=Status.FAILED, finished_at=clock.now(), cause="chain",
            reason=f"The chain could not go on into {follower.name}: {' '.join(messages)}"[:2000],
        )


def start(run, *, user=None):
    """Start a run that waits for a start (a step of a chain without auto start): it is due now."""
    who = f" by {user}" if user else ""
    with transaction.atomic():
        run = Run.objects.select_for_update().select_related("action").get(pk=run.pk)
        if run.status != Status.WAITING_START:
            raise NotWaiting(f"The run does not wait for a start: it is {run.get_status_display().lower()}.")
        run.check_transition(Status.PENDING)
        start_at, reason = _start_at(run.action, f"Started{who}.")
        Run.objects.filter(pk=run.pk, status=Status.WAITING_START).update(
            status=Status.PENDING, reason=reason, next_poll_at=start_at)
        wakeup.notify()
    run.refresh_from_db()
    return run


def confirm(run, *, user=None):
    """Confirm the success of a run that waits for confirmation: it succeeds and its chain goes on."""
    who = f" by {user}" if user else ""
    return _decide_waiting(run, Status.SUCCEEDED, lambda said: f"Success confirmed{who}. {said}", cause="")


def reject(run, *, user=None, reason=""):
    """Reject the success of a run that waits for confirmation: it fails (and can be refired)."""
    who = f" by {user}" if user else ""
    why = f": {reason.strip().rstrip('.')}." if reason and reason.strip() else "."
    return _decide_waiting(run, Status.FAILED, lambda said: f"Success rejected{who}{why} {_overruled(said)}",
                           cause="rejected")


def _overruled(said):
    """What the conditions had said, as overruled: a failed run's reason must not end in ": success."."""
    if said.endswith(": success."):
        return f"Overruled: the conditions said success ({said.removesuffix(': success.')})."
    return f"Overruled: {said}" if said else ""


def _decide_waiting(run, status, reason, *, cause):
    with transaction.atomic():
        run = Run.objects.select_for_update().get(pk=run.pk)
        if run.status != Status.WAITING_CONFIRMATION:
            raise NotWaiting(f"The run does not wait for confirmation: it is {run.get_status_display().lower()}.")
        run.check_transition(status)
        said = run.reason.replace(WAITING_SUFFIX, "").strip()
        now = clock.now()
        updated = Run.objects.filter(pk=run.pk, status=Status.WAITING_CONFIRMATION).update(
            status=status, reason=reason(said)[:2000], finished_at=now, next_poll_at=None, cause=cause)
        events.record([(run.pk, status)] if updated else [])
        if updated:
            tallies.record([tallies.ended(run, status, cause, now)])
        if updated and status in CHAIN_GOES_ON:
            go_on(run.pk)
    run.refresh_from_db()
    return run


WAITING_SUFFIX = due_work.WAITING_FOR_CONFIRMATION


# --- cancelling ------------------------------------------------------------------------------


def cancel(run, *, user=None):
    """Cancel an active or waiting run of a cancelable action, then call its cancel webhook if it has one.

    A run that has sent nothing (waiting for its fixed start time, or for a
    person to start it) can be cancelled whatever the action says, and no
    webhook is called for it; nor for a run waiting for a person to confirm
    its success, whose remote work is over.
    """
    with transaction.atomic():
        run = Run.objects.select_for_update().select_related("action", "integration").get(pk=run.pk)
        if run.status not in ACTIVE:
            raise RunFinished(f"The run is already {run.get_status_display().lower()}.")
        unsent = run.is_scheduled or run.status == Status.WAITING_START
        if not run.action.cancelable and not unsent:
            raise NotCancelable(f"Runs of {run.action.name} cannot be cancelled (the action is not cancelable).")
        call_webhook = run.status in WORKING and not unsent
        who = f" by {user}" if user else ""
        run.check_transition(Status.CANCELLED)
        now = clock.now()
        run.status, run.reason, run.finished_at, run.next_poll_at = Status.CANCELLED, f"Cancelled{who}.", now, None
        # Dropping the lease makes an in-flight worker's write a no-op.
        run.lease_token, run.lease_holder, run.lease_until, run.in_flight = "", "", None, False
        run.save(update_fields=["status", "reason", "finished_at", "next_poll_at", "lease_token", "lease_holder",
                                "lease_until", "in_flight"])
        events.record([(run.pk, Status.CANCELLED)])
        tallies.record([tallies.ended(run)])
    if run.action.cancel_webhook_url and call_webhook:  # nothing was started that the service must stop
        _call_cancel_webhook(run)
    return run


def _call_cancel_webhook(run):
    """Tell the service the run was cancelled; whatever happens is logged, the run stays cancelled."""
    definition = definition_for(run.action, run.integration)
    now = clock.now()
    try:
        context = context_for(definition, run)
        values = auth_values(definition.integration, context)
        due_work.redact_auth(definition, values)
        outbound = build(definition, run, cancel_part(run.action))
    except (UnknownPlaceholder, BuildError) as exc:
        row = exchange_log.exchange(run, ExchangeKind.CANCEL_WEBHOOK, at=now, redactor=definition.redactor,
                                    sent=False, error=str(exc), failed=FailedPart.REQUEST)
        row.save()
        return
    oauth_values = values if definition.integration.auth_type in TOKEN_AUTH_TYPES else None
    delivery = batch.deliver(run, definition, outbound, oauth_values, None)
    result = delivery.result
    failed = isinstance(result, Exception)
    row = exchange_log.exchange(
        run, ExchangeKind.CANCEL_WEBHOOK, at=clock.now(), redactor=definition.redactor, outbound=delivery.outbound,
        received=None if failed else result, error=str(result) if failed else "", duration=delivery.duration,
        failed=FailedPart.REQUEST if failed else "",
    )
    batch.write_exchanges(delivery.token_rows + [row])
    batch.keep_token(delivery)


# --- callbacks -----------------------------------------------------------------------------------


def handle_callback(token, body, headers):
    """Evaluate a callback posted to a run: its stop conditions decide; no match keeps it waiting.

    A callback that arrives before the run's first request has finished is
    kept and evaluated as soon as the run waits for callbacks.
    """
    with transaction.atomic():
        run = (
            Run.objects.select_for_update()
            .select_related("action", "integration")
            .filter(callback_token=token)
            .first()
        )
        if run is None:
            raise RunNotFound("No run has this callback token.")
        if run.status not in ACTIVE:
            raise RunFinished(f"The run is already {run.get_status_display().lower()}.")
        if run.status == Status.WAITING_CONFIRMATION:
            raise RunFinished("The run's conditions have decided already: it waits for a person to confirm success.")
        if run.action.polling_mode != PollingMode.CALLBACK:
            raise NotWaitingForCallback("This run does not wait for callbacks: its action does not use them.")
        definition = definition_for(run.action, run.integration)
        now = clock.now()
        row = exchange_log.callback_exchange(run, headers, body, at=now, redactor=definition.redactor)
        if run.status == Status.WAITING_CALLBACK:
            decision = due_work.judge_callback(run, definition, row, now)
            decision.exchanges = [row]
            _save(run, decision)
            run.status, run.reason = decision.status, decision.reason
        else:
            row.decision = exchange_log.EARLY_CALLBACK
            row.save()
    return run


def evaluate_early_callbacks(run_id):
    """Judge the callbacks that arrived before the run waited for them, in the order they came."""
    with transaction.atomic():
        run = Run.objects.select_for_update().select_related("action", "integration").get(pk=run_id)
        if run.status != Status.WAITING_CALLBACK:
            return
        definition = definition_for(run.action, run.integration)
        for row in run.exchanges.filter(kind=ExchangeKind.CALLBACK, decision=exchange_log.EARLY_CALLBACK).order_by("id"):
            decision = due_work.judge_callback(run, definition, row, clock.now())
            row.save(update_fields=["decision", "failed_part"])
            _save(run, decision)
            run.status, run.reason, run.fields = decision.status, decision.reason, decision.fields
            if decision.finished:
                break


def _save(run, decision):
    """Write a decision taken under the run's row lock (a worker holding its lease then writes nothing).

    The update requires the status the decision was taken from, so that a run
    ended meanwhile (on a database without row locks) is not ended twice, and
    its chain goes on once.
    """
    batch.write_exchanges(decision.exchanges)
    changes = {name: value for name, value in decision.changes().items() if name != "last_exchange"}
    updated = Run.objects.filter(pk=run.pk, status=run.status).update(
        **changes, lease_token="", lease_holder="", lease_until=None, in_flight=False)
    if updated and changes.get("next_poll_at") is not None:
        wakeup.notify()
    events.record([(run.pk, decision.status)] if updated and decision.status != run.status else [])
    if updated and decision.status in FINISHED and run.status not in FINISHED:
        tallies.record([tallies.ended(run, decision.status, decision.cause, decision.finished_at)])
    if updated and decision.status in CHAIN_GOES_ON and run.status not in CHAIN_GOES_ON:
        go_on(run.pk)
