"""Helpers for engine tests: define actions against a local server, and do due work now."""

from django.utils import timezone

from integrations.models import Action, Integration, StopCondition
from runs.dispatch import dispatch_once
from runs.models import ACTIVE, Run


def make_action(base_url, *, integration=None, stop=(), **fields):
    """An action on an integration whose base URL is ``base_url``.

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
    action.full_clean()
    action.save()
    for position, row in enumerate(stop):
        if not isinstance(row, dict):
            path, operator, value, outcome, *target = row
            row = {"path": path, "operator": operator, "value": value, "outcome": outcome,
                   "target_field": target[0] if target else ""}
        condition = StopCondition(action=action, position=position, **row)
        condition.full_clean()
        condition.save()
    return action


def step(run):
    """Make ``run`` due now and let the dispatcher hand it to django-q2 (sync mode runs it here)."""
    Run.objects.filter(pk=run.pk, next_poll_at__isnull=False).update(next_poll_at=timezone.now())
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
