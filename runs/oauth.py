"""OAuth 2.0 client credentials: tokens fetched through the one request path, cached in the database."""

import json
from datetime import timedelta
from urllib.parse import urlencode

from django.utils import timezone

from .http import Outbound, SendError, send
from .models import ExchangeKind, OAuthToken

EARLY = timedelta(seconds=30)  # refresh this long before the token says it expires


class TokenError(Exception):
    pass


def cached_token(integration):
    token = OAuthToken.objects.filter(integration=integration, expires_at__gt=timezone.now() + EARLY).first()
    return token.access_token if token else None


def forget_token(integration):
    OAuthToken.objects.filter(integration=integration).delete()


def fetch_token(definition, run, log):
    """Ask the token URL for a new token; ``log(kind, outbound, received, error, decision)`` records the exchange."""
    integration = definition.integration
    form = {"grant_type": "client_credentials", "client_id": integration.oauth_client_id,
            "client_secret": integration.auth_secret}
    if integration.oauth_scope:
        form["scope"] = integration.oauth_scope
    outbound = Outbound(
        method="POST",
        url=integration.oauth_token_url,
        headers={"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"},
        body=urlencode(form).encode(),
        connect_timeout=definition.action.connect_timeout,
        read_timeout=definition.action.read_timeout,
        verify=definition.action.verify_tls,
        use_env_proxy=definition.action.use_env_proxy,
    )
    try:
        received = send(outbound)
    except SendError as exc:
        log(ExchangeKind.OAUTH_TOKEN, outbound, None, str(exc), "")
        raise TokenError(f"The OAuth token request failed: {exc}") from None
    try:
        payload = json.loads(received.body)
        access_token = payload["access_token"]
    except (ValueError, KeyError, TypeError):
        access_token, payload = None, {}
    if received.status != 200 or not access_token:
        log(ExchangeKind.OAUTH_TOKEN, outbound, received, "", "No access token in the answer.")
        raise TokenError(f"The OAuth token URL answered {received.status} without an access_token.")
    definition.redactor.add(access_token)
    log(ExchangeKind.OAUTH_TOKEN, outbound, received, "", "Token received.")
    expires_in = payload.get("expires_in") or 3600
    try:
        expires_in = float(expires_in)
    except (TypeError, ValueError):
        expires_in = 3600
    OAuthToken.objects.update_or_create(
        integration=integration,
        defaults={"access_token": access_token, "expires_at": timezone.now() + timedelta(seconds=expires_in)},
    )
    return access_token
