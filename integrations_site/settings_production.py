"""Production settings: refuse to start on the development defaults or on keys too short to be safe.

Static files are served by WhiteNoise from STATIC_ROOT (collectstatic first; serve.sh does).
"""

from django.core.exceptions import ImproperlyConfigured

from .settings import *  # noqa: F401,F403
from .settings import DEV_ENCRYPTION_KEY, DEV_SECRET_KEY, MIDDLEWARE
from .env import envbool

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

SESSION_COOKIE_SECURE = envbool("SESSION_COOKIE_SECURE", True)
CSRF_COOKIE_SECURE = envbool("CSRF_COOKIE_SECURE", True)
