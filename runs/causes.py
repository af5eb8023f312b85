"""Why a run failed, reduced to its kind: the ``cause`` a failed or timed-out run keeps beside its reason.

The reason says it in full ("The first request failed: The service answered
401, which is not an accepted status (200-299)."); the cause is the short key
runs are grouped and filtered by ("status:401"), so that the overview can say
that 200 runs failed for one cause without reading 200 reasons. Every place
that ends a run failed or timed out names one (``check``).
"""

from integrations.conditions import Operator

from .models import Status

# Keys that stand for themselves, with their words.
LABELS = {
    "timeout": "Timed out waiting for the service",
    "connection": "Connection failed",
    "tls": "TLS failed",
    "too_slow": "Answer too slow to arrive",
    "blocked": "Address refused by the outbound guard",
    "auth": "No access token",
    "attempts": "Attempts exhausted",
    "time_limit": "Time limit reached",
    "template": "Request could not be built",
    "continue_if": "continue_if not met",
    "mapping": "A required mapping found nothing",
    "unreadable": "Answer could not be read",
    "too_large": "Answer too large to keep",
    "interrupted": "Interrupted: not sent again",
    "rejected": "Success rejected by a person",
    "chain": "Chain could not go on",
    "schedule": "Schedule could not start it",
    "internal": "Internal error",
    "other": "Other",
}
ENDS_WITH_A_CAUSE = {Status.FAILED, Status.TIMED_OUT}
MAX_LENGTH = 200


class MissingCause(Exception):
    """A run was ended failed or timed out without naming its cause: a bug in the code that ended it."""


def check(status, cause):
    """Refuse a failed or timed-out end without a cause, and a cause on any other status."""
    if status in ENDS_WITH_A_CAUSE and not cause:
        raise MissingCause(f"A run that ends {status} must name its cause.")
    if status not in ENDS_WITH_A_CAUSE and cause:
        raise MissingCause(f"A run that is {status} has no cause (given {cause!r}).")


def status(code):
    return f"status:{code}"


def send_error(kind):
    """The cause of a request that got no usable answer (a SendError's kind)."""
    return kind if kind in LABELS else "connection"


def outcome(group):
    """A stop condition group whose outcome is failure: its conditions as written (never their filled values)."""
    said = " and ".join(f"{row.path} {Operator(row.operator).label} {row.value}" for row in group.rows)
    return f"outcome:{said}"[:MAX_LENGTH]


def label(cause):
    """The cause in words: "HTTP 401 not accepted", "Timed out waiting for the service"."""
    if cause.startswith("status:"):
        return f"HTTP {cause.removeprefix('status:')} not accepted"
    if cause.startswith("outcome:"):
        return f"Failure outcome: {cause.removeprefix('outcome:')}"
    return LABELS.get(cause, cause or "None")
