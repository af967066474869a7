"""The committer thread: chunks are committed in order, off the extraction loop, and a failed commit is
raised, never lost."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from flows.records import Extracted
from flows.run import staging
from flows.warehouse import Warehouse

pytestmark = pytest.mark.unit


def _writer(tmp_path: Path, commit) -> staging.StagingWriter:
    return staging.StagingWriter(Warehouse(str(tmp_path / "wh")), "run1", "src", "unit#0", commit)


def _document(i: int) -> Extracted:
    return Extracted(document={"doc_id": f"{i:016x}", "text": f"text {i}"})


def test_chunks_are_committed_in_order_while_extraction_goes_on(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(staging, "COMMIT_CHUNK_DOCUMENTS", 3)
    release = threading.Event()
    committed: list[list[str]] = []

    def commit(source: str, documents: list[dict], rejects: list[dict]) -> tuple[int, int]:
        release.wait(10)  # the first commit holds until the extraction side has gone on
        committed.append([d["doc_id"] for d in documents])
        return 1, len(documents) - 1

    writer = _writer(tmp_path, commit)
    adding = threading.Thread(target=lambda: [writer.add(_document(i)) for i in range(6)])
    adding.start()
    adding.join(5)
    assert not adding.is_alive(), "adding two chunks waited for a commit"
    assert committed == []
    release.set()
    writer.add(_document(6))
    unit = writer.finish()
    assert committed == [[f"{i:016x}" for i in range(k, min(k + 3, 7))] for k in (0, 3, 6)]
    assert unit.seen == unit.extracted == 7
    assert (unit.duplicates, unit.written) == (3, 4)


def test_a_failed_commit_is_raised_and_nothing_after_it_is_committed(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(staging, "COMMIT_CHUNK_DOCUMENTS", 2)
    calls: list[int] = []

    def commit(source: str, documents: list[dict], rejects: list[dict]) -> tuple[int, int]:
        calls.append(len(calls))
        if len(calls) == 1:
            raise OSError("disk full")
        return 0, len(documents)

    writer = _writer(tmp_path, commit)
    with pytest.raises(OSError, match="disk full"):
        for i in range(10):
            writer.add(_document(i))
        writer.finish()
    writer.close()
    assert calls == [0]  # the chunks behind the failed one were not committed out of order
    assert not any(t.name.startswith("corpus-commit-") for t in threading.enumerate())


def test_staged_chunks_keep_the_workers_hashes_for_the_commit_step(tmp_path: Path) -> None:
    """Extraction on another machine stages its chunks as Parquet: the band and paragraph hashes the
    workers computed must come back with the rows, or the commit step would work them out again."""
    from datetime import UTC, datetime

    from flows.config import DedupConfig
    from flows.extract.options import ExtractOptions
    from flows.extract.page import extract_page
    from flows.records import Page

    body = "".join(
        f"<p>Paragraph {i} of a staged article about harbour cranes and tides.</p>" for i in range(8)
    )
    page = Page(
        "https://a.test/x.html",
        f"<html><body><article>{body}</article></body></html>".encode(),
        datetime(2026, 1, 1, tzinfo=UTC),
        "test",
    )
    extracted = extract_page(page, ExtractOptions(signature=DedupConfig()))
    assert extracted.document is not None and extracted.document["paragraphs"]
    writer = _writer(tmp_path, None)
    writer.add(extracted)
    unit = writer.finish()
    rows = staging.read_rows(writer.warehouse, unit.chunks[0].documents)
    assert rows[0]["bands"] == extracted.document["bands"]
    assert rows[0]["paragraphs"] == extracted.document["paragraphs"]


def test_an_early_flush_passes_on_a_chunk_half_full_or_more(tmp_path: Path, monkeypatch) -> None:
    """When a unit's last pages are in the workers' hands the writer commits what it holds, so that the
    final commit is small; a small unit still commits once."""
    monkeypatch.setattr(staging, "COMMIT_CHUNK_DOCUMENTS", 10)
    committed: list[int] = []

    def commit(source: str, documents: list[dict], rejects: list[dict]) -> tuple[int, int]:
        committed.append(len(documents))
        return 0, len(documents)

    writer = _writer(tmp_path, commit)
    for i in range(16):
        writer.add(_document(i))
    writer.flush_early()  # 6 held: at least half a chunk
    writer.add(_document(16))
    writer.finish()
    assert committed == [10, 6, 1]

    small, committed[:] = _writer(tmp_path, commit), []
    for i in range(4):
        small.add(_document(i))
    small.flush_early()  # 4 held: less than half, left for finish
    small.finish()
    assert committed == [4]
