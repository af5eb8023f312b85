"""django-q2 tasks: plain functions named by dotted path; they take ids, not objects."""

import logging
import traceback

from django.db import InterfaceError, OperationalError
from django_q.conf import Conf

from . import batch
from .outages import Outage

log = logging.getLogger(__name__)
_database_down = Outage(log, "Processing batches")


def process_batch(run_ids, token):
    """The due work of a batch of runs (see runs/batch.py); never raises.

    A fault in one run already becomes that run's failure; what is left is the
    batch itself failing (the database went away), and its runs are taken
    again when their leases lapse. Exception texts can quote values (secrets
    included), so only the stack and the exception's type are logged, and
    nothing reaches django-q2's failed-task table.
    """
    try:
        handled = batch.process(run_ids, token, wait=Conf.SYNC)
        _database_down.ok()
        return handled
    except (OperationalError, InterfaceError) as exc:  # logged once a minute while the database is down
        _database_down.failed(exc)
        return 0
    except Exception as exc:
        stack = "".join(traceback.format_tb(exc.__traceback__))
        log.error("A batch of %d runs failed (%s); they are taken again when their leases lapse.\n%s",
                  len(run_ids), exc.__class__.__name__, stack)
        return 0
