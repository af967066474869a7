"""De-duplication across runs, at commit time: exact (exact.py: the same version of a page is stored once;
the same text under another URL is a copy) and near (near.py: the same article syndicated, edited, cut
short).

Every stored document belongs to a cluster whose id is the doc_id of its first document. The indexes are
built from the committed Parquet files, so they never disagree with what is stored, and refreshed before
each commit from files that other processes committed meanwhile: with the commit step serialised across
processes (a file lock), two overlapping runs cannot open two clusters for one article.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from flows.config import DedupConfig
from flows.dedup.exact import ExactIndex, SeenRejects, Verdict
from flows.dedup.near import Member, NearIndex, ParagraphCounts
from flows.records import DocumentRow
from flows.warehouse.ids import first16
from flows.warehouse.store import Warehouse
from flows.warehouse.tables import DOCUMENTS, SIGNATURES


@dataclass
class Classified:
    kept: list[DocumentRow] = field(default_factory=list)  # to store, with duplicate_of/cluster_id/similarity
    duplicates: int = 0  # rows already stored, exact copies and near copies
    restated: list[DocumentRow] = field(default_factory=list)  # pages whose very document is stored already
    # new index members (no file yet), with their band hashes and paragraph hashes
    pending: list[tuple[Member, list[int], list[int]]] = field(default_factory=list)


class Deduplicator:
    def __init__(self, warehouse: Warehouse, options: DedupConfig) -> None:
        self.warehouse = warehouse
        self.options = options
        self.exact = ExactIndex()
        self.rejects = SeenRejects(warehouse)
        self.near = NearIndex(options, warehouse.read_text) if options.near else None
        self._seen_documents: set[str] = set()
        self._seen_signatures: set[str] = set()
        self._bulk_loaded = False

    def refresh(self) -> None:
        """Load what was committed since the last look (everything, the first time)."""
        documents = sorted(self.warehouse.files_of(DOCUMENTS) - self._seen_documents)
        self.exact.load(self.warehouse, documents)
        self._seen_documents.update(documents)
        pa.default_memory_pool().release_unused()
        if self.near is None:
            return
        signatures = sorted(self.warehouse.files_of(SIGNATURES) - self._seen_signatures)
        self._seen_signatures.update(signatures)
        if not signatures:
            self._bulk_loaded = True
            return
        doc_ids, clusters, files, bands = _read_signatures(
            self.warehouse, signatures, self.options, self.near.paragraphs
        )
        if not self._bulk_loaded:
            self.near.bands.load(doc_ids, clusters, files, bands)
            self._bulk_loaded = True
            del doc_ids, clusters, files, bands
            pa.default_memory_pool().release_unused()  # Arrow's allocator keeps freed memory otherwise
            return
        names, index = files
        for i in range(len(doc_ids)):
            member = Member(doc_ids[i].decode(), clusters[i].decode(), names[index[i]])
            self.near.add(member, [int(v) for v in bands[i]])

    def classify(self, rows: list[DocumentRow]) -> Classified:
        """Decide each row's fate and cluster; rows carry `bands` and `paragraphs` from the workers when
        near is on (both popped here; paragraphs are worked out here when missing)."""
        result = Classified()
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
            self._seen_documents.add(path)
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

    def seen_signature_files(self, paths: list[str]) -> None:
        self._seen_signatures.update(paths)


def _read_signatures(
    warehouse: Warehouse, files: list[str], options: DedupConfig, paragraphs: ParagraphCounts
) -> tuple[np.ndarray, np.ndarray, tuple[list[str], np.ndarray], np.ndarray]:
    """Signature rows as numpy arrays, read a file at a time (paragraph hashes go straight into their
    counter), so that loading a million signatures never holds them as Arrow tables and arrays at once."""
    columns = ["doc_id", "cluster_id", "bands", "paragraphs", "doc_file"]
    schema = pa.schema([SIGNATURES.schema.field(c) for c in columns])
    ids, clusters, indices, matrices = [], [], [], []
    names: dict[str, int] = {}
    width = options.all_bands
    for path in files:
        table = ds.dataset([path], schema=schema, format="parquet", filesystem=warehouse.fs).to_table(
            columns=columns
        )
        lengths = pc.list_value_length(table.column("bands")).to_numpy(zero_copy_only=False)
        # signatures made with other LSH settings cannot be compared; those from before lead signatures
        # (only the whole text's bands) are padded below
        keep = (lengths == width) | (lengths == options.bands)
        if not keep.all():
            table = table.filter(pa.array(keep))
        if not table.num_rows:
            continue
        paragraphs.add(table.column("paragraphs").combine_chunks().flatten().to_numpy(zero_copy_only=False))
        ids.append(first16(table.column("doc_id")))
        clusters.append(first16(table.column("cluster_id")))
        encoded = table.column("doc_file").combine_chunks().dictionary_encode()
        local = np.asarray(
            [names.setdefault(n, len(names)) for n in encoded.dictionary.to_pylist()], dtype=np.int32
        )
        indices.append(local[encoded.indices.to_numpy(zero_copy_only=False)])
        matrices.append(_band_matrix(table.column("bands").combine_chunks(), options))
        del table
    if not ids:
        empty = np.empty(0, "S16")
        return empty, empty, ([], np.empty(0, np.int32)), np.empty((0, width), np.uint32)
    return (
        np.concatenate(ids),
        np.concatenate(clusters),
        (list(names), np.concatenate(indices)),
        np.concatenate(matrices),
    )


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
