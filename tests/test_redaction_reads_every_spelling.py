"""The redactor, without a server: a secret is masked whatever mix of escapes spells it, and nothing else is
touched. (tests/test_secrets_redacted_in_every_encoding.py runs each encoding through a real service.)
"""

import base64
import json
import time

import pytest

from integrations.models import StopCondition
from runs.evaluation import Answer, Response, stop_decision
from runs.redaction import Redactor
from integrations.templating import Context

SECRET = "tok/en+with space&more"


@pytest.mark.parametrize("spelling", [
    "tok\\/en+with space&more",                                            # PHP's JSON
    "\\u0074ok\\/en\\u002Bwith\\u0020space\\u0026more",                     # \u escapes, both cases, mixed in
    "tok%2Fen%2bwith+space%26more",                                         # URL encoding, both cases, + for space
    "tok%2Fen\\u002bwith%20space&amp;more",                                 # URL, JSON and XML in one
    "tok\\\\/en+with space&more",                                           # \/ inside a JSON string in JSON
    "tok\\\\u002fen+with space&more",                                       # \u002f one level down
    "tok\\u00252Fen+with space&more",                                       # %2F with its % JSON-escaped
    "tok%252Fen+with%2520space%2526more",                                   # URL-encoded twice
    "&#116;ok&#x2F;en&#43;with space&#x26;more",                            # XML character references
    "\\x74ok/en+with space&more",                                           # a source-code escape
])
def test_a_secret_is_masked_in_any_mix_of_escapes(spelling):
    redactor = Redactor([SECRET])

    assert redactor.text(f'{{"echo": "{spelling}", "next": 1}}') == '{"echo": "***", "next": 1}'


def test_base64_of_a_secret_is_masked_alone_and_at_each_offset_inside_a_longer_token():
    redactor = Redactor(["a-long-enough-secret"])
    alone = base64.b64encode(b"a-long-enough-secret").decode()
    # Followed by "~": the last character holding bits of the secret then differs from its own encoding's.
    inside = [base64.urlsafe_b64encode(prefix + b"a-long-enough-secret~y").decode() for prefix in (b"", b"u:", b"us:")]

    assert redactor.text(alone) == "***="
    for token in inside:
        before, after = redactor.text(token).split("***")
        # Left: the prefix's characters, and those shared by the secret's edges and its neighbours.
        assert len(before) <= 4 and len(after) <= 6, (token, before, after)


def test_text_without_a_secret_comes_back_as_it_was_escapes_and_all():
    redactor = Redactor([SECRET])
    text = '{"url": "https:\\/\\/x.test\\/a%20b?c=d+e&amp;f", "name": "\\u00fc\\ud83d\\udd11", "path": "C:\\\\tmp"}'

    assert redactor.text(text) == text


def test_a_secret_that_holds_another_is_masked_whole_and_neighbours_each_get_a_mask():
    redactor = Redactor(["inner", "outer-inner-outer"])

    assert redactor.text("outer\\u002dinner-outer") == "***"
    assert redactor.text("inner%20inner innerinner") == "***%20*** ******"


def test_a_secret_cut_at_the_log_limit_leaves_no_prefix_behind():
    redactor = Redactor([SECRET])
    escaped = "".join(f"\\u{ord(char):04x}" for char in SECRET)
    text = "x" * 95 + escaped + " and more"

    logged = redactor.text(text, limit=100)

    assert logged == "x" * 95 + "*** a"
    assert "\\u0074" not in logged


def test_a_number_that_spells_a_secret_is_masked_and_other_values_keep_their_type():
    redactor = Redactor(["271828"])

    assert redactor.value({"pin": 271828, "n": 3, "ok": True, "list": ["%32%37%31%38%32%38"]}) == {
        "pin": "***", "n": 3, "ok": True, "list": ["***"]}


def test_a_secret_quoted_near_the_end_of_a_long_value_is_masked_before_the_value_is_cut():
    redactor = Redactor([SECRET])
    found = "x" * 190 + SECRET  # the decision quotes the first 200 characters of a value
    rows = [StopCondition(path="echo", operator="equals", value="never", outcome="failure", position=0)]
    answer = Answer(Response(status=200, headers={}, body={"echo": found}), json.dumps({"echo": found}), "")

    _, _, said = stop_decision(rows, answer, Context({}), redactor)

    assert "***" in said
    assert "tok" not in said


def test_a_long_run_of_escapes_is_read_in_linear_time():
    redactor = Redactor([SECRET])
    started = time.perf_counter()
    for text in ("\\" * 200_000, "\\/" * 100_000, "%25" * 70_000, "&amp;" * 40_000):
        assert redactor.text(text) == text
    # Quadratic reading would take hours here; linear takes well under a second on a loaded machine.
    assert time.perf_counter() - started < 10
