"""Standard Webhooks signatures (https://www.standardwebhooks.com): what a receiver's library verifies."""

import base64
import hashlib
import hmac

from .models import SECRET_PREFIX


def signature(secret, webhook_id, timestamp, body):
    """``v1,<base64 HMAC-SHA256 of "id.timestamp.body">`` with the key in ``whsec_<base64>``."""
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def headers(secret, webhook_id, timestamp, body):
    return {
        "Content-Type": "application/json",
        "webhook-id": webhook_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature(secret, webhook_id, timestamp, body),
    }
