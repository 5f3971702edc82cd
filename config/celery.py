"""The Celery app: workers run the inbox handlers and the MediRecords push; beat runs upkeep."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("clinic")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Imported for its signal handlers: one log line per task.
import config.task_logging  # noqa: E402, F401
