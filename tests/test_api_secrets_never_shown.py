"""No answer of the definitions' API holds a secret value: not a read, not a write, not an error quoting input."""

import json

import pytest

from integrations.models import Action, Integration, Secret
from integrations.transfer import export_integration
from tests.definitions_api import action_document, post_json
from tests.api_helpers import details

AUTH_SECRET = "auth-PLAINTEXT-93b1"
SECRET_VALUE = "secret-PLAINTEXT-27fd"
CERTIFICATE = "-----BEGIN CERTIFICATE-----\nPLAINTEXT-CERT-5e8a\n-----END CERTIFICATE-----"
VALUES = [AUTH_SECRET, SECRET_VALUE, "PLAINTEXT-CERT-5e8a"]


def assert_no_secret(response):
    text = response.content.decode()
    for value in VALUES:
        assert value not in text, f"{value} in {response.request['PATH_INFO']}"
    return response


@pytest.fixture
def stored(integration, action):
    """The integration with an auth secret and a secret, its action with a client certificate."""
    Integration.objects.filter(pk=integration.pk).update(auth_type="bearer", auth_secret=AUTH_SECRET)
    Secret.objects.create(integration=integration, name="TOKEN", value=SECRET_VALUE)
    action.client_certificate = CERTIFICATE
    action.save()
    return integration, action


def test_reads_say_only_that_values_are_set(admin_api, stored):
    integration, action = stored
    for url in ("/api/integrations/", f"/api/integrations/{integration.pk}/",
                f"/api/integrations/{integration.pk}/export/", "/api/actions/", f"/api/actions/{action.pk}/"):
        assert assert_no_secret(admin_api.get(url)).status_code == 200

    assert admin_api.get(f"/api/integrations/{integration.pk}/").json()["auth_secret_set"] is True
    assert admin_api.get(f"/api/actions/{action.pk}/").json()["client_certificate_set"] is True


def test_the_browsable_api_shows_no_value_in_its_pages_or_forms(client, admin_user, stored):
    integration, action = stored
    client.force_login(admin_user)

    for url in (f"/api/integrations/{integration.pk}/", f"/api/actions/{action.pk}/", "/api/integrations/"):
        response = assert_no_secret(client.get(url, HTTP_ACCEPT="text/html"))
        assert response.status_code == 200 and b"<form" in response.content


def test_writes_answer_without_the_values_written(admin_api, stored):
    integration, action = stored
    responses = [
        post_json(admin_api, "/api/integrations/", {"name": "Other", "auth_type": "bearer", "auth_secret": AUTH_SECRET,
                                                    "secrets": {"TOKEN": SECRET_VALUE}}),
        admin_api.patch(f"/api/integrations/{integration.pk}/",
                        {"auth_secret": AUTH_SECRET, "secrets": {"TOKEN": SECRET_VALUE}}, format="json"),
        admin_api.put(f"/api/integrations/{integration.pk}/",
                      {"name": "Acme", "slug": "acme", "auth_type": "bearer", "auth_secret": AUTH_SECRET},
                      format="json"),
        admin_api.post(f"/api/integrations/{integration.pk}/archive/"),
        admin_api.post(f"/api/integrations/{integration.pk}/unarchive/"),
        post_json(admin_api, "/api/actions/", action_document(integration, slug="two", client_certificate=CERTIFICATE)),
        admin_api.patch(f"/api/actions/{action.pk}/", {"client_certificate": CERTIFICATE}, format="json"),
        admin_api.put(f"/api/actions/{action.pk}/", action_document(integration, client_certificate=CERTIFICATE),
                      format="json"),
    ]

    for response in responses:
        assert response.status_code in (200, 201), response.content
        assert_no_secret(response)
    assert Integration.objects.get(pk=integration.pk).auth_secret == AUTH_SECRET
    assert Action.objects.get(slug="two").client_certificate == CERTIFICATE


def test_an_import_answers_without_the_values_it_was_given(admin_api, stored):
    integration, _ = stored
    document = {**export_integration(integration), "slug": "copy", "auth_secret": AUTH_SECRET,
                "secrets": {"TOKEN": SECRET_VALUE}}
    document["actions"][0]["client_certificate"] = CERTIFICATE

    response = post_json(admin_api, "/api/integrations/import/", document)

    assert response.status_code == 201, response.json()
    assert_no_secret(response)
    assert Integration.objects.get(slug="copy").auth_secret == AUTH_SECRET


@pytest.mark.parametrize("auth_secret", [
    "{{ " + AUTH_SECRET + " x }}",          # a malformed placeholder is quoted by its error
    "{{ secrets." + AUTH_SECRET.replace("-", "_") + " }}",  # an unknown name is quoted by its error
    AUTH_SECRET + " }}",                     # the error of an unopened placeholder
])
def test_errors_about_a_write_only_value_do_not_quote_it(admin_api, stored, auth_secret):
    integration, _ = stored
    quoted = [AUTH_SECRET, AUTH_SECRET.replace("-", "_")]

    response = admin_api.patch(f"/api/integrations/{integration.pk}/",
                               {"auth_secret": auth_secret, "secrets": {"TOKEN": SECRET_VALUE}}, format="json")

    assert response.status_code == 400
    assert "auth_secret" in details(response)
    assert all(value not in response.content.decode() for value in quoted), response.json()
    assert_no_secret(response)


def test_errors_of_a_document_with_secrets_do_not_quote_them(admin_api, stored):
    integration, action = stored
    responses = [
        post_json(admin_api, "/api/integrations/", {"name": "", "auth_secret": AUTH_SECRET,
                                                    "secrets": {"bad name": SECRET_VALUE, "TOKEN": ""}}),
        admin_api.patch(f"/api/actions/{action.pk}/", {"client_certificate": CERTIFICATE, "url": "ftp://x"},
                        format="json"),
        admin_api.patch(f"/api/actions/{action.pk}/", {"client_certificate": ["not", "text"]}, format="json"),
        post_json(admin_api, "/api/integrations/import/", {
            **export_integration(integration), "auth_secret": AUTH_SECRET,
            "secrets": {"TOKEN": SECRET_VALUE},
            "actions": [{"name": "x", "url": "ftp://x", "client_certificate": CERTIFICATE}],
        }),
    ]

    for response in responses:
        assert response.status_code == 400
        assert_no_secret(response)


def test_an_export_has_the_secrets_names_and_no_values(stored):
    integration, _ = stored

    document = export_integration(integration)

    assert document["secrets_set"] == ["TOKEN"]
    assert not {"secrets", "auth_secret", "auth_secret_set"} & set(document)
    assert not {"client_certificate", "client_certificate_set"} & set(document["actions"][0])
    assert all(value not in json.dumps(document) for value in VALUES)
