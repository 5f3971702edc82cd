"""Requests per client address on the public receivers and the login page (django-ratelimit).

Each limit is a setting ("count/period"); the count is kept in the Django cache (Redis when
REDIS_URL is set, so every web process shares it; in the embedded mode the one process's
memory). Over the limit the request is answered 429 with Retry-After before the view runs, so
it stores nothing.
"""

import logging
from collections.abc import Callable
from functools import wraps

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django_ratelimit.core import get_usage
from redis.exceptions import RedisError

from config.client_address import client_ip_address

logger = logging.getLogger("clinic.request")

View = Callable[..., HttpResponseBase]


def _client_key(group: str, request: HttpRequest) -> str:
    return client_ip_address(request) or "unknown"


def rate_limited(view: View, *, group: str, rate_setting: str, methods: tuple[str, ...] | None = None) -> View:
    """`view` limited per client address to the rate in `settings.<rate_setting>`.

    `methods` limits only those methods (the login page counts POSTs, the guesses); all by
    default. A cache that cannot be reached lets the request through: losing a booking
    notification is worse than a moment without a limit.
    """

    def rate(_group: str, _request: HttpRequest) -> str:
        return str(getattr(settings, rate_setting))

    @wraps(view)
    def limited(request: HttpRequest, *args: object, **kwargs: object) -> HttpResponseBase:
        try:
            usage = get_usage(
                request,
                group=group,
                key=_client_key,
                rate=rate,
                method=list(methods) if methods else get_usage.ALL,
                increment=True,
            )
        except (RedisError, OSError):  # the cache did not answer: let the request through, and say so
            logger.warning("rate limit not checked: the cache did not answer", extra={"group": group})
            usage = None
        if usage is not None and usage["should_limit"]:
            return too_many_requests_answer(retry_after_seconds=max(1, int(usage["time_left"])))
        return view(request, *args, **kwargs)

    return limited


def too_many_requests_answer(*, retry_after_seconds: int) -> HttpResponse:
    response = JsonResponse({"error": "too many requests from this address; try again later"}, status=429)
    response["Retry-After"] = str(retry_after_seconds)
    return response
