"""Where the tasks run: threads on this machine, or a Dask cluster ([runner] kind = "dask").

On a cluster every extraction task runs on a worker slot and extracts with an extraction pool of that
worker: one process per worker thread, so the cluster's slots are the parallelism (no over-subscription).
The pool's processes enforce the per-page time limit, so workers must be able to start processes: a Dask
worker runs as a daemonic process by default, which may not. A LocalCluster started here is started
with `distributed.worker.daemon = False`; the workers of an external scheduler are checked before the
run and refused in one line unless started so (DASK_DISTRIBUTED__WORKER__DAEMON=False, or `--no-nanny`).
Before a run on an external cluster the workers are also checked to see a local warehouse and the local
input files (one of each source, at the same path with the same size); after the run
their extraction pools are closed, so nothing of the run is left on them.
"""

from __future__ import annotations

import contextlib
import glob
import multiprocessing
import os
import uuid
from collections.abc import Iterator
from typing import Any

from prefect.task_runners import TaskRunner, ThreadPoolTaskRunner

from flows.config import Config, ExtractConfig, RunnerConfig, SourceBase
from flows.errors import ConfigError
from flows.extract.pool import close_shared_pool
from flows.sources import kind, storage
from flows.warehouse.store import Warehouse

THREADS = 2  # threads runner: one extracting unit while another commits (the pool uses every core)
WORKER_DAEMON = "distributed.worker.daemon"
CONNECT_SECONDS = 30  # waiting for an external scheduler to answer, and for its first worker


def make_task_runner(runner: RunnerConfig) -> TaskRunner[Any]:
    if runner.kind == "threads":
        return ThreadPoolTaskRunner(max_workers=THREADS)
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


def remote(runner: TaskRunner[Any]) -> bool:
    """Tasks run in other processes (their results come back through staged files)."""
    return not isinstance(runner, ThreadPoolTaskRunner)


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


def prepare_cluster(runner: TaskRunner[Any], store: Warehouse) -> int:
    """Check the cluster's workers before a run; returns their task slots (threads)."""
    return _check_workers(_client(runner), store, [])


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


def clean_up(runner: TaskRunner[Any]) -> None:
    """Close the extraction pools the run started on the workers."""
    with contextlib.suppress(Exception):
        _client(runner).run(close_shared_pool)


def worker_extract_options(options: ExtractConfig) -> ExtractConfig:
    """Inside a task: on a Dask worker, one extraction process per worker thread (unless the config
    names a number)."""
    if options.processes:
        return options
    threads = _worker_threads()
    return options if threads is None else options.model_copy(update={"processes": threads})


def _worker_threads() -> int | None:
    try:
        from distributed import get_worker
    except ImportError:
        return None
    try:
        return int(get_worker().state.nthreads)
    except ValueError:  # not in a worker
        return None


@contextlib.contextmanager
def reporting_here(runner: TaskRunner[Any]) -> Iterator[None]:
    """Tasks sent to a cluster carry the flow's settings; with no Prefect server configured, the flow
    reports to Prefect's temporary server, which the settings do not name, and each worker would start a
    temporary server of its own (~25 s and ~200 MB each, its task runs never seen by the flow's). So the
    temporary server's address goes with the tasks (it listens on 127.0.0.1: workers on other machines
    need a Prefect server, PREFECT_API_URL)."""
    from prefect.settings import PREFECT_API_URL, get_current_settings, temporary_settings

    if not remote(runner) or get_current_settings().api.url:
        yield
        return
    from prefect.server.api.server import SubprocessASGIServer

    running = [server for server in SubprocessASGIServer._instances.values() if server.running]
    if not running:
        yield
        return
    with temporary_settings(updates={PREFECT_API_URL: running[0].api_url}):
        yield


@contextlib.contextmanager
def cancelling(futures: list[Any]) -> Iterator[None]:
    """Cancel the tasks still queued or running when the caller fails (a failed or cancelled flow leaves
    nothing running on the cluster)."""
    try:
        yield
    except BaseException:
        for future in futures:
            wrapped = getattr(future, "wrapped_future", None)
            with contextlib.suppress(Exception):
                if wrapped is not None:
                    wrapped.cancel()
                else:
                    future.cancel()
        raise
