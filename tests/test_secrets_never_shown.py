"""Secrets are written in the admin but never shown back, and only ciphertext reaches the database."""

import re

import pytest
from django.db import connection
from django.urls import reverse

from integrations.models import Action, Secret

AUTH_SECRET = "bearer-PLAINTEXT-7f3a9c"
SECRET_VALUE = "inline-PLAINTEXT-51e0d2"
CERTIFICATE = "-----BEGIN CERTIFICATE-----\nPLAINTEXT-CERT-0c4b\n-----END CERTIFICATE-----"


@pytest.fixture
def client(client, admin_user):
    client.force_login(admin_user)
    return client


@pytest.fixture
def change_url(integration):
    return reverse("admin:integrations_integration_change", args=[integration.pk])


@pytest.fixture
def saved(client, integration, change_url, change_form_data):
    """The integration after a bearer token and one secret were typed into its admin page."""
    response = client.post(
        change_url,
        change_form_data(
            client.get(change_url),
            auth_type="bearer",
            auth_secret=AUTH_SECRET,
            **{"secrets-TOTAL_FORMS": "1", "secrets-0-name": "TOKEN", "secrets-0-value": SECRET_VALUE},
        ),
    )
    assert response.status_code == 302
    integration.refresh_from_db()
    return integration


def raw_column(table, column, pk):
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {table} WHERE id = %s", [pk])
        return cursor.fetchone()[0]


def test_saved_values_are_readable_by_the_code(saved):
    assert saved.auth_secret == AUTH_SECRET
    assert saved.secrets.get().value == SECRET_VALUE


def test_change_page_shows_only_that_secrets_are_set(client, saved, change_url):
    html = client.get(change_url).content.decode()

    assert AUTH_SECRET not in html
    assert SECRET_VALUE not in html
    assert html.count("Stored value: <strong>set</strong>") == 2


def test_changelists_do_not_show_secrets(client, saved, action):
    for url in (reverse("admin:integrations_integration_changelist"), reverse("admin:integrations_action_changelist")):
        html = client.get(url).content.decode()
        assert saved.name in html
        assert AUTH_SECRET not in html and SECRET_VALUE not in html


def test_viewer_sees_set_but_not_the_value(client, saved, change_url, viewer_user):
    client.force_login(viewer_user)

    html = client.get(change_url).content.decode()

    assert AUTH_SECRET not in html and SECRET_VALUE not in html
    assert '<div class="readonly">set</div>' in html  # the auth secret
    assert re.search(r'<td class="field-value_state">\s*<p>set</p>', html)  # the secret row
    assert "TOKEN" in html


def test_database_holds_only_ciphertext(saved):
    stored_auth = raw_column("integrations_integration", "auth_secret", saved.pk)
    stored_secret = raw_column("integrations_secret", "value", saved.secrets.get().pk)

    for stored in (stored_auth, stored_secret):
        assert stored.startswith("fernet:")
    assert AUTH_SECRET not in stored_auth
    assert SECRET_VALUE not in stored_secret


def test_blank_on_edit_keeps_the_stored_values(client, saved, change_url, change_form_data):
    response = client.post(change_url, change_form_data(client.get(change_url), name="Acme renamed"))

    assert response.status_code == 302
    saved.refresh_from_db()
    assert saved.name == "Acme renamed"
    assert saved.auth_secret == AUTH_SECRET
    assert saved.secrets.get().value == SECRET_VALUE


def test_typing_a_new_value_replaces_it(client, saved, change_url, change_form_data):
    data = change_form_data(client.get(change_url), auth_secret="rotated-token", **{"secrets-0-value": "rotated"})

    client.post(change_url, data)

    saved.refresh_from_db()
    assert (saved.auth_secret, saved.secrets.get().value) == ("rotated-token", "rotated")


def test_clear_removes_the_stored_value(client, saved, change_url, change_form_data):
    data = change_form_data(client.get(change_url), auth_type="none", **{"auth_secret-clear": "on"})

    response = client.post(change_url, data)

    assert response.status_code == 302
    saved.refresh_from_db()
    assert saved.auth_secret == ""
    assert raw_column("integrations_integration", "auth_secret", saved.pk) == ""


def test_clear_and_a_new_value_together_are_refused(client, saved, change_url, change_form_data):
    data = change_form_data(client.get(change_url), auth_secret="other", **{"auth_secret-clear": "on"})

    response = client.post(change_url, data)

    assert "not both" in response.context["adminform"].form.errors["auth_secret"][0]
    saved.refresh_from_db()
    assert saved.auth_secret == AUTH_SECRET


def test_a_new_secret_needs_a_value(client, saved, change_url, change_form_data):
    data = change_form_data(
        client.get(change_url), **{"secrets-TOTAL_FORMS": "2", "secrets-1-name": "OTHER", "secrets-1-value": ""}
    )

    response = client.post(change_url, data)

    [formset] = [
        inline.formset for inline in response.context["inline_admin_formsets"] if inline.formset.prefix == "secrets"
    ]
    assert formset.forms[1].errors["value"] == ["This field is required."]
    assert not Secret.objects.filter(name="OTHER").exists()


def test_a_typed_secret_is_not_shown_back_when_the_form_has_errors(client, integration, change_url, change_form_data):
    data = change_form_data(client.get(change_url), auth_secret=AUTH_SECRET, default_headers="{oops")

    response = client.post(change_url, data)

    assert response.status_code == 200
    assert "Invalid JSON" in response.content.decode()
    assert AUTH_SECRET not in response.content.decode()


def test_client_certificate_is_write_only(client, action, change_form_data):
    url = reverse("admin:integrations_action_change", args=[action.pk])

    response = client.post(url, change_form_data(client.get(url), client_certificate=CERTIFICATE))

    assert response.status_code == 302
    assert Action.objects.get(pk=action.pk).client_certificate == CERTIFICATE
    assert "PLAINTEXT-CERT" not in raw_column("integrations_action", "client_certificate", action.pk)
    html = client.get(url).content.decode()
    assert "PLAINTEXT-CERT" not in html
    assert "Stored value: <strong>set</strong>" in html


def test_add_page_says_not_set(client):
    html = client.get(reverse("admin:integrations_integration_add")).content.decode()

    assert "Stored value: <strong>not set</strong>" in html
