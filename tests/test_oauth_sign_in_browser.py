"""OAuth sign-in as an admin does it, in a real Chromium: fill the fields, Connect, consent at the provider,
back to the admin "Connected"; runs use the token, refresh it, and fail asking to reconnect once the provider
revokes the refresh token.

The provider is authlib's own authorization server on 127.0.0.1 (tests/oauth_provider.py), never a mock.
"""

import pytest
from django.urls import reverse

from integrations.models import Integration, OAuthConnection
from runs.models import ExchangeKind, Status
from runs.services import start_run
from tests.browser import BROWSER, browser, orm_beside_playwright, page, screenshot  # noqa: F401
from tests.engine_helpers import drive, make_action
from tests.oauth_provider import Provider

pytestmark = [*BROWSER, pytest.mark.usefixtures("q_sync")]

CALLBACK_PATH = "/admin/integrations/integration/oauth/callback/"


@pytest.fixture
def provider(live_server):
    with Provider() as running:
        running.redirect_uri = live_server.url + CALLBACK_PATH
        yield running


def test_connect_consent_run_refresh_and_reconnect(page, provider):
    integration = Integration.objects.create(name="Local provider", slug="local-provider", base_url=provider.url())
    action = make_action(provider.url(), integration=integration, method="GET", url="/api/me", name="Who am I")
    provider.expires_in = 1  # shorter than the engine's margin: the first run refreshes at once

    # The admin chooses OAuth sign-in and fills its fields.
    page.goto(reverse("admin:integrations_integration_change", args=[integration.pk]))
    page.select_option("#id_auth_type", "oauth2_authorization_code")
    page.fill("#id_oauth_authorize_url", provider.url("/authorize"))
    page.fill("#id_oauth_token_url", provider.url("/token"))
    page.fill("#id_oauth_client_id", provider.client_id)
    page.fill("#id_auth_secret", provider.client_secret)
    page.fill("#id_oauth_scope", "profile offline")
    sign_in = page.locator(".form-row.field-oauth_sign_in")
    assert sign_in.is_visible() and "Not connected" in sign_in.inner_text()
    assert provider.redirect_uri in sign_in.inner_text()  # the URI to register with the provider
    page.click("input[name=_continue]")
    page.wait_for_selector(".messagelist .success")

    # Connect: the provider's consent page, then back to the admin.
    page.click("a.oauth-connect")
    page.wait_for_selector("#allow")
    assert page.url.startswith(provider.url("/authorize?"))
    assert "Allow local-client to access your account?" in page.inner_text("h1")
    assert page.inner_text("#scopes") == "profile offline"
    page.click("#allow")
    page.wait_for_selector(".messagelist .success")

    assert page.url.endswith(reverse("admin:integrations_integration_change", args=[integration.pk]))
    assert page.inner_text(".messagelist .success") == "Connected Local provider: runs now use OAuth sign-in tokens."
    assert page.inner_text(".field-oauth_sign_in .oauth-state") == "Connected"
    assert page.locator("a.oauth-connect").inner_text() == "Connect again"
    refresh_token = OAuthConnection.objects.get(integration=integration).refresh_token
    assert refresh_token and refresh_token not in page.content()
    page.locator(".field-oauth_sign_in").scroll_into_view_if_needed()
    screenshot(page, "oauth-sign-in-connected")

    # A run uses an access token, refreshed first (it would expire within the margin) with a rotated refresh token.
    run = drive(start_run(action))
    assert run.status == Status.SUCCEEDED, run.reason
    assert provider.token_requests == ["authorization_code", "refresh_token"]
    assert run.exchanges.get(kind=ExchangeKind.REQUEST).status_code == 200
    rotated = OAuthConnection.objects.get(integration=integration).refresh_token
    assert rotated != refresh_token and provider.live_refresh_tokens() == [rotated]

    # The user revokes the app's access at the provider: the next refresh is refused, the run says what to do.
    provider.revoke_refresh_tokens()
    failed = drive(start_run(action))
    assert failed.status == Status.FAILED
    page.goto(reverse("admin:runs_run_change", args=[failed.pk]))
    assert "reconnect the integration" in page.content()

    page.goto(reverse("admin:index"))  # the overview marks it too, linking to the integration's page
    page.click(".overview-integrations a.overview-reconnect")
    assert page.inner_text(".field-oauth_sign_in .oauth-state") == "Reconnect needed"
    assert "reconnect the integration" in page.inner_text(".field-oauth_sign_in")
    page.locator(".field-oauth_sign_in").scroll_into_view_if_needed()
    screenshot(page, "oauth-sign-in-reconnect-needed")

    # Connecting again mends it.
    provider.expires_in = 3600
    page.click("a.oauth-connect")
    page.click("#allow")
    page.wait_for_selector(".messagelist .success")
    assert page.inner_text(".field-oauth_sign_in .oauth-state") == "Connected"
    assert drive(start_run(action)).status == Status.SUCCEEDED
