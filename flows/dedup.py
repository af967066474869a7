"""Exact de-duplication across runs: the same version of a page is stored once, and a text already in
the corpus under another URL is stored as a copy pointing at the first (duplicate_of).

The index is rebuilt at the start of each commit phase from the committed Parquet files, so it can never
disagree with what is stored: a crashed run leaves no index entries for documents it did not publish.
"""

from __future__ import annotations

from enum import Enum

from flows.warehouse import DOCUMENTS, Warehouse


class Verdict(Enum):
    NEW = "new"  # first time this text is seen: an article
    COPY = "copy"  # this text is already stored under another URL: stored, with duplicate_of
    STORED = "stored"  # this exact version of this URL is already stored: skipped


class ExactIndex:
    """doc_ids already stored, and the first doc_id of each text."""

    def __init__(self) -> None:
        self.stored: set[str] = set()
        self.first_by_hash: dict[str, str] = {}

    @classmethod
    def load(cls, warehouse: Warehouse) -> ExactIndex:
        index = cls()
        for batch in warehouse.read_columns(DOCUMENTS, ["doc_id", "content_hash", "duplicate_of"]):
            ids, hashes, copies = (batch.column(i).to_pylist() for i in range(3))
            index.stored.update(ids)
            for doc, text_hash, duplicate_of in zip(ids, hashes, copies, strict=True):
                if duplicate_of is None:
                    index.first_by_hash.setdefault(text_hash, doc)
        return index

    def __len__(self) -> int:
        return len(self.stored)

    def admit(self, doc_id: str, text_hash: str) -> tuple[Verdict, str | None]:
        """Classify a document and remember it; returns the verdict and, for a copy, the original's doc_id."""
        if doc_id in self.stored:
            return Verdict.STORED, None
        self.stored.add(doc_id)
        first = self.first_by_hash.get(text_hash)
        if first is not None:
            return Verdict.COPY, first
        self.first_by_hash[text_hash] = doc_id
        return Verdict.NEW, None
