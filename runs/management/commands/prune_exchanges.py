from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand
from django.utils import timezone

from runs.models import Exchange, RunFile


class Command(BaseCommand):
    help = ("Delete the exchanges and files of runs that finished longer ago than the retention "
            "(INTEGRATIONS_EXCHANGE_RETENTION_DAYS).")

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=settings.INTEGRATIONS_EXCHANGE_RETENTION_DAYS)

    def handle(self, *args, days, **options):
        cutoff = timezone.now() - timedelta(days=days)
        deleted, _ = Exchange.objects.filter(run__finished_at__lt=cutoff).delete()
        # Each file row deleted removes its stored bytes (runs.models).
        files, _ = RunFile.objects.filter(run__finished_at__lt=cutoff).delete()
        self.stdout.write(f"Deleted {deleted} exchanges and {files} files of runs finished before "
                          f"{cutoff:%Y-%m-%d %H:%M}.")
