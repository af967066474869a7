"""Exact dedup: doc_ids already stored (the same version of a page), and the first document of each text
(the same text under another URL is a copy of it); and the rejects each source has recorded already."""

from __future__ import annotations

import hashlib
from enum import Enum

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from flows.records import RejectRow
from flows.warehouse.ids import first16, hex64
from flows.warehouse.store import Warehouse
from flows.warehouse.tables import DOCUMENTS, REJECTS


class Verdict(Enum):
    NEW = "new"  # this text is not stored yet (it may still be a near-duplicate of a stored one)
    COPY = "copy"  # this exact text is stored under another URL: stored, with duplicate_of
    STORED = "stored"  # this exact version of this URL is already stored: skipped


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


def reject_key(url: str, reason: str) -> int:
    """A page and the reason it was turned down, as a 64-bit key."""
    digest = hashlib.blake2b(f"{url}\n{reason}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little", signed=True)


class SeenRejects:
    """The (page, reason) pairs each source has in `rejects` already, so that a page turned down again for
    the same reason (a re-run, a robots.txt that still says no) is recorded once, the first time. Keys
    live in a sorted int64 array per source (8 bytes a reject); this session's in a set beside it."""

    def __init__(self, warehouse: Warehouse) -> None:
        self.warehouse = warehouse
        self._stored: dict[str, np.ndarray] = {}
        self._new: dict[str, set[int]] = {}
        self._files: set[str] = set()

    def _refresh(self, source: str) -> None:
        files = [path for path in self.warehouse.partition_files(REJECTS, source) if path not in self._files]
        self._files.update(files)
        if not files:
            self._stored.setdefault(source, np.empty(0, np.int64))
            return
        columns = ["url", "reason"]
        schema = pa.schema([REJECTS.schema.field(c) for c in columns])
        table = ds.dataset(files, schema=schema, format="parquet", filesystem=self.warehouse.fs).to_table()
        keys = np.fromiter(
            (reject_key(u or "", r or "") for u, r in zip(*table.to_pydict().values(), strict=True)),
            np.int64,
            table.num_rows,
        )
        self._stored[source] = np.union1d(self._stored.get(source, np.empty(0, np.int64)), keys)

    def first(self, source: str, rows: list[RejectRow]) -> list[RejectRow]:
        """The rows whose page and reason the source has not recorded yet (nor earlier in `rows`)."""
        self._refresh(source)
        stored = self._stored[source]
        new = self._new.setdefault(source, set())
        kept = []
        for row in rows:
            key = reject_key(row["url"], row["reason"])
            at = int(np.searchsorted(stored, key))
            if key in new or (at < len(stored) and stored[at] == key):
                continue
            new.add(key)
            kept.append(row)
        return kept
