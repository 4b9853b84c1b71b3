"""JSON errors everywhere under /api/, including the ones DRF does not raise."""

from __future__ import annotations

from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent
from django.db.models import ProtectedError
from django.http import JsonResponse
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler


def json_exception_handler(exc, context):
    """Turn DRF errors into JSON, and a delete blocked by PROTECT into a 409."""
    response = exception_handler(exc, context)
    if response is not None:
        return response
    if isinstance(exc, ProtectedError):
        names = sorted({str(obj) for obj in exc.protected_objects})[:5]
        return Response(
            {
                "detail": "Still referenced; delete or move these first.",
                "used_by": names,
            },
            status=status.HTTP_409_CONFLICT,
        )
    return None


def not_found(request, exception=None):
    """Answer unknown URLs with JSON (the default page is HTML)."""
    return JsonResponse(
        {"detail": f"Not found: no resource at '{request.path}'."}, status=404
    )


def bad_request(request, exception=None):
    """Answer what Django refuses before a view runs (a body over
    DATA_UPLOAD_MAX_MEMORY_SIZE: 413, too many fields: 400) with JSON."""
    if isinstance(exception, RequestDataTooBig):
        return JsonResponse({"detail": "Request body too large."}, status=413)
    if isinstance(exception, TooManyFieldsSent):
        return JsonResponse({"detail": "Too many fields in the request."}, status=400)
    return JsonResponse({"detail": "Bad request."}, status=400)


def server_error(request):
    return JsonResponse({"detail": "Internal server error."}, status=500)
