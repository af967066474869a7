"""Defaults for Prefect, applied before Prefect is imported; a user's environment wins (these, being
environment variables, also take precedence over a Prefect profile's values).

This machine (and many production ones) has no route to the internet: Prefect's telemetry would only log
an error on every run. A slow machine needs longer than Prefect's default to start the temporary server.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
# Prefect 3.8's client-side analytics (milestones sent to Amplitude from a background thread, 0.3 s of
# start-up) obey only the DO_NOT_TRACK convention; DO_NOT_TRACK=0 in the environment turns them back on.
os.environ.setdefault("DO_NOT_TRACK", "1")
# Prefect waits 20 s for its temporary server. Its first start on an empty PREFECT_HOME creates the
# database (~13 s on a fast 2-core machine, over 20 s on a slower one: every flow of the first run then
# failed with "Timed out while attempting to connect to ephemeral Prefect API server").
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "120")


def quiet_console() -> None:
    """Keep Prefect's console to critical lines: the CLI draws its own progress and prints the run's
    summary, with its errors and warnings, itself (the flow run's log lines said the same again, with
    timestamps); a Prefect server still receives every log line, and `--verbose` shows them. Call before
    Prefect is imported; PREFECT_LOGGING_* settings win."""
    os.environ.setdefault("PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL", "CRITICAL")


HEARTBEAT_SETTINGS = ("PREFECT_FLOWS_HEARTBEAT_FREQUENCY", "PREFECT_RUNNER_HEARTBEAT_FREQUENCY")


@contextlib.contextmanager
def without_heartbeats() -> Iterator[None]:
    """Flow runs started inside the block send no heartbeats, unless a PREFECT_*_HEARTBEAT_FREQUENCY
    variable asks for them. For the CLI's one-shot runs: Prefect's heartbeat thread sleeps in whole
    seconds and the flow waits for it at its end (up to 1 s, half on average, of a 3-second run), and a
    heartbeat serves only a zombie-flow automation, which an interactive command does not need (a run
    killed midway is recorded as interrupted by the next one). `corpus serve` keeps them. Call after
    Prefect's settings are final (it imports Prefect)."""
    if any(name in os.environ for name in HEARTBEAT_SETTINGS):
        yield
        return
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        yield


def quiet_temporary_server() -> Path | None:
    """Send the output of Prefect's temporary server (a child process that otherwise writes to this
    process's stderr) to PREFECT_HOME/temporary-server.log, which is returned: at shutdown, on a loaded
    machine, it printed tracebacks of its cancelled database sessions after the run's summary.

    Prefect offers no setting for this, so its `SubprocessASGIServer._run_uvicorn_command` is replaced by
    the same command with the output redirected, mirrored from prefect 3.8.8 (pinned); another version
    keeps Prefect's own method, and with a Prefect server configured (PREFECT_API_URL, a profile's
    api.url) nothing is done: no temporary server will start. Call after `quiet_console`, before a flow
    runs."""
    import subprocess
    import sys

    import prefect
    from prefect.settings import get_current_settings

    if prefect.__version__ != "3.8.8" or get_current_settings().api.url:
        return None  # another version keeps its own method; with a server configured none is started
    # Prefect's server package is imported only now: ~4 s of imports (FastAPI, SQLAlchemy, the API's
    # routes) that a run reporting to a running server never needs.
    from prefect.server.api import server as prefect_server

    log = Path(get_current_settings().home) / "temporary-server.log"

    def run_uvicorn(self: Any) -> subprocess.Popen[Any]:
        server_env = {
            "PREFECT_UI_ENABLED": "0",
            "PREFECT__SERVER_EPHEMERAL": "1",
            "PREFECT__SERVER_FINAL": "1",
        }
        log.parent.mkdir(parents=True, exist_ok=True)
        with log.open("ab") as sink:
            return subprocess.Popen(
                args=[
                    sys.executable,
                    "-m",
                    "uvicorn",
                    "--app-dir",
                    str(prefect.__module_path__.parent),
                    "--factory",
                    "prefect.server.api.server:create_app",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                    "--log-level",
                    "error",
                    "--lifespan",
                    "on",
                ],
                env={
                    **os.environ,
                    **server_env,
                    **get_current_settings().to_environment_variables(exclude_unset=True),
                },
                stdout=sink,
                stderr=subprocess.STDOUT,
            )

    prefect_server.SubprocessASGIServer._run_uvicorn_command = run_uvicorn  # type: ignore[method-assign]
    return log
