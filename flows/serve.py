"""Scheduled sources as Prefect deployments: one per scheduled source, run either by `corpus serve` (Prefect's
serve mechanism, in that one process) or, registered by `corpus deploy --pool NAME`, by the workers of a
process work pool (`prefect worker start --pool NAME` on any machine with the project installed).

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
from dataclasses import dataclass
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


WORK_POOL_TYPE = "process"  # a worker runs each flow run as a process of the project's environment


@dataclass(frozen=True)
class Deployed:
    name: str  # flow/deployment, as `prefect deployment run` takes it
    schedule: str
    paused: bool = False  # a deployment of this config whose source has no schedule any more


def deploy(config: Config, config_path: Path, pool: str, warehouse: str | None = None) -> list[Deployed]:
    """Register the scheduled sources' deployments on the Prefect server of the settings, on the process
    work pool `pool` (created when missing). Deployments made before from the same config for sources
    no longer scheduled in it are paused, so the config stays the one place sources are declared."""
    built = deployments(config, config_path, warehouse)
    return asyncio.run(_deploy(built, config, config_path.resolve(), pool))


async def _deploy(built: list[RunnerDeployment], config: Config, path: Path, pool: str) -> list[Deployed]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterTags
    from prefect.exceptions import ObjectNotFound
    from prefect.workers.process import ProcessWorker

    async with get_client() as client:
        try:
            found = await client.read_work_pool(pool)
        except ObjectNotFound:
            template = ProcessWorker.get_default_base_job_template()
            await client.create_work_pool(
                WorkPoolCreate(name=pool, type=WORK_POOL_TYPE, base_job_template=template)
            )
        else:
            if found.type != WORK_POOL_TYPE:
                raise ConfigError(
                    f"work pool {pool!r} is of type {found.type!r}; corpus deploy needs a "
                    f"{WORK_POOL_TYPE!r} pool (choose another name, or create one: "
                    f"prefect work-pool create NAME --type {WORK_POOL_TYPE})"
                )
        when = dict(describe(config))
        done = []
        for deployment in built:
            await deployment.aapply(work_pool_name=pool)
            done.append(Deployed(f"{deployment.flow_name}/{deployment.name}", when[deployment.name]))
        current = {deployment.name for deployment in built}
        earlier = await client.read_deployments(
            deployment_filter=DeploymentFilter(tags=DeploymentFilterTags(all_=["corpus"]))
        )
        for old in earlier:
            if old.name in current or (old.parameters or {}).get("config_path") != str(path):
                continue
            if not old.paused:
                await client.pause_deployment(old.id)
            done.append(Deployed(f"ingest/{old.name}", when.get(old.name, "not in the config"), True))
    return done


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
    stop_requested = False  # a SIGTERM came
    main_task: asyncio.Task[None] | None = None  # set by serve(): the task running start(), and its loop
    main_loop: asyncio.AbstractEventLoop | None = None

    def handle_sigterm(self, *args: Any, **kwargs: Any) -> None:
        """SIGTERM stops serving after the runs in progress: no new run starts, the schedules are paused,
        and once no flow run is left the task running the runner is cancelled, as Ctrl-C in a terminal
        does (the runner then leaves its services in order; Prefect's own handler calls sys.exit from
        inside the event loop instead). A second SIGTERM stops at once (runs in progress are terminated;
        what they committed stays). Installed by serve() before the deployments are registered, so a
        SIGTERM coming before the runner starts is a request too.

        The task is cancelled directly, not by raising SIGINT, which was why stops waited for the last
        resort: a process started in the background by a shell (`corpus serve &`, many service scripts)
        inherits SIGINT ignored, asyncio then installs no SIGINT handler, and the raised SIGINT did nothing.
        """
        task, loop = self.main_task, self.main_loop
        running = task is not None and loop is not None and not task.done()
        if self.stop_requested:  # the second one: now
            if running:
                assert loop is not None and task is not None
                loop.call_soon_threadsafe(task.cancel)
            return
        self.stop_requested = True
        if running:
            assert loop is not None
            loop.call_soon_threadsafe(lambda: loop.create_task(self._stop_after_runs()))
        else:
            self._stop_within_grace()

    async def _stop_after_runs(self) -> None:
        self.stopping = True
        poller = getattr(self, "_scheduled_run_poller", None)
        if poller is not None:
            poller.stopping = True  # no new submissions
        if self.started:
            with contextlib.suppress(Exception):
                await self._pause_schedules()  # type: ignore[no-untyped-call]
        busy = self._process_manager.flow_run_ids()
        if busy:
            self.say(
                f"corpus serve: stopping after the {len(busy)} run{'s' if len(busy) > 1 else ''} in progress "
                "(SIGTERM again to stop now)"
            )
        while self._process_manager.flow_run_ids():
            await asyncio.sleep(0.25)
        self._stop_within_grace()
        if self.main_task is not None:
            self.main_task.cancel()

    def _stop_within_grace(self) -> None:
        self.stop_within(float(os.environ.get("CORPUS_SERVE_STOP_GRACE", SERVE_STOP_GRACE_SECONDS)))

    def pause_schedules(self) -> None:
        """Pause every deployment registered so far (again: pausing is idempotent), whatever point the
        runner had reached when it was stopped."""
        with contextlib.suppress(Exception):
            from prefect.client.orchestration import get_client

            with get_client(sync_client=True) as client:
                for deployment_id in self._deployment_registry.get_deployment_ids():
                    client.pause_deployment(deployment_id)

    def stop_within(self, seconds: float) -> None:
        """Make sure the process ends even if the runner's own shutdown does not (a safety net: since
        SIGTERM cancels the runner's task directly no stop has needed it in the tests); counted from when
        no run is left, or from the second SIGTERM. After `seconds` the
        schedules are paused directly, the local server stopped, flow runs still going terminated with
        their workers (committed work stays; the next run completes the rest), and the process exits."""

        def last_resort() -> None:
            if finished.wait(seconds):
                return
            self.say(f"corpus serve: the runner did not stop within {seconds:.0f} s; stopping it")
            self.pause_schedules()  # no more runs: schedules paused first, then the flow runs terminated
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
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, runner.handle_sigterm)  # runner.start() installs it again

    async def start() -> None:
        runner.main_task, runner.main_loop = asyncio.current_task(), asyncio.get_running_loop()
        if not runner.stop_requested:
            await runner.start()

    try:
        for deployment in deployments(config, config_path, warehouse):
            if runner.stop_requested:
                break
            runner.add_deployment(deployment)
        with contextlib.suppress(KeyboardInterrupt, asyncio.CancelledError):
            asyncio.run(start())
    finally:
        runner.stopped.set()
        runner.pause_schedules()  # also when stopped before the runner paused them itself
