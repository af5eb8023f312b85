"""The Actions log: each HTTP call of a run as an Exchange row, redacted, then cut to size.

Secrets are replaced before anything is cut, so no prefix of a secret can
survive at the cut; NUL characters (which PostgreSQL text cannot hold) are
escaped. A poll whose answer and decision repeat the previous poll's is not
logged again: its digest matches and that row's repeat count grows.
"""

import functools
import hashlib

from django.conf import settings

from .models import Exchange, ExchangeKind

EARLY_CALLBACK = "Arrived before the request finished; evaluated once the run waits for callbacks."


def text_for_log(redactor, data):
    """Body or message text as logged: decoded, secrets masked, then cut to INTEGRATIONS_MAX_LOGGED_BYTES."""
    if isinstance(data, bytes):
        data = data.decode("utf-8", errors="replace")
    text = redactor.text(data or "", limit=settings.INTEGRATIONS_MAX_LOGGED_BYTES)
    return text.replace("\x00", "\\u0000")


def headers_for_log(redactor, headers):
    return {redactor.text(str(name)): text_for_log(redactor, str(value)) for name, value in (headers or {}).items()}


def exchange(run, kind, *, at, redactor, outbound=None, received=None, error="", decision="", failed="",
             duration=None, sent=True, attempt=None):
    """An unsaved Exchange of ``run``: what was sent (``outbound``) and what came back (``received``)."""
    row = Exchange(
        run_id=run.pk,
        kind=kind,
        attempt=run.attempt if attempt is None else attempt,
        sent=sent,
        error=text_for_log(redactor, error),
        decision=decision,
        failed_part=failed,
        created_at=at,
        last_at=at,
        duration_ms=None if duration is None else round(duration * 1000, 2),
    )
    if outbound is not None:
        row.method = outbound.method
        row.url = text_for_log(redactor, outbound.url)
        row.request_headers = headers_for_log(redactor, outbound.headers)
        shown = outbound.body if outbound.body_for_log is None else outbound.body_for_log
        row.request_body = text_for_log(redactor, shown or b"")
    if received is not None:
        row.status_code = received.status
        row.response_headers = headers_for_log(redactor, received.headers)
        row.response_body = text_for_log(redactor, received.body)
        row.response_size = received.size
        row.response_truncated = received.truncated or len(received.body) > settings.INTEGRATIONS_MAX_LOGGED_BYTES
    return row


def callback_exchange(run, headers, body, *, at, redactor):
    """An unsaved Exchange for a callback the service posted to the run."""
    return Exchange(
        run_id=run.pk,
        kind=ExchangeKind.CALLBACK,
        attempt=run.attempt,
        method="POST",
        url="/api/callbacks/***/",
        request_headers=headers_for_log(redactor, headers),
        request_body=text_for_log(redactor, body),
        created_at=at,
        last_at=at,
    )


def finish_decision(row, redactor, text):
    """Set what the conditions decided on ``row``: conditions quote the values they compare, secrets included."""
    row.decision = text_for_log(redactor, text)
    return row


@functools.cache
def _digest_key():
    return hashlib.sha256(f"answer digest|{settings.SECRET_KEY}".encode()).digest()


def answer_digest(status, error, body, decision):
    """A keyed digest of an answer and what was decided about it (keyed: a stored digest cannot be used to guess a secret)."""
    data = f"{status}|{error}|{decision}|".encode() + (body or b"")
    return hashlib.blake2b(data, key=_digest_key(), digest_size=32).hexdigest()
