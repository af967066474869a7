"""Defaults for Prefect, applied before Prefect is imported; a user's environment wins (these, being
environment variables, also take precedence over a Prefect profile's values).

This machine (and many production ones) has no route to the internet: Prefect's telemetry would only log
an error on every run. A slow machine needs longer than Prefect's default to start the temporary server.
"""

from __future__ import annotations

import os

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
# Prefect waits 20 s for its temporary server. Its first start on an empty PREFECT_HOME creates the
# database (~13 s on a fast 2-core machine, over 20 s on a slower one: every flow of the first run then
# failed with "Timed out while attempting to connect to ephemeral Prefect API server").
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")


def quiet_console() -> None:
    """Keep Prefect's console to warnings and errors (the CLI draws its own progress); a Prefect server
    still receives every log line. Call before Prefect is imported; PREFECT_LOGGING_* settings win."""
    os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "WARNING")
