"""ETags and conditional requests (README, "API conventions").

A definition (integration, action, webhook) or a run read alone carries an
``ETag``: a digest of the JSON answered. ``If-None-Match`` with it is answered
304 without a body; ``If-Match`` on PUT or PATCH that no longer matches (someone
changed it meanwhile) is a 412 ``precondition_failed`` and nothing is saved, so
two admins do not overwrite each other.
"""

import hashlib
import json

from django.db import transaction
from drf_spectacular.utils import OpenApiParameter
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.utils.encoders import JSONEncoder

IF_NONE_MATCH = OpenApiParameter(
    "If-None-Match", str, OpenApiParameter.HEADER, required=False,
    description="The ETag of the copy you have: unchanged, the answer is 304 without a body.",
)
IF_MATCH = OpenApiParameter(
    "If-Match", str, OpenApiParameter.HEADER, required=False,
    description="The ETag of the copy you changed: if it changed meanwhile, the answer is 412 "
                "(precondition_failed) and nothing is saved. Read it again, then apply your change.",
)

# The ETag answered: with a read (200, and the 304 that says it is current) and with a change (200).
ETAG_ON_READ = OpenApiParameter(
    "ETag", str, OpenApiParameter.HEADER, response=[200, 304], required=True,
    description="The copy's ETag: send it back in If-None-Match (a 304 if unchanged) or If-Match (PUT, PATCH).",
)
ETAG_ON_CHANGE = OpenApiParameter(
    "ETag", str, OpenApiParameter.HEADER, response=[200], required=True,
    description="The changed copy's ETag, for the next If-Match.",
)


class PreconditionFailed(exceptions.APIException):
    status_code = status.HTTP_412_PRECONDITION_FAILED
    default_detail = "It changed since you read it (If-Match does not match its ETag): read it again."
    default_code = "precondition_failed"


def etag(data):
    text = json.dumps(data, cls=JSONEncoder, sort_keys=True, separators=(",", ":"))
    return f'"{hashlib.sha256(text.encode()).hexdigest()[:40]}"'


def matches(header, tag):
    """Whether an If-Match / If-None-Match header names ``tag`` (weak or strong, or ``*``)."""
    given = [part.strip().removeprefix("W/") for part in (header or "").split(",")]
    return "*" in given or tag in given


def tagged(request, response):
    """``response`` (a 200 of one object) with its ETag, or a 304 if the client has it already."""
    if response.status_code != 200:
        return response
    tag = etag(response.data)
    if matches(request.headers.get("If-None-Match"), tag):
        return Response(status=status.HTTP_304_NOT_MODIFIED, headers={"ETag": tag})
    response["ETag"] = tag
    return response


class ConditionalMixin:
    """For a ModelViewSet (or one with Retrieve and Update mixins): ETag on reads and writes, 304, 412."""

    etags = True  # read by the schema (integrations/openapi.py)

    def retrieve(self, request, *args, **kwargs):
        return tagged(request, super().retrieve(request, *args, **kwargs))

    def update(self, request, *args, **kwargs):
        expected = request.headers.get("If-Match")
        with transaction.atomic():
            if expected is not None:
                current = self.get_object()
                type(current).objects.select_for_update().filter(pk=current.pk).first()  # one writer at a time
                current = self.get_object()
                if not matches(expected, etag(self.get_serializer(current).data)):
                    raise PreconditionFailed()
            response = super().update(request, *args, **kwargs)
        if response.status_code == 200:
            response["ETag"] = etag(response.data)
        return response
