"""/api/integrations/: list, create, read, update; archived and unarchived, never deleted; secrets write-only."""

import pytest

from integrations.models import Integration, Secret
from tests.api_helpers import codes, details
from tests.definitions_api import post_json

BEARER = {"name": "Acme", "auth_type": "bearer", "auth_secret": "{{ secrets.TOKEN }}",
          "secrets": {"TOKEN": "tok-1", "OTHER": "other-1"}}


@pytest.fixture
def created(admin_api, db):
    response = post_json(admin_api, "/api/integrations/", BEARER)
    assert response.status_code == 201, response.json()
    return Integration.objects.get(pk=response.json()["id"])


def secrets_of(integration):
    return {secret.name: secret.value for secret in integration.secrets.all()}


def test_an_integration_is_created_with_its_secrets_and_says_which_are_set(admin_api, created):
    assert (created.name, created.slug, created.auth_type, created.auth_secret) == (
        "Acme", "acme", "bearer", "{{ secrets.TOKEN }}"
    )
    assert secrets_of(created) == {"OTHER": "other-1", "TOKEN": "tok-1"}
    document = admin_api.get(f"/api/integrations/{created.pk}/").json()
    assert document["secrets_set"] == ["OTHER", "TOKEN"]
    assert document["auth_secret_set"] is True
    assert "secrets" not in document and "auth_secret" not in document


def test_secrets_are_set_replaced_and_deleted_by_name_and_others_kept(admin_api, created):
    response = admin_api.patch(f"/api/integrations/{created.pk}/", {
        "secrets": {"TOKEN": "tok-2", "OTHER": None, "NEW": "new-1", "NEVER_SET": None},
    }, format="json")

    assert response.status_code == 200, response.json()
    assert secrets_of(created) == {"NEW": "new-1", "TOKEN": "tok-2"}
    assert response.json()["secrets_set"] == ["NEW", "TOKEN"]


def test_write_only_values_not_given_are_kept_by_put_and_patch(admin_api, created):
    document = admin_api.get(f"/api/integrations/{created.pk}/").json()

    put = admin_api.put(f"/api/integrations/{created.pk}/", {**document, "description": "Tickets"}, format="json")
    patch = admin_api.patch(f"/api/integrations/{created.pk}/", {"name": "Acme Corp"}, format="json")

    assert (put.status_code, patch.status_code) == (200, 200)
    created.refresh_from_db()
    assert (created.name, created.description, created.auth_secret) == ("Acme Corp", "Tickets", "{{ secrets.TOKEN }}")
    assert secrets_of(created) == {"OTHER": "other-1", "TOKEN": "tok-1"}


@pytest.mark.parametrize("cleared", [None, ""])
def test_the_auth_secret_is_cleared_by_null_or_blank(admin_api, created, cleared):
    response = admin_api.patch(
        f"/api/integrations/{created.pk}/", {"auth_type": "none", "auth_secret": cleared}, format="json"
    )

    assert response.status_code == 200, response.json()
    assert response.json()["auth_secret_set"] is False
    created.refresh_from_db()
    assert created.auth_secret == ""


def test_the_slug_is_made_from_the_name_and_must_be_unique(admin_api, created):
    """A taken slug is a 409 slug_exists, as an import without replace answers: the body is well formed."""
    response = post_json(admin_api, "/api/integrations/", {"name": "Acme"})

    assert response.status_code == 409
    assert details(response) == {"slug": ["Integration with this Slug already exists."]}
    assert codes(response) == {"slug": ["slug_exists"]}


def test_a_taken_slug_beside_other_faults_stays_one_of_the_400s_faults(admin_api, created):
    response = post_json(admin_api, "/api/integrations/", {"name": "Acme", "base_url": "ftp://x"})

    assert response.status_code == 400
    assert set(codes(response)) == {"slug", "base_url"}


def test_archive_and_unarchive_set_the_flag_and_answer_the_integration(admin_api, created):
    archived = admin_api.post(f"/api/integrations/{created.pk}/archive/")
    again = admin_api.post(f"/api/integrations/{created.pk}/archive/")

    assert (archived.status_code, again.status_code) == (200, 200)
    assert archived.json()["archived"] is True
    assert Integration.objects.get(pk=created.pk).archived is True

    unarchived = admin_api.post(f"/api/integrations/{created.pk}/unarchive/")

    assert unarchived.json()["archived"] is False
    assert Integration.objects.get(pk=created.pk).archived is False


def test_archived_is_changed_only_by_archive_and_unarchive(admin_api, created):
    admin_api.patch(f"/api/integrations/{created.pk}/", {"archived": True}, format="json")

    assert Integration.objects.get(pk=created.pk).archived is False


def test_an_integration_cannot_be_deleted_through_the_api(admin_api, created):
    response = admin_api.delete(f"/api/integrations/{created.pk}/")

    assert response.status_code == 405
    assert Integration.objects.filter(pk=created.pk).exists()


def test_the_list_filters_by_archived_and_slug(admin_api, created):
    Integration.objects.create(name="Old", slug="old", archived=True)

    assert [item["slug"] for item in admin_api.get("/api/integrations/").json()["results"]] == ["acme", "old"]
    assert [item["slug"] for item in admin_api.get("/api/integrations/?archived=true").json()["results"]] == ["old"]
    assert [item["slug"] for item in admin_api.get("/api/integrations/?archived=false").json()["results"]] == ["acme"]
    assert [item["id"] for item in admin_api.get("/api/integrations/?slug=acme").json()["results"]] == [created.pk]


def test_a_list_reads_secrets_names_in_one_query_and_decrypts_no_secret_value(admin_api, created,
                                                                               django_assert_max_num_queries,
                                                                               monkeypatch):
    from integrations import crypto

    for number in range(5):
        integration = Integration.objects.create(name=f"More {number}", slug=f"more-{number}")
        Secret.objects.create(integration=integration, name="KEY", value="v")
    decrypted = []
    decrypt = crypto.decrypt
    monkeypatch.setattr(crypto, "decrypt", lambda stored: decrypted.append(stored) or decrypt(stored))

    with django_assert_max_num_queries(5):  # the token, the user's permissions (2), integrations, secrets
        response = admin_api.get("/api/integrations/")

    assert len(response.json()["results"]) == 6
    assert [item["secrets_set"] for item in response.json()["results"]] == [["OTHER", "TOKEN"]] + [["KEY"]] * 5
    assert len(decrypted) == 1  # the one auth secret (whether it is set); none of the seven secret values


def test_an_unknown_integration_is_404(admin_api, db):
    assert admin_api.get("/api/integrations/404/").status_code == 404
    assert admin_api.post("/api/integrations/404/archive/").status_code == 404
    assert admin_api.get("/api/integrations/404/export/").status_code == 404


def test_text_fields_refuse_numbers_and_booleans_as_the_schema_says_strings(admin_api, db):
    response = post_json(admin_api, "/api/integrations/", {**BEARER, "oauth_scope": 0, "description": True,
                                                          "auth_secret": 7})

    assert response.status_code == 400
    assert codes(response) == {"oauth_scope": ["invalid"], "description": ["invalid"], "auth_secret": ["invalid"]}
    assert details(response)["oauth_scope"] == ["Not a valid string."]
    assert not Integration.objects.exists()
