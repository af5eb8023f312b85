"""Idempotency-Key for every API operation that creates or changes something (README, "API conventions").

``@idempotent`` wraps a view's handler (under DRF's ``@action``, or a viewset's
``create``). With the header, the first request's answer (status, body,
Location) is kept per user and key for ``IdempotencyKey.KEEP``; a retry gets
it back, marked ``Idempotent-Replayed: true``, and changes nothing. The key
reused with another method, path, query or body is a 422 (idempotency_key_reused).

The key row is written first, in the transaction that does the work: of two
requests with one key the second waits on the unique (user, key) constraint
until the first commits, then answers with its answer, so one object is made
and no side effect is done twice. A refused request (an error raised or an
answer of 400 or more) rolls its key back with everything else, so a corrected
retry may use it again.
"""

import functools
import hashlib
import json

from django.db import IntegrityError, transaction
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.utils.encoders import JSONEncoder

from integrations.api_errors import KeyReused
from runs import clock
from runs.models import IdempotencyKey

HEADER = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"
KEPT_HEADERS = ("Location",)

PARAMETER = OpenApiParameter(
    HEADER, {"type": "string", "minLength": 1, "maxLength": 255}, OpenApiParameter.HEADER, required=False,
    description="Up to 255 characters, unique per request you mean. A retry with the same key (within "
                f"{IdempotencyKey.KEEP.total_seconds() / 3600:g} h) gets the first answer back, with the header "
                f"`{REPLAYED}: true`, instead of doing it again; the key with another request (another URL, "
                "query or body) is a 422 (idempotency_key_reused). A refused request keeps no key.",
)


def _jsonable(value):
    """The request's data as JSON: an uploaded file by the digest of its bytes."""
    if hasattr(value, "chunks"):
        digest = hashlib.sha256()
        for chunk in value.chunks():
            digest.update(chunk)
        value.seek(0)
        return f"file:{digest.hexdigest()}"
    raise TypeError(f"{type(value).__name__} is not JSON")


def fingerprint(request):
    """What the request asks for: method, path, query and body."""
    data = request.data
    if hasattr(data, "lists"):  # a QueryDict (form or multipart): every value of every key
        data = {key: values for key, values in data.lists()}
    path = request.path.rstrip("/") + "/"  # served with or without its trailing slash (api_urls.elsewhere)
    text = json.dumps([request.method, path, sorted(request.query_params.lists()), data],
                      sort_keys=True, separators=(",", ":"), default=_jsonable)
    return hashlib.sha256(text.encode()).hexdigest()


def idempotent(handler):
    @functools.wraps(handler)
    def wrapper(view, request, *args, **kwargs):
        key = request.headers.get(HEADER)
        if key is None:
            return handler(view, request, *args, **kwargs)
        if not 0 < len(key) <= 255:
            raise serializers.ValidationError({HEADER: ["Give 1 to 255 characters."]})
        digest = fingerprint(request)
        IdempotencyKey.objects.filter(created_at__lt=clock.now() - IdempotencyKey.KEEP).delete()
        try:
            with transaction.atomic():
                kept = IdempotencyKey.objects.create(user=request.user, key=key, fingerprint=digest,
                                                     status_code=0, response={})
                response = handler(view, request, *args, **kwargs)
                if response.status_code >= 400:
                    transaction.set_rollback(True)
                    return response
                kept.status_code = response.status_code
                kept.keep(json.loads(json.dumps(response.data, cls=JSONEncoder)))
                kept.headers = {name: response[name] for name in KEPT_HEADERS if response.has_header(name)}
                kept.save(update_fields=["status_code", "response", "headers"])
                return response
        except IntegrityError:
            first = IdempotencyKey.objects.filter(user=request.user, key=key).first()
            if first is None:
                raise
        if first.fingerprint != digest:
            raise KeyReused()
        return Response(first.answer(), status=first.status_code, headers={**first.headers, REPLAYED: "true"})

    wrapper.idempotent = True
    return wrapper


def is_idempotent(view):
    """Whether the view's current operation takes an Idempotency-Key (for the schema)."""
    handler = getattr(view, getattr(view, "action", None) or "", None)
    return bool(getattr(handler, "idempotent", False))
