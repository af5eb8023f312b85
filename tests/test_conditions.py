import pytest
from django.core.exceptions import ValidationError

from integrations.conditions import Operator, test as check, validate_operator_value
from integrations.paths import MISSING


@pytest.mark.parametrize("operator,found,expected,result", [
    (Operator.EQUALS, "successful", "successful", True),
    (Operator.EQUALS, "running", "successful", False),
    (Operator.EQUALS, 42, "42", True),
    (Operator.EQUALS, 42, "42.0", True),
    (Operator.EQUALS, True, "true", True),
    (Operator.NOT_EQUALS, "running", "failed", True),
    (Operator.NOT_EQUALS, MISSING, "failed", True),
    (Operator.ONE_OF, "done", "done, completed", True),
    (Operator.ONE_OF, "done", '["completed", "done"]', True),
    (Operator.ONE_OF, "running", "done, completed", False),
    (Operator.CONTAINS, ["bug", "needs review"], "needs review", True),
    (Operator.CONTAINS, ["bug"], "needs review", False),
    (Operator.CONTAINS, "all systems go", "systems", True),
    (Operator.MATCHES, "JOB-123", r"^JOB-\d+$", True),
    (Operator.MATCHES, "job-x", r"^JOB-\d+$", False),
    (Operator.EXISTS, None, "", True),
    (Operator.EXISTS, MISSING, "", False),
    (Operator.LT, 3, "5", True),
    (Operator.GTE, "5", "5", True),
    (Operator.GT, "n/a", "5", False),
    (Operator.EQUALS, MISSING, "x", False),
])
def test_operators(operator, found, expected, result):
    assert check(operator, found, expected) is result


@pytest.mark.parametrize("operator,value,fragment", [
    (Operator.LT, "abc", "needs a number"),
    (Operator.MATCHES, "([a-z", "does not compile"),
    (Operator.ONE_OF, "[1, 2", "JSON list"),
    (Operator.EXISTS, "yes", "takes no value"),
])
def test_inconsistent_operator_and_value_are_refused(operator, value, fragment):
    with pytest.raises(ValidationError) as info:
        validate_operator_value(operator, value)
    assert fragment in info.value.message_dict["value"][0]


def test_values_with_placeholders_are_checked_when_filled():
    validate_operator_value(Operator.LT, "{{ limit }}")
