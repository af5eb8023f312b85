"""What happens: runs of actions and the HTTP exchanges they made."""

import functools
import json
import secrets
from datetime import timedelta

from django.conf import settings
from django.db import models, transaction
from django.db.models.signals import post_delete
from django.dispatch import receiver
from django.urls import reverse
from django.utils import timezone

from integrations.crypto import EncryptedTextField
from integrations.models import Action, Integration

from . import clock


class Status(models.TextChoices):
    PENDING = "pending", "Pending"
    RUNNING = "running", "Running"
    POLLING = "polling", "Polling"
    WAITING_CALLBACK = "waiting_callback", "Waiting for callback"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    TIMED_OUT = "timed_out", "Timed out"
    CANCELLED = "cancelled", "Cancelled"
    SKIPPED = "skipped", "Skipped"
    WAITING_START = "waiting_start", "Waiting to start"
    WAITING_CONFIRMATION = "waiting_confirmation", "Waiting for confirmation"


# Runs the engine still has work to do for (sending, polling, waiting for the service).
WORKING = {Status.PENDING, Status.RUNNING, Status.POLLING, Status.WAITING_CALLBACK}
# Runs that wait for a person (or an API call): to start a step of a chain, to confirm a success. Never due.
WAITING = {Status.WAITING_START, Status.WAITING_CONFIRMATION}
ACTIVE = WORKING | WAITING
FINISHED = {Status.SUCCEEDED, Status.FAILED, Status.TIMED_OUT, Status.CANCELLED, Status.SKIPPED}
REFIREABLE = {Status.FAILED, Status.TIMED_OUT, Status.CANCELLED}
# A run that ends so lets its chain go on into the next action (a rehearsal skips a step, not the chain).
CHAIN_GOES_ON = {Status.SUCCEEDED, Status.SKIPPED}

# Every move a run may make; anything else is a bug and is refused.
_DECIDED = FINISHED - {Status.SKIPPED} | {Status.WAITING_CONFIRMATION}
TRANSITIONS = {
    Status.WAITING_START: {Status.PENDING, Status.CANCELLED},
    Status.PENDING: {Status.RUNNING, Status.CANCELLED, Status.FAILED, Status.SKIPPED},
    Status.RUNNING: {Status.POLLING, Status.WAITING_CALLBACK} | _DECIDED,
    Status.POLLING: _DECIDED,
    Status.WAITING_CALLBACK: _DECIDED,
    Status.WAITING_CONFIRMATION: {Status.SUCCEEDED, Status.FAILED, Status.CANCELLED},
}


class InvalidTransition(Exception):
    pass


def check_transition(current, status):
    """Raise InvalidTransition unless a run may move from ``current`` to ``status``."""
    if status not in TRANSITIONS.get(current, set()):
        raise InvalidTransition(f"A {Status(current).label.lower()} run cannot become {status}.")


def new_callback_token():
    return secrets.token_urlsafe(32)


class RunQuerySet(models.QuerySet):
    def active(self):
        return self.filter(status__in=ACTIVE)

    def finished(self):
        return self.filter(status__in=FINISHED)


class Run(models.Model):
    """One firing of an action."""

    # Both indexed by the runs list's indexes below, which lead with them.
    action = models.ForeignKey(Action, on_delete=models.PROTECT, related_name="runs", db_index=False)
    # Denormalised so that an integration with runs cannot be deleted and runs filter by it cheaply.
    integration = models.ForeignKey(Integration, on_delete=models.PROTECT, related_name="runs", db_index=False)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    reason = models.TextField(blank=True, help_text="Why the run is where it is, in words.")
    variables = models.JSONField(default=dict, blank=True)
    fields = models.JSONField(default=dict, blank=True, help_text="Values stored from responses.")
    rehearsal = models.BooleanField(default=False)

    attempt = models.PositiveIntegerField(
        default=0, help_text="Requests sent so far: the first request and every poll, each counted before it is sent."
    )
    polls = models.PositiveIntegerField(
        default=0, help_text="Requests that count toward the attempt limit (the first request too when it is poll 1)."
    )
    consecutive_errors = models.PositiveIntegerField(default=0)
    next_poll_at = models.DateTimeField(null=True, blank=True)
    # A claim on the run's due work: the dispatcher sets the three, the worker
    # that holds the token does the work. A lease that lapsed, or whose
    # holder (a runworkers process) stopped beating, is claimed again.
    lease_until = models.DateTimeField(null=True, blank=True)
    lease_token = models.CharField(max_length=32, blank=True, editable=False)
    lease_holder = models.CharField(max_length=32, blank=True, editable=False)
    # True from the moment a worker takes the run to send its request until
    # the answer is written back: found True by the next worker, it means the
    # request may have reached the service and its answer was lost.
    in_flight = models.BooleanField(default=False, editable=False)
    deadline_at = models.DateTimeField(null=True, blank=True)
    # The last poll's exchange and a digest of its answer, so that the same
    # answer again adds to that exchange's repeat count instead of a new row.
    last_exchange = models.ForeignKey(
        "Exchange", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", editable=False
    )
    last_answer_digest = models.CharField(max_length=64, blank=True, editable=False)
    callback_token = models.CharField(max_length=64, unique=True, default=new_callback_token, editable=False)

    refired_from = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="refires"
    )
    previous_run = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="next_runs",
        help_text="The run of the previous action of a chain.",
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=clock.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # Why a failed or timed-out run ended, reduced to its kind ("status:401", "timeout": runs.causes).
    cause = models.CharField(max_length=200, blank=True, default="", editable=False)
    # A run a schedule started, and the tick it started it for: one run per tick (unique_run_per_tick),
    # however many dispatchers claimed it. Indexed by that constraint, which leads with the schedule.
    schedule = models.ForeignKey("Schedule", null=True, blank=True, on_delete=models.SET_NULL, related_name="runs",
                                 db_index=False, editable=False)
    tick_at = models.DateTimeField(null=True, blank=True, editable=False,
                                   help_text="The tick of its schedule it was started for.")

    objects = RunQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # The dispatcher's query: due runs by next poll time.
            models.Index(fields=["next_poll_at"], name="run_due_idx", condition=models.Q(next_poll_at__isnull=False)),
            models.Index(fields=["status", "-created_at"], name="run_status_idx"),
            models.Index(fields=["finished_at"], name="run_finished_idx"),
            # The runs list in its order, whole, by date, by integration and by action: a page is read
            # from the index, not sorted from every matching run.
            models.Index(fields=["-created_at", "-id"], name="run_list_idx"),
            models.Index(fields=["integration", "-created_at", "-id"], name="run_integration_list_idx"),
            models.Index(fields=["action", "-created_at", "-id"], name="run_action_list_idx"),
            # The runs list filtered by cause (runs.admin.CauseListFilter): only failed and timed-out runs have one.
            models.Index(fields=["cause", "-created_at", "-id"], name="run_cause_idx",
                         condition=models.Q(status__in=["failed", "timed_out"])),
            # The overview's failure group (a cause, an action, finished since): what its runs list counts.
            models.Index(fields=["cause", "action", "finished_at"], name="run_cause_group_idx",
                         condition=models.Q(status__in=["failed", "timed_out"])),
        ]
        constraints = [
            # A run's chain goes on into one next run; refires of that next run share its previous_run.
            models.UniqueConstraint(fields=["previous_run"], name="unique_next_run_per_run",
                                    condition=models.Q(previous_run__isnull=False, refired_from__isnull=True)),
            # A schedule starts one run per tick, even if two dispatchers claimed it (runs.schedules).
            models.UniqueConstraint(fields=["schedule", "tick_at"], name="unique_run_per_tick",
                                    condition=models.Q(schedule__isnull=False)),
        ]

    def __str__(self):
        return f"Run {self.pk} of {self.action.name}"

    @property
    def is_active(self):
        return self.status in ACTIVE

    @property
    def is_finished(self):
        return self.status in FINISHED

    @property
    def can_refire(self):
        return self.status in REFIREABLE

    @property
    def can_cancel(self):
        # A run that has sent nothing yet may be cancelled whatever the action says.
        unsent = self.is_scheduled or self.status == Status.WAITING_START
        return self.status in ACTIVE and (self.action.cancelable or unsent)

    @property
    def is_scheduled(self):
        """Nothing sent yet, and its first request is due later (the action's fixed start time)."""
        return (self.status == Status.PENDING and self.attempt == 0 and self.next_poll_at is not None
                and self.next_poll_at > clock.now())

    @property
    def can_start(self):
        return self.status == Status.WAITING_START

    @property
    def can_confirm(self):
        return self.status == Status.WAITING_CONFIRMATION

    @property
    def requests_in_words(self):
        """How many requests were sent and how many of them count toward the attempt limit, in words."""
        sent = f"{self.attempt} request{'s' if self.attempt != 1 else ''} sent"
        limit = self.action.poll_max_attempts
        if not limit:
            return sent
        if self.polls == self.attempt:
            return f"{sent}, of at most {limit}"
        counted = f"{self.polls} count{'s' if self.polls == 1 else ''}"
        return f"{sent}; {counted} toward the limit of {limit}"

    @property
    def callback_url(self):
        return _callback_url(settings.INTEGRATIONS_PUBLIC_URL, self.callback_token)

    def check_transition(self, status):
        """Raise InvalidTransition unless the run may move from its status to ``status``."""
        check_transition(self.status, status)


class ExchangeKind(models.TextChoices):
    REQUEST = "request", "Request"
    POLL = "poll", "Poll"
    CALLBACK = "callback", "Callback received"
    CANCEL_WEBHOOK = "cancel_webhook", "Cancel webhook"
    OAUTH_TOKEN = "oauth_token", "OAuth token"
    # Not an HTTP call: the place in a long log where retention removed exchanges (runs.retention).
    PRUNED = "pruned", "Exchanges pruned"


class FailedPart(models.TextChoices):
    NONE = "", "Nothing"
    REQUEST = "request", "Request"
    RESPONSE = "response", "Response"


class Exchange(models.Model):
    """One logged HTTP call of a run: what was sent (redacted) and what came back."""

    # Indexed with the id below: a run's log reads newest first, a page at a time.
    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="exchanges", db_index=False)
    kind = models.CharField(max_length=20, choices=ExchangeKind.choices)
    attempt = models.PositiveIntegerField(default=0)
    sent = models.BooleanField(default=True, help_text="False for a rehearsal that only logs what it would send.")

    method = models.CharField(max_length=10, blank=True)
    url = models.TextField(blank=True)
    request_headers = models.JSONField(default=dict, blank=True)
    request_body = models.TextField(blank=True)

    status_code = models.PositiveIntegerField(null=True, blank=True)
    response_headers = models.JSONField(default=dict, blank=True)
    response_body = models.TextField(blank=True)
    response_size = models.BigIntegerField(null=True, blank=True, help_text="Bytes received, before any cap.")
    response_truncated = models.BooleanField(default=False)
    duration_ms = models.FloatField(null=True, blank=True)

    error = models.TextField(blank=True)
    failed_part = models.CharField(max_length=10, choices=FailedPart.choices, blank=True, default="")
    decision = models.TextField(blank=True, help_text="What the conditions decided.")

    repeat_count = models.PositiveIntegerField(default=1, help_text="Identical answers in a row.")
    pruned_count = models.PositiveIntegerField(
        null=True, blank=True, help_text="On a row of kind pruned: the exchanges removed at this place in the log."
    )
    last_attempt = models.PositiveIntegerField(null=True, blank=True, help_text="The attempt of the last repeat.")
    created_at = models.DateTimeField(default=timezone.now)
    last_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["run", "-id"], name="exchange_run_log_idx")]

    def __str__(self):
        if self.kind == ExchangeKind.PRUNED:
            return self.pruned_summary
        return f"{self.get_kind_display()} {self.method} {self.url}"

    @property
    def pruned_summary(self):
        """On a row of kind pruned, what it stands for: "1,234 exchanges pruned (attempts 101 to 1,334)"."""
        if self.kind != ExchangeKind.PRUNED:
            return ""
        count = self.pruned_count or 0
        last = self.last_attempt or self.attempt
        attempts = f"attempts {self.attempt:,} to {last:,}" if last != self.attempt else f"attempt {self.attempt:,}"
        return f"{count:,} exchange{'' if count == 1 else 's'} pruned ({attempts})"


def run_file_path(run_id, name):
    """Where a file of a run is stored, under MEDIA_ROOT (storage adds a suffix if the name is taken)."""
    return f"runs/{run_id}/{name}"


class RunFile(models.Model):
    """A response body an action kept (``save_as_file``): downloadable, and uploadable by a later run of the chain."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="files")
    name = models.CharField(max_length=255)
    content_type = models.CharField(max_length=255, blank=True, help_text="As the response declared it.")
    size = models.BigIntegerField(help_text="Bytes.")
    file = models.FileField(max_length=500)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["run", "name"], name="unique_file_name_per_run")]

    def __str__(self):
        return self.name


@receiver(post_delete, sender=RunFile)
def _remove_stored_file(sender, instance, **kwargs):
    """A file row deleted (pruned, or with its run) takes its stored bytes with it, once that is committed."""
    stored = instance.file
    if stored.name:
        transaction.on_commit(lambda: stored.storage.delete(stored.name))


class Heartbeat(models.Model):
    """A live `runworkers` process: leases it holds are free once it stops beating."""

    holder = models.CharField(max_length=32, primary_key=True)
    host = models.CharField(max_length=255)
    pid = models.PositiveIntegerField()
    started_at = models.DateTimeField(default=timezone.now)
    seen_at = models.DateTimeField(default=timezone.now)
    # When its beats last resumed after a break (runs.heartbeats.SETTLE): its start, or the end of an outage.
    since = models.DateTimeField(default=timezone.now)
    # What its cluster has counted so far (runs/metrics.py), written with every beat for /metrics.
    counters = models.JSONField(default=dict, editable=False)

    def __str__(self):
        return f"{self.host}:{self.pid}"


class Tally(models.Model):
    """Runs that ended in one hour, of one action, with one status, cause and duration bucket (runs.tallies).

    Kept up to date in the transaction that ends each run, so that the overview reads these few rows
    instead of counting the runs table.
    """

    hour = models.DateTimeField()
    action = models.ForeignKey(Action, on_delete=models.CASCADE, related_name="+", db_index=False)
    integration = models.ForeignKey(Integration, on_delete=models.CASCADE, related_name="+", db_index=False)
    status = models.CharField(max_length=20, choices=Status.choices)
    cause = models.CharField(max_length=200, blank=True, default="")
    # Which of runs.tallies.BUCKETS the runs' durations (end minus start) fell in.
    bucket = models.PositiveSmallIntegerField()
    count = models.PositiveIntegerField(default=0)
    duration_sum = models.FloatField(default=0, help_text="Seconds.")
    first_at = models.DateTimeField()
    last_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["hour", "action", "status", "cause", "bucket"],
                                               name="unique_tally")]

    def __str__(self):
        return f"{self.count} {self.status} at {self.hour:%Y-%m-%d %H}:00"


class OAuthToken(models.Model):
    """A cached OAuth 2.0 access token of an integration, encrypted at rest."""

    integration = models.OneToOneField(Integration, on_delete=models.CASCADE, related_name="oauth_token")
    access_token = EncryptedTextField()
    expires_at = models.DateTimeField()
    updated_at = models.DateTimeField(auto_now=True)


class IdempotencyKey(models.Model):
    """An API client's Idempotency-Key for a request that creates or changes something: a retry with it
    gets the first answer back (integrations_site/idempotency.py).

    Kept with the answer it got (always a success: a refused request keeps no
    key, so a corrected retry may use it again) for KEEP hours.
    """

    KEEP = timedelta(hours=24)

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    # A digest of what the request asked for, so that the key reused for something else is refused.
    fingerprint = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField()
    # The answer's body, encrypted ({"sealed": ...}): it may hold a secret shown once (a webhook's).
    response = models.JSONField()
    # The answer's headers that a replay repeats (Location).
    headers = models.JSONField(default=dict)

    def keep(self, body):
        from integrations import crypto

        self.response = {"sealed": crypto.encrypt(json.dumps(body))}

    def answer(self):
        """The answer's body as it was given."""
        from integrations import crypto

        if "sealed" not in self.response:
            return self.response
        return json.loads(crypto.decrypt(self.response["sealed"]))
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="unique_idempotency_key_per_user")]
        indexes = [models.Index(fields=["created_at"], name="idempotency_key_age_idx")]

    def __str__(self):
        return f"{self.key} of {self.user}"


@functools.lru_cache(maxsize=16384)
def _callback_url(public_url, token):
    # Every poll's context offers it; reversing a URL costs more than the rest of the context.
    return public_url.rstrip("/") + reverse("callback", args=[token])


class ScheduleKind(models.TextChoices):
    CRON = "cron", "Cron expression"
    INTERVAL = "interval", "Every N seconds"


class MissedTicks(models.TextChoices):
    SKIP = "skip", "Skip them"
    RUN_ONCE = "run_once", "Run once for them"


class Schedule(models.Model):
    """An action started on a schedule: a cron expression in a time zone, or every N seconds (runs.schedules).

    next_tick_at is on the database's clock (runs.clock); a dispatcher claims a
    tick by moving it on with a compare-and-set, in the transaction that
    creates the tick's run.
    """

    name = models.CharField(max_length=200)
    action = models.ForeignKey(Action, on_delete=models.CASCADE, related_name="schedules")
    kind = models.CharField(max_length=10, choices=ScheduleKind.choices, default=ScheduleKind.CRON)
    cron = models.CharField(
        max_length=200, blank=True,
        help_text="Five fields: minute hour day-of-month month day-of-week (\"*/15 9-17 * * mon-fri\"), "
                  "read in the time zone below. For a cron schedule.")
    every_seconds = models.PositiveIntegerField(
        null=True, blank=True, help_text="Seconds between two starts (1 or more). For an interval schedule.")
    timezone = models.CharField(
        max_length=64, default="UTC",
        help_text="An IANA time zone (\"Europe/Paris\") the cron expression is read in; daylight saving time "
                  "is followed.")
    variables = models.JSONField(default=dict, blank=True, help_text="The variables of every run it starts.")
    enabled = models.BooleanField(default=True)
    missed = models.CharField(
        max_length=10, choices=MissedTicks.choices, default=MissedTicks.SKIP,
        help_text="Ticks that passed while no cluster ran (more than INTEGRATIONS_SCHEDULE_GRACE seconds late): "
                  "skipped, or one run for all of them.")
    next_tick_at = models.DateTimeField(null=True, blank=True, editable=False,
                                        help_text="When it starts a run next (none while disabled).")
    last_tick_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_run = models.ForeignKey(Run, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
                                 editable=False)
    last_result = models.TextField(blank=True, editable=False, help_text="What its last tick did, in words.")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+", editable=False)
    created_at = models.DateTimeField(default=clock.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    # What decides when it ticks: a change to any of them starts its ticks afresh from now.
    TIMING = ("kind", "cron", "every_seconds", "timezone", "enabled")
    # What the dispatcher writes: a save from a form that was read before a tick leaves them as they are.
    TICK_STATE = ("next_tick_at", "last_tick_at", "last_run", "last_result")

    class Meta:
        ordering = ["name", "id"]
        indexes = [
            # The dispatcher's query, a few times a second: enabled schedules by next tick.
            models.Index(fields=["next_tick_at"], name="schedule_due_idx", condition=models.Q(enabled=True)),
        ]

    def __str__(self):
        return self.name

    def clean(self):
        from .schedules import check

        check(self)

    def save(self, *args, **kwargs):
        from .schedules import following

        if self.pk is not None and not kwargs.get("update_fields"):
            stored = Schedule.objects.filter(pk=self.pk).values(*self.TIMING).first()
            if stored is not None and all(stored[name] == getattr(self, name) for name in self.TIMING):
                fields = [f.attname for f in self._meta.concrete_fields
                          if not f.primary_key and f.name not in self.TICK_STATE]
                return super().save(*args, update_fields=fields, **kwargs)
        if not kwargs.get("update_fields"):
            self.next_tick_at = following(self, clock.now()) if self.enabled else None
        super().save(*args, **kwargs)
        if self.next_tick_at is not None:
            # Its next tick may come before anything the sleeping dispatcher waits for: wake it (at the
            # commit, or now in autocommit, after the row is there).
            from . import wakeup

            wakeup.notify(kwargs.get("using"))
