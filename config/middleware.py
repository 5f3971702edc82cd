"""Request middleware: one structured log line per request, and the practice time zone."""

import logging
import re
import time
from collections.abc import Callable

from django.http import HttpRequest, HttpResponseBase
from django.utils import timezone

from practitioners.practice_time import practice_zone

logger = logging.getLogger("clinic.request")

# A caller's correlation id is echoed, logged and stored (a 64-character column): only a
# short id of characters that are safe in all three is taken; anything else gets a new one.
CORRELATION_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
CORRELATION_ID_META_KEY = "HTTP_X_CORRELATION_ID"


def correlation_id_guard_middleware(
    get_response: Callable[[HttpRequest], HttpResponseBase],
) -> Callable[[HttpRequest], HttpResponseBase]:
    """Drop an X-Correlation-ID that is not a safe id, so django-guid makes a new one.

    django-guid's own check (VALIDATE_GUID) accepts UUIDs only and logs what it refused, so
    the check is made here, before it, and the refused value is never logged.
    """

    def middleware(request: HttpRequest) -> HttpResponseBase:
        given = request.META.get(CORRELATION_ID_META_KEY)
        if given is not None and CORRELATION_ID.fullmatch(str(given)) is None:
            del request.META[CORRELATION_ID_META_KEY]
            request.__dict__.pop("headers", None)  # HttpRequest.headers is cached from META
        return get_response(request)

    return middleware


def request_log_middleware(
    get_response: Callable[[HttpRequest], HttpResponseBase],
) -> Callable[[HttpRequest], HttpResponseBase]:
    def middleware(request: HttpRequest) -> HttpResponseBase:
        started = time.perf_counter()
        response = get_response(request)
        # The path only: query strings carry webhook tokens and validation tokens.
        logger.info(
            "request",
            extra={
                "method": request.method,
                "path": request.path,
                "status": response.status_code,
                "duration_ms": round((time.perf_counter() - started) * 1000, 1),
            },
        )
        return response

    return middleware


def practice_time_zone_middleware(
    get_response: Callable[[HttpRequest], HttpResponseBase],
) -> Callable[[HttpRequest], HttpResponseBase]:
    """Show and read times in the practice's zone: staff think in Sydney time, not UTC."""

    def middleware(request: HttpRequest) -> HttpResponseBase:
        with timezone.override(practice_zone()):
            return get_response(request)

    return middleware
