"""API tokens: ``Authorization: Token <key>`` as DRF has it, and ``Authorization: Bearer <key>`` beside it.

Bearer is what most HTTP clients and code generators send for a token; the
key is the same either way (manage.py api_token, or the admin).
"""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.plumbing import build_bearer_security_scheme_object
from rest_framework import authentication, exceptions

KEYWORDS = ("Token", "Bearer")


class TokenAuthentication(authentication.TokenAuthentication):
    """DRF's token authentication, taking either keyword (case as sent by clients: Bearer or bearer)."""

    def authenticate(self, request):
        parts = authentication.get_authorization_header(request).split()
        if not parts:
            return None
        keyword = parts[0].decode("latin-1", "replace").lower()
        if keyword not in (word.lower() for word in KEYWORDS):
            return None
        if len(parts) == 1:
            raise exceptions.AuthenticationFailed("Invalid token header. No credentials provided.")
        if len(parts) > 2:
            raise exceptions.AuthenticationFailed("Invalid token header. Token string should not contain spaces.")
        try:
            key = parts[1].decode()
        except UnicodeError:
            raise exceptions.AuthenticationFailed(
                "Invalid token header. Token string should not contain invalid characters."
            ) from None
        # Imported here: the site's throttles import DRF's settings, which import this module.
        from integrations_site.throttling import WrongTokenThrottle

        guesses = WrongTokenThrottle()
        wait = guesses.refuses(request)
        if wait:
            raise exceptions.Throttled(wait)
        try:
            return self.authenticate_credentials(key)
        except exceptions.AuthenticationFailed:
            guesses.count(request)
            raise


class TokenScheme(OpenApiAuthenticationExtension):
    """Both keywords in the schema, as two security schemes either of which an operation accepts."""

    target_class = TokenAuthentication
    name = ["tokenAuth", "bearerAuth"]

    def get_security_definition(self, auto_schema):
        token = build_bearer_security_scheme_object(header_name="Authorization", token_prefix="Token")
        token["description"] = "Authorization: Token <key> (manage.py api_token <user>, or the admin)."
        return [token, {"type": "http", "scheme": "bearer",
                        "description": "Authorization: Bearer <key>: the same key as for Token."}]

    def get_security_requirement(self, auto_schema):
        return [{"tokenAuth": []}, {"bearerAuth": []}]
