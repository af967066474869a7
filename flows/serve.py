"""`corpus serve`: one Prefect deployment per scheduled source, executed by Prefect's serve mechanism.

Each deployment runs the `ingest` flow on its one source with the config's path as a parameter, so the
config file stays the single place where sources are declared: restarting `corpus serve` re-reads it
(new and changed schedules take effect; a source taken out of the config stays paused, because serve
pauses its schedules when it stops). A deployment allows one run at a time: a run due while the previous
one is still going is cancelled by the server (and the per-source lock skips any run started another way).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import threading
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy
from prefect.deployments.runner import RunnerDeployment
from prefect.runner import Runner
from prefect.schedules import Cron, Interval, Schedule
from prefect.types.entrypoint import EntrypointType

from flows.config import SERVE_STOP_GRACE_SECONDS, Config, ScheduleFields, parse_age
from flows.errors import ConfigError
from flows.ingest import ingest


def prefect_schedule(fields: ScheduleFields) -> Schedule:
    if fields.schedule is not None:
        return Cron(fields.schedule, timezone=fields.timezone or "UTC")
    assert fields.interval is not None
    seconds = parse_age(fields.interval) / timedelta(seconds=1)
    return Interval(timedelta(seconds=seconds), timezone=fields.timezone or "UTC")


def deployments(config: Config, config_path: Path, warehouse: str | None = None) -> list[RunnerDeployment]:
    """A deployment per enabled source that has a schedule (its own or [defaults]')."""
    built: list[RunnerDeployment] = []
    for source in config.sources:
        fields = config.schedule_of(source)
        if not source.enabled or fields is None:
            continue
        built.append(
            ingest.to_deployment(  # type: ignore[arg-type]  # sync context: a RunnerDeployment
                name=source.name,
                parameters={
                    "config_path": str(config_path.resolve()),
                    "sources": [source.name],
                    "warehouse": warehouse,
                },
                schedules=[prefect_schedule(fields)],
                concurrency_limit=ConcurrencyLimitConfig(
                    limit=1, collision_strategy=ConcurrencyLimitStrategy.CANCEL_NEW
                ),
                description=f"Ingest source {source.name!r} ({source.kind}) from {config_path.resolve()}",
                tags=["corpus", f"source:{source.name}"],
                entrypoint_type=EntrypointType.MODULE_PATH,  # the installed package: any working dir
            )
        )
    if not built:
        raise ConfigError(
            f'{config_path}: no enabled source has a schedule: add schedule = "*/30 * * * *" or '
            'interval = "15m" to a source or to [defaults]'
        )
    return built


def describe(config: Config) -> list[tuple[str, str]]:
    """(source, when) for every source, for the start-up message."""
    rows = []
    for source in config.sources:
        fields = config.schedule_of(source)
        if not source.enabled:
            when = "disabled"
        elif fields is None:
            when = "not scheduled"
        elif fields.schedule is not None:
            when = f"cron {fields.schedule} ({fields.timezone or 'UTC'})"
        else:
            when = f"every {fields.interval}"
        rows.append((source.name, when))
    return rows


class _Runner(Runner):
    before_exit: Callable[[], None] | None = None  # set by serve(): stops a local Prefect server
    server_pid: int | None = None  # that server's process: spared until the flow runs are stopped
    say: Callable[[str], None] = print  # set by serve(): where the last resort says what it does
    stopped: threading.Event  # set by serve() once the runner has stopped by itself

    def handle_sigterm(self, *args: Any, **kwargs: Any) -> None:
        """SIGTERM stops serving the way Ctrl-C does (asyncio cancels the runner, which pauses the
        schedules and exits cleanly), instead of Prefect's sys.exit from inside the event loop."""
        self.stop_within(float(os.environ.get("CORPUS_SERVE_STOP_GRACE", SERVE_STOP_GRACE_SECONDS)))
        signal.raise_signal(signal.SIGINT)

    def stop_within(self, seconds: float) -> None:
        """Make sure the process ends: now and then the runner's shutdown waits forever after the
        cancellation (seen about once in five stops in the test suite, the event loop idle with nothing
        left to run). After `seconds` the schedules are paused directly, the local server stopped, flow
        runs still going terminated with their workers (committed work stays; the next run completes the
        rest), and the process exits."""

        def last_resort() -> None:
            if finished.wait(seconds):
                return
            self.say(f"corpus serve: the runner did not stop within {seconds:.0f} s; stopping it")
            # no more runs: schedules paused first, then the flow runs still going are terminated
            with contextlib.suppress(Exception):
                from prefect.client.orchestration import get_client

                with get_client(sync_client=True) as client:
                    for deployment_id in self._deployment_registry.get_deployment_ids():
                        client.pause_deployment(deployment_id)
            # flow runs first: stopped while the server they report to is still up (a flow run that outlives
            # it prints tracebacks of its lost connection)
            _terminate_children(spare=self.server_pid)
            if self.before_exit is not None:
                with contextlib.suppress(Exception):
                    self.before_exit()
            _terminate_children()
            os._exit(0)

        finished = self.stopped
        threading.Thread(target=last_resort, name="corpus-serve-stop", daemon=True).start()


def _terminate_children(grace: float = 10.0, spare: int | None = None) -> None:
    """SIGTERM every process below this one (flow runs and their extraction workers) but `spare` and its
    own, SIGKILL what is left after `grace` seconds."""
    import psutil

    children = psutil.Process().children(recursive=True)
    if spare is not None:
        with contextlib.suppress(psutil.Error):
            spared = {spare} | {p.pid for p in psutil.Process(spare).children(recursive=True)}
            children = [c for c in children if c.pid not in spared]
    for child in children:
        with contextlib.suppress(psutil.Error):
            child.terminate()
    _, alive = psutil.wait_procs(children, timeout=grace)
    for child in alive:
        with contextlib.suppress(psutil.Error):
            child.kill()
    psutil.wait_procs(alive, timeout=5)


def serve(
    config: Config,
    config_path: Path,
    warehouse: str | None = None,
    before_exit: Callable[[], None] | None = None,
    server_pid: int | None = None,
    say: Callable[[str], None] | None = None,
) -> None:
    """Register the deployments and execute their scheduled runs until stopped (Ctrl-C or SIGTERM).
    Schedules are paused when it stops, so runs do not pile up while nothing executes them.
    `before_exit` runs if the runner has to be abandoned (see _Runner.stop_within), after the flow runs
    are stopped and before the local server (`server_pid`) is; `say` tells the user it happened."""
    runner = _Runner(name="corpus-serve", pause_on_shutdown=True)
    runner.before_exit = before_exit
    runner.server_pid = server_pid
    runner.say = say or logging.getLogger("corpus").warning
    runner.stopped = threading.Event()
    for deployment in deployments(config, config_path, warehouse):
        runner.add_deployment(deployment)
    try:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(runner.start())
    finally:
        runner.stopped.set()
