"""The Prefect flow: `ingest` runs one task group per source; each source's work is one task per unit
(a batch of files, a WARC file) for extraction and one per unit for the serialised commit. This is the
only module that knows about Prefect; the work itself is in pipeline.py.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager

from prefect import flow, get_client, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
from prefect.concurrency.sync import concurrency
from prefect.context import FlowRunContext
from prefect.exceptions import MissingContextError, ObjectAlreadyExists, ObjectNotFound
from prefect.futures import as_completed
from prefect.settings import get_current_settings
from prefect.task_runners import TaskRunner, ThreadPoolTaskRunner

from flows import (
    pipeline,
    prefect_settings,  # noqa: F401  (quiet, offline defaults; must precede prefect)
    progress,
    quality,
    search,
)
from flows.background import BackgroundRefresh
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
from flows.warehouse import Warehouse
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
    run.commit_guard = commit_guard(store)
    indexing = BackgroundRefresh(lambda: search.refresh(store), "corpus-search-index")
    # The catalog depends on which tables have files, not on the files themselves: built once the run's
    # first files exist, it is usually current at the end, when it is only checked (views.build_views).
    cataloguing = BackgroundRefresh(lambda: build_views(store, only_if_changed=True), "corpus-views")

    def after_commit() -> None:
        indexing.request()
        cataloguing.request()

    run.after_commit = after_commit
    pipeline.register(run)
    results: dict[str, SourceStats] = {}
    completed = False
    try:
        with make_task_runner(config.runner) as runner:
            for source in selected:
                results[source.name] = _ingest_locked(runner, source, config, run)
        completed = True
    finally:
        ended = pipeline.finish_run(run, results)
        pipeline.unregister(run)
        close_shared_pool()
        robots.forget_run(run.info.run_id)
        try:
            cataloguing.close()
            if completed:  # while the last commit is indexed for search in the background
                build_views(store, only_if_changed=True)
        finally:
            indexing.close()
    _refresh_search(store, indexing.error)
    summary = RunSummary(
        run_id=run.info.run_id,
        warehouse=store.uri,
        catalog=store.catalog,
        seconds=round(time.monotonic() - started, 3),
        sources=results,
        started_at=run.started_at,
        ended_at=ended,
    )
    _publish_artifact(summary)
    return summary


def _ingest_locked(
    runner: TaskRunner, source: AnySource, config: Config, run: pipeline.OpenRun
) -> SourceStats:
    """One source, unless a run of it is still going elsewhere (then: skipped, not doubled)."""
    lock = pipeline.source_lock(run.warehouse, source.name)
    if lock is None:
        logger().warning("source %s: skipped, a run of it is still going in another process", source.name)
        return SourceStats(status="skipped", error="a run of this source was still going in another process")
    try:
        return ingest_source(runner, source, config, run.info)
    except Exception as exc:  # one failing source never fails another
        return SourceStats(status="failed", error=f"{type(exc).__name__}: {exc}")
    finally:
        lock.release()


def _refresh_search(store: Warehouse, earlier: Exception | None = None) -> None:
    """Index what the run's background refreshes left (at least its last commit); search failing must not
    fail the ingest."""
    try:
        search.refresh(store)
    except Exception as exc:
        logger().warning("full-text index not refreshed (corpus search will say why): %s", exc)
        return
    if earlier is not None:  # the final refresh worked: the earlier failure is repaired, but say so
        logger().info("full-text index: a refresh during the run failed (%s); completed at the end", earlier)


def logger() -> logging.Logger | logging.LoggerAdapter:
    try:
        return get_run_logger()
    except MissingContextError:
        return logging.getLogger("corpus")


# ---- Prefect server features: a commit slot shared by every machine, a summary artifact per run


def server_configured() -> bool:
    """A Prefect server (or Prefect Cloud) is configured, not the temporary in-process one."""
    return bool(get_current_settings().api.url)


def commit_guard(store: Warehouse) -> Callable[[], AbstractContextManager[object]] | None:
    """With a Prefect server: a global concurrency limit of 1 per warehouse, held around each commit, so
    that runs on different machines sharing an object-store warehouse take turns. Without one the
    warehouse's file lock is enough (every run is on this machine)."""
    if not server_configured():
        return None
    name = "corpus-commit-" + hashlib.blake2b(store.uri.encode(), digest_size=6).hexdigest()
    _ensure_limit(name)
    return lambda: concurrency(name, occupy=1, strict=True)


def _ensure_limit(name: str) -> None:
    with get_client(sync_client=True) as client:
        try:
            client.read_global_concurrency_limit_by_name(name)
            return
        except ObjectNotFound:
            pass
        with contextlib.suppress(ObjectAlreadyExists):  # another run created it meanwhile
            client.create_global_concurrency_limit(GlobalConcurrencyLimitCreate(name=name, limit=1))


def _publish_artifact(summary: RunSummary) -> None:
    """The run's table as a Prefect markdown artifact (keyed by source, so the UI shows its history)."""
    if FlowRunContext.get() is None:
        return
    names = list(summary.sources)
    key = f"ingest-{names[0]}" if len(names) == 1 else "ingest-all"
    try:
        create_markdown_artifact(markdown=summary.markdown(), key=key[:64], description="corpus ingest run")
    except Exception as exc:  # the data is committed; a missing artifact must not fail the run
        logger().warning("could not publish the run's artifact: %s", exc)
