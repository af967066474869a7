"""Exact dedup: doc_ids already stored (the same version of a page), and the first document of each text
(the same text under another URL is a copy of it); and the rejects each source has recorded already."""

from __future__ import annotations

import hashlib
from enum import Enum
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from flows.dedup.index import Absorption, DedupIndex, hex_of, key_of
from flows.records import RejectRow
from flows.warehouse.ids import first16, hex64
from flows.warehouse.store import Warehouse
from flows.warehouse.tables import REJECTS


class Verdict(Enum):
    NEW = "new"  # this text is not stored yet (it may still be a near-duplicate of a stored one)
    COPY = "copy"  # this exact text is stored under another URL: stored, with duplicate_of
    STORED = "stored"  # this exact version of this URL is already stored: skipped


class ExactIndex:
    """doc_ids already stored, and the first doc_id (and its cluster) of each text: those of stored
    documents in the dedup index (looked up a batch at a time, `prefetch`), those of this batch's here."""

    def __init__(self, index: DedupIndex) -> None:
        self.index = index
        self._stored: set[int] = set()  # of the prefetched keys, those stored
        self._firsts: dict[int, tuple[int, int]] = {}
        self._new_ids: set[str] = set()
        self._new_texts: dict[str, tuple[str, str]] = {}

    def prefetch(self, doc_ids: list[str], text_hashes: list[str]) -> None:
        """Look up a batch's keys at once (the index does not change while the batch is classified)."""
        self._stored = self.index.stored_docs([key_of(d) for d in doc_ids])
        self._firsts = self.index.first_of_texts([key_of(t) for t in text_hashes])

    def _first(self, text_hash: str) -> tuple[str, str] | None:
        known = self._new_texts.get(text_hash)
        if known is not None:
            return known
        stored = self._firsts.get(key_of(text_hash))
        return (hex_of(stored[0]), hex_of(stored[1])) if stored is not None else None

    def check(self, doc_id: str, text_hash: str) -> tuple[Verdict, tuple[str, str] | None]:
        """STORED, COPY with the (doc_id, cluster_id) of the first document with this text, or NEW."""
        if doc_id in self._new_ids or key_of(doc_id) in self._stored:
            return Verdict.STORED, None
        first = self._first(text_hash)
        return (Verdict.COPY, first) if first is not None else (Verdict.NEW, None)

    def record(self, doc_id: str, text_hash: str, cluster_id: str) -> None:
        self._new_ids.add(doc_id)
        if self._first(text_hash) is None:
            self._new_texts[text_hash] = (doc_id, cluster_id)

    def recorded(self) -> None:
        """The documents recorded here are in the index now."""
        self._new_ids.clear()
        self._new_texts.clear()


def absorb_documents(absorption: Absorption, table: pa.Table) -> None:
    """Stored documents (doc_id, content_hash, duplicate_of, cluster_id) into the index, in row order."""
    ids = first16(table.column("doc_id"))
    clusters = pc.coalesce(table.column("cluster_id"), table.column("duplicate_of"), table.column("doc_id"))
    absorption.documents(hex64(ids), hex64(first16(table.column("content_hash"))), hex64(first16(clusters)))


def reject_key(source: str, url: str, reason: str) -> int:
    """A source's page and the reason it was turned down, as a signed 64-bit key."""
    digest = hashlib.blake2b(f"{source}\n{url}\n{reason}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little", signed=True)


def rejects_part(source: str) -> str:
    """How the index names a source's rejects files among those it absorbed."""
    return f"{REJECTS.name}/{source}"


class SeenRejects:
    """The (page, reason) pairs each source has in `rejects` already, so that a page turned down again for
    the same reason (a re-run, a robots.txt that still says no) is recorded once, the first time. Stored
    pairs are keys in the dedup index (a source's new rejects files absorbed when it is next asked about);
    this batch's in a set beside it."""

    def __init__(self, warehouse: Warehouse, index: DedupIndex) -> None:
        self.warehouse = warehouse
        self.index = index
        self._new: set[int] = set()

    def _refresh(self, source: str) -> None:
        part = rejects_part(source)
        listed = set(self.warehouse.partition_files(REJECTS, source))
        absorbed = self.index.absorbed(part)
        new, gone = sorted(listed - absorbed), absorbed - listed
        if not new and not gone:
            return
        columns = ["url", "reason"]
        schema = pa.schema([REJECTS.schema.field(c) for c in columns])
        with self.index.absorbing() as absorption:
            for path in new:
                table = ds.dataset([path], schema=schema, format="parquet", filesystem=self.warehouse.fs)
                for batch in table.to_batches(columns=columns):
                    absorption.rejects(keys_of(source, batch.to_pydict()))
                absorption.file(path, part)
            absorption.gone(gone)

    def first(self, source: str, rows: list[RejectRow]) -> list[RejectRow]:
        """The rows whose page and reason the source has not recorded yet (nor earlier in `rows`)."""
        self._refresh(source)
        keys = [reject_key(source, row["url"], row["reason"]) for row in rows]
        stored = self.index.known_rejects(keys)
        kept = []
        for row, key in zip(rows, keys, strict=True):
            if key in self._new or key in stored:
                continue
            self._new.add(key)
            kept.append(row)
        return kept

    def recorded(self) -> None:
        self._new.clear()


def keys_of(source: str, columns: dict[str, list[Any]]) -> list[int]:
    """The reject keys of rows given as columns (url, reason)."""
    return [
        reject_key(source, u or "", r or "") for u, r in zip(columns["url"], columns["reason"], strict=True)
    ]
