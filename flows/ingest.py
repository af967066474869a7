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
    quality,
)
from flows.config import (
    WEB_KINDS,
    AnySource,
    Config,
    ConfigError,
    DedupConfig,
    ExtractConfig,
    RunnerConfig,
    WarcSource,
    load_config,
)
from flows.extract_pool import close_shared_pool
from flows.sources import SourceError, Unit, discover
from flows.staging import StagedUnit
from flows.stats import RunSummary, SourceStats
from flows.views import build_views
from flows.web import robots


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
def discover_units(source: AnySource, config: Config) -> list[Unit]:
    return discover(source, config)


@task(name="extract", task_run_name="extract {unit.label}")
def extract_unit(
    kind: str, unit: Unit, run: pipeline.RunInfo, options: ExtractConfig, dedup: DedupConfig
) -> StagedUnit:
    return pipeline.extract_unit(kind, unit, run, options, dedup)


@task(name="commit", task_run_name="commit {staged.label}")
def commit_unit(staged: StagedUnit, run_id: str) -> SourceStats:
    return pipeline.commit_unit(staged, run_id)


def ingest_source(
    runner: TaskRunner, source: AnySource, config: Config, run: pipeline.RunInfo
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
    rules = quality.rules_of(source)
    futures = [
        runner.submit(
            extract_unit,
            parameters={
                "kind": source.kind,
                "unit": unit.model_copy(update={"quality": rules}),
                "run": run,
                "options": config.extract,
                "dedup": config.dedup,
            },
        )
        for unit in units
    ]
    for future in as_completed(futures):
        stats.add(commit_unit(future.result(), run.run_id))
    return pipeline.timed(stats, started)


@flow(name="ingest")
def ingest(config_path: str, sources: list[str] | None = None, warehouse: str | None = None) -> RunSummary:
    """Ingest the config's sources (or the named ones) into the warehouse, then rebuild the views."""
    config = load_config(config_path)
    return _run(config, config.select(sources), warehouse)


@flow(name="reextract")
def reextract(config_path: str, sources: list[str] | None = None, warehouse: str | None = None) -> RunSummary:
    """Extract the web sources' pages again from the raw archive, without the network. Texts that come out
    different (a newer trafilatura, other extraction settings) are stored as new versions."""
    config = load_config(config_path)
    selected = [s for s in config.select(sources) if s.kind in WEB_KINDS]
    if sources and len(selected) < len(sources):
        other = next(n for n in sources if n not in {s.name for s in selected})
        raise ConfigError(
            f"source {other!r} is not a web source (feed, sitemap, urls): run `corpus ingest` for it"
        )
    store = pipeline.open_warehouse(config, warehouse)
    if not store.local:
        raise ConfigError(f"reextract reads the raw archive from a local warehouse; {store.uri} is remote")
    archived = [
        WarcSource(
            name=s.name,
            kind="warc",
            path=store.path("raw", f"source={s.name}", "*.warc.gz"),
            priority=s.priority,
            min_words=s.min_words,
            languages=s.languages,
            articles_only=s.articles_only,
        )
        for s in selected
    ]
    return _run(config, archived, warehouse)


def _run(config: Config, selected: list[AnySource], warehouse: str | None) -> RunSummary:
    started = time.monotonic()
    store = pipeline.open_warehouse(config, warehouse)
    pool = pipeline.extraction_pool(config.extract, config.dedup)
    threading.Thread(target=pool.start, name="corpus-pool-start", daemon=True).start()  # overlaps set-up
    run = pipeline.begin_run(store, selected, config.dedup)
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
        robots.forget_run(run.info.run_id)
    build_views(store)
    return RunSummary(
        run_id=run.info.run_id,
        warehouse=store.uri,
        catalog=store.catalog,
        seconds=round(time.monotonic() - started, 3),
        sources=results,
    )
