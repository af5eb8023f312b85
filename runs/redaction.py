"""Secret redaction: every secret value, and what is derived from it, becomes ***."""

import base64
import json
from urllib.parse import quote, quote_plus

MASK = "***"
MIN_LENGTH = 3  # shorter values would mask ordinary text without protecting anything


class Redactor:
    def __init__(self, secrets=()):
        self._needles = set()
        self._ordered = None
        for secret in secrets:
            self.add(secret)

    def add(self, secret):
        """Redact ``secret`` and the forms it takes on the wire (URL- and JSON-escaped)."""
        if not secret or len(secret) < MIN_LENGTH:
            return
        forms = {secret, quote(secret, safe=""), quote_plus(secret), json.dumps(secret)[1:-1]}
        new = {form for form in forms if len(form) >= MIN_LENGTH} - self._needles
        if new:
            self._needles |= new
            self._ordered = None

    def add_basic_auth(self, username, password):
        token = base64.b64encode(f"{username}:{password}".encode()).decode()
        self.add(token)

    @property
    def needles(self):
        if self._ordered is None:
            # Longest first, so a secret that contains another is masked whole.
            self._ordered = sorted(self._needles, key=len, reverse=True)
        return self._ordered

    def text(self, value):
        if not value or not self._needles:
            return value
        for needle in self.needles:
            if needle in value:
                value = value.replace(needle, MASK)
        return value

    def value(self, value):
        """Redact the strings inside a JSON-like value."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self.text(key): self.value(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self.value(item) for item in value]
        return value
