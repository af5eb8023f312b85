"""OAuth 2.0 access tokens: a token per integration, fetched through the one request path.

Client credentials ask the token URL for a token; OAuth sign-in (authorization
code) refreshes one with the refresh token the admin's Connect left
(integrations.oauth_signin), under a lock on the integration's OAuthConnection
row, so that one refresh per integration runs at a time across threads and
clusters, and a refresh token the provider rotates is never used twice.

A worker process keeps the tokens it knows in memory and shares them with
other processes through the database (encrypted). Fetching happens in the
send pool, once per integration at a time: the runs of a batch that need a
token wait for the one request that fetches it.
"""

import threading
from dataclasses import replace
from datetime import timedelta
from urllib.parse import urlencode

from authlib.oauth2.rfc6749.parameters import prepare_token_request
from django.db import close_old_connections, connection, transaction
from django.db.models import F

from integrations import safejson
from integrations.models import AuthType, OAuthConnection
from integrations.validators import MAX_CONNECT_TIMEOUT, MAX_READ_TIMEOUT

from . import clock
from .http import Outbound
from .models import OAuthToken

EARLY = timedelta(seconds=30)  # refresh this long before the token says it expires


class TokenError(Exception):
    pass


RECONNECT = "reconnect the integration (Connect on its admin page)"


# Tokens this process fetched and has not yet stored in the database (the
# writer stores them a moment later), so that the runs sent meanwhile use them
# instead of fetching again: integration id -> (token, expires at, credentials stamp).
_fetched = {}
_locks = {}
_locks_lock = threading.Lock()


def stored_tokens(integration_ids):
    """Tokens in the database, by integration id: read once per batch, before sending."""
    rows = OAuthToken.objects.filter(integration_id__in=integration_ids, expires_at__gt=clock.now() + EARLY)
    return {row.integration_id: (row.access_token, row.expires_at) for row in rows}


def store(integration_id, access_token, expires_at):
    OAuthToken.objects.update_or_create(
        integration_id=integration_id, defaults={"access_token": access_token, "expires_at": expires_at}
    )
    entry = _fetched.get(integration_id)
    if entry and entry[0] == access_token:
        del _fetched[integration_id]


def forget(integration_id):
    """Drop a token the service refused (a 401): the next request fetches a new one."""
    _fetched.pop(integration_id, None)
    OAuthToken.objects.filter(integration_id=integration_id).delete()


def _valid(entry):
    return entry is not None and entry[1] > clock.estimate() + EARLY


def access_token(definition, values, stored, fetch):
    """A valid token for the definition's integration: stored, just fetched by this process, or fetched now.

    ``values``: the authentication fields with placeholders filled;
    ``stored``: what stored_tokens() found; ``fetch(outbound)`` sends the
    token request and returns what came back. Returns (token, expires_at,
    fetched now).
    """
    integration = definition.integration
    if _valid(stored):
        return stored[0], stored[1], False

    def fresh():
        entry = _fetched.get(integration.pk)
        return entry if _valid(entry) and entry[2] == integration.updated_at else None

    if entry := fresh():
        return entry[0], entry[1], False
    with _locks_lock:
        lock = _locks.setdefault(integration.pk, threading.Lock())
    with lock:
        if entry := fresh():  # fetched by another thread while this one waited
            return entry[0], entry[1], False
        if integration.auth_type == AuthType.OAUTH2_CODE:
            token, expires_at = _refresh(definition, values, fetch, stale=stored[0] if stored else None)
        else:
            token, expires_at = _fetch(definition, values, fetch)
        _fetched[integration.pk] = (token, expires_at, integration.updated_at)
        return token, expires_at, True


def token_request(definition, values):
    """The client-credentials request, as sent (and logged, redacted)."""
    integration, action = definition.integration, definition.action
    form = {"grant_type": "client_credentials", "client_id": values["oauth_client_id"],
            "client_secret": values["auth_secret"]}
    if values["oauth_scope"]:
        form["scope"] = values["oauth_scope"]
    return Outbound(
        method="POST",
        url=integration.oauth_token_url,
        headers={"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"},
        body=urlencode(form).encode(),
        connect_timeout=min(action.connect_timeout, MAX_CONNECT_TIMEOUT),
        read_timeout=min(action.read_timeout, MAX_READ_TIMEOUT),
        verify=action.verify_tls,
        use_env_proxy=action.use_env_proxy,
    )


def refresh_request(definition, values, refresh_token):
    """The refresh-token request (RFC 6749 section 6), as sent (and logged, redacted)."""
    body = prepare_token_request("refresh_token", refresh_token=refresh_token, client_id=values["oauth_client_id"],
                                 client_secret=values["auth_secret"], scope=values["oauth_scope"] or None)
    return replace(token_request(definition, values), body=body.encode())


def _refresh(definition, values, fetch, stale):
    """A new access token from the refresh token, refreshed by one thread of one cluster at a time.

    The OAuthConnection row is locked for the refresh, across threads and
    clusters: whoever waited for it finds the token the other one stored and
    uses it, so a rotated refresh token is never sent twice. A refresh the provider
    refuses with invalid_grant marks the integration for reconnecting.
    """
    pk = definition.integration.pk
    if not connection.in_atomic_block:
        close_old_connections()  # a sender thread's connection may have gone stale since its last refresh
    refused = None
    with transaction.atomic():
        # An UPDATE first: it locks the row on PostgreSQL (as SELECT ... FOR UPDATE would) and takes
        # SQLite's write lock, which SELECT ... FOR UPDATE does not; the other refresher waits here.
        OAuthConnection.objects.filter(integration_id=pk).update(refreshed_at=F("refreshed_at"))
        row = OAuthConnection.objects.select_for_update().filter(integration_id=pk).first()
        if row is None or not row.refresh_token:
            raise TokenError(f"The integration is not connected through OAuth sign-in: {RECONNECT}.")
        if row.needs_reconnect:
            raise TokenError(f"The provider refused the integration's refresh token: {RECONNECT}.")
        definition.redactor.add(row.refresh_token)
        cached = OAuthToken.objects.filter(integration_id=pk, expires_at__gt=clock.estimate() + EARLY).first()
        if cached is not None and cached.access_token != stale:  # refreshed meanwhile by another thread or cluster
            definition.redactor.add(cached.access_token)
            return cached.access_token, cached.expires_at
        received = fetch(refresh_request(definition, values, row.refresh_token))
        try:
            payload = safejson.loads(received.body.decode("utf-8", errors="replace"))
        except ValueError:
            payload = {}
        if not isinstance(payload, dict):
            payload = {}
        error = payload.get("error")
        if received.status in (400, 401) and error == "invalid_grant":
            # Marked under the lock: a Connect that came meanwhile waits for it, and then stores its new token.
            refused = f"The provider refused the refresh token (invalid_grant): {RECONNECT}."
            row.needs_reconnect, row.reason = True, refused
            row.save(update_fields=["needs_reconnect", "reason"])
        else:
            token, expires_at = _token(received, payload, definition)
            new_refresh = payload.get("refresh_token")
            if isinstance(new_refresh, str) and new_refresh and new_refresh != row.refresh_token:
                definition.redactor.add(new_refresh)
                row.refresh_token = new_refresh  # rotated: the old one is spent
            row.refreshed_at = clock.estimate()
            row.save(update_fields=["refresh_token", "refreshed_at"])
            store(pk, token, expires_at)
            return token, expires_at
    raise TokenError(refused)


def _fetch(definition, values, fetch):
    received = fetch(token_request(definition, values))
    try:
        # A token holding NUL or a lone surrogate could be neither stored nor sent: as good as none.
        payload = safejson.loads(received.body.decode("utf-8", errors="replace"))
        token = payload["access_token"]
    except (ValueError, KeyError, TypeError):
        token, payload = None, {}
    return _token(received, payload, definition)


def _token(received, payload, definition):
    token = payload.get("access_token") if isinstance(payload, dict) else None
    if received.status != 200 or not isinstance(token, str) or not token:
        raise TokenError(f"The OAuth token URL answered {received.status} without an access_token.")
    definition.redactor.add(token)
    try:
        expires_in = min(max(float(payload.get("expires_in") or 3600), 0), 366 * 86400)
    except (TypeError, ValueError):
        expires_in = 3600
    if expires_in != expires_in:  # NaN
        expires_in = 3600
    return token, clock.estimate() + timedelta(seconds=expires_in)

