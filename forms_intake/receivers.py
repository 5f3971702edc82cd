"""JotForm's webhooks: /forms/mini, /forms/full and /forms/triage (thin views; the work is in receiving)."""

import logging
from collections.abc import Callable

from django.core.exceptions import RequestDataTooBig
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.views.decorators.csrf import csrf_exempt

from bookings.untrusted_input import body_too_large_answer
from forms_intake.models import FormType
from forms_intake.parsing import MalformedSubmissionError
from forms_intake.receiving import FormMismatchError, submission_accept, webhook_token_valid

logger = logging.getLogger("clinic.forms")

FormView = Callable[[HttpRequest], HttpResponse]


def form_receiver(form_type: FormType) -> FormView:
    """The view JotForm posts submissions of `form_type` forms to."""

    @csrf_exempt
    def receive(request: HttpRequest) -> HttpResponse:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not webhook_token_valid(request.GET.get("token", "")):
            return JsonResponse({"error": "forbidden"}, status=403)
        try:
            body = request.body  # read before request.POST consumes the stream
        except RequestDataTooBig:
            return body_too_large_answer()
        try:
            submission_accept(
                form_type=form_type, form=request.POST, body=body, content_type=request.headers.get("Content-Type", "")
            )
        except (MalformedSubmissionError, MultiPartParserError) as error:
            return JsonResponse({"error": str(error)}, status=400)
        except FormMismatchError as error:
            return JsonResponse({"error": "form not accepted here", "reason": str(error)}, status=422)
        except DatabaseError:
            logger.exception("jotform submission not stored", extra={"form_type": str(form_type)})
            return JsonResponse({"error": "could not store the submission; try again"}, status=503)
        return JsonResponse({"status": "received"}, status=200)

    receive.__name__ = f"jotform_{form_type.value}_receiver"
    return receive


jotform_mini_receiver = form_receiver(FormType.MINI)
jotform_full_receiver = form_receiver(FormType.FULL)
jotform_triage_receiver = form_receiver(FormType.TRIAGE)
