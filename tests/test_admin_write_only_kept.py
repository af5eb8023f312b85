"""A write-only value typed once is not asked for again when the page comes back for another field's error.

The page keeps it encrypted, for the person who typed it, and never shows it.
"""

import re

import pytest
from django.contrib.auth.models import Group, User
from django.urls import reverse

from integrations.crypto import encrypt
from integrations.models import Action, Integration

AUTH_SECRET = "typed-PLAINTEXT-auth-5e0c"
SECRET_VALUE = "typed-PLAINTEXT-value-b21f"
CERTIFICATE = "-----BEGIN CERTIFICATE-----\nPLAINTEXT-CERT-77d0\n-----END CERTIFICATE-----"
KEPT = "Typed value: <strong>kept, not shown</strong>"


@pytest.fixture
def client(client, admin_user):
    client.force_login(admin_user)
    return client


def kept_token(html, name):
    [token] = re.findall(rf'name="{re.escape(name)}-kept" value="([^"]+)"', html)
    return token


def integration_url(integration):
    return reverse("admin:integrations_integration_change", args=[integration.pk])


def post_integration(client, integration, change_form_data, **changes):
    url = integration_url(integration)
    return client.post(url, change_form_data(client.get(url), **changes))


SECRET_ROW = {"secrets-TOTAL_FORMS": "1", "secrets-0-name": "TOKEN"}


def test_typed_secrets_survive_an_error_elsewhere_without_being_shown(client, integration, change_form_data):
    first = post_integration(
        client, integration, change_form_data,
        auth_type="bearer", auth_secret=AUTH_SECRET, default_headers="{not json",
        **SECRET_ROW, **{"secrets-0-value": SECRET_VALUE},
    )

    html = first.content.decode()
    assert first.status_code == 200 and "Invalid JSON" in html
    assert AUTH_SECRET not in html and SECRET_VALUE not in html
    assert html.count(KEPT) == 2

    # Sent again as a browser would: the password boxes empty, the kept values in their hidden inputs.
    second = post_integration(
        client, integration, change_form_data,
        auth_type="bearer", default_headers="{}", **SECRET_ROW,
        **{"auth_secret-kept": kept_token(html, "auth_secret"), "secrets-0-value-kept": kept_token(html, "secrets-0-value")},
    )

    assert second.status_code == 302
    integration = Integration.objects.get(pk=integration.pk)
    assert integration.auth_secret == AUTH_SECRET
    assert integration.secrets.get(name="TOKEN").value == SECRET_VALUE


def test_a_kept_value_is_kept_again_through_a_second_error(client, integration, change_form_data):
    first = post_integration(client, integration, change_form_data, auth_type="bearer", auth_secret=AUTH_SECRET,
                             default_headers="{not json")
    token = kept_token(first.content.decode(), "auth_secret")

    second = post_integration(client, integration, change_form_data, auth_type="bearer", default_headers="[1]",
                              **{"auth_secret-kept": token})
    third = post_integration(client, integration, change_form_data, auth_type="bearer", default_headers="{}",
                             **{"auth_secret-kept": kept_token(second.content.decode(), "auth_secret")})

    assert second.status_code == 200 and AUTH_SECRET not in second.content.decode()
    assert third.status_code == 302
    assert Integration.objects.get(pk=integration.pk).auth_secret == AUTH_SECRET


def test_the_actions_client_certificate_survives_too(client, action, post_action):
    first = post_action(client_certificate=CERTIFICATE, headers="{not json")

    html = first.content.decode()
    assert "PLAINTEXT-CERT-77d0" not in html and KEPT in html

    second = post_action(**{"client_certificate-kept": kept_token(html, "client_certificate")})

    assert second.status_code == 302
    assert Action.objects.get(pk=action.pk).client_certificate == CERTIFICATE


def test_a_new_value_typed_over_a_kept_one_wins(client, integration, change_form_data):
    first = post_integration(client, integration, change_form_data, auth_type="bearer", auth_secret=AUTH_SECRET,
                             default_headers="{not json")

    response = post_integration(
        client, integration, change_form_data, auth_type="bearer", auth_secret="retyped",
        **{"auth_secret-kept": kept_token(first.content.decode(), "auth_secret")},
    )

    assert response.status_code == 302
    assert Integration.objects.get(pk=integration.pk).auth_secret == "retyped"


def test_clear_wins_over_a_kept_value(client, integration, change_form_data):
    Integration.objects.filter(pk=integration.pk).update(auth_secret=encrypt("stored"))
    first = post_integration(client, integration, change_form_data, auth_secret=AUTH_SECRET,
                             default_headers="{not json")

    response = post_integration(
        client, integration, change_form_data,
        **{"auth_secret-kept": kept_token(first.content.decode(), "auth_secret"), "auth_secret-clear": "on"},
    )

    assert response.status_code == 302
    assert Integration.objects.get(pk=integration.pk).auth_secret == ""


def test_a_value_refused_itself_is_not_kept(client, integration, change_form_data):
    response = post_integration(client, integration, change_form_data, auth_type="bearer",
                                auth_secret="{{ not closed")

    html = response.content.decode()
    assert response.context["adminform"].form.errors["auth_secret"]
    assert "auth_secret-kept" not in html and "{{ not closed" not in html


def test_nothing_is_kept_on_a_page_shown_fresh(client, integration):
    Integration.objects.filter(pk=integration.pk).update(auth_secret=encrypt(AUTH_SECRET))

    html = client.get(integration_url(integration)).content.decode()

    assert "-kept" not in html and AUTH_SECRET not in html


@pytest.fixture
def carol(groups):
    user = User.objects.create_user("carol", password="carol-password-123", is_staff=True)
    user.groups.add(Group.objects.get(name="Integrations Admin"))
    return user


def test_a_value_kept_for_someone_else_is_refused(client, integration, change_form_data, carol):
    first = post_integration(client, integration, change_form_data, auth_type="bearer", auth_secret=AUTH_SECRET,
                             default_headers="{not json")
    token = kept_token(first.content.decode(), "auth_secret")
    client.force_login(carol)

    response = post_integration(client, integration, change_form_data, auth_type="bearer",
                                **{"auth_secret-kept": token})

    assert response.status_code == 200
    message = response.context["adminform"].form.errors["auth_secret"][0]
    assert message.startswith("The value typed before could not be kept")
    assert Integration.objects.get(pk=integration.pk).auth_secret == ""


@pytest.mark.parametrize("forged", ["gAAAAABnot-a-token", "stored"])
def test_a_forged_token_or_a_stored_ciphertext_is_refused(client, integration, change_form_data, forged):
    # A stored value's ciphertext (as a database dump would show it) is no kept value: it would copy a secret.
    token = encrypt(AUTH_SECRET).removeprefix("fernet:") if forged == "stored" else forged

    response = post_integration(client, integration, change_form_data, auth_type="bearer",
                                **{"auth_secret-kept": token})

    assert response.status_code == 200
    assert response.context["adminform"].form.errors["auth_secret"][0].startswith("The value typed before")
    assert Integration.objects.get(pk=integration.pk).auth_secret == ""
