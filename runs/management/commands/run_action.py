import sys
import time

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from integrations.models import Action
from runs.heartbeats import live_clusters
from runs.models import WORKING, Exchange, Status
from runs.services import RunRefused, start_run
from runs.waiting import wait_for_change

PROGRESS_EVERY = 1.0


def workers_missing(run, waited):
    """A run still pending after a few seconds while no runworkers process beats: nobody will send it."""
    return waited > 5 and run.status == Status.PENDING and not live_clusters().exists()


class Command(BaseCommand):
    help = "Start a run of an action (by id or INTEGRATION/ACTION slugs); with --wait, follow it to the end."

    def add_arguments(self, parser):
        parser.add_argument("action", help="Action id, or integration-slug/action-slug")
        parser.add_argument("--var", action="append", default=[], metavar="NAME=VALUE", help="A variable (repeatable)")
        parser.add_argument("--rehearsal", action="store_true", help="A rehearsal run")
        parser.add_argument("--wait", action="store_true", help="Print each attempt; exit non-zero unless it succeeds")
        parser.add_argument("--timeout", type=float, default=None, help="With --wait: give up after this many seconds")

    def handle(self, *args, action, var, rehearsal, wait, timeout, **options):
        target = self._action(action)
        variables = {}
        for item in var:
            name, sep, value = item.partition("=")
            if not sep:
                raise CommandError(f"--var takes NAME=VALUE, not {item!r}.")
            variables[name.strip()] = value
        try:
            run = start_run(target, variables, rehearsal=rehearsal)
        except ValidationError as exc:
            faults = "; ".join(f"{field}: {' '.join(messages)}" for field, messages in exc.message_dict.items())
            raise CommandError(f"The run was refused: {faults}") from None
        except RunRefused as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"Run {run.pk} of {target} started.")
        if not wait:
            return
        self._follow(run, timeout)

    def _action(self, text):
        try:
            if text.isdigit():
                return Action.objects.select_related("integration").get(pk=int(text))
            integration, _, slug = text.partition("/")
            return Action.objects.select_related("integration").get(integration__slug=integration, slug=slug)
        except Action.DoesNotExist:
            raise CommandError(f"No action {text!r}: give its id or integration-slug/action-slug.") from None

    def _follow(self, run, timeout):
        started = time.monotonic()
        shown = {}
        hinted = False
        while True:
            for exchange in Exchange.objects.filter(run=run).order_by("id"):
                seen = (exchange.repeat_count, exchange.pruned_count)
                if shown.get(exchange.pk) != seen:
                    shown[exchange.pk] = seen
                    self.stdout.write(self._line(exchange))
            run.refresh_from_db()
            if run.status not in WORKING:
                break
            elapsed = time.monotonic() - started
            if timeout and elapsed >= timeout:
                raise CommandError(f"Run {run.pk} is still {run.status} after {timeout:g} s.")
            if not hinted and workers_missing(run, elapsed):
                self.stderr.write("The run is still pending and no workers have been seen for a few seconds: "
                                  "is `manage.py runworkers` running?")
                hinted = True
            # Woken at once when the status changes (as the API's ?wait=); new attempts are shown each second.
            wait_for_change(run, min(PROGRESS_EVERY, timeout - elapsed) if timeout else PROGRESS_EVERY)
        self.stdout.write(f"Run {run.pk} {run.status}: {run.reason}")
        if run.status != Status.SUCCEEDED:
            sys.exit(1)

    def _line(self, exchange):
        if exchange.kind == "pruned":
            return f"  {exchange.pruned_summary}"
        repeat = f"-{exchange.last_attempt} (x{exchange.repeat_count})" if exchange.repeat_count > 1 else ""
        if exchange.kind == "callback":
            outcome = "received"
        else:
            outcome = exchange.error or (f"{exchange.status_code}" if exchange.status_code else "not sent")
        return (f"  {exchange.get_kind_display()} #{exchange.attempt}{repeat}: {exchange.method} {exchange.url} "
                f"-> {outcome.rstrip('.')}. {exchange.decision}").rstrip()
