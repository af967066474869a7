"""De-duplication across runs, at commit time: exact (the same version of a page is stored once; the same
text under another URL is a copy) and near (near_dedup.py: the same article syndicated, edited, cut short).

Every stored document belongs to a cluster whose id is the doc_id of its first document. The indexes are
built from the committed Parquet files, so they never disagree with what is stored, and refreshed before
each commit from files that other processes committed meanwhile: with the commit step serialised across
processes (a file lock), two overlapping runs cannot open two clusters for one article.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from flows.config import DedupConfig
from flows.near_dedup import Member, NearIndex
from flows.warehouse import DOCUMENTS, SIGNATURES, Warehouse


class Verdict(Enum):
    NEW = "new"  # this text is not stored yet (it may still be a near-duplicate of a stored one)
    COPY = "copy"  # this exact text is stored under another URL: stored, with duplicate_of
    STORED = "stored"  # this exact version of this URL is already stored: skipped


class ExactIndex:
    """doc_ids already stored, and the first doc_id (and its cluster) of each text."""

    def __init__(self) -> None:
        self.stored: set[str] = set()
        self.first_by_hash: dict[str, tuple[str, str]] = {}

    def load(self, warehouse: Warehouse, files: list[str]) -> None:
        if not files:
            return
        columns = ["doc_id", "content_hash", "duplicate_of", "cluster_id"]
        schema = pa.schema([DOCUMENTS.schema.field(c) for c in columns])
        dataset = ds.dataset(files, schema=schema, format="parquet", filesystem=warehouse.fs)
        for batch in dataset.to_batches(columns=columns, batch_size=65_536):
            ids, hashes, copies, clusters = (batch.column(i).to_pylist() for i in range(4))
            self.stored.update(ids)
            for doc, text_hash, duplicate_of, cluster in zip(ids, hashes, copies, clusters, strict=True):
                if text_hash not in self.first_by_hash:
                    self.first_by_hash[text_hash] = (doc, cluster or duplicate_of or doc)

    def __len__(self) -> int:
        return len(self.stored)

    def check(self, doc_id: str, text_hash: str) -> tuple[Verdict, tuple[str, str] | None]:
        """STORED, COPY with the (doc_id, cluster_id) of the first document with this text, or NEW."""
        if doc_id in self.stored:
            return Verdict.STORED, None
        first = self.first_by_hash.get(text_hash)
        return (Verdict.COPY, first) if first is not None else (Verdict.NEW, None)

    def record(self, doc_id: str, text_hash: str, cluster_id: str) -> None:
        self.stored.add(doc_id)
        self.first_by_hash.setdefault(text_hash, (doc_id, cluster_id))


@dataclass
class Classified:
    kept: list[dict] = field(default_factory=list)  # rows to store, with duplicate_of/cluster_id/similarity
    duplicates: int = 0  # rows already stored, exact copies and near copies
    # new index members (no file yet), with their band hashes and paragraph hashes
    pending: list[tuple[Member, list[int], list[int]]] = field(default_factory=list)


class Deduplicator:
    def __init__(self, warehouse: Warehouse, options: DedupConfig) -> None:
        self.warehouse = warehouse
        self.options = options
        self.exact = ExactIndex()
        self.near = NearIndex(options, warehouse.read_texts) if options.near else None
        self._seen_documents: set[str] = set()
        self._seen_signatures: set[str] = set()
        self._bulk_loaded = False

    def refresh(self) -> None:
        """Load what was committed since the last look (everything, the first time)."""
        documents = sorted(self.warehouse.files_of(DOCUMENTS) - self._seen_documents)
        self.exact.load(self.warehouse, documents)
        self._seen_documents.update(documents)
        if self.near is None:
            return
        signatures = sorted(self.warehouse.files_of(SIGNATURES) - self._seen_signatures)
        self._seen_signatures.update(signatures)
        if not signatures:
            self._bulk_loaded = True
            return
        doc_ids, clusters, files, bands, paragraphs = _read_signatures(
            self.warehouse, signatures, self.options.bands
        )
        self.near.paragraphs.add(paragraphs)
        if not self._bulk_loaded:
            self.near.bands.load(doc_ids, clusters, files, bands)
            self._bulk_loaded = True
            return
        for i in range(len(doc_ids)):
            member = Member(doc_ids[i].decode(), clusters[i].decode(), files[i])
            self.near.add(member, [int(v) for v in bands[i]])

    def classify(self, rows: list[dict]) -> Classified:
        """Decide each row's fate and cluster; rows must carry `bands` (popped here) when near is on."""
        result = Classified()
        for row in rows:
            bands = row.pop("bands", None) or []
            verdict, first = self.exact.check(row["doc_id"], row["content_hash"])
            if verdict is Verdict.STORED:
                result.duplicates += 1
                continue
            if verdict is Verdict.COPY:
                assert first is not None
                row.update(duplicate_of=first[0], cluster_id=first[1], similarity=1.0)
                self.exact.record(row["doc_id"], row["content_hash"], first[1])
                result.duplicates += 1
                result.kept.append(row)
                continue
            row.update(duplicate_of=None, cluster_id=row["doc_id"], similarity=None)
            shingle_ids = None
            if self.near is not None:
                placement, shingle_ids = self.near.place(row["doc_id"], row["text"], bands)
                row.update(
                    duplicate_of=placement.duplicate_of,
                    cluster_id=placement.cluster_id,
                    similarity=placement.similarity,
                )
                if placement.duplicate_of is not None:
                    result.duplicates += 1
                member = Member(row["doc_id"], row["cluster_id"], "")
                self.near.add(member, bands, shingle_ids)
                if bands:
                    result.pending.append((member, bands, [paragraph for paragraph, _ in shingle_ids]))
            self.exact.record(row["doc_id"], row["content_hash"], row["cluster_id"])
            result.kept.append(row)
        return result

    def committed(
        self, written: list[tuple[str, list[dict]]], pending: list[tuple[Member, list[int]]]
    ) -> list[dict]:
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
    warehouse: Warehouse, files: list[str], bands: int
) -> tuple[np.ndarray, np.ndarray, list[str], np.ndarray, np.ndarray]:
    columns = ["doc_id", "cluster_id", "bands", "paragraphs", "doc_file"]
    schema = pa.schema([SIGNATURES.schema.field(c) for c in columns])
    table = ds.dataset(files, schema=schema, format="parquet", filesystem=warehouse.fs).to_table(
        columns=columns
    )
    lengths = pc.list_value_length(table.column("bands")).to_numpy(zero_copy_only=False)
    keep = lengths == bands  # signatures made with other LSH settings cannot be compared
    if not keep.all():
        table = table.filter(pa.array(keep))
    doc_ids = np.asarray(table.column("doc_id").to_pylist(), dtype="S16")
    clusters = np.asarray(table.column("cluster_id").to_pylist(), dtype="S16")
    files_column = table.column("doc_file").to_pylist()
    flat = table.column("bands").combine_chunks().flatten().to_numpy(zero_copy_only=False)
    paragraphs = table.column("paragraphs").combine_chunks().flatten().to_numpy(zero_copy_only=False)
    return doc_ids, clusters, files_column, flat.astype(np.uint32).reshape(-1, bands), paragraphs
