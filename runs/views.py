"""The callback endpoint: the one door a run opens to the outside."""

from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST


@csrf_exempt
@require_POST
def callback(request, token):
    return JsonResponse({"detail": "Callbacks arrive with the run engine."}, status=501)
