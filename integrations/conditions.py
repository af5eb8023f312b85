"""Condition operators: how a value found in a response is tested."""

import json
import re
from functools import lru_cache

from django.core.exceptions import ValidationError
from django.db import models

from .paths import MISSING
from .templating import as_text


class Operator(models.TextChoices):
    EQUALS = "equals", "equals"
    NOT_EQUALS = "not_equals", "not equals"
    ONE_OF = "one_of", "one of"
    CONTAINS = "contains", "contains"
    MATCHES = "matches", "matches regex"
    EXISTS = "exists", "exists"
    LT = "lt", "<"
    LTE = "lte", "<="
    GT = "gt", ">"
    GTE = "gte", ">="


NUMERIC = {Operator.LT, Operator.LTE, Operator.GT, Operator.GTE}


def validate_operator_value(operator, value):
    """Raise ValidationError({'value': ...}) when ``value`` cannot work with ``operator``.

    Values holding placeholders are checked once filled, at run time.
    """
    value = value or ""
    if "{{" in value:
        return
    if operator in NUMERIC:
        if _number(value) is None:
            raise ValidationError({"value": f"'{Operator(operator).label}' needs a number, not {value!r}."})
    elif operator == Operator.MATCHES:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValidationError({"value": f"This regular expression does not compile: {exc}."}) from None
    elif operator == Operator.ONE_OF:
        try:
            options(value)
        except ValueError as exc:
            raise ValidationError({"value": str(exc)}) from None
    elif operator == Operator.EXISTS and value:
        raise ValidationError({"value": "'exists' takes no value: leave it blank."})


def options(value):
    """The options of a 'one of' value: a JSON list, or text separated by commas."""
    if value.strip().startswith("["):
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError as exc:
            raise ValueError(f"'one of' needs a JSON list or values separated by commas: {exc.msg}.") from None
        return [as_text(item) for item in parsed]
    items = [item.strip() for item in value.split(",")]
    if not any(items):
        raise ValueError("'one of' needs at least one value.")
    return items


def test(operator, found, expected):
    """Whether the value ``found`` (or MISSING) meets ``operator`` with the text ``expected``."""
    if operator == Operator.EXISTS:
        return found is not MISSING
    if found is MISSING:
        return operator == Operator.NOT_EQUALS
    if operator == Operator.EQUALS:
        return _equal(found, expected)
    if operator == Operator.NOT_EQUALS:
        return not _equal(found, expected)
    if operator == Operator.ONE_OF:
        return any(_equal(found, option) for option in options(expected))
    if operator == Operator.CONTAINS:
        if isinstance(found, list):
            return any(_equal(item, expected) for item in found)
        if isinstance(found, dict):
            return expected in found
        return expected in as_text(found)
    if operator == Operator.MATCHES:
        return _regex(expected).search(as_text(found)) is not None
    left, right = _number(found), _number(expected)
    if left is None or right is None:
        return False
    return {
        Operator.LT: left < right,
        Operator.LTE: left <= right,
        Operator.GT: left > right,
        Operator.GTE: left >= right,
    }[operator]


def _equal(found, expected):
    if isinstance(found, (int, float)) and not isinstance(found, bool):
        number = _number(expected)
        if number is not None:
            return found == number
    return as_text(found) == expected


def _number(value):
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return value
    try:
        return float(str(value).strip())
    except ValueError:
        return None


@lru_cache(maxsize=512)
def _regex(pattern):
    return re.compile(pattern)
