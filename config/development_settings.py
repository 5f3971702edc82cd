"""The settings with DEBUG on, for the test suite and the type checker.

config/settings.py treats an unset DJANGO_DEBUG as production. pytest-django loads the settings
before any conftest runs, so the switch has to live in the settings module it is told to load
(pyproject.toml); putting it in the environment also hands it to every worker and server
process a test starts, which read config/settings.py. The development keys come from VAR_DIR,
as for `make run`.
"""

import os

os.environ["DJANGO_DEBUG"] = "true"

from config.settings import *  # noqa: F403
