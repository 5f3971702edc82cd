"""Request middleware: one structured log line per request, and the practice time zone."""

import logging
import time
from collections.abc import Callable

from django.http import HttpRequest, HttpResponseBase
from django.utils import timezone

from practitioners.practice_time import practice_zone

logger = logging.getLogger("clinic.request")


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
