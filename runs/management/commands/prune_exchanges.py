from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import connection
from django.utils import timezone

from runs.retention import Retention


class Command(BaseCommand):
    help = ("Apply retention now, as the cluster does by itself: delete the exchanges and files of runs that "
            "finished longer ago than INTEGRATIONS_EXCHANGE_RETENTION_DAYS, and shorten every log to its first "
            "and last INTEGRATIONS_EXCHANGES_KEPT_PER_RUN exchanges.")

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=settings.INTEGRATIONS_EXCHANGE_RETENTION_DAYS)
        parser.add_argument(
            "--vacuum", action="store_true",
            help="SQLite: rewrite the database file afterwards (VACUUM), which gives every free page back and "
                 "turns on incremental vacuuming for a file made before it. It blocks every writer while it "
                 "runs: stop the workers first.",
        )

    def handle(self, *args, days, vacuum, **options):
        cutoff = timezone.now() - timedelta(days=days)
        done = Retention(days=days).finish()
        self.stdout.write(f"Deleted {done.old} exchanges and {done.files} files of runs finished before "
                          f"{cutoff:%Y-%m-%d %H:%M}; pruned {done.middle} exchanges from the middle of long logs.")
        if vacuum:
            self.vacuum()

    def vacuum(self):
        if connection.vendor != "sqlite":
            self.stdout.write("Not SQLite: nothing to vacuum (PostgreSQL's autovacuum reuses the space).")
            return
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA auto_vacuum = INCREMENTAL")
            cursor.execute("VACUUM")
            cursor.execute("PRAGMA page_count")
            pages = cursor.fetchone()[0]
            cursor.execute("PRAGMA page_size")
            size = pages * cursor.fetchone()[0]
        self.stdout.write(f"Vacuumed: the database file holds {size / 1024 / 1024:.1f} MiB.")
