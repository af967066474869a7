"""The dedup index on disk (flows/dedup/index.py) against the Parquet files it is derived from: rebuilt from
them when missing, of other settings or damaged; catching up on files published but never recorded;
re-aimed, not double counted, after compaction; and the same answers either way."""

from __future__ import annotations

import dataclasses
import logging
import os
import re
import sqlite3
from pathlib import Path

import pytest
from sites import make_article, news_page, syndicated_page

from flows.config import DedupConfig
from flows.dedup.deduplicator import Deduplicator
from flows.extract.options import ExtractOptions
from flows.extract.page import extract_page
from flows.records import DocumentRow, Page
from flows.warehouse import Warehouse
from flows.warehouse.compact import compact
from flows.warehouse.tables import DOCUMENTS, SIGNATURES

pytestmark = pytest.mark.unit

OPTIONS = ExtractOptions(signature=DedupConfig())


def row(html: str, url: str) -> DocumentRow:
    from datetime import UTC, datetime

    page = Page(url, html.encode(), datetime(2025, 7, 1, tzinfo=UTC), url)
    document = extract_page(page, OPTIONS).document
    assert document is not None
    return document


def pages(start: int, count: int) -> list[DocumentRow]:
    """Articles, each with an exact copy elsewhere and an edited copy (its last paragraph cut)."""
    rows = []
    for n in range(start, start + count):
        article = make_article(n, paragraphs=6)
        edited = dataclasses.replace(article, paragraphs=article.paragraphs[:5])
        rows.append(row(news_page(article, f"https://a.test/{n}"), f"https://a.test/{n}"))
        rows.append(row(news_page(article, f"https://a.test/{n}"), f"https://mirror.test/{n}"))
        rows.append(row(news_page(edited, f"https://b.test/{n}"), f"https://b.test/{n}"))
    return rows


def commit(dedup: Deduplicator, warehouse: Warehouse, rows: list[DocumentRow], seq: int, record: bool = True):
    dedup.refresh()
    classified = dedup.classify(rows)
    written = warehouse.write_partitioned(DOCUMENTS, classified.kept, "s", "run1", seq)
    signatures = dedup.committed(written, classified.pending)
    signed = warehouse.write_partitioned(SIGNATURES, signatures, "s", "run1", seq)
    if record:  # else: the process died between publishing and recording
        dedup.record("s", written, signed)
    return classified.kept


def contents(path: str) -> dict[str, list[tuple]]:
    """What the index knows, independent of the order it learnt it in (members ranked by arrival)."""
    con = sqlite3.connect(path)
    try:
        members = con.execute(
            "SELECT d.doc, d.cluster, f.path FROM docs d JOIN files f ON f.num = d.file ORDER BY d.seq"
        ).fetchall()
        return {
            "docs": con.execute("SELECT doc, cluster FROM docs ORDER BY doc").fetchall(),
            "texts": con.execute("SELECT * FROM texts ORDER BY text").fetchall(),
            "members": members,
            "bands": con.execute(  # wherever they are: merged, or recent
                "SELECT * FROM (SELECT * FROM bands UNION ALL SELECT * FROM recent) ORDER BY key, doc"
            ).fetchall(),
            "paragraphs": con.execute("SELECT * FROM paragraphs ORDER BY slot").fetchall(),
        }
    finally:
        con.close()


def test_an_index_rebuilt_from_the_parquet_files_knows_what_the_commits_recorded(tmp_path: Path) -> None:
    warehouse = Warehouse(str(tmp_path / "wh"))
    dedup = Deduplicator(warehouse, DedupConfig())
    clusters = [r["cluster_id"] for seq in range(3) for r in commit(dedup, warehouse, pages(seq * 4, 4), seq)]
    assert len(clusters) == 36 and len(set(clusters)) == 12  # each article's three rows in one cluster
    dedup.close()
    recorded = contents(warehouse.dedup_index)
    assert len(recorded["docs"]) == 36 and len(recorded["members"]) == 24  # exact copies are not members

    for suffix in ("", "-wal", "-shm"):  # an existing warehouse from before the index: migrated
        if os.path.exists(warehouse.dedup_index + suffix):
            os.remove(warehouse.dedup_index + suffix)
    rebuilt = Deduplicator(warehouse, DedupConfig())
    rebuilt.refresh()
    rebuilt.close()
    assert contents(warehouse.dedup_index) == recorded


def test_files_published_but_never_recorded_are_absorbed_by_the_next_commit(tmp_path: Path) -> None:
    warehouse = Warehouse(str(tmp_path / "wh"))
    dies = Deduplicator(warehouse, DedupConfig())
    first = commit(dies, warehouse, pages(0, 2), 1, record=False)
    dies.close()

    later = Deduplicator(warehouse, DedupConfig())  # the next run (or another machine's)
    again = pages(0, 2)
    assert commit(later, warehouse, again[:1], 2) == []  # the same page version: stored already
    edited = again[2]
    assert commit(later, warehouse, [edited], 3) == []  # its edited copy too (the same page again)
    article = make_article(0, paragraphs=6)
    other_copy = row(syndicated_page(article, "https://c.test/0", "https://a.test/0"), "https://c.test/0")
    assert commit(later, warehouse, [other_copy], 4)[0]["cluster_id"] == first[0]["doc_id"]
    later.close()
    assert len(contents(warehouse.dedup_index)["docs"]) == 7


def test_compaction_re_aims_members_and_counts_each_text_once(tmp_path: Path) -> None:
    warehouse = Warehouse(str(tmp_path / "wh"))
    dedup = Deduplicator(warehouse, DedupConfig())
    rows = pages(0, 4)
    for seq in range(3):  # originals, their copies, their edited copies: three files a partition (month)
        commit(dedup, warehouse, rows[seq::3], seq)
    before = contents(warehouse.dedup_index)
    report = compact(warehouse)
    dedup.refresh(merged=report.replaced)  # the compacted files are new, the small ones merged into them
    after = contents(warehouse.dedup_index)
    assert after["paragraphs"] == before["paragraphs"] and after["bands"] == before["bands"]
    assert after["docs"] == before["docs"] and after["texts"] == before["texts"]
    files = {path for _, _, path in after["members"]}  # relative to the warehouse
    assert files and all(os.path.exists(tmp_path / "wh" / path) for path in files)
    merged = {path for _, _, path in before["members"]} - files
    assert merged and not any(
        os.path.exists(tmp_path / "wh" / path) for path in merged
    )  # members of merged files re-aimed
    # a new run's near copy is verified against a member's text, read from the compacted file
    dedup.close()
    article = make_article(3, paragraphs=6)
    edited = dataclasses.replace(article, paragraphs=article.paragraphs[1:])
    later = Deduplicator(warehouse, DedupConfig())
    kept = commit(later, warehouse, [row(news_page(edited, "https://c.test/3"), "https://c.test/3")], 9)
    assert kept[0]["duplicate_of"] is not None and later.near is not None and later.near.cache.reads >= 1


def test_an_index_of_other_settings_or_damaged_is_rebuilt(tmp_path: Path, caplog) -> None:
    warehouse = Warehouse(str(tmp_path / "wh"))
    dedup = Deduplicator(warehouse, DedupConfig())
    commit(dedup, warehouse, pages(0, 2), 1)
    dedup.close()
    recorded = contents(warehouse.dedup_index)

    other = Deduplicator(warehouse, DedupConfig(bands=16))  # other band values: not comparable
    assert other.index.rebuilt
    other.refresh()
    other.close()
    assert not contents(warehouse.dedup_index)["members"]  # the stored signatures have 48 bands, not 32

    with open(warehouse.dedup_index, "r+b") as damaged:
        damaged.write(b"not an sqlite database" * 100)
    with caplog.at_level(logging.WARNING, logger="corpus.dedup"):
        again = Deduplicator(warehouse, DedupConfig())
    assert again.index.rebuilt and "damaged" in caplog.text
    again.refresh()
    again.close()
    assert contents(warehouse.dedup_index) == recorded


def test_the_index_memory_is_the_setting(tmp_path: Path) -> None:
    dedup = Deduplicator(Warehouse(str(tmp_path / "wh")), DedupConfig(index_memory=5))
    assert dedup.index.con.execute("PRAGMA cache_size").fetchone()[0] == -5 * 1024
    assert dedup.index.con.execute("PRAGMA mmap_size").fetchone()[0] == 0
    dedup.close()


def test_a_long_first_build_says_how_far_it_is(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from flows.dedup import deduplicator

    warehouse = Warehouse(str(tmp_path / "wh"))
    dedup = Deduplicator(warehouse, DedupConfig())
    commit(dedup, warehouse, pages(0, 4), 1, record=False)  # published, never recorded: like an old warehouse
    dedup.close()
    monkeypatch.setattr(deduplicator, "_LARGE", 1)  # what counts as long (100,000 rows)
    monkeypatch.setattr(deduplicator, "_BATCH", 2)
    said: list[str] = []
    later = Deduplicator(warehouse, DedupConfig(), log=said.append)
    later.refresh()
    later.close()
    found = re.match(rf"dedup index {re.escape(warehouse.dedup_index)}: recording (\d+) stored rows", said[0])
    assert found is not None, said
    rows = int(found.group(1))  # 12 documents and their 8 signatures (exact copies have none)
    assert rows == 20 and f"dedup index: {rows} of {rows} rows read" in said
    assert said[-2:] == ["dedup index: writing it in key order", "dedup index: done"]


def test_documents_removed_from_the_warehouse_are_forgotten(tmp_path: Path) -> None:
    """Files gone without a compaction saying they were merged: the index is rebuilt from the files there
    are, so a page whose document was deleted is stored again."""
    import shutil

    warehouse = Warehouse(str(tmp_path / "wh"))
    dedup = Deduplicator(warehouse, DedupConfig())
    rows = pages(0, 2)
    commit(dedup, warehouse, rows[:1], 1)
    dedup.close()
    shutil.rmtree(tmp_path / "wh" / "documents")
    said: list[str] = []
    later = Deduplicator(warehouse, DedupConfig(), log=said.append)
    again = commit(later, warehouse, pages(0, 2)[:1], 2)
    later.close()
    assert len(again) == 1 and "removed from the warehouse; rebuilding it" in said[0]


def moved_warehouse(tmp_path: Path) -> tuple[Warehouse, list[DocumentRow]]:
    """A warehouse holding three articles (and its index), renamed; the rows of the three articles with
    their copies and edited copies."""
    warehouse = Warehouse(str(tmp_path / "wh"))
    dedup = Deduplicator(warehouse, DedupConfig())
    rows = pages(0, 3)
    commit(dedup, warehouse, rows[0::3], 1)  # the originals
    dedup.close()
    (tmp_path / "wh").rename(tmp_path / "moved")
    return Warehouse(str(tmp_path / "moved")), rows


def test_a_warehouse_moved_with_its_index_keeps_it(tmp_path: Path) -> None:
    """The index names files relative to the warehouse: a warehouse renamed (catalog and index inside it)
    is not rebuilt, and near-duplicate candidates are read back from their files at the new place."""
    moved, rows = moved_warehouse(tmp_path)
    said: list[str] = []
    later = Deduplicator(moved, DedupConfig(), log=said.append)
    kept = commit(later, moved, rows[2::3], 2)  # their edited copies: each read back and compared
    assert not later.index.rebuilt and said == []
    later.close()
    assert [r["duplicate_of"] for r in kept] == [r["doc_id"] for r in rows[0::3]]
    assert all(
        not path.startswith("/")
        for (path,) in sqlite3.connect(moved.dedup_index).execute("SELECT path FROM absorbed")
    )


def test_an_index_rebuilt_after_the_warehouse_moved_reads_texts_at_the_new_place(tmp_path: Path) -> None:
    """Signature rows name their documents file where the warehouse was when they were written: an index
    rebuilt from them after a move (a new index format, a deleted index) names the files at the new place,
    so candidates are still read back and compared once the old place is gone."""
    moved, rows = moved_warehouse(tmp_path)
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(moved.dedup_index + suffix):
            os.remove(moved.dedup_index + suffix)
    later = Deduplicator(moved, DedupConfig())
    kept = commit(later, moved, rows[2::3], 2)  # their edited copies: each read back and compared
    later.close()
    assert later.near is not None and later.near.cache.reads == 3  # read back, not from memory
    assert [r["duplicate_of"] for r in kept] == [r["doc_id"] for r in rows[0::3]]
    names = sqlite3.connect(moved.dedup_index).execute("SELECT path FROM files").fetchall()
    assert names and all(name.startswith("documents/source=s/month=") for (name,) in names)


def test_files_deleted_before_a_compaction_are_not_taken_for_merged(tmp_path: Path) -> None:
    """Compaction names the files it merged: documents a user deleted before it (a copied warehouse whose
    documents/ was emptied) still make the index rebuild, so their pages are stored again."""
    import shutil

    warehouse = Warehouse(str(tmp_path / "wh"))
    dedup = Deduplicator(warehouse, DedupConfig())
    commit(dedup, warehouse, pages(0, 2)[:1], 1)
    shutil.rmtree(tmp_path / "wh" / "documents")
    report = compact(warehouse)
    said: list[str] = []
    dedup.log = said.append
    dedup.refresh(merged=report.replaced)
    dedup.close()
    assert "removed from the warehouse; rebuilding it" in said[0]
    later = Deduplicator(warehouse, DedupConfig())
    assert len(commit(later, warehouse, pages(0, 2)[:1], 2)) == 1  # stored again
    later.close()


def test_band_keys_merged_from_recent_into_bands_answer_alike(tmp_path: Path) -> None:
    """Commits write new members' band keys into the small `recent` table, merged into `bands` once it holds
    `recent_limit` rows: candidates are found in either, and the index ends the same as without merges."""
    decided, indexes = [], []
    for name, limit in (("never", 10**9), ("often", 150)):  # a commit of 4 articles brings 8 × 48 band keys
        warehouse = Warehouse(str(tmp_path / name))
        dedup = Deduplicator(warehouse, DedupConfig())
        dedup.index.recent_limit = limit
        rows = pages(0, 6)  # originals, exact copies, edited copies: each commit's rows meet earlier members
        decided.append(
            [[r["cluster_id"] for r in commit(dedup, warehouse, rows[seq::3], seq)] for seq in range(3)]
        )
        held = dedup.index.con.execute("SELECT count(*) FROM recent").fetchone()[0]
        merged = dedup.index.con.execute("SELECT count(*) FROM bands").fetchone()[0]
        recorded = int(dedup.index.con.execute("SELECT value FROM meta WHERE name = 'recent'").fetchone()[0])
        dedup.close()
        assert recorded == held
        indexes.append((contents(warehouse.dedup_index), held, merged))
    assert decided[1] == decided[0] and decided[0][2] == decided[0][0]  # edited copies joined their originals
    (never, held, merged), (often, held_often, merged_often) = indexes
    assert often == never and merged == 0 and held == len(never["bands"]) > 0
    assert merged_often > 0 and held_often <= 150 + 6 * 48 and merged_often + held_often == held
