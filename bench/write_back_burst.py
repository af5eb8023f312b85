"""The write-back of a burst of finishing runs, alone: what each ended run costs the writer thread.

    .venv/bin/python bench/write_back_burst.py                    # SQLite, 2,000 runs in groups of 50
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/integrations_bench .venv/bin/python bench/write_back_burst.py

N runs polling (leased under a token, as a batch holds them), whose action
has a next action (it waits for a start) and a webhook subscription, are
ended in success by ``batch.write_back`` in groups of --group (the writer
thread writes up to 500 at once, mostly a few dozen), in this process. It
gives the statements, the wall time and the CPU time per ended run: the
queue a burst builds in the one writer thread of a worker is wall time per
run times the runs finishing. CPU and statements hold on a loaded machine;
the wall time includes the database's round trips.
"""

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--group", type=int, default=50)
    args = parser.parse_args()
    from bench.poll_benchmark import fresh_database

    os.environ["DATABASE_URL"] = fresh_database(os.environ.get("DATABASE_URL", ""), tempfile.mkdtemp())
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "integrations_site.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, reset_queries
    from django.utils import timezone

    call_command("migrate", verbosity=0)
    from integrations.models import Action, Integration, StopCondition
    from runs import batch, due_work
    from runs.definitions import definition_for
    from runs.models import Run, Status
    from webhooks.models import Subscription

    integration = Integration.objects.create(name="Bench", slug="bench", base_url="http://127.0.0.1:9")
    follow = Action.objects.create(integration=integration, name="follow", slug="follow", method="GET", url="/follow",
                                   auto_start=False)
    action = Action.objects.create(integration=integration, name="poll", slug="poll", method="GET", url="/poll",
                                   polling_mode="poll", poll_interval=10, next_action=follow)
    StopCondition.objects.create(action=action, path="status", value="done", outcome="success")
    Subscription.objects.create(name="bench", url="http://127.0.0.1:9/hook/", events=["run.succeeded"])
    token = "t" * 32
    Run.objects.bulk_create([Run(action=action, integration=integration, status=Status.POLLING,
                                 started_at=timezone.now(), lease_token=token) for _ in range(args.runs)],
                            batch_size=1000)
    redactor = definition_for(action).redactor
    runs = list(Run.objects.filter(action=action).order_by("pk"))
    groups = [[batch.Done(due_work.move(due_work.unchanged(run), Status.SUCCEEDED, "Done.", timezone.now()), token,
                          redactor) for run in runs[start:start + args.group]]
              for start in range(0, len(runs), args.group)]
    connection.force_debug_cursor = True
    reset_queries()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for group in groups:
        batch.write_back(group)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    statements = len(connection.queries)
    ended = Run.objects.filter(action=action, status=Status.SUCCEEDED).count()
    following = Run.objects.filter(action=follow).count()
    print(f"{connection.vendor}: {ended} runs ended in groups of {args.group} ({following} next runs): "
          f"{statements / ended:.2f} statements, {wall / ended * 1000:.3f} ms wall, {cpu / ended * 1000:.3f} ms CPU "
          f"per ended run; {wall:.2f} s for all")


if __name__ == "__main__":
    main()
