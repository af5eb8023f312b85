"""Django's DEBUG error page never shows what was typed into a secret field of the admin."""

import pytest
from django.urls import reverse

from integrations.admin import ActionAdmin, IntegrationAdmin

AUTH_SECRET = "typed-PLAINTEXT-auth-9d1e"
SECRET_VALUE = "typed-PLAINTEXT-value-77ac"
CERTIFICATE = "-----BEGIN CERTIFICATE-----\nPLAINTEXT-CERT-a1f4\n-----END CERTIFICATE-----"


@pytest.fixture
def crashing_client(client, admin_user, settings, monkeypatch):
    """A logged-in client whose saves crash, on a site that shows Django's technical error page."""
    settings.DEBUG = True
    client.raise_request_exception = False
    client.force_login(admin_user)

    def crash(*args, **kwargs):
        raise RuntimeError("the database went away")

    monkeypatch.setattr(IntegrationAdmin, "save_model", crash)
    monkeypatch.setattr(ActionAdmin, "save_model", crash)
    return client


def test_the_integration_pages_secrets_are_hidden(crashing_client, integration, change_form_data):
    url = reverse("admin:integrations_integration_change", args=[integration.pk])
    data = change_form_data(
        crashing_client.get(url), auth_type="bearer", auth_secret=AUTH_SECRET,
        **{"secrets-TOTAL_FORMS": "1", "secrets-0-name": "TOKEN", "secrets-0-value": SECRET_VALUE},
    )

    response = crashing_client.post(url, data)

    assert response.status_code == 500
    page = response.content.decode()
    assert "the database went away" in page  # the technical page it is
    assert AUTH_SECRET not in page and SECRET_VALUE not in page
    assert "auth_secret" in page and "secrets-0-value" in page and "********" in page


def test_the_actions_client_certificate_is_hidden(crashing_client, action, change_form_data):
    url = reverse("admin:integrations_action_change", args=[action.pk])

    response = crashing_client.post(url, change_form_data(crashing_client.get(url), client_certificate=CERTIFICATE))

    assert response.status_code == 500
    page = response.content.decode()
    assert "the database went away" in page
    assert "PLAINTEXT-CERT-a1f4" not in page
    assert "client_certificate" in page


def test_the_add_pages_are_covered_too(crashing_client, change_form_data):
    url = reverse("admin:integrations_integration_add")
    data = change_form_data(crashing_client.get(url), name="Desk", slug="desk", auth_type="bearer",
                            auth_secret=AUTH_SECRET)

    response = crashing_client.post(url, data)

    assert response.status_code == 500
    assert AUTH_SECRET not in response.content.decode()
