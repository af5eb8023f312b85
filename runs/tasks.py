"""django-q2 tasks: plain functions named by dotted path; they take ids, not objects."""

import logging
import traceback

from django_q.conf import Conf

from . import batch

log = logging.getLogger(__name__)


def process_batch(run_ids, token):
    """The due work of a batch of runs (see runs/batch.py); never raises.

    A fault in one run already becomes that run's failure; what is left is the
    batch itself failing (the database went away), and its runs are taken
    again when their leases lapse. Exception texts can quote values (secrets
    included), so only the stack and the exception's type are logged, and
    nothing reaches django-q2's failed-task table.
    """
    try:
        return batch.process(run_ids, token, wait=Conf.SYNC)
    except Exception as exc:
        stack = "".join(traceback.format_tb(exc.__traceback__))
        log.error("A batch of %d runs failed (%s); they are taken again when their leases lapse.\n%s",
                  len(run_ids), exc.__class__.__name__, stack)
        return 0
