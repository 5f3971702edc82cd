"""Re-reading a submission from JotForm's API, the proof that a webhook really came from JotForm."""

from typing import Any

import requests
from django.conf import settings

from forms_intake.errors import FormsIntakeError
from forms_intake.parsing import JSON, answers_from_api


class SubmissionUnknownError(FormsIntakeError):
    """An outcome, not a failure: JotForm does not hold this submission (for this form), so the
    webhook was forged."""


class JotFormUnavailableError(FormsIntakeError):
    """A failure that may pass (the delivery is retried): JotForm could not be asked (network
    failure, 5xx, rate limit)."""


def jotform_answers(*, submission_id: str, form_id: str) -> JSON:
    """The submission's answers as JotForm holds them, keyed like a webhook's rawRequest."""
    url = f"{settings.JOTFORM_API_URL.rstrip('/')}/v1/submission/{submission_id}"
    try:
        response = requests.get(
            url, headers={"APIKEY": settings.JOTFORM_API_KEY}, timeout=settings.FORMS_JOTFORM_TIMEOUT_SECONDS
        )
    except requests.RequestException as error:
        raise JotFormUnavailableError(f"JotForm API: {type(error).__name__}") from error
    if response.status_code == 429 or response.status_code >= 500:
        raise JotFormUnavailableError(f"JotForm API answered {response.status_code}")
    if response.status_code in (400, 401, 404):
        raise SubmissionUnknownError(f"JotForm API answered {response.status_code}")
    try:
        body: Any = response.json()
    except ValueError as error:
        raise JotFormUnavailableError("JotForm API answered with something other than JSON") from error
    content = body.get("content") if isinstance(body, dict) else None
    if not isinstance(content, dict) or str(content.get("id")) != submission_id:
        raise SubmissionUnknownError("JotForm does not hold this submission")
    if str(content.get("form_id")) != form_id:
        raise SubmissionUnknownError("JotForm holds this submission for another form")
    return answers_from_api(content)
