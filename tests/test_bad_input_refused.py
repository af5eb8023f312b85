"""Probes (NaN, Infinity, huge durations, NaN inside JSON) get field errors, never a 500 or a database error."""

import math

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from integrations.models import Action, Integration
from integrations.validators import (
    MAX_BACKOFF_CAP,
    MAX_CONNECT_TIMEOUT,
    MAX_POLL_INTERVAL,
    MAX_POLL_TIMEOUT,
    MAX_READ_TIMEOUT,
    parse_json_text,
    parse_seconds,
)
from tests.admin_helpers import field_errors

DURATION_FIELDS = ["connect_timeout", "read_timeout", "poll_interval", "poll_timeout", "poll_backoff_max"]
NOT_NUMBERS = ["NaN", "nan", "Infinity", "-Infinity", "inf", "-inf", "1e999"]


def errors_of(obj):
    with pytest.raises(ValidationError) as info:
        obj.full_clean()
    return info.value.message_dict


@pytest.mark.parametrize("field", DURATION_FIELDS)
@pytest.mark.parametrize("typed", NOT_NUMBERS)
def test_a_duration_that_is_not_a_finite_number_is_refused_on_its_field(post_action, action, field, typed):
    response = post_action(polling_mode="poll", **{field: typed})

    assert response.status_code == 200
    [message] = field_errors(response, field)
    assert f"{typed!r} is not a number of seconds" in message
    saved = Action.objects.get(pk=action.pk)
    assert all(math.isfinite(getattr(saved, name)) for name in DURATION_FIELDS if getattr(saved, name) is not None)


@pytest.mark.parametrize("field", DURATION_FIELDS)
@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_model_validation_refuses_nan_and_infinity_in_every_duration(action, field, value):
    setattr(action, field, value)

    [message] = errors_of(action)[field]

    assert "must be a number of seconds" in message


@pytest.mark.parametrize("field, typed, message", [
    ("connect_timeout", "301", "The connect timeout may be at most 300 seconds (5 minutes), not 301."),
    ("read_timeout", "PT2H", "The read timeout may be at most 3600 seconds (1 hour), not 7200."),
    ("poll_interval", "P2D", "The interval may be at most 86400 seconds (1 day), not 172800."),
    ("poll_timeout", "P367D", "The time limit may be at most 31622400 seconds (366 days), not 31708800."),
    ("poll_max_attempts", "1000001", "The attempt limit may be at most 1000000, not 1000001."),
    ("poll_max_attempts", "0", "The attempt limit must be at least 1, not 0; blank means no limit."),
    ("max_consecutive_errors", "5000", "At most 1000 errors in a row, not 5000."),
])
def test_values_past_their_maximum_are_refused_naming_field_value_and_maximum(post_action, field, typed, message):
    response = post_action(polling_mode="poll", **{field: typed})

    assert field_errors(response, field) == [message]


def test_the_maxima_are_what_the_engine_can_rely_on():
    assert (MAX_CONNECT_TIMEOUT, MAX_READ_TIMEOUT, MAX_POLL_INTERVAL, MAX_BACKOFF_CAP, MAX_POLL_TIMEOUT) == (
        300, 3600, 86400, 86400, 366 * 86400
    )


def test_an_iso_duration_too_long_for_python_is_refused_not_a_crash(post_action):
    response = post_action(polling_mode="poll", poll_timeout="P9999999999D")

    assert response.status_code == 200
    assert field_errors(response, "poll_timeout") == ["'P9999999999D' is far too long a duration."]


def test_an_interval_longer_than_the_backoff_cap_is_fine_with_fixed_backoff(post_action, action):
    response = post_action(polling_mode="poll", poll_interval="PT10M", poll_backoff="fixed")

    assert response.status_code == 302
    action.refresh_from_db()
    assert (action.poll_interval, action.poll_backoff_max) == (600, 300)


def test_exponential_backoff_needs_a_cap_of_at_least_the_interval(post_action):
    response = post_action(polling_mode="poll", poll_interval="PT10M", poll_backoff="exponential")

    assert field_errors(response, "poll_backoff_max") == ["The cap (300 s) must be at least the interval (600 s)."]


def test_the_backoff_cap_is_typed_as_a_duration_too(post_action, action):
    response = post_action(polling_mode="poll", poll_backoff="exponential", poll_backoff_max="PT1H")

    assert response.status_code == 302
    action.refresh_from_db()
    assert action.poll_backoff_max == 3600


# --- NaN and Infinity inside JSON ------------------------------------------------------------------------------


@pytest.mark.parametrize("text, message", [
    ('{"limit": NaN}', "NaN is not JSON: write a number, or \"NaN\" as text (at limit)."),
    ('{"limit": Infinity}', "Infinity is not JSON: write a number, or \"Infinity\" as text (at limit)."),
    ('{"limit": -Infinity}', "-Infinity is not JSON: write a number, or \"-Infinity\" as text (at limit)."),
    ('{"limit": 1e999}', "The number 1e999 is too large for JSON (at limit)."),
])
def test_json_text_with_nan_or_infinity_is_refused(text, message):
    with pytest.raises(ValidationError) as caught:
        parse_json_text(text)

    assert caught.value.messages == [message]


@pytest.mark.parametrize("field, changes", [
    ("headers", {}),
    ("params", {}),
    ("poll_headers", {"polling_mode": "poll"}),
    ("poll_params", {"polling_mode": "poll"}),
    ("body", {"body_type": "json"}),
    ("body", {"body_type": "form"}),
    ("poll_body", {"polling_mode": "poll", "poll_body_type": "json"}),
    ("cancel_webhook_body", {}),
])
@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_nan_or_infinity_in_any_json_field_of_an_action_is_a_field_error(post_action, action, field, changes, constant):
    response = post_action(**changes, **{field: f'{{"X-Limit": {constant}}}'})

    assert response.status_code == 200
    [message] = field_errors(response, field)
    assert constant in message
    assert Action.objects.get(pk=action.pk).headers == {}


@pytest.mark.parametrize("constant", ["NaN", "Infinity"])
def test_nan_in_the_integrations_default_headers_is_a_field_error(client, admin_user, integration, change_form_data,
                                                                  constant):
    client.force_login(admin_user)
    url = reverse("admin:integrations_integration_change", args=[integration.pk])

    response = client.post(url, change_form_data(client.get(url), default_headers=f'{{"X-Limit": {constant}}}'))

    assert response.status_code == 200
    assert constant in field_errors(response, "default_headers")[0]
    assert Integration.objects.get().default_headers == {}


@pytest.mark.parametrize("field", ["headers", "params", "poll_headers", "poll_params"])
def test_model_validation_refuses_a_non_finite_number_in_a_json_map(action, field):
    setattr(action, field, {"X-Limit": math.nan})

    assert "must be a finite number, not nan" in errors_of(action)[field][0]


@pytest.mark.parametrize("field", ["headers", "params", "poll_headers", "poll_params"])
@pytest.mark.parametrize("text, fault", [("a\x00b", "(U+0000)"), ("a\ud800", "a lone surrogate")])
@pytest.mark.parametrize("where", ["key", "value"])
def test_a_json_map_refuses_what_postgresql_cannot_store(action, field, text, fault, where):
    setattr(action, field, {text: "x"} if where == "key" else {"X-Note": text})

    assert fault in errors_of(action)[field][0]


def test_a_nul_typed_into_the_admin_is_a_field_error_not_a_database_error(post_action, action):
    response = post_action(params='{"q": "a\\u0000b"}')

    assert response.status_code == 200
    assert "contains a NUL character (U+0000)" in field_errors(response, "params")[0]
    assert Action.objects.get(pk=action.pk).params == {}


@pytest.mark.parametrize("field", ["headers", "params", "poll_headers", "poll_params"])
def test_null_typed_into_a_json_map_means_empty_not_a_database_error(post_action, action, field):
    response = post_action(polling_mode="poll", **{field: "null"})

    assert response.status_code == 302
    assert getattr(Action.objects.get(pk=action.pk), field) == {}


@pytest.mark.parametrize("typed", ["[]", "[1]", '"text"', "3"])
def test_a_json_map_refuses_anything_but_an_object_even_an_empty_list(post_action, action, typed):
    response = post_action(headers=typed)

    assert response.status_code == 200
    assert field_errors(response, "headers") == [
        'Expected a JSON object of names to values, e.g. {"Accept": "application/json"}.'
    ]
    assert Action.objects.get(pk=action.pk).headers == {}


@pytest.mark.parametrize("typed", ["nan", "inf", "-Infinity"])
def test_parse_seconds_refuses_non_finite_numbers(typed):
    with pytest.raises(ValidationError, match="not a number of seconds"):
        parse_seconds(typed)
