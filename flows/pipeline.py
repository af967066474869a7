"""The stages as plain functions (Prefect wraps them in ingest.py): begin a run, extract a unit into
staging, commit staged chunks (dedup → store), finish the run.

    source.read_pages → extract_pool → staging → ExactIndex → warehouse files → views
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime

from filelock import FileLock, Timeout
from pydantic import BaseModel

from flows import progress, quality, staging
from flows.config import AnySource, Config, DedupConfig, ExtractConfig
from flows.dedup import Deduplicator
from flows.documents import SCHEMA_VERSION, Extracted
from flows.extract import ExtractOptions
from flows.extract_pool import ExtractPool, ReadError, shared_pool
from flows.quality import QualityRules
from flows.sources import Unit, location, work_items
from flows.stats import SourceStats
from flows.warehouse import DOCUMENTS, FETCHES, REJECTS, SIGNATURES, Warehouse, new_run_id


class RunInfo(BaseModel):
    """What every task of a run needs to know; serialisable so that it can travel to remote workers."""

    run_id: str
    warehouse: str
    catalog: str

    def open_warehouse(self) -> Warehouse:
        return Warehouse(self.warehouse, self.catalog)


def open_warehouse(config: Config, override: str | None = None) -> Warehouse:
    return Warehouse.of_config(config, override)


# ---- run lifecycle


@dataclass
class OpenRun:
    """State of a run that lives in the process that commits (never shipped to workers)."""

    info: RunInfo
    warehouse: Warehouse
    lock: FileLock
    started_at: datetime
    sources: list[AnySource]
    dedup_options: DedupConfig
    dedup: Deduplicator | None = None
    sequence: int = 0
    commit_lock: threading.Lock = field(default_factory=threading.Lock)
    warehouse_lock: FileLock | None = None
    # Held with the warehouse's file lock around each commit: a Prefect global concurrency slot when a
    # Prefect server is configured, so that runs on other machines (which a local file lock cannot see)
    # take turns too. Always taken after the file lock, so two locks can never deadlock.
    commit_guard: Callable[[], AbstractContextManager[object]] | None = None
    # Called after each commit of documents, outside the locks (the ingest starts indexing them for search).
    after_commit: Callable[[], None] | None = None

    def commit_chunk(self, source: str, documents: list[dict], rejects: list[dict]) -> tuple[int, int]:
        """Dedup documents against the corpus and publish the survivors and the rejects.
        Returns (duplicates, written). Serialised: one chunk at a time, across runs and processes."""
        guard = self.commit_guard() if self.commit_guard is not None else contextlib.nullcontext()
        with self.commit_lock, self._warehouse_lock(), guard:
            if self.dedup is None:
                self.dedup = Deduplicator(self.warehouse, self.dedup_options)
            self.dedup.refresh()  # what other runs committed since
            classified = self.dedup.classify(documents)
            self.sequence += 1
            run_id, seq = self.info.run_id, self.sequence
            written = self.warehouse.write_partitioned(DOCUMENTS, classified.kept, source, run_id, seq)
            signatures = self.dedup.committed(written, classified.pending)
            signed = self.warehouse.write_partitioned(SIGNATURES, signatures, source, run_id, seq)
            self.dedup.seen_signature_files([path for path, _ in signed])
            self.warehouse.write_partitioned(REJECTS, rejects, source, run_id, seq)
        if self.after_commit is not None and classified.kept:
            self.after_commit()
        return classified.duplicates, len(classified.kept)

    def _warehouse_lock(self) -> FileLock:
        if self.warehouse_lock is None:
            self.warehouse_lock = FileLock(self.warehouse.lock_path("commit"))
        return self.warehouse_lock

    def commit_fetches(self, source: str, rows: list[dict]) -> None:
        with self.commit_lock:
            self.sequence += 1
            # no warehouse lock: no other run reads fetch rows while committing
            self.warehouse.write_partitioned(FETCHES, rows, source, self.info.run_id, self.sequence)


def begin_run(warehouse: Warehouse, sources: list[AnySource], dedup: DedupConfig | None = None) -> OpenRun:
    """Recover what crashed runs left behind, then record this run as started."""
    recover_interrupted_runs(warehouse)
    run_id = new_run_id()
    lock = FileLock(warehouse.lock_path(f"run-{run_id}"))
    lock.acquire()
    warehouse.fs.create_dir(warehouse.staging_dir(run_id), recursive=True)
    started = datetime.now(UTC)
    warehouse.write_run_rows(run_id, "start", [_run_row(s, "running", started) for s in sources])
    info = RunInfo(run_id=run_id, warehouse=warehouse.uri, catalog=warehouse.catalog)
    return OpenRun(info, warehouse, lock, started, sources, dedup or DedupConfig())


def source_lock(warehouse: Warehouse, source: str) -> FileLock | None:
    """The source's run lock, acquired; None when a run of that source is still going in another process
    (a scheduled run that overlaps the previous one, or `corpus ingest` by hand during a scheduled run)."""
    lock = FileLock(warehouse.lock_path(f"source-{source}"))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        return None
    return lock


def finish_run(run: OpenRun, results: dict[str, SourceStats]) -> datetime:
    ended = datetime.now(UTC)
    rows = []
    for source in run.sources:
        stats = results.get(source.name) or SourceStats(status="failed", error="not run")
        rows.append(_run_row(source, stats.status, run.started_at, ended, stats))
    run.warehouse.write_run_rows(run.info.run_id, "end", rows)
    run.warehouse.remove_staging(run.info.run_id)
    run.lock.release()
    return ended


def recover_interrupted_runs(warehouse: Warehouse) -> list[str]:
    """Runs whose process died (staging left behind, lock free) are recorded as interrupted and their
    uncommitted staging removed; their committed files stay and dedup keeps re-runs from repeating them."""
    recovered = []
    phases = warehouse.run_phases()
    for run_id in warehouse.staged_runs():
        lock = FileLock(warehouse.lock_path(f"run-{run_id}"))
        try:
            lock.acquire(timeout=0)
        except Timeout:
            continue  # still running in another process
        try:
            if "start" in phases.get(run_id, set()) and "end" not in phases[run_id]:
                rows = warehouse.read_run_rows(run_id, "start")
                now = datetime.now(UTC)
                for row in rows:
                    row.update(status="interrupted", ended_at=now, error="the ingest process stopped early")
                warehouse.write_run_rows(run_id, "end", rows)
            warehouse.remove_staging(run_id)
            warehouse.remove_temp_files(run_id)
            recovered.append(run_id)
        finally:
            lock.release()
    return recovered


def _run_row(
    source: AnySource,
    status: str,
    started: datetime,
    ended: datetime | None = None,
    stats: SourceStats | None = None,
) -> dict:
    stats = stats or SourceStats()
    return {
        "source": source.name,
        "kind": source.kind,
        "location": location(source),
        "status": status,
        "started_at": started,
        "ended_at": ended,
        "seen": stats.seen,
        "extracted": stats.extracted,
        "duplicates": stats.duplicates,
        "rejected": stats.rejected,
        "written": stats.written,
        "unchanged": stats.unchanged,
        "seconds": stats.seconds,
        "error": stats.error,
        "priority": source.priority,
    }


# ---- extract: source pages → worker processes → staged chunks


def extraction_pool(options: ExtractConfig, dedup: DedupConfig | None = None) -> ExtractPool:
    return shared_pool(
        options.processes,
        ExtractOptions(
            favor_precision=options.favor_precision,
            max_bytes=options.max_bytes,
            signature=dedup,
            identical_pages=options.identical_pages,
        ),
        options.timeout,
    )


def extract_unit(
    kind: str, unit: Unit, run: RunInfo, options: ExtractConfig, dedup: DedupConfig | None = None
) -> staging.StagedUnit:
    """Read a unit's pages (web sources: fetch them into the raw archive first), extract them on all
    cores, and commit (or stage) the outcomes chunk by chunk."""
    warehouse = run.open_warehouse()
    local_run = _open_runs.get(run.run_id)  # set when this is the process that commits
    writer = staging.StagingWriter(
        warehouse,
        run.run_id,
        unit.source,
        unit.label,
        local_run.commit_chunk if local_run is not None else None,
        local_run.commit_fetches if local_run is not None else None,
    )
    try:
        crawled = archive = None
        if unit.web is not None:
            crawled, archive, items = _fetch(unit, run, warehouse, writer)
        else:
            items = work_items(kind, unit)
        files = crawled.files if crawled else []
        renames = {f.local_path: f.final_path for f in files if f.local_path != f.final_path}
        errors = _extract_items(items, unit, extraction_pool(options, dedup), writer, renames)
        if archive is not None:
            archive.upload()
        staged = writer.finish("; ".join(errors) or None, crawled.fetches if crawled else None)
    finally:
        writer.close()
    if crawled is not None:
        staged.unchanged = crawled.unchanged
        staged.seen += crawled.unchanged
    return staged


def _fetch(unit: Unit, run: RunInfo, warehouse: Warehouse, writer: staging.StagingWriter) -> tuple:
    """A web unit's pages fetched into the raw archive: (crawl result, archive, work items); the pages
    that could not be fetched are rejects already."""
    from flows.sources import web

    crawled, archive, items = web.fetch(unit, run.run_id, warehouse)
    for row in [*unit.listing_rejects, *crawled.rejects]:
        writer.add_reject(
            {"origin": None, "fetched_at": None, "detail": "", "schema_version": SCHEMA_VERSION, **row}
        )
    skipped = len(unit.listing_rejects) + len(crawled.rejects) + crawled.unchanged
    progress.report("pages_done", unit.source, skipped)
    return crawled, archive, items


def _extract_items(
    items: list, unit: Unit, pool: ExtractPool, writer: staging.StagingWriter, renames: dict[str, str]
) -> list[str]:
    """Every page of the items through the pool into the writer; returns the items' read errors."""
    rules = unit.quality or QualityRules()
    errors = []
    done = 0
    for outcome in pool.map(items, on_input_end=writer.flush_early):
        if isinstance(outcome, ReadError):
            errors.append(outcome.message)
            continue
        if renames:
            _rename_origin(outcome, renames)
        writer.add(_filtered(outcome, rules))
        done += 1
        if done % 20 == 0:
            progress.report("pages_done", unit.source, 20)
    progress.report("pages_done", unit.source, done % 20)
    return errors


def _filtered(outcome: Extracted, rules: QualityRules) -> Extracted:
    """The outcome, or a reject when the document fails the source's quality rules."""
    document = outcome.document
    if document is None:
        return outcome
    failed = quality.check(document, rules)
    if failed is None:
        return outcome
    reason, detail = failed
    return Extracted(
        reject={
            "url": document["url"],
            "reason": reason,
            "detail": detail,
            "origin": document["origin"],
            "fetched_at": document["fetched_at"],
            "schema_version": document["schema_version"],
        }
    )


def _rename_origin(outcome: Extracted, renames: dict[str, str]) -> None:
    """Origins of pages read from a local copy of a remote archive file point to the remote file."""
    row = outcome.document if outcome.document is not None else outcome.reject
    if row is None or not row.get("origin"):
        return
    path, _, offset = row["origin"].rpartition("#")
    if path in renames:
        row["origin"] = f"{renames[path]}#{offset}"


# ---- commit: staged chunks → dedup → published files


_open_runs: dict[str, OpenRun] = {}


def register(run: OpenRun) -> None:
    _open_runs[run.info.run_id] = run


def unregister(run: OpenRun) -> None:
    _open_runs.pop(run.info.run_id, None)


def commit_unit(staged: staging.StagedUnit, run_id: str) -> SourceStats:
    """Commit what a unit staged (extraction on another machine); chunks committed directly are counted."""
    run = _open_runs[run_id]
    stats = SourceStats(
        seen=staged.seen,
        extracted=staged.extracted,
        rejected=staged.rejected,
        duplicates=staged.duplicates,
        written=staged.written,
        unchanged=staged.unchanged,
    )
    for chunk in staged.chunks:
        if chunk.fetches is not None:  # the last chunk of a unit, after its documents
            run.commit_fetches(staged.source, staging.read_rows(run.warehouse, chunk.fetches))
            staging.remove(run.warehouse, chunk)
            continue
        documents = staging.read_rows(run.warehouse, chunk.documents)
        rejects = staging.read_rows(run.warehouse, chunk.rejects)
        duplicates, written = run.commit_chunk(staged.source, documents, rejects)
        stats.duplicates += duplicates
        stats.written += written
        staging.remove(run.warehouse, chunk)
    if staged.error:
        stats.fail(staged.error)
    progress.report("unit_done", staged.source)
    return stats


def timed(stats: SourceStats, started: float) -> SourceStats:
    stats.seconds = round(time.monotonic() - started, 3)
    return stats
