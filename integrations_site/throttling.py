"""Rate limits of the API and of the admin's sign-in (README, "API conventions", Throttling).

Past a limit the API answers 429 in the one error shape with ``Retry-After``
(seconds). The rates are read from settings at each request; the counters live
in Django's cache, shared by every process (Redis, or files: settings.CACHES).
"""

import hashlib
import math
import time

from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.core.exceptions import ValidationError
from django.core.cache import cache
from rest_framework.exceptions import Throttled
from rest_framework.throttling import AnonRateThrottle, BaseThrottle, SimpleRateThrottle, UserRateThrottle


def digest(text):
    return hashlib.sha256(text.encode()).hexdigest()[:32]


class SettingRate:
    """A DRF throttle whose rate is the setting named ``setting``."""

    setting = None

    def get_rate(self):
        return getattr(settings, self.setting, None)


class UserThrottle(SettingRate, UserRateThrottle):
    """Per signed-in user, whichever token or session it uses."""

    setting = "INTEGRATIONS_API_THROTTLE_USER"


class AnonymousThrottle(SettingRate, AnonRateThrottle):
    """Per address, for requests without credentials."""

    setting = "INTEGRATIONS_API_THROTTLE_ANON"

    def get_cache_key(self, request, view):
        # Asked while authenticating (AnonymousLimit): request.user is not known yet, and not needed.
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class AnonymousLimit:
    """The last of the API's authentication classes: a request without credentials is counted per address
    (AnonymousThrottle) before its permissions are checked, so that a client flooding the API without a
    token meets 429, not an endless stream of 401s. It authenticates no one."""

    def authenticate(self, request):
        throttle = AnonymousThrottle()
        if not throttle.allow_request(request, None):
            raise Throttled(throttle.wait())
        return None

    def authenticate_header(self, request):
        return None


class WrongTokenThrottle(SettingRate, AnonRateThrottle):
    """Wrong tokens, per address, at the rate for requests without credentials: a client guessing tokens meets
    429 once it has guessed wrong that often, and past it even a right guess is not looked at until the window
    ends, so guessing gains nothing (TokenAuthentication)."""

    scope = "wrong_token"
    setting = "INTEGRATIONS_API_THROTTLE_ANON"

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}

    def refuses(self, request):
        """Seconds to wait when this address has guessed wrong as often as the rate allows; 0 otherwise."""
        if self.rate is None:
            return 0
        self.key = self.get_cache_key(request, None)
        self.now = self.timer()
        self.history = [moment for moment in self.cache.get(self.key, []) if moment > self.now - self.duration]
        return math.ceil(self.wait() or 1) if len(self.history) >= self.num_requests else 0

    def count(self, request):
        if self.rate is not None and not self.refuses(request):
            self.throttle_success()


class CallbackThrottle(SettingRate, SimpleRateThrottle):
    """Per callback token: a service posting callbacks for many runs from one address is not held back."""

    scope = "callback"
    setting = "INTEGRATIONS_API_THROTTLE_CALLBACK"

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": digest(str(view.kwargs.get("token", "")))}


class LoginAttempts:
    """Failed admin sign-ins per address and username: past the rate, that pair is refused until the window
    ends; others (another address, another username) are not locked out."""

    def __init__(self, request, username):
        self.key = f"throttle_login_{digest(f'{BaseThrottle().get_ident(request)}|{username.lower()}')}"
        self.limit, self.window = SimpleRateThrottle.parse_rate(None, settings.INTEGRATIONS_LOGIN_ATTEMPTS)

    def failures(self):
        return cache.get(self.key, [])

    def refused(self, now):
        """Seconds to wait before another attempt, or 0."""
        if self.limit is None:
            return 0
        recent = [moment for moment in self.failures() if moment > now - self.window]
        return math.ceil(recent[0] + self.window - now) if len(recent) >= self.limit else 0

    def failed(self, now):
        if self.limit is not None:
            recent = [moment for moment in self.failures() if moment > now - self.window]
            cache.set(self.key, [*recent, now][-self.limit:], self.window)


class ThrottledAuthenticationForm(AdminAuthenticationForm):
    """The admin's sign-in form, refused with a clear message past INTEGRATIONS_LOGIN_ATTEMPTS failures."""

    def clean(self):
        attempts = LoginAttempts(self.request, self.cleaned_data.get("username") or "")
        now = time.time()
        wait = attempts.refused(now)
        if wait:
            raise ValidationError(
                "Too many failed sign-ins for this username from your address. Try again in %(minutes)s "
                "minute(s), or ask an administrator to reset the password.",
                code="throttled", params={"minutes": math.ceil(wait / 60)},
            )
        try:
            return super().clean()
        except ValidationError:
            attempts.failed(now)
            raise
