"""Run lifecycle: begin (recover what crashed runs left, record the run as started, take its lock), the
source locks that keep two runs of one source apart, the serialised commit of extracted chunks (dedup →
store, one chunk at a time across runs and processes), finish, and recovery of interrupted runs.

`RunRef` is what every task of a run needs to know, small and serialisable (it travels to Dask/Ray
workers); `ActiveRun` is the run itself, alive only in the process that commits, and passed explicitly to
whatever commits through it.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import Any

from filelock import FileLock, Timeout
from pydantic import BaseModel

from flows.config import DedupConfig, SourceBase
from flows.dedup.deduplicator import Deduplicator
from flows.records import DocumentRow, RejectRow, SourceStats
from flows.sources import location
from flows.warehouse.ids import new_run_id
from flows.warehouse.store import Warehouse
from flows.warehouse.tables import BY_NAME, DOCUMENTS, INPUTS, REJECTS, SIGNATURES


class RunRef(BaseModel):
    """What every task of a run needs to know; serialisable so that it can travel to remote workers."""

    run_id: str
    warehouse_uri: str
    catalog: str

    def open_warehouse(self) -> Warehouse:
        return Warehouse(self.warehouse_uri, self.catalog)


class CommitOrder:
    """Units commit in the order they were discovered, whatever order their extraction finishes in, so that
    which document opens a cluster and which joins it as a copy never depends on timing: unit i commits
    directly only while it is its turn (every unit before it committed); otherwise it stages its chunks,
    and the source's commit loop commits them when it gets there."""

    def __init__(self) -> None:
        self.current = 0  # the unit whose turn it is; advanced by the commit loop only

    def is_turn(self, index: int) -> bool:
        return self.current == index

    def advance(self) -> None:
        self.current += 1


class ActiveRun:
    """A run in the process that commits (never shipped to workers): its lock, its sources, and the
    deduplicator its commits go through. A plain class on purpose: Prefect passes it to tasks as it is."""

    def __init__(
        self,
        ref: RunRef,
        warehouse: Warehouse,
        lock: FileLock,
        started_at: datetime,
        sources: Sequence[SourceBase],
        dedup_config: DedupConfig,
    ) -> None:
        self.ref = ref
        self.warehouse = warehouse
        self.lock = lock
        self.started_at = started_at
        self.sources = list(sources)
        self.dedup_config = dedup_config
        self.deduplicator: Deduplicator | None = None
        self.sequence = 0
        self.commit_lock = threading.Lock()
        self.warehouse_lock: FileLock | None = None
        # Held with the warehouse's file lock around each commit: a Prefect global concurrency slot when a
        # Prefect server is configured, so that runs on other machines (which a local file lock cannot see)
        # take turns too. Always taken after the file lock, so two locks can never deadlock.
        self.commit_guard: Callable[[], AbstractContextManager[object]] | None = None
        # Called after each commit of documents, outside the locks (the ingest starts indexing them for
        # search).
        self.after_commit: Callable[[], None] | None = None
        self.parts_read: dict[str, dict[str, Any]] = {}  # input files read in parts: their sum so far

    def commit_chunk(
        self, source: str, documents: list[DocumentRow], rejects: list[RejectRow]
    ) -> tuple[int, int]:
        """Dedup documents against the corpus and publish the survivors and the rejects.
        Returns (duplicates, written). Serialised: one chunk at a time, across runs and processes."""
        guard = self.commit_guard() if self.commit_guard is not None else contextlib.nullcontext()
        with self.commit_lock, self._warehouse_lock(), guard:
            if self.deduplicator is None:
                self.deduplicator = Deduplicator(self.warehouse, self.dedup_config)
            self.deduplicator.refresh()  # what other runs committed since
            classified = self.deduplicator.classify(documents)
            self.sequence += 1
            run_id, seq = self.ref.run_id, self.sequence
            written = self.warehouse.write_partitioned(DOCUMENTS, classified.kept, source, run_id, seq)
            signatures = self.deduplicator.committed(written, classified.pending)
            signed = self.warehouse.write_partitioned(SIGNATURES, signatures, source, run_id, seq)
            self.deduplicator.seen_signature_files([path for path, _ in signed])
            first = self.deduplicator.rejects.first(source, rejects)  # once per page and reason
            self.warehouse.write_partitioned(REJECTS, first, source, run_id, seq)
        if self.after_commit is not None and classified.kept:
            self.after_commit()
        return classified.duplicates, len(classified.kept)

    def _warehouse_lock(self) -> FileLock:
        if self.warehouse_lock is None:
            self.warehouse_lock = FileLock(self.warehouse.lock_path("commit"))
        return self.warehouse_lock

    def commit_after(self, source: str, table: str, rows: Sequence[Mapping[str, Any]]) -> None:
        """Rows that describe what a unit's documents came from (web fetch state, local input files):
        committed after those documents, so a run that stops in between reads them again next time."""
        if table == INPUTS.name:
            rows = self._whole_files(rows)
            if not rows:
                return
        with self.commit_lock:
            self.sequence += 1
            # no warehouse lock: no other run reads these rows while committing
            self.warehouse.write_partitioned(BY_NAME[table], rows, source, self.ref.run_id, self.sequence)

    def _whole_files(self, rows: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
        """Rows of input files read in parts (byte ranges of one WARC file, each a unit of its own) are
        summed and given with the file's last part, unless a part broke off or never came (then the file
        is not recorded, and the next run reads it again). Parts commit in order (CommitOrder)."""
        ready: list[Mapping[str, Any]] = []
        for row in rows:
            if "part" not in row:
                ready.append(row)
                continue
            part, parts, broken = row["part"]
            whole = {k: v for k, v in row.items() if k != "part"}
            so_far = self.parts_read.pop(row["path"], None)
            if part > 0:
                if so_far is None or so_far["next"] != part:
                    continue  # a part before it is missing: the file is read again next time
                for count in ("records", "documents", "rejects", "skipped"):
                    whole[count] = so_far["row"][count] + row[count]
                broken = broken or so_far["broken"]
            if part + 1 < parts:
                self.parts_read[row["path"]] = {"row": whole, "next": part + 1, "broken": broken}
            elif not broken:
                ready.append(whole)
        return ready


def begin_run(
    warehouse: Warehouse, sources: Sequence[SourceBase], dedup_config: DedupConfig | None = None
) -> ActiveRun:
    """Recover what crashed runs left behind, then record this run as started."""
    recover_interrupted_runs(warehouse)
    run_id = new_run_id()
    lock = FileLock(warehouse.lock_path(f"run-{run_id}"))
    lock.acquire()
    warehouse.fs.create_dir(warehouse.staging_dir(run_id), recursive=True)
    started = datetime.now(UTC)
    warehouse.write_run_rows(run_id, "start", [_run_row(s, "running", started) for s in sources])
    ref = RunRef(run_id=run_id, warehouse_uri=warehouse.uri, catalog=warehouse.catalog)
    return ActiveRun(ref, warehouse, lock, started, sources, dedup_config or DedupConfig())


def source_lock(warehouse: Warehouse, source: str) -> FileLock | None:
    """The source's run lock, acquired; None when a run of that source is still going in another process
    (a scheduled run that overlaps the previous one, or `corpus ingest` by hand during a scheduled run)."""
    lock = FileLock(warehouse.lock_path(f"source-{source}"))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        return None
    return lock


def finish_run(run: ActiveRun, results: dict[str, SourceStats]) -> datetime:
    ended = datetime.now(UTC)
    rows = []
    for source in run.sources:
        stats = results.get(source.name) or SourceStats(status="failed", error="not run")
        rows.append(_run_row(source, stats.status, run.started_at, ended, stats))
    run.warehouse.write_run_rows(run.ref.run_id, "end", rows)
    run.warehouse.remove_staging(run.ref.run_id)
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
    source: SourceBase,
    status: str,
    started: datetime,
    ended: datetime | None = None,
    stats: SourceStats | None = None,
) -> dict[str, Any]:
    stats = stats or SourceStats()
    return {
        "source": source.name,
        "kind": source.kind,
        "location": location(source),
        "status": status,
        "started_at": started,
        "ended_at": ended,
        **stats.counts(),
        "seconds": stats.seconds,
        "error": stats.error,
        "priority": source.priority,
    }
