"""The callback endpoint: the one door a run opens to the outside.

No authentication but the run's unguessable token; the body (JSON or XML)
is evaluated by the run's stop conditions.
"""

from django.conf import settings
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from . import engine


@csrf_exempt
@require_POST
def callback(request, token):
    limit = settings.INTEGRATIONS_MAX_CALLBACK_BYTES
    declared = request.META.get("CONTENT_LENGTH") or "0"
    if declared.isdigit() and int(declared) > limit:
        return JsonResponse({"detail": f"The callback body is larger than {limit} bytes."}, status=413)
    body = request.read(limit + 1)
    if len(body) > limit:
        return JsonResponse({"detail": f"The callback body is larger than {limit} bytes."}, status=413)
    headers = {key: value for key, value in request.headers.items() if key.lower() not in ("cookie",)}
    try:
        run = engine.handle_callback(token, body, headers)
    except engine.CallbackRefused as exc:
        return JsonResponse({"detail": str(exc)}, status=exc.status)
    return JsonResponse({"run": run.pk, "status": run.status}, status=202)
