"""De-duplication across runs, at commit time: exact (exact.py: the same version of a page is stored once;
the same text under another URL is a copy) and near (near.py: the same article syndicated, edited, cut
short).

Every stored document belongs to a cluster whose id is the doc_id of its first document. What is stored is
known from the dedup index on disk (index.py), derived from the committed Parquet files: a commit records
its rows there once its files are published, and files that other processes (or a run that crashed before
recording) committed are absorbed before the next batch is classified. The commit step is serialised
across processes (a file lock), so two overlapping runs cannot open two clusters for one article.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from flows.config import DedupConfig
from flows.dedup.exact import ExactIndex, SeenRejects, Verdict, absorb_documents, keys_of, rejects_part
from flows.dedup.index import Absorption, DedupIndex
from flows.dedup.near import Member, NearIndex, ParagraphCounts
from flows.records import DocumentRow
from flows.warehouse.ids import first16, hex64
from flows.warehouse.store import Warehouse
from flows.warehouse.tables import DOCUMENTS, REJECTS, SIGNATURES, Table

LOGGER = logging.getLogger("corpus.dedup")
_BATCH = 16_384  # Parquet rows read at a time when absorbing (a signature row stages ~80 index rows)
_LARGE = 100_000  # absorbing more rows than this is a migration or a catch-up worth a line in the log


def open_index(warehouse: Warehouse, options: DedupConfig) -> DedupIndex:
    """The warehouse's dedup index (beside its catalog), made for these signature settings. It names the
    warehouse's files relative to its root: which warehouse it belongs to is told by its files."""
    fingerprint = {
        "bands": options.bands,
        "num_perm": options.num_perm,
        "lead_bands": options.lead_bands,
        "lead_words": options.lead_words,
        "shingle_words": options.shingle_words,
        "paragraph_slots": ParagraphCounts.SIZE,
    }
    return DedupIndex(warehouse.dedup_index, fingerprint, options.index_memory, warehouse.root)


@dataclass
class Classified:
    kept: list[DocumentRow] = field(default_factory=list)  # to store, with duplicate_of/cluster_id/similarity
    duplicates: int = 0  # rows already stored, exact copies and near copies
    restated: list[DocumentRow] = field(default_factory=list)  # pages whose very document is stored already
    # new index members (no file yet), with their band hashes and paragraph hashes
    pending: list[tuple[Member, list[int], list[int]]] = field(default_factory=list)


class Deduplicator:
    def __init__(
        self,
        warehouse: Warehouse,
        options: DedupConfig,
        index: DedupIndex | None = None,
        log: Callable[[str], object] | None = None,
    ) -> None:
        self.warehouse = warehouse
        self.options = options
        self.log = log or LOGGER.info  # the run's log (the CLI's console, the flow run's logs in Prefect)
        self.index = index if index is not None else open_index(warehouse, options)
        self.exact = ExactIndex(self.index)
        self.rejects = SeenRejects(warehouse, self.index)
        self.near = NearIndex(options, warehouse.read_text, self.index) if options.near else None

    def close(self) -> None:
        self.index.close()

    def refresh(self, merged: Collection[str] = frozenset()) -> None:
        """Absorb the files committed since the index last recorded (by other processes, or by a run that
        stopped between publishing and recording). Files that are gone were merged by `compact` when it
        says so (`merged`: the files it replaced, whose rows are in the new files, absorbed now); any other
        file gone means documents were removed from the warehouse: the index is rebuilt from the files
        there are."""
        tables = [DOCUMENTS, SIGNATURES] if self.near is not None else [DOCUMENTS]
        new: dict[str, list[str]] = {}
        gone: list[str] = []
        for table in tables:
            listed = self.warehouse.files_of(table)
            absorbed = self.index.absorbed(table.name)
            new[table.name] = sorted(listed - absorbed)
            gone += sorted(absorbed - listed)
        if any(path not in merged for path in gone):
            self.log(
                f"dedup index {self.index.path}: {len(gone):,} stored files were removed from the "
                "warehouse; rebuilding it from the files there are"
            )
            self.index.reset()
            self.exact.recorded()
            if self.near is not None:
                self.near.recorded()
            new = {table.name: sorted(self.warehouse.files_of(table)) for table in tables}
            gone = []
        if not gone and not any(new.values()):
            return
        rows = sum(_rows_in(self.warehouse, paths) for paths in new.values())
        large = rows > _LARGE
        if large:
            self.log(
                f"dedup index {self.index.path}: recording {rows:,} stored rows from "
                f"{sum(map(len, new.values())):,} files (once: a first run on an existing warehouse, or "
                "files committed elsewhere)"
            )
        done, step = 0, max(rows // 10, 1)
        with self.index.building() if self.index.empty() else self.index.absorbing() as absorption:
            for table in tables:
                for path in new[table.name]:
                    for batch in _batches(self.warehouse, table, path):
                        self._absorb(absorption, table, batch)
                        if large and (done + batch.num_rows) // step > done // step:
                            self.log(f"dedup index: {done + batch.num_rows:,} of {rows:,} rows read")
                        done += batch.num_rows
                    absorption.file(path, table.name)
            absorption.gone(gone)
            if large:
                self.log("dedup index: writing it in key order")
        if large:
            self.log("dedup index: done")
        if self.near is not None:
            self.near.paragraphs.reread()

    def _absorb(self, absorption: Absorption, table: Table, rows: pa.Table) -> None:
        if table is DOCUMENTS:
            absorb_documents(absorption, rows)
        else:
            assert self.near is not None
            _absorb_signatures(absorption, rows, self.options)

    def classify(self, rows: list[DocumentRow]) -> Classified:
        """Decide each row's fate and cluster; rows carry `bands` and `paragraphs` from the workers when
        near is on (both popped here; paragraphs are worked out here when missing)."""
        result = Classified()
        self.exact.prefetch([row["doc_id"] for row in rows], [row["content_hash"] for row in rows])
        for row in rows:
            bands = row.pop("bands", None) or []
            paragraph_hashes = row.pop("paragraphs", None)
            verdict, first = self.exact.check(row["doc_id"], row["content_hash"])
            if verdict is Verdict.STORED:
                result.duplicates += 1
                result.restated.append(row)
                continue
            if verdict is Verdict.COPY:
                assert first is not None
                row["duplicate_of"], row["cluster_id"], row["similarity"] = first[0], first[1], 1.0
                self.exact.record(row["doc_id"], row["content_hash"], first[1])
                result.duplicates += 1
                result.kept.append(row)
                continue
            cluster = row["doc_id"]
            row["duplicate_of"], row["cluster_id"], row["similarity"] = None, cluster, None
            if self.near is not None:
                placement, paragraphs = self.near.place(row["doc_id"], row["text"], bands, paragraph_hashes)
                cluster = placement.cluster_id
                row["duplicate_of"] = placement.duplicate_of
                row["cluster_id"] = cluster
                row["similarity"] = placement.similarity
                if placement.duplicate_of is not None:
                    result.duplicates += 1
                member = Member(row["doc_id"], cluster, "")
                self.near.add(member, bands, row["text"])
                if bands:
                    result.pending.append((member, bands, paragraphs.tolist()))
            self.exact.record(row["doc_id"], row["content_hash"], cluster)
            result.kept.append(row)
        return result

    def committed(
        self,
        written: list[tuple[str, list[Mapping[str, Any]]]],
        pending: list[tuple[Member, list[int], list[int]]],
    ) -> list[dict[str, Any]]:
        """After the documents were published: point the new members at their files; returns the
        signature rows to publish."""
        file_of = {}
        for path, rows in written:
            for row in rows:
                file_of[row["doc_id"]] = path
        signatures = []
        for member, bands, paragraphs in pending:
            member.doc_file = file_of[member.doc_id]
            signatures.append(
                {
                    "doc_id": member.doc_id,
                    "cluster_id": member.cluster_id,
                    "bands": bands,
                    "paragraphs": paragraphs,
                    "doc_file": member.doc_file,
                }
            )
        return signatures

    def record(
        self,
        source: str,
        documents: Sequence[tuple[str, Sequence[Mapping[str, Any]]]],
        signatures: Sequence[tuple[str, Sequence[Mapping[str, Any]]]],
        rejects: Sequence[tuple[str, Sequence[Mapping[str, Any]]]] = (),
    ) -> None:
        """Record in the index what a commit published (its files and their rows), in one transaction."""
        with self.index.absorbing() as absorption:
            for table, written in ((DOCUMENTS, documents), (SIGNATURES, signatures)):
                for path, rows in written:
                    self._absorb(absorption, table, _table_of(table, rows))
                    absorption.file(path, table.name)
            for path, rows in rejects:
                absorption.rejects(keys_of(source, _table_of(None, rows, ("url", "reason")).to_pydict()))
                absorption.file(path, rejects_part(source))
        self.exact.recorded()
        self.rejects.recorded()
        if self.near is not None:
            self.near.recorded()


_DOCUMENT_COLUMNS = ("doc_id", "content_hash", "duplicate_of", "cluster_id")
_SIGNATURE_COLUMNS = ("doc_id", "cluster_id", "bands", "paragraphs", "doc_file")


def _columns(table: Table) -> tuple[str, ...]:
    return _DOCUMENT_COLUMNS if table is DOCUMENTS else _SIGNATURE_COLUMNS


def _table_of(
    table: Table | None, rows: Sequence[Mapping[str, Any]], columns: tuple[str, ...] = ()
) -> pa.Table:
    """Rows as the Arrow table the index reads from Parquet (the columns it needs)."""
    names = columns or _columns(table or DOCUMENTS)
    schema = pa.schema([(table or REJECTS).schema.field(c) for c in names])
    return pa.Table.from_pylist([{c: row.get(c) for c in names} for row in rows], schema=schema)


def _batches(warehouse: Warehouse, table: Table, path: str) -> Iterator[pa.Table]:
    """A stored file's columns the index needs, a batch of rows at a time (a compacted file holds
    hundreds of thousands)."""
    columns = list(_columns(table))
    schema = pa.schema([table.schema.field(c) for c in columns])
    dataset = ds.dataset([path], schema=schema, format="parquet", filesystem=warehouse.fs)
    return (pa.Table.from_batches([b]) for b in dataset.to_batches(columns=columns, batch_size=_BATCH))


def _rows_in(warehouse: Warehouse, paths: list[str]) -> int:
    """Rows of these Parquet files (their footers alone are read)."""
    return ds.dataset(paths, format="parquet", filesystem=warehouse.fs).count_rows() if paths else 0


def _absorb_signatures(absorption: Absorption, table: pa.Table, options: DedupConfig) -> None:
    """Signature rows (doc_id, cluster_id, bands, paragraphs, doc_file) into the index as members. Rows
    made with other LSH settings cannot be compared and are left out; those from before lead signatures
    (only the whole text's bands) are padded (_band_matrix)."""
    width = options.all_bands
    lengths = pc.list_value_length(table.column("bands")).to_numpy(zero_copy_only=False)
    keep = (lengths == width) | (lengths == options.bands)
    if not keep.all():
        table = table.filter(pa.array(keep))
    if not table.num_rows:
        return
    paragraphs = table.column("paragraphs").combine_chunks()
    counts = pc.fill_null(pc.list_value_length(paragraphs), 0).to_numpy(zero_copy_only=False)
    slots = ParagraphCounts.slots(paragraphs.flatten().to_numpy(zero_copy_only=False))
    owner = np.repeat(np.arange(table.num_rows), counts)
    absorption.members(
        hex64(first16(table.column("doc_id"))),
        hex64(first16(table.column("cluster_id"))),
        [_documents_file(absorption.relative(path)) for path in table.column("doc_file").to_pylist()],
        _band_matrix(table.column("bands").combine_chunks(), options),
        (slots, owner),
    )


def _documents_file(name: str) -> str:
    """A member's documents file as the index names it (relative to the warehouse). A signature row names
    the file where the warehouse was when the row was written: in a warehouse moved or copied since, the
    file is at the same place below the root (`documents/<partition folders>/<file>`), not at the old
    path (which may be gone, or another warehouse's)."""
    if not name.startswith("/") and "://" not in name:
        return name
    parts = name.split("/")
    tail = parts[-(len(DOCUMENTS.partitions) + 2) :]
    return "/".join(tail) if len(parts) > len(tail) and tail[0] == DOCUMENTS.name else name


def _band_matrix(column: pa.ListArray, options: DedupConfig) -> np.ndarray:
    """The rows' bands as a uint32 [rows, all_bands] matrix. A row stored before lead signatures existed
    has only the whole text's bands: its lead bands are filled with copies of its first whole-text bands,
    which another document's lead bands match only by chance (2^-32 a band), so it is found as before."""
    width = options.all_bands
    lengths = pc.list_value_length(column).to_numpy(zero_copy_only=False)
    flat = column.flatten().to_numpy(zero_copy_only=False).astype(np.uint32)
    if (lengths == width).all():
        whole: np.ndarray = flat.reshape(-1, width)
        return whole
    matrix = np.empty((len(lengths), width), np.uint32)
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    full = lengths == width  # the reader keeps only rows of `width` or `options.bands` bands
    if full.any():
        matrix[full] = flat[offsets[full, None] + np.arange(width)]
    old = ~full
    whole_only = flat[offsets[old, None] + np.arange(options.bands)]
    matrix[old] = np.tile(whole_only, -(-width // options.bands))[:, :width]
    return matrix
