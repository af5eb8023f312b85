"""What people and services do to runs: start, refire, cancel, and post callbacks.

The admin, the API and the commands call these; they raise domain errors
(RunRefused and its kinds) whose messages say why in words, and the views
map those to HTTP codes. Due work (sending and polling) is in runs/batch.py.
"""

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from integrations.models import PollingMode
from integrations.templating import UnknownPlaceholder

from . import batch, due_work, exchange_log
from .definitions import definition_for
from .models import ACTIVE, REFIREABLE, ExchangeKind, FailedPart, Run, Status
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


# --- starting ----------------------------------------------------------------------------------


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
        reason=(f"Scheduled: the action starts at its fixed start time, {start_at:%Y-%m-%d %H:%M:%S %Z}."
                if start_at > now else ""),
        created_by=user,
        refired_from=refired_from,
        previous_run=previous_run,
        fields=dict(previous_run.fields) if previous_run else {},
        next_poll_at=start_at,
    )
    definition = definition_for(action)
    try:
        auth_values(definition.integration, context_for(definition, run, 1))
        build(definition, run, request_part(action), attempt=1)
    except (UnknownPlaceholder, BuildError) as exc:
        raise ValidationError({"variables": definition.redactor.text(str(exc))}) from None
    run.save()
    return run


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


# --- cancelling ------------------------------------------------------------------------------


def cancel(run, *, user=None):
    """Cancel an active run of a cancelable action, then call its cancel webhook if it has one.

    A run still waiting for its fixed start time has sent nothing: it can be cancelled whatever the action says.
    """
    with transaction.atomic():
        run = Run.objects.select_for_update().select_related("action", "integration").get(pk=run.pk)
        if run.status not in ACTIVE:
            raise RunFinished(f"The run is already {run.get_status_display().lower()}.")
        if not run.action.cancelable and not run.is_scheduled:
            raise NotCancelable(f"Runs of {run.action.name} cannot be cancelled (the action is not cancelable).")
        scheduled = run.is_scheduled
        who = f" by {user}" if user else ""
        run.check_transition(Status.CANCELLED)
        now = timezone.now()
        run.status, run.reason, run.finished_at, run.next_poll_at = Status.CANCELLED, f"Cancelled{who}.", now, None
        # Dropping the lease makes an in-flight worker's write a no-op.
        run.lease_token, run.lease_holder, run.lease_until, run.in_flight = "", "", None, False
        run.save(update_fields=["status", "reason", "finished_at", "next_poll_at", "lease_token", "lease_holder",
                                "lease_until", "in_flight"])
    if run.action.cancel_webhook_url and not scheduled:  # nothing was started that the service must stop
        _call_cancel_webhook(run)
    return run


def _call_cancel_webhook(run):
    """Tell the service the run was cancelled; whatever happens is logged, the run stays cancelled."""
    definition = definition_for(run.action, run.integration)
    now = timezone.now()
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
    oauth_values = values if definition.integration.auth_type == "oauth2_client_credentials" else None
    delivery = batch.deliver(run, definition, outbound, oauth_values, None)
    result = delivery.result
    failed = isinstance(result, Exception)
    row = exchange_log.exchange(
        run, ExchangeKind.CANCEL_WEBHOOK, at=timezone.now(), redactor=definition.redactor, outbound=delivery.outbound,
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
        if run.action.polling_mode != PollingMode.CALLBACK:
            raise NotWaitingForCallback("This run does not wait for callbacks: its action does not use them.")
        definition = definition_for(run.action, run.integration)
        now = timezone.now()
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
            decision = due_work.judge_callback(run, definition, row, timezone.now())
            row.save(update_fields=["decision", "failed_part"])
            _save(run, decision)
            run.status, run.reason, run.fields = decision.status, decision.reason, decision.fields
            if decision.finished:
                break


def _save(run, decision):
    """Write a decision taken under the run's row lock (a worker holding its lease then writes nothing)."""
    batch.write_exchanges(decision.exchanges)
    changes = {name: value for name, value in decision.changes().items() if name != "last_exchange"}
    Run.objects.filter(pk=run.pk).update(**changes, lease_token="", lease_holder="", lease_until=None, in_flight=False)
