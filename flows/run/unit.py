"""Extracting one unit, the body of a run's extraction task, wherever it runs:

    source kind prepares it (web: fetch into the raw archive) → extraction pool (all cores) → filters
    → a chunk at a time to the run's commit (in the run's process) or to staged files (a cluster worker)

What it uses lives on objects handed to it, never in module globals: the `UnitResources` of its process
for the run (the extraction pool, the fetchers' politeness), and the run's commit when it runs in the
run's own process (`Committer`, which Run implements).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from pydantic import BaseModel

from flows.config import DedupConfig, ExtractConfig
from flows.extract.options import ExtractOptions
from flows.extract.pool import ExtractPool, ReadError
from flows.fetch import Politeness
from flows.filters import filtered
from flows.records import SCHEMA_VERSION, DocumentRow, Extracted, RejectRow, Skipped, WorkItem, one_line
from flows.run.progress import Progress
from flows.run.staging import FilePart, StagedUnit, StagingWriter
from flows.sources import Unit, UnitContext, kind, preload_modules
from flows.sources.inputs import mtime_of
from flows.warehouse.store import Warehouse
from flows.warehouse.tables import FETCHES, INPUTS

# Pages between two progress reports: a report per page would cost a call into the watcher (a redraw of
# the CLI's bars) per page; 20 pages are well under a second of extraction.
PROGRESS_EVERY = 20


class RunRef(BaseModel):
    """What every task of a run needs to know of it; serialisable, so that it travels to cluster workers."""

    run_id: str
    warehouse_uri: str
    catalog: str

    def open_warehouse(self) -> Warehouse:
        return Warehouse(self.warehouse_uri, self.catalog)


class Committer(Protocol):
    """The run's commit, for extraction in the run's own process (Run implements it)."""

    def commit_chunk(
        self, source: str, documents: list[DocumentRow], rejects: list[RejectRow]
    ) -> tuple[int, int]: ...

    def commit_after(self, source: str, table: str, rows: Sequence[Mapping[str, Any]]) -> None: ...


class InProcess(Committer, Protocol):
    """The run, to a unit extracted in its own process: its resources, its progress and its commit."""

    resources: UnitResources
    progress: Progress


def extract(
    unit: Unit, ref: RunRef, run: InProcess | None = None, turn: Callable[[], bool] | None = None
) -> StagedUnit:
    """The extraction task's body. In the run's process (`run` given): with the run's pool, committing
    directly while it is the unit's turn (`turn`). On a cluster worker: with the worker's resources for
    the run (run/cluster.py RunOnWorkers), staging the chunks for the run's commit."""
    if run is not None:
        return extract_unit(unit, ref, run.resources, run, turn, run.progress)
    return extract_unit(unit, ref, UnitResources.on_this_worker(ref.run_id))


def worker_plugin_name(run_id: str) -> str:
    """The name of a run's plugin on the workers of a cluster (run/cluster.py RunOnWorkers)."""
    return f"corpus-run-{run_id}"


class UnitResources:
    """What extracting a run's units uses in one process, created for the run and closed with it: the
    extraction pool (one process per core, or per worker thread on a cluster; starting it costs ~1 s, so
    it is started once per run, in the background when asked) and the politeness its fetchers share."""

    def __init__(self, extract: ExtractConfig, dedup: DedupConfig, processes: int | None = None) -> None:
        self.options = ExtractOptions.of(extract, dedup)
        self.processes = extract.processes or processes or 0  # 0: one per core (ExtractPool)
        self.timeout = extract.timeout
        self.politeness = Politeness()
        self._pool: ExtractPool | None = None
        self._lock = threading.Lock()
        self._taken = False  # warmed ahead, then taken by a run (for_run)

    @staticmethod
    def on_this_worker(run_id: str) -> UnitResources:
        """A run's resources on the cluster worker this task runs on (set up by its plugin)."""
        from distributed import get_worker

        resources = getattr(get_worker().plugins.get(worker_plugin_name(run_id)), "resources", None)
        if not isinstance(resources, UnitResources):
            raise RuntimeError(f"run {run_id}: its plugin is not set up on this worker")
        return resources

    @classmethod
    def for_run(cls, extract: ExtractConfig, dedup: DedupConfig) -> UnitResources:
        """The resources warmed for this run (`warming`) when their settings are the run's, else new."""
        warmed = _WARMED.get()
        if warmed is not None and not warmed._taken:
            candidate = cls(extract, dedup)
            if (warmed.options, warmed.processes, warmed.timeout) == (
                candidate.options,
                candidate.processes,
                candidate.timeout,
            ):
                warmed._taken = True
                return warmed
            return candidate
        return cls(extract, dedup)

    def pool(self) -> ExtractPool:
        with self._lock:
            if self._pool is None:
                self._pool = ExtractPool(self.processes, self.options, self.timeout, preload_modules())
            return self._pool

    def start_pool(self) -> None:
        """Start the pool's processes in a thread of their own, overlapping whatever the run does first."""
        threading.Thread(target=lambda: self.pool().start(), name="corpus-pool-start", daemon=True).start()

    def close(self) -> None:
        with self._lock:
            if self._pool is not None:
                self._pool.close()
                self._pool = None


# Resources warmed ahead of the run that will use them (`warming`): the CLI starts the extraction pool
# before it imports Prefect and creates the flow run (~1.5 s), so that the pool's processes start on the
# other cores meanwhile instead of after the run has begun.
_WARMED: ContextVar[UnitResources | None] = ContextVar("corpus_warmed_resources", default=None)


@contextlib.contextmanager
def warming(extract: ExtractConfig, dedup: DedupConfig) -> Iterator[None]:
    """Start an extraction pool now for the run begun inside the block (UnitResources.for_run takes it);
    closed on the way out, whether a run took it or not."""
    resources = UnitResources(extract, dedup)
    resources.start_pool()
    token = _WARMED.set(resources)
    try:
        yield
    finally:
        _WARMED.reset(token)
        resources.close()


def extract_unit(
    unit: Unit,
    run: RunRef,
    resources: UnitResources,
    committer: Committer | None = None,
    turn: Callable[[], bool] | None = None,
    progress: Progress | None = None,
) -> StagedUnit:
    """Prepare a unit (web sources: fetch its pages into the raw archive), extract its pages on all cores,
    and pass the outcomes on chunk by chunk: to `committer` when this process commits for the run, else
    to staged files that the commit step reads back (also while `turn` says units before it are not yet
    committed: units commit in discovery order, CommitOrder). Then, after its documents, the unit's
    fetch state (web) or the input files it read completely (local), so a later run knows what it has."""
    progress = progress or Progress()
    warehouse = run.open_warehouse()
    writer = StagingWriter(
        warehouse,
        run.run_id,
        unit.source,
        unit.label,
        committer.commit_chunk if committer is not None else None,
        committer.commit_after if committer is not None else None,
        turn,
    )
    tally = InputTally(unit)
    try:
        context = UnitContext(
            run.run_id,
            warehouse,
            resources.politeness,
            lambda count: progress.pages_fetched(unit.source, count),
        )
        work = kind(unit.kind).prepare(unit, context)
        for row in work.rejects:
            writer.add_reject(row)
        progress.pages_done(unit.source, len(work.rejects) + work.unchanged)
        errors = _extract_items(
            work.items, unit, resources.pool(), writer, _placing(work.renames, warehouse), tally, progress
        )
        if work.done is not None:
            work.done()
        after = {FETCHES.name: work.fetches or [], INPUTS.name: tally.rows()}
        staged = writer.finish(one_line(errors), after)
    finally:
        writer.close()
    staged.unchanged = work.unchanged
    staged.fetched = len(work.fetches or [])
    staged.seen += work.unchanged
    return staged


@dataclass
class InputCounts:
    """What one input file gave a unit."""

    records: int = 0  # pages read from it
    documents: int = 0  # of which extracted
    rejects: int = 0  # of which rejected
    skipped: int = 0  # archive records that are not HTTP responses


class InputTally:
    """What each input file of a unit gave, for its row in `inputs`; a file whose reading broke off is not
    recorded (the next run reads it again)."""

    def __init__(self, unit: Unit) -> None:
        self.unit = unit
        self.counts = {state.path: InputCounts() for state in unit.inputs}
        self.broken: set[str] = set()

    def add(self, outcome: Extracted) -> None:
        row = outcome.document if outcome.document is not None else outcome.reject
        origin = str(row["origin"] or "") if row is not None else ""
        counts = self.counts.get(origin.rpartition("#")[0] or origin)
        if counts is not None:
            counts.records += 1
            if outcome.document is not None:
                counts.documents += 1
            else:
                counts.rejects += 1

    def skipped(self, entry: Skipped) -> None:
        if entry.path in self.counts:
            self.counts[entry.path].skipped += entry.records

    def rows(self) -> list[dict[str, Any]]:
        """A row per input file read completely; a unit reading a part of a file (a byte range, on a
        cluster) gives a row for it either way, marked with its FilePart, and the commit sums the parts
        (Run.commit_after)."""
        now = datetime.now(UTC)
        part, parts = getattr(self.unit.spec, "part", 0), getattr(self.unit.spec, "parts", 1)
        return [
            {
                "path": state.path,
                "size": state.size,
                "mtime": mtime_of(state),
                "fingerprint": state.fingerprint,
                "start": state.start,
                "records": counts.records,
                "documents": counts.documents,
                "rejects": counts.rejects,
                "skipped": counts.skipped,
                "ingested_at": now,
                "schema_version": SCHEMA_VERSION,
                **({"part": FilePart(part, parts, state.path in self.broken)} if parts > 1 else {}),
            }
            for state in self.unit.inputs
            if parts > 1 or state.path not in self.broken
            for counts in [self.counts[state.path]]
        ]


def _extract_items(
    items: list[WorkItem],
    unit: Unit,
    pool: ExtractPool,
    writer: StagingWriter,
    place: Callable[[str], str],
    tally: InputTally,
    progress: Progress,
) -> list[str]:
    """Every page of the items through the pool into the writer; returns the items' read errors."""
    errors = []
    done = 0
    for outcome in pool.map(items, on_input_end=writer.flush_early):
        if isinstance(outcome, ReadError):
            errors.append(outcome.message)
            # the file it names, or every file of the unit when it names none (a worker that died)
            tally.broken.update([outcome.path] if outcome.path is not None else tally.counts)
            continue
        if isinstance(outcome, Skipped):
            writer.unit.skipped += outcome.records
            tally.skipped(outcome)
            continue
        tally.add(outcome)
        _place_origin(outcome, place)
        writer.add(filtered(outcome, unit.filters))
        done += 1
        if done % PROGRESS_EVERY == 0:
            progress.pages_done(unit.source, PROGRESS_EVERY)
    progress.pages_done(unit.source, done % PROGRESS_EVERY)
    return errors


def _placing(renames: dict[str, str], warehouse: Warehouse) -> Callable[[str], str]:
    """Where an origin's file is, as the tables say it: a local copy of a remote archive file named by
    the remote file, a file inside the warehouse relative to it (Warehouse.relative)."""

    def place(path: str) -> str:
        return warehouse.relative(renames.get(path, path))

    return place


def _place_origin(outcome: Extracted, place: Callable[[str], str]) -> None:
    row: DocumentRow | RejectRow | None = outcome.document if outcome.document is not None else outcome.reject
    if row is None or not row.get("origin"):
        return
    path, hash_, offset = str(row["origin"]).rpartition("#")
    if hash_ and offset.isdigit():
        row["origin"] = f"{place(path)}#{offset}"
    else:
        row["origin"] = place(str(row["origin"]))
