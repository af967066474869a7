"""Defaults for Prefect, applied before Prefect is imported; a user's environment or profile wins.

This machine (and many production ones) has no route to the internet: Prefect's telemetry would only log
an error on every run.
"""

from __future__ import annotations

import os

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")


def quiet_console() -> None:
    """Keep Prefect's console to warnings and errors (the CLI draws its own progress); a Prefect server
    still receives every log line. Call before Prefect is imported; PREFECT_LOGGING_* settings win."""
    os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "WARNING")
