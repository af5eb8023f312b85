"""Production settings: refuse to start on the development defaults or on keys too short to be safe.

Static files are served by WhiteNoise from STATIC_ROOT (collectstatic first; serve.sh does). HTTPS is
asked for through the environment (SECURE_SSL_REDIRECT, SECURE_HSTS_*, SECURE_PROXY_SSL_HEADER); without
it the site still serves plain HTTP, and `manage.py check --deploy` says what that leaves open.
"""

import os

from django.core.exceptions import ImproperlyConfigured

from .settings import *  # noqa: F401,F403
from .settings import DEV_ENCRYPTION_KEY, DEV_SECRET_KEY, MIDDLEWARE
from .env import envbool, envint

DEBUG = envbool("DEBUG", False)
INTEGRATIONS_SANDBOX = envbool("INTEGRATIONS_SANDBOX", False)

MIN_KEY_LENGTH = 32


def require_key(name, value, development_default):
    """Refuse a key that is the development default, empty, or shorter than MIN_KEY_LENGTH."""
    how = "Generate one with: python3 -c 'import secrets; print(secrets.token_urlsafe(50))'"
    if value == development_default:
        raise ImproperlyConfigured(f"Set {name}: the development default is not for production. {how}")
    if len(value.strip()) < MIN_KEY_LENGTH:
        fault = "is empty" if not value.strip() else f"has {len(value.strip())} characters"
        raise ImproperlyConfigured(f"{name} {fault}: give it at least {MIN_KEY_LENGTH} random characters. {how}")


def proxy_ssl_header(value):
    """SECURE_PROXY_SSL_HEADER from "HTTP_X_FORWARDED_PROTO,https"; None when not set."""
    parts = [part.strip() for part in value.split(",")]
    if parts == [""]:
        return None
    if len(parts) != 2 or not parts[0].startswith("HTTP_") or not parts[1]:
        raise ImproperlyConfigured(
            f"SECURE_PROXY_SSL_HEADER is {value!r}: give the header as Django names it and the value "
            "that means HTTPS, for example HTTP_X_FORWARDED_PROTO,https"
        )
    return tuple(parts)


require_key("SECRET_KEY", SECRET_KEY, DEV_SECRET_KEY)  # noqa: F405
require_key("INTEGRATIONS_ENCRYPTION_KEY", INTEGRATIONS_ENCRYPTION_KEY, DEV_ENCRYPTION_KEY)  # noqa: F405

# WhiteNoise serves the collected files, under names that carry a hash of their content, so that
# browsers may keep them for good; it goes first after SecurityMiddleware (whose redirect to HTTPS
# comes before it) so that a file costs no session or CSRF work.
MIDDLEWARE = MIDDLEWARE.copy()
MIDDLEWARE.insert(
    MIDDLEWARE.index("django.middleware.security.SecurityMiddleware") + 1,
    "whitenoise.middleware.WhiteNoiseMiddleware",
)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# HTTPS. Off unless asked for, so that the site can serve plain HTTP on a LAN; behind a proxy that
# ends TLS, SECURE_PROXY_SSL_HEADER names the header by which it says the request came over HTTPS.
SECURE_SSL_REDIRECT = envbool("SECURE_SSL_REDIRECT", False)
# Load balancers and Prometheus ask over plain HTTP inside the network.
SECURE_REDIRECT_EXEMPT = [r"^health/", r"^metrics$"]
SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = envbool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = envbool("SECURE_HSTS_PRELOAD", False)
SECURE_PROXY_SSL_HEADER = proxy_ssl_header(os.environ.get("SECURE_PROXY_SSL_HEADER", ""))
SESSION_COOKIE_SECURE = envbool("SESSION_COOKIE_SECURE", True)
CSRF_COOKIE_SECURE = envbool("CSRF_COOKIE_SECURE", True)
