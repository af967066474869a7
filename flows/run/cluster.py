"""Where the tasks run: threads on this machine, or a Dask cluster ([runner] kind = "dask").

On a cluster every extraction task runs on a worker slot and extracts with an extraction pool of that
worker: one process per worker thread, so the cluster's slots are the parallelism (no over-subscription).
The pool's processes enforce the per-page time limit, so workers must be able to start processes: a Dask
worker runs as a daemonic process by default, which may not. A LocalCluster started here is started
with `distributed.worker.daemon = False`; the workers of an external scheduler are checked before the
run and refused in one line unless started so (DASK_DISTRIBUTED__WORKER__DAEMON=False, or `--no-nanny`).
Before a run on an external cluster the workers are also checked to see a local warehouse and the local
input files (one of each source, at the same path with the same size).

What a worker uses for a run's units (its extraction pool, its fetchers' politeness: run/unit.py
UnitResources) lives on the worker, in a Dask worker plugin registered for the run (`RunOnWorkers`) and
unregistered after it, which closes the pool: nothing of a run is left on the workers, and two runs
sharing a cluster never share a pool.
"""

from __future__ import annotations

import contextlib
import glob
import multiprocessing
import os
import uuid
from collections.abc import Iterator
from typing import Any

from distributed import WorkerPlugin
from prefect.task_runners import TaskRunner

from flows.config import Config, DedupConfig, ExtractConfig, RunnerConfig, SourceBase
from flows.errors import ConfigError
from flows.run.unit import RunRef, UnitResources, worker_plugin_name
from flows.sources import kind, storage
from flows.warehouse.store import Warehouse

WORKER_DAEMON = "distributed.worker.daemon"
# Waiting for an external scheduler to answer, and for its first worker: a scheduler that has just been
# started (a job script starting it, then the workers, then the ingest) needs a few seconds.
CONNECT_SECONDS = 30


def make_task_runner(runner: RunnerConfig) -> TaskRunner[Any]:
    """The Dask task runner of the config (kind "dask"); kind "ray" is refused with the reason."""
    if runner.kind == "ray":
        raise ConfigError(
            'runner.kind = "ray" is not supported: its workers cannot start the extraction processes that '
            'enforce the per-page time limit; use kind = "dask"'
        )
    try:
        import dask
        from prefect_dask.task_runners import DaskTaskRunner
    except ImportError:
        raise ConfigError('runner.kind = "dask" needs prefect-dask: pip install prefect-dask') from None
    if runner.address:
        external: TaskRunner[Any] = DaskTaskRunner(address=runner.address)
        return external
    # A LocalCluster's worker processes are started by nannies in this process, which read this setting.
    dask.config.set({WORKER_DAEMON: False})
    local: TaskRunner[Any] = DaskTaskRunner(
        cluster_kwargs={
            "n_workers": runner.workers or os.cpu_count() or 1,
            "threads_per_worker": 1,
            "processes": True,
            "dashboard_address": None,
            "host": "127.0.0.1",
        }
    )
    return local


@contextlib.contextmanager
def running(config: Config, run: RunRef, store: Warehouse) -> Iterator[tuple[TaskRunner[Any], int]]:
    """The cluster's task runner for a run, and its task slots: the workers checked, the run's resources
    registered on them (RunOnWorkers), tasks reporting to this run's Prefect server; afterwards the
    resources are closed on every worker."""
    with make_task_runner(config.runner) as runner, reporting_here():
        client = _client(runner)
        slots = _check_workers(client, store, [])
        plugin = RunOnWorkers(run.run_id, config.extract, config.dedup)
        client.register_plugin(plugin, name=plugin.name)
        try:
            yield runner, slots
        finally:
            with contextlib.suppress(Exception):
                client.unregister_worker_plugin(plugin.name)


class RunOnWorkers(WorkerPlugin):
    """A Dask worker plugin: a run's UnitResources on each worker (one extraction process per worker
    thread, unless the config names a number), created when the run starts and closed when it ends."""

    def __init__(self, run_id: str, extract: ExtractConfig, dedup: DedupConfig) -> None:
        self.name = worker_plugin_name(run_id)
        self.extract = extract
        self.dedup = dedup
        self.resources: UnitResources | None = None

    def setup(self, worker: Any) -> None:
        self.resources = UnitResources(self.extract, self.dedup, processes=int(worker.state.nthreads))

    def teardown(self, worker: Any) -> None:
        if self.resources is not None:
            self.resources.close()


def _client(runner: TaskRunner[Any]) -> Any:
    return runner.client  # type: ignore[attr-defined]  # DaskTaskRunner


def check_cluster(config: Config, store: Warehouse, sources: list[SourceBase] | None = None) -> None:
    """Before a run starts (the CLI calls it before Prefect does anything): the runner is supported, and
    an external scheduler answers and has workers that can extract and see the warehouse and the local
    input files of `sources`."""
    runner = config.runner
    make_task_runner(runner)
    if runner.kind != "dask" or not runner.address:
        return
    from distributed import Client

    try:
        client = Client(runner.address, timeout=CONNECT_SECONDS)  # type: ignore[no-untyped-call]
    except (OSError, TimeoutError) as exc:
        raise ConfigError(
            f"dask scheduler {runner.address} ([runner] address): cannot connect: {exc}"
        ) from None
    with client:
        _check_workers(client, store, _input_samples(config, sources or []))


def _input_samples(config: Config, sources: list[SourceBase]) -> list[tuple[str, str, int]]:
    """(source, file, size): one local input file of each source that reads local files, which every
    worker must see as it is here (an object-storage path is read by the workers themselves)."""
    samples = []
    for source in sources:
        path = getattr(source, "path", None)
        if kind(source.kind).FETCHED or not isinstance(path, str) or storage.is_remote(path):
            continue
        found = next((p for p in glob.iglob(config.resolve(path), recursive=True) if os.path.isfile(p)), None)
        if found is not None:  # none: discovery says so, in its own words
            samples.append((source.name, found, os.path.getsize(found)))
    return samples


def _check_workers(client: Any, store: Warehouse, samples: list[tuple[str, str, int]]) -> int:
    try:
        client.wait_for_workers(1, timeout=CONNECT_SECONDS)
    except (OSError, TimeoutError):
        raise ConfigError(
            f"dask scheduler {client.scheduler.address} has no worker (waited {CONNECT_SECONDS} s)"
        ) from None
    probe = ""
    if store.local:  # a file only the workers that share the warehouse's folder can see
        probe = store.staging_dir(f"probe-{uuid.uuid4().hex}")
        os.makedirs(probe, exist_ok=True)
    try:
        facts: dict[str, dict[str, Any]] = client.run(_worker_facts, probe, samples)
    finally:
        if probe:
            with contextlib.suppress(OSError):
                os.rmdir(probe)
    daemonic = sorted(address for address, fact in facts.items() if fact["daemon"])
    if daemonic:
        raise ConfigError(
            f"dask workers {', '.join(daemonic)} run as daemonic processes, which cannot start the "
            "extraction processes: start them with DASK_DISTRIBUTED__WORKER__DAEMON=False (or "
            "`dask worker --no-nanny`)"
        )
    blind = sorted(address for address, fact in facts.items() if not fact["warehouse"])
    if blind:
        raise ConfigError(
            f"warehouse {store.root} is a local folder that dask workers {', '.join(blind)} cannot see: put "
            'it on storage every worker mounts at the same path, or on object storage (path = "s3://...")'
        )
    for name, path, _size in samples:
        missing = sorted(address for address, fact in facts.items() if path in fact["unseen"])
        if missing:
            raise ConfigError(
                f"source {name!r}: dask workers {', '.join(missing)} cannot read its local file {path}: put "
                "the inputs on storage every worker mounts at the same path, or on object storage "
                '(path = "s3://...")'
            )
    return sum(fact["threads"] for fact in facts.values())


def _worker_facts(probe: str, samples: list[tuple[str, str, int]], dask_worker: Any = None) -> dict[str, Any]:
    return {
        "daemon": multiprocessing.current_process().daemon,
        "warehouse": not probe or os.path.isdir(probe),
        "unseen": [path for _name, path, size in samples if not _same_size(path, size)],
        "threads": dask_worker.state.nthreads if dask_worker is not None else 1,
    }


def _same_size(path: str, size: int) -> bool:
    try:
        return os.path.getsize(path) == size
    except OSError:
        return False


@contextlib.contextmanager
def reporting_here() -> Iterator[None]:
    """Tasks sent to a cluster carry the flow's settings; with no Prefect server configured, the flow
    reports to Prefect's temporary server, which the settings do not name, and each worker would start a
    temporary server of its own (~25 s and ~200 MB each, its task runs never seen by the flow's). So the
    temporary server's address goes with the tasks (it listens on 127.0.0.1: workers on other machines
    need a Prefect server, PREFECT_API_URL)."""
    from prefect.settings import PREFECT_API_URL, get_current_settings, temporary_settings

    if get_current_settings().api.url:
        yield
        return
    from prefect.server.api.server import SubprocessASGIServer

    running = [server for server in SubprocessASGIServer._instances.values() if server.running]
    if not running:
        yield
        return
    with temporary_settings(updates={PREFECT_API_URL: running[0].api_url}):
        yield
