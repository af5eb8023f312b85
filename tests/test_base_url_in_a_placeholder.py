"""A placeholder may hold a whole base URL where it starts the URL ({{ BASE_URL }}/users, as ChiefOnboarding's
manifests write it): put in as it is there, percent-encoded everywhere else, and the outbound guard still decides
where the request may go."""

import pytest

from integrations.manifests import import_manifest
from integrations.templating import BadBaseURL, Context, render_url
from runs.models import Status
from runs.services import start_run
from tests.engine_helpers import drive
from tests.servers import reply

pytestmark = pytest.mark.usefixtures("q_sync")


def test_only_the_placeholder_that_starts_the_url_may_hold_an_address():
    context = Context({"BASE": "https://api.example.test/v2/", "id": "https://evil.test/x", "kind": "a/b"})

    assert render_url("{{ BASE }}/users/{{ id }}", context) == (
        "https://api.example.test/v2/users/https%3A%2F%2Fevil.test%2Fx")
    assert render_url("{{ kind }}/list", context) == "a%2Fb/list"  # not an address: a part, encoded
    assert render_url("https://h.test/{{ BASE }}", context) == "https://h.test/https%3A%2F%2Fapi.example.test%2Fv2%2F"


@pytest.mark.parametrize("value, said", [
    ("ftp://files.example.test", "is not http or https (ftp)"),
    ("https://h.test/?token=1", "has a query or a fragment"),
    ("https:///path", "has no host"),
    ("https://h.test/a b", "holds a space or a control character"),
])
def test_an_address_that_cannot_start_a_url_is_refused_naming_the_placeholder(value, said):
    with pytest.raises(BadBaseURL) as refused:
        render_url("{{ BASE }}/users", Context({"BASE": value}))

    assert str(refused.value).startswith(f"{{{{ BASE }}}} starts the URL and holds an address, which {said}")
    assert value not in str(refused.value)  # it may be a secret


def manifest():
    return {
        "initial_data_form": [{"id": "BASE_URL", "name": "Your instance's address"}],
        "execute": [{"url": "{{ BASE_URL }}/api/users/{{ email }}", "method": "PUT", "data": {"on": True}}],
    }


def test_an_imported_base_url_secret_starts_the_url_and_values_after_it_stay_encoded(db, server):
    server.script("/api/users/ada%2Fx%40example.test", reply(200, json={"ok": True}))

    integration, _ = import_manifest(manifest(), name="Instance", secrets={"BASE_URL": f"{server.base_url}/"})
    run = drive(start_run(integration.actions.get(slug="step-1"), {"email": "ada/x@example.test"}))

    assert run.status == Status.SUCCEEDED, run.reason
    assert [(request.method, request.path) for request in server.requests] == [
        ("PUT", "/api/users/ada%2Fx%40example.test")]


def test_the_outbound_guard_still_decides_where_a_base_url_leads(db, server, settings):
    settings.INTEGRATIONS_ALLOWED_HOSTS = ["example.invalid"]
    server.script("/api/users/a", reply(200, json={}))

    integration, _ = import_manifest(manifest(), name="Guarded", secrets={"BASE_URL": server.base_url})
    run = drive(start_run(integration.actions.get(slug="step-1"), {"email": "a"}))

    assert run.status == Status.FAILED
    assert "not allowed by INTEGRATIONS_ALLOWED_HOSTS" in run.reason
    assert server.requests == []


def test_a_base_url_that_cannot_start_one_refuses_the_run_without_sending(db, server):
    from django.core.exceptions import ValidationError

    integration, _ = import_manifest(manifest(), name="Bad", secrets={"BASE_URL": f"{server.base_url}/?k=1"})
    with pytest.raises(ValidationError) as refused:
        start_run(integration.actions.get(slug="step-1"), {"email": "a"})

    message = refused.value.message_dict["variables"][0]
    assert "{{ secrets.BASE_URL }} starts the URL and holds an address, which has a query" in message
    assert "k=1" not in message
    assert server.requests == []
