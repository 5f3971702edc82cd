"""One structured log line per Celery task, with its correlation id and duration."""

import logging
import time
from typing import Any

from celery.signals import task_postrun, task_prerun

logger = logging.getLogger("clinic.task")

_started: dict[str, float] = {}


@task_prerun.connect
def _remember_start(task_id: str, **kwargs: Any) -> None:
    _started[task_id] = time.perf_counter()


@task_postrun.connect
def _log_task(task_id: str, task: Any, state: str | None = None, **kwargs: Any) -> None:
    started = _started.pop(task_id, None)
    logger.info(
        "task",
        extra={
            "task": task.name,
            "task_id": task_id,
            "state": state,
            "duration_ms": round((time.perf_counter() - started) * 1000, 1) if started else None,
        },
    )
