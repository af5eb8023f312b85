"""A real OAuth 2.0 authorization server for tests: authlib's Flask server on 127.0.0.1 in a thread.

Authorization code with PKCE (S256 required), a consent page with Allow and
Deny buttons, refresh tokens rotated at every refresh (the old one is
revoked, as many providers do), access tokens that expire after
``expires_in`` seconds, and a protected resource (/api/me) that answers 401
to any other token. Everything is kept in memory; ``revoke_refresh_tokens()``
revokes every refresh token, as a user who removes the app's access does.
"""

import secrets
import threading
import time

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import grants
from authlib.oauth2.rfc7636 import CodeChallenge
from flask import Flask, jsonify, request
from markupsafe import escape
from werkzeug.serving import make_server

USER = "grace"


class Client:
    def __init__(self, client_id, client_secret, redirect_uri, scope):
        self.client_id, self.client_secret = client_id, client_secret
        self.redirect_uri, self.scope = redirect_uri, scope

    def get_client_id(self):
        return self.client_id

    def get_default_redirect_uri(self):
        return self.redirect_uri

    def get_allowed_scope(self, scope):
        allowed = set(self.scope.split())
        return " ".join(item for item in (scope or "").split() if item in allowed)

    def check_redirect_uri(self, redirect_uri):
        return redirect_uri == self.redirect_uri

    def check_client_secret(self, client_secret):
        return secrets.compare_digest(client_secret, self.client_secret)

    def check_endpoint_auth_method(self, method, endpoint):
        return method == "client_secret_post"

    def check_response_type(self, response_type):
        return response_type == "code"

    def check_grant_type(self, grant_type):
        return grant_type in ("authorization_code", "refresh_token")


class Code:
    def __init__(self, code, client_id, redirect_uri, scope, challenge, method):
        self.code, self.client_id, self.redirect_uri, self.scope = code, client_id, redirect_uri, scope
        self.code_challenge, self.code_challenge_method = challenge, method

    def get_redirect_uri(self):
        return self.redirect_uri

    def get_scope(self):
        return self.scope


class Token:
    def __init__(self, client_id, access_token, refresh_token, scope, expires_in):
        self.client_id, self.scope = client_id, scope
        self.access_token, self.refresh_token = access_token, refresh_token
        self.expires_at = time.time() + expires_in
        self.refresh_revoked = False

    def check_client(self, client):
        return client.client_id == self.client_id

    def get_scope(self):
        return self.scope

    def get_user(self):
        return USER


class Provider:
    """The server and what it keeps; ``url(path)`` is its address."""

    def __init__(self, client_id="local-client", client_secret="local-client-secret-9f3", scope="profile offline"):
        self.client_id, self.client_secret, self.scope = client_id, client_secret, scope
        self.redirect_uri = None  # set once the callback address is known
        self.expires_in = 3600
        self.codes, self.tokens = {}, []
        self.token_requests = []  # the grant_type of each token request, in order
        self.consents = 0
        self.lock = threading.Lock()
        self.app = self._app()

    def url(self, path=""):
        return f"http://127.0.0.1:{self.port}{path}"

    def __enter__(self):
        self.server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.port = self.server.server_port
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.thread.join()

    def revoke_refresh_tokens(self):
        with self.lock:
            for token in self.tokens:
                token.refresh_revoked = True

    def live_refresh_tokens(self):
        with self.lock:
            return [token.refresh_token for token in self.tokens if not token.refresh_revoked]

    def _client(self, client_id):
        if client_id == self.client_id:
            return Client(self.client_id, self.client_secret, self.redirect_uri, self.scope)
        return None

    def _app(self):
        provider = self
        app = Flask("oauth-provider")
        app.config["OAUTH2_REFRESH_TOKEN_GENERATOR"] = True
        app.config["OAUTH2_TOKEN_EXPIRES_IN"] = {"authorization_code": 3600, "refresh_token": 3600}

        def save_token(token, oauth_request):
            with provider.lock:
                provider.tokens.append(Token(oauth_request.client.client_id, token["access_token"],
                                             token.get("refresh_token"), token.get("scope", ""), token["expires_in"]))

        server = AuthorizationServer(app, query_client=self._client, save_token=save_token)
        # The lifetime the test asks for, read at each token.
        server.register_token_generator("default", _Generator(server._token_generators["default"], provider))

        class CodeGrant(grants.AuthorizationCodeGrant):
            TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_post"]

            def save_authorization_code(self, code, oauth_request):
                data = oauth_request.payload.data
                with provider.lock:
                    provider.codes[code] = Code(
                        code, oauth_request.client.client_id, oauth_request.payload.redirect_uri, oauth_request.scope,
                        data.get("code_challenge"), data.get("code_challenge_method"))

            def query_authorization_code(self, code, client):
                found = provider.codes.get(code)
                return found if found and found.client_id == client.client_id else None

            def delete_authorization_code(self, authorization_code):
                with provider.lock:
                    provider.codes.pop(authorization_code.code, None)

            def authenticate_user(self, authorization_code):
                return USER

        class RefreshGrant(grants.RefreshTokenGrant):
            TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_post"]
            INCLUDE_NEW_REFRESH_TOKEN = True

            def authenticate_refresh_token(self, refresh_token):
                with provider.lock:
                    for token in provider.tokens:
                        if token.refresh_token == refresh_token and not token.refresh_revoked:
                            return token
                return None

            def authenticate_user(self, credential):
                return USER

            def revoke_old_credential(self, credential):
                with provider.lock:
                    credential.refresh_revoked = True

        server.register_grant(CodeGrant, [CodeChallenge(required=True)])
        server.register_grant(RefreshGrant)

        @app.route("/authorize", methods=["GET", "POST"])
        def authorize():
            if request.method == "GET":
                try:
                    grant = server.get_consent_grant(end_user=USER)
                except Exception as exc:  # shown to the person, as a provider does
                    return f"<h1>Bad request</h1><p>{escape(str(exc))}</p>", 400
                return (
                    "<!doctype html><title>Local provider: consent</title>"
                    f"<h1>Allow {escape(grant.client.client_id)} to access your account?</h1>"
                    f"<p>Scopes: <span id=scopes>{escape(grant.request.scope)}</span></p>"
                    '<form method=post><button name=confirm value=yes id=allow>Allow</button>'
                    '<button name=confirm value=no id=deny>Deny</button></form>'
                )
            provider.consents += 1
            grant_user = USER if request.form.get("confirm") == "yes" else None
            grant = server.get_consent_grant(end_user=USER)
            return server.create_authorization_response(grant_user=grant_user, grant=grant)

        @app.route("/token", methods=["POST"])
        def issue_token():
            provider.token_requests.append(request.form.get("grant_type"))
            return server.create_token_response()

        @app.route("/api/me")
        def me():
            header = request.headers.get("Authorization", "")
            now = time.time()
            with provider.lock:
                known = [token for token in provider.tokens
                         if header == f"Bearer {token.access_token}" and token.expires_at > now]
            if not known:
                return jsonify(error="invalid_token"), 401
            return jsonify(user=USER, scope=known[0].scope)

        return app


class _Generator:
    """The server's bearer token generator, with the lifetime the provider says now."""

    def __init__(self, generator, provider):
        self.generator, self.provider = generator, provider

    def __call__(self, *args, **kwargs):
        token = self.generator(*args, **kwargs)
        token["expires_in"] = self.provider.expires_in
        return token
