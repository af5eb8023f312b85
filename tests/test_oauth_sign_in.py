"""OAuth sign-in (authorization code with PKCE and refresh tokens) against a real local authorization server.

The provider is authlib's own server (tests/oauth_provider.py) on 127.0.0.1; the consent is given with
``requests`` as a browser would (the browser test does it in Chromium). The engine's sender threads read the
integration's OAuthConnection, so these tests commit (transactional_db).
"""

import json
import threading
from io import StringIO
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.contrib.messages import get_messages
from django.core.management import call_command
from django.db import connection
from django.urls import reverse

from integrations.models import Integration, OAuthConnection, Secret
from runs import oauth
from runs.batch import _fetch
from runs.definitions import definition_for
from runs.models import ExchangeKind, OAuthToken, Status
from runs.services import start_run
from tests.engine_helpers import drive, make_action
from tests.oauth_provider import Provider

pytestmark = pytest.mark.usefixtures("q_sync")

CALLBACK = "http://testserver" + "/admin/integrations/integration/oauth/callback/"


@pytest.fixture
def provider():
    with Provider() as running:
        running.redirect_uri = CALLBACK
        yield running


@pytest.fixture
def integration(transactional_db, provider):
    integration = Integration.objects.create(
        name="Local provider", slug="local-provider", base_url=provider.url(), auth_type="oauth2_authorization_code",
        oauth_authorize_url=provider.url("/authorize"), oauth_token_url=provider.url("/token"),
        oauth_client_id=provider.client_id, auth_secret="{{ secrets.CLIENT_SECRET }}", oauth_scope="profile offline",
    )
    Secret.objects.create(integration=integration, name="CLIENT_SECRET", value=provider.client_secret)
    integration.full_clean()
    return integration


@pytest.fixture
def action(integration, provider):
    return make_action(provider.url(), integration=integration, method="GET", url="/api/me")


@pytest.fixture
def admin(client, admin_user):
    client.force_login(admin_user)
    return client


def consent(authorize_url, allow=True):
    """What a browser does at the provider: open the consent page, press Allow (or Deny); the redirect back."""
    page = requests.get(authorize_url, timeout=5)
    assert page.status_code == 200, page.text
    assert "Allow local-client to access your account?" in page.text
    answer = requests.post(authorize_url, data={"confirm": "yes" if allow else "no"}, allow_redirects=False,
                           timeout=5)
    assert answer.status_code == 302, answer.text
    return answer.headers["Location"]


def start_connect(admin, integration):
    response = admin.get(reverse("admin:integrations_integration_oauth_connect", args=[integration.pk]))
    assert response.status_code == 302
    return response["Location"]


def come_back(admin, location):
    """Follow the provider's redirect to our callback; (response, messages shown)."""
    parts = urlsplit(location)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == CALLBACK
    response = admin.get(parts.path + "?" + parts.query)
    return response, [str(message) for message in get_messages(response.wsgi_request)]


def connect(admin, integration):
    response, shown = come_back(admin, consent(start_connect(admin, integration)))
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:integrations_integration_change", args=[integration.pk])
    assert shown == [f"Connected {integration.name}: runs now use OAuth sign-in tokens."]


def stored_refresh_token(integration):
    return OAuthConnection.objects.get(integration=integration).refresh_token


def test_connect_sends_pkce_and_state_and_keeps_the_refresh_token_encrypted(admin, integration, provider, action):
    authorize = start_connect(admin, integration)
    query = parse_qs(urlsplit(authorize).query)
    assert authorize.startswith(provider.url("/authorize?"))
    assert query["code_challenge_method"] == ["S256"]
    assert len(query["code_challenge"][0]) == 43  # base64url of a SHA-256 digest
    assert len(query["state"][0]) >= 32
    assert query["redirect_uri"] == [CALLBACK]
    assert query["scope"] == ["profile offline"]

    response, shown = come_back(admin, consent(authorize))
    assert shown == ["Connected Local provider: runs now use OAuth sign-in tokens."], shown

    [live] = provider.live_refresh_tokens()
    assert stored_refresh_token(integration) == live
    with connection.cursor() as cursor:
        cursor.execute("SELECT refresh_token FROM integrations_oauthconnection")
        [(raw,)] = cursor.fetchall()
    assert raw.startswith("fernet:") and live not in raw

    run = drive(start_run(action))
    assert run.status == Status.SUCCEEDED, run.reason
    assert provider.token_requests == ["authorization_code"]  # the token the callback got is used as it is
    assert run.exchanges.get(kind=ExchangeKind.REQUEST).response_body == '{"scope":"profile offline","user":"grace"}\n'


def test_an_expiring_token_is_refreshed_and_the_rotated_refresh_token_kept(admin, integration, provider, action):
    provider.expires_in = 1  # expires sooner than the engine's margin: refreshed before any request
    connect(admin, integration)
    first_refresh = stored_refresh_token(integration)

    run = drive(start_run(action))

    assert run.status == Status.SUCCEEDED, run.reason
    assert provider.token_requests == ["authorization_code", "refresh_token"]
    rotated = stored_refresh_token(integration)
    assert rotated != first_refresh and provider.live_refresh_tokens() == [rotated]
    token_row = run.exchanges.get(kind=ExchangeKind.OAUTH_TOKEN)
    assert "grant_type=refresh_token" in token_row.request_body
    assert "refresh_token=***" in token_row.request_body and "client_secret=***" in token_row.request_body
    everything = json.dumps(list(run.exchanges.values()), default=str)
    for secret in (first_refresh, rotated, provider.client_secret):
        assert secret not in everything
    assert '"refresh_token": "***"' in token_row.response_body

    # The rotated token works for the next refresh; once tokens last, no more refreshes.
    second = drive(start_run(action))
    assert second.status == Status.SUCCEEDED, second.reason
    provider.expires_in = 3600
    third = drive(start_run(action))
    fourth = drive(start_run(action))
    assert (third.status, fourth.status) == (Status.SUCCEEDED, Status.SUCCEEDED)
    assert provider.token_requests == ["authorization_code"] + ["refresh_token"] * 3


def test_a_revoked_refresh_token_fails_the_run_and_asks_to_reconnect(admin, integration, provider, action):
    provider.expires_in = 1
    connect(admin, integration)
    provider.revoke_refresh_tokens()

    run = drive(start_run(action))

    assert run.status == Status.FAILED
    assert "The provider refused the refresh token (invalid_grant): reconnect the integration" in run.reason
    assert not run.exchanges.filter(kind=ExchangeKind.REQUEST, status_code__isnull=False).exists()
    connection_row = OAuthConnection.objects.get(integration=integration)
    assert connection_row.needs_reconnect and "reconnect the integration" in connection_row.reason
    page = admin.get(reverse("admin:integrations_integration_change", args=[integration.pk])).content.decode()
    assert "Reconnect needed" in page

    # Later runs fail at once, without asking the provider again; connecting again mends it.
    again = drive(start_run(action))
    assert again.status == Status.FAILED and "reconnect the integration" in again.reason
    assert provider.token_requests == ["authorization_code", "refresh_token"]
    provider.expires_in = 3600
    connect(admin, integration)
    assert not OAuthConnection.objects.get(integration=integration).needs_reconnect
    assert drive(start_run(action)).status == Status.SUCCEEDED


def test_a_wrong_or_replayed_state_is_refused_and_stores_nothing(admin, integration, provider, client, admin_user):
    location = consent(start_connect(admin, integration))
    forged = location.replace("state=", "state=x")
    response, shown = come_back(admin, forged)
    assert response["Location"] == reverse("admin:integrations_integration_changelist")
    assert shown == ["This sign-in answer does not match a Connect started in this browser (its state is unknown, "
                     "or it was used already); nothing was stored. Click Connect again."]
    assert not OAuthConnection.objects.exists()

    come_back(admin, location)  # the real one works once...
    assert OAuthConnection.objects.count() == 1
    OAuthConnection.objects.all().delete()
    response, shown = come_back(admin, location)  # ...and not twice
    assert "it was used already" in shown[0]
    assert not OAuthConnection.objects.exists()


def test_a_state_from_another_admins_session_is_refused(integration, provider, admin_user, client, django_user_model):
    from django.test import Client

    client.force_login(admin_user)
    location = consent(start_connect(client, integration))
    other = Client()
    other.force_login(admin_user)  # the same person in another browser: a new session
    response, shown = come_back(other, location)
    assert "does not match a Connect started in this browser" in shown[0]
    assert not OAuthConnection.objects.exists()


def test_a_denied_consent_stores_nothing_and_says_so(admin, integration, provider):
    response, shown = come_back(admin, consent(start_connect(admin, integration), allow=False))
    assert shown == ["The provider did not grant access (access_denied: The resource owner or authorization server "
                     "denied the request); nothing was stored."]
    assert not OAuthConnection.objects.exists()


def test_a_code_the_token_url_refuses_is_said_and_stores_nothing(admin, integration, provider):
    state = parse_qs(urlsplit(start_connect(admin, integration)).query)["state"][0]
    response, shown = come_back(admin, f"{CALLBACK}?code=not-a-code-it-issued&state={state}")
    assert shown == ["The token URL refused the code (invalid_grant); nothing was stored. Click Connect again."]
    assert provider.token_requests == ["authorization_code"]
    assert not OAuthConnection.objects.exists()


def test_connect_is_for_staff_who_may_change_integrations(client, integration, viewer_user):
    url = reverse("admin:integrations_integration_oauth_connect", args=[integration.pk])
    anonymous = client.get(url)
    assert anonymous.status_code == 302 and anonymous["Location"].startswith(reverse("admin:login"))
    client.force_login(viewer_user)
    assert client.get(url).status_code == 403
    callback = client.get(reverse("admin:integrations_integration_oauth_callback") + "?state=x&code=y")
    assert callback.status_code == 302  # refused by its state before anything else
    assert not OAuthConnection.objects.exists()


def test_two_threads_refreshing_at_once_send_one_refresh(admin, integration, provider, action):
    """The lock on the OAuthConnection row, without the process's own lock (as two clusters would)."""
    provider.expires_in = 1
    connect(admin, integration)
    provider.expires_in = 3600
    definition = definition_for(action)
    values = {"oauth_client_id": provider.client_id, "auth_secret": provider.client_secret,
              "oauth_scope": "profile offline"}
    barrier, got = threading.Barrier(2), []

    def refresh():
        try:
            barrier.wait()
            got.append(oauth._refresh(definition, values, lambda request: _fetch(request, []), stale=None))
        finally:
            connection.close()

    threads = [threading.Thread(target=refresh) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert provider.token_requests == ["authorization_code", "refresh_token"]
    assert len(got) == 2 and got[0][0] == got[1][0]
    assert OAuthToken.objects.get(integration=integration).access_token == got[0][0]


def test_the_refresh_token_is_never_shown_exported_or_dumped(admin, admin_api, integration, provider):
    connect(admin, integration)
    token = stored_refresh_token(integration)

    page = admin.get(reverse("admin:integrations_integration_change", args=[integration.pk])).content.decode()
    assert "Connected" in page and token not in page
    api = admin_api.get(f"/api/integrations/{integration.pk}/").content.decode()
    assert "oauth_authorize_url" in api and token not in api
    exported, dumped = StringIO(), StringIO()
    call_command("export_integration", integration.slug, stdout=exported)
    call_command("dumpdata", "integrations", stdout=dumped)
    assert token not in exported.getvalue() and token not in dumped.getvalue()
    assert f'"oauth_authorize_url": "{provider.url("/authorize")}"' in exported.getvalue()  # the settings travel
    assert '"model": "integrations.oauthconnection"' in dumped.getvalue()  # the row is dumped, its token blank
    assert '"refresh_token": ""' in dumped.getvalue()


def test_sign_in_fields_are_checked_field_by_field(db):
    integration = Integration(name="Bad", slug="bad", auth_type="oauth2_authorization_code",
                              oauth_authorize_url="ftp://provider.example/authorize", oauth_token_url="")
    with pytest.raises(Exception) as caught:
        integration.full_clean()
    errors = caught.value.message_dict
    assert errors["oauth_authorize_url"] == ["Write an absolute URL: https://host/optional/path."]
    assert errors["oauth_token_url"] == [
        "Required for OAuth sign-in (authorization code, refresh token) authentication (OAuth token URL)."]
    assert "oauth_client_id" in errors and "auth_secret" in errors
