"""`manage.py runworkers` with the row counter of count_writes installed."""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "integrations_site.settings")

import django  # noqa: E402

django.setup()

from bench.count_writes import install  # noqa: E402

install(os.environ["BENCH_DIR"])

from django.core.management import call_command  # noqa: E402

call_command("runworkers")
