"""Reading JotForm's webhook and API shapes into answers keyed by our field names."""

import json
import re
from dataclasses import dataclass, field
from typing import Any

from bookings.untrusted_input import JSON_DEPTH_MAX, json_nesting_depth
from forms_intake.definitions import TRIAGE_PREFIX
from forms_intake.errors import FormsIntakeError

JSON = dict[str, Any]

_ANSWER_KEY = re.compile(r"^q(\d+)_(.+)$")
# JotForm's ids are digits; anything else, or longer than the columns that hold them, is not
# JotForm's and is refused before it reaches the database (PostgreSQL cannot store a NUL).
FORM_ID = re.compile(r"[0-9A-Za-z]{1,32}")
SUBMISSION_ID = re.compile(r"[0-9A-Za-z]{1,64}")


class MalformedSubmissionError(FormsIntakeError, ValueError):
    """A failure of the sender, answered as 400: the webhook lacks what identifies a submission,
    or its answers cannot be read."""


@dataclass(frozen=True)
class WebhookFields:
    """The fields of JotForm's multipart webhook we rely on."""

    form_id: str
    submission_id: str
    raw_answers: JSON


@dataclass(frozen=True)
class MappedAnswers:
    """Answers under our field names (values as JotForm sent them), and those left unmapped."""

    values: JSON = field(default_factory=dict)
    unmapped: JSON = field(default_factory=dict)


def webhook_fields(form: Any) -> WebhookFields:
    """formID, submissionID and the parsed rawRequest of a webhook's form data (a QueryDict)."""
    form_id = str(form.get("formID") or "").strip()
    submission_id = str(form.get("submissionID") or "").strip()
    if not form_id or not submission_id:
        raise MalformedSubmissionError("formID and submissionID are required")
    if FORM_ID.fullmatch(form_id) is None or SUBMISSION_ID.fullmatch(submission_id) is None:
        raise MalformedSubmissionError("formID and submissionID must be JotForm ids (letters and digits, not too long)")
    try:
        raw_answers = json.loads(form.get("rawRequest") or "")
    except (ValueError, RecursionError):
        # ValueError covers text that is not JSON and integers too long to convert;
        # RecursionError, nesting too deep to parse.
        raise MalformedSubmissionError("rawRequest is not JSON") from None
    if not isinstance(raw_answers, dict):
        raise MalformedSubmissionError("rawRequest is not a JSON object")
    if json_nesting_depth(raw_answers) > JSON_DEPTH_MAX:
        # Answers nest a few levels (a name, an address, a list of choices); deeper could
        # exhaust the stack of whatever reads them later.
        raise MalformedSubmissionError(f"rawRequest is nested more than {JSON_DEPTH_MAX} levels deep")
    return WebhookFields(form_id=form_id, submission_id=submission_id, raw_answers=raw_answers)


def answers_from_api(content: JSON) -> JSON:
    """The answers of an API submission (`content.answers`) keyed like the webhook's rawRequest."""
    answers: JSON = {}
    for qid, question in (content.get("answers") or {}).items():
        if isinstance(question, dict) and "answer" in question and question.get("name"):
            answers[f"q{qid}_{question['name']}"] = question["answer"]
    return answers


def answers_map(*, raw_answers: JSON, field_map: dict[str, str]) -> MappedAnswers:
    """Our fields from the answers, by question name, qid or full key (in that order)."""
    values: JSON = {}
    unmapped: JSON = {}
    for key, answer in raw_answers.items():
        match = _ANSWER_KEY.match(key)
        if match is None:
            continue  # JotForm's own fields (slug, buildDate, path, ...)
        qid, name = match.groups()
        target = field_map.get(name) or field_map.get(qid) or field_map.get(key)
        if not target:
            unmapped[key] = answer
        elif target == "name" and isinstance(answer, dict):
            values["first_name"] = answer.get("first", "")
            values["last_name"] = answer.get("last", "")
        else:
            values[target] = answer
    return MappedAnswers(values=values, unmapped=unmapped)


def answer_text(value: Any) -> str:
    """A JotForm answer as one line of text (compound answers joined in their order)."""
    if value is None:
        return ""
    if isinstance(value, dict):
        if "full" in value:
            return str(value["full"]).strip()
        return " ".join(str(part).strip() for part in value.values() if str(part).strip())
    if isinstance(value, list):
        return ", ".join(answer_text(item) for item in value if answer_text(item))
    return str(value).strip()


def triage_summary(values: JSON, unmapped: JSON) -> str:
    """A readable summary of the triage answers: one "Topic: answer" line per question."""
    lines = []
    for name, value in values.items():
        if name.startswith(TRIAGE_PREFIX) and answer_text(value):
            topic = name.removeprefix(TRIAGE_PREFIX).replace("_", " ").capitalize()
            lines.append(f"{topic}: {answer_text(value)}")
    for key, value in unmapped.items():
        if answer_text(value):
            topic = _ANSWER_KEY.sub(r"\2", key)
            lines.append(f"{topic}: {answer_text(value)}")
    return "\n".join(lines)
