"""A URL or a header that would break the request line (spaces, CR, LF, control characters) is refused at save."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from integrations.models import Action, Integration
from integrations.validators import validate_headers, validate_url
from tests.admin_helpers import field_errors

BAD_CHARACTERS = [
    (" ", "A URL cannot contain a space: write it as %20."),
    ("\t", "A URL cannot contain a tab."),
    ("\r", "A URL cannot contain a carriage return (CR)."),
    ("\n", "A URL cannot contain a line feed (LF)."),
    ("\x01", "A URL cannot contain a control character (U+0001)."),
    ("\x7f", "A URL cannot contain a control character (U+007F)."),
]


@pytest.fixture
def post_integration(client, admin_user, integration, change_form_data):
    client.force_login(admin_user)
    url = reverse("admin:integrations_integration_change", args=[integration.pk])

    def post(**changes):
        return client.post(url, change_form_data(client.get(url), **changes))

    return post


@pytest.mark.parametrize("character, message", BAD_CHARACTERS)
@pytest.mark.parametrize("field", ["url", "poll_url", "cancel_webhook_url"])
def test_an_action_url_with_a_space_or_control_character_is_refused(post_action, action, field, character, message):
    response = post_action(polling_mode="poll", **{field: f"/tickets/a{character}b"})

    assert response.status_code == 200
    assert message in field_errors(response, field)
    assert Action.objects.get(pk=action.pk).url == "/tickets"


@pytest.mark.parametrize("character, message", BAD_CHARACTERS)
@pytest.mark.parametrize("field, value", [
    ("base_url", "https://api.example.com/v{}1"),
    ("oauth_token_url", "https://login.example.com/{}token"),
])
def test_an_integration_url_with_a_space_or_control_character_is_refused(post_integration, field, value, character,
                                                                         message):
    response = post_integration(**{field: value.format(character)})

    assert message in field_errors(response, field)
    assert Integration.objects.get().base_url == "https://api.acme.test/v1"


def test_spaces_inside_a_placeholder_are_fine_since_its_value_is_encoded():
    validate_url("/tickets/{{ ticket_id }}?q={{ query }}", base_url="https://api.example.com")


def test_a_null_character_is_refused_by_model_validation_too():
    # The admin's form refuses it before (Django: "Null characters are not allowed."); the API may not.
    with pytest.raises(ValidationError, match=r"control character \(U\+0000\)"):
        validate_url("https://api.example.com/a\x00b")


@pytest.mark.parametrize("headers, message", [
    ({"X-Note": "a\r\nSet-Cookie: x=1"}, "The value of header 'X-Note' contains a carriage return (CR)"),
    ({"X-Note": "a\nb"}, "The value of header 'X-Note' contains a line feed (LF)"),
    ({"X-Note": "a\x00b"}, "The value of header 'X-Note' contains a control character (U+0000)"),
    ({"X-Note\r\nEvil": "a"}, "'X-Note\\r\\nEvil' is not a valid header name"),
    ({"X Note": "a"}, "'X Note' is not a valid header name"),
    ({"X-Note:": "a"}, "'X-Note:' is not a valid header name"),
    ({"{{ name }}": "a"}, "'{{ name }}' is not a valid header name"),
])
def test_a_header_that_would_break_the_request_is_refused(headers, message):
    with pytest.raises(ValidationError) as caught:
        validate_headers(headers)

    assert caught.value.messages[0].startswith(message)


def test_a_tab_in_a_header_value_and_placeholders_in_values_are_fine():
    validate_headers({"X-Note": "a\tb", "Authorization": "Bearer {{ secrets.TOKEN }}", "X-Count": 3})


@pytest.mark.parametrize("field", ["headers", "poll_headers"])
def test_action_headers_with_a_line_break_are_refused_on_their_field(post_action, field):
    response = post_action(polling_mode="poll", **{field: '{"X-Note": "a\\r\\nSet-Cookie: x=1"}'})

    assert response.status_code == 200
    assert "contains a carriage return (CR)" in field_errors(response, field)[0]


def test_default_headers_with_a_bad_name_are_refused(post_integration):
    response = post_integration(default_headers='{"X Tenant": "acme"}')

    assert "'X Tenant' is not a valid header name" in field_errors(response, "default_headers")[0]


@pytest.mark.parametrize("name, message", [
    ("X-API-Key\r\nX-Evil: 1", "This contains a carriage return (CR): write it on one line."),
    ("X API Key", "'X API Key' is not a valid header name"),
])
def test_an_api_key_header_name_must_be_a_header_name(post_integration, name, message):
    response = post_integration(auth_type="api_key_header", api_key_name=name, auth_secret="k")

    assert any(error.startswith(message) for error in field_errors(response, "api_key_name"))


def test_an_api_key_query_parameter_may_have_a_space_but_not_a_line_break(post_integration):
    spaced = post_integration(auth_type="api_key_query", api_key_name="api key", auth_secret="k")
    broken = post_integration(auth_type="api_key_query", api_key_name="api\nkey", auth_secret="k")

    assert spaced.status_code == 302
    assert field_errors(broken, "api_key_name") == ["This contains a line feed (LF): write it on one line."]
