"""Extraction outcomes, a chunk at a time, on their way to the commit step.

When extraction runs in the process that commits (the default, threads task runner) and every unit before
this one is committed, each chunk is handed to a committer thread as soon as it is full, so committing
overlaps extracting and the loop that feeds the extraction workers never waits for a commit (one takes
~0.5 s). Otherwise (a unit whose predecessors are still extracting; a Dask worker), chunks are written as
small Parquet files under _staging/<run_id>/ and the serialised commit step reads them back one at a time,
unit after unit in discovery order (Run.commit). Either way no side holds more than a few chunks in memory,
and documents reach de-duplication in one order whatever finishes first.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple

import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import BaseModel, Field

from flows.config import COMMIT_CHUNK_DOCUMENTS
from flows.records import Counts, DocumentRow, Extracted, RejectRow
from flows.warehouse.store import Warehouse
from flows.warehouse.tables import BY_NAME, DOCUMENT_SCHEMA, REJECT_SCHEMA

# Staged documents keep their near-duplicate band and paragraph hashes until the commit step has used them.
STAGED_DOCUMENT_SCHEMA = DOCUMENT_SCHEMA.append(pa.field("bands", pa.list_(pa.uint32()))).append(
    pa.field("paragraphs", pa.list_(pa.uint32()))
)


class FilePart(NamedTuple):
    """An input file read in parts (byte ranges of one WARC file, each a unit on a cluster): which part a
    unit read, of how many, and whether its reading broke off. The commit sums the parts' `inputs` rows
    into the file's row (Run.commit_after)."""

    part: int
    parts: int
    broken: bool


class StagedChunk(BaseModel):
    documents: str | None = None
    rejects: str | None = None
    after: dict[str, str] = Field(default_factory=dict)  # table → rows committed after the unit's documents
    # input files this unit read a part of, kept beside the staged rows because a staged file holds the
    # table's columns only
    parts: dict[str, FilePart] = Field(default_factory=dict)


class StagedUnit(Counts):
    """What a unit's extraction passed on: its counts (duplicates and written: of the chunks committed
    directly) and the chunks staged for the commit step."""

    source: str
    label: str
    chunks: list[StagedChunk] = Field(default_factory=list)
    error: str | None = None
    fetched: int = 0  # pages it fetched (web), for the progress of a run whose units extract elsewhere
    reasons: dict[str, int] = Field(default_factory=dict)  # rejected pages by reason


# Commits rows that must follow a unit's documents (fetch state, input files): (source, table, rows).
CommitAfter = Callable[[str, str, Sequence[Mapping[str, Any]]], None]
# Commits one chunk (documents, rejects) and returns (duplicates, written).
CommitChunk = Callable[[str, list[DocumentRow], list[RejectRow]], tuple[int, int]]


class _Committer:
    """Runs `commit` on chunks in a thread of its own, one at a time and in order. At most one chunk waits
    while another commits, so memory stays at a few chunks; a failed commit is raised by the next `submit`
    or by `drain`."""

    def __init__(self, commit: CommitChunk, name: str) -> None:
        self.commit = commit
        self.duplicates = self.written = 0
        self.error: BaseException | None = None
        self._chunks: queue.Queue[tuple[str, list[DocumentRow], list[RejectRow]] | None] = queue.Queue(
            maxsize=1
        )
        self._thread = threading.Thread(target=self._loop, name=f"corpus-commit-{name}", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while (chunk := self._chunks.get()) is not None:
            if self.error is not None:
                continue  # a commit failed: the rest is not committed (the run reports the error)
            try:
                duplicates, written = self.commit(*chunk)
            except BaseException as exc:
                self.error = exc
                continue
            self.duplicates += duplicates
            self.written += written

    def submit(self, source: str, documents: list[DocumentRow], rejects: list[RejectRow]) -> None:
        self._raise()
        self._chunks.put((source, documents, rejects))

    def drain(self) -> None:
        """Wait for every submitted chunk to be committed; raise the first commit error."""
        self.close()
        self._raise()

    def close(self) -> None:
        if self._thread.is_alive():
            self._chunks.put(None)
            self._thread.join()

    def _raise(self) -> None:
        if self.error is not None:
            raise self.error


class StagingWriter:
    """Collects extraction outcomes of one unit and passes them on a chunk at a time: to `commit` (in a
    committer thread) when given and `may_commit` says it is the unit's turn, else to staged Parquet files
    (which the commit step reads in the units' order). Once a unit has staged a chunk, the rest of it is
    staged too, so that its chunks are committed in order. `finish` or `close` must be called."""

    def __init__(
        self,
        warehouse: Warehouse,
        run_id: str,
        source: str,
        label: str,
        commit: CommitChunk | None = None,
        commit_after: CommitAfter | None = None,
        may_commit: Callable[[], bool] | None = None,
    ) -> None:
        self.commit = commit
        self.commit_after = commit_after
        self.may_commit = may_commit
        self.warehouse = warehouse
        self.run_id = run_id
        self.folder = warehouse.staging_dir(run_id)
        self.name = label.replace("#", "-")
        self.unit = StagedUnit(source=source, label=label)
        self.documents: list[DocumentRow] = []
        self.rejects: list[RejectRow] = []
        self._committer: _Committer | None = None

    def add(self, outcome: Extracted) -> None:
        self.unit.seen += 1
        if outcome.document is not None:
            self.unit.extracted += 1
            self.documents.append({**outcome.document, "run_id": self.run_id})
            if len(self.documents) >= COMMIT_CHUNK_DOCUMENTS:
                self.flush()
        else:
            self.unit.rejected += 1
            assert outcome.reject is not None
            reason = outcome.reject["reason"]
            self.unit.reasons[reason] = self.unit.reasons.get(reason, 0) + 1
            self.rejects.append({**outcome.reject, "run_id": self.run_id})

    def add_reject(self, row: RejectRow) -> None:
        """A page that never reached extraction (a fetch that failed)."""
        self.add(Extracted(reject=row))

    def flush_early(self) -> None:
        """Pass on a chunk at least half full now, though it is not full: called when the last pages of a
        unit are being extracted, so that its commit overlaps them rather than following them (at the end
        of a run the last commit is otherwise waited for: ~0.5 s). Smaller chunks are left for `finish`,
        so that small units (a batch of files) still commit once."""
        if len(self.documents) >= COMMIT_CHUNK_DOCUMENTS // 2:
            self.flush()

    def flush(self) -> None:
        if not self.documents and not self.rejects:
            return
        if self._direct() and self.commit is not None:
            if self._committer is None:
                self._committer = _Committer(self.commit, self.name)
            self._committer.submit(self.unit.source, self.documents, self.rejects)
            self.documents, self.rejects = [], []
            return
        number = len(self.unit.chunks)
        chunk = StagedChunk(
            documents=self._write(
                f"{self.name}-{number:05d}-documents", self.documents, STAGED_DOCUMENT_SCHEMA
            ),
            rejects=self._write(f"{self.name}-{number:05d}-rejects", self.rejects, REJECT_SCHEMA),
        )
        self.unit.chunks.append(chunk)
        self.documents, self.rejects = [], []

    def _direct(self) -> bool:
        """Commit now rather than stage: this process commits, it is this unit's turn (every unit before it
        is committed), and nothing of this unit waits in staged files."""
        return (
            self.commit is not None
            and not self.unit.chunks
            and (self.may_commit is None or self.may_commit())
        )

    def _write(self, name: str, rows: Sequence[Mapping[str, Any]], schema: pa.Schema) -> str | None:
        if not rows:
            return None
        path = f"{self.folder}/{name}.parquet"
        self.warehouse.publish(pa.Table.from_pylist(rows, schema=schema), path)
        return path

    def finish(
        self, error: str | None = None, after: dict[str, list[dict[str, Any]]] | None = None
    ) -> StagedUnit:
        """Pass on the last chunk; then the fetch state rows, which must never be committed before the
        documents they describe (a re-run would take the page as unchanged and skip it)."""
        self.flush()
        if self._committer is not None:
            self._committer.drain()
            self.unit.duplicates += self._committer.duplicates
            self.unit.written += self._committer.written
            self._committer = None
        self.unit.error = error
        staged: dict[str, str] = {}
        parts: dict[str, FilePart] = {}
        for table_name, table_rows in (after or {}).items():
            if not table_rows:
                continue
            rows = [{**row, "run_id": self.run_id} for row in table_rows]
            if self.commit_after is not None and self._direct():
                self.commit_after(self.unit.source, table_name, rows)
            else:
                parts.update((row["path"], row.pop("part")) for row in rows if "part" in row)
                path = self._write(f"{self.name}-{table_name}", rows, BY_NAME[table_name].schema)
                staged[table_name] = str(path)
        if staged:
            self.unit.chunks.append(StagedChunk(after=staged, parts=parts))
        return self.unit

    def close(self) -> None:
        """Stop the committer thread after what was submitted (on the way out of a failed unit)."""
        if self._committer is not None:
            self._committer.close()
            self._committer = None


def read_rows(warehouse: Warehouse, path: str | None) -> list[dict[str, Any]]:
    if path is None:
        return []
    rows: list[dict[str, Any]] = pq.read_table(path, filesystem=warehouse.fs).to_pylist()
    return rows


def remove(warehouse: Warehouse, chunk: StagedChunk) -> None:
    for path in (chunk.documents, chunk.rejects, *chunk.after.values()):
        if path is not None:
            warehouse.fs.delete_file(path)
