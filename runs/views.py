"""The callback endpoint: the one door a run opens to the outside.

No authentication but the run's unguessable token; the body (JSON or XML)
is evaluated by the run's stop conditions.
"""

from django.conf import settings
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from . import services


@csrf_exempt
@require_POST
def callback(request, token):
    limit = settings.INTEGRATIONS_MAX_CALLBACK_BYTES
    declared = request.META.get("CONTENT_LENGTH") or "0"
    if declared.isdigit() and int(declared) > limit:
        return JsonResponse({"detail": f"The callback body is larger than {limit} bytes."}, status=413)
    if "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower():
        # Django reads a body up to its Content-Length, so a chunked one would read as empty. A server
        # that decodes chunks itself (gunicorn) says so with wsgi.input_terminated; otherwise refuse.
        if not request.META.get("wsgi.input_terminated"):
            return JsonResponse({"detail": "Send the callback with a Content-Length (chunked bodies are not "
                                           "read here)."}, status=411)
        body = request.META["wsgi.input"].read(limit + 1)
    else:
        body = request.read(limit + 1)
    if len(body) > limit:
        return JsonResponse({"detail": f"The callback body is larger than {limit} bytes."}, status=413)
    headers = {key: value for key, value in request.headers.items() if key.lower() not in ("cookie",)}
    try:
        run = services.handle_callback(token, body, headers)
    except services.RunNotFound as exc:
        return JsonResponse({"detail": str(exc)}, status=404)
    except services.RunRefused as exc:
        return JsonResponse({"detail": str(exc)}, status=409)
    return JsonResponse({"run": run.pk, "status": run.status}, status=202)
