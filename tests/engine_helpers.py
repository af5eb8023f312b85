"""Helpers for engine tests: define actions against a local server, and do due work now."""

from django.core.exceptions import ValidationError
from django.utils import timezone

from integrations.models import Action, ActionInput, Integration, ResponseMapping, StopCondition
from runs import clock
from runs.dispatch import dispatch_once
from runs.models import ACTIVE, Run


def make_action(base_url, *, integration=None, inputs=(), mappings=(), stop=(), after=None, **fields):
    """An action on an integration whose base URL is ``base_url``, checked as the admin checks it.

    ``after``: the action this one follows in a chain (its next_action is set before the check, so that
    this one may read the fields it stores).
    ``inputs``: names of the variables it takes (each optional), or dicts of ActionInput fields.
    ``mappings``: (field, path[, source]) rows.
    ``stop`` rows: (path, operator, value, outcome[, target_field]), each a group of its own,
    or dicts of StopCondition fields (``group`` to put several rows in one group).
    """
    integration = integration or Integration.objects.create(
        name="Local", slug=f"local-{Integration.objects.count() + 1}", base_url=base_url
    )
    fields.setdefault("name", "Job")
    fields.setdefault("slug", f"job-{Action.objects.count() + 1}")
    fields.setdefault("url", "/jobs")
    fields.setdefault("method", "POST")
    action = Action(integration=integration, **fields)
    _save(action)
    for position, spec in enumerate(inputs):
        spec = {"required": False, **spec} if isinstance(spec, dict) else {"name": spec, "required": False}
        _save(ActionInput(action=action, position=position, **spec))
    for position, (field, path, *source) in enumerate(mappings):
        _save(ResponseMapping(action=action, position=position, field=field, path=path,
                              source=source[0] if source else "request"))
    for position, row in enumerate(stop):
        if not isinstance(row, dict):
            path, operator, value, outcome, *target = row
            row = {"path": path, "operator": operator, "value": value, "outcome": outcome,
                   "target_field": target[0] if target else ""}
        _save(StopCondition(action=action, position=position, **row))
    if after is not None:
        after.next_action = action
        after.save(update_fields=["next_action"])
    errors = action.placeholder_errors()
    if errors:
        raise ValidationError(errors)
    return action


def _save(instance):
    instance.full_clean()
    instance.save()


def step(run):
    """Make ``run`` due now and let the dispatcher hand it to django-q2 (sync mode runs it here)."""
    # Due by the clock the dispatcher reads (runs.clock: the database's, sampled and carried) as well as by this
    # host's: when the sample lags a few ms, "now" by the host's clock is not yet due to the dispatcher, and a
    # run stepped again and again stayed pending (seen on PostgreSQL).
    Run.objects.filter(pk=run.pk, next_poll_at__isnull=False).update(next_poll_at=min(timezone.now(), clock.now()))
    dispatch_once()
    run.refresh_from_db()
    return run


def drive(run, limit=50):
    """Step ``run`` until it is finished (or ``limit`` steps); returns it."""
    for _ in range(limit):
        if run.status not in ACTIVE or run.next_poll_at is None:
            return run
        step(run)
    raise AssertionError(f"Run still {run.status} after {limit} steps: {run.reason}")
