#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    from django.core.management import execute_from_command_line

    from config.local_env import local_env_load

    # Beside `make run`, a command talks to the same local stand-ins the service does.
    local_env_load()

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
