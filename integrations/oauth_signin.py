"""OAuth sign-in (authorization code with PKCE): the admin's Connect and the provider's callback.

Connect sends the admin's browser to the provider's authorize URL (authlib
builds it, with an S256 code challenge and a fresh ``state``); the state and
its code verifier are kept in the admin's own session, keyed by the state, and
taken out on the first callback that names it, so a state that is wrong, from
another browser or used once already is refused. The callback exchanges the
code (authlib again), keeps the refresh token encrypted in the integration's
OAuthConnection (never shown, exported or logged) and the access token in the
engine's cache (runs.oauth), and from then on the engine refreshes it.
"""

import secrets
import time
from datetime import timedelta

import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session
from authlib.common.errors import AuthlibBaseError
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from .models import OAuthConnection
from .templating import Context, UnknownPlaceholder, render_text

SESSION_KEY = "integrations_oauth_flows"
FLOW_LIFETIME = 15 * 60  # seconds an admin may take to consent
MAX_FLOWS = 10  # started and not finished, per session
TIMEOUT = (5, 30)


class SignInError(Exception):
    """A Connect or a callback that cannot go on; the message is for the admin (never holds a secret)."""


def callback_url(request):
    """The redirect URI to register with the provider: one for the whole site."""
    return request.build_absolute_uri(reverse("admin:integrations_integration_oauth_callback"))


def _settings(integration):
    """The integration's sign-in fields with {{ secrets.NAME }} filled."""
    context = Context({"secrets": {secret.name: secret.value for secret in integration.secrets.all()}})
    filled = {}
    for name in ("oauth_authorize_url", "oauth_token_url", "oauth_client_id", "auth_secret", "oauth_scope"):
        try:
            filled[name] = render_text(getattr(integration, name), context)
        except UnknownPlaceholder as exc:
            label = integration._meta.get_field(name).verbose_name
            raise SignInError(f"The {label} uses a placeholder that Connect cannot fill ({exc}); only "
                              "{{ secrets.NAME }} can be used in OAuth sign-in fields.") from None
    missing = [integration._meta.get_field(name).verbose_name for name in
               ("oauth_authorize_url", "oauth_token_url", "oauth_client_id", "auth_secret") if not filled[name]]
    if missing:
        raise SignInError("Fill in and save " + ", ".join(missing) + " before connecting.")
    return filled


def _session(filled, redirect_uri):
    return OAuth2Session(
        client_id=filled["oauth_client_id"], client_secret=filled["auth_secret"], scope=filled["oauth_scope"] or None,
        redirect_uri=redirect_uri, code_challenge_method="S256", token_endpoint_auth_method="client_secret_post",
    )


def start(request, integration):
    """The provider's authorize URL for ``integration``; the flow is remembered in the admin's session."""
    filled = _settings(integration)
    redirect_uri = callback_url(request)
    verifier = generate_token(64)
    url, state = _session(filled, redirect_uri).create_authorization_url(
        filled["oauth_authorize_url"], state=secrets.token_urlsafe(32), code_verifier=verifier)
    now = time.time()
    flows = {key: flow for key, flow in request.session.get(SESSION_KEY, {}).items()
             if now - flow["started"] < FLOW_LIFETIME}
    while len(flows) >= MAX_FLOWS:
        flows.pop(min(flows, key=lambda key: flows[key]["started"]))
    flows[state] = {"integration": integration.pk, "verifier": verifier, "redirect_uri": redirect_uri,
                    "started": now}
    request.session[SESSION_KEY] = flows
    return url


def take_flow(request):
    """The flow the callback's ``state`` names, taken out of the session (so a state works once)."""
    state = request.GET.get("state", "")
    flows = dict(request.session.get(SESSION_KEY, {}))
    flow = flows.pop(state, None) if state else None
    if flow is None:
        raise SignInError("This sign-in answer does not match a Connect started in this browser (its state is "
                          "unknown, or it was used already); nothing was stored. Click Connect again.")
    request.session[SESSION_KEY] = flows
    if time.time() - flow["started"] >= FLOW_LIFETIME:
        raise SignInError("This sign-in took longer than 15 minutes; nothing was stored. Click Connect again.")
    return flow


def finish(request, integration, flow):
    """Exchange the callback's code for tokens and keep them; raises SignInError saying what went wrong."""
    from runs import oauth as engine_tokens

    if "error" in request.GET:
        error = request.GET.get("error", "")[:100]
        description = request.GET.get("error_description", "")[:300]
        raise SignInError(f"The provider did not grant access ({error}{': ' + description if description else ''}); "
                          "nothing was stored.")
    code = request.GET.get("code", "")
    if not code:
        raise SignInError("The provider's answer holds no authorization code; nothing was stored.")
    filled = _settings(integration)
    client = _session(filled, flow["redirect_uri"])
    try:
        token = client.fetch_token(filled["oauth_token_url"], grant_type="authorization_code", code=code,
                                   code_verifier=flow["verifier"], timeout=TIMEOUT)
    except AuthlibBaseError as exc:  # the token URL's error answer (OAuthError, OAuth2Error)
        raise SignInError(f"The token URL refused the code ({exc.error}); nothing was stored. "
                          "Click Connect again.") from None
    except (requests.RequestException, ValueError) as exc:
        raise SignInError(f"The token URL could not be reached or answered no token ({exc.__class__.__name__}); "
                          "nothing was stored.") from None
    finally:
        client.close()
    access, refresh = token.get("access_token"), token.get("refresh_token")
    if not isinstance(access, str) or not access:
        raise SignInError("The token URL answered without an access token; nothing was stored.")
    if not isinstance(refresh, str) or not refresh:
        raise SignInError("The token URL answered without a refresh token, so runs could not go on past the first "
                          "token: ask the provider for offline access (often a scope such as offline_access) "
                          "and connect again.")
    try:
        expires_in = min(max(float(token.get("expires_in") or 3600), 0), 366 * 86400)
    except (TypeError, ValueError):
        expires_in = 3600
    now = timezone.now()
    with transaction.atomic():
        OAuthConnection.objects.update_or_create(
            integration=integration,
            defaults={"refresh_token": refresh, "connected_at": now, "refreshed_at": now, "needs_reconnect": False,
                      "reason": ""},
        )
        engine_tokens.forget(integration.pk)
        engine_tokens.store(integration.pk, access, now + timedelta(seconds=expires_in))


def state_of(integration):
    """(connected, needs reconnect, reason, connected at) of the integration's OAuth sign-in."""
    connection = OAuthConnection.objects.filter(integration=integration).first()
    if connection is None or not connection.refresh_token:
        return False, False, "", None
    return True, connection.needs_reconnect, connection.reason, connection.connected_at
