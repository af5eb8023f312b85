"""django-q2 tasks: plain functions named by dotted path; they take ids, not objects."""

from . import engine


def process_batch(run_ids, token):
    return engine.process_batch(run_ids, token)
