"""Where other systems deliver to us: check, store in the inbox, acknowledge.

Graph gives a receiver 3 seconds and throttles or drops subscriptions whose endpoint is
slow, so these views only check and store; the work happens on a worker afterwards.
"""

import logging
from collections.abc import Callable

from django.core.exceptions import RequestDataTooBig
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from bookings.graph_intake import MalformedNotifications, NotificationUrl, notifications_accept
from bookings.untrusted_input import body_too_large_answer

logger = logging.getLogger("clinic.graph")

GraphView = Callable[[HttpRequest], HttpResponse]


def graph_receiver(url: NotificationUrl) -> GraphView:
    """The view behind one of our Graph notification URLs.

    It answers Graph's validation handshake (`?validationToken=`, sent when a subscription
    is created) with the token itself, and otherwise accepts a batch of notifications.
    """

    @csrf_exempt
    def receive(request: HttpRequest) -> HttpResponse:
        if "validationToken" in request.GET:
            return validation_answer(request.GET["validationToken"])
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        try:
            body = request.body
        except RequestDataTooBig:
            return body_too_large_answer()
        try:
            notifications_accept(body=body, url=url, content_type=request.content_type or "")
        except MalformedNotifications as error:
            return JsonResponse({"error": str(error)}, status=400)
        except DatabaseError:
            # Graph retries a 5xx for up to 4 hours; what was stored before the failure
            # comes again under the same delivery keys and is not stored twice.
            logger.exception("graph notifications not stored", extra={"url": url.value})
            return JsonResponse({"error": "could not store the notifications; try again"}, status=503)
        return HttpResponse(status=202)

    receive.__name__ = f"graph_{url.value}_receiver"
    return receive


def validation_answer(token: str) -> HttpResponse:
    """The URL-decoded token, byte for byte, as plain text, which is what Graph checks.

    Plain text (never HTML) with nosniff set for the whole site means a token crafted as
    markup cannot run in anyone's browser.
    """
    return HttpResponse(token, content_type="text/plain; charset=utf-8")


graph_consultant_receiver = graph_receiver(NotificationUrl.CONSULTANT)
graph_practitioner_receiver = graph_receiver(NotificationUrl.PRACTITIONER)
graph_lifecycle_receiver = graph_receiver(NotificationUrl.LIFECYCLE)
