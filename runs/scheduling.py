"""When a run is due next, and how long a worker may hold it: small functions of times, no database."""

import random
from datetime import timedelta

from urllib3.exceptions import InvalidHeader
from urllib3.util.retry import Retry

# Time a worker may need beyond a request's own timeouts: evaluating the
# answer and writing it back, on a busy machine.
LEASE_MARGIN = 15.0
# The longest wait a Retry-After can impose: a service asking for more is
# asked again after a day (and a huge value cannot overflow the clock).
MAX_RETRY_AFTER = 86400.0


def backoff_delay(interval, polls, *, exponential, cap):
    """Seconds until the next poll after poll number ``polls`` (0: after a first request that is not a poll).

    Fixed backoff waits ``interval`` every time; exponential doubles it after
    each poll, up to ``cap``.
    """
    if not exponential:
        return interval
    return min(interval * 2 ** max(polls - 1, 0), max(cap, interval))


def next_due(now, delay, *, jitter=False, retry_after=None, deadline=None, rng=random):
    """The time of the next attempt: ``delay`` seconds from ``now`` (the moment the answer arrived).

    Jitter spreads it by up to ±10%; a Retry-After the service sent is always
    honoured (it only ever makes the wait longer); nothing is due after the
    run's deadline, when the run times out instead.
    """
    if jitter:
        delay *= rng.uniform(0.9, 1.1)
    if retry_after is not None:
        delay = max(delay, min(retry_after, MAX_RETRY_AFTER))
    due = now + timedelta(seconds=delay)
    if deadline is not None and due > deadline:
        return deadline
    return due


def retry_after_seconds(headers):
    """Seconds the service asked us to wait (Retry-After as seconds or an HTTP date), or None."""
    value = headers.get("Retry-After") if headers else None
    if not value:
        return None
    try:
        return Retry().parse_retry_after(value)
    except InvalidHeader:
        return None


def lease_seconds(connect_timeout, read_timeout, *, token_call=False):
    """How long a worker may hold a run it is sending for before another may take it.

    A request ends within its connect + read timeouts (http.send enforces the
    total); an OAuth token call before it may take as long again.
    """
    budget = connect_timeout + read_timeout
    return budget * (2 if token_call else 1) + LEASE_MARGIN
