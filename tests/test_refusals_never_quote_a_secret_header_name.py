"""An API key header whose name is a secret ({{ secrets.HEADER }}) and cannot be a header name: starting a run is
refused naming the field, and no part of the secret appears in the refusal (it used to quote the first 60
characters of the name, which the redactor, looking for the secret whole, let through).
"""

import pytest
from django.urls import reverse

from integrations.models import Integration
from runs.models import Run, Status
from tests.api_helpers import details, token_client
from tests.engine_helpers import drive, make_action
from tests.test_admin_runs import text_of

pytestmark = pytest.mark.usefixtures("q_sync")

# A space makes it no header name; longer than the 60 characters the old message kept.
HEADER_SECRET = "X-Tenant-7f3a9c1e54b2 d81f6a0c3e9b7d25a4f1c8e6b3d9a7f2c5e8b1d4a7"
FRAGMENTS = [HEADER_SECRET[start:start + 8] for start in range(0, len(HEADER_SECRET) - 8, 4)]
REFUSAL = ("The integration's API key name is not a valid HTTP header name once its placeholders are filled "
           "(letters, digits and !#$%&'*+.^_`|~- only); the request is not sent.")


@pytest.fixture
def action(db, server):
    integration = Integration.objects.create(
        name="Tenant", slug="tenant", base_url=server.base_url, auth_type="api_key_header",
        api_key_name="{{ secrets.HEADER }}", auth_secret="{{ secrets.KEY }}")
    integration.secrets.create(name="HEADER", value=HEADER_SECRET)
    integration.secrets.create(name="KEY", value="the-key-value")
    return make_action(server.base_url, integration=integration)


def assert_no_fragment(text):
    assert not [fragment for fragment in FRAGMENTS if fragment in text], text


def test_the_api_refuses_the_run_naming_the_field_not_the_secret(action, admin_user, server):
    answer = token_client(admin_user).post(f"/api/actions/{action.pk}/runs/", {}, format="json")

    assert answer.status_code == 400
    assert details(answer) == {"variables": [REFUSAL]}
    assert_no_fragment(answer.content.decode())
    assert not Run.objects.exists()
    assert server.requests == []


def test_the_admin_run_now_refuses_it_the_same_way(action, client, admin_user):
    client.force_login(admin_user)

    # What a browser posts for an action without inputs: the CSRF token alone.
    response = client.post(reverse("admin:integrations_action_run", args=[action.pk]), {"csrfmiddlewaretoken": "x"})

    assert response.status_code == 200
    assert REFUSAL in text_of(response)
    assert_no_fragment(response.content.decode())
    assert not Run.objects.exists()


def test_a_run_that_meets_it_later_fails_with_the_same_words(action, server):
    from runs.services import start_run

    action.integration.secrets.filter(name="HEADER").update(value="X-Tenant")
    run = start_run(action)
    secret = action.integration.secrets.get(name="HEADER")
    secret.value = HEADER_SECRET  # changed after the run was accepted, before its request is built
    secret.save()

    run = drive(run)

    assert run.status == Status.FAILED
    assert REFUSAL in run.reason
    assert_no_fragment(run.reason + "".join(exchange.error for exchange in run.exchanges.all()))
    assert server.requests == []
