"""Importing a ChiefOnboarding manifest from the admin: pasted or uploaded, refusals named, nothing half-written."""

import json

from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from integrations.models import Integration
from tests.test_admin_runs import text_of
from tests.test_manifest_import import manifest

URL = reverse("admin:integrations_integration_import_manifest")


def test_an_admin_imports_a_pasted_manifest_as_a_chain(client, admin_user):
    client.force_login(admin_user)
    listing = client.get(reverse("admin:integrations_integration_changelist")).content.decode()
    assert f'href="{URL}"' in listing

    response = client.post(URL, {"name": "Onboarding", "manifest": json.dumps(manifest("https://x.test")),
                                 "secrets": "SANDBOX_TOKEN=the-token\n"}, follow=True)

    integration = Integration.objects.get(slug="onboarding")
    assert response.redirect_chain[-1][0] == reverse("admin:integrations_integration_change", args=[integration.pk])
    assert "Imported Onboarding from the manifest, with 4 actions." in text_of(response)
    assert integration.secrets.get(name="SANDBOX_TOKEN").value == "the-token"
    assert integration.actions.get(slug="step-1").next_action.slug == "step-2"
    assert "the-token" not in response.content.decode()


def test_an_uploaded_manifest_is_imported_too(client, admin_user):
    client.force_login(admin_user)
    upload = SimpleUploadedFile("m.json", json.dumps(manifest("https://x.test")).encode(), "application/json")

    client.post(URL, {"name": "From file", "manifest_file": upload, "secrets": "SANDBOX_TOKEN=t"})

    assert Integration.objects.get(slug="from-file").actions.count() == 4


def test_what_cannot_be_expressed_is_listed_and_nothing_is_written(client, admin_user):
    client.force_login(admin_user)
    refused = {**manifest("https://x.test"), "oauth": {"authenticate_url": "https://x.test/auth"}}

    response = client.post(URL, {"name": "Onboarding", "manifest": json.dumps(refused),
                                 "secrets": "SANDBOX_TOKEN=PLAINTEXT-typed-4411"})

    assert response.status_code == 200
    assert response.context["faults"][0].startswith("oauth: OAuth")
    assert "Nothing was imported" in text_of(response)
    assert "PLAINTEXT-typed-4411" not in response.content.decode()
    assert not Integration.objects.exists()


def test_a_missing_secret_and_bad_json_are_named(client, admin_user):
    client.force_login(admin_user)

    missing = client.post(URL, {"name": "Onboarding", "manifest": json.dumps(manifest("https://x.test"))})
    bad = client.post(URL, {"name": "Onboarding", "manifest": '{"execute": ['})

    assert any("SANDBOX_TOKEN" in fault for fault in missing.context["faults"])
    assert "manifest" in bad.context["form"].errors
    assert not Integration.objects.exists()


def test_a_viewer_cannot_import(client, viewer_user):
    client.force_login(viewer_user)

    listing = client.get(reverse("admin:integrations_integration_changelist")).content.decode()

    assert URL not in listing
    assert client.get(URL).status_code == 403
    assert client.post(URL, {"name": "x", "manifest": json.dumps(manifest("https://x.test"))}).status_code == 403


def test_every_fault_is_listed_at_once_in_the_page_s_own_terms(client, admin_user):
    client.force_login(admin_user)
    Integration.objects.create(name="Onboarding", slug="onboarding")
    faulty = manifest("https://x.test")
    faulty["initial_data_form"].append({"id": "REGION", "name": "Region"})
    faulty["execute"][0]["store_data"] = {"job id": "id"}

    response = client.post(URL, {"name": "Onboarding", "manifest": json.dumps(faulty),
                                 "secrets": "SANDBOX_TOKEN=PLAINTEXT-typed-5512\nno equals sign\n=v\n"})

    assert response.context["faults"] == [
        "Secrets: Line 2 is not ID=value.",
        "Secrets: Line 3 is not ID=value.",
        "Secrets: REGION (of initial_data_form) has no value: add the line REGION=value.",
        "Slug: an integration with the slug 'onboarding' exists: tick “Replace” to replace it (its actions become "
        "the manifest's, its secrets are kept), or give another slug.",
        "execute #1 store_data 'job id': Use letters, digits and underscores, not starting with a digit "
        "(e.g. ticket_id).",
    ]
    text = text_of(response)
    assert "Nothing was imported. 5 faults, all those found:" in text
    for api_term in ('"secrets"', "secrets_set", "actions.step-1", "mappings[0]", "import with replace"):
        assert api_term not in text
    assert "PLAINTEXT-typed-5512" not in response.content.decode()
    assert Integration.objects.get().actions.count() == 0  # nothing written, the one there untouched


def test_a_manifest_that_cannot_be_converted_still_has_the_page_s_faults_listed(client, admin_user):
    client.force_login(admin_user)
    Integration.objects.create(name="Onboarding", slug="onboarding")
    refused = {**manifest("https://x.test"), "oauth": {"authenticate_url": "https://x.test/auth"}}

    response = client.post(URL, {"name": "Onboarding", "manifest": json.dumps(refused), "secrets": "oops"})

    faults = response.context["faults"]
    assert faults[0] == "Secrets: Line 1 is not ID=value."
    assert faults[1].startswith("oauth: OAuth")
    assert faults[2].startswith("Slug: an integration with the slug 'onboarding' exists: tick “Replace”")
    assert faults[3] == "Secrets: SANDBOX_TOKEN (of initial_data_form) has no value: add the line SANDBOX_TOKEN=value."
    assert len(faults) == 4


def test_replacing_counts_the_secrets_the_integration_has(client, admin_user):
    client.force_login(admin_user)
    client.post(URL, {"name": "Onboarding", "manifest": json.dumps(manifest("https://x.test")),
                      "secrets": "SANDBOX_TOKEN=kept"})

    response = client.post(URL, {"name": "Onboarding", "manifest": json.dumps(manifest("https://x.test")),
                                 "replace": "on"}, follow=True)

    assert "Replaced Onboarding from the manifest, with 4 actions." in text_of(response)
    assert Integration.objects.get().secrets.get(name="SANDBOX_TOKEN").value == "kept"
