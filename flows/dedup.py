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
from flows.near_dedup import Member, NearIndex, ParagraphCounts
from flows.warehouse import DOCUMENTS, SIGNATURES, Warehouse


class Verdict(Enum):
    NEW = "new"  # this text is not stored yet (it may still be a near-duplicate of a stored one)
    COPY = "copy"  # this exact text is stored under another URL: stored, with duplicate_of
    STORED = "stored"  # this exact version of this URL is already stored: skipped


_NIBBLE = np.zeros(256, np.uint64)
for _value, _char in enumerate(b"0123456789abcdef"):
    _NIBBLE[_char] = _value
_SHIFTS = np.arange(60, -1, -4, dtype=np.uint64)


def hex64(values: list[str] | np.ndarray) -> np.ndarray:
    """The first 16 hex digits of each string as a uint64 (doc ids are 16, text hashes 32 digits)."""
    if not len(values):
        return np.empty(0, np.uint64)
    digits = np.asarray(values, dtype="S16").view(np.uint8).reshape(-1, 16)
    return np.bitwise_or.reduce(_NIBBLE[digits] << _SHIFTS, axis=1)


def first16(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """The first 16 characters of each string of an Arrow column as an 'S16' array, read straight from
    Arrow's buffers: a million ids never become a million Python strings."""
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if array.null_count or len(array) == 0 or not pa.types.is_string(array.type):
        return np.asarray(array.to_pylist(), dtype="S16")
    offsets = np.frombuffer(array.buffers()[1], dtype=np.int32)[array.offset : array.offset + len(array) + 1]
    data = np.frombuffer(array.buffers()[2], dtype=np.uint8)
    if (np.diff(offsets) < 16).any():
        return np.asarray(array.to_pylist(), dtype="S16")
    return np.ascontiguousarray(data[offsets[:-1, None] + np.arange(16)]).view("S16").ravel()


class ExactIndex:
    """doc_ids already stored, and the first doc_id (and its cluster) of each text.

    Stored entries live in sorted uint64 arrays (doc ids are 64-bit hashes; a text is keyed by the first 64
    bits of its 128-bit hash): ~40 bytes per document, where Python sets and dicts would take ~500. Entries
    of this session are kept in a set and a dict beside them."""

    def __init__(self) -> None:
        self._ids = np.empty(0, np.uint64)
        self._text_keys = np.empty(0, np.uint64)
        self._text_first = np.empty(0, "S16")
        self._text_cluster = np.empty(0, "S16")
        self._new_ids: set[str] = set()
        self._new_texts: dict[str, tuple[str, str]] = {}

    def load(self, warehouse: Warehouse, files: list[str]) -> None:
        if not files:
            return
        columns = ["doc_id", "content_hash", "duplicate_of", "cluster_id"]
        schema = pa.schema([DOCUMENTS.schema.field(c) for c in columns])
        table = ds.dataset(files, schema=schema, format="parquet", filesystem=warehouse.fs).to_table(
            columns=columns
        )
        ids = first16(table.column("doc_id"))
        clusters = pc.coalesce(
            table.column("cluster_id"), table.column("duplicate_of"), table.column("doc_id")
        )
        self._ids = np.union1d(self._ids, hex64(ids))
        keys = hex64(first16(table.column("content_hash")))
        # the first row of each text, in file order; texts already known keep their first document
        keys, first = np.unique(keys, return_index=True)
        new = ~np.isin(keys, self._text_keys)
        keys, first = keys[new], first[new]
        firsts = ids[first]
        cluster_of = first16(clusters)[first]
        order = np.argsort(np.concatenate([self._text_keys, keys]), kind="stable")
        self._text_keys = np.concatenate([self._text_keys, keys])[order]
        self._text_first = np.concatenate([self._text_first, firsts])[order]
        self._text_cluster = np.concatenate([self._text_cluster, cluster_of])[order]

    def __len__(self) -> int:
        return len(self._ids) + len(self._new_ids)

    def _stored(self, doc_id: str) -> bool:
        if doc_id in self._new_ids:
            return True
        key = np.uint64(int(doc_id[:16], 16))  # as hex64, without its array set-up per lookup
        at = int(np.searchsorted(self._ids, key))
        return at < len(self._ids) and self._ids[at] == key

    def _first(self, text_hash: str) -> tuple[str, str] | None:
        known = self._new_texts.get(text_hash)
        if known is not None:
            return known
        key = np.uint64(int(text_hash[:16], 16))
        at = int(np.searchsorted(self._text_keys, key))
        if at < len(self._text_keys) and self._text_keys[at] == key:
            return self._text_first[at].decode(), self._text_cluster[at].decode()
        return None

    def check(self, doc_id: str, text_hash: str) -> tuple[Verdict, tuple[str, str] | None]:
        """STORED, COPY with the (doc_id, cluster_id) of the first document with this text, or NEW."""
        if self._stored(doc_id):
            return Verdict.STORED, None
        first = self._first(text_hash)
        return (Verdict.COPY, first) if first is not None else (Verdict.NEW, None)

    def record(self, doc_id: str, text_hash: str, cluster_id: str) -> None:
        self._new_ids.add(doc_id)
        if self._first(text_hash) is None:
            self._new_texts[text_hash] = (doc_id, cluster_id)


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
            self.warehouse, signatures, self.options.bands, self.near.paragraphs
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

    def classify(self, rows: list[dict]) -> Classified:
        """Decide each row's fate and cluster; rows carry `bands` and `paragraphs` from the workers when
        near is on (both popped here; paragraphs are worked out here when missing)."""
        result = Classified()
        for row in rows:
            bands = row.pop("bands", None) or []
            paragraph_hashes = row.pop("paragraphs", None)
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
            if self.near is not None:
                placement, paragraphs = self.near.place(row["doc_id"], row["text"], bands, paragraph_hashes)
                row.update(
                    duplicate_of=placement.duplicate_of,
                    cluster_id=placement.cluster_id,
                    similarity=placement.similarity,
                )
                if placement.duplicate_of is not None:
                    result.duplicates += 1
                member = Member(row["doc_id"], row["cluster_id"], "")
                self.near.add(member, bands, row["text"])
                if bands:
                    result.pending.append((member, bands, paragraphs.tolist()))
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
    warehouse: Warehouse, files: list[str], bands: int, paragraphs: ParagraphCounts
) -> tuple[np.ndarray, np.ndarray, tuple[list[str], np.ndarray], np.ndarray]:
    """Signature rows as numpy arrays, read a file at a time (paragraph hashes go straight into their
    counter), so that loading a million signatures never holds them as Arrow tables and arrays at once."""
    columns = ["doc_id", "cluster_id", "bands", "paragraphs", "doc_file"]
    schema = pa.schema([SIGNATURES.schema.field(c) for c in columns])
    ids, clusters, indices, matrices = [], [], [], []
    names: dict[str, int] = {}
    for path in files:
        table = ds.dataset([path], schema=schema, format="parquet", filesystem=warehouse.fs).to_table(
            columns=columns
        )
        lengths = pc.list_value_length(table.column("bands")).to_numpy(zero_copy_only=False)
        keep = lengths == bands  # signatures made with other LSH settings cannot be compared
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
        flat = table.column("bands").combine_chunks().flatten().to_numpy(zero_copy_only=False)
        matrices.append(flat.astype(np.uint32).reshape(-1, bands))
        del table
    if not ids:
        empty = np.empty(0, "S16")
        return empty, empty, ([], np.empty(0, np.int32)), np.empty((0, bands), np.uint32)
    return (
        np.concatenate(ids),
        np.concatenate(clusters),
        (list(names), np.concatenate(indices)),
        np.concatenate(matrices),
    )
