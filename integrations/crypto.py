"""Encryption at rest for secrets: Fernet, keyed from INTEGRATIONS_ENCRYPTION_KEY."""

import base64
import hashlib
import json
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings
from django.db import models

PREFIX = "fernet:"


@lru_cache(maxsize=4)
def _fernet(key):
    digest = hashlib.sha256(key.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def encrypt(plaintext):
    token = _fernet(settings.INTEGRATIONS_ENCRYPTION_KEY).encrypt(plaintext.encode())
    return PREFIX + token.decode()


def decrypt(stored):
    if not stored.startswith(PREFIX):
        raise ValueError("This value is not encrypted.")
    try:
        return _fernet(settings.INTEGRATIONS_ENCRYPTION_KEY).decrypt(stored[len(PREFIX):].encode()).decode()
    except InvalidToken:
        # Never include the stored value: the message may end up in a log.
        raise ValueError(
            "A secret cannot be decrypted: INTEGRATIONS_ENCRYPTION_KEY differs from the key it was saved with."
        ) from None


def _kept_fernet():
    # Its own key, so that a stored ciphertext is no kept value and a kept value no stored ciphertext.
    return _fernet(f"kept-typed-values:{settings.INTEGRATIONS_ENCRYPTION_KEY}")


def seal(value, *, owner):
    """``value`` encrypted for a page to carry back to ``owner`` (typed, refused elsewhere, not to be asked again)."""
    return _kept_fernet().encrypt(json.dumps({"owner": owner, "value": value}).encode()).decode()


def unseal(token, *, owner, max_age):
    """The value sealed into ``token`` for ``owner`` at most ``max_age`` seconds ago.

    Raises ValueError for a token that is forged, too old, or sealed for someone else.
    """
    try:
        sealed = json.loads(_kept_fernet().decrypt(token.encode(), ttl=max_age))
    except (InvalidToken, ValueError):
        raise ValueError("This kept value is not valid (or too old).") from None
    if sealed.get("owner") != owner or not isinstance(sealed.get("value"), str):
        raise ValueError("This kept value was not kept for you.")
    return sealed["value"]


class EncryptedTextField(models.TextField):
    """A text column that holds only ciphertext; Python code sees plaintext."""

    def from_db_value(self, value, expression, connection):
        if value in (None, ""):
            return value
        return decrypt(value)

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if value in (None, ""):
            return value
        return encrypt(value)
