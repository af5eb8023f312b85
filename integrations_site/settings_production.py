"""Production settings: refuse to start on the development defaults."""

from django.core.exceptions import ImproperlyConfigured

from .settings import *  # noqa: F401,F403
from .settings import DEV_ENCRYPTION_KEY, DEV_SECRET_KEY
from .env import envbool

DEBUG = envbool("DEBUG", False)
INTEGRATIONS_SANDBOX = envbool("INTEGRATIONS_SANDBOX", False)

if SECRET_KEY == DEV_SECRET_KEY:  # noqa: F405
    raise ImproperlyConfigured("Set SECRET_KEY: the development default is not for production.")
if INTEGRATIONS_ENCRYPTION_KEY == DEV_ENCRYPTION_KEY:  # noqa: F405
    raise ImproperlyConfigured(
        "Set INTEGRATIONS_ENCRYPTION_KEY: the development default is not for production."
    )

SESSION_COOKIE_SECURE = envbool("SESSION_COOKIE_SECURE", True)
CSRF_COOKIE_SECURE = envbool("CSRF_COOKIE_SECURE", True)
