"""Django's technical 500 page (DEBUG on, as ./run.sh runs) shows no secret, whatever the fault and wherever
the secret sits: in an integration, an action's client certificate, the engine's definition, redactor or
context, a local string, or the exception's own message."""

import base64
import sys

import pytest
from django.http import HttpResponse
from django.test import RequestFactory
from django.urls import include, path, reverse

from integrations.models import Action, Integration, Secret
from integrations.templating import Context
from integrations_site.error_reports import SecretsHiddenReporter
from runs.models import Status
from runs.redaction import Redactor
from runs.services import start_run
from tests.engine_helpers import make_action, step
from tests.servers import reply

pytestmark = pytest.mark.usefixtures("q_sync")

TOKEN = "TOKEN-plaintext-5f0c2b"
AUTH_SECRET = "AUTH-plaintext-9a41d7"
CERTIFICATE_LINE = "MIIBkTCB-plaintext-cert-line-3c7e"
CERTIFICATE = f"-----BEGIN CERTIFICATE-----\n{CERTIFICATE_LINE}\n-----END CERTIFICATE-----\n"
EVERY_SECRET = [TOKEN, AUTH_SECRET, CERTIFICATE_LINE]


def leaky_view(request):
    """Reads secrets into plain strings (no secret-bearing object stays in this frame) and fails quoting them."""
    token = Secret.objects.get(name="TOKEN").value
    note = f"calling with {token}"
    padded = "x" * 4090 + token  # Django trims a variable at 4096 characters: the cut falls inside the secret
    line = Action.objects.get().client_certificate.splitlines()[1]
    raise ValueError(f"The service refused {note!r} and {line}; {len(padded)}")


def fine_view(request):
    return HttpResponse("fine")


urlpatterns = [path("leaky/", leaky_view), path("fine/", fine_view), path("", include("integrations_site.urls"))]


@pytest.fixture
def debug_client(client, settings):
    """A client that gets Django's technical 500 page instead of the exception."""
    settings.DEBUG = True
    client.raise_request_exception = False
    return client


@pytest.fixture
def waiting_run(db, server):
    """A run waiting for its callback, of an integration with a secret, a bearer token and a client certificate."""
    integration = Integration.objects.create(name="Acme", slug="acme", base_url=server.base_url,
                                             auth_type="bearer", auth_secret=AUTH_SECRET)
    integration.secrets.create(name="TOKEN", value=TOKEN)
    server.script("/jobs", reply(202, json={"accepted": True}))
    action = make_action(server.base_url, integration=integration, polling_mode="callback", poll_timeout=3600,
                         body_type="json", body='{"token": "{{ secrets.TOKEN }}"}',
                         stop=[("state", "equals", "finished", "success")])
    Action.objects.filter(pk=action.pk).update(client_certificate=CERTIFICATE)
    run = step(start_run(action))
    assert run.status == Status.WAITING_CALLBACK
    return run


def assert_no_secret(page):
    for secret in EVERY_SECRET:
        assert secret not in page
        assert secret[:8] not in page  # not even a prefix left by a cut


@pytest.mark.parametrize("accept", ["text/html", "application/json"])  # the HTML page, and the text one
def test_a_fault_while_judging_a_callback_shows_no_secret(debug_client, waiting_run, monkeypatch, accept):
    def crash(run, definition, row, now):
        context = Context({"secrets": dict(definition.secrets)})
        raise RuntimeError(f"judging failed with {len(context.values)} values")

    monkeypatch.setattr("runs.due_work.judge_callback", crash)

    response = debug_client.post(f"/api/callbacks/{waiting_run.callback_token}/", {"state": "finished"},
                                 content_type="application/json", HTTP_ACCEPT=accept)

    assert response.status_code == 500
    page = response.content.decode()
    assert "judging failed with 1 values" in page  # Django's technical page
    if accept == "text/html":  # the one with the frames' variables
        assert "definition" in page and "Definition(" in page and "context" in page
    assert_no_secret(page)


def test_a_fault_while_starting_a_run_from_the_admin_shows_no_secret(debug_client, admin_user, waiting_run,
                                                                     monkeypatch):
    def crash(definition, run, part, **kwargs):
        raise RuntimeError("building failed")

    monkeypatch.setattr("runs.services.build", crash)
    debug_client.force_login(admin_user)
    url = reverse("admin:integrations_action_run", args=[waiting_run.action_id])

    response = debug_client.post(url, {"variables": "{}"})

    assert response.status_code == 500
    page = response.content.decode()
    assert "building failed" in page
    assert_no_secret(page)


@pytest.mark.urls(__name__)
def test_secrets_read_into_strings_and_quoted_by_the_exception_are_masked(debug_client, waiting_run):
    response = debug_client.get("/leaky/")

    assert response.status_code == 500
    page = response.content.decode()
    assert "The service refused" in page and "padded" in page and "note" in page
    assert_no_secret(page)


@pytest.mark.urls(__name__)
def test_the_page_says_everything_else_as_django_does(debug_client, waiting_run):
    assert debug_client.get("/fine/").content == b"fine"

    page = debug_client.get("/leaky/").content.decode()

    assert "ValueError" in page and "leaky_view" in page and "4090" in page  # the source lines and the frame


def test_a_value_only_a_redactor_knows_is_masked_in_every_frame(db):
    # A Basic authentication header is derived from the user name and password: only the redactor knows it.
    redactor = Redactor()
    redactor.add_basic_auth("user", AUTH_SECRET)
    derived = base64.b64encode(f"user:{AUTH_SECRET}".encode()).decode()

    def send(headers):
        raise ConnectionError(f"refused {headers}")

    try:
        definition_redactor = redactor  # noqa: F841 (a frame variable, as the engine's)
        send({"X-Echo": derived})
    except ConnectionError:
        reporter = SecretsHiddenReporter(RequestFactory().get("/"), *sys.exc_info())

    for page in (reporter.get_traceback_html(), reporter.get_traceback_text()):
        assert "refused" in page and "X-Echo" in page
        assert derived not in page and derived[:10] not in page
