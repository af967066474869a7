"""The Prefect flows: `ingest` runs one task group per source; each source's work is one task per unit
(a batch of files, a WARC file) for extraction and one per unit for the serialised commit. The work itself
is in pipeline.py (the task bodies) and runs.py (the run's lifecycle); this module only wires them into
Prefect (serve.py and prefect_server.py are the other modules that know about it).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import logging
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager

from prefect import flow, get_client, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate
from prefect.concurrency.sync import concurrency
from prefect.context import FlowRunContext
from prefect.exceptions import MissingContextError, ObjectAlreadyExists, ObjectNotFound
from prefect.settings import get_current_settings
from prefect.task_runners import TaskRunner

from flows import (
    cluster,
    pipeline,
    prefect_settings,  # noqa: F401  (quiet, offline defaults; must precede prefect)
    progress,
    runs,
)
from flows.background import BackgroundRefresh
from flows.config import (
    Config,
    DedupConfig,
    ExtractConfig,
    SourceBase,
    WarcSource,
    load_config,
)
from flows.errors import ConfigError, SourceError
from flows.extract.pool import close_shared_pool
from flows.fetch import robots
from flows.records import RunSummary, SourceStats
from flows.sources import DiscoverContext, Unit, discover, kind
from flows.warehouse import search_index
from flows.warehouse.staging import StagedUnit
from flows.warehouse.store import Warehouse
from flows.warehouse.views import build_views


# The tasks write to the warehouse: never cached (and their inputs need no hashing).
@task(name="discover", task_run_name="discover {source.name}", cache_policy=NO_CACHE)
def discover_units(source: SourceBase, config: Config, context: DiscoverContext) -> list[Unit] | SourceError:
    """The source's units, or what is wrong with it (returned, not raised: a failing task has Prefect log
    a traceback on the console, and a source that cannot be read is one line in the run's summary)."""
    try:
        return discover(source, config, context)
    except SourceError as exc:
        return exc


@task(name="extract", task_run_name="extract {unit.label}", cache_policy=NO_CACHE)
def extract_unit(
    unit: Unit,
    run: runs.RunRef,
    options: ExtractConfig,
    dedup: DedupConfig,
    committer: runs.ActiveRun | None = None,
    turn: Callable[[], bool] | None = None,
) -> StagedUnit:
    return pipeline.extract_unit(unit, run, cluster.worker_extract_options(options), dedup, committer, turn)


@task(name="commit", task_run_name="commit {staged.label}", cache_policy=NO_CACHE)
def commit_unit(staged: StagedUnit, run: runs.ActiveRun) -> SourceStats:
    return pipeline.commit_unit(staged, run)


def ingest_source(
    runner: TaskRunner,
    source: SourceBase,
    config: Config,
    run: runs.ActiveRun,
    full: bool = False,
    slots: int | None = None,
) -> SourceStats:
    """One source's task group: discover its units, extract them (in parallel where the task runner
    allows) and commit them in discovery order (runs.CommitOrder), each as soon as the ones before it are
    committed, so committing one unit overlaps extracting the next and the outcome never depends on
    which unit finishes first. Tasks, not a sub-flow: a sub-flow run costs ~1 s of Prefect bookkeeping
    per source."""
    started = time.monotonic()
    stats = SourceStats()
    units = discover_units(source, config, DiscoverContext(run.warehouse, full, run.ref.run_id, slots))
    if isinstance(units, SourceError):
        stats.fail(str(units))
        return pipeline.timed(stats, started)
    progress.report("source_started", source.name, len(units))
    filters = source.filters()
    # Extraction in this process commits through the run directly; on a cluster it stages files.
    committer = None if cluster.remote(runner) else run
    order = runs.CommitOrder()
    futures = [
        runner.submit(
            extract_unit,
            parameters={
                "unit": dataclasses.replace(unit, filters=filters),
                "run": run.ref,
                "options": config.extract,
                "dedup": config.dedup,
                "committer": committer,
                "turn": functools.partial(order.is_turn, index),
            },
        )
        for index, unit in enumerate(units)
    ]
    with cluster.cancelling(futures):
        for future in futures:
            staged = future.result()
            if committer is None:  # extracted on a worker, whose progress reports go nowhere
                progress.report("pages_done", source.name, staged.seen)
            stats.add(commit_unit(staged, run))
            order.advance()
    return pipeline.timed(stats, started)


@flow(name="ingest")
def ingest(
    config_path: str, sources: list[str] | None = None, warehouse: str | None = None, full: bool = False
) -> RunSummary:
    """Ingest the config's sources (or the named ones) into the warehouse, then rebuild the views. Local
    input files ingested before and unchanged since are skipped, unless `full`."""
    config = load_config(config_path)
    return _run(config, config.select(sources), warehouse, full)


def web_sources(config: Config, sources: list[str] | None) -> list[SourceBase]:
    """The sources reextract works on: the named ones (each must be a web source), else every enabled
    web source."""
    selected = [s for s in config.select(sources) if kind(s.kind).FETCHED]
    if sources and len(selected) < len(sources):
        other = next(n for n in sources if n not in {s.name for s in selected})
        raise ConfigError(
            f"source {other!r} is not a web source (feed, sitemap, urls): run `corpus ingest` for it"
        )
    return selected


@flow(name="reextract")
def reextract(
    config_path: str, sources: list[str] | None = None, warehouse: str | None = None, full: bool = True
) -> RunSummary:
    """Extract the web sources' pages again from the raw archive, without the network. Texts that come out
    different (a newer trafilatura, other extraction settings) are stored as new versions."""
    config = load_config(config_path)
    selected = web_sources(config, sources)
    target = Warehouse.of_config(config, warehouse)
    if not target.local:
        raise ConfigError(f"reextract reads the raw archive from a local warehouse; {target.uri} is remote")
    archived: list[SourceBase] = [
        WarcSource(
            name=s.name,
            kind="warc",
            path=target.path("raw", f"source={s.name}", "*.warc.gz"),
            priority=s.priority,
            **s.filters().model_dump(),
        )
        for s in selected
    ]
    return _run(config, archived, warehouse, full)


def _run(config: Config, selected: list[SourceBase], override: str | None, full: bool = False) -> RunSummary:
    """Run the sources; `override`: a warehouse folder instead of the config's."""
    started = time.monotonic()
    store = Warehouse.of_config(config, override)
    if config.runner.kind == "threads":  # on a cluster the workers extract
        pool = pipeline.extraction_pool(config.extract, config.dedup)
        threading.Thread(target=pool.start, name="corpus-pool-start", daemon=True).start()  # overlaps set-up
    task_runner = cluster.make_task_runner(config.runner)
    run = runs.begin_run(store, selected, config.dedup)
    run.commit_guard = commit_guard(store)
    indexing = BackgroundRefresh(lambda: search_index.refresh(store), "corpus-search-index")
    # The catalog depends on which tables have files, not on the files themselves: built once the run's
    # first files exist, it is usually current at the end, when it is only checked (views.build_views).
    cataloguing = BackgroundRefresh(lambda: build_views(store, only_if_changed=True), "corpus-views")

    def after_commit() -> None:
        indexing.request()
        cataloguing.request()

    run.after_commit = after_commit
    results: dict[str, SourceStats] = {}
    completed = False
    try:
        with task_runner as runner, cluster.reporting_here(runner):
            slots = cluster.prepare_cluster(runner, store) if cluster.remote(runner) else None
            try:
                for source in selected:
                    results[source.name] = _ingest_locked(runner, source, config, run, full, slots)
            finally:
                if cluster.remote(runner):
                    cluster.clean_up(runner)
        completed = True
    finally:
        ended = runs.finish_run(run, results)
        close_shared_pool()
        robots.forget_run(run.ref.run_id)
        try:
            cataloguing.close()
            if completed:  # while the last commit is indexed for search in the background
                build_views(store, only_if_changed=True)
        finally:
            indexing.close()
    _refresh_search(store, indexing.error)
    summary = RunSummary(
        run_id=run.ref.run_id,
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
    runner: TaskRunner, source: SourceBase, config: Config, run: runs.ActiveRun, full: bool, slots: int | None
) -> SourceStats:
    """One source, unless a run of it is still going elsewhere (then: skipped, not doubled)."""
    lock = runs.source_lock(run.warehouse, source.name)
    if lock is None:
        logger().warning("source %s: skipped, a run of it is still going in another process", source.name)
        return SourceStats(status="skipped", error="a run of this source was still going in another process")
    try:
        return ingest_source(runner, source, config, run, full, slots)
    except Exception as exc:  # one failing source never fails another
        return SourceStats(status="failed", error=f"{type(exc).__name__}: {exc}")
    finally:
        lock.release()


def _refresh_search(store: Warehouse, earlier: Exception | None = None) -> None:
    """Index what the run's background refreshes left (at least its last commit); search failing must not
    fail the ingest."""
    try:
        search_index.refresh(store)
    except Exception as exc:
        logger().warning("full-text index not refreshed (corpus search will say why): %s", exc)
        return
    if earlier is not None:  # the final refresh worked: the earlier failure is repaired, but say so
        logger().info("full-text index: a refresh during the run failed (%s); completed at the end", earlier)


def logger() -> logging.Logger | logging.LoggerAdapter[logging.Logger]:
    try:
        return get_run_logger()
    except MissingContextError:
        return logging.getLogger("corpus")


# ---- Prefect server features: a commit slot shared by every machine, a summary artifact per run


def server_configured() -> bool:
    """A Prefect server (or Prefect Cloud) is configured, not the temporary in-process one."""
    return bool(get_current_settings().api.url)


COMMIT_LEASE_SECONDS = 60  # Prefect's minimum


def commit_guard(store: Warehouse) -> Callable[[], AbstractContextManager[object]] | None:
    """For a warehouse on object storage, with a Prefect server: a global concurrency limit of 1 per
    warehouse, held around each commit, so that runs on different machines take turns (each has its own
    local catalog, so its file lock only keeps this machine's runs apart). A warehouse folder needs only
    its file lock: it lives beside the catalog, in that folder, so every machine that shares the folder
    shares the lock. (The slot is not free: acquiring it took ~2 s while the server was busy recording a
    run's task runs, measured on a 160-page run of 16 commits: 26 s with it, 2 s without.)"""
    if store.local or not server_configured():
        return None
    name = "corpus-commit-" + hashlib.blake2b(store.uri.encode(), digest_size=6).hexdigest()
    _ensure_limit(name)
    # The slot's lease is renewed while a commit holds it; a run killed while holding it (SIGKILL, a machine
    # lost) keeps it until the lease expires and the server's repossessor frees it: the shortest lease
    # Prefect allows, so that the next run waits at most about COMMIT_LEASE_SECONDS + 15 s.
    return lambda: concurrency(name, occupy=1, strict=True, lease_duration=COMMIT_LEASE_SECONDS)


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
