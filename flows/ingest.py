"""The Prefect flow: `ingest` runs one task group per source; each source's work is one task per unit
(a batch of files, a WARC file) for extraction and one per unit for the serialised commit. This is the
only module that knows about Prefect; the work itself is in pipeline.py.
"""

from __future__ import annotations

import threading
import time

from prefect import flow, task
from prefect.futures import as_completed
from prefect.task_runners import TaskRunner, ThreadPoolTaskRunner

from flows import (
    pipeline,
    prefect_settings,  # noqa: F401  (quiet, offline defaults; must precede prefect)
    progress,
)
from flows.config import (
    Config,
    ConfigError,
    ExtractConfig,
    FilesSource,
    RunnerConfig,
    WarcSource,
    load_config,
)
from flows.extract_pool import close_shared_pool
from flows.sources import SourceError, Unit, discover
from flows.staging import StagedUnit
from flows.stats import RunSummary, SourceStats
from flows.views import build_views


def make_task_runner(runner: RunnerConfig) -> TaskRunner:
    """Threads on this machine, or an existing Dask/Ray cluster (each needs its Prefect integration)."""
    if runner.kind == "threads":
        return ThreadPoolTaskRunner(max_workers=2)
    try:
        if runner.kind == "dask":
            from prefect_dask import DaskTaskRunner  # type: ignore[import-not-found]

            return DaskTaskRunner(address=runner.address) if runner.address else DaskTaskRunner()
        from prefect_ray import RayTaskRunner  # type: ignore[import-not-found]

        return RayTaskRunner(address=runner.address) if runner.address else RayTaskRunner()
    except ImportError:
        raise ConfigError(
            f"runner.kind = {runner.kind!r} needs the prefect-{runner.kind} package: "
            f"pip install prefect-{runner.kind}"
        ) from None


@task(name="discover", task_run_name="discover {source.name}")
def discover_units(source: FilesSource | WarcSource, config: Config) -> list[Unit]:
    return discover(source, config)


@task(name="extract", task_run_name="extract {unit.label}")
def extract_unit(kind: str, unit: Unit, run: pipeline.RunInfo, options: ExtractConfig) -> StagedUnit:
    return pipeline.extract_unit(kind, unit, run, options)


@task(name="commit", task_run_name="commit {staged.label}")
def commit_unit(staged: StagedUnit, run_id: str) -> SourceStats:
    return pipeline.commit_unit(staged, run_id)


def ingest_source(
    runner: TaskRunner, source: FilesSource | WarcSource, config: Config, run: pipeline.RunInfo
) -> SourceStats:
    """One source's task group: discover its units, extract them (in parallel where
    the task runner allows) and commit each as it finishes, so committing one unit overlaps extracting
    the next. Tasks, not a sub-flow: a sub-flow run costs ~1 s of Prefect bookkeeping per source."""
    started = time.monotonic()
    stats = SourceStats()
    try:
        units = discover_units(source, config)
    except SourceError as exc:
        stats.fail(str(exc))
        return pipeline.timed(stats, started)
    progress.report("source_started", source.name, len(units))
    futures = [
        runner.submit(
            extract_unit,
            parameters={"kind": source.kind, "unit": unit, "run": run, "options": config.extract},
        )
        for unit in units
    ]
    for future in as_completed(futures):
        stats.add(commit_unit(future.result(), run.run_id))
    return pipeline.timed(stats, started)


@flow(name="ingest")
def ingest(config_path: str, sources: list[str] | None = None, warehouse: str | None = None) -> RunSummary:
    """Ingest the config's sources (or the named ones) into the warehouse, then rebuild the views."""
    started = time.monotonic()
    config = load_config(config_path)
    selected = config.select(sources)
    store = pipeline.open_warehouse(config, warehouse)
    pool = pipeline.extraction_pool(config.extract)
    threading.Thread(target=pool.start, name="corpus-pool-start", daemon=True).start()  # overlaps set-up
    run = pipeline.begin_run(store, selected)
    pipeline.register(run)
    results: dict[str, SourceStats] = {}
    try:
        with make_task_runner(config.runner) as runner:
            for source in selected:
                try:
                    results[source.name] = ingest_source(runner, source, config, run.info)
                except Exception as exc:  # one failing source never fails another
                    results[source.name] = SourceStats(status="failed", error=f"{type(exc).__name__}: {exc}")
    finally:
        pipeline.finish_run(run, results)
        pipeline.unregister(run)
        close_shared_pool()
    build_views(store)
    return RunSummary(
        run_id=run.info.run_id,
        warehouse=store.uri,
        catalog=store.catalog,
        seconds=round(time.monotonic() - started, 3),
        sources=results,
    )
