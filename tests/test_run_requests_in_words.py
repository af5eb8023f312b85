"""The run page says how many requests were sent and how many count toward the attempt limit, in words."""

import pytest

from integrations.models import Action
from runs.models import Run

pytestmark = pytest.mark.django_db  # a new Run reads the time from the database (runs.clock) on PostgreSQL


@pytest.mark.parametrize(
    "attempt, polls, limit, words",
    [
        (1, 1, None, "1 request sent"),
        (5, 4, None, "5 requests sent"),
        (2, 2, 10, "2 requests sent, of at most 10"),
        (5, 4, 10, "5 requests sent; 4 count toward the limit of 10"),
        (2, 1, 3, "2 requests sent; 1 counts toward the limit of 3"),
    ],
)
def test_requests_in_words(attempt, polls, limit, words):
    run = Run(action=Action(poll_max_attempts=limit), attempt=attempt, polls=polls)

    assert run.requests_in_words == words
