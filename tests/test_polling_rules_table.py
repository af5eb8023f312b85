"""The polling rules as a table: what ``conclude()`` makes of one answer (or one failed request), by where the
request stands, what came back, the action's error policy for it, and the limits.

No database and no network: runs/due_work.py decides, runs/batch.py writes. Each row reads

    (where, what came back, policy)  ->  what becomes of the run

where a run "retries" when the error counts toward its error limit and the next attempt is scheduled, "polls"
when it goes on polling without counting an error, and "fails" or "times out" when it ends. The action is a
POST not marked safe to repeat, accepting 2xx, with no stop condition matching; see the module doc of
runs/due_work.py for the rules in words.
"""

from datetime import datetime, timedelta, timezone

import pytest
import urllib3

from integrations.models import Action, ErrorPolicy, Integration, PollingMode
from integrations.validators import parse_statuses
from runs.definitions import Definition
from runs.due_work import Send, conclude
from runs.http import Outbound, Received, SendError
from runs.models import ExchangeKind, Run, Status
from runs.redaction import Redactor

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=timezone.utc)
MAX_ERRORS = 3
MAX_POLLS = 5

# Where the request stands.
FIRST = "first request (separate polling URL)"  # not a poll: a failure may have reached the service
FIRST_REPEATING = "first request (blank polling URL)"  # the request repeats itself: it is poll 1
POLL = "poll"

# What came back.
OK = "200, no stop condition matched"
RATE_LIMITED = "429"
SERVER_ERROR = "500"
UNAVAILABLE_RETRY_AFTER = "503 with Retry-After"
OTHER = "404"
REFUSED = "connection refused (never reached the service)"
TIMEOUT = "read timeout (may have reached it)"
BLOCKED = "refused by the outbound guard"

# The policy that applies (None: no error, no policy).
FAIL, RETRY, KEEP = ErrorPolicy.FAIL, ErrorPolicy.RETRY, ErrorPolicy.KEEP_POLLING

# What becomes of the run.
POLLS, RETRIES, FAILS, TIMES_OUT = "polls", "retries", "fails", "times out"

RULES = [
    # An accepted answer with no stop condition matched: polling starts, or goes on.
    (FIRST, OK, None, POLLS),
    (FIRST_REPEATING, OK, None, POLLS),
    (POLL, OK, None, POLLS),
    # "fail" fails wherever it applies.
    *[(where, answer, FAIL, FAILS)
      for where in (FIRST, FIRST_REPEATING, POLL)
      for answer in (RATE_LIMITED, SERVER_ERROR, UNAVAILABLE_RETRY_AFTER, OTHER, REFUSED, TIMEOUT)],
    # A first request that cannot have done remote work is sent again: a 429, a 503 with Retry-After, a
    # connection refused...
    (FIRST, RATE_LIMITED, RETRY, RETRIES),
    (FIRST, RATE_LIMITED, KEEP, POLLS),
    (FIRST, UNAVAILABLE_RETRY_AFTER, RETRY, RETRIES),
    (FIRST, UNAVAILABLE_RETRY_AFTER, KEEP, POLLS),
    (FIRST, REFUSED, RETRY, RETRIES),
    (FIRST, REFUSED, KEEP, POLLS),
    # ... but a POST that may have reached the service is not sent twice, whatever the policy says.
    (FIRST, SERVER_ERROR, RETRY, FAILS),
    (FIRST, SERVER_ERROR, KEEP, FAILS),
    (FIRST, OTHER, RETRY, FAILS),
    (FIRST, OTHER, KEEP, FAILS),
    (FIRST, TIMEOUT, RETRY, FAILS),
    (FIRST, TIMEOUT, KEEP, FAILS),
    # A request that repeats itself is poll 1: its errors follow the policies like any poll's.
    *[(where, answer, RETRY, RETRIES)
      for where in (FIRST_REPEATING, POLL)
      for answer in (RATE_LIMITED, SERVER_ERROR, UNAVAILABLE_RETRY_AFTER, OTHER, REFUSED, TIMEOUT)],
    *[(where, answer, KEEP, POLLS)
      for where in (FIRST_REPEATING, POLL)
      for answer in (RATE_LIMITED, SERVER_ERROR, UNAVAILABLE_RETRY_AFTER, OTHER, REFUSED, TIMEOUT)],
    # Our own guard's refusal fails whatever the policy: sending again cannot help.
    *[(where, BLOCKED, policy, FAILS) for where in (FIRST, FIRST_REPEATING, POLL) for policy in (RETRY, KEEP)],
]

# The same, at the limits: the last error the error limit allows, and the last poll the attempt limit allows.
AT_THE_ERROR_LIMIT = [
    (FIRST, RATE_LIMITED, RETRY, FAILS),
    (FIRST, RATE_LIMITED, KEEP, POLLS),  # "keep polling" is not an error: it never reaches the error limit
    (POLL, SERVER_ERROR, RETRY, FAILS),
    (POLL, SERVER_ERROR, KEEP, POLLS),
    (POLL, TIMEOUT, RETRY, FAILS),
    (POLL, OK, None, POLLS),
]
AT_THE_ATTEMPT_LIMIT = [
    # Only polls count toward the attempt limit; the first request does when it is poll 1. A first request
    # sent again as often as the limit allows polls (it was no poll) once it is accepted.
    (FIRST, OK, None, POLLS),
    (FIRST, RATE_LIMITED, RETRY, RETRIES),
    (FIRST_REPEATING, OK, None, TIMES_OUT),
    (FIRST_REPEATING, SERVER_ERROR, RETRY, TIMES_OUT),
    (POLL, OK, None, TIMES_OUT),
    (POLL, SERVER_ERROR, RETRY, TIMES_OUT),
    (POLL, OTHER, KEEP, TIMES_OUT),
    (POLL, SERVER_ERROR, FAIL, FAILS),  # failing comes before counting
]


def _policy_field(answer):
    if answer == RATE_LIMITED:
        return "on_rate_limited"
    if answer in (SERVER_ERROR, UNAVAILABLE_RETRY_AFTER):
        return "on_server_error"
    if answer == OTHER:
        return "on_other_status"
    return "on_connection_error"


def _step(where, answer, policy, *, errors_so_far=0, polls_so_far=1):
    action = Action(
        pk=1, name="Job", slug="job", method="POST", url="/jobs", accepted_statuses="2xx",
        polling_mode=PollingMode.POLL, poll_url="" if where == FIRST_REPEATING else "/jobs/1",
        poll_interval=10, poll_max_attempts=MAX_POLLS, max_consecutive_errors=MAX_ERRORS,
        poll_timeout=0, safe_to_repeat=False,
    )
    if policy is not None:
        setattr(action, _policy_field(answer), policy)
    integration = Integration(pk=1, name="Service", slug="service", base_url="http://service.test")
    definition = Definition(action=action, integration=integration, stop_conditions=(), continue_conditions=(),
                            request_mappings=(), result_mappings=(), secrets={},
                            accepted=tuple(parse_statuses(action.accepted_statuses)), redactor=Redactor())
    first = where != POLL
    status = Status.RUNNING if first else Status.POLLING
    counts_as_poll = where != FIRST
    polls = polls_so_far if counts_as_poll else 0
    # Every request sent counts as an attempt; only polls count toward the attempt limit.
    run = Run(pk=7, action_id=1, integration_id=1, status=status, attempt=polls_so_far + 1, polls=polls,
              consecutive_errors=errors_so_far, started_at=NOW - timedelta(seconds=30), created_at=NOW,
              variables={}, fields={})
    send = Send(kind=ExchangeKind.REQUEST if first else ExchangeKind.POLL,
                outbound=Outbound("POST" if first else "GET", "http://service.test/jobs"),
                first=first, counts_as_poll=counts_as_poll, attempt=run.attempt, oauth=None, status=status)
    return conclude(run, definition, send, _result(answer), now=NOW, duration=0.05)


def _result(answer):
    errors = {REFUSED: SendError("connection", "Connection refused.", reached=False),
              TIMEOUT: SendError("timeout", "No answer within 30 s."),
              BLOCKED: SendError("blocked", "127.0.0.1 is a blocked address.")}
    if answer in errors:
        return errors[answer]
    status = {OK: 200, RATE_LIMITED: 429, SERVER_ERROR: 500, UNAVAILABLE_RETRY_AFTER: 503, OTHER: 404}[answer]
    headers = urllib3.HTTPHeaderDict({"Content-Type": "application/json"})
    if answer == UNAVAILABLE_RETRY_AFTER:
        headers["Retry-After"] = "20"
    return Received(status=status, headers=headers, body=b"{}", size=2, truncated=False, duration=0.05)


def _what_became_of(decision, errors_before):
    if decision.status == Status.FAILED:
        assert decision.cause and decision.finished_at == NOW
        return FAILS
    if decision.status == Status.TIMED_OUT:
        assert decision.cause == "attempts"
        return TIMES_OUT
    assert decision.status == Status.POLLING or decision.status == Status.RUNNING, decision.status
    assert decision.next_poll_at is not None and decision.next_poll_at > NOW, "a run that goes on has a next attempt"
    if decision.consecutive_errors == errors_before + 1:
        return RETRIES
    assert decision.consecutive_errors == 0, "an answer that is not an error resets the error count"
    return POLLS


def _label(row):
    where, answer, policy, _ = row
    return f"{where} | {answer} | {policy or '-'}"


@pytest.mark.parametrize("row", RULES, ids=_label)
def test_the_polling_rules(row):
    where, answer, policy, expected = row
    decision = _step(where, answer, policy)
    assert _what_became_of(decision, 0) == expected, decision.reason


@pytest.mark.parametrize("row", AT_THE_ERROR_LIMIT, ids=_label)
def test_the_polling_rules_at_the_error_limit(row):
    where, answer, policy, expected = row
    decision = _step(where, answer, policy, errors_so_far=MAX_ERRORS - 1)
    assert _what_became_of(decision, MAX_ERRORS - 1) == expected, decision.reason
    if expected == FAILS and policy == RETRY:
        assert f"{MAX_ERRORS} errors in a row" in decision.reason


@pytest.mark.parametrize("row", AT_THE_ATTEMPT_LIMIT, ids=_label)
def test_the_polling_rules_at_the_attempt_limit(row):
    where, answer, policy, expected = row
    decision = _step(where, answer, policy, polls_so_far=MAX_POLLS)
    assert _what_became_of(decision, 0) == expected, decision.reason
    if expected == TIMES_OUT:
        assert f"in {MAX_POLLS} polls (the attempt limit)" in decision.reason


def test_the_table_covers_every_policy_for_every_error_where_it_can_apply():
    table = {(where, answer, policy) for where, answer, policy, _ in RULES}
    errors = (RATE_LIMITED, SERVER_ERROR, UNAVAILABLE_RETRY_AFTER, OTHER, REFUSED, TIMEOUT)
    for where in (FIRST, FIRST_REPEATING, POLL):
        for answer in errors:
            for policy in (FAIL, RETRY, KEEP):
                assert (where, answer, policy) in table, (where, answer, policy)
    assert len(table) == len(RULES), "a row is listed twice"
