"""The two task bodies (Prefect wraps them in ingest.py), as plain functions:

extract a unit:  source kind prepares it (web: fetch) → extraction pool (all cores) → filters
                 → a chunk at a time to the commit (in this process) or to staging (elsewhere)
commit a unit:   what a unit staged → ActiveRun.commit_chunk (dedup → store)
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import cast

from flows import progress
from flows.config import DedupConfig, ExtractConfig
from flows.extract.page import ExtractOptions
from flows.extract.pool import ExtractPool, ReadError, shared_pool
from flows.filters import filtered
from flows.records import (
    SCHEMA_VERSION,
    DocumentRow,
    Extracted,
    RejectRow,
    Skipped,
    SourceStats,
    WorkItem,
    one_line,
)
from flows.runs import ActiveRun, RunRef
from flows.sources import Unit, UnitContext, kind, preload_modules
from flows.sources.inputs import mtime_of
from flows.warehouse import staging
from flows.warehouse.tables import FETCHES, INPUTS

PROGRESS_EVERY = 20  # pages between two progress events


def extraction_pool(options: ExtractConfig, dedup: DedupConfig | None = None) -> ExtractPool:
    """This process's extraction pool for these settings (started on first use)."""
    return shared_pool(
        options.processes, ExtractOptions.of(options, dedup), options.timeout, preload_modules()
    )


def extract_unit(
    unit: Unit,
    run: RunRef,
    options: ExtractConfig,
    dedup: DedupConfig | None = None,
    committer: ActiveRun | None = None,
    turn: Callable[[], bool] | None = None,
) -> staging.StagedUnit:
    """Prepare a unit (web sources: fetch its pages into the raw archive), extract its pages on all cores,
    and pass the outcomes on chunk by chunk: to `committer` when this process commits for the run, else
    to staged files that the commit step reads back (also while `turn` says units before it are not yet
    committed: units commit in discovery order, runs.CommitOrder). Then, after its documents, the unit's
    fetch state (web) or the input files it read completely (local), so a later run knows what it has."""
    warehouse = run.open_warehouse()
    writer = staging.StagingWriter(
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
        work = kind(unit.kind).prepare(unit, UnitContext(run.run_id, warehouse))
        for row in work.rejects:
            writer.add_reject(row)
        skipped = len(work.rejects) + work.unchanged
        if skipped:
            progress.report("pages_done", unit.source, skipped)
        pool = extraction_pool(options, dedup)
        errors = _extract_items(work.items, unit, pool, writer, work.renames, tally)
        if work.done is not None:
            work.done()
        after = {FETCHES.name: work.fetches or [], INPUTS.name: tally.rows()}
        staged = writer.finish(one_line(errors), after)
    finally:
        writer.close()
    staged.unchanged = work.unchanged
    staged.seen += work.unchanged
    return staged


class InputTally:
    """What each input file of a unit gave (pages, documents, rejects, skipped records), for its row in
    `inputs`; a file whose reading broke off is not recorded (the next run reads it again)."""

    def __init__(self, unit: Unit) -> None:
        self.unit = unit
        self.counts = {state.path: [0, 0, 0, 0] for state in unit.inputs}
        self.broken: set[str] = set()

    def add(self, outcome: Extracted) -> None:
        row = outcome.document if outcome.document is not None else outcome.reject
        origin = str(row["origin"] or "") if row is not None else ""
        counts = self.counts.get(origin.rpartition("#")[0] or origin)
        if counts is not None:
            counts[0] += 1
            counts[1 if outcome.document is not None else 2] += 1

    def skipped(self, entry: Skipped) -> None:
        if entry.path in self.counts:
            self.counts[entry.path][3] += entry.records

    def rows(self) -> list[dict[str, object]]:
        """A row per input file read completely; a unit reading a part of a file (a byte range, on a
        cluster) gives a row for it either way, marked with the part, and the commit sums the parts
        (runs.ActiveRun.commit_after)."""
        now = datetime.now(UTC)
        part, parts = getattr(self.unit.spec, "part", 0), getattr(self.unit.spec, "parts", 1)
        return [
            {
                "path": state.path,
                "size": state.size,
                "mtime": mtime_of(state),
                "fingerprint": state.fingerprint,
                "start": state.start,
                "records": counts[0],
                "documents": counts[1],
                "rejects": counts[2],
                "skipped": counts[3],
                "ingested_at": now,
                "schema_version": SCHEMA_VERSION,
                **({"part": (part, parts, state.path in self.broken)} if parts > 1 else {}),
            }
            for state in self.unit.inputs
            if parts > 1 or state.path not in self.broken
            for counts in [self.counts[state.path]]
        ]


def _extract_items(
    items: list[WorkItem],
    unit: Unit,
    pool: ExtractPool,
    writer: staging.StagingWriter,
    renames: dict[str, str],
    tally: InputTally,
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
        if renames:
            _rename_origin(outcome, renames)
        writer.add(filtered(outcome, unit.filters))
        done += 1
        if done % PROGRESS_EVERY == 0:
            progress.report("pages_done", unit.source, PROGRESS_EVERY)
    progress.report("pages_done", unit.source, done % PROGRESS_EVERY)
    return errors


def _rename_origin(outcome: Extracted, renames: dict[str, str]) -> None:
    """Origins of pages read from a local copy of a remote archive file point to the remote file."""
    row = outcome.document if outcome.document is not None else outcome.reject
    if row is None or not row.get("origin"):
        return
    path, _, offset = str(row["origin"]).rpartition("#")
    if path in renames:
        row["origin"] = f"{renames[path]}#{offset}"


def commit_unit(staged: staging.StagedUnit, run: ActiveRun) -> SourceStats:
    """Commit what a unit staged (extraction in another process); chunks committed directly are counted."""
    stats = SourceStats(**staged.counts())
    for chunk in staged.chunks:
        if chunk.after:  # the last chunk of a unit, after its documents
            for table, path in chunk.after.items():
                rows = staging.read_rows(run.warehouse, path)
                for row in rows:
                    if row.get("path") in chunk.parts:
                        row["part"] = chunk.parts[row["path"]]
                run.commit_after(staged.source, table, rows)
            staging.remove(run.warehouse, chunk)
            continue
        documents = cast(list[DocumentRow], staging.read_rows(run.warehouse, chunk.documents))
        rejects = cast(list[RejectRow], staging.read_rows(run.warehouse, chunk.rejects))
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
