"""Schedules: their ticks (cron expressions with croniter, or every N seconds), and the dispatcher's claim of
each tick, once, whatever the number of clusters.

A tick is claimed by a compare-and-set of the schedule's next_tick_at (UPDATE
... WHERE next_tick_at = <the tick>) in the transaction that creates its run,
which records its schedule and tick under a unique constraint: a dispatcher
killed before it commits leaves the tick due for the next one, and two that
claim it anyway cannot both create a run. Times are on the database's clock
(runs.clock), as runs' due times are.

A tick more than INTEGRATIONS_SCHEDULE_GRACE seconds late (no cluster ran, or
the database was down) is missed: skipped, or, with ``missed = run_once``, one
run for the latest of the ticks missed together.
"""

import logging
import math
from datetime import datetime, timedelta, timezone as dt_timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from integrations import safejson

from . import clock, events, tallies
from .models import MissedTicks, Run, Schedule, ScheduleKind, Status

log = logging.getLogger(__name__)

# Missed ticks counted one by one at most (a cron schedule down for a year has half a million).
COUNT_LIMIT = 10_000


# --- checking ------------------------------------------------------------------------------------------------


def zone(name):
    """The ZoneInfo of ``name``; ValidationError when there is none."""
    try:
        if not name or name != name.strip() or name.startswith(("/", ".")) or ".." in name:
            raise ValueError(name)
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise ValidationError(f"{name!r} is not a time zone: use an IANA name such as \"UTC\" or "
                              "\"Europe/Paris\".", code="invalid") from None


def check_cron(expression):
    """Refuse what is not a five-field cron expression croniter reads, in words."""
    fields = expression.split()
    if len(fields) != 5:
        raise ValidationError(
            f"A cron expression has five fields (minute hour day-of-month month day-of-week), "
            f"this one has {len(fields)}.", code="invalid")
    try:
        croniter(expression, datetime(2000, 1, 1, tzinfo=dt_timezone.utc)).get_next(datetime)
    except Exception as exc:  # croniter raises its own errors, ValueError, KeyError... for what it cannot read
        raise ValidationError(f"This is not a cron expression croniter can read: {exc}.", code="invalid") from None


def check(schedule):
    """Every fault of ``schedule``, by field: its timing, time zone and variables (as the action takes them)."""
    errors = {}
    if schedule.kind == ScheduleKind.CRON:
        if not (schedule.cron or "").strip():
            errors["cron"] = ValidationError("A cron schedule needs a cron expression.", code="required")
        else:
            try:
                check_cron(schedule.cron)
            except ValidationError as exc:
                errors["cron"] = exc
    elif schedule.kind == ScheduleKind.INTERVAL:
        if not schedule.every_seconds:
            errors["every_seconds"] = ValidationError("An interval schedule needs its seconds between starts "
                                                      "(1 or more).", code="required")
        elif schedule.every_seconds > 366 * 86400:
            errors["every_seconds"] = ValidationError("At most a year (31,622,400 seconds).", code="invalid")
    try:
        zone(schedule.timezone)
    except ValidationError as exc:
        errors["timezone"] = exc
    try:
        safejson.check(schedule.variables)
    except safejson.Fault as fault:
        errors["variables"] = ValidationError(str(fault), code="invalid")
    if schedule.action_id is not None and "variables" not in errors:
        try:
            schedule.variables = schedule.action.validate_variables(schedule.variables)
        except ValidationError as exc:
            errors["variables"] = _variable_messages(exc)
    if errors:
        raise ValidationError(errors)


def _variable_messages(exc):
    if hasattr(exc, "error_dict"):
        faults = exc.message_dict
        if list(faults) == ["variables"]:
            return ValidationError(faults["variables"], code="invalid")
        return ValidationError([f"{name}: {' '.join(messages)}" for name, messages in faults.items()],
                               code="invalid")
    return exc


# --- ticks ---------------------------------------------------------------------------------------------------


def following(schedule, after):
    """The first tick of ``schedule`` strictly after ``after`` (an aware datetime), in UTC, to the second.

    An interval schedule's first tick is ``every_seconds`` after ``after``
    (its later ticks follow the last one, not the time it ran).
    """
    after = after.astimezone(dt_timezone.utc)
    if schedule.kind == ScheduleKind.INTERVAL:
        return after.replace(microsecond=0) + timedelta(seconds=schedule.every_seconds)
    local = after.astimezone(zone(schedule.timezone))
    return croniter(schedule.cron, local).get_next(datetime).astimezone(dt_timezone.utc)


def _after_tick(schedule, tick):
    """The tick after ``tick``, itself a tick."""
    if schedule.kind == ScheduleKind.INTERVAL:
        return tick + timedelta(seconds=schedule.every_seconds)
    return following(schedule, tick)


def _missed(schedule, tick, cutoff):
    """Ticks from ``tick`` (late) that are at or before ``cutoff`` (now minus the grace):
    (how many, at most COUNT_LIMIT + 1; the last of them; the first tick after them)."""
    if schedule.kind == ScheduleKind.INTERVAL:
        every = schedule.every_seconds
        count = math.floor((cutoff - tick).total_seconds() / every) + 1
        last = tick + timedelta(seconds=(count - 1) * every)
        return count, last, last + timedelta(seconds=every)
    count, last, nxt = 0, tick, tick
    while nxt <= cutoff:
        count, last = count + 1, nxt
        if count > COUNT_LIMIT:
            # Too many to count: the last one before the cutoff, found from the cutoff's side.
            last = croniter(schedule.cron, cutoff.astimezone(zone(schedule.timezone))).get_prev(datetime)
            last = last.astimezone(dt_timezone.utc)
            nxt = following(schedule, last)
            if nxt <= cutoff:  # the cutoff is itself a tick
                last, nxt = nxt, following(schedule, nxt)
            break
        nxt = following(schedule, nxt)
    return count, last, nxt


def _when(moment):
    return f"{moment.astimezone(dt_timezone.utc):%Y-%m-%d %H:%M:%S} UTC"


def _ticks(count):
    if count > COUNT_LIMIT:
        return f"more than {COUNT_LIMIT:,} ticks"
    return f"{count:,} tick{'' if count == 1 else 's'}"


# --- the dispatcher's claim ----------------------------------------------------------------------------------


def tick_due(*, now=None, limit=100):
    """Start a run for every due tick of every enabled schedule; returns how many ticks were claimed.

    Cheap when nothing is due: one query on the schedule_due_idx index.
    """
    now = now or clock.now()
    due = list(Schedule.objects.filter(enabled=True, next_tick_at__lte=now)
               .order_by("next_tick_at").values_list("pk", "next_tick_at")[:limit])
    claimed = 0
    for pk, tick in due:
        said = ""
        while tick is not None and tick <= now:
            tick, said = claim(pk, tick, now, said_before=said)
            claimed += tick is not None
    return claimed


def claim(pk, tick, now, *, said_before=""):
    """Claim schedule ``pk``'s tick ``tick`` and start its run (or handle the ticks missed from it).

    Returns (the schedule's next tick, what was missed in words) when this
    call claimed it, (None, "") when another did first (or the schedule
    changed meanwhile). ``said_before``: what the claim just before said of
    missed ticks, kept at the start of this one's result.
    """
    grace = timedelta(seconds=settings.INTEGRATIONS_SCHEDULE_GRACE)
    with transaction.atomic():
        schedule = Schedule.objects.select_related("action__integration").filter(
            pk=pk, enabled=True, next_tick_at=tick).first()
        if schedule is None:
            return None, ""
        start_for, missed = tick, ""
        if now - tick > grace:
            count, last, nxt = _missed(schedule, tick, now - grace)
            missed = f"{_ticks(count)} missed while no cluster ran ({_when(tick)}"
            missed += f" to {_when(last)})" if count > 1 else ")"
            if schedule.missed == MissedTicks.RUN_ONCE:
                start_for, result = last, f"{missed[0].upper()}{missed[1:]}: one run for them."
            else:
                start_for, result = None, f"Skipped {missed}."
        else:
            nxt, result = _after_tick(schedule, tick), ""
        # The compare-and-set: of the dispatchers that read this tick, one moves it on; the others update nothing
        # (PostgreSQL makes them wait for its commit and read the row again; SQLite lets one writer in at a time).
        if not Schedule.objects.filter(pk=pk, enabled=True, next_tick_at=tick).update(next_tick_at=nxt):
            return None, ""
        run = None
        if start_for is not None:
            run, said = _start(schedule, start_for)
            result = f"{result} {said}".strip()
        if said_before and not missed:
            result = f"{said_before} {result}"
        changes = {"last_tick_at": start_for or schedule.last_tick_at, "last_result": result[:2000]}
        if run is not None:
            changes["last_run"] = run
        Schedule.objects.filter(pk=pk).update(**changes)
    return nxt, (result if missed else "")


def _start(schedule, tick):
    """The run of ``schedule`` for ``tick``, and what happened in words. A refusal (variables that no longer
    fit, an archived integration) is a failed run that says why, as a chain's next step that cannot start."""
    from .services import RunRefused, start_run

    try:
        with transaction.atomic():  # a savepoint: a duplicate or a refusal leaves the claim standing
            try:
                run = start_run(schedule.action, schedule.variables, user=schedule.created_by,
                                schedule=schedule, tick=tick)
                return events.recorded(run), f"Started run {run.pk} for the tick at {_when(tick)}."
            except (ValidationError, RunRefused) as exc:
                messages = exc.messages if isinstance(exc, ValidationError) else [str(exc)]
                now = clock.now()
                failed = Run.objects.create(
                    action=schedule.action, integration=schedule.action.integration, variables=schedule.variables,
                    created_by=schedule.created_by, schedule=schedule, tick_at=tick, status=Status.FAILED,
                    finished_at=now, cause="schedule",
                    reason=f"The schedule {schedule.name} could not start {schedule.action.name}: "
                           f"{' '.join(messages)}"[:2000])
                tallies.record([tallies.ended(failed)])
                return events.recorded(failed), f"Run {failed.pk} for the tick at {_when(tick)} could not start."
    except IntegrityError:
        # Another dispatcher's claim of this tick committed with its run (possible only if the tick was set back,
        # by a form read before that claim): the constraint keeps the one run.
        return None, f"The tick at {_when(tick)} had its run already."
