"""Reading chains: the steps of a run's chain, the latest attempt of each, and how the chain stands.

A chain's runs are linked by ``previous_run`` (the run of the step before,
the attempt that succeeded) and a step's attempts by ``refired_from``. The
services that move a chain on are in runs/services.py (``go_on``).
"""

from dataclasses import dataclass

from .models import CHAIN_GOES_ON, WAITING, WORKING, Run

# Definitions refuse a loop of next actions (A -> B -> A), but one made before that, or in the database, must
# not hang a page: it shows this many steps at most.
MAX_STEPS = 100


class ChainStatus:
    RUNNING = "running"
    WAITING = "waiting"
    FAILED = "failed"
    SUCCEEDED = "succeeded"

    CHOICES = [(RUNNING, "Running"), (WAITING, "Waiting for a person"), (FAILED, "Failed"),
               (SUCCEEDED, "Succeeded")]


@dataclass
class Step:
    """One step of a chain: the attempt shown (the one the chain went on from, else the latest) and how
    many attempts it took."""

    number: int
    run: Run
    attempts: int


def chain_of(run):
    """The steps of ``run``'s chain, first to last (a run outside any chain is a chain of one step)."""
    head = run
    seen = {head.pk}
    while head.previous_run_id and head.previous_run_id not in seen:
        head = Run.objects.only("id", "previous_run_id", "refired_from_id").get(pk=head.previous_run_id)
        seen.add(head.pk)
    while head.refired_from_id and head.refired_from_id not in seen:
        head = Run.objects.only("id", "previous_run_id", "refired_from_id").get(pk=head.refired_from_id)
        seen.add(head.pk)
    steps, root = [], head
    while root is not None and len(steps) < MAX_STEPS:
        attempts = _attempts(root)
        ids = [attempt.pk for attempt in attempts]
        following = (Run.objects.filter(previous_run__in=ids, refired_from__isnull=True)
                     .only("id", "previous_run_id").order_by("id").first())
        went_on = following.previous_run_id if following else None
        shown = next((attempt for attempt in attempts if attempt.pk == went_on), attempts[-1])
        steps.append(Step(number=len(steps) + 1, run=shown, attempts=len(attempts)))
        root = following
    return steps


def steps_to_come(steps):
    """The actions of the chain's steps not run yet, in order: after the last step's action, its next actions as
    defined now (a chain counts every step it defines, not only those that ran)."""
    action = steps[-1].run.action.next_action if steps else None
    seen = {step.run.action_id for step in steps}
    actions = []
    while action is not None and action.pk not in seen and len(steps) + len(actions) < MAX_STEPS:
        seen.add(action.pk)
        actions.append(action)
        action = action.next_action
    return actions


def _attempts(root):
    """``root`` and every run refired from it, however indirectly, oldest first (with their actions)."""
    found, frontier = [], [root.pk]
    while frontier:
        runs = list(Run.objects.filter(pk__in=frontier).select_related("action"))
        found.extend(runs)
        frontier = list(Run.objects.filter(refired_from__in=frontier).values_list("pk", flat=True))
    return sorted(found, key=lambda attempt: attempt.pk)


def chain_status(steps):
    """How a chain stands: running while a step works, waiting while one waits for a person, failed when a
    step's latest attempt failed, timed out or was cancelled, succeeded when the last step succeeded."""
    statuses = [step.run.status for step in steps]
    if any(status in WORKING for status in statuses):
        return ChainStatus.RUNNING
    if any(status in WAITING for status in statuses):
        return ChainStatus.WAITING
    if any(status not in CHAIN_GOES_ON for status in statuses):
        return ChainStatus.FAILED
    last = steps[-1].run
    if last.action.next_action_id and last.status in CHAIN_GOES_ON:
        return ChainStatus.RUNNING  # its next run is being created
    return ChainStatus.SUCCEEDED


def chain_status_label(status):
    return dict(ChainStatus.CHOICES)[status]

